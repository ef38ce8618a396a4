/* gf-winograd.c: Winograd F(4×4, 3×3) convolution (see gf-winograd.h).
 *
 * One call runs over the batch's tiles in chunks of at most s->chunk
 * tiles, tile t being image t / T's tile t % T in row-major order (T
 * tiles per image):
 *  1. once per call, U[ξ] (out, in) = G g Gᵀ for every filter g (3×3);
 *  2. per chunk, V[ξ] (in, P) = Bᵀ d B for every channel's 6×6 patch d of
 *     every tile, zero where the patch leaves the input;
 *  3. per chunk, for each of the 36 positions ξ, one product
 *     Mo[ξ] (out, P) = U[ξ] · V[ξ], on the engine's AVX-512 register
 *     blocks where the CPU has them (V then written in panels of 48
 *     tiles, so that nothing is packed or cleared first), else OpenBLAS;
 *  4. per chunk, each output channel's 4×4 block Aᵀ Mo A (+ bias), clipped
 *     to the output plane.
 * The transforms run WINO_LANES tiles at a time with the tile innermost in
 * their scratch, so that each line of a transform is a vector operation
 * across tiles.  Steps 1, 2 and 4 split over channels on the engine's
 * worker pool, step 3's register blocks over (ξ, panel) pairs; each
 * output element is computed by one thread in a fixed
 * order, so results are bit-identical at any thread count.
 *
 * The input gradient is the same pass on dy with the filters rotated and
 * transposed (shape_backward).  The weight gradient reuses steps 2 and 3
 * backwards: V of x, dMo = A dy Aᵀ, dU[ξ] = Σ dMo[ξ] V[ξ]ᵀ accumulated
 * chunk by chunk, then dW += Gᵀ dU G.
 *
 * The points are 0, ±1, ±2 and ∞ (Lavin and Gray, 2016).  In float32 the
 * rounding error on ResNet-like magnitudes measured 4e-6 (y) to 1.2e-5
 * (dx) of the largest output, about ten times im2col's (see
 * test-conv-winograd.c).
 */
#include "gf-winograd.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../gf-parallel.h"
#include "gf-microkernel.h"

#define WINO_M 4                    /* outputs per tile side */
#define WINO_R 3                    /* kernel side */
#define WINO_A 6                    /* α = m + r − 1: patch side */
#define WINO_XI (WINO_A * WINO_A)   /* transform positions, 36 */

/* Tiles each transform handles at once: 16 floats, one AVX-512 vector or
 * four SSE ones (the engine builds for the baseline instruction set). */
#define WINO_LANES 16

/* WINO_LANES values as one GCC vector, aligned only as gf_real is: the
 * transforms' lines are written with it, because GCC 12 vectorised the
 * same loops over lanes written per element in only some of the places
 * they are inlined (the first pass of the input transform stayed scalar).
 * On the baseline instruction set it compiles to four SSE operations. */
typedef gf_real WinoVec
  __attribute__ ((vector_size (WINO_LANES * sizeof (gf_real)),
                  aligned (sizeof (gf_real))));

/* A chunk's V and Mo, 36·(in + out)·P elements, should fit in L2/L3
 * (WINO_CHUNK_ELEMENTS, 4 MiB in float: on ResNet-18's 64-channel 56×56
 * layer, 2 and 16 MiB both ran 15–25% slower), but their GEMMs need
 * enough columns to run at speed: no chunk is narrower than
 * WINO_MIN_TILES unless the whole batch has fewer tiles. */
#define WINO_CHUNK_ELEMENTS ((size_t) 1 << 20)
#define WINO_MIN_TILES 128

/* Chunks are made of whole units of tiles: a panel of the products'
 * register blocks where those run (see wino_panel_products), else a
 * transform's lanes. */
#ifdef GF_MICROKERNEL
#define WINO_UNIT GF_MK_COLS
#else
#define WINO_UNIT WINO_LANES
#endif

/* The products' sums over input channels run in blocks of this many, so
 * that a panel's block of V (128 × 48 floats, 24 KiB) stays in L1 while
 * every block of output channels passes over it. */
#define WINO_K_BLOCK 128

/* With fewer input channels than this the products stay with OpenBLAS:
 * ResNet-18's 64-channel 56×56 layer (one thread, a sub-batch of 16)
 * ran at 256–268 GFLOP/s on the register blocks against 286–289 with
 * OpenBLAS, whose kernel pays less for each block's start and stores. */
#define WINO_PANEL_MIN_IN 128

/* The most elements of U one block of output channels may take (8 MiB in
 * float; see filter_block). */
#define WINO_FILTER_BLOCK_ELEMENTS ((size_t) 1 << 21)
#define WINO_BLOCK_ROWS 16        /* blocks are multiples of this many */

/* Rough element operations of one channel's transform of one tile, for
 * gf_parallel_for's cost. */
#define WINO_TILE_COST 200

/* One Winograd pass: "in" is the transform's input (x, or dy for the
 * input gradient), "out" its output (y, or dx). */
typedef struct
{
  size_t n;                       /* images */
  size_t in_c, in_h, in_w;
  size_t out_c, out_h, out_w;
  ptrdiff_t pad_top, pad_left;    /* in [0, 2]; signed for the arithmetic */
  size_t tiles_h, tiles_w, tiles; /* per image; tiles = tiles_h · tiles_w */
  size_t chunk;                   /* the most tiles a chunk has: units */
  size_t n_chunks;
  size_t chunk_cap;               /* chunk's bound at this batch or less */
} WinoShape;

/* With AVX-512 whose gathers are fast (gathers_fast), in float, an input
 * transform gathers its 16 lanes' patches: for each of the 36 patch
 * positions one masked gather takes lane l's element from its own tile,
 * the mask leaving zero where the position lies in the padding or the
 * lane past the chunk.  perf put the scalar copy (load_patch) at 8% of
 * ResNet-18's forward pass.  The output transform scatters its 4×4
 * blocks the same way, and the weight gradient gathers dy's.  The lanes'
 * offsets and masks depend on the tiles alone, so each block of lanes'
 * are worked out once a chunk (plan_blocks) for every channel. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(GF_REAL_DOUBLE)
#define WINO_GATHER 1
#endif

typedef struct
{
  int32_t offset[WINO_LANES];     /* of each lane's patch in channel 0 */
  uint16_t row_mask[WINO_A];      /* lanes whose patch row i is inside */
  uint16_t col_mask[WINO_A];      /* lanes whose patch column j is inside */
} GatherBlock;

/* What the workers share; [first, first + count) is the chunk's tiles. */
typedef struct
{
  const WinoShape *s;
  const gf_real *w;
  bool rotate;                    /* input gradient: w is (in, out, 3, 3) */
  const gf_real *in, *b;
  gf_real *out;
  const GfActivation *act;        /* forward: applied to out, or NULL */
  /* The transformed filters, inputs and products, each channel's 36
   * positions side by side so that a transform writes or reads one
   * contiguous block; the GEMMs take them with row strides of 36 rows.
   * With panels, V is laid out for wino_panel_products instead: each
   * position's panels of 48 tiles one after another, each panel's
   * channels one after another, 48 tiles each. */
  gf_real *u;                     /* (out, 36, in) */
  gf_real *v;                     /* (in, 36, chunk), or with panels
                                     (36, chunk / 48, in, 48) */
  bool panels;
  gf_real *mo;                    /* (out, 36, chunk) */
  size_t first, count;
  GatherBlock *gather;            /* the chunk's blocks of lanes, or NULL */
  GatherBlock *outputs;           /* the same for the output's 4×4 blocks */
  bool gather_filters;            /* load_filters gathers (AVX-512) */
  size_t o0, o_n;                 /* the output channels of this block */
  const gf_real *dy;              /* weight gradient: dy (N, out, OH, OW) */
  gf_real *dw;                    /* (out, in, 3, 3), accumulated */
} Wino;

typedef struct
{
  size_t image, ty, tx;
} TilePos;

static inline size_t
size_min (size_t a, size_t b)
{
  return a < b ? a : b;
}

static inline size_t
round_up (size_t a, size_t b)
{
  return (a + b - 1) / b * b;
}

static size_t
tiles_for (size_t out)
{
  return (out + WINO_M - 1) / WINO_M;
}

/* The batch's tiles in whole units, shared as evenly as they go among
 * chunks near the size the cache rule asks for, and never under
 * WINO_MIN_TILES when the rule asks for less: the last chunk of "as many
 * as fit" chunks was often a few lanes wide (16 of VGG19's 400 tiles a
 * sub-batch at 18×18), and its thin GEMMs and its own transform of the
 * filters cost as much as a whole chunk.  Rounding the count of chunks
 * down rather than to the nearest made ResNet-18's 64-channel 56×56
 * chunks 288 tiles, not 240, and the layer 15% slower. */
static void
shape_chunks (WinoShape *s, size_t channels)
{
  const size_t total = s->n * s->tiles;
  const size_t units = (total + WINO_UNIT - 1) / WINO_UNIT;
  size_t p = WINO_CHUNK_ELEMENTS / (WINO_XI * channels), n;

  if (p < WINO_MIN_TILES)
    n = total / WINO_MIN_TILES;
  else
    n = (total + p / 2) / p;
  n = n < 1 ? 1 : size_min (n, units);
  s->n_chunks = n;
  s->chunk = (units + n - 1) / n * WINO_UNIT;
  /* A smaller batch may take a longer chunk (1.4 p tiles in one chunk,
   * where 2.6 p take three of 0.87 p), so the workspace is planned for
   * a bound that only grows with the batch: one chunk is under 1.5 p
   * (2 WINO_MIN_TILES when counted down from that), n ≥ 2 chunks under
   * (n + ½) p / n + 2 units.  A plan at the largest batch then serves
   * every smaller one. */
  s->chunk_cap = size_min (units * WINO_UNIT,
                           round_up (p < WINO_MIN_TILES ? 2 * WINO_MIN_TILES
                                                        : p + p / 2 + 1,
                                     WINO_UNIT) + 2 * WINO_UNIT);
}

/* Chunk @i's tiles: [*first, *first + *count). */
static void
chunk_span (const WinoShape *s, size_t i, size_t *first, size_t *count)
{
  const size_t total = s->n * s->tiles;
  const size_t units = (total + WINO_UNIT - 1) / WINO_UNIT;
  const size_t base = units / s->n_chunks, extra = units % s->n_chunks;

  *first = (i * base + size_min (i, extra)) * WINO_UNIT;
  *count = size_min ((base + (i < extra)) * WINO_UNIT, total - *first);
}

static void
shape_finish (WinoShape *s)
{
  s->tiles_h = tiles_for (s->out_h);
  s->tiles_w = tiles_for (s->out_w);
  s->tiles = s->tiles_h * s->tiles_w;
  shape_chunks (s, s->in_c + s->out_c);
}

static WinoShape
shape_forward (const GfConv2d *conv)
{
  WinoShape s = {
    .n = conv->batch,
    .in_c = conv->in_channels, .in_h = conv->in_h, .in_w = conv->in_w,
    .out_c = conv->out_channels, .out_h = conv->out_h, .out_w = conv->out_w,
    .pad_top = (ptrdiff_t) conv->pad_top,
    .pad_left = (ptrdiff_t) conv->pad_left,
  };

  shape_finish (&s);
  return s;
}

/* dx (C, H, W) is dy (M, OH, OW) correlated with the rotated filters at
 * padding 2 − pad: dx[i] = Σ_k dy[i + pad − k] w[k] = Σ_k' dy[i − (2 −
 * pad) + k'] w[2 − k']. */
static WinoShape
shape_backward (const GfConv2d *conv)
{
  WinoShape s = {
    .n = conv->batch,
    .in_c = conv->out_channels, .in_h = conv->out_h, .in_w = conv->out_w,
    .out_c = conv->in_channels, .out_h = conv->in_h, .out_w = conv->in_w,
    .pad_top = (ptrdiff_t) (WINO_R - 1) - (ptrdiff_t) conv->pad_top,
    .pad_left = (ptrdiff_t) (WINO_R - 1) - (ptrdiff_t) conv->pad_left,
  };

  shape_finish (&s);
  return s;
}

/* The GEMMs' row strides, 36 times a channel count or a chunk, must fit
 * cblas's int. */
#define WINO_CHANNELS_MAX ((size_t) INT_MAX / WINO_XI)

bool
gf_winograd_applies (const GfConv2d *conv)
{
  return conv->in_channels <= WINO_CHANNELS_MAX
         && conv->out_channels <= WINO_CHANNELS_MAX
         && conv->kernel_h == WINO_R && conv->kernel_w == WINO_R
         && conv->stride_h == 1 && conv->stride_w == 1
         && conv->dilation_h == 1 && conv->dilation_w == 1
         && conv->groups == 1
         && conv->pad_top < WINO_R && conv->pad_left < WINO_R
         && conv->pad_bottom < WINO_R && conv->pad_right < WINO_R;
}

/* U (out, 36, in), then V (in, 36, chunk) and Mo (out, 36, chunk) of
 * whichever pass has the larger chunk. */
size_t
gf_winograd_workspace_size (const GfConv2d *conv)
{
  WinoShape f = shape_forward (conv), b = shape_backward (conv);
  size_t chunk = f.chunk_cap > b.chunk_cap ? f.chunk_cap : b.chunk_cap;
  size_t channels = conv->in_channels + conv->out_channels;

  return WINO_XI * (conv->in_channels * conv->out_channels
                    + channels * chunk);
}

/* ---- Filter transform --------------------------------------------------- */

/* out[i·os + l] = (G g)[i], i < 6, for lanes l, g[k] = in[k·is + l]: one
 * column of G g or one row of (G g) Gᵀ.  Multiplications by reciprocals,
 * not divisions. */
static inline void
wino_g (const gf_real *restrict in, size_t is, gf_real *restrict out,
        size_t os)
{
  const gf_real q = (gf_real) (1.0 / 4), s = (gf_real) (1.0 / 6);
  const gf_real t = (gf_real) (1.0 / 12), f = (gf_real) (1.0 / 24);
  const WinoVec g0 = *(const WinoVec *) in;
  const WinoVec g1 = *(const WinoVec *) (in + is);
  const WinoVec g2 = *(const WinoVec *) (in + 2 * is);
  const WinoVec even = f * g0 + s * g2, odd = t * g1;

  *(WinoVec *) out = q * g0;
  *(WinoVec *) (out + os) = -s * (g0 + g1 + g2);
  *(WinoVec *) (out + 2 * os) = -s * (g0 - g1 + g2);
  *(WinoVec *) (out + 3 * os) = even + odd;
  *(WinoVec *) (out + 4 * os) = even - odd;
  *(WinoVec *) (out + 5 * os) = g2;
}

#ifdef WINO_GATHER
#include <immintrin.h>

/* g (9, 16) with g[tap·16 + l] = src[l·lane_stride + tap·tap_step]: the
 * transposing copy of load_filters, a gather a tap. */
__attribute__ ((target ("avx512f")))
static void
gather_filters (const gf_real *src, int32_t lane_stride, int32_t tap_step,
                gf_real *g)
{
  const __m512i lanes = _mm512_mullo_epi32 (
    _mm512_set_epi32 (15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
    _mm512_set1_epi32 (lane_stride));

  for (int32_t tap = 0; tap < WINO_R * WINO_R; tap++)
    {
      __m512i at = _mm512_add_epi32 (lanes, _mm512_set1_epi32 (tap
                                                               * tap_step));

      /* Masked, every lane on: GCC 12's unmasked form reads an
       * uninitialised register (-Wuninitialized). */
      _mm512_storeu_ps (g + tap * WINO_LANES,
                        _mm512_mask_i32gather_ps (_mm512_setzero_ps (),
                                                  0xffff, at, src,
                                                  sizeof *src));
    }
}

/* libgcc reads the CPU's features once, at load: asking is a load and a
 * test, safe from every thread (a cache here was a data race between
 * concurrent sub-batches). */
static bool
avx512_available (void)
{
  return __builtin_cpu_supports ("avx512f");
}

/* Whether the gathers (and scatters) below beat the scalar copies they
 * replace: on Intel's AVX-512 cores they took ResNet-18's forward pass
 * from 88 to 97 images/s; on AMD's Zen 4, which runs them as microcode,
 * the copies were the faster (bench-engine, batch 32, 2 threads, five
 * alternating pairs: ResNet-18 fine-tuning 23.8 → 24.7, VGG19 forward
 * 23.1 → 24.2 without them). */
static bool
gathers_fast (void)
{
  return avx512_available () && !__builtin_cpu_is ("amd");
}
#endif

/* g (3, 3, lanes), lane l < @lanes = the filter from input channel i0 + l
 * to output channel o, the rest zero; the input gradient's filters are
 * w's (in, out, 3, 3) rotated by 180°.  The two cases are separate loops
 * so that neither tests per element. */
static inline void
load_filters (const Wino *k, size_t o, size_t i0, size_t lanes, gf_real *g)
{
  const WinoShape *s = k->s;
  const size_t taps = WINO_R * WINO_R;
  const gf_real *src;

#ifdef WINO_GATHER
  if (lanes == WINO_LANES && k->gather_filters)
    {
      if (!k->rotate)
        gather_filters (k->w + (o * s->in_c + i0) * taps, (int32_t) taps, 1,
                        g);
      else
        gather_filters (k->w + (i0 * s->out_c + o) * taps + taps - 1,
                        (int32_t) (s->out_c * taps), -1, g);
      return;
    }
#endif
  if (lanes < WINO_LANES)
    memset (g, 0, taps * WINO_LANES * sizeof *g);
  if (!k->rotate)
    {
      src = k->w + (o * s->in_c + i0) * taps;
      for (size_t l = 0; l < lanes; l++)
        for (size_t tap = 0; tap < taps; tap++)
          g[tap * WINO_LANES + l] = src[l * taps + tap];
      return;
    }
  src = k->w + (i0 * s->out_c + o) * taps + taps - 1;
  for (size_t l = 0; l < lanes; l++)
    for (size_t tap = 0; tap < taps; tap++)
      g[tap * WINO_LANES + l] = *(src + l * s->out_c * taps - tap);
}

/* dst[ξ·ld + l] = u[ξ][l] for the first @lanes lanes.  Whole blocks copy
 * a constant size, which compiles to vector moves (a variable-length
 * memcpy became a slow rep movs). */
static inline void
store_filters (const gf_real *restrict u, size_t lanes, gf_real *restrict dst,
               size_t ld)
{
  if (lanes == WINO_LANES)
    for (size_t xi = 0; xi < WINO_XI; xi++)
      memcpy (dst + xi * ld, u + xi * WINO_LANES, WINO_LANES * sizeof *u);
  else
    for (size_t xi = 0; xi < WINO_XI; xi++)
      for (size_t l = 0; l < lanes; l++)
        dst[xi * ld + l] = u[xi * WINO_LANES + l];
}

/* Rows [begin, end) of the block's U (o_n, 36, in): output channel
 * o0 + r's filters from every input channel, WINO_LANES input channels at
 * a time. */
GF_CLONES
static void
wino_filters (void *data, size_t begin, size_t end, size_t chunk)
{
  const Wino *k = data;
  const WinoShape *s = k->s;
  gf_real g[WINO_R * WINO_R * WINO_LANES], t[WINO_A * WINO_R * WINO_LANES];
  gf_real u[WINO_XI * WINO_LANES];

  for (size_t r = begin; r < end; r++)
    for (size_t i0 = 0; i0 < s->in_c; i0 += WINO_LANES)
      {
        size_t lanes = size_min (WINO_LANES, s->in_c - i0);

        load_filters (k, k->o0 + r, i0, lanes, g);
        for (size_t col = 0; col < WINO_R; col++)
          wino_g (g + col * WINO_LANES, WINO_R * WINO_LANES,
                  t + col * WINO_LANES, WINO_R * WINO_LANES);
        for (size_t row = 0; row < WINO_A; row++)
          wino_g (t + row * WINO_R * WINO_LANES, WINO_LANES,
                  u + row * WINO_A * WINO_LANES, WINO_LANES);
        store_filters (u, lanes, k->u + r * WINO_XI * s->in_c + i0,
                       s->in_c);
      }
}

/* ---- Input transform ---------------------------------------------------- */

static TilePos
tile_pos (const WinoShape *s, size_t t)
{
  size_t r = t % s->tiles;

  return (TilePos) { t / s->tiles, r / s->tiles_w, r % s->tiles_w };
}

static inline void
tile_next (const WinoShape *s, TilePos *p)
{
  if (++p->tx < s->tiles_w)
    return;
  p->tx = 0;
  if (++p->ty < s->tiles_h)
    return;
  p->ty = 0;
  p->image++;
}

/* out[i·os + l] = (Bᵀ d)[i] for lanes l, d[k] = in[k·is + l]. */
static inline void
wino_bt (const gf_real *restrict in, size_t is, gf_real *restrict out,
         size_t os)
{
  const WinoVec d0 = *(const WinoVec *) in;
  const WinoVec d1 = *(const WinoVec *) (in + is);
  const WinoVec d2 = *(const WinoVec *) (in + 2 * is);
  const WinoVec d3 = *(const WinoVec *) (in + 3 * is);
  const WinoVec d4 = *(const WinoVec *) (in + 4 * is);
  const WinoVec d5 = *(const WinoVec *) (in + 5 * is);

  *(WinoVec *) out = 4 * d0 - 5 * d2 + d4;
  *(WinoVec *) (out + os) = -4 * (d1 + d2) + d3 + d4;
  *(WinoVec *) (out + 2 * os) = 4 * (d1 - d2) - d3 + d4;
  *(WinoVec *) (out + 3 * os) = 2 * (d3 - d1) - d2 + d4;
  *(WinoVec *) (out + 4 * os) = 2 * (d1 - d3) - d2 + d4;
  *(WinoVec *) (out + 5 * os) = 4 * d1 - 5 * d3 + d5;
}

/* d (6, 6, lanes), lane l = the 6×6 patch of channel plane src (H, W)
 * under tile p, zero outside the plane. */
static void
load_patch (const WinoShape *s, const gf_real *src, const TilePos *p,
            size_t l, gf_real *d)
{
  ptrdiff_t r0 = (ptrdiff_t) (p->ty * WINO_M) - s->pad_top;
  ptrdiff_t c0 = (ptrdiff_t) (p->tx * WINO_M) - s->pad_left;
  ptrdiff_t h = (ptrdiff_t) s->in_h, w = (ptrdiff_t) s->in_w;

  if (r0 >= 0 && c0 >= 0 && r0 + WINO_A <= h && c0 + WINO_A <= w)
    {
      const gf_real *row = src + r0 * w + c0;

      for (size_t i = 0; i < WINO_A; i++, row += w)
        for (size_t j = 0; j < WINO_A; j++)
          d[(i * WINO_A + j) * WINO_LANES + l] = row[j];
      return;
    }
  for (ptrdiff_t i = 0; i < WINO_A; i++)
    for (ptrdiff_t j = 0; j < WINO_A; j++)
      {
        ptrdiff_t r = r0 + i, c = c0 + j;

        d[(i * WINO_A + j) * WINO_LANES + l]
          = r >= 0 && r < h && c >= 0 && c < w ? src[r * w + c] : 0;
      }
}

#ifdef WINO_GATHER
/* d (side², lanes), d[(i·side + j)·16 + l] = lane l's element (i, j) of
 * the plane at @in, zero where g's masks leave it out: a patch as
 * load_patch copies it (side 6), or a block of dy as load_block does (4). */
__attribute__ ((target ("avx512f")))
static void
gather_tiles (const gf_real *in, const GatherBlock *g, size_t w, size_t side,
              gf_real *d)
{
  const __m512i base = _mm512_loadu_si512 (g->offset);

  for (size_t i = 0; i < side; i++)
    for (size_t j = 0; j < side; j++)
      {
        __m512i at = _mm512_add_epi32 (base,
                                       _mm512_set1_epi32 ((int32_t) (i * w
                                                                     + j)));
        __m512 v = _mm512_mask_i32gather_ps (_mm512_setzero_ps (),
                                             g->row_mask[i] & g->col_mask[j],
                                             at, in, sizeof *in);

        _mm512_storeu_ps (d + (i * side + j) * WINO_LANES, v);
      }
}

/* The 4×4 output blocks y (16, lanes) written into the plane at @out,
 * as store_tile does, where g's masks let them. */
__attribute__ ((target ("avx512f")))
static void
scatter_tiles (gf_real *out, const GatherBlock *g, size_t w,
               const gf_real *y)
{
  const __m512i base = _mm512_loadu_si512 (g->offset);

  for (size_t i = 0; i < WINO_M; i++)
    for (size_t j = 0; j < WINO_M; j++)
      {
        __m512i at = _mm512_add_epi32 (base,
                                       _mm512_set1_epi32 ((int32_t) (i * w
                                                                     + j)));

        _mm512_mask_i32scatter_ps (out, g->row_mask[i] & g->col_mask[j], at,
                                   _mm512_loadu_ps (y + (i * WINO_M + j)
                                                    * WINO_LANES),
                                   sizeof *out);
      }
}

/* Whether gathers may run on a tensor of @n images of @c planes h × w
 * read @side elements square: fast gathers, every offset within 32
 * bits. */
static bool
gather_possible (size_t n, size_t c, size_t h, size_t w, size_t side)
{
  return gathers_fast () && n * c * h * w <= INT32_MAX
         && w <= INT32_MAX / side;
}

/* blocks[] for the chunk's tiles in a tensor of @c planes h × w, each
 * tile's @side × @side square starting at (4·ty − pad_top, 4·tx −
 * pad_left): the input's patches (side 6), or the output's blocks (4). */
static void
plan_blocks (const Wino *k, size_t c, size_t h, size_t w, ptrdiff_t pad_top,
             ptrdiff_t pad_left, size_t side, GatherBlock *blocks)
{
  const WinoShape *s = k->s;

  for (size_t p0 = 0; p0 < k->count; p0 += WINO_LANES)
    {
      GatherBlock *g = &blocks[p0 / WINO_LANES];
      TilePos p = tile_pos (s, k->first + p0);

      memset (g, 0, sizeof *g);
      for (size_t l = 0; l < WINO_LANES && p0 + l < k->count;
           l++, tile_next (s, &p))
        {
          ptrdiff_t r0 = (ptrdiff_t) (p.ty * WINO_M) - pad_top;
          ptrdiff_t c0 = (ptrdiff_t) (p.tx * WINO_M) - pad_left;

          g->offset[l] = (int32_t) ((ptrdiff_t) (p.image * c * h * w)
                                    + r0 * (ptrdiff_t) w + c0);
          for (ptrdiff_t i = 0; i < (ptrdiff_t) side; i++)
            {
              if (r0 + i >= 0 && r0 + i < (ptrdiff_t) h)
                g->row_mask[i] |= (uint16_t) (1u << l);
              if (c0 + i >= 0 && c0 + i < (ptrdiff_t) w)
                g->col_mask[i] |= (uint16_t) (1u << l);
            }
        }
    }
}
#endif

/* V[ξ] row c, columns [p0, p0 + lanes), from channel c of the tiles
 * first + p0 + l; lanes past the chunk's count are zero. */
GF_CLONES
static void
input_block (const Wino *k, size_t c, size_t p0)
{
  const WinoShape *s = k->s;
  const size_t plane = s->in_h * s->in_w;
  gf_real d[WINO_XI * WINO_LANES], t[WINO_XI * WINO_LANES], *dst;
  size_t xs;
  TilePos p = tile_pos (s, k->first + p0);

#ifdef WINO_GATHER
  if (k->gather != NULL)
    gather_tiles (k->in + c * plane, &k->gather[p0 / WINO_LANES], s->in_w,
                  WINO_A, d);
  else
#endif
  for (size_t l = 0; l < WINO_LANES; l++, tile_next (s, &p))
    if (p0 + l < k->count)
      load_patch (s, k->in + (p.image * s->in_c + c) * plane, &p, l, d);
    else
      for (size_t xi = 0; xi < WINO_XI; xi++)
        d[xi * WINO_LANES + l] = 0;
  for (size_t j = 0; j < WINO_A; j++)
    wino_bt (d + j * WINO_LANES, WINO_A * WINO_LANES,
             t + j * WINO_LANES, WINO_A * WINO_LANES);
  /* V[ξ] of channel c and these lanes, then the next ξ's xs apart. */
  if (k->panels)
    {
      xs = s->in_c * s->chunk;
      dst = k->v + (p0 / WINO_UNIT * s->in_c + c) * WINO_UNIT
            + p0 % WINO_UNIT;
    }
  else
    {
      xs = s->chunk;
      dst = k->v + c * WINO_XI * s->chunk + p0;
    }
  for (size_t i = 0; i < WINO_A; i++)
    wino_bt (t + i * WINO_A * WINO_LANES, WINO_LANES,
             dst + i * WINO_A * xs, xs);
}

static void
wino_inputs (void *data, size_t begin, size_t end, size_t chunk)
{
  const Wino *k = data;

  for (size_t c = begin; c < end; c++)
    for (size_t p0 = 0; p0 < k->count; p0 += WINO_LANES)
      input_block (k, c, p0);
}

/* k->gather, room for a chunk's blocks of lanes, where gathers may run
 * (else, or when it cannot be had, NULL: the patches are copied). */
static void
wino_gather_start (Wino *k)
{
  k->gather = k->outputs = NULL;
  k->gather_filters = false;
#ifdef WINO_GATHER
  const WinoShape *s = k->s;
  size_t blocks = s->chunk / WINO_LANES + 1;

  /* The filters' offsets: (out, in, 3, 3) elements, 16 lanes apart by
   * out·9 at most when rotated. */
  k->gather_filters = gathers_fast ()
                      && s->out_c * s->in_c <= INT32_MAX / 9;
  if (gather_possible (s->n, s->in_c, s->in_h, s->in_w, WINO_A))
    k->gather = malloc (blocks * sizeof *k->gather);
  if (gather_possible (s->n, s->out_c, s->out_h, s->out_w, WINO_M))
    k->outputs = malloc (blocks * sizeof *k->outputs);
#endif
}

static void
wino_gather_end (Wino *k)
{
  free (k->gather);
  free (k->outputs);
}

/* The chunk's input transform: every channel of its tiles into V (and
 * the blocks of lanes for the outputs). */
static void
wino_input_chunk (Wino *k)
{
#ifdef WINO_GATHER
  const WinoShape *s = k->s;

  if (k->gather != NULL)
    plan_blocks (k, s->in_c, s->in_h, s->in_w, s->pad_top, s->pad_left,
                 WINO_A, k->gather);
  if (k->outputs != NULL)
    plan_blocks (k, s->out_c, s->out_h, s->out_w, 0, 0, WINO_M, k->outputs);
#endif
  gf_parallel_for (k->s->in_c, k->count * WINO_TILE_COST, wino_inputs, k);
}

/* ---- Products ----------------------------------------------------------- */

/* Mo[ξ] (o_n, P) = U[ξ] (o_n, in) · V[ξ] (in, P) for the block's output
 * channels, P the chunk's tiles rounded up to whole lanes; U[ξ] is rows ξ
 * of U's (o_n, 36, in), and so on. */
#ifdef GF_MICROKERNEL
/* Mo[ξ] rows [r0, r0 + 8) (those below o_n) of the block's output
 * channels, one panel's columns, += (or, for the first block of input
 * channels, =) U[ξ] rows × V[ξ]'s panel rows [k0, k0 + k_n) at @b. */
__attribute__ ((target ("avx512f"), always_inline))
static inline void
panel_block (const Wino *k, size_t xi, size_t r0, size_t k0, size_t k_n,
             const float *b, float *mo, const __mmask16 mask[GF_MK_VECS],
             size_t vecs)
{
  const WinoShape *s = k->s;
  const size_t rows = size_min (GF_MK_ROWS, k->o_n - r0);
  const float *a[GF_MK_ROWS];
  __m512 acc[GF_MK_ROWS][GF_MK_VECS];

#pragma GCC unroll 8
  for (size_t r = 0; r < GF_MK_ROWS; r++)
    {
      a[r] = k->u + ((r < rows ? r0 + r : k->o_n - 1) * WINO_XI + xi)
                    * s->in_c + k0;
#pragma GCC unroll 3
      for (size_t v = 0; v < GF_MK_VECS; v++)
        acc[r][v] = _mm512_setzero_ps ();
    }
  gf_mk_sum (a, b, GF_MK_COLS, k_n, mask, vecs, 0, acc);
#pragma GCC unroll 8
  for (size_t r = 0; r < GF_MK_ROWS; r++)
    {
      float *dst = mo + (r0 + r) * WINO_XI * s->chunk;

      if (r >= rows)
        break;
#pragma GCC unroll 3
      for (size_t v = 0; v < vecs; v++)
        {
          __m512 sum = acc[r][v];

          if (k0 > 0)
            sum = _mm512_add_ps (sum, _mm512_maskz_loadu_ps (
                                        mask[v], dst + v * GF_MK_LANES));
          _mm512_mask_storeu_ps (dst + v * GF_MK_LANES, mask[v], sum);
        }
    }
}

/* Tasks [begin, end) of (ξ, panel) pairs: Mo[ξ]'s panel for the block's
 * output channels, in blocks of WINO_K_BLOCK input channels (each sum in
 * the order of the channels, whatever the split). */
__attribute__ ((target ("avx512f")))
static void
wino_panel_products (void *data, size_t begin, size_t end, size_t chunk)
{
  const Wino *k = data;
  const WinoShape *s = k->s;
  const size_t cols = round_up (k->count, WINO_LANES);
  const size_t panels = (cols + GF_MK_COLS - 1) / GF_MK_COLS;
  float *mo = k->mo + k->o0 * WINO_XI * s->chunk;

  (void) chunk;
  for (size_t task = begin; task < end; task++)
    {
      const size_t xi = task / panels, q = task % panels;
      const size_t n = size_min (GF_MK_COLS, cols - q * GF_MK_COLS);
      const float *b = k->v + (xi * s->chunk + q * GF_MK_COLS) * s->in_c;
      float *c = mo + xi * s->chunk + q * GF_MK_COLS;
      __mmask16 mask[GF_MK_VECS];

      for (size_t v = 0; v < GF_MK_VECS; v++)
        mask[v] = gf_mk_mask (n, v);
      for (size_t k0 = 0; k0 < s->in_c; k0 += WINO_K_BLOCK)
        {
          const size_t k_n = size_min (WINO_K_BLOCK, s->in_c - k0);
          const float *bk = b + k0 * GF_MK_COLS;

          /* A panel's last vectors may lie past the chunk: those its
           * block does not sum (64 tiles a sub-batch at 7×7 are a whole
           * panel and a third of one). */
          for (size_t r0 = 0; r0 < k->o_n; r0 += GF_MK_ROWS)
            if (n > 2 * GF_MK_LANES)
              panel_block (k, xi, r0, k0, k_n, bk, c, mask, 3);
            else if (n > GF_MK_LANES)
              panel_block (k, xi, r0, k0, k_n, bk, c, mask, 2);
            else
              panel_block (k, xi, r0, k0, k_n, bk, c, mask, 1);
        }
    }
}
#endif

static void
wino_products (const Wino *k)
{
  const WinoShape *s = k->s;
  const size_t cols = round_up (k->count, WINO_LANES);
  gf_real *mo = k->mo + k->o0 * WINO_XI * s->chunk;

#ifdef GF_MICROKERNEL
  if (k->panels)
    {
      const size_t panels = (cols + GF_MK_COLS - 1) / GF_MK_COLS;

      gf_parallel_for (WINO_XI * panels, k->o_n * s->in_c * GF_MK_COLS,
                       wino_panel_products, (void *) k);
      return;
    }
#endif
  for (size_t xi = 0; xi < WINO_XI; xi++)
    gf_gemm (0, 0, k->o_n, cols, s->in_c,
             1, k->u + xi * s->in_c, WINO_XI * s->in_c,
             k->v + xi * s->chunk, WINO_XI * s->chunk,
             0, mo + xi * s->chunk, WINO_XI * s->chunk);
}

/* ---- Output transform --------------------------------------------------- */

/* out[i·os + l] = (Aᵀ m)[i], i < 4, for lanes l, m[k] = in[k·is + l]. */
static inline void
wino_at (const gf_real *restrict in, size_t is, gf_real *restrict out,
         size_t os)
{
  const WinoVec m1 = *(const WinoVec *) (in + is);
  const WinoVec m2 = *(const WinoVec *) (in + 2 * is);
  const WinoVec m3 = *(const WinoVec *) (in + 3 * is);
  const WinoVec m4 = *(const WinoVec *) (in + 4 * is);
  const WinoVec a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;

  *(WinoVec *) out = *(const WinoVec *) in + a + c;
  *(WinoVec *) (out + os) = b + 2 * d;
  *(WinoVec *) (out + 2 * os) = a + 4 * c;
  *(WinoVec *) (out + 3 * os) = b + 8 * d + *(const WinoVec *) (in + 5 * is);
}

/* Writes lane l of y (4, 4, lanes) into channel plane dst (OH, OW) at
 * tile p, clipped to the plane. */
static void
store_tile (const WinoShape *s, const gf_real *y, size_t l,
            const TilePos *p, gf_real *dst)
{
  size_t r0 = p->ty * WINO_M, c0 = p->tx * WINO_M;
  size_t rows = size_min (WINO_M, s->out_h - r0);
  size_t cols = size_min (WINO_M, s->out_w - c0);

  dst += r0 * s->out_w + c0;
  for (size_t i = 0; i < rows; i++, dst += s->out_w)
    for (size_t j = 0; j < cols; j++)
      dst[j] = y[(i * WINO_M + j) * WINO_LANES + l];
}

/* Output channel o of the tiles first + p0 + l, from Mo[ξ] row o. */
GF_CLONES
static void
output_block (const Wino *k, size_t o, size_t p0)
{
  const WinoShape *s = k->s;
  const size_t plane = s->out_h * s->out_w, ms = s->chunk;
  const gf_real bias = k->b != NULL ? k->b[o] : 0;
  const gf_real *m = k->mo + o * WINO_XI * s->chunk + p0;
  gf_real t[WINO_M * WINO_A * WINO_LANES], y[WINO_M * WINO_M * WINO_LANES];
  TilePos p = tile_pos (s, k->first + p0);

  for (size_t j = 0; j < WINO_A; j++)
    wino_at (m + j * ms, WINO_A * ms, t + j * WINO_LANES,
             WINO_A * WINO_LANES);
  for (size_t i = 0; i < WINO_M; i++)
    wino_at (t + i * WINO_A * WINO_LANES, WINO_LANES,
             y + i * WINO_M * WINO_LANES, WINO_LANES);
  for (size_t i = 0; i < WINO_M * WINO_M * WINO_LANES; i++)
    y[i] += bias;
  if (k->act != NULL)
    gf_activation_forward_block (k->act, WINO_M * WINO_M * WINO_LANES, y, y);
#ifdef WINO_GATHER
  if (k->outputs != NULL)
    {
      scatter_tiles (k->out + o * plane, &k->outputs[p0 / WINO_LANES],
                     s->out_w, y);
      return;
    }
#endif
  for (size_t l = 0; l < WINO_LANES && p0 + l < k->count;
       l++, tile_next (s, &p))
    store_tile (s, y, l, &p, k->out + (p.image * s->out_c + o) * plane);
}

/* Output channels o0 + [begin, end). */
static void
wino_outputs (void *data, size_t begin, size_t end, size_t chunk)
{
  const Wino *k = data;

  for (size_t o = k->o0 + begin; o < k->o0 + end; o++)
    for (size_t p0 = 0; p0 < k->count; p0 += WINO_LANES)
      output_block (k, o, p0);
}

/* ---- Weight gradient ---------------------------------------------------- */

/* Backpropagating through y = Aᵀ (Σ_c U ⊙ V) A: dMo = A dy Aᵀ for each
 * output channel's 4×4 block of dy, dU[ξ] (out, in) = Σ_tiles dMo[ξ] V[ξ]ᵀ,
 * and dW += Gᵀ dU G.  The sums over tiles are GEMMs accumulating into dU
 * chunk after chunk, in a fixed order. */

/* out[a·os + l] = (A t)[a], a < 6, for lanes l, t[i] = in[i·is + l]. */
static inline void
wino_a (const gf_real *restrict in, size_t is, gf_real *restrict out,
        size_t os)
{
  const WinoVec t0 = *(const WinoVec *) in;
  const WinoVec t1 = *(const WinoVec *) (in + is);
  const WinoVec t2 = *(const WinoVec *) (in + 2 * is);
  const WinoVec t3 = *(const WinoVec *) (in + 3 * is);
  const WinoVec even = t0 + t2, odd = t1 + t3;
  const WinoVec even4 = t0 + 4 * t2, odd2 = 2 * t1 + 8 * t3;

  *(WinoVec *) out = t0;
  *(WinoVec *) (out + os) = even + odd;
  *(WinoVec *) (out + 2 * os) = even - odd;
  *(WinoVec *) (out + 3 * os) = even4 + odd2;
  *(WinoVec *) (out + 4 * os) = even4 - odd2;
  *(WinoVec *) (out + 5 * os) = t3;
}

/* out[k·os + l] = (Gᵀ v)[k], k < 3, for lanes l, v[a] = in[a·is + l]. */
static inline void
wino_gt (const gf_real *restrict in, size_t is, gf_real *restrict out,
         size_t os)
{
  const gf_real q = (gf_real) (1.0 / 4), s = (gf_real) (1.0 / 6);
  const gf_real t = (gf_real) (1.0 / 12), f = (gf_real) (1.0 / 24);
  const WinoVec v0 = *(const WinoVec *) in;
  const WinoVec v1 = *(const WinoVec *) (in + is);
  const WinoVec v2 = *(const WinoVec *) (in + 2 * is);
  const WinoVec v3 = *(const WinoVec *) (in + 3 * is);
  const WinoVec v4 = *(const WinoVec *) (in + 4 * is);
  const WinoVec v5 = *(const WinoVec *) (in + 5 * is);

  *(WinoVec *) out = q * v0 - s * (v1 + v2) + f * (v3 + v4);
  *(WinoVec *) (out + os) = s * (v2 - v1) + t * (v3 - v4);
  *(WinoVec *) (out + 2 * os) = s * (v3 + v4 - v1 - v2) + v5;
}

/* t (4, 4, lanes), lane l = the 4×4 block of channel plane src (OH, OW)
 * under tile p, zero outside the plane. */
static void
load_block (const WinoShape *s, const gf_real *src, const TilePos *p,
            size_t l, gf_real *t)
{
  size_t r0 = p->ty * WINO_M, c0 = p->tx * WINO_M;
  size_t rows = size_min (WINO_M, s->out_h - r0);
  size_t cols = size_min (WINO_M, s->out_w - c0);

  src += r0 * s->out_w + c0;
  for (size_t i = 0; i < WINO_M; i++, src += s->out_w)
    for (size_t j = 0; j < WINO_M; j++)
      t[(i * WINO_M + j) * WINO_LANES + l]
        = i < rows && j < cols ? src[j] : 0;
}

/* dMo rows (o, ξ), columns [p0, p0 + lanes), from dy's channel o at the
 * tiles first + p0 + l; lanes past the chunk's count are zero. */
GF_CLONES
static void
grad_output_block (const Wino *k, size_t o, size_t p0)
{
  const WinoShape *s = k->s;
  const size_t plane = s->out_h * s->out_w;
  gf_real t[WINO_M * WINO_M * WINO_LANES], a[WINO_A * WINO_M * WINO_LANES];
  TilePos p = tile_pos (s, k->first + p0);

#ifdef WINO_GATHER
  if (k->outputs != NULL)
    gather_tiles (k->dy + o * plane, &k->outputs[p0 / WINO_LANES], s->out_w,
                  WINO_M, t);
  else
#endif
  for (size_t l = 0; l < WINO_LANES; l++, tile_next (s, &p))
    if (p0 + l < k->count)
      load_block (s, k->dy + (p.image * s->out_c + o) * plane, &p, l, t);
    else
      for (size_t i = 0; i < WINO_M * WINO_M; i++)
        t[i * WINO_LANES + l] = 0;
  for (size_t j = 0; j < WINO_M; j++)
    wino_a (t + j * WINO_LANES, WINO_M * WINO_LANES,
            a + j * WINO_LANES, WINO_M * WINO_LANES);
  for (size_t i = 0; i < WINO_A; i++)
    wino_a (a + i * WINO_M * WINO_LANES, WINO_LANES,
            k->mo + (o * WINO_XI + i * WINO_A) * s->chunk + p0, s->chunk);
}

static void
wino_grad_outputs (void *data, size_t begin, size_t end, size_t chunk)
{
  const Wino *k = data;

  for (size_t o = begin; o < end; o++)
    for (size_t p0 = 0; p0 < k->count; p0 += WINO_LANES)
      grad_output_block (k, o, p0);
}

/* dU[ξ] (out, in) (+)= dMo[ξ] (out, P) · V[ξ]ᵀ (P, in): the first chunk
 * writes, the others add. */
static void
wino_grad_products (const Wino *k)
{
  const WinoShape *s = k->s;
  const size_t cols = round_up (k->count, WINO_LANES);
  const gf_real beta = k->first == 0 ? 0 : 1;

  for (size_t xi = 0; xi < WINO_XI; xi++)
    gf_gemm (0, 1, s->out_c, s->in_c, cols,
             1, k->mo + xi * s->chunk, WINO_XI * s->chunk,
             k->v + xi * s->chunk, WINO_XI * s->chunk,
             beta, k->u + xi * s->in_c, WINO_XI * s->in_c);
}

/* dW[o] += Gᵀ dU G for output channels [begin, end), WINO_LANES input
 * channels at a time. */
GF_CLONES
static void
wino_filter_grads (void *data, size_t begin, size_t end, size_t chunk)
{
  const Wino *k = data;
  const WinoShape *s = k->s;
  const size_t taps = WINO_R * WINO_R;
  gf_real du[WINO_XI * WINO_LANES], t[WINO_R * WINO_A * WINO_LANES];
  gf_real g[WINO_R * WINO_R * WINO_LANES];

  for (size_t o = begin; o < end; o++)
    for (size_t i0 = 0; i0 < s->in_c; i0 += WINO_LANES)
      {
        size_t lanes = size_min (WINO_LANES, s->in_c - i0);
        const gf_real *src = k->u + o * WINO_XI * s->in_c + i0;
        gf_real *dst = k->dw + (o * s->in_c + i0) * taps;

        for (size_t xi = 0; xi < WINO_XI; xi++)
          for (size_t l = 0; l < WINO_LANES; l++)
            du[xi * WINO_LANES + l] = l < lanes ? src[xi * s->in_c + l] : 0;
        for (size_t col = 0; col < WINO_A; col++)
          wino_gt (du + col * WINO_LANES, WINO_A * WINO_LANES,
                   t + col * WINO_LANES, WINO_A * WINO_LANES);
        for (size_t row = 0; row < WINO_R; row++)
          wino_gt (t + row * WINO_A * WINO_LANES, WINO_LANES,
                   g + row * WINO_R * WINO_LANES, WINO_LANES);
        for (size_t l = 0; l < lanes; l++)
          for (size_t tap = 0; tap < taps; tap++)
            dst[l * taps + tap] += g[tap * WINO_LANES + l];
      }
}

/* ---- Driver ------------------------------------------------------------- */

/* Whether a pass's products run on the engine's register blocks (V
 * then in panels): float, AVX-512 and WINO_PANEL_MIN_IN channels into
 * them; the weight gradient's transposed products stay with OpenBLAS. */
static bool
wino_panels (const WinoShape *s)
{
#ifdef GF_MICROKERNEL
  return s->in_c >= WINO_PANEL_MIN_IN && __builtin_cpu_supports ("avx512f");
#else
  (void) s;
  return false;
#endif
}

bool
gf_winograd_products_blocked (const GfConv2d *conv)
{
  WinoShape f = shape_forward (conv), b = shape_backward (conv);

  return wino_panels (&f) && wino_panels (&b);
}

static void
wino_carve (Wino *k, gf_real *workspace)
{
  const WinoShape *s = k->s;

  if (s->chunk > s->chunk_cap)
    abort ();             /* the workspace was planned for less */
  k->u = workspace;
  k->v = k->u + WINO_XI * s->out_c * s->in_c;
  k->mo = k->v + WINO_XI * s->in_c * s->chunk;
}

/* Output channels per block: the block's U, 36·in per channel, should
 * stay in cache from its transform to its GEMMs.  With 512 channels the
 * whole U is 36 MiB, and writing it out and reading it back from memory
 * cost as much as the GEMMs on small batches of 7×7 planes.  Smaller
 * blocks make thinner GEMMs: on ResNet-18's 512-channel 7×7 layer, blocks
 * of 4 MiB ran batch 8 12% faster than 8 MiB but batch 32 14% slower, and
 * the whole U at once up to 20% slower than 8 MiB at batch 8 and as fast
 * at batch 32. */
static size_t
filter_block (const WinoShape *s)
{
  size_t block = WINO_FILTER_BLOCK_ELEMENTS / (WINO_XI * s->in_c), n;

  if (block < 1)
    block = 1;
  if (block >= s->out_c)
    return s->out_c;
  /* Blocks of about even size in whole GEMM rows: 256 channels of 256
   * inputs as 2 of 128, not 227 and a thin 29 (even blocks of 103 rows,
   * not multiples of 16, ran slower than either). */
  n = (s->out_c + block - 1) / block;
  return size_min (round_up ((s->out_c + n - 1) / n, WINO_BLOCK_ROWS),
                   s->out_c);
}

/* The block's U (unless the caller made it for all channels), its GEMMs
 * and its outputs. */
static void
wino_block (Wino *k, size_t block)
{
  const WinoShape *s = k->s;

  k->o_n = size_min (block, s->out_c - k->o0);
  if (block < s->out_c)
    gf_parallel_for (k->o_n, s->in_c * WINO_XI * WINO_R, wino_filters, k);
  wino_products (k);
  gf_parallel_for (k->o_n, k->count * WINO_TILE_COST, wino_outputs, k);
}

/* With one block for all output channels, U is made once per call;
 * otherwise once per block and chunk, which costs some 150·in element
 * operations per output channel against its GEMMs' 72·in·P (and P is
 * WINO_MIN_TILES or more whenever there is more than one chunk). */
static void
wino_run (Wino *k, gf_real *workspace)
{
  const WinoShape *s = k->s;
  const size_t block = filter_block (s);

  wino_carve (k, workspace);
  wino_gather_start (k);
  k->o0 = 0;
  k->o_n = s->out_c;
  if (block == s->out_c)
    gf_parallel_for (s->out_c, s->in_c * WINO_XI * WINO_R, wino_filters, k);
  for (size_t i = 0; i < s->n_chunks; i++)
    {
      chunk_span (s, i, &k->first, &k->count);
      wino_input_chunk (k);
      for (k->o0 = 0; k->o0 < s->out_c; k->o0 += block)
        wino_block (k, block);
    }
  wino_gather_end (k);
}

void
gf_winograd_forward (const GfConv2d *conv,
                     const gf_real *x, const gf_real *w, const gf_real *b,
                     gf_real *y, gf_real *workspace)
{
  WinoShape s = shape_forward (conv);
  Wino k = { .s = &s, .w = w, .rotate = false, .in = x, .b = b, .out = y,
             .act = conv->activation.kind != GF_ACT_IDENTITY
                    ? &conv->activation : NULL,
             .panels = wino_panels (&s) };

  wino_run (&k, workspace);
}

void
gf_winograd_backward_input (const GfConv2d *conv,
                            const gf_real *w, const gf_real *dy,
                            gf_real *dx, gf_real *workspace)
{
  WinoShape s = shape_backward (conv);
  Wino k = { .s = &s, .w = w, .rotate = true, .in = dy, .out = dx,
             .panels = wino_panels (&s) };

  wino_run (&k, workspace);
}

void
gf_winograd_backward_weights (const GfConv2d *conv,
                              const gf_real *x, const gf_real *dy,
                              gf_real *dw, gf_real *workspace)
{
  WinoShape s = shape_forward (conv);
  Wino k = { .s = &s, .in = x, .dy = dy, .dw = dw };

  /* dU takes U's place, dMo Mo's. */
  wino_carve (&k, workspace);
  wino_gather_start (&k);
  for (size_t i = 0; i < s.n_chunks; i++)
    {
      chunk_span (&s, i, &k.first, &k.count);
      wino_input_chunk (&k);
      gf_parallel_for (s.out_c, k.count * WINO_TILE_COST, wino_grad_outputs,
                       &k);
      wino_grad_products (&k);
    }
  gf_parallel_for (s.out_c, s.in_c * WINO_XI * WINO_R, wino_filter_grads,
                   &k);
  wino_gather_end (&k);
}
