/* graft-train-page.h: the Train stage — the mode with the recommendation
 * and each mode's estimated time, the head and hyper-parameters (the
 * rarer under "Advanced"), Start · Pause/Resume · Stop, a progress bar
 * with ETA, the live loss plot and an event log. */
#pragma once

#include <adwaita.h>

#include "graft-loss-plot.h"
#include "graft-project.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_TRAIN_PAGE (graft_train_page_get_type ())
G_DECLARE_FINAL_TYPE (GraftTrainPage, graft_train_page, GRAFT, TRAIN_PAGE,
                      AdwBin)

GtkWidget      *graft_train_page_new          (void);
void            graft_train_page_set_project  (GraftTrainPage *self,
                                               GraftProject *project);
/* The configuration the page's controls describe, over the project's
 * data and backbone; NULL with a sentence for the user otherwise. */
GraftRunConfig *graft_train_page_build_config (GraftTrainPage *self,
                                               GError **error);
/* For tests. */
GraftLossPlot  *graft_train_page_get_plot     (GraftTrainPage *self);
/* The event log's lines, oldest first (NULL-terminated, free it). */
char          **graft_train_page_get_log      (GraftTrainPage *self);
/* What the page says, as shown: a mode's estimated time ("about 40 s",
 * "Estimating…"), the recommendation's title, the run's state in words
 * ("Training…", "Training finished — …") and the progress bar's text. */
const char     *graft_train_page_get_estimate (GraftTrainPage *self,
                                               GraftRunMode mode);
const char     *graft_train_page_get_recommendation (GraftTrainPage *self);
const char     *graft_train_page_get_status   (GraftTrainPage *self);
const char     *graft_train_page_get_progress_text (GraftTrainPage *self);

G_END_DECLS
