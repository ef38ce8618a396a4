/* test-onnx-import.c: ONNX files → compiled graphs.
 *
 * Valid models (tests/data/onnx, written by tools/make-onnx-test-models)
 * cover every supported op and the shape arithmetic exporters write; each
 * is run on a stored input and compared with the stored output of a
 * reference interpreter built on PyTorch.  Broken models are each refused
 * with a one-line message, and damaged copies of a valid file never crash.
 */
#include <string.h>

#include "gf-onnx.h"
#include "gf-test-util.h"
#include "graft-test-limits.h"

#define BATCH 2

static char *
data_path (const char *file)
{
  return g_test_build_filename (G_TEST_DIST, "data", "onnx", file, NULL);
}

/* Loads tests/data/onnx/@name.onnx; NULL (and the test failed) if it is
 * refused. */
static GfModel *
load (const char *name, bool fold_batchnorm)
{
  g_autofree char *file = g_strconcat (name, ".onnx", NULL);
  g_autofree char *path = data_path (file);
  GfOnnxLoadOptions options = { .fold_batchnorm = fold_batchnorm };
  GfError error = { 0 };
  GfModel *model = NULL;

  if (gf_onnx_load (path, &options, &model, &error) != GF_OK)
    {
      g_test_fail_printf ("%s: %s", file, error.message);
      return NULL;
    }
  g_assert_nonnull (model);
  return model;
}

static size_t
count_nodes (const GfModel *model, GfOpKind kind)
{
  size_t n = 0;

  for (size_t k = 0; k < gf_graph_n_nodes (model->graph); k++)
    n += gf_graph_node_kind (model->graph, k) == kind;
  return n;
}

/* Runs @model on the input stored in @name.f32 and compares its output
 * with the one stored after it. */
static void
check_outputs (GfModel *model, const char *name, double rtol, double atol)
{
  g_autofree char *file = g_strconcat (name, ".f32", NULL);
  g_autofree char *path = data_path (file);
  g_autofree char *bytes = NULL;
  gsize length = 0;
  GfGraph *graph = model->graph;
  size_t n_in = BATCH * gf_graph_tensor_count (graph, model->input);
  size_t n_out = BATCH * gf_graph_tensor_count (graph, model->output);
  g_autofree float *values = NULL;
  g_autofree gf_real *want = g_new (gf_real, n_out);
  gf_real *x;
  GfError error = { 0 };

  g_assert_true (g_file_get_contents (path, &bytes, &length, NULL));
  g_assert_cmpuint (length, ==, (n_in + n_out) * sizeof (float));
  values = g_memdup2 (bytes, length);
  g_assert_cmpint (gf_graph_plan (graph, BATCH, GF_GRAPH_INFER, &error), ==,
                   GF_OK);
  x = gf_graph_tensor_data (graph, model->input);
  for (size_t k = 0; k < n_in; k++)
    x[k] = values[k];
  for (size_t k = 0; k < n_out; k++)
    want[k] = values[n_in + k];
  if (gf_graph_forward (graph, BATCH, GF_GRAPH_INFER, &error) != GF_OK)
    g_test_fail_printf ("%s: %s", name, error.message);
  else
    gf_test_assert_close (name, gf_graph_tensor_data (graph, model->output),
                          want, n_out, rtol, atol);
}

static void
assert_nothing_trainable (const GfModel *model)
{
  for (size_t k = 0; k < gf_graph_n_tensors (model->graph); k++)
    g_assert_false (gf_graph_is_trainable (model->graph, (int) k));
}

/* ---- Valid models --------------------------------------------------------- */

static void
test_valid (gconstpointer data)
{
  const char *name = data;
  GfModel *model = load (name, false);

  if (model == NULL)
    return;
  assert_nothing_trainable (model);
  check_outputs (model, name, 1e-4, 1e-5);
  gf_model_free (model);
}

static void
test_batchnorm_fold (void)
{
  GfModel *kept = load ("batchnorm", false);
  GfModel *folded = load ("batchnorm", true);

  if (kept == NULL || folded == NULL)
    return;
  g_assert_cmpuint (count_nodes (kept, GF_OP_BATCHNORM), ==, 4);
  /* The two after a Conv that nothing else reads fold away. */
  g_assert_cmpuint (count_nodes (folded, GF_OP_BATCHNORM), ==, 2);
  g_assert_cmpuint (count_nodes (folded, GF_OP_CONV), ==, 3);
  check_outputs (folded, "batchnorm", 1e-4, 1e-5);
  gf_model_free (kept);
  gf_model_free (folded);
}

static void
test_shape_chain_folded (void)
{
  GfModel *model = load ("shape-chain13", false);

  if (model == NULL)
    return;
  /* Shape, Gather, Unsqueeze, Concat, Slice, Mul, Div, Cast, Constant and
   * ConstantOfShape are gone: only static reshapes remain. */
  g_assert_cmpuint (gf_graph_n_nodes (model->graph), ==, 13);
  g_assert_cmpuint (count_nodes (model, GF_OP_FLATTEN), ==, 5);
  g_assert_cmpuint (count_nodes (model, GF_OP_RESHAPE), ==, 2);
  gf_model_free (model);
}

static void
test_keras_vgg (void)
{
  GfModel *model = load ("keras-vgg", false);
  size_t dims[GF_MAX_DIMS];

  if (model == NULL)
    return;
  g_assert_true (model->input_was_nhwc);
  g_assert_cmpuint (gf_graph_tensor_shape (model->graph, model->input, dims),
                    ==, 4);
  g_assert_cmpuint (dims[1], ==, 3);
  g_assert_cmpuint (dims[2], ==, 32);
  g_assert_cmpuint (dims[3], ==, 32);
  g_assert_cmpstr (gf_graph_tensor_name (model->graph, model->input), ==,
                   "input_1");
  /* Only the Transpose back to NHWC before the Reshape remains. */
  g_assert_cmpuint (count_nodes (model, GF_OP_TRANSPOSE), ==, 1);
  g_assert_true (model->preprocess_from_file);
  g_assert_cmpint (model->preprocess.order, ==, GF_CHANNELS_BGR);
  g_assert_cmpfloat_with_epsilon (model->preprocess.scale, 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (model->preprocess.mean[0], 103.939, 1e-9);
  g_assert_cmpfloat_with_epsilon (model->preprocess.mean[2], 123.68, 1e-9);
  g_assert_cmpuint (model->preprocess.height, ==, 32);
  g_assert_cmpstr (model->name, ==, "Keras VGG19 (small)");
  g_assert_cmpstr (model->producer, ==, "tf2onnx 1.9.3");
  g_assert_cmpstr (model->source, ==, "tf2onnx 1.9.3");
  g_assert_cmpint (model->opset, ==, 13);
  g_assert_cmpuint (model->n_metadata, ==, 6);
  g_assert_cmpstr (model->metadata[1].key, ==, "keras_version");
  g_assert_cmpstr (model->metadata[1].value, ==, "2.11.0");
  check_outputs (model, "keras-vgg", 1e-4, 1e-6);
  gf_model_free (model);
}

static void
test_torch_description (void)
{
  GfModel *model = load ("torch-opset13", false);
  GfPreprocess torch;

  if (model == NULL)
    return;
  /* torch.onnx.export names every graph "torch_jit": the file names it. */
  g_assert_cmpstr (model->name, ==, "torch-opset13");
  g_assert_true (g_str_has_prefix (model->source, "pytorch "));
  g_assert_false (model->input_was_nhwc);
  g_assert_false (model->preprocess_from_file);
  gf_preprocess_preset (&torch, GF_PRESET_IMAGENET_TORCH, 16, 16);
  g_assert_cmpmem (&model->preprocess, sizeof torch, &torch, sizeof torch);
  g_assert_cmpuint (count_nodes (model, GF_OP_BATCHNORM), ==, 3);
  gf_model_free (model);
}

static void
test_dynamic_size (void)
{
  GfModel *sized = load ("dynamic-hw", false);
  GfModel *plain = load ("dynamic-hw-default", false);
  size_t dims[GF_MAX_DIMS];

  if (sized == NULL || plain == NULL)
    return;
  gf_graph_tensor_shape (sized->graph, sized->input, dims);
  g_assert_cmpuint (dims[2], ==, 40);
  g_assert_cmpuint (dims[3], ==, 36);
  g_assert_true (sized->preprocess_from_file);
  gf_graph_tensor_shape (plain->graph, plain->input, dims);
  g_assert_cmpuint (dims[2], ==, 224);
  g_assert_cmpuint (dims[3], ==, 224);
  g_assert_cmpuint (plain->preprocess.width, ==, 224);
  g_assert_false (plain->preprocess_from_file);
  g_assert_cmpstr (plain->name, ==, "dynamic-hw-default");
  gf_model_free (sized);
  gf_model_free (plain);
}

static void
test_from_memory (void)
{
  g_autofree char *path = data_path ("external.onnx");
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *bytes = NULL;
  gsize length;
  GfError error = { 0 };
  GfModel *model = NULL;

  g_assert_true (g_file_get_contents (path, &bytes, &length, NULL));
  /* Without a folder there is nowhere to find the external data. */
  g_assert_cmpint (gf_onnx_load_from_memory (bytes, length, NULL, NULL,
                                             &model, &error), !=, GF_OK);
  g_assert_null (model);
  g_assert_nonnull (strstr (error.message, "external"));
  g_assert_cmpint (gf_onnx_load_from_memory (bytes, length, dir, NULL,
                                             &model, &error), ==, GF_OK);
  g_assert_cmpstr (model->name, ==, "external");
  check_outputs (model, "external", 1e-4, 1e-5);
  gf_model_free (model);
}

/* ---- Out of memory ---------------------------------------------------------- */

#define BIG_INITIALIZER_BYTES ((size_t) 64 << 20)

static void
put_varint (GByteArray *out, guint64 value)
{
  do
    {
      guint8 byte = (guint8) (value & 0x7f);
      value >>= 7;
      if (value != 0)
        byte |= 0x80;
      g_byte_array_append (out, &byte, 1);
    }
  while (value != 0);
}

/* A length-delimited field: its tag, then the length, then @inner. */
static void
put_message (GByteArray *out, guint field, const guint8 *inner, gsize size)
{
  put_varint (out, (guint64) field << 3 | 2);
  put_varint (out, size);
  g_byte_array_append (out, inner, (guint) size);
}

/* A model whose graph holds one initializer of @bytes raw bytes, written
 * by hand (ModelProto.graph = 7, GraphProto.initializer = 5,
 * TensorProto.dims = 1, data_type = 2, raw_data = 9). */
static GByteArray *
model_with_initializer (gsize bytes)
{
  g_autoptr (GByteArray) tensor = g_byte_array_new ();
  g_autoptr (GByteArray) graph = g_byte_array_new ();
  GByteArray *model = g_byte_array_new ();
  g_autofree guint8 *raw = g_malloc0 (bytes);

  put_varint (tensor, 1 << 3);
  put_varint (tensor, bytes / sizeof (float));
  put_varint (tensor, 2 << 3);
  put_varint (tensor, 1);                      /* FLOAT */
  put_message (tensor, 9, raw, bytes);
  put_message (graph, 5, tensor->data, tensor->len);
  put_message (model, 7, graph->data, graph->len);
  return model;
}

/* When memory runs out while protobuf-c unpacks a model, the message says
 * so: the file is not "truncated or corrupt", as it was reported. */
static void
test_unpack_out_of_memory (void)
{
#ifdef GRAFT_TEST_UNDER_ASAN
  g_test_skip ("AddressSanitizer needs more address space than this limits");
  return;
#endif
  if (g_test_subprocess ())
    {
      g_autoptr (GByteArray) model = model_with_initializer
        (BIG_INITIALIZER_BYTES);
      GfError error = { 0 };
      GfModel *loaded = NULL;

      /* Room for what loading needs besides a copy of the initializer. */
      graft_test_limit_address_space (BIG_INITIALIZER_BYTES / 2);
      g_assert_cmpint (gf_onnx_load_from_memory (model->data, model->len,
                                                 NULL, NULL, &loaded,
                                                 &error), ==, GF_ERR_NOMEM);
      g_assert_null (loaded);
      g_assert_nonnull (strstr (error.message, "out of memory"));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* The same bytes with memory enough: not refused for memory. */
static void
test_unpack_big (void)
{
  g_autoptr (GByteArray) model = model_with_initializer
    (BIG_INITIALIZER_BYTES);
  GfError error = { 0 };
  GfModel *loaded = NULL;
  GfStatus status = gf_onnx_load_from_memory (model->data, model->len, NULL,
                                              NULL, &loaded, &error);

  g_assert_cmpint (status, !=, GF_OK);
  g_assert_cmpint (status, !=, GF_ERR_NOMEM);
  g_assert_null (strstr (error.message, "out of memory"));
}

/* ---- Broken models -------------------------------------------------------- */

typedef struct
{
  const char *file;
  const char *fragment;     /* what the message must say */
  const char *fragment2;
} Broken;

static const Broken broken[] = {
  { "bad-truncated.onnx", "not an ONNX model" },
  { "bad-random.onnx", "not an ONNX model" },
  { "bad-empty.onnx", "empty" },
  { "bad-nested.onnx", "nested more than 64 levels" },
  { "bad-unknown-op.onnx", "'FancyOp'", "'my_node'" },
  { "bad-domain.onnx", "domain 'com.microsoft'" },
  { "bad-opset.onnx", "opset 6" },
  { "bad-cycle.onnx", "cycle" },
  { "bad-dangling.onnx", "'nowhere'" },
  { "bad-channels.onnx", "channels", "'conv'" },
  { "bad-short-raw.onnx", "holds 100 bytes" },
  { "bad-huge-dims.onnx", "absurd shape" },
  /* A fuzzer's: a chain of folds took 667 MB and seconds to refuse. */
  { "bad-fold-budget.onnx", "refusing to fold more than" },
  { "bad-huge-input.onnx", "absurd dimension 3 of size 1099511627776" },
  { "bad-negative-dims.onnx", "negative dimension" },
  { "bad-external-parent.onnx", "not a file inside the model's folder" },
  { "bad-external-absolute.onnx", "not a file inside the model's folder" },
  { "bad-external-symlink.onnx", "not a file inside the model's folder" },
  { "bad-external-range.onnx", "does not fit" },
  { "bad-zero-stride.onnx", "'strides' holds 0" },
  { "bad-missing-attr.onnx", "kernel_shape is missing", "'pool'" },
  { "bad-reflect.onnx", "mode 'reflect'" },
  { "bad-batch-reshape.onnx", "keeping the batch" },
  { "no-such-file.onnx", "cannot open" },
};

static void
test_broken (gconstpointer data)
{
  const Broken *b = data;
  g_autofree char *path = data_path (b->file);
  GfError error = { 0 };
  GfModel *model = NULL;
  GfStatus status = gf_onnx_load (path, NULL, &model, &error);

  g_test_message ("%s: %s", b->file, error.message);
  g_assert_cmpint (status, !=, GF_OK);
  g_assert_cmpint (error.status, ==, status);
  g_assert_null (model);
  g_assert_null (strchr (error.message, '\n'));
  if (strstr (error.message, b->fragment) == NULL
      || (b->fragment2 && strstr (error.message, b->fragment2) == NULL))
    g_test_fail_printf ("%s: '%s' does not say '%s'", b->file, error.message,
                        b->fragment);
}

static void
test_directory (void)
{
  g_autofree char *path = data_path ("");
  GfError error = { 0 };
  GfModel *model = NULL;

  g_assert_cmpint (gf_onnx_load (path, NULL, &model, &error), ==, GF_ERR_IO);
  g_assert_nonnull (strstr (error.message, "not a regular file"));
}

/* Every prefix of a valid file, and copies with bytes overwritten, load or
 * are refused: never a crash, a leak or a read out of bounds. */
static void
test_damaged (void)
{
  g_autofree char *path = data_path ("torch-opset9.onnx");
  g_autofree guint8 *bytes = NULL;
  gsize length;
  GfRng rng;

  g_assert_true (g_file_get_contents (path, (char **) &bytes, &length, NULL));
  for (gsize cut = 0; cut < length; cut += 1 + cut / 64)
    {
      GfModel *model = NULL;
      if (gf_onnx_load_from_memory (bytes, cut, NULL, NULL, &model,
                                    NULL) == GF_OK)
        gf_model_free (model);
    }
  gf_rng_seed (&rng, 17);
  for (int trial = 0; trial < 300; trial++)
    {
      g_autofree guint8 *copy = g_memdup2 (bytes, length);
      GfModel *model = NULL;
      for (int k = 0; k < 4; k++)
        copy[gf_rng_below (&rng, (uint32_t) length)] = (guint8) gf_rng_u32 (&rng);
      if (gf_onnx_load_from_memory (copy, length, NULL, NULL, &model,
                                    NULL) == GF_OK)
        gf_model_free (model);
    }
}

static const char *const valid[] = {
  "conv", "batchnorm", "activations", "activations14", "arith", "pool",
  "pad9", "pad11", "reduce", "shape-chain11", "shape-chain13", "transpose",
  "unsorted", "encodings", "external", "dynamic-hw", "torch-opset9",
  "torch-opset11", "torch-opset13", "torch-opset17",
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t k = 0; k < G_N_ELEMENTS (valid); k++)
    {
      g_autofree char *test = g_strdup_printf ("/engine/onnx-import/valid/%s",
                                               valid[k]);
      g_test_add_data_func (test, valid[k], test_valid);
    }
  g_test_add_func ("/engine/onnx-import/batchnorm-fold", test_batchnorm_fold);
  g_test_add_func ("/engine/onnx-import/shape-chain-folded",
                   test_shape_chain_folded);
  g_test_add_func ("/engine/onnx-import/keras-vgg", test_keras_vgg);
  g_test_add_func ("/engine/onnx-import/torch-description",
                   test_torch_description);
  g_test_add_func ("/engine/onnx-import/dynamic-size", test_dynamic_size);
  g_test_add_func ("/engine/onnx-import/from-memory", test_from_memory);
  g_test_add_func ("/engine/onnx-import/unpack-out-of-memory",
                   test_unpack_out_of_memory);
  g_test_add_func ("/engine/onnx-import/unpack-big", test_unpack_big);
  for (size_t k = 0; k < G_N_ELEMENTS (broken); k++)
    {
      g_autofree char *test = g_strdup_printf ("/engine/onnx-import/broken/%s",
                                               broken[k].file);
      g_test_add_data_func (test, &broken[k], test_broken);
    }
  g_test_add_func ("/engine/onnx-import/broken/directory", test_directory);
  g_test_add_func ("/engine/onnx-import/damaged", test_damaged);
  return g_test_run ();
}
