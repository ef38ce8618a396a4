/* graft-scan.h: labelled folders in, a list of usable pictures out.
 *
 * Either one parent folder whose sub-folders are the classes, or several
 * folders, each one class.  Pictures anywhere below a class folder belong
 * to it; hidden files and folders are skipped; every file that cannot be
 * used is listed with the reason.  Nothing is ever written to the folders.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  char *path;       /* as found, below the class folder */
  char *relative;   /* relative to the class folder, '/'-separated */
  guint label;      /* index into classes */
} GraftSample;

typedef struct
{
  char *name;
  char *path;
  guint count;      /* usable pictures */
} GraftClass;

typedef struct
{
  char *path;
  char *reason;
} GraftSkipped;

typedef struct
{
  GPtrArray *classes;   /* GraftClass *, sorted by name */
  GArray *samples;      /* GraftSample, by class, then relative path */
  GPtrArray *skipped;   /* GraftSkipped *, in the order found */
} GraftScan;

/* Fails only when nothing can be scanned at all (no folder readable); an
 * empty class or skipped files are part of the result. */
GraftScan *graft_scan_folders (const char *const *folders, gint64 max_pixels,
                               GCancellable *cancellable, GError **error);
void       graft_scan_free    (GraftScan *scan);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftScan, graft_scan_free)

G_END_DECLS
