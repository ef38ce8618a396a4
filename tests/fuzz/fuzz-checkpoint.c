/* fuzz-checkpoint.c: checkpoint.safetensors as `graft-cli train --resume`
 * reads it.
 *
 * Once per process a tiny fine-tuning run (two classes of four pictures
 * made on the spot, a 25 KB torch export, the last block unfrozen) is
 * trained for one epoch and stopped, as Ctrl-C would: a real run folder.
 * Each input then becomes that folder's checkpoint, run.json is put back
 * as the stopped run left it, and the run is resumed through the same
 * call the run's worker thread makes, already told to stop: the
 * checkpoint's metadata (epoch, step, frozen_blocks, ...), weights and
 * optimizer state are read and put in place, and no training step runs.
 * Slow (tens of inputs a second), so it is seeded with a real checkpoint.
 */
#include <stdlib.h>

#include "fuzz-util.h"
#include "graft-run-files.h"
#include "graft-trainer.h"
#include "train-test-pictures.h"

#define CHECKPOINT_FILE "checkpoint.safetensors"
#define PER_CLASS 4
#define PICTURE_SIDE 16
#define PICTURE_SEED 7

static char *run_dir;
static char *run_json_path;
static char *checkpoint_path;
static char *run_json;          /* as the stopped run left it */
static gsize run_json_length;

/* Stops the first run at its first checkpoint. */
static void
stop_at_checkpoint (GraftEvent *event, gpointer data)
{
  if (event->kind == GRAFT_EVENT_CHECKPOINT)
    graft_control_set (data, FALSE, TRUE);
  graft_event_free (event);
}

static void
drop_event (GraftEvent *event, gpointer data)
{
  graft_event_free (event);
}

static GraftRunConfig *
tiny_config (void)
{
  GraftRunConfig *config = graft_run_config_new (GRAFT_RUN_MODE_FINETUNE);

  config->backbone = g_strdup (FUZZ_BACKBONE);
  config->data = g_new0 (char *, 2);
  config->data[0] = train_test_make_classes (fuzz_scratch_dir (), "data", 2,
                                             PER_CLASS, PICTURE_SIDE,
                                             PICTURE_SEED);
  config->val_fraction = 0.25;
  config->batch = 2;
  config->epochs = 3;
  config->unfreeze = 1;
  config->threads = 1;
  return config;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *cache = NULL;
  GraftControl control;

  fuzz_init_environment ();
  cache = g_build_filename (fuzz_scratch_dir (), "cache", NULL);
  g_setenv ("GRAFT_FEATURE_CACHE_DIR", cache, TRUE);
  run_dir = g_build_filename (fuzz_scratch_dir (), "run", NULL);
  run_json_path = g_build_filename (run_dir, GRAFT_RUN_JSON, NULL);
  checkpoint_path = g_build_filename (run_dir, CHECKPOINT_FILE, NULL);
  config = tiny_config ();
  graft_control_init (&control);
  if (!graft_trainer_run (config, run_dir, FALSE, &control,
                          stop_at_checkpoint, &control, &error)
      || !g_file_get_contents (run_json_path, &run_json, &run_json_length,
                               &error))
    {
      g_printerr ("fuzz-checkpoint: the first run failed: %s\n",
                  error->message);
      abort ();
    }
  graft_control_clear (&control);
  /* GRAFT_FUZZ_SEED=PATH: keep that run's checkpoint as a seed. */
  if (g_getenv ("GRAFT_FUZZ_SEED") != NULL)
    {
      g_autofree char *seed = NULL;
      gsize length;
      if (g_file_get_contents (checkpoint_path, &seed, &length, NULL))
        g_file_set_contents (g_getenv ("GRAFT_FUZZ_SEED"), seed,
                             (gssize) length, NULL);
    }
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GError) error = NULL;
  GraftControl control;

  fuzz_write_path (run_json_path, (const uint8_t *) run_json,
                   run_json_length);
  fuzz_write_path (checkpoint_path, data, size);
  config = graft_run_files_read_config (run_dir, &error);
  if (config == NULL)
    abort ();   /* our own run.json: never refused */
  graft_control_init (&control);
  graft_control_set (&control, FALSE, TRUE);
  graft_trainer_run (config, run_dir, TRUE, &control, drop_event, NULL,
                     &error);
  fuzz_report ("resume", error);
  graft_control_clear (&control);
  return 0;
}
