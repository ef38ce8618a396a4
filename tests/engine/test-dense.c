/* test-dense.c: Gemm's BLAS path against the naive reference over a sweep
 * of shapes, transposes, C broadcasts and scalings; its gradients against
 * central differences; the written/accumulated contract of backward; and
 * the shapes gf_gemm_init refuses.
 */
#include <math.h>
#include <string.h>

#include "ops/gf-dense.h"
#include "gf-test-util.h"

/* The reference sums in double, BLAS in gf_real: allow a few ulps of a
 * K-term dot product of values in [−1, 1]. */
#ifdef GF_REAL_DOUBLE
#define ULP_SLACK 1e-14
#else
#define ULP_SLACK 1e-6
#endif

typedef enum
{
  C_NONE,
  C_ROW,      /* (1, N), also how a 1-D C of length N is passed */
  C_COL,      /* (M, 1) */
  C_FULL,     /* (M, N) */
  C_SCALAR,   /* (1, 1) */
  N_C_FORMS,
} CForm;

static const char *const c_form_names[N_C_FORMS] = {
  "none", "row", "col", "full", "scalar",
};

typedef struct
{
  size_t m, n, k;
} Shape;

/* Odd sizes and degenerate 1s, so that no stride mix-up hides behind a
 * square or even shape. */
static const Shape forward_shapes[] = {
  { 1, 1, 1 }, { 5, 7, 3 }, { 13, 1, 9 }, { 2, 17, 33 }, { 64, 31, 65 },
};
static const Shape gradcheck_shapes[] = {
  { 1, 1, 1 }, { 3, 4, 5 }, { 6, 2, 7 }, { 1, 5, 3 },
};

typedef struct
{
  double alpha, beta;
  const char *name;
} Scaling;

static const Scaling scalings[] = {
  { 1.0, 1.0, "unit" },
  { -0.75, 1.5, "scaled" },
};

typedef struct
{
  GfGemm gemm;
  uint64_t seed;
} GemmCase;

static GfGemm
make_gemm (const Shape *shape, bool trans_a, bool trans_b, CForm form,
           const Scaling *scaling)
{
  GfGemm g = {
    .m = shape->m, .n = shape->n, .k = shape->k,
    .trans_a = trans_a, .trans_b = trans_b,
    .alpha = scaling->alpha, .beta = scaling->beta,
  };

  g.c_rows = form == C_NONE ? 0 : form == C_COL || form == C_FULL ? g.m : 1;
  g.c_cols = form == C_NONE ? 0 : form == C_ROW || form == C_FULL ? g.n : 1;
  return g;
}

/* The buffers of one Gemm with random inputs and a random projection r
 * (M, N) that makes the loss Σ r·y, so that dL/dy = r. */
typedef struct
{
  const GfGemm *gemm;
  size_t na, nb, nc, ny;
  gf_real *a, *b, *c, *y, *r;
} GemmProblem;

static void
gemm_problem_init (GemmProblem *p, const GfGemm *gemm, uint64_t seed)
{
  GfRng rng;

  gf_rng_seed (&rng, seed);
  p->gemm = gemm;
  p->na = gemm->m * gemm->k;
  p->nb = gemm->k * gemm->n;
  p->nc = gemm->c_rows * gemm->c_cols;
  p->ny = gemm->m * gemm->n;
  p->a = gf_test_new (p->na);
  p->b = gf_test_new (p->nb);
  p->c = p->nc > 0 ? gf_test_new (p->nc) : NULL;
  p->y = gf_test_new (p->ny);
  p->r = gf_test_new (p->ny);
  gf_test_fill_uniform (&rng, p->a, p->na, -1.0, 1.0);
  gf_test_fill_uniform (&rng, p->b, p->nb, -1.0, 1.0);
  if (p->c != NULL)
    gf_test_fill_uniform (&rng, p->c, p->nc, -1.0, 1.0);
  gf_test_fill_uniform (&rng, p->r, p->ny, -1.0, 1.0);
}

static void
gemm_problem_free (GemmProblem *p)
{
  g_free (p->a);
  g_free (p->b);
  g_free (p->c);
  g_free (p->y);
  g_free (p->r);
}

static double
gemm_problem_loss (void *user_data)
{
  GemmProblem *p = user_data;

  gf_gemm_forward (p->gemm, p->a, p->b, p->c, p->y);
  return gf_test_dot (p->r, p->y, p->ny);
}

static void
test_gemm_forward_reference (gconstpointer data)
{
  const GemmCase *gc = data;
  GemmProblem p;
  g_autofree gf_real *want = NULL;
  double slack = ULP_SLACK * (double) gc->gemm.k;

  g_assert_cmpint (gf_gemm_init (&gc->gemm, NULL), ==, GF_OK);
  gemm_problem_init (&p, &gc->gemm, gc->seed);
  want = gf_test_new (p.ny);
  /* Garbage in y must not leak into the result: forward writes it. */
  for (size_t i = 0; i < p.ny; i++)
    p.y[i] = (gf_real) NAN;
  gf_gemm_forward (&gc->gemm, p.a, p.b, p.c, p.y);
  gf_gemm_forward_reference (&gc->gemm, p.a, p.b, p.c, want);
  gf_test_assert_close ("y", p.y, want, p.ny, slack, slack);
  gemm_problem_free (&p);
}

static void
test_gemm_backward_gradcheck (gconstpointer data)
{
  const GemmCase *gc = data;
  GemmProblem p;
  g_autofree gf_real *da = NULL, *db = NULL, *dc = NULL;

  gemm_problem_init (&p, &gc->gemm, gc->seed);
  da = gf_test_new (p.na);
  db = gf_test_new (p.nb);
  dc = gf_test_new (p.nc);
  gf_gemm_backward (&gc->gemm, p.a, p.b, p.r, da, db, dc);
  gf_test_gradcheck ("da", p.a, p.na, da, gemm_problem_loss, &p, NULL);
  gf_test_gradcheck ("db", p.b, p.nb, db, gemm_problem_loss, &p, NULL);
  if (p.c != NULL)
    gf_test_gradcheck ("dc", p.c, p.nc, dc, gemm_problem_loss, &p, NULL);
  gemm_problem_free (&p);
}

static void
add_case (const char *kind, const Shape *shape, int trans, CForm form,
          const Scaling *scaling, uint64_t seed, GTestDataFunc func)
{
  static const char *const trans_names[] = { "nn", "nt", "tn", "tt" };
  GemmCase *gc = g_new0 (GemmCase, 1);
  g_autofree char *path = NULL;

  gc->gemm = make_gemm (shape, trans & 2, trans & 1, form, scaling);
  gc->seed = seed;
  path = g_strdup_printf ("/engine/gemm/%s/m%zun%zuk%zu-%s-%s-%s", kind,
                          shape->m, shape->n, shape->k, trans_names[trans],
                          c_form_names[form], scaling->name);
  g_test_add_data_func_full (path, gc, func, g_free);
}

/* Every shape × trans_a, trans_b × C form × scaling. */
static void
add_sweep (const char *kind, const Shape *shapes, size_t n_shapes,
           GTestDataFunc func)
{
  uint64_t seed = 1;

  for (size_t s = 0; s < n_shapes; s++)
    for (int trans = 0; trans < 4; trans++)
      for (int form = 0; form < N_C_FORMS; form++)
        for (size_t sc = 0; sc < G_N_ELEMENTS (scalings); sc++)
          add_case (kind, &shapes[s], trans, (CForm) form, &scalings[sc],
                    seed++, func);
}

/* A product small enough to check by hand:
 * [1 2 3; 4 5 6]·[7 8; 9 10; 11 12] = [58 64; 139 154]. */
static void
test_gemm_forward_known_values (void)
{
  const gf_real a[6] = { 1, 2, 3, 4, 5, 6 };
  const gf_real b[6] = { 7, 8, 9, 10, 11, 12 };
  const gf_real c[2] = { 1, -2 };
  /* 2·AB + 0.5·C broadcast over rows. */
  const gf_real want[4] = { 116.5, 127, 278.5, 307 };
  const GfGemm gemm = {
    .m = 2, .n = 2, .k = 3, .alpha = 2.0, .beta = 0.5,
    .c_rows = 1, .c_cols = 2,
  };
  gf_real y[4];

  g_assert_cmpint (gf_gemm_init (&gemm, NULL), ==, GF_OK);
  gf_gemm_forward (&gemm, a, b, c, y);
  gf_test_assert_close ("blas", y, want, 4, 0.0, 0.0);
  gf_gemm_forward_reference (&gemm, a, b, c, y);
  gf_test_assert_close ("reference", y, want, 4, 0.0, 0.0);
}

static void
fill_constant (gf_real *x, size_t n, double value)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (gf_real) value;
}

/* da is written whatever it held; db and dc add onto what they hold;
 * a NULL output is skipped without changing the others. */
static void
test_gemm_backward_accumulates (void)
{
  const Shape shape = { 4, 3, 5 };
  const GfGemm gemm = make_gemm (&shape, true, true, C_ROW, &scalings[1]);
  GemmProblem p;
  g_autofree gf_real *da = NULL, *db = NULL, *dc = NULL;
  g_autofree gf_real *da1 = NULL, *db1 = NULL, *dc1 = NULL, *want = NULL;
  const double prior = 0.5;

  gemm_problem_init (&p, &gemm, 77);
  da = gf_test_new (p.na);
  db = gf_test_new (p.nb);
  dc = gf_test_new (p.nc);
  da1 = gf_test_new (p.na);
  db1 = gf_test_new (p.nb);
  dc1 = gf_test_new (p.nc);
  want = gf_test_new (MAX (p.nb, p.nc));
  /* One pass into zeroed buffers: the plain gradients. */
  gf_gemm_backward (&gemm, p.a, p.b, p.r, da1, db1, dc1);

  fill_constant (da, p.na, NAN);
  fill_constant (db, p.nb, prior);
  fill_constant (dc, p.nc, prior);
  gf_gemm_backward (&gemm, p.a, p.b, p.r, da, db, dc);
  gf_gemm_backward (&gemm, p.a, p.b, p.r, da, NULL, NULL);
  gf_gemm_backward (&gemm, p.a, p.b, p.r, NULL, db, NULL);
  gf_gemm_backward (&gemm, p.a, p.b, p.r, NULL, NULL, dc);
  gf_gemm_backward (&gemm, p.a, p.b, p.r, NULL, NULL, NULL);

  gf_test_assert_close ("da written", da, da1, p.na, ULP_SLACK, ULP_SLACK);
  for (size_t i = 0; i < p.nb; i++)
    want[i] = (gf_real) (prior + 2.0 * db1[i]);
  gf_test_assert_close ("db accumulated", db, want, p.nb, ULP_SLACK,
                        ULP_SLACK);
  for (size_t i = 0; i < p.nc; i++)
    want[i] = (gf_real) (prior + 2.0 * dc1[i]);
  gf_test_assert_close ("dc accumulated", dc, want, p.nc, ULP_SLACK,
                        ULP_SLACK);
  gemm_problem_free (&p);
}

/* dc of a scalar C is beta·Σ dy over all of Y; checked exactly on a
 * constant dy. */
static void
test_gemm_backward_scalar_bias_sum (void)
{
  const Shape shape = { 7, 9, 2 };
  const GfGemm gemm = make_gemm (&shape, false, false, C_SCALAR,
                                 &scalings[1]);
  gf_real a[14] = { 0 }, b[18] = { 0 }, dy[63], dc[1] = { 1.0 };

  fill_constant (dy, G_N_ELEMENTS (dy), 0.25);
  gf_gemm_backward (&gemm, a, b, dy, NULL, NULL, dc);
  g_assert_cmpfloat (dc[0], ==, 1.0 + 1.5 * 63 * 0.25);
}

static void
assert_rejected (const GfGemm *gemm, GfStatus want)
{
  GfError error = { 0 };

  g_assert_cmpint (gf_gemm_init (gemm, &error), ==, want);
  g_assert_cmpint (error.status, ==, want);
  g_assert_cmpuint (strlen (error.message), >, 0);
  g_assert_null (strchr (error.message, '\n'));
  /* The error is optional. */
  g_assert_cmpint (gf_gemm_init (gemm, NULL), ==, want);
}

/* Shapes gf_gemm_init must refuse, against Y (3, 4) = A' (3, 2) B' (2, 4). */
static void
test_gemm_init_rejects (void)
{
  static const struct
  {
    size_t m, n, k, c_rows, c_cols;
  } bad[] = {
    { 0, 4, 2, 0, 0 },
    { 3, 0, 2, 0, 0 },
    { 3, 4, 0, 0, 0 },
    { 3, 4, 2, 2, 4 },   /* rows neither 1 nor M */
    { 3, 4, 2, 3, 3 },   /* cols neither 1 nor N */
    { 3, 4, 2, 4, 3 },   /* C transposed */
    { 3, 4, 2, 0, 4 },   /* half absent */
    { 3, 4, 2, 1, 0 },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const GfGemm g = {
        .m = bad[i].m, .n = bad[i].n, .k = bad[i].k,
        .alpha = 1.0, .beta = 1.0,
        .c_rows = bad[i].c_rows, .c_cols = bad[i].c_cols,
      };

      assert_rejected (&g, GF_ERR_SHAPE);
    }
}

static void
test_gemm_init_accepts (void)
{
  const Shape shape = { 3, 4, 2 };

  for (int form = 0; form < N_C_FORMS; form++)
    {
      GfGemm g = make_gemm (&shape, false, true, (CForm) form, &scalings[0]);

      g_assert_cmpint (gf_gemm_init (&g, NULL), ==, GF_OK);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/gemm/forward/known-values",
                   test_gemm_forward_known_values);
  g_test_add_func ("/engine/gemm/backward/accumulates",
                   test_gemm_backward_accumulates);
  g_test_add_func ("/engine/gemm/backward/scalar-bias-sum",
                   test_gemm_backward_scalar_bias_sum);
  g_test_add_func ("/engine/gemm/init/rejects", test_gemm_init_rejects);
  g_test_add_func ("/engine/gemm/init/accepts", test_gemm_init_accepts);
  add_sweep ("forward/reference", forward_shapes,
             G_N_ELEMENTS (forward_shapes), test_gemm_forward_reference);
  add_sweep ("backward/gradcheck", gradcheck_shapes,
             G_N_ELEMENTS (gradcheck_shapes), test_gemm_backward_gradcheck);
  return g_test_run ();
}
