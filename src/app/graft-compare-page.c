/* graft-compare-page.c: the Compare stage's run list and plot.
 *
 * The page is a view of the project's GraftRunList: the list box is bound
 * to it, and which runs are ticked is kept by folder, so that a run read
 * again (a finished run refreshed, a reload) stays ticked.  Every view
 * is rebuilt from the ticked records on the main thread; none of them
 * reads a file: the records hold what run.json said, and predictions
 * come from a worker (graft_run_record_ensure_predictions). */
#define G_LOG_DOMAIN "graft-compare-page"

#include "graft-compare-page-private.h"

#include <glib/gi18n.h>

#include "graft-run-list.h"
#include "graft-window.h"

G_DEFINE_FINAL_TYPE (GraftComparePage, graft_compare_page, GTK_TYPE_WIDGET)

/* GNOME's palette: mid shades on light styles, lighter ones on dark (as
 * the loss plot's own, so that a run's colour reads on both). */
static const char *const palette_light[] = {
  "#3584e4", "#e66100", "#26a269", "#9141ac", "#e01b24", "#986a44",
};
static const char *const palette_dark[] = {
  "#62a0ea", "#ffa348", "#57e389", "#c061cb", "#f66151", "#cdab8f",
};

/* A toast with an undo button stays long enough to find the button. */
#define UNDO_TOAST_SECONDS 10
/* A switch is shorter than the name's field beside it. */
#define ROW_TICK_MARGIN 5

void
graft_compare_page_run_color (guint index, GdkRGBA *color)
{
  gboolean dark = adw_style_manager_get_dark (adw_style_manager_get_default ());
  const char *const *palette = dark ? palette_dark : palette_light;

  gdk_rgba_parse (color, palette[index % G_N_ELEMENTS (palette_light)]);
}

const char *
graft_compare_page_mode_name (GraftRunMode mode)
{
  switch (mode)
    {
    case GRAFT_RUN_MODE_FINETUNE: return _("Fine-tuning");
    case GRAFT_RUN_MODE_PROGRESSIVE: return _("Progressive unfreezing");
    case GRAFT_RUN_MODE_EXTRACT:
    default: return _("Feature extraction");
    }
}

GPtrArray *
graft_compare_page_ticked_records (GraftComparePage *self)
{
  GPtrArray *records = g_ptr_array_new ();

  for (guint i = 0; self->runs != NULL && i < self->ticked->len; i++)
    {
      GraftRunRecord *record = graft_run_list_find
        (GRAFT_RUN_LIST (self->runs), self->ticked->pdata[i]);
      if (record != NULL)
        g_ptr_array_add (records, record);
    }
  return records;
}

/* ---- The plot ------------------------------------------------------------------ */

static void
plot_run (GraftComparePage *self, GraftRunRecord *record, guint index,
          GraftRunAxis axis)
{
  const char *name = graft_run_record_get_name (record);
  g_autofree char *train = g_strdup_printf (_("%s · training"), name);
  g_autofree char *val = g_strdup_printf (_("%s · validation"), name);
  GdkRGBA color;

  graft_compare_page_run_color (index, &color);
  for (int validation = 0; validation <= 1; validation++)
    {
      g_autofree double *x = NULL, *y = NULL;
      gsize n = graft_run_record_get_curve (record, axis, validation, &x, &y);
      guint series = graft_loss_plot_add_series
        (self->plot, validation ? val : train, GRAFT_PLOT_AXIS_LOSS,
         validation ? GRAFT_PLOT_STYLE_EPOCHS : GRAFT_PLOT_STYLE_STEPS,
         &color);

      graft_loss_plot_append_many (self->plot, series, x, y, n);
    }
}

static void
refresh_plot (GraftComparePage *self, GPtrArray *records)
{
  static const char *const x_labels[] = {
    N_("Epoch"), N_("Step"), N_("Seconds"),
  };
  GraftRunAxis axis = gtk_drop_down_get_selected (self->axis);

  if (axis > GRAFT_RUN_AXIS_TIME)
    axis = GRAFT_RUN_AXIS_EPOCH;
  graft_loss_plot_clear (self->plot);
  graft_loss_plot_set_x_label (self->plot, _(x_labels[axis]));
  for (guint i = 0; i < records->len; i++)
    plot_run (self, records->pdata[i], i, axis);
}

static void
refresh_views (GraftComparePage *self)
{
  g_autoptr (GPtrArray) records = graft_compare_page_ticked_records (self);
  gboolean any = records->len > 0;

  gtk_widget_set_visible (GTK_WIDGET (self->hint), !any);
  gtk_widget_set_visible (self->plot_controls, any);
  gtk_widget_set_visible (self->plot_frame, any);
  gtk_widget_set_visible (self->tables, any);
  refresh_plot (self, records);
  graft_compare_page_refresh_table (self, records);
  graft_compare_page_refresh_classes (self, records);
  graft_compare_page_refresh_matrices (self, records);
  graft_compare_page_refresh_cell (self);
  graft_compare_page_refresh_changed (self, records);
}

/* ---- Ticking, renaming, deleting --------------------------------------------- */

static gboolean
is_ticked (GraftComparePage *self, const char *dir)
{
  for (guint i = 0; i < self->ticked->len; i++)
    if (g_str_equal (self->ticked->pdata[i], dir))
      return TRUE;
  return FALSE;
}

static void
set_ticked (GraftComparePage *self, const char *dir, gboolean ticked)
{
  if (ticked == is_ticked (self, dir))
    return;
  if (ticked)
    g_ptr_array_add (self->ticked, g_strdup (dir));
  for (guint i = 0; !ticked && i < self->ticked->len; i++)
    if (g_str_equal (self->ticked->pdata[i], dir))
      g_ptr_array_remove_index (self->ticked, i);
  refresh_views (self);
}

static void
on_switch_active (GtkSwitch *tick, GParamSpec *pspec, GraftComparePage *self)
{
  GraftRunRecord *record = g_object_get_data (G_OBJECT (tick), "record");

  set_ticked (self, graft_run_record_get_dir (record),
              gtk_switch_get_active (tick));
}

/* The name is kept when the user presses Enter or leaves the field. */
static void
commit_name (GtkEntry *entry, GraftRunRecord *record)
{
  graft_run_record_set_name (record, gtk_editable_get_text
                             (GTK_EDITABLE (entry)));
  /* An empty name went back to the folder's: show what was kept. */
  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (entry)),
                 graft_run_record_get_name (record)) != 0)
    gtk_editable_set_text (GTK_EDITABLE (entry),
                           graft_run_record_get_name (record));
}

static void
on_name_focus_leave (GtkEventControllerFocus *focus, GraftRunRecord *record)
{
  commit_name (GTK_ENTRY (gtk_event_controller_get_widget
                          (GTK_EVENT_CONTROLLER (focus))), record);
}

static void
on_toast_undo (AdwToast *toast, GraftRunList *runs)
{
  g_object_set_data (G_OBJECT (toast), "undone", GINT_TO_POINTER (TRUE));
  graft_run_list_untrash (runs, g_object_get_data (G_OBJECT (toast),
                                                   "record"));
}

static void
on_toast_dismissed (AdwToast *toast, GraftRunList *runs)
{
  if (g_object_get_data (G_OBJECT (toast), "undone") == NULL)
    graft_run_list_purge (runs, g_object_get_data (G_OBJECT (toast),
                                                   "record"));
}

static void
on_delete_clicked (GtkButton *button, GraftComparePage *self)
{
  GraftRunRecord *record = g_object_get_data (G_OBJECT (button), "record");
  g_autofree char *title = g_strdup_printf (_("Run “%s” deleted"),
                                            graft_run_record_get_name (record));
  g_autofree char *escaped = g_markup_escape_text (title, -1);
  AdwToast *toast = adw_toast_new (escaped);

  adw_toast_set_button_label (toast, _("_Undo"));
  adw_toast_set_timeout (toast, UNDO_TOAST_SECONDS);
  g_object_set_data_full (G_OBJECT (toast), "record",
                          g_object_ref (record), g_object_unref);
  g_signal_connect_object (toast, "button-clicked",
                           G_CALLBACK (on_toast_undo), self->runs, 0);
  g_signal_connect_object (toast, "dismissed",
                           G_CALLBACK (on_toast_dismissed), self->runs, 0);
  graft_run_list_trash (GRAFT_RUN_LIST (self->runs), record);
  graft_toast_add (GTK_WIDGET (self), toast);
}

/* ---- One row of the list ------------------------------------------------------------ */

static char *
describe_run (GraftRunRecord *record)
{
  const GraftEpochReport *best = graft_run_record_get_best (record);
  g_autofree char *date = g_date_time_format
    (graft_run_record_get_date (record), _("%-d %b %Y, %H:%M"));
  const char *mode = graft_compare_page_mode_name
    (graft_run_record_get_mode (record));

  if (best == NULL)
    return g_strdup_printf (_("%s · %s · no epoch yet"), mode, date);
  /* Translators: mode · date · best validation accuracy. */
  return g_strdup_printf (_("%s · %s · %.1f %%"), mode, date,
                          100 * best->val_accuracy);
}

/* How the run ended, in a word, for runs that did not finish; NULL for
 * finished ones.  A "running" run nobody trains any more crashed (or its
 * Graft was killed): it says so rather than claim to run. */
static const char *
run_status (GraftRunRecord *record)
{
  const char *status = graft_run_record_get_status (record);

  if (graft_run_record_get_interrupted (record))
    return _("Interrupted");
  if (g_str_equal (status, "running"))
    return _("Training");
  if (g_str_equal (status, "stopped"))
    return _("Stopped");
  if (g_str_equal (status, "failed"))
    return _("Failed");
  return NULL;
}

/* Names the row's control @key (when it has one) @label, which it frees. */
static void
name_control (GtkWidget *row, const char *key, char *label)
{
  GtkWidget *control = g_object_get_data (G_OBJECT (row), key);

  if (control != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (control),
                                    GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  g_free (label);
}

/* The names a screen reader gives the row's controls follow the run's;
 * so does the name field's tooltip, which shows a name too long for the
 * field whole. */
static void
name_row_controls (GtkWidget *row, GParamSpec *pspec, GraftRunRecord *record)
{
  const char *name = graft_run_record_get_name (record);
  GtkWidget *entry = g_object_get_data (G_OBJECT (row), "name");
  g_autofree char *tooltip = g_strdup_printf
    (_("%s\nType a new name and press Enter"), name);

  name_control (row, "tick", g_strdup_printf (_("Compare run %s"), name));
  name_control (row, "delete", g_strdup_printf (_("Delete run %s"), name));
  name_control (row, "name", g_strdup_printf (_("Name of run %s"), name));
  name_control (row, "details", g_strdup_printf (_("Try run %s"), name));
  name_control (row, "export", g_strdup_printf (_("Export run %s"), name));
  name_control (row, "resume", g_strdup_printf (_("Resume run %s"), name));
  gtk_widget_set_tooltip_text (entry, tooltip);
  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (entry)), name))
    gtk_editable_set_text (GTK_EDITABLE (entry), name);
}

static GtkWidget *
caption (const char *text, const char *css_class)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_widget_add_css_class (label, "caption");
  gtk_widget_add_css_class (label, css_class);
  return label;
}

/* The name, editable in place (a frameless entry: GTK 4.8's
 * GtkEditableLabel, once edited, fails when its row is destroyed), then
 * how the run ended when it did not finish, and what the run was. */
static GtkWidget *
row_text (GraftRunRecord *record, GtkWidget *row)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *name = gtk_entry_new ();
  GtkEventController *focus = gtk_event_controller_focus_new ();
  g_autofree char *about = describe_run (record);
  const char *status = run_status (record);

  gtk_entry_set_has_frame (GTK_ENTRY (name), FALSE);
  gtk_editable_set_width_chars (GTK_EDITABLE (name), 12);
  gtk_editable_set_text (GTK_EDITABLE (name),
                         graft_run_record_get_name (record));
  g_signal_connect_object (name, "activate", G_CALLBACK (commit_name),
                           record, 0);
  g_signal_connect_object (focus, "leave", G_CALLBACK (on_name_focus_leave),
                           record, 0);
  gtk_widget_add_controller (name, focus);
  gtk_box_append (GTK_BOX (box), name);
  if (status != NULL)
    {
      GtkWidget *label = caption (status, "heading");

      if (graft_run_record_get_resumable (record))
        gtk_widget_set_tooltip_text (label, _("Resume it to train on from "
                                              "its last saved epoch"));
      if (graft_run_record_get_interrupted (record)
          || g_str_equal (graft_run_record_get_status (record), "failed"))
        gtk_widget_add_css_class (label, "warning");
      gtk_box_append (GTK_BOX (box), label);
    }
  gtk_box_append (GTK_BOX (box), caption (about, "dim-label"));
  g_object_set_data (G_OBJECT (row), "name", name);
  return box;
}

/* A flat icon button running the window's action @action on the run. */
static GtkWidget *
row_action_button (const char *icon, const char *tooltip, const char *action,
                   GraftRunRecord *record)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);

  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action);
  gtk_actionable_set_action_target_value
    (GTK_ACTIONABLE (button),
     g_variant_new_string (graft_run_record_get_dir (record)));
  return button;
}

static void
add_row_button (GtkWidget *row, GtkWidget *buttons, const char *key,
                GtkWidget *button)
{
  gtk_box_append (GTK_BOX (buttons), button);
  g_object_set_data (G_OBJECT (row), key, button);
}

/* The row's buttons go under its text, not beside it: the list stays
 * narrow enough for the page to fit an 800-pixel-wide window, and the
 * name keeps the row's width. */
static GtkWidget *
row_buttons (GraftComparePage *self, GraftRunRecord *record, GtkWidget *row)
{
  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 2);
  GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");

  if (graft_run_record_get_resumable (record))
    add_row_button (row, buttons, "resume", row_action_button
                    ("media-playback-start-symbolic",
                     _("Resume training from the last saved epoch"),
                     "win.resume-run", record));
  add_row_button (row, buttons, "details", row_action_button
                  ("image-x-generic-symbolic",
                   _("Try the run on pictures, see its mistakes"),
                   "win.run-details", record));
  add_row_button (row, buttons, "export", row_action_button
                  ("document-save-symbolic",
                   _("Export the model, curves or plot"),
                   "win.export-run", record));
  gtk_widget_add_css_class (remove, "flat");
  gtk_widget_set_tooltip_text (remove, _("Delete the run"));
  g_object_set_data_full (G_OBJECT (remove), "record", g_object_ref (record),
                          g_object_unref);
  g_signal_connect_object (remove, "clicked",
                           G_CALLBACK (on_delete_clicked), self, 0);
  add_row_button (row, buttons, "delete", remove);
  return buttons;
}

static GtkWidget *
create_row (gpointer item, gpointer user_data)
{
  GraftComparePage *self = user_data;
  GraftRunRecord *record = item;
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 10);
  GtkWidget *column = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  GtkWidget *tick = gtk_switch_new ();

  gtk_widget_set_margin_top (row, 4);
  gtk_widget_set_margin_bottom (row, 4);
  /* Level with the name, the line that says which run it ticks. */
  gtk_widget_set_valign (tick, GTK_ALIGN_START);
  gtk_widget_set_margin_top (tick, ROW_TICK_MARGIN);
  gtk_switch_set_active (GTK_SWITCH (tick),
                         is_ticked (self, graft_run_record_get_dir (record)));
  g_object_set_data_full (G_OBJECT (tick), "record", g_object_ref (record),
                          g_object_unref);
  g_signal_connect_object (tick, "notify::active",
                           G_CALLBACK (on_switch_active), self, 0);
  gtk_widget_set_hexpand (column, TRUE);
  gtk_box_append (GTK_BOX (column), row_text (record, row));
  gtk_box_append (GTK_BOX (column), row_buttons (self, record, row));
  gtk_box_append (GTK_BOX (row), tick);
  gtk_box_append (GTK_BOX (row), column);
  g_object_set_data (G_OBJECT (row), "tick", tick);
  name_row_controls (row, NULL, record);
  g_signal_connect_object (record, "notify::name",
                           G_CALLBACK (name_row_controls), row,
                           G_CONNECT_SWAPPED);
  return row;
}

/* ---- Following the project ------------------------------------------------------------ */

static void
on_runs_changed (GListModel *runs, guint position, guint removed,
                 guint added, GraftComparePage *self)
{
  gtk_stack_set_visible_child_name (self->stack,
                                    g_list_model_get_n_items (runs) > 0
                                    ? "runs" : "empty");
  refresh_views (self);
}

static void
on_runs_failed (GraftRunList *runs, const char *message,
                GraftComparePage *self)
{
  graft_toast (GTK_WIDGET (self), "%s", message);
}

/* A renamed run changes the legend and the tables' headings. */
static void
on_record_renamed (GraftRunRecord *record, GParamSpec *pspec,
                   GraftComparePage *self)
{
  if (is_ticked (self, graft_run_record_get_dir (record)))
    refresh_views (self);
}

static void
watch_names (GListModel *runs, guint position, guint removed, guint added,
             GraftComparePage *self)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr (GraftRunRecord) record = g_list_model_get_item (runs, i);
      g_signal_connect_object (record, "notify::name",
                               G_CALLBACK (on_record_renamed), self, 0);
    }
}

void
graft_compare_page_set_project (GraftComparePage *self,
                                GraftProject *project)
{
  g_return_if_fail (GRAFT_IS_COMPARE_PAGE (self));
  g_return_if_fail (self->project == NULL);
  self->project = g_object_ref (project);
  self->runs = g_object_ref (graft_project_get_runs (project));
  gtk_list_box_bind_model (self->run_list, self->runs, create_row, self,
                           NULL);
  g_signal_connect_object (self->runs, "items-changed",
                           G_CALLBACK (watch_names), self, 0);
  g_signal_connect_object (self->runs, "items-changed",
                           G_CALLBACK (on_runs_changed), self, 0);
  g_signal_connect_object (self->runs, "failed",
                           G_CALLBACK (on_runs_failed), self, 0);
  watch_names (self->runs, 0, 0, g_list_model_get_n_items (self->runs),
               self);
  on_runs_changed (self->runs, 0, 0, 0, self);
}

/* ---- For tests ------------------------------------------------------------------------- */

GraftLossPlot *
graft_compare_page_get_plot (GraftComparePage *self)
{
  return self->plot;
}

guint
graft_compare_page_get_n_table_rows (GraftComparePage *self)
{
  return self->n_table_rows;
}

/* ---- GObject --------------------------------------------------------------------------- */

static void
graft_compare_page_dispose (GObject *object)
{
  GraftComparePage *self = GRAFT_COMPARE_PAGE (object);

  if (self->run_list != NULL)
    gtk_list_box_bind_model (self->run_list, NULL, NULL, NULL, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_COMPARE_PAGE);
  g_clear_object (&self->runs);
  g_clear_object (&self->project);
  g_clear_pointer (&self->watched, g_hash_table_unref);
  G_OBJECT_CLASS (graft_compare_page_parent_class)->dispose (object);
}

static void
graft_compare_page_finalize (GObject *object)
{
  GraftComparePage *self = GRAFT_COMPARE_PAGE (object);

  g_ptr_array_unref (self->ticked);
  g_free (self->cell_dir);
  G_OBJECT_CLASS (graft_compare_page_parent_class)->finalize (object);
}

#define BIND(name) \
  gtk_widget_class_bind_template_child (widget_class, GraftComparePage, name)

static void
graft_compare_page_class_init (GraftComparePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_compare_page_dispose;
  object_class->finalize = graft_compare_page_finalize;
  g_type_ensure (GRAFT_TYPE_LOSS_PLOT);
  gtk_widget_class_set_template_from_resource
    (widget_class, "/io/github/graft/Graft/graft-compare-page.ui");
  BIND (stack); BIND (run_list); BIND (hint); BIND (plot_controls);
  BIND (smoothing); BIND (axis); BIND (plot_frame); BIND (plot);
  BIND (tables); BIND (table); BIND (class_table); BIND (matrices);
  BIND (cell_box); BIND (cell_title); BIND (cell_status);
  BIND (cell_pictures); BIND (changed_box); BIND (changed_status);
  BIND (changed_a_title); BIND (changed_b_title); BIND (changed_a);
  BIND (changed_b);
  gtk_widget_class_set_layout_manager_type (widget_class,
                                            GTK_TYPE_BIN_LAYOUT);
}

static void
on_style_dark (AdwStyleManager *manager, GParamSpec *pspec,
               GraftComparePage *self)
{
  refresh_views (self);
}

static void
graft_compare_page_init (GraftComparePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  /* GTK 4.8's drop-down opens from an unnamed toggle button of its own. */
  graft_name_inner_buttons (GTK_WIDGET (self->axis), NULL,
                            _("Horizontal axis"), FALSE);
  self->ticked = g_ptr_array_new_with_free_func (g_free);
  self->watched = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                         g_object_unref, NULL);
  g_object_bind_property (self->plot, "smoothing",
                          gtk_range_get_adjustment (GTK_RANGE
                                                    (self->smoothing)),
                          "value",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  g_signal_connect_object (self->axis, "notify::selected",
                           G_CALLBACK (refresh_views), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (adw_style_manager_get_default (), "notify::dark",
                           G_CALLBACK (on_style_dark), self, 0);
  refresh_views (self);
}
