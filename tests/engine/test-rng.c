/* test-rng.c: the seeded generator is reproducible and well spread. */
#include <math.h>

#include "gf-rng.h"
#include "gf-test-util.h"

static void
test_rng_reproducible (void)
{
  GfRng a, b, c;

  gf_rng_seed (&a, 42);
  gf_rng_seed (&b, 42);
  gf_rng_seed (&c, 43);
  for (int i = 0; i < 1000; i++)
    {
      uint32_t x = gf_rng_u32 (&a);
      g_assert_cmpuint (x, ==, gf_rng_u32 (&b));
      if (i == 0)
        g_assert_cmpuint (x, !=, gf_rng_u32 (&c));
    }
}

static void
test_rng_uniform_moments (void)
{
  GfRng rng;
  const int n = 200000;
  double sum = 0.0, sum_sq = 0.0;

  gf_rng_seed (&rng, 7);
  for (int i = 0; i < n; i++)
    {
      double u = gf_rng_uniform (&rng);
      g_assert_cmpfloat (u, >=, 0.0);
      g_assert_cmpfloat (u, <, 1.0);
      sum += u;
      sum_sq += u * u;
    }
  /* Mean 1/2 and variance 1/12, within a few standard errors. */
  g_assert_cmpfloat_with_epsilon (sum / n, 0.5, 0.005);
  g_assert_cmpfloat_with_epsilon (sum_sq / n - (sum / n) * (sum / n),
                                  1.0 / 12.0, 0.002);
}

static void
test_rng_normal_moments (void)
{
  GfRng rng;
  const int n = 200000;
  double sum = 0.0, sum_sq = 0.0;

  gf_rng_seed (&rng, 11);
  for (int i = 0; i < n; i++)
    {
      double z = gf_rng_normal (&rng);
      g_assert_true (isfinite (z));
      sum += z;
      sum_sq += z * z;
    }
  g_assert_cmpfloat_with_epsilon (sum / n, 0.0, 0.01);
  g_assert_cmpfloat_with_epsilon (sum_sq / n, 1.0, 0.02);
}

static void
test_rng_below_covers_range (void)
{
  GfRng rng;
  int counts[7] = { 0 };

  gf_rng_seed (&rng, 3);
  for (int i = 0; i < 70000; i++)
    {
      uint32_t r = gf_rng_below (&rng, 7);
      g_assert_cmpuint (r, <, 7);
      counts[r]++;
    }
  for (int i = 0; i < 7; i++)
    g_assert_cmpint (abs (counts[i] - 10000), <, 500);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/rng/reproducible", test_rng_reproducible);
  g_test_add_func ("/engine/rng/uniform-moments", test_rng_uniform_moments);
  g_test_add_func ("/engine/rng/normal-moments", test_rng_normal_moments);
  g_test_add_func ("/engine/rng/below-covers-range",
                   test_rng_below_covers_range);
  return g_test_run ();
}
