/* test-json.c: the JSON text Graft writes — numbers in their shortest
 * form that reads back exactly, strings escaped, the pretty layout — and
 * that json-glib reads every tree back to the same values. */
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "graft-json.h"

#define RANDOM_VALUES 20000

static char *
format (double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  return g_strdup (graft_json_format_number (buffer, value));
}

static double
read_number (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;

  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  root = json_parser_get_root (parser);
  /* A double reads back as a double, never as an integer. */
  g_assert_cmpint (json_node_get_value_type (root), ==, G_TYPE_DOUBLE);
  return json_node_get_double (root);
}

/* What json-glib writes with 17 digits, written short. */
static void
test_numbers_short (void)
{
  const struct { double value; const char *text; } cases[] = {
    { 0.1, "0.1" },
    { 0.2f, "0.2" },                  /* a float: its own shortest form */
    { 0.286f, "0.286" },
    { 1.0 / 255, "0.00392156862745098" },
    { (float) (1.0 / 255), "0.003921569" },
    { 30, "30.0" },                   /* stays a double */
    { 0, "0.0" },
    { -2.5, "-2.5" },
    { 1e22, "1e+22" },
    { 1e-7, "1e-07" },
    { 1e-5, "0.00001" },
    { 123456789, "123456789.0" },
    { 1.5e16, "15000000000000000.0" },
    { 0.000123456, "0.000123456" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = format (cases[i].value);
      g_assert_cmpstr (text, ==, cases[i].text);
    }
  for (gsize i = 0; i < 3; i++)
    {
      const double odd[] = { NAN, INFINITY, -INFINITY };
      g_autofree char *text = format (odd[i]);
      g_assert_cmpstr (text, ==, "null");
    }
}

/* Every double reads back to itself, every float to itself as a float,
 * over random bit patterns and the extremes. */
static void
test_numbers_read_back (void)
{
  const double extremes[] = { G_MAXDOUBLE, -G_MAXDOUBLE, G_MINDOUBLE,
                              4.9406564584124654e-324, G_MAXFLOAT,
                              G_MINFLOAT, 1.401298464324817e-45 };
  GRand *rand = g_rand_new_with_seed (7);

  for (gsize i = 0; i < G_N_ELEMENTS (extremes); i++)
    {
      g_autofree char *text = format (extremes[i]);
      double back = read_number (text);
      if ((double) (float) extremes[i] == extremes[i])
        g_assert_true ((float) back == (float) extremes[i]);
      else
        g_assert_true (back == extremes[i]);
    }
  for (guint i = 0; i < RANDOM_VALUES; i++)
    {
      guint64 bits = ((guint64) g_rand_int (rand) << 32) | g_rand_int (rand);
      guint32 fbits = g_rand_int (rand);
      double d;
      float f;
      char buffer[G_ASCII_DTOSTR_BUF_SIZE];

      memcpy (&d, &bits, sizeof d);
      memcpy (&f, &fbits, sizeof f);
      if (isfinite (d))
        g_assert_true (g_ascii_strtod (graft_json_format_number (buffer, d),
                                       NULL) == d
                       || (double) (float) d == d);
      if (isfinite (f))
        g_assert_true ((float) g_ascii_strtod
                       (graft_json_format_number (buffer, f), NULL) == f);
    }
  g_rand_free (rand);
}

static JsonNode *
parse (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_node_copy (json_parser_get_root (parser));
}

/* Strings with quotes, backslashes, control characters and non-ASCII
 * text come back as they went in. */
static void
test_strings (void)
{
  const char *texts[] = { "plain", "a \"quoted\" word", "back\\slash",
                          "tab\tnew\nline\rcr", "\x01\x1f bell\b feed\f",
                          "Größe · 寸法 · 🧥", "" };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (JsonNode) node = json_node_new (JSON_NODE_VALUE);
      g_autofree char *text = NULL;
      g_autoptr (JsonNode) back = NULL;

      json_node_set_string (node, texts[i]);
      text = graft_json_to_text (node, FALSE);
      g_assert_null (strpbrk (text, "\n\r\t\b\f\x01\x1f"));
      back = parse (text);
      g_assert_cmpstr (json_node_get_string (back), ==, texts[i]);
    }
}

static const char tree[] =
  "{\"name\": \"run\", \"config\": {\"lr\": 0.01, \"epochs\": 30,"
  " \"augment\": true, \"cut\": null},"
  " \"steps\": [{\"step\": 0, \"loss\": 1.5}, {\"step\": 1, \"loss\": 1.25}],"
  " \"confusion\": [[3, 1], [0, 4]], \"empty\": [], \"none\": {},"
  " \"labels\": [\"a fairly long class name\", \"another long class name\","
  " \"and a third one, to pass the line\"]}";

/* The layout: scalars' containers on one line when short, the rest
 * indented; compact text has no blank outside strings; both read back equal. */
static void
test_layout (void)
{
  g_autoptr (JsonNode) root = parse (tree);
  g_autofree char *pretty = graft_json_to_text (root, TRUE);
  g_autofree char *compact = graft_json_to_text (root, FALSE);
  g_autoptr (JsonNode) from_pretty = parse (pretty);
  g_autoptr (JsonNode) from_compact = parse (compact);
  const char *want =
    "{\n"
    "  \"name\": \"run\",\n"
    "  \"config\": {\"lr\": 0.01, \"epochs\": 30, \"augment\": true,"
    " \"cut\": null},\n"
    "  \"steps\": [\n"
    "    {\"step\": 0, \"loss\": 1.5},\n"
    "    {\"step\": 1, \"loss\": 1.25}\n"
    "  ],\n"
    "  \"confusion\": [\n"
    "    [3, 1],\n"
    "    [0, 4]\n"
    "  ],\n"
    "  \"empty\": [],\n"
    "  \"none\": {},\n"
    "  \"labels\": [\n"
    "    \"a fairly long class name\",\n"
    "    \"another long class name\",\n"
    "    \"and a third one, to pass the line\"\n"
    "  ]\n"
    "}";

  const char *want_compact =
    "{\"name\":\"run\",\"config\":{\"lr\":0.01,\"epochs\":30,"
    "\"augment\":true,\"cut\":null},\"steps\":[{\"step\":0,\"loss\":1.5},"
    "{\"step\":1,\"loss\":1.25}],\"confusion\":[[3,1],[0,4]],\"empty\":[],"
    "\"none\":{},\"labels\":[\"a fairly long class name\","
    "\"another long class name\",\"and a third one, to pass the line\"]}";

  g_assert_cmpstr (pretty, ==, want);
  g_assert_cmpstr (compact, ==, want_compact);
  g_assert_true (json_node_equal (root, from_pretty));
  g_assert_true (json_node_equal (root, from_compact));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/json/numbers-short", test_numbers_short);
  g_test_add_func ("/train/json/numbers-read-back", test_numbers_read_back);
  g_test_add_func ("/train/json/strings", test_strings);
  g_test_add_func ("/train/json/layout", test_layout);
  return g_test_run ();
}
