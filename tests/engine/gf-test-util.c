/* gf-test-util.c: shared helpers for the engine tests. */
#include "gf-test-util.h"

#include <math.h>
#include <string.h>

#include "gf-engine.h"

#define GRADCHECK_MAX_ELEMENTS 600

static const GfTolerance default_tolerance = {
#ifdef GF_REAL_DOUBLE
  .eps = 1e-6, .rtol = 1e-6, .atol = 1e-8,
#else
  /* float32 forward passes carry ~1e-7 relative noise; a step of 1e-2
   * keeps the difference quotient's noise near 1e-4 at O(eps²) bias. */
  .eps = 1e-2, .rtol = 2e-2, .atol = 2e-3,
#endif
};

const GfTolerance *
gf_test_tolerance (void)
{
  return &default_tolerance;
}

void
gf_test_fill_uniform (GfRng *rng, gf_real *x, size_t n, double lo, double hi)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (gf_real) (lo + (hi - lo) * gf_rng_uniform (rng));
}

void
gf_test_fill_away_from_zero (GfRng *rng, gf_real *x, size_t n,
                             double margin, double hi)
{
  for (size_t i = 0; i < n; i++)
    {
      double magnitude = margin + (hi - margin) * gf_rng_uniform (rng);
      x[i] = (gf_real) (gf_rng_u32 (rng) & 1 ? magnitude : -magnitude);
    }
}

double
gf_test_dot (const gf_real *a, const gf_real *b, size_t n)
{
  double sum = 0.0;

  for (size_t i = 0; i < n; i++)
    sum += (double) a[i] * (double) b[i];
  return sum;
}

double
gf_test_max_abs (const gf_real *x, size_t n)
{
  double m = 0;

  for (size_t i = 0; i < n; i++)
    m = fmax (m, fabs ((double) x[i]));
  return m;
}

void
gf_test_assert_normwise (const char *what, const gf_real *got,
                         const gf_real *want, size_t n, double tol)
{
  gf_test_assert_close (what, got, want, n, 0,
                        tol * fmax (gf_test_max_abs (want, n), 1e-30));
}

void
gf_test_assert_close (const char *what, const gf_real *got,
                      const gf_real *want, size_t n, double rtol, double atol)
{
  size_t worst = 0;
  double worst_excess = 0.0;
  size_t bad = 0;

  for (size_t i = 0; i < n; i++)
    {
      double g = got[i], w = want[i];
      double allowed = atol + rtol * fmax (fabs (g), fabs (w));
      double excess = fabs (g - w) - allowed;

      if (!(excess <= 0.0))   /* also catches NaN */
        {
          if (bad == 0 || excess > worst_excess || isnan (excess))
            {
              worst = i;
              worst_excess = excess;
            }
          bad++;
        }
    }
  if (bad > 0)
    g_test_fail_printf ("%s: %zu of %zu elements differ; worst [%zu] got %.9g "
                        "want %.9g (rtol %g, atol %g)",
                        what, bad, n, worst, (double) got[worst],
                        (double) want[worst], rtol, atol);
}

void
gf_test_gradcheck (const char *what, gf_real *x, size_t n,
                   const gf_real *analytic, GfTestLossFunc loss,
                   void *user_data, const GfTolerance *tol)
{
  size_t checks = MIN (n, (size_t) GRADCHECK_MAX_ELEMENTS);
  g_autofree gf_real *numeric = gf_test_new (checks);
  g_autofree gf_real *expected = gf_test_new (checks);

  if (tol == NULL)
    tol = gf_test_tolerance ();

  for (size_t c = 0; c < checks; c++)
    {
      size_t i = checks == n ? c : c * n / checks;
      gf_real saved = x[i];
      double plus, minus;

      x[i] = (gf_real) (saved + tol->eps);
      plus = loss (user_data);
      x[i] = (gf_real) (saved - tol->eps);
      minus = loss (user_data);
      x[i] = saved;
      /* Divide by the step actually taken after rounding to gf_real. */
      numeric[c] = (gf_real) ((plus - minus)
                              / ((double) (gf_real) (saved + tol->eps)
                                 - (double) (gf_real) (saved - tol->eps)));
      expected[c] = analytic[i];
    }
  gf_test_assert_close (what, expected, numeric, checks, tol->rtol, tol->atol);
}

int
gf_test_add_node (GfGraph *graph, const char *name, GfNodeDesc desc,
                  size_t n, const int *inputs)
{
  GfError error = { 0 };
  int out;

  desc.n_inputs = n;
  memcpy (desc.inputs, inputs, n * sizeof *inputs);
  out = gf_graph_add_node (graph, name, &desc, name, &error);
  if (out < 0)
    g_error ("%s", error.message);
  return out;
}

gf_real *
gf_test_new (size_t n)
{
  return g_new0 (gf_real, MAX (n, 1));
}

gf_real *
gf_test_results_add (GfTestResults *r, const char *name, size_t count)
{
  g_assert_cmpuint (r->n, <, GF_TEST_MAX_RESULTS);
  r->name[r->n] = name;
  r->count[r->n] = count;
  r->data[r->n] = gf_test_new (count);
  return r->data[r->n++];
}

void
gf_test_results_clear (GfTestResults *r)
{
  for (size_t i = 0; i < r->n; i++)
    g_free (r->data[i]);
  r->n = 0;
}

void
gf_test_check_threads (gconstpointer data, GfTestRunFunc run,
                       int max_threads)
{
  GfTestResults one = { 0 }, many = { 0 };

  gf_engine_set_threads (1);
  run (data, &one);
  for (int threads = 2; threads <= max_threads; threads++)
    {
      gf_engine_set_threads (threads);
      run (data, &many);
      g_assert_cmpuint (many.n, ==, one.n);
      for (size_t i = 0; i < one.n; i++)
        if (memcmp (many.data[i], one.data[i],
                    one.count[i] * sizeof *one.data[i]) != 0)
          g_test_fail_printf ("%s at %d threads differs from 1 thread",
                              one.name[i], threads);
      gf_test_results_clear (&many);
    }
  gf_engine_set_threads (0);
  gf_test_results_clear (&one);
}
