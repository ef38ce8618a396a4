/* gf-graph.h: a network as a DAG of nodes over named tensors.
 *
 * Build a graph by adding inputs, parameters and nodes in execution order,
 * then compile it once: that infers every
 * tensor's shape, checks each node's parameters against its attributes and
 * packs all parameters into one allocation (gradients into a second of the
 * same layout, so an optimizer step is one loop).
 *
 * Then plan it for a batch size and a mode.  Planning decides which
 * parameters need gradients (those marked trainable), which nodes backward
 * must visit (those whose output depends on one), which activations must
 * outlive the forward pass (only what those nodes' backward reads), and lays
 * every activation and gradient buffer into one arena by lifetime: a frozen
 * prefix keeps nothing, so its buffers are reused as it runs.  Forward and
 * backward then allocate nothing.  Re-plan after changing trainable flags.
 *
 * Tensors of activations are (N, ...) with N the batch; forward and
 * backward take the batch of the call, which may be smaller than the
 * planned one (the last batch of an epoch).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gf-real.h"
#include "gf-rng.h"
#include "gf-status.h"
#include "ops/gf-activation.h"
#include "ops/gf-conv.h"
#include "ops/gf-pool.h"

#define GF_MAX_DIMS 6
#define GF_NODE_MAX_INPUTS 16

typedef enum
{
  GF_OP_CONV,            /* x, w, [b] */
  GF_OP_BATCHNORM,       /* x, scale, bias, mean, var */
  GF_OP_ACTIVATION,      /* x */
  GF_OP_ADD,             /* a, b (broadcasting) */
  GF_OP_MUL,             /* a, b (broadcasting) */
  GF_OP_CONCAT,          /* x0, x1, ... along axis 1 */
  GF_OP_MAXPOOL,         /* x */
  GF_OP_AVGPOOL,         /* x */
  GF_OP_GLOBAL_AVGPOOL,  /* x → (N, C, 1, 1) */
  GF_OP_FLATTEN,         /* x → (N, rest) */
  GF_OP_GEMM,            /* a (N, K), b, [c] */
  GF_OP_DROPOUT,         /* x */
  GF_OP_IDENTITY,        /* x */
  GF_OP_PAD,             /* x, constant padding of H and W */
  GF_OP_SOFTMAX,         /* x (N, K) → probabilities along K */
  GF_OP_TRANSPOSE,       /* x, permuting the axes after the batch */
  GF_OP_RESHAPE,         /* x → (N, dims...) with the same count */
  GF_OP_COUNT
} GfOpKind;

typedef enum
{
  GF_TENSOR_INPUT,       /* fed by the caller before forward */
  GF_TENSOR_PARAM,       /* a weight: trainable or not */
  GF_TENSOR_STATE,       /* a buffer such as BatchNorm's running mean */
  GF_TENSOR_ACTIVATION,  /* produced by a node */
} GfTensorKind;

typedef enum
{
  GF_GRAPH_INFER,        /* forward only; everything frozen */
  GF_GRAPH_TRAIN,        /* forward keeps what backward needs */
} GfGraphMode;

/* What a node does, as given to gf_graph_add_node.  For Conv and pooling
 * the caller fills the attribute fields of GfConv2d / GfPool2d (kernel,
 * stride, dilation, pads, groups, ceil_mode, count_include_pad); the graph
 * fills the shape fields from the inferred shapes. */
typedef struct
{
  GfOpKind kind;
  size_t n_inputs;
  int inputs[GF_NODE_MAX_INPUTS];   /* tensor ids */
  union
  {
    GfConv2d conv;
    GfPool2d pool;
    struct { double epsilon, momentum; } batchnorm;
    GfActivation activation;
    struct { bool trans_a, trans_b; double alpha, beta; } gemm;
    struct { double ratio; } dropout;
    struct
    {
      size_t top, left, bottom, right;
      double value;
    } pad;
    struct { size_t perm[GF_MAX_DIMS]; } transpose;   /* perm[0] == 0 */
    struct
    {
      size_t ndim;
      size_t dims[GF_MAX_DIMS];   /* dims[0] (the batch) is ignored */
    } reshape;
  } attr;
} GfNodeDesc;

typedef struct _GfGraph GfGraph;

GfGraph *gf_graph_new  (void);
void     gf_graph_free (GfGraph *graph);

/* Each returns the new tensor's id (>= 0) or −1 with @error filled.
 * Names are unique.  @dims of an input include the batch as dims[0],
 * whose value is ignored. */
int gf_graph_add_input (GfGraph *graph, const char *name,
                        size_t ndim, const size_t *dims, GfError *error);

/* A parameter (kind PARAM or STATE) of fixed shape.  @init (float32, as
 * files hold it) is copied; NULL means zeros.  Trainable defaults to false. */
int gf_graph_add_param (GfGraph *graph, const char *name, GfTensorKind kind,
                        size_t ndim, const size_t *dims, const float *init,
                        GfError *error);

/* Adds a node whose single output is a new tensor named @output_name;
 * returns that tensor's id.  Its inputs must have been added before it, so
 * nodes are added in an execution order (an importer sorts its file's
 * nodes first) and the graph can hold no cycle. */
int gf_graph_add_node (GfGraph *graph, const char *node_name,
                       const GfNodeDesc *desc, const char *output_name,
                       GfError *error);

/* Outputs are kept to the end of the pass and readable after it.  The
 * first one marked is the one backward starts from. */
GfStatus gf_graph_mark_output (GfGraph *graph, int tensor, GfError *error);

/* Replaces the outputs (e.g. to end a backbone at its cut: nodes that no
 * longer lead to an output stop running at the next plan). */
GfStatus gf_graph_set_outputs (GfGraph *graph, const int *tensors, size_t n,
                               GfError *error);

/* Orders, infers shapes, validates, packs parameters.  Once only. */
GfStatus gf_graph_compile (GfGraph *graph, GfError *error);

GfStatus gf_graph_plan (GfGraph *graph, size_t max_batch, GfGraphMode mode,
                        GfError *error);

/* A TRAIN pass (training plan only) normalises trainable BatchNorms with
 * batch statistics, applies dropout and keeps what backward needs; an
 * INFER pass, allowed under either plan, does none of that. */
GfStatus gf_graph_forward  (GfGraph *graph, size_t batch, GfGraphMode mode,
                            GfError *error);
/* @doutput has the shape of the first output at @batch.  Parameter
 * gradients are ACCUMULATED into the gradient buffer (zero it with
 * gf_graph_zero_grad once per step); activation gradients are rebuilt. */
GfStatus gf_graph_backward (GfGraph *graph, size_t batch,
                            const gf_real *doutput, GfError *error);
void     gf_graph_zero_grad (GfGraph *graph);

/* Lookup and introspection. */
int          gf_graph_find_tensor  (const GfGraph *graph, const char *name);
size_t       gf_graph_n_tensors    (const GfGraph *graph);
const char  *gf_graph_tensor_name  (const GfGraph *graph, int tensor);
GfTensorKind gf_graph_tensor_kind  (const GfGraph *graph, int tensor);
/* Shape; for activations and inputs dims[0] is the planned batch. */
size_t       gf_graph_tensor_shape (const GfGraph *graph, int tensor,
                                    size_t *dims);
/* Elements per example (activations, inputs) or in all (parameters). */
size_t       gf_graph_tensor_count (const GfGraph *graph, int tensor);
/* The tensor's storage: after compile for parameters, after plan for
 * inputs and activations (valid until the next plan; an activation that
 * is not an output may be overwritten later in the same pass). */
gf_real     *gf_graph_tensor_data  (GfGraph *graph, int tensor);
/* dLoss/dtensor after backward: parameters always, activations only when
 * they need one.  NULL when the tensor has none. */
gf_real     *gf_graph_tensor_grad  (GfGraph *graph, int tensor);

size_t       gf_graph_n_nodes      (const GfGraph *graph);
/* Nodes in execution order (after compile). */
const char  *gf_graph_node_name    (const GfGraph *graph, size_t index);
GfOpKind     gf_graph_node_kind    (const GfGraph *graph, size_t index);
size_t       gf_graph_node_inputs  (const GfGraph *graph, size_t index,
                                    const int **inputs);
int          gf_graph_node_output  (const GfGraph *graph, size_t index);
/* The node's description with its attributes, the shape fields of Conv
 * and pooling filled in (after compile). */
const GfNodeDesc *gf_graph_node_desc (const GfGraph *graph, size_t index);
const char  *gf_op_kind_to_string  (GfOpKind kind);

/* Freezing.  Only PARAM tensors can be trainable. */
GfStatus gf_graph_set_trainable (GfGraph *graph, int tensor, bool trainable,
                                 GfError *error);
bool     gf_graph_is_trainable  (const GfGraph *graph, int tensor);
/* Whether backward also computes dLoss/dinput (for tests and saliency). */
void     gf_graph_set_input_grad (GfGraph *graph, bool enabled);
/* Keep every BatchNorm in inference mode even where it is trainable. */
void     gf_graph_set_batchnorm_frozen (GfGraph *graph, bool frozen);
void     gf_graph_set_seed (GfGraph *graph, uint64_t seed);

/* Called between nodes of every pass, and between a convolution's
 * sub-batches (then possibly on the engine's worker threads, at once: the
 * hook must be thread-safe): a long pass can be paused (the hook blocks)
 * or stopped (it returns true, and the pass returns GF_ERR_INTERRUPTED)
 * without waiting for the pass, or a node over a large batch, to end. */
typedef bool (*GfGraphInterrupt) (void *user_data);
void     gf_graph_set_interrupt (GfGraph *graph, GfGraphInterrupt hook,
                                 void *user_data);

/* The flat parameter and gradient buffers and a parameter's range in them,
 * for optimizers and checkpoints.  Offsets are aligned for SIMD. */
gf_real *gf_graph_params      (GfGraph *graph, size_t *count);
gf_real *gf_graph_grads       (GfGraph *graph, size_t *count);
void     gf_graph_param_range (const GfGraph *graph, int tensor,
                               size_t *offset, size_t *count);

/* Bytes the arena took at the last plan: what a pass keeps in memory. */
size_t   gf_graph_arena_bytes (const GfGraph *graph);

/* ---- Sub-graphs (gf-graph-extract.c) ------------------------------------- */

/* A new, uncompiled graph holding the part of compiled @src that computes
 * @to from @from: @from becomes its input, @to its output, every weight
 * it reads is copied with its name, kind, values and trainable flag, and
 * tensors keep their names.  Fails, naming the node, when that part reads
 * any activation other than @from (then @from is not a cut point). */
GfGraph *gf_graph_extract (const GfGraph *src, int from, int to,
                           int *new_from, int *new_to, GfError *error);

/* Copies the values of every PARAM and STATE tensor of @dst from the
 * tensor of @src with the same name and size (both compiled); returns how
 * many were copied. */
size_t gf_graph_copy_params (GfGraph *dst, const GfGraph *src);
