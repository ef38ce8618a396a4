/* gf-parallel.h: the engine's worker pool for the loops OpenBLAS does not
 * run: depthwise convolution, im2col and col2im, BatchNorm, activations,
 * pools, Add and Mul, and the graph's sums of gradients.
 *
 * gf_parallel_for splits [0, n) into contiguous chunks, one per thread, runs
 * chunk 0 on the caller and the others on persistent workers, and returns
 * when all are done.  The thread count is gf_engine_get_threads (), the one
 * setting that governs OpenBLAS too.  Workers start on first use; when none
 * can start, or the pool is busy with another caller (another graph on
 * another thread, or a nested call), the loop runs inline.  Callers must
 * make every index's result independent of the partition, so that results
 * are bit-identical at any thread count.
 */
#pragma once

#include <stddef.h>

/* Most chunks (so threads) one loop is split into; callers size per-chunk
 * scratch by it. */
#define GF_PARALLEL_MAX_THREADS 64

/* Runs indices [begin, end) of a loop as chunk @chunk (< the chunk count,
 * so < GF_PARALLEL_MAX_THREADS), for per-chunk scratch. */
typedef void (*GfParallelFunc) (void *ctx, size_t begin, size_t end,
                                size_t chunk);

/* fn over [0, n) in at most gf_engine_get_threads () chunks, chunk i being
 * [n·i/k, n·(i+1)/k) of k; @cost is the work of one index (in element
 * operations, roughly), so that loops too small to repay a hand-off run
 * inline as the single chunk [0, n).  n == 0 calls nothing. */
void   gf_parallel_for (size_t n, size_t cost, GfParallelFunc fn, void *ctx);

/* Workers started so far (not counting callers); for tests. */
size_t gf_parallel_workers (void);
