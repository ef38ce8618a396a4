/* graft-run-files.h: what a run leaves in its folder.
 *
 *   run.json          configuration, data summary, per-step loss, per-epoch
 *                     metrics, stage events, the weights that train,
 *                     status, final metrics
 *   checkpoint.safetensors, best.safetensors
 *                     weights (and optimizer state) after the last / best
 *                     epoch
 *   head.onnx, head.safetensors, head.json, model.onnx
 *                     the trained head, and the whole model, when finished
 *   lock              empty; a trainer holds an exclusive flock () on it
 *                     while it works on the folder, so that no two train
 *                     the same run at once.  Left behind: the lock goes
 *                     with the process, the file does not matter.
 *
 * Every file is written whole under a temporary name and renamed.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "gf-model.h"
#include "graft-head.h"
#include "graft-run.h"

G_BEGIN_DECLS

#define GRAFT_RUN_JSON "run.json"
#define GRAFT_RUN_LOCK "lock"

typedef struct _GraftRunHistory GraftRunHistory;

GraftRunHistory *graft_run_history_new      (void);
void             graft_run_history_free     (GraftRunHistory *history);
void graft_run_history_add_step  (GraftRunHistory *history, guint step,
                                  guint epoch, double loss, double lr);
void graft_run_history_add_epoch (GraftRunHistory *history,
                                  const GraftEpochReport *report);
void graft_run_history_add_stage (GraftRunHistory *history, guint epoch,
                                  guint step, const char *block,
                                  const char *reason);
void graft_run_history_set_best  (GraftRunHistory *history, guint epoch);
/* The scalar weights the run's latest stage trains (the head and the
 * unfrozen blocks): run.json's "trainable_parameters", null until set. */
void graft_run_history_set_trainable (GraftRunHistory *history,
                                      guint64 n_params);
/* The best epoch so far (0: none) and its validation loss. */
guint graft_run_history_best     (GraftRunHistory *history, double *loss);
/* The epochs recorded, in order; borrowed. */
guint graft_run_history_n_epochs (GraftRunHistory *history);
const GraftEpochReport *graft_run_history_get_epoch (GraftRunHistory *history,
                                                     guint index);
/* Forgets steps from @steps on and epochs after @epochs. */
void graft_run_history_truncate  (GraftRunHistory *history, guint steps,
                                  guint epochs);
void graft_run_history_finish    (GraftRunHistory *history,
                                  const char *stop_reason,
                                  double session_seconds);

/* One item of a history, for graft_run_history_foreach (): exactly one
 * of @step, @epoch and @stage is not NULL, and all are borrowed.  Steps
 * have @seconds 0: run.json keeps no time per step. */
typedef void (*GraftRunHistoryFunc) (const GraftStepPoint *step,
                                     const GraftEpochReport *epoch,
                                     const GraftStageEvent *stage,
                                     gpointer user_data);
/* Every step, epoch and stage in the order a run reports them: an epoch
 * after its last step, a stage after the epoch that ended the one before
 * it and before its own first step. */
void graft_run_history_foreach   (GraftRunHistory *history,
                                  GraftRunHistoryFunc func,
                                  gpointer user_data);

/* Writes run.json.  @data (may be NULL) is borrowed. */
gboolean graft_run_files_write (const char *run_dir,
                                const GraftRunConfig *config, JsonNode *data,
                                GraftRunHistory *history, const char *status,
                                const char *message, GError **error);

GraftRunConfig  *graft_run_files_read_config  (const char *run_dir,
                                               GError **error);
GraftRunHistory *graft_run_files_read_history (const char *run_dir,
                                               GError **error);
/* The same for a run that must have finished (an imported one). */
GraftRunHistory *graft_run_files_read_finished (const char *run_dir,
                                                GError **error);

/* Takes @run_dir's lock for a trainer (creating the file): a descriptor
 * to close when the trainer is done, or -1 with a G_IO_ERROR_BUSY @error
 * when another trainer, in this process or another, holds it. */
int      graft_run_files_lock   (const char *run_dir, GError **error);
/* Whether a trainer holds @run_dir's lock now.  FALSE without a lock
 * file: no Graft trainer has worked on the folder since it had one. */
gboolean graft_run_files_in_use (const char *run_dir);

/* head.json: labels, the backbone's name and SHA-256 (of the file at
 * @backbone_path), the cut and its shape, preprocessing, head layout. */
gboolean graft_run_files_write_head_json (const char *run_dir,
                                          const GfModel *model,
                                          const char *backbone_path, int cut,
                                          const GraftHeadLayout *head,
                                          char **labels, GError **error);

/* The members of a "preprocess" object (size, resize, channels, scale,
 * mean, std) into the object @b is building: head.json and graft-cli
 * inspect describe preprocessing alike. */
void graft_run_files_add_preprocess (JsonBuilder *b, const GfPreprocess *pre);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftRunHistory, graft_run_history_free)

G_END_DECLS
