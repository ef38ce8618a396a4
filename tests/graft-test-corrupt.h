/* graft-test-corrupt.h: random damage to a file's bytes, and the check
 * on a refusal, for the tests that read Graft's own files back as outside
 * input (run.json, head.json, checkpoints): every damaged copy must give
 * a clean one-line refusal or a usable result, never a crash. */
#pragma once

#include <glib.h>

/* One random change to @bytes, at a place below @span (clamped to the
 * length): flipped bits, a truncation, inserted random bytes, or a JSON
 * bracket, quote or digit put in. */
void graft_test_corrupt (GByteArray *bytes, guint span, GRand *rand);

/* @error is set, is one line, and contains @part. */
void graft_test_assert_refusal (const GError *error, const char *part);

/* Writes @n bytes of @text (-1: to its NUL) as @dir/@name, replacing
 * what was there: removed first, since GLib 2.74's in-place write
 * (G_FILE_SET_CONTENTS_NONE: no fsync, fast for thousands of copies)
 * does not truncate a longer file. */
void graft_test_write_file (const char *dir, const char *name,
                            const char *text, gssize n);
