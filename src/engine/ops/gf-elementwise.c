/* gf-elementwise.c: Add and Mul with NumPy broadcasting, and Concat.
 *
 * Each call picks one of three paths from the shapes alone, none of which
 * allocates:
 *  - same shape: one flat loop;
 *  - "split": one operand has y's shape and the other equals y on one run
 *    of consecutive axes and is 1 elsewhere, e.g. b (1,C,1,1) or (N,C,1,1)
 *    against (N,C,H,W), or a (N,) bias against (M,N).  y is then seen as
 *    (outer, mid, inner) and the small operand as (mid), so the inner
 *    loop is contiguous;
 *  - anything else: a walk over y's rows with stride 0 along the axes an
 *    operand is broadcast on.
 * Add and Mul commute exactly in IEEE arithmetic, so the split path does
 * not care which operand is the small one.
 *
 * The flat and split paths, and the general forward, run on the engine's
 * worker pool, split by elements or rows of y; the reductions onto a
 * broadcast operand split its values, each summed whole by one thread in
 * the same order at any thread count.  The general reduction, which adds
 * rows onto a target in walk order, stays on one thread.
 */
#include "gf-elementwise.h"

#include <stdio.h>
#include <string.h>

#include "../gf-parallel.h"

/* "(d0,d1,...)" with GF_BROADCAST_MAX_DIMS sizes of up to 20 digits. */
#define SHAPE_TEXT_MAX (3 + GF_BROADCAST_MAX_DIMS * 21)

typedef enum
{
  OP_ADD,
  OP_MUL,
} BinOp;

enum
{
  SIDE_A,
  SIDE_B,
  SIDE_COUNT,
};

/* y seen as (outer, mid, inner); the small operand is (mid). */
typedef struct
{
  size_t outer, mid, inner;
} Split;

/* Walks y row by row, a row being y's last axis, and tracks where each
 * row starts in y, a and b.  Strides are in elements, 0 along the axes an
 * operand is broadcast on. */
typedef struct
{
  size_t ndim;                                  /* axes walked: y's but last */
  size_t len;                                   /* row length */
  size_t rows;
  size_t step[SIDE_COUNT];                      /* stride along the row */
  size_t dims[GF_BROADCAST_MAX_DIMS];
  size_t stride[SIDE_COUNT][GF_BROADCAST_MAX_DIMS];
  size_t index[GF_BROADCAST_MAX_DIMS];
  size_t off_y;
  size_t off[SIDE_COUNT];
} RowWalk;

/* What the chunks of one call share: y (or dt, the gradient being
 * written), its operands a and b (for a reduction: dy and the other
 * operand, or NULL), and how the path sees their shapes. */
typedef struct
{
  BinOp op;
  const GfBroadcast *bc;
  const Split *split;
  const gf_real *a, *b;
  gf_real *y;
  const GfActivation *act;   /* flat Add: applied block by block */
} BinaryJob;

/* Elements a fused activation follows an Add by: 16 KiB in float, in L1
 * between the two. */
#define ACT_BLOCK 4096

static void
pad_dims (size_t *out, size_t ndim, size_t ndim_in, const size_t *dims)
{
  for (size_t d = 0; d < ndim; d++)
    out[d] = d < ndim - ndim_in ? 1 : dims[d - (ndim - ndim_in)];
}

/* 0 on success, -1 if the product overflows size_t. */
static int
count_of (const size_t *dims, size_t ndim, size_t *count)
{
  *count = 1;
  for (size_t d = 0; d < ndim; d++)
    if (gf_size_mul (*count, dims[d], count) != 0)
      return -1;
  return 0;
}

static void
format_dims (char *buf, size_t size, size_t ndim, const size_t *dims)
{
  size_t used = (size_t) snprintf (buf, size, "(");

  for (size_t d = 0; d < ndim && used < size; d++)
    used += (size_t) snprintf (buf + used, size - used, d > 0 ? ",%zu" : "%zu",
                               dims[d]);
  if (used < size)
    snprintf (buf + used, size - used, ")");
}

static GfStatus
shape_error (GfError *error, const GfBroadcast *bc, size_t axis,
             size_t ndim_a, const size_t *dims_a,
             size_t ndim_b, const size_t *dims_b)
{
  char text_a[SHAPE_TEXT_MAX], text_b[SHAPE_TEXT_MAX];

  format_dims (text_a, sizeof text_a, ndim_a, dims_a);
  format_dims (text_b, sizeof text_b, ndim_b, dims_b);
  return gf_error_set (error, GF_ERR_SHAPE,
                       "shapes %s and %s do not broadcast: %zu against %zu "
                       "on axis %zu of the result",
                       text_a, text_b, bc->a[axis], bc->b[axis], axis);
}

GfStatus
gf_broadcast_init (GfBroadcast *bc,
                   size_t ndim_a, const size_t *dims_a,
                   size_t ndim_b, const size_t *dims_b,
                   GfError *error)
{
  size_t ndim = ndim_a > ndim_b ? ndim_a : ndim_b;

  if (ndim > GF_BROADCAST_MAX_DIMS)
    return gf_error_set (error, GF_ERR_UNSUPPORTED,
                         "broadcasting handles at most %d dimensions, not %zu",
                         GF_BROADCAST_MAX_DIMS, ndim);
  if ((ndim_a > 0 && dims_a == NULL) || (ndim_b > 0 && dims_b == NULL))
    return gf_error_set (error, GF_ERR_INVALID,
                         "broadcast: dimensions missing");
  memset (bc, 0, sizeof *bc);
  bc->ndim = ndim;
  pad_dims (bc->a, ndim, ndim_a, dims_a);
  pad_dims (bc->b, ndim, ndim_b, dims_b);
  for (size_t d = 0; d < ndim; d++)
    {
      if (bc->a[d] != bc->b[d] && bc->a[d] != 1 && bc->b[d] != 1)
        return shape_error (error, bc, d, ndim_a, dims_a, ndim_b, dims_b);
      bc->y[d] = bc->a[d] == 1 ? bc->b[d] : bc->a[d];
    }
  if (count_of (bc->a, ndim, &bc->a_count) != 0
      || count_of (bc->b, ndim, &bc->b_count) != 0
      || count_of (bc->y, ndim, &bc->y_count) != 0)
    return gf_error_set (error, GF_ERR_NOMEM,
                         "broadcast: element count overflows");
  return GF_OK;
}

/* Whether @s (padded to y's rank) equals y on one run of consecutive axes
 * and is 1 on every other axis; if so, fills @split. */
static int
split_of (const GfBroadcast *bc, const size_t *s, Split *split)
{
  size_t first = bc->ndim, last = 0;

  for (size_t d = 0; d < bc->ndim; d++)
    if (s[d] != 1)
      {
        if (first == bc->ndim)
          first = d;
        last = d;
      }
  *split = (Split) { .outer = 1, .mid = 1, .inner = bc->y_count };
  if (first == bc->ndim)        /* all ones: a scalar */
    return 1;
  split->inner = 1;
  for (size_t d = 0; d < bc->ndim; d++)
    {
      if (d >= first && d <= last && s[d] != bc->y[d])
        return 0;
      if (d < first)
        split->outer *= bc->y[d];
      else if (d <= last)
        split->mid *= bc->y[d];
      else
        split->inner *= bc->y[d];
    }
  return 1;
}

static void
row_walk_init (RowWalk *w, const GfBroadcast *bc)
{
  const size_t *dims[SIDE_COUNT] = { bc->a, bc->b };

  memset (w, 0, sizeof *w);
  w->ndim = bc->ndim > 0 ? bc->ndim - 1 : 0;
  w->len = bc->ndim > 0 ? bc->y[bc->ndim - 1] : 1;
  w->rows = w->len > 0 ? bc->y_count / w->len : 0;
  memcpy (w->dims, bc->y, w->ndim * sizeof *w->dims);
  for (int side = 0; side < SIDE_COUNT; side++)
    {
      /* Row-major strides of the operand, then 0 where it is broadcast. */
      size_t stride = 1;

      for (size_t d = bc->ndim; d-- > 0;)
        {
          size_t s = dims[side][d] == 1 ? 0 : stride;

          if (d == w->ndim)
            w->step[side] = s;
          else
            w->stride[side][d] = s;
          stride *= dims[side][d];
        }
    }
}

static void
row_walk_advance (RowWalk *w)
{
  w->off_y += w->len;
  for (size_t d = w->ndim; d-- > 0;)
    {
      w->off[SIDE_A] += w->stride[SIDE_A][d];
      w->off[SIDE_B] += w->stride[SIDE_B][d];
      if (++w->index[d] < w->dims[d])
        return;
      w->off[SIDE_A] -= w->stride[SIDE_A][d] * w->dims[d];
      w->off[SIDE_B] -= w->stride[SIDE_B][d] * w->dims[d];
      w->index[d] = 0;
    }
}

/* Moves a fresh walk to row @row, as @row calls of row_walk_advance
 * would. */
static void
row_walk_seek (RowWalk *w, size_t row)
{
  w->off_y = row * w->len;
  for (size_t d = w->ndim; d-- > 0;)
    {
      w->index[d] = row % w->dims[d];
      row /= w->dims[d];
      w->off[SIDE_A] += w->index[d] * w->stride[SIDE_A][d];
      w->off[SIDE_B] += w->index[d] * w->stride[SIDE_B][d];
    }
}

/* y, a, b (n) */
static void
flat_apply (BinOp op, size_t n, const gf_real *a, const gf_real *b,
            gf_real *y)
{
  if (op == OP_ADD)
    for (size_t i = 0; i < n; i++)
      y[i] = a[i] + b[i];
  else
    for (size_t i = 0; i < n; i++)
      y[i] = a[i] * b[i];
}

/* y, a (n) = a op s */
static void
scalar_apply (BinOp op, size_t n, const gf_real *a, gf_real s, gf_real *y)
{
  if (op == OP_ADD)
    for (size_t i = 0; i < n; i++)
      y[i] = a[i] + s;
  else
    for (size_t i = 0; i < n; i++)
      y[i] = a[i] * s;
}

/* Elements [begin, end) of y = a op b, all of y's shape. */
static void
flat_range (void *data, size_t begin, size_t end, size_t chunk)
{
  const BinaryJob *job = data;

  if (job->act == NULL)
    {
      flat_apply (job->op, end - begin, job->a + begin, job->b + begin,
                  job->y + begin);
      return;
    }
  for (size_t i = begin; i < end; i += ACT_BLOCK)
    {
      size_t n = end - i < ACT_BLOCK ? end - i : ACT_BLOCK;

      flat_apply (job->op, n, job->a + i, job->b + i, job->y + i);
      gf_activation_forward_block (job->act, n, job->y + i, job->y + i);
    }
}

/* y, a, b (n) on the pool. */
static void
flat_parallel (BinOp op, size_t n, const gf_real *a, const gf_real *b,
               gf_real *y)
{
  BinaryJob job = { .op = op, .a = a, .b = b, .y = y };

  gf_parallel_for (n, 1, flat_range, &job);
}

/* Elements [begin, end) of y seen as (outer·mid) runs of inner, run r
 * being y = a op b[r % mid], a the full operand and b the small one.
 * Elements rather than runs are split, so that a single run (a scalar
 * operand) splits too. */
static void
split_range (void *data, size_t begin, size_t end, size_t chunk)
{
  const BinaryJob *job = data;
  const size_t inner = job->split->inner, mid = job->split->mid;
  size_t run = begin / inner, m = run % mid;

  for (size_t e = begin; e < end; run++)
    {
      size_t stop = (run + 1) * inner < end ? (run + 1) * inner : end;

      scalar_apply (job->op, stop - e, job->a + e, job->b[m], job->y + e);
      e = stop;
      m = m + 1 < mid ? m + 1 : 0;
    }
}

/* full, y (outer, mid, inner); small (mid) */
static void
split_apply (BinOp op, const Split *sp, const gf_real *full,
             const gf_real *small, gf_real *y)
{
  BinaryJob job = { .op = op, .split = sp, .a = full, .b = small, .y = y };

  if (sp->inner > 0)
    gf_parallel_for (sp->outer * sp->mid * sp->inner, 1, split_range, &job);
}

/* Rows [begin, end) of y in the general forward. */
static void
general_rows (void *data, size_t begin, size_t end, size_t chunk)
{
  const BinaryJob *job = data;
  const gf_real *a = job->a, *b = job->b;
  gf_real *y = job->y;
  BinOp op = job->op;
  RowWalk w;

  row_walk_init (&w, job->bc);
  row_walk_seek (&w, begin);
  for (size_t r = begin; r < end; r++)
    {
      const gf_real *ra = a + w.off[SIDE_A], *rb = b + w.off[SIDE_B];
      size_t sa = w.step[SIDE_A], sb = w.step[SIDE_B];
      gf_real *ry = y + w.off_y;

      if (op == OP_ADD)
        for (size_t k = 0; k < w.len; k++)
          ry[k] = ra[k * sa] + rb[k * sb];
      else
        for (size_t k = 0; k < w.len; k++)
          ry[k] = ra[k * sa] * rb[k * sb];
      row_walk_advance (&w);
    }
}

static void
general_apply (BinOp op, const GfBroadcast *bc,
               const gf_real *a, const gf_real *b, gf_real *y)
{
  BinaryJob job = { .op = op, .bc = bc, .a = a, .b = b, .y = y };
  size_t len = bc->ndim > 0 ? bc->y[bc->ndim - 1] : 1;

  if (len > 0)
    gf_parallel_for (bc->y_count / len, len, general_rows, &job);
}

static void
binary_forward (BinOp op, const GfBroadcast *bc,
                const gf_real *a, const gf_real *b, gf_real *y)
{
  int a_full = bc->a_count == bc->y_count;
  int b_full = bc->b_count == bc->y_count;
  Split sp;

  if (a_full && b_full)
    flat_parallel (op, bc->y_count, a, b, y);
  else if (a_full && split_of (bc, bc->b, &sp))
    split_apply (op, &sp, a, b, y);
  else if (b_full && split_of (bc, bc->a, &sp))
    split_apply (op, &sp, b, a, y);
  else
    general_apply (op, bc, a, b, y);
}

static void
zero_values (size_t n, gf_real *x)
{
  for (size_t i = 0; i < n; i++)
    x[i] = 0;
}

/* Values [begin, end) of dt (mid) in split_reduce: for each, the runs
 * of every o in order, each summed in double (a bias gradient adds up
 * N·H·W terms). */
static void
split_reduce_range (void *data, size_t begin, size_t end, size_t chunk)
{
  const BinaryJob *job = data;
  const Split *sp = job->split;
  const size_t inner = sp->inner;
  const gf_real *dy = job->a, *other = job->b;

  zero_values (end - begin, job->y + begin);
  for (size_t o = 0; o < sp->outer; o++)
    for (size_t m = begin; m < end; m++)
      {
        size_t base = (o * sp->mid + m) * inner;
        double sum = 0.0;

        if (other == NULL)
          for (size_t k = base; k < base + inner; k++)
            sum += dy[k];
        else
          for (size_t k = base; k < base + inner; k++)
            sum += dy[k] * other[k];
        job->y[m] += (gf_real) sum;
      }
}

/* dy, other (outer, mid, inner); dt (mid) = Σ over outer and inner of
 * dy · other, or of dy alone when other is NULL. */
static void
split_reduce (const Split *sp, const gf_real *dy, const gf_real *other,
              gf_real *dt)
{
  BinaryJob job = { .split = sp, .a = dy, .b = other, .y = dt };

  gf_parallel_for (sp->mid, sp->outer * sp->inner * (other != NULL ? 2 : 1),
                   split_reduce_range, &job);
}

/* Elements [begin, end) of a copy from job->a to job->y. */
static void
copy_range (void *data, size_t begin, size_t end, size_t chunk)
{
  const BinaryJob *job = data;

  memcpy (job->y + begin, job->a + begin, (end - begin) * sizeof *job->y);
}

/* dt (the shape of side @side) = dy · other summed onto it, walking y. */
static void
general_reduce (const GfBroadcast *bc, int side, const gf_real *dy,
                const gf_real *other, gf_real *dt)
{
  RowWalk w;

  zero_values (side == SIDE_A ? bc->a_count : bc->b_count, dt);
  row_walk_init (&w, bc);
  for (size_t r = 0; r < w.rows; r++)
    {
      const gf_real *rdy = dy + w.off_y;
      gf_real *rt = dt + w.off[side];
      size_t st = w.step[side];

      if (other == NULL)
        for (size_t k = 0; k < w.len; k++)
          rt[k * st] += rdy[k];
      else
        {
          const gf_real *ro = other + w.off[1 - side];
          size_t so = w.step[1 - side];

          for (size_t k = 0; k < w.len; k++)
            rt[k * st] += rdy[k] * ro[k * so];
        }
      row_walk_advance (&w);
    }
}

/* dt = dL/d(operand on @side) for y = a + b (other NULL) or y = a · b
 * (other the opposite operand), summed over the axes that side was
 * broadcast along.  dt WRITTEN; NULL skips. */
static void
grad_for (const GfBroadcast *bc, int side, const gf_real *dy,
          const gf_real *other, gf_real *dt)
{
  const size_t *t_dims = side == SIDE_A ? bc->a : bc->b;
  const size_t *o_dims = side == SIDE_A ? bc->b : bc->a;
  int t_full = (side == SIDE_A ? bc->a_count : bc->b_count) == bc->y_count;
  int o_full = (side == SIDE_A ? bc->b_count : bc->a_count) == bc->y_count;
  Split sp;

  if (dt == NULL)
    return;
  if (t_full && other == NULL)
    {
      BinaryJob copy = { .a = dy, .y = dt };

      /* dt is dy itself or, as the graph hands them, apart from it. */
      if (dt != dy)
        gf_parallel_for (bc->y_count, 1, copy_range, &copy);
    }
  else if (t_full && o_full)
    flat_parallel (OP_MUL, bc->y_count, dy, other, dt);
  else if (t_full && split_of (bc, o_dims, &sp))
    split_apply (OP_MUL, &sp, dy, other, dt);
  else if ((other == NULL || o_full) && split_of (bc, t_dims, &sp))
    split_reduce (&sp, dy, other, dt);
  else
    general_reduce (bc, side, dy, other, dt);
}

void
gf_add_forward (const GfBroadcast *bc,
                const gf_real *a, const gf_real *b, gf_real *y)
{
  binary_forward (OP_ADD, bc, a, b, y);
}

void
gf_add_activation_forward (const GfBroadcast *bc, const GfActivation *act,
                           const gf_real *a, const gf_real *b, gf_real *y)
{
  BinaryJob job = { .op = OP_ADD, .a = a, .b = b, .y = y, .act = act };

  if (bc->a_count == bc->y_count && bc->b_count == bc->y_count)
    {
      gf_parallel_for (bc->y_count, 1, flat_range, &job);
      return;
    }
  binary_forward (OP_ADD, bc, a, b, y);
  gf_activation_forward (act, bc->y_count, y, y);
}

void
gf_add_backward (const GfBroadcast *bc, const gf_real *dy,
                 gf_real *da, gf_real *db)
{
  grad_for (bc, SIDE_A, dy, NULL, da);
  grad_for (bc, SIDE_B, dy, NULL, db);
}

void
gf_mul_forward (const GfBroadcast *bc,
                const gf_real *a, const gf_real *b, gf_real *y)
{
  binary_forward (OP_MUL, bc, a, b, y);
}

void
gf_mul_backward (const GfBroadcast *bc,
                 const gf_real *a, const gf_real *b, const gf_real *dy,
                 gf_real *da, gf_real *db)
{
  grad_for (bc, SIDE_A, dy, b, da);
  grad_for (bc, SIDE_B, dy, a, db);
}

/* Each outer index holds, in order, a (channels[i], inner) run of every
 * input: one memcpy per run. */
void
gf_concat_forward (size_t outer, size_t inner, size_t count,
                   const size_t *channels,
                   const gf_real *const *xs, gf_real *y)
{
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < count; i++)
      {
        size_t run = channels[i] * inner;

        if (run > 0)
          memcpy (y, xs[i] + o * run, run * sizeof *y);
        y += run;
      }
}

void
gf_concat_backward (size_t outer, size_t inner, size_t count,
                    const size_t *channels,
                    const gf_real *dy, gf_real *const *dxs)
{
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < count; i++)
      {
        size_t run = channels[i] * inner;

        if (run > 0 && dxs[i] != NULL)
          memcpy (dxs[i] + o * run, dy, run * sizeof *dy);
        dy += run;
      }
}
