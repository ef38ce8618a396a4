/* gf-transpose.h: permuting the axes of a tensor (ONNX Transpose) of up to
 * GF_TRANSPOSE_MAX_DIMS dimensions.
 *
 * Axis i of y is axis perm[i] of x: y[..., j_i, ...] = x[..., i_perm[i], ...]
 * with dims_y[i] = dims[perm[i]].  Axes of size 1 and runs of axes that
 * stay adjacent are merged first, so NCHW → NHWC (perm 0 2 3 1) runs as N
 * transposes of a (C, H·W) matrix and NHWC → NCHW (0 3 1 2) as N of an
 * (H·W, C) one, both in cache-sized tiles; a permutation that keeps the
 * innermost axis copies contiguous runs.
 */
#pragma once

#include <stddef.h>

#include "../gf-real.h"
#include "../gf-status.h"

#define GF_TRANSPOSE_MAX_DIMS 6

typedef struct
{
  size_t ndim;                          /* 1 .. GF_TRANSPOSE_MAX_DIMS */
  size_t dims[GF_TRANSPOSE_MAX_DIMS];   /* of x, the batch included */
  size_t perm[GF_TRANSPOSE_MAX_DIMS];   /* axis i of y is axis perm[i] of x */
} GfTranspose;

/* Fails with GF_ERR_INVALID unless 1 <= ndim <= GF_TRANSPOSE_MAX_DIMS and
 * perm[0 .. ndim) is a permutation of 0 .. ndim − 1. */
GfStatus gf_transpose_check (const GfTranspose *t, GfError *error);

/* dims_y (ndim) receives dims[perm[i]]; @t must have passed the check. */
void gf_transpose_out_dims (const GfTranspose *t, size_t *dims_y);

/* x (dims); y (dims_y) is written.  y may not alias x.  A descriptor
 * that fails the check writes nothing. */
void gf_transpose_forward (const GfTranspose *t, const gf_real *x,
                           gf_real *y);

/* dy (dims_y); dx (dims) is WRITTEN: the inverse permutation of dy.
 * dx may not alias dy. */
void gf_transpose_backward (const GfTranspose *t, const gf_real *dy,
                            gf_real *dx);
