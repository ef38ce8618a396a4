/* test-loss-plot.c: GraftLossPlot — counting, smoothing, ticks, picking,
 * a logarithmic x axis (learning rates), skipped values, the time to draw 100,000 points, and screenshots in the
 * light and dark styles (written to $GRAFT_TEST_SCREENSHOT_DIR if set),
 * and the plot saved as PNG and SVG at a chosen size.
 */
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "graft-loss-plot.h"
#include "graft-loss-plot-private.h"

#define WINDOW_WIDTH 800
#define WINDOW_HEIGHT 500
#define MANY_POINTS 100000
#define MAX_DRAW_MS 250.0       /* generous: decimated, it takes a few ms */
#define REALISTIC_STEPS 600
#define STEPS_PER_EPOCH 60
#define NOISE_SEED 42
#define RATE_POINTS 100         /* a learning-rate range test's curve */
#define RATE_FIRST_DECADE (-7)
#define RATE_DECADES 8
#define PIXEL_TOLERANCE 0.5

static GtkWidget *
show_in_window (GtkWidget *plot,
                int        width,
                int        height)
{
  GtkWidget *window = gtk_window_new ();

  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  gtk_window_set_child (GTK_WINDOW (window), plot);
  gtk_window_present (GTK_WINDOW (window));
  gtk_test_widget_wait_for_draw (window);
  return window;
}

/* Draws a widget now, through its own snapshot function, and renders the
 * result with its window's renderer. */
static GdkTexture *
render_widget (GtkWidget *widget)
{
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  g_autoptr (GskRenderNode) node = NULL;

  GTK_WIDGET_GET_CLASS (widget)->snapshot (widget, snapshot);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (renderer, node,
                                      &GRAPHENE_RECT_INIT (0, 0, width, height));
}

/* The window's last frame, as it is on screen. */
static GdkTexture *
render_frame (GtkWidget *window)
{
  g_autoptr (GdkPaintable) paintable = NULL;
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  int width = gtk_widget_get_width (window);
  int height = gtk_widget_get_height (window);
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (window));
  g_autoptr (GskRenderNode) node = NULL;

  gtk_widget_queue_draw (window);
  gtk_test_widget_wait_for_draw (window);
  paintable = gtk_widget_paintable_new (window);
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (renderer, node,
                                      &GRAPHENE_RECT_INIT (0, 0, width, height));
}

static void
save_screenshot (GtkWidget  *window,
                 const char *name)
{
  const char *dir = g_getenv ("GRAFT_TEST_SCREENSHOT_DIR");
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *path = NULL;

  if (dir == NULL)
    return;
  texture = render_frame (window);
  path = g_build_filename (dir, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

static void
set_dark (gboolean dark)
{
  g_object_set (gtk_settings_get_default (),
                "gtk-application-prefer-dark-theme", dark, NULL);
}

static void
test_counts (void)
{
  GtkWidget *widget = g_object_ref_sink (graft_loss_plot_new ());
  GraftLossPlot *plot = GRAFT_LOSS_PLOT (widget);
  const double xs[] = { 1, 2, 3 }, ys[] = { 0.9, 0.8, 0.7 };
  guint train, val;

  g_assert_cmpuint (graft_loss_plot_get_n_series (plot), ==, 0);
  train = graft_loss_plot_add_series (plot, "train loss", GRAFT_PLOT_AXIS_LOSS,
                                      GRAFT_PLOT_STYLE_STEPS, NULL);
  val = graft_loss_plot_add_series (plot, "val loss", GRAFT_PLOT_AXIS_LOSS,
                                    GRAFT_PLOT_STYLE_EPOCHS, NULL);
  g_assert_cmpuint (train, ==, 0);
  g_assert_cmpuint (val, ==, 1);
  g_assert_cmpuint (graft_loss_plot_get_n_series (plot), ==, 2);

  graft_loss_plot_append_many (plot, train, xs, ys, G_N_ELEMENTS (xs));
  graft_loss_plot_append (plot, train, 4, 0.6);
  graft_loss_plot_append (plot, val, 4, 0.75);
  g_assert_cmpuint (graft_loss_plot_get_n_points (plot, train), ==, 4);
  g_assert_cmpuint (graft_loss_plot_get_n_points (plot, val), ==, 1);

  graft_loss_plot_add_marker (plot, 2, "Unfroze layer4");
  graft_loss_plot_add_marker (plot, 3, "Unfroze layer3");
  g_assert_cmpuint (graft_loss_plot_get_n_markers (plot), ==, 2);

  graft_loss_plot_clear (plot);
  g_assert_cmpuint (graft_loss_plot_get_n_series (plot), ==, 0);
  g_assert_cmpuint (graft_loss_plot_get_n_markers (plot), ==, 0);
  g_object_unref (widget);
}

static void
test_properties (void)
{
  GtkWidget *widget = g_object_ref_sink (graft_loss_plot_new ());
  GraftLossPlot *plot = GRAFT_LOSS_PLOT (widget);
  g_autofree char *x_label = NULL;
  double smoothing;
  gboolean log_scale;

  g_assert_cmpfloat (graft_loss_plot_get_smoothing (plot), ==, 0.6);
  g_assert_false (graft_loss_plot_get_log_scale (plot));
  g_assert_cmpstr (graft_loss_plot_get_x_label (plot), ==, _("Step"));

  g_object_set (widget, "smoothing", 0.9, "log-scale", TRUE,
                "x-label", "Epoch", NULL);
  g_object_get (widget, "smoothing", &smoothing, "log-scale", &log_scale,
                "x-label", &x_label, NULL);
  g_assert_cmpfloat (smoothing, ==, 0.9);
  g_assert_true (log_scale);
  g_assert_cmpstr (x_label, ==, "Epoch");

  graft_loss_plot_set_smoothing (plot, 5);
  g_assert_cmpfloat (graft_loss_plot_get_smoothing (plot), ==, 0.99);
  g_object_unref (widget);
}

static void
test_smoothing (void)
{
  GtkWidget *widget = g_object_ref_sink (graft_loss_plot_new ());
  GraftLossPlot *plot = GRAFT_LOSS_PLOT (widget);
  const double xs[] = { 0, 1, 2 }, ys[] = { 1, 2, 3 };
  /* By hand, w = 0.6: last = 0.4, 1.04, 1.824; debiased by 1 − 0.6ⁿ =
   * 0.4, 0.64, 0.784. */
  const double expected[] = { 1.0, 1.625, 1.824 / 0.784 };
  guint s = graft_loss_plot_add_series (plot, "train loss",
                                        GRAFT_PLOT_AXIS_LOSS,
                                        GRAFT_PLOT_STYLE_STEPS, NULL);
  double y;

  graft_loss_plot_append_many (plot, s, xs, ys, G_N_ELEMENTS (xs));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_assert_true (graft_loss_plot_get_smoothed (plot, s, i, &y));
      g_assert_cmpfloat_with_epsilon (y, expected[i], 1e-12);
    }
  g_assert_false (graft_loss_plot_get_smoothed (plot, s, 3, &y));

  /* A new weight recomputes from the start; 0 is no smoothing at all. */
  graft_loss_plot_set_smoothing (plot, 0);
  for (guint i = 0; i < G_N_ELEMENTS (ys); i++)
    {
      g_assert_true (graft_loss_plot_get_smoothed (plot, s, i, &y));
      g_assert_cmpfloat_with_epsilon (y, ys[i], 1e-12);
    }
  graft_loss_plot_set_smoothing (plot, 0.6);
  g_assert_true (graft_loss_plot_get_smoothed (plot, s, 2, &y));
  g_assert_cmpfloat_with_epsilon (y, expected[2], 1e-12);
  g_object_unref (widget);
}

static void
assert_ticks (const GraftPlotTicks *ticks,
              const double         *expected,
              guint                 n)
{
  g_assert_cmpuint (ticks->n, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpfloat_with_epsilon (ticks->values[i], expected[i],
                                    fabs (expected[i]) * 1e-12 + 1e-15);
  g_assert_cmpfloat (ticks->lo, ==, ticks->values[0]);
  g_assert_cmpfloat (ticks->hi, ==, ticks->values[n - 1]);
}

static void
test_ticks (void)
{
  const double unit[] = { 0, 0.2, 0.4, 0.6, 0.8, 1 };
  const double loss[] = { 0, 1, 2, 3 };
  const double steps[] = { 0, 20000, 40000, 60000, 80000, 100000 };
  const double percent[] = { 0, 20, 40, 60, 80, 100 };
  const double signed_range[] = { -0.5, 0, 0.5, 1 };
  const double log_narrow[] = { 0.1, 0.2, 0.5, 1, 2, 5 };
  const double log_wide[] = { 1e-4, 1e-3, 1e-2, 1e-1, 1, 10 };
  GraftPlotTicks ticks;

  graft_plot_nice_ticks (0, 1, 6, &ticks);
  assert_ticks (&ticks, unit, G_N_ELEMENTS (unit));
  g_assert_cmpfloat_with_epsilon (ticks.step, 0.2, 1e-15);
  graft_plot_nice_ticks (0.13, 2.31, 5, &ticks);
  assert_ticks (&ticks, loss, G_N_ELEMENTS (loss));
  graft_plot_nice_ticks (1, 99999, 6, &ticks);
  assert_ticks (&ticks, steps, G_N_ELEMENTS (steps));
  graft_plot_nice_ticks (3, 97, 10, &ticks);
  assert_ticks (&ticks, percent, G_N_ELEMENTS (percent));
  graft_plot_nice_ticks (-0.3, 0.7, 5, &ticks);
  assert_ticks (&ticks, signed_range, G_N_ELEMENTS (signed_range));

  /* One value is widened around it. */
  graft_plot_nice_ticks (5, 5, 5, &ticks);
  g_assert_cmpfloat (ticks.lo, <, 5);
  g_assert_cmpfloat (ticks.hi, >, 5);
  g_assert_cmpuint (ticks.n, >=, 2);

  graft_plot_log_ticks (0.13, 2.31, 8, &ticks);
  assert_ticks (&ticks, log_narrow, G_N_ELEMENTS (log_narrow));
  graft_plot_log_ticks (2e-4, 7, 8, &ticks);
  g_assert_cmpfloat_with_epsilon (ticks.lo, 2e-4, 1e-16);
  g_assert_cmpfloat_with_epsilon (ticks.hi, 10, 1e-12);
  g_assert_cmpuint (ticks.n, ==, G_N_ELEMENTS (log_wide) - 1);
  for (guint i = 0; i < ticks.n; i++)
    g_assert_cmpfloat_with_epsilon (ticks.values[i], log_wide[i + 1],
                                    log_wide[i + 1] * 1e-12);
}

static void
test_skips_non_finite (void)
{
  GtkWidget *plot = graft_loss_plot_new ();
  GtkWidget *window = show_in_window (plot, WINDOW_WIDTH, WINDOW_HEIGHT);
  GraftLossPlot *self = GRAFT_LOSS_PLOT (plot);
  const double xs[] = { 0, 1, 2, NAN, 4 };
  const double ys[] = { 1, NAN, INFINITY, 0.5, 0.25 };
  guint s = graft_loss_plot_add_series (self, "train loss",
                                        GRAFT_PLOT_AXIS_LOSS,
                                        GRAFT_PLOT_STYLE_STEPS, NULL);
  g_autoptr (GdkTexture) texture = NULL;
  double y;

  graft_loss_plot_append_many (self, s, xs, ys, G_N_ELEMENTS (xs));
  graft_loss_plot_append (self, s, 5, -INFINITY);
  graft_loss_plot_add_marker (self, NAN, "never");
  g_assert_cmpuint (graft_loss_plot_get_n_points (self, s), ==, 2);
  g_assert_cmpuint (graft_loss_plot_get_n_markers (self), ==, 0);

  /* The skipped values leave the average alone: it saw 1, then 0.25. */
  g_assert_true (graft_loss_plot_get_smoothed (self, s, 1, &y));
  g_assert_cmpfloat_with_epsilon (y, (0.4 * 0.6 + 0.4 * 0.25) / 0.64, 1e-12);

  texture = render_widget (plot);
  g_assert_nonnull (texture);
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_pick (void)
{
  GtkWidget *plot = graft_loss_plot_new ();
  GtkWidget *window = show_in_window (plot, WINDOW_WIDTH, WINDOW_HEIGHT);
  GraftLossPlot *self = GRAFT_LOSS_PLOT (plot);
  guint train = graft_loss_plot_add_series (self, "train loss",
                                            GRAFT_PLOT_AXIS_LOSS,
                                            GRAFT_PLOT_STYLE_STEPS, NULL);
  guint acc = graft_loss_plot_add_series (self, "val accuracy",
                                          GRAFT_PLOT_AXIS_ACCURACY,
                                          GRAFT_PLOT_STYLE_EPOCHS, NULL);
  double wx, wy, px, py;
  guint series;

  g_assert_false (graft_loss_plot_pick (self, 100, 100, NULL, NULL, NULL));
  for (int i = 0; i <= 100; i++)
    graft_loss_plot_append (self, train, i, 2.0 / (1 + i));
  graft_loss_plot_append (self, acc, 50, 0.5);
  graft_loss_plot_append (self, acc, 100, 0.9);

  g_assert_true (graft_loss_plot_data_to_widget (self, train, 40, 2.0 / 41,
                                                 &wx, &wy));
  g_assert_true (graft_loss_plot_pick (self, wx + 1, wy - 1, &series, &px, &py));
  g_assert_cmpuint (series, ==, train);
  g_assert_cmpfloat (px, ==, 40);
  g_assert_cmpfloat (py, ==, 2.0 / 41);

  g_assert_true (graft_loss_plot_data_to_widget (self, acc, 50, 0.5, &wx, &wy));
  g_assert_true (graft_loss_plot_pick (self, wx - 2, wy, &series, &px, &py));
  g_assert_cmpuint (series, ==, acc);
  g_assert_cmpfloat (px, ==, 50);
  g_assert_cmpfloat (py, ==, 0.5);

  /* Outside the plotting area there is nothing to read. */
  g_assert_false (graft_loss_plot_pick (self, 0, 0, NULL, NULL, NULL));

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_pick_log (void)
{
  GtkWidget *plot = graft_loss_plot_new ();
  GtkWidget *window = show_in_window (plot, WINDOW_WIDTH, WINDOW_HEIGHT);
  GraftLossPlot *self = GRAFT_LOSS_PLOT (plot);
  guint train = graft_loss_plot_add_series (self, "train loss",
                                            GRAFT_PLOT_AXIS_LOSS,
                                            GRAFT_PLOT_STYLE_STEPS, NULL);
  double wx, wy, px;
  guint series;

  graft_loss_plot_set_log_scale (self, TRUE);
  for (int i = 0; i <= 100; i++)
    graft_loss_plot_append (self, train, i, 2.0 / (1 + i));
  /* Not on a log axis: zero and below are left out, not picked. */
  graft_loss_plot_append (self, train, 101, 0);
  g_assert_false (graft_loss_plot_data_to_widget (self, train, 101, 0,
                                                  &wx, &wy));
  g_assert_true (graft_loss_plot_data_to_widget (self, train, 3, 0.5,
                                                 &wx, &wy));
  g_assert_true (graft_loss_plot_pick (self, wx, wy, &series, &px, NULL));
  g_assert_cmpuint (series, ==, train);
  g_assert_cmpfloat (px, ==, 3);
  gtk_window_destroy (GTK_WINDOW (window));
}

static void screenshot_both_styles (GtkWidget  *window,
                                    const char *name);

/* Learning rates from 1e-7 to 10: a loss that falls, then blows up. */
static guint
fill_rates (GraftLossPlot *self)
{
  guint series = graft_loss_plot_add_series (self, "Loss by learning rate",
                                             GRAFT_PLOT_AXIS_LOSS,
                                             GRAFT_PLOT_STYLE_LINE, NULL);

  for (int i = 0; i < RATE_POINTS; i++)
    {
      double e = RATE_FIRST_DECADE + (double) RATE_DECADES * i
                 / (RATE_POINTS - 1);

      graft_loss_plot_append (self, series, pow (10, e),
                              1.6 - 1.2 / (1 + exp (-3 * (e + 2)))
                              + exp (3 * (e - 0.5)));
    }
  graft_loss_plot_add_marker (self, 3e-3, "Suggested 0.003");
  return series;
}

/* Decades are equally wide; x ≤ 0 is neither drawn nor picked; off
 * again, the axis is linear. */
static void
test_log_x (void)
{
  GtkWidget *plot = graft_loss_plot_new ();
  GtkWidget *window = show_in_window (plot, WINDOW_WIDTH, WINDOW_HEIGHT);
  GraftLossPlot *self = GRAFT_LOSS_PLOT (plot);
  guint series = fill_rates (self);
  double w7, w6, w0, w1, w05, wy, px;
  gboolean log_x;
  guint picked;

  g_object_set (plot, "log-x", TRUE, "x-label", "Learning rate", NULL);
  g_object_get (plot, "log-x", &log_x, NULL);
  g_assert_true (log_x);
  g_assert_true (graft_loss_plot_get_log_x (self));
  g_assert_true (graft_loss_plot_data_to_widget (self, series, 1e-7, 1,
                                                 &w7, &wy));
  g_assert_true (graft_loss_plot_data_to_widget (self, series, 1e-6, 1,
                                                 &w6, &wy));
  g_assert_true (graft_loss_plot_data_to_widget (self, series, 0.1, 1,
                                                 &w0, &wy));
  g_assert_true (graft_loss_plot_data_to_widget (self, series, 1, 1,
                                                 &w1, &wy));
  g_assert_true (graft_loss_plot_data_to_widget (self, series, 0.5, 1,
                                                 &w05, &wy));
  g_assert_cmpfloat (w6, >, w7);
  g_assert_cmpfloat_with_epsilon (w6 - w7, w1 - w0, PIXEL_TOLERANCE);
  /* 0.5 sits log10(5) of the way through its decade, not halfway. */
  g_assert_cmpfloat_with_epsilon ((w05 - w0) / (w1 - w0), log10 (5),
                                  PIXEL_TOLERANCE / (w1 - w0));

  graft_loss_plot_append (self, series, 0, 1);
  g_assert_false (graft_loss_plot_data_to_widget (self, series, 0, 1,
                                                  &w0, &wy));
  g_assert_true (graft_loss_plot_data_to_widget (self, series, 1e-3, 0.5,
                                                 &w0, &wy));
  g_assert_true (graft_loss_plot_pick (self, w0, wy, &picked, &px, NULL));
  g_assert_cmpuint (picked, ==, series);
  g_assert_cmpfloat (fabs (log10 (px) + 3), <, 2.0 * RATE_DECADES
                                                / RATE_POINTS);
  screenshot_both_styles (window, "loss-plot-log-x");

  graft_loss_plot_set_log_x (self, FALSE);
  g_assert_true (graft_loss_plot_data_to_widget (self, series, 0, 1,
                                                 &w0, &wy));
  g_assert_true (graft_loss_plot_data_to_widget (self, series, 5, 1,
                                                 &w05, &wy));
  g_assert_true (graft_loss_plot_data_to_widget (self, series, 10, 1,
                                                 &w1, &wy));
  g_assert_cmpfloat_with_epsilon (w05 - w0, w1 - w05, PIXEL_TOLERANCE);
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_summary (void)
{
  GtkWidget *widget = g_object_ref_sink (graft_loss_plot_new ());
  GraftLossPlot *plot = GRAFT_LOSS_PLOT (widget);
  guint train = graft_loss_plot_add_series (plot, "train loss",
                                            GRAFT_PLOT_AXIS_LOSS,
                                            GRAFT_PLOT_STYLE_STEPS, NULL);
  g_autofree char *summary = NULL;

  graft_loss_plot_add_series (plot, "val loss", GRAFT_PLOT_AXIS_LOSS,
                              GRAFT_PLOT_STYLE_EPOCHS, NULL);
  graft_loss_plot_append (plot, train, 600, 0.42);
  summary = graft_loss_plot_dup_summary (plot);
  g_test_message ("%s", summary);
  g_assert_nonnull (strstr (summary, "2 series"));
  g_assert_nonnull (strstr (summary, "train loss 0.42"));
  g_assert_null (strstr (summary, "val loss"));
  g_object_unref (widget);
}

static double
render_ms (GtkWidget *widget)
{
  gint64 start = g_get_monotonic_time ();
  g_autoptr (GdkTexture) texture = render_widget (widget);

  return (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_MILLISECOND;
}

/* The snapshot function alone: what the plot costs a frame. */
static double
snapshot_only_ms (GtkWidget *widget)
{
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gint64 start = g_get_monotonic_time ();
  g_autoptr (GskRenderNode) node = NULL;
  double ms;

  GTK_WIDGET_GET_CLASS (widget)->snapshot (widget, snapshot);
  ms = (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_MILLISECOND;
  node = gtk_snapshot_free_to_node (snapshot);
  return ms;
}

static void
test_many_points (void)
{
  GtkWidget *plot = graft_loss_plot_new ();
  GtkWidget *window = show_in_window (plot, WINDOW_WIDTH, WINDOW_HEIGHT);
  GraftLossPlot *self = GRAFT_LOSS_PLOT (plot);
  guint s = graft_loss_plot_add_series (self, "train loss",
                                        GRAFT_PLOT_AXIS_LOSS,
                                        GRAFT_PLOT_STYLE_STEPS, NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (NOISE_SEED);
  double empty_ms, snapshot_ms, first_ms, again_ms, append_ms;
  gint64 start;

  empty_ms = render_ms (plot);
  start = g_get_monotonic_time ();
  for (int i = 0; i < MANY_POINTS; i++)
    graft_loss_plot_append (self, s, i,
                            exp (-i / 20000.0) + g_rand_double (rand) * 0.3);
  append_ms = (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_MILLISECOND;

  snapshot_ms = snapshot_only_ms (plot);
  first_ms = render_ms (plot);
  graft_loss_plot_append (self, s, MANY_POINTS, 0.5);
  again_ms = render_ms (plot);
  g_print ("# loss plot, %d points: appended in %.2f ms; snapshot %.2f ms; "
           "snapshot and render %.2f ms (first frame), %.2f ms (next frame); "
           "the empty plot renders in %.2f ms\n", MANY_POINTS, append_ms,
           snapshot_ms, first_ms, again_ms, empty_ms);
  g_assert_cmpfloat (first_ms, <, MAX_DRAW_MS);
  g_assert_cmpfloat (again_ms, <, MAX_DRAW_MS);
  save_screenshot (window, "loss-plot-100k.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A run as the app shows it: noisy training loss falling per step,
 * validation loss and accuracy per epoch, two unfreezing stages. */
static void
fill_realistic (GraftLossPlot *self)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (NOISE_SEED);
  guint train = graft_loss_plot_add_series (self, _("Training loss"),
                                            GRAFT_PLOT_AXIS_LOSS,
                                            GRAFT_PLOT_STYLE_STEPS, NULL);
  guint val = graft_loss_plot_add_series (self, _("Validation loss"),
                                          GRAFT_PLOT_AXIS_LOSS,
                                          GRAFT_PLOT_STYLE_EPOCHS, NULL);
  guint acc = graft_loss_plot_add_series (self, _("Validation accuracy"),
                                          GRAFT_PLOT_AXIS_ACCURACY,
                                          GRAFT_PLOT_STYLE_EPOCHS, NULL);

  for (int step = 1; step <= REALISTIC_STEPS; step++)
    {
      double clean = 0.25 + 2.0 * exp (-step / 120.0);

      graft_loss_plot_append (self, train, step,
                              clean * (1 + g_rand_double_range (rand, -0.35, 0.35)));
      if (step % STEPS_PER_EPOCH == 0)
        {
          graft_loss_plot_append (self, val, step, clean * 1.15 + 0.05);
          graft_loss_plot_append (self, acc, step,
                                  0.95 - 0.5 * exp (-step / 150.0));
        }
    }
  graft_loss_plot_add_marker (self, 200, _("Unfroze layer4"));
  graft_loss_plot_add_marker (self, 400, _("Unfroze layer3"));
}

static void
screenshot_both_styles (GtkWidget  *window,
                        const char *name)
{
  g_autofree char *light = g_strdup_printf ("%s-light.png", name);
  g_autofree char *dark = g_strdup_printf ("%s-dark.png", name);

  set_dark (FALSE);
  save_screenshot (window, light);
  set_dark (TRUE);
  save_screenshot (window, dark);
  set_dark (FALSE);
}

static void
hover (GtkWidget *plot,
       double     x,
       double     y)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (plot);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_EVENT_CONTROLLER_MOTION (controller))
        g_signal_emit_by_name (controller, "motion", x, y);
    }
}

static void
test_screenshots (void)
{
  GtkWidget *plot = graft_loss_plot_new ();
  GtkWidget *window = show_in_window (plot, WINDOW_WIDTH, WINDOW_HEIGHT);
  GraftLossPlot *self = GRAFT_LOSS_PLOT (plot);
  double wx, wy;

  screenshot_both_styles (window, "loss-plot-empty");
  fill_realistic (self);
  screenshot_both_styles (window, "loss-plot");

  g_assert_true (graft_loss_plot_data_to_widget (self, 0, 300, 0.5, &wx, &wy));
  hover (plot, wx, wy);
  screenshot_both_styles (window, "loss-plot-hover");
  g_assert_true (graft_loss_plot_data_to_widget (self, 2, 590, 0.9, &wx, &wy));
  hover (plot, wx, wy);
  screenshot_both_styles (window, "loss-plot-hover-edge");
  hover (plot, -1, -1);

  graft_loss_plot_set_log_scale (self, TRUE);
  screenshot_both_styles (window, "loss-plot-log");

  /* Crowded: a narrow plot, markers close together, long labels. */
  graft_loss_plot_set_log_scale (self, FALSE);
  graft_loss_plot_add_marker (self, 210, _("Unfroze layer2"));
  graft_loss_plot_add_marker (self, 230, _("Learning rate lowered"));
  graft_loss_plot_add_marker (self, 590, _("Unfroze everything"));
  graft_loss_plot_add_series (self, _("A series with a rather long label"),
                              GRAFT_PLOT_AXIS_LOSS, GRAFT_PLOT_STYLE_LINE,
                              NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 420, 320);
  screenshot_both_styles (window, "loss-plot-crowded");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Saved at a size unlike the widget's, as PNG and as SVG by the
 * extension; the widget still draws at its own size afterwards. */
static void
test_save (void)
{
  GtkWidget *plot = graft_loss_plot_new ();
  GtkWidget *window = show_in_window (plot, WINDOW_WIDTH, WINDOW_HEIGHT);
  GraftLossPlot *self = GRAFT_LOSS_PLOT (plot);
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("graft-plot-XXXXXX", &error);
  g_autofree char *png = NULL, *svg = NULL, *bad = NULL, *text = NULL;
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  double wx, wy, before_x, before_y;

  g_assert_no_error (error);
  fill_realistic (self);
  g_assert_true (graft_loss_plot_data_to_widget (self, 0, 300, 0.5,
                                                 &before_x, &before_y));
  png = g_build_filename (dir, "plot.png", NULL);
  svg = g_build_filename (dir, "plot.svg", NULL);
  graft_loss_plot_save (self, png, 1200, 800, &error);
  g_assert_no_error (error);
  graft_loss_plot_save (self, svg, 640, 480, &error);
  g_assert_no_error (error);

  pixbuf = gdk_pixbuf_new_from_file (png, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, 1200);
  g_assert_cmpint (gdk_pixbuf_get_height (pixbuf), ==, 800);

  g_file_get_contents (svg, &text, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (text, "<?xml"));
  g_assert_nonnull (strstr (text, "<svg"));
  g_assert_nonnull (strstr (text, "640"));

  /* Only the two formats; a size that is no picture is refused. */
  bad = g_build_filename (dir, "plot.jpg", NULL);
  g_assert_false (graft_loss_plot_save (self, bad, 100, 100, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (graft_loss_plot_save (self, png, 0, 100, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (g_file_test (bad, G_FILE_TEST_EXISTS));

  /* The widget's own mapping is back to its own size. */
  gtk_test_widget_wait_for_draw (window);
  g_assert_true (graft_loss_plot_data_to_widget (self, 0, 300, 0.5, &wx, &wy));
  g_assert_cmpfloat_with_epsilon (wx, before_x, PIXEL_TOLERANCE);
  g_assert_cmpfloat_with_epsilon (wy, before_y, PIXEL_TOLERANCE);

  if (g_getenv ("GRAFT_TEST_SCREENSHOT_DIR") != NULL)
    {
      g_autofree char *shot = g_build_filename
        (g_getenv ("GRAFT_TEST_SCREENSHOT_DIR"), "loss-plot-saved.png", NULL);
      graft_loss_plot_save (self, shot, 1200, 800, &error);
      g_assert_no_error (error);
    }
  g_unlink (png);
  g_unlink (svg);
  g_rmdir (dir);
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/app/loss-plot/counts", test_counts);
  g_test_add_func ("/app/loss-plot/properties", test_properties);
  g_test_add_func ("/app/loss-plot/smoothing", test_smoothing);
  g_test_add_func ("/app/loss-plot/ticks", test_ticks);
  g_test_add_func ("/app/loss-plot/non-finite", test_skips_non_finite);
  g_test_add_func ("/app/loss-plot/pick", test_pick);
  g_test_add_func ("/app/loss-plot/pick-log", test_pick_log);
  g_test_add_func ("/app/loss-plot/log-x", test_log_x);
  g_test_add_func ("/app/loss-plot/summary", test_summary);
  g_test_add_func ("/app/loss-plot/many-points", test_many_points);
  g_test_add_func ("/app/loss-plot/screenshots", test_screenshots);
  g_test_add_func ("/app/loss-plot/save", test_save);

  return g_test_run ();
}
