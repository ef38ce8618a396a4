/* test-graph.c: the executor — gradients through a network that uses every
 * op, fan-out and shared inputs; Pad, Transpose, Reshape and Softmax
 * against their kernels and through a chain that keeps only what their
 * backward reads; the plan keeping nothing for a frozen prefix; a Conv
 * fused with its activation; a 1×1 expansion run with the depthwise
 * convolution after it; partial batches; dead branches; and refusals
 * with messages. */
#include <string.h>

#include "gf-engine.h"
#include "gf-graph.h"
#include "ops/gf-conv-pointwise.h"
#include "ops/gf-pad.h"
#include "ops/gf-softmax.h"
#include "ops/gf-transpose.h"
#include "gf-test-util.h"

#define BATCH 3
#define SIDE 9

typedef struct
{
  GfGraph *graph;
  GfRng rng;
  int input, output;
  int params[32];
  size_t n_params;
} Net;

static int
add_param (Net *net, const char *name, size_t ndim, const size_t *dims,
           double lo, double hi)
{
  size_t count = 1;
  g_autofree float *init = NULL;
  int id;

  for (size_t i = 0; i < ndim; i++)
    count *= dims[i];
  init = g_new (float, count);
  for (size_t i = 0; i < count; i++)
    init[i] = (float) (lo + (hi - lo) * gf_rng_uniform (&net->rng));
  id = gf_graph_add_param (net->graph, name, GF_TENSOR_PARAM, ndim, dims,
                           init, NULL);
  g_assert_cmpint (id, >=, 0);
  net->params[net->n_params++] = id;
  return id;
}

static int
add_state (Net *net, const char *name, size_t channels, float value)
{
  g_autofree float *init = g_new (float, channels);
  int id;

  for (size_t i = 0; i < channels; i++)
    init[i] = value + 0.1f * (float) i;
  id = gf_graph_add_param (net->graph, name, GF_TENSOR_STATE, 1, &channels,
                           init, NULL);
  g_assert_cmpint (id, >=, 0);
  return id;
}

static int
add_node (Net *net, const char *name, GfNodeDesc desc, size_t n,
          const int *inputs)
{
  return gf_test_add_node (net->graph, name, desc, n, inputs);
}

static GfNodeDesc
conv_desc (size_t k, size_t stride, size_t pad, size_t groups)
{
  GfNodeDesc d = { .kind = GF_OP_CONV };

  d.attr.conv = (GfConv2d) {
    .stride_h = stride, .stride_w = stride, .dilation_h = 1, .dilation_w = 1,
    .pad_top = pad, .pad_left = pad, .pad_bottom = pad, .pad_right = pad,
    .groups = groups };
  (void) k;
  return d;
}

static GfNodeDesc
act_desc (GfActivationKind kind)
{
  GfNodeDesc d = { .kind = GF_OP_ACTIVATION };

  d.attr.activation = (GfActivation) { kind, 1.0 / 6.0, 0.5 };
  return d;
}

static GfNodeDesc
transpose_desc (size_t p1, size_t p2, size_t p3)
{
  GfNodeDesc d = { .kind = GF_OP_TRANSPOSE };

  d.attr.transpose.perm[1] = p1;
  d.attr.transpose.perm[2] = p2;
  d.attr.transpose.perm[3] = p3;
  return d;
}

/* Reshape to (N, d1, d2, d3); 0 leaves an axis out. */
static GfNodeDesc
reshape_desc (size_t d1, size_t d2, size_t d3)
{
  GfNodeDesc d = { .kind = GF_OP_RESHAPE };

  d.attr.reshape.ndim = d3 ? 4 : d2 ? 3 : 2;
  d.attr.reshape.dims[1] = d1;
  d.attr.reshape.dims[2] = d2;
  d.attr.reshape.dims[3] = d3;
  return d;
}

/* input (N,3,9,9) → Pad (1,2,1,0) with 0.3 → (N,3,11,11)
 * → conv 3×3 unpadded → BN → ReLU = a
 * a → conv 1×1 → HardSwish = b;  c = a + b (fan-out of a)
 * c → Transpose 0231 → Reshape (N,3,27,4) → Transpose 0321 → Reshape
 *   (N,4,9,9) (a real shuffle of the pixels) → MaxPool 3/2 ceil = p;
 * c → AvgPool 3/2 ceil = q (fan-out of c through a Transpose)
 * cat(p, q) · s (1,C,1,1) = m;  m + m = d (one tensor taken twice)
 * d → depthwise conv → Sigmoid → GAP → Flatten → Dropout → Gemm → Softmax */
static void
build_net_cut (Net *net, const char *cut)
{
  size_t w1[] = { 4, 3, 3, 3 }, w2[] = { 4, 4, 1, 1 }, c4[] = { 4 };
  size_t s[] = { 1, 8, 1, 1 }, wd[] = { 8, 1, 3, 3 }, c8[] = { 8 };
  size_t wg[] = { 5, 8 }, in_dims[] = { 1, 3, SIDE, SIDE };
  int x, a, b, c, p, q, m, d, e, t;
  GfNodeDesc desc;

  memset (net, 0, sizeof *net);
  net->graph = gf_graph_new ();
  gf_rng_seed (&net->rng, 1234);
  x = net->input = gf_graph_add_input (net->graph, "image", 4, in_dims, NULL);

  desc = (GfNodeDesc) { .kind = GF_OP_PAD };
  desc.attr.pad.top = desc.attr.pad.bottom = 1;
  desc.attr.pad.left = 2;
  desc.attr.pad.value = 0.3;
  a = add_node (net, "pad", desc, 1, &x);
  a = add_node (net, "conv1", conv_desc (3, 1, 0, 1), 3, (int[]) {
                  a, add_param (net, "w1", 4, w1, -0.4, 0.4),
                  add_param (net, "b1", 1, c4, -0.1, 0.1) });
  desc = (GfNodeDesc) { .kind = GF_OP_BATCHNORM };
  desc.attr.batchnorm.epsilon = 1e-5;
  desc.attr.batchnorm.momentum = 0.9;
  a = add_node (net, "bn1", desc, 5, (int[]) {
                  a, add_param (net, "gamma", 1, c4, 0.5, 1.5),
                  add_param (net, "beta", 1, c4, -0.2, 0.2),
                  add_state (net, "mean", 4, 0.1f),
                  add_state (net, "var", 4, 0.9f) });
  a = add_node (net, "relu1", act_desc (GF_ACT_RELU), 1, &a);
  b = add_node (net, "conv2", conv_desc (1, 1, 0, 1), 2, (int[]) {
                  a, add_param (net, "w2", 4, w2, -0.5, 0.5) });
  b = add_node (net, "hswish", act_desc (GF_ACT_HARD_SWISH), 1, &b);
  c = add_node (net, "add1", (GfNodeDesc) { .kind = GF_OP_ADD }, 2,
                (int[]) { a, b });

  desc = (GfNodeDesc) { .kind = GF_OP_MAXPOOL };
  desc.attr.pool = (GfPool2d) { .kernel_h = 3, .kernel_w = 3, .stride_h = 2,
                                .stride_w = 2, .dilation_h = 1,
                                .dilation_w = 1, .pad_top = 1, .pad_left = 1,
                                .ceil_mode = true };
  t = add_node (net, "to-nhwc", transpose_desc (2, 3, 1), 1, &c);
  t = add_node (net, "fold", reshape_desc (3, 27, 4), 1, &t);
  t = add_node (net, "shuffle", transpose_desc (3, 2, 1), 1, &t);
  t = add_node (net, "unfold", reshape_desc (4, SIDE, SIDE), 1, &t);
  p = add_node (net, "maxpool", desc, 1, &t);
  desc.kind = GF_OP_AVGPOOL;
  desc.attr.pool.count_include_pad = false;
  q = add_node (net, "avgpool", desc, 1, &c);
  m = add_node (net, "cat", (GfNodeDesc) { .kind = GF_OP_CONCAT }, 2,
                (int[]) { p, q });
  m = add_node (net, "scale", (GfNodeDesc) { .kind = GF_OP_MUL }, 2,
                (int[]) { m, add_param (net, "s", 4, s, 0.5, 1.5) });
  d = add_node (net, "double", (GfNodeDesc) { .kind = GF_OP_ADD }, 2,
                (int[]) { m, m });
  e = add_node (net, "dwconv", conv_desc (3, 1, 1, 8), 3, (int[]) {
                  d, add_param (net, "wd", 4, wd, -0.5, 0.5),
                  add_param (net, "bd", 1, c8, -0.1, 0.1) });
  e = add_node (net, "sigmoid", act_desc (GF_ACT_SIGMOID), 1, &e);
  e = add_node (net, "gap", (GfNodeDesc) { .kind = GF_OP_GLOBAL_AVGPOOL }, 1,
                &e);
  e = add_node (net, "flatten", (GfNodeDesc) { .kind = GF_OP_FLATTEN }, 1,
                &e);
  desc = (GfNodeDesc) { .kind = GF_OP_DROPOUT };
  desc.attr.dropout.ratio = 0.25;
  e = add_node (net, "dropout", desc, 1, &e);
  desc = (GfNodeDesc) { .kind = GF_OP_GEMM };
  desc.attr.gemm = (typeof (desc.attr.gemm)) { false, true, 1.0, 1.0 };
  e = add_node (net, "fc", desc, 3, (int[]) {
                  e, add_param (net, "wg", 2, wg, -1.0, 1.0),
                  add_param (net, "bg", 1, (size_t[]) { 5 }, -0.1, 0.1) });
  net->output = add_node (net, "softmax",
                          (GfNodeDesc) { .kind = GF_OP_SOFTMAX }, 1, &e);
  if (cut != NULL)
    gf_graph_mark_output (net->graph, gf_graph_find_tensor (net->graph, cut),
                          NULL);
  g_assert_cmpint (gf_graph_compile (net->graph, NULL), ==, GF_OK);
}

static void
build_net (Net *net)
{
  build_net_cut (net, NULL);
}

/* In float32 a step small enough to cross few ReLU and max-pool kinks
 * inside a whole network leaves ~1e-3 of rounding noise in each difference
 * quotient; float64 (the strict check) uses the defaults. */
#ifdef GF_REAL_DOUBLE
#define NET_TOLERANCE NULL
#else
static const GfTolerance net_tolerance = { .eps = 1e-3, .rtol = 5e-2,
                                           .atol = 3e-3 };
#define NET_TOLERANCE (&net_tolerance)
#endif

typedef struct
{
  Net *net;
  const gf_real *r;   /* projection of the output, (BATCH, 5) */
} LossData;

/* The same dropout mask for every evaluation: reseed before the pass. */
static double
net_loss (void *user_data)
{
  LossData *data = user_data;
  GfGraph *graph = data->net->graph;

  gf_graph_set_seed (graph, 99);
  g_assert_cmpint (gf_graph_forward (graph, BATCH, GF_GRAPH_TRAIN, NULL), ==,
                   GF_OK);
  return gf_test_dot (gf_graph_tensor_data (graph, data->net->output),
                      data->r, BATCH * 5);
}

static void
fill_input (Net *net, size_t batch)
{
  gf_test_fill_uniform (&net->rng, gf_graph_tensor_data (net->graph,
                                                         net->input),
                        batch * 3 * SIDE * SIDE, -1.0, 1.0);
}

static void
test_graph_gradcheck (void)
{
  Net net;
  gf_real r[BATCH * 5];
  LossData data = { &net, r };
  GfGraph *graph;

  build_net (&net);
  graph = net.graph;
  for (size_t i = 0; i < net.n_params; i++)
    gf_graph_set_trainable (graph, net.params[i], true, NULL);
  gf_graph_set_input_grad (graph, true);
  g_assert_cmpint (gf_graph_plan (graph, BATCH, GF_GRAPH_TRAIN, NULL), ==,
                   GF_OK);
  fill_input (&net, BATCH);
  gf_test_fill_uniform (&net.rng, r, BATCH * 5, -1.0, 1.0);

  net_loss (&data);
  gf_graph_zero_grad (graph);
  g_assert_cmpint (gf_graph_backward (graph, BATCH, r, NULL), ==, GF_OK);

  {
    size_t n = BATCH * 3 * SIDE * SIDE;
    g_autofree gf_real *dx = gf_test_new (n);
    memcpy (dx, gf_graph_tensor_grad (graph, net.input), n * sizeof *dx);
    gf_test_gradcheck ("d image", gf_graph_tensor_data (graph, net.input), n,
                       dx, net_loss, &data, NET_TOLERANCE);
  }
  for (size_t i = 0; i < net.n_params; i++)
    {
      int id = net.params[i];
      size_t n = gf_graph_tensor_count (graph, id);
      g_autofree gf_real *dw = gf_test_new (n);
      g_autofree char *what = g_strdup_printf ("d %s",
                                               gf_graph_tensor_name (graph,
                                                                     id));
      memcpy (dw, gf_graph_tensor_grad (graph, id), n * sizeof *dw);
      gf_test_gradcheck (what, gf_graph_tensor_data (graph, id), n, dw,
                         net_loss, &data, NET_TOLERANCE);
    }
  gf_graph_free (graph);
}

/* Only the head trains: the backbone keeps no activations, gets no
 * gradients, and its buffers are reused as the pass goes. */
static void
test_graph_frozen_prefix (void)
{
  Net net;
  gf_real r[BATCH * 5];
  size_t infer_bytes, head_bytes, all_bytes;
  GfGraph *graph;
  size_t count;
  gf_real *grads;

  build_net (&net);
  graph = net.graph;
  g_assert_cmpint (gf_graph_plan (graph, BATCH, GF_GRAPH_INFER, NULL), ==,
                   GF_OK);
  infer_bytes = gf_graph_arena_bytes (graph);
  gf_graph_set_trainable (graph, gf_graph_find_tensor (graph, "wg"), true,
                          NULL);
  gf_graph_set_trainable (graph, gf_graph_find_tensor (graph, "bg"), true,
                          NULL);
  g_assert_cmpint (gf_graph_plan (graph, BATCH, GF_GRAPH_TRAIN, NULL), ==,
                   GF_OK);
  head_bytes = gf_graph_arena_bytes (graph);
  /* The head adds its own input, its mask and a few gradients: less than
   * one conv1 activation (BATCH × 4 × 9 × 9 values). */
  g_assert_cmpuint (head_bytes, <, infer_bytes
                    + BATCH * 4 * SIDE * SIDE * sizeof (gf_real));
  g_assert_null (gf_graph_tensor_grad (graph,
                                       gf_graph_find_tensor (graph, "relu1")));

  fill_input (&net, BATCH);
  gf_test_fill_uniform (&net.rng, r, BATCH * 5, -1.0, 1.0);
  gf_graph_zero_grad (graph);
  g_assert_cmpint (gf_graph_forward (graph, BATCH, GF_GRAPH_TRAIN, NULL), ==,
                   GF_OK);
  g_assert_cmpint (gf_graph_backward (graph, BATCH, r, NULL), ==, GF_OK);
  grads = gf_graph_grads (graph, &count);
  for (size_t i = 0; i < net.n_params; i++)
    {
      int id = net.params[i];
      bool head = gf_graph_is_trainable (graph, id);
      gf_real *g = gf_graph_tensor_grad (graph, id);
      double norm = gf_test_dot (g, g, gf_graph_tensor_count (graph, id));
      g_assert_true (head ? norm > 0.0 : norm == 0.0);
    }
  (void) grads;

  for (size_t i = 0; i < net.n_params; i++)
    gf_graph_set_trainable (graph, net.params[i], true, NULL);
  g_assert_cmpint (gf_graph_plan (graph, BATCH, GF_GRAPH_TRAIN, NULL), ==,
                   GF_OK);
  all_bytes = gf_graph_arena_bytes (graph);
  g_assert_cmpuint (all_bytes, >, head_bytes);
  gf_graph_free (graph);
}

/* input → (conv 3×3 → @act) × 3 → GAP, every weight trainable; with
 * @residual each activation follows conv + its input (a residual Add)
 * instead.  With @keep_convs the tensors under the activations are graph
 * outputs too, which keeps them apart from their activations (no
 * fusion).  @convs (the convs' or Adds' outputs) and @acts receive the
 * tensors when not NULL. */
static void
build_act_chain (Net *net, GfActivationKind act, bool residual,
                 bool keep_convs, int *convs, int *acts)
{
  size_t in_dims[] = { 1, 8, 16, 16 }, w[] = { 8, 8, 3, 3 };
  int t, in, outputs[4];

  memset (net, 0, sizeof *net);
  net->graph = gf_graph_new ();
  gf_rng_seed (&net->rng, 99);
  t = net->input = gf_graph_add_input (net->graph, "x", 4, in_dims, NULL);
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *conv = g_strdup_printf ("conv%d", i);
      g_autofree char *weight = g_strdup_printf ("w%d", i);
      g_autofree char *name = g_strdup_printf ("act%d", i);
      g_autofree char *sum = g_strdup_printf ("add%d", i);

      in = t;
      t = outputs[1 + i] = add_node (net, conv, conv_desc (3, 1, 1, 1), 2,
                                     (int[]) { t, add_param (net, weight, 4, w,
                                                             -0.3, 0.3) });
      if (residual)
        t = outputs[1 + i] = add_node (net, sum, (GfNodeDesc) {
                                         .kind = GF_OP_ADD }, 2,
                                       (int[]) { t, in });
      if (convs != NULL)
        convs[i] = t;
      t = add_node (net, name, act_desc (act), 1, &t);
      if (acts != NULL)
        acts[i] = t;
    }
  net->output = outputs[0] = add_node (net, "gap", (GfNodeDesc) {
                                         .kind = GF_OP_GLOBAL_AVGPOOL }, 1, &t);
  if (keep_convs)
    g_assert_cmpint (gf_graph_set_outputs (net->graph, outputs, 4, NULL), ==,
                     GF_OK);
  g_assert_cmpint (gf_graph_compile (net->graph, NULL), ==, GF_OK);
  for (size_t i = 0; i < net->n_params; i++)
    gf_graph_set_trainable (net->graph, net->params[i], true, NULL);
}

/* Arena bytes of build_act_chain's training plan. */
static size_t
chain_train_bytes (GfActivationKind act)
{
  Net net;
  size_t bytes;

  build_act_chain (&net, act, false, false, NULL, NULL);
  g_assert_cmpint (gf_graph_plan (net.graph, BATCH, GF_GRAPH_TRAIN, NULL),
                   ==, GF_OK);
  bytes = gf_graph_arena_bytes (net.graph);
  gf_graph_free (net.graph);
  return bytes;
}

/* One pass of build_act_chain at @mode on a fixed input: the output, and
 * after a backward from a fixed gradient the weight gradients, into
 * @out (BATCH·8 + 3·8·8·9 values); returns how many of the three
 * convolutions share their buffer with their activation (fused). */
static size_t
chain_pass (GfActivationKind act, bool residual, bool keep_convs,
            GfGraphMode mode, gf_real *out)
{
  const size_t n_in = BATCH * 8 * 16 * 16, n_w = 8 * 8 * 9;
  g_autofree gf_real *dy = gf_test_new (BATCH * 8);
  int convs[3], acts[3];
  size_t fused = 0;
  Net net;

  build_act_chain (&net, act, residual, keep_convs, convs, acts);
  g_assert_cmpint (gf_graph_plan (net.graph, BATCH, mode, NULL), ==, GF_OK);
  gf_test_fill_uniform (&net.rng, gf_graph_tensor_data (net.graph, net.input),
                        n_in, -1.0, 1.0);
  gf_test_fill_uniform (&net.rng, dy, BATCH * 8, -1.0, 1.0);
  g_assert_cmpint (gf_graph_forward (net.graph, BATCH, mode, NULL), ==, GF_OK);
  memcpy (out, gf_graph_tensor_data (net.graph, net.output),
          BATCH * 8 * sizeof *out);
  if (mode == GF_GRAPH_TRAIN)
    {
      gf_graph_zero_grad (net.graph);
      g_assert_cmpint (gf_graph_backward (net.graph, BATCH, dy, NULL), ==,
                       GF_OK);
      for (size_t i = 0; i < 3; i++)
        memcpy (out + BATCH * 8 + i * n_w,
                gf_graph_tensor_grad (net.graph, net.params[i]),
                n_w * sizeof *out);
    }
  for (size_t i = 0; i < 3; i++)
    fused += gf_graph_tensor_data (net.graph, convs[i])
             == gf_graph_tensor_data (net.graph, acts[i]);
  gf_graph_free (net.graph);
  return fused;
}

/* A Conv or a residual Add and the activation that alone reads its
 * output run as one kernel (the activation applied as the output is
 * written) and share a buffer, with the same outputs and gradients, bit
 * for bit, as when kept apart.  Training fuses only activations that
 * differentiate through their output (Relu, Sigmoid): a Clip's or
 * LeakyRelu's input must stay. */
static void
test_graph_activation_fused (void)
{
  static const struct
  {
    GfActivationKind act;
    bool train_fuses;
  } cases[] = {
    { GF_ACT_RELU, true },
    { GF_ACT_SIGMOID, true },
    { GF_ACT_CLIP, false },
    { GF_ACT_LEAKY_RELU, false },
  };
  const size_t n = BATCH * 8 + 3 * 8 * 8 * 9;
  g_autofree gf_real *fused = gf_test_new (n);
  g_autofree gf_real *apart = gf_test_new (n);

  for (size_t i = 0; i < 2 * G_N_ELEMENTS (cases); i++)
    {
      GfActivationKind act = cases[i / 2].act;
      bool residual = i % 2;

      g_test_message ("%s, activation %d", residual ? "Add" : "Conv", act);
      g_assert_cmpuint (chain_pass (act, residual, false, GF_GRAPH_INFER,
                                    fused), ==, 3);
      g_assert_cmpuint (chain_pass (act, residual, true, GF_GRAPH_INFER,
                                    apart), ==, 0);
      g_assert_cmpmem (fused, BATCH * 8 * sizeof *fused,
                       apart, BATCH * 8 * sizeof *apart);
      g_assert_cmpuint (chain_pass (act, residual, false, GF_GRAPH_TRAIN,
                                    fused), ==,
                        cases[i / 2].train_fuses ? 3 : 0);
      g_assert_cmpuint (chain_pass (act, residual, true, GF_GRAPH_TRAIN,
                                    apart), ==, 0);
      g_assert_cmpmem (fused, n * sizeof *fused, apart, n * sizeof *apart);
    }
}

#define SUB_BATCH 40   /* four sub-batches of convolution of 10 */
#define SUB_OUT (SUB_BATCH * 8)
#define SUB_W (3 * 8 * 8 * 9)

/* build_act_chain's training pass at SUB_BATCH, planned at @plan_threads
 * and run at @run_threads: the output, the weight gradients and the
 * input gradient into @out (SUB_OUT + SUB_W + SUB_BATCH·8·16·16). */
static void
sub_batch_pass (int plan_threads, int run_threads, gf_real *out)
{
  const size_t n_in = SUB_BATCH * 8 * 16 * 16, n_w = 8 * 8 * 9;
  g_autofree gf_real *dy = gf_test_new (SUB_OUT);
  Net net;

  build_act_chain (&net, GF_ACT_RELU, false, false, NULL, NULL);
  gf_graph_set_input_grad (net.graph, true);
  gf_engine_set_threads (plan_threads);
  g_assert_cmpint (gf_graph_plan (net.graph, SUB_BATCH, GF_GRAPH_TRAIN, NULL),
                   ==, GF_OK);
  gf_engine_set_threads (run_threads);
  gf_test_fill_uniform (&net.rng, gf_graph_tensor_data (net.graph, net.input),
                        n_in, -1.0, 1.0);
  gf_test_fill_uniform (&net.rng, dy, SUB_OUT, -1.0, 1.0);
  gf_graph_zero_grad (net.graph);
  g_assert_cmpint (gf_graph_forward (net.graph, SUB_BATCH, GF_GRAPH_TRAIN,
                                     NULL), ==, GF_OK);
  g_assert_cmpint (gf_graph_backward (net.graph, SUB_BATCH, dy, NULL), ==,
                   GF_OK);
  memcpy (out, gf_graph_tensor_data (net.graph, net.output),
          SUB_OUT * sizeof *out);
  for (size_t i = 0; i < 3; i++)
    memcpy (out + SUB_OUT + i * n_w,
            gf_graph_tensor_grad (net.graph, net.params[i]),
            n_w * sizeof *out);
  memcpy (out + SUB_OUT + SUB_W,
          gf_graph_tensor_grad (net.graph, net.input), n_in * sizeof *out);
  gf_graph_free (net.graph);
  gf_engine_set_threads (0);
}

/* Convolutions run large batches in sub-batches, on one thread each
 * when there are threads enough: the outputs, weight gradients (summed
 * per sub-batch) and input gradients are bit-identical whatever the
 * thread count at plan and at run time, and agree with the same
 * network run image by image. */
static void
test_graph_sub_batches (void)
{
  const size_t n = SUB_OUT + SUB_W + SUB_BATCH * 8 * 16 * 16;
  g_autofree gf_real *one = gf_test_new (n);
  g_autofree gf_real *other = gf_test_new (n);
  const size_t image = 8 * 16 * 16;
  g_autofree gf_real *input = gf_test_new (SUB_BATCH * image);
  g_autofree gf_real *dy = gf_test_new (SUB_OUT);
  const int threads[][2] = { { 2, 2 }, { 3, 3 }, { 1, 2 }, { 2, 1 } };
  Net net;

  sub_batch_pass (1, 1, one);
  for (size_t i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      sub_batch_pass (threads[i][0], threads[i][1], other);
      g_test_message ("plan at %d threads, run at %d", threads[i][0],
                      threads[i][1]);
      g_assert_cmpmem (other, n * sizeof *other, one, n * sizeof *one);
    }

  /* Image by image, in batches of one that accumulate the weight
   * gradients: the same values to rounding. */
  build_act_chain (&net, GF_ACT_RELU, false, false, NULL, NULL);
  gf_graph_set_input_grad (net.graph, true);
  g_assert_cmpint (gf_graph_plan (net.graph, 1, GF_GRAPH_TRAIN, NULL), ==,
                   GF_OK);
  gf_test_fill_uniform (&net.rng, input, image * SUB_BATCH, -1.0, 1.0);
  gf_test_fill_uniform (&net.rng, dy, SUB_OUT, -1.0, 1.0);
  gf_graph_zero_grad (net.graph);
  for (size_t i = 0; i < SUB_BATCH; i++)
    {
      memcpy (gf_graph_tensor_data (net.graph, net.input), input + i * image,
              image * sizeof *input);
      g_assert_cmpint (gf_graph_forward (net.graph, 1, GF_GRAPH_TRAIN, NULL),
                       ==, GF_OK);
      g_assert_cmpint (gf_graph_backward (net.graph, 1, dy + i * 8, NULL), ==,
                       GF_OK);
      memcpy (other + i * 8, gf_graph_tensor_data (net.graph, net.output),
              8 * sizeof *other);
      memcpy (other + SUB_OUT + SUB_W + i * image,
              gf_graph_tensor_grad (net.graph, net.input),
              image * sizeof *other);
    }
  for (size_t i = 0; i < 3; i++)
    memcpy (other + SUB_OUT + i * (SUB_W / 3),
            gf_graph_tensor_grad (net.graph, net.params[i]),
            SUB_W / 3 * sizeof *other);
  gf_test_assert_close ("image by image", one, other, n, 1e-4, 1e-5);
  gf_graph_free (net.graph);
}

/* Relu differentiates through its output, so the convolution output
 * under it is not kept for backward (PyTorch's in-place ReLU keeps none
 * either): training plans at least two activations fewer than with
 * LeakyRelu, which needs its input. */
static void
test_graph_relu_frees_input (void)
{
  size_t activation = BATCH * 8 * 16 * 16 * sizeof (gf_real);
  size_t relu = chain_train_bytes (GF_ACT_RELU);
  size_t leaky = chain_train_bytes (GF_ACT_LEAKY_RELU);

  g_test_message ("arena: Relu %zu, LeakyRelu %zu bytes", relu, leaky);
  g_assert_cmpuint (relu + 2 * activation, <=, leaky);
}

/* Every plan computes the same function; a smaller batch than planned
 * gives the same rows. */
static void
test_graph_plans_agree (void)
{
  Net net;
  size_t n_in = BATCH * 3 * SIDE * SIDE;
  g_autofree gf_real *input = gf_test_new (n_in);
  gf_real infer[BATCH * 5], train[BATCH * 5], partial[BATCH * 5];
  GfGraph *graph;

  build_net (&net);
  graph = net.graph;
  gf_test_fill_uniform (&net.rng, input, n_in, -1.0, 1.0);

  g_assert_cmpint (gf_graph_plan (graph, BATCH, GF_GRAPH_INFER, NULL), ==,
                   GF_OK);
  memcpy (gf_graph_tensor_data (graph, net.input), input, n_in * sizeof *input);
  gf_graph_forward (graph, BATCH, GF_GRAPH_INFER, NULL);
  memcpy (infer, gf_graph_tensor_data (graph, net.output), sizeof infer);

  for (size_t i = 0; i < net.n_params; i++)
    gf_graph_set_trainable (graph, net.params[i], true, NULL);
  g_assert_cmpint (gf_graph_plan (graph, BATCH + 2, GF_GRAPH_TRAIN, NULL), ==,
                   GF_OK);
  memcpy (gf_graph_tensor_data (graph, net.input), input, n_in * sizeof *input);
  gf_graph_forward (graph, BATCH, GF_GRAPH_INFER, NULL);
  memcpy (train, gf_graph_tensor_data (graph, net.output), sizeof train);
  gf_test_assert_close ("train plan, infer pass", train, infer, BATCH * 5,
                        1e-6, 1e-7);

  gf_graph_forward (graph, BATCH - 1, GF_GRAPH_INFER, NULL);
  memcpy (partial, gf_graph_tensor_data (graph, net.output),
          (BATCH - 1) * 5 * sizeof *partial);
  gf_test_assert_close ("partial batch", partial, infer, (BATCH - 1) * 5,
                        1e-6, 1e-7);
  gf_graph_free (graph);
}

/* With an inner tensor as the only output, the nodes after it never run
 * and get no buffers. */
static void
test_graph_dead_branch (void)
{
  Net full, cut;
  const char *beyond[] = { "to-nhwc", "unfold", "maxpool", "cat", "dwconv",
                           "gap", "fc", "softmax" };

  build_net (&full);
  build_net_cut (&cut, "add1");
  g_assert_cmpint (gf_graph_plan (full.graph, BATCH, GF_GRAPH_INFER, NULL),
                   ==, GF_OK);
  g_assert_cmpint (gf_graph_plan (cut.graph, BATCH, GF_GRAPH_INFER, NULL),
                   ==, GF_OK);
  for (size_t i = 0; i < G_N_ELEMENTS (beyond); i++)
    {
      g_assert_nonnull (gf_graph_tensor_data (full.graph,
                                              gf_graph_find_tensor (full.graph,
                                                                    beyond[i])));
      g_assert_null (gf_graph_tensor_data (cut.graph,
                                           gf_graph_find_tensor (cut.graph,
                                                                 beyond[i])));
    }
  g_assert_nonnull (gf_graph_tensor_data (cut.graph,
                                          gf_graph_find_tensor (cut.graph,
                                                                "add1")));
  fill_input (&cut, BATCH);
  g_assert_cmpint (gf_graph_forward (cut.graph, BATCH, GF_GRAPH_INFER, NULL),
                   ==, GF_OK);
  gf_graph_free (full.graph);
  gf_graph_free (cut.graph);
}

/* ---- Pad, Transpose, Reshape and Softmax on their own ------------------- */

#define CHAIN_BATCH 2
#define CHAIN_IN (2 * 3 * 4)      /* per example: (2, 3, 4) */
#define CHAIN_PADDED (2 * 4 * 6)  /* after Pad (1, 0, 0, 2) */

typedef struct
{
  GfGraph *graph;
  int input, pad, nhwc, flat, softmax, output;
} Chain;

/* x (N,2,3,4) → Pad top 1, right 2, value −0.5 → (N,2,4,6)
 * → Transpose 0231 → (N,4,6,2) → Reshape (N,48) → Softmax
 * → Reshape (N,6,8) → Transpose 021 → (N,8,6).
 * Nothing after the Softmax reads its output, so only the plan's
 * knowledge that Softmax's backward does keeps it alive. */
static void
build_chain (Chain *c)
{
  size_t in_dims[] = { 1, 2, 3, 4 };
  GfNodeDesc desc = { .kind = GF_OP_PAD };
  Net net = { 0 };
  int t;

  net.graph = c->graph = gf_graph_new ();
  c->input = gf_graph_add_input (c->graph, "x", 4, in_dims, NULL);
  desc.attr.pad.top = 1;
  desc.attr.pad.right = 2;
  desc.attr.pad.value = -0.5;
  c->pad = add_node (&net, "pad", desc, 1, &c->input);
  c->nhwc = add_node (&net, "to-nhwc", transpose_desc (2, 3, 1), 1, &c->pad);
  c->flat = add_node (&net, "flat", reshape_desc (CHAIN_PADDED, 0, 0), 1,
                      &c->nhwc);
  c->softmax = add_node (&net, "softmax",
                         (GfNodeDesc) { .kind = GF_OP_SOFTMAX }, 1, &c->flat);
  t = add_node (&net, "rows", reshape_desc (6, 8, 0), 1, &c->softmax);
  desc = (GfNodeDesc) { .kind = GF_OP_TRANSPOSE };
  desc.attr.transpose.perm[1] = 2;
  desc.attr.transpose.perm[2] = 1;
  c->output = add_node (&net, "swap", desc, 1, &t);
  g_assert_cmpint (gf_graph_compile (c->graph, NULL), ==, GF_OK);
}

/* The graph's output against the kernels run by hand. */
static void
test_graph_layout_forward (void)
{
  Chain c;
  gf_real x[CHAIN_BATCH * CHAIN_IN], padded[CHAIN_BATCH * CHAIN_PADDED];
  gf_real nhwc[CHAIN_BATCH * CHAIN_PADDED], want[CHAIN_BATCH * CHAIN_PADDED];
  GfPad2d pad = { .batch = CHAIN_BATCH, .channels = 2, .in_h = 3, .in_w = 4,
                  .top = 1, .right = 2, .value = -0.5 };
  GfTranspose to_nhwc = { 4, { CHAIN_BATCH, 2, 4, 6 }, { 0, 2, 3, 1 } };
  GfTranspose swap = { 3, { CHAIN_BATCH, 6, 8 }, { 0, 2, 1 } };
  size_t dims[GF_MAX_DIMS];
  GfRng rng;

  build_chain (&c);
  g_assert_cmpint (gf_graph_plan (c.graph, CHAIN_BATCH + 1, GF_GRAPH_INFER,
                                  NULL), ==, GF_OK);
  g_assert_cmpuint (gf_graph_tensor_shape (c.graph, c.output, dims), ==, 3);
  g_assert_cmpuint (dims[1], ==, 8);
  g_assert_cmpuint (dims[2], ==, 6);
  gf_rng_seed (&rng, 71);
  gf_test_fill_uniform (&rng, x, G_N_ELEMENTS (x), -3, 3);
  memcpy (gf_graph_tensor_data (c.graph, c.input), x, sizeof x);
  g_assert_cmpint (gf_graph_forward (c.graph, CHAIN_BATCH, GF_GRAPH_INFER,
                                     NULL), ==, GF_OK);

  g_assert_cmpint (gf_pad2d_init (&pad, NULL), ==, GF_OK);
  gf_pad2d_forward (&pad, x, padded);
  gf_transpose_forward (&to_nhwc, padded, nhwc);
  gf_softmax_forward (CHAIN_BATCH, CHAIN_PADDED, nhwc, nhwc);
  gf_transpose_forward (&swap, nhwc, want);
  gf_test_assert_close ("chain output", gf_graph_tensor_data (c.graph,
                                                              c.output),
                        want, G_N_ELEMENTS (want), 0, 0);
  /* The input survives the pass although no backward reads it. */
  gf_test_assert_close ("input kept", gf_graph_tensor_data (c.graph,
                                                            c.input),
                        x, G_N_ELEMENTS (x), 0, 0);
  gf_graph_free (c.graph);
}

typedef struct
{
  Chain *chain;
  const gf_real *r;
} ChainLoss;

static double
chain_loss (void *user_data)
{
  ChainLoss *l = user_data;
  GfGraph *graph = l->chain->graph;

  g_assert_cmpint (gf_graph_forward (graph, CHAIN_BATCH, GF_GRAPH_TRAIN,
                                     NULL), ==, GF_OK);
  return gf_test_dot (gf_graph_tensor_data (graph, l->chain->output), l->r,
                      CHAIN_BATCH * CHAIN_PADDED);
}

/* dLoss/dx through the chain, the Softmax's output kept only for it. */
static void
test_graph_layout_gradcheck (void)
{
  Chain c;
  gf_real r[CHAIN_BATCH * CHAIN_PADDED], dx[CHAIN_BATCH * CHAIN_IN];
  ChainLoss loss = { &c, r };
  GfRng rng;

  build_chain (&c);
  gf_graph_set_input_grad (c.graph, true);
  g_assert_cmpint (gf_graph_plan (c.graph, CHAIN_BATCH, GF_GRAPH_TRAIN,
                                  NULL), ==, GF_OK);
  gf_rng_seed (&rng, 73);
  gf_test_fill_uniform (&rng, gf_graph_tensor_data (c.graph, c.input),
                        CHAIN_BATCH * CHAIN_IN, -2, 2);
  gf_test_fill_uniform (&rng, r, G_N_ELEMENTS (r), -1, 1);
  chain_loss (&loss);
  g_assert_cmpint (gf_graph_backward (c.graph, CHAIN_BATCH, r, NULL), ==,
                   GF_OK);
  memcpy (dx, gf_graph_tensor_grad (c.graph, c.input), sizeof dx);
  gf_test_gradcheck ("d x", gf_graph_tensor_data (c.graph, c.input),
                     G_N_ELEMENTS (dx), dx, chain_loss, &loss, NULL);
  gf_graph_free (c.graph);
}

static void
test_graph_node_desc (void)
{
  Chain c;
  const GfNodeDesc *desc;

  build_chain (&c);
  g_assert_null (gf_graph_node_desc (c.graph, gf_graph_n_nodes (c.graph)));
  g_assert_null (gf_graph_node_desc (c.graph, (size_t) -1));
  desc = gf_graph_node_desc (c.graph, 0);
  g_assert_nonnull (desc);
  g_assert_cmpint (desc->kind, ==, GF_OP_PAD);
  g_assert_cmpuint (desc->attr.pad.right, ==, 2);
  g_assert_cmpfloat (desc->attr.pad.value, ==, -0.5);
  desc = gf_graph_node_desc (c.graph, 1);
  g_assert_cmpint (desc->kind, ==, GF_OP_TRANSPOSE);
  g_assert_cmpuint (desc->attr.transpose.perm[3], ==, 1);
  g_assert_cmpint (desc->inputs[0], ==, c.pad);
  g_assert_cmpstr (gf_op_kind_to_string (GF_OP_PAD), ==, "Pad");
  g_assert_cmpstr (gf_op_kind_to_string (GF_OP_SOFTMAX), ==, "Softmax");
  g_assert_cmpstr (gf_op_kind_to_string (GF_OP_TRANSPOSE), ==, "Transpose");
  g_assert_cmpstr (gf_op_kind_to_string (GF_OP_RESHAPE), ==, "Reshape");
  gf_graph_free (c.graph);
}

/* Replacing the outputs after compiling cuts the graph the same way. */
static void
test_graph_set_outputs (void)
{
  Net net;
  int add1;
  GfError error = { 0 };

  build_net (&net);
  add1 = gf_graph_find_tensor (net.graph, "add1");
  g_assert_cmpint (gf_graph_set_outputs (net.graph, &add1, 1, NULL), ==,
                   GF_OK);
  g_assert_cmpint (gf_graph_plan (net.graph, BATCH, GF_GRAPH_INFER, NULL),
                   ==, GF_OK);
  g_assert_null (gf_graph_tensor_data (net.graph, net.output));
  g_assert_nonnull (gf_graph_tensor_data (net.graph, add1));
  g_assert_cmpint (gf_graph_set_outputs (net.graph, &net.input, 1, &error),
                   !=, GF_OK);
  g_assert_nonnull (strstr (error.message, "output"));
  g_assert_cmpint (gf_graph_set_outputs (net.graph, NULL, 0, NULL), !=,
                   GF_OK);
  gf_graph_free (net.graph);
}

/* The part after "add1", cut out and fed add1's values, computes what
 * the whole network does; a start that is not a cut point is refused. */
static void
test_graph_extract (void)
{
  Net net;
  GfGraph *part;
  GfError error = { 0 };
  int from, to, add1;
  size_t count;
  gf_real expected[BATCH * 5];

  build_net (&net);
  add1 = gf_graph_find_tensor (net.graph, "add1");
  gf_graph_set_trainable (net.graph, gf_graph_find_tensor (net.graph, "wg"),
                          true, NULL);
  gf_graph_set_outputs (net.graph, (int[]) { net.output, add1 }, 2, NULL);
  gf_graph_plan (net.graph, BATCH, GF_GRAPH_INFER, NULL);
  fill_input (&net, BATCH);
  gf_graph_forward (net.graph, BATCH, GF_GRAPH_INFER, NULL);
  memcpy (expected, gf_graph_tensor_data (net.graph, net.output),
          sizeof expected);

  part = gf_graph_extract (net.graph, add1, net.output, &from, &to, &error);
  g_assert_nonnull (part);
  g_assert_cmpint (gf_graph_compile (part, NULL), ==, GF_OK);
  g_assert_true (gf_graph_is_trainable (part,
                                        gf_graph_find_tensor (part, "wg")));
  g_assert_cmpint (gf_graph_find_tensor (part, "w1"), <, 0);
  gf_graph_plan (part, BATCH, GF_GRAPH_INFER, NULL);
  count = gf_graph_tensor_count (part, from) * BATCH;
  memcpy (gf_graph_tensor_data (part, from),
          gf_graph_tensor_data (net.graph, add1), count * sizeof (gf_real));
  gf_graph_forward (part, BATCH, GF_GRAPH_INFER, NULL);
  gf_test_assert_close ("extracted part", gf_graph_tensor_data (part, to),
                        expected, BATCH * 5, 1e-6, 1e-7);

  /* Weights move back by name. */
  gf_graph_tensor_data (part, gf_graph_find_tensor (part, "bg"))[0] = 42;
  g_assert_cmpuint (gf_graph_copy_params (net.graph, part), >=, 4);
  g_assert_cmpfloat (gf_graph_tensor_data (net.graph,
                                           gf_graph_find_tensor (net.graph,
                                                                 "bg"))[0],
                     ==, 42);
  gf_graph_free (part);

  g_assert_null (gf_graph_extract (net.graph,
                                   gf_graph_find_tensor (net.graph, "conv2"),
                                   net.output, &from, &to, &error));
  g_assert_nonnull (strstr (error.message, "cut point"));
  gf_graph_free (net.graph);
}

/* ---- Expansion chains ---------------------------------------------------- */

#define XC_BATCH 40      /* four sub-batches of 10 */
#define XC_IN 8
#define XC_MID 24
#define XC_SIDE 20       /* planes of 400: the 1×1 kernel's (past 14×14) */

typedef struct
{
  Net net;
  int expanded;          /* the Clip after the 1×1 expansion */
  int expand_out;        /* the expansion's own output */
  int w_last;
} XChain;

/* input (N, 8, 20, 20) → 1×1 → 1×1 to 24 channels + bias → Clip =
 * expanded → depthwise 3×3 at @stride + bias → Clip → 1×1 to 8 → GAP: MobileNetV2's
 * inverted residual block, the expanded tensor kept as an output when
 * @keep (no chain can then be planned).  With @frozen, only the last
 * convolution trains. */
static void
build_xchain (XChain *c, size_t stride, bool keep, bool frozen)
{
  size_t in_dims[] = { 1, XC_IN, XC_SIDE, XC_SIDE };
  size_t we[] = { XC_MID, XC_IN, 1, 1 }, wd[] = { XC_MID, 1, 3, 3 };
  size_t wl[] = { XC_IN, XC_MID, 1, 1 }, b[] = { XC_MID };
  size_t ws[] = { XC_IN, XC_IN, 1, 1 };
  GfNodeDesc clip = act_desc (GF_ACT_CLIP);
  Net *net = &c->net;
  int t, outputs[2];

  memset (c, 0, sizeof *c);
  net->graph = gf_graph_new ();
  gf_rng_seed (&net->rng, 7);
  clip.attr.activation.alpha = 0;
  t = net->input = gf_graph_add_input (net->graph, "x", 4, in_dims, NULL);
  /* A stem, so that the expansion's input is a buffer of the plan that
   * the chain must keep until the depthwise node has run. */
  t = add_node (net, "stem", conv_desc (1, 1, 0, 1), 2,
                (int[]) { t, add_param (net, "ws", 4, ws, -0.5, 0.5) });
  t = c->expand_out = add_node (net, "expand", conv_desc (1, 1, 0, 1), 3,
                                (int[]) { t, add_param (net, "we", 4, we,
                                                        -0.5, 0.5),
                                          add_param (net, "be", 1, b,
                                                     -0.2, 0.2) });
  t = c->expanded = add_node (net, "clip0", clip, 1, &t);
  t = add_node (net, "depthwise", conv_desc (3, stride, 1, XC_MID), 3,
                (int[]) { t, add_param (net, "wd", 4, wd, -0.5, 0.5),
                          add_param (net, "bd", 1, b, -0.2, 0.2) });
  t = add_node (net, "clip1", clip, 1, &t);
  c->w_last = add_param (net, "wl", 4, wl, -0.5, 0.5);
  t = add_node (net, "project", conv_desc (1, 1, 0, 1), 2,
                (int[]) { t, c->w_last });
  net->output = outputs[0] = add_node (net, "gap", (GfNodeDesc) {
                                         .kind = GF_OP_GLOBAL_AVGPOOL }, 1, &t);
  outputs[1] = c->expanded;
  g_assert_cmpint (gf_graph_set_outputs (net->graph, outputs, keep ? 2 : 1,
                                         NULL), ==, GF_OK);
  g_assert_cmpint (gf_graph_compile (net->graph, NULL), ==, GF_OK);
  for (size_t i = 0; i < net->n_params; i++)
    gf_graph_set_trainable (net->graph, net->params[i],
                            !frozen || net->params[i] == c->w_last, NULL);
}

/* One pass at XC_BATCH, planned at @plan_threads and run at
 * @run_threads: the output and, training, the last weights' gradient
 * into @out (XC_BATCH·8 + 8·24 values).  Returns whether the plan made
 * a chain (the expanded tensor has no buffer); *arena, its bytes. */
static bool
xchain_pass (size_t stride, bool keep, GfGraphMode mode, int plan_threads,
             int run_threads, gf_real *out, size_t *arena)
{
  const size_t n_in = XC_BATCH * XC_IN * XC_SIDE * XC_SIDE;
  g_autofree gf_real *dy = gf_test_new (XC_BATCH * XC_IN);
  XChain c;
  bool chained;

  build_xchain (&c, stride, keep, mode == GF_GRAPH_TRAIN);
  gf_engine_set_threads (plan_threads);
  g_assert_cmpint (gf_graph_plan (c.net.graph, XC_BATCH, mode, NULL), ==,
                   GF_OK);
  gf_engine_set_threads (run_threads);
  *arena = gf_graph_arena_bytes (c.net.graph);
  chained = gf_graph_tensor_data (c.net.graph, c.expanded) == NULL;
  g_assert_cmpint (chained, ==,
                   gf_graph_tensor_data (c.net.graph, c.expand_out) == NULL);
  gf_test_fill_uniform (&c.net.rng,
                        gf_graph_tensor_data (c.net.graph, c.net.input),
                        n_in, -1.0, 1.0);
  gf_test_fill_uniform (&c.net.rng, dy, XC_BATCH * XC_IN, -1.0, 1.0);
  g_assert_cmpint (gf_graph_forward (c.net.graph, XC_BATCH, mode, NULL), ==,
                   GF_OK);
  memcpy (out, gf_graph_tensor_data (c.net.graph, c.net.output),
          XC_BATCH * XC_IN * sizeof *out);
  if (mode == GF_GRAPH_TRAIN)
    {
      gf_graph_zero_grad (c.net.graph);
      g_assert_cmpint (gf_graph_backward (c.net.graph, XC_BATCH, dy, NULL),
                       ==, GF_OK);
      memcpy (out + XC_BATCH * XC_IN,
              gf_graph_tensor_grad (c.net.graph, c.w_last),
              XC_IN * XC_MID * sizeof *out);
    }
  gf_graph_free (c.net.graph);
  gf_engine_set_threads (0);
  return chained;
}

/* A frozen 1×1 expansion whose output only a depthwise convolution reads
 * runs with it as an expansion chain (gf_conv2d_chain_forward) where the
 * 1×1 kernel exists: the expanded tensor gets no buffer (the plan is
 * smaller), and the output and the trainable last
 * layer's gradient are, bit for bit, those of the same network with the
 * expanded tensor kept as an output (no chain), at strides 1 and 2, for
 * inference and for training a frozen prefix, in sub-batches at one
 * thread or several, planned for fewer threads than run it or more. */
static void
test_graph_expansion_chain (void)
{
  const int threads[][2] = { { 1, 1 }, { 2, 2 }, { 1, 2 }, { 2, 1 } };
  const size_t n = XC_BATCH * XC_IN + XC_IN * XC_MID;
  g_autofree gf_real *want = gf_test_new (n);
  g_autofree gf_real *got = gf_test_new (n);
  GfConv2d probe = { .kernel_h = 1, .kernel_w = 1, .stride_h = 1,
                     .stride_w = 1, .groups = 1 };
  bool present = gf_conv_pointwise_applies (&probe);

  for (size_t stride = 1; stride <= 2; stride++)
    for (int m = 0; m < 2; m++)
      {
        GfGraphMode mode = m ? GF_GRAPH_TRAIN : GF_GRAPH_INFER;
        size_t kept, arena, compared = m ? n : XC_BATCH * XC_IN;

        g_test_message ("stride %zu, %s", stride, m ? "training" : "inference");
        g_assert_false (xchain_pass (stride, true, mode, 1, 1, want, &kept));
        for (size_t i = 0; i < G_N_ELEMENTS (threads); i++)
          {
            memset (got, 0, n * sizeof *got);
            g_assert_cmpint (xchain_pass (stride, false, mode, threads[i][0],
                                          threads[i][1], got, &arena), ==,
                             present);
            g_assert_cmpmem (got, compared * sizeof *got,
                             want, compared * sizeof *want);
            if (present)
              g_assert_cmpuint (arena, <, kept);
          }
      }

  /* Trained whole, the expansion runs backward: no chain. */
  {
    XChain c;

    build_xchain (&c, 1, false, false);
    g_assert_cmpint (gf_graph_plan (c.net.graph, XC_BATCH, GF_GRAPH_TRAIN,
                                    NULL), ==, GF_OK);
    g_assert_nonnull (gf_graph_tensor_data (c.net.graph, c.expanded));
    gf_graph_free (c.net.graph);
  }
}

static bool
stop_after_three (void *user_data)
{
  int *calls = user_data;

  return ++*calls > 3;
}

/* Says stop on its fourth call alone: a pass must end at the first.  In
 * build_act_chain's passes at SUB_BATCH that call comes inside the first
 * convolution met, forward or backward (before it, at most the call
 * before its node and one before a Relu's). */
static bool
stop_on_fourth (void *user_data)
{
  int *calls = user_data;

  return ++*calls == 4;
}

static bool
count_calls (void *user_data)
{
  ++*(int *) user_data;
  return false;
}

/* Hook calls during a training pass of build_act_chain at @batch (of a
 * plan for SUB_BATCH): forward in @forward, backward in @backward. */
static void
count_pass_calls (size_t batch, int *forward, int *backward)
{
  g_autofree gf_real *dy = gf_test_new (SUB_OUT);
  Net net;

  build_act_chain (&net, GF_ACT_RELU, false, false, NULL, NULL);
  gf_graph_set_input_grad (net.graph, true);
  g_assert_cmpint (gf_graph_plan (net.graph, SUB_BATCH, GF_GRAPH_TRAIN, NULL),
                   ==, GF_OK);
  gf_graph_set_interrupt (net.graph, count_calls, forward);
  g_assert_cmpint (gf_graph_forward (net.graph, batch, GF_GRAPH_TRAIN, NULL),
                   ==, GF_OK);
  gf_graph_set_interrupt (net.graph, count_calls, backward);
  g_assert_cmpint (gf_graph_backward (net.graph, batch, dy, NULL), ==,
                   GF_OK);
  gf_graph_free (net.graph);
}

/* The hook is asked before each of a convolution's sub-batches as well
 * as between nodes, so that a pause or stop need not wait for a whole
 * batch of one layer: build_act_chain's three convolutions at SUB_BATCH
 * (four sub-batches each) ask it 3 × 4 times more, each way, than at one
 * picture (one sub-batch, run as a plain convolution).  Stopped there, on one thread or several, the pass ends
 * interrupted, backward refuses to follow it, and the next pass gives
 * what an uninterrupted one does. */
static void
test_graph_interrupt_sub_batches (void)
{
  const int threads[] = { 1, 2 };
  int forward_one = 0, backward_one = 0, forward_all = 0, backward_all = 0;

  gf_engine_set_threads (1);
  count_pass_calls (1, &forward_one, &backward_one);
  count_pass_calls (SUB_BATCH, &forward_all, &backward_all);
  g_test_message ("hook calls, forward %d and %d, backward %d and %d",
                  forward_one, forward_all, backward_one, backward_all);
  g_assert_cmpint (forward_all - forward_one, ==, 3 * 4);
  g_assert_cmpint (backward_all - backward_one, ==, 3 * 4);

  for (size_t t = 0; t < G_N_ELEMENTS (threads); t++)
    {
      g_autofree gf_real *want = gf_test_new (SUB_OUT);
      gf_real r[SUB_OUT] = { 0 };
      GfError error = { 0 };
      int calls = 0;
      Net net;

      gf_engine_set_threads (threads[t]);
      build_act_chain (&net, GF_ACT_RELU, false, false, NULL, NULL);
      g_assert_cmpint (gf_graph_plan (net.graph, SUB_BATCH, GF_GRAPH_TRAIN,
                                      NULL), ==, GF_OK);
      gf_test_fill_uniform (&net.rng,
                            gf_graph_tensor_data (net.graph, net.input),
                            SUB_BATCH * 8 * 16 * 16, -1.0, 1.0);
      g_assert_cmpint (gf_graph_forward (net.graph, SUB_BATCH,
                                         GF_GRAPH_TRAIN, NULL), ==, GF_OK);
      memcpy (want, gf_graph_tensor_data (net.graph, net.output),
              SUB_OUT * sizeof *want);
      gf_graph_set_interrupt (net.graph, stop_on_fourth, &calls);
      g_assert_cmpint (gf_graph_forward (net.graph, SUB_BATCH,
                                         GF_GRAPH_TRAIN, &error), ==,
                       GF_ERR_INTERRUPTED);
      g_assert_cmpint (gf_graph_backward (net.graph, SUB_BATCH, r, &error),
                       !=, GF_OK);
      gf_graph_set_interrupt (net.graph, NULL, NULL);
      g_assert_cmpint (gf_graph_forward (net.graph, SUB_BATCH,
                                         GF_GRAPH_TRAIN, NULL), ==, GF_OK);
      calls = 0;
      gf_graph_set_interrupt (net.graph, stop_on_fourth, &calls);
      g_assert_cmpint (gf_graph_backward (net.graph, SUB_BATCH, r, &error),
                       ==, GF_ERR_INTERRUPTED);
      gf_graph_set_interrupt (net.graph, NULL, NULL);
      g_assert_cmpint (gf_graph_forward (net.graph, SUB_BATCH,
                                         GF_GRAPH_TRAIN, NULL), ==, GF_OK);
      g_assert_cmpmem (gf_graph_tensor_data (net.graph, net.output),
                       SUB_OUT * sizeof *want, want, SUB_OUT * sizeof *want);
      gf_graph_free (net.graph);
    }
  gf_engine_set_threads (0);
}

/* A pass stops between nodes when the hook says so, and backward refuses
 * to follow a pass that did not finish. */
static void
test_graph_interrupt (void)
{
  Net net;
  GfError error = { 0 };
  gf_real r[BATCH * 5] = { 0 };
  int calls = 0;

  build_net (&net);
  gf_graph_set_trainable (net.graph, gf_graph_find_tensor (net.graph, "wg"),
                          true, NULL);
  gf_graph_plan (net.graph, BATCH, GF_GRAPH_TRAIN, NULL);
  gf_graph_set_interrupt (net.graph, stop_after_three, &calls);
  g_assert_cmpint (gf_graph_forward (net.graph, BATCH, GF_GRAPH_TRAIN,
                                     &error), ==, GF_ERR_INTERRUPTED);
  g_assert_cmpint (calls, ==, 4);
  g_assert_cmpint (gf_graph_backward (net.graph, BATCH, r, &error), !=,
                   GF_OK);
  gf_graph_set_interrupt (net.graph, NULL, NULL);
  g_assert_cmpint (gf_graph_forward (net.graph, BATCH, GF_GRAPH_TRAIN, NULL),
                   ==, GF_OK);
  gf_graph_free (net.graph);
}

static void
expect_error (GfGraph *graph, GfStatus status, const GfError *error,
              const char *fragment)
{
  g_assert_cmpint (status, !=, GF_OK);
  if (strstr (error->message, fragment) == NULL)
    g_test_fail_printf ("message '%s' lacks '%s'", error->message, fragment);
  (void) graph;
}

static void
test_graph_refusals (void)
{
  GfGraph *graph = gf_graph_new ();
  size_t in_dims[] = { 1, 3, 8, 8 }, w_dims[] = { 4, 2, 3, 3 };
  GfError error = { 0 };
  GfNodeDesc desc = conv_desc (3, 1, 1, 1);
  int x, w, y;

  x = gf_graph_add_input (graph, "x", 4, in_dims, &error);
  g_assert_cmpint (gf_graph_add_input (graph, "x", 4, in_dims, &error), ==,
                   -1);
  g_assert_nonnull (strstr (error.message, "twice"));
  w = gf_graph_add_param (graph, "w", GF_TENSOR_PARAM, 4, w_dims, NULL,
                          &error);
  desc.n_inputs = 2;
  desc.inputs[0] = x;
  desc.inputs[1] = 77;
  g_assert_cmpint (gf_graph_add_node (graph, "c", &desc, "y", &error), ==, -1);
  g_assert_nonnull (strstr (error.message, "not a known tensor"));
  desc.inputs[1] = w;
  y = gf_graph_add_node (graph, "conv-bad", &desc, "y", &error);
  g_assert_cmpint (y, >=, 0);
  expect_error (graph, gf_graph_compile (graph, &error), &error, "conv-bad");
  gf_graph_free (graph);

  /* Passes out of order. */
  {
    Net net;
    build_net (&net);
    expect_error (net.graph, gf_graph_forward (net.graph, 1, GF_GRAPH_INFER,
                                               &error), &error, "plan");
    gf_graph_plan (net.graph, 2, GF_GRAPH_INFER, NULL);
    expect_error (net.graph, gf_graph_forward (net.graph, 3, GF_GRAPH_INFER,
                                               &error), &error, "batch");
    expect_error (net.graph, gf_graph_forward (net.graph, 2, GF_GRAPH_TRAIN,
                                               &error), &error, "training");
    gf_graph_free (net.graph);
  }
}

/* One node of @desc over an input of @ndim @dims must fail to compile
 * with @status and a message naming the node and holding @fragment. */
static void
expect_node_refusal (GfNodeDesc desc, size_t ndim, const size_t *dims,
                     GfStatus status, const char *fragment)
{
  GfGraph *graph = gf_graph_new ();
  GfError error = { 0 };

  desc.n_inputs = 1;
  desc.inputs[0] = gf_graph_add_input (graph, "x", ndim, dims, NULL);
  g_assert_cmpint (gf_graph_add_node (graph, "bad-node", &desc, "y", &error),
                   >=, 0);
  g_assert_cmpint (gf_graph_compile (graph, &error), ==, status);
  expect_error (graph, status, &error, "bad-node");
  expect_error (graph, status, &error, fragment);
  gf_graph_free (graph);
}

static void
test_graph_layout_refusals (void)
{
  const size_t image[] = { 1, 3, 4, 5 }, flat[] = { 1, 6 };
  GfNodeDesc pad = { .kind = GF_OP_PAD };
  GfNodeDesc transpose;
  GfNodeDesc reshape;

  expect_node_refusal (pad, 2, flat, GF_ERR_SHAPE, "4-D");
  pad.attr.pad.left = (size_t) -1;   /* a −1 through size_t */
  expect_node_refusal (pad, 4, image, GF_ERR_INVALID, "non-negative");
  expect_node_refusal ((GfNodeDesc) { .kind = GF_OP_SOFTMAX }, 4, image,
                       GF_ERR_SHAPE, "2-D");

  transpose = transpose_desc (0, 2, 3);   /* 1 0 2 3: the batch moves */
  transpose.attr.transpose.perm[0] = 1;
  expect_node_refusal (transpose, 4, image, GF_ERR_UNSUPPORTED, "batch");
  transpose = transpose_desc (1, 1, 3);
  expect_node_refusal (transpose, 4, image, GF_ERR_INVALID, "permutation");
  transpose = transpose_desc (2, 4, 1);
  expect_node_refusal (transpose, 4, image, GF_ERR_INVALID, "permutation");

  reshape = reshape_desc (7, 0, 0);
  expect_node_refusal (reshape, 2, flat, GF_ERR_SHAPE, "input has 6");
  reshape = reshape_desc (2, 0, 3);   /* an unresolved ONNX 0 */
  expect_node_refusal (reshape, 2, flat, GF_ERR_INVALID, "importer");
  reshape = reshape_desc ((size_t) -1, 0, 0);   /* an unresolved −1 */
  expect_node_refusal (reshape, 2, flat, GF_ERR_INVALID, "importer");
  reshape.attr.reshape.ndim = 0;
  expect_node_refusal (reshape, 2, flat, GF_ERR_INVALID, "axes");
  reshape.attr.reshape.ndim = GF_MAX_DIMS + 1;
  expect_node_refusal (reshape, 2, flat, GF_ERR_INVALID, "axes");
}

/* ---- Huge pages ---------------------------------------------------------- */

/* The "THPeligible" line of /proc/self/smaps for the mapping holding
 * @p: 1 or 0, or -1 when the kernel does not say. */
static int
thp_eligible (const void *p)
{
  g_autofree char *smaps = NULL;
  g_auto (GStrv) lines = NULL;
  gboolean inside = FALSE;

  if (!g_file_get_contents ("/proc/self/smaps", &smaps, NULL, NULL))
    return -1;
  lines = g_strsplit (smaps, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      guint64 begin, end;

      if (sscanf (*l, "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x ",
                  &begin, &end) == 2)
        inside = (guintptr) p >= begin && (guintptr) p < end;
      else if (inside && g_str_has_prefix (*l, "THPeligible:"))
        return atoi (*l + strlen ("THPeligible:"));
    }
  return -1;
}

/* A large engine buffer asks for transparent huge pages (the activations
 * and workspaces are walked with strides of kilobytes: VGG19's forward
 * pass ran 10% faster with them), and is zero. */
static void
test_alloc_huge_pages (void)
{
  g_autofree char *mode = NULL;
  const size_t count = (size_t) 16 << 20;
  GfError error = { 0 };
  unsigned char *p = NULL;
  int eligible;

  g_assert_cmpint (gf_alloc_zeroed (count, 1, (void **) &p, &error), ==,
                   GF_OK);
  for (size_t i = 0; i < count; i += 4096)
    g_assert_cmpuint (p[i], ==, 0);
  eligible = thp_eligible (p + count / 2);
  if (!g_file_get_contents ("/sys/kernel/mm/transparent_hugepage/enabled",
                            &mode, NULL, NULL)
      || strstr (mode, "[never]") != NULL || eligible < 0)
    g_test_skip ("this system gives no transparent huge pages");
  else
    g_assert_cmpint (eligible, ==, 1);
  free (p);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/graph/backward/gradcheck", test_graph_gradcheck);
  g_test_add_func ("/engine/graph/plan/frozen-prefix",
                   test_graph_frozen_prefix);
  g_test_add_func ("/engine/graph/plan/plans-agree", test_graph_plans_agree);
  g_test_add_func ("/engine/graph/plan/relu-frees-input",
                   test_graph_relu_frees_input);
  g_test_add_func ("/engine/graph/plan/dead-branch", test_graph_dead_branch);
  g_test_add_func ("/engine/graph/plan/activation-fused",
                   test_graph_activation_fused);
  g_test_add_func ("/engine/graph/sub-batches", test_graph_sub_batches);
  g_test_add_func ("/engine/graph/plan/expansion-chain",
                   test_graph_expansion_chain);
  g_test_add_func ("/engine/graph/plan/set-outputs", test_graph_set_outputs);
  g_test_add_func ("/engine/graph/extract", test_graph_extract);
  g_test_add_func ("/engine/graph/interrupt", test_graph_interrupt);
  g_test_add_func ("/engine/graph/interrupt/sub-batches",
                   test_graph_interrupt_sub_batches);
  g_test_add_func ("/engine/graph/refusals", test_graph_refusals);
  g_test_add_func ("/engine/graph/forward/layout-ops",
                   test_graph_layout_forward);
  g_test_add_func ("/engine/graph/backward/layout-chain",
                   test_graph_layout_gradcheck);
  g_test_add_func ("/engine/graph/node-desc", test_graph_node_desc);
  g_test_add_func ("/engine/graph/alloc-huge-pages", test_alloc_huge_pages);
  g_test_add_func ("/engine/graph/layout-refusals",
                   test_graph_layout_refusals);
  return g_test_run ();
}
