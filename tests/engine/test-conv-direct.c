/* test-conv-direct.c: the direct forward kernel for convolutions with few
 * taps (gf-conv-direct.h, forced with GF_CONV_ALGO_DIRECT) against the
 * naive reference loops: strides 1 and 2, kernels 1×1 to 7×7, symmetric
 * and asymmetric padding, output rows that 16 does and does not divide,
 * output channels below, at and past a group of 16, with and without bias,
 * batches of one and more, the first layers of ResNet-18, VGG19 and
 * MobileNetV2 (y also with a fused Relu and Clip, bit for bit the separate
 * activation's); results at 1, 2 and 3 worker threads, which must be
 * bit-identical; the dispatch rule and the workspace plan. */
#include <math.h>
#include <string.h>

#include "gf-parallel.h"
#include "gf-test-conv.h"

/* The kernel sums the taps in the reference's order, but adds the bias
 * last: the bound is normwise, |got − want| ≤ COMPARE_TOL · max |want|. */
#ifdef GF_REAL_DOUBLE
#define COMPARE_TOL 1e-13
#else
#define COMPARE_TOL 1e-5
#endif

#define SEED 20261205
#define MAX_THREADS 3

typedef struct
{
  const char *name;
  size_t n, c, h, w, m, k, stride;
  size_t pad[4];           /* top, left, bottom, right */
  bool bias;
} DirectCase;

static const DirectCase cases[] = {
  /* name                      n  c    h    w   m  k  s  pad           bias */
  { "c1-m1-k3-s1-16wide",      1, 1,  16,  16,  1, 3, 1, { 1, 1, 1, 1 }, true },
  { "c2-m5-k3-s1-17wide",      2, 2,   9,  17,  5, 3, 1, { 1, 1, 1, 1 }, false },
  { "c3-m17-k5-s2-asym",       2, 3,  41,  39, 17, 5, 2, { 2, 1, 0, 2 }, true },
  { "c4-m33-k2-s2-nopad",      3, 4,  34,  66, 33, 2, 2, { 0, 0, 0, 0 }, true },
  { "c2-m16-k1-s2",            1, 2,  40,  40, 16, 1, 2, { 0, 0, 0, 0 }, false },
  { "c1-m3-k7-s1-pad3",        1, 1,  20,  31,  3, 7, 1, { 3, 3, 3, 3 }, true },
  { "c5-m20-k3-s2-odd",        2, 5,  33,  35, 20, 3, 2, { 1, 1, 1, 1 }, true },
  /* ResNet-18's stem, VGG19's and MobileNetV2's first layers. */
  { "resnet-stem",             1, 3, 224, 224, 64, 7, 2, { 3, 3, 3, 3 }, false },
  { "vgg-first",               1, 3, 150, 150, 64, 3, 1, { 1, 1, 1, 1 }, true },
  { "mobilenet-first",         1, 3, 224, 224, 32, 3, 2, { 1, 1, 1, 1 }, true },
};

static GfConv2d
conv_from_case (const DirectCase *dc, GfConvAlgo algo)
{
  return gf_test_conv_square (dc->n, dc->c, dc->h, dc->w, dc->m, dc->k,
                              dc->stride, dc->pad, algo);
}

static void
fixture_init (GfTestConv *f, const DirectCase *dc)
{
  GfConv2d conv = conv_from_case (dc, GF_CONV_ALGO_DIRECT);

  gf_test_conv_init (f, &conv, dc->bias, SEED);
  g_assert_true (gf_conv2d_uses_direct (&f->conv));
}

static void
test_forward (gconstpointer data)
{
  GfTestConv f;

  fixture_init (&f, data);
  gf_test_conv_check_forward (&f, COMPARE_TOL);
  gf_test_conv_clear (&f);
}

static void
test_threads_identical (gconstpointer data)
{
  GfTestConv f;

  fixture_init (&f, data);
  gf_test_check_threads (&f, gf_test_conv_run_forward, MAX_THREADS);
  gf_test_conv_clear (&f);
}

/* ResNet-18's stem is work enough to split: the pool ran it on its
 * workers (small cases may run inline at any thread count). */
static void
test_threads_used (void)
{
  test_threads_identical (&cases[7]);
  g_assert_cmpuint (gf_parallel_workers (), >=, MAX_THREADS - 1);
}

/* Auto takes the direct kernel for the first layers, not for a 1×1
 * kernel (a GEMM, on x as it lies at stride 1), Winograd's layers,
 * too many taps, groups, dilation, stride 3 or unequal strides, or rows
 * narrower than a vector; forced, it still refuses what it cannot
 * compute, and forcing another path wins. */
static void
test_dispatch (void)
{
  GfConv2d conv = conv_from_case (&cases[7], GF_CONV_ALGO_AUTO);
  GfConv2d wide = conv;

  g_assert_true (gf_conv2d_uses_direct (&conv));
  conv.algo = GF_CONV_ALGO_GEMM;
  g_assert_false (gf_conv2d_uses_direct (&conv));
  conv.algo = GF_CONV_ALGO_WINOGRAD;   /* not 3×3 stride 1: GEMM */
  g_assert_false (gf_conv2d_uses_direct (&conv));
  conv = conv_from_case (&cases[8], GF_CONV_ALGO_AUTO);
  g_assert_true (gf_conv2d_uses_direct (&conv));
  conv = conv_from_case (&cases[9], GF_CONV_ALGO_AUTO);
  g_assert_true (gf_conv2d_uses_direct (&conv));

  /* 64 channels, 3×3, stride 1: Winograd's, and 576 taps. */
  conv = wide;
  conv.in_channels = 64;
  conv.kernel_h = conv.kernel_w = 3;
  conv.stride_h = conv.stride_w = 1;
  conv.pad_top = conv.pad_left = conv.pad_bottom = conv.pad_right = 1;
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_false (gf_conv2d_uses_direct (&conv));
  /* 16 channels, 3×3 at stride 2: 144 taps, direct; 18 would be 162. */
  conv.in_channels = 16;
  conv.stride_h = conv.stride_w = 2;
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_true (gf_conv2d_uses_direct (&conv));
  conv.in_channels = 18;
  g_assert_false (gf_conv2d_uses_direct (&conv));
  conv.algo = GF_CONV_ALGO_DIRECT;
  g_assert_false (gf_conv2d_uses_direct (&conv));

  /* 1×1 kernels: GEMMs, at stride 2 and at 1 (the pointwise path). */
  conv = conv_from_case (&cases[4], GF_CONV_ALGO_AUTO);
  g_assert_false (gf_conv2d_uses_direct (&conv));
  conv.stride_h = conv.stride_w = 1;
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_false (gf_conv2d_uses_direct (&conv));
  conv.algo = GF_CONV_ALGO_DIRECT;
  g_assert_true (gf_conv2d_uses_direct (&conv));

  conv = wide;
  conv.stride_h = conv.stride_w = 3;
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_false (gf_conv2d_uses_direct (&conv));
  conv = wide;
  conv.stride_h = 1;
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_false (gf_conv2d_uses_direct (&conv));
  conv = wide;
  conv.dilation_w = 2;
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_false (gf_conv2d_uses_direct (&conv));
  conv = wide;
  conv.in_channels = 6;
  conv.out_channels = 66;
  conv.groups = 3;
  conv.kernel_h = conv.kernel_w = 3;
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_false (gf_conv2d_uses_direct (&conv));
  conv = wide;
  conv.in_w = 29;                      /* 15 outputs wide */
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_cmpuint (conv.out_w, ==, 15);
  g_assert_false (gf_conv2d_uses_direct (&conv));
}

/* The workspace never shrinks as the batch grows, and a batch smaller
 * than the one planned runs in the planned workspace. */
#define PLAN_BATCH 6

static void
test_workspace_planned_batch (void)
{
  static const DirectCase shape =
    { "plan", PLAN_BATCH, 3, 19, 37, 20, 3, 2, { 1, 1, 1, 1 }, true };
  GfConv2d conv = conv_from_case (&shape, GF_CONV_ALGO_DIRECT);
  GfTestConv f;
  g_autofree gf_real *want = NULL;

  gf_test_conv_assert_workspace_grows (&conv, PLAN_BATCH);
  fixture_init (&f, &shape);
  gf_test_conv_halve_batch (&f);
  want = gf_test_conv_forward_and_reference (&f);
  gf_test_assert_normwise ("y", f.y, want, f.y_size, COMPARE_TOL);
  gf_test_conv_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gf_test_conv_add_cases ("direct", cases, G_N_ELEMENTS (cases),
                          sizeof *cases, test_forward, test_threads_identical);
  g_test_add_func ("/engine/conv2d/direct/threads/used", test_threads_used);
  g_test_add_func ("/engine/conv2d/direct/dispatch", test_dispatch);
  g_test_add_func ("/engine/conv2d/direct/workspace/planned-batch",
                   test_workspace_planned_batch);
  return g_test_run ();
}
