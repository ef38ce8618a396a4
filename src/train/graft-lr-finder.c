/* graft-lr-finder.c: the learning-rate range test (see the header for
 * what it does and why the suggestion is read where it is).
 *
 * The trainer builds the mode's trainable part exactly as a fresh run
 * does; the test only drives its optimizer steps, at its own rates, over
 * the run's own batches.
 */
#define G_LOG_DOMAIN "graft-lr-finder"

#include "graft-lr-finder.h"

#include <math.h>

#include "graft-error.h"
#include "graft-progress-relay.h"
#include "graft-trainer.h"

/* The smoothed loss: an exponential moving average of this weight, about
 * 1 / (1 - SMOOTHING) = 5 steps wide, a tenth to a half of a decade of
 * rates.  It lags the raw loss by SMOOTHING / (1 - SMOOTHING) steps,
 * which the suggestion takes back. */
#define SMOOTHING 0.8
/* The slope of the smoothed loss is measured over this many decades of
 * rate, centred on each point: wide enough to see through the batches'
 * noise, narrow against the eight decades of the test. */
#define SLOPE_DECADES 0.5
/* A tenth of the minimum's rate, when there is no slope to read. */
#define MINIMUM_BACKOFF 10.0
#define SIGNIFICANT_DIGITS 2

G_DEFINE_BOXED_TYPE (GraftLrResult, graft_lr_result, graft_lr_result_copy,
                     graft_lr_result_free)

GraftLrResult *
graft_lr_result_copy (const GraftLrResult *result)
{
  GraftLrResult *copy = g_memdup2 (result, sizeof *result);

  copy->points = g_array_copy (result->points);
  return copy;
}

void
graft_lr_result_free (GraftLrResult *result)
{
  if (result == NULL)
    return;
  g_array_unref (result->points);
  g_free (result);
}

const char *
graft_lr_rule_to_string (GraftLrRule rule)
{
  return rule == GRAFT_LR_RULE_STEEPEST ? "steepest" : "minimum";
}

/* ---- The suggestion --------------------------------------------------- */

/* @value to SIGNIFICANT_DIGITS digits, as a person would type it. */
static double
round_significant (double value)
{
  double unit = pow (10, floor (log10 (value)) - (SIGNIFICANT_DIGITS - 1));

  return round (value / unit) * unit;
}

static guint
lowest_point (const GraftLrPoint *p, guint n)
{
  guint lowest = 0;

  for (guint i = 1; i < n; i++)
    if (p[i].smoothed < p[lowest].smoothed)
      lowest = i;
  return lowest;
}

/* Points on each side of one over which the slope is measured: the
 * rates grow by the same factor at every step. */
static guint
slope_half_width (const GraftLrPoint *p, guint n)
{
  double decades_per_step = n > 1 ? log10 (p[1].lr / p[0].lr) : 0;

  if (!(decades_per_step > 0))
    return 1;
  return MAX (1, (guint) round (SLOPE_DECADES / 2 / decades_per_step));
}

/* The smoothed loss' change per decade of rate around point @i. */
static double
slope_at (const GraftLrPoint *p, guint i, guint half)
{
  const GraftLrPoint *a = &p[i - half], *b = &p[i + half];

  return (b->smoothed - a->smoothed) / log10 (b->lr / a->lr);
}

void
graft_lr_suggest (GraftLrResult *result)
{
  const GraftLrPoint *p = (const GraftLrPoint *) result->points->data;
  guint n = result->points->len, lowest, half, lag, steepest = 0;
  double best = 0;

  g_return_if_fail (n > 0);
  lowest = lowest_point (p, n);
  half = slope_half_width (p, n);
  lag = (guint) round (SMOOTHING / (1 - SMOOTHING));
  /* Not before the average has taken in a whole window of steps. */
  for (guint i = MAX (half, lag); i + half <= lowest; i++)
    if (slope_at (p, i, half) < best)
      {
        best = slope_at (p, i, half);
        steepest = i;
      }
  result->rule = best < 0 ? GRAFT_LR_RULE_STEEPEST : GRAFT_LR_RULE_MINIMUM;
  if (result->rule == GRAFT_LR_RULE_STEEPEST)
    {
      /* The average shows a fall that many steps after it happened. */
      result->suggested_index = steepest - lag;
      result->suggested_lr = round_significant (p[steepest - lag].lr);
      return;
    }
  result->suggested_index = lowest;
  result->suggested_lr = round_significant (p[lowest].lr / MINIMUM_BACKOFF);
}

/* ---- The range test --------------------------------------------------- */

typedef struct
{
  const GraftRunConfig *config;
  GraftTrainer *trainer;
  guint n_steps;
  guint *order;                 /* the current pass' training pictures */
  double average;               /* the moving average, not yet debiased */
  double lowest;                /* the lowest smoothed loss so far */
  GraftLrResult *result;
} Finder;

/* Exponential from GRAFT_LR_FINDER_MIN at the first step to
 * GRAFT_LR_FINDER_MAX at the last. */
static double
step_rate (guint step, guint n_steps)
{
  double t = n_steps > 1 ? (double) step / (n_steps - 1) : 0;

  return GRAFT_LR_FINDER_MIN
    * pow (GRAFT_LR_FINDER_MAX / GRAFT_LR_FINDER_MIN, t);
}

/* Adds @p with its smoothed loss; FALSE once the loss has diverged. */
static gboolean
record (Finder *f, GraftLrPoint *p)
{
  guint n = f->result->points->len;

  if (!isfinite (p->loss))
    return FALSE;
  f->average = SMOOTHING * f->average + (1 - SMOOTHING) * p->loss;
  p->smoothed = f->average / (1 - pow (SMOOTHING, n + 1));
  g_array_append_val (f->result->points, *p);
  f->lowest = MIN (f->lowest, p->smoothed);
  return p->smoothed <= GRAFT_LR_FINDER_DIVERGED * f->lowest;
}

/* One step on the next batch of the run's epochs, cycled; @diverged set
 * when the curve ends there. */
static gboolean
finder_step (Finder *f, guint step, gboolean *diverged, GError **error)
{
  guint per_epoch = graft_trainer_steps_per_epoch (f->trainer);
  guint n_train = graft_trainer_n_train (f->trainer);
  guint start = step % per_epoch * f->config->batch;
  GraftLrPoint p = { step_rate (step, f->n_steps), 0, 0 };

  if (step % per_epoch == 0)
    {
      g_free (f->order);
      f->order = graft_trainer_epoch_order (f->trainer, step / per_epoch);
    }
  if (!graft_trainer_step (f->trainer, f->order + start,
                           MIN (f->config->batch, n_train - start), 0, step,
                           p.lr, &p.loss, error))
    return FALSE;
  *diverged = !record (f, &p);
  return TRUE;
}

static gboolean
run_range (Finder *f, GraftControl *control, GraftLrProgressFunc progress,
           gpointer progress_data, GError **error)
{
  for (guint step = 0; step < f->n_steps; step++)
    {
      gboolean diverged = FALSE;

      if (graft_control_wait (control))
        break;
      if (!finder_step (f, step, &diverged, error))
        return FALSE;
      if (progress != NULL)
        progress ((double) (step + 1) / f->n_steps, progress_data);
      if (diverged)
        {
          f->result->diverged = step + 1 < f->n_steps;
          break;
        }
    }
  return TRUE;
}

/* From whichever thread cancelled. */
static void
on_cancelled (GCancellable *cancellable, gpointer control)
{
  graft_control_set (control, FALSE, TRUE);
}

/* A stop shows as whatever the pass or the data loader said: it is a
 * cancellation. */
static gboolean
check_cancelled (GCancellable *cancellable, GError **error)
{
  if (!g_cancellable_is_cancelled (cancellable))
    return TRUE;
  g_clear_error (error);
  g_cancellable_set_error_if_cancelled (cancellable, error);
  return FALSE;
}

static gboolean
find (Finder *f, GraftControl *control, GraftLrProgressFunc progress,
      gpointer progress_data, GError **error)
{
  f->trainer = graft_trainer_new (f->config, control, error);
  if (f->trainer == NULL)
    return FALSE;
  f->n_steps = CLAMP (graft_trainer_steps_per_epoch (f->trainer),
                      GRAFT_LR_FINDER_MIN_STEPS, GRAFT_LR_FINDER_MAX_STEPS);
  if (!run_range (f, control, progress, progress_data, error))
    return FALSE;
  if (f->result->points->len == 0)
    {
      g_set_error_literal (error, GRAFT_ENGINE_ERROR, GF_ERR_NUMERIC,
                           "the loss was not finite even at the smallest "
                           "learning rate");
      return FALSE;
    }
  graft_lr_suggest (f->result);
  return TRUE;
}

GraftLrResult *
graft_lr_find (const GraftRunConfig *config, GraftLrProgressFunc progress,
               gpointer progress_data, GCancellable *cancellable,
               GError **error)
{
  g_autoptr (GraftRunConfig) copy = graft_run_config_copy (config);
  Finder f = { copy, NULL, 0, NULL, 0, INFINITY, NULL };
  GraftControl control;
  gulong handler = 0;
  gboolean ok;

  /* One view of each picture: the trainable part's inputs are computed
   * once and kept, as in a run without augmentation. */
  copy->augment_flip = copy->augment_crop = FALSE;
  f.result = g_new0 (GraftLrResult, 1);
  f.result->points = g_array_new (FALSE, FALSE, sizeof (GraftLrPoint));
  graft_control_init (&control);
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                     &control, NULL);
  ok = find (&f, &control, progress, progress_data, error);
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, handler);
  ok = check_cancelled (cancellable, error) && ok;
  graft_trainer_free (f.trainer);
  graft_control_clear (&control);
  g_free (f.order);
  if (!ok)
    g_clear_pointer (&f.result, graft_lr_result_free);
  return f.result;
}

/* ---- On a thread ------------------------------------------------------ */

typedef struct
{
  double fraction;
} FindReport;

/* On the caller's context. */
static void
deliver (gconstpointer report, GCallback progress, gpointer data)
{
  ((GraftLrProgressFunc) progress) (((const FindReport *) report)->fraction,
                                    data);
}

/* On the worker. */
static void
post_progress (double fraction, gpointer relay)
{
  FindReport report = { fraction };

  graft_progress_relay_post (relay, &report);
}

/* The configuration is the task's data. */
static void
find_thread (GTask *task, gpointer source, gpointer config,
             GCancellable *cancellable)
{
  GError *error = NULL;
  GraftLrResult *result = graft_lr_find (config, post_progress,
                                         graft_progress_relay_get (task),
                                         cancellable, &error);

  if (result == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result,
                           (GDestroyNotify) graft_lr_result_free);
}

void
graft_lr_find_async (const GraftRunConfig *config,
                     GraftLrProgressFunc progress, gpointer progress_data,
                     GDestroyNotify progress_data_free,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback,
                                       user_data);

  graft_progress_relay_attach (task, sizeof (FindReport), deliver,
                               G_CALLBACK (progress), progress_data,
                               progress_data_free,
                               "[graft] learning-rate finder progress");
  g_task_set_source_tag (task, graft_lr_find_async);
  g_task_set_task_data (task, graft_run_config_copy (config),
                        (GDestroyNotify) graft_run_config_free);
  g_task_run_in_thread (task, find_thread);
}

GraftLrResult *
graft_lr_find_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return graft_progress_relay_finish (G_TASK (result), error);
}
