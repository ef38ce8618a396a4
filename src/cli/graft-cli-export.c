/* graft-cli-export.c: `graft-cli export` — one of a run's results, copied
 * out of its folder, or its learning curves as CSV.  The writing is the
 * training layer's (graft-run-export.h, which describes the CSV), shared
 * with the app's Export dialog. */
#define G_LOG_DOMAIN "graft-cli"

#include "graft-cli-private.h"
#include "graft-run-export.h"

#define EXPORT_HELP \
  "Copy a run's head, model or head weights out of its folder, write\n" \
  "its learning curves as CSV, or write it as a PyTorch project that\n" \
  "continues it under torchrun (a folder: model.py, weights.safetensors,\n" \
  "split.json, recipe.json, train.py; its README.md has the commands).\n" \
  "The CSV is one table with the columns\n" \
  "  kind,epoch,step,loss,lr,train_loss,val_loss,val_accuracy\n" \
  "where a row of kind \"step\" is one optimizer step (epoch from 1, step\n" \
  "from 0 over the run, its training loss and learning rate) and a row\n" \
  "of kind \"epoch\" the end of an epoch (epoch, steps done by then, mean\n" \
  "training loss, validation loss and accuracy).  Cells that do not\n" \
  "apply, and values run.json holds as null, are empty."

int
graft_cli_export (int argc, char **argv)
{
  g_autofree char *run_dir = NULL, *format = NULL, *out = NULL;
  const GOptionEntry entries[] = {
    { "run", 0, 0, G_OPTION_ARG_FILENAME, &run_dir, "The run's folder",
      "RUN_DIR" },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format,
      "head-onnx (the head alone), model-onnx (image to probabilities), "
      "safetensors (the head's weights), csv (the learning curves) or "
      "pytorch (a project folder)",
      "FORMAT" },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "The file to write "
      "(the folder, for pytorch)", "FILE|DIR" },
    { NULL }
  };
  GraftRunExportFormat what;
  g_autoptr (GError) error = NULL;

  if (!graft_cli_parse ("export", "", EXPORT_HELP, entries, &argc, &argv))
    return GRAFT_CLI_USAGE;
  if (run_dir == NULL || format == NULL || out == NULL || argc > 1)
    return graft_cli_fail (GRAFT_CLI_USAGE, "export: --run, --format and "
                           "--out are required, and nothing else");
  if (!graft_run_export_format_from_name (format, &what))
    return graft_cli_fail (GRAFT_CLI_USAGE, "export: --format %s: not one "
                           "of head-onnx, model-onnx, safetensors, csv, "
                           "pytorch",
                           format);
  if (!graft_run_export (run_dir, what, out, &error))
    return graft_cli_fail (GRAFT_CLI_FAILED, "%s", error->message);
  return 0;
}
