/* gf-pad.h: constant padding of the two spatial axes, NCHW (ONNX Pad in
 * "constant" mode restricted to H and W, which is all a CNN exports).
 *
 * The output is the input framed by @top and @bottom rows and @left and
 * @right columns of @value; backward crops the frame away.
 */
#pragma once

#include <stddef.h>

#include "../gf-real.h"
#include "../gf-status.h"

typedef struct
{
  /* Set by the caller. */
  size_t batch, channels, in_h, in_w;
  size_t top, left, bottom, right;
  double value;
  /* Set by gf_pad2d_init. */
  size_t out_h, out_w;
} GfPad2d;

/* Validates (a non-empty input; pads that are not negative numbers
 * converted to size_t; output sides that do not overflow) and computes
 * out_h = in_h + top + bottom and out_w = in_w + left + right. */
GfStatus gf_pad2d_init (GfPad2d *pad, GfError *error);

/* x (N, C, H, W); y (N, C, OH, OW) is written.  y may not alias x. */
void gf_pad2d_forward (const GfPad2d *pad, const gf_real *x, gf_real *y);

/* dy (N, C, OH, OW); dx (N, C, H, W) is WRITTEN with the interior of dy.
 * dx may not alias dy. */
void gf_pad2d_backward (const GfPad2d *pad, const gf_real *dy, gf_real *dx);
