/* gf-engine.c: the thread setting, handed to OpenBLAS and kept here for
 * the worker pool (gf-parallel.c reads it on every loop), so one setting
 * governs both; and the choice of OpenBLAS' kernels at start. */
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
#include <string.h>
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

int
gf_engine_blas_serial (void)
{
  int threads = gf_engine_get_threads ();

  openblas_set_num_threads (1);
  return threads;
}

void
gf_engine_blas_restore (int threads)
{
  openblas_set_num_threads (threads);
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
 * matters, so a thin product is enough, but not too thin: OpenBLAS'
 * AVX-512 kernels compute a product of up to 10^6 multiply-adds without a
 * buffer (at K = 4 this one did, and the training thread's first product
 * then found none set aside and waited for ever for room for one). */
#define SPLIT_ELEMENTS_PER_THREAD 65536.0
#define THIN_K 16

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

/* OpenBLAS built with DYNAMIC_ARCH picks its kernels from the CPU's
 * model number at load; a model it does not know (Debian 12's 0.3.21 on
 * Sapphire or Emerald Rapids) gets the SSE3 "Prescott" kernels, four to
 * five times slower than the AVX-512 ones the CPU runs.  Its own remedy
 * is OPENBLAS_CORETYPE, read when it chooses: so, before anything has
 * used it, drop the choice, name the kernels the CPU's features allow,
 * and let it choose again.  Only the choice of kernels is redone
 * (gotoblas_dynamic_quit/init), not the whole library: a full
 * gotoblas_quit releases the buffers it took at load but does not
 * forget them, and its destructor released them a second time at exit,
 * unmapping whatever had been mapped there since (AddressSanitizer's
 * own tables in 1 exit in 10).  A kernel family is ranked by the widest
 * vectors it uses; a user's OPENBLAS_CORETYPE is left alone, and so is a
 * choice that is already as good as the CPU allows (valgrind, for one,
 * hides AVX-512, and then AVX2 is chosen).  The two entry points are
 * weak: an OpenBLAS without them keeps its own choice. */
void gotoblas_dynamic_init (void) __attribute__ ((weak));
void gotoblas_dynamic_quit (void) __attribute__ ((weak));

enum { KERNELS_OLDER, KERNELS_AVX2, KERNELS_AVX512 };

static int
kernel_rank (const char *corename)
{
  static const char *const avx512[] = { "SkylakeX", "Cooperlake",
                                        "SapphireRapids" };
  static const char *const avx2[] = { "Haswell", "Zen" };

  for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
    if (strcasecmp (corename, avx512[i]) == 0)
      return KERNELS_AVX512;
  for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
    if (strcasecmp (corename, avx2[i]) == 0)
      return KERNELS_AVX2;
  return KERNELS_OLDER;
}

const char *
gf_engine_best_blas_kernels (void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
      && __builtin_cpu_supports ("avx512vl")
      && __builtin_cpu_supports ("avx512dq")
      && __builtin_cpu_supports ("avx512cd"))
    return "SkylakeX";
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    return "Haswell";
#endif
  return NULL;
}

static void __attribute__ ((constructor))
choose_blas_kernels (void)
{
  const char *best = gf_engine_best_blas_kernels ();

  if (best == NULL || getenv ("OPENBLAS_CORETYPE") != NULL
      || gotoblas_dynamic_init == NULL || gotoblas_dynamic_quit == NULL
      || kernel_rank (openblas_get_corename ()) >= kernel_rank (best))
    return;
  gotoblas_dynamic_quit ();
  setenv ("OPENBLAS_CORETYPE", best, 0);
  gotoblas_dynamic_init ();
  /* Only for the choice above: programs this one starts choose afresh. */
  unsetenv ("OPENBLAS_CORETYPE");
}

const char *
gf_engine_blas_core (void)
{
  return openblas_get_corename ();
}

const char *
gf_engine_blas_config (void)
{
  return openblas_get_config ();
}
