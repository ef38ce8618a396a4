/* test-batchnorm.c: BatchNormalization against a plain reference, against
 * values from PyTorch, and its backward against central differences, in
 * training and inference modes. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "ops/gf-batchnorm.h"
#include "gf-test-util.h"

#ifdef GF_REAL_DOUBLE
#define FORWARD_RTOL 1e-12
#define FORWARD_ATOL 1e-12
#else
#define FORWARD_RTOL 2e-5
#define FORWARD_ATOL 2e-5
#endif

#define BN_EPSILON 1e-5
#define BN_MOMENTUM 0.9   /* the ONNX default */

typedef struct
{
  const char *name;
  size_t batch, channels, spatial;
} BnCase;

/* Batch 1 with spatial > 1, spatial 1 with batch > 1, odd sizes. */
static const BnCase bn_cases[] = {
  { "n2-c3-s5", 2, 3, 5 },
  { "n1-c3-s7", 1, 3, 7 },
  { "n1-c2-s3", 1, 2, 3 },
  { "n4-c1-s1", 4, 1, 1 },
  { "n3-c5-s4", 3, 5, 4 },
  { "n5-c3-s9", 5, 3, 9 },
};

/* Everything one call needs; x (N, C, S), the rest (C) but y, dy, dx. */
typedef struct
{
  GfBatchNorm bn;
  size_t size;
  gf_real *x, *y, *dy, *dx;
  gf_real *scale, *bias, *running_mean, *running_var;
  gf_real *save_mean, *save_invstd, *dscale, *dbias;
  bool train;
} BnFixture;

static void
bn_fixture_init (BnFixture *f, const BnCase *bc, uint64_t seed)
{
  GfRng rng;
  size_t c = bc->channels;

  gf_rng_seed (&rng, seed);
  f->bn = (GfBatchNorm) { bc->batch, bc->channels, bc->spatial,
                          BN_EPSILON, BN_MOMENTUM };
  f->size = bc->batch * bc->channels * bc->spatial;
  f->x = gf_test_new (f->size);
  f->y = gf_test_new (f->size);
  f->dy = gf_test_new (f->size);
  f->dx = gf_test_new (f->size);
  f->scale = gf_test_new (c);
  f->bias = gf_test_new (c);
  f->running_mean = gf_test_new (c);
  f->running_var = gf_test_new (c);
  f->save_mean = gf_test_new (c);
  f->save_invstd = gf_test_new (c);
  f->dscale = gf_test_new (c);
  f->dbias = gf_test_new (c);
  /* An offset mean checks that nothing assumes centred inputs. */
  gf_test_fill_uniform (&rng, f->x, f->size, -1.5, 2.5);
  gf_test_fill_uniform (&rng, f->dy, f->size, -1.0, 1.0);
  gf_test_fill_away_from_zero (&rng, f->scale, c, 0.5, 1.5);
  gf_test_fill_uniform (&rng, f->bias, c, -1.0, 1.0);
  gf_test_fill_uniform (&rng, f->running_mean, c, -0.5, 0.5);
  gf_test_fill_uniform (&rng, f->running_var, c, 0.5, 2.0);
}

static void
bn_fixture_clear (BnFixture *f)
{
  gf_real **all[] = { &f->x, &f->y, &f->dy, &f->dx, &f->scale, &f->bias,
                      &f->running_mean, &f->running_var, &f->save_mean,
                      &f->save_invstd, &f->dscale, &f->dbias };

  for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
    g_clear_pointer (all[i], g_free);
}

static gf_real
at (const BnFixture *f, const gf_real *t, size_t n, size_t c, size_t s)
{
  return t[(n * f->bn.channels + c) * f->bn.spatial + s];
}

/* The textbook definition, in double: per channel, the biased mean and
 * variance over (N, S). */
static void
reference_moments (const BnFixture *f, size_t c, double *mean, double *var)
{
  size_t count = f->bn.batch * f->bn.spatial;
  double sum = 0.0, sum_sq = 0.0;

  for (size_t n = 0; n < f->bn.batch; n++)
    for (size_t s = 0; s < f->bn.spatial; s++)
      sum += at (f, f->x, n, c, s);
  *mean = sum / count;
  for (size_t n = 0; n < f->bn.batch; n++)
    for (size_t s = 0; s < f->bn.spatial; s++)
      sum_sq += pow (at (f, f->x, n, c, s) - *mean, 2);
  *var = sum_sq / count;
}

/* want (N, C, S) = (x − mean[c]) / sqrt (var[c] + eps) · scale + bias. */
static void
reference_normalise (const BnFixture *f, const double *mean,
                     const double *var, gf_real *want)
{
  for (size_t n = 0; n < f->bn.batch; n++)
    for (size_t c = 0; c < f->bn.channels; c++)
      for (size_t s = 0; s < f->bn.spatial; s++)
        {
          double xhat = (at (f, f->x, n, c, s) - mean[c])
                        / sqrt (var[c] + f->bn.epsilon);
          size_t i = (n * f->bn.channels + c) * f->bn.spatial + s;

          want[i] = (gf_real) (xhat * f->scale[c] + f->bias[c]);
        }
}

/* What one training step should give, per channel (C each): the batch
 * mean and 1/sqrt (var + eps), and the running statistics after the ONNX
 * update with the unbiased variance. */
typedef struct
{
  gf_real *mean, *invstd, *running_mean, *running_var;
} BnStats;

static void
reference_train_stats (const BnFixture *f, double *mean, double *var,
                       BnStats *want)
{
  double count = (double) (f->bn.batch * f->bn.spatial);
  double m = f->bn.momentum;

  for (size_t c = 0; c < f->bn.channels; c++)
    {
      reference_moments (f, c, &mean[c], &var[c]);
      want->mean[c] = (gf_real) mean[c];
      want->invstd[c] = (gf_real) (1.0 / sqrt (var[c] + f->bn.epsilon));
      want->running_mean[c] = (gf_real) (m * f->running_mean[c]
                                         + (1 - m) * mean[c]);
      want->running_var[c] = (gf_real) (m * f->running_var[c]
                                        + (1 - m) * var[c] * count
                                          / (count - 1));
    }
}

static void
test_train_forward (gconstpointer data)
{
  const BnCase *bc = data;
  size_t nc = bc->channels;
  BnFixture f;
  g_autofree double *mean = g_new (double, nc);
  g_autofree double *var = g_new (double, nc);
  g_autofree gf_real *stats = gf_test_new (4 * nc);
  g_autofree gf_real *want = NULL;
  BnStats w = { stats, stats + nc, stats + 2 * nc, stats + 3 * nc };

  bn_fixture_init (&f, bc, 1);
  want = gf_test_new (f.size);
  reference_train_stats (&f, mean, var, &w);
  reference_normalise (&f, mean, var, want);
  gf_batchnorm_forward_train (&f.bn, f.x, f.scale, f.bias, f.running_mean,
                              f.running_var, f.y, f.save_mean, f.save_invstd);
  gf_test_assert_close ("y", f.y, want, f.size, FORWARD_RTOL, FORWARD_ATOL);
  gf_test_assert_close ("save_mean", f.save_mean, w.mean, nc,
                        FORWARD_RTOL, FORWARD_ATOL);
  gf_test_assert_close ("save_invstd", f.save_invstd, w.invstd, nc,
                        FORWARD_RTOL, FORWARD_ATOL);
  gf_test_assert_close ("running_mean", f.running_mean, w.running_mean, nc,
                        FORWARD_RTOL, FORWARD_ATOL);
  gf_test_assert_close ("running_var", f.running_var, w.running_var, nc,
                        FORWARD_RTOL, FORWARD_ATOL);
  bn_fixture_clear (&f);
}

static void
test_infer_forward (gconstpointer data)
{
  const BnCase *bc = data;
  BnFixture f;
  g_autofree double *mean = g_new (double, bc->channels);
  g_autofree double *var = g_new (double, bc->channels);
  g_autofree gf_real *want = NULL;

  bn_fixture_init (&f, bc, 2);
  want = gf_test_new (f.size);
  for (size_t c = 0; c < bc->channels; c++)
    {
      mean[c] = f.running_mean[c];
      var[c] = f.running_var[c];
    }
  gf_batchnorm_forward_infer (&f.bn, f.x, f.scale, f.bias, f.running_mean,
                              f.running_var, f.y);
  reference_normalise (&f, mean, var, want);
  gf_test_assert_close ("y", f.y, want, f.size, FORWARD_RTOL, FORWARD_ATOL);
  bn_fixture_clear (&f);
}

/* Values from torch.nn.functional.batch_norm (training=True,
 * momentum=0.1, eps=1e-5) and its backward, in float64: x (2, 2, 3). */
static const gf_real pt_x[] = { 0.5, -1.0, 2.0, 1.5, 0.25, -0.75,
                                3.0, 1.0, -2.0, 0.0, 0.5, 4.0 };
static const gf_real pt_dy[] = { 1.0, -2.0, 0.5, 0.25, 3.0, -1.0,
                                 -0.5, 1.5, 2.0, -3.0, 0.75, 1.0 };
static const gf_real pt_y[] = {
  0.17618995398022863, -1.152390874375655, 1.5047707823361123,
  0.80962550290389368, 1.2175708538241212, 1.5439271345603034,
  2.390491334573368, 0.61905023009885651, -2.038111426612911,
  1.2991599240081668, 1.1359817836400758, -0.0062651989365616334,
};
static const gf_real pt_dx[] = {
  0.50827066095821238, -2.3000848969969172, 0.21660428608294707,
  0.044897820232596593, -1.0070694738503581, 0.17476563144760748,
  -0.56832033199206711, 1.0015289041579609, 1.1420013777898639,
  0.92017070615504382, -0.24187033778225753, 0.10910565379736757,
};
static const gf_real pt_running_mean[] = { 0.14833333333333334,
                                           -0.088333333333333347 };
static const gf_real pt_running_var[] = { 1.2441666666666666,
                                          2.0816666666666666 };
static const gf_real pt_dscale[] = { -1.1563573876430837, 3.4811336611859431 };
static const gf_real pt_dbias[] = { 2.5, 1.0 };

static void
test_train_pytorch (void)
{
  GfBatchNorm bn = { 2, 2, 3, BN_EPSILON, BN_MOMENTUM };
  gf_real scale[] = { 1.5, -0.5 }, bias[] = { 0.25, 1.0 };
  gf_real rm[] = { 0.1, -0.2 }, rv[] = { 1.0, 2.0 };
  gf_real mean[2], invstd[2], dscale[2] = { 0 }, dbias[2] = { 0 };
  gf_real y[12], dx[12];

  gf_batchnorm_forward_train (&bn, pt_x, scale, bias, rm, rv, y, mean,
                              invstd);
  gf_test_assert_close ("y", y, pt_y, 12, FORWARD_RTOL, FORWARD_ATOL);
  gf_test_assert_close ("running_mean", rm, pt_running_mean, 2,
                        FORWARD_RTOL, FORWARD_ATOL);
  gf_test_assert_close ("running_var", rv, pt_running_var, 2,
                        FORWARD_RTOL, FORWARD_ATOL);
  gf_batchnorm_backward_train (&bn, pt_x, scale, mean, invstd, pt_dy, dx,
                               dscale, dbias);
  gf_test_assert_close ("dx", dx, pt_dx, 12, FORWARD_RTOL, FORWARD_ATOL);
  gf_test_assert_close ("dscale", dscale, pt_dscale, 2,
                        FORWARD_RTOL, FORWARD_ATOL);
  gf_test_assert_close ("dbias", dbias, pt_dbias, 2,
                        FORWARD_RTOL, FORWARD_ATOL);
}

/* Repeated steps on one batch converge to its statistics (the unbiased
 * variance for running_var); one value per channel gives no NaN. */
static void
test_running_average (void)
{
  GfBatchNorm bn = { 1, 2, 4, BN_EPSILON, 0.5 };
  GfBatchNorm single = { 1, 2, 1, BN_EPSILON, 0.5 };
  const gf_real x[] = { 1, 2, 3, 6, -1, -1, 1, 1 };
  gf_real scale[] = { 1, 1 }, bias[] = { 0, 0 };
  gf_real rm[] = { 10, -10 }, rv[] = { 0, 100 };
  gf_real y[8], mean[2], invstd[2];
  /* Channel 0: mean 3, Σ(x − mean)² 14 → 14/3; channel 1: mean 0, 4/3. */
  const gf_real want_mean[] = { 3, 0 }, want_var[] = { 14.0 / 3, 4.0 / 3 };
  const gf_real once_mean[] = { 6.5, -5 }, once_var[] = { 7.0 / 3, 50 + 2.0 / 3 };

  gf_batchnorm_forward_train (&bn, x, scale, bias, rm, rv, y, mean, invstd);
  gf_test_assert_close ("mean after one step", rm, once_mean, 2,
                        FORWARD_RTOL, FORWARD_ATOL);
  gf_test_assert_close ("var after one step", rv, once_var, 2,
                        FORWARD_RTOL, FORWARD_ATOL);
  for (int step = 0; step < 60; step++)
    gf_batchnorm_forward_train (&bn, x, scale, bias, rm, rv, y, mean,
                                invstd);
  gf_test_assert_close ("converged mean", rm, want_mean, 2, 1e-5, 1e-5);
  gf_test_assert_close ("converged var", rv, want_var, 2, 1e-5, 1e-5);

  gf_batchnorm_forward_train (&single, x, scale, bias, rm, rv, y, mean,
                              invstd);
  for (int c = 0; c < 2; c++)
    g_assert_true (isfinite (rv[c]) && isfinite (y[c]));
}

/* The gradient check's loss: Σ dy·y, so that dL/dy is the fixture's dy. */
static double
bn_loss (void *user_data)
{
  BnFixture *f = user_data;

  if (f->train)
    gf_batchnorm_forward_train (&f->bn, f->x, f->scale, f->bias,
                                f->running_mean, f->running_var, f->y,
                                f->save_mean, f->save_invstd);
  else
    gf_batchnorm_forward_infer (&f->bn, f->x, f->scale, f->bias,
                                f->running_mean, f->running_var, f->y);
  return gf_test_dot (f->dy, f->y, f->size);
}

/* One backward call in the fixture's mode, into the given outputs. */
static void
bn_backward_into (const BnFixture *f, gf_real *dx, gf_real *dscale,
                  gf_real *dbias)
{
  if (f->train)
    gf_batchnorm_backward_train (&f->bn, f->x, f->scale, f->save_mean,
                                 f->save_invstd, f->dy, dx, dscale, dbias);
  else
    gf_batchnorm_backward_infer (&f->bn, f->x, f->scale, f->running_mean,
                                 f->running_var, f->dy, dx, dscale, dbias);
}

/* Forward, then backward into the fixture's zeroed dscale and dbias. */
static void
bn_backward (BnFixture *f)
{
  memset (f->dscale, 0, f->bn.channels * sizeof *f->dscale);
  memset (f->dbias, 0, f->bn.channels * sizeof *f->dbias);
  bn_loss (f);
  bn_backward_into (f, f->dx, f->dscale, f->dbias);
}

static void
check_gradients (const BnCase *bc, bool train)
{
  BnFixture f;

  bn_fixture_init (&f, bc, train ? 3 : 4);
  f.train = train;
  bn_backward (&f);
  gf_test_gradcheck ("dx", f.x, f.size, f.dx, bn_loss, &f, NULL);
  gf_test_gradcheck ("dscale", f.scale, bc->channels, f.dscale, bn_loss, &f,
                     NULL);
  gf_test_gradcheck ("dbias", f.bias, bc->channels, f.dbias, bn_loss, &f,
                     NULL);
  bn_fixture_clear (&f);
}

static void
test_train_gradcheck (gconstpointer data)
{
  check_gradients (data, true);
}

static void
test_infer_gradcheck (gconstpointer data)
{
  check_gradients (data, false);
}

/* dscale and dbias add to what they hold; dx is overwritten; NULL
 * outputs are skipped without changing the others. */
static void
check_accumulates (bool train)
{
  BnFixture f;
  size_t c = bn_cases[0].channels;
  g_autofree gf_real *want_dx = NULL;
  g_autofree gf_real *want_dscale = gf_test_new (c);
  g_autofree gf_real *want_dbias = gf_test_new (c);

  bn_fixture_init (&f, &bn_cases[0], 5);
  f.train = train;
  bn_backward (&f);
  want_dx = g_memdup2 (f.dx, f.size * sizeof *f.dx);
  for (size_t i = 0; i < c; i++)
    {
      want_dscale[i] = f.dscale[i] + 1;
      want_dbias[i] = f.dbias[i] - 2;
      f.dscale[i] = 1;
      f.dbias[i] = -2;
    }
  for (size_t i = 0; i < f.size; i++)
    f.dx[i] = 1e3;
  bn_backward_into (&f, f.dx, NULL, NULL);
  bn_backward_into (&f, NULL, f.dscale, f.dbias);
  gf_test_assert_close ("dx", f.dx, want_dx, f.size, 1e-6, 1e-6);
  gf_test_assert_close ("dscale", f.dscale, want_dscale, c, 1e-6, 1e-6);
  gf_test_assert_close ("dbias", f.dbias, want_dbias, c, 1e-6, 1e-6);
  bn_fixture_clear (&f);
}

static void
test_train_accumulate (void)
{
  check_accumulates (true);
}

static void
test_infer_accumulate (void)
{
  check_accumulates (false);
}

static void
add_sweep (const char *prefix, GTestDataFunc func)
{
  for (size_t i = 0; i < G_N_ELEMENTS (bn_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s", prefix,
                                               bn_cases[i].name);

      g_test_add_data_func (path, &bn_cases[i], func);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  add_sweep ("/engine/batchnorm/train/forward", test_train_forward);
  add_sweep ("/engine/batchnorm/infer/forward", test_infer_forward);
  g_test_add_func ("/engine/batchnorm/train/pytorch", test_train_pytorch);
  g_test_add_func ("/engine/batchnorm/train/running-average",
                   test_running_average);
  add_sweep ("/engine/batchnorm/train/backward/gradcheck",
             test_train_gradcheck);
  add_sweep ("/engine/batchnorm/infer/backward/gradcheck",
             test_infer_gradcheck);
  g_test_add_func ("/engine/batchnorm/train/backward/accumulate",
                   test_train_accumulate);
  g_test_add_func ("/engine/batchnorm/infer/backward/accumulate",
                   test_infer_accumulate);
  return g_test_run ();
}
