/* test-compare-page.c: the Compare page over real runs — an extract run
 * and a finetune run trained in-process on the sample data through the
 * project (so the project's list picks each up when it finishes), ticked
 * in Compare: the plot holds both runs' series and the table both rows; a
 * confusion-matrix cell lists exactly the pictures whose predictions
 * (computed here from the data layer's scan and the run's model.onnx) put
 * them there; the "changed" view lists exactly the pictures one run gets
 * right and the other wrong; a rename survives a new window; a delete
 * moves the folder to the trash and its undo brings it back; a new window
 * on the same data folder shows the same runs and curves, and empties
 * the trash; the table's "Trainable parameters" line shows what run.json
 * says, compactly, or "—"; a stopped run and a crashed one ("running" with
 * nobody holding its lock) say so and offer Resume, which activates
 * win.resume-run with the run's folder, while a run a trainer holds does
 * not.
 *
 * Env: run under `xvfb-run -a` with GTK_A11Y=none (meson sets the rest).
 * Optional: GRAFT_TEST_SCREENSHOT_DIR (the page at 1280×800 and 800×600,
 * light and dark: the top, the tables and further down; then again with
 * the stopped, crashed and training runs listed).
 */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "graft-backbone.h"
#include "graft-compare-page.h"
#include "graft-export-dialog.h"
#include "graft-json.h"
#include "graft-run-details.h"
#include "graft-run-files.h"
#include "graft-run-list.h"
#include "graft-scan.h"
#include "graft-test-app.h"
#include "graft-window.h"

#define BACKBONE "fashion-cnn"
#define EPOCHS 2
#define RUN_TIMEOUT_MS 180000
#define LIST_TIMEOUT_MS 30000
#define PREDICT_TIMEOUT_MS 120000
#define NEW_NAME "Frozen backbone"
/* Trainable parameters written into the runs' run.json, and as the table
 * shows them. */
#define EXTRACT_PARAMS 12345
#define FINETUNE_PARAMS 1234567
/* Copies of the finetune run's run.json, older than the runs trained
 * here so that they are listed after them. */
#define STOPPED_RUN "2020-01-01-120000-finetune"
#define CRASHED_RUN "2020-01-02-120000-finetune"
#define LIVE_RUN "2020-01-03-120000-finetune"
/* Longer than a toast takes to slide in. */
#define TOAST_SLIDE_MS 600

typedef struct
{
  GraftWindow *window;
  GraftProject *project;
  GraftComparePage *page;
  char *extract_dir, *finetune_dir;
  char *stopped_dir, *crashed_dir, *live_dir;
  gsize n_points[4];             /* each series' points, before restart */
} Fixture;

static Fixture fixture;

/* ---- Waiting and finding ------------------------------------------------------- */

static gboolean
run_ended (gpointer data)
{
  GraftRunState state = graft_run_get_state (data);

  return state == GRAFT_RUN_STATE_FINISHED || state == GRAFT_RUN_STATE_FAILED;
}

typedef struct
{
  GListModel *runs;
  guint n;
} CountWait;

static gboolean
has_n_runs (gpointer data)
{
  CountWait *w = data;

  return !graft_run_list_get_loading (GRAFT_RUN_LIST (w->runs))
    && g_list_model_get_n_items (w->runs) == w->n;
}

static void
wait_for_runs (guint n)
{
  CountWait w = { graft_project_get_runs (fixture.project), n };
  g_autofree char *what = g_strdup_printf ("%u runs in the list", n);

  graft_test_wait_for (has_n_runs, &w, LIST_TIMEOUT_MS, what);
}

/* The @index-th descendant of @widget of @type, depth first. */
static GtkWidget *
find_widget (GtkWidget *widget, GType type, guint *index)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type) && (*index)-- == 0)
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, type, index);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The row's buttons, in order: Try, Export, Delete. */
#define ROW_DELETE_BUTTON 2

static GtkWidget *
run_list (void)
{
  guint zero = 0;

  return find_widget (GTK_WIDGET (fixture.page), GTK_TYPE_LIST_BOX, &zero);
}

/* The @nth control of @type in the list row of the run in @dir. */
static GtkWidget *
row_control_nth (const char *dir, GType type, guint nth)
{
  GtkListBox *list = GTK_LIST_BOX (run_list ());
  GListModel *runs = graft_project_get_runs (fixture.project);

  for (guint i = 0; i < g_list_model_get_n_items (runs); i++)
    {
      g_autoptr (GraftRunRecord) record = g_list_model_get_item (runs, i);
      if (g_str_equal (graft_run_record_get_dir (record), dir))
        return find_widget (GTK_WIDGET (gtk_list_box_get_row_at_index
                                        (list, i)), type, &nth);
    }
  g_assert_not_reached ();
}

static GtkWidget *
row_control (const char *dir, GType type)
{
  return row_control_nth (dir, type, 0);
}

/* ---- Training ------------------------------------------------------------------------ */

static char *
train (const char *mode)
{
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *samples = graft_test_samples_path ("fashion");
  GraftRunMode run_mode;
  GraftRun *run;

  g_assert_true (graft_run_mode_from_string (mode, &run_mode, NULL));
  config = graft_run_config_new (run_mode);
  g_free (config->backbone);
  config->backbone = g_strdup (BACKBONE);
  g_strfreev (config->data);
  config->data = g_new0 (char *, 2);
  config->data[0] = g_strdup (samples);
  config->epochs = EPOCHS;
  config->threads = 1;
  run = graft_project_start_run (fixture.project, config, &error);
  g_assert_no_error (error);
  graft_test_wait_for (run_ended, run, RUN_TIMEOUT_MS, mode);
  g_assert_cmpint (graft_run_get_state (run), ==, GRAFT_RUN_STATE_FINISHED);
  return g_strdup (graft_run_get_dir (run));
}

/* ---- Predictions computed here ------------------------------------------------------ */

typedef struct
{
  GPtrArray *paths;     /* char *, the validation pictures in scan order */
  GArray *truth, *predicted;
} Truth;

static void
truth_free (Truth *t)
{
  g_ptr_array_unref (t->paths);
  g_array_unref (t->truth);
  g_array_unref (t->predicted);
  g_free (t);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Truth, truth_free)

/* The split from the data layer's scan, with the run's seed and
 * fraction; top-1 from the run's model.onnx. */
static Truth *
predict_here (const char *dir)
{
  g_autofree char *samples = graft_test_samples_path ("fashion");
  const char *folders[] = { samples, NULL };
  g_autofree char *model_path = g_build_filename (dir, "model.onnx", NULL);
  g_autoptr (GraftBackbone) model = graft_backbone_load (model_path, NULL,
                                                         NULL);
  g_autoptr (GraftScan) scan = NULL;
  GraftScanOptions options;
  Truth *t = g_new0 (Truth, 1);

  g_assert_nonnull (model);
  graft_scan_options_init (&options);
  scan = graft_scan_folders (folders, &options, NULL, NULL, NULL, NULL);
  g_assert_nonnull (scan);
  t->paths = g_ptr_array_new_with_free_func (g_free);
  t->truth = g_array_new (FALSE, FALSE, sizeof (guint));
  t->predicted = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < scan->samples->len; i++)
    {
      GraftSample *s = &g_array_index (scan->samples, GraftSample, i);
      g_autoptr (GArray) top = NULL;

      if (!s->val)
        continue;
      top = graft_backbone_predict (model, s->path, 1, NULL);
      g_assert_nonnull (top);
      g_ptr_array_add (t->paths, g_strdup (s->path));
      g_array_append_val (t->truth, s->label);
      g_array_append_val (t->predicted,
                          g_array_index (top, GraftPrediction, 0).index);
    }
  return t;
}

static void
assert_same_set (GPtrArray *expected, char **got)
{
  g_assert_nonnull (got);
  g_assert_cmpuint (g_strv_length (got), ==, expected->len);
  for (guint i = 0; i < expected->len; i++)
    g_assert_true (g_strv_contains ((const char *const *) got,
                                    expected->pdata[i]));
}

/* ---- Tests ---------------------------------------------------------------------------- */

static void
test_empty (void)
{
  guint zero = 0;
  GtkStack *stack = GTK_STACK (find_widget (GTK_WIDGET (fixture.page),
                                            GTK_TYPE_STACK, &zero));

  wait_for_runs (0);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "empty");
  graft_test_screenshot (GTK_WIDGET (fixture.window), "compare-empty");
}

static void
test_train_and_tick (void)
{
  GraftLossPlot *plot = graft_compare_page_get_plot (fixture.page);

  fixture.extract_dir = train ("extract");
  wait_for_runs (1);
  fixture.finetune_dir = train ("finetune");
  wait_for_runs (2);
  gtk_switch_set_active (GTK_SWITCH (row_control (fixture.extract_dir,
                                                  GTK_TYPE_SWITCH)), TRUE);
  gtk_switch_set_active (GTK_SWITCH (row_control (fixture.finetune_dir,
                                                  GTK_TYPE_SWITCH)), TRUE);
  /* Per run: training loss per step, validation loss per epoch. */
  g_assert_cmpuint (graft_loss_plot_get_n_series (plot), ==, 4);
  for (guint s = 0; s < 4; s++)
    {
      fixture.n_points[s] = graft_loss_plot_get_n_points (plot, s);
      g_assert_cmpuint (fixture.n_points[s], >, 0);
    }
  g_assert_cmpuint (fixture.n_points[1], ==, EPOCHS);
  g_assert_cmpuint (fixture.n_points[3], ==, EPOCHS);
  g_assert_cmpuint (graft_compare_page_get_n_table_rows (fixture.page), ==,
                    2);
}

static gboolean
cell_listed (gpointer data)
{
  g_auto (GStrv) paths = graft_compare_page_dup_cell_pictures (data);

  return paths != NULL;
}

/* A cell with pictures, off the diagonal when the run has a mistake. */
static void
pick_cell (GraftConfusionMatrix *matrix, guint *truth, guint *predicted)
{
  guint n = graft_confusion_matrix_get_n_classes (matrix);

  *truth = *predicted = 0;
  for (guint t = 0; t < n; t++)
    for (guint p = 0; p < n; p++)
      if (t != p && graft_confusion_matrix_get_count (matrix, t, p) > 0)
        {
          *truth = t;
          *predicted = p;
          return;
        }
}

static void
test_cell_pictures (void)
{
  GraftConfusionMatrix *matrix = graft_compare_page_get_matrix
    (fixture.page, fixture.extract_dir);
  g_autoptr (Truth) here = predict_here (fixture.extract_dir);
  g_autoptr (GPtrArray) expected = g_ptr_array_new ();
  g_auto (GStrv) got = NULL;
  graphene_rect_t area;
  guint t, p, truth, predicted;

  g_assert_nonnull (matrix);
  pick_cell (matrix, &truth, &predicted);
  /* Where the cell is drawn is where a click finds it. */
  g_assert_true (graft_confusion_matrix_get_cell_area (matrix, truth,
                                                       predicted, &area));
  g_assert_true (graft_confusion_matrix_cell_at
                 (matrix, area.origin.x + area.size.width / 2,
                  area.origin.y + area.size.height / 2, &t, &p));
  graft_confusion_matrix_activate_cell (matrix, t, p);
  graft_test_wait_for (cell_listed, fixture.page, PREDICT_TIMEOUT_MS,
                       "the cell's pictures");
  for (guint i = 0; i < here->paths->len; i++)
    if (g_array_index (here->truth, guint, i) == truth
        && g_array_index (here->predicted, guint, i) == predicted)
      g_ptr_array_add (expected, here->paths->pdata[i]);
  got = graft_compare_page_dup_cell_pictures (fixture.page);
  assert_same_set (expected, got);
  /* run.json's confusion of the best epoch says the same. */
  g_assert_cmpuint (graft_confusion_matrix_get_count (matrix, truth,
                                                      predicted), ==,
                    expected->len);
}

static gboolean
changed_listed (gpointer data)
{
  g_auto (GStrv) paths = graft_compare_page_dup_changed_pictures (data, 0);

  return paths != NULL;
}

/* Reads the runs again, as a refresh would.  The two ticked runs' new
 * records compute their predictions again: each reload waits for the
 * last one's, so that no worker still predicts when the test ends. */
static void
reload_runs (guint n)
{
  graft_test_wait_for (changed_listed, fixture.page, PREDICT_TIMEOUT_MS,
                       "the changed pictures");
  graft_project_reload_runs (fixture.project);
  wait_for_runs (n);
  graft_test_wait_for (changed_listed, fixture.page, PREDICT_TIMEOUT_MS,
                       "the changed pictures, again");
}

static void
test_changed (void)
{
  g_autoptr (Truth) a = predict_here (fixture.extract_dir);
  g_autoptr (Truth) b = predict_here (fixture.finetune_dir);
  g_autoptr (GPtrArray) a_only = g_ptr_array_new ();
  g_autoptr (GPtrArray) b_only = g_ptr_array_new ();
  g_auto (GStrv) got_a = NULL, got_b = NULL;

  graft_test_wait_for (changed_listed, fixture.page, PREDICT_TIMEOUT_MS,
                       "the changed pictures");
  for (guint i = 0; i < a->paths->len; i++)
    {
      guint truth = g_array_index (a->truth, guint, i);
      gboolean a_right = g_array_index (a->predicted, guint, i) == truth;
      gboolean b_right = g_array_index (b->predicted, guint, i) == truth;

      if (a_right && !b_right)
        g_ptr_array_add (a_only, a->paths->pdata[i]);
      if (b_right && !a_right)
        g_ptr_array_add (b_only, a->paths->pdata[i]);
    }
  got_a = graft_compare_page_dup_changed_pictures (fixture.page, 0);
  got_b = graft_compare_page_dup_changed_pictures (fixture.page, 1);
  assert_same_set (a_only, got_a);
  assert_same_set (b_only, got_b);
}

static gboolean
name_saved (gpointer data)
{
  g_autofree char *path = g_build_filename (data, "app.json", NULL);
  g_autofree char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL)
    && strstr (text, NEW_NAME) != NULL;
}

static void
test_rename (void)
{
  GtkWidget *entry = row_control (fixture.extract_dir, GTK_TYPE_ENTRY);
  GraftRunRecord *record = graft_run_list_find
    (GRAFT_RUN_LIST (graft_project_get_runs (fixture.project)),
     fixture.extract_dir);
  g_autofree char *run_json = g_build_filename (fixture.extract_dir,
                                                "run.json", NULL);
  g_autofree char *before = NULL, *after = NULL;

  g_assert_true (g_file_get_contents (run_json, &before, NULL, NULL));
  gtk_editable_set_text (GTK_EDITABLE (entry), NEW_NAME);
  g_signal_emit_by_name (entry, "activate");
  g_assert_cmpstr (graft_run_record_get_name (record), ==, NEW_NAME);
  graft_test_wait_for (name_saved, fixture.extract_dir, LIST_TIMEOUT_MS,
                       "app.json with the new name");
  /* run.json stays as the run wrote it. */
  g_assert_true (g_file_get_contents (run_json, &after, NULL, NULL));
  g_assert_cmpstr (before, ==, after);
}

/* The toast's "Undo", found as a person would: a button so labelled. */
static GtkButton *
find_undo (void)
{
  GtkWidget *window = GTK_WIDGET (fixture.window);
  GtkWidget *button;

  for (guint i = 0;; i++)
    {
      guint index = i;

      if ((button = find_widget (window, GTK_TYPE_BUTTON, &index)) == NULL)
        return NULL;
      if (g_strcmp0 (gtk_button_get_label (GTK_BUTTON (button)), "_Undo")
          == 0)
        return GTK_BUTTON (button);
    }
}

static gboolean
undo_shown (gpointer data)
{
  return find_undo () != NULL;
}

static gboolean
undo_gone (gpointer data)
{
  return find_undo () == NULL;
}

static gboolean
folder_is (gpointer data)
{
  return g_file_test (data, G_FILE_TEST_IS_DIR);
}

static gboolean
folder_gone (gpointer data)
{
  return !folder_is (data);
}

/* A row's Try and Export buttons open those windows on that run. */
static void
test_details_export (void)
{
  const struct { guint button; GType type; } opens[] = {
    { 0, GRAFT_TYPE_RUN_DETAILS },
    { 1, GRAFT_TYPE_EXPORT_DIALOG },
  };

  for (guint i = 0; i < G_N_ELEMENTS (opens); i++)
    {
      GtkWindow *window;

      g_assert_null (graft_test_find_toplevel (opens[i].type));
      g_signal_emit_by_name (row_control_nth (fixture.extract_dir,
                                              GTK_TYPE_BUTTON,
                                              opens[i].button), "clicked");
      window = graft_test_find_toplevel (opens[i].type);
      g_assert_nonnull (window);
      gtk_window_destroy (window);
    }
}

static void
test_delete_undo (void)
{
  g_autofree char *trash = graft_project_get_trash_dir (fixture.project);

  g_signal_emit_by_name (row_control_nth (fixture.extract_dir, GTK_TYPE_BUTTON,
                                          ROW_DELETE_BUTTON), "clicked");
  g_assert_cmpuint (g_list_model_get_n_items
                    (graft_project_get_runs (fixture.project)), ==, 1);
  g_assert_cmpuint (graft_compare_page_get_n_table_rows (fixture.page), ==,
                    1);
  graft_test_wait_for (folder_gone, fixture.extract_dir, LIST_TIMEOUT_MS,
                       "the run moved to the trash");
  g_assert_true (g_file_test (trash, G_FILE_TEST_IS_DIR));
  graft_test_wait_for (undo_shown, NULL, LIST_TIMEOUT_MS, "the Undo button");
  /* libadwaita 1.2 frees a toast dismissed while it still slides in, and
   * then crashes when the slide ends: a person cannot click that fast. */
  graft_test_spin (TOAST_SLIDE_MS);
  g_signal_emit_by_name (find_undo (), "clicked");
  graft_test_wait_for (folder_is, fixture.extract_dir, LIST_TIMEOUT_MS,
                       "the run back from the trash");
  wait_for_runs (2);
  graft_test_wait_for (undo_gone, NULL, LIST_TIMEOUT_MS, "the toast to go");
  /* It comes back ticked, as it was. */
  g_assert_cmpuint (graft_compare_page_get_n_table_rows (fixture.page), ==,
                    2);
}

static void
scroll_to (GtkAdjustment *scroll, double value)
{
  gtk_adjustment_set_value (scroll, value);
  graft_test_spin (500);   /* the thumbnails decode */
}

/* The page as it is, named @prefix-@suffix[-part][-dark].png: the top,
 * light and dark; the tables; further down, the matrices, a cell's
 * pictures and the changed ones. */
static void
screenshots (const char *prefix, const char *suffix)
{
  AdwStyleManager *style = adw_style_manager_get_default ();
  GtkWidget *window = GTK_WIDGET (fixture.window);
  GtkWidget *plot = GTK_WIDGET (graft_compare_page_get_plot (fixture.page));
  GtkAdjustment *scroll = gtk_scrolled_window_get_vadjustment
    (GTK_SCROLLED_WINDOW (gtk_widget_get_ancestor
                          (plot, GTK_TYPE_SCROLLED_WINDOW)));
  g_autofree char *name = g_strdup_printf ("%s-%s", prefix, suffix);
  g_autofree char *dark = g_strconcat (name, "-dark", NULL);
  g_autofree char *tables = g_strconcat (name, "-tables", NULL);
  g_autofree char *bottom = g_strconcat (name, "-bottom", NULL);

  scroll_to (scroll, 0);
  graft_test_screenshot (window, name);
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  graft_test_spin (200);
  graft_test_screenshot (window, dark);
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
  /* The plot's height down: the tables at the top. */
  scroll_to (scroll, gtk_widget_get_height (plot));
  graft_test_screenshot (window, tables);
  scroll_to (scroll, gtk_adjustment_get_upper (scroll) * 0.45);
  graft_test_screenshot (window, bottom);
}

static gboolean
has_width (gpointer data)
{
  /* The window's shadow is not part of its size. */
  return gtk_widget_get_width (GTK_WIDGET (fixture.window))
    <= GPOINTER_TO_INT (data);
}

/* The page at 1280×800, then at 800×600, the smallest the window is
 * meant for. */
static void
screenshot_sizes (const char *prefix)
{
  if (g_getenv ("GRAFT_TEST_SCREENSHOT_DIR") == NULL)
    {
      g_test_skip ("GRAFT_TEST_SCREENSHOT_DIR is not set");
      return;
    }
  screenshots (prefix, "1280x800");
  gtk_window_set_default_size (GTK_WINDOW (fixture.window), 800, 600);
  graft_test_wait_for (has_width, GINT_TO_POINTER (800), LIST_TIMEOUT_MS,
                       "the window at 800×600");
  screenshots (prefix, "800x600");
  gtk_window_set_default_size (GTK_WINDOW (fixture.window), 1280, 800);
}

static void
test_screenshots (void)
{
  screenshot_sizes ("compare");
}

/* ---- A new window ------------------------------------------------------------------- */

static void
open_window (void)
{
  fixture.window = graft_window_new (NULL);
  fixture.project = graft_window_get_project (fixture.window);
  fixture.page = GRAFT_COMPARE_PAGE (graft_window_get_page_widget
                                     (fixture.window, "compare"));
  gtk_window_set_default_size (GTK_WINDOW (fixture.window), 1280, 800);
  graft_window_show_page (fixture.window, "compare");
  gtk_window_present (GTK_WINDOW (fixture.window));
}

static void
test_restart (void)
{
  g_autofree char *trash = graft_project_get_trash_dir (fixture.project);
  g_autofree char *left = g_build_filename (trash, "left-over", NULL);
  GraftLossPlot *plot;
  GraftRunRecord *record;

  /* A run deleted without undo before the restart. */
  g_assert_cmpint (g_mkdir_with_parents (left, 0755), ==, 0);
  gtk_window_destroy (GTK_WINDOW (fixture.window));
  open_window ();
  wait_for_runs (2);
  record = graft_run_list_find
    (GRAFT_RUN_LIST (graft_project_get_runs (fixture.project)),
     fixture.extract_dir);
  g_assert_cmpstr (graft_run_record_get_name (record), ==, NEW_NAME);
  g_assert_false (g_file_test (left, G_FILE_TEST_EXISTS));
  gtk_switch_set_active (GTK_SWITCH (row_control (fixture.extract_dir,
                                                  GTK_TYPE_SWITCH)), TRUE);
  gtk_switch_set_active (GTK_SWITCH (row_control (fixture.finetune_dir,
                                                  GTK_TYPE_SWITCH)), TRUE);
  plot = graft_compare_page_get_plot (fixture.page);
  g_assert_cmpuint (graft_loss_plot_get_n_series (plot), ==, 4);
  for (guint s = 0; s < 4; s++)
    g_assert_cmpuint (graft_loss_plot_get_n_points (plot, s), ==,
                      fixture.n_points[s]);
}

/* ---- run.json written here ------------------------------------------------------------ */

static JsonObject *
read_run_json (const char *dir, JsonParser *parser)
{
  g_autofree char *path = g_build_filename (dir, GRAFT_RUN_JSON, NULL);
  g_autoptr (GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

static void
write_run_json (const char *dir, JsonParser *parser)
{
  g_autofree char *path = g_build_filename (dir, GRAFT_RUN_JSON, NULL);
  g_autofree char *text = graft_json_to_text (json_parser_get_root (parser),
                                              TRUE);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static void
set_trainable (const char *dir, gint64 n)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  json_object_set_int_member (read_run_json (dir, parser),
                              "trainable_parameters", n);
  write_run_json (dir, parser);
}

/* A run folder @name beside the others with the finetune run's run.json
 * saying @status, and not how many parameters it trained. */
static char *
copy_run (const char *name, const char *status)
{
  g_autofree char *runs = graft_project_get_runs_dir (fixture.project);
  char *dir = g_build_filename (runs, name, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *run = read_run_json (fixture.finetune_dir, parser);
  JsonObject *final = json_object_get_object_member (run, "final");

  json_object_set_string_member (run, "status", status);
  json_object_remove_member (run, "trainable_parameters");
  if (final != NULL)
    json_object_remove_member (final, "trainable_parameters");
  write_run_json (dir, parser);
  return dir;
}

/* ---- The table's lines ------------------------------------------------------------------ */

static GtkGrid *
runs_table (void)
{
  guint zero = 0;

  return GTK_GRID (find_widget (GTK_WIDGET (fixture.page), GTK_TYPE_GRID,
                                &zero));
}

static const char *
cell_text (GtkGrid *grid, int column, int row)
{
  GtkWidget *label = gtk_grid_get_child_at (grid, column, row);

  g_assert_true (GTK_IS_LABEL (label));
  return gtk_label_get_text (GTK_LABEL (label));
}

/* The table's line that @heading heads. */
static int
table_line (const char *heading)
{
  GtkGrid *grid = runs_table ();

  for (int row = 1; gtk_grid_get_child_at (grid, 0, row) != NULL; row++)
    if (g_str_equal (cell_text (grid, 0, row), heading))
      return row;
  g_assert_not_reached ();
}

/* ---- Trainable parameters ----------------------------------------------------------------- */

static void
test_trainable (void)
{
  int line;
  /* The app's format, so that the test holds in any locale. */
  g_autofree char *extract = g_strdup_printf ("%.1f\u00a0k",
                                              EXTRACT_PARAMS / 1e3);
  g_autofree char *finetune = g_strdup_printf ("%.1f\u00a0M",
                                               FINETUNE_PARAMS / 1e6);

  set_trainable (fixture.extract_dir, EXTRACT_PARAMS);
  set_trainable (fixture.finetune_dir, FINETUNE_PARAMS);
  reload_runs (2);
  /* Both stay ticked, in the order ticked: extract, then finetune. */
  g_assert_cmpuint (graft_compare_page_get_n_table_rows (fixture.page), ==,
                    2);
  line = table_line ("Trainable parameters");
  g_assert_cmpstr (cell_text (runs_table (), 1, line), ==, extract);
  g_assert_cmpstr (cell_text (runs_table (), 2, line), ==, finetune);
}

/* ---- Resuming ------------------------------------------------------------------------------ */

static char *resumed;   /* the parameter win.resume-run was given */

static void
on_resume_run (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  g_free (resumed);
  resumed = g_variant_dup_string (parameter, NULL);
}

/* The buttons of @dir's row that activate @action. */
static GPtrArray *
row_buttons_for (const char *dir, const char *action)
{
  GPtrArray *found = g_ptr_array_new ();
  GtkWidget *button;

  for (guint i = 0; (button = row_control_nth (dir, GTK_TYPE_BUTTON, i))
       != NULL; i++)
    if (g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (button)),
                   action) == 0)
      g_ptr_array_add (found, button);
  return found;
}

static gboolean
row_says (const char *dir, const char *text)
{
  GtkWidget *label;

  for (guint i = 0; (label = row_control_nth (dir, GTK_TYPE_LABEL, i))
       != NULL; i++)
    if (g_strcmp0 (gtk_label_get_text (GTK_LABEL (label)), text) == 0)
      return TRUE;
  return FALSE;
}

static GraftRunRecord *
record_of (const char *dir)
{
  return graft_run_list_find
    (GRAFT_RUN_LIST (graft_project_get_runs (fixture.project)), dir);
}

/* @dir's row says @status, and offers Resume when @resumable: a click
 * activates win.resume-run with the run's folder. */
static void
assert_resume (const char *dir, const char *status, gboolean resumable)
{
  g_autoptr (GPtrArray) buttons = row_buttons_for (dir, "win.resume-run");
  GVariant *target;

  g_assert_true (row_says (dir, status));
  g_assert_cmpint (graft_run_record_get_resumable (record_of (dir)), ==,
                   resumable);
  g_assert_cmpuint (buttons->len, ==, resumable ? 1 : 0);
  if (!resumable)
    return;
  target = gtk_actionable_get_action_target_value (buttons->pdata[0]);
  g_assert_cmpstr (g_variant_get_string (target, NULL), ==, dir);
  g_clear_pointer (&resumed, g_free);
  g_signal_emit_by_name (buttons->pdata[0], "clicked");
  g_assert_cmpstr (resumed, ==, dir);
}

static void
test_resume (void)
{
  g_autoptr (GSimpleActionGroup) group = g_simple_action_group_new ();
  g_autoptr (GSimpleAction) action = g_simple_action_new
    ("resume-run", G_VARIANT_TYPE_STRING);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) finished = NULL;
  int lock;

  fixture.stopped_dir = copy_run (STOPPED_RUN, "stopped");
  fixture.crashed_dir = copy_run (CRASHED_RUN, "running");
  fixture.live_dir = copy_run (LIVE_RUN, "running");
  /* A trainer, as far as the folder can tell. */
  lock = graft_run_files_lock (fixture.live_dir, &error);
  g_assert_no_error (error);
  /* The window's own win.resume-run would start training: catch it
   * nearer the rows' buttons.  On the list, whose rows are made anew by
   * the reload: GTK 4.8 links a widget's actions to the nearest ancestor
   * that had some when they were made, and the window's class action
   * wins over a "win" group on the window itself. */
  g_signal_connect (action, "activate", G_CALLBACK (on_resume_run), NULL);
  g_action_map_add_action (G_ACTION_MAP (group), G_ACTION (action));
  gtk_widget_insert_action_group (run_list (), "win", G_ACTION_GROUP (group));
  reload_runs (5);
  assert_resume (fixture.stopped_dir, "Stopped", TRUE);
  assert_resume (fixture.crashed_dir, "Interrupted", TRUE);
  assert_resume (fixture.live_dir, "Training", FALSE);
  g_assert_false (graft_run_record_get_resumable
                  (record_of (fixture.finetune_dir)));
  finished = row_buttons_for (fixture.finetune_dir, "win.resume-run");
  g_assert_cmpuint (finished->len, ==, 0);
  /* The trainer is gone without writing run.json again: interrupted. */
  close (lock);
  reload_runs (5);
  assert_resume (fixture.live_dir, "Interrupted", TRUE);
  gtk_widget_insert_action_group (run_list (), "win", NULL);
  g_clear_pointer (&resumed, g_free);
  /* Without the test's group, the button reaches the window's action. */
  reload_runs (5);
  g_ptr_array_unref (finished);
  finished = row_buttons_for (fixture.stopped_dir, "win.resume-run");
  g_assert_cmpuint (finished->len, ==, 1);
  g_assert_true (gtk_widget_is_sensitive (finished->pdata[0]));
}

/* A run.json that does not say how many parameters trained: "—". */
static void
test_trainable_unknown (void)
{
  gtk_switch_set_active (GTK_SWITCH (row_control (fixture.stopped_dir,
                                                  GTK_TYPE_SWITCH)), TRUE);
  g_assert_cmpuint (graft_compare_page_get_n_table_rows (fixture.page), ==,
                    3);
  g_assert_cmpstr (cell_text (runs_table (), 3,
                              table_line ("Trainable parameters")), ==, "—");
}

static void
test_screenshots_resume (void)
{
  screenshot_sizes ("compare-resume");
}

int
main (int argc, char **argv)
{
  int status;

  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  graft_test_app_init (&argc, &argv);
  open_window ();
  graft_test_load_style ();
  g_test_add_func ("/app/compare-page/empty", test_empty);
  g_test_add_func ("/app/compare-page/train-and-tick", test_train_and_tick);
  g_test_add_func ("/app/compare-page/cell-pictures", test_cell_pictures);
  g_test_add_func ("/app/compare-page/changed", test_changed);
  g_test_add_func ("/app/compare-page/rename", test_rename);
  g_test_add_func ("/app/compare-page/details-export", test_details_export);
  g_test_add_func ("/app/compare-page/delete-undo", test_delete_undo);
  g_test_add_func ("/app/compare-page/screenshots", test_screenshots);
  g_test_add_func ("/app/compare-page/restart", test_restart);
  g_test_add_func ("/app/compare-page/trainable", test_trainable);
  g_test_add_func ("/app/compare-page/resume", test_resume);
  g_test_add_func ("/app/compare-page/trainable-unknown",
                   test_trainable_unknown);
  g_test_add_func ("/app/compare-page/screenshots-resume",
                   test_screenshots_resume);
  status = g_test_run ();
  gtk_window_destroy (GTK_WINDOW (fixture.window));
  g_free (fixture.extract_dir);
  g_free (fixture.finetune_dir);
  g_free (fixture.stopped_dir);
  g_free (fixture.crashed_dir);
  g_free (fixture.live_dir);
  return status;
}
