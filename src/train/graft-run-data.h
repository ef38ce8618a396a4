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
 * consecutive tensors at @out.  JPEGs decode at the smallest scale the
 * preprocessing and the random crops allow; with augmentation on, the
 * decoded pictures are kept in memory for later epochs (GraftImageCache,
 * up to its budget), and one whose file changed or vanished since is
 * read again, so it is found lost as without the cache.  A picture that cannot be read (the scan
 * read it: it was deleted, changed or locked since) is marked lost, with
 * its reason, and listed in the description's "lost" array; then FALSE
 * with GRAFT_DATA_ERROR_LOST, the batch to be filled again without it.
 * Any other error is the pool's. */
gboolean graft_run_data_fill_batch (GraftRunData *data, const guint *samples,
                                    guint n, guint view, float *out,
                                    GError **error);

/* Lost pictures: whether @sample is, why (NULL when it is not), and how
 * many are. */
gboolean     graft_run_data_is_lost     (GraftRunData *data, guint sample);
const char  *graft_run_data_lost_reason (GraftRunData *data, guint sample);
guint        graft_run_data_n_lost      (GraftRunData *data);
/* Copies the samples of @samples[0..n) not lost into @out (room for
 * @n), in order; returns how many. */
guint        graft_run_data_keep_present (GraftRunData *data,
                                          const guint *samples, guint n,
                                          guint *out);
/* FALSE, with a one-line reason, when the lost pictures leave a class
 * without training pictures or are more than half of all. */
gboolean     graft_run_data_check_lost  (GraftRunData *data, GError **error);
/* Puts the "lost" entries of @previous (an earlier session's "data"
 * object in run.json; may be NULL) before this session's. */
void         graft_run_data_keep_earlier_lost (GraftRunData *data,
                                               JsonNode *previous);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftRunData, graft_run_data_free)

G_END_DECLS
