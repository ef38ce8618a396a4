/* gf-conv-pointwise.c: the forward kernel for 1×1 convolutions (see
 * gf-conv-pointwise.h).
 *
 * A task is one tile of TILE (48) consecutive columns of one image's
 * plane; for each block of ROWS (8) output channels, 24 AVX-512
 * accumulators take, for every input channel k, x's three vectors of
 * row k times W's eight weights of column k (broadcast), then get the
 * bias, the activation and one store, masked where the plane ends.  The
 * tile of x (K × 48) stays in L1 or L2 while every block of channels
 * passes over it; W (M × K) is read in place.  The last block of
 * channels repeats its last channel in its unused rows and stores none
 * of them.
 */
#include "gf-conv-pointwise.h"

#include "../gf-parallel.h"

#ifdef GF_CONV_POINTWISE_KERNEL
#include "gf-microkernel.h"

#define LANES GF_MK_LANES
#define VECS GF_MK_VECS
#define TILE GF_MK_COLS     /* columns a tile */
#define ROWS GF_MK_ROWS     /* output channels summed together */
#define BAND_BYTES ((size_t) 256 << 10)
#define GROUP_ROWS (4 * ROWS)

typedef struct
{
  const GfConv2d *conv;
  size_t k, m, plane;
  size_t band;              /* columns a band: whole tiles */
  size_t bands;             /* a plane's: ⌈plane / band⌉ */
  const float *x, *w, *b;
  float *y;
} Pointwise;

static bool
avx512_available (void)
{
  return __builtin_cpu_supports ("avx512f");
}

/* One block: output channels [m0, m0 + ROWS) (those below @m_end) of
 * the tile of @n columns at x, into y (channel m0's row of the tile,
 * the next channels a plane apart). */
__attribute__ ((target ("avx512f"), always_inline))
static inline void
pointwise_block (const Pointwise *p, const float *x, float *y, size_t n,
                 size_t m0, size_t m_end)
{
  const size_t k_n = p->k, plane = p->plane;
  const size_t rows = m_end - m0 < ROWS ? m_end - m0 : ROWS;
  const GfActivation *act = &p->conv->activation;
  const __m512 zero = _mm512_setzero_ps ();
  __mmask16 mask[VECS];
  const float *w[ROWS];
  __m512 acc[ROWS][VECS];

  for (size_t v = 0; v < VECS; v++)
    mask[v] = gf_mk_mask (n, v);
  for (size_t r = 0; r < ROWS; r++)
    {
      w[r] = p->w + (r < rows ? m0 + r : m_end - 1) * k_n;
      for (size_t v = 0; v < VECS; v++)
        acc[r][v] = zero;
    }
  gf_mk_sum (w, x, plane, k_n, mask, VECS, TILE, acc);
  /* Every index into acc a constant once unrolled, so that GCC keeps the
   * array in registers (a loop to @rows stored all 24 accumulators to
   * the stack on every k). */
#pragma GCC unroll 8
  for (size_t r = 0; r < ROWS; r++)
    {
      float *dst = y + r * plane;
      __m512 bias;

      if (r >= rows)
        break;
      bias = _mm512_set1_ps (p->b != NULL ? p->b[m0 + r] : 0);
      for (size_t v = 0; v < VECS; v++)
        _mm512_mask_storeu_ps (dst + v * LANES, mask[v],
                               gf_mk_activate (act, _mm512_add_ps (acc[r][v],
                                                                   bias)));
      if (!gf_mk_activates (act))
        gf_activation_forward_block (act, n, dst, dst);
    }
}

/* Bands [begin, end) of (image, band) pairs: each block of channels
 * sweeps the band's tiles before the next block starts, so that the
 * stores run along ROWS rows of y (tile by tile, all M rows at once
 * took the 16 → 96-channel 112×112 layer from 70 to 47 GFLOP/s) while
 * the band of x, BAND_BYTES at most, stays in L2 for every block. */
__attribute__ ((target ("avx512f")))
static void
pointwise_bands (void *data, size_t begin, size_t end, size_t chunk)
{
  const Pointwise *p = data;
  const size_t k_n = p->k, m_n = p->m, plane = p->plane;

  for (size_t t = begin; t < end; t++)
    {
      size_t image = t / p->bands, c0 = t % p->bands * p->band;
      size_t c1 = plane - c0 < p->band ? plane : c0 + p->band;
      const float *x = p->x + image * k_n * plane;
      float *y = p->y + image * m_n * plane;

      for (size_t g0 = 0; g0 < m_n; g0 += GROUP_ROWS)
        for (size_t c = c0; c < c1; c += TILE)
          for (size_t m0 = g0; m0 < g0 + GROUP_ROWS && m0 < m_n; m0 += ROWS)
            pointwise_block (p, x + c, y + m0 * plane + c,
                             c1 - c < TILE ? c1 - c : TILE, m0, m_n);
    }
}
#endif

bool
gf_conv_pointwise_applies (const GfConv2d *conv)
{
#ifdef GF_CONV_POINTWISE_KERNEL
  return conv->groups == 1 && conv->kernel_h == 1 && conv->kernel_w == 1
         && conv->stride_h == 1 && conv->stride_w == 1
         && conv->pad_top == 0 && conv->pad_left == 0
         && conv->pad_bottom == 0 && conv->pad_right == 0
         && avx512_available ();
#else
  (void) conv;
  return false;
#endif
}

#ifdef GF_CONV_POINTWISE_KERNEL
void
gf_conv_pointwise_forward (const GfConv2d *conv,
                           const gf_real *x, const gf_real *w,
                           const gf_real *b, gf_real *y)
{
  Pointwise p = {
    .conv = conv, .k = conv->in_channels, .m = conv->out_channels,
    .plane = conv->in_h * conv->in_w, .x = x, .w = w, .b = b, .y = y,
  };

  p.band = BAND_BYTES / (p.k * sizeof *x) / TILE * TILE;
  p.band = p.band > TILE ? p.band : TILE;
  p.bands = (p.plane + p.band - 1) / p.band;
  gf_parallel_for (conv->batch * p.bands, p.k * p.m * p.band,
                   pointwise_bands, &p);
}
#endif

#ifdef GF_CONV_POINTWISE_KERNEL
/* One image, channels [m0, m1): tile by tile along the plane, every
 * block of the range over each tile (the range is a few blocks: see
 * the expansion chain in gf-conv.c). */
__attribute__ ((target ("avx512f")))
void
gf_conv_pointwise_channels (const GfConv2d *conv, const gf_real *x,
                            const gf_real *w, const gf_real *b, size_t m0,
                            size_t m1, gf_real *y)
{
  Pointwise p = {
    .conv = conv, .k = conv->in_channels, .m = conv->out_channels,
    .plane = conv->in_h * conv->in_w, .x = x, .w = w, .b = b, .y = y,
  };

  for (size_t c = 0; c < p.plane; c += TILE)
    for (size_t m = m0; m < m1; m += ROWS)
      pointwise_block (&p, x + c, y + (m - m0) * p.plane + c,
                       p.plane - c < TILE ? p.plane - c : TILE, m, m1);
}
#endif
