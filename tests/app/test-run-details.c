/* test-run-details.c: the run details window over a real run — a short
 * extract run made by graft-cli on the sample data, its folder loaded as
 * a GraftRunRecord: a dropped picture gets predictions whose top label is
 * what `graft-cli predict` says and whose probabilities over every class
 * sum to 1; a text file named x.png gets an inline error and the window
 * lives on; the Mistakes grid holds exactly the validation pictures the
 * record's predictions get wrong.
 *
 * Env: run under `xvfb-run -a` with GTK_A11Y=none (meson sets the rest).
 * Optional: GRAFT_TEST_SCREENSHOT_DIR (the window at 1280×800 and
 * 800×600, light and dark).
 */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "graft-run-details.h"
#include "graft-test-app.h"

#define PICTURE "ankle_boot/0000.png"
#define TRY_TIMEOUT_MS 60000
#define PREDICT_TIMEOUT_MS 120000
#define DRAW_TIMEOUT_MS 10000

typedef struct
{
  char *run_dir;
  GraftRunRecord *record;
  GraftRunDetails *details;
} Fixture;

static Fixture fixture;

/* ---- Helpers ---------------------------------------------------------------------- */

static void
make_run (void)
{
  fixture.run_dir = graft_test_make_run ("details-extract");
}

/* The top label `graft-cli predict --run` gives @path. */
static char *
cli_top_label (const char *path)
{
  const char *argv[] = { GRAFT_TEST_CLI, "predict", "--run", fixture.run_dir,
                         "--top", "1", path, NULL };
  g_autofree char *out = graft_test_run_cli (argv);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *line, *top;

  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  line = json_node_get_object (json_parser_get_root (parser));
  top = json_array_get_object_element
    (json_object_get_array_member (line, "top"), 0);
  return g_strdup (json_object_get_string_member (top, "label"));
}

static gboolean
not_busy (gpointer data)
{
  return !graft_run_details_get_busy (fixture.details);
}

static void
drop (const char *path)
{
  const char *paths[] = { path, NULL };
  GtkDropTarget *target = graft_run_details_get_drop_target (fixture.details);

  g_assert_true (graft_test_drop_paths (target, paths));
  graft_test_wait_for (not_busy, NULL, TRY_TIMEOUT_MS, "the prediction");
}

/* ---- Tests ------------------------------------------------------------------------ */

static void
test_drop_picture (void)
{
  g_autofree char *samples = graft_test_samples_path ("fashion");
  g_autofree char *path = g_build_filename (samples, PICTURE, NULL);
  g_autofree char *expected = cli_top_label (path);
  const char *const *classes
    = graft_run_record_get_class_names (fixture.record);
  g_auto (GStrv) labels = NULL;
  g_autofree double *p = NULL;
  guint n, n_classes = g_strv_length ((char **) classes);
  double sum = 0;

  /* Every class is shown, so their probabilities sum to 1. */
  g_assert_cmpuint (n_classes, <=, GRAFT_RUN_DETAILS_MAX_PREDICTIONS);
  drop (path);
  g_assert_null (graft_run_details_get_error (fixture.details));
  n = graft_run_details_get_predictions (fixture.details, &labels, &p);
  g_assert_cmpuint (n, ==, n_classes);
  g_assert_cmpstr (labels[0], ==, expected);
  for (guint i = 0; i < n; i++)
    {
      g_assert_true (g_strv_contains (classes, labels[i]));
      g_assert_cmpfloat (p[i], >=, 0);
      if (i > 0)
        g_assert_cmpfloat (p[i], <=, p[i - 1]);
      sum += p[i];
    }
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-4);
}

static void
test_drop_broken (void)
{
  g_autofree char *dir = g_build_filename (graft_test_app_data_home (),
                                           "broken", NULL);
  g_autofree char *path = g_build_filename (dir, "x.png", NULL);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (path, "not a picture\n", -1, &error);
  g_assert_no_error (error);
  drop (path);
  g_assert_nonnull (graft_run_details_get_error (fixture.details));
  g_assert_cmpstr (graft_run_details_get_error (fixture.details), !=, "");
  g_assert_cmpuint (graft_run_details_get_predictions (fixture.details,
                                                       NULL, NULL), ==, 0);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (fixture.details)));
  graft_test_spin (500);   /* the stack's crossfade */
  graft_test_screenshot (GTK_WIDGET (fixture.details), "details-error");
  /* And a picture after it is predicted again. */
  test_drop_picture ();
}

static gboolean
mistakes_shown (gpointer data)
{
  g_auto (GStrv) paths = graft_run_details_dup_mistakes (fixture.details);

  return paths != NULL
    || graft_run_record_get_predictions_error (fixture.record) != NULL;
}

static gboolean
thumbnails_loaded (gpointer data)
{
  return graft_run_details_get_n_thumbnails_loaded (fixture.details)
    == GPOINTER_TO_UINT (data);
}

static void
test_mistakes (void)
{
  const GraftRunPredictions *p;
  g_auto (GStrv) shown = NULL;
  guint wrong = 0;

  graft_test_wait_for (mistakes_shown, NULL, PREDICT_TIMEOUT_MS,
                       "the validation predictions");
  g_assert_null (graft_run_record_get_predictions_error (fixture.record));
  p = graft_run_record_get_predictions (fixture.record);
  g_assert_nonnull (p);
  shown = graft_run_details_dup_mistakes (fixture.details);
  for (guint i = 0; i < p->n; i++)
    if (p->truth[i] != p->predicted[i])
      {
        g_assert_cmpuint (wrong, <, g_strv_length (shown));
        g_assert_cmpstr (shown[wrong], ==, p->paths[i]);
        wrong++;
      }
  g_assert_cmpuint (g_strv_length (shown), ==, wrong);
  g_test_message ("%u of %u validation pictures wrong", wrong, p->n);
}

/* ---- Screenshots ------------------------------------------------------------------ */

static GtkWidget *
find_view_stack (GtkWidget *widget)
{
  if (ADW_IS_VIEW_STACK (widget))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_view_stack (child);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
show_page (const char *name)
{
  GtkWidget *stack = find_view_stack (GTK_WIDGET (fixture.details));

  g_assert_nonnull (stack);
  adw_view_stack_set_visible_child_name (ADW_VIEW_STACK (stack), name);
}

static void
screenshots (const char *size)
{
  AdwStyleManager *style = adw_style_manager_get_default ();
  GtkWidget *window = GTK_WIDGET (fixture.details);
  const char *pages[] = { "try", "mistakes" };

  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      g_autofree char *light = g_strdup_printf ("details-%s-%s", pages[i],
                                                size);
      g_autofree char *dark = g_strconcat (light, "-dark", NULL);

      show_page (pages[i]);
      graft_test_spin (500);   /* the thumbnails decode */
      graft_test_screenshot (window, light);
      adw_style_manager_set_color_scheme (style,
                                          ADW_COLOR_SCHEME_FORCE_DARK);
      graft_test_spin (200);
      graft_test_screenshot (window, dark);
      adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
    }
}

static gboolean
has_width (gpointer data)
{
  /* The window's shadow is not part of its size. */
  return gtk_widget_get_width (GTK_WIDGET (fixture.details))
    <= GPOINTER_TO_INT (data);
}

static void
resize (int width, int height)
{
  gtk_window_set_default_size (GTK_WINDOW (fixture.details), width, height);
  graft_test_wait_for (has_width, GINT_TO_POINTER (width), DRAW_TIMEOUT_MS,
                       "the window's new size");
}

static void
test_screenshots (void)
{
  g_auto (GStrv) shown = graft_run_details_dup_mistakes (fixture.details);

  show_page ("mistakes");
  graft_test_wait_for (thumbnails_loaded,
                       GUINT_TO_POINTER (g_strv_length (shown)),
                       PREDICT_TIMEOUT_MS, "the mistakes' thumbnails");
  if (g_getenv ("GRAFT_TEST_SCREENSHOT_DIR") == NULL)
    {
      g_test_skip ("GRAFT_TEST_SCREENSHOT_DIR is not set");
      return;
    }
  screenshots ("1280x800");
  resize (800, 600);
  screenshots ("800x600");
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int status;

  graft_test_app_init (&argc, &argv);
  make_run ();
  fixture.record = graft_run_record_load (fixture.run_dir, &error);
  g_assert_no_error (error);
  fixture.details = GRAFT_RUN_DETAILS (graft_run_details_new
                                       (NULL, fixture.record));
  /* Without a window manager, a window gets its size when mapped. */
  gtk_window_set_default_size (GTK_WINDOW (fixture.details), 1280, 800);
  gtk_window_present (GTK_WINDOW (fixture.details));
  gtk_test_widget_wait_for_draw (GTK_WIDGET (fixture.details));

  g_test_add_func ("/app/run-details/drop-picture", test_drop_picture);
  g_test_add_func ("/app/run-details/drop-broken", test_drop_broken);
  g_test_add_func ("/app/run-details/mistakes", test_mistakes);
  g_test_add_func ("/app/run-details/screenshots", test_screenshots);
  status = g_test_run ();

  gtk_window_destroy (GTK_WINDOW (fixture.details));
  g_clear_object (&fixture.record);
  g_free (fixture.run_dir);
  return status;
}
