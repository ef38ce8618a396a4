/* graft-cli-inspect.c: `graft-cli inspect MODEL` — what Graft sees in a
 * backbone, as JSON. */
#define G_LOG_DOMAIN "graft-cli"

#include "graft-cli-private.h"
#include "graft-run-files.h"

static const char *
activation_name (GfActivationKind kind)
{
  switch (kind)
    {
    case GF_ACT_RELU: return "Relu";
    case GF_ACT_CLIP: return "Clip";
    case GF_ACT_LEAKY_RELU: return "LeakyRelu";
    case GF_ACT_SIGMOID: return "Sigmoid";
    case GF_ACT_HARD_SIGMOID: return "HardSigmoid";
    case GF_ACT_HARD_SWISH: return "HardSwish";
    case GF_ACT_IDENTITY:
    default: return "Identity";
    }
}

/* A tensor's shape with the batch as null: it is whatever the caller
 * feeds. */
static void
add_shape (JsonBuilder *builder, const GfGraph *graph, int tensor)
{
  size_t dims[GF_MAX_DIMS];
  size_t ndim = gf_graph_tensor_shape (graph, tensor, dims);

  json_builder_begin_array (builder);
  for (size_t i = 0; i < ndim; i++)
    if (i == 0)
      json_builder_add_null_value (builder);
    else
      json_builder_add_int_value (builder, (gint64) dims[i]);
  json_builder_end_array (builder);
}

static void
add_input (JsonBuilder *builder, const GfModel *model)
{
  const GfPreprocess *pre = &model->preprocess;

  json_builder_set_member_name (builder, "input");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, gf_graph_tensor_name (model->graph,
                                                                model->input));
  json_builder_set_member_name (builder, "shape");
  add_shape (builder, model->graph, model->input);
  json_builder_set_member_name (builder, "was_nhwc");
  json_builder_add_boolean_value (builder, model->input_was_nhwc);
  json_builder_set_member_name (builder, "preprocess");
  json_builder_begin_object (builder);
  graft_run_files_add_preprocess (builder, pre);
  json_builder_set_member_name (builder, "from_file");
  json_builder_add_boolean_value (builder, model->preprocess_from_file);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
}

static void
add_blocks (JsonBuilder *builder, const GfGraph *graph,
            const GfBlock *blocks, size_t n_blocks)
{
  json_builder_set_member_name (builder, "blocks");
  json_builder_begin_array (builder);
  for (size_t i = 0; i < n_blocks; i++)
    {
      const GfBlock *b = &blocks[i];
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, b->name);
      json_builder_set_member_name (builder, "kind");
      json_builder_add_string_value (builder,
                                     gf_block_kind_to_string (b->kind));
      json_builder_set_member_name (builder, "first_node");
      json_builder_add_string_value (builder,
                                     gf_graph_node_name (graph,
                                                         b->first_node));
      json_builder_set_member_name (builder, "last_node");
      json_builder_add_string_value (builder,
                                     gf_graph_node_name (graph, b->last_node));
      json_builder_set_member_name (builder, "output");
      json_builder_add_string_value (builder,
                                     gf_graph_tensor_name (graph, b->output));
      json_builder_set_member_name (builder, "parameters");
      json_builder_add_int_value (builder, (gint64) b->n_parameters);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}

/* Parameter count and op counts over the whole graph. */
static void
add_counts (JsonBuilder *builder, const GfGraph *graph)
{
  g_autoptr (GHashTable) ops = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GList) names = NULL;
  gint64 parameters = 0;

  for (size_t i = 0; i < gf_graph_n_tensors (graph); i++)
    if (gf_graph_tensor_kind (graph, (int) i) == GF_TENSOR_PARAM)
      parameters += (gint64) gf_graph_tensor_count (graph, (int) i);
  for (size_t i = 0; i < gf_graph_n_nodes (graph); i++)
    {
      const GfNodeDesc *desc = gf_graph_node_desc (graph, i);
      const char *name = desc->kind == GF_OP_ACTIVATION
        ? activation_name (desc->attr.activation.kind)
        : gf_op_kind_to_string (desc->kind);
      g_hash_table_insert (ops, (gpointer) name,
                           GUINT_TO_POINTER (GPOINTER_TO_UINT
                                             (g_hash_table_lookup (ops, name))
                                             + 1));
    }
  json_builder_set_member_name (builder, "parameters");
  json_builder_add_int_value (builder, parameters);
  json_builder_set_member_name (builder, "ops");
  json_builder_begin_object (builder);
  names = g_list_sort (g_hash_table_get_keys (ops), (GCompareFunc) strcmp);
  for (GList *l = names; l != NULL; l = l->next)
    {
      json_builder_set_member_name (builder, l->data);
      json_builder_add_int_value (builder,
                                  GPOINTER_TO_UINT (g_hash_table_lookup
                                                    (ops, l->data)));
    }
  json_builder_end_object (builder);
}

static void
add_string (JsonBuilder *builder, const char *name, const char *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static JsonNode *
describe (const GfModel *model, int cut, const GfBlock *blocks,
          size_t n_blocks)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  add_string (builder, "name", model->name);
  add_string (builder, "source", model->source);
  json_builder_set_member_name (builder, "opset");
  json_builder_add_int_value (builder, model->opset);
  add_input (builder, model);
  json_builder_set_member_name (builder, "bottleneck");
  json_builder_begin_object (builder);
  add_string (builder, "tensor", gf_graph_tensor_name (model->graph, cut));
  json_builder_set_member_name (builder, "shape");
  add_shape (builder, model->graph, cut);
  json_builder_end_object (builder);
  add_blocks (builder, model->graph, blocks, n_blocks);
  add_counts (builder, model->graph);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

int
graft_cli_inspect (int argc, char **argv)
{
  g_autofree char *cut_name = NULL;
  const GOptionEntry entries[] = {
    { "cut", 0, 0, G_OPTION_ARG_STRING, &cut_name,
      "Cut at this tensor instead of the bottleneck", "TENSOR" },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GraftBackbone) backbone = NULL;
  const GfBlock *blocks;
  gsize n_blocks;

  if (!graft_cli_parse ("inspect", "MODEL", "Describe a backbone as JSON.",
                        entries, &argc, &argv))
    return GRAFT_CLI_USAGE;
  if (argc != 2)
    return graft_cli_fail (GRAFT_CLI_USAGE, "inspect: give one MODEL");
  backbone = graft_cli_load_backbone (argv[1], cut_name, &error);
  if (backbone == NULL)
    return graft_cli_fail (GRAFT_CLI_FAILED, "%s", error->message);
  blocks = graft_backbone_get_gf_blocks (backbone, &n_blocks);
  root = describe (graft_backbone_get_model (backbone),
                   graft_backbone_get_cut_tensor (backbone), blocks,
                   n_blocks);
  graft_cli_print_json (root);
  return 0;
}
