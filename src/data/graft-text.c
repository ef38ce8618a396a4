/* graft-text.c: escaping names for labels, JSON and terminals. */
#define G_LOG_DOMAIN "graft-text"

#include "graft-text.h"

#include <string.h>

#define C0_END 0x20       /* U+0000 to U+001F */
#define DEL 0x7f
#define C1_END 0xa0       /* U+0080 to U+009F */

static gboolean
is_control (gunichar c)
{
  return c < C0_END || (c >= DEL && c < C1_END);
}

/* The next character of @p (before @end), or (gunichar) -1 when the bytes
 * there are not UTF-8. */
static gunichar
next_char (const char *p, const char *end)
{
  gunichar c = g_utf8_get_char_validated (p, end - p);

  return c == (gunichar) -2 ? (gunichar) -1 : c;
}

char *
graft_text_escape (const char *text)
{
  const char *p = text, *end = text + strlen (text);
  GString *out = g_string_sized_new (end - p);

  while (p < end)
    {
      gunichar c = next_char (p, end);
      if (c == (gunichar) -1)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p++);
          continue;
        }
      if (c < C0_END || c == DEL)
        g_string_append_printf (out, "\\x%02x", c);
      else if (is_control (c))
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  return g_string_free (out, FALSE);
}

gboolean
graft_text_is_clean (const char *text)
{
  const char *p = text, *end = text + strlen (text);

  for (; p < end; p = g_utf8_next_char (p))
    {
      gunichar c = next_char (p, end);
      if (c == (gunichar) -1 || is_control (c))
        return FALSE;
    }
  return TRUE;
}

char *
graft_text_from_filename (const char *filename)
{
  g_autofree char *display = g_filename_display_name (filename);

  return graft_text_escape (display);
}
