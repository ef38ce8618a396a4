/* graft-image.c: inspecting and decoding pictures, and turning them into
 * input tensors. */
#define G_LOG_DOMAIN "graft-image"

#include "graft-image.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "graft-error.h"

#define WHITE 255
#define READ_CHUNK_BYTES (256 * 1024)
#define SHA256_BYTES 32
#define PNG_MIME_TYPE "image/png"

/* A 1×1 gray PNG, which any GdkPixbuf installation reads. */
static const guint8 tiny_png[] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
  0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
  0x08, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x7e, 0x9b, 0x55, 0x00, 0x00, 0x00,
  0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x60, 0x00, 0x00, 0x00,
  0x02, 0x00, 0x01, 0xe5, 0x27, 0xde, 0xfc, 0x00, 0x00, 0x00, 0x00, 0x49,
  0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

/* WHAT, when not NULL, names the step that failed ("read error"). */
static gboolean
fail_errno (GError **error, int saved, const char *what)
{
  if (what != NULL)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNREADABLE,
                 _("unreadable: %s: %s"), what, g_strerror (saved));
  else
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNREADABLE,
                 _("unreadable: %s"), g_strerror (saved));
  return FALSE;
}

static gboolean
fail_not_regular (GError **error)
{
  g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_REGULAR,
                       _("not a regular file"));
  return FALSE;
}

/* The file itself: there, readable, regular and not empty.  Checked
 * before any open for reading: opening a FIFO blocks until a writer
 * comes, and reading a device may never end. */
static gboolean
check_file (const char *path, gint64 *size, GError **error)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return fail_errno (error, errno, NULL);
  if (!S_ISREG (st.st_mode))
    return fail_not_regular (error);
  if (st.st_size == 0)
    {
      g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_EMPTY,
                           _("empty file (0 bytes)"));
      return FALSE;
    }
  *size = st.st_size;
  return TRUE;
}

/* Reads the whole file once, feeding the structure walk and the hash,
 * either of which may be NULL. */
static gboolean
read_through (const char *path, GraftIntegrity *integrity, GChecksum *sum,
              GCancellable *cancellable, GError **error)
{
  g_autofree guint8 *buffer = NULL;
  /* Non-blocking, so that a FIFO put in the file's place since it was
   * checked cannot block the open; the read below is of a regular file,
   * which O_NONBLOCK does not change. */
  int fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  GStatBuf st;
  gssize got;
  int saved = 0;

  if (fd < 0)
    return fail_errno (error, errno, NULL);
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      return fail_not_regular (error);
    }
  buffer = g_malloc (READ_CHUNK_BYTES);
  do
    {
      got = read (fd, buffer, READ_CHUNK_BYTES);
      if (got > 0)
        {
          if (integrity != NULL)
            graft_integrity_feed (integrity, buffer, (gsize) got);
          if (sum != NULL)
            g_checksum_update (sum, buffer, got);
        }
      else if (got < 0 && errno != EINTR)
        saved = errno;
    }
  while (got != 0 && saved == 0
         && !g_cancellable_is_cancelled (cancellable));
  close (fd);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  return saved == 0 || fail_errno (error, saved, _("read error"));
}

/* Why this system reads no picture at all, or NULL when it reads them.
 * GdkPixbuf picks its loader by content type: without the shared MIME
 * database (XDG_DATA_DIRS/mime) every picture would otherwise be reported
 * as damaged. */
static const char *
find_missing_loaders (void)
{
  g_autoptr (GdkPixbufLoader) loader = gdk_pixbuf_loader_new ();
  g_autofree char *type = NULL;
  gboolean reads = FALSE;

  /* A failed write closes the loader itself. */
  if (gdk_pixbuf_loader_write (loader, tiny_png, sizeof tiny_png, NULL))
    reads = gdk_pixbuf_loader_close (loader, NULL);
  if (reads)
    return NULL;
  type = g_content_type_guess (NULL, tiny_png, sizeof tiny_png, NULL);
  if (g_strcmp0 (type, PNG_MIME_TYPE) != 0)
    return _("cannot be read on this system: the shared MIME database is "
             "missing, so no picture format is recognised (install the "
             "shared-mime-info package)");
  return _("cannot be read on this system: GdkPixbuf has no working "
           "picture loaders, not even for PNG (check the gdk-pixbuf "
           "installation)");
}

static const char *
missing_loaders (void)
{
  static gsize checked;
  static const char *reason;

  if (g_once_init_enter (&checked))
    {
      reason = find_missing_loaders ();
      g_once_init_leave (&checked, 1);
    }
  return reason;
}

/* The reason for a file no loader recognised: not an image at all, an
 * image whose header is cut short or damaged, or a system that reads no
 * pictures. */
static gboolean
fail_unrecognised (GraftIntegrity *integrity, GError **error)
{
  GraftFormat format = graft_integrity_get_format (integrity);
  const char *why;

  if (format != GRAFT_FORMAT_UNKNOWN && missing_loaders () != NULL)
    g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NO_LOADER,
                         missing_loaders ());
  else if (format == GRAFT_FORMAT_UNKNOWN)
    g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_IMAGE,
                         _("not an image: the contents are in no picture "
                           "format this system reads"));
  else if (graft_integrity_finish (integrity, &why)
           == GRAFT_INTEGRITY_TRUNCATED)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TRUNCATED,
                 _("truncated: %s"), why);
  else
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                 /* Translators: %s is a format name: PNG, JPEG… */
                 _("corrupt: a %s file whose header cannot be read"),
                 graft_format_name (format));
  return FALSE;
}

static gboolean
check_complete (GraftIntegrity *integrity, GError **error)
{
  const char *why;

  switch (graft_integrity_finish (integrity, &why))
    {
    case GRAFT_INTEGRITY_TRUNCATED:
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TRUNCATED,
                   _("truncated: %s"), why);
      return FALSE;
    case GRAFT_INTEGRITY_MALFORMED:
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   _("corrupt: %s"), why);
      return FALSE;
    case GRAFT_INTEGRITY_COMPLETE:
    default:
      return TRUE;
    }
}

static gboolean
check_size (int width, int height, gint64 max_pixels, GError **error)
{
  if (width <= 0 || height <= 0)
    {
      g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                           _("corrupt: the header gives no size"));
      return FALSE;
    }
  if ((gint64) width * height > max_pixels)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                   _("too large: %d × %d pixels is over the limit of %g "
                     "megapixels"), width, height, max_pixels / 1e6);
      return FALSE;
    }
  return TRUE;
}

static void
fill_hash (GChecksum *sum, GraftImageInfo *info)
{
  g_strlcpy (info->sha256, g_checksum_get_string (sum), sizeof info->sha256);
}

gboolean
graft_image_inspect (const char *path, gint64 max_pixels,
                     GraftImageInfo *info, GCancellable *cancellable,
                     GError **error)
{
  g_autoptr (GraftIntegrity) integrity = graft_integrity_new ();
  g_autoptr (GChecksum) sum = NULL;
  GdkPixbufFormat *known;
  int width = 0, height = 0;
  gint64 size = 0;

  if (!check_file (path, &size, error))
    return FALSE;
  /* The header first: a bomb is refused before even being read whole. */
  known = gdk_pixbuf_get_file_info (path, &width, &height);
  if (known != NULL && width > 0 && height > 0
      && !check_size (width, height, max_pixels, error))
    return FALSE;
  sum = info != NULL ? g_checksum_new (G_CHECKSUM_SHA256) : NULL;
  if (!read_through (path, integrity, sum, cancellable, error))
    return FALSE;
  if (known == NULL)
    return fail_unrecognised (integrity, error);
  if (!check_size (width, height, max_pixels, error)
      || !check_complete (integrity, error))
    return FALSE;
  if (info != NULL)
    {
      info->width = width;
      info->height = height;
      info->format = graft_integrity_get_format (integrity);
      info->size = size;
      fill_hash (sum, info);
    }
  return TRUE;
}

char *
graft_file_sha256 (const char *path, GCancellable *cancellable,
                   GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  if (!read_through (path, NULL, sum, cancellable, error))
    return NULL;
  return g_strdup (g_checksum_get_string (sum));
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

/* GdkPixbuf's message repeats the path ("Failed to load image “…”: why");
 * the report already has it, so keep the why. */
static const char *
loader_reason (const char *message)
{
  const char *tail = strstr (message, "”: ");

  return tail != NULL ? tail + strlen ("”: ") : message;
}

GdkPixbuf *
graft_image_decode (const char *path, GError **error)
{
  g_autoptr (GdkPixbuf) decoded = NULL;
  g_autoptr (GdkPixbuf) upright = NULL;
  g_autoptr (GError) local = NULL;
  gint64 size;

  /* Gone, replaced or a FIFO since it was inspected: say so, rather than
   * "corrupt", and never block opening it. */
  if (!check_file (path, &size, error))
    return NULL;
  decoded = gdk_pixbuf_new_from_file (path, &local);
  if (g_error_matches (local, GDK_PIXBUF_ERROR,
                       GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NO_MEMORY,
                   _("out of memory decoding it: %s"), local->message);
      return NULL;
    }
  /* Some loaders (GIF) return what they could decode of a damaged file
   * together with an error: that is not a picture to train on. */
  if (local != NULL || decoded == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   _("corrupt: %s"), local != NULL
                   ? loader_reason (local->message) : _("no picture decoded"));
      return NULL;
    }
  upright = gdk_pixbuf_apply_embedded_orientation (decoded);
  if (gdk_pixbuf_get_n_channels (upright) == 3
      && !gdk_pixbuf_get_has_alpha (upright)
      && gdk_pixbuf_get_bits_per_sample (upright) == 8)
    return g_steal_pointer (&upright);
  return flatten_on_white (upright);
}

GdkPixbuf *
graft_image_load (const char *path, gint64 max_pixels, GError **error)
{
  if (!graft_image_inspect (path, max_pixels, NULL, NULL, error))
    return NULL;
  return graft_image_decode (path, error);
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

/* The crop of a view, stretched to the network's size in one pass. */
static GdkPixbuf *
resize_crop (GdkPixbuf *src, const GfPreprocess *pre, const GraftView *view)
{
  int out_w = (int) pre->width, out_h = (int) pre->height;
  double scale_x = (double) out_w / view->width;
  double scale_y = (double) out_h / view->height;
  GdkPixbuf *dst = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, out_w,
                                   out_h);

  gdk_pixbuf_scale (src, dst, 0, 0, out_w, out_h, -view->x * scale_x,
                    -view->y * scale_y, scale_x, scale_y,
                    GDK_INTERP_BILINEAR);
  return dst;
}

/* ITU-R BT.601 luma, for networks that take one gray channel. */
static float
luma (const guchar *rgb)
{
  return 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
}

/* @sized is (height, width, RGB) at the network's size; @out is
 * (channels, height, width).  Mirroring happens here, on the way out. */
static void
write_tensor (GdkPixbuf *sized, const GfPreprocess *pre, gboolean flip,
              float *out)
{
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
              gsize from = flip ? pre->width - 1 - x : x;
              float p = pre->channels == 1 ? luma (row + from * 3)
                : row[from * 3 + source];
              dst[y * pre->width + x] = p * scale - shift;
            }
        }
    }
}

void
graft_image_to_tensor (GdkPixbuf *pixbuf, const GfPreprocess *pre,
                       float *out)
{
  graft_image_view_to_tensor (pixbuf, pre, NULL, out);
}

void
graft_image_view_to_tensor (GdkPixbuf *pixbuf, const GfPreprocess *pre,
                            const GraftView *view, float *out)
{
  g_autoptr (GdkPixbuf) sized = NULL;

  if (view != NULL && view->cropped)
    sized = resize_crop (pixbuf, pre, view);
  else
    sized = resize (pixbuf, pre);
  write_tensor (sized, pre, view != NULL && view->flip, out);
}
