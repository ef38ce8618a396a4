/* test-activation.c: every activation kind against closed-form values,
 * PyTorch's derivative at the kinks, finite differences elsewhere, and
 * in-place use. */
#include <math.h>

#include "ops/gf-activation.h"
#include "gf-test-util.h"

#define GRAD_N 240
#define ALIAS_N 64
#define KINK_MAX 2
/* Gradcheck samples stay this many FD steps away from every kink. */
#define KINK_MARGIN_STEPS 5.0

/* Closed-form values are a few roundings away from the kernel's. */
#ifdef GF_REAL_DOUBLE
#define VALUE_RTOL 1e-13
#define VALUE_ATOL 1e-300
#else
#define VALUE_RTOL 1e-6
#define VALUE_ATOL 1e-30
#endif

/* One chosen input with its exact output and PyTorch's derivative. */
typedef struct
{
  double x, y, dydx;
} Point;

typedef struct
{
  const char *name;
  GfActivation act;
  double lo, hi;                /* gradcheck sampling range */
  size_t n_kinks;
  double kinks[KINK_MAX];
  size_t n_points;
  const Point *points;
} ActCase;

#define POINTS(p) G_N_ELEMENTS (p), p

/* σ(x) and σ(x)(1 − σ(x)), to 20 digits. */
#define SIG_M30 9.3576229688392989538e-14
#define SIG_D_M30 9.3576229688384233028e-14
#define SIG_M2 0.11920292202211755594
#define SIG_2 0.88079707797788244406
#define SIG_D_2 0.10499358540350651735

static const Point identity_points[] = {
  { -1000, -1000, 1 }, { 0, 0, 1 }, { 2.5, 2.5, 1 }, { 1000, 1000, 1 },
};
static const Point relu_points[] = {
  { -1000, 0, 0 }, { -1, 0, 0 }, { 0, 0, 0 }, { 0.5, 0.5, 1 },
  { 1000, 1000, 1 },
};
/* Relu6 as ONNX writes it; torch.clamp's gradient is 1 at both ends. */
static const Point relu6_points[] = {
  { -1000, 0, 0 }, { -1, 0, 0 }, { 0, 0, 1 }, { 3, 3, 1 }, { 6, 6, 1 },
  { 7, 6, 0 }, { 1000, 6, 0 },
};
static const Point clip_points[] = {
  { -1.5, -1, 0 }, { -1, -1, 1 }, { 0.25, 0.25, 1 }, { 2, 2, 1 },
  { 2.5, 2, 0 },
};
static const Point leaky_points[] = {
  { -1000, -100, 0.1 }, { -2, -0.2, 0.1 }, { 0, 0, 0.1 }, { 3, 3, 1 },
  { 1000, 1000, 1 },
};
static const Point sigmoid_points[] = {
  { -1000, 0, 0 }, { -30, SIG_M30, SIG_D_M30 }, { -2, SIG_M2, SIG_D_2 },
  { 0, 0.5, 0.25 }, { 2, SIG_2, SIG_D_2 }, { 1000, 1, 0 },
};
/* ONNX's default HardSigmoid: kinks at x = ±2.5. */
static const Point hard_sigmoid_points[] = {
  { -1000, 0, 0 }, { -3, 0, 0 }, { -2.5, 0, 0 }, { 0, 0.5, 0.2 },
  { 1, 0.7, 0.2 }, { 2.5, 1, 0 }, { 1000, 1, 0 },
};
/* torch.nn.Hardsigmoid: kinks at x = ±3, derivative 0 at both. */
static const Point hard_sigmoid_torch_points[] = {
  { -4, 0, 0 }, { -3, 0, 0 }, { 0, 0.5, 1.0 / 6 }, { 1.5, 0.75, 1.0 / 6 },
  { 3, 1, 0 }, { 4, 1, 0 },
};
static const Point hard_swish_points[] = {
  { -1000, 0, 0 }, { -4, 0, 0 }, { -3, 0, 0 }, { -1.5, -0.375, 0 },
  { 0, 0, 0.5 }, { 1, 2.0 / 3, 5.0 / 6 }, { 3, 3, 1 }, { 4, 4, 1 },
  { 1000, 1000, 1 },
};

static const ActCase act_cases[] = {
  { "identity", { GF_ACT_IDENTITY, 0, 0 }, -4, 4, 0, { 0 },
    POINTS (identity_points) },
  { "relu", { GF_ACT_RELU, 0, 0 }, -4, 4, 1, { 0 }, POINTS (relu_points) },
  { "relu6", { GF_ACT_CLIP, 0, 6 }, -2, 8, 2, { 0, 6 },
    POINTS (relu6_points) },
  { "clip", { GF_ACT_CLIP, -1, 2 }, -3, 4, 2, { -1, 2 },
    POINTS (clip_points) },
  { "leaky-relu", { GF_ACT_LEAKY_RELU, 0.1, 0 }, -4, 4, 1, { 0 },
    POINTS (leaky_points) },
  { "sigmoid", { GF_ACT_SIGMOID, 0, 0 }, -6, 6, 0, { 0 },
    POINTS (sigmoid_points) },
  { "hard-sigmoid", { GF_ACT_HARD_SIGMOID, 0.2, 0.5 }, -4, 4, 2,
    { -2.5, 2.5 }, POINTS (hard_sigmoid_points) },
  { "hard-sigmoid-torch", { GF_ACT_HARD_SIGMOID, 1.0 / 6, 0.5 }, -5, 5, 2,
    { -3, 3 }, POINTS (hard_sigmoid_torch_points) },
  { "hard-swish", { GF_ACT_HARD_SWISH, 0, 0 }, -5, 5, 2, { -3, 3 },
    POINTS (hard_swish_points) },
};

/* Uniform in [lo, hi], redrawn while within @margin of a kink. */
static void
fill_away_from_kinks (GfRng *rng, const ActCase *c, gf_real *x, size_t n,
                      double margin)
{
  for (size_t i = 0; i < n; i++)
    {
      gboolean near;

      do
        {
          gf_test_fill_uniform (rng, x + i, 1, c->lo, c->hi);
          near = FALSE;
          for (size_t k = 0; k < c->n_kinks; k++)
            near = near || fabs ((double) x[i] - c->kinks[k]) < margin;
        }
      while (near);
    }
}

static void
test_forward_values (gconstpointer data)
{
  const ActCase *c = data;
  size_t n = c->n_points;
  g_autofree gf_real *x = gf_test_new (n);
  g_autofree gf_real *y = gf_test_new (n);
  g_autofree gf_real *want = gf_test_new (n);

  for (size_t i = 0; i < n; i++)
    {
      x[i] = (gf_real) c->points[i].x;
      want[i] = (gf_real) c->points[i].y;
    }
  gf_activation_forward (&c->act, n, x, y);
  gf_test_assert_close (c->name, y, want, n, VALUE_RTOL, VALUE_ATOL);
}

/* At the chosen points, kinks included: dx = dy · PyTorch's derivative. */
static void
test_backward_points (gconstpointer data)
{
  const ActCase *c = data;
  size_t n = c->n_points;
  g_autofree gf_real *x = gf_test_new (n);
  g_autofree gf_real *y = gf_test_new (n);
  g_autofree gf_real *dy = gf_test_new (n);
  g_autofree gf_real *dx = gf_test_new (n);
  g_autofree gf_real *want = gf_test_new (n);

  for (size_t i = 0; i < n; i++)
    {
      x[i] = (gf_real) c->points[i].x;
      dy[i] = (gf_real) (1.5 + 0.25 * (double) i);
      want[i] = (gf_real) (c->points[i].dydx * (double) dy[i]);
    }
  gf_activation_forward (&c->act, n, x, y);
  gf_activation_backward (&c->act, n, x, y, dy, dx);
  gf_test_assert_close (c->name, dx, want, n, VALUE_RTOL, VALUE_ATOL);
}

typedef struct
{
  const GfActivation *act;
  size_t n;
  gf_real *x, *y, *r;
} ActLoss;

static double
act_loss (void *user_data)
{
  ActLoss *l = user_data;

  gf_activation_forward (l->act, l->n, l->x, l->y);
  return gf_test_dot (l->r, l->y, l->n);
}

static void
test_backward_gradcheck (gconstpointer data)
{
  const ActCase *c = data;
  g_autofree gf_real *x = gf_test_new (GRAD_N);
  g_autofree gf_real *y = gf_test_new (GRAD_N);
  g_autofree gf_real *r = gf_test_new (GRAD_N);
  g_autofree gf_real *dx = gf_test_new (GRAD_N);
  ActLoss loss = { &c->act, GRAD_N, x, y, r };
  GfRng rng;

  gf_rng_seed (&rng, 17);
  fill_away_from_kinks (&rng, c, x, GRAD_N,
                        KINK_MARGIN_STEPS * gf_test_tolerance ()->eps);
  gf_test_fill_uniform (&rng, r, GRAD_N, -1, 1);
  gf_activation_forward (&c->act, GRAD_N, x, y);
  gf_activation_backward (&c->act, GRAD_N, x, y, r, dx);
  gf_test_gradcheck (c->name, x, GRAD_N, dx, act_loss, &loss, NULL);
}

/* Inputs spanning the kinks, reused by the aliasing tests. */
static void
fill_alias_inputs (const ActCase *c, gf_real *x, gf_real *dy)
{
  GfRng rng;

  gf_rng_seed (&rng, 23);
  gf_test_fill_uniform (&rng, x, ALIAS_N, c->lo, c->hi);
  gf_test_fill_uniform (&rng, dy, ALIAS_N, -1, 1);
  for (size_t k = 0; k < c->n_kinks; k++)
    x[k] = (gf_real) c->kinks[k];
}

static void
test_forward_in_place (gconstpointer data)
{
  const ActCase *c = data;
  g_autofree gf_real *x = gf_test_new (ALIAS_N);
  g_autofree gf_real *dy = gf_test_new (ALIAS_N);
  g_autofree gf_real *y = gf_test_new (ALIAS_N);

  fill_alias_inputs (c, x, dy);
  gf_activation_forward (&c->act, ALIAS_N, x, y);
  gf_activation_forward (&c->act, ALIAS_N, x, x);
  gf_test_assert_close (c->name, x, y, ALIAS_N, 0, 0);
}

static void
test_backward_in_place (gconstpointer data)
{
  const ActCase *c = data;
  g_autofree gf_real *x = gf_test_new (ALIAS_N);
  g_autofree gf_real *y = gf_test_new (ALIAS_N);
  g_autofree gf_real *dy = gf_test_new (ALIAS_N);
  g_autofree gf_real *dx = gf_test_new (ALIAS_N);

  fill_alias_inputs (c, x, dy);
  gf_activation_forward (&c->act, ALIAS_N, x, y);
  gf_activation_backward (&c->act, ALIAS_N, x, y, dy, dx);
  gf_activation_backward (&c->act, ALIAS_N, x, y, dy, dy);
  gf_test_assert_close (c->name, dy, dx, ALIAS_N, 0, 0);
}

/* Large |x| must neither overflow nor produce NaN in either precision. */
static void
test_sigmoid_extremes (void)
{
  const GfActivation act = { GF_ACT_SIGMOID, 0, 0 };
  const gf_real x[] = { -1e30f, -1000, -100, -88.8f, 88.8f, 100, 1000, 1e30f };
  gf_real y[G_N_ELEMENTS (x)], dx[G_N_ELEMENTS (x)], dy[G_N_ELEMENTS (x)];

  for (size_t i = 0; i < G_N_ELEMENTS (x); i++)
    dy[i] = 1;
  gf_activation_forward (&act, G_N_ELEMENTS (x), x, y);
  gf_activation_backward (&act, G_N_ELEMENTS (x), x, y, dy, dx);
  for (size_t i = 0; i < G_N_ELEMENTS (x); i++)
    {
      g_assert_true (isfinite (y[i]) && isfinite (dx[i]));
      g_assert_cmpfloat (y[i], >=, 0);
      g_assert_cmpfloat (y[i], <=, 1);
      g_assert_cmpfloat (dx[i], >=, 0);
      g_assert_cmpfloat (fabs (y[i] - (x[i] > 0 ? 1 : 0)), <, 1e-30);
    }
}

/* NaN in, NaN out: a diverged network must not look healthy. */
static void
test_nan_propagates (gconstpointer data)
{
  const ActCase *c = data;
  gf_real x = (gf_real) NAN, y = 0;

  gf_activation_forward (&c->act, 1, &x, &y);
  g_assert_true (isnan (y));
}

static void
add_case_tests (const ActCase *c)
{
  static const struct
  {
    const char *suffix;
    GTestDataFunc func;
  } kinds[] = {
    { "forward/values", test_forward_values },
    { "forward/in-place", test_forward_in_place },
    { "forward/nan", test_nan_propagates },
    { "backward/points", test_backward_points },
    { "backward/gradcheck", test_backward_gradcheck },
    { "backward/in-place", test_backward_in_place },
  };

  for (size_t k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/activation/%s/%s",
                                               c->name, kinds[k].suffix);
      g_test_add_data_func (path, c, kinds[k].func);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (act_cases); i++)
    add_case_tests (&act_cases[i]);
  g_test_add_func ("/engine/activation/sigmoid/forward/extremes",
                   test_sigmoid_extremes);
  return g_test_run ();
}
