/* graft-cli-backbones.c: `graft-cli backbones` — the bundled backbones,
 * by id, with what their files say about them. */
#define G_LOG_DOMAIN "graft-cli"

#include "gf-onnx.h"
#include "graft-backbones.h"
#include "graft-cli-private.h"

static void
add_member (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
describe (JsonBuilder *b, const char *id)
{
  g_autofree char *path = graft_backbones_resolve (id, NULL);
  GfModel *model = NULL;

  json_builder_begin_object (b);
  add_member (b, "id", id);
  add_member (b, "path", path);
  if (path != NULL && gf_onnx_load (path, NULL, &model, NULL) == GF_OK)
    {
      const char *keys[] = { "graft.data", "graft.test_accuracy",
                             "graft.data_licence" };
      add_member (b, "name", model->name);
      add_member (b, "source", model->source);
      json_builder_set_member_name (b, "input_size");
      json_builder_begin_array (b);
      json_builder_add_int_value (b, (gint64) model->preprocess.height);
      json_builder_add_int_value (b, (gint64) model->preprocess.width);
      json_builder_end_array (b);
      for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
        add_member (b, keys[i] + strlen ("graft."),
                    gf_metadata_lookup (model->metadata, model->n_metadata,
                                        keys[i]));
      gf_model_free (model);
    }
  json_builder_end_object (b);
}

int
graft_cli_backbones (int argc, char **argv)
{
  const GOptionEntry entries[] = { { NULL } };
  g_auto (GStrv) ids = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  if (!graft_cli_parse ("backbones", "", "List the bundled backbones as "
                        "JSON; give an id wherever a MODEL is asked for.",
                        entries, &argc, &argv))
    return GRAFT_CLI_USAGE;
  ids = graft_backbones_list ();
  json_builder_begin_array (b);
  for (guint i = 0; ids[i] != NULL; i++)
    describe (b, ids[i]);
  json_builder_end_array (b);
  root = json_builder_get_root (b);
  graft_cli_print_json (root);
  return 0;
}
