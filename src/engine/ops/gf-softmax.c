/* gf-softmax.c: softmax along the last axis (see gf-softmax.h).
 *
 * Each row takes three passes over K values: the maximum, the shifted
 * exponentials (written straight into y, summed in double), and the
 * scaling.  <tgmath.h> makes exp() follow gf_real, so the float32 build
 * uses expf and the float64 test build really computes in double.
 */
#include "gf-softmax.h"

#include <tgmath.h>

/* x (K) → y (K); y may alias x: x[j] is read before y[j] is written. */
static void
softmax_row (size_t k, const gf_real *x, gf_real *y)
{
  gf_real max = x[0];
  double sum = 0.0, inverse;

  /* A NaN never wins `>`, but it poisons the exponentials below. */
  for (size_t j = 1; j < k; j++)
    max = x[j] > max ? x[j] : max;
  for (size_t j = 0; j < k; j++)
    {
      y[j] = exp (x[j] - max);
      sum += (double) y[j];
    }
  /* sum >= 1: the maximum contributes exp(0) exactly. */
  inverse = 1.0 / sum;
  for (size_t j = 0; j < k; j++)
    y[j] = (gf_real) ((double) y[j] * inverse);
}

void
gf_softmax_forward (size_t n, size_t k, const gf_real *x, gf_real *y)
{
  if (k == 0)
    return;
  for (size_t i = 0; i < n; i++)
    softmax_row (k, x + i * k, y + i * k);
}

void
gf_softmax_backward (size_t n, size_t k, const gf_real *y, const gf_real *dy,
                     gf_real *dx)
{
  for (size_t i = 0; i < n; i++)
    {
      const gf_real *yr = y + i * k, *dyr = dy + i * k;
      gf_real *dxr = dx + i * k;
      double dot = 0.0;
      gf_real shift;

      for (size_t j = 0; j < k; j++)
        dot += (double) dyr[j] * (double) yr[j];
      shift = (gf_real) dot;
      /* dyr[j] is read before dxr[j] is written, so dx may alias dy. */
      for (size_t j = 0; j < k; j++)
        dxr[j] = yr[j] * (dyr[j] - shift);
    }
}
