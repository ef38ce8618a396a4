/* graft-cli-import-run.c: `graft-cli import-run DIR` — what the train.py
 * of an exported PyTorch project wrote, made a Graft run in place
 * (graft-run-import.h), which predict and export then take as any run. */
#define G_LOG_DOMAIN "graft-cli"

#include "graft-cli-private.h"
#include "graft-run-import.h"

#define IMPORT_HELP \
  "Make a Graft run of the folder that the train.py of an exported\n" \
  "PyTorch project (graft-cli export --format pytorch) wrote with\n" \
  "--out DIR: its run.json and weights become model.onnx, head.onnx,\n" \
  "head.safetensors and head.json beside them, so that\n" \
  "graft-cli predict --run DIR and export take it like any run."

int
graft_cli_import_run (int argc, char **argv)
{
  const GOptionEntry entries[] = { { NULL } };
  g_autoptr (GError) error = NULL;

  if (!graft_cli_parse ("import-run", "DIR", IMPORT_HELP, entries, &argc,
                        &argv))
    return GRAFT_CLI_USAGE;
  if (argc != 2)
    return graft_cli_fail (GRAFT_CLI_USAGE, "import-run: give exactly one "
                           "folder, the one train.py wrote");
  if (!graft_run_import (argv[1], &error))
    return graft_cli_fail (GRAFT_CLI_FAILED, "%s", error->message);
  return 0;
}
