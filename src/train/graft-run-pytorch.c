/* graft-run-pytorch.c: a run as a PyTorch project (see the header and
 * src/train/pytorch/PROJECT.md). */
#define G_LOG_DOMAIN "graft-train"

#include "graft-run-pytorch.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "gf-blocks.h"
#include "gf-onnx.h"
#include "graft-error.h"
#include "graft-files.h"
#include "graft-json.h"
#include "graft-run-config.h"
#include "graft-run-data.h"
#include "graft-run-files.h"
#include "graft-safetensors.h"

/* What the generator knows of one module of model.py. */
typedef struct
{
  GString *init;        /* __init__ lines */
  GString *forward;     /* forward lines */
  GPtrArray *names;     /* state_dict key, Graft name, … */
  GPtrArray *owner;     /* per module: its node index (for its block) */
  int *module_of;       /* per tensor: the module holding it, or −1 */
  const GfGraph *graph;
  size_t n_modules;
} Gen;

/* @s as a Python string literal (UTF-8 kept, quotes, backslashes and
 * control characters escaped). */
static void
append_pystr (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    if (*p == '"' || *p == '\\')
      g_string_append_printf (out, "\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f)
      g_string_append_printf (out, "\\x%02x", *p);
    else
      g_string_append_c (out, (char) *p);
  g_string_append_c (out, '"');
}

/* @x as a Python float expression. */
static void
append_pyfloat (GString *out, double x)
{
  if (isnan (x))
    g_string_append (out, "float(\"nan\")");
  else if (isinf (x))
    g_string_append (out, x > 0 ? "float(\"inf\")" : "float(\"-inf\")");
  else
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];

      g_string_append (out, g_ascii_dtostr (buf, sizeof buf, x));
      if (strpbrk (buf, ".eEn") == NULL)
        g_string_append (out, ".0");
    }
}

static gboolean
unsupported (GError **error, const GfGraph *graph, size_t node,
             const char *why)
{
  g_set_error (error, GRAFT_ENGINE_ERROR, GF_ERR_UNSUPPORTED,
               "node '%s' (%s) cannot be written as PyTorch: %s",
               gf_graph_node_name (graph, node),
               gf_op_kind_to_string (gf_graph_node_kind (graph, node)), why);
  return FALSE;
}

/* A new module for @node holding the weights @tensors under @keys (NULL
 * where absent); returns its index, or −1 (@error set) when one of them
 * already belongs to another module. */
static int
add_module (Gen *g, size_t node, const int *tensors, const char *const *keys,
            size_t n, GError **error)
{
  int m = (int) g->n_modules;

  for (size_t i = 0; i < n; i++)
    if (tensors[i] >= 0 && g->module_of[tensors[i]] >= 0)
      {
        unsupported (error, g->graph, node, "it shares a weight with "
                     "another node");
        return -1;
      }
  for (size_t i = 0; i < n; i++)
    if (tensors[i] >= 0)
      {
        g->module_of[tensors[i]] = m;
        g_ptr_array_add (g->names, g_strdup_printf ("m%d.%s", m, keys[i]));
        g_ptr_array_add (g->names, g_strdup (gf_graph_tensor_name
                                             (g->graph, tensors[i])));
      }
  g_ptr_array_add (g->owner, GSIZE_TO_POINTER (node));
  g->n_modules++;
  return m;
}

static gboolean
is_weight (const GfGraph *graph, int t)
{
  GfTensorKind kind = gf_graph_tensor_kind (graph, t);

  return kind == GF_TENSOR_PARAM || kind == GF_TENSOR_STATE;
}

/* The Python expression for input tensor @t of @node: a variable, or a
 * Constant module holding a weight (made on first use). */
static gboolean
operand (Gen *g, size_t node, int t, GString *expr, GError **error)
{
  size_t dims[GF_MAX_DIMS], ndim;
  int m;

  if (!is_weight (g->graph, t))
    {
      g_string_append_printf (expr, "t%d", t);
      return TRUE;
    }
  m = g->module_of[t];
  if (m < 0)
    {
      static const char *const key[] = { "value" };

      m = add_module (g, node, &t, key, 1, error);
      if (m < 0)
        return FALSE;
      ndim = gf_graph_tensor_shape (g->graph, t, dims);
      g_string_append_printf (g->init, "        self.m%d = Constant(", m);
      for (size_t i = 0; i < ndim; i++)
        g_string_append_printf (g->init, "%s%zu", i ? ", " : "", dims[i]);
      g_string_append (g->init, ")\n");
    }
  g_string_append_printf (expr, "self.m%d.value", m);
  return TRUE;
}

static gboolean
gen_conv (Gen *g, size_t node, const GfNodeDesc *d, const char *x,
          GString *rhs, GError **error)
{
  static const char *const keys[] = { "weight", "bias" };
  const GfConv2d *c = &d->attr.conv;
  int tensors[2] = { d->inputs[1], d->n_inputs > 2 ? d->inputs[2] : -1 };
  bool symmetric = c->pad_top == c->pad_bottom && c->pad_left == c->pad_right;
  int m;

  if (!is_weight (g->graph, d->inputs[1])
      || (tensors[1] >= 0 && !is_weight (g->graph, tensors[1])))
    return unsupported (error, g->graph, node, "its weights are computed");
  m = add_module (g, node, tensors, keys, 2, error);
  if (m < 0)
    return FALSE;
  g_string_append_printf (g->init,
                          "        self.m%d = nn.Conv2d(%zu, %zu, (%zu, %zu), "
                          "stride=(%zu, %zu), padding=(%zu, %zu), "
                          "dilation=(%zu, %zu), groups=%zu, bias=%s)\n",
                          m, c->in_channels, c->out_channels, c->kernel_h,
                          c->kernel_w, c->stride_h, c->stride_w,
                          symmetric ? c->pad_top : 0,
                          symmetric ? c->pad_left : 0, c->dilation_h,
                          c->dilation_w, c->groups,
                          tensors[1] >= 0 ? "True" : "False");
  if (symmetric)
    g_string_append_printf (rhs, "self.m%d(%s)", m, x);
  else
    g_string_append_printf (rhs, "self.m%d(F.pad(%s, (%zu, %zu, %zu, %zu)))",
                            m, x, c->pad_left, c->pad_right, c->pad_top,
                            c->pad_bottom);
  return TRUE;
}

static gboolean
gen_batchnorm (Gen *g, size_t node, const GfNodeDesc *d, const char *x,
               GString *rhs, GError **error)
{
  static const char *const keys[] = { "weight", "bias", "running_mean",
                                      "running_var" };
  size_t dims[GF_MAX_DIMS];
  size_t ndim = gf_graph_tensor_shape (g->graph, d->inputs[0], dims);
  int m;

  for (size_t i = 1; i < 5; i++)
    if (!is_weight (g->graph, d->inputs[i]))
      return unsupported (error, g->graph, node, "its statistics are "
                          "computed");
  if (ndim != 2 && ndim != 4)
    return unsupported (error, g->graph, node, "it normalises neither "
                        "(N, C) nor (N, C, H, W)");
  m = add_module (g, node, d->inputs + 1, keys, 4, error);
  if (m < 0)
    return FALSE;
  /* ONNX's momentum weighs the running value, PyTorch's the batch's. */
  g_string_append_printf (g->init, "        self.m%d = nn.BatchNorm%dd(%zu, "
                          "eps=", m, ndim == 4 ? 2 : 1, dims[1]);
  append_pyfloat (g->init, d->attr.batchnorm.epsilon);
  g_string_append (g->init, ", momentum=");
  append_pyfloat (g->init, 1.0 - d->attr.batchnorm.momentum);
  g_string_append (g->init, ")\n");
  g_string_append_printf (rhs, "self.m%d(%s)", m, x);
  return TRUE;
}

static gboolean
gen_gemm (Gen *g, size_t node, const GfNodeDesc *d, const char *x,
          GString *rhs, GError **error)
{
  static const char *const keys[] = { "weight", "bias" };
  int tensors[2] = { d->inputs[1], d->n_inputs > 2 ? d->inputs[2] : -1 };
  size_t w[GF_MAX_DIMS], b[GF_MAX_DIMS];
  int m;

  /* torch.nn.Linear's form, the one exporters write. */
  if (d->attr.gemm.trans_a || !d->attr.gemm.trans_b
      || d->attr.gemm.alpha != 1.0
      || (tensors[1] >= 0 && d->attr.gemm.beta != 1.0))
    return unsupported (error, g->graph, node, "only y = x·Wᵀ + b (as "
                        "torch.nn.Linear) is supported");
  if (!is_weight (g->graph, tensors[0])
      || gf_graph_tensor_shape (g->graph, tensors[0], w) != 2
      || (tensors[1] >= 0
          && (!is_weight (g->graph, tensors[1])
              || gf_graph_tensor_shape (g->graph, tensors[1], b) != 1
              || b[0] != w[0])))
    return unsupported (error, g->graph, node, "its weight is not a "
                        "matrix with a bias of one value per output");
  m = add_module (g, node, tensors, keys, 2, error);
  if (m < 0)
    return FALSE;
  g_string_append_printf (g->init, "        self.m%d = nn.Linear(%zu, %zu, "
                          "bias=%s)\n", m, w[1], w[0],
                          tensors[1] >= 0 ? "True" : "False");
  g_string_append_printf (rhs, "self.m%d(%s)", m, x);
  return TRUE;
}

static void
gen_activation (const GfActivation *a, const char *x, GString *rhs)
{
  switch (a->kind)
    {
    case GF_ACT_IDENTITY:
      g_string_append (rhs, x);
      break;
    case GF_ACT_RELU:
      g_string_append_printf (rhs, "F.relu(%s)", x);
      break;
    case GF_ACT_CLIP:
      g_string_append_printf (rhs, "torch.clamp(%s, ", x);
      append_pyfloat (rhs, a->alpha);
      g_string_append (rhs, ", ");
      append_pyfloat (rhs, a->beta);
      g_string_append (rhs, ")");
      break;
    case GF_ACT_LEAKY_RELU:
      g_string_append_printf (rhs, "F.leaky_relu(%s, ", x);
      append_pyfloat (rhs, a->alpha);
      g_string_append (rhs, ")");
      break;
    case GF_ACT_SIGMOID:
      g_string_append_printf (rhs, "torch.sigmoid(%s)", x);
      break;
    case GF_ACT_HARD_SIGMOID:
      g_string_append (rhs, "torch.clamp(");
      append_pyfloat (rhs, a->alpha);
      g_string_append_printf (rhs, " * %s + ", x);
      append_pyfloat (rhs, a->beta);
      g_string_append (rhs, ", 0.0, 1.0)");
      break;
    case GF_ACT_HARD_SWISH:
    default:
      g_string_append_printf (rhs, "F.hardswish(%s)", x);
      break;
    }
}

static gboolean
gen_pool (Gen *g, size_t node, const GfNodeDesc *d, const char *x,
          GString *rhs, GError **error)
{
  const GfPool2d *p = &d->attr.pool;
  bool symmetric = p->pad_top == p->pad_bottom && p->pad_left == p->pad_right;
  bool max = d->kind == GF_OP_MAXPOOL;

  if (!symmetric && !max)
    return unsupported (error, g->graph, node, "PyTorch's average pooling "
                        "pads both sides alike");
  if (!symmetric)
    g_string_append_printf (rhs, "F.max_pool2d(F.pad(%s, (%zu, %zu, %zu, "
                            "%zu), value=float(\"-inf\")), (%zu, %zu), "
                            "(%zu, %zu), 0, (%zu, %zu), ceil_mode=%s)", x,
                            p->pad_left, p->pad_right, p->pad_top,
                            p->pad_bottom, p->kernel_h, p->kernel_w,
                            p->stride_h, p->stride_w, p->dilation_h,
                            p->dilation_w, p->ceil_mode ? "True" : "False");
  else if (max)
    g_string_append_printf (rhs, "F.max_pool2d(%s, (%zu, %zu), (%zu, %zu), "
                            "(%zu, %zu), (%zu, %zu), ceil_mode=%s)", x,
                            p->kernel_h, p->kernel_w, p->stride_h,
                            p->stride_w, p->pad_top, p->pad_left,
                            p->dilation_h, p->dilation_w,
                            p->ceil_mode ? "True" : "False");
  else
    g_string_append_printf (rhs, "F.avg_pool2d(%s, (%zu, %zu), (%zu, %zu), "
                            "(%zu, %zu), ceil_mode=%s, "
                            "count_include_pad=%s)", x, p->kernel_h,
                            p->kernel_w, p->stride_h, p->stride_w,
                            p->pad_top, p->pad_left,
                            p->ceil_mode ? "True" : "False",
                            p->count_include_pad ? "True" : "False");
  return TRUE;
}

/* One node's line of forward (and its module, if it has weights). */
static gboolean
gen_node (Gen *g, size_t node, double dropout, GError **error)
{
  const GfNodeDesc *d = gf_graph_node_desc (g->graph, node);
  int out = gf_graph_node_output (g->graph, node);
  g_autoptr (GString) rhs = g_string_new (NULL);
  g_autofree char *x = g_strdup_printf ("t%d", d->inputs[0]);
  size_t dims[GF_MAX_DIMS], ndim;
  gboolean ok = TRUE;

  if (d->kind != GF_OP_ADD && d->kind != GF_OP_MUL
      && d->kind != GF_OP_CONCAT && is_weight (g->graph, d->inputs[0]))
    return unsupported (error, g->graph, node, "it reads a weight as its "
                        "input");
  switch (d->kind)
    {
    case GF_OP_CONV: ok = gen_conv (g, node, d, x, rhs, error); break;
    case GF_OP_BATCHNORM: ok = gen_batchnorm (g, node, d, x, rhs, error);
      break;
    case GF_OP_GEMM: ok = gen_gemm (g, node, d, x, rhs, error); break;
    case GF_OP_ACTIVATION: gen_activation (&d->attr.activation, x, rhs);
      break;
    case GF_OP_ADD:
    case GF_OP_MUL:
      ok = operand (g, node, d->inputs[0], rhs, error);
      g_string_append (rhs, d->kind == GF_OP_ADD ? " + " : " * ");
      ok = ok && operand (g, node, d->inputs[1], rhs, error);
      break;
    case GF_OP_CONCAT:
      g_string_append (rhs, "torch.cat([");
      for (size_t i = 0; ok && i < d->n_inputs; i++)
        {
          g_string_append (rhs, i ? ", " : "");
          ok = operand (g, node, d->inputs[i], rhs, error);
        }
      g_string_append (rhs, "], 1)");
      break;
    case GF_OP_MAXPOOL:
    case GF_OP_AVGPOOL: ok = gen_pool (g, node, d, x, rhs, error); break;
    case GF_OP_GLOBAL_AVGPOOL:
      g_string_append_printf (rhs, "%s.mean((2, 3), keepdim=True)", x);
      break;
    case GF_OP_FLATTEN:
      g_string_append_printf (rhs, "torch.flatten(%s, 1)", x);
      break;
    case GF_OP_DROPOUT:
      g_string_append_printf (rhs, "F.dropout(%s, ", x);
      append_pyfloat (rhs, d->attr.dropout.ratio);
      g_string_append (rhs, ", self.training)");
      break;
    case GF_OP_IDENTITY:
      /* model.onnx writes the head's Dropout as an Identity. */
      if (g_str_equal (gf_graph_tensor_name (g->graph, out), "head.dropout")
          && dropout > 0)
        {
          g_string_append_printf (rhs, "F.dropout(%s, ", x);
          append_pyfloat (rhs, dropout);
          g_string_append (rhs, ", self.training)");
        }
      else
        g_string_append (rhs, x);
      break;
    case GF_OP_PAD:
      g_string_append_printf (rhs, "F.pad(%s, (%zu, %zu, %zu, %zu), value=",
                              x, d->attr.pad.left, d->attr.pad.right,
                              d->attr.pad.top, d->attr.pad.bottom);
      append_pyfloat (rhs, d->attr.pad.value);
      g_string_append (rhs, ")");
      break;
    case GF_OP_SOFTMAX:
      g_string_append_printf (rhs, "torch.softmax(%s, 1)", x);
      break;
    case GF_OP_TRANSPOSE:
      ndim = gf_graph_tensor_shape (g->graph, d->inputs[0], dims);
      g_string_append_printf (rhs, "%s.permute(0", x);
      for (size_t i = 1; i < ndim; i++)
        g_string_append_printf (rhs, ", %zu", d->attr.transpose.perm[i]);
      g_string_append (rhs, ")");
      break;
    case GF_OP_RESHAPE:
      g_string_append_printf (rhs, "%s.reshape(%s.shape[0]", x, x);
      for (size_t i = 1; i < d->attr.reshape.ndim; i++)
        g_string_append_printf (rhs, ", %zu", d->attr.reshape.dims[i]);
      g_string_append (rhs, ")");
      break;
    case GF_OP_COUNT:
    default:
      return unsupported (error, g->graph, node, "unknown operation");
    }
  if (!ok)
    return FALSE;
  g_string_append_printf (g->forward, "        t%d = %s\n", out, rhs->str);
  return TRUE;
}

/* Marks in @live the nodes that lead from the graph's tensors to @logits. */
static void
mark_live (const GfGraph *graph, int logits, gboolean *live)
{
  g_autofree gboolean *needed = g_new0 (gboolean, gf_graph_n_tensors (graph));
  size_t n = gf_graph_n_nodes (graph);

  needed[logits] = TRUE;
  for (size_t i = n; i-- > 0;)
    {
      const int *in;
      size_t n_in = gf_graph_node_inputs (graph, i, &in);

      live[i] = needed[gf_graph_node_output (graph, i)];
      for (size_t s = 0; live[i] && s < n_in; s++)
        needed[in[s]] = TRUE;
    }
}

/* @items (strings) as a Python list. */
static void
append_pylist (GString *out, GPtrArray *items)
{
  g_string_append_c (out, '[');
  for (guint i = 0; i < items->len; i++)
    {
      g_string_append (out, i ? ", " : "");
      append_pystr (out, items->pdata[i]);
    }
  g_string_append_c (out, ']');
}

static const char model_head[] =
  "# model.py: generated by Graft from a run's model.onnx; see PROJECT.md.\n"
  "# Standard torch.nn layers and torch functions only.\n"
  "import torch\n"
  "import torch.nn as nn\n"
  "import torch.nn.functional as F\n"
  "\n"
  "import graft_io\n"
  "\n"
  "\n"
  "class Constant(nn.Module):\n"
  "    \"\"\"A tensor an operation reads, held as a parameter.\"\"\"\n"
  "\n"
  "    def __init__(self, *shape):\n"
  "        super().__init__()\n"
  "        self.value = nn.Parameter(torch.zeros(*shape))\n"
  "\n"
  "\n"
  "class GraftModel(nn.Module):\n"
  "    \"\"\"The run's network: pictures (N, 3, H, W), preprocessed as\n"
  "    PREPROCESS says, to logits (N, K).\"\"\"\n"
  "\n"
  "    def __init__(self):\n"
  "        super().__init__()\n";

static const char model_tail[] =
  "\n"
  "\n"
  "def probabilities(logits):\n"
  "    \"\"\"The model's output as Graft gives it.\"\"\"\n"
  "    if OUTPUT == \"sigmoid\":\n"
  "        return torch.sigmoid(logits)\n"
  "    return torch.softmax(logits, 1)\n"
  "\n"
  "\n"
  "def load_graft_weights(model, path):\n"
  "    \"\"\"Loads a safetensors file in Graft's names into @model.\"\"\"\n"
  "    tensors = graft_io.read_safetensors(path)\n"
  "    state = model.state_dict()\n"
  "    for key, name in GRAFT_NAMES.items():\n"
  "        if name not in tensors:\n"
  "            raise ValueError(f\"{path}: no tensor {name!r}\")\n"
  "        if tuple(tensors[name].shape) != tuple(state[key].shape):\n"
  "            raise ValueError(f\"{path}: {name!r} is \"\n"
  "                             f\"{tuple(tensors[name].shape)}, the model \"\n"
  "                             f\"takes {tuple(state[key].shape)}\")\n"
  "        state[key] = tensors[name]\n"
  "    model.load_state_dict(state)\n"
  "\n"
  "\n"
  "def save_graft_weights(model, path):\n"
  "    \"\"\"Writes @model's weights to a safetensors file in Graft's "
  "names.\"\"\"\n"
  "    state = model.state_dict()\n"
  "    graft_io.write_safetensors(\n"
  "        path, {name: state[key].detach().float().cpu().contiguous()\n"
  "               for key, name in GRAFT_NAMES.items()},\n"
  "        {\"format\": \"graft\"})\n";

char *
graft_pytorch_model_source (GfGraph *graph, int input, int cut, int logits,
                            double dropout, const char *output_kind,
                            const char *const *labels,
                            const char *preprocess_json, GPtrArray *names,
                            GError **error)
{
  size_t n_nodes = gf_graph_n_nodes (graph), n_blocks = 0, dims[GF_MAX_DIMS];
  g_autofree gboolean *live = g_new0 (gboolean, n_nodes);
  g_autofree int *module_of = g_new (int, gf_graph_n_tensors (graph));
  g_autoptr (GPtrArray) owner = g_ptr_array_new ();
  g_autoptr (GString) init = g_string_new (NULL);
  g_autoptr (GString) forward = g_string_new (NULL);
  g_autoptr (GString) out = g_string_new (model_head);
  GfBlock *blocks = NULL;
  GfError gf_error = { 0 };
  Gen g = { .init = init, .forward = forward, .names = names,
            .owner = owner, .module_of = module_of, .graph = graph };

  if (gf_find_blocks (graph, input, cut, &blocks, &n_blocks, &gf_error)
      != GF_OK)
    {
      graft_engine_error (error, gf_error.status, &gf_error);
      return NULL;
    }
  for (size_t i = 0; i < gf_graph_n_tensors (graph); i++)
    module_of[i] = -1;
  mark_live (graph, logits, live);
  g_string_append_printf (forward, "\n    def forward(self, x):\n"
                          "        t%d = x\n", input);
  for (size_t i = 0; i < n_nodes; i++)
    if (live[i] && !gen_node (&g, i, dropout, error))
      {
        free (blocks);
        return NULL;
      }
  g_string_append_printf (forward, "        return t%d\n", logits);
  if (g.n_modules == 0)
    g_string_append (init, "        pass\n");
  g_string_append (out, init->str);
  g_string_append (out, forward->str);

  /* BLOCKS and HEAD: each module goes where its node lies. */
  g_string_append (out, "\n\nBLOCKS = [\n");
  for (size_t b = 0; b <= n_blocks; b++)
    {
      g_autoptr (GPtrArray) in = g_ptr_array_new_with_free_func (g_free);

      for (guint m = 0; m < owner->len; m++)
        {
          size_t node = GPOINTER_TO_SIZE (owner->pdata[m]);
          gboolean head = n_blocks == 0 || node > blocks[n_blocks - 1].last_node;

          if (b < n_blocks ? !head && node >= blocks[b].first_node
                             && node <= blocks[b].last_node
                           : head)
            g_ptr_array_add (in, g_strdup_printf ("m%u", m));
        }
      if (b == n_blocks)
        {
          g_string_append (out, "]\nHEAD = ");
          append_pylist (out, in);
          g_string_append (out, "\n");
          break;
        }
      g_string_append (out, "    ");
      append_pylist (out, in);
      g_string_append (out, ",\n");
    }
  free (blocks);
  g_string_append (out, "GRAFT_NAMES = {\n");
  for (guint i = 0; i + 1 < names->len; i += 2)
    {
      g_string_append (out, "    ");
      append_pystr (out, names->pdata[i]);
      g_string_append (out, ": ");
      append_pystr (out, names->pdata[i + 1]);
      g_string_append (out, ",\n");
    }
  g_string_append (out, "}\nOUTPUT = ");
  append_pystr (out, output_kind);
  g_string_append (out, "\nLABELS = [");
  for (size_t i = 0; labels[i] != NULL; i++)
    {
      g_string_append (out, i ? ", " : "");
      append_pystr (out, labels[i]);
    }
  gf_graph_tensor_shape (graph, input, dims);
  g_string_append_printf (out, "]\nINPUT_SIZE = (%zu, %zu)\n", dims[2],
                          dims[3]);
  /* head.json's preprocess holds strings, numbers and arrays of them,
   * which as JSON are Python literals too. */
  g_string_append_printf (out, "PREPROCESS = %s\n", preprocess_json);
  g_string_append (out, model_tail);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ---- The project ---------------------------------------------------------- */

#define RESOURCE_PREFIX "/io/github/graft/Graft/pytorch/"

/* graft-pytorch-resources.c, compiled from pytorch/pytorch.gresource.xml;
 * asked for by name, so that the linker takes it from the static
 * library (nothing else refers to it). */
GResource *graft_pytorch_get_resource (void);

/* Writes @contents to @path through a temporary file and a rename. */
static gboolean
write_file (const char *dir, const char *name, const char *contents,
            gsize length, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_set_contents_full (path, contents, (gssize) length,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                   error);
}

static gboolean
write_json (const char *dir, const char *name, JsonBuilder *b,
            GError **error)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = graft_json_to_text (root, TRUE);
  g_autofree char *line = g_strconcat (text, "\n", NULL);

  return write_file (dir, name, line, strlen (line), error);
}

/* A file of the run's folder, copied into @dir. */
static gboolean
copy_file (const char *run_dir, const char *name, const char *dir,
           GError **error)
{
  g_autofree char *src = g_build_filename (run_dir, name, NULL);
  g_autofree char *dst = g_build_filename (dir, name, NULL);

  return graft_copy_file (src, dst, error);
}

/* One of the static Python files, from the resources. */
static gboolean
copy_resource (const char *name, const char *dir, GError **error)
{
  g_autofree char *path = g_strconcat (RESOURCE_PREFIX, name, NULL);
  g_autoptr (GBytes) bytes = g_resource_lookup_data (
    graft_pytorch_get_resource (), path, G_RESOURCE_LOOKUP_FLAGS_NONE,
    error);
  gsize length;
  const char *data;

  if (bytes == NULL)
    return FALSE;
  data = g_bytes_get_data (bytes, &length);
  return write_file (dir, name, data, length, error);
}

/* weights.safetensors: every weight model.py holds, in Graft's names. */
static gboolean
write_weights (GfGraph *graph, GPtrArray *names, const char *dir,
               GError **error)
{
  g_autoptr (GArray) views = g_array_new (FALSE, TRUE,
                                          sizeof (GraftTensorView));
  g_autoptr (GHashTable) metadata = g_hash_table_new (g_str_hash,
                                                      g_str_equal);
  g_autofree char *path = g_build_filename (dir, "weights.safetensors",
                                            NULL);

  for (guint i = 1; i < names->len; i += 2)
    {
      int t = gf_graph_find_tensor (graph, names->pdata[i]);
      size_t dims[GF_MAX_DIMS];
      GraftTensorView v = { .name = names->pdata[i],
                            .dtype = GRAFT_DTYPE_F32 };

      v.n_dims = (guint) gf_graph_tensor_shape (graph, t, dims);
      for (guint d = 0; d < v.n_dims; d++)
        v.shape[d] = dims[d];
      v.data = gf_graph_tensor_data (graph, t);
      g_array_append_val (views, v);
    }
  g_hash_table_insert (metadata, (char *) "format", (char *) "graft");
  return graft_safetensors_write (path, (GraftTensorView *) views->data,
                                  views->len, metadata, error);
}

/* split.json: the run's own pictures, split as the run split them. */
static gboolean
write_split (const GraftRunConfig *config, const GfPreprocess *pre,
             const char *dir, GError **error)
{
  g_autoptr (GraftRunData) data = graft_run_data_load (config, pre, NULL,
                                                        error);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  const char *sides[] = { "train", "val" };
  char **classes;   /* borrowed */

  if (data == NULL)
    return FALSE;
  classes = graft_run_data_class_names (data);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint i = 0; classes[i] != NULL; i++)
    json_builder_add_string_value (b, classes[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "data");
  json_builder_begin_array (b);
  for (guint i = 0; config->data[i] != NULL; i++)
    json_builder_add_string_value (b, config->data[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "val_fraction");
  json_builder_add_double_value (b, config->val_fraction);
  json_builder_set_member_name (b, "split_seed");
  json_builder_add_int_value (b, (gint64) config->split_seed);
  for (guint s = 0; s < G_N_ELEMENTS (sides); s++)
    {
      const guint *samples = s == 0 ? graft_run_data_train (data)
                                    : graft_run_data_val (data);
      guint n = s == 0 ? graft_run_data_n_train (data)
                       : graft_run_data_n_val (data);

      json_builder_set_member_name (b, sides[s]);
      json_builder_begin_array (b);
      for (guint i = 0; i < n; i++)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "path");
          json_builder_add_string_value (b, graft_run_data_path (data,
                                                                 samples[i]));
          json_builder_set_member_name (b, "label");
          json_builder_add_int_value (b, graft_run_data_label (data,
                                                               samples[i]));
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
  return write_json (dir, "split.json", b, error);
}

/* What the export reads of head.json. */
typedef struct
{
  JsonParser *parser;
  const char *cut, *output;
  double dropout;
  char **labels;
  char *preprocess;      /* the "preprocess" object as JSON text */
} HeadJson;

static void
head_json_clear (HeadJson *h)
{
  g_clear_object (&h->parser);
  g_clear_pointer (&h->labels, g_strfreev);
  g_clear_pointer (&h->preprocess, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HeadJson, head_json_clear)

static gboolean
read_head_json (const char *run_dir, HeadJson *h, GError **error)
{
  g_autofree char *path = g_build_filename (run_dir, "head.json", NULL);
  JsonObject *root, *head;
  JsonArray *labels;
  JsonNode *pre;

  h->parser = json_parser_new ();
  if (!graft_json_load_file (h->parser, path, error))
    return FALSE;
  root = JSON_NODE_HOLDS_OBJECT (json_parser_get_root (h->parser))
         ? json_node_get_object (json_parser_get_root (h->parser)) : NULL;
  head = root != NULL && json_object_has_member (root, "head")
         && JSON_NODE_HOLDS_OBJECT (json_object_get_member (root, "head"))
         ? json_object_get_object_member (root, "head") : NULL;
  labels = root != NULL && json_object_has_member (root, "labels")
           && JSON_NODE_HOLDS_ARRAY (json_object_get_member (root, "labels"))
           ? json_object_get_array_member (root, "labels") : NULL;
  pre = root != NULL ? json_object_get_member (root, "preprocess") : NULL;
  if (head == NULL || labels == NULL || pre == NULL
      || !JSON_NODE_HOLDS_OBJECT (pre)
      || !json_object_has_member (root, "cut")
      || !json_object_has_member (head, "output")
      || !json_object_has_member (head, "dropout"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: not the head.json of a finished Graft run", path);
      return FALSE;
    }
  h->cut = json_object_get_string_member (root, "cut");
  h->output = json_object_get_string_member (head, "output");
  h->dropout = json_object_get_double_member (head, "dropout");
  h->labels = g_new0 (char *, json_array_get_length (labels) + 1);
  for (guint i = 0; i < json_array_get_length (labels); i++)
    {
      const char *label = json_array_get_string_element (labels, i);

      h->labels[i] = g_strdup (label != NULL ? label : "");
    }
  h->preprocess = graft_json_to_text (pre, FALSE);
  if (h->cut == NULL || h->output == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: its cut and output must be strings", path);
      return FALSE;
    }
  return TRUE;
}

/* The logits: the input of the Softmax or Sigmoid that gives the model's
 * output, or the output itself. */
static int
model_logits (const GfModel *model)
{
  for (size_t i = gf_graph_n_nodes (model->graph); i-- > 0;)
    {
      const GfNodeDesc *d = gf_graph_node_desc (model->graph, i);

      if (gf_graph_node_output (model->graph, i) != model->output)
        continue;
      if (d->kind == GF_OP_SOFTMAX
          || (d->kind == GF_OP_ACTIVATION
              && d->attr.activation.kind == GF_ACT_SIGMOID))
        return d->inputs[0];
      break;
    }
  return model->output;
}

/* The stages a progressive run went through (run.json's stages[]). */
static guint
count_stages (const char *run_dir)
{
  g_autofree char *path = g_build_filename (run_dir, "run.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *o;

  if (!graft_json_load_file (parser, path, NULL))
    return 0;
  root = json_parser_get_root (parser);
  o = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  if (o == NULL || !json_object_has_member (o, "stages")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "stages")))
    return 0;
  return json_array_get_length (json_object_get_array_member (o, "stages"));
}

/* Blocks frozen when the run ended, as its mode and stages left them. */
static size_t
frozen_blocks (const GraftRunConfig *config, const char *run_dir,
               size_t n_blocks)
{
  guint stages;

  switch (config->mode)
    {
    case GRAFT_RUN_MODE_FINETUNE:
      if (config->unfreeze == GRAFT_UNFREEZE_ALL)
        return 0;
      return n_blocks > (size_t) config->unfreeze
             ? n_blocks - (size_t) config->unfreeze : 0;
    case GRAFT_RUN_MODE_PROGRESSIVE:
      stages = count_stages (run_dir);
      return stages > 1 && n_blocks > stages - 1 ? n_blocks - (stages - 1)
             : stages > 1 ? 0 : n_blocks;
    case GRAFT_RUN_MODE_EXTRACT:
    default:
      return n_blocks;
    }
}

static gboolean
write_recipe (const char *run_dir, const GraftRunConfig *config,
              GfGraph *graph, int input, int cut, const HeadJson *h,
              const char *dir, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *run = g_canonicalize_filename (run_dir, NULL);
  GfBlock *blocks = NULL;
  size_t n_blocks = 0, dims[GF_MAX_DIMS];
  GfError gf_error = { 0 };

  if (gf_find_blocks (graph, input, cut, &blocks, &n_blocks, &gf_error)
      != GF_OK)
    return graft_engine_error (error, gf_error.status, &gf_error);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "graft_version");
  json_builder_add_string_value (b, GRAFT_VERSION);
  json_builder_set_member_name (b, "run");
  json_builder_add_string_value (b, run);
  json_builder_set_member_name (b, "config");
  json_builder_add_value (b, graft_run_config_to_json (config));
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint i = 0; h->labels[i] != NULL; i++)
    json_builder_add_string_value (b, h->labels[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "blocks");
  json_builder_begin_array (b);
  for (size_t i = 0; i < n_blocks; i++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, blocks[i].name);
      json_builder_set_member_name (b, "parameters");
      json_builder_add_int_value (b, (gint64) blocks[i].n_parameters);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "frozen_blocks");
  json_builder_add_int_value (b, (gint64) frozen_blocks (config, run_dir,
                                                         n_blocks));
  gf_graph_tensor_shape (graph, input, dims);
  json_builder_set_member_name (b, "input_size");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, (gint64) dims[2]);
  json_builder_add_int_value (b, (gint64) dims[3]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  free (blocks);
  return write_json (dir, "recipe.json", b, error);
}

static const char readme[] =
  "# This run, as a PyTorch project\n"
  "\n"
  "Written by `graft-cli export --format pytorch` from the Graft run in\n"
  "`%s`.  `model.py` is the network (standard `torch.nn` layers),\n"
  "`weights.safetensors` its best weights, `split.json` the run's\n"
  "training and validation pictures, `recipe.json` its settings; see\n"
  "`PROJECT.md` in Graft's sources for every file.  It needs PyTorch,\n"
  "NumPy and Pillow.\n"
  "\n"
  "Continue the run on this machine's CPU cores (N processes):\n"
  "\n"
  "    torchrun --nproc_per_node=N train.py --out OUT\n"
  "\n"
  "or on N GPUs with `--device cuda`; `--epochs N` changes the number of\n"
  "epochs, `--data DIR` trains on other class folders, split the way\n"
  "Graft splits them.  Debian 12's `torchrun` (Python 3.11) also needs\n"
  "`--redirects 1 --tee 1` to start:\n"
  "\n"
  "    torchrun --redirects 1 --tee 1 --nproc_per_node=2 train.py --out OUT\n"
  "\n"
  "Started again with the same `--out`, it resumes from the last epoch.\n"
  "`OUT` receives `run.json` (Graft's format), `weights.safetensors`\n"
  "(the best epoch's, in Graft's names) and `checkpoint.pt`.  Bring the\n"
  "result back into Graft as a run beside the others:\n"
  "\n"
  "    graft-cli import-run OUT\n";

gboolean
graft_run_export_pytorch (const char *run_dir, const char *out_dir,
                          GError **error)
{
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *model_path = g_build_filename (run_dir, "model.onnx",
                                                  NULL);
  g_autofree char *source = NULL, *text = NULL, *graft_dir = NULL;
  g_auto (HeadJson) head = { 0 };
  GfModel *model = NULL;
  GfError gf_error = { 0 };
  gboolean ok = FALSE;
  int cut, logits;

  config = graft_run_files_read_config (run_dir, error);
  if (config == NULL || !read_head_json (run_dir, &head, error))
    return FALSE;
  if (gf_onnx_load (model_path, NULL, &model, &gf_error) != GF_OK)
    return graft_engine_error (error, gf_error.status, &gf_error);
  cut = gf_graph_find_tensor (model->graph, head.cut);
  logits = model_logits (model);
  if (cut < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s has no tensor '%s', the cut head.json names",
                   model_path, head.cut);
      goto out;
    }
  source = graft_pytorch_model_source (model->graph, model->input, cut,
                                       logits, head.dropout, head.output,
                                       (const char *const *) head.labels,
                                       head.preprocess, names, error);
  if (source == NULL)
    goto out;
  graft_dir = g_build_filename (out_dir, "graft", NULL);
  if (g_mkdir_with_parents (graft_dir, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: %s", graft_dir, g_strerror (saved));
      goto out;
    }
  text = g_strdup_printf (readme, run_dir);
  ok = write_file (out_dir, "model.py", source, strlen (source), error)
       && write_weights (model->graph, names, out_dir, error)
       && write_split (config, &model->preprocess, out_dir, error)
       && write_recipe (run_dir, config, model->graph, model->input, cut,
                        &head, out_dir, error)
       && copy_file (run_dir, "model.onnx", graft_dir, error)
       && copy_file (run_dir, "head.json", graft_dir, error)
       && copy_resource ("train.py", out_dir, error)
       && copy_resource ("graft_io.py", out_dir, error)
       && write_file (out_dir, "README.md", text, strlen (text), error);
out:
  gf_model_free (model);
  return ok;
}
