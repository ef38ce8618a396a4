/* graft-run-pytorch.h: a finished run as a PyTorch project that continues
 * it under torchrun (src/train/pytorch/PROJECT.md describes the files).
 *
 * The network comes from the run's model.onnx, whose weights are the
 * run's best: model.py is generated from its graph, one torch.nn module
 * per node that holds weights (in execution order, m0, m1, …), the other
 * ops as torch functions, forward returning the logits; the blocks are
 * Graft's own (gf_find_blocks up to the run's cut), so that train.py
 * freezes and unfreezes what Graft would. */
#pragma once

#include <glib.h>

#include "gf-graph.h"

G_BEGIN_DECLS

/* The model.py of @graph (compiled) from its @input to @logits, with
 * @cut the bottleneck tensor the head starts from: Python source, or NULL
 * with @error set naming the node Graft cannot write as PyTorch.
 * @dropout is the head's (model.onnx keeps its Dropout as an Identity
 * named head.dropout); @names receives, in module order, the state_dict
 * key and the Graft tensor name of each weight, as pairs of strings. */
char *graft_pytorch_model_source (GfGraph *graph, int input, int cut,
                                  int logits, double dropout,
                                  const char *output_kind,
                                  const char *const *labels,
                                  const char *preprocess_json,
                                  GPtrArray *names, GError **error);

/* Writes the project of the finished run in @run_dir into @out_dir
 * (created if missing; files there of the same names are replaced, each
 * through a temporary file and a rename). */
gboolean graft_run_export_pytorch (const char *run_dir, const char *out_dir,
                                   GError **error);

G_END_DECLS
