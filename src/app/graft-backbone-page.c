/* graft-backbone-page.c: the Backbone stage.
 *
 * The list holds one row per backbone: the bundled ids (listed on a
 * worker) and every *.onnx in Graft's imported folder (listed with GIO's
 * async enumeration), each loaded with graft_backbone_load_async.  A row
 * owns its Entry: what it names, the loaded backbone or why it failed.
 * The details beside the list show the project's backbone, so the page
 * stays a view of GraftProject; selecting a row sets it.
 *
 * Importing checks the file by loading it, then writes a copy into the
 * imported folder on a worker (graft_backbone_save_copy, atomic), loads
 * the copy and selects it.  Removing deletes only that copy; editing the
 * preprocessing rewrites it.
 */
#define G_LOG_DOMAIN "graft-backbone-page"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>

#include "graft-backbone-page.h"
#include "graft-backbones.h"
#include "graft-block-strip.h"
#include "graft-preprocessing-dialog.h"
#include "graft-window.h"

/* The backbone chosen before the user or the settings say otherwise. */
#define DEFAULT_SPEC "fashion-resnet"
#define ONNX_SUFFIX ".onnx"
#define ENTRY_KEY "graft-backbone-entry"
/* Files asked of the folder enumerator at a time. */
#define ENUMERATE_BATCH 32
/* "model.onnx", "model-2.onnx", … up to this many copies of one name. */
#define MAX_COPIES 999
/* Parameter counts are written with three significant digits. */
#define THOUSAND 1e3
#define MILLION 1e6
#define BILLION 1e9

struct _GraftBackbonePage
{
  AdwBin parent_instance;

  AdwLeaflet *leaflet;
  GtkListBox *list;
  GtkRevealer *import_revealer;
  GtkLabel *import_label;
  GtkProgressBar *import_progress;
  GtkStack *details_stack;
  GtkLabel *name_label;
  GtkLabel *source_label;
  GtkWidget *remove_button;
  GtkFlowBox *columns;
  GtkLabel *input_value;
  GtkLabel *params_value;
  GtkLabel *bottleneck_value;
  GtkWidget *edit_button;
  GtkWidget *assumed_group;
  GtkLabel *resize_value;
  GtkLabel *order_value;
  GtkLabel *scale_value;
  GtkLabel *mean_value;
  GtkLabel *std_value;
  GtkLabel *mode_caption;
  GtkScrolledWindow *strip_scroller;
  GraftBlockStrip *strip;

  GraftProject *project;
  GCancellable *cancellable;       /* every load, listing and write */
  GtkDropTarget *drop_target;      /* owned by the widget */
  GtkFileChooserNative *chooser;
  char *pending_spec;              /* to select once it has loaded */
  gboolean want_first;             /* select the first bundled one */
  gboolean bundled_listed;
  gboolean imported_listed;
  guint n_imports;                 /* imports being checked or copied */
  GraftBackbone *shown;            /* whose blocks the strip holds */
};

G_DEFINE_FINAL_TYPE (GraftBackbonePage, graft_backbone_page, ADW_TYPE_BIN)

/* ---- Entries: what a row stands for --------------------------------------- */

typedef struct
{
  char *spec;                /* a bundled id, or the imported copy's path */
  gboolean bundled;
  GraftBackbone *backbone;   /* NULL while loading, and when broken */
  char *error;               /* why it did not load */
  gboolean busy;             /* loading, or its copy being rewritten */
  gboolean announce;         /* toast "Imported NAME" once loaded */
  gboolean assumed;          /* imported with defaulted preprocessing */
  AdwActionRow *row;         /* owns the entry */
  GtkWidget *spinner;
  GtkWidget *broken_icon;
  GtkWidget *remove_button;  /* a broken copy cannot be chosen: removed here */
} Entry;

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  g_free (entry->spec);
  g_clear_object (&entry->backbone);
  g_free (entry->error);
  g_free (entry);
}

static Entry *
row_entry (GtkListBoxRow *row)
{
  return row != NULL ? g_object_get_data (G_OBJECT (row), ENTRY_KEY) : NULL;
}

static Entry *
entry_at (GraftBackbonePage *self, int index)
{
  return row_entry (gtk_list_box_get_row_at_index (self->list, index));
}

static Entry *
find_entry (GraftBackbonePage *self, const char *spec)
{
  Entry *entry;

  for (int i = 0; (entry = entry_at (self, i)) != NULL; i++)
    if (g_strcmp0 (entry->spec, spec) == 0)
      return entry;
  return NULL;
}

static Entry *
find_entry_of (GraftBackbonePage *self, GraftBackbone *backbone)
{
  Entry *entry;

  for (int i = 0; backbone != NULL && (entry = entry_at (self, i)) != NULL;
       i++)
    if (entry->backbone == backbone)
      return entry;
  return NULL;
}

/* The page a row is in, or NULL once the row has left it. */
static GraftBackbonePage *
row_page (AdwActionRow *row)
{
  return (GraftBackbonePage *) gtk_widget_get_ancestor (GTK_WIDGET (row),
                                                        GRAFT_TYPE_BACKBONE_PAGE);
}

/* ---- Words for numbers ------------------------------------------------------ */

static char *
format_params (guint64 n)
{
  double value = (double) n;
  const char *unit;

  if (value < THOUSAND)
    return g_strdup_printf (g_dngettext (NULL, "%u parameter",
                                         "%u parameters", (gulong) n),
                            (guint) n);
  if (value < MILLION)
    value /= THOUSAND, unit = "k";
  else if (value < BILLION)
    value /= MILLION, unit = "M";
  else
    value /= BILLION, unit = "G";
  /* "5.2 k", "162 k", "11.7 M"; a no-break space keeps them together. */
  return g_strdup_printf (_("%.*f\u00a0%s parameters"), value < 100 ? 1 : 0,
                          value, unit);
}

static char *
format_input (GraftBackbone *backbone)
{
  GraftPreprocessing pre;
  guint channels, height, width;

  graft_backbone_get_input_size (backbone, &channels, &height, &width);
  graft_backbone_get_preprocessing (backbone, &pre);
  if (channels == 1)
    return g_strdup_printf (_("%u×%u, 1 channel"), width, height);
  if (channels == 3)
    return g_strdup_printf (pre.bgr ? _("%u×%u BGR") : _("%u×%u RGB"),
                            width, height);
  return g_strdup_printf (_("%u×%u, %u channels"), width, height, channels);
}

static char *
format_bottleneck (GraftBackbone *backbone)
{
  guint channels, height, width;

  graft_backbone_get_cut_shape (backbone, &channels, &height, &width);
  return g_strdup_printf ("%u×%u×%u", channels, height, width);
}

static char *
format_source (Entry *entry)
{
  const char *source = graft_backbone_get_source (entry->backbone);
  g_autofree char *file = g_path_get_basename (entry->spec);

  if (entry->bundled)
    return source != NULL ? g_strdup_printf (_("Bundled — %s"), source)
                          : g_strdup (_("Bundled with Graft"));
  return source != NULL
    ? g_strdup_printf (_("Imported from %s — %s"), file, source)
    : g_strdup_printf (_("Imported from %s"), file);
}

/* The importer's one line without the path it starts with: the toast
 * already names the file. */
static const char *
reason_of (const GError *error, const char *path)
{
  const char *message = error->message;

  if (path != NULL && g_str_has_prefix (message, path)
      && g_str_has_prefix (message + strlen (path), ": "))
    return message + strlen (path) + 2;
  return message;
}

/* ---- Rows ---------------------------------------------------------------------- */

static void
update_row (Entry *entry)
{
  GtkWidget *row = GTK_WIDGET (entry->row);
  g_autofree char *file = g_path_get_basename (entry->spec);

  gtk_widget_set_visible (entry->spinner, entry->busy);
  gtk_spinner_set_spinning (GTK_SPINNER (entry->spinner), entry->busy);
  gtk_widget_set_visible (entry->broken_icon, entry->error != NULL);
  gtk_widget_set_visible (entry->remove_button,
                          entry->error != NULL && !entry->bundled);
  gtk_list_box_row_set_selectable (GTK_LIST_BOX_ROW (row),
                                   entry->backbone != NULL);
  if (entry->backbone != NULL)
    {
      g_autofree char *input = format_input (entry->backbone);
      g_autofree char *params = format_params (
        graft_backbone_get_n_params (entry->backbone));
      g_autofree char *shape = format_bottleneck (entry->backbone);
      g_autofree char *origin = entry->bundled ? g_strdup (_("Bundled"))
        : g_strdup_printf (_("Imported from %s"), file);
      g_autofree char *subtitle = g_strdup_printf (
        _("%s · %s\nBottleneck %s · %s"), input, params, shape, origin);

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row),
        graft_backbone_get_name (entry->backbone));
      adw_action_row_set_subtitle (entry->row, subtitle);
    }
  else
    {
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), file);
      adw_action_row_set_subtitle (entry->row, entry->error != NULL
                                   ? entry->error : _("Loading…"));
    }
}

static void confirm_remove (GraftBackbonePage *self, Entry *entry);

static void
on_row_remove_clicked (GtkButton *button, AdwActionRow *row)
{
  GraftBackbonePage *self = row_page (row);

  if (self != NULL)
    confirm_remove (self, row_entry (GTK_LIST_BOX_ROW (row)));
}

static GtkWidget *
make_remove_button (GraftBackbonePage *self, Entry *entry)
{
  GtkWidget *button = gtk_button_new_from_icon_name ("user-trash-symbolic");
  g_autofree char *file = g_path_get_basename (entry->spec);
  g_autofree char *label = g_strdup_printf (_("Remove %s"), file);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_tooltip_text (button, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  g_signal_connect (button, "clicked", G_CALLBACK (on_row_remove_clicked),
                    entry->row);
  return button;
}

static Entry *
add_entry (GraftBackbonePage *self, const char *spec, gboolean bundled)
{
  Entry *entry = g_new0 (Entry, 1);
  GtkWidget *row = adw_action_row_new ();

  entry->spec = g_strdup (spec);
  entry->bundled = bundled;
  entry->row = ADW_ACTION_ROW (row);
  entry->spinner = gtk_spinner_new ();
  entry->broken_icon = gtk_image_new_from_icon_name ("dialog-error-symbolic");
  gtk_widget_add_css_class (entry->broken_icon, "error");
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry->broken_icon),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Could not be loaded"), -1);
  entry->remove_button = make_remove_button (self, entry);
  adw_action_row_add_suffix (entry->row, entry->spinner);
  adw_action_row_add_suffix (entry->row, entry->broken_icon);
  adw_action_row_add_suffix (entry->row, entry->remove_button);
  /* Names and file names are plain text, "&" and "<" included. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_action_row_set_title_lines (entry->row, 1);
  adw_action_row_set_subtitle_lines (entry->row, 0);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_object_set_data_full (G_OBJECT (row), ENTRY_KEY, entry, entry_free);
  gtk_list_box_append (self->list, row);
  update_row (entry);
  return entry;
}

/* Bundled first, each kind in the order of its id or file. */
static int
compare_rows (GtkListBoxRow *a, GtkListBoxRow *b, gpointer data)
{
  Entry *x = row_entry (a), *y = row_entry (b);

  if (x->bundled != y->bundled)
    return x->bundled ? -1 : 1;
  return g_utf8_collate (x->spec, y->spec);
}

/* ---- Choosing ------------------------------------------------------------------ */

static void update_details (GraftBackbonePage *self);

static void
select_entry (GraftBackbonePage *self, Entry *entry)
{
  g_clear_pointer (&self->pending_spec, g_free);
  self->want_first = FALSE;
  gtk_list_box_select_row (self->list, GTK_LIST_BOX_ROW (entry->row));
  if (self->project != NULL)
    graft_project_set_backbone (self->project, entry->backbone);
}

/* The first bundled backbone that loads, in list order; waits for one
 * still loading before it. */
static void
select_first_bundled (GraftBackbonePage *self)
{
  Entry *entry;

  for (int i = 0; (entry = entry_at (self, i)) != NULL && entry->bundled; i++)
    {
      if (entry->backbone != NULL)
        {
          select_entry (self, entry);
          return;
        }
      if (entry->error == NULL)
        return;
    }
  if (self->bundled_listed)
    self->want_first = FALSE;
}

/* Called whenever a row loaded or failed and when a listing ends. */
static void
resolve_pending (GraftBackbonePage *self)
{
  if (self->pending_spec != NULL)
    {
      Entry *entry = find_entry (self, self->pending_spec);

      if (entry != NULL && entry->backbone != NULL)
        {
          select_entry (self, entry);
          return;
        }
      if (entry != NULL && entry->error == NULL)
        return;
      if (entry == NULL && !(self->bundled_listed && self->imported_listed))
        return;
      g_clear_pointer (&self->pending_spec, g_free);
      self->want_first = TRUE;
    }
  if (self->want_first)
    select_first_bundled (self);
}

void
graft_backbone_page_select (GraftBackbonePage *self, const char *spec)
{
  g_return_if_fail (GRAFT_IS_BACKBONE_PAGE (self));

  g_free (self->pending_spec);
  self->pending_spec = g_strdup (spec != NULL && *spec != '\0'
                                 ? spec : DEFAULT_SPEC);
  resolve_pending (self);
}

static void
on_row_selected (GraftBackbonePage *self, GtkListBoxRow *row)
{
  Entry *entry = row_entry (row);

  if (entry == NULL || entry->backbone == NULL)
    return;
  g_clear_pointer (&self->pending_spec, g_free);
  self->want_first = FALSE;
  if (self->project != NULL)
    graft_project_set_backbone (self->project, entry->backbone);
}

/* Folded (narrow), the list and the details take turns. */
static void
on_row_activated (GraftBackbonePage *self, GtkListBoxRow *row)
{
  if (row_entry (row)->backbone != NULL && adw_leaflet_get_folded (self->leaflet))
    adw_leaflet_set_visible_child (self->leaflet,
                                   GTK_WIDGET (self->details_stack));
}

static void
on_back_clicked (GraftBackbonePage *self)
{
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

/* ---- Loading rows ------------------------------------------------------------- */

static void
on_entry_loaded (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (AdwActionRow) row = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftBackbone) backbone = graft_backbone_load_finish (result,
                                                                   &error);
  GraftBackbonePage *self;
  Entry *entry;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      || (self = row_page (row)) == NULL)
    return;
  entry = row_entry (GTK_LIST_BOX_ROW (row));
  entry->busy = FALSE;
  entry->backbone = g_steal_pointer (&backbone);
  if (error != NULL)
    entry->error = g_strdup (reason_of (error, entry->spec));
  update_row (entry);
  if (entry->announce && entry->backbone != NULL)
    graft_toast (GTK_WIDGET (self), _("Imported %s"),
                 graft_backbone_get_name (entry->backbone));
  else if (entry->announce)
    graft_toast (GTK_WIDGET (self), _("Could not load the imported copy: %s"),
                 entry->error);
  entry->announce = FALSE;
  resolve_pending (self);
}

static void
load_entry (GraftBackbonePage *self, Entry *entry)
{
  g_clear_object (&entry->backbone);
  g_clear_pointer (&entry->error, g_free);
  entry->busy = TRUE;
  update_row (entry);
  graft_backbone_load_async (entry->spec, NULL, NULL, NULL, self->cancellable,
                             on_entry_loaded, g_object_ref (entry->row));
}

/* Adds a row for @spec unless there is one, and (re)loads it. */
static Entry *
add_and_load (GraftBackbonePage *self, const char *spec, gboolean bundled)
{
  Entry *entry = find_entry (self, spec);

  if (entry == NULL)
    entry = add_entry (self, spec, bundled);
  load_entry (self, entry);
  return entry;
}

/* ---- Listing: bundled ids on a worker, the imported folder with GIO ------------ */

static void
list_bundled_thread (GTask *task, gpointer source, gpointer data,
                     GCancellable *cancellable)
{
  g_task_return_pointer (task, graft_backbones_list (),
                         (GDestroyNotify) g_strfreev);
}

static void
on_bundled_listed (GObject *source, GAsyncResult *result, gpointer data)
{
  GraftBackbonePage *self = GRAFT_BACKBONE_PAGE (source);
  g_auto (GStrv) ids = g_task_propagate_pointer (G_TASK (result), NULL);

  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    add_and_load (self, ids[i], TRUE);
  self->bundled_listed = TRUE;
  resolve_pending (self);
}

static gboolean
is_onnx_name (const char *name)
{
  g_autofree char *folded = g_ascii_strdown (name, -1);

  return g_str_has_suffix (folded, ONNX_SUFFIX);
}

static void
imported_listed (GraftBackbonePage *self, const GError *error)
{
  if (error != NULL && !g_error_matches (error, G_IO_ERROR,
                                         G_IO_ERROR_NOT_FOUND))
    graft_toast (GTK_WIDGET (self),
                 _("Could not list the imported models: %s"), error->message);
  self->imported_listed = TRUE;
  resolve_pending (self);
}

static void
on_next_files (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GraftBackbonePage) self = data;
  GFileEnumerator *enumerator = G_FILE_ENUMERATOR (source);
  g_autoptr (GError) error = NULL;
  GList *infos = g_file_enumerator_next_files_finish (enumerator, result,
                                                      &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (infos == NULL)
    {
      imported_listed (self, error);
      return;
    }
  for (GList *l = infos; l != NULL; l = l->next)
    {
      GFileInfo *info = l->data;
      const char *name = g_file_info_get_name (info);
      g_autoptr (GFile) file = g_file_enumerator_get_child (enumerator, info);
      g_autofree char *path = g_file_get_path (file);

      /* Hidden files include the temporaries of atomic writes. */
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_REGULAR
          && !g_file_info_get_is_hidden (info) && is_onnx_name (name))
        add_and_load (self, path, FALSE);
    }
  g_list_free_full (infos, g_object_unref);
  g_file_enumerator_next_files_async (enumerator, ENUMERATE_BATCH,
                                      G_PRIORITY_DEFAULT, self->cancellable,
                                      on_next_files, g_object_ref (self));
}

static void
on_imported_enumerated (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GraftBackbonePage) self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GFileEnumerator) enumerator =
    g_file_enumerate_children_finish (G_FILE (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (enumerator == NULL)
    {
      imported_listed (self, error);
      return;
    }
  g_file_enumerator_next_files_async (enumerator, ENUMERATE_BATCH,
                                      G_PRIORITY_DEFAULT, self->cancellable,
                                      on_next_files, g_object_ref (self));
}

static void
list_backbones (GraftBackbonePage *self)
{
  g_autoptr (GTask) task = g_task_new (self, self->cancellable,
                                       on_bundled_listed, NULL);
  g_autofree char *dir = graft_project_get_imported_dir ();
  g_autoptr (GFile) folder = g_file_new_for_path (dir);

  g_task_set_source_tag (task, list_backbones);
  g_task_run_in_thread (task, list_bundled_thread);
  g_file_enumerate_children_async (folder,
                                   G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                   G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                   G_FILE_ATTRIBUTE_STANDARD_IS_HIDDEN,
                                   G_FILE_QUERY_INFO_NONE, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_imported_enumerated,
                                   g_object_ref (self));
}

/* ---- The details ---------------------------------------------------------------- */

static char *
format_scale (double scale)
{
  static const double divisors[] = { 255.0, 127.5 };

  for (guint i = 0; i < G_N_ELEMENTS (divisors); i++)
    if (fabs (scale * divisors[i] - 1.0) < 1e-6)
      return g_strdup_printf ("1/%g", divisors[i]);
  return g_strdup_printf ("%g", scale);
}

static char *
format_channels (const double *values, guint channels)
{
  if (channels == 1)
    return g_strdup_printf ("%g", values[0]);
  return g_strdup_printf ("%g, %g, %g", values[0], values[1], values[2]);
}

static void
show_preprocessing (GraftBackbonePage *self, GraftBackbone *backbone,
                    gboolean assumed)
{
  GraftPreprocessing pre;
  g_autofree char *scale = NULL;
  g_autofree char *mean = NULL;
  g_autofree char *std = NULL;

  graft_backbone_get_preprocessing (backbone, &pre);
  scale = format_scale (pre.scale);
  mean = format_channels (pre.mean, pre.channels);
  std = format_channels (pre.std, pre.channels);
  gtk_widget_set_visible (self->assumed_group, assumed || !pre.from_file);
  gtk_label_set_text (self->resize_value, pre.resize == GRAFT_RESIZE_SQUASH
                      ? _("Squash") : _("Centre crop"));
  gtk_label_set_text (self->order_value, pre.channels == 1 ? _("Grey")
                      : pre.bgr ? "BGR" : "RGB");
  gtk_label_set_text (self->scale_value, scale);
  gtk_label_set_text (self->mean_value, mean);
  gtk_label_set_text (self->std_value, std);
}

static char *
mode_caption (GraftRunMode mode, guint n_blocks, guint first_trainable)
{
  guint n_learn = n_blocks - MIN (first_trainable, n_blocks);

  switch (mode)
    {
    case GRAFT_RUN_MODE_EXTRACT:
      return g_strdup_printf (g_dngettext (NULL,
        "Feature extraction: its %u block is frozen; only the new head learns",
        "Feature extraction: all %u blocks frozen; only the new head learns",
        n_blocks), n_blocks);
    case GRAFT_RUN_MODE_FINETUNE:
      if (n_learn == n_blocks)
        return g_strdup_printf (g_dngettext (NULL,
          "Fine-tuning: its %u block learns with the new head",
          "Fine-tuning: all %u blocks learn with the new head", n_blocks),
          n_blocks);
      return g_strdup_printf (g_dngettext (NULL,
        "Fine-tuning: the last %u of %u blocks learns",
        "Fine-tuning: the last %u of %u blocks learn", n_learn),
        n_learn, n_blocks);
    case GRAFT_RUN_MODE_PROGRESSIVE:
    default:
      return g_strdup (_("Progressive unfreezing: starts frozen, then "
                         "unfreezes one block per stage from the end"));
    }
}

/* Frozen or trainable follows the Train page's mode. */
static void
update_trainable (GraftBackbonePage *self)
{
  g_autofree char *caption = NULL;

  if (self->project == NULL || self->shown == NULL)
    return;
  graft_block_strip_set_trainable_from (self->strip,
    graft_project_get_first_trainable (self->project));
  caption = mode_caption (graft_project_get_mode (self->project),
                          graft_backbone_get_n_blocks (self->shown),
                          graft_project_get_first_trainable (self->project));
  gtk_label_set_text (self->mode_caption, caption);
}

static void
show_blocks (GraftBackbonePage *self, GraftBackbone *backbone)
{
  guint n = graft_backbone_get_n_blocks (backbone);
  g_autofree GraftBlockInfo *blocks = g_new0 (GraftBlockInfo, MAX (n, 1));
  guint channels, height, width;

  for (guint i = 0; i < n; i++)
    {
      const GraftBackboneBlock *block = graft_backbone_get_block (backbone, i);

      blocks[i] = (GraftBlockInfo) { block->name, block->kind,
                                     block->n_params, block->channels,
                                     block->height, block->width };
    }
  graft_backbone_get_cut_shape (backbone, &channels, &height, &width);
  graft_block_strip_set_blocks (self->strip, blocks, n, channels, height,
                                width);
  self->shown = backbone;
  update_trainable (self);
}

static void
show_facts (GraftBackbonePage *self, GraftBackbone *backbone, Entry *entry)
{
  g_autofree char *input = format_input (backbone);
  g_autofree char *params = format_params (graft_backbone_get_n_params
                                             (backbone));
  g_autofree char *shape = format_bottleneck (backbone);
  g_autofree char *source = entry != NULL ? format_source (entry)
    : g_strdup (graft_backbone_get_source (backbone));
  gboolean imported = entry != NULL && !entry->bundled;

  gtk_label_set_text (self->name_label, graft_backbone_get_name (backbone));
  gtk_label_set_text (self->source_label, source);
  gtk_widget_set_visible (GTK_WIDGET (self->source_label), source != NULL);
  gtk_label_set_text (self->input_value, input);
  gtk_label_set_text (self->params_value, params);
  gtk_label_set_text (self->bottleneck_value, shape);
  gtk_widget_set_visible (self->remove_button, imported);
  gtk_widget_set_visible (self->edit_button, imported);
  /* Not while its copy is being rewritten. */
  gtk_widget_set_sensitive (self->remove_button, imported && !entry->busy);
  gtk_widget_set_sensitive (self->edit_button, imported && !entry->busy);
}

static void
update_details (GraftBackbonePage *self)
{
  GraftBackbone *backbone = self->project != NULL
    ? graft_project_get_backbone (self->project) : NULL;
  Entry *entry = find_entry_of (self, backbone);

  gtk_stack_set_visible_child_name (self->details_stack,
                                    backbone != NULL ? "details" : "empty");
  if (backbone == NULL)
    {
      self->shown = NULL;
      return;
    }
  show_facts (self, backbone, entry);
  show_preprocessing (self, backbone, entry != NULL && entry->assumed);
  if (backbone != self->shown)
    show_blocks (self, backbone);
}

/* The list follows the project too: a backbone set elsewhere is shown
 * selected when it is one of the rows. */
static void
on_project_backbone (GraftBackbonePage *self)
{
  Entry *entry = find_entry_of (self, graft_project_get_backbone
                                        (self->project));

  if (entry == NULL)
    gtk_list_box_unselect_all (self->list);
  else if (gtk_list_box_get_selected_row (self->list)
           != GTK_LIST_BOX_ROW (entry->row))
    gtk_list_box_select_row (self->list, GTK_LIST_BOX_ROW (entry->row));
  update_details (self);
}

void
graft_backbone_page_set_project (GraftBackbonePage *self,
                                 GraftProject *project)
{
  g_return_if_fail (GRAFT_IS_BACKBONE_PAGE (self));

  if (self->project != NULL)
    g_signal_handlers_disconnect_by_data (self->project, self);
  if (!g_set_object (&self->project, project) || project == NULL)
    return;
  g_signal_connect_swapped (project, "notify::backbone",
                            G_CALLBACK (on_project_backbone), self);
  g_signal_connect_swapped (project, "notify::mode",
                            G_CALLBACK (update_trainable), self);
  g_signal_connect_swapped (project, "notify::unfreeze",
                            G_CALLBACK (update_trainable), self);
  on_project_backbone (self);
}

/* ---- Importing ------------------------------------------------------------------ */

typedef struct
{
  GraftBackbonePage *page;  /* while the file is checked */
  char *path;               /* the file the user gave */
  char *name;               /* its basename, for messages and the copy */
  GraftBackbone *backbone;  /* the file, checked */
  gboolean assumed;         /* its preprocessing was defaulted */
} ImportJob;

/* May run on the worker that copied: it holds no widget by then. */
static void
import_job_free (ImportJob *job)
{
  g_clear_object (&job->page);
  g_free (job->path);
  g_free (job->name);
  g_clear_object (&job->backbone);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImportJob, import_job_free)

/* @text is taken. */
static void
show_import (GraftBackbonePage *self, char *text)
{
  gtk_label_set_text (self->import_label, text);
  gtk_revealer_set_reveal_child (self->import_revealer, self->n_imports > 0);
  g_free (text);
}

static void
import_ended (GraftBackbonePage *self)
{
  self->n_imports--;
  gtk_revealer_set_reveal_child (self->import_revealer, self->n_imports > 0);
}

static void
on_import_progress (double fraction, const char *what, gpointer data)
{
  GraftBackbonePage *self = data;

  if (!g_cancellable_is_cancelled (self->cancellable))
    gtk_progress_bar_set_fraction (self->import_progress, fraction);
}

/* Creates @dir/NAME.onnx, or NAME-2.onnx, … when taken, empty, so that
 * two imports never pick one name; the copy then replaces it. */
static char *
reserve_copy (const char *dir, const char *name, GError **error)
{
  g_autofree char *stem = is_onnx_name (name)
    ? g_strndup (name, strlen (name) - strlen (ONNX_SUFFIX)) : g_strdup (name);

  for (guint i = 1; i <= MAX_COPIES; i++)
    {
      g_autofree char *file = i == 1
        ? g_strconcat (stem, ONNX_SUFFIX, NULL)
        : g_strdup_printf ("%s-%u%s", stem, i, ONNX_SUFFIX);
      g_autofree char *path = g_build_filename (dir, file, NULL);
      int fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL, 0644);
      int saved = errno;

      if (fd >= 0)
        {
          g_close (fd, NULL);
          return g_steal_pointer (&path);
        }
      if (saved != EEXIST)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "%s: %s", path, g_strerror (saved));
          return NULL;
        }
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
               _("Too many copies named %s"), name);
  return NULL;
}

static void
copy_thread (GTask *task, gpointer source, gpointer data,
             GCancellable *cancellable)
{
  ImportJob *job = data;
  g_autofree char *dir = graft_project_get_imported_dir ();
  g_autofree char *dest = NULL;
  GError *error = NULL;

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               "%s: %s", dir, g_strerror (saved));
      return;
    }
  dest = reserve_copy (dir, job->name, &error);
  if (dest != NULL
      && !graft_backbone_save_copy (job->backbone, NULL, dest, &error))
    g_unlink (dest);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_steal_pointer (&dest), g_free);
}

static void
on_import_copied (GObject *source, GAsyncResult *result, gpointer data)
{
  GraftBackbonePage *self = GRAFT_BACKBONE_PAGE (source);
  ImportJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  g_autofree char *dest = g_task_propagate_pointer (G_TASK (result), &error);
  Entry *entry;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  import_ended (self);
  if (dest == NULL)
    {
      graft_toast (GTK_WIDGET (self), _("Could not import %s: %s"),
                   job->name, error->message);
      return;
    }
  entry = add_and_load (self, dest, FALSE);
  entry->announce = TRUE;
  /* The copy carries the assumed keys as if the file had them. */
  entry->assumed = job->assumed;
  graft_backbone_page_select (self, dest);
}

/* Graft keeps its own copy, so the model is there after a restart and
 * whatever happens to the user's file. */
static void
copy_import (GraftBackbonePage *self, ImportJob *job)
{
  g_autoptr (GTask) task = g_task_new (self, self->cancellable,
                                       on_import_copied, NULL);

  show_import (self, g_strdup_printf (_("Copying %s…"), job->name));
  gtk_progress_bar_pulse (self->import_progress);
  g_task_set_source_tag (task, copy_import);
  g_task_set_task_data (task, job, (GDestroyNotify) import_job_free);
  g_task_run_in_thread (task, copy_thread);
}

static void
on_import_checked (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (ImportJob) job = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftBackbonePage) self = NULL;
  GraftPreprocessing pre;

  job->backbone = graft_backbone_load_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = g_steal_pointer (&job->page);
  if (job->backbone == NULL)
    {
      import_ended (self);
      graft_toast (GTK_WIDGET (self), _("Could not import %s: %s"),
                   job->name, reason_of (error, job->path));
      return;
    }
  graft_backbone_get_preprocessing (job->backbone, &pre);
  job->assumed = !pre.from_file;
  copy_import (self, g_steal_pointer (&job));
}

/* Checks the file by loading it before anything is written. */
void
graft_backbone_page_import (GraftBackbonePage *self, GFile *file)
{
  ImportJob *job;

  g_return_if_fail (GRAFT_IS_BACKBONE_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  job = g_new0 (ImportJob, 1);
  job->path = g_file_get_path (file);
  job->name = g_file_get_basename (file);
  if (job->path == NULL)
    {
      graft_toast (GTK_WIDGET (self),
                   _("Could not import %s: only files on this computer can "
                     "be imported"), job->name);
      import_job_free (job);
      return;
    }
  job->page = g_object_ref (self);
  self->n_imports++;
  show_import (self, g_strdup_printf (_("Checking %s…"), job->name));
  gtk_progress_bar_set_fraction (self->import_progress, 0.0);
  graft_backbone_load_async (job->path, on_import_progress,
                             g_object_ref (self), g_object_unref,
                             self->cancellable, on_import_checked, job);
}

/* A drop may hold several models; other files get one toast in all. */
static gboolean
on_drop (GtkDropTarget *target, const GValue *value, double x, double y,
         GraftBackbonePage *self)
{
  GSList *files = gdk_file_list_get_files (g_value_get_boxed (value));
  g_autofree char *skipped = NULL;
  guint n_skipped = 0, n_files;

  gtk_widget_remove_css_class (GTK_WIDGET (self), "drop-highlight");
  for (GSList *l = files; l != NULL; l = l->next)
    {
      g_autofree char *name = g_file_get_basename (l->data);

      if (name != NULL && is_onnx_name (name))
        graft_backbone_page_import (self, l->data);
      else if (n_skipped++ == 0)
        skipped = g_steal_pointer (&name);
    }
  if (n_skipped == 1)
    graft_toast (GTK_WIDGET (self),
                 _("%s is not an ONNX model: import files ending in .onnx"),
                 skipped != NULL ? skipped : "?");
  else if (n_skipped > 1)
    graft_toast (GTK_WIDGET (self),
                 _("%u files are not ONNX models: import files ending in "
                   ".onnx"), n_skipped);
  n_files = g_slist_length (files);
  g_slist_free (files);
  return n_skipped < n_files;
}

static GdkDragAction
on_drag_enter (GtkDropTarget *target, double x, double y,
               GraftBackbonePage *self)
{
  gtk_widget_add_css_class (GTK_WIDGET (self), "drop-highlight");
  return GDK_ACTION_COPY;
}

static void
on_drag_leave (GtkDropTarget *target, GraftBackbonePage *self)
{
  gtk_widget_remove_css_class (GTK_WIDGET (self), "drop-highlight");
}

GtkDropTarget *
graft_backbone_page_get_drop_target (GraftBackbonePage *self)
{
  g_return_val_if_fail (GRAFT_IS_BACKBONE_PAGE (self), NULL);

  return self->drop_target;
}

static void
on_chooser_response (GtkNativeDialog *chooser, int response,
                     GraftBackbonePage *self)
{
  g_autoptr (GListModel) files = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (chooser));
  for (guint i = 0; files != NULL && i < g_list_model_get_n_items (files); i++)
    {
      g_autoptr (GFile) file = g_list_model_get_item (files, i);
      graft_backbone_page_import (self, file);
    }
  g_clear_object (&self->chooser);
}

void
graft_backbone_page_choose_import (GraftBackbonePage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();

  g_return_if_fail (GRAFT_IS_BACKBONE_PAGE (self));

  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (_("Import ONNX Model"),
    GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
    GTK_FILE_CHOOSER_ACTION_OPEN, _("_Import"), _("_Cancel"));
  gtk_file_filter_set_name (filter, _("ONNX models"));
  gtk_file_filter_add_suffix (filter, "onnx");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), filter);
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (self->chooser),
                                        TRUE);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response",
                    G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

/* ---- Removing an imported model ------------------------------------------------- */

static void
on_removed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (AdwActionRow) row = data;
  g_autoptr (GError) error = NULL;
  GraftBackbonePage *self;
  Entry *entry;
  gboolean was_chosen;
  g_autofree char *name = NULL;

  g_file_delete_finish (G_FILE (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      || (self = row_page (row)) == NULL)
    return;
  entry = row_entry (GTK_LIST_BOX_ROW (row));
  name = g_strdup (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)));
  if (error != NULL)
    {
      graft_toast (GTK_WIDGET (self), _("Could not remove %s: %s"), name,
                   error->message);
      return;
    }
  was_chosen = self->project != NULL && entry->backbone != NULL
    && graft_project_get_backbone (self->project) == entry->backbone;
  gtk_list_box_remove (self->list, GTK_WIDGET (row));
  graft_toast (GTK_WIDGET (self), _("Removed %s"), name);
  if (was_chosen)
    {
      self->want_first = TRUE;
      resolve_pending (self);
    }
}

static void
on_remove_response (AdwMessageDialog *dialog, const char *response,
                    gpointer data)
{
  AdwActionRow *row = data;
  Entry *entry = row_entry (GTK_LIST_BOX_ROW (row));
  GraftBackbonePage *self = row_page (row);
  g_autoptr (GFile) file = NULL;

  if (g_strcmp0 (response, "remove") != 0 || self == NULL)
    return;
  file = g_file_new_for_path (entry->spec);
  g_file_delete_async (file, G_PRIORITY_DEFAULT, self->cancellable,
                       on_removed, g_object_ref (row));
}

static Entry *
chosen_entry (GraftBackbonePage *self)
{
  return self->project != NULL
    ? find_entry_of (self, graft_project_get_backbone (self->project)) : NULL;
}

/* Asks first: the copy is all Graft has of the model. */
static void
confirm_remove (GraftBackbonePage *self, Entry *entry)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *dialog;
  const char *title =
    adw_preferences_row_get_title (ADW_PREFERENCES_ROW (entry->row));

  if (entry->bundled)
    return;
  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root)
                                                        : NULL, NULL, NULL);
  adw_message_dialog_format_heading (ADW_MESSAGE_DIALOG (dialog),
                                     _("Remove “%s”?"), title);
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (dialog),
    _("Graft deletes its own copy of this model. The file you imported it "
      "from is not touched, and runs already trained keep their results."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "remove", _("_Remove"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog),
    "remove", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog),
                                           "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog),
                                         "cancel");
  g_signal_connect_data (dialog, "response", G_CALLBACK (on_remove_response),
                         g_object_ref (entry->row),
                         (GClosureNotify) (void (*) (void)) g_object_unref, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_remove_clicked (GraftBackbonePage *self)
{
  Entry *entry = chosen_entry (self);

  if (entry != NULL)
    confirm_remove (self, entry);
}

/* ---- Correcting the preprocessing of an imported model -------------------------- */

typedef struct
{
  GraftBackbone *backbone;
  GraftPreprocessing pre;
  char *path;
} RewriteJob;

static void
rewrite_job_free (RewriteJob *job)
{
  g_clear_object (&job->backbone);
  g_free (job->path);
  g_free (job);
}

/* Writes the copy again with the new keys, and reads it back: what the
 * page shows and runs use is what the file says. */
static void
rewrite_thread (GTask *task, gpointer source, gpointer data,
                GCancellable *cancellable)
{
  RewriteJob *job = data;
  GError *error = NULL;
  GraftBackbone *reloaded = NULL;

  if (graft_backbone_save_copy (job->backbone, &job->pre, job->path, &error))
    reloaded = graft_backbone_load (job->path, cancellable, &error);
  if (reloaded == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, reloaded, g_object_unref);
}

static void
on_rewritten (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (AdwActionRow) row = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftBackbone) backbone =
    g_task_propagate_pointer (G_TASK (result), &error);
  GraftBackbonePage *self = GRAFT_BACKBONE_PAGE (source);
  Entry *entry = row_entry (GTK_LIST_BOX_ROW (row));
  gboolean was_chosen;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  entry->busy = FALSE;
  if (backbone == NULL)
    {
      graft_toast (GTK_WIDGET (self), _("Could not save the preprocessing: %s"),
                   reason_of (error, entry->spec));
      update_row (entry);
      update_details (self);
      return;
    }
  was_chosen = self->project != NULL
    && graft_project_get_backbone (self->project) == entry->backbone;
  g_set_object (&entry->backbone, backbone);
  entry->assumed = FALSE;
  update_row (entry);
  if (was_chosen)
    graft_project_set_backbone (self->project, backbone);
  graft_toast (GTK_WIDGET (self), _("Saved the preprocessing of %s"),
               graft_backbone_get_name (backbone));
}

static void
on_preprocessing_save (GraftPreprocessingDialog *dialog, gpointer data)
{
  AdwActionRow *row = data;
  GraftBackbonePage *self = row_page (row);
  Entry *entry = row_entry (GTK_LIST_BOX_ROW (row));
  g_autoptr (GTask) task = NULL;
  RewriteJob *job;

  if (self == NULL || entry->backbone == NULL)
    return;
  job = g_new0 (RewriteJob, 1);
  job->backbone = g_object_ref (entry->backbone);
  job->path = g_strdup (entry->spec);
  graft_preprocessing_dialog_get_preprocessing (dialog, &job->pre);
  entry->busy = TRUE;
  update_row (entry);
  update_details (self);
  task = g_task_new (self, self->cancellable, on_rewritten,
                     g_object_ref (row));
  g_task_set_source_tag (task, on_preprocessing_save);
  g_task_set_task_data (task, job, (GDestroyNotify) rewrite_job_free);
  g_task_run_in_thread (task, rewrite_thread);
}

GtkWindow *
graft_backbone_page_edit_preprocessing (GraftBackbonePage *self)
{
  Entry *entry;
  GtkRoot *root;
  GraftPreprocessing pre;
  GraftPreprocessingDialog *dialog;

  g_return_val_if_fail (GRAFT_IS_BACKBONE_PAGE (self), NULL);

  entry = chosen_entry (self);
  if (entry == NULL || entry->bundled || entry->busy)
    return NULL;
  root = gtk_widget_get_root (GTK_WIDGET (self));
  graft_backbone_get_preprocessing (entry->backbone, &pre);
  dialog = graft_preprocessing_dialog_new (GTK_IS_WINDOW (root)
                                           ? GTK_WINDOW (root) : NULL,
                                           graft_backbone_get_name
                                             (entry->backbone), &pre);
  g_signal_connect_data (dialog, "save", G_CALLBACK (on_preprocessing_save),
                         g_object_ref (entry->row),
                         (GClosureNotify) (void (*) (void)) g_object_unref, 0);
  gtk_window_present (GTK_WINDOW (dialog));
  return GTK_WINDOW (dialog);
}

static void
on_edit_clicked (GraftBackbonePage *self)
{
  graft_backbone_page_edit_preprocessing (self);
}

/* ---- For tests ------------------------------------------------------------------- */

GtkListBox *
graft_backbone_page_get_list (GraftBackbonePage *self)
{
  g_return_val_if_fail (GRAFT_IS_BACKBONE_PAGE (self), NULL);

  return self->list;
}

GtkWidget *
graft_backbone_page_get_strip (GraftBackbonePage *self)
{
  g_return_val_if_fail (GRAFT_IS_BACKBONE_PAGE (self), NULL);

  return GTK_WIDGET (self->strip);
}

const char *
graft_backbone_page_get_row_spec (GtkListBoxRow *row)
{
  Entry *entry = row_entry (row);

  return entry != NULL ? entry->spec : NULL;
}

gboolean
graft_backbone_page_is_busy (GraftBackbonePage *self)
{
  Entry *entry;

  g_return_val_if_fail (GRAFT_IS_BACKBONE_PAGE (self), FALSE);

  if (!self->bundled_listed || !self->imported_listed || self->n_imports > 0)
    return TRUE;
  for (int i = 0; (entry = entry_at (self, i)) != NULL; i++)
    if (entry->busy)
      return TRUE;
  return FALSE;
}

/* ---- The object ---------------------------------------------------------------- */

GtkWidget *
graft_backbone_page_new (void)
{
  return g_object_new (GRAFT_TYPE_BACKBONE_PAGE, NULL);
}

static void
graft_backbone_page_dispose (GObject *object)
{
  GraftBackbonePage *self = GRAFT_BACKBONE_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  graft_backbone_page_set_project (self, NULL);
  /* The bin's child is a bound template child: let go of it once. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_BACKBONE_PAGE);
  G_OBJECT_CLASS (graft_backbone_page_parent_class)->dispose (object);
}

static void
graft_backbone_page_finalize (GObject *object)
{
  GraftBackbonePage *self = GRAFT_BACKBONE_PAGE (object);

  g_clear_object (&self->cancellable);
  g_free (self->pending_spec);
  G_OBJECT_CLASS (graft_backbone_page_parent_class)->finalize (object);
}

#define BIND_CHILD(name) \
  gtk_widget_class_bind_template_child (widget_class, GraftBackbonePage, name)

static void
graft_backbone_page_class_init (GraftBackbonePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_backbone_page_dispose;
  object_class->finalize = graft_backbone_page_finalize;

  g_type_ensure (GRAFT_TYPE_BLOCK_STRIP);
  /* Registered with the page, so that its template is known as early. */
  g_type_ensure (GRAFT_TYPE_PREPROCESSING_DIALOG);
  gtk_widget_class_set_template_from_resource (widget_class,
    "/io/github/graft/Graft/graft-backbone-page.ui");
  BIND_CHILD (leaflet);
  BIND_CHILD (list);
  BIND_CHILD (import_revealer);
  BIND_CHILD (import_label);
  BIND_CHILD (import_progress);
  BIND_CHILD (details_stack);
  BIND_CHILD (name_label);
  BIND_CHILD (source_label);
  BIND_CHILD (remove_button);
  BIND_CHILD (columns);
  BIND_CHILD (input_value);
  BIND_CHILD (params_value);
  BIND_CHILD (bottleneck_value);
  BIND_CHILD (edit_button);
  BIND_CHILD (assumed_group);
  BIND_CHILD (resize_value);
  BIND_CHILD (order_value);
  BIND_CHILD (scale_value);
  BIND_CHILD (mean_value);
  BIND_CHILD (std_value);
  BIND_CHILD (mode_caption);
  BIND_CHILD (strip_scroller);
  gtk_widget_class_bind_template_callback (widget_class, on_row_selected);
  gtk_widget_class_bind_template_callback (widget_class, on_row_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_back_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_remove_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_edit_clicked);
  gtk_widget_class_bind_template_callback (widget_class,
                                           graft_backbone_page_choose_import);
}

#undef BIND_CHILD

/* The flow box lays the two columns out; its children are not choices. */
static void
unfocus_columns (GraftBackbonePage *self)
{
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->columns));
       child != NULL; child = gtk_widget_get_next_sibling (child))
    gtk_widget_set_focusable (child, FALSE);
}

static void
add_drop_target (GraftBackbonePage *self)
{
  self->drop_target = gtk_drop_target_new (GDK_TYPE_FILE_LIST,
                                           GDK_ACTION_COPY);
  g_signal_connect (self->drop_target, "drop", G_CALLBACK (on_drop), self);
  g_signal_connect (self->drop_target, "enter", G_CALLBACK (on_drag_enter),
                    self);
  g_signal_connect (self->drop_target, "leave", G_CALLBACK (on_drag_leave),
                    self);
  gtk_widget_add_controller (GTK_WIDGET (self),
                             GTK_EVENT_CONTROLLER (self->drop_target));
}

static void
graft_backbone_page_init (GraftBackbonePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->pending_spec = g_strdup (DEFAULT_SPEC);
  self->strip = GRAFT_BLOCK_STRIP (graft_block_strip_new ());
  gtk_scrolled_window_set_child (self->strip_scroller,
                                 GTK_WIDGET (self->strip));
  gtk_list_box_set_sort_func (self->list, compare_rows, NULL, NULL);
  unfocus_columns (self);
  add_drop_target (self);
  list_backbones (self);
}
