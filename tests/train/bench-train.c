/* bench-train.c: what feature extraction and fine-tuning cost on a
 * real-size backbone (SPEC §10, issue 5), against PyTorch on the same
 * machine.
 *
 *   1. Trains in extract mode on generated pictures: the first epoch runs
 *      the backbone over every picture, later ones only the head.  Prints
 *      the first epoch's seconds, the median of the later ones', and their
 *      ratio (the issue asks for later epochs ≥ 50× cheaper), next to what
 *      graft_estimate_mode () predicted from its probe.
 *   2. Times the forward pass those first epochs make — image to bottleneck,
 *      inference mode — in Graft's engine and in PyTorch
 *      (tools/bench/bench-torch-forward), same images, batch and threads;
 *      prints images per second for both and their ratio.
 *   3. Times fine-tuning steps with every weight trainable — backbone to
 *      bottleneck, global average pooling and a Dense(classes) head,
 *      BatchNorm in training mode, softmax cross-entropy, SGD with
 *      momentum 0.9 — in Graft's engine and in PyTorch
 *      (tools/bench/bench-torch-train), same images, batch and threads;
 *      prints images per second for both and their ratio.  The backbone
 *      is exported with its BatchNormalization nodes kept
 *      (tools/export-torchvision --keep-batchnorm), so that both sides
 *      train them; sections 1 and 2 use the inference export, whose
 *      BatchNorms are folded into the convolutions.
 *
 * Each run of section 1 keeps its feature cache in a folder of its own,
 * removed at the end: vectors cached by an earlier run would make every
 * first epoch as cheap as the later ones.
 *
 * Each figure is the median of a few repeats: the machine may be shared.
 * A benchmark, built but not run by `meson test`:
 *   meson test -C BUILD --benchmark --suite train -v bench-train
 * Environment: GRAFT_BENCH_MODEL (a torchvision name, resnet18),
 * GRAFT_BENCH_BACKBONE (its ONNX file, taking GRAFT_BENCH_SIZE pictures,
 * for all three sections; exported with tools/export-torchvision when
 * unset), GRAFT_BENCH_SIZE
 * (the backbone's picture side, 224), GRAFT_BENCH_IMAGES (128),
 * GRAFT_BENCH_BATCH (32), GRAFT_BENCH_THREADS (every core),
 * GRAFT_BENCH_EPOCHS (6), GRAFT_BENCH_REPEATS (3).
 */
#define G_LOG_DOMAIN "bench-train"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gf-blocks.h"
#include "gf-engine.h"
#include "gf-onnx.h"
#include "gf-optim.h"
#include "ops/gf-loss.h"
#include "graft-estimate.h"
#include "graft-feature-cache.h"
#include "graft-head.h"
#include "graft-run.h"
#include "train-test-pictures.h"

#define PYTHON "/usr/bin/python3"
#define PICTURE_SIDE 256     /* saved; the backbone resizes to its own */
#define N_CLASSES 3
#define FINETUNE_LR 1e-3     /* speed does not depend on it */
#define FINETUNE_MOMENTUM 0.9
#define BENCH_SEED 7         /* the head's weights and the labels */

typedef struct
{
  const char *model;
  char *backbone;          /* BatchNorms folded: sections 1 and 2 */
  char *train_backbone;    /* BatchNorms kept: section 3 */
  guint images, batch, threads, epochs, repeats, size;
} Bench;

static guint
env_uint (const char *name, guint fallback)
{
  const char *text = g_getenv (name);

  return text != NULL && atoi (text) > 0 ? (guint) atoi (text) : fallback;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (GArray *values)
{
  g_array_sort (values, compare_doubles);
  if (values->len == 0)
    return NAN;
  return values->len % 2 ? g_array_index (values, double, values->len / 2)
    : (g_array_index (values, double, values->len / 2 - 1)
       + g_array_index (values, double, values->len / 2)) / 2;
}

static char *
tool_path (const char *name)
{
  return g_build_filename (g_getenv ("GRAFT_SOURCE_ROOT"), "tools", name,
                           NULL);
}

/* Runs @argv (NULL-terminated); its stdout, or NULL having said why. */
static char *
run_tool (const char *const *argv)
{
  g_autoptr (GError) error = NULL;
  char *out = NULL;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, &out, NULL, &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    {
      printf ("%s: %s\n", argv[1], error->message);
      g_free (out);
      return NULL;
    }
  return out;
}

/* ---- 1. Training in extract mode ------------------------------------------- */

/* Each epoch's seconds two ways: as its report gives them (training and
 * validation), and wall time since the previous epoch's report, which
 * adds what the run does between epochs — writing run.json and the
 * checkpoint. */
typedef struct
{
  GMainLoop *loop;
  GArray *seconds, *wall;
  gint64 last_us;
  char *failure;
} Watch;

static void
on_epoch (GraftRun *run, GraftEpochReport *r, Watch *w)
{
  gint64 now = g_get_monotonic_time ();
  double wall = (now - w->last_us) / 1e6;

  g_array_append_val (w->seconds, r->seconds);
  if (w->seconds->len > 1)
    g_array_append_val (w->wall, wall);
  w->last_us = now;
}

static void
on_finished (GraftRun *run, Watch *w)
{
  g_main_loop_quit (w->loop);
}

static void
on_failed (GraftRun *run, const char *message, Watch *w)
{
  w->failure = g_strdup (message);
  g_main_loop_quit (w->loop);
}

static GraftRunConfig *
bench_config (const Bench *b, const char *data)
{
  GraftRunConfig *c = graft_run_config_new (GRAFT_RUN_MODE_EXTRACT);

  c->backbone = g_strdup (b->backbone);
  c->data = g_new0 (char *, 2);
  c->data[0] = g_strdup (data);
  c->epochs = b->epochs;
  c->batch = b->batch;
  c->threads = b->threads;
  return c;
}

/* One run; its epochs' seconds, or NULL when it failed; the median
 * wall time of the later ones into @wall. */
static GArray *
train_once (const GraftRunConfig *c, const char *run_dir, double *wall)
{
  g_autoptr (GraftRun) run = graft_run_new (c, run_dir);
  g_autoptr (GArray) walls = g_array_new (FALSE, FALSE, sizeof (double));
  Watch w = { g_main_loop_new (NULL, FALSE),
              g_array_new (FALSE, FALSE, sizeof (double)), walls };

  g_signal_connect (run, "epoch", G_CALLBACK (on_epoch), &w);
  g_signal_connect (run, "finished", G_CALLBACK (on_finished), &w);
  g_signal_connect (run, "failed", G_CALLBACK (on_failed), &w);
  graft_run_start (run);
  g_main_loop_run (w.loop);
  g_main_loop_unref (w.loop);
  if (w.failure != NULL)
    {
      printf ("training failed: %s\n", w.failure);
      g_free (w.failure);
      g_array_unref (w.seconds);
      return NULL;
    }
  *wall = median (walls);
  return w.seconds;
}

static void
print_estimate (const GraftRunConfig *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftProbe) probe = NULL;
  GraftModeEstimate e;
  gint64 start = g_get_monotonic_time ();

  probe = graft_probe_new (c, &error);
  if (probe == NULL)
    {
      printf ("estimate failed: %s\n", error->message);
      return;
    }
  graft_estimate_mode (probe, c, &e);
  printf ("estimate (probe took %.1f s): first epoch %.2f s, later epochs "
          "%.5f s\n", (g_get_monotonic_time () - start) / 1e6,
          e.first_epoch, e.later_epochs);
}

/* Median first and later epoch seconds over the repeats. */
static void
bench_training (const Bench *b, const char *scratch, const char *data)
{
  g_autoptr (GraftRunConfig) c = bench_config (b, data);
  g_autoptr (GArray) firsts = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) laters = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) walls = g_array_new (FALSE, FALSE, sizeof (double));
  double first, later, wall;

  print_estimate (c);
  for (guint r = 0; r < b->repeats; r++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/run-%u", scratch, r);
      g_autofree char *cache = g_strdup_printf ("%s/cache-%u", scratch, r);
      g_autoptr (GArray) seconds = NULL;
      g_autoptr (GArray) rest = g_array_new (FALSE, FALSE, sizeof (double));

      /* A cache of its own: vectors from an earlier run would make this
       * first epoch as cheap as the later ones. */
      g_setenv (GRAFT_FEATURE_CACHE_DIR_ENV, cache, TRUE);
      seconds = train_once (c, dir, &wall);
      if (seconds == NULL || seconds->len < 2)
        return;
      g_array_append_vals (rest, &g_array_index (seconds, double, 1),
                           seconds->len - 1);
      g_array_append_val (firsts, g_array_index (seconds, double, 0));
      later = median (rest);
      g_array_append_val (laters, later);
      g_array_append_val (walls, wall);
      printf ("  run %u: first epoch %.2f s, later epochs (median) %.5f s, "
              "%.5f s with their files\n", r + 1,
              g_array_index (seconds, double, 0), later, wall);
    }
  first = median (firsts);
  later = median (laters);
  wall = median (walls);
  printf ("extract mode, %u pictures, %u epochs: first epoch %.2f s; later "
          "epochs %.5f s, %.0f× cheaper; %.5f s with run.json and the "
          "checkpoint written, %.0f× cheaper (issue 5 asks for ≥ 50×)\n",
          b->images, b->epochs, first, later, first / later, wall,
          first / wall);
}

/* ---- 2. Forward throughput, Graft and PyTorch --------------------------------- */

/* The backbone from image to bottleneck as a new, uncompiled graph, and
 * the channels of the bottleneck map; NULL when the file does not load
 * or does not take b->size pictures. */
static GfGraph *
backbone_to_cut (const Bench *b, const char *path, int *input, int *cut,
                 size_t *channels)
{
  GfModel *model = NULL;
  size_t image[GF_MAX_DIMS], map[GF_MAX_DIMS];
  GfGraph *g = NULL;
  int at;

  if (gf_onnx_load (path, NULL, &model, NULL) != GF_OK
      || gf_find_bottleneck (model->graph, model->input, model->output, &at,
                             NULL) != GF_OK)
    return (gf_model_free (model), NULL);
  gf_graph_tensor_shape (model->graph, model->input, image);
  gf_graph_tensor_shape (model->graph, at, map);
  if (image[3] == b->size)
    g = gf_graph_extract (model->graph, model->input, at, input, cut, NULL);
  else
    printf ("%s takes %zu px pictures: set GRAFT_BENCH_SIZE=%zu\n",
            path, image[3], image[3]);
  *channels = map[1];
  gf_model_free (model);
  return g;
}

/* The backbone from image to bottleneck, planned for inference. */
static GfGraph *
graft_features (const Bench *b, int *input)
{
  size_t channels;
  int out;
  GfGraph *g = backbone_to_cut (b, b->backbone, input, &out, &channels);

  if (g != NULL && (gf_graph_compile (g, NULL) != GF_OK
                    || gf_graph_plan (g, b->batch, GF_GRAPH_INFER, NULL)
                       != GF_OK))
    g_clear_pointer (&g, gf_graph_free);
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

/* Images per second of one pass of Graft's engine over the images. */
typedef double (*GraftRate) (gpointer work, const Bench *b);

static double
forward_rate (gpointer work, const Bench *b)
{
  gint64 start = g_get_monotonic_time ();

  for (guint done = 0; done < b->images; done += b->batch)
    gf_graph_forward (work, MIN (b->batch, b->images - done), GF_GRAPH_INFER,
                      NULL);
  return b->images / ((g_get_monotonic_time () - start) / 1e6);
}

/* The same in PyTorch: tools/bench/@tool in a process of its own (which
 * warms up first), with @extra (NULL or one more option) after the
 * usual arguments. */
static double
torch_rate (const Bench *b, const char *tool, const char *extra)
{
  g_autofree char *script = g_build_filename ("bench", tool, NULL);
  g_autofree char *path = tool_path (script);
  g_autofree char *images = g_strdup_printf ("%u", b->images);
  g_autofree char *batch = g_strdup_printf ("%u", b->batch);
  g_autofree char *threads = g_strdup_printf ("%u", b->threads);
  g_autofree char *size = g_strdup_printf ("%u", b->size);
  const char *argv[] = { PYTHON, path, b->model, images, batch, threads,
                         "1", "--size", size, extra, NULL };
  g_autofree char *out = run_tool (argv);

  return out != NULL ? g_ascii_strtod (out, NULL) : NAN;
}

/* Graft (@rate over @work) and PyTorch (@tool) alternate, so that a
 * passing load on the machine hits both alike; prints each repeat, then
 * the medians and their ratio under @title. */
static void
compare_with_torch (const Bench *b, GraftRate rate, gpointer work,
                    const char *tool, const char *extra, const char *title)
{
  g_autoptr (GArray) grafts = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) torches = g_array_new (FALSE, FALSE, sizeof (double));
  double graft, torch;

  for (guint r = 0; r < b->repeats; r++)
    {
      graft = rate (work, b);
      torch = torch_rate (b, tool, extra);
      g_array_append_val (grafts, graft);
      g_array_append_val (torches, torch);
      printf ("  repeat %u: Graft %.2f, PyTorch %.2f images/s\n", r + 1,
              graft, torch);
    }
  graft = median (grafts);
  torch = median (torches);
  printf ("%s, %u images of %u px, batch %u, %u threads:\n"
          "  Graft   %.2f images/s\n  PyTorch %.2f images/s\n"
          "  Graft / PyTorch = %.2f\n", title, b->images, b->size, b->batch,
          b->threads, graft, torch, graft / torch);
}

static void
bench_forward (const Bench *b)
{
  int input;
  GfGraph *g = graft_features (b, &input);

  if (g == NULL)
    {
      printf ("cannot load %s for the forward pass\n", b->backbone);
      return;
    }
  gf_engine_set_threads ((int) b->threads);
  fill_input (g, input, b->batch);
  gf_graph_forward (g, b->batch, GF_GRAPH_INFER, NULL);   /* warm-up */
  compare_with_torch (b, forward_rate, g, "bench-torch-forward", NULL,
                      "forward to the bottleneck");
  gf_graph_free (g);
}

/* ---- 3. Fine-tuning throughput, Graft and PyTorch ------------------------------ */

/* What a fine-tuning step works on: the backbone to its bottleneck and
 * the head as one graph planned for training, every weight trainable;
 * SGD with one group per weight, as the trainer builds it. */
typedef struct
{
  GfGraph *graph;
  int input, logits;
  GfOptimizer optimizer;
  GfParamGroup *groups;
  size_t n_groups;
  int32_t *labels;             /* (batch), fixed */
  gf_real *probs, *dlogits;    /* (batch, N_CLASSES) */
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
  GraftHeadLayout layout = { N_CLASSES, 0, 0.0, FALSE };
  size_t channels;
  int cut;
  GfRng rng;

  f->graph = backbone_to_cut (b, b->train_backbone, &f->input, &cut,
                              &channels);
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

  if (!finetune_graph (b, f) || !finetune_optimizer (f))
    return FALSE;
  fill_input (f->graph, f->input, b->batch);
  f->labels = g_new (int32_t, b->batch);
  for (guint i = 0; i < b->batch; i++)
    f->labels[i] = g_rand_int_range (rand, 0, N_CLASSES);
  f->probs = g_new (gf_real, b->batch * N_CLASSES);
  f->dlogits = g_new (gf_real, b->batch * N_CLASSES);
  return TRUE;
}

/* One step over the first @n pictures, in the trainer's order: forward
 * keeping what backward needs, loss, gradients, SGD. */
static gboolean
finetune_step (Finetune *f, guint n)
{
  if (gf_graph_forward (f->graph, n, GF_GRAPH_TRAIN, NULL) != GF_OK)
    return FALSE;
  gf_softmax_cross_entropy_forward (n, N_CLASSES,
                                    gf_graph_tensor_data (f->graph,
                                                          f->logits),
                                    f->labels, NULL, 0.0, f->probs);
  gf_softmax_cross_entropy_backward (n, N_CLASSES, f->probs, f->labels, NULL,
                                     0.0, 1.0, f->dlogits);
  gf_graph_zero_grad (f->graph);
  if (gf_graph_backward (f->graph, n, f->dlogits, NULL) != GF_OK)
    return FALSE;
  gf_optimizer_step (&f->optimizer, FINETUNE_LR,
                     gf_graph_params (f->graph, NULL),
                     gf_graph_grads (f->graph, NULL), f->groups,
                     f->n_groups);
  return TRUE;
}

static double
finetune_rate (gpointer work, const Bench *b)
{
  gint64 start = g_get_monotonic_time ();

  for (guint done = 0; done < b->images; done += b->batch)
    if (!finetune_step (work, MIN (b->batch, b->images - done)))
      return NAN;
  return b->images / ((g_get_monotonic_time () - start) / 1e6);
}

static void
bench_finetune (const Bench *b)
{
  g_autofree char *classes = g_strdup_printf ("--classes=%d", N_CLASSES);
  Finetune f = { 0 };

  if (!finetune_new (b, &f))
    {
      printf ("cannot build the fine-tuning graph of %s\n",
              b->train_backbone);
      finetune_clear (&f);
      return;
    }
  gf_engine_set_threads ((int) b->threads);
  finetune_step (&f, b->batch);   /* warm-up: pages, threads, momentum */
  compare_with_torch (b, finetune_rate, &f, "bench-torch-train", classes,
                      "fine-tuning steps, every weight trainable");
  finetune_clear (&f);
}

/* ---- Set-up ------------------------------------------------------------------- */

/* @model exported to ONNX, with its BatchNorms folded or, when
 * @keep_batchnorm, kept as nodes. */
static char *
export_backbone (const char *model, guint size, const char *scratch,
                 gboolean keep_batchnorm)
{
  g_autofree char *script = tool_path ("export-torchvision");
  char *path = g_strdup_printf ("%s/%s%s.onnx", scratch, model,
                                keep_batchnorm ? "-bn" : "");
  g_autofree char *side = g_strdup_printf ("%u", size);
  const char *argv[] = { PYTHON, script, model, path, "--size", side,
                         keep_batchnorm ? "--keep-batchnorm" : NULL, NULL };
  g_autofree char *out = run_tool (argv);

  if (out == NULL)
    g_clear_pointer (&path, g_free);
  return path;
}

static void
print_header (const Bench *b)
{
  g_autofree char *load = NULL;

  g_file_get_contents ("/proc/loadavg", &load, NULL, NULL);
  printf ("bench-train: %s (%s), %u pictures, %u px, batch %u, %u threads\n"
          "  OpenBLAS %s, OPENBLAS_CORETYPE=%s, load average %s\n",
          b->model, b->backbone, b->images, b->size, b->batch, b->threads,
          gf_engine_blas_config (), g_getenv ("OPENBLAS_CORETYPE")
          ? g_getenv ("OPENBLAS_CORETYPE") : "(unset)",
          load ? g_strchomp (load) : "?");
}

int
main (int argc, char **argv)
{
  Bench b = { g_getenv ("GRAFT_BENCH_MODEL") ? g_getenv ("GRAFT_BENCH_MODEL")
              : "resnet18" };
  g_autofree char *scratch = g_dir_make_tmp ("graft-bench-XXXXXX", NULL);
  g_autofree char *data = NULL;

  b.images = env_uint ("GRAFT_BENCH_IMAGES", 128);
  b.batch = env_uint ("GRAFT_BENCH_BATCH", 32);
  b.threads = env_uint ("GRAFT_BENCH_THREADS", g_get_num_processors ());
  b.epochs = env_uint ("GRAFT_BENCH_EPOCHS", 6);
  b.repeats = env_uint ("GRAFT_BENCH_REPEATS", 3);
  b.size = env_uint ("GRAFT_BENCH_SIZE", 224);
  if (g_getenv ("GRAFT_BENCH_BACKBONE") != NULL)
    {
      b.backbone = g_strdup (g_getenv ("GRAFT_BENCH_BACKBONE"));
      b.train_backbone = g_strdup (b.backbone);
    }
  else
    {
      b.backbone = export_backbone (b.model, b.size, scratch, FALSE);
      b.train_backbone = export_backbone (b.model, b.size, scratch, TRUE);
    }
  if (b.backbone == NULL || b.train_backbone == NULL)
    {
      printf ("bench-train needs %s with python3-torch and "
              "python3-torchvision to export %s\n", PYTHON, b.model);
      train_test_rm_rf (scratch);
      g_free (b.backbone);
      g_free (b.train_backbone);
      return 1;
    }
  b.images = MAX (b.images / N_CLASSES, 2) * N_CLASSES;
  print_header (&b);
  data = train_test_make_classes (scratch, "data", N_CLASSES,
                                  b.images / N_CLASSES, PICTURE_SIDE, 1);
  bench_training (&b, scratch, data);
  bench_forward (&b);
  bench_finetune (&b);
  train_test_rm_rf (scratch);
  g_free (b.backbone);
  g_free (b.train_backbone);
  return 0;
}
