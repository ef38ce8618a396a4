/* gf-test-conv.h: what the convolution tests share (test-conv.c and
 * the tests of the Winograd, direct and 1×1 kernels): one case's
 * tensors, filled from a seeded GfRng, and the fast kernels run on them
 * over a workspace full of NaN. */
#pragma once

#include "ops/gf-conv.h"
#include "gf-test-util.h"

/* x, w, b and r are uniform in ±GF_TEST_CONV_RANGE. */
#define GF_TEST_CONV_RANGE 1.0

/* One case's tensors: x (N, C, H, W), w (M, C/g, KH, KW), b (M) or NULL,
 * r (N, M, OH, OW) the fixed projection of the loss L = Σ r·y, so that
 * dL/dy = r; y receives the fast forward. */
typedef struct
{
  GfConv2d conv;
  size_t x_size, w_size, b_size, y_size, ws_size;
  gf_real *x, *w, *b, *r, *y, *workspace;
} GfTestConv;

void gf_test_fill_nan (gf_real *x, size_t n);

/* A dense, undilated convolution of @n images (C = @c, @h × @w) to @m
 * channels, a @k × @k kernel at @stride, padding @pad (top, left, bottom,
 * right), through @algo; gf_conv2d_init must accept it. */
GfConv2d gf_test_conv_square (size_t n, size_t c, size_t h, size_t w,
                              size_t m, size_t k, size_t stride,
                              const size_t pad[4], GfConvAlgo algo);

/* Initialises a copy of @conv (failing the test where gf_conv2d_init
 * refuses it), allocates the tensors (b only with @bias; the workspace of
 * exactly the advertised size, NULL when none, so that ASan catches a
 * kernel that uses more) and fills x, w, b and r, in that order, from a
 * GfRng seeded with @seed. */
void gf_test_conv_init (GfTestConv *f, const GfConv2d *conv, bool bias,
                        uint64_t seed);
void gf_test_conv_clear (GfTestConv *f);

/* The fast kernels on f->conv, after filling the workspace with NaN: they
 * must not depend on what it held before.  The forward writes f->y; the
 * backward takes dL/dy = f->r, and any of @dx, @dw, @db may be NULL. */
void gf_test_conv_forward (GfTestConv *f);
void gf_test_conv_backward (GfTestConv *f, gf_real *dx, gf_real *dw,
                            gf_real *db);

/* The fast forward into f->y and the reference into a new buffer, which it
 * returns (g_free it): both filled with NaN first, so that each must write
 * every element. */
gf_real *gf_test_conv_forward_and_reference (GfTestConv *f);

/* The fast forward against the reference within @tol, normwise, then
 * gf_test_conv_assert_fused: what a kernel's forward test checks. */
void gf_test_conv_check_forward (GfTestConv *f, double tol);

/* The fast forward with a fused activation (GfConv2d.activation) gives,
 * bit for bit, the plain fast forward followed by gf_activation_forward:
 * for a Relu, a Clip that bounds values at both ends, a leaky Relu and a
 * hard sigmoid. */
void gf_test_conv_assert_fused (GfTestConv *f);

/* Initialises @conv at batch 1, 2 … @max_batch, failing the test where
 * the workspace shrinks as the batch grows (the graph sizes one workspace
 * for its largest batch and runs smaller ones in it); leaves @conv at
 * @max_batch. */
void gf_test_conv_assert_workspace_grows (GfConv2d *conv, size_t max_batch);

/* Halves the batch, as the graph runs a batch smaller than the one it
 * planned for in the workspace already allocated: fails the test unless
 * the smaller batch's workspace fits in it. */
void gf_test_conv_halve_batch (GfTestConv *f);

/* Registers, for each of @n cases (@size bytes apart from @cases, each
 * struct beginning with its name, a const char *), @forward as
 * /engine/conv2d/@kernel/forward/NAME and @threads as
 * /engine/conv2d/@kernel/threads/identical/NAME. */
void gf_test_conv_add_cases (const char *kernel, const void *cases,
                             size_t n, size_t size, GTestDataFunc forward,
                             GTestDataFunc threads);

/* A GfTestRunFunc for gf_test_check_threads: y of the GfTestConv @data
 * (OpenBLAS on one thread, the workspace full of NaN first) at the
 * check's thread count. */
void gf_test_conv_run_forward (gconstpointer data, GfTestResults *r);

/* L = Σ r·y through the fast forward, for gf_test_gradcheck; @user_data
 * is the GfTestConv. */
double gf_test_conv_loss (void *user_data);
