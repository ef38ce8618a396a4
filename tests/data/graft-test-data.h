/* graft-test-data.h: pictures and folder trees made at test time, for the
 * data tests and the decode benchmark. */
#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gio.h>

G_BEGIN_DECLS

#define GRAFT_TEST_GRAY16_BASE 0x1234
#define GRAFT_TEST_UNICODE_NAME "chat-été-猫-🐈.png"

/* PNG colour types. */
#define GRAFT_TEST_PNG_GRAY 0
#define GRAFT_TEST_PNG_GRAY_ALPHA 4

typedef enum
{
  GRAFT_TEST_CMYK_JPEG,     /* 8×8, pure red in CMYK, Adobe marker */
  GRAFT_TEST_PALETTE_GIF,   /* 3×2, (0, 0) blue, the rest red */
  GRAFT_TEST_EXIF6_JPEG,    /* 8×4 stored, left red, right blue, EXIF
                             * orientation 6: shown 4×8, red on top */
} GraftTestBlob;

void graft_test_write      (const char *path, const void *data, gsize size);
void graft_test_write_blob (const char *path, GraftTestBlob blob);

/* A PNG written byte by byte, for what GdkPixbuf cannot save (gray,
 * 16-bit): @rows holds @height rows of @row_bytes, unfiltered. */
void graft_test_write_png (const char *path, guint32 width, guint32 height,
                           guint8 bit_depth, guint8 color_type,
                           const guint8 *rows, gsize row_bytes);

/* A complete, well-formed PNG whose header claims @width × @height and
 * whose data is a few bytes: a decompression bomb's shape. */
void graft_test_write_png_header (const char *path, guint32 width,
                                  guint32 height);

/* A gradient with noise from @seed; different seeds, different bytes. */
GdkPixbuf *graft_test_pixbuf (int width, int height, gboolean alpha,
                              guint32 seed);
/* Saves graft_test_pixbuf as @type ("png" or "jpeg"). */
void graft_test_save (const char *path, const char *type, int width,
                      int height, gboolean alpha, guint32 seed);

/* Writes the first @length bytes of @from to @to. */
void  graft_test_write_prefix (const char *from, const char *to,
                               gsize length);
/* The offset of the first @needle in the file at @path. */
gsize graft_test_find (const char *path, const void *needle, gsize length);

char *graft_test_mkdir (const char *parent, const char *name);
void  graft_test_rm_rf (const char *path);
/* Makes every file and folder below @path read-only, or writable again. */
void  graft_test_chmod_tree (const char *path, gboolean writable);

/* Relative path → type, mode, size, modification and change times and
 * SHA-256 of everything below @root, links not followed. */
GHashTable *graft_test_snapshot (const char *root);
/* Aborts naming the first path that appeared, disappeared or changed. */
void graft_test_assert_same_tree (GHashTable *before, GHashTable *after);

/* Builds below @root (which exists) the hostile folder: classes "cats"
 * (unusual valid pictures, nested, hidden, loops, a text file), "dogs"
 * (three good pictures among broken ones) and "empty", and a loose file.
 * Writes nothing elsewhere except a scratch folder it removes. */
void graft_test_make_hostile_tree (const char *root);

typedef struct
{
  const char *a;    /* usable: the class; skipped: the path below root */
  const char *b;    /* usable: the path below the class; skipped: a
                     * fragment of the reason */
} GraftTestExpected;

/* Class folders whose names are not text: "\xff" and "\xfe" (not UTF-8,
 * both shown as U+FFFD), "esc\x1b[31mred" (an escape sequence) and
 * "line\nbreak", each with GRAFT_TEST_NAMED_PICTURES pictures; in "\xff"
 * also a text file named "bad\xff\x1b.png", and in "\xfe" a FIFO named
 * "pipe\xff.png". */
#define GRAFT_TEST_NAMED_PICTURES 3
extern const char *const graft_test_named_classes[];   /* NULL-ended */
void graft_test_make_named_tree (const char *root);

/* What a scan of the hostile tree must find; each ends with { NULL }. */
extern const GraftTestExpected graft_test_hostile_usable[];
extern const GraftTestExpected graft_test_hostile_skipped[];

G_END_DECLS
