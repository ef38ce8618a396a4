/* test-backbone-page.c: the Backbone page in a real GraftWindow — the
 * bundled backbones with their numbers; choosing one (also before it has
 * loaded, and a missing one) sets the project's backbone and fills the
 * block strip, whose frozen/trainable flags follow the project's mode;
 * importing copies the model into $XDG_DATA_HOME/graft/backbones, where
 * a new window finds it; broken files dropped on the page give toasts and
 * add nothing; corrected preprocessing persists; removing deletes only
 * the copy.  Screenshots go to $GRAFT_TEST_SCREENSHOT_DIR when set.
 *
 * Environment (meson sets it): run under `xvfb-run -a` with
 * GTK_A11Y=none, GSETTINGS_BACKEND=memory,
 * GSETTINGS_SCHEMA_DIR=BUILD/data, G_DEBUG=gc-friendly,fatal-warnings;
 * graft_test_app_init gives the process a private XDG_DATA_HOME.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "graft-backbone-page.h"
#include "graft-backbones.h"
#include "graft-block-strip.h"
#include "graft-preprocessing-dialog.h"
#include "graft-test-app.h"
#include "graft-window.h"

#define TIMEOUT_MS 60000
#define IMPORTED_NAME "My Model.onnx"
#define SECOND_COPY "My Model-2.onnx"
#define N_BUNDLED 2
#define GARBAGE_BYTES 4096
#define TRUNCATED_BYTES 2000
#define UNFREEZE 2
#define CAFFE_MEAN_BLUE 103.939
#define FOLDED_WIDTH 700   /* the list and the details take turns below */

typedef struct
{
  GraftWindow *window;
  GraftBackbonePage *page;
  GraftProject *project;
} Fixture;

/* ---- Toasts: graft_toast logs each one as a message ------------------------- */

static GPtrArray *toasts;

static void
record_toast (const char *domain, GLogLevelFlags level, const char *message,
              gpointer data)
{
  g_ptr_array_add (toasts, g_strdup (message));
}

static gboolean
has_toast (const char *pattern)
{
  for (guint i = 0; i < toasts->len; i++)
    if (g_pattern_match_simple (pattern, g_ptr_array_index (toasts, i)))
      return TRUE;
  return FALSE;
}

/* ---- The window --------------------------------------------------------------- */

static gboolean
page_idle (gpointer data)
{
  return !graft_backbone_page_is_busy (data);
}

static void
wait_idle (Fixture *f)
{
  graft_test_wait_for (page_idle, f->page, TIMEOUT_MS,
                       "the backbone page to finish loading");
}

static void
open_window (Fixture *f)
{
  f->window = graft_window_new (NULL);
  f->project = graft_window_get_project (f->window);
  f->page = GRAFT_BACKBONE_PAGE (graft_window_get_page_widget (f->window,
                                                               "backbone"));
  gtk_window_present (GTK_WINDOW (f->window));
  graft_window_show_page (f->window, "backbone");
}

static void
close_window (Fixture *f)
{
  gtk_window_destroy (GTK_WINDOW (f->window));
  graft_test_spin (50);
}

static guint
n_rows (Fixture *f)
{
  GtkListBox *list = graft_backbone_page_get_list (f->page);
  guint n = 0;

  while (gtk_list_box_get_row_at_index (list, n) != NULL)
    n++;
  return n;
}

static AdwActionRow *
find_row (Fixture *f, const char *spec)
{
  GtkListBox *list = graft_backbone_page_get_list (f->page);
  GtkListBoxRow *row;

  for (int i = 0; (row = gtk_list_box_get_row_at_index (list, i)) != NULL;
       i++)
    if (g_strcmp0 (graft_backbone_page_get_row_spec (row), spec) == 0)
      return ADW_ACTION_ROW (row);
  return NULL;
}

static const char *
chosen_spec (Fixture *f)
{
  GraftBackbone *backbone = graft_project_get_backbone (f->project);

  return backbone != NULL ? graft_backbone_get_spec (backbone) : NULL;
}

static char *
imported_path (const char *name)
{
  return g_build_filename (graft_test_app_data_home (), "graft", "backbones",
                           name, NULL);
}

/* A visible button inside @widget (depth first) whose label, or tooltip
 * for an icon button, is @text. */
static GtkWidget *
find_button (GtkWidget *widget, const char *text)
{
  if (GTK_IS_BUTTON (widget) && gtk_widget_is_visible (widget)
      && (g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), text) == 0
          || g_strcmp0 (gtk_widget_get_tooltip_text (widget), text) == 0))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_button (child, text);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* graft_test_screenshot reads the size before it waits for a frame: a
 * window presented a moment ago has none yet. */
static void
screenshot (GtkWidget *widget, const char *name)
{
  gtk_test_widget_wait_for_draw (widget);
  graft_test_screenshot (widget, name);
}

/* ---- Bundled backbones ------------------------------------------------------- */

static void
assert_row_numbers (Fixture *f, const char *spec)
{
  AdwActionRow *row = find_row (f, spec);
  g_autoptr (GraftBackbone) backbone = graft_backbone_load (spec, NULL, NULL);
  g_autofree char *shape = NULL;
  const char *subtitle;
  guint c, h, w;

  g_assert_nonnull (row);
  g_assert_nonnull (backbone);
  graft_backbone_get_cut_shape (backbone, &c, &h, &w);
  shape = g_strdup_printf ("Bottleneck %u×%u×%u", c, h, w);
  subtitle = adw_action_row_get_subtitle (row);
  g_test_message ("%s: %s", spec, subtitle);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)),
                   ==, graft_backbone_get_name (backbone));
  g_assert_nonnull (strstr (subtitle, "28×28 RGB"));
  g_assert_nonnull (strstr (subtitle, "\u00a0k parameters"));
  g_assert_nonnull (strstr (subtitle, shape));
  g_assert_nonnull (strstr (subtitle, "Bundled"));
  g_assert_true (gtk_list_box_row_get_selectable (GTK_LIST_BOX_ROW (row)));
}

static void
test_bundled (void)
{
  Fixture f;

  open_window (&f);
  wait_idle (&f);
  g_assert_cmpuint (n_rows (&f), ==, N_BUNDLED);
  assert_row_numbers (&f, "fashion-cnn");
  assert_row_numbers (&f, "fashion-resnet");
  /* Nothing chose one yet (no settings in tests): the default. */
  g_assert_cmpstr (chosen_spec (&f), ==, "fashion-resnet");
  g_assert_cmpuint (graft_block_strip_get_n_blocks (GRAFT_BLOCK_STRIP (
    graft_backbone_page_get_strip (f.page))), ==,
    graft_backbone_get_n_blocks (graft_project_get_backbone (f.project)));
  screenshot (GTK_WIDGET (f.window), "backbone-bundled");
  close_window (&f);
}

/* ---- Choosing, and the strip following the mode -------------------------------- */

static void
assert_trainable_from (GraftBlockStrip *strip, guint first)
{
  guint n = graft_block_strip_get_n_blocks (strip);

  for (guint i = 0; i < n; i++)
    g_assert_cmpint (graft_block_strip_is_trainable (strip, i), ==, i >= first);
}

static void
test_select (void)
{
  Fixture f;
  GraftBlockStrip *strip;
  guint n;

  open_window (&f);
  /* Before anything has loaded: remembered, chosen when it arrives. */
  graft_backbone_page_select (f.page, "fashion-cnn");
  wait_idle (&f);
  g_assert_cmpstr (chosen_spec (&f), ==, "fashion-cnn");
  g_assert_cmpstr (graft_backbone_page_get_row_spec (gtk_list_box_get_selected_row
                     (graft_backbone_page_get_list (f.page))), ==,
                   "fashion-cnn");

  strip = GRAFT_BLOCK_STRIP (graft_backbone_page_get_strip (f.page));
  n = graft_block_strip_get_n_blocks (strip);
  g_assert_cmpuint (n, >, UNFREEZE);
  g_assert_cmpuint (n, ==, graft_backbone_get_n_blocks
                             (graft_project_get_backbone (f.project)));
  graft_project_set_mode (f.project, GRAFT_RUN_MODE_EXTRACT);
  assert_trainable_from (strip, n);
  graft_project_set_mode (f.project, GRAFT_RUN_MODE_FINETUNE);
  graft_project_set_unfreeze (f.project, UNFREEZE);
  assert_trainable_from (strip, n - UNFREEZE);
  g_assert_true (graft_block_strip_is_trainable (strip, n - 1));
  g_assert_false (graft_block_strip_is_trainable (strip, n - UNFREEZE - 1));
  graft_project_set_unfreeze (f.project, GRAFT_UNFREEZE_ALL);
  assert_trainable_from (strip, 0);
  graft_project_set_mode (f.project, GRAFT_RUN_MODE_PROGRESSIVE);
  assert_trainable_from (strip, n);

  /* Another one, then one that does not exist: the first bundled. */
  graft_backbone_page_select (f.page, "fashion-resnet");
  g_assert_cmpstr (chosen_spec (&f), ==, "fashion-resnet");
  g_assert_cmpuint (graft_block_strip_get_n_blocks (strip), ==,
                    graft_backbone_get_n_blocks
                      (graft_project_get_backbone (f.project)));
  graft_backbone_page_select (f.page, "no-such-backbone");
  g_assert_cmpstr (chosen_spec (&f), ==, "fashion-cnn");
  graft_project_set_mode (f.project, GRAFT_RUN_MODE_EXTRACT);
  close_window (&f);
}

/* ---- Importing ------------------------------------------------------------------- */

static char *scratch;   /* the user's own folder, outside Graft's */

static char *
write_scratch (const char *name, const char *bytes, gsize length)
{
  char *path = g_build_filename (scratch, name, NULL);

  g_assert_true (g_file_set_contents (path, bytes, length, NULL));
  return path;
}

static char *
copy_bundled_as (const char *name, gsize length)
{
  g_autofree char *bundled = graft_backbones_resolve ("fashion-cnn", NULL);
  g_autofree char *bytes = NULL;
  gsize size;

  g_assert_true (g_file_get_contents (bundled, &bytes, &size, NULL));
  return write_scratch (name, bytes, MIN (size, length));
}

typedef struct
{
  GraftProject *project;
  const char *spec;
} Choice;

static gboolean
chosen_is (gpointer data)
{
  Choice *choice = data;
  GraftBackbone *backbone = graft_project_get_backbone (choice->project);

  return backbone != NULL
    && g_strcmp0 (graft_backbone_get_spec (backbone), choice->spec) == 0;
}

static void
import_and_wait (Fixture *f, const char *path, const char *expect)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  Choice choice = { f->project, expect };

  graft_backbone_page_import (f->page, file);
  g_assert_true (graft_backbone_page_is_busy (f->page));
  graft_test_wait_for (chosen_is, &choice, TIMEOUT_MS, "the imported copy");
  wait_idle (f);
}

static void
test_import (void)
{
  Fixture f;
  g_autofree char *source = copy_bundled_as (IMPORTED_NAME, G_MAXSIZE);
  g_autofree char *copy = imported_path (IMPORTED_NAME);
  g_autofree char *second = imported_path (SECOND_COPY);
  AdwActionRow *row;

  open_window (&f);
  wait_idle (&f);
  import_and_wait (&f, source, copy);
  g_assert_true (g_file_test (copy, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (n_rows (&f), ==, N_BUNDLED + 1);
  g_assert_true (has_toast ("Imported Fashion CNN (Graft)"));
  /* The same name again: a second copy beside the first. */
  import_and_wait (&f, source, second);
  g_assert_true (g_file_test (second, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (n_rows (&f), ==, N_BUNDLED + 2);
  screenshot (GTK_WIDGET (f.window), "backbone-imported");
  close_window (&f);

  /* A restart: a new window lists both copies, and choosing one by its
   * path (as the settings do) works. */
  open_window (&f);
  graft_backbone_page_select (f.page, copy);
  wait_idle (&f);
  g_assert_cmpuint (n_rows (&f), ==, N_BUNDLED + 2);
  g_assert_cmpstr (chosen_spec (&f), ==, copy);
  row = find_row (&f, second);
  g_assert_nonnull (row);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (row),
                            "Imported from " SECOND_COPY));
  close_window (&f);
}

/* Garbage bytes, a truncated model, a text file named .onnx, and a file
 * that is not .onnx at all; NULL-terminated, free with g_strfreev. */
static char **
write_broken_files (void)
{
  g_autofree char *garbage = g_malloc (GARBAGE_BYTES);
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  char **paths = g_new0 (char *, 5);

  for (guint i = 0; i < GARBAGE_BYTES; i++)
    garbage[i] = (char) g_rand_int_range (rand, 0, 256);
  paths[0] = write_scratch ("broken.onnx", garbage, GARBAGE_BYTES);
  paths[1] = copy_bundled_as ("truncated.onnx", TRUNCATED_BYTES);
  paths[2] = write_scratch ("x.onnx", "not a model\n", strlen ("not a model\n"));
  paths[3] = write_scratch ("notes.txt", "hello\n", strlen ("hello\n"));
  return paths;
}

static void
test_broken (void)
{
  Fixture f;
  g_auto (GStrv) paths = write_broken_files ();
  g_autofree char *backbones = imported_path ("");
  g_autoptr (GDir) dir = NULL;
  const char *name;
  guint before;

  open_window (&f);
  wait_idle (&f);
  before = n_rows (&f);
  {
    GtkDropTarget *target = graft_backbone_page_get_drop_target (f.page);
    GdkDragAction action = 0;

    /* The page lights up while something is dragged over it. */
    g_signal_emit_by_name (target, "enter", 10.0, 10.0, &action);
    g_assert_cmpint (action, ==, GDK_ACTION_COPY);
    g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (f.page),
                                             "drop-highlight"));
    g_assert_true (graft_test_drop_paths (target,
                                          (const char *const *) paths));
    g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (f.page),
                                              "drop-highlight"));
  }
  wait_idle (&f);
  for (guint i = 0; i < toasts->len; i++)
    g_test_message ("toast: %s", (char *) g_ptr_array_index (toasts, i));
  g_assert_true (has_toast ("Could not import broken.onnx: ?*"));
  g_assert_true (has_toast ("Could not import truncated.onnx: ?*"));
  g_assert_true (has_toast ("Could not import x.onnx: ?*"));
  g_assert_true (has_toast ("notes.txt is not an ONNX model*"));
  g_assert_cmpuint (n_rows (&f), ==, before);

  /* Nothing was written, and the page still works. */
  dir = g_dir_open (backbones, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    g_assert_true (g_str_has_prefix (name, "My Model"));
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (f.window)));
  graft_backbone_page_select (f.page, "fashion-resnet");
  g_assert_cmpstr (chosen_spec (&f), ==, "fashion-resnet");
  close_window (&f);
}

static AdwMessageDialog *
find_message_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();   /* not ours */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GObject) window = g_list_model_get_item (toplevels, i);
      if (ADW_IS_MESSAGE_DIALOG (window))
        return ADW_MESSAGE_DIALOG (window);
    }
  return NULL;
}

static gboolean
file_gone (gpointer data)
{
  return !g_file_test (data, G_FILE_TEST_EXISTS);
}

/* Answers the confirmation that @button opens with @response. */
static void
confirm_with (GtkWidget *button, const char *response)
{
  AdwMessageDialog *dialog;

  g_signal_emit_by_name (button, "clicked");
  dialog = find_message_dialog ();
  g_assert_nonnull (dialog);
  adw_message_dialog_response (dialog, response);
  gtk_window_destroy (GTK_WINDOW (dialog));
}

/* Broken files in Graft's own folder (written by something else): their
 * rows say why and cannot be chosen, names with "&" and "<" show as
 * they are, and a broken copy can be removed from its row. */
static void
test_broken_in_folder (void)
{
  Fixture f;
  g_autofree char *corrupt = imported_path ("corrupt.onnx");
  g_autofree char *odd = imported_path ("R&D <odd>.onnx");
  AdwActionRow *row;

  g_assert_true (g_file_set_contents (corrupt, "garbage", -1, NULL));
  g_assert_true (g_file_set_contents (odd, "garbage", -1, NULL));
  open_window (&f);
  graft_backbone_page_select (f.page, corrupt);
  wait_idle (&f);
  row = find_row (&f, corrupt);
  g_assert_nonnull (row);
  g_test_message ("broken row: %s", adw_action_row_get_subtitle (row));
  g_assert_false (gtk_list_box_row_get_selectable (GTK_LIST_BOX_ROW (row)));
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (row),
                            "not an ONNX model"));
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW
                     (find_row (&f, odd))), ==, "R&D <odd>.onnx");
  /* Asked for by the settings, it falls back to the first bundled one. */
  g_assert_cmpstr (chosen_spec (&f), ==, "fashion-cnn");
  screenshot (GTK_WIDGET (f.window), "backbone-broken-rows");

  confirm_with (find_button (GTK_WIDGET (row), "Remove corrupt.onnx"),
                "remove");
  graft_test_wait_for (file_gone, corrupt, TIMEOUT_MS,
                       "the broken copy's deletion");
  graft_test_spin (100);
  g_assert_null (find_row (&f, corrupt));
  close_window (&f);
  g_assert_cmpint (g_remove (odd), ==, 0);
}

/* ---- Preprocessing and removal ---------------------------------------------------- */

static void
assert_caffe (GraftBackbone *backbone)
{
  GraftPreprocessing pre;

  graft_backbone_get_preprocessing (backbone, &pre);
  g_assert_true (pre.from_file);
  g_assert_true (pre.bgr);
  g_assert_cmpfloat_with_epsilon (pre.scale, 1.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (pre.mean[0], CAFFE_MEAN_BLUE, 1e-3);
  g_assert_cmpfloat_with_epsilon (pre.std[0], 1.0, 1e-9);
}

/* Whether a visible row titled "@prefix…" is in @widget. */
static gboolean
shows_row (GtkWidget *widget, const char *prefix)
{
  if (ADW_IS_PREFERENCES_ROW (widget) && gtk_widget_is_visible (widget)
      && g_str_has_prefix (adw_preferences_row_get_title
                             (ADW_PREFERENCES_ROW (widget)), prefix))
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (shows_row (child, prefix))
      return TRUE;
  return FALSE;
}

/* The corrected preprocessing is in the file, and so in a new window. */
static void
assert_caffe_kept (const char *copy)
{
  g_autoptr (GraftBackbone) reloaded = graft_backbone_load (copy, NULL, NULL);
  Fixture f;

  g_assert_nonnull (reloaded);
  assert_caffe (reloaded);
  open_window (&f);
  graft_backbone_page_select (f.page, copy);
  wait_idle (&f);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (find_row (&f, copy)),
                            "BGR"));
  g_assert_false (shows_row (GTK_WIDGET (f.page), "Graft assumed"));
  close_window (&f);
}

/* A model that says nothing of its preprocessing (torch-opset11.onnx,
 * from the importer's tests): Graft assumes ImageNet and says so, until
 * the user sets it. */
static void
test_preprocessing (void)
{
  Fixture f;
  g_autofree char *fixture = g_build_filename (GRAFT_TEST_ONNX_DIR,
                                               "torch-opset11.onnx", NULL);
  g_autofree char *source = g_build_filename (scratch, "torch.onnx", NULL);
  g_autofree char *copy = imported_path ("torch.onnx");
  g_autofree char *bytes = NULL;
  gsize size;
  GtkWindow *dialog;

  g_assert_true (g_file_get_contents (fixture, &bytes, &size, NULL));
  g_assert_true (g_file_set_contents (source, bytes, size, NULL));
  open_window (&f);
  graft_backbone_page_select (f.page, "fashion-cnn");
  wait_idle (&f);
  /* Bundled models are read-only, and say how they were trained. */
  g_assert_null (find_button (GTK_WIDGET (f.page), "_Edit Preprocessing…"));
  g_assert_null (graft_backbone_page_edit_preprocessing (f.page));
  g_assert_false (shows_row (GTK_WIDGET (f.page), "Graft assumed"));

  import_and_wait (&f, source, copy);
  g_assert_true (shows_row (GTK_WIDGET (f.page), "Graft assumed"));
  screenshot (GTK_WIDGET (f.window), "backbone-assumed-preprocessing");
  g_assert_nonnull (find_button (GTK_WIDGET (f.page), "_Edit Preprocessing…"));
  dialog = graft_backbone_page_edit_preprocessing (f.page);
  g_assert_nonnull (dialog);
  gtk_test_widget_wait_for_draw (GTK_WIDGET (dialog));
  graft_preprocessing_dialog_apply_preset (GRAFT_PREPROCESSING_DIALOG (dialog),
                                           GRAFT_PRESET_KERAS_CAFFE);
  screenshot (GTK_WIDGET (dialog), "backbone-preprocessing-dialog");
  graft_preprocessing_dialog_save (GRAFT_PREPROCESSING_DIALOG (dialog));
  wait_idle (&f);
  g_assert_true (has_toast ("Saved the preprocessing of *"));
  g_assert_cmpstr (chosen_spec (&f), ==, copy);
  assert_caffe (graft_project_get_backbone (f.project));
  g_assert_false (shows_row (GTK_WIDGET (f.page), "Graft assumed"));
  close_window (&f);
  assert_caffe_kept (copy);
}

static void
test_remove (void)
{
  Fixture f;
  g_autofree char *first = imported_path (IMPORTED_NAME);
  g_autofree char *second = imported_path (SECOND_COPY);
  g_autofree char *source = g_build_filename (scratch, IMPORTED_NAME, NULL);
  GtkWidget *remove;
  guint before;

  open_window (&f);
  graft_backbone_page_select (f.page, "fashion-resnet");
  wait_idle (&f);
  g_assert_null (find_button (GTK_WIDGET (f.page), "_Remove…"));
  graft_backbone_page_select (f.page, second);
  remove = find_button (GTK_WIDGET (f.page), "_Remove…");
  g_assert_nonnull (remove);
  before = n_rows (&f);
  /* Cancel keeps it. */
  confirm_with (remove, "cancel");
  g_assert_true (g_file_test (second, G_FILE_TEST_EXISTS));
  confirm_with (remove, "remove");
  graft_test_wait_for (file_gone, second, TIMEOUT_MS, "the copy's deletion");
  graft_test_spin (100);
  g_assert_null (find_row (&f, second));
  g_assert_nonnull (find_row (&f, first));
  g_assert_cmpuint (n_rows (&f), ==, before - 1);
  g_assert_cmpstr (chosen_spec (&f), ==, "fashion-cnn");
  g_assert_true (has_toast ("Removed *"));
  /* The user's own file is untouched. */
  g_assert_true (g_file_test (source, G_FILE_TEST_IS_REGULAR));
  close_window (&f);
}

/* ---- How it looks --------------------------------------------------------------- */

/* A window of each size, opened at that size: without a window manager
 * a mapped window does not follow a new default size. */
static void
shoot (int width, int height, const char *style)
{
  g_autofree char *copy = imported_path (IMPORTED_NAME);
  g_autofree char *name = g_strdup_printf ("backbone-%dx%d-%s", width, height,
                                           style);
  Fixture f;

  f.window = graft_window_new (NULL);
  f.project = graft_window_get_project (f.window);
  f.page = GRAFT_BACKBONE_PAGE (graft_window_get_page_widget (f.window,
                                                              "backbone"));
  gtk_window_set_default_size (GTK_WINDOW (f.window), width, height);
  gtk_window_present (GTK_WINDOW (f.window));
  graft_window_show_page (f.window, "backbone");
  graft_backbone_page_select (f.page, copy);
  graft_project_set_mode (f.project, GRAFT_RUN_MODE_FINETUNE);
  graft_project_set_unfreeze (f.project, UNFREEZE);
  wait_idle (&f);
  graft_test_spin (300);
  g_test_message ("%s: %d×%d", name, gtk_widget_get_width (GTK_WIDGET (f.window)),
                  gtk_widget_get_height (GTK_WIDGET (f.window)));
  screenshot (GTK_WIDGET (f.window), name);
  if (width < FOLDED_WIDTH)
    {
      GtkListBox *list = graft_backbone_page_get_list (f.page);
      g_autofree char *details = g_strconcat (name, "-details", NULL);

      /* Folded, choosing a row shows its details in place of the list. */
      g_signal_emit_by_name (list, "row-activated",
                             gtk_list_box_get_selected_row (list));
      graft_test_spin (500);
      screenshot (GTK_WIDGET (f.window), details);
    }
  close_window (&f);
}

static void
test_screenshots (void)
{
  static const int sizes[][2] = { { 1280, 800 }, { 800, 600 }, { 600, 600 } };
  AdwStyleManager *style = adw_style_manager_get_default ();

  if (g_getenv ("GRAFT_TEST_SCREENSHOT_DIR") == NULL)
    {
      g_test_skip ("GRAFT_TEST_SCREENSHOT_DIR is not set");
      return;
    }
  for (guint dark = 0; dark < 2; dark++)
    {
      adw_style_manager_set_color_scheme (style, dark
                                          ? ADW_COLOR_SCHEME_FORCE_DARK
                                          : ADW_COLOR_SCHEME_FORCE_LIGHT);
      for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
        shoot (sizes[i][0], sizes[i][1], dark ? "dark" : "light");
    }
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
}

/* The user's folder holds only files, written by these tests. */
static void
remove_scratch (void)
{
  g_autoptr (GDir) dir = g_dir_open (scratch, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (scratch, name, NULL);
      g_remove (path);
    }
  g_rmdir (scratch);
  g_clear_pointer (&scratch, g_free);
}

int
main (int argc, char **argv)
{
  int status;

  graft_test_app_init (&argc, &argv);
  scratch = g_dir_make_tmp ("graft-backbone-user-XXXXXX", NULL);
  toasts = g_ptr_array_new_with_free_func (g_free);
  g_log_set_handler ("graft-window", G_LOG_LEVEL_MESSAGE, record_toast, NULL);

  /* In order: each builds on the imports of the one before. */
  g_test_add_func ("/app/backbone-page/bundled", test_bundled);
  g_test_add_func ("/app/backbone-page/select", test_select);
  g_test_add_func ("/app/backbone-page/import", test_import);
  g_test_add_func ("/app/backbone-page/broken", test_broken);
  g_test_add_func ("/app/backbone-page/broken-in-folder",
                   test_broken_in_folder);
  g_test_add_func ("/app/backbone-page/preprocessing", test_preprocessing);
  g_test_add_func ("/app/backbone-page/screenshots", test_screenshots);
  g_test_add_func ("/app/backbone-page/remove", test_remove);
  status = g_test_run ();
  g_ptr_array_unref (toasts);
  remove_scratch ();
  return status;
}
