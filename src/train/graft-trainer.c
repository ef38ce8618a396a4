/* graft-trainer.c: the training loop, on the run's worker thread.
 *
 * Every mode is the same machine with the backbone split in two at a
 * boundary: a frozen prefix (run forward only, in inference mode) and a
 * trainable part (the unfrozen blocks and the head, one graph).  Feature
 * extraction puts the boundary at the cut, fine-tuning before the last N
 * blocks, and progressive unfreezing moves it back one block per stage.
 * When no augmentation changes the pictures, the prefix's output for each
 * picture is computed once and kept, so later epochs cost only the
 * trainable part: for feature extraction, only the head; and the first
 * progressive stage's pass keeps the later stages' boundaries as it goes
 * by them, so that one pass serves every stage (plan_carry).
 */
#define G_LOG_DOMAIN "graft-trainer"

#include "graft-trainer.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "gf-engine.h"
#include "gf-onnx.h"
#include "gf-optim.h"
#include "ops/gf-loss.h"
#include "graft-backbone-private.h"
#include "graft-error.h"
#include "graft-feature-cache.h"
#include "graft-image.h"
#include "graft-json.h"
#include "graft-head.h"
#include "graft-safetensors.h"
#include "graft-run-data.h"
#include "graft-run-files.h"
#include "graft-text.h"

#define PROGRESS_INTERVAL_US (G_USEC_PER_SEC / 4)

struct _GraftTrainer
{
  const GraftRunConfig *config;
  const char *run_dir;
  GraftControl *control;
  GraftEventSink sink;
  gpointer sink_data;
  gint64 started_us, last_progress_us;

  GraftRunData *data;
  GraftHeadLayout head;

  GraftBackbone *backbone; /* loaded for this run alone: */
  GfModel *model;          /* its weights are the master copy */
  const char *backbone_path;     /* the file config->backbone names */
  char *backbone_sha256;
  GraftFeatureCache *features;   /* pooled vectors on disk; may be NULL */
  int cut;
  const GfBlock *blocks;
  size_t n_blocks;

  /* The current stage. */
  size_t n_frozen;         /* blocks [0, n_frozen) are in the prefix */
  GfGraph *prefix;         /* image → boundary; NULL when nothing is frozen */
  int prefix_in, prefix_out;
  GfGraph *part;           /* boundary → logits, trainable */
  int part_in, part_logits;
  gboolean pooled;         /* the part starts at the cut: feed it vectors */
  gsize boundary_count;    /* values per picture at the boundary */
  float *boundary_cache;   /* per sample, when kept */
  gboolean *cached;
  gboolean refill;         /* resumed: refill the cache as first filled */
  /* Progressive unfreezing with kept outputs: the boundary values of the
   * next stages, taken from the first stage's prefix pass on its way to
   * the cut (see plan_carry).  Stage 2 + k (n_blocks − 1 − k blocks
   * frozen) is carried for k < n_carry; carry[k] holds its values,
   * carry_count[k] a picture, carried[k] which pictures have them. */
  gboolean carry_planned;
  gsize n_carry;
  float **carry;
  gboolean **carried;
  gsize *carry_count;
  gsize n_extras;          /* carried stages the current prefix fills */
  int *extra_out;          /* their tensors in the prefix */
  gsize *extra_stage;      /* and their k */
  GfOptimizer optimizer;
  GfParamGroup *groups;
  size_t n_groups;
  GfSchedule schedule;
  guint stage_start_step;
  /* Progressive: the best validation loss when the stage began, and the
   * stages in a row that did not beat theirs.  Checkpointed, so that a
   * resumed run takes the same decisions. */
  double stage_before;
  guint plateaus;

  /* History. */
  GraftRunHistory *history;
  guint epoch;             /* epochs done */
  guint step;              /* steps done */
  guint total_steps;       /* for progress: an estimate for progressive */
};

/* ---- Events and control --------------------------------------------------- */

void
graft_event_free (GraftEvent *event)
{
  if (event == NULL)
    return;
  graft_epoch_report_free (event->report);
  g_free (event->block);
  g_free (event->reason);
  g_free (event->path);
  g_free (event->message);
  g_clear_error (&event->error);
  g_free (event);
}

/* A trainer made by graft_trainer_new () has no sink: it tells nothing. */
static void
emit (GraftTrainer *t, GraftEvent *event)
{
  if (t->sink != NULL)
    t->sink (event, t->sink_data);
  else
    graft_event_free (event);
}

static GraftEvent *
event_new (GraftEventKind kind)
{
  GraftEvent *e = g_new0 (GraftEvent, 1);

  e->kind = kind;
  return e;
}

void
graft_control_init (GraftControl *control)
{
  g_mutex_init (&control->mutex);
  g_cond_init (&control->cond);
  control->paused = control->stopped = FALSE;
}

void
graft_control_clear (GraftControl *control)
{
  g_mutex_clear (&control->mutex);
  g_cond_clear (&control->cond);
}

void
graft_control_set (GraftControl *control, gboolean paused, gboolean stopped)
{
  g_mutex_lock (&control->mutex);
  control->paused = paused;
  control->stopped = control->stopped || stopped;
  g_cond_broadcast (&control->cond);
  g_mutex_unlock (&control->mutex);
}

gboolean
graft_control_wait (GraftControl *control)
{
  gboolean stopped;

  g_mutex_lock (&control->mutex);
  while (control->paused && !control->stopped)
    g_cond_wait (&control->cond, &control->mutex);
  stopped = control->stopped;
  g_mutex_unlock (&control->mutex);
  return stopped;
}

/* What the event log shows besides stages. */
static void
emit_notice (GraftTrainer *t, GraftRunNoticeKind kind, const char *message)
{
  GraftEvent *e = event_new (GRAFT_EVENT_NOTICE);

  e->notice = kind;
  e->epoch = t->epoch;
  e->step = t->step;
  e->message = g_strdup (message);
  emit (t, e);
}

/* A loss that is NaN or infinite ends the run: said in the log as such,
 * then as the run's failure. */
static gboolean G_GNUC_PRINTF (3, 4)
fail_numeric (GraftTrainer *t, GError **error, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  emit_notice (t, GRAFT_RUN_NOTICE_NAN_STOP, message);
  g_set_error_literal (error, GRAFT_ENGINE_ERROR, GF_ERR_NUMERIC, message);
  return FALSE;
}

/* The engine calls this between nodes: a pass pauses or stops at once. */
static bool
interrupt_hook (void *user_data)
{
  return graft_control_wait (user_data);
}

static void
report_progress (GraftTrainer *t, double done)
{
  gint64 now = g_get_monotonic_time ();
  GraftEvent *e;

  if (now - t->last_progress_us < PROGRESS_INTERVAL_US && done < 1.0)
    return;
  t->last_progress_us = now;
  e = event_new (GRAFT_EVENT_PROGRESS);
  e->progress = CLAMP (done, 0.0, 1.0);
  e->eta = done > 0 ? (now - t->started_us) / 1e6 * (1.0 - done) / done : -1;
  emit (t, e);
}

static gboolean
fail_engine (GError **error, GfStatus status, const GfError *gf_error)
{
  return graft_engine_error (error, status, gf_error);
}

/* ---- The backbone and the stage's graphs ---------------------------------- */

static gboolean
load_backbone (GraftTrainer *t, GError **error)
{
  const char *cut = t->config->cut;

  t->backbone = graft_backbone_load (t->config->backbone, NULL, error);
  if (t->backbone == NULL
      || (cut != NULL && !graft_backbone_set_cut (t->backbone, cut, error)))
    return FALSE;
  t->backbone_path = graft_backbone_get_path (t->backbone);
  t->model = graft_backbone_get_model (t->backbone);
  t->cut = graft_backbone_get_cut_tensor (t->backbone);
  t->blocks = graft_backbone_get_gf_blocks (t->backbone, &t->n_blocks);
  t->backbone_sha256 = graft_file_sha256 (t->backbone_path, NULL, error);
  /* Without a usable cache folder a run recomputes: slower, not wrong. */
  t->features = graft_feature_cache_new (NULL,
                                         GRAFT_FEATURE_CACHE_DEFAULT_BYTES,
                                         NULL);
  return t->backbone_sha256 != NULL;
}

static size_t
cut_channels (GraftTrainer *t)
{
  size_t dims[GF_MAX_DIMS];

  gf_graph_tensor_shape (t->model->graph, t->cut, dims);
  return dims[1];
}

/* The tensor between the prefix and the trainable part. */
static int
boundary_tensor (GraftTrainer *t)
{
  if (t->n_frozen == 0)
    return t->model->input;
  return t->blocks[t->n_frozen - 1].output;
}

static void
clear_stage (GraftTrainer *t)
{
  g_clear_pointer (&t->prefix, gf_graph_free);
  g_clear_pointer (&t->extra_out, g_free);
  g_clear_pointer (&t->extra_stage, g_free);
  t->n_extras = 0;
  g_clear_pointer (&t->part, gf_graph_free);
  g_clear_pointer (&t->boundary_cache, g_free);
  g_clear_pointer (&t->cached, g_free);
  g_clear_pointer (&t->groups, g_free);
  gf_optimizer_clear (&t->optimizer);
  memset (&t->optimizer, 0, sizeof t->optimizer);
}

static gboolean
compile_and_plan (GfGraph *graph, size_t batch, GfGraphMode mode,
                  GError **error)
{
  GfError gf_error = { 0 };
  GfStatus status = gf_graph_compile (graph, &gf_error);

  if (status == GF_OK)
    status = gf_graph_plan (graph, batch, mode, &gf_error);
  return status == GF_OK || fail_engine (error, status, &gf_error);
}

/* ---- Carrying boundaries between progressive stages ---------------------- */

/* Each progressive stage unfreezes one more block, so its boundary lies
 * inside the previous stage's prefix: the first stage's pass over the
 * pictures already computes every later stage's boundary values on its
 * way to the cut.  Those are kept (within half the kept-output limit,
 * from the next stage on), and the stages they serve run no prefix pass
 * of their own: on the seed's recipe (VGG19, three stages) that is one
 * pass over the pictures instead of three.
 * A kept value depends in its last bits on the batch that computed it,
 * so where it comes from is fixed by the configuration alone: while it
 * carries, the first stage computes every picture through its prefix
 * (the disk cache of pooled vectors is written, not read), and a run
 * resumed in a carried stage refills in the first stage's batches. */
gsize
graft_trainer_carried_stages (const gsize *counts, gsize n_counts, gsize n)
{
  gsize budget = GRAFT_BOUNDARY_CACHE_LIMIT / 2, used = 0, k;

  for (k = 0; k < n_counts; k++)
    {
      if (counts[k] == 0
          || counts[k] > (budget - used) / sizeof (float) / MAX (n, 1))
        break;
      used += counts[k] * n * sizeof (float);
    }
  return k;
}

guint
graft_trainer_carry_candidates (const GraftRunConfig *c, guint n_blocks)
{
  guint stages = n_blocks + 1;

  if (c->mode != GRAFT_RUN_MODE_PROGRESSIVE || c->augment_flip
      || c->augment_crop || n_blocks == 0)
    return 0;
  if (c->epochs > 0)
    stages = MIN (stages, (c->epochs + c->stage_epochs - 1) / c->stage_epochs);
  /* Stage 2 + k freezes n_blocks − 1 − k blocks; with none frozen there
   * is no prefix, and nothing to carry. */
  return MIN (stages, n_blocks) - 1;
}

static void
plan_carry (GraftTrainer *t)
{
  guint candidates = graft_trainer_carry_candidates (t->config,
                                                     (guint) t->n_blocks);
  g_autofree gsize *counts = g_new (gsize, MAX (candidates, 1));

  t->carry_planned = TRUE;
  for (guint k = 0; k < candidates; k++)
    counts[k] = gf_graph_tensor_count (t->model->graph,
                                       t->blocks[t->n_blocks - 2 - k].output);
  t->n_carry = graft_trainer_carried_stages (counts, candidates,
                                             graft_run_data_n_samples
                                             (t->data));
  if (t->n_carry == 0)
    return;
  g_debug ("the first stage carries the boundaries of the next %zu",
           t->n_carry);
  t->carry = g_new0 (float *, t->n_carry);
  t->carried = g_new0 (gboolean *, t->n_carry);
  t->carry_count = g_new0 (gsize, t->n_carry);
}

/* The carried stage that freezes @n_frozen blocks, or −1. */
static gssize
carry_index (GraftTrainer *t, size_t n_frozen)
{
  if (n_frozen >= t->n_blocks || t->n_blocks - 1 - n_frozen >= t->n_carry)
    return -1;
  return (gssize) (t->n_blocks - 1 - n_frozen);
}

static void
carry_free (GraftTrainer *t)
{
  for (gsize k = 0; k < t->n_carry; k++)
    {
      g_free (t->carry[k]);
      g_free (t->carried[k]);
    }
  g_clear_pointer (&t->carry, g_free);
  g_clear_pointer (&t->carried, g_free);
  g_clear_pointer (&t->carry_count, g_free);
  t->n_carry = 0;
}

/* The current prefix also outputs the boundaries of the carried stages
 * after this one, into buffers made for them. */
static gboolean
add_prefix_extras (GraftTrainer *t, GError **error)
{
  gsize n = graft_run_data_n_samples (t->data);
  gssize here = carry_index (t, t->n_frozen);
  gsize first = here < 0 ? 0 : (gsize) here + 1;
  g_autofree int *outputs = NULL;
  GfError gf_error = { 0 };
  GfStatus status;

  if (t->n_carry == 0 || first >= t->n_carry || t->cached == NULL)
    return TRUE;
  t->n_extras = t->n_carry - first;
  t->extra_out = g_new (int, t->n_extras);
  t->extra_stage = g_new (gsize, t->n_extras);
  outputs = g_new (int, t->n_extras + 1);
  outputs[0] = t->prefix_out;
  for (gsize j = 0; j < t->n_extras; j++)
    {
      gsize k = first + j;
      int model_id = t->blocks[t->n_blocks - 2 - k].output;
      t->extra_stage[j] = k;
      t->extra_out[j] = gf_graph_find_tensor (t->prefix, gf_graph_tensor_name
                                              (t->model->graph, model_id));
      g_assert (t->extra_out[j] >= 0);
      outputs[j + 1] = t->extra_out[j];
      t->carry_count[k] = gf_graph_tensor_count (t->model->graph, model_id);
      if (t->carry[k] == NULL)
        {
          t->carry[k] = g_new (float, t->carry_count[k] * n);
          t->carried[k] = g_new0 (gboolean, n);
        }
    }
  status = gf_graph_set_outputs (t->prefix, outputs, t->n_extras + 1,
                                 &gf_error);
  return status == GF_OK || fail_engine (error, status, &gf_error);
}

/* Keeps the carried boundaries of the pictures @samples[0..n) that the
 * prefix just ran. */
static void
keep_extras (GraftTrainer *t, const guint *samples, guint n)
{
  for (gsize j = 0; j < t->n_extras; j++)
    {
      gsize k = t->extra_stage[j], count = t->carry_count[k];
      const gf_real *map = gf_graph_tensor_data (t->prefix, t->extra_out[j]);
      for (guint i = 0; i < n; i++)
        {
          memcpy (t->carry[k] + samples[i] * count, map + i * count,
                  count * sizeof (float));
          t->carried[k][samples[i]] = TRUE;
        }
    }
}

/* The frozen prefix: image → boundary, inference only. */
static gboolean
build_prefix (GraftTrainer *t, int boundary, GError **error)
{
  GfError gf_error = { 0 };

  if (boundary == t->model->input)
    return TRUE;
  t->prefix = gf_graph_extract (t->model->graph, t->model->input, boundary,
                                &t->prefix_in, &t->prefix_out, &gf_error);
  if (t->prefix == NULL)
    return fail_engine (error, gf_error.status, &gf_error);
  if (!add_prefix_extras (t, error))
    return FALSE;
  gf_graph_set_interrupt (t->prefix, interrupt_hook, t->control);
  return compile_and_plan (t->prefix, t->config->batch, GF_GRAPH_INFER,
                           error);
}

/* The trainable part: boundary → unfrozen blocks → head.  At the cut it
 * takes pooled vectors as (N, C, 1, 1) maps: the head pools first, so
 * that is the same function at a fraction of the memory. */
static GfGraph *
new_part (GraftTrainer *t, int boundary, GError **error)
{
  GfError gf_error = { 0 };
  size_t dims[GF_MAX_DIMS];
  GfGraph *part;

  if (boundary != t->cut)
    {
      int cut;
      part = gf_graph_extract (t->model->graph, boundary, t->cut,
                               &t->part_in, &cut, &gf_error);
      if (part == NULL)
        fail_engine (error, gf_error.status, &gf_error);
      return part;
    }
  gf_graph_tensor_shape (t->model->graph, t->cut, dims);
  dims[2] = dims[3] = 1;
  part = gf_graph_new ();
  t->part_in = gf_graph_add_input (part, gf_graph_tensor_name
                                   (t->model->graph, t->cut), 4, dims, NULL);
  return part;
}

/* Head weights start from the seed; later stages copy the trained ones
 * over them by name. */
static gboolean
build_part (GraftTrainer *t, int boundary, GfGraph *previous, GError **error)
{
  GfRng rng;
  int from;

  t->pooled = boundary == t->cut;
  t->part = new_part (t, boundary, error);
  if (t->part == NULL)
    return FALSE;
  from = t->pooled ? t->part_in
    : gf_graph_find_tensor (t->part, gf_graph_tensor_name (t->model->graph,
                                                           t->cut));
  gf_rng_seed (&rng, t->config->seed);
  t->part_logits = graft_head_append (t->part, from, cut_channels (t),
                                      &t->head, &rng, error);
  if (t->part_logits < 0)
    return FALSE;
  gf_graph_set_outputs (t->part, &t->part_logits, 1, NULL);
  for (size_t i = 0; i < gf_graph_n_tensors (t->part); i++)
    if (gf_graph_tensor_kind (t->part, (int) i) == GF_TENSOR_PARAM)
      gf_graph_set_trainable (t->part, (int) i, TRUE, NULL);
  gf_graph_set_batchnorm_frozen (t->part, t->config->bn_frozen_all);
  gf_graph_set_interrupt (t->part, interrupt_hook, t->control);
  if (!compile_and_plan (t->part, t->config->batch, GF_GRAPH_TRAIN, error))
    return FALSE;
  if (previous != NULL)
    gf_graph_copy_params (t->part, previous);
  t->boundary_count = gf_graph_tensor_count (t->part, t->part_in);
  return TRUE;
}

/* The block a weight of the trainable part belongs to, counted from the
 * head (0) backwards: discriminative rates shrink with that distance. */
static guint
distance_from_head (GraftTrainer *t, const char *name)
{
  int id = gf_graph_find_tensor (t->model->graph, name);

  if (id < 0)
    return 0;   /* a head weight */
  for (size_t b = t->n_blocks; b-- > t->n_frozen;)
    {
      int params[256];
      size_t n = gf_block_params (t->model->graph, &t->blocks[b], params,
                                  G_N_ELEMENTS (params));
      for (size_t i = 0; i < MIN (n, G_N_ELEMENTS (params)); i++)
        if (params[i] == id)
          return (guint) (t->n_blocks - b);
    }
  return (guint) (t->n_blocks - t->n_frozen);
}

static gboolean
build_optimizer (GraftTrainer *t, GError **error)
{
  GfOptimizerConfig oc = { 0 };
  GfError gf_error = { 0 };
  size_t count;
  GfStatus status;

  oc.kind = t->config->optimizer == GRAFT_OPTIMIZER_SGD
    ? GF_OPTIMIZER_SGD : GF_OPTIMIZER_ADAM;
  oc.momentum = t->config->momentum;
  oc.beta1 = 0.9;
  oc.beta2 = 0.999;
  oc.epsilon = 1e-8;
  gf_graph_params (t->part, &count);
  status = gf_optimizer_init (&t->optimizer, &oc, count, &gf_error);
  if (status != GF_OK)
    return fail_engine (error, status, &gf_error);

  t->groups = g_new0 (GfParamGroup, gf_graph_n_tensors (t->part));
  t->n_groups = 0;
  for (size_t i = 0; i < gf_graph_n_tensors (t->part); i++)
    {
      GfParamGroup *g = &t->groups[t->n_groups];
      const char *name = gf_graph_tensor_name (t->part, (int) i);
      if (!gf_graph_is_trainable (t->part, (int) i))
        continue;
      gf_graph_param_range (t->part, (int) i, &g->offset, &g->count);
      g->lr_scale = pow (t->config->discriminative,
                         distance_from_head (t, name));
      g->weight_decay = t->config->weight_decay;
      t->n_groups++;
    }
  return TRUE;
}

guint
graft_trainer_steps_per_epoch (GraftTrainer *t)
{
  guint n = graft_run_data_n_train (t->data);

  return (n + t->config->batch - 1) / t->config->batch;
}

static void
build_schedule (GraftTrainer *t, guint epochs)
{
  const GraftRunConfig *c = t->config;
  guint per_epoch = graft_trainer_steps_per_epoch (t);

  memset (&t->schedule, 0, sizeof t->schedule);
  t->schedule.base_lr = c->lr;
  t->schedule.warmup_steps = c->warmup_epochs * per_epoch;
  t->schedule.total_steps = MAX (epochs * per_epoch, 1);
  t->schedule.step_size = c->step_epochs * per_epoch;
  t->schedule.gamma = c->step_gamma;
  t->schedule.kind = c->schedule == GRAFT_SCHEDULE_COSINE
    ? GF_SCHEDULE_COSINE : c->schedule == GRAFT_SCHEDULE_STEP
    ? GF_SCHEDULE_STEP : GF_SCHEDULE_CONSTANT;
}

/* Room for the prefix's output for every picture, when pictures do not
 * change from epoch to epoch and it fits; a carried stage takes what the
 * first stage kept for it. */
static void
keep_outputs (GraftTrainer *t)
{
  gsize n = graft_run_data_n_samples (t->data);
  gssize k = carry_index (t, t->n_frozen);

  if (t->config->augment_flip || t->config->augment_crop
      || t->boundary_count * sizeof (float) * n > GRAFT_BOUNDARY_CACHE_LIMIT)
    return;
  if (k >= 0 && t->carry[k] != NULL)
    {
      g_assert (t->carry_count[k] == t->boundary_count);
      t->boundary_cache = g_steal_pointer (&t->carry[k]);
      t->cached = g_steal_pointer (&t->carried[k]);
      return;
    }
  t->boundary_cache = g_new (float, t->boundary_count * n);
  t->cached = g_new0 (gboolean, n);
}

/* Builds the graphs for @n_frozen frozen blocks, keeping trained weights:
 * the backbone's go back to the master copy, the head's to the new part. */
static gboolean
enter_stage (GraftTrainer *t, size_t n_frozen, guint epochs, GError **error)
{
  GfGraph *previous = g_steal_pointer (&t->part);
  gboolean ok;
  int boundary;

  if (previous != NULL)
    gf_graph_copy_params (t->model->graph, previous);
  clear_stage (t);
  if (!t->carry_planned)
    plan_carry (t);
  t->n_frozen = n_frozen;
  boundary = boundary_tensor (t);
  ok = build_part (t, boundary, previous, error);
  if (previous != NULL)
    gf_graph_free (previous);
  if (!ok)
    return FALSE;
  keep_outputs (t);
  if (!build_prefix (t, boundary, error) || !build_optimizer (t, error))
    return FALSE;
  build_schedule (t, epochs);
  t->stage_start_step = t->step;
  return TRUE;
}

/* ---- Batches ------------------------------------------------------------- */

/* Global average pooling of one picture's cut map into @out (C). */
static void
pool_map (const gf_real *map, size_t channels, size_t plane, float *out)
{
  for (size_t c = 0; c < channels; c++)
    {
      double sum = 0;
      for (size_t i = 0; i < plane; i++)
        sum += map[c * plane + i];
      out[c] = (float) (sum / (double) plane);
    }
}

/* Runs the prefix over pictures @samples[0..n) (view @view) and writes
 * their boundary values, one row each, into @out. */
static gboolean
run_prefix (GraftTrainer *t, const guint *samples, guint n, guint view,
            float *out, GError **error)
{
  GfGraph *g = t->prefix;
  gf_real *image = gf_graph_tensor_data (g ? g : t->part,
                                         g ? t->prefix_in : t->part_in);
  gsize image_count = g ? gf_graph_tensor_count (g, t->prefix_in)
    : t->boundary_count;
  GfError gf_error = { 0 };
  size_t dims[GF_MAX_DIMS];
  GfStatus status;

  if (!graft_run_data_fill_batch (t->data, samples, n, view, image, error))
    return FALSE;
  if (g == NULL)
    {
      memcpy (out, image, n * image_count * sizeof *out);
      return TRUE;
    }
  status = gf_graph_forward (g, n, GF_GRAPH_INFER, &gf_error);
  if (status != GF_OK)
    return fail_engine (error, status, &gf_error);
  keep_extras (t, samples, n);
  gf_graph_tensor_shape (g, t->prefix_out, dims);
  for (guint i = 0; i < n; i++)
    {
      const gf_real *map = gf_graph_tensor_data (g, t->prefix_out)
        + i * gf_graph_tensor_count (g, t->prefix_out);
      if (t->pooled)
        pool_map (map, dims[1], dims[2] * dims[3],
                  out + i * t->boundary_count);
      else
        memcpy (out + i * t->boundary_count, map,
                t->boundary_count * sizeof *out);
    }
  return TRUE;
}

/* The on-disk key of picture @sample's pooled vector in view @view: its
 * content, the backbone file, the cut, the preprocessing and the view. */
static char *
feature_digest (GraftTrainer *t, guint sample, guint view)
{
  g_autofree char *view_key = graft_run_data_view_key (t->data, view);
  GraftFeatureKey key = {
    graft_run_data_sha256 (t->data, sample), t->backbone_sha256,
    gf_graph_tensor_name (t->model->graph, t->cut),
    graft_run_data_preprocess (t->data), view_key,
  };

  return graft_feature_key_digest (&key);
}

/* Pooled vectors (the part starts at the cut) are shared between runs
 * through the data layer's cache: a second run on the same pictures and
 * backbone skips the backbone altogether. */
static gboolean
disk_lookup (GraftTrainer *t, guint sample, guint view, float *row)
{
  g_autofree char *digest = NULL;

  /* While the prefix carries, every picture goes through it (plan_carry). */
  if (!t->pooled || t->features == NULL || t->n_extras > 0)
    return FALSE;
  digest = feature_digest (t, sample, view);
  return graft_feature_cache_lookup (t->features, digest, row,
                                     t->boundary_count);
}

static void
disk_store (GraftTrainer *t, guint sample, guint view, const float *row)
{
  g_autofree char *digest = NULL;

  if (!t->pooled || t->features == NULL)
    return;
  digest = feature_digest (t, sample, view);
  /* A full disk or a read-only cache costs speed, not the run. */
  graft_feature_cache_store (t->features, digest, row, t->boundary_count,
                             NULL);
}

static void
keep_row (GraftTrainer *t, guint sample, const float *row)
{
  if (t->cached == NULL)
    return;
  memcpy (t->boundary_cache + sample * t->boundary_count, row,
          t->boundary_count * sizeof (float));
  t->cached[sample] = TRUE;
}

/* Fills the trainable part's input with pictures @samples[0..n): from
 * the kept prefix outputs, else the disk cache, else through the prefix. */
static gboolean
fill_present (GraftTrainer *t, const guint *samples, guint n, guint view,
              GError **error)
{
  gf_real *in = gf_graph_tensor_data (t->part, t->part_in);
  gsize count = t->boundary_count;
  g_autofree guint *slot = g_new (guint, n);
  g_autofree guint *missing = g_new (guint, n);
  g_autofree float *rows = NULL;
  guint n_missing = 0;

  G_STATIC_ASSERT (sizeof (gf_real) == sizeof (float));
  for (guint i = 0; i < n; i++)
    {
      float *row = in + i * count;
      if (t->cached != NULL && t->cached[samples[i]])
        memcpy (row, t->boundary_cache + samples[i] * count,
                count * sizeof (float));
      else if (disk_lookup (t, samples[i], view, row))
        keep_row (t, samples[i], row);
      else
        {
          slot[n_missing] = i;
          missing[n_missing++] = samples[i];
        }
    }
  if (n_missing == 0)
    return TRUE;
  rows = g_new (float, (gsize) n_missing * count);
  if (!run_prefix (t, missing, n_missing, view, rows, error))
    return FALSE;
  for (guint j = 0; j < n_missing; j++)
    {
      memcpy (in + slot[j] * count, rows + j * count, count * sizeof (float));
      keep_row (t, missing[j], rows + j * count);
      disk_store (t, missing[j], view, rows + j * count);
    }
  return TRUE;
}

/* One notice for each picture of @samples[0..n) found lost by the fill
 * that just failed (those of earlier batches were filtered out). */
static void
tell_lost (GraftTrainer *t, const guint *samples, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      const char *reason = graft_run_data_lost_reason (t->data, samples[i]);
      g_autofree char *shown = NULL;
      g_autofree char *message = NULL;
      if (reason == NULL)
        continue;
      shown = graft_text_from_filename (graft_run_data_path (t->data,
                                                             samples[i]));
      message = g_strdup_printf ("%s: %s", shown, reason);
      emit_notice (t, GRAFT_RUN_NOTICE_LOST, message);
    }
}

/* fill_present () on the pictures of @samples[0..n) that are still
 * there, whose indexes go to @used (room for @n), how many to @n_used
 * (possibly 0).  A picture that cannot be read any more is told once and
 * left out, the batch filled again without it; the run fails when too
 * many are gone.  With none lost, the same batch as ever is filled. */
static gboolean
fill_part (GraftTrainer *t, const guint *samples, guint n, guint view,
           guint *used, guint *n_used, GError **error)
{
  for (;;)
    {
      g_autoptr (GError) local = NULL;
      *n_used = graft_run_data_keep_present (t->data, samples, n, used);
      if (fill_present (t, used, *n_used, view, &local))
        return TRUE;
      if (!g_error_matches (local, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_LOST))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      tell_lost (t, used, *n_used);
      if (!graft_run_data_check_lost (t->data, error))
        return FALSE;
    }
}

/* ---- Loss ------------------------------------------------------------------ */

/* The mean loss of the part's logits for @labels, and dloss/dlogits in
 * @dlogits when it is not NULL; @probs receives the probabilities. */
static double
batch_loss (GraftTrainer *t, const int32_t *labels, guint n, gf_real *probs,
            gf_real *dlogits)
{
  const gf_real *logits = gf_graph_tensor_data (t->part, t->part_logits);
  double loss;

  if (t->head.sigmoid)
    {
      loss = gf_sigmoid_bce_forward (n, logits, labels, NULL, probs);
      if (dlogits != NULL)
        gf_sigmoid_bce_backward (n, probs, labels, NULL, 1.0, dlogits);
      return loss;
    }
  loss = gf_softmax_cross_entropy_forward (n, t->head.n_classes, logits,
                                           labels, NULL,
                                           t->config->label_smoothing, probs);
  if (dlogits != NULL)
    gf_softmax_cross_entropy_backward (n, t->head.n_classes, probs, labels,
                                       NULL, t->config->label_smoothing, 1.0,
                                       dlogits);
  return loss;
}

static guint
predicted_class (GraftTrainer *t, const gf_real *probs, guint i)
{
  guint k = t->head.n_classes, best = 0;

  if (t->head.sigmoid)
    return probs[i] >= 0.5 ? 1 : 0;
  for (guint c = 1; c < k; c++)
    if (probs[i * k + c] > probs[i * k + best])
      best = c;
  return best;
}

/* ---- One epoch -------------------------------------------------------------- */

/* The order of an epoch's training pictures depends only on the seed and
 * the epoch: a resumed run sees the same batches as one never stopped. */
guint *
graft_trainer_epoch_order (GraftTrainer *t, guint epoch)
{
  guint n = graft_run_data_n_train (t->data);
  guint *order = g_memdup2 (graft_run_data_train (t->data), n * sizeof *order);
  GfRng rng;

  gf_rng_seed (&rng, t->config->seed * 1000003u + epoch);
  for (guint i = n; i > 1; i--)
    {
      guint j = gf_rng_below (&rng, i), tmp = order[i - 1];
      order[i - 1] = order[j];
      order[j] = tmp;
    }
  return order;
}

/* graft_trainer_step () on the pictures of the batch still there, how
 * many in @n_used; none there, no step at all. */
static gboolean
step_present (GraftTrainer *t, const guint *batch, guint n_batch, guint view,
              guint step, double lr, double *loss, guint *n_used,
              GError **error)
{
  g_autofree guint *samples = g_new (guint, n_batch);
  g_autofree int32_t *labels = g_new (int32_t, n_batch);
  g_autofree gf_real *probs = g_new (gf_real, n_batch * t->head.n_classes);
  g_autofree gf_real *dlogits = g_new (gf_real, n_batch * t->head.n_classes);
  GfError gf_error = { 0 };
  GfStatus status;
  guint n;

  if (!fill_part (t, batch, n_batch, view, samples, n_used, error))
    return FALSE;
  if ((n = *n_used) == 0)
    return TRUE;
  for (guint i = 0; i < n; i++)
    labels[i] = (int32_t) graft_run_data_label (t->data, samples[i]);
  /* Dropout masks follow the step, so a resumed run draws the same. */
  gf_graph_set_seed (t->part, t->config->seed ^ ((guint64) step << 20));
  status = gf_graph_forward (t->part, n, GF_GRAPH_TRAIN, &gf_error);
  if (status != GF_OK)
    return fail_engine (error, status, &gf_error);
  *loss = batch_loss (t, labels, n, probs, dlogits);
  if (!isfinite (*loss))
    return TRUE;
  gf_graph_zero_grad (t->part);
  status = gf_graph_backward (t->part, n, dlogits, &gf_error);
  if (status != GF_OK)
    return fail_engine (error, status, &gf_error);
  gf_optimizer_step (&t->optimizer, lr, gf_graph_params (t->part, NULL),
                     gf_graph_grads (t->part, NULL), t->groups, t->n_groups);
  return TRUE;
}

gboolean
graft_trainer_step (GraftTrainer *t, const guint *samples, guint n,
                    guint view, guint step, double lr, double *loss,
                    GError **error)
{
  guint n_used;

  if (!step_present (t, samples, n, view, step, lr, loss, &n_used, error))
    return FALSE;
  if (n_used > 0)
    return TRUE;
  g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_LOST,
                       "none of the batch's pictures can be read any more");
  return FALSE;
}

/* One step on the batch @samples[0..n); how many of its pictures were
 * still there comes back in @n_used.  A batch whose every picture is lost
 * changes no weight and has no loss to record, yet still counts as its
 * step: the schedule, the stages and a resumed run's position all count
 * an epoch as steps_per_epoch () steps. */
static gboolean
train_step (GraftTrainer *t, const guint *samples, guint n, guint view,
            double *loss, guint *n_used, GError **error)
{
  double lr = gf_schedule_lr (&t->schedule, t->step - t->stage_start_step);
  GraftEvent *e;

  if (!step_present (t, samples, n, view, t->step, lr, loss, n_used, error))
    return FALSE;
  if (*n_used == 0)
    {
      t->step++;
      return TRUE;
    }
  if (!isfinite (*loss))
    return fail_numeric (t, error, "the loss became %s at step %u; try a "
                         "lower learning rate (the last good checkpoint is "
                         "kept)", isnan (*loss) ? "NaN" : "infinite",
                         t->step);
  graft_run_history_add_step (t->history, t->step, t->epoch + 1, *loss, lr);
  e = event_new (GRAFT_EVENT_STEP);
  e->step = t->step;
  e->epoch = t->epoch + 1;
  e->loss = *loss;
  e->lr = lr;
  e->seconds = (g_get_monotonic_time () - t->started_us) / 1e6;
  emit (t, e);
  t->step++;
  return TRUE;
}

/* The prefix's output for a picture can differ in its last bits with the
 * batch it was computed in (BLAS picks its kernels by size).  A run
 * resumed in the middle of a stage therefore refills its kept outputs in
 * the batches that first filled them — the stage's first epoch's (the
 * first stage's, for a carried one), then validation's — and goes on
 * exactly as if never stopped. */
static gboolean
refill_cache (GraftTrainer *t, GError **error)
{
  /* A carried stage's values were first computed in the first stage's
   * batches (plan_carry), which begins at epoch 0. */
  guint first = carry_index (t, t->n_frozen) >= 0 ? 0
    : t->stage_start_step / graft_trainer_steps_per_epoch (t);
  guint n = graft_run_data_n_train (t->data), batch = t->config->batch;
  guint n_val = graft_run_data_n_val (t->data);
  const guint *val = graft_run_data_val (t->data);
  g_autofree guint *order = NULL;
  g_autofree guint *used = g_new (guint, batch);
  guint n_used;

  t->refill = FALSE;
  if (t->cached == NULL || t->prefix == NULL || first == t->epoch)
    return TRUE;
  order = graft_trainer_epoch_order (t, first);
  for (guint start = 0; start < n; start += batch)
    if (!fill_part (t, order + start, MIN (batch, n - start), 0, used,
                    &n_used, error))
      return FALSE;
  for (guint start = 0; start < n_val; start += batch)
    if (!fill_part (t, val + start, MIN (batch, n_val - start), 0, used,
                    &n_used, error))
      return FALSE;
  return TRUE;
}

static gboolean
train_epoch (GraftTrainer *t, double *mean_loss, GError **error)
{
  guint n = graft_run_data_n_train (t->data), batch = t->config->batch;
  g_autofree guint *order = graft_trainer_epoch_order (t, t->epoch);
  gboolean augment = t->config->augment_flip || t->config->augment_crop;
  guint view = augment ? t->epoch + 1 : 0;
  guint n_trained = 0;   /* the pictures still there */
  double sum = 0;

  if (t->refill && !refill_cache (t, error))
    return FALSE;
  for (guint start = 0; start < n; start += batch)
    {
      double loss = 0;
      guint n_used;
      if (graft_control_wait (t->control))
        return TRUE;
      if (!train_step (t, order + start, MIN (batch, n - start), view, &loss,
                       &n_used, error))
        return FALSE;
      sum += n_used > 0 ? loss * n_used : 0;
      n_trained += n_used;
      report_progress (t, (double) t->step / MAX (t->total_steps, 1));
    }
  *mean_loss = sum / MAX (n_trained, 1);
  return TRUE;
}

static gboolean
validate (GraftTrainer *t, GraftEpochReport *r, GError **error)
{
  guint n = graft_run_data_n_val (t->data), batch = t->config->batch;
  const guint *val = graft_run_data_val (t->data);
  guint k = t->head.n_classes, correct = 0;
  g_autofree guint *per_class = g_new0 (guint, k);
  g_autofree gf_real *probs = g_new (gf_real, batch * k);
  g_autofree int32_t *labels = g_new (int32_t, batch);
  g_autofree guint *used = g_new (guint, batch);
  guint n_validated = 0;   /* the pictures still there */
  GfError gf_error = { 0 };
  double sum = 0;

  r->n_classes = k;
  r->confusion = g_new0 (guint, k * k);
  r->class_accuracy = g_new0 (double, k);
  for (guint start = 0; start < n; start += batch)
    {
      guint m;
      GfStatus status;
      if (!fill_part (t, val + start, MIN (batch, n - start), 0, used, &m,
                      error))
        return FALSE;
      if (m == 0)
        continue;
      n_validated += m;
      for (guint i = 0; i < m; i++)
        labels[i] = (int32_t) graft_run_data_label (t->data, used[i]);
      status = gf_graph_forward (t->part, m, GF_GRAPH_INFER, &gf_error);
      if (status != GF_OK)
        return fail_engine (error, status, &gf_error);
      sum += batch_loss (t, labels, m, probs, NULL) * m;
      for (guint i = 0; i < m; i++)
        {
          guint p = predicted_class (t, probs, i);
          r->confusion[labels[i] * k + p]++;
          per_class[labels[i]]++;
          correct += p == (guint) labels[i];
        }
    }
  for (guint c = 0; c < k; c++)
    r->class_accuracy[c] = per_class[c]
      ? (double) r->confusion[c * k + c] / per_class[c] : NAN;
  n = n_validated;
  r->val_loss = n ? sum / n : NAN;
  r->val_accuracy = n ? (double) correct / n : NAN;
  /* Finite logits always give a finite loss: these weights are broken,
   * and must not replace the last good checkpoint. */
  if (n > 0 && !isfinite (r->val_loss))
    return fail_numeric (t, error, "the validation loss became %s in epoch "
                         "%u; try a lower learning rate (the last good "
                         "checkpoint is kept)",
                         isnan (r->val_loss) ? "NaN" : "infinite",
                         t->epoch + 1);
  return TRUE;
}

/* ---- Checkpoints ------------------------------------------------------------ */

#define CHECKPOINT_FILE "checkpoint.safetensors"
#define BEST_FILE "best.safetensors"
#define OPTIMIZER_STATE "optimizer.state"
#define OPTIMIZER_STEPS "optimizer.steps"

/* Every weight and statistic of the trainable part, by name. */
static GArray *
part_views (GraftTrainer *t)
{
  GArray *views = g_array_new (FALSE, TRUE, sizeof (GraftTensorView));

  for (size_t i = 0; i < gf_graph_n_tensors (t->part); i++)
    {
      GfTensorKind kind = gf_graph_tensor_kind (t->part, (int) i);
      GraftTensorView v = { 0 };
      size_t dims[GF_MAX_DIMS];
      if (kind != GF_TENSOR_PARAM && kind != GF_TENSOR_STATE)
        continue;
      v.name = gf_graph_tensor_name (t->part, (int) i);
      v.dtype = GRAFT_DTYPE_F32;
      v.n_dims = gf_graph_tensor_shape (t->part, (int) i, dims);
      for (guint d = 0; d < v.n_dims; d++)
        v.shape[d] = dims[d];
      v.data = gf_graph_tensor_data (t->part, (int) i);
      g_array_append_val (views, v);
    }
  return views;
}

static void
set_meta (GHashTable *meta, const char *key, guint64 value)
{
  g_hash_table_insert (meta, g_strdup (key),
                       g_strdup_printf ("%" G_GUINT64_FORMAT, value));
}

static gboolean
save_checkpoint (GraftTrainer *t, const char *file, gboolean with_optimizer,
                 GError **error)
{
  g_autoptr (GArray) views = part_views (t);
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash,
                                                       g_str_equal, g_free,
                                                       g_free);
  g_autofree char *path = g_build_filename (t->run_dir, file, NULL);
  g_autofree gint64 *steps = g_new (gint64, MAX (t->n_groups, 1));
  GraftTensorView state = { OPTIMIZER_STATE, GRAFT_DTYPE_F32, 1 };
  GraftTensorView step_view = { OPTIMIZER_STEPS, GRAFT_DTYPE_I64, 1 };
  char number[G_ASCII_DTOSTR_BUF_SIZE];

  set_meta (meta, "epoch", t->epoch);
  set_meta (meta, "step", t->step);
  set_meta (meta, "frozen_blocks", t->n_frozen);
  set_meta (meta, "stage_start_step", t->stage_start_step);
  set_meta (meta, "plateaus", t->plateaus);
  g_hash_table_insert (meta, g_strdup ("stage_before"),
                       g_strdup (g_ascii_dtostr (number, sizeof number,
                                                 t->stage_before)));
  if (with_optimizer)
    {
      state.shape[0] = gf_optimizer_state_count (&t->optimizer);
      state.data = t->optimizer.state;
      for (size_t g = 0; g < t->n_groups; g++)
        steps[g] = (gint64) t->groups[g].step;
      step_view.shape[0] = t->n_groups;
      step_view.data = steps;
      g_array_append_val (views, state);
      g_array_append_val (views, step_view);
    }
  return graft_safetensors_write (path, (GraftTensorView *) views->data,
                                  views->len, meta, error);
}

/* Loads every weight of the part that the file holds. */
static gboolean
load_weights (GraftTrainer *t, GraftSafetensors *st, GError **error)
{
  for (size_t i = 0; i < gf_graph_n_tensors (t->part); i++)
    {
      GfTensorKind kind = gf_graph_tensor_kind (t->part, (int) i);
      size_t count = gf_graph_tensor_count (t->part, (int) i);
      size_t dims[GF_MAX_DIMS];
      gsize shape[GRAFT_TENSOR_MAX_DIMS];
      guint n_dims;
      const float *values;
      if (kind != GF_TENSOR_PARAM && kind != GF_TENSOR_STATE)
        continue;
      /* Shapes, not counts: a transposed matrix has as many elements. */
      n_dims = (guint) gf_graph_tensor_shape (t->part, (int) i, dims);
      for (guint d = 0; d < n_dims; d++)
        shape[d] = dims[d];
      values = graft_safetensors_get_f32_shaped (st, gf_graph_tensor_name
                                                 (t->part, (int) i), n_dims,
                                                 shape, error);
      if (values == NULL)
        return FALSE;
      memcpy (gf_graph_tensor_data (t->part, (int) i), values,
              count * sizeof (float));
    }
  return TRUE;
}

/* A counter from a checkpoint's metadata, which may have been damaged
 * or edited: decimal digits, at most @max; @fallback when absent (and
 * @fallback is not G_MAXUINT64, which makes the key required). */
static gboolean
get_meta (GraftSafetensors *st, const char *key, guint64 max,
          guint64 fallback, guint64 *value, GError **error)
{
  const char *text = g_hash_table_lookup (graft_safetensors_get_metadata (st),
                                          key);
  g_autoptr (GError) local = NULL;

  if (text == NULL && fallback != G_MAXUINT64)
    {
      *value = fallback;
      return TRUE;
    }
  if (text != NULL
      && g_ascii_string_to_unsigned (text, 10, 0, max, value, &local))
    return TRUE;
  g_set_error (error, GRAFT_SAFETENSORS_ERROR, GRAFT_SAFETENSORS_ERROR_HEADER,
               "%s is %s%s%s, not a count up to %" G_GUINT64_FORMAT, key,
               text != NULL ? "'" : "missing", text != NULL ? text : "",
               text != NULL ? "'" : "", max);
  return FALSE;
}

/* INFINITY when absent, as before a first stage. */
static gboolean
get_meta_double (GraftSafetensors *st, const char *key, double *value,
                 GError **error)
{
  const char *text = g_hash_table_lookup (graft_safetensors_get_metadata (st),
                                          key);
  char *end = NULL;

  *value = INFINITY;
  if (text == NULL)
    return TRUE;
  *value = g_ascii_strtod (text, &end);
  if (end != text && *end == '\0' && !isnan (*value) && *value >= 0)
    return TRUE;
  g_set_error (error, GRAFT_SAFETENSORS_ERROR, GRAFT_SAFETENSORS_ERROR_HEADER,
               "%s is '%s', not a loss", key, text);
  return FALSE;
}

static gboolean
load_optimizer (GraftTrainer *t, GraftSafetensors *st, GError **error)
{
  size_t count = gf_optimizer_state_count (&t->optimizer);
  const float *state = graft_safetensors_get_f32 (st, OPTIMIZER_STATE, count,
                                                  error);
  const GraftTensorView *steps = graft_safetensors_lookup (st,
                                                           OPTIMIZER_STEPS);

  if (state == NULL)
    return FALSE;
  if (steps == NULL || steps->dtype != GRAFT_DTYPE_I64 || steps->n_dims != 1
      || steps->shape[0] != t->n_groups)
    {
      g_set_error_literal (error, GRAFT_SAFETENSORS_ERROR,
                           GRAFT_SAFETENSORS_ERROR_SHAPE,
                           "the checkpoint's optimizer does not match the "
                           "run");
      return FALSE;
    }
  memcpy (t->optimizer.state, state, count * sizeof (float));
  for (size_t g = 0; g < t->n_groups; g++)
    t->groups[g].step = (guint64) ((const gint64 *) steps->data)[g];
  return TRUE;
}

/* ---- Epochs, stages, modes ---------------------------------------------------- */

typedef struct
{
  double best_loss;
  guint best_epoch;
  guint since_best;
  gboolean stopped;        /* by the user */
  char *stop_reason;       /* why training ended early, if it did */
} Outcome;

/* FALSE when best.safetensors cannot be written: the run then fails
 * with the reason, rather than export another epoch's weights later. */
static gboolean
record_epoch (GraftTrainer *t, GraftEpochReport *r, Outcome *o, GError **error)
{
  GraftEvent *e;

  graft_run_history_add_epoch (t->history, r);
  if (isfinite (r->val_loss) && (o->best_epoch == 0
                                 || r->val_loss < o->best_loss))
    {
      o->best_loss = r->val_loss;
      o->best_epoch = r->epoch;
      o->since_best = 0;
      if (!save_checkpoint (t, BEST_FILE, FALSE, error))
        return FALSE;
    }
  else
    o->since_best++;
  e = event_new (GRAFT_EVENT_EPOCH);
  graft_run_history_set_best (t->history, o->best_epoch);
  e->report = graft_epoch_report_copy (r);
  e->epoch = r->epoch;
  emit (t, e);
  if (o->best_epoch == r->epoch)
    {
      g_autofree char *best = g_strdup_printf ("epoch %u: best validation "
                                               "loss so far, %.4g", r->epoch,
                                               r->val_loss);
      emit_notice (t, GRAFT_RUN_NOTICE_BEST_EPOCH, best);
    }
  return TRUE;
}

/* Files after an epoch: run.json first, then the checkpoint, so a crash
 * between them leaves a checkpoint no newer than the history. */
static gboolean
write_epoch_files (GraftTrainer *t, GError **error)
{
  g_autofree char *path = g_build_filename (t->run_dir, CHECKPOINT_FILE, NULL);
  GraftEvent *e;

  if (!graft_run_files_write (t->run_dir, t->config,
                              graft_run_data_describe (t->data), t->history,
                              "running", NULL, error)
      || !save_checkpoint (t, CHECKPOINT_FILE, TRUE, error))
    return FALSE;
  e = event_new (GRAFT_EVENT_CHECKPOINT);
  e->epoch = t->epoch;
  e->path = g_steal_pointer (&path);
  emit (t, e);
  return TRUE;
}

/* A pass the user stops ends early with GF_ERR_INTERRUPTED: that is a
 * stop, not a failure.  Returns what run_epochs () should. */
static gboolean
stopped_in_pass (GraftTrainer *t, Outcome *o, GError **error)
{
  if (error == NULL
      || !g_error_matches (*error, GRAFT_ENGINE_ERROR, GF_ERR_INTERRUPTED)
      || !graft_control_wait (t->control))
    return FALSE;
  g_clear_error (error);
  o->stopped = TRUE;
  return TRUE;
}

/* Trains until @last_epoch (or early stopping); TRUE unless it failed. */
static gboolean
run_epochs (GraftTrainer *t, guint last_epoch, gboolean early_stop, Outcome *o,
            GError **error)
{
  while (t->epoch < last_epoch)
    {
      g_autoptr (GraftEpochReport) r = g_new0 (GraftEpochReport, 1);
      gint64 start = g_get_monotonic_time ();
      if (!train_epoch (t, &r->train_loss, error))
        return stopped_in_pass (t, o, error);
      if ((o->stopped = graft_control_wait (t->control)))
        return TRUE;
      if (!validate (t, r, error))
        return stopped_in_pass (t, o, error);
      t->epoch++;
      r->epoch = t->epoch;
      r->step = t->step;
      r->seconds = (g_get_monotonic_time () - start) / 1e6;
      if (!record_epoch (t, r, o, error) || !write_epoch_files (t, error))
        return FALSE;
      if (early_stop && t->config->patience > 0
          && o->since_best >= t->config->patience)
        {
          o->stop_reason = g_strdup_printf ("no better validation loss for "
                                            "%u epochs", o->since_best);
          emit_notice (t, GRAFT_RUN_NOTICE_EARLY_STOP, o->stop_reason);
          return TRUE;
        }
    }
  return TRUE;
}

static void
emit_stage (GraftTrainer *t, const char *block, const char *reason)
{
  GraftEvent *e = event_new (GRAFT_EVENT_STAGE);

  graft_run_history_add_stage (t->history, t->epoch, t->step, block, reason);
  e->epoch = t->epoch;
  e->step = t->step;
  e->block = g_strdup (block);
  e->reason = g_strdup (reason);
  emit (t, e);
}

static size_t
finetune_frozen (GraftTrainer *t)
{
  int unfreeze = t->config->unfreeze;

  if (unfreeze == GRAFT_UNFREEZE_ALL || (size_t) unfreeze >= t->n_blocks)
    return 0;
  return t->n_blocks - (size_t) unfreeze;
}

/* What run.json says trains: the stage the run is in, not one an export
 * goes back to for its best weights. */
static void
record_trainable (GraftTrainer *t)
{
  guint64 n = 0;

  for (size_t g = 0; g < t->n_groups; g++)
    n += t->groups[g].count;
  graft_run_history_set_trainable (t->history, n);
}

/* The seed's procedure: the head first, then one more block from the end
 * per stage, until the first block is in or the validation loss stops
 * falling by more than the tolerance. */
static gboolean
run_progressive (GraftTrainer *t, Outcome *o, GError **error)
{
  const GraftRunConfig *c = t->config;
  guint cap = c->epochs > 0 ? c->epochs : G_MAXUINT;

  while (!o->stopped && t->epoch < cap)
    {
      /* From where the stage began, not from now: a resumed run may
       * come back in the middle of one. */
      guint first = t->stage_start_step / graft_trainer_steps_per_epoch (t);
      guint stage_end = MIN (cap, first + c->stage_epochs);
      if (!run_epochs (t, stage_end, FALSE, o, error))
        return FALSE;
      if (o->stopped || t->n_frozen == 0 || t->epoch >= cap)
        break;
      if (isfinite (t->stage_before)
          && !(o->best_loss < t->stage_before * (1.0 - c->plateau_tolerance)))
        t->plateaus++;
      else
        t->plateaus = 0;
      if (t->plateaus >= c->plateau_patience)
        {
          o->stop_reason = g_strdup_printf ("validation loss plateaued "
                                            "(less than %.1f %% better over "
                                            "a stage)",
                                            100 * c->plateau_tolerance);
          emit_notice (t, GRAFT_RUN_NOTICE_EARLY_STOP, o->stop_reason);
          break;
        }
      t->stage_before = o->best_epoch ? o->best_loss : INFINITY;
      if (!enter_stage (t, t->n_frozen - 1, c->stage_epochs, error))
        return FALSE;
      record_trainable (t);
      emit_stage (t, t->blocks[t->n_frozen].name,
                  "validation loss still falling: unfreeze one more block");
    }
  if (o->stop_reason == NULL && !o->stopped)
    o->stop_reason = g_strdup (t->n_frozen == 0 ? "every block unfrozen"
                               : "epoch limit reached");
  return TRUE;
}

/* ---- Export ----------------------------------------------------------------- */

/* The head alone, from a bottleneck map to probabilities, with the
 * trained weights. */
static GfGraph *
head_graph (GraftTrainer *t, int *in, int *probs, GError **error)
{
  GfGraph *g = gf_graph_new ();
  size_t dims[GF_MAX_DIMS];
  GfRng rng;
  int logits;

  gf_rng_seed (&rng, 0);
  gf_graph_tensor_shape (t->model->graph, t->cut, dims);
  *in = gf_graph_add_input (g, gf_graph_tensor_name (t->model->graph, t->cut),
                            4, dims, NULL);
  logits = graft_head_append (g, *in, cut_channels (t), &t->head, &rng,
                              error);
  *probs = logits < 0 ? -1
    : graft_head_append_probabilities (g, logits, &t->head, error);
  if (*probs < 0 || !compile_and_plan (g, 1, GF_GRAPH_INFER, error))
    return (gf_graph_free (g), NULL);
  gf_graph_copy_params (g, t->part);
  return g;
}

/* The whole model: image to probabilities. */
static GfGraph *
model_graph (GraftTrainer *t, int *in, int *probs, GError **error)
{
  GfError gf_error = { 0 };
  GfRng rng;
  int cut, logits;
  GfGraph *g = gf_graph_extract (t->model->graph, t->model->input, t->cut,
                                 in, &cut, &gf_error);

  if (g == NULL)
    return (fail_engine (error, gf_error.status, &gf_error), NULL);
  gf_rng_seed (&rng, 0);
  logits = graft_head_append (g, cut, cut_channels (t), &t->head, &rng,
                              error);
  *probs = logits < 0 ? -1
    : graft_head_append_probabilities (g, logits, &t->head, error);
  if (*probs < 0)
    return (gf_graph_free (g), NULL);
  gf_graph_set_outputs (g, probs, 1, NULL);
  if (!compile_and_plan (g, 1, GF_GRAPH_INFER, error))
    return (gf_graph_free (g), NULL);
  gf_graph_copy_params (g, t->part);
  return g;
}

static gboolean
save_onnx (GfGraph *g, int in, int out, const char *path,
           const GfMetadataEntry *meta, size_t n_meta, GError **error)
{
  GfOnnxExport what = { in, out, "graft", meta, n_meta };
  GfError gf_error = { 0 };
  GfStatus status = gf_onnx_save (g, &what, path, &gf_error);

  return status == GF_OK || fail_engine (error, status, &gf_error);
}

/* graft.* metadata of an exported model: how to prepare its pictures,
 * its labels, and where it came from. */
static GfMetadataEntry *
export_metadata (GraftTrainer *t, size_t *n)
{
  GfMetadataEntry *meta = NULL;
  g_autofree char *labels = graft_run_data_labels_json (t->data);
  g_autofree char *name = g_strdup_printf ("%s + Graft head",
                                           t->model->name);

  gf_preprocess_to_metadata (&t->model->preprocess, &meta, n, NULL);
  gf_metadata_set (&meta, n, "graft.name", name, NULL);
  gf_metadata_set (&meta, n, "graft.labels", labels, NULL);
  gf_metadata_set (&meta, n, "graft.source", "trained by Graft " GRAFT_VERSION,
                   NULL);
  return meta;
}

static gboolean
save_head_weights (GraftTrainer *t, const char *path, GError **error)
{
  g_autoptr (GArray) all = part_views (t);
  g_autoptr (GArray) head = g_array_new (FALSE, TRUE,
                                         sizeof (GraftTensorView));

  for (guint i = 0; i < all->len; i++)
    if (g_str_has_prefix (g_array_index (all, GraftTensorView, i).name,
                          "head."))
      g_array_append_val (head, g_array_index (all, GraftTensorView, i));
  return graft_safetensors_write (path, (GraftTensorView *) head->data,
                                  head->len, NULL, error);
}

/* A progressive run's best epoch may lie in an earlier stage: its
 * checkpoint then holds that stage's smaller part, and the blocks frozen
 * in it must get back the backbone's own weights, which later stages
 * have trained since.  Rebuilds that stage on those weights. */
static gboolean
restore_best_stage (GraftTrainer *t, GraftSafetensors *st, GError **error)
{
  g_autoptr (GraftBackbone) original = NULL;
  guint64 frozen;

  if (!get_meta (st, "frozen_blocks", t->n_blocks, G_MAXUINT64, &frozen,
                 error))
    return FALSE;
  if (frozen == t->n_frozen)
    return TRUE;
  /* Only a progressive run's earlier stage froze more blocks. */
  if (t->config->mode != GRAFT_RUN_MODE_PROGRESSIVE || frozen < t->n_frozen)
    {
      g_set_error (error, GRAFT_SAFETENSORS_ERROR,
                   GRAFT_SAFETENSORS_ERROR_HEADER,
                   "frozen_blocks is %" G_GUINT64_FORMAT ", which no stage "
                   "of this run had", frozen);
      return FALSE;
    }
  original = graft_backbone_load (t->backbone_path, NULL, error);
  if (original == NULL)
    return FALSE;
  gf_graph_copy_params (t->model->graph,
                        graft_backbone_get_model (original)->graph);
  /* Without a part, enter_stage () keeps the master copy as it is. */
  g_clear_pointer (&t->part, gf_graph_free);
  return enter_stage (t, (size_t) frozen, 1, error);
}

static gboolean
export_all (GraftTrainer *t, GError **error)
{
  g_autofree char *best = g_build_filename (t->run_dir, BEST_FILE, NULL);
  g_autofree char *head_onnx = g_build_filename (t->run_dir, "head.onnx",
                                                 NULL);
  g_autofree char *model_onnx = g_build_filename (t->run_dir, "model.onnx",
                                                  NULL);
  g_autofree char *weights = g_build_filename (t->run_dir, "head.safetensors",
                                               NULL);
  g_autoptr (GraftSafetensors) st = NULL;
  size_t n_meta = 0;
  GfMetadataEntry *meta;
  GfGraph *g;
  int in, probs;
  gboolean ok;

  /* The best epoch's weights, not the last's, are what a user keeps;
   * without a best epoch (no finite validation loss) the last's. */
  if (g_file_test (best, G_FILE_TEST_EXISTS)
      && ((st = graft_safetensors_load (best, error)) == NULL
          || !restore_best_stage (t, st, error)
          || !load_weights (t, st, error)))
    {
      if (st != NULL)
        g_prefix_error (error, "%s: ", best);
      return FALSE;
    }
  meta = export_metadata (t, &n_meta);
  ok = (g = head_graph (t, &in, &probs, error)) != NULL
    && save_onnx (g, in, probs, head_onnx, meta, n_meta, error);
  g_clear_pointer (&g, gf_graph_free);
  ok = ok && (g = model_graph (t, &in, &probs, error)) != NULL
    && save_onnx (g, in, probs, model_onnx, meta, n_meta, error);
  g_clear_pointer (&g, gf_graph_free);
  gf_metadata_free (meta, n_meta);
  return ok && save_head_weights (t, weights, error)
    && graft_run_files_write_head_json (t->run_dir, t->model,
                                        t->backbone_path, t->cut,
                                        &t->head,
                                        graft_run_data_class_names (t->data),
                                        error);
}

/* ---- The run ------------------------------------------------------------------ */

static gboolean
prepare (GraftTrainer *t, GError **error)
{
  const GraftRunConfig *c = t->config;

  gf_engine_set_threads ((int) c->threads);
  if (!graft_run_config_validate (c, error) || !load_backbone (t, error))
    return FALSE;
  t->data = graft_run_data_load (c, &t->model->preprocess, t->control,
                                 error);
  if (t->data == NULL
      || !graft_run_config_check_classes (c, graft_run_data_n_classes
                                          (t->data), error))
    return FALSE;
  t->head.n_classes = graft_run_data_n_classes (t->data);
  t->head.hidden = c->hidden;
  t->head.dropout = c->dropout;
  t->head.sigmoid = c->output == GRAFT_HEAD_OUTPUT_SIGMOID;
  return TRUE;
}

static guint
planned_epochs (GraftTrainer *t)
{
  const GraftRunConfig *c = t->config;
  guint stages = (guint) t->n_blocks + 1;

  if (c->mode != GRAFT_RUN_MODE_PROGRESSIVE)
    return c->epochs;
  return c->epochs > 0 ? MIN (c->epochs, stages * c->stage_epochs)
    : stages * c->stage_epochs;
}

/* A stage's epochs: the stage's own for progressive, else the run's. */
static guint
stage_length (GraftTrainer *t)
{
  return t->config->mode == GRAFT_RUN_MODE_PROGRESSIVE
    ? t->config->stage_epochs : t->config->epochs;
}

/* The stage a fresh run starts in: the mode's trainable part. */
static gboolean
enter_first_stage (GraftTrainer *t, GError **error)
{
  size_t frozen = t->config->mode == GRAFT_RUN_MODE_FINETUNE
    ? finetune_frozen (t) : t->n_blocks;

  return enter_stage (t, frozen, stage_length (t), error);
}

static gboolean
start_fresh (GraftTrainer *t, GError **error)
{
  t->history = graft_run_history_new ();
  t->stage_before = INFINITY;
  if (!enter_first_stage (t, error))
    return FALSE;
  record_trainable (t);
  if (t->config->mode == GRAFT_RUN_MODE_PROGRESSIVE)
    emit_stage (t, "head", "train the head first, the backbone frozen");
  return TRUE;
}

/* One item of the history a resumed run keeps, to the owner. */
static void
replay_item (const GraftStepPoint *step, const GraftEpochReport *report,
             const GraftStageEvent *stage, gpointer data)
{
  GraftTrainer *t = data;
  GraftEvent *e;

  if (step != NULL)
    {
      e = event_new (GRAFT_EVENT_STEP);
      e->step = step->step;
      e->epoch = step->epoch;
      e->loss = step->loss;
      e->lr = step->lr;
      e->seconds = step->seconds;   /* 0: run.json keeps no times */
    }
  else if (report != NULL)
    {
      e = event_new (GRAFT_EVENT_EPOCH);
      e->epoch = report->epoch;
      e->report = graft_epoch_report_copy (report);
    }
  else
    {
      e = event_new (GRAFT_EVENT_STAGE);
      e->epoch = stage->epoch;
      e->step = stage->step;
      e->block = g_strdup (stage->block);
      e->reason = g_strdup (stage->reason);
    }
  e->replayed = TRUE;
  emit (t, e);
}

/* The owner of a resumed run has seen none of its earlier sessions: it
 * gets their history first, so that a view draws the whole curve. */
static void
replay_history (GraftTrainer *t)
{
  g_autofree char *message = g_strdup_printf ("resumed from epoch %u's "
                                              "checkpoint", t->epoch);

  graft_run_history_foreach (t->history, replay_item, t);
  emit_notice (t, GRAFT_RUN_NOTICE_RESUMED, message);
}

/* The frozen blocks a checkpoint may hold for this run's configuration:
 * the mode's one stage, or any stage of a progressive run. */
static gboolean
check_frozen (GraftTrainer *t, guint64 frozen, GError **error)
{
  size_t expected = t->config->mode == GRAFT_RUN_MODE_FINETUNE
    ? finetune_frozen (t) : t->n_blocks;

  if (t->config->mode == GRAFT_RUN_MODE_PROGRESSIVE || frozen == expected)
    return TRUE;
  g_set_error (error, GRAFT_SAFETENSORS_ERROR, GRAFT_SAFETENSORS_ERROR_HEADER,
               "frozen_blocks is %" G_GUINT64_FORMAT ", but the run's "
               "configuration freezes %zu", frozen, expected);
  return FALSE;
}

/* The checkpoint's epoch and step must be an epoch's end that run.json
 * recorded (it is written first), within what the configuration plans. */
static gboolean
check_position (GraftTrainer *t, GError **error)
{
  guint recorded = G_MAXUINT;

  for (guint i = 0; i < graft_run_history_n_epochs (t->history); i++)
    if (graft_run_history_get_epoch (t->history, i)->epoch == t->epoch)
      recorded = graft_run_history_get_epoch (t->history, i)->step;
  if (t->epoch == 0 || t->epoch > planned_epochs (t))
    g_set_error (error, GRAFT_SAFETENSORS_ERROR,
                 GRAFT_SAFETENSORS_ERROR_HEADER,
                 "epoch is %u, but the run plans 1 to %u",
                 t->epoch, planned_epochs (t));
  else if (recorded == G_MAXUINT)
    g_set_error (error, GRAFT_SAFETENSORS_ERROR,
                 GRAFT_SAFETENSORS_ERROR_HEADER,
                 "epoch %u is not in run.json's history",
                 t->epoch);
  else if (recorded != t->step)
    g_set_error (error, GRAFT_SAFETENSORS_ERROR,
                 GRAFT_SAFETENSORS_ERROR_HEADER,
                 "step is %u, but run.json's epoch %u ended at step %u",
                 t->step, t->epoch, recorded);
  return recorded == t->step && t->epoch > 0
    && t->epoch <= planned_epochs (t);
}

/* The counters a checkpoint's metadata holds, checked. */
static gboolean
read_counters (GraftTrainer *t, GraftSafetensors *st, guint64 *frozen,
               GError **error)
{
  guint64 epoch, step, stage_start, plateaus;

  if (!get_meta (st, "epoch", G_MAXUINT, G_MAXUINT64, &epoch, error)
      || !get_meta (st, "step", G_MAXUINT, G_MAXUINT64, &step, error)
      || !get_meta (st, "frozen_blocks", t->n_blocks, G_MAXUINT64, frozen,
                    error)
      || !get_meta (st, "stage_start_step", step, 0, &stage_start, error)
      || !get_meta (st, "plateaus", G_MAXUINT, 0, &plateaus, error)
      || !get_meta_double (st, "stage_before", &t->stage_before, error)
      || !check_frozen (t, *frozen, error))
    return FALSE;
  t->epoch = (guint) epoch;
  t->step = (guint) step;
  t->stage_start_step = (guint) stage_start;
  t->plateaus = (guint) plateaus;
  return check_position (t, error);
}

/* The pictures earlier sessions lost stay in run.json's list: the scan
 * of this one no longer finds them, or refused them. */
static void
keep_earlier_lost (GraftTrainer *t)
{
  g_autofree char *path = g_build_filename (t->run_dir, GRAFT_RUN_JSON, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (!graft_json_load_file (parser, path, NULL))
    return;
  root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    graft_run_data_keep_earlier_lost (t->data, json_object_get_member
                                      (json_node_get_object (root), "data"));
}

/* Back to where the checkpoint left off: same stage, weights, optimizer
 * and counters; the history cut to the checkpoint, so no step is missing
 * or counted twice. */
static gboolean
start_resumed (GraftTrainer *t, Outcome *o, GError **error)
{
  g_autofree char *path = g_build_filename (t->run_dir, CHECKPOINT_FILE, NULL);
  g_autoptr (GraftSafetensors) st = NULL;
  guint stage_start;
  guint64 frozen;

  /* A run stopped or killed before its first epoch ended has no
   * checkpoint: one line that says so, for the CLI and the app. */
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s has no finished epoch to resume from; start the run "
                   "again", t->run_dir);
      return FALSE;
    }
  if ((st = graft_safetensors_load (path, error)) == NULL)
    return FALSE;
  t->history = graft_run_files_read_history (t->run_dir, error);
  if (t->history == NULL)
    return FALSE;
  if (!read_counters (t, st, &frozen, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  graft_run_history_truncate (t->history, t->step, t->epoch);
  keep_earlier_lost (t);
  o->best_epoch = graft_run_history_best (t->history, &o->best_loss);
  o->since_best = o->best_epoch ? t->epoch - o->best_epoch : 0;
  stage_start = t->stage_start_step;
  if (!enter_stage (t, (size_t) frozen, stage_length (t), error))
    return FALSE;
  record_trainable (t);
  t->stage_start_step = stage_start;
  t->refill = TRUE;
  if (!load_weights (t, st, error) || !load_optimizer (t, st, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  replay_history (t);
  return TRUE;
}

static gboolean
train_all (GraftTrainer *t, Outcome *o, GError **error)
{
  t->total_steps = planned_epochs (t) * graft_trainer_steps_per_epoch (t);
  if (t->config->mode == GRAFT_RUN_MODE_PROGRESSIVE)
    return run_progressive (t, o, error);
  return run_epochs (t, t->config->epochs, TRUE, o, error);
}

/* The files of the end; the end's event comes once the folder is free. */
static gboolean
finish (GraftTrainer *t, Outcome *o, GError **error)
{
  graft_run_history_finish (t->history, o->stop_reason,
                            (g_get_monotonic_time () - t->started_us) / 1e6);
  if (!o->stopped && !export_all (t, error))
    return FALSE;
  return graft_run_files_write (t->run_dir, t->config,
                                graft_run_data_describe (t->data), t->history,
                                o->stopped ? "stopped" : "finished", NULL,
                                error);
}

static void
trainer_clear (GraftTrainer *t)
{
  clear_stage (t);
  carry_free (t);
  g_clear_object (&t->backbone);
  g_clear_pointer (&t->backbone_sha256, g_free);
  g_clear_pointer (&t->features, graft_feature_cache_free);
  g_clear_pointer (&t->data, graft_run_data_free);
  g_clear_pointer (&t->history, graft_run_history_free);
}

GraftTrainer *
graft_trainer_new (const GraftRunConfig *config, GraftControl *control,
                   GError **error)
{
  GraftTrainer *t = g_new0 (GraftTrainer, 1);

  t->config = config;
  t->control = control;
  t->started_us = g_get_monotonic_time ();
  if (prepare (t, error) && enter_first_stage (t, error))
    return t;
  graft_trainer_free (t);
  return NULL;
}

void
graft_trainer_free (GraftTrainer *t)
{
  if (t == NULL)
    return;
  trainer_clear (t);
  g_free (t);
}

guint
graft_trainer_n_train (GraftTrainer *t)
{
  return graft_run_data_n_train (t->data);
}

gboolean
graft_trainer_run (const GraftRunConfig *config, const char *run_dir,
                   gboolean resume, GraftControl *control,
                   GraftEventSink sink, gpointer sink_data, GError **error)
{
  GraftTrainer t = { config, run_dir, control, sink, sink_data };
  Outcome o = { INFINITY, 0, 0, FALSE, NULL };
  int lock = -1;
  gboolean ok;

  t.started_us = g_get_monotonic_time ();
  ok = g_mkdir_with_parents (run_dir, 0755) == 0 || (g_set_error
    (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot create %s: %s",
     run_dir, g_strerror (errno)), FALSE);
  /* Held to the end, failures included: two trainers on one folder would
   * overwrite each other's files.  Refused, this one writes nothing. */
  ok = ok && (lock = graft_run_files_lock (run_dir, error)) >= 0;
  ok = ok && prepare (&t, error);
  /* Before the stages: the first stage event of a progressive run comes
   * from start_fresh () and must follow "started". */
  if (ok)
    emit (&t, event_new (GRAFT_EVENT_STARTED));
  ok = ok
    && (resume ? start_resumed (&t, &o, error) : start_fresh (&t, error))
    && train_all (&t, &o, error) && finish (&t, &o, error);
  if (!ok && t.history != NULL)
    graft_run_files_write (run_dir, config, t.data
                           ? graft_run_data_describe (t.data) : NULL,
                           t.history, "failed", (*error)->message, NULL);
  g_free (o.stop_reason);
  trainer_clear (&t);
  /* Released before the end is told: whoever hears it may resume the
   * folder at once. */
  if (lock >= 0)
    close (lock);
  if (ok)
    emit (&t, event_new (o.stopped ? GRAFT_EVENT_STOPPED
                         : GRAFT_EVENT_FINISHED));
  return ok;
}
