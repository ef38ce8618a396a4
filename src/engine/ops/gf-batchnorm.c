/* gf-batchnorm.c: BatchNormalization forward and backward, NCHW viewed as
 * (N, C, S).
 *
 * Every per-channel loop runs n outside and s inside, so the inner loop
 * walks one contiguous row of S values.  Sums over N·S (mean, variance and
 * the two gradient reductions) are kept in double even when gf_real is
 * float, as PyTorch's CPU kernel does: a channel of a 224×224 batch holds
 * millions of values, far beyond what a float accumulator sums exactly.
 */
#include "gf-batchnorm.h"

#include <tgmath.h>

/* Σ x and Σ (x − mean)² over one channel: two passes, because the one-pass
 * E[x²] − E[x]² cancels catastrophically when |mean| ≫ std. */
static void
channel_moments (const GfBatchNorm *bn, const gf_real *x, size_t c,
                 double *mean, double *var)
{
  size_t count = bn->batch * bn->spatial;
  double sum = 0.0, sum_sq = 0.0;

  for (size_t n = 0; n < bn->batch; n++)
    {
      const gf_real *row = x + (n * bn->channels + c) * bn->spatial;

      for (size_t s = 0; s < bn->spatial; s++)
        sum += row[s];
    }
  *mean = count > 0 ? sum / (double) count : 0.0;

  for (size_t n = 0; n < bn->batch; n++)
    {
      const gf_real *row = x + (n * bn->channels + c) * bn->spatial;

      for (size_t s = 0; s < bn->spatial; s++)
        {
          double d = row[s] - *mean;
          sum_sq += d * d;
        }
    }
  *var = count > 0 ? sum_sq / (double) count : 0.0;
}

/* y = alpha·x + beta over channel c of every sample: the normalisation and
 * the affine transform folded into one multiply-add, as PyTorch does. */
static void
channel_affine (const GfBatchNorm *bn, const gf_real *x, size_t c,
                gf_real alpha, gf_real beta, gf_real *y)
{
  for (size_t n = 0; n < bn->batch; n++)
    {
      size_t base = (n * bn->channels + c) * bn->spatial;
      const gf_real *xr = x + base;
      gf_real *yr = y + base;

      for (size_t s = 0; s < bn->spatial; s++)
        yr[s] = xr[s] * alpha + beta;
    }
}

/* The ONNX update with momentum m: running = m·running + (1 − m)·batch.
 * running_var takes the unbiased variance var·M/(M − 1); with a single
 * value per channel (M = 1), where that is undefined, it takes the biased
 * one instead of a NaN. */
static void
update_running (const GfBatchNorm *bn, double mean, double var,
                gf_real *running_mean, gf_real *running_var)
{
  size_t count = bn->batch * bn->spatial;
  double m = bn->momentum;
  double unbiased = count > 1 ? var * (double) count / (double) (count - 1)
                              : var;

  if (count == 0)
    return;
  *running_mean = (gf_real) (m * *running_mean + (1.0 - m) * mean);
  *running_var = (gf_real) (m * *running_var + (1.0 - m) * unbiased);
}

void
gf_batchnorm_forward_train (const GfBatchNorm *bn,
                            const gf_real *x,
                            const gf_real *scale, const gf_real *bias,
                            gf_real *running_mean, gf_real *running_var,
                            gf_real *y,
                            gf_real *save_mean, gf_real *save_invstd)
{
  for (size_t c = 0; c < bn->channels; c++)
    {
      double mean, var, invstd, alpha;

      channel_moments (bn, x, c, &mean, &var);
      invstd = 1.0 / sqrt (var + bn->epsilon);
      alpha = scale[c] * invstd;
      channel_affine (bn, x, c, (gf_real) alpha,
                      (gf_real) (bias[c] - mean * alpha), y);
      update_running (bn, mean, var, &running_mean[c], &running_var[c]);
      save_mean[c] = (gf_real) mean;
      save_invstd[c] = (gf_real) invstd;
    }
}

void
gf_batchnorm_forward_infer (const GfBatchNorm *bn,
                            const gf_real *x,
                            const gf_real *scale, const gf_real *bias,
                            const gf_real *running_mean,
                            const gf_real *running_var,
                            gf_real *y)
{
  for (size_t c = 0; c < bn->channels; c++)
    {
      double invstd = 1.0 / sqrt ((double) running_var[c] + bn->epsilon);
      double alpha = scale[c] * invstd;

      channel_affine (bn, x, c, (gf_real) alpha,
                      (gf_real) (bias[c] - running_mean[c] * alpha), y);
    }
}

/* Σ dy and Σ dy·(x − mean) over channel c. */
static void
channel_grad_sums (const GfBatchNorm *bn, const gf_real *x,
                   const gf_real *dy, size_t c, gf_real mean,
                   double *sum_dy, double *sum_dy_xc)
{
  double a = 0.0, b = 0.0;

  for (size_t n = 0; n < bn->batch; n++)
    {
      size_t base = (n * bn->channels + c) * bn->spatial;
      const gf_real *xr = x + base;
      const gf_real *gr = dy + base;

      for (size_t s = 0; s < bn->spatial; s++)
        {
          a += gr[s];
          b += (double) gr[s] * ((double) xr[s] - (double) mean);
        }
    }
  *sum_dy = a;
  *sum_dy_xc = b;
}

/* dx = k_dy·dy + k_xc·(x − mean) + k0 over channel c; keeping x − mean
 * (rather than folding mean into k0) avoids cancellation when |mean| ≫ std. */
static void
channel_dx (const GfBatchNorm *bn, const gf_real *x, const gf_real *dy,
            size_t c, gf_real mean, gf_real k_dy, gf_real k_xc, gf_real k0,
            gf_real *dx)
{
  for (size_t n = 0; n < bn->batch; n++)
    {
      size_t base = (n * bn->channels + c) * bn->spatial;
      const gf_real *xr = x + base;
      const gf_real *gr = dy + base;
      gf_real *dr = dx + base;

      for (size_t s = 0; s < bn->spatial; s++)
        dr[s] = k_dy * gr[s] + k_xc * (xr[s] - mean) + k0;
    }
}

/* With x̂ = (x − mean)·invstd and a = scale·invstd, the batch statistics'
 * own dependence on x gives, over the M = N·S values of a channel,
 *   dx = a·(dy − Σdy/M − x̂·Σ(dy·x̂)/M). */
void
gf_batchnorm_backward_train (const GfBatchNorm *bn,
                             const gf_real *x, const gf_real *scale,
                             const gf_real *save_mean,
                             const gf_real *save_invstd,
                             const gf_real *dy,
                             gf_real *dx, gf_real *dscale, gf_real *dbias)
{
  double count = (double) (bn->batch * bn->spatial);

  for (size_t c = 0; c < bn->channels; c++)
    {
      double invstd = save_invstd[c];
      double sum_dy, sum_dy_xc, sum_dy_xhat, a;

      channel_grad_sums (bn, x, dy, c, save_mean[c], &sum_dy, &sum_dy_xc);
      sum_dy_xhat = sum_dy_xc * invstd;
      if (dscale != NULL)
        dscale[c] += (gf_real) sum_dy_xhat;
      if (dbias != NULL)
        dbias[c] += (gf_real) sum_dy;
      if (dx == NULL || count == 0.0)
        continue;
      a = scale[c] * invstd;
      channel_dx (bn, x, dy, c, save_mean[c], (gf_real) a,
                  (gf_real) (-a * invstd * sum_dy_xhat / count),
                  (gf_real) (-a * sum_dy / count), dx);
    }
}

void
gf_batchnorm_backward_infer (const GfBatchNorm *bn,
                             const gf_real *x, const gf_real *scale,
                             const gf_real *running_mean,
                             const gf_real *running_var,
                             const gf_real *dy,
                             gf_real *dx, gf_real *dscale, gf_real *dbias)
{
  for (size_t c = 0; c < bn->channels; c++)
    {
      double invstd = 1.0 / sqrt ((double) running_var[c] + bn->epsilon);
      double sum_dy, sum_dy_xc;

      if (dscale != NULL || dbias != NULL)
        {
          channel_grad_sums (bn, x, dy, c, running_mean[c],
                             &sum_dy, &sum_dy_xc);
          if (dscale != NULL)
            dscale[c] += (gf_real) (sum_dy_xc * invstd);
          if (dbias != NULL)
            dbias[c] += (gf_real) sum_dy;
        }
      if (dx != NULL)
        channel_dx (bn, x, dy, c, running_mean[c],
                    (gf_real) (scale[c] * invstd), 0, 0, dx);
    }
}
