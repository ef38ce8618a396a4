/* test-cli-limits.c: graft-cli under a limit on address space (ulimit -v,
 * prlimit --as).  OpenBLAS takes a 128 MiB buffer for each of its threads
 * and retries forever when it cannot: before Graft fitted the thread
 * count to the limit, `graft-cli backbones` hung at 80 to 200 MB.  Now a
 * limit too small for one thread gives one line and exit 1, and one with
 * room for fewer threads than the machine has runs them.  Between the
 * two, every command either works or ends with one line saying memory
 * ran out: before, training hung in OpenBLAS (500 MB), crashed in the
 * decoding threads (350 MB) or in GLib's own out-of-memory message
 * (250 MB), or aborted with a core dump.
 *
 * Not under AddressSanitizer, which reserves terabytes of shadow memory.
 *
 * Env: GRAFT_CLI, the graft-cli to run. */
#include <glib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "graft-test-limits.h"

/* Long enough for a loaded machine; a hang is what this would catch. */
#define TIMEOUT_S 60
#define KILL_AFTER_S "10"

typedef struct
{
  int resource;    /* RLIMIT_AS, RLIMIT_FSIZE */
  gsize bytes;
} Limit;

static void
limit_child (gpointer data)
{
  const Limit *l = data;
  struct rlimit limit;

  limit.rlim_cur = limit.rlim_max = l->bytes;
  setrlimit (l->resource, &limit);
}

/* Runs `timeout -k KILL_AFTER_S TIMEOUT_S graft-cli ARG…` under @limit;
 * returns its exit status, its standard error in @err.  A graft-cli
 * that ignores the SIGTERM (one hung in OpenBLAS' allocator did) is
 * killed, so that it fails this test rather than outliving it. */
static int
run_under (const Limit *limit, const char *const *args, char **err)
{
  const char *cli = g_getenv ("GRAFT_CLI");
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;
  /* OpenBLAS as a user has it: a thread a core. */
  g_auto (GStrv) envp = g_environ_unsetenv (g_get_environ (),
                                            "OPENBLAS_NUM_THREADS");
  g_autoptr (GError) error = NULL;
  g_autofree char *timeout = g_strdup_printf ("%d", TIMEOUT_S);
  int status;

  g_assert_nonnull (cli);
  g_strv_builder_add_many (builder, "timeout", "-k", KILL_AFTER_S, timeout,
                           cli, NULL);
  g_strv_builder_addv (builder, (const char **) args);
  argv = g_strv_builder_end (builder);
  g_assert_true (g_spawn_sync (NULL, argv, envp, G_SPAWN_SEARCH_PATH
                               | G_SPAWN_STDOUT_TO_DEV_NULL, limit_child,
                               (gpointer) limit, NULL, err,
                               &status, &error));
  g_assert_no_error (error);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

/* The same under @megabytes of address space. */
static int
run_limited (gsize megabytes, const char *const *args, char **err)
{
  Limit limit = { RLIMIT_AS, megabytes << 20 };

  return run_under (&limit, args, err);
}

static void
test_too_small (void)
{
  static const gsize limits[] = { 80, 150, 200 };
  const char *args[] = { "backbones", NULL };

#ifdef GRAFT_TEST_UNDER_ASAN
  g_test_skip ("AddressSanitizer needs more address space than this limits");
  return;
#endif
  for (guint i = 0; i < G_N_ELEMENTS (limits); i++)
    {
      g_autofree char *err = NULL;
      int code = run_limited (limits[i], args, &err);
      g_auto (GStrv) lines = g_strsplit (g_strchomp (err), "\n", -1);

      g_test_message ("%zu MiB: exit %d, %s", limits[i], code, err);
      g_assert_cmpint (code, ==, 1);
      g_assert_cmpuint (g_strv_length (lines), ==, 1);
      g_assert_nonnull (strstr (err, "out of memory"));
    }
}

/* Room for one thread's buffer, not for every core's: it works. */
static void
test_fewer_threads (void)
{
  const char *args[] = { "backbones", NULL };
  g_autofree char *err = NULL;

#ifdef GRAFT_TEST_UNDER_ASAN
  g_test_skip ("AddressSanitizer needs more address space than this limits");
  return;
#endif
  g_assert_cmpint (run_limited (320, args, &err), ==, 0);
}

/* The pictures Graft carries, and a finished run on them (made once,
 * without a limit). */
static char *
samples_dir (void)
{
  return g_build_filename (g_getenv ("GRAFT_SOURCE_ROOT"), "data", "samples",
                           "fashion", NULL);
}

static const char *
finished_run (void)
{
  static char *run_dir;
  g_autofree char *data = samples_dir ();
  const char *cli = g_getenv ("GRAFT_CLI");
  g_autoptr (GError) error = NULL;
  int status;

  if (run_dir != NULL)
    return run_dir;
  run_dir = g_build_filename (g_get_tmp_dir (), "graft-limits-run-XXXXXX",
                              NULL);
  g_assert_nonnull (g_mkdtemp (run_dir));
  {
    g_autofree char *out = g_build_filename (run_dir, "run", NULL);
    const char *argv[] = { cli, "train", "--backbone", "fashion-cnn",
                           "--data", data, "--out", out, "--epochs", "1",
                           NULL };
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL,
                                 G_SPAWN_STDOUT_TO_DEV_NULL
                                 | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                                 NULL, NULL, &status, &error));
    g_assert_no_error (error);
    g_assert_cmpint (status, ==, 0);
    g_free (run_dir);
    run_dir = g_steal_pointer (&out);
  }
  return run_dir;
}

/* Success, or exit 1 whose last line says memory ran out and nothing on
 * the way that GLib, glibc or a crash wrote. */
static void
assert_works_or_says_memory (gsize megabytes, const char *what, int code,
                             const char *err)
{
  g_auto (GStrv) lines = g_strsplit (err, "\n", -1);
  guint n = g_strv_length (lines);
  const char *last = n > 0 ? lines[n - 1] : "";

  g_test_message ("%zu MiB, %s: exit %d, %s", megabytes, what, code, last);
  g_assert_null (strstr (err, "GLib"));
  g_assert_null (strstr (err, "CRITICAL"));
  g_assert_null (strstr (err, "**"));
  if (code == 0)
    return;
  g_assert_cmpint (code, ==, 1);
  g_assert_true (g_str_has_prefix (last, "graft-cli: out of memory"));
  for (guint i = 0; i + 1 < n; i++)
    g_assert_false (g_str_has_prefix (lines[i], "graft-cli:"));
}

/* From too little for a training run to room for every thread. */
#define SWEEP_FROM_MB 225
#define SWEEP_TO_MB 525
#define SWEEP_STEP_MB 25

static void
test_sweep (void)
{
  g_autofree char *data = samples_dir ();
  g_autofree char *picture = g_build_filename (data, "bag", NULL);
  g_autofree char *tmp = NULL;
  g_autoptr (GDir) dir = NULL;
  const char *first;

#ifdef GRAFT_TEST_UNDER_ASAN
  g_test_skip ("AddressSanitizer needs more address space than this limits");
  return;
#endif
  dir = g_dir_open (picture, 0, NULL);
  g_assert_nonnull (dir);
  first = g_dir_read_name (dir);
  g_assert_nonnull (first);
  g_free (g_steal_pointer (&picture));
  picture = g_build_filename (data, "bag", first, NULL);
  tmp = g_dir_make_tmp ("graft-limits-XXXXXX", NULL);
  for (gsize mb = SWEEP_FROM_MB; mb <= SWEEP_TO_MB; mb += SWEEP_STEP_MB)
    {
      g_autofree char *out1 = g_strdup_printf ("%s/finetune-%zu", tmp, mb);
      g_autofree char *out2 = g_strdup_printf ("%s/progressive-%zu", tmp, mb);
      /* More threads than the limit has room for. */
      const char *finetune[] = { "train", "--backbone", "fashion-resnet",
                                 "--data", data, "--out", out1, "--epochs",
                                 "1", "--mode", "finetune", "--threads", "8",
                                 NULL };
      const char *progressive[] = { "train", "--backbone", "fashion-cnn",
                                    "--data", data, "--out", out2,
                                    "--epochs", "1", "--mode", "progressive",
                                    NULL };
      const char *predict[] = { "predict", "--run", finished_run (), picture,
                                NULL };
      const char *scan[] = { "scan", data, "--json", NULL };
      const char *const *commands[] = { finetune, progressive, predict, scan };

      for (guint c = 0; c < G_N_ELEMENTS (commands); c++)
        {
          g_autofree char *err = NULL;
          int code = run_limited (mb, commands[c], &err);
          g_autofree char *what = g_strjoinv (" ", (char **) commands[c]);
          assert_works_or_says_memory (mb, what, code, g_strchomp (err));
        }
    }
}

/* Under a limit on file size (ulimit -f) a run's write fails with one
 * line naming the file, where SIGXFSZ used to kill graft-cli with a core
 * dump. */
#define FILE_SIZE_LIMIT ((gsize) 10 << 10)

static void
test_file_size (void)
{
  g_autofree char *data = samples_dir ();
  g_autofree char *tmp = g_dir_make_tmp ("graft-fsize-XXXXXX", NULL);
  g_autofree char *out = g_build_filename (tmp, "run", NULL);
  const char *args[] = { "train", "--backbone", "fashion-cnn", "--data",
                         data, "--out", out, "--epochs", "1", NULL };
  Limit limit = { RLIMIT_FSIZE, FILE_SIZE_LIMIT };
  g_autofree char *err = NULL;
  int code = run_under (&limit, args, &err);
  g_auto (GStrv) lines = g_strsplit (g_strchomp (err), "\n", -1);
  const char *last = lines[g_strv_length (lines) - 1];

  g_test_message ("exit %d: %s", code, last);
  g_assert_cmpint (code, ==, 1);
  g_assert_true (g_str_has_prefix (last, "graft-cli: "));
  g_assert_nonnull (strstr (last, "File too large"));
  g_assert_nonnull (strstr (last, out));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/limits/too-small", test_too_small);
  g_test_add_func ("/cli/limits/fewer-threads", test_fewer_threads);
  g_test_add_func ("/cli/limits/sweep", test_sweep);
  g_test_add_func ("/cli/limits/file-size", test_file_size);
  return g_test_run ();
}
