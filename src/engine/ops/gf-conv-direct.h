/* gf-conv-direct.h: a direct forward kernel for the convolutions with few
 * taps in all (input channels × kernel area), the first layer of an image
 * network: ResNet's 7×7 stride-2 stem on 3 channels (147 taps), VGG's and
 * MobileNetV2's 3×3 on 3 (27).  im2col and a GEMM with so short an inner
 * dimension ran at 15 (VGG19, 150 px) to 65 (ResNet-18) GFLOP/s a core:
 * the column matrix, as large as the output times the taps, is written
 * and packed again for a product that does little with each element.
 * Here each output row of 16 channels is summed in registers straight
 * from a padded copy of the image, split by column parity when the
 * stride is 2 so that a tap's inputs for consecutive outputs lie side by
 * side (internal to the engine; gf-conv.c chooses it).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gf-conv.h"

/* True when the direct kernel computes the convolution: one group,
 * dilation 1, equal strides of 1 or 2, at most GF_CONV_DIRECT_MAX_TAPS
 * taps and outputs at least one vector (16) wide. */
#define GF_CONV_DIRECT_MAX_TAPS 160
bool   gf_conv_direct_applies (const GfConv2d *conv);

/* Scratch in gf_real elements for gf_conv_direct_forward. */
size_t gf_conv_direct_workspace_size (const GfConv2d *conv);

/* x (N, C, H, W); w (M, C, KH, KW); b (M) or NULL; y (N, M, OH, OW) is
 * written, conv->activation applied. */
void   gf_conv_direct_forward (const GfConv2d *conv,
                               const gf_real *x, const gf_real *w,
                               const gf_real *b, gf_real *y,
                               gf_real *workspace);
