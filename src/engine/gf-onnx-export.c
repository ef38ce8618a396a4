/* gf-onnx-export.c: writing part of a graph as an ONNX model, opset 13.
 *
 * The export keeps the nodes that lie between the chosen input and output,
 * turns each into one ONNX node (HardSwish into two), the parameters and
 * states they read into float32 initializers, records Graft's shape of
 * every tensor (batch "N"), and packs the ModelProto with the protobuf-c
 * code generated from onnx.proto.  Every message is carved
 * from one pool freed at the end, so a failure anywhere needs no unwinding
 * of half-built messages: the first failure is kept in the Export and every
 * later helper does nothing.  The bytes go to a temporary file beside the
 * target that is renamed over it, so a reader never sees a partial model
 * and a failed export leaves the old file as it was.
 */
#define _POSIX_C_SOURCE 200809L   /* mkstemp, fsync, fchmod, XSI strerror_r */

#include "gf-onnx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"

#define ONNX_IR_VERSION 7       /* the IR that opset 13 came with */
#define ONNX_OPSET 13
#define PRODUCER_NAME "graft"
#define DEFAULT_GRAPH_NAME "graft"
#define BATCH_DIM_PARAM "N"
/* Conv and the pools, the most, have five attributes. */
#define MAX_NODE_ATTRIBUTES 8
/* The graph node's inputs plus the constants an ONNX node takes as inputs
 * where Graft has attributes (Clip's min and max, Pad's pads and value). */
#define MAX_NODE_INPUTS (GF_NODE_MAX_INPUTS + 2)
/* HardSwish is written as two nodes, every other op as one. */
#define MAX_ONNX_NODES_PER_NODE 2
#define MAX_CONSTANTS_PER_NODE 2
/* gf-activation.c's HardSwish is x · HardSigmoid(x) with these. */
#define HARD_SWISH_ALPHA (1.0 / 6.0)
#define HARD_SWISH_BETA 0.5
/* mkstemp makes the file private; an exported model is a document for
 * other programs and people.  (The umask cannot be read without setting
 * it, which is not safe on a worker thread.) */
#define EXPORT_FILE_MODE 0644
#define TEMP_SUFFIX ".XXXXXX"
/* Float32 little-endian is raw_data's layout: where the engine's buffers
 * already have it, initializers reference them instead of copying, as a
 * whole model can take hundreds of megabytes. */
#if !defined (GF_REAL_DOUBLE) && defined (__BYTE_ORDER__) \
  && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define RAW_FLOATS_ARE_NATIVE 1
#else
#define RAW_FLOATS_ARE_NATIVE 0
#endif

typedef struct PoolBlock PoolBlock;
struct PoolBlock
{
  PoolBlock *next;
  max_align_t data[];
};

typedef struct
{
  GfGraph *graph;
  const GfOnnxExport *what;
  GfError *error;
  GfStatus status;          /* the first failure; helpers then do nothing */
  PoolBlock *pool;          /* everything below and every message */
  bool *downstream;         /* per tensor: depends on what->input */
  bool *needed;             /* per tensor: what->output depends on it */
  bool *included;           /* per node: written to the file */
  bool *initialized;        /* per tensor: its initializer is written */
  size_t n_included;
  Onnx__GraphProto *onnx;
  size_t cap_nodes, cap_initializers;
} Export;

/* ---- Failures and the pool --------------------------------------------- */

static GfStatus fail (Export *ex, GfStatus status, const char *format, ...)
  __attribute__ ((format (printf, 3, 4)));

/* Keeps the first failure only: later ones are its consequences. */
static GfStatus
fail (Export *ex, GfStatus status, const char *format, ...)
{
  char message[GF_ERROR_MESSAGE_MAX];
  va_list args;

  if (ex->status != GF_OK)
    return ex->status;
  ex->status = status;
  va_start (args, format);
  vsnprintf (message, sizeof message, format, args);
  va_end (args);
  return gf_error_set (ex->error, status, "%s", message);
}

/* "WHAT: REASON" for a failed system call; strerror_r because strerror may
 * share one buffer between threads. */
static GfStatus
fail_errno (Export *ex, int err, const char *what, const char *path)
{
  char reason[128];

  if (strerror_r (err, reason, sizeof reason) != 0)
    snprintf (reason, sizeof reason, "error %d", err);
  return fail (ex, GF_ERR_IO, "%s '%s': %s", what, path, reason);
}

/* Zeroed memory for @count items of @size that lives until export_clear. */
static void *
pool_alloc (Export *ex, size_t count, size_t size)
{
  PoolBlock *block;
  size_t bytes;

  if (ex->status != GF_OK)
    return NULL;
  if (gf_size_mul (count, size, &bytes) != 0
      || gf_size_add (bytes, sizeof *block, &bytes) != 0
      || (block = calloc (1, bytes)) == NULL)
    {
      fail (ex, GF_ERR_NOMEM, "out of memory building the ONNX model");
      return NULL;
    }
  block->next = ex->pool;
  ex->pool = block;
  return block->data;
}

static char *pool_printf (Export *ex, const char *format, ...)
  __attribute__ ((format (printf, 2, 3)));

static char *
pool_printf (Export *ex, const char *format, ...)
{
  va_list args, again;
  char *text;
  int length;

  va_start (args, format);
  va_copy (again, args);
  length = vsnprintf (NULL, 0, format, args);
  text = length < 0 ? NULL : pool_alloc (ex, (size_t) length + 1, 1);
  if (text != NULL)
    vsnprintf (text, (size_t) length + 1, format, again);
  va_end (again);
  va_end (args);
  return text;
}

static void
export_clear (Export *ex)
{
  while (ex->pool != NULL)
    {
      PoolBlock *next = ex->pool->next;
      free (ex->pool);
      ex->pool = next;
    }
}

/* ---- Names and tensors ------------------------------------------------- */

static const char *
tensor_name (const Export *ex, int tensor)
{
  return gf_graph_tensor_name (ex->graph, tensor);
}

static bool
is_constant (const Export *ex, int tensor)
{
  GfTensorKind kind = gf_graph_tensor_kind (ex->graph, tensor);

  return kind == GF_TENSOR_PARAM || kind == GF_TENSOR_STATE;
}

/* A name for a tensor the export adds ("OUTPUT/WHAT"), made unique
 * against the graph's own names.  Names the export makes cannot collide
 * with each other: OUTPUT is unique and WHAT, which has no '/', differs
 * between the constants of one node. */
static const char *
new_tensor_name (Export *ex, int output, const char *what)
{
  const char *base = tensor_name (ex, output);
  char *name = pool_printf (ex, "%s/%s", base, what);

  for (unsigned n = 1; name != NULL
       && gf_graph_find_tensor (ex->graph, name) >= 0; n++)
    name = pool_printf (ex, "%s/%s_%u", base, what, n);
  return name;
}

/* ONNX raw_data is little-endian whatever the machine. */
static void
store_le (uint8_t *dst, uint64_t value, size_t bytes)
{
  for (size_t i = 0; i < bytes; i++)
    dst[i] = (uint8_t) (value >> (8 * i));
}

static uint32_t
float_bits (float value)
{
  uint32_t bits;

  memcpy (&bits, &value, sizeof bits);
  return bits;
}

/* ---- Messages ---------------------------------------------------------- */

/* The protobuf-c structs take `char *` for strings they only read, so the
 * graph's own names are referenced rather than copied. */
static Onnx__TensorProto *
add_initializer (Export *ex, const char *name,
                 Onnx__TensorProto__DataType type, size_t ndim,
                 const int64_t *dims, size_t element_size, size_t count)
{
  Onnx__TensorProto *t = pool_alloc (ex, 1, sizeof *t);
  int64_t *dims_copy = pool_alloc (ex, ndim, sizeof *dims_copy);
  Onnx__GraphProto *g = ex->onnx;

  if (ex->status != GF_OK)
    return NULL;
  if (g->n_initializer == ex->cap_initializers)
    return fail (ex, GF_ERR_INVALID, "too many initializers"), NULL;
  onnx__tensor_proto__init (t);
  t->name = (char *) name;
  t->has_data_type = 1;
  t->data_type = type;
  if (ndim > 0)
    memcpy (dims_copy, dims, ndim * sizeof *dims);
  t->n_dims = ndim;
  t->dims = dims_copy;
  t->has_raw_data = 1;
  t->raw_data.len = count * element_size;
  g->initializer[g->n_initializer++] = t;
  return t;
}

static void
set_raw_floats (Export *ex, Onnx__TensorProto *t, const gf_real *values,
                size_t count)
{
  if (t == NULL)
    return;
#if RAW_FLOATS_ARE_NATIVE
  t->raw_data.data = (uint8_t *) values;
#else
  uint8_t *bytes = pool_alloc (ex, count, sizeof (float));

  if (bytes == NULL)
    return;
  for (size_t i = 0; i < count; i++)
    store_le (bytes + i * sizeof (float), float_bits ((float) values[i]),
              sizeof (float));
  t->raw_data.data = bytes;
#endif
}

/* A parameter or state as an initializer, once however often it is read. */
static void
add_param_initializer (Export *ex, int tensor)
{
  size_t dims[GF_MAX_DIMS], ndim, count;
  int64_t dims64[GF_MAX_DIMS];
  Onnx__TensorProto *t;

  if (ex->initialized[tensor])
    return;
  ex->initialized[tensor] = true;
  ndim = gf_graph_tensor_shape (ex->graph, tensor, dims);
  for (size_t i = 0; i < ndim; i++)
    dims64[i] = (int64_t) dims[i];
  count = gf_graph_tensor_count (ex->graph, tensor);
  t = add_initializer (ex, tensor_name (ex, tensor),
                       ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, ndim, dims64,
                       sizeof (float), count);
  set_raw_floats (ex, t, gf_graph_tensor_data (ex->graph, tensor), count);
}

/* A float32 scalar the export adds; returns its name. */
static const char *
add_scalar_constant (Export *ex, int output, const char *what, double value)
{
  const char *name = new_tensor_name (ex, output, what);
  Onnx__TensorProto *t;
  uint8_t *bytes = pool_alloc (ex, 1, sizeof (float));

  t = add_initializer (ex, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0,
                       NULL, sizeof (float), 1);
  if (t == NULL)
    return NULL;
  store_le (bytes, float_bits ((float) value), sizeof (float));
  t->raw_data.data = bytes;
  return name;
}

/* A 1-D int64 tensor the export adds (Pad's pads, Reshape's shape). */
static const char *
add_int64_constant (Export *ex, int output, const char *what, size_t n,
                    const int64_t *values)
{
  const char *name = new_tensor_name (ex, output, what);
  int64_t length = (int64_t) n;
  uint8_t *bytes = pool_alloc (ex, n, sizeof (int64_t));
  Onnx__TensorProto *t;

  t = add_initializer (ex, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1,
                       &length, sizeof (int64_t), n);
  if (t == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    store_le (bytes + i * sizeof (int64_t), (uint64_t) values[i],
              sizeof (int64_t));
  t->raw_data.data = bytes;
  return name;
}

static Onnx__NodeProto *
add_onnx_node (Export *ex, const char *op_type, const char *name,
               const char *output)
{
  Onnx__NodeProto *node = pool_alloc (ex, 1, sizeof *node);
  char **outputs = pool_alloc (ex, 1, sizeof *outputs);
  char **inputs = pool_alloc (ex, MAX_NODE_INPUTS, sizeof *inputs);
  Onnx__AttributeProto **attributes = pool_alloc (ex, MAX_NODE_ATTRIBUTES,
                                                  sizeof *attributes);
  Onnx__GraphProto *g = ex->onnx;

  if (ex->status != GF_OK || name == NULL || output == NULL)
    return NULL;
  if (g->n_node == ex->cap_nodes)
    return fail (ex, GF_ERR_INVALID, "too many nodes"), NULL;
  onnx__node_proto__init (node);
  node->op_type = (char *) op_type;
  node->name = (char *) name;
  outputs[0] = (char *) output;
  node->n_output = 1;
  node->output = outputs;
  node->input = inputs;
  node->attribute = attributes;
  g->node[g->n_node++] = node;
  return node;
}

static void
add_input_name (Export *ex, Onnx__NodeProto *node, const char *name)
{
  if (node == NULL || name == NULL)
    return;
  if (node->n_input == MAX_NODE_INPUTS)
    {
      fail (ex, GF_ERR_INVALID, "node '%s' has too many inputs", node->name);
      return;
    }
  node->input[node->n_input++] = (char *) name;
}

static Onnx__AttributeProto *
add_attribute (Export *ex, Onnx__NodeProto *node, const char *name,
               Onnx__AttributeProto__AttributeType type)
{
  Onnx__AttributeProto *attribute;

  if (node == NULL || (attribute = pool_alloc (ex, 1, sizeof *attribute))
                      == NULL)
    return NULL;
  if (node->n_attribute == MAX_NODE_ATTRIBUTES)
    return fail (ex, GF_ERR_INVALID, "too many attributes"), NULL;
  onnx__attribute_proto__init (attribute);
  attribute->name = (char *) name;
  attribute->has_type = 1;
  attribute->type = type;
  node->attribute[node->n_attribute++] = attribute;
  return attribute;
}

static void
set_int (Export *ex, Onnx__NodeProto *node, const char *name, int64_t value)
{
  Onnx__AttributeProto *a = add_attribute (
    ex, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);

  if (a != NULL)
    {
      a->has_i = 1;
      a->i = value;
    }
}

static void
set_float (Export *ex, Onnx__NodeProto *node, const char *name, double value)
{
  Onnx__AttributeProto *a = add_attribute (
    ex, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);

  if (a != NULL)
    {
      a->has_f = 1;
      a->f = (float) value;
    }
}

static void
set_ints (Export *ex, Onnx__NodeProto *node, const char *name, size_t n,
          const int64_t *values)
{
  Onnx__AttributeProto *a = add_attribute (
    ex, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  int64_t *copy = pool_alloc (ex, n, sizeof *copy);

  if (a == NULL || copy == NULL)
    return;
  memcpy (copy, values, n * sizeof *values);
  a->n_ints = n;
  a->ints = copy;
}

static void
set_string (Export *ex, Onnx__NodeProto *node, const char *name,
            const char *value)
{
  Onnx__AttributeProto *a = add_attribute (
    ex, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);

  if (a == NULL)
    return;
  a->has_s = 1;
  a->s.len = strlen (value);
  a->s.data = (uint8_t *) value;
}

/* ---- Nodes ------------------------------------------------------------- */

/* An ONNX node of @op_type with the graph node's name, inputs (parameters
 * becoming initializers) and output. */
static Onnx__NodeProto *
write_plain (Export *ex, size_t index, const char *op_type)
{
  const int *inputs;
  size_t n = gf_graph_node_inputs (ex->graph, index, &inputs);
  int output = gf_graph_node_output (ex->graph, index);
  Onnx__NodeProto *node;

  node = add_onnx_node (ex, op_type, gf_graph_node_name (ex->graph, index),
                        tensor_name (ex, output));
  for (size_t i = 0; i < n; i++)
    {
      if (is_constant (ex, inputs[i]))
        add_param_initializer (ex, inputs[i]);
      add_input_name (ex, node, tensor_name (ex, inputs[i]));
    }
  return node;
}

/* The four padding amounts in ONNX's order: all starts, then all ends. */
static void
set_pads (Export *ex, Onnx__NodeProto *node, size_t top, size_t left,
          size_t bottom, size_t right)
{
  int64_t pads[4] = { (int64_t) top, (int64_t) left, (int64_t) bottom,
                      (int64_t) right };

  set_ints (ex, node, "pads", 4, pads);
}

static void
set_pair (Export *ex, Onnx__NodeProto *node, const char *name, size_t h,
          size_t w)
{
  int64_t pair[2] = { (int64_t) h, (int64_t) w };

  set_ints (ex, node, name, 2, pair);
}

/* The kernel is read off the weight (M, C/groups, KH, KW) rather than the
 * attributes, which hold it only once compiled. */
static void
write_conv (Export *ex, size_t index, const GfNodeDesc *desc)
{
  const GfConv2d *conv = &desc->attr.conv;
  const int *inputs;
  size_t w_dims[GF_MAX_DIMS];
  Onnx__NodeProto *node;

  gf_graph_node_inputs (ex->graph, index, &inputs);
  if (gf_graph_tensor_shape (ex->graph, inputs[1], w_dims) != 4)
    {
      fail (ex, GF_ERR_SHAPE, "Conv node '%s' has no 4-D weight",
            gf_graph_node_name (ex->graph, index));
      return;
    }
  node = write_plain (ex, index, "Conv");
  set_pair (ex, node, "kernel_shape", w_dims[2], w_dims[3]);
  set_pair (ex, node, "strides", conv->stride_h, conv->stride_w);
  set_pair (ex, node, "dilations", conv->dilation_h, conv->dilation_w);
  set_pads (ex, node, conv->pad_top, conv->pad_left, conv->pad_bottom,
            conv->pad_right);
  set_int (ex, node, "group", (int64_t) conv->groups);
}

/* The output length of one pooled axis as ONNX's shape inference computed
 * it before ONNX 1.16: under ceil_mode, a last window may start in the end
 * padding. */
static size_t
onnx_pool_length (size_t in, size_t pads, size_t extent, size_t stride,
                  bool ceil_mode)
{
  size_t span = in + pads - extent;

  return (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
}

/* Graft, like PyTorch and ONNX Runtime, drops a last ceil_mode window that
 * would start in the end padding; older ONNX readers count it.  Trimming
 * the end padding to where the last kept window ends makes every reader
 * count the same windows, and changes no value: no kept window reaches
 * past that point, so none is clipped differently, even where the
 * padding counts (AveragePool with count_include_pad). */
static size_t
pool_end_pad (size_t in, size_t out, size_t begin, size_t end, size_t kernel,
              size_t dilation, size_t stride, bool ceil_mode)
{
  size_t extent = (kernel - 1) * dilation + 1;
  size_t reach = (out - 1) * stride + extent;   /* the last window's end */

  if (onnx_pool_length (in, begin + end, extent, stride, ceil_mode) == out)
    return end;
  return reach > in + begin ? reach - in - begin : 0;
}

/* Opset 13's AveragePool has no dilations (they came in opset 19). */
static void
write_pool (Export *ex, size_t index, const GfNodeDesc *desc)
{
  const GfPool2d *pool = &desc->attr.pool;
  bool max = desc->kind == GF_OP_MAXPOOL;
  Onnx__NodeProto *node;
  size_t bottom = pool_end_pad (pool->in_h, pool->out_h, pool->pad_top,
                                pool->pad_bottom, pool->kernel_h,
                                pool->dilation_h, pool->stride_h,
                                pool->ceil_mode);
  size_t right = pool_end_pad (pool->in_w, pool->out_w, pool->pad_left,
                               pool->pad_right, pool->kernel_w,
                               pool->dilation_w, pool->stride_w,
                               pool->ceil_mode);

  if (!max && (pool->dilation_h > 1 || pool->dilation_w > 1))
    {
      fail (ex, GF_ERR_UNSUPPORTED, "AveragePool node '%s' is dilated, "
            "which opset %d cannot express",
            gf_graph_node_name (ex->graph, index), ONNX_OPSET);
      return;
    }
  node = write_plain (ex, index, max ? "MaxPool" : "AveragePool");
  set_pair (ex, node, "kernel_shape", pool->kernel_h, pool->kernel_w);
  set_pair (ex, node, "strides", pool->stride_h, pool->stride_w);
  set_pads (ex, node, pool->pad_top, pool->pad_left, bottom, right);
  set_int (ex, node, "ceil_mode", pool->ceil_mode);
  if (max)
    set_pair (ex, node, "dilations", pool->dilation_h, pool->dilation_w);
  else
    set_int (ex, node, "count_include_pad", pool->count_include_pad);
}

/* HardSwish is opset 14; before it, x · HardSigmoid(x; 1/6, 1/2). */
static void
write_hard_swish (Export *ex, size_t index)
{
  const int *inputs;
  int output = gf_graph_node_output (ex->graph, index);
  const char *name = gf_graph_node_name (ex->graph, index);
  const char *x, *gate = new_tensor_name (ex, output, "hardsigmoid");
  Onnx__NodeProto *node;

  gf_graph_node_inputs (ex->graph, index, &inputs);
  x = tensor_name (ex, inputs[0]);
  node = add_onnx_node (ex, "HardSigmoid",
                        pool_printf (ex, "%s/hardsigmoid", name), gate);
  add_input_name (ex, node, x);
  set_float (ex, node, "alpha", HARD_SWISH_ALPHA);
  set_float (ex, node, "beta", HARD_SWISH_BETA);
  node = add_onnx_node (ex, "Mul", name, tensor_name (ex, output));
  add_input_name (ex, node, x);
  add_input_name (ex, node, gate);
}

/* Clip's bounds are inputs since opset 11. */
static void
write_clip (Export *ex, size_t index, const GfActivation *act)
{
  int output = gf_graph_node_output (ex->graph, index);
  Onnx__NodeProto *node = write_plain (ex, index, "Clip");

  add_input_name (ex, node, add_scalar_constant (ex, output, "min",
                                                 act->alpha));
  add_input_name (ex, node, add_scalar_constant (ex, output, "max",
                                                 act->beta));
}

static void
write_activation (Export *ex, size_t index, const GfActivation *act)
{
  Onnx__NodeProto *node;

  switch (act->kind)
    {
    case GF_ACT_IDENTITY: write_plain (ex, index, "Identity"); break;
    case GF_ACT_RELU: write_plain (ex, index, "Relu"); break;
    case GF_ACT_SIGMOID: write_plain (ex, index, "Sigmoid"); break;
    case GF_ACT_CLIP: write_clip (ex, index, act); break;
    case GF_ACT_HARD_SWISH: write_hard_swish (ex, index); break;
    case GF_ACT_LEAKY_RELU:
      node = write_plain (ex, index, "LeakyRelu");
      set_float (ex, node, "alpha", act->alpha);
      break;
    case GF_ACT_HARD_SIGMOID:
      node = write_plain (ex, index, "HardSigmoid");
      set_float (ex, node, "alpha", act->alpha);
      set_float (ex, node, "beta", act->beta);
      break;
    default:
      fail (ex, GF_ERR_UNSUPPORTED, "node '%s' has an activation ONNX "
            "export does not know", gf_graph_node_name (ex->graph, index));
    }
}

static void
write_gemm (Export *ex, size_t index, const GfNodeDesc *desc)
{
  Onnx__NodeProto *node = write_plain (ex, index, "Gemm");

  set_float (ex, node, "alpha", desc->attr.gemm.alpha);
  set_float (ex, node, "beta", desc->attr.gemm.beta);
  set_int (ex, node, "transA", desc->attr.gemm.trans_a);
  set_int (ex, node, "transB", desc->attr.gemm.trans_b);
}

static void
write_batchnorm (Export *ex, size_t index, const GfNodeDesc *desc)
{
  Onnx__NodeProto *node = write_plain (ex, index, "BatchNormalization");

  set_float (ex, node, "epsilon", desc->attr.batchnorm.epsilon);
  set_float (ex, node, "momentum", desc->attr.batchnorm.momentum);
}

/* Pad takes its amounts as an int64 input over every axis, starts then
 * ends; Graft pads the last two axes, H and W. */
static void
write_pad (Export *ex, size_t index, const GfNodeDesc *desc)
{
  const int *inputs;
  int output = gf_graph_node_output (ex->graph, index);
  size_t dims[GF_MAX_DIMS], ndim;
  int64_t pads[2 * GF_MAX_DIMS] = { 0 };
  Onnx__NodeProto *node;

  gf_graph_node_inputs (ex->graph, index, &inputs);
  ndim = gf_graph_tensor_shape (ex->graph, inputs[0], dims);
  if (ndim < 3)
    {
      fail (ex, GF_ERR_SHAPE, "Pad node '%s' has no H and W axes",
            gf_graph_node_name (ex->graph, index));
      return;
    }
  pads[ndim - 2] = (int64_t) desc->attr.pad.top;
  pads[ndim - 1] = (int64_t) desc->attr.pad.left;
  pads[2 * ndim - 2] = (int64_t) desc->attr.pad.bottom;
  pads[2 * ndim - 1] = (int64_t) desc->attr.pad.right;
  node = write_plain (ex, index, "Pad");
  set_string (ex, node, "mode", "constant");
  add_input_name (ex, node, add_int64_constant (ex, output, "pads",
                                                2 * ndim, pads));
  add_input_name (ex, node, add_scalar_constant (ex, output, "value",
                                                 desc->attr.pad.value));
}

static void
write_transpose (Export *ex, size_t index, const GfNodeDesc *desc)
{
  const int *inputs;
  size_t dims[GF_MAX_DIMS], ndim;
  int64_t perm[GF_MAX_DIMS];
  Onnx__NodeProto *node;

  gf_graph_node_inputs (ex->graph, index, &inputs);
  ndim = gf_graph_tensor_shape (ex->graph, inputs[0], dims);
  for (size_t i = 0; i < ndim; i++)
    perm[i] = (int64_t) desc->attr.transpose.perm[i];
  node = write_plain (ex, index, "Transpose");
  set_ints (ex, node, "perm", ndim, perm);
}

/* The batch is written as −1, so that the file's batch stays dynamic and
 * is inferred from the other, fixed dimensions. */
static void
write_reshape (Export *ex, size_t index, const GfNodeDesc *desc)
{
  int output = gf_graph_node_output (ex->graph, index);
  size_t ndim = desc->attr.reshape.ndim;
  int64_t shape[GF_MAX_DIMS];
  Onnx__NodeProto *node;

  if (ndim < 1 || ndim > GF_MAX_DIMS)
    {
      fail (ex, GF_ERR_SHAPE, "Reshape node '%s' has %zu dimensions",
            gf_graph_node_name (ex->graph, index), ndim);
      return;
    }
  shape[0] = -1;
  for (size_t i = 1; i < ndim; i++)
    shape[i] = (int64_t) desc->attr.reshape.dims[i];
  node = write_plain (ex, index, "Reshape");
  add_input_name (ex, node, add_int64_constant (ex, output, "shape", ndim,
                                                shape));
}

static void
write_with_axis (Export *ex, size_t index, const char *op_type, int axis)
{
  set_int (ex, write_plain (ex, index, op_type), "axis", axis);
}

static void
write_node (Export *ex, size_t index)
{
  const GfNodeDesc *desc = gf_graph_node_desc (ex->graph, index);

  if (desc == NULL)
    {
      fail (ex, GF_ERR_INVALID, "the graph is not compiled");
      return;
    }
  switch (desc->kind)
    {
    case GF_OP_CONV: write_conv (ex, index, desc); break;
    case GF_OP_BATCHNORM: write_batchnorm (ex, index, desc); break;
    case GF_OP_ACTIVATION: write_activation (ex, index,
                                             &desc->attr.activation); break;
    case GF_OP_ADD: write_plain (ex, index, "Add"); break;
    case GF_OP_MUL: write_plain (ex, index, "Mul"); break;
    case GF_OP_MAXPOOL:
    case GF_OP_AVGPOOL: write_pool (ex, index, desc); break;
    case GF_OP_GLOBAL_AVGPOOL: write_plain (ex, index, "GlobalAveragePool");
      break;
    case GF_OP_GEMM: write_gemm (ex, index, desc); break;
    /* An export is an inference graph, where Dropout passes x through. */
    case GF_OP_DROPOUT:
    case GF_OP_IDENTITY: write_plain (ex, index, "Identity"); break;
    case GF_OP_PAD: write_pad (ex, index, desc); break;
    case GF_OP_TRANSPOSE: write_transpose (ex, index, desc); break;
    case GF_OP_RESHAPE: write_reshape (ex, index, desc); break;
    case GF_OP_CONCAT: write_with_axis (ex, index, "Concat", 1); break;
    case GF_OP_FLATTEN: write_with_axis (ex, index, "Flatten", 1); break;
    case GF_OP_SOFTMAX: write_with_axis (ex, index, "Softmax", -1); break;
    case GF_OP_COUNT:
    default:
      fail (ex, GF_ERR_UNSUPPORTED, "node '%s': %s cannot be exported",
            gf_graph_node_name (ex->graph, index),
            gf_op_kind_to_string (desc->kind));
    }
}

/* ---- The model --------------------------------------------------------- */

/* float32 (N, dims...) with N symbolic. */
static Onnx__ValueInfoProto *
value_info (Export *ex, int tensor)
{
  size_t dims[GF_MAX_DIMS], ndim = gf_graph_tensor_shape (ex->graph, tensor,
                                                          dims);
  Onnx__ValueInfoProto *info = pool_alloc (ex, 1, sizeof *info);
  Onnx__TypeProto *type = pool_alloc (ex, 1, sizeof *type);
  Onnx__TypeProto__Tensor *tt = pool_alloc (ex, 1, sizeof *tt);
  Onnx__TensorShapeProto *shape = pool_alloc (ex, 1, sizeof *shape);
  Onnx__TensorShapeProto__Dimension **dim = pool_alloc (ex, ndim,
                                                        sizeof *dim);
  Onnx__TensorShapeProto__Dimension *dim_items = pool_alloc (
    ex, ndim, sizeof *dim_items);

  if (ex->status != GF_OK)
    return NULL;
  for (size_t i = 0; i < ndim; i++)
    {
      onnx__tensor_shape_proto__dimension__init (&dim_items[i]);
      dim_items[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dim_items[i].dim_value = (int64_t) dims[i];
      dim[i] = &dim_items[i];
    }
  dim_items[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
  dim_items[0].dim_param = (char *) BATCH_DIM_PARAM;
  onnx__tensor_shape_proto__init (shape);
  shape->n_dim = ndim;
  shape->dim = dim;
  onnx__type_proto__tensor__init (tt);
  tt->has_elem_type = 1;
  tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tt->shape = shape;
  onnx__type_proto__init (type);
  type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  type->tensor_type = tt;
  onnx__value_info_proto__init (info);
  info->name = (char *) tensor_name (ex, tensor);
  info->type = type;
  return info;
}

/* Input and output of the export; the arrays for nodes and initializers,
 * sized for the most the selected nodes can need. */
static void
init_graph (Export *ex, Onnx__GraphProto *g)
{
  size_t n_tensors = gf_graph_n_tensors (ex->graph);
  Onnx__ValueInfoProto **input = pool_alloc (ex, 1, sizeof *input);
  Onnx__ValueInfoProto **output = pool_alloc (ex, 1, sizeof *output);

  ex->cap_nodes = MAX_ONNX_NODES_PER_NODE * ex->n_included;
  ex->cap_initializers = n_tensors + MAX_CONSTANTS_PER_NODE * ex->n_included;
  g->node = pool_alloc (ex, ex->cap_nodes, sizeof *g->node);
  g->initializer = pool_alloc (ex, ex->cap_initializers,
                               sizeof *g->initializer);
  if (ex->status != GF_OK)
    return;
  g->name = (char *) (ex->what->graph_name ? ex->what->graph_name
                                           : DEFAULT_GRAPH_NAME);
  input[0] = value_info (ex, ex->what->input);
  output[0] = value_info (ex, ex->what->output);
  g->n_input = 1;
  g->input = input;
  g->n_output = 1;
  g->output = output;
}

/* Graft's shape of every inner tensor, so that a checker's shape inference
 * confirms each one rather than only the output's. */
static void
write_value_infos (Export *ex, Onnx__GraphProto *g)
{
  size_t n_nodes = gf_graph_n_nodes (ex->graph);

  g->value_info = pool_alloc (ex, ex->n_included, sizeof *g->value_info);
  for (size_t i = 0; i < n_nodes && ex->status == GF_OK; i++)
    {
      int output = gf_graph_node_output (ex->graph, i);

      if (ex->included[i] && output != ex->what->output)
        g->value_info[g->n_value_info++] = value_info (ex, output);
    }
}

static void
write_metadata (Export *ex, Onnx__ModelProto *model)
{
  size_t n = ex->what->n_metadata;
  Onnx__StringStringEntryProto **props = pool_alloc (ex, n, sizeof *props);
  Onnx__StringStringEntryProto *items = pool_alloc (ex, n, sizeof *items);

  if (ex->status != GF_OK)
    return;
  for (size_t i = 0; i < n; i++)
    {
      onnx__string_string_entry_proto__init (&items[i]);
      items[i].key = ex->what->metadata[i].key;
      items[i].value = ex->what->metadata[i].value;
      props[i] = &items[i];
    }
  model->n_metadata_props = n;
  model->metadata_props = props;
}

static Onnx__ModelProto *
build_model (Export *ex)
{
  Onnx__ModelProto *model = pool_alloc (ex, 1, sizeof *model);
  Onnx__OperatorSetIdProto *opset = pool_alloc (ex, 1, sizeof *opset);
  Onnx__OperatorSetIdProto **opsets = pool_alloc (ex, 1, sizeof *opsets);
  Onnx__GraphProto *g = pool_alloc (ex, 1, sizeof *g);
  size_t n_nodes = gf_graph_n_nodes (ex->graph);

  if (ex->status != GF_OK)
    return NULL;
  onnx__graph_proto__init (g);
  ex->onnx = g;
  init_graph (ex, g);
  for (size_t i = 0; i < n_nodes && ex->status == GF_OK; i++)
    if (ex->included[i])
      write_node (ex, i);
  write_value_infos (ex, g);

  onnx__operator_set_id_proto__init (opset);
  opset->domain = (char *) "";
  opset->has_version = 1;
  opset->version = ONNX_OPSET;
  opsets[0] = opset;
  onnx__model_proto__init (model);
  model->has_ir_version = 1;
  model->ir_version = ONNX_IR_VERSION;
  model->n_opset_import = 1;
  model->opset_import = opsets;
  model->producer_name = (char *) PRODUCER_NAME;
  model->graph = g;
  write_metadata (ex, model);
  return ex->status == GF_OK ? model : NULL;
}

/* ---- Choosing the nodes ------------------------------------------------ */

static GfStatus
check_request (Export *ex, const char *path)
{
  const GfOnnxExport *what = ex->what;
  int n_tensors = (int) gf_graph_n_tensors (ex->graph);
  size_t dims[GF_MAX_DIMS];

  if (path == NULL || path[0] == '\0')
    return fail (ex, GF_ERR_INVALID, "no file to export to");
  if (what->input < 0 || what->input >= n_tensors || what->output < 0
      || what->output >= n_tensors)
    return fail (ex, GF_ERR_INVALID, "the export's input or output is not "
                 "a tensor of the graph");
  if (is_constant (ex, what->input))
    return fail (ex, GF_ERR_INVALID, "the export's input '%s' is a weight",
                 tensor_name (ex, what->input));
  if (gf_graph_tensor_kind (ex->graph, what->output) != GF_TENSOR_ACTIVATION
      || what->output == what->input)
    return fail (ex, GF_ERR_INVALID, "the export's output '%s' is not "
                 "computed by a node", tensor_name (ex, what->output));
  if (gf_graph_tensor_shape (ex->graph, what->output, dims) == 0)
    return fail (ex, GF_ERR_INVALID, "the graph is not compiled");
  for (size_t i = 0; i < what->n_metadata; i++)
    if (what->metadata[i].key == NULL || what->metadata[i].value == NULL)
      return fail (ex, GF_ERR_INVALID, "metadata entry %zu has no key or "
                   "no value", i);
  return GF_OK;
}

/* Which tensors depend on what->input: a sweep in execution order. */
static void
mark_downstream (Export *ex)
{
  size_t n_nodes = gf_graph_n_nodes (ex->graph);

  ex->downstream[ex->what->input] = true;
  for (size_t i = 0; i < n_nodes; i++)
    {
      const int *inputs;
      size_t n = gf_graph_node_inputs (ex->graph, i, &inputs);
      int output = gf_graph_node_output (ex->graph, i);

      for (size_t j = 0; j < n; j++)
        if (ex->downstream[inputs[j]])
          ex->downstream[output] = true;
    }
}

/* Which nodes the output needs: a sweep back from it that stops at
 * what->input.  Each activation those nodes read must depend on the input,
 * or the file would need a second input. */
static GfStatus
mark_needed (Export *ex)
{
  size_t n_nodes = gf_graph_n_nodes (ex->graph);
  const char *input_name = tensor_name (ex, ex->what->input);

  if (!ex->downstream[ex->what->output])
    return fail (ex, GF_ERR_INVALID, "the output '%s' does not depend on "
                 "the input '%s'", tensor_name (ex, ex->what->output),
                 input_name);
  ex->needed[ex->what->output] = true;
  for (size_t i = n_nodes; i-- > 0;)
    {
      const int *inputs;
      size_t n = gf_graph_node_inputs (ex->graph, i, &inputs);
      int output = gf_graph_node_output (ex->graph, i);

      if (!ex->needed[output] || output == ex->what->input)
        continue;
      ex->included[i] = true;
      ex->n_included++;
      for (size_t j = 0; j < n; j++)
        {
          if (is_constant (ex, inputs[j]))
            continue;
          if (!ex->downstream[inputs[j]])
            return fail (ex, GF_ERR_INVALID, "node '%s' reads '%s', which "
                         "does not depend on the input '%s'",
                         gf_graph_node_name (ex->graph, i),
                         tensor_name (ex, inputs[j]), input_name);
          ex->needed[inputs[j]] = true;
        }
    }
  return GF_OK;
}

static GfStatus
select_nodes (Export *ex)
{
  size_t n_tensors = gf_graph_n_tensors (ex->graph);

  ex->downstream = pool_alloc (ex, n_tensors, sizeof (bool));
  ex->needed = pool_alloc (ex, n_tensors, sizeof (bool));
  ex->initialized = pool_alloc (ex, n_tensors, sizeof (bool));
  ex->included = pool_alloc (ex, gf_graph_n_nodes (ex->graph), sizeof (bool));
  if (ex->status != GF_OK)
    return ex->status;
  mark_downstream (ex);
  return mark_needed (ex);
}

/* ---- Writing the file -------------------------------------------------- */

static uint8_t *
pack_model (Export *ex, const Onnx__ModelProto *model, size_t *size)
{
  uint8_t *bytes;

  *size = onnx__model_proto__get_packed_size (model);
  if (*size > GF_ONNX_MAX_FILE_SIZE)
    return fail (ex, GF_ERR_UNSUPPORTED, "the model would take %zu bytes; "
                 "an ONNX file holds at most 2 GiB", *size), NULL;
  bytes = malloc (*size > 0 ? *size : 1);
  if (bytes == NULL)
    return fail (ex, GF_ERR_NOMEM, "out of memory packing the ONNX model"),
           NULL;
  if (onnx__model_proto__pack (model, bytes) != *size)
    {
      free (bytes);
      return fail (ex, GF_ERR_INVALID, "protobuf-c packed an unexpected "
                   "size"), NULL;
    }
  return bytes;
}

/* "DIR/.BASE.XXXXXX": beside the target, so that rename stays within one
 * file system, and hidden while it exists. */
static char *
temp_template (Export *ex, const char *path)
{
  const char *slash = strrchr (path, '/');
  size_t dir_length = slash != NULL ? (size_t) (slash - path) + 1 : 0;
  const char *base = path + dir_length;

  if (base[0] == '\0')
    return fail (ex, GF_ERR_INVALID, "'%s' names a folder, not a file",
                 path), NULL;
  return pool_printf (ex, "%.*s.%s%s", (int) dir_length, path, base,
                      TEMP_SUFFIX);
}

static int
write_all (int fd, const uint8_t *bytes, size_t size)
{
  while (size > 0)
    {
      ssize_t written = write (fd, bytes, size);

      if (written < 0 && errno == EINTR)
        continue;
      if (written < 0)
        return -1;
      if (written == 0)
        {
          errno = EIO;
          return -1;
        }
      bytes += written;
      size -= (size_t) written;
    }
  return 0;
}

/* So that the rename itself survives a crash.  A failure here still leaves
 * a complete file in place, so it is not reported. */
static void
sync_folder (const char *path)
{
  const char *slash = strrchr (path, '/');
  char *folder = slash != NULL ? strndup (path, (size_t) (slash - path) + 1)
                               : strdup (".");
  int fd;

  if (folder == NULL)
    return;
  fd = open (folder, O_RDONLY | O_DIRECTORY);
  free (folder);
  if (fd < 0)
    return;
  fsync (fd);
  close (fd);
}

/* The file is complete on disk (fsync) before it takes the target's name,
 * so a crash leaves the old file or the new one, never a part. */
static GfStatus
write_atomically (Export *ex, const char *path, const uint8_t *bytes,
                  size_t size)
{
  char *temp = temp_template (ex, path);
  int fd, err;

  if (temp == NULL)
    return ex->status;
  fd = mkstemp (temp);
  if (fd < 0)
    return fail_errno (ex, errno, "cannot create a file beside", path);
  if (write_all (fd, bytes, size) != 0 || fchmod (fd, EXPORT_FILE_MODE) != 0
      || fsync (fd) != 0)
    {
      err = errno;
      close (fd);
      unlink (temp);
      return fail_errno (ex, err, "cannot write", path);
    }
  if (close (fd) != 0 || rename (temp, path) != 0)
    {
      err = errno;
      unlink (temp);
      return fail_errno (ex, err, "cannot write", path);
    }
  sync_folder (path);
  return GF_OK;
}

GfStatus
gf_onnx_save (GfGraph *graph, const GfOnnxExport *what, const char *path,
              GfError *error)
{
  Export ex = { .graph = graph, .what = what, .error = error };
  Onnx__ModelProto *model = NULL;
  uint8_t *bytes = NULL;
  size_t size = 0;

  if (graph == NULL || what == NULL)
    return gf_error_set (error, GF_ERR_INVALID, "no graph to export");
  if (check_request (&ex, path) == GF_OK && select_nodes (&ex) == GF_OK)
    model = build_model (&ex);
  if (model != NULL)
    bytes = pack_model (&ex, model, &size);
  if (bytes != NULL)
    write_atomically (&ex, path, bytes, size);
  free (bytes);
  export_clear (&ex);
  return ex.status;
}
