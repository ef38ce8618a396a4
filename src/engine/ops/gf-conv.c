/* gf-conv.c: 2-D convolution (ONNX Conv, a cross-correlation), NCHW.
 *
 * Four fast kernels share the contract of gf-conv.h:
 *  - Winograd F(4×4, 3×3) (gf-winograd.c) for y, dx and dW of dense 3×3
 *    stride-1 convolutions where bench-conv measured it faster (see
 *    winograd_wins and winograd_dw), or wherever the caller forces it;
 *  - pointwise (1×1, stride 1, unpadded): one image's group x_g (C/g, H·W)
 *    already is the column matrix, so each image and group is one GEMM on x
 *    as it lies, forward and backward, and needs no workspace (unless the
 *    caller forces batching, below);
 *  - depthwise (groups == C == M): each channel has its own KH×KW filter,
 *    far too little work for a GEMM.  3×3 planes at stride 1 (padding 1)
 *    or 2 go, forward and with AVX-512, to gf-conv-depthwise.c's kernels;
 *    otherwise a direct loop runs tap by tap over
 *    blocks of output rows that stay in cache; for one output row and one
 *    tap (kh, kw) the outputs that read real input (not padding) form one
 *    interval of ow found arithmetically, so the inner loop has no bounds
 *    test and vectorises;
 *  - everything else: im2col into the workspace, then one GEMM per group;
 *    backward reuses the same buffer first for the columns (dW += dY·colᵀ)
 *    and then for dcol = Wᵀ·dY, which col2im writes into dx.
 * The GEMM paths run a chunk of images at a time (conv_images_per_gemm):
 * one image on large planes, so that y, dy and dx are used in place; on
 * small planes several, whose column matrices sit side by side in one
 * (C/g·KH·KW, n·OH·OW) matrix, so that each group is one larger GEMM, at
 * the price of a scatter of its output into NCHW (which also adds the
 * bias) and a gather of dy.
 * The loops around the GEMMs (the depthwise kernels, im2col, col2im) run on
 * the engine's worker pool (gf-parallel.h), partitioned so that no two
 * threads write one element and every sum keeps the order it has on one
 * thread: results are bit-identical at any thread count.
 * The naive reference loops at the end are what the tests compare against.
 */
#include "gf-conv.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../gf-engine.h"
#include "../gf-parallel.h"
#include "gf-conv-depthwise.h"
#include "gf-conv-direct.h"
#include "gf-conv-pointwise.h"
#include "gf-winograd.h"

/* cblas takes every GEMM dimension and row stride as an int. */
#define GEMM_DIM_MAX ((size_t) INT_MAX)

/* Whole tensors must also be addressable in bytes. */
#define TENSOR_ELEMENTS_MAX (SIZE_MAX / sizeof (gf_real))

/* Elements per block of the unit-stride inner loops (see axpy_gather): one
 * AVX vector of floats, two SSE vectors. */
#define VEC_BLOCK 8

/* Batching images into one GEMM (see conv_images_per_gemm): the columns
 * a GEMM should reach, and the most elements its matrices may take
 * (16 Mi, 64 MiB in float). */
#define BATCH_GEMM_COLUMNS 1024
#define BATCH_WORKSPACE_MAX ((size_t) 1 << 24)
#define POINTWISE_BATCH_PLANE 196
#define POINTWISE_GEMM_COLUMNS 2048

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

/* How many images share one GEMM.  One image's GEMM has OH·OW columns;
 * at 7×7 or 14×14 that is too few for OpenBLAS to run at speed (on the
 * pretraining CNN, batching 7×7 planes took a layer from about 52 to 72
 * GFLOP/s on one thread) and with threads each call pays a hand-off, so
 * small planes are batched up to BATCH_GEMM_COLUMNS columns (20 images at
 * 7×7).  From 28×28 up batching measured no faster, and slower where K is
 * small (OpenBLAS's unpacked small-matrix kernel handles one image, not
 * the batch), so those run per image.  The batched matrices, col
 * (C/g·KH·KW, n·OH·OW) and out (M/g, n·OH·OW), stay within
 * BATCH_WORKSPACE_MAX elements.  The count depends on conv->batch only
 * through the final clamp, so a workspace planned for the largest batch
 * serves every smaller one.  Pointwise convolutions run on x as it lies,
 * without copies (batching measured slower), unless the caller forces
 * batching. */
static size_t
conv_images_per_gemm (const GfConv2d *conv, const ConvDims *d)
{
  size_t per_image = (d->col_rows + d->m_group) * d->out_plane;
  size_t n = conv->images_per_gemm;

  if (n == 0 && conv_path (conv) == CONV_PATH_POINTWISE)
    n = d->out_plane <= POINTWISE_BATCH_PLANE
        ? POINTWISE_GEMM_COLUMNS / d->out_plane : 1;
  else if (n == 0)
    n = size_min (BATCH_GEMM_COLUMNS / d->out_plane,
                  BATCH_WORKSPACE_MAX / per_image);
  /* Batched, every GEMM dimension and the workspace stay within an int. */
  n = size_min (n, GEMM_DIM_MAX / per_image);
  return size_max (size_min (n, conv->batch), 1);
}

/* Elements from one chunk's depthwise dW partial sums, (KH·KW, OW), to the
 * next's: rounded up to whole cache lines plus one more, so that no two
 * threads write one line (or its neighbour, which the prefetcher pairs
 * with it) wherever the workspace starts.  On 7×7 planes the sums are 252
 * bytes, rewritten for every image by both threads. */
#define CACHE_SEPARATION 128

static size_t
depthwise_acc_stride (const GfConv2d *conv, const ConvDims *d)
{
  const size_t line = CACHE_SEPARATION / sizeof (gf_real);

  return (d->taps * conv->out_w + line - 1) / line * line + line;
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

/* Where Winograd beats im2col + GEMM, from bench-conv's figures (OpenBLAS
 * SkylakeX kernels, one thread): on ResNet-18's and VGG19's 3×3 layers
 * from 56×56 (150×150) down to 14×14 (18×18) it ran forward 1.4–2.1 and
 * backward 1.45–2.0 times as fast, but it needs
 *  - enough channels for its GEMMs (out, in) · (in, tiles) to run at
 *    speed: at 8 in and out it merely ties, at 16 it wins by 1.2–1.7×;
 *  - little waste where 4 does not divide the plane: tiles cover
 *    4⌈OH/4⌉ × 4⌈OW/4⌉ outputs, 1.31 times OH·OW at 7×7 and 14×14, where
 *    it still wins, but 1.78 times at 9×9, where it lost by up to 20%
 *    (VGG19's last block at 150 input) with OpenBLAS' products; on the
 *    engine's register blocks (gf_winograd_products_blocked) it wins
 *    there too: VGG19 at 150 px, batch 32, 2 threads, alternating runs,
 *    forward 29.3 -> 30.1 images/s and fine-tuning 9.5 -> 10.6 with its
 *    four 9×9 layers on Winograd;
 *  - enough tiles in the batch to repay transforming the filters (36 per
 *    filter, per call): at 32 tiles (batch 8 at 7×7) it won by 1.1–1.7×
 *    at 64 to 256 channels and tied at 512 (forward 5% faster, backward
 *    5% slower); at batch 32 it won by 1.5–1.7×. */
#define WINOGRAD_MIN_CHANNELS 16
#define WINOGRAD_MAX_WASTE_PERCENT 135
#define WINOGRAD_MAX_WASTE_PERCENT_BLOCKED 180
#define WINOGRAD_MIN_TILES 32
#define WINOGRAD_TILE 4   /* outputs per tile side, F(4×4, 3×3) */
#define WINOGRAD_POSITIONS 36   /* (4 + 3 − 1)², per filter in dU */

static bool
winograd_wins (const GfConv2d *conv)
{
  size_t tiles_h = (conv->out_h + WINOGRAD_TILE - 1) / WINOGRAD_TILE;
  size_t tiles_w = (conv->out_w + WINOGRAD_TILE - 1) / WINOGRAD_TILE;
  size_t covered = WINOGRAD_TILE * WINOGRAD_TILE * tiles_h * tiles_w;

  return conv->in_channels >= WINOGRAD_MIN_CHANNELS
         && conv->out_channels >= WINOGRAD_MIN_CHANNELS
         && covered * 100 <= (gf_winograd_products_blocked (conv)
                              ? WINOGRAD_MAX_WASTE_PERCENT_BLOCKED
                              : WINOGRAD_MAX_WASTE_PERCENT)
                             * conv->out_h * conv->out_w
         && conv->batch * tiles_h * tiles_w >= WINOGRAD_MIN_TILES;
}

bool
gf_conv2d_winograd_applies (const GfConv2d *conv)
{
  return gf_winograd_applies (conv);
}

bool
gf_conv2d_uses_winograd (const GfConv2d *conv)
{
  if (conv->algo == GF_CONV_ALGO_GEMM || conv->algo == GF_CONV_ALGO_DIRECT
      || !gf_winograd_applies (conv))
    return false;
  return conv->algo == GF_CONV_ALGO_WINOGRAD || winograd_wins (conv);
}

/* The direct kernel computes y where it applies, unless another path is
 * forced, but not for 1×1 kernels: ResNet-18's 1×1 stride-2 shortcut on
 * 64 channels took 6.9 ms a batch of 32 against 3.8 by GEMM (its rows
 * of 28 fill two vectors, and the padded copy holds both phases of which
 * it reads one).  It takes ResNet-18's 7×7 stem on 3 channels (58 → 32 ms
 * a batch of 32, two threads) and the 3×3 first layers of VGG19 and
 * MobileNetV2. */
bool
gf_conv2d_uses_direct (const GfConv2d *conv)
{
  if (!gf_conv_direct_applies (conv))
    return false;
  if (conv->algo == GF_CONV_ALGO_DIRECT)
    return true;
  return conv->algo == GF_CONV_ALGO_AUTO && !gf_conv2d_uses_winograd (conv)
         && conv_path (conv) == CONV_PATH_IM2COL
         && conv->kernel_h * conv->kernel_w > 1;
}

/* The 1×1 kernel computes y where it applies, unless another path is
 * forced, on planes larger than POINTWISE_BATCH_PLANE: smaller ones are
 * batched into one GEMM (see conv_images_per_gemm), where OpenBLAS runs
 * at 200–250 GFLOP/s, and a tile of 48 columns would waste most of a
 * 7×7 plane's last vector.  On MobileNetV2's larger planes (K of 16 to
 * 192) the GEMM, its clearing pass and the bias and activation pass ran
 * at 70–120 GFLOP/s on two threads. */
bool
gf_conv2d_uses_pointwise (const GfConv2d *conv)
{
  if (!gf_conv_pointwise_applies (conv))
    return false;
  if (conv->algo == GF_CONV_ALGO_POINTWISE)
    return true;
  return conv->algo == GF_CONV_ALGO_AUTO && conv->images_per_gemm == 0
         && conv->out_h * conv->out_w > POINTWISE_BATCH_PLANE;
}

/* The GEMM paths' workspace (all of it but the Winograd path's). */
static size_t
gemm_workspace_size (const GfConv2d *conv)
{
  ConvDims d = conv_dims (conv);
  ConvPath path = conv_path (conv);
  size_t images = conv_images_per_gemm (conv, &d);

  /* Depthwise: one output row of partial sums of dW per tap, (KH·KW, OW),
   * for each thread (see depthwise_backward_channels). */
  if (path == CONV_PATH_DEPTHWISE)
    return depthwise_acc_stride (conv, &d) * GF_PARALLEL_MAX_THREADS;
  /* One image at a time: pointwise needs nothing; otherwise one column
   * matrix (C/g·KH·KW, OH·OW), reused for every image and group, and in
   * backward for the columns and then for dcol. */
  if (images == 1)
    return path == CONV_PATH_POINTWISE ? 0 : d.col_rows * d.out_plane;
  /* Batched: col (C/g·KH·KW, n·OH·OW) as above, and out (M/g, n·OH·OW),
   * the GEMM's output before scatter_output (or dy gathered). */
  return (d.col_rows + d.m_group) * images * d.out_plane;
}

/* Winograd computes y, dx and dW in its own workspace; the GEMM paths'
 * is kept in the plan too, so that a batch small enough for the dispatch
 * rule to pick them (see gf_conv2d_uses_winograd) fits what the graph
 * planned at its largest batch. */
size_t
gf_conv2d_workspace_size (const GfConv2d *conv)
{
  size_t gemm = gemm_workspace_size (conv);

  if (gf_conv2d_uses_direct (conv))
    gemm = size_max (gemm, gf_conv_direct_workspace_size (conv));
  if (!gf_conv2d_uses_winograd (conv))
    return gemm;
  return size_max (gemm, gf_winograd_workspace_size (conv));
}

/* ---- Taps ------------------------------------------------------------ */

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
  if (stride == 2)   /* a constant stride vectorises, as in im2col_row */
    for (size_t i = 0; i < n; i++)
      dst[2 * i] += k * src[i];
  else
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

/* Sums that GCC would leave serial (it does not reorder a float
 * reduction) run in DOT_LANES partial sums, a vector register's worth,
 * added lane by lane at the end and then the tail: a fixed order, so the
 * same bits whatever the threads. */
#define DOT_LANES 16

typedef gf_real DotVec
  __attribute__ ((vector_size (DOT_LANES * sizeof (gf_real)),
                  aligned (sizeof (gf_real))));

static gf_real
lanes_total (const DotVec *acc)
{
  gf_real total = 0;

  for (size_t l = 0; l < DOT_LANES; l++)
    total += (*acc)[l];
  return total;
}

/* Σ x[i], i < n.  The bias gradient of VGG19's first layers sums 46
 * million values a step; one add at a time, that was 2% of a step. */
static gf_real
sum (const gf_real *x, size_t n)
{
  DotVec acc;
  gf_real total;
  size_t i = 0;

  memset (&acc, 0, sizeof acc);
  for (; i + DOT_LANES <= n; i += DOT_LANES)
    acc += *(const DotVec *) (x + i);
  total = lanes_total (&acc);
  for (; i < n; i++)
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

/* Stride 1 and an output as wide as the input (a "same" convolution):
 * output (oh, ow) then reads input (oh, ow) shifted by one offset per tap,
 * so the part of a tap's column row that reads real input is one flat
 * copy of the input plane, with the few columns that fell off the left
 * or right edge (which the flat copy fills from the neighbouring row)
 * fixed up afterwards.  One copy per plane instead of one per row is what
 * makes im2col cheap on 28×28 and 7×7 planes. */
static bool
conv_is_flat (const GfConv2d *conv)
{
  return conv->stride_h == 1 && conv->stride_w == 1
         && conv->out_w == conv->in_w;
}

/* In flat mode, the span [first, last) of the output plane (OH·OW) that
 * runs from tap @t's first real output to its last. */
static inline size_t
flat_first (const GfConv2d *conv, const ConvTap *t)
{
  return t->oh_lo * conv->out_w + t->ow_lo;
}

static inline size_t
flat_last (const GfConv2d *conv, const ConvTap *t)
{
  return (t->oh_hi - 1) * conv->out_w + t->ow_hi;
}

/* row (OH, OW) = 0 at the columns outside [ow_lo, ow_hi) inside the flat
 * span: the edge positions that read padding.  They are usually one or
 * two per row, so plain stores beat a call per row. */
static void
flat_zero_edges (const GfConv2d *conv, const ConvTap *t, gf_real *row)
{
  size_t gap = conv->out_w - (t->ow_hi - t->ow_lo);

  for (size_t oh = t->oh_lo; gap > 0 && oh + 1 < t->oh_hi; oh++)
    {
      gf_real *p = row + oh * conv->out_w + t->ow_hi;

      for (size_t i = 0; i < gap; i++)
        p[i] = 0;
    }
}

/* One output row of im2col_tap: dst (OW) = 0 outside [ow_lo, ow_hi), and
 * inside it the input row from src at the horizontal stride. */
static inline void
im2col_row (const GfConv2d *conv, const ConvTap *t,
            const gf_real *restrict src, gf_real *restrict dst)
{
  const size_t sw = conv->stride_w, n = t->ow_hi - t->ow_lo;

  for (size_t i = 0; i < t->ow_lo; i++)
    dst[i] = 0;
  dst += t->ow_lo;
  if (sw == 1)
    memcpy (dst, src, n * sizeof *dst);
  else if (sw == 2)
    /* A constant stride vectorises (two loads and a shuffle); ResNet's
     * stride-2 layers copied one value at a time, 3% of a fine-tuning
     * step. */
    for (size_t i = 0; i < n; i++)
      dst[i] = src[2 * i];
  else
    for (size_t i = 0; i < n; i++)
      dst[i] = src[i * sw];
  for (size_t i = n; i < conv->out_w - t->ow_lo; i++)
    dst[i] = 0;
}

/* col_row (OH, OW) = input plane x_c (H, W) seen through tap (kh, kw):
 * col_row[oh, ow] = x_c[oh·sh + kh·dh − pt, ow·sw + kw·dw − pl], 0 where
 * that falls in the padding. */
static void
im2col_tap (const GfConv2d *conv, const gf_real *restrict x_c,
            size_t kh, size_t kw, gf_real *restrict col_row)
{
  const size_t ow_n = conv->out_w, plane = conv->out_h * ow_n;
  size_t lo, hi;
  ConvTap t;

  if (!conv_tap (conv, kh, kw, &t))
    {
      memset (col_row, 0, plane * sizeof *col_row);
      return;
    }
  lo = conv_is_flat (conv) ? flat_first (conv, &t) : t.oh_lo * ow_n;
  hi = conv_is_flat (conv) ? flat_last (conv, &t) : t.oh_hi * ow_n;
  memset (col_row, 0, lo * sizeof *col_row);
  if (conv_is_flat (conv))
    {
      memcpy (col_row + lo, x_c + tap_input_row (conv, &t, t.oh_lo),
              (hi - lo) * sizeof *col_row);
      flat_zero_edges (conv, &t, col_row);
    }
  else
    for (size_t oh = t.oh_lo; oh < t.oh_hi; oh++)
      im2col_row (conv, &t, x_c + tap_input_row (conv, &t, oh),
                  col_row + oh * ow_n);
  memset (col_row + hi, 0, (plane - hi) * sizeof *col_row);
}

/* dx_c (H, W) += col2im of one row of dcol (OH, OW), scratch: each element
 * goes back to the input pixel im2col took it from; padding is dropped
 * (in flat mode by zeroing it in dcol_row first, so that the rest is one
 * unit-stride pass). */
static void
col2im_tap (const GfConv2d *conv, size_t kh, size_t kw,
            gf_real *restrict dcol_row, gf_real *restrict dx_c)
{
  ConvTap t;

  if (!conv_tap (conv, kh, kw, &t))
    return;
  if (conv_is_flat (conv))
    {
      size_t lo = flat_first (conv, &t), hi = flat_last (conv, &t);

      flat_zero_edges (conv, &t, dcol_row);
      axpy_gather (hi - lo, 1, dcol_row + lo, 1,
                   dx_c + tap_input_row (conv, &t, t.oh_lo));
      return;
    }
  for (size_t oh = t.oh_lo; oh < t.oh_hi; oh++)
    axpy_scatter (t.ow_hi - t.ow_lo, 1,
                  dcol_row + oh * conv->out_w + t.ow_lo,
                  dx_c + tap_input_row (conv, &t, oh), conv->stride_w);
}

/* What the workers of im2col and col2im share: n images' group planes
 * x_g (C/g, H, W) or dx_g, images x_image apart, and the column matrix col
 * (C/g·KH·KW, n·OH·OW), or dcol, laid out as im2col_rows says. */
typedef struct
{
  const GfConv2d *conv;
  const ConvDims *d;
  size_t n, x_image;
  const gf_real *x_g;
  gf_real *dx_g;
  gf_real *col;
} ConvColumns;

/* Rows [begin, end) of col: image i fills columns [i·OH·OW, (i+1)·OH·OW)
 * of every row, row (c, kh, kw) being its plane c through tap (kh, kw).
 * Rows are what threads split, so no two write one element; each plane is
 * read for all the chunk's taps of it while it is in L1. */
static void
im2col_rows (void *data, size_t begin, size_t end, size_t chunk)
{
  const ConvColumns *k = data;
  const ConvDims *d = k->d;
  const size_t ld = k->n * d->out_plane;

  for (size_t row = begin; row < end;)
    {
      size_t c = row / d->taps, tap0 = row % d->taps;
      size_t tap1 = size_min (d->taps, tap0 + (end - row));

      for (size_t i = 0; i < k->n; i++)
        for (size_t tap = tap0; tap < tap1; tap++)
          im2col_tap (k->conv, k->x_g + i * k->x_image + c * d->in_plane,
                      tap / k->conv->kernel_w, tap % k->conv->kernel_w,
                      k->col + (c * d->taps + tap) * ld + i * d->out_plane);
      row += tap1 - tap0;
    }
}

/* col (C/g·KH·KW, n·OH·OW) from the n images' group planes x_g. */
static void
im2col (const GfConv2d *conv, const ConvDims *d, const gf_real *x_g,
        size_t x_image, size_t n, gf_real *col)
{
  ConvColumns k = { .conv = conv, .d = d, .n = n, .x_image = x_image,
                    .x_g = x_g, .col = col };

  gf_parallel_for (d->col_rows, n * d->out_plane, im2col_rows, &k);
}

/* Planes [begin, end) of dx_g, plane p being image p / (C/g)'s channel
 * p % (C/g): each is zeroed and then summed into from its taps in order
 * by one thread, while it is in L1.  col2im_tap zeroes padding in dcol,
 * in the plane's own columns. */
static void
col2im_planes (void *data, size_t begin, size_t end, size_t chunk)
{
  const ConvColumns *k = data;
  const ConvDims *d = k->d;
  const size_t ld = k->n * d->out_plane;

  for (size_t p = begin; p < end; p++)
    {
      size_t i = p / d->c_group, c = p % d->c_group;
      gf_real *dx_c = k->dx_g + i * k->x_image + c * d->in_plane;

      memset (dx_c, 0, d->in_plane * sizeof *dx_c);
      for (size_t tap = 0; tap < d->taps; tap++)
        col2im_tap (k->conv, tap / k->conv->kernel_w, tap % k->conv->kernel_w,
                    k->col + (c * d->taps + tap) * ld + i * d->out_plane,
                    dx_c);
    }
}

/* dx_g (C/g, H, W) of n images, x_image apart, = col2im of dcol
 * (C/g·KH·KW, n·OH·OW), laid out as im2col's col; dx is written. */
static void
col2im (const GfConv2d *conv, const ConvDims *d, gf_real *dcol, size_t n,
        size_t x_image, gf_real *dx_g)
{
  ConvColumns k = { .conv = conv, .d = d, .n = n, .x_image = x_image,
                    .dx_g = dx_g, .col = dcol };

  gf_parallel_for (n * d->c_group, d->taps * d->out_plane, col2im_planes, &k);
}

/* ---- GEMM paths (pointwise and im2col) ---------------------------------- */

/* One call of the GEMM paths over the chunk of images [first, first + n):
 * every GEMM of a group covers the whole chunk, its matrices having
 * n·OH·OW columns, image i's in [i·OH·OW, (i+1)·OH·OW).  A chunk of one
 * image reads and writes y, dy and dx in place; a larger chunk needs its
 * GEMM output (or dy) in out, because in NCHW one channel's planes of
 * successive images are not one row. */
typedef struct
{
  const GfConv2d *conv;
  ConvDims d;
  bool pointwise;           /* x_g (C/g, H·W) already is the column matrix */
  size_t x_image, y_image;  /* C·H·W and M·OH·OW */
  size_t first, n;
  const gf_real *x, *w, *b, *dy;
  gf_real *y, *dx, *dw;
  gf_real *col;             /* workspace, (C/g·KH·KW, n·OH·OW) */
  gf_real *out;             /* workspace after col, (M/g, n·OH·OW) */
} ConvGemm;

/* True when the chunk's column matrix is x as it lies (and dcol is dx). */
static inline bool
gemm_in_place (const ConvGemm *k)
{
  return k->pointwise && k->n == 1;
}

/* The convolution's fused activation, or NULL for none. */
static const GfActivation *
conv_activation (const GfConv2d *conv)
{
  return conv->activation.kind != GF_ACT_IDENTITY ? &conv->activation : NULL;
}

/* y_g (N, M/g, OH·OW) of the chunk's images = out (M/g, n·OH·OW) + b_g
 * (M/g, or NULL for none): the scatter back to NCHW, with the bias added
 * in the same pass. */
static void
scatter_output (const ConvGemm *k, const gf_real *b_g, gf_real *y_g)
{
  const size_t plane = k->d.out_plane;

  for (size_t m = 0; m < k->d.m_group; m++)
    for (size_t i = 0; i < k->n; i++)
      {
        const gf_real *restrict src = k->out + (m * k->n + i) * plane;
        gf_real *restrict dst = y_g + i * k->y_image + m * plane;
        gf_real bias = b_g != NULL ? b_g[m] : 0;

        for (size_t p = 0; p < plane; p++)
          dst[p] = src[p] + bias;
        if (conv_activation (k->conv) != NULL)
          gf_activation_forward_block (conv_activation (k->conv), plane,
                                       dst, dst);
      }
}

/* out (M/g, n·OH·OW) = dy_g (N, M/g, OH·OW) of the chunk's images: the
 * transpose of scatter_output, for the backward GEMMs. */
static void
gather_output (const ConvGemm *k, const gf_real *dy_g)
{
  const size_t plane = k->d.out_plane;

  for (size_t m = 0; m < k->d.m_group; m++)
    for (size_t i = 0; i < k->n; i++)
      memcpy (k->out + (m * k->n + i) * plane,
              dy_g + i * k->y_image + m * plane, plane * sizeof *k->out);
}

/* The column matrix of group g for the chunk, (C/g·KH·KW, n·OH·OW). */
static const gf_real *
gemm_columns (const ConvGemm *k, size_t g)
{
  const gf_real *x_g = k->x + k->first * k->x_image
                       + g * k->d.c_group * k->d.in_plane;

  if (gemm_in_place (k))
    return x_g;
  im2col (k->conv, &k->d, x_g, k->x_image, k->n, k->col);
  return k->col;
}

/* What the rows of one image's GEMM output share for bias_rows. */
typedef struct
{
  const GfActivation *act;
  const gf_real *b;
  gf_real *y;
  size_t plane;   /* from one row of y to the next */
  size_t len;     /* of each row: the plane, or a band of it */
} BiasRows;

/* Rows [begin, end) of y (M/g, OH·OW): the bias added and the fused
 * activation applied, in one pass while the row is in cache.  Cloned
 * (gf-real.h): as SSE it was 12% of a MobileNetV2 forward. */
GF_CLONES
static void
bias_rows (void *data, size_t begin, size_t end, size_t chunk)
{
  const BiasRows *k = data;
  /* Read once: a store through row could alias *k as far as the
   * compiler knows, which kept the loop from vectorising. */
  const size_t len = k->len;

  for (size_t m = begin; m < end; m++)
    {
      gf_real *restrict row = k->y + m * k->plane;

      if (k->b != NULL)
        {
          const gf_real bias = k->b[m];

          for (size_t p = 0; p < len; p++)
            row[p] += bias;
        }
      if (k->act != NULL)
        gf_activation_forward_block (k->act, len, row, row);
    }
}

/* A column matrix larger than this many elements (1 MiB in float) is
 * made and multiplied band of output rows by band, so that each band is
 * still in L2 when the GEMM reads it: ResNet-18's stem (3 channels, 7×7,
 * stride 2) has 147 × 12,544 columns, 7 MiB a picture, written to memory
 * and read back.  Only the forward pass of one image at a time, and only
 * where im2col copies row by row (not the flat stride-1 mode). */
#define BAND_ELEMENTS ((size_t) 1 << 18)

/* Columns of output rows [oh0, oh1) of one image's group planes x_g,
 * (C/g·KH·KW, (oh1 − oh0)·OW), rows split over the pool. */
typedef struct
{
  const GfConv2d *conv;
  const ConvDims *d;
  const gf_real *x_g;
  gf_real *col;
  size_t oh0, oh1;
} ConvBand;

static void
im2col_band_rows (void *data, size_t begin, size_t end, size_t chunk)
{
  const ConvBand *k = data;
  const GfConv2d *conv = k->conv;
  const size_t ow_n = conv->out_w, ld = (k->oh1 - k->oh0) * ow_n;
  ConvTap t;

  for (size_t row = begin; row < end; row++)
    {
      size_t c = row / k->d->taps, tap = row % k->d->taps;
      const gf_real *x_c = k->x_g + c * k->d->in_plane;
      gf_real *dst = k->col + row * ld;
      bool inside = conv_tap (conv, tap / conv->kernel_w,
                              tap % conv->kernel_w, &t);

      for (size_t oh = k->oh0; oh < k->oh1; oh++, dst += ow_n)
        if (inside && oh >= t.oh_lo && oh < t.oh_hi)
          im2col_row (conv, &t, x_c + tap_input_row (conv, &t, oh), dst);
        else
          memset (dst, 0, ow_n * sizeof *dst);
    }
}

/* Whether one image's forward GEMM runs in bands of output rows. */
static bool
gemm_banded (const ConvGemm *k)
{
  return k->n == 1 && !k->pointwise && !conv_is_flat (k->conv)
    && k->d.col_rows * k->d.out_plane > BAND_ELEMENTS;
}

/* gemm_forward_group for one image, band by band. */
static void
gemm_forward_bands (const ConvGemm *k, size_t g, BiasRows *rows)
{
  const ConvDims *d = &k->d;
  const size_t ow_n = k->conv->out_w;
  size_t band = BAND_ELEMENTS / (d->col_rows * ow_n);
  ConvBand b = { .conv = k->conv, .d = d, .col = k->col,
                 .x_g = k->x + k->first * k->x_image
                        + g * d->c_group * d->in_plane };
  gf_real *y_g = rows->y;

  band = band > 0 ? band : 1;
  for (b.oh0 = 0; b.oh0 < k->conv->out_h; b.oh0 = b.oh1)
    {
      size_t n;

      b.oh1 = size_min (b.oh0 + band, k->conv->out_h);
      n = (b.oh1 - b.oh0) * ow_n;
      gf_parallel_for (d->col_rows, n, im2col_band_rows, &b);
      gf_gemm (0, 0, d->m_group, n, d->col_rows,
               1, k->w + g * d->m_group * d->col_rows, d->col_rows,
               b.col, n, 0, y_g + b.oh0 * ow_n, d->out_plane);
      rows->y = y_g + b.oh0 * ow_n;
      rows->len = n;
      if (rows->b != NULL || rows->act != NULL)
        gf_parallel_for (d->m_group, n, bias_rows, rows);
    }
}

/* One image's pointwise product whose input and output rows together
 * pass BAND_ELEMENTS runs band of columns by band, so that the bias and
 * activation pass finds each band still in L2: on MobileNetV2's 112×112
 * and 56×56 layers that pass, over a product written to memory and read
 * back, took 14% of the forward pass.  Bands are whole AVX-512 vectors. */
static bool
gemm_pointwise_banded (const ConvGemm *k, const BiasRows *rows)
{
  return k->n == 1 && k->pointwise && (rows->b != NULL || rows->act != NULL)
    && (k->d.col_rows + k->d.m_group) * k->d.out_plane > BAND_ELEMENTS;
}

static void
gemm_forward_pointwise_bands (const ConvGemm *k, size_t g, BiasRows *rows)
{
  const ConvDims *d = &k->d;
  size_t band = BAND_ELEMENTS / (d->col_rows + d->m_group) / 16 * 16;
  const gf_real *x_g = gemm_columns (k, g);
  gf_real *y_g = rows->y;

  band = band > 0 ? band : 16;
  for (size_t c0 = 0; c0 < d->out_plane; c0 += band)
    {
      size_t n = size_min (band, d->out_plane - c0);

      gf_gemm (0, 0, d->m_group, n, d->col_rows,
               1, k->w + g * d->m_group * d->col_rows, d->col_rows,
               x_g + c0, d->in_plane, 0, y_g + c0, d->out_plane);
      rows->y = y_g + c0;
      rows->len = n;
      gf_parallel_for (d->m_group, n, bias_rows, rows);
    }
}

/* Forward of group g: y_g (M/g, n·OH·OW) = W_g (M/g, K) · col (K,
 * n·OH·OW).  One image's GEMM writes y_g, and one pass adds the bias and
 * applies the activation (filling y_g with the bias first and adding the
 * product onto it, as before, wrote every output twice: 17% of a
 * MobileNetV2 forward pass); batched, the GEMM writes out and the scatter
 * does both. */
static void
gemm_forward_group (const ConvGemm *k, size_t g)
{
  const ConvDims *d = &k->d;
  const size_t cols = k->n * d->out_plane;
  const gf_real *b_g = k->b != NULL ? k->b + g * d->m_group : NULL;
  gf_real *y_g = k->y + k->first * k->y_image + g * d->m_group * d->out_plane;
  const gf_real *col;
  BiasRows rows = { conv_activation (k->conv), b_g, y_g, d->out_plane,
                    d->out_plane };

  if (gemm_banded (k))
    {
      gemm_forward_bands (k, g, &rows);
      return;
    }
  if (gemm_pointwise_banded (k, &rows))
    {
      gemm_forward_pointwise_bands (k, g, &rows);
      return;
    }
  col = gemm_columns (k, g);
  gf_gemm (0, 0, d->m_group, cols, d->col_rows,
           1, k->w + g * d->m_group * d->col_rows, d->col_rows,
           col, cols, 0, k->n == 1 ? y_g : k->out, cols);
  if (k->n > 1)
    scatter_output (k, b_g, y_g);
  else if (rows.b != NULL || rows.act != NULL)
    gf_parallel_for (d->m_group, d->out_plane, bias_rows, &rows);
}

/* Backward of group g: dW_g (M/g, K) += dy_g (M/g, n·OH·OW) · colᵀ, then
 * dcol (K, n·OH·OW) = W_gᵀ · dy_g, which col2im writes into dx_g.  dcol
 * reuses col's buffer, or in place is dx_g itself. */
static void
gemm_backward_group (const ConvGemm *k, size_t g)
{
  const ConvDims *d = &k->d;
  const size_t cols = k->n * d->out_plane;
  const gf_real *dy_g = k->dy + k->first * k->y_image
                        + g * d->m_group * d->out_plane;
  gf_real *dx_g = k->dx != NULL ? k->dx + k->first * k->x_image
                                  + g * d->c_group * d->in_plane : NULL;
  const gf_real *w_g = k->w + g * d->m_group * d->col_rows;
  gf_real *dcol = gemm_in_place (k) ? dx_g : k->col;

  if (k->n > 1)
    {
      gather_output (k, dy_g);
      dy_g = k->out;
    }
  if (k->dw != NULL)
    gf_gemm (0, 1, d->m_group, d->col_rows, cols, 1, dy_g, cols,
             gemm_columns (k, g), cols, 1,
             k->dw + g * d->m_group * d->col_rows, d->col_rows);
  if (dx_g == NULL)
    return;
  gf_gemm (1, 0, d->col_rows, cols, d->m_group, 1, w_g, d->col_rows,
           dy_g, cols, 0, dcol, cols);
  if (!gemm_in_place (k))
    col2im (k->conv, &k->d, dcol, k->n, k->x_image, dx_g);
}

/* The GEMM paths over the whole batch, chunk by chunk. */
static void
gemm_run (ConvGemm *k, bool backward, gf_real *workspace)
{
  size_t per_chunk = conv_images_per_gemm (k->conv, &k->d);

  k->x_image = k->conv->in_channels * k->d.in_plane;
  k->y_image = k->conv->out_channels * k->d.out_plane;
  k->col = workspace;
  /* Pointwise one image at a time has no workspace at all. */
  k->out = per_chunk > 1
           ? workspace + k->d.col_rows * per_chunk * k->d.out_plane : NULL;
  for (k->first = 0; k->first < k->conv->batch; k->first += k->n)
    {
      k->n = size_min (per_chunk, k->conv->batch - k->first);
      for (size_t g = 0; g < k->conv->groups; g++)
        if (backward)
          gemm_backward_group (k, g);
        else
          gemm_forward_group (k, g);
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

/* Whether depthwise3x3_plane_forward serves @conv: a 3×3 kernel, no
 * dilation, strides of 1 or 2 (MobileNet's). */
static bool
depthwise_is_3x3 (const GfConv2d *conv)
{
  return conv->kernel_h == 3 && conv->kernel_w == 3 && conv->dilation_h == 1
    && conv->dilation_w == 1 && conv->stride_w <= 2;
}

/* The columns [*lo, *hi) of an output row whose three taps all fall
 * inside an input row of @width (the rest meet the padding). */
static void
depthwise3x3_inner_columns (const GfConv2d *conv, size_t *lo, size_t *hi)
{
  size_t s = conv->stride_w, pad = conv->pad_left, width = conv->in_w;

  *lo = (pad + s - 1) / s;
  *hi = width + pad >= 3 ? (width + pad - 3) / s + 1 : 0;
  *hi = size_min (*hi, conv->out_w);
  if (*hi < *lo)
    *hi = *lo = conv->out_w;
}

/* One input row r's three taps (weights w) added into output row y:
 * columns [lo, hi) unchecked, the others only where the tap is inside. */
static void
depthwise3x3_row (const GfConv2d *conv, size_t lo, size_t hi,
                  const gf_real *restrict r, const gf_real *w,
                  gf_real *restrict y)
{
  const size_t s = conv->stride_w, pad = conv->pad_left, width = conv->in_w;
  const gf_real w0 = w[0], w1 = w[1], w2 = w[2];

  for (size_t ow = 0; ow < conv->out_w; ow++)
    {
      if (ow == lo)
        {
          const gf_real *q = r + lo * s - pad;

          /* The hot loop: three products a column, one store. */
          if (s == 1)
            for (size_t i = 0; i < hi - lo; i++)
              y[lo + i] += w0 * q[i] + w1 * q[i + 1] + w2 * q[i + 2];
          else
            for (size_t i = 0; i < hi - lo; i++)
              y[lo + i] += w0 * q[2 * i] + w1 * q[2 * i + 1]
                           + w2 * q[2 * i + 2];
          ow = hi;
          if (ow >= conv->out_w)
            break;
        }
      for (size_t kw = 0; kw < 3; kw++)
        {
          size_t iw = ow * s + kw;

          if (iw >= pad && iw - pad < width)
            y[ow] += w[kw] * r[iw - pad];
        }
    }
}

/* Output row y (bias set) from all three input rows r[0..2] under it,
 * each output written once: the columns [lo, hi) sum their nine taps in
 * registers, row by row in the order depthwise3x3_row adds them (so the
 * values are the same), the others go through depthwise3x3_row. */
static void
depthwise3x3_row3 (const GfConv2d *conv, size_t lo, size_t hi,
                   const gf_real *const *r, const gf_real *w, gf_real bias,
                   gf_real *restrict y)
{
  const size_t s = conv->stride_w, pad = conv->pad_left;
  const gf_real *restrict q0 = r[0] + lo * s - pad;
  const gf_real *restrict q1 = r[1] + lo * s - pad;
  const gf_real *restrict q2 = r[2] + lo * s - pad;

  if (s == 1)
    for (size_t i = 0; i < hi - lo; i++)
      {
        gf_real t = bias;

        t += w[0] * q0[i] + w[1] * q0[i + 1] + w[2] * q0[i + 2];
        t += w[3] * q1[i] + w[4] * q1[i + 1] + w[5] * q1[i + 2];
        t += w[6] * q2[i] + w[7] * q2[i + 1] + w[8] * q2[i + 2];
        y[lo + i] = t;
      }
  else
    for (size_t i = 0; i < hi - lo; i++)
      {
        gf_real t = bias;

        t += w[0] * q0[2 * i] + w[1] * q0[2 * i + 1] + w[2] * q0[2 * i + 2];
        t += w[3] * q1[2 * i] + w[4] * q1[2 * i + 1] + w[5] * q1[2 * i + 2];
        t += w[6] * q2[2 * i] + w[7] * q2[2 * i + 1] + w[8] * q2[2 * i + 2];
        y[lo + i] = t;
      }
  /* The border columns, which meet the padding. */
  for (size_t kh = 0; kh < 3; kh++)
    for (size_t ow = lo > 0 ? 0 : hi; ow < conv->out_w;
         ow = ow + 1 == lo ? hi : ow + 1)
      for (size_t kw = 0; kw < 3; kw++)
        {
          size_t iw = ow * s + kw;

          if (iw >= pad && iw - pad < conv->in_w)
            y[ow] += w[kh * 3 + kw] * r[kh][iw - pad];
        }
}

/* Output (oh, ow) of a 3×3 plane summed tap by tap, checking each tap
 * against the input's borders. */
static gf_real
depthwise3x3_checked (const GfConv2d *conv, const gf_real *x_c,
                      const gf_real *w_c, gf_real bias, size_t oh, size_t ow)
{
  gf_real t = bias;

  for (size_t kh = 0; kh < 3; kh++)
    for (size_t kw = 0; kw < 3; kw++)
      {
        size_t ih = oh * conv->stride_h + kh, iw = ow * conv->stride_w + kw;

        if (ih >= conv->pad_top && ih - conv->pad_top < conv->in_h
            && iw >= conv->pad_left && iw - conv->pad_left < conv->in_w)
          t += w_c[kh * 3 + kw]
               * x_c[(ih - conv->pad_top) * conv->in_w + iw - conv->pad_left];
      }
  return t;
}

/* Stride 1, padding 1 on every side (most of MobileNetV2's depthwise
 * layers, and the input gradient of those): the plane's rows between the
 * first and the last are one flat loop over H·W − 2·W elements with the
 * nine taps at fixed offsets, whatever the width (on 14×14 and 7×7
 * planes a loop per row is mostly its ends); the first and last columns,
 * where the flat loop wraps into the next row, and the first and last
 * rows are summed tap by tap afterwards. */
static bool
depthwise3x3_is_flat (const GfConv2d *conv)
{
  return conv->stride_h == 1 && conv->stride_w == 1 && conv->pad_top == 1
    && conv->pad_left == 1 && conv->pad_bottom == 1 && conv->pad_right == 1
    && conv->in_h >= 3;
}

static void
depthwise3x3_plane_flat (const GfConv2d *conv, const gf_real *restrict x,
                         const gf_real *w, gf_real bias, gf_real *restrict y)
{
  const size_t width = conv->in_w, height = conv->in_h;
  const gf_real w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4];
  const gf_real w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];

  for (size_t i = width + 1; i + 1 < (height - 1) * width; i++)
    {
      gf_real t = bias;

      t += w0 * x[i - width - 1] + w1 * x[i - width] + w2 * x[i - width + 1];
      t += w3 * x[i - 1] + w4 * x[i] + w5 * x[i + 1];
      t += w6 * x[i + width - 1] + w7 * x[i + width] + w8 * x[i + width + 1];
      y[i] = t;
    }
  for (size_t oh = 1; oh + 1 < height; oh++)
    {
      y[oh * width] = depthwise3x3_checked (conv, x, w, bias, oh, 0);
      y[oh * width + width - 1]
        = depthwise3x3_checked (conv, x, w, bias, oh, width - 1);
    }
  for (size_t ow = 0; ow < width; ow++)
    {
      y[ow] = depthwise3x3_checked (conv, x, w, bias, 0, ow);
      y[(height - 1) * width + ow]
        = depthwise3x3_checked (conv, x, w, bias, height - 1, ow);
    }
}

/* Small planes and strided ones go through a zero-padded copy of the
 * input plane on the stack, so that no output needs a border check: on
 * MobileNetV2's 7×7 planes half the outputs meet the padding, and a
 * stride-2 row read every other input column (a permute per vector).
 * Stride 1 pads the plane, (pt + H + pb) × (pl + W + pr), and runs one
 * flat loop over it whose outputs land at oh·Wp + ow, copied out row by
 * row.  Stride 2 splits the padded plane by the parity of its rows and
 * columns into four phase planes of (OH + 1) × (OW + 1): tap (kh, kw) of
 * output (oh, ow) is then phase (kh % 2, kw % 2) at row oh + kh / 2,
 * column ow + kw / 2, so one flat loop over oh·(OW + 1) + ow serves it
 * too.  At most DEPTHWISE_PADDED_MAX elements (112×112 planes fit); the
 * backward pass (depthwise3x3_backward_padded) uses the same layouts. */
#define DEPTHWISE_PADDED_WIDTH 32
#define DEPTHWISE_PADDED_MAX (116 * 116)

/* Padded plane's rows and columns; at stride 2, each phase plane's rows
 * and columns, and its elements. */
typedef struct
{
  size_t rows, cols;
  size_t phase_rows, phase_cols, phase_size;
} PaddedPlane;

/* Whether the padded layouts serve @conv (3×3, see depthwise_is_3x3) at
 * all, and their sizes. */
static bool
depthwise3x3_paddable (const GfConv2d *conv, PaddedPlane *p)
{
  size_t s = conv->stride_h;

  if (s != conv->stride_w || s > 2 || conv->pad_top > 2 || conv->pad_left > 2
      || conv->pad_bottom > 2 || conv->pad_right > 2 || conv->out_h == 0
      || conv->out_w == 0)
    return false;
  p->rows = conv->pad_top + conv->in_h + conv->pad_bottom;
  p->cols = conv->pad_left + conv->in_w + conv->pad_right;
  /* Output row oh reads phase rows oh and oh + 1 (even rows) and oh
   * (odd): OH + 1 of each; the same for columns. */
  p->phase_rows = conv->out_h + 1;
  p->phase_cols = conv->out_w + 1;
  p->phase_size = p->phase_rows * p->phase_cols;
  return s == 1 ? p->rows * p->cols <= DEPTHWISE_PADDED_MAX
                : 4 * p->phase_size <= DEPTHWISE_PADDED_MAX;
}

/* Whether the forward pass takes the padded kernels: stride 1 only on
 * planes up to DEPTHWISE_PADDED_WIDTH (larger ones have few border
 * outputs, and the flat loop of depthwise3x3_plane_flat needs no copy). */
static bool
depthwise3x3_padded (const GfConv2d *conv, PaddedPlane *p)
{
  if (!depthwise3x3_paddable (conv, p))
    return false;
  return conv->stride_h == 2 || (conv->in_w <= DEPTHWISE_PADDED_WIDTH
                                 && conv->in_h <= DEPTHWISE_PADDED_WIDTH);
}

/* memcpy of @n reals, out of line: inlined where GCC knows a bound on
 * @n (as in the padded kernels), it becomes rep movs, which takes longer
 * than a 7×7 plane's sums. */
__attribute__ ((noinline))
static void
copy_reals (gf_real *restrict dst, const gf_real *restrict src, size_t n)
{
  memcpy (dst, src, n * sizeof *dst);
}

/* xp (rows, cols): the plane x with its zero padding. */
static void
pad_plane (const GfConv2d *conv, const PaddedPlane *p,
           const gf_real *restrict x, gf_real *restrict xp)
{
  memset (xp, 0, p->rows * p->cols * sizeof *xp);
  for (size_t h = 0; h < conv->in_h; h++)
    copy_reals (xp + (conv->pad_top + h) * p->cols + conv->pad_left,
                x + h * conv->in_w, conv->in_w);
}

/* Padded index pad + i (of a row or a column) lies in phase (pad + i) % 2
 * at (pad + i) / 2: the indices from *i0 in steps of 2 go to @parity's
 * phase from *j0 on, *n of them, for @count indices and @size phase
 * places (those past the last output's window are never read; every
 * input index has a place, as 2·(O + 1) is at least the padded size). */
static size_t
phase_span (size_t pad, size_t count, size_t size, size_t parity,
            size_t *i0, size_t *j0)
{
  size_t n;

  *i0 = (pad + parity) % 2;
  *j0 = (pad + *i0) / 2;
  n = *i0 < count ? (count - *i0 + 1) / 2 : 0;
  return size_min (n, size - *j0);
}

/* The phase plane of padded row parity @rp and column parity @cp. */
static inline gf_real *
phase_plane (const PaddedPlane *p, gf_real *phases, size_t rp, size_t cp)
{
  return phases + (rp * 2 + cp) * p->phase_size;
}

/* Where tap (kh, kw) of output (0, 0) lies in the phase planes. */
static inline gf_real *
phase_tap (const PaddedPlane *p, gf_real *phases, size_t kh, size_t kw)
{
  return phase_plane (p, phases, kh % 2, kw % 2) + kh / 2 * p->phase_cols
         + kw / 2;
}

/* The four phase planes of @x's padded plane (@x not NULL), or @dx from
 * them (written whole). */
static void
phase_copy (const GfConv2d *conv, const PaddedPlane *p,
            const gf_real *restrict x, gf_real *restrict dx,
            gf_real *restrict phases)
{
  if (x != NULL)
    memset (phases, 0, 4 * p->phase_size * sizeof *phases);
  for (size_t rp = 0; rp < 2; rp++)
    {
      size_t h0, r0, rn = phase_span (conv->pad_top, conv->in_h,
                                      p->phase_rows, rp, &h0, &r0);

      for (size_t cp = 0; cp < 2; cp++)
        {
          size_t w0, c0, cn = phase_span (conv->pad_left, conv->in_w,
                                          p->phase_cols, cp, &w0, &c0);
          gf_real *phase = phase_plane (p, phases, rp, cp);

          for (size_t k = 0; k < rn; k++)
            {
              size_t at = (h0 + 2 * k) * conv->in_w + w0;
              gf_real *restrict q = phase + (r0 + k) * p->phase_cols + c0;

              if (x != NULL)
                for (size_t j = 0; j < cn; j++)
                  q[j] = x[at + 2 * j];
              else
                for (size_t j = 0; j < cn; j++)
                  dx[at + 2 * j] = q[j];
            }
        }
    }
}

static void
depthwise3x3_padded_s1 (const GfConv2d *conv, const PaddedPlane *p,
                        const gf_real *restrict x, const gf_real *w,
                        gf_real bias, gf_real *restrict y)
{
  gf_real xp[(DEPTHWISE_PADDED_WIDTH + 4) * (DEPTHWISE_PADDED_WIDTH + 4)];
  gf_real t[(DEPTHWISE_PADDED_WIDTH + 4) * (DEPTHWISE_PADDED_WIDTH + 4)];
  const size_t wp = p->cols, n = (conv->out_h - 1) * wp + conv->out_w;
  const gf_real w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4];
  const gf_real w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];

  pad_plane (conv, p, x, xp);
  for (size_t i = 0; i < n; i++)
    {
      const gf_real *q0 = xp + i, *q1 = q0 + wp, *q2 = q1 + wp;
      gf_real u = bias;

      u += w0 * q0[0] + w1 * q0[1] + w2 * q0[2];
      u += w3 * q1[0] + w4 * q1[1] + w5 * q1[2];
      u += w6 * q2[0] + w7 * q2[1] + w8 * q2[2];
      t[i] = u;
    }
  for (size_t oh = 0; oh < conv->out_h; oh++)
    copy_reals (y + oh * conv->out_w, t + oh * wp, conv->out_w);
}

static void
depthwise3x3_padded_s2 (const GfConv2d *conv, const PaddedPlane *p,
                        const gf_real *restrict x, const gf_real *w,
                        gf_real bias, gf_real *restrict y)
{
  gf_real phases[DEPTHWISE_PADDED_MAX], t[DEPTHWISE_PADDED_MAX / 4];
  const size_t ld = p->phase_cols;
  const size_t n = (conv->out_h - 1) * ld + conv->out_w;
  const gf_real *q[9];

  phase_copy (conv, p, x, NULL, phases);
  for (size_t tap = 0; tap < 9; tap++)
    q[tap] = phase_tap (p, phases, tap / 3, tap % 3);
  for (size_t i = 0; i < n; i++)
    {
      gf_real u = bias;

      u += w[0] * q[0][i] + w[1] * q[1][i] + w[2] * q[2][i];
      u += w[3] * q[3][i] + w[4] * q[4][i] + w[5] * q[5][i];
      u += w[6] * q[6][i] + w[7] * q[7][i] + w[8] * q[8][i];
      t[i] = u;
    }
  for (size_t oh = 0; oh < conv->out_h; oh++)
    copy_reals (y + oh * conv->out_w, t + oh * ld, conv->out_w);
}

/* The 3×3 case of depthwise_plane_forward: each output row from the
 * (up to) three input rows under it; rows with all three inside the
 * input (every row but the first and last, at most) in one pass.  Cloned
 * for AVX-512 and AVX2 with its helpers inlined (GF_CLONES_FLAT): this
 * loop was 31% of a MobileNetV2 forward. */
GF_CLONES_FLAT
static void
depthwise3x3_plane_forward (const GfConv2d *conv, const gf_real *x_c,
                            const gf_real *w_c, gf_real bias, gf_real *y_c)
{
  PaddedPlane padded;
  size_t lo, hi;

  if (depthwise3x3_padded (conv, &padded))
    {
      if (conv->stride_h == 1)
        depthwise3x3_padded_s1 (conv, &padded, x_c, w_c, bias, y_c);
      else
        depthwise3x3_padded_s2 (conv, &padded, x_c, w_c, bias, y_c);
      return;
    }
  if (depthwise3x3_is_flat (conv))
    {
      depthwise3x3_plane_flat (conv, x_c, w_c, bias, y_c);
      return;
    }
  depthwise3x3_inner_columns (conv, &lo, &hi);
  for (size_t oh = 0; oh < conv->out_h; oh++)
    {
      gf_real *y = y_c + oh * conv->out_w;
      const gf_real *r[3];
      size_t inside = 0;

      for (size_t kh = 0; kh < 3; kh++)
        {
          size_t ih = oh * conv->stride_h + kh;

          r[kh] = NULL;
          if (ih >= conv->pad_top && ih - conv->pad_top < conv->in_h)
            {
              r[kh] = x_c + (ih - conv->pad_top) * conv->in_w;
              inside++;
            }
        }
      for (size_t ow = 0; ow < conv->out_w; ow++)
        y[ow] = bias;
      if (inside == 3 && lo < hi)
        {
          depthwise3x3_row3 (conv, lo, hi, r, w_c, bias, y);
          continue;
        }
      for (size_t kh = 0; kh < 3; kh++)
        if (r[kh] != NULL)
          depthwise3x3_row (conv, lo, hi, r[kh], w_c + kh * 3, y);
    }
}

/* Stride 1 and padding of at most 2 a side: dx is then the forward
 * convolution of dy with the filter turned 180° and padding 2 − pad,
 * which the row kernel runs. */
static bool
depthwise3x3_backward_is_forward (const GfConv2d *conv)
{
  return depthwise_is_3x3 (conv) && conv->stride_h == 1
    && conv->stride_w == 1 && conv->pad_top <= 2 && conv->pad_left <= 2
    && conv->pad_bottom <= 2 && conv->pad_right <= 2;
}

static void
depthwise3x3_plane_backward_input (const GfConv2d *conv, const gf_real *w_c,
                                   const gf_real *dy_c, gf_real *dx_c)
{
  GfConv2d turned = {
    .in_h = conv->out_h, .in_w = conv->out_w,
    .out_h = conv->in_h, .out_w = conv->in_w,
    .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1,
    .dilation_h = 1, .dilation_w = 1,
    .pad_top = 2 - conv->pad_top, .pad_left = 2 - conv->pad_left,
    .pad_bottom = 2 - conv->pad_bottom, .pad_right = 2 - conv->pad_right,
  };
  gf_real w_turned[9];

  for (size_t i = 0; i < 9; i++)
    w_turned[i] = w_c[8 - i];
  depthwise3x3_plane_forward (&turned, dy_c, w_turned, 0, dx_c);
}

/* The backward pass of a 3×3 plane in the padded layouts.  dy is laid
 * out as the forward's flat loop produces y, g[oh·ld + ow] (ld the padded
 * width at stride 1, a phase plane's at stride 2) with zeros between
 * rows, so that tap (kh, kw) of every output is one fixed offset into the
 * padded plane (or into one of its phase planes):
 *  - dw[kh, kw] += Σ_i g[i] · plane[i + offset], nine dot products in one
 *    pass over g, each in DOT_LANES partial sums (see sum ());
 *  - dx at stride 2: the phase planes of a zeroed padded plane gather
 *    w[kh, kw] · g tap by tap, then go back into dx; at stride 1, dx
 *    is the forward convolution of dy with the filter turned 180°.
 * A plane took MobileNetV2's depthwise backward row by row before, most
 * of it in scalar loops at 4–11 GFLOP/s. */
static void
nine_dots (const gf_real *restrict g, size_t n,
           const gf_real *const src[9], gf_real out[9])
{
  DotVec acc[9];
  size_t i = 0;

  memset (acc, 0, sizeof acc);
  for (; i + DOT_LANES <= n; i += DOT_LANES)
    {
      const DotVec gv = *(const DotVec *) (g + i);

      for (size_t t = 0; t < 9; t++)
        acc[t] += gv * *(const DotVec *) (src[t] + i);
    }
  for (size_t t = 0; t < 9; t++)
    {
      gf_real total = lanes_total (&acc[t]);

      for (size_t j = i; j < n; j++)
        total += g[j] * src[t][j];
      out[t] = total;
    }
}

/* Whether depthwise3x3_backward_padded serves @conv. */
static bool
depthwise3x3_backward_padded_fits (const GfConv2d *conv, PaddedPlane *p)
{
  return depthwise_is_3x3 (conv) && depthwise3x3_paddable (conv, p);
}

static void
depthwise3x3_backward_padded (const GfConv2d *conv, const PaddedPlane *p,
                              const gf_real *restrict x, const gf_real *w,
                              const gf_real *restrict dy,
                              gf_real *restrict dx, gf_real *restrict dw)
{
  gf_real plane[DEPTHWISE_PADDED_MAX], g[DEPTHWISE_PADDED_MAX];
  const bool s1 = conv->stride_h == 1;
  const size_t ld = s1 ? p->cols : p->phase_cols;
  const size_t n = (conv->out_h - 1) * ld + conv->out_w;

  for (size_t oh = 0; oh < conv->out_h; oh++)
    {
      gf_real *restrict r = g + oh * ld;

      copy_reals (r, dy + oh * conv->out_w, conv->out_w);
      if (oh + 1 < conv->out_h)
        for (size_t j = conv->out_w; j < ld; j++)
          r[j] = 0;
    }
  if (dw != NULL)
    {
      const gf_real *src[9];
      gf_real sums[9];

      if (s1)
        pad_plane (conv, p, x, plane);
      else
        phase_copy (conv, p, x, NULL, plane);
      for (size_t tap = 0; tap < 9; tap++)
        src[tap] = s1 ? plane + tap / 3 * ld + tap % 3
                      : phase_tap (p, plane, tap / 3, tap % 3);
      nine_dots (g, n, src, sums);
      for (size_t tap = 0; tap < 9; tap++)
        dw[tap] += sums[tap];
    }
  if (dx != NULL && !s1)
    {
      memset (plane, 0, 4 * p->phase_size * sizeof *plane);
      for (size_t tap = 0; tap < 9; tap++)
        {
          gf_real *restrict d = phase_tap (p, plane, tap / 3, tap % 3);
          const gf_real k = w[tap];

          for (size_t i = 0; i < n; i++)
            d[i] += k * g[i];
        }
      phase_copy (conv, p, NULL, dx, plane);
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

/* What the workers of the depthwise kernels share: x (N, C, H, W),
 * w (C, 1, KH, KW), b (C) or NULL, y and dy (N, C, OH, OW), dx like x,
 * dw like w, and acc, one (KH·KW, OW) of scratch per chunk. */
typedef struct
{
  const GfConv2d *conv;
  const ConvDims *d;
  const gf_real *x, *w, *b, *dy;
  gf_real *y, *dx, *dw, *acc;
} Depthwise;

/* Output plane y_p of channel @c from its input plane x_p, with the
 * fused activation. */
static void
depthwise_channel_forward (const GfConv2d *conv, const ConvDims *d,
                           const gf_real *x_p, const gf_real *w,
                           const gf_real *b, size_t c, gf_real *y_p)
{
  if (depthwise_is_3x3 (conv))
    depthwise3x3_plane_forward (conv, x_p, w + c * d->taps,
                                b != NULL ? b[c] : 0, y_p);
  else
    depthwise_plane_forward (conv, d, x_p, w + c * d->taps,
                             b != NULL ? b[c] : 0, y_p);
  if (conv_activation (conv) != NULL)
    gf_activation_forward_block (conv_activation (conv), d->out_plane,
                                 y_p, y_p);
}

/* Channels [c0, c1) of one image: x and y at channel c0's planes. */
static void
depthwise_channels_forward (const GfConv2d *conv, const ConvDims *d,
                            const gf_real *x, const gf_real *w,
                            const gf_real *b, size_t c0, size_t c1,
                            gf_real *y)
{
#ifdef GF_CONV_DEPTHWISE_KERNEL
  if (gf_conv_depthwise3x3_applies (conv))
    {
      gf_conv_depthwise3x3_planes (conv, x, w, b, c0, c1, y);
      return;
    }
#endif
  for (size_t c = c0; c < c1; c++)
    depthwise_channel_forward (conv, d, x + (c - c0) * d->in_plane, w, b, c,
                               y + (c - c0) * d->out_plane);
}

/* Planes [begin, end) of y, plane p being image p / C's channel p % C. */
static void
depthwise_forward_planes (void *data, size_t begin, size_t end, size_t chunk)
{
  const Depthwise *k = data;
  const size_t channels = k->conv->in_channels;

  for (size_t p = begin; p < end;)
    {
      size_t c = p % channels, run = size_min (end - p, channels - c);

      depthwise_channels_forward (k->conv, k->d, k->x + p * k->d->in_plane,
                                  k->w, k->b, c, c + run,
                                  k->y + p * k->d->out_plane);
      p += run;
    }
}

static void
depthwise_forward (const GfConv2d *conv, const ConvDims *d,
                   const gf_real *x, const gf_real *w, const gf_real *b,
                   gf_real *y)
{
  Depthwise k = { .conv = conv, .d = d, .x = x, .w = w, .b = b, .y = y };

  gf_parallel_for (conv->batch * conv->in_channels, d->taps * d->out_plane,
                   depthwise_forward_planes, &k);
}

/* Channels [begin, end) of every image: dx's planes, and dw, which each
 * channel sums image by image in batch order whatever the chunks, in the
 * chunk's own acc.  Images outermost read the chunk's planes in memory
 * order. */
GF_CLONES_FLAT
static void
depthwise_backward_channels (void *data, size_t begin, size_t end,
                             size_t chunk)
{
  const Depthwise *k = data;
  const ConvDims *d = k->d;
  const size_t channels = k->conv->in_channels;
  gf_real *acc = k->acc + chunk * depthwise_acc_stride (k->conv, d);

  for (size_t n = 0; n < k->conv->batch; n++)
    for (size_t c = begin; c < end; c++)
      {
        size_t p = n * channels + c;
        const gf_real *dy_c = k->dy + p * d->out_plane;
        PaddedPlane padded;

        if (depthwise3x3_backward_padded_fits (k->conv, &padded))
          {
            bool s1 = k->conv->stride_h == 1;

            depthwise3x3_backward_padded (
              k->conv, &padded, k->x + p * d->in_plane, k->w + c * d->taps,
              dy_c, k->dx != NULL && !s1 ? k->dx + p * d->in_plane : NULL,
              k->dw != NULL ? k->dw + c * d->taps : NULL);
            if (k->dx != NULL && s1)
              depthwise3x3_plane_backward_input (k->conv, k->w + c * d->taps,
                                                 dy_c,
                                                 k->dx + p * d->in_plane);
            continue;
          }
        if (k->dx != NULL && depthwise3x3_backward_is_forward (k->conv))
          depthwise3x3_plane_backward_input (k->conv, k->w + c * d->taps,
                                             dy_c, k->dx + p * d->in_plane);
        else if (k->dx != NULL)
          depthwise_plane_backward_input (k->conv, d, k->w + c * d->taps,
                                          dy_c, k->dx + p * d->in_plane);
        if (k->dw != NULL)
          depthwise_plane_backward_weights (k->conv, d,
                                            k->x + p * d->in_plane, dy_c,
                                            k->dw + c * d->taps, acc);
      }
}

/* dy (N, C, OH, OW) → dx (N, C, H, W) written, dw (C, 1, KH, KW)
 * accumulated; acc is scratch, GF_PARALLEL_MAX_THREADS chunks' (KH·KW, OW)
 * depthwise_acc_stride apart. */
static void
depthwise_backward (const GfConv2d *conv, const ConvDims *d,
                    const gf_real *x, const gf_real *w, const gf_real *dy,
                    gf_real *dx, gf_real *dw, gf_real *acc)
{
  Depthwise k = { .conv = conv, .d = d, .x = x, .w = w, .dy = dy,
                  .dx = dx, .dw = dw, .acc = acc };
  size_t passes = (dx != NULL) + (dw != NULL);

  gf_parallel_for (conv->in_channels,
                   passes * conv->batch * d->taps * d->out_plane,
                   depthwise_backward_channels, &k);
}

/* ---- Expansion chains ------------------------------------------------- */

/* MobileNetV2's blocks expand their input with a 1×1 convolution (to 96
 * channels of 112×112, 4.8 MiB a picture) that only the depthwise 3×3
 * after it reads: written to memory by one layer and read back by the
 * next, that tensor was most of both layers' time.  A chain computes a
 * few expanded channels of one image into scratch (CHAIN_SCRATCH_BYTES,
 * in L2) with the 1×1 kernel and runs their depthwise planes from
 * there, so the expanded tensor is never stored whole. */
#define CHAIN_SCRATCH_BYTES ((size_t) 512 << 10)

typedef struct
{
  const GfConv2d *expand, *depthwise;
  ConvDims de, dd;
  size_t group;    /* expanded channels a task: whole blocks of 8 */
  size_t groups;   /* tasks an image */
  const gf_real *x, *we, *be, *wd, *bd;
  gf_real *y, *scratch;
} Chain;

/* Channels a task, and tasks an image. */
static size_t
chain_group (const GfConv2d *expand, size_t *groups)
{
  size_t plane = expand->out_h * expand->out_w;
  size_t channels = expand->out_channels;
  size_t group = CHAIN_SCRATCH_BYTES / sizeof (gf_real) / plane / 8 * 8;

  group = size_min (size_max (group, 8), channels);
  *groups = (channels + group - 1) / group;
  /* The same count, evened out: 192 channels as 96 + 96, not 160 + 32. */
  group = ((channels + *groups - 1) / *groups + 7) / 8 * 8;
  return size_min (group, channels);
}

bool
gf_conv2d_chain_applies (const GfConv2d *expand, const GfConv2d *depthwise)
{
  return gf_conv2d_uses_pointwise (expand)
         && conv_path (depthwise) == CONV_PATH_DEPTHWISE
         && depthwise->algo == GF_CONV_ALGO_AUTO
         && depthwise->in_channels == expand->out_channels
         && depthwise->batch == expand->batch
         && depthwise->in_h == expand->out_h
         && depthwise->in_w == expand->out_w;
}

size_t
gf_conv2d_chain_workspace_size (const GfConv2d *expand, size_t slots)
{
  size_t groups, group = chain_group (expand, &groups);

  return slots * group * expand->out_h * expand->out_w;
}

#ifdef GF_CONV_POINTWISE_KERNEL
/* Tasks [begin, end) of (image, group) pairs, in chunk @chunk's slot of
 * the scratch. */
static void
chain_tasks (void *data, size_t begin, size_t end, size_t chunk)
{
  const Chain *k = data;
  const size_t channels = k->expand->out_channels;
  gf_real *s = k->scratch + chunk * k->group * k->de.out_plane;

  for (size_t t = begin; t < end; t++)
    {
      size_t image = t / k->groups, c0 = t % k->groups * k->group;
      size_t c1 = size_min (c0 + k->group, channels);

      gf_conv_pointwise_channels (k->expand,
                                  k->x + image * k->expand->in_channels
                                         * k->de.in_plane,
                                  k->we, k->be, c0, c1, s);
      depthwise_channels_forward (k->depthwise, &k->dd, s, k->wd, k->bd,
                                  c0, c1,
                                  k->y + (image * channels + c0)
                                         * k->dd.out_plane);
    }
}
#endif

void
gf_conv2d_chain_forward (const GfConv2d *expand, const GfConv2d *depthwise,
                         size_t slots, const gf_real *x, const gf_real *we,
                         const gf_real *be, const gf_real *wd,
                         const gf_real *bd, gf_real *y, gf_real *workspace)
{
#ifdef GF_CONV_POINTWISE_KERNEL
  Chain k = { .expand = expand, .depthwise = depthwise,
              .de = conv_dims (expand), .dd = conv_dims (depthwise),
              .x = x, .we = we, .be = be, .wd = wd, .bd = bd, .y = y,
              .scratch = workspace };
  size_t tasks, cost;

  k.group = chain_group (expand, &k.groups);
  tasks = expand->batch * k.groups;
  cost = k.group * k.de.out_plane * (expand->in_channels + k.dd.taps);
  /* Each chunk of the pool takes a slot of scratch: with more threads
   * than the plan gave slots, the tasks run here, one after another. */
  if ((size_t) gf_engine_get_threads () <= slots)
    gf_parallel_for (tasks, cost, chain_tasks, &k);
  else
    chain_tasks (&k, 0, tasks, 0);
#else
  /* Never planned: gf_conv2d_chain_applies needs the 1×1 kernel. */
  (void) expand; (void) depthwise; (void) slots; (void) x; (void) we;
  (void) be; (void) wd; (void) bd; (void) y; (void) workspace;
  abort ();
#endif
}

/* ---- Entry points -------------------------------------------------------- */

void
gf_conv2d_forward (const GfConv2d *conv,
                   const gf_real *x, const gf_real *w, const gf_real *b,
                   gf_real *y, gf_real *workspace)
{
  ConvDims d = conv_dims (conv);
  ConvPath path = conv_path (conv);
  ConvGemm k = { .conv = conv, .d = d,
                 .pointwise = path == CONV_PATH_POINTWISE,
                 .x = x, .w = w, .b = b, .y = y };

  /* Winograd first: forced, it also takes one-channel convolutions, which
   * are depthwise too. */
  if (gf_conv2d_uses_winograd (conv))
    gf_winograd_forward (conv, x, w, b, y, workspace);
  else if (gf_conv2d_uses_direct (conv))
    gf_conv_direct_forward (conv, x, w, b, y, workspace);
#ifdef GF_CONV_POINTWISE_KERNEL
  else if (gf_conv2d_uses_pointwise (conv))
    gf_conv_pointwise_forward (conv, x, w, b, y);
#endif
  else if (path == CONV_PATH_DEPTHWISE)
    depthwise_forward (conv, &d, x, w, b, y);
  else
    gemm_run (&k, false, workspace);
}

/* dW by Winograd sums over the batch's tiles in GEMMs that write all of
 * dU (36·M·C) from K = tiles: with few tiles and a dU too large for the
 * caches they write more than they compute.  At 32 tiles (batch 8 at
 * 7×7) dW took 20–30% longer than im2col's at 256 and 512 channels, but
 * 30% less at 64 (dU 0.6 MiB); at 128 tiles it took 40% less even at 512
 * channels. */
#define WINOGRAD_DW_MIN_TILES 64
#define WINOGRAD_DW_CACHED ((size_t) 1 << 20)   /* dU elements, 4 MiB */

static bool
winograd_dw (const GfConv2d *conv)
{
  size_t tiles_h = (conv->out_h + WINOGRAD_TILE - 1) / WINOGRAD_TILE;
  size_t tiles_w = (conv->out_w + WINOGRAD_TILE - 1) / WINOGRAD_TILE;
  size_t du = WINOGRAD_POSITIONS * conv->in_channels * conv->out_channels;

  return conv->algo == GF_CONV_ALGO_WINOGRAD
         || conv->batch * tiles_h * tiles_w >= WINOGRAD_DW_MIN_TILES
         || du <= WINOGRAD_DW_CACHED;
}

/* dx written by Winograd and dw accumulated (either NULL) by Winograd or,
 * with few tiles, by im2col, one after the other in the same workspace. */
static void
winograd_backward (ConvGemm *k, gf_real *workspace)
{
  const GfConv2d *conv = k->conv;

  if (k->dx != NULL)
    gf_winograd_backward_input (conv, k->w, k->dy, k->dx, workspace);
  k->dx = NULL;
  if (k->dw != NULL && winograd_dw (conv))
    gf_winograd_backward_weights (conv, k->x, k->dy, k->dw, workspace);
  else if (k->dw != NULL)
    gemm_run (k, true, workspace);
}

void
gf_conv2d_backward (const GfConv2d *conv,
                    const gf_real *x, const gf_real *w, const gf_real *dy,
                    gf_real *dx, gf_real *dw, gf_real *db,
                    gf_real *workspace)
{
  ConvDims d = conv_dims (conv);
  ConvPath path = conv_path (conv);
  ConvGemm k = { .conv = conv, .d = d,
                 .pointwise = path == CONV_PATH_POINTWISE,
                 .x = x, .w = w, .dy = dy, .dx = dx, .dw = dw };

  if (gf_conv2d_uses_winograd (conv))
    winograd_backward (&k, workspace);
  else if (path == CONV_PATH_DEPTHWISE)
    depthwise_backward (conv, &d, x, w, dy, dx, dw, workspace);
  else if (dx != NULL || dw != NULL)
    gemm_run (&k, true, workspace);
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
  if (conv_activation (conv) != NULL)
    gf_activation_forward (conv_activation (conv), conv->batch
                           * conv->out_channels * conv->out_h * conv->out_w,
                           y, y);
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
