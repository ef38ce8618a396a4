/* gf-conv-direct.c: the direct forward kernel for convolutions with few
 * taps (see gf-conv-direct.h).
 *
 * Per image:
 *  1. the image is copied with its padding made explicit and, at stride
 *     2, each padded row split into its even and odd columns ("phases"):
 *     the input of tap kw for output column ox is then phase kw % s,
 *     element ox + kw / s, so a tap's inputs for 16 consecutive outputs
 *     are one unaligned vector load;
 *  2. each task is one output row of one group of 16 output channels:
 *     for every block of 16 columns, 16 accumulators (one a channel) take
 *     each tap's input vector times the channel's weight, then get the
 *     bias and are stored; the activation runs over the finished rows.
 * The weights are packed once per call as (group, tap, 16), zero past the
 * last channel.  Every output is summed by one thread in tap order, so
 * results are identical at any thread count.
 */
#include "gf-conv-direct.h"

#include <string.h>

#include "../gf-parallel.h"

#define LANES 16   /* output columns per vector */
#define GROUP 16   /* output channels summed together */

typedef gf_real DirectVec
  __attribute__ ((vector_size (LANES * sizeof (gf_real)),
                  aligned (sizeof (gf_real))));

typedef struct
{
  size_t phases;   /* the stride: column phases of the padded image */
  size_t rows;     /* padded rows read: (OH − 1)·stride + KH */
  size_t width;    /* a phase's row: OW rounded up to LANES, + (KW − 1)/s */
  size_t plane;    /* one channel's phases, rows × width each */
  size_t groups;   /* ⌈M / GROUP⌉ */
  size_t taps;     /* C·KH·KW */
} DirectDims;

typedef struct
{
  const GfConv2d *conv;
  DirectDims d;
  const gf_real *x;       /* this image, (C, H, W) */
  const gf_real *b;
  gf_real *y;             /* this image, (M, OH, OW) */
  gf_real *packed;        /* (groups, taps, GROUP) */
  gf_real *padded;        /* (C, phases, rows, width) */
  size_t offsets[GF_CONV_DIRECT_MAX_TAPS];   /* tap kw's, from phase 0 */
} Direct;

static size_t
round_up (size_t a, size_t b)
{
  return (a + b - 1) / b * b;
}

static DirectDims
direct_dims (const GfConv2d *conv)
{
  DirectDims d;

  d.phases = conv->stride_w;
  d.rows = (conv->out_h - 1) * conv->stride_h + conv->kernel_h;
  d.width = round_up (conv->out_w, LANES)
            + (conv->kernel_w - 1) / conv->stride_w;
  d.plane = d.phases * d.rows * d.width;
  d.groups = (conv->out_channels + GROUP - 1) / GROUP;
  d.taps = conv->in_channels * conv->kernel_h * conv->kernel_w;
  return d;
}

bool
gf_conv_direct_applies (const GfConv2d *conv)
{
  return conv->groups == 1 && conv->dilation_h == 1
         && conv->dilation_w == 1 && conv->stride_h == conv->stride_w
         && (conv->stride_w == 1 || conv->stride_w == 2)
         && conv->in_channels <= GF_CONV_DIRECT_MAX_TAPS
         && conv->kernel_h <= GF_CONV_DIRECT_MAX_TAPS
         && conv->kernel_w <= GF_CONV_DIRECT_MAX_TAPS
         && conv->in_channels * conv->kernel_h * conv->kernel_w
              <= GF_CONV_DIRECT_MAX_TAPS
         && conv->out_w >= LANES;
}

size_t
gf_conv_direct_workspace_size (const GfConv2d *conv)
{
  DirectDims d = direct_dims (conv);

  return d.groups * d.taps * GROUP + conv->in_channels * d.plane;
}

/* packed[(g·taps + tap)·GROUP + c] = w[(g·GROUP + c)·taps + tap]. */
static void
pack_weights (const GfConv2d *conv, const DirectDims *d, const gf_real *w,
              gf_real *packed)
{
  for (size_t g = 0; g < d->groups; g++)
    for (size_t tap = 0; tap < d->taps; tap++)
      for (size_t c = 0; c < GROUP; c++)
        {
          size_t co = g * GROUP + c;

          packed[(g * d->taps + tap) * GROUP + c]
            = co < conv->out_channels ? w[co * d->taps + tap] : 0;
        }
}

/* Padded rows [begin, end) of channel-row pairs (c, r), every phase. */
static void
pad_rows (void *data, size_t begin, size_t end, size_t chunk)
{
  const Direct *k = data;
  const GfConv2d *conv = k->conv;
  const DirectDims *d = &k->d;
  const ptrdiff_t in_h = (ptrdiff_t) conv->in_h;
  const ptrdiff_t in_w = (ptrdiff_t) conv->in_w;

  for (size_t i = begin; i < end; i++)
    {
      size_t c = i / d->rows, r = i % d->rows;
      ptrdiff_t ih = (ptrdiff_t) r - (ptrdiff_t) conv->pad_top;
      const gf_real *src = ih >= 0 && ih < in_h
                           ? k->x + ((ptrdiff_t) c * in_h + ih) * in_w
                           : NULL;

      for (size_t p = 0; p < d->phases; p++)
        {
          gf_real *dst = k->padded + c * d->plane
                         + (p * d->rows + r) * d->width;

          for (size_t j = 0; j < d->width; j++)
            {
              ptrdiff_t iw = (ptrdiff_t) (j * d->phases + p)
                             - (ptrdiff_t) conv->pad_left;

              dst[j] = src != NULL && iw >= 0 && iw < in_w ? src[iw] : 0;
            }
        }
    }
}

/* Output rows [begin, end) of (group, row) pairs, group outermost so that
 * a thread keeps one group's weights in cache.  Cloned (gf-real.h): its 16
 * accumulators are 16 AVX-512 registers. */
GF_CLONES
static void
direct_rows (void *data, size_t begin, size_t end, size_t chunk)
{
  const Direct *k = data;
  const GfConv2d *conv = k->conv;
  const DirectDims *d = &k->d;
  const size_t out_h = conv->out_h, out_w = conv->out_w;
  const size_t kh_n = conv->kernel_h, kw_n = conv->kernel_w;

  for (size_t t = begin; t < end; t++)
    {
      size_t g = t / out_h, oy = t % out_h;
      size_t co0 = g * GROUP;
      size_t n_co = conv->out_channels - co0 < GROUP
                    ? conv->out_channels - co0 : GROUP;
      const gf_real *wg = k->packed + g * d->taps * GROUP;
      const gf_real *rows = k->padded + oy * conv->stride_h * d->width;

      for (size_t ox0 = 0; ox0 < out_w; ox0 += LANES)
        {
          DirectVec acc[GROUP];
          const gf_real *wt = wg;
          size_t n = out_w - ox0 < LANES ? out_w - ox0 : LANES;

          for (size_t c = 0; c < GROUP; c++)
            acc[c] = (DirectVec) { 0 };
          for (size_t ci = 0; ci < conv->in_channels; ci++)
            for (size_t kh = 0; kh < kh_n; kh++)
              {
                const gf_real *row = rows + ci * d->plane + kh * d->width
                                     + ox0;

                for (size_t kw = 0; kw < kw_n; kw++, wt += GROUP)
                  {
                    DirectVec v = *(const DirectVec *) (row + k->offsets[kw]);

                    for (size_t c = 0; c < GROUP; c++)
                      acc[c] += v * wt[c];
                  }
              }
          for (size_t c = 0; c < n_co; c++)
            {
              gf_real *dst = k->y + ((co0 + c) * out_h + oy) * out_w + ox0;
              DirectVec v = acc[c] + (k->b != NULL ? k->b[co0 + c] : 0);

              if (n == LANES)
                *(DirectVec *) dst = v;
              else
                memcpy (dst, &v, n * sizeof *dst);
            }
        }
      if (conv->activation.kind != GF_ACT_IDENTITY)
        for (size_t c = 0; c < n_co; c++)
          {
            gf_real *dst = k->y + ((co0 + c) * out_h + oy) * out_w;

            gf_activation_forward_block (&conv->activation, out_w, dst, dst);
          }
    }
}

void
gf_conv_direct_forward (const GfConv2d *conv,
                        const gf_real *x, const gf_real *w,
                        const gf_real *b, gf_real *y, gf_real *workspace)
{
  Direct k = { .conv = conv, .d = direct_dims (conv), .b = b };
  const size_t in_image = conv->in_channels * conv->in_h * conv->in_w;
  const size_t out_image = conv->out_channels * conv->out_h * conv->out_w;

  k.packed = workspace;
  k.padded = workspace + k.d.groups * k.d.taps * GROUP;
  pack_weights (conv, &k.d, w, k.packed);
  for (size_t kw = 0; kw < conv->kernel_w; kw++)
    k.offsets[kw] = kw % k.d.phases * k.d.rows * k.d.width
                    + kw / k.d.phases;
  for (size_t n = 0; n < conv->batch; n++)
    {
      k.x = x + n * in_image;
      k.y = y + n * out_image;
      gf_parallel_for (conv->in_channels * k.d.rows,
                       k.d.phases * k.d.width, pad_rows, &k);
      gf_parallel_for (k.d.groups * conv->out_h,
                       k.d.taps * GROUP * round_up (conv->out_w, LANES),
                       direct_rows, &k);
    }
}
