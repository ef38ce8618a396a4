/* graft-run-import.c: a run train.py wrote, made a Graft run (see the
 * header). */
#define G_LOG_DOMAIN "graft-train"

#include "graft-run-import.h"

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "gf-onnx.h"
#include "graft-error.h"
#include "graft-json.h"
#include "graft-run-config.h"
#include "graft-run-files.h"
#include "graft-safetensors.h"

static gboolean
invalid (GError **error, const char *path, const char *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path,
               what);
  return FALSE;
}

/* Every weight and statistic of @graph from @st, by name: each must be
 * there as float32 of the tensor's very shape. */
static gboolean
take_weights (GfGraph *graph, GraftSafetensors *st, const char *path,
              GError **error)
{
  for (size_t t = 0; t < gf_graph_n_tensors (graph); t++)
    {
      GfTensorKind kind = gf_graph_tensor_kind (graph, (int) t);
      const char *name = gf_graph_tensor_name (graph, (int) t);
      const GraftTensorView *v;
      size_t dims[GF_MAX_DIMS], ndim;
      g_autofree char *why = NULL;

      if (kind != GF_TENSOR_PARAM && kind != GF_TENSOR_STATE)
        continue;
      ndim = gf_graph_tensor_shape (graph, (int) t, dims);
      v = graft_safetensors_lookup (st, name);
      if (v == NULL)
        why = g_strdup_printf ("no tensor '%s', which the model has", name);
      else if (v->dtype != GRAFT_DTYPE_F32)
        why = g_strdup_printf ("'%s' is not float32", name);
      else if (v->n_dims != ndim)
        why = g_strdup_printf ("'%s' has %u dimensions, the model's %zu",
                               name, v->n_dims, ndim);
      for (size_t d = 0; why == NULL && d < ndim; d++)
        if (v->shape[d] != dims[d])
          why = g_strdup_printf ("'%s' is not of the model's shape", name);
      if (why != NULL)
        return invalid (error, path, why);
      memcpy (gf_graph_tensor_data (graph, (int) t), v->data,
              gf_graph_tensor_count (graph, (int) t) * sizeof (gf_real));
    }
  return TRUE;
}

/* The cut head.json names: where head.onnx starts. */
static char *
read_cut (const char *path, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root, *cut;

  if (!graft_json_load_file (parser, path, error))
    return NULL;
  root = json_parser_get_root (parser);
  cut = JSON_NODE_HOLDS_OBJECT (root)
        ? json_object_get_member (json_node_get_object (root), "cut") : NULL;
  if (cut == NULL || json_node_get_value_type (cut) != G_TYPE_STRING)
    {
      invalid (error, path, "no cut");
      return NULL;
    }
  return g_strdup (json_node_get_string (cut));
}

static gboolean
save (GfGraph *graph, int input, int output, const GfModel *model,
      const char *path, GError **error)
{
  GfOnnxExport what = { .input = input, .output = output,
                        .graph_name = model->name,
                        .metadata = model->metadata,
                        .n_metadata = model->n_metadata };
  GfError gf_error = { 0 };

  if (gf_onnx_save (graph, &what, path, &gf_error) != GF_OK)
    return graft_engine_error (error, gf_error.status, &gf_error);
  return TRUE;
}

/* head.safetensors: the head's weights, as a Graft run writes them. */
static gboolean
save_head_weights (GfGraph *graph, const char *path, GError **error)
{
  g_autoptr (GArray) views = g_array_new (FALSE, TRUE,
                                          sizeof (GraftTensorView));

  for (size_t t = 0; t < gf_graph_n_tensors (graph); t++)
    {
      const char *name = gf_graph_tensor_name (graph, (int) t);
      GraftTensorView v = { .name = name, .dtype = GRAFT_DTYPE_F32 };
      size_t dims[GF_MAX_DIMS];

      if (gf_graph_tensor_kind (graph, (int) t) != GF_TENSOR_PARAM
          || !g_str_has_prefix (name, "head."))
        continue;
      v.n_dims = (guint) gf_graph_tensor_shape (graph, (int) t, dims);
      for (guint d = 0; d < v.n_dims; d++)
        v.shape[d] = dims[d];
      v.data = gf_graph_tensor_data (graph, (int) t);
      g_array_append_val (views, v);
    }
  return graft_safetensors_write (path, (GraftTensorView *) views->data,
                                  views->len, NULL, error);
}

GraftRunConfig *
graft_run_import_read_config (const char *folder, GError **error)
{
  g_autofree char *run_json = g_build_filename (folder, "run.json", NULL);

  if (!g_file_test (run_json, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s has no run.json: not the output of an exported "
                   "run's train.py", folder);
      return NULL;
    }
  return graft_run_files_read_config (folder, error);
}

gboolean
graft_run_import (const char *folder, GError **error)
{
  g_autofree char *template = g_build_filename (folder, "graft",
                                                "model.onnx", NULL);
  g_autofree char *template_head = g_build_filename (folder, "graft",
                                                     "head.json", NULL);
  g_autofree char *weights = g_build_filename (folder, "weights.safetensors",
                                               NULL);
  g_autofree char *model_onnx = g_build_filename (folder, "model.onnx",
                                                  NULL);
  g_autofree char *head_onnx = g_build_filename (folder, "head.onnx", NULL);
  g_autofree char *head_weights = g_build_filename (folder,
                                                    "head.safetensors", NULL);
  g_autofree char *head_json = g_build_filename (folder, "head.json", NULL);
  g_autofree char *head_text = NULL, *cut_name = NULL;
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GraftRunHistory) history = NULL;
  g_autoptr (GraftSafetensors) st = NULL;
  GfModel *model = NULL;
  GfError gf_error = { 0 };
  gsize head_length;
  gboolean ok = FALSE;
  int cut;

  /* run.json as strictly as Graft reads its own. */
  if ((config = graft_run_import_read_config (folder, error)) == NULL
      || (history = graft_run_files_read_finished (folder, error)) == NULL)
    return FALSE;
  if (!g_file_get_contents (template_head, &head_text, &head_length, error)
      || (cut_name = read_cut (template_head, error)) == NULL
      || (st = graft_safetensors_load (weights, error)) == NULL)
    return FALSE;
  if (gf_onnx_load (template, NULL, &model, &gf_error) != GF_OK)
    return graft_engine_error (error, gf_error.status, &gf_error);
  cut = gf_graph_find_tensor (model->graph, cut_name);
  if (cut < 0)
    invalid (error, template_head, "its cut is not a tensor of the model");
  else
    ok = take_weights (model->graph, st, weights, error)
         && save (model->graph, model->input, model->output, model,
                  model_onnx, error)
         && save (model->graph, cut, model->output, model, head_onnx, error)
         && save_head_weights (model->graph, head_weights, error)
         && g_file_set_contents_full (head_json, head_text,
                                      (gssize) head_length,
                                      G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                      error);
  gf_model_free (model);
  return ok;
}
