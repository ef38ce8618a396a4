/* test-optim.c: SGD, Adam and AdamW against PyTorch's updates, their
 * parameter-group semantics, and the learning-rate schedules.
 *
 * The expected parameters after three steps came from PyTorch 1.13 in
 * float64: torch.optim.SGD/Adam/AdamW on p0 below, with p.grad set to
 * each row of step_grads in turn before optimizer.step().
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gf-optim.h"
#include "gf-test-util.h"

#ifdef GF_REAL_DOUBLE
#define UPDATE_RTOL 1e-12
#else
#define UPDATE_RTOL 1e-6
#endif
#define LR_RTOL 1e-14

#define N_PARAMS 3
#define N_STEPS 3

static const gf_real p0[N_PARAMS] = { 0.5, -1.25, 2.0 };
static const gf_real step_grads[N_STEPS][N_PARAMS] = {
  { 0.25, -0.5, 1.0 },
  { -0.125, 0.75, 0.5 },
  { 0.5, 0.25, -1.5 },
};

typedef struct
{
  const char *path;
  GfOptimizerConfig config;
  double lr, weight_decay;
  gf_real want[N_PARAMS];
} PytorchCase;

#define SGD(m, nest) { .kind = GF_OPTIMIZER_SGD, .momentum = m, .nesterov = nest }
#define ADAM(kind_, b1, b2, eps) \
  { .kind = kind_, .beta1 = b1, .beta2 = b2, .epsilon = eps }

static const PytorchCase pytorch_cases[] = {
  { "/engine/optim/sgd/pytorch/plain", SGD (0.0, false), 0.1, 0.0,
    { 0.4375, -1.2999999999999998, 1.9999999999999998 } },
  { "/engine/optim/sgd/pytorch/plain-weight-decay", SGD (0.0, false),
    0.1, 0.05,
    { 0.43022431249999998, -1.2814673437500002, 1.9713972499999999 } },
  { "/engine/optim/sgd/pytorch/momentum", SGD (0.9, false), 0.1, 0.0,
    { 0.40599999999999997, -1.282, 1.784 } },
  { "/engine/optim/sgd/pytorch/momentum-weight-decay", SGD (0.9, false),
    0.1, 0.05,
    { 0.39244681249999996, -1.2476610937500001, 1.7302872499999999 } },
  { "/engine/optim/sgd/pytorch/nesterov", SGD (0.9, true), 0.1, 0.0,
    { 0.35289999999999999, -1.3288000000000002, 1.8056000000000001 } },
  { "/engine/optim/sgd/pytorch/nesterov-weight-decay", SGD (0.9, true),
    0.1, 0.05,
    { 0.33400825943750001, -1.28013947953125, 1.7318380377499998 } },
  { "/engine/optim/adam/pytorch/default", ADAM (GF_OPTIMIZER_ADAM, 0.9,
                                                0.999, 1e-8), 0.01, 0.0,
    { 0.48075551433456626, -1.2460303622027229, 1.9814979718007359 } },
  { "/engine/optim/adam/pytorch/weight-decay",
    ADAM (GF_OPTIMIZER_ADAM, 0.9, 0.999, 1e-8), 0.01, 0.1,
    { 0.47799669179680326, -1.2418443149396627, 1.9794595743506207 } },
  { "/engine/optim/adam/pytorch/betas-epsilon",
    ADAM (GF_OPTIMIZER_ADAM, 0.8, 0.99, 1e-3), 0.01, 0.0,
    { 0.48104013167379528, -1.2470818671839228, 1.9826129481844093 } },
  { "/engine/optim/adamw/pytorch/weight-decay",
    ADAM (GF_OPTIMIZER_ADAMW, 0.9, 0.999, 1e-8), 0.01, 0.1,
    { 0.47927966720402848, -1.2423016239342006, 1.9755332815968063 } },
};

static void
test_optim_pytorch (gconstpointer data)
{
  const PytorchCase *pc = data;
  GfOptimizer opt;
  GfParamGroup group = {
    .offset = 0, .count = N_PARAMS, .lr_scale = 1.0,
    .weight_decay = pc->weight_decay,
  };
  gf_real params[N_PARAMS];

  g_assert_cmpint (gf_optimizer_init (&opt, &pc->config, N_PARAMS, NULL),
                   ==, GF_OK);
  memcpy (params, p0, sizeof params);
  for (size_t s = 0; s < N_STEPS; s++)
    gf_optimizer_step (&opt, pc->lr, params, step_grads[s], &group, 1);
  g_assert_cmpuint (group.step, ==, N_STEPS);
  gf_test_assert_close (pc->path, params, pc->want, N_PARAMS, UPDATE_RTOL,
                        0.0);
  gf_optimizer_clear (&opt);
}

/* Adam's first step by hand: m̂ = g and v̂ = g², so each parameter moves
 * by lr·g / (|g| + ε), whatever β1 and β2 are. */
static void
test_adam_first_step_by_hand (void)
{
  const GfOptimizerConfig config = ADAM (GF_OPTIMIZER_ADAM, 0.5, 0.75, 0.125);
  const double lr = 0.25;
  GfOptimizer opt;
  GfParamGroup group = { .count = N_PARAMS, .lr_scale = 1.0 };
  gf_real params[N_PARAMS], want[N_PARAMS];

  g_assert_cmpint (gf_optimizer_init (&opt, &config, N_PARAMS, NULL),
                   ==, GF_OK);
  memcpy (params, p0, sizeof params);
  gf_optimizer_step (&opt, lr, params, step_grads[0], &group, 1);
  for (size_t i = 0; i < N_PARAMS; i++)
    {
      double g = step_grads[0][i];
      want[i] = (gf_real) (p0[i] - lr * g / (fabs (g) + config.epsilon));
    }
  gf_test_assert_close ("first step", params, want, N_PARAMS, UPDATE_RTOL,
                        0.0);
  gf_optimizer_clear (&opt);
}

/* Parameter-group tests, swept over the three kinds. */
typedef struct
{
  const char *name;
  GfOptimizerConfig config;
  double lr;
} KindCase;

static const KindCase kind_cases[] = {
  { "sgd", SGD (0.9, true), 0.05 },
  { "adam", ADAM (GF_OPTIMIZER_ADAM, 0.9, 0.999, 1e-8), 0.05 },
  { "adamw", ADAM (GF_OPTIMIZER_ADAMW, 0.9, 0.999, 1e-8), 0.05 },
};

/* A buffer of BUF_LEN parameters with two groups and two frozen gaps:
 *   [0, 2) frozen, [2, 6) group 0, [6, 8) frozen, [8, 11) group 1,
 *   [11, 12) frozen. */
#define BUF_LEN 12

static const GfParamGroup two_groups[2] = {
  { .offset = 2, .count = 4, .lr_scale = 1.0, .weight_decay = 0.01 },
  { .offset = 8, .count = 3, .lr_scale = 0.1, .weight_decay = 0.2 },
};

static bool
in_a_group (size_t i)
{
  for (size_t g = 0; g < G_N_ELEMENTS (two_groups); g++)
    if (i >= two_groups[g].offset
        && i < two_groups[g].offset + two_groups[g].count)
      return true;
  return false;
}

static void
fill_buffers (gf_real *params, gf_real *grads, uint64_t seed)
{
  GfRng rng;

  gf_rng_seed (&rng, seed);
  gf_test_fill_uniform (&rng, params, BUF_LEN, -1.0, 1.0);
  gf_test_fill_away_from_zero (&rng, grads, BUF_LEN, 0.1, 1.0);
}

/* Frozen ranges keep their parameters and state whatever their gradients;
 * each group's step count advances once per step(). */
static void
test_optim_frozen_untouched (gconstpointer data)
{
  const KindCase *kc = data;
  GfOptimizer opt;
  GfParamGroup groups[2];
  gf_real params[BUF_LEN], grads[BUF_LEN], before[BUF_LEN];
  size_t state_count;

  memcpy (groups, two_groups, sizeof groups);
  fill_buffers (params, grads, 5);
  memcpy (before, params, sizeof params);
  g_assert_cmpint (gf_optimizer_init (&opt, &kc->config, BUF_LEN, NULL),
                   ==, GF_OK);
  for (int s = 0; s < N_STEPS; s++)
    gf_optimizer_step (&opt, kc->lr, params, grads, groups, 2);
  state_count = gf_optimizer_state_count (&opt);
  for (size_t i = 0; i < BUF_LEN; i++)
    {
      if (in_a_group (i))
        {
          g_assert_cmpfloat (params[i], !=, before[i]);
          continue;
        }
      g_assert_cmpfloat (params[i], ==, before[i]);
      for (size_t s = i; s < state_count; s += BUF_LEN)
        g_assert_cmpfloat (opt.state[s], ==, 0.0);
    }
  g_assert_cmpuint (groups[0].step, ==, N_STEPS);
  g_assert_cmpuint (groups[1].step, ==, N_STEPS);
  gf_optimizer_clear (&opt);
}

/* Runs N_STEPS steps of one group alone, as group @which of two_groups
 * but with lr_scale 1 and learning rate @lr. */
static void
run_single_group (const KindCase *kc, size_t which, double lr,
                  gf_real *params, const gf_real *grads)
{
  GfOptimizer opt;
  GfParamGroup group = two_groups[which];

  group.lr_scale = 1.0;
  g_assert_cmpint (gf_optimizer_init (&opt, &kc->config, BUF_LEN, NULL),
                   ==, GF_OK);
  for (int s = 0; s < N_STEPS; s++)
    gf_optimizer_step (&opt, lr, params, grads, &group, 1);
  gf_optimizer_clear (&opt);
}

/* A group with lr_scale s updates exactly as a lone group at lr·s does,
 * weight decay included (AdamW's decoupled decay uses the scaled lr). */
static void
test_optim_lr_scale (gconstpointer data)
{
  const KindCase *kc = data;
  GfOptimizer opt;
  GfParamGroup groups[2];
  gf_real params[BUF_LEN], grads[BUF_LEN], want[BUF_LEN];

  memcpy (groups, two_groups, sizeof groups);
  fill_buffers (params, grads, 8);
  memcpy (want, params, sizeof params);
  run_single_group (kc, 0, kc->lr * two_groups[0].lr_scale, want, grads);
  run_single_group (kc, 1, kc->lr * two_groups[1].lr_scale, want, grads);

  g_assert_cmpint (gf_optimizer_init (&opt, &kc->config, BUF_LEN, NULL),
                   ==, GF_OK);
  for (int s = 0; s < N_STEPS; s++)
    gf_optimizer_step (&opt, kc->lr, params, grads, groups, 2);
  gf_test_assert_close ("scaled groups", params, want, BUF_LEN, UPDATE_RTOL,
                        0.0);
  gf_optimizer_clear (&opt);
}

/* One update of @group by a newly made optimizer. */
static void
fresh_first_step (const KindCase *kc, const GfParamGroup *group,
                  gf_real *params, const gf_real *grads)
{
  GfOptimizer opt;
  GfParamGroup fresh = *group;

  fresh.step = 0;
  g_assert_cmpint (gf_optimizer_init (&opt, &kc->config, BUF_LEN, NULL),
                   ==, GF_OK);
  gf_optimizer_step (&opt, kc->lr, params, grads, &fresh, 1);
  gf_optimizer_clear (&opt);
}

/* After reset_group the group's state is zero and its step 0, the other
 * group's state is intact, and the next update is a first update again. */
static void
test_optim_reset_group (gconstpointer data)
{
  const KindCase *kc = data;
  const GfParamGroup *g1 = &two_groups[1];
  GfOptimizer opt;
  GfParamGroup groups[2];
  gf_real params[BUF_LEN], grads[BUF_LEN], fresh[BUF_LEN];
  g_autofree gf_real *saved = NULL;
  size_t state_count;

  memcpy (groups, two_groups, sizeof groups);
  fill_buffers (params, grads, 13);
  g_assert_cmpint (gf_optimizer_init (&opt, &kc->config, BUF_LEN, NULL),
                   ==, GF_OK);
  for (int s = 0; s < N_STEPS; s++)
    gf_optimizer_step (&opt, kc->lr, params, grads, groups, 2);
  state_count = gf_optimizer_state_count (&opt);
  saved = g_memdup2 (opt.state, state_count * sizeof (gf_real));

  gf_optimizer_reset_group (&opt, &groups[1]);
  g_assert_cmpuint (groups[1].step, ==, 0);
  g_assert_cmpuint (groups[0].step, ==, N_STEPS);
  for (size_t s = 0; s < state_count; s++)
    {
      size_t i = s % BUF_LEN;
      bool in_g1 = i >= g1->offset && i < g1->offset + g1->count;

      g_assert_cmpfloat (opt.state[s], ==, in_g1 ? 0.0 : saved[s]);
    }

  /* One step of group 1 from here equals a fresh optimizer's first. */
  memcpy (fresh, params, sizeof params);
  gf_optimizer_step (&opt, kc->lr, params, grads, &groups[1], 1);
  fresh_first_step (kc, g1, fresh, grads);
  gf_test_assert_close ("after reset", params, fresh, BUF_LEN, 0.0, 0.0);
  gf_optimizer_clear (&opt);
}

/* A group that joins after others have stepped (a block unfrozen late)
 * gets a first update from its own step count: for Adam, bias correction
 * with t = 1 rather than the other group's t. */
static void
test_optim_late_group (gconstpointer data)
{
  const KindCase *kc = data;
  GfOptimizer opt;
  GfParamGroup groups[2];
  gf_real params[BUF_LEN], grads[BUF_LEN], want[BUF_LEN];
  const size_t start = two_groups[1].offset, count = two_groups[1].count;

  memcpy (groups, two_groups, sizeof groups);
  fill_buffers (params, grads, 17);
  g_assert_cmpint (gf_optimizer_init (&opt, &kc->config, BUF_LEN, NULL),
                   ==, GF_OK);
  for (int s = 0; s < N_STEPS; s++)
    gf_optimizer_step (&opt, kc->lr, params, grads, &groups[0], 1);
  memcpy (want, params, sizeof params);
  gf_optimizer_step (&opt, kc->lr, params, grads, groups, 2);
  g_assert_cmpuint (groups[0].step, ==, N_STEPS + 1);
  g_assert_cmpuint (groups[1].step, ==, 1);
  fresh_first_step (kc, &two_groups[1], want, grads);
  gf_test_assert_close ("late group", params + start, want + start, count,
                        0.0, 0.0);
  gf_optimizer_clear (&opt);
}

/* f(p) = ½ Σ a_i (p_i − c_i)², gradient a_i (p_i − c_i), minimum 0. */
#define QUAD_N 8
#define QUAD_STEPS 400
#define QUAD_REDUCTION 1e-8

typedef struct
{
  gf_real a[QUAD_N], c[QUAD_N];
} Quadratic;

static double
quadratic_eval (const Quadratic *q, const gf_real *p, gf_real *grad)
{
  double f = 0.0;

  for (size_t i = 0; i < QUAD_N; i++)
    {
      double d = (double) p[i] - q->c[i];

      grad[i] = (gf_real) (q->a[i] * d);
      f += 0.5 * q->a[i] * d * d;
    }
  return f;
}

/* Every kind drives the quadratic (f ≈ 2.3 at p = 0) below 1e-8 of its
 * start under a warmed-up cosine schedule, whose decay also settles
 * Adam's jitter around the minimum. */
static void
test_optim_minimises_quadratic (gconstpointer data)
{
  const KindCase *kc = data;
  const GfSchedule schedule = {
    .kind = GF_SCHEDULE_COSINE, .base_lr = 2.0 * kc->lr,
    .warmup_steps = 10, .total_steps = QUAD_STEPS,
  };
  GfOptimizer opt;
  GfParamGroup group = { .count = QUAD_N, .lr_scale = 1.0 };
  Quadratic q;
  gf_real p[QUAD_N] = { 0 }, grad[QUAD_N];
  double f0, f;
  GfRng rng;

  gf_rng_seed (&rng, 21);
  gf_test_fill_uniform (&rng, q.a, QUAD_N, 0.5, 4.0);
  gf_test_fill_uniform (&rng, q.c, QUAD_N, -1.0, 1.0);
  g_assert_cmpint (gf_optimizer_init (&opt, &kc->config, QUAD_N, NULL),
                   ==, GF_OK);
  f0 = quadratic_eval (&q, p, grad);
  for (size_t s = 0; s < QUAD_STEPS; s++)
    {
      quadratic_eval (&q, p, grad);
      gf_optimizer_step (&opt, gf_schedule_lr (&schedule, s), p, grad,
                         &group, 1);
    }
  f = quadratic_eval (&q, p, grad);
  if (!(f < QUAD_REDUCTION * f0))
    g_test_fail_printf ("%s: f went from %g to %g", kc->name, f0, f);
  gf_optimizer_clear (&opt);
}

static void
assert_init_fails (const GfOptimizerConfig *config, size_t count,
                   GfStatus want)
{
  GfOptimizer opt;
  GfError error = { 0 };

  g_assert_cmpint (gf_optimizer_init (&opt, config, count, &error), ==, want);
  g_assert_cmpint (error.status, ==, want);
  g_assert_cmpuint (strlen (error.message), >, 0);
  g_assert_null (strchr (error.message, '\n'));
  g_assert_null (opt.state);
  gf_optimizer_clear (&opt);   /* safe after a failed init */
}

static void
test_optim_init_rejects (void)
{
  const GfOptimizerConfig bad[] = {
    SGD (0.0, true),     /* Nesterov needs momentum */
    SGD (-0.5, false),
    SGD (NAN, false),
    ADAM (GF_OPTIMIZER_ADAM, 1.0, 0.999, 1e-8),
    ADAM (GF_OPTIMIZER_ADAMW, 0.9, -0.1, 1e-8),
    ADAM (GF_OPTIMIZER_ADAM, 0.9, 0.999, -1e-8),
    ADAM (GF_OPTIMIZER_ADAM, 0.9, 0.999, NAN),
    { .kind = (GfOptimizerKind) 42 },
  };
  const GfOptimizerConfig adam = ADAM (GF_OPTIMIZER_ADAM, 0.9, 0.999, 1e-8);

  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_init_fails (&bad[i], 4, GF_ERR_INVALID);
  /* 2 × count overflows, and count alone exceeds the allocation limit. */
  assert_init_fails (&adam, SIZE_MAX / 2 + 1, GF_ERR_NOMEM);
  assert_init_fails (&adam, GF_ALLOC_LIMIT, GF_ERR_NOMEM);
}

static void
test_optim_state_count (void)
{
  const GfOptimizerConfig sgd = SGD (0.9, false);
  const GfOptimizerConfig adamw = ADAM (GF_OPTIMIZER_ADAMW, 0.9, 0.999, 1e-8);
  GfOptimizer opt;

  g_assert_cmpint (gf_optimizer_init (&opt, &sgd, 10, NULL), ==, GF_OK);
  g_assert_cmpuint (gf_optimizer_state_count (&opt), ==, 10);
  gf_optimizer_clear (&opt);
  g_assert_null (opt.state);
  g_assert_cmpint (gf_optimizer_init (&opt, &adamw, 10, NULL), ==, GF_OK);
  g_assert_cmpuint (gf_optimizer_state_count (&opt), ==, 20);
  gf_optimizer_clear (&opt);
}

static void
assert_lr (const GfSchedule *schedule, size_t step, double want)
{
  double got = gf_schedule_lr (schedule, step);

  if (!(fabs (got - want) <= LR_RTOL * fabs (want) + 1e-300))
    g_test_fail_printf ("lr at step %zu: got %.17g want %.17g",
                        step, got, want);
}

static void
test_schedule_constant (void)
{
  GfSchedule s = { .kind = GF_SCHEDULE_CONSTANT, .base_lr = 0.3 };

  assert_lr (&s, 0, 0.3);
  assert_lr (&s, 1000000, 0.3);
  /* Warm-up over 4 steps: 0.3·1/4, …, 0.3·4/4, then flat. */
  s.warmup_steps = 4;
  assert_lr (&s, 0, 0.075);
  assert_lr (&s, 1, 0.15);
  assert_lr (&s, 3, 0.3);
  assert_lr (&s, 4, 0.3);
  assert_lr (&s, 99, 0.3);
}

static void
test_schedule_step (void)
{
  GfSchedule s = {
    .kind = GF_SCHEDULE_STEP, .base_lr = 0.1, .step_size = 10, .gamma = 0.5,
  };

  assert_lr (&s, 0, 0.1);
  assert_lr (&s, 9, 0.1);
  assert_lr (&s, 10, 0.05);
  assert_lr (&s, 19, 0.05);
  assert_lr (&s, 20, 0.025);
  assert_lr (&s, 35, 0.0125);
  /* With warm-up the decay counts from the end of warm-up. */
  s.warmup_steps = 5;
  assert_lr (&s, 0, 0.02);
  assert_lr (&s, 4, 0.1);
  assert_lr (&s, 14, 0.1);
  assert_lr (&s, 15, 0.05);
  /* step_size 0 means no decay rather than a division by zero. */
  s.step_size = 0;
  assert_lr (&s, 50, 0.1);
}

static void
test_schedule_cosine (void)
{
  GfSchedule s = {
    .kind = GF_SCHEDULE_COSINE, .base_lr = 0.1, .min_lr = 0.001,
    .total_steps = 100,
  };

  assert_lr (&s, 0, 0.1);
  assert_lr (&s, 50, 0.0505);   /* the midpoint (base + min)/2 */
  assert_lr (&s, 25, 0.001 + 0.099 * 0.5 * (1.0 + sqrt (0.5)));
  assert_lr (&s, 100, 0.001);
  assert_lr (&s, 5000, 0.001);
  /* Warm-up of 20: ramp to base, then the cosine over the other 80. */
  s.warmup_steps = 20;
  assert_lr (&s, 0, 0.005);
  assert_lr (&s, 19, 0.1);
  assert_lr (&s, 20, 0.1);
  assert_lr (&s, 60, 0.0505);
  assert_lr (&s, 100, 0.001);
  /* Decreasing throughout the cosine part. */
  for (size_t step = 20; step < 100; step++)
    g_assert_cmpfloat (gf_schedule_lr (&s, step + 1), <,
                       gf_schedule_lr (&s, step));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (pytorch_cases); i++)
    g_test_add_data_func (pytorch_cases[i].path, &pytorch_cases[i],
                          test_optim_pytorch);
  g_test_add_func ("/engine/optim/adam/first-step-by-hand",
                   test_adam_first_step_by_hand);
  for (size_t i = 0; i < G_N_ELEMENTS (kind_cases); i++)
    {
      const KindCase *kc = &kind_cases[i];
      static const struct
      {
        const char *what;
        GTestDataFunc func;
      } tests[] = {
        { "groups/frozen-untouched", test_optim_frozen_untouched },
        { "groups/lr-scale", test_optim_lr_scale },
        { "groups/late-group", test_optim_late_group },
        { "reset-group", test_optim_reset_group },
        { "minimises-quadratic", test_optim_minimises_quadratic },
      };

      for (size_t t = 0; t < G_N_ELEMENTS (tests); t++)
        {
          g_autofree char *path = g_strdup_printf ("/engine/optim/%s/%s",
                                                   kc->name, tests[t].what);
          g_test_add_data_func (path, kc, tests[t].func);
        }
    }
  g_test_add_func ("/engine/optim/init/rejects", test_optim_init_rejects);
  g_test_add_func ("/engine/optim/state-count", test_optim_state_count);
  g_test_add_func ("/engine/optim/schedule/constant", test_schedule_constant);
  g_test_add_func ("/engine/optim/schedule/step", test_schedule_step);
  g_test_add_func ("/engine/optim/schedule/cosine", test_schedule_cosine);
  return g_test_run ();
}
