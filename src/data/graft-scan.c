/* graft-scan.c: walking class folders. */
#define G_LOG_DOMAIN "graft-scan"

#include "graft-scan.h"

#include <glib/gstdio.h>
#include <stdint.h>

#include "graft-error.h"
#include "graft-image.h"

typedef struct
{
  GraftScan *scan;
  GHashTable *visited;      /* "dev:inode" of folders entered: no loops */
  gint64 max_pixels;
  GCancellable *cancellable;
} Walk;

static void
skipped_free (gpointer data)
{
  GraftSkipped *skipped = data;

  g_free (skipped->path);
  g_free (skipped->reason);
  g_free (skipped);
}

static void
class_free (gpointer data)
{
  GraftClass *klass = data;

  g_free (klass->name);
  g_free (klass->path);
  g_free (klass);
}

static void
sample_clear (gpointer data)
{
  GraftSample *sample = data;

  g_free (sample->path);
  g_free (sample->relative);
}

void
graft_scan_free (GraftScan *scan)
{
  if (scan == NULL)
    return;
  g_ptr_array_unref (scan->classes);
  g_array_unref (scan->samples);
  g_ptr_array_unref (scan->skipped);
  g_free (scan);
}

static void
skip (Walk *walk, const char *path, const char *reason)
{
  GraftSkipped *skipped = g_new0 (GraftSkipped, 1);

  skipped->path = g_strdup (path);
  skipped->reason = g_strdup (reason);
  g_ptr_array_add (walk->scan->skipped, skipped);
}

/* Marks a folder as entered; FALSE when it was already (a symlink loop,
 * or the same folder reached twice). */
static gboolean
enter_once (Walk *walk, const char *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return FALSE;
  return g_hash_table_add (walk->visited,
                           g_strdup_printf ("%ju:%ju", (uintmax_t) st.st_dev,
                                            (uintmax_t) st.st_ino));
}

static void walk_folder (Walk *walk, const char *folder, const char *relative,
                         guint label);

static void
visit_entry (Walk *walk, const char *path, const char *relative, guint label)
{
  g_autoptr (GError) error = NULL;
  GraftSample sample;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      walk_folder (walk, path, relative, label);
      return;
    }
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      skip (walk, path, g_file_test (path, G_FILE_TEST_IS_SYMLINK)
            ? "broken link" : "not a regular file");
      return;
    }
  if (!graft_image_check (path, walk->max_pixels, &error))
    {
      skip (walk, path, error->message);
      return;
    }
  sample.path = g_strdup (path);
  sample.relative = g_strdup (relative);
  sample.label = label;
  g_array_append_val (walk->scan->samples, sample);
}

static void
walk_folder (Walk *walk, const char *folder, const char *relative,
             guint label)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GError) error = NULL;
  const char *name;

  if (!enter_once (walk, folder))
    {
      skip (walk, folder, "folder already scanned (a link loop?)");
      return;
    }
  dir = g_dir_open (folder, 0, &error);
  if (dir == NULL)
    {
      skip (walk, folder, error->message);
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL
         && !g_cancellable_is_cancelled (walk->cancellable))
    {
      g_autofree char *path = NULL;
      g_autofree char *rel = NULL;
      if (name[0] == '.')
        continue;   /* hidden: not the user's pictures */
      path = g_build_filename (folder, name, NULL);
      rel = relative[0] ? g_strconcat (relative, "/", name, NULL)
        : g_strdup (name);
      visit_entry (walk, path, rel, label);
    }
}

static gint
compare_classes (gconstpointer a, gconstpointer b)
{
  const GraftClass *x = *(GraftClass **) a, *y = *(GraftClass **) b;

  return strcmp (x->name, y->name);
}

static gint
compare_samples (gconstpointer a, gconstpointer b)
{
  const GraftSample *x = a, *y = b;

  if (x->label != y->label)
    return x->label < y->label ? -1 : 1;
  return strcmp (x->relative, y->relative);
}

static void
add_class (GraftScan *scan, const char *path)
{
  GraftClass *klass = g_new0 (GraftClass, 1);

  klass->path = g_strdup (path);
  klass->name = g_path_get_basename (path);
  g_ptr_array_add (scan->classes, klass);
}

/* One folder whose sub-folders hold the pictures: each is a class.
 * Otherwise every folder given is a class. */
static gboolean
collect_classes (GraftScan *scan, const char *const *folders, GError **error)
{
  guint n = g_strv_length ((char **) folders);

  for (guint i = 0; i < n; i++)
    if (!g_file_test (folders[i], G_FILE_TEST_IS_DIR))
      {
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNREADABLE,
                     "%s is not a folder", folders[i]);
        return FALSE;
      }
  if (n == 1)
    {
      g_autoptr (GDir) dir = g_dir_open (folders[0], 0, error);
      const char *name;
      if (dir == NULL)
        return FALSE;
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (folders[0], name, NULL);
          if (name[0] != '.' && g_file_test (path, G_FILE_TEST_IS_DIR))
            add_class (scan, path);
        }
    }
  if (scan->classes->len == 0)
    for (guint i = 0; i < n; i++)
      add_class (scan, folders[i]);
  g_ptr_array_sort (scan->classes, compare_classes);
  return TRUE;
}

GraftScan *
graft_scan_folders (const char *const *folders, gint64 max_pixels,
                    GCancellable *cancellable, GError **error)
{
  g_autoptr (GraftScan) scan = g_new0 (GraftScan, 1);
  Walk walk = { scan, NULL, max_pixels, cancellable };

  scan->classes = g_ptr_array_new_with_free_func (class_free);
  scan->samples = g_array_new (FALSE, FALSE, sizeof (GraftSample));
  g_array_set_clear_func (scan->samples, sample_clear);
  scan->skipped = g_ptr_array_new_with_free_func (skipped_free);
  if (!collect_classes (scan, folders, error))
    return NULL;

  walk.visited = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        NULL);
  for (guint i = 0; i < scan->classes->len; i++)
    {
      GraftClass *klass = g_ptr_array_index (scan->classes, i);
      walk_folder (&walk, klass->path, "", i);
    }
  g_hash_table_unref (walk.visited);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  g_array_sort (scan->samples, compare_samples);
  for (guint i = 0; i < scan->samples->len; i++)
    {
      GraftSample *s = &g_array_index (scan->samples, GraftSample, i);
      ((GraftClass *) g_ptr_array_index (scan->classes, s->label))->count++;
    }
  return g_steal_pointer (&scan);
}
