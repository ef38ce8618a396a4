/* gf-pool.c: MaxPool, AveragePool and GlobalAveragePool, NCHW.
 *
 * Every pass runs tap by tap (the max backward to find each window's
 * argmax, then adds dy there in output order): for one output
 * row and one kernel tap (kh, kw), the outputs whose tap lands inside the
 * input form one interval of ow, found arithmetically, so the inner loop
 * over ow has no bounds test and vectorises (with stride 1 it reads a
 * contiguous run of the input row).  Visiting the taps in (kh, kw) order
 * gives each output the same scan order as PyTorch's kernel.
 *
 * Positions in the padded input are signed (the first window starts at
 * −pad); gf_pool2d_init bounds every extent so that they fit a ptrdiff_t.
 *
 * The (n, c) planes are what the engine's worker pool splits: every
 * output, and every gradient sum into an input plane, is computed by the
 * one thread that owns the plane, in the same order at any thread count.
 */
#include "gf-pool.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../gf-parallel.h"

/* Outputs of one row whose scaled gradients (average backward) or
 * argmaxes (max backward) sit on the stack at once: 4 KiB at most. */
#define POOL_CHUNK 256

/* Extents up to this keep every position difference inside ptrdiff_t. */
#define POOL_EXTENT_MAX ((size_t) (PTRDIFF_MAX / 4))

/* What the chunks of one call share: x, dx (planes, H, W); y, dy
 * (planes, OH, OW), or (planes) and (planes, S) for the global pool,
 * whose plane size is spatial. */
typedef struct
{
  const GfPool2d *pool;
  size_t spatial;
  const gf_real *x, *dy;
  gf_real *y, *dx;
} PoolJob;

typedef enum
{
  POOL_MAX,
  POOL_SUM,
} PoolReduce;

static size_t
ceil_div (size_t a, size_t b)
{
  return a / b + (a % b != 0);
}

/* Of the taps start + t·step, t in [0, count), those with a position in
 * [lo, hi) are t in [*first, *end) (empty when equal). */
static void
tap_range (ptrdiff_t start, size_t count, size_t step,
           ptrdiff_t lo, ptrdiff_t hi, size_t *first, size_t *end)
{
  size_t a = start >= lo ? 0 : ceil_div ((size_t) (lo - start), step);
  size_t b = start >= hi ? 0 : ceil_div ((size_t) (hi - start), step);

  *first = a < count ? a : count;
  *end = b < count ? b : count;
  if (*end < *first)
    *end = *first;
}

static GfStatus
check_attributes (const GfPool2d *p, GfError *error)
{
  if (p->kernel_h == 0 || p->kernel_w == 0)
    return gf_error_set (error, GF_ERR_INVALID,
                         "pool kernel %zu×%zu has a zero side",
                         p->kernel_h, p->kernel_w);
  if (p->stride_h == 0 || p->stride_w == 0)
    return gf_error_set (error, GF_ERR_INVALID,
                         "pool stride %zu×%zu has a zero side",
                         p->stride_h, p->stride_w);
  if (p->dilation_h == 0 || p->dilation_w == 0)
    return gf_error_set (error, GF_ERR_INVALID,
                         "pool dilation %zu×%zu has a zero side",
                         p->dilation_h, p->dilation_w);
  if (p->pad_top >= p->kernel_h || p->pad_bottom >= p->kernel_h
      || p->pad_left >= p->kernel_w || p->pad_right >= p->kernel_w)
    return gf_error_set (error, GF_ERR_INVALID,
                         "pool padding (top %zu, left %zu, bottom %zu, "
                         "right %zu) must be smaller than the kernel %zu×%zu",
                         p->pad_top, p->pad_left, p->pad_bottom,
                         p->pad_right, p->kernel_h, p->kernel_w);
  return GF_OK;
}

/* The output length along one axis (@axis names it in messages):
 * floor or ceil of (in + pads − ((k − 1)·dilation + 1)) / stride + 1, and
 * in ceil mode minus a last window starting at or beyond in + pad_begin,
 * which PyTorch drops because it would see padding only. */
static GfStatus
output_extent (const char *axis, size_t in, size_t kernel, size_t stride,
               size_t dilation, size_t pad_begin, size_t pad_end,
               bool ceil_mode, size_t *out, GfError *error)
{
  size_t padded, reach, span;

  if (in == 0)
    return gf_error_set (error, GF_ERR_SHAPE, "pool input %s is zero", axis);
  if (gf_size_add (in, pad_begin, &padded) != 0
      || gf_size_add (padded, pad_end, &padded) != 0
      || gf_size_mul (kernel - 1, dilation, &reach) != 0
      || padded > POOL_EXTENT_MAX || reach >= POOL_EXTENT_MAX)
    return gf_error_set (error, GF_ERR_SHAPE,
                         "pool %s extent overflows", axis);
  reach += 1;
  if (reach > padded)
    return gf_error_set (error, GF_ERR_SHAPE,
                         "pool window %s %zu exceeds the padded input %zu: "
                         "empty output", axis, reach, padded);
  span = padded - reach;
  *out = ceil_mode ? ceil_div (span, stride) + 1 : span / stride + 1;
  if (ceil_mode && (*out - 1) * stride >= in + pad_begin)
    *out -= 1;
  return GF_OK;
}

/* The max backward keeps each window's argmax as a TapOffset: its last
 * tap, (KH − 1)·dilation_h·W + (KW − 1)·dilation_w elements from the
 * first, must fit one.  Run after output_extent has bounded both reaches. */
static GfStatus
check_window_span (const GfPool2d *p, GfError *error)
{
  size_t reach_h = (p->kernel_h - 1) * p->dilation_h;
  size_t reach_w = (p->kernel_w - 1) * p->dilation_w;

  if (reach_w > INT32_MAX
      || (reach_h > 0 && p->in_w > (INT32_MAX - reach_w) / reach_h))
    return gf_error_set (error, GF_ERR_UNSUPPORTED,
                         "pool window %zu×%zu over rows of %zu spans more "
                         "than 2^31 input values", p->kernel_h, p->kernel_w,
                         p->in_w);
  return GF_OK;
}

GfStatus
gf_pool2d_init (GfPool2d *pool, GfError *error)
{
  size_t planes, in_size, out_size;
  GfStatus status;

  pool->out_h = pool->out_w = 0;
  status = check_attributes (pool, error);
  if (status == GF_OK)
    status = output_extent ("height", pool->in_h, pool->kernel_h,
                            pool->stride_h, pool->dilation_h, pool->pad_top,
                            pool->pad_bottom, pool->ceil_mode, &pool->out_h,
                            error);
  if (status == GF_OK)
    status = output_extent ("width", pool->in_w, pool->kernel_w,
                            pool->stride_w, pool->dilation_w, pool->pad_left,
                            pool->pad_right, pool->ceil_mode, &pool->out_w,
                            error);
  if (status == GF_OK)
    status = check_window_span (pool, error);
  if (status != GF_OK)
    {
      pool->out_h = pool->out_w = 0;
      return status;
    }
  if (gf_size_mul (pool->batch, pool->channels, &planes) != 0
      || gf_size_mul (planes, pool->in_h, &in_size) != 0
      || gf_size_mul (in_size, pool->in_w, &in_size) != 0
      || gf_size_mul (planes, pool->out_h, &out_size) != 0
      || gf_size_mul (out_size, pool->out_w, &out_size) != 0)
    {
      pool->out_h = pool->out_w = 0;
      return gf_error_set (error, GF_ERR_SHAPE,
                           "pool tensor of %zu×%zu×%zu×%zu overflows",
                           pool->batch, pool->channels, pool->in_h,
                           pool->in_w);
    }
  return GF_OK;
}

/* Where output row @oh's window starts in the padded input. */
static ptrdiff_t
window_top (const GfPool2d *p, size_t oh)
{
  return (ptrdiff_t) (oh * p->stride_h) - (ptrdiff_t) p->pad_top;
}

static ptrdiff_t
window_left (const GfPool2d *p, size_t ow)
{
  return (ptrdiff_t) (ow * p->stride_w) - (ptrdiff_t) p->pad_left;
}

/* For kernel column @kw: the outputs ow in [*ow0, *ow1) ∩ [c0, c1) whose
 * tap lies inside the input, and the input column *col of the first. */
static bool
column_span (const GfPool2d *p, size_t kw, size_t c0, size_t c1,
             size_t *ow0, size_t *ow1, size_t *col)
{
  ptrdiff_t offset = (ptrdiff_t) (kw * p->dilation_w)
                     - (ptrdiff_t) p->pad_left;

  tap_range (offset, p->out_w, p->stride_w, 0, (ptrdiff_t) p->in_w, ow0, ow1);
  if (*ow0 < c0)
    *ow0 = c0;
  if (*ow1 > c1)
    *ow1 = c1;
  if (*ow0 >= *ow1)
    return false;
  *col = (size_t) (offset + (ptrdiff_t) (*ow0 * p->stride_w));
  return true;
}

/* acc (n) = max (acc, src[i·stride]); a NaN wins, as in PyTorch. */
static void
max_into (gf_real *restrict acc, const gf_real *restrict src, size_t stride,
          size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      gf_real v = src[i * stride];

      acc[i] = (v > acc[i] || isnan (v)) ? v : acc[i];
    }
}

static void
add_into (gf_real *restrict acc, const gf_real *restrict src, size_t stride,
          size_t n)
{
  for (size_t i = 0; i < n; i++)
    acc[i] += src[i * stride];
}

/* Reduces the taps of input row xrow (W) that lie in each window, across
 * the window's columns, into yrow (OW). */
static void
row_reduce (const GfPool2d *p, const gf_real *xrow, PoolReduce reduce,
            gf_real *yrow)
{
  for (size_t kw = 0; kw < p->kernel_w; kw++)
    {
      size_t ow0, ow1, col;

      if (!column_span (p, kw, 0, p->out_w, &ow0, &ow1, &col))
        continue;
      if (reduce == POOL_MAX)
        max_into (yrow + ow0, xrow + col, p->stride_w, ow1 - ow0);
      else
        add_into (yrow + ow0, xrow + col, p->stride_w, ow1 - ow0);
    }
}

/* Reduces every in-input tap of output row @oh into yrow (OW), which the
 * caller has filled with the reduction's identity. */
static void
row_forward (const GfPool2d *p, const gf_real *plane, size_t oh,
             PoolReduce reduce, gf_real *yrow)
{
  ptrdiff_t top = window_top (p, oh);
  size_t kh0, kh1;

  tap_range (top, p->kernel_h, p->dilation_h, 0, (ptrdiff_t) p->in_h,
             &kh0, &kh1);
  for (size_t kh = kh0; kh < kh1; kh++)
    {
      size_t ih = (size_t) (top + (ptrdiff_t) (kh * p->dilation_h));

      row_reduce (p, plane + ih * p->in_w, reduce, yrow);
    }
}

/* The work of one plane for gf_parallel_for: one operation per tap of
 * every window, and one per input value where backward clears dx. */
static size_t
plane_cost (const GfPool2d *pool)
{
  return pool->out_h * pool->out_w * pool->kernel_h * pool->kernel_w
         + pool->in_h * pool->in_w;
}

/* col (W) = the elementwise max of the window's input rows for output
 * row @oh (a NaN wins); false when the window has a single row or none,
 * which row_forward reads in place. */
GF_CLONES
static bool
column_max (const GfPool2d *p, const gf_real *plane, size_t oh,
            gf_real *restrict col)
{
  ptrdiff_t top = window_top (p, oh);
  size_t kh0, kh1;

  tap_range (top, p->kernel_h, p->dilation_h, 0, (ptrdiff_t) p->in_h,
             &kh0, &kh1);
  if (kh1 - kh0 < 2)
    return false;
  memcpy (col, plane + (size_t) (top + (ptrdiff_t) (kh0 * p->dilation_h))
                       * p->in_w, p->in_w * sizeof *col);
  for (size_t kh = kh0 + 1; kh < kh1; kh++)
    {
      const gf_real *restrict xrow
        = plane + (size_t) (top + (ptrdiff_t) (kh * p->dilation_h)) * p->in_w;

      for (size_t i = 0; i < p->in_w; i++)
        col[i] = (xrow[i] > col[i] || isnan (xrow[i])) ? xrow[i] : col[i];
    }
  return true;
}

/* Planes [begin, end) of the max forward.  Each output row takes the max
 * down its window's rows first, in one contiguous pass a row, then across
 * the window's columns: on ResNet-18's 3×3 stride-2 MaxPool that is 3
 * strided passes over the output row where every tap took one (9).  Which
 * of two equal values wins (−0 against +0) may differ from the taps' scan
 * order; the value and a NaN's winning do not. */
static void
max_forward_planes (void *data, size_t begin, size_t end, size_t chunk)
{
  const PoolJob *job = data;
  const GfPool2d *pool = job->pool;
  const gf_real *x = job->x;
  gf_real *y = job->y;
  gf_real *col = malloc (pool->in_w * sizeof *col);

  for (size_t pl = begin; pl < end; pl++)
    {
      const gf_real *plane = x + pl * pool->in_h * pool->in_w;

      for (size_t oh = 0; oh < pool->out_h; oh++)
        {
          gf_real *yrow = y + (pl * pool->out_h + oh) * pool->out_w;

          /* Padding is −inf: it never wins. */
          for (size_t ow = 0; ow < pool->out_w; ow++)
            yrow[ow] = -INFINITY;
          if (col != NULL && column_max (pool, plane, oh, col))
            row_reduce (pool, col, POOL_MAX, yrow);
          else
            row_forward (pool, plane, oh, POOL_MAX, yrow);
        }
    }
  free (col);
}

void
gf_maxpool2d_forward (const GfPool2d *pool, const gf_real *x, gf_real *y)
{
  PoolJob job = { .pool = pool, .x = x, .y = y };

  gf_parallel_for (pool->batch * pool->channels, plane_cost (pool),
                   max_forward_planes, &job);
}

/* A tap's offset in the plane from its window's origin (top, left):
 * kh·dilation_h·W + kw·dilation_w, the same for every window.  32 bits
 * wide, so that the argmax loop runs in float lanes and vectorises
 * (gf_pool2d_init refuses windows spanning more); NO_TAP before the
 * window's first tap. */
typedef int32_t TapOffset;
#define NO_TAP ((TapOffset) -1)

/* best[i], best_value[i] (n) take the tap src[i·stride] (at @offset)
 * when it is the window's first, is greater, or is NaN: the first
 * maximum in scan order, a later NaN replacing it, as in PyTorch.
 * Selects, not branches: which tap wins is data, and a branch on it
 * mispredicts. */
static void
argmax_into (TapOffset *restrict best, gf_real *restrict best_value,
             const gf_real *restrict src, size_t stride, TapOffset offset,
             size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      gf_real v = src[i * stride], value = best_value[i];
      TapOffset tap = best[i];
      bool take = (tap == NO_TAP) | (v > value) | isnan (v);

      best[i] = take ? offset : tap;
      best_value[i] = take ? v : value;
    }
}

/* The argmaxes of outputs [c0, c1) of row @oh into best (c1 − c0): taps
 * in (kh, kw) order, each over the outputs it lies inside the input for,
 * as row_forward does. */
static void
row_argmax (const GfPool2d *p, const gf_real *plane, size_t oh, size_t c0,
            size_t c1, TapOffset *best, gf_real *best_value)
{
  ptrdiff_t top = window_top (p, oh);
  size_t kh0, kh1;

  for (size_t ow = c0; ow < c1; ow++)
    best[ow - c0] = NO_TAP;
  tap_range (top, p->kernel_h, p->dilation_h, 0, (ptrdiff_t) p->in_h,
             &kh0, &kh1);
  for (size_t kh = kh0; kh < kh1; kh++)
    {
      size_t ih = (size_t) (top + (ptrdiff_t) (kh * p->dilation_h));

      for (size_t kw = 0; kw < p->kernel_w; kw++)
        {
          size_t ow0, ow1, col;
          TapOffset offset = (TapOffset) (kh * p->dilation_h * p->in_w
                                          + kw * p->dilation_w);

          if (column_span (p, kw, c0, c1, &ow0, &ow1, &col))
            argmax_into (best + (ow0 - c0), best_value + (ow0 - c0),
                         plane + ih * p->in_w + col, p->stride_w, offset,
                         ow1 - ow0);
        }
    }
}

/* Adds dyrow (OW), the gradient of output row @oh, into dxp (H, W) at
 * each output's first maximum, in output order, a chunk of outputs at a
 * time so that the argmaxes fit on the stack. */
static void
max_row_backward (const GfPool2d *p, const gf_real *plane,
                  const gf_real *dyrow, size_t oh, gf_real *dxp)
{
  TapOffset best[POOL_CHUNK];
  gf_real best_value[POOL_CHUNK];
  /* Where window (oh, 0) starts in the plane, perhaps before it. */
  ptrdiff_t origin = window_top (p, oh) * (ptrdiff_t) p->in_w
                     - (ptrdiff_t) p->pad_left;

  for (size_t c0 = 0; c0 < p->out_w; c0 += POOL_CHUNK)
    {
      size_t c1 = p->out_w - c0 < POOL_CHUNK ? p->out_w : c0 + POOL_CHUNK;

      row_argmax (p, plane, oh, c0, c1, best, best_value);
      for (size_t ow = c0; ow < c1; ow++)
        if (best[ow - c0] != NO_TAP)
          dxp[origin + (ptrdiff_t) (ow * p->stride_w) + best[ow - c0]]
            += dyrow[ow];
    }
}

/* Planes [begin, end) of the max backward, each cleared and then summed
 * into in output order. */
static void
max_backward_planes (void *data, size_t begin, size_t end, size_t chunk)
{
  const PoolJob *job = data;
  const GfPool2d *pool = job->pool;
  size_t in_size = pool->in_h * pool->in_w;
  size_t out_size = pool->out_h * pool->out_w;

  for (size_t pl = begin; pl < end; pl++)
    {
      gf_real *dxp = job->dx + pl * in_size;

      memset (dxp, 0, in_size * sizeof *dxp);
      for (size_t oh = 0; oh < pool->out_h; oh++)
        max_row_backward (pool, job->x + pl * in_size,
                          job->dy + pl * out_size + oh * pool->out_w, oh,
                          dxp);
    }
}

void
gf_maxpool2d_backward (const GfPool2d *pool, const gf_real *x,
                       const gf_real *dy, gf_real *dx)
{
  PoolJob job = { .pool = pool, .x = x, .dy = dy, .dx = dx };

  gf_parallel_for (pool->batch * pool->channels, plane_cost (pool),
                   max_backward_planes, &job);
}

/* The divisor's share along one axis for a window starting at @start:
 * its taps inside the input, or with count_include_pad inside the padded
 * extent [−pad_begin, in + pad_end) (fewer than k when a ceil-mode window
 * overhangs it, as in PyTorch). */
static size_t
axis_count (ptrdiff_t start, size_t kernel, size_t dilation, size_t in,
            size_t pad_begin, size_t pad_end, bool include_pad)
{
  ptrdiff_t lo = include_pad ? -(ptrdiff_t) pad_begin : 0;
  ptrdiff_t hi = (ptrdiff_t) (include_pad ? in + pad_end : in);
  size_t first, end;

  tap_range (start, kernel, dilation, lo, hi, &first, &end);
  return end - first;
}

static size_t
row_count (const GfPool2d *p, size_t oh)
{
  return axis_count (window_top (p, oh), p->kernel_h, p->dilation_h,
                     p->in_h, p->pad_top, p->pad_bottom,
                     p->count_include_pad);
}

static size_t
column_count (const GfPool2d *p, size_t ow)
{
  return axis_count (window_left (p, ow), p->kernel_w, p->dilation_w,
                     p->in_w, p->pad_left, p->pad_right,
                     p->count_include_pad);
}

/* Planes [begin, end) of the average forward. */
static void
avg_forward_planes (void *data, size_t begin, size_t end, size_t chunk)
{
  const PoolJob *job = data;
  const GfPool2d *pool = job->pool;
  const gf_real *x = job->x;
  gf_real *y = job->y;

  for (size_t pl = begin; pl < end; pl++)
    {
      const gf_real *plane = x + pl * pool->in_h * pool->in_w;

      for (size_t oh = 0; oh < pool->out_h; oh++)
        {
          gf_real *yrow = y + (pl * pool->out_h + oh) * pool->out_w;
          size_t rows = row_count (pool, oh);

          memset (yrow, 0, pool->out_w * sizeof *yrow);
          row_forward (pool, plane, oh, POOL_SUM, yrow);
          for (size_t ow = 0; ow < pool->out_w; ow++)
            {
              size_t divisor = rows * column_count (pool, ow);

              yrow[ow] = divisor > 0 ? yrow[ow] / (gf_real) divisor : 0;
            }
        }
    }
}

void
gf_avgpool2d_forward (const GfPool2d *pool, const gf_real *x, gf_real *y)
{
  PoolJob job = { .pool = pool, .x = x, .y = y };

  gf_parallel_for (pool->batch * pool->channels, plane_cost (pool),
                   avg_forward_planes, &job);
}

/* dst[i·stride] += g[i] for i < n. */
static void
scatter_add (gf_real *restrict dst, size_t stride,
             const gf_real *restrict g, size_t n)
{
  for (size_t i = 0; i < n; i++)
    dst[i * stride] += g[i];
}

/* Spreads g (c1 − c0), the scaled gradients of outputs [c0, c1) of row
 * @oh, over their in-input taps in dxp (H, W). */
static void
row_scatter (const GfPool2d *p, const gf_real *g, size_t oh, size_t c0,
             size_t c1, gf_real *dxp)
{
  ptrdiff_t top = window_top (p, oh);
  size_t kh0, kh1;

  tap_range (top, p->kernel_h, p->dilation_h, 0, (ptrdiff_t) p->in_h,
             &kh0, &kh1);
  for (size_t kh = kh0; kh < kh1; kh++)
    {
      size_t ih = (size_t) (top + (ptrdiff_t) (kh * p->dilation_h));
      gf_real *dxrow = dxp + ih * p->in_w;

      for (size_t kw = 0; kw < p->kernel_w; kw++)
        {
          size_t ow0, ow1, col;

          if (column_span (p, kw, c0, c1, &ow0, &ow1, &col))
            scatter_add (dxrow + col, p->stride_w, g + (ow0 - c0), ow1 - ow0);
        }
    }
}

/* The average backward of one output row dyrow (OW), a chunk of outputs
 * at a time so that the divided gradients fit on the stack. */
static void
avg_row_backward (const GfPool2d *p, const gf_real *dyrow, size_t oh,
                  gf_real *dxp)
{
  gf_real g[POOL_CHUNK];
  size_t rows = row_count (p, oh);

  for (size_t c0 = 0; c0 < p->out_w; c0 += POOL_CHUNK)
    {
      size_t c1 = p->out_w - c0 < POOL_CHUNK ? p->out_w : c0 + POOL_CHUNK;

      for (size_t ow = c0; ow < c1; ow++)
        {
          size_t divisor = rows * column_count (p, ow);

          g[ow - c0] = divisor > 0 ? dyrow[ow] / (gf_real) divisor : 0;
        }
      row_scatter (p, g, oh, c0, c1, dxp);
    }
}

/* Planes [begin, end) of the average backward, each cleared and then
 * summed into row by row. */
static void
avg_backward_planes (void *data, size_t begin, size_t end, size_t chunk)
{
  const PoolJob *job = data;
  const GfPool2d *pool = job->pool;
  size_t in_size = pool->in_h * pool->in_w;
  size_t out_size = pool->out_h * pool->out_w;

  for (size_t pl = begin; pl < end; pl++)
    {
      gf_real *dxp = job->dx + pl * in_size;

      memset (dxp, 0, in_size * sizeof *dxp);
      for (size_t oh = 0; oh < pool->out_h; oh++)
        avg_row_backward (pool, job->dy + pl * out_size + oh * pool->out_w,
                          oh, dxp);
    }
}

void
gf_avgpool2d_backward (const GfPool2d *pool, const gf_real *dy, gf_real *dx)
{
  PoolJob job = { .pool = pool, .dy = dy, .dx = dx };

  gf_parallel_for (pool->batch * pool->channels, plane_cost (pool),
                   avg_backward_planes, &job);
}

/* Planes [begin, end) of the global forward: each one mean, summed in
 * double as batch norm's sums are (S can be large). */
static void
global_forward_planes (void *data, size_t begin, size_t end, size_t chunk)
{
  const PoolJob *job = data;
  const size_t spatial = job->spatial;

  for (size_t i = begin; i < end; i++)
    {
      const gf_real *row = job->x + i * spatial;
      double sum = 0.0;

      for (size_t s = 0; s < spatial; s++)
        sum += row[s];
      job->y[i] = spatial > 0 ? (gf_real) (sum / (double) spatial) : 0;
    }
}

void
gf_global_avgpool_forward (size_t batch, size_t channels, size_t spatial,
                           const gf_real *x, gf_real *y)
{
  PoolJob job = { .spatial = spatial, .x = x, .y = y };

  gf_parallel_for (batch * channels, spatial, global_forward_planes, &job);
}

/* Planes [begin, end) of the global backward: dy/S everywhere. */
static void
global_backward_planes (void *data, size_t begin, size_t end, size_t chunk)
{
  const PoolJob *job = data;
  const size_t spatial = job->spatial;

  for (size_t i = begin; i < end; i++)
    {
      gf_real g = job->dy[i] / (gf_real) spatial;
      gf_real *row = job->dx + i * spatial;

      for (size_t s = 0; s < spatial; s++)
        row[s] = g;
    }
}

void
gf_global_avgpool_backward (size_t batch, size_t channels, size_t spatial,
                            const gf_real *dy, gf_real *dx)
{
  PoolJob job = { .spatial = spatial, .dy = dy, .dx = dx };

  if (spatial == 0)
    return;
  gf_parallel_for (batch * channels, spatial, global_backward_planes, &job);
}
