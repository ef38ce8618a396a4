/* graft-run.c: the run object — a worker thread, and its events brought
 * back to the owner's main context as signals. */
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
  GMainContext *owner;      /* where signals are emitted */
  GraftControl control;
  gboolean started;
};

G_DEFINE_FINAL_TYPE (GraftRun, graft_run, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATE, PROP_PROGRESS, PROP_ETA, N_PROPS };
enum
{
  STARTED, STEP, EPOCH, STAGE, CHECKPOINT, FINISHED, FAILED, N_SIGNALS
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
set_state (GraftRun *self, GraftRunState state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* ---- Events from the worker ---------------------------------------------- */

typedef struct
{
  GraftRun *run;
  GraftEvent *event;
} Delivery;

static void
delivery_free (gpointer data)
{
  Delivery *d = data;

  g_object_unref (d->run);
  graft_event_free (d->event);
  g_free (d);
}

static void
emit_end (GraftRun *self, GraftEvent *e)
{
  if (e->kind == GRAFT_EVENT_FAILED)
    {
      g_free (self->message);
      self->message = g_strdup (e->message);
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

static gboolean
deliver (gpointer data)
{
  Delivery *d = data;
  GraftRun *self = d->run;
  GraftEvent *e = d->event;

  switch (e->kind)
    {
    case GRAFT_EVENT_STARTED:
      g_signal_emit (self, signals[STARTED], 0);
      break;
    case GRAFT_EVENT_STEP:
      g_signal_emit (self, signals[STEP], 0, e->step, e->epoch, e->loss,
                     e->lr);
      break;
    case GRAFT_EVENT_EPOCH:
      g_signal_emit (self, signals[EPOCH], 0, e->report);
      break;
    case GRAFT_EVENT_STAGE:
      g_signal_emit (self, signals[STAGE], 0, e->epoch, e->step, e->block,
                     e->reason);
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
      emit_end (self, e);
      break;
    }
  return G_SOURCE_REMOVE;
}

static void
sink (GraftEvent *event, gpointer user_data)
{
  GraftRun *self = user_data;
  Delivery *d = g_new (Delivery, 1);

  d->run = g_object_ref (self);
  d->event = event;
  g_main_context_invoke_full (self->owner, G_PRIORITY_DEFAULT, deliver, d,
                              delivery_free);
}

static gpointer
work (gpointer data)
{
  GraftRun *self = data;
  g_autoptr (GError) error = NULL;

  if (!graft_trainer_run (self->config, self->run_dir, self->resume,
                          &self->control, sink, self, &error))
    {
      GraftEvent *e = g_new0 (GraftEvent, 1);
      e->kind = GRAFT_EVENT_FAILED;
      e->message = g_strdup (error->message);
      sink (e, self);
    }
  g_object_unref (self);
  return NULL;
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
  g_return_if_fail (GRAFT_IS_RUN (self));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->owner = g_main_context_ref_thread_default ();
  set_state (self, GRAFT_RUN_STATE_RUNNING);
  /* The worker keeps the run alive until it returns; nobody joins it. */
  g_thread_unref (g_thread_new ("graft-run", work, g_object_ref (self)));
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
  graft_control_set (&self->control, FALSE, TRUE);
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

/* ---- GObject -------------------------------------------------------------- */

static void
graft_run_dispose (GObject *object)
{
  GraftRun *self = GRAFT_RUN (object);

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
  graft_control_clear (&self->control);
  G_OBJECT_CLASS (graft_run_parent_class)->finalize (object);
}

static void
graft_run_get_property (GObject *object, guint prop_id, GValue *value,
                        GParamSpec *pspec)
{
  GraftRun *self = GRAFT_RUN (object);

  switch (prop_id)
    {
    case PROP_STATE: g_value_set_int (value, self->state); break;
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

  properties[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, 0,
                                             GRAFT_RUN_STATE_FAILED, 0, flags);
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
}
