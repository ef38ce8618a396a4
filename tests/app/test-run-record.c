/* test-run-record.c: GraftRunRecord over damaged run folders (issue 11).
 * The run list and the Compare page read every folder under runs/: a
 * run.json nested 100,000 deep, one of 256 MiB, a FIFO named run.json,
 * any member of a real finished run's run.json given another type or
 * left out, every truncation, and seeded random corruptions
 * (GRAFT_CORRUPTIONS, default 300; GRAFT_CORRUPTION_SEED) each give a
 * record with what could be read, or a one-line GError: never a
 * critical (g_test_init makes them fatal), a crash or a hang.  app.json,
 * the user's name for the run, likewise gives the folder's name.
 *
 * No widget is made: no display is needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "graft-json.h"
#include "graft-run-record.h"
#include "graft-test-app.h"
#include "graft-test-corrupt.h"

#define DEFAULT_CORRUPTIONS 300
#define DEFAULT_SEED 11
#define DEEP_LEVELS 100000
#define HANG_SECONDS 60          /* a FIFO that blocks ends the test */
#define MAX_TRUNCATIONS 1500

static char *scratch, *base_dir, *base_text;
static gsize base_length;

/* ---- Helpers ---------------------------------------------------------------- */

/* An empty folder @name under the scratch folder. */
static char *
fresh_dir (const char *name)
{
  char *dir = g_build_filename (scratch, name, NULL);
  g_autoptr (GDir) listing = NULL;
  const char *entry;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  listing = g_dir_open (dir, 0, NULL);
  while ((entry = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  return dir;
}

/* Everything the run list and the Compare page ask of @r, with what
 * they assume of it. */
static void
exercise (GraftRunRecord *r)
{
  const char *const *names = graft_run_record_get_class_names (r);
  GPtrArray *epochs = graft_run_record_get_epochs (r);
  const GraftEpochReport *best = graft_run_record_get_best (r);
  volatile double sink = 0;
  guint k;
  guint64 trainable;
  double ps;

  g_assert_nonnull (names);
  k = g_strv_length ((char **) names);
  for (guint c = 0; c < k; c++)
    g_assert_true (g_utf8_validate (names[c], -1, NULL));
  g_assert_nonnull (graft_run_record_get_status (r));
  g_assert_true (g_utf8_validate (graft_run_record_get_status (r), -1,
                                  NULL));
  g_assert_true (g_utf8_validate (graft_run_record_get_name (r), -1, NULL));
  g_assert_nonnull (graft_run_record_get_config (r));
  g_assert_nonnull (graft_run_record_get_date (r));
  (void) graft_run_record_get_mode (r);
  (void) graft_run_record_get_interrupted (r);
  (void) graft_run_record_get_resumable (r);
  (void) graft_run_record_get_wall_seconds (r);
  ps = graft_run_record_get_pictures_per_second (r);
  g_assert_true (isnan (ps) || ps >= 0);
  (void) graft_run_record_get_trainable_params (r, &trainable);
  /* The confusion matrix is drawn with the class names. */
  for (guint i = 0; i < epochs->len; i++)
    {
      const GraftEpochReport *e = epochs->pdata[i];
      g_autoptr (GraftEpochReport) copy = NULL;
      g_assert_true (e->n_classes == 0 || e->n_classes == k);
      if (e->n_classes > 0)
        sink += e->class_accuracy[k - 1] + e->confusion[k * k - 1];
      copy = graft_epoch_report_copy (e);
    }
  g_assert_true (best == NULL || best->n_classes == 0 || best->n_classes == k);
  g_assert_true ((graft_run_record_get_last (r) == NULL) == (epochs->len == 0));
  for (GraftRunAxis axis = GRAFT_RUN_AXIS_EPOCH; axis <= GRAFT_RUN_AXIS_TIME;
       axis++)
    for (int validation = 0; validation < 2; validation++)
      {
        g_autofree double *x = NULL, *y = NULL;
        gsize n = graft_run_record_get_curve (r, axis, validation, &x, &y);
        if (validation)
          g_assert_cmpuint (n, ==, epochs->len);
        for (gsize i = 0; i < n; i++)
          sink += x[i] + y[i];
      }
  (void) sink;
}

/* A record, exercised, or a one-line refusal: nothing else.  Returns
 * the record (NULL when refused). */
static GraftRunRecord *
load (const char *dir)
{
  g_autoptr (GError) error = NULL;
  GraftRunRecord *r;

  alarm (HANG_SECONDS);
  r = graft_run_record_load (dir, &error);
  alarm (0);
  if (r == NULL)
    {
      g_assert_nonnull (error);
      g_assert_nonnull (error->message);
      g_assert_cmpstr (error->message, !=, "");
      g_test_message ("refused: %s", error->message);
      g_assert_null (strchr (error->message, '\n'));
      return NULL;
    }
  g_assert_no_error (error);
  exercise (r);
  return r;
}

/* @dir/run.json as @text; loads it. */
static GraftRunRecord *
load_text (const char *dir, const char *text, gssize n)
{
  graft_test_write_file (dir, "run.json", text, n);
  return load (dir);
}

static void
assert_refused (const char *dir, const char *part)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftRunRecord) r = NULL;

  alarm (HANG_SECONDS);
  r = graft_run_record_load (dir, &error);
  alarm (0);
  g_assert_null (r);
  graft_test_assert_refusal (error, part);
}

/* ---- Tests ------------------------------------------------------------------- */

static void
test_base (void)
{
  g_autoptr (GraftRunRecord) r = load (base_dir);
  guint64 trainable = 0;

  g_assert_nonnull (r);
  g_assert_cmpstr (graft_run_record_get_status (r), ==, "finished");
  g_assert_cmpuint (g_strv_length ((char **) graft_run_record_get_class_names
                                   (r)), ==, 5);
  g_assert_cmpuint (graft_run_record_get_epochs (r)->len, ==, 3);
  g_assert_nonnull (graft_run_record_get_best (r));
  g_assert_cmpuint (graft_run_record_get_best (r)->n_classes, ==, 5);
  g_assert_true (graft_run_record_get_trainable_params (r, &trainable));
  g_assert_cmpuint (trainable, >, 0);
  g_assert_true (isfinite (graft_run_record_get_pictures_per_second (r)));
}

static void
test_deep_nesting (void)
{
  g_autofree char *dir = fresh_dir ("deep");
  g_autofree char *deep = g_strnfill (DEEP_LEVELS, '[');
  g_autofree char *deep_object = g_strnfill (DEEP_LEVELS, '{');
  g_autoptr (GraftRunRecord) r = NULL;

  graft_test_write_file (dir, "run.json", deep, -1);
  assert_refused (dir, "nested deeper");
  graft_test_write_file (dir, "run.json", deep_object, -1);
  assert_refused (dir, "run.json");
  /* A good run.json, a deep app.json: the folder's name. */
  graft_test_write_file (dir, "run.json", base_text, base_length);
  graft_test_write_file (dir, "app.json", deep, -1);
  r = load (dir);
  g_assert_nonnull (r);
  g_assert_cmpstr (graft_run_record_get_name (r), ==, "deep");
}

static void
test_huge (void)
{
  g_autofree char *dir = fresh_dir ("huge");
  g_autofree char *path = g_build_filename (dir, "run.json", NULL);
  int fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

  /* Sparse: refused by its size, never read. */
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, (off_t) GRAFT_JSON_MAX_BYTES + 1), ==, 0);
  g_assert_cmpint (close (fd), ==, 0);
  assert_refused (dir, "MiB");
}

static void
test_fifo (void)
{
  g_autofree char *dir = fresh_dir ("fifo");
  g_autofree char *run_json = g_build_filename (dir, "run.json", NULL);
  g_autofree char *app_json = g_build_filename (dir, "app.json", NULL);
  g_autoptr (GraftRunRecord) r = NULL;

  g_assert_cmpint (mkfifo (run_json, 0644), ==, 0);
  assert_refused (dir, "not a regular file");
  g_assert_cmpint (g_unlink (run_json), ==, 0);
  graft_test_write_file (dir, "run.json", base_text, base_length);
  g_assert_cmpint (mkfifo (app_json, 0644), ==, 0);
  r = load (dir);
  g_assert_nonnull (r);
  g_assert_cmpstr (graft_run_record_get_name (r), ==, "fifo");
}

static void
test_not_a_run (void)
{
  static const char *const texts[] = {
    "", "null", "[]", "5", "\"run\"", "{}", "{\"config\": 5}",
    "{\"config\": null}", "{\"config\": []}", "{\"config\": {}}",
  };
  g_autofree char *dir = fresh_dir ("not-a-run");
  g_autofree char *missing = g_build_filename (scratch, "no-such-run", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      graft_test_write_file (dir, "run.json", texts[i], -1);
      assert_refused (dir, "run.json");
    }
  assert_refused (missing, "run.json");
}

/* app.json of any shape: the folder's name unless a name is there. */
static void
test_app_json (void)
{
  static const char *const texts[] = {
    "", "null", "[]", "{\"name\": 5}", "{\"name\": null}",
    "{\"name\": [\"x\"]}", "{\"name\": {\"x\": 1}}", "{\"name\": \"\"}",
    "{\"name\": \"\\ud800\"}", "{\"name\": \"x\"",
  };
  g_autofree char *dir = fresh_dir ("app-json");

  graft_test_write_file (dir, "run.json", base_text, base_length);
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (GraftRunRecord) r = NULL;
      graft_test_write_file (dir, "app.json", texts[i], -1);
      r = load (dir);
      g_assert_nonnull (r);
      g_assert_cmpstr (graft_run_record_get_name (r), ==, "app-json");
    }
  {
    g_autoptr (GraftRunRecord) r = NULL;
    graft_test_write_file (dir, "app.json", "{\"name\": \"Mine\"}", -1);
    r = load (dir);
    g_assert_cmpstr (graft_run_record_get_name (r), ==, "Mine");
  }
}

/* ---- Every member, another type ------------------------------------------------ */

/* What each member in turn becomes; NULL: left out. */
static const char *const replacements[] = {
  NULL, "null", "true", "-1", "0", "4294967296", "1e300", "-1e300", "0.5",
  "\"x\"", "[]", "{}", "[[1]]", "[\"a\", 2]", "{\"a\": {}}",
};

typedef struct
{
  const char *dir;
  GPtrArray *path;        /* member names, or "#N" for element N */
  guint n_loads, n_refused;
} Walk;

static JsonNode *
child (JsonNode *node, const char *step)
{
  if (step[0] == '#')
    return json_array_get_element (json_node_get_array (node),
                                   (guint) g_ascii_strtoull (step + 1, NULL,
                                                             10));
  return json_object_get_member (json_node_get_object (node), step);
}

/* @text parsed. */
static JsonNode *
node_from (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_node_copy (json_parser_get_root (parser));
}

/* The base run.json with the node at @w->path replaced by @text (NULL:
 * removed), loaded. */
static void
load_replaced (Walk *w, const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GraftRunRecord) r = NULL;
  g_autofree char *out = NULL;
  JsonNode *parent;
  const char *last;

  g_assert_true (json_parser_load_from_data (parser, base_text, base_length,
                                             NULL));
  parent = json_parser_get_root (parser);
  for (guint i = 0; i + 1 < w->path->len; i++)
    parent = child (parent, w->path->pdata[i]);
  last = w->path->pdata[w->path->len - 1];
  if (last[0] != '#')
    {
      JsonObject *o = json_node_get_object (parent);
      if (text != NULL)
        json_object_set_member (o, last, node_from (text));
      else
        json_object_remove_member (o, last);
    }
  else
    {
      /* json-glib cannot replace an element: a new array. */
      JsonArray *old = json_node_get_array (parent);
      g_autoptr (JsonArray) array = json_array_new ();
      guint at = (guint) g_ascii_strtoull (last + 1, NULL, 10);
      for (guint i = 0; i < json_array_get_length (old); i++)
        if (i != at)
          json_array_add_element (array, json_node_copy
                                  (json_array_get_element (old, i)));
        else if (text != NULL)
          json_array_add_element (array, node_from (text));
      json_node_set_array (parent, array);
    }
  out = graft_json_to_text (json_parser_get_root (parser), TRUE);
  r = load_text (w->dir, out, -1);
  w->n_loads++;
  w->n_refused += r == NULL;
}

static void walk (Walk *w, JsonNode *node);

static void
visit (Walk *w, JsonNode *node, char *step)
{
  g_ptr_array_add (w->path, step);
  for (guint i = 0; i < G_N_ELEMENTS (replacements); i++)
    load_replaced (w, replacements[i]);
  walk (w, node);
  g_ptr_array_remove_index (w->path, w->path->len - 1);
}

/* Every member of every object, and the first and last element of every
 * array, below @node. */
static void
walk (Walk *w, JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *o = json_node_get_object (node);
      g_autoptr (GList) names = json_object_get_members (o);
      for (GList *l = names; l != NULL; l = l->next)
        visit (w, json_object_get_member (o, l->data), g_strdup (l->data));
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      guint n = json_array_get_length (a);
      for (guint i = 0; i < n; i = i == 0 && n > 1 ? n - 1 : n)
        visit (w, json_array_get_element (a, i), g_strdup_printf ("#%u", i));
    }
}

static void
test_wrong_types (void)
{
  g_autofree char *dir = fresh_dir ("types");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GPtrArray) path = g_ptr_array_new_with_free_func (g_free);
  Walk w = { dir, path, 0, 0 };

  g_assert_true (json_parser_load_from_data (parser, base_text, base_length,
                                             NULL));
  walk (&w, json_parser_get_root (parser));
  g_test_message ("%u run.json files, %u refused", w.n_loads, w.n_refused);
  g_assert_cmpuint (w.n_loads, >, 500);
  /* Most damage outside the configuration leaves a record. */
  g_assert_cmpuint (w.n_refused, <, w.n_loads / 2);
}

/* ---- Truncation and random damage ------------------------------------------------ */

static void
test_truncation (void)
{
  g_autofree char *dir = fresh_dir ("truncated");
  gsize step = MAX (1, base_length / MAX_TRUNCATIONS);

  for (gsize n = 0; n < base_length; n += step)
    {
      g_autoptr (GraftRunRecord) r = load_text (dir, base_text, (gssize) n);
    }
}

static void
test_random_corruption (void)
{
  const char *count = g_getenv ("GRAFT_CORRUPTIONS");
  const char *seed_text = g_getenv ("GRAFT_CORRUPTION_SEED");
  guint n = count != NULL ? (guint) g_ascii_strtoull (count, NULL, 10)
    : DEFAULT_CORRUPTIONS;
  guint32 seed = seed_text != NULL
    ? (guint32) g_ascii_strtoull (seed_text, NULL, 10) : DEFAULT_SEED;
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  g_autofree char *dir = fresh_dir ("corrupt");
  guint refused = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GByteArray) bytes = g_byte_array_new ();
      g_autoptr (GraftRunRecord) r = NULL;
      g_byte_array_append (bytes, (const guint8 *) base_text, base_length);
      for (guint k = 0, times = g_rand_int_range (rand, 1, 4); k < times; k++)
        graft_test_corrupt (bytes, bytes->len, rand);
      r = load_text (dir, (const char *) bytes->data, bytes->len);
      refused += r == NULL;
    }
  g_test_message ("seed %u: %u corruptions, %u refused", seed, n, refused);
}

/* ---- Main ---------------------------------------------------------------------- */

/* A short finished run made by graft-cli as a script would. */
static void
make_base (void)
{
  g_autofree char *data = graft_test_samples_path ("fashion");
  const char *argv[] = { GRAFT_TEST_CLI, "train", "--backbone", "fashion-cnn",
                         "--data", data, "--mode", "extract",
                         "--epochs", "3", "--seed", "1", "--out", NULL, NULL };
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;

  base_dir = g_build_filename (scratch, "base", NULL);
  argv[G_N_ELEMENTS (argv) - 2] = base_dir;
  g_free (graft_test_run_cli (argv));
  path = g_build_filename (base_dir, "run.json", NULL);
  g_file_get_contents (path, &base_text, &base_length, &error);
  g_assert_no_error (error);
}

static void
remove_scratch (void)
{
  const char *argv[] = { "rm", "-rf", scratch, NULL };

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                NULL, NULL, NULL, NULL);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  scratch = g_dir_make_tmp ("graft-run-record-XXXXXX", NULL);
  g_assert_nonnull (scratch);
  make_base ();

  g_test_add_func ("/app/run-record/base", test_base);
  g_test_add_func ("/app/run-record/deep-nesting", test_deep_nesting);
  g_test_add_func ("/app/run-record/huge", test_huge);
  g_test_add_func ("/app/run-record/fifo", test_fifo);
  g_test_add_func ("/app/run-record/not-a-run", test_not_a_run);
  g_test_add_func ("/app/run-record/app-json", test_app_json);
  g_test_add_func ("/app/run-record/wrong-types", test_wrong_types);
  g_test_add_func ("/app/run-record/truncation", test_truncation);
  g_test_add_func ("/app/run-record/random-corruption",
                   test_random_corruption);
  status = g_test_run ();
  remove_scratch ();
  g_free (scratch);
  g_free (base_dir);
  g_free (base_text);
  return status;
}
