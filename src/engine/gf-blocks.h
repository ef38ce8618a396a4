/* gf-blocks.h: where to cut a backbone, and its blocks — the units of
 * freezing (SPEC §4.4).
 *
 * The bottleneck is the last 4-D feature map before the classifier: the
 * input of the global pooling / Flatten / Reshape that feeds the first
 * classifier Gemm; where the classifier is a convolution followed by
 * global pooling (SqueezeNet), the input of that convolution.
 *
 * Blocks come from the graph's structure, not from names: a cut point is a
 * place in the execution order where one tensor carries everything
 * forward.  A region with branches between two cut points is one block (a
 * residual, inverted-residual, Fire or dense block); in a plain chain each
 * convolution or dense op, with the parameter-free and normalisation ops
 * after it, is one block.
 */
#pragma once

#include <stddef.h>

#include "gf-graph.h"
#include "gf-status.h"

#define GF_BLOCK_NAME_MAX 96

typedef enum
{
  GF_BLOCK_PLAIN,
  GF_BLOCK_RESIDUAL,
  GF_BLOCK_INVERTED_RESIDUAL,
  GF_BLOCK_SQUEEZE_EXCITATION,
  GF_BLOCK_FIRE,
  GF_BLOCK_DENSE,
  GF_BLOCK_BRANCHED,        /* branches of another shape */
} GfBlockKind;

typedef struct
{
  char name[GF_BLOCK_NAME_MAX];   /* e.g. "block 7 · residual · 3 conv" */
  GfBlockKind kind;
  size_t first_node, last_node;   /* execution-order indexes, inclusive */
  size_t n_convs;                 /* Conv and Gemm nodes */
  size_t n_parameters;            /* weights (PARAM elements) in the block */
  int output;                     /* the tensor that leaves the block */
} GfBlock;

/* Finds the bottleneck tensor on the way from @input to @output. */
GfStatus gf_find_bottleneck (const GfGraph *graph, int input, int output,
                             int *bottleneck, GfError *error);

/* Divides the nodes from @input up to @cut into blocks, in order; the
 * array is malloc'ed (free it). */
GfStatus gf_find_blocks (const GfGraph *graph, int input, int cut,
                         GfBlock **blocks, size_t *n_blocks, GfError *error);

const char *gf_block_kind_to_string (GfBlockKind kind);

/* The PARAM tensors the nodes of @block read, each once, written into
 * @params (at most @max); returns how many there are, which may be more
 * than @max (call with max 0 to size the array). */
size_t gf_block_params (const GfGraph *graph, const GfBlock *block,
                        int *params, size_t max);
