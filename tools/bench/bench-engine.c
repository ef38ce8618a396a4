/* bench-engine.c: Graft's engine timed on a real-size backbone, one job a
 * process, for tools/bench/compare (which runs PyTorch and ONNX Runtime
 * on the same work and prints them side by side).
 *
 *   bench-engine forward MODEL.onnx [options]
 *       the backbone from image to its bottleneck, inference mode (the
 *       pass feature extraction makes over every picture)
 *   bench-engine finetune MODEL.onnx [options]
 *       fine-tuning steps with every weight trainable: backbone to the
 *       bottleneck, global average pooling and a Dense(--classes) head,
 *       BatchNorm in training mode, softmax cross-entropy, SGD with
 *       momentum 0.9 (zero the gradients, forward, loss, backward, step);
 *       give it the export that keeps BatchNormalization nodes
 *   bench-engine layers MODEL.onnx [options]
 *       each distinct convolution of the backbone up to the bottleneck:
 *       the engine's GFLOP/s forward and backward beside one bare
 *       cblas_sgemm of the size the im2col path multiplies
 *
 *   bench-engine core
 *       prints only the line "core NAME"
 *
 * Options: --images N (128), --batch N (32), --threads N (every core),
 * --repeats N (3), --classes N (3).  After one warm-up batch, forward and
 * finetune print one line "rate R" (images per second) per repeat; every
 * job ends with "core NAME" (OpenBLAS' kernels) and "peak_rss_kib N".
 * Built, not installed, not a test.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cblas.h>
#include <glib.h>

#include "gf-blocks.h"
#include "gf-engine.h"
#include "gf-onnx.h"
#include "gf-optim.h"
#include "gf-rng.h"
#include "ops/gf-conv.h"
#include "ops/gf-loss.h"
#include "graft-head.h"

#define FINETUNE_LR 1e-3     /* speed does not depend on it */
#define FINETUNE_MOMENTUM 0.9
#define BENCH_SEED 7         /* the head's weights and the labels */

typedef struct
{
  const char *model;
  guint images, batch, threads, repeats, classes;
} Bench;

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* The backbone from image to bottleneck as a new, uncompiled graph, and
 * the channels of the bottleneck map; NULL (with a message) when the file
 * does not load. */
static GfGraph *
backbone_to_cut (const Bench *b, int *input, int *cut, size_t *channels)
{
  GfModel *model = NULL;
  GfError error = { 0 };
  size_t map[GF_MAX_DIMS];
  GfGraph *g = NULL;
  int at;

  if (gf_onnx_load (b->model, NULL, &model, &error) != GF_OK
      || gf_find_bottleneck (model->graph, model->input, model->output, &at,
                             &error) != GF_OK)
    {
      fprintf (stderr, "bench-engine: %s: %s\n", b->model, error.message);
      gf_model_free (model);
      return NULL;
    }
  gf_graph_tensor_shape (model->graph, at, map);
  g = gf_graph_extract (model->graph, model->input, at, input, cut, &error);
  if (g == NULL)
    fprintf (stderr, "bench-engine: %s: %s\n", b->model, error.message);
  *channels = map[1];
  gf_model_free (model);
  return g;
}

/* A fixed pattern in a full batch of @input (speed does not depend on
 * it). */
static void
fill_input (GfGraph *g, int input, guint batch)
{
  gf_real *x = gf_graph_tensor_data (g, input);

  for (gsize i = 0; i < gf_graph_tensor_count (g, input) * batch; i++)
    x[i] = (gf_real) ((i * 2654435761u) % 1000) / 500.0f - 1.0f;
}

/* ---- forward ------------------------------------------------------------------ */

static int
bench_forward (const Bench *b)
{
  size_t channels;
  int input, out;
  GfGraph *g = backbone_to_cut (b, &input, &out, &channels);

  if (g == NULL || gf_graph_compile (g, NULL) != GF_OK
      || gf_graph_plan (g, b->batch, GF_GRAPH_INFER, NULL) != GF_OK)
    {
      fprintf (stderr, "bench-engine: cannot plan %s\n", b->model);
      g_clear_pointer (&g, gf_graph_free);
      return 1;
    }
  fill_input (g, input, b->batch);
  gf_graph_forward (g, b->batch, GF_GRAPH_INFER, NULL);   /* warm-up */
  for (guint r = 0; r < b->repeats; r++)
    {
      double start = now ();

      for (guint done = 0; done < b->images; done += b->batch)
        gf_graph_forward (g, MIN (b->batch, b->images - done),
                          GF_GRAPH_INFER, NULL);
      printf ("rate %.3f\n", b->images / (now () - start));
      fflush (stdout);
    }
  gf_graph_free (g);
  return 0;
}

/* ---- finetune ----------------------------------------------------------------- */

/* What a fine-tuning step works on: the backbone to its bottleneck and
 * the head as one graph planned for training, every weight trainable;
 * SGD with one group per weight, as the trainer builds it. */
typedef struct
{
  GfGraph *graph;
  int input, logits;
  guint classes;
  GfOptimizer optimizer;
  GfParamGroup *groups;
  size_t n_groups;
  int32_t *labels;             /* (batch), fixed */
  gf_real *probs, *dlogits;    /* (batch, classes) */
} Finetune;

static void
finetune_clear (Finetune *f)
{
  g_clear_pointer (&f->graph, gf_graph_free);
  gf_optimizer_clear (&f->optimizer);
  g_clear_pointer (&f->groups, g_free);
  g_clear_pointer (&f->labels, g_free);
  g_clear_pointer (&f->probs, g_free);
  g_clear_pointer (&f->dlogits, g_free);
}

/* Backbone → bottleneck → graft_head_append's head (no hidden layer,
 * dropout 0), compiled and planned for training; BatchNorms are not
 * frozen, so they normalise with batch statistics. */
static gboolean
finetune_graph (const Bench *b, Finetune *f)
{
  GraftHeadLayout layout = { b->classes, 0, 0.0, FALSE };
  size_t channels;
  int cut;
  GfRng rng;

  f->graph = backbone_to_cut (b, &f->input, &cut, &channels);
  if (f->graph == NULL)
    return FALSE;
  gf_rng_seed (&rng, BENCH_SEED);
  f->logits = graft_head_append (f->graph, cut, channels, &layout, &rng,
                                 NULL);
  if (f->logits < 0
      || gf_graph_set_outputs (f->graph, &f->logits, 1, NULL) != GF_OK
      || gf_graph_compile (f->graph, NULL) != GF_OK)
    return FALSE;
  for (size_t i = 0; i < gf_graph_n_tensors (f->graph); i++)
    if (gf_graph_tensor_kind (f->graph, (int) i) == GF_TENSOR_PARAM)
      gf_graph_set_trainable (f->graph, (int) i, TRUE, NULL);
  return gf_graph_plan (f->graph, b->batch, GF_GRAPH_TRAIN, NULL) == GF_OK;
}

static gboolean
finetune_optimizer (Finetune *f)
{
  GfOptimizerConfig config = { .kind = GF_OPTIMIZER_SGD,
                               .momentum = FINETUNE_MOMENTUM };
  size_t count;

  gf_graph_params (f->graph, &count);
  if (gf_optimizer_init (&f->optimizer, &config, count, NULL) != GF_OK)
    return FALSE;
  f->groups = g_new0 (GfParamGroup, gf_graph_n_tensors (f->graph));
  for (size_t i = 0; i < gf_graph_n_tensors (f->graph); i++)
    if (gf_graph_is_trainable (f->graph, (int) i))
      {
        GfParamGroup *g = &f->groups[f->n_groups++];
        gf_graph_param_range (f->graph, (int) i, &g->offset, &g->count);
        g->lr_scale = 1.0;
      }
  return TRUE;
}

static gboolean
finetune_new (const Bench *b, Finetune *f)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (BENCH_SEED);

  f->classes = b->classes;
  if (!finetune_graph (b, f) || !finetune_optimizer (f))
    return FALSE;
  fill_input (f->graph, f->input, b->batch);
  f->labels = g_new (int32_t, b->batch);
  for (guint i = 0; i < b->batch; i++)
    f->labels[i] = g_rand_int_range (rand, 0, (gint32) b->classes);
  f->probs = g_new (gf_real, b->batch * b->classes);
  f->dlogits = g_new (gf_real, b->batch * b->classes);
  return TRUE;
}

/* One step over the first @n pictures, in the trainer's order: forward
 * keeping what backward needs, loss, gradients, SGD. */
static gboolean
finetune_step (Finetune *f, guint n)
{
  if (gf_graph_forward (f->graph, n, GF_GRAPH_TRAIN, NULL) != GF_OK)
    return FALSE;
  gf_softmax_cross_entropy_forward (n, f->classes,
                                    gf_graph_tensor_data (f->graph,
                                                          f->logits),
                                    f->labels, NULL, 0.0, f->probs);
  gf_softmax_cross_entropy_backward (n, f->classes, f->probs, f->labels,
                                     NULL, 0.0, 1.0, f->dlogits);
  gf_graph_zero_grad (f->graph);
  if (gf_graph_backward (f->graph, n, f->dlogits, NULL) != GF_OK)
    return FALSE;
  gf_optimizer_step (&f->optimizer, FINETUNE_LR,
                     gf_graph_params (f->graph, NULL),
                     gf_graph_grads (f->graph, NULL), f->groups,
                     f->n_groups);
  return TRUE;
}

static int
bench_finetune (const Bench *b)
{
  Finetune f = { 0 };

  if (!finetune_new (b, &f) || !finetune_step (&f, b->batch))  /* warm-up */
    {
      fprintf (stderr, "bench-engine: cannot fine-tune %s\n", b->model);
      finetune_clear (&f);
      return 1;
    }
  for (guint r = 0; r < b->repeats; r++)
    {
      double start = now ();

      for (guint done = 0; done < b->images; done += b->batch)
        if (!finetune_step (&f, MIN (b->batch, b->images - done)))
          {
            finetune_clear (&f);
            return 1;
          }
      printf ("rate %.3f\n", b->images / (now () - start));
      fflush (stdout);
    }
  finetune_clear (&f);
  return 0;
}

/* ---- layers ------------------------------------------------------------------- */

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Median seconds of @repeats calls of @run (after one warm-up). */
static double
median_seconds (void (*run) (void *), void *data, guint repeats)
{
  double t[64];

  repeats = CLAMP (repeats, 1, G_N_ELEMENTS (t));
  run (data);
  for (guint r = 0; r < repeats; r++)
    {
      double start = now ();

      run (data);
      t[r] = now () - start;
    }
  qsort (t, repeats, sizeof *t, compare_doubles);
  return t[repeats / 2];
}

typedef struct
{
  GfConv2d conv;
  gf_real *x, *w, *b, *y, *dx, *dw, *db, *ws;
  /* The GEMM one group's im2col product makes over the whole batch. */
  int m, n, k;
  float *ga, *gb, *gc;
} Layer;

static void
layer_forward (void *data)
{
  Layer *l = data;

  gf_conv2d_forward (&l->conv, l->x, l->w, l->b, l->y, l->ws);
}

static void
layer_backward (void *data)
{
  Layer *l = data;

  gf_conv2d_backward (&l->conv, l->x, l->w, l->y, l->dx, l->dw, l->db,
                      l->ws);
}

static void
layer_sgemm (void *data)
{
  Layer *l = data;

  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, l->m, l->n, l->k,
               1.0f, l->ga, l->k, l->gb, l->n, 0.0f, l->gc, l->n);
}

static gf_real *
filled (size_t n)
{
  gf_real *p = g_new (gf_real, n);

  for (size_t i = 0; i < n; i++)
    p[i] = (gf_real) ((i * 2654435761u) % 1000) / 500.0f - 1.0f;
  return p;
}

static void
bench_layer (const GfConv2d *shape, const Bench *b)
{
  Layer l = { .conv = *shape };
  GfConv2d *c = &l.conv;
  size_t cg = c->in_channels / c->groups, mg = c->out_channels / c->groups;
  size_t nx, nw, ny;
  double flops, fwd, bwd, gemm = NAN;

  c->batch = b->batch;
  c->images_per_gemm = 0;
  if (gf_conv2d_init (c, NULL) != GF_OK)
    return;
  nx = c->batch * c->in_channels * c->in_h * c->in_w;
  nw = c->out_channels * cg * c->kernel_h * c->kernel_w;
  ny = c->batch * c->out_channels * c->out_h * c->out_w;
  l.x = filled (nx);
  l.w = filled (nw);
  l.b = filled (c->out_channels);
  l.y = filled (ny);
  l.dx = g_new (gf_real, nx);
  l.dw = g_new0 (gf_real, nw);
  l.db = g_new0 (gf_real, c->out_channels);
  l.ws = g_new (gf_real, MAX (gf_conv2d_workspace_size (c), 1));
  flops = 2.0 * ny * cg * c->kernel_h * c->kernel_w;
  fwd = median_seconds (layer_forward, &l, b->repeats);
  bwd = median_seconds (layer_backward, &l, b->repeats);
  if (c->groups == 1)
    {
      l.m = (int) mg;
      l.n = (int) (c->batch * c->out_h * c->out_w);
      l.k = (int) (cg * c->kernel_h * c->kernel_w);
      l.ga = filled ((size_t) l.m * l.k);
      l.gb = filled ((size_t) l.k * l.n);
      l.gc = g_new (float, (size_t) l.m * l.n);
      gemm = flops / median_seconds (layer_sgemm, &l, b->repeats) / 1e9;
    }
  printf ("layer %zux%zux%zu k%zux%zu s%zu g%zu -> %zux%zux%zu: "
          "forward %.1f, backward %.1f GFLOP/s, sgemm %.1f\n",
          c->in_channels, c->in_h, c->in_w, c->kernel_h, c->kernel_w,
          c->stride_h, c->groups, c->out_channels, c->out_h, c->out_w,
          flops / fwd / 1e9, 2 * flops / bwd / 1e9, gemm);
  fflush (stdout);
  g_free (l.x);
  g_free (l.w);
  g_free (l.b);
  g_free (l.y);
  g_free (l.dx);
  g_free (l.dw);
  g_free (l.db);
  g_free (l.ws);
  g_free (l.ga);
  g_free (l.gb);
  g_free (l.gc);
}

static gboolean
same_shape (const GfConv2d *a, const GfConv2d *b)
{
  return a->in_channels == b->in_channels && a->in_h == b->in_h
         && a->in_w == b->in_w && a->out_channels == b->out_channels
         && a->kernel_h == b->kernel_h && a->kernel_w == b->kernel_w
         && a->stride_h == b->stride_h && a->stride_w == b->stride_w
         && a->pad_top == b->pad_top && a->pad_left == b->pad_left
         && a->groups == b->groups && a->dilation_h == b->dilation_h;
}

static int
bench_layers (const Bench *b)
{
  g_autoptr (GArray) seen = g_array_new (FALSE, FALSE, sizeof (GfConv2d));
  size_t channels;
  int input, out;
  GfGraph *g = backbone_to_cut (b, &input, &out, &channels);

  if (g == NULL || gf_graph_compile (g, NULL) != GF_OK)
    {
      g_clear_pointer (&g, gf_graph_free);
      return 1;
    }
  for (size_t i = 0; i < gf_graph_n_nodes (g); i++)
    {
      const GfConv2d *c;
      gboolean known = FALSE;

      if (gf_graph_node_kind (g, i) != GF_OP_CONV)
        continue;
      c = &gf_graph_node_desc (g, i)->attr.conv;
      for (guint j = 0; j < seen->len && !known; j++)
        known = same_shape (c, &g_array_index (seen, GfConv2d, j));
      if (known)
        continue;
      g_array_append_val (seen, *c);
      bench_layer (c, b);
    }
  gf_graph_free (g);
  return 0;
}

/* ---- main --------------------------------------------------------------------- */

static guint
option_uint (const char *name, const char *text)
{
  long v = text != NULL ? strtol (text, NULL, 10) : 0;

  if (v <= 0 || v > 1 << 20)
    {
      fprintf (stderr, "bench-engine: %s needs a positive number\n", name);
      exit (2);
    }
  return (guint) v;
}

int
main (int argc, char **argv)
{
  Bench b = { NULL, 128, 32, g_get_num_processors (), 3, 3 };
  struct rusage usage;
  int status;

  if (argc == 2 && strcmp (argv[1], "core") == 0)
    {
      printf ("core %s\n", gf_engine_blas_core ());
      return 0;
    }
  if (argc < 3)
    {
      fprintf (stderr, "usage: bench-engine forward|finetune|layers "
                       "MODEL.onnx [--images N] [--batch N] [--threads N] "
                       "[--repeats N] [--classes N]\n");
      return 2;
    }
  b.model = argv[2];
  for (int i = 3; i + 1 < argc; i += 2)
    {
      guint v = option_uint (argv[i], argv[i + 1]);

      if (strcmp (argv[i], "--images") == 0)
        b.images = v;
      else if (strcmp (argv[i], "--batch") == 0)
        b.batch = v;
      else if (strcmp (argv[i], "--threads") == 0)
        b.threads = v;
      else if (strcmp (argv[i], "--repeats") == 0)
        b.repeats = v;
      else if (strcmp (argv[i], "--classes") == 0)
        b.classes = v;
      else
        {
          fprintf (stderr, "bench-engine: unknown option %s\n", argv[i]);
          return 2;
        }
    }
  gf_engine_set_threads ((int) b.threads);
  if (strcmp (argv[1], "forward") == 0)
    status = bench_forward (&b);
  else if (strcmp (argv[1], "finetune") == 0)
    status = bench_finetune (&b);
  else if (strcmp (argv[1], "layers") == 0)
    status = bench_layers (&b);
  else
    {
      fprintf (stderr, "bench-engine: unknown job %s\n", argv[1]);
      return 2;
    }
  getrusage (RUSAGE_SELF, &usage);
  printf ("core %s\npeak_rss_kib %ld\n", gf_engine_blas_core (),
          usage.ru_maxrss);
  return status;
}
