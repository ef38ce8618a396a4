/* graft-test-app.c: what the desktop app's tests share. */
#include "graft-test-app.h"

#include <glib/gstdio.h>

static char *data_home;

/* rm -r, without following links out of the tree. */
static void
delete_tree (const char *path)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK)
      && (dir = g_dir_open (path, 0, NULL)) != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);
        delete_tree (child);
      }
  g_remove (path);
}

static void
remove_data_home (void)
{
  if (data_home == NULL)
    return;
  delete_tree (data_home);
  g_clear_pointer (&data_home, g_free);
}

void
graft_test_app_init (int *argc, char ***argv)
{
  g_autofree char *cache = NULL;

  data_home = g_dir_make_tmp ("graft-test-XXXXXX", NULL);
  g_assert_nonnull (data_home);
  cache = g_build_filename (data_home, "cache", NULL);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  /* In-process tests need no session bus: without one, GApplication is
   * simply not unique, and two applications in one test process do not
   * fight over the same object path. */
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "disabled:", TRUE);
  atexit (remove_data_home);
  gtk_test_init (argc, argv, NULL);
  adw_init ();
}

const char *
graft_test_app_data_home (void)
{
  return data_home;
}

typedef struct
{
  gboolean expired;
} Timer;

static gboolean
expire (gpointer data)
{
  ((Timer *) data)->expired = TRUE;
  return G_SOURCE_REMOVE;
}

void
graft_test_wait_for (GraftTestCondition condition, gpointer data,
                     guint timeout_ms, const char *what)
{
  Timer timer = { FALSE };
  guint id = g_timeout_add (timeout_ms, expire, &timer);

  while (!condition (data) && !timer.expired)
    g_main_context_iteration (NULL, TRUE);
  if (timer.expired && !condition (data))
    g_error ("timed out after %u ms waiting for %s", timeout_ms, what);
  if (!timer.expired)
    g_source_remove (id);
}

static gboolean
timer_expired (gpointer data)
{
  return ((Timer *) data)->expired;
}

void
graft_test_spin (guint ms)
{
  Timer timer = { FALSE };

  g_timeout_add (ms, expire, &timer);
  graft_test_wait_for (timer_expired, &timer, ms + 60000, "the spin");
}

gboolean
graft_test_drop_paths (GtkDropTarget *target, const char *const *paths)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_auto (GValue) value = G_VALUE_INIT;
  gboolean handled = FALSE;

  for (guint i = 0; paths[i] != NULL; i++)
    g_ptr_array_add (files, g_file_new_for_path (paths[i]));
  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value,
                      gdk_file_list_new_from_array ((GFile **) files->pdata,
                                                    files->len));
  g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &handled);
  return handled;
}

void
graft_test_screenshot (GtkWidget *widget, const char *name)
{
  const char *dir = g_getenv ("GRAFT_TEST_SCREENSHOT_DIR");
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GtkSnapshot) snapshot = NULL;
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *file = NULL, *path = NULL;
  int width, height;

  if (dir == NULL || *dir == '\0')
    return;
  /* A window just presented has no size until its first frame. */
  gtk_test_widget_wait_for_draw (widget);
  width = gtk_widget_get_width (widget);
  height = gtk_widget_get_height (widget);
  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture
    (gtk_native_get_renderer (gtk_widget_get_native (widget)), node,
     &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_mkdir_with_parents (dir, 0755);
  file = g_strconcat (name, ".png", NULL);
  path = g_build_filename (dir, file, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
}

char *
graft_test_run_cli (const char *const *argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, &out, NULL, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&out);
}

char *
graft_test_make_run (const char *name)
{
  g_autofree char *data = graft_test_samples_path ("fashion");
  char *dir = g_build_filename (data_home, "graft", "runs", name, NULL);
  const char *argv[] = { GRAFT_TEST_CLI, "train", "--backbone", "fashion-cnn",
                         "--data", data, "--mode", "extract",
                         "--epochs", "3", "--seed", "1", "--out", dir, NULL };

  g_free (graft_test_run_cli (argv));
  return dir;
}

GtkWindow *
graft_test_find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();   /* GTK's */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GObject) w = g_list_model_get_item (toplevels, i);
      if (G_TYPE_CHECK_INSTANCE_TYPE (w, type))
        return GTK_WINDOW (w);
    }
  return NULL;
}

char *
graft_test_samples_path (const char *name)
{
  return g_build_filename (GRAFT_TEST_SAMPLES_DIR, name, NULL);
}

void
graft_test_load_style (void)
{
  g_autoptr (GtkCssProvider) css = gtk_css_provider_new ();

  gtk_css_provider_load_from_resource (css, "/io/github/graft/Graft/"
                                       "style.css");
  gtk_style_context_add_provider_for_display
    (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
     GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
}
