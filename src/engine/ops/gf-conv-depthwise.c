/* gf-conv-depthwise.c: the AVX-512 kernels for depthwise 3×3 planes (see
 * gf-conv-depthwise.h).
 *
 * Every output vector starts from the bias and adds its nine taps in
 * the order kh, then kw, one fused multiply-add each; a tap that falls
 * on the padding is a lane loaded as zero.
 */
#include "gf-conv-depthwise.h"

#include <stddef.h>
#include <stdint.h>

#ifdef GF_CONV_DEPTHWISE_KERNEL
#include "gf-microkernel.h"

#define LANES GF_MK_LANES
#endif

bool
gf_conv_depthwise3x3_applies (const GfConv2d *conv)
{
#ifdef GF_CONV_DEPTHWISE_KERNEL
  bool s1 = conv->stride_h == 1 && conv->stride_w == 1 && conv->pad_top == 1
            && conv->pad_left == 1 && conv->pad_bottom == 1
            && conv->pad_right == 1;
  bool s2 = conv->stride_h == 2 && conv->stride_w == 2;

  return conv->kernel_h == 3 && conv->kernel_w == 3
         && conv->dilation_h == 1 && conv->dilation_w == 1
         && conv->groups == conv->in_channels
         && conv->out_channels == conv->in_channels && (s1 || s2)
         && conv->in_h * conv->in_w <= INT32_MAX - 2 * LANES
         && __builtin_cpu_supports ("avx512f");
#else
  (void) conv;
  return false;
#endif
}

#ifdef GF_CONV_DEPTHWISE_KERNEL
/* Lanes 0..15 as integers. */
__attribute__ ((target ("avx512f"), always_inline))
static inline __m512i
lane_numbers (void)
{
  return _mm512_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                            14, 15);
}

/* The lanes l with lo ≤ @first + l < hi. */
__attribute__ ((target ("avx512f"), always_inline))
static inline __mmask16
lanes_within (int first, int lo, int hi)
{
  __m512i at = _mm512_add_epi32 (_mm512_set1_epi32 (first), lane_numbers ());

  return _mm512_cmpge_epi32_mask (at, _mm512_set1_epi32 (lo))
         & _mm512_cmplt_epi32_mask (at, _mm512_set1_epi32 (hi));
}

/* acc + the three taps of one filter row k[0..2] on a, b, c. */
__attribute__ ((target ("avx512f"), always_inline))
static inline __m512
row_taps (__m512 acc, const __m512 *k, __m512 a, __m512 b, __m512 c)
{
  acc = _mm512_fmadd_ps (a, k[0], acc);
  acc = _mm512_fmadd_ps (b, k[1], acc);
  return _mm512_fmadd_ps (c, k[2], acc);
}

/* Stride 1, padding 1: output i of the flat plane reads input i +
 * (kh − 1)·W + kw − 1.  A tap of the row above exists from i = W on,
 * of the row below up to H·W − W; the left tap not in column 0, the
 * right tap not in column W − 1 (where the flat offset would wrap).
 * Those lanes depend on the plane's shape alone: they are worked out
 * once a call, MASK_VECTORS vectors at a time (a plane up to 64×64
 * whole), and serve every plane of the call. */
#define MASK_VECTORS 256

typedef struct
{
  __mmask16 tap[9];   /* lanes whose tap (kh, kw) is inside, kh·3 + kw */
} TapMasks;

/* Masks of the vectors from output @i0 on, @n of them. */
__attribute__ ((target ("avx512f")))
static void
s1_masks (const GfConv2d *conv, int i0, int n, TapMasks *masks)
{
  const int width = (int) conv->in_w, size = (int) (conv->in_h * conv->in_w);
  const __m512i widths = _mm512_set1_epi32 (width);
  const __m512i step = _mm512_set1_epi32 (LANES % width);
  int cols[LANES];
  __m512i col;

  for (int l = 0; l < LANES; l++)
    cols[l] = (i0 + l) % width;
  col = _mm512_loadu_si512 (cols);
  for (int v = 0; v < n; v++)
    {
      const int first = i0 + v * LANES;
      const __mmask16 in = lanes_within (first, 0, size);
      const __mmask16 row[3] = {
        in & lanes_within (first, width, size),
        in,
        lanes_within (first, 0, size - width),
      };
      const __mmask16 left = _mm512_cmpneq_epi32_mask (col,
                                                       _mm512_setzero_si512 ());
      const __mmask16 right = _mm512_cmpneq_epi32_mask (
        col, _mm512_set1_epi32 (width - 1));

      for (int kh = 0; kh < 3; kh++)
        {
          masks[v].tap[kh * 3] = row[kh] & left;
          masks[v].tap[kh * 3 + 1] = row[kh];
          masks[v].tap[kh * 3 + 2] = row[kh] & right;
        }
      col = _mm512_add_epi32 (col, step);
      col = _mm512_mask_sub_epi32 (col, _mm512_cmpge_epi32_mask (col, widths),
                                   col, widths);
    }
}

/* Vectors [v0, v0 + n) of one plane. */
__attribute__ ((target ("avx512f"), always_inline))
static inline void
s1_vectors (const GfConv2d *conv, const TapMasks *masks, int v0, int n,
            const float *x, const __m512 k[9], float bias, float *y)
{
  const int width = (int) conv->in_w;
  const GfActivation *act = &conv->activation;

  for (int v = 0; v < n; v++)
    {
      const __mmask16 *m = masks[v].tap;
      const float *p = x + (v0 + v) * LANES;
      __m512 acc = _mm512_set1_ps (bias);

      acc = row_taps (acc, k, _mm512_maskz_loadu_ps (m[0], p - width - 1),
                      _mm512_maskz_loadu_ps (m[1], p - width),
                      _mm512_maskz_loadu_ps (m[2], p - width + 1));
      acc = row_taps (acc, k + 3, _mm512_maskz_loadu_ps (m[3], p - 1),
                      _mm512_maskz_loadu_ps (m[4], p),
                      _mm512_maskz_loadu_ps (m[5], p + 1));
      acc = row_taps (acc, k + 6, _mm512_maskz_loadu_ps (m[6], p + width - 1),
                      _mm512_maskz_loadu_ps (m[7], p + width),
                      _mm512_maskz_loadu_ps (m[8], p + width + 1));
      _mm512_mask_storeu_ps (y + (v0 + v) * LANES, m[4],
                             gf_mk_activate (act, acc));
    }
}

/* Stride 2: output columns ow0 + l of a row read input columns
 * c0 + 2l + kw, c0 = 2·ow0 − pad_left.  Loads of the 32 columns from c0
 * (a, b) give kw = 0 as their even columns and kw = 1 as their odd
 * ones; kw = 2 is the even columns one lane on, the last from column
 * c0 + 32 (n).  Columns outside the row load as zero.  The shift is
 * masked, every lane on, for gf_mk_activate's reason. */
__attribute__ ((target ("avx512f")))
static void
plane_s2 (const GfConv2d *conv, const float *x, const __m512 k[9],
          float bias, float *y)
{
  const int width = (int) conv->in_w, height = (int) conv->in_h;
  const int out_w = (int) conv->out_w, out_h = (int) conv->out_h;
  const __m512i even = _mm512_setr_epi32 (0, 2, 4, 6, 8, 10, 12, 14, 16,
                                          18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32 (1, 3, 5, 7, 9, 11, 13, 15, 17, 19,
                                         21, 23, 25, 27, 29, 31);
  const GfActivation *act = &conv->activation;

  for (int ow0 = 0; ow0 < out_w; ow0 += LANES)
    {
      const int c0 = 2 * ow0 - (int) conv->pad_left;
      const __mmask16 out = lanes_within (ow0, 0, out_w);
      const __mmask16 in_a = lanes_within (c0, 0, width);
      const __mmask16 in_b = lanes_within (c0 + LANES, 0, width);
      const __mmask16 in_n = lanes_within (c0 + 2 * LANES, 0, width) & 1;

      for (int oh = 0; oh < out_h; oh++)
        {
          __m512 acc = _mm512_set1_ps (bias);

          for (int kh = 0; kh < 3; kh++)
            {
              int ih = 2 * oh - (int) conv->pad_top + kh;
              const float *r = x + (ptrdiff_t) ih * width + c0;
              __m512 a, b, n, e;

              if (ih < 0 || ih >= height)
                continue;
              a = _mm512_maskz_loadu_ps (in_a, r);
              b = _mm512_maskz_loadu_ps (in_b, r + LANES);
              n = _mm512_maskz_loadu_ps (in_n, r + 2 * LANES);
              e = _mm512_permutex2var_ps (a, even, b);
              acc = row_taps (acc, k + 3 * kh, e,
                              _mm512_permutex2var_ps (a, odd, b),
                              _mm512_castsi512_ps (_mm512_maskz_alignr_epi32 (
                                GF_MK_ALL, _mm512_castps_si512 (n),
                                _mm512_castps_si512 (e), 1)));
            }
          _mm512_mask_storeu_ps (y + (ptrdiff_t) oh * out_w + ow0, out,
                                 gf_mk_activate (act, acc));
        }
    }
}

/* The nine weights of channel @c, broadcast. */
__attribute__ ((target ("avx512f"), always_inline))
static inline void
channel_weights (const float *w, size_t c, __m512 k[9])
{
  for (int t = 0; t < 9; t++)
    k[t] = _mm512_set1_ps (w[c * 9 + t]);
}

__attribute__ ((target ("avx512f")))
void
gf_conv_depthwise3x3_planes (const GfConv2d *conv, const gf_real *x,
                             const gf_real *w, const gf_real *b, size_t c0,
                             size_t c1, gf_real *y)
{
  const size_t in_plane = conv->in_h * conv->in_w;
  const size_t out_plane = conv->out_h * conv->out_w;
  __m512 k[9];

  if (conv->stride_h == 1)
    {
      const int vectors = (int) ((in_plane + LANES - 1) / LANES);
      TapMasks masks[MASK_VECTORS];

      for (int v0 = 0; v0 < vectors; v0 += MASK_VECTORS)
        {
          int n = vectors - v0 < MASK_VECTORS ? vectors - v0 : MASK_VECTORS;

          s1_masks (conv, v0 * LANES, n, masks);
          for (size_t c = c0; c < c1; c++)
            {
              channel_weights (w, c, k);
              s1_vectors (conv, masks, v0, n, x + (c - c0) * in_plane, k,
                          b != NULL ? b[c] : 0, y + (c - c0) * out_plane);
            }
        }
    }
  else
    for (size_t c = c0; c < c1; c++)
      {
        channel_weights (w, c, k);
        plane_s2 (conv, x + (c - c0) * in_plane, k, b != NULL ? b[c] : 0,
                  y + (c - c0) * out_plane);
      }
  if (!gf_mk_activates (&conv->activation))
    gf_activation_forward_block (&conv->activation,
                                 (c1 - c0) * out_plane, y, y);
}
#endif
