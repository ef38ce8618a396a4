/* gf-activation.c: element-wise activations (see gf-activation.h).
 *
 * One loop per kind, so that the kind is tested once per chunk rather than
 * once per element.  <tgmath.h> makes exp() and NAN follow gf_real, so
 * the float64 test build really computes in double.  Comparisons are
 * written so that a NaN input gives a NaN output, as in PyTorch, and
 * reaches the trainer's non-finite check instead of vanishing.
 *
 * Every loop body loads what it reads unconditionally and chooses only
 * between loaded values and constants, doing its arithmetic before or
 * after the choice, never in one arm of it: GCC 12 (-O3, as the engine is
 * built) if-converts such a choice into a vector select, but not a
 * conditional load, nor (under -ftrapping-math) arithmetic it can move
 * into one arm.  The branch it otherwise emits follows the sign of a
 * batch-normalised input and mispredicts about every other element: the
 * backward loops written the plain way (dx = x > 0 ? dy : 0) ran 8 to 15
 * times slower than their forward loops.
 *
 * Calls are split over the engine's worker pool by element ranges; each
 * element's value is independent of the split.
 */
#include "gf-activation.h"

#include <stdbool.h>
#include <string.h>
#include <tgmath.h>

#include "../gf-parallel.h"

/* HardSwish as torch computes it: y = x · min(max(x + 3, 0), 6) / 6,
 * whose slope is 1/2 at x = 0. */
#define HARD_SWISH_EDGE ((gf_real) 3)
#define HARD_SWISH_SPAN ((gf_real) 6)
#define HARD_SWISH_SLOPE_AT_0 ((gf_real) 0.5)

/* The work of one element for gf_parallel_for: a compare and a select
 * (memory-bound), or an exp(). */
#define COST_SELECT 2
#define COST_EXP 16

/* What the chunks of one call share: out is y in forward, dx in
 * backward. */
typedef struct
{
  const GfActivation *act;
  const gf_real *x, *y, *dy;
  gf_real *out;
} ActivationJob;

/* ReLU and Clip, fused into most convolutions, only select and compare:
 * their loops are cloned for AVX-512 and AVX2 (gf-real.h) and give the
 * same bits on every path.  The kinds that compute (x·slope, α·x + β)
 * stay on the baseline: GCC 12's AVX-512 clone of α·x + β uses a fused
 * multiply-add in its 16-wide steps and its scalar tail but a multiply
 * and an add in its 8-wide step, so a value would depend on where a
 * thread's range began (test-ops-threads caught it). */

static void
copy_values (size_t n, const gf_real *src, gf_real *dst)
{
  if (src != dst)
    memmove (dst, src, n * sizeof *dst);
}

/* p + i, or NULL for a NULL p (an offset from NULL is undefined). */
static const gf_real *
at (const gf_real *p, size_t i)
{
  return p != NULL ? p + i : NULL;
}

/* An unknown kind is a programmer error; the engine may not abort, so the
 * output turns to NaN, which the layers above report as GF_ERR_NUMERIC. */
static void
fill_nan (size_t n, gf_real *out)
{
  for (size_t i = 0; i < n; i++)
    out[i] = (gf_real) NAN;
}

static gf_real
clip_one (gf_real x, gf_real lo, gf_real hi)
{
  /* torch.clamp's order: max with lo first, then min with hi. */
  gf_real t = x < lo ? lo : x;

  return t > hi ? hi : t;
}

static gf_real
sigmoid_one (gf_real x)
{
  gf_real e;

  /* exp() only ever sees a non-positive argument: no overflow, and no
   * inf/inf at large |x|. */
  if (x >= 0)
    return 1 / (1 + exp (-x));
  e = exp (x);
  return e / (1 + e);
}

GF_CLONES
static void
relu_forward (size_t n, const gf_real *x, gf_real *y)
{
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] < 0 ? 0 : x[i];
}

GF_CLONES
static void
clip_forward (size_t n, gf_real lo, gf_real hi, const gf_real *x, gf_real *y)
{
  for (size_t i = 0; i < n; i++)
    y[i] = clip_one (x[i], lo, hi);
}

/* y = x > 0 ? x : x·slope is, for a finite non-zero slope, the larger of
 * x and x·slope when slope <= 1 and the smaller when slope > 1, at ±0,
 * infinities and NaN too; in that form x·slope feeds the comparison, so
 * GCC cannot move it under a branch, and the loop vectorises.  Other
 * slopes (0 meets an infinite x) take the plain loop. */
static void
leaky_relu_forward (size_t n, gf_real slope, const gf_real *x, gf_real *y)
{
  if (slope == 0 || !isfinite (slope))
    for (size_t i = 0; i < n; i++)
      y[i] = x[i] > 0 ? x[i] : x[i] * slope;
  else if (slope <= 1)
    for (size_t i = 0; i < n; i++)
      {
        gf_real v = x[i], scaled = v * slope;

        y[i] = scaled < v ? v : scaled;
      }
  else
    for (size_t i = 0; i < n; i++)
      {
        gf_real v = x[i], scaled = v * slope;

        y[i] = scaled > v ? v : scaled;
      }
}

static void
sigmoid_forward (size_t n, const gf_real *x, gf_real *y)
{
  for (size_t i = 0; i < n; i++)
    y[i] = sigmoid_one (x[i]);
}

static void
hard_sigmoid_forward (size_t n, gf_real alpha, gf_real beta,
                      const gf_real *x, gf_real *y)
{
  for (size_t i = 0; i < n; i++)
    y[i] = clip_one (alpha * x[i] + beta, 0, 1);
}

static void
hard_swish_forward (size_t n, const gf_real *x, gf_real *y)
{
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] * clip_one (x[i] + HARD_SWISH_EDGE, 0, HARD_SWISH_SPAN)
           / HARD_SWISH_SPAN;
}

/* Elements [begin, end) of an ActivationJob's forward. */
static void
forward_range (void *data, size_t begin, size_t end, size_t chunk)
{
  const ActivationJob *job = data;
  const GfActivation *act = job->act;
  gf_real alpha = (gf_real) act->alpha;
  gf_real beta = (gf_real) act->beta;
  size_t n = end - begin;
  const gf_real *x = job->x + begin;
  gf_real *y = job->out + begin;

  switch (act->kind)
    {
    case GF_ACT_IDENTITY:
      copy_values (n, x, y);
      break;
    case GF_ACT_RELU:
      relu_forward (n, x, y);
      break;
    case GF_ACT_CLIP:
      clip_forward (n, alpha, beta, x, y);
      break;
    case GF_ACT_LEAKY_RELU:
      leaky_relu_forward (n, alpha, x, y);
      break;
    case GF_ACT_SIGMOID:
      sigmoid_forward (n, x, y);
      break;
    case GF_ACT_HARD_SIGMOID:
      hard_sigmoid_forward (n, alpha, beta, x, y);
      break;
    case GF_ACT_HARD_SWISH:
      hard_swish_forward (n, x, y);
      break;
    default:
      fill_nan (n, y);
      break;
    }
}

static size_t
forward_cost (const GfActivation *act)
{
  return act->kind == GF_ACT_SIGMOID ? COST_EXP : COST_SELECT;
}

void
gf_activation_forward (const GfActivation *act, size_t n,
                       const gf_real *x, gf_real *y)
{
  ActivationJob job = { .act = act, .x = x, .out = y };

  gf_parallel_for (n, forward_cost (act), forward_range, &job);
}

void
gf_activation_forward_block (const GfActivation *act, size_t n,
                             const gf_real *x, gf_real *y)
{
  ActivationJob job = { .act = act, .x = x, .out = y };

  forward_range (&job, 0, n, 0);
}

/* Each backward reads x[i] (or y[i]) and dy[i] before writing dx[i], so
 * dx may alias dy. */

/* From y: y > 0 exactly where x > 0 (y = x there, and 0, -0 or NaN
 * where x is not), so the input need not be kept for backward.
 * Derivative 0 at x = 0, as torch's threshold_backward gives. */
GF_CLONES
static void
relu_backward (size_t n, const gf_real *y, const gf_real *dy, gf_real *dx)
{
  for (size_t i = 0; i < n; i++)
    {
      gf_real g = dy[i];

      dx[i] = y[i] > 0 ? g : 0;
    }
}

GF_CLONES
static void
clip_backward (size_t n, gf_real lo, gf_real hi,
               const gf_real *x, const gf_real *dy, gf_real *dx)
{
  /* torch.clamp passes the gradient on the closed interval [lo, hi]. */
  for (size_t i = 0; i < n; i++)
    {
      gf_real v = x[i], g = dy[i];
      bool inside = (v >= lo) & (v <= hi);

      dx[i] = inside ? g : 0;
    }
}

static void
leaky_relu_backward (size_t n, gf_real slope,
                     const gf_real *x, const gf_real *dy, gf_real *dx)
{
  /* Slope `slope` at x = 0, as in torch. */
  for (size_t i = 0; i < n; i++)
    {
      gf_real k = x[i] > 0 ? 1 : slope;

      dx[i] = dy[i] * k;
    }
}

static void
sigmoid_backward (size_t n, const gf_real *y, const gf_real *dy, gf_real *dx)
{
  for (size_t i = 0; i < n; i++)
    dx[i] = dy[i] * y[i] * (1 - y[i]);
}

static void
hard_sigmoid_backward (size_t n, gf_real alpha, gf_real beta,
                       const gf_real *x, const gf_real *dy, gf_real *dx)
{
  /* Slope alpha strictly inside (0, 1), 0 at both corners as in torch;
   * z is computed exactly as the forward computes it.  Outside, 0·0. */
  for (size_t i = 0; i < n; i++)
    {
      gf_real z = alpha * x[i] + beta, d = dy[i];
      gf_real k_above = z > 0 ? alpha : 0, k = z < 1 ? k_above : 0;
      gf_real g_above = z > 0 ? d : 0, g = z < 1 ? g_above : 0;

      dx[i] = g * k;
    }
}

static void
hard_swish_backward (size_t n, const gf_real *x, const gf_real *dy,
                     gf_real *dx)
{
  /* (2x + 3)/6 = x/3 + 1/2 between the corners; at them torch's current
   * convention: 0 at x = -3 and 1 at x = 3 (and dy passes at NaN).  With
   * t = x/3, the slope is u + b, (u, b) being (t, 1/2) inside, (0, 1)
   * from 3 up and (0, 0) below -3: only loaded values and constants are
   * selected.  t < 1 exactly when x < 3, and t > -1 when x > -3 (x/3 is
   * monotonic and no float or double below 3 rounds to 1 when divided). */
  for (size_t i = 0; i < n; i++)
    {
      gf_real d = dy[i], t = x[i] / HARD_SWISH_EDGE;
      gf_real u_above = t > -1 ? t : 0, u = t < 1 ? u_above : 0;
      gf_real b_above = t > -1 ? HARD_SWISH_SLOPE_AT_0 : 0;
      gf_real b = t < 1 ? b_above : 1;
      gf_real g = t <= -1 ? 0 : d;

      dx[i] = g * (u + b);
    }
}

/* Elements [begin, end) of an ActivationJob's backward. */
static void
backward_range (void *data, size_t begin, size_t end, size_t chunk)
{
  const ActivationJob *job = data;
  const GfActivation *act = job->act;
  gf_real alpha = (gf_real) act->alpha;
  gf_real beta = (gf_real) act->beta;
  size_t n = end - begin;
  /* Relu and Sigmoid read only y, the others only x: the other may be
   * NULL. */
  const gf_real *x = at (job->x, begin), *y = at (job->y, begin);
  const gf_real *dy = job->dy + begin;
  gf_real *dx = job->out + begin;

  switch (act->kind)
    {
    case GF_ACT_IDENTITY:
      copy_values (n, dy, dx);
      break;
    case GF_ACT_RELU:
      relu_backward (n, y, dy, dx);
      break;
    case GF_ACT_CLIP:
      clip_backward (n, alpha, beta, x, dy, dx);
      break;
    case GF_ACT_LEAKY_RELU:
      leaky_relu_backward (n, alpha, x, dy, dx);
      break;
    case GF_ACT_SIGMOID:
      sigmoid_backward (n, y, dy, dx);
      break;
    case GF_ACT_HARD_SIGMOID:
      hard_sigmoid_backward (n, alpha, beta, x, dy, dx);
      break;
    case GF_ACT_HARD_SWISH:
      hard_swish_backward (n, x, dy, dx);
      break;
    default:
      fill_nan (n, dx);
      break;
    }
}

void
gf_activation_backward (const GfActivation *act, size_t n,
                        const gf_real *x, const gf_real *y,
                        const gf_real *dy, gf_real *dx)
{
  ActivationJob job = { .act = act, .x = x, .y = y, .dy = dy, .out = dx };

  /* Sigmoid's backward is a few multiplies: no exp(). */
  gf_parallel_for (n, COST_SELECT, backward_range, &job);
}
