/* test-preprocess.c: preprocessing presets and their graft.* metadata. */
#include <locale.h>
#include <string.h>

#include "gf-preprocess.h"
#include "gf-test-util.h"

static void
test_preset_values (void)
{
  GfPreprocess pre;

  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, 224, 224);
  g_assert_cmpfloat_with_epsilon (pre.scale, 1.0 / 255.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (pre.mean[1], 0.456, 1e-12);
  g_assert_cmpfloat_with_epsilon (pre.std[2], 0.225, 1e-12);
  g_assert_cmpint (pre.order, ==, GF_CHANNELS_RGB);

  /* Keras "tf": 0 → −1 and 255 → +1. */
  gf_preprocess_preset (&pre, GF_PRESET_KERAS_TF, 299, 299);
  g_assert_cmpfloat_with_epsilon ((255 * pre.scale - pre.mean[0])
                                  / pre.std[0], 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon ((0 * pre.scale - pre.mean[0]) / pre.std[0],
                                  -1.0, 1e-12);

  gf_preprocess_preset (&pre, GF_PRESET_KERAS_CAFFE, 224, 224);
  g_assert_cmpint (pre.order, ==, GF_CHANNELS_BGR);
  g_assert_cmpfloat_with_epsilon (pre.mean[0], 103.939, 1e-9);
  g_assert_cmpfloat_with_epsilon (pre.scale, 1.0, 1e-12);
}

static void
test_round_trip (void)
{
  GfPreprocess pre, back;
  GfMetadataEntry *entries;
  size_t n;

  gf_preprocess_preset (&pre, GF_PRESET_KERAS_CAFFE, 120, 160);
  pre.resize = GF_RESIZE_SQUASH;
  pre.std[1] = 0.5;
  g_assert_cmpint (gf_preprocess_to_metadata (&pre, &entries, &n, NULL), ==,
                   GF_OK);
  g_assert_cmpstr (gf_metadata_lookup (entries, n, "graft.input_size"), ==,
                   "120,160");
  gf_preprocess_preset (&back, GF_PRESET_IMAGENET_TORCH, 224, 224);
  g_assert_cmpint (gf_preprocess_from_metadata (&back, entries, n, NULL), ==,
                   GF_OK);
  g_assert_cmpmem (&back, sizeof back, &pre, sizeof pre);
  gf_metadata_free (entries, n);
}

/* Switches LC_NUMERIC to German (decimal comma), compiling the locale
 * into a temporary folder with localedef when the system lacks it. */
static gboolean
use_decimal_comma_locale (char **tmpdir)
{
  g_autofree char *target = NULL;
  const char *argv[] = { "localedef", "-i", "de_DE", "-f", "UTF-8", NULL,
                         NULL };

  if (setlocale (LC_NUMERIC, "de_DE.UTF-8") != NULL)
    return TRUE;
  *tmpdir = g_dir_make_tmp ("graft-locale-XXXXXX", NULL);
  target = g_build_filename (*tmpdir, "de_DE.UTF-8", NULL);
  argv[5] = target;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH
                     | G_SPAWN_STDOUT_TO_DEV_NULL
                     | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                     NULL, NULL))
    return FALSE;
  /* glibc reads LOCPATH at every setlocale. */
  g_setenv ("LOCPATH", *tmpdir, TRUE);
  return setlocale (LC_NUMERIC, "de_DE.UTF-8") != NULL;
}

/* A desktop in a decimal-comma locale must read and write the same files. */
static void
test_locale_independent (void)
{
  g_autofree char *saved = g_strdup (setlocale (LC_NUMERIC, NULL));
  g_autofree char *tmpdir = NULL;
  GfPreprocess pre;
  GfMetadataEntry *entries;
  size_t n;
  char text[16];

  if (!use_decimal_comma_locale (&tmpdir))
    {
      g_test_fail_printf ("cannot make a de_DE.UTF-8 locale (localedef "
                          "needs the 'locales' package)");
      return;
    }
  /* The locale really is in force: printf now writes a comma. */
  snprintf (text, sizeof text, "%.1f", 0.5);
  g_assert_cmpstr (text, ==, "0,5");
  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, 224, 224);
  gf_preprocess_to_metadata (&pre, &entries, &n, NULL);
  g_assert_cmpstr (gf_metadata_lookup (entries, n, "graft.mean"), ==,
                   "0.485,0.456,0.406");
  gf_preprocess_preset (&pre, GF_PRESET_KERAS_TF, 1, 1);
  g_assert_cmpint (gf_preprocess_from_metadata (&pre, entries, n, NULL), ==,
                   GF_OK);
  g_assert_cmpfloat_with_epsilon (pre.std[0], 0.229, 1e-12);
  gf_metadata_free (entries, n);
  setlocale (LC_NUMERIC, saved);
  if (tmpdir != NULL)
    {
      g_autofree char *command = g_strdup_printf ("rm -rf '%s'", tmpdir);
      g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL);
    }
}

typedef struct
{
  const char *key, *value, *fragment;
} BadValue;

static const BadValue bad_values[] = {
  { "graft.input_size", "0", "graft.input_size" },
  { "graft.input_size", "224x224", "graft.input_size" },
  { "graft.input_size", "99999", "graft.input_size" },
  { "graft.resize", "stretch", "graft.resize" },
  { "graft.channel_order", "GBR", "graft.channel_order" },
  { "graft.scale", "-1", "graft.scale" },
  { "graft.scale", "nan", "graft.scale" },
  { "graft.mean", "1,2", "graft.mean" },
  { "graft.std", "0.2,0,0.2", "graft.std" },
  { "graft.std", "", "graft.std" },
};

static void
test_bad_value (gconstpointer data)
{
  const BadValue *bad = data;
  GfMetadataEntry entry = { (char *) bad->key, (char *) bad->value };
  GfPreprocess pre, before;
  GfError error = { 0 };

  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, 224, 224);
  before = pre;
  g_assert_cmpint (gf_preprocess_from_metadata (&pre, &entry, 1, &error), !=,
                   GF_OK);
  g_assert_nonnull (strstr (error.message, bad->fragment));
  /* A refused file changes nothing. */
  g_assert_cmpmem (&pre, sizeof pre, &before, sizeof before);
}

static void
test_metadata_set_replaces (void)
{
  GfMetadataEntry *entries = NULL;
  size_t n = 0;

  gf_metadata_set (&entries, &n, "a", "1", NULL);
  gf_metadata_set (&entries, &n, "b", "2", NULL);
  gf_metadata_set (&entries, &n, "a", "3", NULL);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpstr (gf_metadata_lookup (entries, n, "a"), ==, "3");
  g_assert_null (gf_metadata_lookup (entries, n, "c"));
  gf_metadata_free (entries, n);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/preprocess/presets", test_preset_values);
  g_test_add_func ("/engine/preprocess/round-trip", test_round_trip);
  g_test_add_func ("/engine/preprocess/locale-independent",
                   test_locale_independent);
  g_test_add_func ("/engine/preprocess/metadata-set", test_metadata_set_replaces);
  for (size_t i = 0; i < G_N_ELEMENTS (bad_values); i++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/preprocess/refuses/%zu",
                                               i);
      g_test_add_data_func (path, &bad_values[i], test_bad_value);
    }
  return g_test_run ();
}
