/* test-parallel.c: gf_parallel_for covers every index exactly once in
 * contiguous chunks of near-equal size, one per thread at most, chunk 0 on
 * the caller; small loops, n == 0 and one thread run inline; nested and
 * concurrent callers run inline rather than wait.  And the engine gives
 * OpenBLAS the kernels the CPU's features allow, unless OPENBLAS_CORETYPE
 * names others, without OpenBLAS releasing anything twice at exit. */
#include <cblas.h>
#include <pthread.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gf-engine.h"
#include "gf-parallel.h"
#include "gf-test-util.h"
#include "graft-test-limits.h"

/* An index's cost that splits any loop of two or more indices. */
#define HEAVY ((size_t) 1 << 40)

#define MAX_N 1000

/* What each index saw: how often it ran, in which chunk, on which thread. */
typedef struct
{
  atomic_int runs[MAX_N];
  size_t chunk[MAX_N];
  bool on_caller[MAX_N];
  atomic_int calls;
  pthread_t caller;
} Coverage;

static void
record (void *data, size_t begin, size_t end, size_t chunk)
{
  Coverage *cov = data;
  bool on_caller = pthread_equal (pthread_self (), cov->caller);

  atomic_fetch_add (&cov->calls, 1);
  for (size_t i = begin; i < end; i++)
    {
      atomic_fetch_add (&cov->runs[i], 1);
      cov->chunk[i] = chunk;
      cov->on_caller[i] = on_caller;
    }
}

static Coverage *
coverage_run (size_t n, size_t cost)
{
  Coverage *cov = g_new0 (Coverage, 1);

  cov->caller = pthread_self ();
  gf_parallel_for (n, cost, record, cov);
  return cov;
}

/* Each index once; chunks numbered from 0 in index order, contiguous, at
 * most @threads of them, sizes within one of each other; chunk 0 on the
 * caller.  Returns the number of chunks. */
static size_t
assert_partition (const Coverage *cov, size_t n, size_t threads)
{
  size_t chunks = 0, smallest = SIZE_MAX, largest = 0, size = 0;

  for (size_t i = 0; i < n; i++)
    {
      g_assert_cmpint (atomic_load (&cov->runs[i]), ==, 1);
      if (i == 0 || cov->chunk[i] != cov->chunk[i - 1])
        {
          g_assert_cmpuint (cov->chunk[i], ==, chunks);
          if (chunks > 0)
            smallest = MIN (smallest, size), largest = MAX (largest, size);
          chunks++;
          size = 0;
        }
      size++;
      g_assert_true (cov->on_caller[i] == (cov->chunk[i] == 0));
    }
  smallest = MIN (smallest, size), largest = MAX (largest, size);
  g_assert_cmpuint (chunks, <=, threads);
  g_assert_cmpuint (largest - smallest, <=, 1);
  g_assert_cmpint (atomic_load (&cov->calls), ==, chunks);
  return chunks;
}

static void
test_parallel_covers_once (void)
{
  static const size_t sizes[] = { 1, 2, 3, 4, 5, 7, 64, 999, MAX_N };

  for (int threads = 1; threads <= 5; threads++)
    {
      gf_engine_set_threads (threads);
      for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
        {
          g_autofree Coverage *cov = coverage_run (sizes[s], HEAVY);
          size_t chunks = assert_partition (cov, sizes[s], threads);

          /* Heavy loops use every thread they can, unless the system
           * refused to start one. */
          if (gf_parallel_workers () + 1 >= (size_t) threads)
            g_assert_cmpuint (chunks, ==, MIN (sizes[s], (size_t) threads));
        }
    }
  g_assert_cmpuint (gf_parallel_workers (), >=, 1);
  gf_engine_set_threads (0);
}

/* Fewer indices than threads: one chunk each. */
static void
test_parallel_fewer_than_threads (void)
{
  g_autofree Coverage *cov = NULL;

  gf_engine_set_threads (4);
  cov = coverage_run (2, HEAVY);
  g_assert_cmpuint (assert_partition (cov, 2, 4), <=, 2);
  gf_engine_set_threads (0);
}

static void
test_parallel_empty (void)
{
  g_autofree Coverage *cov = NULL;

  gf_engine_set_threads (3);
  cov = coverage_run (0, HEAVY);
  g_assert_cmpint (atomic_load (&cov->calls), ==, 0);
  gf_engine_set_threads (0);
}

/* A loop too small to repay a hand-off, or one thread: one chunk, on the
 * caller. */
static void
test_parallel_inline (void)
{
  g_autofree Coverage *small = NULL, *single = NULL;

  gf_engine_set_threads (3);
  small = coverage_run (MAX_N, 1);
  g_assert_cmpuint (assert_partition (small, MAX_N, 1), ==, 1);
  gf_engine_set_threads (1);
  single = coverage_run (MAX_N, HEAVY);
  g_assert_cmpuint (assert_partition (single, MAX_N, 1), ==, 1);
  gf_engine_set_threads (0);
}

/* A chunk that starts a loop of its own: the pool is busy, so the inner
 * loop runs inline on that chunk's thread instead of waiting for itself. */
typedef struct
{
  Coverage *inner[GF_PARALLEL_MAX_THREADS];
} Nested;

static void
nested_outer (void *data, size_t begin, size_t end, size_t chunk)
{
  Nested *nested = data;

  nested->inner[chunk] = coverage_run (MAX_N, HEAVY);
}

static void
test_parallel_nested (void)
{
  Nested nested = { { NULL } };

  gf_engine_set_threads (2);
  gf_parallel_for (2, HEAVY, nested_outer, &nested);
  for (size_t i = 0; i < G_N_ELEMENTS (nested.inner); i++)
    {
      if (nested.inner[i] != NULL)
        g_assert_cmpuint (assert_partition (nested.inner[i], MAX_N, 1),
                          ==, 1);
      g_free (nested.inner[i]);
    }
  g_assert_nonnull (nested.inner[0]);
  gf_engine_set_threads (0);
}

/* Two threads dispatching at once (two graphs on two workers): every loop
 * of each is still covered exactly once. */
#define CONCURRENT_LOOPS 200

static gpointer
dispatch_many (gpointer data)
{
  for (int i = 0; i < CONCURRENT_LOOPS; i++)
    {
      g_autofree Coverage *cov = coverage_run (MAX_N, HEAVY);

      assert_partition (cov, MAX_N, 3);
    }
  return NULL;
}

static void
test_parallel_concurrent_callers (void)
{
  GThread *other;

  gf_engine_set_threads (3);
  other = g_thread_new ("dispatch", dispatch_many, NULL);
  dispatch_many (NULL);
  g_thread_join (other);
  gf_engine_set_threads (0);
}

static bool
name_in (const char *name, const char *const *names)
{
  for (; *names != NULL; names++)
    if (g_ascii_strcasecmp (name, *names) == 0)
      return true;
  return false;
}

/* Loading the engine upgraded OpenBLAS' kernels as far as the CPU goes:
 * on this project's machines OpenBLAS alone takes SSE3 ones. */
static void
test_blas_kernels_best (void)
{
  static const char *const avx512[] = { "SkylakeX", "Cooperlake",
                                        "SapphireRapids", NULL };
  static const char *const avx2[] = { "Haswell", "Zen", "SkylakeX",
                                      "Cooperlake", "SapphireRapids", NULL };
  const char *best = gf_engine_best_blas_kernels ();
  const char *core = gf_engine_blas_core ();

  if (best == NULL || g_getenv ("OPENBLAS_CORETYPE") != NULL)
    {
      g_test_skip ("no AVX2, or OPENBLAS_CORETYPE chooses the kernels");
      return;
    }
  g_test_message ("best %s, running %s", best, core);
  g_assert_true (name_in (core, strcmp (best, "SkylakeX") == 0 ? avx512
                                                              : avx2));
}

/* This program's own mmap and munmap stand in for the C library's for
 * every caller that reaches them through the dynamic linker, OpenBLAS
 * included: each range unmapped is remembered until something is mapped
 * over it, and with --exit-watching-unmaps, unmapping one of those again
 * ends the program with UNMAPPED_TWICE.  (Not under AddressSanitizer,
 * whose own mmap and munmap these would displace.) */
#define UNMAPPED_TWICE 70
#define MAX_UNMAPPED 256

#ifndef GRAFT_TEST_UNDER_ASAN
typedef struct
{
  uintptr_t start, end;
} Range;

static Range unmapped[MAX_UNMAPPED];
static size_t n_unmapped;
static bool watching_unmaps;
static pthread_mutex_t unmapped_lock = PTHREAD_MUTEX_INITIALIZER;

/* Forgets the ranges [start, end) overlaps; returns whether any did. */
static bool
forget_unmapped (uintptr_t start, uintptr_t end)
{
  bool overlapped = false;

  for (size_t i = 0; i < n_unmapped;)
    if (unmapped[i].start < end && start < unmapped[i].end)
      {
        unmapped[i] = unmapped[--n_unmapped];
        overlapped = true;
      }
    else
      i++;
  return overlapped;
}

void *
mmap (void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
  void *p = (void *) syscall (SYS_mmap, addr, len, prot, flags, fd, offset);

  if (p != MAP_FAILED)
    {
      pthread_mutex_lock (&unmapped_lock);
      forget_unmapped ((uintptr_t) p, (uintptr_t) p + len);
      pthread_mutex_unlock (&unmapped_lock);
    }
  return p;
}

int
munmap (void *addr, size_t len)
{
  uintptr_t start = (uintptr_t) addr, end = start + len;
  bool twice;

  pthread_mutex_lock (&unmapped_lock);
  twice = forget_unmapped (start, end);
  if (n_unmapped < MAX_UNMAPPED)
    unmapped[n_unmapped++] = (Range) { start, end };
  pthread_mutex_unlock (&unmapped_lock);
  if (twice && watching_unmaps)
    {
      static const char message[] = "a range unmapped twice\n";

      write (STDERR_FILENO, message, sizeof message - 1);
      _exit (UNMAPPED_TWICE);
    }
  return (int) syscall (SYS_munmap, addr, len);
}
#endif

/* OpenBLAS, given other kernels when the engine loaded, used them and
 * ended without releasing any of its memory twice: a full restart of
 * OpenBLAS (gotoblas_quit, gotoblas_init) released its buffers again in
 * its destructor, unmapping whatever had been mapped there since. */
static void
test_blas_exit_releases_once (void)
{
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  const char *argv[] = { "/proc/self/exe", "--exit-watching-unmaps", NULL };
  int status = 0;

#ifdef GRAFT_TEST_UNDER_ASAN
  g_test_skip ("AddressSanitizer keeps its own mmap and munmap");
  return;
#endif
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT,
                               NULL, NULL, NULL, &err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("%s", err);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* The child: a product on OpenBLAS' threads, then exit. */
static int
multiply_and_exit (void)
{
  enum { N = 512 };
  float *a = g_new0 (float, N * N), *c = g_new0 (float, N * N);

#ifndef GRAFT_TEST_UNDER_ASAN
  watching_unmaps = true;
#endif
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a,
               N, a, N, 0.0f, c, N);
  g_free (a);
  g_free (c);
  return 0;
}

/* A user's OPENBLAS_CORETYPE wins: this program, started again with
 * Prescott asked for, runs Prescott. */
static void
test_blas_kernels_user (void)
{
  g_autofree char *out = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) env = g_environ_setenv (g_get_environ (),
                                         "OPENBLAS_CORETYPE", "Prescott",
                                         TRUE);
  const char *argv[] = { "/proc/self/exe", "--print-blas-core", NULL };
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_DEFAULT,
                               NULL, NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpstr (g_strstrip (out), ==, "Prescott");
}

int
main (int argc, char **argv)
{
  if (argc == 2 && strcmp (argv[1], "--print-blas-core") == 0)
    {
      printf ("%s\n", gf_engine_blas_core ());
      return 0;
    }
  if (argc == 2 && strcmp (argv[1], "--exit-watching-unmaps") == 0)
    return multiply_and_exit ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/blas/kernels-best", test_blas_kernels_best);
  g_test_add_func ("/engine/blas/kernels-user", test_blas_kernels_user);
  g_test_add_func ("/engine/blas/exit-releases-once",
                   test_blas_exit_releases_once);
  g_test_add_func ("/engine/parallel/covers-once", test_parallel_covers_once);
  g_test_add_func ("/engine/parallel/fewer-than-threads",
                   test_parallel_fewer_than_threads);
  g_test_add_func ("/engine/parallel/empty", test_parallel_empty);
  g_test_add_func ("/engine/parallel/inline", test_parallel_inline);
  g_test_add_func ("/engine/parallel/nested", test_parallel_nested);
  g_test_add_func ("/engine/parallel/concurrent-callers",
                   test_parallel_concurrent_callers);
  return g_test_run ();
}
