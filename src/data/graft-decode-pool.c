/* graft-decode-pool.c: threads of Graft's own that pull item indices from
 * a shared counter.
 *
 * Not a GThreadPool: when one of its threads cannot start (out of
 * memory, a limit on processes) g_thread_pool_new still returns the pool
 * with an error set, and a later push starts a thread again and queues
 * the work even when that fails.  Here a pool has exactly the threads it
 * started, and joins them when freed. */
#define G_LOG_DOMAIN "graft-decode-pool"

#include "graft-decode-pool.h"

#include <string.h>

#include "gf-engine.h"
#include "graft-image.h"

struct _GraftDecodePool
{
  GAsyncQueue *queue;    /* runs to work on; the pool itself means stop */
  GThread **threads;
  guint n_started;
  guint n_threads;       /* at least 1: with none started, the caller */
};

/* One run: shared by the waiting caller and the workers, on the caller's
 * stack, which outlives every worker's use of it. */
typedef struct
{
  GraftPoolFunc func;
  gpointer func_data;
  GCancellable *cancellable;
  guint n_items;
  gint next;            /* the next index to hand out, atomic */
  GMutex lock;
  GCond changed;
  guint done;           /* under lock */
  guint workers;        /* still running, under lock */
} Run;

static void
work (Run *run)
{
  while (!g_cancellable_is_cancelled (run->cancellable))
    {
      guint index = (guint) g_atomic_int_add (&run->next, 1);
      if (index >= run->n_items)
        break;
      run->func (index, run->func_data);
      g_mutex_lock (&run->lock);
      run->done++;
      g_cond_signal (&run->changed);
      g_mutex_unlock (&run->lock);
    }
  g_mutex_lock (&run->lock);
  run->workers--;
  g_cond_signal (&run->changed);
  g_mutex_unlock (&run->lock);
}

static gpointer
thread_main (gpointer data)
{
  GraftDecodePool *pool = data;
  gpointer item;

  while ((item = g_async_queue_pop (pool->queue)) != pool)
    work (item);
  return NULL;
}

/* Under a limit on address space only as many threads as leave room
 * beside their stacks, and a thread that cannot start (out of memory, a
 * limit on processes) is one fewer: the pool never fails. */
GraftDecodePool *
graft_decode_pool_new (guint n_threads)
{
  GraftDecodePool *pool = g_new0 (GraftDecodePool, 1);
  guint wanted = n_threads > 0 ? n_threads : g_get_num_processors ();

  wanted = (guint) gf_engine_threads_with_room ((int) wanted);
  pool->queue = g_async_queue_new ();
  pool->threads = g_new0 (GThread *, MAX (wanted, 1));
  for (guint i = 0; i < wanted; i++)
    {
      g_autoptr (GError) error = NULL;
      GThread *thread = g_thread_try_new ("graft-decode", thread_main, pool,
                                          &error);
      if (thread == NULL)
        {
          g_debug ("%u of %u decoding threads started: %s", i, wanted,
                   error->message);
          break;
        }
      pool->threads[pool->n_started++] = thread;
    }
  pool->n_threads = MAX (pool->n_started, 1);
  return pool;
}

void
graft_decode_pool_free (GraftDecodePool *pool)
{
  if (pool == NULL)
    return;
  for (guint i = 0; i < pool->n_started; i++)
    g_async_queue_push (pool->queue, pool);
  for (guint i = 0; i < pool->n_started; i++)
    g_thread_join (pool->threads[i]);
  g_async_queue_unref (pool->queue);
  g_free (pool->threads);
  g_free (pool);
}

guint
graft_decode_pool_get_threads (GraftDecodePool *pool)
{
  return pool->n_threads;
}

/* Hands the run to up to one worker per thread; with none, the caller's
 * thread does the work itself. */
static void
start_workers (GraftDecodePool *pool, Run *run)
{
  guint wanted = MIN (pool->n_started, run->n_items);

  /* Set before the first push: workers decrement it as they finish. */
  run->workers = wanted;
  for (guint i = 0; i < wanted; i++)
    g_async_queue_push (pool->queue, run);
  if (wanted == 0 && run->n_items > 0)
    {
      run->workers = 1;
      work (run);
    }
}

/* Waits for the workers, reporting progress on this thread as it comes. */
static void
wait_workers (Run *run, GraftPoolProgressFunc progress, gpointer data)
{
  guint reported = 0;

  g_mutex_lock (&run->lock);
  while (run->workers > 0 || (progress != NULL && run->done != reported))
    {
      if (progress != NULL && run->done != reported)
        {
          reported = run->done;
          g_mutex_unlock (&run->lock);
          progress (reported, run->n_items, data);
          g_mutex_lock (&run->lock);
        }
      else
        g_cond_wait (&run->changed, &run->lock);
    }
  g_mutex_unlock (&run->lock);
}

gboolean
graft_decode_pool_run (GraftDecodePool *pool, guint n_items,
                       GraftPoolFunc func, gpointer func_data,
                       GraftPoolProgressFunc progress,
                       gpointer progress_data, GCancellable *cancellable,
                       GError **error)
{
  Run run = { func, func_data, cancellable, n_items, 0 };

  /* Each worker overshoots the counter once: keep it far from overflow. */
  g_return_val_if_fail (n_items <= G_MAXINT / 2, FALSE);
  g_mutex_init (&run.lock);
  g_cond_init (&run.changed);
  start_workers (pool, &run);
  wait_workers (&run, progress, progress_data);
  g_mutex_clear (&run.lock);
  g_cond_clear (&run.changed);
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* ---- Batches of tensors -------------------------------------------------- */

typedef struct
{
  const GraftDecodeSpec *spec;
  const GraftDecodeItem *items;
  float *out;
  gsize image_floats;
  GError **errors;
} Batch;

static void
decode_one (guint index, gpointer data)
{
  Batch *batch = data;
  const GraftDecodeSpec *spec = batch->spec;
  const GraftDecodeItem *item = &batch->items[index];
  float *slot = batch->out + index * batch->image_floats;
  g_autoptr (GError) local = NULL;
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  GraftImageNeed need;
  GraftView view;
  int width, height;

  graft_image_need_init (&need, spec->pre, spec->augment);
  pixbuf = spec->cache != NULL
    ? graft_image_cache_load (spec->cache, item->path, &local)
    : graft_image_load_for (item->path, spec->max_pixels, &need, &local);
  if (pixbuf == NULL)
    {
      memset (slot, 0, batch->image_floats * sizeof (float));
      if (batch->errors != NULL)
        batch->errors[index] = g_steal_pointer (&local);
      return;
    }
  /* Planned in the picture's own pixels: the same view at any scale. */
  graft_image_get_source_size (pixbuf, &width, &height);
  graft_augment_plan (spec->augment, spec->seed, item->sample_key,
                      item->view, width, height, &view);
  graft_image_view_to_tensor (pixbuf, spec->pre, &view, slot);
}

gboolean
graft_decode_pool_tensors (GraftDecodePool *pool,
                           const GraftDecodeSpec *spec,
                           const GraftDecodeItem *items, guint n_items,
                           float *out, GError **errors,
                           GCancellable *cancellable, GError **error)
{
  Batch batch = { spec, items, out, 0, errors };
  const GfPreprocess *pre = spec->pre;

  batch.image_floats = pre->channels * pre->height * pre->width;
  return graft_decode_pool_run (pool, n_items, decode_one, &batch, NULL,
                                NULL, cancellable, error);
}
