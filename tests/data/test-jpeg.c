/* test-jpeg.c: phone photos decoded at the scale the network needs.
 *
 * A 12-megapixel photo-like JPEG, and the same picture stored turned with
 * an EXIF orientation, are made once; each check compares the tensors
 * of the reduced-scale path (libjpeg's DCT scaling, then the usual
 * resize) against the whole decode with the same preprocessing, on a
 * 0..1 scale. */
#define G_LOG_DOMAIN "test-jpeg"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "graft-decode-pool.h"
#include "graft-error.h"
#include "graft-image.h"
#include "graft-test-data.h"
#include "graft-test-photo.h"

#define INPUT 224
#define FULL_W GRAFT_TEST_PHOTO_WIDTH
#define FULL_H GRAFT_TEST_PHOTO_HEIGHT
/* The resamplings differ (an 8×8 block mean, then a bilinear box, against
 * one wide bilinear box): over the tensor they agree to well under a
 * level in 255 on average; an edge may move by a fraction of an output
 * pixel, which bounds the largest difference. */
#define MEAN_TOLERANCE 0.02
#define MAX_TOLERANCE 0.35
#define N_VIEWS 12
#define N_PLANS 20000
#define ORIENTATION_TURN_CLOCKWISE 6
#define POOL_THREADS 2

static char *dir, *plain_path, *turned_path, *png_path;

static void
pre_unit (GfPreprocess *pre)
{
  *pre = (GfPreprocess) { INPUT, INPUT, 3, GF_RESIZE_SHORTER_CROP,
                          GF_CHANNELS_RGB, 1.0 / 255, { 0, 0, 0 },
                          { 1, 1, 1 } };
}

static gsize
tensor_floats (void)
{
  return (gsize) 3 * INPUT * INPUT;
}

typedef struct
{
  double mean, max;
} Difference;

static Difference
compare (const float *a, const float *b)
{
  Difference d = { 0, 0 };

  for (gsize i = 0; i < tensor_floats (); i++)
    {
      double e = fabs ((double) a[i] - b[i]);
      d.mean += e;
      d.max = MAX (d.max, e);
    }
  d.mean /= tensor_floats ();
  return d;
}

static void
assert_close (const float *fast, const float *full, const char *what)
{
  Difference d = compare (fast, full);

  g_test_message ("%s: mean |difference| %.4f, max %.4f", what, d.mean,
                  d.max);
  g_assert_cmpfloat (d.mean, <, MEAN_TOLERANCE);
  g_assert_cmpfloat (d.max, <, MAX_TOLERANCE);
}

static GdkPixbuf *
load (const char *path, const GraftImageNeed *need)
{
  g_autoptr (GError) error = NULL;
  GdkPixbuf *pixbuf = graft_image_load_for (path, GRAFT_DEFAULT_MAX_PIXELS,
                                            need, &error);

  g_assert_no_error (error);
  g_assert_nonnull (pixbuf);
  return pixbuf;
}

static gboolean
same_pixels (GdkPixbuf *a, GdkPixbuf *b)
{
  int width = gdk_pixbuf_get_width (a), height = gdk_pixbuf_get_height (a);
  gsize row = (gsize) width * gdk_pixbuf_get_n_channels (a);

  if (width != gdk_pixbuf_get_width (b)
      || height != gdk_pixbuf_get_height (b)
      || gdk_pixbuf_get_n_channels (a) != gdk_pixbuf_get_n_channels (b))
    return FALSE;
  for (int y = 0; y < height; y++)
    if (memcmp (gdk_pixbuf_read_pixels (a)
                + (gsize) y * gdk_pixbuf_get_rowstride (a),
                gdk_pixbuf_read_pixels (b)
                + (gsize) y * gdk_pixbuf_get_rowstride (b), row) != 0)
      return FALSE;
  return TRUE;
}

static void
assert_size (GdkPixbuf *pixbuf, int width, int height)
{
  g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, width);
  g_assert_cmpint (gdk_pixbuf_get_height (pixbuf), ==, height);
}

static void
assert_source_size (GdkPixbuf *pixbuf, int width, int height)
{
  int w, h;

  graft_image_get_source_size (pixbuf, &w, &h);
  g_assert_cmpint (w, ==, width);
  g_assert_cmpint (h, ==, height);
}

/* ---- The rule ------------------------------------------------------------ */

static void
test_denominator (void)
{
  GfPreprocess pre;
  GraftAugment augment;
  GraftImageNeed plain, crop, wide;

  pre_unit (&pre);
  graft_augment_init (&augment, TRUE, TRUE);
  graft_image_need_init (&plain, &pre, NULL);
  graft_image_need_init (&crop, &pre, &augment);
  g_assert_cmpint (graft_image_need_denominator (NULL, FULL_W, FULL_H), ==,
                   1);
  /* 504 × 378 covers 224 × 224; 252 × 189 would not. */
  g_assert_cmpint (graft_image_need_denominator (&plain, FULL_W, FULL_H),
                   ==, 8);
  g_assert_cmpint (graft_image_need_denominator (&plain, FULL_H, FULL_W),
                   ==, 8);
  g_assert_cmpint (graft_image_need_denominator (&plain, 1600, 1200), ==, 4);
  g_assert_cmpint (graft_image_need_denominator (&plain, 447, 447), ==, 1);
  g_assert_cmpint (graft_image_need_denominator (&plain, 448, 448), ==, 2);
  g_assert_cmpint (graft_image_need_denominator (&plain, 4000, 300), ==, 1);
  /* The smallest crop of a 12-megapixel photo is about 855 pixels a
   * side: half of it covers 224, a quarter not. */
  g_assert_cmpint (graft_image_need_denominator (&crop, FULL_W, FULL_H), ==,
                   2);
  g_assert_cmpint (graft_image_need_denominator (&crop, 1600, 1200), ==, 1);
  /* A network wider than tall: either way up must be covered. */
  pre.width = 448;
  graft_image_need_init (&wide, &pre, NULL);
  g_assert_cmpint (graft_image_need_denominator (&wide, 1800, 3600), ==, 4);
  g_assert_cmpint (graft_image_need_denominator (&wide, 3600, 1800), ==, 4);
}

/* Every crop graft_augment_plan draws, at the chosen scale, still has the
 * network's size; at the next scale down some would not. */
static void
check_crops_covered (int width, int height)
{
  GfPreprocess pre;
  GraftAugment augment;
  GraftImageNeed need;
  double smallest = G_MAXDOUBLE;
  int d;

  pre_unit (&pre);
  graft_augment_init (&augment, FALSE, TRUE);
  graft_image_need_init (&need, &pre, &augment);
  d = graft_image_need_denominator (&need, width, height);
  for (guint v = 1; v <= N_PLANS; v++)
    {
      GraftView view;
      graft_augment_plan (&augment, 5, "photo", v, width, height, &view);
      smallest = MIN (smallest, MIN (view.width, view.height));
    }
  g_test_message ("%d × %d: 1/%d, smallest crop %.0f pixels", width, height,
                  d, smallest);
  g_assert_cmpfloat (smallest / d, >=, INPUT);
  if (d < 8)
    g_assert_cmpfloat (smallest / (2 * d), <, INPUT);
}

static void
test_crops_covered (void)
{
  check_crops_covered (FULL_W, FULL_H);
  check_crops_covered (FULL_H, FULL_W);
  check_crops_covered (6000, 4000);
}

/* ---- Tensors ------------------------------------------------------------- */

static void
test_plain (void)
{
  GfPreprocess pre;
  GraftImageNeed need;
  g_autoptr (GdkPixbuf) full = NULL, fast = NULL;
  g_autofree float *a = g_new (float, tensor_floats ());
  g_autofree float *b = g_new (float, tensor_floats ());

  pre_unit (&pre);
  graft_image_need_init (&need, &pre, NULL);
  full = load (plain_path, NULL);
  fast = load (plain_path, &need);
  assert_size (full, FULL_W, FULL_H);
  /* 1/8: at least the input's size, far under the photo's. */
  assert_size (fast, FULL_W / 8, FULL_H / 8);
  assert_source_size (fast, FULL_W, FULL_H);
  assert_source_size (full, FULL_W, FULL_H);
  graft_image_to_tensor (full, &pre, a);
  graft_image_to_tensor (fast, &pre, b);
  assert_close (b, a, "plain, 1/8");
  /* Squashed rather than cropped: the same scale, the same agreement. */
  pre.resize = GF_RESIZE_SQUASH;
  graft_image_to_tensor (full, &pre, a);
  graft_image_to_tensor (fast, &pre, b);
  assert_close (b, a, "squashed, 1/8");
}

/* Random crops planned in the photo's pixels show the same part of it at
 * 1/2 as whole. */
static void
test_crops (void)
{
  GfPreprocess pre;
  GraftAugment augment;
  GraftImageNeed need;
  g_autoptr (GdkPixbuf) full = NULL, fast = NULL;
  g_autofree float *a = g_new (float, tensor_floats ());
  g_autofree float *b = g_new (float, tensor_floats ());
  double worst = 0;

  pre_unit (&pre);
  graft_augment_init (&augment, TRUE, TRUE);
  graft_image_need_init (&need, &pre, &augment);
  full = load (plain_path, NULL);
  fast = load (plain_path, &need);
  assert_size (fast, FULL_W / 2, FULL_H / 2);
  for (guint v = 1; v <= N_VIEWS; v++)
    {
      GraftView view;
      int w, h;
      graft_image_get_source_size (fast, &w, &h);
      graft_augment_plan (&augment, 9, "photo", v, w, h, &view);
      graft_image_view_to_tensor (full, &pre, &view, a);
      graft_image_view_to_tensor (fast, &pre, &view, b);
      g_assert_cmpfloat (compare (b, a).mean, <, MEAN_TOLERANCE);
      g_assert_cmpfloat (compare (b, a).max, <, MAX_TOLERANCE);
      worst = MAX (worst, compare (b, a).mean);
    }
  g_test_message ("%d crops at 1/2: worst mean |difference| %.4f", N_VIEWS,
                  worst);
}

/* Stored turned, with EXIF orientation 6: the reduced decode is turned
 * upright too, knows its upright source size, and matches the upright
 * original. */
static void
test_orientation (void)
{
  GfPreprocess pre;
  GraftAugment augment;
  GraftImageNeed need, crop_need;
  g_autoptr (GdkPixbuf) upright = NULL, fast = NULL, fast_crop = NULL;
  g_autoptr (GdkPixbuf) turned_full = NULL;
  g_autofree float *a = g_new (float, tensor_floats ());
  g_autofree float *b = g_new (float, tensor_floats ());
  GraftView view;

  pre_unit (&pre);
  graft_augment_init (&augment, FALSE, TRUE);
  graft_image_need_init (&need, &pre, NULL);
  graft_image_need_init (&crop_need, &pre, &augment);
  upright = load (plain_path, NULL);
  turned_full = load (turned_path, NULL);
  fast = load (turned_path, &need);
  assert_size (turned_full, FULL_W, FULL_H);
  assert_size (fast, FULL_W / 8, FULL_H / 8);
  assert_source_size (fast, FULL_W, FULL_H);
  graft_image_to_tensor (upright, &pre, a);
  graft_image_to_tensor (fast, &pre, b);
  assert_close (b, a, "EXIF-turned, 1/8, against the upright whole");
  fast_crop = load (turned_path, &crop_need);
  assert_size (fast_crop, FULL_W / 2, FULL_H / 2);
  assert_source_size (fast_crop, FULL_W, FULL_H);
  graft_augment_plan (&augment, 4, "photo", 3, FULL_W, FULL_H, &view);
  g_assert_true (view.cropped);
  graft_image_view_to_tensor (upright, &pre, &view, a);
  graft_image_view_to_tensor (fast_crop, &pre, &view, b);
  assert_close (b, a, "EXIF-turned crop, 1/2, against the upright whole");
}

/* Other formats are not resampled: the whole picture, as before. */
static void
test_png_whole (void)
{
  GfPreprocess pre;
  GraftImageNeed need;
  g_autoptr (GdkPixbuf) whole = NULL, for_need = NULL;

  pre_unit (&pre);
  graft_image_need_init (&need, &pre, NULL);
  whole = load (png_path, NULL);
  for_need = load (png_path, &need);
  assert_size (for_need, gdk_pixbuf_get_width (whole),
               gdk_pixbuf_get_height (whole));
  g_assert_true (same_pixels (whole, for_need));
}

/* A small JPEG (no reduction possible) decodes exactly as without a
 * need. */
static void
test_small_jpeg_unchanged (void)
{
  g_autofree char *path = g_build_filename (dir, "small.jpg", NULL);
  g_autoptr (GdkPixbuf) picture = graft_test_photo (300, 200, 3);
  g_autoptr (GdkPixbuf) whole = NULL, for_need = NULL;
  GfPreprocess pre;
  GraftImageNeed need;

  pre_unit (&pre);
  graft_image_need_init (&need, &pre, NULL);
  graft_test_save_photo (picture, path, ORIENTATION_TURN_CLOCKWISE);
  whole = load (path, NULL);
  for_need = load (path, &need);
  assert_size (whole, 200, 300);
  g_assert_true (same_pixels (whole, for_need));
}

/* ---- Guards -------------------------------------------------------------- */

/* The limit on pixels, truncation and damage are refused as without a
 * need, with the same errors. */
static void
test_guards (void)
{
  g_autofree char *cut = g_build_filename (dir, "cut.jpg", NULL);
  g_autofree char *damaged = g_build_filename (dir, "damaged.jpg", NULL);
  g_autofree char *gone = g_build_filename (dir, "gone.jpg", NULL);
  g_autofree char *bytes = NULL;
  const char *paths[] = { cut, damaged, gone, plain_path };
  const gint64 limits[] = { GRAFT_DEFAULT_MAX_PIXELS,
    GRAFT_DEFAULT_MAX_PIXELS, GRAFT_DEFAULT_MAX_PIXELS,
    (gint64) FULL_W * FULL_H - 1 };
  GfPreprocess pre;
  GraftImageNeed need;
  gsize length, header;

  pre_unit (&pre);
  graft_image_need_init (&need, &pre, NULL);
  g_assert_true (g_file_get_contents (plain_path, &bytes, &length, NULL));
  graft_test_write_prefix (plain_path, cut, length / 2);
  /* Image data overwritten past the header with 0xFF (fill bytes) up to
   * a byte that makes an unknown marker: a whole decode fails on it,
   * GdkPixbuf's reduced one would stop before it, so the inspection
   * refuses it first. */
  header = graft_test_find (plain_path, "\xff\xda", 2);
  memset (bytes + header + 64, 0xff, length / 3);
  graft_test_write (damaged, bytes, length);
  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr (GError) old = NULL, now = NULL;
      g_autoptr (GdkPixbuf) a = graft_image_load (paths[i], limits[i], &old);
      g_autoptr (GdkPixbuf) b = graft_image_load_for (paths[i], limits[i],
                                                      &need, &now);
      g_test_message ("%s: %s", paths[i], now != NULL ? now->message
                      : "decoded");
      g_assert_nonnull (old);
      g_assert_null (b);
      g_assert_error (now, GRAFT_DATA_ERROR, old->code);
    }
}

/* ---- The cache ----------------------------------------------------------- */

static char *
copy_photo (const char *name)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autofree char *bytes = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (plain_path, &bytes, &length, NULL));
  graft_test_write (path, bytes, length);
  return path;
}

static GdkPixbuf *
cache_load (GraftImageCache *cache, const char *path)
{
  g_autoptr (GError) error = NULL;
  GdkPixbuf *pixbuf = graft_image_cache_load (cache, path, &error);

  g_assert_no_error (error);
  return pixbuf;
}

/* Kept once decoded; read again when the file changed; a deleted file
 * fails as without the cache. */
static void
test_cache (void)
{
  g_autofree char *path = copy_photo ("cached.jpg");
  GfPreprocess pre;
  GraftImageNeed need;
  g_autoptr (GraftImageCache) cache = NULL;
  g_autoptr (GdkPixbuf) first = NULL, again = NULL, changed = NULL;
  g_autoptr (GdkPixbuf) other = NULL, after = NULL;
  g_autoptr (GError) old = NULL, now = NULL;

  pre_unit (&pre);
  graft_image_need_init (&need, &pre, NULL);
  cache = graft_image_cache_new (&need, GRAFT_DEFAULT_MAX_PIXELS, 0);
  g_assert_cmpuint (graft_image_cache_get_budget (cache), >, 0);
  first = cache_load (cache, path);
  assert_size (first, FULL_W / 8, FULL_H / 8);
  g_assert_cmpuint (graft_image_cache_get_bytes (cache), ==,
                    gdk_pixbuf_get_byte_length (first));
  again = cache_load (cache, path);
  g_assert_true (again == first);
  /* A change of mode changes the file's change time: read again. */
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  changed = cache_load (cache, path);
  g_assert_true (changed != first);
  g_assert_true (same_pixels (changed, first));
  g_assert_cmpuint (graft_image_cache_get_bytes (cache), ==,
                    gdk_pixbuf_get_byte_length (first));
  /* Replaced by another picture: the other picture. */
  {
    g_autoptr (GdkPixbuf) photo = graft_test_photo (FULL_W, FULL_H, 99);
    graft_test_save_photo (photo, path, 0);
  }
  other = cache_load (cache, path);
  g_assert_false (same_pixels (other, first));
  after = graft_image_load_for (path, GRAFT_DEFAULT_MAX_PIXELS, &need, NULL);
  g_assert_true (same_pixels (other, after));
  /* Deleted: lost, as the run would find it without a cache. */
  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_null (graft_image_load (path, GRAFT_DEFAULT_MAX_PIXELS, &old));
  g_assert_null (graft_image_cache_load (cache, path, &now));
  g_assert_nonnull (old);
  g_assert_error (now, GRAFT_DATA_ERROR, old->code);
}

/* A budget below one picture keeps none, and the pictures still load. */
static void
test_cache_budget (void)
{
  g_autofree char *path = copy_photo ("budget.jpg");
  GfPreprocess pre;
  GraftImageNeed need;
  g_autoptr (GraftImageCache) cache = NULL;
  g_autoptr (GdkPixbuf) one = NULL, two = NULL;

  pre_unit (&pre);
  graft_image_need_init (&need, &pre, NULL);
  cache = graft_image_cache_new (&need, GRAFT_DEFAULT_MAX_PIXELS, 1024);
  one = cache_load (cache, path);
  two = cache_load (cache, path);
  g_assert_true (one != two);
  g_assert_true (same_pixels (one, two));
  g_assert_cmpuint (graft_image_cache_get_bytes (cache), ==, 0);
}

/* The decode pool with the cache, on several threads, twice (decoded,
 * then kept): the same tensors as without it, and augmented views match
 * the whole decode. */
static void
test_cache_pool (void)
{
  enum { N = 6 };
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  GraftDecodeItem items[N];
  GfPreprocess pre;
  GraftAugment augment;
  GraftImageNeed need;
  g_autoptr (GraftImageCache) cache = NULL;
  g_autoptr (GraftDecodePool) pool = graft_decode_pool_new (POOL_THREADS);
  gsize floats = N * tensor_floats ();
  g_autofree float *bare = g_new (float, floats);
  g_autofree float *cached = g_new (float, floats);
  g_autofree float *whole = g_new (float, tensor_floats ());
  GraftDecodeSpec spec = { &pre, &augment, 17, GRAFT_DEFAULT_MAX_PIXELS };

  pre_unit (&pre);
  graft_augment_init (&augment, TRUE, TRUE);
  graft_image_need_init (&need, &pre, &augment);
  cache = graft_image_cache_new (&need, GRAFT_DEFAULT_MAX_PIXELS, 0);
  for (guint i = 0; i < N; i++)
    {
      g_autofree char *name = g_strdup_printf ("pool%u.jpg", i);
      g_ptr_array_add (paths, copy_photo (name));
      items[i] = (GraftDecodeItem) { paths->pdata[i], "photo", i + 1 };
    }
  g_assert_true (graft_decode_pool_tensors (pool, &spec, items, N, bare,
                                            NULL, NULL, NULL));
  spec.cache = cache;
  for (int round = 0; round < 2; round++)
    {
      memset (cached, 0, floats * sizeof (float));
      g_assert_true (graft_decode_pool_tensors (pool, &spec, items, N,
                                                cached, NULL, NULL, NULL));
      g_assert_cmpmem (cached, floats * sizeof (float), bare,
                       floats * sizeof (float));
    }
  g_assert_cmpuint (graft_image_cache_get_bytes (cache), ==,
                    (gsize) N * (FULL_W / 2) * (FULL_H / 2) * 3);
  /* The first item's view, from the whole decode. */
  {
    g_autoptr (GdkPixbuf) full = load (plain_path, NULL);
    GraftView view;
    graft_augment_plan (&augment, 17, "photo", 1, FULL_W, FULL_H, &view);
    graft_image_view_to_tensor (full, &pre, &view, whole);
    assert_close (cached, whole, "pool view 1, 1/2");
  }
  for (guint i = 0; i < N; i++)
    g_remove (paths->pdata[i]);
}

static void
make_photos (void)
{
  g_autoptr (GdkPixbuf) photo = graft_test_photo (FULL_W, FULL_H, 1);
  g_autoptr (GdkPixbuf) stored = NULL;
  g_autoptr (GError) error = NULL;

  dir = g_dir_make_tmp ("graft-test-jpeg-XXXXXX", &error);
  g_assert_no_error (error);
  plain_path = g_build_filename (dir, "photo.jpg", NULL);
  turned_path = g_build_filename (dir, "turned.jpg", NULL);
  png_path = g_build_filename (dir, "photo.png", NULL);
  graft_test_save_photo (photo, plain_path, 0);
  /* Orientation 6: shown after a quarter turn clockwise, so stored a
   * quarter turn the other way. */
  stored = gdk_pixbuf_rotate_simple (photo,
                                     GDK_PIXBUF_ROTATE_COUNTERCLOCKWISE);
  graft_test_save_photo (stored, turned_path, ORIENTATION_TURN_CLOCKWISE);
  graft_test_save (png_path, "png", 640, 480, FALSE, 2);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  make_photos ();
  g_test_add_func ("/data/jpeg/denominator", test_denominator);
  g_test_add_func ("/data/jpeg/crops-covered", test_crops_covered);
  g_test_add_func ("/data/jpeg/plain", test_plain);
  g_test_add_func ("/data/jpeg/crops", test_crops);
  g_test_add_func ("/data/jpeg/orientation", test_orientation);
  g_test_add_func ("/data/jpeg/png-whole", test_png_whole);
  g_test_add_func ("/data/jpeg/small-jpeg-unchanged",
                   test_small_jpeg_unchanged);
  g_test_add_func ("/data/jpeg/guards", test_guards);
  g_test_add_func ("/data/jpeg/cache", test_cache);
  g_test_add_func ("/data/jpeg/cache/budget", test_cache_budget);
  g_test_add_func ("/data/jpeg/cache/pool", test_cache_pool);
  status = g_test_run ();
  graft_test_rm_rf (dir);
  g_free (plain_path);
  g_free (turned_path);
  g_free (png_path);
  g_free (dir);
  return status;
}
