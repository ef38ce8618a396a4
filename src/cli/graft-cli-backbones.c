/* graft-cli-backbones.c: `graft-cli backbones` — the bundled backbones,
 * by id, with what their files say about them. */
#define G_LOG_DOMAIN "graft-cli"

#include <string.h>

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
  g_autoptr (GraftBackbone) backbone = path != NULL
    ? graft_backbone_load (path, NULL, NULL) : NULL;

  json_builder_begin_object (b);
  add_member (b, "id", id);
  add_member (b, "path", path);
  if (backbone != NULL)
    {
      const char *keys[] = { "graft.data", "graft.test_accuracy",
                             "graft.data_licence" };
      guint height, width;
      graft_backbone_get_input_size (backbone, NULL, &height, &width);
      add_member (b, "name", graft_backbone_get_name (backbone));
      add_member (b, "source", graft_backbone_get_source (backbone));
      json_builder_set_member_name (b, "input_size");
      json_builder_begin_array (b);
      json_builder_add_int_value (b, height);
      json_builder_add_int_value (b, width);
      json_builder_end_array (b);
      for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
        add_member (b, keys[i] + strlen ("graft."),
                    graft_backbone_get_metadata (backbone, keys[i]));
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
