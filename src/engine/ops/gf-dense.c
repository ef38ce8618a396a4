/* gf-dense.c: ONNX Gemm forward and backward over row-major buffers.
 *
 * The products go through gf_gemm (one BLAS call each); only the bias
 * broadcast and its reduction are loops here.  Shapes, with A' = op(A) and
 * B' = op(B):
 *   a   (M, K), or (K, M) when trans_a
 *   b   (K, N), or (N, K) when trans_b
 *   c   (c_rows, c_cols) with c_rows in {1, M} and c_cols in {1, N}
 *   y   (M, N) = alpha · A' B' + beta · C
 * A 1-D C of length N is passed as (1, N).
 */
#include "gf-dense.h"

#include <limits.h>

/* cblas takes every size and stride as int. */
#define GEMM_DIM_MAX ((size_t) INT_MAX)

static bool
c_dim_broadcasts (size_t c_dim, size_t y_dim)
{
  return c_dim == 1 || c_dim == y_dim;
}

static GfStatus
check_c_shape (const GfGemm *gemm, GfError *error)
{
  if (gemm->c_rows == 0 && gemm->c_cols == 0)
    return GF_OK;
  if (!c_dim_broadcasts (gemm->c_rows, gemm->m)
      || !c_dim_broadcasts (gemm->c_cols, gemm->n))
    return gf_error_set (error, GF_ERR_SHAPE,
                         "gemm: C (%zu, %zu) does not broadcast to Y (%zu, %zu)",
                         gemm->c_rows, gemm->c_cols, gemm->m, gemm->n);
  return GF_OK;
}

GfStatus
gf_gemm_init (const GfGemm *gemm, GfError *error)
{
  size_t mn, mk, kn;

  if (gemm->m == 0 || gemm->n == 0 || gemm->k == 0)
    return gf_error_set (error, GF_ERR_SHAPE,
                         "gemm: sizes must be non-zero, got M %zu N %zu K %zu",
                         gemm->m, gemm->n, gemm->k);
  if (gemm->m > GEMM_DIM_MAX || gemm->n > GEMM_DIM_MAX
      || gemm->k > GEMM_DIM_MAX
      || gf_size_mul (gemm->m, gemm->n, &mn) != 0
      || gf_size_mul (gemm->m, gemm->k, &mk) != 0
      || gf_size_mul (gemm->k, gemm->n, &kn) != 0)
    return gf_error_set (error, GF_ERR_UNSUPPORTED,
                         "gemm: M %zu N %zu K %zu exceed the BLAS size limit",
                         gemm->m, gemm->n, gemm->k);
  return check_c_shape (gemm, error);
}

static bool
has_c (const GfGemm *gemm)
{
  return gemm->c_rows != 0 && gemm->c_cols != 0;
}

/* The element of C (c_rows, c_cols) that broadcasts to Y[i, j]. */
static size_t
c_index (const GfGemm *gemm, size_t i, size_t j)
{
  size_t ci = gemm->c_rows == 1 ? 0 : i;
  size_t cj = gemm->c_cols == 1 ? 0 : j;

  return ci * gemm->c_cols + cj;
}

/* Row strides of A and B as stored, for gf_gemm. */
static size_t
lda_of (const GfGemm *gemm)
{
  return gemm->trans_a ? gemm->m : gemm->k;
}

static size_t
ldb_of (const GfGemm *gemm)
{
  return gemm->trans_b ? gemm->k : gemm->n;
}

void
gf_gemm_forward (const GfGemm *gemm, const gf_real *a, const gf_real *b,
                 const gf_real *c, gf_real *y)
{
  size_t m = gemm->m, n = gemm->n;
  bool with_c = c != NULL && has_c (gemm);

  /* Y starts as beta · C broadcast, and BLAS adds the product onto it. */
  if (with_c)
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++)
        y[i * n + j] = (gf_real) (gemm->beta * c[c_index (gemm, i, j)]);

  gf_gemm (gemm->trans_a, gemm->trans_b, m, n, gemm->k,
           (gf_real) gemm->alpha, a, lda_of (gemm), b, ldb_of (gemm),
           with_c ? 1 : 0, y, n);
}

/* da = alpha · dY · B'ᵀ, stored as A is: (M, K), or (K, M) when trans_a,
 * where it is alpha · B' · dYᵀ. */
static void
backward_a (const GfGemm *gemm, const gf_real *b, const gf_real *dy,
            gf_real *da)
{
  size_t m = gemm->m, n = gemm->n, k = gemm->k;
  gf_real alpha = (gf_real) gemm->alpha;

  if (gemm->trans_a)
    gf_gemm (gemm->trans_b, 1, k, m, n, alpha, b, ldb_of (gemm), dy, n,
             0, da, m);
  else
    gf_gemm (0, !gemm->trans_b, m, k, n, alpha, dy, n, b, ldb_of (gemm),
             0, da, k);
}

/* db += alpha · A'ᵀ · dY, stored as B is: (K, N), or (N, K) when trans_b,
 * where it is alpha · dYᵀ · A'. */
static void
backward_b (const GfGemm *gemm, const gf_real *a, const gf_real *dy,
            gf_real *db)
{
  size_t m = gemm->m, n = gemm->n, k = gemm->k;
  gf_real alpha = (gf_real) gemm->alpha;

  if (gemm->trans_b)
    gf_gemm (1, gemm->trans_a, n, k, m, alpha, dy, n, a, lda_of (gemm),
             1, db, k);
  else
    gf_gemm (!gemm->trans_a, 0, k, n, m, alpha, a, lda_of (gemm), dy, n,
             1, db, n);
}

/* dc (c_rows, c_cols) += beta · dY summed over the dimensions C was
 * broadcast along.  Each element sums in double: a scalar C gathers all
 * M·N gradients. */
static void
backward_c (const GfGemm *gemm, const gf_real *dy, gf_real *dc)
{
  size_t n = gemm->n;
  size_t rows_each = gemm->c_rows == 1 ? gemm->m : 1;
  size_t cols_each = gemm->c_cols == 1 ? gemm->n : 1;

  for (size_t ci = 0; ci < gemm->c_rows; ci++)
    for (size_t cj = 0; cj < gemm->c_cols; cj++)
      {
        double sum = 0.0;

        for (size_t i = ci; i < ci + rows_each; i++)
          for (size_t j = cj; j < cj + cols_each; j++)
            sum += dy[i * n + j];
        dc[ci * gemm->c_cols + cj] += (gf_real) (gemm->beta * sum);
      }
}

void
gf_gemm_backward (const GfGemm *gemm, const gf_real *a, const gf_real *b,
                  const gf_real *dy, gf_real *da, gf_real *db, gf_real *dc)
{
  if (da != NULL)
    backward_a (gemm, b, dy, da);
  if (db != NULL)
    backward_b (gemm, a, dy, db);
  if (dc != NULL && has_c (gemm))
    backward_c (gemm, dy, dc);
}

/* A'[i, p] and B'[p, j] read through the transposes, for the reference. */
static gf_real
a_at (const GfGemm *gemm, const gf_real *a, size_t i, size_t p)
{
  return gemm->trans_a ? a[p * gemm->m + i] : a[i * gemm->k + p];
}

static gf_real
b_at (const GfGemm *gemm, const gf_real *b, size_t p, size_t j)
{
  return gemm->trans_b ? b[j * gemm->k + p] : b[p * gemm->n + j];
}

void
gf_gemm_forward_reference (const GfGemm *gemm, const gf_real *a,
                           const gf_real *b, const gf_real *c, gf_real *y)
{
  bool with_c = c != NULL && has_c (gemm);

  for (size_t i = 0; i < gemm->m; i++)
    for (size_t j = 0; j < gemm->n; j++)
      {
        double sum = 0.0;

        for (size_t p = 0; p < gemm->k; p++)
          sum += (double) a_at (gemm, a, i, p) * b_at (gemm, b, p, j);
        sum *= gemm->alpha;
        if (with_c)
          sum += gemm->beta * c[c_index (gemm, i, j)];
        y[i * gemm->n + j] = (gf_real) sum;
      }
}
