/* graft-cli-train.c: `graft-cli train` — one training run, headless.
 * Epoch lines and a progress bar on stderr; the final metrics as JSON on
 * stdout; Ctrl-C stops the run cleanly (it can be resumed). */
#define G_LOG_DOMAIN "graft-cli"

#include <glib-unix.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "graft-cli-private.h"
#include "graft-json.h"
#include "graft-run.h"

#define PROGRESS_SCALE 1000

typedef struct
{
  GMainLoop *loop;
  GraftCliProgress *progress;
  gboolean failed;
  char *message;
  GraftRun *run;
  guint signals;   /* Ctrl-C and SIGTERM received */
} Session;

static void
on_epoch (GraftRun *run, GraftEpochReport *r, Session *s)
{
  fprintf (stderr, "\nepoch %u: train loss %.4f, validation loss %.4f, "
           "accuracy %.1f %% (%.1f s)\n", r->epoch, r->train_loss,
           r->val_loss, 100 * r->val_accuracy, r->seconds);
}

static void
on_stage (GraftRun *run, guint epoch, guint step, const char *block,
          const char *reason, Session *s)
{
  fprintf (stderr, "\nstage at epoch %u: %s — %s\n", epoch, block, reason);
}

/* A picture lost mid-run is worth a line: the run goes on without it.
 * The message is already one line of clean UTF-8 (graft-text.h). */
static void
on_notice (GraftRun *run, GraftRunNoticeKind kind, const char *message,
           Session *s)
{
  if (kind == GRAFT_RUN_NOTICE_LOST)
    fprintf (stderr, "\nskipped %s; the run goes on without it\n", message);
}

static void
on_progress (GraftRun *run, GParamSpec *pspec, Session *s)
{
  graft_cli_progress_update (s->progress, (guint64)
                             (graft_run_get_progress (run) * PROGRESS_SCALE));
}

static void
on_finished (GraftRun *run, Session *s)
{
  g_main_loop_quit (s->loop);
}

static void
on_failed (GraftRun *run, const char *message, Session *s)
{
  s->failed = TRUE;
  s->message = g_strdup (message);
  g_main_loop_quit (s->loop);
}

/* The first stops the run at the next step, keeping what it learnt
 * (stopping can take as long as a step); a second quits at once, with
 * the run as it was at its last checkpoint, which its files always are. */
static gboolean
on_signal (gpointer data)
{
  Session *s = data;

  if (s->signals++ == 0)
    {
      fprintf (stderr, "\nstopping… (again to quit at once)\n");
      graft_run_stop (s->run);
      return G_SOURCE_CONTINUE;
    }
  fprintf (stderr, "\ngraft-cli: quit; resume from the last checkpoint "
           "with graft-cli train --resume %s\n", graft_run_get_dir (s->run));
  fflush (stderr);
  _exit (GRAFT_CLI_FAILED);
}

/* Prints run.json's "final" object on stdout, with the run's folder and
 * how many weights it trained. */
static gboolean
print_final (const char *run_dir, GError **error)
{
  g_autofree char *path = g_build_filename (run_dir, "run.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *run, *final;
  JsonNode *root, *node, *trainable;

  if (!graft_json_load_file (parser, path, error))
    return FALSE;
  root = json_parser_get_root (parser);
  run = root != NULL && JSON_NODE_HOLDS_OBJECT (root)
    ? json_node_get_object (root) : NULL;
  node = run != NULL ? json_object_get_member (run, "final") : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: no final results", path);
      return FALSE;
    }
  final = json_node_get_object (node);
  json_object_set_string_member (final, "run", run_dir);
  trainable = json_object_get_member (run, "trainable_parameters");
  if (trainable != NULL)
    json_object_set_member (final, "trainable_parameters",
                            json_node_copy (trainable));
  graft_cli_print_json (json_object_get_member (run, "final"));
  return TRUE;
}

static int
train (GraftRun *run)
{
  Session s = { g_main_loop_new (NULL, FALSE), .run = run };
  guint sigint = g_unix_signal_add (SIGINT, on_signal, &s);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, &s);
  g_autoptr (GError) error = NULL;
  GraftRunState state;

  s.progress = graft_cli_progress_new ("train", PROGRESS_SCALE);
  g_signal_connect (run, "epoch", G_CALLBACK (on_epoch), &s);
  g_signal_connect (run, "stage", G_CALLBACK (on_stage), &s);
  g_signal_connect (run, "notice", G_CALLBACK (on_notice), &s);
  g_signal_connect (run, "notify::progress", G_CALLBACK (on_progress), &s);
  g_signal_connect (run, "finished", G_CALLBACK (on_finished), &s);
  g_signal_connect (run, "failed", G_CALLBACK (on_failed), &s);
  graft_run_start (run);
  g_main_loop_run (s.loop);
  /* Exiting while the worker still returns its memory races with the
   * libraries' own clean-up at exit (OpenBLAS frees its buffers). */
  graft_run_wait (run);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_main_loop_unref (s.loop);
  graft_cli_progress_free (s.progress);
  state = graft_run_get_state (run);
  if (s.failed)
    {
      int code = graft_cli_fail (GRAFT_CLI_FAILED, "%s", s.message);
      g_free (s.message);
      return code;
    }
  if (state == GRAFT_RUN_STATE_STOPPED)
    return graft_cli_fail (GRAFT_CLI_FAILED, "stopped; resume with "
                           "graft-cli train --resume %s",
                           graft_run_get_dir (run));
  if (!print_final (graft_run_get_dir (run), &error))
    return graft_cli_fail (GRAFT_CLI_FAILED, "%s", error->message);
  return 0;
}

static void
print_usage (void)
{
  printf ("Usage: graft-cli train --backbone MODEL --data DIR --out RUN_DIR "
          "[OPTION…]\n"
          "       graft-cli train --resume RUN_DIR\n"
          "       graft-cli train --estimate --backbone MODEL --data DIR "
          "[OPTION…] [--budget SECONDS]\n"
          "         (JSON on stdout: seconds per mode, measured here, and "
          "the mode to use)\n"
          "       graft-cli train --find-lr --backbone MODEL --data DIR "
          "[OPTION…]\n"
          "         (the learning-rate range test instead of the run: JSON "
          "on stdout,\n"
          "          the loss at each rate and the suggested rate)\n\n"
          "Options:\n"
          "  --mode extract|finetune|progressive   (extract)\n"
          "  --epochs N  --batch N  --lr X  --optimizer adam|sgd\n"
          "  --unfreeze N|all  --hidden N  --dropout P  --val FRACTION\n"
          "  --seed S  --augment none|flip|crop|flip,crop  --threads N\n"
          "  --cut TENSOR  --output softmax|sigmoid  --patience N\n"
          "  --schedule constant|cosine|step  --weight-decay X\n"
          "  --stage-epochs N  (progressive)\n"
          "Any field of run.json's \"config\" may be given as --NAME VALUE.\n");
}

/* run.json keeps paths absolute (canonical), as a run resumed from
 * another directory must find the same files.  The backbone is a path
 * when graft_backbones_resolve () takes it for one, else a bundled id. */
static void
make_paths_absolute (GraftRunConfig *config)
{
  for (guint i = 0; config->data != NULL && config->data[i] != NULL; i++)
    {
      char *absolute = g_canonicalize_filename (config->data[i], NULL);
      g_free (config->data[i]);
      config->data[i] = absolute;
    }
  if (config->backbone != NULL
      && (g_file_test (config->backbone, G_FILE_TEST_EXISTS)
          || strchr (config->backbone, '/') != NULL))
    {
      char *absolute = g_canonicalize_filename (config->backbone, NULL);
      g_free (config->backbone);
      config->backbone = absolute;
    }
}

/* Options come as --NAME VALUE pairs onto the configuration's fields; the
 * mode goes first, since it decides the defaults.  @force_mode (may be
 * NULL) replaces the one given. */
GraftRunConfig *
graft_cli_train_parse (int argc, char **argv, const GraftRunMode *force_mode,
                       char **out, char **resume)
{
  g_autoptr (GraftRunConfig) config = NULL;
  GraftRunMode mode = force_mode ? *force_mode : GRAFT_RUN_MODE_EXTRACT;
  g_autoptr (GError) error = NULL;

  for (int i = 1; force_mode == NULL && i + 1 < argc; i++)
    if (g_str_equal (argv[i], "--mode")
        && !graft_run_mode_from_string (argv[i + 1], &mode, &error))
      return (graft_cli_fail (GRAFT_CLI_USAGE, "train: %s", error->message),
              NULL);
  config = graft_run_config_new (mode);
  for (int i = 1; i < argc; i += 2)
    {
      const char *key = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
      if (!g_str_has_prefix (key, "--") || value == NULL)
        return (graft_cli_fail (GRAFT_CLI_USAGE, "train: expected --NAME "
                                "VALUE, got '%s'", key), NULL);
      key += 2;
      if (g_str_equal (key, "out") || g_str_equal (key, "resume"))
        {
          char **target = g_str_equal (key, "out") ? out : resume;
          g_free (*target);
          *target = g_strdup (value);
        }
      else if (!graft_run_config_set_option (config,
                                             g_str_equal (key, "val")
                                             ? "val_fraction" : key, value,
                                             &error))
        return (graft_cli_fail (GRAFT_CLI_USAGE, "train: --%s: %s", key,
                                error->message), NULL);
    }
  if (force_mode != NULL)
    config->mode = *force_mode;
  make_paths_absolute (config);
  return g_steal_pointer (&config);
}

int
graft_cli_train (int argc, char **argv)
{
  g_autofree char *out = NULL, *resume = NULL;
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GraftRun) run = NULL;
  g_autoptr (GError) error = NULL;

  if (argc >= 2 && (g_str_equal (argv[1], "--help")
                    || g_str_equal (argv[1], "-h")))
    {
      print_usage ();
      return 0;
    }
  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--estimate"))
      return graft_cli_train_estimate (argc, argv);
    else if (g_str_equal (argv[i], "--find-lr"))
      return graft_cli_train_find_lr (argc, argv);
  config = graft_cli_train_parse (argc, argv, NULL, &out, &resume);
  if (config == NULL)
    return GRAFT_CLI_USAGE;
  if (resume != NULL)
    run = graft_run_open (resume, &error);
  else if (out == NULL || config->backbone == NULL || config->data == NULL)
    return graft_cli_fail (GRAFT_CLI_USAGE, "train: --backbone, --data and "
                           "--out are required");
  else if (graft_run_config_validate (config, &error))
    run = graft_run_new (config, out);
  if (run == NULL)
    return graft_cli_fail (GRAFT_CLI_FAILED, "%s", error->message);
  return train (run);
}
