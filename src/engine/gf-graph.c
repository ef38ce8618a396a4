/* gf-graph.c: building, compiling, planning and running a network.
 *
 * The life of a graph has three steps, each in its own part of this file:
 * building (tensors and nodes appended in any order), compiling (a
 * topological order, shapes, one parameter allocation) and planning (for a
 * batch size and mode: which nodes run backward, which activations are
 * kept, and where each buffer lives in the arena).  Running is then a walk
 * over the nodes in order and back.
 */
#include "gf-graph.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gf-engine.h"
#include "gf-parallel.h"
#include "ops/gf-batchnorm.h"
#include "ops/gf-dense.h"
#include "ops/gf-dropout.h"
#include "ops/gf-elementwise.h"
#include "ops/gf-pad.h"
#include "ops/gf-softmax.h"
#include "ops/gf-transpose.h"

_Static_assert (GF_MAX_DIMS <= GF_TRANSPOSE_MAX_DIMS,
                "the transpose kernel must take every tensor a graph holds");

/* Buffers start on 64-byte boundaries so that vector loads never split a
 * cache line at a buffer's start. */
#define GF_ALIGN_ELEMENTS 16
#define GF_NAME_MAX 4096

typedef struct
{
  char *name;
  GfTensorKind kind;
  size_t ndim;
  size_t dims[GF_MAX_DIMS];   /* activations: dims[0] is the planned batch */
  size_t count;               /* per example, or in all for parameters */
  int producer;               /* node index, −1 for inputs and parameters */
  bool trainable;
  float *init;                /* parameter values until compile */
  size_t offset;              /* into params, or into the arena */
  /* Set by plan. */
  bool live;                  /* leads to an output: has a buffer */
  bool requires_grad;
  bool has_grad;
  size_t grad_offset;         /* into the arena, for activations */
  long first_use, last_use;   /* lifetime of the data, in plan time */
  int alias;                  /* −1, or the tensor whose buffer it shares */
  bool unbuffered;            /* inside an expansion chain: never stored */
  long grad_first, grad_last; /* lifetime of the gradient */
  /* Set during backward. */
  bool grad_written;
} Tensor;

typedef struct
{
  char *name;
  GfNodeDesc desc;
  int output;
  /* Set by compile. */
  GfGemm gemm;
  size_t concat_channels[GF_NODE_MAX_INPUTS];
  size_t channels, spatial;   /* BatchNorm, GlobalAveragePool */
  size_t state_offset;        /* BatchNorm batch statistics, 2 × channels */
  /* Set by plan. */
  bool backward;
  bool bn_train;
  int fused;                  /* Conv, Add: the Activation it applies, or −1 */
  bool absorbed;              /* Activation: applied by the node before it */
  int chain_into;             /* 1×1 Conv: the depthwise Conv running it */
  int chain_from;             /* depthwise Conv: the 1×1 Conv it runs */
  size_t mask_offset;         /* Dropout, into the arena */
  long mask_first, mask_last;
} Node;

struct _GfGraph
{
  Tensor *tensors;
  size_t n_tensors, cap_tensors;
  Node *nodes;
  size_t n_nodes, cap_nodes;
  int outputs[GF_NODE_MAX_INPUTS];
  size_t n_outputs;
  bool compiled;
  gf_real *params, *grads;
  size_t param_count;
  gf_real *node_state;
  /* Set by plan. */
  bool planned;
  GfGraphMode mode;
  size_t max_batch;
  gf_real *arena, *workspace, *scratch;
  size_t arena_count, workspace_count, scratch_count;
  /* Convolutions in sub-batches: a workspace for each of sub_slots
   * threads, sub_workspace elements apart, then each sub-batch's weight
   * and bias gradient sums. */
  gf_real *subs;
  size_t sub_slots, sub_workspace;
  size_t chain_slots;         /* threads' scratch in a chain's workspace */
  /* Options. */
  bool input_grad;
  bool bn_frozen;
  GfRng rng;
  /* The last forward pass, which backward must follow. */
  size_t last_batch;
  GfGraphMode last_mode;
  GfGraphInterrupt interrupt;
  void *interrupt_data;
  bool cut_short;             /* a node stopped part way: see SubConv */
};

static const char *const op_names[GF_OP_COUNT] = {
  [GF_OP_CONV] = "Conv",
  [GF_OP_BATCHNORM] = "BatchNormalization",
  [GF_OP_ACTIVATION] = "Activation",
  [GF_OP_ADD] = "Add",
  [GF_OP_MUL] = "Mul",
  [GF_OP_CONCAT] = "Concat",
  [GF_OP_MAXPOOL] = "MaxPool",
  [GF_OP_AVGPOOL] = "AveragePool",
  [GF_OP_GLOBAL_AVGPOOL] = "GlobalAveragePool",
  [GF_OP_FLATTEN] = "Flatten",
  [GF_OP_GEMM] = "Gemm",
  [GF_OP_DROPOUT] = "Dropout",
  [GF_OP_IDENTITY] = "Identity",
  [GF_OP_PAD] = "Pad",
  [GF_OP_SOFTMAX] = "Softmax",
  [GF_OP_TRANSPOSE] = "Transpose",
  [GF_OP_RESHAPE] = "Reshape",
};

const char *
gf_op_kind_to_string (GfOpKind kind)
{
  return kind < GF_OP_COUNT ? op_names[kind] : "unknown";
}

static size_t
align_up (size_t n)
{
  return (n + GF_ALIGN_ELEMENTS - 1) / GF_ALIGN_ELEMENTS * GF_ALIGN_ELEMENTS;
}

GfGraph *
gf_graph_new (void)
{
  GfGraph *graph = calloc (1, sizeof *graph);

  if (graph != NULL)
    gf_rng_seed (&graph->rng, 0);
  return graph;
}

void
gf_graph_free (GfGraph *graph)
{
  if (graph == NULL)
    return;
  for (size_t i = 0; i < graph->n_tensors; i++)
    {
      free (graph->tensors[i].name);
      free (graph->tensors[i].init);
    }
  for (size_t i = 0; i < graph->n_nodes; i++)
    free (graph->nodes[i].name);
  free (graph->tensors);
  free (graph->nodes);
  free (graph->params);
  free (graph->grads);
  free (graph->node_state);
  free (graph->arena);
  free (graph->workspace);
  free (graph->scratch);
  free (graph->subs);
  free (graph);
}

/* ---- Building ---------------------------------------------------------- */

int
gf_graph_find_tensor (const GfGraph *graph, const char *name)
{
  for (size_t i = 0; i < graph->n_tensors; i++)
    if (strcmp (graph->tensors[i].name, name) == 0)
      return (int) i;
  return -1;
}

static GfStatus
grow (void **items, size_t *capacity, size_t needed, size_t item_size,
      GfError *error)
{
  size_t new_capacity = *capacity ? *capacity : 16;
  size_t bytes;
  void *moved;

  if (needed <= *capacity)
    return GF_OK;
  while (new_capacity < needed)
    new_capacity *= 2;
  if (gf_size_mul (new_capacity, item_size, &bytes) != 0)
    return gf_error_set (error, GF_ERR_NOMEM, "graph too large");
  moved = realloc (*items, bytes);
  if (moved == NULL)
    return gf_error_set (error, GF_ERR_NOMEM, "out of memory growing graph");
  *items = moved;
  *capacity = new_capacity;
  return GF_OK;
}

static char *
copy_name (const char *name)
{
  size_t length = strnlen (name, GF_NAME_MAX);
  char *copy = malloc (length + 1);

  if (copy != NULL)
    {
      memcpy (copy, name, length);
      copy[length] = '\0';
    }
  return copy;
}

/* Appends a tensor with a checked shape and returns its id, or −1. */
static int
append_tensor (GfGraph *graph, const char *name, GfTensorKind kind,
               size_t ndim, const size_t *dims, GfError *error)
{
  Tensor *t;
  size_t count = 1;

  if (graph->compiled)
    return gf_error_set (error, GF_ERR_INVALID,
                         "cannot add '%s': the graph is compiled", name), -1;
  if (name == NULL || name[0] == '\0')
    return gf_error_set (error, GF_ERR_INVALID, "a tensor needs a name"), -1;
  if (gf_graph_find_tensor (graph, name) >= 0)
    return gf_error_set (error, GF_ERR_INVALID,
                         "tensor '%s' is defined twice", name), -1;
  if (ndim > GF_MAX_DIMS)
    return gf_error_set (error, GF_ERR_UNSUPPORTED,
                         "tensor '%s' has %zu dimensions; at most %d",
                         name, ndim, GF_MAX_DIMS), -1;
  for (size_t i = (kind == GF_TENSOR_INPUT); i < ndim; i++)
    if (dims[i] == 0 || gf_size_mul (count, dims[i], &count) != 0
        || count > GF_ALLOC_LIMIT / sizeof (gf_real))
      return gf_error_set (error, GF_ERR_SHAPE,
                           "tensor '%s' has an empty or absurd shape", name), -1;
  if (grow ((void **) &graph->tensors, &graph->cap_tensors,
            graph->n_tensors + 1, sizeof (Tensor), error) != GF_OK)
    return -1;

  t = &graph->tensors[graph->n_tensors];
  memset (t, 0, sizeof *t);
  t->name = copy_name (name);
  if (t->name == NULL)
    return gf_error_set (error, GF_ERR_NOMEM, "out of memory"), -1;
  t->kind = kind;
  t->ndim = ndim;
  if (ndim > 0)
    memcpy (t->dims, dims, ndim * sizeof *dims);
  t->count = count;
  t->producer = -1;
  return (int) graph->n_tensors++;
}

int
gf_graph_add_input (GfGraph *graph, const char *name, size_t ndim,
                    const size_t *dims, GfError *error)
{
  if (ndim < 1)
    return gf_error_set (error, GF_ERR_SHAPE,
                         "input '%s' needs a batch dimension", name), -1;
  return append_tensor (graph, name, GF_TENSOR_INPUT, ndim, dims, error);
}

int
gf_graph_add_param (GfGraph *graph, const char *name, GfTensorKind kind,
                    size_t ndim, const size_t *dims, const float *init,
                    GfError *error)
{
  int id;
  Tensor *t;

  if (kind != GF_TENSOR_PARAM && kind != GF_TENSOR_STATE)
    return gf_error_set (error, GF_ERR_INVALID,
                         "'%s' must be a parameter or state", name), -1;
  id = append_tensor (graph, name, kind, ndim, dims, error);
  if (id < 0)
    return -1;
  t = &graph->tensors[id];
  if (gf_alloc_zeroed (t->count, sizeof (float), (void **) &t->init,
                       error) != GF_OK)
    return -1;
  if (init != NULL)
    memcpy (t->init, init, t->count * sizeof (float));
  return id;
}

int
gf_graph_add_node (GfGraph *graph, const char *node_name,
                   const GfNodeDesc *desc, const char *output_name,
                   GfError *error)
{
  Node *node;
  int out;

  if (desc->kind >= GF_OP_COUNT)
    return gf_error_set (error, GF_ERR_UNSUPPORTED,
                         "node '%s' has an unknown op", node_name), -1;
  if (desc->n_inputs == 0 || desc->n_inputs > GF_NODE_MAX_INPUTS)
    return gf_error_set (error, GF_ERR_INVALID,
                         "node '%s' has %zu inputs", node_name,
                         desc->n_inputs), -1;
  /* Inputs must exist already, so the order of addition is an execution
   * order and no cycle can be built. */
  for (size_t i = 0; i < desc->n_inputs; i++)
    if (desc->inputs[i] < 0 || (size_t) desc->inputs[i] >= graph->n_tensors)
      return gf_error_set (error, GF_ERR_INVALID,
                           "node '%s' input %zu is not a known tensor",
                           node_name, i), -1;
  if (grow ((void **) &graph->nodes, &graph->cap_nodes, graph->n_nodes + 1,
            sizeof (Node), error) != GF_OK)
    return -1;
  out = append_tensor (graph, output_name, GF_TENSOR_ACTIVATION, 0, NULL,
                       error);
  if (out < 0)
    return -1;

  node = &graph->nodes[graph->n_nodes];
  memset (node, 0, sizeof *node);
  node->name = copy_name (node_name ? node_name : output_name);
  if (node->name == NULL)
    return gf_error_set (error, GF_ERR_NOMEM, "out of memory"), -1;
  node->desc = *desc;
  node->output = out;
  graph->tensors[out].producer = (int) graph->n_nodes++;
  return out;
}

GfStatus
gf_graph_mark_output (GfGraph *graph, int tensor, GfError *error)
{
  if (tensor < 0 || (size_t) tensor >= graph->n_tensors)
    return gf_error_set (error, GF_ERR_INVALID, "no such output tensor");
  for (size_t i = 0; i < graph->n_outputs; i++)
    if (graph->outputs[i] == tensor)
      return GF_OK;
  if (graph->n_outputs == GF_NODE_MAX_INPUTS)
    return gf_error_set (error, GF_ERR_UNSUPPORTED, "too many outputs");
  graph->outputs[graph->n_outputs++] = tensor;
  graph->planned = false;
  return GF_OK;
}

GfStatus
gf_graph_set_outputs (GfGraph *graph, const int *tensors, size_t n,
                      GfError *error)
{
  if (n == 0 || n > GF_NODE_MAX_INPUTS)
    return gf_error_set (error, GF_ERR_INVALID, "a graph needs 1 to %d "
                         "outputs", GF_NODE_MAX_INPUTS);
  for (size_t i = 0; i < n; i++)
    if (tensors[i] < 0 || (size_t) tensors[i] >= graph->n_tensors
        || graph->tensors[tensors[i]].kind != GF_TENSOR_ACTIVATION)
      return gf_error_set (error, GF_ERR_INVALID,
                           "output %zu is not a tensor a node produces", i);
  graph->n_outputs = 0;
  for (size_t i = 0; i < n; i++)
    gf_graph_mark_output (graph, tensors[i], NULL);
  graph->planned = false;
  return GF_OK;
}

/* ---- Compiling: shapes --------------------------------------------------- */

static bool
is_data (const Tensor *t)
{
  return t->kind == GF_TENSOR_INPUT || t->kind == GF_TENSOR_ACTIVATION;
}

static bool
is_param (const Tensor *t)
{
  return t->kind == GF_TENSOR_PARAM || t->kind == GF_TENSOR_STATE;
}

/* Sets an activation's shape from per-example dims (dims[0] ignored). */
static void
set_shape (Tensor *t, size_t ndim, const size_t *dims)
{
  t->ndim = ndim;
  memcpy (t->dims, dims, ndim * sizeof *dims);
  t->dims[0] = 1;
  t->count = 1;
  for (size_t i = 1; i < ndim; i++)
    t->count *= dims[i];
}

static GfStatus
node_error (const Node *node, GfStatus status, const char *what,
            GfError *error)
{
  return gf_error_set (error, status, "%s node '%s': %s",
                       gf_op_kind_to_string (node->desc.kind), node->name,
                       what);
}

static GfStatus node_errorf (const Node *node, GfStatus status,
                             GfError *error, const char *format, ...)
  __attribute__ ((format (printf, 4, 5)));

/* node_error with a formatted message. */
static GfStatus
node_errorf (const Node *node, GfStatus status, GfError *error,
             const char *format, ...)
{
  char what[GF_ERROR_MESSAGE_MAX];
  va_list args;

  if (error == NULL)
    return status;
  va_start (args, format);
  vsnprintf (what, sizeof what, format, args);
  va_end (args);
  return node_error (node, status, what, error);
}

/* Prefixes the message a kernel's init left in @error with the node. */
static GfStatus
kernel_error (const Node *node, GfStatus status, GfError *error)
{
  char message[GF_ERROR_MESSAGE_MAX];

  if (error == NULL)
    return status;
  memcpy (message, error->message, sizeof message);
  return node_error (node, status, message, error);
}

/* Checks the kinds and counts of a node's inputs: @data_inputs leading
 * data tensors, then parameters, with @min_params..@max_params of them. */
static GfStatus
check_inputs (GfGraph *graph, const Node *node, size_t data_inputs,
              size_t min_params, size_t max_params, GfError *error)
{
  size_t n = node->desc.n_inputs;

  if (n < data_inputs + min_params || n > data_inputs + max_params)
    return node_error (node, GF_ERR_INVALID, "wrong number of inputs", error);
  for (size_t i = 0; i < n; i++)
    {
      const Tensor *t = &graph->tensors[node->desc.inputs[i]];
      if (i < data_inputs && !is_data (t))
        return node_error (node, GF_ERR_INVALID,
                           "expects activations where it got a weight",
                           error);
      if (i >= data_inputs && !is_param (t))
        return node_error (node, GF_ERR_UNSUPPORTED,
                           "expects a weight where it got an activation",
                           error);
    }
  return GF_OK;
}

static GfStatus
infer_conv (GfGraph *graph, Node *node, GfError *error)
{
  GfStatus status = check_inputs (graph, node, 1, 1, 2, error);
  const Tensor *x, *w;
  GfConv2d *conv = &node->desc.attr.conv;
  size_t dims[4];

  if (status != GF_OK)
    return status;
  x = &graph->tensors[node->desc.inputs[0]];
  w = &graph->tensors[node->desc.inputs[1]];
  if (x->ndim != 4 || w->ndim != 4)
    return node_error (node, GF_ERR_SHAPE, "input and weight must be 4-D",
                       error);
  conv->batch = 1;
  conv->in_channels = x->dims[1];
  conv->in_h = x->dims[2];
  conv->in_w = x->dims[3];
  conv->out_channels = w->dims[0];
  conv->kernel_h = w->dims[2];
  conv->kernel_w = w->dims[3];
  if (conv->groups == 0 || w->dims[1] * conv->groups != x->dims[1])
    return node_error (node, GF_ERR_SHAPE,
                       "weight channels × groups differ from the input's "
                       "channels", error);
  if (node->desc.n_inputs == 3
      && graph->tensors[node->desc.inputs[2]].count != conv->out_channels)
    return node_error (node, GF_ERR_SHAPE, "bias size differs from the "
                       "number of output channels", error);
  if ((status = gf_conv2d_init (conv, error)) != GF_OK)
    return kernel_error (node, status, error);
  dims[1] = conv->out_channels;
  dims[2] = conv->out_h;
  dims[3] = conv->out_w;
  set_shape (&graph->tensors[node->output], 4, dims);
  return GF_OK;
}

static GfStatus
infer_batchnorm (GfGraph *graph, Node *node, GfError *error)
{
  GfStatus status;
  const Tensor *x = &graph->tensors[node->desc.inputs[0]];

  status = check_inputs (graph, node, 1, 4, 4, error);
  if (status != GF_OK)
    return status;
  if (x->ndim < 2)
    return node_error (node, GF_ERR_SHAPE, "input needs a channel axis",
                       error);
  node->channels = x->dims[1];
  node->spatial = x->count / x->dims[1];
  for (size_t i = 1; i < 5; i++)
    if (graph->tensors[node->desc.inputs[i]].count != node->channels)
      return node_error (node, GF_ERR_SHAPE, "a statistic or weight does "
                         "not have one value per channel", error);
  set_shape (&graph->tensors[node->output], x->ndim, x->dims);
  return GF_OK;
}

static GfStatus
infer_pool (GfGraph *graph, Node *node, GfError *error)
{
  GfStatus status;
  const Tensor *x = &graph->tensors[node->desc.inputs[0]];
  GfPool2d *pool = &node->desc.attr.pool;
  size_t dims[4];

  status = check_inputs (graph, node, 1, 0, 0, error);
  if (status != GF_OK)
    return status;
  if (x->ndim != 4)
    return node_error (node, GF_ERR_SHAPE, "input must be 4-D", error);
  pool->batch = 1;
  pool->channels = x->dims[1];
  pool->in_h = x->dims[2];
  pool->in_w = x->dims[3];
  if ((status = gf_pool2d_init (pool, error)) != GF_OK)
    return kernel_error (node, status, error);
  dims[1] = pool->channels;
  dims[2] = pool->out_h;
  dims[3] = pool->out_w;
  set_shape (&graph->tensors[node->output], 4, dims);
  return GF_OK;
}

static GfStatus
infer_global_pool (GfGraph *graph, Node *node, GfError *error)
{
  GfStatus status;
  const Tensor *x = &graph->tensors[node->desc.inputs[0]];
  size_t dims[4] = { 1, 0, 1, 1 };

  status = check_inputs (graph, node, 1, 0, 0, error);
  if (status != GF_OK)
    return status;
  if (x->ndim != 4)
    return node_error (node, GF_ERR_SHAPE, "input must be 4-D", error);
  node->channels = x->dims[1];
  node->spatial = x->dims[2] * x->dims[3];
  dims[1] = x->dims[1];
  set_shape (&graph->tensors[node->output], 4, dims);
  return GF_OK;
}

/* Shapes of a broadcasting operand: data tensors get batch 2 here, so
 * that a weight with a leading dimension other than 1 cannot slip into
 * the batch axis. */
static void
operand_dims (const Tensor *t, size_t *dims)
{
  memcpy (dims, t->dims, t->ndim * sizeof *dims);
  if (is_data (t))
    dims[0] = 2;
}

static GfStatus
infer_binary (GfGraph *graph, Node *node, GfError *error)
{
  const Tensor *a, *b;
  size_t da[GF_MAX_DIMS], db[GF_MAX_DIMS];
  GfBroadcast bc;

  if (node->desc.n_inputs != 2)
    return node_error (node, GF_ERR_INVALID, "needs two inputs", error);
  a = &graph->tensors[node->desc.inputs[0]];
  b = &graph->tensors[node->desc.inputs[1]];
  if (!is_data (a) && !is_data (b))
    return node_error (node, GF_ERR_UNSUPPORTED, "both inputs are "
                       "constants; they should have been folded", error);
  operand_dims (a, da);
  operand_dims (b, db);
  if (gf_broadcast_init (&bc, a->ndim, da, b->ndim, db, error) != GF_OK)
    return node_error (node, GF_ERR_SHAPE, "input shapes do not broadcast",
                       error);
  if (bc.y[0] != 2 || (!is_data (a) && a->ndim == bc.ndim && da[0] != 1)
      || (!is_data (b) && b->ndim == bc.ndim && db[0] != 1))
    return node_error (node, GF_ERR_SHAPE, "a constant would broadcast over "
                       "the batch axis", error);
  set_shape (&graph->tensors[node->output], bc.ndim, bc.y);
  return GF_OK;
}

static GfStatus
infer_concat (GfGraph *graph, Node *node, GfError *error)
{
  GfStatus status;
  const Tensor *first = &graph->tensors[node->desc.inputs[0]];
  size_t dims[GF_MAX_DIMS];

  status = check_inputs (graph, node, node->desc.n_inputs, 0, 0, error);
  if (status != GF_OK)
    return status;
  if (first->ndim < 2)
    return node_error (node, GF_ERR_SHAPE, "inputs need a channel axis",
                       error);
  memcpy (dims, first->dims, first->ndim * sizeof *dims);
  dims[1] = 0;
  for (size_t i = 0; i < node->desc.n_inputs; i++)
    {
      const Tensor *x = &graph->tensors[node->desc.inputs[i]];
      if (x->ndim != first->ndim
          || memcmp (x->dims + 2, first->dims + 2,
                     (x->ndim - 2) * sizeof *dims) != 0)
        return node_error (node, GF_ERR_SHAPE, "inputs differ in a "
                           "dimension other than the channels", error);
      node->concat_channels[i] = x->dims[1];
      dims[1] += x->dims[1];
    }
  node->spatial = first->count / first->dims[1];
  set_shape (&graph->tensors[node->output], first->ndim, dims);
  return GF_OK;
}

static GfStatus
infer_gemm (GfGraph *graph, Node *node, GfError *error)
{
  GfStatus status = check_inputs (graph, node, 1, 1, 2, error);
  const Tensor *a, *b;
  GfGemm *gemm = &node->gemm;
  size_t dims[2] = { 1, 0 };

  if (status != GF_OK)
    return status;
  a = &graph->tensors[node->desc.inputs[0]];
  b = &graph->tensors[node->desc.inputs[1]];
  if (a->ndim != 2 || b->ndim != 2 || node->desc.attr.gemm.trans_a)
    return node_error (node, GF_ERR_SHAPE, "expects (N, K) activations and "
                       "a 2-D weight", error);
  memset (gemm, 0, sizeof *gemm);
  gemm->m = 1;
  gemm->k = a->dims[1];
  gemm->trans_b = node->desc.attr.gemm.trans_b;
  gemm->n = gemm->trans_b ? b->dims[0] : b->dims[1];
  gemm->alpha = node->desc.attr.gemm.alpha;
  gemm->beta = node->desc.attr.gemm.beta;
  if ((gemm->trans_b ? b->dims[1] : b->dims[0]) != gemm->k)
    return node_error (node, GF_ERR_SHAPE, "weight does not match the "
                       "input's features", error);
  if (node->desc.n_inputs == 3)
    {
      const Tensor *c = &graph->tensors[node->desc.inputs[2]];
      /* C may not span the batch: it would change size with it. */
      gemm->c_rows = c->ndim == 2 ? c->dims[0] : 1;
      gemm->c_cols = c->ndim == 0 ? 1 : c->dims[c->ndim - 1];
      if (c->ndim > 2 || gemm->c_rows != 1)
        return node_error (node, GF_ERR_SHAPE, "bias must be (N) or (1, N)",
                           error);
    }
  if ((status = gf_gemm_init (gemm, error)) != GF_OK)
    return kernel_error (node, status, error);
  dims[1] = gemm->n;
  set_shape (&graph->tensors[node->output], 2, dims);
  return GF_OK;
}

/* Activation, Dropout, Identity and Flatten: one data input. */
static GfStatus
infer_unary (GfGraph *graph, Node *node, GfError *error)
{
  GfStatus status;
  const Tensor *x = &graph->tensors[node->desc.inputs[0]];
  size_t dims[2] = { 1, x->count };

  status = check_inputs (graph, node, 1, 0, 0, error);
  if (status != GF_OK)
    return status;
  if (node->desc.kind == GF_OP_DROPOUT
      && !(node->desc.attr.dropout.ratio >= 0.0
           && node->desc.attr.dropout.ratio < 1.0))
    return node_error (node, GF_ERR_INVALID, "ratio must be in [0, 1)",
                       error);
  if (node->desc.kind == GF_OP_FLATTEN)
    set_shape (&graph->tensors[node->output], 2, dims);
  else
    set_shape (&graph->tensors[node->output], x->ndim, x->dims);
  return GF_OK;
}

/* The node's padding at @batch, its shape taken from its input (N, C, H,
 * W); out_h and out_w are the sums gf_pad2d_init checked at compile. */
static GfPad2d
node_pad (const GfGraph *graph, const Node *node, size_t batch)
{
  const Tensor *x = &graph->tensors[node->desc.inputs[0]];
  const typeof (node->desc.attr.pad) *a = &node->desc.attr.pad;

  return (GfPad2d) {
    .batch = batch, .channels = x->dims[1], .in_h = x->dims[2],
    .in_w = x->dims[3], .top = a->top, .left = a->left,
    .bottom = a->bottom, .right = a->right, .value = a->value,
    .out_h = x->dims[2] + a->top + a->bottom,
    .out_w = x->dims[3] + a->left + a->right,
  };
}

/* The node's permutation of its input (N, ...) at @batch. */
static GfTranspose
node_transpose (const GfGraph *graph, const Node *node, size_t batch)
{
  const Tensor *x = &graph->tensors[node->desc.inputs[0]];
  GfTranspose t = { .ndim = x->ndim };

  memcpy (t.dims, x->dims, x->ndim * sizeof *t.dims);
  memcpy (t.perm, node->desc.attr.transpose.perm, x->ndim * sizeof *t.perm);
  t.dims[0] = batch;
  return t;
}

static GfStatus
infer_pad (GfGraph *graph, Node *node, GfError *error)
{
  GfStatus status = check_inputs (graph, node, 1, 0, 0, error);
  GfPad2d pad;
  size_t count;

  if (status != GF_OK)
    return status;
  if (graph->tensors[node->desc.inputs[0]].ndim != 4)
    return node_error (node, GF_ERR_SHAPE, "input must be 4-D (N, C, H, W)",
                       error);
  pad = node_pad (graph, node, 1);
  if ((status = gf_pad2d_init (&pad, error)) != GF_OK)
    return kernel_error (node, status, error);
  if (gf_size_mul (pad.out_h, pad.out_w, &count) != 0
      || gf_size_mul (count, pad.channels, &count) != 0
      || count > GF_ALLOC_LIMIT / sizeof (gf_real))
    return node_error (node, GF_ERR_SHAPE, "padded output is too large",
                       error);
  set_shape (&graph->tensors[node->output], 4,
             (size_t[]) { 1, pad.channels, pad.out_h, pad.out_w });
  return GF_OK;
}

static GfStatus
infer_softmax (GfGraph *graph, Node *node, GfError *error)
{
  GfStatus status = check_inputs (graph, node, 1, 0, 0, error);
  const Tensor *x = &graph->tensors[node->desc.inputs[0]];

  if (status != GF_OK)
    return status;
  if (x->ndim != 2)
    return node_errorf (node, GF_ERR_SHAPE, error, "input must be 2-D "
                        "(N, K), not %zu-D", x->ndim);
  set_shape (&graph->tensors[node->output], 2, x->dims);
  return GF_OK;
}

static GfStatus
infer_transpose (GfGraph *graph, Node *node, GfError *error)
{
  GfStatus status = check_inputs (graph, node, 1, 0, 0, error);
  GfTranspose t;
  size_t dims[GF_MAX_DIMS];

  if (status != GF_OK)
    return status;
  t = node_transpose (graph, node, 1);
  if ((status = gf_transpose_check (&t, error)) != GF_OK)
    return kernel_error (node, status, error);
  /* Activations are (N, ...) everywhere: the batch may not move. */
  if (t.perm[0] != 0)
    return node_error (node, GF_ERR_UNSUPPORTED, "perm[0] must be 0: the "
                       "batch axis stays first", error);
  gf_transpose_out_dims (&t, dims);
  set_shape (&graph->tensors[node->output], t.ndim, dims);
  return GF_OK;
}

/* The target shape is explicit: an importer resolves ONNX's 0 (copy) and
 * −1 (infer) before it gets here, and a −1 that slipped through arrives
 * as SIZE_MAX. */
static GfStatus
infer_reshape (GfGraph *graph, Node *node, GfError *error)
{
  GfStatus status = check_inputs (graph, node, 1, 0, 0, error);
  size_t ndim = node->desc.attr.reshape.ndim, count = 1;
  const size_t *dims = node->desc.attr.reshape.dims;
  const Tensor *x = &graph->tensors[node->desc.inputs[0]];

  if (status != GF_OK)
    return status;
  if (ndim < 1 || ndim > GF_MAX_DIMS)
    return node_errorf (node, GF_ERR_INVALID, error, "target shape has %zu "
                        "axes; 1 to %d are supported", ndim, GF_MAX_DIMS);
  for (size_t i = 1; i < ndim; i++)
    {
      if (dims[i] == 0 || dims[i] > GF_ALLOC_LIMIT)
        return node_errorf (node, GF_ERR_INVALID, error, "target dimension "
                            "%zu is 0 or negative; the importer resolves "
                            "those", i);
      if (gf_size_mul (count, dims[i], &count) != 0)
        count = SIZE_MAX;
    }
  if (count != x->count)
    return node_errorf (node, GF_ERR_SHAPE, error, "target shape holds %zu "
                        "values per example; the input has %zu", count,
                        x->count);
  set_shape (&graph->tensors[node->output], ndim, dims);
  return GF_OK;
}

static GfStatus
infer_node (GfGraph *graph, Node *node, GfError *error)
{
  switch (node->desc.kind)
    {
    case GF_OP_CONV: return infer_conv (graph, node, error);
    case GF_OP_BATCHNORM: return infer_batchnorm (graph, node, error);
    case GF_OP_MAXPOOL:
    case GF_OP_AVGPOOL: return infer_pool (graph, node, error);
    case GF_OP_GLOBAL_AVGPOOL: return infer_global_pool (graph, node, error);
    case GF_OP_ADD:
    case GF_OP_MUL: return infer_binary (graph, node, error);
    case GF_OP_CONCAT: return infer_concat (graph, node, error);
    case GF_OP_GEMM: return infer_gemm (graph, node, error);
    case GF_OP_ACTIVATION:
    case GF_OP_DROPOUT:
    case GF_OP_IDENTITY:
    case GF_OP_FLATTEN: return infer_unary (graph, node, error);
    case GF_OP_PAD: return infer_pad (graph, node, error);
    case GF_OP_SOFTMAX: return infer_softmax (graph, node, error);
    case GF_OP_TRANSPOSE: return infer_transpose (graph, node, error);
    case GF_OP_RESHAPE: return infer_reshape (graph, node, error);
    case GF_OP_COUNT:
    default:
      return node_error (node, GF_ERR_UNSUPPORTED, "unknown op", error);
    }
}

/* ---- Compiling: parameters ---------------------------------------------- */

/* Packs every parameter into one allocation (and its gradient into a
 * second of the same layout) and BatchNorm's batch statistics into a
 * third, freeing the per-tensor copies made while building. */
static GfStatus
pack_params (GfGraph *graph, GfError *error)
{
  size_t total = 0, state = 0;

  for (size_t i = 0; i < graph->n_tensors; i++)
    if (is_param (&graph->tensors[i]))
      {
        graph->tensors[i].offset = total;
        total += align_up (graph->tensors[i].count);
      }
  for (size_t i = 0; i < graph->n_nodes; i++)
    if (graph->nodes[i].desc.kind == GF_OP_BATCHNORM)
      {
        graph->nodes[i].state_offset = state;
        state += 2 * graph->nodes[i].channels;
      }
  if (gf_alloc_zeroed (total, sizeof (gf_real), (void **) &graph->params,
                       error) != GF_OK
      || gf_alloc_zeroed (total, sizeof (gf_real), (void **) &graph->grads,
                          error) != GF_OK
      || gf_alloc_zeroed (state, sizeof (gf_real),
                          (void **) &graph->node_state, error) != GF_OK)
    return error ? error->status : GF_ERR_NOMEM;
  graph->param_count = total;
  for (size_t i = 0; i < graph->n_tensors; i++)
    {
      Tensor *t = &graph->tensors[i];
      if (!is_param (t))
        continue;
      for (size_t j = 0; j < t->count; j++)
        graph->params[t->offset + j] = (gf_real) t->init[j];
      free (t->init);
      t->init = NULL;
    }
  return GF_OK;
}

GfStatus
gf_graph_compile (GfGraph *graph, GfError *error)
{
  GfStatus status;

  if (graph->compiled)
    return gf_error_set (error, GF_ERR_INVALID, "graph already compiled");
  if (graph->n_nodes == 0)
    return gf_error_set (error, GF_ERR_INVALID, "graph has no nodes");
  for (size_t i = 0; i < graph->n_nodes; i++)
    if ((status = infer_node (graph, &graph->nodes[i], error)) != GF_OK)
      return status;
  if (graph->n_outputs == 0)
    gf_graph_mark_output (graph, graph->nodes[graph->n_nodes - 1].output,
                          NULL);
  if ((status = pack_params (graph, error)) != GF_OK)
    return status;
  graph->compiled = true;
  return GF_OK;
}

/* ---- Planning ------------------------------------------------------------ */

/* Plan time: node i runs forward at time i, the output gradient is seeded
 * at T, node i runs backward at 2T − i, and END is after everything. */
#define FWD(i) ((long) (i))
#define SEED(graph) ((long) (graph)->n_nodes)
#define BWD(graph, i) (2 * (long) (graph)->n_nodes - (long) (i))
#define END(graph) (2 * (long) (graph)->n_nodes + 1)

static bool
node_is_live (const GfGraph *graph, size_t i)
{
  return graph->tensors[graph->nodes[i].output].live;
}

typedef struct
{
  size_t size;
  long first, last;
  size_t *offset;
} Block;

/* Sigmoid, Softmax and Relu differentiate through their output y.  For
 * Relu that frees its input after the forward pass: the Conv or
 * BatchNorm output under every Relu of a network is not kept for
 * backward (as PyTorch's in-place ReLU does not keep it). */
static bool
backward_reads_output (const Node *node)
{
  GfActivationKind act = node->desc.attr.activation.kind;

  return node->desc.kind == GF_OP_SOFTMAX
    || (node->desc.kind == GF_OP_ACTIVATION
        && (act == GF_ACT_SIGMOID || act == GF_ACT_RELU));
}

/* Whether the backward of @node reads its input @slot's data (true) or
 * only its weights and the output gradient.  Which gradients the node
 * must produce is known from requires_grad. */
static bool
backward_reads_input (const GfGraph *graph, const Node *node, size_t slot)
{
  const int *in = node->desc.inputs;
  bool weight_grad = node->desc.n_inputs > 1
    && graph->tensors[in[1]].requires_grad;

  switch (node->desc.kind)
    {
    case GF_OP_CONV:
    case GF_OP_GEMM: return slot == 0 && weight_grad;
    case GF_OP_BATCHNORM:
    case GF_OP_MAXPOOL: return slot == 0;
    case GF_OP_ACTIVATION:
      return !backward_reads_output (node);
    case GF_OP_MUL:
      return graph->tensors[in[1 - slot]].requires_grad;
    case GF_OP_ADD:
    case GF_OP_CONCAT:
    case GF_OP_AVGPOOL:
    case GF_OP_GLOBAL_AVGPOOL:
    case GF_OP_FLATTEN:
    case GF_OP_DROPOUT:
    case GF_OP_IDENTITY:
    case GF_OP_PAD:
    case GF_OP_SOFTMAX:
    case GF_OP_TRANSPOSE:
    case GF_OP_RESHAPE:
    case GF_OP_COUNT:
    default:
      return false;
    }
}



/* Marks which tensors carry gradients and which nodes run backward, and
 * whether each BatchNorm normalises with batch statistics. */
static void
plan_gradients (GfGraph *graph)
{
  bool train = graph->mode == GF_GRAPH_TRAIN;

  for (size_t i = 0; i < graph->n_tensors; i++)
    {
      Tensor *t = &graph->tensors[i];
      t->requires_grad = train && ((t->kind == GF_TENSOR_PARAM && t->trainable)
                                   || (t->kind == GF_TENSOR_INPUT
                                       && graph->input_grad));
      t->has_grad = false;
    }
  for (size_t i = 0; i < graph->n_nodes; i++)
    {
      Node *node = &graph->nodes[i];
      for (size_t s = 0; s < node->desc.n_inputs; s++)
        if (graph->tensors[node->desc.inputs[s]].requires_grad)
          graph->tensors[node->output].requires_grad = true;
      node->bn_train = train && !graph->bn_frozen
        && node->desc.kind == GF_OP_BATCHNORM
        && (graph->tensors[node->desc.inputs[1]].requires_grad
            || graph->tensors[node->desc.inputs[2]].requires_grad);
    }
  if (train)
    graph->tensors[graph->outputs[0]].has_grad = true;
  /* Backward reaches a node only through a consumer that runs backward. */
  for (size_t i = graph->n_nodes; i-- > 0;)
    {
      Node *node = &graph->nodes[i];
      Tensor *out = &graph->tensors[node->output];
      node->backward = out->live && out->requires_grad && out->has_grad;
      for (size_t s = 0; node->backward && s < node->desc.n_inputs; s++)
        if (graph->tensors[node->desc.inputs[s]].requires_grad)
          graph->tensors[node->desc.inputs[s]].has_grad = true;
    }
}

/* True when the only live node reading tensor @t is node @j, once. */
static bool
sole_reader (const GfGraph *graph, int t, size_t j)
{
  size_t reads = 0;

  for (size_t i = 0; i < graph->n_nodes; i++)
    for (size_t s = 0; node_is_live (graph, i) && s < graph->nodes[i].desc.n_inputs;
         s++)
      if (graph->nodes[i].desc.inputs[s] == t && (i != j || ++reads > 1))
        return false;
  return reads == 1;
}

/* Fuses each Conv or Add with an Activation that is the only reader of
 * its output: the convolution applies the activation to each block of y
 * as it writes it (GfConv2d.activation), as does an Add of two operands
 * of one shape (ResNet's residual Add and the Relu after it;
 * gf_add_activation_forward), the Activation node does nothing
 * in the forward pass, and the two outputs share one buffer, which holds
 * the activation's values.  Backward is unchanged, so the activation
 * must either not run backward or differentiate through its output
 * (Relu, Sigmoid): its input's values are gone.  An output that is a
 * graph output keeps its own values.  ReLU6 after each MobileNetV2 conv
 * cost 14% of its forward pass as a separate pass over memory. */
static void
plan_fusion (GfGraph *graph)
{
  for (size_t i = 0; i < graph->n_tensors; i++)
    graph->tensors[i].alias = -1;
  for (size_t i = 0; i < graph->n_nodes; i++)
    {
      graph->nodes[i].fused = -1;
      graph->nodes[i].absorbed = false;
    }
  for (size_t i = 0; i < graph->n_nodes; i++)
    {
      Node *node = &graph->nodes[i];
      bool output = false;
      if ((node->desc.kind != GF_OP_CONV && node->desc.kind != GF_OP_ADD)
          || !node_is_live (graph, i))
        continue;
      for (size_t n = 0; n < graph->n_outputs; n++)
        output |= graph->outputs[n] == node->output;
      for (size_t j = i + 1; !output && j < graph->n_nodes; j++)
        {
          Node *act = &graph->nodes[j];
          if (act->desc.kind != GF_OP_ACTIVATION || !node_is_live (graph, j)
              || act->desc.inputs[0] != node->output)
            continue;
          if (sole_reader (graph, node->output, j)
              && (!act->backward || backward_reads_output (act)))
            {
              node->fused = (int) j;
              act->absorbed = true;
              graph->tensors[node->output].alias = act->output;
            }
          break;
        }
    }
}

/* A Conv node's convolution at @batch, with its fused activation. */
static GfConv2d
node_conv (const GfGraph *graph, const Node *node, size_t batch)
{
  GfConv2d conv = node->desc.attr.conv;

  conv.batch = batch;
  if (node->fused >= 0)
    conv.activation = graph->nodes[node->fused].desc.attr.activation;
  return conv;
}

static bool
is_graph_output (const GfGraph *graph, int t)
{
  for (size_t n = 0; n < graph->n_outputs; n++)
    if (graph->outputs[n] == t)
      return true;
  return false;
}

/* Expansion chains (gf_conv2d_chain_applies): a 1×1 Conv whose output,
 * through its fused activation, only a depthwise Conv reads, neither
 * running backward and the output no graph output.  The depthwise node
 * runs both, the 1×1 node nothing, and the expanded tensor gets no
 * buffer: on MobileNetV2 at batch 32 the largest is 154 MB. */
static void
plan_chains (GfGraph *graph)
{
  for (size_t i = 0; i < graph->n_tensors; i++)
    graph->tensors[i].unbuffered = false;
  for (size_t i = 0; i < graph->n_nodes; i++)
    graph->nodes[i].chain_into = graph->nodes[i].chain_from = -1;
  for (size_t i = 0; i < graph->n_nodes; i++)
    {
      Node *a = &graph->nodes[i];
      int t;
      GfConv2d expand, depthwise;
      /* Backward reaches a only through b: b not running it is enough. */
      if (a->desc.kind != GF_OP_CONV || !node_is_live (graph, i))
        continue;
      t = a->fused >= 0 ? graph->nodes[a->fused].output : a->output;
      if (is_graph_output (graph, t) || is_graph_output (graph, a->output))
        continue;
      expand = node_conv (graph, a, graph->max_batch);
      for (size_t j = i + 1; j < graph->n_nodes; j++)
        {
          Node *b = &graph->nodes[j];
          if (!node_is_live (graph, j) || b->desc.n_inputs == 0
              || b->desc.inputs[0] != t)
            continue;
          depthwise = node_conv (graph, b, graph->max_batch);
          if (b->desc.kind == GF_OP_CONV && !b->backward
              && sole_reader (graph, t, j)
              && gf_conv2d_chain_applies (&expand, &depthwise))
            {
              a->chain_into = (int) j;
              b->chain_from = (int) i;
              graph->tensors[t].unbuffered = true;
            }
          break;
        }
    }
}

/* The time span over which each buffer must hold its contents. */
static void
plan_lifetimes (GfGraph *graph)
{
  for (size_t i = 0; i < graph->n_tensors; i++)
    {
      Tensor *t = &graph->tensors[i];
      bool input = t->kind == GF_TENSOR_INPUT;
      /* The caller fills an input once and may run the pass again on it
       * (gradient checks, saliency): it outlives the pass even when no
       * backward reads it, as after a Pad. */
      t->first_use = input ? -1 : FWD (t->producer);
      t->last_use = input ? END (graph) : t->first_use;
      t->grad_first = END (graph);
      t->grad_last = input ? END (graph) : BWD (graph, t->producer);
    }
  for (size_t n = 0; n < graph->n_outputs; n++)
    graph->tensors[graph->outputs[n]].last_use = END (graph);
  graph->tensors[graph->outputs[0]].grad_first = SEED (graph);

  for (size_t i = 0; i < graph->n_nodes; i++)
    {
      Node *node = &graph->nodes[i];
      if (!node_is_live (graph, i))
        continue;
      for (size_t s = 0; s < node->desc.n_inputs; s++)
        {
          Tensor *t = &graph->tensors[node->desc.inputs[s]];
          long last = node->backward && backward_reads_input (graph, node, s)
            ? BWD (graph, i) : FWD (i);
          if (t->last_use < last)
            t->last_use = last;
          if (node->backward && t->grad_first > BWD (graph, i))
            t->grad_first = BWD (graph, i);
        }
      if (node->backward && backward_reads_output (node))
        {
          Tensor *out = &graph->tensors[node->output];
          if (out->last_use < BWD (graph, i))
            out->last_use = BWD (graph, i);
        }
      node->mask_first = FWD (i);
      node->mask_last = node->backward ? BWD (graph, i) : FWD (i);
    }
  /* A chain reads the 1×1 Conv's input when its depthwise node runs. */
  for (size_t i = 0; i < graph->n_nodes; i++)
    {
      const Node *b = &graph->nodes[i];
      Tensor *x;
      if (b->chain_from < 0)
        continue;
      x = &graph->tensors[graph->nodes[b->chain_from].desc.inputs[0]];
      if (x->last_use < FWD (i))
        x->last_use = FWD (i);
    }
  /* A fused Conv writes its Activation's buffer. */
  for (size_t i = 0; i < graph->n_tensors; i++)
    {
      Tensor *t = &graph->tensors[i];
      if (t->alias >= 0 && graph->tensors[t->alias].first_use > t->first_use)
        graph->tensors[t->alias].first_use = t->first_use;
    }
}

static int
compare_blocks (const void *a, const void *b)
{
  const Block *x = a, *y = b;

  return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

static int
compare_offsets (const void *a, const void *b)
{
  const Block *const *x = a, *const *y = b;

  return *(*x)->offset < *(*y)->offset ? -1
    : *(*x)->offset > *(*y)->offset ? 1 : 0;
}

/* Greedy first fit, largest buffer first: each block goes to the lowest
 * offset where it overlaps, in memory, no placed block alive at the same
 * time.  Returns the arena size, or SIZE_MAX when out of memory. */
static size_t
place_blocks (Block *blocks, size_t n)
{
  Block **live = malloc ((n ? n : 1) * sizeof *live);
  size_t arena = 0;

  if (live == NULL)
    return SIZE_MAX;
  qsort (blocks, n, sizeof *blocks, compare_blocks);
  for (size_t i = 0; i < n; i++)
    {
      size_t n_live = 0, offset = 0;
      for (size_t j = 0; j < i; j++)
        if (blocks[j].first <= blocks[i].last
            && blocks[i].first <= blocks[j].last)
          live[n_live++] = &blocks[j];
      qsort (live, n_live, sizeof *live, compare_offsets);
      for (size_t j = 0; j < n_live; j++)
        {
          if (*live[j]->offset >= offset + blocks[i].size)
            break;
          if (*live[j]->offset + live[j]->size > offset)
            offset = *live[j]->offset + live[j]->size;
        }
      *blocks[i].offset = offset;
      if (arena < offset + blocks[i].size)
        arena = offset + blocks[i].size;
    }
  free (live);
  return arena;
}

/* Collects every arena buffer of the plan into @blocks; returns count. */
static size_t
collect_blocks (GfGraph *graph, Block *blocks)
{
  size_t n = 0;

  for (size_t i = 0; i < graph->n_tensors; i++)
    {
      Tensor *t = &graph->tensors[i];
      size_t size = align_up (t->count * graph->max_batch);
      if (!is_data (t) || !t->live || t->unbuffered)
        continue;
      if (t->alias < 0)
        blocks[n++] = (Block) { size, t->first_use, t->last_use, &t->offset };
      if (t->has_grad)
        blocks[n++] = (Block) { size, t->grad_first, t->grad_last,
                                &t->grad_offset };
    }
  for (size_t i = 0; i < graph->n_nodes; i++)
    {
      Node *node = &graph->nodes[i];
      if (node->desc.kind == GF_OP_DROPOUT && node_is_live (graph, i))
        blocks[n++] = (Block) {
          align_up (graph->tensors[node->output].count * graph->max_batch),
          node->mask_first, node->mask_last, &node->mask_offset };
    }
  return n;
}

/* Marks the tensors that lead to an output: nodes producing anything else
 * (a classifier beyond a cut, say) never run. */
static void
mark_live (GfGraph *graph)
{
  for (size_t i = 0; i < graph->n_tensors; i++)
    graph->tensors[i].live = false;
  for (size_t n = 0; n < graph->n_outputs; n++)
    graph->tensors[graph->outputs[n]].live = true;
  for (size_t i = graph->n_nodes; i-- > 0;)
    {
      const Node *node = &graph->nodes[i];
      if (!graph->tensors[node->output].live)
        continue;
      for (size_t s = 0; s < node->desc.n_inputs; s++)
        graph->tensors[node->desc.inputs[s]].live = true;
    }
}

/* Convolutions run in sub-batches of at most SUB_BATCH_IMAGES images,
 * split by the batch size alone, so that every image's result is the same
 * at any thread count.  With T threads, T > 1, and at least T
 * sub-batches, each thread runs whole sub-batches with OpenBLAS on one
 * thread; otherwise the sub-batches run one after another with OpenBLAS
 * on all of them.  One convolution per thread beat OpenBLAS' threads
 * inside each product by 35-45% on two cores (bench-engine forward at
 * batch 32: ResNet-18 64 -> 86 images/s, MobileNetV2 100 -> 146, VGG19
 * at 150 px 16.3 -> 22.5): small products split badly over threads,
 * and OpenBLAS' idle threads spin beside the engine's own.  Sub-batches
 * of 8 ran 10-15% slower than 16 (thinner products on small planes).
 * Weight gradients are summed per sub-batch and added in order. */
#define SUB_BATCH_IMAGES 16

/* A power of two of them, so that 2, 4 or 8 threads share them evenly
 * (three sub-batches of 11 on two threads ran ResNet-18 fine-tuning at
 * 18 images/s against 24 for two of 16). */
static size_t
sub_batches (size_t batch)
{
  size_t needed = (batch + SUB_BATCH_IMAGES - 1) / SUB_BATCH_IMAGES, n = 1;

  while (n < needed)
    n *= 2;
  return n;
}

/* The most images one sub-batch takes at @batch. */
static size_t
sub_batch_size (size_t batch)
{
  size_t subs = sub_batches (batch);

  return (batch + subs - 1) / subs;
}

/* Scratch sizes: the largest conv workspace, the largest sum of input
 * gradients a node may have to stage before adding them in, and the
 * sub-batches' gradient sums (graph->sub_slots and sub_workspace set). */
static void
plan_scratch (GfGraph *graph, size_t *workspace,
              size_t *scratch, size_t *subs)
{
  size_t n_subs = sub_batches (graph->max_batch), needed, limit;
  int threads = gf_engine_get_threads ();

  /* Under a limit on address space the sub-batches take turns: OpenBLAS
   * would give each engine thread that calls it a 128 MiB buffer of its
   * own, and retry forever when the allocation fails (test-cli-limits
   * hung).  The engine sizes its threads for OpenBLAS' own buffers. */
  if (gf_engine_threads_for_limit (&needed, &limit) >= 0)
    threads = 1;
  graph->sub_slots = threads > 1 && n_subs > 1
                     ? ((size_t) threads < n_subs ? (size_t) threads : n_subs)
                     : 1;
  graph->chain_slots = threads > 1 ? (size_t) threads : 1;
  graph->sub_workspace = 0;
  *subs = 0;
  *workspace = *scratch = 0;
  for (size_t i = 0; i < graph->n_nodes; i++)
    {
      Node *node = &graph->nodes[i];
      size_t staged = 0;
      if (!node_is_live (graph, i))
        continue;
      if (node->desc.kind == GF_OP_CONV)
        {
          GfConv2d conv = node->desc.attr.conv;
          size_t sums = 0;
          conv.batch = graph->max_batch;
          if (*workspace < gf_conv2d_workspace_size (&conv))
            *workspace = gf_conv2d_workspace_size (&conv);
          conv.batch = sub_batch_size (graph->max_batch);
          if (graph->sub_workspace < gf_conv2d_workspace_size (&conv))
            graph->sub_workspace = align_up (gf_conv2d_workspace_size (&conv));
          if (node->chain_from >= 0)
            {
              GfConv2d expand = node_conv (graph,
                                           &graph->nodes[node->chain_from],
                                           graph->max_batch);
              size_t chain = gf_conv2d_chain_workspace_size (
                &expand, graph->chain_slots);
              if (*workspace < chain)
                *workspace = chain;
              if (graph->sub_workspace < chain)
                graph->sub_workspace = align_up (chain);
            }
          for (size_t s = 1; node->backward && s < node->desc.n_inputs; s++)
            sums += align_up (graph->tensors[node->desc.inputs[s]].count);
          if (n_subs > 1 && *subs < n_subs * sums)
            *subs = n_subs * sums;
        }
      for (size_t s = 0; node->backward && s < node->desc.n_inputs; s++)
        {
          const Tensor *t = &graph->tensors[node->desc.inputs[s]];
          staged += align_up (t->count * (is_data (t) ? graph->max_batch : 1));
        }
      if (*scratch < staged)
        *scratch = staged;
    }
}

static GfStatus
allocate_plan (GfGraph *graph, GfError *error)
{
  Block *blocks = NULL;
  size_t n_blocks, workspace, scratch, subs;
  GfStatus status;

  status = gf_alloc_zeroed (2 * graph->n_tensors + graph->n_nodes + 1,
                            sizeof *blocks, (void **) &blocks, error);
  if (status != GF_OK)
    return status;
  n_blocks = collect_blocks (graph, blocks);
  graph->arena_count = place_blocks (blocks, n_blocks);
  free (blocks);
  for (size_t i = 0; i < graph->n_tensors; i++)
    if (graph->tensors[i].alias >= 0)
      graph->tensors[i].offset = graph->tensors[graph->tensors[i].alias].offset;
  plan_scratch (graph, &workspace, &scratch, &subs);
  if (graph->sub_slots > 1)
    subs += graph->sub_slots * graph->sub_workspace;

  free (graph->arena);
  free (graph->workspace);
  free (graph->scratch);
  free (graph->subs);
  graph->arena = graph->workspace = graph->scratch = graph->subs = NULL;
  if (graph->arena_count == SIZE_MAX)
    return gf_error_set (error, GF_ERR_NOMEM, "out of memory planning");
  if ((status = gf_alloc_zeroed (graph->arena_count, sizeof (gf_real),
                                 (void **) &graph->arena, error)) != GF_OK
      || (status = gf_alloc_zeroed (workspace, sizeof (gf_real),
                                    (void **) &graph->workspace,
                                    error)) != GF_OK
      || (status = gf_alloc_zeroed (scratch, sizeof (gf_real),
                                    (void **) &graph->scratch,
                                    error)) != GF_OK
      || (status = gf_alloc_zeroed (subs, sizeof (gf_real),
                                    (void **) &graph->subs, error)) != GF_OK)
    return status;
  graph->workspace_count = workspace;
  graph->scratch_count = scratch;
  return GF_OK;
}

GfStatus
gf_graph_plan (GfGraph *graph, size_t max_batch, GfGraphMode mode,
               GfError *error)
{
  GfStatus status;

  if (!graph->compiled)
    return gf_error_set (error, GF_ERR_INVALID, "compile the graph first");
  if (max_batch == 0 || max_batch > GF_ALLOC_LIMIT)
    return gf_error_set (error, GF_ERR_INVALID, "batch size must be > 0");
  for (size_t i = 0; i < graph->n_tensors; i++)
    {
      Tensor *t = &graph->tensors[i];
      size_t size;
      if (is_data (t) && (gf_size_mul (t->count, max_batch, &size) != 0
                          || size > GF_ALLOC_LIMIT / sizeof (gf_real)))
        return gf_error_set (error, GF_ERR_NOMEM, "tensor '%s' is too large "
                             "at batch %zu", t->name, max_batch);
    }
  graph->planned = false;
  graph->mode = mode;
  graph->max_batch = max_batch;
  mark_live (graph);
  plan_gradients (graph);
  plan_fusion (graph);
  plan_chains (graph);
  plan_lifetimes (graph);
  status = allocate_plan (graph, error);
  for (size_t i = 0; i < graph->n_tensors; i++)
    if (is_data (&graph->tensors[i]))
      graph->tensors[i].dims[0] = max_batch;
  graph->planned = status == GF_OK;
  return status;
}

/* ---- Running ------------------------------------------------------------- */

static gf_real *
data_of (GfGraph *graph, int id)
{
  Tensor *t = &graph->tensors[id];

  return (is_param (t) ? graph->params : graph->arena) + t->offset;
}

static gf_real *
grad_of (GfGraph *graph, int id)
{
  Tensor *t = &graph->tensors[id];

  return is_param (t) ? graph->grads + t->offset
    : graph->arena + t->grad_offset;
}

/* A node's broadcast at the batch of the call. */
static GfStatus
node_broadcast (GfGraph *graph, const Node *node, size_t batch,
                GfBroadcast *bc)
{
  const Tensor *a = &graph->tensors[node->desc.inputs[0]];
  const Tensor *b = &graph->tensors[node->desc.inputs[1]];
  size_t da[GF_MAX_DIMS], db[GF_MAX_DIMS];

  memcpy (da, a->dims, sizeof da);
  memcpy (db, b->dims, sizeof db);
  if (is_data (a))
    da[0] = batch;
  if (is_data (b))
    db[0] = batch;
  return gf_broadcast_init (bc, a->ndim, da, b->ndim, db, NULL);
}

static GfBatchNorm
node_batchnorm (const Node *node, size_t batch)
{
  return (GfBatchNorm) {
    .batch = batch, .channels = node->channels, .spatial = node->spatial,
    .epsilon = node->desc.attr.batchnorm.epsilon,
    .momentum = node->desc.attr.batchnorm.momentum,
  };
}

static void
forward_batchnorm (GfGraph *graph, Node *node, size_t batch, bool train)
{
  const int *in = node->desc.inputs;
  GfBatchNorm bn = node_batchnorm (node, batch);
  gf_real *save = graph->node_state + node->state_offset;

  if (train && node->bn_train)
    gf_batchnorm_forward_train (&bn, data_of (graph, in[0]),
                                data_of (graph, in[1]), data_of (graph, in[2]),
                                data_of (graph, in[3]), data_of (graph, in[4]),
                                data_of (graph, node->output),
                                save, save + node->channels);
  else
    gf_batchnorm_forward_infer (&bn, data_of (graph, in[0]),
                                data_of (graph, in[1]), data_of (graph, in[2]),
                                data_of (graph, in[3]), data_of (graph, in[4]),
                                data_of (graph, node->output));
}

static void
forward_concat (GfGraph *graph, Node *node, size_t batch)
{
  const gf_real *xs[GF_NODE_MAX_INPUTS];

  for (size_t s = 0; s < node->desc.n_inputs; s++)
    xs[s] = data_of (graph, node->desc.inputs[s]);
  gf_concat_forward (batch, node->spatial, node->desc.n_inputs,
                     node->concat_channels, xs, data_of (graph, node->output));
}

static void
forward_dropout (GfGraph *graph, Node *node, size_t batch, bool train)
{
  size_t count = graph->tensors[node->output].count * batch;
  const gf_real *x = data_of (graph, node->desc.inputs[0]);
  gf_real *y = data_of (graph, node->output);

  if (train)
    gf_dropout_forward (count, node->desc.attr.dropout.ratio, &graph->rng,
                        x, y, graph->arena + node->mask_offset);
  else
    memcpy (y, x, count * sizeof *y);
}

static void
forward_pad (GfGraph *graph, const Node *node, size_t batch)
{
  GfPad2d pad = node_pad (graph, node, batch);

  gf_pad2d_forward (&pad, data_of (graph, node->desc.inputs[0]),
                    data_of (graph, node->output));
}

static void
forward_transpose (GfGraph *graph, const Node *node, size_t batch)
{
  GfTranspose t = node_transpose (graph, node, batch);

  gf_transpose_forward (&t, data_of (graph, node->desc.inputs[0]),
                        data_of (graph, node->output));
}

/* One convolution over the batch in sub-batches (see SUB_BATCH_IMAGES):
 * the tensors of the whole batch, and per sub-batch weight and bias
 * gradient sums (backward, when wanted). */
typedef struct
{
  GfGraph *graph;
  atomic_bool stop;            /* the interrupt hook said stop */
  GfConv2d conv;
  size_t batch, subs;
  size_t x_count, y_count, w_count, b_count;
  const gf_real *x, *w, *b, *dy;
  gf_real *y, *dx, *dw_sums, *db_sums;
  gf_real *workspace;
  size_t workspace_stride;     /* between threads; 0: one thread */
  /* An expansion chain: conv is its depthwise convolution, run from
   * the 1×1 @expand's input xe (xe_count per image), weights we, be. */
  bool chain;
  GfConv2d expand;
  size_t xe_count;
  const gf_real *xe, *we, *be;
} SubConv;

static void
sub_bounds (const SubConv *k, size_t s, size_t *first, size_t *n)
{
  *first = k->batch * s / k->subs;
  *n = k->batch * (s + 1) / k->subs - *first;
}

static bool
interrupted (GfGraph *graph)
{
  return graph->interrupt != NULL && graph->interrupt (graph->interrupt_data);
}

/* The graph's interrupt hook, asked before each sub-batch (on whichever
 * thread runs it): a convolution over a large batch is long enough to
 * make a pause wait (ResNet-18's stem on 720 pictures took 1.3 s under
 * AddressSanitizer), so the hook can block there, or stop the rest. */
static bool
sub_interrupted (SubConv *k)
{
  if (atomic_load (&k->stop))
    return true;
  if (!interrupted (k->graph))
    return false;
  atomic_store (&k->stop, true);
  return true;
}

static void
sub_forward (void *data, size_t begin, size_t end, size_t chunk)
{
  SubConv *k = data;
  GfConv2d conv = k->conv;
  size_t first;

  for (size_t s = begin; s < end; s++)
    {
      if (sub_interrupted (k))
        return;
      sub_bounds (k, s, &first, &conv.batch);
      if (k->chain)
        {
          GfConv2d expand = k->expand;

          expand.batch = conv.batch;
          gf_conv2d_chain_forward (&expand, &conv, k->graph->chain_slots,
                                   k->xe + first * k->xe_count, k->we, k->be,
                                   k->w, k->b, k->y + first * k->y_count,
                                   k->workspace
                                   + chunk * k->workspace_stride);
          continue;
        }
      gf_conv2d_forward (&conv, k->x + first * k->x_count, k->w, k->b,
                         k->y + first * k->y_count,
                         k->workspace + chunk * k->workspace_stride);
    }
}

/* Each sub-batch's dx, and its dw and db sums from zero. */
static void
sub_backward (void *data, size_t begin, size_t end, size_t chunk)
{
  SubConv *k = data;
  GfConv2d conv = k->conv;
  size_t first;

  for (size_t s = begin; s < end; s++)
    {
      gf_real *dw = k->dw_sums != NULL ? k->dw_sums + s * k->w_count : NULL;
      gf_real *db = k->db_sums != NULL ? k->db_sums + s * k->b_count : NULL;

      if (sub_interrupted (k))
        return;
      sub_bounds (k, s, &first, &conv.batch);
      if (dw != NULL)
        memset (dw, 0, k->w_count * sizeof *dw);
      if (db != NULL)
        memset (db, 0, k->b_count * sizeof *db);
      gf_conv2d_backward (&conv, k->x + first * k->x_count, k->w,
                          k->dy + first * k->y_count,
                          k->dx != NULL ? k->dx + first * k->x_count : NULL,
                          dw, db, k->workspace + chunk * k->workspace_stride);
    }
}

/* Runs @fn over the sub-batches: whole sub-batches on each thread when
 * there are enough of them and the plan has a workspace for each thread,
 * else one after another. */
static void
run_sub_batches (GfGraph *graph, SubConv *k, GfParallelFunc fn)
{
  int threads = gf_engine_get_threads ();

  if (threads > 1 && (size_t) threads <= k->subs
      && (size_t) threads <= graph->sub_slots)
    {
      int saved = gf_engine_blas_serial ();

      k->workspace = graph->subs;
      k->workspace_stride = graph->sub_workspace;
      gf_parallel_for (k->subs, SIZE_MAX / k->subs, fn, k);
      gf_engine_blas_restore (saved);
    }
  else
    {
      k->workspace = graph->workspace;
      k->workspace_stride = 0;
      fn (k, 0, k->subs, 0);
    }
}

static SubConv
sub_conv (GfGraph *graph, const Node *node, const GfConv2d *conv,
          size_t batch)
{
  const int *in = node->desc.inputs;
  SubConv k = { .graph = graph, .conv = *conv, .batch = batch,
                .subs = sub_batches (batch) };

  atomic_init (&k.stop, false);

  k.x_count = graph->tensors[in[0]].count;
  k.y_count = graph->tensors[node->output].count;
  k.w_count = graph->tensors[in[1]].count;
  k.b_count = node->desc.n_inputs > 2 ? graph->tensors[in[2]].count : 0;
  k.x = data_of (graph, in[0]);
  k.w = data_of (graph, in[1]);
  k.b = node->desc.n_inputs > 2 ? data_of (graph, in[2]) : NULL;
  return k;
}

static void
forward_conv (GfGraph *graph, const Node *node, const GfConv2d *conv,
              size_t batch)
{
  SubConv k = sub_conv (graph, node, conv, batch);

  k.y = data_of (graph, node->output);
  run_sub_batches (graph, &k, sub_forward);
  graph->cut_short = atomic_load (&k.stop);
}

/* The depthwise node of an expansion chain: the 1×1 node before it did
 * nothing, and this one runs both from its input, in sub-batches (one
 * when the batch is small). */
static void
forward_chain (GfGraph *graph, const Node *node, const GfConv2d *conv,
               size_t batch)
{
  const Node *a = &graph->nodes[node->chain_from];
  const int *in = a->desc.inputs;
  SubConv k = sub_conv (graph, node, conv, batch);

  k.y = data_of (graph, node->output);
  k.chain = true;
  k.expand = node_conv (graph, a, batch);
  k.xe_count = graph->tensors[in[0]].count;
  k.xe = data_of (graph, in[0]);
  k.we = data_of (graph, in[1]);
  k.be = a->desc.n_inputs > 2 ? data_of (graph, in[2]) : NULL;
  run_sub_batches (graph, &k, sub_forward);
  graph->cut_short = atomic_load (&k.stop);
}

typedef struct
{
  gf_real *dst;
  const gf_real *sums;
  size_t count, subs;
} SumJob;

/* dst[i] += Σ_s sums[s][i], s in order, for i in [begin, end). */
static void
add_sums (void *data, size_t begin, size_t end, size_t chunk)
{
  const SumJob *job = data;

  for (size_t s = 0; s < job->subs; s++)
    for (size_t i = begin; i < end; i++)
      job->dst[i] += job->sums[s * job->count + i];
}

static void
backward_conv (GfGraph *graph, const Node *node, const GfConv2d *conv,
               size_t batch, const gf_real *dy, gf_real *dx, gf_real *dw,
               gf_real *db)
{
  SubConv k = sub_conv (graph, node, conv, batch);
  gf_real *sums = graph->subs
                  + (graph->sub_slots > 1
                     ? graph->sub_slots * graph->sub_workspace : 0);
  SumJob job;

  k.dy = dy;
  k.dx = dx;
  k.dw_sums = dw != NULL ? sums : NULL;
  k.db_sums = db != NULL ? sums + k.subs * align_up (k.w_count) : NULL;
  run_sub_batches (graph, &k, sub_backward);
  graph->cut_short = atomic_load (&k.stop);
  if (graph->cut_short)
    return;
  if (dw != NULL)
    {
      job = (SumJob) { dw, k.dw_sums, k.w_count, k.subs };
      gf_parallel_for (k.w_count, k.subs, add_sums, &job);
    }
  if (db != NULL)
    {
      job = (SumJob) { db, k.db_sums, k.b_count, k.subs };
      gf_parallel_for (k.b_count, k.subs, add_sums, &job);
    }
}

static void
forward_node (GfGraph *graph, Node *node, size_t batch, bool train)
{
  const int *in = node->desc.inputs;
  const bool has_c = node->desc.n_inputs > 2;
  gf_real *y = data_of (graph, node->output);
  size_t count = graph->tensors[node->output].count * batch;
  GfConv2d conv = node->desc.attr.conv;
  GfPool2d pool = node->desc.attr.pool;
  GfGemm gemm = node->gemm;
  GfBroadcast bc;

  conv.batch = pool.batch = gemm.m = batch;
  switch (node->desc.kind)
    {
    case GF_OP_CONV:
      if (node->fused >= 0)
        conv.activation = graph->nodes[node->fused].desc.attr.activation;
      if (node->chain_into >= 0)
        break;   /* the depthwise node after it runs both */
      if (node->chain_from >= 0)
        forward_chain (graph, node, &conv, batch);
      else if (sub_batches (batch) > 1)
        forward_conv (graph, node, &conv, batch);
      else
        gf_conv2d_forward (&conv, data_of (graph, in[0]),
                           data_of (graph, in[1]),
                           has_c ? data_of (graph, in[2]) : NULL, y,
                           graph->workspace);
      break;
    case GF_OP_GEMM:
      gf_gemm_forward (&gemm, data_of (graph, in[0]), data_of (graph, in[1]),
                       has_c ? data_of (graph, in[2]) : NULL, y);
      break;
    case GF_OP_BATCHNORM: forward_batchnorm (graph, node, batch, train); break;
    case GF_OP_ACTIVATION:
      gf_activation_forward (&node->desc.attr.activation, count,
                             data_of (graph, in[0]), y);
      break;
    case GF_OP_ADD:
    case GF_OP_MUL:
      node_broadcast (graph, node, batch, &bc);
      if (node->fused >= 0)
        gf_add_activation_forward (&bc, &graph->nodes[node->fused].desc.attr
                                   .activation, data_of (graph, in[0]),
                                   data_of (graph, in[1]), y);
      else
        (node->desc.kind == GF_OP_ADD ? gf_add_forward : gf_mul_forward)
          (&bc, data_of (graph, in[0]), data_of (graph, in[1]), y);
      break;
    case GF_OP_CONCAT: forward_concat (graph, node, batch); break;
    case GF_OP_MAXPOOL:
      gf_maxpool2d_forward (&pool, data_of (graph, in[0]), y);
      break;
    case GF_OP_AVGPOOL:
      gf_avgpool2d_forward (&pool, data_of (graph, in[0]), y);
      break;
    case GF_OP_GLOBAL_AVGPOOL:
      gf_global_avgpool_forward (batch, node->channels, node->spatial,
                                 data_of (graph, in[0]), y);
      break;
    case GF_OP_DROPOUT: forward_dropout (graph, node, batch, train); break;
    case GF_OP_PAD: forward_pad (graph, node, batch); break;
    case GF_OP_SOFTMAX:
      gf_softmax_forward (batch, graph->tensors[node->output].count,
                          data_of (graph, in[0]), y);
      break;
    case GF_OP_TRANSPOSE: forward_transpose (graph, node, batch); break;
    case GF_OP_FLATTEN:
    case GF_OP_IDENTITY:
    case GF_OP_RESHAPE:   /* the same values in the same order */
    case GF_OP_COUNT:
    default:
      memcpy (y, data_of (graph, in[0]), count * sizeof *y);
      break;
    }
}

/* A node the hook stopped part way: the pass ends there, as it would
 * have before the next node. */
static GfStatus
cut_short (GfGraph *graph, GfError *error)
{
  graph->cut_short = false;
  return gf_error_set (error, GF_ERR_INTERRUPTED, "interrupted");
}

static GfStatus
check_pass (const GfGraph *graph, size_t batch, GfError *error)
{
  if (!graph->planned)
    return gf_error_set (error, GF_ERR_INVALID, "plan the graph first");
  if (batch == 0 || batch > graph->max_batch)
    return gf_error_set (error, GF_ERR_INVALID,
                         "batch %zu is outside the planned 1..%zu",
                         batch, graph->max_batch);
  return GF_OK;
}

GfStatus
gf_graph_forward (GfGraph *graph, size_t batch, GfGraphMode mode,
                  GfError *error)
{
  GfStatus status = check_pass (graph, batch, error);

  if (status != GF_OK)
    return status;
  if (mode == GF_GRAPH_TRAIN && graph->mode != GF_GRAPH_TRAIN)
    return gf_error_set (error, GF_ERR_INVALID,
                         "a training pass needs a training plan");
  graph->last_batch = 0;   /* no backward after an interrupted pass */
  for (size_t i = 0; i < graph->n_nodes; i++)
    {
      if (interrupted (graph))
        return gf_error_set (error, GF_ERR_INTERRUPTED, "interrupted");
      if (node_is_live (graph, i) && !graph->nodes[i].absorbed)
        forward_node (graph, &graph->nodes[i], batch,
                      mode == GF_GRAPH_TRAIN);
      if (graph->cut_short)
        return cut_short (graph, error);
    }
  graph->last_batch = batch;
  graph->last_mode = mode;
  return GF_OK;
}

/* ---- Backward ------------------------------------------------------------ */

/* Where each input's gradient goes.  Kernels overwrite input gradients
 * (dx) but add into weight gradients (dw); a tensor that already received
 * a gradient from another consumer, or that a node takes twice, gets its
 * gradient staged in scratch and added afterwards. */
typedef struct
{
  gf_real *dest[GF_NODE_MAX_INPUTS];    /* what the kernel is given */
  gf_real *target[GF_NODE_MAX_INPUTS];  /* where staged values are added */
  size_t size[GF_NODE_MAX_INPUTS];
} GradRoute;

static bool
kernel_accumulates (const Node *node, size_t slot)
{
  switch (node->desc.kind)
    {
    case GF_OP_CONV:
    case GF_OP_GEMM: return slot >= 1;
    case GF_OP_BATCHNORM: return slot == 1 || slot == 2;
    default: return false;
    }
}

static void
route_gradients (GfGraph *graph, const Node *node, size_t batch,
                 GradRoute *route)
{
  gf_real *scratch = graph->scratch;

  memset (route, 0, sizeof *route);
  for (size_t s = 0; s < node->desc.n_inputs; s++)
    {
      int id = node->desc.inputs[s];
      Tensor *t = &graph->tensors[id];
      bool taken = t->grad_written || is_param (t);
      if (!t->requires_grad)
        continue;
      if (kernel_accumulates (node, s))
        {
          route->dest[s] = grad_of (graph, id);
          continue;
        }
      for (size_t r = 0; r < s; r++)
        taken = taken || node->desc.inputs[r] == id;
      route->size[s] = t->count * (is_data (t) ? batch : 1);
      if (taken)
        {
          route->dest[s] = scratch;
          route->target[s] = grad_of (graph, id);
          scratch += align_up (route->size[s]);
        }
      else
        route->dest[s] = grad_of (graph, id);
    }
}

/* A staged gradient and where it is added. */
typedef struct
{
  gf_real *target;
  const gf_real *staged;
} StagedSum;

/* Elements [begin, end) of target += staged; each element is one
 * addition, whatever the split. */
static void
add_staged (void *data, size_t begin, size_t end, size_t chunk)
{
  const StagedSum *sum = data;
  gf_real *restrict target = sum->target;
  const gf_real *restrict staged = sum->staged;

  for (size_t i = begin; i < end; i++)
    target[i] += staged[i];
}

static void
finish_route (GfGraph *graph, const Node *node, const GradRoute *route)
{
  for (size_t s = 0; s < node->desc.n_inputs; s++)
    {
      StagedSum sum = { route->target[s], route->dest[s] };

      if (route->target[s] != NULL)
        gf_parallel_for (route->size[s], 1, add_staged, &sum);
      if (route->dest[s] != NULL)
        graph->tensors[node->desc.inputs[s]].grad_written = true;
    }
}

static void
backward_batchnorm (GfGraph *graph, Node *node, size_t batch,
                    const GradRoute *r)
{
  const int *in = node->desc.inputs;
  GfBatchNorm bn = node_batchnorm (node, batch);
  gf_real *save = graph->node_state + node->state_offset;
  const gf_real *dy = grad_of (graph, node->output);

  if (node->bn_train)
    gf_batchnorm_backward_train (&bn, data_of (graph, in[0]),
                                 data_of (graph, in[1]), save,
                                 save + node->channels, dy,
                                 r->dest[0], r->dest[1], r->dest[2]);
  else
    gf_batchnorm_backward_infer (&bn, data_of (graph, in[0]),
                                 data_of (graph, in[1]),
                                 data_of (graph, in[3]),
                                 data_of (graph, in[4]), dy,
                                 r->dest[0], r->dest[1], r->dest[2]);
}

static void
backward_binary (GfGraph *graph, Node *node, size_t batch, const GradRoute *r)
{
  const int *in = node->desc.inputs;
  const gf_real *dy = grad_of (graph, node->output);
  GfBroadcast bc;

  node_broadcast (graph, node, batch, &bc);
  if (node->desc.kind == GF_OP_ADD)
    gf_add_backward (&bc, dy, r->dest[0], r->dest[1]);
  else
    gf_mul_backward (&bc, data_of (graph, in[0]), data_of (graph, in[1]), dy,
                     r->dest[0], r->dest[1]);
}

/* Pad crops dy; Transpose permutes it back; both WRITE dx. */
static void
backward_layout (GfGraph *graph, const Node *node, size_t batch,
                 gf_real *dx)
{
  const gf_real *dy = grad_of (graph, node->output);
  GfPad2d pad;
  GfTranspose t;

  if (node->desc.kind == GF_OP_PAD)
    {
      pad = node_pad (graph, node, batch);
      gf_pad2d_backward (&pad, dy, dx);
    }
  else
    {
      t = node_transpose (graph, node, batch);
      gf_transpose_backward (&t, dy, dx);
    }
}

static void
backward_node (GfGraph *graph, Node *node, size_t batch, const GradRoute *r)
{
  const int *in = node->desc.inputs;
  const gf_real *dy = grad_of (graph, node->output);
  size_t count = graph->tensors[node->output].count * batch;
  GfConv2d conv = node->desc.attr.conv;
  GfPool2d pool = node->desc.attr.pool;
  GfGemm gemm = node->gemm;

  conv.batch = pool.batch = gemm.m = batch;
  switch (node->desc.kind)
    {
    case GF_OP_CONV:
      if (sub_batches (batch) > 1)
        backward_conv (graph, node, &conv, batch, dy, r->dest[0], r->dest[1],
                       r->dest[2]);
      else
        gf_conv2d_backward (&conv, data_of (graph, in[0]),
                            data_of (graph, in[1]), dy, r->dest[0],
                            r->dest[1], r->dest[2], graph->workspace);
      break;
    case GF_OP_GEMM:
      gf_gemm_backward (&gemm, data_of (graph, in[0]), data_of (graph, in[1]),
                        dy, r->dest[0], r->dest[1], r->dest[2]);
      break;
    case GF_OP_BATCHNORM: backward_batchnorm (graph, node, batch, r); break;
    case GF_OP_ACTIVATION:
      gf_activation_backward (&node->desc.attr.activation, count,
                              data_of (graph, in[0]),
                              data_of (graph, node->output), dy, r->dest[0]);
      break;
    case GF_OP_ADD:
    case GF_OP_MUL: backward_binary (graph, node, batch, r); break;
    case GF_OP_CONCAT:
      gf_concat_backward (batch, node->spatial, node->desc.n_inputs,
                          node->concat_channels, dy, (gf_real *const *) r->dest);
      break;
    case GF_OP_MAXPOOL:
      gf_maxpool2d_backward (&pool, data_of (graph, in[0]), dy, r->dest[0]);
      break;
    case GF_OP_AVGPOOL: gf_avgpool2d_backward (&pool, dy, r->dest[0]); break;
    case GF_OP_GLOBAL_AVGPOOL:
      gf_global_avgpool_backward (batch, node->channels, node->spatial, dy,
                                  r->dest[0]);
      break;
    case GF_OP_DROPOUT:
      gf_dropout_backward (count, graph->arena + node->mask_offset, dy,
                           r->dest[0]);
      break;
    case GF_OP_PAD:
    case GF_OP_TRANSPOSE:
      backward_layout (graph, node, batch, r->dest[0]);
      break;
    case GF_OP_SOFTMAX:
      gf_softmax_backward (batch, graph->tensors[node->output].count,
                           data_of (graph, node->output), dy, r->dest[0]);
      break;
    case GF_OP_FLATTEN:
    case GF_OP_IDENTITY:
    case GF_OP_RESHAPE:
    case GF_OP_COUNT:
    default:
      memcpy (r->dest[0], dy, count * sizeof *dy);
      break;
    }
}

GfStatus
gf_graph_backward (GfGraph *graph, size_t batch, const gf_real *doutput,
                   GfError *error)
{
  GfStatus status = check_pass (graph, batch, error);
  Tensor *seed;

  if (status != GF_OK)
    return status;
  if (graph->last_mode != GF_GRAPH_TRAIN || graph->last_batch != batch)
    return gf_error_set (error, GF_ERR_INVALID, "backward must follow a "
                         "training forward pass of the same batch");
  seed = &graph->tensors[graph->outputs[0]];
  if (!seed->has_grad)
    return GF_OK;   /* nothing trainable upstream of the output */
  for (size_t i = 0; i < graph->n_tensors; i++)
    graph->tensors[i].grad_written = false;
  memcpy (grad_of (graph, graph->outputs[0]), doutput,
          seed->count * batch * sizeof *doutput);
  seed->grad_written = true;

  for (size_t i = graph->n_nodes; i-- > 0;)
    {
      Node *node = &graph->nodes[i];
      GradRoute route;
      /* An output no consumer sent a gradient to contributes nothing. */
      if (!node->backward || !graph->tensors[node->output].grad_written)
        continue;
      if (interrupted (graph))
        return gf_error_set (error, GF_ERR_INTERRUPTED, "interrupted");
      route_gradients (graph, node, batch, &route);
      backward_node (graph, node, batch, &route);
      if (graph->cut_short)
        return cut_short (graph, error);
      finish_route (graph, node, &route);
    }
  for (size_t i = 0; i < graph->n_tensors; i++)
    {
      Tensor *t = &graph->tensors[i];
      if (t->kind == GF_TENSOR_INPUT && t->has_grad && !t->grad_written)
        memset (grad_of (graph, (int) i), 0,
                t->count * batch * sizeof (gf_real));
    }
  return GF_OK;
}

void
gf_graph_zero_grad (GfGraph *graph)
{
  if (graph->grads != NULL)
    memset (graph->grads, 0, graph->param_count * sizeof *graph->grads);
}

/* ---- Introspection and options ------------------------------------------ */

static const Tensor *
tensor_at (const GfGraph *graph, int tensor)
{
  return tensor >= 0 && (size_t) tensor < graph->n_tensors
    ? &graph->tensors[tensor] : NULL;
}

size_t
gf_graph_n_tensors (const GfGraph *graph)
{
  return graph->n_tensors;
}

const char *
gf_graph_tensor_name (const GfGraph *graph, int tensor)
{
  const Tensor *t = tensor_at (graph, tensor);

  return t ? t->name : NULL;
}

GfTensorKind
gf_graph_tensor_kind (const GfGraph *graph, int tensor)
{
  const Tensor *t = tensor_at (graph, tensor);

  return t ? t->kind : GF_TENSOR_ACTIVATION;
}

size_t
gf_graph_tensor_shape (const GfGraph *graph, int tensor, size_t *dims)
{
  const Tensor *t = tensor_at (graph, tensor);

  if (t == NULL)
    return 0;
  if (dims != NULL)
    memcpy (dims, t->dims, t->ndim * sizeof *dims);
  return t->ndim;
}

size_t
gf_graph_tensor_count (const GfGraph *graph, int tensor)
{
  const Tensor *t = tensor_at (graph, tensor);

  return t ? t->count : 0;
}

gf_real *
gf_graph_tensor_data (GfGraph *graph, int tensor)
{
  const Tensor *t = tensor_at (graph, tensor);

  if (t == NULL || !graph->compiled)
    return NULL;
  if (is_param (t))
    return data_of (graph, tensor);
  return graph->planned && t->live && !t->unbuffered
         && (t->alias < 0 || !graph->tensors[t->alias].unbuffered)
         ? data_of (graph, tensor) : NULL;
}

gf_real *
gf_graph_tensor_grad (GfGraph *graph, int tensor)
{
  const Tensor *t = tensor_at (graph, tensor);

  if (t == NULL || !graph->compiled)
    return NULL;
  if (is_param (t))
    return t->kind == GF_TENSOR_PARAM ? grad_of (graph, tensor) : NULL;
  return graph->planned && t->has_grad ? grad_of (graph, tensor) : NULL;
}

size_t
gf_graph_n_nodes (const GfGraph *graph)
{
  return graph->n_nodes;
}

const char *
gf_graph_node_name (const GfGraph *graph, size_t index)
{
  return index < graph->n_nodes ? graph->nodes[index].name : NULL;
}

GfOpKind
gf_graph_node_kind (const GfGraph *graph, size_t index)
{
  return index < graph->n_nodes ? graph->nodes[index].desc.kind : GF_OP_COUNT;
}

size_t
gf_graph_node_inputs (const GfGraph *graph, size_t index, const int **inputs)
{
  if (index >= graph->n_nodes)
    return 0;
  if (inputs != NULL)
    *inputs = graph->nodes[index].desc.inputs;
  return graph->nodes[index].desc.n_inputs;
}

int
gf_graph_node_output (const GfGraph *graph, size_t index)
{
  return index < graph->n_nodes ? graph->nodes[index].output : -1;
}

const GfNodeDesc *
gf_graph_node_desc (const GfGraph *graph, size_t index)
{
  return index < graph->n_nodes ? &graph->nodes[index].desc : NULL;
}

GfStatus
gf_graph_set_trainable (GfGraph *graph, int tensor, bool trainable,
                        GfError *error)
{
  const Tensor *t = tensor_at (graph, tensor);

  if (t == NULL || t->kind != GF_TENSOR_PARAM)
    return gf_error_set (error, GF_ERR_INVALID,
                         "only a weight can be made trainable");
  graph->tensors[tensor].trainable = trainable;
  graph->planned = false;
  return GF_OK;
}

bool
gf_graph_is_trainable (const GfGraph *graph, int tensor)
{
  const Tensor *t = tensor_at (graph, tensor);

  return t != NULL && t->trainable;
}

void
gf_graph_set_input_grad (GfGraph *graph, bool enabled)
{
  graph->input_grad = enabled;
  graph->planned = false;
}

void
gf_graph_set_batchnorm_frozen (GfGraph *graph, bool frozen)
{
  graph->bn_frozen = frozen;
  graph->planned = false;
}

void
gf_graph_set_interrupt (GfGraph *graph, GfGraphInterrupt hook,
                        void *user_data)
{
  graph->interrupt = hook;
  graph->interrupt_data = user_data;
}

void
gf_graph_set_seed (GfGraph *graph, uint64_t seed)
{
  gf_rng_seed (&graph->rng, seed);
}

gf_real *
gf_graph_params (GfGraph *graph, size_t *count)
{
  if (count != NULL)
    *count = graph->param_count;
  return graph->params;
}

gf_real *
gf_graph_grads (GfGraph *graph, size_t *count)
{
  if (count != NULL)
    *count = graph->param_count;
  return graph->grads;
}

void
gf_graph_param_range (const GfGraph *graph, int tensor, size_t *offset,
                      size_t *count)
{
  const Tensor *t = tensor_at (graph, tensor);
  bool ok = t != NULL && is_param (t) && graph->compiled;

  *offset = ok ? t->offset : 0;
  *count = ok ? t->count : 0;
}

size_t
gf_graph_arena_bytes (const GfGraph *graph)
{
  return graph->planned ? graph->arena_count * sizeof (gf_real) : 0;
}
