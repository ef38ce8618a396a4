/* test-lr-finder.c: the learning-rate range test on the sample data
 * (data/samples/fashion, five classes of 60) with the bundled fashion-cnn,
 * feature extraction.
 *
 * The curve: rates rising exponentially from GRAFT_LR_FINDER_MIN, finite
 * losses, progress that only grows.  The suggestion: trained for a few
 * epochs (same seed), it reaches a lower validation loss than 100 times
 * it and than a hundredth of it.  Isolation: a run after the finder is
 * the same, step for step, as the same run before it.  Cancelling stops
 * it with G_IO_ERROR_CANCELLED, on the calling thread and on a worker.
 * The rule itself on made-up curves.
 *
 * Env: GRAFT_SOURCE_ROOT (the source tree).
 */
#include <glib/gstdio.h>
#include <math.h>

#include "graft-lr-finder.h"
#include "graft-trainer.h"
#include "train-test-pictures.h"

#define BACKBONE "fashion-cnn"
#define SEED 5
#define EPOCHS 5
#define RATE_FACTOR 100.0      /* the "100× larger, 100× smaller" */
#define MAX_RATE 10.0          /* the largest a configuration takes */
#define CANCEL_AT 0.1          /* of the steps */
#define RATE_TOLERANCE 1e-9    /* relative, on the rates' progression */
#define ASYNC_TIMEOUT_S 60

static char *work_dir;

static GraftRunConfig *
sample_config (void)
{
  GraftRunConfig *config = graft_run_config_new (GRAFT_RUN_MODE_EXTRACT);
  g_autofree char *data = g_build_filename (g_getenv ("GRAFT_SOURCE_ROOT"),
                                            "data", "samples", "fashion",
                                            NULL);
  const char *folders[] = { data, NULL };

  config->backbone = g_strdup (BACKBONE);
  config->data = g_strdupv ((char **) folders);
  config->seed = SEED;
  config->epochs = EPOCHS;
  config->threads = 1;
  return config;
}

/* ---- Training for comparison ------------------------------------------- */

/* What a run reported: its training loss per step, validation per epoch. */
typedef struct
{
  GArray *step_losses;   /* double */
  GArray *val_losses;    /* double */
} Trained;

static void
trained_clear (Trained *t)
{
  g_array_unref (t->step_losses);
  g_array_unref (t->val_losses);
}

static void
collect (GraftEvent *event, gpointer data)
{
  Trained *t = data;

  if (event->kind == GRAFT_EVENT_STEP)
    g_array_append_val (t->step_losses, event->loss);
  else if (event->kind == GRAFT_EVENT_EPOCH)
    g_array_append_val (t->val_losses, event->report->val_loss);
  graft_event_free (event);
}

/* Trains @config at rate @lr in a fresh folder, on this thread. */
static Trained
train_at (const GraftRunConfig *config, double lr)
{
  g_autoptr (GraftRunConfig) copy = graft_run_config_copy (config);
  g_autofree char *dir = g_strdup_printf ("%s/run-%g", work_dir, lr);
  Trained t = { g_array_new (FALSE, FALSE, sizeof (double)),
                g_array_new (FALSE, FALSE, sizeof (double)) };
  g_autoptr (GError) error = NULL;
  GraftControl control;

  copy->lr = lr;
  graft_control_init (&control);
  g_assert_true (graft_trainer_run (copy, dir, FALSE, &control, collect, &t,
                                    &error));
  g_assert_no_error (error);
  graft_control_clear (&control);
  g_assert_cmpuint (t.val_losses->len, ==, config->epochs);
  return t;
}

/* The run's best validation loss: what it keeps. */
static double
best_val_loss (const GraftRunConfig *config, double lr)
{
  Trained t = train_at (config, lr);
  double best = INFINITY;

  for (guint i = 0; i < t.val_losses->len; i++)
    best = fmin (best, g_array_index (t.val_losses, double, i));
  g_test_message ("rate %g: best validation loss %.4f", lr, best);
  trained_clear (&t);
  return best;
}

/* ---- The curve ---------------------------------------------------------- */

typedef struct
{
  guint calls;
  double last;
  gboolean fell;
  GCancellable *cancel_at;     /* cancelled past CANCEL_AT, when set */
  guint calls_after_cancel;
} Progress;

static void
on_progress (double fraction, gpointer data)
{
  Progress *p = data;

  p->calls++;
  p->fell |= fraction < p->last;
  p->last = fraction;
  if (p->cancel_at != NULL && g_cancellable_is_cancelled (p->cancel_at))
    p->calls_after_cancel++;
  else if (p->cancel_at != NULL && fraction >= CANCEL_AT)
    g_cancellable_cancel (p->cancel_at);
}

static GraftLrResult *
find_on_samples (void)
{
  g_autoptr (GraftRunConfig) config = sample_config ();
  g_autoptr (GError) error = NULL;
  Progress progress = { 0 };
  GraftLrResult *result = graft_lr_find (config, on_progress, &progress,
                                         NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (result);
  g_assert_cmpuint (progress.calls, >, 0);
  g_assert_false (progress.fell);
  g_assert_cmpfloat (progress.last, <=, 1.0);
  return result;
}

static void
test_curve (void)
{
  g_autoptr (GraftLrResult) result = find_on_samples ();
  const GraftLrPoint *p = (const GraftLrPoint *) result->points->data;
  guint n = result->points->len;
  double ratio;

  g_test_message ("%u points, suggested %g (%s), diverged %d", n,
                  result->suggested_lr,
                  graft_lr_rule_to_string (result->rule), result->diverged);
  g_assert_cmpuint (n, >, 1);
  g_assert_cmpuint (n, <=, GRAFT_LR_FINDER_MAX_STEPS);
  g_assert_cmpfloat_with_epsilon (p[0].lr, GRAFT_LR_FINDER_MIN,
                                  GRAFT_LR_FINDER_MIN * RATE_TOLERANCE);
  ratio = p[1].lr / p[0].lr;
  for (guint i = 0; i < n; i++)
    {
      g_assert_true (isfinite (p[i].loss) && isfinite (p[i].smoothed));
      if (i > 0)
        {
          g_assert_cmpfloat (p[i].lr, >, p[i - 1].lr);
          g_assert_cmpfloat_with_epsilon (p[i].lr / p[i - 1].lr, ratio,
                                          ratio * RATE_TOLERANCE);
        }
    }
  g_assert_cmpfloat (p[n - 1].lr, <=,
                     GRAFT_LR_FINDER_MAX * (1 + RATE_TOLERANCE));
  g_assert_cmpuint (result->suggested_index, <, n);
  g_assert_cmpfloat (result->suggested_lr, >, GRAFT_LR_FINDER_MIN);
  g_assert_cmpfloat (result->suggested_lr, <, GRAFT_LR_FINDER_MAX);
  /* The sample data learns: the loss falls well before it diverges. */
  g_assert_cmpint (result->rule, ==, GRAFT_LR_RULE_STEEPEST);
}

/* The check: the suggestion beats 100× it and a hundredth of it. */
static void
test_suggestion_trains_best (void)
{
  g_autoptr (GraftLrResult) result = find_on_samples ();
  g_autoptr (GraftRunConfig) config = sample_config ();
  double lr = result->suggested_lr;
  double at = best_val_loss (config, lr);
  double above = best_val_loss (config, MIN (lr * RATE_FACTOR, MAX_RATE));
  double below = best_val_loss (config, lr / RATE_FACTOR);

  g_test_message ("suggested %g: validation loss %.4f; 100x: %.4f; "
                  "1/100: %.4f", lr, at, above, below);
  g_assert_cmpfloat (at, <, above);
  g_assert_cmpfloat (at, <, below);
}

/* The finder trains a copy: a run after it is the run before it. */
static void
test_isolated (void)
{
  g_autoptr (GraftRunConfig) config = sample_config ();
  g_autoptr (GraftLrResult) result = NULL;
  Trained before, after;

  config->epochs = 2;
  before = train_at (config, config->lr);
  result = find_on_samples ();
  after = train_at (config, config->lr);
  g_assert_cmpuint (after.step_losses->len, ==, before.step_losses->len);
  g_assert_cmpmem (after.step_losses->data,
                   after.step_losses->len * sizeof (double),
                   before.step_losses->data,
                   before.step_losses->len * sizeof (double));
  g_assert_cmpmem (after.val_losses->data,
                   after.val_losses->len * sizeof (double),
                   before.val_losses->data,
                   before.val_losses->len * sizeof (double));
  trained_clear (&before);
  trained_clear (&after);
}

/* ---- Cancelling ----------------------------------------------------------- */

static void
test_cancel (void)
{
  g_autoptr (GraftRunConfig) config = sample_config ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  Progress progress = { .cancel_at = cancellable };
  GraftLrResult *result = graft_lr_find (config, on_progress, &progress,
                                         cancellable, &error);

  g_assert_null (result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* It stops at the next step. */
  g_assert_cmpuint (progress.calls_after_cancel, ==, 0);
  g_assert_cmpfloat (progress.last, <, 1.0);
}

typedef struct
{
  GMainLoop *loop;
  GraftLrResult *result;
  GError *error;
  Progress progress;
  gboolean progress_after_result;
  gboolean done;
} AsyncWait;

static void
on_async_progress (double fraction, gpointer data)
{
  AsyncWait *w = data;

  w->progress_after_result |= w->done;
  on_progress (fraction, &w->progress);
}

static void
on_found (GObject *source, GAsyncResult *res, gpointer data)
{
  AsyncWait *w = data;

  w->result = graft_lr_find_finish (res, &w->error);
  w->done = TRUE;
  g_main_loop_quit (w->loop);
}

static gboolean
on_timeout (gpointer data)
{
  g_error ("the finder did not finish in %u s", ASYNC_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

/* On a worker: progress on this thread's loop, then the result. */
static void
run_async (AsyncWait *w, GCancellable *cancellable)
{
  g_autoptr (GraftRunConfig) config = sample_config ();
  guint timeout = g_timeout_add_seconds (ASYNC_TIMEOUT_S, on_timeout, NULL);

  w->loop = g_main_loop_new (NULL, FALSE);
  graft_lr_find_async (config, on_async_progress, w, NULL, cancellable,
                       on_found, w);
  g_main_loop_run (w->loop);
  g_main_loop_unref (w->loop);
  g_source_remove (timeout);
  /* Nothing is delivered after the result was collected. */
  g_main_context_iteration (NULL, FALSE);
  g_assert_false (w->progress_after_result);
}

static void
test_async (void)
{
  AsyncWait w = { 0 };
  g_autoptr (GCancellable) cancelled = g_cancellable_new ();
  AsyncWait stopped = { 0 };

  run_async (&w, NULL);
  g_assert_no_error (w.error);
  g_assert_nonnull (w.result);
  g_assert_cmpuint (w.progress.calls, >, 0);
  g_assert_cmpuint (w.result->points->len, >, 0);
  graft_lr_result_free (w.result);

  g_cancellable_cancel (cancelled);
  run_async (&stopped, cancelled);
  g_assert_null (stopped.result);
  g_assert_error (stopped.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&stopped.error);
}

/* ---- The rule on made-up curves -------------------------------------------- */

#define MADE_UP_STEPS 100

/* Rates as the finder's, losses from @shape(log10 rate). */
static GraftLrResult *
made_up (double (*shape) (double))
{
  GraftLrResult *r = g_new0 (GraftLrResult, 1);
  double decades = log10 (GRAFT_LR_FINDER_MAX / GRAFT_LR_FINDER_MIN);

  r->points = g_array_new (FALSE, FALSE, sizeof (GraftLrPoint));
  for (guint i = 0; i < MADE_UP_STEPS; i++)
    {
      double e = log10 (GRAFT_LR_FINDER_MIN)
        + decades * i / (MADE_UP_STEPS - 1);
      GraftLrPoint p = { pow (10, e), shape (e), shape (e) };
      g_array_append_val (r->points, p);
    }
  graft_lr_suggest (r);
  return r;
}

/* A fall centred on 1e-3 (a logistic step in log rate), flat before. */
static double
falls_at_1e3 (double e)
{
  const double centre = -3, high = 2, low = 0.5, steepness = 4;

  return low + (high - low) / (1 + exp (steepness * (e - centre)));
}

/* Rises from the start: there is no fall to read. */
static double
only_rises (double e)
{
  return 1 + exp (e);
}

static void
test_rule (void)
{
  g_autoptr (GraftLrResult) falls = made_up (falls_at_1e3);
  g_autoptr (GraftLrResult) rises = made_up (only_rises);
  double step = log10 (GRAFT_LR_FINDER_MAX / GRAFT_LR_FINDER_MIN)
    / (MADE_UP_STEPS - 1);

  g_assert_cmpint (falls->rule, ==, GRAFT_LR_RULE_STEEPEST);
  /* The unsmoothed curve is read as is, less the average's lag. */
  g_assert_cmpfloat (fabs (log10 (falls->suggested_lr) + 3), <, 6 * step);
  g_assert_cmpint (rises->rule, ==, GRAFT_LR_RULE_MINIMUM);
  g_assert_cmpfloat_with_epsilon (rises->suggested_lr,
                                  GRAFT_LR_FINDER_MIN / 10,
                                  GRAFT_LR_FINDER_MIN * RATE_TOLERANCE);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  work_dir = g_dir_make_tmp ("test-lr-finder-XXXXXX", NULL);
  g_assert_nonnull (work_dir);
  g_test_add_func ("/train/lr-finder/rule", test_rule);
  g_test_add_func ("/train/lr-finder/curve", test_curve);
  g_test_add_func ("/train/lr-finder/suggestion-trains-best",
                   test_suggestion_trains_best);
  g_test_add_func ("/train/lr-finder/isolated", test_isolated);
  g_test_add_func ("/train/lr-finder/cancel", test_cancel);
  g_test_add_func ("/train/lr-finder/async", test_async);
  status = g_test_run ();
  train_test_rm_rf (work_dir);
  g_free (work_dir);
  return status;
}
