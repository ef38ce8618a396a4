/* test-window.c: the app's shell — its stages, opening files from the
 * command line, toasts, the About and shortcuts windows, the window size
 * kept in GSettings, projects (choices kept in the project's file,
 * New, Open, Save As and the recent ones), and a run trained in PyTorch
 * imported. */
#include <string.h>
#include <glib/gstdio.h>

#include "graft-application.h"
#include "graft-project-file.h"
#include "graft-run-list.h"
#include "graft-run-record.h"
#include "graft-test-app.h"
#include "graft-test-cli.h"
#include "graft-window.h"

static gboolean
scan_done (gpointer data)
{
  GraftProject *project = data;

  return !graft_project_get_scanning (project)
    && graft_project_get_scan (project) != NULL;
}

static void
test_pages (void)
{
  GraftWindow *window = graft_window_new (NULL);
  const char *names[] = { "data", "backbone", "train" };

  gtk_window_present (GTK_WINDOW (window));
  g_assert_cmpstr (graft_window_get_page (window), ==, "data");
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_assert_nonnull (graft_window_get_page_widget (window, names[i]));
      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window),
                                                 "win.show-page", "s",
                                                 names[i]));
      g_assert_cmpstr (graft_window_get_page (window), ==, names[i]);
    }
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_open_folder (void)
{
  GraftWindow *window = graft_window_new (NULL);
  GraftProject *project = graft_window_get_project (window);
  g_autofree char *samples = graft_test_samples_path ("fashion");
  g_autoptr (GFile) file = g_file_new_for_path (samples);

  gtk_window_present (GTK_WINDOW (window));
  graft_window_show_page (window, "train");
  graft_window_open_files (window, &file, 1);
  /* The scan runs in the background: the window is back at Data and
   * the project busy, but nothing waited. */
  g_assert_cmpstr (graft_window_get_page (window), ==, "data");
  g_assert_true (graft_project_get_scanning (project));
  graft_test_wait_for (scan_done, project, 60000, "the sample data's scan");
  g_assert_cmpuint (g_list_model_get_n_items
                    (graft_project_get_classes (project)), ==, 5);
  g_assert_cmpuint (graft_project_get_n_pictures (project), ==, 300);
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_missing_folder (void)
{
  GraftWindow *window = graft_window_new (NULL);
  GraftProject *project = graft_window_get_project (window);
  g_autoptr (GFile) file = g_file_new_for_path ("/nonexistent/graft/data");

  gtk_window_present (GTK_WINDOW (window));
  g_test_expect_message ("graft-window", G_LOG_LEVEL_MESSAGE,
                         "*/nonexistent/graft/data*");
  graft_window_open_files (window, &file, 1);
  graft_test_wait_for ((GraftTestCondition) graft_project_get_scanning,
                       project, 1, "nothing");
  while (graft_project_get_scanning (project))
    g_main_context_iteration (NULL, TRUE);
  g_test_assert_expected_messages ();
  g_assert_null (graft_project_get_scan (project));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A backbone chosen by something other than the Backbone page (the
 * command line, a test) is shown there all the same. */
static void
test_backbone_elsewhere (void)
{
  GraftWindow *window = graft_window_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftBackbone) backbone = graft_backbone_load ("fashion-cnn",
                                                           NULL, &error);

  g_assert_no_error (error);
  gtk_window_present (GTK_WINDOW (window));
  graft_window_show_page (window, "backbone");
  graft_project_set_backbone (graft_window_get_project (window), backbone);
  graft_test_spin (500);
  graft_project_set_backbone (graft_window_get_project (window), NULL);
  graft_test_spin (100);
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_toast (void)
{
  GraftWindow *window = graft_window_new (NULL);

  gtk_window_present (GTK_WINDOW (window));
  g_test_expect_message ("graft-window", G_LOG_LEVEL_MESSAGE,
                         "Something to say: 42");
  graft_toast (graft_window_get_page_widget (window, "train"),
               "Something to say: %d", 42);
  g_test_assert_expected_messages ();
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- A run trained elsewhere ----------------------------------------------- */

static gboolean
runs_loaded (gpointer data)
{
  return !graft_run_list_get_loading (data);
}

static gboolean
has_runs (gpointer data)
{
  GListModel *runs = g_object_get_data (data, "runs");

  return g_list_model_get_n_items (runs) >= GPOINTER_TO_UINT (
    g_object_get_data (data, "want"));
}

/* What a PyTorch project's train.py leaves, imported from the window:
 * a new run of the project, with the model and head files of a Graft
 * run, shown in Compare; the folder train.py wrote is only read.  A
 * folder that is no such output gets a toast and leaves no run. */
static void
test_import_run (void)
{
  GraftWindow *window = graft_window_new (NULL);
  GraftProject *project = graft_window_get_project (window);
  g_autofree char *run = graft_test_make_run ("to-export");
  g_autofree char *project_dir = g_build_filename (graft_test_app_data_home (),
                                                   "pytorch-project", NULL);
  g_autofree char *trained = g_build_filename (graft_test_app_data_home (),
                                               "trained", NULL);
  g_autofree char *graft = g_build_filename (trained, "graft", NULL);
  g_autofree char *from = g_build_filename (project_dir, "graft", NULL);
  g_autofree char *written = g_build_filename (trained, "model.onnx", NULL);
  const char *argv[] = { GRAFT_TEST_CLI, "export", "--run", run, "--format",
                         "pytorch", "--out", project_dir, NULL };
  GListModel *runs = graft_project_get_runs (project);
  GraftRunRecord *newest = NULL;
  guint before;

  g_free (graft_test_run_cli (argv));
  g_assert_cmpint (g_mkdir_with_parents (graft, 0755), ==, 0);
  graft_test_copy_into (run, "run.json", trained);
  graft_test_copy_into (project_dir, "weights.safetensors", trained);
  graft_test_copy_into (from, "model.onnx", graft);
  graft_test_copy_into (from, "head.json", graft);

  gtk_window_present (GTK_WINDOW (window));
  graft_project_reload_runs (project);
  graft_test_wait_for (runs_loaded, runs, 60000, "the project's runs");
  before = g_list_model_get_n_items (runs);

  /* No run.json: a toast, no new run. */
  g_test_expect_message ("graft-window", G_LOG_LEVEL_MESSAGE,
                         "Could not import the run: *has no run.json*");
  graft_window_import_run (window, graft);
  graft_test_spin (1000);
  g_test_assert_expected_messages ();
  graft_project_reload_runs (project);
  graft_test_wait_for (runs_loaded, runs, 60000, "the project's runs");
  g_assert_cmpuint (g_list_model_get_n_items (runs), ==, before);

  g_test_expect_message ("graft-window", G_LOG_LEVEL_MESSAGE,
                         "Imported *: its curves are in Compare");
  g_object_set_data (G_OBJECT (runs), "runs", runs);
  g_object_set_data (G_OBJECT (runs), "want", GUINT_TO_POINTER (before + 1));
  graft_window_import_run (window, trained);
  graft_test_wait_for (has_runs, runs, 60000, "the imported run");
  graft_test_spin (200);
  g_test_assert_expected_messages ();
  g_assert_cmpstr (graft_window_get_page (window), ==, "compare");
  for (guint i = 0; i < g_list_model_get_n_items (runs); i++)
    {
      g_autoptr (GraftRunRecord) r = g_list_model_get_item (runs, i);
      const char *dir = graft_run_record_get_dir (r);

      if (g_strcmp0 (dir, run) != 0 && strstr (dir, "-extract") != NULL)
        newest = r;
    }
  g_assert_nonnull (newest);
  {
    static const char *const files[] = { "model.onnx", "head.onnx",
                                         "head.safetensors", "head.json" };

    for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
      {
        g_autofree char *path = g_build_filename (
          graft_run_record_get_dir (newest), files[i], NULL);

        g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
      }
  }
  /* train.py's folder is as it was. */
  g_assert_false (g_file_test (written, G_FILE_TEST_EXISTS));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- The application ------------------------------------------------------------ */

typedef struct
{
  GraftApplication *app;
  GraftWindow *window;
  gboolean about, shortcuts;
} AppCheck;

static gboolean
check_app (gpointer data)
{
  AppCheck *check = data;
  GraftProject *project;

  GList *windows = gtk_application_get_windows (GTK_APPLICATION (check->app));

  g_assert_nonnull (windows);
  check->window = GRAFT_WINDOW (windows->data);
  project = graft_window_get_project (check->window);
  graft_test_wait_for (scan_done, project, 60000, "the scan of argv");
  g_action_group_activate_action (G_ACTION_GROUP (check->app), "about", NULL);
  check->about = graft_test_find_toplevel (ADW_TYPE_ABOUT_WINDOW) != NULL;
  gtk_widget_activate_action (GTK_WIDGET (check->window),
                              "win.show-help-overlay", NULL);
  check->shortcuts = graft_test_find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW) != NULL;
  g_action_group_activate_action (G_ACTION_GROUP (check->app), "quit", NULL);
  g_application_quit (G_APPLICATION (check->app));
  return G_SOURCE_REMOVE;
}

static void
test_application (void)
{
  g_autoptr (GraftApplication) app = graft_application_new ();
  g_autofree char *samples = graft_test_samples_path ("fashion");
  g_autofree char *name = g_strdup ("graft");
  char *argv[] = { name, samples, NULL };
  AppCheck check = { app };

  g_application_set_flags (G_APPLICATION (app),
                           G_APPLICATION_HANDLES_OPEN
                           | G_APPLICATION_NON_UNIQUE);
  g_idle_add (check_app, &check);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 2, argv), ==, 0);
  g_assert_true (check.about);
  g_assert_true (check.shortcuts);
  g_assert_nonnull (graft_application_get_settings (app));
}

static gboolean
pointer_cleared (gpointer data)
{
  return *(gpointer *) data == NULL;
}

/* Closes @window (shown: GTK closes only a realized window) and waits
 * until its project is gone: a scan it replaced, and the choices still
 * to be written, are done by then. */
static void
close_and_wait (GraftWindow *window)
{
  GraftProject *project = graft_window_get_project (window);

  gtk_window_present (GTK_WINDOW (window));
  g_object_add_weak_pointer (G_OBJECT (project), (gpointer *) &project);
  gtk_window_close (GTK_WINDOW (window));
  graft_test_wait_for (pointer_cleared, &project, 60000,
                       "the closed window's project to go");
}

static gboolean
classes_are (gpointer data)
{
  GraftProject *project = data;

  return scan_done (project)
    && g_list_model_get_n_items (graft_project_get_classes (project)) == 4;
}

static char *
project_file_text (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "graft-project.json",
                                            NULL);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

/* The window's size survives a restart, and the project's choices (its
 * data, a class renamed and one left out, the validation share, the
 * mode) come back from its file. */
static void
test_settings (void)
{
  g_autoptr (GraftApplication) app = graft_application_new ();
  GSettings *settings = graft_application_get_settings (app);
  g_autofree char *samples = graft_test_samples_path ("fashion");
  g_autoptr (GFile) file = g_file_new_for_path (samples);
  g_autofree char *text = NULL, *default_dir = NULL;
  g_autoptr (GraftClassItem) first = NULL;
  GraftWindow *window;
  GraftProject *project;
  int width, height;

  g_assert_nonnull (settings);
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, NULL));
  window = graft_application_open_project (app, NULL);
  project = graft_window_get_project (window);
  g_assert_true (graft_project_is_default (project));
  gtk_window_set_default_size (GTK_WINDOW (window), 900, 640);
  gtk_window_present (GTK_WINDOW (window));
  graft_window_open_files (window, &file, 1);
  graft_test_wait_for (scan_done, project, 60000, "the scan");
  first = g_list_model_get_item (graft_project_get_classes (project), 0);
  graft_class_item_set_name (first, "Tops");
  graft_project_remove_class (project, 1);
  graft_project_set_val_fraction (project, 0.3);
  graft_project_set_mode (project, GRAFT_RUN_MODE_FINETUNE);
  close_and_wait (window);
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 900);
  default_dir = graft_project_get_default_dir ();
  text = project_file_text (default_dir);
  g_assert_nonnull (strstr (text, samples));
  g_assert_nonnull (strstr (text, "\"Tops\""));

  /* The same app starting again: a window on the same project. */
  window = graft_application_open_project (app, NULL);
  project = graft_window_get_project (window);
  gtk_window_get_default_size (GTK_WINDOW (window), &width, &height);
  g_assert_cmpint (width, ==, 900);
  g_assert_cmpint (height, ==, 640);
  graft_test_wait_for (classes_are, project, 60000,
                       "the last folders' scan, one class left out");
  g_clear_object (&first);
  first = g_list_model_get_item (graft_project_get_classes (project), 0);
  g_assert_cmpstr (graft_class_item_get_name (first), ==, "Tops");
  g_assert_cmpfloat (graft_project_get_val_fraction (project), ==, 0.3);
  g_assert_cmpint (graft_project_get_mode (project), ==,
                   GRAFT_RUN_MODE_FINETUNE);
  g_assert_cmpstr (graft_project_get_backbone_spec (project), ==,
                   "fashion-resnet");
  close_and_wait (window);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static gboolean
pointer_set (gpointer data)
{
  return *(gpointer *) data != NULL;
}

static gboolean
project_loaded_progressive (GraftProject *project)
{
  return graft_project_get_mode (project) == GRAFT_RUN_MODE_PROGRESSIVE;
}

static gboolean
chooser_in (gpointer data)
{
  g_autoptr (GFile) folder = gtk_file_chooser_get_current_folder (data);
  const char *wanted = g_object_get_data (data, "graft-test-folder");

  return folder != NULL && g_strcmp0 (g_file_peek_path (folder), wanted) == 0;
}

/* Activates @action (New or Open) and answers its file chooser with
 * @folder (where it opens: the working folder), and @name when it asks
 * for one. */
static void
answer_chooser (GraftWindow *window, const char *action, const char *folder,
                const char *name)
{
  g_autofree char *cwd = g_get_current_dir ();
  g_autoptr (GFile) dir = g_file_new_for_path (folder);
  GtkWindow *dialog;

  g_assert_true (g_mkdir_with_parents (folder, 0755) == 0);
  g_assert_true (g_chdir (folder) == 0);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), action,
                                             NULL));
  dialog = graft_test_find_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG);
  g_assert_nonnull (dialog);
  g_object_set_data_full (G_OBJECT (dialog), "graft-test-folder",
                          g_strdup (folder), g_free);
  g_assert_true (gtk_file_chooser_set_current_folder
                 (GTK_FILE_CHOOSER (dialog), dir, NULL));
  graft_test_wait_for (chooser_in, dialog, 30000, "the chooser's folder");
  /* A whole path typed as the name, as a person may type it: the
   * chooser's own folder changes asynchronously. */
  if (name != NULL)
    {
      g_autofree char *path = g_build_filename (folder, name, NULL);
      gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), path);
    }
  graft_test_spin (500);
  gtk_dialog_response (GTK_DIALOG (dialog), GTK_RESPONSE_ACCEPT);
  g_assert_true (g_chdir (cwd) == 0);
}

/* The application of the test running. */
static GraftApplication *current_app;

static gboolean
project_window_open (gpointer data)
{
  GraftApplication *app = current_app;

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (app));
       l != NULL; l = l->next)
    if (GRAFT_IS_WINDOW (l->data)
        && g_strcmp0 (graft_project_get_dir (graft_window_get_project
                                             (l->data)), data) == 0)
      return TRUE;
  return FALSE;
}

/* New, Open, Save As and the recent projects, on real folders. */
static void
test_projects (void)
{
  g_autoptr (GraftApplication) app = graft_application_new ();
  GSettings *settings = graft_application_get_settings (app);
  g_autofree char *base = g_build_filename (graft_test_app_data_home (),
                                            "projects", NULL);
  g_autofree char *shoes = g_build_filename (base, "Shoes", NULL);
  g_autofree char *copy = g_build_filename (base, "Shoes copy", NULL);
  g_autofree char *busy = g_build_filename (base, "Holiday", NULL);
  g_autofree char *busy_file = g_build_filename (busy, "beach.jpg", NULL);
  g_autofree char *run = NULL, *copied_run = NULL, *name = NULL;
  g_autofree char *run_json = NULL;
  g_autofree char *runs = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) recent = NULL;
  GraftWindow *window, *again;
  GraftProject *project;

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, NULL));
  current_app = app;

  /* New: an empty or missing folder becomes a project; one holding
   * someone's files does not. */
  g_assert_true (g_mkdir_with_parents (busy, 0755) == 0);
  g_assert_true (g_file_set_contents (busy_file, "x", 1, NULL));
  g_assert_false (graft_project_file_create (busy, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_false (graft_project_file_exists (busy));

  /* New Project… asks for a name and a place, as a person would give
   * them. */
  window = graft_application_open_project (app, NULL);
  gtk_window_present (GTK_WINDOW (window));
  answer_chooser (window, "win.new-project", base, "Shoes");
  graft_test_wait_for (project_window_open, shoes, 30000,
                       "the new project's window");
  g_assert_true (graft_project_file_exists (shoes));
  /* Open Project… on a folder of someone's files: a toast, no window. */
  g_test_expect_message ("graft-window", G_LOG_LEVEL_MESSAGE,
                         "*Holiday is not a Graft project*");
  answer_chooser (window, "win.open-project", busy, NULL);
  graft_test_spin (1000);
  g_test_assert_expected_messages ();
  g_assert_false (project_window_open (busy));
  g_assert_false (graft_project_file_exists (busy));
  close_and_wait (window);

  window = graft_application_open_project (app, shoes);
  project = graft_window_get_project (window);
  gtk_window_present (GTK_WINDOW (window));
  g_assert_cmpstr (graft_project_get_dir (project), ==, shoes);
  name = graft_project_get_name (project);
  g_assert_cmpstr (name, ==, "Shoes");
  g_assert_nonnull (strstr (gtk_window_get_title (GTK_WINDOW (window)),
                            "Shoes"));
  /* Its runs live in it. */
  runs = graft_project_get_runs_dir (project);
  g_assert_true (g_str_has_prefix (runs, shoes));
  graft_test_spin (300);
  recent = g_settings_get_strv (settings, "recent-projects");
  g_assert_cmpstr (recent[0], ==, shoes);
  g_assert_true (graft_application_open_project (app, shoes) == window);

  /* Save As copies the choices and every run. */
  run = g_build_filename (runs, "first-run", NULL);
  g_assert_true (g_mkdir_with_parents (run, 0755) == 0);
  run_json = g_build_filename (run, "run.json", NULL);
  g_assert_true (g_file_set_contents (run_json, "{}", 2, NULL));
  graft_project_set_mode (project, GRAFT_RUN_MODE_PROGRESSIVE);
  {
    GAsyncResult *result = NULL;
    graft_project_save_as_async (project, copy, NULL,
                                 store_result, &result);
    graft_test_wait_for (pointer_set, &result, 30000, "Save As");
    g_assert_true (graft_project_save_as_finish (project, result, &error));
    g_assert_no_error (error);
    g_object_unref (result);
  }
  copied_run = g_build_filename (copy, "runs", "first-run", "run.json",
                                 NULL);
  g_assert_true (g_file_test (copied_run, G_FILE_TEST_IS_REGULAR));
  g_assert_true (graft_project_file_exists (copy));
  again = graft_application_open_project (app, copy);
  g_assert_true (again != window);
  graft_test_wait_for ((GraftTestCondition) project_loaded_progressive,
                       graft_window_get_project (again), 30000,
                       "the copy's choices");
  /* Not over a folder with files in it. */
  {
    GAsyncResult *result = NULL;
    graft_project_save_as_async (project, busy, NULL,
                                 store_result, &result);
    graft_test_wait_for (pointer_set, &result, 30000, "Save As refused");
    g_assert_false (graft_project_save_as_finish (project, result, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_clear_error (&error);
    g_object_unref (result);
  }
  g_assert_true (g_file_test (busy_file, G_FILE_TEST_IS_REGULAR));
  close_and_wait (again);
  g_strfreev (recent);
  recent = g_settings_get_strv (settings, "recent-projects");
  g_assert_cmpstr (recent[0], ==, copy);
  g_assert_cmpstr (recent[1], ==, shoes);
  close_and_wait (window);
}

int
main (int argc, char **argv)
{
  graft_test_app_init (&argc, &argv);
  g_test_add_func ("/app/window/pages", test_pages);
  g_test_add_func ("/app/window/open-folder", test_open_folder);
  g_test_add_func ("/app/window/missing-folder", test_missing_folder);
  g_test_add_func ("/app/window/toast", test_toast);
  g_test_add_func ("/app/window/backbone-elsewhere", test_backbone_elsewhere);
  g_test_add_func ("/app/application/open-about-shortcuts", test_application);
  g_test_add_func ("/app/window/settings", test_settings);
  g_test_add_func ("/app/window/projects", test_projects);
  g_test_add_func ("/app/window/import-run", test_import_run);
  return g_test_run ();
}
