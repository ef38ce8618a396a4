/* graft-data-page.c: the Data stage, a view of the project's data.
 *
 * Three states in a GtkStack, chosen from the project alone: "empty"
 * (nothing scanned yet), "scanning" (the scan runs on the data layer's
 * worker; this page only follows its progress properties) and "classes"
 * (the last scan's report).  Cancelling or a failed scan leaves the
 * project's previous data, so the page goes back to whatever it showed.
 *
 * The class list is bound to the project's GListModel: a row per
 * GraftClassItem, so a renamed entry is the label the run gets and a
 * removed row is a class the run is not given.  Nothing here touches the
 * user's files; thumbnails are decoded on a worker by
 * GraftThumbnailStrip. */
#define G_LOG_DOMAIN "graft-data-page"

#include "graft-data-page.h"

#include <glib/gi18n.h>
#include <math.h>

#include "graft-thumbnail-strip.h"
#include "graft-window.h"

/* Skipped files or warnings of a kind listed one by one; the rest are
 * only counted, so that a folder of thousands of documents does not
 * build thousands of rows. */
#define MAX_LISTED_ROWS 200
/* The files a warning row names before "…". */
#define MAX_WARNING_FILES 3
/* Past this many warnings of one kind, they fold into one expander. */
#define MAX_WARNINGS_UNFOLDED 3
/* How often the bar pulses while the number of files is unknown. */
#define PULSE_INTERVAL_MS 100
/* Long enough to reach the Undo button. */
#define UNDO_TOAST_SECONDS 8
#define PERCENT 100.0
#define ROW_MARGIN 12
#define ROW_SPACING 6
#define NAME_WIDTH_CHARS 18

/* ---- A class row --------------------------------------------------------- */

#define GRAFT_TYPE_DATA_CLASS_ROW (graft_data_class_row_get_type ())
G_DECLARE_FINAL_TYPE (GraftDataClassRow, graft_data_class_row, GRAFT,
                      DATA_CLASS_ROW, GtkListBoxRow)

struct _GraftDataClassRow
{
  GtkListBoxRow parent_instance;

  GraftProject *project;
  GraftClassItem *item;
  GtkWidget *entry;
  GtkWidget *count_label;
  GtkWidget *hint_label;
  GtkWidget *remove_button;
};

G_DEFINE_FINAL_TYPE (GraftDataClassRow, graft_data_class_row,
                     GTK_TYPE_LIST_BOX_ROW)

static void
class_row_update_count (GraftDataClassRow *self)
{
  guint count = graft_class_item_get_count (self->item);
  g_autofree char *pictures
    = g_strdup_printf (ngettext ("%u picture", "%u pictures", count), count);
  g_autofree char *text
    = g_strdup_printf (C_("class row", "%s · %u training, %u validation"),
                       pictures, graft_class_item_get_n_train (self->item),
                       graft_class_item_get_n_val (self->item));

  gtk_label_set_text (GTK_LABEL (self->count_label), text);
}

/* The entry's text without the spaces around it. */
static char *
class_row_get_text (GraftDataClassRow *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->entry));

  return g_strstrip (g_strdup (text));
}

static void
class_row_update_name (GraftDataClassRow *self)
{
  const char *name = graft_class_item_get_name (self->item);
  g_autofree char *shown = class_row_get_text (self);
  g_autofree char *remove = g_strdup_printf (_("Remove class %s"), name);

  if (g_strcmp0 (shown, name) != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->entry), name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->remove_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, remove, -1);
}

/* Why @name cannot be this class's name, or NULL when it can.  Names are
 * compared without case: "Bag" and "bag" would read as one label. */
static char *
class_row_name_problem (GraftDataClassRow *self, const char *name)
{
  GListModel *classes = graft_project_get_classes (self->project);
  g_autofree char *folded = g_utf8_casefold (name, -1);

  if (*name == '\0')
    return g_strdup (_("A class needs a name."));
  for (guint i = 0; i < g_list_model_get_n_items (classes); i++)
    {
      g_autoptr (GraftClassItem) other = g_list_model_get_item (classes, i);
      g_autofree char *other_folded
        = g_utf8_casefold (graft_class_item_get_name (other), -1);

      if (other != self->item && g_strcmp0 (folded, other_folded) == 0)
        return g_strdup_printf (_("Another class is already called “%s”."),
                                graft_class_item_get_name (other));
    }
  return NULL;
}

/* Every acceptable edit is the class's name at once; a refused one
 * says why under the entry and leaves the name as it was. */
static void
class_row_on_changed (GraftDataClassRow *self)
{
  g_autofree char *name = class_row_get_text (self);
  g_autofree char *problem = class_row_name_problem (self, name);

  gtk_label_set_text (GTK_LABEL (self->hint_label), problem);
  gtk_widget_set_visible (self->hint_label, problem != NULL);
  gtk_accessible_update_state (GTK_ACCESSIBLE (self->entry),
                               GTK_ACCESSIBLE_STATE_INVALID,
                               problem != NULL ? GTK_ACCESSIBLE_INVALID_TRUE
                               : GTK_ACCESSIBLE_INVALID_FALSE, -1);
  if (problem != NULL)
    {
      gtk_widget_add_css_class (self->entry, "error");
      return;
    }
  gtk_widget_remove_css_class (self->entry, "error");
  graft_class_item_set_name (self->item, name);
}

/* Leaving a refused name behind puts the class's name back. */
static void
class_row_on_focus_leave (GraftDataClassRow *self)
{
  if (gtk_widget_get_visible (self->hint_label))
    gtk_editable_set_text (GTK_EDITABLE (self->entry),
                           graft_class_item_get_name (self->item));
}

static GtkWidget *
class_row_build_top (GraftDataClassRow *self)
{
  GtkWidget *top = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, ROW_MARGIN);
  GtkEventController *focus = gtk_event_controller_focus_new ();
  const char *path = graft_class_item_get_path (self->item);
  g_autofree char *folder = g_filename_display_basename (path);
  /* Translators: the accessible name of a class's name field; %s is
   * the class's folder. */
  g_autofree char *label = g_strdup_printf (_("Name of the class in folder "
                                              "%s"), folder);

  self->entry = gtk_entry_new ();
  gtk_editable_set_width_chars (GTK_EDITABLE (self->entry), NAME_WIDTH_CHARS);
  gtk_widget_set_valign (self->entry, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (self->entry, path);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->entry),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  g_signal_connect_object (focus, "leave",
                           G_CALLBACK (class_row_on_focus_leave), self,
                           G_CONNECT_SWAPPED);
  gtk_widget_add_controller (self->entry, focus);

  self->count_label = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (self->count_label), 0);
  gtk_label_set_wrap (GTK_LABEL (self->count_label), TRUE);
  gtk_widget_set_hexpand (self->count_label, TRUE);
  gtk_widget_add_css_class (self->count_label, "dim-label");

  self->remove_button = gtk_button_new_from_icon_name ("user-trash-symbolic");
  gtk_widget_set_valign (self->remove_button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (self->remove_button,
                               _("Leave this class out of training"));
  gtk_widget_add_css_class (self->remove_button, "flat");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->remove_button),
                                  "data-page.remove-class");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->remove_button),
                                    "s", path);

  gtk_box_append (GTK_BOX (top), self->entry);
  gtk_box_append (GTK_BOX (top), self->count_label);
  gtk_box_append (GTK_BOX (top), self->remove_button);
  return top;
}

static GtkWidget *
class_row_build (GraftDataClassRow *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, ROW_SPACING);
  GtkWidget *strip = graft_thumbnail_strip_new ();

  g_object_set (box, "margin-top", ROW_MARGIN, "margin-bottom", ROW_MARGIN,
                "margin-start", ROW_MARGIN, "margin-end", ROW_MARGIN, NULL);
  gtk_box_append (GTK_BOX (box), class_row_build_top (self));

  self->hint_label = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (self->hint_label), 0);
  gtk_label_set_wrap (GTK_LABEL (self->hint_label), TRUE);
  gtk_widget_add_css_class (self->hint_label, "error");
  gtk_widget_add_css_class (self->hint_label, "caption");
  gtk_widget_set_visible (self->hint_label, FALSE);
  gtk_box_append (GTK_BOX (box), self->hint_label);
  gtk_accessible_update_relation (GTK_ACCESSIBLE (self->entry),
                                  GTK_ACCESSIBLE_RELATION_DESCRIBED_BY,
                                  self->hint_label, NULL, -1);

  graft_thumbnail_strip_set_pictures
    (GRAFT_THUMBNAIL_STRIP (strip), graft_class_item_get_pictures (self->item));
  gtk_widget_set_halign (strip, GTK_ALIGN_FILL);
  gtk_box_append (GTK_BOX (box), strip);
  return box;
}

static GtkWidget *
graft_data_class_row_new (GraftProject *project, GraftClassItem *item)
{
  GraftDataClassRow *self = g_object_new (GRAFT_TYPE_DATA_CLASS_ROW,
                                          "activatable", FALSE,
                                          "selectable", FALSE, NULL);

  self->project = g_object_ref (project);
  self->item = g_object_ref (item);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (self),
                              class_row_build (self));
  class_row_update_name (self);
  class_row_update_count (self);
  g_signal_connect_object (self->entry, "changed",
                           G_CALLBACK (class_row_on_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (item, "notify::name",
                           G_CALLBACK (class_row_update_name), self,
                           G_CONNECT_SWAPPED);
  /* A new split notifies "scan"; the item's counts are then new. */
  g_signal_connect_object (project, "notify::scan",
                           G_CALLBACK (class_row_update_count), self,
                           G_CONNECT_SWAPPED);
  return GTK_WIDGET (self);
}

static void
graft_data_class_row_dispose (GObject *object)
{
  GraftDataClassRow *self = GRAFT_DATA_CLASS_ROW (object);

  g_clear_object (&self->item);
  g_clear_object (&self->project);
  G_OBJECT_CLASS (graft_data_class_row_parent_class)->dispose (object);
}

static void
graft_data_class_row_class_init (GraftDataClassRowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = graft_data_class_row_dispose;
}

static void
graft_data_class_row_init (GraftDataClassRow *self)
{
}

/* ---- The page ------------------------------------------------------------ */

struct _GraftDataPage
{
  AdwBin parent_instance;

  GraftProject *project;
  GtkDropTarget *drop_target;
  GtkFileChooserNative *chooser;   /* while shown */
  GBinding *val_binding;
  guint pulse_id;
  GtkWidget *skipped_row;          /* the AdwExpanderRow, or NULL */

  GtkStack *stack;
  GtkLabel *scan_label;
  GtkProgressBar *scan_bar;
  GtkButton *cancel_button;
  GtkLabel *summary_label;
  GtkLabel *folders_label;
  GtkListBox *warnings_list;
  GtkListBox *class_list;
  GtkSpinButton *val_spin;
  AdwPreferencesGroup *skipped_group;
};

G_DEFINE_FINAL_TYPE (GraftDataPage, graft_data_page, ADW_TYPE_BIN)

GtkWidget *
graft_data_page_new (void)
{
  return g_object_new (GRAFT_TYPE_DATA_PAGE, NULL);
}

/* ---- Following the scan -------------------------------------------------- */

static gboolean
pulse_cb (gpointer user_data)
{
  GraftDataPage *self = user_data;

  gtk_progress_bar_pulse (self->scan_bar);
  return G_SOURCE_CONTINUE;
}

static void
set_pulsing (GraftDataPage *self, gboolean pulsing)
{
  if (pulsing && self->pulse_id == 0)
    self->pulse_id = g_timeout_add (PULSE_INTERVAL_MS, pulse_cb, self);
  else if (!pulsing)
    g_clear_handle_id (&self->pulse_id, g_source_remove);
}

static void
update_progress (GraftDataPage *self)
{
  double progress = graft_project_get_scan_progress (self->project);
  gboolean scanning = graft_project_get_scanning (self->project);
  const char *status = graft_project_get_scan_status (self->project);

  gtk_label_set_text (self->scan_label, status != NULL ? status : "");
  set_pulsing (self, scanning && progress < 0);
  if (progress >= 0)
    gtk_progress_bar_set_fraction (self->scan_bar, progress);
}

static void
update_view (GraftDataPage *self)
{
  const char *view = "empty";

  if (graft_project_get_scanning (self->project))
    view = "scanning";
  else if (graft_project_get_scan (self->project) != NULL)
    view = "classes";
  gtk_stack_set_visible_child_name (self->stack, view);
  update_progress (self);
}

/* "From fashion", or "From bag, sandal" for several class folders. */
static void
update_folders_label (GraftDataPage *self)
{
  const char *const *folders = graft_project_get_folders (self->project);
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  g_auto (GStrv) shown = NULL;
  g_autofree char *joined = NULL;
  g_autofree char *text = NULL;
  g_autofree char *paths = NULL;

  for (guint i = 0; folders != NULL && folders[i] != NULL; i++)
    {
      g_autofree char *name = g_path_get_basename (folders[i]);
      g_strv_builder_add (names, name);
    }
  shown = g_strv_builder_end (names);
  joined = g_strjoinv (", ", shown);
  text = g_strdup_printf (_("From %s"), joined);
  paths = folders != NULL ? g_strjoinv ("\n", (char **) folders) : NULL;
  gtk_label_set_text (self->folders_label, text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->folders_label), paths);
}

static void
update_summary (GraftDataPage *self)
{
  const GraftScan *scan = graft_project_get_scan (self->project);
  guint n_classes
    = g_list_model_get_n_items (graft_project_get_classes (self->project));
  guint n_pictures = graft_project_get_n_pictures (self->project);
  guint n_skipped = scan != NULL ? scan->skipped->len : 0;
  g_autofree char *pictures
    = g_strdup_printf (ngettext ("%u picture", "%u pictures", n_pictures),
                       n_pictures);
  g_autofree char *classes
    = g_strdup_printf (ngettext ("%u class", "%u classes", n_classes),
                       n_classes);
  g_autofree char *skipped
    = g_strdup_printf (ngettext ("%u skipped", "%u skipped", n_skipped),
                       n_skipped);
  g_autofree char *text
    = g_strdup_printf (C_("data summary", "%s in %s, %s"), pictures, classes,
                       skipped);

  gtk_label_set_text (self->summary_label, text);
}

/* ---- Rows for files ------------------------------------------------------ */

/* @path relative to the folder above the one it was found in
 * ("fashion/bag/0001.png" rather than a long absolute path). */
static char *
display_path (GraftDataPage *self, const char *path)
{
  const char *const *folders = graft_project_get_folders (self->project);
  g_autoptr (GFile) file = g_file_new_for_path (path);

  for (guint i = 0; folders[i] != NULL; i++)
    {
      g_autoptr (GFile) folder = g_file_new_for_path (folders[i]);
      g_autoptr (GFile) above = g_file_get_parent (folder);
      char *relative = above != NULL
        ? g_file_get_relative_path (above, file) : NULL;

      if (relative != NULL)
        return relative;
    }
  return g_strdup (path);
}

/* A row of a list inside an expander, its text as it is (no markup). */
static GtkWidget *
new_text_row (const char *title, const char *subtitle)
{
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  if (subtitle != NULL)
    adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
  return row;
}

typedef GtkWidget *(*RowFactory) (GraftDataPage *self, gconstpointer item);

/* Fills @expander with a row per item of @items, up to MAX_LISTED_ROWS,
 * then one row counting the rest. */
static void
add_capped_rows (GraftDataPage *self, AdwExpanderRow *expander,
                 GPtrArray *items, RowFactory factory)
{
  guint shown = MIN (items->len, MAX_LISTED_ROWS);
  guint rest = items->len - shown;

  for (guint i = 0; i < shown; i++)
    adw_expander_row_add_row (expander,
                              factory (self, g_ptr_array_index (items, i)));
  if (rest > 0)
    {
      g_autofree char *more
        = g_strdup_printf (ngettext ("and %u more", "and %u more", rest), rest);

      adw_expander_row_add_row (expander, new_text_row (more, NULL));
    }
}

/* ---- The health warnings ------------------------------------------------- */

static GtkWidget *
new_warning_icon (void)
{
  GtkWidget *icon = gtk_image_new_from_icon_name ("dialog-warning-symbolic");

  gtk_widget_add_css_class (icon, "warning");
  return icon;
}

/* The first few files a warning is about, or NULL. */
static char *
warning_files (GraftDataPage *self, const GraftWarning *warning)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) shown = NULL;
  guint n = warning->paths != NULL ? g_strv_length (warning->paths) : 0;

  if (n == 0)
    return NULL;
  for (guint i = 0; i < MIN (n, MAX_WARNING_FILES); i++)
    {
      g_autofree char *path = display_path (self, warning->paths[i]);
      g_strv_builder_add (builder, path);
    }
  if (n > MAX_WARNING_FILES)
    g_strv_builder_add (builder, "…");
  shown = g_strv_builder_end (builder);
  return g_strjoinv (", ", shown);
}

static GtkWidget *
new_warning_row (GraftDataPage *self, gconstpointer item)
{
  const GraftWarning *warning = item;
  g_autofree char *files = warning_files (self, warning);

  return new_text_row (warning->message, files);
}

/* Many warnings of one kind (a duplicate per picture, say) as one
 * expander listing them, so that they do not bury the classes. */
static GtkWidget *
new_warning_fold (GraftDataPage *self, GPtrArray *warnings)
{
  const GraftWarning *first = g_ptr_array_index (warnings, 0);
  g_autofree char *count = NULL;
  GtkWidget *row = adw_expander_row_new ();

  count = g_strdup_printf (ngettext ("%u warning like this",
                                     "%u warnings like this",
                                     warnings->len), warnings->len);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), first->message);
  adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (row), count);
  adw_expander_row_add_prefix (ADW_EXPANDER_ROW (row), new_warning_icon ());
  add_capped_rows (self, ADW_EXPANDER_ROW (row), warnings, new_warning_row);
  return row;
}

/* The warnings of one kind: a row each, or folded when there are many. */
static void
add_warnings (GraftDataPage *self, GPtrArray *warnings)
{
  if (warnings->len > MAX_WARNINGS_UNFOLDED)
    {
      gtk_list_box_append (self->warnings_list,
                           new_warning_fold (self, warnings));
      return;
    }
  for (guint i = 0; i < warnings->len; i++)
    {
      GtkWidget *row = new_warning_row (self, g_ptr_array_index (warnings, i));

      adw_action_row_add_prefix (ADW_ACTION_ROW (row), new_warning_icon ());
      gtk_list_box_append (self->warnings_list, row);
    }
}

static void
fill_warnings (GraftDataPage *self)
{
  const GraftScan *scan = graft_project_get_scan (self->project);
  g_autoptr (GPtrArray) kinds = g_ptr_array_new ();
  g_autoptr (GHashTable) by_kind
    = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                             (GDestroyNotify) g_ptr_array_unref);
  GtkWidget *list = GTK_WIDGET (self->warnings_list);
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (list)) != NULL)
    gtk_list_box_remove (self->warnings_list, child);
  for (guint i = 0; scan != NULL && i < scan->warnings->len; i++)
    {
      GraftWarning *warning = g_ptr_array_index (scan->warnings, i);
      GPtrArray *same = g_hash_table_lookup (by_kind, warning->kind);

      if (same == NULL)
        {
          same = g_ptr_array_new ();
          g_hash_table_insert (by_kind, warning->kind, same);
          g_ptr_array_add (kinds, warning->kind);
        }
      g_ptr_array_add (same, warning);
    }
  for (guint i = 0; i < kinds->len; i++)
    add_warnings (self, g_hash_table_lookup (by_kind, kinds->pdata[i]));
  gtk_widget_set_visible (GTK_WIDGET (self->warnings_list), kinds->len > 0);
}

/* ---- The skipped files --------------------------------------------------- */

static GtkWidget *
new_skipped_row (GraftDataPage *self, gconstpointer item)
{
  const GraftSkipped *skipped = item;
  g_autofree char *name = g_path_get_basename (skipped->path);
  g_autofree char *dir = g_path_get_dirname (skipped->path);
  g_autofree char *folder = display_path (self, dir);
  g_autofree char *subtitle
    = g_strdup_printf (C_("skipped file", "%s — in %s"), skipped->reason,
                       folder);
  GtkWidget *row = new_text_row (name, subtitle);

  gtk_widget_set_tooltip_text (row, skipped->path);
  return row;
}

static void
fill_skipped (GraftDataPage *self)
{
  const GraftScan *scan = graft_project_get_scan (self->project);
  guint n = scan != NULL ? scan->skipped->len : 0;
  g_autofree char *title = NULL;

  if (self->skipped_row != NULL)
    adw_preferences_group_remove (self->skipped_group, self->skipped_row);
  self->skipped_row = NULL;
  gtk_widget_set_visible (GTK_WIDGET (self->skipped_group), n > 0);
  if (n == 0)
    return;
  self->skipped_row = adw_expander_row_new ();
  title = g_strdup_printf (ngettext ("%u file skipped", "%u files skipped", n),
                           n);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->skipped_row),
                                 title);
  adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (self->skipped_row),
                                 _("Graft cannot use these files and leaves "
                                   "them as they are"));
  add_capped_rows (self, ADW_EXPANDER_ROW (self->skipped_row), scan->skipped,
                   new_skipped_row);
  adw_preferences_group_add (self->skipped_group, self->skipped_row);
}

static void
on_scan_changed (GraftDataPage *self)
{
  update_folders_label (self);
  update_summary (self);
  fill_warnings (self);
  fill_skipped (self);
  update_view (self);
}

/* ---- Opening folders ----------------------------------------------------- */

/* Through the window when there is one, so that an ONNX file dropped
 * here is imported as a backbone rather than scanned as a folder. */
static void
open_files (GraftDataPage *self, GFile **files, guint n)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (n == 0 || self->project == NULL)
    return;
  if (GRAFT_IS_WINDOW (root))
    graft_window_open_files (GRAFT_WINDOW (root), files, n);
  else
    graft_project_open_folders (self->project, files, n);
}

static void
on_chooser_response (GtkNativeDialog *chooser, int response,
                     GraftDataPage *self)
{
  g_autoptr (GListModel) files = NULL;
  g_autoptr (GPtrArray) array = g_ptr_array_new_with_free_func (g_object_unref);

  if (response == GTK_RESPONSE_ACCEPT)
    files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (chooser));
  for (guint i = 0; files != NULL && i < g_list_model_get_n_items (files); i++)
    g_ptr_array_add (array, g_list_model_get_item (files, i));
  open_files (self, (GFile **) array->pdata, array->len);
  g_clear_object (&self->chooser);
}

void
graft_data_page_choose_folders (GraftDataPage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  g_return_if_fail (GRAFT_IS_DATA_PAGE (self));
  /* The chooser must live while it is shown: the page keeps it. */
  if (self->chooser != NULL)
    return;
  self->chooser
    = gtk_file_chooser_native_new (_("Add Labelled Picture Folders"),
                                   GTK_IS_WINDOW (root) ? GTK_WINDOW (root)
                                   : NULL,
                                   GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                   _("_Add"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (self->chooser),
                                        TRUE);
  g_signal_connect (self->chooser, "response",
                    G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static gboolean
on_drop (GtkDropTarget *target, const GValue *value, double x, double y,
         GraftDataPage *self)
{
  GdkFileList *list = g_value_get_boxed (value);
  GSList *files = list != NULL ? gdk_file_list_get_files (list) : NULL;
  g_autoptr (GPtrArray) array = g_ptr_array_new ();

  for (GSList *l = files; l != NULL; l = l->next)
    g_ptr_array_add (array, l->data);
  g_slist_free (files);
  open_files (self, (GFile **) array->pdata, array->len);
  return array->len > 0;
}

GtkDropTarget *
graft_data_page_get_drop_target (GraftDataPage *self)
{
  g_return_val_if_fail (GRAFT_IS_DATA_PAGE (self), NULL);
  return self->drop_target;
}

/* While a drag hovers, GTK gives the page the :drop(active) state, which
 * style.css tints. */
static void
setup_drop_target (GraftDataPage *self)
{
  self->drop_target = gtk_drop_target_new (GDK_TYPE_FILE_LIST,
                                           GDK_ACTION_COPY);
  g_signal_connect (self->drop_target, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self),
                             GTK_EVENT_CONTROLLER (self->drop_target));
}

/* ---- Buttons and actions ------------------------------------------------- */

static void
on_add_folders_clicked (GraftDataPage *self)
{
  graft_data_page_choose_folders (self);
}

static void
on_rescan_clicked (GraftDataPage *self)
{
  graft_project_rescan (self->project);
}

static void
on_cancel_clicked (GraftDataPage *self)
{
  graft_project_cancel_scan (self->project);
}

typedef struct
{
  GraftProject *project;
  GraftClassItem *item;
  guint position;
} Removal;

static void
removal_free (gpointer data, GClosure *closure)
{
  Removal *removal = data;

  g_object_unref (removal->project);
  g_object_unref (removal->item);
  g_free (removal);
}

static void
on_undo_removal (AdwToast *toast, Removal *removal)
{
  graft_project_restore_class (removal->project, removal->item,
                               removal->position);
}

static void
show_removal_toast (GraftDataPage *self, GraftClassItem *item,
                    guint position)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self),
                                                ADW_TYPE_TOAST_OVERLAY);
  g_autofree char *message
    = g_strdup_printf (_("Class “%s” left out of training — its files are "
                         "untouched"), graft_class_item_get_name (item));
  Removal *removal;
  AdwToast *toast;

  g_message ("%s", message);
  if (overlay == NULL)
    return;
  toast = adw_toast_new (message);
  adw_toast_set_timeout (toast, UNDO_TOAST_SECONDS);
  adw_toast_set_button_label (toast, _("_Undo"));
  removal = g_new0 (Removal, 1);
  removal->project = g_object_ref (self->project);
  removal->item = g_object_ref (item);
  removal->position = position;
  g_signal_connect_data (toast, "button-clicked",
                         G_CALLBACK (on_undo_removal), removal,
                         removal_free, 0);
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
}

/* data-page.remove-class(path): by folder rather than by position, which
 * moves under the button when other rows go. */
static void
remove_class_action (GtkWidget *widget, const char *name, GVariant *param)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  GListModel *classes = graft_project_get_classes (self->project);
  const char *path = g_variant_get_string (param, NULL);

  for (guint i = 0; i < g_list_model_get_n_items (classes); i++)
    {
      g_autoptr (GraftClassItem) item = g_list_model_get_item (classes, i);

      if (g_strcmp0 (graft_class_item_get_path (item), path) != 0)
        continue;
      graft_project_remove_class (self->project, i);
      show_removal_toast (self, item, i);
      return;
    }
}

/* ---- The project --------------------------------------------------------- */

static gboolean
fraction_to_percent (GBinding *binding, const GValue *from, GValue *to,
                     gpointer user_data)
{
  g_value_set_double (to, round (g_value_get_double (from) * PERCENT));
  return TRUE;
}

static gboolean
percent_to_fraction (GBinding *binding, const GValue *from, GValue *to,
                     gpointer user_data)
{
  g_value_set_double (to, g_value_get_double (from) / PERCENT);
  return TRUE;
}

static GtkWidget *
create_class_row (gpointer item, gpointer user_data)
{
  GraftDataPage *self = user_data;

  return graft_data_class_row_new (self->project, item);
}

static void
unset_project (GraftDataPage *self)
{
  if (self->project == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->project, self);
  g_signal_handlers_disconnect_by_data
    (graft_project_get_classes (self->project), self);
  g_clear_pointer (&self->val_binding, g_binding_unbind);
  if (self->class_list != NULL)
    gtk_list_box_bind_model (self->class_list, NULL, NULL, NULL, NULL);
  g_clear_object (&self->project);
}

static void
follow_project (GraftDataPage *self)
{
  const char *const progress_props[] = { "notify::scan-progress",
                                         "notify::scan-status" };

  g_signal_connect_swapped (self->project, "notify::scanning",
                            G_CALLBACK (update_view), self);
  for (guint i = 0; i < G_N_ELEMENTS (progress_props); i++)
    g_signal_connect_swapped (self->project, progress_props[i],
                              G_CALLBACK (update_progress), self);
  g_signal_connect_swapped (self->project, "notify::scan",
                            G_CALLBACK (on_scan_changed), self);
  g_signal_connect_swapped (graft_project_get_classes (self->project),
                            "items-changed", G_CALLBACK (update_summary),
                            self);
}

void
graft_data_page_set_project (GraftDataPage *self, GraftProject *project)
{
  g_return_if_fail (GRAFT_IS_DATA_PAGE (self));
  g_return_if_fail (project == NULL || GRAFT_IS_PROJECT (project));
  if (self->project == project)
    return;
  unset_project (self);
  if (project == NULL)
    return;
  self->project = g_object_ref (project);
  follow_project (self);
  gtk_list_box_bind_model (self->class_list,
                           graft_project_get_classes (project),
                           create_class_row, self, NULL);
  self->val_binding
    = g_object_bind_property_full (project, "val-fraction", self->val_spin,
                                   "value",
                                   G_BINDING_BIDIRECTIONAL
                                   | G_BINDING_SYNC_CREATE,
                                   fraction_to_percent, percent_to_fraction,
                                   NULL, NULL);
  on_scan_changed (self);
}

/* ---- GObject ------------------------------------------------------------- */

static void
graft_data_page_dispose (GObject *object)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (object);

  set_pulsing (self, FALSE);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  unset_project (self);
  self->skipped_row = NULL;
  /* The stack is both AdwBin's child and a template child: AdwBin must
   * let go of it before the template disposes it. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_DATA_PAGE);
  G_OBJECT_CLASS (graft_data_page_parent_class)->dispose (object);
}

static void
bind_template (GtkWidgetClass *widget_class)
{
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/graft/Graft/"
                                               "graft-data-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, stack);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage,
                                        scan_label);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage,
                                        scan_bar);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage,
                                        cancel_button);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage,
                                        summary_label);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage,
                                        folders_label);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage,
                                        warnings_list);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage,
                                        class_list);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage,
                                        val_spin);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage,
                                        skipped_group);
  gtk_widget_class_bind_template_callback (widget_class,
                                           on_add_folders_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_rescan_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_cancel_clicked);
}

static void
graft_data_page_class_init (GraftDataPageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = graft_data_page_dispose;
  bind_template (widget_class);
  gtk_widget_class_install_action (widget_class, "data-page.remove-class",
                                   "s", remove_class_action);
}

/* What the class list says once the user removed every class. */
static GtkWidget *
placeholder_label (void)
{
  GtkWidget *label = gtk_label_new (_("No classes left: rescan or add "
                                      "folders"));

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  g_object_set (label, "margin-top", ROW_MARGIN, "margin-bottom", ROW_MARGIN,
                "margin-start", ROW_MARGIN, "margin-end", ROW_MARGIN, NULL);
  gtk_widget_add_css_class (label, "dim-label");
  return label;
}

static void
graft_data_page_init (GraftDataPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  setup_drop_target (self);
  gtk_list_box_set_placeholder (self->class_list, placeholder_label ());
}
