/* graft-backbones.h: the backbones Graft ships, found by id.
 *
 * Bundled backbones are ONNX files in a "backbones" folder: the one in
 * $GRAFT_DATA_DIR when set, the installed one (DATADIR/graft/backbones),
 * and, for a build run from its tree, the source tree's data/backbones.
 * A file's id is its name without ".onnx".
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The ids of the bundled backbones, sorted; free with g_strfreev. */
char **graft_backbones_list    (void);

/* @spec as a path when such a file exists, else the bundled backbone of
 * that id; NULL with a message naming the bundled ids otherwise. */
char  *graft_backbones_resolve (const char *spec, GError **error);

G_END_DECLS
