/* test-conv-winograd.c: the Winograd F(4×4, 3×3) path of gf_conv2d_forward
 * and gf_conv2d_backward (y, dx and dW, forced with GF_CONV_ALGO_WINOGRAD)
 * against the naive reference loops and finite differences, over paddings
 * 0, 1, 2 and asymmetric ones, planes whose sides 4 does not divide,
 * batches of one and more, 1 to 120 channels, with and without bias, and a
 * batch whose tiles span two chunks (y also with a fused Relu and Clip,
 * bit for bit the separate activation's); its rounding error on realistic
 * magnitudes against a double-precision sum (y) and the reference (dx,
 * dW), beside im2col's; its results at 1, 2 and 3 worker threads, which
 * must be bit-identical; and the dispatch rule and workspace plan. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "gf-engine.h"
#include "gf-parallel.h"
#include "gf-test-conv.h"
#include "ops/gf-winograd.h"

/* Winograd's transforms add rounding error beyond the reference's (their
 * entries reach 8 and 5, and the sum over channels runs on transformed
 * values), so the bound is normwise: |got − want| ≤ COMPARE_TOL · max |want|
 * over the tensor.  On realistic magnitudes (test_rounding_error) it
 * measured 4e-6 to 1.2e-5 in float32, about ten times im2col's; the bound
 * there is ROUNDING_TOL, what the parity tests against PyTorch need. */
#ifdef GF_REAL_DOUBLE
#define COMPARE_TOL 1e-11
#define ROUNDING_TOL 1e-11
#else
#define COMPARE_TOL 5e-5
#define ROUNDING_TOL 1e-4
#endif

#define INPUT_RANGE GF_TEST_CONV_RANGE   /* as x, w, b and r */
#define SEED 20261205
#define MAX_THREADS 3

typedef struct
{
  const char *name;
  size_t n, c, h, w, m;
  size_t pad[4];           /* top, left, bottom, right */
  bool bias;
  bool gradcheck;          /* small enough for finite differences */
} WinoCase;

static const WinoCase cases[] = {
  /* name                     n   c   h   w   m   pad           bias  fd */
  { "c1-m1-7x7-pad1",         1,  1,  7,  7,  1, { 1, 1, 1, 1 }, true,  true },
  { "c3-m5-13x13-pad0",       2,  3, 13, 13,  5, { 0, 0, 0, 0 }, false, true },
  { "c4-m2-15x15-pad2",       1,  4, 15, 15,  2, { 2, 2, 2, 2 }, true,  true },
  { "c5-m6-11x9-asym",        2,  5, 11,  9,  6, { 0, 2, 1, 1 }, true,  true },
  { "c2-m3-3x5-tiny",         3,  2,  3,  5,  3, { 1, 0, 2, 1 }, false, true },
  { "c16-m24-13x15-batch3",   3, 16, 13, 15, 24, { 1, 1, 1, 1 }, true,  false },
  { "c64-m64-14x14-batch2",   2, 64, 14, 14, 64, { 1, 1, 1, 1 }, false, false },
  { "c48-m32-7x7-pad2",       4, 48,  7,  7, 32, { 2, 2, 2, 2 }, true,  false },
  /* 36·(120 + 120)·128 elements pass the chunk budget, so chunks are the
   * 128-tile minimum: 300 tiles (75 images of 2×2) are shared by two
   * chunks, one a unit of tiles longer than the other, and the lanes of a
   * block cross from image to image. */
  { "c120-m120-5x5-two-chunks",
                             75, 120,  5,  5, 120, { 1, 1, 1, 1 }, true, false },
  /* 200 input channels: the products' sums run in a block of 128 and
   * one of 72, the second added to the first; 21 output channels leave a
   * block of 5 rows; 12 tiles, a panel's first vector. */
  { "c200-m21-6x6-k-blocks",  3, 200,  6,  6, 21, { 1, 1, 1, 1 }, false, false },
};

static GfConv2d
conv_from_case (const WinoCase *wc, GfConvAlgo algo)
{
  return gf_test_conv_square (wc->n, wc->c, wc->h, wc->w, wc->m, 3, 1,
                              wc->pad, algo);
}

/* One case's tensors (see gf-test-conv.h), through Winograd. */
static void
fixture_init (GfTestConv *f, const WinoCase *wc)
{
  GfConv2d conv = conv_from_case (wc, GF_CONV_ALGO_WINOGRAD);

  gf_test_conv_init (f, &conv, wc->bias, SEED);
  g_assert_true (gf_conv2d_uses_winograd (&f->conv));
}

/* The normwise bound of COMPARE_TOL. */
static void
assert_close (const char *what, const gf_real *got, const gf_real *want,
              size_t n)
{
  gf_test_assert_normwise (what, got, want, n, COMPARE_TOL);
}

static void
test_forward (gconstpointer data)
{
  GfTestConv f;
  g_autofree gf_real *want = NULL;

  fixture_init (&f, data);
  want = gf_test_conv_forward_and_reference (&f);
  assert_close ("y", f.y, want, f.y_size);
  gf_test_conv_assert_fused (&f);
  gf_test_conv_clear (&f);
}

/* dx is written over NaN; dW and db accumulate onto dw0 and db0. */
static void
test_backward (gconstpointer data)
{
  const WinoCase *wc = data;
  GfTestConv f;
  GfRng rng;
  g_autofree gf_real *dx = NULL, *dw = NULL, *db = NULL;
  g_autofree gf_real *want_dx = NULL, *want_dw = NULL, *want_db = NULL;

  fixture_init (&f, wc);
  dx = gf_test_new (f.x_size);
  dw = gf_test_new (f.w_size);
  db = gf_test_new (wc->m);
  gf_rng_seed (&rng, SEED + 1);
  gf_test_fill_uniform (&rng, dw, f.w_size, -INPUT_RANGE, INPUT_RANGE);
  gf_test_fill_uniform (&rng, db, wc->m, -INPUT_RANGE, INPUT_RANGE);
  want_dx = gf_test_new (f.x_size);
  want_dw = g_memdup2 (dw, f.w_size * sizeof *dw);
  want_db = g_memdup2 (db, wc->m * sizeof *db);
  gf_test_fill_nan (dx, f.x_size);
  gf_test_conv_backward (&f, dx, dw, db);
  gf_conv2d_backward_reference (&f.conv, f.x, f.w, f.r, want_dx, want_dw,
                                want_db);
  assert_close ("dx", dx, want_dx, f.x_size);
  assert_close ("dw", dw, want_dw, f.w_size);
  assert_close ("db", db, want_db, wc->m);
  /* dx alone (dw NULL) takes the same path. */
  gf_test_fill_nan (dx, f.x_size);
  gf_test_conv_backward (&f, dx, NULL, NULL);
  assert_close ("dx alone", dx, want_dx, f.x_size);
  gf_test_conv_clear (&f);
}

/* The loss through Winograd's forward carries about ten times the
 * rounding error of a direct sum (see test_rounding_error), and central
 * differences divide it by the step: the absolute slack grows to match. */
#define GRADCHECK_ATOL_FACTOR 10

static void
test_gradcheck (gconstpointer data)
{
  GfTestConv f;
  GfTolerance tol = *gf_test_tolerance ();
  g_autofree gf_real *dx = NULL, *dw = NULL;

  tol.atol *= GRADCHECK_ATOL_FACTOR;
  fixture_init (&f, data);
  dx = gf_test_new (f.x_size);
  dw = gf_test_new (f.w_size);
  gf_test_conv_backward (&f, dx, dw, NULL);
  gf_test_gradcheck ("dx", f.x, f.x_size, dx, gf_test_conv_loss, &f, &tol);
  gf_test_gradcheck ("dw", f.w, f.w_size, dw, gf_test_conv_loss, &f, &tol);
  gf_test_conv_clear (&f);
}

/* ---- Blocks of output channels ------------------------------------------ */

/* 1024 input channels split the 72 output channels into two blocks of U
 * (48 and 24, see filter_block in gf-winograd.c), and dx's 1024 into two
 * as well; 260 images of one tile each are shared by two chunks.  Compared with
 * the im2col path, which the other tests hold to the reference: the naive
 * loops would take seconds here. */
static const WinoCase blocked =
  { "c1024-m72-4x4-blocks", 260, 1024, 4, 4, 72, { 1, 1, 1, 1 }, true, false };

static void
test_blocks_match_gemm (void)
{
  GfTestConv f;
  GfConv2d gemm;
  size_t m = blocked.m;
  g_autofree gf_real *y = NULL, *ws = NULL;
  g_autofree gf_real *dx = NULL, *dw = NULL, *db = NULL;
  g_autofree gf_real *want_dx = NULL, *want_dw = NULL, *want_db = NULL;

  fixture_init (&f, &blocked);
  gemm = f.conv;
  gemm.algo = GF_CONV_ALGO_GEMM;
  y = gf_test_new (f.y_size);
  ws = gf_test_new (gf_conv2d_workspace_size (&gemm));
  dx = gf_test_new (f.x_size);
  dw = gf_test_new (f.w_size);
  db = gf_test_new (m);
  want_dx = gf_test_new (f.x_size);
  want_dw = gf_test_new (f.w_size);
  want_db = gf_test_new (m);
  gf_test_conv_forward (&f);
  gf_conv2d_forward (&gemm, f.x, f.w, f.b, y, ws);
  assert_close ("y", f.y, y, f.y_size);
  gf_test_conv_backward (&f, dx, dw, db);
  gf_conv2d_backward (&gemm, f.x, f.w, f.r, want_dx, want_dw, want_db, ws);
  assert_close ("dx", dx, want_dx, f.x_size);
  assert_close ("dw", dw, want_dw, f.w_size);
  assert_close ("db", db, want_db, m);
  gf_test_conv_clear (&f);
}

/* Auto on 32 tiles (batch 8 at 7×7) with a dU of 36·256·128 elements
 * takes Winograd for y and dx but im2col for dW (see winograd_dw in
 * gf-conv.c): the mix is right too. */
static void
test_auto_few_tiles (void)
{
  static const WinoCase few =
    { "few-tiles", 8, 256, 7, 7, 128, { 1, 1, 1, 1 }, true, false };
  GfTestConv f;
  g_autofree gf_real *dx = NULL, *dw = NULL, *db = NULL;
  g_autofree gf_real *want_dx = NULL, *want_dw = NULL, *want_db = NULL;

  fixture_init (&f, &few);
  f.conv.algo = GF_CONV_ALGO_AUTO;
  g_assert_true (gf_conv2d_uses_winograd (&f.conv));
  g_assert_cmpuint (gf_conv2d_workspace_size (&f.conv), <=, f.ws_size);
  dx = gf_test_new (f.x_size);
  dw = gf_test_new (f.w_size);
  db = gf_test_new (few.m);
  want_dx = gf_test_new (f.x_size);
  want_dw = gf_test_new (f.w_size);
  want_db = gf_test_new (few.m);
  gf_test_conv_backward (&f, dx, dw, db);
  gf_conv2d_backward_reference (&f.conv, f.x, f.w, f.r, want_dx, want_dw,
                                want_db);
  assert_close ("dx", dx, want_dx, f.x_size);
  assert_close ("dw", dw, want_dw, f.w_size);
  assert_close ("db", db, want_db, few.m);
  gf_test_conv_clear (&f);
}

/* ---- Rounding error on realistic magnitudes ------------------------------ */

/* A ResNet layer: x ≥ 0 as after BatchNorm and ReLU (uniform in [0, 2)),
 * w with He initialisation's spread (uniform with variance 2 / (9·C)). */
static const WinoCase realistic[] = {
  { "r18-64-56", 1, 64, 56, 56, 64, { 1, 1, 1, 1 }, true, false },
  { "r18-256-14", 1, 256, 14, 14, 256, { 1, 1, 1, 1 }, true, false },
};

/* y (M, OH, OW) of image 0 summed in double, directly. */
static void
forward_double (const GfConv2d *conv, const gf_real *x, const gf_real *w,
                const gf_real *b, double *y)
{
  for (size_t m = 0; m < conv->out_channels; m++)
    for (size_t oh = 0; oh < conv->out_h; oh++)
      for (size_t ow = 0; ow < conv->out_w; ow++)
        {
          double total = b != NULL ? b[m] : 0;

          for (size_t c = 0; c < conv->in_channels; c++)
            for (size_t kh = 0; kh < 3; kh++)
              for (size_t kw = 0; kw < 3; kw++)
                {
                  ptrdiff_t ih = (ptrdiff_t) (oh + kh) - conv->pad_top;
                  ptrdiff_t iw = (ptrdiff_t) (ow + kw) - conv->pad_left;

                  if (ih < 0 || iw < 0 || ih >= (ptrdiff_t) conv->in_h
                      || iw >= (ptrdiff_t) conv->in_w)
                    continue;
                  total += (double) x[(c * conv->in_h + ih) * conv->in_w + iw]
                           * w[((m * conv->in_channels + c) * 3 + kh) * 3
                               + kw];
                }
          *y++ = total;
        }
}

/* max |y − exact| / max |exact| of one algorithm. */
static double
normwise_error (const GfTestConv *f, GfConvAlgo algo, const double *exact)
{
  GfConv2d conv = f->conv;
  double err = 0, scale = 0;

  conv.algo = algo;
  gf_conv2d_forward (&conv, f->x, f->w, f->b, f->y, f->workspace);
  for (size_t i = 0; i < f->y_size; i++)
    {
      err = fmax (err, fabs (f->y[i] - exact[i]));
      scale = fmax (scale, fabs (exact[i]));
    }
  return err / scale;
}

/* max |got − want| / max |want|. */
static double
normwise (const gf_real *got, const gf_real *want, size_t n)
{
  double err = 0;

  for (size_t i = 0; i < n; i++)
    err = fmax (err, fabs ((double) got[i] - want[i]));
  return err / gf_test_max_abs (want, n);
}

/* dx and dW of one algorithm against the reference's (which sums in the
 * build's precision too, so this bounds the error from above). */
static void
backward_errors (GfTestConv *f, GfConvAlgo algo, const gf_real *want_dx,
                 const gf_real *want_dw, double *err_dx, double *err_dw)
{
  GfConv2d conv = f->conv;
  g_autofree gf_real *dx = gf_test_new (f->x_size);
  g_autofree gf_real *dw = gf_test_new (f->w_size);

  conv.algo = algo;
  gf_conv2d_backward (&conv, f->x, f->w, f->r, dx, dw, NULL, f->workspace);
  *err_dx = normwise (dx, want_dx, f->x_size);
  *err_dw = normwise (dw, want_dw, f->w_size);
}

static void
test_rounding_error (gconstpointer data)
{
  const WinoCase *wc = data;
  GfTestConv f;
  GfRng rng;
  double spread = sqrt (3.0 * 2.0 / (9.0 * (double) wc->c));
  g_autofree double *exact = NULL;
  g_autofree gf_real *want_dx = NULL, *want_dw = NULL;
  double wino, gemm, wino_dx, wino_dw, gemm_dx, gemm_dw;

  fixture_init (&f, wc);
  gf_rng_seed (&rng, SEED + 2);
  gf_test_fill_uniform (&rng, f.x, f.x_size, 0, 2);
  gf_test_fill_uniform (&rng, f.w, f.w_size, -spread, spread);
  exact = g_new (double, f.y_size);
  forward_double (&f.conv, f.x, f.w, f.b, exact);
  wino = normwise_error (&f, GF_CONV_ALGO_WINOGRAD, exact);
  gemm = normwise_error (&f, GF_CONV_ALGO_GEMM, exact);
  g_test_message ("%s: y normwise error Winograd %.3g, im2col %.3g",
                  wc->name, wino, gemm);
  g_assert_cmpfloat (wino, <=, ROUNDING_TOL);

  want_dx = gf_test_new (f.x_size);
  want_dw = gf_test_new (f.w_size);
  gf_conv2d_backward_reference (&f.conv, f.x, f.w, f.r, want_dx, want_dw,
                                NULL);
  backward_errors (&f, GF_CONV_ALGO_WINOGRAD, want_dx, want_dw,
                   &wino_dx, &wino_dw);
  backward_errors (&f, GF_CONV_ALGO_GEMM, want_dx, want_dw,
                   &gemm_dx, &gemm_dw);
  g_test_message ("%s: against the reference, dx Winograd %.3g, im2col "
                  "%.3g; dw Winograd %.3g, im2col %.3g", wc->name,
                  wino_dx, gemm_dx, wino_dw, gemm_dw);
  g_assert_cmpfloat (wino_dx, <=, ROUNDING_TOL);
  g_assert_cmpfloat (wino_dw, <=, ROUNDING_TOL);
  gf_test_conv_clear (&f);
}

/* ---- Thread counts ------------------------------------------------------- */

/* y, dx, dw, db with the pool at the thread count the check set and
 * OpenBLAS at one (its own GEMMs are outside what the pool controls). */
static void
run_conv (gconstpointer data, GfTestResults *r)
{
  GfTestConv *f = (GfTestConv *) data;
  size_t m = f->conv.out_channels;
  gf_real *y = gf_test_results_add (r, "y", f->y_size);
  gf_real *dx = gf_test_results_add (r, "dx", f->x_size);
  gf_real *dw = gf_test_results_add (r, "dw", f->w_size);
  gf_real *db = gf_test_results_add (r, "db", m);

  memset (dw, 0, f->w_size * sizeof *dw);
  memset (db, 0, m * sizeof *db);
  openblas_set_num_threads (1);
  gf_test_fill_nan (f->workspace, f->ws_size);
  gf_conv2d_forward (&f->conv, f->x, f->w, f->b, y, f->workspace);
  gf_test_conv_backward (f, dx, dw, db);
}

static void
test_threads_identical (gconstpointer data)
{
  GfTestConv f;

  fixture_init (&f, data);
  gf_test_check_threads (&f, run_conv, MAX_THREADS);
  g_assert_cmpuint (gf_parallel_workers (), >=, MAX_THREADS - 1);
  gf_test_conv_clear (&f);
}

/* ---- Dispatch and workspace ---------------------------------------------- */

/* Auto picks Winograd for ResNet layers, not for few channels, planes
 * that waste much of their tiles (9×9 unless the products run on the
 * engine's register blocks, which 64 channels do not; 5×5 in any case),
 * batches of too few tiles,
 * strides, groups or padding beyond 2; forced, it still refuses what it
 * cannot compute. */
static void
test_dispatch (void)
{
  static const WinoCase resnet =
    { "resnet", 8, 64, 56, 56, 64, { 1, 1, 1, 1 }, false, false };
  static const WinoCase resnet7 =
    { "resnet7", 8, 512, 7, 7, 512, { 1, 1, 1, 1 }, false, false };
  static const WinoCase vgg9 =
    { "vgg9", 8, 512, 9, 9, 512, { 1, 1, 1, 1 }, false, false };
  static const WinoCase vgg9_narrow =
    { "vgg9-narrow", 8, 64, 9, 9, 64, { 1, 1, 1, 1 }, false, false };
  static const WinoCase five =
    { "five", 32, 512, 5, 5, 512, { 1, 1, 1, 1 }, false, false };
  static const WinoCase thin =
    { "thin", 8, 3, 56, 56, 64, { 1, 1, 1, 1 }, false, false };
  GfConv2d conv = conv_from_case (&resnet7, GF_CONV_ALGO_AUTO);

  g_assert_true (gf_conv2d_uses_winograd (&conv));
  conv.batch = 1;
  g_assert_false (gf_conv2d_uses_winograd (&conv));
  conv = conv_from_case (&vgg9, GF_CONV_ALGO_AUTO);
  g_assert_cmpint (gf_conv2d_uses_winograd (&conv), ==,
                   gf_winograd_products_blocked (&conv));
  conv = conv_from_case (&vgg9_narrow, GF_CONV_ALGO_AUTO);
  g_assert_false (gf_winograd_products_blocked (&conv));
  g_assert_false (gf_conv2d_uses_winograd (&conv));
  conv = conv_from_case (&five, GF_CONV_ALGO_AUTO);
  g_assert_false (gf_conv2d_uses_winograd (&conv));
  conv = conv_from_case (&resnet, GF_CONV_ALGO_AUTO);
  g_assert_true (gf_conv2d_uses_winograd (&conv));
  conv.algo = GF_CONV_ALGO_GEMM;
  g_assert_false (gf_conv2d_uses_winograd (&conv));
  conv = conv_from_case (&thin, GF_CONV_ALGO_AUTO);
  g_assert_false (gf_conv2d_uses_winograd (&conv));
  conv.algo = GF_CONV_ALGO_WINOGRAD;
  g_assert_true (gf_conv2d_uses_winograd (&conv));
  conv.stride_h = 2;
  g_assert_false (gf_conv2d_uses_winograd (&conv));
  conv.stride_h = 1;
  conv.pad_top = 3;
  g_assert_false (gf_conv2d_winograd_applies (&conv));
  g_assert_false (gf_conv2d_uses_winograd (&conv));
}

/* The workspace never shrinks as the batch grows, and a smaller batch in
 * the planned workspace is right too. */
#define PLAN_BATCH 6

static void
test_workspace_planned_batch (void)
{
  static const WinoCase shape =
    { "plan", PLAN_BATCH, 16, 9, 11, 16, { 1, 1, 1, 1 }, true, false };
  GfConv2d conv = conv_from_case (&shape, GF_CONV_ALGO_WINOGRAD);
  GfTestConv f;
  g_autofree gf_real *want = NULL;

  /* 32 + 32 channels: chunks of about 455 tiles, 784 tiles (16 images
   * of 7×7 tiles) in two of 432, 637 (13 images) in one of 672. */
  GfConv2d wide = conv_from_case (&(WinoCase) { "plan-wide", 16, 32, 28, 28,
                                                32, { 1, 1, 1, 1 }, false,
                                                false },
                                  GF_CONV_ALGO_WINOGRAD);

  gf_test_conv_assert_workspace_grows (&wide, 16);
  gf_test_conv_assert_workspace_grows (&conv, PLAN_BATCH);
  fixture_init (&f, &shape);
  gf_test_conv_halve_batch (&f);
  want = gf_test_conv_forward_and_reference (&f);
  assert_close ("y", f.y, want, f.y_size);
  gf_test_conv_clear (&f);
}

static void
add_case_tests (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const WinoCase *wc = &cases[i];
      g_autofree char *fwd = g_strdup_printf (
        "/engine/conv2d/winograd/forward/matches-reference/%s", wc->name);
      g_autofree char *bwd = g_strdup_printf (
        "/engine/conv2d/winograd/backward/matches-reference/%s", wc->name);
      g_autofree char *thr = g_strdup_printf (
        "/engine/conv2d/winograd/threads/identical/%s", wc->name);

      g_test_add_data_func (fwd, wc, test_forward);
      g_test_add_data_func (bwd, wc, test_backward);
      if (wc->c >= 16)
        g_test_add_data_func (thr, wc, test_threads_identical);
      if (wc->gradcheck)
        {
          g_autofree char *fd = g_strdup_printf (
            "/engine/conv2d/winograd/backward/gradcheck/%s", wc->name);

          g_test_add_data_func (fd, wc, test_gradcheck);
        }
    }
  g_test_add_func ("/engine/conv2d/winograd/backward/auto-few-tiles",
                   test_auto_few_tiles);
  g_test_add_func ("/engine/conv2d/winograd/blocks/matches-gemm",
                   test_blocks_match_gemm);
  g_test_add_data_func ("/engine/conv2d/winograd/threads/identical/blocks",
                        &blocked, test_threads_identical);
  for (size_t i = 0; i < G_N_ELEMENTS (realistic); i++)
    {
      g_autofree char *path = g_strdup_printf (
        "/engine/conv2d/winograd/rounding-error/%s", realistic[i].name);

      g_test_add_data_func (path, &realistic[i], test_rounding_error);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/conv2d/winograd/dispatch", test_dispatch);
  g_test_add_func ("/engine/conv2d/winograd/workspace/planned-batch",
                   test_workspace_planned_batch);
  add_case_tests ();
  return g_test_run ();
}
