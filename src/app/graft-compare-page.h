/* graft-compare-page.h: the Compare stage — every run kept, a switch to
 * lay each beside the others: their curves in one plot, a table of their
 * numbers, accuracy per class side by side, a confusion matrix each
 * whose cells open the pictures behind them, and, for two runs, the
 * validation pictures one gets right and the other wrong.  Runs are
 * renamed in place and deleted with an undo toast. */
#pragma once

#include <adwaita.h>

#include "graft-confusion-matrix.h"
#include "graft-loss-plot.h"
#include "graft-project.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_COMPARE_PAGE (graft_compare_page_get_type ())
G_DECLARE_FINAL_TYPE (GraftComparePage, graft_compare_page, GRAFT,
                      COMPARE_PAGE, GtkWidget)

void           graft_compare_page_set_project (GraftComparePage *self,
                                               GraftProject *project);

/* For tests: the plot; the table's run rows; the confusion matrix of the
 * ticked run in @dir (NULL if none); and the pictures the cell view and
 * the two halves (0, 1) of the "changed" view list, NULL while they are
 * not known yet. */
GraftLossPlot *graft_compare_page_get_plot         (GraftComparePage *self);
guint          graft_compare_page_get_n_table_rows (GraftComparePage *self);
GraftConfusionMatrix *graft_compare_page_get_matrix (GraftComparePage *self,
                                                     const char *dir);
char         **graft_compare_page_dup_cell_pictures (GraftComparePage *self);
char         **graft_compare_page_dup_changed_pictures
                                                   (GraftComparePage *self,
                                                    guint half);

G_END_DECLS
