/* bench-train.c: what feature extraction costs on a real-size backbone
 * (SPEC §10, issue 5).
 *
 * Trains in extract mode on generated pictures: the first epoch runs the
 * backbone over every picture, later ones only the head.  Prints the
 * first epoch's seconds, the median of the later ones', and their ratio
 * (the issue asks for later epochs ≥ 50× cheaper), next to what
 * graft_estimate_mode () predicted from its probe.  The forward pass and fine-tuning steps against PyTorch and ONNX
 * Runtime are tools/bench/compare's (with tools/bench/bench-engine).
 *
 * Each run keeps its feature cache in a folder of its own,
 * removed at the end: vectors cached by an earlier run would make every
 * first epoch as cheap as the later ones.
 *
 * Each figure is the median of a few repeats: the machine may be shared.
 * A benchmark, built but not run by `meson test`:
 *   meson test -C BUILD --benchmark --suite train -v bench-train
 * Environment: GRAFT_BENCH_MODEL (a torchvision name, resnet18),
 * GRAFT_BENCH_BACKBONE (its ONNX file, taking GRAFT_BENCH_SIZE pictures;
 * exported with tools/export-torchvision when unset), GRAFT_BENCH_SIZE
 * (the backbone's picture side, 224), GRAFT_BENCH_IMAGES (128),
 * GRAFT_BENCH_BATCH (32), GRAFT_BENCH_THREADS (every core),
 * GRAFT_BENCH_EPOCHS (6), GRAFT_BENCH_REPEATS (3).
 */
#define G_LOG_DOMAIN "bench-train"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gf-engine.h"
#include "graft-estimate.h"
#include "graft-feature-cache.h"
#include "graft-run.h"
#include "train-test-pictures.h"

#define PYTHON "/usr/bin/python3"
#define PICTURE_SIDE 256     /* saved; the backbone resizes to its own */
#define N_CLASSES 3

typedef struct
{
  const char *model;
  char *backbone;          /* BatchNorms folded */
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

/* ---- Set-up ------------------------------------------------------------------- */

/* @model exported to ONNX, its BatchNorms folded. */
static char *
export_backbone (const char *model, guint size, const char *scratch)
{
  g_autofree char *script = tool_path ("export-torchvision");
  char *path = g_strdup_printf ("%s/%s.onnx", scratch, model);
  g_autofree char *side = g_strdup_printf ("%u", size);
  const char *argv[] = { PYTHON, script, model, path, "--size", side, NULL };
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
    b.backbone = g_strdup (g_getenv ("GRAFT_BENCH_BACKBONE"));
  else
    b.backbone = export_backbone (b.model, b.size, scratch);
  if (b.backbone == NULL)
    {
      printf ("bench-train needs %s with python3-torch and "
              "python3-torchvision to export %s\n", PYTHON, b.model);
      train_test_rm_rf (scratch);
      g_free (b.backbone);
      return 1;
    }
  b.images = MAX (b.images / N_CLASSES, 2) * N_CLASSES;
  print_header (&b);
  data = train_test_make_classes (scratch, "data", N_CLASSES,
                                  b.images / N_CLASSES, PICTURE_SIDE, 1);
  bench_training (&b, scratch, data);
  train_test_rm_rf (scratch);
  g_free (b.backbone);
  return 0;
}
