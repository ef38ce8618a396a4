/* gf-pool.h: MaxPool, AveragePool and GlobalAveragePool, NCHW.
 *
 * Output size follows ONNX/PyTorch: floor or ceil of
 * (in + pads − ((k − 1)·dilation + 1)) / stride + 1, and with ceil_mode a
 * last window that would start entirely in the right/bottom padding is
 * dropped.  Average pooling divides by the window clipped to the input
 * (count_include_pad = false) or clipped to the padded input
 * (count_include_pad = true), as PyTorch does.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "../gf-real.h"
#include "../gf-status.h"

typedef struct
{
  /* Set by the caller. */
  size_t batch, channels, in_h, in_w;
  size_t kernel_h, kernel_w;
  size_t stride_h, stride_w;
  size_t dilation_h, dilation_w;   /* MaxPool only; 1 for AveragePool */
  size_t pad_top, pad_left, pad_bottom, pad_right;
  bool ceil_mode;
  bool count_include_pad;          /* AveragePool only */
  /* Set by gf_pool2d_init. */
  size_t out_h, out_w;
} GfPool2d;

/* Validates (non-zero kernel/stride/dilation, padding smaller than the
 * kernel, a non-empty output, a window spanning at most 2^31 input
 * values) and computes out_h, out_w. */
GfStatus gf_pool2d_init (GfPool2d *pool, GfError *error);

/* x (N, C, H, W); y (N, C, OH, OW). */
void gf_maxpool2d_forward (const GfPool2d *pool, const gf_real *x, gf_real *y);
/* The gradient goes to the first maximum of each window (recomputed from
 * x), as PyTorch does.  dx WRITTEN. */
void gf_maxpool2d_backward (const GfPool2d *pool, const gf_real *x,
                            const gf_real *dy, gf_real *dx);

void gf_avgpool2d_forward (const GfPool2d *pool, const gf_real *x, gf_real *y);
/* dx WRITTEN. */
void gf_avgpool2d_backward (const GfPool2d *pool, const gf_real *dy,
                            gf_real *dx);

/* x (N, C, S) → y (N, C); backward spreads dy/S; dx WRITTEN. */
void gf_global_avgpool_forward (size_t batch, size_t channels, size_t spatial,
                                const gf_real *x, gf_real *y);
void gf_global_avgpool_backward (size_t batch, size_t channels,
                                 size_t spatial,
                                 const gf_real *dy, gf_real *dx);
