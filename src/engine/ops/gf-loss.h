/* gf-loss.h: the losses a classifier head trains on, fused with their
 * output non-linearity for numerical stability.
 *
 * Softmax cross-entropy: p = softmax(logits); target distribution
 * q = (1 − s)·onehot(label) + s/K (label smoothing s); per-example loss
 * −Σ q·log p, weighted by class_weights[label]; the mean divides by the sum
 * of those weights (PyTorch's reduction for weighted losses).
 * Sigmoid binary cross-entropy: p = σ(logit); loss −t·log p − (1−t)·log(1−p)
 * computed from the logit without overflow; mean over the batch, weighted
 * by class_weights[t] when given.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../gf-real.h"

/* logits (N, K); labels (N) in [0, K); class_weights (K) or NULL;
 * probs (N, K) receives the softmax.  Returns the mean loss. */
double gf_softmax_cross_entropy_forward (size_t n, size_t k,
                                         const gf_real *logits,
                                         const int32_t *labels,
                                         const gf_real *class_weights,
                                         double smoothing,
                                         gf_real *probs);

/* dlogits (N, K) WRITTEN = dloss · ∂mean/∂logits. */
void gf_softmax_cross_entropy_backward (size_t n, size_t k,
                                        const gf_real *probs,
                                        const int32_t *labels,
                                        const gf_real *class_weights,
                                        double smoothing, double dloss,
                                        gf_real *dlogits);

/* logits (N) (one output per example); labels (N) in {0, 1};
 * class_weights (2) or NULL; probs (N) receives σ(logit). */
double gf_sigmoid_bce_forward (size_t n, const gf_real *logits,
                               const int32_t *labels,
                               const gf_real *class_weights,
                               gf_real *probs);

/* dlogits (N) WRITTEN. */
void gf_sigmoid_bce_backward (size_t n, const gf_real *probs,
                              const int32_t *labels,
                              const gf_real *class_weights, double dloss,
                              gf_real *dlogits);
