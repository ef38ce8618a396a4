/* graft-cli-estimate.c: `graft-cli train --estimate` — how long each mode
 * would take here, from a short probe of the backbone on this machine,
 * and which mode to use; JSON on stdout, nothing trained.
 *
 * The options are train's and apply to every mode; what is not given
 * takes each mode's own default (epochs, unfreezing). */
#define G_LOG_DOMAIN "graft-cli"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "graft-cli-private.h"
#include "graft-estimate.h"

#define N_MODES 3

/* @argv without --estimate and --budget SECONDS (borrowed strings); the
 * budget into @budget.  NULL, the reason printed, on a bad budget. */
static GPtrArray *
strip_flags (int argc, char **argv, double *budget)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();

  for (int i = 0; i < argc; i++)
    {
      char *end = NULL;
      if (g_str_equal (argv[i], "--estimate"))
        continue;
      if (!g_str_equal (argv[i], "--budget"))
        {
          g_ptr_array_add (args, argv[i]);
          continue;
        }
      if (i + 1 < argc)
        *budget = g_ascii_strtod (argv[++i], &end);
      if (end == NULL || *end != '\0' || !isfinite (*budget) || *budget <= 0)
        return (graft_cli_fail (GRAFT_CLI_USAGE, "train: --budget needs "
                                "a number of seconds above 0"), NULL);
    }
  g_ptr_array_add (args, NULL);
  return g_steal_pointer (&args);
}

/* One configuration per mode, in GraftRunMode order; FALSE, the reason
 * printed, when the options are wrong. */
static gboolean
parse_modes (GPtrArray *args, GraftRunConfig **configs)
{
  for (int m = 0; m < N_MODES; m++)
    {
      GraftRunMode mode = (GraftRunMode) m;
      g_autofree char *out = NULL, *resume = NULL;
      configs[m] = graft_cli_train_parse ((int) args->len - 1,
                                          (char **) args->pdata, &mode, &out,
                                          &resume);
      if (configs[m] == NULL)
        return FALSE;
    }
  if (configs[0]->backbone == NULL || configs[0]->data == NULL)
    {
      graft_cli_fail (GRAFT_CLI_USAGE, "train --estimate: --backbone and "
                      "--data are required");
      return FALSE;
    }
  return TRUE;
}

static void
add_mode (JsonBuilder *b, const char *name, const GraftModeEstimate *e)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "seconds");
  json_builder_add_double_value (b, e->seconds);
  json_builder_set_member_name (b, "first_epoch");
  json_builder_add_double_value (b, e->first_epoch);
  json_builder_set_member_name (b, "later_epochs");
  json_builder_add_double_value (b, e->later_epochs);
  json_builder_set_member_name (b, "epochs");
  json_builder_add_int_value (b, e->epochs);
  json_builder_end_object (b);
}

static JsonNode *
describe (GraftProbe *probe, GraftRunConfig **configs, double budget)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  guint n = graft_probe_n_train (probe) + graft_probe_n_val (probe);
  GraftModeEstimate e[N_MODES];
  g_autofree char *reason = NULL;
  GraftRunMode best;

  json_builder_begin_object (b);
  for (int m = 0; m < N_MODES; m++)
    {
      graft_estimate_mode (probe, configs[m], &e[m]);
      add_mode (b, graft_run_mode_to_string ((GraftRunMode) m), &e[m]);
    }
  best = graft_estimate_recommend (n, e[GRAFT_RUN_MODE_FINETUNE].seconds,
                                   budget, &reason);
  json_builder_set_member_name (b, "recommended");
  json_builder_add_string_value (b, graft_run_mode_to_string (best));
  json_builder_set_member_name (b, "reason");
  json_builder_add_string_value (b, reason);
  json_builder_set_member_name (b, "pictures");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "train");
  json_builder_add_int_value (b, graft_probe_n_train (probe));
  json_builder_set_member_name (b, "val");
  json_builder_add_int_value (b, graft_probe_n_val (probe));
  json_builder_end_object (b);
  json_builder_set_member_name (b, "probe");
  json_builder_add_value (b, graft_probe_to_json (probe));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

int
graft_cli_train_estimate (int argc, char **argv)
{
  GraftRunConfig *configs[N_MODES] = { NULL };
  g_autoptr (GraftProbe) probe = NULL;
  g_autoptr (GPtrArray) args = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  double budget = 0;
  int status = GRAFT_CLI_USAGE;

  args = strip_flags (argc, argv, &budget);
  if (args != NULL && parse_modes (args, configs))
    {
      /* The probe takes seconds: say so to a person, not to a script,
       * whose stderr must stay one line on failure. */
      if (isatty (fileno (stderr)))
        fprintf (stderr, "estimate: timing %s on this machine…\n",
                 configs[0]->backbone);
      probe = graft_probe_new (configs[0], &error);
      status = probe != NULL ? 0
        : graft_cli_fail (GRAFT_CLI_FAILED, "%s", error->message);
    }
  if (probe != NULL)
    {
      root = describe (probe, configs, budget);
      graft_cli_print_json (root);
    }
  for (int m = 0; m < N_MODES; m++)
    g_clear_pointer (&configs[m], graft_run_config_free);
  return status;
}
