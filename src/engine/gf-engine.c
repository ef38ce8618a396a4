/* gf-engine.c: thread settings, delegated to OpenBLAS. */
#include "gf-engine.h"

#include <cblas.h>
#include <stdlib.h>

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
}

int
gf_engine_get_threads (void)
{
  return openblas_get_num_threads ();
}

const char *
gf_engine_blas_config (void)
{
  return openblas_get_config ();
}
