/* gf-optim.h: optimizers over one flat parameter buffer, and learning-rate
 * schedules.
 *
 * Parameters, gradients and optimizer state each live in one allocation
 * (see gf-graph.h), so an optimizer step is one loop per parameter group.
 * A group is a contiguous range of the buffer with its own learning-rate
 * multiplier (discriminative learning rates), weight decay and step count;
 * ranges not in any group (frozen parameters) are left untouched.  The step
 * count is per group so that a block unfrozen late gets Adam's bias
 * correction from its own first step.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gf-real.h"
#include "gf-status.h"

typedef enum
{
  GF_OPTIMIZER_SGD,     /* momentum, optional Nesterov; L2 weight decay */
  GF_OPTIMIZER_ADAM,    /* L2 weight decay added to the gradient */
  GF_OPTIMIZER_ADAMW,   /* decoupled weight decay */
} GfOptimizerKind;

typedef struct
{
  GfOptimizerKind kind;
  double momentum;      /* SGD, e.g. 0.9; 0 for plain SGD */
  bool nesterov;
  double beta1, beta2;  /* Adam(W), e.g. 0.9, 0.999 */
  double epsilon;       /* Adam(W), e.g. 1e-8 */
} GfOptimizerConfig;

typedef struct
{
  size_t offset, count;   /* the range of the flat buffers */
  double lr_scale;        /* multiplies the scheduled learning rate */
  double weight_decay;
  uint64_t step;          /* updates applied so far; advanced by step() */
} GfParamGroup;

typedef struct
{
  GfOptimizerConfig config;
  size_t count;      /* length of the flat parameter buffer */
  gf_real *state;    /* one allocation: SGD velocity (count), or Adam's
                      * first then second moments (2 × count) */
} GfOptimizer;

GfStatus gf_optimizer_init (GfOptimizer *opt, const GfOptimizerConfig *config,
                            size_t count, GfError *error);
void     gf_optimizer_clear (GfOptimizer *opt);
/* Zeroes the state of one group (e.g. when it is newly unfrozen). */
void     gf_optimizer_reset_group (GfOptimizer *opt, GfParamGroup *group);

/* One update of every group with learning rate lr · group->lr_scale:
 * params[i] -= ... from grads[i].  Reads grads, writes params and state. */
void     gf_optimizer_step (GfOptimizer *opt, double lr,
                            gf_real *params, const gf_real *grads,
                            GfParamGroup *groups, size_t n_groups);

/* State size in gf_real elements, for saving and restoring checkpoints. */
size_t   gf_optimizer_state_count (const GfOptimizer *opt);

typedef enum
{
  GF_SCHEDULE_CONSTANT,
  GF_SCHEDULE_STEP,     /* × gamma every step_size steps */
  GF_SCHEDULE_COSINE,   /* from base_lr to min_lr over total_steps */
} GfScheduleKind;

typedef struct
{
  GfScheduleKind kind;
  double base_lr;
  size_t warmup_steps;  /* linear ramp (step+1)/warmup · lr before the rest */
  size_t total_steps;   /* COSINE: length including warm-up */
  size_t step_size;     /* STEP */
  double gamma;         /* STEP */
  double min_lr;        /* COSINE */
} GfSchedule;

/* The learning rate for update number @step (from 0). */
double gf_schedule_lr (const GfSchedule *schedule, size_t step);
