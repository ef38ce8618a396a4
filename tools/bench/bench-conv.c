/* bench-conv.c: forward and backward GFLOP/s of gf_conv2d_forward and
 * gf_conv2d_backward on the layers that matter for training: the plain
 * pretraining CNN at 28×28 and batch 64, ResNet-18's 3×3 layers at batch
 * 8 and 32 (224 input), VGG19's 3×3 layers at 150×150 and batch 8, a
 * sweep of channel counts on 56×56 to 7×7 planes, and MobileNetV2's 3×3
 * depthwise layers at batch 8 (their GFLOP/s count only the C/groups
 * input channels each output reads).  Each figure is the median of
 * BENCH_SAMPLES samples, a sample being the mean over enough calls to fill
 * BENCH_SAMPLE_SECONDS.
 *
 *   bench-conv [--images-per-gemm N] [--filter SUBSTRING] [--min]
 *              [--cpu] [--algo auto|gemm|winograd|compare]
 *
 * --min reports the fastest sample instead of the median, and --cpu times
 * the calling thread's CPU time instead of wall time: on a shared machine
 * both filter out time the process spent descheduled (--cpu only makes
 * sense with OPENBLAS_NUM_THREADS=1).  --algo compare (the default) runs
 * each layer Winograd can compute twice, im2col + GEMM ("gemm") and
 * Winograd ("wino"), and every other layer once; the other values force
 * one algorithm (auto is the kernels' own choice).  Run it with
 * OPENBLAS_CORETYPE set for the CPU and OPENBLAS_NUM_THREADS=1 and =2; it
 * is built, not installed, and not run by meson test.  Backward computes
 * dx and dw (no bias, as in the networks, where BatchNorm follows each
 * convolution); "dx" computes dx alone.  Winograd's GFLOP/s are those of
 * the direct convolution it replaces.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/gf-conv.h"

#define BENCH_SAMPLES 5
#define BENCH_SAMPLE_SECONDS 0.1
#define BENCH_ALIGN 64

typedef struct
{
  const char *name;
  size_t n, c, hw, m, k, stride, groups;
} BenchLayer;

static const BenchLayer layers[] = {
  /* The plain pretraining CNN: 3×3, padding 1, batch 64. */
  { "cnn conv1 3>24 28",      64,   3, 28,  24, 3, 1,   1 },
  { "cnn conv2 24>24 28",     64,  24, 28,  24, 3, 1,   1 },
  { "cnn conv3 24>48 14",     64,  24, 14,  48, 3, 1,   1 },
  { "cnn conv4 48>48 14",     64,  48, 14,  48, 3, 1,   1 },
  { "cnn conv5 48>96 7",      64,  48,  7,  96, 3, 1,   1 },
  /* Pointwise: the GEMM runs on x as it lies, or on a gathered batch. */
  { "pw 1x1 48>96 14",        64,  48, 14,  96, 1, 1,   1 },
  { "pw 1x1 256>256 14 b8",    8, 256, 14, 256, 1, 1,   1 },
  { "pw 1x1 512>512 7 b8",     8, 512,  7, 512, 1, 1,   1 },
  /* ResNet-18's 3×3 layers at 224 input, batch 8 and 32. */
  { "r18 64>64 56",            8,  64, 56,  64, 3, 1,   1 },
  { "r18 128>128 28",          8, 128, 28, 128, 3, 1,   1 },
  { "r18 128>256 28 s2",       8, 128, 28, 256, 3, 2,   1 },
  { "r18 256>256 14",          8, 256, 14, 256, 3, 1,   1 },
  { "r18 512>512 7",           8, 512,  7, 512, 3, 1,   1 },
  { "r18 64>64 56 b32",       32,  64, 56,  64, 3, 1,   1 },
  { "r18 128>128 28 b32",     32, 128, 28, 128, 3, 1,   1 },
  { "r18 256>256 14 b32",     32, 256, 14, 256, 3, 1,   1 },
  { "r18 512>512 7 b32",      32, 512,  7, 512, 3, 1,   1 },
  /* VGG19's 3×3 layers at 150×150 input, batch 8 (each distinct shape
   * once; pools floor 75 to 37, 18 and 9). */
  { "vgg 3>64 150",            8,   3, 150,  64, 3, 1,  1 },
  { "vgg 64>64 150",           8,  64, 150,  64, 3, 1,  1 },
  { "vgg 64>128 75",           8,  64, 75,  128, 3, 1,  1 },
  { "vgg 128>128 75",          8, 128, 75,  128, 3, 1,  1 },
  { "vgg 128>256 37",          8, 128, 37,  256, 3, 1,  1 },
  { "vgg 256>256 37",          8, 256, 37,  256, 3, 1,  1 },
  { "vgg 256>512 18",          8, 256, 18,  512, 3, 1,  1 },
  { "vgg 512>512 18",          8, 512, 18,  512, 3, 1,  1 },
  { "vgg 512>512 9",           8, 512,  9,  512, 3, 1,  1 },
  /* Few channels, where Winograd's GEMMs are thin: the dispatch rule's
   * lower bound. */
  { "sweep 8>8 56",            8,   8, 56,   8, 3, 1,   1 },
  { "sweep 16>16 56",          8,  16, 56,  16, 3, 1,   1 },
  { "sweep 32>32 56",          8,  32, 56,  32, 3, 1,   1 },
  { "sweep 16>16 28",          8,  16, 28,  16, 3, 1,   1 },
  { "sweep 32>32 28",          8,  32, 28,  32, 3, 1,   1 },
  { "sweep 64>64 28",          8,  64, 28,  64, 3, 1,   1 },
  { "sweep 32>32 14",          8,  32, 14,  32, 3, 1,   1 },
  { "sweep 64>64 14",          8,  64, 14,  64, 3, 1,   1 },
  { "sweep 128>128 14",        8, 128, 14, 128, 3, 1,   1 },
  { "sweep 64>64 7",           8,  64,  7,  64, 3, 1,   1 },
  { "sweep 128>128 7",         8, 128,  7, 128, 3, 1,   1 },
  { "sweep 256>256 7",         8, 256,  7, 256, 3, 1,   1 },
  /* MobileNetV2's 3×3 depthwise layers at batch 8. */
  { "mv2 dw 96 112 s2",        8,  96, 112, 96, 3, 2,  96 },
  { "mv2 dw 144 56",           8, 144, 56, 144, 3, 1, 144 },
  { "mv2 dw 576 14",           8, 576, 14, 576, 3, 1, 576 },
  { "mv2 dw 960 7",            8, 960,  7, 960, 3, 1, 960 },
};

/* --algo compare: both algorithms where Winograd applies. */
#define BENCH_ALGO_COMPARE (-1)

typedef struct
{
  size_t images_per_gemm;
  const char *filter;
  int use_min, use_cpu;
  int algo;                /* a GfConvAlgo or BENCH_ALGO_COMPARE */
} BenchOptions;

enum { RUN_FORWARD, RUN_BACKWARD, RUN_BACKWARD_DX };

static double
now (const BenchOptions *o)
{
  struct timespec ts;

  clock_gettime (o->use_cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static gf_real *
bench_alloc (size_t n)
{
  void *p = NULL;
  size_t bytes = (n > 0 ? n : 1) * sizeof (gf_real);

  bytes = (bytes + BENCH_ALIGN - 1) / BENCH_ALIGN * BENCH_ALIGN;
  if (posix_memalign (&p, BENCH_ALIGN, bytes) != 0)
    {
      fprintf (stderr, "bench-conv: out of memory\n");
      exit (EXIT_FAILURE);
    }
  return p;
}

/* Values in [-1, 1) from a fixed LCG: the timing must not depend on them,
 * but denormals or NaN would. */
static void
fill (gf_real *x, size_t n, unsigned *state)
{
  for (size_t i = 0; i < n; i++)
    {
      *state = *state * 1664525u + 1013904223u;
      x[i] = (gf_real) ((double) (*state >> 8) / (double) (1u << 23) - 1.0);
    }
}

typedef struct
{
  GfConv2d conv;
  gf_real *x, *w, *y, *dy, *dx, *dw, *ws;
} BenchBuffers;

static void
buffers_init (BenchBuffers *b, const BenchLayer *l, size_t images_per_gemm,
              GfConvAlgo algo)
{
  GfError error = { 0 };
  size_t pad = l->k / 2;
  unsigned state = 1;
  size_t xs, ws, ys;

  b->conv = (GfConv2d) {
    .batch = l->n, .in_channels = l->c, .in_h = l->hw, .in_w = l->hw,
    .out_channels = l->m, .kernel_h = l->k, .kernel_w = l->k,
    .stride_h = l->stride, .stride_w = l->stride,
    .dilation_h = 1, .dilation_w = 1,
    .pad_top = pad, .pad_left = pad, .pad_bottom = pad, .pad_right = pad,
    .groups = l->groups, .images_per_gemm = images_per_gemm,
    .algo = algo };
  if (gf_conv2d_init (&b->conv, &error) != GF_OK)
    {
      fprintf (stderr, "bench-conv: %s: %s\n", l->name, error.message);
      exit (EXIT_FAILURE);
    }
  xs = l->n * l->c * l->hw * l->hw;
  ws = l->m * (l->c / l->groups) * l->k * l->k;
  ys = l->n * l->m * b->conv.out_h * b->conv.out_w;
  b->x = bench_alloc (xs);
  b->dx = bench_alloc (xs);
  b->w = bench_alloc (ws);
  b->dw = bench_alloc (ws);
  b->y = bench_alloc (ys);
  b->dy = bench_alloc (ys);
  b->ws = bench_alloc (gf_conv2d_workspace_size (&b->conv));
  fill (b->x, xs, &state);
  fill (b->w, ws, &state);
  fill (b->dy, ys, &state);
  memset (b->dw, 0, ws * sizeof *b->dw);
}

static void
buffers_clear (BenchBuffers *b)
{
  free (b->x);
  free (b->dx);
  free (b->w);
  free (b->dw);
  free (b->y);
  free (b->dy);
  free (b->ws);
}

static void
run (BenchBuffers *b, int what)
{
  if (what == RUN_BACKWARD)
    gf_conv2d_backward (&b->conv, b->x, b->w, b->dy, b->dx, b->dw, NULL,
                        b->ws);
  else if (what == RUN_BACKWARD_DX)
    gf_conv2d_backward (&b->conv, b->x, b->w, b->dy, b->dx, NULL, NULL,
                        b->ws);
  else
    gf_conv2d_forward (&b->conv, b->x, b->w, NULL, b->y, b->ws);
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Median (or least) seconds per call. */
static double
time_calls (BenchBuffers *b, int what, const BenchOptions *o)
{
  double samples[BENCH_SAMPLES];
  size_t calls = 1;
  double t0;

  /* Warm up, and size a sample. */
  t0 = now (o);
  run (b, what);
  while (calls * (now (o) - t0) < BENCH_SAMPLE_SECONDS && calls < 1000)
    {
      calls *= 2;
      t0 = now (o);
      run (b, what);
    }
  for (int s = 0; s < BENCH_SAMPLES; s++)
    {
      t0 = now (o);
      for (size_t i = 0; i < calls; i++)
        run (b, what);
      samples[s] = (now (o) - t0) / (double) calls;
    }
  qsort (samples, BENCH_SAMPLES, sizeof *samples, compare_double);
  return samples[o->use_min ? 0 : BENCH_SAMPLES / 2];
}

static void
bench_layer_algo (const BenchLayer *l, const BenchOptions *o, GfConvAlgo algo)
{
  BenchBuffers b;
  double flops, fwd, bwd, dx;

  buffers_init (&b, l, o->images_per_gemm, algo);
  /* 2·N·M·OH·OW·C/g·KH·KW per pass; backward is two such passes (dx, dw). */
  flops = 2.0 * (double) l->n * (double) l->m * (double) b.conv.out_h
          * (double) b.conv.out_w * (double) (l->c / l->groups)
          * (double) (l->k * l->k);
  fwd = time_calls (&b, RUN_FORWARD, o);
  bwd = time_calls (&b, RUN_BACKWARD, o);
  dx = time_calls (&b, RUN_BACKWARD_DX, o);
  printf ("%-22s %-4s %8.3f %8.2f %8.3f %8.2f %8.3f %8.2f %8.1f\n", l->name,
          gf_conv2d_uses_winograd (&b.conv) ? "wino" : "gemm",
          1e3 * fwd, 1e-9 * flops / fwd, 1e3 * bwd, 2e-9 * flops / bwd,
          1e3 * dx, 1e-9 * flops / dx,
          (double) gf_conv2d_workspace_size (&b.conv) * sizeof (gf_real)
          / (1 << 20));
  fflush (stdout);
  buffers_clear (&b);
}

static void
bench_layer (const BenchLayer *l, const BenchOptions *o)
{
  BenchBuffers probe;
  bool applies;

  if (o->algo != BENCH_ALGO_COMPARE)
    {
      bench_layer_algo (l, o, (GfConvAlgo) o->algo);
      return;
    }
  buffers_init (&probe, l, o->images_per_gemm, GF_CONV_ALGO_WINOGRAD);
  applies = gf_conv2d_uses_winograd (&probe.conv);
  buffers_clear (&probe);
  bench_layer_algo (l, o, GF_CONV_ALGO_GEMM);
  if (applies)
    bench_layer_algo (l, o, GF_CONV_ALGO_WINOGRAD);
}

static int
parse_algo (const char *name)
{
  static const char *const names[] = {
    [GF_CONV_ALGO_AUTO] = "auto",
    [GF_CONV_ALGO_GEMM] = "gemm",
    [GF_CONV_ALGO_WINOGRAD] = "winograd",
  };

  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp (name, names[i]) == 0)
      return (int) i;
  if (strcmp (name, "compare") != 0)
    {
      fprintf (stderr, "bench-conv: unknown algorithm %s\n", name);
      exit (EXIT_FAILURE);
    }
  return BENCH_ALGO_COMPARE;
}

int
main (int argc, char **argv)
{
  const char *threads = getenv ("OPENBLAS_NUM_THREADS");
  BenchOptions options = { .algo = BENCH_ALGO_COMPARE };

  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--images-per-gemm") == 0 && i + 1 < argc)
      options.images_per_gemm = strtoul (argv[++i], NULL, 10);
    else if (strcmp (argv[i], "--filter") == 0 && i + 1 < argc)
      options.filter = argv[++i];
    else if (strcmp (argv[i], "--min") == 0)
      options.use_min = 1;
    else if (strcmp (argv[i], "--cpu") == 0)
      options.use_cpu = 1;
    else if (strcmp (argv[i], "--algo") == 0 && i + 1 < argc)
      options.algo = parse_algo (argv[++i]);
    else
      {
        fprintf (stderr, "bench-conv: unknown option %s\n", argv[i]);
        return EXIT_FAILURE;
      }
  printf ("# %s, OPENBLAS_NUM_THREADS=%s, images_per_gemm=%zu, %s of %d "
          "%s samples\n", GF_REAL_NAME, threads != NULL ? threads : "(unset)",
          options.images_per_gemm, options.use_min ? "min" : "median",
          BENCH_SAMPLES, options.use_cpu ? "thread-CPU" : "wall");
  printf ("%-22s %-4s %8s %8s %8s %8s %8s %8s %8s\n", "layer", "algo",
          "fwd ms", "GFLOP/s", "bwd ms", "GFLOP/s", "dx ms", "GFLOP/s",
          "ws MiB");
  for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
    if (options.filter == NULL
        || strstr (layers[i].name, options.filter) != NULL)
      bench_layer (&layers[i], &options);
  return EXIT_SUCCESS;
}
