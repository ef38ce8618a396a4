/* graft-compare-page-private.h: what the Compare page's two files share —
 * graft-compare-page.c (the run list, ticks, renaming, deleting, the
 * plot) and graft-compare-page-views.c (the tables, the confusion
 * matrices and the pictures behind them). */
#pragma once

#include "graft-compare-page.h"
#include "graft-run-record.h"

G_BEGIN_DECLS

struct _GraftComparePage
{
  GtkWidget parent_instance;

  GraftProject *project;
  GListModel *runs;           /* GraftRunRecord, the project's */
  GPtrArray *ticked;          /* char *: ticked runs' folders, in order */
  GHashTable *watched;        /* GraftRunRecord whose predictions we await */
  char *cell_dir;             /* the run of the cell shown, or NULL */
  guint cell_t, cell_p;
  gboolean cell_known;        /* the cell's pictures are listed */
  gboolean changed_known;
  guint n_table_rows;

  GtkStack *stack;
  GtkListBox *run_list;
  GtkLabel *hint;
  GtkWidget *plot_controls;
  GtkScale *smoothing;
  GtkDropDown *axis;
  GtkWidget *plot_frame;
  GraftLossPlot *plot;
  GtkWidget *tables;
  GtkGrid *table;
  GtkGrid *class_table;
  GtkFlowBox *matrices;
  GtkWidget *cell_box;
  GtkLabel *cell_title;
  GtkLabel *cell_status;
  GtkFlowBox *cell_pictures;
  GtkWidget *changed_box;
  GtkLabel *changed_status;
  GtkLabel *changed_a_title;
  GtkLabel *changed_b_title;
  GtkFlowBox *changed_a;
  GtkFlowBox *changed_b;
};

/* The ticked runs' records, in the order ticked (a run deleted or not
 * read yet is left out). */
GPtrArray  *graft_compare_page_ticked_records (GraftComparePage *self);
/* Run @index's colour among the ticked, for the light or dark style. */
void        graft_compare_page_run_color      (guint index, GdkRGBA *color);
const char *graft_compare_page_mode_name      (GraftRunMode mode);

void graft_compare_page_refresh_table    (GraftComparePage *self,
                                          GPtrArray *records);
void graft_compare_page_refresh_classes  (GraftComparePage *self,
                                          GPtrArray *records);
void graft_compare_page_refresh_matrices (GraftComparePage *self,
                                          GPtrArray *records);
void graft_compare_page_refresh_cell     (GraftComparePage *self);
void graft_compare_page_refresh_changed  (GraftComparePage *self,
                                          GPtrArray *records);

G_END_DECLS
