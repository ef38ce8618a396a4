/* test-backbone.c: GraftBackbone — loading bundled ids and paths, on a
 * thread with progress and cancellation, what it tells, the cut, its
 * predictions, a copy with other preprocessing, broken files, and
 * graft.labels as a model from anyone may carry it (issue 11). */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "gf-onnx.h"
#include "graft-backbone-private.h"
#include "graft-backbones.h"

#define RESNET "fashion-resnet"
#define BOTTLENECK "block4.relu"

static char *
source_path (const char *first, ...)
{
  const char *root = g_getenv ("GRAFT_SOURCE_ROOT");
  g_autofree char *tail = NULL;
  va_list args;

  g_assert_nonnull (root);
  va_start (args, first);
  tail = g_build_filename_valist (first, &args);
  va_end (args);
  return g_build_filename (root, tail, NULL);
}

static GraftBackbone *
load_ok (const char *spec)
{
  g_autoptr (GError) error = NULL;
  GraftBackbone *backbone = graft_backbone_load (spec, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (backbone);
  return backbone;
}

static void
check_blocks (GraftBackbone *backbone)
{
  guint n = graft_backbone_get_n_blocks (backbone);
  guint64 in_blocks = 0;

  g_assert_cmpuint (n, >=, 2);
  for (guint i = 0; i < n; i++)
    {
      const GraftBackboneBlock *b = graft_backbone_get_block (backbone, i);
      g_autofree char *name = g_strdup_printf ("block %u", i + 1);
      g_assert_cmpstr (b->name, ==, name);
      g_assert_nonnull (b->first_node);
      g_assert_nonnull (b->kind);
      g_assert_cmpuint (b->channels, >, 0);
      g_assert_cmpuint (b->height, >, 0);
      in_blocks += b->n_params;
    }
  g_assert_cmpuint (in_blocks, <=, graft_backbone_get_n_params (backbone));
}

static void
test_bundled (void)
{
  g_auto (GStrv) ids = graft_backbones_list ();

  g_assert_cmpuint (g_strv_length (ids), >=, 2);
  for (guint i = 0; ids[i] != NULL; i++)
    {
      g_autoptr (GraftBackbone) backbone = load_ok (ids[i]);
      guint c, h, w;
      g_assert_cmpint (graft_backbone_get_origin (backbone), ==,
                       GRAFT_BACKBONE_BUNDLED);
      g_assert_cmpstr (graft_backbone_get_spec (backbone), ==, ids[i]);
      g_assert_true (g_str_has_suffix (graft_backbone_get_path (backbone),
                                       ".onnx"));
      g_assert_true (g_str_has_prefix (graft_backbone_get_name (backbone),
                                       "Fashion"));
      g_assert_nonnull (graft_backbone_get_source (backbone));
      g_assert_nonnull (graft_backbone_get_metadata (backbone,
                                                     "graft.test_accuracy"));
      g_assert_null (graft_backbone_get_metadata (backbone, "no.such.key"));
      g_assert_cmpuint (graft_backbone_get_n_params (backbone), >, 10000);
      graft_backbone_get_input_size (backbone, &c, &h, &w);
      g_assert_cmpuint (c, ==, 3);
      g_assert_cmpuint (h, ==, 28);
      g_assert_cmpuint (w, ==, 28);
      check_blocks (backbone);
    }
}

static void
test_path (void)
{
  g_autofree char *path = source_path ("data", "backbones",
                                       RESNET ".onnx", NULL);
  g_autoptr (GraftBackbone) backbone = load_ok (path);
  g_autoptr (GError) error = NULL;
  GraftPreprocessing pre;
  guint c, h, w;

  g_assert_cmpint (graft_backbone_get_origin (backbone), ==,
                   GRAFT_BACKBONE_FILE);
  g_assert_cmpstr (graft_backbone_get_path (backbone), ==, path);
  g_assert_cmpstr (graft_backbone_get_cut (backbone), ==, BOTTLENECK);
  graft_backbone_get_cut_shape (backbone, &c, &h, &w);
  g_assert_cmpuint (c, ==, 64);
  g_assert_cmpuint (h, ==, 7);
  g_assert_cmpuint (w, ==, 7);
  g_assert_cmpuint (graft_backbone_get_n_blocks (backbone), ==, 5);
  g_assert_cmpstr (graft_backbone_get_block (backbone, 1)->kind, ==,
                   "residual");
  graft_backbone_get_preprocessing (backbone, &pre);
  g_assert_true (pre.from_file);
  g_assert_cmpuint (pre.height, ==, 28);
  g_assert_false (pre.bgr);
  g_assert_cmpfloat_with_epsilon (pre.mean[0], 0.286, 1e-9);

  g_assert_null (graft_backbone_load ("no-such-backbone", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "fashion-resnet"));
}

/* ---- On a thread ---------------------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  GraftBackbone *backbone;
  GError *error;
  guint reports;
  double last;
  gboolean freed, out_of_order;
} Async;

static void
on_progress (double fraction, const char *what, gpointer data)
{
  Async *a = data;

  g_assert_nonnull (what);
  a->out_of_order |= fraction < a->last || a->freed;
  a->last = fraction;
  a->reports++;
}

static void
on_free (gpointer data)
{
  ((Async *) data)->freed = TRUE;
}

static void
on_loaded (GObject *source, GAsyncResult *result, gpointer data)
{
  Async *a = data;

  a->backbone = graft_backbone_load_finish (result, &a->error);
  g_main_loop_quit (a->loop);
}

static void
load_async (Async *a, const char *spec, GCancellable *cancellable)
{
  a->loop = g_main_loop_new (NULL, FALSE);
  graft_backbone_load_async (spec, on_progress, a, on_free, cancellable,
                             on_loaded, a);
  g_main_loop_run (a->loop);
  g_main_loop_unref (a->loop);
}

static void
test_async (void)
{
  Async a = { 0 };

  load_async (&a, RESNET, NULL);
  g_assert_no_error (a.error);
  g_assert_nonnull (a.backbone);
  g_assert_true (a.freed);
  g_assert_false (a.out_of_order);
  g_assert_cmpuint (a.reports, >=, 1);
  g_assert_cmpuint (a.reports, <=, 3);
  g_assert_cmpstr (graft_backbone_get_cut (a.backbone), ==, BOTTLENECK);
  g_object_unref (a.backbone);
}

static void
test_async_cancelled (void)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Async a = { 0 };

  g_cancellable_cancel (cancellable);
  load_async (&a, RESNET, cancellable);
  g_assert_null (a.backbone);
  g_assert_error (a.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (a.freed);
  g_clear_error (&a.error);
}

/* ---- The cut ------------------------------------------------------------- */

static void
test_cut (void)
{
  g_autoptr (GraftBackbone) backbone = load_ok (RESNET);
  const char *refused[] = { "flatten", "fc", "image", "no-such-tensor" };
  g_autoptr (GError) error = NULL;
  guint c, h, w;

  g_assert_true (graft_backbone_set_cut (backbone, "block3.relu", &error));
  g_assert_no_error (error);
  g_assert_cmpstr (graft_backbone_get_cut (backbone), ==, "block3.relu");
  g_assert_cmpuint (graft_backbone_get_n_blocks (backbone), ==, 4);
  graft_backbone_get_cut_shape (backbone, &c, &h, &w);
  g_assert_cmpuint (c * h * w, >, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *want = g_strdup_printf ("%s: not a 4-D feature map "
                                               "of the model", refused[i]);
      g_assert_false (graft_backbone_set_cut (backbone, refused[i], &error));
      g_assert_cmpstr (error->message, ==, want);
      g_clear_error (&error);
      g_assert_cmpstr (graft_backbone_get_cut (backbone), ==, "block3.relu");
      g_assert_cmpuint (graft_backbone_get_n_blocks (backbone), ==, 4);
    }
  g_assert_true (graft_backbone_set_cut (backbone, NULL, &error));
  g_assert_cmpstr (graft_backbone_get_cut (backbone), ==, BOTTLENECK);
  g_assert_cmpuint (graft_backbone_get_n_blocks (backbone), ==, 5);
}

/* ---- Predictions --------------------------------------------------------- */

static GArray *
predict_ok (GraftBackbone *backbone, const char *picture, guint k)
{
  g_autoptr (GError) error = NULL;
  GArray *top = graft_backbone_predict (backbone, picture, k, &error);

  g_assert_no_error (error);
  g_assert_nonnull (top);
  return top;
}

static void
test_predict (void)
{
  g_autoptr (GraftBackbone) backbone = load_ok (RESNET);
  g_autofree char *picture = source_path ("data", "samples", "fashion",
                                          "bag", "0000.png", NULL);
  g_autoptr (GArray) top = predict_ok (backbone, picture, 3);
  g_autoptr (GArray) all = predict_ok (backbone, picture, 100);
  g_autoptr (GError) error = NULL;
  double sum = 0;

  g_assert_cmpuint (top->len, ==, 3);
  g_assert_cmpuint (all->len, ==, 5);
  for (guint i = 0; i < all->len; i++)
    {
      GraftPrediction *p = &g_array_index (all, GraftPrediction, i);
      g_autofree char *label = g_strdup_printf ("class %u", p->index);
      g_assert_cmpstr (p->label, ==, label);
      g_assert_true (p->probability >= 0 && p->probability <= 1);
      if (i > 0)
        g_assert_cmpfloat (p->probability, <=,
                           g_array_index (all, GraftPrediction,
                                          i - 1).probability);
      if (i < 3)
        g_assert_cmpuint (p->index, ==,
                          g_array_index (top, GraftPrediction, i).index);
      sum += p->probability;
    }
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);

  g_assert_null (graft_backbone_predict (backbone, "/no/such.png", 3,
                                         &error));
  g_assert_nonnull (error);
}

/* ---- A copy -------------------------------------------------------------- */

static void
test_save_copy (void)
{
  g_autoptr (GraftBackbone) backbone = load_ok (RESNET);
  g_autofree char *dir = g_dir_make_tmp ("graft-backbone-XXXXXX", NULL);
  g_autofree char *same = g_build_filename (dir, "same.onnx", NULL);
  g_autofree char *changed = g_build_filename (dir, "changed.onnx", NULL);
  g_autofree char *picture = source_path ("data", "samples", "fashion",
                                          "sandal", "0000.png", NULL);
  g_autoptr (GraftBackbone) copy = NULL, other = NULL;
  g_autoptr (GArray) want = predict_ok (backbone, picture, 5);
  g_autoptr (GArray) got = NULL;
  g_autoptr (GError) error = NULL;
  GraftPreprocessing pre, back;

  g_assert_true (graft_backbone_save_copy (backbone, NULL, same, &error));
  g_assert_no_error (error);
  copy = load_ok (same);
  g_assert_cmpstr (graft_backbone_get_name (copy), ==,
                   graft_backbone_get_name (backbone));
  g_assert_cmpstr (graft_backbone_get_metadata (copy, "graft.test_accuracy"),
                   ==, "0.9348");
  g_assert_cmpuint (graft_backbone_get_n_params (copy), ==,
                    graft_backbone_get_n_params (backbone));
  g_assert_cmpuint (graft_backbone_get_n_blocks (copy), ==, 5);
  got = predict_ok (copy, picture, 5);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpfloat_with_epsilon
      (g_array_index (got, GraftPrediction, i).probability,
       g_array_index (want, GraftPrediction, i).probability, 1e-6);

  graft_preprocessing_preset (&pre, GRAFT_PRESET_KERAS_CAFFE, 28, 28);
  pre.resize = GRAFT_RESIZE_SQUASH;
  g_assert_true (pre.bgr);
  g_assert_true (graft_backbone_save_copy (copy, &pre, changed, &error));
  g_assert_no_error (error);
  other = load_ok (changed);
  graft_backbone_get_preprocessing (other, &back);
  g_assert_true (back.from_file);
  g_assert_true (back.bgr);
  g_assert_cmpint (back.resize, ==, GRAFT_RESIZE_SQUASH);
  g_assert_cmpfloat_with_epsilon (back.scale, pre.scale, 1e-9);
  for (int c = 0; c < 3; c++)
    {
      g_assert_cmpfloat_with_epsilon (back.mean[c], pre.mean[c], 1e-6);
      g_assert_cmpfloat_with_epsilon (back.std[c], pre.std[c], 1e-6);
    }
  g_assert_cmpstr (graft_backbone_get_name (other), ==,
                   graft_backbone_get_name (backbone));
  g_assert_true (g_remove (same) == 0 && g_remove (changed) == 0);
  g_assert_true (g_rmdir (dir) == 0);
}

/* A model whose preprocessing Graft assumed keeps it assumed in a copy:
 * the app goes on asking the user to check it after a restart. */
static void
test_save_copy_defaulted (void)
{
  g_autofree char *fixture = source_path ("tests", "data", "onnx",
                                          "torch-opset11.onnx", NULL);
  g_autoptr (GraftBackbone) backbone = load_ok (fixture);
  g_autofree char *dir = g_dir_make_tmp ("graft-backbone-XXXXXX", NULL);
  g_autofree char *copy_path = g_build_filename (dir, "copy.onnx", NULL);
  g_autoptr (GraftBackbone) copy = NULL;
  g_autoptr (GError) error = NULL;
  GraftPreprocessing pre;

  graft_backbone_get_preprocessing (backbone, &pre);
  g_assert_false (pre.from_file);
  g_assert_true (graft_backbone_save_copy (backbone, NULL, copy_path,
                                           &error));
  g_assert_no_error (error);
  copy = load_ok (copy_path);
  graft_backbone_get_preprocessing (copy, &pre);
  g_assert_false (pre.from_file);
  g_assert_true (g_remove (copy_path) == 0 && g_rmdir (dir) == 0);
}

/* ---- Broken files -------------------------------------------------------- */

static void
assert_refused (const char *path)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (graft_backbone_load (path, NULL, &error));
  g_assert_nonnull (error);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_null (strchr (error->message, '\n'));
  g_test_message ("%s", error->message);
}

static void
test_broken (void)
{
  g_autofree char *source = source_path ("data", "backbones",
                                         RESNET ".onnx", NULL);
  g_autofree char *dir = g_dir_make_tmp ("graft-backbone-XXXXXX", NULL);
  g_autofree char *garbage = g_build_filename (dir, "garbage.onnx", NULL);
  g_autofree char *truncated = g_build_filename (dir, "truncated.onnx",
                                                 NULL);
  g_autofree char *empty = g_build_filename (dir, "empty.onnx", NULL);
  g_autofree char *bytes = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (source, &bytes, &length, NULL));
  g_assert_true (g_file_set_contents (truncated, bytes, length / 2, NULL));
  for (gsize i = 0; i < length; i++)
    bytes[i] = (char) (i * 7919 % 251);
  g_assert_true (g_file_set_contents (garbage, bytes, length, NULL));
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  assert_refused (garbage);
  assert_refused (truncated);
  assert_refused (empty);
  g_remove (garbage);
  g_remove (truncated);
  g_remove (empty);
  g_rmdir (dir);
}

/* ---- graft.labels --------------------------------------------------------- */

#define DEEP_LEVELS 100000   /* overflowed json-glib's stack before */

/* A copy of @backbone at @path whose graft.labels is @labels, written as
 * `graft-cli export` writes a model's metadata. */
static void
save_with_labels (GraftBackbone *backbone, const char *labels,
                  const char *path)
{
  GfModel *m = graft_backbone_get_model (backbone);
  GfMetadataEntry entry = { (char *) "graft.labels", (char *) labels };
  GfOnnxExport what = { m->input, m->output, m->name, &entry, 1 };
  GfError gf_error = { 0 };

  g_assert_cmpint (gf_onnx_save (m->graph, &what, path, &gf_error), ==,
                   GF_OK);
}

/* The model at @path loads, and its labels are refused with one line
 * that says @part. */
static void
assert_labels_refused (const char *path, const char *part)
{
  g_autoptr (GraftBackbone) model = load_ok (path);
  g_autoptr (GError) error = NULL;

  g_assert_null (graft_backbone_get_labels (model, NULL, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_null (strchr (error->message, '\n'));
  g_assert_nonnull (strstr (error->message, part));
}

static void
test_labels_in_model (void)
{
  g_autoptr (GraftBackbone) backbone = load_ok (RESNET);   /* 5 outputs */
  g_autofree char *dir = g_dir_make_tmp ("graft-backbone-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "labels.onnx", NULL);
  g_autofree char *deep = g_strnfill (DEEP_LEVELS, '[');
  static const struct { const char *labels, *part; } refused[] = {
    { "[\"a\", {\"b\": 1}, \"c\", \"d\", \"e\"]", "graft.labels" },
    { "[\"a\", null, \"c\", \"d\", \"e\"]", "graft.labels" },
    { "{\"labels\": [\"a\", \"b\"]}", "graft.labels" },
    { "[\"a\", \"b\"]", "5 outputs but 2 labels" },
    { "[\"a\", \"b\"", "graft.labels" },
  };

  {
    g_autoptr (GraftBackbone) model = NULL;
    g_autoptr (GError) error = NULL;
    const char *const *labels;
    save_with_labels (backbone, "[\"T-shirt\", \"bag\", \"sandale\", "
                      "\"chemise \u00e0 col\", \"[sneaker]\"]", path);
    model = load_ok (path);
    labels = graft_backbone_get_labels (model, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length ((char **) labels), ==, 5);
    g_assert_cmpstr (labels[3], ==, "chemise \u00e0 col");
    g_assert_cmpstr (labels[4], ==, "[sneaker]");
  }
  save_with_labels (backbone, deep, path);
  assert_labels_refused (path, "graft.labels");
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      save_with_labels (backbone, refused[i].labels, path);
      assert_labels_refused (path, refused[i].part);
    }
  g_assert_true (g_remove (path) == 0 && g_rmdir (dir) == 0);
}

/* The parser alone, as the fuzzer drives it. */
static void
test_labels_text (void)
{
  g_autofree char *deep = g_strnfill (DEEP_LEVELS, '[');
  g_autofree char *deep_in_string = g_strconcat ("[\"", deep, "\", \"b\"]",
                                                 NULL);
  const char *refused[] = { "", "null", "[\"a\"]", "[\"a\", 1]",
                            "[\"a\", \"\\ud800\"]", "[\"a\" \"b\"]",
                            deep };
  g_auto (GStrv) two = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_null (graft_backbone_parse_labels (refused[i], &error));
      g_assert_nonnull (error);
      g_assert_null (strchr (error->message, '\n'));
    }
  /* Brackets inside a name are a name. */
  two = graft_backbone_parse_labels (deep_in_string, NULL);
  g_assert_nonnull (two);
  g_assert_cmpuint (strlen (two[0]), ==, DEEP_LEVELS);
  g_assert_cmpstr (two[1], ==, "b");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/backbone/load/bundled", test_bundled);
  g_test_add_func ("/train/backbone/load/path", test_path);
  g_test_add_func ("/train/backbone/load/async", test_async);
  g_test_add_func ("/train/backbone/load/async-cancelled",
                   test_async_cancelled);
  g_test_add_func ("/train/backbone/cut", test_cut);
  g_test_add_func ("/train/backbone/predict", test_predict);
  g_test_add_func ("/train/backbone/save-copy", test_save_copy);
  g_test_add_func ("/train/backbone/save-copy-defaulted",
                   test_save_copy_defaulted);
  g_test_add_func ("/train/backbone/broken", test_broken);
  g_test_add_func ("/train/backbone/labels/in-model", test_labels_in_model);
  g_test_add_func ("/train/backbone/labels/text", test_labels_text);
  return g_test_run ();
}
