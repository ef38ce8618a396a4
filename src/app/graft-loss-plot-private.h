/* graft-loss-plot-private.h: the loss plot's internals that tests check —
 * axis ticks, the smoothed values, the data-to-widget mapping and the
 * accessible summary.
 */
#pragma once

#include "graft-loss-plot.h"

G_BEGIN_DECLS

#define GRAFT_PLOT_MAX_TICKS 32

typedef struct
{
  double lo, hi;     /* the axis' ends, widened to whole ticks */
  double step;       /* between ticks on a linear axis; 0 on a log axis */
  guint n;
  double values[GRAFT_PLOT_MAX_TICKS];
} GraftPlotTicks;

/* Ticks 1, 2 or 5 × 10^k apart covering [lo, hi], at most max_ticks of
 * them (2 ≤ max_ticks ≤ GRAFT_PLOT_MAX_TICKS).  An empty range is widened
 * around its value. */
void      graft_plot_nice_ticks          (double          lo,
                                          double          hi,
                                          guint           max_ticks,
                                          GraftPlotTicks *ticks);
/* Ticks for a logarithmic axis over [lo, hi], both > 0: the ends snap to
 * 1, 2 or 5 × 10^k; ticks sit at every decade, and also at 2× and 5× when
 * the range spans few decades.  Thins decades to fit max_ticks. */
void      graft_plot_log_ticks           (double          lo,
                                          double          hi,
                                          guint           max_ticks,
                                          GraftPlotTicks *ticks);

/* The moving average of a steps series at its index-th point. */
gboolean  graft_loss_plot_get_smoothed   (GraftLossPlot  *self,
                                          guint           series,
                                          gsize           index,
                                          double         *y);
/* Where the point (x, y) of a series is drawn, for the widget's current
 * size; FALSE when nothing is plotted or the point cannot be drawn (x or
 * y ≤ 0 on a log axis). */
gboolean  graft_loss_plot_data_to_widget (GraftLossPlot  *self,
                                          guint           series,
                                          double          x,
                                          double          y,
                                          double         *wx,
                                          double         *wy);
/* The accessible description, as it is set after points arrive. */
char     *graft_loss_plot_dup_summary    (GraftLossPlot  *self);

G_END_DECLS
