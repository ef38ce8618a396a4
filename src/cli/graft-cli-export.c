/* graft-cli-export.c: `graft-cli export` — one of a run's results, copied
 * out of its folder, or its learning curves as CSV.
 *
 * The CSV is one table with a "kind" column, so that a spreadsheet or
 * pandas reads it in one go and filters on that column:
 *
 *   kind,epoch,step,loss,lr,train_loss,val_loss,val_accuracy
 *   step,1,0,1.2392,0.001,,,
 *   ...
 *   epoch,1,3,,,1.2409,1.1772,0.3077
 *
 * A "step" row is one optimizer step: its epoch (from 1), its number
 * (from 0 over the whole run), its training loss and learning rate.  An
 * "epoch" row is the end of an epoch: its number, the steps done by then,
 * the mean training loss, the validation loss and accuracy.  A cell that
 * does not apply, or a value run.json holds as null, is empty.  Numbers
 * are written exactly as run.json holds them. */
#define G_LOG_DOMAIN "graft-cli"

#include <string.h>

#include "graft-cli-private.h"

#define CSV_HEADER "kind,epoch,step,loss,lr,train_loss,val_loss,val_accuracy\n"
#define EXPORT_HELP \
  "Copy a run's head, model or head weights out of its folder, or write\n" \
  "its learning curves as CSV: one table with the columns\n" \
  "  kind,epoch,step,loss,lr,train_loss,val_loss,val_accuracy\n" \
  "where a row of kind \"step\" is one optimizer step (epoch from 1, step\n" \
  "from 0 over the run, its training loss and learning rate) and a row\n" \
  "of kind \"epoch\" the end of an epoch (epoch, steps done by then, mean\n" \
  "training loss, validation loss and accuracy).  Cells that do not\n" \
  "apply, and values run.json holds as null, are empty."

typedef struct
{
  const char *format;
  const char *file;      /* in the run's folder; NULL: built from run.json */
} Format;

static const Format formats[] = {
  { "head-onnx", "head.onnx" },
  { "model-onnx", "model.onnx" },
  { "safetensors", "head.safetensors" },
  { "csv", NULL },
};

static const Format *
find_format (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (formats); i++)
    if (g_str_equal (formats[i].format, name))
      return &formats[i];
  return NULL;
}

/* Writes @contents to @out through a temporary file and a rename: a
 * reader sees the old file or the new one, never half of one. */
static gboolean
write_atomically (const char *out, const char *contents, gsize length,
                  GError **error)
{
  return g_file_set_contents_full (out, contents, (gssize) length,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0666,
                                   error);
}

/* A message for a folder that is no run at all, rather than one that
 * blames a missing result. */
static gboolean
check_run_dir (const char *run_dir, GError **error)
{
  g_autofree char *path = g_build_filename (run_dir, "run.json", NULL);

  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               "%s is not a run's folder (it has no run.json)", run_dir);
  return FALSE;
}

/* The file is mapped rather than read: a whole model may be hundreds of
 * megabytes. */
static gboolean
copy_result (const char *run_dir, const char *file, const char *out,
             GError **error)
{
  g_autofree char *path = g_build_filename (run_dir, file, NULL);
  g_autoptr (GMappedFile) mapped = NULL;

  if (!check_run_dir (run_dir, error))
    return FALSE;
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s has no %s: the run has not finished", run_dir, file);
      return FALSE;
    }
  mapped = g_mapped_file_new (path, FALSE, error);
  if (mapped == NULL)
    return FALSE;
  return write_atomically (out, g_mapped_file_get_contents (mapped)
                           ? g_mapped_file_get_contents (mapped) : "",
                           g_mapped_file_get_length (mapped), error);
}

/* A member's value as a cell: empty when missing or null. */
static void
append_cell (GString *csv, JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member (o, name);
  char number[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_c (csv, ',');
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    g_string_append_printf (csv, "%" G_GINT64_FORMAT, json_node_get_int (node));
  else
    g_string_append (csv, g_ascii_dtostr (number, sizeof number,
                                          json_node_get_double (node)));
}

/* One row per element of @rows: the kind, then the members @columns
 * names ("" for a cell that stays empty). */
static void
append_rows (GString *csv, const char *kind, JsonArray *rows,
             const char *const *columns)
{
  for (guint i = 0; rows != NULL && i < json_array_get_length (rows); i++)
    {
      JsonObject *row = json_array_get_object_element (rows, i);
      g_string_append (csv, kind);
      for (const char *const *c = columns; *c != NULL; c++)
        append_cell (csv, row, *c);
      g_string_append_c (csv, '\n');
    }
}

static char *
curves_csv (JsonObject *history)
{
  static const char *const step_columns[] = {
    "epoch", "step", "loss", "lr", "", "", "", NULL
  };
  static const char *const epoch_columns[] = {
    "epoch", "step", "", "", "train_loss", "val_loss", "val_accuracy", NULL
  };
  GString *csv = g_string_new (CSV_HEADER);

  append_rows (csv, "step", json_object_get_array_member (history, "steps"),
               step_columns);
  append_rows (csv, "epoch", json_object_get_array_member (history,
                                                           "epochs"),
               epoch_columns);
  return g_string_free (csv, FALSE);
}

static gboolean
export_curves (const char *run_dir, const char *out, GError **error)
{
  g_autofree char *path = g_build_filename (run_dir, "run.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *csv = NULL;
  JsonNode *root, *history;

  if (!check_run_dir (run_dir, error))
    return FALSE;
  if (!json_parser_load_from_file (parser, path, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  history = root != NULL && JSON_NODE_HOLDS_OBJECT (root)
    ? json_object_get_member (json_node_get_object (root), "history") : NULL;
  if (history == NULL || !JSON_NODE_HOLDS_OBJECT (history))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: no training history", path);
      return FALSE;
    }
  csv = curves_csv (json_node_get_object (history));
  return write_atomically (out, csv, strlen (csv), error);
}

int
graft_cli_export (int argc, char **argv)
{
  g_autofree char *run_dir = NULL, *format = NULL, *out = NULL;
  const GOptionEntry entries[] = {
    { "run", 0, 0, G_OPTION_ARG_FILENAME, &run_dir, "The run's folder",
      "RUN_DIR" },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format,
      "head-onnx (the head alone), model-onnx (image to probabilities), "
      "safetensors (the head's weights) or csv (the learning curves)",
      "FORMAT" },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "The file to write",
      "FILE" },
    { NULL }
  };
  const Format *what;
  g_autoptr (GError) error = NULL;
  gboolean ok;

  if (!graft_cli_parse ("export", "", EXPORT_HELP, entries, &argc, &argv))
    return GRAFT_CLI_USAGE;
  if (run_dir == NULL || format == NULL || out == NULL || argc > 1)
    return graft_cli_fail (GRAFT_CLI_USAGE, "export: --run, --format and "
                           "--out are required, and nothing else");
  if ((what = find_format (format)) == NULL)
    return graft_cli_fail (GRAFT_CLI_USAGE, "export: --format %s: not one "
                           "of head-onnx, model-onnx, safetensors, csv",
                           format);
  ok = what->file != NULL ? copy_result (run_dir, what->file, out, &error)
    : export_curves (run_dir, out, &error);
  if (!ok)
    return graft_cli_fail (GRAFT_CLI_FAILED, "%s", error->message);
  return 0;
}
