/* gf-batchnorm.h: BatchNormalization over (N, C, S) where S = H·W.
 *
 * Training mode normalises with the batch's statistics and updates the
 * running averages the ONNX way: running = momentum·running +
 * (1 − momentum)·batch, with the unbiased batch variance (as PyTorch does)
 * going into running_var.  Inference mode uses the running statistics.
 */
#pragma once

#include <stddef.h>

#include "../gf-real.h"

typedef struct
{
  size_t batch, channels, spatial;
  double epsilon;   /* ONNX default 1e-5 */
  double momentum;  /* ONNX default 0.9 (PyTorch's momentum 0.1) */
} GfBatchNorm;

/* x, y (N, C, S); scale, bias, running_mean, running_var (C).
 * save_mean and save_invstd (C) receive the batch mean and
 * 1/sqrt(var + eps) that backward needs; running_* are updated in place. */
void gf_batchnorm_forward_train (const GfBatchNorm *bn,
                                 const gf_real *x,
                                 const gf_real *scale, const gf_real *bias,
                                 gf_real *running_mean, gf_real *running_var,
                                 gf_real *y,
                                 gf_real *save_mean, gf_real *save_invstd);

void gf_batchnorm_forward_infer (const GfBatchNorm *bn,
                                 const gf_real *x,
                                 const gf_real *scale, const gf_real *bias,
                                 const gf_real *running_mean,
                                 const gf_real *running_var,
                                 gf_real *y);

/* dx (N, C, S) WRITTEN; dscale, dbias (C) ACCUMULATED; any may be NULL. */
void gf_batchnorm_backward_train (const GfBatchNorm *bn,
                                  const gf_real *x, const gf_real *scale,
                                  const gf_real *save_mean,
                                  const gf_real *save_invstd,
                                  const gf_real *dy,
                                  gf_real *dx, gf_real *dscale, gf_real *dbias);

/* Backward of inference mode (the statistics are constants). */
void gf_batchnorm_backward_infer (const GfBatchNorm *bn,
                                  const gf_real *x, const gf_real *scale,
                                  const gf_real *running_mean,
                                  const gf_real *running_var,
                                  const gf_real *dy,
                                  gf_real *dx, gf_real *dscale, gf_real *dbias);
