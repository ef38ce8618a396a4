/* test-transpose.c: axis permutations against a naive index-mapping
 * reference — named layouts (NCHW ⇄ NHWC, across tile edges), axes of
 * size 1, and every permutation of 4, 5 and 6 axes — backward as the
 * inverse permutation and by central differences, and the checks of
 * gf_transpose_check. */
#include <string.h>

#include "ops/gf-transpose.h"
#include "gf-test-util.h"

#define MAX_DIMS GF_TRANSPOSE_MAX_DIMS

typedef struct
{
  const char *name;
  GfTranspose t;
} TransposeCase;

static const TransposeCase transpose_cases[] = {
  { "nchw-to-nhwc", { 4, { 2, 3, 5, 7 }, { 0, 2, 3, 1 } } },
  { "nhwc-to-nchw", { 4, { 2, 5, 7, 3 }, { 0, 3, 1, 2 } } },
  /* More than one tile on both sides, with ragged edges. */
  { "nchw-to-nhwc-tiles", { 4, { 2, 37, 9, 11 }, { 0, 2, 3, 1 } } },
  { "nhwc-to-nchw-tiles", { 4, { 1, 9, 11, 37 }, { 0, 3, 1, 2 } } },
  { "identity", { 3, { 2, 3, 4 }, { 0, 1, 2 } } },
  { "swap-hw", { 4, { 2, 3, 4, 5 }, { 0, 1, 3, 2 } } },
  { "keep-inner-axis", { 4, { 2, 3, 4, 5 }, { 0, 2, 1, 3 } } },
  { "matrix", { 2, { 33, 65 }, { 1, 0 } } },
  { "reverse-5d", { 5, { 2, 3, 4, 5, 2 }, { 0, 4, 3, 2, 1 } } },
  { "mixed-6d", { 6, { 2, 1, 3, 2, 4, 3 }, { 0, 3, 5, 1, 4, 2 } } },
  { "size-one-axes", { 5, { 1, 1, 5, 1, 4 }, { 0, 4, 2, 3, 1 } } },
  { "inner-size-one", { 4, { 2, 3, 4, 1 }, { 0, 3, 2, 1 } } },
  { "single-element", { 3, { 1, 1, 1 }, { 0, 2, 1 } } },
  { "one-axis", { 1, { 7 }, { 0 } } },
  { "batch-last", { 3, { 3, 4, 5 }, { 1, 2, 0 } } },
};

static size_t
count_of (const GfTranspose *t)
{
  size_t count = 1;

  for (size_t i = 0; i < t->ndim; i++)
    count *= t->dims[i];
  return count;
}

/* Walks x in order and sends each element where the permutation puts it:
 * with x's index (i_0 … i_{n−1}), y's index is (i_perm[0] … ). */
static void
transpose_reference (const GfTranspose *t, const gf_real *x, gf_real *y)
{
  size_t dims_y[MAX_DIMS], y_stride[MAX_DIMS], index[MAX_DIMS] = { 0 };
  size_t count = count_of (t), stride = 1;

  gf_transpose_out_dims (t, dims_y);
  for (size_t i = t->ndim; i-- > 0;)
    {
      y_stride[i] = stride;
      stride *= dims_y[i];
    }
  for (size_t e = 0; e < count; e++)
    {
      size_t rest = e, offset = 0;
      for (size_t a = t->ndim; a-- > 0;)
        {
          index[a] = rest % t->dims[a];
          rest /= t->dims[a];
        }
      for (size_t i = 0; i < t->ndim; i++)
        offset += index[t->perm[i]] * y_stride[i];
      y[offset] = x[e];
    }
}

/* Forward against the reference, exactly; y starts as garbage so that
 * every element must be written. */
static void
check_forward (const char *what, const GfTranspose *t, GfRng *rng)
{
  size_t count = count_of (t);
  g_autofree gf_real *x = gf_test_new (count);
  g_autofree gf_real *y = gf_test_new (count);
  g_autofree gf_real *want = gf_test_new (count);

  g_assert_cmpint (gf_transpose_check (t, NULL), ==, GF_OK);
  for (size_t i = 0; i < count; i++)
    x[i] = (gf_real) i;
  gf_test_fill_uniform (rng, y, count, -2, -1);
  gf_transpose_forward (t, x, y);
  transpose_reference (t, x, want);
  gf_test_assert_close (what, y, want, count, 0, 0);
}

static void
test_forward_reference (gconstpointer data)
{
  const TransposeCase *c = data;
  GfRng rng;

  gf_rng_seed (&rng, 53);
  check_forward (c->name, &c->t, &rng);
}

/* Heap's algorithm over perm[0 .. k), checking each permutation. */
static void
sweep_permutations (GfTranspose *t, size_t k, GfRng *rng, size_t *visited)
{
  if (k <= 1)
    {
      g_autofree char *what = NULL;
      char digits[MAX_DIMS + 1] = { 0 };
      for (size_t i = 0; i < t->ndim; i++)
        digits[i] = (char) ('0' + t->perm[i]);
      what = g_strdup_printf ("perm %s", digits);
      check_forward (what, t, rng);
      (*visited)++;
      return;
    }
  for (size_t i = 0; i < k; i++)
    {
      size_t j = k % 2 == 0 ? i : 0, swap;
      sweep_permutations (t, k - 1, rng, visited);
      if (i + 1 == k)
        break;
      swap = t->perm[j];
      t->perm[j] = t->perm[k - 1];
      t->perm[k - 1] = swap;
    }
}

/* Every permutation of every axis (the batch's included), on shapes with
 * distinct sides and one axis of size 1. */
static void
test_forward_all_permutations (void)
{
  static const GfTranspose shapes[] = {
    { 4, { 2, 3, 4, 5 }, { 0 } },
    { 5, { 2, 3, 1, 4, 3 }, { 0 } },
    { 6, { 2, 1, 3, 2, 2, 3 }, { 0 } },
  };
  static const size_t factorial[] = { 24, 120, 720 };
  GfRng rng;

  gf_rng_seed (&rng, 59);
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      GfTranspose t = shapes[s];
      size_t visited = 0;
      for (size_t i = 0; i < t.ndim; i++)
        t.perm[i] = i;
      sweep_permutations (&t, t.ndim, &rng, &visited);
      g_assert_cmpuint (visited, ==, factorial[s]);
    }
}

/* Backward is the inverse permutation: dx[x index] = dy[y index]. */
static void
test_backward_inverse (gconstpointer data)
{
  const TransposeCase *c = data;
  size_t count = count_of (&c->t);
  g_autofree gf_real *x = gf_test_new (count);
  g_autofree gf_real *y = gf_test_new (count);
  g_autofree gf_real *dx = gf_test_new (count);

  for (size_t i = 0; i < count; i++)
    x[i] = (gf_real) i;
  transpose_reference (&c->t, x, y);
  for (size_t i = 0; i < count; i++)
    dx[i] = -1;
  gf_transpose_backward (&c->t, y, dx);
  gf_test_assert_close (c->name, dx, x, count, 0, 0);
}

typedef struct
{
  const GfTranspose *t;
  gf_real *x, *y, *r;
} TransposeLoss;

static double
transpose_loss (void *user_data)
{
  TransposeLoss *l = user_data;

  gf_transpose_forward (l->t, l->x, l->y);
  return gf_test_dot (l->r, l->y, count_of (l->t));
}

static void
test_backward_gradcheck (gconstpointer data)
{
  const TransposeCase *c = data;
  size_t count = count_of (&c->t);
  g_autofree gf_real *x = gf_test_new (count);
  g_autofree gf_real *y = gf_test_new (count);
  g_autofree gf_real *r = gf_test_new (count);
  g_autofree gf_real *dx = gf_test_new (count);
  TransposeLoss loss = { &c->t, x, y, r };
  GfRng rng;

  gf_rng_seed (&rng, 61);
  gf_test_fill_uniform (&rng, x, count, -2, 2);
  gf_test_fill_uniform (&rng, r, count, -1, 1);
  gf_transpose_backward (&c->t, r, dx);
  gf_test_gradcheck (c->name, x, count, dx, transpose_loss, &loss, NULL);
}

/* NCHW → NHWC → NCHW gives back the input, bit for bit. */
static void
test_round_trip (void)
{
  const GfTranspose to_nhwc = { 4, { 3, 19, 13, 6 }, { 0, 2, 3, 1 } };
  GfTranspose to_nchw = { 4, { 0 }, { 0, 3, 1, 2 } };
  size_t count = count_of (&to_nhwc);
  g_autofree gf_real *x = gf_test_new (count);
  g_autofree gf_real *y = gf_test_new (count);
  g_autofree gf_real *back = gf_test_new (count);
  GfRng rng;

  gf_rng_seed (&rng, 67);
  gf_test_fill_uniform (&rng, x, count, -1, 1);
  gf_transpose_out_dims (&to_nhwc, to_nchw.dims);
  g_assert_cmpuint (to_nchw.dims[3], ==, 19);
  gf_transpose_forward (&to_nhwc, x, y);
  gf_transpose_forward (&to_nchw, y, back);
  gf_test_assert_close ("round trip", back, x, count, 0, 0);
}

static void
expect_refusal (const GfTranspose *t, const char *fragment)
{
  GfError error = { 0 };

  g_assert_cmpint (gf_transpose_check (t, &error), ==, GF_ERR_INVALID);
  if (strstr (error.message, fragment) == NULL)
    g_test_fail_printf ("message '%s' lacks '%s'", error.message, fragment);
}

static void
test_check_refusals (void)
{
  const GfTranspose repeated = { 3, { 2, 3, 4 }, { 0, 1, 1 } };
  const GfTranspose out_of_range = { 3, { 2, 3, 4 }, { 0, 3, 1 } };
  const GfTranspose no_axes = { 0, { 0 }, { 0 } };
  const GfTranspose too_many = { MAX_DIMS + 1, { 0 }, { 0 } };

  expect_refusal (&repeated, "permutation");
  expect_refusal (&out_of_range, "permutation");
  expect_refusal (&no_axes, "supported");
  expect_refusal (&too_many, "supported");
}

static void
add_case_tests (const TransposeCase *c)
{
  static const struct
  {
    const char *suffix;
    GTestDataFunc func;
  } kinds[] = {
    { "forward/reference", test_forward_reference },
    { "backward/inverse", test_backward_inverse },
    { "backward/gradcheck", test_backward_gradcheck },
  };

  for (size_t k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/transpose/%s/%s",
                                               kinds[k].suffix, c->name);
      g_test_add_data_func (path, c, kinds[k].func);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (transpose_cases); i++)
    add_case_tests (&transpose_cases[i]);
  g_test_add_func ("/engine/transpose/forward/all-permutations",
                   test_forward_all_permutations);
  g_test_add_func ("/engine/transpose/forward/round-trip", test_round_trip);
  g_test_add_func ("/engine/transpose/check/refusals", test_check_refusals);
  return g_test_run ();
}
