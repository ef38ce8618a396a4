/* graft-scan.h: labelled folders in, a report out — the usable pictures
 * by class, every file that cannot be used with the reason, the split and
 * the health warnings.
 *
 * Two drop styles: one parent folder whose sub-folders are the classes,
 * or several folders, each one class (one folder without sub-folders is a
 * single class).  Pictures anywhere below a class folder belong to it;
 * hidden files and folders (a leading '.') are skipped; symbolic links are
 * followed, but a folder is entered at most once (by device and inode), so
 * a link loop is reported instead of followed forever.
 *
 * A scan walks the folders on the calling thread, then inspects every file
 * on a decode pool (graft-decode-pool.h): header, pixel limit, complete
 * data, content hash and, unless told not to, a full decode.  Files are
 * only ever opened for reading: nothing is written to the folders.
 */
#pragma once

#include <gio/gio.h>

#include "graft-image.h"

G_BEGIN_DECLS

/* Paths are the file system's bytes, to open files with: not always
 * UTF-8.  Names and messages are text (graft-text.h): valid UTF-8 without
 * control characters, safe to show and to write as a label. */
typedef struct
{
  char *path;       /* as found, below the class folder */
  char *relative;   /* relative to the class folder, '/'-separated (bytes) */
  guint label;      /* index into classes */
  int width, height;   /* from the header, before EXIF orientation */
  char sha256[GRAFT_SHA256_HEX_LENGTH + 1];   /* of the file's bytes */
  gboolean val;     /* in the validation set */
} GraftSample;

typedef struct
{
  char *name;       /* the label: the folder's name as text, unique unless
                     * two folders have the very same name (a warning) */
  char *path;
  guint count;      /* usable pictures */
  guint n_train, n_val;
} GraftClass;

typedef struct
{
  char *path;
  char *reason;     /* text */
} GraftSkipped;

/* Kinds of GraftWarning. */
#define GRAFT_WARNING_EMPTY_CLASS "empty-class"
#define GRAFT_WARNING_SINGLE_CLASS "single-class"
#define GRAFT_WARNING_NO_PICTURES "no-pictures"
#define GRAFT_WARNING_FEW_PICTURES "few-pictures"
#define GRAFT_WARNING_IMBALANCE "imbalance"
#define GRAFT_WARNING_SAME_NAME "same-class-name"
#define GRAFT_WARNING_DUPLICATE_IN_CLASS "duplicate-in-class"
#define GRAFT_WARNING_DUPLICATE_ACROSS_CLASSES "duplicate-across-classes"
#define GRAFT_WARNING_DUPLICATE_ACROSS_SPLIT "duplicate-across-split"

typedef struct
{
  char *kind;       /* one of GRAFT_WARNING_* */
  char *message;    /* one sentence for the user */
  char **paths;     /* the files or folders concerned; NULL when none */
} GraftWarning;

typedef struct
{
  GPtrArray *classes;   /* GraftClass *, sorted by name */
  GArray *samples;      /* GraftSample, by class, then relative path */
  GPtrArray *skipped;   /* GraftSkipped *, sorted by path */
  GPtrArray *warnings;  /* GraftWarning *, from the health check */
  guint64 seed;         /* of the split */
  double val_fraction;
} GraftScan;

typedef struct
{
  gint64 max_pixels;    /* refuse pictures over this many pixels */
  gboolean decode;      /* decode every picture, not only its header */
  guint threads;        /* decode threads; 0: one per processor */
  double val_fraction;
  guint64 seed;
} GraftScanOptions;

typedef enum
{
  GRAFT_SCAN_WALKING,   /* done: files found so far; total: 0 */
  GRAFT_SCAN_CHECKING,  /* done of total files inspected */
} GraftScanPhase;

typedef void (*GraftScanProgressFunc) (GraftScanPhase phase, guint done,
                                       guint total, gpointer user_data);

/* The defaults: 50 megapixels, full decode, one thread per processor,
 * a 20 % validation split with seed 0. */
void graft_scan_options_init (GraftScanOptions *options);

/* Fails only when the scan itself cannot be done (a folder given is
 * missing, not a folder or unreadable; cancelled): empty classes and
 * skipped files are part of the report.  @options may be NULL (the
 * defaults); @progress, if given, is called on this thread. */
GraftScan *graft_scan_folders (const char *const *folders,
                               const GraftScanOptions *options,
                               GraftScanProgressFunc progress,
                               gpointer progress_data,
                               GCancellable *cancellable, GError **error);

/* The same on a worker thread.  @progress is called on the thread-default
 * main context of the caller, coalesced (never more than one call
 * pending); the last call reports the last progress made and comes before
 * @callback, never after it. */
void graft_scan_folders_async (const char *const *folders,
                               const GraftScanOptions *options,
                               GraftScanProgressFunc progress,
                               gpointer progress_data,
                               GDestroyNotify progress_data_free,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
GraftScan *graft_scan_folders_finish (GAsyncResult *result, GError **error);

/* Splits again with another seed or fraction (graft-split.h) and redoes
 * the health check (graft-health.h). */
void graft_scan_set_split (GraftScan *scan, guint64 seed,
                           double val_fraction);

/* An empty report, for building one by hand (a saved split, tests):
 * add classes, then samples, then call graft_scan_set_split. */
GraftScan *graft_scan_new        (void);
guint      graft_scan_add_class  (GraftScan *scan, const char *name,
                                  const char *path);
void       graft_scan_add_sample (GraftScan *scan, guint label,
                                  const char *path, const char *relative,
                                  const char *sha256);

/* A class's index by name, or -1. */
int graft_scan_find_class (const GraftScan *scan, const char *name);

GraftWarning *graft_warning_new  (const char *kind, GPtrArray *paths,
                                  const char *format, ...)
  G_GNUC_PRINTF (3, 4);
void          graft_warning_free (GraftWarning *warning);

void graft_scan_free (GraftScan *scan);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftScan, graft_scan_free)

G_END_DECLS
