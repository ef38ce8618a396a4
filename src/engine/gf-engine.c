/* gf-engine.c: the thread setting, handed to OpenBLAS and kept here for
 * the worker pool (gf-parallel.c reads it on every loop), so one setting
 * governs both. */
#define _GNU_SOURCE   /* pthread_getattr_default_np */
#include "gf-engine.h"

#include <cblas.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

/* The count last set (as OpenBLAS capped it), or 0 until then and after
 * a reset, meaning OpenBLAS' own. */
static atomic_int engine_threads;
/* The most threads gf_engine_set_threads may ask for; 0: no cap. */
static atomic_int thread_cap;

/* The thread count OpenBLAS chose at start-up, before anyone changed it. */
static int
default_threads (void)
{
  const char *env = getenv ("OPENBLAS_NUM_THREADS");
  int n = env != NULL ? atoi (env) : 0;

  return n > 0 ? n : openblas_get_num_procs ();
}

void
gf_engine_cap_threads (int cap)
{
  atomic_store (&thread_cap, cap > 0 ? cap : 0);
}

void
gf_engine_set_threads (int n)
{
  int cap = atomic_load (&thread_cap);

  if (cap > 0 && n > cap)
    n = cap;
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

/* OpenBLAS splits a product over threads when its output has at least
 * this many elements a thread (SMP_THRESHOLD_MIN); the inner size hardly
 * matters, so a thin product is enough. */
#define SPLIT_ELEMENTS_PER_THREAD 65536.0
#define THIN_K 4

void
gf_engine_take_blas_buffers (void)
{
  int threads = openblas_get_num_threads ();
  size_t m = (size_t) ceil (sqrt (2 * SPLIT_ELEMENTS_PER_THREAD * threads));
  float *a = calloc (m * THIN_K, sizeof *a);
  float *b = calloc (THIN_K * m, sizeof *b);
  float *c = calloc (m * m, sizeof *c);

  if (a != NULL && b != NULL && c != NULL)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) m, (int) m,
                 THIN_K, 1.0f, a, THIN_K, b, (int) m, 0.0f, c, (int) m);
  free (a);
  free (b);
  free (c);
}

/* What a failed allocation in GLib, glibc's stdio or a thread start needs
 * to end in a message rather than a crash. */
#define ROOM_KEPT ((size_t) 32 << 20)
#define ROOM_CHECKED_FROM ((size_t) 1 << 20)

size_t
gf_engine_address_space_used (void)
{
  char text[64];
  int fd = open ("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read (fd, text, sizeof text - 1) : -1;
  size_t pages = 0;

  if (fd >= 0)
    close (fd);
  for (ssize_t i = 0; i < n && text[i] >= '0' && text[i] <= '9'; i++)
    pages = pages * 10 + (size_t) (text[i] - '0');
  return pages * (size_t) sysconf (_SC_PAGESIZE);
}

/* The bytes that may still be taken under the limit on address space,
 * ROOM_KEPT left aside; SIZE_MAX without a limit (or when unknown). */
static size_t
room_left (void)
{
  struct rlimit rl;
  size_t used;

  if (getrlimit (RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY
      || (used = gf_engine_address_space_used ()) == 0)
    return SIZE_MAX;
  return used + ROOM_KEPT < rl.rlim_cur ? rl.rlim_cur - used - ROOM_KEPT : 0;
}

int
gf_engine_has_room_for (size_t bytes)
{
  return bytes < ROOM_CHECKED_FROM || bytes <= room_left ();
}

int
gf_engine_threads_with_room (int wanted)
{
  pthread_attr_t attr;
  size_t stack = (size_t) 8 << 20, room = room_left ();

  if (room == SIZE_MAX || wanted <= 0)
    return wanted > 0 ? wanted : 0;
  if (pthread_getattr_default_np (&attr) == 0)
    {
      pthread_attr_getstacksize (&attr, &stack);
      pthread_attr_destroy (&attr);
    }
  if (stack == 0 || room / stack >= (size_t) wanted)
    return wanted;
  return (int) (room / stack);
}

const char *
gf_engine_blas_config (void)
{
  return openblas_get_config ();
}
