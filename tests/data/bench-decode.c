/* bench-decode.c: decoding 2,000 small PNGs into input tensors, on one
 * thread and then on the decode pool, as the feature extraction does.
 * Prints pictures per second and the speed-up; a benchmark, not a test:
 * `meson test -C BUILD --benchmark --suite data -v`. */
#include <glib/gstdio.h>
#include <stdio.h>

#include "graft-decode-pool.h"
#include "graft-test-data.h"

#define N_PICTURES 2000
#define PICTURE_SIZE 96     /* pixels a side, saved */
#define INPUT_SIZE 64       /* pixels a side, the network's */
#define ROUNDS 5            /* the best of, for each thread count; the
                             * two alternate so that a passing load on
                             * the machine hits both alike */

static GraftDecodeItem *
make_pictures (const char *dir, GPtrArray *paths)
{
  GraftDecodeItem *items = g_new0 (GraftDecodeItem, N_PICTURES);

  for (guint i = 0; i < N_PICTURES; i++)
    {
      char *path = g_strdup_printf ("%s/%04u.png", dir, i);
      graft_test_save (path, "png", PICTURE_SIZE, PICTURE_SIZE, i % 4 == 0,
                       i);
      g_ptr_array_add (paths, path);
      items[i].path = path;
      items[i].sample_key = path;
      items[i].view = 0;
    }
  return items;
}

/* Pictures per second for one pass of the pool over every picture. */
static double
measure (GraftDecodePool *pool, const GraftDecodeSpec *spec,
         const GraftDecodeItem *items, float *out)
{
  gint64 start = g_get_monotonic_time ();

  g_assert_true (graft_decode_pool_tensors (pool, spec, items, N_PICTURES,
                                            out, NULL, NULL, NULL));
  return N_PICTURES / ((g_get_monotonic_time () - start)
                       / (double) G_USEC_PER_SEC);
}

/* The speed-up is only meaningful on an otherwise idle machine: say how
 * busy it was. */
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
  g_autofree char *dir = g_dir_make_tmp ("graft-bench-XXXXXX", NULL);
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autofree GraftDecodeItem *items = make_pictures (dir, paths);
  g_autofree float *out = g_new (float, (gsize) N_PICTURES * 3 * INPUT_SIZE
                                 * INPUT_SIZE);
  guint cores = g_get_num_processors ();
  GfPreprocess pre;
  GraftDecodeSpec spec = { &pre, NULL, 0, (gint64) 50 * 1000 * 1000 };
  g_autoptr (GraftDecodePool) serial = graft_decode_pool_new (1);
  g_autoptr (GraftDecodePool) parallel = graft_decode_pool_new (cores);
  double one = 0, pool = 0;

  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, INPUT_SIZE,
                        INPUT_SIZE);
  measure (parallel, &spec, items, out);   /* warm: page cache, buffers */
  for (int round = 0; round < ROUNDS; round++)
    {
      one = MAX (one, measure (serial, &spec, items, out));
      pool = MAX (pool, measure (parallel, &spec, items, out));
    }
  printf ("decode %d PNGs (%d×%d, to %d×%d tensors)\n", N_PICTURES,
          PICTURE_SIZE, PICTURE_SIZE, INPUT_SIZE, INPUT_SIZE);
  printf ("  1 thread:   %8.0f pictures/s\n", one);
  printf ("  %u threads: %8.0f pictures/s  (speed-up %.2f×)\n", cores, pool,
          pool / one);
  print_load ();
  graft_test_rm_rf (dir);
  return 0;
}
