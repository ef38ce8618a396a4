/* test-cli-pytorch.c: `graft-cli export --format pytorch` on runs over
 * the torchvision fixtures of tests/data/torch (ResNet-18 and
 * MobileNetV2, narrower) and the bundled Fashion ResNet: the generated model.py with the exported
 * weights gives Graft's probabilities within 1e-4 (relative) on the same
 * pictures (pytorch-parity.py, with Debian's PyTorch), the project has
 * every file, and folders that are no finished run are refused with one
 * line; `graft-cli import-run` makes a run of what train.py leaves. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "graft-safetensors.h"
#include "graft-test-cli.h"
#include "train-test-pictures.h"

#define PYTHON "/usr/bin/python3"
#define TORCHRUN "/usr/bin/torchrun"
#define EXIT_NO_TORCH 77
#define PER_CLASS 6
#define CLASSES 3
#define PREDICTED 6

typedef struct
{
  const char *name;   /* tests/data/torch/NAME.onnx, or data/backbones/ */
  int side;           /* its input size */
  gboolean torchrun;  /* also train the project under torchrun */
  gboolean bundled;   /* a bundled backbone */
} Fixture;

static const Fixture fixtures[] = {
  { "resnet18", 40, TRUE, FALSE },
  { "mobilenet_v2", 44, FALSE, FALSE },
  { "fashion-resnet", 28, FALSE, TRUE },
};

static char *
source_path (const char *first, ...)
{
  const char *root = g_getenv ("GRAFT_SOURCE_ROOT");
  g_autoptr (GPtrArray) parts = g_ptr_array_new ();
  va_list ap;

  g_assert_nonnull (root);
  g_ptr_array_add (parts, (char *) root);
  va_start (ap, first);
  for (const char *p = first; p != NULL; p = va_arg (ap, const char *))
    g_ptr_array_add (parts, (char *) p);
  va_end (ap);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

static void
assert_ok (const GraftCliRun *run, const char *what)
{
  if (run->status != 0)
    g_error ("%s failed (%d): %s", what, run->status, run->err);
}

/* import-run on what train.py would leave had it changed nothing: the
 * run's own run.json and the exported weights and graft/ folder.  The
 * imported run predicts exactly as the run; a folder without run.json,
 * a run.json that has not finished and weights without a tensor the
 * model has are refused with one line, writing no model. */
static void
check_import (const char *run, const char *project, const char *predicted,
              char **picked, const char *tmp)
{
  g_autofree char *out = g_build_filename (tmp, "trained", NULL);
  g_autofree char *graft = g_build_filename (out, "graft", NULL);
  g_autofree char *from = g_build_filename (project, "graft", NULL);
  g_autofree char *model = g_build_filename (out, "model.onnx", NULL);
  g_autofree char *run_json = g_build_filename (out, "run.json", NULL);
  g_autofree char *weights = g_build_filename (out, "weights.safetensors",
                                               NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftSafetensors) st = NULL;
  g_autoptr (GString) unfinished = NULL;
  g_autoptr (GArray) views = g_array_new (FALSE, FALSE,
                                          sizeof (GraftTensorView));
  const char *const files[] = { "model.onnx", "head.onnx",
                                "head.safetensors", "head.json" };

  g_assert_cmpint (g_mkdir_with_parents (graft, 0755), ==, 0);
  {
    g_auto (GraftCliRun) none = graft_test_cli ("import-run", out, NULL);
    graft_test_assert_one_line_failure (&none, 1, "has no run.json");
  }
  graft_test_copy_into (from, "model.onnx", graft);
  graft_test_copy_into (from, "head.json", graft);
  graft_test_copy_into (run, "run.json", out);
  graft_test_copy_into (project, "weights.safetensors", out);

  /* One tensor short. */
  st = graft_safetensors_load (weights, &error);
  g_assert_no_error (error);
  for (guint i = 1; i < graft_safetensors_get_n_tensors (st); i++)
    g_array_append_val (views, *graft_safetensors_get_tensor (st, i));
  g_assert_true (graft_safetensors_write (
    weights, (GraftTensorView *) views->data, views->len, NULL, &error));
  g_assert_no_error (error);
  {
    g_auto (GraftCliRun) short_one = graft_test_cli ("import-run", out,
                                                     NULL);
    g_autofree char *name = g_strdup_printf (
      "no tensor '%s'", graft_safetensors_get_tensor (st, 0)->name);
    graft_test_assert_one_line_failure (&short_one, 1, name);
  }
  g_clear_pointer (&st, graft_safetensors_free);
  graft_test_copy_into (project, "weights.safetensors", out);

  g_assert_true (g_file_get_contents (run_json, &text, NULL, NULL));
  unfinished = g_string_new (text);
  g_assert_cmpuint (g_string_replace (unfinished, "\"finished\"",
                                      "\"running\"", 1), ==, 1);
  g_assert_true (g_file_set_contents (run_json, unfinished->str, -1, NULL));
  {
    g_auto (GraftCliRun) running = graft_test_cli ("import-run", out, NULL);
    graft_test_assert_one_line_failure (&running, 1, "has not finished");
  }
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_set_contents (run_json, text, -1, NULL));

  {
    g_autofree char *top = g_strdup_printf ("%d", CLASSES);
    g_auto (GraftCliRun) import = graft_test_cli ("import-run", out, NULL);
    g_auto (GraftCliRun) predict = graft_test_cli (
      "predict", "--run", out, "--top", top, picked[0], picked[1],
      picked[2], picked[3], picked[4], picked[5], NULL);

    assert_ok (&import, "graft-cli import-run");
    for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
      {
        g_autofree char *path = g_build_filename (out, files[i], NULL);

        g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
      }
    assert_ok (&predict, "graft-cli predict on the imported run");
    g_assert_cmpstr (predict.out, ==, predicted);
  }
}

/* @project's train.py under torchrun, two processes (gloo), two epochs:
 * it finishes, the loss falls, both ranks end with the same weights;
 * import-run makes a run of it whose predictions on the validation
 * pictures are those of model.py with the weights train.py wrote. */
static void
check_torchrun (const char *project, const char *script, const char *tmp)
{
  g_autofree char *train = g_build_filename (project, "train.py", NULL);
  g_autofree char *out = g_build_filename (tmp, "torchrun", NULL);
  g_autofree char *split = g_build_filename (project, "split.json", NULL);
  g_autofree char *run_json = g_build_filename (out, "run.json", NULL);
  g_autofree char *ranks = g_build_filename (out, "ranks.json", NULL);
  g_autofree char *weights = g_build_filename (out, "weights.safetensors",
                                               NULL);
  g_autofree char *predictions = g_build_filename (tmp, "trained.jsonl",
                                                   NULL);
  g_autofree char *top = g_strdup_printf ("%d", CLASSES);
  g_autofree char *stdout_text = NULL, *stderr_text = NULL;
  const char *torchrun[] = { TORCHRUN, "--redirects", "1", "--tee", "1",
                             "--nproc_per_node=2", "--rdzv_backend=c10d",
                             "--rdzv_endpoint=localhost:0", train, "--out",
                             out, "--epochs", "2", NULL };
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GPtrArray) predict = g_ptr_array_new ();
  const char *parity[] = { PYTHON, script, project, predictions, weights,
                           NULL };
  JsonObject *root;
  JsonArray *epochs, *hashes, *val;
  GraftToolResult result;

  result = graft_test_run_tool (torchrun, -1, &stdout_text, &stderr_text);
  if (result == GRAFT_TOOL_MISSING)
    {
      g_test_skip (TORCHRUN " is missing (python3-torch)");
      return;
    }
  if (result != GRAFT_TOOL_PASSED)
    g_error ("torchrun train.py: %s%s", stdout_text, stderr_text);

  g_assert_true (json_parser_load_from_file (parser, run_json, NULL));
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "status"), ==,
                   "finished");
  epochs = json_object_get_array_member (
    json_object_get_object_member (root, "history"), "epochs");
  g_assert_cmpuint (json_array_get_length (epochs), ==, 2);
  g_test_message ("torchrun: training loss %g, then %g",
                  json_object_get_double_member (
                    json_array_get_object_element (epochs, 0), "train_loss"),
                  json_object_get_double_member (
                    json_array_get_object_element (epochs, 1), "train_loss"));
  g_assert_cmpfloat (json_object_get_double_member (
                       json_array_get_object_element (epochs, 1),
                       "train_loss"), <,
                     json_object_get_double_member (
                       json_array_get_object_element (epochs, 0),
                       "train_loss"));
  g_assert_true (json_parser_load_from_file (parser, ranks, NULL));
  hashes = json_object_get_array_member (
    json_node_get_object (json_parser_get_root (parser)), "sha256");
  g_assert_cmpuint (json_array_get_length (hashes), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (hashes, 0), ==,
                   json_array_get_string_element (hashes, 1));

  {
    g_auto (GraftCliRun) import = graft_test_cli ("import-run", out, NULL);
    assert_ok (&import, "graft-cli import-run");
  }
  g_assert_true (json_parser_load_from_file (parser, split, NULL));
  val = json_object_get_array_member (
    json_node_get_object (json_parser_get_root (parser)), "val");
  g_assert_cmpuint (json_array_get_length (val), >, 0);
  g_ptr_array_add (predict, (char *) "predict");
  g_ptr_array_add (predict, (char *) "--run");
  g_ptr_array_add (predict, out);
  g_ptr_array_add (predict, (char *) "--top");
  g_ptr_array_add (predict, top);
  for (guint i = 0; i < json_array_get_length (val); i++)
    g_ptr_array_add (predict, (char *) json_object_get_string_member (
                       json_array_get_object_element (val, i), "path"));
  g_ptr_array_add (predict, NULL);
  {
    g_auto (GraftCliRun) run = graft_test_cli_argv (
      (const char *const *) predict->pdata);
    assert_ok (&run, "graft-cli predict on the imported run");
    g_assert_true (g_file_set_contents (predictions, run.out, -1, NULL));
  }
  g_clear_pointer (&stdout_text, g_free);
  g_clear_pointer (&stderr_text, g_free);
  result = graft_test_run_tool (parity, EXIT_NO_TORCH, &stdout_text,
                                &stderr_text);
  if (result != GRAFT_TOOL_PASSED)
    g_error ("pytorch-parity.py on the trained weights: %s%s", stdout_text,
             stderr_text);
  g_test_message ("imported run: %s", g_strstrip (stdout_text));
}

static void
test_parity (gconstpointer data)
{
  const Fixture *fx = data;
  g_autofree char *tmp = g_dir_make_tmp ("graft-pytorch-XXXXXX", NULL);
  g_autofree char *backbone = NULL, *pics = NULL, *run = NULL;
  g_autofree char *project = NULL, *predictions = NULL, *script = NULL;
  g_autofree char *out = NULL, *err = NULL, *predict_out = NULL;
  const char *files[] = { "model.py", "weights.safetensors", "split.json",
                          "recipe.json", "train.py", "graft_io.py",
                          "README.md", "graft/model.onnx",
                          "graft/head.json" };
  const char *argv[] = { PYTHON, NULL, NULL, NULL, NULL };
  char *picked[PREDICTED] = { NULL };
  GraftToolResult result;

  backbone = fx->bundled ? source_path ("data", "backbones", NULL)
                         : source_path ("tests", "data", "torch", NULL);
  {
    g_autofree char *file = g_strconcat (fx->name, ".onnx", NULL);
    g_autofree char *dir = g_steal_pointer (&backbone);

    backbone = g_build_filename (dir, file, NULL);
  }
  pics = train_test_make_classes (tmp, "pictures", CLASSES, PER_CLASS,
                                  fx->side, 7);
  run = g_build_filename (tmp, "run", NULL);
  project = g_build_filename (tmp, "project", NULL);
  predictions = g_build_filename (tmp, "predictions.jsonl", NULL);
  {
    g_auto (GraftCliRun) train = graft_test_cli (
      "train", "--backbone", backbone, "--data", pics, "--mode", "finetune",
      "--epochs", "1", "--batch", "4", "--val", "0.25", "--seed", "3",
      "--threads", "2", "--out", run, NULL);
    assert_ok (&train, "graft-cli train");
  }
  {
    g_auto (GraftCliRun) export = graft_test_cli (
      "export", "--run", run, "--format", "pytorch", "--out", project, NULL);
    assert_ok (&export, "graft-cli export --format pytorch");
    g_assert_cmpstr (export.out, ==, "");
  }
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (project, files[i], NULL);

      g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
    }

  /* Two pictures of each class, at the input size already. */
  for (guint i = 0; i < PREDICTED; i++)
    {
      g_autoptr (GDir) dir = NULL;
      g_autofree char *klass = NULL;
      const char *name;
      guint skip = i % 2;
      GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

      dir = g_dir_open (pics, 0, NULL);
      g_assert_nonnull (dir);
      while ((name = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (names, g_strdup (name));
      g_ptr_array_sort (names, (GCompareFunc) g_ascii_strcasecmp);
      g_assert_cmpuint (names->len, ==, CLASSES);
      klass = g_build_filename (pics, names->pdata[i / 2], NULL);
      g_ptr_array_unref (names);
      g_dir_close (g_steal_pointer (&dir));
      dir = g_dir_open (klass, 0, NULL);
      while ((name = g_dir_read_name (dir)) != NULL && skip-- > 0)
        ;
      g_assert_nonnull (name);
      picked[i] = g_build_filename (klass, name, NULL);
    }
  {
    g_autofree char *top = g_strdup_printf ("%d", CLASSES);
    g_auto (GraftCliRun) predict = graft_test_cli (
      "predict", "--run", run, "--top", top, picked[0], picked[1],
      picked[2], picked[3], picked[4], picked[5], NULL);
    assert_ok (&predict, "graft-cli predict");
    g_assert_true (g_file_set_contents (predictions, predict.out, -1, NULL));
    predict_out = g_strdup (predict.out);
  }

  check_import (run, project, predict_out, picked, tmp);

  script = source_path ("tests", "cli", "pytorch-parity.py", NULL);
  argv[1] = script;
  argv[2] = project;
  argv[3] = predictions;
  result = graft_test_run_tool (argv, EXIT_NO_TORCH, &out, &err);
  if (result == GRAFT_TOOL_MISSING)
    g_test_skip ("PyTorch is missing for " PYTHON " (python3-torch)");
  else if (result != GRAFT_TOOL_PASSED)
    g_error ("pytorch-parity.py: %s%s", out, err);
  else
    g_test_message ("%s: %s", fx->name, g_strstrip (out));
  if (result == GRAFT_TOOL_PASSED && fx->torchrun)
    check_torchrun (project, script, tmp);
  train_test_rm_rf (tmp);
  for (guint i = 0; i < PREDICTED; i++)
    g_free (picked[i]);
}

/* Only a finished run's folder exports: one line otherwise. */
static void
test_refusals (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("graft-pytorch-XXXXXX", NULL);
  g_autofree char *out = g_build_filename (tmp, "project", NULL);
  g_autofree char *run_json = g_build_filename (tmp, "run.json", NULL);

  {
    g_auto (GraftCliRun) run = graft_test_cli ("export", "--run", tmp,
                                               "--format", "pytorch",
                                               "--out", out, NULL);
    graft_test_assert_one_line_failure (&run, 1, "is not a run's folder");
  }
  g_assert_true (g_file_set_contents (run_json, "{}", -1, NULL));
  {
    g_auto (GraftCliRun) run = graft_test_cli ("export", "--run", tmp,
                                               "--format", "pytorch",
                                               "--out", out, NULL);
    graft_test_assert_one_line_failure (&run, 1, "has not finished");
  }
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  train_test_rm_rf (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (fixtures); i++)
    {
      g_autofree char *path = g_strdup_printf ("/cli/export/pytorch/parity/%s",
                                               fixtures[i].name);

      g_test_add_data_func (path, &fixtures[i], test_parity);
    }
  g_test_add_func ("/cli/export/pytorch/refusals", test_refusals);
  return g_test_run ();
}
