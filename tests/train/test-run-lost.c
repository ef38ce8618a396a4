/* test-run-lost.c: a picture that vanishes mid-run — deleted, or
 * overwritten with bytes no loader reads — is skipped, told in the event
 * log and in run.json, and the run goes on with the rest; so many lost
 * that a class has no training pictures left fails the run with one
 * line; a run that lost pictures resumes; graft-cli train prints the
 * notice.
 *
 * The run fine-tunes with flips, so that every epoch decodes every
 * picture afresh (no kept prefix outputs, no feature cache): a picture
 * removed once epoch 1 is reported is read, and found gone, in a later
 * epoch. */
#define G_LOG_DOMAIN "test-run-lost"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "graft-run.h"
#include "graft-scan.h"
#include "train-test-pictures.h"

#define PICTURE_SIDE 40
#define N_CLASSES 3
#define PER_CLASS 16
#define EPOCHS 4
#define POLL_US (5 * 1000)

static char *scratch, *backbone;

/* ---- Runs in-process --------------------------------------------------------- */

typedef enum
{
  DAMAGE_DELETE,     /* the file is removed */
  DAMAGE_GARBAGE,    /* the file is cut to a few bytes no loader reads */
  DAMAGE_CLASS,      /* every picture of class-a is removed */
} Damage;

typedef struct
{
  GMainLoop *loop;
  char *data;              /* the run's picture folder */
  char *victim;            /* the picture removed or damaged */
  Damage damage;
  guint damage_at;         /* after this epoch is reported */
  guint stop_after;        /* stop once this epoch is reported; 0: never */
  GPtrArray *lost;         /* messages of "lost" notices */
  char *failure;
} Watch;

static void
damage (Watch *w)
{
  static const char garbage[] = "\x89PNG\r\n\x1a\n truncated";
  g_autoptr (GError) error = NULL;

  if (w->damage == DAMAGE_GARBAGE)
    {
      g_file_set_contents (w->victim, garbage, sizeof garbage - 1, &error);
      g_assert_no_error (error);
      return;
    }
  if (w->damage == DAMAGE_DELETE)
    {
      g_assert_cmpint (g_remove (w->victim), ==, 0);
      return;
    }
  for (guint i = 0; i < PER_CLASS; i++)
    {
      g_autofree char *name = g_strdup_printf ("%04u.png", i);
      g_autofree char *path = g_build_filename (w->data, "class-a", name,
                                                NULL);
      g_assert_cmpint (g_remove (path), ==, 0);
    }
}

static void
on_epoch (GraftRun *run, GraftEpochReport *r, Watch *w)
{
  if (r->epoch == w->damage_at)
    damage (w);
  if (w->stop_after != 0 && r->epoch >= w->stop_after)
    graft_run_stop (run);
}

static void
on_notice (GraftRun *run, GraftRunNoticeKind kind, const char *message,
           Watch *w)
{
  if (kind == GRAFT_RUN_NOTICE_LOST)
    g_ptr_array_add (w->lost, g_strdup (message));
}

static void
on_end (GraftRun *run, Watch *w)
{
  g_main_loop_quit (w->loop);
}

static void
on_failed (GraftRun *run, const char *message, Watch *w)
{
  w->failure = g_strdup (message);
  g_main_loop_quit (w->loop);
}

static void
watch_clear (Watch *w)
{
  g_clear_pointer (&w->loop, g_main_loop_unref);
  g_clear_pointer (&w->lost, g_ptr_array_unref);
  g_clear_pointer (&w->data, g_free);
  g_clear_pointer (&w->victim, g_free);
  g_clear_pointer (&w->failure, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Watch, watch_clear)

/* A fresh picture folder @name, its second picture of class-b the one
 * to damage. */
static void
watch_init (Watch *w, const char *name, Damage how, guint32 seed)
{
  *w = (Watch) { g_main_loop_new (NULL, FALSE) };
  w->data = train_test_make_classes (scratch, name, N_CLASSES, PER_CLASS,
                                     PICTURE_SIDE, seed);
  w->victim = g_build_filename (w->data, "class-b", "0001.png", NULL);
  w->damage = how;
  w->damage_at = 1;
  w->lost = g_ptr_array_new_with_free_func (g_free);
}

static GraftRunConfig *
lost_config (const char *data)
{
  GraftRunConfig *config = graft_run_config_new (GRAFT_RUN_MODE_FINETUNE);

  config->backbone = g_strdup (backbone);
  config->data = g_new0 (char *, 2);
  config->data[0] = g_strdup (data);
  config->epochs = EPOCHS;
  config->batch = 8;
  config->seed = 5;
  config->patience = 0;
  config->augment_flip = TRUE;
  return config;
}

static GraftRunState
run_watched (GraftRun *run, Watch *w)
{
  g_signal_connect (run, "epoch", G_CALLBACK (on_epoch), w);
  g_signal_connect (run, "notice", G_CALLBACK (on_notice), w);
  g_signal_connect (run, "finished", G_CALLBACK (on_end), w);
  g_signal_connect (run, "failed", G_CALLBACK (on_failed), w);
  graft_run_start (run);
  g_main_loop_run (w->loop);
  return graft_run_get_state (run);
}

static JsonObject *
read_run (const char *run_dir, JsonParser *parser)
{
  g_autofree char *path = g_build_filename (run_dir, "run.json", NULL);
  g_autoptr (GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

/* run.json's data.lost holds @victim once (with a reason), and only it. */
static void
assert_lost_recorded (JsonObject *run, const char *victim)
{
  JsonObject *data = json_object_get_object_member (run, "data");
  JsonArray *lost = json_object_get_array_member (data, "lost");
  JsonObject *entry;

  g_assert_nonnull (lost);
  g_assert_cmpuint (json_array_get_length (lost), ==, 1);
  entry = json_array_get_object_element (lost, 0);
  g_assert_cmpstr (json_object_get_string_member (entry, "path"), ==,
                   victim);
  g_assert_false (json_object_has_member (entry, "path_bytes"));
  g_assert_cmpuint (strlen (json_object_get_string_member (entry, "reason")),
                    >, 0);
}

/* Every epoch of the run was trained and validated on what was left. */
static void
assert_trained (GraftRun *run, JsonObject *json, guint epochs)
{
  GPtrArray *reports = graft_run_get_epochs (run);
  JsonArray *history = json_object_get_array_member
    (json_object_get_object_member (json, "history"), "epochs");

  g_assert_cmpuint (reports->len, ==, epochs);
  g_assert_cmpuint (json_array_get_length (history), ==, epochs);
  for (guint i = 0; i < reports->len; i++)
    {
      const GraftEpochReport *r = reports->pdata[i];
      g_assert_true (isfinite (r->train_loss));
      g_assert_true (isfinite (r->val_loss));
      g_assert_true (isfinite (r->val_accuracy));
    }
}

/* With one picture a batch, the lost picture's batch is empty: no step
 * is recorded for it, its number is skipped, and each epoch still ends
 * at the step it would have. */
static void
assert_steps_skipped (JsonObject *json, guint n_train)
{
  JsonObject *history = json_object_get_object_member (json, "history");
  JsonArray *steps = json_object_get_array_member (history, "steps");
  JsonArray *epochs = json_object_get_array_member (history, "epochs");
  guint n = json_array_get_length (steps);
  gint64 last = -1;

  for (guint i = 0; i < n; i++)
    {
      JsonObject *step = json_array_get_object_element (steps, i);
      g_assert_cmpint (json_object_get_int_member (step, "step"), >, last);
      last = json_object_get_int_member (step, "step");
    }
  g_assert_cmpuint (n, <, EPOCHS * n_train);
  g_assert_cmpuint (n, >=, EPOCHS * n_train - (EPOCHS - 1));
  for (guint e = 0; e < EPOCHS; e++)
    g_assert_cmpint (json_object_get_int_member
                     (json_array_get_object_element (epochs, e), "step"),
                     ==, (e + 1) * n_train);
}

/* The first picture the run's split puts on the training side. */
static char *
first_training_picture (const GraftRunConfig *config)
{
  g_autoptr (GError) error = NULL;
  GraftScanOptions options;
  GraftScan *scan;
  char *path = NULL;

  graft_scan_options_init (&options);
  options.val_fraction = config->val_fraction;
  options.seed = config->split_seed;
  options.decode = TRUE;   /* as the run scans */
  scan = graft_scan_folders ((const char *const *) config->data, &options,
                             NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; path == NULL && i < scan->samples->len; i++)
    if (!g_array_index (scan->samples, GraftSample, i).val)
      path = g_strdup (g_array_index (scan->samples, GraftSample, i).path);
  graft_scan_free (scan);
  g_assert_nonnull (path);
  return path;
}

static void
check_one_lost (Damage how, const char *name, guint batch, guint32 seed)
{
  g_autofree char *dir = g_build_filename (scratch, name, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_auto (Watch) w = { 0 };
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GraftRun) run = NULL;
  g_autofree char *base = NULL;
  JsonObject *json;

  watch_init (&w, name, how, seed);
  config = lost_config (w.data);
  config->batch = batch;
  if (batch == 1)
    {
      g_free (w.victim);
      w.victim = first_training_picture (config);
    }
  run = graft_run_new (config, dir);
  if (run_watched (run, &w) != GRAFT_RUN_STATE_FINISHED)
    g_error ("the run failed: %s", w.failure);
  /* One notice, naming the picture and why it is gone. */
  g_assert_cmpuint (w.lost->len, ==, 1);
  g_test_message ("notice: %s", (char *) w.lost->pdata[0]);
  g_assert_nonnull (strstr (w.lost->pdata[0], w.victim));
  g_assert_nonnull (strstr (w.lost->pdata[0], ": "));
  json = read_run (dir, parser);
  g_assert_cmpstr (json_object_get_string_member (json, "status"), ==,
                   "finished");
  assert_lost_recorded (json, w.victim);
  assert_trained (run, json, EPOCHS);
  if (batch == 1)
    assert_steps_skipped (json, json_object_get_int_member
                          (json_object_get_object_member (json, "data"),
                           "train"));
  base = g_build_filename (dir, "model.onnx", NULL);
  g_assert_true (g_file_test (base, G_FILE_TEST_EXISTS));
}

static void
test_deleted (void)
{
  check_one_lost (DAMAGE_DELETE, "deleted", 8, g_test_rand_int ());
}

/* One picture a batch, the victim a training picture: its batch loses
 * all it has. */
static void
test_alone (void)
{
  check_one_lost (DAMAGE_DELETE, "alone", 1, g_test_rand_int ());
}

static void
test_garbage (void)
{
  check_one_lost (DAMAGE_GARBAGE, "garbage", 8, g_test_rand_int ());
}

/* A class with no training pictures left: the run fails, with one line
 * that says why, and run.json says so too. */
static void
test_too_many (void)
{
  g_autofree char *dir = g_build_filename (scratch, "class-gone", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_auto (Watch) w = { 0 };
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GraftRun) run = NULL;
  JsonObject *json;

  watch_init (&w, "class-gone", DAMAGE_CLASS, g_test_rand_int ());
  config = lost_config (w.data);
  run = graft_run_new (config, dir);
  g_assert_cmpint (run_watched (run, &w), ==, GRAFT_RUN_STATE_FAILED);
  g_test_message ("failure: %s", w.failure);
  g_assert_nonnull (w.failure);
  g_assert_null (strchr (w.failure, '\n'));
  g_assert_nonnull (strstr (w.failure, "class-a"));
  g_assert_nonnull (strstr (w.failure, "no training pictures left"));
  g_assert_cmpuint (w.lost->len, >, 0);
  json = read_run (dir, parser);
  g_assert_cmpstr (json_object_get_string_member (json, "status"), ==,
                   "failed");
  g_assert_cmpstr (json_object_get_string_member (json, "message"), ==,
                   w.failure);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member
                                           (json_object_get_object_member
                                            (json, "data"), "lost")),
                    ==, w.lost->len);
}

/* Stopped after the picture was lost, then resumed: the rescan no longer
 * finds it, the run ends, and run.json still lists it. */
static void
test_resume (void)
{
  g_autofree char *dir = g_build_filename (scratch, "resumed", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_auto (Watch) w = { 0 };
  g_auto (Watch) again = { 0 };
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GraftRun) run = NULL;
  g_autoptr (GraftRun) resumed = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *json;

  watch_init (&w, "resumed", DAMAGE_DELETE, g_test_rand_int ());
  w.stop_after = EPOCHS - 1;
  config = lost_config (w.data);
  run = graft_run_new (config, dir);
  g_assert_cmpint (run_watched (run, &w), ==, GRAFT_RUN_STATE_STOPPED);
  g_assert_cmpuint (w.lost->len, ==, 1);

  again = (Watch) { g_main_loop_new (NULL, FALSE) };
  again.lost = g_ptr_array_new_with_free_func (g_free);
  resumed = graft_run_open (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (run_watched (resumed, &again), ==,
                   GRAFT_RUN_STATE_FINISHED);
  g_assert_null (again.failure);
  g_assert_cmpuint (again.lost->len, ==, 0);
  json = read_run (dir, parser);
  g_assert_cmpstr (json_object_get_string_member (json, "status"), ==,
                   "finished");
  assert_lost_recorded (json, w.victim);
  assert_trained (resumed, json, EPOCHS);
}

/* ---- graft-cli train ------------------------------------------------------------ */

/* The picture deleted once the first checkpoint is written: graft-cli
 * prints the notice on stderr and the run succeeds. */
static void
test_cli (void)
{
  g_autofree char *dir = g_build_filename (scratch, "cli-run", NULL);
  g_autofree char *log = g_build_filename (scratch, "cli-stderr", NULL);
  g_autofree char *checkpoint = g_build_filename (dir,
                                                  "checkpoint.safetensors",
                                                  NULL);
  g_autofree char *data = train_test_make_classes (scratch, "cli",
                                                   N_CLASSES, PER_CLASS,
                                                   PICTURE_SIDE,
                                                   g_test_rand_int ());
  g_autofree char *victim = g_build_filename (data, "class-c", "0002.png",
                                              NULL);
  g_autofree char *err = NULL;
  const char *line;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) cli = NULL;
  g_autoptr (GError) error = NULL;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  cli = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("GRAFT_CLI"),
                                     "train", "--backbone", backbone,
                                     "--data", data, "--out", dir,
                                     "--mode", "finetune", "--augment",
                                     "flip", "--epochs", "4", "--batch", "8",
                                     "--patience", "0", NULL);
  g_assert_no_error (error);
  for (gint64 end = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
       !g_file_test (checkpoint, G_FILE_TEST_EXISTS);)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (POLL_US);
    }
  g_assert_cmpint (g_remove (victim), ==, 0);
  g_subprocess_wait (cli, NULL, &error);
  g_assert_no_error (error);
  g_file_get_contents (log, &err, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (cli));
  if (g_subprocess_get_exit_status (cli) != 0)
    g_error ("graft-cli train failed: %s", err);
  /* The CLI makes --data canonical: the folder may read differently. */
  line = strstr (err, "\nskipped ");
  g_assert_nonnull (line);
  g_assert_nonnull (strstr (line, "class-c" G_DIR_SEPARATOR_S "0002.png: "));
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  backbone = g_test_build_filename (G_TEST_DIST, "data", "torch",
                                    "resnet18.onnx", NULL);
  scratch = g_dir_make_tmp ("graft-lost-XXXXXX", NULL);
  g_test_add_func ("/train/lost/deleted", test_deleted);
  g_test_add_func ("/train/lost/garbage", test_garbage);
  g_test_add_func ("/train/lost/alone", test_alone);
  g_test_add_func ("/train/lost/too-many", test_too_many);
  g_test_add_func ("/train/lost/resume", test_resume);
  g_test_add_func ("/train/lost/cli", test_cli);
  status = g_test_run ();
  train_test_rm_rf (scratch);
  g_free (scratch);
  g_free (backbone);
  return status;
}
