/* test-bundled.c: the bundled backbones do what they are shipped for —
 * on the sample data (classes they never saw), features learnt on other
 * garments beat the same network's random weights by a clear margin,
 * fine-tuning does at least as well as feature extraction, and a
 * progressive run records its stages. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define MARGIN 0.10   /* the "at least 10 points" */

typedef struct
{
  const char *id;
  const char *arch;
} Bundled;

static const Bundled bundled[] = {
  { "fashion-cnn", "plain" },
  { "fashion-resnet", "resnet" },
};

static char *
samples_dir (void)
{
  return g_build_filename (g_getenv ("GRAFT_SOURCE_ROOT"), "data", "samples",
                           "fashion", NULL);
}

/* Runs graft-cli with @argv (after the program) and returns its stdout;
 * fails the test on a non-zero exit. */
static char *
cli (const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *err = NULL;
  char *out = NULL;
  int status = 0;

  g_ptr_array_add (argv, (gpointer) g_getenv ("GRAFT_CLI"));
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL,
                               G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &status, NULL));
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("graft-cli failed: %s", err);
  return out;
}

/* Trains and returns the validation accuracy of the kept weights. */
static double
train (const char *backbone, const char *mode, const char *epochs,
       const char *lr, const char *run_dir)
{
  g_autofree char *data = samples_dir ();
  const char *args[] = { "train", "--backbone", backbone, "--data", data,
                         "--out", run_dir, "--mode", mode, "--epochs", epochs,
                         "--lr", lr, "--batch", "16", "--seed", "3",
                         "--unfreeze", "all", NULL };
  g_autofree char *out = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  double accuracy;

  if (!g_str_equal (mode, "finetune"))
    args[17] = NULL;   /* --unfreeze is fine-tuning's */
  out = cli (args);
  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  accuracy = json_object_get_double_member (json_node_get_object
                                            (json_parser_get_root (parser)),
                                            "val_accuracy");
  g_test_message ("%s, %s: validation accuracy %.1f %%", backbone, mode,
                  100 * accuracy);
  return accuracy;
}

static guint
count_files (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      n += g_file_test (path, G_FILE_TEST_IS_DIR) ? count_files (path) : 1;
    }
  return n;
}

static char *
untrained_copy (const Bundled *b, const char *dir)
{
  char *out = g_strdup_printf ("%s/%s-untrained.onnx", dir, b->id);
  const char *argv[] = { g_getenv ("GRAFT_PRETRAIN"), "--arch", b->arch,
                         "--epochs", "0", "--seed", "1", "--out", out, NULL };
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL,
                               G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                               NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return out;
}

static void
test_transfer (gconstpointer data)
{
  const Bundled *b = data;
  g_autofree char *dir = g_dir_make_tmp ("graft-bundled-XXXXXX", NULL);
  g_autofree char *random = untrained_copy (b, dir);
  g_autofree char *r1 = g_build_filename (dir, "extract", NULL);
  g_autofree char *r2 = g_build_filename (dir, "random", NULL);
  g_autofree char *r3 = g_build_filename (dir, "finetune", NULL);
  double pretrained = train (b->id, "extract", "15", "0.01", r1);
  double untrained = train (random, "extract", "15", "0.01", r2);
  double finetuned = train (b->id, "finetune", "8", "0.001", r3);
  const char *rm[] = { "rm", "-rf", dir, NULL };

  g_assert_cmpfloat (pretrained, >=, untrained + MARGIN);
  /* Feature extraction kept its vectors in the data layer's cache. */
  g_assert_cmpuint (count_files (g_getenv ("GRAFT_FEATURE_CACHE_DIR")), >=,
                    300 * 0.8);
  g_assert_cmpfloat (finetuned, >=, pretrained);
  g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                NULL, NULL, NULL, NULL);
}

static void
test_listed (void)
{
  const char *args[] = { "backbones", NULL };
  g_autofree char *out = cli (args);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *list;
  guint found = 0;

  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  list = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *o = json_array_get_object_element (list, i);
      const char *accuracy = json_object_get_string_member (o,
                                                            "test_accuracy");
      for (gsize k = 0; k < G_N_ELEMENTS (bundled); k++)
        if (g_str_equal (json_object_get_string_member (o, "id"),
                         bundled[k].id))
          {
            found++;
            g_assert_cmpfloat (g_ascii_strtod (accuracy, NULL), >=, 0.90);
          }
    }
  g_assert_cmpuint (found, ==, G_N_ELEMENTS (bundled));
}

static void
test_progressive (void)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-progressive-XXXXXX", NULL);
  g_autofree char *run = g_build_filename (dir, "run", NULL);
  g_autofree char *json = g_build_filename (run, "run.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *stages;
  const char *rm[] = { "rm", "-rf", dir, NULL };

  train ("fashion-resnet", "progressive", "0", "0.001", run);
  g_assert_true (json_parser_load_from_file (parser, json, NULL));
  stages = json_object_get_array_member (json_node_get_object
                                         (json_parser_get_root (parser)),
                                         "stages");
  g_assert_cmpuint (json_array_get_length (stages), >=, 2);
  for (guint i = 0; i < json_array_get_length (stages); i++)
    g_test_message ("stage: %s", json_object_get_string_member
                    (json_array_get_object_element (stages, i), "block"));
  g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                NULL, NULL, NULL, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/bundled/listed", test_listed);
  for (gsize i = 0; i < G_N_ELEMENTS (bundled); i++)
    {
      g_autofree char *path = g_strdup_printf ("/train/bundled/%s/transfer",
                                               bundled[i].id);
      g_test_add_data_func (path, &bundled[i], test_transfer);
    }
  g_test_add_func ("/train/bundled/fashion-resnet/progressive",
                   test_progressive);
  return g_test_run ();
}
