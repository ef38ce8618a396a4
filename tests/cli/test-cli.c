/* test-cli.c: graft-cli as a script would drive it — exit codes, one-line
 * failures, JSON on stdout — on real torchvision structures and on a
 * folder of generated pictures. */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "graft-test-cli.h"

#include <math.h>

#include "gf-blocks.h"
#include "gf-onnx.h"
#include "graft-image.h"

#define PYTHON "/usr/bin/python3"


static void
test_help_and_usage (void)
{
  g_auto (GraftCliRun) help = graft_test_cli ("--help", NULL);
  g_auto (GraftCliRun) none = graft_test_cli (NULL);
  g_auto (GraftCliRun) unknown = graft_test_cli ("frobnicate", NULL);
  g_auto (GraftCliRun) flag = graft_test_cli ("inspect", "--no-such-flag",
                                               "x.onnx", NULL);
  g_auto (GraftCliRun) predict = graft_test_cli ("predict", "--help", NULL);

  g_assert_cmpint (help.status, ==, 0);
  g_assert_nonnull (strstr (help.out, "inspect"));
  g_assert_nonnull (strstr (help.out, "features"));
  /* A command's usage line names it once, in its place. */
  g_assert_cmpint (predict.status, ==, 0);
  g_assert_nonnull (strstr (predict.out,
                            "\n  graft-cli predict [OPTION…] IMAGE…\n"));
  g_assert_cmpint (none.status, ==, 2);
  graft_test_assert_one_line_failure (&unknown, 2, "frobnicate");
  graft_test_assert_one_line_failure (&flag, 2, "no-such-flag");
}

static void
test_inspect_refuses (void)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-cli-XXXXXX", NULL);
  g_autofree char *junk = g_build_filename (dir, "junk.onnx", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.onnx", NULL);

  g_file_set_contents (junk, "this is not a model", -1, NULL);
  {
    g_auto (GraftCliRun) run = graft_test_cli ("inspect", junk, NULL);
    graft_test_assert_one_line_failure (&run, 1, "junk.onnx");
  }
  {
    g_auto (GraftCliRun) run = graft_test_cli ("inspect", missing, NULL);
    graft_test_assert_one_line_failure (&run, 1, "missing.onnx");
  }
  g_unlink (junk);
  g_rmdir (dir);
}

static JsonObject *
parse_object (JsonParser *parser, const char *text)
{
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

/* Exports torchvision's own @name at full size (random weights), or
 * returns NULL having marked the test skipped. */
static char *
export_torchvision (const char *name, const char *dir)
{
  g_autofree char *script = g_build_filename (g_getenv ("GRAFT_SOURCE_ROOT"),
                                              "tools", "export-torchvision",
                                              NULL);
  char *out = g_strdup_printf ("%s/%s.onnx", dir, name);
  const char *argv[] = { PYTHON, script, name, out, NULL };
  int status = -1;

  if (!g_file_test (PYTHON, G_FILE_TEST_IS_EXECUTABLE)
      || !g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                        NULL, NULL, NULL, NULL, &status, NULL)
      || status != 0)
    {
      g_test_skip ("exporting torchvision models needs /usr/bin/python3 with "
                   "python3-torch and python3-torchvision (tools/test "
                   "installs them)");
      g_free (out);
      return NULL;
    }
  return out;
}

static void
check_torchvision (const char *name, guint n_blocks, const char *kind,
                   guint n_kind, gint64 channels)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-cli-XXXXXX", NULL);
  g_autofree char *model = export_torchvision (name, dir);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root, *bottleneck;
  JsonArray *blocks, *shape;
  guint count = 0;

  if (model == NULL)
    return;
  {
    g_auto (GraftCliRun) run = graft_test_cli ("inspect", model, NULL);
    g_assert_cmpint (run.status, ==, 0);
    root = parse_object (parser, run.out);
  }
  blocks = json_object_get_array_member (root, "blocks");
  for (guint i = 0; i < json_array_get_length (blocks); i++)
    {
      JsonObject *b = json_array_get_object_element (blocks, i);
      g_test_message ("%s", json_object_get_string_member (b, "name"));
      count += g_str_equal (json_object_get_string_member (b, "kind"), kind);
    }
  g_assert_cmpuint (json_array_get_length (blocks), ==, n_blocks);
  g_assert_cmpuint (count, ==, n_kind);
  bottleneck = json_object_get_object_member (root, "bottleneck");
  shape = json_object_get_array_member (bottleneck, "shape");
  g_assert_cmpint (json_array_get_int_element (shape, 1), ==, channels);
  g_unlink (model);
  g_rmdir (dir);
}

/* The stem, then eight residual blocks; 512 channels at the cut. */
static void
test_inspect_resnet18 (void)
{
  check_torchvision ("resnet18", 9, "residual", 8, 512);
}

/* Ten inverted residuals that add their input back, each one block;
 * 1280 channels at the cut. */
static void
test_inspect_mobilenet_v2 (void)
{
  check_torchvision ("mobilenet_v2", 32, "inverted residual", 10, 1280);
}

/* Writes a @side × @side picture filled with @rgb plus a gradient. */
static void
save_picture (const char *path, int side, guint8 r, guint8 g, guint8 b)
{
  g_autoptr (GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8,
                                                 side, side);
  guchar *p = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);

  for (int y = 0; y < side; y++)
    for (int x = 0; x < side; x++)
      {
        p[y * stride + x * 3] = (guchar) (r + x);
        p[y * stride + x * 3 + 1] = (guchar) (g + y);
        p[y * stride + x * 3 + 2] = b;
      }
  g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", NULL, NULL));
}

/* Reads a float32 2-D .npy written by graft-cli. */
static float *
read_npy (const char *path, gsize *rows, gsize *cols)
{
  g_autofree char *data = NULL;
  gsize length;
  guint16 header;
  const char *shape;

  g_assert_true (g_file_get_contents (path, &data, &length, NULL));
  g_assert_cmpmem (data, 8, "\x93NUMPY\x01\x00", 8);
  memcpy (&header, data + 8, 2);
  g_assert_cmpint ((10 + header) % 64, ==, 0);
  g_assert_nonnull (strstr (data + 10, "'descr': '<f4'"));
  shape = strstr (data + 10, "'shape': (");
  g_assert_nonnull (shape);
  g_assert_cmpint (sscanf (shape, "'shape': (%zu, %zu)", rows, cols), ==, 2);
  g_assert_cmpuint (length, ==, 10 + header + *rows * *cols * 4);
  return g_memdup2 (data + 10 + header, *rows * *cols * 4);
}

/* The vector of one picture computed directly with the engine. */
static void
expected_vector (GfModel *model, int cut, const char *path, float *out)
{
  g_autoptr (GdkPixbuf) pixbuf = graft_image_load (path, 1 << 30, NULL);
  size_t dims[GF_MAX_DIMS], plane;
  const gf_real *map;

  graft_image_to_tensor (pixbuf, &model->preprocess,
                         gf_graph_tensor_data (model->graph, model->input));
  g_assert_cmpint (gf_graph_forward (model->graph, 1, GF_GRAPH_INFER, NULL),
                   ==, GF_OK);
  gf_graph_tensor_shape (model->graph, cut, dims);
  plane = dims[2] * dims[3];
  map = gf_graph_tensor_data (model->graph, cut);
  for (size_t c = 0; c < dims[1]; c++)
    {
      double sum = 0;
      for (size_t i = 0; i < plane; i++)
        sum += map[c * plane + i];
      out[c] = (float) (sum / plane);
    }
}

/* Two classes of generated pictures (one of them in a nested folder,
 * plus a text file that is skipped) through a real backbone: rows in
 * class-then-path order, each equal to the engine's own computation, the
 * paths listed beside, and nothing written into the data folders. */
static void
test_features (void)
{
  g_autofree char *model_path = g_test_build_filename (G_TEST_DIST, "data",
                                                       "torch",
                                                       "resnet18.onnx",
                                                       NULL);
  g_autofree char *dir = g_dir_make_tmp ("graft-features-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (dir, "data", NULL);
  g_autofree char *out = g_build_filename (dir, "feats.npy", NULL);
  g_autofree char *json_path = g_strconcat (out, ".json", NULL);
  const char *files[] = { "cats/b.png", "cats/a.png", "dogs/deep/c.png",
                          "dogs/d.png" };
  const char *order[] = { "cats/a.png", "cats/b.png", "dogs/d.png",
                          "dogs/deep/c.png" };
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree float *rows = NULL;
  gsize n_rows, n_cols;
  GfModel *model = NULL;
  JsonArray *paths;
  int cut;

  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (data, files[i], NULL);
      g_autofree char *parent = g_path_get_dirname (path);
      g_mkdir_with_parents (parent, 0755);
      save_picture (path, 48 + 8 * (int) i, (guint8) (40 * i), 100, 200);
    }
  {
    g_autofree char *text = g_build_filename (data, "dogs", "notes.txt", NULL);
    g_file_set_contents (text, "not a picture", -1, NULL);
  }
  {
    g_auto (GraftCliRun) run = graft_test_cli ("features", "--backbone",
                                               model_path, "--data", data,
                                               "--out", out, "--batch", "3",
                                               NULL);
    g_assert_cmpstr (run.err, !=, NULL);
    g_assert_cmpint (run.status, ==, 0);
    g_assert_nonnull (strstr (run.err, "notes.txt"));
  }
  rows = read_npy (out, &n_rows, &n_cols);
  g_assert_cmpuint (n_rows, ==, 4);
  json_parser_load_from_file (parser, json_path, NULL);
  paths = json_object_get_array_member (json_node_get_object
                                        (json_parser_get_root (parser)),
                                        "paths");
  g_assert_cmpuint (json_array_get_length (paths), ==, 4);

  g_assert_cmpint (gf_onnx_load (model_path, NULL, &model, NULL), ==, GF_OK);
  g_assert_cmpint (gf_find_bottleneck (model->graph, model->input,
                                       model->output, &cut, NULL), ==, GF_OK);
  gf_graph_set_outputs (model->graph, &cut, 1, NULL);
  gf_graph_plan (model->graph, 1, GF_GRAPH_INFER, NULL);
  for (gsize i = 0; i < 4; i++)
    {
      g_autofree char *want = g_build_filename (data, order[i], NULL);
      g_autofree float *vector = g_new (float, n_cols);
      g_assert_cmpstr (json_array_get_string_element (paths, i), ==, want);
      expected_vector (model, cut, want, vector);
      for (gsize c = 0; c < n_cols; c++)
        g_assert_cmpfloat_with_epsilon (rows[i * n_cols + c], vector[c],
                                        1e-5 + 1e-5 * fabsf (vector[c]));
    }
  gf_model_free (model);
  {
    const char *argv[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                  NULL, NULL, NULL, NULL, NULL);
  }
}

static char *
source_path (const char *first, ...)
{
  g_autofree char *tail = NULL;
  va_list args;

  va_start (args, first);
  tail = g_build_filename_valist (first, &args);
  va_end (args);
  return g_build_filename (g_getenv ("GRAFT_SOURCE_ROOT"), tail, NULL);
}

/* A cut that is not a 4-D feature map (a Flatten's output, the logits,
 * the image itself) is refused with one line by every command that cuts:
 * train once took a Flatten's (N, 3136) as a map and pooled past it. */
static void
test_cut_refused (void)
{
  g_autofree char *backbone = source_path ("data", "backbones",
                                           "fashion-resnet.onnx", NULL);
  g_autofree char *data = source_path ("data", "samples", "fashion", NULL);
  g_autofree char *dir = g_dir_make_tmp ("graft-cut-XXXXXX", NULL);
  g_autofree char *run_dir = g_build_filename (dir, "run", NULL);
  g_autofree char *npy = g_build_filename (dir, "f.npy", NULL);
  const char *tensors[] = { "flatten", "fc", "image" };

  for (gsize i = 0; i < G_N_ELEMENTS (tensors); i++)
    {
      const char *t = tensors[i];
      g_autofree char *want = g_strdup_printf ("%s: not a 4-D feature map",
                                               t);
      g_auto (GraftCliRun) train = graft_test_cli
        ("train", "--backbone", backbone, "--data", data, "--out", run_dir,
         "--cut", t, "--epochs", "1", NULL);
      g_auto (GraftCliRun) estimate = graft_test_cli
        ("train", "--estimate", "--backbone", backbone, "--data", data,
         "--out", run_dir, "--cut", t, NULL);
      g_auto (GraftCliRun) features = graft_test_cli
        ("features", "--backbone", backbone, "--data", data, "--out", npy,
         "--cut", t, NULL);
      g_auto (GraftCliRun) inspect = graft_test_cli ("inspect", backbone,
                                                     "--cut", t, NULL);
      graft_test_assert_one_line_failure (&train, 1, want);
      graft_test_assert_one_line_failure (&estimate, 1, want);
      graft_test_assert_one_line_failure (&features, 1, want);
      graft_test_assert_one_line_failure (&inspect, 1, want);
    }
  g_assert_false (g_file_test (npy, G_FILE_TEST_EXISTS));
  {
    const char *argv[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                  NULL, NULL, NULL, NULL, NULL);
  }
}

/* Class names given beside the folders (as the app passes the user's
 * renamed classes) are the names in head.json and in predictions. */
static void
test_train_labels (void)
{
  g_autofree char *bag = source_path ("data", "samples", "fashion", "bag",
                                      NULL);
  g_autofree char *sandal = source_path ("data", "samples", "fashion",
                                         "sandal", NULL);
  g_autofree char *picture = g_build_filename (bag, "0001.png", NULL);
  g_autofree char *dir = g_dir_make_tmp ("graft-labels-XXXXXX", NULL);
  g_autofree char *head = g_build_filename (dir, "head.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *labels;

  {
    g_auto (GraftCliRun) run = graft_test_cli
      ("train", "--backbone", "fashion-cnn", "--data", bag, "--data", sandal,
       "--labels", "Sac à main", "--labels", "Sandale", "--epochs", "1",
       "--out", dir, NULL);
    g_assert_cmpint (run.status, ==, 0);
  }
  g_assert_true (json_parser_load_from_file (parser, head, NULL));
  labels = json_object_get_array_member
    (json_node_get_object (json_parser_get_root (parser)), "labels");
  g_assert_cmpuint (json_array_get_length (labels), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (labels, 0), ==,
                   "Sac à main");
  g_assert_cmpstr (json_array_get_string_element (labels, 1), ==, "Sandale");
  {
    g_auto (GraftCliRun) run = graft_test_cli ("predict", "--run", dir,
                                               picture, NULL);
    g_assert_cmpint (run.status, ==, 0);
    g_assert_nonnull (strstr (run.out, "\"Sac à main\""));
    g_assert_nonnull (strstr (run.out, "\"Sandale\""));
  }
  {
    g_auto (GraftCliRun) run = graft_test_cli
      ("train", "--backbone", "fashion-cnn", "--data", bag, "--data", sandal,
       "--labels", "Sandale", "--labels", "Sandale", "--out", dir, NULL);
    graft_test_assert_one_line_failure (&run, 1, "'Sandale' is given twice");
  }
  {
    const char *argv[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                  NULL, NULL, NULL, NULL, NULL);
  }
}

/* The JSON that `train` prints at the end: run.json's "final", the run's
 * folder, and the weights it trained — for a head of K classes without a
 * hidden layer on C bottleneck channels, K C weights and K biases. */
static void
test_train_summary (void)
{
  g_autofree char *data = source_path ("data", "samples", "fashion", NULL);
  g_autofree char *dir = g_dir_make_tmp ("graft-summary-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "head.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonParser) head_parser = json_parser_new ();
  g_auto (GraftCliRun) run = graft_test_cli
    ("train", "--backbone", "fashion-cnn", "--data", data, "--mode",
     "extract", "--hidden", "0", "--epochs", "1", "--out", dir, NULL);
  JsonObject *root, *head;
  gint64 channels, classes;

  g_assert_cmpint (run.status, ==, 0);
  root = parse_object (parser, run.out);
  g_assert_cmpstr (json_object_get_string_member (root, "run"), ==, dir);
  g_assert_cmpint (json_object_get_int_member (root, "best_epoch"), ==, 1);
  g_assert_true (json_parser_load_from_file (head_parser, path, NULL));
  head = json_node_get_object (json_parser_get_root (head_parser));
  channels = json_array_get_int_element (json_object_get_array_member
                                         (head, "bottleneck_shape"), 0);
  classes = json_array_get_length (json_object_get_array_member (head,
                                                                 "labels"));
  g_assert_cmpint (json_object_get_int_member (root, "trainable_parameters"),
                   ==, classes * channels + classes);
  {
    const char *argv[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                  NULL, NULL, NULL, NULL, NULL);
  }
}

/* Ctrl-C stops a run at its next step; a second Ctrl-C (or a SIGTERM
 * after it: `timeout` sends two) quits at once with one line saying how
 * to resume, where before graft-cli only printed "stopping…" again. */
static void
test_train_second_signal (void)
{
  g_autofree char *data = source_path ("data", "samples", "fashion", NULL);
  g_autofree char *dir = g_dir_make_tmp ("graft-signal-XXXXXX", NULL);
  g_autofree char *out = g_build_filename (dir, "run", NULL);
  const char *argv[] = { g_getenv ("GRAFT_CLI"), "train", "--backbone",
                         "fashion-resnet", "--data", data, "--mode",
                         "finetune", "--epochs", "500", "--out", out, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GIOChannel) channel = NULL;
  g_autofree char *last = NULL;
  GPid pid;
  int err_fd, status;
  gboolean epoch_seen = FALSE;

  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD
                                           | G_SPAWN_STDOUT_TO_DEV_NULL,
                                           NULL, NULL, &pid, NULL, NULL,
                                           &err_fd, &error));
  g_assert_no_error (error);
  channel = g_io_channel_unix_new (err_fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  for (;;)
    {
      g_autofree char *line = NULL;
      GIOStatus io = g_io_channel_read_line (channel, &line, NULL, NULL,
                                             NULL);
      if (io != G_IO_STATUS_NORMAL)
        break;
      g_strchomp (line);
      if (!epoch_seen && g_str_has_prefix (line, "epoch 1:"))
        {
          /* Both at once: the run is still inside its next step. */
          epoch_seen = TRUE;
          kill (pid, SIGINT);
          kill (pid, SIGTERM);
        }
      if (*line != '\0')
        {
          g_free (last);
          last = g_steal_pointer (&line);
        }
    }
  g_assert_true (epoch_seen);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_spawn_close_pid (pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  g_assert_true (g_str_has_prefix (last, "graft-cli: quit; resume"));
  g_assert_nonnull (strstr (last, out));
  {
    const char *rm[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL,
                  NULL, NULL, NULL, NULL, NULL);
  }
}

/* `train … --find-lr`: the range test instead of the run — JSON with the
 * curve (rising rates) and the suggestion on stdout, nothing written to
 * --out; a wrong option fails with one line. */
static void
test_train_find_lr (void)
{
  g_autofree char *data = source_path ("data", "samples", "fashion", NULL);
  g_autofree char *dir = g_dir_make_tmp ("graft-find-lr-XXXXXX", NULL);
  g_autofree char *run_dir = g_build_filename (dir, "run", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_auto (GraftCliRun) run = graft_test_cli
    ("train", "--backbone", "fashion-cnn", "--data", data, "--out", run_dir,
     "--find-lr", "--threads", "1", NULL);
  g_auto (GraftCliRun) wrong = graft_test_cli
    ("train", "--find-lr", "--backbone", "fashion-cnn", "--data", data,
     "--lr", "-1", NULL);
  JsonObject *root;
  JsonArray *curve;
  double suggested, previous = 0;

  g_assert_cmpint (run.status, ==, 0);
  root = parse_object (parser, run.out);
  suggested = json_object_get_double_member (root, "suggested_lr");
  curve = json_object_get_array_member (root, "curve");
  g_assert_cmpuint (json_array_get_length (curve), >, 1);
  for (guint i = 0; i < json_array_get_length (curve); i++)
    {
      JsonObject *point = json_array_get_object_element (curve, i);
      double lr = json_object_get_double_member (point, "lr");
      g_assert_cmpfloat (lr, >, previous);
      g_assert_true (isfinite (json_object_get_double_member (point,
                                                              "loss")));
      previous = lr;
    }
  g_assert_cmpfloat (suggested, >, 0);
  g_assert_cmpfloat (suggested, <, previous);
  g_assert_cmpstr (json_object_get_string_member (root, "rule"), ==,
                   "steepest");
  g_assert_false (g_file_test (run_dir, G_FILE_TEST_EXISTS));
  graft_test_assert_one_line_failure (&wrong, 2, "--lr");
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/help-and-usage", test_help_and_usage);
  g_test_add_func ("/cli/inspect/refuses", test_inspect_refuses);
  g_test_add_func ("/cli/inspect/torchvision-resnet18", test_inspect_resnet18);
  g_test_add_func ("/cli/inspect/torchvision-mobilenet-v2",
                   test_inspect_mobilenet_v2);
  g_test_add_func ("/cli/features", test_features);
  g_test_add_func ("/cli/cut-refused", test_cut_refused);
  g_test_add_func ("/cli/train/labels", test_train_labels);
  g_test_add_func ("/cli/train/summary", test_train_summary);
  g_test_add_func ("/cli/train/second-signal", test_train_second_signal);
  g_test_add_func ("/cli/train/find-lr", test_train_find_lr);
  return g_test_run ();
}
