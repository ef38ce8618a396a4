/* graft-application.c: the app's life — a window a project (the last
 * one opened comes back at start), the recent projects, the app-wide
 * actions and their accelerators, and files given on the command line.
 * The window's own actions (win.*) are installed by GraftWindow. */
#define G_LOG_DOMAIN "graft-application"

#include "graft-application.h"

#include <glib/gi18n.h>

#include "graft-project-file.h"
#include "graft-window.h"

#define GRAFT_RECENT_MAX 8

struct _GraftApplication
{
  AdwApplication parent_instance;

  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (GraftApplication, graft_application,
                     ADW_TYPE_APPLICATION)

GraftWindow *
graft_application_open_project (GraftApplication *self, const char *dir)
{
  g_autofree char *wanted = dir != NULL
    ? g_canonicalize_filename (dir, NULL) : graft_project_get_default_dir ();
  GraftWindow *window;

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self));
       l != NULL; l = l->next)
    if (GRAFT_IS_WINDOW (l->data)
        && g_strcmp0 (graft_project_get_dir (graft_window_get_project
                                             (l->data)), wanted) == 0)
      return l->data;
  window = graft_window_new_for_project (self, wanted);
  graft_window_load_project (window);
  return window;
}

void
graft_application_remember_project (GraftApplication *self, const char *dir)
{
  g_auto (GStrv) recent = NULL;
  g_autoptr (GStrvBuilder) kept = NULL;
  g_autofree char *default_dir = graft_project_get_default_dir ();
  g_auto (GStrv) list = NULL;
  guint n = 1;

  if (self->settings == NULL)
    return;
  g_settings_set_string (self->settings, "last-project",
                         g_strcmp0 (dir, default_dir) == 0 ? "" : dir);
  if (g_strcmp0 (dir, default_dir) == 0)
    return;
  recent = g_settings_get_strv (self->settings, "recent-projects");
  kept = g_strv_builder_new ();
  g_strv_builder_add (kept, dir);
  for (guint i = 0; recent[i] != NULL && n < GRAFT_RECENT_MAX; i++)
    if (g_strcmp0 (recent[i], dir) != 0)
      {
        g_strv_builder_add (kept, recent[i]);
        n++;
      }
  list = g_strv_builder_end (kept);
  g_settings_set_strv (self->settings, "recent-projects",
                       (const char *const *) list);
}

void
graft_application_forget_project (GraftApplication *self, const char *dir)
{
  g_auto (GStrv) recent = NULL;
  g_autoptr (GStrvBuilder) kept = NULL;
  g_auto (GStrv) list = NULL;

  if (self->settings == NULL)
    return;
  recent = g_settings_get_strv (self->settings, "recent-projects");
  kept = g_strv_builder_new ();
  for (guint i = 0; recent[i] != NULL; i++)
    if (g_strcmp0 (recent[i], dir) != 0)
      g_strv_builder_add (kept, recent[i]);
  list = g_strv_builder_end (kept);
  g_settings_set_strv (self->settings, "recent-projects",
                       (const char *const *) list);
}

/* The active window, or the last project's (the default project's when
 * that one has gone, which a toast says). */
static GraftWindow *
get_window (GraftApplication *self)
{
  GtkWindow *window
    = gtk_application_get_active_window (GTK_APPLICATION (self));
  g_autofree char *last = NULL;
  gboolean gone;

  if (window != NULL)
    return GRAFT_WINDOW (window);
  last = self->settings != NULL
    ? g_settings_get_string (self->settings, "last-project") : NULL;
  gone = last != NULL && *last != '\0' && !graft_project_file_exists (last);
  window = GTK_WINDOW (graft_application_open_project
                       (self, last != NULL && *last != '\0' && !gone
                        ? last : NULL));
  if (gone)
    {
      graft_toast (GTK_WIDGET (window), _("The project %s is not there any "
                                          "more: this is the default "
                                          "project"), last);
      graft_application_forget_project (self, last);
    }
  return GRAFT_WINDOW (window);
}

static void
graft_application_activate (GApplication *app)
{
  gtk_window_present (GTK_WINDOW (get_window (GRAFT_APPLICATION (app))));
}

/* `graft PROJECT` opens a project; `graft DIR…` opens folders as data;
 * `graft MODEL.onnx` imports it. */
static void
graft_application_open (GApplication *app, GFile **files, int n_files,
                        const char *hint)
{
  GraftApplication *self = GRAFT_APPLICATION (app);
  g_autofree char *path = n_files == 1 ? g_file_get_path (files[0]) : NULL;
  GraftWindow *window;

  if (path != NULL && graft_project_file_exists (path))
    {
      gtk_window_present (GTK_WINDOW (graft_application_open_project
                                      (self, path)));
      return;
    }
  window = get_window (self);
  gtk_window_present (GTK_WINDOW (window));
  graft_window_open_files (window, files, n_files);
}

static void
quit_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  g_autoptr (GList) windows = g_list_copy
    (gtk_application_get_windows (GTK_APPLICATION (user_data)));

  /* Closing a window saves its size and stops its run, which can be
   * resumed.  The last one closed ends the app. */
  if (windows == NULL)
    g_application_quit (G_APPLICATION (user_data));
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (GTK_WINDOW (l->data));
}

static void
about_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  static const char *developers[] = { "The Graft developers", NULL };
  GtkWindow *parent
    = gtk_application_get_active_window (GTK_APPLICATION (user_data));

  adw_show_about_window (parent,
                         "application-name", "Graft",
                         "application-icon", GRAFT_APP_ID,
                         "version", GRAFT_VERSION,
                         "developer-name", _("The Graft developers"),
                         "developers", developers,
                         "comments", _("Train your own image classifier "
                                       "from a few hundred labelled "
                                       "pictures, on your own computer, "
                                       "without writing code."),
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "copyright", "© 2026 The Graft developers",
                         /* Translators: your names, one a line. */
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = quit_activated },
  { .name = "about", .activate = about_activated },
};

/* Accelerators of app.* and win.* actions, in one place for the
 * shortcuts window to agree with. */
static const struct
{
  const char *action;
  const char *accels[3];
} accelerators[] = {
  { "app.quit", { "<Control>q", NULL } },
  { "window.close", { "<Control>w", NULL } },
  { "win.add-folders", { "<Control>o", NULL } },
  { "win.import-backbone", { "<Control>i", NULL } },
  { "win.show-page::data", { "<Alt>1", NULL } },
  { "win.show-page::backbone", { "<Alt>2", NULL } },
  { "win.show-page::train", { "<Alt>3", NULL } },
  { "win.show-page::compare", { "<Alt>4", NULL } },
  { "win.start-run", { "<Control>Return", NULL } },
  { "win.pause-run", { "<Control>p", NULL } },
  { "win.stop-run", { "<Control>period", NULL } },
};

static void
graft_application_startup (GApplication *app)
{
  GraftApplication *self = GRAFT_APPLICATION (app);

  G_APPLICATION_CLASS (graft_application_parent_class)->startup (app);
  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  for (guint i = 0; i < G_N_ELEMENTS (accelerators); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (app),
                                           accelerators[i].action,
                                           accelerators[i].accels);
  gtk_window_set_default_icon_name (GRAFT_APP_ID);
}

GSettings *
graft_application_get_settings (GraftApplication *self)
{
  g_return_val_if_fail (GRAFT_IS_APPLICATION (self), NULL);
  return self->settings;
}

static GSettings *
new_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, GRAFT_APP_ID, TRUE);
  if (schema == NULL)
    {
      g_message ("Settings schema %s is not installed: nothing will be "
                 "remembered", GRAFT_APP_ID);
      return NULL;
    }
  return g_settings_new_full (schema, NULL, NULL);
}

static void
graft_application_dispose (GObject *object)
{
  GraftApplication *self = GRAFT_APPLICATION (object);

  g_clear_object (&self->settings);
  G_OBJECT_CLASS (graft_application_parent_class)->dispose (object);
}

static void
graft_application_class_init (GraftApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = graft_application_dispose;
  app_class->activate = graft_application_activate;
  app_class->open = graft_application_open;
  app_class->startup = graft_application_startup;
}

static void
graft_application_init (GraftApplication *self)
{
  self->settings = new_settings ();
}

GraftApplication *
graft_application_new (void)
{
  return g_object_new (GRAFT_TYPE_APPLICATION,
                       "application-id", GRAFT_APP_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/io/github/graft/Graft",
                       NULL);
}
