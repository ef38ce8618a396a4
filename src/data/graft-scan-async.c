/* graft-scan-async.c: graft_scan_folders on a GTask thread, its progress
 * carried to the caller's main context.
 *
 * The worker stores the latest progress under a lock and schedules at most
 * one idle on the caller's context; the idle reports whatever is latest by
 * then, so a fast scan cannot flood the main loop.  The idle has the
 * task's own priority and is attached before the result is returned, so
 * the last progress report comes before the callback (GLib dispatches
 * ready sources of one priority in the order they were attached).  Once
 * the caller has collected the result, idles report nothing: the callback
 * may have freed what the progress function uses, and the progress data is
 * freed when the result is collected. */
#define G_LOG_DOMAIN "graft-scan"

#include "graft-scan.h"

typedef struct
{
  char **folders;
  GraftScanOptions options;
  GMainContext *context;
  GraftScanProgressFunc progress;
  gpointer progress_data;
  GDestroyNotify progress_data_free;

  GMutex lock;              /* guards what follows */
  GraftScanPhase phase;
  guint done, total;
  gboolean pending;         /* an idle is scheduled */
  gboolean finished;        /* the result was collected */
} ScanJob;

static void
scan_job_clear (gpointer data)
{
  ScanJob *job = data;

  g_strfreev (job->folders);
  g_main_context_unref (job->context);
  if (job->progress_data_free != NULL)
    job->progress_data_free (job->progress_data);
  g_mutex_clear (&job->lock);
}

static void
release_job (gpointer data)
{
  g_rc_box_release_full (data, scan_job_clear);
}

static gboolean
report_progress (gpointer data)
{
  ScanJob *job = data;
  GraftScanPhase phase;
  guint done, total;
  gboolean finished;

  g_mutex_lock (&job->lock);
  job->pending = FALSE;
  phase = job->phase;
  done = job->done;
  total = job->total;
  finished = job->finished;
  g_mutex_unlock (&job->lock);
  if (!finished)
    job->progress (phase, done, total, job->progress_data);
  return G_SOURCE_REMOVE;
}

/* On the worker thread. */
static void
store_progress (GraftScanPhase phase, guint done, guint total, gpointer data)
{
  ScanJob *job = data;
  gboolean schedule;

  g_mutex_lock (&job->lock);
  job->phase = phase;
  job->done = done;
  job->total = total;
  schedule = !job->pending;
  job->pending = TRUE;
  g_mutex_unlock (&job->lock);
  if (schedule)
    {
      g_autoptr (GSource) idle = g_idle_source_new ();
      g_source_set_priority (idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (idle, report_progress,
                             g_rc_box_acquire (job), release_job);
      g_source_set_static_name (idle, "[graft] scan progress");
      g_source_attach (idle, job->context);
    }
}

static void
scan_thread (GTask *task, gpointer source, gpointer data,
             GCancellable *cancellable)
{
  ScanJob *job = data;
  GError *error = NULL;
  GraftScan *scan;

  scan = graft_scan_folders ((const char *const *) job->folders,
                             &job->options,
                             job->progress != NULL ? store_progress : NULL,
                             job, cancellable, &error);
  if (scan == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, scan, (GDestroyNotify) graft_scan_free);
}

void
graft_scan_folders_async (const char *const *folders,
                          const GraftScanOptions *options,
                          GraftScanProgressFunc progress,
                          gpointer progress_data,
                          GDestroyNotify progress_data_free,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback,
                                       user_data);
  ScanJob *job = g_rc_box_new0 (ScanJob);

  job->folders = g_strdupv ((char **) folders);
  if (options != NULL)
    job->options = *options;
  else
    graft_scan_options_init (&job->options);
  job->context = g_main_context_ref_thread_default ();
  job->progress = progress;
  job->progress_data = progress_data;
  job->progress_data_free = progress_data_free;
  g_mutex_init (&job->lock);
  g_task_set_source_tag (task, graft_scan_folders_async);
  g_task_set_task_data (task, job, release_job);
  g_task_run_in_thread (task, scan_thread);
}

/* Frees the progress data here, on the caller's thread, rather than with
 * the task, whose last reference may be dropped by the worker. */
GraftScan *
graft_scan_folders_finish (GAsyncResult *result, GError **error)
{
  ScanJob *job;
  GDestroyNotify free_data;
  gpointer data;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  job = g_task_get_task_data (G_TASK (result));
  g_mutex_lock (&job->lock);
  job->finished = TRUE;
  free_data = g_steal_pointer (&job->progress_data_free);
  data = g_steal_pointer (&job->progress_data);
  g_mutex_unlock (&job->lock);
  if (free_data != NULL)
    free_data (data);
  return g_task_propagate_pointer (G_TASK (result), error);
}
