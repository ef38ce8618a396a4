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
  g_autofree gf_real *want = NULL;

  if (!kernel_present ())
    return;
  fixture_init (&f, data);
  want = gf_test_conv_forward_and_reference (&f);
  gf_test_assert_normwise ("y", f.y, want, f.y_size, COMPARE_TOL);
  gf_test_conv_assert_fused (&f);
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gf_test_conv_add_cases ("pointwise", cases, G_N_ELEMENTS (cases),
                          sizeof *cases, test_forward, test_threads_identical);
  g_test_add_func ("/engine/conv2d/pointwise/nan", test_nan);
  g_test_add_func ("/engine/conv2d/pointwise/threads/used",
                   test_threads_used);
  g_test_add_func ("/engine/conv2d/pointwise/dispatch", test_dispatch);
  return g_test_run ();
}
