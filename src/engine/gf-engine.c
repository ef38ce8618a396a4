/* gf-engine.c: the thread setting, handed to OpenBLAS and kept here for
 * the worker pool (gf-parallel.c reads it on every loop), so one setting
 * governs both. */
#include "gf-engine.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdlib.h>

/* The count last set (as OpenBLAS capped it), or 0 until then and after
 * a reset, meaning OpenBLAS' own. */
static atomic_int engine_threads;

/* The thread count OpenBLAS chose at start-up, before anyone changed it. */
static int
default_threads (void)
{
  const char *env = getenv ("OPENBLAS_NUM_THREADS");
  int n = env != NULL ? atoi (env) : 0;

  return n > 0 ? n : openblas_get_num_procs ();
}

void
gf_engine_set_threads (int n)
{
  openblas_set_num_threads (n > 0 ? n : default_threads ());
  atomic_store (&engine_threads, n > 0 ? openblas_get_num_threads () : 0);
}

int
gf_engine_get_threads (void)
{
  int n = atomic_load (&engine_threads);

  return n > 0 ? n : openblas_get_num_threads ();
}

const char *
gf_engine_blas_config (void)
{
  return openblas_get_config ();
}
