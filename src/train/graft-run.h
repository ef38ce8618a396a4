/* graft-run.h: one training run — a configuration, a folder for its
 * files, and a worker thread that trains and reports.
 *
 * Start it and it trains on a worker thread, emitting its signals on the
 * main context of the thread that called graft_run_start(): "started",
 * "step", "epoch", "stage", "checkpoint", "notice", then "finished" or
 * "failed".  The worker queues its events under a lock and keeps at most
 * one idle pending on that context: the idle emits everything queued, in
 * order, then "updated" once, so a fast run cannot flood the main loop.
 * The run keeps every step, epoch, stage and notice it has reported, so
 * that a view can redraw from them at any time.
 *
 * Pause, unpause and stop act within a fraction of a second, also in the
 * middle of a long epoch; cancelling graft_run_get_cancellable() from any
 * thread is a stop.  A run whose process was killed resumes from its last
 * checkpoint with graft_run_open().
 */
#pragma once

#include <gio/gio.h>

#include "graft-run-config.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_RUN (graft_run_get_type ())
G_DECLARE_FINAL_TYPE (GraftRun, graft_run, GRAFT, RUN, GObject)

typedef enum
{
  GRAFT_RUN_STATE_READY,
  GRAFT_RUN_STATE_RUNNING,
  GRAFT_RUN_STATE_PAUSED,
  GRAFT_RUN_STATE_FINISHED,
  GRAFT_RUN_STATE_STOPPED,
  GRAFT_RUN_STATE_FAILED,
} GraftRunState;

#define GRAFT_TYPE_RUN_STATE (graft_run_state_get_type ())
GType graft_run_state_get_type (void);

/* What the event log tells besides stages: a new best epoch, training
 * ended early (patience, or a progressive run's plateau), or ended on a
 * NaN or infinite loss (then "failed" follows), or a run opened with
 * graft_run_open() took up again from its checkpoint (once, after the
 * kept history and before anything new), or a picture could not be read
 * any more and the run goes on without it (one each; run.json lists them
 * under data.lost). */
typedef enum
{
  GRAFT_RUN_NOTICE_BEST_EPOCH,
  GRAFT_RUN_NOTICE_EARLY_STOP,
  GRAFT_RUN_NOTICE_NAN_STOP,
  GRAFT_RUN_NOTICE_RESUMED,
  GRAFT_RUN_NOTICE_LOST,
} GraftRunNoticeKind;

#define GRAFT_TYPE_RUN_NOTICE_KIND (graft_run_notice_kind_get_type ())
GType graft_run_notice_kind_get_type (void);

/* One training step, as the "step" signal carries it; @seconds since the
 * worker started (0 for a step of an earlier session of a resumed run:
 * run.json keeps no time per step). */
typedef struct
{
  guint step, epoch;
  double loss, lr, seconds;
} GraftStepPoint;

/* A stage of unfreezing, as the "stage" signal carries it. */
typedef struct
{
  guint epoch, step;
  char *block, *reason;
} GraftStageEvent;

typedef struct
{
  GraftRunNoticeKind kind;
  guint epoch, step;
  char *message;
} GraftRunNotice;

/* One epoch's results, as the "epoch" signal carries them. */
typedef struct
{
  guint epoch;            /* from 1 */
  guint step;             /* steps done so far */
  double train_loss;      /* mean over the epoch */
  double val_loss;
  double val_accuracy;
  guint n_classes;
  double *class_accuracy; /* n_classes; NaN for a class with no val image */
  guint *confusion;       /* n_classes × n_classes: [truth][predicted] */
  double seconds;         /* wall time of the epoch */
} GraftEpochReport;

#define GRAFT_TYPE_EPOCH_REPORT (graft_epoch_report_get_type ())
GType              graft_epoch_report_get_type (void);
GraftEpochReport  *graft_epoch_report_copy     (const GraftEpochReport *r);
void               graft_epoch_report_free     (GraftEpochReport *report);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftEpochReport, graft_epoch_report_free)

GraftRun      *graft_run_new       (const GraftRunConfig *config,
                                    const char *run_dir);
/* A run from its folder's run.json, to resume from its checkpoint. */
GraftRun      *graft_run_open      (const char *run_dir, GError **error);

void           graft_run_start     (GraftRun *run);
void           graft_run_pause     (GraftRun *run);
void           graft_run_unpause   (GraftRun *run);
void           graft_run_stop      (GraftRun *run);
/* Once "finished" or "failed" has been emitted, or the state is STOPPED:
 * waits until the training thread has ended (its files closed, its
 * memory returned), so that a process may exit; from the thread that
 * started the run. */
void           graft_run_wait      (GraftRun *run);

/* Cancelling it stops the run, as graft_run_stop() does. */
GCancellable  *graft_run_get_cancellable (GraftRun *run);

GraftRunState  graft_run_get_state    (GraftRun *run);
/* 0..1 over the whole run, and seconds left (negative while unknown). */
double         graft_run_get_progress (GraftRun *run);
double         graft_run_get_eta      (GraftRun *run);
const char    *graft_run_get_dir      (GraftRun *run);
const GraftRunConfig *graft_run_get_config (GraftRun *run);
/* Why the run failed, once it has. */
const char    *graft_run_get_message  (GraftRun *run);
const GError  *graft_run_get_error    (GraftRun *run);

/* Everything reported so far, on the owner's side, oldest first; owned by
 * the run and grown as events arrive.  A run opened with graft_run_open()
 * starts them, once started, with the steps, epochs and stages of its
 * earlier sessions up to the checkpoint: they arrive before anything new
 * and "updated" follows, but they have no "step", "epoch" or "stage"
 * signals of their own, since those were told in their session. */
const GArray  *graft_run_get_steps    (GraftRun *run);   /* GraftStepPoint */
GPtrArray     *graft_run_get_epochs   (GraftRun *run);   /* GraftEpochReport * */
GPtrArray     *graft_run_get_stages   (GraftRun *run);   /* GraftStageEvent * */
GPtrArray     *graft_run_get_notices  (GraftRun *run);   /* GraftRunNotice * */

G_END_DECLS
