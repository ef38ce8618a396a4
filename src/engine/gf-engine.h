/* gf-engine.h: process-wide settings: the number of threads OpenBLAS runs
 * GEMMs on, which is also the number the engine's own worker pool
 * (gf-parallel.h) splits the loops around them into. */
#pragma once

#include <stddef.h>

/* n <= 0 restores the default (OPENBLAS_NUM_THREADS, else all cores). */
void        gf_engine_set_threads (int n);
int         gf_engine_get_threads (void);
/* OpenBLAS takes a 128 MiB work buffer for each of its threads (those
 * beside the main one as the library loads), and retries forever when
 * that allocation fails: under a limit on address space (ulimit -v,
 * prlimit --as) a process would hang.  The number of threads whose
 * buffers the limit leaves room for: 0 when not even one fits, -1 when
 * there is no limit; *needed and *limit (bytes) say why. */
int         gf_engine_threads_for_limit (size_t *needed, size_t *limit);
/* Makes OpenBLAS take the calling thread's work buffer now, while the
 * room for it is known to be there (a 1×1 product). */
void        gf_engine_take_blas_buffer (void);
/* OpenBLAS' build description: version, kernel, thread limit. */
const char *gf_engine_blas_config (void);
