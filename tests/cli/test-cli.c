/* test-cli.c: graft-cli as a script would drive it — exit codes, one-line
 * failures, JSON on stdout — on real torchvision structures and on a
 * folder of generated pictures. */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "gf-onnx.h"
#include "graft-image.h"

#define PYTHON "/usr/bin/python3"

typedef struct
{
  int status;
  char *out;
  char *err;
} Run;

static void
run_clear (Run *run)
{
  g_free (run->out);
  g_free (run->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

/* Runs graft-cli with @args (NULL-terminated). */
static Run
cli (const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  Run run = { 0 };
  va_list args;
  int wait_status;

  g_ptr_array_add (argv, (gpointer) g_getenv ("GRAFT_CLI"));
  va_start (args, first);
  for (const char *a = first; a != NULL; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL,
                NULL, &run.out, &run.err, &wait_status, &error);
  g_assert_no_error (error);
  run.status = WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
  return run;
}

/* A failure is exactly one line on stderr, starting with the program. */
static void
assert_one_line_failure (const Run *run, int status, const char *fragment)
{
  g_assert_cmpint (run->status, ==, status);
  g_assert_true (g_str_has_prefix (run->err, "graft-cli: "));
  g_assert_cmpint (strchr (run->err, '\n') - run->err + 1, ==,
                   (int) strlen (run->err));
  if (strstr (run->err, fragment) == NULL)
    g_test_fail_printf ("'%s' lacks '%s'", run->err, fragment);
}

static void
test_help_and_usage (void)
{
  g_auto (Run) help = cli ("--help", NULL);
  g_auto (Run) none = cli (NULL);
  g_auto (Run) unknown = cli ("frobnicate", NULL);
  g_auto (Run) flag = cli ("inspect", "--no-such-flag", "x.onnx", NULL);

  g_assert_cmpint (help.status, ==, 0);
  g_assert_nonnull (strstr (help.out, "inspect"));
  g_assert_nonnull (strstr (help.out, "features"));
  g_assert_cmpint (none.status, ==, 2);
  assert_one_line_failure (&unknown, 2, "frobnicate");
  assert_one_line_failure (&flag, 2, "no-such-flag");
}

static void
test_inspect_refuses (void)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-cli-XXXXXX", NULL);
  g_autofree char *junk = g_build_filename (dir, "junk.onnx", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.onnx", NULL);

  g_file_set_contents (junk, "this is not a model", -1, NULL);
  {
    g_auto (Run) run = cli ("inspect", junk, NULL);
    assert_one_line_failure (&run, 1, "junk.onnx");
  }
  {
    g_auto (Run) run = cli ("inspect", missing, NULL);
    assert_one_line_failure (&run, 1, "missing.onnx");
  }
  g_unlink (junk);
  g_rmdir (dir);
}

static JsonObject *
parse_object (JsonParser *parser, const char *text)
{
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

/* Exports torchvision's own @name at full size (random weights), or
 * returns NULL having marked the test skipped. */
static char *
export_torchvision (const char *name, const char *dir)
{
  g_autofree char *script = g_build_filename (g_getenv ("GRAFT_SOURCE_ROOT"),
                                              "tools", "export-torchvision",
                                              NULL);
  char *out = g_strdup_printf ("%s/%s.onnx", dir, name);
  const char *argv[] = { PYTHON, script, name, out, NULL };
  int status = -1;

  if (!g_file_test (PYTHON, G_FILE_TEST_IS_EXECUTABLE)
      || !g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                        NULL, NULL, NULL, NULL, &status, NULL)
      || status != 0)
    {
      g_test_skip ("exporting torchvision models needs /usr/bin/python3 with "
                   "python3-torch and python3-torchvision (tools/test "
                   "installs them)");
      g_free (out);
      return NULL;
    }
  return out;
}

static void
check_torchvision (const char *name, guint n_blocks, const char *kind,
                   guint n_kind, gint64 channels)
{
  g_autofree char *dir = g_dir_make_tmp ("graft-cli-XXXXXX", NULL);
  g_autofree char *model = export_torchvision (name, dir);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root, *bottleneck;
  JsonArray *blocks, *shape;
  guint count = 0;

  if (model == NULL)
    return;
  {
    g_auto (Run) run = cli ("inspect", model, NULL);
    g_assert_cmpint (run.status, ==, 0);
    root = parse_object (parser, run.out);
  }
  blocks = json_object_get_array_member (root, "blocks");
  for (guint i = 0; i < json_array_get_length (blocks); i++)
    {
      JsonObject *b = json_array_get_object_element (blocks, i);
      g_test_message ("%s", json_object_get_string_member (b, "name"));
      count += g_str_equal (json_object_get_string_member (b, "kind"), kind);
    }
  g_assert_cmpuint (json_array_get_length (blocks), ==, n_blocks);
  g_assert_cmpuint (count, ==, n_kind);
  bottleneck = json_object_get_object_member (root, "bottleneck");
  shape = json_object_get_array_member (bottleneck, "shape");
  g_assert_cmpint (json_array_get_int_element (shape, 1), ==, channels);
  g_unlink (model);
  g_rmdir (dir);
}

/* The stem, then eight residual blocks; 512 channels at the cut. */
static void
test_inspect_resnet18 (void)
{
  check_torchvision ("resnet18", 9, "residual", 8, 512);
}

/* Ten inverted residuals that add their input back, each one block;
 * 1280 channels at the cut. */
static void
test_inspect_mobilenet_v2 (void)
{
  check_torchvision ("mobilenet_v2", 32, "inverted residual", 10, 1280);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/help-and-usage", test_help_and_usage);
  g_test_add_func ("/cli/inspect/refuses", test_inspect_refuses);
  g_test_add_func ("/cli/inspect/torchvision-resnet18", test_inspect_resnet18);
  g_test_add_func ("/cli/inspect/torchvision-mobilenet-v2",
                   test_inspect_mobilenet_v2);
  return g_test_run ();
}
