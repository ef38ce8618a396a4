/* gf-engine.h: process-wide settings: the number of threads OpenBLAS runs
 * GEMMs on, which is also the number the engine's own worker pool
 * (gf-parallel.h) splits the loops around them into. */
#pragma once

#include <stddef.h>

/* n <= 0 restores the default (OPENBLAS_NUM_THREADS, else all cores). */
void        gf_engine_set_threads (int n);
int         gf_engine_get_threads (void);
/* For the engine's own parallel regions, whose threads each call BLAS
 * on separate work: makes OpenBLAS run every product on its calling
 * thread, and returns the thread count gf_engine_blas_restore takes
 * back.  Products other threads start meanwhile run on one thread too. */
int         gf_engine_blas_serial (void);
void        gf_engine_blas_restore (int threads);
/* From now on gf_engine_set_threads asks for at most @cap threads (a
 * limit on memory leaves room for no more); @cap <= 0 lifts the cap. */
void        gf_engine_cap_threads (int cap);
/* OpenBLAS takes a 128 MiB work buffer for the thread that calls it
 * and one for each of its workers, at their first product, and retries
 * forever when that allocation fails: under a limit on address space
 * (ulimit -v, prlimit --as) a process would hang.  The buffers are shared
 * by every thread that calls BLAS one at a time.  The number of threads
 * whose buffers the limit leaves room for: 0 when not even one fits, -1
 * when there is no limit; *needed and *limit (bytes) say why. */
int         gf_engine_threads_for_limit (size_t *needed, size_t *limit);
/* Makes OpenBLAS take every buffer its threads use now, while the room
 * for them is known to be there (a product large enough to run on all of
 * them); later products reuse them. */
void        gf_engine_take_blas_buffers (void);
/* Under a limit on address space, whether @bytes more leave room for
 * what the libraries below allocate without checking (GLib aborts, or
 * worse, when they fail); always TRUE below a megabyte or without a
 * limit.  The engine's large allocations ask first, so that memory runs
 * out where it is reported. */
int         gf_engine_has_room_for (size_t bytes);
/* The process's address space in bytes (VmSize, from /proc/self/statm),
 * 0 when unknown.  Async-signal-safe. */
size_t      gf_engine_address_space_used (void);
/* How many of @wanted new threads leave that room beside their stacks
 * (0 to @wanted). */
int         gf_engine_threads_with_room (int wanted);
/* The OpenBLAS kernels the CPU's features allow ("SkylakeX", "Haswell"),
 * or NULL when it knows no better than OpenBLAS' own choice.  When the
 * engine is loaded it makes OpenBLAS use them if OpenBLAS chose weaker
 * ones and OPENBLAS_CORETYPE does not say otherwise. */
const char *gf_engine_best_blas_kernels (void);
/* The kernels OpenBLAS runs ("SkylakeX", "Prescott", …). */
const char *gf_engine_blas_core (void);
/* OpenBLAS' build description: version, kernel, thread limit. */
const char *gf_engine_blas_config (void);
