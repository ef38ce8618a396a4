/* test-conv.c: the fast convolution kernels (pointwise GEMM, depthwise
 * loop, im2col + GEMM) against the naive reference loops and against
 * finite differences, over a sweep of shapes that reaches every path, each
 * GEMM case run per image, in chunks and as one batch (the kernels' two
 * ways of feeding OpenBLAS), with and without a fused activation; a few hand-computed outputs; the workspace
 * plan; and the attribute checks of gf_conv2d_init. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gf-test-conv.h"

/* Fast and reference kernels sum in different orders; they agree to a few
 * rounding errors of the precision. */
#ifdef GF_REAL_DOUBLE
#define COMPARE_RTOL 1e-12
#define COMPARE_ATOL 1e-12
#else
#define COMPARE_RTOL 1e-5
#define COMPARE_ATOL 1e-5
#endif

#define INPUT_RANGE GF_TEST_CONV_RANGE   /* as x, w, b and r */
#define SEED 20240611

typedef struct
{
  const char *name;
  size_t n, c, h, w, m;    /* batch, input channels, input H×W, outputs */
  size_t kh, kw, sh, sw, dh, dw;
  size_t pad[4];           /* top, left, bottom, right */
  size_t groups;
  bool bias;
} ConvCase;

/* Every path and attribute, on small odd shapes. */
static const ConvCase conv_cases[] = {
  /* name                      n  c  h  w  m  kh kw sh sw dh dw  pad   g  b */
  { "basic-3x3",               1, 2, 7, 5, 3, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 1, true },
  { "batch3-5x5-stride2",      3, 3, 9, 7, 4, 5, 5, 2, 2, 1, 1, { 2, 2, 2, 2 }, 1, true },
  { "groups2-no-bias",         2, 4, 6, 7, 6, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 2, false },
  { "groups3-asymmetric",      1, 6, 7, 5, 3, 3, 3, 2, 1, 1, 1, { 0, 1, 1, 0 }, 3, true },
  { "depthwise-3x3",           3, 4, 7, 5, 4, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 4, true },
  { "depthwise-5x5-stride2",   1, 3, 9, 8, 3, 5, 5, 2, 2, 1, 1, { 2, 2, 2, 2 }, 3, false },
  { "depthwise-dilation2-asym", 2, 2, 7, 6, 2, 3, 3, 1, 1, 2, 2, { 2, 1, 0, 3 }, 2, true },
  { "depthwise-1x3-stride2x3", 1, 3, 5, 9, 3, 1, 3, 2, 3, 1, 1, { 0, 1, 1, 1 }, 3, true },
  { "dilation2",               1, 3, 9, 7, 2, 3, 3, 1, 1, 2, 2, { 2, 2, 2, 2 }, 1, true },
  { "dilation2x1-stride2x3",   2, 2, 8, 9, 3, 3, 3, 2, 3, 2, 1, { 1, 0, 2, 1 }, 1, false },
  { "asymmetric-padding",      3, 2, 5, 7, 3, 3, 3, 1, 1, 1, 1, { 0, 2, 1, 0 }, 1, false },
  { "pointwise",               3, 5, 7, 5, 4, 1, 1, 1, 1, 1, 1, { 0, 0, 0, 0 }, 1, true },
  { "pointwise-groups2",       1, 4, 7, 5, 6, 1, 1, 1, 1, 1, 1, { 0, 0, 0, 0 }, 2, false },
  { "pointwise-stride2",       2, 3, 7, 5, 4, 1, 1, 2, 2, 1, 1, { 0, 0, 0, 0 }, 1, true },
  { "pointwise-padded",        1, 3, 4, 5, 2, 1, 1, 1, 1, 1, 1, { 1, 0, 0, 1 }, 1, true },
  { "kernel-1x3-stride1x2",    2, 3, 6, 7, 2, 1, 3, 1, 2, 1, 1, { 0, 1, 0, 1 }, 1, true },
  { "kernel-2x2-stride3",      1, 2, 7, 8, 2, 2, 2, 3, 3, 1, 1, { 0, 0, 0, 0 }, 1, true },
  { "kernel-fills-input",      3, 2, 5, 5, 2, 5, 5, 1, 1, 1, 1, { 0, 0, 0, 0 }, 1, true },
  { "kernel-wider-than-input", 1, 2, 2, 3, 3, 3, 5, 1, 1, 1, 1, { 1, 1, 1, 1 }, 1, false },
  /* Rows longer than the kernels' vector blocks, with a ragged tail. */
  { "depthwise-wide-rows",     2, 3, 4, 21, 3, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 3, true },
  { "wide-rows",               1, 2, 3, 19, 2, 3, 3, 1, 1, 1, 1, { 1, 2, 1, 0 }, 1, true },
  /* The 3×3 depthwise row kernel: its unchecked middle columns and the
   * border ones beside them, at strides 1 and 2 and every padding. */
  { "depthwise-3x3-stride2",       2, 3, 9, 8, 3, 3, 3, 2, 2, 1, 1, { 1, 1, 1, 1 }, 3, true },
  { "depthwise-3x3-stride2-odd",   1, 2, 7, 11, 2, 3, 3, 2, 2, 1, 1, { 0, 1, 1, 0 }, 2, false },
  { "depthwise-3x3-unpadded",      1, 2, 6, 9, 2, 3, 3, 1, 1, 1, 1, { 0, 0, 0, 0 }, 2, true },
  { "depthwise-3x3-narrow",        2, 2, 4, 2, 2, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 2, true },
  { "depthwise-3x3-wide-pads",     1, 2, 5, 3, 2, 3, 3, 1, 1, 1, 1, { 2, 2, 2, 2 }, 2, true },
  { "depthwise-3x3-stride2x1",     1, 2, 9, 10, 2, 3, 3, 2, 1, 1, 1, { 1, 0, 1, 2 }, 2, true },
  /* The padded-copy 3×3 kernels: MobileNet's small planes, the largest
   * stride-1 plane they take and the next wider one (the flat loop), a
   * stride-2 plane with TensorFlow's bottom-right padding, one too large
   * for the stack copy, and uneven padding of 2, whose last input row and
   * column no output reads. */
  { "depthwise-3x3-7x7",           2, 3, 7, 7, 3, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 3, true },
  { "depthwise-3x3-32x32",         1, 2, 32, 32, 2, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 2, true },
  { "depthwise-3x3-33-wide",       1, 2, 4, 33, 2, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 2, true },
  { "depthwise-3x3-stride2-same",  2, 3, 14, 14, 3, 3, 3, 2, 2, 1, 1, { 0, 0, 1, 1 }, 3, true },
  { "depthwise-3x3-stride2-large", 1, 2, 60, 240, 2, 3, 3, 2, 2, 1, 1, { 1, 1, 1, 1 }, 2, true },
  { "depthwise-3x3-stride2-pads2", 2, 2, 5, 6, 2, 3, 3, 2, 2, 1, 1, { 2, 1, 2, 2 }, 2, true },
  /* The AVX-512 3×3 kernels (gf-conv-depthwise.c) on this CPU, the
   * loops above in float64: a plane of more vectors than one table of
   * lane masks holds (256), and a single column. */
  { "depthwise-3x3-66x66",         1, 2, 66, 66, 2, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 2, true },
  { "depthwise-3x3-one-column",    2, 2, 6, 1, 2, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 2, true },
  /* Rows so long that the depthwise loops split the plane into blocks. */
  { "depthwise-row-blocks",    1, 2, 5, 701, 2, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 2, true },
  { "depthwise-row-blocks-strided", 1, 2, 9, 2100, 2, 3, 3, 2, 1, 2, 1, { 2, 1, 1, 1 }, 2, false },
  /* Batches whose images share GEMMs, with every attribute; "flat" cases
   * are stride 1 with OW == W, where im2col copies whole planes. */
  { "batch4-groups2-stride2-dil2", 4, 4, 9, 8, 6, 3, 3, 2, 2, 2, 2, { 2, 1, 1, 2 }, 2, true },
  { "batch5-pointwise-groups2",    5, 4, 3, 5, 6, 1, 1, 1, 1, 1, 1, { 0, 0, 0, 0 }, 2, false },
  { "flat-dilation2-asymmetric",   3, 3, 6, 7, 4, 3, 3, 1, 1, 2, 2, { 1, 1, 3, 3 }, 1, true },
  { "flat-unpadded-rows",          2, 2, 6, 5, 3, 3, 3, 1, 1, 1, 1, { 0, 1, 0, 1 }, 1, false },
  { "flat-groups3-batch3",         3, 6, 5, 6, 6, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 3, true },
  { "flat-padding-only-taps",      3, 2, 2, 3, 3, 3, 5, 1, 1, 1, 1, { 1, 2, 1, 2 }, 1, true },
  { "flat-wide-rows-batch2",       2, 3, 4, 21, 2, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 1, false },
};

/* How many images share one GEMM (GfConv2d.images_per_gemm): the kernels'
 * own choice, and forced settings that run every GEMM case per image (the
 * path large planes take), in chunks of two (odd batches end with a
 * one-image chunk) and as one batch (the path small planes take). */
typedef struct
{
  const char *name;
  size_t images_per_gemm;
} GemmBatching;

enum { BATCHING_AUTO, BATCHING_PER_IMAGE, BATCHING_CHUNKS, BATCHING_WHOLE };

static const GemmBatching batchings[] = {
  [BATCHING_AUTO]      = { "auto",        0 },
  [BATCHING_PER_IMAGE] = { "per-image",   1 },
  [BATCHING_CHUNKS]    = { "chunks-of-2", 2 },
  [BATCHING_WHOLE]     = { "whole-batch", SIZE_MAX },
};

/* One test's data: a shape under one batching. */
typedef struct
{
  const ConvCase *shape;
  const GemmBatching *batching;
} ConvRun;

static GfConv2d
conv_from_case (const ConvCase *cc)
{
  GfConv2d conv = {
    .batch = cc->n, .in_channels = cc->c, .in_h = cc->h, .in_w = cc->w,
    .out_channels = cc->m, .kernel_h = cc->kh, .kernel_w = cc->kw,
    .stride_h = cc->sh, .stride_w = cc->sw,
    .dilation_h = cc->dh, .dilation_w = cc->dw,
    .pad_top = cc->pad[0], .pad_left = cc->pad[1],
    .pad_bottom = cc->pad[2], .pad_right = cc->pad[3],
    .groups = cc->groups,
  };

  return conv;
}

/* The gradients of one backward call; any may be NULL. */
typedef struct
{
  gf_real *dx, *dw, *db;
} ConvGrads;

/* One run's tensors (see gf-test-conv.h). */
static void
fixture_init (GfTestConv *f, const ConvRun *run)
{
  GfConv2d conv = conv_from_case (run->shape);

  conv.images_per_gemm = run->batching->images_per_gemm;
  gf_test_conv_init (f, &conv, run->shape->bias, SEED);
}

static void
fast_backward (GfTestConv *f, const ConvGrads *g)
{
  gf_test_conv_backward (f, g->dx, g->dw, g->db);
}

static void
reference_backward (GfTestConv *f, const ConvGrads *g)
{
  gf_conv2d_backward_reference (&f->conv, f->x, f->w, f->r,
                                g->dx, g->dw, g->db);
}

/* dx full of NaN (it must be overwritten); dw and db hold @dw0 and @db0
 * (they must be accumulated onto); db is NULL without a bias. */
static void
grads_init (ConvGrads *g, const GfTestConv *f, const gf_real *dw0,
            const gf_real *db0)
{
  g->dx = gf_test_new (f->x_size);
  g->dw = g_memdup2 (dw0, f->w_size * sizeof *dw0);
  g->db = f->b != NULL ? g_memdup2 (db0, f->b_size * sizeof *db0) : NULL;
  gf_test_fill_nan (g->dx, f->x_size);
}

static void
grads_clear (ConvGrads *g)
{
  g_free (g->dx);
  g_free (g->dw);
  g_free (g->db);
}

/* Each element of dw and db sums N·OH·OW products whose rounding errors
 * grow like the square root of their count, and those sums can cancel
 * down to small values; their absolute slack grows to match. */
static void
grads_assert_close (const char *what, const ConvGrads *got,
                    const ConvGrads *want, const GfTestConv *f)
{
  g_autofree char *dx = g_strdup_printf ("%s dx", what);
  g_autofree char *dw = g_strdup_printf ("%s dw", what);
  g_autofree char *db = g_strdup_printf ("%s db", what);
  double terms = (double) f->conv.batch * f->conv.out_h * f->conv.out_w;
  double sum_atol = COMPARE_ATOL * sqrt (terms);

  if (got->dx != NULL)
    gf_test_assert_close (dx, got->dx, want->dx, f->x_size,
                          COMPARE_RTOL, COMPARE_ATOL);
  if (got->dw != NULL)
    gf_test_assert_close (dw, got->dw, want->dw, f->w_size,
                          COMPARE_RTOL, sum_atol);
  if (got->db != NULL)
    gf_test_assert_close (db, got->db, want->db, f->b_size,
                          COMPARE_RTOL, sum_atol);
}

static void
test_forward_matches_reference (gconstpointer data)
{
  GfTestConv f;
  g_autofree gf_real *want = NULL;

  fixture_init (&f, data);
  want = gf_test_conv_forward_and_reference (&f);
  gf_test_assert_close ("y", f.y, want, f.y_size, COMPARE_RTOL, COMPARE_ATOL);
  gf_test_conv_clear (&f);
}

static void
test_forward_fused (gconstpointer data)
{
  GfTestConv f;

  fixture_init (&f, data);
  gf_test_conv_assert_fused (&f);
  gf_test_conv_clear (&f);
}

/* A column matrix too large for L2 (ResNet's stem: 3 channels, 7×7,
 * stride 2) is made and multiplied in bands of output rows, the last one
 * shorter: the same as the reference, with a bias and with a fused
 * activation. */
static void
test_forward_bands (void)
{
  static const ConvCase stem =
    /* 147 × 50·50 columns, above the 2^18 elements banding starts at. */
    { "stem-7x7-stride2", 2, 3, 100, 100, 4, 7, 7, 2, 2, 1, 1,
      { 3, 3, 3, 3 }, 1, true };
  const ConvRun run = { &stem, &batchings[BATCHING_AUTO] };
  GfTestConv f;
  g_autofree gf_real *want = NULL;

  fixture_init (&f, &run);
  g_assert_cmpuint (f.conv.out_h, ==, 50);
  want = gf_test_conv_forward_and_reference (&f);
  gf_test_assert_close ("y", f.y, want, f.y_size, COMPARE_RTOL, COMPARE_ATOL);
  gf_test_conv_assert_fused (&f);
  gf_test_conv_clear (&f);
}

/* want = the reference gradients from zero, plus dw0 and db0: what an
 * accumulating backward must reach from dw0 and db0. */
static void
expected_grads (GfTestConv *f, const gf_real *dw0, const gf_real *db0,
                ConvGrads *want)
{
  g_autofree gf_real *zeros = gf_test_new (MAX (f->w_size, f->b_size));

  grads_init (want, f, zeros, zeros);
  reference_backward (f, want);
  for (size_t i = 0; i < f->w_size; i++)
    want->dw[i] += dw0[i];
  for (size_t i = 0; want->db != NULL && i < f->b_size; i++)
    want->db[i] += db0[i];
}

/* Each gradient alone, with the other two NULL, matches too. */
static void
assert_partial_backward (GfTestConv *f, const ConvGrads *want,
                         const gf_real *dw0, const gf_real *db0)
{
  ConvGrads all, one;

  grads_init (&all, f, dw0, db0);
  one = (ConvGrads) { all.dx, NULL, NULL };
  fast_backward (f, &one);
  one = (ConvGrads) { NULL, all.dw, NULL };
  fast_backward (f, &one);
  one = (ConvGrads) { NULL, NULL, all.db };
  if (all.db != NULL)
    fast_backward (f, &one);
  grads_assert_close ("one at a time", &all, want, f);
  grads_clear (&all);
}

static void
test_backward_matches_reference (gconstpointer data)
{
  GfTestConv f;
  GfRng rng;
  g_autofree gf_real *dw0 = NULL, *db0 = NULL;
  ConvGrads want, fast, reference;

  fixture_init (&f, data);
  dw0 = gf_test_new (f.w_size);
  db0 = gf_test_new (f.b_size);
  gf_rng_seed (&rng, SEED + 1);
  gf_test_fill_uniform (&rng, dw0, f.w_size, -INPUT_RANGE, INPUT_RANGE);
  gf_test_fill_uniform (&rng, db0, f.b_size, -INPUT_RANGE, INPUT_RANGE);
  expected_grads (&f, dw0, db0, &want);

  grads_init (&fast, &f, dw0, db0);
  fast_backward (&f, &fast);
  grads_assert_close ("fast", &fast, &want, &f);
  /* The reference keeps the same contract. */
  grads_init (&reference, &f, dw0, db0);
  reference_backward (&f, &reference);
  grads_assert_close ("reference", &reference, &want, &f);
  assert_partial_backward (&f, &want, dw0, db0);

  grads_clear (&want);
  grads_clear (&fast);
  grads_clear (&reference);
  gf_test_conv_clear (&f);
}

static void
test_backward_gradcheck (gconstpointer data)
{
  GfTestConv f;
  ConvGrads grads;
  g_autofree gf_real *zeros = NULL;

  fixture_init (&f, data);
  zeros = gf_test_new (MAX (f.w_size, f.b_size));
  grads_init (&grads, &f, zeros, zeros);
  fast_backward (&f, &grads);
  gf_test_gradcheck ("dx", f.x, f.x_size, grads.dx, gf_test_conv_loss,
                     &f, NULL);
  gf_test_gradcheck ("dw", f.w, f.w_size, grads.dw, gf_test_conv_loss,
                     &f, NULL);
  if (f.b != NULL)
    gf_test_gradcheck ("db", f.b, f.b_size, grads.db, gf_test_conv_loss,
                       &f, NULL);
  grads_clear (&grads);
  gf_test_conv_clear (&f);
}

/* Per image and as one batch, the GEMM paths agree with each other as
 * closely as with the reference: not bit for bit, since dW sums over the
 * images inside one GEMM on one path and across GEMM calls on the other. */
static void
test_batching_agrees (gconstpointer data)
{
  const ConvRun one = { data, &batchings[BATCHING_PER_IMAGE] };
  const ConvRun all = { data, &batchings[BATCHING_WHOLE] };
  GfTestConv a, b;
  ConvGrads ga, gb;
  g_autofree gf_real *zeros = NULL;

  fixture_init (&a, &one);
  fixture_init (&b, &all);
  /* The batched path's matrices span the batch: it did take that path. */
  g_assert_cmpuint (b.ws_size, >, a.ws_size);
  gf_test_conv_forward (&a);
  gf_test_conv_forward (&b);
  gf_test_assert_close ("y", b.y, a.y, a.y_size, COMPARE_RTOL, COMPARE_ATOL);
  zeros = gf_test_new (MAX (a.w_size, a.b_size));
  grads_init (&ga, &a, zeros, zeros);
  grads_init (&gb, &b, zeros, zeros);
  fast_backward (&a, &ga);
  fast_backward (&b, &gb);
  grads_assert_close ("batched", &gb, &ga, &a);
  grads_clear (&ga);
  grads_clear (&gb);
  gf_test_conv_clear (&a);
  gf_test_conv_clear (&b);
}

/* ---- Workspace plan ------------------------------------------------------ */

#define PLAN_BATCH 6

/* The graph sizes one workspace for its largest batch and runs smaller
 * batches in it: the size must never shrink as the batch grows.  Small
 * planes share GEMMs across images; large ones run per image and need no
 * more than one image's column matrix. */
static void
test_workspace_planned_batch (void)
{
  static const ConvCase small =
    { "small", 1, 4, 5, 5, 8, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 1, true };
  static const ConvCase large =
    { "large", PLAN_BATCH, 4, 64, 64, 8, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 },
      1, true };
  GfConv2d conv = conv_from_case (&small), one;

  gf_test_conv_assert_workspace_grows (&conv, PLAN_BATCH);
  one = conv;
  one.images_per_gemm = 1;
  g_assert_cmpuint (gf_conv2d_workspace_size (&conv), >,
                    gf_conv2d_workspace_size (&one));
  conv = conv_from_case (&large);
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  one = conv;
  one.images_per_gemm = 1;
  g_assert_cmpuint (gf_conv2d_workspace_size (&conv), ==,
                    gf_conv2d_workspace_size (&one));
}

/* A batch smaller than planned, in the planned workspace, is right too. */
static void
test_workspace_smaller_batch (void)
{
  static const ConvCase shape =
    { "smaller", PLAN_BATCH, 4, 5, 6, 6, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 },
      2, true };
  const ConvRun run = { &shape, &batchings[BATCHING_AUTO] };
  GfTestConv f;
  g_autofree gf_real *want = NULL;

  fixture_init (&f, &run);
  gf_test_conv_halve_batch (&f);
  want = gf_test_conv_forward_and_reference (&f);
  gf_test_assert_close ("y", f.y, want, f.y_size, COMPARE_RTOL, COMPARE_ATOL);
  gf_test_conv_clear (&f);
}

/* ---- Hand-computed values ---------------------------------------------- */

/* A cross-correlation, not a flipped convolution: the 3×3 input 1…9 under
 * the 2×2 kernel (1 2; 3 4) plus bias 0.5 gives (37.5 47.5; 67.5 77.5).
 * Run through the im2col path (one input channel, two identical filters)
 * and the depthwise path (two channels, the second input negated). */
#define KNOWN_H 3
#define KNOWN_K 2
#define KNOWN_OUT 4
#define KNOWN_BIAS 0.5

static void
assert_known (const ConvCase *cc, const gf_real *want)
{
  static const gf_real kernel[KNOWN_K * KNOWN_K] = { 1, 2, 3, 4 };
  GfConv2d conv = conv_from_case (cc);
  GfError error = { 0 };
  gf_real x[2 * KNOWN_H * KNOWN_H], w[2 * KNOWN_K * KNOWN_K];
  gf_real b[2] = { KNOWN_BIAS, KNOWN_BIAS };
  gf_real y[2 * KNOWN_OUT], y_ref[2 * KNOWN_OUT];
  g_autofree gf_real *workspace = NULL;

  g_assert_cmpint (gf_conv2d_init (&conv, &error), ==, GF_OK);
  for (size_t i = 0; i < KNOWN_H * KNOWN_H; i++)
    {
      x[i] = (gf_real) (i + 1);
      x[KNOWN_H * KNOWN_H + i] = -(gf_real) (i + 1);
    }
  memcpy (w, kernel, sizeof kernel);
  memcpy (w + KNOWN_K * KNOWN_K, kernel, sizeof kernel);
  workspace = gf_test_new (gf_conv2d_workspace_size (&conv));
  gf_conv2d_forward (&conv, x, w, b, y, workspace);
  gf_conv2d_forward_reference (&conv, x, w, b, y_ref);
  gf_test_assert_close ("fast", y, want, cc->m * KNOWN_OUT, 0, 0);
  gf_test_assert_close ("reference", y_ref, want, cc->m * KNOWN_OUT, 0, 0);
}

static void
test_forward_known_values (void)
{
  static const ConvCase two_filters =
    { "two-filters", 1, 1, KNOWN_H, KNOWN_H, 2, KNOWN_K, KNOWN_K, 1, 1, 1, 1,
      { 0, 0, 0, 0 }, 1, true };
  static const ConvCase depthwise =
    { "depthwise", 1, 2, KNOWN_H, KNOWN_H, 2, KNOWN_K, KNOWN_K, 1, 1, 1, 1,
      { 0, 0, 0, 0 }, 2, true };
  static const gf_real want_two_filters[2 * KNOWN_OUT] = {
    37.5, 47.5, 67.5, 77.5, 37.5, 47.5, 67.5, 77.5,
  };
  static const gf_real want_depthwise[2 * KNOWN_OUT] = {
    37.5, 47.5, 67.5, 77.5, -36.5, -46.5, -66.5, -76.5,
  };

  assert_known (&two_filters, want_two_filters);
  assert_known (&depthwise, want_depthwise);
}

/* ---- gf_conv2d_init ------------------------------------------------------ */

typedef struct
{
  ConvCase shape;
  size_t out_h, out_w;
} OutputSizeCase;

static void
test_init_output_size (void)
{
  /* PyTorch's floor((in + pads − (k − 1)·d − 1) / s) + 1. */
  static const OutputSizeCase cases[] = {
    { { "stem", 1, 3, 224, 224, 8, 3, 3, 2, 2, 1, 1, { 1, 1, 1, 1 }, 1, 0 },
      112, 112 },
    { { "uneven", 1, 1, 7, 8, 1, 3, 3, 2, 3, 1, 1, { 0, 0, 0, 0 }, 1, 0 },
      3, 2 },
    { { "dilated", 1, 1, 7, 9, 1, 3, 3, 1, 1, 2, 3, { 0, 0, 0, 0 }, 1, 0 },
      3, 3 },
    { { "asym", 1, 1, 5, 5, 1, 2, 2, 2, 2, 1, 1, { 0, 3, 1, 0 }, 1, 0 },
      3, 4 },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GfConv2d conv = conv_from_case (&cases[i].shape);

      g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
      g_assert_cmpuint (conv.out_h, ==, cases[i].out_h);
      g_assert_cmpuint (conv.out_w, ==, cases[i].out_w);
    }
}

/* 1×1 stride-1 unpadded runs on x as it lies, even grouped, from 15×15
 * planes up: no im2col buffer.  Smaller planes put the batch's images side
 * by side in one GEMM, (C/g + M/g) · N · H·W elements. */
static void
test_workspace_pointwise (void)
{
  static const ConvCase large =
    { "pointwise-groups2", 3, 4, 15, 15, 6, 1, 1, 1, 1, 1, 1, { 0, 0, 0, 0 },
      2, true };
  ConvCase small = large;
  GfConv2d conv = conv_from_case (&large);

  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_cmpuint (gf_conv2d_workspace_size (&conv), ==, 0);
  small.h = 14;
  small.w = 14;
  conv = conv_from_case (&small);
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  g_assert_cmpuint (gf_conv2d_workspace_size (&conv), ==,
                    (2 + 3) * 3 * 14 * 14);
}

typedef struct
{
  ConvCase shape;
  GfStatus status;
} BadConvCase;

#define HUGE_SIZE ((size_t) 1 << 20)

static const BadConvCase bad_cases[] = {
  { { "zero-stride", 1, 2, 5, 5, 2, 3, 3, 0, 1, 1, 1, { 0 }, 1, 0 },
    GF_ERR_INVALID },
  { { "zero-dilation", 1, 2, 5, 5, 2, 3, 3, 1, 1, 1, 0, { 0 }, 1, 0 },
    GF_ERR_INVALID },
  { { "zero-groups", 1, 2, 5, 5, 2, 3, 3, 1, 1, 1, 1, { 0 }, 0, 0 },
    GF_ERR_INVALID },
  { { "zero-size", 1, 2, 0, 5, 2, 3, 3, 1, 1, 1, 1, { 0 }, 1, 0 },
    GF_ERR_INVALID },
  { { "channels-not-divisible", 1, 5, 5, 5, 4, 3, 3, 1, 1, 1, 1, { 0 }, 2, 0 },
    GF_ERR_SHAPE },
  { { "outputs-not-divisible", 1, 4, 5, 5, 3, 3, 3, 1, 1, 1, 1, { 0 }, 2, 0 },
    GF_ERR_SHAPE },
  { { "kernel-too-big", 1, 2, 4, 4, 2, 5, 5, 1, 1, 1, 1, { 0 }, 1, 0 },
    GF_ERR_SHAPE },
  { { "dilated-kernel-too-big", 1, 2, 6, 6, 2, 3, 3, 1, 1, 3, 3,
      { 0 }, 1, 0 }, GF_ERR_SHAPE },
  { { "padding-overflows", 1, 2, 5, 5, 2, 3, 3, 1, 1, 1, 1,
      { SIZE_MAX, 0, 1, 0 }, 1, 0 }, GF_ERR_INVALID },
  { { "dilation-overflows", 1, 2, 5, 5, 2, 3, 3, 1, 1, SIZE_MAX, 1,
      { 0 }, 1, 0 }, GF_ERR_INVALID },
  { { "sizes-overflow", 1, HUGE_SIZE, HUGE_SIZE, HUGE_SIZE, 2, 1, 1, 1, 1,
      1, 1, { 0 }, 1, 0 }, GF_ERR_INVALID },
};

static void
test_init_rejects (gconstpointer data)
{
  const BadConvCase *bad = data;
  GfConv2d conv = conv_from_case (&bad->shape);
  GfError error = { 0 };

  g_assert_cmpint (gf_conv2d_init (&conv, &error), ==, bad->status);
  g_assert_cmpint (error.status, ==, bad->status);
  g_assert_true (g_str_has_prefix (error.message, "conv2d: "));
  g_assert_null (strchr (error.message, '\n'));
  g_test_message ("%s", error.message);
  /* Without a GfError it fails the same way. */
  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, bad->status);
}

/* The depthwise loop has no GEMM to batch: its cases run once. */
static size_t
batchings_for (const ConvCase *cc)
{
  bool depthwise = cc->groups == cc->c && cc->groups == cc->m;

  return depthwise ? 1 : G_N_ELEMENTS (batchings);
}

/* A pointwise plane whose input and output rows pass 2¹⁸ elements: its
 * forward product runs in bands of columns, the last one partial, each
 * band's bias and activation added before the next.  Forward only (the
 * backward is not banded), and no finite differences over sums this long. */
static const ConvCase column_bands =
  { "pointwise-column-bands", 2, 8, 128, 130, 8, 1, 1, 1, 1, 1, 1,
    { 0, 0, 0, 0 }, 1, true };
static const ConvRun column_bands_run =
  { &column_bands, &batchings[BATCHING_AUTO] };

static void
add_case_tests (void)
{
  static const char *const kinds[] = {
    "forward/matches-reference",
    "forward/fused-activation",
    "backward/matches-reference",
    "backward/gradcheck",
  };
  static const GTestDataFunc funcs[] = {
    test_forward_matches_reference,
    test_forward_fused,
    test_backward_matches_reference,
    test_backward_gradcheck,
  };

  for (size_t k = 0; k < G_N_ELEMENTS (kinds); k++)
    for (size_t i = 0; i < G_N_ELEMENTS (conv_cases); i++)
      for (size_t j = 0; j < batchings_for (&conv_cases[i]); j++)
        {
          ConvRun run = { &conv_cases[i], &batchings[j] };
          g_autofree char *path = g_strdup_printf ("/engine/conv2d/%s/%s/%s",
                                                   kinds[k], run.shape->name,
                                                   run.batching->name);

          g_test_add_data_func_full (path, g_memdup2 (&run, sizeof run),
                                     funcs[k], g_free);
        }
  g_test_add_data_func ("/engine/conv2d/forward/matches-reference/"
                        "pointwise-column-bands", &column_bands_run,
                        test_forward_matches_reference);
  g_test_add_data_func ("/engine/conv2d/forward/fused-activation/"
                        "pointwise-column-bands", &column_bands_run,
                        test_forward_fused);
  for (size_t i = 0; i < G_N_ELEMENTS (conv_cases); i++)
    if (batchings_for (&conv_cases[i]) > 1 && conv_cases[i].n > 1)
      {
        g_autofree char *path = g_strdup_printf (
          "/engine/conv2d/batching/agrees/%s", conv_cases[i].name);

        g_test_add_data_func (path, &conv_cases[i], test_batching_agrees);
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/conv2d/init/output-size", test_init_output_size);
  for (size_t i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/conv2d/init/rejects/%s",
                                               bad_cases[i].shape.name);

      g_test_add_data_func (path, &bad_cases[i], test_init_rejects);
    }
  g_test_add_func ("/engine/conv2d/workspace/pointwise",
                   test_workspace_pointwise);
  g_test_add_func ("/engine/conv2d/workspace/planned-batch",
                   test_workspace_planned_batch);
  g_test_add_func ("/engine/conv2d/workspace/smaller-batch",
                   test_workspace_smaller_batch);
  g_test_add_func ("/engine/conv2d/forward/known-values",
                   test_forward_known_values);
  g_test_add_func ("/engine/conv2d/forward/bands", test_forward_bands);
  add_case_tests ();
  return g_test_run ();
}
