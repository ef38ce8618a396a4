/* gf-loss.c: softmax cross-entropy and sigmoid binary cross-entropy, each
 * fused with its non-linearity so that no log of an underflowed
 * probability is ever taken.
 *
 * Both losses are weighted means: example i has weight w_i (the weight of
 * its label's class, or 1 without class weights) and the mean is
 * Σ w_i·loss_i / Σ w_i, so the gradient of example i carries w_i / Σ w.
 * Sums run in double whatever gf_real is.
 *
 * Labels outside their range are a caller bug the engine has no way to
 * report from here; such an example gets weight 0 (it contributes neither
 * loss nor gradient) rather than being read out of bounds.
 */
#include "gf-loss.h"

#include <tgmath.h>

#define BCE_CLASSES 2

/* The weight of an example whose label is @label among @k classes;
 * 0 for a label out of range. */
static double
label_weight (size_t k, int32_t label, const gf_real *class_weights)
{
  if (label < 0 || (size_t) label >= k)
    return 0.0;
  return class_weights != NULL ? (double) class_weights[label] : 1.0;
}

/* Σ w_i over the batch, the denominator of the weighted mean. */
static double
weight_total (size_t n, size_t k, const int32_t *labels,
              const gf_real *class_weights)
{
  double total = 0.0;

  for (size_t i = 0; i < n; i++)
    total += label_weight (k, labels[i], class_weights);
  return total;
}

/* x (K) → p (K) = softmax(x).  Returns log Σ exp(x), so that
 * log p_j = x_j − (returned value) never takes the log of a 0. */
static double
softmax_row (size_t k, const gf_real *x, gf_real *p)
{
  gf_real max = x[0];
  double sum = 0.0;

  for (size_t j = 1; j < k; j++)
    max = fmax (max, x[j]);
  /* Shifting by the max keeps every exponent ≤ 0: no overflow, and the
   * largest term is exactly 1 so the sum cannot underflow. */
  for (size_t j = 0; j < k; j++)
    {
      p[j] = exp (x[j] - max);
      sum += p[j];
    }
  for (size_t j = 0; j < k; j++)
    p[j] = (gf_real) (p[j] / sum);
  return (double) max + log (sum);
}

/* −Σ_j q_j log p_j with q = (1 − s)·onehot(label) + s/K, from x (K) and
 * its log-sum-exp: (1 − s)·(lse − x_label) + s·(lse − mean_j x_j). */
static double
smoothed_nll_row (size_t k, const gf_real *x, int32_t label,
                  double log_sum_exp, double smoothing)
{
  double loss = (1.0 - smoothing) * (log_sum_exp - (double) x[label]);

  if (smoothing != 0.0)
    {
      double sum_x = 0.0;

      for (size_t j = 0; j < k; j++)
        sum_x += x[j];
      loss += smoothing * (log_sum_exp - sum_x / (double) k);
    }
  return loss;
}

double
gf_softmax_cross_entropy_forward (size_t n, size_t k, const gf_real *logits,
                                  const int32_t *labels,
                                  const gf_real *class_weights,
                                  double smoothing, gf_real *probs)
{
  double weighted_sum = 0.0, total_weight = 0.0;

  for (size_t i = 0; i < n; i++)
    {
      const gf_real *x = logits + i * k;
      double lse = softmax_row (k, x, probs + i * k);
      double w = label_weight (k, labels[i], class_weights);

      if (w == 0.0)
        continue;
      weighted_sum += w * smoothed_nll_row (k, x, labels[i], lse, smoothing);
      total_weight += w;
    }
  return total_weight != 0.0 ? weighted_sum / total_weight : 0.0;
}

void
gf_softmax_cross_entropy_backward (size_t n, size_t k, const gf_real *probs,
                                   const int32_t *labels,
                                   const gf_real *class_weights,
                                   double smoothing, double dloss,
                                   gf_real *dlogits)
{
  double total_weight = weight_total (n, k, labels, class_weights);
  double off_target = smoothing / (double) k;

  /* ∂loss_i/∂x_ij = p_ij − q_ij, scaled by dloss · w_i / Σ w. */
  for (size_t i = 0; i < n; i++)
    {
      double w = label_weight (k, labels[i], class_weights);
      double scale = total_weight != 0.0 ? dloss * w / total_weight : 0.0;
      const gf_real *p = probs + i * k;
      gf_real *dx = dlogits + i * k;

      for (size_t j = 0; j < k; j++)
        {
          double q = off_target
                     + ((int32_t) j == labels[i] ? 1.0 - smoothing : 0.0);
          dx[j] = (gf_real) (scale * ((double) p[j] - q));
        }
    }
}

/* σ(x) without overflow: exp is only ever taken of −|x|. */
static double
stable_sigmoid (double x)
{
  double e = exp (-fabs (x));

  return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

/* −t·log σ(x) − (1 − t)·log(1 − σ(x)) rewritten as
 * max(x, 0) − x·t + log(1 + exp(−|x|)), finite for any finite x. */
static double
bce_from_logit (double x, double t)
{
  return fmax (x, 0.0) - x * t + log1p (exp (-fabs (x)));
}

double
gf_sigmoid_bce_forward (size_t n, const gf_real *logits,
                        const int32_t *labels, const gf_real *class_weights,
                        gf_real *probs)
{
  double weighted_sum = 0.0, total_weight = 0.0;

  for (size_t i = 0; i < n; i++)
    {
      double x = logits[i];
      double w = label_weight (BCE_CLASSES, labels[i], class_weights);

      probs[i] = (gf_real) stable_sigmoid (x);
      if (w == 0.0)
        continue;
      weighted_sum += w * bce_from_logit (x, (double) labels[i]);
      total_weight += w;
    }
  return total_weight != 0.0 ? weighted_sum / total_weight : 0.0;
}

void
gf_sigmoid_bce_backward (size_t n, const gf_real *probs,
                         const int32_t *labels, const gf_real *class_weights,
                         double dloss, gf_real *dlogits)
{
  double total_weight = weight_total (n, BCE_CLASSES, labels, class_weights);

  /* ∂loss_i/∂x_i = σ(x_i) − t_i, scaled by dloss · w_i / Σ w. */
  for (size_t i = 0; i < n; i++)
    {
      double w = label_weight (BCE_CLASSES, labels[i], class_weights);
      double scale = total_weight != 0.0 ? dloss * w / total_weight : 0.0;

      dlogits[i] = (gf_real) (scale * ((double) probs[i] - labels[i]));
    }
}
