/* graft-json.h: JSON text as Graft writes it — run.json, head.json, the
 * CLI's reports.
 *
 * json-glib 1.6 writes every double with 17 significant digits, so a
 * learning rate of 0.1 reads 0.10000000000000001 and a float mean of
 * 0.286 reads 0.28599999189376831.  This writer gives each number its
 * shortest form that reads back to the same value; a double that is
 * exactly a float (Graft computes in float32) is written as that float's
 * shortest form, which reads back to the same float.
 *
 * Pretty text puts a container of scalars on one line
 * ({"step": 0, "epoch": 0, "loss": 1.23, "lr": 0.01}) and indents the
 * rest by two spaces.  Not-a-number and infinities, which JSON lacks,
 * are written as null.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* What Graft reads back of its own JSON (run.json, head.json) is outside
 * input too: json-glib's parser recurses once per nesting level, so text
 * is refused by size and depth before it parses. */
#define GRAFT_JSON_MAX_BYTES ((gsize) 256 << 20)
#define GRAFT_JSON_MAX_DEPTH 64

/* FALSE with a G_IO_ERROR_INVALID_DATA @error when @text (@length bytes)
 * is longer than GRAFT_JSON_MAX_BYTES or nests arrays and objects deeper
 * than GRAFT_JSON_MAX_DEPTH (counted outside strings). */
gboolean graft_json_check_text (const char *text, gsize length,
                                GError **error);
/* Loads the regular file @path into @parser after graft_json_check_text ();
 * errors start with @path. */
gboolean graft_json_load_file (JsonParser *parser, const char *path,
                               GError **error);

/* @root as UTF-8 JSON text, without a final newline.  A string that is
 * not valid UTF-8 (a caller's bug) is written with U+FFFD in place of
 * its invalid bytes, so that the text stays JSON. */
char *graft_json_to_text (JsonNode *root, gboolean pretty);

/* @value's shortest form, into @buffer (G_ASCII_DTOSTR_BUF_SIZE bytes);
 * returns @buffer. */
char *graft_json_format_number (char *buffer, double value);

G_END_DECLS
