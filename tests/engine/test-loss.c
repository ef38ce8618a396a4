/* test-loss.c: softmax cross-entropy and sigmoid BCE against PyTorch's
 * values, their gradients against central differences, and their
 * behaviour at extreme logits.
 *
 * The expected literals came from PyTorch 1.13 in float64:
 * torch.nn.functional.cross_entropy (with weight= or label_smoothing=) and
 * binary_cross_entropy_with_logits; the weighted BCE mean as
 * reduction='sum' divided by the sum of the per-example weights.
 */
#include <math.h>
#include <stdbool.h>

#include "ops/gf-loss.h"
#include "gf-test-util.h"

/* Forward values computed in float32 are good to a few ulps of the sums. */
#ifdef GF_REAL_DOUBLE
#define VALUE_RTOL 1e-12
#else
#define VALUE_RTOL 2e-6
#endif

#define CE_N 3
#define CE_K 4
#define CE_SMOOTHING 0.1

static const gf_real ce_logits[CE_N * CE_K] = {
  1.5, -0.5, 0.25, 2.0,
  -1.0, 0.0, 3.0, 0.5,
  0.75, 0.75, -2.0, 1.25,
};
static const int32_t ce_labels[CE_N] = { 3, 0, 2 };
static const gf_real ce_weights[CE_K] = { 0.5, 2.0, 1.5, 1.0 };

#define BCE_N 5
static const gf_real bce_logits[BCE_N] = { 2.5, -1.0, 0.0, -3.5, 4.0 };
static const int32_t bce_labels[BCE_N] = { 1, 0, 1, 1, 0 };
static const gf_real bce_weights[2] = { 0.75, 2.0 };

static void
assert_value (const char *what, double got, double want)
{
  gf_real g = (gf_real) got, w = (gf_real) want;

  gf_test_assert_close (what, &g, &w, 1, VALUE_RTOL, 0.0);
}

static double
ce_forward_fixed (const gf_real *weights, double smoothing, gf_real *probs)
{
  return gf_softmax_cross_entropy_forward (CE_N, CE_K, ce_logits, ce_labels,
                                           weights, smoothing, probs);
}

static void
test_ce_forward_pytorch (void)
{
  /* torch.softmax of ce_logits, row by row. */
  static const gf_real want_probs[CE_N * CE_K] = {
    0.32567334951326105, 0.04407509499899355, 0.09330697684507455,
    0.5369445786426708, 0.015924043349701003, 0.04328603767308635,
    0.8694233079412682, 0.07136661103594455, 0.2693494495361577,
    0.2693494495361577, 0.017218934226050576, 0.444082166701634,
  };
  gf_real probs[CE_N * CE_K];

  assert_value ("plain", ce_forward_fixed (NULL, 0.0, probs),
                2.9411770734665548);
  gf_test_assert_close ("softmax", probs, want_probs, CE_N * CE_K,
                        VALUE_RTOL, 0.0);
  assert_value ("weighted", ce_forward_fixed (ce_weights, 0.0, probs),
                2.9281471604618905);
  assert_value ("smoothing", ce_forward_fixed (NULL, CE_SMOOTHING, probs),
                2.8536770734665549);
}

/* Weights and smoothing together follow the header's definition (each
 * example's smoothed loss weighted by its label's weight), which is not
 * PyTorch's; this value is that formula evaluated in float64. */
static void
test_ce_forward_weighted_smoothing (void)
{
  gf_real probs[CE_N * CE_K];

  assert_value ("weighted smoothing",
                ce_forward_fixed (ce_weights, CE_SMOOTHING, probs),
                2.8312721604618916);
}

/* Equal logits: p = 1/K and the loss is log K, smoothing or not. */
static void
test_ce_forward_uniform (void)
{
  enum { N = 2, K = 5 };
  gf_real logits[N * K] = { 0 }, probs[N * K], want[N * K];
  int32_t labels[N] = { 4, 1 };

  for (size_t i = 0; i < N * K; i++)
    want[i] = (gf_real) (1.0 / K);
  for (double s = 0.0; s <= 0.5; s += 0.25)
    {
      double loss = gf_softmax_cross_entropy_forward (N, K, logits, labels,
                                                      NULL, s, probs);
      assert_value ("log K", loss, log (K));
      gf_test_assert_close ("1/K", probs, want, N * K, VALUE_RTOL, 0.0);
    }
}

static void
test_ce_backward_pytorch (void)
{
  static const gf_real want_smoothing[CE_N * CE_K] = {
    0.10022444983775369, 0.006358364999664516, 0.022768992281691516,
    -0.12935180711910974, -0.30302531888343304, 0.006095345891028783,
    0.2814744359804228, 0.015455537011981513, 0.08144981651205258,
    0.08144981651205258, -0.30259368859131647, 0.13969405556721134,
  };
  static const gf_real want_weighted[CE_N * CE_K] = {
    0.10855778317108701, 0.014691698332997848, 0.031102325615024844,
    -0.15435180711910973, -0.1640126594417165, 0.007214339612181056,
    0.14490388465687803, 0.01189443517265742, 0.13467472476807885,
    0.13467472476807885, -0.4913905328869747, 0.222041083350817,
  };
  gf_real probs[CE_N * CE_K], dlogits[CE_N * CE_K];

  ce_forward_fixed (NULL, CE_SMOOTHING, probs);
  gf_softmax_cross_entropy_backward (CE_N, CE_K, probs, ce_labels, NULL,
                                     CE_SMOOTHING, 1.0, dlogits);
  gf_test_assert_close ("smoothing", dlogits, want_smoothing, CE_N * CE_K,
                        VALUE_RTOL, 1e-7);
  ce_forward_fixed (ce_weights, 0.0, probs);
  gf_softmax_cross_entropy_backward (CE_N, CE_K, probs, ce_labels,
                                     ce_weights, 0.0, 1.0, dlogits);
  gf_test_assert_close ("weighted", dlogits, want_weighted, CE_N * CE_K,
                        VALUE_RTOL, 1e-7);
}

static void
test_bce_forward_pytorch (void)
{
  gf_real probs[BCE_N];

  assert_value ("plain",
                gf_sigmoid_bce_forward (BCE_N, bce_logits, bce_labels, NULL,
                                        probs),
                1.7266397897122296);
  for (size_t i = 0; i < BCE_N; i++)
    assert_value ("sigmoid", probs[i], 1.0 / (1.0 + exp (-bce_logits[i])));
  assert_value ("weighted",
                gf_sigmoid_bce_forward (BCE_N, bce_logits, bce_labels,
                                        bce_weights, probs),
                1.5802844503769673);
}

/* One loss configuration, swept through the gradient checks. */
typedef struct
{
  const char *loss;      /* the path component naming the loss */
  const char *variant;
  bool sigmoid;
  bool weighted;
  double smoothing;
} LossCase;

static const LossCase loss_cases[] = {
  { "softmax-ce", "plain", false, false, 0.0 },
  { "softmax-ce", "weighted", false, true, 0.0 },
  { "softmax-ce", "smoothing", false, false, 0.2 },
  { "softmax-ce", "weighted-smoothing", false, true, 0.2 },
  { "sigmoid-bce", "plain", true, false, 0.0 },
  { "sigmoid-bce", "weighted", true, true, 0.0 },
};

/* A random batch for one LossCase; k is 1 for the sigmoid. */
typedef struct
{
  const LossCase *lc;
  size_t n, k;
  double dloss;
  gf_real *logits, *probs, *weights;
  int32_t *labels;
} LossProblem;

static void
loss_problem_init (LossProblem *lp, const LossCase *lc, uint64_t seed)
{
  enum { BATCH = 6, CLASSES = 7 };
  GfRng rng;
  size_t classes;

  gf_rng_seed (&rng, seed);
  lp->lc = lc;
  lp->n = BATCH;
  lp->k = lc->sigmoid ? 1 : CLASSES;
  lp->dloss = 1.75;   /* not 1, so that the scaling is checked too */
  classes = lc->sigmoid ? 2 : CLASSES;
  lp->logits = gf_test_new (lp->n * lp->k);
  lp->probs = gf_test_new (lp->n * lp->k);
  lp->weights = lc->weighted ? gf_test_new (classes) : NULL;
  lp->labels = g_new (int32_t, lp->n);
  gf_test_fill_uniform (&rng, lp->logits, lp->n * lp->k, -3.0, 3.0);
  if (lp->weights != NULL)
    gf_test_fill_uniform (&rng, lp->weights, classes, 0.25, 2.0);
  for (size_t i = 0; i < lp->n; i++)
    lp->labels[i] = (int32_t) gf_rng_below (&rng, (uint32_t) classes);
}

static void
loss_problem_free (LossProblem *lp)
{
  g_free (lp->logits);
  g_free (lp->probs);
  g_free (lp->weights);
  g_free (lp->labels);
}

static double
loss_problem_forward (void *user_data)
{
  LossProblem *lp = user_data;
  double loss;

  if (lp->lc->sigmoid)
    loss = gf_sigmoid_bce_forward (lp->n, lp->logits, lp->labels,
                                   lp->weights, lp->probs);
  else
    loss = gf_softmax_cross_entropy_forward (lp->n, lp->k, lp->logits,
                                             lp->labels, lp->weights,
                                             lp->lc->smoothing, lp->probs);
  return lp->dloss * loss;
}

static void
loss_problem_backward (LossProblem *lp, gf_real *dlogits)
{
  if (lp->lc->sigmoid)
    gf_sigmoid_bce_backward (lp->n, lp->probs, lp->labels, lp->weights,
                             lp->dloss, dlogits);
  else
    gf_softmax_cross_entropy_backward (lp->n, lp->k, lp->probs, lp->labels,
                                       lp->weights, lp->lc->smoothing,
                                       lp->dloss, dlogits);
}

static void
test_loss_gradcheck (gconstpointer data)
{
  LossProblem lp;
  g_autofree gf_real *dlogits = NULL;

  loss_problem_init (&lp, data, 1234);
  dlogits = gf_test_new (lp.n * lp.k);
  loss_problem_forward (&lp);
  loss_problem_backward (&lp, dlogits);
  gf_test_gradcheck (lp.lc->variant, lp.logits, lp.n * lp.k, dlogits,
                     loss_problem_forward, &lp, NULL);
  loss_problem_free (&lp);
}

/* Backward with dloss = a equals a × backward with dloss = 1. */
static void
test_loss_dloss_scaling (gconstpointer data)
{
  const double scales[] = { 0.0, -2.5, 1e3 };
  LossProblem lp;
  g_autofree gf_real *unit = NULL, *scaled = NULL, *want = NULL;
  size_t total;

  loss_problem_init (&lp, data, 99);
  total = lp.n * lp.k;
  unit = gf_test_new (total);
  scaled = gf_test_new (total);
  want = gf_test_new (total);
  lp.dloss = 1.0;
  loss_problem_forward (&lp);
  loss_problem_backward (&lp, unit);
  for (size_t s = 0; s < G_N_ELEMENTS (scales); s++)
    {
      lp.dloss = scales[s];
      loss_problem_backward (&lp, scaled);
      for (size_t i = 0; i < total; i++)
        want[i] = (gf_real) (scales[s] * unit[i]);
      gf_test_assert_close ("scaled", scaled, want, total, VALUE_RTOL, 0.0);
    }
  loss_problem_free (&lp);
}

static void
assert_all_finite (const char *what, const gf_real *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite (x[i]))
      g_test_fail_printf ("%s[%zu] = %g is not finite", what, i, (double) x[i]);
}

/* ±1000 would overflow a naive exp; the fused forms stay exact. */
static void
test_ce_extreme_logits (void)
{
  enum { N = 2, K = 3 };
  const gf_real logits[N * K] = { 1000, -1000, 0, -1000, -1000, 1000 };
  const int32_t labels[N] = { 1, 2 };
  gf_real probs[N * K], dlogits[N * K];
  double loss;

  /* Row 0: lse = 1000, so −log p_1 = 2000 and mean_j(lse − x_j) = 1000;
   * with s = 0.2, (0.8·2000 + 0.2·1000) = 1800.  Row 1: p_2 = 1, loss
   * 0.2·(1000 − (−1000/3)) = 800/3.  Mean (1800 + 800/3)/2. */
  loss = gf_softmax_cross_entropy_forward (N, K, logits, labels, NULL, 0.2,
                                           probs);
  g_assert_true (isfinite (loss));
  assert_value ("extreme", loss, (1800.0 + 800.0 / 3.0) / 2.0);
  gf_softmax_cross_entropy_backward (N, K, probs, labels, NULL, 0.2, 1.0,
                                     dlogits);
  assert_all_finite ("probs", probs, N * K);
  assert_all_finite ("dlogits", dlogits, N * K);
  /* PyTorch gives 1800 for row 0 alone (label_smoothing=0.2). */
  loss = gf_softmax_cross_entropy_forward (1, K, logits, labels, NULL, 0.2,
                                           probs);
  assert_value ("pytorch row", loss, 1800.0);
}

static void
test_bce_extreme_logits (void)
{
  enum { N = 4 };
  const gf_real logits[N] = { 1000, -1000, 1000, -1000 };
  const int32_t labels[N] = { 0, 1, 1, 0 };
  const gf_real want_dlogits[N] = { 0.25, -0.25, 0.0, 0.0 };
  gf_real probs[N], dlogits[N];
  double loss;

  /* Two examples cost 1000 each, two cost 0 (to below double epsilon). */
  loss = gf_sigmoid_bce_forward (N, logits, labels, NULL, probs);
  assert_value ("extreme", loss, 500.0);
  gf_sigmoid_bce_backward (N, probs, labels, NULL, 1.0, dlogits);
  assert_all_finite ("probs", probs, N);
  gf_test_assert_close ("dlogits", dlogits, want_dlogits, N, 0.0, 0.0);
}

/* All-zero class weights leave nothing to average: 0, not NaN. */
static void
test_ce_zero_weights (void)
{
  const gf_real zeros[CE_K] = { 0 };
  gf_real probs[CE_N * CE_K], dlogits[CE_N * CE_K];

  g_assert_cmpfloat (ce_forward_fixed (zeros, 0.0, probs), ==, 0.0);
  gf_softmax_cross_entropy_backward (CE_N, CE_K, probs, ce_labels, zeros,
                                     0.0, 1.0, dlogits);
  for (size_t i = 0; i < CE_N * CE_K; i++)
    g_assert_cmpfloat (dlogits[i], ==, 0.0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/loss/softmax-ce/forward/pytorch",
                   test_ce_forward_pytorch);
  g_test_add_func ("/engine/loss/softmax-ce/forward/weighted-smoothing",
                   test_ce_forward_weighted_smoothing);
  g_test_add_func ("/engine/loss/softmax-ce/forward/uniform",
                   test_ce_forward_uniform);
  g_test_add_func ("/engine/loss/softmax-ce/backward/pytorch",
                   test_ce_backward_pytorch);
  g_test_add_func ("/engine/loss/softmax-ce/extreme-logits",
                   test_ce_extreme_logits);
  g_test_add_func ("/engine/loss/softmax-ce/zero-weights",
                   test_ce_zero_weights);
  g_test_add_func ("/engine/loss/sigmoid-bce/forward/pytorch",
                   test_bce_forward_pytorch);
  g_test_add_func ("/engine/loss/sigmoid-bce/extreme-logits",
                   test_bce_extreme_logits);
  for (size_t i = 0; i < G_N_ELEMENTS (loss_cases); i++)
    {
      const LossCase *lc = &loss_cases[i];
      g_autofree char *grad_path = NULL, *scale_path = NULL;

      grad_path = g_strdup_printf ("/engine/loss/%s/backward/gradcheck/%s",
                                   lc->loss, lc->variant);
      scale_path = g_strdup_printf ("/engine/loss/%s/backward/dloss-scaling/%s",
                                    lc->loss, lc->variant);

      g_test_add_data_func (grad_path, lc, test_loss_gradcheck);
      g_test_add_data_func (scale_path, lc, test_loss_dloss_scaling);
    }
  return g_test_run ();
}
