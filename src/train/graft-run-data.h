/* graft-run-data.h: a run's pictures — scanned, split, and turned into
 * input tensors view by view. */
#pragma once

#include <json-glib/json-glib.h>

#include "gf-preprocess.h"
#include "graft-run-config.h"
#include "graft-trainer.h"

G_BEGIN_DECLS

typedef struct _GraftRunData GraftRunData;

/* Scans the configured folders and splits them; refuses a data set with
 * fewer than two classes that have pictures. */
GraftRunData *graft_run_data_load (const GraftRunConfig *config,
                                   const GfPreprocess *pre,
                                   GraftControl *control, GError **error);
void          graft_run_data_free (GraftRunData *data);

guint        graft_run_data_n_samples (GraftRunData *data);
guint        graft_run_data_n_classes (GraftRunData *data);
guint        graft_run_data_n_train   (GraftRunData *data);
guint        graft_run_data_n_val     (GraftRunData *data);
/* Sample indexes of each side, in scan order. */
const guint *graft_run_data_train     (GraftRunData *data);
const guint *graft_run_data_val       (GraftRunData *data);
guint        graft_run_data_label     (GraftRunData *data, guint sample);
const char  *graft_run_data_path      (GraftRunData *data, guint sample);
/* NULL-terminated, owned by @data. */
char       **graft_run_data_class_names (GraftRunData *data);
/* The class names as a JSON array, newly allocated. */
char        *graft_run_data_labels_json (GraftRunData *data);
/* The "data" object of run.json, owned by @data. */
JsonNode    *graft_run_data_describe  (GraftRunData *data);

/* The SHA-256 of picture @sample's file, and the text naming view @view's
 * recipe (for feature-cache keys). */
const char  *graft_run_data_sha256    (GraftRunData *data, guint sample);
char        *graft_run_data_view_key  (GraftRunData *data, guint view);
const GfPreprocess *graft_run_data_preprocess (GraftRunData *data);

/* Decodes picture @sample and writes view @view (0: plain; see
 * graft-augment.h) as the backbone's input tensor into @out. */
gboolean graft_run_data_fill (GraftRunData *data, guint sample, guint view,
                              float *out, GError **error);

/* The same for pictures @samples[0..n), decoded on every core, into
 * consecutive tensors at @out; the first failure is reported. */
gboolean graft_run_data_fill_batch (GraftRunData *data, const guint *samples,
                                    guint n, guint view, float *out,
                                    GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftRunData, graft_run_data_free)

G_END_DECLS
