/* graft-estimate.c: a short measured probe of the backbone, and the time
 * each mode would take from it.
 *
 * One inference pass over the whole backbone, timed node by node through
 * the engine's interrupt hook (called before every node, and before each
 * sub-batch of a convolution over more than 16 pictures, which the
 * probe's batches of PROBE_MAX_BATCH never are), gives each
 * block's share; one training pass (forward and backward, every weight
 * trainable) gives what training costs over inference, and each block is
 * charged that ratio.  Timing blocks one by one would be more exact and
 * cost a pass per block; the ratio varies little between blocks of one
 * network.
 */
#define G_LOG_DOMAIN "graft-estimate"

#include "graft-estimate.h"

#include <math.h>
#include <string.h>

#include "gf-engine.h"
#include "gf-optim.h"
#include "graft-backbone-private.h"
#include "graft-error.h"
#include "graft-head.h"
#include "graft-run-data.h"
#include "graft-trainer.h"

/* Small enough to keep the probe to a few seconds on a full-size
 * backbone, large enough for GEMMs to reach their speed. */
#define PROBE_MAX_BATCH 4
#define PROBE_REPEATS 3          /* timed samples; the median is kept */
/* A sample of a pass that takes microseconds (the head, an optimizer
 * step) repeats it for at least this long, so that neither the timer's
 * grain nor one preemption decides it. */
#define PROBE_SAMPLE_SECONDS 2e-3
#define PROBE_SAMPLE_MAX_CALLS 1000
#define PROBE_PICTURES 8         /* decoded to time decoding */
#define PROBE_OPTIMIZER_MAX ((gsize) 1 << 20)   /* weights stepped */
#define PROBE_OPTIMIZER_MIN ((gsize) 1 << 12)
#define PROBE_SEED 1

/* The engine is plain C: its graphs get GLib's automatic cleanup here. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GfGraph, gf_graph_free)

typedef struct
{
  char *name;
  double infer, train;     /* seconds per picture */
  gsize parameters;
  gsize out_count;         /* values per picture at its output */
} ProbeBlock;

struct _GraftProbe
{
  guint n_train, n_val;
  double scan_seconds;     /* scanning and splitting, which a run repeats */
  double decode;           /* seconds per picture */
  guint batch, threads;
  gsize input_count, cut_channels;
  ProbeBlock *blocks;
  guint n_blocks;
  double head_infer, head_train;
  gsize head_parameters;
  double optimizer;        /* seconds per weight per step */
};

void
graft_probe_free (GraftProbe *probe)
{
  if (probe == NULL)
    return;
  for (guint b = 0; b < probe->n_blocks; b++)
    g_free (probe->blocks[b].name);
  g_free (probe->blocks);
  g_free (probe);
}

guint
graft_probe_n_train (const GraftProbe *probe)
{
  return probe->n_train;
}

guint
graft_probe_n_val (const GraftProbe *probe)
{
  return probe->n_val;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (double *values, guint n)
{
  qsort (values, n, sizeof *values, compare_doubles);
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static double
seconds_since (gint64 start_us)
{
  return (g_get_monotonic_time () - start_us) / (double) G_USEC_PER_SEC;
}

/* ---- Graphs ------------------------------------------------------------------ */

static gboolean
engine_failed (GError **error, GfStatus status, const GfError *gf_error)
{
  return graft_engine_error (error, status, gf_error);
}

/* Compiles @graph, makes every weight trainable and plans it for
 * training at @batch, with inputs of seeded noise. */
static gboolean
prepare_graph (GfGraph *graph, int input, guint batch, gboolean bn_frozen,
               GError **error)
{
  GfError gf_error = { 0 };
  GfStatus status = gf_graph_compile (graph, &gf_error);
  g_autoptr (GRand) rand = g_rand_new_with_seed (PROBE_SEED);
  gf_real *x;
  gsize count;

  if (status != GF_OK)
    return engine_failed (error, status, &gf_error);
  for (size_t i = 0; i < gf_graph_n_tensors (graph); i++)
    if (gf_graph_tensor_kind (graph, (int) i) == GF_TENSOR_PARAM)
      gf_graph_set_trainable (graph, (int) i, TRUE, NULL);
  gf_graph_set_batchnorm_frozen (graph, bn_frozen);
  status = gf_graph_plan (graph, batch, GF_GRAPH_TRAIN, &gf_error);
  if (status != GF_OK)
    return engine_failed (error, status, &gf_error);
  x = gf_graph_tensor_data (graph, input);
  count = gf_graph_tensor_count (graph, input) * batch;
  for (gsize i = 0; i < count; i++)
    x[i] = (gf_real) g_rand_double_range (rand, -1, 1);
  return TRUE;
}

/* Work whose time per call the probe measures; FALSE with @error set
 * when the engine fails. */
typedef gboolean (*ProbeWork) (gpointer user_data, GError **error);

/* Seconds per call of @work, or a negative number with @error set.  One
 * call warms up (the arena's pages are first touched) and one more
 * decides how many calls fill PROBE_SAMPLE_SECONDS (and, when one call
 * does, is the first sample); the median of PROBE_REPEATS samples is
 * kept. */
static double
time_work (ProbeWork work, gpointer user_data, GError **error)
{
  double times[PROBE_REPEATS], once;
  guint calls;
  gint64 start;

  if (!work (user_data, error))
    return -1;
  start = g_get_monotonic_time ();
  if (!work (user_data, error))
    return -1;
  once = seconds_since (start);
  calls = once >= PROBE_SAMPLE_SECONDS ? 1
    : (guint) MIN (PROBE_SAMPLE_MAX_CALLS,
                   ceil (PROBE_SAMPLE_SECONDS / MAX (once, 1e-7)));
  /* A pass long enough to be a sample alone is one: a full backbone's
   * training pass is the probe's dearest part. */
  times[0] = once;
  for (guint r = calls == 1 ? 1 : 0; r < PROBE_REPEATS; r++)
    {
      start = g_get_monotonic_time ();
      for (guint i = 0; i < calls; i++)
        if (!work (user_data, error))
          return -1;
      times[r] = seconds_since (start) / calls;
    }
  return median (times, PROBE_REPEATS);
}

typedef struct
{
  GfGraph *graph;
  guint batch;
  const gf_real *doutput;
} PassWork;

static gboolean
infer_pass (gpointer user_data, GError **error)
{
  PassWork *w = user_data;
  GfError gf_error = { 0 };
  GfStatus status = gf_graph_forward (w->graph, w->batch, GF_GRAPH_INFER,
                                      &gf_error);

  return status == GF_OK || engine_failed (error, status, &gf_error);
}

/* One forward and backward pass. */
static gboolean
train_pass (gpointer user_data, GError **error)
{
  PassWork *w = user_data;
  GfError gf_error = { 0 };
  GfStatus status = gf_graph_forward (w->graph, w->batch, GF_GRAPH_TRAIN,
                                      &gf_error);

  gf_graph_zero_grad (w->graph);
  if (status == GF_OK)
    status = gf_graph_backward (w->graph, w->batch, w->doutput, &gf_error);
  return status == GF_OK || engine_failed (error, status, &gf_error);
}

/* Seconds of one training pass of @graph at @batch, or a negative
 * number with @error set. */
static double
time_train_pass (GfGraph *graph, int output, guint batch, GError **error)
{
  gsize n = gf_graph_tensor_count (graph, output) * batch;
  g_autofree gf_real *doutput = g_new (gf_real, n);
  PassWork w = { graph, batch, doutput };

  for (gsize i = 0; i < n; i++)
    doutput[i] = (gf_real) 1e-3;
  return time_work (train_pass, &w, error);
}

/* ---- The backbone, node by node --------------------------------------------- */

typedef struct
{
  gint64 *stamps;          /* before each node, then the end */
  gsize n, max;
} Stamps;

static bool
stamp (void *user_data)
{
  Stamps *s = user_data;

  if (s->n < s->max)
    s->stamps[s->n++] = g_get_monotonic_time ();
  return false;
}

/* Seconds of each node in one inference pass, into @node_seconds
 * (n_nodes). */
static gboolean
time_infer_nodes (GfGraph *graph, guint batch, double *node_seconds,
                  GError **error)
{
  gsize n_nodes = gf_graph_n_nodes (graph);
  g_autofree gint64 *stamps = g_new0 (gint64, n_nodes + 1);
  Stamps s = { stamps, 0, n_nodes };
  GfError gf_error = { 0 };
  GfStatus status;

  gf_graph_set_interrupt (graph, stamp, &s);
  status = gf_graph_forward (graph, batch, GF_GRAPH_INFER, &gf_error);
  stamps[n_nodes] = g_get_monotonic_time ();
  gf_graph_set_interrupt (graph, NULL, NULL);
  /* Should the hook ever skip nodes, they cost nothing rather than a
   * negative time. */
  for (gsize i = s.n; i < n_nodes; i++)
    stamps[i] = stamps[n_nodes];
  if (status != GF_OK)
    return engine_failed (error, status, &gf_error);
  for (gsize i = 0; i < n_nodes; i++)
    node_seconds[i] = (stamps[i + 1] - stamps[i]) / (double) G_USEC_PER_SEC;
  return TRUE;
}

/* Each block's inference seconds per picture: per node, the median of
 * the timed passes; per block, the sum over its nodes.  Returns the
 * whole pass's seconds per picture, or a negative number. */
static double
probe_infer (GraftProbe *p, GfGraph *graph, const GfBlock *blocks,
             GError **error)
{
  gsize n_nodes = gf_graph_n_nodes (graph);
  g_autofree double *seconds = g_new0 (double, n_nodes * PROBE_REPEATS);
  double per_node[PROBE_REPEATS], total = 0;

  /* Pass 0 warms up (allocations, BLAS threads); pass 1 overwrites it. */
  for (guint r = 0; r <= PROBE_REPEATS; r++)
    if (!time_infer_nodes (graph, p->batch, seconds + (r ? r - 1 : 0)
                           * n_nodes, error))
      return -1;
  for (guint b = 0; b < p->n_blocks; b++)
    for (gsize i = blocks[b].first_node; i <= blocks[b].last_node; i++)
      {
        for (guint r = 0; r < PROBE_REPEATS; r++)
          per_node[r] = seconds[r * n_nodes + i];
        p->blocks[b].infer += median (per_node, PROBE_REPEATS) / p->batch;
      }
  for (guint b = 0; b < p->n_blocks; b++)
    total += p->blocks[b].infer;
  return total;
}

static void
describe_blocks (GraftProbe *p, GfGraph *graph, const GfBlock *blocks)
{
  p->blocks = g_new0 (ProbeBlock, p->n_blocks);
  for (guint b = 0; b < p->n_blocks; b++)
    {
      p->blocks[b].name = g_strdup (blocks[b].name);
      p->blocks[b].parameters = blocks[b].n_parameters;
      p->blocks[b].out_count = gf_graph_tensor_count (graph,
                                                      blocks[b].output);
    }
}

/* Input to cut as one graph: each block's inference time, and training
 * charged at the whole graph's ratio of training to inference. */
static gboolean
probe_backbone (GraftProbe *p, GfModel *model, int cut, gboolean bn_frozen,
                GError **error)
{
  GfError gf_error = { 0 };
  g_autofree GfBlock *blocks = NULL;
  size_t n_blocks;
  int in, out;
  double infer, train, ratio;
  g_autoptr (GfGraph) graph = gf_graph_extract (model->graph, model->input,
                                                cut, &in, &out, &gf_error);

  if (graph == NULL)
    return engine_failed (error, gf_error.status, &gf_error);
  if (!prepare_graph (graph, in, p->batch, bn_frozen, error))
    return FALSE;
  if (gf_find_blocks (graph, in, out, &blocks, &n_blocks, &gf_error) != GF_OK)
    return engine_failed (error, gf_error.status, &gf_error);
  p->n_blocks = (guint) n_blocks;
  p->input_count = gf_graph_tensor_count (graph, in);
  describe_blocks (p, graph, blocks);
  if ((infer = probe_infer (p, graph, blocks, error)) < 0
      || (train = time_train_pass (graph, out, p->batch, error)) < 0)
    return FALSE;
  /* Training a block runs its forward pass too: never cheaper. */
  ratio = infer > 0 ? MAX (1, train / p->batch / infer) : 1;
  for (guint b = 0; b < p->n_blocks; b++)
    p->blocks[b].train = p->blocks[b].infer * ratio;
  return TRUE;
}

/* ---- The head, the optimizer, the pictures ----------------------------------- */

static gboolean
probe_head (GraftProbe *p, const GraftRunConfig *c, guint n_classes,
            GError **error)
{
  GraftHeadLayout layout = { n_classes, c->hidden, c->dropout,
                             c->output == GRAFT_HEAD_OUTPUT_SIGMOID };
  size_t dims[4] = { p->batch, p->cut_channels, 1, 1 };
  g_autoptr (GfGraph) graph = gf_graph_new ();
  PassWork w = { graph, p->batch, NULL };
  GfRng rng;
  int in, logits;

  gf_rng_seed (&rng, PROBE_SEED);
  in = gf_graph_add_input (graph, "features", 4, dims, NULL);
  logits = graft_head_append (graph, in, p->cut_channels, &layout, &rng,
                              error);
  if (logits < 0)
    return FALSE;
  gf_graph_set_outputs (graph, &logits, 1, NULL);
  if (!prepare_graph (graph, in, p->batch, c->bn_frozen_all, error))
    return FALSE;
  gf_graph_params (graph, &p->head_parameters);
  if ((p->head_infer = time_work (infer_pass, &w, error)) < 0
      || (p->head_train = time_train_pass (graph, logits, p->batch,
                                           error)) < 0)
    return FALSE;
  p->head_infer /= p->batch;
  p->head_train = MAX (p->head_train / p->batch, p->head_infer);
  return TRUE;
}

typedef struct
{
  GfOptimizer opt;
  GfParamGroup group;
  gf_real *params, *grads;
} StepWork;

static gboolean
optimizer_step (gpointer user_data, GError **error)
{
  StepWork *w = user_data;

  gf_optimizer_step (&w->opt, 1e-3, w->params, w->grads, &w->group, 1);
  return TRUE;
}

/* Seconds per weight of one optimizer step of the configured kind. */
static gboolean
probe_optimizer (GraftProbe *p, const GraftRunConfig *c, GError **error)
{
  GfOptimizerConfig oc = { c->optimizer == GRAFT_OPTIMIZER_SGD
                           ? GF_OPTIMIZER_SGD : GF_OPTIMIZER_ADAM,
                           c->momentum, false, 0.9, 0.999, 1e-8 };
  gsize total = p->head_parameters, count;
  StepWork w = { 0 };
  GfError gf_error = { 0 };
  GfStatus status;

  for (guint b = 0; b < p->n_blocks; b++)
    total += p->blocks[b].parameters;
  count = CLAMP (total, PROBE_OPTIMIZER_MIN, PROBE_OPTIMIZER_MAX);
  if ((status = gf_optimizer_init (&w.opt, &oc, count, &gf_error)) != GF_OK)
    return engine_failed (error, status, &gf_error);
  w.params = g_new0 (gf_real, count);
  w.grads = g_new0 (gf_real, count);
  w.group.count = count;
  w.group.lr_scale = 1;
  p->optimizer = time_work (optimizer_step, &w, error) / count;
  gf_optimizer_clear (&w.opt);
  g_free (w.params);
  g_free (w.grads);
  return TRUE;
}

/* Mean seconds to decode and prepare one picture, over a few spread
 * through the data set.  A picture gone since the scan is passed over
 * (the run will be too); only when none can be read is it an error. */
static gboolean
probe_decode (GraftProbe *p, GraftRunData *data, GError **error)
{
  guint n = graft_run_data_n_samples (data), k = MIN (n, PROBE_PICTURES);
  g_autofree float *tensor = g_new (float, p->input_count);
  gint64 start = g_get_monotonic_time ();
  g_autoptr (GError) last = NULL;
  guint read = 0;

  for (guint i = 0; i < k; i++)
    {
      g_clear_error (&last);
      read += graft_run_data_fill (data, (guint) ((guint64) i * n / k), 0,
                                   tensor, &last);
    }
  if (k > 0 && read == 0)
    {
      g_propagate_error (error, g_steal_pointer (&last));
      return FALSE;
    }
  p->decode = read ? seconds_since (start) / read : 0;
  return TRUE;
}

/* ---- The probe --------------------------------------------------------------- */

/* As the trainer loads it: a path, or a bundled backbone's id, cut
 * where the configuration says. */
static GraftBackbone *
load_backbone (const GraftRunConfig *c, GError **error)
{
  g_autoptr (GraftBackbone) backbone = graft_backbone_load (c->backbone, NULL,
                                                            error);

  if (backbone == NULL
      || (c->cut != NULL && !graft_backbone_set_cut (backbone, c->cut,
                                                     error)))
    return NULL;
  return g_steal_pointer (&backbone);
}

static gboolean
probe_data (GraftProbe *p, const GraftRunConfig *c, GfModel *model,
            GraftRunData **data, GError **error)
{
  gint64 start = g_get_monotonic_time ();

  *data = graft_run_data_load (c, &model->preprocess, NULL, error);
  if (*data == NULL)
    return FALSE;
  p->scan_seconds = seconds_since (start);
  p->n_train = graft_run_data_n_train (*data);
  p->n_val = graft_run_data_n_val (*data);
  return TRUE;
}

GraftProbe *
graft_probe_new (const GraftRunConfig *config, GError **error)
{
  g_autoptr (GraftProbe) p = g_new0 (GraftProbe, 1);
  g_autoptr (GraftRunData) data = NULL;
  g_autoptr (GraftBackbone) backbone = NULL;
  GfModel *model = NULL;
  guint channels = 0;
  gboolean ok;
  int cut = -1;

  g_return_val_if_fail (config != NULL, NULL);

  if (!graft_run_config_validate (config, error))
    return NULL;
  gf_engine_set_threads ((int) config->threads);
  p->threads = (guint) gf_engine_get_threads ();
  p->batch = MIN (config->batch, PROBE_MAX_BATCH);
  ok = (backbone = load_backbone (config, error)) != NULL;
  if (ok)
    {
      model = graft_backbone_get_model (backbone);
      cut = graft_backbone_get_cut_tensor (backbone);
      graft_backbone_get_cut_shape (backbone, &channels, NULL, NULL);
      p->cut_channels = channels;
    }
  ok = ok && probe_data (p, config, model, &data, error);
  ok = ok && probe_backbone (p, model, cut, config->bn_frozen_all, error)
    && probe_head (p, config, graft_run_data_n_classes (data), error)
    && probe_optimizer (p, config, error)
    && probe_decode (p, data, error);
  return ok ? g_steal_pointer (&p) : NULL;
}

/* ---- Arithmetic ---------------------------------------------------------------- */

/* Values per picture kept between the prefix of @frozen blocks and the
 * trainable part: pooled vectors at the cut, else a block's output. */
static gsize
boundary_count (const GraftProbe *p, guint frozen)
{
  if (frozen == p->n_blocks)
    return p->cut_channels;
  return frozen == 0 ? p->input_count : p->blocks[frozen - 1].out_count;
}

/* One epoch with blocks [0, @frozen) frozen.  The first epoch of a stage
 * decodes every picture and runs the prefix over it; later ones reuse
 * the kept prefix outputs, unless augmentation changes the pictures or
 * they do not fit in memory. */
static double
epoch_seconds (const GraftProbe *p, const GraftRunConfig *c, guint frozen,
               gboolean first)
{
  guint n = p->n_train + p->n_val;
  gboolean kept = !c->augment_flip && !c->augment_crop
    && boundary_count (p, frozen) * sizeof (float) * n
       <= GRAFT_BOUNDARY_CACHE_LIMIT;
  double prefix = 0, train = p->head_train, val = p->head_infer;
  double weights = p->head_parameters, steps, seconds;

  for (guint b = 0; b < p->n_blocks; b++)
    if (b < frozen)
      prefix += p->blocks[b].infer;
    else
      {
        train += p->blocks[b].train;
        val += p->blocks[b].infer;
        weights += p->blocks[b].parameters;
      }
  steps = ceil ((double) p->n_train / c->batch);
  seconds = p->n_train * train + p->n_val * val
    + steps * weights * p->optimizer;
  if (first || !kept)
    seconds += n * (p->decode + prefix);
  return seconds;
}

/* Adds @epochs epochs of one stage to @e (whose epochs count those so
 * far); a @carried stage has its boundary values from the first stage's
 * pass and runs no prefix of its own. */
static void
add_stage (const GraftProbe *p, const GraftRunConfig *c, guint frozen,
           guint epochs, gboolean carried, GraftModeEstimate *e)
{
  for (guint i = 0; i < epochs; i++)
    {
      double s = epoch_seconds (p, c, frozen, i == 0 && !carried);
      if (e->epochs++ == 0)
        e->first_epoch = s;
      e->seconds += s;
    }
}

/* The stages after the first whose boundaries the first carries, as the
 * trainer plans them (plan_carry). */
static gsize
progressive_carried (const GraftProbe *p, const GraftRunConfig *c)
{
  guint candidates = graft_trainer_carry_candidates (c, p->n_blocks);
  g_autofree gsize *counts = g_new (gsize, MAX (candidates, 1));

  for (guint k = 0; k < candidates; k++)
    counts[k] = boundary_count (p, p->n_blocks - 1 - k);
  return graft_trainer_carried_stages (counts, candidates,
                                       p->n_train + p->n_val);
}

void
graft_estimate_mode (const GraftProbe *p, const GraftRunConfig *c,
                     GraftModeEstimate *e)
{
  guint frozen = p->n_blocks;

  memset (e, 0, sizeof *e);
  if (c->mode == GRAFT_RUN_MODE_PROGRESSIVE)
    {
      guint cap = c->epochs > 0 ? c->epochs : G_MAXUINT;
      gsize carried = progressive_carried (p, c);
      for (guint s = 0; s <= p->n_blocks && e->epochs < cap; s++)
        add_stage (p, c, p->n_blocks - s, MIN (c->stage_epochs,
                                               cap - e->epochs),
                   s >= 1 && s <= carried, e);
    }
  else
    {
      if (c->mode == GRAFT_RUN_MODE_FINETUNE)
        frozen = c->unfreeze == GRAFT_UNFREEZE_ALL
          || (guint) c->unfreeze >= p->n_blocks
          ? 0 : p->n_blocks - (guint) c->unfreeze;
      add_stage (p, c, frozen, c->epochs, FALSE, e);
    }
  e->later_epochs = e->epochs > 1
    ? (e->seconds - e->first_epoch) / (e->epochs - 1)
    : epoch_seconds (p, c, frozen, FALSE);
  e->seconds += p->scan_seconds;
}

static char *
format_duration (double seconds)
{
  if (seconds < 90)
    return g_strdup_printf ("%.0f s", seconds);
  if (seconds < 90 * 60)
    return g_strdup_printf ("%.0f min", seconds / 60);
  return g_strdup_printf ("%.1f h", seconds / 3600);
}

GraftRunMode
graft_estimate_recommend (guint n_pictures, double finetune_seconds,
                          double budget_seconds, char **reason)
{
  g_autofree char *took = format_duration (finetune_seconds);
  g_autofree char *budget = format_duration (budget_seconds);

  if (n_pictures < GRAFT_ESTIMATE_SMALL_DATA_SET)
    {
      *reason = g_strdup_printf ("only %u pictures: train the head alone; "
                                 "fine-tuning would learn them by heart",
                                 n_pictures);
      return GRAFT_RUN_MODE_EXTRACT;
    }
  if (n_pictures <= GRAFT_ESTIMATE_LARGE_DATA_SET)
    {
      *reason = g_strdup_printf ("%u pictures: with 100 to 1,000 examples "
                                 "feature extraction learns well and "
                                 "fine-tuning tends to overfit", n_pictures);
      return GRAFT_RUN_MODE_EXTRACT;
    }
  if (budget_seconds > 0 && finetune_seconds > budget_seconds)
    {
      *reason = g_strdup_printf ("%u pictures would suit fine-tuning, but it "
                                 "would take about %s, over the budget of "
                                 "%s", n_pictures, took, budget);
      return GRAFT_RUN_MODE_EXTRACT;
    }
  *reason = g_strdup_printf ("%u pictures: enough to fine-tune, which gains "
                             "most when the task resembles what the "
                             "backbone learned", n_pictures);
  return GRAFT_RUN_MODE_FINETUNE;
}

/* ---- JSON --------------------------------------------------------------------- */

static void
add_double (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_cost (JsonBuilder *b, const char *name, double infer, double train,
          gsize parameters)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  add_double (b, "infer", infer);
  add_double (b, "train", train);
  add_int (b, "parameters", (gint64) parameters);
  json_builder_end_object (b);
}

JsonNode *
graft_probe_to_json (const GraftProbe *p)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_int (b, "batch", p->batch);
  add_int (b, "threads", p->threads);
  add_double (b, "scan_seconds", p->scan_seconds);
  add_double (b, "decode", p->decode);
  json_builder_set_member_name (b, "blocks");
  json_builder_begin_array (b);
  for (guint i = 0; i < p->n_blocks; i++)
    add_cost (b, p->blocks[i].name, p->blocks[i].infer, p->blocks[i].train,
              p->blocks[i].parameters);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "head");
  add_cost (b, "head", p->head_infer, p->head_train, p->head_parameters);
  add_double (b, "optimizer_per_parameter", p->optimizer);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
