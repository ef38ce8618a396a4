/* graft-image.c: decoding pictures and turning them into input tensors. */
#define G_LOG_DOMAIN "graft-image"

#include "graft-image.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "graft-error.h"

#define WHITE 255

/* Refuses what cannot be decoded safely, from the file's metadata and
 * header alone: missing, unreadable, empty, not an image, or too many
 * pixels (a decompression bomb is refused before it is decompressed). */
gboolean
graft_image_check (const char *path, gint64 max_pixels, GError **error)
{
  GStatBuf st;
  int width = 0, height = 0;

  if (g_stat (path, &st) != 0 || g_access (path, R_OK) != 0)
    {
      int saved = errno;
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNREADABLE,
                   "cannot read: %s", g_strerror (saved));
      return FALSE;
    }
  if (st.st_size == 0)
    {
      g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_EMPTY,
                           "empty file");
      return FALSE;
    }
  if (gdk_pixbuf_get_file_info (path, &width, &height) == NULL)
    {
      g_set_error_literal (error, GRAFT_DATA_ERROR,
                           GRAFT_DATA_ERROR_NOT_IMAGE,
                           "not an image in a format this system reads");
      return FALSE;
    }
  if (width <= 0 || height <= 0)
    {
      g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                           "corrupt: the header gives no size");
      return FALSE;
    }
  if ((gint64) width * height > max_pixels)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                   "too large: %d × %d pixels is over the limit of %.0f "
                   "megapixels", width, height, max_pixels / 1e6);
      return FALSE;
    }
  return TRUE;
}

/* RGB without alpha: transparent pixels become white, as on paper. */
static GdkPixbuf *
flatten_on_white (GdkPixbuf *src)
{
  int width = gdk_pixbuf_get_width (src);
  int height = gdk_pixbuf_get_height (src);
  int n = gdk_pixbuf_get_n_channels (src);
  int in_stride = gdk_pixbuf_get_rowstride (src);
  const guchar *in = gdk_pixbuf_read_pixels (src);
  GdkPixbuf *dst = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width,
                                   height);
  int out_stride = gdk_pixbuf_get_rowstride (dst);
  guchar *out = gdk_pixbuf_get_pixels (dst);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        const guchar *p = in + (gsize) y * in_stride + (gsize) x * n;
        guchar *q = out + (gsize) y * out_stride + (gsize) x * 3;
        unsigned alpha = n == 4 ? p[3] : WHITE;
        for (int c = 0; c < 3; c++)
          q[c] = (guchar) ((p[c] * alpha + WHITE * (WHITE - alpha)
                            + WHITE / 2) / WHITE);
      }
  return dst;
}

GdkPixbuf *
graft_image_load (const char *path, gint64 max_pixels, GError **error)
{
  g_autoptr (GdkPixbuf) decoded = NULL;
  g_autoptr (GdkPixbuf) upright = NULL;
  g_autoptr (GError) local = NULL;

  if (!graft_image_check (path, max_pixels, error))
    return NULL;
  decoded = gdk_pixbuf_new_from_file (path, &local);
  if (decoded == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   "corrupt: %s", local->message);
      return NULL;
    }
  upright = gdk_pixbuf_apply_embedded_orientation (decoded);
  if (gdk_pixbuf_get_n_channels (upright) == 3
      && !gdk_pixbuf_get_has_alpha (upright)
      && gdk_pixbuf_get_bits_per_sample (upright) == 8)
    return g_steal_pointer (&upright);
  return flatten_on_white (upright);
}

/* The picture at the network's size: untouched when it already is,
 * squashed, or scaled to cover and centre-cropped in one pass. */
static GdkPixbuf *
resize (GdkPixbuf *src, const GfPreprocess *pre)
{
  int w = gdk_pixbuf_get_width (src), h = gdk_pixbuf_get_height (src);
  int out_w = (int) pre->width, out_h = (int) pre->height;
  double scale;
  GdkPixbuf *dst;

  if (w == out_w && h == out_h)
    return g_object_ref (src);
  if (pre->resize == GF_RESIZE_SQUASH)
    return gdk_pixbuf_scale_simple (src, out_w, out_h, GDK_INTERP_BILINEAR);
  scale = MAX ((double) out_w / w, (double) out_h / h);
  dst = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, out_w, out_h);
  gdk_pixbuf_scale (src, dst, 0, 0, out_w, out_h,
                    -(w * scale - out_w) / 2.0, -(h * scale - out_h) / 2.0,
                    scale, scale, GDK_INTERP_BILINEAR);
  return dst;
}

/* ITU-R BT.601 luma, for networks that take one gray channel. */
static float
luma (const guchar *rgb)
{
  return 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
}

void
graft_image_to_tensor (GdkPixbuf *pixbuf, const GfPreprocess *pre,
                       float *out)
{
  g_autoptr (GdkPixbuf) sized = resize (pixbuf, pre);
  const guchar *pixels = gdk_pixbuf_read_pixels (sized);
  int stride = gdk_pixbuf_get_rowstride (sized);
  gsize plane = pre->height * pre->width;

  for (gsize c = 0; c < pre->channels; c++)
    {
      gsize source = pre->order == GF_CHANNELS_BGR ? 2 - c : c;
      float scale = (float) (pre->scale / pre->std[c]);
      float shift = (float) (pre->mean[c] / pre->std[c]);
      float *dst = out + c * plane;
      for (gsize y = 0; y < pre->height; y++)
        {
          const guchar *row = pixels + y * stride;
          for (gsize x = 0; x < pre->width; x++)
            {
              float p = pre->channels == 1 ? luma (row + x * 3)
                : row[x * 3 + source];
              dst[y * pre->width + x] = p * scale - shift;
            }
        }
    }
}
