/* gf-onnx.h: reading and writing ONNX files.
 *
 * Import accepts opsets 7 to 17 of the default domain as exported by
 * torch.onnx.export, tf2onnx and the ONNX Model Zoo: initializers in
 * raw_data or the typed fields (float32; float16 and float64 converted),
 * external data only from files in the model's own folder.  Constant and
 * the shape arithmetic exporters put around Reshape (Shape, Gather,
 * Unsqueeze, Concat, ...) are folded at load; a Transpose right after an
 * NHWC input is absorbed so that the model takes NCHW.  Anything else the
 * engine cannot run is refused with a message naming the op and the node,
 * and every size is checked before memory is allocated for it.
 *
 * Export writes opset 13: Dropout becomes Identity, BatchNormalization is
 * written in inference form, HardSwish (opset 14) as x · HardSigmoid(x).
 * Files are written atomically (a temporary file in the same folder, then
 * rename).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gf-model.h"

/* Files larger than this are refused before reading (2 GiB is protobuf's
 * own limit for one message). */
#define GF_ONNX_MAX_FILE_SIZE ((size_t) 2 << 30)

typedef struct
{
  bool fold_batchnorm;     /* fold BatchNormalization into the Conv before
                            * it (inference only); default keeps it */
} GfOnnxLoadOptions;

/* @options may be NULL for the defaults. */
GfStatus gf_onnx_load (const char *path, const GfOnnxLoadOptions *options,
                       GfModel **model, GfError *error);

/* The same from memory; external data is looked up in @base_dir (NULL
 * refuses external data). */
GfStatus gf_onnx_load_from_memory (const void *data, size_t size,
                                   const char *base_dir,
                                   const GfOnnxLoadOptions *options,
                                   GfModel **model, GfError *error);

typedef struct
{
  int input;               /* becomes the graph input, (N, ...) dynamic N */
  int output;              /* becomes the graph output */
  const char *graph_name;
  const GfMetadataEntry *metadata;   /* written as metadata_props */
  size_t n_metadata;
} GfOnnxExport;

/* Writes the part of @graph between what->input and what->output (the
 * nodes that lead from one to the other; every other tensor they read
 * must be a parameter or state, which become initializers). */
GfStatus gf_onnx_save (GfGraph *graph, const GfOnnxExport *what,
                       const char *path, GfError *error);
