/* graft-health.c: the data set's warnings, from counts and hashes. */
#define G_LOG_DOMAIN "graft-health"

#include "graft-health.h"

#include <glib/gi18n-lib.h>
#include <string.h>

static GPtrArray *
one_path (const char *path)
{
  GPtrArray *paths = g_ptr_array_new ();

  g_ptr_array_add (paths, (gpointer) path);
  return paths;
}

static void
check_class_sizes (const GraftScan *scan, GPtrArray *warnings)
{
  for (guint i = 0; i < scan->classes->len; i++)
    {
      GraftClass *klass = scan->classes->pdata[i];
      g_autoptr (GPtrArray) paths = one_path (klass->path);
      if (klass->count == 0)
        g_ptr_array_add (warnings, graft_warning_new
                         (GRAFT_WARNING_EMPTY_CLASS, paths,
                          _("Class “%s” has no usable pictures."),
                          klass->name));
      else if (klass->count < GRAFT_MIN_CLASS_PICTURES)
        g_ptr_array_add (warnings, graft_warning_new
                         (GRAFT_WARNING_FEW_PICTURES, paths,
                          g_dngettext (GETTEXT_PACKAGE,
                                       "Class “%s” has only %u usable "
                                       "picture: at least %d are needed to "
                                       "learn and validate it.",
                                       "Class “%s” has only %u usable "
                                       "pictures: at least %d are needed to "
                                       "learn and validate it.",
                                       klass->count),
                          klass->name, klass->count,
                          GRAFT_MIN_CLASS_PICTURES));
    }
}

/* A classifier needs two classes with pictures. */
static void
check_class_count (const GraftScan *scan, GPtrArray *warnings)
{
  GraftClass *usable = NULL;
  guint n_usable = 0;

  for (guint i = 0; i < scan->classes->len; i++)
    if (((GraftClass *) scan->classes->pdata[i])->count > 0)
      {
        usable = scan->classes->pdata[i];
        n_usable++;
      }
  if (scan->classes->len == 1)
    g_ptr_array_add (warnings, graft_warning_new
                     (GRAFT_WARNING_SINGLE_CLASS, NULL,
                      _("Only one class (“%s”): a classifier needs at "
                        "least two. Drop one folder per class, or one "
                        "folder whose sub-folders are the classes."),
                      ((GraftClass *) scan->classes->pdata[0])->name));
  else if (n_usable == 1)
    g_ptr_array_add (warnings, graft_warning_new
                     (GRAFT_WARNING_SINGLE_CLASS, NULL,
                      _("Only class “%s” has usable pictures: a "
                        "classifier needs at least two."), usable->name));
  else if (n_usable == 0)
    g_ptr_array_add (warnings, graft_warning_new
                     (GRAFT_WARNING_NO_PICTURES, NULL,
                      _("No class has usable pictures.")));
}

/* Two folders named alike (dropped from different places) would show as
 * two classes with one label. */
static void
check_names (const GraftScan *scan, GPtrArray *warnings)
{
  for (guint i = 1; i < scan->classes->len; i++)
    {
      GraftClass *a = scan->classes->pdata[i - 1];
      GraftClass *b = scan->classes->pdata[i];
      g_autoptr (GPtrArray) paths = g_ptr_array_new ();
      if (!g_str_equal (a->name, b->name))
        continue;
      g_ptr_array_add (paths, a->path);
      g_ptr_array_add (paths, b->path);
      g_ptr_array_add (warnings, graft_warning_new
                       (GRAFT_WARNING_SAME_NAME, paths,
                        _("Two class folders are both named “%s”: rename "
                          "one."), a->name));
    }
}

static void
check_balance (const GraftScan *scan, GPtrArray *warnings)
{
  GraftClass *largest = NULL, *smallest = NULL;

  for (guint i = 0; i < scan->classes->len; i++)
    {
      GraftClass *klass = scan->classes->pdata[i];
      if (klass->count == 0)
        continue;   /* already warned about as empty */
      if (largest == NULL || klass->count > largest->count)
        largest = klass;
      if (smallest == NULL || klass->count < smallest->count)
        smallest = klass;
    }
  if (largest != NULL && largest != smallest
      && largest->count > GRAFT_IMBALANCE_RATIO * smallest->count)
    g_ptr_array_add (warnings, graft_warning_new
                     (GRAFT_WARNING_IMBALANCE, NULL,
                      _("Classes are imbalanced: “%s” has %u pictures, "
                        "“%s” only %u (%.1f to 1)."),
                      largest->name, largest->count,
                      smallest->name, smallest->count,
                      (double) largest->count / smallest->count));
}

/* The quoted names of the classes a group of copies is in. */
static char *
group_classes (const GraftScan *scan, GArray *group)
{
  g_autoptr (GString) names = g_string_new (NULL);
  g_autofree gboolean *listed = g_new0 (gboolean, scan->classes->len);

  for (guint i = 0; i < group->len; i++)
    {
      guint label = g_array_index (scan->samples, GraftSample,
                                   g_array_index (group, guint, i)).label;
      if (listed[label])
        continue;
      listed[label] = TRUE;
      if (names->len > 0)
        /* Translators: between the class names of a list */
        g_string_append (names, _(", "));
      /* Translators: a class name in quotes */
      g_string_append_printf (names, _("“%s”"),
                              ((GraftClass *)
                               scan->classes->pdata[label])->name);
    }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

static void
warn_group (const GraftScan *scan, GArray *group, GPtrArray *warnings)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new ();
  g_autofree char *classes = group_classes (scan, group);
  gboolean one_class = TRUE, in_train = FALSE, in_val = FALSE;
  const GraftSample *first = NULL;

  for (guint i = 0; i < group->len; i++)
    {
      const GraftSample *s = &g_array_index (scan->samples, GraftSample,
                                             g_array_index (group, guint, i));
      first = first != NULL ? first : s;
      one_class = one_class && s->label == first->label;
      in_val = in_val || s->val;
      in_train = in_train || !s->val;
      g_ptr_array_add (paths, s->path);
    }
  if (one_class)
    g_ptr_array_add (warnings, graft_warning_new
                     (GRAFT_WARNING_DUPLICATE_IN_CLASS, paths,
                      g_dngettext (GETTEXT_PACKAGE,
                                   "%u identical copy of one picture in "
                                   "class %s.",
                                   "%u identical copies of one picture in "
                                   "class %s.", group->len),
                      group->len, classes));
  else
    g_ptr_array_add (warnings, graft_warning_new
                     (GRAFT_WARNING_DUPLICATE_ACROSS_CLASSES, paths,
                      _("The same picture is in classes %s: a labelling "
                        "error?"), classes));
  if (in_train && in_val)
    g_ptr_array_add (warnings, graft_warning_new
                     (GRAFT_WARNING_DUPLICATE_ACROSS_SPLIT, paths,
                      _("The same picture is in both training and "
                        "validation sets: validation would overrate the "
                        "model.")));
}

static void
check_duplicates (const GraftScan *scan, GPtrArray *warnings)
{
  g_autoptr (GHashTable) groups = g_hash_table_new_full
    (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_array_unref);
  g_autoptr (GPtrArray) order = g_ptr_array_new ();

  for (guint i = 0; i < scan->samples->len; i++)
    {
      GraftSample *s = &g_array_index (scan->samples, GraftSample, i);
      GArray *group;
      if (s->sha256[0] == '\0')
        continue;
      group = g_hash_table_lookup (groups, s->sha256);
      if (group == NULL)
        {
          group = g_array_new (FALSE, FALSE, sizeof (guint));
          g_hash_table_insert (groups, s->sha256, group);
          g_ptr_array_add (order, group);
        }
      g_array_append_val (group, i);
    }
  for (guint i = 0; i < order->len; i++)
    if (((GArray *) order->pdata[i])->len > 1)
      warn_group (scan, order->pdata[i], warnings);
}

GPtrArray *
graft_health_check (const GraftScan *scan)
{
  GPtrArray *warnings = g_ptr_array_new_with_free_func
    ((GDestroyNotify) graft_warning_free);

  check_class_sizes (scan, warnings);
  check_class_count (scan, warnings);
  check_names (scan, warnings);
  check_balance (scan, warnings);
  check_duplicates (scan, warnings);
  return warnings;
}
