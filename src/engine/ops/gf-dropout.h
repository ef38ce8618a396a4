/* gf-dropout.h: inverted dropout.  In training each element is kept with
 * probability 1 − ratio and scaled by 1/(1 − ratio), so inference is the
 * identity.  The mask comes from the caller's GfRng: the same seed gives
 * the same mask. */
#pragma once

#include <stddef.h>

#include "../gf-real.h"
#include "../gf-rng.h"

/* x, y (n); mask (n) receives 0 or 1/(1 − ratio) for backward.
 * 0 <= ratio < 1; ratio 0 copies x. */
void gf_dropout_forward (size_t n, double ratio, GfRng *rng,
                         const gf_real *x, gf_real *y, gf_real *mask);

/* dx = dy · mask, WRITTEN; dx may alias dy. */
void gf_dropout_backward (size_t n, const gf_real *mask,
                          const gf_real *dy, gf_real *dx);
