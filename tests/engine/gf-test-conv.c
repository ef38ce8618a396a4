/* gf-test-conv.c: the convolution tests' shared fixture. */
#include "gf-test-conv.h"

#include <cblas.h>
#include <math.h>

void
gf_test_fill_nan (gf_real *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (gf_real) NAN;
}

GfConv2d
gf_test_conv_square (size_t n, size_t c, size_t h, size_t w, size_t m,
                     size_t k, size_t stride, const size_t pad[4],
                     GfConvAlgo algo)
{
  GfConv2d conv = {
    .batch = n, .in_channels = c, .in_h = h, .in_w = w,
    .out_channels = m, .kernel_h = k, .kernel_w = k,
    .stride_h = stride, .stride_w = stride,
    .dilation_h = 1, .dilation_w = 1,
    .pad_top = pad[0], .pad_left = pad[1],
    .pad_bottom = pad[2], .pad_right = pad[3],
    .groups = 1, .algo = algo,
  };

  g_assert_cmpint (gf_conv2d_init (&conv, NULL), ==, GF_OK);
  return conv;
}

void
gf_test_conv_init (GfTestConv *f, const GfConv2d *conv, bool bias,
                   uint64_t seed)
{
  GfError error = { 0 };
  GfRng rng;

  f->conv = *conv;
  if (gf_conv2d_init (&f->conv, &error) != GF_OK)
    g_error ("%s", error.message);
  f->x_size = f->conv.batch * f->conv.in_channels * f->conv.in_h
              * f->conv.in_w;
  f->w_size = f->conv.out_channels * (f->conv.in_channels / f->conv.groups)
              * f->conv.kernel_h * f->conv.kernel_w;
  f->b_size = f->conv.out_channels;
  f->y_size = f->conv.batch * f->conv.out_channels * f->conv.out_h
              * f->conv.out_w;
  f->ws_size = gf_conv2d_workspace_size (&f->conv);
  f->x = gf_test_new (f->x_size);
  f->w = gf_test_new (f->w_size);
  f->b = bias ? gf_test_new (f->b_size) : NULL;
  f->r = gf_test_new (f->y_size);
  f->y = gf_test_new (f->y_size);
  f->workspace = f->ws_size > 0 ? g_new (gf_real, f->ws_size) : NULL;
  gf_rng_seed (&rng, seed);
  gf_test_fill_uniform (&rng, f->x, f->x_size,
                        -GF_TEST_CONV_RANGE, GF_TEST_CONV_RANGE);
  gf_test_fill_uniform (&rng, f->w, f->w_size,
                        -GF_TEST_CONV_RANGE, GF_TEST_CONV_RANGE);
  if (f->b != NULL)
    gf_test_fill_uniform (&rng, f->b, f->b_size,
                          -GF_TEST_CONV_RANGE, GF_TEST_CONV_RANGE);
  gf_test_fill_uniform (&rng, f->r, f->y_size,
                        -GF_TEST_CONV_RANGE, GF_TEST_CONV_RANGE);
}

void
gf_test_conv_clear (GfTestConv *f)
{
  g_free (f->x);
  g_free (f->w);
  g_free (f->b);
  g_free (f->r);
  g_free (f->y);
  g_free (f->workspace);
}

void
gf_test_conv_forward (GfTestConv *f)
{
  gf_test_fill_nan (f->workspace, f->ws_size);
  gf_conv2d_forward (&f->conv, f->x, f->w, f->b, f->y, f->workspace);
}

void
gf_test_conv_backward (GfTestConv *f, gf_real *dx, gf_real *dw, gf_real *db)
{
  gf_test_fill_nan (f->workspace, f->ws_size);
  gf_conv2d_backward (&f->conv, f->x, f->w, f->r, dx, dw, db, f->workspace);
}

gf_real *
gf_test_conv_forward_and_reference (GfTestConv *f)
{
  gf_real *want = gf_test_new (f->y_size);

  gf_test_fill_nan (f->y, f->y_size);
  gf_test_fill_nan (want, f->y_size);
  gf_test_conv_forward (f);
  gf_conv2d_forward_reference (&f->conv, f->x, f->w, f->b, want);
  return want;
}

void
gf_test_conv_assert_fused (GfTestConv *f)
{
  const GfActivation acts[] = {
    { .kind = GF_ACT_RELU },
    { .kind = GF_ACT_CLIP, .alpha = -0.25 * GF_TEST_CONV_RANGE,
      .beta = 0.5 * GF_TEST_CONV_RANGE },
    /* Kernels apply these two over what they stored. */
    { .kind = GF_ACT_LEAKY_RELU, .alpha = 0.1 },
    { .kind = GF_ACT_HARD_SIGMOID, .alpha = 0.2, .beta = 0.5 },
  };
  g_autofree gf_real *want = gf_test_new (f->y_size);
  size_t clipped = 0;

  f->conv.activation = (GfActivation) { .kind = GF_ACT_IDENTITY };
  gf_test_conv_forward (f);
  for (size_t a = 0; a < G_N_ELEMENTS (acts); a++)
    {
      gf_activation_forward (&acts[a], f->y_size, f->y, want);
      for (size_t i = 0; i < f->y_size; i++)
        clipped += want[i] != f->y[i];
      f->conv.activation = acts[a];
      gf_test_fill_nan (f->y, f->y_size);
      gf_test_conv_forward (f);
      g_assert_cmpmem (f->y, f->y_size * sizeof *f->y,
                       want, f->y_size * sizeof *want);
      f->conv.activation = (GfActivation) { .kind = GF_ACT_IDENTITY };
      gf_test_conv_forward (f);
    }
  /* The activations did change values: the test can fail. */
  g_assert_cmpuint (clipped, >, 0);
}

void
gf_test_conv_assert_workspace_grows (GfConv2d *conv, size_t max_batch)
{
  size_t previous = 0;

  for (size_t n = 1; n <= max_batch; n++)
    {
      conv->batch = n;
      g_assert_cmpint (gf_conv2d_init (conv, NULL), ==, GF_OK);
      g_assert_cmpuint (gf_conv2d_workspace_size (conv), >=, previous);
      previous = gf_conv2d_workspace_size (conv);
    }
}

void
gf_test_conv_halve_batch (GfTestConv *f)
{
  size_t x_image = f->x_size / f->conv.batch;
  size_t y_image = f->y_size / f->conv.batch;

  g_assert_cmpuint (f->conv.batch, >=, 2);
  f->conv.batch /= 2;
  f->x_size = x_image * f->conv.batch;
  f->y_size = y_image * f->conv.batch;
  g_assert_cmpuint (gf_conv2d_workspace_size (&f->conv), <=, f->ws_size);
}

double
gf_test_conv_loss (void *user_data)
{
  GfTestConv *f = user_data;

  gf_test_conv_forward (f);
  return gf_test_dot (f->r, f->y, f->y_size);
}

void
gf_test_conv_check_forward (GfTestConv *f, double tol)
{
  g_autofree gf_real *want = gf_test_conv_forward_and_reference (f);

  gf_test_assert_normwise ("y", f->y, want, f->y_size, tol);
  gf_test_conv_assert_fused (f);
}

void
gf_test_conv_add_cases (const char *kernel, const void *cases, size_t n,
                        size_t size, GTestDataFunc forward,
                        GTestDataFunc threads)
{
  for (size_t i = 0; i < n; i++)
    {
      const void *one = (const char *) cases + i * size;
      const char *name = *(const char *const *) one;
      g_autofree char *fwd = g_strdup_printf (
        "/engine/conv2d/%s/forward/%s", kernel, name);
      g_autofree char *thr = g_strdup_printf (
        "/engine/conv2d/%s/threads/identical/%s", kernel, name);

      g_test_add_data_func (fwd, one, forward);
      g_test_add_data_func (thr, one, threads);
    }
}

void
gf_test_conv_run_forward (gconstpointer data, GfTestResults *r)
{
  GfTestConv *f = (GfTestConv *) data;
  gf_real *y = gf_test_results_add (r, "y", f->y_size);

  openblas_set_num_threads (1);
  gf_test_fill_nan (f->workspace, f->ws_size);
  gf_conv2d_forward (&f->conv, f->x, f->w, f->b, y, f->workspace);
}
