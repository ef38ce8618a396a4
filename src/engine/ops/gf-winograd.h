/* gf-winograd.h: Winograd F(4×4, 3×3) for the 3×3, stride-1, dilation-1,
 * ungrouped convolutions of gf-conv.c (internal to the engine).
 *
 * Each 4×4 block of outputs ("tile") is computed from the 6×6 input patch
 * under it: V = Bᵀ d B for the patch, U = G g Gᵀ for each filter, and
 * Y = Aᵀ (Σ_c U ⊙ V) A.  The sum over input channels at each of the 36
 * transform positions ξ is a GEMM, U[ξ] (out, in) · V[ξ] (in, P), over a
 * chunk of P tiles drawn from all the batch's images.  The input gradient
 * is the same machinery on dy, with the filters rotated by 180°, input and
 * output channels swapped and padding 2 − pad.  The weight gradient
 * backpropagates through the forward's transforms: dU[ξ] = Σ_tiles
 * (A dy Aᵀ)[ξ] V[ξ]ᵀ, again GEMMs over chunks of tiles, then dW += Gᵀ dU G.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gf-conv.h"

/* True when the shape is one Winograd computes: 3×3 kernel, stride 1,
 * dilation 1, one group, padding at most 2 on every side (so that the
 * input gradient's padding 2 − pad is not negative). */
bool   gf_winograd_applies (const GfConv2d *conv);

/* True when y's and dx's products of @conv run on the engine's AVX-512
 * register blocks (float, x86-64, a CPU with AVX-512, 128 channels or
 * more on both sides), false where OpenBLAS runs them: the former make
 * more of the tiles' waste worth it. */
bool   gf_winograd_products_blocked (const GfConv2d *conv);

/* Scratch in gf_real elements for gf_winograd_forward and
 * gf_winograd_backward_input at conv->batch and any smaller batch. */
size_t gf_winograd_workspace_size (const GfConv2d *conv);

/* x (N, C, H, W); w (M, C, 3, 3); b (M) or NULL; y (N, M, OH, OW) is
 * written. */
void   gf_winograd_forward (const GfConv2d *conv,
                            const gf_real *x, const gf_real *w,
                            const gf_real *b, gf_real *y,
                            gf_real *workspace);

/* w (M, C, 3, 3); dy (N, M, OH, OW); dx (N, C, H, W) is WRITTEN. */
void   gf_winograd_backward_input (const GfConv2d *conv,
                                   const gf_real *w, const gf_real *dy,
                                   gf_real *dx, gf_real *workspace);

/* x (N, C, H, W); dy (N, M, OH, OW); dw (M, C, 3, 3) is ACCUMULATED. */
void   gf_winograd_backward_weights (const GfConv2d *conv,
                                     const gf_real *x, const gf_real *dy,
                                     gf_real *dw, gf_real *workspace);
