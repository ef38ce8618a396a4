/* graft-cli-features.c: `graft-cli features` — each picture's bottleneck
 * vector after global average pooling, as a NumPy .npy file, with the
 * picture paths in row order beside it. */
#define G_LOG_DOMAIN "graft-cli"

#include <string.h>

#include "gf-engine.h"
#include "graft-cli-private.h"
#include "graft-image.h"
#include "graft-json.h"
#include "graft-scan.h"

#define DEFAULT_BATCH 16
#define MAX_BATCH 4096
#define NPY_ALIGN 64

typedef struct
{
  GraftBackbone *backbone;
  GfModel *model;           /* the backbone's, planned to end at the cut */
  int cut;
  size_t batch;
  size_t dim;            /* channels of the cut: the vector length */
  size_t spatial;        /* H·W of the cut, averaged away */
  GArray *rows;          /* float, (n_rows, dim) */
  GPtrArray *paths;      /* the rows' pictures, in order */
  GArray *labels;        /* guint, per row */
  GPtrArray *skipped;    /* JsonNode objects {path, reason} */
} Extraction;

/* Plans the graph to end at the cut. */
static gboolean
prepare (Extraction *x, GError **error)
{
  GfGraph *graph;
  GfError gf_error = { 0 };
  size_t dims[GF_MAX_DIMS];
  GfStatus status;

  x->model = graft_backbone_get_model (x->backbone);
  x->cut = graft_backbone_get_cut_tensor (x->backbone);
  graph = x->model->graph;

  gf_graph_tensor_shape (graph, x->cut, dims);
  x->dim = dims[1];
  x->spatial = dims[2] * dims[3];
  status = gf_graph_set_outputs (graph, &x->cut, 1, &gf_error);
  if (status == GF_OK)
    status = gf_graph_plan (graph, x->batch, GF_GRAPH_INFER, &gf_error);
  if (status != GF_OK)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           gf_error.message);
      return FALSE;
    }
  return TRUE;
}

static void
add_skipped (Extraction *x, const char *path, const char *reason)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, path);
  json_builder_set_member_name (builder, "reason");
  json_builder_add_string_value (builder, reason);
  json_builder_end_object (builder);
  g_ptr_array_add (x->skipped, json_builder_get_root (builder));
}

/* Runs @count decoded pictures through the backbone and appends their
 * pooled vectors. */
static gboolean
run_batch (Extraction *x, size_t count, GError **error)
{
  GfGraph *graph = x->model->graph;
  GfError gf_error = { 0 };
  const gf_real *map;

  if (gf_graph_forward (graph, count, GF_GRAPH_INFER, &gf_error) != GF_OK)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           gf_error.message);
      return FALSE;
    }
  map = gf_graph_tensor_data (graph, x->cut);
  for (size_t n = 0; n < count; n++)
    for (size_t c = 0; c < x->dim; c++)
      {
        const gf_real *plane = map + (n * x->dim + c) * x->spatial;
        double sum = 0.0;
        float mean;
        for (size_t s = 0; s < x->spatial; s++)
          sum += plane[s];
        mean = (float) (sum / (double) x->spatial);
        g_array_append_val (x->rows, mean);
      }
  return TRUE;
}

static gboolean
extract (Extraction *x, GraftScan *scan, GError **error)
{
  const GfPreprocess *pre = &x->model->preprocess;
  gf_real *input = gf_graph_tensor_data (x->model->graph, x->model->input);
  size_t image = pre->channels * pre->height * pre->width, filled = 0;
  g_autoptr (GraftCliProgress) progress
    = graft_cli_progress_new ("features", scan->samples->len);
  GraftImageNeed need;

  G_STATIC_ASSERT (sizeof (gf_real) == sizeof (float));
  /* A photo decodes no larger than the backbone's input needs. */
  graft_image_need_init (&need, pre, NULL);
  for (guint i = 0; i < scan->samples->len; i++)
    {
      GraftSample *s = &g_array_index (scan->samples, GraftSample, i);
      g_autoptr (GError) local = NULL;
      g_autoptr (GdkPixbuf) pixbuf
        = graft_image_load_for (s->path, GRAFT_DEFAULT_MAX_PIXELS, &need,
                                &local);
      if (pixbuf == NULL)
        add_skipped (x, s->path, local->message);
      else
        {
          graft_image_to_tensor (pixbuf, pre, input + filled * image);
          g_ptr_array_add (x->paths, g_strdup (s->path));
          g_array_append_val (x->labels, s->label);
          filled++;
        }
      if ((filled == x->batch || i + 1 == scan->samples->len) && filled > 0)
        {
          if (!run_batch (x, filled, error))
            return FALSE;
          filled = 0;
        }
      graft_cli_progress_update (progress, i + 1);
    }
  return TRUE;
}

/* NumPy's format, version 1.0: magic, header length, a Python dict
 * literal padded with spaces to a multiple of 64 bytes, then the data. */
static GBytes *
encode_npy (const float *data, size_t rows, size_t cols)
{
  g_autoptr (GString) header = g_string_new (NULL);
  GByteArray *out = g_byte_array_new ();
  guint16 length;

  g_string_printf (header, "{'descr': '<f4', 'fortran_order': False, "
                   "'shape': (%zu, %zu), }", rows, cols);
  while ((10 + header->len + 1) % NPY_ALIGN != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');
  length = GUINT16_TO_LE ((guint16) header->len);
  g_byte_array_append (out, (const guint8 *) "\x93NUMPY\x01\x00", 8);
  g_byte_array_append (out, (const guint8 *) &length, 2);
  g_byte_array_append (out, (const guint8 *) header->str, header->len);
  G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);
  g_byte_array_append (out, (const guint8 *) data,
                       (guint) (rows * cols * sizeof (float)));
  return g_byte_array_free_to_bytes (out);
}

static JsonNode *
describe_rows (Extraction *x, GraftScan *scan, const char *backbone)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "backbone");
  json_builder_add_string_value (b, backbone);
  json_builder_set_member_name (b, "cut");
  json_builder_add_string_value (b, gf_graph_tensor_name (x->model->graph,
                                                          x->cut));
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint i = 0; i < scan->classes->len; i++)
    json_builder_add_string_value (b, ((GraftClass *)
                                       scan->classes->pdata[i])->name);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "paths");
  json_builder_begin_array (b);
  for (guint i = 0; i < x->paths->len; i++)
    json_builder_add_string_value (b, x->paths->pdata[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "labels");
  json_builder_begin_array (b);
  for (guint i = 0; i < x->labels->len; i++)
    json_builder_add_int_value (b, g_array_index (x->labels, guint, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "skipped");
  json_builder_begin_array (b);
  for (guint i = 0; i < x->skipped->len; i++)
    json_builder_add_value (b, json_node_copy (x->skipped->pdata[i]));
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Both files are written whole to a temporary name and renamed: a reader
 * sees the old file or the new one, never half of one. */
static gboolean
write_outputs (Extraction *x, GraftScan *scan, const char *backbone,
               const char *out, GError **error)
{
  g_autoptr (GBytes) npy = encode_npy ((const float *) x->rows->data,
                                       x->paths->len, x->dim);
  g_autoptr (JsonNode) root = describe_rows (x, scan, backbone);
  g_autofree char *json = graft_json_to_text (root, TRUE);
  g_autofree char *json_path = g_strconcat (out, ".json", NULL);

  return g_file_set_contents (out, g_bytes_get_data (npy, NULL),
                              (gssize) g_bytes_get_size (npy), error)
    && g_file_set_contents (json_path, json, -1, error);
}

static void
extraction_clear (Extraction *x)
{
  g_clear_object (&x->backbone);
  g_clear_pointer (&x->rows, g_array_unref);
  g_clear_pointer (&x->paths, g_ptr_array_unref);
  g_clear_pointer (&x->labels, g_array_unref);
  g_clear_pointer (&x->skipped, g_ptr_array_unref);
}

static gboolean
run (const char *backbone, char **data, const char *out, const char *cut,
     int batch, GError **error)
{
  Extraction x = { 0 };
  g_autoptr (GraftScan) scan = NULL;
  GraftScanOptions options;
  gboolean ok = FALSE;

  x.batch = (size_t) batch;
  x.rows = g_array_new (FALSE, FALSE, sizeof (float));
  x.paths = g_ptr_array_new_with_free_func (g_free);
  x.labels = g_array_new (FALSE, FALSE, sizeof (guint));
  x.skipped = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  graft_scan_options_init (&options);
  options.decode = FALSE;   /* extraction decodes, and reports failures */
  scan = graft_scan_folders ((const char *const *) data, &options, NULL,
                             NULL, NULL, error);
  if (scan != NULL && scan->samples->len == 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no usable pictures in %s", data[0]);
  else if (scan != NULL
           && (x.backbone = graft_cli_load_backbone (backbone, cut,
                                                     error)) != NULL
           && prepare (&x, error) && extract (&x, scan, error))
    ok = write_outputs (&x, scan, backbone, out, error);
  if (scan != NULL)
    for (guint i = 0; i < scan->skipped->len; i++)
      fprintf (stderr, "skipped %s: %s\n",
               ((GraftSkipped *) scan->skipped->pdata[i])->path,
               ((GraftSkipped *) scan->skipped->pdata[i])->reason);
  extraction_clear (&x);
  return ok;
}

int
graft_cli_features (int argc, char **argv)
{
  g_autofree char *backbone = NULL, *out = NULL, *cut = NULL;
  g_auto (GStrv) data = NULL;
  int batch = DEFAULT_BATCH, threads = 0;
  const GOptionEntry entries[] = {
    { "backbone", 0, 0, G_OPTION_ARG_FILENAME, &backbone,
      "The backbone (an ONNX file)", "MODEL" },
    { "data", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &data,
      "A folder of class folders (or give one folder per class)", "DIR" },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out,
      "Where to write the vectors (.npy; paths go to OUT.json)", "FILE" },
    { "cut", 0, 0, G_OPTION_ARG_STRING, &cut,
      "Cut at this tensor instead of the bottleneck", "TENSOR" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Pictures per pass (16)",
      "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads,
      "Threads for the maths (default: all cores)", "N" },
    { NULL }
  };
  g_autoptr (GError) error = NULL;

  if (!graft_cli_parse ("features", "", "Write bottleneck vectors as .npy.",
                        entries, &argc, &argv))
    return GRAFT_CLI_USAGE;
  if (backbone == NULL || data == NULL || out == NULL)
    return graft_cli_fail (GRAFT_CLI_USAGE, "features: --backbone, --data "
                           "and --out are required");
  if (batch < 1 || batch > MAX_BATCH || threads < 0)
    return graft_cli_fail (GRAFT_CLI_USAGE, "features: --batch must be 1 to "
                           "%d and --threads positive", MAX_BATCH);
  gf_engine_set_threads (threads);
  if (!run (backbone, data, out, cut, batch, &error))
    return graft_cli_fail (GRAFT_CLI_FAILED, "%s", error->message);
  return 0;
}
