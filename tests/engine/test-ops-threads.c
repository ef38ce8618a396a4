/* test-ops-threads.c: the kernels the worker pool splits besides the
 * convolutions (batch norm, activations, pooling, Add and Mul, and the
 * graph's adding of staged gradients) give bit-identical outputs and
 * gradients at any thread count: each case runs forward and backward with
 * 1, 2 and 3 threads, and every result with 2 and 3 must equal the one
 * with 1 byte for byte.
 *
 * Each case has a small shape, which runs inline, and shapes large enough
 * that their loops split into three chunks (the comments give the work
 * against GF_PARALLEL_GRAIN, 65536, per chunk), with odd sizes so that
 * chunks are uneven.  Inputs hold ties, exact kinks and a NaN or two:
 * whichever value a kernel picks, it must pick it at any thread count. */
#include <math.h>
#include <string.h>

#include "gf-engine.h"
#include "gf-parallel.h"
#include "ops/gf-activation.h"
#include "ops/gf-batchnorm.h"
#include "ops/gf-elementwise.h"
#include "ops/gf-pool.h"
#include "gf-test-util.h"

#define SEED 20240613
#define MAX_THREADS 3
/* Inputs are drawn from ±INPUT_RANGE, rounded to multiples of 1/QUANTUM
 * so that ties and exact kinks (0, ±3, a Clip's bounds) occur. */
#define INPUT_RANGE 4.0
#define QUANTUM 4.0
/* One input in SPECIAL_EVERY is replaced by a special value. */
#define SPECIAL_EVERY 997

/* @n inputs, the same for every run of a case: quantised uniform values
 * with, now and then, a zero, a signed zero, ±3 or a NaN. */
static gf_real *
new_input (GfRng *rng, size_t n, bool specials)
{
  static const double special[] = { 0.0, -0.0, 3.0, -3.0, 6.0, NAN };
  gf_real *x = gf_test_new (n);

  gf_test_fill_uniform (rng, x, n, -INPUT_RANGE, INPUT_RANGE);
  for (size_t i = 0; i < n; i++)
    {
      x[i] = (gf_real) (round (x[i] * QUANTUM) / QUANTUM);
      if (specials && i % SPECIAL_EVERY == SPECIAL_EVERY / 2)
        x[i] = (gf_real) special[(i / SPECIAL_EVERY)
                                 % G_N_ELEMENTS (special)];
    }
  return x;
}

/* Runs @run at 1, 2 and 3 threads; OpenBLAS, which none of these
 * kernels call, follows the same setting. */
static void
check_threads (gconstpointer data, GfTestRunFunc run)
{
  gf_test_check_threads (data, run, MAX_THREADS);
}

/* ---- BatchNormalization ------------------------------------------------ */

typedef struct
{
  const char *name;
  size_t n, c, s;
} BnCase;

/* Training splits channels, N·S·3 each; inference's forward splits the
 * N·C rows, S each. */
static const BnCase bn_cases[] = {
  { "small", 2, 3, 5 },
  { "odd-37-channels", 4, 37, 1331 },   /* 37 × 15972; 148 × 1331 */
  { "7-channels", 5, 7, 12347 },        /* 7 × 185205; 35 × 12347 */
  { "mobilenet-tail", 32, 129, 49 },    /* 129 × 4704; 4128 × 49 */
};

static void
run_batchnorm (gconstpointer data, GfTestResults *r)
{
  const BnCase *tc = data;
  GfBatchNorm bn = { tc->n, tc->c, tc->s, 1e-5, 0.9 };
  size_t count = tc->n * tc->c * tc->s, c = tc->c;
  GfRng rng;
  g_autofree gf_real *x = NULL, *dy = NULL, *scale = NULL, *bias = NULL;
  gf_real *y, *mean, *var, *save_mean, *save_invstd, *dx, *dscale, *dbias;

  gf_rng_seed (&rng, SEED);
  x = new_input (&rng, count, false);
  dy = new_input (&rng, count, false);
  scale = new_input (&rng, c, false);
  bias = new_input (&rng, c, false);
  for (size_t i = 0; i < count; i++)
    x[i] += (gf_real) (i / tc->s % c);   /* a mean per channel */
  mean = gf_test_results_add (r, "running_mean", c);
  var = gf_test_results_add (r, "running_var", c);
  for (size_t i = 0; i < c; i++)
    var[i] = 1;
  y = gf_test_results_add (r, "y", count);
  save_mean = gf_test_results_add (r, "save_mean", c);
  save_invstd = gf_test_results_add (r, "save_invstd", c);
  gf_batchnorm_forward_train (&bn, x, scale, bias, mean, var, y, save_mean,
                              save_invstd);
  dx = gf_test_results_add (r, "dx", count);
  dscale = gf_test_results_add (r, "dscale", c);
  dbias = gf_test_results_add (r, "dbias", c);
  gf_batchnorm_backward_train (&bn, x, scale, save_mean, save_invstd, dy,
                               dx, dscale, dbias);
  /* Inference with the updated running statistics, its gradients added
   * onto the training ones and its output over the training one. */
  gf_batchnorm_forward_infer (&bn, x, scale, bias, mean, var, y);
  gf_batchnorm_backward_infer (&bn, x, scale, mean, var, dy, dx, dscale,
                               dbias);
}

static void
test_batchnorm_threads (gconstpointer data)
{
  check_threads (data, run_batchnorm);
}

/* ---- Activations --------------------------------------------------------- */

typedef struct
{
  const char *name;
  GfActivation act;
} ActCase;

static const ActCase act_cases[] = {
  { "identity", { GF_ACT_IDENTITY, 0, 0 } },
  { "relu", { GF_ACT_RELU, 0, 0 } },
  { "relu6", { GF_ACT_CLIP, 0, 6 } },
  { "clip-odd-bounds", { GF_ACT_CLIP, -1.25, 2.5 } },
  { "leaky-relu", { GF_ACT_LEAKY_RELU, 0.01, 0 } },
  { "leaky-relu-steep", { GF_ACT_LEAKY_RELU, 1.75, 0 } },
  { "sigmoid", { GF_ACT_SIGMOID, 0, 0 } },
  { "hard-sigmoid-onnx", { GF_ACT_HARD_SIGMOID, 0.2, 0.5 } },
  { "hard-sigmoid-torch", { GF_ACT_HARD_SIGMOID, 1.0 / 6.0, 0.5 } },
  { "hard-swish", { GF_ACT_HARD_SWISH, 0, 0 } },
};

/* Elements: 7 inline, 200003 × 2 (or × 16, Sigmoid's forward) in three
 * chunks. */
static const size_t act_sizes[] = { 7, 200003 };

typedef struct
{
  const ActCase *kind;
  size_t n;
} ActRun;

static void
run_activation (gconstpointer data, GfTestResults *r)
{
  const ActRun *run = data;
  GfRng rng;
  g_autofree gf_real *x = NULL, *dy = NULL;
  gf_real *y, *dx;

  gf_rng_seed (&rng, SEED);
  x = new_input (&rng, run->n, true);
  dy = new_input (&rng, run->n, true);
  y = gf_test_results_add (r, "y", run->n);
  dx = gf_test_results_add (r, "dx", run->n);
  gf_activation_forward (&run->kind->act, run->n, x, y);
  gf_activation_backward (&run->kind->act, run->n, x, y, dy, dx);
}

static void
test_activation_threads (gconstpointer data)
{
  check_threads (data, run_activation);
}

/* ---- Pooling -------------------------------------------------------------- */

typedef enum
{
  POOL_MAX,
  POOL_AVG,
  POOL_GLOBAL,
} PoolKind;

typedef struct
{
  const char *name;
  PoolKind kind;
  GfPool2d pool;   /* batch, channels, in_h, in_w and the attributes */
} PoolCase;

#define POOL(n, c, h, w, k, s, d, t, l, b, r)                              \
  { .batch = n, .channels = c, .in_h = h, .in_w = w, .kernel_h = k,        \
    .kernel_w = k, .stride_h = s, .stride_w = s, .dilation_h = d,          \
    .dilation_w = d, .pad_top = t, .pad_left = l, .pad_bottom = b,         \
    .pad_right = r }

/* Planes are split, each OH·OW·KH·KW + H·W of work; the global pool's
 * S each. */
static const PoolCase pool_cases[] = {
  { "max-small", POOL_MAX, POOL (1, 2, 5, 4, 3, 2, 1, 1, 1, 1, 1) },
  /* 52 × 7083 */
  { "max-3x3-stride2", POOL_MAX, POOL (4, 13, 45, 47, 3, 2, 1, 1, 1, 1, 1) },
  /* 33 × 10867, asymmetric padding */
  { "max-dilation2", POOL_MAX, POOL (3, 11, 31, 37, 3, 1, 2, 2, 1, 1, 2) },
  /* 10 × 76924: rows longer than one chunk of argmaxes */
  { "max-wide-rows", POOL_MAX, POOL (2, 5, 19, 1201, 3, 2, 1, 1, 1, 1, 1) },
  { "avg-small", POOL_AVG, POOL (1, 2, 5, 4, 2, 2, 1, 1, 1, 0, 0) },
  /* 52 × 7083 */
  { "avg-3x3-stride2", POOL_AVG, POOL (4, 13, 45, 47, 3, 2, 1, 1, 1, 1, 1) },
  /* 10 × 76924 */
  { "avg-wide-rows", POOL_AVG, POOL (2, 5, 19, 1201, 3, 2, 1, 1, 1, 1, 1) },
  { "global-small", POOL_GLOBAL, POOL (2, 3, 1, 5, 1, 1, 1, 0, 0, 0, 0) },
  /* 240 × 1001 */
  { "global-odd", POOL_GLOBAL, POOL (6, 40, 7, 143, 1, 1, 1, 0, 0, 0, 0) },
};

/* Ceil mode and count_include_pad, on copies of two of the cases. */
static PoolCase pool_variants[] = {
  { "max-ceil", POOL_MAX, POOL (4, 13, 45, 47, 3, 2, 1, 1, 1, 1, 1) },
  { "avg-ceil-include-pad", POOL_AVG,
    POOL (3, 11, 37, 41, 2, 2, 1, 1, 1, 0, 0) },
};

static void
run_pool (gconstpointer data, GfTestResults *r)
{
  const PoolCase *tc = data;
  GfPool2d pool = tc->pool;
  size_t planes = pool.batch * pool.channels;
  size_t in = planes * pool.in_h * pool.in_w, out;
  GfRng rng;
  g_autofree gf_real *x = NULL, *dy = NULL;
  gf_real *y, *dx;

  if (tc->kind != POOL_GLOBAL)
    g_assert_cmpint (gf_pool2d_init (&pool, NULL), ==, GF_OK);
  out = tc->kind == POOL_GLOBAL ? planes : planes * pool.out_h * pool.out_w;
  gf_rng_seed (&rng, SEED);
  x = new_input (&rng, in, tc->kind == POOL_MAX);
  dy = new_input (&rng, out, false);
  y = gf_test_results_add (r, "y", out);
  dx = gf_test_results_add (r, "dx", in);
  if (tc->kind == POOL_MAX)
    {
      gf_maxpool2d_forward (&pool, x, y);
      gf_maxpool2d_backward (&pool, x, dy, dx);
    }
  else if (tc->kind == POOL_AVG)
    {
      gf_avgpool2d_forward (&pool, x, y);
      gf_avgpool2d_backward (&pool, dy, dx);
    }
  else
    {
      size_t spatial = pool.in_h * pool.in_w;

      gf_global_avgpool_forward (pool.batch, pool.channels, spatial, x, y);
      gf_global_avgpool_backward (pool.batch, pool.channels, spatial, dy,
                                  dx);
    }
}

static void
test_pool_threads (gconstpointer data)
{
  check_threads (data, run_pool);
}

/* The max backward keeps argmaxes as 32-bit offsets: a window spanning
 * more input values is refused, not miscounted. */
static void
test_pool_rejects_huge_window (void)
{
  GfPool2d pool = POOL (1, 1, 3, (size_t) 1 << 31, 2, 1, 1, 0, 0, 0, 0);
  GfError error;

  g_assert_cmpint (gf_pool2d_init (&pool, &error), ==, GF_ERR_UNSUPPORTED);
  g_assert_cmpuint (pool.out_h, ==, 0);
}

/* ---- Add and Mul ------------------------------------------------------------ */

typedef struct
{
  const char *name;
  size_t ndim_a, ndim_b;
  size_t a[GF_BROADCAST_MAX_DIMS], b[GF_BROADCAST_MAX_DIMS];
} BinaryCase;

/* Element-wise paths split y's elements (cost 1); reductions onto a
 * broadcast operand split its values. */
static const BinaryCase binary_cases[] = {
  { "same-small", 2, 2, { 5, 7 }, { 5, 7 } },
  { "same-flat", 1, 1, { 200003 }, { 200003 } },
  /* 260924; db: 37 × 7052 (× 2 for Mul) */
  { "channel-bias", 4, 4, { 4, 37, 41, 43 }, { 1, 37, 1, 1 } },
  /* 286047; db: 318 × 899 */
  { "squeeze-excite", 4, 4, { 6, 53, 29, 31 }, { 6, 53, 1, 1 } },
  /* 203447, runs of one */
  { "gemm-bias", 2, 1, { 523, 389 }, { 389 } },
  /* 200003, one run */
  { "scalar", 1, 1, { 200003 }, { 1 } },
  /* 227236 over rows of 53 */
  { "general", 4, 4, { 4, 1, 37, 53 }, { 1, 29, 1, 53 } },
  /* 225029; da a copy */
  { "general-one-full", 4, 4, { 7, 17, 31, 61 }, { 7, 1, 31, 1 } },
};

typedef struct
{
  const BinaryCase *shapes;
  bool mul;
} BinaryRun;

static void
run_binary (gconstpointer data, GfTestResults *r)
{
  const BinaryRun *run = data;
  const BinaryCase *tc = run->shapes;
  GfBroadcast bc;
  GfRng rng;
  g_autofree gf_real *a = NULL, *b = NULL, *dy = NULL;
  gf_real *y, *da, *db;

  g_assert_cmpint (gf_broadcast_init (&bc, tc->ndim_a, tc->a, tc->ndim_b,
                                      tc->b, NULL), ==, GF_OK);
  gf_rng_seed (&rng, SEED);
  a = new_input (&rng, bc.a_count, true);
  b = new_input (&rng, bc.b_count, true);
  dy = new_input (&rng, bc.y_count, false);
  y = gf_test_results_add (r, "y", bc.y_count);
  da = gf_test_results_add (r, "da", bc.a_count);
  db = gf_test_results_add (r, "db", bc.b_count);
  if (run->mul)
    {
      gf_mul_forward (&bc, a, b, y);
      gf_mul_backward (&bc, a, b, dy, da, db);
    }
  else
    {
      gf_add_forward (&bc, a, b, y);
      gf_add_backward (&bc, dy, da, db);
    }
}

static void
test_binary_threads (gconstpointer data)
{
  check_threads (data, run_binary);
}

/* ---- Staged gradients in a graph -------------------------------------------- */

/* x → Relu → r; s = r + r; out = s · r.  r's gradient comes from Mul,
 * then twice from Add, each staged and added in (4 × 5·97·103 = 199820
 * values per addition). */
static void
run_staged (gconstpointer data, GfTestResults *r)
{
  size_t dims[] = { 4, 5, 97, 103 }, count = 4 * 5 * 97 * 103;
  GfGraph *graph = gf_graph_new ();
  GfNodeDesc relu = { .kind = GF_OP_ACTIVATION };
  GfRng rng;
  g_autofree gf_real *dout = NULL;
  int x, relu_out, sum, out;

  relu.attr.activation.kind = GF_ACT_RELU;
  x = gf_graph_add_input (graph, "x", 4, dims, NULL);
  relu_out = gf_test_add_node (graph, "relu", relu, 1, &x);
  sum = gf_test_add_node (graph, "sum", (GfNodeDesc) { .kind = GF_OP_ADD },
                          2, (int[]) { relu_out, relu_out });
  out = gf_test_add_node (graph, "product",
                          (GfNodeDesc) { .kind = GF_OP_MUL }, 2,
                          (int[]) { sum, relu_out });
  g_assert_cmpint (gf_graph_mark_output (graph, out, NULL), ==, GF_OK);
  g_assert_cmpint (gf_graph_compile (graph, NULL), ==, GF_OK);
  gf_graph_set_input_grad (graph, true);
  g_assert_cmpint (gf_graph_plan (graph, dims[0], GF_GRAPH_TRAIN, NULL), ==,
                   GF_OK);
  gf_rng_seed (&rng, SEED);
  {
    g_autofree gf_real *input = new_input (&rng, count, false);

    memcpy (gf_graph_tensor_data (graph, x), input, count * sizeof *input);
  }
  dout = new_input (&rng, count, false);
  g_assert_cmpint (gf_graph_forward (graph, dims[0], GF_GRAPH_TRAIN, NULL),
                   ==, GF_OK);
  g_assert_cmpint (gf_graph_backward (graph, dims[0], dout, NULL), ==, GF_OK);
  memcpy (gf_test_results_add (r, "dx", count), gf_graph_tensor_grad (graph, x),
          count * sizeof (gf_real));
  gf_graph_free (graph);
}

static void
test_staged_threads (void)
{
  check_threads (NULL, run_staged);
  /* The loops did split: the pool started a worker per extra thread. */
  g_assert_cmpuint (gf_parallel_workers (), >=, MAX_THREADS - 1);
}

/* ---- Registration ------------------------------------------------------------ */

static void
add_activation_tests (void)
{
  static ActRun runs[G_N_ELEMENTS (act_cases) * G_N_ELEMENTS (act_sizes)];
  size_t k = 0;

  for (size_t i = 0; i < G_N_ELEMENTS (act_cases); i++)
    for (size_t j = 0; j < G_N_ELEMENTS (act_sizes); j++, k++)
      {
        g_autofree char *path = g_strdup_printf (
          "/engine/activation/threads/identical/%s/%zu", act_cases[i].name,
          act_sizes[j]);

        runs[k] = (ActRun) { &act_cases[i], act_sizes[j] };
        g_test_add_data_func (path, &runs[k], test_activation_threads);
      }
}

static void
add_pool_tests (void)
{
  pool_variants[0].pool.ceil_mode = true;
  pool_variants[1].pool.ceil_mode = true;
  pool_variants[1].pool.count_include_pad = true;
  for (size_t i = 0; i < G_N_ELEMENTS (pool_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
        "/engine/pool/threads/identical/%s", pool_cases[i].name);

      g_test_add_data_func (path, &pool_cases[i], test_pool_threads);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (pool_variants); i++)
    {
      g_autofree char *path = g_strdup_printf (
        "/engine/pool/threads/identical/%s", pool_variants[i].name);

      g_test_add_data_func (path, &pool_variants[i], test_pool_threads);
    }
  g_test_add_func ("/engine/pool/init/rejects-huge-window",
                   test_pool_rejects_huge_window);
}

static void
add_binary_tests (void)
{
  static BinaryRun runs[2 * G_N_ELEMENTS (binary_cases)];

  for (size_t i = 0; i < G_N_ELEMENTS (binary_cases); i++)
    for (int mul = 0; mul <= 1; mul++)
      {
        BinaryRun *run = &runs[2 * i + (size_t) mul];
        g_autofree char *path = g_strdup_printf (
          "/engine/%s/threads/identical/%s", mul ? "mul" : "add",
          binary_cases[i].name);

        *run = (BinaryRun) { &binary_cases[i], mul };
        g_test_add_data_func (path, run, test_binary_threads);
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (bn_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
        "/engine/batchnorm/threads/identical/%s", bn_cases[i].name);

      g_test_add_data_func (path, &bn_cases[i], test_batchnorm_threads);
    }
  add_activation_tests ();
  add_pool_tests ();
  add_binary_tests ();
  g_test_add_func ("/engine/graph/threads/identical/staged-gradients",
                   test_staged_threads);
  return g_test_run ();
}
