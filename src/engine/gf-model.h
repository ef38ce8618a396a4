/* gf-model.h: a loaded network with what Graft needs to know about it:
 * which tensor takes the picture, which gives the prediction, how pictures
 * must be prepared, and the file's metadata. */
#pragma once

#include <stdint.h>

#include "gf-graph.h"
#include "gf-preprocess.h"

typedef struct
{
  GfGraph *graph;          /* compiled, not planned; nothing trainable */
  int input;               /* the image, (N, C, H, W) */
  int output;              /* the file's first graph output */
  GfPreprocess preprocess; /* from graft.* metadata, or the torch preset */
  bool preprocess_from_file;   /* false: defaulted, the user may correct it */
  bool input_was_nhwc;     /* a Transpose after an NHWC input was absorbed */
  char *name;              /* graft.name, else the graph's name, else file */
  char *source;            /* graft.source, else the producer */
  char *producer;          /* producer_name and version */
  int64_t opset;           /* of the default domain */
  GfMetadataEntry *metadata;   /* every metadata_props entry, in file order */
  size_t n_metadata;
} GfModel;

void gf_model_free (GfModel *model);
