/* gf-conv.h: 2-D convolution (ONNX Conv), NCHW.
 *
 * Fast paths: dense 3×3 stride-1 convolutions on enough channels use
 * Winograd F(4×4, 3×3) for y, dx and dw (gf-winograd.h; dw only on
 * batches of enough tiles); 1×1 stride-1
 * unpadded convolutions are one GEMM per image on the input as it lies
 * (y by a register-blocked kernel on AVX-512, gf-conv-pointwise.h);
 * depthwise convolutions (groups == in == out channels) use a direct
 * loop; so does y of a dense convolution with few taps in all (an image
 * network's first layer, gf-conv-direct.h); everything else is im2col into the planned workspace and one GEMM
 * per group for each image or, on small planes,
 * for a chunk of images at once.  gf_conv2d_forward_reference and
 * gf_conv2d_backward_reference are the naive seven-loop versions the tests
 * compare against.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "../gf-real.h"
#include "../gf-status.h"
#include "gf-activation.h"

/* Which kernel computes y and dx of a dense convolution. */
typedef enum
{
  GF_CONV_ALGO_AUTO = 0,
  GF_CONV_ALGO_GEMM,      /* im2col (or x as it lies) and GEMM */
  GF_CONV_ALGO_WINOGRAD,  /* Winograd F(4×4, 3×3), see gf-winograd.h */
  GF_CONV_ALGO_DIRECT,    /* y only, few taps: see gf-conv-direct.h */
  GF_CONV_ALGO_POINTWISE, /* y only, 1×1: see gf-conv-pointwise.h */
} GfConvAlgo;

typedef struct
{
  /* Set by the caller. */
  size_t batch, in_channels, in_h, in_w;
  size_t out_channels, kernel_h, kernel_w;
  size_t stride_h, stride_w;
  size_t dilation_h, dilation_w;
  size_t pad_top, pad_left, pad_bottom, pad_right;
  size_t groups;
  /* Set by gf_conv2d_init. */
  size_t out_h, out_w;
  /* Optional, set by the caller: at most this many images share one GEMM
   * (1 is one GEMM per image); 0, the default, lets the kernels choose.
   * Tests and benchmarks force it; gf_conv2d_workspace_size follows it. */
  size_t images_per_gemm;
  /* Optional, set by the caller: GF_CONV_ALGO_AUTO (0, the default) lets
   * the kernels choose; tests and benchmarks force one.  Winograd forced
   * on a shape it cannot compute (see gf_conv2d_winograd_applies) falls
   * back to the GEMM paths. */
  GfConvAlgo algo;
  /* Optional, set by the caller: an activation applied to y as the
   * kernels write it (a Conv and the Relu or Clip after it fused, so that
   * y is not read and written again from memory).  Identity, the zero
   * value, is none.  Backward is unchanged: it takes dy of the
   * convolution itself. */
  GfActivation activation;
} GfConv2d;

/* Checks the attributes (non-zero strides, dilations and groups, channels
 * divisible by groups, a kernel that fits the padded input) and computes
 * out_h and out_w.  Returns GF_ERR_INVALID or GF_ERR_SHAPE with a message. */
GfStatus gf_conv2d_init (GfConv2d *conv, GfError *error);

/* True when Winograd can compute the convolution: 3×3, stride 1,
 * dilation 1, one group, padding at most 2 on every side. */
bool gf_conv2d_winograd_applies (const GfConv2d *conv);

/* True when the kernels will use Winograd for y and dx, and for dw
 * unless the batch has few tiles (forced, for dw too). */
bool gf_conv2d_uses_winograd (const GfConv2d *conv);

/* True when gf_conv2d_forward computes y with the direct kernel for few
 * taps (gf-conv-direct.h); dx and dw keep the GEMM paths. */
bool gf_conv2d_uses_direct (const GfConv2d *conv);

/* True when gf_conv2d_forward computes y with the 1×1 kernel
 * (gf-conv-pointwise.h); dx and dw keep the GEMM paths. */
bool gf_conv2d_uses_pointwise (const GfConv2d *conv);

/* An expansion chain: a 1×1 convolution @expand whose output only the
 * depthwise convolution @depthwise reads (MobileNetV2's expansion and
 * the 3×3 after it), computed a few expanded channels of one image at a
 * time in scratch, so that the expanded tensor is never stored.  Applies
 * where the 1×1 kernel computes @expand (gf_conv2d_uses_pointwise) and
 * @depthwise, at the same batch, reads exactly its output through the
 * kernels' own choice.  Both convolutions' fused activations apply. */
bool gf_conv2d_chain_applies (const GfConv2d *expand,
                              const GfConv2d *depthwise);

/* Scratch for a chain, in gf_real elements, with @slots threads' room. */
size_t gf_conv2d_chain_workspace_size (const GfConv2d *expand,
                                       size_t slots);

/* x (N, C, H, W) → y (N, M, OH, OW) of @depthwise through @expand's
 * weights @we and bias @be (or NULL) and @depthwise's @wd and @bd; the
 * workspace as gf_conv2d_chain_workspace_size at @slots (with more
 * engine threads than @slots it runs on the calling thread).  Only where
 * gf_conv2d_chain_applies. */
void gf_conv2d_chain_forward (const GfConv2d *expand,
                              const GfConv2d *depthwise, size_t slots,
                              const gf_real *x, const gf_real *we,
                              const gf_real *be, const gf_real *wd,
                              const gf_real *bd, gf_real *y,
                              gf_real *workspace);

/* Scratch the fast kernels need, in gf_real elements, for both forward and
 * backward at conv->batch (and so at any smaller batch); 0 when none. */
size_t gf_conv2d_workspace_size (const GfConv2d *conv);

/* x (N, C, H, W); w (M, C/groups, KH, KW); b (M) or NULL;
 * y (N, M, OH, OW) is written, conv->activation applied. */
void gf_conv2d_forward (const GfConv2d *conv,
                        const gf_real *x, const gf_real *w, const gf_real *b,
                        gf_real *y, gf_real *workspace);

/* dy (N, M, OH, OW).  dx (N, C, H, W) is WRITTEN (overwritten); dw
 * (M, C/groups, KH, KW) and db (M) are ACCUMULATED (+=).  Any of dx, dw, db
 * may be NULL to skip it. */
void gf_conv2d_backward (const GfConv2d *conv,
                         const gf_real *x, const gf_real *w, const gf_real *dy,
                         gf_real *dx, gf_real *dw, gf_real *db,
                         gf_real *workspace);

/* Naive reference loops, same contracts, no workspace. */
void gf_conv2d_forward_reference (const GfConv2d *conv,
                                  const gf_real *x, const gf_real *w,
                                  const gf_real *b, gf_real *y);
void gf_conv2d_backward_reference (const GfConv2d *conv,
                                   const gf_real *x, const gf_real *w,
                                   const gf_real *dy, gf_real *dx,
                                   gf_real *dw, gf_real *db);
