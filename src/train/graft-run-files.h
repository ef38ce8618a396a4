/* graft-run-files.h: what a run leaves in its folder.
 *
 *   run.json          configuration, data summary, per-step loss, per-epoch
 *                     metrics, stage events, status, final metrics
 *   checkpoint.safetensors, best.safetensors
 *                     weights (and optimizer state) after the last / best
 *                     epoch
 *   head.onnx, head.safetensors, head.json, model.onnx
 *                     the trained head, and the whole model, when finished
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
/* The best epoch so far (0: none) and its validation loss. */
guint graft_run_history_best     (GraftRunHistory *history, double *loss);
/* Forgets steps from @steps on and epochs after @epochs. */
void graft_run_history_truncate  (GraftRunHistory *history, guint steps,
                                  guint epochs);
void graft_run_history_finish    (GraftRunHistory *history,
                                  const char *stop_reason,
                                  double session_seconds);

/* Writes run.json.  @data (may be NULL) is borrowed. */
gboolean graft_run_files_write (const char *run_dir,
                                const GraftRunConfig *config, JsonNode *data,
                                GraftRunHistory *history, const char *status,
                                const char *message, GError **error);

GraftRunConfig  *graft_run_files_read_config  (const char *run_dir,
                                               GError **error);
GraftRunHistory *graft_run_files_read_history (const char *run_dir,
                                               GError **error);

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
