/* graft-test-cli.h: running graft-cli from a test as a script would (its
 * path in $GRAFT_CLI), and the one-line failure every command owes. */
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

/* Exit @status, nothing on stdout, and exactly one line on stderr that
 * starts with "graft-cli: " and contains @fragment. */
void graft_test_assert_one_line_failure (const GraftCliRun *run, int status,
                                         const char *fragment);
