/* test-conv-threads.c: the loops of the convolution kernels that the
 * worker pool splits (depthwise forward and backward, im2col, col2im) give
 * bit-identical outputs and gradients at any thread count: none of them
 * may change an order of summation with the number of threads, so y, dx,
 * dw and db with 2 and 3 threads must equal those with 1 byte for byte.
 *
 * OpenBLAS is pinned to one thread throughout: its own GEMMs are not
 * bit-identical across thread counts for every shape (small M with large
 * K, as in dW = dY·colᵀ, differs in the last bits), and that is outside
 * what the pool controls. */
#include <cblas.h>
#include <string.h>

#include "gf-engine.h"
#include "gf-parallel.h"
#include "ops/gf-conv.h"
#include "gf-test-util.h"

#define INPUT_RANGE 1.0
#define SEED 20240612
#define MAX_THREADS 3

typedef struct
{
  const char *name;
  size_t n, c, h, w, m;    /* batch, input channels, input H×W, outputs */
  size_t kh, kw, sh, sw, dh, dw;
  size_t pad[4];           /* top, left, bottom, right */
  size_t groups;
} ThreadCase;

/* Odd sizes, strides, dilations and padding, each large enough that its
 * loops split into two or three chunks (see GF_PARALLEL_GRAIN): small
 * planes whose images share GEMMs, and large planes run per image. */
static const ThreadCase cases[] = {
  /* name                       n   c   h   w   m  kh kw sh sw dh dw  pad          g */
  { "depthwise-3x3-odd",        3, 13, 29, 31, 13, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, 13 },
  { "depthwise-3x3-stride2",    4, 24, 45, 47, 24, 3, 3, 2, 2, 1, 1, { 1, 1, 1, 1 }, 24 },
  { "depthwise-5x5-dilation2",  2,  9, 27, 25,  9, 5, 5, 1, 1, 2, 2, { 4, 3, 2, 5 },  9 },
  { "depthwise-3x3-wide-rows",  2,  5, 11, 2101, 5, 3, 3, 1, 2, 1, 1, { 1, 1, 1, 1 }, 5 },
  { "conv-3x3-batched",         3, 32, 15, 17, 10, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 },  1 },
  { "conv-3x3-stride2-asym",    4, 24, 41, 39, 12, 3, 3, 2, 2, 1, 1, { 1, 0, 1, 1 },  1 },
  { "conv-3x3-per-image",       2, 16, 48, 44,  8, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 },  1 },
  { "groups2-dilation2",        3, 48, 19, 23, 12, 3, 3, 1, 1, 2, 2, { 2, 2, 2, 2 },  2 },
  { "groups4-5x3-stride2x1",    6, 48, 21, 17,  8, 5, 3, 2, 1, 1, 1, { 2, 1, 2, 1 },  4 },
};

typedef struct
{
  GfConv2d conv;
  size_t x_size, w_size, y_size, ws_size;
  gf_real *x, *w, *b, *dy, *dw0, *db0, *workspace;
} ThreadFixture;

static void
fill (GfRng *rng, gf_real *x, size_t n)
{
  gf_test_fill_uniform (rng, x, n, -INPUT_RANGE, INPUT_RANGE);
}

static void
fixture_init (ThreadFixture *f, const ThreadCase *tc)
{
  GfRng rng;

  f->conv = (GfConv2d) {
    .batch = tc->n, .in_channels = tc->c, .in_h = tc->h, .in_w = tc->w,
    .out_channels = tc->m, .kernel_h = tc->kh, .kernel_w = tc->kw,
    .stride_h = tc->sh, .stride_w = tc->sw,
    .dilation_h = tc->dh, .dilation_w = tc->dw,
    .pad_top = tc->pad[0], .pad_left = tc->pad[1],
    .pad_bottom = tc->pad[2], .pad_right = tc->pad[3],
    .groups = tc->groups,
  };
  g_assert_cmpint (gf_conv2d_init (&f->conv, NULL), ==, GF_OK);
  f->x_size = tc->n * tc->c * tc->h * tc->w;
  f->w_size = tc->m * (tc->c / tc->groups) * tc->kh * tc->kw;
  f->y_size = tc->n * tc->m * f->conv.out_h * f->conv.out_w;
  f->ws_size = gf_conv2d_workspace_size (&f->conv);
  f->x = gf_test_new (f->x_size);
  f->w = gf_test_new (f->w_size);
  f->b = gf_test_new (tc->m);
  f->dy = gf_test_new (f->y_size);
  f->dw0 = gf_test_new (f->w_size);
  f->db0 = gf_test_new (tc->m);
  f->workspace = f->ws_size > 0 ? g_new (gf_real, f->ws_size) : NULL;
  gf_rng_seed (&rng, SEED);
  fill (&rng, f->x, f->x_size);
  fill (&rng, f->w, f->w_size);
  fill (&rng, f->b, tc->m);
  fill (&rng, f->dy, f->y_size);
  fill (&rng, f->dw0, f->w_size);
  fill (&rng, f->db0, tc->m);
}

static void
fixture_clear (ThreadFixture *f)
{
  g_free (f->x);
  g_free (f->w);
  g_free (f->b);
  g_free (f->dy);
  g_free (f->dw0);
  g_free (f->db0);
  g_free (f->workspace);
}

/* The kernels must not depend on what the workspace held before. */
static void
scribble (ThreadFixture *f, int byte)
{
  if (f->workspace != NULL)
    memset (f->workspace, byte, f->ws_size * sizeof *f->workspace);
}

/* Forward and backward with the pool at the thread count the check set,
 * OpenBLAS at one: y, and dx, dw, db after backward from dw0 and db0. */
static void
run_conv (gconstpointer data, GfTestResults *r)
{
  ThreadFixture *f = (ThreadFixture *) data;
  size_t m = f->conv.out_channels;
  gf_real *y = gf_test_results_add (r, "y", f->y_size);
  gf_real *dx = gf_test_results_add (r, "dx", f->x_size);
  gf_real *dw = gf_test_results_add (r, "dw", f->w_size);
  gf_real *db = gf_test_results_add (r, "db", m);

  memcpy (dw, f->dw0, f->w_size * sizeof *dw);
  memcpy (db, f->db0, m * sizeof *db);
  openblas_set_num_threads (1);
  scribble (f, 0xA5);
  gf_conv2d_forward (&f->conv, f->x, f->w, f->b, y, f->workspace);
  scribble (f, 0x5A);
  gf_conv2d_backward (&f->conv, f->x, f->w, f->dy, dx, dw, db,
                      f->workspace);
}

static void
test_conv_threads_identical (gconstpointer data)
{
  ThreadFixture f;

  fixture_init (&f, data);
  gf_test_check_threads (&f, run_conv, MAX_THREADS);
  /* The loops did split: the pool started a worker per extra thread. */
  g_assert_cmpuint (gf_parallel_workers (), >=, MAX_THREADS - 1);
  fixture_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
        "/engine/conv2d/threads/identical/%s", cases[i].name);

      g_test_add_data_func (path, &cases[i], test_conv_threads_identical);
    }
  return g_test_run ();
}
