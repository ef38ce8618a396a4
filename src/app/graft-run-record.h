/* graft-run-record.h: one run folder as the Compare page sees it — what
 * its run.json says (mode, date, status, the history, the best epoch's
 * per-class accuracy and confusion), the name the user gave it (kept in
 * RUN_DIR/app.json; run.json is never changed), and, on demand, what its
 * model predicts for each validation picture.
 *
 * graft_run_record_load reads files: call it on a worker.  Everything
 * else runs on the main thread and never touches the disk there: a new
 * name is written, and predictions are computed, on workers.
 */
#pragma once

#include <gio/gio.h>

#include "graft-run.h"

G_BEGIN_DECLS

/* What the curves are drawn against. */
typedef enum
{
  GRAFT_RUN_AXIS_EPOCH,    /* epochs, a step at its share of its epoch */
  GRAFT_RUN_AXIS_STEP,     /* optimizer steps */
  GRAFT_RUN_AXIS_TIME,     /* seconds of training */
} GraftRunAxis;

/* What the run's model predicts for each validation picture, in the
 * split's order; labels index graft_run_record_get_class_names (). */
typedef struct
{
  guint n;
  char **paths;        /* n, NULL-terminated */
  guint *truth;        /* n */
  guint *predicted;    /* n */
} GraftRunPredictions;

#define GRAFT_TYPE_RUN_RECORD (graft_run_record_get_type ())
G_DECLARE_FINAL_TYPE (GraftRunRecord, graft_run_record, GRAFT, RUN_RECORD,
                      GObject)

/* Reads @dir/run.json (and app.json when there).  Blocking. */
GraftRunRecord *graft_run_record_load (const char *dir, GError **error);

const char   *graft_run_record_get_dir         (GraftRunRecord *self);
/* "name": the user's name for the run, else the folder's name.  Setting
 * it writes app.json on a worker; "" or NULL goes back to the folder's
 * name. */
const char   *graft_run_record_get_name        (GraftRunRecord *self);
void          graft_run_record_set_name        (GraftRunRecord *self,
                                                const char *name);
/* TRUE while a new name is being written. */
gboolean      graft_run_record_get_saving      (GraftRunRecord *self);

const GraftRunConfig *graft_run_record_get_config (GraftRunRecord *self);
GraftRunMode  graft_run_record_get_mode        (GraftRunRecord *self);
/* When the run started (from the folder's name), else when run.json was
 * last written. */
GDateTime    *graft_run_record_get_date        (GraftRunRecord *self);
/* run.json's "status": running, finished, stopped or failed. */
const char   *graft_run_record_get_status      (GraftRunRecord *self);
/* Status "running" while no trainer held the folder's lock when the
 * record was read: the process training it crashed or was killed. */
gboolean      graft_run_record_get_interrupted (GraftRunRecord *self);
/* Whether training can go on from the folder's checkpoint: the run was
 * stopped, or interrupted. */
gboolean      graft_run_record_get_resumable   (GraftRunRecord *self);
/* The class names, NULL-terminated, in label order. */
const char *const *graft_run_record_get_class_names (GraftRunRecord *self);

/* GraftEpochReport *, oldest first. */
GPtrArray    *graft_run_record_get_epochs      (GraftRunRecord *self);
/* The best epoch's report (its weights are the ones exported), and the
 * last one; NULL before any epoch. */
const GraftEpochReport *graft_run_record_get_best (GraftRunRecord *self);
const GraftEpochReport *graft_run_record_get_last (GraftRunRecord *self);
double        graft_run_record_get_wall_seconds (GraftRunRecord *self);
/* Training pictures × epochs done / wall seconds; NaN when unknown. */
double        graft_run_record_get_pictures_per_second (GraftRunRecord *self);
/* FALSE when run.json does not say ("trainable_parameters" at its top
 * level or in "final"). */
gboolean      graft_run_record_get_trainable_params (GraftRunRecord *self,
                                                     guint64 *n);

/* The training loss per step (@validation FALSE) or the validation loss
 * per epoch, against @axis: newly allocated arrays of the returned
 * length. */
gsize         graft_run_record_get_curve       (GraftRunRecord *self,
                                                GraftRunAxis axis,
                                                gboolean validation,
                                                double **x, double **y);

/* Starts computing the predictions on a worker, once (a run without
 * model.onnx gets an error instead); "predictions" notifies when they or
 * the error are there.  Computed once and kept. */
void          graft_run_record_ensure_predictions (GraftRunRecord *self);
const GraftRunPredictions *graft_run_record_get_predictions
                                               (GraftRunRecord *self);
const char   *graft_run_record_get_predictions_error (GraftRunRecord *self);

G_END_DECLS
