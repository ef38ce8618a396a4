/* graft-files.c: file helpers the layers above share. */
#include "graft-files.h"

#include <glib/gstdio.h>

gboolean
graft_copy_file (const char *src, const char *dst, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length;

  return g_file_get_contents (src, &contents, &length, error)
         && g_file_set_contents_full (dst, contents, (gssize) length,
                                      G_FILE_SET_CONTENTS_CONSISTENT, 0666,
                                      error);
}

void
graft_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR)
      || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_unlink (path);
      return;
    }
  dir = g_dir_open (path, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      graft_remove_tree (child);
    }
  g_rmdir (path);
}
