/* gf-activation.h: element-wise activations, forward and backward.
 *
 * One descriptor covers ONNX Relu, Clip (Relu6 is Clip 0..6), LeakyRelu,
 * Sigmoid, HardSigmoid (y = max(0, min(1, alpha·x + beta)); ONNX defaults
 * alpha 0.2, beta 0.5; PyTorch's is alpha 1/6), HardSwish
 * (x·HardSigmoid(x) with alpha 1/6, beta 0.5) and Identity.
 * At a kink the derivative takes the value PyTorch uses: 0 for Relu at 0,
 * 1 inside a Clip's closed interval [min, max].
 */
#pragma once

#include <stddef.h>

#include "../gf-real.h"

typedef enum
{
  GF_ACT_IDENTITY,
  GF_ACT_RELU,
  GF_ACT_CLIP,          /* alpha = min, beta = max */
  GF_ACT_LEAKY_RELU,    /* alpha = negative slope (ONNX default 0.01) */
  GF_ACT_SIGMOID,
  GF_ACT_HARD_SIGMOID,  /* alpha, beta as above */
  GF_ACT_HARD_SWISH,
} GfActivationKind;

typedef struct
{
  GfActivationKind kind;
  double alpha;
  double beta;
} GfActivation;

/* x, y (n); y may alias x. */
void gf_activation_forward (const GfActivation *act, size_t n,
                            const gf_real *x, gf_real *y);
/* The same on the calling thread alone, for kernels that apply an
 * activation to each block they have just written (a Conv with its
 * activation fused); the values are those of gf_activation_forward. */
void gf_activation_forward_block (const GfActivation *act, size_t n,
                                  const gf_real *x, gf_real *y);

/* x, y from forward (Relu and Sigmoid use y, the others x; the one not
 * used may be NULL), dy (n); dx (n) WRITTEN.  dx may alias dy. */
void gf_activation_backward (const GfActivation *act, size_t n,
                             const gf_real *x, const gf_real *y,
                             const gf_real *dy, gf_real *dx);
