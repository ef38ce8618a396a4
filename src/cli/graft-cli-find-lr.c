/* graft-cli-find-lr.c: `graft-cli train … --find-lr` — the learning-rate
 * range test of the run the same options describe, instead of the run:
 * progress on stderr, the curve and the suggested rate as JSON on stdout.
 * Nothing is written (--out, if given, is left alone). */
#define G_LOG_DOMAIN "graft-cli"

#include <stdio.h>

#include "graft-cli-private.h"
#include "graft-lr-finder.h"

#define PROGRESS_SCALE 1000

/* @argv without --find-lr (borrowed strings), NULL-terminated. */
static GPtrArray *
strip_find_lr (int argc, char **argv)
{
  GPtrArray *args = g_ptr_array_new ();

  for (int i = 0; i < argc; i++)
    if (!g_str_equal (argv[i], "--find-lr"))
      g_ptr_array_add (args, argv[i]);
  g_ptr_array_add (args, NULL);
  return args;
}

static void
on_progress (double fraction, gpointer progress)
{
  graft_cli_progress_update (progress,
                             (guint64) (fraction * PROGRESS_SCALE));
}

static void
add_number (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

/* {"suggested_lr", "rule", "diverged", "curve": [{"lr", "loss",
 * "smoothed"}, …]} */
static JsonNode *
describe (const GraftLrResult *result)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_number (b, "suggested_lr", result->suggested_lr);
  json_builder_set_member_name (b, "rule");
  json_builder_add_string_value (b, graft_lr_rule_to_string (result->rule));
  json_builder_set_member_name (b, "diverged");
  json_builder_add_boolean_value (b, result->diverged);
  json_builder_set_member_name (b, "curve");
  json_builder_begin_array (b);
  for (guint i = 0; i < result->points->len; i++)
    {
      const GraftLrPoint *p = &g_array_index (result->points, GraftLrPoint,
                                              i);
      json_builder_begin_object (b);
      add_number (b, "lr", p->lr);
      add_number (b, "loss", p->loss);
      add_number (b, "smoothed", p->smoothed);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

int
graft_cli_train_find_lr (int argc, char **argv)
{
  g_autoptr (GPtrArray) args = strip_find_lr (argc, argv);
  g_autofree char *out = NULL, *resume = NULL;
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GraftCliProgress) progress = NULL;
  g_autoptr (GraftLrResult) result = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;

  config = graft_cli_train_parse ((int) args->len - 1, (char **) args->pdata,
                                  NULL, &out, &resume);
  if (config == NULL)
    return GRAFT_CLI_USAGE;
  if (resume != NULL || config->backbone == NULL || config->data == NULL)
    return graft_cli_fail (GRAFT_CLI_USAGE, "train --find-lr: --backbone "
                           "and --data are required, --resume is not "
                           "taken");
  progress = graft_cli_progress_new ("find-lr", PROGRESS_SCALE);
  result = graft_lr_find (config, on_progress, progress, NULL, &error);
  if (result == NULL)
    return graft_cli_fail (GRAFT_CLI_FAILED, "%s", error->message);
  /* The bar ends its line at the last step, which a curve cut short
   * never reached. */
  if (result->diverged)
    graft_cli_progress_update (progress, PROGRESS_SCALE);
  root = describe (result);
  graft_cli_print_json (root);
  return 0;
}
