/* graft-run.c: the run object — a worker thread, and its events brought
 * back to the owner's main context as signals.
 *
 * The worker appends events to a queue under a lock and attaches an idle
 * to the owner's context only when none is pending; the idle drains the
 * queue.  However fast the worker, the main loop runs one dispatch per
 * turn, and a dispatch emits "updated" once after everything it
 * delivered, so a plot redraws once per turn rather than once per step. */
#define G_LOG_DOMAIN "graft-run"

#include "graft-run.h"

#include <math.h>

#include "graft-run-files.h"
#include "graft-trainer.h"

struct _GraftRun
{
  GObject parent_instance;

  GraftRunConfig *config;
  char *run_dir;
  gboolean resume;
  GraftRunState state;
  double progress, eta;
  char *message;
  GError *error;
  GMainContext *owner;      /* where signals are emitted */
  GraftControl control;
  GCancellable *cancellable;
  gulong cancelled_id;
  gboolean started;
  GThread *thread;          /* the worker, until waited for */

  GMutex lock;              /* guards the two that follow */
  GQueue queue;             /* GraftEvent *, from the worker */
  gboolean dispatch_pending;

  /* What has been delivered, on the owner's side. */
  GArray *steps;
  GPtrArray *epochs, *stages, *notices;
};

G_DEFINE_FINAL_TYPE (GraftRun, graft_run, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (GraftRunState, graft_run_state,
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_STATE_READY, "ready"),
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_STATE_RUNNING, "running"),
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_STATE_PAUSED, "paused"),
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_STATE_FINISHED, "finished"),
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_STATE_STOPPED, "stopped"),
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_STATE_FAILED, "failed"))

G_DEFINE_ENUM_TYPE (GraftRunNoticeKind, graft_run_notice_kind,
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_NOTICE_BEST_EPOCH, "best-epoch"),
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_NOTICE_EARLY_STOP, "early-stop"),
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_NOTICE_NAN_STOP, "nan-stop"),
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_NOTICE_RESUMED, "resumed"),
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_NOTICE_LOST, "lost"))

enum { PROP_0, PROP_STATE, PROP_PROGRESS, PROP_ETA, N_PROPS };
enum
{
  STARTED, STEP, EPOCH, STAGE, CHECKPOINT, NOTICE, FINISHED, FAILED, UPDATED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_BOXED_TYPE (GraftEpochReport, graft_epoch_report,
                     graft_epoch_report_copy, graft_epoch_report_free)

GraftEpochReport *
graft_epoch_report_copy (const GraftEpochReport *r)
{
  GraftEpochReport *copy = g_memdup2 (r, sizeof *r);
  gsize k = r->n_classes;

  copy->class_accuracy = g_memdup2 (r->class_accuracy, k * sizeof (double));
  copy->confusion = g_memdup2 (r->confusion, k * k * sizeof (guint));
  return copy;
}

void
graft_epoch_report_free (GraftEpochReport *report)
{
  if (report == NULL)
    return;
  g_free (report->class_accuracy);
  g_free (report->confusion);
  g_free (report);
}

static void
stage_event_free (gpointer data)
{
  GraftStageEvent *stage = data;

  g_free (stage->block);
  g_free (stage->reason);
  g_free (stage);
}

static void
notice_free (gpointer data)
{
  GraftRunNotice *notice = data;

  g_free (notice->message);
  g_free (notice);
}

static void
set_state (GraftRun *self, GraftRunState state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* ---- Events, delivered on the owner's context ----------------------------- */

static void
deliver_end (GraftRun *self, GraftEvent *e)
{
  if (e->kind == GRAFT_EVENT_FAILED)
    {
      g_free (self->message);
      self->message = g_strdup (e->message);
      g_clear_error (&self->error);
      self->error = g_steal_pointer (&e->error);
      set_state (self, GRAFT_RUN_STATE_FAILED);
      g_signal_emit (self, signals[FAILED], 0, e->message);
      return;
    }
  set_state (self, e->kind == GRAFT_EVENT_STOPPED ? GRAFT_RUN_STATE_STOPPED
             : GRAFT_RUN_STATE_FINISHED);
  if (e->kind == GRAFT_EVENT_FINISHED)
    {
      self->progress = 1.0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
    }
  g_signal_emit (self, signals[FINISHED], 0);
}

static void
deliver_step (GraftRun *self, GraftEvent *e)
{
  GraftStepPoint point = { e->step, e->epoch, e->loss, e->lr, e->seconds };

  g_array_append_val (self->steps, point);
  if (!e->replayed)
    g_signal_emit (self, signals[STEP], 0, e->step, e->epoch, e->loss, e->lr);
}

/* The history keeps the report and the stage; the signals lend them.
 * What a resumed run replays only joins the history. */
static void
deliver_history (GraftRun *self, GraftEvent *e)
{
  if (e->kind == GRAFT_EVENT_EPOCH)
    {
      GraftEpochReport *report = g_steal_pointer (&e->report);
      g_ptr_array_add (self->epochs, report);
      if (!e->replayed)
        g_signal_emit (self, signals[EPOCH], 0, report);
    }
  else if (e->kind == GRAFT_EVENT_STAGE)
    {
      GraftStageEvent *stage = g_new (GraftStageEvent, 1);
      *stage = (GraftStageEvent) { e->epoch, e->step, g_strdup (e->block),
                                   g_strdup (e->reason) };
      g_ptr_array_add (self->stages, stage);
      if (!e->replayed)
        g_signal_emit (self, signals[STAGE], 0, e->epoch, e->step, e->block,
                       e->reason);
    }
  else
    {
      GraftRunNotice *notice = g_new (GraftRunNotice, 1);
      *notice = (GraftRunNotice) { e->notice, e->epoch, e->step,
                                   g_strdup (e->message) };
      g_ptr_array_add (self->notices, notice);
      g_signal_emit (self, signals[NOTICE], 0, e->notice, e->message);
    }
}

static void
deliver (GraftRun *self, GraftEvent *e)
{
  switch (e->kind)
    {
    case GRAFT_EVENT_STARTED:
      g_signal_emit (self, signals[STARTED], 0);
      break;
    case GRAFT_EVENT_STEP:
      deliver_step (self, e);
      break;
    case GRAFT_EVENT_EPOCH:
    case GRAFT_EVENT_STAGE:
    case GRAFT_EVENT_NOTICE:
      deliver_history (self, e);
      break;
    case GRAFT_EVENT_CHECKPOINT:
      g_signal_emit (self, signals[CHECKPOINT], 0, e->epoch, e->path);
      break;
    case GRAFT_EVENT_PROGRESS:
      self->progress = e->progress;
      self->eta = e->eta;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ETA]);
      break;
    case GRAFT_EVENT_FINISHED:
    case GRAFT_EVENT_STOPPED:
    case GRAFT_EVENT_FAILED:
    default:
      deliver_end (self, e);
      break;
    }
}

/* Everything queued, in order, then "updated" once. */
static gboolean
dispatch (gpointer data)
{
  GraftRun *self = data;
  GQueue events;
  GraftEvent *e;

  g_mutex_lock (&self->lock);
  events = self->queue;
  g_queue_init (&self->queue);
  self->dispatch_pending = FALSE;
  g_mutex_unlock (&self->lock);
  while ((e = g_queue_pop_head (&events)) != NULL)
    {
      deliver (self, e);
      graft_event_free (e);
    }
  g_signal_emit (self, signals[UPDATED], 0);
  return G_SOURCE_REMOVE;
}

/* On the worker. */
static void
sink (GraftEvent *event, gpointer user_data)
{
  GraftRun *self = user_data;
  gboolean schedule;

  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->queue, event);
  schedule = !self->dispatch_pending;
  self->dispatch_pending = TRUE;
  g_mutex_unlock (&self->lock);
  if (schedule)
    {
      g_autoptr (GSource) idle = g_idle_source_new ();
      g_source_set_priority (idle, G_PRIORITY_DEFAULT_IDLE);
      g_source_set_callback (idle, dispatch, g_object_ref (self),
                             g_object_unref);
      g_source_set_static_name (idle, "[graft] run events");
      g_source_attach (idle, self->owner);
    }
}

static void
fail (GraftRun *self, GError *error)
{
  GraftEvent *e = g_new0 (GraftEvent, 1);

  e->kind = GRAFT_EVENT_FAILED;
  e->message = g_strdup (error->message);
  e->error = error;
  sink (e, self);
}

static gpointer
work (gpointer data)
{
  GraftRun *self = data;
  GError *error = NULL;

  if (!graft_trainer_run (self->config, self->run_dir, self->resume,
                          &self->control, sink, self, &error))
    fail (self, error);
  g_object_unref (self);
  return NULL;
}

/* From whichever thread cancelled. */
static void
on_cancelled (GCancellable *cancellable, gpointer data)
{
  GraftRun *self = data;

  graft_control_set (&self->control, FALSE, TRUE);
}

/* ---- Public ------------------------------------------------------------- */

GraftRun *
graft_run_new (const GraftRunConfig *config, const char *run_dir)
{
  GraftRun *self = g_object_new (GRAFT_TYPE_RUN, NULL);

  self->config = graft_run_config_copy (config);
  self->run_dir = g_strdup (run_dir);
  return self;
}

GraftRun *
graft_run_open (const char *run_dir, GError **error)
{
  g_autoptr (GraftRunConfig) config = graft_run_files_read_config (run_dir,
                                                                   error);
  GraftRun *self;

  if (config == NULL)
    return NULL;
  self = graft_run_new (config, run_dir);
  self->resume = TRUE;
  return self;
}

void
graft_run_start (GraftRun *self)
{
  GError *error = NULL;
  GThread *thread;

  g_return_if_fail (GRAFT_IS_RUN (self));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->owner = g_main_context_ref_thread_default ();
  set_state (self, GRAFT_RUN_STATE_RUNNING);
  /* The worker keeps the run alive until it returns; graft_run_wait()
   * joins it, else it is let go.  A thread that cannot start (out of
   * memory, a limit on processes) fails the run, reported as any failure
   * is: from the main loop. */
  thread = g_thread_try_new ("graft-run", work, g_object_ref (self), &error);
  if (thread != NULL)
    self->thread = thread;
  else
    {
      g_prefix_error (&error, "cannot start the training thread: ");
      fail (self, g_steal_pointer (&error));
      g_object_unref (self);
    }
}

void
graft_run_pause (GraftRun *self)
{
  g_return_if_fail (GRAFT_IS_RUN (self));
  if (self->state != GRAFT_RUN_STATE_RUNNING)
    return;
  graft_control_set (&self->control, TRUE, FALSE);
  set_state (self, GRAFT_RUN_STATE_PAUSED);
}

void
graft_run_unpause (GraftRun *self)
{
  g_return_if_fail (GRAFT_IS_RUN (self));
  if (self->state != GRAFT_RUN_STATE_PAUSED)
    return;
  graft_control_set (&self->control, FALSE, FALSE);
  set_state (self, GRAFT_RUN_STATE_RUNNING);
}

void
graft_run_stop (GraftRun *self)
{
  g_return_if_fail (GRAFT_IS_RUN (self));
  g_cancellable_cancel (self->cancellable);
}

GCancellable *
graft_run_get_cancellable (GraftRun *self)
{
  return self->cancellable;
}

GraftRunState
graft_run_get_state (GraftRun *self)
{
  return self->state;
}

double
graft_run_get_progress (GraftRun *self)
{
  return self->progress;
}

double
graft_run_get_eta (GraftRun *self)
{
  return self->eta;
}

const char *
graft_run_get_dir (GraftRun *self)
{
  return self->run_dir;
}

const GraftRunConfig *
graft_run_get_config (GraftRun *self)
{
  return self->config;
}

const char *
graft_run_get_message (GraftRun *self)
{
  return self->message;
}

const GError *
graft_run_get_error (GraftRun *self)
{
  return self->error;
}

const GArray *
graft_run_get_steps (GraftRun *self)
{
  return self->steps;
}

GPtrArray *
graft_run_get_epochs (GraftRun *self)
{
  return self->epochs;
}

GPtrArray *
graft_run_get_stages (GraftRun *self)
{
  return self->stages;
}

GPtrArray *
graft_run_get_notices (GraftRun *self)
{
  return self->notices;
}

void
graft_run_wait (GraftRun *self)
{
  g_return_if_fail (GRAFT_IS_RUN (self));

  if (self->thread != NULL)
    g_thread_join (g_steal_pointer (&self->thread));
}

/* ---- GObject -------------------------------------------------------------- */

static void
graft_run_dispose (GObject *object)
{
  GraftRun *self = GRAFT_RUN (object);

  if (self->cancelled_id != 0)
    g_cancellable_disconnect (self->cancellable, self->cancelled_id);
  self->cancelled_id = 0;
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->owner, g_main_context_unref);
  G_OBJECT_CLASS (graft_run_parent_class)->dispose (object);
}

static void
graft_run_finalize (GObject *object)
{
  GraftRun *self = GRAFT_RUN (object);

  graft_run_config_free (self->config);
  g_free (self->run_dir);
  g_free (self->message);
  g_clear_error (&self->error);
  g_queue_clear_full (&self->queue, (GDestroyNotify) graft_event_free);
  g_mutex_clear (&self->lock);
  g_array_unref (self->steps);
  g_ptr_array_unref (self->epochs);
  g_ptr_array_unref (self->stages);
  g_ptr_array_unref (self->notices);
  graft_control_clear (&self->control);
  /* Never waited for: finalized by the worker's last reference, or
   * after it returned. */
  g_clear_pointer (&self->thread, g_thread_unref);
  G_OBJECT_CLASS (graft_run_parent_class)->finalize (object);
}

static void
graft_run_get_property (GObject *object, guint prop_id, GValue *value,
                        GParamSpec *pspec)
{
  GraftRun *self = GRAFT_RUN (object);

  switch (prop_id)
    {
    case PROP_STATE: g_value_set_enum (value, self->state); break;
    case PROP_PROGRESS: g_value_set_double (value, self->progress); break;
    case PROP_ETA: g_value_set_double (value, self->eta); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_run_class_init (GraftRunClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY
    | G_PARAM_STATIC_STRINGS;

  object_class->dispose = graft_run_dispose;
  object_class->finalize = graft_run_finalize;
  object_class->get_property = graft_run_get_property;

  properties[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL,
                                              GRAFT_TYPE_RUN_STATE,
                                              GRAFT_RUN_STATE_READY, flags);
  properties[PROP_PROGRESS] = g_param_spec_double ("progress", NULL, NULL,
                                                   0, 1, 0, flags);
  properties[PROP_ETA] = g_param_spec_double ("eta", NULL, NULL, -1,
                                              G_MAXDOUBLE, -1, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[STARTED] = g_signal_new ("started", G_TYPE_FROM_CLASS (klass),
                                   G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                   G_TYPE_NONE, 0);
  signals[STEP] = g_signal_new ("step", G_TYPE_FROM_CLASS (klass),
                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                G_TYPE_NONE, 4, G_TYPE_UINT, G_TYPE_UINT,
                                G_TYPE_DOUBLE, G_TYPE_DOUBLE);
  signals[EPOCH] = g_signal_new ("epoch", G_TYPE_FROM_CLASS (klass),
                                 G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                 G_TYPE_NONE, 1, GRAFT_TYPE_EPOCH_REPORT);
  signals[STAGE] = g_signal_new ("stage", G_TYPE_FROM_CLASS (klass),
                                 G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                 G_TYPE_NONE, 4, G_TYPE_UINT, G_TYPE_UINT,
                                 G_TYPE_STRING, G_TYPE_STRING);
  signals[CHECKPOINT] = g_signal_new ("checkpoint", G_TYPE_FROM_CLASS (klass),
                                      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                      G_TYPE_NONE, 2, G_TYPE_UINT,
                                      G_TYPE_STRING);
  signals[NOTICE] = g_signal_new ("notice", G_TYPE_FROM_CLASS (klass),
                                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                  G_TYPE_NONE, 2, GRAFT_TYPE_RUN_NOTICE_KIND,
                                  G_TYPE_STRING);
  /* After each batch of the signals above: redraw from the history. */
  signals[UPDATED] = g_signal_new ("updated", G_TYPE_FROM_CLASS (klass),
                                   G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                   G_TYPE_NONE, 0);
  signals[FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass),
                                    G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                    G_TYPE_NONE, 0);
  signals[FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass),
                                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
graft_run_init (GraftRun *self)
{
  self->eta = -1;
  graft_control_init (&self->control);
  g_mutex_init (&self->lock);
  g_queue_init (&self->queue);
  self->steps = g_array_new (FALSE, FALSE, sizeof (GraftStepPoint));
  self->epochs = g_ptr_array_new_with_free_func
    ((GDestroyNotify) graft_epoch_report_free);
  self->stages = g_ptr_array_new_with_free_func (stage_event_free);
  self->notices = g_ptr_array_new_with_free_func (notice_free);
  self->cancellable = g_cancellable_new ();
  self->cancelled_id = g_cancellable_connect (self->cancellable,
                                              G_CALLBACK (on_cancelled),
                                              self, NULL);
}
