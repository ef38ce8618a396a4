/* graft-cli-predict.c: `graft-cli predict` — a trained model's most
 * likely classes for each picture, one JSON line per picture:
 *
 *   {"path": "a.png", "top": [{"label": "cat", "p": 0.93}, ...]}
 *
 * The model is a whole-model ONNX file as a finished run leaves it
 * (RUN_DIR/model.onnx) or as `graft-cli export --format model-onnx` copies
 * it: its graft.* metadata says how to prepare pictures and names the
 * classes (graft.labels, a JSON array).  A picture that cannot be read is
 * reported on stderr and the others still printed; the exit code then
 * says that something failed. */
#define G_LOG_DOMAIN "graft-cli"

#include <stdio.h>

#include "gf-engine.h"
#include "graft-cli-private.h"
#include "graft-image.h"

#define DEFAULT_TOP 5
#define PREDICT_BATCH 16
#define LABELS_KEY "graft.labels"
#define PREDICT_HELP \
  "Print one JSON line per picture, in the order given:\n" \
  "  {\"path\": \"a.png\", \"top\": [{\"label\": \"cat\", \"p\": 0.9}]}\n" \
  "with the --top most likely classes first, p to 6 significant digits.\n" \
  "A picture that cannot be read is reported on stderr, the others are\n" \
  "still printed, and the exit code is then 1."

typedef struct
{
  GfModel *model;
  char **labels;          /* NULL-terminated */
  guint n_labels;
  gboolean sigmoid;       /* one output: the probability of labels[1] */
  guint top;
  size_t image_count;     /* floats per picture at the input */
  GPtrArray *batch;       /* paths of the pictures in the input tensor */
} Predictor;

static void
predictor_clear (Predictor *p)
{
  g_clear_pointer (&p->model, gf_model_free);
  g_clear_pointer (&p->labels, g_strfreev);
  g_clear_pointer (&p->batch, g_ptr_array_unref);
}

/* graft.labels: a JSON array of at least two strings. */
static char **
parse_labels (const char *text, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GStrvBuilder) labels = g_strv_builder_new ();
  JsonNode *root = json_parser_load_from_data (parser, text, -1, NULL)
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
      if (json_node_get_value_type (node) != G_TYPE_STRING)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               LABELS_KEY " holds something other than "
                               "names");
          return NULL;
        }
      g_strv_builder_add (labels, json_node_get_string (node));
    }
  return g_strv_builder_end (labels);
}

/* The labels, and whether the output is one probability per label or a
 * single sigmoid for two. */
static gboolean
read_labels (Predictor *p, GError **error)
{
  const GfModel *m = p->model;
  const char *text = gf_metadata_lookup (m->metadata, m->n_metadata,
                                         LABELS_KEY);
  size_t outputs = gf_graph_tensor_count (m->graph, m->output);

  if (text == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "no " LABELS_KEY " in its metadata: not a model Graft "
                   "trained (see graft-cli export --format model-onnx)");
      return FALSE;
    }
  if ((p->labels = parse_labels (text, error)) == NULL)
    return FALSE;
  p->n_labels = g_strv_length (p->labels);
  p->sigmoid = outputs == 1 && p->n_labels == 2;
  if (!p->sigmoid && outputs != p->n_labels)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%zu outputs but %u labels", outputs, p->n_labels);
      return FALSE;
    }
  return TRUE;
}

static gboolean
open_model (Predictor *p, const char *path, GError **error)
{
  GfError gf_error = { 0 };
  GfStatus status;

  p->model = graft_cli_load_model (path, error);
  if (p->model == NULL)
    return FALSE;
  if (!read_labels (p, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  status = gf_graph_plan (p->model->graph, PREDICT_BATCH, GF_GRAPH_INFER,
                          &gf_error);
  if (status != GF_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", path,
                   gf_error.message);
      return FALSE;
    }
  p->image_count = gf_graph_tensor_count (p->model->graph, p->model->input);
  return TRUE;
}

/* JSON-quoted and escaped; a path that is not UTF-8 is shown as
 * GLib displays file names, since JSON text must be UTF-8. */
static void
append_json_string (GString *line, const char *text)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_VALUE);
  g_autofree char *display = g_utf8_validate (text, -1, NULL) ? NULL
    : g_filename_display_name (text);
  g_autofree char *quoted = NULL;

  json_node_set_string (node, display != NULL ? display : text);
  quoted = json_to_string (node, FALSE);
  g_string_append (line, quoted);
}

/* Labels by falling probability; equal ones keep the labels' order. */
static guint *
rank (const Predictor *p, const double *probs)
{
  guint *order = g_new (guint, p->n_labels);

  for (guint i = 0; i < p->n_labels; i++)
    {
      guint j = i;
      for (; j > 0 && probs[order[j - 1]] < probs[i]; j--)
        order[j] = order[j - 1];
      order[j] = i;
    }
  return order;
}

/* One picture's line from its row of the output, @out. */
static void
print_prediction (const Predictor *p, const char *path, const gf_real *out)
{
  g_autofree double *probs = g_new (double, p->n_labels);
  g_autofree guint *order = NULL;
  g_autoptr (GString) line = g_string_new ("{\"path\": ");
  char number[G_ASCII_DTOSTR_BUF_SIZE];

  for (guint c = 0; c < p->n_labels; c++)
    probs[c] = p->sigmoid ? (c == 1 ? out[0] : 1.0 - out[0]) : out[c];
  order = rank (p, probs);
  append_json_string (line, path);
  g_string_append (line, ", \"top\": [");
  for (guint i = 0; i < MIN (p->top, p->n_labels); i++)
    {
      g_string_append (line, i > 0 ? ", {\"label\": " : "{\"label\": ");
      append_json_string (line, p->labels[order[i]]);
      g_ascii_formatd (number, sizeof number, "%.6g", probs[order[i]]);
      g_string_append_printf (line, ", \"p\": %s}", number);
    }
  g_string_append (line, "]}\n");
  fputs (line->str, stdout);
}

/* Runs the pictures gathered in the input tensor and prints them. */
static gboolean
flush_batch (Predictor *p, GError **error)
{
  GfGraph *graph = p->model->graph;
  GfError gf_error = { 0 };
  size_t outputs = p->sigmoid ? 1 : p->n_labels;
  const gf_real *out;

  if (p->batch->len == 0)
    return TRUE;
  if (gf_graph_forward (graph, p->batch->len, GF_GRAPH_INFER, &gf_error)
      != GF_OK)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           gf_error.message);
      return FALSE;
    }
  out = gf_graph_tensor_data (graph, p->model->output);
  for (guint i = 0; i < p->batch->len; i++)
    print_prediction (p, p->batch->pdata[i], out + i * outputs);
  fflush (stdout);
  g_ptr_array_set_size (p->batch, 0);
  return TRUE;
}

/* Predicts every picture; FALSE when one could not be read (and says
 * why) or the model failed (then @error is set). */
static gboolean
predict_all (Predictor *p, char **images, GError **error)
{
  gf_real *input = gf_graph_tensor_data (p->model->graph, p->model->input);
  gboolean all_read = TRUE;

  G_STATIC_ASSERT (sizeof (gf_real) == sizeof (float));
  for (guint i = 0; images[i] != NULL; i++)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (GdkPixbuf) pixbuf
        = graft_image_load (images[i], GRAFT_DEFAULT_MAX_PIXELS, &local);
      if (pixbuf == NULL)
        {
          graft_cli_fail (GRAFT_CLI_FAILED, "%s: %s", images[i],
                          local->message);
          all_read = FALSE;
          continue;
        }
      graft_image_to_tensor (pixbuf, &p->model->preprocess,
                             input + p->batch->len * p->image_count);
      g_ptr_array_add (p->batch, images[i]);
      if (p->batch->len == PREDICT_BATCH && !flush_batch (p, error))
        return FALSE;
    }
  return flush_batch (p, error) && all_read;
}

/* RUN_DIR/model.onnx, which a run writes when it finishes. */
static char *
run_model (const char *run_dir, GError **error)
{
  g_autofree char *json = g_build_filename (run_dir, "run.json", NULL);
  g_autofree char *path = g_build_filename (run_dir, "model.onnx", NULL);

  if (!g_file_test (json, G_FILE_TEST_IS_REGULAR))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "%s is not a run's folder (it has no run.json)", run_dir);
  else if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "%s has no model.onnx: the run has not finished", run_dir);
  else
    return g_steal_pointer (&path);
  return NULL;
}

int
graft_cli_predict (int argc, char **argv)
{
  g_autofree char *run_dir = NULL, *model = NULL, *path = NULL;
  int top = DEFAULT_TOP, threads = 0;
  const GOptionEntry entries[] = {
    { "run", 0, 0, G_OPTION_ARG_FILENAME, &run_dir,
      "A finished run's folder (uses its model.onnx)", "RUN_DIR" },
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model,
      "A whole model Graft exported, instead of --run", "MODEL.onnx" },
    { "top", 0, 0, G_OPTION_ARG_INT, &top,
      "How many classes to list per picture (5; all when fewer)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads,
      "Threads for the maths (default: all cores)", "N" },
    { NULL }
  };
  Predictor p = { 0 };
  g_autoptr (GError) error = NULL;
  gboolean ok;

  if (!graft_cli_parse ("predict", "IMAGE…", PREDICT_HELP, entries, &argc,
                        &argv))
    return GRAFT_CLI_USAGE;
  if ((run_dir == NULL) == (model == NULL))
    return graft_cli_fail (GRAFT_CLI_USAGE, "predict: give either --run or "
                           "--model");
  if (argc < 2)
    return graft_cli_fail (GRAFT_CLI_USAGE, "predict: no pictures given");
  if (top < 1 || threads < 0)
    return graft_cli_fail (GRAFT_CLI_USAGE, "predict: --top must be at "
                           "least 1 and --threads positive");
  gf_engine_set_threads (threads);
  path = model != NULL ? g_strdup (model) : run_model (run_dir, &error);
  p.top = (guint) top;
  p.batch = g_ptr_array_new ();
  ok = path != NULL && open_model (&p, path, &error)
    && predict_all (&p, argv + 1, &error);
  predictor_clear (&p);
  if (error != NULL)
    return graft_cli_fail (GRAFT_CLI_FAILED, "%s", error->message);
  return ok ? 0 : GRAFT_CLI_FAILED;
}
