/* graft-confusion-matrix.c: the matrix in snapshot, through Cairo.
 *
 * The layout (where the labels end and the cells begin) depends only on
 * the class names and the font, so measure and snapshot compute it the
 * same way; cells have a fixed size, so that a matrix reads the same
 * beside another run's. */
#define G_LOG_DOMAIN "graft-confusion-matrix"

#include "graft-confusion-matrix.h"

#include <glib/gi18n.h>
#include <math.h>

/* Logical pixels. */
#define CELL 38
#define PAD 6
#define GAP 6
/* Names longer than this are ellipsized. */
#define MAX_LABEL_WIDTH 110
#define SMALL_TEXT_SCALE 0.85
/* Column names slant up and to the right, at 45°. */
#define SLANT (G_PI / 4)
/* Above this share of its row a cell is dark enough for light text. */
#define LIGHT_TEXT_SHARE 0.55

static const GdkRGBA fallback_accent = { 0.208, 0.518, 0.894, 1 };  /* #3584e4 */
static const GdkRGBA fallback_error = { 0.753, 0.110, 0.157, 1 };   /* #c01c28 */
static const GdkRGBA white = { 1, 1, 1, 1 };

struct _GraftConfusionMatrix
{
  GtkWidget parent_instance;

  guint n;
  GStrv names;
  guint *counts;              /* n × n, [truth][predicted] */
  guint sel_t, sel_p;         /* the selected cell; n: none */
  guint focus_t, focus_p;     /* the keyboard's cell */
};

G_DEFINE_FINAL_TYPE (GraftConfusionMatrix, graft_confusion_matrix,
                     GTK_TYPE_WIDGET)

enum { CELL_ACTIVATED, N_SIGNALS };
static guint signals[N_SIGNALS];

typedef struct
{
  double axis;        /* the width of the "True" title, turned upright */
  double row_labels;  /* the widest truth name */
  double col_labels;  /* the height the slanted names take */
  double title;       /* the height of the "Predicted" title */
  double x0, y0;      /* the first cell's corner */
  double right;       /* how far the last slanted name reaches past the cells */
} Layout;

/* ---- Text ------------------------------------------------------------------- */

static PangoLayout *
create_text (GraftConfusionMatrix *self, const char *text, gboolean bold)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self),
                                                        text);
  PangoAttrList *attrs = pango_attr_list_new ();

  pango_attr_list_insert (attrs, pango_attr_scale_new (SMALL_TEXT_SCALE));
  if (bold)
    pango_attr_list_insert (attrs, pango_attr_weight_new (PANGO_WEIGHT_BOLD));
  pango_layout_set_attributes (layout, attrs);
  pango_attr_list_unref (attrs);
  pango_layout_set_width (layout, MAX_LABEL_WIDTH * PANGO_SCALE);
  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  return layout;
}

static void
text_size (GraftConfusionMatrix *self, const char *text, gboolean bold,
           int *width, int *height)
{
  g_autoptr (PangoLayout) layout = create_text (self, text, bold);

  pango_layout_get_pixel_size (layout, width, height);
}

static void
compute_layout (GraftConfusionMatrix *self, Layout *l)
{
  int w, h, widest = 0, line = 0;

  for (guint i = 0; i < self->n; i++)
    {
      text_size (self, self->names[i], FALSE, &w, &h);
      widest = MAX (widest, w);
      line = MAX (line, h);
    }
  text_size (self, _("Predicted"), TRUE, &w, &h);
  l->title = h + GAP;
  text_size (self, _("True"), TRUE, &w, &h);
  l->axis = h + GAP;
  l->row_labels = widest + GAP;
  l->col_labels = widest * sin (SLANT) + line * cos (SLANT) + GAP;
  l->x0 = PAD + l->axis + l->row_labels;
  l->y0 = PAD + l->title + l->col_labels;
  l->right = MAX (0, widest * cos (SLANT) - CELL / 2.0);
}

/* ---- Cells ------------------------------------------------------------------- */

static guint
row_total (GraftConfusionMatrix *self, guint truth)
{
  guint total = 0;

  for (guint p = 0; p < self->n; p++)
    total += self->counts[truth * self->n + p];
  return total;
}

guint
graft_confusion_matrix_get_count (GraftConfusionMatrix *self, guint truth,
                                  guint predicted)
{
  g_return_val_if_fail (truth < self->n && predicted < self->n, 0);
  return self->counts[truth * self->n + predicted];
}

gboolean
graft_confusion_matrix_get_cell_area (GraftConfusionMatrix *self,
                                      guint truth, guint predicted,
                                      graphene_rect_t *area)
{
  Layout l;

  if (truth >= self->n || predicted >= self->n)
    return FALSE;
  compute_layout (self, &l);
  graphene_rect_init (area, l.x0 + predicted * CELL, l.y0 + truth * CELL,
                      CELL, CELL);
  return TRUE;
}

gboolean
graft_confusion_matrix_cell_at (GraftConfusionMatrix *self, double x,
                                double y, guint *truth, guint *predicted)
{
  Layout l;
  double col, row;

  compute_layout (self, &l);
  col = floor ((x - l.x0) / CELL);
  row = floor ((y - l.y0) / CELL);
  if (col < 0 || row < 0 || col >= self->n || row >= self->n)
    return FALSE;
  *truth = (guint) row;
  *predicted = (guint) col;
  return TRUE;
}

/* ---- Drawing ------------------------------------------------------------------ */

typedef struct
{
  GdkRGBA fg, accent, error;
} Colors;

static void
get_colors (GraftConfusionMatrix *self, Colors *c)
{
  GtkStyleContext *context = gtk_widget_get_style_context (GTK_WIDGET (self));

  gtk_style_context_get_color (context, &c->fg);
  /* Named colours of libadwaita's stylesheet: right answers in the
   * accent, mistakes in the error colour. */
  if (!gtk_style_context_lookup_color (context, "accent_bg_color",
                                       &c->accent))
    c->accent = fallback_accent;
  if (!gtk_style_context_lookup_color (context, "destructive_bg_color",
                                       &c->error))
    c->error = fallback_error;
}

static void
set_source (cairo_t *cr, const GdkRGBA *color, double alpha)
{
  cairo_set_source_rgba (cr, color->red, color->green, color->blue,
                         color->alpha * alpha);
}

static void
draw_cell (GraftConfusionMatrix *self, cairo_t *cr, const Layout *l,
           guint t, guint p, const Colors *c)
{
  guint count = self->counts[t * self->n + p];
  guint total = row_total (self, t);
  double share = total > 0 ? (double) count / total : 0;
  double x = l->x0 + p * CELL, y = l->y0 + t * CELL;
  g_autofree char *text = g_strdup_printf ("%u", count);
  g_autoptr (PangoLayout) layout = create_text (self, text, t == p);
  int w, h;

  set_source (cr, t == p ? &c->accent : &c->error,
              count > 0 ? 0.12 + 0.88 * share : 0);
  cairo_rectangle (cr, x + 1, y + 1, CELL - 2, CELL - 2);
  cairo_fill_preserve (cr);
  set_source (cr, &c->fg, 0.08);
  cairo_set_line_width (cr, 1);
  cairo_stroke (cr);
  pango_layout_get_pixel_size (layout, &w, &h);
  set_source (cr, share > LIGHT_TEXT_SHARE ? &white : &c->fg,
              count > 0 ? 1 : 0.4);
  cairo_move_to (cr, x + (CELL - w) / 2.0, y + (CELL - h) / 2.0);
  pango_cairo_show_layout (cr, layout);
}

static void
outline_cell (cairo_t *cr, const Layout *l, guint t, guint p,
              const GdkRGBA *color, gboolean dashed)
{
  static const double dash[] = { 3, 2 };

  set_source (cr, color, 1);
  cairo_set_line_width (cr, 2);
  cairo_set_dash (cr, dash, dashed ? 2 : 0, 0);
  cairo_rectangle (cr, l->x0 + p * CELL + 1.5, l->y0 + t * CELL + 1.5,
                   CELL - 3, CELL - 3);
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0);
}

static void
show_at (cairo_t *cr, PangoLayout *layout, double x, double y, double angle,
         const GdkRGBA *color, double alpha)
{
  cairo_save (cr);
  cairo_translate (cr, x, y);
  cairo_rotate (cr, angle);
  set_source (cr, color, alpha);
  cairo_move_to (cr, 0, 0);
  pango_cairo_show_layout (cr, layout);
  cairo_restore (cr);
}

static void
draw_labels (GraftConfusionMatrix *self, cairo_t *cr, const Layout *l,
             const Colors *c)
{
  g_autoptr (PangoLayout) predicted = create_text (self, _("Predicted"), TRUE);
  g_autoptr (PangoLayout) truth = create_text (self, _("True"), TRUE);
  int w, h;

  pango_layout_get_pixel_size (predicted, &w, &h);
  show_at (cr, predicted, l->x0 + (self->n * CELL - w) / 2.0, PAD, 0,
           &c->fg, 0.7);
  pango_layout_get_pixel_size (truth, &w, &h);
  show_at (cr, truth, PAD, l->y0 + (self->n * CELL + w) / 2.0, -G_PI / 2,
           &c->fg, 0.7);
  for (guint i = 0; i < self->n; i++)
    {
      g_autoptr (PangoLayout) name = create_text (self, self->names[i], FALSE);

      pango_layout_get_pixel_size (name, &w, &h);
      show_at (cr, name, l->x0 - GAP - w, l->y0 + i * CELL + (CELL - h) / 2.0,
               0, &c->fg, 1);
      /* The slanted name starts just above its column's middle. */
      show_at (cr, name, l->x0 + i * CELL + CELL / 2.0 - h / 2.0 * sin (SLANT),
               l->y0 - GAP - h * cos (SLANT), -SLANT, &c->fg, 1);
    }
}

static void
graft_confusion_matrix_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  GraftConfusionMatrix *self = GRAFT_CONFUSION_MATRIX (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  cairo_t *cr;
  Colors colors;
  Layout l;

  if (self->n == 0)
    return;
  get_colors (self, &colors);
  compute_layout (self, &l);
  cr = gtk_snapshot_append_cairo (snapshot,
                                  &GRAPHENE_RECT_INIT (0, 0, width, height));
  draw_labels (self, cr, &l, &colors);
  for (guint t = 0; t < self->n; t++)
    for (guint p = 0; p < self->n; p++)
      draw_cell (self, cr, &l, t, p, &colors);
  if (self->sel_t < self->n)
    outline_cell (cr, &l, self->sel_t, self->sel_p, &colors.fg, FALSE);
  if (gtk_widget_has_visible_focus (widget))
    outline_cell (cr, &l, self->focus_t, self->focus_p, &colors.accent, TRUE);
  cairo_destroy (cr);
}

static void
graft_confusion_matrix_measure (GtkWidget *widget, GtkOrientation orientation,
                                int for_size, int *minimum, int *natural,
                                int *minimum_baseline, int *natural_baseline)
{
  GraftConfusionMatrix *self = GRAFT_CONFUSION_MATRIX (widget);
  Layout l;

  compute_layout (self, &l);
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    *minimum = *natural = ceil (l.x0 + self->n * CELL + l.right + PAD);
  else
    *minimum = *natural = ceil (l.y0 + self->n * CELL + PAD);
}

/* ---- Input --------------------------------------------------------------------- */

void
graft_confusion_matrix_select (GraftConfusionMatrix *self, guint truth,
                               guint predicted)
{
  g_return_if_fail (GRAFT_IS_CONFUSION_MATRIX (self));
  self->sel_t = truth < self->n && predicted < self->n ? truth : self->n;
  self->sel_p = predicted;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
graft_confusion_matrix_activate_cell (GraftConfusionMatrix *self,
                                      guint truth, guint predicted)
{
  g_return_if_fail (GRAFT_IS_CONFUSION_MATRIX (self));
  g_return_if_fail (truth < self->n && predicted < self->n);
  self->focus_t = truth;
  self->focus_p = predicted;
  graft_confusion_matrix_select (self, truth, predicted);
  g_signal_emit (self, signals[CELL_ACTIVATED], 0, truth, predicted);
}

static void
on_released (GtkGestureClick *gesture, int n_press, double x, double y,
             GraftConfusionMatrix *self)
{
  guint t, p;

  if (graft_confusion_matrix_cell_at (self, x, y, &t, &p))
    {
      gtk_widget_grab_focus (GTK_WIDGET (self));
      graft_confusion_matrix_activate_cell (self, t, p);
    }
}

/* Arrows move the keyboard's cell; Enter or Space activates it. */
static gboolean
on_key (GtkEventControllerKey *controller, guint keyval, guint keycode,
        GdkModifierType state, GraftConfusionMatrix *self)
{
  int dt = 0, dp = 0;

  switch (keyval)
    {
    case GDK_KEY_Up: case GDK_KEY_KP_Up: dt = -1; break;
    case GDK_KEY_Down: case GDK_KEY_KP_Down: dt = 1; break;
    case GDK_KEY_Left: case GDK_KEY_KP_Left: dp = -1; break;
    case GDK_KEY_Right: case GDK_KEY_KP_Right: dp = 1; break;
    case GDK_KEY_Return: case GDK_KEY_KP_Enter: case GDK_KEY_space:
      if (self->n > 0)
        graft_confusion_matrix_activate_cell (self, self->focus_t,
                                              self->focus_p);
      return self->n > 0;
    default: return FALSE;
    }
  if (self->n == 0)
    return FALSE;
  self->focus_t = CLAMP ((int) self->focus_t + dt, 0, (int) self->n - 1);
  self->focus_p = CLAMP ((int) self->focus_p + dp, 0, (int) self->n - 1);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return TRUE;
}

/* ---- Data ------------------------------------------------------------------------ */

/* For a screen reader: each class's right answers and its mistakes. */
static void
update_description (GraftConfusionMatrix *self)
{
  g_autoptr (GString) text = g_string_new (NULL);

  for (guint t = 0; t < self->n; t++)
    {
      guint right = self->counts[t * self->n + t];
      g_string_append_printf (text, _("%s: %u of %u right. "), self->names[t],
                              right, row_total (self, t));
    }
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  text->str, -1);
}

void
graft_confusion_matrix_set_data (GraftConfusionMatrix *self,
                                 const char *const *names,
                                 const guint *counts, guint n)
{
  g_return_if_fail (GRAFT_IS_CONFUSION_MATRIX (self));
  g_strfreev (self->names);
  g_free (self->counts);
  self->n = n;
  self->names = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    self->names[i] = g_strdup (names[i]);
  self->counts = g_memdup2 (counts, MAX (n * n, 1) * sizeof (guint));
  self->sel_t = n;
  self->focus_t = self->focus_p = 0;
  update_description (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

guint
graft_confusion_matrix_get_n_classes (GraftConfusionMatrix *self)
{
  return self->n;
}

GtkWidget *
graft_confusion_matrix_new (void)
{
  return g_object_new (GRAFT_TYPE_CONFUSION_MATRIX, NULL);
}

static void
graft_confusion_matrix_finalize (GObject *object)
{
  GraftConfusionMatrix *self = GRAFT_CONFUSION_MATRIX (object);

  g_strfreev (self->names);
  g_free (self->counts);
  G_OBJECT_CLASS (graft_confusion_matrix_parent_class)->finalize (object);
}

static void
graft_confusion_matrix_class_init (GraftConfusionMatrixClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = graft_confusion_matrix_finalize;
  widget_class->snapshot = graft_confusion_matrix_snapshot;
  widget_class->measure = graft_confusion_matrix_measure;
  signals[CELL_ACTIVATED]
    = g_signal_new ("cell-activated", G_TYPE_FROM_CLASS (klass),
                    G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                    G_TYPE_UINT, G_TYPE_UINT);
  gtk_widget_class_set_css_name (widget_class, "graftconfusionmatrix");
  gtk_widget_class_set_accessible_role (widget_class,
                                        GTK_ACCESSIBLE_ROLE_GRID);
}

static void
graft_confusion_matrix_init (GraftConfusionMatrix *self)
{
  GtkGesture *click = gtk_gesture_click_new ();
  GtkEventController *keys = gtk_event_controller_key_new ();

  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), "pointer");
  g_signal_connect (click, "released", G_CALLBACK (on_released), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_key), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
  self->names = g_new0 (char *, 1);
  self->counts = g_new0 (guint, 1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Confusion matrix"), -1);
}
