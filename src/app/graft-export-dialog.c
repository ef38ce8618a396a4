/* graft-export-dialog.c: a run's results written into a folder, then the
 * written model loaded back and checked against the run.
 *
 * Pressing Export draws the chosen plots into memory (on the main thread:
 * the plot is a widget) and hands everything to one worker, which
 * reserves each file's name (created exclusively, so that nothing is
 * overwritten: "-2", "-3" are added while a name is taken) and writes it
 * through a temporary file and a rename (graft-run-export.h).  When a
 * whole model was written, the run's own predictions are awaited
 * (graft_run_record_ensure_predictions) and a second worker loads the
 * written file and predicts the first few validation pictures with it.
 */
#define G_LOG_DOMAIN "graft-export-dialog"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "graft-backbone.h"
#include "graft-export-dialog.h"
#include "graft-files.h"
#include "graft-run-export.h"

/* The generated resource bundle (resources/graft.gresource.xml). */
GResource *graft_get_resource (void);

#define MAX_NUMBER 1000          /* "-2" … before giving up on a name */

/* What the dialog offers, in the order the files are written. */
typedef enum
{
  ITEM_HEAD_ONNX,
  ITEM_SAFETENSORS,
  ITEM_HEAD_JSON,
  ITEM_MODEL,
  ITEM_CSV,
  ITEM_PNG,
  ITEM_SVG,
  ITEM_PYTORCH,                  /* a folder */
  N_ITEMS
} ItemKind;

static const struct
{
  const char *stem;              /* after the run's name */
  const char *extension;
  GraftRunExportFormat format;   /* unused for plots */
} items[N_ITEMS] = {
  [ITEM_HEAD_ONNX] = { "head", ".onnx", GRAFT_RUN_EXPORT_HEAD_ONNX },
  [ITEM_SAFETENSORS] = { "head", ".safetensors", GRAFT_RUN_EXPORT_SAFETENSORS },
  [ITEM_HEAD_JSON] = { "head", ".json", GRAFT_RUN_EXPORT_HEAD_JSON },
  [ITEM_MODEL] = { "model", ".onnx", GRAFT_RUN_EXPORT_MODEL_ONNX },
  [ITEM_CSV] = { "curves", ".csv", GRAFT_RUN_EXPORT_CSV },
  [ITEM_PNG] = { "plot", ".png", 0 },
  [ITEM_SVG] = { "plot", ".svg", 0 },
  [ITEM_PYTORCH] = { "pytorch", "", GRAFT_RUN_EXPORT_PYTORCH },
};

struct _GraftExportDialog
{
  AdwWindow parent_instance;

  AdwWindowTitle *window_title;
  GtkButton *export_button;
  GtkButton *close_button;
  GtkSwitch *head_onnx_switch;
  GtkSwitch *head_weights_switch;
  GtkSwitch *model_switch;
  GtkSwitch *csv_switch;
  GtkSwitch *png_switch;
  GtkSwitch *svg_switch;
  GtkSwitch *pytorch_switch;
  AdwPreferencesGroup *size_group;
  GtkSpinButton *width_spin;
  GtkSpinButton *height_spin;
  AdwActionRow *folder_row;
  GtkButton *choose_button;
  AdwPreferencesGroup *result_group;
  GtkProgressBar *progress_bar;
  GtkLabel *status_label;
  GtkListBox *file_list;
  GtkBox *check_box;
  GtkSpinner *check_spinner;
  GtkImage *check_icon;
  GtkLabel *check_label;

  GraftRunRecord *record;
  GraftLossPlot *plot;           /* the caller's, or one drawn from the
                                  * record and never shown */
  GtkFileChooserNative *chooser;
  GCancellable *cancellable;
  char *folder;
  gboolean writing;
  gboolean checking;
  char *check_model;             /* the written model awaiting its check */
  gulong predictions_handler;
  char **written;
  char *error;
  gboolean check_done;
  guint check_agree, check_total;
};

G_DEFINE_FINAL_TYPE (GraftExportDialog, graft_export_dialog, ADW_TYPE_WINDOW)

static void update_sensitivity (GraftExportDialog *self);

/* ---- The folder ----------------------------------------------------------- */

const char *
graft_export_dialog_get_folder (GraftExportDialog *self)
{
  g_return_val_if_fail (GRAFT_IS_EXPORT_DIALOG (self), NULL);
  return self->folder;
}

void
graft_export_dialog_set_folder (GraftExportDialog *self, const char *folder)
{
  g_autofree char *shown = NULL;

  g_return_if_fail (GRAFT_IS_EXPORT_DIALOG (self));
  g_return_if_fail (folder != NULL);

  g_free (self->folder);
  self->folder = g_strdup (folder);
  shown = g_filename_display_name (folder);
  adw_action_row_set_subtitle (self->folder_row, shown);
  update_sensitivity (self);
}

/* Documents, else home: looking the folder up reads files. */
static void
default_folder_thread (GTask *task, gpointer source, gpointer task_data,
                       GCancellable *cancellable)
{
  const char *documents = g_get_user_special_dir (G_USER_DIRECTORY_DOCUMENTS);

  if (documents != NULL && g_file_test (documents, G_FILE_TEST_IS_DIR))
    g_task_return_pointer (task, g_strdup (documents), g_free);
  else
    g_task_return_pointer (task, g_strdup (g_get_home_dir ()), g_free);
}

static void
default_folder_done (GObject *source, GAsyncResult *result,
                     gpointer user_data)
{
  GraftExportDialog *self = GRAFT_EXPORT_DIALOG (source);
  g_autofree char *folder = g_task_propagate_pointer (G_TASK (result), NULL);

  if (g_cancellable_is_cancelled (self->cancellable) || folder == NULL
      || self->folder != NULL)
    return;                      /* closed, or the user chose already */
  graft_export_dialog_set_folder (self, folder);
}

static void
on_chooser_response (GtkNativeDialog *chooser, int response,
                     GraftExportDialog *self)
{
  g_autoptr (GFile) file = NULL;
  g_autofree char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT
      && (file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser)))
      && (path = g_file_get_path (file)) != NULL)
    graft_export_dialog_set_folder (self, path);
  g_clear_object (&self->chooser);
}

static void
on_choose_folder (GraftExportDialog *self)
{
  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (_("Choose a Folder to Export To"),
                                               GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                               _("_Select"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  if (self->folder != NULL)
    {
      g_autoptr (GFile) current = g_file_new_for_path (self->folder);
      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (self->chooser),
                                           current, NULL);
    }
  g_signal_connect (self->chooser, "response",
                    G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

/* ---- Choices -------------------------------------------------------------- */

static gboolean
item_chosen (GraftExportDialog *self, ItemKind kind)
{
  switch (kind)
    {
    case ITEM_HEAD_ONNX: return gtk_switch_get_active (self->head_onnx_switch);
    case ITEM_SAFETENSORS:
    case ITEM_HEAD_JSON:
      return gtk_switch_get_active (self->head_weights_switch);
    case ITEM_MODEL: return gtk_switch_get_active (self->model_switch);
    case ITEM_CSV: return gtk_switch_get_active (self->csv_switch);
    case ITEM_PNG: return gtk_switch_get_active (self->png_switch);
    case ITEM_SVG: return gtk_switch_get_active (self->svg_switch);
    case ITEM_PYTORCH: return gtk_switch_get_active (self->pytorch_switch);
    case N_ITEMS:
    default: return FALSE;
    }
}

static gboolean
anything_chosen (GraftExportDialog *self)
{
  for (ItemKind k = 0; k < N_ITEMS; k++)
    if (item_chosen (self, k))
      return TRUE;
  return FALSE;
}

gboolean
graft_export_dialog_get_busy (GraftExportDialog *self)
{
  g_return_val_if_fail (GRAFT_IS_EXPORT_DIALOG (self), FALSE);
  return self->writing || self->checking;
}

static void
update_sensitivity (GraftExportDialog *self)
{
  gboolean busy = self->writing || self->checking;

  gtk_widget_set_sensitive (GTK_WIDGET (self->export_button),
                            !busy && self->folder != NULL
                            && anything_chosen (self));
  gtk_widget_set_sensitive (GTK_WIDGET (self->size_group),
                            gtk_switch_get_active (self->png_switch)
                            || gtk_switch_get_active (self->svg_switch));
  gtk_widget_set_sensitive (GTK_WIDGET (self->choose_button), !busy);
}

static void
on_choice_changed (GraftExportDialog *self)
{
  update_sensitivity (self);
}

/* ---- Writing (worker) ----------------------------------------------------- */

typedef struct
{
  ItemKind kind;
  GBytes *bytes;                 /* a drawn plot; NULL: from the run */
} Item;

typedef struct
{
  char *run_dir, *folder, *base;
  GArray *items;                 /* Item */
  GraftExportDialog *self;       /* for progress; the task holds a ref */
} WriteJob;

typedef struct
{
  GPtrArray *written;            /* char *, full paths */
  char *error;                   /* the failure that stopped it, or NULL */
  char *model;                   /* the written model.onnx, or NULL */
  char *project;                 /* the PyTorch project's folder, or NULL */
} WriteResult;

typedef struct
{
  GraftExportDialog *self;
  double fraction;
  char *name;
} Progress;

static void
item_clear (gpointer data)
{
  Item *item = data;
  g_clear_pointer (&item->bytes, g_bytes_unref);
}

static void
write_job_free (WriteJob *job)
{
  g_free (job->run_dir);
  g_free (job->folder);
  g_free (job->base);
  g_array_unref (job->items);
  g_free (job);
}

static void
write_result_free (WriteResult *r)
{
  g_ptr_array_unref (r->written);
  g_free (r->error);
  g_free (r->model);
  g_free (r->project);
  g_free (r);
}

static void
progress_free (Progress *p)
{
  g_object_unref (p->self);
  g_free (p->name);
  g_free (p);
}

static gboolean
show_progress (gpointer data)
{
  Progress *p = data;
  g_autofree char *text = NULL;

  if (g_cancellable_is_cancelled (p->self->cancellable))
    return G_SOURCE_REMOVE;
  gtk_progress_bar_set_fraction (p->self->progress_bar, p->fraction);
  /* Translators: a file's name. */
  text = g_strdup_printf (_("Writing %s…"), p->name);
  gtk_progress_bar_set_text (p->self->progress_bar, text);
  return G_SOURCE_REMOVE;
}

static void
report_progress (WriteJob *job, guint done, const char *path)
{
  Progress *p = g_new0 (Progress, 1);

  p->self = g_object_ref (job->self);
  p->fraction = (double) done / MAX (job->items->len, 1);
  p->name = g_filename_display_basename (path);
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, show_progress, p,
                              (GDestroyNotify) progress_free);
}

/* Creates BASE-STEM.EXT in @folder, or BASE-STEM-2.EXT, -3…: the first
 * name nobody has, made empty and exclusively so that no other writer
 * takes it meanwhile (a folder, for the PyTorch project). */
static char *
reserve_path (const char *folder, const char *base, ItemKind kind,
              GError **error)
{
  for (guint n = 1; n < MAX_NUMBER; n++)
    {
      g_autofree char *name = n == 1
        ? g_strdup_printf ("%s-%s%s", base, items[kind].stem,
                           items[kind].extension)
        : g_strdup_printf ("%s-%s-%u%s", base, items[kind].stem, n,
                           items[kind].extension);
      g_autofree char *path = g_build_filename (folder, name, NULL);
      int fd = kind == ITEM_PYTORCH ? g_mkdir (path, 0777)
               : g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      int saved = errno;

      if (fd >= 0)
        {
          if (kind != ITEM_PYTORCH)
            close (fd);
          return g_steal_pointer (&path);
        }
      if (saved != EEXIST)
        {
          g_autofree char *shown = g_filename_display_name (path);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "%s: %s", shown, g_strerror (saved));
          return NULL;
        }
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
               _("Too many files named after %s in %s"), base, folder);
  return NULL;
}

static gboolean
write_item (WriteJob *job, const Item *item, const char *path,
            GError **error)
{
  gsize length;
  const char *data;

  if (item->bytes == NULL)
    return graft_run_export (job->run_dir, items[item->kind].format, path,
                             error);
  data = g_bytes_get_data (item->bytes, &length);
  return g_file_set_contents_full (path, data, (gssize) length,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0666,
                                   error);
}

static void
write_thread (GTask *task, gpointer source, gpointer task_data,
              GCancellable *cancellable)
{
  WriteJob *job = task_data;
  WriteResult *r = g_new0 (WriteResult, 1);

  r->written = g_ptr_array_new_with_free_func (g_free);
  if (!g_file_test (job->folder, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *shown = g_filename_display_name (job->folder);
      r->error = g_strdup_printf (_("%s is not a folder"), shown);
    }
  for (guint i = 0; r->error == NULL && i < job->items->len; i++)
    {
      const Item *item = &g_array_index (job->items, Item, i);
      g_autoptr (GError) error = NULL;
      g_autofree char *path = NULL;

      if (g_cancellable_is_cancelled (cancellable))
        break;
      path = reserve_path (job->folder, job->base, item->kind, &error);
      if (path != NULL)
        report_progress (job, i, path);
      if (path == NULL || !write_item (job, item, path, &error))
        {
          /* Takes back the reservation, and what a project folder
           * got before the write failed. */
          if (path != NULL)
            graft_remove_tree (path);
          /* Translators: the reason a file could not be written. */
          r->error = g_strdup_printf (_("Could not export: %s"),
                                      error->message);
          break;
        }
      if (item->kind == ITEM_MODEL)
        r->model = g_strdup (path);
      if (item->kind == ITEM_PYTORCH)
        r->project = g_strdup (path);
      g_ptr_array_add (r->written, g_steal_pointer (&path));
    }
  g_task_return_pointer (task, r, (GDestroyNotify) write_result_free);
}

/* ---- The check ------------------------------------------------------------ */

typedef struct
{
  char *model;
  guint n;
  char **paths;                  /* n */
  guint *predicted;              /* n: what the run predicts */
} CheckJob;

typedef struct
{
  guint agree, total;
} CheckResult;

static void
check_job_free (CheckJob *job)
{
  g_free (job->model);
  g_strfreev (job->paths);
  g_free (job->predicted);
  g_free (job);
}

static void
check_thread (GTask *task, gpointer source, gpointer task_data,
              GCancellable *cancellable)
{
  CheckJob *job = task_data;
  g_autoptr (GraftBackbone) model = NULL;
  g_autoptr (GError) error = NULL;
  CheckResult *r;

  model = graft_backbone_load (job->model, cancellable, &error);
  if (model == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  r = g_new0 (CheckResult, 1);
  for (guint i = 0; i < job->n; i++)
    {
      g_autoptr (GArray) top = NULL;

      if (g_task_return_error_if_cancelled (task))
        {
          g_free (r);
          return;
        }
      top = graft_backbone_predict (model, job->paths[i], 1, &error);
      if (top == NULL || top->len == 0)
        {
          g_free (r);
          if (error == NULL)
            g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                 _("The model predicted nothing"));
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      r->total++;
      if (g_array_index (top, GraftPrediction, 0).index == job->predicted[i])
        r->agree++;
    }
  g_task_return_pointer (task, r, g_free);
}

static void
finish_check (GraftExportDialog *self, const char *icon, const char *text)
{
  self->checking = FALSE;
  gtk_spinner_stop (self->check_spinner);
  gtk_widget_set_visible (GTK_WIDGET (self->check_spinner), FALSE);
  gtk_image_set_from_icon_name (self->check_icon, icon);
  gtk_widget_set_visible (GTK_WIDGET (self->check_icon), TRUE);
  gtk_label_set_text (self->check_label, text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->check_box),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, text, -1);
  update_sensitivity (self);
}

static void
check_failed (GraftExportDialog *self, const char *reason)
{
  /* Translators: the reason the exported model could not be checked. */
  g_autofree char *text = g_strdup_printf (_("The exported model could not "
                                             "be checked: %s"), reason);

  finish_check (self, "dialog-warning-symbolic", text);
}

static void
check_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftExportDialog *self = GRAFT_EXPORT_DIALOG (source);
  g_autoptr (GError) error = NULL;
  g_autofree CheckResult *r = g_task_propagate_pointer (G_TASK (result),
                                                        &error);
  g_autofree char *text = NULL;

  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  if (r == NULL)
    {
      check_failed (self, error->message);
      return;
    }
  self->check_done = TRUE;
  self->check_agree = r->agree;
  self->check_total = r->total;
  if (r->agree == r->total)
    {
      text = g_strdup_printf (g_dngettext (NULL,
                                           "Checked: the exported model "
                                           "predicts what the run does on %u "
                                           "of %u validation picture",
                                           "Checked: the exported model "
                                           "predicts what the run does on %u "
                                           "of %u validation pictures",
                                           r->total),
                              r->agree, r->total);
      finish_check (self, "emblem-ok-symbolic", text);
    }
  else
    {
      text = g_strdup_printf (g_dngettext (NULL,
                                           "Warning: the exported model "
                                           "predicts what the run does on "
                                           "only %u of %u validation picture",
                                           "Warning: the exported model "
                                           "predicts what the run does on "
                                           "only %u of %u validation pictures",
                                           r->total),
                              r->agree, r->total);
      finish_check (self, "dialog-warning-symbolic", text);
    }
}

/* The run's predictions are there (or their error): load the written
 * model and compare. */
static void
start_check (GraftExportDialog *self)
{
  const GraftRunPredictions *p =
    graft_run_record_get_predictions (self->record);
  const char *error = graft_run_record_get_predictions_error (self->record);
  g_autoptr (GTask) task = NULL;
  CheckJob *job;

  g_clear_signal_handler (&self->predictions_handler, self->record);
  if (p == NULL || p->n == 0)
    {
      g_clear_pointer (&self->check_model, g_free);
      check_failed (self, error != NULL ? error
                    : _("the run has no validation pictures"));
      return;
    }
  job = g_new0 (CheckJob, 1);
  job->model = g_steal_pointer (&self->check_model);
  job->n = MIN (p->n, GRAFT_EXPORT_CHECK_PICTURES);
  job->paths = g_new0 (char *, job->n + 1);
  job->predicted = g_new (guint, job->n);
  for (guint i = 0; i < job->n; i++)
    {
      job->paths[i] = g_strdup (p->paths[i]);
      job->predicted[i] = p->predicted[i];
    }
  gtk_label_set_text (self->check_label,
                      _("Loading the exported model back to check it…"));
  task = g_task_new (self, self->cancellable, check_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) check_job_free);
  g_task_run_in_thread (task, check_thread);
}

static void
on_predictions (GraftExportDialog *self)
{
  if (graft_run_record_get_predictions (self->record) != NULL
      || graft_run_record_get_predictions_error (self->record) != NULL)
    start_check (self);
}

static void
begin_check (GraftExportDialog *self, const char *model)
{
  self->checking = TRUE;
  self->check_model = g_strdup (model);
  gtk_widget_set_visible (GTK_WIDGET (self->check_box), TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->check_icon), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->check_spinner), TRUE);
  gtk_spinner_start (self->check_spinner);
  gtk_label_set_text (self->check_label,
                      _("Waiting for the run's predictions on the validation "
                        "pictures…"));
  if (graft_run_record_get_predictions (self->record) != NULL
      || graft_run_record_get_predictions_error (self->record) != NULL)
    {
      start_check (self);
      return;
    }
  self->predictions_handler =
    g_signal_connect_swapped (self->record, "notify::predictions",
                              G_CALLBACK (on_predictions), self);
  graft_run_record_ensure_predictions (self->record);
}

gboolean
graft_export_dialog_get_check_result (GraftExportDialog *self, guint *agree,
                                      guint *total)
{
  g_return_val_if_fail (GRAFT_IS_EXPORT_DIALOG (self), FALSE);

  if (agree != NULL)
    *agree = self->check_agree;
  if (total != NULL)
    *total = self->check_total;
  return self->check_done;
}

/* ---- Export --------------------------------------------------------------- */

static GtkWidget *
file_row (const char *path, gboolean folder)
{
  g_autofree char *name = g_filename_display_basename (path);
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row),
                             gtk_image_new_from_icon_name (
                               folder ? "folder-symbolic"
                                      : "document-save-symbolic"));
  return row;
}

static void
write_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftExportDialog *self = GRAFT_EXPORT_DIALOG (source);
  WriteResult *r = g_task_propagate_pointer (G_TASK (result), NULL);
  g_autofree char *shown = NULL, *text = NULL;

  if (g_cancellable_is_cancelled (self->cancellable) || r == NULL)
    {
      if (r != NULL)
        write_result_free (r);
      return;
    }
  self->writing = FALSE;
  g_ptr_array_add (r->written, NULL);
  g_strfreev (self->written);
  self->written = g_strdupv ((char **) r->written->pdata);
  g_ptr_array_remove_index (r->written, r->written->len - 1);
  g_free (self->error);
  self->error = g_strdup (r->error);

  for (guint i = 0; i < r->written->len; i++)
    gtk_list_box_append (self->file_list,
                         file_row (r->written->pdata[i],
                                   g_strcmp0 (r->written->pdata[i],
                                              r->project) == 0));
  gtk_widget_set_visible (GTK_WIDGET (self->file_list), r->written->len > 0);
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), FALSE);

  shown = g_filename_display_name (self->folder);
  text = g_strdup_printf (g_dngettext (NULL,
                                       "Wrote %u file to %s",
                                       "Wrote %u files to %s",
                                       r->written->len),
                          r->written->len, shown);
  if (r->error != NULL)
    {
      g_autofree char *both = g_strdup_printf ("%s\n%s", r->error, text);
      g_free (text);
      text = g_steal_pointer (&both);
    }
  gtk_label_set_text (self->status_label, text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->status_label),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, text, -1);
  if (r->model != NULL)
    begin_check (self, r->model);
  update_sensitivity (self);
  write_result_free (r);
}

/* The result is the page's first group: show it. */
static void
scroll_to_top (GraftExportDialog *self)
{
  GtkWidget *scrolled = gtk_widget_get_ancestor (GTK_WIDGET (self->result_group),
                                                 GTK_TYPE_SCROLLED_WINDOW);

  if (scrolled != NULL)
    gtk_adjustment_set_value (gtk_scrolled_window_get_vadjustment
                              (GTK_SCROLLED_WINDOW (scrolled)), 0);
}

/* The run's name as the start of a file name: no folder separators, no
 * leading dot, never empty. */
static char *
file_base (GraftRunRecord *record)
{
  g_autofree char *name = g_strdup (graft_run_record_get_name (record));
  char *base;

  g_strdelimit (g_strstrip (name), "/\\:*?\"<>|\n\r\t", '-');
  while (name[0] == '.')
    name[0] = '-';
  base = name[0] != '\0' ? g_steal_pointer (&name) : g_strdup ("run");
  return base;
}

static void
graft_export_dialog_export (GraftExportDialog *self)
{
  int width = gtk_spin_button_get_value_as_int (self->width_spin);
  int height = gtk_spin_button_get_value_as_int (self->height_spin);
  g_autoptr (GTask) task = NULL;
  g_autoptr (GArray) chosen = g_array_new (FALSE, TRUE, sizeof (Item));
  g_autofree char *base = file_base (self->record);
  g_autoptr (GError) error = NULL;
  GtkWidget *row;
  WriteJob *job;

  if (self->writing || self->checking || self->folder == NULL)
    return;
  g_array_set_clear_func (chosen, item_clear);
  for (ItemKind k = 0; k < N_ITEMS; k++)
    {
      Item item = { .kind = k };

      if (!item_chosen (self, k))
        continue;
      if (k == ITEM_PNG || k == ITEM_SVG)
        {
          /* Drawn here, in memory: the plot is a widget. */
          g_autofree char *name = g_strconcat ("plot", items[k].extension,
                                               NULL);
          item.bytes = graft_loss_plot_render_file (self->plot, name, width,
                                                    height, &error);
          if (item.bytes == NULL)
            break;
        }
      g_array_append_val (chosen, item);
    }
  if (chosen->len == 0)
    return;

  /* A new result replaces the last one. */
  while ((row = gtk_widget_get_first_child (GTK_WIDGET (self->file_list))))
    gtk_list_box_remove (self->file_list, row);
  gtk_widget_set_visible (GTK_WIDGET (self->file_list), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->check_box), FALSE);
  g_clear_pointer (&self->written, g_strfreev);
  g_clear_pointer (&self->error, g_free);
  self->check_done = FALSE;
  self->check_agree = self->check_total = 0;
  gtk_widget_set_visible (GTK_WIDGET (self->result_group), TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), TRUE);
  scroll_to_top (self);
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_progress_bar_set_text (self->progress_bar, NULL);
  if (error != NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Could not export: %s"),
                                               error->message);
      gtk_label_set_text (self->status_label, text);
      gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), FALSE);
      self->error = g_steal_pointer (&text);
      return;
    }
  gtk_label_set_text (self->status_label, _("Exporting…"));

  job = g_new0 (WriteJob, 1);
  job->run_dir = g_strdup (graft_run_record_get_dir (self->record));
  job->folder = g_strdup (self->folder);
  job->base = g_steal_pointer (&base);
  job->items = g_steal_pointer (&chosen);
  job->self = self;
  self->writing = TRUE;
  update_sensitivity (self);

  task = g_task_new (self, self->cancellable, write_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) write_job_free);
  g_task_run_in_thread (task, write_thread);
}

const char *const *
graft_export_dialog_get_written (GraftExportDialog *self)
{
  static const char *const none[] = { NULL };

  g_return_val_if_fail (GRAFT_IS_EXPORT_DIALOG (self), NULL);
  return self->written != NULL ? (const char *const *) self->written : none;
}

const char *
graft_export_dialog_get_error (GraftExportDialog *self)
{
  g_return_val_if_fail (GRAFT_IS_EXPORT_DIALOG (self), NULL);
  return self->error;
}

/* ---- The plot of its own -------------------------------------------------- */

static GraftLossPlot *
plot_record (GraftRunRecord *record)
{
  GraftLossPlot *plot = GRAFT_LOSS_PLOT (g_object_ref_sink (graft_loss_plot_new ()));
  GPtrArray *epochs = graft_run_record_get_epochs (record);
  guint acc;

  graft_loss_plot_set_x_label (plot, _("Epoch"));
  for (int validation = 0; validation <= 1; validation++)
    {
      g_autofree double *x = NULL, *y = NULL;
      gsize n = graft_run_record_get_curve (record, GRAFT_RUN_AXIS_EPOCH,
                                            validation, &x, &y);
      guint series = graft_loss_plot_add_series
        (plot, validation ? _("Validation loss") : _("Training loss"),
         GRAFT_PLOT_AXIS_LOSS,
         validation ? GRAFT_PLOT_STYLE_EPOCHS : GRAFT_PLOT_STYLE_STEPS, NULL);

      graft_loss_plot_append_many (plot, series, x, y, n);
    }
  acc = graft_loss_plot_add_series (plot, _("Validation accuracy"),
                                    GRAFT_PLOT_AXIS_ACCURACY,
                                    GRAFT_PLOT_STYLE_EPOCHS, NULL);
  for (guint i = 0; epochs != NULL && i < epochs->len; i++)
    {
      const GraftEpochReport *e = epochs->pdata[i];
      graft_loss_plot_append (plot, acc, e->epoch, e->val_accuracy);
    }
  return plot;
}

/* ---- GObject -------------------------------------------------------------- */

static void
graft_export_dialog_dispose (GObject *object)
{
  GraftExportDialog *self = GRAFT_EXPORT_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  if (self->record != NULL)
    g_clear_signal_handler (&self->predictions_handler, self->record);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  g_clear_object (&self->record);
  g_clear_object (&self->plot);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_EXPORT_DIALOG);
  G_OBJECT_CLASS (graft_export_dialog_parent_class)->dispose (object);
}

static void
graft_export_dialog_finalize (GObject *object)
{
  GraftExportDialog *self = GRAFT_EXPORT_DIALOG (object);

  g_clear_object (&self->cancellable);
  g_free (self->folder);
  g_free (self->check_model);
  g_strfreev (self->written);
  g_free (self->error);
  G_OBJECT_CLASS (graft_export_dialog_parent_class)->finalize (object);
}

static void
graft_export_dialog_class_init (GraftExportDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_export_dialog_dispose;
  object_class->finalize = graft_export_dialog_finalize;

  /* Referencing the bundle links it in, and with it its registration. */
  (void) graft_get_resource ();
  gtk_widget_class_set_template_from_resource
    (widget_class, "/io/github/graft/Graft/graft-export-dialog.ui");
#define BIND(name) \
  gtk_widget_class_bind_template_child (widget_class, GraftExportDialog, name)
  BIND (window_title);
  BIND (export_button);
  BIND (close_button);
  BIND (head_onnx_switch);
  BIND (head_weights_switch);
  BIND (model_switch);
  BIND (csv_switch);
  BIND (png_switch);
  BIND (svg_switch);
  BIND (pytorch_switch);
  BIND (size_group);
  BIND (width_spin);
  BIND (height_spin);
  BIND (folder_row);
  BIND (choose_button);
  BIND (result_group);
  BIND (progress_bar);
  BIND (status_label);
  BIND (file_list);
  BIND (check_box);
  BIND (check_spinner);
  BIND (check_icon);
  BIND (check_label);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class,
                                           graft_export_dialog_export);
  gtk_widget_class_bind_template_callback (widget_class, on_choice_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_choose_folder);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0,
                                       "window.close", NULL);
}

static void
graft_export_dialog_init (GraftExportDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  gtk_spin_button_set_value (self->width_spin,
                             GRAFT_EXPORT_DEFAULT_PLOT_WIDTH);
  gtk_spin_button_set_value (self->height_spin,
                             GRAFT_EXPORT_DEFAULT_PLOT_HEIGHT);
  adw_action_row_set_subtitle (self->folder_row, _("Finding your Documents "
                                                   "folder…"));
}

GtkWindow *
graft_export_dialog_new (GtkWindow *parent, GraftRunRecord *record,
                         GraftLossPlot *plot)
{
  GraftExportDialog *self;
  g_autoptr (GTask) task = NULL;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (GRAFT_IS_RUN_RECORD (record), NULL);
  g_return_val_if_fail (plot == NULL || GRAFT_IS_LOSS_PLOT (plot), NULL);

  self = g_object_new (GRAFT_TYPE_EXPORT_DIALOG, "transient-for", parent,
                       NULL);
  self->record = g_object_ref (record);
  self->plot = plot != NULL ? g_object_ref (plot) : plot_record (record);
  adw_window_title_set_subtitle (self->window_title,
                                 graft_run_record_get_name (record));
  update_sensitivity (self);

  task = g_task_new (self, self->cancellable, default_folder_done, NULL);
  g_task_run_in_thread (task, default_folder_thread);
  return GTK_WINDOW (self);
}
