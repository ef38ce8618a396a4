/* graft-test-cli.c: spawning graft-cli in tests. */
#include "graft-test-cli.h"

#include <string.h>
#include <sys/wait.h>

void
graft_cli_run_clear (GraftCliRun *run)
{
  g_free (run->out);
  g_free (run->err);
}

GraftCliRun
graft_test_cli_argv (const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  GraftCliRun run = { 0 };
  int wait_status = 0;

  g_ptr_array_add (argv, (gpointer) g_getenv ("GRAFT_CLI"));
  for (const char *const *a = args; *a != NULL; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL,
                NULL, &run.out, &run.err, &wait_status, &error);
  g_assert_no_error (error);
  run.status = WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
  return run;
}

GraftCliRun
graft_test_cli (const char *first, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  va_list ap;

  va_start (ap, first);
  for (const char *a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return graft_test_cli_argv ((const char *const *) args->pdata);
}

void
graft_test_copy_into (const char *from, const char *name, const char *to)
{
  g_autofree char *src = g_build_filename (from, name, NULL);
  g_autofree char *dst = g_build_filename (to, name, NULL);
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  gsize length;

  g_file_get_contents (src, &contents, &length, &error);
  g_assert_no_error (error);
  g_file_set_contents (dst, contents, (gssize) length, &error);
  g_assert_no_error (error);
}

void
graft_test_assert_one_line_failure (const GraftCliRun *run, int status,
                                    const char *fragment)
{
  g_assert_cmpint (run->status, ==, status);
  g_assert_true (g_str_has_prefix (run->err, "graft-cli: "));
  g_assert_cmpint (strchr (run->err, '\n') - run->err + 1, ==,
                   (int) strlen (run->err));
  if (strstr (run->err, fragment) == NULL)
    g_test_fail_printf ("'%s' lacks '%s'", run->err, fragment);
  g_assert_cmpstr (run->out, ==, "");
}

GraftToolResult
graft_test_run_tool (const char *const *argv, int missing_code, char **out,
                     char **err)
{
  g_autoptr (GError) error = NULL;
  int wait_status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                     NULL, out, err, &wait_status, &error))
    {
      *out = g_strdup_printf ("cannot run %s: %s", argv[0], error->message);
      return GRAFT_TOOL_MISSING;
    }
  if (WIFEXITED (wait_status) && WEXITSTATUS (wait_status) == missing_code)
    return GRAFT_TOOL_MISSING;
  return g_spawn_check_wait_status (wait_status, NULL) ? GRAFT_TOOL_PASSED
                                                       : GRAFT_TOOL_FAILED;
}

gboolean
graft_test_have_onnx_runtime (const char *script)
{
  g_autofree char *node = g_find_program_in_path ("node");
  g_autofree char *out = NULL, *err = NULL, *reason = NULL;

  if (node == NULL)
    {
      g_test_skip ("node is missing (ONNX Runtime runs in onnxruntime-node; "
                   "tools/test installs both)");
      return FALSE;
    }
  switch (graft_test_run_tool ((const char *[]) { "node", script, "--check",
                                                  NULL },
                               GRAFT_TEST_ORT_EXIT_MISSING, &out, &err))
    {
    case GRAFT_TOOL_MISSING:
      reason = g_strdup_printf ("%s (tools/test installs it)",
                                g_strstrip (out));
      g_test_skip (reason);
      return FALSE;
    case GRAFT_TOOL_FAILED:
      g_test_fail_printf ("ort-run.mjs --check failed: %s",
                          g_strdelimit (err, "\n", ' '));
      return FALSE;
    case GRAFT_TOOL_PASSED:
    default:
      return TRUE;
    }
}
