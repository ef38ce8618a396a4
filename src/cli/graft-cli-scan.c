/* graft-cli-scan.c: `graft-cli scan` — the data intake report: classes,
 * files that cannot be used and why, health warnings and the split.  JSON
 * on stdout with --json (and the summary on stderr), else the summary on
 * stdout.  A scan that worked exits 0 however many files it skipped.
 *
 * Paths are the file system's bytes, not always UTF-8, and may hold
 * control characters.  JSON must be UTF-8: a path that is not gives its
 * display name (U+FFFD for what does not convert) and, beside it, its
 * exact bytes in base64 ("path_base64", "paths_base64").  The summary
 * escapes control characters and stray bytes (graft-text.h), so that a
 * folder's name cannot send escape sequences to the terminal. */
#define G_LOG_DOMAIN "graft-cli"

#include <stdio.h>

#include "graft-cli-private.h"
#include "graft-scan.h"
#include "graft-split.h"
#include "graft-text.h"

#define MEGAPIXEL 1000000

/* Shows the checking phase (walking is quick and its total unknown). */
static void
show_progress (GraftScanPhase phase, guint done, guint total, gpointer data)
{
  GraftCliProgress **bar = data;

  if (phase != GRAFT_SCAN_CHECKING)
    return;
  if (*bar == NULL)
    *bar = graft_cli_progress_new ("checking", total);
  graft_cli_progress_update (*bar, done);
}

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

/* @path in JSON: itself when it is UTF-8, else its display name and its
 * bytes in MEMBER_base64. */
static void
add_path (JsonBuilder *b, const char *member, const char *path)
{
  g_autofree char *shown = NULL;
  g_autofree char *bytes_member = NULL;
  g_autofree char *bytes = NULL;

  if (g_utf8_validate (path, -1, NULL))
    {
      add_string (b, member, path);
      return;
    }
  shown = g_filename_display_name (path);
  add_string (b, member, shown);
  bytes_member = g_strconcat (member, "_base64", NULL);
  bytes = g_base64_encode ((const guchar *) path, strlen (path));
  add_string (b, bytes_member, bytes);
}

/* A warning's paths; "paths_base64" (every path's bytes, in the same
 * order) only when one of them is not UTF-8. */
static void
add_paths (JsonBuilder *b, char **paths)
{
  gboolean all_text = TRUE;

  json_builder_set_member_name (b, "paths");
  json_builder_begin_array (b);
  for (char **p = paths; *p != NULL; p++)
    {
      g_autofree char *shown = g_filename_display_name (*p);
      json_builder_add_string_value (b, shown);
      all_text = all_text && g_utf8_validate (*p, -1, NULL);
    }
  json_builder_end_array (b);
  if (all_text)
    return;
  json_builder_set_member_name (b, "paths_base64");
  json_builder_begin_array (b);
  for (char **p = paths; *p != NULL; p++)
    {
      g_autofree char *bytes = g_base64_encode ((const guchar *) *p,
                                                strlen (*p));
      json_builder_add_string_value (b, bytes);
    }
  json_builder_end_array (b);
}

static void
build_classes (JsonBuilder *b, const GraftScan *scan)
{
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint i = 0; i < scan->classes->len; i++)
    {
      GraftClass *klass = scan->classes->pdata[i];
      json_builder_begin_object (b);
      add_string (b, "name", klass->name);
      add_int (b, "count", klass->count);
      add_path (b, "path", klass->path);
      add_int (b, "train", klass->n_train);
      add_int (b, "val", klass->n_val);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
build_skipped (JsonBuilder *b, const GraftScan *scan)
{
  json_builder_set_member_name (b, "skipped");
  json_builder_begin_array (b);
  for (guint i = 0; i < scan->skipped->len; i++)
    {
      GraftSkipped *skipped = scan->skipped->pdata[i];
      json_builder_begin_object (b);
      add_path (b, "path", skipped->path);
      add_string (b, "reason", skipped->reason);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
build_warnings (JsonBuilder *b, const GraftScan *scan)
{
  json_builder_set_member_name (b, "warnings");
  json_builder_begin_array (b);
  for (guint i = 0; i < scan->warnings->len; i++)
    {
      GraftWarning *warning = scan->warnings->pdata[i];
      json_builder_begin_object (b);
      add_string (b, "kind", warning->kind);
      add_string (b, "message", warning->message);
      if (warning->paths != NULL)
        add_paths (b, warning->paths);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
totals (const GraftScan *scan, guint *train, guint *val)
{
  *train = *val = 0;
  for (guint i = 0; i < scan->classes->len; i++)
    {
      *train += ((GraftClass *) scan->classes->pdata[i])->n_train;
      *val += ((GraftClass *) scan->classes->pdata[i])->n_val;
    }
}

static JsonNode *
build_report (const GraftScan *scan)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  guint train, val;

  totals (scan, &train, &val);
  json_builder_begin_object (b);
  build_classes (b, scan);
  build_skipped (b, scan);
  build_warnings (b, scan);
  json_builder_set_member_name (b, "split");
  json_builder_begin_object (b);
  add_int (b, "train", train);
  add_int (b, "val", val);
  json_builder_set_member_name (b, "fraction");
  json_builder_add_double_value (b, scan->val_fraction);
  add_int (b, "seed", (gint64) scan->seed);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
print_summary (FILE *out, const GraftScan *scan)
{
  guint train, val;

  totals (scan, &train, &val);
  fprintf (out, "%u class%s, %u usable picture%s (%u training, %u "
           "validation), %u file%s skipped\n", scan->classes->len,
           scan->classes->len == 1 ? "" : "es", train + val,
           train + val == 1 ? "" : "s", train, val, scan->skipped->len,
           scan->skipped->len == 1 ? "" : "s");
  for (guint i = 0; i < scan->classes->len; i++)
    {
      GraftClass *klass = scan->classes->pdata[i];
      g_autofree char *name = graft_text_escape (klass->name);
      g_autofree char *path = graft_text_escape (klass->path);
      fprintf (out, "  %-20s %6u  (%u / %u)  %s\n", name, klass->count,
               klass->n_train, klass->n_val, path);
    }
  for (guint i = 0; i < scan->skipped->len; i++)
    {
      GraftSkipped *skipped = scan->skipped->pdata[i];
      g_autofree char *path = graft_text_escape (skipped->path);
      g_autofree char *reason = graft_text_escape (skipped->reason);
      fprintf (out, "skipped %s: %s\n", path, reason);
    }
  for (guint i = 0; i < scan->warnings->len; i++)
    {
      GraftWarning *warning = scan->warnings->pdata[i];
      g_autofree char *message = graft_text_escape (warning->message);
      fprintf (out, "warning: %s\n", message);
    }
}

typedef struct
{
  gboolean json, quick;
  double val;
  gint64 seed;
  int threads, megapixels;
} Args;

/* FALSE (the reason printed) on a bad command line. */
static gboolean
parse_args (Args *a, int *argc, char ***argv)
{
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &a->json,
      "Print the report as JSON (the summary goes to stderr); a path "
      "that is not UTF-8 is given by its display name, its bytes in "
      "PATH_base64", NULL },
    { "val", 0, 0, G_OPTION_ARG_DOUBLE, &a->val,
      "Fraction of each class kept for validation (0.2)", "F" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &a->seed, "Seed of the split (0)",
      "S" },
    { "max-megapixels", 0, 0, G_OPTION_ARG_INT, &a->megapixels,
      "Refuse pictures over this size (50)", "N" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &a->quick,
      "Check headers and file structure only, without decoding", NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &a->threads,
      "Threads checking pictures (default: one per core)", "N" },
    { NULL }
  };

  if (!graft_cli_parse ("scan", "DIR…", "Report what a data set holds: "
                        "classes, unusable files and why, warnings, split.",
                        entries, argc, argv))
    return FALSE;
  if (*argc < 2)
    graft_cli_fail (GRAFT_CLI_USAGE, "scan: give at least one folder");
  else if (!(a->val >= 0.0 && a->val < 1.0) || a->seed < 0
           || a->threads < 0 || a->megapixels < 1)
    graft_cli_fail (GRAFT_CLI_USAGE, "scan: --val must be in [0, 1), "
                    "--seed and --threads positive, --max-megapixels at "
                    "least 1");
  else
    return TRUE;
  return FALSE;
}

int
graft_cli_scan (int argc, char **argv)
{
  Args a = { FALSE, FALSE, GRAFT_DEFAULT_VAL_FRACTION, GRAFT_DEFAULT_SEED, 0,
             GRAFT_DEFAULT_MAX_PIXELS / MEGAPIXEL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftScan) scan = NULL;
  g_autoptr (GraftCliProgress) bar = NULL;
  g_auto (GStrv) folders = NULL;
  GraftScanOptions options;

  if (!parse_args (&a, &argc, &argv))
    return GRAFT_CLI_USAGE;
  graft_scan_options_init (&options);
  options.val_fraction = a.val;
  options.seed = (guint64) a.seed;
  options.threads = (guint) a.threads;
  options.decode = !a.quick;
  options.max_pixels = (gint64) a.megapixels * MEGAPIXEL;
  /* argv[0] is the command's name; the folders follow. */
  folders = g_new0 (char *, argc);
  for (int i = 1; i < argc; i++)
    folders[i - 1] = g_strdup (argv[i]);
  scan = graft_scan_folders ((const char *const *) folders, &options,
                             show_progress, &bar, NULL, &error);
  if (scan == NULL)
    {
      g_autofree char *message = graft_text_escape (error->message);
      return graft_cli_fail (GRAFT_CLI_FAILED, "scan: %s", message);
    }
  if (a.json)
    {
      g_autoptr (JsonNode) root = build_report (scan);
      graft_cli_print_json (root);
    }
  print_summary (a.json ? stderr : stdout, scan);
  return 0;
}
