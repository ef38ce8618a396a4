/* test-text.c: file names as text — control characters and bytes that are
 * not UTF-8 escaped visibly, everything else kept as it is. */
#include <string.h>

#include "graft-text.h"

typedef struct
{
  const char *in;
  const char *out;
} Case;

static void
test_escape (void)
{
  static const Case cases[] = {
    { "chat-été-猫-🐈.png", "chat-été-猫-🐈.png" },
    { "a\x1b[31mred", "a\\x1b[31mred" },
    { "line\nbreak\ttab\r", "line\\x0abreak\\x09tab\\x0d" },
    { "del\x7f", "del\\x7f" },
    { "c1\xc2\x85\xc2\x9b", "c1\\u0085\\u009b" },   /* NEL, CSI */
    { "\xff\xfe", "\\xff\\xfe" },
    { "caf\xe9", "caf\\xe9" },                     /* Latin-1 é */
    { "cut\xe7\x8c", "cut\\xe7\\x8c" },            /* half a 猫 */
    { "nbsp\xc2\xa0", "nbsp\xc2\xa0" },            /* not a control */
    { "", "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = graft_text_escape (cases[i].in);
      g_assert_cmpstr (out, ==, cases[i].out);
      g_assert_true (g_utf8_validate (out, -1, NULL));
      g_assert_true (graft_text_is_clean (out));
      g_assert_cmpint (graft_text_is_clean (cases[i].in), ==,
                       g_str_equal (cases[i].in, cases[i].out));
    }
}

/* A name from the file system becomes one line of UTF-8 with no control
 * characters, whatever its bytes. */
static void
test_from_filename (void)
{
  static const char *const names[] = {
    "cats", "chat-été", "\xff", "a\x1b]0;title\x07", "x\ny", "\xc2\x9b" "1m",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *text = graft_text_from_filename (names[i]);
      g_assert_true (g_utf8_validate (text, -1, NULL));
      g_assert_true (graft_text_is_clean (text));
      g_assert_null (strchr (text, '\n'));
      g_assert_null (strchr (text, '\x1b'));
    }
  {
    g_autofree char *same = graft_text_from_filename ("chat-été");
    g_assert_cmpstr (same, ==, "chat-été");
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/data/text/escape", test_escape);
  g_test_add_func ("/data/text/from-filename", test_from_filename);
  return g_test_run ();
}
