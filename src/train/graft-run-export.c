/* graft-run-export.c: a run's results out of its folder (see the header
 * for the CSV's columns). */
#define G_LOG_DOMAIN "graft-train"

#include <string.h>

#include <json-glib/json-glib.h>

#include "graft-run-export.h"
#include "graft-json.h"
#include "graft-run-pytorch.h"

#define CSV_HEADER "kind,epoch,step,loss,lr,train_loss,val_loss,val_accuracy\n"

typedef struct
{
  const char *name;      /* graft-cli's --format; NULL: not offered there */
  const char *file;      /* in the run's folder; NULL: built from run.json */
} Format;

static const Format formats[] = {
  [GRAFT_RUN_EXPORT_HEAD_ONNX] = { "head-onnx", "head.onnx" },
  [GRAFT_RUN_EXPORT_MODEL_ONNX] = { "model-onnx", "model.onnx" },
  [GRAFT_RUN_EXPORT_SAFETENSORS] = { "safetensors", "head.safetensors" },
  [GRAFT_RUN_EXPORT_HEAD_JSON] = { NULL, "head.json" },
  [GRAFT_RUN_EXPORT_CSV] = { "csv", NULL },
  [GRAFT_RUN_EXPORT_PYTORCH] = { "pytorch", NULL },
};

gboolean
graft_run_export_format_from_name (const char *name,
                                   GraftRunExportFormat *format)
{
  g_return_val_if_fail (name != NULL, FALSE);

  for (gsize i = 0; i < G_N_ELEMENTS (formats); i++)
    if (formats[i].name != NULL && g_str_equal (formats[i].name, name))
      {
        if (format != NULL)
          *format = (GraftRunExportFormat) i;
        return TRUE;
      }
  return FALSE;
}

const char *
graft_run_export_format_get_file (GraftRunExportFormat format)
{
  g_return_val_if_fail ((gsize) format < G_N_ELEMENTS (formats), NULL);
  return formats[format].file;
}

/* Writes @contents to @out through a temporary file and a rename. */
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

/* A member's value as a cell: empty when missing, null or not a number. */
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
  else if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    g_string_append (csv, g_ascii_dtostr (number, sizeof number,
                                          json_node_get_double (node)));
}

/* One row per element of @rows (history's member @name, an array of
 * objects, else FALSE): the kind, then the members @columns names (""
 * for a cell that stays empty). */
static gboolean
append_rows (GString *csv, const char *kind, JsonObject *history,
             const char *name, const char *const *columns)
{
  JsonNode *node = json_object_get_member (history, name);
  JsonArray *rows;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  rows = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonNode *element = json_array_get_element (rows, i);
      if (!JSON_NODE_HOLDS_OBJECT (element))
        return FALSE;
      g_string_append (csv, kind);
      for (const char *const *c = columns; *c != NULL; c++)
        append_cell (csv, json_node_get_object (element), *c);
      g_string_append_c (csv, '\n');
    }
  return TRUE;
}

/* NULL when the history is not of the form run.json's is. */
static char *
curves_csv (JsonObject *history)
{
  static const char *const step_columns[] = {
    "epoch", "step", "loss", "lr", "", "", "", NULL
  };
  static const char *const epoch_columns[] = {
    "epoch", "step", "", "", "train_loss", "val_loss", "val_accuracy", NULL
  };
  g_autoptr (GString) csv = g_string_new (CSV_HEADER);

  if (!append_rows (csv, "step", history, "steps", step_columns)
      || !append_rows (csv, "epoch", history, "epochs", epoch_columns))
    return NULL;
  return g_string_free (g_steal_pointer (&csv), FALSE);
}

char *
graft_run_export_curves_csv (const char *run_dir, GError **error)
{
  g_autofree char *path = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonNode *root, *history;
  char *csv;

  g_return_val_if_fail (run_dir != NULL, NULL);

  if (!check_run_dir (run_dir, error))
    return NULL;
  path = g_build_filename (run_dir, "run.json", NULL);
  parser = json_parser_new ();
  if (!graft_json_load_file (parser, path, error))
    return NULL;
  root = json_parser_get_root (parser);
  history = root != NULL && JSON_NODE_HOLDS_OBJECT (root)
    ? json_object_get_member (json_node_get_object (root), "history") : NULL;
  if (history == NULL || !JSON_NODE_HOLDS_OBJECT (history))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: no training history", path);
      return NULL;
    }
  if ((csv = curves_csv (json_node_get_object (history))) == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "%s: the training history is damaged", path);
  return csv;
}

gboolean
graft_run_export (const char *run_dir, GraftRunExportFormat format,
                  const char *out, GError **error)
{
  g_autofree char *csv = NULL;

  g_return_val_if_fail (run_dir != NULL && out != NULL, FALSE);
  g_return_val_if_fail ((gsize) format < G_N_ELEMENTS (formats), FALSE);

  if (formats[format].file != NULL)
    return copy_result (run_dir, formats[format].file, out, error);
  if (format == GRAFT_RUN_EXPORT_PYTORCH)
    {
      g_autofree char *model = g_build_filename (run_dir, "model.onnx",
                                                 NULL);

      if (!check_run_dir (run_dir, error))
        return FALSE;
      if (!g_file_test (model, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       "%s has no model.onnx: the run has not finished",
                       run_dir);
          return FALSE;
        }
      return graft_run_export_pytorch (run_dir, out, error);
    }
  if ((csv = graft_run_export_curves_csv (run_dir, error)) == NULL)
    return FALSE;
  return write_atomically (out, csv, strlen (csv), error);
}
