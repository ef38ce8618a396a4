/* graft-test-photo.c: photo-like pictures and JPEGs with EXIF
 * orientation. */
#define G_LOG_DOMAIN "graft-test-photo"

#include "graft-test-photo.h"

#include <string.h>

#define N_DISCS 7
#define NOISE_SPAN 17           /* ±8 levels */
#define STRIPE_PERIOD 24        /* pixels, in the striped band */
#define STRIPE_DEPTH 40         /* levels */
#define SOI_LENGTH 2
#define ORIENTATION_TAG 0x0112
#define TIFF_SHORT 3

static guint32
xorshift (guint32 *state)
{
  *state ^= *state << 13;
  *state ^= *state >> 17;
  *state ^= *state << 5;
  return *state;
}

typedef struct
{
  int x, y, radius;
  guchar rgb[3];
} Disc;

static void
draw_disc (GdkPixbuf *pixbuf, const Disc *d)
{
  int width = gdk_pixbuf_get_width (pixbuf);
  int height = gdk_pixbuf_get_height (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);

  for (int y = MAX (0, d->y - d->radius);
       y < MIN (height, d->y + d->radius); y++)
    for (int x = MAX (0, d->x - d->radius);
         x < MIN (width, d->x + d->radius); x++)
      {
        int dx = x - d->x, dy = y - d->y;
        if (dx * dx + dy * dy <= d->radius * d->radius)
          memcpy (pixels + (gsize) y * stride + (gsize) x * 3, d->rgb, 3);
      }
}

/* Red across, green down, blue along the diagonal; a band of stripes in
 * the upper third. */
static void
draw_background (GdkPixbuf *pixbuf, guint32 *state)
{
  int width = gdk_pixbuf_get_width (pixbuf);
  int height = gdk_pixbuf_get_height (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guchar *p = pixels + (gsize) y * stride + (gsize) x * 3;
        gboolean band = y > height / 6 && y < height / 3;
        int stripe = band && (x / (STRIPE_PERIOD / 2)) % 2 ? STRIPE_DEPTH
          : 0;
        int base[3] = { 30 + 180 * x / width, 20 + 200 * y / height,
                        40 + 150 * (x + y) / (width + height) };
        for (int c = 0; c < 3; c++)
          {
            int noise = (int) (xorshift (state) % NOISE_SPAN)
              - NOISE_SPAN / 2;
            p[c] = (guchar) CLAMP (base[c] + stripe + noise, 0, 255);
          }
      }
}

GdkPixbuf *
graft_test_photo (int width, int height, guint32 seed)
{
  GdkPixbuf *pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width,
                                      height);
  guint32 state = seed * 2654435761u + 1;
  int side = MIN (width, height);

  draw_background (pixbuf, &state);
  for (int i = 0; i < N_DISCS; i++)
    {
      Disc d = { (int) (xorshift (&state) % width),
                 (int) (xorshift (&state) % height),
                 side / 20 + (int) (xorshift (&state) % (side / 6)),
                 { 0 } };
      for (int c = 0; c < 3; c++)
        d.rgb[c] = (guchar) (xorshift (&state) % 256);
      draw_disc (pixbuf, &d);
    }
  return pixbuf;
}

static void
append_be16 (GByteArray *out, guint16 value)
{
  guint8 bytes[2] = { value >> 8, value & 0xff };

  g_byte_array_append (out, bytes, 2);
}

static void
append_be32 (GByteArray *out, guint32 value)
{
  append_be16 (out, value >> 16);
  append_be16 (out, value & 0xffff);
}

/* APP1: "Exif\0\0", a big-endian TIFF header, and IFD0 with one entry,
 * Orientation (SHORT). */
static void
append_exif (GByteArray *out, int orientation)
{
  static const guint8 exif[] = { 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0,
                                 42 };
  const guint16 length = 2 + sizeof exif + 4 + 2 + 12 + 4;

  append_be16 (out, 0xffe1);
  append_be16 (out, length);
  g_byte_array_append (out, exif, sizeof exif);
  append_be32 (out, 8);                  /* IFD0 right after the header */
  append_be16 (out, 1);                  /* one entry */
  append_be16 (out, ORIENTATION_TAG);
  append_be16 (out, TIFF_SHORT);
  append_be32 (out, 1);                  /* one value, */
  append_be16 (out, (guint16) orientation);  /* left-justified */
  append_be16 (out, 0);
  append_be32 (out, 0);                  /* no next IFD */
}

void
graft_test_save_photo (GdkPixbuf *pixbuf, const char *path,
                       int orientation)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autofree char *jpeg = NULL;
  gsize size = 0;

  gdk_pixbuf_save_to_buffer (pixbuf, &jpeg, &size, "jpeg", &error,
                             "quality", GRAFT_TEST_PHOTO_QUALITY, NULL);
  g_assert_no_error (error);
  g_assert_cmpuint (size, >, SOI_LENGTH);
  g_byte_array_append (out, (const guint8 *) jpeg, SOI_LENGTH);
  if (orientation != 0)
    append_exif (out, orientation);
  g_byte_array_append (out, (const guint8 *) jpeg + SOI_LENGTH,
                       (guint) (size - SOI_LENGTH));
  g_file_set_contents (path, (const char *) out->data, out->len, &error);
  g_assert_no_error (error);
}
