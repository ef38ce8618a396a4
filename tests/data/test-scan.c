/* test-scan.c: scanning a hostile folder — every usable picture counted in
 * its class, every unusable file listed with its specific reason, loops
 * reported not followed, unreadable entries reported (as "nobody" when
 * run as root), the empty class warned about, and the tree byte-for-byte
 * unchanged afterwards, also when read-only; both drop
 * styles; the threaded scan with progress and cancellation. */
#include <glib/gstdio.h>
#include <grp.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "graft-error.h"
#include "graft-scan.h"
#include "graft-test-data.h"
#include "graft-text.h"

typedef struct
{
  char *dir;    /* the temporary folder */
  char *root;   /* the data set inside it */
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("graft-scan-XXXXXX", NULL);
  f->root = graft_test_mkdir (f->dir, "data");
  graft_test_make_hostile_tree (f->root);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  graft_test_rm_rf (f->dir);
  g_free (f->root);
  g_free (f->dir);
}

static GraftScan *
scan_root (Fixture *f, guint threads)
{
  const char *folders[] = { f->root, NULL };
  g_autoptr (GError) error = NULL;
  GraftScanOptions options;
  GraftScan *scan;

  graft_scan_options_init (&options);
  options.threads = threads;
  scan = graft_scan_folders (folders, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  return scan;
}

static const GraftSample *
find_sample (const GraftScan *scan, const char *klass, const char *relative)
{
  int label = graft_scan_find_class (scan, klass);

  for (guint i = 0; i < scan->samples->len; i++)
    {
      const GraftSample *s = &g_array_index (scan->samples, GraftSample, i);
      if ((int) s->label == label && g_str_equal (s->relative, relative))
        return s;
    }
  return NULL;
}

static const GraftSkipped *
find_skipped (const GraftScan *scan, const char *path)
{
  for (guint i = 0; i < scan->skipped->len; i++)
    if (g_str_equal (((GraftSkipped *) scan->skipped->pdata[i])->path, path))
      return scan->skipped->pdata[i];
  return NULL;
}

static gboolean
has_warning (const GraftScan *scan, const char *kind, const char *path)
{
  for (guint i = 0; i < scan->warnings->len; i++)
    {
      GraftWarning *w = scan->warnings->pdata[i];
      if (g_str_equal (w->kind, kind)
          && (path == NULL
              || (w->paths && g_strv_contains ((const char *const *) w->paths,
                                               path))))
        return TRUE;
    }
  return FALSE;
}

static void
assert_usable (Fixture *f, const GraftScan *scan)
{
  guint expected = 0;

  for (const GraftTestExpected *e = graft_test_hostile_usable; e->a; e++)
    {
      const GraftSample *s = find_sample (scan, e->a, e->b);
      if (s == NULL)
        g_error ("%s/%s was not counted", e->a, e->b);
      g_assert_cmpuint (strlen (s->sha256), ==, 64);
      g_assert_cmpint (s->width, >, 0);
      expected++;
    }
  g_assert_cmpuint (scan->samples->len, ==, expected);
  g_assert_cmpuint (scan->classes->len, ==, 3);
  g_assert_cmpuint (((GraftClass *) scan->classes->pdata
                     [graft_scan_find_class (scan, "cats")])->count, ==, 11);
  g_assert_cmpuint (((GraftClass *) scan->classes->pdata
                     [graft_scan_find_class (scan, "dogs")])->count, ==, 3);
  g_assert_cmpuint (((GraftClass *) scan->classes->pdata
                     [graft_scan_find_class (scan, "empty")])->count, ==, 0);
}

static void
assert_skipped (Fixture *f, const GraftScan *scan)
{
  guint expected = 0;

  for (const GraftTestExpected *e = graft_test_hostile_skipped; e->a; e++)
    {
      g_autofree char *path = g_build_filename (f->root, e->a, NULL);
      const GraftSkipped *s = find_skipped (scan, path);
      if (s == NULL)
        g_error ("%s was not listed as skipped", e->a);
      if (strstr (s->reason, e->b) == NULL)
        g_error ("%s: reason '%s' lacks '%s'", e->a, s->reason, e->b);
      expected++;
    }
  for (guint i = 0; i < scan->skipped->len; i++)
    {
      GraftSkipped *s = scan->skipped->pdata[i];
      g_assert_null (strstr (s->path, "/."));   /* nothing hidden */
      g_test_message ("skipped %s: %s", s->path, s->reason);
    }
  g_assert_cmpuint (scan->skipped->len, ==, expected);
}

static void
assert_report (Fixture *f, const GraftScan *scan)
{
  g_autofree char *empty = g_build_filename (f->root, "empty", NULL);
  g_autofree char *dogs = g_build_filename (f->root, "dogs", NULL);

  assert_usable (f, scan);
  assert_skipped (f, scan);
  g_assert_true (has_warning (scan, GRAFT_WARNING_EMPTY_CLASS, empty));
  g_assert_true (has_warning (scan, GRAFT_WARNING_FEW_PICTURES, dogs));
  g_assert_false (has_warning (scan, GRAFT_WARNING_SINGLE_CLASS, NULL));
}

static void
test_hostile (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) before = graft_test_snapshot (f->root);
  g_autoptr (GHashTable) after = NULL;
  g_autoptr (GraftScan) scan = scan_root (f, 2);

  assert_report (f, scan);
  after = graft_test_snapshot (f->root);
  graft_test_assert_same_tree (before, after);
}

/* The same with every file and folder read-only.  As root, permissions
 * are not enforced, so what proves that nothing was written is the
 * snapshot (contents, sizes, modes, modification and change times of
 * every entry, folders included), not a failed write. */
static void
test_read_only (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) before = NULL;
  g_autoptr (GHashTable) after = NULL;
  g_autoptr (GraftScan) one = NULL;
  g_autoptr (GraftScan) two = NULL;

  graft_test_chmod_tree (f->root, FALSE);
  before = graft_test_snapshot (f->root);
  one = scan_root (f, 1);
  two = scan_root (f, 4);
  after = graft_test_snapshot (f->root);
  graft_test_assert_same_tree (before, after);
  assert_report (f, one);
  assert_report (f, two);
}

/* ---- Unreadable entries ------------------------------------------------- */

#define UNREADABLE_ROOT_ENV "GRAFT_TEST_UNREADABLE_ROOT"
#define NOBODY 65534

static const char *self_path;

static void
check_unreadable (const char *root)
{
  g_autofree char *file = g_build_filename (root, "dogs", "dog0.png", NULL);
  g_autofree char *folder = g_build_filename (root, "cats", "nested", NULL);
  const char *folders[] = { root, NULL };
  g_autoptr (GraftScan) scan = graft_scan_folders (folders, NULL, NULL, NULL,
                                                   NULL, NULL);
  const GraftSkipped *s;

  g_assert_nonnull (scan);
  s = find_skipped (scan, file);
  g_assert_nonnull (s);
  g_assert_nonnull (strstr (s->reason, "unreadable"));
  s = find_skipped (scan, folder);
  g_assert_nonnull (s);
  g_assert_nonnull (strstr (s->reason, "unreadable folder"));
}

/* In the child, before exec: become a user that permissions apply to. */
static void
drop_privileges (gpointer data)
{
  if (setgroups (0, NULL) != 0 || setgid (NOBODY) != 0
      || setuid (NOBODY) != 0)
    _exit (77);
}

/* Root reads everything, so as root this runs the check in a copy of this
 * program that has become "nobody". */
static void
check_unreadable_as_nobody (const char *root)
{
  const char *argv[] = { self_path, "-p", "/data/scan/unreadable/child",
                         NULL };
  g_auto (GStrv) envp = g_environ_setenv (g_get_environ (),
                                          UNREADABLE_ROOT_ENV, root, TRUE);
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  int status = -1;

  g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_STDERR_TO_DEV_NULL,
                drop_privileges, NULL, &out, NULL, &status, &error);
  g_assert_no_error (error);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 77)
    {
      g_test_skip ("cannot switch to user nobody to test permissions");
      return;
    }
  g_test_message ("child: %s", out);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_nonnull (strstr (out, "ok 1 /data/scan/unreadable/child"));
}

/* A file and a folder nobody may read are reported, not fatal. */
static void
test_unreadable (Fixture *f, gconstpointer data)
{
  g_autofree char *file = g_build_filename (f->root, "dogs", "dog0.png",
                                            NULL);
  g_autofree char *folder = g_build_filename (f->root, "cats", "nested",
                                              NULL);

  g_chmod (file, 0);
  g_chmod (folder, 0);
  if (geteuid () != 0)
    check_unreadable (f->root);
  else
    {
      g_chmod (f->dir, 0755);   /* g_dir_make_tmp's folder is private */
      check_unreadable_as_nobody (f->root);
    }
  g_chmod (folder, 0755);
}

static void
test_unreadable_child (void)
{
  check_unreadable (g_getenv (UNREADABLE_ROOT_ENV));
}

/* Several folders, each a class, give the same classes and counts as
 * their parent; one folder without sub-folders is a single class. */
static void
test_drop_styles (Fixture *f, gconstpointer data)
{
  g_autofree char *cats = g_build_filename (f->root, "cats", NULL);
  g_autofree char *dogs = g_build_filename (f->root, "dogs", NULL);
  g_autofree char *solo = graft_test_mkdir (f->dir, "solo");
  g_autofree char *picture = g_build_filename (solo, "only.png", NULL);
  const char *several[] = { dogs, cats, NULL };
  const char *single[] = { solo, NULL };
  g_autoptr (GraftScan) parent = scan_root (f, 0);
  g_autoptr (GraftScan) one = NULL;
  g_autoptr (GraftScan) each = graft_scan_folders (several, NULL, NULL, NULL,
                                                   NULL, NULL);

  g_assert_cmpuint (each->classes->len, ==, 2);
  for (guint i = 0; i < each->classes->len; i++)
    {
      GraftClass *klass = each->classes->pdata[i];
      GraftClass *same = parent->classes->pdata
        [graft_scan_find_class (parent, klass->name)];
      g_assert_cmpuint (klass->count, ==, same->count);
    }
  g_assert_cmpuint (each->samples->len, ==, 14);
  graft_test_save (picture, "png", 4, 4, FALSE, 1);
  one = graft_scan_folders (single, NULL, NULL, NULL, NULL, NULL);
  g_assert_cmpuint (one->classes->len, ==, 1);
  g_assert_cmpuint (one->samples->len, ==, 1);
  g_assert_true (has_warning (one, GRAFT_WARNING_SINGLE_CLASS, NULL));
  g_assert_true (has_warning (one, GRAFT_WARNING_FEW_PICTURES, NULL));
}

/* A link among the class folders back to their parent is a loop, not a
 * class holding every other class. */
static void
test_parent_loop (Fixture *f, gconstpointer data)
{
  g_autofree char *parent = graft_test_mkdir (f->dir, "parent");
  g_autofree char *a = graft_test_mkdir (parent, "a");
  g_autofree char *b = graft_test_mkdir (parent, "b");
  g_autofree char *pa = g_build_filename (a, "1.png", NULL);
  g_autofree char *pb = g_build_filename (b, "1.png", NULL);
  g_autofree char *loop = g_build_filename (parent, "again", NULL);
  const char *folders[] = { parent, NULL };
  g_autoptr (GraftScan) scan = NULL;
  const GraftSkipped *s;

  graft_test_save (pa, "png", 3, 3, FALSE, 1);
  graft_test_save (pb, "png", 3, 3, FALSE, 2);
  g_assert_cmpint (symlink (".", loop), ==, 0);
  scan = graft_scan_folders (folders, NULL, NULL, NULL, NULL, NULL);
  s = find_skipped (scan, loop);
  g_assert_nonnull (s);
  g_assert_nonnull (strstr (s->reason, "symbolic link loop"));
  g_assert_cmpuint (((GraftClass *) scan->classes->pdata
                     [graft_scan_find_class (scan, "a")])->count, ==, 1);
  g_assert_cmpuint (scan->samples->len, ==, 2);
}

static void
test_not_a_folder (Fixture *f, gconstpointer data)
{
  g_autofree char *missing = g_build_filename (f->dir, "missing", NULL);
  g_autofree char *file = g_build_filename (f->root, "readme.txt", NULL);
  const char *cases[][2] = { { missing, NULL }, { file, NULL } };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GraftScan) scan = graft_scan_folders (cases[i], NULL, NULL,
                                                       NULL, NULL, &error);
      g_assert_null (scan);
      g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNREADABLE);
      g_assert_nonnull (strstr (error->message, cases[i][0]));
    }
}

/* ---- Off the main thread ------------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  GraftScan *scan;
  GError *error;
  guint progress_calls;
  guint last_done, last_total;
  gboolean called_after_finish;
  gboolean finished;
  GThread *main_thread;
  GCancellable *cancel_at_first_check;
} AsyncState;

static void
on_progress (GraftScanPhase phase, guint done, guint total, gpointer data)
{
  AsyncState *state = data;

  g_assert_true (g_thread_self () == state->main_thread);
  state->called_after_finish |= state->finished;
  state->progress_calls++;
  if (phase == GRAFT_SCAN_CHECKING)
    {
      state->last_done = done;
      state->last_total = total;
      if (state->cancel_at_first_check != NULL)
        g_cancellable_cancel (state->cancel_at_first_check);
    }
}

static void
on_scanned (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncState *state = data;

  state->scan = graft_scan_folders_finish (result, &state->error);
  state->finished = TRUE;
  g_main_loop_quit (state->loop);
}

static void
run_async (Fixture *f, AsyncState *state, GCancellable *cancellable)
{
  const char *folders[] = { f->root, NULL };
  GraftScanOptions options;

  graft_scan_options_init (&options);
  options.threads = 1;   /* slow enough to be cancelled midway */
  state->loop = g_main_loop_new (NULL, FALSE);
  state->main_thread = g_thread_self ();
  graft_scan_folders_async (folders, &options, on_progress, state, NULL,
                            cancellable, on_scanned, state);
  g_main_loop_run (state->loop);
  /* Let any idle still queued run: it must not report. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_main_loop_unref (state->loop);
}

static void
test_async (Fixture *f, gconstpointer data)
{
  AsyncState state = { 0 };

  run_async (f, &state, NULL);
  g_assert_no_error (state.error);
  g_assert_nonnull (state.scan);
  g_assert_cmpuint (state.progress_calls, >, 0);
  g_assert_false (state.called_after_finish);
  /* The last report, before the callback, is the whole check. */
  g_assert_cmpuint (state.last_total, >, 0);
  g_assert_cmpuint (state.last_done, ==, state.last_total);
  assert_report (f, state.scan);
  graft_scan_free (state.scan);
}

static void
cancel_when_checking (GraftScanPhase phase, guint done, guint total,
                      gpointer data)
{
  if (phase == GRAFT_SCAN_CHECKING && done >= 2)
    g_cancellable_cancel (data);
}

/* Cancelled from the progress callback in the middle of checking: no
 * report, a cancelled error. */
static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  const char *folders[] = { f->root, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftScan) scan = NULL;

  scan = graft_scan_folders (folders, NULL, cancel_when_checking,
                             cancellable, cancellable, &error);
  g_assert_null (scan);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* Cancelled from the main loop while the worker runs: whether the worker
 * was still checking or had just finished, the result is the cancelled
 * error, and no progress comes after it. */
static void
test_async_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  AsyncState state = { 0 };

  state.cancel_at_first_check = cancellable;
  run_async (f, &state, cancellable);
  g_assert_null (state.scan);
  g_assert_error (state.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (state.called_after_finish);
  g_clear_error (&state.error);
}

/* ---- Names that are not text ------------------------------------------- */

static gboolean
is_named_class (const char *base)
{
  for (guint i = 0; graft_test_named_classes[i] != NULL; i++)
    if (g_str_equal (base, graft_test_named_classes[i]))
      return TRUE;
  return FALSE;
}

/* Class folders named "\xff", "\xfe", with an escape sequence or a
 * newline: every label is text and no two are alike, the paths keep the
 * file system's bytes (the pictures open), and the reasons are text. */
static void
test_names_not_utf8 (void)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-scan-XXXXXX", NULL);
  const char *folders[] = { dir, NULL };
  g_autoptr (GraftScan) scan = NULL;
  g_autoptr (GHashTable) labels = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean fifo = FALSE;

  graft_test_make_named_tree (dir);
  scan = graft_scan_folders (folders, NULL, NULL, NULL, NULL, NULL);
  g_assert_nonnull (scan);
  g_assert_cmpuint (scan->classes->len, ==,
                    g_strv_length ((char **) graft_test_named_classes));
  for (guint i = 0; i < scan->classes->len; i++)
    {
      GraftClass *klass = scan->classes->pdata[i];
      g_autofree char *base = g_path_get_basename (klass->path);
      g_assert_true (graft_text_is_clean (klass->name));
      g_assert_true (g_hash_table_add (labels, klass->name));
      g_assert_true (is_named_class (base));
      g_assert_cmpuint (klass->count, ==, GRAFT_TEST_NAMED_PICTURES);
    }
  for (guint i = 0; i < scan->samples->len; i++)
    g_assert_true (g_file_test (g_array_index (scan->samples, GraftSample,
                                               i).path,
                                G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (scan->skipped->len, ==, 2);
  for (guint i = 0; i < scan->skipped->len; i++)
    {
      GraftSkipped *s = scan->skipped->pdata[i];
      g_assert_true (graft_text_is_clean (s->reason));
      fifo |= strstr (s->reason, "not a regular file") != NULL;
    }
  g_assert_true (fifo);
  for (guint i = 0; i < scan->warnings->len; i++)
    g_assert_true (graft_text_is_clean
                   (((GraftWarning *) scan->warnings->pdata[i])->message));
  graft_test_rm_rf (dir);
}

/* Two folders of the very same name, given separately, keep one label
 * (and are warned about); "\xff" beside a real "\uFFFD" folder does
 * not share its label. */
static void
test_names_same (void)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-scan-XXXXXX", NULL);
  g_autofree char *a = graft_test_mkdir (dir, "a");
  g_autofree char *b = graft_test_mkdir (dir, "b");
  g_autofree char *a_ff = graft_test_mkdir (a, "\xff");
  g_autofree char *b_ff = graft_test_mkdir (b, "\xff");
  g_autofree char *b_fffd = graft_test_mkdir (b, "\xef\xbf\xbd");
  const char *same[] = { a_ff, b_ff, NULL };
  const char *alike[] = { a_ff, b_fffd, NULL };
  g_autoptr (GraftScan) one = graft_scan_folders (same, NULL, NULL, NULL,
                                                  NULL, NULL);
  g_autoptr (GraftScan) two = graft_scan_folders (alike, NULL, NULL, NULL,
                                                  NULL, NULL);
  gboolean warned = FALSE;

  g_assert_cmpstr (((GraftClass *) one->classes->pdata[0])->name, ==,
                   ((GraftClass *) one->classes->pdata[1])->name);
  for (guint i = 0; i < one->warnings->len; i++)
    warned |= g_str_equal (((GraftWarning *) one->warnings->pdata[i])->kind,
                           GRAFT_WARNING_SAME_NAME);
  g_assert_true (warned);
  g_assert_cmpstr (((GraftClass *) two->classes->pdata[0])->name, !=,
                   ((GraftClass *) two->classes->pdata[1])->name);
  g_assert_cmpint (graft_scan_find_class (two, "\xef\xbf\xbd"), >=, 0);
  for (guint i = 0; i < two->classes->len; i++)
    g_assert_true (graft_text_is_clean
                   (((GraftClass *) two->classes->pdata[i])->name));
  graft_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  self_path = argv[0];
  g_test_init (&argc, &argv, NULL);
  if (g_getenv (UNREADABLE_ROOT_ENV) != NULL)
    {
      g_test_add_func ("/data/scan/unreadable/child", test_unreadable_child);
      return g_test_run ();
    }
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, \
                                    func, fixture_tear_down)
  ADD ("/data/scan/hostile", test_hostile);
  ADD ("/data/scan/hostile-read-only", test_read_only);
  ADD ("/data/scan/unreadable", test_unreadable);
  ADD ("/data/scan/drop-styles", test_drop_styles);
  ADD ("/data/scan/parent-loop", test_parent_loop);
  ADD ("/data/scan/not-a-folder", test_not_a_folder);
  ADD ("/data/scan/cancel", test_cancel);
  ADD ("/data/scan/async", test_async);
  ADD ("/data/scan/async-cancel", test_async_cancel);
#undef ADD
  g_test_add_func ("/data/scan/names/not-utf8", test_names_not_utf8);
  g_test_add_func ("/data/scan/names/same", test_names_same);
  return g_test_run ();
}
