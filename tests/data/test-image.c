/* test-image.c: one picture from disk to a tensor — header checks before
 * decoding, alpha on white, preprocessing arithmetic and geometry. */
#include <glib/gstdio.h>
#include <string.h>

#include "graft-error.h"
#include "graft-image.h"

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
    { missing, GRAFT_DATA_ERROR_UNREADABLE, "cannot read" },
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/data/image/alpha-on-white", Fixture, NULL, fixture_set_up,
              test_alpha_on_white, fixture_tear_down);
  g_test_add ("/data/image/tensor-values", Fixture, NULL, fixture_set_up,
              test_tensor_values, fixture_tear_down);
  g_test_add ("/data/image/resize-modes", Fixture, NULL, fixture_set_up,
              test_resize_modes, fixture_tear_down);
  g_test_add ("/data/image/refusals", Fixture, NULL, fixture_set_up,
              test_refusals, fixture_tear_down);
  return g_test_run ();
}
