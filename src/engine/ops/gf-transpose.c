/* gf-transpose.c: axis permutation (see gf-transpose.h).
 *
 * A permutation is first reduced to its essentials (a Plan): axes of size
 * 1 dropped, and axes that are neighbours in y and whose x strides chain
 * (stride_x[a] == stride_x[b] · dims[b]) merged into one.  Then either
 * y's innermost axis is x's innermost too, and the copy is a walk over
 * contiguous runs; or it is not, and for every position of the other
 * axes the two innermost ones (y's and x's) form a strided 2-D transpose,
 * done in TILE × TILE tiles of BLOCK × BLOCK register blocks.
 */
#include "gf-transpose.h"

#include <stdbool.h>
#include <string.h>

#define MAX_DIMS GF_TRANSPOSE_MAX_DIMS
/* A 32 × 32 tile of floats is 4 KiB on each side: well inside L1. */
#define TILE 32
/* Blocks of 4 × 4: one SSE/NEON register of floats per row. */
#define BLOCK 4

/* The reduced permutation in y's axis order: axis i has size dims[i] and
 * strides x_stride[i] in x and y_stride[i] in y. */
typedef struct
{
  size_t ndim;
  size_t dims[MAX_DIMS];
  size_t x_stride[MAX_DIMS];
  size_t y_stride[MAX_DIMS];
} Plan;

/* An odometer over some axes of a Plan, tracking both offsets. */
typedef struct
{
  size_t n;
  size_t dims[MAX_DIMS], x_stride[MAX_DIMS], y_stride[MAX_DIMS];
  size_t index[MAX_DIMS];
  size_t x, y;
} Walk;

GfStatus
gf_transpose_check (const GfTranspose *t, GfError *error)
{
  unsigned seen = 0;

  if (t->ndim == 0 || t->ndim > MAX_DIMS)
    return gf_error_set (error, GF_ERR_INVALID, "transpose of %zu axes; "
                         "1 to %d are supported", t->ndim, MAX_DIMS);
  for (size_t i = 0; i < t->ndim; i++)
    {
      if (t->perm[i] >= t->ndim || (seen & (1u << t->perm[i])) != 0)
        return gf_error_set (error, GF_ERR_INVALID, "perm is not a "
                             "permutation of 0..%zu", t->ndim - 1);
      seen |= 1u << t->perm[i];
    }
  return GF_OK;
}

void
gf_transpose_out_dims (const GfTranspose *t, size_t *dims_y)
{
  for (size_t i = 0; i < t->ndim; i++)
    dims_y[i] = t->dims[t->perm[i]];
}

/* Builds the reduced Plan; returns false, leaving nothing to do, for an
 * empty tensor or an invalid descriptor. */
static bool
make_plan (const GfTranspose *t, Plan *p)
{
  size_t x_stride[MAX_DIMS], stride = 1;

  if (gf_transpose_check (t, NULL) != GF_OK)
    return false;
  for (size_t a = t->ndim; a-- > 0;)
    {
      x_stride[a] = stride;
      stride *= t->dims[a];
    }
  if (stride == 0)
    return false;
  p->ndim = 0;
  for (size_t i = 0; i < t->ndim; i++)
    {
      size_t a = t->perm[i], last = p->ndim - 1;
      if (t->dims[a] == 1)
        continue;
      if (p->ndim > 0 && p->x_stride[last] == x_stride[a] * t->dims[a])
        {
          p->dims[last] *= t->dims[a];
          p->x_stride[last] = x_stride[a];
          continue;
        }
      p->dims[p->ndim] = t->dims[a];
      p->x_stride[p->ndim++] = x_stride[a];
    }
  if (p->ndim == 0)   /* a single element */
    {
      p->ndim = 1;
      p->dims[0] = p->x_stride[0] = 1;
    }
  stride = 1;
  for (size_t i = p->ndim; i-- > 0;)
    {
      p->y_stride[i] = stride;
      stride *= p->dims[i];
    }
  return true;
}

/* A walk over every axis of @p but @skip_a and @skip_b (an index past the
 * last axis skips nothing), starting at offset 0 in both tensors. */
static void
walk_init (Walk *w, const Plan *p, size_t skip_a, size_t skip_b)
{
  w->n = 0;
  w->x = w->y = 0;
  for (size_t i = 0; i < p->ndim; i++)
    if (i != skip_a && i != skip_b)
      {
        w->dims[w->n] = p->dims[i];
        w->x_stride[w->n] = p->x_stride[i];
        w->y_stride[w->n] = p->y_stride[i];
        w->index[w->n++] = 0;
      }
}

/* Steps to the next position, the last axis fastest; false after the
 * last position (at once when the walk has no axes). */
static bool
walk_next (Walk *w)
{
  for (size_t j = w->n; j-- > 0;)
    {
      w->x += w->x_stride[j];
      w->y += w->y_stride[j];
      if (++w->index[j] < w->dims[j])
        return true;
      w->x -= w->x_stride[j] * w->dims[j];
      w->y -= w->y_stride[j] * w->dims[j];
      w->index[j] = 0;
    }
  return false;
}

/* y's innermost axis is x's innermost: copy runs of that length. */
static void
copy_runs (const Plan *p, const gf_real *x, gf_real *y)
{
  size_t last = p->ndim - 1;
  Walk w;

  walk_init (&w, p, last, p->ndim);
  do
    memcpy (y + w.y, x + w.x, p->dims[last] * sizeof *y);
  while (walk_next (&w));
}

/* One BLOCK × BLOCK block of transpose_tiles, held in registers: the
 * compiler vectorises its loads along i and its stores along j. */
static inline void
transpose_block (const gf_real *restrict x, size_t ldx,
                 gf_real *restrict y, size_t ldy)
{
  gf_real v[BLOCK][BLOCK];

  for (size_t j = 0; j < BLOCK; j++)
    for (size_t i = 0; i < BLOCK; i++)
      v[j][i] = x[i + j * ldx];
  for (size_t i = 0; i < BLOCK; i++)
    for (size_t j = 0; j < BLOCK; j++)
      y[i * ldy + j] = v[j][i];
}

/* Rows [i0, i1) and columns [j0, j1) of transpose_tiles: whole blocks,
 * then the ragged right and bottom edges element by element. */
static void
transpose_tile (size_t i0, size_t i1, size_t j0, size_t j1,
                const gf_real *restrict x, size_t ldx,
                gf_real *restrict y, size_t ldy)
{
  size_t i = i0;

  for (; i + BLOCK <= i1; i += BLOCK)
    {
      size_t j = j0;
      for (; j + BLOCK <= j1; j += BLOCK)
        transpose_block (x + i + j * ldx, ldx, y + i * ldy + j, ldy);
      for (; j < j1; j++)
        for (size_t a = i; a < i + BLOCK; a++)
          y[a * ldy + j] = x[a + j * ldx];
    }
  for (; i < i1; i++)
    for (size_t j = j0; j < j1; j++)
      y[i * ldy + j] = x[i + j * ldx];
}

/* y[i·ldy + j] = x[i + j·ldx] for i < rows, j < cols: a (cols, rows)
 * matrix of x with row stride ldx into a (rows, cols) one of y with row
 * stride ldy, TILE × TILE at a time so that the lines of both sides that
 * a tile touches stay in cache until it is done. */
static void
transpose_tiles (size_t rows, size_t cols,
                 const gf_real *restrict x, size_t ldx,
                 gf_real *restrict y, size_t ldy)
{
  for (size_t i0 = 0; i0 < rows; i0 += TILE)
    for (size_t j0 = 0; j0 < cols; j0 += TILE)
      transpose_tile (i0, rows - i0 < TILE ? rows : i0 + TILE,
                      j0, cols - j0 < TILE ? cols : j0 + TILE,
                      x, ldx, y, ldy);
}

/* y's innermost axis is not x's (axis @inner_x of the plan is): one 2-D
 * transpose of those two axes per position of the others. */
static void
transpose_planes (const Plan *p, size_t inner_x, const gf_real *x,
                  gf_real *y)
{
  size_t last = p->ndim - 1;
  Walk w;

  walk_init (&w, p, inner_x, last);
  do
    transpose_tiles (p->dims[inner_x], p->dims[last], x + w.x,
                     p->x_stride[last], y + w.y, p->y_stride[inner_x]);
  while (walk_next (&w));
}

void
gf_transpose_forward (const GfTranspose *t, const gf_real *x, gf_real *y)
{
  Plan p;
  size_t inner_x = 0;

  if (!make_plan (t, &p))
    return;
  for (size_t i = 0; i < p.ndim; i++)
    if (p.x_stride[i] == 1)
      inner_x = i;
  if (inner_x == p.ndim - 1)
    copy_runs (&p, x, y);
  else
    transpose_planes (&p, inner_x, x, y);
}

void
gf_transpose_backward (const GfTranspose *t, const gf_real *dy, gf_real *dx)
{
  GfTranspose inverse = { .ndim = t->ndim };

  if (gf_transpose_check (t, NULL) != GF_OK)
    return;
  /* y's axis i is x's axis perm[i], so x's axis perm[i] is y's axis i. */
  for (size_t i = 0; i < t->ndim; i++)
    {
      inverse.dims[i] = t->dims[t->perm[i]];
      inverse.perm[t->perm[i]] = i;
    }
  gf_transpose_forward (&inverse, dy, dx);
}
