/* graft-export-dialog.h: the Export dialog — a run's head (ONNX), head
 * weights (safetensors and head.json), whole model (ONNX), curves (CSV)
 * and plot (PNG, SVG at a chosen size) written into a folder, each file
 * named after the run and never over an existing one.  After a whole
 * model is written, the dialog loads the written file back and checks
 * that it predicts what the run predicts on a few validation pictures,
 * and says so.
 *
 * Every file is read and written on workers; the plot is drawn on the
 * main thread into memory and written by a worker.
 */
#pragma once

#include <adwaita.h>

#include "graft-loss-plot.h"
#include "graft-run-record.h"

G_BEGIN_DECLS

/* Pictures the re-load check compares, at most. */
#define GRAFT_EXPORT_CHECK_PICTURES 8
#define GRAFT_EXPORT_DEFAULT_PLOT_WIDTH 1200
#define GRAFT_EXPORT_DEFAULT_PLOT_HEIGHT 800

#define GRAFT_TYPE_EXPORT_DIALOG (graft_export_dialog_get_type ())
G_DECLARE_FINAL_TYPE (GraftExportDialog, graft_export_dialog, GRAFT,
                      EXPORT_DIALOG, AdwWindow)

/* A modal dialog over @parent for @record.  @plot: the plot to save as
 * PNG and SVG; NULL: the dialog draws the record's curves itself, in a
 * plot of its own that is never shown. */
GtkWindow  *graft_export_dialog_new      (GtkWindow *parent,
                                          GraftRunRecord *record,
                                          GraftLossPlot *plot);

/* The folder the files go to (by default Documents, else home, once
 * found); what "Choose Folder…" sets.  NULL until known. */
const char *graft_export_dialog_get_folder (GraftExportDialog *self);
void        graft_export_dialog_set_folder (GraftExportDialog *self,
                                            const char *folder);

/* TRUE while files are written or the model is checked. */
gboolean    graft_export_dialog_get_busy (GraftExportDialog *self);
/* The files the last export wrote, full paths, NULL-terminated (empty
 * before one). */
const char *const *graft_export_dialog_get_written (GraftExportDialog *self);
/* The last export's failure, or NULL. */
const char *graft_export_dialog_get_error (GraftExportDialog *self);
/* The re-load check of the last whole-model export: FALSE until it is
 * done (or when it could not run); then how many of @total validation
 * pictures the written file predicts as the run does. */
gboolean    graft_export_dialog_get_check_result (GraftExportDialog *self,
                                                  guint *agree,
                                                  guint *total);

G_END_DECLS
