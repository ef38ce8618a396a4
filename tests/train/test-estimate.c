/* test-estimate.c: the time estimate per mode — `graft-cli train
 * --estimate` as a script reads it, the arithmetic through the API, and
 * the recommendation rule.  No assertion is about how fast this machine
 * is: only about how the modes compare. */
#define G_LOG_DOMAIN "test-estimate"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/wait.h>

#include "graft-estimate.h"
#include "train-test-pictures.h"

#define PICTURE_SIDE 40
#define PER_CLASS 30
/* Later epochs of feature extraction run the head alone: far cheaper
 * than a first epoch that runs the backbone over every picture. */
#define EXTRACT_SPEEDUP 10
#define RESNET18_BLOCKS 9

static char *scratch, *data, *backbone;

static int
estimate_cli (char **out, char **err, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  int wait_status;
  va_list args;

  g_ptr_array_add (argv, (gpointer) g_getenv ("GRAFT_CLI"));
  g_ptr_array_add (argv, (gpointer) "train");
  va_start (args, err);
  for (const char *a = va_arg (args, const char *); a != NULL;
       a = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL,
                NULL, out, err, &wait_status, &error);
  g_assert_no_error (error);
  return WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
}

static double
number (JsonObject *mode, const char *member)
{
  JsonNode *node = json_object_get_member (mode, member);

  g_assert_nonnull (node);
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_DOUBLE);
  g_assert_cmpfloat (json_node_get_double (node), >=, 0);
  return json_node_get_double (node);
}

/* Each mode's object: seconds, first and later epochs, epoch count. */
static JsonObject *
mode_member (JsonObject *root, const char *name)
{
  JsonObject *mode = json_object_get_object_member (root, name);

  g_assert_nonnull (mode);
  g_assert_cmpfloat (number (mode, "seconds"), >=,
                     number (mode, "first_epoch"));
  number (mode, "later_epochs");
  g_assert_cmpint (json_object_get_int_member (mode, "epochs"), >, 0);
  return mode;
}

/* The JSON a script reads: a shape per mode; extraction's later epochs
 * far cheaper than its first; fine-tuning dearer than extraction; the
 * recommendation for 90 pictures; nothing trained, nothing written. */
static void
test_cli_json (void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *root, *extract, *finetune, *progressive;
  int status = estimate_cli (&out, &err, "--estimate", "--backbone", backbone,
                             "--data", data, NULL);

  g_assert_cmpint (status, ==, 0);
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  extract = mode_member (root, "extract");
  finetune = mode_member (root, "finetune");
  progressive = mode_member (root, "progressive");
  g_test_message ("extract %.3f s (first epoch %.4f s, later %.6f s); "
                  "finetune %.3f s; progressive %.3f s",
                  number (extract, "seconds"), number (extract, "first_epoch"),
                  number (extract, "later_epochs"),
                  number (finetune, "seconds"),
                  number (progressive, "seconds"));
  g_assert_cmpfloat (number (extract, "later_epochs") * EXTRACT_SPEEDUP, <,
                     number (extract, "first_epoch"));
  g_assert_cmpfloat (number (finetune, "seconds"), >,
                     number (extract, "seconds"));
  g_assert_cmpfloat (number (finetune, "later_epochs"), >,
                     number (extract, "later_epochs"));
  /* Each mode's default epochs: 30, 5, and two per stage (head + 9). */
  g_assert_cmpint (json_object_get_int_member (extract, "epochs"), ==, 30);
  g_assert_cmpint (json_object_get_int_member (finetune, "epochs"), ==, 5);
  g_assert_cmpint (json_object_get_int_member (progressive, "epochs"), ==,
                   2 * (RESNET18_BLOCKS + 1));
  g_assert_cmpstr (json_object_get_string_member (root, "recommended"), ==,
                   "extract");
  g_assert_nonnull (strstr (json_object_get_string_member (root, "reason"),
                            "90 pictures"));
}

/* Options apply to every mode: a shorter run costs less. */
static void
test_cli_options (void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root;
  int status = estimate_cli (&out, &err, "--backbone", backbone, "--data",
                             data, "--epochs", "2", "--estimate", "--budget",
                             "60", NULL);

  g_assert_cmpint (status, ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  root = json_node_get_object (json_parser_get_root (parser));
  for (guint i = 0; i < 3; i++)
    {
      const char *name[] = { "extract", "finetune", "progressive" };
      g_assert_cmpint (json_object_get_int_member (mode_member (root, name[i]),
                                                   "epochs"), ==, 2);
    }
}

static void
assert_one_line_failure (int status, int want, const char *out,
                         const char *err)
{
  g_assert_cmpint (status, ==, want);
  g_assert_cmpstr (out, ==, "");
  g_assert_true (g_str_has_prefix (err, "graft-cli: "));
  g_assert_cmpint (strchr (err, '\n') - err + 1, ==, (int) strlen (err));
}

/* Wrong command lines exit 2, a backbone that is not there 1: one line
 * on stderr, nothing on stdout. */
static void
test_cli_refuses (void)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *cases[][3] = {
    { "--estimate", "--data", "x" },          /* no backbone */
    { "--estimate", "--budget", "-5" },       /* a budget below zero */
    { "--estimate", "--epochs", "zero" },     /* a bad option */
  };
  int status;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      status = estimate_cli (&out, &err, cases[i][0], cases[i][1],
                             cases[i][2], NULL);
      assert_one_line_failure (status, 2, out, err);
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
    }
  status = estimate_cli (&out, &err, "--estimate", "--backbone",
                         "no-such-backbone", "--data", data, NULL);
  assert_one_line_failure (status, 1, out, err);
}

static GraftRunConfig *
config_new (GraftRunMode mode)
{
  GraftRunConfig *c = graft_run_config_new (mode);

  c->backbone = g_strdup (backbone);
  c->data = g_new0 (char *, 2);
  c->data[0] = g_strdup (data);
  return c;
}

/* The arithmetic: augmentation makes every epoch pay for the backbone;
 * unfreezing fewer blocks costs less; a progressive run sums its stages,
 * and its second stage's first epoch costs no more than its second (the
 * first stage's pass carried its boundary values). */
static void
test_api (void)
{
  g_autoptr (GraftRunConfig) c = config_new (GRAFT_RUN_MODE_EXTRACT);
  g_autoptr (GraftProbe) probe = NULL;
  g_autoptr (GError) error = NULL;
  GraftModeEstimate plain, flip, all, two, progressive, e2, e3;

  probe = graft_probe_new (c, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_probe_n_train (probe) + graft_probe_n_val (probe),
                    ==, 3 * PER_CLASS);
  graft_estimate_mode (probe, c, &plain);
  c->augment_flip = TRUE;
  graft_estimate_mode (probe, c, &flip);
  g_assert_cmpfloat (flip.first_epoch, ==, plain.first_epoch);
  g_assert_cmpfloat_with_epsilon (flip.later_epochs, flip.first_epoch,
                                  1e-9 * flip.first_epoch);
  c->augment_flip = FALSE;

  c->mode = GRAFT_RUN_MODE_FINETUNE;
  c->unfreeze = GRAFT_UNFREEZE_ALL;
  graft_estimate_mode (probe, c, &all);
  c->unfreeze = 2;
  graft_estimate_mode (probe, c, &two);
  g_assert_cmpfloat (two.later_epochs, <, all.later_epochs);
  g_assert_cmpfloat (two.later_epochs, >, plain.later_epochs);

  c->mode = GRAFT_RUN_MODE_PROGRESSIVE;
  c->epochs = 4;
  c->stage_epochs = 2;
  graft_estimate_mode (probe, c, &progressive);
  g_assert_cmpuint (progressive.epochs, ==, 4);
  g_assert_cmpfloat (progressive.first_epoch, ==, plain.first_epoch);
  g_assert_cmpfloat (progressive.seconds, >,
                     plain.first_epoch + 3 * plain.later_epochs);
  c->epochs = 2;
  graft_estimate_mode (probe, c, &e2);
  c->epochs = 3;
  graft_estimate_mode (probe, c, &e3);
  g_assert_cmpfloat_with_epsilon (e3.seconds - e2.seconds,
                                  progressive.seconds - e3.seconds,
                                  1e-9 * progressive.seconds);
  c->augment_flip = TRUE;
  graft_estimate_mode (probe, c, &e2);
  g_assert_cmpfloat (e2.seconds, >, e3.seconds);
  c->augment_flip = FALSE;
}

/* SPEC §1 step 4, at and around its thresholds. */
static void
test_recommend (void)
{
  const struct
  {
    guint pictures;
    double finetune, budget;
    GraftRunMode want;
    const char *says;
  } cases[] = {
    { 40, 10, 0, GRAFT_RUN_MODE_EXTRACT, "only 40" },
    { 100, 10, 0, GRAFT_RUN_MODE_EXTRACT, "100 to 1,000" },
    { 1000, 10, 0, GRAFT_RUN_MODE_EXTRACT, "100 to 1,000" },
    { 1001, 10, 0, GRAFT_RUN_MODE_FINETUNE, "enough to fine-tune" },
    { 20000, 7200, 3600, GRAFT_RUN_MODE_EXTRACT, "over the budget of 60 min" },
    { 20000, 1800, 3600, GRAFT_RUN_MODE_FINETUNE, "enough to fine-tune" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *reason = NULL;
      GraftRunMode mode = graft_estimate_recommend (cases[i].pictures,
                                                    cases[i].finetune,
                                                    cases[i].budget, &reason);
      g_test_message ("%u pictures: %s", cases[i].pictures, reason);
      g_assert_cmpint (mode, ==, cases[i].want);
      g_assert_nonnull (strstr (reason, cases[i].says));
    }
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  backbone = g_test_build_filename (G_TEST_DIST, "data", "torch",
                                    "resnet18.onnx", NULL);
  scratch = g_dir_make_tmp ("graft-estimate-XXXXXX", NULL);
  data = train_test_make_classes (scratch, "data", 3, PER_CLASS,
                                  PICTURE_SIDE, 3);

  g_test_add_func ("/train/estimate/cli-json", test_cli_json);
  g_test_add_func ("/train/estimate/cli-options", test_cli_options);
  g_test_add_func ("/train/estimate/cli-refuses", test_cli_refuses);
  g_test_add_func ("/train/estimate/api", test_api);
  g_test_add_func ("/train/estimate/recommend", test_recommend);
  status = g_test_run ();
  train_test_rm_rf (scratch);
  g_free (scratch);
  g_free (data);
  g_free (backbone);
  return status;
}
