/* test-cli-limits.c: graft-cli under a limit on address space (ulimit -v,
 * prlimit --as).  OpenBLAS takes a 128 MiB buffer for each of its threads
 * and retries forever when it cannot: before Graft fitted the thread
 * count to the limit, `graft-cli backbones` hung at 80 to 200 MB.  Now a
 * limit too small for one thread gives one line and exit 1, and one with
 * room for fewer threads than the machine has runs them.
 *
 * Not under AddressSanitizer, which reserves terabytes of shadow memory.
 *
 * Env: GRAFT_CLI, the graft-cli to run. */
#include <glib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Long enough for a loaded machine; a hang is what this would catch. */
#define TIMEOUT_S 60

static void
limit_child (gpointer data)
{
  struct rlimit limit;

  limit.rlim_cur = limit.rlim_max = GPOINTER_TO_SIZE (data);
  setrlimit (RLIMIT_AS, &limit);
}

/* Runs `timeout TIMEOUT_S graft-cli ARG…` under @megabytes of address
 * space; returns its exit status, its standard error in @err. */
static int
run_limited (gsize megabytes, const char *const *args, char **err)
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
  g_strv_builder_add_many (builder, "timeout", timeout, cli, NULL);
  g_strv_builder_addv (builder, (const char **) args);
  argv = g_strv_builder_end (builder);
  g_assert_true (g_spawn_sync (NULL, argv, envp, G_SPAWN_SEARCH_PATH
                               | G_SPAWN_STDOUT_TO_DEV_NULL, limit_child,
                               GSIZE_TO_POINTER (megabytes << 20), NULL, err,
                               &status, &error));
  g_assert_no_error (error);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

static void
test_too_small (void)
{
  static const gsize limits[] = { 80, 150, 200 };
  const char *args[] = { "backbones", NULL };

#ifdef UNDER_ASAN
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

#ifdef UNDER_ASAN
  g_test_skip ("AddressSanitizer needs more address space than this limits");
  return;
#endif
  g_assert_cmpint (run_limited (320, args, &err), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/limits/too-small", test_too_small);
  g_test_add_func ("/cli/limits/fewer-threads", test_fewer_threads);
  return g_test_run ();
}
