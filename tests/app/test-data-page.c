/* test-data-page.c: the Data page in a real GraftWindow — a drop of one
 * parent folder or of several class folders fills the class rows,
 * renaming a row's entry renames the class, removing a class leaves its
 * files alone (and Undo brings it back), broken files are listed with
 * their reason, Cancel goes back to what was shown, the validation share
 * re-splits.  Screenshots of the empty state, the sample data (light and
 * dark, 800×600 and 1280×800) and the skipped list go to
 * $GRAFT_TEST_SCREENSHOT_DIR when it is set.
 *
 * Needs a display and the app's settings schema (tests/app/meson.build
 * sets them): GTK_A11Y=none GSETTINGS_BACKEND=memory
 * GSETTINGS_SCHEMA_DIR=BUILD/data G_DEBUG=gc-friendly,fatal-warnings,
 * under xvfb-run -a.  XDG_DATA_HOME is a temporary folder
 * (graft_test_app_init).
 */
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "graft-data-page.h"
#include "graft-test-app.h"
#include "graft-thumbnail-strip.h"
#include "graft-window.h"

#define SMALL_WIDTH 800
#define SMALL_HEIGHT 600
#define LARGE_WIDTH 1280
#define LARGE_HEIGHT 800
#define NARROW_WIDTH 360    /* the window's smallest */
#define SCAN_TIMEOUT_MS 60000
#define UI_TIMEOUT_MS 10000
#define SAMPLE_CLASSES 5
#define SAMPLE_PER_CLASS 60
#define PICTURES_PER_TEMP_CLASS 3
/* Long enough for a cancelled scan's callback to have come back. */
#define SETTLE_MS 300

typedef struct
{
  GraftWindow *window;
  GraftDataPage *page;
  GraftProject *project;
  char *samples;
} Fixture;

/* ---- Helpers ------------------------------------------------------------- */

static gboolean
scan_finished (gpointer data)
{
  GraftProject *project = data;

  return !graft_project_get_scanning (project)
         && graft_project_get_scan (project) != NULL;
}

static GObject *
template_child (Fixture *f, const char *name)
{
  GObject *child = gtk_widget_get_template_child (GTK_WIDGET (f->page),
                                                  GRAFT_TYPE_DATA_PAGE, name);

  g_assert_nonnull (child);
  return child;
}

static gboolean
child_visible (Fixture *f, const char *name)
{
  return gtk_widget_get_visible (GTK_WIDGET (template_child (f, name)));
}

static const char *
visible_view (Fixture *f)
{
  GtkStack *stack = GTK_STACK (template_child (f, "stack"));

  return gtk_stack_get_visible_child_name (stack);
}

static const char *
summary_text (Fixture *f)
{
  return gtk_label_get_text (GTK_LABEL (template_child (f, "summary_label")));
}

static guint
count_rows (Fixture *f)
{
  GtkListBox *list = GTK_LIST_BOX (template_child (f, "class_list"));
  guint n = 0;

  while (gtk_list_box_get_row_at_index (list, n) != NULL)
    n++;
  return n;
}

static GtkWidget *
class_row (Fixture *f, guint index)
{
  GtkListBox *list = GTK_LIST_BOX (template_child (f, "class_list"));
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (list, index);

  g_assert_nonnull (row);
  return GTK_WIDGET (row);
}

typedef gboolean (*Match) (GtkWidget *widget, gconstpointer data);

/* The first widget below @widget (depth first) that @match accepts. */
static GtkWidget *
find_widget (GtkWidget *widget, Match match, gconstpointer data)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found;

      if (match (child, data))
        return child;
      if ((found = find_widget (child, match, data)) != NULL)
        return found;
    }
  return NULL;
}

static gboolean
is_type (GtkWidget *widget, gconstpointer data)
{
  return G_TYPE_CHECK_INSTANCE_TYPE (widget, *(const GType *) data);
}

static GtkWidget *
find_descendant (GtkWidget *widget, GType type)
{
  return find_widget (widget, is_type, &type);
}

static gboolean
is_row_titled (GtkWidget *widget, gconstpointer title)
{
  return ADW_IS_ACTION_ROW (widget)
         && g_strcmp0 (adw_preferences_row_get_title
                         (ADW_PREFERENCES_ROW (widget)), title) == 0;
}

static AdwActionRow *
find_action_row (GtkWidget *widget, const char *title)
{
  return (AdwActionRow *) find_widget (widget, is_row_titled, title);
}

static gboolean
is_error_label (GtkWidget *widget, gconstpointer data)
{
  return GTK_IS_LABEL (widget) && gtk_widget_has_css_class (widget, "error")
         && gtk_widget_get_visible (widget);
}

static gboolean
is_label_with (GtkWidget *widget, gconstpointer text)
{
  return GTK_IS_LABEL (widget)
         && strstr (gtk_label_get_text (GTK_LABEL (widget)), text) != NULL;
}

static GraftClassItem *
class_item (Fixture *f, guint index)
{
  GListModel *classes = graft_project_get_classes (f->project);
  g_autoptr (GraftClassItem) item = g_list_model_get_item (classes, index);

  g_assert_nonnull (item);
  return item;   /* the model keeps it */
}

static void
drop_paths (Fixture *f, const char *const *paths)
{
  GtkDropTarget *target = graft_data_page_get_drop_target (f->page);

  g_assert_nonnull (target);
  g_assert_true (graft_test_drop_paths (target, paths));
}

static void
drop_and_wait (Fixture *f, const char *const *paths)
{
  drop_paths (f, paths);
  g_assert_true (graft_project_get_scanning (f->project));
  graft_test_wait_for (scan_finished, f->project, SCAN_TIMEOUT_MS, "the scan");
  g_assert_cmpstr (visible_view (f), ==, "classes");
}

static void
drop_samples (Fixture *f)
{
  const char *paths[] = { f->samples, NULL };

  drop_and_wait (f, paths);
}

static char *
sample_class (Fixture *f, const char *name)
{
  return g_build_filename (f->samples, name, NULL);
}

static guint
count_files (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* ---- Screenshots --------------------------------------------------------- */

static gboolean
all_thumbnails_loaded (gpointer data)
{
  Fixture *f = data;

  for (guint i = 0; i < count_rows (f); i++)
    {
      GtkWidget *strip = find_descendant (class_row (f, i),
                                          GRAFT_TYPE_THUMBNAIL_STRIP);
      guint wanted = MIN (graft_class_item_get_count (class_item (f, i)),
                          GRAFT_THUMBNAIL_STRIP_MAX);

      if (graft_thumbnail_strip_get_n_loaded (GRAFT_THUMBNAIL_STRIP (strip))
          < wanted)
        return FALSE;
    }
  return TRUE;
}

static gboolean
stack_settled (gpointer data)
{
  Fixture *f = data;

  GtkStack *stack = GTK_STACK (template_child (f, "stack"));

  return !gtk_stack_get_transition_running (stack);
}

/* The window once the page's crossfade is over. */
static void
save_screenshot (Fixture *f, const char *name)
{
  graft_test_wait_for (stack_settled, f, UI_TIMEOUT_MS,
                       "the page's transition");
  graft_test_screenshot (GTK_WIDGET (f->window), name);
}

typedef struct
{
  GtkWidget *window;
  int old_width;
} SizeWait;

static gboolean
width_changed (gpointer data)
{
  SizeWait *wait = data;
  int width = gtk_widget_get_width (wait->window);

  return width > 0 && width != wait->old_width;
}

/* Asks for @width × @height; a window that would not fit the screen
 * gets a little less. */
static void
resize (Fixture *f, int width, int height)
{
  SizeWait wait = { GTK_WIDGET (f->window),
                    gtk_widget_get_width (GTK_WIDGET (f->window)) };

  /* Without a window manager a mapped window keeps its size: show it
   * again at the new one. */
  gtk_widget_set_visible (GTK_WIDGET (f->window), FALSE);
  gtk_window_set_default_size (GTK_WINDOW (f->window), width, height);
  gtk_window_present (GTK_WINDOW (f->window));
  graft_test_wait_for (width_changed, &wait, UI_TIMEOUT_MS,
                       "the window's new size");
  g_test_message ("window now %d×%d", gtk_widget_get_width (wait.window),
                  gtk_widget_get_height (wait.window));
}

/* ---- Fixture ------------------------------------------------------------- */

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->window = graft_window_new (NULL);
  gtk_window_set_default_size (GTK_WINDOW (f->window), SMALL_WIDTH,
                               SMALL_HEIGHT);
  gtk_window_present (GTK_WINDOW (f->window));
  gtk_test_widget_wait_for_draw (GTK_WIDGET (f->window));
  f->page = GRAFT_DATA_PAGE (graft_window_get_page_widget (f->window, "data"));
  f->project = graft_window_get_project (f->window);
  f->samples = graft_test_samples_path ("fashion");
  g_assert_true (g_file_test (f->samples, G_FILE_TEST_IS_DIR));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  gtk_window_destroy (GTK_WINDOW (f->window));
  g_free (f->samples);
}

/* ---- Tests --------------------------------------------------------------- */

static void
test_empty (Fixture *f, gconstpointer data)
{
  g_assert_cmpstr (visible_view (f), ==, "empty");
  g_assert_cmpuint (count_rows (f), ==, 0);
  save_screenshot (f, "data-empty");
}

static void
test_drop_parent (Fixture *f, gconstpointer data)
{
  AdwStyleManager *style = adw_style_manager_get_default ();

  drop_samples (f);
  g_assert_cmpuint (count_rows (f), ==, SAMPLE_CLASSES);
  for (guint i = 0; i < SAMPLE_CLASSES; i++)
    g_assert_cmpuint (graft_class_item_get_count (class_item (f, i)), ==,
                      SAMPLE_PER_CLASS);
  g_assert_cmpstr (graft_class_item_get_name (class_item (f, 0)), ==,
                   "ankle_boot");
  graft_test_wait_for (all_thumbnails_loaded, f, UI_TIMEOUT_MS,
                       "the thumbnails");
  save_screenshot (f, "data-sample-800x600");
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  save_screenshot (f, "data-sample-800x600-dark");
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
  resize (f, LARGE_WIDTH, LARGE_HEIGHT);
  save_screenshot (f, "data-sample-1280x800");
  resize (f, NARROW_WIDTH, SMALL_HEIGHT);
  save_screenshot (f, "data-sample-narrow");
}

static void
test_drop_classes (Fixture *f, gconstpointer data)
{
  g_autofree char *bag = sample_class (f, "bag");
  g_autofree char *sandal = sample_class (f, "sandal");
  const char *paths[] = { bag, sandal, NULL };

  drop_and_wait (f, paths);
  g_assert_cmpuint (count_rows (f), ==, 2);
  g_assert_cmpstr (graft_class_item_get_name (class_item (f, 0)), ==, "bag");
  g_assert_cmpstr (graft_class_item_get_name (class_item (f, 1)), ==,
                   "sandal");
}

static void
test_rename (Fixture *f, gconstpointer data)
{
  GtkWidget *row, *entry, *hint;

  drop_samples (f);
  row = class_row (f, 0);
  entry = find_descendant (row, GTK_TYPE_ENTRY);
  g_assert_nonnull (entry);

  gtk_editable_set_text (GTK_EDITABLE (entry), "boots");
  g_assert_cmpstr (graft_class_item_get_name (class_item (f, 0)), ==,
                   "boots");

  /* A name another class has is refused, with a hint; so is none. */
  gtk_editable_set_text (GTK_EDITABLE (entry), "Bag");
  g_assert_cmpstr (graft_class_item_get_name (class_item (f, 0)), ==,
                   "boots");
  hint = find_widget (row, is_error_label, NULL);
  g_assert_nonnull (hint);
  g_test_message ("hint: %s", gtk_label_get_text (GTK_LABEL (hint)));
  g_assert_true (gtk_widget_has_css_class (entry, "error"));
  gtk_editable_set_text (GTK_EDITABLE (entry), "  ");
  g_assert_cmpstr (graft_class_item_get_name (class_item (f, 0)), ==,
                   "boots");
  gtk_editable_set_text (GTK_EDITABLE (entry), "ankle boot");
  g_assert_cmpstr (graft_class_item_get_name (class_item (f, 0)), ==,
                   "ankle boot");
  g_assert_false (gtk_widget_has_css_class (entry, "error"));
  g_assert_null (find_widget (row, is_error_label, NULL));

  /* And the other way round: the item's name shows in the entry. */
  graft_class_item_set_name (class_item (f, 1), "handbag");
  entry = find_descendant (class_row (f, 1), GTK_TYPE_ENTRY);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==,
                   "handbag");
}

static gboolean
is_undo_button (GtkWidget *widget, gconstpointer data)
{
  return GTK_IS_BUTTON (widget)
         && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)),
                       "_Undo") == 0;
}

static GtkWidget *
undo_button (Fixture *f)
{
  return find_widget (GTK_WIDGET (f->window), is_undo_button, NULL);
}

static gboolean
undo_shown (gpointer data)
{
  return undo_button (data) != NULL;
}

/* The row's button leaves the class out; the folder keeps its files; the
 * toast's Undo (graft_project_restore_class) brings it back. */
static void
test_remove (Fixture *f, gconstpointer data)
{
  g_autofree char *bag = sample_class (f, "bag");
  g_autoptr (GraftClassItem) removed = NULL;
  GtkWidget *button;

  drop_samples (f);
  removed = g_object_ref (class_item (f, 1));
  graft_class_item_set_name (removed, "handbag");
  button = find_descendant (class_row (f, 1), GTK_TYPE_BUTTON);
  g_assert_nonnull (button);
  g_signal_emit_by_name (button, "clicked");

  g_assert_cmpuint (count_rows (f), ==, SAMPLE_CLASSES - 1);
  for (guint i = 0; i < SAMPLE_CLASSES - 1; i++)
    g_assert_cmpstr (graft_class_item_get_name (class_item (f, i)), !=,
                     "handbag");
  g_assert_cmpuint (count_files (bag), ==, SAMPLE_PER_CLASS);
  g_assert_nonnull (strstr (summary_text (f), "240 pictures in 4 classes"));

  /* The toast's Undo. */
  graft_test_wait_for (undo_shown, f, UI_TIMEOUT_MS, "the Undo button");
  save_screenshot (f, "data-removed");
  g_signal_emit_by_name (undo_button (f), "clicked");
  g_assert_cmpuint (count_rows (f), ==, SAMPLE_CLASSES);
  g_assert_cmpstr (graft_class_item_get_name (class_item (f, 1)), ==,
                   "handbag");
  g_assert_cmpuint (graft_class_item_get_count (class_item (f, 1)), ==,
                    SAMPLE_PER_CLASS);
  /* Twice is once. */
  graft_project_restore_class (f->project, removed, 1);
  g_assert_cmpuint (count_rows (f), ==, SAMPLE_CLASSES);
  g_assert_cmpuint (count_files (bag), ==, SAMPLE_PER_CLASS);
}

static void
write_file (const char *dir, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

/* @dir/@name with the first few pictures of the sample class @from. */
static void
make_class (Fixture *f, const char *dir, const char *name, const char *from)
{
  g_autofree char *class_dir = g_build_filename (dir, name, NULL);

  g_assert_cmpint (g_mkdir (class_dir, 0755), ==, 0);
  for (guint i = 0; i < PICTURES_PER_TEMP_CLASS; i++)
    {
      g_autofree char *file = g_strdup_printf ("%04u.png", i);
      g_autofree char *source = g_build_filename (f->samples, from, file, NULL);
      g_autofree char *contents = NULL;
      gsize length;

      g_assert_true (g_file_get_contents (source, &contents, &length, NULL));
      g_autofree char *target = g_build_filename (class_dir, file, NULL);
      g_assert_true (g_file_set_contents (target, contents, length, NULL));
    }
}

static void
check_skipped (Fixture *f, const char *name)
{
  GtkWidget *group = GTK_WIDGET (template_child (f, "skipped_group"));
  AdwActionRow *row = find_action_row (group, name);
  const char *subtitle;

  g_assert_nonnull (row);
  subtitle = adw_action_row_get_subtitle (row);
  g_test_message ("%s: %s", name, subtitle);
  g_assert_nonnull (subtitle);
  /* A reason, then the folder it is in. */
  g_assert_nonnull (strstr (subtitle, " — in "));
  g_assert_false (g_str_has_prefix (subtitle, " — in "));
}

static void
scroll_to_end (Fixture *f)
{
  GtkWidget *scrolled
    = gtk_stack_get_child_by_name (GTK_STACK (template_child (f, "stack")),
                                   "classes");
  GtkAdjustment *adjustment
    = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));

  /* Laid out first, so that the adjustment knows the new height. */
  gtk_test_widget_wait_for_draw (GTK_WIDGET (f->window));
  graft_test_spin (SETTLE_MS);
  gtk_adjustment_set_value (adjustment,
                            gtk_adjustment_get_upper (adjustment)
                            - gtk_adjustment_get_page_size (adjustment));
}

static void
test_skipped (Fixture *f, gconstpointer data)
{
  /* In the test's data folder, removed at exit. */
  g_autofree char *dir = g_build_filename (graft_test_app_data_home (),
                                           "clothes", NULL);
  g_autofree char *tops = g_build_filename (dir, "tops", NULL);
  g_autofree char *shoes = g_build_filename (dir, "shoes", NULL);
  const char *paths[] = { dir, NULL };
  GtkWidget *expander;

  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  make_class (f, dir, "tops", "shirt");
  make_class (f, dir, "shoes", "sneaker");
  write_file (tops, "bad.png", "");
  write_file (shoes, "notes.jpg", "Shopping list: socks, more socks.\n");

  drop_and_wait (f, paths);
  g_assert_cmpuint (count_rows (f), ==, 2);
  g_test_message ("summary: %s", summary_text (f));
  g_assert_nonnull (strstr (summary_text (f), "2 skipped"));
  g_assert_true (child_visible (f, "skipped_group"));
  check_skipped (f, "bad.png");
  check_skipped (f, "notes.jpg");
  /* Three pictures a class: the health check has something to say. */
  g_assert_true (child_visible (f, "warnings_list"));

  save_screenshot (f, "data-warnings");
  expander = find_descendant (GTK_WIDGET (template_child (f, "skipped_group")),
                              ADW_TYPE_EXPANDER_ROW);
  g_assert_false (adw_expander_row_get_expanded (ADW_EXPANDER_ROW (expander)));
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (expander), TRUE);
  scroll_to_end (f);
  save_screenshot (f, "data-skipped");

  /* The files are still there, as they were. */
  g_assert_cmpuint (count_files (tops), ==, PICTURES_PER_TEMP_CLASS + 1);
  g_assert_cmpuint (count_files (shoes), ==, PICTURES_PER_TEMP_CLASS + 1);
}

static void
click_cancel (Fixture *f)
{
  g_signal_emit_by_name (template_child (f, "cancel_button"), "clicked");
}

/* Cancel goes back to what was shown: the empty state, or the classes
 * of the last scan — also once the cancelled scan's callback came. */
static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autofree char *bag = sample_class (f, "bag");
  const char *samples[] = { f->samples, NULL };
  const char *one[] = { bag, NULL };

  drop_paths (f, samples);
  g_assert_cmpstr (visible_view (f), ==, "scanning");
  click_cancel (f);
  g_assert_cmpstr (visible_view (f), ==, "empty");
  graft_test_spin (SETTLE_MS);
  g_assert_cmpstr (visible_view (f), ==, "empty");
  g_assert_null (graft_project_get_scan (f->project));

  drop_samples (f);
  drop_paths (f, one);
  g_assert_cmpstr (visible_view (f), ==, "scanning");
  click_cancel (f);
  g_assert_cmpstr (visible_view (f), ==, "classes");
  graft_test_spin (SETTLE_MS);
  g_assert_cmpstr (visible_view (f), ==, "classes");
  g_assert_cmpuint (count_rows (f), ==, SAMPLE_CLASSES);
}

/* The row of class @index says the item's counts. */
static void
check_count_label (Fixture *f, guint index)
{
  GraftClassItem *item = class_item (f, index);
  g_autofree char *counts
    = g_strdup_printf ("%u training, %u validation",
                       graft_class_item_get_n_train (item),
                       graft_class_item_get_n_val (item));

  g_assert_nonnull (find_widget (class_row (f, index), is_label_with, counts));
}

/* The split is per picture (graft-split.h): each class validates about
 * the share asked for, not exactly it. */
static void
test_val_fraction (Fixture *f, gconstpointer data)
{
  GtkSpinButton *spin;
  guint n_val[SAMPLE_CLASSES];

  drop_samples (f);
  spin = GTK_SPIN_BUTTON (template_child (f, "val_spin"));
  g_assert_cmpfloat (gtk_spin_button_get_value (spin), ==, 20);
  for (guint i = 0; i < SAMPLE_CLASSES; i++)
    n_val[i] = graft_class_item_get_n_val (class_item (f, i));

  gtk_spin_button_set_value (spin, 50);
  g_assert_cmpfloat_with_epsilon (graft_project_get_val_fraction (f->project),
                                  0.5, 1e-9);
  for (guint i = 0; i < SAMPLE_CLASSES; i++)
    {
      GraftClassItem *item = class_item (f, i);

      g_assert_cmpuint (graft_class_item_get_n_val (item), >, n_val[i]);
      g_assert_cmpuint (graft_class_item_get_n_val (item)
                        + graft_class_item_get_n_train (item), ==,
                        SAMPLE_PER_CLASS);
      check_count_label (f, i);
    }

  gtk_spin_button_set_value (spin, 5);
  for (guint i = 0; i < SAMPLE_CLASSES; i++)
    {
      g_assert_cmpuint (graft_class_item_get_n_val (class_item (f, i)), <,
                        n_val[i]);
      check_count_label (f, i);
    }

  /* And the other way: the project's share shows in the spin button. */
  graft_project_set_val_fraction (f->project, 0.25);
  g_assert_cmpfloat (gtk_spin_button_get_value (spin), ==, 25);
}

static void
register_tests (void)
{
  g_test_add ("/app/data-page/empty", Fixture, NULL, fixture_set_up,
              test_empty, fixture_tear_down);
  g_test_add ("/app/data-page/drop-parent", Fixture, NULL, fixture_set_up,
              test_drop_parent, fixture_tear_down);
  g_test_add ("/app/data-page/drop-classes", Fixture, NULL, fixture_set_up,
              test_drop_classes, fixture_tear_down);
  g_test_add ("/app/data-page/rename", Fixture, NULL, fixture_set_up,
              test_rename, fixture_tear_down);
  g_test_add ("/app/data-page/remove", Fixture, NULL, fixture_set_up,
              test_remove, fixture_tear_down);
  g_test_add ("/app/data-page/skipped", Fixture, NULL, fixture_set_up,
              test_skipped, fixture_tear_down);
  g_test_add ("/app/data-page/cancel", Fixture, NULL, fixture_set_up,
              test_cancel, fixture_tear_down);
  g_test_add ("/app/data-page/val-fraction", Fixture, NULL, fixture_set_up,
              test_val_fraction, fixture_tear_down);
}

int
main (int argc, char *argv[])
{
  graft_test_app_init (&argc, &argv);
  register_tests ();
  return g_test_run ();
}
