/* graft-loss-plot.c: the live training plot, drawn with Cairo.
 *
 * Each series keeps its finite points in two growing arrays (and, for a
 * steps series, the moving average computed as each point arrives).  What
 * is drawn is a decimation: per pixel column, the first, last, lowest and
 * highest point that falls in it, which traces the same pixels as the full
 * polyline.  The columns are kept between frames and only the points that
 * arrived since are added to them; they are rebuilt when the x range, the
 * width or an axis' scale changes.  The x range is widened to whole
 * ticks, so during a run it changes only now and then.
 *
 * Either axis may be logarithmic: positions are then computed in decades
 * ("drawing units", log10 of the value), and values ≤ 0 are not drawn.
 *
 * The layout (margins, ticks, legend, marker labels) is measured with
 * Pango and cached until the data or the size changes.  The legend and the
 * marker labels sit in bands above the plotting area, so they never cover
 * the data.
 */
#define G_LOG_DOMAIN "graft-loss-plot"

#include <cairo-svg.h>
#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "graft-loss-plot.h"
#include "graft-loss-plot-private.h"

#define DEFAULT_SMOOTHING 0.6
#define MAX_SMOOTHING 0.99
#define PERCENT 100.0

/* Sizes, in logical pixels. */
#define MIN_WIDTH 240
#define MIN_HEIGHT 180
#define NATURAL_WIDTH 560
#define NATURAL_HEIGHT 340
#define PAD 8                   /* around everything */
#define TICK_LENGTH 4
#define TICK_GAP 3              /* between a tick and its label */
#define TITLE_GAP 4             /* between tick labels and the axis title */
#define X_TICK_SPACING 90       /* room wanted per x tick */
#define Y_TICK_SPACING 44       /* room wanted per y tick */
#define ESTIMATED_BANDS 90      /* legend, markers and x labels, before
                                 * they are measured */
#define LEGEND_SWATCH 24
#define LEGEND_SWATCH_GAP 6
#define LEGEND_SPACING 18       /* between entries */
#define BAND_GAP 6              /* between legend, marker rows and area */
#define MARKER_PAD_X 5
#define MARKER_PAD_Y 2
#define MARKER_GAP 6            /* between labels in a row */
#define MAX_MARKER_ROWS 3
#define SERIES_WIDTH 2.0
#define RAW_WIDTH 1.0
#define POINT_RADIUS 3.0
#define CLIP_MARGIN (POINT_RADIUS + 1)
#define MIN_POINT_SPACING 5.0   /* mean spacing under which points are not
                                 * drawn: they would merge into a smudge */
#define HOVER_RADIUS 5.0
#define HOVER_OFFSET 12
#define HOVER_PAD 6
#define DASH_LENGTH 6.0
#define MARKER_DASH 3.0
#define SMALL_TEXT_SCALE 0.85
#define RANGE_PAD 0.03          /* of a linear axis' span, at each end */

/* Shades of the foreground colour. */
#define RAW_ALPHA 0.28
#define GRID_ALPHA 0.10
#define AXIS_ALPHA 0.40
#define TEXT_ALPHA 0.75
#define DIM_TEXT_ALPHA 0.55
#define MARKER_ALPHA 0.50
#define MARKER_FILL_ALPHA 0.09
#define HOVER_BORDER_ALPHA 0.25
#define HOVER_FILL_ALPHA 0.96
#define DARK_LUMINANCE 0.5      /* a foreground this light means a dark style */

#define A11Y_UPDATE_MS 1000     /* the accessible summary lags at most this */

/* GNOME's palette: mid shades on light styles, lighter ones on dark. */
static const char *const palette_light[] = {
  "#3584e4", "#e66100", "#26a269", "#9141ac", "#e01b24", "#986a44",
};
static const char *const palette_dark[] = {
  "#62a0ea", "#ffa348", "#57e389", "#c061cb", "#f66151", "#cdab8f",
};

typedef struct
{
  double x_first, y_first, x_last, y_last;
  double y_min, y_max;
  gsize count;
} Column;

/* A series cut into pixel columns for one x range, width and scale. */
typedef struct
{
  Column *columns;
  guint n_columns;
  double x_lo, x_hi;            /* in drawing units */
  gboolean log_x, log_y;
  gsize n_binned;               /* points already in the columns */
} Decimation;

typedef struct
{
  char *label;
  GraftPlotAxis axis;
  GraftPlotStyle style;
  GdkRGBA color;
  int palette_index;            /* -1 when the colour was given */
  GArray *x, *y;                /* double, finite */
  GArray *smoothed;             /* double, steps series only */
  double ema, weight_power;     /* the running average, and w^n */
  double x_min, x_max, y_min, y_max;
  double x_min_positive, y_min_positive;   /* for log axes */
  gboolean sorted;              /* x never went back */
  Decimation raw, smooth;
} Series;

typedef struct
{
  double x;
  char *label;
} Marker;

typedef struct
{
  double x, y, width, height;
} Box;

typedef struct
{
  Box box;
  gboolean shown;               /* FALSE: no row was left for the label */
} MarkerSlot;

/* Where everything goes, for one size and one state of the data. */
typedef struct
{
  int width, height;
  Box area;                     /* the plotting area */
  gboolean has_loss, has_acc, log_x, log_y;
  GraftPlotTicks x_ticks, loss_ticks, acc_ticks;   /* acc in percent */
  double x_lo, x_hi;            /* in drawing units: log10 on a log axis */
  double loss_lo, loss_hi;      /* in drawing units: log10 on a log axis */
  GArray *legend;               /* Box per series */
  GArray *markers;              /* MarkerSlot per marker */
  double markers_top;           /* the marker labels' first row */
} Layout;

typedef struct
{
  GdkRGBA fg;
  gboolean dark;
} Colors;

struct _GraftLossPlot
{
  GtkWidget parent_instance;

  GPtrArray *series;            /* Series * */
  GArray *markers;              /* Marker */
  double smoothing;
  gboolean log_scale;
  gboolean log_x;
  char *x_label;
  guint next_palette;

  Layout layout;
  gboolean layout_valid;

  gboolean hovering;
  double hover_x, hover_y;

  gboolean draw_queued;          /* until the next snapshot */
  guint a11y_source;
};

G_DEFINE_FINAL_TYPE (GraftLossPlot, graft_loss_plot, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_SMOOTHING,
  PROP_LOG_SCALE,
  PROP_LOG_X,
  PROP_X_LABEL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Ticks */

static double
nice_step (double rough)
{
  double magnitude = pow (10, floor (log10 (rough)));
  double residual = rough / magnitude;

  if (residual <= 1)
    return magnitude;
  if (residual <= 2)
    return 2 * magnitude;
  if (residual <= 5)
    return 5 * magnitude;
  return 10 * magnitude;
}

/* The next larger step in the 1-2-5 sequence. */
static double
next_nice_step (double step)
{
  return nice_step (step * 1.5);
}

/* Orders the ends; one value is widened by a tenth of it, or to ±1
 * around zero, so that it gets an axis around it. */
static void
widen_empty_range (double *lo,
                   double *hi)
{
  const double relative_pad = 0.1, pad_at_zero = 1;

  if (*hi < *lo)
    {
      double t = *lo;

      *lo = *hi;
      *hi = t;
    }
  if (*hi - *lo <= fabs (*hi) * DBL_EPSILON * 4)
    {
      double pad = *lo != 0 ? fabs (*lo) * relative_pad : pad_at_zero;

      *lo -= pad;
      *hi += pad;
    }
}

void
graft_plot_nice_ticks (double          lo,
                       double          hi,
                       guint           max_ticks,
                       GraftPlotTicks *ticks)
{
  double step;
  guint n;

  max_ticks = CLAMP (max_ticks, 2, GRAFT_PLOT_MAX_TICKS);
  widen_empty_range (&lo, &hi);

  step = nice_step ((hi - lo) / (max_ticks - 1));
  for (;;)
    {
      /* The tolerance keeps 1 / 0.2 = 5.000…1 from adding a tick. */
      ticks->lo = floor (lo / step + 1e-9) * step;
      ticks->hi = ceil (hi / step - 1e-9) * step;
      n = (guint) llround ((ticks->hi - ticks->lo) / step) + 1;
      if (n <= max_ticks)
        break;
      step = next_nice_step (step);
    }

  ticks->step = step;
  ticks->n = n;
  for (guint i = 0; i < n; i++)
    {
      /* Round through the step so 0.1 × 3 reads 0.3 and never -0. */
      double v = (double) llround (ticks->lo / step + i) * step;
      ticks->values[i] = v == 0 ? 0 : v;
    }
}

/* The largest 1, 2 or 5 × 10^k ≤ v (round_up: the smallest ≥ v). */
static double
snap_125 (double v,
          gboolean round_up)
{
  static const double mantissas[] = { 1, 2, 5, 10 };
  double decade = pow (10, floor (log10 (v)));
  double best = round_up ? 10 * decade : decade;

  for (guint i = 0; i < G_N_ELEMENTS (mantissas); i++)
    {
      double m = mantissas[i] * decade;

      if (!round_up && m <= v * (1 + DBL_EPSILON))
        best = m;
      if (round_up && m >= v * (1 - DBL_EPSILON))
        return m;
    }
  return best;
}

void
graft_plot_log_ticks (double          lo,
                      double          hi,
                      guint           max_ticks,
                      GraftPlotTicks *ticks)
{
  /* Over this few decades, ticks at 2× and 5× help read the values. */
  const int max_decades_for_125 = 3;
  static const double mantissas[] = { 1, 2, 5 };
  int first, last, n_decades, stride;
  gboolean with_125;

  g_return_if_fail (lo > 0 && hi > 0);
  max_ticks = CLAMP (max_ticks, 2, GRAFT_PLOT_MAX_TICKS);
  if (hi < lo * (1 + DBL_EPSILON))
    hi = lo * 10;
  ticks->lo = snap_125 (lo, FALSE);
  ticks->hi = snap_125 (hi, TRUE);
  ticks->step = 0;
  ticks->n = 0;

  /* Decades are small integers: the epsilon only absorbs log10's error. */
  first = (int) floor (log10 (ticks->lo) + 1e-9);
  last = (int) floor (log10 (ticks->hi) + 1e-9);
  n_decades = last - first + 1;
  with_125 = last - first <= max_decades_for_125
             && n_decades * (int) G_N_ELEMENTS (mantissas) <= (int) max_ticks;
  stride = (n_decades + (int) max_ticks - 1) / (int) max_ticks;

  for (int e = first; e <= last; e += stride)
    for (guint i = 0; i < (with_125 ? G_N_ELEMENTS (mantissas) : 1); i++)
      {
        double v = mantissas[i] * pow (10, e);

        if (v >= ticks->lo * (1 - 1e-9) && v <= ticks->hi * (1 + 1e-9)
            && ticks->n < GRAFT_PLOT_MAX_TICKS)
          ticks->values[ticks->n++] = v;
      }
}

/* Series */

static void
decimation_clear (Decimation *d)
{
  g_clear_pointer (&d->columns, g_free);
  d->n_columns = 0;
  d->n_binned = 0;
}

static void
series_free (gpointer data)
{
  Series *s = data;

  g_free (s->label);
  g_array_unref (s->x);
  g_array_unref (s->y);
  g_clear_pointer (&s->smoothed, g_array_unref);
  decimation_clear (&s->raw);
  decimation_clear (&s->smooth);
  g_free (s);
}

static void
marker_clear (gpointer data)
{
  Marker *m = data;

  g_free (m->label);
}

/* The debiased exponential moving average, as TensorBoard computes it:
 * last = last·w + (1 − w)·y, shown as last / (1 − wⁿ) after n points. */
static double
series_smooth_next (Series *s,
                    double  weight,
                    double  y)
{
  s->ema = s->ema * weight + (1 - weight) * y;
  s->weight_power *= weight;
  return s->ema / (1 - s->weight_power);
}

static void
series_resmooth (Series *s,
                 double  weight)
{
  s->ema = 0;
  s->weight_power = 1;
  for (guint i = 0; i < s->y->len; i++)
    g_array_index (s->smoothed, double, i) =
      series_smooth_next (s, weight, g_array_index (s->y, double, i));
  decimation_clear (&s->smooth);
}

static gboolean
series_push (Series *s,
             double  weight,
             double  x,
             double  y)
{
  if (!isfinite (x) || !isfinite (y))
    return FALSE;

  if (s->x->len > 0 && x < g_array_index (s->x, double, s->x->len - 1))
    s->sorted = FALSE;
  g_array_append_val (s->x, x);
  g_array_append_val (s->y, y);
  s->x_min = MIN (s->x_min, x);
  s->x_max = MAX (s->x_max, x);
  if (x > 0)
    s->x_min_positive = MIN (s->x_min_positive, x);
  s->y_min = MIN (s->y_min, y);
  s->y_max = MAX (s->y_max, y);
  if (y > 0)
    s->y_min_positive = MIN (s->y_min_positive, y);

  if (s->smoothed != NULL)
    {
      double smoothed = series_smooth_next (s, weight, y);
      g_array_append_val (s->smoothed, smoothed);
    }
  return TRUE;
}

static Series *
get_series (GraftLossPlot *self,
            guint          index)
{
  g_return_val_if_fail (index < self->series->len, NULL);
  return g_ptr_array_index (self->series, index);
}

static gsize
total_points (GraftLossPlot *self)
{
  gsize n = 0;

  for (guint i = 0; i < self->series->len; i++)
    n += ((Series *) g_ptr_array_index (self->series, i))->x->len;
  return n;
}

/* Accessibility */

static char *
format_value (GraftPlotAxis axis,
              double        y)
{
  if (axis == GRAFT_PLOT_AXIS_ACCURACY)
    return g_strdup_printf ("%.1f %%", y * PERCENT);
  return g_strdup_printf ("%.4g", y);
}

char *
graft_loss_plot_dup_summary (GraftLossPlot *self)
{
  g_autoptr (GString) text = g_string_new (NULL);
  guint n = self->series->len;

  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), NULL);

  g_string_printf (text, ngettext ("Loss plot: %u series",
                                   "Loss plot: %u series", n), n);
  for (guint i = 0; i < n; i++)
    {
      Series *s = g_ptr_array_index (self->series, i);
      gsize last = s->x->len - 1;
      g_autofree char *value = NULL;

      if (s->x->len == 0)
        continue;
      value = format_value (s->axis, g_array_index (s->y, double, last));
      /* Translators: a series' label, its last value, the x axis' title
       * and its last x, e.g. "train loss 0.42 at Step 600". */
      g_string_append_printf (text, _(", last %s %s at %s %g"), s->label,
                              value, self->x_label,
                              g_array_index (s->x, double, last));
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static gboolean
update_accessible (gpointer data)
{
  GraftLossPlot *self = data;
  g_autofree char *summary = graft_loss_plot_dup_summary (self);

  self->a11y_source = 0;
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, summary,
                                  -1);
  return G_SOURCE_REMOVE;
}

/* Queuing a draw walks up the widget tree; once per frame is enough. */
static void
queue_draw (GraftLossPlot *self)
{
  if (self->draw_queued)
    return;
  self->draw_queued = TRUE;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* The plot's data changed: redraw on the next frame, and update the
 * accessible summary soon, at most once per A11Y_UPDATE_MS. */
static void
data_changed (GraftLossPlot *self)
{
  self->layout_valid = FALSE;
  queue_draw (self);
  if (self->a11y_source == 0)
    self->a11y_source = g_timeout_add (A11Y_UPDATE_MS, update_accessible, self);
}

/* Text */

static PangoLayout *
create_text (GraftLossPlot *self,
             const char    *text,
             gboolean       small)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), text);

  if (small)
    {
      PangoAttrList *attrs = pango_attr_list_new ();

      pango_attr_list_insert (attrs, pango_attr_scale_new (SMALL_TEXT_SCALE));
      pango_layout_set_attributes (layout, attrs);
      pango_attr_list_unref (attrs);
    }
  return layout;
}

static void
text_size (GraftLossPlot *self,
           const char    *text,
           gboolean       small,
           double        *width,
           double        *height)
{
  g_autoptr (PangoLayout) layout = create_text (self, text, small);
  int w, h;

  pango_layout_get_pixel_size (layout, &w, &h);
  if (width != NULL)
    *width = w;
  if (height != NULL)
    *height = h;
}

static void
show_text (cairo_t       *cr,
           PangoLayout   *layout,
           double         x,
           double         y,
           const GdkRGBA *color,
           double         alpha)
{
  cairo_set_source_rgba (cr, color->red, color->green, color->blue,
                         color->alpha * alpha);
  cairo_move_to (cr, x, y);
  pango_cairo_show_layout (cr, layout);
}

/* Tick labels: as many decimals as the step needs; thousands as "k" once
 * the numbers get long. */
static char *
format_tick (double value,
             double step)
{
  const double long_number = 10000, thousand = 1000;
  int decimals;

  if (step == 0)
    return g_strdup_printf ("%g", value);
  if (step >= thousand && fabs (value) >= long_number)
    return g_strdup_printf ("%gk", value / thousand);
  decimals = step >= 1 ? 0 : (int) ceil (-log10 (step) - 1e-9);
  return g_strdup_printf ("%.*f", decimals, value);
}

static double
widest_tick (GraftLossPlot        *self,
             const GraftPlotTicks *ticks,
             const char           *suffix)
{
  double widest = 0;

  for (guint i = 0; i < ticks->n; i++)
    {
      g_autofree char *label = format_tick (ticks->values[i], ticks->step);
      g_autofree char *text = g_strconcat (label, suffix, NULL);
      double w;

      text_size (self, text, TRUE, &w, NULL);
      widest = MAX (widest, w);
    }
  return widest;
}

/* Layout: ranges and ticks */

static void
layout_ranges (GraftLossPlot *self,
               Layout        *l,
               double        *x_range,
               double        *loss_range,
               double        *acc_range)
{
  x_range[0] = loss_range[0] = acc_range[0] = G_MAXDOUBLE;
  x_range[1] = loss_range[1] = acc_range[1] = -G_MAXDOUBLE;
  l->has_loss = l->has_acc = FALSE;

  for (guint i = 0; i < self->series->len; i++)
    {
      Series *s = g_ptr_array_index (self->series, i);
      gboolean acc = s->axis == GRAFT_PLOT_AXIS_ACCURACY;
      double *range = acc ? acc_range : loss_range;
      double lowest = l->log_y && !acc ? s->y_min_positive : s->y_min;

      if (s->x->len == 0)
        continue;
      x_range[0] = MIN (x_range[0], l->log_x ? s->x_min_positive : s->x_min);
      x_range[1] = MAX (x_range[1], s->x_max);
      if (lowest > s->y_max)
        continue;               /* nothing positive for a log axis */
      *(acc ? &l->has_acc : &l->has_loss) = TRUE;
      range[0] = MIN (range[0], lowest);
      range[1] = MAX (range[1], s->y_max);
    }
  for (guint i = 0; i < self->markers->len; i++)
    {
      double x = g_array_index (self->markers, Marker, i).x;

      if (l->log_x && x <= 0)
        continue;
      x_range[0] = MIN (x_range[0], x);
      x_range[1] = MAX (x_range[1], x);
    }
}

static void
layout_loss_ticks (Layout       *l,
                   const double *range,
                   guint         max_ticks)
{
  /* Keep the extremes off the frame, where they would hide in the axes. */
  double pad = (range[1] - range[0]) * RANGE_PAD;

  memset (&l->loss_ticks, 0, sizeof l->loss_ticks);
  l->loss_ticks.hi = 1;
  if (l->has_loss && l->log_y)
    graft_plot_log_ticks (range[0], range[1], max_ticks, &l->loss_ticks);
  else if (l->has_loss)
    /* Losses are rarely negative: no padding should make them look so. */
    graft_plot_nice_ticks (range[0] >= 0 ? MAX (0, range[0] - pad)
                                         : range[0] - pad,
                           range[1] + pad, max_ticks, &l->loss_ticks);

  l->loss_lo = l->loss_ticks.lo;
  l->loss_hi = l->loss_ticks.hi;
  if (l->has_loss && l->log_y)
    {
      l->loss_lo = log10 (l->loss_lo);
      l->loss_hi = log10 (l->loss_hi);
    }
}

/* Accuracy ticks are in percent, within 0..100. */
static void
layout_acc_ticks (Layout       *l,
                  const double *range,
                  guint         max_ticks)
{
  /* An accuracy axis narrower than this blows noise up. */
  const double min_span = 10;
  double lo = CLAMP (range[0], 0, 1) * PERCENT;
  double hi = CLAMP (range[1], 0, 1) * PERCENT;
  double pad = (hi - lo) * RANGE_PAD;

  memset (&l->acc_ticks, 0, sizeof l->acc_ticks);
  l->acc_ticks.hi = 1;
  if (!l->has_acc)
    return;
  lo = MAX (0, lo - pad);
  hi = MIN (PERCENT, hi + pad);
  if (hi - lo < min_span)
    {
      double mid = CLAMP ((lo + hi) / 2, min_span / 2, PERCENT - min_span / 2);

      lo = mid - min_span / 2;
      hi = mid + min_span / 2;
    }
  graft_plot_nice_ticks (lo, hi, max_ticks, &l->acc_ticks);
}

/* Layout: bands */

/* Flows the legend entries left to right in the area's width, wrapping;
 * returns the legend's bottom. */
static double
layout_legend (GraftLossPlot *self,
               Layout        *l,
               double         top)
{
  double x = l->area.x, y = top, row_height = 0;

  g_array_set_size (l->legend, self->series->len);
  for (guint i = 0; i < self->series->len; i++)
    {
      Series *s = g_ptr_array_index (self->series, i);
      Box *box = &g_array_index (l->legend, Box, i);
      double w, h;

      text_size (self, s->label, TRUE, &w, &h);
      w += LEGEND_SWATCH + LEGEND_SWATCH_GAP;
      if (x > l->area.x && x + w > l->area.x + l->area.width)
        {
          x = l->area.x;
          y += row_height;
          row_height = 0;
        }
      *box = (Box) { x, y, w, h };
      x += w + LEGEND_SPACING;
      row_height = MAX (row_height, h);
    }
  return y + row_height;
}

/* x in drawing units: -inf for x ≤ 0 on a log axis. */
static double
x_units (const Layout *l,
         double        x)
{
  if (!l->log_x)
    return x;
  return x > 0 ? log10 (x) : -INFINITY;
}

static double
x_to_widget (const Layout *l,
             double        x)
{
  return l->area.x + (x_units (l, x) - l->x_lo) / (l->x_hi - l->x_lo)
                     * l->area.width;
}

static int
compare_marker_x (gconstpointer a,
                  gconstpointer b,
                  gpointer      data)
{
  GArray *markers = data;
  double xa = g_array_index (markers, Marker, *(const guint *) a).x;
  double xb = g_array_index (markers, Marker, *(const guint *) b).x;

  return (xa > xb) - (xa < xb);
}

/* A marker's label hangs right of its line like a flag, or left of it near
 * the right edge.  Rows fill from the top; a label goes in the highest row
 * from which down every row is free at its left edge, so no marker's line
 * (which runs from its label down to the area) crosses another label. */
static void
place_marker (Layout     *l,
              MarkerSlot *slot,
              double      x,
              double      row_height,
              double     *row_end)
{
  double right = l->area.x + l->area.width;
  double left = x + slot->box.width > right ? x - slot->box.width : x;
  int row = MAX_MARKER_ROWS;

  left = MAX (left, l->area.x);
  while (row > 0 && row_end[row - 1] + MARKER_GAP <= left)
    row--;
  slot->shown = row < MAX_MARKER_ROWS;
  if (!slot->shown)
    return;
  slot->box.x = left;
  slot->box.y = l->markers_top + row * row_height;
  slot->box.height = row_height;
  row_end[row] = left + slot->box.width;
  for (int below = row + 1; below < MAX_MARKER_ROWS; below++)
    row_end[below] = MAX (row_end[below], x);
}

static double
layout_markers (GraftLossPlot *self,
                Layout        *l,
                double         top)
{
  double row_end[MAX_MARKER_ROWS], row_height = 0, bottom = top;
  g_autofree guint *order = g_new (guint, self->markers->len);

  for (guint r = 0; r < MAX_MARKER_ROWS; r++)
    row_end[r] = -G_MAXDOUBLE;
  g_array_set_size (l->markers, self->markers->len);
  for (guint i = 0; i < self->markers->len; i++)
    {
      MarkerSlot *slot = &g_array_index (l->markers, MarkerSlot, i);
      Marker *m = &g_array_index (self->markers, Marker, i);

      order[i] = i;
      text_size (self, m->label, TRUE, &slot->box.width, &row_height);
      slot->box.width = MIN (slot->box.width + 2 * MARKER_PAD_X,
                             l->area.width);
    }
  g_qsort_with_data (order, self->markers->len, sizeof (guint),
                     compare_marker_x, self->markers);

  row_height += 2 * MARKER_PAD_Y;
  l->markers_top = top;
  for (guint i = 0; i < self->markers->len; i++)
    {
      MarkerSlot *slot = &g_array_index (l->markers, MarkerSlot, order[i]);
      double x = g_array_index (self->markers, Marker, order[i]).x;

      slot->shown = FALSE;
      if (isfinite (x_to_widget (l, x)))
        place_marker (l, slot, x_to_widget (l, x), row_height, row_end);
      if (slot->shown)
        bottom = MAX (bottom, slot->box.y + slot->box.height);
    }
  return bottom;
}

/* Layout: the whole */

/* A log axis with nothing positive on it still gets one decade. */
static void
layout_x_ticks (Layout       *l,
                const double *range,
                guint         max_ticks)
{
  if (!l->log_x)
    {
      graft_plot_nice_ticks (range[0], range[1], max_ticks, &l->x_ticks);
      l->x_lo = l->x_ticks.lo;
      l->x_hi = l->x_ticks.hi;
      return;
    }
  if (range[0] > 0 && range[1] >= range[0])
    graft_plot_log_ticks (range[0], range[1], max_ticks, &l->x_ticks);
  else
    graft_plot_log_ticks (1, 10, max_ticks, &l->x_ticks);
  l->x_lo = log10 (l->x_ticks.lo);
  l->x_hi = log10 (l->x_ticks.hi);
}

static void
layout_horizontal (GraftLossPlot *self,
                   Layout        *l,
                   const double  *x_range)
{
  double left_labels = 0, right_labels = 0, first_x, last_x, x_label_room;
  guint max_ticks = MAX (2, l->width / X_TICK_SPACING);

  layout_x_ticks (l, x_range, max_ticks);
  if (l->has_loss)
    left_labels = widest_tick (self, &l->loss_ticks, "");
  if (l->has_acc)
    right_labels = widest_tick (self, &l->acc_ticks, "%");

  /* The first and last x labels are centred on the area's ends. */
  {
    g_autofree char *first = format_tick (l->x_ticks.lo, l->x_ticks.step);
    g_autofree char *last = format_tick (l->x_ticks.hi, l->x_ticks.step);

    text_size (self, first, TRUE, &first_x, NULL);
    text_size (self, last, TRUE, &last_x, NULL);
  }
  x_label_room = TICK_LENGTH + TICK_GAP;
  /* Whole pixels, so that a decimation column is a pixel column. */
  l->area.x = ceil (PAD + MAX (first_x / 2, left_labels + x_label_room));
  l->area.width = floor (l->width - l->area.x - PAD
                         - MAX (last_x / 2, l->has_acc ? right_labels + x_label_room : 0));
  l->area.width = MAX (1, l->area.width);
}

static void
layout_compute (GraftLossPlot *self,
                Layout        *l,
                int            width,
                int            height)
{
  double x_range[2], loss_range[2], acc_range[2], tick_h, title_h, top;
  guint max_y_ticks;

  l->width = width;
  l->height = height;
  l->log_y = self->log_scale;
  l->log_x = self->log_x;
  layout_ranges (self, l, x_range, loss_range, acc_range);
  max_y_ticks = MAX (2, (height - ESTIMATED_BANDS) / Y_TICK_SPACING);
  layout_loss_ticks (l, loss_range, max_y_ticks);
  layout_acc_ticks (l, acc_range, max_y_ticks);
  layout_horizontal (self, l, x_range);

  top = layout_legend (self, l, PAD) + BAND_GAP;
  top = layout_markers (self, l, top);
  if (self->markers->len > 0)
    top += BAND_GAP;

  text_size (self, "0", TRUE, NULL, &tick_h);
  text_size (self, self->x_label, FALSE, NULL, &title_h);
  /* Half a tick label above the top tick, which sits at the area's top. */
  l->area.y = ceil (top + tick_h / 2);
  l->area.height = floor (height - PAD - title_h - TITLE_GAP - tick_h
                          - TICK_GAP - TICK_LENGTH - l->area.y);
  l->area.height = MAX (1, l->area.height);
}

/* The layout for @width × @height: the widget's size, or a saved
 * picture's. */
static const Layout *
ensure_layout_sized (GraftLossPlot *self,
                     int            width,
                     int            height)
{
  if (!self->layout_valid || width != self->layout.width
      || height != self->layout.height)
    {
      layout_compute (self, &self->layout, width, height);
      self->layout_valid = TRUE;
    }
  return &self->layout;
}

static const Layout *
ensure_layout (GraftLossPlot *self)
{
  return ensure_layout_sized (self, gtk_widget_get_width (GTK_WIDGET (self)),
                              gtk_widget_get_height (GTK_WIDGET (self)));
}

/* Mapping */

static gboolean
y_to_widget (const Layout  *l,
             GraftPlotAxis  axis,
             double         y,
             double        *wy)
{
  double lo, hi;

  if (axis == GRAFT_PLOT_AXIS_ACCURACY)
    {
      y *= PERCENT;
      lo = l->acc_ticks.lo;
      hi = l->acc_ticks.hi;
    }
  else
    {
      if (l->log_y && y <= 0)
        return FALSE;
      y = l->log_y ? log10 (y) : y;
      lo = l->loss_lo;
      hi = l->loss_hi;
    }
  *wy = l->area.y + l->area.height - (y - lo) / (hi - lo) * l->area.height;
  return TRUE;
}

gboolean
graft_loss_plot_data_to_widget (GraftLossPlot *self,
                                guint          series,
                                double         x,
                                double         y,
                                double        *wx,
                                double        *wy)
{
  const Layout *l;
  Series *s;

  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), FALSE);
  if ((s = get_series (self, series)) == NULL || total_points (self) == 0)
    return FALSE;
  l = ensure_layout (self);
  *wx = x_to_widget (l, x);
  return isfinite (*wx) && y_to_widget (l, s->axis, y, wy);
}

/* Decimation */

static void
decimation_reset (Decimation   *d,
                  const Layout *l)
{
  guint n_columns = MAX (1, (guint) l->area.width);

  if (d->columns != NULL && d->n_columns == n_columns
      && d->x_lo == l->x_lo && d->x_hi == l->x_hi
      && d->log_x == l->log_x && d->log_y == l->log_y)
    return;
  g_free (d->columns);
  d->columns = g_new0 (Column, n_columns);
  d->n_columns = n_columns;
  d->x_lo = l->x_lo;
  d->x_hi = l->x_hi;
  d->log_x = l->log_x;
  d->log_y = l->log_y;
  d->n_binned = 0;
}

/* Adds the points that arrived since the last frame to their columns. */
static void
decimation_update (Decimation   *d,
                   const Layout *l,
                   const Series *s,
                   const double *ys)
{
  const double *xs = (const double *) s->x->data;
  gboolean skip_nonpositive = l->log_y && s->axis == GRAFT_PLOT_AXIS_LOSS;
  double scale;

  decimation_reset (d, l);
  scale = d->n_columns / (d->x_hi - d->x_lo);
  for (gsize i = d->n_binned; i < s->x->len; i++)
    {
      double x = xs[i], y = ys[i];
      gint64 index;
      Column *c;

      if ((skip_nonpositive && y <= 0) || (l->log_x && x <= 0))
        continue;
      index = (gint64) ((x_units (l, x) - d->x_lo) * scale);
      c = &d->columns[CLAMP (index, 0, (gint64) d->n_columns - 1)];
      if (c->count++ == 0)
        {
          c->x_first = x;
          c->y_first = c->y_min = c->y_max = y;
        }
      c->x_last = x;
      c->y_last = y;
      c->y_min = MIN (c->y_min, y);
      c->y_max = MAX (c->y_max, y);
    }
  d->n_binned = s->x->len;
}

/* Traces the decimated line: in each column its first point, its lowest
 * and highest (as a vertical stroke), then its last. */
static void
trace_columns (cairo_t          *cr,
               const Layout     *l,
               GraftPlotAxis     axis,
               const Decimation *d)
{
  gboolean started = FALSE;

  for (guint i = 0; i < d->n_columns; i++)
    {
      const Column *c = &d->columns[i];
      double x0, y0, x1, y1, low, high, centre = l->area.x + i + 0.5;

      if (c->count == 0)
        continue;
      x0 = x_to_widget (l, c->x_first);
      x1 = x_to_widget (l, c->x_last);
      y_to_widget (l, axis, c->y_first, &y0);
      y_to_widget (l, axis, c->y_last, &y1);
      if (started)
        cairo_line_to (cr, x0, y0);
      else
        cairo_move_to (cr, x0, y0);
      started = TRUE;
      if (c->count > 2)
        {
          y_to_widget (l, axis, c->y_min, &low);
          y_to_widget (l, axis, c->y_max, &high);
          cairo_line_to (cr, centre, low);
          cairo_line_to (cr, centre, high);
        }
      cairo_line_to (cr, x1, y1);
    }
}

/* Picking */

/* The squared on-screen distance from (wx, wy) to a point, or G_MAXDOUBLE
 * if it is not drawn. */
static double
screen_distance2 (const Layout *l,
                  const Series *s,
                  gsize         i,
                  double        wx,
                  double        wy)
{
  double px = x_to_widget (l, g_array_index (s->x, double, i)), py;

  if (!isfinite (px)
      || !y_to_widget (l, s->axis, g_array_index (s->y, double, i), &py))
    return G_MAXDOUBLE;
  return (px - wx) * (px - wx) + (py - wy) * (py - wy);
}

/* The first index whose x is ≥ x, in a sorted series. */
static gsize
lower_bound (const Series *s,
             double        x)
{
  gsize lo = 0, hi = s->x->len;

  while (lo < hi)
    {
      gsize mid = lo + (hi - lo) / 2;

      if (g_array_index (s->x, double, mid) < x)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* Nearest point of one series: in a sorted series, walk out from the
 * pointer's x while the horizontal distance alone can still beat the best. */
static void
pick_in_series (const Layout *l,
                const Series *s,
                double        wx,
                double        wy,
                double       *best,
                gsize        *best_index)
{
  double scale = l->area.width / (l->x_hi - l->x_lo);
  double units = l->x_lo + (wx - l->area.x) / scale;
  gsize start = s->sorted
    ? lower_bound (s, l->log_x ? pow (10, units) : units) : 0;

  for (gsize i = start; i < s->x->len; i++)
    {
      double dx = (x_units (l, g_array_index (s->x, double, i)) - units)
                  * scale;
      double d;

      if (s->sorted && dx * dx > *best)
        break;
      if ((d = screen_distance2 (l, s, i, wx, wy)) < *best)
        *best = d, *best_index = i;
    }
  for (gsize i = start; s->sorted && i-- > 0;)
    {
      double dx = (x_units (l, g_array_index (s->x, double, i)) - units)
                  * scale;
      double d;

      if (dx * dx > *best)
        break;
      if ((d = screen_distance2 (l, s, i, wx, wy)) < *best)
        *best = d, *best_index = i;
    }
}

/* The point nearest to (x, y) on screen: its series and index. */
static gboolean
pick_point (GraftLossPlot *self,
            double         x,
            double         y,
            guint         *series,
            gsize         *index)
{
  const Layout *l;
  double best = G_MAXDOUBLE;

  if (total_points (self) == 0)
    return FALSE;
  l = ensure_layout (self);
  if (x < l->area.x || x > l->area.x + l->area.width
      || y < l->area.y || y > l->area.y + l->area.height)
    return FALSE;

  *series = G_MAXUINT;
  for (guint i = 0; i < self->series->len; i++)
    {
      double before = best;

      pick_in_series (l, g_ptr_array_index (self->series, i), x, y,
                      &best, index);
      if (best < before)
        *series = i;
    }
  return *series != G_MAXUINT;
}

gboolean
graft_loss_plot_pick (GraftLossPlot *self,
                      double         x,
                      double         y,
                      guint         *series,
                      double        *px,
                      double        *py)
{
  guint picked;
  gsize index;
  Series *s;

  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), FALSE);
  if (!pick_point (self, x, y, &picked, &index))
    return FALSE;
  s = g_ptr_array_index (self->series, picked);
  if (series != NULL)
    *series = picked;
  if (px != NULL)
    *px = g_array_index (s->x, double, index);
  if (py != NULL)
    *py = g_array_index (s->y, double, index);
  return TRUE;
}

/* Dense series */

/* A column's extent on screen. */
typedef struct
{
  double first, last, top, bottom;
} Span;

static gboolean
column_span (const Layout  *l,
             GraftPlotAxis  axis,
             const Column  *c,
             Span          *span)
{
  if (c->count == 0)
    return FALSE;
  y_to_widget (l, axis, c->y_first, &span->first);
  y_to_widget (l, axis, c->y_last, &span->last);
  y_to_widget (l, axis, c->y_max, &span->top);
  y_to_widget (l, axis, c->y_min, &span->bottom);
  return TRUE;
}

/* One pixel column of the line, at least min_height tall, on whole
 * pixels so that cairo fills it without antialiasing work. */
static void
add_span (cairo_t *cr,
          double   x,
          double   top,
          double   bottom,
          double   min_height)
{
  if (bottom - top < min_height)
    {
      double middle = (top + bottom) / 2;

      top = middle - min_height / 2;
      bottom = middle + min_height / 2;
    }
  top = floor (top);
  bottom = ceil (bottom);
  cairo_rectangle (cr, x, top, 1, bottom - top);
}

/* Traces a series with more points than pixel columns as one box per
 * column, from its lowest to its highest point, stretched to meet the line
 * to the next column halfway; the columns the line jumps over get its
 * interpolated stretch.  Antialiased strokes cost cairo in proportion to
 * the length stroked, and the noisy zigzag of a dense series is long:
 * boxes draw the same pixels for a small fraction of the time. */
static void
fill_spans (cairo_t          *cr,
            const Layout     *l,
            GraftPlotAxis     axis,
            const Decimation *d,
            double            min_height)
{
  Span current = { 0 }, next = { 0 };
  guint i = 0, j;

  while (i < d->n_columns && !column_span (l, axis, &d->columns[i], &current))
    i++;
  for (; i < d->n_columns; i = j, current = next)
    {
      for (j = i + 1; j < d->n_columns; j++)
        if (column_span (l, axis, &d->columns[j], &next))
          break;
      if (j < d->n_columns)
        {
          double step = (next.first - current.last) / (j - i);
          double exit = current.last + step / 2;
          double enter = next.first - step / 2;

          current.top = MIN (current.top, exit);
          current.bottom = MAX (current.bottom, exit);
          next.top = MIN (next.top, enter);
          next.bottom = MAX (next.bottom, enter);
          for (guint k = i + 1; k < j; k++, exit += step)
            add_span (cr, l->area.x + k, MIN (exit, exit + step),
                      MAX (exit, exit + step), min_height);
        }
      add_span (cr, l->area.x + i, current.top, current.bottom, min_height);
    }
}

/* Drawing */

static void
get_colors (GraftLossPlot *self,
            Colors        *colors)
{
  GtkStyleContext *context = gtk_widget_get_style_context (GTK_WIDGET (self));
  const double r = 0.2126, g = 0.7152, b = 0.0722;   /* Rec. 709 luma */

  gtk_style_context_get_color (context, &colors->fg);
  colors->dark = r * colors->fg.red + g * colors->fg.green
                 + b * colors->fg.blue > DARK_LUMINANCE;
}

static GdkRGBA
series_color (const Series *s,
              const Colors *colors)
{
  GdkRGBA color;

  if (s->palette_index < 0)
    return s->color;
  gdk_rgba_parse (&color, colors->dark ? palette_dark[s->palette_index]
                                       : palette_light[s->palette_index]);
  return color;
}

static void
set_source (cairo_t       *cr,
            const GdkRGBA *color,
            double         alpha)
{
  cairo_set_source_rgba (cr, color->red, color->green, color->blue,
                         color->alpha * alpha);
}

/* Sets the line for a style; raw: the faint per-step values. */
static void
set_stroke (cairo_t        *cr,
            GraftPlotStyle  style,
            gboolean        raw)
{
  const double dash[] = { DASH_LENGTH, DASH_LENGTH / 2 };

  cairo_set_line_width (cr, raw ? RAW_WIDTH : SERIES_WIDTH);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_BEVEL);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_BUTT);
  cairo_set_dash (cr, dash, style == GRAFT_PLOT_STYLE_EPOCHS ? 2 : 0, 0);
}

static void
draw_points (cairo_t      *cr,
             const Layout *l,
             const Series *s)
{
  if (s->x->len * MIN_POINT_SPACING > l->area.width)
    return;
  for (guint i = 0; i < s->x->len; i++)
    {
      double x = x_to_widget (l, g_array_index (s->x, double, i)), y;

      if (!isfinite (x)
          || !y_to_widget (l, s->axis, g_array_index (s->y, double, i), &y))
        continue;
      cairo_new_sub_path (cr);
      cairo_arc (cr, x, y, POINT_RADIUS, 0, 2 * G_PI);
    }
  cairo_fill (cr);
}

/* Draws one decimated line: stroked through its points while they are
 * fewer than the pixel columns, as column boxes beyond. */
static void
draw_decimated (cairo_t          *cr,
                const Layout     *l,
                const Series     *s,
                const Decimation *d,
                gboolean          raw,
                const GdkRGBA    *color)
{
  set_source (cr, color, raw ? RAW_ALPHA : 1);
  if (s->x->len > d->n_columns)
    {
      fill_spans (cr, l, s->axis, d, raw ? RAW_WIDTH : SERIES_WIDTH);
      cairo_fill (cr);
      return;
    }
  trace_columns (cr, l, s->axis, d);
  set_stroke (cr, s->style, raw);
  cairo_stroke (cr);
}

static void
draw_series (cairo_t       *cr,
             const Layout  *l,
             Series        *s,
             const Colors  *colors)
{
  GdkRGBA color = series_color (s, colors);
  gboolean steps = s->style == GRAFT_PLOT_STYLE_STEPS;

  if ((s->axis == GRAFT_PLOT_AXIS_LOSS ? !l->has_loss : !l->has_acc)
      || s->x->len == 0)
    return;

  decimation_update (&s->raw, l, s, (const double *) s->y->data);
  draw_decimated (cr, l, s, &s->raw, steps, &color);
  if (steps)
    {
      decimation_update (&s->smooth, l, s, (const double *) s->smoothed->data);
      draw_decimated (cr, l, s, &s->smooth, FALSE, &color);
    }
  if (s->style == GRAFT_PLOT_STYLE_EPOCHS)
    draw_points (cr, l, s);
}

static void
draw_y_ticks (GraftLossPlot        *self,
              cairo_t              *cr,
              const Layout         *l,
              GraftPlotAxis         axis,
              const GraftPlotTicks *ticks,
              const Colors         *colors)
{
  gboolean right = axis == GRAFT_PLOT_AXIS_ACCURACY;
  double edge = right ? l->area.x + l->area.width : l->area.x;
  double direction = right ? 1 : -1;

  for (guint i = 0; i < ticks->n; i++)
    {
      double v = ticks->values[i], y;
      g_autofree char *label = format_tick (v, ticks->step);
      g_autofree char *text = g_strconcat (label, right ? "%" : "", NULL);
      g_autoptr (PangoLayout) layout = create_text (self, text, TRUE);
      int w, h;

      y_to_widget (l, axis, right ? v / PERCENT : v, &y);
      y = round (y) + 0.5;      /* crisp one-pixel lines */
      if (!right || !l->has_loss)
        {
          cairo_move_to (cr, l->area.x, y);
          cairo_line_to (cr, l->area.x + l->area.width, y);
          set_source (cr, &colors->fg, GRID_ALPHA);
          cairo_stroke (cr);
        }
      cairo_move_to (cr, edge, y);
      cairo_line_to (cr, edge + direction * TICK_LENGTH, y);
      set_source (cr, &colors->fg, AXIS_ALPHA);
      cairo_stroke (cr);

      pango_layout_get_pixel_size (layout, &w, &h);
      show_text (cr, layout,
                 right ? edge + TICK_LENGTH + TICK_GAP
                       : edge - TICK_LENGTH - TICK_GAP - w,
                 y - h / 2.0, &colors->fg, TEXT_ALPHA);
    }
}

static void
draw_x_axis (GraftLossPlot *self,
             cairo_t       *cr,
             const Layout  *l,
             const Colors  *colors)
{
  double bottom = l->area.y + l->area.height;
  g_autoptr (PangoLayout) title = create_text (self, self->x_label, FALSE);
  double label_bottom = bottom;
  int w, h;

  for (guint i = 0; i < l->x_ticks.n; i++)
    {
      double x = round (x_to_widget (l, l->x_ticks.values[i])) + 0.5;
      g_autofree char *text = format_tick (l->x_ticks.values[i],
                                           l->x_ticks.step);
      g_autoptr (PangoLayout) layout = create_text (self, text, TRUE);

      cairo_move_to (cr, x, l->area.y);
      cairo_line_to (cr, x, bottom);
      set_source (cr, &colors->fg, GRID_ALPHA);
      cairo_stroke (cr);
      cairo_move_to (cr, x, bottom);
      cairo_line_to (cr, x, bottom + TICK_LENGTH);
      set_source (cr, &colors->fg, AXIS_ALPHA);
      cairo_stroke (cr);

      pango_layout_get_pixel_size (layout, &w, &h);
      show_text (cr, layout, x - w / 2.0, bottom + TICK_LENGTH + TICK_GAP,
                 &colors->fg, TEXT_ALPHA);
      label_bottom = bottom + TICK_LENGTH + TICK_GAP + h;
    }

  pango_layout_get_pixel_size (title, &w, &h);
  show_text (cr, title, l->area.x + (l->area.width - w) / 2,
             label_bottom + TITLE_GAP, &colors->fg, TEXT_ALPHA);
}

static void
draw_frame (GraftLossPlot *self,
            cairo_t       *cr,
            const Layout  *l,
            const Colors  *colors)
{
  double bottom = l->area.y + l->area.height;
  double right = l->area.x + l->area.width;

  cairo_set_line_width (cr, 1);
  if (l->has_loss)
    draw_y_ticks (self, cr, l, GRAFT_PLOT_AXIS_LOSS, &l->loss_ticks, colors);
  if (l->has_acc)
    draw_y_ticks (self, cr, l, GRAFT_PLOT_AXIS_ACCURACY, &l->acc_ticks,
                  colors);
  draw_x_axis (self, cr, l, colors);

  /* The axis lines: bottom, left, and right when accuracy is read there. */
  cairo_move_to (cr, round (l->area.x) + 0.5, l->area.y);
  cairo_line_to (cr, round (l->area.x) + 0.5, round (bottom) + 0.5);
  cairo_line_to (cr, right, round (bottom) + 0.5);
  if (l->has_acc)
    cairo_line_to (cr, round (right) - 0.5, l->area.y);
  set_source (cr, &colors->fg, AXIS_ALPHA);
  cairo_stroke (cr);
}

static void
draw_markers (GraftLossPlot *self,
              cairo_t       *cr,
              const Layout  *l,
              const Colors  *colors)
{
  const double dash[] = { MARKER_DASH, MARKER_DASH };
  double bottom = l->area.y + l->area.height;

  for (guint i = 0; i < self->markers->len; i++)
    {
      const Marker *m = &g_array_index (self->markers, Marker, i);
      const MarkerSlot *slot = &g_array_index (l->markers, MarkerSlot, i);
      double x = round (x_to_widget (l, m->x)) + 0.5;
      double top = slot->shown ? slot->box.y : l->area.y;

      if (!isfinite (x))
        continue;
      cairo_set_line_width (cr, 1);
      cairo_set_dash (cr, dash, G_N_ELEMENTS (dash), 0);
      cairo_move_to (cr, x, top);
      cairo_line_to (cr, x, bottom);
      set_source (cr, &colors->fg, MARKER_ALPHA);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
      if (!slot->shown)
        continue;

      {
        g_autoptr (PangoLayout) layout = create_text (self, m->label, TRUE);

        pango_layout_set_width (layout, (slot->box.width - 2 * MARKER_PAD_X)
                                        * PANGO_SCALE);
        pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
        cairo_rectangle (cr, slot->box.x, slot->box.y, slot->box.width,
                         slot->box.height);
        set_source (cr, &colors->fg, MARKER_FILL_ALPHA);
        cairo_fill (cr);
        show_text (cr, layout, slot->box.x + MARKER_PAD_X,
                   slot->box.y + MARKER_PAD_Y, &colors->fg, TEXT_ALPHA);
      }
    }
}

/* A short stretch of the series' line, as the legend's key. */
static void
draw_swatch (cairo_t      *cr,
             const Series *s,
             const Colors *colors,
             double        x,
             double        y)
{
  const double wiggle = 3;
  GdkRGBA color = series_color (s, colors);

  if (s->style == GRAFT_PLOT_STYLE_STEPS)
    {
      /* The faint raw values around the smoothed line. */
      cairo_move_to (cr, x, y);
      for (int i = 1; i <= LEGEND_SWATCH / wiggle; i++)
        cairo_line_to (cr, x + i * wiggle, y + (i % 2 ? -wiggle : wiggle));
      set_stroke (cr, s->style, TRUE);
      set_source (cr, &color, RAW_ALPHA);
      cairo_stroke (cr);
    }
  cairo_move_to (cr, x, y);
  cairo_line_to (cr, x + LEGEND_SWATCH, y);
  set_stroke (cr, s->style, FALSE);
  set_source (cr, &color, 1);
  cairo_stroke (cr);
  if (s->style == GRAFT_PLOT_STYLE_EPOCHS)
    {
      cairo_arc (cr, x + LEGEND_SWATCH / 2.0, y, POINT_RADIUS, 0, 2 * G_PI);
      cairo_fill (cr);
    }
}

static void
draw_legend (GraftLossPlot *self,
             cairo_t       *cr,
             const Layout  *l,
             const Colors  *colors)
{
  for (guint i = 0; i < self->series->len; i++)
    {
      const Series *s = g_ptr_array_index (self->series, i);
      const Box *box = &g_array_index (l->legend, Box, i);
      g_autoptr (PangoLayout) layout = create_text (self, s->label, TRUE);

      draw_swatch (cr, s, colors, box->x, box->y + box->height / 2);
      show_text (cr, layout, box->x + LEGEND_SWATCH + LEGEND_SWATCH_GAP,
                 box->y, &colors->fg, TEXT_ALPHA);
    }
}

static char *
hover_text (GraftLossPlot *self,
            const Series  *s,
            gsize          index)
{
  double x = g_array_index (s->x, double, index);
  g_autofree char *value = format_value (s->axis,
                                         g_array_index (s->y, double, index));
  g_autofree char *smoothed = NULL;

  if (s->smoothed == NULL)
    /* Translators: a series' label, the x axis' title, x, the value. */
    return g_strdup_printf (_("%s\n%s %g: %s"), s->label, self->x_label, x,
                            value);
  smoothed = format_value (s->axis, g_array_index (s->smoothed, double, index));
  /* Translators: label, x axis title, x, value, smoothed value. */
  return g_strdup_printf (_("%s\n%s %g: %s (smoothed %s)"), s->label,
                          self->x_label, x, value, smoothed);
}

/* A label box placed below right of the point, or flipped to whichever
 * side keeps it inside the widget. */
static void
draw_hover_box (cairo_t       *cr,
                PangoLayout   *layout,
                const Layout  *l,
                double         wx,
                double         wy,
                const Colors  *colors)
{
  GdkRGBA background = { 1, 1, 1, HOVER_FILL_ALPHA };
  const GdkRGBA dark_background = { 0.14, 0.14, 0.14, HOVER_FILL_ALPHA };
  double bx, by;
  int w, h;

  pango_layout_get_pixel_size (layout, &w, &h);
  w += 2 * HOVER_PAD;
  h += 2 * HOVER_PAD;
  bx = wx + HOVER_OFFSET + w <= l->width ? wx + HOVER_OFFSET
                                         : wx - HOVER_OFFSET - w;
  by = wy + HOVER_OFFSET + h <= l->height ? wy + HOVER_OFFSET
                                          : wy - HOVER_OFFSET - h;
  bx = round (MAX (0, bx));
  by = round (MAX (0, by));
  if (colors->dark)
    background = dark_background;

  cairo_rectangle (cr, bx + 0.5, by + 0.5, w, h);
  set_source (cr, &background, 1);
  cairo_fill_preserve (cr);
  cairo_set_line_width (cr, 1);
  set_source (cr, &colors->fg, HOVER_BORDER_ALPHA);
  cairo_stroke (cr);
  show_text (cr, layout, bx + HOVER_PAD, by + HOVER_PAD, &colors->fg, 1);
}

static void
draw_hover (GraftLossPlot *self,
            cairo_t       *cr,
            const Layout  *l,
            const Colors  *colors)
{
  g_autoptr (PangoLayout) layout = NULL;
  g_autofree char *text = NULL;
  const Series *s;
  guint series;
  gsize index;
  GdkRGBA color;
  double wx, wy;

  if (!self->hovering
      || !pick_point (self, self->hover_x, self->hover_y, &series, &index))
    return;
  s = g_ptr_array_index (self->series, series);
  color = series_color (s, colors);
  wx = x_to_widget (l, g_array_index (s->x, double, index));
  y_to_widget (l, s->axis, g_array_index (s->y, double, index), &wy);
  cairo_arc (cr, wx, wy, HOVER_RADIUS, 0, 2 * G_PI);
  set_source (cr, &color, 1);
  cairo_fill (cr);

  text = hover_text (self, s, index);
  layout = create_text (self, text, TRUE);
  draw_hover_box (cr, layout, l, wx, wy, colors);
}

static void
draw_empty (GraftLossPlot *self,
            cairo_t       *cr,
            int            width,
            int            height,
            const Colors  *colors)
{
  g_autoptr (PangoLayout) layout =
    create_text (self, _("The loss appears here once training starts"), FALSE);
  int w, h;

  pango_layout_set_width (layout, MAX (1, width - 2 * PAD) * PANGO_SCALE);
  pango_layout_set_alignment (layout, PANGO_ALIGN_CENTER);
  pango_layout_set_wrap (layout, PANGO_WRAP_WORD);
  pango_layout_get_pixel_size (layout, &w, &h);
  show_text (cr, layout, PAD, (height - h) / 2.0, &colors->fg, DIM_TEXT_ALPHA);
}

/* Everything but the hover read-out, at @width × @height. */
static void
render_with (GraftLossPlot *self,
             cairo_t       *cr,
             int            width,
             int            height,
             const Colors  *colors)
{
  const Layout *l;

  if (width <= 0 || height <= 0)
    return;
  if (total_points (self) == 0)
    {
      draw_empty (self, cr, width, height, colors);
      return;
    }

  l = ensure_layout_sized (self, width, height);
  draw_frame (self, cr, l, colors);
  draw_markers (self, cr, l, colors);
  draw_legend (self, cr, l, colors);

  cairo_save (cr);
  /* Room for lines and points where a value sits on the area's edge. */
  cairo_rectangle (cr, l->area.x - CLIP_MARGIN, l->area.y - CLIP_MARGIN,
                   l->area.width + 2 * CLIP_MARGIN,
                   l->area.height + 2 * CLIP_MARGIN);
  cairo_clip (cr);
  for (guint i = 0; i < self->series->len; i++)
    draw_series (cr, l, g_ptr_array_index (self->series, i), colors);
  cairo_restore (cr);
}

void
graft_loss_plot_render (GraftLossPlot *self,
                        cairo_t       *cr,
                        int            width,
                        int            height)
{
  Colors colors;

  g_return_if_fail (GRAFT_IS_LOSS_PLOT (self));
  g_return_if_fail (cr != NULL);

  get_colors (self, &colors);
  render_with (self, cr, width, height, &colors);
}

static void
graft_loss_plot_snapshot (GtkWidget   *widget,
                          GtkSnapshot *snapshot)
{
  GraftLossPlot *self = GRAFT_LOSS_PLOT (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  Colors colors;
  cairo_t *cr;

  self->draw_queued = FALSE;
  if (width <= 0 || height <= 0)
    return;
  cr = gtk_snapshot_append_cairo (snapshot,
                                  &GRAPHENE_RECT_INIT (0, 0, width, height));
  graft_loss_plot_render (self, cr, width, height);
  if (total_points (self) > 0)
    {
      get_colors (self, &colors);
      draw_hover (self, cr, ensure_layout (self), &colors);
    }
  cairo_destroy (cr);
}

/* Saving */

static cairo_status_t
append_to_bytes (void                *closure,
                 const unsigned char *data,
                 unsigned int         length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

static gboolean
has_extension (const char *path,
               const char *extension)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);

  return g_str_has_suffix (lower, extension);
}

GBytes *
graft_loss_plot_render_file (GraftLossPlot *self,
                             const char    *path,
                             int            width,
                             int            height,
                             GError       **error)
{
  /* A saved plot goes into documents and slides: dark on white, whatever
   * the app's style. */
  const Colors colors = { .fg = { 0, 0, 0, 0.8 }, .dark = FALSE };
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  gboolean svg;
  cairo_surface_t *surface;
  cairo_status_t status;
  cairo_t *cr;

  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);

  svg = has_extension (path, ".svg");
  if (!svg && !has_extension (path, ".png"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s: a plot is saved as .png or .svg"), path);
      return NULL;
    }
  if (width <= 0 || height <= 0 || width > GRAFT_PLOT_MAX_SAVE_SIZE
      || height > GRAFT_PLOT_MAX_SAVE_SIZE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A plot of %d × %d pixels cannot be saved"),
                   width, height);
      return NULL;
    }

  surface = svg ? cairo_svg_surface_create_for_stream (append_to_bytes, bytes,
                                                       width, height)
    : cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  render_with (self, cr, width, height, &colors);
  cairo_destroy (cr);
  /* A size other than the widget's leaves a layout the widget redoes. */
  self->layout_valid = FALSE;
  gtk_widget_queue_draw (GTK_WIDGET (self));

  /* Finishing an SVG surface writes its end; an image surface is
   * written out while still alive. */
  if (svg)
    cairo_surface_finish (surface);
  status = cairo_surface_status (surface);
  if (status == CAIRO_STATUS_SUCCESS && !svg)
    status = cairo_surface_write_to_png_stream (surface, append_to_bytes,
                                                bytes);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("The plot could not be drawn: %s"),
                   cairo_status_to_string (status));
      return NULL;
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&bytes));
}

gboolean
graft_loss_plot_save (GraftLossPlot *self,
                      const char    *path,
                      int            width,
                      int            height,
                      GError       **error)
{
  g_autoptr (GBytes) bytes = graft_loss_plot_render_file (self, path, width,
                                                          height, error);
  gsize length;
  const char *data;

  if (bytes == NULL)
    return FALSE;
  data = g_bytes_get_data (bytes, &length);
  /* A temporary file beside @path, then a rename. */
  return g_file_set_contents_full (path, data, (gssize) length,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0666,
                                   error);
}

static void
on_motion (GtkEventControllerMotion *controller,
           double                    x,
           double                    y,
           GraftLossPlot            *self)
{
  self->hovering = TRUE;
  self->hover_x = x;
  self->hover_y = y;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_leave (GtkEventControllerMotion *controller,
          GraftLossPlot            *self)
{
  self->hovering = FALSE;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* GtkWidget */

static void
graft_loss_plot_measure (GtkWidget      *widget,
                         GtkOrientation  orientation,
                         int             for_size,
                         int            *minimum,
                         int            *natural,
                         int            *minimum_baseline,
                         int            *natural_baseline)
{
  gboolean horizontal = orientation == GTK_ORIENTATION_HORIZONTAL;

  *minimum = horizontal ? MIN_WIDTH : MIN_HEIGHT;
  *natural = horizontal ? NATURAL_WIDTH : NATURAL_HEIGHT;
}

static void
graft_loss_plot_unmap (GtkWidget *widget)
{
  /* Mapping again draws the widget anyway; a flag left set while it was
   * not drawn would hold back the draws after that. */
  GRAFT_LOSS_PLOT (widget)->draw_queued = FALSE;
  GTK_WIDGET_CLASS (graft_loss_plot_parent_class)->unmap (widget);
}

static void
graft_loss_plot_css_changed (GtkWidget         *widget,
                             GtkCssStyleChange *change)
{
  GraftLossPlot *self = GRAFT_LOSS_PLOT (widget);

  GTK_WIDGET_CLASS (graft_loss_plot_parent_class)->css_changed (widget, change);
  /* The font may have changed, and with it every measured size. */
  self->layout_valid = FALSE;
  gtk_widget_queue_draw (widget);
}

/* GObject */

static void
graft_loss_plot_dispose (GObject *object)
{
  GraftLossPlot *self = GRAFT_LOSS_PLOT (object);

  g_clear_handle_id (&self->a11y_source, g_source_remove);
  G_OBJECT_CLASS (graft_loss_plot_parent_class)->dispose (object);
}

static void
graft_loss_plot_finalize (GObject *object)
{
  GraftLossPlot *self = GRAFT_LOSS_PLOT (object);

  g_ptr_array_unref (self->series);
  g_array_unref (self->markers);
  g_free (self->x_label);
  g_array_unref (self->layout.legend);
  g_array_unref (self->layout.markers);
  G_OBJECT_CLASS (graft_loss_plot_parent_class)->finalize (object);
}

static void
graft_loss_plot_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  GraftLossPlot *self = GRAFT_LOSS_PLOT (object);

  switch (prop_id)
    {
    case PROP_SMOOTHING:
      g_value_set_double (value, self->smoothing);
      break;
    case PROP_LOG_SCALE:
      g_value_set_boolean (value, self->log_scale);
      break;
    case PROP_LOG_X:
      g_value_set_boolean (value, self->log_x);
      break;
    case PROP_X_LABEL:
      g_value_set_string (value, self->x_label);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_loss_plot_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  GraftLossPlot *self = GRAFT_LOSS_PLOT (object);

  switch (prop_id)
    {
    case PROP_SMOOTHING:
      graft_loss_plot_set_smoothing (self, g_value_get_double (value));
      break;
    case PROP_LOG_SCALE:
      graft_loss_plot_set_log_scale (self, g_value_get_boolean (value));
      break;
    case PROP_LOG_X:
      graft_loss_plot_set_log_x (self, g_value_get_boolean (value));
      break;
    case PROP_X_LABEL:
      graft_loss_plot_set_x_label (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_loss_plot_class_init (GraftLossPlotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_loss_plot_dispose;
  object_class->finalize = graft_loss_plot_finalize;
  object_class->get_property = graft_loss_plot_get_property;
  object_class->set_property = graft_loss_plot_set_property;
  widget_class->snapshot = graft_loss_plot_snapshot;
  widget_class->measure = graft_loss_plot_measure;
  widget_class->css_changed = graft_loss_plot_css_changed;
  widget_class->unmap = graft_loss_plot_unmap;

  properties[PROP_SMOOTHING] =
    g_param_spec_double ("smoothing", NULL, NULL, 0, MAX_SMOOTHING,
                         DEFAULT_SMOOTHING,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                         | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOG_SCALE] =
    g_param_spec_boolean ("log-scale", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                          | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOG_X] =
    g_param_spec_boolean ("log-x", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                          | G_PARAM_STATIC_STRINGS);
  properties[PROP_X_LABEL] =
    g_param_spec_string ("x-label", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                         | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "graftlossplot");
  gtk_widget_class_set_accessible_role (widget_class,
                                        GTK_ACCESSIBLE_ROLE_IMG);
}

static void
graft_loss_plot_init (GraftLossPlot *self)
{
  GtkEventController *motion = gtk_event_controller_motion_new ();

  self->series = g_ptr_array_new_with_free_func (series_free);
  self->markers = g_array_new (FALSE, FALSE, sizeof (Marker));
  g_array_set_clear_func (self->markers, marker_clear);
  self->smoothing = DEFAULT_SMOOTHING;
  self->x_label = g_strdup (_("Step"));
  self->layout.legend = g_array_new (FALSE, TRUE, sizeof (Box));
  self->layout.markers = g_array_new (FALSE, TRUE, sizeof (MarkerSlot));

  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Loss plot"),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  _("No training yet"),
                                  -1);
}

/* Public API */

GtkWidget *
graft_loss_plot_new (void)
{
  return g_object_new (GRAFT_TYPE_LOSS_PLOT, NULL);
}

guint
graft_loss_plot_add_series (GraftLossPlot  *self,
                            const char     *label,
                            GraftPlotAxis   axis,
                            GraftPlotStyle  style,
                            const GdkRGBA  *color)
{
  Series *s;

  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), 0);
  g_return_val_if_fail (label != NULL, 0);

  s = g_new0 (Series, 1);
  s->label = g_strdup (label);
  s->axis = axis;
  s->style = style;
  s->palette_index = -1;
  if (color != NULL)
    s->color = *color;
  else
    s->palette_index = self->next_palette++ % G_N_ELEMENTS (palette_light);
  s->x = g_array_new (FALSE, FALSE, sizeof (double));
  s->y = g_array_new (FALSE, FALSE, sizeof (double));
  if (style == GRAFT_PLOT_STYLE_STEPS)
    s->smoothed = g_array_new (FALSE, FALSE, sizeof (double));
  s->weight_power = 1;
  s->x_min = s->x_min_positive = s->y_min = s->y_min_positive = G_MAXDOUBLE;
  s->x_max = s->y_max = -G_MAXDOUBLE;
  s->sorted = TRUE;
  g_ptr_array_add (self->series, s);

  data_changed (self);
  return self->series->len - 1;
}

void
graft_loss_plot_append (GraftLossPlot *self,
                        guint          series,
                        double         x,
                        double         y)
{
  graft_loss_plot_append_many (self, series, &x, &y, 1);
}

void
graft_loss_plot_append_many (GraftLossPlot *self,
                             guint          series,
                             const double  *x,
                             const double  *y,
                             gsize          n)
{
  Series *s;
  gboolean changed = FALSE;

  g_return_if_fail (GRAFT_IS_LOSS_PLOT (self));
  g_return_if_fail (n == 0 || (x != NULL && y != NULL));
  if ((s = get_series (self, series)) == NULL)
    return;

  for (gsize i = 0; i < n; i++)
    changed |= series_push (s, self->smoothing, x[i], y[i]);
  if (changed)
    data_changed (self);
}

void
graft_loss_plot_clear (GraftLossPlot *self)
{
  g_return_if_fail (GRAFT_IS_LOSS_PLOT (self));

  g_ptr_array_set_size (self->series, 0);
  g_array_set_size (self->markers, 0);
  self->next_palette = 0;
  data_changed (self);
}

guint
graft_loss_plot_get_n_series (GraftLossPlot *self)
{
  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), 0);
  return self->series->len;
}

gsize
graft_loss_plot_get_n_points (GraftLossPlot *self,
                              guint          series)
{
  Series *s;

  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), 0);
  s = get_series (self, series);
  return s != NULL ? s->x->len : 0;
}

gboolean
graft_loss_plot_get_smoothed (GraftLossPlot *self,
                              guint          series,
                              gsize          index,
                              double        *y)
{
  Series *s;

  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), FALSE);
  s = get_series (self, series);
  if (s == NULL || s->smoothed == NULL || index >= s->smoothed->len)
    return FALSE;
  *y = g_array_index (s->smoothed, double, index);
  return TRUE;
}

void
graft_loss_plot_add_marker (GraftLossPlot *self,
                            double         x,
                            const char    *label)
{
  Marker marker;

  g_return_if_fail (GRAFT_IS_LOSS_PLOT (self));
  g_return_if_fail (label != NULL);
  if (!isfinite (x))
    return;

  marker.x = x;
  marker.label = g_strdup (label);
  g_array_append_val (self->markers, marker);
  data_changed (self);
}

guint
graft_loss_plot_get_n_markers (GraftLossPlot *self)
{
  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), 0);
  return self->markers->len;
}

void
graft_loss_plot_set_smoothing (GraftLossPlot *self,
                               double         weight)
{
  g_return_if_fail (GRAFT_IS_LOSS_PLOT (self));

  weight = isfinite (weight) ? CLAMP (weight, 0, MAX_SMOOTHING) : 0;
  if (weight == self->smoothing)
    return;
  self->smoothing = weight;
  for (guint i = 0; i < self->series->len; i++)
    {
      Series *s = g_ptr_array_index (self->series, i);

      if (s->smoothed != NULL)
        series_resmooth (s, weight);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SMOOTHING]);
}

double
graft_loss_plot_get_smoothing (GraftLossPlot *self)
{
  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), DEFAULT_SMOOTHING);
  return self->smoothing;
}

/* Sets one of the flags that change the layout, and notifies @prop. */
static void
set_layout_flag (GraftLossPlot *self,
                 gboolean      *flag,
                 gboolean       value,
                 guint          prop)
{
  value = !!value;
  if (value == *flag)
    return;
  *flag = value;
  self->layout_valid = FALSE;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

void
graft_loss_plot_set_log_scale (GraftLossPlot *self,
                               gboolean       log_scale)
{
  g_return_if_fail (GRAFT_IS_LOSS_PLOT (self));
  set_layout_flag (self, &self->log_scale, log_scale, PROP_LOG_SCALE);
}

gboolean
graft_loss_plot_get_log_scale (GraftLossPlot *self)
{
  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), FALSE);
  return self->log_scale;
}

void
graft_loss_plot_set_log_x (GraftLossPlot *self,
                           gboolean       log_x)
{
  g_return_if_fail (GRAFT_IS_LOSS_PLOT (self));
  set_layout_flag (self, &self->log_x, log_x, PROP_LOG_X);
}

gboolean
graft_loss_plot_get_log_x (GraftLossPlot *self)
{
  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), FALSE);
  return self->log_x;
}

void
graft_loss_plot_set_x_label (GraftLossPlot *self,
                             const char    *label)
{
  g_return_if_fail (GRAFT_IS_LOSS_PLOT (self));

  if (label == NULL)
    label = _("Step");
  if (g_strcmp0 (label, self->x_label) == 0)
    return;
  g_free (self->x_label);
  self->x_label = g_strdup (label);
  self->layout_valid = FALSE;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_X_LABEL]);
}

const char *
graft_loss_plot_get_x_label (GraftLossPlot *self)
{
  g_return_val_if_fail (GRAFT_IS_LOSS_PLOT (self), NULL);
  return self->x_label;
}
