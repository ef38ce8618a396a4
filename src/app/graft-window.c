/* graft-window.c: the main window — one project's stages, toasts, the
 * win.* actions with one function deciding which are enabled, the
 * project's menu (New, Open, Save As, recent projects), and the window's
 * size kept in GSettings. */
#define G_LOG_DOMAIN "graft-window"

#include "graft-window.h"

#include <glib/gi18n.h>

#include "graft-backbone-page.h"
#include "graft-compare-page.h"
#include "graft-data-page.h"
#include "graft-export-dialog.h"
#include "graft-project-file.h"
#include "graft-run-details.h"
#include "graft-run-list.h"
#include "graft-train-page.h"

/* The generated resource bundle (resources/graft.gresource.xml). */
GResource *graft_get_resource (void);

struct _GraftWindow
{
  AdwApplicationWindow parent_instance;

  GraftProject *project;
  char *project_dir;        /* construct-only; NULL: the default project */
  GSettings *settings;
  GraftRun *run;            /* the run whose state we follow */
  GCancellable *cancellable;
  char *saving_to;          /* Save As's folder, while it copies */

  AdwViewSwitcherTitle *switcher_title;
  GMenu *recent_menu;
  AdwViewStack *stack;
  AdwToastOverlay *toast_overlay;
  GraftDataPage *data_page;
  GraftBackbonePage *backbone_page;
  GraftTrainPage *train_page;
  GraftComparePage *compare_page;
};

G_DEFINE_FINAL_TYPE (GraftWindow, graft_window, ADW_TYPE_APPLICATION_WINDOW)

enum { PROP_0, PROP_PROJECT_DIR, N_PROPS };

/* ---- Toasts ------------------------------------------------------------------ */

/* How long a toast stays, in seconds: long enough to read a sentence. */
#define GRAFT_TOAST_SECONDS 6

void
graft_name_inner_buttons (GtkWidget *widget, const char *type_name,
                          const char *label, gboolean inside)
{
  inside = inside || type_name == NULL
    || g_strcmp0 (G_OBJECT_TYPE_NAME (widget), type_name) == 0;
  if (inside && GTK_IS_BUTTON (widget)
      && gtk_button_get_label (GTK_BUTTON (widget)) == NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (widget),
                                    GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    graft_name_inner_buttons (child, type_name, label, inside);
}

/* libadwaita 1.2's toast has an icon-only close button without an
 * accessible name; a screen reader would say "button" and nothing more. */
static void
name_toast_buttons (AdwToastOverlay *overlay)
{
  graft_name_inner_buttons (GTK_WIDGET (overlay), "AdwToastWidget",
                            _("Dismiss"), FALSE);
}

/* A toast waiting behind another gets its widget only when it is shown,
 * once the one before is dismissed.  The idle holds the overlay weakly:
 * keeping it alive past its window upsets libadwaita 1.2's teardown of
 * its queued toasts. */
static gboolean
name_shown_toast (gpointer data)
{
  g_autoptr (AdwToastOverlay) overlay = g_weak_ref_get (data);

  if (overlay != NULL)
    name_toast_buttons (overlay);
  return G_SOURCE_REMOVE;
}

static void
free_weak_ref (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

static void
on_toast_dismissed (AdwToast *toast, AdwToastOverlay *overlay)
{
  GWeakRef *ref = g_new0 (GWeakRef, 1);

  g_weak_ref_init (ref, overlay);
  g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, name_shown_toast, ref,
                   free_weak_ref);
}

void
graft_toast_add (GtkWidget *widget, AdwToast *toast)
{
  GtkRoot *root = widget != NULL ? gtk_widget_get_root (widget) : NULL;

  if (!GRAFT_IS_WINDOW (root))
    {
      g_object_unref (toast);
      return;
    }
  g_signal_connect_object (toast, "dismissed", G_CALLBACK (on_toast_dismissed),
                           GRAFT_WINDOW (root)->toast_overlay, 0);
  adw_toast_overlay_add_toast (GRAFT_WINDOW (root)->toast_overlay, toast);
  name_toast_buttons (GRAFT_WINDOW (root)->toast_overlay);
}

void
graft_toast (GtkWidget *widget, const char *format, ...)
{
  g_autofree char *message = NULL, *escaped = NULL;
  AdwToast *toast;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_message ("%s", message);
  /* AdwToast 1.2 reads its title as markup: a file named "R&D" must
   * not break it. */
  escaped = g_markup_escape_text (message, -1);
  toast = adw_toast_new (escaped);
  adw_toast_set_timeout (toast, GRAFT_TOAST_SECONDS);
  graft_toast_add (widget, toast);
}

/* ---- Pages and files ---------------------------------------------------------- */

void
graft_window_show_page (GraftWindow *self, const char *name)
{
  g_return_if_fail (GRAFT_IS_WINDOW (self));
  adw_view_stack_set_visible_child_name (self->stack, name);
}

const char *
graft_window_get_page (GraftWindow *self)
{
  return adw_view_stack_get_visible_child_name (self->stack);
}

GtkWidget *
graft_window_get_page_widget (GraftWindow *self, const char *name)
{
  return adw_view_stack_get_child_by_name (self->stack, name);
}

GraftProject *
graft_window_get_project (GraftWindow *self)
{
  return self->project;
}

/* By name alone, without touching the disk on the main thread: an
 * ".onnx" file is a model, anything else is taken as a folder, and the
 * scan says so when it is not one. */
void
graft_window_open_files (GraftWindow *self, GFile **files, int n_files)
{
  g_autoptr (GPtrArray) folders = g_ptr_array_new ();

  g_return_if_fail (GRAFT_IS_WINDOW (self));
  for (int i = 0; i < n_files; i++)
    {
      g_autofree char *name = g_file_get_basename (files[i]);

      if (name != NULL && g_str_has_suffix (name, ".onnx"))
        {
          graft_backbone_page_import (self->backbone_page, files[i]);
          graft_window_show_page (self, "backbone");
        }
      else
        g_ptr_array_add (folders, files[i]);
    }
  if (folders->len == 0)
    return;
  graft_project_open_folders (self->project, (GFile **) folders->pdata,
                              folders->len);
  graft_window_show_page (self, "data");
}

char *
graft_window_get_samples_dir (void)
{
  const char *env = g_getenv ("GRAFT_SAMPLES_DIR");
  g_autofree char *installed = g_build_filename (GRAFT_SAMPLES_DIR,
                                                 "fashion", NULL);

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  if (g_file_test (installed, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&installed);
  return g_build_filename (GRAFT_SOURCE_SAMPLES_DIR, "fashion", NULL);
}

void
graft_window_open_sample_data (GraftWindow *self)
{
  g_autofree char *dir = graft_window_get_samples_dir ();
  g_autoptr (GFile) file = g_file_new_for_path (dir);

  graft_window_open_files (self, &file, 1);
}

/* ---- Actions ------------------------------------------------------------------ */

static void
update_actions (GraftWindow *self)
{
  GraftRunState state = self->run != NULL ? graft_run_get_state (self->run)
    : GRAFT_RUN_STATE_READY;
  gboolean active = state == GRAFT_RUN_STATE_RUNNING
    || state == GRAFT_RUN_STATE_PAUSED;
  gboolean ready = graft_project_get_scan (self->project) != NULL
    && graft_project_get_backbone (self->project) != NULL
    && g_list_model_get_n_items (graft_project_get_classes (self->project)) >= 2;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.start-run",
                                 ready && !active);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.pause-run", active);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.stop-run", active);
}

static void
add_folders_action (GtkWidget *widget, const char *name, GVariant *param)
{
  GraftWindow *self = GRAFT_WINDOW (widget);

  graft_window_show_page (self, "data");
  graft_data_page_choose_folders (self->data_page);
}

static void
sample_data_action (GtkWidget *widget, const char *name, GVariant *param)
{
  graft_window_open_sample_data (GRAFT_WINDOW (widget));
}

static void
import_backbone_action (GtkWidget *widget, const char *name,
                        GVariant *param)
{
  GraftWindow *self = GRAFT_WINDOW (widget);

  graft_window_show_page (self, "backbone");
  graft_backbone_page_choose_import (self->backbone_page);
}

static void
show_page_action (GtkWidget *widget, const char *name, GVariant *param)
{
  graft_window_show_page (GRAFT_WINDOW (widget),
                          g_variant_get_string (param, NULL));
}

static void
start_run_action (GtkWidget *widget, const char *name, GVariant *param)
{
  GraftWindow *self = GRAFT_WINDOW (widget);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftRunConfig) config
    = graft_train_page_build_config (self->train_page, &error);

  if (config == NULL
      || graft_project_start_run (self->project, config, &error) == NULL)
    {
      graft_toast (widget, "%s", error->message);
      return;
    }
  graft_window_show_page (self, "train");
}

static void
pause_run_action (GtkWidget *widget, const char *name, GVariant *param)
{
  GraftWindow *self = GRAFT_WINDOW (widget);

  if (self->run == NULL)
    return;
  if (graft_run_get_state (self->run) == GRAFT_RUN_STATE_PAUSED)
    graft_run_unpause (self->run);
  else
    graft_run_pause (self->run);
}

static void
stop_run_action (GtkWidget *widget, const char *name, GVariant *param)
{
  GraftWindow *self = GRAFT_WINDOW (widget);

  if (self->run != NULL)
    graft_run_stop (self->run);
}

/* The run of the folder @param names, as the project's run list holds it;
 * NULL with a toast while the list has not read it yet. */
static GraftRunRecord *
find_record (GraftWindow *self, GVariant *param)
{
  GListModel *runs = graft_project_get_runs (self->project);
  GraftRunRecord *record
    = graft_run_list_find (GRAFT_RUN_LIST (runs),
                           g_variant_get_string (param, NULL));

  if (record == NULL)
    graft_toast (GTK_WIDGET (self), _("That run is still being read — try "
                                      "again in a moment"));
  return record;
}

static void
run_details_action (GtkWidget *widget, const char *name, GVariant *param)
{
  GraftRunRecord *record = find_record (GRAFT_WINDOW (widget), param);

  if (record != NULL)
    gtk_window_present (graft_run_details_new (GTK_WINDOW (widget), record));
}

static void
export_run_action (GtkWidget *widget, const char *name, GVariant *param)
{
  GraftRunRecord *record = find_record (GRAFT_WINDOW (widget), param);

  if (record != NULL)
    gtk_window_present (graft_export_dialog_new (GTK_WINDOW (widget), record,
                                                 NULL));
}

/* ---- Following the project ------------------------------------------------------ */

static void
on_run_state (GraftRun *run, GParamSpec *pspec, GraftWindow *self)
{
  update_actions (self);
  switch (graft_run_get_state (run))
    {
    case GRAFT_RUN_STATE_FINISHED:
      graft_toast (GTK_WIDGET (self), _("Training finished"));
      break;
    case GRAFT_RUN_STATE_FAILED:
      graft_toast (GTK_WIDGET (self), _("Training failed: %s"),
                   graft_run_get_message (run));
      break;
    case GRAFT_RUN_STATE_STOPPED:
      graft_toast (GTK_WIDGET (self), _("Training stopped"));
      break;
    case GRAFT_RUN_STATE_READY:
    case GRAFT_RUN_STATE_RUNNING:
    case GRAFT_RUN_STATE_PAUSED:
    default:
      break;
    }
}

static void
on_project_run (GraftProject *project, GParamSpec *pspec, GraftWindow *self)
{
  if (self->run != NULL)
    g_signal_handlers_disconnect_by_data (self->run, self);
  g_set_object (&self->run, graft_project_get_run (project));
  if (self->run != NULL)
    g_signal_connect_object (self->run, "notify::state",
                             G_CALLBACK (on_run_state), self, 0);
  update_actions (self);
}

static void
on_scan_failed (GraftProject *project, const char *message,
                GraftWindow *self)
{
  graft_toast (GTK_WIDGET (self), "%s", message);
}

static void
on_project_changed (GraftProject *project, GParamSpec *pspec,
                    GraftWindow *self)
{
  update_actions (self);
}

static void
follow_project (GraftWindow *self)
{
  g_signal_connect_object (self->project, "notify::run",
                           G_CALLBACK (on_project_run), self, 0);
  g_signal_connect_object (self->project, "scan-failed",
                           G_CALLBACK (on_scan_failed), self, 0);
  g_signal_connect_object (self->project, "notify::scan",
                           G_CALLBACK (on_project_changed), self, 0);
  g_signal_connect_object (self->project, "notify::backbone",
                           G_CALLBACK (on_project_changed), self, 0);
  g_signal_connect_object (graft_project_get_classes (self->project),
                           "items-changed", G_CALLBACK (update_actions),
                           self, G_CONNECT_SWAPPED);
}

/* ---- The project ----------------------------------------------------------------- */

static GraftApplication *
get_app (GraftWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  return GRAFT_IS_APPLICATION (app) ? GRAFT_APPLICATION (app) : NULL;
}

static void
show_project_name (GraftWindow *self)
{
  g_autofree char *name = graft_project_get_name (self->project);
  g_autofree char *title = g_strdup_printf ("%s — Graft", name);

  adw_view_switcher_title_set_subtitle (self->switcher_title, name);
  gtk_window_set_title (GTK_WINDOW (self), title);
}

/* Recent projects, newest first, without this window's own. */
static void
fill_recent_menu (GraftWindow *self)
{
  g_auto (GStrv) recent = NULL;
  const char *own = graft_project_get_dir (self->project);

  g_menu_remove_all (self->recent_menu);
  if (self->settings == NULL)
    return;
  if (!graft_project_is_default (self->project))
    {
      g_autofree char *dir = graft_project_get_default_dir ();
      g_autoptr (GMenuItem) item = g_menu_item_new (_("Default Project"),
                                                    NULL);
      g_menu_item_set_action_and_target (item, "win.open-recent", "s", dir);
      g_menu_append_item (self->recent_menu, item);
    }
  recent = g_settings_get_strv (self->settings, "recent-projects");
  for (guint i = 0; recent[i] != NULL; i++)
    {
      g_autofree char *name = NULL;
      g_autoptr (GMenuItem) item = NULL;

      if (g_strcmp0 (recent[i], own) == 0)
        continue;
      name = g_path_get_basename (recent[i]);
      item = g_menu_item_new (name, NULL);
      g_menu_item_set_action_and_target (item, "win.open-recent", "s",
                                         recent[i]);
      g_menu_append_item (self->recent_menu, item);
    }
}

static void
on_project_loaded (GObject *source, GAsyncResult *result, gpointer data)
{
  GraftProject *project = GRAFT_PROJECT (source);
  g_autoptr (GraftWindow) self = data;
  g_autoptr (GError) error = NULL;

  if (!graft_project_load_finish (project, result, &error))
    {
      graft_toast (GTK_WIDGET (self), "%s", error->message);
      return;
    }
  /* The backbone the project used, or the bundled one a first project
   * starts with. */
  graft_backbone_page_select (self->backbone_page,
                              graft_project_get_backbone_spec (project));
  if (get_app (self) != NULL)
    graft_application_remember_project (get_app (self),
                                        graft_project_get_dir (project));
  update_actions (self);
}

static void
on_project_save_failed (GraftProject *project, const char *message,
                        GraftWindow *self)
{
  graft_toast (GTK_WIDGET (self), "%s", message);
}

/* A chosen folder, from a file chooser's response. */
static char *
chosen_path (GtkNativeDialog *dialog, int response)
{
  g_autoptr (GFile) file = NULL;

  if (response != GTK_RESPONSE_ACCEPT)
    return NULL;
  file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  return file != NULL ? g_file_get_path (file) : NULL;
}

static GtkFileChooserNative *
project_chooser (GraftWindow *self, const char *title, const char *accept,
                 GtkFileChooserAction action)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new
    (title, GTK_WINDOW (self), action, accept, _("_Cancel"));

  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  return chooser;
}

/* New and Open check the folder on a worker, then open a window. */
typedef struct
{
  char *dir;
  gboolean create;
} ProjectCheck;

static void
project_check_free (gpointer data)
{
  ProjectCheck *check = data;

  g_free (check->dir);
  g_free (check);
}

static void
check_thread (GTask *task, gpointer source, gpointer data,
              GCancellable *cancellable)
{
  ProjectCheck *check = data;
  GError *error = NULL;

  if (check->create ? graft_project_file_create (check->dir, &error)
      : graft_project_file_exists (check->dir))
    g_task_return_boolean (task, TRUE);
  else if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                             g_file_test (check->dir, G_FILE_TEST_IS_DIR)
                             ? _("%s is not a Graft project: it has no %s")
                             : _("The project %s is not there any more"),
                             check->dir, GRAFT_PROJECT_FILE);
}

static void
on_project_checked (GObject *source, GAsyncResult *result, gpointer data)
{
  GraftWindow *self = GRAFT_WINDOW (source);
  ProjectCheck *check = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          graft_toast (GTK_WIDGET (self), "%s", error->message);
          if (get_app (self) != NULL)
            graft_application_forget_project (get_app (self), check->dir);
        }
      return;
    }
  graft_window_open_project (self, check->dir);
}

static void
check_and_open (GraftWindow *self, const char *dir, gboolean create)
{
  g_autoptr (GTask) task = g_task_new (self, self->cancellable,
                                       on_project_checked, NULL);
  ProjectCheck *check = g_new0 (ProjectCheck, 1);

  check->dir = g_canonicalize_filename (dir, NULL);
  check->create = create;
  g_task_set_source_tag (task, check_and_open);
  g_task_set_task_data (task, check, project_check_free);
  g_task_run_in_thread (task, check_thread);
}

static void
on_project_chosen (GtkNativeDialog *dialog, int response, GraftWindow *self)
{
  g_autofree char *dir = chosen_path (dialog, response);
  gboolean create = gtk_file_chooser_get_action (GTK_FILE_CHOOSER (dialog))
    == GTK_FILE_CHOOSER_ACTION_SAVE;

  if (dir != NULL)
    check_and_open (self, dir, create);
  g_object_unref (dialog);
}

/* New asks for a name and a place; Open for a project's folder. */
static void
choose_project (GraftWindow *self, gboolean create)
{
  GtkFileChooserNative *chooser = create
    ? project_chooser (self, _("New Project"), _("_Create"),
                       GTK_FILE_CHOOSER_ACTION_SAVE)
    : project_chooser (self, _("Open Project"), _("_Open"),
                       GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER);

  if (create)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser),
                                       _("New Project"));
  g_signal_connect (chooser, "response", G_CALLBACK (on_project_chosen),
                    self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
new_project_action (GtkWidget *widget, const char *name, GVariant *param)
{
  choose_project (GRAFT_WINDOW (widget), TRUE);
}

static void
open_project_action (GtkWidget *widget, const char *name, GVariant *param)
{
  choose_project (GRAFT_WINDOW (widget), FALSE);
}

static void
open_recent_action (GtkWidget *widget, const char *name, GVariant *param)
{
  GraftWindow *self = GRAFT_WINDOW (widget);
  const char *dir = g_variant_get_string (param, NULL);
  g_autofree char *default_dir = graft_project_get_default_dir ();

  /* The default project needs no file to be one. */
  if (g_strcmp0 (dir, default_dir) == 0)
    graft_window_open_project (self, dir);
  else
    check_and_open (self, dir, FALSE);
}

static void
on_saved_as (GObject *source, GAsyncResult *result, gpointer data)
{
  GraftProject *project = GRAFT_PROJECT (source);
  g_autoptr (GraftWindow) self = data;
  g_autofree char *to = g_steal_pointer (&self->saving_to);
  g_autoptr (GError) error = NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.save-project-as",
                                 TRUE);
  if (!graft_project_save_as_finish (project, result, &error))
    {
      graft_toast (GTK_WIDGET (self), "%s", error->message);
      return;
    }
  /* The copy is the project from now on, in this window's place. */
  graft_window_open_project (self, to);
  gtk_window_close (GTK_WINDOW (self));
}

static void
on_save_as_chosen (GtkNativeDialog *dialog, int response, GraftWindow *self)
{
  g_autofree char *dir = chosen_path (dialog, response);

  g_object_unref (dialog);
  if (dir == NULL)
    return;
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.save-project-as",
                                 FALSE);
  graft_toast (GTK_WIDGET (self), _("Copying the project to %s…"), dir);
  g_free (self->saving_to);
  self->saving_to = g_strdup (dir);
  graft_project_save_as_async (self->project, dir, self->cancellable,
                               on_saved_as, g_object_ref (self));
}

static void
save_project_as_action (GtkWidget *widget, const char *name,
                        GVariant *param)
{
  GraftWindow *self = GRAFT_WINDOW (widget);
  GtkFileChooserNative *chooser = project_chooser
    (self, _("Save Project As"), _("_Save"), GTK_FILE_CHOOSER_ACTION_SAVE);
  g_autofree char *current = graft_project_get_name (self->project);

  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), current);
  g_signal_connect (chooser, "response", G_CALLBACK (on_save_as_chosen),
                    self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

void
graft_window_open_project (GraftWindow *self, const char *dir)
{
  GraftApplication *app;
  GraftWindow *window;

  g_return_if_fail (GRAFT_IS_WINDOW (self));
  app = get_app (self);
  window = app != NULL ? graft_application_open_project (app, dir) : NULL;
  if (window == NULL)
    {
      window = graft_window_new_for_project (NULL, dir);
      graft_window_load_project (window);
    }
  gtk_window_present (GTK_WINDOW (window));
}

static void
resume_run_action (GtkWidget *widget, const char *name, GVariant *param)
{
  GraftWindow *self = GRAFT_WINDOW (widget);
  g_autoptr (GError) error = NULL;

  if (graft_project_resume_run (self->project,
                                g_variant_get_string (param, NULL),
                                &error) == NULL)
    {
      graft_toast (widget, "%s", error->message);
      return;
    }
  graft_window_show_page (self, "train");
}

/* ---- Settings ------------------------------------------------------------------ */

static void
restore_settings (GraftWindow *self)
{
  if (self->settings == NULL)
    return;
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings,
                                                   "window-width"),
                               g_settings_get_int (self->settings,
                                                   "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
  g_signal_connect_object (self->settings, "changed::recent-projects",
                           G_CALLBACK (fill_recent_menu), self,
                           G_CONNECT_SWAPPED);
  fill_recent_menu (self);
}

static void
save_settings (GraftWindow *self)
{
  int width, height;

  if (self->settings == NULL)
    return;
  gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized",
                          gtk_window_is_maximized (GTK_WINDOW (self)));
}

static gboolean
graft_window_close_request (GtkWindow *window)
{
  GraftWindow *self = GRAFT_WINDOW (window);

  save_settings (self);
  /* A run still training is stopped: its last finished epoch is kept in
   * its folder, and the run can be resumed from there. */
  if (self->run != NULL)
    graft_run_stop (self->run);
  return GTK_WINDOW_CLASS (graft_window_parent_class)->close_request (window);
}

/* ---- GObject ----------------------------------------------------------------------- */

GraftWindow *
graft_window_new_for_project (GraftApplication *app, const char *dir)
{
  GraftWindow *self = g_object_new (GRAFT_TYPE_WINDOW, "application", app,
                                    "project-dir", dir, NULL);
  GSettings *settings = app != NULL
    ? graft_application_get_settings (app) : NULL;

  /* "application" is set after construction: settings come here. */
  if (settings != NULL)
    self->settings = g_object_ref (settings);
  restore_settings (self);
  return self;
}

GraftWindow *
graft_window_new (GraftApplication *app)
{
  return graft_window_new_for_project (app, NULL);
}

void
graft_window_load_project (GraftWindow *self)
{
  g_return_if_fail (GRAFT_IS_WINDOW (self));
  graft_project_load_async (self->project, self->cancellable,
                            on_project_loaded, g_object_ref (self));
}

static void
graft_window_constructed (GObject *object)
{
  GraftWindow *self = GRAFT_WINDOW (object);

  G_OBJECT_CLASS (graft_window_parent_class)->constructed (object);
  self->project = graft_project_new_for_dir (self->project_dir);
  graft_data_page_set_project (self->data_page, self->project);
  graft_backbone_page_set_project (self->backbone_page, self->project);
  graft_train_page_set_project (self->train_page, self->project);
  graft_compare_page_set_project (self->compare_page, self->project);
  follow_project (self);
  g_signal_connect_object (self->project, "save-failed",
                           G_CALLBACK (on_project_save_failed), self, 0);
  show_project_name (self);
  update_actions (self);
}

static void
graft_window_set_property (GObject *object, guint prop_id,
                           const GValue *value, GParamSpec *pspec)
{
  GraftWindow *self = GRAFT_WINDOW (object);

  switch (prop_id)
    {
    case PROP_PROJECT_DIR:
      g_free (self->project_dir);
      self->project_dir = g_value_dup_string (value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_window_dispose (GObject *object)
{
  GraftWindow *self = GRAFT_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  if (self->run != NULL)
    g_signal_handlers_disconnect_by_data (self->run, self);
  g_clear_object (&self->run);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_WINDOW);
  g_clear_object (&self->settings);
  g_clear_object (&self->project);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->project_dir, g_free);
  g_clear_pointer (&self->saving_to, g_free);
  G_OBJECT_CLASS (graft_window_parent_class)->dispose (object);
}

/* ---- A run trained elsewhere ---------------------------------------------- */

static void
on_run_imported (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GraftWindow) self = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = graft_project_import_run_finish (
    GRAFT_PROJECT (source), result, &error);
  g_autofree char *name = NULL;

  if (dir == NULL)
    {
      /* Translators: the reason a run could not be imported. */
      graft_toast (GTK_WIDGET (self), _("Could not import the run: %s"),
                   error->message);
      return;
    }
  name = g_filename_display_basename (dir);
  /* Translators: the imported run's name; Compare shows its curves. */
  graft_toast (GTK_WIDGET (self), _("Imported %s: its curves are in "
                                    "Compare"), name);
  graft_window_show_page (self, "compare");
}

void
graft_window_import_run (GraftWindow *self, const char *folder)
{
  g_return_if_fail (GRAFT_IS_WINDOW (self));
  graft_project_import_run_async (self->project, folder, NULL,
                                  on_run_imported, g_object_ref (self));
}

static void
on_import_run_chosen (GtkNativeDialog *dialog, int response,
                      GraftWindow *self)
{
  g_autofree char *dir = chosen_path (dialog, response);

  if (dir != NULL)
    graft_window_import_run (self, dir);
  g_object_unref (dialog);
}

/* The folder a PyTorch project's train.py wrote (its --out). */
static void
import_run_action (GtkWidget *widget, const char *name, GVariant *param)
{
  GraftWindow *self = GRAFT_WINDOW (widget);
  GtkFileChooserNative *chooser = project_chooser (
    self, _("Import a Run Trained in PyTorch"), _("_Import"),
    GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER);

  g_signal_connect (chooser, "response", G_CALLBACK (on_import_run_chosen),
                    self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
install_actions (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.add-folders", NULL,
                                   add_folders_action);
  gtk_widget_class_install_action (widget_class, "win.sample-data", NULL,
                                   sample_data_action);
  gtk_widget_class_install_action (widget_class, "win.import-backbone",
                                   NULL, import_backbone_action);
  gtk_widget_class_install_action (widget_class, "win.import-run", NULL,
                                   import_run_action);
  gtk_widget_class_install_action (widget_class, "win.show-page", "s",
                                   show_page_action);
  gtk_widget_class_install_action (widget_class, "win.start-run", NULL,
                                   start_run_action);
  gtk_widget_class_install_action (widget_class, "win.pause-run", NULL,
                                   pause_run_action);
  gtk_widget_class_install_action (widget_class, "win.stop-run", NULL,
                                   stop_run_action);
  gtk_widget_class_install_action (widget_class, "win.run-details", "s",
                                   run_details_action);
  gtk_widget_class_install_action (widget_class, "win.export-run", "s",
                                   export_run_action);
  gtk_widget_class_install_action (widget_class, "win.resume-run", "s",
                                   resume_run_action);
  gtk_widget_class_install_action (widget_class, "win.new-project", NULL,
                                   new_project_action);
  gtk_widget_class_install_action (widget_class, "win.open-project", NULL,
                                   open_project_action);
  gtk_widget_class_install_action (widget_class, "win.open-recent", "s",
                                   open_recent_action);
  gtk_widget_class_install_action (widget_class, "win.save-project-as",
                                   NULL, save_project_as_action);
}

static void
graft_window_class_init (GraftWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = graft_window_constructed;
  object_class->set_property = graft_window_set_property;
  object_class->dispose = graft_window_dispose;
  g_object_class_install_property
    (object_class, PROP_PROJECT_DIR,
     g_param_spec_string ("project-dir", NULL, NULL, NULL,
                          G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY
                          | G_PARAM_STATIC_STRINGS));
  window_class->close_request = graft_window_close_request;

  /* Referencing the bundle links it in, and with it its registration. */
  (void) graft_get_resource ();
  g_type_ensure (GRAFT_TYPE_DATA_PAGE);
  g_type_ensure (GRAFT_TYPE_BACKBONE_PAGE);
  g_type_ensure (GRAFT_TYPE_TRAIN_PAGE);
  g_type_ensure (GRAFT_TYPE_RUN_DETAILS);
  g_type_ensure (GRAFT_TYPE_EXPORT_DIALOG);
  g_type_ensure (GRAFT_TYPE_COMPARE_PAGE);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/graft/Graft/"
                                               "graft-window.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow,
                                        switcher_title);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow,
                                        recent_menu);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow,
                                        toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow,
                                        data_page);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow,
                                        backbone_page);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow,
                                        train_page);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow,
                                        compare_page);
  install_actions (widget_class);
}

static void
graft_window_init (GraftWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}
