/* test-pad.c: constant padding of H and W against a naive reference over
 * a sweep of pads (none, symmetric, one-sided, asymmetric, wider than a
 * vector), backward as an exact crop and by central differences, and the
 * attribute checks of gf_pad2d_init. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ops/gf-pad.h"
#include "gf-test-util.h"

typedef struct
{
  const char *name;
  GfPad2d pad;   /* out_h and out_w are filled in by gf_pad2d_init */
} PadCase;

#define PAD(n, c, h, w, t, l, b, r, v)                                  \
  { .batch = n, .channels = c, .in_h = h, .in_w = w, .top = t,          \
    .left = l, .bottom = b, .right = r, .value = v }

static const PadCase pad_cases[] = {
  { "none", PAD (2, 3, 4, 5, 0, 0, 0, 0, 0) },
  { "sym-1", PAD (2, 3, 5, 5, 1, 1, 1, 1, 0) },
  { "asym-value", PAD (1, 2, 4, 7, 2, 0, 1, 3, -1.5) },
  { "top-only", PAD (2, 1, 3, 3, 3, 0, 0, 0, 0.25) },
  { "bottom-only", PAD (1, 2, 3, 4, 0, 0, 2, 0, 0) },
  { "left-right", PAD (1, 4, 1, 6, 0, 2, 0, 5, 7) },
  { "wide-row", PAD (1, 2, 2, 70, 1, 3, 2, 0, 0) },
  { "single-pixel", PAD (3, 2, 1, 1, 1, 1, 1, 1, 2) },
  { "tf-same-stride2", PAD (2, 3, 8, 8, 0, 0, 1, 1, 0) },
};

static GfPad2d
case_pad (const PadCase *pc)
{
  GfPad2d pad = pc->pad;
  GfError error = { 0 };

  if (gf_pad2d_init (&pad, &error) != GF_OK)
    g_error ("%s: %s", pc->name, error.message);
  return pad;
}

static size_t
in_count (const GfPad2d *p)
{
  return p->batch * p->channels * p->in_h * p->in_w;
}

static size_t
out_count (const GfPad2d *p)
{
  return p->batch * p->channels * p->out_h * p->out_w;
}

/* y (N, C, OH, OW) element by element: the input where it lands, the
 * value elsewhere. */
static void
pad_reference (const GfPad2d *p, const gf_real *x, gf_real *y)
{
  for (size_t plane = 0; plane < p->batch * p->channels; plane++)
    for (size_t r = 0; r < p->out_h; r++)
      for (size_t q = 0; q < p->out_w; q++)
        {
          gf_real *out = &y[(plane * p->out_h + r) * p->out_w + q];
          bool inside = r >= p->top && r < p->top + p->in_h
            && q >= p->left && q < p->left + p->in_w;
          *out = inside ? x[(plane * p->in_h + r - p->top) * p->in_w
                            + q - p->left]
                        : (gf_real) p->value;
        }
}

/* dx (N, C, H, W): the element of dy each input element landed on. */
static void
crop_reference (const GfPad2d *p, const gf_real *dy, gf_real *dx)
{
  for (size_t plane = 0; plane < p->batch * p->channels; plane++)
    for (size_t r = 0; r < p->in_h; r++)
      for (size_t q = 0; q < p->in_w; q++)
        dx[(plane * p->in_h + r) * p->in_w + q]
          = dy[(plane * p->out_h + r + p->top) * p->out_w + q + p->left];
}

static void
test_forward_reference (gconstpointer data)
{
  const PadCase *pc = data;
  GfPad2d pad = case_pad (pc);
  g_autofree gf_real *x = gf_test_new (in_count (&pad));
  g_autofree gf_real *y = gf_test_new (out_count (&pad));
  g_autofree gf_real *want = gf_test_new (out_count (&pad));
  GfRng rng;

  g_assert_cmpuint (pad.out_h, ==, pad.in_h + pad.top + pad.bottom);
  g_assert_cmpuint (pad.out_w, ==, pad.in_w + pad.left + pad.right);
  gf_rng_seed (&rng, 5);
  gf_test_fill_uniform (&rng, x, in_count (&pad), -3, 3);
  /* Garbage in y first: every output element must be written. */
  gf_test_fill_uniform (&rng, y, out_count (&pad), 100, 200);
  gf_pad2d_forward (&pad, x, y);
  pad_reference (&pad, x, want);
  gf_test_assert_close (pc->name, y, want, out_count (&pad), 0, 0);
}

static void
test_backward_crop (gconstpointer data)
{
  const PadCase *pc = data;
  GfPad2d pad = case_pad (pc);
  g_autofree gf_real *dy = gf_test_new (out_count (&pad));
  g_autofree gf_real *dx = gf_test_new (in_count (&pad));
  g_autofree gf_real *want = gf_test_new (in_count (&pad));
  GfRng rng;

  gf_rng_seed (&rng, 6);
  gf_test_fill_uniform (&rng, dy, out_count (&pad), -1, 1);
  gf_test_fill_uniform (&rng, dx, in_count (&pad), 100, 200);
  gf_pad2d_backward (&pad, dy, dx);
  crop_reference (&pad, dy, want);
  gf_test_assert_close (pc->name, dx, want, in_count (&pad), 0, 0);
}

typedef struct
{
  const GfPad2d *pad;
  gf_real *x, *y, *r;
} PadLoss;

static double
pad_loss (void *user_data)
{
  PadLoss *l = user_data;

  gf_pad2d_forward (l->pad, l->x, l->y);
  return gf_test_dot (l->r, l->y, out_count (l->pad));
}

static void
test_backward_gradcheck (gconstpointer data)
{
  const PadCase *pc = data;
  GfPad2d pad = case_pad (pc);
  g_autofree gf_real *x = gf_test_new (in_count (&pad));
  g_autofree gf_real *y = gf_test_new (out_count (&pad));
  g_autofree gf_real *r = gf_test_new (out_count (&pad));
  g_autofree gf_real *dx = gf_test_new (in_count (&pad));
  PadLoss loss = { &pad, x, y, r };
  GfRng rng;

  gf_rng_seed (&rng, 7);
  gf_test_fill_uniform (&rng, x, in_count (&pad), -2, 2);
  gf_test_fill_uniform (&rng, r, out_count (&pad), -1, 1);
  gf_pad2d_backward (&pad, r, dx);
  gf_test_gradcheck (pc->name, x, in_count (&pad), dx, pad_loss, &loss,
                     NULL);
}

static void
expect_refusal (GfPad2d pad, GfStatus status, const char *fragment)
{
  GfError error = { 0 };

  g_assert_cmpint (gf_pad2d_init (&pad, &error), ==, status);
  g_assert_cmpint (error.status, ==, status);
  if (strstr (error.message, fragment) == NULL)
    g_test_fail_printf ("message '%s' lacks '%s'", error.message, fragment);
}

static void
test_init_refusals (void)
{
  const GfPad2d good = PAD (1, 2, 3, 4, 1, 1, 1, 1, 0);
  GfPad2d pad;

  pad = good;
  pad.left = (size_t) -1;   /* a −1 that went through size_t */
  expect_refusal (pad, GF_ERR_INVALID, "non-negative");
  pad = good;
  pad.bottom = (size_t) -2;
  expect_refusal (pad, GF_ERR_INVALID, "non-negative");
  pad = good;
  pad.in_w = 0;
  expect_refusal (pad, GF_ERR_SHAPE, "empty");
  pad = good;
  pad.in_h = (size_t) PTRDIFF_MAX;
  expect_refusal (pad, GF_ERR_SHAPE, "too large");
}

static void
add_case_tests (const PadCase *pc)
{
  static const struct
  {
    const char *suffix;
    GTestDataFunc func;
  } kinds[] = {
    { "forward/reference", test_forward_reference },
    { "backward/crop", test_backward_crop },
    { "backward/gradcheck", test_backward_gradcheck },
  };

  for (size_t k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/pad/%s/%s",
                                               kinds[k].suffix, pc->name);
      g_test_add_data_func (path, pc, kinds[k].func);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (pad_cases); i++)
    add_case_tests (&pad_cases[i]);
  g_test_add_func ("/engine/pad/init/refusals", test_init_refusals);
  return g_test_run ();
}
