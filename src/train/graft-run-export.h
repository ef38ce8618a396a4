/* graft-run-export.h: one of a run's results written out of its folder —
 * the head (ONNX), the whole model (ONNX), the head's weights
 * (safetensors) and their description (head.json) copied, the learning
 * curves as CSV, or the run as a PyTorch project.  `graft-cli export` and the app's Export dialog
 * both write through these functions, so that they write the same bytes.
 *
 * The CSV is one table with a "kind" column, so that a spreadsheet or
 * pandas reads it in one go and filters on that column:
 *
 *   kind,epoch,step,loss,lr,train_loss,val_loss,val_accuracy
 *   step,1,0,1.2392,0.001,,,
 *   ...
 *   epoch,1,3,,,1.2409,1.1772,0.3077
 *
 * A "step" row is one optimizer step: its epoch (from 1), its number
 * (from 0 over the whole run), its training loss and learning rate.  An
 * "epoch" row is the end of an epoch: its number, the steps done by then,
 * the mean training loss, the validation loss and accuracy.  A cell that
 * does not apply, or a value run.json holds as null, is empty.  Numbers
 * are written exactly as run.json holds them.
 *
 * Every file is written to a temporary name beside @out and renamed: a
 * reader sees the old file or the new one, never half of one.  The
 * functions block: call them from a worker in a GUI.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  GRAFT_RUN_EXPORT_HEAD_ONNX,     /* head.onnx: features to probabilities */
  GRAFT_RUN_EXPORT_MODEL_ONNX,    /* model.onnx: picture to probabilities */
  GRAFT_RUN_EXPORT_SAFETENSORS,   /* head.safetensors: the head's weights */
  GRAFT_RUN_EXPORT_HEAD_JSON,     /* head.json: what the weights mean */
  GRAFT_RUN_EXPORT_CSV,           /* the learning curves, from run.json */
  GRAFT_RUN_EXPORT_PYTORCH,       /* a folder: the run as a PyTorch project
                                   * (graft-run-pytorch.h) */
} GraftRunExportFormat;

/* The format `graft-cli export --format NAME` means: head-onnx,
 * model-onnx, safetensors, csv or pytorch.  FALSE for any other name. */
gboolean    graft_run_export_format_from_name (const char *name,
                                               GraftRunExportFormat *format);
/* The file in the run's folder the format copies; NULL for the CSV and
 * the PyTorch project. */
const char *graft_run_export_format_get_file  (GraftRunExportFormat format);

/* Writes @format of the run in @run_dir to @out (a folder for the
 * PyTorch project, a file otherwise).  Fails with one line
 * when @run_dir is no run's folder, or the result is not there (the run
 * has not finished). */
gboolean    graft_run_export                  (const char *run_dir,
                                               GraftRunExportFormat format,
                                               const char *out,
                                               GError **error);

/* The curves as CSV, as graft_run_export writes them. */
char       *graft_run_export_curves_csv       (const char *run_dir,
                                               GError **error);

G_END_DECLS
