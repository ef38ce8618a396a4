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
#include "graft-error.h"

#define DEFAULT_TOP 5
#define LABELS_KEY "graft.labels"
#define PREDICT_HELP \
  "Print one JSON line per picture, in the order given:\n" \
  "  {\"path\": \"a.png\", \"top\": [{\"label\": \"cat\", \"p\": 0.9}]}\n" \
  "with the --top most likely classes first, p to 6 significant digits.\n" \
  "A picture that cannot be read is reported on stderr, the others are\n" \
  "still printed, and the exit code is then 1."

/* A model Graft trained names its classes; a backbone's own classifier
 * (numbered classes) is not what predict is for. */
static GraftBackbone *
open_model (const char *path, GError **error)
{
  g_autoptr (GraftBackbone) model = graft_backbone_load (path, NULL, error);

  if (model == NULL)
    return NULL;
  if (graft_backbone_get_metadata (model, LABELS_KEY) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: no " LABELS_KEY " in its metadata: not a model "
                   "Graft trained (see graft-cli export --format "
                   "model-onnx)", path);
      return NULL;
    }
  if (graft_backbone_get_labels (model, NULL, error) == NULL)
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  return g_steal_pointer (&model);
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

/* One picture's line. */
static void
print_prediction (const char *path, GArray *top)
{
  g_autoptr (GString) line = g_string_new ("{\"path\": ");
  char number[G_ASCII_DTOSTR_BUF_SIZE];

  append_json_string (line, path);
  g_string_append (line, ", \"top\": [");
  for (guint i = 0; i < top->len; i++)
    {
      const GraftPrediction *p = &g_array_index (top, GraftPrediction, i);
      g_string_append (line, i > 0 ? ", {\"label\": " : "{\"label\": ");
      append_json_string (line, p->label);
      g_ascii_formatd (number, sizeof number, "%.6g", p->probability);
      g_string_append_printf (line, ", \"p\": %s}", number);
    }
  g_string_append (line, "]}\n");
  fputs (line->str, stdout);
  fflush (stdout);
}

/* Predicts every picture; FALSE when one could not be read (and says
 * why) or the model failed (then @error is set). */
static gboolean
predict_all (GraftBackbone *model, guint k, char **images, GError **error)
{
  gboolean all_read = TRUE;

  for (guint i = 0; images[i] != NULL; i++)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (GArray) top = graft_backbone_predict (model, images[i], k,
                                                       &local);
      if (top != NULL)
        print_prediction (images[i], top);
      else if (local->domain == GRAFT_DATA_ERROR)
        {
          graft_cli_fail (GRAFT_CLI_FAILED, "%s: %s", images[i],
                          local->message);
          all_read = FALSE;
        }
      else
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  return all_read;
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
  g_autoptr (GraftBackbone) backbone = NULL;
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
  ok = path != NULL && (backbone = open_model (path, &error)) != NULL
    && predict_all (backbone, (guint) top, argv + 1, &error);
  if (error != NULL)
    return graft_cli_fail (GRAFT_CLI_FAILED, "%s", error->message);
  return ok ? 0 : GRAFT_CLI_FAILED;
}
