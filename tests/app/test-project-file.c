/* test-project-file.c: graft-project.json — written and read back, a
 * hand-edited file losing a choice rather than the project, files that
 * are not project files refused with a sentence naming them, a newer
 * format refused, and the write atomic (no temporary file left). */
#include <string.h>
#include <glib/gstdio.h>

#include "graft-project-file.h"
#include "graft-test-app.h"

static void
test_round_trip (void)
{
  g_autofree char *dir = g_build_filename (graft_test_app_data_home (),
                                           "round trip", NULL);
  g_autoptr (GraftProjectFile) file = graft_project_file_new ();
  g_autoptr (GraftProjectFile) back = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) listing = NULL;
  GraftClassChoice *choice;
  const char *name;
  guint n = 0;

  g_strfreev (file->folders);
  file->folders = g_strsplit ("/data/shoes|/data/caf\xc3\xa9 \"quoted\"", "|",
                              -1);
  choice = graft_project_file_class (file, "/data/shoes/boots", TRUE);
  choice->name = g_strdup ("Boots & more");
  graft_project_file_class (file, "/data/shoes/sandals", TRUE)->kept = FALSE;
  file->val_fraction = 0.35;
  file->backbone = g_strdup ("/home/ana/models/my net.onnx");
  file->mode = GRAFT_RUN_MODE_PROGRESSIVE;
  file->unfreeze = -1;
  g_assert_true (graft_project_file_write (dir, file, &error));
  g_assert_no_error (error);
  g_assert_true (graft_project_file_exists (dir));

  back = graft_project_file_read (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (back->folders, file->folders);
  g_assert_cmpuint (back->classes->len, ==, 2);
  choice = graft_project_file_class (back, "/data/shoes/boots", FALSE);
  g_assert_cmpstr (choice->name, ==, "Boots & more");
  g_assert_true (choice->kept);
  choice = graft_project_file_class (back, "/data/shoes/sandals", FALSE);
  g_assert_null (choice->name);
  g_assert_false (choice->kept);
  g_assert_null (graft_project_file_class (back, "/data/other", FALSE));
  g_assert_cmpfloat (back->val_fraction, ==, 0.35);
  g_assert_cmpstr (back->backbone, ==, file->backbone);
  g_assert_cmpint (back->mode, ==, GRAFT_RUN_MODE_PROGRESSIVE);
  g_assert_cmpint (back->unfreeze, ==, -1);

  /* Written under another name and renamed: only the file is there. */
  listing = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_assert_cmpstr (name, ==, GRAFT_PROJECT_FILE);
      n++;
    }
  g_assert_cmpuint (n, ==, 1);
}

/* A project without a file yet (the default one, untouched) reads as the
 * defaults. */
static void
test_missing (void)
{
  g_autofree char *dir = g_build_filename (graft_test_app_data_home (),
                                           "nothing here", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftProjectFile) file = graft_project_file_read (dir, &error);

  g_assert_no_error (error);
  g_assert_nonnull (file);
  g_assert_null (file->folders[0]);
  g_assert_cmpfloat (file->val_fraction, ==, 0.2);
  g_assert_null (file->backbone);
  g_assert_cmpint (file->mode, ==, GRAFT_RUN_MODE_EXTRACT);
  g_assert_false (graft_project_file_exists (dir));
}

/* Wrong types and out-of-range values take their defaults; the rest is
 * kept. */
static void
test_lenient (void)
{
  static const char text[] =
    "{\"format\": \"graft-project\", \"version\": 1,"
    " \"folders\": [\"/a\", 3, null, \"/b\"],"
    " \"classes\": [{\"path\": \"/a/x\", \"name\": 7},"
    "               {\"name\": \"no path\"}, 5,"
    "               {\"path\": \"/a/y\", \"kept\": \"no\"}],"
    " \"val_fraction\": 1.5, \"backbone\": [1],"
    " \"mode\": \"sideways\", \"unfreeze\": \"two\"}";
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftProjectFile) file
    = graft_project_file_parse (text, sizeof text - 1, "edited.json",
                                &error);
  const char *folders[] = { "/a", "/b", NULL };

  g_assert_no_error (error);
  g_assert_cmpstrv (file->folders, folders);
  g_assert_cmpuint (file->classes->len, ==, 2);
  g_assert_null (graft_project_file_class (file, "/a/x", FALSE)->name);
  g_assert_true (graft_project_file_class (file, "/a/y", FALSE)->kept);
  g_assert_cmpfloat (file->val_fraction, ==, 0.2);
  g_assert_null (file->backbone);
  g_assert_cmpint (file->mode, ==, GRAFT_RUN_MODE_EXTRACT);
  g_assert_cmpint (file->unfreeze, ==, 2);
}

static void
test_refused (void)
{
  static const struct
  {
    const char *text;
    GIOErrorEnum code;
  } cases[] = {
    { "", G_IO_ERROR_INVALID_DATA },
    { "{\"format\": \"graft-proj", G_IO_ERROR_INVALID_DATA },
    { "[1, 2]", G_IO_ERROR_INVALID_DATA },
    { "{\"folders\": []}", G_IO_ERROR_INVALID_DATA },
    { "{\"format\": \"graft-run\"}", G_IO_ERROR_INVALID_DATA },
    { "{\"format\": \"graft-project\", \"version\": 9}",
      G_IO_ERROR_NOT_SUPPORTED },
    { "\xff\xfe{}", G_IO_ERROR_INVALID_DATA },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GraftProjectFile) file = graft_project_file_parse
        (cases[i].text, strlen (cases[i].text), "/p/graft-project.json",
         &error);

      g_assert_null (file);
      g_assert_error (error, G_IO_ERROR, cases[i].code);
      g_assert_nonnull (strstr (error->message, "/p/graft-project.json"));
    }
}

int
main (int argc, char **argv)
{
  graft_test_app_init (&argc, &argv);
  g_test_add_func ("/app/project-file/round-trip", test_round_trip);
  g_test_add_func ("/app/project-file/missing", test_missing);
  g_test_add_func ("/app/project-file/lenient", test_lenient);
  g_test_add_func ("/app/project-file/refused", test_refused);
  return g_test_run ();
}
