/* test-blocks.c: bottlenecks and blocks found from structure alone, on
 * small graphs shaped like the families Graft must divide: ResNet,
 * MobileNetV2/V3, SqueezeNet, DenseNet, VGG, and a Keras export. */
#include <string.h>

#include "gf-blocks.h"
#include "gf-test-util.h"

typedef struct
{
  GfGraph *graph;
  int input;
  int counter;
} Builder;

static const char *
fresh (Builder *b, const char *what)
{
  static char name[64];   /* test-only; the graph copies names */

  snprintf (name, sizeof name, "%s%d", what, b->counter++);
  return name;
}

static int
param (Builder *b, size_t ndim, const size_t *dims)
{
  int id = gf_graph_add_param (b->graph, fresh (b, "w"), GF_TENSOR_PARAM,
                               ndim, dims, NULL, NULL);
  g_assert_cmpint (id, >=, 0);
  return id;
}

static int
node (Builder *b, GfNodeDesc desc, size_t n, const int *inputs)
{
  GfError error = { 0 };
  int out;

  desc.n_inputs = n;
  memcpy (desc.inputs, inputs, n * sizeof *inputs);
  out = gf_graph_add_node (b->graph, NULL, &desc, fresh (b, "t"), &error);
  if (out < 0)
    g_error ("%s", error.message);
  return out;
}

static int
conv (Builder *b, int x, size_t cin, size_t cout, size_t k, size_t stride,
      size_t groups)
{
  GfNodeDesc d = { .kind = GF_OP_CONV };
  size_t w[] = { cout, cin / groups, k, k };
  size_t pad = k / 2;

  d.attr.conv = (GfConv2d) { .stride_h = stride, .stride_w = stride,
                             .dilation_h = 1, .dilation_w = 1,
                             .pad_top = pad, .pad_left = pad,
                             .pad_bottom = pad, .pad_right = pad,
                             .groups = groups };
  return node (b, d, 2, (int[]) { x, param (b, 4, w) });
}

static int
bn (Builder *b, int x, size_t c)
{
  GfNodeDesc d = { .kind = GF_OP_BATCHNORM };
  size_t dims[] = { c };
  int stats[2];

  for (int i = 0; i < 2; i++)
    stats[i] = gf_graph_add_param (b->graph, fresh (b, "s"), GF_TENSOR_STATE,
                                   1, dims, NULL, NULL);
  d.attr.batchnorm.epsilon = 1e-5;
  d.attr.batchnorm.momentum = 0.9;
  return node (b, d, 5, (int[]) { x, param (b, 1, dims), param (b, 1, dims),
                                  stats[0], stats[1] });
}

static int
act (Builder *b, int x, GfActivationKind kind)
{
  GfNodeDesc d = { .kind = GF_OP_ACTIVATION };

  d.attr.activation = (GfActivation) { kind, 0.0, 6.0 };
  return node (b, d, 1, &x);
}

static int
simple (Builder *b, GfOpKind kind, size_t n, const int *inputs)
{
  return node (b, (GfNodeDesc) { .kind = kind }, n, inputs);
}

static int
cbr (Builder *b, int x, size_t cin, size_t cout, size_t k, size_t stride,
     size_t groups, GfActivationKind kind)
{
  x = bn (b, conv (b, x, cin, cout, k, stride, groups), cout);
  return kind == GF_ACT_IDENTITY ? x : act (b, x, kind);
}

static int
pool (Builder *b, int x, GfOpKind kind, size_t k, size_t stride)
{
  GfNodeDesc d = { .kind = kind };

  d.attr.pool = (GfPool2d) { .kernel_h = k, .kernel_w = k,
                             .stride_h = stride, .stride_w = stride,
                             .dilation_h = 1, .dilation_w = 1 };
  return node (b, d, 1, &x);
}

/* GAP → Flatten → Gemm: the usual classifier. */
static int
classifier (Builder *b, int x, size_t features)
{
  GfNodeDesc gemm = { .kind = GF_OP_GEMM };
  size_t w[] = { 10, features };

  x = simple (b, GF_OP_GLOBAL_AVGPOOL, 1, &x);
  x = simple (b, GF_OP_FLATTEN, 1, &x);
  gemm.attr.gemm.trans_b = true;
  gemm.attr.gemm.alpha = gemm.attr.gemm.beta = 1.0;
  return node (b, gemm, 2, (int[]) { x, param (b, 2, w) });
}

static void
builder_init (Builder *b, size_t channels, size_t side)
{
  size_t dims[] = { 1, channels, side, side };

  b->graph = gf_graph_new ();
  b->counter = 0;
  b->input = gf_graph_add_input (b->graph, "image", 4, dims, NULL);
}

typedef struct
{
  int bottleneck;
  GfBlock *blocks;
  size_t n_blocks;
} Division;

static Division
divide (Builder *b, int output)
{
  Division d;
  GfError error = { 0 };

  g_assert_cmpint (gf_graph_compile (b->graph, &error), ==, GF_OK);
  if (gf_find_bottleneck (b->graph, b->input, output, &d.bottleneck, &error)
      != GF_OK)
    g_error ("%s", error.message);
  if (gf_find_blocks (b->graph, b->input, d.bottleneck, &d.blocks,
                      &d.n_blocks, &error) != GF_OK)
    g_error ("%s", error.message);
  for (size_t i = 0; i < d.n_blocks; i++)
    g_test_message ("%s (nodes %zu–%zu)", d.blocks[i].name,
                    d.blocks[i].first_node, d.blocks[i].last_node);
  return d;
}

static void
assert_kinds (const Division *d, const GfBlockKind *kinds, size_t n)
{
  g_assert_cmpuint (d->n_blocks, ==, n);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpstr (gf_block_kind_to_string (d->blocks[i].kind), ==,
                     gf_block_kind_to_string (kinds[i]));
  /* Blocks tile the nodes in order and the last one ends at the cut. */
  for (size_t i = 1; i < n; i++)
    g_assert_cmpuint (d->blocks[i].first_node, >, d->blocks[i - 1].last_node);
  g_assert_cmpint (d->blocks[n - 1].output, ==, d->bottleneck);
}

static int
basic_block (Builder *b, int x, size_t cin, size_t cout, size_t stride)
{
  int y = cbr (b, x, cin, cout, 3, stride, 1, GF_ACT_RELU);
  int skip = x;

  y = cbr (b, y, cout, cout, 3, 1, 1, GF_ACT_IDENTITY);
  if (stride != 1 || cin != cout)
    skip = cbr (b, x, cin, cout, 1, stride, 1, GF_ACT_IDENTITY);
  y = simple (b, GF_OP_ADD, 2, (int[]) { y, skip });
  return act (b, y, GF_ACT_RELU);
}

static void
test_resnet (void)
{
  Builder b;
  Division d;
  int x;
  const GfBlockKind kinds[] = { GF_BLOCK_PLAIN, GF_BLOCK_RESIDUAL,
                                GF_BLOCK_RESIDUAL, GF_BLOCK_RESIDUAL };
  size_t dims[4];

  builder_init (&b, 3, 32);
  x = cbr (&b, b.input, 3, 8, 7, 2, 1, GF_ACT_RELU);
  x = pool (&b, x, GF_OP_MAXPOOL, 3, 2);
  x = basic_block (&b, x, 8, 8, 1);
  x = basic_block (&b, x, 8, 16, 2);
  x = basic_block (&b, x, 16, 16, 1);
  d = divide (&b, classifier (&b, x, 16));
  g_assert_cmpint (d.bottleneck, ==, x);
  assert_kinds (&d, kinds, G_N_ELEMENTS (kinds));
  /* The stem: conv, BN, ReLU and the max-pool after them. */
  g_assert_cmpuint (d.blocks[0].n_convs, ==, 1);
  g_assert_cmpuint (d.blocks[0].last_node - d.blocks[0].first_node, ==, 3);
  g_assert_cmpuint (d.blocks[2].n_convs, ==, 3);   /* with downsample */
  g_assert_cmpstr (d.blocks[2].name, ==, "block 3 · residual · 3 conv");
  /* Weights: 3×3 8→16, 3×3 16→16, 1×1 8→16, three BNs of 16 (γ, β). */
  g_assert_cmpuint (d.blocks[2].n_parameters, ==,
                    16 * 8 * 9 + 16 * 16 * 9 + 16 * 8 + 3 * 2 * 16);
  gf_graph_tensor_shape (b.graph, d.bottleneck, dims);
  g_assert_cmpuint (dims[1], ==, 16);
  {
    int params[32];
    g_assert_cmpuint (gf_block_params (b.graph, &d.blocks[2], params, 32), ==,
                      9);
  }
  free (d.blocks);
  gf_graph_free (b.graph);
}

/* MobileNetV2's inverted residuals: expand, depthwise, project; the ones
 * that keep their shape add their input back and are one block. */
static int
inverted_residual (Builder *b, int x, size_t cin, size_t cout, size_t stride)
{
  size_t hidden = cin * 4;
  int y = cbr (b, x, cin, hidden, 1, 1, 1, GF_ACT_CLIP);

  y = cbr (b, y, hidden, hidden, 3, stride, hidden, GF_ACT_CLIP);
  y = cbr (b, y, hidden, cout, 1, 1, 1, GF_ACT_IDENTITY);
  if (stride == 1 && cin == cout)
    y = simple (b, GF_OP_ADD, 2, (int[]) { x, y });
  return y;
}

static void
test_mobilenet_v2 (void)
{
  Builder b;
  Division d;
  int x, head;
  GfNodeDesc drop = { .kind = GF_OP_DROPOUT };
  const GfBlockKind kinds[] = {
    GF_BLOCK_PLAIN,                                     /* stem */
    GF_BLOCK_PLAIN, GF_BLOCK_PLAIN, GF_BLOCK_PLAIN,     /* stride 2 */
    GF_BLOCK_INVERTED_RESIDUAL, GF_BLOCK_INVERTED_RESIDUAL,
    GF_BLOCK_PLAIN,                                     /* last 1×1 */
  };

  builder_init (&b, 3, 32);
  x = cbr (&b, b.input, 3, 8, 3, 2, 1, GF_ACT_CLIP);
  x = inverted_residual (&b, x, 8, 12, 2);
  x = inverted_residual (&b, x, 12, 12, 1);
  x = inverted_residual (&b, x, 12, 12, 1);
  x = cbr (&b, x, 12, 40, 1, 1, 1, GF_ACT_CLIP);
  head = simple (&b, GF_OP_GLOBAL_AVGPOOL, 1, &x);
  head = simple (&b, GF_OP_FLATTEN, 1, &head);
  drop.attr.dropout.ratio = 0.2;
  head = node (&b, drop, 1, &head);
  {
    GfNodeDesc gemm = { .kind = GF_OP_GEMM };
    size_t w[] = { 10, 40 };
    gemm.attr.gemm.trans_b = true;
    gemm.attr.gemm.alpha = gemm.attr.gemm.beta = 1.0;
    head = node (&b, gemm, 2, (int[]) { head, param (&b, 2, w) });
  }
  d = divide (&b, head);
  g_assert_cmpint (d.bottleneck, ==, x);
  assert_kinds (&d, kinds, G_N_ELEMENTS (kinds));
  free (d.blocks);
  gf_graph_free (b.graph);
}

/* Squeeze-and-excitation without a residual: its own block. */
static void
test_squeeze_excitation (void)
{
  Builder b;
  Division d;
  int x, s;
  const GfBlockKind kinds[] = { GF_BLOCK_PLAIN, GF_BLOCK_PLAIN,
                                GF_BLOCK_SQUEEZE_EXCITATION, GF_BLOCK_PLAIN };
  GfNodeDesc hsig = { .kind = GF_OP_ACTIVATION };

  builder_init (&b, 3, 16);
  x = cbr (&b, b.input, 3, 8, 3, 2, 1, GF_ACT_RELU);
  x = cbr (&b, x, 8, 8, 3, 2, 8, GF_ACT_RELU);
  s = simple (&b, GF_OP_GLOBAL_AVGPOOL, 1, &x);
  s = act (&b, conv (&b, s, 8, 4, 1, 1, 1), GF_ACT_RELU);
  hsig.attr.activation = (GfActivation) { GF_ACT_HARD_SIGMOID, 1.0 / 6, 0.5 };
  s = node (&b, hsig, 1, (int[]) { conv (&b, s, 4, 8, 1, 1, 1) });
  x = simple (&b, GF_OP_MUL, 2, (int[]) { x, s });
  x = cbr (&b, x, 8, 16, 1, 1, 1, GF_ACT_IDENTITY);
  d = divide (&b, classifier (&b, x, 16));
  assert_kinds (&d, kinds, G_N_ELEMENTS (kinds));
  free (d.blocks);
  gf_graph_free (b.graph);
}

/* SqueezeNet: Fire modules (squeeze, then two expands concatenated) and a
 * convolutional classifier; the bottleneck is that convolution's input. */
static int
fire (Builder *b, int x, size_t cin, size_t squeeze, size_t expand)
{
  int s = act (b, conv (b, x, cin, squeeze, 1, 1, 1), GF_ACT_RELU);
  int e1 = act (b, conv (b, s, squeeze, expand, 1, 1, 1), GF_ACT_RELU);
  int e3 = act (b, conv (b, s, squeeze, expand, 3, 1, 1), GF_ACT_RELU);

  return simple (b, GF_OP_CONCAT, 2, (int[]) { e1, e3 });
}

static void
test_squeezenet (void)
{
  Builder b;
  Division d;
  int x, y;
  GfNodeDesc drop = { .kind = GF_OP_DROPOUT };
  const GfBlockKind kinds[] = { GF_BLOCK_PLAIN, GF_BLOCK_FIRE,
                                GF_BLOCK_FIRE };

  builder_init (&b, 3, 32);
  x = act (&b, conv (&b, b.input, 3, 8, 3, 2, 1), GF_ACT_RELU);
  x = pool (&b, x, GF_OP_MAXPOOL, 3, 2);
  x = fire (&b, x, 8, 4, 8);
  x = pool (&b, x, GF_OP_MAXPOOL, 3, 2);
  x = fire (&b, x, 16, 4, 8);
  drop.attr.dropout.ratio = 0.5;
  y = node (&b, drop, 1, &x);
  y = act (&b, conv (&b, y, 16, 10, 1, 1, 1), GF_ACT_RELU);
  y = simple (&b, GF_OP_GLOBAL_AVGPOOL, 1, &y);
  y = simple (&b, GF_OP_FLATTEN, 1, &y);
  d = divide (&b, y);
  g_assert_cmpint (d.bottleneck, ==, x);
  assert_kinds (&d, kinds, G_N_ELEMENTS (kinds));
  g_assert_cmpuint (d.blocks[1].n_convs, ==, 3);   /* squeeze + 2 expands */
  free (d.blocks);
  gf_graph_free (b.graph);
}

/* A dense block: every layer reads the concatenation of all before it. */
static void
test_densenet (void)
{
  Builder b;
  Division d;
  int x, l1, cat1, l2, cat2;
  const GfBlockKind kinds[] = { GF_BLOCK_PLAIN, GF_BLOCK_DENSE,
                                GF_BLOCK_PLAIN };

  builder_init (&b, 3, 16);
  x = cbr (&b, b.input, 3, 8, 3, 1, 1, GF_ACT_RELU);
  l1 = conv (&b, act (&b, bn (&b, x, 8), GF_ACT_RELU), 8, 4, 3, 1, 1);
  cat1 = simple (&b, GF_OP_CONCAT, 2, (int[]) { x, l1 });
  l2 = conv (&b, act (&b, bn (&b, cat1, 12), GF_ACT_RELU), 12, 4, 3, 1, 1);
  cat2 = simple (&b, GF_OP_CONCAT, 3, (int[]) { x, l1, l2 });
  x = pool (&b, cbr (&b, cat2, 16, 8, 1, 1, 1, GF_ACT_RELU), GF_OP_AVGPOOL,
            2, 2);
  d = divide (&b, classifier (&b, x, 8));
  assert_kinds (&d, kinds, G_N_ELEMENTS (kinds));
  free (d.blocks);
  gf_graph_free (b.graph);
}

/* VGG: an adaptive average pool (exported as AveragePool) between the
 * last max-pool and the classifier; the cut is the max-pool's output. */
static void
test_vgg (void)
{
  Builder b;
  Division d;
  int x, y;
  GfNodeDesc gemm = { .kind = GF_OP_GEMM };
  size_t w[] = { 10, 16 * 4 * 4 };

  builder_init (&b, 3, 16);
  x = act (&b, conv (&b, b.input, 3, 8, 3, 1, 1), GF_ACT_RELU);
  x = pool (&b, act (&b, conv (&b, x, 8, 16, 3, 1, 1), GF_ACT_RELU),
            GF_OP_MAXPOOL, 2, 2);
  x = pool (&b, x, GF_OP_MAXPOOL, 2, 2);
  y = pool (&b, x, GF_OP_AVGPOOL, 1, 1);
  y = simple (&b, GF_OP_FLATTEN, 1, &y);
  gemm.attr.gemm.trans_b = true;
  gemm.attr.gemm.alpha = gemm.attr.gemm.beta = 1.0;
  y = node (&b, gemm, 2, (int[]) { y, param (&b, 2, w) });
  d = divide (&b, y);
  g_assert_cmpint (d.bottleneck, ==, x);
  g_assert_cmpuint (d.n_blocks, ==, 2);
  g_assert_cmpuint (d.blocks[1].last_node, ==, d.blocks[1].first_node + 3);
  free (d.blocks);
  gf_graph_free (b.graph);
}

/* x·sigmoid(x) (SiLU, as EfficientNet exports it) is a branch without
 * weights: it stays in the block of the conv before it. */
static void
test_weightless_branch (void)
{
  Builder b;
  Division d;
  int x, s;

  builder_init (&b, 3, 16);
  x = cbr (&b, b.input, 3, 8, 3, 2, 1, GF_ACT_IDENTITY);
  s = act (&b, x, GF_ACT_SIGMOID);
  x = simple (&b, GF_OP_MUL, 2, (int[]) { x, s });
  x = cbr (&b, x, 8, 8, 3, 1, 1, GF_ACT_IDENTITY);
  s = act (&b, x, GF_ACT_SIGMOID);
  x = simple (&b, GF_OP_MUL, 2, (int[]) { x, s });
  d = divide (&b, classifier (&b, x, 8));
  g_assert_cmpuint (d.n_blocks, ==, 2);
  g_assert_cmpint (d.blocks[1].output, ==, x);
  free (d.blocks);
  gf_graph_free (b.graph);
}

/* A graph without a classifier: the cut is its 4-D output. */
static void
test_headless (void)
{
  Builder b;
  Division d;
  int x;

  builder_init (&b, 3, 16);
  x = cbr (&b, b.input, 3, 8, 3, 2, 1, GF_ACT_RELU);
  x = basic_block (&b, x, 8, 8, 1);
  d = divide (&b, x);
  g_assert_cmpint (d.bottleneck, ==, x);
  g_assert_cmpuint (d.n_blocks, ==, 2);
  free (d.blocks);
  gf_graph_free (b.graph);
}

static void
test_refusals (void)
{
  Builder b;
  GfError error = { 0 };
  int x, flat, cut;
  GfBlock *blocks;
  size_t n_blocks;

  builder_init (&b, 3, 8);
  x = cbr (&b, b.input, 3, 4, 3, 1, 1, GF_ACT_RELU);
  flat = simple (&b, GF_OP_FLATTEN, 1, &b.input);
  g_assert_cmpint (gf_graph_compile (b.graph, NULL), ==, GF_OK);
  /* Straight from image to a flat vector: no feature map to cut at. */
  g_assert_cmpint (gf_find_bottleneck (b.graph, b.input, flat, &cut, &error),
                   !=, GF_OK);
  g_assert_nonnull (strstr (error.message, "4-D"));
  g_assert_cmpint (gf_find_blocks (b.graph, b.input, 9999, &blocks, &n_blocks,
                                   &error), !=, GF_OK);
  g_assert_cmpint (gf_find_bottleneck (b.graph, b.input, x, &cut, NULL), ==,
                   GF_OK);
  gf_graph_free (b.graph);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/blocks/resnet", test_resnet);
  g_test_add_func ("/engine/blocks/mobilenet-v2", test_mobilenet_v2);
  g_test_add_func ("/engine/blocks/squeeze-excitation",
                   test_squeeze_excitation);
  g_test_add_func ("/engine/blocks/squeezenet", test_squeezenet);
  g_test_add_func ("/engine/blocks/densenet", test_densenet);
  g_test_add_func ("/engine/blocks/vgg", test_vgg);
  g_test_add_func ("/engine/blocks/headless", test_headless);
  g_test_add_func ("/engine/blocks/weightless-branch", test_weightless_branch);
  g_test_add_func ("/engine/blocks/refusals", test_refusals);
  return g_test_run ();
}
