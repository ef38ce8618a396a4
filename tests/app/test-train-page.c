/* test-train-page.c: the Train page over the real training layer — the
 * estimate for each mode, the mode's defaults, a short real run in each
 * mode on the sample data (the plot's step and epoch points and stage
 * markers, the event log, the words for the end), Pause, Resume and Stop,
 * the learning-rate finder (its curve on a log axis, the rate it fills
 * in, Cancel), and how long the main loop ever waits while a run or the
 * finder works.
 *
 * Env: run under `xvfb-run -a` with GTK_A11Y=none, GSETTINGS_BACKEND=memory,
 * GSETTINGS_SCHEMA_DIR=<build>/data, G_DEBUG=gc-friendly,fatal-warnings
 * (graft_test_app_init makes a private XDG_DATA_HOME); GSK_RENDERER is
 * cairo unless set (see main).  Optional:
 * GRAFT_TEST_SCREENSHOT_DIR (PNGs of the page while and after training,
 * light and dark, 1280×800 and 800×600); GRAFT_TEST_NO_STALL_ASSERT (set
 * under sanitizers and valgrind: the main loop's largest gap is then only
 * printed, not checked).
 */
#include <string.h>

#include "graft-backbone-page.h"
#include "graft-test-app.h"
#include "graft-train-page.h"
#include "graft-window.h"

#define BACKBONE "fashion-cnn"
#define WIDE_WIDTH 1280
#define WIDE_HEIGHT 800
#define NARROW_WIDTH 800
#define NARROW_HEIGHT 600
#define SCAN_TIMEOUT_MS 60000
#define ESTIMATE_TIMEOUT_MS 60000
#define RUN_TIMEOUT_MS 120000
#define STATE_TIMEOUT_MS 10000
#define TICK_MS 10
#define MAX_GAP_MS 100
/* Long enough for several steps to arrive if the pause did not hold. */
#define PAUSE_HOLD_MS 800
#define SHORT_EPOCHS 2
#define PROGRESSIVE_CAP 3
#define PAUSE_RUN_EPOCHS 5
#define FIND_TIMEOUT_MS 60000
#define SMALLEST_LR 0.00001     /* the spin button's lower end */

typedef struct
{
  GraftWindow *window;
  GraftProject *project;
  GraftTrainPage *page;
} Fixture;

static Fixture fixture;

/* ---- Waiting ----------------------------------------------------------------- */

static gboolean
scan_done (gpointer data)
{
  return !graft_project_get_scanning (data)
    && graft_project_get_scan (data) != NULL;
}

static gboolean
backbone_loaded (gpointer data)
{
  GraftBackbone *backbone = graft_project_get_backbone (data);

  return backbone != NULL
    && g_str_equal (graft_backbone_get_spec (backbone), BACKBONE);
}

typedef struct
{
  GraftRun *run;
  GraftRunState state;
} StateWait;

static gboolean
state_reached (gpointer data)
{
  StateWait *wait = data;

  return graft_run_get_state (wait->run) == wait->state;
}

static void
wait_for_state (GraftRun *run, GraftRunState state, guint timeout_ms)
{
  StateWait wait = { run, state };
  g_autofree char *what = g_strdup_printf ("run state %d (now %d)", state,
                                           graft_run_get_state (run));

  graft_test_wait_for (state_reached, &wait, timeout_ms, what);
}

static gboolean
estimates_done (gpointer data)
{
  for (GraftRunMode m = GRAFT_RUN_MODE_EXTRACT;
       m <= GRAFT_RUN_MODE_PROGRESSIVE; m++)
    {
      const char *text = graft_train_page_get_estimate (data, m);
      if (g_str_equal (text, "Estimating…") || g_str_equal (text, "—"))
        return FALSE;
    }
  return TRUE;
}

static gboolean
has_steps (gpointer data)
{
  return graft_run_get_steps (data)->len > 0;
}

/* ---- The stall meter -------------------------------------------------------- */

typedef struct
{
  gint64 last_us;
  gint64 max_gap_us;
} StallMeter;

static gboolean
stall_tick (gpointer data)
{
  StallMeter *meter = data;
  gint64 now = g_get_monotonic_time ();

  meter->max_gap_us = MAX (meter->max_gap_us, now - meter->last_us);
  meter->last_us = now;
  return G_SOURCE_CONTINUE;
}

static guint
stall_meter_start (StallMeter *meter)
{
  meter->last_us = g_get_monotonic_time ();
  meter->max_gap_us = 0;
  return g_timeout_add (TICK_MS, stall_tick, meter);
}

static void
stall_meter_check (StallMeter *meter, guint source, const char *what)
{
  double gap_ms = meter->max_gap_us / 1000.0;

  g_source_remove (source);
  g_test_message ("%s: largest main-loop gap: %.0f ms", what, gap_ms);
  g_print ("# %s: largest main-loop gap: %.0f ms\n", what, gap_ms);
  if (g_getenv ("GRAFT_TEST_NO_STALL_ASSERT") == NULL)
    g_assert_cmpfloat (gap_ms, <, MAX_GAP_MS);
}

/* ---- Driving the page --------------------------------------------------------- */

static GtkWidget *
child (const char *id)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (fixture.page),
                                                   GRAFT_TYPE_TRAIN_PAGE, id);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static void
set_spin (const char *id, double value)
{
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (child (id)), value);
}

static double
get_spin (const char *id)
{
  return gtk_spin_button_get_value (GTK_SPIN_BUTTON (child (id)));
}

/* As a person would: press the mode's round toggle. */
static void
choose_mode (const char *name)
{
  g_autofree char *id = g_strconcat (name, "_toggle", NULL);

  g_signal_emit_by_name (child (id), "clicked");
  g_assert_true (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (child (id))));
}

static void
press (const char *id)
{
  g_assert_true (gtk_widget_is_sensitive (child (id)));
  g_signal_emit_by_name (child (id), "clicked");
}

static gboolean
log_has (const char *needle)
{
  g_auto (GStrv) lines = graft_train_page_get_log (fixture.page);

  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], needle) != NULL)
      return TRUE;
  return FALSE;
}

static void
print_log (void)
{
  g_auto (GStrv) lines = graft_train_page_get_log (fixture.page);

  for (guint i = 0; lines[i] != NULL; i++)
    g_test_message ("log: %s", lines[i]);
}

/* The window drawn now, through its own snapshot function (the widget
 * paintable that graft_test_screenshot uses comes back empty here: GTK
 * no longer holds the window's last frame). */
static void
screenshot (GtkWidget *window, const char *name)
{
  const char *dir = g_getenv ("GRAFT_TEST_SCREENSHOT_DIR");
  GtkSnapshot *snapshot;
  GdkRGBA background;
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *file = g_strconcat (name, ".png", NULL);
  g_autofree char *path = NULL;

  if (dir == NULL || *dir == '\0')
    return;
  /* Two frames: a list that follows its end scrolls in the frame after
   * the one that laid out its new line. */
  for (guint i = 0; i < 2; i++)
    {
      gtk_widget_queue_draw (window);
      gtk_test_widget_wait_for_draw (window);
    }
  snapshot = gtk_snapshot_new ();
  /* The class' snapshot draws the children, not the window's own CSS
   * background: lay that under them first. */
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_lookup_color (gtk_widget_get_style_context (window),
                                  "window_bg_color", &background);
  G_GNUC_END_IGNORE_DEPRECATIONS
  gtk_snapshot_append_color (snapshot, &background, &GRAPHENE_RECT_INIT
                             (0, 0, gtk_widget_get_width (window),
                              gtk_widget_get_height (window)));
  GTK_WIDGET_GET_CLASS (window)->snapshot (window, snapshot);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture
    (gtk_native_get_renderer (GTK_NATIVE (window)), node,
     &GRAPHENE_RECT_INIT (0, 0, gtk_widget_get_width (window),
                          gtk_widget_get_height (window)));
  g_mkdir_with_parents (dir, 0755);
  path = g_build_filename (dir, file, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
}

static void
set_dark (gboolean dark)
{
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (),
                                      dark ? ADW_COLOR_SCHEME_FORCE_DARK
                                      : ADW_COLOR_SCHEME_FORCE_LIGHT);
}

/* ---- The learning-rate finder ------------------------------------------------- */

static gboolean
finder_idle (gpointer data)
{
  return g_str_equal (gtk_button_get_label
                      (GTK_BUTTON (child ("find_lr_button"))),
                      "Find Learning Rate");
}

/* The rate in the log's "Suggested learning rate: R (…)", or 0. */
static double
logged_suggestion (void)
{
  const char *prefix = "Suggested learning rate: ";
  g_auto (GStrv) lines = graft_train_page_get_log (fixture.page);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix))
      return g_ascii_strtod (lines[i] + strlen (prefix), NULL);
  return 0;
}

/* Pressed as a person would: the curve replaces the plot's, on a log axis
 * of rates with the suggestion marked, and the suggestion is filled in;
 * the main loop never waits on it. */
static void
test_find_lr (void)
{
  GraftLossPlot *plot = graft_train_page_get_plot (fixture.page);
  double default_lr = get_spin ("lr");
  StallMeter meter;
  guint ticker;
  double suggested;

  choose_mode ("extract");
  set_spin ("threads", 1);
  set_spin ("lr", SMALLEST_LR);
  ticker = stall_meter_start (&meter);
  press ("find_lr_button");
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (child
                   ("find_lr_button"))), ==, "Cancel");
  graft_test_wait_for (finder_idle, NULL, FIND_TIMEOUT_MS,
                       "the learning-rate finder");
  stall_meter_check (&meter, ticker, "find-lr");
  print_log ();
  suggested = logged_suggestion ();
  g_assert_cmpfloat (suggested, >, SMALLEST_LR);
  g_assert_cmpfloat_with_epsilon (get_spin ("lr"), suggested, 1e-9);
  g_assert_cmpuint (graft_loss_plot_get_n_series (plot), ==, 1);
  g_assert_cmpuint (graft_loss_plot_get_n_points (plot, 0), >, 1);
  g_assert_cmpuint (graft_loss_plot_get_n_markers (plot), ==, 1);
  g_assert_true (graft_loss_plot_get_log_x (plot));
  g_assert_cmpstr (graft_loss_plot_get_x_label (plot), ==, "Learning rate");
  g_assert_true (log_has ("(steepest fall of the loss)"));
  screenshot (GTK_WIDGET (fixture.window), "train-page-find-lr");

  /* Cancel, pressed at once: the curve and the rate stay as they were. */
  press ("find_lr_button");
  press ("find_lr_button");
  graft_test_wait_for (finder_idle, NULL, FIND_TIMEOUT_MS,
                       "the finder to stop");
  g_assert_true (log_has ("Learning-rate finder cancelled"));
  g_assert_cmpfloat_with_epsilon (get_spin ("lr"), suggested, 1e-9);
  g_assert_true (graft_loss_plot_get_log_x (plot));
  /* The runs that follow train at the modes' own rate. */
  set_spin ("lr", default_lr);
}

/* ---- Tests ------------------------------------------------------------------------ */

static void
test_estimate (void)
{
  graft_test_wait_for (estimates_done, fixture.page, ESTIMATE_TIMEOUT_MS,
                       "an estimate for every mode");
  for (GraftRunMode m = GRAFT_RUN_MODE_EXTRACT;
       m <= GRAFT_RUN_MODE_PROGRESSIVE; m++)
    {
      const char *text = graft_train_page_get_estimate (fixture.page, m);
      g_test_message ("estimate %d: %s", m, text);
      g_assert_true (g_str_has_prefix (text, "about "));
    }
  g_assert_true (g_str_has_prefix
                 (graft_train_page_get_recommendation (fixture.page),
                  "Recommended: "));
  /* A change starts a new estimate, in the background. */
  set_spin ("batch", 16);
  g_assert_cmpstr (graft_train_page_get_estimate
                   (fixture.page, GRAFT_RUN_MODE_EXTRACT), ==, "Estimating…");
  graft_test_wait_for (estimates_done, fixture.page, ESTIMATE_TIMEOUT_MS,
                       "the estimate after a change");
  set_spin ("batch", 32);
  graft_test_wait_for (estimates_done, fixture.page, ESTIMATE_TIMEOUT_MS,
                       "the estimate back at batch 32");
}

/* Untouched fields follow the mode; touched ones stay; the page and the
 * project's "mode" and "unfreeze" follow each other. */
static void
test_defaults (void)
{
  g_autoptr (GraftRunConfig) extract = graft_run_config_new
    (GRAFT_RUN_MODE_EXTRACT);
  g_autoptr (GraftRunConfig) finetune = graft_run_config_new
    (GRAFT_RUN_MODE_FINETUNE);

  graft_project_set_mode (fixture.project, GRAFT_RUN_MODE_FINETUNE);
  g_assert_true (gtk_toggle_button_get_active
                 (GTK_TOGGLE_BUTTON (child ("finetune_toggle"))));
  g_assert_cmpfloat (get_spin ("epochs"), ==, finetune->epochs);
  g_assert_cmpfloat_with_epsilon (get_spin ("lr"), finetune->lr, 1e-9);
  set_spin ("epochs", 7);
  choose_mode ("extract");
  g_assert_cmpint (graft_project_get_mode (fixture.project), ==,
                   GRAFT_RUN_MODE_EXTRACT);
  g_assert_cmpfloat (get_spin ("epochs"), ==, 7);
  g_assert_cmpfloat_with_epsilon (get_spin ("lr"), extract->lr, 1e-9);

  /* Sigmoid is offered for two classes only: the sample has five. */
  g_assert_cmpuint (g_list_model_get_n_items (adw_combo_row_get_model
                    (ADW_COMBO_ROW (child ("output")))), ==, 1);

  choose_mode ("finetune");
  gtk_switch_set_active (GTK_SWITCH (child ("unfreeze_all_switch")), TRUE);
  g_assert_cmpint (graft_project_get_unfreeze (fixture.project), ==,
                   GRAFT_UNFREEZE_ALL);
  graft_project_set_unfreeze (fixture.project, 1);
  g_assert_false (gtk_switch_get_active
                  (GTK_SWITCH (child ("unfreeze_all_switch"))));
  g_assert_cmpfloat (get_spin ("unfreeze_spin"), ==, 1);
}

typedef struct
{
  const char *mode;
  guint epochs;
  gboolean stages;
} RunCase;

/* Trains @rc to the end, measuring the main loop meanwhile. */
static GraftRun *
train_to_end (const RunCase *rc)
{
  StallMeter meter;
  guint ticker;
  GraftRun *run;
  g_autofree char *shot = NULL;

  choose_mode (rc->mode);
  set_spin ("epochs", rc->epochs);
  set_spin ("threads", 1);
  set_spin ("stage_epochs", 1);
  ticker = stall_meter_start (&meter);
  press ("start_button");
  run = graft_project_get_run (fixture.project);
  g_assert_nonnull (run);
  g_assert_false (gtk_widget_is_sensitive (child ("epochs")));
  graft_test_wait_for (has_steps, run, RUN_TIMEOUT_MS, "the first steps");
  shot = g_strconcat ("train-page-", rc->mode, "-running", NULL);
  screenshot (GTK_WIDGET (fixture.window), shot);
  meter.last_us = g_get_monotonic_time ();   /* the screenshot is ours */
  wait_for_state (run, GRAFT_RUN_STATE_FINISHED, RUN_TIMEOUT_MS);
  stall_meter_check (&meter, ticker, rc->mode);
  return run;
}

static void
test_run (gconstpointer data)
{
  const RunCase *rc = data;
  GraftLossPlot *plot = graft_train_page_get_plot (fixture.page);
  GraftRun *run = train_to_end (rc);
  guint n_epochs = graft_run_get_epochs (run)->len;
  g_autofree char *shot = g_strconcat ("train-page-", rc->mode, "-finished",
                                       NULL);

  print_log ();
  /* Back on the step axis, whatever the finder showed before. */
  g_assert_false (graft_loss_plot_get_log_x (plot));
  g_assert_cmpuint (graft_run_get_steps (run)->len, >, 0);
  g_assert_cmpuint (graft_loss_plot_get_n_points (plot, 0), ==,
                    graft_run_get_steps (run)->len);
  g_assert_cmpuint (graft_loss_plot_get_n_points (plot, 1), ==, n_epochs);
  g_assert_cmpuint (graft_loss_plot_get_n_points (plot, 2), ==, n_epochs);
  g_assert_cmpuint (graft_loss_plot_get_n_markers (plot), ==,
                    graft_run_get_stages (run)->len);
  if (rc->stages)
    g_assert_cmpuint (graft_run_get_stages (run)->len, >, 1);
  else
    g_assert_cmpuint (n_epochs, ==, rc->epochs);
  g_assert_true (strstr (graft_train_page_get_status (fixture.page),
                         "finished") != NULL);
  g_assert_true (log_has ("Run started"));
  g_assert_true (log_has ("best so far"));
  g_assert_true (log_has ("Training finished"));
  if (rc->stages)
    g_assert_true (log_has ("unfroze"));
  g_assert_true (gtk_widget_is_sensitive (child ("epochs")));
  screenshot (GTK_WIDGET (fixture.window), shot);
}

static gboolean
has_epoch (gpointer data)
{
  return graft_run_get_epochs (data)->len > 0;
}

static gboolean
pause_label_is (gpointer data)
{
  return g_str_equal (gtk_button_get_label
                      (GTK_BUTTON (child ("pause_button"))), data);
}

static void
test_pause_stop (void)
{
  GraftRun *run, *resumed;
  guint steps;

  choose_mode ("finetune");
  set_spin ("epochs", PAUSE_RUN_EPOCHS);
  set_spin ("threads", 1);
  press ("start_button");
  run = graft_project_get_run (fixture.project);
  graft_test_wait_for (has_steps, run, RUN_TIMEOUT_MS, "the first steps");

  press ("pause_button");
  wait_for_state (run, GRAFT_RUN_STATE_PAUSED, STATE_TIMEOUT_MS);
  g_assert_true (pause_label_is ((gpointer) "Resume"));
  g_assert_cmpstr (graft_train_page_get_status (fixture.page), ==, "Paused");
  graft_test_spin (PAUSE_HOLD_MS / 4);     /* what was in flight lands */
  steps = graft_run_get_steps (run)->len;
  graft_test_spin (PAUSE_HOLD_MS);
  g_assert_cmpuint (graft_run_get_steps (run)->len, ==, steps);
  screenshot (GTK_WIDGET (fixture.window), "train-page-paused");

  press ("pause_button");
  wait_for_state (run, GRAFT_RUN_STATE_RUNNING, STATE_TIMEOUT_MS);
  g_assert_true (pause_label_is ((gpointer) "Pause"));
  graft_test_wait_for (has_epoch, run, RUN_TIMEOUT_MS, "the first epoch");
  press ("stop_button");
  wait_for_state (run, GRAFT_RUN_STATE_STOPPED, STATE_TIMEOUT_MS);
  g_assert_cmpstr (graft_train_page_get_status (fixture.page), ==,
                   "Training stopped");
  g_assert_true (log_has ("Paused"));
  g_assert_true (log_has ("Resumed"));
  g_assert_true (log_has ("Training stopped"));

  /* A stopped run goes on from its last checkpoint, its whole curve on
   * the plot. */
  g_assert_true (gtk_widget_get_visible (child ("resume_button")));
  g_object_ref (run);
  press ("resume_button");
  g_assert_true (graft_project_get_run (fixture.project) != run);
  resumed = graft_project_get_run (fixture.project);
  g_assert_cmpstr (graft_run_get_dir (resumed), ==, graft_run_get_dir (run));
  wait_for_state (resumed, GRAFT_RUN_STATE_FINISHED, RUN_TIMEOUT_MS);
  g_assert_cmpuint (graft_run_get_epochs (resumed)->len, ==,
                    PAUSE_RUN_EPOCHS);
  /* Every step once, the first session's ones first. */
  for (guint i = 0; i < graft_run_get_steps (resumed)->len; i++)
    g_assert_cmpuint (g_array_index (graft_run_get_steps (resumed),
                                     GraftStepPoint, i).step, ==, i);
  g_assert_cmpuint (graft_loss_plot_get_n_points
                    (graft_train_page_get_plot (fixture.page), 0), ==,
                    graft_run_get_steps (resumed)->len);
  g_assert_cmpuint (graft_loss_plot_get_n_points
                    (graft_train_page_get_plot (fixture.page), 1), ==,
                    PAUSE_RUN_EPOCHS);
  g_assert_true (log_has ("checkpoint"));
  g_assert_false (gtk_widget_get_visible (child ("resume_button")));
  g_object_unref (run);

  /* A run that cannot go on fails with its reason, and the page says so
   * (a finished run has nothing left to resume). */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture.window),
                                             "win.resume-run", "s",
                                             graft_run_get_dir (resumed)));
  run = graft_project_get_run (fixture.project);
  wait_for_state (run, GRAFT_RUN_STATE_FAILED, RUN_TIMEOUT_MS);
  g_assert_nonnull (strstr (graft_train_page_get_status (fixture.page),
                            "finished already"));
}

static gboolean
has_size (gpointer data)
{
  return gtk_widget_get_width (data) <= NARROW_WIDTH;
}

/* The finished progressive run, dark, then at 800×600 in both styles. */
static void
test_screenshots (void)
{
  GtkWidget *window = GTK_WIDGET (fixture.window);

  if (g_getenv ("GRAFT_TEST_SCREENSHOT_DIR") == NULL)
    {
      g_test_skip ("GRAFT_TEST_SCREENSHOT_DIR is not set");
      return;
    }
  set_dark (TRUE);
  screenshot (window, "train-page-dark");
  gtk_window_set_default_size (GTK_WINDOW (window), NARROW_WIDTH,
                               NARROW_HEIGHT);
  graft_test_wait_for (has_size, window, STATE_TIMEOUT_MS,
                       "the window at 800×600");
  screenshot (window, "train-page-narrow-dark");
  set_dark (FALSE);
  screenshot (window, "train-page-narrow");
  gtk_window_set_default_size (GTK_WINDOW (window), WIDE_WIDTH, WIDE_HEIGHT);
}

/* ---- Set-up -------------------------------------------------------------------- */

static void
setup_fixture (void)
{
  fixture.window = graft_window_new (NULL);
  graft_test_load_style ();
  fixture.project = graft_window_get_project (fixture.window);
  fixture.page = GRAFT_TRAIN_PAGE (graft_window_get_page_widget
                                   (fixture.window, "train"));
  gtk_window_set_default_size (GTK_WINDOW (fixture.window), WIDE_WIDTH,
                               WIDE_HEIGHT);
  gtk_window_present (GTK_WINDOW (fixture.window));
  graft_window_open_sample_data (fixture.window);
  graft_test_wait_for (scan_done, fixture.project, SCAN_TIMEOUT_MS,
                       "the sample data's scan");
  graft_backbone_page_select (GRAFT_BACKBONE_PAGE
                              (graft_window_get_page_widget (fixture.window,
                                                             "backbone")),
                              BACKBONE);
  graft_test_wait_for (backbone_loaded, fixture.project, SCAN_TIMEOUT_MS,
                       "the backbone");
  graft_window_show_page (fixture.window, "train");
  set_dark (FALSE);
}

/* How many of this process's threads are named @name (GThread names
 * them; Linux shows the name in /proc/self/task/ID/comm). */
static guint
threads_named (const char *name)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *id;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((id = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/task", id, "comm",
                                                NULL);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL))
        n += strcmp (g_strchomp (comm), name) == 0;
    }
  return n;
}

/* What the project's weak notify saw: the training threads left. */
typedef struct
{
  GraftRun *run;
  guint training_threads;
  gboolean gone;
} Closing;

static void
project_gone (gpointer data, GObject *where_the_project_was)
{
  Closing *c = data;

  c->training_threads = threads_named ("graft-run");
  c->gone = TRUE;
}

static gboolean
closing_done (gpointer data)
{
  return ((Closing *) data)->gone;
}

/* Closing the window while a run trains stops the run and waits for its
 * training thread to end before the project is gone, so that the app never exits under a thread still
 * writing the run's files or freeing its memory.  Runs last: it takes the
 * fixture's window. */
static void
test_close_while_training (void)
{
  Closing c = { 0 };

  choose_mode ("finetune");
  set_spin ("epochs", PAUSE_RUN_EPOCHS * 20);
  set_spin ("threads", 1);
  press ("start_button");
  c.run = g_object_ref (graft_project_get_run (fixture.project));
  graft_test_wait_for (has_steps, c.run, RUN_TIMEOUT_MS, "the first steps");
  g_assert_cmpuint (threads_named ("graft-run"), ==, 1);
  g_object_weak_ref (G_OBJECT (fixture.project), project_gone, &c);
  gtk_window_destroy (GTK_WINDOW (g_steal_pointer (&fixture.window)));
  graft_test_wait_for (closing_done, &c, RUN_TIMEOUT_MS,
                       "the project to go");
  g_assert_cmpuint (c.training_threads, ==, 0);
  g_assert_cmpint (graft_run_get_state (c.run), !=, GRAFT_RUN_STATE_FINISHED);
  g_object_unref (c.run);
}

int
main (int argc, char **argv)
{
  static const RunCase extract = { "extract", SHORT_EPOCHS, FALSE };
  static const RunCase finetune = { "finetune", SHORT_EPOCHS, FALSE };
  static const RunCase progressive = { "progressive", PROGRESSIVE_CAP, TRUE };
  int status;

  /* Under Xvfb, GL is Mesa's software rasteriser: a frame of the whole
   * window costs it ~100 ms, and its first shaders a second, which the
   * stall meter would count against the app.  Cairo draws the same
   * widgets without that, so the meter sees the app's own work. */
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  graft_test_app_init (&argc, &argv);
  setup_fixture ();
  g_test_add_func ("/app/train-page/estimate", test_estimate);
  g_test_add_func ("/app/train-page/defaults", test_defaults);
  g_test_add_func ("/app/train-page/find-lr", test_find_lr);
  g_test_add_data_func ("/app/train-page/run-extract", &extract, test_run);
  g_test_add_data_func ("/app/train-page/run-finetune", &finetune, test_run);
  g_test_add_data_func ("/app/train-page/run-progressive", &progressive,
                        test_run);
  g_test_add_func ("/app/train-page/screenshots", test_screenshots);
  g_test_add_func ("/app/train-page/pause-stop", test_pause_stop);
  g_test_add_func ("/app/train-page/close-while-training",
                   test_close_while_training);
  status = g_test_run ();
  if (fixture.window != NULL)
    gtk_window_destroy (GTK_WINDOW (fixture.window));
  return status;
}
