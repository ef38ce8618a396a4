/* gf-conv-pointwise.h: a register-blocked forward kernel for 1×1,
 * stride-1, unpadded convolutions (MobileNetV2's expansions and
 * projections), y = act(b + W·x) per image, on AVX-512.
 *
 * The GEMM it replaces (OpenBLAS' sgemm on x as it lies) first clears
 * its output (sgemm_beta: 8–10% of a MobileNetV2 forward pass), packs
 * both operands (8% more), and leaves the bias and the activation to a
 * second pass; with K as short as 16 or 24 those passes cost more than
 * the product.  Here each tile of 8 output channels × 48 columns is
 * summed in 24 registers straight from x and W, gets its bias and its
 * activation (Relu and Clip in registers, any other over the stored
 * tile) and is stored once.  Every output is summed by one thread in
 * the order of K, so results are identical at any thread count
 * (internal to the engine; gf-conv.c chooses it).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gf-conv.h"

/* The kernel exists in float builds for x86-64 (GCC or Clang); elsewhere
 * gf_conv_pointwise_applies is always false. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(GF_REAL_DOUBLE)
#define GF_CONV_POINTWISE_KERNEL 1
#endif

/* True when the kernel computes the convolution: a 1×1 kernel at stride
 * 1 without padding, one group, float, and a CPU with AVX-512. */
bool gf_conv_pointwise_applies (const GfConv2d *conv);

#ifdef GF_CONV_POINTWISE_KERNEL
/* x (N, C, H, W); w (M, C, 1, 1); b (M) or NULL; y (N, M, H, W) is
 * written, conv->activation applied.  No workspace. */
void gf_conv_pointwise_forward (const GfConv2d *conv,
                                const gf_real *x, const gf_real *w,
                                const gf_real *b, gf_real *y);

/* Output channels [@m0, @m1) of one image: x (C, H, W) → y (m1 − m0, H,
 * W), bias and conv->activation applied, on the calling thread. */
void gf_conv_pointwise_channels (const GfConv2d *conv, const gf_real *x,
                                 const gf_real *w, const gf_real *b,
                                 size_t m0, size_t m1, gf_real *y);
#endif
