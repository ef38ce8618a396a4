/* graft-scan.c: walking class folders, inspecting what they hold on the
 * decode pool, and assembling the report. */
#define G_LOG_DOMAIN "graft-scan"

#include "graft-scan.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <string.h>

#include "graft-decode-pool.h"
#include "graft-error.h"
#include "graft-health.h"
#include "graft-split.h"
#include "graft-text.h"

/* Deeper than any real photo collection; stops runaway recursion on a
 * file system whose inode numbers cannot be trusted. */
#define MAX_DEPTH 100

typedef enum
{
  FOLDER_ENTERED = 1,   /* being walked: reaching it again is a loop */
  FOLDER_DONE,          /* walked: reaching it again is a second link */
} FolderState;

/* A file found by the walk, waiting for inspection. */
typedef struct
{
  char *path;
  char *relative;
  guint label;
  GraftImageInfo info;
  char *reason;         /* set when the file cannot be used */
} Candidate;

typedef struct
{
  GraftScan *scan;
  const GraftScanOptions *options;
  GArray *candidates;       /* Candidate */
  GHashTable *folders;      /* "dev:inode" → FolderState */
  const char *parent;       /* the folder of class folders, if one */
  GraftScanProgressFunc progress;
  gpointer progress_data;
  GCancellable *cancellable;
} Walk;

/* ---- Report -------------------------------------------------------------- */

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

static void
candidate_clear (gpointer data)
{
  Candidate *candidate = data;

  g_free (candidate->path);
  g_free (candidate->relative);
  g_free (candidate->reason);
}

/* Messages are shown and written as JSON: a name that slipped in raw
 * (a file system's message quoting a path) must not make them invalid. */
static void
make_text (char **message)
{
  if (!graft_text_is_clean (*message))
    {
      char *text = graft_text_escape (*message);
      g_free (*message);
      *message = text;
    }
}

GraftWarning *
graft_warning_new (const char *kind, GPtrArray *paths, const char *format,
                   ...)
{
  GraftWarning *warning = g_new0 (GraftWarning, 1);
  va_list args;

  warning->kind = g_strdup (kind);
  va_start (args, format);
  warning->message = g_strdup_vprintf (format, args);
  va_end (args);
  make_text (&warning->message);
  if (paths != NULL && paths->len > 0)
    {
      warning->paths = g_new0 (char *, paths->len + 1);
      for (guint i = 0; i < paths->len; i++)
        warning->paths[i] = g_strdup (paths->pdata[i]);
    }
  return warning;
}

void
graft_warning_free (GraftWarning *warning)
{
  if (warning == NULL)
    return;
  g_free (warning->kind);
  g_free (warning->message);
  g_strfreev (warning->paths);
  g_free (warning);
}

GraftScan *
graft_scan_new (void)
{
  GraftScan *scan = g_new0 (GraftScan, 1);

  scan->classes = g_ptr_array_new_with_free_func (class_free);
  scan->samples = g_array_new (FALSE, FALSE, sizeof (GraftSample));
  g_array_set_clear_func (scan->samples, sample_clear);
  scan->skipped = g_ptr_array_new_with_free_func (skipped_free);
  scan->warnings = g_ptr_array_new_with_free_func
    ((GDestroyNotify) graft_warning_free);
  return scan;
}

void
graft_scan_free (GraftScan *scan)
{
  if (scan == NULL)
    return;
  g_ptr_array_unref (scan->classes);
  g_array_unref (scan->samples);
  g_ptr_array_unref (scan->skipped);
  g_ptr_array_unref (scan->warnings);
  g_free (scan);
}

void
graft_scan_options_init (GraftScanOptions *options)
{
  options->max_pixels = GRAFT_DEFAULT_MAX_PIXELS;
  options->decode = TRUE;
  options->threads = 0;
  options->val_fraction = GRAFT_DEFAULT_VAL_FRACTION;
  options->seed = GRAFT_DEFAULT_SEED;
}

int
graft_scan_find_class (const GraftScan *scan, const char *name)
{
  for (guint i = 0; i < scan->classes->len; i++)
    if (g_str_equal (((GraftClass *) scan->classes->pdata[i])->name, name))
      return (int) i;
  return -1;
}

void
graft_scan_set_split (GraftScan *scan, guint64 seed, double val_fraction)
{
  graft_split_apply (scan, seed, val_fraction);
  g_ptr_array_set_size (scan->warnings, 0);
  g_ptr_array_extend_and_steal (scan->warnings, graft_health_check (scan));
}

/* ---- Walk ---------------------------------------------------------------- */

static void
skip (Walk *walk, const char *path, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static void
skip (Walk *walk, const char *path, const char *format, ...)
{
  GraftSkipped *skipped = g_new0 (GraftSkipped, 1);
  va_list args;

  va_start (args, format);
  skipped->reason = g_strdup_vprintf (format, args);
  va_end (args);
  make_text (&skipped->reason);
  skipped->path = g_strdup (path);
  g_ptr_array_add (walk->scan->skipped, skipped);
}

static void
add_candidate (Walk *walk, const char *path, const char *relative,
               guint label)
{
  Candidate candidate = { g_strdup (path), g_strdup (relative), label };

  g_array_append_val (walk->candidates, candidate);
  if (walk->progress != NULL)
    walk->progress (GRAFT_SCAN_WALKING, walk->candidates->len, 0,
                    walk->progress_data);
}

static char *
folder_key (const GStatBuf *st)
{
  return g_strdup_printf ("%ju:%ju", (uintmax_t) st->st_dev,
                          (uintmax_t) st->st_ino);
}

static void walk_folder (Walk *walk, const char *folder, const GStatBuf *st,
                         const char *relative, guint label, guint depth);

/* One directory entry: lstat first, so that a link is recognised as one
 * and a link that loops on itself (ELOOP) is reported, not followed. */
static void
visit_entry (Walk *walk, const char *path, const char *relative,
             guint label, guint depth)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    {
      skip (walk, path, _("unreadable: %s"), g_strerror (errno));
      return;
    }
  if (S_ISLNK (st.st_mode) && g_stat (path, &st) != 0)
    {
      int saved = errno;
      if (saved == ELOOP)
        skip (walk, path, _("symbolic link loop: the link never reaches a "
                              "file or folder"));
      else
        skip (walk, path, _("broken symbolic link: %s"), g_strerror (saved));
      return;
    }
  if (S_ISDIR (st.st_mode))
    walk_folder (walk, path, &st, relative, label, depth + 1);
  else if (S_ISREG (st.st_mode))
    add_candidate (walk, path, relative, label);
  else
    skip (walk, path, _("not a regular file (a device, pipe or socket)"));
}

/* Marks a folder entered; FALSE (with the reason skipped) when it is an
 * ancestor (a link loop) or was already walked through another link. */
static gboolean
enter_folder (Walk *walk, const char *folder, const GStatBuf *st,
              guint depth)
{
  char *key = folder_key (st);
  FolderState state = GPOINTER_TO_INT (g_hash_table_lookup (walk->folders,
                                                            key));

  if (state == FOLDER_ENTERED)
    skip (walk, folder, _("symbolic link loop: leads back to a folder "
                          "that contains it"));
  else if (state == FOLDER_DONE)
    skip (walk, folder, _("already scanned: the same folder through "
                          "another link"));
  else if (depth > MAX_DEPTH)
    skip (walk, folder, _("nested too deeply (over %d folders)"), MAX_DEPTH);
  else
    {
      g_hash_table_insert (walk->folders, key,
                           GINT_TO_POINTER (FOLDER_ENTERED));
      return TRUE;
    }
  g_free (key);
  return FALSE;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The names in a folder, sorted so that the walk (and the order of the
 * report) does not depend on the file system. */
static GPtrArray *
list_folder (const char *folder, GError **error)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, error);
  GPtrArray *names;
  const char *name;

  if (dir == NULL)
    return NULL;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return names;
}

static void
walk_folder (Walk *walk, const char *folder, const GStatBuf *st,
             const char *relative, guint label, guint depth)
{
  g_autoptr (GPtrArray) names = NULL;
  g_autoptr (GError) error = NULL;

  if (!enter_folder (walk, folder, st, depth))
    return;
  names = list_folder (folder, &error);
  if (names == NULL)
    skip (walk, folder, _("unreadable folder: %s"), error->message);
  for (guint i = 0; names != NULL && i < names->len
       && !g_cancellable_is_cancelled (walk->cancellable); i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *path = NULL;
      g_autofree char *rel = NULL;
      if (name[0] == '.')
        continue;   /* hidden: not the user's pictures */
      path = g_build_filename (folder, name, NULL);
      rel = relative[0] ? g_strconcat (relative, "/", name, NULL)
        : g_strdup (name);
      visit_entry (walk, path, rel, label, depth);
    }
  g_hash_table_insert (walk->folders, folder_key (st),
                       GINT_TO_POINTER (FOLDER_DONE));
}

/* ---- Classes ------------------------------------------------------------- */

guint
graft_scan_add_class (GraftScan *scan, const char *name, const char *path)
{
  GraftClass *klass = g_new0 (GraftClass, 1);

  klass->path = g_strdup (path);
  klass->name = g_strdup (name);
  g_ptr_array_add (scan->classes, klass);
  return scan->classes->len - 1;
}

void
graft_scan_add_sample (GraftScan *scan, guint label, const char *path,
                       const char *relative, const char *sha256)
{
  GraftSample sample = { g_strdup (path), g_strdup (relative), label };

  g_return_if_fail (label < scan->classes->len);
  if (sha256 != NULL)
    g_strlcpy (sample.sha256, sha256, sizeof sample.sha256);
  g_array_append_val (scan->samples, sample);
  ((GraftClass *) scan->classes->pdata[label])->count++;
}

static void
add_class (GraftScan *scan, const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *name = graft_text_from_filename (base);

  graft_scan_add_class (scan, name, path);
}

/* Whether a class other than @self, of another folder name, has @name. */
static gboolean
name_taken (GraftScan *scan, guint self, const char *name, const char *base)
{
  for (guint i = 0; i < scan->classes->len; i++)
    {
      GraftClass *other = scan->classes->pdata[i];
      g_autofree char *other_base = NULL;
      if (i == self || !g_str_equal (other->name, name))
        continue;
      other_base = g_path_get_basename (other->path);
      if (!g_str_equal (other_base, base))
        return TRUE;
    }
  return FALSE;
}

/* Folder names that are not text as they are (\xff and \xfe both show as
 * U+FFFD) could give two classes one label: such a name that another
 * folder's name also gives is followed by its bytes, escaped ("� (\xff)").
 * Folders of the very same name keep one (the health check warns). */
static void
disambiguate_names (GraftScan *scan)
{
  g_autofree gboolean *clash = g_new0 (gboolean, scan->classes->len);

  for (guint i = 0; i < scan->classes->len; i++)
    {
      GraftClass *klass = scan->classes->pdata[i];
      g_autofree char *base = g_path_get_basename (klass->path);
      clash[i] = !g_str_equal (klass->name, base)
        && name_taken (scan, i, klass->name, base);
    }
  for (guint i = 0; i < scan->classes->len; i++)
    {
      GraftClass *klass = scan->classes->pdata[i];
      g_autofree char *base = NULL;
      g_autofree char *bytes = NULL;
      char *name;
      if (!clash[i])
        continue;
      base = g_path_get_basename (klass->path);
      bytes = graft_text_escape (base);
      name = g_strdup_printf ("%s (%s)", klass->name, bytes);
      g_free (klass->name);
      klass->name = name;
    }
}

static int
compare_class_names (gconstpointer a, gconstpointer b)
{
  const GraftClass *x = *(GraftClass **) a, *y = *(GraftClass **) b;
  int by_name = strcmp (x->name, y->name);

  return by_name != 0 ? by_name : strcmp (x->path, y->path);
}

static gboolean
check_folders (const char *const *folders, GError **error)
{
  if (folders == NULL || folders[0] == NULL)
    {
      g_set_error_literal (error, GRAFT_DATA_ERROR,
                           GRAFT_DATA_ERROR_NO_CLASSES, _("no folder given"));
      return FALSE;
    }
  for (guint i = 0; folders[i] != NULL; i++)
    if (!g_file_test (folders[i], G_FILE_TEST_IS_DIR))
      {
        g_autofree char *shown = graft_text_from_filename (folders[i]);
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNREADABLE,
                     "%s: %s", shown, g_file_test (folders[i],
                                                   G_FILE_TEST_EXISTS)
                     ? _("not a folder") : _("no such folder"));
        return FALSE;
      }
  return TRUE;
}

/* One folder given: its visible sub-folders are the classes, and its
 * loose files belong to none (reported).  No sub-folders, or several
 * folders given: each folder given is a class. */
static gboolean
collect_classes (Walk *walk, const char *const *folders, GError **error)
{
  GraftScan *scan = walk->scan;
  g_autoptr (GPtrArray) names = NULL;
  g_autoptr (GPtrArray) loose = g_ptr_array_new_with_free_func (g_free);

  if (!check_folders (folders, error))
    return FALSE;
  if (folders[1] == NULL)
    {
      if ((names = list_folder (folders[0], error)) == NULL)
        {
          g_autofree char *shown = graft_text_from_filename (folders[0]);
          g_prefix_error (error, "%s: ", shown);
          return FALSE;
        }
      for (guint i = 0; i < names->len; i++)
        {
          const char *name = names->pdata[i];
          char *path = g_build_filename (folders[0], name, NULL);
          if (name[0] != '.' && g_file_test (path, G_FILE_TEST_IS_DIR))
            add_class (scan, path);
          if (name[0] != '.' && !g_file_test (path, G_FILE_TEST_IS_DIR))
            g_ptr_array_add (loose, path);
          else
            g_free (path);
        }
    }
  if (scan->classes->len == 0)
    for (guint i = 0; folders[i] != NULL; i++)
      add_class (scan, folders[i]);
  else
    walk->parent = folders[0];
  for (guint i = 0; walk->parent != NULL && i < loose->len; i++)
      skip (walk, loose->pdata[i], _("not in a class folder (each class "
                                      "is a sub-folder named after it)"));
  disambiguate_names (scan);
  g_ptr_array_sort (scan->classes, compare_class_names);
  return TRUE;
}

/* Walks every class folder; a class folder that cannot be opened is
 * reported like any other and its class stays empty.  The parent counts
 * as entered, so that a link to it among the classes is a loop. */
static void
walk_classes (Walk *walk)
{
  GraftScan *scan = walk->scan;
  GStatBuf parent;

  if (walk->parent != NULL && g_stat (walk->parent, &parent) == 0)
    g_hash_table_insert (walk->folders, folder_key (&parent),
                         GINT_TO_POINTER (FOLDER_ENTERED));
  for (guint i = 0; i < scan->classes->len
       && !g_cancellable_is_cancelled (walk->cancellable); i++)
    {
      GraftClass *klass = scan->classes->pdata[i];
      GStatBuf st;
      if (g_stat (klass->path, &st) != 0)
        skip (walk, klass->path, _("unreadable folder: %s"),
              g_strerror (errno));
      else
        walk_folder (walk, klass->path, &st, "", i, 0);
    }
}

/* ---- Inspection and assembly --------------------------------------------- */

static void
inspect_one (guint index, gpointer data)
{
  Walk *walk = data;
  Candidate *c = &g_array_index (walk->candidates, Candidate, index);
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkPixbuf) pixbuf = NULL;

  /* The decode only proves the picture decodes: a JPEG at 1/8 of its
   * size runs libjpeg over all its data, several times faster. */
  static const GraftImageNeed any_size = { .width = 1, .height = 1 };

  if (graft_image_inspect (c->path, walk->options->max_pixels, &c->info,
                           walk->cancellable, &error)
      && walk->options->decode)
    pixbuf = graft_image_decode_for (c->path, &any_size, &error);
  if (error != NULL)
    c->reason = g_strdup (error->message);
}

static void
report_checking (guint done, guint total, gpointer data)
{
  Walk *walk = data;

  walk->progress (GRAFT_SCAN_CHECKING, done, total, walk->progress_data);
}

static gboolean
inspect_all (Walk *walk, GError **error)
{
  g_autoptr (GraftDecodePool) pool = NULL;

  pool = graft_decode_pool_new (walk->options->threads);
  return graft_decode_pool_run (pool, walk->candidates->len, inspect_one,
                              walk, walk->progress ? report_checking : NULL,
                              walk, walk->cancellable, error);
}

static gint
compare_samples (gconstpointer a, gconstpointer b)
{
  const GraftSample *x = a, *y = b;

  if (x->label != y->label)
    return x->label < y->label ? -1 : 1;
  return strcmp (x->relative, y->relative);
}

static gint
compare_skipped (gconstpointer a, gconstpointer b)
{
  const GraftSkipped *x = *(GraftSkipped **) a, *y = *(GraftSkipped **) b;

  return strcmp (x->path, y->path);
}

static void
assemble (Walk *walk)
{
  GraftScan *scan = walk->scan;

  for (guint i = 0; i < walk->candidates->len; i++)
    {
      Candidate *c = &g_array_index (walk->candidates, Candidate, i);
      GraftSample sample = { 0 };
      if (c->reason != NULL)
        {
          skip (walk, c->path, "%s", c->reason);
          continue;
        }
      sample.path = g_steal_pointer (&c->path);
      sample.relative = g_steal_pointer (&c->relative);
      sample.label = c->label;
      sample.width = c->info.width;
      sample.height = c->info.height;
      memcpy (sample.sha256, c->info.sha256, sizeof sample.sha256);
      g_array_append_val (scan->samples, sample);
    }
  g_array_sort (scan->samples, compare_samples);
  g_ptr_array_sort (scan->skipped, compare_skipped);
  for (guint i = 0; i < scan->samples->len; i++)
    {
      GraftSample *s = &g_array_index (scan->samples, GraftSample, i);
      ((GraftClass *) scan->classes->pdata[s->label])->count++;
    }
}

GraftScan *
graft_scan_folders (const char *const *folders,
                    const GraftScanOptions *options,
                    GraftScanProgressFunc progress, gpointer progress_data,
                    GCancellable *cancellable, GError **error)
{
  g_autoptr (GraftScan) scan = graft_scan_new ();
  g_autoptr (GArray) candidates = g_array_new (FALSE, FALSE,
                                               sizeof (Candidate));
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash,
                                                       g_str_equal, g_free,
                                                       NULL);
  GraftScanOptions defaults;
  Walk walk = { scan, options, candidates, seen, NULL, progress,
                progress_data, cancellable };

  if (options == NULL)
    {
      graft_scan_options_init (&defaults);
      walk.options = &defaults;
    }
  g_array_set_clear_func (candidates, candidate_clear);
  if (!collect_classes (&walk, folders, error))
    return NULL;
  walk_classes (&walk);
  if (g_cancellable_set_error_if_cancelled (cancellable, error)
      || !inspect_all (&walk, error))
    return NULL;
  assemble (&walk);
  graft_scan_set_split (scan, walk.options->seed,
                        walk.options->val_fraction);
  return g_steal_pointer (&scan);
}
