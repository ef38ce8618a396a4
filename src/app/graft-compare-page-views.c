/* graft-compare-page-views.c: the Compare page's tables, confusion
 * matrices, and the pictures behind a cell or a changed answer.
 *
 * Grids are rebuilt whole when the ticked runs change: a handful of runs
 * and classes make a few dozen labels.  Thumbnails come from
 * GraftThumbnailStrip, which decodes on a worker and caches. */
#define G_LOG_DOMAIN "graft-compare-page"

#include "graft-compare-page-private.h"

#include <glib/gi18n.h>
#include <math.h>

#include "graft-thumbnail-strip.h"

/* Accuracy differences from this many percentage points are marked. */
#define MARKED_DIFFERENCE 5.0
/* A run's name in a column's heading wraps after about this many
 * characters ("2026-12-04-153012-" / "finetune"). */
#define RUN_NAME_CHARS 22
/* A cell or a change shows at most this many pictures. */
#define MAX_PICTURES 120

/* ---- Grids ------------------------------------------------------------------- */

static void
clear_children (GtkWidget *parent)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (parent)) != NULL)
    {
      if (GTK_IS_GRID (parent))
        gtk_grid_remove (GTK_GRID (parent), child);
      else
        gtk_flow_box_remove (GTK_FLOW_BOX (parent), child);
    }
}

static GtkWidget *
add_text (GtkGrid *grid, int column, int row, const char *text,
          const char *css_class)
{
  GtkWidget *label = gtk_label_new (text);

  /* Cells wrap where a narrow window has no room for them (a long name,
   * "Progressive unfreezing"), rather than make the grid scroll. */
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (GTK_LABEL (label), column == 0 ? 0 : 1);
  gtk_label_set_justify (GTK_LABEL (label), column == 0 ? GTK_JUSTIFY_LEFT
                         : GTK_JUSTIFY_RIGHT);
  /* Headings of one line and of two stand on the same line. */
  if (row == 0)
    gtk_label_set_yalign (GTK_LABEL (label), 1);
  if (css_class != NULL)
    gtk_widget_add_css_class (label, css_class);
  gtk_grid_attach (grid, label, column, row, 1, 1);
  return label;
}

static void
add_heading (GtkGrid *grid, int column, const char *text)
{
  add_text (grid, column, 0, text, "caption-heading");
}

/* @name, escaped for markup, with a place to break the line after each
 * hyphen: Pango breaks no line inside "2026-12-04-153012", the start of
 * the name of every run Graft makes. */
static char *
breakable (const char *name)
{
  g_autofree char *escaped = g_markup_escape_text (name, -1);
  g_auto (GStrv) parts = g_strsplit (escaped, "-", -1);

  /* U+200B ZERO WIDTH SPACE: a break that shows nothing. */
  return g_strjoinv ("-\u200b", parts);
}

/* The run's name after a dot of its colour in the plot, as a column's
 * heading. */
static void
add_run_name (GtkGrid *grid, int column, GraftRunRecord *record, guint index)
{
  GdkRGBA color;
  g_autofree char *hex = NULL, *name = NULL, *markup = NULL;
  GtkWidget *label;

  graft_compare_page_run_color (index, &color);
  hex = g_strdup_printf ("#%02x%02x%02x", (int) (color.red * 255),
                         (int) (color.green * 255), (int) (color.blue * 255));
  name = breakable (graft_run_record_get_name (record));
  /* A no-break space: the dot stays with the name's first line. */
  markup = g_strdup_printf ("<span foreground=\"%s\">●</span>\u00a0%s",
                            hex, name);
  label = add_text (grid, column, 0, NULL, "caption-heading");
  gtk_label_set_markup (GTK_LABEL (label), markup);
  /* A long name takes two lines rather than the width of two columns. */
  gtk_label_set_max_width_chars (GTK_LABEL (label), RUN_NAME_CHARS);
}

static char *
format_percent (double share)
{
  return isfinite (share) ? g_strdup_printf (_("%.1f %%"), 100 * share)
    : g_strdup ("—");
}

static char *
format_loss (double loss)
{
  return isfinite (loss) ? g_strdup_printf ("%.3f", loss) : g_strdup ("—");
}

static char *
format_seconds (double seconds)
{
  if (!isfinite (seconds))
    return g_strdup ("—");
  if (seconds < 60)
    return g_strdup_printf (_("%.1f s"), seconds);
  return g_strdup_printf (_("%u min %02u s"), (guint) seconds / 60,
                          (guint) seconds % 60);
}

/* A count in a table cell, whose row says what is counted: "950",
 * "12.3 k", "162 k", "1.2 M". */
static char *
format_count (guint64 n)
{
  static const struct { double scale; const char *unit; } units[] = {
    { 1e9, "G" }, { 1e6, "M" }, { 1e3, "k" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (n >= units[i].scale)
      {
        double value = n / units[i].scale;
        /* Translators: a number and its unit (k, M, G); the space is a
         * no-break space. */
        return g_strdup_printf (_("%.*f\u00a0%s"), value < 100 ? 1 : 0,
                                value, units[i].unit);
      }
  return g_strdup_printf ("%" G_GUINT64_FORMAT, n);
}

/* ---- The table of runs -------------------------------------------------------- */

/* One line of the table: its heading, and how a run's cell says it. */
typedef struct _RunLine RunLine;
typedef char *(*RunCell) (GraftRunRecord *record, const RunLine *line);

struct _RunLine
{
  const char *heading;
  RunCell cell;
  /* For cell_epoch: the last epoch's rather than the best's, which
   * number of its report, and how it reads. */
  gboolean last;
  gsize member;
  char *(*format) (double value);
};

static char *
cell_mode (GraftRunRecord *record, const RunLine *line)
{
  return g_strdup (graft_compare_page_mode_name
                   (graft_run_record_get_mode (record)));
}

static char *
cell_trainable (GraftRunRecord *record, const RunLine *line)
{
  guint64 n;

  return graft_run_record_get_trainable_params (record, &n)
    ? format_count (n) : g_strdup ("—");
}

static char *
cell_epoch (GraftRunRecord *record, const RunLine *line)
{
  const GraftEpochReport *report = line->last
    ? graft_run_record_get_last (record) : graft_run_record_get_best (record);

  return line->format (report != NULL
                       ? G_STRUCT_MEMBER (double, report, line->member)
                       : NAN);
}

static char *
cell_time (GraftRunRecord *record, const RunLine *line)
{
  return format_seconds (graft_run_record_get_wall_seconds (record));
}

static char *
cell_speed (GraftRunRecord *record, const RunLine *line)
{
  double pps = graft_run_record_get_pictures_per_second (record);

  return isfinite (pps) ? g_strdup_printf ("%.0f", pps) : g_strdup ("—");
}

/* An epoch cell's member and format, for the table below. */
#define VAL_LOSS G_STRUCT_OFFSET (GraftEpochReport, val_loss), format_loss
#define VAL_ACCURACY G_STRUCT_OFFSET (GraftEpochReport, val_accuracy), \
  format_percent

/* Runs are columns and what is compared are lines, as in the table per
 * class: a few runs side by side fit a narrow window, eight numbers
 * across would not. */
static const RunLine run_lines[] = {
  { N_("Mode"), cell_mode },
  { N_("Trainable parameters"), cell_trainable },
  /* The validation loss and accuracy of the best epoch and the last. */
  { N_("Best loss"), cell_epoch, FALSE, VAL_LOSS },
  { N_("Best accuracy"), cell_epoch, FALSE, VAL_ACCURACY },
  { N_("Final loss"), cell_epoch, TRUE, VAL_LOSS },
  { N_("Final accuracy"), cell_epoch, TRUE, VAL_ACCURACY },
  { N_("Training time"), cell_time },
  { N_("Pictures per second"), cell_speed },
};

#undef VAL_LOSS
#undef VAL_ACCURACY

void
graft_compare_page_refresh_table (GraftComparePage *self, GPtrArray *records)
{
  clear_children (GTK_WIDGET (self->table));
  self->n_table_rows = records->len;
  if (records->len == 0)
    return;
  for (guint i = 0; i < records->len; i++)
    add_run_name (self->table, i + 1, records->pdata[i], i);
  for (guint line = 0; line < G_N_ELEMENTS (run_lines); line++)
    {
      add_text (self->table, 0, line + 1, _(run_lines[line].heading), NULL);
      for (guint i = 0; i < records->len; i++)
        {
          g_autofree char *text = run_lines[line].cell (records->pdata[i],
                                                        &run_lines[line]);
          add_text (self->table, i + 1, line + 1, text, NULL);
        }
    }
}

/* ---- Accuracy per class ---------------------------------------------------------- */

/* Run @record's accuracy for class @name (NaN when it has no such class
 * or no epoch). */
static double
class_accuracy (GraftRunRecord *record, const char *name)
{
  const GraftEpochReport *best = graft_run_record_get_best (record);
  const char *const *names = graft_run_record_get_class_names (record);

  for (guint c = 0; best != NULL && names[c] != NULL; c++)
    if (g_str_equal (names[c], name) && c < best->n_classes)
      return best->class_accuracy[c];
  return NAN;
}

static void
add_difference (GtkGrid *grid, int column, int row, double points)
{
  g_autofree char *text = g_strdup_printf (_("%.0f points"), points);
  GtkWidget *label = add_text (grid, column, row, text, NULL);

  if (points >= MARKED_DIFFERENCE)
    {
      g_autofree char *marked = g_strdup_printf (_("⚠ %s"), text);
      gtk_label_set_text (GTK_LABEL (label), marked);
      gtk_widget_add_css_class (label, "warning");
      gtk_widget_set_tooltip_text (label, _("The runs differ by 5 points or "
                                            "more on this class"));
    }
}

static void
add_class_row (GtkGrid *grid, int row, const char *name, GPtrArray *records)
{
  g_autofree double *acc = g_new (double, records->len);
  double best = -INFINITY, worst = INFINITY;

  add_text (grid, 0, row, name, NULL);
  for (guint i = 0; i < records->len; i++)
    {
      acc[i] = class_accuracy (records->pdata[i], name);
      if (isfinite (acc[i]))
        best = MAX (best, acc[i]), worst = MIN (worst, acc[i]);
    }
  for (guint i = 0; i < records->len; i++)
    {
      g_autofree char *text = format_percent (acc[i]);
      /* The better value stands out only where the runs differ. */
      gboolean better = records->len > 1 && acc[i] == best && best > worst;
      GtkWidget *label = add_text (grid, i + 1, row, text,
                                   better ? "accent" : NULL);
      if (better)
        gtk_widget_add_css_class (label, "heading");
    }
  if (records->len > 1 && isfinite (best) && isfinite (worst))
    add_difference (grid, records->len + 1, row, 100 * (best - worst));
}

void
graft_compare_page_refresh_classes (GraftComparePage *self,
                                    GPtrArray *records)
{
  const char *const *names;

  clear_children (GTK_WIDGET (self->class_table));
  if (records->len == 0)
    return;
  add_heading (self->class_table, 0, _("Class"));
  for (guint i = 0; i < records->len; i++)
    add_run_name (self->class_table, i + 1, records->pdata[i], i);
  if (records->len > 1)
    add_heading (self->class_table, records->len + 1, _("Difference"));
  names = graft_run_record_get_class_names (records->pdata[0]);
  for (guint c = 0; names[c] != NULL; c++)
    add_class_row (self->class_table, c + 1, names[c], records);
}

/* ---- Pictures ------------------------------------------------------------------- */

/* A thumbnail with the picture's true and predicted labels under it. */
static GtkWidget *
picture_tile (const char *path, const char *lines)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  GtkWidget *strip = graft_thumbnail_strip_new ();
  GtkWidget *label = gtk_label_new (lines);
  const char *paths[] = { path, NULL };
  g_autofree char *base = g_path_get_basename (path);

  graft_thumbnail_strip_set_pictures (GRAFT_THUMBNAIL_STRIP (strip), paths);
  gtk_widget_set_halign (strip, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (box, base);
  gtk_label_set_justify (GTK_LABEL (label), GTK_JUSTIFY_CENTER);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 14);
  gtk_widget_add_css_class (label, "caption");
  gtk_box_append (GTK_BOX (box), strip);
  gtk_box_append (GTK_BOX (box), label);
  g_object_set_data_full (G_OBJECT (box), "path", g_strdup (path), g_free);
  return box;
}

static char **
dup_paths (GtkFlowBox *box)
{
  g_autoptr (GStrvBuilder) paths = g_strv_builder_new ();

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (box));
       child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *tile = gtk_flow_box_child_get_child (GTK_FLOW_BOX_CHILD
                                                      (child));
      g_strv_builder_add (paths, g_object_get_data (G_OBJECT (tile), "path"));
    }
  return g_strv_builder_end (paths);
}

static void
on_predictions (GraftRunRecord *record, GParamSpec *pspec,
                GraftComparePage *self)
{
  g_autoptr (GPtrArray) records = graft_compare_page_ticked_records (self);

  graft_compare_page_refresh_cell (self);
  graft_compare_page_refresh_changed (self, records);
}

/* The record's predictions, asked for (once) when not known yet; NULL
 * meanwhile, with @status saying why. */
static const GraftRunPredictions *
get_predictions (GraftComparePage *self, GraftRunRecord *record,
                 GtkLabel *status)
{
  const GraftRunPredictions *p = graft_run_record_get_predictions (record);
  const char *error = graft_run_record_get_predictions_error (record);

  if (p != NULL)
    return p;
  if (!g_hash_table_contains (self->watched, record))
    {
      g_hash_table_add (self->watched, g_object_ref (record));
      g_signal_connect_object (record, "notify::predictions",
                               G_CALLBACK (on_predictions), self, 0);
    }
  graft_run_record_ensure_predictions (record);
  gtk_label_set_text (status, error != NULL ? error
                      : _("Running the model over the validation "
                          "pictures…"));
  return NULL;
}

/* ---- Confusion matrices ---------------------------------------------------------- */

static void
on_cell_activated (GraftConfusionMatrix *matrix, guint truth, guint predicted,
                   GraftComparePage *self)
{
  g_free (self->cell_dir);
  self->cell_dir = g_strdup (g_object_get_data (G_OBJECT (matrix), "dir"));
  self->cell_t = truth;
  self->cell_p = predicted;
  /* One cell is shown at a time: the other matrices lose their mark. */
  for (GtkWidget *child = gtk_widget_get_first_child
       (GTK_WIDGET (self->matrices)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *box = gtk_flow_box_child_get_child (GTK_FLOW_BOX_CHILD
                                                     (child));
      GtkWidget *other = gtk_widget_get_last_child (box);
      if (other != GTK_WIDGET (matrix))
        graft_confusion_matrix_select (GRAFT_CONFUSION_MATRIX (other), G_MAXUINT,
                                       G_MAXUINT);
    }
  graft_compare_page_refresh_cell (self);
}

static GtkWidget *
matrix_box (GraftComparePage *self, GraftRunRecord *record,
            const GraftEpochReport *best)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *title = gtk_label_new (graft_run_record_get_name (record));
  GtkWidget *matrix = graft_confusion_matrix_new ();
  const char *dir = graft_run_record_get_dir (record);
  g_autofree char *label = g_strdup_printf
    (_("Confusion matrix of run %s"), graft_run_record_get_name (record));

  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_label_set_ellipsize (GTK_LABEL (title), PANGO_ELLIPSIZE_MIDDLE);
  gtk_widget_add_css_class (title, "heading");
  graft_confusion_matrix_set_data (GRAFT_CONFUSION_MATRIX (matrix),
                                   graft_run_record_get_class_names (record),
                                   best->confusion, best->n_classes);
  gtk_accessible_update_property (GTK_ACCESSIBLE (matrix),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  gtk_widget_set_halign (matrix, GTK_ALIGN_START);
  g_object_set_data_full (G_OBJECT (matrix), "dir", g_strdup (dir), g_free);
  if (g_strcmp0 (self->cell_dir, dir) == 0)
    graft_confusion_matrix_select (GRAFT_CONFUSION_MATRIX (matrix),
                                   self->cell_t, self->cell_p);
  g_signal_connect_object (matrix, "cell-activated",
                           G_CALLBACK (on_cell_activated), self, 0);
  gtk_box_append (GTK_BOX (box), title);
  gtk_box_append (GTK_BOX (box), matrix);
  return box;
}

void
graft_compare_page_refresh_matrices (GraftComparePage *self,
                                     GPtrArray *records)
{
  clear_children (GTK_WIDGET (self->matrices));
  for (guint i = 0; i < records->len; i++)
    {
      const GraftEpochReport *best = graft_run_record_get_best
        (records->pdata[i]);
      if (best != NULL && best->n_classes > 0)
        gtk_flow_box_append (self->matrices,
                             matrix_box (self, records->pdata[i], best));
    }
}

GraftConfusionMatrix *
graft_compare_page_get_matrix (GraftComparePage *self, const char *dir)
{
  for (GtkWidget *child = gtk_widget_get_first_child
       (GTK_WIDGET (self->matrices)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *box = gtk_flow_box_child_get_child (GTK_FLOW_BOX_CHILD
                                                     (child));
      GtkWidget *matrix = gtk_widget_get_last_child (box);
      if (g_strcmp0 (g_object_get_data (G_OBJECT (matrix), "dir"), dir) == 0)
        return GRAFT_CONFUSION_MATRIX (matrix);
    }
  return NULL;
}

/* ---- The pictures of a cell ------------------------------------------------------- */

static char *
cell_title (GraftRunRecord *record, guint t, guint p)
{
  const char *const *names = graft_run_record_get_class_names (record);

  if (t == p)
    return g_strdup_printf (_("%s recognised by %s"), names[t],
                            graft_run_record_get_name (record));
  return g_strdup_printf (_("%s taken for %s by %s"), names[t], names[p],
                          graft_run_record_get_name (record));
}

static void
fill_cell (GraftComparePage *self, GraftRunRecord *record,
           const GraftRunPredictions *p)
{
  const char *const *names = graft_run_record_get_class_names (record);
  guint shown = 0, n = 0;
  g_autofree char *status = NULL;

  for (guint i = 0; i < p->n; i++)
    {
      g_autofree char *lines = NULL;

      if (p->truth[i] != self->cell_t || p->predicted[i] != self->cell_p)
        continue;
      if (n++ >= MAX_PICTURES)
        continue;
      lines = g_strdup_printf (_("True: %s\nPredicted: %s"),
                               names[p->truth[i]], names[p->predicted[i]]);
      gtk_flow_box_append (self->cell_pictures,
                           picture_tile (p->paths[i], lines));
      shown++;
    }
  status = n == 0 ? g_strdup (_("No validation picture is in this cell."))
    : g_strdup_printf (ngettext ("%u picture", "%u pictures", n), n);
  gtk_label_set_text (self->cell_status, status);
  self->cell_known = shown == n;
}

void
graft_compare_page_refresh_cell (GraftComparePage *self)
{
  GraftRunRecord *record = NULL;
  const GraftRunPredictions *p;
  g_autofree char *title = NULL;
  g_autoptr (GPtrArray) records = graft_compare_page_ticked_records (self);

  for (guint i = 0; self->cell_dir != NULL && i < records->len; i++)
    if (g_str_equal (graft_run_record_get_dir (records->pdata[i]),
                     self->cell_dir))
      record = records->pdata[i];
  clear_children (GTK_WIDGET (self->cell_pictures));
  self->cell_known = FALSE;
  gtk_widget_set_visible (self->cell_box, record != NULL);
  if (record == NULL)
    return;
  title = cell_title (record, self->cell_t, self->cell_p);
  gtk_label_set_text (self->cell_title, title);
  if ((p = get_predictions (self, record, self->cell_status)) != NULL)
    fill_cell (self, record, p);
}

char **
graft_compare_page_dup_cell_pictures (GraftComparePage *self)
{
  return self->cell_known ? dup_paths (self->cell_pictures) : NULL;
}

/* ---- What changed between two runs --------------------------------------------- */

/* Pictures @a gets right and @b wrong, into @box; how many there are. */
static guint
fill_changed (GtkFlowBox *box, GraftRunRecord *ra, GraftRunRecord *rb,
              const GraftRunPredictions *a, const GraftRunPredictions *b)
{
  const char *const *names = graft_run_record_get_class_names (ra);
  guint n = 0;

  clear_children (GTK_WIDGET (box));
  for (guint i = 0; i < MIN (a->n, b->n); i++)
    {
      g_autofree char *lines = NULL;

      if (a->predicted[i] != a->truth[i] || b->predicted[i] == b->truth[i]
          || g_strcmp0 (a->paths[i], b->paths[i]) != 0 || n++ >= MAX_PICTURES)
        continue;
      lines = g_strdup_printf (_("True: %s\n%s: %s"), names[a->truth[i]],
                               graft_run_record_get_name (rb),
                               names[b->predicted[i]]);
      gtk_flow_box_append (box, picture_tile (a->paths[i], lines));
    }
  return n;
}

static void
set_half_title (GtkLabel *label, GraftRunRecord *right, GraftRunRecord *wrong,
                guint n)
{
  g_autofree char *text = g_strdup_printf
    (ngettext ("Right in %s, wrong in %s: %u picture",
               "Right in %s, wrong in %s: %u pictures", n),
     graft_run_record_get_name (right), graft_run_record_get_name (wrong), n);

  gtk_label_set_text (label, text);
}

void
graft_compare_page_refresh_changed (GraftComparePage *self,
                                    GPtrArray *records)
{
  const GraftRunPredictions *a, *b;
  GraftRunRecord *ra, *rb;
  gboolean two = records->len == 2;

  self->changed_known = FALSE;
  gtk_widget_set_visible (self->changed_box, two);
  clear_children (GTK_WIDGET (self->changed_a));
  clear_children (GTK_WIDGET (self->changed_b));
  gtk_widget_set_visible (GTK_WIDGET (self->changed_a_title), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->changed_b_title), FALSE);
  if (!two)
    return;
  ra = records->pdata[0];
  rb = records->pdata[1];
  a = get_predictions (self, ra, self->changed_status);
  b = get_predictions (self, rb, self->changed_status);
  gtk_widget_set_visible (GTK_WIDGET (self->changed_status), a == NULL
                          || b == NULL);
  if (a == NULL || b == NULL)
    return;
  set_half_title (self->changed_a_title, ra, rb,
                  fill_changed (self->changed_a, ra, rb, a, b));
  set_half_title (self->changed_b_title, rb, ra,
                  fill_changed (self->changed_b, rb, ra, b, a));
  gtk_widget_set_visible (GTK_WIDGET (self->changed_a_title), TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->changed_b_title), TRUE);
  self->changed_known = TRUE;
}

char **
graft_compare_page_dup_changed_pictures (GraftComparePage *self, guint half)
{
  if (!self->changed_known)
    return NULL;
  return dup_paths (half == 0 ? self->changed_a : self->changed_b);
}
