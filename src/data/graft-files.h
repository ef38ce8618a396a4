/* graft-files.h: file helpers the layers above share. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes @path and, when it is a folder, everything under it (links
 * removed, not followed), as far as it can: for folders Graft made
 * itself — a failed export's, a test's scratch — never the user's. */
void graft_remove_tree (const char *path);

/* Copies the file @src to @dst, written through a temporary file and a
 * rename; errors name the file. */
gboolean graft_copy_file (const char *src, const char *dst, GError **error);

G_END_DECLS
