/* graft-run-details.c: a run's details and test window.
 *
 * Trying a picture is one GTask: on the worker it loads the run's
 * model.onnx when the window has no backbone yet, decodes the picture
 * for the preview and predicts it; the main thread keeps the backbone
 * for the next picture and shows the rest.  A picture tried while
 * another is in flight cancels that one, whose result is then dropped.
 * The Mistakes grid is built once the record's predictions notify; its
 * thumbnails decode themselves (GraftThumbnailStrip, with its shared
 * cache). */
#define G_LOG_DOMAIN "graft-run-details"

#include "graft-run-details.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gi18n.h>

#include "graft-backbone.h"
#include "graft-thumbnail-strip.h"

/* The preview's longest side, in device pixels: larger pictures are
 * decoded at this size, smaller ones enlarged by a whole factor without
 * smoothing, so that a 28 × 28 picture shows its pixels, not a blur. */
#define PREVIEW_SIZE 256
/* The width of a probability bar, in logical pixels. */
#define BAR_WIDTH 160

/* The generated resource bundle (resources/graft.gresource.xml). */
GResource *graft_get_resource (void);

struct _GraftRunDetails
{
  AdwWindow parent_instance;

  GraftRunRecord *record;
  GraftBackbone *backbone;       /* model.onnx, once loaded */
  GCancellable *try_cancellable; /* of the picture in flight, or NULL */
  GtkDropTarget *drop_target;
  GtkFileChooserNative *chooser; /* while shown */
  GArray *shown;                 /* GraftPrediction, labels owned */
  char *error;                   /* the reason shown, or NULL */
  gboolean mistakes_built;

  AdwWindowTitle *title;
  AdwViewStack *view_stack;
  AdwViewStackPage *mistakes_page;
  GtkStack *try_stack;
  GtkSpinner *try_spinner;
  AdwStatusPage *error_page;
  GtkPicture *picture;
  GtkLabel *picture_name;
  GtkGrid *bars;
  GtkStack *mistakes_stack;
  GtkSpinner *mistakes_spinner;
  AdwStatusPage *mistakes_error_page;
  AdwStatusPage *no_mistakes_page;
  GtkLabel *mistakes_count;
  GtkFlowBox *mistakes_grid;
};

G_DEFINE_FINAL_TYPE (GraftRunDetails, graft_run_details, ADW_TYPE_WINDOW)

/* A worker may run while another window's worker predicts with its own
 * backbone, but one backbone predicts one picture at a time. */
G_LOCK_DEFINE_STATIC (predict_lock);

/* ---- The header ------------------------------------------------------------------ */

static const char *
mode_name (GraftRunMode mode)
{
  switch (mode)
    {
    case GRAFT_RUN_MODE_FINETUNE: return _("Fine-tuning");
    case GRAFT_RUN_MODE_PROGRESSIVE: return _("Progressive unfreezing");
    case GRAFT_RUN_MODE_EXTRACT:
    default: return _("Feature extraction");
    }
}

static void
update_title (GraftRunDetails *self)
{
  const GraftEpochReport *best = graft_run_record_get_best (self->record);
  const char *mode = mode_name (graft_run_record_get_mode (self->record));
  g_autofree char *subtitle = NULL;

  adw_window_title_set_title (self->title,
                              graft_run_record_get_name (self->record));
  if (best == NULL)
    /* Translators: the run's mode, when it has no epoch yet. */
    subtitle = g_strdup_printf (_("%s · no epoch yet"), mode);
  else
    /* Translators: the run's mode · its best validation accuracy and the
     * epoch that reached it. */
    subtitle = g_strdup_printf (_("%s · best validation accuracy %.1f %% "
                                  "(epoch %u)"), mode,
                                100 * best->val_accuracy, best->epoch);
  adw_window_title_set_subtitle (self->title, subtitle);
  gtk_window_set_title (GTK_WINDOW (self),
                        graft_run_record_get_name (self->record));
}

/* ---- Trying a picture: the worker ------------------------------------------------- */

typedef struct
{
  char *model_path;
  char *path;
  guint k;
  GraftBackbone *backbone;   /* given, or loaded here */
  GdkPixbuf *preview;
  GArray *top;               /* GraftPrediction, labels copied */
} TryJob;

static void
clear_prediction_label (gpointer data)
{
  g_free ((char *) ((GraftPrediction *) data)->label);
}

static GArray *
copy_predictions (GArray *top)
{
  GArray *copy = g_array_sized_new (FALSE, FALSE, sizeof (GraftPrediction),
                                    top->len);

  g_array_set_clear_func (copy, clear_prediction_label);
  for (guint i = 0; i < top->len; i++)
    {
      GraftPrediction p = g_array_index (top, GraftPrediction, i);

      p.label = g_strdup (p.label);
      g_array_append_val (copy, p);
    }
  return copy;
}

static void
try_job_free (TryJob *job)
{
  g_free (job->model_path);
  g_free (job->path);
  g_clear_object (&job->backbone);
  g_clear_object (&job->preview);
  g_clear_pointer (&job->top, g_array_unref);
  g_free (job);
}

/* @pixbuf enlarged by the largest whole factor that keeps its longer
 * side within PREVIEW_SIZE. */
static GdkPixbuf *
enlarge (GdkPixbuf *pixbuf)
{
  int width = gdk_pixbuf_get_width (pixbuf);
  int height = gdk_pixbuf_get_height (pixbuf);
  int factor = PREVIEW_SIZE / MAX (1, MAX (width, height));

  if (factor <= 1)
    return g_object_ref (pixbuf);
  return gdk_pixbuf_scale_simple (pixbuf, width * factor, height * factor,
                                  GDK_INTERP_NEAREST);
}

/* @path decoded to fit PREVIEW_SIZE. */
static GdkPixbuf *
load_preview (const char *path, GError **error)
{
  int width = 0, height = 0;
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  g_autoptr (GdkPixbuf) oriented = NULL;

  if (gdk_pixbuf_get_file_info (path, &width, &height) != NULL
      && MAX (width, height) > PREVIEW_SIZE)
    pixbuf = gdk_pixbuf_new_from_file_at_size (path, PREVIEW_SIZE,
                                               PREVIEW_SIZE, error);
  else
    pixbuf = gdk_pixbuf_new_from_file (path, error);
  if (pixbuf == NULL)
    return NULL;
  oriented = gdk_pixbuf_apply_embedded_orientation (pixbuf);
  return enlarge (oriented);
}

static void
try_thread (GTask *task, gpointer source, gpointer task_data,
            GCancellable *cancellable)
{
  TryJob *job = task_data;
  GError *error = NULL;
  g_autoptr (GArray) top = NULL;

  job->preview = load_preview (job->path, &error);
  if (job->preview != NULL && job->backbone == NULL)
    job->backbone = graft_backbone_load (job->model_path, cancellable,
                                         &error);
  if (job->backbone != NULL && job->preview != NULL)
    {
      G_LOCK (predict_lock);
      top = graft_backbone_predict (job->backbone, job->path, job->k,
                                    &error);
      G_UNLOCK (predict_lock);
    }
  if (top == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  job->top = copy_predictions (top);
  g_task_return_boolean (task, TRUE);
}

/* ---- Trying a picture: the main thread -------------------------------------------- */

static void
set_busy (GraftRunDetails *self, gboolean busy)
{
  gtk_spinner_set_spinning (self->try_spinner, busy);
  if (busy)
    gtk_stack_set_visible_child_name (self->try_stack, "busy");
}

static void
show_error (GraftRunDetails *self, const char *message)
{
  g_free (self->error);
  self->error = g_strdup (message);
  g_clear_pointer (&self->shown, g_array_unref);
  adw_status_page_set_description (self->error_page, message);
  gtk_stack_set_visible_child_name (self->try_stack, "error");
}

/* One row of the bars: the label, a bar and the percentage. */
static void
add_bar (GraftRunDetails *self, guint row, const GraftPrediction *p)
{
  GtkWidget *label = gtk_label_new (p->label);
  GtkWidget *bar = gtk_level_bar_new_for_interval (0, 1);
  g_autofree char *percent = g_strdup_printf (_("%.1f %%"),
                                              100 * p->probability);
  GtkWidget *value = gtk_label_new (percent);
  g_autofree char *name = g_strdup_printf (_("%s: %.1f %%"), p->label,
                                           100 * p->probability);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_label_set_xalign (GTK_LABEL (value), 1);
  gtk_widget_add_css_class (value, "numeric");
  /* One colour for every bar: the thresholds would paint a low
   * probability as a warning. */
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar),
                                     GTK_LEVEL_BAR_OFFSET_LOW);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar),
                                     GTK_LEVEL_BAR_OFFSET_HIGH);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar),
                                     GTK_LEVEL_BAR_OFFSET_FULL);
  gtk_level_bar_set_value (GTK_LEVEL_BAR (bar), CLAMP (p->probability, 0, 1));
  gtk_widget_set_size_request (bar, BAR_WIDTH, -1);
  gtk_widget_set_valign (bar, GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (bar),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
  if (row == 0)
    gtk_widget_add_css_class (label, "heading");
  gtk_grid_attach (self->bars, label, 0, row, 1, 1);
  gtk_grid_attach (self->bars, bar, 1, row, 1, 1);
  gtk_grid_attach (self->bars, value, 2, row, 1, 1);
}

static void
show_result (GraftRunDetails *self, TryJob *job)
{
  g_autoptr (GdkTexture) texture = gdk_texture_new_for_pixbuf (job->preview);
  g_autofree char *base = g_path_get_basename (job->path);
  g_autofree char *display = g_filename_display_name (base);
  GtkWidget *child;

  g_clear_pointer (&self->error, g_free);
  g_clear_pointer (&self->shown, g_array_unref);
  self->shown = g_steal_pointer (&job->top);
  gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (texture));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->picture),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, display, -1);
  gtk_label_set_text (self->picture_name, display);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->bars))))
    gtk_grid_remove (self->bars, child);
  for (guint i = 0; i < self->shown->len; i++)
    add_bar (self, i, &g_array_index (self->shown, GraftPrediction, i));
  gtk_stack_set_visible_child_name (self->try_stack, "result");
}

static void
try_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftRunDetails *self = GRAFT_RUN_DETAILS (source);
  g_autoptr (GCancellable) cancellable = user_data;
  TryJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;

  /* Whatever else happened, a loaded model is kept for the next try. */
  if (self->backbone == NULL && job->backbone != NULL)
    self->backbone = g_object_ref (job->backbone);
  if (cancellable != self->try_cancellable)
    return;
  g_clear_object (&self->try_cancellable);
  set_busy (self, FALSE);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    show_error (self, error->message);
  else
    show_result (self, job);
}

static guint
n_classes (GraftRunDetails *self)
{
  const char *const *names = graft_run_record_get_class_names (self->record);

  return names != NULL ? g_strv_length ((char **) names) : 0;
}

void
graft_run_details_try_file (GraftRunDetails *self, GFile *file)
{
  g_autofree char *path = NULL;
  g_autoptr (GTask) task = NULL;
  TryJob *job;

  g_return_if_fail (GRAFT_IS_RUN_DETAILS (self));
  g_return_if_fail (G_IS_FILE (file));
  adw_view_stack_set_visible_child_name (self->view_stack, "try");
  if (self->try_cancellable != NULL)
    g_cancellable_cancel (self->try_cancellable);
  g_clear_object (&self->try_cancellable);
  path = g_file_get_path (file);
  if (path == NULL)
    {
      show_error (self, _("Only pictures on this computer can be tried."));
      return;
    }
  job = g_new0 (TryJob, 1);
  job->model_path = g_build_filename (graft_run_record_get_dir (self->record),
                                      "model.onnx", NULL);
  job->path = g_steal_pointer (&path);
  job->k = MIN (GRAFT_RUN_DETAILS_MAX_PREDICTIONS, MAX (1, n_classes (self)));
  job->backbone = self->backbone != NULL ? g_object_ref (self->backbone)
                                         : NULL;
  self->try_cancellable = g_cancellable_new ();
  task = g_task_new (self, self->try_cancellable, try_done,
                     g_object_ref (self->try_cancellable));
  g_task_set_source_tag (task, graft_run_details_try_file);
  /* The callback keeps a model loaded before a cancellation. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, job, (GDestroyNotify) try_job_free);
  set_busy (self, TRUE);
  g_task_run_in_thread (task, try_thread);
}

/* ---- Drop and file chooser -------------------------------------------------------- */

static gboolean
on_drop (GtkDropTarget *target, const GValue *value, double x, double y,
         GraftRunDetails *self)
{
  GSList *files = g_value_get_boxed (value);

  if (files == NULL)
    return FALSE;
  graft_run_details_try_file (self, files->data);
  return TRUE;
}

static void
chooser_response (GtkNativeDialog *chooser, int response,
                  GraftRunDetails *self)
{
  g_autoptr (GFile) file = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  gtk_native_dialog_destroy (chooser);
  g_clear_object (&self->chooser);
  if (file != NULL)
    graft_run_details_try_file (self, file);
}

static void
choose_picture (GtkWidget *widget, const char *action, GVariant *parameter)
{
  GraftRunDetails *self = GRAFT_RUN_DETAILS (widget);
  g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();

  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (_("Choose a Picture"),
                                               GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_OPEN,
                                               _("_Try"), _("_Cancel"));
  gtk_file_filter_set_name (filter, _("Pictures"));
  gtk_file_filter_add_pixbuf_formats (filter);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), filter);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response",
                    G_CALLBACK (chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

/* ---- Mistakes --------------------------------------------------------------------- */

static const char *
class_name (GraftRunDetails *self, guint label)
{
  const char *const *names = graft_run_record_get_class_names (self->record);

  return label < n_classes (self) ? names[label] : "?";
}

/* A thumbnail with "true → predicted" under it. */
static GtkWidget *
mistake_tile (GraftRunDetails *self, const char *path, guint truth,
              guint predicted)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  GtkWidget *strip = graft_thumbnail_strip_new ();
  const char *paths[] = { path, NULL };
  g_autofree char *base = g_path_get_basename (path);
  /* Translators: a misclassified picture's true → predicted class. */
  g_autofree char *text = g_strdup_printf (_("%s → %s"),
                                           class_name (self, truth),
                                           class_name (self, predicted));
  g_autofree char *name = g_strdup_printf
    (_("%s: a %s taken for a %s"), base, class_name (self, truth),
     class_name (self, predicted));
  GtkWidget *label = gtk_label_new (text);

  graft_thumbnail_strip_set_pictures (GRAFT_THUMBNAIL_STRIP (strip), paths);
  gtk_widget_set_halign (strip, GTK_ALIGN_CENTER);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 16);
  gtk_widget_add_css_class (label, "caption");
  gtk_box_append (GTK_BOX (box), strip);
  gtk_box_append (GTK_BOX (box), label);
  gtk_widget_set_tooltip_text (box, name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (box),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
  g_object_set_data_full (G_OBJECT (box), "path", g_strdup (path), g_free);
  return box;
}

static guint
fill_mistakes (GraftRunDetails *self, const GraftRunPredictions *p)
{
  guint wrong = 0;

  for (guint i = 0; i < p->n; i++)
    if (p->truth[i] != p->predicted[i])
      {
        GtkWidget *tile = mistake_tile (self, p->paths[i], p->truth[i],
                                        p->predicted[i]);

        gtk_flow_box_append (self->mistakes_grid, tile);
        gtk_accessible_update_property
          (GTK_ACCESSIBLE (gtk_widget_get_parent (tile)),
           GTK_ACCESSIBLE_PROPERTY_LABEL,
           gtk_widget_get_tooltip_text (tile), -1);
        wrong++;
      }
  return wrong;
}

static void
show_mistakes (GraftRunDetails *self, const GraftRunPredictions *p)
{
  guint wrong = fill_mistakes (self, p);
  g_autofree char *count = NULL;
  g_autofree char *all_right = NULL;

  self->mistakes_built = TRUE;
  adw_view_stack_page_set_badge_number (self->mistakes_page, wrong);
  if (wrong == 0)
    {
      all_right = g_strdup_printf (ngettext
        ("The model gets the one validation picture right.",
         "The model gets all %u validation pictures right.", p->n), p->n);
      adw_status_page_set_description (self->no_mistakes_page, all_right);
      gtk_stack_set_visible_child_name (self->mistakes_stack, "empty");
      return;
    }
  /* Translators: "7 of 60 validation pictures wrong"; the plural
   * follows the second number. */
  count = g_strdup_printf (ngettext ("%u of %u validation picture wrong",
                                     "%u of %u validation pictures wrong",
                                     p->n), wrong, p->n);
  gtk_label_set_text (self->mistakes_count, count);
  gtk_stack_set_visible_child_name (self->mistakes_stack, "grid");
}

static void
predictions_changed (GraftRunDetails *self)
{
  const GraftRunPredictions *p
    = graft_run_record_get_predictions (self->record);
  const char *error = graft_run_record_get_predictions_error (self->record);

  if (self->mistakes_built)
    return;
  gtk_spinner_set_spinning (self->mistakes_spinner, p == NULL && error == NULL);
  if (p != NULL)
    show_mistakes (self, p);
  else if (error != NULL)
    {
      adw_status_page_set_description (self->mistakes_error_page, error);
      gtk_stack_set_visible_child_name (self->mistakes_stack, "error");
    }
}

static void
try_mistake (GtkFlowBox *box, GtkFlowBoxChild *child, GraftRunDetails *self)
{
  const char *path = g_object_get_data
    (G_OBJECT (gtk_flow_box_child_get_child (child)), "path");
  g_autoptr (GFile) file = g_file_new_for_path (path);

  graft_run_details_try_file (self, file);
}

/* ---- Public ----------------------------------------------------------------------- */

GtkWindow *
graft_run_details_new (GtkWindow *parent, GraftRunRecord *record)
{
  GraftRunDetails *self;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (GRAFT_IS_RUN_RECORD (record), NULL);
  self = g_object_new (GRAFT_TYPE_RUN_DETAILS, "transient-for", parent,
                       NULL);
  self->record = g_object_ref (record);
  g_signal_connect_object (record, "notify::name",
                           G_CALLBACK (update_title), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (record, "notify::predictions",
                           G_CALLBACK (predictions_changed), self,
                           G_CONNECT_SWAPPED);
  update_title (self);
  graft_run_record_ensure_predictions (record);
  predictions_changed (self);
  return GTK_WINDOW (self);
}

GraftRunRecord *
graft_run_details_get_record (GraftRunDetails *self)
{
  g_return_val_if_fail (GRAFT_IS_RUN_DETAILS (self), NULL);
  return self->record;
}

GtkDropTarget *
graft_run_details_get_drop_target (GraftRunDetails *self)
{
  g_return_val_if_fail (GRAFT_IS_RUN_DETAILS (self), NULL);
  return self->drop_target;
}

gboolean
graft_run_details_get_busy (GraftRunDetails *self)
{
  g_return_val_if_fail (GRAFT_IS_RUN_DETAILS (self), FALSE);
  return self->try_cancellable != NULL;
}

guint
graft_run_details_get_predictions (GraftRunDetails *self, char ***labels,
                                   double **probabilities)
{
  guint n;

  g_return_val_if_fail (GRAFT_IS_RUN_DETAILS (self), 0);
  n = self->shown != NULL ? self->shown->len : 0;
  if (labels != NULL)
    *labels = g_new0 (char *, n + 1);
  if (probabilities != NULL)
    *probabilities = g_new0 (double, n);
  for (guint i = 0; i < n; i++)
    {
      const GraftPrediction *p = &g_array_index (self->shown,
                                                 GraftPrediction, i);

      if (labels != NULL)
        (*labels)[i] = g_strdup (p->label);
      if (probabilities != NULL)
        (*probabilities)[i] = p->probability;
    }
  return n;
}

const char *
graft_run_details_get_error (GraftRunDetails *self)
{
  g_return_val_if_fail (GRAFT_IS_RUN_DETAILS (self), NULL);
  return self->error;
}

char **
graft_run_details_dup_mistakes (GraftRunDetails *self)
{
  g_autoptr (GStrvBuilder) paths = g_strv_builder_new ();
  GtkWidget *grid = GTK_WIDGET (self->mistakes_grid);

  g_return_val_if_fail (GRAFT_IS_RUN_DETAILS (self), NULL);
  if (!self->mistakes_built)
    return NULL;
  for (GtkWidget *child = gtk_widget_get_first_child (grid); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    g_strv_builder_add (paths, g_object_get_data
      (G_OBJECT (gtk_flow_box_child_get_child (GTK_FLOW_BOX_CHILD (child))),
       "path"));
  return g_strv_builder_end (paths);
}

guint
graft_run_details_get_n_thumbnails_loaded (GraftRunDetails *self)
{
  GtkWidget *grid = GTK_WIDGET (self->mistakes_grid);
  guint n = 0;

  g_return_val_if_fail (GRAFT_IS_RUN_DETAILS (self), 0);
  for (GtkWidget *child = gtk_widget_get_first_child (grid); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *box = gtk_flow_box_child_get_child (GTK_FLOW_BOX_CHILD (child));

      n += graft_thumbnail_strip_get_n_loaded
        (GRAFT_THUMBNAIL_STRIP (gtk_widget_get_first_child (box)));
    }
  return n;
}

/* ---- GObject ---------------------------------------------------------------------- */

static void
graft_run_details_dispose (GObject *object)
{
  GraftRunDetails *self = GRAFT_RUN_DETAILS (object);

  if (self->try_cancellable != NULL)
    g_cancellable_cancel (self->try_cancellable);
  g_clear_object (&self->try_cancellable);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_RUN_DETAILS);
  g_clear_object (&self->backbone);
  g_clear_object (&self->record);
  G_OBJECT_CLASS (graft_run_details_parent_class)->dispose (object);
}

static void
graft_run_details_finalize (GObject *object)
{
  GraftRunDetails *self = GRAFT_RUN_DETAILS (object);

  g_clear_pointer (&self->shown, g_array_unref);
  g_free (self->error);
  G_OBJECT_CLASS (graft_run_details_parent_class)->finalize (object);
}

static void
graft_run_details_class_init (GraftRunDetailsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_run_details_dispose;
  object_class->finalize = graft_run_details_finalize;
  /* Referencing the bundle links it in, and with it its registration,
   * in a program that opens this window without a GraftWindow. */
  (void) graft_get_resource ();
  gtk_widget_class_set_template_from_resource
    (widget_class, "/io/github/graft/Graft/graft-run-details.ui");
#define BIND(name) \
  gtk_widget_class_bind_template_child (widget_class, GraftRunDetails, name)
  BIND (title);
  BIND (view_stack);
  BIND (mistakes_page);
  BIND (try_stack);
  BIND (try_spinner);
  BIND (error_page);
  BIND (picture);
  BIND (picture_name);
  BIND (bars);
  BIND (mistakes_stack);
  BIND (mistakes_spinner);
  BIND (mistakes_error_page);
  BIND (no_mistakes_page);
  BIND (mistakes_count);
  BIND (mistakes_grid);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, try_mistake);
  gtk_widget_class_install_action (widget_class, "details.choose-picture",
                                   NULL, choose_picture);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o,
                                       GDK_CONTROL_MASK,
                                       "details.choose-picture", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0,
                                       "window.close", NULL);
}

static void
graft_run_details_init (GraftRunDetails *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->drop_target = gtk_drop_target_new (GDK_TYPE_FILE_LIST,
                                           GDK_ACTION_COPY);
  g_signal_connect (self->drop_target, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self),
                             GTK_EVENT_CONTROLLER (self->drop_target));
}
