/* gf-engine.h: process-wide settings: the number of threads OpenBLAS runs
 * GEMMs on, which is also the number the engine's own worker pool
 * (gf-parallel.h) splits the loops around them into. */
#pragma once

/* n <= 0 restores the default (OPENBLAS_NUM_THREADS, else all cores). */
void        gf_engine_set_threads (int n);
int         gf_engine_get_threads (void);
/* OpenBLAS' build description: version, kernel, thread limit. */
const char *gf_engine_blas_config (void);
