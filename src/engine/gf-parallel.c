/* gf-parallel.c: a persistent pool of POSIX threads behind gf_parallel_for.
 *
 * One job at a time: the caller takes the dispatch lock (or, finding it
 * taken, runs inline), publishes the job and a new generation under the
 * pool lock, broadcasts, runs chunk 0 itself and waits until the workers
 * it counted have finished theirs.  Worker w (1-based) runs chunk w of
 * each generation it sees, or nothing when the job has fewer chunks.
 *
 * Waiting spins for a while before it blocks, as OpenBLAS' own threads do:
 * waking a blocked thread costs tens of microseconds (an idle virtual CPU
 * must be woken by the host), as much as a whole im2col chunk, while
 * loops come back within one GEMM.  The spin yields the CPU on every turn,
 * so a waiter takes nothing from a thread with work, OpenBLAS' included.
 *
 * OpenBLAS' threads spin for up to a tenth of a second after each GEMM,
 * so on few cores the caller, its OpenBLAS threads and the workers are
 * more threads than CPUs, and the scheduler, which sees no imbalance
 * between them, may well leave a worker on the caller's CPU: the loop
 * then runs at one thread's speed.  So on Linux each worker reports the
 * CPU it runs on, and the caller, finding one on its own, moves that
 * worker off it (onto a CPU where at most a spinning thread that yields
 * competes).
 *
 * The pool is process-wide state, the engine's one exception to "no
 * globals": it holds no data of any graph, and it is safe from any thread.
 * Workers are never joined; their handles stay reachable in static
 * storage (no leak for LeakSanitizer) and the process's exit ends them.
 */
#define _GNU_SOURCE   /* sched_getcpu, pthread_setaffinity_np, CPU_SET */

#include "gf-parallel.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "gf-engine.h"

/* The least work (in element operations, a few nanoseconds each) worth a
 * chunk of its own: a hand-off costs a few microseconds to a spinning
 * worker and some tens to a blocked one. */
#define GF_PARALLEL_GRAIN ((size_t) 1 << 16)

/* How long a waiter spins before it blocks (2 ms: a few GEMMs between two
 * loops of one convolution), and how many turns between clock reads. */
#define GF_PARALLEL_SPIN_NS 2000000
#define GF_PARALLEL_SPIN_TURNS 64

#ifdef __linux__
#define GF_PARALLEL_STEER 1
#else
#define GF_PARALLEL_STEER 0
#endif

typedef struct
{
  size_t index;          /* the chunk this worker runs, 1 … MAX − 1 */
  unsigned long seen;    /* the last generation it looked at */
  pthread_t thread;
  atomic_int cpu;        /* the CPU it last ran on, −1 when unknown */
  int avoided;           /* the CPU its affinity leaves out, or −1 */
} Worker;

typedef struct
{
  pthread_mutex_t dispatch;  /* held by the one caller whose job runs */
  pthread_mutex_t lock;      /* guards everything below */
  pthread_cond_t wake;       /* a new generation was published */
  pthread_cond_t done;       /* pending reached 0 */
  /* Written under lock; atomic so that spinning waiters may read them
   * without it. */
  atomic_ulong generation;
  atomic_size_t pending;     /* workers still running this generation */
  GfParallelFunc fn;
  void *ctx;
  size_t n, chunks;
  size_t started;
  bool start_failed;         /* pthread_create failed: stop trying */
#if GF_PARALLEL_STEER
  bool steer;                /* the process may run on several CPUs */
  cpu_set_t allowed;         /* ... these */
#endif
  Worker workers[GF_PARALLEL_MAX_THREADS];
} Pool;

static Pool pool = {
  .dispatch = PTHREAD_MUTEX_INITIALIZER,
  .lock = PTHREAD_MUTEX_INITIALIZER,
  .wake = PTHREAD_COND_INITIALIZER,
  .done = PTHREAD_COND_INITIALIZER,
};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static inline size_t
size_min (size_t a, size_t b)
{
  return a < b ? a : b;
}

/* Chunk @i of @k over [0, n): contiguous, sizes differing by at most one,
 * the larger first. */
static void
chunk_bounds (size_t n, size_t k, size_t i, size_t *begin, size_t *end)
{
  size_t base = n / k, extra = n % k;

  *begin = base * i + size_min (i, extra);
  *end = *begin + base + (i < extra ? 1 : 0);
}

static long long
monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Spins, yielding, until ready (arg) or GF_PARALLEL_SPIN_NS pass; true
 * when ready. */
static bool
spin_until (bool (*ready) (void *arg), void *arg)
{
  long long deadline = 0;

  for (unsigned turn = 0;; turn++)
    {
      if (ready (arg))
        return true;
      if (turn % GF_PARALLEL_SPIN_TURNS == 0)
        {
          long long now = monotonic_ns ();

          if (deadline == 0)
            deadline = now + GF_PARALLEL_SPIN_NS;
          else if (now > deadline)
            return false;
        }
      sched_yield ();
    }
}

static int
current_cpu (void)
{
#if GF_PARALLEL_STEER
  return sched_getcpu ();
#else
  return -1;
#endif
}

/* The worker's spin condition, which also reports where it runs. */
static bool
new_generation (void *arg)
{
  Worker *w = arg;

  atomic_store (&w->cpu, current_cpu ());
  return atomic_load (&pool.generation) != w->seen;
}

static bool
workers_done (void *arg)
{
  return atomic_load (&pool.pending) == 0;
}

/* Waits for a generation newer than w->seen and runs its chunk, forever. */
static void *
worker_main (void *data)
{
  Worker *w = data;

  for (;;)
    {
      GfParallelFunc fn;
      void *ctx;
      size_t n, chunks, begin, end;

      spin_until (new_generation, w);
      pthread_mutex_lock (&pool.lock);
      while (pool.generation == w->seen)
        pthread_cond_wait (&pool.wake, &pool.lock);
      w->seen = pool.generation;
      atomic_store (&w->cpu, current_cpu ());
      fn = pool.fn;
      ctx = pool.ctx;
      n = pool.n;
      chunks = pool.chunks;
      pthread_mutex_unlock (&pool.lock);
      if (w->index >= chunks)
        continue;
      chunk_bounds (n, chunks, w->index, &begin, &end);
      fn (ctx, begin, end, w->index);
      pthread_mutex_lock (&pool.lock);
      if (--pool.pending == 0)
        pthread_cond_signal (&pool.done);
      pthread_mutex_unlock (&pool.lock);
    }
  return NULL;
}

/* A child of fork has none of the workers, and locks perhaps held by
 * threads that no longer exist: it starts over. */
static void
pool_after_fork (void)
{
  pthread_mutex_init (&pool.dispatch, NULL);
  pthread_mutex_init (&pool.lock, NULL);
  pthread_cond_init (&pool.wake, NULL);
  pthread_cond_init (&pool.done, NULL);
  pool.started = 0;
  pool.start_failed = false;
}

static void
pool_init (void)
{
  pthread_atfork (NULL, NULL, pool_after_fork);
#if GF_PARALLEL_STEER
  pool.steer = sched_getaffinity (0, sizeof pool.allowed, &pool.allowed) == 0
               && CPU_COUNT (&pool.allowed) > 1;
#endif
}

/* Moves the job's workers that last ran on the caller's CPU off it (see
 * the top of this file).  Under the dispatch lock. */
static void
pool_steer (size_t chunks)
{
#if GF_PARALLEL_STEER
  int here = pool.steer ? sched_getcpu () : -1;

  if (here < 0 || here >= CPU_SETSIZE || !CPU_ISSET (here, &pool.allowed))
    return;
  for (size_t i = 0; i + 1 < chunks; i++)
    {
      Worker *w = &pool.workers[i];
      cpu_set_t others = pool.allowed;

      if (atomic_load (&w->cpu) != here || w->avoided == here)
        continue;
      CPU_CLR (here, &others);
      if (pthread_setaffinity_np (w->thread, sizeof others, &others) == 0)
        w->avoided = here;
    }
#endif
}

/* Starts workers until @wanted run, under the dispatch lock (so no job is
 * in flight).  Workers block every signal, which stay the application's
 * threads' to handle.  Returns how many run. */
static size_t
pool_start (size_t wanted)
{
  sigset_t all, old;

  pthread_once (&pool_once, pool_init);
  if (pool.started >= wanted || pool.start_failed)
    return pool.started;
  /* Under a limit on address space, only as many as leave room; then
   * no more tries (each would read /proc again, on every loop). */
  {
    size_t room = (size_t) gf_engine_threads_with_room
      ((int) (wanted - pool.started));
    if (pool.started + room < wanted)
      pool.start_failed = true;
    wanted = pool.started + room;
  }
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  while (pool.started < wanted)
    {
      Worker *w = &pool.workers[pool.started];

      w->index = pool.started + 1;
      w->seen = pool.generation;
      atomic_store (&w->cpu, -1);
      w->avoided = -1;
      if (pthread_create (&w->thread, NULL, worker_main, w) != 0)
        {
          pool.start_failed = true;
          break;
        }
      pool.started++;
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  return pool.started;
}

/* How many chunks a loop of @n indices of @cost each is worth. */
static size_t
chunk_count (size_t n, size_t cost)
{
  int threads = gf_engine_get_threads ();
  size_t k = threads > 1 ? (size_t) threads : 1;
  size_t grains = cost == 0 || n <= SIZE_MAX / cost
                  ? n * cost / GF_PARALLEL_GRAIN : SIZE_MAX;

  k = size_min (k, GF_PARALLEL_MAX_THREADS);
  k = size_min (k, size_min (n, grains));
  return k > 0 ? k : 1;
}

/* Publishes the job to the workers, runs chunk 0 and waits for the rest. */
static void
pool_run (size_t n, size_t chunks, GfParallelFunc fn, void *ctx)
{
  size_t begin, end;

  pool_steer (chunks);
  pthread_mutex_lock (&pool.lock);
  pool.fn = fn;
  pool.ctx = ctx;
  pool.n = n;
  pool.chunks = chunks;
  pool.pending = chunks - 1;
  pool.generation++;
  pthread_cond_broadcast (&pool.wake);
  pthread_mutex_unlock (&pool.lock);

  chunk_bounds (n, chunks, 0, &begin, &end);
  fn (ctx, begin, end, 0);

  if (spin_until (workers_done, NULL))
    return;
  pthread_mutex_lock (&pool.lock);
  while (pool.pending > 0)
    pthread_cond_wait (&pool.done, &pool.lock);
  pthread_mutex_unlock (&pool.lock);
}

void
gf_parallel_for (size_t n, size_t cost, GfParallelFunc fn, void *ctx)
{
  size_t chunks;

  if (n == 0)
    return;
  chunks = chunk_count (n, cost);
  if (chunks > 1 && pthread_mutex_trylock (&pool.dispatch) == 0)
    {
      chunks = size_min (chunks, pool_start (chunks - 1) + 1);
      if (chunks > 1)
        pool_run (n, chunks, fn, ctx);
      pthread_mutex_unlock (&pool.dispatch);
      if (chunks > 1)
        return;
    }
  fn (ctx, 0, n, 0);
}

size_t
gf_parallel_workers (void)
{
  size_t started;

  pthread_mutex_lock (&pool.dispatch);
  started = pool.started;
  pthread_mutex_unlock (&pool.dispatch);
  return started;
}
