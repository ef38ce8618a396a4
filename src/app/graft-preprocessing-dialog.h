/* graft-preprocessing-dialog.h: a modal window where the user corrects how
 * pictures are prepared for an imported model (SPEC §5) — a preset
 * (ImageNet/PyTorch, Keras "tf", Keras "caffe"), or the resize mode,
 * channel order, scale, and mean and standard deviation per channel.
 * It only edits numbers: the Backbone page writes them into the model. */
#pragma once

#include <adwaita.h>

#include "graft-backbone.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_PREPROCESSING_DIALOG (graft_preprocessing_dialog_get_type ())
G_DECLARE_FINAL_TYPE (GraftPreprocessingDialog, graft_preprocessing_dialog,
                      GRAFT, PREPROCESSING_DIALOG, AdwWindow)

/* Opens on @pre (the model's size and channels are kept as they are);
 * @model_name is shown as the subtitle.  "save" is emitted when the user
 * presses Save, then the dialog closes itself. */
GraftPreprocessingDialog *
graft_preprocessing_dialog_new (GtkWindow *parent, const char *model_name,
                                const GraftPreprocessing *pre);

/* What the fields say now (from_file TRUE: the user has set it). */
void graft_preprocessing_dialog_get_preprocessing
                                      (GraftPreprocessingDialog *self,
                                       GraftPreprocessing *pre);
/* As choosing a preset in the combo row; for tests. */
void graft_preprocessing_dialog_apply_preset
                                      (GraftPreprocessingDialog *self,
                                       GraftPreprocessingPreset preset);
/* As pressing Save; for tests. */
void graft_preprocessing_dialog_save  (GraftPreprocessingDialog *self);

G_END_DECLS
