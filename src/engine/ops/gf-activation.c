/* gf-activation.c: element-wise activations (see gf-activation.h).
 *
 * One loop per kind, so that the kind is tested once per call rather than
 * once per element.  <tgmath.h> makes exp() and NAN follow gf_real, so
 * the float64 test build really computes in double.  Comparisons are
 * written so that a NaN input gives a NaN output, as in PyTorch, and
 * reaches the trainer's non-finite check instead of vanishing.
 */
#include "gf-activation.h"

#include <string.h>
#include <tgmath.h>

/* HardSwish as torch computes it: y = x · min(max(x + 3, 0), 6) / 6,
 * whose slope is 1/2 at x = 0. */
#define HARD_SWISH_EDGE ((gf_real) 3)
#define HARD_SWISH_SPAN ((gf_real) 6)
#define HARD_SWISH_SLOPE_AT_0 ((gf_real) 0.5)

static void
copy_values (size_t n, const gf_real *src, gf_real *dst)
{
  if (src != dst)
    memmove (dst, src, n * sizeof *dst);
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

static void
relu_forward (size_t n, const gf_real *x, gf_real *y)
{
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] < 0 ? 0 : x[i];
}

static void
clip_forward (size_t n, gf_real lo, gf_real hi, const gf_real *x, gf_real *y)
{
  for (size_t i = 0; i < n; i++)
    y[i] = clip_one (x[i], lo, hi);
}

static void
leaky_relu_forward (size_t n, gf_real slope, const gf_real *x, gf_real *y)
{
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] > 0 ? x[i] : x[i] * slope;
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

void
gf_activation_forward (const GfActivation *act, size_t n,
                       const gf_real *x, gf_real *y)
{
  gf_real alpha = (gf_real) act->alpha;
  gf_real beta = (gf_real) act->beta;

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

/* Each backward reads x[i] (or y[i]) and dy[i] before writing dx[i], so
 * dx may alias dy. */

static void
relu_backward (size_t n, const gf_real *x, const gf_real *dy, gf_real *dx)
{
  /* Derivative 0 at x = 0, as torch's threshold_backward gives. */
  for (size_t i = 0; i < n; i++)
    dx[i] = x[i] > 0 ? dy[i] : 0;
}

static void
clip_backward (size_t n, gf_real lo, gf_real hi,
               const gf_real *x, const gf_real *dy, gf_real *dx)
{
  /* torch.clamp passes the gradient on the closed interval [lo, hi]. */
  for (size_t i = 0; i < n; i++)
    dx[i] = x[i] >= lo && x[i] <= hi ? dy[i] : 0;
}

static void
leaky_relu_backward (size_t n, gf_real slope,
                     const gf_real *x, const gf_real *dy, gf_real *dx)
{
  /* Slope `slope` at x = 0, as in torch. */
  for (size_t i = 0; i < n; i++)
    dx[i] = x[i] > 0 ? dy[i] : dy[i] * slope;
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
   * z is computed exactly as the forward computes it. */
  for (size_t i = 0; i < n; i++)
    {
      gf_real z = alpha * x[i] + beta;
      dx[i] = z > 0 && z < 1 ? dy[i] * alpha : 0;
    }
}

static void
hard_swish_backward (size_t n, const gf_real *x, const gf_real *dy,
                     gf_real *dx)
{
  /* (2x + 3)/6 = x/3 + 1/2 between the corners; at them torch's current
   * convention: 0 at x = -3 and 1 at x = 3. */
  for (size_t i = 0; i < n; i++)
    {
      if (x[i] <= -HARD_SWISH_EDGE)
        dx[i] = 0;
      else if (x[i] < HARD_SWISH_EDGE)
        dx[i] = dy[i] * (x[i] / HARD_SWISH_EDGE + HARD_SWISH_SLOPE_AT_0);
      else
        dx[i] = dy[i];
    }
}

void
gf_activation_backward (const GfActivation *act, size_t n,
                        const gf_real *x, const gf_real *y,
                        const gf_real *dy, gf_real *dx)
{
  gf_real alpha = (gf_real) act->alpha;
  gf_real beta = (gf_real) act->beta;

  switch (act->kind)
    {
    case GF_ACT_IDENTITY:
      copy_values (n, dy, dx);
      break;
    case GF_ACT_RELU:
      relu_backward (n, x, dy, dx);
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
