/* graft-backbone.h: a backbone as everything above the engine sees it —
 * loaded by bundled id or ONNX path (on a worker thread, with progress
 * and cancellation), its metadata, input size, parameter count, the cut
 * (the bottleneck, or a 4-D feature map chosen by name), the blocks up to
 * the cut, its preprocessing, and top-k predictions for pictures.
 *
 * The trainer, the estimate, graft-cli and the desktop app all load
 * backbones through this one object; none of them calls the ONNX
 * importer itself.  The app never sees a tensor: what a GraftBackbone
 * tells is plain numbers and strings.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define GRAFT_TYPE_BACKBONE (graft_backbone_get_type ())
G_DECLARE_FINAL_TYPE (GraftBackbone, graft_backbone, GRAFT, BACKBONE, GObject)

/* Where a backbone came from, for the Backbone page's "source". */
typedef enum
{
  GRAFT_BACKBONE_BUNDLED,   /* shipped with Graft, named by id */
  GRAFT_BACKBONE_FILE,      /* an ONNX file given by path */
} GraftBackboneOrigin;

/* One block up to the cut, in graph order (the unit of freezing). */
typedef struct
{
  char *name;        /* "block 3": the name stage events give it too */
  char *first_node;  /* its first node in the file, e.g. "layer3.0.conv1" */
  const char *kind;  /* "plain", "residual", "inverted-residual", ... */
  guint64 n_params;  /* weights in the block */
  guint channels, height, width;   /* the block's output map */
} GraftBackboneBlock;

/* How pictures are prepared for the backbone; a pixel p in [0, 255] of
 * channel c enters as (p · scale − mean[c]) / std[c]. */
typedef enum
{
  GRAFT_RESIZE_SHORTER_CROP,   /* shorter side to size, centre crop */
  GRAFT_RESIZE_SQUASH,         /* both sides to size */
} GraftResize;

typedef struct
{
  guint height, width, channels;
  GraftResize resize;
  gboolean bgr;                /* channel order BGR, else RGB */
  double scale;
  double mean[3], std[3];
  gboolean from_file;          /* FALSE: defaulted, the user may correct it */
} GraftPreprocessing;

typedef enum
{
  GRAFT_PRESET_IMAGENET_TORCH,
  GRAFT_PRESET_KERAS_TF,
  GRAFT_PRESET_KERAS_CAFFE,
} GraftPreprocessingPreset;

/* One of the top-k predictions for a picture. */
typedef struct
{
  guint index;       /* output index */
  const char *label; /* from the model's graft.labels, else "class N" */
  double probability;
} GraftPrediction;

/* Loading progress: 0..1 and what is being done ("Reading", "Building
 * the graph", "Finding blocks"), called on the caller's main context. */
typedef void (*GraftBackboneProgressFunc) (double fraction, const char *what,
                                           gpointer user_data);

/* @spec: an existing ONNX file's path, else a bundled backbone's id.
 * Finds the bottleneck and the blocks up to it.  Fails with one line
 * naming the problem (the importer's reason for a broken file). */
GraftBackbone *graft_backbone_load        (const char *spec,
                                           GCancellable *cancellable,
                                           GError **error);
void           graft_backbone_load_async  (const char *spec,
                                           GraftBackboneProgressFunc progress,
                                           gpointer progress_data,
                                           GDestroyNotify progress_data_free,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
GraftBackbone *graft_backbone_load_finish (GAsyncResult *result,
                                           GError **error);

const char   *graft_backbone_get_spec     (GraftBackbone *self);  /* as given */
const char   *graft_backbone_get_path     (GraftBackbone *self);  /* resolved */
GraftBackboneOrigin graft_backbone_get_origin (GraftBackbone *self);
const char   *graft_backbone_get_name     (GraftBackbone *self);
const char   *graft_backbone_get_source   (GraftBackbone *self);
/* A metadata_props value, or NULL. */
const char   *graft_backbone_get_metadata (GraftBackbone *self,
                                           const char *key);
guint64       graft_backbone_get_n_params (GraftBackbone *self);
void          graft_backbone_get_input_size (GraftBackbone *self,
                                             guint *channels, guint *height,
                                             guint *width);

/* The cut: the bottleneck unless set.  Setting NULL goes back to the
 * bottleneck; a name that is not a 4-D feature map of the graph is
 * refused with "TENSOR: not a 4-D feature map of the model" and changes
 * nothing.  The blocks are those up to the cut. */
const char   *graft_backbone_get_cut      (GraftBackbone *self);
gboolean      graft_backbone_set_cut      (GraftBackbone *self,
                                           const char *tensor,
                                           GError **error);
void          graft_backbone_get_cut_shape (GraftBackbone *self,
                                            guint *channels, guint *height,
                                            guint *width);
guint         graft_backbone_get_n_blocks (GraftBackbone *self);
const GraftBackboneBlock *graft_backbone_get_block (GraftBackbone *self,
                                                    guint index);

void          graft_backbone_get_preprocessing (GraftBackbone *self,
                                                GraftPreprocessing *pre);
void          graft_preprocessing_preset (GraftPreprocessing *pre,
                                          GraftPreprocessingPreset preset,
                                          guint height, guint width);

/* The top @k predictions of the model's own output (a backbone with its
 * classifier, or a run's model.onnx) for the picture at @path, best
 * first; an array of GraftPrediction with labels owned by @self.  Runs
 * on the calling thread: call it from a worker. */
GArray       *graft_backbone_predict      (GraftBackbone *self,
                                           const char *path, guint k,
                                           GError **error);

/* Writes the model to @dest as one self-contained ONNX file (a temporary
 * file in the same folder, then rename), its graft.* preprocessing keys
 * set from @pre (NULL: as loaded) and every other metadata entry kept.
 * The app copies imported models into the user's data folder with it,
 * and rewrites the copy when the user corrects the preprocessing.  Runs
 * on the calling thread. */
gboolean      graft_backbone_save_copy    (GraftBackbone *self,
                                           const GraftPreprocessing *pre,
                                           const char *dest,
                                           GError **error);

G_END_DECLS
