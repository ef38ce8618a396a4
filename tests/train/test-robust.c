/* test-robust.c: a run survives what real runs meet — a SIGKILL in the
 * middle of an epoch, a loss that blows up, a user who pauses, resumes
 * and stops, a second trainer started on the same folder — with
 * graft-cli driven as a process and GraftRun in-process; and a resumed
 * run shows its whole history without telling the old part again.
 *
 * The pictures are made at test time: three classes of 40 × 40 PNGs,
 * resnet18.onnx's input size, so that decoding stays cheap. */
#define G_LOG_DOMAIN "test-robust"

#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "graft-error.h"
#include "graft-run.h"
#include "graft-run-files.h"
#include "graft-safetensors.h"
#include "train-test-pictures.h"
#include "graft-test-limits.h"

#define PICTURE_SIDE 40
#define N_CLASSES 3
#define SMALL_PER_CLASS 30
#define LARGE_PER_CLASS 240
#define POLL_US (5 * 1000)
#define LATENCY_LIMIT_US (200 * 1000)

/* Set up once in main (): a small and a large data set, and the backbone. */
static char *scratch, *small_data, *large_data, *backbone;

/* ---- graft-cli as a process ------------------------------------------------ */

typedef struct
{
  int status;       /* the exit code; -1 when killed by a signal */
  char *out, *err;
} CliResult;

static void
cli_result_clear (CliResult *r)
{
  g_free (r->out);
  g_free (r->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliResult, cli_result_clear)

/* "graft-cli train" followed by @args (NULL-terminated). */
static GPtrArray *
train_argv (const char *const *args)
{
  GPtrArray *argv = g_ptr_array_new ();

  g_ptr_array_add (argv, (gpointer) g_getenv ("GRAFT_CLI"));
  g_ptr_array_add (argv, (gpointer) "train");
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  return argv;
}

static CliResult
train_sync (const char *const *args)
{
  g_autoptr (GPtrArray) argv = train_argv (args);
  g_autoptr (GError) error = NULL;
  CliResult r = { 0 };
  int wait_status;

  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL,
                NULL, &r.out, &r.err, &wait_status, &error);
  g_assert_no_error (error);
  r.status = WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
  return r;
}

/* Runs to the end and must succeed. */
static void
train_ok (const char *const *args)
{
  g_auto (CliResult) r = train_sync (args);

  if (r.status != 0)
    g_error ("graft-cli train exited with %d: %s", r.status, r.err);
}

/* The training arguments of a run into @out: @extra (NULL-terminated)
 * after the common ones.  The strings are borrowed. */
static const char **
run_args (const char *data, const char *out, const char *const *extra)
{
  GPtrArray *args = g_ptr_array_new ();

  g_ptr_array_add (args, (gpointer) "--backbone");
  g_ptr_array_add (args, backbone);
  g_ptr_array_add (args, (gpointer) "--data");
  g_ptr_array_add (args, (gpointer) data);
  g_ptr_array_add (args, (gpointer) "--out");
  g_ptr_array_add (args, (gpointer) out);
  for (; *extra != NULL; extra++)
    g_ptr_array_add (args, (gpointer) *extra);
  g_ptr_array_add (args, NULL);
  return (const char **) g_ptr_array_free (args, FALSE);
}

/* ---- What a run leaves ------------------------------------------------------ */

static JsonNode *
read_json (const char *run_dir)
{
  g_autofree char *path = g_build_filename (run_dir, "run.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static JsonArray *
history_array (JsonNode *run, const char *name)
{
  JsonObject *history = json_object_get_object_member
    (json_node_get_object (run), "history");

  return json_object_get_array_member (history, name);
}

/* The epoch a checkpoint holds, or -1 while there is none (or it is
 * being replaced: the rename is atomic, but the test may race it). */
static int
checkpoint_epoch (const char *run_dir)
{
  g_autofree char *path = g_build_filename (run_dir, "checkpoint.safetensors",
                                            NULL);
  g_autoptr (GraftSafetensors) st = graft_safetensors_load (path, NULL);
  const char *epoch;

  if (st == NULL)
    return -1;
  epoch = g_hash_table_lookup (graft_safetensors_get_metadata (st), "epoch");
  return epoch != NULL ? atoi (epoch) : -1;
}

/* Steps 0..N-1 in order, each once, their epochs 1..@epochs in order
 * and @per_epoch of each; epochs 1..@epochs once each. */
static void
assert_history_complete (JsonNode *run, guint epochs, guint per_epoch)
{
  JsonArray *steps = history_array (run, "steps");
  JsonArray *reports = history_array (run, "epochs");

  g_assert_cmpuint (json_array_get_length (steps), ==, epochs * per_epoch);
  for (guint i = 0; i < json_array_get_length (steps); i++)
    {
      JsonObject *s = json_array_get_object_element (steps, i);
      g_assert_cmpint (json_object_get_int_member (s, "step"), ==, i);
      g_assert_cmpint (json_object_get_int_member (s, "epoch"), ==,
                       i / per_epoch + 1);
    }
  g_assert_cmpuint (json_array_get_length (reports), ==, epochs);
  for (guint i = 0; i < epochs; i++)
    g_assert_cmpint (json_object_get_int_member
                     (json_array_get_object_element (reports, i), "epoch"),
                     ==, i + 1);
}

/* The same numbers, bit for bit, in @member of each element of two
 * arrays of objects. */
static void
assert_same_numbers (JsonArray *a, JsonArray *b, const char *member)
{
  g_assert_cmpuint (json_array_get_length (a), ==, json_array_get_length (b));
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      double x = json_object_get_double_member
        (json_array_get_object_element (a, i), member);
      double y = json_object_get_double_member
        (json_array_get_object_element (b, i), member);
      if (x != y)
        g_error ("%s of element %u: %.17g, uninterrupted %.17g", member, i,
                 x, y);
    }
}

/* Every tensor of two safetensors files, byte for byte. */
static void
assert_same_tensors (const char *dir_a, const char *dir_b, const char *file)
{
  g_autofree char *path_a = g_build_filename (dir_a, file, NULL);
  g_autofree char *path_b = g_build_filename (dir_b, file, NULL);
  g_autoptr (GraftSafetensors) a = graft_safetensors_load (path_a, NULL);
  g_autoptr (GraftSafetensors) b = graft_safetensors_load (path_b, NULL);

  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpuint (graft_safetensors_get_n_tensors (a), ==,
                    graft_safetensors_get_n_tensors (b));
  for (guint i = 0; i < graft_safetensors_get_n_tensors (a); i++)
    {
      const GraftTensorView *x = graft_safetensors_get_tensor (a, i);
      const GraftTensorView *y = graft_safetensors_lookup (b, x->name);
      gsize bytes = graft_tensor_view_n_elements (x)
        * graft_dtype_size (x->dtype);
      g_assert_nonnull (y);
      g_assert_cmpuint (graft_tensor_view_n_elements (y), ==,
                        graft_tensor_view_n_elements (x));
      if (memcmp (x->data, y->data, bytes) != 0)
        g_error ("%s: tensor %s differs from the uninterrupted run's", file,
                 x->name);
    }
}

/* ---- Killed and resumed ------------------------------------------------------ */

#define KILL_EPOCHS 4
#define KILL_BATCH 16

/* Stops the process @pid somewhere in the middle of an epoch after the
 * first: once checkpoint k is on disk, waits part of an epoch, freezes
 * the process with SIGSTOP and checks that neither run.json nor the
 * checkpoint has moved past k.  Returns k. */
static int
freeze_mid_epoch (GPid pid, const char *run_dir)
{
  for (int seen = -1;;)
    {
      int k = checkpoint_epoch (run_dir);
      g_autoptr (JsonNode) run = NULL;
      double seconds;

      g_assert_cmpint (waitpid (pid, NULL, WNOHANG), ==, 0);
      if (k < 1 || k == seen || k >= KILL_EPOCHS)
        {
          g_assert_cmpint (k, <, KILL_EPOCHS);
          g_usleep (POLL_US);
          continue;
        }
      seen = k;
      run = read_json (run_dir);
      seconds = json_object_get_double_member (json_array_get_object_element
                                               (history_array (run, "epochs"),
                                                k - 1), "seconds");
      g_usleep ((gulong) (0.4 * seconds * G_USEC_PER_SEC));
      g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
      g_clear_pointer (&run, json_node_unref);
      run = read_json (run_dir);
      if (checkpoint_epoch (run_dir) == k
          && json_array_get_length (history_array (run, "epochs")) == (guint) k)
        return k;
      g_test_message ("epoch %d ended before the freeze; trying the next", k);
      kill (pid, SIGCONT);
    }
}

/* Starts graft-cli train with @args, freezes it in the middle of an
 * epoch and kills it; run.json must still say it is running.  Returns
 * the epochs it had finished. */
static int
kill_mid_epoch (const char *const *args, const char *run_dir)
{
  g_autoptr (GPtrArray) argv = train_argv (args);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) run = NULL;
  int k, wait_status;
  GPid pid;

  g_spawn_async (NULL, (char **) argv->pdata, NULL,
                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL
                 | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &pid, &error);
  g_assert_no_error (error);
  k = freeze_mid_epoch (pid, run_dir);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (pid, &wait_status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (wait_status));
  g_test_message ("killed in the middle of epoch %d of %d", k + 1,
                  KILL_EPOCHS);
  run = read_json (run_dir);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (run),
                                                  "status"), ==, "running");
  return k;
}

/* The epochs graft-cli train reported on @err, in order, must be
 * @first..@last: a resumed run does not report its kept epochs again. */
static void
assert_epoch_lines (const char *err, guint first, guint last)
{
  g_auto (GStrv) lines = g_strsplit (err, "\n", -1);
  guint next = first;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      guint epoch;
      if (sscanf (lines[i], "epoch %u:", &epoch) != 1)
        continue;
      g_assert_cmpuint (epoch, ==, next);
      next++;
    }
  g_assert_cmpuint (next, ==, last + 1);
}

/* Two finished runs with the same losses, learning rates, metrics, stage
 * events and weights, bit for bit. */
static void
assert_same_run (const char *dir, const char *reference)
{
  g_autoptr (JsonNode) a = read_json (dir);
  g_autoptr (JsonNode) b = read_json (reference);
  const char *steps[] = { "loss", "lr" };
  const char *epochs[] = { "train_loss", "val_loss", "val_accuracy" };

  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (a),
                                                  "status"), ==, "finished");
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    assert_same_numbers (history_array (a, "steps"),
                         history_array (b, "steps"), steps[i]);
  for (guint i = 0; i < G_N_ELEMENTS (epochs); i++)
    assert_same_numbers (history_array (a, "epochs"),
                         history_array (b, "epochs"), epochs[i]);
  assert_same_numbers (json_object_get_array_member (json_node_get_object (a),
                                                     "stages"),
                       json_object_get_array_member (json_node_get_object (b),
                                                     "stages"), "step");
  assert_same_tensors (dir, reference, "checkpoint.safetensors");
  assert_same_tensors (dir, reference, "head.safetensors");
}

/* Steps a finished run made per epoch, from its first epoch's report. */
static guint
steps_per_epoch (const char *run_dir)
{
  g_autoptr (JsonNode) run = read_json (run_dir);

  return json_object_get_int_member (json_array_get_object_element
                                     (history_array (run, "epochs"), 0),
                                     "step");
}

/* SIGKILL in the middle of an epoch, then --resume: the finished history
 * has every step once, and — since shuffles, dropout masks and the
 * optimizer's state all come back from the seed and the checkpoint — the
 * same losses, metrics and weights as a run never interrupted. */
static void
test_kill_resume (void)
{
  g_autofree char *killed = g_build_filename (scratch, "killed", NULL);
  g_autofree char *whole = g_build_filename (scratch, "whole", NULL);
  g_autofree char *epochs = g_strdup_printf ("%d", KILL_EPOCHS);
  g_autofree char *batch = g_strdup_printf ("%d", KILL_BATCH);
  const char *extra[] = { "--mode", "finetune", "--unfreeze", "all",
                          "--epochs", epochs, "--batch", batch, "--seed", "7",
                          "--hidden", "32", "--dropout", "0.3", NULL };
  g_autofree const char **killed_args = run_args (large_data, killed, extra);
  g_autofree const char **whole_args = run_args (large_data, whole, extra);
  const char *resume_args[] = { "--resume", killed, NULL };
  g_autoptr (JsonNode) run = NULL;
  int k = kill_mid_epoch (killed_args, killed);
  g_auto (CliResult) resumed = train_sync (resume_args);

  g_assert_cmpint (resumed.status, ==, 0);
  assert_epoch_lines (resumed.err, k + 1, KILL_EPOCHS);
  train_ok (whole_args);
  run = read_json (killed);
  assert_history_complete (run, KILL_EPOCHS, steps_per_epoch (whole));
  assert_same_run (killed, whole);
}

/* ---- Progressive unfreezing, stopped and resumed ------------------------------ */

#define PROGRESSIVE_EPOCHS "7"

typedef struct
{
  GMainLoop *loop;
  guint stop_after;        /* stop once this epoch is reported; 0: never */
  guint last_epoch;
} Session;

static void
on_session_epoch (GraftRun *run, GraftEpochReport *r, Session *s)
{
  s->last_epoch = r->epoch;
  if (s->stop_after != 0 && r->epoch >= s->stop_after)
    graft_run_stop (run);
}

static void
on_session_end (GraftRun *run, Session *s)
{
  g_main_loop_quit (s->loop);
}

static void
on_session_failed (GraftRun *run, const char *message, Session *s)
{
  g_error ("the run failed: %s", message);
}

/* Runs @run to its end, stopping it once epoch @stop_after is reported
 * (0: never); returns the state it ended in. */
static GraftRunState
run_session (GraftRun *run, guint stop_after)
{
  Session s = { g_main_loop_new (NULL, FALSE), stop_after };

  g_signal_connect (run, "epoch", G_CALLBACK (on_session_epoch), &s);
  g_signal_connect (run, "finished", G_CALLBACK (on_session_end), &s);
  g_signal_connect (run, "failed", G_CALLBACK (on_session_failed), &s);
  graft_run_start (run);
  g_main_loop_run (s.loop);
  g_main_loop_unref (s.loop);
  g_test_message ("session ended after epoch %u: %s", s.last_epoch,
                  graft_run_get_state (run) == GRAFT_RUN_STATE_STOPPED
                  ? "stopped" : "finished");
  return graft_run_get_state (run);
}

/* A run of @mode on the pictures in @data with the test's backbone. */
static GraftRunConfig *
robust_config (GraftRunMode mode, const char *data)
{
  GraftRunConfig *config = graft_run_config_new (mode);

  config->backbone = g_strdup (backbone);
  config->data = g_new0 (char *, 2);
  config->data[0] = g_strdup (data);
  return config;
}

static GraftRunConfig *
progressive_config (void)
{
  GraftRunConfig *config = robust_config (GRAFT_RUN_MODE_PROGRESSIVE,
                                          small_data);
  g_autoptr (GError) error = NULL;

  graft_run_config_set_option (config, "epochs", PROGRESSIVE_EPOCHS, &error);
  g_assert_no_error (error);
  config->batch = 16;
  config->seed = 11;
  /* Never plateau, so that every stage boundary within the cap is met. */
  config->plateau_tolerance = 0;
  return config;
}

/* Stopped inside a stage (after its first epoch), at its end, then
 * inside the next (whose boundary values the first stage's pass carried),
 * each time resumed from the checkpoint: the stages, the history and the
 * weights are those of an uninterrupted run. */
static void
test_progressive_resume (void)
{
  g_autofree char *stopped = g_build_filename (scratch, "prog-stopped", NULL);
  g_autofree char *whole = g_build_filename (scratch, "prog-whole", NULL);
  g_autoptr (GraftRunConfig) config = progressive_config ();
  g_autoptr (JsonNode) a = NULL;
  const guint stops[] = { 1, 2, 3, 0 };

  {
    g_autoptr (GraftRun) run = graft_run_new (config, whole);
    g_assert_cmpint (run_session (run, 0), ==, GRAFT_RUN_STATE_FINISHED);
  }
  for (guint i = 0; i < G_N_ELEMENTS (stops); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GraftRun) run = i == 0 ? graft_run_new (config, stopped)
        : graft_run_open (stopped, &error);
      g_assert_no_error (error);
      g_assert_cmpint (run_session (run, stops[i]), ==, stops[i] != 0
                       ? GRAFT_RUN_STATE_STOPPED : GRAFT_RUN_STATE_FINISHED);
    }
  a = read_json (stopped);
  assert_history_complete (a, atoi (PROGRESSIVE_EPOCHS),
                           steps_per_epoch (whole));
  assert_same_run (stopped, whole);
}

/* ---- A resumed run tells its whole history ------------------------------ */

#define RESUME_STOP_EPOCH 3

typedef struct
{
  GMainLoop *loop;
  guint steps, epochs, stages;   /* signals of each */
  guint first_epoch;             /* the first "epoch" signal's */
  guint resumed;                 /* RESUMED notices */
  guint epochs_at_resumed;       /* in the array when it came */
  guint steps_at_resumed;        /* "step" signals before it */
  guint steps_at_first_step;     /* in the array at the first "step" */
  gboolean updated;              /* "updated" after the RESUMED notice */
} Replay;

static void
on_replay_step (GraftRun *run, guint step, guint epoch, double loss,
                double lr, Replay *r)
{
  if (r->steps++ == 0)
    r->steps_at_first_step = graft_run_get_steps (run)->len;
}

static void
on_replay_epoch (GraftRun *run, GraftEpochReport *report, Replay *r)
{
  if (r->epochs++ == 0)
    r->first_epoch = report->epoch;
}

static void
on_replay_stage (GraftRun *run, guint epoch, guint step, const char *block,
                 const char *reason, Replay *r)
{
  r->stages++;
}

static void
on_replay_notice (GraftRun *run, GraftRunNoticeKind kind,
                  const char *message, Replay *r)
{
  g_autofree char *epoch = g_strdup_printf ("epoch %u", RESUME_STOP_EPOCH);

  if (kind != GRAFT_RUN_NOTICE_RESUMED)
    return;
  g_test_message ("notice: %s", message);
  g_assert_nonnull (strstr (message, epoch));
  /* A resumed run holds its folder's lock too. */
  g_assert_true (graft_run_files_in_use (graft_run_get_dir (run)));
  r->resumed++;
  r->epochs_at_resumed = graft_run_get_epochs (run)->len;
  r->steps_at_resumed = r->steps;
}

static void
on_replay_updated (GraftRun *run, Replay *r)
{
  r->updated = r->updated || r->resumed > 0;
}

/* Resumes @dir to its end, counting the signals. */
static void
replay_session (GraftRun *run, Replay *r)
{
  g_signal_connect (run, "step", G_CALLBACK (on_replay_step), r);
  g_signal_connect (run, "epoch", G_CALLBACK (on_replay_epoch), r);
  g_signal_connect (run, "stage", G_CALLBACK (on_replay_stage), r);
  g_signal_connect (run, "notice", G_CALLBACK (on_replay_notice), r);
  g_signal_connect (run, "updated", G_CALLBACK (on_replay_updated), r);
  g_assert_cmpint (run_session (run, 0), ==, GRAFT_RUN_STATE_FINISHED);
}

/* The run's epochs begin with @kept's validation losses, bit for bit,
 * and number @total. */
static void
assert_epochs_kept (GraftRun *run, JsonArray *kept, guint total)
{
  GPtrArray *epochs = graft_run_get_epochs (run);

  g_assert_cmpuint (epochs->len, ==, total);
  for (guint i = 0; i < epochs->len; i++)
    g_assert_cmpuint (((GraftEpochReport *) epochs->pdata[i])->epoch, ==,
                      i + 1);
  for (guint i = 0; i < json_array_get_length (kept); i++)
    g_assert_cmpfloat (((GraftEpochReport *) epochs->pdata[i])->val_loss, ==,
                       json_object_get_double_member
                       (json_array_get_object_element (kept, i),
                        "val_loss"));
}

/* Steps 0..N-1, each once; the kept ones, @n_kept, without a time. */
static void
assert_steps_continuous (GraftRun *run, guint total, guint n_kept)
{
  const GArray *steps = graft_run_get_steps (run);

  g_assert_cmpuint (steps->len, ==, total);
  for (guint i = 0; i < steps->len; i++)
    {
      const GraftStepPoint *p = &g_array_index (steps, GraftStepPoint, i);
      g_assert_cmpuint (p->step, ==, i);
      if (i < n_kept)
        g_assert_cmpfloat (p->seconds, ==, 0);
    }
}

/* The stages in the run match run.json's, block for block. */
static void
assert_stages_match (GraftRun *run, JsonArray *stages)
{
  GPtrArray *got = graft_run_get_stages (run);

  g_assert_cmpuint (got->len, ==, json_array_get_length (stages));
  for (guint i = 0; i < got->len; i++)
    {
      const GraftStageEvent *e = got->pdata[i];
      JsonObject *o = json_array_get_object_element (stages, i);
      g_assert_cmpstr (e->block, ==, json_object_get_string_member (o,
                                                                    "block"));
      g_assert_cmpuint (e->step, ==, json_object_get_int_member (o, "step"));
    }
}

/* Stopped after epoch 3 of a progressive run, in its second stage, then
 * opened and resumed: the run's arrays hold the whole run — the kept
 * epochs as run.json had them, every step, both sessions' stages — while
 * its signals tell only what is new, after one RESUMED notice. */
static void
test_resume_history (void)
{
  g_autofree char *dir = g_build_filename (scratch, "replayed", NULL);
  g_autoptr (GraftRunConfig) config = progressive_config ();
  g_autoptr (GraftRun) first = graft_run_new (config, dir);
  g_autoptr (GraftRun) resumed = NULL;
  g_autoptr (JsonNode) before = NULL;
  g_autoptr (JsonNode) after = NULL;
  g_autoptr (GError) error = NULL;
  Replay r = { 0 };
  guint total = atoi (PROGRESSIVE_EPOCHS), per_epoch, kept_stages;

  g_assert_cmpint (run_session (first, RESUME_STOP_EPOCH), ==,
                   GRAFT_RUN_STATE_STOPPED);
  before = read_json (dir);
  g_assert_cmpuint (json_array_get_length (history_array (before, "epochs")),
                    ==, RESUME_STOP_EPOCH);
  per_epoch = graft_run_get_steps (first)->len / RESUME_STOP_EPOCH;
  kept_stages = json_array_get_length (json_object_get_array_member
                                       (json_node_get_object (before),
                                        "stages"));
  g_assert_cmpuint (kept_stages, ==, 2);

  resumed = graft_run_open (dir, &error);
  g_assert_no_error (error);
  replay_session (resumed, &r);
  g_assert_false (graft_run_files_in_use (dir));
  after = read_json (dir);

  assert_epochs_kept (resumed, history_array (before, "epochs"), total);
  assert_steps_continuous (resumed, total * per_epoch,
                           RESUME_STOP_EPOCH * per_epoch);
  assert_stages_match (resumed, json_object_get_array_member
                       (json_node_get_object (after), "stages"));
  g_assert_cmpuint (r.epochs, ==, total - RESUME_STOP_EPOCH);
  g_assert_cmpuint (r.first_epoch, ==, RESUME_STOP_EPOCH + 1);
  g_assert_cmpuint (r.steps, ==, (total - RESUME_STOP_EPOCH) * per_epoch);
  g_assert_cmpuint (r.stages, ==, graft_run_get_stages (resumed)->len
                    - kept_stages);
  g_assert_cmpuint (r.resumed, ==, 1);
  g_assert_cmpuint (r.epochs_at_resumed, ==, RESUME_STOP_EPOCH);
  g_assert_cmpuint (r.steps_at_resumed, ==, 0);
  g_assert_cmpuint (r.steps_at_first_step, ==,
                    RESUME_STOP_EPOCH * per_epoch + 1);
  g_assert_true (r.updated);
  g_assert_cmpint (((GraftRunNotice *) graft_run_get_notices (resumed)
                    ->pdata[0])->kind, ==, GRAFT_RUN_NOTICE_RESUMED);
}

/* ---- A loss that becomes NaN --------------------------------------------------- */

static void
assert_finite_tensors (GraftSafetensors *st)
{
  for (guint i = 0; i < graft_safetensors_get_n_tensors (st); i++)
    {
      const GraftTensorView *v = graft_safetensors_get_tensor (st, i);
      const float *x = v->data;
      if (v->dtype != GRAFT_DTYPE_F32)
        continue;
      for (gsize j = 0; j < graft_tensor_view_n_elements (v); j++)
        if (!isfinite (x[j]))
          g_error ("%s[%zu] is %g in the kept checkpoint", v->name, j, x[j]);
    }
}

/* A failure on stderr: whatever progress came before, one line that
 * starts with the program's name, last; returns that line. */
static char *
failure_line (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  const char *last = "";
  guint n_failures = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (lines[i][0] != '\0')
        last = lines[i];
      n_failures += g_str_has_prefix (lines[i], "graft-cli:");
    }
  g_test_message ("stderr ends with: %s", last);
  g_assert_cmpuint (n_failures, ==, 1);
  g_assert_true (g_str_has_prefix (last, "graft-cli: "));
  return g_strdup (last);
}

static gboolean
says_not_finite (const char *message)
{
  return strstr (message, "NaN") != NULL
    || strstr (message, "infinite") != NULL;
}

/* SGD at the largest learning rate allowed with full weight decay: each
 * step multiplies the weights by about 1 - lr, so once the warm-up has
 * raised the rate past 2 they grow geometrically until they overflow.
 * The warm-up lets the first epochs end well, so there is a good
 * checkpoint to keep. */
static void
test_nan_fails (void)
{
  g_autofree char *dir = g_build_filename (scratch, "nan", NULL);
  const char *extra[] = { "--mode", "extract", "--optimizer", "sgd",
                          "--lr", "10", "--weight-decay", "1",
                          "--warmup-epochs", "3", "--batch", "8",
                          "--epochs", "30", NULL };
  g_autofree const char **args = run_args (small_data, dir, extra);
  g_auto (CliResult) r = train_sync (args);
  g_autofree char *path = g_build_filename (dir, "checkpoint.safetensors",
                                            NULL);
  g_autoptr (GraftSafetensors) st = NULL;
  g_autoptr (JsonNode) run = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  const char *message;
  guint epochs;

  g_assert_cmpint (r.status, ==, 1);
  g_assert_cmpstr (r.out, ==, "");
  line = failure_line (r.err);
  g_assert_true (says_not_finite (line));

  run = read_json (dir);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (run),
                                                  "status"), ==, "failed");
  message = json_object_get_string_member (json_node_get_object (run),
                                           "message");
  g_assert_true (says_not_finite (message));
  g_assert_true (g_str_has_suffix (line, message));
  epochs = json_array_get_length (history_array (run, "epochs"));
  g_test_message ("%u good epochs before: %s", epochs, message);
  g_assert_cmpuint (epochs, >=, 1);

  st = graft_safetensors_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (checkpoint_epoch (dir), ==, epochs);
  assert_finite_tensors (st);
}

typedef struct
{
  GMainLoop *loop;
  GraftRunNoticeKind kind;
  char *notice;            /* the last notice's message */
  char *failure;
} NanWatch;

static void
on_nan_notice (GraftRun *run, GraftRunNoticeKind kind, const char *message,
               NanWatch *w)
{
  w->kind = kind;
  g_free (w->notice);
  w->notice = g_strdup (message);
}

static void
on_nan_failed (GraftRun *run, const char *message, NanWatch *w)
{
  w->failure = g_strdup (message);
  g_main_loop_quit (w->loop);
}

static void
on_nan_finished (GraftRun *run, NanWatch *w)
{
  g_main_loop_quit (w->loop);
}

/* The same divergence through GraftRun: the event log's last notice is a
 * NaN stop with the failure's own words, and the failure keeps its
 * GError (the engine's numeric error). */
static void
test_nan_notice (void)
{
  g_autofree char *dir = g_build_filename (scratch, "nan-notice", NULL);
  g_autoptr (GraftRunConfig) config = robust_config (GRAFT_RUN_MODE_EXTRACT,
                                                     small_data);
  const char *options[][2] = { { "optimizer", "sgd" }, { "lr", "10" },
                               { "weight-decay", "1" },
                               { "warmup-epochs", "3" }, { "batch", "8" },
                               { "epochs", "30" } };
  NanWatch w = { g_main_loop_new (NULL, FALSE) };
  g_autoptr (GraftRun) run = NULL;
  const GPtrArray *notices;

  for (gsize i = 0; i < G_N_ELEMENTS (options); i++)
    {
      g_autoptr (GError) error = NULL;
      graft_run_config_set_option (config, options[i][0], options[i][1],
                                   &error);
      g_assert_no_error (error);
    }
  run = graft_run_new (config, dir);
  g_signal_connect (run, "notice", G_CALLBACK (on_nan_notice), &w);
  g_signal_connect (run, "failed", G_CALLBACK (on_nan_failed), &w);
  g_signal_connect (run, "finished", G_CALLBACK (on_nan_finished), &w);
  graft_run_start (run);
  g_main_loop_run (w.loop);
  g_assert_nonnull (w.failure);
  g_assert_cmpint (w.kind, ==, GRAFT_RUN_NOTICE_NAN_STOP);
  g_assert_cmpstr (w.notice, ==, w.failure);
  g_assert_error ((GError *) graft_run_get_error (run), GRAFT_ENGINE_ERROR,
                  GF_ERR_NUMERIC);
  notices = graft_run_get_notices (run);
  g_assert_cmpint (((GraftRunNotice *) notices->pdata[notices->len - 1])
                   ->kind, ==, GRAFT_RUN_NOTICE_NAN_STOP);
  g_assert_cmpint (((GraftRunNotice *) notices->pdata[0])->kind, ==,
                   GRAFT_RUN_NOTICE_BEST_EPOCH);
  g_main_loop_unref (w.loop);
  g_free (w.notice);
  g_free (w.failure);
}

/* ---- Pause, resume and stop in-process -------------------------------------- */

/* The worker counts as computing while the process uses more than this
 * share of a core; paused, it sleeps on a condition and uses none. */
#define BUSY_SHARE 0.2
#define SAMPLE_MS 5

typedef struct
{
  GMainLoop *loop;
  guint steps;             /* "step" signals so far */
  guint quit_at;           /* quit the loop at this many steps */
  gboolean quit_at_checkpoint;
  gint64 step_us;          /* when the latest arrived */
  gint64 end_us;           /* when "finished" or "failed" arrived */
  guint timeout;           /* the source that ends spin () */
  double cpu;              /* process CPU seconds at the last sample */
  gint64 sample_us;        /* when that was */
  gint64 busy_us;          /* the last sample that found the worker busy */
  gint64 woke_us;          /* the first such since it was last zeroed */
} Watch;

static double
cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Every few milliseconds on the main loop, which also delivers the run's
 * signals: whether the worker computed since the last sample. */
static gboolean
sample_cpu (gpointer data)
{
  Watch *w = data;
  gint64 now = g_get_monotonic_time ();
  double cpu = cpu_seconds ();

  if (cpu - w->cpu > BUSY_SHARE * (now - w->sample_us) / 1e6)
    {
      w->busy_us = now;
      if (w->woke_us == 0)
        w->woke_us = now;
    }
  w->cpu = cpu;
  w->sample_us = now;
  return G_SOURCE_CONTINUE;
}

static void
on_step (GraftRun *run, guint step, guint epoch, double loss, double lr,
         Watch *w)
{
  w->step_us = g_get_monotonic_time ();
  if (++w->steps == w->quit_at)
    g_main_loop_quit (w->loop);
}

static void
on_checkpoint (GraftRun *run, guint epoch, const char *path, Watch *w)
{
  if (w->quit_at_checkpoint)
    g_main_loop_quit (w->loop);
}

static void
on_end (GraftRun *run, Watch *w)
{
  w->end_us = g_get_monotonic_time ();
  g_main_loop_quit (w->loop);
}

static void
on_failed (GraftRun *run, const char *message, Watch *w)
{
  g_test_message ("failed: %s", message);
  on_end (run, w);
}

static gboolean
time_up (gpointer data)
{
  Watch *w = data;

  w->timeout = 0;
  g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

/* Runs the loop for @us, or until something quits it first. */
static void
spin (Watch *w, gint64 us)
{
  w->timeout = g_timeout_add ((guint) (us / 1000), time_up, w);
  g_main_loop_run (w->loop);
  g_clear_handle_id (&w->timeout, g_source_remove);
}

/* Returns a quarter of a step into the next epoch's one step: well
 * inside its passes, past the checkpoint written before it (whose writes
 * no pause may cut short). */
static void
wait_into_step (Watch *w, gint64 step_us)
{
  w->quit_at = 0;
  w->quit_at_checkpoint = TRUE;
  spin (w, 20 * MAX (step_us, 100 * 1000));
  w->quit_at_checkpoint = FALSE;
  spin (w, step_us / 4);
}

/* How soon a pause or a stop must reach the worker: LATENCY_LIMIT_US.  A
 * pass pauses or stops between two nodes of its graph, so no bound can
 * be below the longest node; under AddressSanitizer, with the engine at
 * -O0, one node took 1.3 s of a 3.4 s step while other tests loaded both
 * cores (an AMD EPYC machine), so there the bound is half a step. */
static gint64
latency_limit (gint64 step_us)
{
#ifdef GRAFT_TEST_UNDER_ASAN
  return MAX (LATENCY_LIMIT_US, step_us / 2);
#else
  (void) step_us;
  return LATENCY_LIMIT_US;
#endif
}

/* Pauses in the middle of a step: the worker must stop computing within
 * the limit and no step may complete after that. */
static void
check_pause (GraftRun *run, Watch *w, gint64 step_us)
{
  const gint64 limit = latency_limit (step_us);
  gint64 window = MAX (3 * step_us, 600 * 1000), paused_us, idle;
  guint steps;

  wait_into_step (w, step_us);
  paused_us = g_get_monotonic_time ();
  graft_run_pause (run);
  g_assert_cmpint (graft_run_get_state (run), ==, GRAFT_RUN_STATE_PAUSED);
  spin (w, limit);
  steps = w->steps;
  spin (w, window - limit);
  idle = MAX (w->busy_us - paused_us, 0);
  g_test_message ("pause: the worker idle %.0f ms after the call (sampled "
                  "every %d ms); last step %.0f ms before it; a step takes "
                  "%.0f ms", idle / 1e3, SAMPLE_MS,
                  (paused_us - w->step_us) / 1e3, step_us / 1e3);
  g_assert_cmpint (idle, <, limit);
  g_assert_cmpuint (w->steps, ==, steps);
}

/* Unpauses: the worker computes again at once and steps follow. */
static void
check_unpause (GraftRun *run, Watch *w, gint64 step_us)
{
  guint before = w->steps;
  gint64 unpaused_us = g_get_monotonic_time ();

  w->woke_us = 0;
  graft_run_unpause (run);
  g_assert_cmpint (graft_run_get_state (run), ==, GRAFT_RUN_STATE_RUNNING);
  w->quit_at = before + 2;
  spin (w, 20 * MAX (step_us, 100 * 1000));
  g_assert_cmpuint (w->steps, ==, before + 2);
  g_test_message ("unpause: the worker busy %.0f ms after the call; 2 steps "
                  "in %.0f ms", (w->woke_us - unpaused_us) / 1e3,
                  (w->step_us - unpaused_us) / 1e3);
  g_assert_cmpint (w->woke_us - unpaused_us, <, LATENCY_LIMIT_US);
}

/* Stops in the middle of a step: "finished" comes, in the stopped state,
 * within the limit. */
static void
check_stop (GraftRun *run, Watch *w, gint64 step_us)
{
  gint64 stop_us;

  wait_into_step (w, step_us);
  stop_us = g_get_monotonic_time ();
  graft_run_stop (run);
  spin (w, 10 * G_USEC_PER_SEC);
  g_assert_cmpint (w->end_us, >, 0);
  g_test_message ("stop: \"finished\" %.1f ms after the call",
                  (w->end_us - stop_us) / 1e3);
  g_assert_cmpint (graft_run_get_state (run), ==, GRAFT_RUN_STATE_STOPPED);
  g_assert_cmpint (w->end_us - stop_us, <, latency_limit (step_us));
}

/* One batch of the whole training set on a full fine-tune makes each
 * step slower than the limit, so meeting it takes acting inside a step,
 * not between steps. */
static void
test_pause_stop_latency (void)
{
  g_autofree char *dir = g_build_filename (scratch, "latency", NULL);
  g_autoptr (GraftRunConfig) config = robust_config (GRAFT_RUN_MODE_FINETUNE,
                                                     large_data);
  g_autoptr (GraftRun) run = NULL;
  Watch w = { g_main_loop_new (NULL, FALSE) };
  guint sampler;
  gint64 step_us;

  config->unfreeze = GRAFT_UNFREEZE_ALL;
  config->batch = 4096;
  config->epochs = 50;
  run = graft_run_new (config, dir);
  g_signal_connect (run, "step", G_CALLBACK (on_step), &w);
  g_signal_connect (run, "checkpoint", G_CALLBACK (on_checkpoint), &w);
  g_signal_connect (run, "finished", G_CALLBACK (on_end), &w);
  g_signal_connect (run, "failed", G_CALLBACK (on_failed), &w);
  w.cpu = cpu_seconds ();
  w.sample_us = g_get_monotonic_time ();
  sampler = g_timeout_add (SAMPLE_MS, sample_cpu, &w);
  graft_run_start (run);

  /* One step an epoch; time one after the first epoch's decoding. */
  w.quit_at = 2;
  g_main_loop_run (w.loop);
  step_us = w.step_us;
  w.quit_at = 3;
  g_main_loop_run (w.loop);
  step_us = w.step_us - step_us;
  check_pause (run, &w, step_us);
  check_unpause (run, &w, step_us);
  check_stop (run, &w, step_us);
  g_source_remove (sampler);
  g_main_loop_unref (w.loop);
}

/* ---- One trainer per folder --------------------------------------------- */

static void
on_refused_started (GraftRun *run, gpointer data)
{
  g_error ("a second trainer started on a folder being trained");
}

/* Starts @second while another run trains its folder: it must fail at
 * once, with the folder's lock as the reason, and write nothing. */
static void
assert_refused (GraftRun *second, Watch *w, const char *dir)
{
  g_autoptr (JsonNode) run = NULL;
  const GError *error;

  g_signal_connect (second, "started", G_CALLBACK (on_refused_started),
                    NULL);
  g_signal_connect (second, "failed", G_CALLBACK (on_failed), w);
  g_signal_connect (second, "finished", G_CALLBACK (on_end), w);
  w->end_us = 0;
  graft_run_start (second);
  while (w->end_us == 0)
    g_main_loop_run (w->loop);
  error = graft_run_get_error (second);
  g_assert_error ((GError *) error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "being trained"));
  g_assert_null (strchr (error->message, '\n'));
  run = read_json (dir);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (run),
                                                  "status"), ==, "running");
}

/* graft-cli train --resume of a folder being trained: one line on
 * stderr that names the reason, exit status 1. */
static void
assert_cli_refused (const char *dir)
{
  const char *args[] = { "--resume", dir, NULL };
  g_auto (CliResult) r = train_sync (args);
  g_autofree char *line = NULL;

  g_assert_cmpint (r.status, ==, 1);
  line = failure_line (r.err);
  g_assert_nonnull (strstr (line, "being trained"));
}

/* A run holds its folder's lock from start to end: while it trains,
 * another GraftRun — fresh or resumed, in this process — and graft-cli in
 * another are refused; once it has ended the folder is free. */
static void
test_lock (void)
{
  g_autofree char *dir = g_build_filename (scratch, "locked", NULL);
  g_autoptr (GraftRunConfig) config = robust_config (GRAFT_RUN_MODE_EXTRACT,
                                                     small_data);
  g_autoptr (GraftRun) first = NULL;
  g_autoptr (GraftRun) fresh = NULL;
  g_autoptr (GraftRun) resumed = NULL;
  g_autoptr (GError) error = NULL;
  Watch w = { g_main_loop_new (NULL, FALSE) };

  g_assert_false (graft_run_files_in_use (dir));
  config->epochs = 1000;
  first = graft_run_new (config, dir);
  g_signal_connect (first, "checkpoint", G_CALLBACK (on_checkpoint), &w);
  g_signal_connect (first, "finished", G_CALLBACK (on_end), &w);
  g_signal_connect (first, "failed", G_CALLBACK (on_failed), &w);
  w.quit_at_checkpoint = TRUE;
  graft_run_start (first);
  g_main_loop_run (w.loop);
  w.quit_at_checkpoint = FALSE;
  g_assert_cmpint (w.end_us, ==, 0);
  g_assert_true (graft_run_files_in_use (dir));

  fresh = graft_run_new (config, dir);
  assert_refused (fresh, &w, dir);
  resumed = graft_run_open (dir, &error);
  g_assert_no_error (error);
  assert_refused (resumed, &w, dir);
  assert_cli_refused (dir);
  g_assert_true (graft_run_files_in_use (dir));

  w.end_us = 0;
  graft_run_stop (first);
  while (w.end_us == 0)
    g_main_loop_run (w.loop);
  g_assert_cmpint (graft_run_get_state (first), ==, GRAFT_RUN_STATE_STOPPED);
  g_assert_false (graft_run_files_in_use (dir));
  g_main_loop_unref (w.loop);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  backbone = g_test_build_filename (G_TEST_DIST, "data", "torch",
                                    "resnet18.onnx", NULL);
  scratch = g_dir_make_tmp ("graft-robust-XXXXXX", NULL);
  small_data = train_test_make_classes (scratch, "small", N_CLASSES,
                                        SMALL_PER_CLASS, PICTURE_SIDE, 1);
  large_data = train_test_make_classes (scratch, "large", N_CLASSES,
                                        LARGE_PER_CLASS, PICTURE_SIDE, 2);

  g_test_add_func ("/train/robust/kill-resume", test_kill_resume);
  g_test_add_func ("/train/robust/progressive-resume",
                   test_progressive_resume);
  g_test_add_func ("/train/robust/resume-history", test_resume_history);
  g_test_add_func ("/train/robust/nan-fails", test_nan_fails);
  g_test_add_func ("/train/robust/nan-notice", test_nan_notice);
  g_test_add_func ("/train/robust/pause-stop-latency",
                   test_pause_stop_latency);
  g_test_add_func ("/train/robust/lock", test_lock);
  status = g_test_run ();
  train_test_rm_rf (scratch);
  g_free (scratch);
  g_free (small_data);
  g_free (large_data);
  g_free (backbone);
  return status;
}
