/* bench-jpeg.c: twenty 12-megapixel photo-like JPEGs into 224-pixel input
 * tensors on one thread, decoded whole (graft_image_load) and at the
 * scale the input needs (graft_image_load_for: libjpeg's DCT scaling, here
 * 1/8).  Prints pictures per second for both and the speed-up; a
 * benchmark, not a test:
 * `meson test -C BUILD --benchmark --suite data -v bench-jpeg`. */
#include <glib/gstdio.h>
#include <stdio.h>
#include <time.h>

#include "graft-image.h"
#include "graft-test-data.h"
#include "graft-test-photo.h"

#define N_PICTURES 20
#define INPUT_SIZE 224
#define ROUNDS 3            /* the best of, alternating the two paths so
                             * that a passing load hits both alike */

static GPtrArray *
make_pictures (const char *dir)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < N_PICTURES; i++)
    {
      g_autoptr (GdkPixbuf) photo
        = graft_test_photo (GRAFT_TEST_PHOTO_WIDTH, GRAFT_TEST_PHOTO_HEIGHT,
                            i + 1);
      char *path = g_strdup_printf ("%s/%02u.jpg", dir, i);
      graft_test_save_photo (photo, path, 0);
      g_ptr_array_add (paths, path);
    }
  return paths;
}

/* The time this thread has run: on a shared machine, what other work
 * takes from the wall clock does not count. */
static double
thread_seconds (void)
{
  struct timespec t;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

typedef struct
{
  double wall, cpu;     /* pictures per second */
} Rate;

/* Pictures per second through one path (@need NULL: whole). */
static Rate
measure (GPtrArray *paths, const GfPreprocess *pre,
         const GraftImageNeed *need, float *out)
{
  gint64 start = g_get_monotonic_time ();
  double cpu_start = thread_seconds ();

  for (guint i = 0; i < paths->len; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GdkPixbuf) pixbuf
        = graft_image_load_for (paths->pdata[i], GRAFT_DEFAULT_MAX_PIXELS,
                                need, &error);
      g_assert_no_error (error);
      graft_image_to_tensor (pixbuf, pre, out);
    }
  return (Rate) { paths->len / ((g_get_monotonic_time () - start)
                                 / (double) G_USEC_PER_SEC),
                  paths->len / (thread_seconds () - cpu_start) };
}

static void
print_rate (const char *what, Rate rate)
{
  printf ("  %-16s %6.2f pictures/s (%.3f s each); on the CPU clock "
          "%6.2f/s (%.3f s)\n", what, rate.wall, 1 / rate.wall, rate.cpu,
          1 / rate.cpu);
}

static void
print_load (void)
{
  g_autofree char *load = NULL;

  if (g_file_get_contents ("/proc/loadavg", &load, NULL, NULL))
    printf ("  (load average: %s)\n", g_strchomp (load));
}

int
main (int argc, char **argv)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-bench-jpeg-XXXXXX", NULL);
  g_autoptr (GPtrArray) paths = make_pictures (dir);
  g_autofree float *out = g_new (float, 3 * INPUT_SIZE * INPUT_SIZE);
  GfPreprocess pre;
  GraftImageNeed need;
  Rate whole = { 0, 0 }, scaled = { 0, 0 };

  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, INPUT_SIZE,
                        INPUT_SIZE);
  graft_image_need_init (&need, &pre, NULL);
  printf ("%d JPEGs of %d × %d to %d × %d, one thread, decoding at 1/%d:\n",
          N_PICTURES, GRAFT_TEST_PHOTO_WIDTH, GRAFT_TEST_PHOTO_HEIGHT,
          INPUT_SIZE, INPUT_SIZE,
          graft_image_need_denominator (&need, GRAFT_TEST_PHOTO_WIDTH,
                                        GRAFT_TEST_PHOTO_HEIGHT));
  measure (paths, &pre, &need, out);   /* warm: page cache, loaders */
  for (int round = 0; round < ROUNDS; round++)
    {
      Rate a = measure (paths, &pre, NULL, out);
      Rate b = measure (paths, &pre, &need, out);
      whole = (Rate) { MAX (whole.wall, a.wall), MAX (whole.cpu, a.cpu) };
      scaled = (Rate) { MAX (scaled.wall, b.wall), MAX (scaled.cpu, b.cpu) };
    }
  print_rate ("whole decode:", whole);
  print_rate ("reduced decode:", scaled);
  printf ("  speed-up:        %.2f× (wall clock), %.2f× (CPU clock)\n",
          scaled.wall / whole.wall, scaled.cpu / whole.cpu);
  print_load ();
  graft_test_rm_rf (dir);
  return 0;
}
