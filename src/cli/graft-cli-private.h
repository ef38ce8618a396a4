/* graft-cli-private.h: what graft-cli's commands share. */
#pragma once

#include <json-glib/json-glib.h>

#include "graft-backbone-private.h"
#include "graft-run-config.h"

G_BEGIN_DECLS

/* Exit codes: 0 done, 1 the work failed, 2 the command line was wrong. */
#define GRAFT_CLI_FAILED 1
#define GRAFT_CLI_USAGE 2

int graft_cli_backbones (int argc, char **argv);
int graft_cli_inspect  (int argc, char **argv);
int graft_cli_features (int argc, char **argv);
int graft_cli_train    (int argc, char **argv);
int graft_cli_train_estimate (int argc, char **argv);
int graft_cli_train_find_lr  (int argc, char **argv);
int graft_cli_scan     (int argc, char **argv);
int graft_cli_predict  (int argc, char **argv);
int graft_cli_export   (int argc, char **argv);
int graft_cli_import_run (int argc, char **argv);

/* Prints "graft-cli: MESSAGE" on stderr as one line; returns @code. */
int graft_cli_fail (int code, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Parses @argv with @entries; on a bad flag or a missing required value
 * prints the reason and returns FALSE. */
gboolean graft_cli_parse (const char *command, const char *parameters,
                          const char *summary, const GOptionEntry *entries,
                          int *argc, char ***argv);

/* train's --NAME VALUE options onto a configuration (NULL, the reason
 * printed, when one is wrong); @force_mode (may be NULL) replaces the
 * --mode given, before the defaults are chosen. */
GraftRunConfig *graft_cli_train_parse (int argc, char **argv,
                                       const GraftRunMode *force_mode,
                                       char **out, char **resume);

/* The backbone @spec (a path or a bundled id) cut at @cut (NULL: the
 * bottleneck), through the training layer's one loader. */
GraftBackbone *graft_cli_load_backbone (const char *spec, const char *cut,
                                        GError **error);

void graft_cli_print_json (JsonNode *root);

/* Progress on stderr: a bar with ETA on a terminal, plain lines (at most
 * one a second and at the end) otherwise. */
typedef struct _GraftCliProgress GraftCliProgress;

GraftCliProgress *graft_cli_progress_new    (const char *what, guint64 total);
void              graft_cli_progress_update (GraftCliProgress *progress,
                                             guint64 done);
void              graft_cli_progress_free   (GraftCliProgress *progress);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftCliProgress, graft_cli_progress_free)

G_END_DECLS
