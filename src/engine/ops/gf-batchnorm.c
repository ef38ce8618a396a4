/* gf-batchnorm.c: BatchNormalization forward and backward, NCHW viewed as
 * (N, C, S).
 *
 * Every per-channel loop runs n outside and s inside, so the inner loop
 * walks one contiguous row of S values.  Sums over N·S (mean, variance and
 * the two gradient reductions) are kept in double even when gf_real is
 * float, as PyTorch's CPU kernel does: a channel of a 224×224 batch holds
 * millions of values, far beyond what a float accumulator sums exactly.
 * Each sum runs in SUM_LANES interleaved partial sums, added up in a fixed
 * tree at the end: one running sum would wait on the latency of every
 * addition (and the compiler may not reorder it), where independent
 * lanes vectorise and keep up with memory.  The order depends on the
 * shape alone.  Loop bounds are copied into locals first: under
 * -fno-strict-aliasing a store to y could change bn->spatial, and GCC
 * then does not vectorise a loop bounded by it.
 *
 * The channels are what the engine's worker pool splits: each channel's
 * sums are taken whole by one thread, in the same order at any thread
 * count, so results are bit-identical however many threads run.
 * Inference mode's forward, which sums nothing, splits the (n, c) rows.
 */
#include "gf-batchnorm.h"

#include <tgmath.h>

#include "../gf-parallel.h"

/* The work of one value of a channel for gf_parallel_for, in element
 * operations: the passes each mode makes over it. */
#define COST_FORWARD_TRAIN 3   /* sum, squared deviations, affine */
#define COST_BACKWARD 3        /* the two sums, dx */
#define COST_AFFINE 1

/* Partial sums per reduction: 4 SSE2 vectors of 2 doubles, enough
 * independent additions to hide their latency. */
#define SUM_LANES 8

/* What the chunks of one call share: x, y, dy, dx (N, C, S); the others
 * (C).  Each call uses the fields its mode needs. */
typedef struct
{
  const GfBatchNorm *bn;
  const gf_real *x, *dy, *scale, *bias, *mean, *var_or_invstd;
  gf_real *y, *dx, *dscale, *dbias;
  gf_real *running_mean, *running_var, *save_mean, *save_invstd;
} BatchNormJob;

_Static_assert ((SUM_LANES & (SUM_LANES - 1)) == 0,
                "lanes_total halves the lanes down to one");

/* The lanes' total, added pairwise in a fixed tree. */
static double
lanes_total (const double lane[SUM_LANES])
{
  double t[SUM_LANES];

  for (size_t k = 0; k < SUM_LANES; k++)
    t[k] = lane[k];
  for (size_t width = SUM_LANES; width > 1; width /= 2)
    for (size_t k = 0; k < width / 2; k++)
      t[k] = t[2 * k] + t[2 * k + 1];
  return t[0];
}

/* lane[k] += Σ row[s] over s ≡ k (mod SUM_LANES), s < len. */
static inline void
lanes_add (double lane[SUM_LANES], const gf_real *row, size_t len)
{
  size_t s = 0;

  for (; s + SUM_LANES <= len; s += SUM_LANES)
    for (size_t k = 0; k < SUM_LANES; k++)
      lane[k] += row[s + k];
  for (size_t k = 0; s + k < len; k++)
    lane[k] += row[s + k];
}

/* lane[k] += Σ (row[s] − mean)² over s ≡ k (mod SUM_LANES), s < len. */
static inline void
lanes_add_squares (double lane[SUM_LANES], const gf_real *row, size_t len,
                   double mean)
{
  size_t s = 0;

  for (; s + SUM_LANES <= len; s += SUM_LANES)
    for (size_t k = 0; k < SUM_LANES; k++)
      {
        double d = row[s + k] - mean;
        lane[k] += d * d;
      }
  for (size_t k = 0; s + k < len; k++)
    {
      double d = row[s + k] - mean;
      lane[k] += d * d;
    }
}

/* Σ x and Σ (x − mean)² over one channel: two passes, because the one-pass
 * E[x²] − E[x]² cancels catastrophically when |mean| ≫ std. */
static void
channel_moments (const GfBatchNorm *bn, const gf_real *x, size_t c,
                 double *mean, double *var)
{
  const size_t batch = bn->batch, spatial = bn->spatial;
  const size_t stride = bn->channels * spatial, count = batch * spatial;
  const gf_real *x_c = x + c * spatial;
  double sum[SUM_LANES] = { 0 }, sum_sq[SUM_LANES] = { 0 };

  for (size_t n = 0; n < batch; n++)
    lanes_add (sum, x_c + n * stride, spatial);
  *mean = count > 0 ? lanes_total (sum) / (double) count : 0.0;
  for (size_t n = 0; n < batch; n++)
    lanes_add_squares (sum_sq, x_c + n * stride, spatial, *mean);
  *var = count > 0 ? lanes_total (sum_sq) / (double) count : 0.0;
}

/* y = alpha·x + beta over channel c of every sample: the normalisation and
 * the affine transform folded into one multiply-add, as PyTorch does. */
static void
channel_affine (const GfBatchNorm *bn, const gf_real *x, size_t c,
                gf_real alpha, gf_real beta, gf_real *y)
{
  const size_t batch = bn->batch, spatial = bn->spatial;
  const size_t stride = bn->channels * spatial;

  for (size_t n = 0; n < batch; n++)
    {
      const gf_real *xr = x + n * stride + c * spatial;
      gf_real *yr = y + n * stride + c * spatial;

      for (size_t s = 0; s < spatial; s++)
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

/* Channels [begin, end) of the training forward. */
static void
forward_train_channels (void *data, size_t begin, size_t end, size_t chunk)
{
  const BatchNormJob *job = data;
  const GfBatchNorm *bn = job->bn;

  for (size_t c = begin; c < end; c++)
    {
      double mean, var, invstd, alpha;

      channel_moments (bn, job->x, c, &mean, &var);
      invstd = 1.0 / sqrt (var + bn->epsilon);
      alpha = job->scale[c] * invstd;
      channel_affine (bn, job->x, c, (gf_real) alpha,
                      (gf_real) (job->bias[c] - mean * alpha), job->y);
      update_running (bn, mean, var, &job->running_mean[c],
                      &job->running_var[c]);
      job->save_mean[c] = (gf_real) mean;
      job->save_invstd[c] = (gf_real) invstd;
    }
}

void
gf_batchnorm_forward_train (const GfBatchNorm *bn,
                            const gf_real *x,
                            const gf_real *scale, const gf_real *bias,
                            gf_real *running_mean, gf_real *running_var,
                            gf_real *y,
                            gf_real *save_mean, gf_real *save_invstd)
{
  BatchNormJob job = { .bn = bn, .x = x, .scale = scale, .bias = bias,
                       .running_mean = running_mean,
                       .running_var = running_var, .y = y,
                       .save_mean = save_mean, .save_invstd = save_invstd };

  gf_parallel_for (bn->channels, COST_FORWARD_TRAIN * bn->batch * bn->spatial,
                   forward_train_channels, &job);
}

/* Rows [begin, end) of the inference forward, row r being sample
 * r / C's channel r % C: y = alpha·x + beta with the running statistics'
 * alpha and beta, recomputed per row (the same for every row of a
 * channel). */
static void
forward_infer_rows (void *data, size_t begin, size_t end, size_t chunk)
{
  const BatchNormJob *job = data;
  const GfBatchNorm *bn = job->bn;

  for (size_t r = begin; r < end; r++)
    {
      size_t c = r % bn->channels;
      double invstd = 1.0 / sqrt ((double) job->var_or_invstd[c]
                                  + bn->epsilon);
      double alpha = job->scale[c] * invstd;
      gf_real a = (gf_real) alpha;
      gf_real b = (gf_real) (job->bias[c] - job->mean[c] * alpha);
      const size_t spatial = bn->spatial;
      const gf_real *xr = job->x + r * spatial;
      gf_real *yr = job->y + r * spatial;

      for (size_t s = 0; s < spatial; s++)
        yr[s] = xr[s] * a + b;
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
  BatchNormJob job = { .bn = bn, .x = x, .scale = scale, .bias = bias,
                       .mean = running_mean, .var_or_invstd = running_var,
                       .y = y };

  gf_parallel_for (bn->batch * bn->channels, COST_AFFINE * bn->spatial,
                   forward_infer_rows, &job);
}

/* a[k] += Σ dy, b[k] += Σ dy·(x − mean), over s ≡ k (mod SUM_LANES) of
 * one row of x and dy (len). */
static inline void
lanes_add_grad (double a[SUM_LANES], double b[SUM_LANES], const gf_real *xr,
                const gf_real *gr, size_t len, double mean)
{
  size_t s = 0;

  for (; s + SUM_LANES <= len; s += SUM_LANES)
    for (size_t k = 0; k < SUM_LANES; k++)
      {
        double g = gr[s + k];
        a[k] += g;
        b[k] += g * ((double) xr[s + k] - mean);
      }
  for (size_t k = 0; s + k < len; k++)
    {
      double g = gr[s + k];
      a[k] += g;
      b[k] += g * ((double) xr[s + k] - mean);
    }
}

/* Σ dy and Σ dy·(x − mean) over channel c. */
static void
channel_grad_sums (const GfBatchNorm *bn, const gf_real *x,
                   const gf_real *dy, size_t c, gf_real mean,
                   double *sum_dy, double *sum_dy_xc)
{
  const size_t batch = bn->batch, spatial = bn->spatial;
  const size_t stride = bn->channels * spatial;
  double a[SUM_LANES] = { 0 }, b[SUM_LANES] = { 0 };

  for (size_t n = 0; n < batch; n++)
    {
      size_t base = n * stride + c * spatial;

      lanes_add_grad (a, b, x + base, dy + base, spatial, mean);
    }
  *sum_dy = lanes_total (a);
  *sum_dy_xc = lanes_total (b);
}

/* dx = k_dy·dy + k_xc·(x − mean) + k0 over channel c; keeping x − mean
 * (rather than folding mean into k0) avoids cancellation when |mean| ≫ std. */
static void
channel_dx (const GfBatchNorm *bn, const gf_real *x, const gf_real *dy,
            size_t c, gf_real mean, gf_real k_dy, gf_real k_xc, gf_real k0,
            gf_real *dx)
{
  const size_t batch = bn->batch, spatial = bn->spatial;
  const size_t stride = bn->channels * spatial;

  for (size_t n = 0; n < batch; n++)
    {
      size_t base = n * stride + c * spatial;
      const gf_real *xr = x + base;
      const gf_real *gr = dy + base;
      gf_real *dr = dx + base;

      for (size_t s = 0; s < spatial; s++)
        dr[s] = k_dy * gr[s] + k_xc * (xr[s] - mean) + k0;
    }
}

/* Channels [begin, end) of the training backward. */
static void
backward_train_channels (void *data, size_t begin, size_t end, size_t chunk)
{
  const BatchNormJob *job = data;
  const GfBatchNorm *bn = job->bn;
  double count = (double) (bn->batch * bn->spatial);

  for (size_t c = begin; c < end; c++)
    {
      double invstd = job->var_or_invstd[c];
      double sum_dy, sum_dy_xc, sum_dy_xhat, a;

      channel_grad_sums (bn, job->x, job->dy, c, job->mean[c], &sum_dy,
                         &sum_dy_xc);
      sum_dy_xhat = sum_dy_xc * invstd;
      if (job->dscale != NULL)
        job->dscale[c] += (gf_real) sum_dy_xhat;
      if (job->dbias != NULL)
        job->dbias[c] += (gf_real) sum_dy;
      if (job->dx == NULL || count == 0.0)
        continue;
      a = job->scale[c] * invstd;
      channel_dx (bn, job->x, job->dy, c, job->mean[c], (gf_real) a,
                  (gf_real) (-a * invstd * sum_dy_xhat / count),
                  (gf_real) (-a * sum_dy / count), job->dx);
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
  BatchNormJob job = { .bn = bn, .x = x, .dy = dy, .scale = scale,
                       .mean = save_mean, .var_or_invstd = save_invstd,
                       .dx = dx, .dscale = dscale, .dbias = dbias };

  gf_parallel_for (bn->channels, COST_BACKWARD * bn->batch * bn->spatial,
                   backward_train_channels, &job);
}

/* Channels [begin, end) of the inference backward. */
static void
backward_infer_channels (void *data, size_t begin, size_t end, size_t chunk)
{
  const BatchNormJob *job = data;
  const GfBatchNorm *bn = job->bn;

  for (size_t c = begin; c < end; c++)
    {
      double invstd = 1.0 / sqrt ((double) job->var_or_invstd[c]
                                  + bn->epsilon);
      double sum_dy, sum_dy_xc;

      if (job->dscale != NULL || job->dbias != NULL)
        {
          channel_grad_sums (bn, job->x, job->dy, c, job->mean[c],
                             &sum_dy, &sum_dy_xc);
          if (job->dscale != NULL)
            job->dscale[c] += (gf_real) (sum_dy_xc * invstd);
          if (job->dbias != NULL)
            job->dbias[c] += (gf_real) sum_dy;
        }
      if (job->dx != NULL)
        channel_dx (bn, job->x, job->dy, c, job->mean[c],
                    (gf_real) (job->scale[c] * invstd), 0, 0, job->dx);
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
  BatchNormJob job = { .bn = bn, .x = x, .dy = dy, .scale = scale,
                       .mean = running_mean, .var_or_invstd = running_var,
                       .dx = dx, .dscale = dscale, .dbias = dbias };

  gf_parallel_for (bn->channels, COST_BACKWARD * bn->batch * bn->spatial,
                   backward_infer_channels, &job);
}
