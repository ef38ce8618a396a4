/* graft-head.c: building the grafted classifier. */
#define G_LOG_DOMAIN "graft-head"

#include "graft-head.h"

#include <math.h>
#include <string.h>

#include "graft-error.h"

#define HEAD_PREFIX "head."

static int
add_node (GfGraph *graph, const char *name, GfNodeDesc desc, size_t n,
          const int *inputs, GError **error)
{
  GfError gf_error = { 0 };
  int out;

  desc.n_inputs = n;
  memcpy (desc.inputs, inputs, n * sizeof *inputs);
  out = gf_graph_add_node (graph, name, &desc, name, &gf_error);
  if (out < 0)
    graft_engine_error (error, gf_error.status, &gf_error);
  return out;
}

/* Weight (out, in) and bias (out), uniform in ±1/√in as torch.nn.Linear. */
static gboolean
add_dense_params (GfGraph *graph, const char *name, size_t in, size_t out,
                  GfRng *rng, int *weight, int *bias, GError **error)
{
  g_autofree char *w_name = g_strconcat (name, ".weight", NULL);
  g_autofree char *b_name = g_strconcat (name, ".bias", NULL);
  g_autofree float *w = g_new (float, in * out);
  g_autofree float *b = g_new (float, out);
  double bound = 1.0 / sqrt ((double) in);
  size_t w_dims[] = { out, in };
  GfError gf_error = { 0 };

  for (size_t i = 0; i < in * out; i++)
    w[i] = (float) (bound * (2.0 * gf_rng_uniform (rng) - 1.0));
  for (size_t i = 0; i < out; i++)
    b[i] = (float) (bound * (2.0 * gf_rng_uniform (rng) - 1.0));
  *weight = gf_graph_add_param (graph, w_name, GF_TENSOR_PARAM, 2, w_dims, w,
                                &gf_error);
  *bias = *weight < 0 ? -1
    : gf_graph_add_param (graph, b_name, GF_TENSOR_PARAM, 1, &out, b,
                          &gf_error);
  if (*bias < 0)
    return graft_engine_error (error, gf_error.status, &gf_error);
  return TRUE;
}

static int
add_dense (GfGraph *graph, const char *name, int x, size_t in, size_t out,
           GfRng *rng, GError **error)
{
  GfNodeDesc gemm = { .kind = GF_OP_GEMM };
  int weight, bias;

  if (!add_dense_params (graph, name, in, out, rng, &weight, &bias, error))
    return -1;
  gemm.attr.gemm.trans_b = true;
  gemm.attr.gemm.alpha = gemm.attr.gemm.beta = 1.0;
  return add_node (graph, name, gemm, 3, (int[]) { x, weight, bias }, error);
}

int
graft_head_append (GfGraph *graph, int from, size_t channels,
                   const GraftHeadLayout *layout, GfRng *rng, GError **error)
{
  GfNodeDesc relu = { .kind = GF_OP_ACTIVATION };
  GfNodeDesc dropout = { .kind = GF_OP_DROPOUT };
  size_t features = channels;
  int x;

  g_return_val_if_fail (layout->n_classes >= 2, -1);
  relu.attr.activation.kind = GF_ACT_RELU;
  dropout.attr.dropout.ratio = layout->dropout;

  x = add_node (graph, HEAD_PREFIX "pool",
                (GfNodeDesc) { .kind = GF_OP_GLOBAL_AVGPOOL }, 1, &from,
                error);
  if (x >= 0)
    x = add_node (graph, HEAD_PREFIX "flatten",
                  (GfNodeDesc) { .kind = GF_OP_FLATTEN }, 1, &x, error);
  if (x >= 0 && layout->hidden > 0)
    {
      x = add_dense (graph, HEAD_PREFIX "hidden", x, features, layout->hidden,
                     rng, error);
      if (x >= 0)
        x = add_node (graph, HEAD_PREFIX "hidden.relu", relu, 1, &x, error);
      features = layout->hidden;
    }
  if (x >= 0)
    x = add_node (graph, HEAD_PREFIX "dropout", dropout, 1, &x, error);
  if (x >= 0)
    x = add_dense (graph, HEAD_PREFIX "classifier", x, features,
                   layout->sigmoid ? 1 : layout->n_classes, rng, error);
  return x;
}

int
graft_head_append_probabilities (GfGraph *graph, int logits,
                                 const GraftHeadLayout *layout,
                                 GError **error)
{
  GfNodeDesc desc = { .kind = GF_OP_SOFTMAX };

  if (layout->sigmoid)
    {
      desc.kind = GF_OP_ACTIVATION;
      desc.attr.activation.kind = GF_ACT_SIGMOID;
    }
  return add_node (graph, HEAD_PREFIX "probabilities", desc, 1, &logits,
                   error);
}

void
graft_head_set_trainable (GfGraph *graph)
{
  for (size_t i = 0; i < gf_graph_n_tensors (graph); i++)
    if (gf_graph_tensor_kind (graph, (int) i) == GF_TENSOR_PARAM
        && g_str_has_prefix (gf_graph_tensor_name (graph, (int) i),
                             HEAD_PREFIX))
      gf_graph_set_trainable (graph, (int) i, TRUE, NULL);
}
