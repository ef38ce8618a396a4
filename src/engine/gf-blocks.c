/* gf-blocks.c: the bottleneck of a backbone and its division into blocks.
 *
 * Both work on the graph's structure only.  The bottleneck is found by
 * walking up from the classifier through the ops that only reshape or
 * pool; the blocks by counting, at each place in the execution order, how
 * many tensors cross it: where only one does, everything before it reaches
 * everything after it through that one tensor, and a block may end there.
 */
#include "gf-blocks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
  [GF_BLOCK_PLAIN] = "plain",
  [GF_BLOCK_RESIDUAL] = "residual",
  [GF_BLOCK_INVERTED_RESIDUAL] = "inverted residual",
  [GF_BLOCK_SQUEEZE_EXCITATION] = "squeeze-excitation",
  [GF_BLOCK_FIRE] = "fire",
  [GF_BLOCK_DENSE] = "dense",
  [GF_BLOCK_BRANCHED] = "branched",
};

const char *
gf_block_kind_to_string (GfBlockKind kind)
{
  return kind <= GF_BLOCK_BRANCHED ? kind_names[kind] : "unknown";
}

/* The node producing each tensor, −1 for inputs and parameters. */
static int *
producers_new (const GfGraph *graph)
{
  size_t n_tensors = gf_graph_n_tensors (graph);
  int *producer = malloc ((n_tensors ? n_tensors : 1) * sizeof *producer);

  if (producer == NULL)
    return NULL;
  for (size_t i = 0; i < n_tensors; i++)
    producer[i] = -1;
  for (size_t i = 0; i < gf_graph_n_nodes (graph); i++)
    producer[gf_graph_node_output (graph, i)] = (int) i;
  return producer;
}

static bool
is_data (const GfGraph *graph, int tensor)
{
  GfTensorKind kind = gf_graph_tensor_kind (graph, tensor);

  return kind == GF_TENSOR_INPUT || kind == GF_TENSOR_ACTIVATION;
}

/* Marks the nodes @target depends on (needed[node]) and whether @input is
 * among its ancestors; returns that. */
static bool
mark_ancestors (const GfGraph *graph, int input, int target,
                bool *needed_tensor, bool *needed_node)
{
  needed_tensor[target] = true;
  for (size_t i = gf_graph_n_nodes (graph); i-- > 0;)
    {
      const int *inputs;
      size_t n = gf_graph_node_inputs (graph, i, &inputs);
      if (!needed_tensor[gf_graph_node_output (graph, i)])
        continue;
      needed_node[i] = true;
      for (size_t s = 0; s < n; s++)
        needed_tensor[inputs[s]] = true;
    }
  return needed_tensor[input];
}

/* Ops a classifier's input passes through on its way from the feature
 * map: they change the layout, not the features. */
static bool
is_carrier (GfOpKind kind)
{
  return kind == GF_OP_FLATTEN || kind == GF_OP_RESHAPE
    || kind == GF_OP_DROPOUT || kind == GF_OP_IDENTITY
    || kind == GF_OP_TRANSPOSE;
}

/* The pooling between a feature map and its classifier: global, or an
 * adaptive average exported as AveragePool.  A MaxPool there belongs to
 * the features (VGG's last pool is part of Keras' include_top=False). */
static bool
is_pooling (GfOpKind kind)
{
  return kind == GF_OP_GLOBAL_AVGPOOL || kind == GF_OP_AVGPOOL;
}

/* Walks up from @tensor while its producer is one of the ops @accept
 * takes; returns the first tensor whose producer is not. */
static int
walk_up (const GfGraph *graph, const int *producer, int tensor,
         bool (*accept) (GfOpKind))
{
  while (producer[tensor] >= 0
         && accept (gf_graph_node_kind (graph, (size_t) producer[tensor])))
    {
      const int *inputs;
      gf_graph_node_inputs (graph, (size_t) producer[tensor], &inputs);
      tensor = inputs[0];
    }
  return tensor;
}

static bool
is_activation (GfOpKind kind)
{
  return kind == GF_OP_ACTIVATION;
}

/* From the tensor a classifier reads: past Flatten and friends, then past
 * one pooling op to its input.  With @conv_head (no Gemm: SqueezeNet), a
 * convolution and its activation sit between the pooling and the map. */
static int
feature_map_above (const GfGraph *graph, const int *producer, int tensor,
                   bool conv_head)
{
  const int *inputs;

  tensor = walk_up (graph, producer, tensor, is_carrier);
  if (producer[tensor] >= 0
      && is_pooling (gf_graph_node_kind (graph, (size_t) producer[tensor])))
    {
      gf_graph_node_inputs (graph, (size_t) producer[tensor], &inputs);
      tensor = inputs[0];
    }
  if (!conv_head)
    return tensor;
  tensor = walk_up (graph, producer, tensor, is_activation);
  if (producer[tensor] >= 0
      && gf_graph_node_kind (graph, (size_t) producer[tensor]) == GF_OP_CONV)
    {
      gf_graph_node_inputs (graph, (size_t) producer[tensor], &inputs);
      tensor = walk_up (graph, producer, inputs[0], is_carrier);
    }
  return tensor;
}

/* The classifier: the first Gemm on the way to the output that reads the
 * image's features; else, the last global pooling (a conv classifier);
 * else none (a headless backbone). */
static int
locate_bottleneck (const GfGraph *graph, const int *producer,
                   const bool *needed_node, int output)
{
  size_t n_nodes = gf_graph_n_nodes (graph);
  int last_pool = -1;

  for (size_t i = 0; i < n_nodes; i++)
    {
      const int *inputs;
      GfOpKind kind = gf_graph_node_kind (graph, i);
      if (!needed_node[i])
        continue;
      gf_graph_node_inputs (graph, i, &inputs);
      if (kind == GF_OP_GEMM && is_data (graph, inputs[0]))
        return feature_map_above (graph, producer, inputs[0], false);
      if (kind == GF_OP_GLOBAL_AVGPOOL)
        last_pool = (int) i;
    }
  if (last_pool >= 0)
    return feature_map_above (graph, producer,
                              gf_graph_node_output (graph, (size_t) last_pool),
                              true);
  return walk_up (graph, producer, output, is_carrier);
}

GfStatus
gf_find_bottleneck (const GfGraph *graph, int input, int output,
                    int *bottleneck, GfError *error)
{
  size_t n_tensors = gf_graph_n_tensors (graph);
  int *producer = producers_new (graph);
  bool *needed_tensor = calloc (n_tensors + 1, sizeof (bool));
  bool *needed_node = calloc (gf_graph_n_nodes (graph) + 1, sizeof (bool));
  GfStatus status = GF_OK;
  int cut = -1;
  size_t dims[GF_MAX_DIMS];

  if (producer == NULL || needed_tensor == NULL || needed_node == NULL)
    status = gf_error_set (error, GF_ERR_NOMEM, "out of memory");
  else if (input < 0 || output < 0 || (size_t) input >= n_tensors
           || (size_t) output >= n_tensors)
    status = gf_error_set (error, GF_ERR_INVALID, "no such input or output");
  else if (!mark_ancestors (graph, input, output, needed_tensor,
                            needed_node))
    status = gf_error_set (error, GF_ERR_INVALID,
                           "the output does not depend on the input");
  else
    {
      cut = locate_bottleneck (graph, producer, needed_node, output);
      if (gf_graph_tensor_shape (graph, cut, dims) != 4 || cut == input)
        status = gf_error_set (error, GF_ERR_UNSUPPORTED,
                               "found no 4-D feature map before the "
                               "classifier (ended at '%s')",
                               gf_graph_tensor_name (graph, cut));
    }
  free (producer);
  free (needed_tensor);
  free (needed_node);
  if (status == GF_OK)
    *bottleneck = cut;
  return status;
}

/* ---- Blocks -------------------------------------------------------------- */

typedef struct
{
  const GfGraph *graph;
  size_t *order;        /* the nodes the cut depends on, in order */
  size_t n;
  int *crossing;        /* crossing[k]: tensors alive across the place
                         * after order[k] */
  GfBlock *blocks;
  size_t n_blocks;
  bool *seen;           /* scratch over tensors, for counting weights */
} Division;

/* For each data tensor, the places it is alive across, accumulated into
 * crossing[] as a difference array. */
static void
count_crossings (Division *d, int cut)
{
  size_t n_tensors = gf_graph_n_tensors (d->graph);
  long *first = malloc (n_tensors * sizeof *first);
  long *last = malloc (n_tensors * sizeof *last);

  for (size_t t = 0; t < n_tensors; t++)
    first[t] = last[t] = -2;
  for (size_t k = 0; k < d->n; k++)
    {
      const int *inputs;
      size_t n_in = gf_graph_node_inputs (d->graph, d->order[k], &inputs);
      first[gf_graph_node_output (d->graph, d->order[k])] = (long) k;
      for (size_t s = 0; s < n_in; s++)
        if (is_data (d->graph, inputs[s]))
          {
            if (first[inputs[s]] == -2)
              first[inputs[s]] = -1;   /* the image: alive from the start */
            last[inputs[s]] = (long) k;
          }
    }
  last[cut] = (long) d->n;
  for (size_t t = 0; t < n_tensors; t++)
    for (long k = first[t] < 0 ? 0 : first[t]; k < last[t]; k++)
      d->crossing[k]++;
  free (first);
  free (last);
}

static bool
is_depthwise (const GfGraph *graph, size_t node)
{
  const GfNodeDesc *desc = gf_graph_node_desc (graph, node);

  return desc->kind == GF_OP_CONV && desc->attr.conv.groups > 1
    && desc->attr.conv.groups == desc->attr.conv.in_channels;
}

static bool
has_two_data_inputs (const GfGraph *graph, size_t node)
{
  const int *inputs;
  size_t n = gf_graph_node_inputs (graph, node, &inputs);

  return n == 2 && is_data (graph, inputs[0]) && is_data (graph, inputs[1]);
}

/* What a region with branches is, from the ops in it; @entry is the
 * tensor that flows into it. */
static GfBlockKind
classify_region (const Division *d, size_t a, size_t b, int entry)
{
  bool add = false, mul = false, pool = false, depthwise = false;
  bool concat = false, concat_entry = false;

  for (size_t k = a; k <= b; k++)
    {
      size_t node = d->order[k];
      const int *inputs;
      size_t n_in = gf_graph_node_inputs (d->graph, node, &inputs);
      switch (gf_graph_node_kind (d->graph, node))
        {
        case GF_OP_ADD: add = add || has_two_data_inputs (d->graph, node);
          break;
        case GF_OP_MUL: mul = mul || has_two_data_inputs (d->graph, node);
          break;
        case GF_OP_GLOBAL_AVGPOOL: pool = true; break;
        case GF_OP_CONV: depthwise = depthwise || is_depthwise (d->graph, node);
          break;
        case GF_OP_CONCAT:
          concat = true;
          for (size_t s = 0; s < n_in; s++)
            concat_entry = concat_entry || inputs[s] == entry;
          break;
        default: break;
        }
    }
  if (concat)
    return concat_entry ? GF_BLOCK_DENSE : GF_BLOCK_BRANCHED;
  if (add)
    return depthwise ? GF_BLOCK_INVERTED_RESIDUAL : GF_BLOCK_RESIDUAL;
  return mul && pool ? GF_BLOCK_SQUEEZE_EXCITATION : GF_BLOCK_BRANCHED;
}

static GfBlock *
append_block (Division *d, GfBlockKind kind, size_t a, size_t b)
{
  GfBlock *block = &d->blocks[d->n_blocks++];

  memset (block, 0, sizeof *block);
  block->kind = kind;
  block->first_node = d->order[a];
  block->last_node = d->order[b];
  return block;
}

static bool
starts_block (GfOpKind kind)
{
  return kind == GF_OP_CONV || kind == GF_OP_GEMM;
}

/* One node between two cut points: a convolution or dense op starts a
 * block; anything else joins the block before it. */
static void
add_chain_node (Division *d, size_t k)
{
  GfOpKind kind = gf_graph_node_kind (d->graph, d->order[k]);

  if (d->n_blocks == 0 || starts_block (kind))
    append_block (d, GF_BLOCK_PLAIN, k, k);
  else
    d->blocks[d->n_blocks - 1].last_node = d->order[k];
}

/* A region with branches is a block.  A concatenation of branches that
 * leaves out the region's entry is a Fire module's expand stage: the
 * squeeze convolution just before it belongs with it. */
static bool
region_has_weights (const Division *d, size_t a, size_t b)
{
  for (size_t k = a; k <= b; k++)
    {
      const int *inputs;
      size_t n_in = gf_graph_node_inputs (d->graph, d->order[k], &inputs);
      for (size_t s = 0; s < n_in; s++)
        if (gf_graph_tensor_kind (d->graph, inputs[s]) == GF_TENSOR_PARAM)
          return true;
    }
  return false;
}

static void
add_region (Division *d, size_t a, size_t b)
{
  int entry = a == 0 ? -1 : gf_graph_node_output (d->graph, d->order[a - 1]);
  GfBlockKind kind = classify_region (d, a, b, entry);
  GfBlock *previous = d->n_blocks ? &d->blocks[d->n_blocks - 1] : NULL;

  /* Branches without weights — x·sigmoid(x) (SiLU), x·hardsigmoid(x)
   * (HardSwish before opset 14) — are activations: they belong to the
   * block before them, which would otherwise end unfinished. */
  if (previous != NULL && !region_has_weights (d, a, b))
    {
      previous->last_node = d->order[b];
      return;
    }

  if (kind == GF_BLOCK_BRANCHED && previous != NULL && a > 0
      && previous->kind == GF_BLOCK_PLAIN
      && previous->last_node == d->order[a - 1]
      && gf_graph_node_kind (d->graph, previous->first_node) == GF_OP_CONV
      && gf_graph_node_kind (d->graph, d->order[b]) == GF_OP_CONCAT)
    {
      previous->kind = GF_BLOCK_FIRE;
      previous->last_node = d->order[b];
      return;
    }
  append_block (d, kind, a, b);
}

/* Counts convolutions and weights, and names the block. */
static void
describe_block (Division *d, GfBlock *block, size_t number)
{
  size_t n_tensors = gf_graph_n_tensors (d->graph);

  memset (d->seen, 0, n_tensors * sizeof *d->seen);
  for (size_t node = block->first_node; node <= block->last_node; node++)
    {
      const int *inputs;
      size_t n_in = gf_graph_node_inputs (d->graph, node, &inputs);
      block->n_convs += starts_block (gf_graph_node_kind (d->graph, node));
      for (size_t s = 0; s < n_in; s++)
        if (gf_graph_tensor_kind (d->graph, inputs[s]) == GF_TENSOR_PARAM
            && !d->seen[inputs[s]])
          {
            d->seen[inputs[s]] = true;
            block->n_parameters += gf_graph_tensor_count (d->graph,
                                                          inputs[s]);
          }
    }
  block->output = gf_graph_node_output (d->graph, block->last_node);
  snprintf (block->name, sizeof block->name, "block %zu · %s · %zu conv",
            number, gf_block_kind_to_string (block->kind), block->n_convs);
}

static void
divide (Division *d)
{
  size_t start = 0;

  for (size_t k = 0; k < d->n; k++)
    {
      if (d->crossing[k] != 1 && k + 1 < d->n)
        continue;
      if (start == k)
        add_chain_node (d, k);
      else
        add_region (d, start, k);
      start = k + 1;
    }
  for (size_t i = 0; i < d->n_blocks; i++)
    describe_block (d, &d->blocks[i], i + 1);
}

static GfStatus
division_init (Division *d, const GfGraph *graph, int input, int cut,
               GfError *error)
{
  size_t n_tensors = gf_graph_n_tensors (graph);
  size_t n_nodes = gf_graph_n_nodes (graph);
  bool *needed_tensor = calloc (n_tensors + 1, sizeof (bool));
  bool *needed_node = calloc (n_nodes + 1, sizeof (bool));
  bool reaches;

  memset (d, 0, sizeof *d);
  d->graph = graph;
  d->order = malloc ((n_nodes + 1) * sizeof *d->order);
  d->crossing = calloc (n_nodes + 1, sizeof *d->crossing);
  d->blocks = malloc ((n_nodes + 1) * sizeof *d->blocks);
  d->seen = calloc (n_tensors + 1, sizeof *d->seen);
  if (needed_tensor == NULL || needed_node == NULL || d->order == NULL
      || d->crossing == NULL || d->blocks == NULL || d->seen == NULL)
    {
      free (needed_tensor);
      free (needed_node);
      return gf_error_set (error, GF_ERR_NOMEM, "out of memory");
    }
  reaches = mark_ancestors (graph, input, cut, needed_tensor, needed_node);
  for (size_t i = 0; i < n_nodes; i++)
    if (needed_node[i])
      d->order[d->n++] = i;
  free (needed_tensor);
  free (needed_node);
  if (!reaches || d->n == 0)
    return gf_error_set (error, GF_ERR_INVALID, "the cut '%s' does not "
                         "depend on the input",
                         gf_graph_tensor_name (graph, cut));
  return GF_OK;
}

static void
division_clear (Division *d)
{
  free (d->order);
  free (d->crossing);
  free (d->seen);
}

GfStatus
gf_find_blocks (const GfGraph *graph, int input, int cut, GfBlock **blocks,
                size_t *n_blocks, GfError *error)
{
  Division d;
  GfStatus status;

  *blocks = NULL;
  *n_blocks = 0;
  if (input < 0 || cut < 0 || (size_t) input >= gf_graph_n_tensors (graph)
      || (size_t) cut >= gf_graph_n_tensors (graph))
    return gf_error_set (error, GF_ERR_INVALID, "no such input or cut");
  status = division_init (&d, graph, input, cut, error);
  if (status == GF_OK)
    {
      count_crossings (&d, cut);
      divide (&d);
      *blocks = d.blocks;
      *n_blocks = d.n_blocks;
    }
  else
    free (d.blocks);
  division_clear (&d);
  return status;
}

size_t
gf_block_params (const GfGraph *graph, const GfBlock *block, int *params,
                 size_t max)
{
  bool *seen = calloc (gf_graph_n_tensors (graph) + 1, sizeof *seen);
  size_t n = 0;

  if (seen == NULL)
    return 0;
  for (size_t node = block->first_node; node <= block->last_node; node++)
    {
      const int *inputs;
      size_t n_in = gf_graph_node_inputs (graph, node, &inputs);
      for (size_t s = 0; s < n_in; s++)
        if (gf_graph_tensor_kind (graph, inputs[s]) == GF_TENSOR_PARAM
            && !seen[inputs[s]])
          {
            seen[inputs[s]] = true;
            if (n < max)
              params[n] = inputs[s];
            n++;
          }
    }
  free (seen);
  return n;
}
