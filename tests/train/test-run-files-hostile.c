/* test-run-files-hostile.c: what Graft reads back of its own — run.json,
 * head.json, checkpoint.safetensors, best.safetensors — is outside input
 * too (issue 11).  Damaged or edited copies of a finished run's files,
 * each a crash or a pile of Json-CRITICALs before, must give one clean
 * GError through every reader a user reaches: `train --resume` (the
 * trainer in-process), `predict --run` and `export --run`.  Ends with a
 * few hundred seeded random corruptions (GRAFT_CORRUPTIONS=1000 for more;
 * GRAFT_CORRUPTION_SEED to change the seed).
 *
 * The suite's G_DEBUG=fatal-warnings turns any CRITICAL into a crash. */
#define G_LOG_DOMAIN "test-run-files-hostile"

#include <json-glib/json-glib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "graft-backbone-private.h"
#include "graft-json.h"
#include "graft-run-config.h"
#include "graft-run-export.h"
#include "graft-run-files.h"
#include "graft-safetensors.h"
#include "graft-test-corrupt.h"
#include "graft-trainer.h"
#include "train-test-pictures.h"

#define PICTURE_SIDE 40
#define N_CLASSES 2
#define PER_CLASS 8
#define EPOCHS 2
#define DEFAULT_CORRUPTIONS 150
#define DEFAULT_SEED 11
#define HEADER_BIAS_BYTES 512   /* safetensors: most flips in the header */

static const char *const run_files[] = {
  "run.json", "head.json", "checkpoint.safetensors", "best.safetensors",
  "head.onnx", "head.safetensors", "model.onnx", NULL
};
static const char *const corrupted_files[] = {
  "run.json", "head.json", "checkpoint.safetensors", "best.safetensors",
};

/* Set up once in main (): the pictures, the backbone, and "base", a run
 * finished and then marked stopped at its last epoch, so that a resume
 * reads every file and exports without training again. */
static char *scratch, *data_dir, *backbone, *base;

/* ---- Runs in-process ----------------------------------------------------- */

/* Stops a resumed run at its first new step: a corruption that raised
 * "epochs" must not make the test train for long. */
typedef struct
{
  GraftControl control;
  gboolean resumed;
} Watch;

static void
sink (GraftEvent *event, gpointer user_data)
{
  Watch *w = user_data;

  if (w->resumed && event->kind == GRAFT_EVENT_STEP && !event->replayed)
    graft_control_set (&w->control, FALSE, TRUE);
  graft_event_free (event);
}

static gboolean
train (const GraftRunConfig *config, const char *dir, gboolean resume,
       GError **error)
{
  Watch w = { .resumed = resume };
  gboolean ok;

  graft_control_init (&w.control);
  ok = graft_trainer_run (config, dir, resume, &w.control, sink, &w, error);
  graft_control_clear (&w.control);
  return ok;
}

/* What `graft-cli train --resume DIR` does, in-process. */
static gboolean
resume (const char *dir, GError **error)
{
  g_autoptr (GraftRunConfig) config = graft_run_files_read_config (dir,
                                                                   error);

  return config != NULL && train (config, dir, TRUE, error);
}

static GraftRunConfig *
base_config (void)
{
  GraftRunConfig *config = graft_run_config_new (GRAFT_RUN_MODE_FINETUNE);

  config->backbone = g_strdup (backbone);
  config->data = g_new0 (char *, 2);
  config->data[0] = g_strdup (data_dir);
  config->unfreeze = 1;
  config->epochs = EPOCHS;
  config->batch = 4;
  config->seed = 3;
  config->threads = 1;
  return config;
}

/* ---- Files ----------------------------------------------------------------- */

static char *
read_file (const char *dir, const char *name, gsize *length)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  char *text = NULL;

  g_file_get_contents (path, &text, length, &error);
  g_assert_no_error (error);
  return text;
}

/* A fresh copy of the base run in @name under the scratch folder. */
static char *
copy_base (const char *name)
{
  char *dir = g_build_filename (scratch, name, NULL);

  train_test_rm_rf (dir);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  for (guint i = 0; run_files[i] != NULL; i++)
    {
      gsize n = 0;
      g_autofree char *bytes = read_file (base, run_files[i], &n);
      graft_test_write_file (dir, run_files[i], bytes, (gssize) n);
    }
  return dir;
}

typedef void (*EditFunc) (JsonObject *run);

static void
edit_run_json (const char *dir, EditFunc edit)
{
  g_autofree char *path = g_build_filename (dir, "run.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  edit (json_node_get_object (json_parser_get_root (parser)));
  json_generator_set_root (generator, json_parser_get_root (parser));
  json_generator_to_file (generator, path, &error);
  g_assert_no_error (error);
}

static void
mark_stopped (JsonObject *run)
{
  json_object_set_string_member (run, "status", "stopped");
}

static JsonObject *
first_epoch (JsonObject *run)
{
  JsonObject *history = json_object_get_object_member (run, "history");

  return json_array_get_object_element
    (json_object_get_array_member (history, "epochs"), 0);
}

/* Rewrites @dir/@file with @key's metadata set to @value (NULL: kept),
 * and with @transpose's 2-D shape reversed (NULL: none). */
static void
edit_checkpoint (const char *dir, const char *file, const char *key,
                 const char *value, const char *transpose)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autofree char *tmp = g_strconcat (path, ".edited", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftSafetensors) st = graft_safetensors_load (path, &error);
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GArray) views = g_array_new (FALSE, FALSE,
                                          sizeof (GraftTensorView));
  GHashTableIter iter;
  gpointer k, v;

  g_assert_no_error (error);
  g_hash_table_iter_init (&iter, graft_safetensors_get_metadata (st));
  while (g_hash_table_iter_next (&iter, &k, &v))
    g_hash_table_insert (meta, k, v);
  if (key != NULL)
    g_hash_table_insert (meta, (gpointer) key, (gpointer) value);
  for (guint i = 0; i < graft_safetensors_get_n_tensors (st); i++)
    {
      GraftTensorView view = *graft_safetensors_get_tensor (st, i);
      if (transpose != NULL && g_str_equal (view.name, transpose))
        {
          gsize rows = view.shape[0];
          g_assert_cmpuint (view.n_dims, ==, 2);
          view.shape[0] = view.shape[1];
          view.shape[1] = rows;
        }
      g_array_append_val (views, view);
    }
  graft_safetensors_write (tmp, (GraftTensorView *) views->data, views->len,
                           meta, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_rename (tmp, path), ==, 0);
}

/* The name of a 2-D tensor of @dir/@file that is not square. */
static char *
oblong_tensor (const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr (GraftSafetensors) st = graft_safetensors_load (path, NULL);

  for (guint i = 0; st != NULL && i < graft_safetensors_get_n_tensors (st);
       i++)
    {
      const GraftTensorView *view = graft_safetensors_get_tensor (st, i);
      if (view->n_dims == 2 && view->shape[0] != view->shape[1])
        return g_strdup (view->name);
    }
  g_assert_not_reached ();
}

static void
assert_resume_refused (const char *dir, const char *part)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (resume (dir, &error));
  graft_test_assert_refusal (error, part);
}

/* ---- 1. Crashes ------------------------------------------------------------- */

static void
huge_class_accuracy (JsonObject *run)
{
  JsonArray *acc = json_array_sized_new (65536);

  for (guint i = 0; i < 65536; i++)
    json_array_add_double_element (acc, 0.5);
  json_object_set_array_member (first_epoch (run), "class_accuracy", acc);
}

/* A copy of the base run in @name with run.json changed by @edit, whose
 * history the reader refuses with a line that says @part. */
static char *
history_refused (const char *name, EditFunc edit, const char *part)
{
  char *dir = copy_base (name);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftRunHistory) h = NULL;

  edit_run_json (dir, edit);
  h = graft_run_files_read_history (dir, &error);
  g_assert_null (h);
  graft_test_assert_refusal (error, part);
  return dir;
}

static void
test_class_accuracy (void)
{
  g_autofree char *dir = history_refused ("class-accuracy",
                                          huge_class_accuracy,
                                          "history.epochs[0].confusion");

  assert_resume_refused (dir, "confusion");
}

static void
test_frozen_blocks_range (void)
{
  const char *values[] = { "99999", "-1", "18446744073709551616", "", "2x" };

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autofree char *dir = copy_base ("frozen-range");
      edit_checkpoint (dir, "checkpoint.safetensors", "frozen_blocks",
                       values[i], NULL);
      assert_resume_refused (dir, "frozen_blocks");
    }
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *dir = copy_base ("frozen-range-best");
      edit_checkpoint (dir, "best.safetensors", "frozen_blocks", values[i],
                       NULL);
      assert_resume_refused (dir, "frozen_blocks");
    }
}

static void
status_not_string (JsonObject *run)
{
  json_object_set_int_member (run, "status", 5);
}

static void
test_status_type (void)
{
  g_free (history_refused ("status", status_not_string, "status"));
}

static void
test_deep_nesting (void)
{
  g_autofree char *dir = copy_base ("deep");
  g_autofree char *deep = g_strnfill (100000, '[');
  g_autofree char *csv = g_build_filename (dir, "curves.csv", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftRunConfig) config = NULL;

  graft_test_write_file (dir, "run.json", deep, -1);
  config = graft_run_files_read_config (dir, &error);
  g_assert_null (config);
  graft_test_assert_refusal (error, "nested deeper");
  g_clear_error (&error);
  g_assert_false (graft_run_export (dir, GRAFT_RUN_EXPORT_CSV, csv, &error));
  graft_test_assert_refusal (error, "nested deeper");
  g_clear_error (&error);
  /* Inside strings brackets do not count. */
  g_assert_true (graft_json_check_text ("[\"[[[[\\\"[[[[\"]", 14, &error));
  g_assert_no_error (error);
}

/* ---- 2. Checks ------------------------------------------------------------------ */

static void
test_counters_agree (void)
{
  static const struct { const char *key, *value, *part; } cases[] = {
    { "step", "5", "step" },
    { "epoch", "1", "step" },
    { "epoch", "9", "epoch" },
    { "epoch", "0", "epoch" },
    { "step", NULL, "step" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *dir = copy_base ("counters");
      edit_checkpoint (dir, "checkpoint.safetensors", cases[i].key,
                       cases[i].value != NULL ? cases[i].value : "x", NULL);
      assert_resume_refused (dir, cases[i].part);
    }
}

/* In range, but not what the configuration (unfreeze 1) freezes. */
static void
test_frozen_blocks_config (void)
{
  g_autofree char *dir = copy_base ("frozen-config");

  edit_checkpoint (dir, "checkpoint.safetensors", "frozen_blocks", "0", NULL);
  assert_resume_refused (dir, "frozen_blocks");
}

static void
test_transposed (void)
{
  g_autofree char *dir = copy_base ("transposed");
  g_autofree char *name = oblong_tensor (dir, "checkpoint.safetensors");

  edit_checkpoint (dir, "checkpoint.safetensors", NULL, NULL, name);
  assert_resume_refused (dir, "shape");
}

static void
step_not_object (JsonObject *run)
{
  JsonObject *history = json_object_get_object_member (run, "history");
  JsonArray *steps = json_object_get_array_member (history, "steps");

  json_array_remove_element (steps, 0);
  json_array_add_string_element (steps, "x");
}

static void
epoch_not_number (JsonObject *run)
{
  json_object_set_string_member (first_epoch (run), "epoch", "one");
}

static void
stage_block_null (JsonObject *run)
{
  JsonArray *stages = json_array_new ();
  JsonObject *stage = json_object_new ();

  json_object_set_int_member (stage, "epoch", 0);
  json_object_set_int_member (stage, "step", 0);
  json_object_set_null_member (stage, "block");
  json_object_set_string_member (stage, "reason", "r");
  json_array_add_object_element (stages, stage);
  json_object_set_array_member (run, "stages", stages);
}

static void
history_not_object (JsonObject *run)
{
  json_object_set_int_member (run, "history", 1);
}

static void
test_history_types (void)
{
  static const struct { EditFunc edit; const char *part; } cases[] = {
    { step_not_object, "history.steps[" },
    { epoch_not_number, "history.epochs[0].epoch" },
    { stage_block_null, "stages[0].block" },
    { history_not_object, "history" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *dir = history_refused ("history-types", cases[i].edit,
                                              cases[i].part);
      g_autofree char *csv = g_build_filename (dir, "curves.csv", NULL);
      g_autoptr (GError) error = NULL;
      /* The CSV either leaves such rows out whole or refuses. */
      if (!graft_run_export (dir, GRAFT_RUN_EXPORT_CSV, csv, &error))
        graft_test_assert_refusal (error, "history");
    }
}

/* ---- 3. Smaller ones ---------------------------------------------------------- */

/* best.safetensors cannot be renamed into place (a folder has its
 * name): the run fails with that reason, run.json says "failed", and no
 * temporary file is left. */
static void
test_best_write_fails (void)
{
  g_autofree char *dir = g_build_filename (scratch, "best-fails", NULL);
  g_autofree char *blocker = g_build_filename (dir, "best.safetensors",
                                               NULL);
  g_autoptr (GraftRunConfig) config = base_config ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) listing = NULL;
  g_autofree char *run_json = NULL;
  const char *name;

  g_assert_cmpint (g_mkdir_with_parents (blocker, 0755), ==, 0);
  g_assert_false (train (config, dir, FALSE, &error));
  graft_test_assert_refusal (error, "best.safetensors");
  run_json = read_file (dir, "run.json", NULL);
  g_assert_nonnull (strstr (run_json, "\"status\": \"failed\""));
  listing = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (listing)) != NULL)
    g_assert_null (strstr (name, ".safetensors."));
}

/* Temporary files a killed writer left are gone after the next run;
 * other files stay. */
static void
assert_leftovers_removed (const char *dir)
{
  g_autofree char *a = g_build_filename (dir, "run.json.Ab12Cd", NULL);
  g_autofree char *b = g_build_filename (dir, "checkpoint.safetensors.Xy3456",
                                         NULL);
  g_autofree char *c = g_build_filename (dir, ".model.onnx.q1w2e3", NULL);
  g_autofree char *keep = g_build_filename (dir, "notes.txt.abcdef", NULL);

  g_assert_false (g_file_test (a, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (b, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (c, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (keep, G_FILE_TEST_EXISTS));
}

static void
plant_leftovers (const char *dir)
{
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  graft_test_write_file (dir, "run.json.Ab12Cd", "{", -1);
  graft_test_write_file (dir, "checkpoint.safetensors.Xy3456", "x", -1);
  graft_test_write_file (dir, ".model.onnx.q1w2e3", "x", -1);
  graft_test_write_file (dir, "notes.txt.abcdef", "keep", -1);
}

/* Whether @name is one of a writer's temporary files (NAME.XXXXXX, or
 * .NAME.XXXXXX for the ONNX files). */
static gboolean
is_temporary (const char *name)
{
  const char *dot = strrchr (name, '.');

  return name[0] == '.' || (dot != NULL && strlen (dot) == 7
                            && strcmp (dot, ".onnx") != 0
                            && strcmp (dot, ".json") != 0);
}

static void
one_more_epoch (JsonObject *run)
{
  JsonObject *config = json_object_get_object_member (run, "config");

  json_object_set_int_member (config, "epochs", EPOCHS + 1);
}

/* The files a resumed run writes — with one more epoch to train, the
 * best weights, the checkpoint and run.json; with none, the exports and
 * run.json — made to fail by a limit on file size just below each file's
 * size: the run fails saying which file and why, that file stays
 * byte-identical to what it was, and no temporary file is left. */
static void
test_failed_writes (void)
{
  GHashTable *failed = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint k = 0; k < 2 * (G_N_ELEMENTS (run_files) - 1); k++)
    {
      guint f = k % (G_N_ELEMENTS (run_files) - 1);
      gboolean another_epoch = k < G_N_ELEMENTS (run_files) - 1;
      g_autofree char *name = NULL;
      g_autofree char *dir = NULL;
      char *before[G_N_ELEMENTS (run_files)] = { NULL };
      gsize lengths[G_N_ELEMENTS (run_files)] = { 0 };
      g_autoptr (GraftRunConfig) config = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (GDir) listing = NULL;
      struct rlimit saved, limited;
      void (*saved_handler) (int);
      Watch w = { .resumed = FALSE };     /* let it train its epoch */
      const char *entry, *culprit = NULL;
      gboolean ok;

      /* Exporting writes no weights file of its own. */
      if (!another_epoch && g_str_has_suffix (run_files[f], ".safetensors")
          && !g_str_has_prefix (run_files[f], "head"))
        continue;
      name = g_strdup_printf ("fsize-%u", k);
      dir = copy_base (name);
      if (another_epoch)
        edit_run_json (dir, one_more_epoch);
      for (guint i = 0; run_files[i] != NULL; i++)
        before[i] = read_file (dir, run_files[i], &lengths[i]);
      config = graft_run_files_read_config (dir, &error);
      g_assert_no_error (error);
      g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
      limited = saved;
      limited.rlim_cur = lengths[f] - 1;
      /* Past the limit write() fails with EFBIG instead of a signal. */
      saved_handler = signal (SIGXFSZ, SIG_IGN);
      graft_control_init (&w.control);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limited), ==, 0);
      ok = graft_trainer_run (config, dir, TRUE, &w.control, sink, &w,
                              &error);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
      signal (SIGXFSZ, saved_handler);
      graft_control_clear (&w.control);

      /* A file at least as large as the limit was due: the run failed. */
      g_assert_false (ok);
      g_assert_nonnull (error);
      g_assert_null (strchr (error->message, '\n'));
      for (guint i = 0; run_files[i] != NULL; i++)
        if (strstr (error->message, run_files[i]) != NULL)
          culprit = run_files[i];
      if (culprit == NULL)
        g_error ("'%s' names none of the run's files", error->message);
      g_test_message ("%s, limit %zu bytes: %s", another_epoch
                      ? "training" : "exporting", lengths[f] - 1,
                      error->message);
      g_hash_table_add (failed, (gpointer) culprit);
      for (guint i = 0; run_files[i] != NULL; i++)
        {
          gsize n = 0;
          g_autofree char *after = read_file (dir, run_files[i], &n);
          if (g_str_equal (run_files[i], culprit))
            {
              g_assert_cmpuint (n, ==, lengths[i]);
              g_assert_true (memcmp (after, before[i], n) == 0);
            }
        }
      listing = g_dir_open (dir, 0, NULL);
      while ((entry = g_dir_read_name (listing)) != NULL)
        if (is_temporary (entry))
          g_error ("%s left behind in %s", entry, dir);
      for (guint i = 0; run_files[i] != NULL; i++)
        g_free (before[i]);
    }
  g_assert_true (g_hash_table_contains (failed, "checkpoint.safetensors"));
  g_assert_true (g_hash_table_contains (failed, "best.safetensors"));
  g_assert_true (g_hash_table_contains (failed, "model.onnx"));
  g_assert_cmpuint (g_hash_table_size (failed), >=, 4);
  g_test_message ("%u different files failed", g_hash_table_size (failed));
  g_hash_table_unref (failed);
}

static void
test_leftovers (void)
{
  assert_leftovers_removed (base);
}

static void
no_epoch_yet (JsonObject *run)
{
  JsonObject *history = json_object_get_object_member (run, "history");

  json_object_set_string_member (run, "status", "running");
  json_object_set_array_member (history, "steps", json_array_new ());
  json_object_set_array_member (history, "epochs", json_array_new ());
}

static void
test_no_epoch (void)
{
  g_autofree char *dir = copy_base ("no-epoch");
  g_autofree char *checkpoint = g_build_filename (dir,
                                                  "checkpoint.safetensors",
                                                  NULL);

  edit_run_json (dir, no_epoch_yet);
  g_assert_cmpint (g_unlink (checkpoint), ==, 0);
  assert_resume_refused (dir, "has no finished epoch to resume from");
}

/* graft-cli train with a relative --data keeps it absolute in run.json. */
static void
test_absolute_data (void)
{
  g_autofree char *out = g_build_filename (scratch, "relative", NULL);
  g_autofree char *relative = g_path_get_basename (data_dir);
  g_autofree char *parent = g_path_get_dirname (data_dir);
  const char *argv[] = {
    g_getenv ("GRAFT_CLI"), "train", "--backbone", backbone, "--data",
    relative, "--out", out, "--epochs", "1", "--batch", "8", "--threads",
    "1", NULL
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftRunConfig) config = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_spawn_sync (parent, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                NULL, NULL, NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("graft-cli train: %s", err);
  config = graft_run_files_read_config (out, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->data[0], ==, data_dir);
}

/* ---- 4. Paths of any bytes ---------------------------------------------------- */

static void
test_non_utf8_paths (void)
{
  g_autoptr (GraftRunConfig) config = base_config ();
  g_autoptr (GraftRunConfig) back = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  g_free (config->data[0]);
  config->data[0] = g_strdup ("/pictures/\xff\xfe-cats");
  config->data = g_renew (char *, config->data, 3);
  config->data[1] = g_strdup ("/pictures/dogs");
  config->data[2] = NULL;
  g_free (config->backbone);
  config->backbone = g_strdup ("/models/\xc3-net.onnx");
  node = graft_run_config_to_json (config);
  text = graft_json_to_text (node, TRUE);
  g_assert_true (g_utf8_validate (text, -1, NULL));
  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  back = graft_run_config_from_json (json_parser_get_root (parser), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->data[0], ==, config->data[0]);
  g_assert_cmpstr (back->data[1], ==, config->data[1]);
  g_assert_cmpstr (back->backbone, ==, config->backbone);
  g_assert_true (graft_run_config_equal (config, back));
}

/* The JSON writer itself never writes invalid UTF-8. */
static void
test_writer_guard (void)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_VALUE);
  g_autofree char *text = NULL;

  json_node_set_string (node, "label-\xff");
  text = graft_json_to_text (node, FALSE);
  g_assert_true (g_utf8_validate (text, -1, NULL));
}

/* ---- 5. Random corruption ----------------------------------------------------- */

/* One random change to @bytes (@n, may grow or shrink): flipped bytes,
 * a truncation, or inserted random bytes; in a safetensors file mostly
 * within its header, where the checks are. */
static void
corrupt (GByteArray *bytes, gboolean header_first, GRand *rand)
{
  guint span = header_first && g_rand_boolean (rand)
    ? HEADER_BIAS_BYTES : bytes->len;

  graft_test_corrupt (bytes, span, rand);
}

/* Every reader a user reaches, on @dir: only clean, one-line errors. */
static void
read_all (const char *dir, guint *refusals)
{
  static const GraftRunExportFormat formats[] = {
    GRAFT_RUN_EXPORT_CSV, GRAFT_RUN_EXPORT_HEAD_JSON,
    GRAFT_RUN_EXPORT_SAFETENSORS,
  };
  g_autofree char *out = g_build_filename (dir, "exported", NULL);
  g_autofree char *model = g_build_filename (dir, "model.onnx", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftRunHistory) h = NULL;
  g_autoptr (GraftBackbone) predictor = NULL;

  h = graft_run_files_read_history (dir, &error);
  g_clear_error (&error);
  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    if (!graft_run_export (dir, formats[i], out, &error))
      {
        g_assert_null (strchr (error->message, '\n'));
        g_clear_error (&error);
      }
  if (!resume (dir, &error))
    {
      g_assert_nonnull (error);
      g_assert_null (strchr (error->message, '\n'));
      ++*refusals;
      g_clear_error (&error);
    }
  /* predict --run: the model the run (or the resume) left. */
  predictor = graft_backbone_load (model, NULL, &error);
  if (predictor != NULL)
    g_assert_nonnull (graft_backbone_get_labels (predictor, NULL, &error));
  g_assert_no_error (error);
}

static void
test_random_corruption (void)
{
  const char *count = g_getenv ("GRAFT_CORRUPTIONS");
  const char *seed = g_getenv ("GRAFT_CORRUPTION_SEED");
  guint n = count != NULL ? (guint) g_ascii_strtoull (count, NULL, 10)
    : DEFAULT_CORRUPTIONS;
  g_autoptr (GRand) rand = g_rand_new_with_seed
    (seed != NULL ? (guint32) g_ascii_strtoull (seed, NULL, 10)
     : DEFAULT_SEED);
  guint refusals = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *dir = copy_base ("corrupt");
      guint pick = g_rand_int_range (rand, 0, G_N_ELEMENTS (corrupted_files));
      const char *file = corrupted_files[pick];
      gsize length = 0;
      guint8 *bytes = (guint8 *) read_file (dir, file, &length);
      g_autoptr (GByteArray) array = g_byte_array_new_take (bytes, length);
      corrupt (array, g_str_has_suffix (file, ".safetensors"), rand);
      graft_test_write_file (dir, file, (const char *) array->data, array->len);
      read_all (dir, &refusals);
    }
  g_test_message ("%u corruptions, %u resumes refused", n, refusals);
}

/* ---- Main ---------------------------------------------------------------- */

static void
make_base (void)
{
  g_autoptr (GraftRunConfig) config = base_config ();
  g_autoptr (GError) error = NULL;

  base = g_build_filename (scratch, "base", NULL);
  plant_leftovers (base);
  train (config, base, FALSE, &error);
  g_assert_no_error (error);
  edit_run_json (base, mark_stopped);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  backbone = g_test_build_filename (G_TEST_DIST, "data", "torch",
                                    "resnet18.onnx", NULL);
  scratch = g_dir_make_tmp ("graft-hostile-XXXXXX", NULL);
  data_dir = train_test_make_classes (scratch, "data", N_CLASSES, PER_CLASS,
                                      PICTURE_SIDE, 5);
  make_base ();

  g_test_add_func ("/train/hostile/class-accuracy", test_class_accuracy);
  g_test_add_func ("/train/hostile/frozen-blocks-range",
                   test_frozen_blocks_range);
  g_test_add_func ("/train/hostile/status-type", test_status_type);
  g_test_add_func ("/train/hostile/deep-nesting", test_deep_nesting);
  g_test_add_func ("/train/hostile/counters-agree", test_counters_agree);
  g_test_add_func ("/train/hostile/frozen-blocks-config",
                   test_frozen_blocks_config);
  g_test_add_func ("/train/hostile/transposed", test_transposed);
  g_test_add_func ("/train/hostile/history-types", test_history_types);
  g_test_add_func ("/train/hostile/best-write-fails", test_best_write_fails);
  g_test_add_func ("/train/hostile/leftovers", test_leftovers);
  g_test_add_func ("/train/hostile/failed-writes", test_failed_writes);
  g_test_add_func ("/train/hostile/no-epoch", test_no_epoch);
  g_test_add_func ("/train/hostile/absolute-data", test_absolute_data);
  g_test_add_func ("/train/hostile/non-utf8-paths", test_non_utf8_paths);
  g_test_add_func ("/train/hostile/writer-guard", test_writer_guard);
  g_test_add_func ("/train/hostile/random-corruption",
                   test_random_corruption);
  status = g_test_run ();
  train_test_rm_rf (scratch);
  g_free (scratch);
  g_free (data_dir);
  g_free (backbone);
  g_free (base);
  return status;
}
