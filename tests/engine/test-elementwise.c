/* test-elementwise.c: Add and Mul over a sweep of broadcast shape pairs
 * against a naive index-computing reference, their gradients by finite
 * differences, shape errors, and Concat. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/gf-elementwise.h"
#include "gf-test-util.h"

#define MAX_DIMS GF_BROADCAST_MAX_DIMS

/* Summation order differs between the kernels and the reference. */
#ifdef GF_REAL_DOUBLE
#define SUM_RTOL 1e-12
#define SUM_ATOL 1e-12
#else
#define SUM_RTOL 1e-5
#define SUM_ATOL 1e-5
#endif

typedef enum
{
  OP_ADD,
  OP_MUL,
} Op;

typedef struct
{
  const char *name;
  size_t ndim_a;
  size_t dims_a[MAX_DIMS];
  size_t ndim_b;
  size_t dims_b[MAX_DIMS];
} ShapeCase;

static const ShapeCase shape_cases[] = {
  { "same-4d", 4, { 2, 3, 4, 5 }, 4, { 2, 3, 4, 5 } },
  { "same-1d", 1, { 7 }, 1, { 7 } },
  { "bias-1c11", 4, { 2, 3, 4, 5 }, 4, { 1, 3, 1, 1 } },
  { "scale-nc11", 4, { 2, 3, 4, 5 }, 4, { 2, 3, 1, 1 } },
  { "c11-vs-4d", 4, { 2, 3, 4, 5 }, 3, { 3, 1, 1 } },
  { "n111", 4, { 2, 3, 4, 5 }, 4, { 2, 1, 1, 1 } },
  { "last-axis", 4, { 2, 3, 4, 5 }, 4, { 1, 1, 1, 5 } },
  { "hw-plane", 4, { 2, 3, 4, 5 }, 2, { 4, 5 } },
  { "scalar", 4, { 2, 3, 4, 5 }, 0, { 0 } },
  { "one-element", 4, { 2, 3, 4, 5 }, 1, { 1 } },
  { "a-broadcast-1c11", 4, { 1, 3, 1, 1 }, 4, { 2, 3, 4, 5 } },
  { "a-scalar", 0, { 0 }, 2, { 3, 4 } },
  { "row-bias-2d", 2, { 4, 5 }, 1, { 5 } },
  { "column-2d", 2, { 4, 5 }, 2, { 4, 1 } },
  { "outer-2d", 2, { 4, 1 }, 2, { 1, 5 } },
  { "both-4d", 4, { 2, 1, 4, 1 }, 3, { 3, 1, 5 } },
  { "strided-4d", 4, { 2, 3, 4, 5 }, 4, { 2, 1, 4, 1 } },
  { "6d", 6, { 2, 1, 3, 1, 2, 2 }, 6, { 1, 2, 1, 3, 1, 2 } },
};

/* The case's shapes left-padded to a common rank, found independently of
 * gf_broadcast_init. */
typedef struct
{
  size_t ndim;
  size_t a[MAX_DIMS], b[MAX_DIMS], y[MAX_DIMS];
  size_t a_count, b_count, y_count;
} RefShape;

static void
ref_pad (size_t *out, size_t ndim, size_t ndim_in, const size_t *dims)
{
  size_t lead = ndim - ndim_in;

  for (size_t d = 0; d < ndim; d++)
    out[d] = d < lead ? 1 : dims[d - lead];
}

static void
ref_shape (const ShapeCase *c, RefShape *s)
{
  s->ndim = MAX (c->ndim_a, c->ndim_b);
  ref_pad (s->a, s->ndim, c->ndim_a, c->dims_a);
  ref_pad (s->b, s->ndim, c->ndim_b, c->dims_b);
  s->a_count = s->b_count = s->y_count = 1;
  for (size_t d = 0; d < s->ndim; d++)
    {
      s->y[d] = MAX (s->a[d], s->b[d]);
      s->a_count *= s->a[d];
      s->b_count *= s->b[d];
      s->y_count *= s->y[d];
    }
}

/* Where y's flat element @i reads from an operand of padded dims @dims. */
static size_t
ref_index (const RefShape *s, const size_t *dims, size_t i)
{
  size_t index = 0, stride = 1;

  for (size_t d = s->ndim; d-- > 0;)
    {
      size_t coord = i % s->y[d];

      i /= s->y[d];
      if (dims[d] != 1)
        index += coord * stride;
      stride *= dims[d];
    }
  return index;
}

/* Everything one case needs: operands, output, gradients, projection. */
typedef struct
{
  Op op;
  RefShape s;
  GfBroadcast bc;
  gf_real *a, *b, *y, *r, *da, *db;
} Fixture;

static void
fixture_init (Fixture *f, Op op, const ShapeCase *c)
{
  GfError error = { 0 };
  GfRng rng;

  f->op = op;
  ref_shape (c, &f->s);
  g_assert_cmpint (gf_broadcast_init (&f->bc, c->ndim_a, c->dims_a,
                                      c->ndim_b, c->dims_b, &error),
                   ==, GF_OK);
  f->a = gf_test_new (f->s.a_count);
  f->b = gf_test_new (f->s.b_count);
  f->y = gf_test_new (f->s.y_count);
  f->r = gf_test_new (f->s.y_count);
  f->da = gf_test_new (f->s.a_count);
  f->db = gf_test_new (f->s.b_count);
  gf_rng_seed (&rng, 31);
  gf_test_fill_uniform (&rng, f->a, f->s.a_count, -2, 2);
  gf_test_fill_uniform (&rng, f->b, f->s.b_count, -2, 2);
  gf_test_fill_uniform (&rng, f->r, f->s.y_count, -1, 1);
}

static void
fixture_clear (Fixture *f)
{
  g_free (f->a);
  g_free (f->b);
  g_free (f->y);
  g_free (f->r);
  g_free (f->da);
  g_free (f->db);
}

static void
run_forward (Fixture *f)
{
  if (f->op == OP_ADD)
    gf_add_forward (&f->bc, f->a, f->b, f->y);
  else
    gf_mul_forward (&f->bc, f->a, f->b, f->y);
}

static void
run_backward (Fixture *f, const gf_real *dy, gf_real *da, gf_real *db)
{
  if (f->op == OP_ADD)
    gf_add_backward (&f->bc, dy, da, db);
  else
    gf_mul_backward (&f->bc, f->a, f->b, dy, da, db);
}

static void
check_broadcast_fields (const Fixture *f)
{
  g_assert_cmpuint (f->bc.ndim, ==, f->s.ndim);
  g_assert_cmpuint (f->bc.a_count, ==, f->s.a_count);
  g_assert_cmpuint (f->bc.b_count, ==, f->s.b_count);
  g_assert_cmpuint (f->bc.y_count, ==, f->s.y_count);
  for (size_t d = 0; d < f->s.ndim; d++)
    {
      g_assert_cmpuint (f->bc.a[d], ==, f->s.a[d]);
      g_assert_cmpuint (f->bc.b[d], ==, f->s.b[d]);
      g_assert_cmpuint (f->bc.y[d], ==, f->s.y[d]);
    }
}

/* gf_add_activation_forward gives, bit for bit, gf_add_forward and then
 * the activation (a Relu, and a Clip that bounds both ends). */
static void
check_add_activation (const GfBroadcast *bc, const gf_real *a,
                      const gf_real *b, size_t n)
{
  const GfActivation acts[] = {
    { .kind = GF_ACT_RELU },
    { .kind = GF_ACT_CLIP, .alpha = -0.5, .beta = 1.0 },
  };
  g_autofree gf_real *want = gf_test_new (n);
  g_autofree gf_real *got = gf_test_new (n);

  for (size_t k = 0; k < G_N_ELEMENTS (acts); k++)
    {
      gf_add_forward (bc, a, b, want);
      gf_activation_forward (&acts[k], n, want, want);
      gf_add_activation_forward (bc, &acts[k], a, b, got);
      g_assert_cmpmem (got, n * sizeof *got, want, n * sizeof *want);
    }
}

/* Operands of one shape longer than the blocks the fused activation
 * follows the Add by, with a ragged end. */
static void
test_add_activation_blocks (void)
{
  const size_t dims[] = { 3, 5, 1, 2731 };
  const size_t n = 3 * 5 * 2731;
  g_autofree gf_real *a = gf_test_new (n);
  g_autofree gf_real *b = gf_test_new (n);
  GfBroadcast bc;
  GfRng rng;

  g_assert_cmpint (gf_broadcast_init (&bc, 4, dims, 4, dims, NULL), ==,
                   GF_OK);
  gf_rng_seed (&rng, 7);
  gf_test_fill_uniform (&rng, a, n, -2, 2);
  gf_test_fill_uniform (&rng, b, n, -2, 2);
  check_add_activation (&bc, a, b, n);
}

static void
check_forward (Op op, const ShapeCase *c)
{
  Fixture f;
  g_autofree gf_real *want = NULL;

  fixture_init (&f, op, c);
  check_broadcast_fields (&f);
  want = gf_test_new (f.s.y_count);
  for (size_t i = 0; i < f.s.y_count; i++)
    {
      gf_real va = f.a[ref_index (&f.s, f.s.a, i)];
      gf_real vb = f.b[ref_index (&f.s, f.s.b, i)];

      want[i] = op == OP_ADD ? va + vb : va * vb;
    }
  run_forward (&f);
  /* One rounding per element on both sides: exactly equal. */
  gf_test_assert_close (c->name, f.y, want, f.s.y_count, 0, 0);
  if (op == OP_ADD)
    check_add_activation (&f.bc, f.a, f.b, f.s.y_count);
  fixture_clear (&f);
}

/* da, db (a_count, b_count) = the reference sums for dy = r. */
static void
reference_backward (const Fixture *f, gf_real *da, gf_real *db)
{
  g_autofree double *sa = g_new0 (double, f->s.a_count);
  g_autofree double *sb = g_new0 (double, f->s.b_count);

  for (size_t i = 0; i < f->s.y_count; i++)
    {
      size_t ia = ref_index (&f->s, f->s.a, i);
      size_t ib = ref_index (&f->s, f->s.b, i);

      sa[ia] += (double) f->r[i] * (f->op == OP_MUL ? f->b[ib] : 1.0);
      sb[ib] += (double) f->r[i] * (f->op == OP_MUL ? f->a[ia] : 1.0);
    }
  for (size_t i = 0; i < f->s.a_count; i++)
    da[i] = (gf_real) sa[i];
  for (size_t i = 0; i < f->s.b_count; i++)
    db[i] = (gf_real) sb[i];
}

static void
fill_nan (gf_real *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (gf_real) NAN;
}

static void
check_backward (Op op, const ShapeCase *c)
{
  Fixture f;
  g_autofree gf_real *want_a = NULL, *want_b = NULL;

  fixture_init (&f, op, c);
  want_a = gf_test_new (f.s.a_count);
  want_b = gf_test_new (f.s.b_count);
  reference_backward (&f, want_a, want_b);
  /* NaN-filled first: an element left unwritten fails the comparison. */
  fill_nan (f.da, f.s.a_count);
  fill_nan (f.db, f.s.b_count);
  run_backward (&f, f.r, f.da, f.db);
  gf_test_assert_close ("da", f.da, want_a, f.s.a_count, SUM_RTOL, SUM_ATOL);
  gf_test_assert_close ("db", f.db, want_b, f.s.b_count, SUM_RTOL, SUM_ATOL);
  /* Either gradient may be skipped without disturbing the other. */
  fill_nan (f.da, f.s.a_count);
  fill_nan (f.db, f.s.b_count);
  run_backward (&f, f.r, f.da, NULL);
  run_backward (&f, f.r, NULL, f.db);
  gf_test_assert_close ("da alone", f.da, want_a, f.s.a_count,
                        SUM_RTOL, SUM_ATOL);
  gf_test_assert_close ("db alone", f.db, want_b, f.s.b_count,
                        SUM_RTOL, SUM_ATOL);
  fixture_clear (&f);
}

static double
fixture_loss (void *user_data)
{
  Fixture *f = user_data;

  run_forward (f);
  return gf_test_dot (f->r, f->y, f->s.y_count);
}

static void
check_gradcheck (Op op, const ShapeCase *c)
{
  Fixture f;

  fixture_init (&f, op, c);
  run_backward (&f, f.r, f.da, f.db);
  gf_test_gradcheck ("da", f.a, f.s.a_count, f.da, fixture_loss, &f, NULL);
  gf_test_gradcheck ("db", f.b, f.s.b_count, f.db, fixture_loss, &f, NULL);
  fixture_clear (&f);
}

static void
test_add_forward (gconstpointer data)
{
  check_forward (OP_ADD, data);
}

static void
test_add_backward (gconstpointer data)
{
  check_backward (OP_ADD, data);
}

static void
test_add_gradcheck (gconstpointer data)
{
  check_gradcheck (OP_ADD, data);
}

static void
test_mul_forward (gconstpointer data)
{
  check_forward (OP_MUL, data);
}

static void
test_mul_backward (gconstpointer data)
{
  check_backward (OP_MUL, data);
}

static void
test_mul_gradcheck (gconstpointer data)
{
  check_gradcheck (OP_MUL, data);
}

static void
test_broadcast_incompatible (void)
{
  const size_t a[] = { 2, 3 }, b[] = { 4, 3 }, c[] = { 3, 5 };
  const size_t d[] = { 2, 3, 4 };
  GfBroadcast bc;
  GfError error = { 0 };

  g_assert_cmpint (gf_broadcast_init (&bc, 2, a, 2, b, &error),
                   ==, GF_ERR_SHAPE);
  g_assert_cmpint (error.status, ==, GF_ERR_SHAPE);
  g_assert_nonnull (strstr (error.message, "(2,3)"));
  g_assert_nonnull (strstr (error.message, "(4,3)"));

  /* Right-aligned: (2,3,4) against (3,5) compares 4 with 5, not 2 with 3. */
  memset (&error, 0, sizeof error);
  g_assert_cmpint (gf_broadcast_init (&bc, 3, d, 2, c, &error),
                   ==, GF_ERR_SHAPE);
  g_assert_nonnull (strstr (error.message, "(2,3,4)"));
  g_assert_nonnull (strstr (error.message, "(3,5)"));

  /* The error report is optional. */
  g_assert_cmpint (gf_broadcast_init (&bc, 2, a, 2, b, NULL),
                   ==, GF_ERR_SHAPE);
}

static void
test_broadcast_too_many_dims (void)
{
  const size_t a[MAX_DIMS + 1] = { 1, 1, 1, 1, 1, 1, 2 }, b[] = { 2 };
  GfBroadcast bc;
  GfError error = { 0 };

  g_assert_cmpint (gf_broadcast_init (&bc, MAX_DIMS + 1, a, 1, b, &error),
                   ==, GF_ERR_UNSUPPORTED);
  g_assert_cmpstr (error.message, !=, "");
}

static void
test_broadcast_count_overflow (void)
{
  const size_t a[] = { SIZE_MAX / 2, 1 }, b[] = { 4 };
  GfBroadcast bc;

  g_assert_cmpint (gf_broadcast_init (&bc, 2, a, 1, b, NULL),
                   ==, GF_ERR_NOMEM);
}

/* A zero-sized result: nothing to compute, yet db is still written (0). */
static void
test_broadcast_empty (void)
{
  const size_t a[] = { 0, 3 }, b[] = { 1, 3 };
  gf_real db[3] = { NAN, NAN, NAN }, y[1] = { 0 }, dy[1] = { 0 };
  gf_real av[1] = { 0 }, bv[3] = { 1, 2, 3 };
  const gf_real zeros[3] = { 0, 0, 0 };
  GfBroadcast bc;

  g_assert_cmpint (gf_broadcast_init (&bc, 2, a, 2, b, NULL), ==, GF_OK);
  g_assert_cmpuint (bc.y_count, ==, 0);
  gf_add_forward (&bc, av, bv, y);
  gf_mul_backward (&bc, av, bv, dy, NULL, db);
  gf_test_assert_close ("db", db, zeros, 3, 0, 0);
}

/* Concat ------------------------------------------------------------ */

#define CONCAT_INPUTS 3

typedef struct
{
  const char *name;
  size_t outer, inner;
  size_t channels[CONCAT_INPUTS];
} ConcatCase;

static const ConcatCase concat_cases[] = {
  { "nchw", 2, 5, { 1, 3, 2 } },
  { "single-image", 1, 7, { 2, 1, 4 } },
  { "inner-1", 3, 1, { 3, 2, 1 } },
  { "empty-input", 2, 4, { 2, 0, 3 } },
};

typedef struct
{
  const ConcatCase *c;
  size_t total;                 /* sum of channels */
  gf_real *xs[CONCAT_INPUTS], *dxs[CONCAT_INPUTS];
  gf_real *y, *r;
} ConcatFixture;

static size_t
concat_size (const ConcatFixture *f, size_t i)
{
  return f->c->outer * f->c->channels[i] * f->c->inner;
}

static void
concat_init (ConcatFixture *f, const ConcatCase *c)
{
  size_t y_count;
  GfRng rng;

  f->c = c;
  f->total = 0;
  gf_rng_seed (&rng, 41);
  for (size_t i = 0; i < CONCAT_INPUTS; i++)
    {
      f->total += c->channels[i];
      f->xs[i] = gf_test_new (concat_size (f, i));
      f->dxs[i] = gf_test_new (concat_size (f, i));
      gf_test_fill_uniform (&rng, f->xs[i], concat_size (f, i), -1, 1);
    }
  y_count = c->outer * f->total * c->inner;
  f->y = gf_test_new (y_count);
  f->r = gf_test_new (y_count);
  gf_test_fill_uniform (&rng, f->r, y_count, -1, 1);
}

static void
concat_clear (ConcatFixture *f)
{
  for (size_t i = 0; i < CONCAT_INPUTS; i++)
    {
      g_free (f->xs[i]);
      g_free (f->dxs[i]);
    }
  g_free (f->y);
  g_free (f->r);
}

static void
concat_run (ConcatFixture *f)
{
  gf_concat_forward (f->c->outer, f->c->inner, CONCAT_INPUTS,
                     f->c->channels, (const gf_real *const *) f->xs, f->y);
}

/* Where element (o, ch, k) of input @i sits in y. */
static size_t
concat_y_index (const ConcatFixture *f, size_t i, size_t o, size_t ch,
                size_t k)
{
  size_t first = 0;

  for (size_t j = 0; j < i; j++)
    first += f->c->channels[j];
  return (o * f->total + first + ch) * f->c->inner + k;
}

static void
test_concat_forward (gconstpointer data)
{
  const ConcatCase *c = data;
  ConcatFixture f;

  concat_init (&f, c);
  concat_run (&f);
  for (size_t i = 0; i < CONCAT_INPUTS; i++)
    for (size_t o = 0; o < c->outer; o++)
      for (size_t ch = 0; ch < c->channels[i]; ch++)
        for (size_t k = 0; k < c->inner; k++)
          {
            size_t xi = (o * c->channels[i] + ch) * c->inner + k;

            g_assert_cmpfloat (f.y[concat_y_index (&f, i, o, ch, k)], ==,
                               f.xs[i][xi]);
          }
  concat_clear (&f);
}

static void
test_concat_backward (gconstpointer data)
{
  const ConcatCase *c = data;
  gf_real *skipped;
  ConcatFixture f;

  concat_init (&f, c);
  for (size_t i = 0; i < CONCAT_INPUTS; i++)
    fill_nan (f.dxs[i], concat_size (&f, i));
  /* The middle input's gradient is not wanted. */
  skipped = f.dxs[1];
  f.dxs[1] = NULL;
  gf_concat_backward (c->outer, c->inner, CONCAT_INPUTS, c->channels, f.r,
                      f.dxs);
  f.dxs[1] = skipped;
  for (size_t i = 0; i < CONCAT_INPUTS; i += 2)
    for (size_t o = 0; o < c->outer; o++)
      for (size_t ch = 0; ch < c->channels[i]; ch++)
        for (size_t k = 0; k < c->inner; k++)
          {
            size_t xi = (o * c->channels[i] + ch) * c->inner + k;

            g_assert_cmpfloat (f.dxs[i][xi], ==,
                               f.r[concat_y_index (&f, i, o, ch, k)]);
          }
  for (size_t j = 0; j < concat_size (&f, 1); j++)
    g_assert_true (isnan (f.dxs[1][j]));
  concat_clear (&f);
}

static double
concat_loss (void *user_data)
{
  ConcatFixture *f = user_data;

  concat_run (f);
  return gf_test_dot (f->r, f->y, f->c->outer * f->total * f->c->inner);
}

static void
test_concat_gradcheck (gconstpointer data)
{
  const ConcatCase *c = data;
  ConcatFixture f;

  concat_init (&f, c);
  gf_concat_backward (c->outer, c->inner, CONCAT_INPUTS, c->channels, f.r,
                      f.dxs);
  for (size_t i = 0; i < CONCAT_INPUTS; i++)
    gf_test_gradcheck ("dx", f.xs[i], concat_size (&f, i), f.dxs[i],
                       concat_loss, &f, NULL);
  concat_clear (&f);
}

static void
add_data_tests (const char *prefix, const char *name, gconstpointer data,
                const char *const *suffixes, const GTestDataFunc *funcs,
                size_t count)
{
  for (size_t k = 0; k < count; k++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s/%s", prefix,
                                               suffixes[k], name);
      g_test_add_data_func (path, data, funcs[k]);
    }
}

int
main (int argc, char **argv)
{
  static const char *const op_suffixes[] = {
    "add/forward", "add/backward", "add/gradcheck",
    "mul/forward", "mul/backward", "mul/gradcheck",
  };
  static const GTestDataFunc op_funcs[] = {
    test_add_forward, test_add_backward, test_add_gradcheck,
    test_mul_forward, test_mul_backward, test_mul_gradcheck,
  };
  static const char *const concat_suffixes[] = {
    "forward", "backward", "gradcheck",
  };
  static const GTestDataFunc concat_funcs[] = {
    test_concat_forward, test_concat_backward, test_concat_gradcheck,
  };

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/add/forward/activation-blocks",
                   test_add_activation_blocks);
  for (size_t i = 0; i < G_N_ELEMENTS (shape_cases); i++)
    add_data_tests ("/engine/elementwise", shape_cases[i].name,
                    &shape_cases[i], op_suffixes, op_funcs,
                    G_N_ELEMENTS (op_funcs));
  for (size_t i = 0; i < G_N_ELEMENTS (concat_cases); i++)
    add_data_tests ("/engine/elementwise/concat", concat_cases[i].name,
                    &concat_cases[i], concat_suffixes, concat_funcs,
                    G_N_ELEMENTS (concat_funcs));
  g_test_add_func ("/engine/elementwise/broadcast/incompatible",
                   test_broadcast_incompatible);
  g_test_add_func ("/engine/elementwise/broadcast/too-many-dims",
                   test_broadcast_too_many_dims);
  g_test_add_func ("/engine/elementwise/broadcast/count-overflow",
                   test_broadcast_count_overflow);
  g_test_add_func ("/engine/elementwise/broadcast/empty",
                   test_broadcast_empty);
  return g_test_run ();
}
