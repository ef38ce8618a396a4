/* test-export-dialog.c: the Export dialog over a real run — a short
 * extract run made by graft-cli from the build tree, every format
 * switched on, a temporary folder, Export pressed: every file is there
 * and named after the run; the copies are the run's files byte for byte;
 * the CSV is what `graft-cli export --format csv` writes; the PNG has the
 * chosen size and the SVG is one; the written model.onnx passes the
 * dialog's re-load check; a second export adds "-2" rather than
 * overwriting; the PyTorch project folder is graft-cli's, and one that
 * fails to be written leaves nothing; and the same model.onnx gives the
 * same top class in ONNX
 * Runtime (tests/tools/ort-run.mjs under node; skipped, with the reason,
 * when node or onnxruntime-node is missing) as in Graft.
 *
 * Env: run under `xvfb-run -a` with GTK_A11Y=none (meson sets the rest).
 * Optional: GRAFT_TEST_SCREENSHOT_DIR (the dialog at 1280×800 and
 * 800×600, light and dark), GRAFT_ORT_DIR (where onnxruntime-node is).
 */
#include <glib/gstdio.h>
#include <string.h>

#include "gf-onnx.h"
#include "graft-backbone.h"
#include "graft-export-dialog.h"
#include "graft-image.h"
#include "graft-run-record.h"
#include "graft-test-app.h"
#include "graft-test-cli.h"

#define RUN_NAME "export-extract"
#define PLOT_WIDTH 1000
#define PLOT_HEIGHT 700
#define EXPORT_TIMEOUT_MS 240000
#define DRAW_TIMEOUT_MS 10000
#define ORT_PICTURES 4

typedef struct
{
  char *run_dir, *out_dir;
  GraftRunRecord *record;
  GtkWindow *parent;
  GraftExportDialog *dialog;
} Fixture;

static Fixture fixture;

/* ---- Helpers -------------------------------------------------------------- */

static void
collect (GtkWidget *widget, GType type, GPtrArray *found)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    g_ptr_array_add (found, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect (child, type, found);
}

static GPtrArray *
find_all (GType type)
{
  GPtrArray *found = g_ptr_array_new ();

  collect (GTK_WIDGET (fixture.dialog), type, found);
  return found;
}

static GtkWidget *
export_button (void)
{
  g_autoptr (GPtrArray) buttons = find_all (GTK_TYPE_BUTTON);

  for (guint i = 0; i < buttons->len; i++)
    if (gtk_widget_has_css_class (buttons->pdata[i], "suggested-action"))
      return buttons->pdata[i];
  g_error ("the dialog has no suggested-action button");
}

static gboolean
not_busy (gpointer data)
{
  return !graft_export_dialog_get_busy (fixture.dialog);
}

static char *
out_path (const char *suffix)
{
  g_autofree char *name = g_strconcat (RUN_NAME, suffix, NULL);

  return g_build_filename (fixture.out_dir, name, NULL);
}

static char *
read_file (const char *path, gsize *length)
{
  g_autoptr (GError) error = NULL;
  char *text = NULL;

  g_file_get_contents (path, &text, length, &error);
  g_assert_no_error (error);
  return text;
}

static void
assert_same_file (const char *a, const char *b)
{
  gsize la, lb;
  g_autofree char *ta = read_file (a, &la);
  g_autofree char *tb = read_file (b, &lb);

  g_assert_cmpmem (ta, la, tb, lb);
}

/* ---- Setup ---------------------------------------------------------------- */

static void
make_run (void)
{
  g_autoptr (GError) error = NULL;

  fixture.run_dir = graft_test_make_run (RUN_NAME);
  fixture.record = graft_run_record_load (fixture.run_dir, &error);
  g_assert_no_error (error);
  fixture.out_dir = g_build_filename (graft_test_app_data_home (), "exports",
                                      NULL);
  g_assert_cmpint (g_mkdir_with_parents (fixture.out_dir, 0700), ==, 0);
}

static gboolean
has_folder (gpointer data)
{
  return graft_export_dialog_get_folder (fixture.dialog) != NULL;
}

static void
open_dialog (void)
{
  fixture.parent = GTK_WINDOW (adw_window_new ());
  gtk_window_set_default_size (fixture.parent, 1280, 800);
  gtk_window_present (fixture.parent);
  fixture.dialog = GRAFT_EXPORT_DIALOG
    (graft_export_dialog_new (fixture.parent, fixture.record, NULL));
  gtk_window_present (GTK_WINDOW (fixture.dialog));
  gtk_test_widget_wait_for_draw (GTK_WIDGET (fixture.dialog));
  /* Documents or home, found on a worker. */
  graft_test_wait_for (has_folder, NULL, DRAW_TIMEOUT_MS,
                       "the default folder");
}

/* ---- Tests ---------------------------------------------------------------- */

/* Every control can be named by a screen reader, and the choices are
 * switches (AT-SPI cannot press a check button). */
static void
test_controls (void)
{
  g_autoptr (GPtrArray) switches = find_all (GTK_TYPE_SWITCH);
  g_autoptr (GPtrArray) spins = find_all (GTK_TYPE_SPIN_BUTTON);
  g_autoptr (GPtrArray) checks = find_all (GTK_TYPE_CHECK_BUTTON);

  g_assert_cmpuint (switches->len, ==, 7);
  g_assert_cmpuint (spins->len, ==, 2);
  g_assert_cmpuint (checks->len, ==, 0);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (spins->pdata[0]), ==,
                   GRAFT_EXPORT_DEFAULT_PLOT_WIDTH);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (spins->pdata[1]), ==,
                   GRAFT_EXPORT_DEFAULT_PLOT_HEIGHT);
  /* The whole model is chosen to begin with: what most people want. */
  g_assert_true (gtk_switch_get_active (switches->pdata[2]));
  g_assert_true (gtk_widget_get_sensitive (export_button ()));
  gtk_switch_set_active (switches->pdata[2], FALSE);
  /* Nothing chosen: nothing to export. */
  g_assert_false (gtk_widget_get_sensitive (export_button ()));
}

static void
press_export (void)
{
  GtkWidget *button = export_button ();

  g_assert_true (gtk_widget_get_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
  g_assert_true (graft_export_dialog_get_busy (fixture.dialog));
  graft_test_wait_for (not_busy, NULL, EXPORT_TIMEOUT_MS,
                       "the export and its check");
  g_assert_null (graft_export_dialog_get_error (fixture.dialog));
}

/* The PyTorch project folder is what `graft-cli export --format pytorch`
 * writes, file for file. */
static void
assert_pytorch_project (void)
{
  static const char *const files[] = {
    "model.py", "weights.safetensors", "split.json", "recipe.json",
    "train.py", "graft_io.py", "README.md", "graft/model.onnx",
    "graft/head.json",
  };
  g_autofree char *project = out_path ("-pytorch");
  g_autofree char *cli = g_build_filename (fixture.out_dir, "cli-pytorch",
                                           NULL);
  g_autofree char *cli_out = NULL;
  const char *argv[] = { GRAFT_TEST_CLI, "export", "--run", fixture.run_dir,
                         "--format", "pytorch", "--out", cli, NULL };

  g_assert_true (g_strv_contains (graft_export_dialog_get_written
                                  (fixture.dialog), project));
  g_assert_true (g_file_test (project, G_FILE_TEST_IS_DIR));
  cli_out = graft_test_run_cli (argv);
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *a = g_build_filename (project, files[i], NULL);
      g_autofree char *b = g_build_filename (cli, files[i], NULL);

      assert_same_file (a, b);
    }
}

/* A project that cannot be written (the run's head.json gone) leaves no
 * folder behind, and the dialog says why. */
static void
test_pytorch_failure (void)
{
  g_autoptr (GPtrArray) switches = find_all (GTK_TYPE_SWITCH);
  g_autofree char *head = g_build_filename (fixture.run_dir, "head.json",
                                            NULL);
  g_autofree char *aside = g_strconcat (head, ".aside", NULL);
  g_autofree char *project = out_path ("-pytorch-2");
  GtkWidget *button = export_button ();

  for (guint i = 0; i < switches->len; i++)
    gtk_switch_set_active (switches->pdata[i], i == switches->len - 1);
  g_assert_cmpint (g_rename (head, aside), ==, 0);
  g_signal_emit_by_name (button, "clicked");
  graft_test_wait_for (not_busy, NULL, EXPORT_TIMEOUT_MS, "the export");
  g_assert_cmpint (g_rename (aside, head), ==, 0);
  g_assert_nonnull (graft_export_dialog_get_error (fixture.dialog));
  g_assert_nonnull (strstr (graft_export_dialog_get_error (fixture.dialog),
                            "head.json"));
  g_assert_false (g_file_test (project, G_FILE_TEST_EXISTS));
}

static void
test_export_all (void)
{
  g_autoptr (GPtrArray) switches = find_all (GTK_TYPE_SWITCH);
  g_autoptr (GPtrArray) spins = find_all (GTK_TYPE_SPIN_BUTTON);
  static const char *const copies[][2] = {
    { "-head.onnx", "head.onnx" },
    { "-head.safetensors", "head.safetensors" },
    { "-head.json", "head.json" },
    { "-model.onnx", "model.onnx" },
  };
  g_autofree char *csv = out_path ("-curves.csv");
  g_autofree char *png = out_path ("-plot.png");
  g_autofree char *svg = out_path ("-plot.svg");
  g_autofree char *cli_csv = g_build_filename (fixture.out_dir, "cli.csv",
                                               NULL);
  g_autofree char *svg_text = NULL, *cli_out = NULL;
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  g_autoptr (GError) error = NULL;
  guint agree = 0, total = 0;
  const char *cli_argv[] = { GRAFT_TEST_CLI, "export", "--run",
                             fixture.run_dir, "--format", "csv", "--out",
                             cli_csv, NULL };

  for (guint i = 0; i < switches->len; i++)
    gtk_switch_set_active (switches->pdata[i], TRUE);
  gtk_spin_button_set_value (spins->pdata[0], PLOT_WIDTH);
  gtk_spin_button_set_value (spins->pdata[1], PLOT_HEIGHT);
  graft_export_dialog_set_folder (fixture.dialog, fixture.out_dir);
  press_export ();

  g_assert_cmpuint (g_strv_length ((char **) graft_export_dialog_get_written
                                   (fixture.dialog)), ==, 8);
  for (guint i = 0; i < G_N_ELEMENTS (copies); i++)
    {
      g_autofree char *out = out_path (copies[i][0]);
      g_autofree char *in = g_build_filename (fixture.run_dir, copies[i][1],
                                              NULL);
      g_assert_true (g_strv_contains (graft_export_dialog_get_written
                                      (fixture.dialog), out));
      assert_same_file (in, out);
    }

  cli_out = graft_test_run_cli (cli_argv);
  assert_same_file (cli_csv, csv);
  assert_pytorch_project ();

  pixbuf = gdk_pixbuf_new_from_file (png, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, PLOT_WIDTH);
  g_assert_cmpint (gdk_pixbuf_get_height (pixbuf), ==, PLOT_HEIGHT);
  svg_text = read_file (svg, NULL);
  g_assert_true (g_str_has_prefix (svg_text, "<?xml"));
  g_assert_nonnull (strstr (svg_text, "<svg"));

  /* The written model predicts what the run does. */
  g_assert_true (graft_export_dialog_get_check_result (fixture.dialog,
                                                       &agree, &total));
  g_assert_cmpuint (total, >=, 1);
  g_assert_cmpuint (total, <=, GRAFT_EXPORT_CHECK_PICTURES);
  g_assert_cmpuint (agree, ==, total);
}

/* A second export of the curves takes a new name; the first file stays. */
static void
test_no_overwrite (void)
{
  g_autoptr (GPtrArray) switches = find_all (GTK_TYPE_SWITCH);
  g_autofree char *first = out_path ("-curves.csv");
  g_autofree char *second = out_path ("-curves-2.csv");
  g_autofree char *before = read_file (first, NULL);
  g_autofree char *after = NULL;
  const char *const *written;

  /* The switches in the dialog's order; the curves are the fourth. */
  for (guint i = 0; i < switches->len; i++)
    gtk_switch_set_active (switches->pdata[i], i == 3);
  press_export ();
  written = graft_export_dialog_get_written (fixture.dialog);
  g_assert_cmpuint (g_strv_length ((char **) written), ==, 1);
  g_assert_cmpstr (written[0], ==, second);
  after = read_file (first, NULL);
  g_assert_cmpstr (before, ==, after);
  assert_same_file (first, second);
}

/* ---- ONNX Runtime --------------------------------------------------------- */

/* The exported model.onnx in ONNX Runtime: its most likely class is
 * Graft's for the first validation pictures. */
static void
test_onnx_runtime (void)
{
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "tools",
                                                   "ort-run.mjs", NULL);
  g_autofree char *model_path = out_path ("-model.onnx");
  g_autofree char *in = g_build_filename (fixture.out_dir, "ort.in", NULL);
  g_autofree char *out = g_build_filename (fixture.out_dir, "ort.out", NULL);
  const GraftRunPredictions *p =
    graft_run_record_get_predictions (fixture.record);
  g_autoptr (GraftBackbone) graft = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree float *input = NULL;
  g_autofree char *shape = NULL, *stdout_text = NULL, *stderr_text = NULL;
  g_autofree char *bytes = NULL;
  GfModel *model = NULL;
  GfError gf_error = { 0 };
  size_t one;
  gsize length;
  guint n, outputs;

  if (!graft_test_have_onnx_runtime (script))
    return;
  g_assert_nonnull (p);
  n = MIN (p->n, ORT_PICTURES);
  g_assert_cmpuint (n, >=, 1);
  if (gf_onnx_load (model_path, NULL, &model, &gf_error) != GF_OK)
    g_error ("%s: %s", model_path, gf_error.message);
  one = model->preprocess.channels * model->preprocess.height
        * model->preprocess.width;
  input = g_new (float, n * one);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GdkPixbuf) pixbuf = graft_image_load
        (p->paths[i], GRAFT_DEFAULT_MAX_PIXELS, &error);
      g_assert_no_error (error);
      graft_image_to_tensor (pixbuf, &model->preprocess, input + i * one);
    }
  shape = g_strdup_printf ("%u,%zu,%zu,%zu", n, model->preprocess.channels,
                           model->preprocess.height, model->preprocess.width);
  gf_model_free (model);
  g_file_set_contents (in, (const char *) input,
                       (gssize) (n * one * sizeof *input), &error);
  g_assert_no_error (error);
  if (graft_test_run_tool ((const char *[]) { "node", script, model_path, in,
                                              shape, out, NULL },
                           GRAFT_TEST_ORT_EXIT_MISSING, &stdout_text,
                           &stderr_text) != GRAFT_TOOL_PASSED)
    g_error ("ONNX Runtime failed on %s: %s", model_path,
             stderr_text != NULL ? g_strdelimit (stderr_text, "\n", ' ')
                                 : "");
  g_file_get_contents (out, &bytes, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length % (n * sizeof (float)), ==, 0);
  outputs = length / (n * sizeof (float));
  g_assert_cmpuint (outputs, >=, 2);

  graft = graft_backbone_load (model_path, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      const float *row = (const float *) bytes + i * outputs;
      g_autoptr (GArray) top = graft_backbone_predict (graft, p->paths[i], 1,
                                                       &error);
      guint ort_top = 0;

      g_assert_no_error (error);
      for (guint c = 1; c < outputs; c++)
        ort_top = row[c] > row[ort_top] ? c : ort_top;
      g_assert_cmpuint (g_array_index (top, GraftPrediction, 0).index, ==,
                        ort_top);
    }
}

/* ---- Screenshots ---------------------------------------------------------- */

static gboolean
has_width (gpointer data)
{
  return gtk_widget_get_width (GTK_WIDGET (fixture.dialog))
    <= GPOINTER_TO_INT (data);
}

static void
screenshots (int width, int height)
{
  AdwStyleManager *style = adw_style_manager_get_default ();
  g_autofree char *light = g_strdup_printf ("export-%dx%d", width, height);
  g_autofree char *dark = g_strconcat (light, "-dark", NULL);

  gtk_window_set_default_size (GTK_WINDOW (fixture.dialog), width, height);
  graft_test_wait_for (has_width, GINT_TO_POINTER (width), DRAW_TIMEOUT_MS,
                       "the dialog's new size");
  graft_test_spin (200);
  graft_test_screenshot (GTK_WIDGET (fixture.dialog), light);
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  graft_test_spin (200);
  graft_test_screenshot (GTK_WIDGET (fixture.dialog), dark);
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
}

static void
test_screenshots (void)
{
  if (g_getenv ("GRAFT_TEST_SCREENSHOT_DIR") == NULL)
    {
      g_test_skip ("GRAFT_TEST_SCREENSHOT_DIR is not set");
      return;
    }
  screenshots (1280, 800);
  screenshots (800, 600);
}

int
main (int argc, char *argv[])
{
  int status;

  graft_test_app_init (&argc, &argv);
  make_run ();
  open_dialog ();

  g_test_add_func ("/app/export/controls", test_controls);
  g_test_add_func ("/app/export/all", test_export_all);
  g_test_add_func ("/app/export/onnx-runtime", test_onnx_runtime);
  g_test_add_func ("/app/export/screenshots", test_screenshots);
  g_test_add_func ("/app/export/no-overwrite", test_no_overwrite);
  g_test_add_func ("/app/export/pytorch-failure", test_pytorch_failure);
  status = g_test_run ();

  gtk_window_destroy (GTK_WINDOW (fixture.dialog));
  gtk_window_destroy (fixture.parent);
  g_clear_object (&fixture.record);
  g_free (fixture.run_dir);
  g_free (fixture.out_dir);
  return status;
}
