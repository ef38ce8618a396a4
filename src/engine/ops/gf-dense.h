/* gf-dense.h: ONNX Gemm and 2-D MatMul.
 *
 * Y (M, N) = alpha · A' (M, K) · B' (K, N) + beta · C, where A' is A or
 * its transpose (trans_a) and B' likewise; C broadcasts from (N), (1, N),
 * (M, 1), (M, N) or a scalar, or is absent.  PyTorch's Linear exports as
 * trans_b = 1 with B (N, K).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "../gf-real.h"
#include "../gf-status.h"

typedef struct
{
  size_t m, n, k;
  bool trans_a, trans_b;
  double alpha, beta;
  size_t c_rows, c_cols;   /* C's shape as (rows, cols); 0, 0 when no C */
} GfGemm;

/* Checks that C broadcasts to (M, N) and sizes are non-zero. */
GfStatus gf_gemm_init (const GfGemm *gemm, GfError *error);

/* a: (M,K) or (K,M) if trans_a; b: (K,N) or (N,K) if trans_b;
 * c as described or NULL; y (M, N) written. */
void gf_gemm_forward (const GfGemm *gemm, const gf_real *a, const gf_real *b,
                      const gf_real *c, gf_real *y);

/* dy (M, N).  da WRITTEN (A is usually activations); db and dc
 * ACCUMULATED (they are usually weights and bias).  Any may be NULL. */
void gf_gemm_backward (const GfGemm *gemm, const gf_real *a, const gf_real *b,
                       const gf_real *dy,
                       gf_real *da, gf_real *db, gf_real *dc);

/* Naive triple loops with the same contracts, for the tests. */
void gf_gemm_forward_reference (const GfGemm *gemm, const gf_real *a,
                                const gf_real *b, const gf_real *c,
                                gf_real *y);
