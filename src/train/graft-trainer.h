/* graft-trainer.h: what a run does on its worker thread (private to the
 * training layer; GraftRun is the public face). */
#pragma once

#include "graft-run.h"

G_BEGIN_DECLS

/* Outputs of the frozen prefix are kept in memory up to this many bytes
 * in all; past it they are recomputed every epoch. */
#define GRAFT_BOUNDARY_CACHE_LIMIT ((gsize) 2 << 30)

typedef enum
{
  GRAFT_EVENT_STARTED,
  GRAFT_EVENT_STEP,
  GRAFT_EVENT_EPOCH,
  GRAFT_EVENT_STAGE,
  GRAFT_EVENT_CHECKPOINT,
  GRAFT_EVENT_PROGRESS,
  GRAFT_EVENT_NOTICE,
  GRAFT_EVENT_FINISHED,
  GRAFT_EVENT_STOPPED,
  GRAFT_EVENT_FAILED,
} GraftEventKind;

typedef struct
{
  GraftEventKind kind;
  guint step, epoch;
  double loss, lr, seconds;   /* STEP */
  GraftEpochReport *report;   /* EPOCH */
  char *block, *reason;       /* STAGE */
  char *path;                 /* CHECKPOINT */
  GraftRunNoticeKind notice;  /* NOTICE, with message */
  char *message;              /* FAILED, NOTICE */
  GError *error;              /* FAILED */
  double progress, eta;       /* PROGRESS */
} GraftEvent;

void graft_event_free (GraftEvent *event);

/* Receives each event on the worker thread and takes ownership. */
typedef void (*GraftEventSink) (GraftEvent *event, gpointer user_data);

/* Pause and stop, shared by the owner and the worker. */
typedef struct
{
  GMutex mutex;
  GCond cond;
  gboolean paused;
  gboolean stopped;
} GraftControl;

void     graft_control_init  (GraftControl *control);
void     graft_control_clear (GraftControl *control);
void     graft_control_set   (GraftControl *control, gboolean paused,
                              gboolean stopped);
/* Blocks while paused; TRUE when the run must stop. */
gboolean graft_control_wait  (GraftControl *control);

/* Trains (or, with @resume, continues from the checkpoint in @run_dir).
 * FALSE with @error when it failed; stopped is a success. */
gboolean graft_trainer_run (const GraftRunConfig *config, const char *run_dir,
                            gboolean resume, GraftControl *control,
                            GraftEventSink sink, gpointer sink_data,
                            GError **error);

G_END_DECLS
