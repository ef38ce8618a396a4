/* test-softmax.c: softmax along the last axis against a long-double
 * reference and closed forms, exact shift invariance, extreme logits that
 * must stay finite, NaN confined to its row, backward by central
 * differences and by its invariants, and in-place use. */
#include <float.h>
#include <math.h>

#include "ops/gf-softmax.h"
#include "gf-test-util.h"

/* The kernel rounds x − max to gf_real: an exponent of ~10 carries an
 * absolute error of a few ulps of 10, which becomes the relative error
 * of y. */
#ifdef GF_REAL_DOUBLE
#define VALUE_RTOL 1e-13
#define VALUE_ATOL 1e-300
#else
#define VALUE_RTOL 1e-5
#define VALUE_ATOL 1e-30
#endif
/* Logits are multiples of this, so adding SHIFT to them is exact. */
#define GRID 0.125
#define SHIFT 512.0

typedef struct
{
  const char *name;
  size_t n, k;
} SoftmaxCase;

static const SoftmaxCase softmax_cases[] = {
  { "1x1", 1, 1 },
  { "2x2", 2, 2 },
  { "3x5", 3, 5 },
  { "4x10", 4, 10 },
  { "2x33", 2, 33 },
  { "2x1000", 2, 1000 },
};

static void
softmax_reference (size_t n, size_t k, const gf_real *x, gf_real *y)
{
  for (size_t i = 0; i < n; i++)
    {
      const gf_real *row = x + i * k;
      long double max = row[0], sum = 0.0L;

      for (size_t j = 1; j < k; j++)
        max = fmaxl (max, row[j]);
      for (size_t j = 0; j < k; j++)
        sum += expl ((long double) row[j] - max);
      for (size_t j = 0; j < k; j++)
        y[i * k + j] = (gf_real) (expl ((long double) row[j] - max) / sum);
    }
}

static void
test_forward_reference (gconstpointer data)
{
  const SoftmaxCase *c = data;
  size_t count = c->n * c->k;
  g_autofree gf_real *x = gf_test_new (count);
  g_autofree gf_real *y = gf_test_new (count);
  g_autofree gf_real *want = gf_test_new (count);
  GfRng rng;

  gf_rng_seed (&rng, 31);
  gf_test_fill_uniform (&rng, x, count, -8, 8);
  gf_softmax_forward (c->n, c->k, x, y);
  softmax_reference (c->n, c->k, x, want);
  gf_test_assert_close (c->name, y, want, count, VALUE_RTOL, VALUE_ATOL);
}

/* softmax(x + c) == softmax(x) bit for bit when x + c is exact. */
static void
test_forward_shift (gconstpointer data)
{
  const SoftmaxCase *c = data;
  size_t count = c->n * c->k;
  g_autofree gf_real *x = gf_test_new (count);
  g_autofree gf_real *y = gf_test_new (count);
  g_autofree gf_real *shifted = gf_test_new (count);
  GfRng rng;

  gf_rng_seed (&rng, 37);
  for (size_t i = 0; i < count; i++)
    x[i] = (gf_real) (GRID * (double) (gf_rng_u32 (&rng) % 161) - 10.0);
  gf_softmax_forward (c->n, c->k, x, y);
  for (size_t i = 0; i < count; i++)
    x[i] += (gf_real) SHIFT;
  gf_softmax_forward (c->n, c->k, x, shifted);
  gf_test_assert_close (c->name, shifted, y, count, 0, 0);
}

static void
test_forward_closed_forms (void)
{
  const gf_real x[] = {
    3, 3, 3, 3,                             /* uniform: 1/4 each */
    0, (gf_real) log (2.0), (gf_real) log (3.0), (gf_real) log (6.0) - 50,
    1.5, -0.5, 0, 0,
  };
  const double e2 = exp (2.0);
  const gf_real want[] = {
    0.25, 0.25, 0.25, 0.25,
    1.0 / 6, 2.0 / 6, 3.0 / 6, (gf_real) exp (-50.0),
    /* exp(x_j) / Σ exp, numerator and denominator scaled by e^0.5 */
    (gf_real) (e2 / (e2 + 1 + 2 * exp (0.5))),
    (gf_real) (1 / (e2 + 1 + 2 * exp (0.5))),
    (gf_real) (exp (0.5) / (e2 + 1 + 2 * exp (0.5))),
    (gf_real) (exp (0.5) / (e2 + 1 + 2 * exp (0.5))),
  };
  gf_real y[G_N_ELEMENTS (x)];

  gf_softmax_forward (3, 4, x, y);
  /* The second row's exact sum, 6 + 6e⁻⁵⁰, is 6 to every precision. */
  gf_test_assert_close ("closed forms", y, want, G_N_ELEMENTS (x),
                        VALUE_RTOL, 1e-20);
}

/* Finite logits of any size give finite probabilities in [0, 1] that sum
 * to 1, and a finite gradient. */
static void
test_forward_extremes (void)
{
  enum { K = 3 };
  const gf_real big = (gf_real) FLT_MAX;
  const gf_real x[][K] = {
    { 1e30f, -1e30f, 0 }, { -1e30f, -1e30f, -1e30f }, { 88.8f, -88.8f, 0 },
    { 1000, 999, -1000 }, { big, -big, 0 }, { -big, -big, big },
    { -1000, -1000.5f, -2000 },
  };
  const size_t n = G_N_ELEMENTS (x);
  gf_real y[G_N_ELEMENTS (x)][K], dy[G_N_ELEMENTS (x)][K];
  gf_real dx[G_N_ELEMENTS (x)][K];

  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < K; j++)
      dy[i][j] = (gf_real) (j + 1);
  gf_softmax_forward (n, K, &x[0][0], &y[0][0]);
  gf_softmax_backward (n, K, &y[0][0], &dy[0][0], &dx[0][0]);
  for (size_t i = 0; i < n; i++)
    {
      double sum = 0.0;
      for (size_t j = 0; j < K; j++)
        {
          g_assert_true (isfinite (y[i][j]) && isfinite (dx[i][j]));
          g_assert_cmpfloat (y[i][j], >=, 0);
          g_assert_cmpfloat (y[i][j], <=, 1);
          sum += y[i][j];
        }
      g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-6);
    }
  g_assert_cmpfloat (y[0][0], ==, 1);
  g_assert_cmpfloat_with_epsilon (y[1][0], 1.0 / 3, 1e-6);
  g_assert_cmpfloat (y[4][0], ==, 1);
  g_assert_cmpfloat (y[5][2], ==, 1);
  /* 1000 against 999: σ(1) = 0.7310585786. */
  g_assert_cmpfloat_with_epsilon (y[3][0], 0.7310585786300049, 1e-6);
}

/* A NaN poisons its own row only, so the trainer sees it. */
static void
test_forward_nan (void)
{
  const gf_real x[] = { 1, (gf_real) NAN, 2, 1, 2, 3, (gf_real) NAN, 0, 0 };
  gf_real y[G_N_ELEMENTS (x)];

  gf_softmax_forward (3, 3, x, y);
  for (size_t j = 0; j < 3; j++)
    {
      g_assert_true (isnan (y[j]));
      g_assert_true (isfinite (y[3 + j]));
      g_assert_true (isnan (y[6 + j]));
    }
}

typedef struct
{
  size_t n, k;
  gf_real *x, *y, *r;
} SoftmaxLoss;

static double
softmax_loss (void *user_data)
{
  SoftmaxLoss *l = user_data;

  gf_softmax_forward (l->n, l->k, l->x, l->y);
  return gf_test_dot (l->r, l->y, l->n * l->k);
}

static void
test_backward_gradcheck (gconstpointer data)
{
  const SoftmaxCase *c = data;
  size_t count = c->n * c->k;
  g_autofree gf_real *x = gf_test_new (count);
  g_autofree gf_real *y = gf_test_new (count);
  g_autofree gf_real *r = gf_test_new (count);
  g_autofree gf_real *dx = gf_test_new (count);
  SoftmaxLoss loss = { c->n, c->k, x, y, r };
  GfRng rng;

  gf_rng_seed (&rng, 41);
  gf_test_fill_uniform (&rng, x, count, -3, 3);
  gf_test_fill_uniform (&rng, r, count, -1, 1);
  gf_softmax_forward (c->n, c->k, x, y);
  gf_softmax_backward (c->n, c->k, y, r, dx);
  gf_test_gradcheck (c->name, x, count, dx, softmax_loss, &loss, NULL);
}

/* Each row of dx sums to 0 (the outputs sum to 1 whatever x is), and a
 * dy constant along a row gives dx = 0 (adding it to the loss adds a
 * constant). */
static void
test_backward_invariants (gconstpointer data)
{
  const SoftmaxCase *c = data;
  size_t count = c->n * c->k;
  g_autofree gf_real *x = gf_test_new (count);
  g_autofree gf_real *y = gf_test_new (count);
  g_autofree gf_real *dy = gf_test_new (count);
  g_autofree gf_real *dx = gf_test_new (count);
  GfRng rng;

  gf_rng_seed (&rng, 43);
  gf_test_fill_uniform (&rng, x, count, -4, 4);
  gf_test_fill_uniform (&rng, dy, count, -1, 1);
  gf_softmax_forward (c->n, c->k, x, y);
  gf_softmax_backward (c->n, c->k, y, dy, dx);
  for (size_t i = 0; i < c->n; i++)
    {
      double sum = 0.0, scale = 0.0;
      for (size_t j = 0; j < c->k; j++)
        {
          sum += dx[i * c->k + j];
          scale += fabs ((double) dy[i * c->k + j]);
        }
      g_assert_cmpfloat (fabs (sum), <=, 1e-5 * scale + 1e-12);
    }
  for (size_t i = 0; i < count; i++)
    dy[i] = (gf_real) (0.5 + (double) (i / c->k));
  gf_softmax_backward (c->n, c->k, y, dy, dx);
  for (size_t i = 0; i < count; i++)
    g_assert_cmpfloat (fabs (dx[i]), <=, 1e-6);
}

static void
test_in_place (gconstpointer data)
{
  const SoftmaxCase *c = data;
  size_t count = c->n * c->k;
  g_autofree gf_real *x = gf_test_new (count);
  g_autofree gf_real *y = gf_test_new (count);
  g_autofree gf_real *dy = gf_test_new (count);
  g_autofree gf_real *dx = gf_test_new (count);
  GfRng rng;

  gf_rng_seed (&rng, 47);
  gf_test_fill_uniform (&rng, x, count, -4, 4);
  gf_test_fill_uniform (&rng, dy, count, -1, 1);
  gf_softmax_forward (c->n, c->k, x, y);
  gf_softmax_forward (c->n, c->k, x, x);
  gf_test_assert_close ("forward", x, y, count, 0, 0);
  gf_softmax_backward (c->n, c->k, y, dy, dx);
  gf_softmax_backward (c->n, c->k, y, dy, dy);
  gf_test_assert_close ("backward", dy, dx, count, 0, 0);
}

static void
add_case_tests (const SoftmaxCase *c)
{
  static const struct
  {
    const char *suffix;
    GTestDataFunc func;
  } kinds[] = {
    { "forward/reference", test_forward_reference },
    { "forward/shift", test_forward_shift },
    { "backward/gradcheck", test_backward_gradcheck },
    { "backward/invariants", test_backward_invariants },
    { "in-place", test_in_place },
  };

  for (size_t k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/softmax/%s/%s",
                                               kinds[k].suffix, c->name);
      g_test_add_data_func (path, c, kinds[k].func);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (softmax_cases); i++)
    add_case_tests (&softmax_cases[i]);
  g_test_add_func ("/engine/softmax/forward/closed-forms",
                   test_forward_closed_forms);
  g_test_add_func ("/engine/softmax/forward/extremes", test_forward_extremes);
  g_test_add_func ("/engine/softmax/forward/nan", test_forward_nan);
  return g_test_run ();
}
