/* gf-conv-depthwise.h: AVX-512 kernels for one plane of a depthwise
 * 3×3 convolution (MobileNetV2's), y_c = act(bias + w_c ⋆ x_c), that
 * read the input plane where it lies and write the output once.
 *
 * gf-conv.c's loops copy each plane with its padding first (a stride-2
 * plane split into four phase planes element by element) and leave the
 * activation to a second pass: the copies were 6% of a MobileNetV2
 * forward pass and the stride-2 layers ran at 13–26 GFLOP/s.  Here
 *  - stride 1, padding 1 on every side: the plane is one flat run of
 *    H·W outputs, sixteen a vector; each tap is a load at a fixed
 *    offset, masked where it would cross the plane's top or bottom or
 *    wrap into the row before or after;
 *  - stride 2: each output row sixteen columns a vector; an input row's
 *    32 columns under them are two loads, split into even and odd
 *    columns by two permutes, the third tap a one-lane shift;
 * the activation (Relu, Clip) in registers before the store.  Masked
 * loads read nothing outside the plane.  Each output is summed by one
 * thread in the same order whatever the split, so results do not
 * depend on the thread count (internal to the engine).
 */
#pragma once

#include <stdbool.h>

#include "gf-conv.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(GF_REAL_DOUBLE)
#define GF_CONV_DEPTHWISE_KERNEL 1
#endif

/* True when gf_conv_depthwise3x3_plane computes @conv's planes: a 3×3
 * depthwise filter without dilation, stride 1 with padding 1 on every
 * side or stride 2 with padding of at most 1 on the top and the left,
 * float, and a CPU with AVX-512. */
bool gf_conv_depthwise3x3_applies (const GfConv2d *conv);

#ifdef GF_CONV_DEPTHWISE_KERNEL
/* Channels [@c0, @c1) of one image: their planes x (c1 − c0, H, W),
 * the filters w (C, 1, 3, 3) and the bias b (C, or NULL for none) →
 * y (c1 − c0, OH, OW), conv->activation applied. */
void gf_conv_depthwise3x3_planes (const GfConv2d *conv, const gf_real *x,
                                  const gf_real *w, const gf_real *b,
                                  size_t c0, size_t c1, gf_real *y);
#endif
