/* graft-run-import.h: a run trained elsewhere — by the train.py of a
 * PyTorch project Graft exported (graft-run-pytorch.h) — made a Graft
 * run in its own folder.
 *
 * The folder holds what train.py wrote: run.json (Graft's schema, read
 * back as strictly as Graft's own), weights.safetensors (the best
 * epoch's weights in Graft's names) and graft/model.onnx and
 * graft/head.json (the exported run's, which train.py copies in).  The
 * import rebuilds model.onnx, head.onnx and head.safetensors from the
 * template with the new weights, and head.json, so that predict, export
 * and the app's Compare read the folder as any finished run. */
#pragma once

#include <glib.h>

#include "graft-run-config.h"

G_BEGIN_DECLS

/* The configuration in @folder's run.json, or NULL with one line in
 * @error (also when there is no run.json at all). */
GraftRunConfig *graft_run_import_read_config (const char *folder,
                                              GError **error);

/* Imports @folder in place; every file it writes goes through a
 * temporary file and a rename.  Fails with one line naming the file and
 * what is wrong with it; every input is checked before the first file
 * is written. */
gboolean graft_run_import (const char *folder, GError **error);

G_END_DECLS
