/* gf-dropout.c: inverted dropout (see gf-dropout.h). */
#include "gf-dropout.h"

#include <stdint.h>
#include <string.h>

/* gf_rng_u32 is uniform on [0, 2^32). */
#define U32_RANGE 4294967296.0

/* The draw at or above which an element is kept: P(keep) = 1 − ratio to
 * within 2^-32, from one 32-bit draw per element.  ratio >= 1 keeps
 * nothing, the limit of the formula. */
static uint64_t
keep_threshold (double ratio)
{
  if (ratio >= 1.0)
    return (uint64_t) 1 << 32;
  return (uint64_t) (ratio * U32_RANGE);
}

/* ratio <= 0 (or NaN) draws nothing from @rng and copies x, with a mask
 * of ones so that backward stays the identity. */
void
gf_dropout_forward (size_t n, double ratio, GfRng *rng,
                    const gf_real *x, gf_real *y, gf_real *mask)
{
  uint64_t threshold;
  gf_real keep;

  if (!(ratio > 0.0))
    {
      if (y != x)
        memmove (y, x, n * sizeof *y);
      for (size_t i = 0; i < n; i++)
        mask[i] = 1;
      return;
    }
  threshold = keep_threshold (ratio);
  keep = ratio < 1.0 ? (gf_real) (1.0 / (1.0 - ratio)) : 0;
  for (size_t i = 0; i < n; i++)
    {
      gf_real m = gf_rng_u32 (rng) >= threshold ? keep : 0;

      mask[i] = m;
      y[i] = x[i] * m;
    }
}

void
gf_dropout_backward (size_t n, const gf_real *mask,
                     const gf_real *dy, gf_real *dx)
{
  for (size_t i = 0; i < n; i++)
    dx[i] = dy[i] * mask[i];
}
