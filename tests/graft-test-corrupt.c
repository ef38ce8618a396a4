/* graft-test-corrupt.c: see graft-test-corrupt.h. */
#include "graft-test-corrupt.h"

#include <glib/gstdio.h>
#include <string.h>

#define MAX_FLIPS 8
#define MAX_SPECIALS 3

void
graft_test_corrupt (GByteArray *bytes, guint span, GRand *rand)
{
  static const char specials[] = "[]{}\",:\\-0e.";
  guint n = bytes->len;
  guint at = g_rand_int_range (rand, 0, (gint32) MAX (MIN (span, n), 1));
  guint8 junk[8];

  switch (g_rand_int_range (rand, 0, 5))
    {
    case 0:
    case 1:
      for (guint i = 0, k = g_rand_int_range (rand, 1, MAX_FLIPS + 1);
           i < k && n > 0; i++)
        bytes->data[(at + i * 7) % n] ^= 1u << g_rand_int_range (rand, 0, 8);
      break;
    case 2:
      g_byte_array_set_size (bytes, at);
      break;
    case 3:
      for (guint i = 0, k = g_rand_int_range (rand, 1, MAX_SPECIALS + 1);
           i < k && n > 0; i++)
        bytes->data[g_rand_int_range (rand, 0, (gint32) n)]
          = (guint8) specials[g_rand_int_range (rand, 0,
                                                sizeof specials - 1)];
      break;
    default:
      for (guint i = 0; i < sizeof junk; i++)
        junk[i] = (guint8) g_rand_int_range (rand, 0, 256);
      g_array_insert_vals ((GArray *) bytes, at, junk,
                           g_rand_int_range (rand, 1, sizeof junk + 1));
      break;
    }
}

void
graft_test_write_file (const char *dir, const char *name, const char *text,
                       gssize n)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  g_unlink (path);
  g_file_set_contents_full (path, text, n, G_FILE_SET_CONTENTS_NONE, 0644,
                            &error);
  g_assert_no_error (error);
}

void
graft_test_assert_refusal (const GError *error, const char *part)
{
  g_assert_nonnull (error);
  g_test_message ("refused: %s", error->message);
  g_assert_null (strchr (error->message, '\n'));
  if (strstr (error->message, part) == NULL)
    g_error ("'%s' does not say '%s'", error->message, part);
}
