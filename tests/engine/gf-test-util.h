/* gf-test-util.h: what every engine test shares: random fills, array
 * comparison, and the finite-difference gradient check.
 *
 * Each op test is compiled twice (see meson.build): against the float32
 * engine, with tolerances that float rounding allows, and against the
 * float64 build of the same kernels (GF_REAL_DOUBLE), where central
 * differences are accurate to ~1e-9 and the tolerances are tight.  A
 * backward that is wrong in any element fails the float64 run by orders of
 * magnitude.
 */
#pragma once

#include <glib.h>

#include "gf-graph.h"
#include "gf-real.h"
#include "gf-rng.h"

typedef struct
{
  double eps;    /* the central-difference step */
  double rtol;   /* allowed |analytic − numeric| relative to their size */
  double atol;   /* ... plus this absolute slack */
} GfTolerance;

/* The defaults for this build's precision. */
const GfTolerance *gf_test_tolerance (void);

void   gf_test_fill_uniform (GfRng *rng, gf_real *x, size_t n,
                             double lo, double hi);
/* Uniform in ±[margin, hi]: keeps values away from a kink at 0. */
void   gf_test_fill_away_from_zero (GfRng *rng, gf_real *x, size_t n,
                                    double margin, double hi);
double gf_test_dot (const gf_real *a, const gf_real *b, size_t n);

/* Fails the test (g_test_fail_printf) naming @what and the worst element
 * when |got − want| > atol + rtol · max(|got|, |want|) anywhere. */
void   gf_test_assert_close (const char *what,
                             const gf_real *got, const gf_real *want,
                             size_t n, double rtol, double atol);
/* max |x[i]| over the n elements, 0 for none. */
double gf_test_max_abs (const gf_real *x, size_t n);
/* The normwise bound: |got − want| ≤ @tol · max |want| everywhere. */
void   gf_test_assert_normwise (const char *what, const gf_real *got,
                                const gf_real *want, size_t n, double tol);

/* Runs the op forward on the current inputs and returns the scalar loss,
 * normally Σ r·y for a fixed random projection r (so that dL/dy = r). */
typedef double (*GfTestLossFunc) (void *user_data);

/* Compares @analytic, the backward pass's dL/dx for the @n values at @x,
 * with central differences of @loss, perturbing x in place (restored
 * afterwards).  Checks every element for n <= 600, else an evenly spread
 * 600.  @tol may be NULL for the defaults. */
void   gf_test_gradcheck (const char *what,
                          gf_real *x, size_t n, const gf_real *analytic,
                          GfTestLossFunc loss, void *user_data,
                          const GfTolerance *tol);

/* Adds a node named @name (its output named alike) reading the @n
 * tensors @inputs; a refusal ends the test with the engine's message. */
int gf_test_add_node (GfGraph *graph, const char *name, GfNodeDesc desc,
                      size_t n, const int *inputs);

/* g_new0 of n gf_real, for brevity in tests. */
gf_real *gf_test_new (size_t n);

/* ---- The same results at any thread count ---- */

#define GF_TEST_MAX_RESULTS 8

/* One run's result buffers, compared one by one. */
typedef struct
{
  size_t n;
  const char *name[GF_TEST_MAX_RESULTS];
  gf_real *data[GF_TEST_MAX_RESULTS];
  size_t count[GF_TEST_MAX_RESULTS];
} GfTestResults;

typedef void (*GfTestRunFunc) (gconstpointer data, GfTestResults *r);

/* A new zeroed result buffer of @count values named @name. */
gf_real *gf_test_results_add (GfTestResults *r, const char *name,
                              size_t count);
void     gf_test_results_clear (GfTestResults *r);

/* Runs @run with 1 engine thread, then 2 … @max_threads, and fails the
 * test where a result differs from the 1-thread one in any byte. */
void     gf_test_check_threads (gconstpointer data, GfTestRunFunc run,
                                int max_threads);
