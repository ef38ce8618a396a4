/* test-image.c: one picture from disk to a tensor — header checks before
 * decoding, truncation found at every cut, unusual formats converted,
 * alpha on white, EXIF orientation, preprocessing arithmetic and geometry,
 * seeded augmentation, and the decode pool agreeing with one thread. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "graft-decode-pool.h"
#include "graft-error.h"
#include "graft-image.h"
#include "graft-test-data.h"
#include "graft-test-limits.h"

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("graft-image-XXXXXX", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
}

/* Saves a @width × @height picture whose pixel (x, y) is @fill (x, y). */
static char *
save_png (Fixture *f, const char *name, int width, int height,
          gboolean alpha, void (*fill) (int, int, guchar *))
{
  g_autoptr (GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, alpha, 8,
                                                 width, height);
  int n = alpha ? 4 : 3, stride = gdk_pixbuf_get_rowstride (pixbuf);
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
  char *path = g_build_filename (f->dir, name, NULL);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      fill (x, y, pixels + y * stride + x * n);
  g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", NULL, NULL));
  return path;
}

static void
fill_gradient (int x, int y, guchar *p)
{
  p[0] = (guchar) (x * 10);
  p[1] = (guchar) (y * 10);
  p[2] = 200;
}

static void
fill_half_transparent (int x, int y, guchar *p)
{
  p[0] = 0;
  p[1] = 0;
  p[2] = 0;
  p[3] = x == 0 ? 0 : x == 1 ? 255 : 128;
}

static void
test_alpha_on_white (Fixture *f, gconstpointer data)
{
  g_autofree char *path = save_png (f, "alpha.png", 3, 1, TRUE,
                                    fill_half_transparent);
  g_autoptr (GdkPixbuf) pixbuf = graft_image_load (path, 1000, NULL);
  const guchar *p;

  g_assert_nonnull (pixbuf);
  g_assert_false (gdk_pixbuf_get_has_alpha (pixbuf));
  p = gdk_pixbuf_read_pixels (pixbuf);
  g_assert_cmpint (p[0], ==, 255);   /* transparent black → white */
  g_assert_cmpint (p[3], ==, 0);     /* opaque black stays black */
  g_assert_cmpint (p[6], ==, 127);   /* half → grey */
}

/* ImageNet preset: channel c of pixel p is (p/255 − mean[c]) / std[c];
 * the size matches, so the pixels are not resampled. */
static void
test_tensor_values (Fixture *f, gconstpointer data)
{
  g_autofree char *path = save_png (f, "grad.png", 4, 3, FALSE,
                                    fill_gradient);
  g_autoptr (GdkPixbuf) pixbuf = graft_image_load (path, 1000, NULL);
  GfPreprocess pre;
  float out[3 * 3 * 4];

  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, 3, 4);
  graft_image_to_tensor (pixbuf, &pre, out);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 4; x++)
      {
        guchar rgb[3];
        fill_gradient (x, y, rgb);
        for (int c = 0; c < 3; c++)
          g_assert_cmpfloat_with_epsilon (out[(c * 3 + y) * 4 + x],
                                          (rgb[c] / 255.0 - pre.mean[c])
                                          / pre.std[c], 1e-5);
      }
  /* Keras "caffe": BGR order, mean subtracted from 0..255 values. */
  gf_preprocess_preset (&pre, GF_PRESET_KERAS_CAFFE, 3, 4);
  graft_image_to_tensor (pixbuf, &pre, out);
  g_assert_cmpfloat_with_epsilon (out[0], 200 - 103.939, 1e-4);
  g_assert_cmpfloat_with_epsilon (out[2 * 12 + 1], 10 - 123.68, 1e-4);
}

static void
fill_bars (int x, int y, guchar *p)
{
  /* Left third red, middle green, right third blue. */
  p[0] = x < 10 ? 255 : 0;
  p[1] = x >= 10 && x < 20 ? 255 : 0;
  p[2] = x >= 20 ? 255 : 0;
}

/* A 30×10 picture into 10×10: shorter side scaled, the centre kept (all
 * green); squashed, all three bars survive. */
static void
test_resize_modes (Fixture *f, gconstpointer data)
{
  g_autofree char *path = save_png (f, "bars.png", 30, 10, FALSE, fill_bars);
  g_autoptr (GdkPixbuf) pixbuf = graft_image_load (path, 1000, NULL);
  GfPreprocess pre;
  float out[3 * 10 * 10];

  gf_preprocess_preset (&pre, GF_PRESET_KERAS_CAFFE, 10, 10);
  pre.order = GF_CHANNELS_RGB;
  pre.mean[0] = pre.mean[1] = pre.mean[2] = 0;
  graft_image_to_tensor (pixbuf, &pre, out);
  for (int x = 0; x < 10; x++)
    {
      g_assert_cmpfloat (out[0 * 100 + 5 * 10 + x], <, 1);
      g_assert_cmpfloat (out[1 * 100 + 5 * 10 + x], >, 254);
    }
  pre.resize = GF_RESIZE_SQUASH;
  graft_image_to_tensor (pixbuf, &pre, out);
  g_assert_cmpfloat (out[0 * 100 + 50], >, 254);        /* red at left */
  g_assert_cmpfloat (out[1 * 100 + 55], >, 254);        /* green centre */
  g_assert_cmpfloat (out[2 * 100 + 59], >, 254);        /* blue at right */
}

static void
test_refusals (Fixture *f, gconstpointer data)
{
  g_autofree char *empty = g_build_filename (f->dir, "empty.png", NULL);
  g_autofree char *text = g_build_filename (f->dir, "text.jpg", NULL);
  g_autofree char *big = save_png (f, "big.png", 40, 30, FALSE,
                                   fill_gradient);
  g_autofree char *missing = g_build_filename (f->dir, "missing.png", NULL);
  struct { const char *path; int code; const char *fragment; } cases[] = {
    { empty, GRAFT_DATA_ERROR_EMPTY, "empty" },
    { text, GRAFT_DATA_ERROR_NOT_IMAGE, "not an image" },
    { big, GRAFT_DATA_ERROR_TOO_LARGE, "40 × 30" },
    { missing, GRAFT_DATA_ERROR_UNREADABLE, "unreadable" },
  };

  g_file_set_contents (empty, "", 0, NULL);
  g_file_set_contents (text, "hello, I am text", -1, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GdkPixbuf) pixbuf = graft_image_load (cases[i].path, 1000,
                                                       &error);
      g_assert_null (pixbuf);
      g_assert_error (error, GRAFT_DATA_ERROR, cases[i].code);
      if (strstr (error->message, cases[i].fragment) == NULL)
        g_test_fail_printf ("'%s' lacks '%s'", error->message,
                            cases[i].fragment);
    }
}

static GdkPixbuf *
load_ok (const char *path)
{
  g_autoptr (GError) error = NULL;
  GdkPixbuf *pixbuf = graft_image_load (path, GRAFT_DEFAULT_MAX_PIXELS,
                                        &error);

  g_assert_no_error (error);
  g_assert_false (gdk_pixbuf_get_has_alpha (pixbuf));
  g_assert_cmpint (gdk_pixbuf_get_n_channels (pixbuf), ==, 3);
  g_assert_cmpint (gdk_pixbuf_get_bits_per_sample (pixbuf), ==, 8);
  return pixbuf;
}

static const guchar *
pixel (GdkPixbuf *pixbuf, int x, int y)
{
  return gdk_pixbuf_read_pixels (pixbuf) + y * gdk_pixbuf_get_rowstride
    (pixbuf) + x * 3;
}

/* 16-bit gray keeps its high byte; gray + alpha goes on white. */
static void
test_gray (Fixture *f, gconstpointer data)
{
  g_autofree char *gray16 = g_build_filename (f->dir, "g16.png", NULL);
  g_autofree char *gray_alpha = g_build_filename (f->dir, "ga.png", NULL);
  const guint8 ga_row[4] = { 0, 0, 0, 255 };
  guint8 rows[2][8];
  g_autoptr (GdkPixbuf) a = NULL;
  g_autoptr (GdkPixbuf) b = NULL;

  for (int i = 0; i < 8; i++)
    {
      guint16 v = (guint16) (GRAFT_TEST_GRAY16_BASE + i * 0x1000);
      rows[i / 4][(i % 4) * 2] = (guint8) (v >> 8);
      rows[i / 4][(i % 4) * 2 + 1] = (guint8) v;
    }
  graft_test_write_png (gray16, 4, 2, 16, GRAFT_TEST_PNG_GRAY, &rows[0][0],
                        8);
  graft_test_write_png (gray_alpha, 2, 1, 8, GRAFT_TEST_PNG_GRAY_ALPHA,
                        ga_row, 4);
  a = load_ok (gray16);
  for (int i = 0; i < 8; i++)
    for (int c = 0; c < 3; c++)
      g_assert_cmpint (pixel (a, i % 4, i / 4)[c], ==,
                       (GRAFT_TEST_GRAY16_BASE + i * 0x1000) >> 8);
  b = load_ok (gray_alpha);
  g_assert_cmpint (pixel (b, 0, 0)[0], ==, 255);   /* transparent → white */
  g_assert_cmpint (pixel (b, 1, 0)[0], ==, 0);
}

static void
test_cmyk_gif_exif (Fixture *f, gconstpointer data)
{
  g_autofree char *cmyk = g_build_filename (f->dir, "cmyk.jpg", NULL);
  g_autofree char *gif = g_build_filename (f->dir, "p.gif", NULL);
  g_autofree char *exif = g_build_filename (f->dir, "r.jpg", NULL);
  g_autoptr (GdkPixbuf) a = NULL;
  g_autoptr (GdkPixbuf) b = NULL;
  g_autoptr (GdkPixbuf) c = NULL;

  graft_test_write_blob (cmyk, GRAFT_TEST_CMYK_JPEG);
  graft_test_write_blob (gif, GRAFT_TEST_PALETTE_GIF);
  graft_test_write_blob (exif, GRAFT_TEST_EXIF6_JPEG);
  a = load_ok (cmyk);
  g_assert_cmpint (pixel (a, 4, 4)[0], >, 240);      /* red */
  g_assert_cmpint (pixel (a, 4, 4)[1], <, 15);
  b = load_ok (gif);
  g_assert_cmpint (pixel (b, 0, 0)[2], ==, 255);     /* blue */
  g_assert_cmpint (pixel (b, 1, 0)[0], ==, 255);     /* red */
  c = load_ok (exif);                  /* stored 8×4, shown 4×8 */
  g_assert_cmpint (gdk_pixbuf_get_width (c), ==, 4);
  g_assert_cmpint (gdk_pixbuf_get_height (c), ==, 8);
  g_assert_cmpint (pixel (c, 1, 0)[0], >, 200);      /* red on top */
  g_assert_cmpint (pixel (c, 1, 7)[2], >, 200);      /* blue below */
}

/* Every proper prefix of a PNG or a JPEG is refused (the short ones as
 * not an image, the others as truncated, never decoded as gray); the
 * whole file, and the whole file with padding after it, are accepted. */
static void
check_prefixes (Fixture *f, const char *type, const char *why)
{
  g_autofree char *whole = g_build_filename (f->dir, "whole", NULL);
  g_autofree char *cut = g_build_filename (f->dir, "cut", NULL);
  g_autofree char *data = NULL;
  gsize size = 0;
  guint truncated = 0;

  graft_test_save (whole, type, 24, 16, FALSE, 3);
  g_assert_true (g_file_get_contents (whole, &data, &size, NULL));
  for (gsize length = 1; length < size; length++)
    {
      g_autoptr (GError) error = NULL;
      graft_test_write (cut, data, length);
      g_assert_false (graft_image_inspect (cut, GRAFT_DEFAULT_MAX_PIXELS,
                                           NULL, NULL, &error));
      g_assert_true (error->domain == GRAFT_DATA_ERROR);
      if (error->code == GRAFT_DATA_ERROR_TRUNCATED)
        {
          g_assert_nonnull (strstr (error->message, why));
          truncated++;
        }
    }
  g_assert_cmpuint (truncated, >, size * 9 / 10);
  g_assert_true (graft_image_inspect (whole, GRAFT_DEFAULT_MAX_PIXELS, NULL,
                                      NULL, NULL));
  data = g_realloc (data, size + 16);
  memset (data + size, 0, 16);
  graft_test_write (cut, data, size + 16);
  g_assert_true (graft_image_inspect (cut, GRAFT_DEFAULT_MAX_PIXELS, NULL,
                                      NULL, NULL));
}

static void
test_truncation (Fixture *f, gconstpointer data)
{
  check_prefixes (f, "png", "PNG");
  check_prefixes (f, "jpeg", "JPEG");
}

/* A header claiming 60000 × 60000 is refused from the header alone. */
static void
test_bomb (Fixture *f, gconstpointer data)
{
  g_autofree char *bomb = g_build_filename (f->dir, "bomb.png", NULL);
  g_autoptr (GError) error = NULL;

  graft_test_write_png_header (bomb, 60000, 60000);
  g_assert_null (graft_image_load (bomb, GRAFT_DEFAULT_MAX_PIXELS, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "60000 × 60000"));
}

static void
test_inspect_info (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "i.png", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *sha = NULL;
  GraftImageInfo info;
  gsize size;

  graft_test_save (path, "png", 9, 7, TRUE, 1);
  g_assert_true (graft_image_inspect (path, 1000, &info, NULL, NULL));
  g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
  sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                     (const guchar *) contents, size);
  g_assert_cmpstr (info.sha256, ==, sha);
  g_free (sha);
  sha = graft_file_sha256 (path, NULL, NULL);
  g_assert_cmpstr (info.sha256, ==, sha);
  g_assert_cmpint (info.width, ==, 9);
  g_assert_cmpint (info.height, ==, 7);
  g_assert_cmpint (info.format, ==, GRAFT_FORMAT_PNG);
  g_assert_cmpint (info.size, ==, (gint64) size);
}

/* ---- Augmentation -------------------------------------------------------- */

/* The same (seed, sample, view) always draws the same view; views differ;
 * crops stay inside the picture and within torchvision's ranges; about
 * half the views are mirrored; view 0 is the plain picture. */
static void
test_augment_plan (void)
{
  GraftAugment augment;
  GraftView plain, a, b;
  guint flipped = 0, differ = 0;
  const guint views = 2000;

  graft_augment_init (&augment, TRUE, TRUE);
  graft_augment_plan (&augment, 7, "key", GRAFT_VIEW_PLAIN, 640, 480,
                      &plain);
  g_assert_false (plain.cropped);
  g_assert_false (plain.flip);
  for (guint v = 1; v <= views; v++)
    {
      double area, ratio;
      graft_augment_plan (&augment, 7, "key", v, 640, 480, &a);
      graft_augment_plan (&augment, 7, "key", v, 640, 480, &b);
      g_assert_cmpmem (&a, sizeof a, &b, sizeof b);
      graft_augment_plan (&augment, 8, "key", v, 640, 480, &b);
      differ += memcmp (&a, &b, sizeof a) != 0;
      g_assert_true (a.cropped);
      g_assert_cmpint (a.x, >=, 0);
      g_assert_cmpint (a.y, >=, 0);
      g_assert_cmpint (a.x + a.width, <=, 640);
      g_assert_cmpint (a.y + a.height, <=, 480);
      area = (double) a.width * a.height / (640.0 * 480.0);
      ratio = (double) a.width / a.height;
      g_assert_cmpfloat (area, >=, GRAFT_CROP_SCALE_MIN * 0.95);
      g_assert_cmpfloat (ratio, >=, GRAFT_CROP_RATIO_MIN * 0.95);
      g_assert_cmpfloat (ratio, <=, GRAFT_CROP_RATIO_MAX * 1.05);
      flipped += a.flip;
    }
  g_assert_cmpuint (differ, >, views * 9 / 10);
  g_assert_cmpuint (flipped, >, views * 4 / 10);
  g_assert_cmpuint (flipped, <, views * 6 / 10);
}

/* A mirrored view with no crop is the plain tensor read right to left;
 * an augmented view's tensor is the same pixels every time. */
static void
test_augment_pixels (Fixture *f, gconstpointer data)
{
  g_autofree char *path = save_png (f, "grad.png", 12, 8, FALSE,
                                    fill_gradient);
  g_autoptr (GdkPixbuf) pixbuf = graft_image_load (path, 1000, NULL);
  GraftView mirror = { FALSE, 0, 0, 12, 8, TRUE }, view;
  GraftAugment augment;
  GfPreprocess pre;
  float plain[3 * 8 * 12], flipped[3 * 8 * 12], one[3 * 6 * 6],
    two[3 * 6 * 6];

  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, 8, 12);
  graft_image_to_tensor (pixbuf, &pre, plain);
  graft_image_view_to_tensor (pixbuf, &pre, &mirror, flipped);
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 12; x++)
        g_assert_cmpfloat (flipped[(c * 8 + y) * 12 + x], ==,
                           plain[(c * 8 + y) * 12 + 11 - x]);
  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, 6, 6);
  graft_augment_init (&augment, TRUE, TRUE);
  graft_augment_plan (&augment, 3, "sample", 5, 12, 8, &view);
  graft_image_view_to_tensor (pixbuf, &pre, &view, one);
  graft_augment_plan (&augment, 3, "sample", 5, 12, 8, &view);
  graft_image_view_to_tensor (pixbuf, &pre, &view, two);
  g_assert_cmpmem (one, sizeof one, two, sizeof two);
}

static void
test_augment_describe (void)
{
  GraftAugment augment;
  g_autofree char *plain = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;

  graft_augment_init (&augment, TRUE, FALSE);
  plain = graft_augment_describe (&augment, 1, GRAFT_VIEW_PLAIN);
  a = graft_augment_describe (&augment, 1, 2);
  b = graft_augment_describe (&augment, 1, 3);
  g_assert_cmpstr (plain, ==, "plain");
  g_assert_cmpstr (a, !=, b);
  g_assert_nonnull (strstr (a, "view=2"));
}

/* ---- The pool ------------------------------------------------------------ */

/* Four threads give exactly the floats one thread gives, views included;
 * a broken file leaves zeros and its error in its own slot. */
static void
test_pool_matches_serial (Fixture *f, gconstpointer data)
{
  enum { N = 24, SIDE = 16, FLOATS = 3 * SIDE * SIDE };
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GraftDecodePool) serial = graft_decode_pool_new (1);
  g_autoptr (GraftDecodePool) pool = graft_decode_pool_new (4);
  g_autofree float *a = g_new (float, N * FLOATS);
  g_autofree float *b = g_new (float, N * FLOATS);
  GraftDecodeItem items[N];
  GError *errors[N] = { NULL };
  GraftAugment augment;
  GfPreprocess pre;
  GraftDecodeSpec spec = { &pre, &augment, 11, GRAFT_DEFAULT_MAX_PIXELS };

  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, SIDE, SIDE);
  graft_augment_init (&augment, TRUE, TRUE);
  for (guint i = 0; i < N; i++)
    {
      char *path = g_strdup_printf ("%s/%02u.%s", f->dir, i,
                                    i % 3 ? "png" : "jpg");
      graft_test_save (path, i % 3 ? "png" : "jpeg", 20 + i, 18, i % 2, i);
      g_ptr_array_add (paths, path);
      items[i] = (GraftDecodeItem) { path, path, i % 4 };
    }
  graft_test_write (paths->pdata[5], "broken", 6);
  g_assert_true (graft_decode_pool_tensors (serial, &spec, items, N, a,
                                            NULL, NULL, NULL));
  g_assert_true (graft_decode_pool_tensors (pool, &spec, items, N, b,
                                            errors, NULL, NULL));
  g_assert_cmpmem (a, N * FLOATS * sizeof (float), b,
                   N * FLOATS * sizeof (float));
  for (guint i = 0; i < N; i++)
    if (i == 5)
      g_assert_error (errors[i], GRAFT_DATA_ERROR,
                      GRAFT_DATA_ERROR_NOT_IMAGE);
    else
      g_assert_no_error (errors[i]);
  g_clear_error (&errors[5]);
  for (guint i = 0; i < FLOATS; i++)
    g_assert_cmpfloat (b[5 * FLOATS + i], ==, 0);
}

static void
count_item (guint index, gpointer data)
{
  g_atomic_int_inc ((gint *) data);
  g_usleep (1000);
}

static void
cancel_midway (guint done, guint total, gpointer data)
{
  if (done >= 10)
    g_cancellable_cancel (data);
}

/* Cancelled runs stop early; progress reaches the total otherwise. */
static void
test_pool_cancel (void)
{
  g_autoptr (GraftDecodePool) pool = graft_decode_pool_new (2);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  gint calls = 0;

  g_assert_false (graft_decode_pool_run (pool, 1000, count_item, &calls,
                                         cancel_midway, cancellable,
                                         cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (calls, <, 100);
  g_assert_cmpuint (graft_decode_pool_get_threads (pool), ==, 2);
}

/* ---- Files that are not pictures to read -------------------------------- */

#define TRAP_TIMEOUT_USEC (10 * G_USEC_PER_SEC)

/* A FIFO among the pictures is refused at once, never opened for reading
 * (which would wait for a writer forever): checked in a child, so that a
 * regression times out instead of hanging the suite. */
static void
test_fifo (Fixture *f, gconstpointer data)
{
  g_autofree char *pipe = g_build_filename (f->dir, "pipe.png", NULL);
  g_autoptr (GError) inspect_error = NULL;
  g_autoptr (GError) decode_error = NULL;
  g_autoptr (GdkPixbuf) pixbuf = NULL;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, TRAP_TIMEOUT_USEC, 0);
      g_test_trap_assert_passed ();
      return;
    }
  g_assert_cmpint (mkfifo (pipe, 0644), ==, 0);
  g_assert_false (graft_image_inspect (pipe, GRAFT_DEFAULT_MAX_PIXELS, NULL,
                                       NULL, &inspect_error));
  g_assert_error (inspect_error, GRAFT_DATA_ERROR,
                  GRAFT_DATA_ERROR_NOT_REGULAR);
  pixbuf = graft_image_decode (pipe, &decode_error);
  g_assert_null (pixbuf);
  g_assert_error (decode_error, GRAFT_DATA_ERROR,
                  GRAFT_DATA_ERROR_NOT_REGULAR);
}

/* A picture that vanishes after its scan (moved away during a run) is
 * reported as unreadable, not corrupt, and on the decode pool it fails
 * alone: the other pictures of its batch decode, so a trainer can skip
 * it. */
static void
test_vanished (Fixture *f, gconstpointer data)
{
  g_autofree char *kept = save_png (f, "kept.png", 4, 4, FALSE,
                                    fill_gradient);
  g_autofree char *gone = save_png (f, "gone.png", 4, 4, FALSE,
                                    fill_gradient);
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  g_autoptr (GraftDecodePool) pool = graft_decode_pool_new (2);
  GfPreprocess pre = { 0 };
  GraftDecodeSpec spec = { &pre, NULL, 0, GRAFT_DEFAULT_MAX_PIXELS };
  GraftDecodeItem items[] = { { kept, "a", GRAFT_VIEW_PLAIN },
                              { gone, "b", GRAFT_VIEW_PLAIN } };
  GError *errors[G_N_ELEMENTS (items)] = { NULL };
  float out[G_N_ELEMENTS (items) * 3 * 4 * 4];

  g_assert_true (graft_image_inspect (gone, GRAFT_DEFAULT_MAX_PIXELS, NULL,
                                      NULL, NULL));
  g_assert_cmpint (g_unlink (gone), ==, 0);
  pixbuf = graft_image_decode (gone, &error);
  g_assert_null (pixbuf);
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNREADABLE);
  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, 4, 4);
  g_assert_true (graft_decode_pool_tensors (pool, &spec, items,
                                            G_N_ELEMENTS (items), out,
                                            errors, NULL, NULL));
  g_assert_null (errors[0]);
  g_assert_error (errors[1], GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNREADABLE);
  g_clear_error (&errors[1]);
}

/* Without the shared MIME database GdkPixbuf recognises no picture: say
 * that, not "corrupt".  The child runs with XDG_DATA_DIRS and
 * XDG_DATA_HOME on an empty folder, where GIO finds no database. */
static void
test_no_mime_database (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "fine.png", NULL);
  g_autofree char *empty = NULL;
  g_autofree char *dirs = NULL;
  g_autofree char *home = NULL;
  g_autoptr (GError) error = NULL;

  if (g_test_subprocess ())
    {
      graft_test_save (path, "png", 4, 4, FALSE, 1);
      g_assert_false (graft_image_inspect (path, GRAFT_DEFAULT_MAX_PIXELS,
                                           NULL, NULL, &error));
      g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NO_LOADER);
      g_assert_nonnull (strstr (error->message, "shared-mime-info"));
      return;
    }
  empty = graft_test_mkdir (f->dir, "no-data");
  dirs = g_strdup (g_getenv ("XDG_DATA_DIRS"));
  home = g_strdup (g_getenv ("XDG_DATA_HOME"));
  g_setenv ("XDG_DATA_DIRS", empty, TRUE);
  g_setenv ("XDG_DATA_HOME", empty, TRUE);
  g_test_trap_subprocess (NULL, TRAP_TIMEOUT_USEC, 0);
  if (dirs != NULL)
    g_setenv ("XDG_DATA_DIRS", dirs, TRUE);
  else
    g_unsetenv ("XDG_DATA_DIRS");
  if (home != NULL)
    g_setenv ("XDG_DATA_HOME", home, TRUE);
  else
    g_unsetenv ("XDG_DATA_HOME");
  g_rmdir (empty);
  g_test_trap_assert_passed ();
}

/* 144 MB of pixels, a small file (one colour). */
#define BIG_SIDE 6000

/* A picture too large for the memory left is "out of memory", which a run
 * treats as a failure of the machine, never "corrupt", which would make
 * it skip the picture as lost. */
static void
test_out_of_memory (Fixture *f, gconstpointer data)
{
#ifdef GRAFT_TEST_UNDER_ASAN
  g_test_skip ("AddressSanitizer needs more address space than this limits");
  return;
#endif
  if (g_test_subprocess ())
    {
      g_autofree char *path = g_build_filename (f->dir, "big.png", NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (GdkPixbuf) decoded = NULL;

      {
        g_autoptr (GdkPixbuf) big = gdk_pixbuf_new (GDK_COLORSPACE_RGB,
                                                    FALSE, 8, BIG_SIDE,
                                                    BIG_SIDE);
        gdk_pixbuf_fill (big, 0x336699ff);
        g_assert_true (gdk_pixbuf_save (big, path, "png", NULL, NULL));
      }
      graft_test_limit_address_space ((gsize) 48 << 20);
      decoded = graft_image_decode (path, &error);
      g_assert_null (decoded);
      g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NO_MEMORY);
      return;
    }
  g_test_trap_subprocess (NULL, TRAP_TIMEOUT_USEC, 0);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, \
                                    func, fixture_tear_down)
  ADD ("/data/image/alpha-on-white", test_alpha_on_white);
  ADD ("/data/image/tensor-values", test_tensor_values);
  ADD ("/data/image/resize-modes", test_resize_modes);
  ADD ("/data/image/refusals", test_refusals);
  ADD ("/data/image/gray", test_gray);
  ADD ("/data/image/cmyk-gif-exif", test_cmyk_gif_exif);
  ADD ("/data/image/truncation", test_truncation);
  ADD ("/data/image/bomb", test_bomb);
  ADD ("/data/image/inspect-info", test_inspect_info);
  ADD ("/data/augment/pixels", test_augment_pixels);
  ADD ("/data/pool/matches-serial", test_pool_matches_serial);
  ADD ("/data/image/fifo", test_fifo);
  ADD ("/data/image/vanished", test_vanished);
  ADD ("/data/image/no-mime-database", test_no_mime_database);
  ADD ("/data/image/out-of-memory", test_out_of_memory);
#undef ADD
  g_test_add_func ("/data/augment/plan", test_augment_plan);
  g_test_add_func ("/data/augment/describe", test_augment_describe);
  g_test_add_func ("/data/pool/cancel", test_pool_cancel);
  return g_test_run ();
}
