/* graft-test-cli.h: running programs from tests — graft-cli as a script
 * would (its path in $GRAFT_CLI), with the one-line failure every command
 * owes, and the outside tools Graft is checked against (Python's onnx,
 * node with ONNX Runtime), which may be missing. */
#pragma once

#include <glib.h>

typedef struct
{
  int status;     /* the exit code, −1 when killed by a signal */
  char *out;
  char *err;
} GraftCliRun;

void graft_cli_run_clear (GraftCliRun *run);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (GraftCliRun, graft_cli_run_clear)

/* Runs graft-cli with @first and the arguments after it (NULL-ended). */
GraftCliRun graft_test_cli (const char *first, ...);
/* The same with the arguments in a NULL-ended array. */
GraftCliRun graft_test_cli_argv (const char *const *args);

/* Copies @from/@name to @to/@name, failing the test when it cannot. */
void graft_test_copy_into (const char *from, const char *name,
                           const char *to);

/* Exit @status, nothing on stdout, and exactly one line on stderr that
 * starts with "graft-cli: " and contains @fragment. */
void graft_test_assert_one_line_failure (const GraftCliRun *run, int status,
                                         const char *fragment);

typedef enum
{
  GRAFT_TOOL_PASSED,
  GRAFT_TOOL_FAILED,
  GRAFT_TOOL_MISSING,
} GraftToolResult;

/* Runs @argv (searching PATH); @out and @err get its output.  A program
 * that cannot start, or that exits with @missing_code (a tool's own way to
 * say a module is absent; −1 for none), is GRAFT_TOOL_MISSING. */
GraftToolResult graft_test_run_tool (const char *const *argv,
                                     int missing_code, char **out,
                                     char **err);

/* ort-run.mjs's exit code when onnxruntime-node cannot be loaded. */
#define GRAFT_TEST_ORT_EXIT_MISSING 3

/* Whether node loads onnxruntime-node for tests/tools/ort-run.mjs at
 * @script; else the test is skipped with the reason (or failed, when the
 * check itself breaks). */
gboolean graft_test_have_onnx_runtime (const char *script);
