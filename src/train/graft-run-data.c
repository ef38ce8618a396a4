/* graft-run-data.c: the data layer as a run sees it. */
#define G_LOG_DOMAIN "graft-run-data"

#include "graft-run-data.h"

#include "graft-augment.h"
#include "graft-decode-pool.h"
#include "graft-error.h"
#include "graft-image.h"
#include "graft-json.h"
#include "graft-scan.h"

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
};

void
graft_run_data_free (GraftRunData *data)
{
  if (data == NULL)
    return;
  g_clear_pointer (&data->scan, graft_scan_free);
  g_array_unref (data->samples);
  g_array_unref (data->labels);
  g_array_unref (data->train);
  g_array_unref (data->val);
  g_ptr_array_unref (data->names);
  g_clear_pointer (&data->description, json_node_unref);
  g_clear_pointer (&data->pool, graft_decode_pool_free);
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
  json_builder_end_object (b);
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
  data->pool = graft_decode_pool_new (config->threads, error);
  if (data->pool == NULL)
    return NULL;
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
  g_autoptr (GdkPixbuf) pixbuf = graft_image_load (s->path,
                                                   GRAFT_DEFAULT_MAX_PIXELS,
                                                   error);
  GraftView geometry;

  if (pixbuf == NULL)
    {
      g_prefix_error (error, "%s: ", s->path);
      return FALSE;
    }
  /* Views are keyed by content: the same picture gets the same crops
   * wherever it lies, and a cache may share them. */
  graft_augment_plan (&data->augment, data->seed, s->sha256, view,
                      gdk_pixbuf_get_width (pixbuf),
                      gdk_pixbuf_get_height (pixbuf), &geometry);
  graft_image_view_to_tensor (pixbuf, &data->pre, &geometry, out);
  return TRUE;
}

gboolean
graft_run_data_fill_batch (GraftRunData *data, const guint *samples, guint n,
                           guint view, float *out, GError **error)
{
  GraftDecodeSpec spec = { &data->pre, &data->augment, data->seed,
                           GRAFT_DEFAULT_MAX_PIXELS };
  g_autofree GraftDecodeItem *items = g_new (GraftDecodeItem, n);
  g_autofree GError **errors = g_new0 (GError *, n);
  gboolean ok = TRUE;

  for (guint i = 0; i < n; i++)
    {
      GraftSample *s = scan_sample (data, samples[i]);
      items[i] = (GraftDecodeItem) { s->path, s->sha256, view };
    }
  if (!graft_decode_pool_tensors (data->pool, &spec, items, n, out, errors,
                                  NULL, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (errors[i] != NULL)
      {
        if (ok)
          {
            g_propagate_prefixed_error (error, g_steal_pointer (&errors[i]),
                                        "%s: ", items[i].path);
            ok = FALSE;
          }
        g_clear_error (&errors[i]);
      }
  return ok;
}
