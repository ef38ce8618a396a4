/* graft-run-details.h: one run looked at closely, in a modal window —
 * its name, mode and best validation accuracy; "Try a Picture", where a
 * picture dropped anywhere on the window or chosen gets the run's top
 * predictions as bars; and "Mistakes", the validation pictures its model
 * gets wrong, each with its true and predicted label.
 *
 * Nothing is read or decoded on the main thread: the run's model.onnx is
 * loaded once, on a worker, when the first picture is tried, and kept;
 * the record computes the validation predictions on its own worker. */
#pragma once

#include <adwaita.h>

#include "graft-run-record.h"

G_BEGIN_DECLS

/* How many of the model's classes "Try a Picture" shows at most. */
#define GRAFT_RUN_DETAILS_MAX_PREDICTIONS 5

#define GRAFT_TYPE_RUN_DETAILS (graft_run_details_get_type ())
G_DECLARE_FINAL_TYPE (GraftRunDetails, graft_run_details, GRAFT, RUN_DETAILS,
                      AdwWindow)

/* A modal window over @parent (may be NULL) for @record; it asks the
 * record for its predictions. */
GtkWindow     *graft_run_details_new             (GtkWindow *parent,
                                                  GraftRunRecord *record);
GraftRunRecord *graft_run_details_get_record     (GraftRunDetails *self);

/* Shows @file on "Try a Picture" and predicts it (what a drop or the
 * file chooser does). */
void           graft_run_details_try_file        (GraftRunDetails *self,
                                                  GFile *file);

/* For tests. */
GtkDropTarget *graft_run_details_get_drop_target (GraftRunDetails *self);
/* TRUE while a tried picture is being decoded and predicted. */
gboolean       graft_run_details_get_busy        (GraftRunDetails *self);
/* The predictions shown, best first: their count, and newly allocated
 * labels (NULL-terminated) and probabilities when not NULL; 0 when none
 * are shown. */
guint          graft_run_details_get_predictions (GraftRunDetails *self,
                                                  char ***labels,
                                                  double **probabilities);
/* The reason shown when the tried file could not be predicted, or NULL. */
const char    *graft_run_details_get_error       (GraftRunDetails *self);
/* The pictures in the Mistakes grid, in the record's order; NULL until
 * the record's predictions are there. */
char         **graft_run_details_dup_mistakes    (GraftRunDetails *self);
/* How many mistake thumbnails have their picture. */
guint          graft_run_details_get_n_thumbnails_loaded
                                                 (GraftRunDetails *self);

G_END_DECLS
