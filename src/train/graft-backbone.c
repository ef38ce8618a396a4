/* graft-backbone.c: a backbone loaded once for everything above the
 * engine — its metadata, the cut and the blocks up to it, its
 * preprocessing, predictions, and a copy written elsewhere.
 *
 * Loading runs on the caller's thread (graft_backbone_load) or on a GTask
 * thread whose progress a GraftProgressRelay carries to the caller's main
 * context, as it carries a scan's: the latest report under a lock, at
 * most one idle pending, nothing after the result is collected. */
#define G_LOG_DOMAIN "graft-backbone"

#include "graft-backbone-private.h"

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "gf-onnx.h"
#include "graft-backbones.h"
#include "graft-error.h"
#include "graft-image.h"
#include "graft-json.h"
#include "graft-progress-relay.h"

#define LABELS_KEY "graft.labels"

struct _GraftBackbone
{
  GObject parent_instance;

  char *spec;                  /* as given */
  char *path;                  /* the file it names */
  GraftBackboneOrigin origin;
  GfModel *model;
  guint64 n_params;
  int bottleneck;
  int cut;
  GfBlock *gf_blocks;          /* input → cut, malloc'ed by the engine */
  gsize n_blocks;
  GraftBackboneBlock *blocks;  /* the same, as the app sees them */

  /* Predictions, one at a time: the labels are read and the graph is
   * planned (for one picture) on first use. */
  GMutex predict_lock;
  char **labels;
  gboolean sigmoid;            /* one output for two labels */
  gboolean probabilities;      /* the output is already Softmax/Sigmoid */
  gboolean planned;
};

G_DEFINE_FINAL_TYPE (GraftBackbone, graft_backbone, G_TYPE_OBJECT)

/* Called by the loader at each phase; the async loader relays it. */
typedef void (*ReportFunc) (double fraction, const char *what,
                            gpointer data);

/* ---- Blocks and the cut ------------------------------------------------- */

static void
clear_blocks (GraftBackbone *self)
{
  for (gsize i = 0; self->blocks != NULL && i < self->n_blocks; i++)
    {
      g_free (self->blocks[i].name);
      g_free (self->blocks[i].first_node);
    }
  g_clear_pointer (&self->blocks, g_free);
  g_clear_pointer (&self->gf_blocks, free);
  self->n_blocks = 0;
}

static void
map_shape (const GfGraph *graph, int tensor, guint *channels, guint *height,
           guint *width)
{
  size_t dims[GF_MAX_DIMS] = { 0 };
  gboolean map = gf_graph_tensor_shape (graph, tensor, dims) == 4;

  if (channels != NULL)
    *channels = (guint) dims[1];
  if (height != NULL)
    *height = map ? (guint) dims[2] : 1;
  if (width != NULL)
    *width = map ? (guint) dims[3] : 1;
}

/* Divides input → @cut into blocks; on failure nothing changes. */
static gboolean
use_cut (GraftBackbone *self, int cut, GError **error)
{
  const GfGraph *graph = self->model->graph;
  GfError gf_error = { 0 };
  GfBlock *blocks = NULL;
  size_t n = 0;
  GfStatus status = gf_find_blocks (graph, self->model->input, cut, &blocks,
                                    &n, &gf_error);

  if (status != GF_OK)
    return graft_engine_error (error, status, &gf_error);
  clear_blocks (self);
  self->cut = cut;
  self->gf_blocks = blocks;
  self->n_blocks = n;
  self->blocks = g_new0 (GraftBackboneBlock, n);
  for (gsize i = 0; i < n; i++)
    {
      GraftBackboneBlock *b = &self->blocks[i];
      b->name = g_strdup_printf ("block %" G_GSIZE_FORMAT, i + 1);
      b->first_node = g_strdup (gf_graph_node_name (graph,
                                                    blocks[i].first_node));
      b->kind = gf_block_kind_to_string (blocks[i].kind);
      b->n_params = blocks[i].n_parameters;
      map_shape (graph, blocks[i].output, &b->channels, &b->height,
                 &b->width);
    }
  return TRUE;
}

/* Only a map the image flows into can be cut at: an activation with
 * (N, C, H, W).  Anything else (a Flatten's output, a logit) would leave
 * the head nothing to pool. */
static gboolean
is_feature_map (const GfGraph *graph, int tensor)
{
  size_t dims[GF_MAX_DIMS];

  return tensor >= 0
    && gf_graph_tensor_kind (graph, tensor) == GF_TENSOR_ACTIVATION
    && gf_graph_tensor_shape (graph, tensor, dims) == 4;
}

gboolean
graft_backbone_set_cut (GraftBackbone *self, const char *tensor,
                        GError **error)
{
  const GfGraph *graph;
  int cut;

  g_return_val_if_fail (GRAFT_IS_BACKBONE (self), FALSE);

  graph = self->model->graph;
  cut = tensor != NULL ? gf_graph_find_tensor (graph, tensor)
    : self->bottleneck;
  if (!is_feature_map (graph, cut))
    {
      g_set_error (error, GRAFT_ENGINE_ERROR, GF_ERR_INVALID,
                   "%s: not a 4-D feature map of the model", tensor);
      return FALSE;
    }
  return cut == self->cut || use_cut (self, cut, error);
}

/* ---- Loading ------------------------------------------------------------ */

static guint64
count_params (const GfGraph *graph)
{
  guint64 n = 0;

  for (size_t i = 0; i < gf_graph_n_tensors (graph); i++)
    if (gf_graph_tensor_kind (graph, (int) i) == GF_TENSOR_PARAM)
      n += gf_graph_tensor_count (graph, (int) i);
  return n;
}

static gboolean
engine_failed (const char *spec, GError **error, GfStatus status,
               const GfError *gf_error)
{
  graft_engine_error (error, status, gf_error);
  g_prefix_error (error, "%s: ", spec);
  return FALSE;
}

/* The model, its bottleneck and the blocks up to it. */
static gboolean
load_model (GraftBackbone *self, ReportFunc report, gpointer data,
            GCancellable *cancellable, GError **error)
{
  GfError gf_error = { 0 };
  GfStatus status;
  GfModel *m;

  report (0.0, "Reading", data);
  status = gf_onnx_load (self->path, NULL, &self->model, &gf_error);
  if (status != GF_OK)
    return engine_failed (self->spec, error, status, &gf_error);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  report (0.8, "Finding blocks", data);
  m = self->model;
  self->n_params = count_params (m->graph);
  status = gf_find_bottleneck (m->graph, m->input, m->output,
                               &self->bottleneck, &gf_error);
  if (status != GF_OK)
    return engine_failed (self->spec, error, status, &gf_error);
  if (!use_cut (self, self->bottleneck, error))
    {
      g_prefix_error (error, "%s: ", self->spec);
      return FALSE;
    }
  report (1.0, "Done", data);
  return TRUE;
}

static void
report_nothing (double fraction, const char *what, gpointer data)
{
}

static GraftBackbone *
load (const char *spec, ReportFunc report, gpointer data,
      GCancellable *cancellable, GError **error)
{
  g_autoptr (GraftBackbone) self = NULL;
  g_autofree char *path = graft_backbones_resolve (spec, error);

  if (path == NULL || g_cancellable_set_error_if_cancelled (cancellable,
                                                            error))
    return NULL;
  self = g_object_new (GRAFT_TYPE_BACKBONE, NULL);
  self->spec = g_strdup (spec);
  /* graft_backbones_resolve gives a path back as it was given. */
  self->origin = g_str_equal (path, spec) ? GRAFT_BACKBONE_FILE
    : GRAFT_BACKBONE_BUNDLED;
  self->path = g_steal_pointer (&path);
  if (!load_model (self, report, data, cancellable, error))
    return NULL;
  return g_steal_pointer (&self);
}

GraftBackbone *
graft_backbone_load (const char *spec, GCancellable *cancellable,
                     GError **error)
{
  g_return_val_if_fail (spec != NULL, NULL);

  return load (spec, report_nothing, NULL, cancellable, error);
}

/* ---- Loading on a thread -------------------------------------------------- */

typedef struct
{
  double fraction;
  const char *what;            /* a static string */
} LoadReport;

/* On the caller's context. */
static void
deliver (gconstpointer report, GCallback progress, gpointer data)
{
  const LoadReport *r = report;

  ((GraftBackboneProgressFunc) progress) (r->fraction, r->what, data);
}

/* On the worker. */
static void
post_progress (double fraction, const char *what, gpointer relay)
{
  LoadReport report = { fraction, what };

  graft_progress_relay_post (relay, &report);
}

/* @spec is the task's data. */
static void
load_thread (GTask *task, gpointer source, gpointer spec,
             GCancellable *cancellable)
{
  GError *error = NULL;
  GraftBackbone *self = load (spec, post_progress,
                              graft_progress_relay_get (task), cancellable,
                              &error);

  if (self == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, self, g_object_unref);
}

void
graft_backbone_load_async (const char *spec,
                           GraftBackboneProgressFunc progress,
                           gpointer progress_data,
                           GDestroyNotify progress_data_free,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback,
                                       user_data);

  graft_progress_relay_attach (task, sizeof (LoadReport), deliver,
                               G_CALLBACK (progress), progress_data,
                               progress_data_free,
                               "[graft] backbone progress");
  g_task_set_source_tag (task, graft_backbone_load_async);
  g_task_set_task_data (task, g_strdup (spec), g_free);
  g_task_run_in_thread (task, load_thread);
}

GraftBackbone *
graft_backbone_load_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return graft_progress_relay_finish (G_TASK (result), error);
}

/* ---- What it is --------------------------------------------------------- */

const char *
graft_backbone_get_spec (GraftBackbone *self)
{
  return self->spec;
}

const char *
graft_backbone_get_path (GraftBackbone *self)
{
  return self->path;
}

GraftBackboneOrigin
graft_backbone_get_origin (GraftBackbone *self)
{
  return self->origin;
}

const char *
graft_backbone_get_name (GraftBackbone *self)
{
  return self->model->name;
}

const char *
graft_backbone_get_source (GraftBackbone *self)
{
  return self->model->source;
}

const char *
graft_backbone_get_metadata (GraftBackbone *self, const char *key)
{
  return gf_metadata_lookup (self->model->metadata, self->model->n_metadata,
                             key);
}

guint64
graft_backbone_get_n_params (GraftBackbone *self)
{
  return self->n_params;
}

void
graft_backbone_get_input_size (GraftBackbone *self, guint *channels,
                               guint *height, guint *width)
{
  map_shape (self->model->graph, self->model->input, channels, height,
             width);
}

const char *
graft_backbone_get_cut (GraftBackbone *self)
{
  return gf_graph_tensor_name (self->model->graph, self->cut);
}

void
graft_backbone_get_cut_shape (GraftBackbone *self, guint *channels,
                              guint *height, guint *width)
{
  map_shape (self->model->graph, self->cut, channels, height, width);
}

guint
graft_backbone_get_n_blocks (GraftBackbone *self)
{
  return (guint) self->n_blocks;
}

const GraftBackboneBlock *
graft_backbone_get_block (GraftBackbone *self, guint index)
{
  g_return_val_if_fail (index < self->n_blocks, NULL);

  return &self->blocks[index];
}

GfModel *
graft_backbone_get_model (GraftBackbone *self)
{
  return self->model;
}

int
graft_backbone_get_cut_tensor (GraftBackbone *self)
{
  return self->cut;
}

int
graft_backbone_get_bottleneck (GraftBackbone *self)
{
  return self->bottleneck;
}

const GfBlock *
graft_backbone_get_gf_blocks (GraftBackbone *self, gsize *n_blocks)
{
  *n_blocks = self->n_blocks;
  return self->gf_blocks;
}

/* ---- Preprocessing ------------------------------------------------------ */

void
graft_preprocessing_from_gf (GraftPreprocessing *pre, const GfPreprocess *gf,
                             gboolean from_file)
{
  pre->height = (guint) gf->height;
  pre->width = (guint) gf->width;
  pre->channels = (guint) gf->channels;
  pre->resize = gf->resize == GF_RESIZE_SQUASH ? GRAFT_RESIZE_SQUASH
    : GRAFT_RESIZE_SHORTER_CROP;
  pre->bgr = gf->order == GF_CHANNELS_BGR;
  pre->scale = gf->scale;
  memcpy (pre->mean, gf->mean, sizeof pre->mean);
  memcpy (pre->std, gf->std, sizeof pre->std);
  pre->from_file = from_file;
}

void
graft_preprocessing_to_gf (const GraftPreprocessing *pre, GfPreprocess *gf)
{
  gf->height = pre->height;
  gf->width = pre->width;
  gf->channels = pre->channels;
  gf->resize = pre->resize == GRAFT_RESIZE_SQUASH ? GF_RESIZE_SQUASH
    : GF_RESIZE_SHORTER_CROP;
  gf->order = pre->bgr ? GF_CHANNELS_BGR : GF_CHANNELS_RGB;
  gf->scale = pre->scale;
  memcpy (gf->mean, pre->mean, sizeof gf->mean);
  memcpy (gf->std, pre->std, sizeof gf->std);
}

void
graft_backbone_get_preprocessing (GraftBackbone *self,
                                  GraftPreprocessing *pre)
{
  graft_preprocessing_from_gf (pre, &self->model->preprocess,
                               self->model->preprocess_from_file);
}

void
graft_preprocessing_preset (GraftPreprocessing *pre,
                            GraftPreprocessingPreset preset, guint height,
                            guint width)
{
  GfPreprocess gf;

  gf_preprocess_preset (&gf, (GfPreprocessPreset) preset, height, width);
  graft_preprocessing_from_gf (pre, &gf, FALSE);
}

/* ---- A copy elsewhere --------------------------------------------------- */

/* The model's metadata with @pre's graft.* keys (none when @pre is NULL:
 * a defaulted preprocessing stays a default the user is asked to check),
 * and its name and source kept as keys: the copy's producer is Graft, and
 * its graph name may not survive. */
static GfStatus
copy_metadata (const GfModel *m, const GfPreprocess *pre,
               GfMetadataEntry **meta, size_t *n, GfError *gf_error)
{
  GfMetadataEntry *keys = NULL;
  size_t n_keys = 0;
  GfStatus status = GF_OK;

  for (size_t i = 0; i < m->n_metadata && status == GF_OK; i++)
    status = gf_metadata_set (meta, n, m->metadata[i].key,
                              m->metadata[i].value, gf_error);
  if (status == GF_OK && gf_metadata_lookup (*meta, *n, "graft.name") == NULL)
    status = gf_metadata_set (meta, n, "graft.name", m->name, gf_error);
  if (status == GF_OK && m->source != NULL
      && gf_metadata_lookup (*meta, *n, "graft.source") == NULL)
    status = gf_metadata_set (meta, n, "graft.source", m->source, gf_error);
  if (status == GF_OK && pre != NULL)
    status = gf_preprocess_to_metadata (pre, &keys, &n_keys, gf_error);
  for (size_t i = 0; i < n_keys && status == GF_OK; i++)
    status = gf_metadata_set (meta, n, keys[i].key, keys[i].value,
                              gf_error);
  gf_metadata_free (keys, n_keys);
  return status;
}

gboolean
graft_backbone_save_copy (GraftBackbone *self, const GraftPreprocessing *pre,
                          const char *dest, GError **error)
{
  GfModel *m;
  GfPreprocess gf;
  GfMetadataEntry *meta = NULL;
  size_t n_meta = 0;
  GfError gf_error = { 0 };
  GfStatus status;

  g_return_val_if_fail (GRAFT_IS_BACKBONE (self), FALSE);
  g_return_val_if_fail (dest != NULL, FALSE);

  m = self->model;
  gf = m->preprocess;
  if (pre != NULL)
    graft_preprocessing_to_gf (pre, &gf);
  /* The size is the network's, not a choice. */
  gf.height = m->preprocess.height;
  gf.width = m->preprocess.width;
  gf.channels = m->preprocess.channels;
  status = copy_metadata (m, pre != NULL || m->preprocess_from_file
                          ? &gf : NULL, &meta, &n_meta, &gf_error);
  if (status == GF_OK)
    {
      GfOnnxExport what = { m->input, m->output, m->name, meta, n_meta };
      status = gf_onnx_save (m->graph, &what, dest, &gf_error);
    }
  gf_metadata_free (meta, n_meta);
  if (status != GF_OK)
    return engine_failed (dest, error, status, &gf_error);
  return TRUE;
}

/* ---- Predictions -------------------------------------------------------- */

/* graft.labels: a JSON array of at least two strings.  The text comes
 * from a model file, which may be anyone's: it is checked for size and
 * nesting before json-glib's parser, which recurses once per level. */
char **
graft_backbone_parse_labels (const char *text, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GStrvBuilder) labels = g_strv_builder_new ();
  gsize length = strlen (text);
  JsonNode *root = graft_json_check_text (text, length, NULL)
    && json_parser_load_from_data (parser, text, (gssize) length, NULL)
    ? json_parser_get_root (parser) : NULL;
  JsonArray *array = root != NULL && JSON_NODE_HOLDS_ARRAY (root)
    ? json_node_get_array (root) : NULL;

  if (array == NULL || json_array_get_length (array) < 2)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           LABELS_KEY " is not a JSON array of class "
                           "names");
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *label = json_node_get_value_type (node) == G_TYPE_STRING
        ? json_node_get_string (node) : NULL;
      if (label == NULL || !g_utf8_validate (label, -1, NULL))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               LABELS_KEY " holds something other than "
                               "names");
          return NULL;
        }
      g_strv_builder_add (labels, label);
    }
  return g_strv_builder_end (labels);
}

/* "class 0", "class 1", ...: two for a single output. */
static char **
numbered_labels (size_t outputs)
{
  g_autoptr (GStrvBuilder) labels = g_strv_builder_new ();

  for (size_t i = 0; i < MAX (outputs, 2); i++)
    {
      g_autofree char *label = g_strdup_printf ("class %zu", i);
      g_strv_builder_add (labels, label);
    }
  return g_strv_builder_end (labels);
}

/* Whether the node that gives the output already makes probabilities. */
static gboolean
ends_in_probabilities (const GfModel *m)
{
  for (size_t i = gf_graph_n_nodes (m->graph); i-- > 0;)
    if (gf_graph_node_output (m->graph, i) == m->output)
      {
        const GfNodeDesc *desc = gf_graph_node_desc (m->graph, i);
        return desc->kind == GF_OP_SOFTMAX
          || (desc->kind == GF_OP_ACTIVATION
              && desc->attr.activation.kind == GF_ACT_SIGMOID);
      }
  return FALSE;
}

/* Under the predict lock. */
static gboolean
read_labels (GraftBackbone *self, GError **error)
{
  const GfModel *m = self->model;
  const char *text = graft_backbone_get_metadata (self, LABELS_KEY);
  size_t outputs = gf_graph_tensor_count (m->graph, m->output);
  char **labels = text != NULL ? graft_backbone_parse_labels (text, error)
    : numbered_labels (outputs);
  guint n;

  if (labels == NULL)
    return FALSE;
  n = g_strv_length (labels);
  if (!(outputs == 1 && n == 2) && outputs != n)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%zu outputs but %u labels", outputs, n);
      g_strfreev (labels);
      return FALSE;
    }
  self->labels = labels;
  self->sigmoid = outputs == 1;
  self->probabilities = ends_in_probabilities (m);
  return TRUE;
}

const char *const *
graft_backbone_get_labels (GraftBackbone *self, gboolean *sigmoid,
                           GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->predict_lock);

  if (self->labels == NULL && !read_labels (self, error))
    return NULL;
  if (sigmoid != NULL)
    *sigmoid = self->sigmoid;
  return (const char *const *) self->labels;
}

/* One probability per label from the output row @out. */
static void
to_probabilities (GraftBackbone *self, const gf_real *out, double *probs,
                  guint n)
{
  double max = -INFINITY, sum = 0;

  if (self->sigmoid)
    {
      probs[1] = self->probabilities ? out[0] : 1 / (1 + exp (-out[0]));
      probs[0] = 1 - probs[1];
      return;
    }
  for (guint c = 0; c < n; c++)
    max = MAX (max, out[c]);
  for (guint c = 0; c < n; c++)
    sum += probs[c] = self->probabilities ? out[c] : exp (out[c] - max);
  for (guint c = 0; !self->probabilities && c < n; c++)
    probs[c] /= sum;
}

/* Labels by falling probability; equal ones keep the labels' order. */
static guint *
rank (const double *probs, guint n)
{
  guint *order = g_new (guint, n);

  for (guint i = 0; i < n; i++)
    {
      guint j = i;
      for (; j > 0 && probs[order[j - 1]] < probs[i]; j--)
        order[j] = order[j - 1];
      order[j] = i;
    }
  return order;
}

/* Under the predict lock: the output row for @pixbuf. */
static const gf_real *
forward (GraftBackbone *self, GdkPixbuf *pixbuf, GError **error)
{
  GfModel *m = self->model;
  GfError gf_error = { 0 };
  GfStatus status = GF_OK;

  if (!self->planned)
    status = gf_graph_plan (m->graph, 1, GF_GRAPH_INFER, &gf_error);
  self->planned = status == GF_OK;
  if (status == GF_OK)
    {
      G_STATIC_ASSERT (sizeof (gf_real) == sizeof (float));
      graft_image_to_tensor (pixbuf, &m->preprocess,
                             gf_graph_tensor_data (m->graph, m->input));
      status = gf_graph_forward (m->graph, 1, GF_GRAPH_INFER, &gf_error);
    }
  if (status != GF_OK)
    return graft_engine_error (error, status, &gf_error), NULL;
  return gf_graph_tensor_data (m->graph, m->output);
}

GArray *
graft_backbone_predict (GraftBackbone *self, const char *path, guint k,
                        GError **error)
{
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  g_autoptr (GMutexLocker) locker = NULL;
  g_autofree double *probs = NULL;
  g_autofree guint *order = NULL;
  const gf_real *out;
  GraftImageNeed need;
  GArray *top;
  guint n;

  g_return_val_if_fail (GRAFT_IS_BACKBONE (self), NULL);

  if (graft_backbone_get_labels (self, NULL, error) == NULL)
    return NULL;
  /* A photo decodes no larger than the network's input needs. */
  graft_image_need_init (&need, &self->model->preprocess, NULL);
  if ((pixbuf = graft_image_load_for (path, GRAFT_DEFAULT_MAX_PIXELS, &need,
                                      error)) == NULL)
    return NULL;
  locker = g_mutex_locker_new (&self->predict_lock);
  if ((out = forward (self, pixbuf, error)) == NULL)
    return NULL;
  n = g_strv_length (self->labels);
  probs = g_new (double, n);
  to_probabilities (self, out, probs, n);
  order = rank (probs, n);
  top = g_array_sized_new (FALSE, FALSE, sizeof (GraftPrediction),
                           MIN (k, n));
  for (guint i = 0; i < MIN (k, n); i++)
    {
      GraftPrediction p = { order[i], self->labels[order[i]],
                            probs[order[i]] };
      g_array_append_val (top, p);
    }
  return top;
}

/* ---- GObject ------------------------------------------------------------ */

static void
graft_backbone_finalize (GObject *object)
{
  GraftBackbone *self = GRAFT_BACKBONE (object);

  clear_blocks (self);
  g_clear_pointer (&self->model, gf_model_free);
  g_clear_pointer (&self->labels, g_strfreev);
  g_free (self->spec);
  g_free (self->path);
  g_mutex_clear (&self->predict_lock);
  G_OBJECT_CLASS (graft_backbone_parent_class)->finalize (object);
}

static void
graft_backbone_class_init (GraftBackboneClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = graft_backbone_finalize;
}

static void
graft_backbone_init (GraftBackbone *self)
{
  self->cut = self->bottleneck = -1;
  g_mutex_init (&self->predict_lock);
}
