/* graft-run-data.c: the data layer as a run sees it. */
#define G_LOG_DOMAIN "graft-run-data"

#include "graft-run-data.h"

#include <string.h>

#include "graft-augment.h"
#include "graft-decode-pool.h"
#include "graft-error.h"
#include "graft-image.h"
#include "graft-json.h"
#include "graft-scan.h"
#include "graft-text.h"

struct _GraftRunData
{
  GraftScan *scan;
  GfPreprocess pre;
  GraftAugment augment;
  guint64 seed;
  GArray *samples;       /* scan sample index of each run sample */
  GArray *labels;        /* run label of each run sample */
  GArray *train, *val;   /* run sample indexes */
  GPtrArray *names;      /* class names with pictures, NULL-terminated */
  JsonNode *description;
  GraftDecodePool *pool; /* batches decode on every core */
  GraftImageNeed need;   /* the scale JPEGs decode at */
  /* With augmentation every epoch makes new views of every picture: the
   * decoded pictures are kept (up to a budget) rather than decoded again.
   * Without it, the feature cache keeps the backbone's outputs and this
   * is NULL. */
  GraftImageCache *cache;
  /* Pictures the scan accepted that could not be read later in the run:
   * per run sample, the reason (NULL while it is there), and run.json's
   * "lost" entries, those a resumed run's earlier sessions lost first. */
  char **lost;
  JsonArray *lost_json;
};

void
graft_run_data_free (GraftRunData *data)
{
  if (data == NULL)
    return;
  if (data->lost != NULL)
    for (guint i = 0; i < data->samples->len; i++)
      g_free (data->lost[i]);
  g_free (data->lost);
  g_clear_pointer (&data->lost_json, json_array_unref);
  g_clear_pointer (&data->scan, graft_scan_free);
  g_array_unref (data->samples);
  g_array_unref (data->labels);
  g_array_unref (data->train);
  g_array_unref (data->val);
  g_ptr_array_unref (data->names);
  g_clear_pointer (&data->description, json_node_unref);
  g_clear_pointer (&data->pool, graft_decode_pool_free);
  g_clear_pointer (&data->cache, graft_image_cache_free);
  g_free (data);
}

/* With the app's labels each data folder is one class (the scan keeps
 * several folders as given), named as the user named it. */
static const char *
class_name (const GraftRunConfig *config, const GraftClass *klass)
{
  for (guint i = 0; config->labels != NULL && config->data[i] != NULL; i++)
    if (g_str_equal (config->data[i], klass->path))
      return config->labels[i];
  return klass->name;
}

static gboolean
check_one_class_a_folder (const GraftRunConfig *config, GraftScan *scan,
                          GError **error)
{
  guint n = g_strv_length (config->data);

  if (config->labels == NULL || scan->classes->len == n)
    return TRUE;
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NO_CLASSES,
               "labels: %u names for %u classes; with names, each data "
               "folder must be one class", n, scan->classes->len);
  return FALSE;
}

/* Classes without a usable picture are left out: a head cannot learn
 * them, and a user is told by the scan report. */
static void
index_samples (GraftRunData *data, const GraftRunConfig *config)
{
  GraftScan *scan = data->scan;
  g_autofree int *label_of = g_new (int, scan->classes->len + 1);
  guint n_labels = 0;

  for (guint c = 0; c < scan->classes->len; c++)
    {
      GraftClass *klass = scan->classes->pdata[c];
      label_of[c] = klass->count > 0 ? (int) n_labels++ : -1;
      if (klass->count > 0)
        g_ptr_array_add (data->names, g_strdup (class_name (config, klass)));
    }
  g_ptr_array_add (data->names, NULL);
  for (guint i = 0; i < scan->samples->len; i++)
    {
      GraftSample *s = &g_array_index (scan->samples, GraftSample, i);
      guint run_index = data->samples->len, label;
      if (label_of[s->label] < 0)
        continue;
      label = (guint) label_of[s->label];
      g_array_append_val (data->samples, i);
      g_array_append_val (data->labels, label);
      g_array_append_val (s->val ? data->val : data->train, run_index);
    }
}

static void
describe (GraftRunData *data)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint c = 0; data->names->pdata[c] != NULL; c++)
    json_builder_add_string_value (b, data->names->pdata[c]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "train");
  json_builder_add_int_value (b, data->train->len);
  json_builder_set_member_name (b, "val");
  json_builder_add_int_value (b, data->val->len);
  json_builder_set_member_name (b, "skipped");
  json_builder_add_int_value (b, data->scan->skipped->len);
  json_builder_set_member_name (b, "warnings");
  json_builder_begin_array (b);
  for (guint i = 0; i < data->scan->warnings->len; i++)
    json_builder_add_string_value (b, ((GraftWarning *)
                                       data->scan->warnings->pdata[i])
                                   ->message);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "lost");
  json_builder_begin_array (b);
  for (guint i = 0; i < json_array_get_length (data->lost_json); i++)
    json_builder_add_value (b, json_node_copy (json_array_get_element
                                               (data->lost_json, i)));
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_clear_pointer (&data->description, json_node_unref);
  data->description = json_builder_get_root (b);
}

GraftRunData *
graft_run_data_load (const GraftRunConfig *config, const GfPreprocess *pre,
                     GraftControl *control, GError **error)
{
  g_autoptr (GraftRunData) data = g_new0 (GraftRunData, 1);
  GraftScanOptions options;

  graft_scan_options_init (&options);
  options.val_fraction = config->val_fraction;
  options.seed = config->split_seed;
  options.decode = TRUE;   /* a truncated file is found now, not mid-run */
  data->scan = graft_scan_folders ((const char *const *) config->data,
                                   &options, NULL, NULL, NULL, error);
  data->samples = g_array_new (FALSE, FALSE, sizeof (guint));
  data->labels = g_array_new (FALSE, FALSE, sizeof (guint));
  data->train = g_array_new (FALSE, FALSE, sizeof (guint));
  data->val = g_array_new (FALSE, FALSE, sizeof (guint));
  data->names = g_ptr_array_new_with_free_func (g_free);
  data->lost_json = json_array_new ();
  if (data->scan == NULL
      || !check_one_class_a_folder (config, data->scan, error))
    return NULL;
  index_samples (data, config);
  if (data->names->len - 1 < 2)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NO_CLASSES,
                   "training needs at least two classes with usable "
                   "pictures; found %u", data->names->len - 1);
      return NULL;
    }
  if (data->train->len == 0)
    {
      g_set_error_literal (error, GRAFT_DATA_ERROR,
                           GRAFT_DATA_ERROR_NO_CLASSES,
                           "no pictures left to train on after the split");
      return NULL;
    }
  data->pre = *pre;
  data->seed = config->seed;
  graft_augment_init (&data->augment, config->augment_flip,
                      config->augment_crop);
  graft_image_need_init (&data->need, &data->pre, &data->augment);
  if (data->augment.flip || data->augment.crop)
    data->cache = graft_image_cache_new (&data->need,
                                         GRAFT_DEFAULT_MAX_PIXELS, 0);
  data->pool = graft_decode_pool_new (config->threads);
  data->lost = g_new0 (char *, data->samples->len);
  describe (data);
  (void) control;
  return g_steal_pointer (&data);
}

guint
graft_run_data_n_samples (GraftRunData *data)
{
  return data->samples->len;
}

guint
graft_run_data_n_classes (GraftRunData *data)
{
  return data->names->len - 1;
}

guint
graft_run_data_n_train (GraftRunData *data)
{
  return data->train->len;
}

guint
graft_run_data_n_val (GraftRunData *data)
{
  return data->val->len;
}

const guint *
graft_run_data_train (GraftRunData *data)
{
  return (const guint *) data->train->data;
}

const guint *
graft_run_data_val (GraftRunData *data)
{
  return (const guint *) data->val->data;
}

guint
graft_run_data_label (GraftRunData *data, guint sample)
{
  return g_array_index (data->labels, guint, sample);
}

static GraftSample *
scan_sample (GraftRunData *data, guint sample)
{
  return &g_array_index (data->scan->samples, GraftSample,
                         g_array_index (data->samples, guint, sample));
}

const char *
graft_run_data_path (GraftRunData *data, guint sample)
{
  return scan_sample (data, sample)->path;
}

char **
graft_run_data_class_names (GraftRunData *data)
{
  return (char **) data->names->pdata;
}

char *
graft_run_data_labels_json (GraftRunData *data)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_array (b);
  for (guint c = 0; data->names->pdata[c] != NULL; c++)
    json_builder_add_string_value (b, data->names->pdata[c]);
  json_builder_end_array (b);
  root = json_builder_get_root (b);
  return graft_json_to_text (root, FALSE);
}

JsonNode *
graft_run_data_describe (GraftRunData *data)
{
  return data->description;
}

const char *
graft_run_data_sha256 (GraftRunData *data, guint sample)
{
  return scan_sample (data, sample)->sha256;
}

char *
graft_run_data_view_key (GraftRunData *data, guint view)
{
  return graft_augment_describe (&data->augment, data->seed, view);
}

const GfPreprocess *
graft_run_data_preprocess (GraftRunData *data)
{
  return &data->pre;
}

gboolean
graft_run_data_fill (GraftRunData *data, guint sample, guint view,
                     float *out, GError **error)
{
  GraftSample *s = scan_sample (data, sample);
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  GraftView geometry;
  int width, height;

  pixbuf = data->cache != NULL
    ? graft_image_cache_load (data->cache, s->path, error)
    : graft_image_load_for (s->path, GRAFT_DEFAULT_MAX_PIXELS, &data->need,
                            error);
  if (pixbuf == NULL)
    {
      g_prefix_error (error, "%s: ", s->path);
      return FALSE;
    }
  /* Views are keyed by content: the same picture gets the same crops
   * wherever it lies, and a cache may share them.  They are planned in
   * the picture's own pixels, whatever scale it was decoded at. */
  graft_image_get_source_size (pixbuf, &width, &height);
  graft_augment_plan (&data->augment, data->seed, s->sha256, view, width,
                      height, &geometry);
  graft_image_view_to_tensor (pixbuf, &data->pre, &geometry, out);
  return TRUE;
}

/* Run.json names a lost picture as text (valid UTF-8, no control
 * characters), with its bytes in base64 beside it when that text is not
 * the file name itself. */
static void
mark_lost (GraftRunData *data, guint sample, const char *reason)
{
  const char *path = scan_sample (data, sample)->path;
  g_autofree char *shown = graft_text_from_filename (path);
  g_autofree char *why = graft_text_escape (reason);
  JsonObject *entry = json_object_new ();

  g_free (data->lost[sample]);
  data->lost[sample] = g_strdup (why);
  json_object_set_string_member (entry, "path", shown);
  if (!g_str_equal (shown, path))
    {
      g_autofree char *bytes = g_base64_encode ((const guchar *) path,
                                                strlen (path));
      json_object_set_string_member (entry, "path_bytes", bytes);
    }
  json_object_set_string_member (entry, "reason", why);
  json_array_add_object_element (data->lost_json, entry);
}

gboolean
graft_run_data_fill_batch (GraftRunData *data, const guint *samples, guint n,
                           guint view, float *out, GError **error)
{
  GraftDecodeSpec spec = { &data->pre, &data->augment, data->seed,
                           GRAFT_DEFAULT_MAX_PIXELS, data->cache };
  g_autofree GraftDecodeItem *items = g_new (GraftDecodeItem, n);
  g_autofree GError **errors = g_new0 (GError *, n);
  g_autofree char *shown = NULL;
  guint n_lost = 0, first = 0;

  for (guint i = 0; i < n; i++)
    {
      GraftSample *s = scan_sample (data, samples[i]);
      items[i] = (GraftDecodeItem) { s->path, s->sha256, view };
    }
  if (!graft_decode_pool_tensors (data->pool, &spec, items, n, out, errors,
                                  NULL, error))
    return FALSE;
  /* Memory running out is the machine's failure, not the picture's. */
  for (guint i = 0; i < n; i++)
    if (g_error_matches (errors[i], GRAFT_DATA_ERROR,
                         GRAFT_DATA_ERROR_NO_MEMORY))
      {
        g_propagate_error (error, g_steal_pointer (&errors[i]));
        for (guint j = 0; j < n; j++)
          g_clear_error (&errors[j]);
        return FALSE;
      }
  /* The scan decoded every picture: one that fails now was deleted,
   * moved, changed or locked since, and is the run's loss, not its end. */
  for (guint i = 0; i < n; i++)
    if (errors[i] != NULL)
      {
        first = n_lost++ == 0 ? i : first;
        mark_lost (data, samples[i], errors[i]->message);
        g_clear_error (&errors[i]);
      }
  if (n_lost == 0)
    return TRUE;
  describe (data);
  shown = graft_text_from_filename (items[first].path);
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_LOST,
               "%u of %u pictures could not be read any more (%s: %s)",
               n_lost, n, shown, data->lost[samples[first]]);
  return FALSE;
}

/* ---- Pictures lost mid-run ----------------------------------------------------- */

gboolean
graft_run_data_is_lost (GraftRunData *data, guint sample)
{
  return data->lost != NULL && data->lost[sample] != NULL;
}

const char *
graft_run_data_lost_reason (GraftRunData *data, guint sample)
{
  return data->lost != NULL ? data->lost[sample] : NULL;
}

guint
graft_run_data_n_lost (GraftRunData *data)
{
  guint n = 0;

  for (guint i = 0; data->lost != NULL && i < data->samples->len; i++)
    n += data->lost[i] != NULL;
  return n;
}

guint
graft_run_data_keep_present (GraftRunData *data, const guint *samples,
                             guint n, guint *out)
{
  guint kept = 0;

  for (guint i = 0; i < n; i++)
    if (!graft_run_data_is_lost (data, samples[i]))
      out[kept++] = samples[i];
  return kept;
}

/* The share of all pictures that may be lost before a run gives up: past
 * it, the data set is no longer the one the user chose. */
#define LOST_SHARE_LIMIT 0.5

gboolean
graft_run_data_check_lost (GraftRunData *data, GError **error)
{
  guint k = graft_run_data_n_classes (data), n_lost;
  g_autofree guint *left = g_new0 (guint, k);

  for (guint i = 0; i < data->train->len; i++)
    {
      guint sample = g_array_index (data->train, guint, i);
      left[graft_run_data_label (data, sample)]
        += !graft_run_data_is_lost (data, sample);
    }
  for (guint c = 0; c < k; c++)
    if (left[c] == 0)
      {
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NO_CLASSES,
                     "class “%s” has no training pictures left: its "
                     "pictures could not be read any more",
                     (const char *) data->names->pdata[c]);
        return FALSE;
      }
  n_lost = graft_run_data_n_lost (data);
  if (n_lost > LOST_SHARE_LIMIT * data->samples->len)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NO_CLASSES,
                   "%u of the run's %u pictures could not be read any more; "
                   "too many are gone to go on", n_lost, data->samples->len);
      return FALSE;
    }
  return TRUE;
}

void
graft_run_data_keep_earlier_lost (GraftRunData *data, JsonNode *previous)
{
  JsonObject *o = previous != NULL && JSON_NODE_HOLDS_OBJECT (previous)
    ? json_node_get_object (previous) : NULL;
  JsonNode *lost = o != NULL ? json_object_get_member (o, "lost") : NULL;
  g_autoptr (JsonArray) kept = json_array_new ();
  JsonArray *earlier;

  if (lost == NULL || !JSON_NODE_HOLDS_ARRAY (lost))
    return;
  earlier = json_node_get_array (lost);
  for (guint i = 0; i < json_array_get_length (earlier); i++)
    if (JSON_NODE_HOLDS_OBJECT (json_array_get_element (earlier, i)))
      json_array_add_element (kept, json_node_copy
                              (json_array_get_element (earlier, i)));
  for (guint i = 0; i < json_array_get_length (data->lost_json); i++)
    json_array_add_element (kept, json_node_copy
                            (json_array_get_element (data->lost_json, i)));
  g_clear_pointer (&data->lost_json, json_array_unref);
  data->lost_json = g_steal_pointer (&kept);
  describe (data);
}
