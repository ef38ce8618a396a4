/* pretrain.c: Graft's bundled backbones, trained from scratch by Graft's
 * own engine on Fashion-MNIST classes 0–4 (T-shirt/top, Trouser, Pullover,
 * Dress, Coat), reproducibly.  There is no ImageNet model that may be
 * shipped here, so Graft makes its own: small, seeded, and honest about
 * what they know (clothing silhouettes, not photographs).
 *
 *   pretrain --arch plain|resnet --out FILE.onnx [--epochs N] [--seed S]
 *   pretrain --samples DIR [--per-class N]
 *
 * The second form writes the held-out classes 5–9 as class folders of
 * PNGs: the sample data "Try the sample data" opens.
 */
#define G_LOG_DOMAIN "graft-pretrain"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gf-engine.h"
#include "gf-graph.h"
#include "gf-onnx.h"
#include "gf-optim.h"
#include "ops/gf-loss.h"

#define SIDE 28
#define PIXELS (SIDE * SIDE)
#define CHANNELS 3
#define N_CLASSES 5
#define SHIFT 2               /* random crop: up to 2 pixels each way */
#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
/* Fashion-MNIST's pixel mean and standard deviation, over [0, 1]. */
#define FASHION_MEAN 0.2860
#define FASHION_STD 0.3530

static const char *const class_names[10] = {
  "t-shirt_top", "trouser", "pullover", "dress", "coat",
  "sandal", "shirt", "sneaker", "bag", "ankle_boot",
};

typedef struct
{
  guint8 *images;     /* n × 28 × 28 */
  guint8 *labels;
  gsize n;
} Split;

static void
split_clear (Split *split)
{
  g_clear_pointer (&split->images, g_free);
  g_clear_pointer (&split->labels, g_free);
}

/* ---- Reading the idx files ----------------------------------------------- */

static GBytes *
read_gz (const char *dir, const char *base, GError **error)
{
  g_autofree char *path = g_strdup_printf ("%s/%s.gz", dir, base);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GInputStream) raw = G_INPUT_STREAM (g_file_read (file, NULL,
                                                              error));
  g_autoptr (GConverter) zlib = NULL;
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();

  if (raw == NULL)
    return NULL;
  zlib = G_CONVERTER (g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP));
  in = g_converter_input_stream_new (raw, zlib);
  if (g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                              NULL, error) < 0)
    return NULL;
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

static guint32
be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8
    | p[3];
}

/* The pictures of @split ("train" or "t10k") whose label is in
 * [first, last]. */
static gboolean
load_split (const char *dir, const char *split, guint first, guint last,
            Split *out, GError **error)
{
  g_autofree char *images_name = g_strdup_printf ("%s-images-idx3-ubyte",
                                                  split);
  g_autofree char *labels_name = g_strdup_printf ("%s-labels-idx1-ubyte",
                                                  split);
  g_autoptr (GBytes) images = read_gz (dir, images_name, error);
  g_autoptr (GBytes) labels = images ? read_gz (dir, labels_name, error)
    : NULL;
  const guint8 *im, *lb;
  gsize n;

  if (labels == NULL)
    return FALSE;
  im = g_bytes_get_data (images, NULL);
  lb = g_bytes_get_data (labels, NULL);
  n = be32 (lb + 4);
  if (be32 (im) != 2051 || be32 (lb) != 2049 || be32 (im + 4) != n
      || g_bytes_get_size (images) < 16 + n * PIXELS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: not Fashion-MNIST idx files", dir);
      return FALSE;
    }
  out->images = g_new (guint8, n * PIXELS);
  out->labels = g_new (guint8, n);
  out->n = 0;
  for (gsize i = 0; i < n; i++)
    if (lb[8 + i] >= first && lb[8 + i] <= last)
      {
        memcpy (out->images + out->n * PIXELS, im + 16 + i * PIXELS, PIXELS);
        out->labels[out->n++] = lb[8 + i];
      }
  return TRUE;
}

/* ---- Building the networks ------------------------------------------------- */

typedef struct
{
  GfGraph *graph;
  GfRng rng;
  int input;
} Net;

static int
param (Net *net, const char *name, GfTensorKind kind, size_t ndim,
       const size_t *dims, double bound, float fill)
{
  size_t count = 1;
  g_autofree float *values = NULL;
  int id;

  for (size_t i = 0; i < ndim; i++)
    count *= dims[i];
  values = g_new (float, count);
  for (size_t i = 0; i < count; i++)
    values[i] = bound > 0
      ? (float) (bound * (2 * gf_rng_uniform (&net->rng) - 1)) : fill;
  id = gf_graph_add_param (net->graph, name, kind, ndim, dims, values, NULL);
  g_assert (id >= 0);
  if (kind == GF_TENSOR_PARAM)
    gf_graph_set_trainable (net->graph, id, TRUE, NULL);
  return id;
}

static int
node (Net *net, const char *name, GfNodeDesc desc, size_t n, const int *in)
{
  GfError error = { 0 };
  int out;

  desc.n_inputs = n;
  memcpy (desc.inputs, in, n * sizeof *in);
  out = gf_graph_add_node (net->graph, name, &desc, name, &error);
  if (out < 0)
    g_error ("%s", error.message);
  return out;
}

/* conv k×k (He-uniform) → BatchNorm → optional ReLU, named @prefix.*. */
static int
conv_bn (Net *net, const char *prefix, int x, size_t in, size_t out,
         size_t k, size_t stride, gboolean relu)
{
  g_autofree char *conv = g_strconcat (prefix, ".conv", NULL);
  g_autofree char *w = g_strconcat (prefix, ".conv.weight", NULL);
  g_autofree char *bn = g_strconcat (prefix, ".bn", NULL);
  g_autofree char *act = g_strconcat (prefix, ".relu", NULL);
  char names[4][96];
  size_t wd[] = { out, in, k, k };
  GfNodeDesc c = { .kind = GF_OP_CONV }, b = { .kind = GF_OP_BATCHNORM };
  GfNodeDesc r = { .kind = GF_OP_ACTIVATION };
  const char *suffix[4] = { "weight", "bias", "running_mean", "running_var" };
  int stats[4];

  c.attr.conv = (GfConv2d) { .stride_h = stride, .stride_w = stride,
                             .dilation_h = 1, .dilation_w = 1,
                             .pad_top = k / 2, .pad_left = k / 2,
                             .pad_bottom = k / 2, .pad_right = k / 2,
                             .groups = 1 };
  x = node (net, conv, c, 2, (int[]) {
              x, param (net, w, GF_TENSOR_PARAM, 4, wd,
                        sqrt (6.0 / (double) (in * k * k)), 0) });
  for (int i = 0; i < 4; i++)
    {
      snprintf (names[i], sizeof names[i], "%s.bn.%s", prefix, suffix[i]);
      stats[i] = param (net, names[i], i < 2 ? GF_TENSOR_PARAM
                        : GF_TENSOR_STATE, 1, &out, 0, i == 0 || i == 3);
    }
  b.attr.batchnorm.epsilon = 1e-5;
  b.attr.batchnorm.momentum = 0.9;
  x = node (net, bn, b, 5, (int[]) { x, stats[0], stats[1], stats[2],
                                     stats[3] });
  r.attr.activation.kind = GF_ACT_RELU;
  return relu ? node (net, act, r, 1, &x) : x;
}

static int
maxpool (Net *net, const char *name, int x)
{
  GfNodeDesc d = { .kind = GF_OP_MAXPOOL };

  d.attr.pool = (GfPool2d) { .kernel_h = 2, .kernel_w = 2, .stride_h = 2,
                             .stride_w = 2, .dilation_h = 1,
                             .dilation_w = 1 };
  return node (net, name, d, 1, &x);
}

/* Two 3×3 convolutions with the input added back (through a 1×1
 * convolution when the shape changes), as in ResNet's basic block. */
static int
basic_block (Net *net, const char *prefix, int x, size_t in, size_t out,
             size_t stride)
{
  g_autofree char *a = g_strconcat (prefix, ".a", NULL);
  g_autofree char *b = g_strconcat (prefix, ".b", NULL);
  g_autofree char *down = g_strconcat (prefix, ".down", NULL);
  g_autofree char *add = g_strconcat (prefix, ".add", NULL);
  g_autofree char *relu = g_strconcat (prefix, ".relu", NULL);
  GfNodeDesc r = { .kind = GF_OP_ACTIVATION };
  int y = conv_bn (net, a, x, in, out, 3, stride, TRUE);

  y = conv_bn (net, b, y, out, out, 3, 1, FALSE);
  if (stride != 1 || in != out)
    x = conv_bn (net, down, x, in, out, 1, stride, FALSE);
  y = node (net, add, (GfNodeDesc) { .kind = GF_OP_ADD }, 2, (int[]) { y, x });
  r.attr.activation.kind = GF_ACT_RELU;
  return node (net, relu, r, 1, &y);
}

static int
classifier (Net *net, int x, size_t features)
{
  GfNodeDesc gemm = { .kind = GF_OP_GEMM };
  size_t wd[] = { N_CLASSES, features }, bd[] = { N_CLASSES };
  double bound = 1.0 / sqrt ((double) features);

  x = node (net, "pool", (GfNodeDesc) { .kind = GF_OP_GLOBAL_AVGPOOL }, 1,
            &x);
  x = node (net, "flatten", (GfNodeDesc) { .kind = GF_OP_FLATTEN }, 1, &x);
  gemm.attr.gemm.trans_b = true;
  gemm.attr.gemm.alpha = gemm.attr.gemm.beta = 1.0;
  return node (net, "fc", gemm, 3, (int[]) {
                 x, param (net, "fc.weight", GF_TENSOR_PARAM, 2, wd, bound, 0),
                 param (net, "fc.bias", GF_TENSOR_PARAM, 1, bd, bound, 0) });
}

/* Plain: five conv-BN-ReLU layers in three stages, 96 channels at 7×7. */
static int
build_plain (Net *net)
{
  int x = conv_bn (net, "conv1", net->input, CHANNELS, 24, 3, 1, TRUE);

  x = conv_bn (net, "conv2", x, 24, 24, 3, 1, TRUE);
  x = maxpool (net, "pool1", x);
  x = conv_bn (net, "conv3", x, 24, 48, 3, 1, TRUE);
  x = conv_bn (net, "conv4", x, 48, 48, 3, 1, TRUE);
  x = maxpool (net, "pool2", x);
  x = conv_bn (net, "conv5", x, 48, 96, 3, 1, TRUE);
  return classifier (net, x, 96);
}

/* Residual: a stem and four basic blocks, 64 channels at 7×7. */
static int
build_resnet (Net *net)
{
  int x = conv_bn (net, "stem", net->input, CHANNELS, 16, 3, 1, TRUE);

  x = basic_block (net, "block1", x, 16, 16, 1);
  x = basic_block (net, "block2", x, 16, 32, 2);
  x = basic_block (net, "block3", x, 32, 64, 2);
  x = basic_block (net, "block4", x, 64, 64, 1);
  return classifier (net, x, 64);
}

/* ---- Training -------------------------------------------------------------- */

typedef struct
{
  const char *arch;
  const char *out;
  const char *data;
  const char *samples;
  int epochs, batch, per_class, threads;
  gint64 seed;
  double lr;
} Options;

/* One picture into the input, normalised and copied to three channels;
 * in training shifted by up to SHIFT pixels and mirrored at random. */
static void
fill_image (const guint8 *src, gboolean augment, GfRng *rng, gf_real *dst)
{
  int dx = augment ? (int) gf_rng_below (rng, 2 * SHIFT + 1) - SHIFT : 0;
  int dy = augment ? (int) gf_rng_below (rng, 2 * SHIFT + 1) - SHIFT : 0;
  gboolean flip = augment && (gf_rng_u32 (rng) & 1);
  const double background = (0 - FASHION_MEAN) / FASHION_STD;

  for (int y = 0; y < SIDE; y++)
    for (int x = 0; x < SIDE; x++)
      {
        int sx = (flip ? SIDE - 1 - x : x) + dx, sy = y + dy;
        double v = sx < 0 || sy < 0 || sx >= SIDE || sy >= SIDE ? background
          : (src[sy * SIDE + sx] / 255.0 - FASHION_MEAN) / FASHION_STD;
        for (int c = 0; c < CHANNELS; c++)
          dst[c * PIXELS + y * SIDE + x] = (gf_real) v;
      }
}

static void
shuffle (guint *order, gsize n, GfRng *rng)
{
  for (gsize i = n; i > 1; i--)
    {
      guint j = gf_rng_below (rng, (guint32) i), t = order[i - 1];
      order[i - 1] = order[j];
      order[j] = t;
    }
}

static double
evaluate (Net *net, int logits, const Split *test, int batch)
{
  gsize correct = 0;

  for (gsize start = 0; start < test->n; start += (gsize) batch)
    {
      gsize m = MIN ((gsize) batch, test->n - start);
      gf_real *in = gf_graph_tensor_data (net->graph, net->input);
      const gf_real *out;
      for (gsize i = 0; i < m; i++)
        fill_image (test->images + (start + i) * PIXELS, FALSE, NULL,
                    in + i * CHANNELS * PIXELS);
      gf_graph_forward (net->graph, m, GF_GRAPH_INFER, NULL);
      out = gf_graph_tensor_data (net->graph, logits);
      for (gsize i = 0; i < m; i++)
        {
          guint best = 0;
          for (guint c = 1; c < N_CLASSES; c++)
            if (out[i * N_CLASSES + c] > out[i * N_CLASSES + best])
              best = c;
          correct += best == test->labels[start + i];
        }
    }
  return (double) correct / (double) test->n;
}

static void
train_epoch (Net *net, int logits, const Split *train, const Options *o,
             GfOptimizer *opt, GfParamGroup *group, const GfSchedule *sched,
             guint *step, double *mean_loss)
{
  g_autofree guint *order = g_new (guint, train->n);
  g_autofree int32_t *labels = g_new (int32_t, o->batch);
  g_autofree gf_real *probs = g_new (gf_real, o->batch * N_CLASSES);
  g_autofree gf_real *dlogits = g_new (gf_real, o->batch * N_CLASSES);
  double sum = 0;

  for (gsize i = 0; i < train->n; i++)
    order[i] = (guint) i;
  shuffle (order, train->n, &net->rng);
  for (gsize start = 0; start + (gsize) o->batch <= train->n;
       start += (gsize) o->batch, (*step)++)
    {
      gf_real *in = gf_graph_tensor_data (net->graph, net->input);
      for (int i = 0; i < o->batch; i++)
        {
          fill_image (train->images + order[start + i] * PIXELS, TRUE,
                      &net->rng, in + i * CHANNELS * PIXELS);
          labels[i] = train->labels[order[start + i]];
        }
      gf_graph_forward (net->graph, o->batch, GF_GRAPH_TRAIN, NULL);
      sum += gf_softmax_cross_entropy_forward (
        o->batch, N_CLASSES, gf_graph_tensor_data (net->graph, logits),
        labels, NULL, 0.0, probs);
      gf_softmax_cross_entropy_backward (o->batch, N_CLASSES, probs, labels,
                                         NULL, 0.0, 1.0, dlogits);
      gf_graph_zero_grad (net->graph);
      gf_graph_backward (net->graph, o->batch, dlogits, NULL);
      gf_optimizer_step (opt, gf_schedule_lr (sched, *step),
                         gf_graph_params (net->graph, NULL),
                         gf_graph_grads (net->graph, NULL), group, 1);
    }
  *mean_loss = sum / (double) (train->n / (gsize) o->batch);
}

/* ---- Writing ---------------------------------------------------------------- */

static GfMetadataEntry *
model_metadata (const Options *o, double accuracy, size_t *n)
{
  GfPreprocess pre;
  GfMetadataEntry *meta = NULL;
  g_autofree char *acc = g_strdup_printf ("%.4f", accuracy);
  g_autofree char *command = g_strdup_printf (
    "tools/pretrain --arch %s --epochs %d --batch %d --seed %" G_GINT64_FORMAT
    " --out %s", o->arch, o->epochs, o->batch, o->seed, o->out);
  gboolean plain = g_str_equal (o->arch, "plain");

  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, SIDE, SIDE);
  for (int c = 0; c < 3; c++)
    {
      pre.mean[c] = FASHION_MEAN;
      pre.std[c] = FASHION_STD;
    }
  gf_preprocess_to_metadata (&pre, &meta, n, NULL);
  gf_metadata_set (&meta, n, "graft.name", plain
                   ? "Fashion CNN (Graft)" : "Fashion ResNet (Graft)", NULL);
  gf_metadata_set (&meta, n, "graft.source", "pretrained by Graft's "
                   "tools/pretrain on Fashion-MNIST", NULL);
  gf_metadata_set (&meta, n, "graft.data", "Fashion-MNIST (Zalando "
                   "Research), train split, classes 0-4: t-shirt_top, "
                   "trouser, pullover, dress, coat", NULL);
  gf_metadata_set (&meta, n, "graft.data_licence", "MIT", NULL);
  gf_metadata_set (&meta, n, "graft.command", command, NULL);
  if (o->epochs == 0)
    {
      gf_metadata_set (&meta, n, "graft.name", "untrained (random weights)",
                       NULL);
      return meta;
    }
  gf_metadata_set (&meta, n, "graft.test_accuracy", acc, NULL);
  gf_metadata_set (&meta, n, "graft.test_data", "Fashion-MNIST test split, "
                   "classes 0-4 (5000 pictures)", NULL);
  return meta;
}

static gboolean
save_model (Net *net, int logits, const Options *o, double accuracy,
            GError **error)
{
  size_t n_meta = 0;
  GfMetadataEntry *meta = model_metadata (o, accuracy, &n_meta);
  GfOnnxExport what = { net->input, logits, o->arch, meta, n_meta };
  GfError gf_error = { 0 };
  GfStatus status = gf_onnx_save (net->graph, &what, o->out, &gf_error);

  gf_metadata_free (meta, n_meta);
  if (status != GF_OK)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", o->out,
                 gf_error.message);
  return status == GF_OK;
}

/* The held-out classes 5–9 as class folders of RGB PNGs, the first
 * @per_class of each from the train split: the sample data. */
static gboolean
write_samples (const Options *o, GError **error)
{
  Split split = { 0 };
  guint written[10] = { 0 };

  if (!load_split (o->data, "train", 5, 9, &split, error))
    return FALSE;
  for (gsize i = 0; i < split.n; i++)
    {
      guint label = split.labels[i];
      g_autoptr (GdkPixbuf) pixbuf = NULL;
      g_autofree char *dir = NULL, *path = NULL;
      guchar *p;
      int stride;
      if (written[label] >= (guint) o->per_class)
        continue;
      pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, SIDE, SIDE);
      p = gdk_pixbuf_get_pixels (pixbuf);
      stride = gdk_pixbuf_get_rowstride (pixbuf);
      for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++)
          memset (p + y * stride + x * 3, split.images[i * PIXELS + y * SIDE
                                                       + x], 3);
      dir = g_build_filename (o->samples, class_names[label], NULL);
      path = g_strdup_printf ("%s/%04u.png", dir, written[label]++);
      if (g_mkdir_with_parents (dir, 0755) != 0
          || !gdk_pixbuf_save (pixbuf, path, "png", error, NULL))
        {
          split_clear (&split);
          return FALSE;
        }
    }
  split_clear (&split);
  return TRUE;
}

/* ---- Main ------------------------------------------------------------------------ */

static gboolean
pretrain (const Options *o, GError **error)
{
  Split train = { 0 }, test = { 0 };
  Net net = { gf_graph_new () };
  size_t dims[] = { 1, CHANNELS, SIDE, SIDE };
  GfOptimizerConfig oc = { GF_OPTIMIZER_ADAM, 0, false, 0.9, 0.999, 1e-8 };
  GfParamGroup group = { 0, 0, 1.0, 0.0, 0 };
  GfOptimizer opt;
  GfSchedule sched = { GF_SCHEDULE_COSINE };
  guint step = 0;
  double accuracy = 0;
  gboolean saved;
  int logits;

  /* --epochs 0 writes the untrained network: the baseline a transfer
   * must beat, needing no data set. */
  if (o->epochs > 0 && (!load_split (o->data, "train", 0, 4, &train, error)
                        || !load_split (o->data, "t10k", 0, 4, &test,
                                        error)))
    {
      gf_graph_free (net.graph);
      split_clear (&train);
      return FALSE;
    }
  gf_rng_seed (&net.rng, (guint64) o->seed);
  net.input = gf_graph_add_input (net.graph, "image", 4, dims, NULL);
  logits = g_str_equal (o->arch, "plain") ? build_plain (&net)
    : build_resnet (&net);
  g_assert (gf_graph_compile (net.graph, NULL) == GF_OK);
  g_assert (gf_graph_plan (net.graph, o->batch, GF_GRAPH_TRAIN, NULL)
            == GF_OK);
  gf_graph_params (net.graph, &group.count);
  gf_optimizer_init (&opt, &oc, group.count, NULL);
  sched.base_lr = o->lr;
  sched.warmup_steps = train.n / o->batch / 2;
  sched.total_steps = MAX (o->epochs * (train.n / o->batch), 1);
  for (int epoch = 1; epoch <= o->epochs; epoch++)
    {
      double loss;
      gint64 start = g_get_monotonic_time ();
      train_epoch (&net, logits, &train, o, &opt, &group, &sched, &step,
                   &loss);
      accuracy = evaluate (&net, logits, &test, o->batch);
      fprintf (stderr, "%s epoch %d: loss %.4f, test accuracy %.2f %% "
               "(%.0f s)\n", o->arch, epoch, loss, 100 * accuracy,
               (g_get_monotonic_time () - start) / 1e6);
    }
  if (o->epochs > 0)
    printf ("%s: test accuracy %.2f %% on Fashion-MNIST classes 0-4\n",
            o->out, 100 * accuracy);
  gf_optimizer_clear (&opt);
  saved = save_model (&net, logits, o, accuracy, error);
  gf_graph_free (net.graph);
  split_clear (&train);
  split_clear (&test);
  return saved;
}

int
main (int argc, char **argv)
{
  Options o = { NULL, NULL, NULL, NULL, 8, 64, 60, 0, 1, 2e-3 };
  g_autofree char *arch = NULL, *out = NULL, *data = NULL, *samples = NULL;
  const GOptionEntry entries[] = {
    { "arch", 0, 0, G_OPTION_ARG_STRING, &arch, "plain or resnet", "A" },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "The ONNX file", "FILE" },
    { "data", 0, 0, G_OPTION_ARG_FILENAME, &data, "Fashion-MNIST folder",
      "DIR" },
    { "samples", 0, 0, G_OPTION_ARG_FILENAME, &samples,
      "Write classes 5-9 as sample folders instead", "DIR" },
    { "per-class", 0, 0, G_OPTION_ARG_INT, &o.per_class, "Samples a class",
      "N" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &o.epochs, "Epochs (8)", "N" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &o.batch, "Batch (64)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &o.seed, "Seed (1)", "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &o.threads, "Threads", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("");
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "pretrain: %s\n", error->message);
      return 2;
    }
  o.arch = arch != NULL ? arch : "plain";
  o.out = out;
  o.data = data != NULL ? data : DEFAULT_DATA;
  o.samples = samples;
  if (!g_str_equal (o.arch, "plain") && !g_str_equal (o.arch, "resnet"))
    {
      fprintf (stderr, "pretrain: --arch is plain or resnet\n");
      return 2;
    }
  gf_engine_set_threads (o.threads);
  if (o.samples != NULL ? !write_samples (&o, &error)
      : o.out == NULL ? (g_set_error_literal (&error, G_IO_ERROR,
                                              G_IO_ERROR_INVALID_ARGUMENT,
                                              "give --out or --samples"), TRUE)
      : !pretrain (&o, &error))
    {
      fprintf (stderr, "pretrain: %s\n", error->message);
      return 1;
    }
  return 0;
}
