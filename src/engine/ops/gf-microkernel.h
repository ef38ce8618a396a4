/* gf-microkernel.h: the register block of the engine's own products on
 * AVX-512 (1×1 convolutions in gf-conv-pointwise.c, Winograd's 36
 * products in gf-winograd.c), where OpenBLAS' sgemm would clear its
 * output and pack both operands first.
 *
 * A block is GF_MK_ROWS (8) rows of a product × GF_MK_COLS (48) columns,
 * summed in 24 AVX-512 registers: for each k, the three vectors of B's
 * row k times each row's A[r][k] broadcast.  A's rows are read in place
 * (any stride); B's rows are @ldb apart.  Each sum runs in the order of
 * k, so a result does not depend on how the callers split their work.
 * Internal to the engine.
 */
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(GF_REAL_DOUBLE)
#define GF_MICROKERNEL 1

#include <immintrin.h>
#include <stddef.h>

#include "gf-activation.h"

#define GF_MK_LANES 16                          /* floats a vector */
#define GF_MK_VECS 3                            /* vectors a block row */
#define GF_MK_COLS (GF_MK_VECS * GF_MK_LANES)   /* 48 */
#define GF_MK_ROWS 8
#define GF_MK_ALL ((__mmask16) 0xffff)

/* The lanes of vector @v that a block of @n columns holds. */
static inline __mmask16
gf_mk_mask (size_t n, size_t v)
{
  size_t lanes = n > v * GF_MK_LANES ? n - v * GF_MK_LANES : 0;

  return lanes >= GF_MK_LANES ? GF_MK_ALL
                              : (__mmask16) ((1u << lanes) - 1);
}

/* acc[r][v] += Σ_{k < k_n} a[r][k] · b[k·ldb + v·16 + lane] for the
 * first @vecs vectors (1 to 3) of each row, the lanes outside mask[v]
 * read as zero.  With @ahead non-zero, each row of B is prefetched
 * @ahead floats on (the next block's columns).  Inlined, with @vecs a
 * constant, so that GCC keeps acc in registers. */
__attribute__ ((target ("avx512f"), always_inline))
static inline void
gf_mk_sum (const float *const a[GF_MK_ROWS], const float *b, size_t ldb,
           size_t k_n, const __mmask16 mask[GF_MK_VECS], size_t vecs,
           size_t ahead, __m512 acc[GF_MK_ROWS][GF_MK_VECS])
{
  for (size_t k = 0; k < k_n; k++, b += ldb)
    {
      __m512 bv[GF_MK_VECS];

#pragma GCC unroll 3
      for (size_t v = 0; v < vecs; v++)
        bv[v] = _mm512_maskz_loadu_ps (mask[v], b + v * GF_MK_LANES);
      if (ahead != 0)
#pragma GCC unroll 3
        for (size_t v = 0; v < vecs; v++)
          _mm_prefetch ((const char *) (b + ahead + v * GF_MK_LANES),
                        _MM_HINT_T0);
#pragma GCC unroll 8
      for (size_t r = 0; r < GF_MK_ROWS; r++)
        {
          __m512 av = _mm512_set1_ps (a[r][k]);

#pragma GCC unroll 3
          for (size_t v = 0; v < vecs; v++)
            acc[r][v] = _mm512_fmadd_ps (av, bv[v], acc[r][v]);
        }
    }
}

/* u through @act where it is Relu or Clip (in registers; other kinds
 * are left to the caller, see gf_mk_activates), in clip_one's and
 * relu's order: the larger of lo and u (u where it is NaN), then the
 * smaller of hi and that; max and min return their second operand when
 * either is NaN or both are equal (±0).  Masked, every lane on: GCC
 * 12's unmasked forms read an uninitialised register
 * (-Wmaybe-uninitialized). */
__attribute__ ((target ("avx512f"), always_inline))
static inline __m512
gf_mk_activate (const GfActivation *act, __m512 u)
{
  if (act->kind == GF_ACT_RELU)
    return _mm512_maskz_max_ps (GF_MK_ALL, _mm512_setzero_ps (), u);
  if (act->kind == GF_ACT_CLIP)
    return _mm512_maskz_min_ps (GF_MK_ALL,
                                _mm512_set1_ps ((float) act->beta),
                                _mm512_maskz_max_ps (GF_MK_ALL,
                                  _mm512_set1_ps ((float) act->alpha), u));
  return u;
}

/* Whether gf_mk_activate applies @act whole. */
static inline int
gf_mk_activates (const GfActivation *act)
{
  return act->kind == GF_ACT_IDENTITY || act->kind == GF_ACT_RELU
         || act->kind == GF_ACT_CLIP;
}
#endif
