/* gf-softmax.h: softmax along the last axis of (N, K), as ONNX Softmax
 * (opset 13, axis −1) and torch.softmax(x, dim=−1) compute it.
 *
 * y_ij = exp(x_ij − m_i) / Σ_j exp(x_ij − m_i) with m_i the row's
 * maximum, so that no exponent is positive: any finite logits give finite
 * probabilities.  A NaN anywhere in a row makes the whole row NaN.
 * Row sums run in double whatever gf_real is.
 */
#pragma once

#include <stddef.h>

#include "../gf-real.h"

/* x, y (N, K), K >= 1; y may alias x. */
void gf_softmax_forward (size_t n, size_t k, const gf_real *x, gf_real *y);

/* y (N, K) from forward, dy (N, K); dx (N, K) is WRITTEN:
 * dx_ij = y_ij · (dy_ij − Σ_l dy_il · y_il).  dx may alias dy. */
void gf_softmax_backward (size_t n, size_t k, const gf_real *y,
                          const gf_real *dy, gf_real *dx);
