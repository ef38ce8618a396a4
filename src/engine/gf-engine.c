/* gf-engine.c: the thread setting, handed to OpenBLAS and kept here for
 * the worker pool (gf-parallel.c reads it on every loop), so one setting
 * governs both. */
#include "gf-engine.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>

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

/* OpenBLAS' BUFFER_SIZE on x86-64 (128 MiB), taken by each of its
 * threads; a thread beside the main one also costs glibc a malloc arena's
 * reservation (64 MiB) and its stack (8 MiB).  The process itself (the
 * libraries, one thread) takes about 52 MiB before any work; a margin
 * covers that and the first tensors. */
#define BLAS_BUFFER ((size_t) 128 << 20)
#define THREAD_EXTRA (((size_t) 64 << 20) + ((size_t) 8 << 20))
#define BASE_AND_MARGIN ((size_t) 96 << 20)

int
gf_engine_threads_for_limit (size_t *needed, size_t *limit)
{
  struct rlimit rl;
  size_t one = BASE_AND_MARGIN + BLAS_BUFFER;

  *needed = one;
  if (getrlimit (RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    {
      *limit = SIZE_MAX;
      return -1;
    }
  *limit = (size_t) rl.rlim_cur;
  if (*limit < one)
    return 0;
  return 1 + (int) ((*limit - one) / (BLAS_BUFFER + THREAD_EXTRA));
}

void
gf_engine_take_blas_buffer (void)
{
  float a = 1, b = 1, c = 0;

  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f,
               &a, 1, &b, 1, 0.0f, &c, 1);
}

const char *
gf_engine_blas_config (void)
{
  return openblas_get_config ();
}
