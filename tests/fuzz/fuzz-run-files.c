/* fuzz-run-files.c: run.json as `graft-cli train --resume`, the app's run
 * list and `graft-cli export --format curves-csv` read it.
 *
 * The bytes become a run folder's run.json; the configuration and the
 * history are read back, the history walked (every epoch's per-class
 * accuracies and confusion matrix to their last element), cut as a
 * resumed run cuts it, and written again as the resumed run would write
 * it.  head.json is not read by Graft (export copies it as it is), and
 * the checkpoint's own format is fuzz-safetensors' job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "graft-run-export.h"
#include "graft-run-files.h"

static char *run_dir;
static char *rewrite_dir;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_environment ();
  run_dir = g_build_filename (fuzz_scratch_dir (), "run", NULL);
  rewrite_dir = g_build_filename (fuzz_scratch_dir (), "rewrite", NULL);
  if (g_mkdir_with_parents (run_dir, 0700) != 0
      || g_mkdir_with_parents (rewrite_dir, 0700) != 0)
    abort ();
  return 0;
}

/* Reads the last element of each array an epoch report carries. */
static void
touch_item (const GraftStepPoint *step, const GraftEpochReport *epoch,
            const GraftStageEvent *stage, gpointer data)
{
  volatile double *sink = data;
  g_autoptr (GraftEpochReport) copy = NULL;
  guint64 n;

  if (stage != NULL)
    *sink += strlen (stage->block != NULL ? stage->block : "")
             + strlen (stage->reason != NULL ? stage->reason : "");
  if (step != NULL)
    *sink += step->loss;
  if (epoch == NULL || epoch->n_classes == 0)
    return;
  n = epoch->n_classes;
  if (epoch->class_accuracy != NULL)
    *sink += epoch->class_accuracy[n - 1];
  if (epoch->confusion != NULL)
    *sink += epoch->confusion[n * n - 1];
  copy = graft_epoch_report_copy (epoch);
}

/* What Graft writes it must read back: a stopped run's run.json is
 * resumed from. */
static void
write_and_read_back (GraftRunConfig *config, GraftRunHistory *history)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftRunConfig) again = NULL;
  g_autoptr (GraftRunHistory) history_again = NULL;

  if (!graft_run_files_write (rewrite_dir, config, NULL, history, "stopped",
                              NULL, &error))
    return;
  again = graft_run_files_read_config (rewrite_dir, &error);
  if (again != NULL)
    history_again = graft_run_files_read_history (rewrite_dir, &error);
  if (history_again == NULL)
    {
      fprintf (stderr, "fuzz-run-files: Graft refuses the run.json it "
               "wrote: %s\n", error->message);
      abort ();
    }
}

static void
read_history (GraftRunConfig *config)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftRunHistory) history = graft_run_files_read_history (run_dir,
                                                                       &error);
  volatile double sink = 0.0;
  double best_loss;

  fuzz_report ("history", error);
  if (history == NULL)
    return;
  graft_run_history_foreach (history, touch_item, (gpointer) &sink);
  graft_run_history_best (history, &best_loss);
  graft_run_history_truncate (history, 1, 1);
  if (config != NULL)
    write_and_read_back (config, history);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *path = g_build_filename (run_dir, GRAFT_RUN_JSON, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftRunConfig) config = NULL;
  g_autofree char *csv = NULL;

  fuzz_write_path (path, data, size);
  config = graft_run_files_read_config (run_dir, &error);
  fuzz_report ("config", error);
  read_history (config);
  csv = graft_run_export_curves_csv (run_dir, NULL);
  return 0;
}
