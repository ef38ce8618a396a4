/* graft-loss-plot.h: the live training plot — loss per step (raw and
 * smoothed), validation loss and accuracy per epoch, and labelled markers
 * where the training changed (a stage unfroze more of the backbone).
 *
 * Appending is cheap (amortised O(1), no drawing: the widget only queues
 * a draw, which GTK coalesces to one per frame), so a run may append every
 * step.  Drawing decimates each series to its min/max per pixel column, so
 * its cost follows the plot's width, not the number of points.  Values
 * that are not finite are skipped.
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Which vertical axis a series is read against. */
typedef enum
{
  GRAFT_PLOT_AXIS_LOSS,      /* left axis, linear or logarithmic */
  GRAFT_PLOT_AXIS_ACCURACY,  /* right axis: values in 0..1, shown as % */
} GraftPlotAxis;

typedef enum
{
  GRAFT_PLOT_STYLE_STEPS,    /* per-step values drawn faint, plus their
                              * debiased exponential moving average */
  GRAFT_PLOT_STYLE_EPOCHS,   /* per-epoch values: dashed line with points */
  GRAFT_PLOT_STYLE_LINE,     /* plain solid line */
} GraftPlotStyle;

#define GRAFT_TYPE_LOSS_PLOT (graft_loss_plot_get_type ())
G_DECLARE_FINAL_TYPE (GraftLossPlot, graft_loss_plot, GRAFT, LOSS_PLOT, GtkWidget)

GtkWidget  *graft_loss_plot_new            (void);

/* Returns the new series' index.  A NULL color takes the next colour of a
 * palette that reads in both light and dark styles. */
guint       graft_loss_plot_add_series     (GraftLossPlot  *self,
                                            const char     *label,
                                            GraftPlotAxis   axis,
                                            GraftPlotStyle  style,
                                            const GdkRGBA  *color);
void        graft_loss_plot_append         (GraftLossPlot  *self,
                                            guint           series,
                                            double          x,
                                            double          y);
/* x and y hold n values each. */
void        graft_loss_plot_append_many    (GraftLossPlot  *self,
                                            guint           series,
                                            const double   *x,
                                            const double   *y,
                                            gsize           n);
/* Removes every series and marker. */
void        graft_loss_plot_clear          (GraftLossPlot  *self);
guint       graft_loss_plot_get_n_series   (GraftLossPlot  *self);
/* Points kept, i.e. appended with finite x and y. */
gsize       graft_loss_plot_get_n_points   (GraftLossPlot  *self,
                                            guint           series);

/* A labelled vertical line at x, e.g. "Unfroze layer3". */
void        graft_loss_plot_add_marker     (GraftLossPlot  *self,
                                            double          x,
                                            const char     *label);
guint       graft_loss_plot_get_n_markers  (GraftLossPlot  *self);

/* The weight of the moving average of steps series, 0..0.99 (0.6). */
void        graft_loss_plot_set_smoothing  (GraftLossPlot  *self,
                                            double          weight);
double      graft_loss_plot_get_smoothing  (GraftLossPlot  *self);
/* A logarithmic loss axis (off by default). */
void        graft_loss_plot_set_log_scale  (GraftLossPlot  *self,
                                            gboolean        log_scale);
gboolean    graft_loss_plot_get_log_scale  (GraftLossPlot  *self);
/* A logarithmic horizontal axis, ticks at decades (off by default): for
 * x spanning orders of magnitude, such as learning rates.  Points and
 * markers at x ≤ 0 are then not drawn. */
void        graft_loss_plot_set_log_x      (GraftLossPlot  *self,
                                            gboolean        log_x);
gboolean    graft_loss_plot_get_log_x      (GraftLossPlot  *self);
/* The horizontal axis' title ("Step" by default). */
void        graft_loss_plot_set_x_label    (GraftLossPlot  *self,
                                            const char     *label);
const char *graft_loss_plot_get_x_label    (GraftLossPlot  *self);

/* The hover read-out: the point nearest to widget coordinates (x, y), on
 * screen, over every series.  FALSE when (x, y) is outside the plotting
 * area or nothing is plotted.  Any out argument may be NULL. */
gboolean    graft_loss_plot_pick           (GraftLossPlot  *self,
                                            double          x,
                                            double          y,
                                            guint          *series,
                                            double         *px,
                                            double         *py);

/* Draws the plot (everything but the hover read-out) on @cr at @width ×
 * @height, in the widget's colours; the widget's own drawing is this. */
void        graft_loss_plot_render         (GraftLossPlot  *self,
                                            cairo_t        *cr,
                                            int             width,
                                            int             height);
/* Writes the plot at @width × @height pixels to @path, as PNG or SVG by
 * its extension (.png, .svg), dark on white whatever the app's style;
 * through a temporary file and a rename.  Draws on the calling thread,
 * which must be the main one: a worker may write what
 * graft_loss_plot_render_file returns instead. */
gboolean    graft_loss_plot_save           (GraftLossPlot  *self,
                                            const char     *path,
                                            int             width,
                                            int             height,
                                            GError        **error);
/* What graft_loss_plot_save would write to @path, drawn in memory: no
 * file is touched, so a worker can write it. */
GBytes     *graft_loss_plot_render_file    (GraftLossPlot  *self,
                                            const char     *path,
                                            int             width,
                                            int             height,
                                            GError        **error);

/* The largest side a saved plot may have, in pixels. */
#define GRAFT_PLOT_MAX_SAVE_SIZE 16384

G_END_DECLS
