/* graft-trainer.h: what a run does on its worker thread (private to the
 * training layer; GraftRun is the public face). */
#pragma once

#include "graft-run.h"

G_BEGIN_DECLS

/* Outputs of the frozen prefix are kept in memory up to this many bytes
 * in all; past it they are recomputed every epoch. */
#define GRAFT_BOUNDARY_CACHE_LIMIT ((gsize) 2 << 30)

/* The stages after the first that a run of @config on a backbone of
 * @n_blocks blocks could carry (see plan_carry in graft-trainer.c):
 * progressive, without augmentation, those planned that freeze at least
 * one block. */
guint graft_trainer_carry_candidates (const GraftRunConfig *config,
                                      guint n_blocks);

/* How many of those get their boundary values from the first stage's
 * prefix pass: @counts[k] values a picture at stage 2 + k's boundary,
 * @n pictures; those carried share half the limit above. */
gsize graft_trainer_carried_stages (const gsize *counts, gsize n_counts,
                                    gsize n);

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
  /* STEP, EPOCH, STAGE: from the history a resumed run keeps, told again
   * so that the owner's arrays hold the whole run; no signal for it. */
  gboolean replayed;
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

/* The training machine itself, for what trains without being a run (the
 * learning-rate finder): the configuration's data, backbone and the
 * mode's first trainable part, built as a fresh run builds them.  It
 * emits no events and writes no files; @config and @control must
 * outlive it.  The backbone is loaded afresh from its file, so nothing
 * done to it reaches any other user of that backbone. */
typedef struct _GraftTrainer GraftTrainer;

GraftTrainer *graft_trainer_new  (const GraftRunConfig *config,
                                  GraftControl *control, GError **error);
void          graft_trainer_free (GraftTrainer *trainer);
guint         graft_trainer_n_train         (GraftTrainer *trainer);
/* Batches of config->batch training pictures in an epoch. */
guint         graft_trainer_steps_per_epoch (GraftTrainer *trainer);
/* The training pictures in the order epoch @epoch (from 0) takes them:
 * the seed's shuffle.  Free with g_free. */
guint        *graft_trainer_epoch_order     (GraftTrainer *trainer,
                                             guint epoch);
/* One optimizer step on pictures @samples[0..n) of view @view, at rate
 * @lr; @step seeds the dropout masks.  The batch's mean loss comes back
 * in @loss; when it is not finite the weights are left as they were.
 * FALSE when a picture could not be read, the engine failed, or the
 * control stopped a pass (GF_ERR_INTERRUPTED). */
gboolean      graft_trainer_step (GraftTrainer *trainer, const guint *samples,
                                  guint n, guint view, guint step, double lr,
                                  double *loss, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftTrainer, graft_trainer_free)

/* Trains (or, with @resume, continues from the checkpoint in @run_dir).
 * FALSE with @error when it failed; stopped is a success. */
gboolean graft_trainer_run (const GraftRunConfig *config, const char *run_dir,
                            gboolean resume, GraftControl *control,
                            GraftEventSink sink, gpointer sink_data,
                            GError **error);

G_END_DECLS
