/* test-window.c: the app's shell — its stages, opening files from the
 * command line, toasts, the About and shortcuts windows, and the window
 * size and choices kept in GSettings. */
#include "graft-application.h"
#include "graft-test-app.h"
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

/* The window's size and the last folders survive a restart. */
static void
test_settings (void)
{
  g_autoptr (GraftApplication) app = graft_application_new ();
  GSettings *settings = graft_application_get_settings (app);
  g_autofree char *samples = graft_test_samples_path ("fashion");
  g_autoptr (GFile) file = g_file_new_for_path (samples);
  g_auto (GStrv) folders = NULL;
  GraftWindow *window;
  GraftProject *project;
  int width, height;

  g_assert_nonnull (settings);
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, NULL));
  window = graft_window_new (app);
  gtk_window_set_default_size (GTK_WINDOW (window), 900, 640);
  gtk_window_present (GTK_WINDOW (window));
  graft_window_open_files (window, &file, 1);
  graft_test_wait_for (scan_done, graft_window_get_project (window), 60000,
                       "the scan");
  /* The folders reopened at start were replaced before their scan ended:
   * that scan's thread still has to finish, and then nothing of it (or of
   * the window's project) may be left behind. */
  project = graft_window_get_project (window);
  g_object_add_weak_pointer (G_OBJECT (project), (gpointer *) &project);
  gtk_window_close (GTK_WINDOW (window));
  graft_test_wait_for (pointer_cleared, &project, 60000,
                       "the closed window's project to go");
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 900);
  folders = g_settings_get_strv (settings, "last-folders");
  g_assert_cmpstrv (folders, ((const char *[]) { samples, NULL }));

  window = graft_window_new (app);
  gtk_window_get_default_size (GTK_WINDOW (window), &width, &height);
  g_assert_cmpint (width, ==, 900);
  g_assert_cmpint (height, ==, 640);
  /* The data opened last is back, scanned again. */
  graft_test_wait_for (scan_done, graft_window_get_project (window), 60000,
                       "the last folders' scan");
  g_assert_cmpuint (graft_project_get_n_pictures
                    (graft_window_get_project (window)), ==, 300);
  project = graft_window_get_project (window);
  g_object_add_weak_pointer (G_OBJECT (project), (gpointer *) &project);
  gtk_window_destroy (GTK_WINDOW (window));
  graft_test_wait_for (pointer_cleared, &project, 60000,
                       "the destroyed window's project to go");
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
  return g_test_run ();
}
