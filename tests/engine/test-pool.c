/* test-pool.c: MaxPool and AveragePool against a naive reference over a
 * sweep of shapes, against values from PyTorch for the corner rules
 * (ceil mode, count_include_pad, ties), backward by central differences;
 * GlobalAveragePool; and the attribute checks of gf_pool2d_init. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ops/gf-pool.h"
#include "gf-test-util.h"

#ifdef GF_REAL_DOUBLE
#define AVG_RTOL 1e-12
#define AVG_ATOL 1e-12
#else
#define AVG_RTOL 1e-5
#define AVG_ATOL 1e-6
#endif

#define SWEEP_BATCH 2
#define SWEEP_CHANNELS 3
/* Max-pool gradient checks use distinct values this far apart: far above
 * the largest finite-difference step (1e-2), so no perturbation changes
 * which element of a window is the maximum. */
#define MAX_VALUE_GAP 0.1

typedef struct
{
  const char *name;
  GfPool2d pool;   /* batch and channels are filled in by the test */
  bool max_only;   /* dilated: AveragePool takes no dilation */
} PoolCase;

#define POOL(ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, ceil, cip) \
  { .in_h = ih, .in_w = iw, .kernel_h = kh, .kernel_w = kw,             \
    .stride_h = sh, .stride_w = sw, .dilation_h = dh, .dilation_w = dw, \
    .pad_top = pt, .pad_left = pl, .pad_bottom = pb, .pad_right = pr,   \
    .ceil_mode = ceil, .count_include_pad = cip }

static const PoolCase pool_cases[] = {
  { "odd-7x5-k3-s2", POOL (7, 5, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0) },
  { "s1-k3-9x9", POOL (9, 9, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0) },
  { "s1-k3-pad1-same", POOL (6, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1) },
  { "k2-s2-8x8", POOL (8, 8, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0) },
  { "k3-s2-pad1-floor", POOL (7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0) },
  { "k3-s2-pad1-ceil-include-pad",
    POOL (6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1) },
  { "k3-s2-pad1-ceil-exclude-pad",
    POOL (6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0) },
  { "ceil-drops-last-window",
    POOL (10, 5, 4, 2, 3, 2, 1, 1, 2, 1, 2, 1, 1, 1) },
  { "asym-pad-include-pad", POOL (7, 6, 3, 3, 2, 2, 1, 1, 0, 1, 2, 0, 0, 1) },
  /* Overhangs the padded extent at the bottom and right, where the pads
   * differ from the top and left ones. */
  { "asym-pad-ceil-include-pad",
    POOL (8, 7, 3, 3, 2, 2, 1, 1, 0, 1, 2, 0, 1, 1) },
  { "asym-pad-ceil-exclude-pad",
    POOL (8, 7, 3, 3, 2, 2, 1, 1, 2, 0, 1, 2, 1, 0) },
  { "rect-k2x3-s1x2", POOL (5, 9, 2, 3, 1, 2, 1, 1, 1, 2, 0, 1, 0, 1) },
  { "stride-beyond-kernel", POOL (9, 10, 2, 2, 3, 3, 1, 1, 0, 1, 1, 0, 1, 0) },
  { "out-1x1", POOL (5, 4, 5, 4, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0) },
  { "k1", POOL (3, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0) },
  /* Wider than the average backward's stack chunk of outputs. */
  { "wide-row-600", POOL (3, 600, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0) },
  { "dilation2-s1-pad1", POOL (9, 8, 3, 3, 1, 1, 2, 2, 1, 1, 1, 1, 0, 0),
    true },
  { "dilation2-s2-ceil", POOL (8, 8, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0),
    true },
  { "dilation-2x3-asym", POOL (7, 11, 2, 3, 2, 1, 3, 2, 1, 0, 0, 2, 0, 0),
    true },
};

static GfPool2d
case_pool (const PoolCase *pc)
{
  GfPool2d pool = pc->pool;
  GfError error = { 0 };

  pool.batch = SWEEP_BATCH;
  pool.channels = SWEEP_CHANNELS;
  g_assert_cmpint (gf_pool2d_init (&pool, &error), ==, GF_OK);
  return pool;
}

static size_t
in_size (const GfPool2d *p)
{
  return p->batch * p->channels * p->in_h * p->in_w;
}

static size_t
out_size (const GfPool2d *p)
{
  return p->batch * p->channels * p->out_h * p->out_w;
}

/* One window by its definition: every tap position, tested against the
 * input and the padded input.  Returns the max or the average. */
static double
reference_window (const GfPool2d *p, const gf_real *plane, size_t oh,
                  size_t ow, bool is_max)
{
  double acc = is_max ? -INFINITY : 0.0;
  long inside = 0, in_padded = 0;

  for (long kh = 0; kh < (long) p->kernel_h; kh++)
    for (long kw = 0; kw < (long) p->kernel_w; kw++)
      {
        long ih = (long) (oh * p->stride_h) - (long) p->pad_top
                  + kh * (long) p->dilation_h;
        long iw = (long) (ow * p->stride_w) - (long) p->pad_left
                  + kw * (long) p->dilation_w;

        if (ih >= -(long) p->pad_top && ih < (long) (p->in_h + p->pad_bottom)
            && iw >= -(long) p->pad_left
            && iw < (long) (p->in_w + p->pad_right))
          in_padded++;
        if (ih < 0 || ih >= (long) p->in_h || iw < 0 || iw >= (long) p->in_w)
          continue;
        inside++;
        acc = is_max ? fmax (acc, plane[ih * p->in_w + iw])
                     : acc + plane[ih * p->in_w + iw];
      }
  if (is_max)
    return acc;
  return acc / (double) (p->count_include_pad ? in_padded : inside);
}

static void
reference_pool (const GfPool2d *p, const gf_real *x, bool is_max, gf_real *y)
{
  for (size_t pl = 0; pl < p->batch * p->channels; pl++)
    for (size_t oh = 0; oh < p->out_h; oh++)
      for (size_t ow = 0; ow < p->out_w; ow++)
        y[(pl * p->out_h + oh) * p->out_w + ow] = (gf_real)
          reference_window (p, x + pl * p->in_h * p->in_w, oh, ow, is_max);
}

static void
check_forward (const PoolCase *pc, bool is_max)
{
  GfPool2d pool = case_pool (pc);
  GfRng rng;
  g_autofree gf_real *x = gf_test_new (in_size (&pool));
  g_autofree gf_real *y = gf_test_new (out_size (&pool));
  g_autofree gf_real *want = gf_test_new (out_size (&pool));

  gf_rng_seed (&rng, is_max ? 10 : 11);
  /* All negative for max: a padding value of 0 would win somewhere. */
  gf_test_fill_uniform (&rng, x, in_size (&pool), is_max ? -3.0 : -1.0,
                        is_max ? -0.5 : 1.0);
  if (is_max)
    gf_maxpool2d_forward (&pool, x, y);
  else
    gf_avgpool2d_forward (&pool, x, y);
  reference_pool (&pool, x, is_max, want);
  gf_test_assert_close ("y", y, want, out_size (&pool),
                        is_max ? 0.0 : AVG_RTOL, is_max ? 0.0 : AVG_ATOL);
}

static void
test_max_forward (gconstpointer data)
{
  check_forward (data, true);
}

static void
test_avg_forward (gconstpointer data)
{
  check_forward (data, false);
}

/* x (n) = a random permutation of (i − n/2)·MAX_VALUE_GAP: every value
 * distinct, so each window's maximum is unique and stays so under the
 * finite-difference perturbation. */
static void
fill_distinct (GfRng *rng, gf_real *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (gf_real) (((double) i - (double) n / 2) * MAX_VALUE_GAP);
  for (size_t i = n - 1; i > 0; i--)
    {
      size_t j = gf_rng_below (rng, (uint32_t) (i + 1));
      gf_real t = x[i];

      x[i] = x[j];
      x[j] = t;
    }
}

typedef struct
{
  const GfPool2d *pool;
  gf_real *x, *y;
  const gf_real *dy, *y0;
  bool is_max;
} PoolLoss;

static void
pool_forward (const PoolLoss *l, gf_real *y)
{
  if (l->is_max)
    gf_maxpool2d_forward (l->pool, l->x, y);
  else
    gf_avgpool2d_forward (l->pool, l->x, y);
}

/* Σ dy·(y − y0), so that dL/dy is dy.  Subtracting the unperturbed output
 * y0 keeps the sum small: with max-pool values up to ~10^3, Σ dy·y itself
 * would be so large that its rounding swamps the float64 difference. */
static double
pool_loss (void *user_data)
{
  PoolLoss *l = user_data;
  double sum = 0.0;

  pool_forward (l, l->y);
  for (size_t i = 0; i < out_size (l->pool); i++)
    sum += (double) l->dy[i] * ((double) l->y[i] - (double) l->y0[i]);
  return sum;
}

static void
check_gradient (const PoolCase *pc, bool is_max)
{
  GfPool2d pool = case_pool (pc);
  GfRng rng;
  g_autofree gf_real *x = gf_test_new (in_size (&pool));
  g_autofree gf_real *dx = gf_test_new (in_size (&pool));
  g_autofree gf_real *y = gf_test_new (out_size (&pool));
  g_autofree gf_real *dy = gf_test_new (out_size (&pool));
  g_autofree gf_real *y0 = gf_test_new (out_size (&pool));
  PoolLoss loss = { &pool, x, y, dy, y0, is_max };

  gf_rng_seed (&rng, is_max ? 20 : 21);
  if (is_max)
    fill_distinct (&rng, x, in_size (&pool));
  else
    gf_test_fill_uniform (&rng, x, in_size (&pool), -1.0, 1.0);
  gf_test_fill_uniform (&rng, dy, out_size (&pool), -1.0, 1.0);
  pool_forward (&loss, y0);
  /* Poison dx: backward must overwrite it. */
  for (size_t i = 0; i < in_size (&pool); i++)
    dx[i] = NAN;
  if (is_max)
    gf_maxpool2d_backward (&pool, x, dy, dx);
  else
    gf_avgpool2d_backward (&pool, dy, dx);
  gf_test_gradcheck ("dx", x, in_size (&pool), dx, pool_loss, &loss, NULL);
}

static void
test_max_gradcheck (gconstpointer data)
{
  check_gradient (data, true);
}

static void
test_avg_gradcheck (gconstpointer data)
{
  check_gradient (data, false);
}

/* Inputs of the PyTorch cases: small integers, exact in float. */
static const gf_real x6x6[] = {
  -5, 2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5, 2, -2, 5, 1, -3, 4,
  0, -4, 3, -1, -5, 2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5, 2, -2,
};
static const gf_real x5x5[] = {
  -5, 2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5, 2, -2, 5, 1, -3, 4, 0, -4,
  3, -1, -5, 2, -2,
};
static const gf_real x8x8[] = {
  -6, -1, 4, -4, 1, 6, -2, 3, -5, 0, 5, -3, 2, -6, -1, 4,
  -4, 1, 6, -2, 3, -5, 0, 5, -3, 2, -6, -1, 4, -4, 1, 6,
  -2, 3, -5, 0, 5, -3, 2, -6, -1, 4, -4, 1, 6, -2, 3, -5,
  0, 5, -3, 2, -6, -1, 4, -4, 1, 6, -2, 3, -5, 0, 5, -3,
};

/* One call of F.avg_pool2d / F.max_pool2d on a (1, 1, n, n) input with
 * square kernel, stride, padding and dilation, and its output. */
typedef struct
{
  const char *name;
  const gf_real *x;
  size_t in, kernel, stride, pad, dilation;
  bool ceil_mode, count_include_pad, is_max;
  size_t out;
  gf_real want[16];
} TorchCase;

static const TorchCase torch_cases[] = {
  { "avg-6x6-k3-s2-pad1-ceil-include-pad", x6x6, 6, 3, 2, 1, 1,
    true, true, false, 4,
    { 1 / 9.0, 4 / 9.0, 0, -4 / 3.0, 0, 1 / 9.0, -5 / 9.0, 1 / 6.0,
      -2 / 9.0, -2 / 9.0, -8 / 9.0, 0, -1 / 6.0, -0.5, -5 / 6.0, -0.5 } },
  { "avg-6x6-k3-s2-pad1-ceil-exclude-pad", x6x6, 6, 3, 2, 1, 1,
    true, false, false, 4,
    { 0.25, 2 / 3.0, 0, -4, 0, 1 / 9.0, -5 / 9.0, 1 / 3.0,
      -1 / 3.0, -2 / 9.0, -8 / 9.0, 0, -0.5, -1, -5 / 3.0, -2 } },
  { "avg-5x5-k2-s2-pad1-ceil-include-pad", x5x5, 5, 2, 2, 1, 1,
    true, true, false, 3,
    { -1.25, 0, 1.5, -1, 0.25, 0.5, 1, -1.25, -1 } },
  { "avg-5x5-k2-s2-pad1-ceil-exclude-pad", x5x5, 5, 2, 2, 1, 1,
    true, false, false, 3,
    { -5, 0, 3, -2, 0.25, 0.5, 2, -1.25, -1 } },
  { "max-8x8-k3-s2-pad1-dilation2-ceil", x8x8, 8, 3, 2, 1, 2,
    true, false, true, 4,
    { 2, 2, 6, 6, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6, 3, 0 } },
};

static GfPool2d
square_pool (size_t in, size_t kernel, size_t stride, size_t pad,
             size_t dilation, bool ceil_mode, bool count_include_pad)
{
  GfPool2d pool = POOL (in, in, kernel, kernel, stride, stride, dilation,
                        dilation, pad, pad, pad, pad, ceil_mode,
                        count_include_pad);
  GfError error = { 0 };

  pool.batch = pool.channels = 1;
  g_assert_cmpint (gf_pool2d_init (&pool, &error), ==, GF_OK);
  return pool;
}

static void
test_torch_forward (gconstpointer data)
{
  const TorchCase *tc = data;
  GfPool2d pool = square_pool (tc->in, tc->kernel, tc->stride, tc->pad,
                               tc->dilation, tc->ceil_mode,
                               tc->count_include_pad);
  gf_real y[16];

  g_assert_cmpuint (pool.out_h, ==, tc->out);
  g_assert_cmpuint (pool.out_w, ==, tc->out);
  if (tc->is_max)
    gf_maxpool2d_forward (&pool, tc->x, y);
  else
    gf_avgpool2d_forward (&pool, tc->x, y);
  gf_test_assert_close ("y", y, tc->want, tc->out * tc->out,
                        AVG_RTOL, AVG_ATOL);
}

/* With ties the gradient goes to the first maximum in scan order: x has
 * period 3 along rows, so every 3×3 window holds several 2s.  dy is
 * 1, 2, …, 25; dx is what PyTorch's max_pool2d backward gives. */
static void
test_max_backward_ties (void)
{
  static const gf_real want_dx[] = {
    0, 0, 33, 0, 0, 30, 0, 0, 57, 0, 0, 51, 0, 0, 39, 0, 0, 69, 0, 0,
    21, 0, 0, 25, 0,
  };
  GfPool2d pool = square_pool (5, 3, 1, 1, 1, false, false);
  gf_real x[25], dy[25], dx[25], y[25];

  for (int i = 0; i < 25; i++)
    {
      x[i] = (gf_real) (i % 3);
      dy[i] = (gf_real) (i + 1);
    }
  gf_maxpool2d_forward (&pool, x, y);
  for (int i = 0; i < 25; i++)
    g_assert_cmpfloat (y[i], ==, 2);
  gf_maxpool2d_backward (&pool, x, dy, dx);
  gf_test_assert_close ("dx", dx, want_dx, 25, 0.0, 0.0);
}

/* Padding never wins, even when every real value is negative. */
static void
test_max_negative_padding (void)
{
  static const gf_real x[] = { -1, -4, -2, -5, -3, -1, -4, -2,
                               -5, -3, -1, -4, -2, -5, -3, -1 };
  static const gf_real want[] = { -1, -1, -2, -1, -1, -1, -2, -1, -1 };
  GfPool2d pool = square_pool (4, 3, 2, 1, 1, true, false);
  gf_real y[9];

  g_assert_cmpuint (pool.out_h, ==, 3);
  gf_maxpool2d_forward (&pool, x, y);
  gf_test_assert_close ("y", y, want, 9, 0.0, 0.0);
}

/* Output lengths from PyTorch (max_pool2d's shape) along one axis. */
static void
test_output_size (void)
{
  static const struct
  {
    size_t in, kernel, stride, pad, dilation;
    bool ceil_mode;
    size_t out;
  } sizes[] = {
    { 5, 2, 2, 1, 1, true, 3 },   /* last ceil window dropped */
    { 10, 4, 3, 2, 1, true, 4 },  /* dropped too */
    { 6, 3, 2, 1, 1, true, 4 },   /* kept though it overhangs */
    { 6, 3, 2, 1, 1, false, 3 },
    { 8, 3, 2, 1, 2, true, 4 },
    { 224, 3, 2, 1, 1, false, 112 },
    { 7, 7, 1, 0, 1, false, 1 },
    { 13, 3, 2, 0, 1, true, 6 },
    { 14, 3, 2, 0, 1, true, 7 },
    { 14, 3, 2, 0, 1, false, 6 },
    { 9, 3, 3, 1, 1, true, 4 },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      GfPool2d pool = square_pool (sizes[i].in, sizes[i].kernel,
                                   sizes[i].stride, sizes[i].pad,
                                   sizes[i].dilation, sizes[i].ceil_mode,
                                   false);

      g_assert_cmpuint (pool.out_h, ==, sizes[i].out);
      g_assert_cmpuint (pool.out_w, ==, sizes[i].out);
    }
}

typedef struct
{
  size_t batch, channels, spatial;
} GlobalCase;

static const GlobalCase global_cases[] = {
  { 2, 3, 7 }, { 1, 1, 1 }, { 3, 2, 49 }, { 1, 5, 2 },
};

typedef struct
{
  const GlobalCase *gc;
  gf_real *x, *y;
  const gf_real *dy;
} GlobalLoss;

static double
global_loss (void *user_data)
{
  GlobalLoss *l = user_data;

  gf_global_avgpool_forward (l->gc->batch, l->gc->channels, l->gc->spatial,
                             l->x, l->y);
  return gf_test_dot (l->dy, l->y, l->gc->batch * l->gc->channels);
}

/* Forward against the plain mean of each plane, backward by gradcheck. */
static void
test_global_avgpool (gconstpointer data)
{
  const GlobalCase *gc = data;
  size_t planes = gc->batch * gc->channels, n = planes * gc->spatial;
  g_autofree gf_real *x = gf_test_new (n), *dx = gf_test_new (n);
  g_autofree gf_real *y = gf_test_new (planes), *dy = gf_test_new (planes);
  g_autofree gf_real *want = gf_test_new (planes);
  GlobalLoss loss = { gc, x, y, dy };
  GfRng rng;

  gf_rng_seed (&rng, 30);
  gf_test_fill_uniform (&rng, x, n, -1.0, 2.0);
  gf_test_fill_uniform (&rng, dy, planes, -1.0, 1.0);
  for (size_t p = 0; p < planes; p++)
    {
      double sum = 0.0;

      for (size_t s = 0; s < gc->spatial; s++)
        sum += x[p * gc->spatial + s];
      want[p] = (gf_real) (sum / (double) gc->spatial);
    }
  gf_global_avgpool_forward (gc->batch, gc->channels, gc->spatial, x, y);
  gf_test_assert_close ("y", y, want, planes, AVG_RTOL, AVG_ATOL);
  gf_global_avgpool_backward (gc->batch, gc->channels, gc->spatial, dy, dx);
  gf_test_gradcheck ("dx", x, n, dx, global_loss, &loss, NULL);
}

typedef struct
{
  const char *name;
  GfPool2d pool;
  GfStatus status;
  const char *message_part;
  size_t batch;   /* 0 for 1 */
} RejectCase;

static const RejectCase reject_cases[] = {
  { "kernel-zero", POOL (4, 4, 0, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0),
    GF_ERR_INVALID, "kernel" },
  { "stride-zero", POOL (4, 4, 2, 2, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0),
    GF_ERR_INVALID, "stride" },
  { "dilation-zero", POOL (4, 4, 2, 2, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0),
    GF_ERR_INVALID, "dilation" },
  { "pad-equals-kernel", POOL (4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 2, 0, 0, 0),
    GF_ERR_INVALID, "padding" },
  { "pad-beyond-kernel", POOL (4, 4, 3, 2, 1, 1, 1, 1, 0, 5, 0, 0, 0, 0),
    GF_ERR_INVALID, "padding" },
  { "window-beyond-input", POOL (2, 5, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0),
    GF_ERR_SHAPE, "empty output" },
  { "dilated-window-beyond-input",
    POOL (5, 4, 3, 3, 1, 1, 1, 2, 0, 0, 0, 0, 0, 0),
    GF_ERR_SHAPE, "empty output" },
  { "input-empty", POOL (0, 4, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0),
    GF_ERR_SHAPE, "zero" },
  { "input-overflow", POOL (SIZE_MAX - 1, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
                            0, 0), GF_ERR_SHAPE, "overflow" },
  { "dilation-overflow", POOL (4, 4, 3, 3, 1, 1, SIZE_MAX / 2, 1, 0, 0, 0,
                               0, 0, 0), GF_ERR_SHAPE, "overflow" },
  /* 2^30 planes of 2^20·2^20 values overflow 64 bits. */
  { "tensor-overflow", POOL ((size_t) 1 << 20, (size_t) 1 << 20, 1, 1, 1, 1,
                             1, 1, 0, 0, 0, 0, 0, 0), GF_ERR_SHAPE,
    "overflow", (size_t) 1 << 30 },
};

static void
test_init_rejects (gconstpointer data)
{
  const RejectCase *rc = data;
  GfPool2d pool = rc->pool;
  GfError error = { 0 };

  pool.batch = MAX (rc->batch, 1);
  pool.channels = 1;
  g_assert_cmpint (gf_pool2d_init (&pool, &error), ==, rc->status);
  g_assert_cmpint (error.status, ==, rc->status);
  g_assert_nonnull (strstr (error.message, rc->message_part));
  g_assert_null (strchr (error.message, '\n'));
  g_assert_cmpuint (pool.out_h, ==, 0);
  g_assert_cmpuint (pool.out_w, ==, 0);
  /* A NULL error is allowed and gives the same status. */
  pool = rc->pool;
  pool.batch = MAX (rc->batch, 1);
  pool.channels = 1;
  g_assert_cmpint (gf_pool2d_init (&pool, NULL), ==, rc->status);
}

static void
add_pool_sweep (const char *prefix, GTestDataFunc func, bool with_dilated)
{
  for (size_t i = 0; i < G_N_ELEMENTS (pool_cases); i++)
    {
      g_autofree char *path = NULL;

      if (pool_cases[i].max_only && !with_dilated)
        continue;
      path = g_strdup_printf ("%s/%s", prefix, pool_cases[i].name);
      g_test_add_data_func (path, &pool_cases[i], func);
    }
}

static void
add_other_tests (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (torch_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/pool/pytorch/%s",
                                               torch_cases[i].name);
      g_test_add_data_func (path, &torch_cases[i], test_torch_forward);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (global_cases); i++)
    {
      const GlobalCase *gc = &global_cases[i];
      g_autofree char *path = g_strdup_printf (
        "/engine/pool/global-avg/n%zu-c%zu-s%zu", gc->batch, gc->channels,
        gc->spatial);
      g_test_add_data_func (path, gc, test_global_avgpool);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (reject_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/pool/init/rejects/%s",
                                               reject_cases[i].name);
      g_test_add_data_func (path, &reject_cases[i], test_init_rejects);
    }
}

/* A NaN anywhere in a window makes that window's maximum NaN, as in
 * PyTorch, and no other's, wherever in the window it lies: one NaN at a
 * time at every input position, through ResNet's 3×3 stride-2 pool
 * (whose rows are reduced down the window first), a 2×2 one and a
 * dilated one. */
static void
test_max_nan_wins (void)
{
  static const PoolCase cases[] = {
    { "resnet", POOL (9, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0) },
    { "vgg", POOL (8, 6, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0) },
    { "dilated", POOL (9, 7, 2, 3, 1, 2, 2, 1, 1, 0, 0, 1, 0, 0) },
  };

  for (size_t c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      GfPool2d pool = cases[c].pool;
      size_t n_in, n_out;
      g_autofree gf_real *x = NULL, *y = NULL, *want = NULL;
      GfRng rng;

      pool.batch = pool.channels = 1;
      g_assert_cmpint (gf_pool2d_init (&pool, NULL), ==, GF_OK);
      n_in = in_size (&pool);
      n_out = out_size (&pool);
      x = gf_test_new (n_in);
      y = gf_test_new (n_out);
      want = gf_test_new (n_out);
      gf_rng_seed (&rng, 12);
      for (size_t at = 0; at < n_in; at++)
        {
          gf_test_fill_uniform (&rng, x, n_in, -3.0, -0.5);
          reference_pool (&pool, x, true, want);
          x[at] = NAN;
          gf_maxpool2d_forward (&pool, x, y);
          for (size_t o = 0; o < n_out; o++)
            {
              size_t oh = o / pool.out_w, ow = o % pool.out_w;
              gf_real before = x[at];
              bool covers;

              /* The window covers @at when the reference changes with it. */
              x[at] = 1e6;
              covers = reference_window (&pool, x, oh, ow, true) == 1e6;
              x[at] = before;
              if (covers)
                {
                  if (!isnan (y[o]))
                    g_test_fail_printf ("%s: NaN at %zu, output %zu is %g",
                                        cases[c].name, at, o, (double) y[o]);
                }
              else if (y[o] != want[o])
                g_test_fail_printf ("%s: NaN at %zu, output %zu is %g, not "
                                    "%g", cases[c].name, at, o,
                                    (double) y[o], (double) want[o]);
            }
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/pool/init/output-size", test_output_size);
  add_pool_sweep ("/engine/pool/max/forward", test_max_forward, true);
  add_pool_sweep ("/engine/pool/avg/forward", test_avg_forward, false);
  add_pool_sweep ("/engine/pool/max/backward/gradcheck", test_max_gradcheck,
                  true);
  add_pool_sweep ("/engine/pool/avg/backward/gradcheck", test_avg_gradcheck,
                  false);
  g_test_add_func ("/engine/pool/max/backward/ties-first-maximum",
                   test_max_backward_ties);
  g_test_add_func ("/engine/pool/max/forward/negative-with-padding",
                   test_max_negative_padding);
  g_test_add_func ("/engine/pool/max/forward/nan-wins", test_max_nan_wins);
  add_other_tests ();
  return g_test_run ();
}
