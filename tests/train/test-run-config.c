/* test-run-config.c: defaults per mode, JSON round trips and tolerant
 * loading, every validation failure with its message, and the
 * command-line forms. */
#include <math.h>
#include <string.h>

#include "graft-run-config.h"

static GraftRunConfig *
new_valid (GraftRunMode mode)
{
  GraftRunConfig *config = graft_run_config_new (mode);
  const char *data[] = { "/data/cats", "/data/dogs", NULL };

  config->backbone = g_strdup ("resnet-fmnist");
  config->data = g_strdupv ((char **) data);
  return config;
}

static void
test_defaults (void)
{
  g_autoptr (GraftRunConfig) c = graft_run_config_new (GRAFT_RUN_MODE_EXTRACT);

  g_assert_null (c->backbone);
  g_assert_null (c->cut);
  g_assert_null (c->data);
  g_assert_cmpfloat (c->val_fraction, ==, 0.2);
  g_assert_cmpuint (c->split_seed, ==, 0);
  g_assert_cmpuint (c->seed, ==, 0);
  g_assert_cmpint (c->mode, ==, GRAFT_RUN_MODE_EXTRACT);
  g_assert_cmpint (c->unfreeze, ==, 0);
  g_assert_cmpuint (c->hidden, ==, 0);
  g_assert_cmpfloat (c->dropout, ==, 0.2);
  g_assert_cmpint (c->output, ==, GRAFT_HEAD_OUTPUT_SOFTMAX);
  g_assert_cmpint (c->optimizer, ==, GRAFT_OPTIMIZER_ADAM);
  g_assert_cmpfloat (c->lr, ==, 0.01);
  g_assert_cmpfloat (c->momentum, ==, 0.9);
  g_assert_cmpfloat (c->weight_decay, ==, 0);
  g_assert_cmpint (c->schedule, ==, GRAFT_SCHEDULE_CONSTANT);
  g_assert_cmpuint (c->warmup_epochs, ==, 0);
  g_assert_cmpuint (c->step_epochs, ==, 3);
  g_assert_cmpfloat (c->step_gamma, ==, 0.1);
  g_assert_cmpfloat (c->label_smoothing, ==, 0);
  g_assert_cmpuint (c->epochs, ==, 30);
  g_assert_cmpuint (c->batch, ==, 32);
  g_assert_false (c->augment_flip);
  g_assert_false (c->augment_crop);
  g_assert_cmpuint (c->patience, ==, 0);
  g_assert_false (c->bn_frozen_all);
  g_assert_cmpfloat (c->discriminative, ==, 1);
  g_assert_cmpuint (c->stage_epochs, ==, 2);
  g_assert_cmpfloat (c->plateau_tolerance, ==, 0.01);
  g_assert_cmpuint (c->plateau_patience, ==, 1);
  g_assert_cmpuint (c->threads, ==, 0);
}

static void
test_defaults_per_mode (void)
{
  g_autoptr (GraftRunConfig) finetune =
    graft_run_config_new (GRAFT_RUN_MODE_FINETUNE);
  g_autoptr (GraftRunConfig) progressive =
    graft_run_config_new (GRAFT_RUN_MODE_PROGRESSIVE);

  g_assert_cmpuint (finetune->epochs, ==, 5);
  g_assert_cmpint (finetune->unfreeze, ==, GRAFT_UNFREEZE_ALL);
  g_assert_cmpfloat (finetune->lr, ==, 0.001);
  g_assert_cmpuint (progressive->epochs, ==, 0);
  g_assert_cmpfloat (progressive->lr, ==, 0.001);
  g_assert_cmpuint (progressive->stage_epochs, ==, 2);
}

/* Defaults are valid once the run knows its backbone and data. */
static void
test_defaults_valid (void)
{
  for (int mode = GRAFT_RUN_MODE_EXTRACT; mode <= GRAFT_RUN_MODE_PROGRESSIVE;
       mode++)
    {
      g_autoptr (GraftRunConfig) bare = graft_run_config_new (mode);
      g_autoptr (GraftRunConfig) config = new_valid (mode);
      g_autoptr (GError) error = NULL;

      g_assert_false (graft_run_config_validate (bare, &error));
      g_assert_cmpstr (error->message, ==, "backbone: must not be empty");
      g_clear_error (&error);
      g_assert_true (graft_run_config_validate (config, &error));
      g_assert_no_error (error);
    }
}

static void
test_copy (void)
{
  g_autoptr (GraftRunConfig) config = new_valid (GRAFT_RUN_MODE_FINETUNE);
  g_autoptr (GraftRunConfig) copy = NULL;
  GraftRunConfig *boxed;

  config->cut = g_strdup ("features.7");
  copy = graft_run_config_copy (config);
  g_assert_true (graft_run_config_equal (config, copy));
  g_assert_true (copy->data != config->data);
  g_assert_true (copy->cut != config->cut);
  copy->data[1][1] = 'x';
  g_assert_false (graft_run_config_equal (config, copy));
  g_clear_pointer (&copy, graft_run_config_free);
  config->labels = g_strsplit ("Cat,Dog", ",", -1);
  copy = graft_run_config_copy (config);
  g_assert_true (copy->labels != config->labels);
  g_assert_true (graft_run_config_equal (config, copy));
  copy->labels[1][0] = 'F';
  g_assert_false (graft_run_config_equal (config, copy));
  g_clear_pointer (&copy->labels, g_strfreev);
  g_assert_false (graft_run_config_equal (config, copy));
  boxed = g_boxed_copy (GRAFT_TYPE_RUN_CONFIG, config);
  g_assert_true (graft_run_config_equal (config, boxed));
  g_boxed_free (GRAFT_TYPE_RUN_CONFIG, boxed);
}

/* Every field away from its default, so the round trip proves each. */
static GraftRunConfig *
new_unusual (void)
{
  GraftRunConfig *c = new_valid (GRAFT_RUN_MODE_PROGRESSIVE);

  c->cut = g_strdup ("layer4/out");
  c->labels = g_strsplit ("Katze,Hund \xf0\x9f\x90\x95", ",", -1);
  c->val_fraction = 0.3;
  c->split_seed = GRAFT_MAX_SEED;
  c->seed = 1234567890123;
  c->unfreeze = 4;
  c->hidden = 32;
  c->dropout = 0.5;
  c->output = GRAFT_HEAD_OUTPUT_SIGMOID;
  c->optimizer = GRAFT_OPTIMIZER_SGD;
  c->lr = 0.1 / 3;
  c->momentum = 0.95;
  c->weight_decay = 1e-4;
  c->schedule = GRAFT_SCHEDULE_STEP;
  c->warmup_epochs = 2;
  c->step_epochs = 4;
  c->step_gamma = 0.5;
  c->label_smoothing = 0.1;
  c->epochs = 40;
  c->batch = 7;
  c->augment_flip = TRUE;
  c->augment_crop = TRUE;
  c->patience = 3;
  c->bn_frozen_all = TRUE;
  c->discriminative = 0.5;
  c->stage_epochs = 3;
  c->plateau_tolerance = 0.05;
  c->plateau_patience = 2;
  c->threads = 4;
  return c;
}

static JsonNode *
parse (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static void
test_json_round_trip (void)
{
  g_autoptr (GraftRunConfig) config = new_unusual ();
  g_autoptr (GraftRunConfig) back = NULL;
  g_autoptr (JsonNode) node = graft_run_config_to_json (config);
  g_autoptr (JsonNode) reparsed = NULL;
  g_autofree char *text = json_to_string (node, FALSE);
  g_autoptr (GError) error = NULL;

  g_assert_true (strstr (text, "\"mode\":\"progressive\"") != NULL);
  g_assert_true (strstr (text, "\"optimizer\":\"sgd\"") != NULL);
  g_assert_true (strstr (text, "\"output\":\"sigmoid\"") != NULL);
  g_assert_true (strstr (text, "\"schedule\":\"step\"") != NULL);
  g_assert_true (strstr (text, "\"split_seed\":9007199254740991") != NULL);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (node)), ==,
                    32);
  g_assert_nonnull (strstr (text, "\"labels\":[\"Katze\",\"Hund"));
  reparsed = parse (text);
  back = graft_run_config_from_json (reparsed, &error);
  g_assert_no_error (error);
  g_assert_true (graft_run_config_equal (config, back));
}

/* NULL cut (the bottleneck) is written as null and read back. */
static void
test_json_null_cut (void)
{
  g_autoptr (GraftRunConfig) config = new_valid (GRAFT_RUN_MODE_EXTRACT);
  g_autoptr (JsonNode) node = graft_run_config_to_json (config);
  g_autoptr (GraftRunConfig) back = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (json_object_get_null_member (json_node_get_object (node),
                                              "cut"));
  back = graft_run_config_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_null (back->cut);
  g_assert_true (json_object_get_null_member (json_node_get_object (node),
                                              "labels"));
  g_assert_null (back->labels);
  g_assert_true (graft_run_config_equal (config, back));
}

/* An older run.json: only some keys.  The rest take the defaults of the
 * mode the file names; keys Graft does not know are ignored. */
static void
test_json_tolerant (void)
{
  g_autoptr (JsonNode) node = parse ("{\"backbone\": \"b.onnx\", "
                                     "\"data\": [\"/d\"], "
                                     "\"mode\": \"finetune\", \"lr\": 1, "
                                     "\"from_the_future\": [1, 2]}");
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GraftRunConfig) expected =
    graft_run_config_new (GRAFT_RUN_MODE_FINETUNE);
  g_autoptr (GError) error = NULL;

  config = graft_run_config_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->backbone, ==, "b.onnx");
  g_assert_cmpuint (config->epochs, ==, 5);
  g_assert_cmpint (config->unfreeze, ==, GRAFT_UNFREEZE_ALL);
  g_assert_cmpfloat (config->lr, ==, 1.0);
  expected->backbone = g_strdup ("b.onnx");
  expected->data = g_strsplit ("/d", ",", -1);
  expected->lr = 1.0;
  g_assert_true (graft_run_config_equal (config, expected));
}

typedef struct
{
  const char *name;
  const char *json;
  const char *message;
} BadJson;

static const BadJson bad_json[] = {
  { "not-object", "[1]", "config: expected a JSON object" },
  { "unknown-mode", "{\"mode\": \"fast\"}",
    "mode: unknown value 'fast' (expected one of extract, finetune, "
    "progressive)" },
  { "unknown-optimizer", "{\"optimizer\": \"rmsprop\"}",
    "optimizer: unknown value 'rmsprop' (expected one of adam, sgd)" },
  { "unknown-output", "{\"output\": \"tanh\"}",
    "output: unknown value 'tanh' (expected one of softmax, sigmoid)" },
  { "unknown-schedule", "{\"schedule\": \"linear\"}",
    "schedule: unknown value 'linear' (expected one of constant, cosine, "
    "step)" },
  { "enum-not-string", "{\"mode\": 1}", "mode: expected a string" },
  { "batch-string", "{\"batch\": \"32\"}", "batch: expected an integer" },
  { "batch-fraction", "{\"batch\": 2.5}", "batch: expected an integer" },
  { "batch-negative", "{\"batch\": -1}",
    "batch: must be between 1 and 4096 (got -1)" },
  { "seed-too-large", "{\"seed\": 9007199254740992}",
    "seed: must be between 0 and 9007199254740991 (got 9007199254740992)" },
  { "lr-string", "{\"lr\": \"0.1\"}", "lr: expected a number" },
  { "lr-zero", "{\"lr\": 0}",
    "lr: must be greater than 0 and at most 10 (got 0)" },
  { "flip-number", "{\"augment_flip\": 1}",
    "augment_flip: expected true or false" },
  { "data-string", "{\"data\": \"/d\"}", "data: expected an array of strings" },
  { "data-numbers", "{\"data\": [1]}", "data: expected an array of strings" },
  { "backbone-null", "{\"backbone\": null}", "backbone: expected a string" },
  { "missing-backbone", "{\"data\": [\"/d\"]}",
    "backbone: must not be empty" },
  { "epochs-zero", "{\"backbone\": \"b\", \"data\": [\"/d\"], "
    "\"epochs\": 0}", "epochs: must be between 1 and 10000 in extract mode "
    "(got 0)" },
};

static void
test_json_refused (gconstpointer data)
{
  const BadJson *bad = data;
  g_autoptr (JsonNode) node = parse (bad->json);
  g_autoptr (GError) error = NULL;

  g_assert_null (graft_run_config_from_json (node, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == GRAFT_RUN_CONFIG_ERROR);
  g_assert_cmpstr (error->message, ==, bad->message);
}

/* One invalid value per case, and the exact message validation gives. */
typedef struct
{
  const char *name;
  void (*spoil) (GraftRunConfig *c);
  const char *message;
} Invalid;

#define SPOIL(id, statement) \
  static void spoil_##id (GraftRunConfig *c) { statement; }

SPOIL (backbone_null, g_clear_pointer (&c->backbone, g_free))
SPOIL (backbone_empty, c->backbone[0] = '\0')
SPOIL (cut_empty, c->cut = g_strdup (""))
SPOIL (data_null, g_clear_pointer (&c->data, g_strfreev))
SPOIL (data_empty_entry, c->data[1][0] = '\0')
SPOIL (labels_short, c->labels = g_strsplit ("Cat", ",", -1))
SPOIL (labels_long, c->labels = g_strsplit ("Cat,Dog,Fox", ",", -1))
SPOIL (labels_empty, c->labels = g_strsplit ("Cat,", ",", -1))
SPOIL (labels_blank, c->labels = g_strsplit (" \t,Dog", ",", -1))
SPOIL (labels_twice, c->labels = g_strsplit ("Dog,Dog", ",", -1))
SPOIL (labels_utf8, c->labels = g_strsplit ("Cat,D\xffg", ",", -1))
SPOIL (val_zero, c->val_fraction = 0)
SPOIL (val_one, c->val_fraction = 1)
SPOIL (val_nan, c->val_fraction = NAN)
SPOIL (split_seed, c->split_seed = GRAFT_MAX_SEED + 1)
SPOIL (seed, c->seed = G_MAXUINT64)
SPOIL (mode, c->mode = 7)
SPOIL (unfreeze_low, c->unfreeze = -2)
SPOIL (unfreeze_high, c->unfreeze = 10001)
SPOIL (unfreeze_none, c->mode = GRAFT_RUN_MODE_FINETUNE; c->unfreeze = 0)
SPOIL (hidden, c->hidden = 65537)
SPOIL (dropout_one, c->dropout = 1)
SPOIL (dropout_negative, c->dropout = -0.1)
SPOIL (output, c->output = 5)
SPOIL (optimizer, c->optimizer = 9)
SPOIL (lr_zero, c->lr = 0)
SPOIL (lr_high, c->lr = 11)
SPOIL (lr_inf, c->lr = INFINITY)
SPOIL (momentum, c->momentum = 1)
SPOIL (weight_decay_negative, c->weight_decay = -1)
SPOIL (weight_decay_high, c->weight_decay = 2)
SPOIL (schedule, c->schedule = 9)
SPOIL (warmup, c->warmup_epochs = 1001)
SPOIL (step_epochs, c->step_epochs = 0)
SPOIL (step_gamma_zero, c->step_gamma = 0)
SPOIL (step_gamma_high, c->step_gamma = 1.5)
SPOIL (label_smoothing, c->label_smoothing = 1)
SPOIL (epochs_extract, c->epochs = 0)
SPOIL (epochs_finetune, c->mode = GRAFT_RUN_MODE_FINETUNE; c->epochs = 0)
SPOIL (epochs_high, c->epochs = 10001)
SPOIL (batch_zero, c->batch = 0)
SPOIL (batch_high, c->batch = 4097)
SPOIL (patience, c->patience = 10001)
SPOIL (discriminative_zero, c->discriminative = 0)
SPOIL (discriminative_high, c->discriminative = 1.5)
SPOIL (stage_epochs, c->stage_epochs = 0)
SPOIL (plateau_tolerance_one, c->plateau_tolerance = 1)
SPOIL (plateau_tolerance_negative, c->plateau_tolerance = -0.01)
SPOIL (plateau_patience, c->plateau_patience = 0)
SPOIL (threads, c->threads = 1025)

#define INVALID(id, message) { #id, spoil_##id, message }

static const Invalid invalid[] = {
  INVALID (backbone_null, "backbone: must not be empty"),
  INVALID (backbone_empty, "backbone: must not be empty"),
  INVALID (cut_empty, "cut: must not be empty"),
  INVALID (data_null, "data: must list at least one folder, none empty"),
  INVALID (data_empty_entry,
           "data: must list at least one folder, none empty"),
  INVALID (labels_short, "labels: must give one name per data folder "
           "(2 folders, 1 given)"),
  INVALID (labels_long, "labels: must give one name per data folder "
           "(2 folders, 3 given)"),
  INVALID (labels_empty, "labels: name 2 is empty"),
  INVALID (labels_blank, "labels: name 1 is empty"),
  INVALID (labels_twice, "labels: 'Dog' is given twice"),
  INVALID (labels_utf8, "labels: name 2 is not valid UTF-8"),
  INVALID (val_zero, "val_fraction: must be greater than 0 and less than 1 "
           "(got 0)"),
  INVALID (val_one, "val_fraction: must be greater than 0 and less than 1 "
           "(got 1)"),
  INVALID (val_nan, "val_fraction: must be greater than 0 and less than 1 "
           "(got nan)"),
  INVALID (split_seed, "split_seed: must be between 0 and 9007199254740991 "
           "(got 9007199254740992)"),
  INVALID (seed, "seed: must be between 0 and 9007199254740991 "
           "(got 18446744073709551616)"),
  INVALID (mode, "mode: no such value (7)"),
  INVALID (unfreeze_low, "unfreeze: must be between -1 and 10000 (got -2)"),
  INVALID (unfreeze_high,
           "unfreeze: must be between -1 and 10000 (got 10001)"),
  INVALID (unfreeze_none, "unfreeze: must be at least 1, or -1 for all, in "
           "finetune mode (got 0)"),
  INVALID (hidden, "hidden: must be between 0 and 65536 (got 65537)"),
  INVALID (dropout_one, "dropout: must be at least 0 and less than 1 "
           "(got 1)"),
  INVALID (dropout_negative, "dropout: must be at least 0 and less than 1 "
           "(got -0.1)"),
  INVALID (output, "output: no such value (5)"),
  INVALID (optimizer, "optimizer: no such value (9)"),
  INVALID (lr_zero, "lr: must be greater than 0 and at most 10 (got 0)"),
  INVALID (lr_high, "lr: must be greater than 0 and at most 10 (got 11)"),
  INVALID (lr_inf, "lr: must be greater than 0 and at most 10 (got inf)"),
  INVALID (momentum, "momentum: must be at least 0 and less than 1 "
           "(got 1)"),
  INVALID (weight_decay_negative,
           "weight_decay: must be between 0 and 1 (got -1)"),
  INVALID (weight_decay_high,
           "weight_decay: must be between 0 and 1 (got 2)"),
  INVALID (schedule, "schedule: no such value (9)"),
  INVALID (warmup, "warmup_epochs: must be between 0 and 1000 (got 1001)"),
  INVALID (step_epochs, "step_epochs: must be between 1 and 10000 (got 0)"),
  INVALID (step_gamma_zero, "step_gamma: must be greater than 0 and at "
           "most 1 (got 0)"),
  INVALID (step_gamma_high, "step_gamma: must be greater than 0 and at "
           "most 1 (got 1.5)"),
  INVALID (label_smoothing, "label_smoothing: must be at least 0 and less "
           "than 1 (got 1)"),
  INVALID (epochs_extract, "epochs: must be between 1 and 10000 in extract "
           "mode (got 0)"),
  INVALID (epochs_finetune, "epochs: must be between 1 and 10000 in "
           "finetune mode (got 0)"),
  INVALID (epochs_high, "epochs: must be between 0 and 10000 (got 10001)"),
  INVALID (batch_zero, "batch: must be between 1 and 4096 (got 0)"),
  INVALID (batch_high, "batch: must be between 1 and 4096 (got 4097)"),
  INVALID (patience, "patience: must be between 0 and 10000 (got 10001)"),
  INVALID (discriminative_zero, "discriminative: must be greater than 0 "
           "and at most 1 (got 0)"),
  INVALID (discriminative_high, "discriminative: must be greater than 0 "
           "and at most 1 (got 1.5)"),
  INVALID (stage_epochs, "stage_epochs: must be between 1 and 1000 (got 0)"),
  INVALID (plateau_tolerance_one, "plateau_tolerance: must be at least 0 "
           "and less than 1 (got 1)"),
  INVALID (plateau_tolerance_negative, "plateau_tolerance: must be at "
           "least 0 and less than 1 (got -0.01)"),
  INVALID (plateau_patience,
           "plateau_patience: must be between 1 and 1000 (got 0)"),
  INVALID (threads, "threads: must be between 0 and 1024 (got 1025)"),
};

static void
test_invalid (gconstpointer data)
{
  const Invalid *invalid_case = data;
  g_autoptr (GraftRunConfig) config = new_valid (GRAFT_RUN_MODE_EXTRACT);
  g_autoptr (GError) error = NULL;

  invalid_case->spoil (config);
  g_assert_false (graft_run_config_validate (config, &error));
  g_assert_error (error, GRAFT_RUN_CONFIG_ERROR,
                  GRAFT_RUN_CONFIG_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==, invalid_case->message);
}

static void
test_check_classes (void)
{
  g_autoptr (GraftRunConfig) config = new_valid (GRAFT_RUN_MODE_EXTRACT);
  g_autoptr (GError) error = NULL;

  g_assert_true (graft_run_config_check_classes (config, 5, &error));
  g_assert_false (graft_run_config_check_classes (config, 1, &error));
  g_assert_cmpstr (error->message, ==,
                   "classes: at least two are needed (got 1)");
  g_clear_error (&error);
  config->output = GRAFT_HEAD_OUTPUT_SIGMOID;
  g_assert_true (graft_run_config_check_classes (config, 2, &error));
  g_assert_false (graft_run_config_check_classes (config, 3, &error));
  g_assert_error (error, GRAFT_RUN_CONFIG_ERROR,
                  GRAFT_RUN_CONFIG_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==, "output: sigmoid needs exactly two "
                   "classes (got 3); use softmax");
}

static void
assert_option_fails (GraftRunConfig *config, const char *key,
                     const char *value, const char *message)
{
  g_autoptr (GraftRunConfig) before = graft_run_config_copy (config);
  g_autoptr (GError) error = NULL;

  g_assert_false (graft_run_config_set_option (config, key, value, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == GRAFT_RUN_CONFIG_ERROR);
  g_assert_cmpstr (error->message, ==, message);
  g_assert_true (graft_run_config_equal (config, before));
}

static void
set (GraftRunConfig *config, const char *key, const char *value)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (graft_run_config_set_option (config, key, value, &error));
  g_assert_no_error (error);
}

static void
test_augment (void)
{
  g_autoptr (GraftRunConfig) c = new_valid (GRAFT_RUN_MODE_EXTRACT);
  const char *expected = "augment: expected none, flip, crop or flip,crop";

  set (c, "augment", "flip");
  g_assert_true (c->augment_flip && !c->augment_crop);
  set (c, "augment", "crop");
  g_assert_true (!c->augment_flip && c->augment_crop);
  set (c, "augment", "flip,crop");
  g_assert_true (c->augment_flip && c->augment_crop);
  set (c, "augment", "none");
  g_assert_true (!c->augment_flip && !c->augment_crop);
  set (c, "augment", "crop, flip");
  g_assert_true (c->augment_flip && c->augment_crop);
  for (guint i = 0; i < 5; i++)
    {
      const char *bad[] = { "", "flip,flip", "rotate", "none,flip", "flip," };
      g_autofree char *message = g_strdup_printf ("%s (got '%s')", expected,
                                                  bad[i]);

      assert_option_fails (c, "augment", bad[i], message);
    }
}

static void
test_unfreeze (void)
{
  g_autoptr (GraftRunConfig) c = new_valid (GRAFT_RUN_MODE_FINETUNE);

  set (c, "unfreeze", "3");
  g_assert_cmpint (c->unfreeze, ==, 3);
  set (c, "unfreeze", "all");
  g_assert_cmpint (c->unfreeze, ==, GRAFT_UNFREEZE_ALL);
  set (c, "unfreeze", "2");
  set (c, "unfreeze", "-1");
  g_assert_cmpint (c->unfreeze, ==, GRAFT_UNFREEZE_ALL);
  assert_option_fails (c, "unfreeze", "some",
                       "unfreeze: expected N or all (got 'some')");
  assert_option_fails (c, "unfreeze", "2.5",
                       "unfreeze: expected N or all (got '2.5')");
  assert_option_fails (c, "unfreeze", "-2",
                       "unfreeze: must be between -1 and 10000 (got -2)");
}

static void
test_set_option (void)
{
  g_autoptr (GraftRunConfig) c = new_valid (GRAFT_RUN_MODE_EXTRACT);
  g_autoptr (GError) error = NULL;

  set (c, "lr", "0.01");
  set (c, "batch", "64");
  set (c, "weight-decay", "1e-4");
  set (c, "bn-frozen-all", "yes");
  set (c, "optimizer", "sgd");
  set (c, "seed", "42");
  set (c, "cut", "layer3");
  set (c, "data", "/data/birds");
  set (c, "mode", "progressive");
  g_assert_cmpfloat (c->lr, ==, 0.01);
  g_assert_cmpuint (c->batch, ==, 64);
  g_assert_cmpfloat (c->weight_decay, ==, 1e-4);
  g_assert_true (c->bn_frozen_all);
  g_assert_cmpint (c->optimizer, ==, GRAFT_OPTIMIZER_SGD);
  g_assert_cmpuint (c->seed, ==, 42);
  g_assert_cmpstr (c->cut, ==, "layer3");
  g_assert_cmpuint (g_strv_length (c->data), ==, 3);
  g_assert_cmpstr (c->data[2], ==, "/data/birds");
  g_assert_cmpint (c->mode, ==, GRAFT_RUN_MODE_PROGRESSIVE);
  g_assert_cmpuint (c->epochs, ==, 30);   /* setting mode changes only it */
  g_assert_true (graft_run_config_validate (c, &error));
  g_assert_no_error (error);

  assert_option_fails (c, "colour", "red", "colour: no such option");
  assert_option_fails (c, "lr", "fast", "lr: expected a number (got 'fast')");
  assert_option_fails (c, "lr", "0.1x", "lr: expected a number (got '0.1x')");
  assert_option_fails (c, "lr", "nan",
                       "lr: must be greater than 0 and at most 10 (got nan)");
  assert_option_fails (c, "batch", "1e3",
                       "batch: expected an integer (got '1e3')");
  assert_option_fails (c, "batch", "-5",
                       "batch: must be between 1 and 4096 (got -5)");
  assert_option_fails (c, "bn-frozen-all", "maybe",
                       "bn_frozen_all: expected true or false (got 'maybe')");
  assert_option_fails (c, "mode", "turbo", "mode: unknown value 'turbo' "
                       "(expected one of extract, finetune, progressive)");
}

static void
test_mode_strings (void)
{
  g_autoptr (GError) error = NULL;
  GraftRunMode mode = GRAFT_RUN_MODE_EXTRACT;

  g_assert_cmpstr (graft_run_mode_to_string (GRAFT_RUN_MODE_FINETUNE), ==,
                   "finetune");
  g_assert_null (graft_run_mode_to_string (42));
  g_assert_true (graft_run_mode_from_string ("progressive", &mode, &error));
  g_assert_cmpint (mode, ==, GRAFT_RUN_MODE_PROGRESSIVE);
  g_assert_false (graft_run_mode_from_string ("Extract", &mode, &error));
  g_assert_error (error, GRAFT_RUN_CONFIG_ERROR,
                  GRAFT_RUN_CONFIG_ERROR_PARSE);
  g_assert_cmpint (mode, ==, GRAFT_RUN_MODE_PROGRESSIVE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/train/run-config/defaults", test_defaults);
  g_test_add_func ("/train/run-config/defaults/per-mode",
                   test_defaults_per_mode);
  g_test_add_func ("/train/run-config/defaults/valid", test_defaults_valid);
  g_test_add_func ("/train/run-config/copy", test_copy);
  g_test_add_func ("/train/run-config/json/round-trip", test_json_round_trip);
  g_test_add_func ("/train/run-config/json/null-cut", test_json_null_cut);
  g_test_add_func ("/train/run-config/json/tolerant", test_json_tolerant);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_json); i++)
    {
      g_autofree char *path =
        g_strdup_printf ("/train/run-config/json/refused/%s",
                         bad_json[i].name);
      g_test_add_data_func (path, &bad_json[i], test_json_refused);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autofree char *path =
        g_strdup_printf ("/train/run-config/invalid/%s", invalid[i].name);
      g_test_add_data_func (path, &invalid[i], test_invalid);
    }
  g_test_add_func ("/train/run-config/check-classes", test_check_classes);
  g_test_add_func ("/train/run-config/option/augment", test_augment);
  g_test_add_func ("/train/run-config/option/unfreeze", test_unfreeze);
  g_test_add_func ("/train/run-config/option/any", test_set_option);
  g_test_add_func ("/train/run-config/mode-strings", test_mode_strings);
  return g_test_run ();
}
