/* graft-preprocessing-dialog.c: the fields of a GraftPreprocessing, a
 * preset combo that fills them, and the preset shown again as soon as
 * the fields match one (else "Custom"). */
#define G_LOG_DOMAIN "graft-preprocessing-dialog"

#include <glib/gi18n.h>
#include <math.h>

#include "graft-preprocessing-dialog.h"

/* The preset combo's first entry; the others are GraftPreprocessingPreset
 * + 1, in that enum's order. */
#define PRESET_CUSTOM 0
#define N_PRESETS 3
#define N_CHANNELS 3
/* How close two values must be to count as the same preset: the fields
 * show 3 decimals (8 for the scale). */
#define MATCH_TOLERANCE 5e-4
#define SCALE_TOLERANCE 5e-9

struct _GraftPreprocessingDialog
{
  AdwWindow parent_instance;

  AdwWindowTitle *window_title;
  AdwComboRow *preset_row;
  AdwComboRow *resize_row;
  AdwComboRow *order_row;
  GtkSpinButton *scale_spin;
  AdwExpanderRow *mean_row;
  AdwExpanderRow *std_row;
  AdwActionRow *mean_rows[N_CHANNELS];
  AdwActionRow *std_rows[N_CHANNELS];
  GtkSpinButton *mean_spins[N_CHANNELS];
  GtkSpinButton *std_spins[N_CHANNELS];

  GraftPreprocessing original;   /* its size and channels are kept */
  gboolean updating;             /* the fields are being set from code */
};

G_DEFINE_FINAL_TYPE (GraftPreprocessingDialog, graft_preprocessing_dialog,
                     ADW_TYPE_WINDOW)

enum
{
  SIGNAL_SAVE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static guint
n_channels (GraftPreprocessingDialog *self)
{
  return CLAMP (self->original.channels, 1, N_CHANNELS);
}

void
graft_preprocessing_dialog_get_preprocessing (GraftPreprocessingDialog *self,
                                              GraftPreprocessing *pre)
{
  g_return_if_fail (GRAFT_IS_PREPROCESSING_DIALOG (self));

  *pre = self->original;
  pre->resize = adw_combo_row_get_selected (self->resize_row) == 1
    ? GRAFT_RESIZE_SQUASH : GRAFT_RESIZE_SHORTER_CROP;
  pre->bgr = adw_combo_row_get_selected (self->order_row) == 1;
  pre->scale = gtk_spin_button_get_value (self->scale_spin);
  for (guint c = 0; c < N_CHANNELS; c++)
    {
      /* A one-channel model reads its one value for every channel. */
      guint from = c < n_channels (self) ? c : 0;
      pre->mean[c] = gtk_spin_button_get_value (self->mean_spins[from]);
      pre->std[c] = gtk_spin_button_get_value (self->std_spins[from]);
    }
  pre->from_file = TRUE;
}

static gboolean
values_match (const double *a, const double *b, guint n, double tolerance)
{
  for (guint i = 0; i < n; i++)
    if (fabs (a[i] - b[i]) > tolerance)
      return FALSE;
  return TRUE;
}

/* The preset @pre equals, as a combo position (PRESET_CUSTOM when none). */
static guint
matching_preset (GraftPreprocessingDialog *self, const GraftPreprocessing *pre)
{
  for (guint p = 0; p < N_PRESETS; p++)
    {
      GraftPreprocessing preset;

      graft_preprocessing_preset (&preset, p, pre->height, pre->width);
      if (preset.resize == pre->resize && preset.bgr == pre->bgr
          && fabs (preset.scale - pre->scale) <= SCALE_TOLERANCE
          && values_match (preset.mean, pre->mean, n_channels (self),
                           MATCH_TOLERANCE)
          && values_match (preset.std, pre->std, n_channels (self),
                           MATCH_TOLERANCE))
        return p + 1;
    }
  return PRESET_CUSTOM;
}

static char *
format_values (GtkSpinButton **spins, guint n)
{
  GString *text = g_string_new (NULL);

  for (guint c = 0; c < n; c++)
    g_string_append_printf (text, c == 0 ? "%.3f" : ", %.3f",
                            gtk_spin_button_get_value (spins[c]));
  return g_string_free (text, FALSE);
}

/* The channel rows' names follow the channel order ("Channel 1 (blue)"
 * in BGR), and the collapsed rows show their values. */
static void
update_labels (GraftPreprocessingDialog *self)
{
  static const char *const rgb[N_CHANNELS] = { N_("red"), N_("green"),
                                               N_("blue") };
  gboolean bgr = adw_combo_row_get_selected (self->order_row) == 1;
  g_autofree char *means = format_values (self->mean_spins, n_channels (self));
  g_autofree char *stds = format_values (self->std_spins, n_channels (self));

  for (guint c = 0; c < N_CHANNELS; c++)
    {
      const char *colour = _(rgb[bgr ? N_CHANNELS - 1 - c : c]);
      g_autofree char *title = n_channels (self) == 1
        ? g_strdup (_("Grey"))
        : g_strdup_printf (_("Channel %u (%s)"), c + 1, colour);
      g_autofree char *mean_name = g_strdup_printf (_("Mean, %s"), title);
      g_autofree char *std_name = g_strdup_printf (_("Standard deviation, %s"),
                                                   title);

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->mean_rows[c]),
                                     title);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->std_rows[c]),
                                     title);
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->mean_spins[c]),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, mean_name,
                                      -1);
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->std_spins[c]),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, std_name,
                                      -1);
    }
  adw_expander_row_set_subtitle (self->mean_row, means);
  adw_expander_row_set_subtitle (self->std_row, stds);
}

static void
set_fields (GraftPreprocessingDialog *self, const GraftPreprocessing *pre)
{
  self->updating = TRUE;
  adw_combo_row_set_selected (self->resize_row,
                              pre->resize == GRAFT_RESIZE_SQUASH ? 1 : 0);
  adw_combo_row_set_selected (self->order_row, pre->bgr ? 1 : 0);
  gtk_spin_button_set_value (self->scale_spin, pre->scale);
  for (guint c = 0; c < N_CHANNELS; c++)
    {
      gtk_spin_button_set_value (self->mean_spins[c], pre->mean[c]);
      gtk_spin_button_set_value (self->std_spins[c], pre->std[c]);
    }
  adw_combo_row_set_selected (self->preset_row, matching_preset (self, pre));
  self->updating = FALSE;
  update_labels (self);
}

void
graft_preprocessing_dialog_apply_preset (GraftPreprocessingDialog *self,
                                         GraftPreprocessingPreset preset)
{
  GraftPreprocessing pre;

  g_return_if_fail (GRAFT_IS_PREPROCESSING_DIALOG (self));

  graft_preprocessing_preset (&pre, preset, self->original.height,
                              self->original.width);
  set_fields (self, &pre);
}

static void
on_preset_selected (GraftPreprocessingDialog *self)
{
  guint selected = adw_combo_row_get_selected (self->preset_row);

  if (self->updating || selected == PRESET_CUSTOM
      || selected == GTK_INVALID_LIST_POSITION)
    return;
  graft_preprocessing_dialog_apply_preset (self, selected - 1);
}

/* A field the user changed: the preset shown follows the values. */
static void
on_field_changed (GraftPreprocessingDialog *self)
{
  GraftPreprocessing pre;

  if (self->updating)
    return;
  graft_preprocessing_dialog_get_preprocessing (self, &pre);
  self->updating = TRUE;
  adw_combo_row_set_selected (self->preset_row, matching_preset (self, &pre));
  self->updating = FALSE;
  update_labels (self);
}

void
graft_preprocessing_dialog_save (GraftPreprocessingDialog *self)
{
  g_return_if_fail (GRAFT_IS_PREPROCESSING_DIALOG (self));

  /* Typed text counts even when the user did not leave the field. */
  gtk_spin_button_update (self->scale_spin);
  for (guint c = 0; c < N_CHANNELS; c++)
    {
      gtk_spin_button_update (self->mean_spins[c]);
      gtk_spin_button_update (self->std_spins[c]);
    }
  g_signal_emit (self, signals[SIGNAL_SAVE], 0);
  gtk_window_close (GTK_WINDOW (self));
}

GraftPreprocessingDialog *
graft_preprocessing_dialog_new (GtkWindow *parent, const char *model_name,
                                const GraftPreprocessing *pre)
{
  GraftPreprocessingDialog *self;

  g_return_val_if_fail (pre != NULL, NULL);

  self = g_object_new (GRAFT_TYPE_PREPROCESSING_DIALOG,
                       "transient-for", parent, NULL);
  self->original = *pre;
  adw_window_title_set_subtitle (self->window_title, model_name);
  for (guint c = n_channels (self); c < N_CHANNELS; c++)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->mean_rows[c]), FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->std_rows[c]), FALSE);
    }
  set_fields (self, pre);
  return self;
}

static void
graft_preprocessing_dialog_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object),
                               GRAFT_TYPE_PREPROCESSING_DIALOG);
  G_OBJECT_CLASS (graft_preprocessing_dialog_parent_class)->dispose (object);
}

static void
bind_channel_rows (GtkWidgetClass *widget_class)
{
  static const char *const names[] = { "mean_row0", "mean_row1", "mean_row2",
                                       "std_row0", "std_row1", "std_row2" };
  static const char *const spins[] = { "mean_spin0", "mean_spin1",
                                       "mean_spin2", "std_spin0", "std_spin1",
                                       "std_spin2" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      gboolean mean = i < N_CHANNELS;
      guint c = i % N_CHANNELS;

      gtk_widget_class_bind_template_child_full (widget_class, names[i], FALSE,
        mean ? G_STRUCT_OFFSET (GraftPreprocessingDialog, mean_rows[c])
             : G_STRUCT_OFFSET (GraftPreprocessingDialog, std_rows[c]));
      gtk_widget_class_bind_template_child_full (widget_class, spins[i], FALSE,
        mean ? G_STRUCT_OFFSET (GraftPreprocessingDialog, mean_spins[c])
             : G_STRUCT_OFFSET (GraftPreprocessingDialog, std_spins[c]));
    }
}

static void
graft_preprocessing_dialog_class_init (GraftPreprocessingDialogClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = graft_preprocessing_dialog_dispose;

  /* The user pressed Save; read the values with get_preprocessing. */
  signals[SIGNAL_SAVE] = g_signal_new ("save", G_TYPE_FROM_CLASS (klass),
                                       G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                       NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class,
    "/io/github/graft/Graft/graft-preprocessing-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftPreprocessingDialog,
                                        window_title);
  gtk_widget_class_bind_template_child (widget_class, GraftPreprocessingDialog,
                                        preset_row);
  gtk_widget_class_bind_template_child (widget_class, GraftPreprocessingDialog,
                                        resize_row);
  gtk_widget_class_bind_template_child (widget_class, GraftPreprocessingDialog,
                                        order_row);
  gtk_widget_class_bind_template_child (widget_class, GraftPreprocessingDialog,
                                        scale_spin);
  gtk_widget_class_bind_template_child (widget_class, GraftPreprocessingDialog,
                                        mean_row);
  gtk_widget_class_bind_template_child (widget_class, GraftPreprocessingDialog,
                                        std_row);
  bind_channel_rows (widget_class);
  gtk_widget_class_bind_template_callback (widget_class, on_preset_selected);
  gtk_widget_class_bind_template_callback (widget_class, on_field_changed);
  gtk_widget_class_bind_template_callback (widget_class,
                                           graft_preprocessing_dialog_save);
  gtk_widget_class_bind_template_callback_full (widget_class,
                                                "gtk_window_close",
                                                G_CALLBACK (gtk_window_close));
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0,
                                       "window.close", NULL);
}

static void
graft_preprocessing_dialog_init (GraftPreprocessingDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
