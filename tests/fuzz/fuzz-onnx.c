/* fuzz-onnx.c: an ONNX model as graft_backbone_load reads one.
 *
 * The bytes go through the importer (protobuf, initializers, constant
 * folding, graph building and shape inference), then, when they make a
 * model, through what choosing a backbone does with it: the bottleneck,
 * the blocks up to it and each block's parameters, and the part after the
 * first block cut out as a separate graph, as training does.  A model
 * small enough to run quickly also runs one forward pass: shapes that
 * shape inference got wrong then show as reads or writes out of bounds.
 * External data is refused (no base folder), as it must be for bytes of
 * unknown origin.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz-util.h"
#include "gf-blocks.h"
#include "gf-onnx.h"

/* Activation elements per example, in all, up to which a model runs a
 * forward pass: a few milliseconds under ASan. */
#define FORWARD_MAX_ELEMENTS ((size_t) 1 << 18)
#define INPUT_PATTERN_PERIOD 17

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_environment ();
  return 0;
}

static size_t
activation_elements (const GfGraph *graph)
{
  size_t total = 0;

  for (size_t i = 0; i < gf_graph_n_nodes (graph); i++)
    {
      size_t n = gf_graph_tensor_count (graph,
                                        gf_graph_node_output (graph, i));
      if (n > FORWARD_MAX_ELEMENTS || total + n > FORWARD_MAX_ELEMENTS)
        return SIZE_MAX;
      total += n;
    }
  return total;
}

/* One example through the whole model, the input a fixed ramp. */
static void
run_forward (GfModel *model)
{
  GfGraph *graph = model->graph;
  gf_real *x;
  size_t n;

  if (activation_elements (graph) == SIZE_MAX
      || gf_graph_plan (graph, 1, GF_GRAPH_INFER, NULL) != GF_OK)
    return;
  x = gf_graph_tensor_data (graph, model->input);
  n = gf_graph_tensor_count (graph, model->input);
  for (size_t i = 0; i < n; i++)
    x[i] = (gf_real) (i % INPUT_PATTERN_PERIOD) / INPUT_PATTERN_PERIOD;
  gf_graph_forward (graph, 1, GF_GRAPH_INFER, NULL);
}

/* The part from the first block's output to the model's output, as a
 * graph of its own (what training does with the blocks it unfreezes). */
static void
extract_tail (const GfModel *model, const GfBlock *first)
{
  int from, to;
  GfGraph *tail = gf_graph_extract (model->graph, first->output,
                                    model->output, &from, &to, NULL);

  if (tail == NULL)
    return;
  gf_graph_compile (tail, NULL);
  gf_graph_free (tail);
}

static void
walk_blocks (const GfModel *model)
{
  GfBlock *blocks = NULL;
  size_t n_blocks = 0;
  int cut;

  if (gf_find_bottleneck (model->graph, model->input, model->output, &cut,
                          NULL) != GF_OK
      || gf_find_blocks (model->graph, model->input, cut, &blocks, &n_blocks,
                         NULL) != GF_OK)
    return;
  for (size_t i = 0; i < n_blocks; i++)
    gf_block_params (model->graph, &blocks[i], NULL, 0);
  if (n_blocks > 0)
    extract_tail (model, &blocks[0]);
  free (blocks);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GfModel *model = NULL;
  GfError error = { 0 };

  if (gf_onnx_load_from_memory (data, size, NULL, NULL, &model, &error)
      != GF_OK)
    return 0;
  walk_blocks (model);
  run_forward (model);
  gf_model_free (model);
  return 0;
}
