/* test-conv-pointwise.c: the 1×1 forward kernel (gf-conv-pointwise.h,
 * forced with GF_CONV_ALGO_POINTWISE) against the naive reference loops:
 * planes narrower than one tile of 48 columns, ending inside a tile and
 * on one, and spanning several bands of x; output channels below, at and
 * past a block of 8 and a group of 32; one input channel and hundreds;
 * with and without bias; batches of one and more; MobileNetV2's 112×112
 * expansion and 56×56 projection; y with each fused activation bit for
 * bit the separate activation's, NaN included; results at 1, 2 and 3
 * worker threads, which must be bit-identical; the dispatch rule.  Where
 * the kernel does not exist (float64, or a CPU without AVX-512), only
 * the dispatch rule runs: it must then never choose the kernel. */
#include <math.h>
#include <string.h>

#include "gf-rng.h"
#include "gf-parallel.h"
#include "gf-test-conv.h"
#include "ops/gf-conv-pointwise.h"

/* The kernel sums over the input channels in the reference's order but
 * adds the bias last: the bound is normwise. */
#define COMPARE_TOL 1e-5

#define SEED 20261205
#define MAX_THREADS 3

typedef struct
{
  const char *name;
  size_t n, c, h, w, m;
  bool bias;
} PointwiseCase;

static const PointwiseCase cases[] = {
  /* name                      n    c    h    w    m  bias */
  { "c3-m5-5x7",               1,   3,   5,   7,   5, true },
  { "c1-m1-1x1",               2,   1,   1,   1,   1, false },
  { "c37-m17-9x11",            2,  37,   9,  11,  17, true },
  { "c16-m24-28x28",           3,  16,  28,  28,  24, false },
  { "c8-m8-4x12",              1,   8,   4,  12,   8, true },
  /* 200 channels: bands of 288 columns, the last one partial; 40
   * output channels: a group of 32 and a block of 8. */
  { "c200-m40-40x40",          1, 200,  40,  40,  40, true },
  { "c600-m9-20x20",           1, 600,  20,  20,   9, true },
  /* MobileNetV2's first expansion and a 56×56 projection. */
  { "mobilenet-expand",        1,  16, 112, 112,  96, true },
  { "mobilenet-project",       2, 144,  56,  56,  24, true },
};

static GfConv2d
conv_from_case (const PointwiseCase *pc, GfConvAlgo algo)
{
  static const size_t no_pad[4] = { 0, 0, 0, 0 };

  return gf_test_conv_square (pc->n, pc->c, pc->h, pc->w, pc->m, 1, 1,
                              no_pad, algo);
}

/* False, and the test skipped, where the kernel does not exist. */
static bool
kernel_present (void)
{
  GfConv2d conv = conv_from_case (&cases[0], GF_CONV_ALGO_POINTWISE);

  if (gf_conv_pointwise_applies (&conv))
    return true;
  g_test_skip ("no 1×1 kernel in this build or on this CPU");
  return false;
}

static void
fixture_init (GfTestConv *f, const PointwiseCase *pc)
{
  GfConv2d conv = conv_from_case (pc, GF_CONV_ALGO_POINTWISE);

  gf_test_conv_init (f, &conv, pc->bias, SEED);
  g_assert_true (gf_conv2d_uses_pointwise (&f->conv));
}

static void
test_forward (gconstpointer data)
{
  GfTestConv f;

  if (!kernel_present ())
    return;
  fixture_init (&f, data);
  gf_test_conv_check_forward (&f, COMPARE_TOL);
  gf_test_conv_clear (&f);
}

/* A NaN in x reaches every output channel of its column, through each
 * fused activation, as the separate activations leave it; the columns
 * beside it stay finite. */
static void
test_nan (void)
{
  const PointwiseCase *pc = &cases[2];
  const size_t plane = pc->h * pc->w, column = 50;
  const GfActivation acts[] = {
    { .kind = GF_ACT_IDENTITY },
    { .kind = GF_ACT_RELU },
    { .kind = GF_ACT_CLIP, .alpha = 0, .beta = 6 },
  };
  GfTestConv f;

  if (!kernel_present ())
    return;
  fixture_init (&f, pc);
  f.x[3 * plane + column] = (gf_real) NAN;   /* image 0, channel 3 */
  for (size_t a = 0; a < G_N_ELEMENTS (acts); a++)
    {
      f.conv.activation = acts[a];
      gf_test_conv_forward (&f);
      for (size_t m = 0; m < pc->m; m++)
        {
          g_assert_true (isnan (f.y[m * plane + column]));
          g_assert_true (isfinite (f.y[m * plane + column - 1]));
          g_assert_true (isfinite (f.y[m * plane + column + 1]));
          /* Image 1 has no NaN at all. */
          g_assert_true (isfinite (f.y[(pc->m + m) * plane + column]));
        }
    }
  gf_test_conv_clear (&f);
}

static void
test_threads_identical (gconstpointer data)
{
  GfTestConv f;

  if (!kernel_present ())
    return;
  fixture_init (&f, data);
  gf_test_check_threads (&f, gf_test_conv_run_forward, MAX_THREADS);
  gf_test_conv_clear (&f);
}

/* MobileNetV2's expansion is work enough to split: the pool ran it on
 * its workers. */
static void
test_threads_used (void)
{
  if (!kernel_present ())
    return;
  test_threads_identical (&cases[7]);
  g_assert_cmpuint (gf_parallel_workers (), >=, MAX_THREADS - 1);
}

/* Auto takes the kernel for 1×1 planes larger than 14×14 (smaller ones
 * are batched GEMMs), unless images_per_gemm is forced; forcing the GEMM
 * wins; forced, it refuses what it cannot compute (a kernel larger than
 * 1×1, a stride, padding, groups), and it backs nothing but y: the
 * workspace stays the GEMM paths'. */
static void
test_dispatch (void)
{
  static const size_t no_pad[4] = { 0, 0, 0, 0 }, pad[4] = { 1, 1, 1, 1 };
  GfConv2d conv = conv_from_case (&cases[3], GF_CONV_ALGO_AUTO);
  bool present = gf_conv_pointwise_applies (&conv);

  g_assert_cmpint (gf_conv2d_uses_pointwise (&conv), ==, present);
  conv.images_per_gemm = 2;
  g_assert_false (gf_conv2d_uses_pointwise (&conv));
  conv.images_per_gemm = 0;
  conv.algo = GF_CONV_ALGO_GEMM;
  g_assert_false (gf_conv2d_uses_pointwise (&conv));
  conv.algo = GF_CONV_ALGO_DIRECT;
  g_assert_false (gf_conv2d_uses_pointwise (&conv));

  /* 14×14: a batched GEMM unless forced. */
  conv = gf_test_conv_square (4, 64, 14, 14, 384, 1, 1, no_pad,
                              GF_CONV_ALGO_AUTO);
  g_assert_false (gf_conv2d_uses_pointwise (&conv));
  g_assert_cmpuint (gf_conv2d_workspace_size (&conv), >, 0);
  conv.algo = GF_CONV_ALGO_POINTWISE;
  g_assert_cmpint (gf_conv2d_uses_pointwise (&conv), ==, present);
  /* 15×15 is the kernel's. */
  conv = gf_test_conv_square (4, 64, 15, 15, 384, 1, 1, no_pad,
                              GF_CONV_ALGO_AUTO);
  g_assert_cmpint (gf_conv2d_uses_pointwise (&conv), ==, present);

  conv = gf_test_conv_square (1, 8, 30, 30, 8, 1, 2, no_pad,
                              GF_CONV_ALGO_POINTWISE);
  g_assert_false (gf_conv2d_uses_pointwise (&conv));
  conv = gf_test_conv_square (1, 8, 30, 30, 8, 1, 1, pad,
                              GF_CONV_ALGO_POINTWISE);
  g_assert_false (gf_conv2d_uses_pointwise (&conv));
  conv = gf_test_conv_square (1, 8, 30, 30, 8, 3, 1, pad,
                              GF_CONV_ALGO_POINTWISE);
  g_assert_false (gf_conv2d_uses_pointwise (&conv));
  conv = gf_test_conv_square (1, 8, 30, 30, 8, 1, 1, no_pad,
                              GF_CONV_ALGO_POINTWISE);
  conv.groups = 2;
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_false (gf_conv2d_uses_pointwise (&conv));
  /* Depthwise 1×1 is the depthwise path's. */
  conv.groups = 8;
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_false (gf_conv2d_uses_pointwise (&conv));

#ifdef GF_REAL_DOUBLE
  /* The kernel is float's only. */
  g_assert_false (present);
#endif
}

/* ---- Expansion chains ---------------------------------------------------- */

/* A 1×1 expansion of @c channels to @m, the depthwise 3×3 after it at
 * @stride (padding 1), each with its own activation. */
typedef struct
{
  const char *name;
  size_t n, c, h, w, m, stride;
} ChainCase;

static const ChainCase chain_cases[] = {
  /* name                   n   c    h    w    m  s */
  { "c5-m13-17x19-s1",      2,  5,  17,  19,  13, 1 },
  { "c5-m13-17x19-s2",      2,  5,  17,  19,  13, 2 },
  /* 112×112: tasks of 8 channels; 56×56 at stride 2 (phase planes). */
  { "mobilenet-112-s2",     1, 16, 112, 112,  96, 2 },
  { "mobilenet-56-s1",      2, 24,  56,  56, 144, 1 },
  { "mobilenet-28-s1",      3, 32,  28,  28, 192, 1 },
};

typedef struct
{
  GfConv2d expand, depthwise;
  size_t x_size, mid_size, y_size, slots;
  gf_real *x, *we, *be, *wd, *bd, *mid, *y, *workspace;
} Chain;

static void
chain_init (Chain *f, const ChainCase *cc, size_t slots)
{
  static const size_t no_pad[4] = { 0, 0, 0, 0 }, pad[4] = { 1, 1, 1, 1 };
  GfRng rng;

  memset (f, 0, sizeof *f);
  f->expand = gf_test_conv_square (cc->n, cc->c, cc->h, cc->w, cc->m, 1, 1,
                                   no_pad, GF_CONV_ALGO_AUTO);
  f->expand.activation = (GfActivation) { .kind = GF_ACT_CLIP,
                                          .alpha = 0, .beta = 0.5 };
  f->depthwise = gf_test_conv_square (cc->n, cc->m, cc->h, cc->w, cc->m, 3,
                                      cc->stride, pad, GF_CONV_ALGO_AUTO);
  f->depthwise.groups = cc->m;
  g_assert_cmpint (gf_conv2d_init (&f->depthwise, NULL), ==, GF_OK);
  f->depthwise.activation = (GfActivation) { .kind = GF_ACT_LEAKY_RELU,
                                             .alpha = 0.1 };
  f->slots = slots;
  f->x_size = cc->n * cc->c * cc->h * cc->w;
  f->mid_size = cc->n * cc->m * cc->h * cc->w;
  f->y_size = cc->n * cc->m * f->depthwise.out_h * f->depthwise.out_w;
  f->x = gf_test_new (f->x_size);
  f->we = gf_test_new (cc->m * cc->c);
  f->be = gf_test_new (cc->m);
  f->wd = gf_test_new (cc->m * 9);
  f->bd = gf_test_new (cc->m);
  f->mid = gf_test_new (f->mid_size);
  f->y = gf_test_new (f->y_size);
  f->workspace = g_new (gf_real, gf_conv2d_chain_workspace_size (&f->expand,
                                                                 slots));
  gf_rng_seed (&rng, SEED);
  gf_test_fill_uniform (&rng, f->x, f->x_size, -1, 1);
  gf_test_fill_uniform (&rng, f->we, cc->m * cc->c, -1, 1);
  gf_test_fill_uniform (&rng, f->be, cc->m, -1, 1);
  gf_test_fill_uniform (&rng, f->wd, cc->m * 9, -1, 1);
  gf_test_fill_uniform (&rng, f->bd, cc->m, -1, 1);
}

static void
chain_clear (Chain *f)
{
  g_free (f->x);
  g_free (f->we);
  g_free (f->be);
  g_free (f->wd);
  g_free (f->bd);
  g_free (f->mid);
  g_free (f->y);
  g_free (f->workspace);
}

/* The chain into f->y, over scratch full of NaN. */
static void
chain_run (Chain *f, gf_real *y)
{
  gf_test_fill_nan (f->workspace,
                    gf_conv2d_chain_workspace_size (&f->expand, f->slots));
  gf_test_fill_nan (y, f->y_size);
  gf_conv2d_chain_forward (&f->expand, &f->depthwise, f->slots, f->x, f->we,
                           f->be, f->wd, f->bd, y, f->workspace);
}

/* The chain gives, bit for bit, the two convolutions one after the
 * other (the same kernels on the same values), with room for one slot
 * as with two. */
static void
test_chain (gconstpointer data)
{
  const ChainCase *cc = data;
  Chain f;
  g_autofree gf_real *want = NULL;

  if (!kernel_present ())
    return;
  for (size_t slots = 1; slots <= 2; slots++)
    {
      size_t negative = 0;

      chain_init (&f, cc, slots);
      g_assert_true (gf_conv2d_chain_applies (&f.expand, &f.depthwise));
      want = gf_test_new (f.y_size);
      gf_conv2d_forward (&f.expand, f.x, f.we, f.be, f.mid, NULL);
      gf_conv2d_forward (&f.depthwise, f.mid, f.wd, f.bd, want, NULL);
      chain_run (&f, f.y);
      g_assert_cmpmem (f.y, f.y_size * sizeof *f.y,
                       want, f.y_size * sizeof *want);
      /* Both activations did something. */
      for (size_t i = 0; i < f.y_size; i++)
        negative += want[i] < 0;
      g_assert_cmpuint (negative, >, 0);
      g_assert_cmpuint (negative, <, f.y_size);
      g_clear_pointer (&want, g_free);
      chain_clear (&f);
    }
}

static void
run_chain (gconstpointer data, GfTestResults *r)
{
  Chain *f = (Chain *) data;

  chain_run (f, gf_test_results_add (r, "y", f->y_size));
}

/* The same bytes at 1, 2 and 3 threads, with scratch for 3 slots and,
 * as when the plan was made for fewer threads than run it, for 1. */
static void
test_chain_threads (gconstpointer data)
{
  Chain f;

  if (!kernel_present ())
    return;
  for (size_t slots = 1; slots <= MAX_THREADS; slots += MAX_THREADS - 1)
    {
      chain_init (&f, data, slots);
      gf_test_check_threads (&f, run_chain, MAX_THREADS);
      chain_clear (&f);
    }
}

/* A chain needs the 1×1 kernel on its expansion, a depthwise
 * convolution of exactly its output, at one batch. */
static void
test_chain_applies (void)
{
  Chain f;
  GfConv2d other;
  bool present = gf_conv_pointwise_applies (&(GfConv2d) {
    .kernel_h = 1, .kernel_w = 1, .stride_h = 1, .stride_w = 1,
    .groups = 1 });

  chain_init (&f, &chain_cases[3], 1);
  g_assert_cmpint (gf_conv2d_chain_applies (&f.expand, &f.depthwise), ==,
                   present);
  other = f.expand;
  other.algo = GF_CONV_ALGO_GEMM;
  g_assert_false (gf_conv2d_chain_applies (&other, &f.depthwise));
  other = f.depthwise;
  other.batch = 1;
  g_assert_false (gf_conv2d_chain_applies (&f.expand, &other));
  other = f.depthwise;
  other.groups = 1;            /* a dense 3×3 */
  g_assert_cmpint (gf_conv2d_init (&other, NULL), ==, GF_OK);
  g_assert_false (gf_conv2d_chain_applies (&f.expand, &other));
  other = f.depthwise;
  other.in_w = other.in_h = 55;
  g_assert_cmpint (gf_conv2d_init (&other, NULL), ==, GF_OK);
  g_assert_false (gf_conv2d_chain_applies (&f.expand, &other));
  chain_clear (&f);
  /* 14×14 planes: the expansion is a batched GEMM, no chain. */
  chain_init (&f, &(ChainCase) { "small", 2, 8, 14, 14, 16, 1 }, 1);
  g_assert_false (gf_conv2d_chain_applies (&f.expand, &f.depthwise));
  chain_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gf_test_conv_add_cases ("pointwise", cases, G_N_ELEMENTS (cases),
                          sizeof *cases, test_forward, test_threads_identical);
  for (size_t i = 0; i < G_N_ELEMENTS (chain_cases); i++)
    {
      g_autofree char *fwd = g_strdup_printf (
        "/engine/conv2d/chain/forward/%s", chain_cases[i].name);
      g_autofree char *thr = g_strdup_printf (
        "/engine/conv2d/chain/threads/identical/%s", chain_cases[i].name);

      g_test_add_data_func (fwd, &chain_cases[i], test_chain);
      g_test_add_data_func (thr, &chain_cases[i], test_chain_threads);
    }
  g_test_add_func ("/engine/conv2d/chain/applies", test_chain_applies);
  g_test_add_func ("/engine/conv2d/pointwise/nan", test_nan);
  g_test_add_func ("/engine/conv2d/pointwise/threads/used",
                   test_threads_used);
  g_test_add_func ("/engine/conv2d/pointwise/dispatch", test_dispatch);
  return g_test_run ();
}
