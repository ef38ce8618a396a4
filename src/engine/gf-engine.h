/* gf-engine.h: process-wide settings of the engine's one dependency that
 * has any: the number of threads OpenBLAS runs GEMMs on. */
#pragma once

/* n <= 0 restores the default (OPENBLAS_NUM_THREADS, else all cores). */
void        gf_engine_set_threads (int n);
int         gf_engine_get_threads (void);
/* OpenBLAS' build description: version, kernel, thread limit. */
const char *gf_engine_blas_config (void);
