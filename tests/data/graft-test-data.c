/* graft-test-data.c: pictures made at test time, for the data tests and
 * the decode benchmark. */
#include "graft-test-data.h"

#include <errno.h>
#include <stdint.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PNG_SIGNATURE "\x89PNG\r\n\x1a\n"
#define CRC32_POLYNOMIAL 0xedb88320u   /* reflected, as PNG's CRC */

/* Three pictures GdkPixbuf cannot write, made once with Python's PIL
 * (Debian's python3-pil) and kept here as bytes so that tests need
 * nothing at run time. */
/* 8×8 CMYK JPEG, C 0 M 255 Y 255 K 0 (pure red), Adobe APP14 marker,
 * 354 bytes. */
static const guint8 cmyk_jpeg[] = {
  0xff, 0xd8, 0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00,
  0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x02,
  0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x02, 0x02, 0x02,
  0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04, 0x04, 0x03,
  0x04, 0x06, 0x05, 0x06, 0x06, 0x06, 0x05, 0x06, 0x06, 0x06, 0x07, 0x09,
  0x08, 0x06, 0x07, 0x09, 0x07, 0x06, 0x06, 0x08, 0x0b, 0x08, 0x09, 0x0a,
  0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08, 0x0b, 0x0c, 0x0b, 0x0a, 0x0c, 0x09,
  0x0a, 0x0a, 0x0a, 0xff, 0xc0, 0x00, 0x14, 0x08, 0x00, 0x08, 0x00, 0x08,
  0x04, 0x43, 0x11, 0x00, 0x4d, 0x11, 0x00, 0x59, 0x11, 0x00, 0x4b, 0x11,
  0x00, 0xff, 0xc4, 0x00, 0x1f, 0x00, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01,
  0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
  0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0xff, 0xc4,
  0x00, 0xb5, 0x10, 0x00, 0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05,
  0x05, 0x04, 0x04, 0x00, 0x00, 0x01, 0x7d, 0x01, 0x02, 0x03, 0x00, 0x04,
  0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22,
  0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15,
  0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17,
  0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36,
  0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a,
  0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66,
  0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a,
  0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95,
  0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
  0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2,
  0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5,
  0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
  0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9,
  0xfa, 0xff, 0xda, 0x00, 0x0e, 0x04, 0x43, 0x00, 0x4d, 0x00, 0x59, 0x00,
  0x4b, 0x00, 0x00, 0x3f, 0x00, 0xfd, 0xfc, 0xaf, 0xe7, 0xfe, 0xbf, 0x9f,
  0xfa, 0xfd, 0xfc, 0xaf, 0xff, 0xd9,
};

/* 3×2 GIF, palette red and blue, pixel (0, 0) blue, the rest red,
 * 46 bytes. */
static const guint8 palette_gif[] = {
  0x47, 0x49, 0x46, 0x38, 0x37, 0x61, 0x03, 0x00, 0x02, 0x00, 0x81, 0x00,
  0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x08,
  0x07, 0x00, 0x03, 0x00, 0x18, 0x38, 0x30, 0x20, 0x00, 0x3b,
};

/* 8×4 JPEG, left half red, right half blue, EXIF Orientation 6 (turn
 * 90° clockwise to show), 707 bytes. */
static const guint8 exif6_jpeg[] = {
  0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01,
  0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xe1, 0x00, 0x22,
  0x45, 0x78, 0x69, 0x66, 0x00, 0x00, 0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00,
  0x00, 0x08, 0x00, 0x01, 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,
  0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43,
  0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x02,
  0x02, 0x02, 0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04,
  0x04, 0x03, 0x04, 0x06, 0x05, 0x06, 0x06, 0x06, 0x05, 0x06, 0x06, 0x06,
  0x07, 0x09, 0x08, 0x06, 0x07, 0x09, 0x07, 0x06, 0x06, 0x08, 0x0b, 0x08,
  0x09, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08, 0x0b, 0x0c, 0x0b, 0x0a,
  0x0c, 0x09, 0x0a, 0x0a, 0x0a, 0xff, 0xdb, 0x00, 0x43, 0x01, 0x02, 0x02,
  0x02, 0x02, 0x02, 0x02, 0x05, 0x03, 0x03, 0x05, 0x0a, 0x07, 0x06, 0x07,
  0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
  0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
  0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
  0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
  0x0a, 0x0a, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x04, 0x00, 0x08, 0x03,
  0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xc4, 0x00,
  0x1f, 0x00, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
  0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0xff, 0xc4, 0x00, 0xb5, 0x10, 0x00,
  0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05, 0x05, 0x04, 0x04, 0x00,
  0x00, 0x01, 0x7d, 0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21,
  0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81,
  0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24,
  0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25,
  0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a,
  0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56,
  0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
  0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86,
  0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
  0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3,
  0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6,
  0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9,
  0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1,
  0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xff, 0xc4, 0x00,
  0x1f, 0x01, 0x00, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
  0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
  0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0xff, 0xc4, 0x00, 0xb5, 0x11, 0x00,
  0x02, 0x01, 0x02, 0x04, 0x04, 0x03, 0x04, 0x07, 0x05, 0x04, 0x04, 0x00,
  0x01, 0x02, 0x77, 0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31,
  0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08,
  0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15,
  0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18,
  0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39,
  0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55,
  0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
  0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84,
  0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
  0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
  0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4,
  0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7,
  0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea,
  0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xff, 0xda, 0x00,
  0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00, 0xfc,
  0xd1, 0xfd, 0xaa, 0xbf, 0xe6, 0x03, 0xff, 0x00, 0x6f, 0x5f, 0xfb, 0x46,
  0x8a, 0x28, 0xaf, 0xf5, 0x4b, 0xe8, 0x4b, 0xff, 0x00, 0x28, 0xc5, 0x90,
  0x7f, 0xdc, 0xd7, 0xfe, 0xa6, 0xe2, 0x4f, 0xd0, 0x3e, 0x97, 0xdf, 0xf2,
  0x91, 0x39, 0xdf, 0xfd, 0xcb, 0x7f, 0xea, 0x26, 0x1c, 0xff, 0xd9,
};

static const struct
{
  const guint8 *data;
  gsize size;
} blobs[] = {
  [GRAFT_TEST_CMYK_JPEG] = { cmyk_jpeg, sizeof cmyk_jpeg },
  [GRAFT_TEST_PALETTE_GIF] = { palette_gif, sizeof palette_gif },
  [GRAFT_TEST_EXIF6_JPEG] = { exif6_jpeg, sizeof exif6_jpeg },
};

void
graft_test_write (const char *path, const void *data, gsize size)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, data, (gssize) size, &error);
  g_assert_no_error (error);
}

void
graft_test_write_blob (const char *path, GraftTestBlob blob)
{
  graft_test_write (path, blobs[blob].data, blobs[blob].size);
}

/* ---- PNG byte by byte ---------------------------------------------------- */

static guint32
crc32_update (guint32 crc, const guint8 *data, gsize size)
{
  for (gsize i = 0; i < size; i++)
    {
      crc ^= data[i];
      for (int bit = 0; bit < 8; bit++)
        crc = crc & 1 ? (crc >> 1) ^ CRC32_POLYNOMIAL : crc >> 1;
    }
  return crc;
}

static void
append_be32 (GByteArray *out, guint32 value)
{
  guint32 be = GUINT32_TO_BE (value);

  g_byte_array_append (out, (const guint8 *) &be, 4);
}

static void
append_chunk (GByteArray *out, const char *type, const guint8 *data,
              gsize size)
{
  guint32 crc = 0xffffffffu;

  append_be32 (out, (guint32) size);
  g_byte_array_append (out, (const guint8 *) type, 4);
  g_byte_array_append (out, data, (guint) size);
  crc = crc32_update (crc, (const guint8 *) type, 4);
  crc = crc32_update (crc, data, size);
  append_be32 (out, crc ^ 0xffffffffu);
}

/* zlib's format, as PNG's IDAT wants, through GIO's converter. */
static GBytes *
deflate (const guint8 *data, gsize size)
{
  g_autoptr (GZlibCompressor) zlib
    = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, -1);
  g_autoptr (GInputStream) raw = g_memory_input_stream_new_from_data
    (data, (gssize) size, NULL);
  g_autoptr (GInputStream) in = g_converter_input_stream_new
    (raw, G_CONVERTER (zlib));
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr (GError) error = NULL;

  g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE
                          | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL,
                          &error);
  g_assert_no_error (error);
  return g_memory_output_stream_steal_as_bytes
    (G_MEMORY_OUTPUT_STREAM (out));
}

static void
append_header (GByteArray *png, guint32 width, guint32 height,
               guint8 bit_depth, guint8 color_type)
{
  guint8 ihdr[13] = { 0 };
  guint32 w = GUINT32_TO_BE (width), h = GUINT32_TO_BE (height);

  memcpy (ihdr, &w, 4);
  memcpy (ihdr + 4, &h, 4);
  ihdr[8] = bit_depth;
  ihdr[9] = color_type;   /* compression, filter, interlace: 0 */
  g_byte_array_append (png, (const guint8 *) PNG_SIGNATURE, 8);
  append_chunk (png, "IHDR", ihdr, sizeof ihdr);
}

void
graft_test_write_png (const char *path, guint32 width, guint32 height,
                      guint8 bit_depth, guint8 color_type,
                      const guint8 *rows, gsize row_bytes)
{
  g_autoptr (GByteArray) png = g_byte_array_new ();
  g_autoptr (GByteArray) filtered = g_byte_array_new ();
  g_autoptr (GBytes) idat = NULL;
  const guint8 no_filter = 0;

  append_header (png, width, height, bit_depth, color_type);
  for (guint32 y = 0; y < height; y++)
    {
      g_byte_array_append (filtered, &no_filter, 1);
      g_byte_array_append (filtered, rows + y * row_bytes, (guint) row_bytes);
    }
  idat = deflate (filtered->data, filtered->len);
  append_chunk (png, "IDAT", g_bytes_get_data (idat, NULL),
                g_bytes_get_size (idat));
  append_chunk (png, "IEND", NULL, 0);
  graft_test_write (path, png->data, png->len);
}

void
graft_test_write_png_header (const char *path, guint32 width, guint32 height)
{
  g_autoptr (GByteArray) png = g_byte_array_new ();
  const guint8 row[4] = { 0 };
  g_autoptr (GBytes) idat = deflate (row, sizeof row);

  append_header (png, width, height, 8, 2);
  append_chunk (png, "IDAT", g_bytes_get_data (idat, NULL),
                g_bytes_get_size (idat));
  append_chunk (png, "IEND", NULL, 0);
  graft_test_write (path, png->data, png->len);
}

/* ---- GdkPixbuf ----------------------------------------------------------- */

GdkPixbuf *
graft_test_pixbuf (int width, int height, gboolean alpha, guint32 seed)
{
  GdkPixbuf *pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, alpha, 8, width,
                                      height);
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  int n = alpha ? 4 : 3, stride = gdk_pixbuf_get_rowstride (pixbuf);
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);

  /* Smooth gradients with a little noise: compresses like a photo. */
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guchar *p = pixels + y * stride + x * n;
        p[0] = (guchar) (x * 255 / MAX (1, width - 1));
        p[1] = (guchar) (y * 255 / MAX (1, height - 1));
        p[2] = (guchar) g_rand_int_range (rand, 0, 256);
        if (alpha)
          p[3] = (guchar) (255 - x * 255 / MAX (1, width - 1));
      }
  return pixbuf;
}

void
graft_test_save (const char *path, const char *type, int width, int height,
                 gboolean alpha, guint32 seed)
{
  g_autoptr (GdkPixbuf) pixbuf = graft_test_pixbuf (width, height, alpha,
                                                    seed);
  g_autoptr (GError) error = NULL;

  if (g_str_equal (type, "jpeg"))
    gdk_pixbuf_save (pixbuf, path, type, &error, "quality", "90", NULL);
  else
    gdk_pixbuf_save (pixbuf, path, type, &error, NULL);
  g_assert_no_error (error);
}

void
graft_test_write_prefix (const char *from, const char *to, gsize length)
{
  g_autofree char *data = NULL;
  gsize size = 0;

  g_assert_true (g_file_get_contents (from, &data, &size, NULL));
  g_assert_cmpuint (length, <=, size);
  graft_test_write (to, data, length);
}

gsize
graft_test_find (const char *path, const void *needle, gsize length)
{
  g_autofree char *data = NULL;
  gsize size = 0;

  g_assert_true (g_file_get_contents (path, &data, &size, NULL));
  for (gsize i = 0; i + length <= size; i++)
    if (memcmp (data + i, needle, length) == 0)
      return i;
  g_assert_not_reached ();
}

char *
graft_test_mkdir (const char *parent, const char *name)
{
  char *path = g_build_filename (parent, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
  return path;
}

/* ---- Trees --------------------------------------------------------------- */

void
graft_test_rm_rf (const char *path)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr (GDir) dir = NULL;
      const char *name;
      g_chmod (path, 0755);   /* a read-only test tree */
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          graft_test_rm_rf (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

void
graft_test_chmod_tree (const char *path, gboolean writable)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0 || S_ISLNK (st.st_mode))
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr (GDir) dir = NULL;
      const char *name;
      g_chmod (path, 0755);
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          graft_test_chmod_tree (child, writable);
        }
      g_chmod (path, writable ? 0755 : 0555);
    }
  else
    g_chmod (path, writable ? 0644 : 0444);
}

static char *
describe (const char *path, const GStatBuf *st)
{
  g_autofree char *content = NULL;

  if (S_ISLNK (st->st_mode))
    content = g_file_read_link (path, NULL);
  else if (S_ISREG (st->st_mode))
    {
      g_autofree char *data = NULL;
      gsize size = 0;
      if (g_file_get_contents (path, &data, &size, NULL))
        content = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                               (const guchar *) data, size);
    }
  /* Not the access time: reading may renew it, and reading is allowed. */
  return g_strdup_printf ("mode %o size %jd mtime %jd.%09ld ctime %jd.%09ld "
                          "%s", (unsigned) st->st_mode,
                          (intmax_t) st->st_size,
                          (intmax_t) st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                          (intmax_t) st->st_ctim.tv_sec, st->st_ctim.tv_nsec,
                          content ? content : "-");
}

static void
snapshot_into (GHashTable *table, const char *root, const char *relative)
{
  g_autofree char *path = g_build_filename (root, relative, NULL);
  GStatBuf st;

  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  g_hash_table_insert (table, g_strdup (relative), describe (path, &st));
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = relative[0]
            ? g_build_filename (relative, name, NULL) : g_strdup (name);
          snapshot_into (table, root, child);
        }
    }
}

GHashTable *
graft_test_snapshot (const char *root)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal,
                                             g_free, g_free);

  snapshot_into (table, root, "");
  return table;
}

void
graft_test_assert_same_tree (GHashTable *before, GHashTable *after)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const char *now = g_hash_table_lookup (after, key);
      if (now == NULL)
        g_error ("'%s' disappeared", (char *) key);
      if (!g_str_equal (now, value))
        g_error ("'%s' changed: %s → %s", (char *) key, (char *) value, now);
    }
  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (before, key))
      g_error ("'%s' appeared", (char *) key);
}

/* ---- The hostile folder -------------------------------------------------- */

static char *
at (const char *dir, const char *name)
{
  return g_build_filename (dir, name, NULL);
}

static void
save_at (const char *dir, const char *name, const char *type, int width,
         int height, gboolean alpha, guint32 seed)
{
  g_autofree char *path = at (dir, name);

  graft_test_save (path, type, width, height, alpha, seed);
}

static void
blob_at (const char *dir, const char *name, GraftTestBlob blob)
{
  g_autofree char *path = at (dir, name);

  graft_test_write_blob (path, blob);
}

static void
text_at (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = at (dir, name);

  graft_test_write (path, text, strlen (text));
}

static void
link_at (const char *dir, const char *name, const char *target)
{
  g_autofree char *path = at (dir, name);

  g_assert_cmpint (symlink (target, path), ==, 0);
}

static void
gray16_at (const char *dir, const char *name)
{
  /* 4×2, 16-bit big-endian samples, base, base + 0x1000, … */
  guint8 rows[2][8];
  g_autofree char *path = at (dir, name);

  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 4; x++)
      {
        guint16 v = (guint16) (GRAFT_TEST_GRAY16_BASE + (y * 4 + x) * 0x1000);
        rows[y][x * 2] = (guint8) (v >> 8);
        rows[y][x * 2 + 1] = (guint8) (v & 0xff);
      }
  graft_test_write_png (path, 4, 2, 16, GRAFT_TEST_PNG_GRAY, &rows[0][0], 8);
}

static void
gray_alpha_at (const char *dir, const char *name)
{
  /* 2×1: black fully transparent, then black opaque. */
  const guint8 row[4] = { 0, 0, 0, 255 };
  g_autofree char *path = at (dir, name);

  graft_test_write_png (path, 2, 1, 8, GRAFT_TEST_PNG_GRAY_ALPHA, row, 4);
}

static void
random_at (const char *dir, const char *name, gsize size, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  g_autofree guint8 *data = g_malloc (size);
  g_autofree char *path = at (dir, name);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_rand_int_range (rand, 0, 256);
  data[0] = 0;   /* no picture format starts with a zero byte */
  graft_test_write (path, data, size);
}

/* The first @fraction of a picture saved in the scratch folder, or the
 * bytes before its first @marker when @marker is given. */
static void
cut_at (const char *dir, const char *name, const char *scratch,
        const char *type, double fraction, const char *marker)
{
  g_autofree char *whole = at (scratch, name);
  g_autofree char *path = at (dir, name);
  g_autofree char *data = NULL;
  gsize size = 0;

  graft_test_save (whole, type, 64, 48, FALSE, 9);
  g_assert_true (g_file_get_contents (whole, &data, &size, NULL));
  graft_test_write_prefix (whole, path, marker != NULL
                           ? graft_test_find (whole, marker, strlen (marker))
                           : (gsize) (size * fraction));
}

static void
make_cats (const char *root)
{
  g_autofree char *cats = graft_test_mkdir (root, "cats");
  g_autofree char *deeper = graft_test_mkdir (cats, "nested/deeper");
  g_autofree char *thumbs = graft_test_mkdir (cats, ".thumbs");

  save_at (cats, "rgb.png", "png", 16, 12, FALSE, 1);
  save_at (cats, "photo.jpg", "jpeg", 20, 16, FALSE, 2);
  save_at (cats, "rgba.png", "png", 8, 8, TRUE, 3);
  save_at (cats, "one.png", "png", 1, 1, FALSE, 4);
  save_at (cats, GRAFT_TEST_UNICODE_NAME, "png", 6, 5, FALSE, 5);
  save_at (deeper, "nested.png", "png", 7, 7, FALSE, 6);
  gray16_at (cats, "gray16.png");
  gray_alpha_at (cats, "gray-alpha.png");
  blob_at (cats, "cmyk.jpg", GRAFT_TEST_CMYK_JPEG);
  blob_at (cats, "palette.gif", GRAFT_TEST_PALETTE_GIF);
  blob_at (cats, "rotated.jpg", GRAFT_TEST_EXIF6_JPEG);
  /* Hidden: valid pictures that must be neither counted nor listed. */
  save_at (cats, ".hidden.png", "png", 5, 5, FALSE, 7);
  save_at (thumbs, "thumb.png", "png", 5, 5, FALSE, 8);
  text_at (cats, "notes.txt", "not a picture\n");
  /* Two loops: back up to the class folder, and a link to itself. */
  link_at (deeper, "loop", "../..");
  link_at (cats, "self", "self");
}

static void
make_dogs (const char *root, const char *scratch)
{
  g_autofree char *dogs = graft_test_mkdir (root, "dogs");

  for (int i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("dog%d.png", i);
      save_at (dogs, name, "png", 10 + i, 10, FALSE, 20 + (guint32) i);
    }
  text_at (dogs, "empty.png", "");
  cut_at (dogs, "truncated.png", scratch, "png", 0.5, NULL);
  cut_at (dogs, "truncated.jpg", scratch, "jpeg", 0.6, NULL);
  cut_at (dogs, "header-only.jpg", scratch, "jpeg", 0, "\xff\xda");
  random_at (dogs, "random.jpg", 3000, 10);
  text_at (dogs, "text.png", "Hello, I am text in a file named .png.\n");
  {
    g_autofree char *path = at (dogs, "bomb.png");
    graft_test_write_png_header (path, 60000, 60000);
  }
}

void
graft_test_make_hostile_tree (const char *root)
{
  g_autofree char *scratch = g_dir_make_tmp ("graft-scratch-XXXXXX", NULL);
  g_autofree char *empty = graft_test_mkdir (root, "empty");

  make_cats (root);
  make_dogs (root, scratch);
  text_at (empty, ".DS_Store", "hidden");
  text_at (root, "readme.txt", "a loose file beside the classes\n");
  graft_test_rm_rf (scratch);
}

const GraftTestExpected graft_test_hostile_usable[] = {
  { "cats", "rgb.png" },
  { "cats", "photo.jpg" },
  { "cats", "rgba.png" },
  { "cats", "one.png" },
  { "cats", GRAFT_TEST_UNICODE_NAME },
  { "cats", "nested/deeper/nested.png" },
  { "cats", "gray16.png" },
  { "cats", "gray-alpha.png" },
  { "cats", "cmyk.jpg" },
  { "cats", "palette.gif" },
  { "cats", "rotated.jpg" },
  { "dogs", "dog0.png" },
  { "dogs", "dog1.png" },
  { "dogs", "dog2.png" },
  { NULL }
};

const GraftTestExpected graft_test_hostile_skipped[] = {
  { "cats/notes.txt", "not an image" },
  { "cats/nested/deeper/loop", "symbolic link loop" },
  { "cats/self", "symbolic link loop" },
  { "dogs/empty.png", "empty file" },
  { "dogs/truncated.png", "truncated: the PNG data stops" },
  { "dogs/truncated.jpg", "truncated: the JPEG data stops" },
  { "dogs/header-only.jpg", "truncated: the JPEG file ends before its "
    "image data" },
  { "dogs/random.jpg", "not an image" },
  { "dogs/text.png", "not an image" },
  { "dogs/bomb.png", "too large: 60000 × 60000" },
  { "readme.txt", "not in a class folder" },
  { NULL }
};

const char *const graft_test_named_classes[] = {
  "\xff", "\xfe", "esc\x1b[31mred", "line\nbreak", NULL
};

void
graft_test_make_named_tree (const char *root)
{
  for (guint c = 0; graft_test_named_classes[c] != NULL; c++)
    {
      g_autofree char *folder = graft_test_mkdir (root,
                                                  graft_test_named_classes[c]);
      for (guint i = 0; i < GRAFT_TEST_NAMED_PICTURES; i++)
        {
          g_autofree char *name = g_strdup_printf ("p%u.png", i);
          g_autofree char *path = g_build_filename (folder, name, NULL);
          graft_test_save (path, "png", 4, 4, FALSE, 100 * c + i);
        }
      if (c == 0)
        {
          g_autofree char *bad = g_build_filename (folder, "bad\xff\x1b.png",
                                                   NULL);
          graft_test_write (bad, "no picture", strlen ("no picture"));
        }
      if (c == 1)
        {
          g_autofree char *pipe = g_build_filename (folder, "pipe\xff.png",
                                                    NULL);
          g_assert_cmpint (mkfifo (pipe, 0644), ==, 0);
        }
    }
}
