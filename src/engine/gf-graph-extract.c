/* gf-graph-extract.c: cutting a region out of a compiled graph, and moving
 * weights between graphs by name.  Training builds its graphs this way: a
 * backbone up to its cut with a head grafted on, or only the part after a
 * frozen prefix whose output is cached. */
#include "gf-graph.h"

#include <stdlib.h>
#include <string.h>

typedef struct
{
  const GfGraph *src;
  GfGraph *dst;
  int *map;            /* src tensor id → dst tensor id, −1 when absent */
  bool *needed;        /* src nodes computing @to from @from */
} Extraction;

/* Marks the nodes between @from and @to, walking up from @to and stopping
 * at @from.  Returns false when @to does not depend on @from. */
static bool
mark_region (Extraction *x, int from, int to)
{
  size_t n_tensors = gf_graph_n_tensors (x->src);
  bool *wanted = calloc (n_tensors, sizeof *wanted);
  bool reaches;

  if (wanted == NULL)
    return false;
  wanted[to] = true;
  for (size_t i = gf_graph_n_nodes (x->src); i-- > 0;)
    {
      const int *inputs;
      size_t n = gf_graph_node_inputs (x->src, i, &inputs);
      int out = gf_graph_node_output (x->src, i);
      if (!wanted[out] || out == from)
        continue;
      x->needed[i] = true;
      for (size_t s = 0; s < n; s++)
        wanted[inputs[s]] = true;
    }
  reaches = wanted[from];
  free (wanted);
  return reaches;
}

/* Copies a weight with its values (the graph stores gf_real, files and
 * gf_graph_add_param take float). */
static int
copy_param (Extraction *x, int id, GfError *error)
{
  size_t dims[GF_MAX_DIMS];
  size_t ndim = gf_graph_tensor_shape (x->src, id, dims);
  size_t count = gf_graph_tensor_count (x->src, id);
  const gf_real *data = gf_graph_tensor_data ((GfGraph *) x->src, id);
  float *values = malloc ((count ? count : 1) * sizeof *values);
  int copy;

  if (values == NULL)
    return gf_error_set (error, GF_ERR_NOMEM, "out of memory"), -1;
  for (size_t i = 0; i < count; i++)
    values[i] = (float) data[i];
  copy = gf_graph_add_param (x->dst, gf_graph_tensor_name (x->src, id),
                             gf_graph_tensor_kind (x->src, id), ndim, dims,
                             values, error);
  free (values);
  if (copy >= 0 && gf_graph_is_trainable (x->src, id))
    gf_graph_set_trainable (x->dst, copy, true, NULL);
  return copy;
}

/* Maps one input of a needed node into the new graph. */
static int
map_input (Extraction *x, size_t node, int id, GfError *error)
{
  GfTensorKind kind = gf_graph_tensor_kind (x->src, id);

  if (x->map[id] >= 0)
    return x->map[id];
  if (kind == GF_TENSOR_PARAM || kind == GF_TENSOR_STATE)
    return x->map[id] = copy_param (x, id, error);
  return gf_error_set (error, GF_ERR_INVALID,
                       "node '%s' reads '%s', which comes from before the "
                       "start of the region: the start is not a cut point",
                       gf_graph_node_name (x->src, node),
                       gf_graph_tensor_name (x->src, id)), -1;
}

static bool
copy_nodes (Extraction *x, GfError *error)
{
  for (size_t i = 0; i < gf_graph_n_nodes (x->src); i++)
    {
      GfNodeDesc desc;
      int out;
      if (!x->needed[i])
        continue;
      desc = *gf_graph_node_desc (x->src, i);
      for (size_t s = 0; s < desc.n_inputs; s++)
        if ((desc.inputs[s] = map_input (x, i, desc.inputs[s], error)) < 0)
          return false;
      out = gf_graph_add_node (x->dst, gf_graph_node_name (x->src, i), &desc,
                               gf_graph_tensor_name (x->src,
                                                     gf_graph_node_output
                                                     (x->src, i)), error);
      if (out < 0)
        return false;
      x->map[gf_graph_node_output (x->src, i)] = out;
    }
  return true;
}

GfGraph *
gf_graph_extract (const GfGraph *src, int from, int to, int *new_from,
                  int *new_to, GfError *error)
{
  size_t n_tensors = gf_graph_n_tensors (src);
  Extraction x = { src, gf_graph_new (), NULL, NULL };
  size_t dims[GF_MAX_DIMS], ndim;
  bool ok = false;

  x.map = malloc ((n_tensors + 1) * sizeof *x.map);
  x.needed = calloc (gf_graph_n_nodes (src) + 1, sizeof *x.needed);
  if (x.dst == NULL || x.map == NULL || x.needed == NULL)
    gf_error_set (error, GF_ERR_NOMEM, "out of memory");
  else if (from < 0 || to < 0 || (size_t) from >= n_tensors
           || (size_t) to >= n_tensors || !mark_region (&x, from, to))
    gf_error_set (error, GF_ERR_INVALID, "no part of the graph leads from "
                  "the first tensor to the second");
  else
    {
      for (size_t i = 0; i < n_tensors; i++)
        x.map[i] = -1;
      ndim = gf_graph_tensor_shape (src, from, dims);
      x.map[from] = gf_graph_add_input (x.dst, gf_graph_tensor_name (src,
                                                                     from),
                                        ndim, dims, error);
      ok = x.map[from] >= 0 && copy_nodes (&x, error)
        && gf_graph_mark_output (x.dst, x.map[to], error) == GF_OK;
    }
  if (ok)
    {
      *new_from = x.map[from];
      *new_to = x.map[to];
    }
  else
    {
      gf_graph_free (x.dst);
      x.dst = NULL;
    }
  free (x.map);
  free (x.needed);
  return x.dst;
}

size_t
gf_graph_copy_params (GfGraph *dst, const GfGraph *src)
{
  size_t copied = 0;

  for (size_t i = 0; i < gf_graph_n_tensors (dst); i++)
    {
      GfTensorKind kind = gf_graph_tensor_kind (dst, (int) i);
      int from;
      if (kind != GF_TENSOR_PARAM && kind != GF_TENSOR_STATE)
        continue;
      from = gf_graph_find_tensor (src, gf_graph_tensor_name (dst, (int) i));
      if (from < 0 || gf_graph_tensor_kind (src, from) != kind
          || gf_graph_tensor_count (src, from)
             != gf_graph_tensor_count (dst, (int) i))
        continue;
      memcpy (gf_graph_tensor_data (dst, (int) i),
              gf_graph_tensor_data ((GfGraph *) src, from),
              gf_graph_tensor_count (dst, (int) i) * sizeof (gf_real));
      copied++;
    }
  return copied;
}
