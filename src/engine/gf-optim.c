/* gf-optim.c: SGD, Adam and AdamW over parameter groups of one flat
 * buffer, and the learning-rate schedules.
 *
 * The updates follow PyTorch's torch.optim (SGD with dampening 0, Adam and
 * AdamW with amsgrad off) so that a recipe tuned there behaves the same
 * here.  Per-element arithmetic runs in double and is rounded once when
 * stored.  State layout, count = the parameter count:
 *   SGD         state[0, count)             velocity
 *   Adam(W)     state[0, count)             first moment m
 *               state[count, 2·count)       second moment v
 */
#include "gf-optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

static bool
in_unit_interval (double x)
{
  return x >= 0.0 && x < 1.0;   /* false for NaN too */
}

static GfStatus
check_sgd_config (const GfOptimizerConfig *config, GfError *error)
{
  if (!(config->momentum >= 0.0 && isfinite (config->momentum)))
    return gf_error_set (error, GF_ERR_INVALID,
                         "sgd: momentum %g must be finite and ≥ 0",
                         config->momentum);
  if (config->nesterov && config->momentum == 0.0)
    return gf_error_set (error, GF_ERR_INVALID,
                         "sgd: Nesterov momentum needs momentum > 0");
  return GF_OK;
}

static GfStatus
check_adam_config (const GfOptimizerConfig *config, GfError *error)
{
  if (!in_unit_interval (config->beta1) || !in_unit_interval (config->beta2))
    return gf_error_set (error, GF_ERR_INVALID,
                         "adam: betas (%g, %g) must lie in [0, 1)",
                         config->beta1, config->beta2);
  if (!(config->epsilon >= 0.0 && isfinite (config->epsilon)))
    return gf_error_set (error, GF_ERR_INVALID,
                         "adam: epsilon %g must be finite and ≥ 0",
                         config->epsilon);
  return GF_OK;
}

/* State elements per parameter for @kind, or 0 for an unknown kind. */
static size_t
state_per_param (GfOptimizerKind kind)
{
  switch (kind)
    {
    case GF_OPTIMIZER_SGD: return 1;
    case GF_OPTIMIZER_ADAM: return 2;
    case GF_OPTIMIZER_ADAMW: return 2;
    default: return 0;
    }
}

static GfStatus
check_config (const GfOptimizerConfig *config, GfError *error)
{
  if (state_per_param (config->kind) == 0)
    return gf_error_set (error, GF_ERR_INVALID,
                         "optimizer: unknown kind %d", (int) config->kind);
  if (config->kind == GF_OPTIMIZER_SGD)
    return check_sgd_config (config, error);
  return check_adam_config (config, error);
}

GfStatus
gf_optimizer_init (GfOptimizer *opt, const GfOptimizerConfig *config,
                   size_t count, GfError *error)
{
  size_t state_count;
  void *state;
  GfStatus status;

  memset (opt, 0, sizeof *opt);
  status = check_config (config, error);
  if (status != GF_OK)
    return status;
  if (gf_size_mul (count, state_per_param (config->kind), &state_count) != 0)
    return gf_error_set (error, GF_ERR_NOMEM,
                         "optimizer: state for %zu parameters overflows",
                         count);
  status = gf_alloc_zeroed (state_count, sizeof (gf_real), &state, error);
  if (status != GF_OK)
    return status;
  opt->config = *config;
  opt->count = count;
  opt->state = state;
  return GF_OK;
}

void
gf_optimizer_clear (GfOptimizer *opt)
{
  free (opt->state);
  opt->state = NULL;
  opt->count = 0;
}

size_t
gf_optimizer_state_count (const GfOptimizer *opt)
{
  return opt->count * state_per_param (opt->config.kind);
}

/* A group reaching past the buffer is a caller bug; it is skipped rather
 * than written out of bounds. */
static bool
group_fits (const GfOptimizer *opt, const GfParamGroup *group)
{
  return group->offset <= opt->count
         && group->count <= opt->count - group->offset;
}

void
gf_optimizer_reset_group (GfOptimizer *opt, GfParamGroup *group)
{
  size_t per_param = state_per_param (opt->config.kind);

  group->step = 0;
  if (!group_fits (opt, group))
    return;
  for (size_t s = 0; s < per_param; s++)
    memset (opt->state + s * opt->count + group->offset, 0,
            group->count * sizeof (gf_real));
}

/* SGD on one group, PyTorch's formulation (dampening 0):
 *   d = g + wd·p
 *   v ← momentum·v + d          (v starts at 0, so the first v is d,
 *                                as PyTorch seeds its buffer with d)
 *   d ← d + momentum·v  if Nesterov, else v
 *   p ← p − lr·d
 * Plain SGD (momentum 0) leaves the velocity untouched. */
static void
sgd_update (GfOptimizer *opt, const GfParamGroup *group, double lr,
            gf_real *params, const gf_real *grads)
{
  double momentum = opt->config.momentum;
  bool nesterov = opt->config.nesterov;
  double wd = group->weight_decay;
  gf_real *p = params + group->offset;
  const gf_real *g = grads + group->offset;
  gf_real *v = opt->state + group->offset;

  for (size_t i = 0; i < group->count; i++)
    {
      double d = (double) g[i] + wd * p[i];

      if (momentum != 0.0)
        {
          double velocity = momentum * v[i] + d;

          v[i] = (gf_real) velocity;
          d = nesterov ? d + momentum * velocity : velocity;
        }
      p[i] = (gf_real) (p[i] - lr * d);
    }
}

/* Adam(W) on one group at its step t (from 1), PyTorch's formulation:
 *   Adam:   g ← g + wd·p                   (L2 decay through the gradient)
 *   AdamW:  p ← p·(1 − lr·wd)              (decoupled, before the update)
 *   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
 *   p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε) */
static void
adam_update (GfOptimizer *opt, const GfParamGroup *group, double lr,
             gf_real *params, const gf_real *grads)
{
  const GfOptimizerConfig *c = &opt->config;
  bool decoupled = c->kind == GF_OPTIMIZER_ADAMW;
  double l2 = decoupled ? 0.0 : group->weight_decay;
  double shrink = decoupled ? 1.0 - lr * group->weight_decay : 1.0;
  double t = (double) group->step;
  double step_size = lr / (1.0 - pow (c->beta1, t));
  double sqrt_bias2 = sqrt (1.0 - pow (c->beta2, t));
  gf_real *p = params + group->offset;
  const gf_real *g = grads + group->offset;
  gf_real *m = opt->state + group->offset;
  gf_real *v = opt->state + opt->count + group->offset;

  for (size_t i = 0; i < group->count; i++)
    {
      double grad = (double) g[i] + l2 * p[i];
      double mi = c->beta1 * m[i] + (1.0 - c->beta1) * grad;
      double vi = c->beta2 * v[i] + (1.0 - c->beta2) * grad * grad;

      m[i] = (gf_real) mi;
      v[i] = (gf_real) vi;
      p[i] = (gf_real) (p[i] * shrink
                        - step_size * mi / (sqrt (vi) / sqrt_bias2
                                            + c->epsilon));
    }
}

void
gf_optimizer_step (GfOptimizer *opt, double lr, gf_real *params,
                   const gf_real *grads, GfParamGroup *groups,
                   size_t n_groups)
{
  for (size_t gi = 0; gi < n_groups; gi++)
    {
      GfParamGroup *group = &groups[gi];
      double group_lr = lr * group->lr_scale;

      if (!group_fits (opt, group))
        continue;
      group->step++;
      if (opt->config.kind == GF_OPTIMIZER_SGD)
        sgd_update (opt, group, group_lr, params, grads);
      else
        adam_update (opt, group, group_lr, params, grads);
    }
}

/* Cosine annealing over the @span steps after warm-up, PyTorch's
 * CosineAnnealingLR: lr(s) = min + (base − min)·(1 + cos(π·s/span))/2,
 * so s = 0 gives base_lr, s = span/2 the midpoint, s ≥ span min_lr. */
static double
cosine_lr (const GfSchedule *schedule, size_t after_warmup)
{
  size_t span = schedule->total_steps > schedule->warmup_steps
                ? schedule->total_steps - schedule->warmup_steps : 0;
  double min_lr = schedule->min_lr;

  if (after_warmup >= span)
    return min_lr;
  return min_lr + (schedule->base_lr - min_lr)
                  * 0.5 * (1.0 + cos (PI * (double) after_warmup / span));
}

/* Warm-up: lr(step) = base_lr·(step + 1)/warmup_steps for step <
 * warmup_steps, reaching base_lr on its last step.  After it, with
 * s = step − warmup_steps:
 *   CONSTANT  base_lr
 *   STEP      base_lr·gamma^⌊s / step_size⌋   (constant if step_size is 0)
 *   COSINE    see cosine_lr */
double
gf_schedule_lr (const GfSchedule *schedule, size_t step)
{
  size_t after_warmup;

  if (step < schedule->warmup_steps)
    return schedule->base_lr * (double) (step + 1)
           / (double) schedule->warmup_steps;
  after_warmup = step - schedule->warmup_steps;
  switch (schedule->kind)
    {
    case GF_SCHEDULE_STEP:
      if (schedule->step_size == 0)
        return schedule->base_lr;
      return schedule->base_lr
             * pow (schedule->gamma,
                    (double) (after_warmup / schedule->step_size));
    case GF_SCHEDULE_COSINE:
      return cosine_lr (schedule, after_warmup);
    case GF_SCHEDULE_CONSTANT:
    default:
      return schedule->base_lr;
    }
}
