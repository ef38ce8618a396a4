/* test-split.c: the validation split is stratified, reproducible and
 * stable when pictures are added; the health check finds empty, lone,
 * small and imbalanced classes and exact duplicates within a class,
 * across classes and across the split, on disk as well as in memory. */
#include <math.h>
#include <string.h>

#include "graft-health.h"
#include "graft-scan.h"
#include "graft-split.h"
#include "graft-test-data.h"

/* A report with classes of @sizes pictures named "c<class>/<n>.png",
 * each with its own content hash. */
static GraftScan *
make_scan (const guint *sizes, guint n_classes, guint first)
{
  GraftScan *scan = graft_scan_new ();

  for (guint c = 0; c < n_classes; c++)
    {
      g_autofree char *name = g_strdup_printf ("class%u", c);
      guint label = graft_scan_add_class (scan, name, name);
      for (guint i = first; i < first + sizes[c]; i++)
        {
          g_autofree char *relative = g_strdup_printf ("%u.png", i);
          g_autofree char *path = g_strdup_printf ("%s/%s", name, relative);
          g_autofree char *sha = g_compute_checksum_for_string
            (G_CHECKSUM_SHA256, path, -1);
          graft_scan_add_sample (scan, label, path, relative, sha);
        }
    }
  return scan;
}

static GraftClass *
klass (GraftScan *scan, guint label)
{
  return scan->classes->pdata[label];
}

/* Each class validates about the fraction of its own pictures (within
 * four standard deviations of a binomial draw); the smallest classes
 * still have a picture on each side. */
static void
test_stratified (void)
{
  const guint sizes[] = { 1000, 300, 40, 3, 2, 1 };
  g_autoptr (GraftScan) scan = make_scan (sizes, G_N_ELEMENTS (sizes), 0);

  graft_split_apply (scan, 42, 0.2);
  for (guint c = 0; c < 3; c++)
    {
      double n = sizes[c], fraction = klass (scan, c)->n_val / n;
      g_assert_cmpuint (klass (scan, c)->n_val + klass (scan, c)->n_train,
                        ==, sizes[c]);
      g_assert_cmpfloat (fabs (fraction - 0.2), <=,
                         4 * sqrt (0.2 * 0.8 / n));
    }
  for (guint c = 3; c < 5; c++)
    {
      g_assert_cmpuint (klass (scan, c)->n_val, >=, 1);
      g_assert_cmpuint (klass (scan, c)->n_train, >=, 1);
    }
  g_assert_cmpuint (klass (scan, 5)->n_train, ==, 1);   /* a lone picture */
  graft_split_apply (scan, 42, 0.0);
  for (guint c = 0; c < G_N_ELEMENTS (sizes); c++)
    g_assert_cmpuint (klass (scan, c)->n_val, ==, 0);
}

static char *
sides (GraftScan *scan)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < scan->samples->len; i++)
    g_string_append_c (text, g_array_index (scan->samples, GraftSample,
                                            i).val ? 'v' : 't');
  return g_string_free (text, FALSE);
}

static void
test_reproducible (void)
{
  const guint sizes[] = { 200, 200 };
  g_autoptr (GraftScan) a = make_scan (sizes, 2, 0);
  g_autoptr (GraftScan) b = make_scan (sizes, 2, 0);
  g_autofree char *first = NULL;
  g_autofree char *again = NULL;
  g_autofree char *other = NULL;

  graft_split_apply (a, 5, 0.2);
  graft_split_apply (b, 5, 0.2);
  first = sides (a);
  again = sides (b);
  g_assert_cmpstr (first, ==, again);
  graft_split_apply (b, 6, 0.2);
  other = sides (b);
  g_assert_cmpstr (first, !=, other);
  /* The position is a pure function of seed and path, NFC-normalised. */
  g_assert_cmpfloat (graft_split_position (5, "caf\xc3\xa9.png"), ==,
                     graft_split_position (5, "cafe\xcc\x81.png"));
  g_assert_cmpfloat (graft_split_position (5, "a.png"), <, 1.0);
  g_assert_cmpfloat (graft_split_position (5, "a.png"), >=, 0.0);
}

/* Adding 300 pictures to each class moves none of the old ones. */
static void
test_stable (void)
{
  const guint before_sizes[] = { 100, 60 }, added[] = { 300, 300 };
  g_autoptr (GraftScan) before = make_scan (before_sizes, 2, 0);
  g_autoptr (GraftScan) after = make_scan (before_sizes, 2, 0);
  g_autoptr (GraftScan) more = make_scan (added, 2, 1000);

  for (guint i = 0; i < more->samples->len; i++)
    {
      GraftSample *s = &g_array_index (more->samples, GraftSample, i);
      graft_scan_add_sample (after, s->label, s->path, s->relative,
                             s->sha256);
    }
  graft_split_apply (before, 9, 0.25);
  graft_split_apply (after, 9, 0.25);
  for (guint i = 0; i < before->samples->len; i++)
    {
      GraftSample *old = &g_array_index (before->samples, GraftSample, i);
      GraftSample *now = &g_array_index (after->samples, GraftSample, i);
      g_assert_cmpstr (old->path, ==, now->path);
      g_assert_cmpint (old->val, ==, now->val);
    }
}

static const GraftWarning *
find_warning (const GraftScan *scan, const char *kind, const char *path)
{
  for (guint i = 0; i < scan->warnings->len; i++)
    {
      const GraftWarning *w = scan->warnings->pdata[i];
      if (g_str_equal (w->kind, kind)
          && (path == NULL || (w->paths != NULL && g_strv_contains
                               ((const char *const *) w->paths, path))))
        return w;
    }
  return NULL;
}

/* A relative path on the given side for @seed and fraction 0.5. */
static char *
name_on_side (guint64 seed, gboolean val, const char *prefix)
{
  for (guint i = 0;; i++)
    {
      char *name = g_strdup_printf ("%s%u.png", prefix, i);
      if ((graft_split_position (seed, name) < 0.5) == val)
        return name;
      g_free (name);
    }
}

static void
test_duplicates (void)
{
  const guint sizes[] = { 8, 8 };
  g_autoptr (GraftScan) scan = make_scan (sizes, 2, 0);
  g_autofree char *in_val = name_on_side (1, TRUE, "v");
  g_autofree char *in_train = name_on_side (1, FALSE, "t");
  g_autofree char *same = g_strnfill (64, 'a');
  g_autofree char *cross = g_strnfill (64, 'b');
  const GraftWarning *w;

  /* In class 0: one picture twice, on both sides of the split. */
  graft_scan_add_sample (scan, 0, "class0/val", in_val, same);
  graft_scan_add_sample (scan, 0, "class0/train", in_train, same);
  /* One picture in both classes. */
  graft_scan_add_sample (scan, 0, "class0/x.png", "x.png", cross);
  graft_scan_add_sample (scan, 1, "class1/x.png", "x.png", cross);
  graft_scan_set_split (scan, 1, 0.5);
  w = find_warning (scan, GRAFT_WARNING_DUPLICATE_IN_CLASS, "class0/val");
  g_assert_nonnull (w);
  g_assert_true (g_strv_contains ((const char *const *) w->paths,
                                  "class0/train"));
  g_assert_nonnull (find_warning (scan, GRAFT_WARNING_DUPLICATE_ACROSS_SPLIT,
                                  "class0/val"));
  w = find_warning (scan, GRAFT_WARNING_DUPLICATE_ACROSS_CLASSES,
                    "class1/x.png");
  g_assert_nonnull (w);
  g_assert_nonnull (strstr (w->message, "“class0”"));
  g_assert_nonnull (strstr (w->message, "“class1”"));
  g_assert_null (find_warning (scan, GRAFT_WARNING_DUPLICATE_IN_CLASS,
                               "class1/x.png"));
  g_assert_null (find_warning (scan, GRAFT_WARNING_IMBALANCE, NULL));
}

static void
test_class_warnings (void)
{
  const guint sizes[] = { 40, 4, 0 };
  const guint lone[] = { 7 };
  g_autoptr (GraftScan) scan = make_scan (sizes, 3, 0);
  g_autoptr (GraftScan) single = make_scan (lone, 1, 0);
  const GraftWarning *w;

  graft_scan_set_split (scan, 0, 0.2);
  g_assert_nonnull (find_warning (scan, GRAFT_WARNING_EMPTY_CLASS, "class2"));
  g_assert_nonnull (find_warning (scan, GRAFT_WARNING_FEW_PICTURES,
                                  "class1"));
  g_assert_null (find_warning (scan, GRAFT_WARNING_FEW_PICTURES, "class0"));
  w = find_warning (scan, GRAFT_WARNING_IMBALANCE, NULL);
  g_assert_nonnull (w);
  g_assert_nonnull (strstr (w->message, "10.0 to 1"));
  g_assert_null (find_warning (scan, GRAFT_WARNING_SINGLE_CLASS, NULL));
  graft_scan_set_split (single, 0, 0.2);
  g_assert_nonnull (find_warning (single, GRAFT_WARNING_SINGLE_CLASS, NULL));
}

/* The same bytes under two class folders, found by content hash. */
static void
test_duplicates_on_disk (void)
{
  g_autofree char *root = g_dir_make_tmp ("graft-split-XXXXXX", NULL);
  g_autofree char *a = graft_test_mkdir (root, "apples");
  g_autofree char *b = graft_test_mkdir (root, "pears");
  g_autofree char *copy_a = g_build_filename (a, "same.png", NULL);
  g_autofree char *copy_b = g_build_filename (b, "renamed.png", NULL);
  const char *folders[] = { root, NULL };
  g_autoptr (GraftScan) scan = NULL;

  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *pa = g_strdup_printf ("%s/%u.png", a, i);
      g_autofree char *pb = g_strdup_printf ("%s/%u.png", b, i);
      graft_test_save (pa, "png", 8, 8, FALSE, i);
      graft_test_save (pb, "png", 8, 8, FALSE, 100 + i);
    }
  graft_test_save (copy_a, "png", 8, 8, FALSE, 999);
  graft_test_save (copy_b, "png", 8, 8, FALSE, 999);
  scan = graft_scan_folders (folders, NULL, NULL, NULL, NULL, NULL);
  g_assert_nonnull (find_warning (scan,
                                  GRAFT_WARNING_DUPLICATE_ACROSS_CLASSES,
                                  copy_b));
  g_assert_cmpuint (scan->samples->len, ==, 14);
  graft_test_rm_rf (root);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/data/split/stratified", test_stratified);
  g_test_add_func ("/data/split/reproducible", test_reproducible);
  g_test_add_func ("/data/split/stable", test_stable);
  g_test_add_func ("/data/health/duplicates", test_duplicates);
  g_test_add_func ("/data/health/class-warnings", test_class_warnings);
  g_test_add_func ("/data/health/duplicates-on-disk",
                   test_duplicates_on_disk);
  return g_test_run ();
}
