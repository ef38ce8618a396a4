/* gf-real.h: the engine's scalar type and the one GEMM every kernel calls.
 *
 * The product computes in float32.  The gradient-check tests build the same
 * kernels a second time with GF_REAL_DOUBLE defined, so that finite
 * differences can be taken in double precision against the very code that
 * ships; nothing outside those tests defines it.
 */
#pragma once

#include <stddef.h>
#include <cblas.h>

#ifdef GF_REAL_DOUBLE
typedef double gf_real;
#define GF_REAL_NAME "float64"
#else
typedef float gf_real;
#define GF_REAL_NAME "float32"
#endif

/* The hot loops outside BLAS are compiled for AVX-512 and AVX2 as well
 * as the x86-64 baseline, the best chosen when the library loads (GCC's
 * target_clones, an ifunc).  A static helper the clone calls but does
 * not inline is compiled once, for the baseline: GF_CLONES_FLAT also
 * inlines every call in the function's body, so that the helpers run at
 * the clone's width (MobileNetV2's depthwise plane loop ran as SSE, four
 * floats a step, under an AVX-512 clone that called it). */
#if defined(__x86_64__) && defined(__GNUC__)
#define GF_CLONES \
  __attribute__ ((target_clones ("avx512f", "avx2", "default")))
#ifdef __clang__
/* Clang refuses flatten beside target_clones; it builds only the fuzz
 * targets, where speed does not matter. */
#define GF_CLONES_FLAT GF_CLONES
#else
#define GF_CLONES_FLAT \
  __attribute__ ((target_clones ("avx512f", "avx2", "default"), flatten))
#endif
#else
#define GF_CLONES
#define GF_CLONES_FLAT
#endif

/* C (m,n) = alpha * op(A) op(B) + beta * C, row-major, op(A) (m,k),
 * op(B) (k,n); lda/ldb/ldc are row strides as cblas takes them. */
static inline void
gf_gemm (int trans_a, int trans_b,
         size_t m, size_t n, size_t k,
         gf_real alpha,
         const gf_real *a, size_t lda,
         const gf_real *b, size_t ldb,
         gf_real beta,
         gf_real *c, size_t ldc)
{
#ifdef GF_REAL_DOUBLE
  cblas_dgemm (CblasRowMajor,
               trans_a ? CblasTrans : CblasNoTrans,
               trans_b ? CblasTrans : CblasNoTrans,
               (int) m, (int) n, (int) k, alpha, a, (int) lda, b, (int) ldb,
               beta, c, (int) ldc);
#else
  cblas_sgemm (CblasRowMajor,
               trans_a ? CblasTrans : CblasNoTrans,
               trans_b ? CblasTrans : CblasNoTrans,
               (int) m, (int) n, (int) k, alpha, a, (int) lda, b, (int) ldb,
               beta, c, (int) ldc);
#endif
}
