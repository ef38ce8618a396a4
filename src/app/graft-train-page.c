/* graft-train-page.c: the Train stage.
 *
 * The settings are a table of controls, each tied to one field of
 * GraftRunConfig by its offset: the same table fills the controls with a
 * mode's defaults, remembers which ones the user changed (those keep
 * their value when the mode changes), and writes them into the
 * configuration a run or an estimate gets.
 *
 * The estimate probes the backbone and decodes pictures, so it runs on a
 * worker: changes start it after a short quiet time, at most one probe is
 * in flight, and a change while it runs makes it start again afterwards.
 *
 * A run reports on the main loop in batches (graft-run.h): the plot takes
 * the points that arrived since the last "updated", the log takes the
 * stage and notice signals in the order they happened.
 *
 * The learning-rate finder runs on a worker too, on the configuration a
 * run would get; its curve borrows the plot (a log axis of rates) until
 * the run's points come back to it.
 */
#define G_LOG_DOMAIN "graft-train-page"

#include "graft-train-page.h"

#include <glib/gi18n.h>
#include <string.h>
#include <math.h>

#include "graft-estimate.h"
#include "graft-event-log.h"
#include "graft-lr-finder.h"

#define N_MODES 3
/* A burst of changes (typing in a spin button) starts one probe. */
#define ESTIMATE_DELAY_MS 400
#define SECONDS_PER_MINUTE 60
#define SECONDS_PER_HOUR 3600
/* Durations are rounded to what a person would say. */
#define EXACT_SECONDS_BELOW 10
#define ROUND_SECONDS 5
#define ROUND_MINUTES_IN_HOURS 5
#define PERCENT 100.0

/* ---- The settings table ------------------------------------------------- */

typedef enum
{
  FIELD_UINT,       /* GtkSpinButton → guint */
  FIELD_UINT64,     /* GtkSpinButton → guint64 */
  FIELD_DOUBLE,     /* GtkSpinButton → double */
  FIELD_BOOLEAN,    /* GtkSwitch → gboolean */
  FIELD_ENUM,       /* AdwComboRow, item n → enum value n */
} FieldKind;

typedef struct
{
  const char *id;   /* the control's id in the template: the field's name */
  FieldKind kind;
  gsize offset;     /* in GraftRunConfig */
} Field;

#define FIELD(name, kind) { #name, kind, G_STRUCT_OFFSET (GraftRunConfig, name) }

static const Field fields[] = {
  FIELD (hidden, FIELD_UINT),
  FIELD (dropout, FIELD_DOUBLE),
  FIELD (output, FIELD_ENUM),
  FIELD (epochs, FIELD_UINT),
  FIELD (batch, FIELD_UINT),
  FIELD (lr, FIELD_DOUBLE),
  FIELD (optimizer, FIELD_ENUM),
  FIELD (augment_flip, FIELD_BOOLEAN),
  FIELD (augment_crop, FIELD_BOOLEAN),
  FIELD (patience, FIELD_UINT),
  FIELD (seed, FIELD_UINT64),
  FIELD (weight_decay, FIELD_DOUBLE),
  FIELD (momentum, FIELD_DOUBLE),
  FIELD (label_smoothing, FIELD_DOUBLE),
  FIELD (schedule, FIELD_ENUM),
  FIELD (warmup_epochs, FIELD_UINT),
  FIELD (bn_frozen_all, FIELD_BOOLEAN),
  FIELD (discriminative, FIELD_DOUBLE),
  FIELD (stage_epochs, FIELD_UINT),
  FIELD (plateau_tolerance, FIELD_DOUBLE),
  FIELD (plateau_patience, FIELD_UINT),
  FIELD (threads, FIELD_UINT),
};

#define N_FIELDS G_N_ELEMENTS (fields)

struct _GraftTrainPage
{
  AdwBin parent_instance;

  GraftProject *project;
  GraftRun *run;                   /* the run shown */
  GraftRunState last_state;        /* to tell "Resumed" from "Started" */

  GtkWidget *controls[N_FIELDS];   /* fields[i]'s control */
  gboolean touched[N_FIELDS];      /* the user set it: modes keep it */
  gboolean updating;               /* the page, not the user, sets them */

  /* How much of the run's history the plot has. */
  guint seen_steps, seen_epochs, seen_stages;
  guint train_series, val_loss_series, val_accuracy_series;

  guint estimate_source;           /* the quiet time before a probe */
  GCancellable *estimate_cancellable;
  gboolean estimating;             /* a probe is in flight */
  gboolean estimate_dirty;         /* something changed meanwhile */

  GCancellable *find_cancellable;  /* while the finder runs */
  gboolean plot_shows_finder;      /* its curve, not the run's points */

  AdwFlap *flap;                   /* our child */
  GtkWidget *settings;
  GtkLabel *recommendation_title;
  GtkLabel *recommendation_reason;
  AdwActionRow *mode_rows[N_MODES];
  GtkToggleButton *mode_toggles[N_MODES];
  GtkLabel *estimate_labels[N_MODES];
  GtkWidget *unfreeze_group;
  GtkSwitch *unfreeze_all_switch;
  GtkWidget *unfreeze_row;
  GtkSpinButton *unfreeze_spin;
  AdwActionRow *epochs_row;
  GtkWidget *momentum_row;
  GtkButton *find_lr_button;
  GtkProgressBar *find_lr_progress;
  GtkToggleButton *settings_button;
  GtkButton *pause_button;
  GtkWidget *details_button;   /* "Try It…" and "Export…", once a run */
  GtkWidget *export_button;    /* has ended, on that run */
  GtkWidget *resume_button;    /* once it was stopped */
  GtkLabel *status;
  GtkProgressBar *progress;
  GraftLossPlot *plot;
  GtkToggleButton *log_scale;
  GtkScale *smoothing;
  GraftEventLog *log;
};

G_DEFINE_FINAL_TYPE (GraftTrainPage, graft_train_page, ADW_TYPE_BIN)

static void schedule_estimate (GraftTrainPage *self);

GtkWidget *
graft_train_page_new (void)
{
  return g_object_new (GRAFT_TYPE_TRAIN_PAGE, NULL);
}

/* ---- Words ---------------------------------------------------------------- */

/* "about 40 s", "about 3 min", "about 1 h 20 min". */
static char *
format_duration (double seconds)
{
  guint minutes;

  if (!isfinite (seconds) || seconds < 0)
    return g_strdup (_("unknown"));
  if (seconds < EXACT_SECONDS_BELOW)
    return g_strdup_printf (_("about %u s"), MAX (1u, (guint) round (seconds)));
  if (seconds < SECONDS_PER_MINUTE - ROUND_SECONDS / 2.0)
    return g_strdup_printf (_("about %u s"), ROUND_SECONDS
                            * (guint) round (seconds / ROUND_SECONDS));
  if (seconds < SECONDS_PER_HOUR - SECONDS_PER_MINUTE / 2.0)
    return g_strdup_printf (_("about %u min"),
                            (guint) round (seconds / SECONDS_PER_MINUTE));
  minutes = ROUND_MINUTES_IN_HOURS
    * (guint) round (seconds / SECONDS_PER_MINUTE / ROUND_MINUTES_IN_HOURS);
  if (minutes % SECONDS_PER_MINUTE == 0)
    return g_strdup_printf (_("about %u h"), minutes / SECONDS_PER_MINUTE);
  return g_strdup_printf (_("about %u h %u min"), minutes / SECONDS_PER_MINUTE,
                          minutes % SECONDS_PER_MINUTE);
}

static const char *
mode_title (GraftTrainPage *self, GraftRunMode mode)
{
  return adw_preferences_row_get_title (ADW_PREFERENCES_ROW
                                        (self->mode_rows[mode]));
}

/* The epoch with the best validation accuracy, or NULL before any. */
static const GraftEpochReport *
best_accuracy_epoch (GraftRun *run)
{
  GPtrArray *epochs = graft_run_get_epochs (run);
  const GraftEpochReport *best = NULL;

  for (guint i = 0; i < epochs->len; i++)
    {
      const GraftEpochReport *r = epochs->pdata[i];
      if (isfinite (r->val_accuracy)
          && (best == NULL || r->val_accuracy > best->val_accuracy))
        best = r;
    }
  return best;
}

static char *
describe_finished (GraftRun *run)
{
  const GraftEpochReport *best = best_accuracy_epoch (run);

  if (best == NULL)
    return g_strdup (_("Training finished"));
  /* Translators: "Training finished — best validation accuracy 84.0 % at
   * epoch 7". */
  return g_strdup_printf (_("Training finished — best validation accuracy "
                            "%.1f %% at epoch %u"),
                          PERCENT * best->val_accuracy, best->epoch);
}

static char *
describe_state (GraftRun *run)
{
  if (run == NULL)
    return g_strdup (_("Choose the settings, then press Start."));
  switch (graft_run_get_state (run))
    {
    case GRAFT_RUN_STATE_READY:
      return g_strdup (_("Starting…"));
    case GRAFT_RUN_STATE_RUNNING:
      return g_strdup (_("Training…"));
    case GRAFT_RUN_STATE_PAUSED:
      return g_strdup (_("Paused"));
    case GRAFT_RUN_STATE_FINISHED:
      return describe_finished (run);
    case GRAFT_RUN_STATE_STOPPED:
      return g_strdup (_("Training stopped"));
    case GRAFT_RUN_STATE_FAILED:
    default:
      return g_strdup_printf (_("Training failed: %s"),
                              graft_run_get_message (run));
    }
}

/* The epochs a run plans, or 0 when its stages decide. */
static guint
planned_epochs (GraftRun *run)
{
  return graft_run_get_config (run)->epochs;
}

/* "Epoch 3 of 10 · about 40 s left". */
static char *
describe_progress (GraftRun *run)
{
  const GArray *steps = graft_run_get_steps (run);
  GraftRunState state = graft_run_get_state (run);
  guint total = planned_epochs (run);
  guint epoch = steps->len > 0
    ? g_array_index (steps, GraftStepPoint, steps->len - 1).epoch : 0;
  double eta = graft_run_get_eta (run);
  g_autofree char *position = NULL, *left = NULL;

  if (state == GRAFT_RUN_STATE_FINISHED)
    epoch = graft_run_get_epochs (run)->len;
  if (epoch == 0)
    return g_strdup (state == GRAFT_RUN_STATE_RUNNING
                     || state == GRAFT_RUN_STATE_READY
                     ? _("Preparing the pictures…") : "");
  position = total > 0 ? g_strdup_printf (_("Epoch %u of %u"), epoch, total)
    : g_strdup_printf (_("Epoch %u"), epoch);
  if (state != GRAFT_RUN_STATE_RUNNING || eta < 0)
    return g_steal_pointer (&position);
  left = format_duration (eta);
  /* Translators: "Epoch 3 of 10 · about 40 s left". */
  return g_strdup_printf (_("%s · %s left"), position, left);
}

/* ---- The settings table's controls ----------------------------------------- */

static int
field_index (GraftTrainPage *self, GtkWidget *control)
{
  for (guint i = 0; i < N_FIELDS; i++)
    if (self->controls[i] == control)
      return (int) i;
  return -1;
}

static void
field_to_control (GtkWidget *control, const Field *field,
                  const GraftRunConfig *config)
{
  gconstpointer value = (const char *) config + field->offset;

  switch (field->kind)
    {
    case FIELD_UINT:
      gtk_spin_button_set_value (GTK_SPIN_BUTTON (control),
                                 *(const guint *) value);
      break;
    case FIELD_UINT64:
      gtk_spin_button_set_value (GTK_SPIN_BUTTON (control),
                                 (double) *(const guint64 *) value);
      break;
    case FIELD_DOUBLE:
      gtk_spin_button_set_value (GTK_SPIN_BUTTON (control),
                                 *(const double *) value);
      break;
    case FIELD_BOOLEAN:
      gtk_switch_set_active (GTK_SWITCH (control),
                             *(const gboolean *) value);
      break;
    case FIELD_ENUM:
    default:
      adw_combo_row_set_selected (ADW_COMBO_ROW (control),
                                  *(const int *) value);
      break;
    }
}

static void
control_to_field (GtkWidget *control, const Field *field,
                  GraftRunConfig *config)
{
  gpointer value = (char *) config + field->offset;

  switch (field->kind)
    {
    case FIELD_UINT:
      *(guint *) value = gtk_spin_button_get_value_as_int
        (GTK_SPIN_BUTTON (control));
      break;
    case FIELD_UINT64:
      *(guint64 *) value = (guint64) gtk_spin_button_get_value
        (GTK_SPIN_BUTTON (control));
      break;
    case FIELD_DOUBLE:
      *(double *) value = gtk_spin_button_get_value
        (GTK_SPIN_BUTTON (control));
      break;
    case FIELD_BOOLEAN:
      *(gboolean *) value = gtk_switch_get_active (GTK_SWITCH (control));
      break;
    case FIELD_ENUM:
    default:
      *(int *) value = adw_combo_row_get_selected (ADW_COMBO_ROW (control));
      break;
    }
}

static GtkWidget *
control_of (GraftTrainPage *self, const char *id)
{
  for (guint i = 0; i < N_FIELDS; i++)
    if (g_str_equal (fields[i].id, id))
      return self->controls[i];
  g_return_val_if_reached (NULL);
}

static void
update_sensitivity (GraftTrainPage *self)
{
  GraftOptimizer optimizer = adw_combo_row_get_selected
    (ADW_COMBO_ROW (control_of (self, "optimizer")));

  gtk_widget_set_sensitive (self->momentum_row,
                            optimizer == GRAFT_OPTIMIZER_SGD);
}

static void
field_changed (GraftTrainPage *self, GtkWidget *control)
{
  int i = field_index (self, control);

  if (i >= 0 && !self->updating)
    self->touched[i] = TRUE;
  update_sensitivity (self);
  schedule_estimate (self);
}

static void
on_spin_changed (GtkWidget *control, GraftTrainPage *self)
{
  field_changed (self, control);
}

static void
on_property_changed (GtkWidget *control, GParamSpec *pspec,
                     GraftTrainPage *self)
{
  field_changed (self, control);
}

/* The controls the user has not set take @mode's defaults; epochs may
 * be 0 ("no limit") only where stages decide. */
static void
show_mode_defaults (GraftTrainPage *self, GraftRunMode mode)
{
  g_autoptr (GraftRunConfig) defaults = graft_run_config_new (mode);
  GtkSpinButton *epochs = GTK_SPIN_BUTTON (control_of (self, "epochs"));
  gboolean progressive = mode == GRAFT_RUN_MODE_PROGRESSIVE;

  self->updating = TRUE;
  gtk_adjustment_set_lower (gtk_spin_button_get_adjustment (epochs),
                            progressive ? 0 : 1);
  adw_action_row_set_subtitle (self->epochs_row, progressive
                               ? _("A limit on all stages; 0 for none")
                               : "");
  for (guint i = 0; i < N_FIELDS; i++)
    if (!self->touched[i])
      field_to_control (self->controls[i], &fields[i], defaults);
  self->updating = FALSE;
}

/* Sigmoid is only offered for exactly two classes. */
static void
show_output_choices (GraftTrainPage *self)
{
  AdwComboRow *row = ADW_COMBO_ROW (control_of (self, "output"));
  gboolean two = self->project != NULL && g_list_model_get_n_items
    (graft_project_get_classes (self->project)) == 2;
  GListModel *model = adw_combo_row_get_model (row);
  guint selected = adw_combo_row_get_selected (row);
  g_autoptr (GtkStringList) choices = NULL;

  if (model != NULL && (g_list_model_get_n_items (model) == 2) == two)
    return;
  choices = gtk_string_list_new (NULL);
  gtk_string_list_append (choices, _("Softmax"));
  if (two)
    gtk_string_list_append (choices, _("Sigmoid"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), two
                               ? _("Sigmoid: one output for the two classes")
                               : _("One output per class"));
  self->updating = TRUE;
  adw_combo_row_set_model (row, G_LIST_MODEL (choices));
  adw_combo_row_set_selected (row, two ? selected : GRAFT_HEAD_OUTPUT_SOFTMAX);
  self->updating = FALSE;
}

/* The configuration for @mode: the project's data and backbone, the
 * controls' values (only those the user set, for a mode that is not
 * shown: the others are the shown mode's defaults), checked. */
static GraftRunConfig *
build_config_for_mode (GraftTrainPage *self, GraftRunMode mode,
                       gboolean touched_only, GError **error)
{
  g_autoptr (GraftRunConfig) config = NULL;

  if (self->project == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                           _("Nothing to train yet."));
      return NULL;
    }
  config = graft_project_make_config (self->project, mode, error);
  if (config == NULL)
    return NULL;
  for (guint i = 0; i < N_FIELDS; i++)
    if (!touched_only || self->touched[i])
      control_to_field (self->controls[i], &fields[i], config);
  if (!graft_run_config_validate (config, error)
      || !graft_run_config_check_classes
           (config, g_strv_length (config->data), error))
    return NULL;
  return g_steal_pointer (&config);
}

GraftRunConfig *
graft_train_page_build_config (GraftTrainPage *self, GError **error)
{
  g_return_val_if_fail (GRAFT_IS_TRAIN_PAGE (self), NULL);
  return build_config_for_mode (self, self->project != NULL
                                ? graft_project_get_mode (self->project)
                                : GRAFT_RUN_MODE_EXTRACT, FALSE, error);
}

/* ---- Mode and unfreezing ------------------------------------------------------- */

static void
show_mode (GraftTrainPage *self)
{
  GraftRunMode mode = graft_project_get_mode (self->project);

  self->updating = TRUE;
  gtk_toggle_button_set_active (self->mode_toggles[mode], TRUE);
  self->updating = FALSE;
  show_mode_defaults (self, mode);
  gtk_widget_set_visible (self->unfreeze_group,
                          mode == GRAFT_RUN_MODE_FINETUNE);
}

static void
on_mode_toggled (GtkToggleButton *toggle, GraftTrainPage *self)
{
  if (!gtk_toggle_button_get_active (toggle) || self->updating
      || self->project == NULL)
    return;
  for (guint m = 0; m < N_MODES; m++)
    if (self->mode_toggles[m] == toggle)
      graft_project_set_mode (self->project, (GraftRunMode) m);
}

static void
show_unfreeze (GraftTrainPage *self)
{
  int unfreeze = graft_project_get_unfreeze (self->project);
  gboolean all = unfreeze == GRAFT_UNFREEZE_ALL;
  GraftBackbone *backbone = graft_project_get_backbone (self->project);
  guint n_blocks = backbone != NULL ? graft_backbone_get_n_blocks (backbone)
    : 0;

  self->updating = TRUE;
  if (n_blocks > 0)
    gtk_adjustment_set_upper (gtk_spin_button_get_adjustment
                              (self->unfreeze_spin), n_blocks);
  gtk_switch_set_active (self->unfreeze_all_switch, all);
  if (!all)
    gtk_spin_button_set_value (self->unfreeze_spin, unfreeze);
  gtk_widget_set_sensitive (self->unfreeze_row, !all);
  self->updating = FALSE;
}

static void
on_unfreeze_changed (GraftTrainPage *self)
{
  if (self->updating || self->project == NULL)
    return;
  graft_project_set_unfreeze (self->project,
                              gtk_switch_get_active (self->unfreeze_all_switch)
                              ? GRAFT_UNFREEZE_ALL
                              : gtk_spin_button_get_value_as_int
                                  (self->unfreeze_spin));
}

/* ---- The estimate ---------------------------------------------------------------- */

static gboolean
is_active (GraftRunState state)
{
  return state == GRAFT_RUN_STATE_READY || state == GRAFT_RUN_STATE_RUNNING
    || state == GRAFT_RUN_STATE_PAUSED;
}

static gboolean
run_is_active (GraftTrainPage *self)
{
  return self->run != NULL && is_active (graft_run_get_state (self->run));
}

/* A probe measures this machine: not while a run or the finder keeps it
 * busy. */
static gboolean
machine_busy (GraftTrainPage *self)
{
  return run_is_active (self) || self->find_cancellable != NULL;
}

typedef struct
{
  GraftRunConfig *configs[N_MODES];
} EstimateInput;

typedef struct
{
  GraftModeEstimate modes[N_MODES];
  GraftRunMode recommended;
  char *reason;
} EstimateResult;

static void
estimate_input_free (gpointer data)
{
  EstimateInput *input = data;

  for (guint m = 0; m < N_MODES; m++)
    g_clear_pointer (&input->configs[m], graft_run_config_free);
  g_free (input);
}

static void
estimate_result_free (gpointer data)
{
  EstimateResult *result = data;

  g_free (result->reason);
  g_free (result);
}

/* On a worker: the probe reads pictures and loads the backbone. */
static void
estimate_thread (GTask *task, gpointer source, gpointer data,
                 GCancellable *cancellable)
{
  EstimateInput *input = data;
  g_autoptr (GraftProbe) probe = NULL;
  EstimateResult *result;
  GError *error = NULL;
  guint n_pictures;

  probe = graft_probe_new (input->configs[0], &error);
  if (probe == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  result = g_new0 (EstimateResult, 1);
  for (guint m = 0; m < N_MODES; m++)
    graft_estimate_mode (probe, input->configs[m], &result->modes[m]);
  n_pictures = graft_probe_n_train (probe) + graft_probe_n_val (probe);
  result->recommended = graft_estimate_recommend
    (n_pictures, result->modes[GRAFT_RUN_MODE_FINETUNE].seconds, 0,
     &result->reason);
  g_task_return_pointer (task, result, estimate_result_free);
}

static void
show_estimating (GraftTrainPage *self)
{
  for (guint m = 0; m < N_MODES; m++)
    gtk_label_set_text (self->estimate_labels[m], _("Estimating…"));
  gtk_label_set_text (self->recommendation_title, _("Estimating…"));
  gtk_widget_set_visible (GTK_WIDGET (self->recommendation_reason), FALSE);
}

/* Why there is no estimate: the project's sentence (no data yet, ...). */
static void
show_estimate_error (GraftTrainPage *self, const char *message)
{
  for (guint m = 0; m < N_MODES; m++)
    gtk_label_set_text (self->estimate_labels[m], "—");
  gtk_label_set_text (self->recommendation_title,
                      _("No recommendation yet"));
  gtk_label_set_text (self->recommendation_reason, message);
  gtk_widget_set_visible (GTK_WIDGET (self->recommendation_reason), TRUE);
}

static void
show_estimate (GraftTrainPage *self, const EstimateResult *result)
{
  g_autofree char *title = g_strdup_printf
    (_("Recommended: %s"), mode_title (self, result->recommended));

  for (guint m = 0; m < N_MODES; m++)
    {
      g_autofree char *text = format_duration (result->modes[m].seconds);
      gtk_label_set_text (self->estimate_labels[m], text);
    }
  gtk_label_set_text (self->recommendation_title, title);
  gtk_label_set_text (self->recommendation_reason, result->reason);
  gtk_widget_set_visible (GTK_WIDGET (self->recommendation_reason),
                          result->reason != NULL);
}

static void start_estimate (GraftTrainPage *self);

static void
on_estimated (GObject *source, GAsyncResult *res, gpointer data)
{
  GraftTrainPage *self = GRAFT_TRAIN_PAGE (source);
  g_autoptr (GError) error = NULL;
  EstimateResult *result = g_task_propagate_pointer (G_TASK (res), &error);

  /* Cancelled: the page is gone. */
  if (g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (res))))
    {
      g_clear_pointer (&result, estimate_result_free);
      return;
    }
  self->estimating = FALSE;
  if (self->estimate_dirty)
    {
      /* Stale; a run training now would make the timing wrong too. */
      if (!machine_busy (self))
        start_estimate (self);
    }
  else if (result == NULL)
    show_estimate_error (self, error->message);
  else
    show_estimate (self, result);
  g_clear_pointer (&result, estimate_result_free);
}

static void
start_estimate (GraftTrainPage *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTask) task = NULL;
  EstimateInput *input = g_new0 (EstimateInput, 1);

  self->estimate_dirty = FALSE;
  for (guint m = 0; m < N_MODES; m++)
    if ((input->configs[m] = build_config_for_mode (self, m, TRUE, &error))
        == NULL)
      {
        estimate_input_free (input);
        show_estimate_error (self, error->message);
        return;
      }
  self->estimating = TRUE;
  task = g_task_new (self, self->estimate_cancellable, on_estimated, NULL);
  g_task_set_source_tag (task, start_estimate);
  g_task_set_task_data (task, input, estimate_input_free);
  g_task_run_in_thread (task, estimate_thread);
}

static gboolean
on_estimate_quiet (gpointer data)
{
  GraftTrainPage *self = data;

  self->estimate_source = 0;
  if (self->estimating || machine_busy (self))
    self->estimate_dirty = TRUE;
  else
    start_estimate (self);
  return G_SOURCE_REMOVE;
}

/* Something the estimate depends on changed: estimate again once the
 * changes have stopped for a moment. */
static void
schedule_estimate (GraftTrainPage *self)
{
  if (self->project == NULL)
    return;
  show_estimating (self);
  g_clear_handle_id (&self->estimate_source, g_source_remove);
  self->estimate_source = g_timeout_add (ESTIMATE_DELAY_MS,
                                         on_estimate_quiet, self);
}

/* ---- The run: plot ---------------------------------------------------------------- */

static void
reset_plot (GraftTrainPage *self)
{
  graft_loss_plot_clear (self->plot);
  graft_loss_plot_set_log_x (self->plot, FALSE);
  graft_loss_plot_set_x_label (self->plot, NULL);
  self->plot_shows_finder = FALSE;
  self->train_series = graft_loss_plot_add_series
    (self->plot, _("Training loss"), GRAFT_PLOT_AXIS_LOSS,
     GRAFT_PLOT_STYLE_STEPS, NULL);
  self->val_loss_series = graft_loss_plot_add_series
    (self->plot, _("Validation loss"), GRAFT_PLOT_AXIS_LOSS,
     GRAFT_PLOT_STYLE_EPOCHS, NULL);
  self->val_accuracy_series = graft_loss_plot_add_series
    (self->plot, _("Validation accuracy"), GRAFT_PLOT_AXIS_ACCURACY,
     GRAFT_PLOT_STYLE_EPOCHS, NULL);
  self->seen_steps = self->seen_epochs = self->seen_stages = 0;
}

static void
take_steps (GraftTrainPage *self)
{
  const GArray *steps = graft_run_get_steps (self->run);
  gsize n = steps->len - self->seen_steps;
  g_autofree double *x = NULL, *y = NULL;

  if (n == 0)
    return;
  x = g_new (double, n);
  y = g_new (double, n);
  for (gsize i = 0; i < n; i++)
    {
      const GraftStepPoint *p = &g_array_index (steps, GraftStepPoint,
                                                self->seen_steps + i);
      x[i] = p->step;
      y[i] = p->loss;
    }
  graft_loss_plot_append_many (self->plot, self->train_series, x, y, n);
  self->seen_steps = steps->len;
}

/* Validation points sit at the step count when their epoch ended; each
 * stage is a marker named after the block it unfroze. */
static void
take_epochs_and_stages (GraftTrainPage *self)
{
  GPtrArray *epochs = graft_run_get_epochs (self->run);
  GPtrArray *stages = graft_run_get_stages (self->run);

  for (; self->seen_epochs < epochs->len; self->seen_epochs++)
    {
      const GraftEpochReport *r = epochs->pdata[self->seen_epochs];
      graft_loss_plot_append (self->plot, self->val_loss_series, r->step,
                              r->val_loss);
      graft_loss_plot_append (self->plot, self->val_accuracy_series, r->step,
                              r->val_accuracy);
    }
  for (; self->seen_stages < stages->len; self->seen_stages++)
    {
      const GraftStageEvent *s = stages->pdata[self->seen_stages];
      /* "block 4 · residual · 3 conv": the marker says "block 4", as the
       * Backbone page's strip does; the log keeps the whole name. */
      g_autofree char *label = g_strdup (s->block);
      char *rest = strstr (label, " · ");

      if (rest != NULL)
        *rest = '\0';
      graft_loss_plot_add_marker (self->plot, s->step, label);
    }
}

/* ---- The run: words ------------------------------------------------------------- */

static void
show_progress (GraftTrainPage *self)
{
  g_autofree char *text = NULL;

  if (self->run == NULL)
    {
      gtk_progress_bar_set_fraction (self->progress, 0);
      gtk_progress_bar_set_text (self->progress, _("Not started"));
      return;
    }
  text = describe_progress (self->run);
  gtk_progress_bar_set_fraction (self->progress,
                                 graft_run_get_progress (self->run));
  gtk_progress_bar_set_text (self->progress, text);
}

/* A run that has ended can be tried and exported, and a stopped one
 * resumed, through the window's actions on its folder (the Compare
 * page's rows use the same). */
static void
show_run_actions (GraftTrainPage *self, GraftRunState state)
{
  gboolean ended = self->run != NULL && (state == GRAFT_RUN_STATE_FINISHED
                                         || state == GRAFT_RUN_STATE_STOPPED);
  GtkWidget *buttons[] = { self->details_button, self->export_button,
                           self->resume_button };

  for (guint i = 0; i < G_N_ELEMENTS (buttons); i++)
    {
      /* Resuming starts from the last finished epoch's checkpoint: a
       * run stopped during its first epoch has none. */
      gboolean shown = buttons[i] == self->resume_button
        ? self->run != NULL && state == GRAFT_RUN_STATE_STOPPED
          && graft_run_get_epochs (self->run)->len > 0
        : ended;

      gtk_widget_set_visible (buttons[i], shown);
      if (shown)
        gtk_actionable_set_action_target_value
          (GTK_ACTIONABLE (buttons[i]),
           g_variant_new_string (graft_run_get_dir (self->run)));
    }
}

static void
show_state (GraftTrainPage *self)
{
  GraftRunState state = self->run != NULL ? graft_run_get_state (self->run)
    : GRAFT_RUN_STATE_READY;
  g_autofree char *text = describe_state (self->run);

  gtk_label_set_text (self->status, text);
  gtk_button_set_label (self->pause_button, state == GRAFT_RUN_STATE_PAUSED
                        ? _("Resume") : _("Pause"));
  gtk_widget_set_sensitive (self->settings,
                            self->run == NULL || !is_active (state));
  show_run_actions (self, state);
  show_progress (self);
}

static void
log_line (GraftTrainPage *self, const char *line)
{
  graft_event_log_append (self->log, line);
}

static void
log_started (GraftTrainPage *self)
{
  const GraftRunConfig *config = graft_run_get_config (self->run);
  GraftBackbone *backbone = graft_project_get_backbone (self->project);
  g_autofree char *name = backbone != NULL
    ? g_strdup (graft_backbone_get_name (backbone))
    : g_path_get_basename (config->backbone);
  g_autofree char *line = g_strdup_printf
    (_("Run started — %s, backbone %s, %u pictures"),
     mode_title (self, config->mode), name,
     graft_project_get_n_pictures (self->project));

  log_line (self, line);
}

static void
log_stage (GraftTrainPage *self, const GraftStageEvent *stage)
{
  g_autofree char *line = stage->epoch == 0
    ? g_strdup_printf (_("Stage: %s — %s"), stage->block, stage->reason)
    : g_strdup_printf (_("After epoch %u: unfroze %s — %s"), stage->epoch,
                       stage->block, stage->reason);

  log_line (self, line);
}

static const GraftEpochReport *
find_epoch (GraftRun *run, guint epoch)
{
  GPtrArray *epochs = graft_run_get_epochs (run);

  for (guint i = epochs->len; i > 0; i--)
    if (((const GraftEpochReport *) epochs->pdata[i - 1])->epoch == epoch)
      return epochs->pdata[i - 1];
  return NULL;
}

static void
log_notice (GraftTrainPage *self, const GraftRunNotice *notice)
{
  const GraftEpochReport *r = find_epoch (self->run, notice->epoch);
  g_autofree char *line = NULL;

  switch (notice->kind)
    {
    case GRAFT_RUN_NOTICE_BEST_EPOCH:
      line = r == NULL ? g_strdup_printf (_("Epoch %u: best so far"),
                                          notice->epoch)
        : g_strdup_printf (_("Epoch %u: best so far — validation loss %.2f, "
                             "accuracy %.0f %%"), r->epoch, r->val_loss,
                           PERCENT * r->val_accuracy);
      break;
    case GRAFT_RUN_NOTICE_EARLY_STOP:
      line = g_strdup_printf (_("Stopped early: %s"), notice->message);
      break;
    case GRAFT_RUN_NOTICE_RESUMED:
      line = g_strdup_printf (_("Resumed from epoch %u’s checkpoint"),
                              notice->epoch);
      break;
    case GRAFT_RUN_NOTICE_LOST:
      /* Translators: %s is a picture's path, a colon and why it could
       * not be read. */
      line = g_strdup_printf (_("Left out a picture that can no longer be "
                                "read — %s; training goes on without it"),
                              notice->message);
      break;
    case GRAFT_RUN_NOTICE_NAN_STOP:
    default:
      line = g_strdup_printf (_("Stopped: %s"), notice->message);
      break;
    }
  log_line (self, line);
}

static void
log_ended (GraftTrainPage *self)
{
  g_autofree char *line = NULL;

  switch (graft_run_get_state (self->run))
    {
    case GRAFT_RUN_STATE_FINISHED:
      line = describe_finished (self->run);
      break;
    case GRAFT_RUN_STATE_STOPPED:
      line = g_strdup (_("Training stopped"));
      break;
    case GRAFT_RUN_STATE_FAILED:
      line = g_strdup_printf (_("Training failed: %s"),
                              graft_run_get_message (self->run));
      break;
    default:
      return;
    }
  log_line (self, line);
}

/* ---- The run: following it ------------------------------------------------------- */

/* The run's points, all of them again if the finder's curve replaced
 * them. */
static void
take_points (GraftTrainPage *self)
{
  if (self->plot_shows_finder)
    reset_plot (self);
  take_steps (self);
  take_epochs_and_stages (self);
}

static void
on_run_updated (GraftRun *run, GraftTrainPage *self)
{
  take_points (self);
  show_progress (self);
}

static void
on_run_stage (GraftRun *run, guint epoch, guint step, const char *block,
              const char *reason, GraftTrainPage *self)
{
  GPtrArray *stages = graft_run_get_stages (run);

  log_stage (self, stages->pdata[stages->len - 1]);
}

static void
on_run_notice (GraftRun *run, GraftRunNoticeKind kind, const char *message,
               GraftTrainPage *self)
{
  GPtrArray *notices = graft_run_get_notices (run);

  log_notice (self, notices->pdata[notices->len - 1]);
}

static void
on_run_state (GraftRun *run, GParamSpec *pspec, GraftTrainPage *self)
{
  GraftRunState state = graft_run_get_state (run);

  if (state == GRAFT_RUN_STATE_PAUSED)
    log_line (self, _("Paused"));
  else if (state == GRAFT_RUN_STATE_RUNNING
           && self->last_state == GRAFT_RUN_STATE_PAUSED)
    log_line (self, _("Resumed"));
  self->last_state = state;
  show_state (self);
}

/* After the last events, in the same dispatch: the log's last line.
 * Connected swapped to "finished" and to "failed" (which also carries
 * the message): only the page is taken. */
static void
on_run_ended (GraftTrainPage *self)
{
  take_points (self);
  log_ended (self);
  show_state (self);
  if (self->estimate_dirty && !self->estimating)
    start_estimate (self);
}

static void
connect_run (GraftTrainPage *self)
{
  g_signal_connect_object (self->run, "updated",
                           G_CALLBACK (on_run_updated), self, 0);
  g_signal_connect_object (self->run, "stage",
                           G_CALLBACK (on_run_stage), self, 0);
  g_signal_connect_object (self->run, "notice",
                           G_CALLBACK (on_run_notice), self, 0);
  g_signal_connect_object (self->run, "notify::state",
                           G_CALLBACK (on_run_state), self, 0);
  g_signal_connect_object (self->run, "notify::progress",
                           G_CALLBACK (show_progress), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->run, "notify::eta",
                           G_CALLBACK (show_progress), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->run, "finished",
                           G_CALLBACK (on_run_ended), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->run, "failed",
                           G_CALLBACK (on_run_ended), self,
                           G_CONNECT_SWAPPED);
}

/* A run joined in its middle: what it has told so far. */
static void
replay_run (GraftTrainPage *self)
{
  GPtrArray *stages = graft_run_get_stages (self->run);
  GPtrArray *notices = graft_run_get_notices (self->run);

  for (guint i = 0; i < stages->len; i++)
    log_stage (self, stages->pdata[i]);
  for (guint i = 0; i < notices->len; i++)
    log_notice (self, notices->pdata[i]);
  take_steps (self);
  take_epochs_and_stages (self);
  if (!is_active (graft_run_get_state (self->run)))
    log_ended (self);
}

/* A new run: a clean plot and log. */
static void
follow_run (GraftTrainPage *self)
{
  GraftRun *run = graft_project_get_run (self->project);

  if (run == self->run)
    return;
  /* The run has the machine, and the plot. */
  if (run != NULL && self->find_cancellable != NULL)
    g_cancellable_cancel (self->find_cancellable);
  if (self->run != NULL)
    g_signal_handlers_disconnect_by_data (self->run, self);
  g_set_object (&self->run, run);
  reset_plot (self);
  graft_event_log_clear (self->log);
  if (self->run != NULL)
    {
      self->last_state = graft_run_get_state (self->run);
      connect_run (self);
      log_started (self);
      replay_run (self);
    }
  show_state (self);
}

/* ---- The learning-rate finder ------------------------------------------------------ */

static void
show_finding (GraftTrainPage *self, gboolean finding)
{
  gtk_button_set_label (self->find_lr_button, finding ? _("Cancel")
                        : _("Find Learning Rate"));
  gtk_progress_bar_set_fraction (self->find_lr_progress, 0);
  gtk_widget_set_visible (GTK_WIDGET (self->find_lr_progress), finding);
}

static void
on_find_progress (double fraction, gpointer data)
{
  GraftTrainPage *self = data;

  if (self->find_cancellable != NULL)
    gtk_progress_bar_set_fraction (self->find_lr_progress, fraction);
}

/* The smoothed loss (the suggestion is read off it) by rate, on a log
 * axis, the suggestion marked. */
static void
show_lr_curve (GraftTrainPage *self, const GraftLrResult *result)
{
  guint n = result->points->len, series;
  g_autofree double *x = g_new (double, n);
  g_autofree double *y = g_new (double, n);
  g_autofree char *marker = g_strdup_printf (_("Suggested %g"),
                                             result->suggested_lr);

  for (guint i = 0; i < n; i++)
    {
      x[i] = g_array_index (result->points, GraftLrPoint, i).lr;
      y[i] = g_array_index (result->points, GraftLrPoint, i).smoothed;
    }
  graft_loss_plot_clear (self->plot);
  graft_loss_plot_set_log_x (self->plot, TRUE);
  graft_loss_plot_set_x_label (self->plot, _("Learning rate"));
  series = graft_loss_plot_add_series (self->plot, _("Loss by learning rate"),
                                       GRAFT_PLOT_AXIS_LOSS,
                                       GRAFT_PLOT_STYLE_LINE, NULL);
  graft_loss_plot_append_many (self->plot, series, x, y, n);
  graft_loss_plot_add_marker (self->plot, result->suggested_lr, marker);
  self->plot_shows_finder = TRUE;
}

static void
take_suggestion (GraftTrainPage *self, const GraftLrResult *result)
{
  const char *why = result->rule == GRAFT_LR_RULE_STEEPEST
    ? _("steepest fall of the loss")
    : _("a tenth of the rate at the lowest loss");
  /* Translators: "Suggested learning rate: 0.003 (steepest fall of the
   * loss)". */
  g_autofree char *line = g_strdup_printf (_("Suggested learning rate: %g "
                                             "(%s)"), result->suggested_lr,
                                           why);

  show_lr_curve (self, result);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (control_of (self, "lr")),
                             result->suggested_lr);
  log_line (self, line);
}

static void
on_lr_found (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GraftTrainPage) self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftLrResult) result = graft_lr_find_finish (res, &error);
  g_autofree char *line = NULL;

  if (self->find_cancellable == NULL)
    return;   /* the page is gone */
  g_clear_object (&self->find_cancellable);
  show_finding (self, FALSE);
  /* A run that started meanwhile has the settings and the plot. */
  if (result != NULL && !run_is_active (self))
    take_suggestion (self, result);
  else if (result != NULL
           || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    log_line (self, _("Learning-rate finder cancelled"));
  else
    {
      line = g_strdup_printf (_("Learning-rate finder failed: %s"),
                              error->message);
      log_line (self, line);
    }
  if (self->estimate_dirty && !self->estimating && !machine_busy (self))
    start_estimate (self);
}

/* Starts the finder on the settings shown, or cancels it. */
static void
on_find_lr_clicked (GraftTrainPage *self)
{
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;

  if (self->find_cancellable != NULL)
    {
      g_cancellable_cancel (self->find_cancellable);
      return;
    }
  config = graft_train_page_build_config (self, &error);
  if (config == NULL)
    {
      line = g_strdup_printf (_("Cannot find a learning rate: %s"),
                              error->message);
      log_line (self, line);
      return;
    }
  self->find_cancellable = g_cancellable_new ();
  show_finding (self, TRUE);
  log_line (self, _("Finding a learning rate…"));
  graft_lr_find_async (config, on_find_progress, self, NULL,
                       self->find_cancellable, on_lr_found,
                       g_object_ref (self));
}

/* ---- The project ---------------------------------------------------------------- */

static void
on_project_mode (GraftTrainPage *self)
{
  show_mode (self);
}

static void
on_project_unfreeze (GraftTrainPage *self)
{
  show_unfreeze (self);
  schedule_estimate (self);
}

static void
on_project_data (GraftTrainPage *self)
{
  show_output_choices (self);
  show_unfreeze (self);
  schedule_estimate (self);
}

void
graft_train_page_set_project (GraftTrainPage *self, GraftProject *project)
{
  g_return_if_fail (GRAFT_IS_TRAIN_PAGE (self));
  g_return_if_fail (self->project == NULL);

  self->project = g_object_ref (project);
  g_signal_connect_object (project, "notify::mode",
                           G_CALLBACK (on_project_mode), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (project, "notify::unfreeze",
                           G_CALLBACK (on_project_unfreeze), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (project, "notify::backbone",
                           G_CALLBACK (on_project_data), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (project, "notify::scan",
                           G_CALLBACK (on_project_data), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (graft_project_get_classes (project),
                           "items-changed", G_CALLBACK (on_project_data),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (project, "notify::run", G_CALLBACK (follow_run),
                           self, G_CONNECT_SWAPPED);
  show_mode (self);
  on_project_data (self);
  follow_run (self);
}

/* ---- Accessors ------------------------------------------------------------------- */

GraftLossPlot *
graft_train_page_get_plot (GraftTrainPage *self)
{
  g_return_val_if_fail (GRAFT_IS_TRAIN_PAGE (self), NULL);
  return self->plot;
}

char **
graft_train_page_get_log (GraftTrainPage *self)
{
  g_return_val_if_fail (GRAFT_IS_TRAIN_PAGE (self), NULL);
  return graft_event_log_get_lines (self->log);
}

const char *
graft_train_page_get_estimate (GraftTrainPage *self, GraftRunMode mode)
{
  g_return_val_if_fail (GRAFT_IS_TRAIN_PAGE (self), NULL);
  g_return_val_if_fail (mode < N_MODES, NULL);
  return gtk_label_get_text (self->estimate_labels[mode]);
}

const char *
graft_train_page_get_recommendation (GraftTrainPage *self)
{
  g_return_val_if_fail (GRAFT_IS_TRAIN_PAGE (self), NULL);
  return gtk_label_get_text (self->recommendation_title);
}

const char *
graft_train_page_get_status (GraftTrainPage *self)
{
  g_return_val_if_fail (GRAFT_IS_TRAIN_PAGE (self), NULL);
  return gtk_label_get_text (self->status);
}

const char *
graft_train_page_get_progress_text (GraftTrainPage *self)
{
  g_return_val_if_fail (GRAFT_IS_TRAIN_PAGE (self), NULL);
  return gtk_progress_bar_get_text (self->progress);
}

/* ---- GObject ------------------------------------------------------------------- */

static void
graft_train_page_dispose (GObject *object)
{
  GraftTrainPage *self = GRAFT_TRAIN_PAGE (object);

  g_cancellable_cancel (self->estimate_cancellable);
  g_clear_handle_id (&self->estimate_source, g_source_remove);
  /* Its callback holds the page, and finds it gone by this. */
  if (self->find_cancellable != NULL)
    g_cancellable_cancel (self->find_cancellable);
  g_clear_object (&self->find_cancellable);
  if (self->run != NULL)
    g_signal_handlers_disconnect_by_data (self->run, self);
  g_clear_object (&self->run);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_TRAIN_PAGE);
  g_clear_object (&self->project);
  G_OBJECT_CLASS (graft_train_page_parent_class)->dispose (object);
}

static void
graft_train_page_finalize (GObject *object)
{
  GraftTrainPage *self = GRAFT_TRAIN_PAGE (object);

  g_clear_object (&self->estimate_cancellable);
  G_OBJECT_CLASS (graft_train_page_parent_class)->finalize (object);
}

/* Template children kept in an array: "NAME_SUFFIX" for each mode. */
static void
bind_per_mode (GtkWidgetClass *widget_class, const char *suffix,
               gssize offset)
{
  static const char *const names[N_MODES] = {
    "extract", "finetune", "progressive"
  };

  for (guint m = 0; m < N_MODES; m++)
    {
      g_autofree char *id = g_strconcat (names[m], suffix, NULL);
      gtk_widget_class_bind_template_child_full
        (widget_class, g_intern_string (id), FALSE,
         offset + m * sizeof (gpointer));
    }
}

#define BIND(name) \
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, name)

static void
graft_train_page_class_init (GraftTrainPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_train_page_dispose;
  object_class->finalize = graft_train_page_finalize;
  g_type_ensure (GRAFT_TYPE_LOSS_PLOT);
  g_type_ensure (GRAFT_TYPE_EVENT_LOG);
  gtk_widget_class_set_template_from_resource
    (widget_class, "/io/github/graft/Graft/graft-train-page.ui");
  BIND (settings);
  BIND (recommendation_title);
  BIND (recommendation_reason);
  bind_per_mode (widget_class, "_row",
                 G_STRUCT_OFFSET (GraftTrainPage, mode_rows));
  bind_per_mode (widget_class, "_toggle",
                 G_STRUCT_OFFSET (GraftTrainPage, mode_toggles));
  bind_per_mode (widget_class, "_estimate",
                 G_STRUCT_OFFSET (GraftTrainPage, estimate_labels));
  BIND (unfreeze_group);
  BIND (unfreeze_all_switch);
  BIND (unfreeze_row);
  BIND (unfreeze_spin);
  BIND (epochs_row);
  BIND (momentum_row);
  BIND (find_lr_button);
  BIND (find_lr_progress);
  BIND (settings_button);
  BIND (pause_button);
  BIND (details_button);
  BIND (export_button);
  BIND (resume_button);
  BIND (status);
  BIND (progress);
  BIND (plot);
  BIND (log_scale);
  BIND (smoothing);
  BIND (log);
  /* The table's controls are found by name (offset 0: not stored), and
   * so are the buttons, by tests. */
  for (guint i = 0; i < N_FIELDS; i++)
    gtk_widget_class_bind_template_child_full (widget_class, fields[i].id,
                                               FALSE, 0);
  gtk_widget_class_bind_template_child_full (widget_class, "start_button",
                                             FALSE, 0);
  gtk_widget_class_bind_template_child_full (widget_class, "stop_button",
                                             FALSE, 0);
  gtk_widget_class_bind_template_callback (widget_class, on_mode_toggled);
  gtk_widget_class_bind_template_callback (widget_class,
                                           on_unfreeze_changed);
  gtk_widget_class_bind_template_callback (widget_class,
                                           on_find_lr_clicked);
}

static void
connect_controls (GraftTrainPage *self)
{
  for (guint i = 0; i < N_FIELDS; i++)
    {
      GtkWidget *control = GTK_WIDGET (gtk_widget_get_template_child
        (GTK_WIDGET (self), GRAFT_TYPE_TRAIN_PAGE, fields[i].id));

      /* Its accessible name is its row's title: AdwActionRow labels
       * its activatable widget with it. */
      self->controls[i] = control;
      if (GTK_IS_SPIN_BUTTON (control))
        g_signal_connect (control, "value-changed",
                          G_CALLBACK (on_spin_changed), self);
      else
        g_signal_connect (control, fields[i].kind == FIELD_ENUM
                          ? "notify::selected" : "notify::active",
                          G_CALLBACK (on_property_changed), self);
    }
}

static void
bind_view_controls (GraftTrainPage *self)
{
  GBindingFlags flags = G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE;

  g_object_bind_property (self->flap, "reveal-flap", self->settings_button,
                          "active", flags);
  g_object_bind_property (self->flap, "folded", self->settings_button,
                          "visible", G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->plot, "log-scale", self->log_scale,
                          "active", flags);
  g_object_bind_property (self->plot, "smoothing",
                          gtk_range_get_adjustment (GTK_RANGE
                                                    (self->smoothing)),
                          "value", flags);
}

static void
graft_train_page_init (GraftTrainPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  /* Not a bound template child: gtk_widget_dispose_template would
   * unparent it behind AdwBin's back, which then unparents it again. */
  self->flap = ADW_FLAP (adw_bin_get_child (ADW_BIN (self)));
  self->estimate_cancellable = g_cancellable_new ();
  connect_controls (self);
  bind_view_controls (self);
  show_output_choices (self);
  show_mode_defaults (self, GRAFT_RUN_MODE_EXTRACT);
  update_sensitivity (self);
  reset_plot (self);
  show_state (self);
}
