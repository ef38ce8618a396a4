/* test-ui-files.c: every .ui file in the app's resources loads with
 * Debian 12's GTK and libadwaita.  A template is loaded by making its
 * widget (the template's class must exist and every object in it must be
 * a known type with known properties); any other file through
 * GtkBuilder.  GTK reports a bad file as a critical, which the tests'
 * G_DEBUG=fatal-warnings turns into a failure. */
#include <string.h>

#include "graft-export-dialog.h"
#include "graft-test-app.h"
#include "graft-window.h"

#define RESOURCE_ROOT "/io/github/graft/Graft/"

/* The class a template file defines, or NULL for a plain builder file. */
static char *
template_class (GBytes *bytes)
{
  gsize size;
  const char *text = g_bytes_get_data (bytes, &size);
  g_autofree char *copy = g_strndup (text, size);
  const char *start = strstr (copy, "<template class=\"");
  const char *end;

  if (start == NULL)
    return NULL;
  start += strlen ("<template class=\"");
  end = strchr (start, '"');
  return end != NULL ? g_strndup (start, end - start) : NULL;
}

static void
check_ui_file (gconstpointer data)
{
  const char *path = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes
    = g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
  g_autofree char *class_name = NULL;

  g_assert_no_error (error);
  class_name = template_class (bytes);
  if (class_name != NULL)
    {
      GType type = g_type_from_name (class_name);
      GtkWidget *widget;

      g_assert_true (type != G_TYPE_INVALID);
      widget = g_object_new (type, NULL);
      g_object_ref_sink (widget);
      if (GTK_IS_WINDOW (widget))
        gtk_window_destroy (GTK_WINDOW (widget));
      g_object_unref (widget);
    }
  else
    {
      g_autoptr (GtkBuilder) builder = gtk_builder_new ();
      g_assert_true (gtk_builder_add_from_resource (builder, path, &error));
      g_assert_no_error (error);
    }
}

static void
add_ui_files (const char *dir, guint *n_files)
{
  g_auto (GStrv) children
    = g_resources_enumerate_children (dir, G_RESOURCE_LOOKUP_FLAGS_NONE,
                                      NULL);

  for (guint i = 0; children != NULL && children[i] != NULL; i++)
    {
      char *path = g_strconcat (dir, children[i], NULL);
      if (g_str_has_suffix (path, "/"))
        {
          add_ui_files (path, n_files);
          g_free (path);
        }
      else if (g_str_has_suffix (path, ".ui"))
        {
          g_autofree char *test = g_strconcat ("/app/ui-files", path
                                               + strlen (RESOURCE_ROOT) - 1,
                                               NULL);
          g_test_add_data_func_full (test, path, check_ui_file, g_free);
          (*n_files)++;
        }
      else
        g_free (path);
    }
}

int
main (int argc, char **argv)
{
  guint n_files = 0;

  graft_test_app_init (&argc, &argv);
  /* Making a window registers every widget type the templates name. */
  gtk_window_destroy (GTK_WINDOW (graft_window_new (NULL)));
  /* Dialogs the window makes only when asked. */
  g_type_ensure (GRAFT_TYPE_EXPORT_DIALOG);
  add_ui_files (RESOURCE_ROOT, &n_files);
  /* The window, the three pages and the shortcuts window at least. */
  g_assert_cmpuint (n_files, >=, 5);
  return g_test_run ();
}
