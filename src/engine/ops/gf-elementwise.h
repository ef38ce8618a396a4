/* gf-elementwise.h: Add and Mul with NumPy broadcasting, and Concat.
 *
 * Broadcasting works on up to GF_BROADCAST_MAX_DIMS dimensions, aligned
 * from the right as in NumPy/ONNX: a (N,C,H,W) plus b (1,C,1,1) for a bias,
 * or times b (N,C,1,1) for squeeze-and-excitation.
 */
#pragma once

#include <stddef.h>

#include "../gf-real.h"
#include "../gf-status.h"
#include "gf-activation.h"

#define GF_BROADCAST_MAX_DIMS 6

typedef struct
{
  size_t ndim;                          /* of y */
  size_t a[GF_BROADCAST_MAX_DIMS];      /* a's dims, left-padded with 1 */
  size_t b[GF_BROADCAST_MAX_DIMS];
  size_t y[GF_BROADCAST_MAX_DIMS];
  size_t a_count, b_count, y_count;
} GfBroadcast;

/* Fails with GF_ERR_SHAPE when a dimension pair is neither equal nor 1. */
GfStatus gf_broadcast_init (GfBroadcast *bc,
                            size_t ndim_a, const size_t *dims_a,
                            size_t ndim_b, const size_t *dims_b,
                            GfError *error);

/* y = a + b.  Backward: da, db WRITTEN, summed over the dimensions each was
 * broadcast along; either may be NULL, or dy itself, but may not
 * otherwise overlap dy. */
void gf_add_forward (const GfBroadcast *bc,
                     const gf_real *a, const gf_real *b, gf_real *y);
void gf_add_backward (const GfBroadcast *bc, const gf_real *dy,
                      gf_real *da, gf_real *db);
/* y = act (a + b), the activation applied to each block of y as it is
 * written when neither operand is broadcast (a residual Add and the Relu
 * after it, fused), else in a second pass; the values are those of
 * gf_add_forward followed by gf_activation_forward. */
void gf_add_activation_forward (const GfBroadcast *bc, const GfActivation *act,
                                const gf_real *a, const gf_real *b,
                                gf_real *y);

/* y = a · b.  Backward needs a and b; da, db WRITTEN; either may be NULL. */
void gf_mul_forward (const GfBroadcast *bc,
                     const gf_real *a, const gf_real *b, gf_real *y);
void gf_mul_backward (const GfBroadcast *bc,
                      const gf_real *a, const gf_real *b, const gf_real *dy,
                      gf_real *da, gf_real *db);

/* Concat along one axis of tensors that agree elsewhere, seen as
 * (outer, channels_i, inner): for NCHW on channels, outer = N and
 * inner = H·W.  xs[i] is (outer, channels[i], inner); y is
 * (outer, sum channels, inner).  Backward: dxs[i] WRITTEN, NULL skips. */
void gf_concat_forward (size_t outer, size_t inner, size_t count,
                        const size_t *channels,
                        const gf_real *const *xs, gf_real *y);
void gf_concat_backward (size_t outer, size_t inner, size_t count,
                         const size_t *channels,
                         const gf_real *dy, gf_real *const *dxs);
