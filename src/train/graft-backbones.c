/* graft-backbones.c: finding bundled backbones. */
#define G_LOG_DOMAIN "graft-backbones"

#include "graft-backbones.h"

#include <gio/gio.h>
#include <string.h>

#define SUFFIX ".onnx"

/* Where bundled backbones may be, most specific first. */
static GPtrArray *
search_dirs (void)
{
  GPtrArray *dirs = g_ptr_array_new_with_free_func (g_free);
  const char *env = g_getenv ("GRAFT_DATA_DIR");

  if (env != NULL && env[0] != '\0')
    g_ptr_array_add (dirs, g_build_filename (env, "backbones", NULL));
  g_ptr_array_add (dirs, g_build_filename (GRAFT_DATADIR, "graft",
                                           "backbones", NULL));
  g_ptr_array_add (dirs, g_build_filename (GRAFT_SOURCE_DATADIR,
                                           "backbones", NULL));
  return dirs;
}

static gint
compare_ids (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

char **
graft_backbones_list (void)
{
  g_autoptr (GPtrArray) dirs = search_dirs ();
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

  for (guint d = 0; d < dirs->len; d++)
    {
      g_autoptr (GDir) dir = g_dir_open (dirs->pdata[d], 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *id = NULL;
          gboolean known = FALSE;
          if (!g_str_has_suffix (name, SUFFIX) || name[0] == '.')
            continue;
          id = g_strndup (name, strlen (name) - strlen (SUFFIX));
          for (guint i = 0; i < ids->len && !known; i++)
            known = g_str_equal (ids->pdata[i], id);
          if (!known)
            g_ptr_array_add (ids, g_steal_pointer (&id));
        }
    }
  g_ptr_array_sort (ids, compare_ids);
  g_ptr_array_add (ids, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&ids), FALSE);
}

char *
graft_backbones_resolve (const char *spec, GError **error)
{
  g_autoptr (GPtrArray) dirs = NULL;
  g_auto (GStrv) ids = NULL;
  g_autofree char *known = NULL;

  if (g_file_test (spec, G_FILE_TEST_EXISTS) || strchr (spec, '/') != NULL)
    return g_strdup (spec);
  dirs = search_dirs ();
  for (guint d = 0; d < dirs->len; d++)
    {
      g_autofree char *file = g_strconcat (spec, SUFFIX, NULL);
      g_autofree char *path = g_build_filename (dirs->pdata[d], file, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  ids = graft_backbones_list ();
  known = g_strjoinv (", ", ids);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               "%s: no such file, nor a bundled backbone (bundled: %s)", spec,
               known[0] ? known : "none installed");
  return NULL;
}
