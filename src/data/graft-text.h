/* graft-text.h: file names as text.
 *
 * A file name on Linux is any bytes but '/' and NUL: not always UTF-8, and
 * it may hold control characters (ESC, newline).  The data layer keeps
 * those bytes to open files (GraftClass.path, GraftSample.path) and gives
 * every name it shows or writes through these functions, so that labels,
 * JSON and run files are valid UTF-8 and a terminal never receives an
 * escape sequence from a folder's name.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @filename (a name as the file system gives it) as one line of valid
 * UTF-8: GLib's display name (G_FILENAME_ENCODING is honoured; bytes that
 * do not convert become U+FFFD), its control characters escaped as
 * graft_text_escape does. */
char *graft_text_from_filename (const char *filename);

/* @text (any bytes) safe to print: valid UTF-8 is kept, except control
 * characters — C0 and DEL as \xNN, C1 as \u00NN — and bytes that are not
 * UTF-8 are written as \xNN. */
char *graft_text_escape (const char *text);

/* Whether @text is valid UTF-8 without control characters, i.e. whether
 * graft_text_escape would leave it as it is. */
gboolean graft_text_is_clean (const char *text);

G_END_DECLS
