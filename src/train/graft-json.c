/* graft-json.c: JSON text with numbers in their shortest form. */
#define G_LOG_DOMAIN "graft-json"

#include "graft-json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLOAT_DIGITS 9           /* enough for any float to read back */
#define DOUBLE_DIGITS 17         /* enough for any double */
#define PLAIN_EXPONENT_MIN -5     /* 0.00001 is written so, 1e-06 not */
#define PLAIN_EXPONENT_END 17     /* 1e+17 is written so */
#define LINE_MAX_CHARS 96        /* a container of scalars on one line */

/* The fewest significant digits, up to @max, whose text reads back to
 * @value (as a float when @as_float); in plain decimals unless the
 * exponent is far from zero, as %g would but without its "3e+01". */
static void
shortest (char *buffer, double value, int max, gboolean as_float)
{
  char format[8];
  int digits = 1, exponent;

  for (; digits <= max; digits++)
    {
      double back;

      g_snprintf (format, sizeof format, "%%.%de", digits - 1);
      g_ascii_formatd (buffer, G_ASCII_DTOSTR_BUF_SIZE, format, value);
      back = g_ascii_strtod (buffer, NULL);
      if (as_float ? (float) back == (float) value : back == value)
        break;
    }
  exponent = atoi (strchr (buffer, 'e') + 1);
  if (exponent >= PLAIN_EXPONENT_MIN && exponent < PLAIN_EXPONENT_END)
    {
      g_snprintf (format, sizeof format, "%%.%df",
                  MAX (0, digits - 1 - exponent));
      g_ascii_formatd (buffer, G_ASCII_DTOSTR_BUF_SIZE, format, value);
    }
}

char *
graft_json_format_number (char *buffer, double value)
{
  gboolean is_float = fabs (value) <= G_MAXFLOAT
    && (double) (float) value == value;

  if (!isfinite (value))
    return strcpy (buffer, "null");
  shortest (buffer, value, is_float ? FLOAT_DIGITS : DOUBLE_DIGITS, is_float);
  /* A double stays a double when read back: 30.0, not the integer 30. */
  if (strpbrk (buffer, ".e") == NULL)
    strcat (buffer, ".0");
  return buffer;
}

static void
append_string (GString *out, const char *raw)
{
  g_autofree char *valid = g_utf8_validate (raw, -1, NULL) ? NULL
    : g_utf8_make_valid (raw, -1);
  const char *text = valid != NULL ? valid : raw;

  g_string_append_c (out, '"');
  for (const char *c = text; *c != '\0'; c++)
    switch (*c)
      {
      case '"':  g_string_append (out, "\\\""); break;
      case '\\': g_string_append (out, "\\\\"); break;
      case '\b': g_string_append (out, "\\b"); break;
      case '\f': g_string_append (out, "\\f"); break;
      case '\n': g_string_append (out, "\\n"); break;
      case '\r': g_string_append (out, "\\r"); break;
      case '\t': g_string_append (out, "\\t"); break;
      default:
        if ((guchar) *c < 0x20)
          g_string_append_printf (out, "\\u%04x", (guint) (guchar) *c);
        else
          g_string_append_c (out, *c);
      }
  g_string_append_c (out, '"');
}

static void
append_value (GString *out, JsonNode *node)
{
  char number[G_ASCII_DTOSTR_BUF_SIZE];

  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      append_string (out, json_node_get_string (node));
      break;
    case G_TYPE_BOOLEAN:
      g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      break;
    case G_TYPE_DOUBLE:
      g_string_append (out, graft_json_format_number (number,
                                                      json_node_get_double
                                                      (node)));
      break;
    default:
      g_string_append_printf (out, "%" G_GINT64_FORMAT,
                              json_node_get_int (node));
      break;
    }
}

static gboolean
is_container (JsonNode *node)
{
  return JSON_NODE_HOLDS_OBJECT (node) || JSON_NODE_HOLDS_ARRAY (node);
}

static gboolean
holds_containers (JsonNode *node)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        if (is_container (json_array_get_element (array, i)))
          return TRUE;
    }
  else
    {
      g_autoptr (GList) members = json_object_get_values
        (json_node_get_object (node));
      for (GList *l = members; l != NULL; l = l->next)
        if (is_container (l->data))
          return TRUE;
    }
  return FALSE;
}

typedef enum
{
  COMPACT,                 /* no spaces, no new lines */
  ONE_LINE,                /* spaces after commas and colons */
  PRETTY,                  /* containers spread over lines where needed */
} Style;

static void append_node (GString *out, JsonNode *node, Style style,
                         guint depth, gsize lead);

/* Whether pretty text spreads @node over lines: it does unless @node
 * holds no container and fits in LINE_MAX_CHARS on one line after the
 * @lead characters before it there. */
static gboolean
spreads (JsonNode *node, guint depth, gsize lead)
{
  g_autoptr (GString) line = NULL;

  if (holds_containers (node))
    return TRUE;
  line = g_string_new (NULL);
  append_node (line, node, ONE_LINE, depth, 0);
  return lead + line->len > LINE_MAX_CHARS;
}

static void
new_line (GString *out, guint depth)
{
  g_string_append_c (out, '\n');
  for (guint i = 0; i < depth; i++)
    g_string_append (out, "  ");
}

/* Before element @index of a container. */
static void
separate (GString *out, guint index, Style style, gboolean spread,
          guint depth)
{
  if (index > 0)
    g_string_append (out, style == COMPACT || spread ? "," : ", ");
  if (spread)
    new_line (out, depth + 1);
}

static void
append_container (GString *out, JsonNode *node, Style style, guint depth,
                  gsize lead)
{
  gboolean spread = style == PRETTY && spreads (node, depth, lead);
  Style inner = spread ? PRETTY : style == COMPACT ? COMPACT : ONE_LINE;
  gboolean array = JSON_NODE_HOLDS_ARRAY (node);
  guint n = 0;

  g_string_append_c (out, array ? '[' : '{');
  if (array)
    {
      JsonArray *elements = json_node_get_array (node);
      for (n = 0; n < json_array_get_length (elements); n++)
        {
          separate (out, n, style, spread, depth);
          append_node (out, json_array_get_element (elements, n), inner,
                       depth + 1, 2 * (depth + 1));
        }
    }
  else
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr (GList) names = json_object_get_members (object);
      for (GList *l = names; l != NULL; l = l->next, n++)
        {
          separate (out, n, style, spread, depth);
          append_string (out, l->data);
          g_string_append (out, style == COMPACT ? ":" : ": ");
          append_node (out, json_object_get_member (object, l->data), inner,
                       depth + 1, 2 * (depth + 1) + strlen (l->data) + 4);
        }
    }
  if (spread && n > 0)
    new_line (out, depth);
  g_string_append_c (out, array ? ']' : '}');
}

static void
append_node (GString *out, JsonNode *node, Style style, guint depth,
             gsize lead)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    g_string_append (out, "null");
  else if (is_container (node))
    append_container (out, node, style, depth, lead);
  else
    append_value (out, node);
}

char *
graft_json_to_text (JsonNode *root, gboolean pretty)
{
  GString *out = g_string_new (NULL);

  append_node (out, root, pretty ? PRETTY : COMPACT, 0, 0);
  return g_string_free (out, FALSE);
}

/* ---- Reading ------------------------------------------------------------ */

gboolean
graft_json_check_text (const char *text, gsize length, GError **error)
{
  gboolean in_string = FALSE;
  guint depth = 0;

  if (length > GRAFT_JSON_MAX_BYTES)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "larger than %" G_GSIZE_FORMAT " MiB",
                   GRAFT_JSON_MAX_BYTES >> 20);
      return FALSE;
    }
  for (gsize i = 0; i < length; i++)
    {
      char c = text[i];
      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if ((c == '[' || c == '{') && ++depth > GRAFT_JSON_MAX_DEPTH)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "nested deeper than %d levels", GRAFT_JSON_MAX_DEPTH);
          return FALSE;
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return TRUE;
}

/* The whole of a regular file, refused by type and size before reading:
 * a FIFO would block, and a huge file would only be refused later. */
static char *
read_small_file (const char *path, gsize *length, GError **error)
{
  int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  g_autofree char *text = NULL;
  int saved;

  if (fd < 0 || fstat (fd, &st) != 0)
    {
      saved = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s", g_strerror (saved));
      return NULL;
    }
  close (fd);
  if (!S_ISREG (st.st_mode))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "not a regular file");
      return NULL;
    }
  if ((guint64) st.st_size > GRAFT_JSON_MAX_BYTES)
    return graft_json_check_text (NULL, (gsize) st.st_size, error), NULL;
  if (!g_file_get_contents (path, &text, length, error))
    return NULL;
  return g_steal_pointer (&text);
}

gboolean
graft_json_load_file (JsonParser *parser, const char *path, GError **error)
{
  gsize length = 0;
  g_autofree char *text = read_small_file (path, &length, error);

  if (text == NULL || !graft_json_check_text (text, length, error)
      || !json_parser_load_from_data (parser, text, (gssize) length, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  return TRUE;
}
