/* test-onnx-export.c: the ONNX exporter.  Two small networks between them
 * use every node kind; their exports must pass onnx.checker (Debian's
 * python3-onnx), compute in ONNX Runtime (the onnxruntime-node package
 * tools/test installs) what Graft computes, hold exactly the nodes between
 * the chosen input and output, carry the metadata, load back into Graft
 * computing the same, and be written atomically. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "gf-graph.h"
#include "gf-onnx.h"
#include "gf-test-util.h"
#include "graft-test-cli.h"
#include "onnx.pb-c.h"

#define BATCH 3
#define SIDE 9
#define A_CLASSES 5
#define B_CLASSES 3
/* "The same outputs": float32 rounding in two different kernels. */
#define RUNTIME_RTOL 1e-4
#define RUNTIME_ATOL 1e-6
#define PYTHON "/usr/bin/python3"
#define EXIT_SKIP 77          /* the checker script: onnx is missing */
#define ORT_EXIT_MISSING 3    /* ort-run.mjs: onnxruntime-node is missing */
/* Small enough that every model here is cut off while being written. */
#define FILE_SIZE_LIMIT 1024
#define NOBODY_ID 65534
#define READ_ONLY_DIR_VARIABLE "GRAFT_TEST_READ_ONLY_DIR"

/* onnx.checker with shape inference (full_check); exit 77 when there is
 * no onnx module to check with. */
static const char checker_script[] =
  "import sys\n"
  "try:\n"
  "    import onnx, onnx.checker\n"
  "except ImportError as e:\n"
  "    print('python3-onnx is missing: %s' % e)\n"
  "    sys.exit(77)\n"
  "onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)\n";

typedef struct
{
  GfGraph *graph;
  GfRng rng;
  int input, output;
} Net;

/* ---- Building the networks --------------------------------------------- */

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
  return id;
}

static int
add_state (Net *net, const char *name, size_t channels, double lo, double hi)
{
  g_autofree float *init = g_new (float, channels);
  int id;

  for (size_t i = 0; i < channels; i++)
    init[i] = (float) (lo + (hi - lo) * gf_rng_uniform (&net->rng));
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
activation (GfActivationKind kind, double alpha, double beta)
{
  GfNodeDesc d = { .kind = GF_OP_ACTIVATION };

  d.attr.activation = (GfActivation) { kind, alpha, beta };
  return d;
}

static GfNodeDesc
op (GfOpKind kind)
{
  return (GfNodeDesc) { .kind = kind };
}

static void
net_start (Net *net, const char *input, size_t ndim, const size_t *dims)
{
  memset (net, 0, sizeof *net);
  net->graph = gf_graph_new ();
  gf_rng_seed (&net->rng, 4321);
  net->input = gf_graph_add_input (net->graph, input, ndim, dims, NULL);
  g_assert_cmpint (net->input, >=, 0);
}

/* Marks the output and @extra (NULL-terminated names), then compiles. */
static void
net_finish (Net *net, const char *const *extra)
{
  g_assert_cmpint (gf_graph_mark_output (net->graph, net->output, NULL), ==,
                   GF_OK);
  for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
    g_assert_cmpint (gf_graph_mark_output (net->graph,
                                           gf_graph_find_tensor (net->graph,
                                                                 extra[i]),
                                           NULL), ==, GF_OK);
  g_assert_cmpint (gf_graph_compile (net->graph, NULL), ==, GF_OK);
}

/* image (N,3,9,9) → conv 3×3 → BN → ReLU = a;  a → conv 1×1 → HardSwish
 * = b;  c = a + b;  MaxPool 2/2 ceil (uneven pads) and AvgPool of c,
 * concatenated, · s (1,8,1,1), doubled (m + m);  depthwise conv → Sigmoid
 * (the bottleneck, (N,8,5,5)) → GAP → Flatten → Dropout → Gemm → Softmax. */
static int
build_net_a_stem (Net *net)
{
  size_t in[] = { 1, 3, SIDE, SIDE }, w1[] = { 4, 3, 3, 3 };
  size_t w2[] = { 4, 4, 1, 1 }, c4[] = { 4 };
  GfNodeDesc d;
  int x, a, b;

  net_start (net, "image", 4, in);
  x = net->input;
  d = op (GF_OP_CONV);
  d.attr.conv = (GfConv2d) { .stride_h = 1, .stride_w = 1, .dilation_h = 1,
                             .dilation_w = 1, .pad_top = 1, .pad_left = 1,
                             .pad_bottom = 1, .pad_right = 1, .groups = 1 };
  a = add_node (net, "conv1", d, 3, (int[]) {
                  x, add_param (net, "w1", 4, w1, -0.4, 0.4),
                  add_param (net, "b1", 1, c4, -0.1, 0.1) });
  d = op (GF_OP_BATCHNORM);
  d.attr.batchnorm.epsilon = 1e-3;
  d.attr.batchnorm.momentum = 0.9;
  a = add_node (net, "bn1", d, 5, (int[]) {
                  a, add_param (net, "gamma", 1, c4, 0.5, 1.5),
                  add_param (net, "beta", 1, c4, -0.2, 0.2),
                  add_state (net, "mean", 4, -0.1, 0.1),
                  add_state (net, "var", 4, 0.5, 1.5) });
  a = add_node (net, "relu1", activation (GF_ACT_RELU, 0, 0), 1, &a);
  d = op (GF_OP_CONV);
  d.attr.conv = (GfConv2d) { .stride_h = 1, .stride_w = 1, .dilation_h = 1,
                             .dilation_w = 1, .groups = 1 };
  b = add_node (net, "conv2", d, 2, (int[]) {
                  a, add_param (net, "w2", 4, w2, -0.9, 0.9) });
  b = add_node (net, "hswish", activation (GF_ACT_HARD_SWISH, 0, 0), 1, &b);
  return add_node (net, "add1", op (GF_OP_ADD), 2, (int[]) { a, b });
}

static void
build_net_a (Net *net, const char *const *extra)
{
  size_t s[] = { 1, 8, 1, 1 }, wd[] = { 8, 1, 3, 3 }, c8[] = { 8 };
  size_t wg[] = { A_CLASSES, 8 }, bg[] = { A_CLASSES };
  GfNodeDesc d;
  int c = build_net_a_stem (net), p, q, m, e;

  /* Under ceil_mode the last row of windows would start in the bottom
   * padding: Graft drops it, as PyTorch does. */
  d = op (GF_OP_MAXPOOL);
  d.attr.pool = (GfPool2d) { .kernel_h = 2, .kernel_w = 2, .stride_h = 2,
                             .stride_w = 2, .dilation_h = 1, .dilation_w = 1,
                             .pad_top = 1, .pad_bottom = 1, .pad_right = 1,
                             .ceil_mode = true };
  p = add_node (net, "maxpool", d, 1, &c);
  d.kind = GF_OP_AVGPOOL;
  q = add_node (net, "avgpool", d, 1, &c);
  m = add_node (net, "cat", op (GF_OP_CONCAT), 2, (int[]) { p, q });
  m = add_node (net, "scale", op (GF_OP_MUL), 2, (int[]) {
                  m, add_param (net, "s", 4, s, 0.5, 1.5) });
  m = add_node (net, "double", op (GF_OP_ADD), 2, (int[]) { m, m });
  d = op (GF_OP_CONV);
  d.attr.conv = (GfConv2d) { .stride_h = 1, .stride_w = 1, .dilation_h = 1,
                             .dilation_w = 1, .pad_top = 1, .pad_left = 1,
                             .pad_bottom = 1, .pad_right = 1, .groups = 8 };
  e = add_node (net, "dwconv", d, 3, (int[]) {
                  m, add_param (net, "wd", 4, wd, -0.5, 0.5),
                  add_param (net, "bd", 1, c8, -0.1, 0.1) });
  e = add_node (net, "sigmoid", activation (GF_ACT_SIGMOID, 0, 0), 1, &e);
  e = add_node (net, "gap", op (GF_OP_GLOBAL_AVGPOOL), 1, &e);
  e = add_node (net, "flatten", op (GF_OP_FLATTEN), 1, &e);
  d = op (GF_OP_DROPOUT);
  d.attr.dropout.ratio = 0.25;
  e = add_node (net, "dropout", d, 1, &e);
  d = op (GF_OP_GEMM);
  d.attr.gemm.trans_b = true;
  d.attr.gemm.alpha = d.attr.gemm.beta = 1.0;
  e = add_node (net, "fc", d, 3, (int[]) {
                  e, add_param (net, "wg", 2, wg, -2.0, 2.0),
                  add_param (net, "bg", 1, bg, -0.1, 0.1) });
  net->output = add_node (net, "probs", op (GF_OP_SOFTMAX), 1, &e);
  net_finish (net, extra);
}

/* The first half of net B: x (N,2,7,8) → Pad (1,2,0,1; 0.5) → grouped conv
 * 3×2, stride (2,1), dilation (1,2), uneven pads → LeakyReLU (N,4,5,10) →
 * MaxPool 2×2 dilated 2, stride 1 (N,4,3,8) → HardSigmoid → AvgPool 2×3
 * stride 2 counting the padding, ceil (N,4,2,5): its last row of windows
 * would start in the padding and is dropped, its last column reaches past
 * the padding. */
static int
build_net_b_features (Net *net)
{
  size_t in[] = { 1, 2, 7, 8 }, wc[] = { 4, 1, 3, 2 }, c4[] = { 4 };
  GfNodeDesc d;
  int x;

  net_start (net, "x", 4, in);
  d = op (GF_OP_PAD);
  d.attr.pad.top = 1;
  d.attr.pad.left = 2;
  d.attr.pad.right = 1;
  d.attr.pad.value = 0.5;
  x = add_node (net, "pad", d, 1, &net->input);
  d = op (GF_OP_CONV);
  d.attr.conv = (GfConv2d) { .stride_h = 2, .stride_w = 1, .dilation_h = 1,
                             .dilation_w = 2, .pad_top = 1, .pad_left = 0,
                             .pad_bottom = 2, .pad_right = 1, .groups = 2 };
  x = add_node (net, "gconv", d, 3, (int[]) {
                  x, add_param (net, "wc", 4, wc, -0.8, 0.8),
                  add_param (net, "bc", 1, c4, -0.2, 0.2) });
  x = add_node (net, "leaky", activation (GF_ACT_LEAKY_RELU, 0.1, 0), 1, &x);
  d = op (GF_OP_MAXPOOL);
  d.attr.pool = (GfPool2d) { .kernel_h = 2, .kernel_w = 2, .stride_h = 1,
                             .stride_w = 1, .dilation_h = 2,
                             .dilation_w = 2 };
  x = add_node (net, "dilated-max", d, 1, &x);
  x = add_node (net, "hsigmoid", activation (GF_ACT_HARD_SIGMOID, 0.3, 0.4),
                1, &x);
  d = op (GF_OP_AVGPOOL);
  d.attr.pool = (GfPool2d) { .kernel_h = 2, .kernel_w = 3, .stride_h = 2,
                             .stride_w = 2, .dilation_h = 1, .dilation_w = 1,
                             .pad_top = 1, .pad_left = 1, .pad_bottom = 1,
                             .pad_right = 1, .ceil_mode = true,
                             .count_include_pad = true };
  return add_node (net, "avg-incl", d, 1, &x);
}

/* The rest of B: Identity activation → Clip → Identity → Transpose to
 * (N,2,5,4) → Reshape (N,40) → Gemm (alpha, beta, (1,6) bias) → g · g →
 * Gemm (transB, no bias) → Softmax. */
static void
build_net_b (Net *net)
{
  size_t w1[] = { 40, 6 }, b1[] = { 1, 6 }, w2[] = { B_CLASSES, 6 };
  GfNodeDesc d;
  int x = build_net_b_features (net);

  x = add_node (net, "same", activation (GF_ACT_IDENTITY, 0, 0), 1, &x);
  x = add_node (net, "clip", activation (GF_ACT_CLIP, 0.42, 0.58), 1, &x);
  x = add_node (net, "identity", op (GF_OP_IDENTITY), 1, &x);
  d = op (GF_OP_TRANSPOSE);
  memcpy (d.attr.transpose.perm, (size_t[]) { 0, 2, 3, 1 },
          4 * sizeof (size_t));
  x = add_node (net, "nhwc", d, 1, &x);
  d = op (GF_OP_RESHAPE);
  d.attr.reshape.ndim = 2;
  d.attr.reshape.dims[1] = 40;
  x = add_node (net, "rows", d, 1, &x);
  d = op (GF_OP_GEMM);
  d.attr.gemm.alpha = 0.7;
  d.attr.gemm.beta = 1.3;
  x = add_node (net, "fc1", d, 3, (int[]) {
                  x, add_param (net, "fw1", 2, w1, -3.0, 3.0),
                  add_param (net, "fb1", 2, b1, -0.5, 0.5) });
  x = add_node (net, "square", op (GF_OP_MUL), 2, (int[]) { x, x });
  d.attr.gemm = (typeof (d.attr.gemm)) { false, true, 1.0, 1.0 };
  x = add_node (net, "fc2", d, 2, (int[]) {
                  x, add_param (net, "fw2", 2, w2, -0.5, 0.5) });
  net->output = add_node (net, "probs", op (GF_OP_SOFTMAX), 1, &x);
  net_finish (net, NULL);
}

/* ---- Running and exporting --------------------------------------------- */

static gf_real *
random_input (Net *net, int tensor, size_t batch)
{
  size_t n = batch * gf_graph_tensor_count (net->graph, tensor);
  gf_real *x = gf_test_new (n);

  gf_test_fill_uniform (&net->rng, x, n, -1.0, 1.0);
  return x;
}

/* Graft's inference pass on @input (batch × the input's count). */
static void
run_graft (Net *net, const gf_real *input, size_t batch)
{
  size_t n = batch * gf_graph_tensor_count (net->graph, net->input);

  g_assert_cmpint (gf_graph_plan (net->graph, batch, GF_GRAPH_INFER, NULL),
                   ==, GF_OK);
  memcpy (gf_graph_tensor_data (net->graph, net->input), input,
          n * sizeof *input);
  g_assert_cmpint (gf_graph_forward (net->graph, batch, GF_GRAPH_INFER,
                                     NULL), ==, GF_OK);
}

static gf_real *
copy_tensor (Net *net, int tensor, size_t batch)
{
  size_t n = batch * gf_graph_tensor_count (net->graph, tensor);

  return g_memdup2 (gf_graph_tensor_data (net->graph, tensor),
                    n * sizeof (gf_real));
}

static void
export_or_fail (Net *net, int input, int output,
                const GfMetadataEntry *metadata, size_t n_metadata,
                const char *path)
{
  GfOnnxExport what = { .input = input, .output = output,
                        .graph_name = "test", .metadata = metadata,
                        .n_metadata = n_metadata };
  GfError error = { 0 };

  if (gf_onnx_save (net->graph, &what, path, &error) != GF_OK)
    g_error ("export failed: %s", error.message);
}

static char *
temp_folder (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("graft-onnx-export-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
      g_dir_close (dir);
    }
  g_chmod (path, 0700);
  g_remove (path);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The folder's entries, sorted, comma-separated. */
static char *
list_folder (const char *path)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_dir_close (dir);
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (",", (char **) names->pdata);
}

/* ---- The outside tools ------------------------------------------------- */

/* onnx.checker.check_model; false (the test skipped) without onnx. */
static gboolean
check_with_onnx (const char *model)
{
  const char *argv[] = { PYTHON, "-c", checker_script, model, NULL };
  g_autofree char *out = NULL, *err = NULL;
  GraftToolResult result;

  if (!g_file_test (PYTHON, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip (PYTHON " is missing (Debian's python3 with python3-onnx "
                   "checks the files; tools/test installs it)");
      return FALSE;
    }
  result = graft_test_run_tool (argv, EXIT_SKIP, &out, &err);
  if (result == GRAFT_TOOL_MISSING)
    {
      g_test_skip (g_strstrip (out));
      return FALSE;
    }
  if (result == GRAFT_TOOL_FAILED)
    {
      /* The traceback's last line holds the reason. */
      const char *last = strrchr (g_strstrip (err), '\n');
      g_test_fail_printf ("onnx.checker refuses %s: %s", model,
                          last != NULL ? last + 1 : err);
    }
  return TRUE;
}

static char *
ort_script (void)
{
  return g_test_build_filename (G_TEST_DIST, "tools", "ort-run.mjs", NULL);
}

/* Whether node can load onnxruntime-node; skips the test with the
 * reason when not. */
static gboolean
have_onnx_runtime (void)
{
  g_autofree char *script = ort_script (), *out = NULL, *err = NULL;
  g_autofree char *node = g_find_program_in_path ("node");
  const char *argv[] = { "node", script, "--check", NULL };

  if (node == NULL)
    {
      g_test_skip ("node is missing (ONNX Runtime runs in onnxruntime-node; "
                   "tools/test installs both)");
      return FALSE;
    }
  switch (graft_test_run_tool (argv, ORT_EXIT_MISSING, &out, &err))
    {
    case GRAFT_TOOL_MISSING:
      {
        g_autofree char *reason = g_strdup_printf ("%s (tools/test installs "
                                                   "it)", g_strstrip (out));
        g_test_skip (reason);
        return FALSE;
      }
    case GRAFT_TOOL_FAILED:
      g_test_fail_printf ("ort-run.mjs --check failed: %s",
                          g_strdelimit (err, "\n", ' '));
      return FALSE;
    case GRAFT_TOOL_PASSED:
    default:
      g_test_message ("ONNX Runtime %s", g_strstrip (out));
      return TRUE;
    }
}

/* ONNX Runtime's output for @input of shape (@batch, dims[1..]). */
static gf_real *
run_onnx_runtime (const char *model, const gf_real *input, size_t batch,
                  const size_t *dims, size_t ndim, size_t out_count)
{
  g_autofree char *script = ort_script (), *out = NULL, *err = NULL;
  g_autofree char *in_path = g_strconcat (model, ".in", NULL);
  g_autofree char *out_path = g_strconcat (model, ".out", NULL);
  g_autoptr (GString) shape = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  char *bytes = NULL;
  size_t in_count = batch, length = 0;

  g_string_append_printf (shape, "%zu", batch);
  for (size_t i = 1; i < ndim; i++)
    {
      g_string_append_printf (shape, ",%zu", dims[i]);
      in_count *= dims[i];
    }
  g_file_set_contents (in_path, (const char *) input,
                       (gssize) (in_count * sizeof *input), &error);
  g_assert_no_error (error);
  if (graft_test_run_tool ((const char *[]) { "node", script, model, in_path,
                                   shape->str, out_path, NULL },
                -1, &out, &err) != GRAFT_TOOL_PASSED)
    g_error ("ONNX Runtime failed on %s: %s", model,
             g_strdelimit (err, "\n", ' '));
  g_file_get_contents (out_path, &bytes, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, out_count * sizeof (gf_real));
  return (gf_real *) bytes;
}

/* Exports @net between @input and the output, runs both on a random batch
 * fed at @input, and compares the outputs. */
static void
compare_with_runtime (Net *net, const char *dir, const char *file,
                      int input, size_t batch)
{
  g_autofree char *model = g_build_filename (dir, file, NULL);
  g_autofree gf_real *image = random_input (net, net->input, batch);
  g_autofree gf_real *fed = NULL, *want = NULL, *got = NULL;
  size_t dims[GF_MAX_DIMS], ndim;
  size_t out_count = batch * gf_graph_tensor_count (net->graph, net->output);

  run_graft (net, image, batch);
  want = copy_tensor (net, net->output, batch);
  fed = input == net->input
          ? g_memdup2 (image, batch * gf_graph_tensor_count (net->graph, input)
                              * sizeof *image)
          : copy_tensor (net, input, batch);
  export_or_fail (net, input, net->output, NULL, 0, model);
  ndim = gf_graph_tensor_shape (net->graph, input, dims);
  got = run_onnx_runtime (model, fed, batch, dims, ndim, out_count);
  gf_test_assert_close (file, got, want, out_count, RUNTIME_RTOL,
                        RUNTIME_ATOL);
}

/* ---- Tests -------------------------------------------------------------- */

static void
test_checker (void)
{
  g_autofree char *dir = temp_folder ();
  const char *const bottleneck[] = { "sigmoid", NULL };
  const char *files[] = { "a.onnx", "b.onnx", "a-head.onnx" };
  Net a, b;

  build_net_a (&a, bottleneck);
  build_net_b (&b);
  for (size_t i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (dir, files[i], NULL);
      Net *net = i == 1 ? &b : &a;
      int input = i == 2 ? gf_graph_find_tensor (a.graph, "sigmoid")
                         : net->input;

      export_or_fail (net, input, net->output, NULL, 0, path);
      if (!check_with_onnx (path))
        break;
    }
  gf_graph_free (a.graph);
  gf_graph_free (b.graph);
  remove_tree (dir);
}

static void
test_runtime_every_op (void)
{
  g_autofree char *dir = NULL;
  Net a, b;

  if (!have_onnx_runtime ())
    return;
  dir = temp_folder ();
  build_net_a (&a, NULL);
  compare_with_runtime (&a, dir, "a.onnx", a.input, BATCH);
  build_net_b (&b);
  compare_with_runtime (&b, dir, "b.onnx", b.input, BATCH);
  /* The batch is symbolic in the file: the same model takes another. */
  compare_with_runtime (&b, dir, "b1.onnx", b.input, 1);
  gf_graph_free (a.graph);
  gf_graph_free (b.graph);
  remove_tree (dir);
}

/* The head alone: the bottleneck activation becomes the file's input. */
static void
test_runtime_head (void)
{
  g_autofree char *dir = NULL;
  const char *const bottleneck[] = { "sigmoid", NULL };
  Net a;

  if (!have_onnx_runtime ())
    return;
  dir = temp_folder ();
  build_net_a (&a, bottleneck);
  compare_with_runtime (&a, dir, "head.onnx",
                        gf_graph_find_tensor (a.graph, "sigmoid"), BATCH);
  gf_graph_free (a.graph);
  remove_tree (dir);
}

static Onnx__ModelProto *
read_model (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *bytes = NULL;
  size_t length = 0;
  Onnx__ModelProto *model;

  g_file_get_contents (path, &bytes, &length, &error);
  g_assert_no_error (error);
  model = onnx__model_proto__unpack (NULL, length, (const uint8_t *) bytes);
  g_assert_nonnull (model);
  return model;
}

static char *
node_ops (const Onnx__GraphProto *g)
{
  g_autoptr (GString) ops = g_string_new (NULL);

  for (size_t i = 0; i < g->n_node; i++)
    g_string_append_printf (ops, "%s%s", i ? " " : "", g->node[i]->op_type);
  return g_strdup (ops->str);
}

static char *
initializer_names (const Onnx__GraphProto *g)
{
  g_autoptr (GString) names = g_string_new (NULL);

  for (size_t i = 0; i < g->n_initializer; i++)
    g_string_append_printf (names, "%s%s", i ? " " : "",
                            g->initializer[i]->name);
  return g_strdup (names->str);
}

/* "N,3,9,9" for a value's type. */
static char *
value_shape (const Onnx__ValueInfoProto *value)
{
  const Onnx__TensorShapeProto *shape = value->type->tensor_type->shape;
  g_autoptr (GString) text = g_string_new (NULL);

  g_assert_cmpint (value->type->tensor_type->elem_type, ==,
                   ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
  for (size_t i = 0; i < shape->n_dim; i++)
    {
      const Onnx__TensorShapeProto__Dimension *dim = shape->dim[i];
      if (i > 0)
        g_string_append_c (text, ',');
      if (dim->value_case
          == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
        g_string_append (text, dim->dim_param);
      else
        g_string_append_printf (text, "%" G_GINT64_FORMAT, dim->dim_value);
    }
  return g_strdup (text->str);
}

static void
assert_metadata (const Onnx__ModelProto *model,
                 const GfMetadataEntry *metadata, size_t n)
{
  g_assert_cmpuint (model->n_metadata_props, ==, n);
  for (size_t i = 0; i < n; i++)
    {
      g_assert_cmpstr (model->metadata_props[i]->key, ==, metadata[i].key);
      g_assert_cmpstr (model->metadata_props[i]->value, ==,
                       metadata[i].value);
    }
}

/* The whole of net A: header, ops in order, initializers, the input and
 * output with a symbolic batch, and the metadata in order. */
static void
test_structure (void)
{
  g_autofree char *dir = temp_folder ();
  g_autofree char *path = g_build_filename (dir, "a.onnx", NULL);
  g_autofree char *ops = NULL, *inits = NULL, *in = NULL, *out = NULL;
  const char *const pairs[][2] = {
    { "graft.name", "net A" }, { "graft.scale", "0.00392156862745098" },
    { "note", "ünïcode, \"quotes\" and\nnewlines" }, { "empty", "" } };
  GfMetadataEntry metadata[G_N_ELEMENTS (pairs)];
  Onnx__ModelProto *model;
  Net a;

  /* GfMetadataEntry owns its strings elsewhere, hence not const. */
  for (size_t i = 0; i < G_N_ELEMENTS (pairs); i++)
    metadata[i] = (GfMetadataEntry) { (char *) pairs[i][0],
                                      (char *) pairs[i][1] };
  build_net_a (&a, NULL);
  export_or_fail (&a, a.input, a.output, metadata, G_N_ELEMENTS (metadata),
                  path);
  model = read_model (path);
  g_assert_cmpint (model->ir_version, ==, 7);
  g_assert_cmpuint (model->n_opset_import, ==, 1);
  g_assert_cmpint (model->opset_import[0]->version, ==, 13);
  g_assert_cmpstr (model->producer_name, ==, "graft");
  g_assert_cmpstr (model->graph->name, ==, "test");
  ops = node_ops (model->graph);
  g_assert_cmpstr (ops, ==, "Conv BatchNormalization Relu Conv HardSigmoid "
                   "Mul Add MaxPool AveragePool Concat Mul Add Conv Sigmoid "
                   "GlobalAveragePool Flatten Identity Gemm Softmax");
  inits = initializer_names (model->graph);
  g_assert_cmpstr (inits, ==, "w1 b1 gamma beta mean var w2 s wd bd wg bg");
  in = value_shape (model->graph->input[0]);
  out = value_shape (model->graph->output[0]);
  g_assert_cmpstr (in, ==, "N,3,9,9");
  g_assert_cmpstr (out, ==, "N,5");
  assert_metadata (model, metadata, G_N_ELEMENTS (metadata));
  onnx__model_proto__free_unpacked (model, NULL);
  gf_graph_free (a.graph);
  remove_tree (dir);
}

/* The initializers hold the parameters' exact values: float32 raw_data. */
static void
test_initializer_values (void)
{
  g_autofree char *dir = temp_folder ();
  g_autofree char *path = g_build_filename (dir, "a.onnx", NULL);
  Onnx__ModelProto *model;
  Net a;

  build_net_a (&a, NULL);
  export_or_fail (&a, a.input, a.output, NULL, 0, path);
  model = read_model (path);
  for (size_t i = 0; i < model->graph->n_initializer; i++)
    {
      const Onnx__TensorProto *t = model->graph->initializer[i];
      int id = gf_graph_find_tensor (a.graph, t->name);
      size_t dims[GF_MAX_DIMS];
      size_t ndim = gf_graph_tensor_shape (a.graph, id, dims);
      size_t count = gf_graph_tensor_count (a.graph, id);

      g_assert_cmpint (t->data_type, ==, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
      g_assert_cmpuint (t->n_dims, ==, ndim);
      for (size_t j = 0; j < ndim; j++)
        g_assert_cmpint (t->dims[j], ==, (int64_t) dims[j]);
      g_assert_true (t->has_raw_data);
      g_assert_cmpmem (t->raw_data.data, t->raw_data.len,
                       gf_graph_tensor_data (a.graph, id),
                       count * sizeof (float));
    }
  onnx__model_proto__free_unpacked (model, NULL);
  gf_graph_free (a.graph);
  remove_tree (dir);
}

/* Only what leads from the input to the output is written: with an inner
 * output, nothing after it; with an inner input, nothing before it. */
static void
test_selection (void)
{
  g_autofree char *dir = temp_folder ();
  g_autofree char *path = g_build_filename (dir, "part.onnx", NULL);
  g_autofree char *ops = NULL, *inits = NULL, *in = NULL;
  Onnx__ModelProto *model;
  Net a;

  build_net_a (&a, (const char *const[]) { "add1", "sigmoid", NULL });
  export_or_fail (&a, a.input, gf_graph_find_tensor (a.graph, "add1"), NULL,
                  0, path);
  model = read_model (path);
  ops = node_ops (model->graph);
  inits = initializer_names (model->graph);
  g_assert_cmpstr (ops, ==, "Conv BatchNormalization Relu Conv HardSigmoid "
                   "Mul Add");
  g_assert_cmpstr (inits, ==, "w1 b1 gamma beta mean var w2");
  onnx__model_proto__free_unpacked (model, NULL);
  g_clear_pointer (&ops, g_free);
  g_clear_pointer (&inits, g_free);

  export_or_fail (&a, gf_graph_find_tensor (a.graph, "sigmoid"), a.output,
                  NULL, 0, path);
  model = read_model (path);
  ops = node_ops (model->graph);
  inits = initializer_names (model->graph);
  in = value_shape (model->graph->input[0]);
  g_assert_cmpstr (ops, ==, "GlobalAveragePool Flatten Identity Gemm "
                   "Softmax");
  g_assert_cmpstr (inits, ==, "wg bg");
  g_assert_cmpstr (in, ==, "N,8,5,5");
  onnx__model_proto__free_unpacked (model, NULL);
  gf_graph_free (a.graph);
  remove_tree (dir);
}

static void
expect_refusal (Net *net, int input, int output, const char *path,
                GfStatus status, const char *fragment)
{
  GfOnnxExport what = { .input = input, .output = output };
  GfError error = { 0 };

  g_assert_cmpint (gf_onnx_save (net->graph, &what, path, &error), ==,
                   status);
  if (strstr (error.message, fragment) == NULL)
    g_test_fail_printf ("message '%s' lacks '%s'", error.message, fragment);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
test_refusals (void)
{
  g_autofree char *dir = temp_folder ();
  g_autofree char *path = g_build_filename (dir, "never.onnx", NULL);
  g_autofree char *listing = NULL;
  Net a;
  int add1, hswish, maxpool;

  build_net_a (&a, NULL);
  add1 = gf_graph_find_tensor (a.graph, "add1");
  hswish = gf_graph_find_tensor (a.graph, "hswish");
  maxpool = gf_graph_find_tensor (a.graph, "maxpool");
  /* add1 = relu1 + hswish: relu1 lies before the input. */
  expect_refusal (&a, hswish, add1, path, GF_ERR_INVALID,
                  "node 'add1' reads 'relu1', which does not depend on the "
                  "input 'hswish'");
  expect_refusal (&a, maxpool, add1, path, GF_ERR_INVALID,
                  "does not depend on the input 'maxpool'");
  expect_refusal (&a, gf_graph_find_tensor (a.graph, "w1"), add1, path,
                  GF_ERR_INVALID, "'w1' is a weight");
  expect_refusal (&a, a.input, a.input, path, GF_ERR_INVALID,
                  "not computed by a node");
  expect_refusal (&a, a.input, 10000, path, GF_ERR_INVALID,
                  "not a tensor");
  listing = list_folder (dir);
  g_assert_cmpstr (listing, ==, "");
  gf_graph_free (a.graph);
  remove_tree (dir);
}

/* A successful export over an existing file replaces it whole, leaves
 * nothing else behind and is readable by others. */
static void
test_atomic_replaces (void)
{
  g_autofree char *dir = temp_folder ();
  g_autofree char *path = g_build_filename (dir, "model.onnx", NULL);
  g_autofree char *listing = NULL;
  g_autoptr (GError) error = NULL;
  Onnx__ModelProto *model;
  GStatBuf st;
  Net a;

  build_net_a (&a, NULL);
  g_file_set_contents (path, "an old and much longer file than the model "
                       "........................................", -1,
                       &error);
  g_assert_no_error (error);
  export_or_fail (&a, a.input, a.output, NULL, 0, path);
  model = read_model (path);
  g_assert_cmpuint (model->graph->n_node, ==, 19);
  onnx__model_proto__free_unpacked (model, NULL);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0644);
  listing = list_folder (dir);
  g_assert_cmpstr (listing, ==, "model.onnx");
  gf_graph_free (a.graph);
  remove_tree (dir);
}

/* A write cut off by the file size limit (as a full disk would) fails,
 * removes its temporary file and leaves the old target as it was. */
static void
test_atomic_failed_write (void)
{
  g_autofree char *dir = temp_folder ();
  g_autofree char *path = g_build_filename (dir, "model.onnx", NULL);
  g_autofree char *listing = NULL, *kept = NULL;
  GfOnnxExport what = { 0 };
  g_autoptr (GError) error = NULL;
  GfError gf_error = { 0 };
  struct rlimit saved, limited;
  void (*saved_handler) (int);
  GfStatus status;
  Net a;

  build_net_a (&a, NULL);
  what.input = a.input;
  what.output = a.output;
  g_file_set_contents (path, "old model", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  limited = saved;
  limited.rlim_cur = FILE_SIZE_LIMIT;
  /* Past the limit write() fails with EFBIG instead of a signal. */
  saved_handler = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limited), ==, 0);
  status = gf_onnx_save (a.graph, &what, path, &gf_error);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, saved_handler);

  g_assert_cmpint (status, ==, GF_ERR_IO);
  g_assert_nonnull (strstr (gf_error.message, path));
  g_assert_nonnull (strstr (gf_error.message, g_strerror (EFBIG)));
  g_file_get_contents (path, &kept, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kept, ==, "old model");
  listing = list_folder (dir);
  g_assert_cmpstr (listing, ==, "model.onnx");
  gf_graph_free (a.graph);
  remove_tree (dir);
}

/* Into a folder that does not exist, or where the target is a folder: an
 * error naming the path, and nothing created. */
static void
test_atomic_bad_target (void)
{
  g_autofree char *dir = temp_folder ();
  g_autofree char *missing = g_build_filename (dir, "no", "such",
                                               "model.onnx", NULL);
  g_autofree char *folder = g_build_filename (dir, "folder", NULL);
  g_autofree char *inside = g_build_filename (folder, "keep", NULL);
  g_autofree char *listing = NULL, *folder_listing = NULL;
  g_autoptr (GError) error = NULL;
  Net a;

  build_net_a (&a, NULL);
  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  g_file_set_contents (inside, "x", -1, &error);
  g_assert_no_error (error);
  expect_refusal (&a, a.input, a.output, missing, GF_ERR_IO, missing);
  {
    GfOnnxExport what = { .input = a.input, .output = a.output };
    GfError gf_error = { 0 };

    g_assert_cmpint (gf_onnx_save (a.graph, &what, folder, &gf_error), ==,
                     GF_ERR_IO);
    g_assert_nonnull (strstr (gf_error.message, folder));
  }
  listing = list_folder (dir);
  folder_listing = list_folder (folder);
  g_assert_cmpstr (listing, ==, "folder");
  g_assert_cmpstr (folder_listing, ==, "keep");
  gf_graph_free (a.graph);
  remove_tree (dir);
}

/* Graft reads back what it wrote: the same function, the metadata kept. */
static void
round_trip (Net *net, const char *dir, const char *file, int input)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autofree gf_real *image = random_input (net, net->input, BATCH);
  g_autofree gf_real *fed = NULL, *want = NULL;
  GfMetadataEntry metadata[] = { { (char *) "graft.name", (char *) file } };
  size_t n_fed = BATCH * gf_graph_tensor_count (net->graph, input);
  size_t n_out = BATCH * gf_graph_tensor_count (net->graph, net->output);
  GfError error = { 0 };
  GfModel *model = NULL;

  run_graft (net, image, BATCH);
  want = copy_tensor (net, net->output, BATCH);
  fed = input == net->input ? g_memdup2 (image, n_fed * sizeof *image)
                            : copy_tensor (net, input, BATCH);
  export_or_fail (net, input, net->output, metadata, 1, path);
  if (gf_onnx_load (path, NULL, &model, &error) != GF_OK)
    g_error ("%s does not load: %s", file, error.message);
  g_assert_cmpint (model->opset, ==, 13);
  g_assert_cmpuint (model->n_metadata, ==, 1);
  g_assert_cmpstr (model->metadata[0].key, ==, "graft.name");
  g_assert_cmpstr (model->metadata[0].value, ==, file);
  g_assert_cmpuint (gf_graph_tensor_count (model->graph, model->input) * BATCH,
                    ==, n_fed);
  g_assert_cmpint (gf_graph_plan (model->graph, BATCH, GF_GRAPH_INFER, NULL),
                   ==, GF_OK);
  memcpy (gf_graph_tensor_data (model->graph, model->input), fed,
          n_fed * sizeof *fed);
  g_assert_cmpint (gf_graph_forward (model->graph, BATCH, GF_GRAPH_INFER,
                                     NULL), ==, GF_OK);
  gf_test_assert_close (file, gf_graph_tensor_data (model->graph,
                                                    model->output),
                        want, n_out, RUNTIME_RTOL, RUNTIME_ATOL);
  gf_model_free (model);
}

static void
test_round_trip (void)
{
  g_autofree char *dir = temp_folder ();
  const char *const bottleneck[] = { "sigmoid", NULL };
  Net a, b;

  build_net_a (&a, bottleneck);
  build_net_b (&b);
  round_trip (&a, dir, "a.onnx", a.input);
  round_trip (&a, dir, "head.onnx", gf_graph_find_tensor (a.graph,
                                                          "sigmoid"));
  round_trip (&b, dir, "b.onnx", b.input);
  gf_graph_free (a.graph);
  gf_graph_free (b.graph);
  remove_tree (dir);
}

/* What the read-only folder test runs in its own process: as nobody when
 * started as root, whom a folder's mode does not stop. */
static void
read_only_child (void)
{
  const char *dir = g_getenv (READ_ONLY_DIR_VARIABLE);
  g_autofree char *path = g_build_filename (dir, "model.onnx", NULL);
  Net a;

  if (geteuid () == 0)
    {
      g_assert_cmpint (setgid (NOBODY_ID), ==, 0);
      g_assert_cmpint (setuid (NOBODY_ID), ==, 0);
      /* Changing user makes a process undumpable, which would keep
       * LeakSanitizer, in the sanitizer build, from inspecting it. */
      prctl (PR_SET_DUMPABLE, 1);
    }
  build_net_a (&a, NULL);
  expect_refusal (&a, a.input, a.output, path, GF_ERR_IO,
                  g_strerror (EACCES));
  gf_graph_free (a.graph);
}

/* A folder where no file can be created: an error naming the reason, and
 * nothing left behind. */
static void
test_atomic_read_only (void)
{
  g_autofree char *dir = NULL, *listing = NULL;

  if (g_test_subprocess ())
    {
      read_only_child ();
      return;
    }
  dir = temp_folder ();
  g_assert_cmpint (g_chmod (dir, 0555), ==, 0);
  g_setenv (READ_ONLY_DIR_VARIABLE, dir, TRUE);
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_passed ();
  g_unsetenv (READ_ONLY_DIR_VARIABLE);
  listing = list_folder (dir);
  g_assert_cmpstr (listing, ==, "");
  remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/onnx-export/checker", test_checker);
  g_test_add_func ("/engine/onnx-export/runtime/every-op",
                   test_runtime_every_op);
  g_test_add_func ("/engine/onnx-export/runtime/head", test_runtime_head);
  g_test_add_func ("/engine/onnx-export/structure", test_structure);
  g_test_add_func ("/engine/onnx-export/initializer-values",
                   test_initializer_values);
  g_test_add_func ("/engine/onnx-export/selection", test_selection);
  g_test_add_func ("/engine/onnx-export/refusals", test_refusals);
  g_test_add_func ("/engine/onnx-export/round-trip", test_round_trip);
  g_test_add_func ("/engine/onnx-export/atomic/replaces",
                   test_atomic_replaces);
  g_test_add_func ("/engine/onnx-export/atomic/failed-write",
                   test_atomic_failed_write);
  g_test_add_func ("/engine/onnx-export/atomic/bad-target",
                   test_atomic_bad_target);
  g_test_add_func ("/engine/onnx-export/atomic/read-only-folder",
                   test_atomic_read_only);
  return g_test_run ();
}
