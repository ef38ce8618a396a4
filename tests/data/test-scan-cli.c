/* test-scan-cli.c: `graft-cli scan` as a script drives it — the JSON
 * schema on the hostile folder, the summary on stderr, the split options,
 * both drop styles, exit codes and one-line failures, and the folder
 * untouched. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "graft-test-cli.h"
#include <sys/wait.h>

#include "graft-test-data.h"


static JsonObject *
parse (JsonParser *parser, const char *text)
{
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_node_get_object (json_parser_get_root (parser));
}

/* Every element of @member is an object whose @strings are strings and
 * whose @ints are integers. */
static JsonArray *
check_array (JsonObject *root, const char *member,
             const char *const *strings, const char *const *ints)
{
  JsonArray *array = json_object_get_array_member (root, member);

  g_assert_nonnull (array);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *o = json_array_get_object_element (array, i);
      g_assert_nonnull (o);
      for (guint s = 0; strings && strings[s]; s++)
        g_assert_true (json_node_get_value_type
                       (json_object_get_member (o, strings[s]))
                       == G_TYPE_STRING);
      for (guint n = 0; ints && ints[n]; n++)
        g_assert_true (json_node_get_value_type
                       (json_object_get_member (o, ints[n]))
                       == G_TYPE_INT64);
    }
  return array;
}

static gint64
class_count (JsonArray *classes, const char *name)
{
  for (guint i = 0; i < json_array_get_length (classes); i++)
    {
      JsonObject *o = json_array_get_object_element (classes, i);
      if (g_str_equal (json_object_get_string_member (o, "name"), name))
        return json_object_get_int_member (o, "count");
    }
  return -1;
}

static void
check_warnings (JsonObject *root)
{
  const char *strings[] = { "kind", "message", NULL };
  JsonArray *warnings = check_array (root, "warnings", strings, NULL);
  gboolean empty_class = FALSE;

  for (guint i = 0; i < json_array_get_length (warnings); i++)
    {
      JsonObject *o = json_array_get_object_element (warnings, i);
      if (json_object_has_member (o, "paths"))
        {
          JsonArray *paths = json_object_get_array_member (o, "paths");
          g_assert_cmpuint (json_array_get_length (paths), >, 0);
          for (guint p = 0; p < json_array_get_length (paths); p++)
            g_assert_nonnull (json_array_get_string_element (paths, p));
        }
      empty_class |= g_str_equal (json_object_get_string_member (o, "kind"),
                                  "empty-class");
    }
  g_assert_true (empty_class);
}

static void
check_report (JsonObject *root)
{
  const char *class_strings[] = { "name", "path", NULL };
  const char *class_ints[] = { "count", NULL };
  const char *skipped_strings[] = { "path", "reason", NULL };
  JsonArray *classes = check_array (root, "classes", class_strings,
                                    class_ints);
  JsonArray *skipped = check_array (root, "skipped", skipped_strings, NULL);
  JsonObject *split = json_object_get_object_member (root, "split");
  guint n_skipped = 0;

  g_assert_cmpuint (json_array_get_length (classes), ==, 3);
  g_assert_cmpint (class_count (classes, "cats"), ==, 11);
  g_assert_cmpint (class_count (classes, "dogs"), ==, 3);
  g_assert_cmpint (class_count (classes, "empty"), ==, 0);
  for (const GraftTestExpected *e = graft_test_hostile_skipped; e->a; e++)
    n_skipped++;
  g_assert_cmpuint (json_array_get_length (skipped), ==, n_skipped);
  check_warnings (root);
  g_assert_nonnull (split);
  g_assert_cmpint (json_object_get_int_member (split, "train")
                   + json_object_get_int_member (split, "val"), ==, 14);
}

static void
test_json (void)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-scan-cli-XXXXXX", NULL);
  g_autofree char *root = graft_test_mkdir (dir, "data");
  g_autoptr (GHashTable) before = NULL;
  g_autoptr (GHashTable) after = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();

  graft_test_make_hostile_tree (root);
  before = graft_test_snapshot (root);
  {
    g_auto (GraftCliRun) run = graft_test_cli ("scan", root, "--json", NULL);
    g_assert_cmpint (run.status, ==, 0);
    check_report (parse (parser, run.out));
    g_assert_nonnull (strstr (run.err, "usable pictures"));
    g_assert_nonnull (strstr (run.err, "truncated"));
  }
  {
    /* Without --json: the summary is the result, on stdout. */
    g_auto (GraftCliRun) run = graft_test_cli ("scan", root, NULL);
    g_assert_cmpint (run.status, ==, 0);
    g_assert_true (g_str_has_prefix (run.out, "3 classes, 14 usable "
                                     "pictures"));
  }
  after = graft_test_snapshot (root);
  graft_test_assert_same_tree (before, after);
  graft_test_rm_rf (dir);
}

static gint64
val_count (const char *out)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *split = json_object_get_object_member (parse (parser, out),
                                                     "split");

  return json_object_get_int_member (split, "val");
}

/* --val and --seed: the same options give the same report, another seed
 * another split; several folders given are one class each. */
static void
test_split_options (void)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-scan-cli-XXXXXX", NULL);
  g_autofree char *a = graft_test_mkdir (dir, "a");
  g_autofree char *b = graft_test_mkdir (dir, "b");

  for (guint i = 0; i < 30; i++)
    {
      g_autofree char *pa = g_strdup_printf ("%s/%02u.png", a, i);
      g_autofree char *pb = g_strdup_printf ("%s/%02u.png", b, i);
      graft_test_save (pa, "png", 4, 4, FALSE, i);
      graft_test_save (pb, "png", 4, 4, FALSE, 100 + i);
    }
  {
    g_auto (GraftCliRun) one = graft_test_cli ("scan", "--json", "--val", "0.5", "--seed", "3",
                            dir, NULL);
    g_auto (GraftCliRun) two = graft_test_cli ("scan", "--json", "--val", "0.5", "--seed", "3",
                            dir, NULL);
    g_auto (GraftCliRun) other = graft_test_cli ("scan", "--json", "--val", "0.5", "--seed",
                              "4", dir, NULL);
    g_auto (GraftCliRun) each = graft_test_cli ("scan", "--json", a, b, NULL);
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_assert_cmpint (one.status, ==, 0);
    g_assert_cmpstr (one.out, ==, two.out);
    g_assert_cmpstr (one.out, !=, other.out);
    g_assert_cmpint (val_count (one.out), >, 15);
    g_assert_cmpint (val_count (one.out), <, 45);
    g_assert_cmpint (val_count (each.out), <, 25);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member
                                             (parse (parser, each.out),
                                              "classes")), ==, 2);
  }
  graft_test_rm_rf (dir);
}

static void
test_failures (void)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-scan-cli-XXXXXX", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  g_autofree char *file = g_build_filename (dir, "file.png", NULL);

  graft_test_save (file, "png", 2, 2, FALSE, 1);
  {
    g_auto (GraftCliRun) run = graft_test_cli ("scan", "--json", missing, NULL);
    graft_test_assert_one_line_failure (&run, 1, "missing");
  }
  {
    g_auto (GraftCliRun) run = graft_test_cli ("scan", file, NULL);
    graft_test_assert_one_line_failure (&run, 1, "not a folder");
  }
  {
    g_auto (GraftCliRun) run = graft_test_cli ("scan", NULL);
    graft_test_assert_one_line_failure (&run, 2, "folder");
  }
  {
    g_auto (GraftCliRun) run = graft_test_cli ("scan", "--val", "1.5", dir, NULL);
    graft_test_assert_one_line_failure (&run, 2, "--val");
  }
  {
    g_auto (GraftCliRun) run = graft_test_cli ("scan", "--no-such-option", dir, NULL);
    graft_test_assert_one_line_failure (&run, 2, "no-such-option");
  }
  graft_test_rm_rf (dir);
}

/* Whether @text has no control character but newlines. */
static gboolean
no_controls (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if ((c < 0x20 && c != '\n') || (c >= 0x7f && c < 0xa0))
        return FALSE;
    }
  return TRUE;
}

/* Every object of @member has a "path" naming a file that exists: itself,
 * or through its bytes in "path_base64" when it is not UTF-8. */
static guint
check_paths (JsonObject *root, const char *member)
{
  JsonArray *array = json_object_get_array_member (root, member);
  guint n_base64 = 0;

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *o = json_array_get_object_element (array, i);
      const char *path = json_object_get_string_member (o, "path");
      g_autofree guchar *bytes = NULL;
      g_autofree char *file = NULL;
      gsize length;
      if (!json_object_has_member (o, "path_base64"))
        {
          g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
          continue;
        }
      bytes = g_base64_decode (json_object_get_string_member
                               (o, "path_base64"), &length);
      file = g_strndup ((const char *) bytes, length);
      g_assert_cmpuint (strlen (file), ==, length);
      g_assert_false (g_utf8_validate (file, -1, NULL));
      g_assert_true (g_file_test (file, G_FILE_TEST_EXISTS));
      n_base64++;
    }
  return n_base64;
}

/* Folders named "\xff", "\xfe", with ESC or a newline: the JSON is valid
 * UTF-8, keeps every path's bytes, gives distinct labels; the summary sends
 * no control character to the terminal. */
static void
test_names_not_utf8 (void)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-scan-cli-XXXXXX", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);

  graft_test_make_named_tree (dir);
  {
    g_auto (GraftCliRun) run = graft_test_cli ("scan", "--json", dir, NULL);
    JsonObject *root;
    JsonArray *classes;
    g_assert_cmpint (run.status, ==, 0);
    g_assert_true (g_utf8_validate (run.out, -1, NULL));
    g_assert_true (g_utf8_validate (run.err, -1, NULL));
    g_assert_true (no_controls (run.err));
    root = parse (parser, run.out);
    classes = json_object_get_array_member (root, "classes");
    for (guint i = 0; i < json_array_get_length (classes); i++)
      g_assert_true (g_hash_table_add
                     (names, (gpointer) json_object_get_string_member
                      (json_array_get_object_element (classes, i), "name")));
    g_assert_cmpuint (g_hash_table_size (names), ==, 4);
    g_assert_cmpuint (check_paths (root, "classes"), ==, 2);
    g_assert_cmpuint (check_paths (root, "skipped"), ==, 2);
  }
  {
    g_auto (GraftCliRun) run = graft_test_cli ("scan", dir, NULL);
    g_assert_cmpint (run.status, ==, 0);
    g_assert_true (g_utf8_validate (run.out, -1, NULL));
    g_assert_true (no_controls (run.out));
    g_assert_nonnull (strstr (run.out, "esc\\x1b[31mred"));
    g_assert_nonnull (strstr (run.out, "line\\x0abreak"));
    g_assert_nonnull (strstr (run.out, "\\xff"));
  }
  {
    /* A failure quoting the folder stays one line without escapes. */
    g_autofree char *missing = g_build_filename (dir, "gone\x1b[2J\nx",
                                                 NULL);
    g_auto (GraftCliRun) run = graft_test_cli ("scan", missing, NULL);
    graft_test_assert_one_line_failure (&run, 1, "no such folder");
    g_assert_true (no_controls (run.err));
  }
  graft_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/data/scan-cli/json", test_json);
  g_test_add_func ("/data/scan-cli/split-options", test_split_options);
  g_test_add_func ("/data/scan-cli/failures", test_failures);
  g_test_add_func ("/data/scan-cli/names-not-utf8", test_names_not_utf8);
  return g_test_run ();
}
