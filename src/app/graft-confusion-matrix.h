/* graft-confusion-matrix.h: a confusion matrix drawn with Cairo — one
 * row per true class, one column per predicted class, each cell shaded
 * by its share of the true class and showing its count, the class names
 * along both axes.
 *
 * Clicking a cell, or moving to it with the arrow keys and pressing
 * Enter or Space, selects it and emits "cell-activated" (truth,
 * predicted).
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define GRAFT_TYPE_CONFUSION_MATRIX (graft_confusion_matrix_get_type ())
G_DECLARE_FINAL_TYPE (GraftConfusionMatrix, graft_confusion_matrix, GRAFT,
                      CONFUSION_MATRIX, GtkWidget)

GtkWidget *graft_confusion_matrix_new          (void);
/* @names: @n class names; @counts: n × n, [truth][predicted].  Both are
 * copied.  Clears the selection. */
void       graft_confusion_matrix_set_data     (GraftConfusionMatrix *self,
                                                const char *const *names,
                                                const guint *counts,
                                                guint n);
guint      graft_confusion_matrix_get_n_classes (GraftConfusionMatrix *self);
guint      graft_confusion_matrix_get_count    (GraftConfusionMatrix *self,
                                                guint truth,
                                                guint predicted);

/* The cell under widget coordinates (x, y); FALSE outside every cell. */
gboolean   graft_confusion_matrix_cell_at      (GraftConfusionMatrix *self,
                                                double x, double y,
                                                guint *truth,
                                                guint *predicted);
/* Where a cell is drawn, in widget coordinates. */
gboolean   graft_confusion_matrix_get_cell_area (GraftConfusionMatrix *self,
                                                 guint truth,
                                                 guint predicted,
                                                 graphene_rect_t *area);
/* What a click on the cell does: selects it, emits "cell-activated". */
void       graft_confusion_matrix_activate_cell (GraftConfusionMatrix *self,
                                                 guint truth,
                                                 guint predicted);
/* Marks a cell as the one shown elsewhere (or none: n ≥ n_classes). */
void       graft_confusion_matrix_select       (GraftConfusionMatrix *self,
                                                guint truth,
                                                guint predicted);

G_END_DECLS
