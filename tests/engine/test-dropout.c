/* test-dropout.c: inverted dropout is reproducible from its seed, keeps
 * about 1 − ratio of the elements while preserving the mean, and its
 * backward applies the same mask. */
#include <math.h>
#include <string.h>

#include "ops/gf-dropout.h"
#include "gf-test-util.h"

#define SMALL_N 1000
#define STATS_N 200000
/* Statistical checks allow this many standard errors. */
#define STATS_SIGMAS 5.0

static void
test_same_seed_same_mask (void)
{
  g_autofree gf_real *x = gf_test_new (SMALL_N);
  g_autofree gf_real *y1 = gf_test_new (SMALL_N);
  g_autofree gf_real *y2 = gf_test_new (SMALL_N);
  g_autofree gf_real *m1 = gf_test_new (SMALL_N);
  g_autofree gf_real *m2 = gf_test_new (SMALL_N);
  g_autofree gf_real *m3 = gf_test_new (SMALL_N);
  GfRng a, b, c;

  gf_rng_seed (&a, 5);
  gf_test_fill_uniform (&a, x, SMALL_N, -1, 1);
  gf_rng_seed (&a, 42);
  gf_rng_seed (&b, 42);
  gf_rng_seed (&c, 43);
  gf_dropout_forward (SMALL_N, 0.5, &a, x, y1, m1);
  gf_dropout_forward (SMALL_N, 0.5, &b, x, y2, m2);
  gf_dropout_forward (SMALL_N, 0.5, &c, x, y2, m3);
  g_assert_cmpmem (m1, SMALL_N * sizeof *m1, m2, SMALL_N * sizeof *m2);
  g_assert_true (memcmp (m1, m3, SMALL_N * sizeof *m1) != 0);

  /* The generator moves on: the next step draws a fresh mask. */
  gf_dropout_forward (SMALL_N, 0.5, &a, x, y2, m2);
  g_assert_true (memcmp (m1, m2, SMALL_N * sizeof *m1) != 0);
}

/* Over STATS_N elements: every mask value is 0 or 1/(1 − ratio), y is
 * x · mask, the kept fraction is 1 − ratio and the mean of y is that of
 * x, each within STATS_SIGMAS standard errors. */
static void
test_statistics (gconstpointer data)
{
  const double ratio = *(const double *) data;
  const gf_real keep = (gf_real) (1.0 / (1.0 - ratio));
  g_autofree gf_real *x = gf_test_new (STATS_N);
  g_autofree gf_real *y = gf_test_new (STATS_N);
  g_autofree gf_real *mask = gf_test_new (STATS_N);
  double kept = 0.0, shift = 0.0, sigma_kept, sigma_shift;
  GfRng rng;

  gf_rng_seed (&rng, 9);
  gf_test_fill_uniform (&rng, x, STATS_N, 0.5, 1.5);
  gf_dropout_forward (STATS_N, ratio, &rng, x, y, mask);
  for (size_t i = 0; i < STATS_N; i++)
    {
      g_assert_true (mask[i] == 0 || mask[i] == keep);
      g_assert_cmpfloat (y[i], ==, x[i] * mask[i]);
      kept += mask[i] != 0;
      shift += (double) y[i] - (double) x[i];
    }
  kept /= STATS_N;
  shift /= STATS_N;
  /* Bernoulli(1 − r); y − x = x (m − 1) with Var m = r/(1 − r) and
   * E x² = 13/12 for x uniform on [0.5, 1.5]. */
  sigma_kept = sqrt (ratio * (1.0 - ratio) / STATS_N);
  sigma_shift = sqrt (13.0 / 12.0 * ratio / (1.0 - ratio) / STATS_N);
  g_assert_cmpfloat (fabs (kept - (1.0 - ratio)), <,
                     STATS_SIGMAS * sigma_kept);
  g_assert_cmpfloat (fabs (shift), <, STATS_SIGMAS * sigma_shift);
}

static void
test_backward (void)
{
  g_autofree gf_real *x = gf_test_new (SMALL_N);
  g_autofree gf_real *y = gf_test_new (SMALL_N);
  g_autofree gf_real *mask = gf_test_new (SMALL_N);
  g_autofree gf_real *dy = gf_test_new (SMALL_N);
  g_autofree gf_real *dx = gf_test_new (SMALL_N);
  g_autofree gf_real *want = gf_test_new (SMALL_N);
  GfRng rng;

  gf_rng_seed (&rng, 13);
  gf_test_fill_uniform (&rng, x, SMALL_N, -1, 1);
  gf_test_fill_uniform (&rng, dy, SMALL_N, -1, 1);
  gf_dropout_forward (SMALL_N, 0.3, &rng, x, y, mask);
  for (size_t i = 0; i < SMALL_N; i++)
    want[i] = dy[i] * mask[i];
  gf_dropout_backward (SMALL_N, mask, dy, dx);
  gf_test_assert_close ("dx", dx, want, SMALL_N, 0, 0);
  /* In place. */
  gf_dropout_backward (SMALL_N, mask, dy, dy);
  gf_test_assert_close ("dx in place", dy, want, SMALL_N, 0, 0);
}

/* Ratio 0 copies x exactly, leaves a mask of ones so that backward is the
 * identity, and draws nothing from the generator. */
static void
test_ratio_zero (void)
{
  g_autofree gf_real *x = gf_test_new (SMALL_N);
  g_autofree gf_real *y = gf_test_new (SMALL_N);
  g_autofree gf_real *mask = gf_test_new (SMALL_N);
  g_autofree gf_real *dx = gf_test_new (SMALL_N);
  g_autofree gf_real *ones = gf_test_new (SMALL_N);
  GfRng rng, before;

  gf_rng_seed (&rng, 3);
  gf_test_fill_uniform (&rng, x, SMALL_N, -1, 1);
  for (size_t i = 0; i < SMALL_N; i++)
    ones[i] = 1;
  before = rng;
  gf_dropout_forward (SMALL_N, 0.0, &rng, x, y, mask);
  g_assert_cmpmem (y, SMALL_N * sizeof *y, x, SMALL_N * sizeof *x);
  g_assert_cmpmem (mask, SMALL_N * sizeof *mask, ones, SMALL_N * sizeof *ones);
  g_assert_cmpmem (&rng, sizeof rng, &before, sizeof before);
  gf_dropout_backward (SMALL_N, mask, x, dx);
  g_assert_cmpmem (dx, SMALL_N * sizeof *dx, x, SMALL_N * sizeof *x);
}

int
main (int argc, char **argv)
{
  static const double ratios[] = { 0.1, 0.25, 0.5, 0.8, 0.95 };

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/dropout/forward/same-seed-same-mask",
                   test_same_seed_same_mask);
  for (size_t i = 0; i < G_N_ELEMENTS (ratios); i++)
    {
      g_autofree char *path =
        g_strdup_printf ("/engine/dropout/forward/statistics/%g", ratios[i]);
      g_test_add_data_func (path, &ratios[i], test_statistics);
    }
  g_test_add_func ("/engine/dropout/backward/masked", test_backward);
  g_test_add_func ("/engine/dropout/forward/ratio-zero", test_ratio_zero);
  return g_test_run ();
}
