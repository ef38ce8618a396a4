/* gf-conv.c: 2-D convolution (ONNX Conv, a cross-correlation), NCHW.
 *
 * Three fast kernels share the contract of gf-conv.h:
 *  - pointwise (1×1, stride 1, unpadded): one image's group x_g (C/g, H·W)
 *    already is the column matrix, so each image and group is one GEMM on x
 *    as it lies, forward and backward, and needs no workspace;
 *  - depthwise (groups == C == M): each channel has its own KH×KW filter,
 *    far too little work for a GEMM, so a direct loop runs tap by tap over
 *    blocks of output rows that stay in cache; for one output row and one
 *    tap (kh, kw) the outputs that read real input (not padding) form one
 *    interval of ow found arithmetically, so the inner loop has no bounds
 *    test and vectorises;
 *  - everything else: im2col of one image and group into the workspace,
 *    then one GEMM; backward reuses the same buffer first for the columns
 *    (dW += dY·colᵀ) and then for dcol = Wᵀ·dY, which col2im adds into dx.
 * The naive reference loops at the end are what the tests compare against.
 */
#include "gf-conv.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

/* cblas takes every GEMM dimension and row stride as an int. */
#define GEMM_DIM_MAX ((size_t) INT_MAX)

/* Whole tensors must also be addressable in bytes. */
#define TENSOR_ELEMENTS_MAX (SIZE_MAX / sizeof (gf_real))

/* Elements per block of the unit-stride inner loops (see axpy_gather): one
 * AVX vector of floats, two SSE vectors. */
#define VEC_BLOCK 8

typedef enum
{
  CONV_PATH_POINTWISE,
  CONV_PATH_DEPTHWISE,
  CONV_PATH_IM2COL,
} ConvPath;

/* Sizes derived from a checked GfConv2d. */
typedef struct
{
  size_t c_group;    /* input channels per group, C/g */
  size_t m_group;    /* output channels per group, M/g */
  size_t taps;       /* KH·KW */
  size_t col_rows;   /* C/g·KH·KW: rows of the column matrix, columns of W_g */
  size_t in_plane;   /* H·W */
  size_t out_plane;  /* OH·OW */
} ConvDims;

/* Where one kernel tap (kh, kw) lands: the outputs [oh_lo, oh_hi) ×
 * [ow_lo, ow_hi) read real input, output (oh_lo, ow_lo) reads input pixel
 * (ih_lo, iw_lo), and each further output row or column moves the input
 * position by the stride. */
typedef struct
{
  size_t oh_lo, oh_hi, ow_lo, ow_hi;
  size_t ih_lo, iw_lo;
} ConvTap;

static ConvDims
conv_dims (const GfConv2d *conv)
{
  ConvDims d;

  d.c_group = conv->in_channels / conv->groups;
  d.m_group = conv->out_channels / conv->groups;
  d.taps = conv->kernel_h * conv->kernel_w;
  d.col_rows = d.c_group * d.taps;
  d.in_plane = conv->in_h * conv->in_w;
  d.out_plane = conv->out_h * conv->out_w;
  return d;
}

static ConvPath
conv_path (const GfConv2d *conv)
{
  if (conv->groups == conv->in_channels && conv->groups == conv->out_channels)
    return CONV_PATH_DEPTHWISE;
  if (conv->kernel_h == 1 && conv->kernel_w == 1
      && conv->stride_h == 1 && conv->stride_w == 1
      && conv->pad_top == 0 && conv->pad_left == 0
      && conv->pad_bottom == 0 && conv->pad_right == 0)
    return CONV_PATH_POINTWISE;
  return CONV_PATH_IM2COL;
}

/* ---- Attribute checks ---------------------------------------------- */

static GfStatus
check_nonzero (const GfConv2d *conv, GfError *error)
{
  if (conv->batch == 0 || conv->in_channels == 0 || conv->in_h == 0
      || conv->in_w == 0 || conv->out_channels == 0
      || conv->kernel_h == 0 || conv->kernel_w == 0)
    return gf_error_set (error, GF_ERR_INVALID,
                         "conv2d: zero size in input %zu×%zu×%zu×%zu, "
                         "%zu output channels or kernel %zu×%zu",
                         conv->batch, conv->in_channels, conv->in_h,
                         conv->in_w, conv->out_channels,
                         conv->kernel_h, conv->kernel_w);
  if (conv->stride_h == 0 || conv->stride_w == 0)
    return gf_error_set (error, GF_ERR_INVALID,
                         "conv2d: stride %zu×%zu has a zero side",
                         conv->stride_h, conv->stride_w);
  if (conv->dilation_h == 0 || conv->dilation_w == 0)
    return gf_error_set (error, GF_ERR_INVALID,
                         "conv2d: dilation %zu×%zu has a zero side",
                         conv->dilation_h, conv->dilation_w);
  if (conv->groups == 0)
    return gf_error_set (error, GF_ERR_INVALID, "conv2d: zero groups");
  return GF_OK;
}

static GfStatus
check_groups (const GfConv2d *conv, GfError *error)
{
  if (conv->in_channels % conv->groups != 0
      || conv->out_channels % conv->groups != 0)
    return gf_error_set (error, GF_ERR_SHAPE,
                         "conv2d: %zu input and %zu output channels are not "
                         "both divisible by %zu groups",
                         conv->in_channels, conv->out_channels, conv->groups);
  return GF_OK;
}

/* The output length along one axis (@axis names it in messages):
 * (in + pads − span) / stride + 1, where span = (k − 1)·dilation + 1 is
 * the dilated kernel's extent. */
static GfStatus
axis_output (const char *axis, size_t in, size_t pad_lo, size_t pad_hi,
             size_t kernel, size_t dilation, size_t stride, size_t *out,
             GfError *error)
{
  size_t padded, span;

  if (gf_size_add (in, pad_lo, &padded) != 0
      || gf_size_add (padded, pad_hi, &padded) != 0
      || gf_size_mul (kernel - 1, dilation, &span) != 0
      || gf_size_add (span, 1, &span) != 0)
    return gf_error_set (error, GF_ERR_INVALID,
                         "conv2d: %s padding or dilation overflows", axis);
  if (span > padded)
    return gf_error_set (error, GF_ERR_SHAPE,
                         "conv2d: dilated kernel %s %zu exceeds the padded "
                         "input %s %zu", axis, span, axis, padded);
  *out = (padded - span) / stride + 1;
  return GF_OK;
}

static bool
product_fits (const size_t *factors, size_t count, size_t limit)
{
  size_t product = 1;

  for (size_t i = 0; i < count; i++)
    if (gf_size_mul (product, factors[i], &product) != 0)
      return false;
  return product <= limit;
}

/* Every GEMM dimension and row stride is at most one image's x (C, H, W)
 * or y (M, OH, OW), the weights (M, C/g, KH, KW) or the column matrix
 * (C/g·KH·KW, OH·OW), so bounding those four bounds them all. */
static GfStatus
check_sizes (const GfConv2d *conv, GfError *error)
{
  size_t cg = conv->in_channels / conv->groups;
  const size_t x_all[] = { conv->batch, conv->in_channels,
                           conv->in_h, conv->in_w };
  const size_t y_all[] = { conv->batch, conv->out_channels,
                           conv->out_h, conv->out_w };
  const size_t weights[] = { conv->out_channels, cg,
                             conv->kernel_h, conv->kernel_w };
  const size_t col[] = { cg, conv->kernel_h, conv->kernel_w,
                         conv->out_h, conv->out_w };

  if (!product_fits (x_all + 1, 3, GEMM_DIM_MAX)
      || !product_fits (y_all + 1, 3, GEMM_DIM_MAX)
      || !product_fits (weights, 4, GEMM_DIM_MAX)
      || !product_fits (col, 5, GEMM_DIM_MAX)
      || !product_fits (x_all, 4, TENSOR_ELEMENTS_MAX)
      || !product_fits (y_all, 4, TENSOR_ELEMENTS_MAX))
    return gf_error_set (error, GF_ERR_INVALID,
                         "conv2d: tensor sizes overflow (input "
                         "%zu×%zu×%zu×%zu, output %zu×%zu×%zu×%zu)",
                         conv->batch, conv->in_channels, conv->in_h,
                         conv->in_w, conv->batch, conv->out_channels,
                         conv->out_h, conv->out_w);
  return GF_OK;
}

GfStatus
gf_conv2d_init (GfConv2d *conv, GfError *error)
{
  GfStatus status;

  if (conv == NULL)
    return gf_error_set (error, GF_ERR_INVALID, "conv2d: no attributes");
  conv->out_h = conv->out_w = 0;
  status = check_nonzero (conv, error);
  if (status == GF_OK)
    status = check_groups (conv, error);
  if (status == GF_OK)
    status = axis_output ("height", conv->in_h, conv->pad_top,
                          conv->pad_bottom, conv->kernel_h, conv->dilation_h,
                          conv->stride_h, &conv->out_h, error);
  if (status == GF_OK)
    status = axis_output ("width", conv->in_w, conv->pad_left,
                          conv->pad_right, conv->kernel_w, conv->dilation_w,
                          conv->stride_w, &conv->out_w, error);
  if (status == GF_OK)
    status = check_sizes (conv, error);
  if (status != GF_OK)
    conv->out_h = conv->out_w = 0;
  return status;
}

size_t
gf_conv2d_workspace_size (const GfConv2d *conv)
{
  ConvDims d = conv_dims (conv);
  ConvPath path = conv_path (conv);

  /* Depthwise: one output row of partial sums of dW per tap, (KH·KW, OW)
   * (see depthwise_plane_backward_weights). */
  if (path == CONV_PATH_DEPTHWISE)
    return d.taps * conv->out_w;
  if (path == CONV_PATH_POINTWISE)
    return 0;
  /* One column matrix (C/g·KH·KW, OH·OW), reused for every image and
   * group, and in backward for the columns and then for dcol. */
  return d.col_rows * d.out_plane;
}

/* ---- Taps ------------------------------------------------------------ */

static inline size_t
size_min (size_t a, size_t b)
{
  return a < b ? a : b;
}

static inline size_t
size_max (size_t a, size_t b)
{
  return a > b ? a : b;
}

/* ⌈a / stride⌉ for a > 0.  The depthwise loops find tap ranges per block
 * of rows, on planes as small as 7×7, where a 64-bit division per call
 * would cost as much as the arithmetic; strides are nearly always 1 or 2. */
static inline size_t
ceil_div_stride (size_t a, size_t stride)
{
  if (stride == 1)
    return a;
  if (stride == 2)
    return a / 2 + (a & 1);
  return (a - 1) / stride + 1;
}

/* The outputs o in [0, out) whose input position o·stride + offset − pad
 * lies in [0, in), as [*lo, *hi) (empty when equal); offset = k·dilation
 * for tap k.  gf_conv2d_init bounded in + pad, so nothing overflows. */
static void
tap_range (size_t in, size_t out, size_t stride, size_t pad, size_t offset,
           size_t *lo, size_t *hi)
{
  size_t first = 0, end = 0;

  if (offset < pad)
    first = ceil_div_stride (pad - offset, stride);
  if (in + pad > offset)
    end = ceil_div_stride (in + pad - offset, stride);
  end = size_min (end, out);
  *lo = size_min (first, end);
  *hi = end;
}

/* Fills @t for tap (kh, kw); false when the tap reads only padding. */
static bool
conv_tap (const GfConv2d *conv, size_t kh, size_t kw, ConvTap *t)
{
  tap_range (conv->in_h, conv->out_h, conv->stride_h, conv->pad_top,
             kh * conv->dilation_h, &t->oh_lo, &t->oh_hi);
  tap_range (conv->in_w, conv->out_w, conv->stride_w, conv->pad_left,
             kw * conv->dilation_w, &t->ow_lo, &t->ow_hi);
  if (t->oh_lo == t->oh_hi || t->ow_lo == t->ow_hi)
    return false;
  t->ih_lo = t->oh_lo * conv->stride_h + kh * conv->dilation_h
             - conv->pad_top;
  t->iw_lo = t->ow_lo * conv->stride_w + kw * conv->dilation_w
             - conv->pad_left;
  return true;
}

/* The input row that output row @oh reads through tap @t, x_c (H, W). */
static inline size_t
tap_input_row (const GfConv2d *conv, const ConvTap *t, size_t oh)
{
  return (t->ih_lo + (oh - t->oh_lo) * conv->stride_h) * conv->in_w
         + t->iw_lo;
}

/* dst[i] += k · src[i·stride], i < n.  Unit stride is the common case:
 * its loop runs in blocks of VEC_BLOCK, whose constant trip count lets GCC
 * vectorise it even at -O2 (the cheap cost model there refuses a loop that
 * needs a scalar epilogue). */
static inline void
axpy_gather (size_t n, gf_real k, const gf_real *restrict src, size_t stride,
             gf_real *restrict dst)
{
  size_t i = 0;

  if (stride == 1)
    for (; i + VEC_BLOCK <= n; i += VEC_BLOCK)
      for (size_t j = i; j < i + VEC_BLOCK; j++)
        dst[j] += k * src[j];
  for (; i < n; i++)
    dst[i] += k * src[i * stride];
}

/* dst[i·stride] += k · src[i], i < n: the transpose of axpy_gather. */
static inline void
axpy_scatter (size_t n, gf_real k, const gf_real *restrict src,
              gf_real *restrict dst, size_t stride)
{
  if (stride == 1)
    {
      axpy_gather (n, k, src, 1, dst);
      return;
    }
  for (size_t i = 0; i < n; i++)
    dst[i * stride] += k * src[i];
}

/* acc[i] += a[i] · b[i·stride], i < n, blocked like axpy_gather. */
static inline void
mul_add_gather (size_t n, const gf_real *restrict a, const gf_real *restrict b,
                size_t stride, gf_real *restrict acc)
{
  size_t i = 0;

  if (stride == 1)
    for (; i + VEC_BLOCK <= n; i += VEC_BLOCK)
      for (size_t j = i; j < i + VEC_BLOCK; j++)
        acc[j] += a[j] * b[j];
  for (; i < n; i++)
    acc[i] += a[i] * b[i * stride];
}

static gf_real
sum (const gf_real *x, size_t n)
{
  gf_real total = 0;

  for (size_t i = 0; i < n; i++)
    total += x[i];
  return total;
}

/* db (M) += Σ over images and positions of dy (N, M, OH·OW). */
static void
bias_backward (const GfConv2d *conv, const ConvDims *d, const gf_real *dy,
               gf_real *db)
{
  for (size_t p = 0; p < conv->batch * conv->out_channels; p++)
    db[p % conv->out_channels] += sum (dy + p * d->out_plane, d->out_plane);
}

/* ---- im2col / col2im --------------------------------------------------- */

/* col_row (OH, OW) = input plane x_c (H, W) seen through tap (kh, kw):
 * col_row[oh, ow] = x_c[oh·sh + kh·dh − pt, ow·sw + kw·dw − pl], 0 where
 * that falls in the padding. */
static void
im2col_tap (const GfConv2d *conv, const gf_real *restrict x_c,
            size_t kh, size_t kw, gf_real *restrict col_row)
{
  const size_t ow_n = conv->out_w, sw = conv->stride_w;
  ConvTap t;

  if (!conv_tap (conv, kh, kw, &t))
    {
      memset (col_row, 0, conv->out_h * ow_n * sizeof *col_row);
      return;
    }
  memset (col_row, 0, t.oh_lo * ow_n * sizeof *col_row);
  for (size_t oh = t.oh_lo; oh < t.oh_hi; oh++)
    {
      const gf_real *src = x_c + tap_input_row (conv, &t, oh);
      gf_real *dst = col_row + oh * ow_n;

      memset (dst, 0, t.ow_lo * sizeof *dst);
      if (sw == 1)
        memcpy (dst + t.ow_lo, src, (t.ow_hi - t.ow_lo) * sizeof *dst);
      else
        for (size_t i = 0; i < t.ow_hi - t.ow_lo; i++)
          dst[t.ow_lo + i] = src[i * sw];
      memset (dst + t.ow_hi, 0, (ow_n - t.ow_hi) * sizeof *dst);
    }
  memset (col_row + t.oh_hi * ow_n, 0,
          (conv->out_h - t.oh_hi) * ow_n * sizeof *col_row);
}

/* col (C/g·KH·KW, OH·OW) from x_g (C/g, H, W): row (c, kh, kw) is plane c
 * through tap (kh, kw). */
static void
im2col (const GfConv2d *conv, const ConvDims *d, const gf_real *x_g,
        gf_real *col)
{
  for (size_t row = 0; row < d->col_rows; row++)
    {
      size_t tap = row % d->taps;

      im2col_tap (conv, x_g + (row / d->taps) * d->in_plane,
                  tap / conv->kernel_w, tap % conv->kernel_w,
                  col + row * d->out_plane);
    }
}

/* dx_g (C/g, H, W) += col2im of dcol (C/g·KH·KW, OH·OW): each element goes
 * back to the input pixel im2col took it from; padding is dropped. */
static void
col2im (const GfConv2d *conv, const ConvDims *d, const gf_real *dcol,
        gf_real *dx_g)
{
  for (size_t row = 0; row < d->col_rows; row++)
    {
      size_t tap = row % d->taps;
      const gf_real *dcol_row = dcol + row * d->out_plane;
      gf_real *dx_c = dx_g + (row / d->taps) * d->in_plane;
      ConvTap t;

      if (!conv_tap (conv, tap / conv->kernel_w, tap % conv->kernel_w, &t))
        continue;
      for (size_t oh = t.oh_lo; oh < t.oh_hi; oh++)
        axpy_scatter (t.ow_hi - t.ow_lo, 1,
                      dcol_row + oh * conv->out_w + t.ow_lo,
                      dx_c + tap_input_row (conv, &t, oh), conv->stride_w);
    }
}

/* ---- GEMM paths (pointwise and im2col) ---------------------------------- */

/* Forward of one image, x_n (C, H, W) → y_n (M, OH, OW), one GEMM per
 * group.  With a bias, y_n starts as the bias and the GEMM adds onto it. */
static void
gemm_forward_image (const GfConv2d *conv, const ConvDims *d, bool pointwise,
                    const gf_real *x_n, const gf_real *w, const gf_real *b,
                    gf_real *y_n, gf_real *col)
{
  gf_real beta = b != NULL ? 1 : 0;

  if (b != NULL)
    for (size_t m = 0; m < conv->out_channels; m++)
      for (size_t i = 0; i < d->out_plane; i++)
        y_n[m * d->out_plane + i] = b[m];
  for (size_t g = 0; g < conv->groups; g++)
    {
      const gf_real *x_g = x_n + g * d->c_group * d->in_plane;

      /* Pointwise, x_g (C/g, H·W) already is the column matrix. */
      if (!pointwise)
        im2col (conv, d, x_g, col);
      /* y_g (M/g, OH·OW) = W_g (M/g, K) · col (K, OH·OW) + beta·y_g */
      gf_gemm (0, 0, d->m_group, d->out_plane, d->col_rows,
               1, w + g * d->m_group * d->col_rows, d->col_rows,
               pointwise ? x_g : col, d->out_plane,
               beta, y_n + g * d->m_group * d->out_plane, d->out_plane);
    }
}

/* dw_g (M/g, K) += dy_g (M/g, OH·OW) · colᵀ (OH·OW, K). */
static void
gemm_backward_weights (const GfConv2d *conv, const ConvDims *d,
                       bool pointwise, const gf_real *x_g,
                       const gf_real *dy_g, gf_real *dw_g, gf_real *col)
{
  if (!pointwise)
    im2col (conv, d, x_g, col);
  gf_gemm (0, 1, d->m_group, d->col_rows, d->out_plane,
           1, dy_g, d->out_plane, pointwise ? x_g : col, d->out_plane,
           1, dw_g, d->col_rows);
}

/* dcol (K, OH·OW) = W_gᵀ (K, M/g) · dy_g (M/g, OH·OW), then col2im adds
 * it into dx_g (C/g, H, W), which the caller zeroed.  Pointwise, dcol is
 * dx_g itself and the GEMM overwrites it. */
static void
gemm_backward_input (const GfConv2d *conv, const ConvDims *d, bool pointwise,
                     const gf_real *w_g, const gf_real *dy_g,
                     gf_real *dx_g, gf_real *col)
{
  gf_gemm (1, 0, d->col_rows, d->out_plane, d->m_group,
           1, w_g, d->col_rows, dy_g, d->out_plane,
           0, pointwise ? dx_g : col, d->out_plane);
  if (!pointwise)
    col2im (conv, d, col, dx_g);
}

/* Backward of one image: dx_n (C, H, W) is written, dw accumulated; either
 * may be NULL. */
static void
gemm_backward_image (const GfConv2d *conv, const ConvDims *d, bool pointwise,
                     const gf_real *x_n, const gf_real *w,
                     const gf_real *dy_n, gf_real *dx_n, gf_real *dw,
                     gf_real *col)
{
  size_t w_group = d->m_group * d->col_rows;

  if (dx_n != NULL && !pointwise)
    memset (dx_n, 0, conv->in_channels * d->in_plane * sizeof *dx_n);
  for (size_t g = 0; g < conv->groups; g++)
    {
      const gf_real *x_g = x_n + g * d->c_group * d->in_plane;
      const gf_real *dy_g = dy_n + g * d->m_group * d->out_plane;

      if (dw != NULL)
        gemm_backward_weights (conv, d, pointwise, x_g, dy_g,
                               dw + g * w_group, col);
      if (dx_n != NULL)
        gemm_backward_input (conv, d, pointwise, w + g * w_group, dy_g,
                             dx_n + g * d->c_group * d->in_plane, col);
    }
}

/* ---- Depthwise path ------------------------------------------------------ */

/* Output rows per block of the depthwise loops: a block of y or dy (8 KiB
 * in float) stays in L1 while all KH·KW taps pass over it, where whole
 * planes (50 KiB at 112×112) would not. */
#define DEPTHWISE_BLOCK_ELEMENTS 2048

static size_t
depthwise_block_rows (const GfConv2d *conv)
{
  return size_max (DEPTHWISE_BLOCK_ELEMENTS / conv->out_w, 1);
}

/* The output rows of block [oh0, oh0 + rows) that tap @tap reads real
 * input for, as [*lo, *hi) with *t filled; false when there are none. */
static bool
depthwise_block_tap (const GfConv2d *conv, size_t tap, size_t oh0,
                     size_t rows, ConvTap *t, size_t *lo, size_t *hi)
{
  if (!conv_tap (conv, tap / conv->kernel_w, tap % conv->kernel_w, t))
    return false;
  *lo = size_max (t->oh_lo, oh0);
  *hi = size_min (t->oh_hi, oh0 + rows);
  return *lo < *hi;
}

/* y_c (OH, OW) = bias + Σ_(kh, kw) w_c[kh, kw] · x_c through the tap, for
 * one channel plane x_c (H, W) and its filter w_c (KH, KW). */
static void
depthwise_plane_forward (const GfConv2d *conv, const ConvDims *d,
                         const gf_real *x_c, const gf_real *w_c,
                         gf_real bias, gf_real *y_c)
{
  size_t rows = depthwise_block_rows (conv), lo, hi;
  ConvTap t;

  for (size_t oh0 = 0; oh0 < conv->out_h; oh0 += rows)
    {
      size_t block_end = size_min (oh0 + rows, conv->out_h);

      for (size_t i = oh0 * conv->out_w; i < block_end * conv->out_w; i++)
        y_c[i] = bias;
      for (size_t tap = 0; tap < d->taps; tap++)
        if (depthwise_block_tap (conv, tap, oh0, rows, &t, &lo, &hi))
          for (size_t oh = lo; oh < hi; oh++)
            axpy_gather (t.ow_hi - t.ow_lo, w_c[tap],
                         x_c + tap_input_row (conv, &t, oh), conv->stride_w,
                         y_c + oh * conv->out_w + t.ow_lo);
    }
}

/* dx_c (H, W) = Σ_(kh, kw) w_c[kh, kw] · dy_c (OH, OW) scattered back
 * through the tap. */
static void
depthwise_plane_backward_input (const GfConv2d *conv, const ConvDims *d,
                                const gf_real *w_c, const gf_real *dy_c,
                                gf_real *dx_c)
{
  size_t rows = depthwise_block_rows (conv), lo, hi;
  ConvTap t;

  memset (dx_c, 0, d->in_plane * sizeof *dx_c);
  for (size_t oh0 = 0; oh0 < conv->out_h; oh0 += rows)
    for (size_t tap = 0; tap < d->taps; tap++)
      if (depthwise_block_tap (conv, tap, oh0, rows, &t, &lo, &hi))
        for (size_t oh = lo; oh < hi; oh++)
          axpy_scatter (t.ow_hi - t.ow_lo, w_c[tap],
                        dy_c + oh * conv->out_w + t.ow_lo,
                        dx_c + tap_input_row (conv, &t, oh), conv->stride_w);
}

/* dw_c[kh, kw] += Σ_(oh, ow) dy_c[oh, ow] · x_c through the tap.  The sums
 * run through acc (KH·KW, OW), one partial sum per tap and output column,
 * so the inner loop is an elementwise multiply-add that vectorises rather
 * than a serial floating-point reduction. */
static void
depthwise_plane_backward_weights (const GfConv2d *conv, const ConvDims *d,
                                  const gf_real *x_c, const gf_real *dy_c,
                                  gf_real *dw_c, gf_real *acc)
{
  size_t rows = depthwise_block_rows (conv), lo, hi;
  ConvTap t;

  memset (acc, 0, d->taps * conv->out_w * sizeof *acc);
  for (size_t oh0 = 0; oh0 < conv->out_h; oh0 += rows)
    for (size_t tap = 0; tap < d->taps; tap++)
      if (depthwise_block_tap (conv, tap, oh0, rows, &t, &lo, &hi))
        for (size_t oh = lo; oh < hi; oh++)
          mul_add_gather (t.ow_hi - t.ow_lo,
                          dy_c + oh * conv->out_w + t.ow_lo,
                          x_c + tap_input_row (conv, &t, oh), conv->stride_w,
                          acc + tap * conv->out_w + t.ow_lo);
  for (size_t tap = 0; tap < d->taps; tap++)
    dw_c[tap] += sum (acc + tap * conv->out_w, conv->out_w);
}

/* x (N, C, H, W), w (C, 1, KH, KW), b (C) or NULL → y (N, C, OH, OW). */
static void
depthwise_forward (const GfConv2d *conv, const ConvDims *d,
                   const gf_real *x, const gf_real *w, const gf_real *b,
                   gf_real *y)
{
  for (size_t p = 0; p < conv->batch * conv->in_channels; p++)
    {
      size_t c = p % conv->in_channels;

      depthwise_plane_forward (conv, d, x + p * d->in_plane, w + c * d->taps,
                               b != NULL ? b[c] : 0, y + p * d->out_plane);
    }
}

/* dy (N, C, OH, OW) → dx (N, C, H, W) written, dw (C, 1, KH, KW)
 * accumulated; acc (KH·KW, OW) is scratch. */
static void
depthwise_backward (const GfConv2d *conv, const ConvDims *d,
                    const gf_real *x, const gf_real *w, const gf_real *dy,
                    gf_real *dx, gf_real *dw, gf_real *acc)
{
  for (size_t p = 0; p < conv->batch * conv->in_channels; p++)
    {
      size_t c = p % conv->in_channels;
      const gf_real *dy_c = dy + p * d->out_plane;

      if (dx != NULL)
        depthwise_plane_backward_input (conv, d, w + c * d->taps, dy_c,
                                        dx + p * d->in_plane);
      if (dw != NULL)
        depthwise_plane_backward_weights (conv, d, x + p * d->in_plane, dy_c,
                                          dw + c * d->taps, acc);
    }
}

/* ---- Entry points -------------------------------------------------------- */

void
gf_conv2d_forward (const GfConv2d *conv,
                   const gf_real *x, const gf_real *w, const gf_real *b,
                   gf_real *y, gf_real *workspace)
{
  ConvDims d = conv_dims (conv);
  ConvPath path = conv_path (conv);
  size_t x_image = conv->in_channels * d.in_plane;
  size_t y_image = conv->out_channels * d.out_plane;

  if (path == CONV_PATH_DEPTHWISE)
    {
      depthwise_forward (conv, &d, x, w, b, y);
      return;
    }
  for (size_t n = 0; n < conv->batch; n++)
    gemm_forward_image (conv, &d, path == CONV_PATH_POINTWISE,
                        x + n * x_image, w, b, y + n * y_image, workspace);
}

void
gf_conv2d_backward (const GfConv2d *conv,
                    const gf_real *x, const gf_real *w, const gf_real *dy,
                    gf_real *dx, gf_real *dw, gf_real *db,
                    gf_real *workspace)
{
  ConvDims d = conv_dims (conv);
  ConvPath path = conv_path (conv);
  size_t x_image = conv->in_channels * d.in_plane;
  size_t y_image = conv->out_channels * d.out_plane;

  if (path == CONV_PATH_DEPTHWISE)
    depthwise_backward (conv, &d, x, w, dy, dx, dw, workspace);
  else
    for (size_t n = 0; n < conv->batch; n++)
      gemm_backward_image (conv, &d, path == CONV_PATH_POINTWISE,
                           x + n * x_image, w, dy + n * y_image,
                           dx != NULL ? dx + n * x_image : NULL, dw,
                           workspace);
  if (db != NULL)
    bias_backward (conv, &d, dy, db);
}

/* ---- Naive reference ------------------------------------------------------ */

/* The input index o·stride + k·dilation − pad along one axis; false when
 * it falls in the padding. */
static bool
reference_input_index (size_t o, size_t k, size_t stride, size_t dilation,
                       size_t pad, size_t in, size_t *i)
{
  size_t padded = o * stride + k * dilation;

  if (padded < pad || padded - pad >= in)
    return false;
  *i = padded - pad;
  return true;
}

/* Index into x (N, C, H, W) of the pixel that output (n, m, oh, ow) reads
 * at tap (c, kh, kw) of its group; false in the padding. */
static bool
reference_x_index (const GfConv2d *conv, size_t n, size_t m, size_t oh,
                   size_t ow, size_t c, size_t kh, size_t kw, size_t *xi)
{
  size_t cg = conv->in_channels / conv->groups;
  size_t g = m / (conv->out_channels / conv->groups);
  size_t ih, iw;

  if (!reference_input_index (oh, kh, conv->stride_h, conv->dilation_h,
                              conv->pad_top, conv->in_h, &ih)
      || !reference_input_index (ow, kw, conv->stride_w, conv->dilation_w,
                                 conv->pad_left, conv->in_w, &iw))
    return false;
  *xi = ((n * conv->in_channels + g * cg + c) * conv->in_h + ih) * conv->in_w
        + iw;
  return true;
}

static size_t
reference_w_index (const GfConv2d *conv, size_t m, size_t c, size_t kh,
                   size_t kw)
{
  size_t cg = conv->in_channels / conv->groups;

  return ((m * cg + c) * conv->kernel_h + kh) * conv->kernel_w + kw;
}

void
gf_conv2d_forward_reference (const GfConv2d *conv,
                             const gf_real *x, const gf_real *w,
                             const gf_real *b, gf_real *y)
{
  size_t cg = conv->in_channels / conv->groups;

  for (size_t n = 0; n < conv->batch; n++)
    for (size_t m = 0; m < conv->out_channels; m++)
      for (size_t oh = 0; oh < conv->out_h; oh++)
        for (size_t ow = 0; ow < conv->out_w; ow++)
          {
            gf_real total = b != NULL ? b[m] : 0;
            size_t xi;

            for (size_t c = 0; c < cg; c++)
              for (size_t kh = 0; kh < conv->kernel_h; kh++)
                for (size_t kw = 0; kw < conv->kernel_w; kw++)
                  if (reference_x_index (conv, n, m, oh, ow, c, kh, kw, &xi))
                    total += x[xi] * w[reference_w_index (conv, m, c, kh, kw)];
            y[((n * conv->out_channels + m) * conv->out_h + oh) * conv->out_w
              + ow] = total;
          }
}

/* Adds output (n, m, oh, ow)'s gradient @g to dx and dw (either NULL). */
static void
reference_backward_output (const GfConv2d *conv, const gf_real *x,
                           const gf_real *w, gf_real g, size_t n, size_t m,
                           size_t oh, size_t ow, gf_real *dx, gf_real *dw)
{
  size_t cg = conv->in_channels / conv->groups;
  size_t xi, wi;

  for (size_t c = 0; c < cg; c++)
    for (size_t kh = 0; kh < conv->kernel_h; kh++)
      for (size_t kw = 0; kw < conv->kernel_w; kw++)
        {
          if (!reference_x_index (conv, n, m, oh, ow, c, kh, kw, &xi))
            continue;
          wi = reference_w_index (conv, m, c, kh, kw);
          if (dx != NULL)
            dx[xi] += w[wi] * g;
          if (dw != NULL)
            dw[wi] += x[xi] * g;
        }
}

void
gf_conv2d_backward_reference (const GfConv2d *conv,
                              const gf_real *x, const gf_real *w,
                              const gf_real *dy, gf_real *dx,
                              gf_real *dw, gf_real *db)
{
  size_t x_size = conv->batch * conv->in_channels * conv->in_h * conv->in_w;
  const gf_real *g = dy;

  for (size_t i = 0; dx != NULL && i < x_size; i++)
    dx[i] = 0;
  for (size_t n = 0; n < conv->batch; n++)
    for (size_t m = 0; m < conv->out_channels; m++)
      for (size_t oh = 0; oh < conv->out_h; oh++)
        for (size_t ow = 0; ow < conv->out_w; ow++, g++)
          {
            if (db != NULL)
              db[m] += *g;
            reference_backward_output (conv, x, w, *g, n, m, oh, ow, dx, dw);
          }
}
