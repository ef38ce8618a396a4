/* graft-scan-async.c: graft_scan_folders on a GTask thread, its progress
 * carried to the caller's main context by a GraftProgressRelay.
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

#include "graft-progress-relay.h"

typedef struct
{
  GraftScanPhase phase;
  guint done, total;
} ScanReport;

typedef struct
{
  char **folders;
  GraftScanOptions options;
  gboolean reports;            /* a progress function was given */
} ScanJob;

static void
scan_job_free (gpointer data)
{
  ScanJob *job = data;

  g_strfreev (job->folders);
  g_free (job);
}

/* On the caller's context. */
static void
deliver (gconstpointer report, GCallback progress, gpointer data)
{
  const ScanReport *r = report;

  ((GraftScanProgressFunc) progress) (r->phase, r->done, r->total, data);
}

/* On the worker thread. */
static void
post_progress (GraftScanPhase phase, guint done, guint total, gpointer relay)
{
  ScanReport report = { phase, done, total };

  graft_progress_relay_post (relay, &report);
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
                             job->reports ? post_progress : NULL,
                             graft_progress_relay_get (task), cancellable,
                             &error);
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
  ScanJob *job = g_new0 (ScanJob, 1);

  job->folders = g_strdupv ((char **) folders);
  if (options != NULL)
    job->options = *options;
  else
    graft_scan_options_init (&job->options);
  job->reports = progress != NULL;
  graft_progress_relay_attach (task, sizeof (ScanReport), deliver,
                               G_CALLBACK (progress), progress_data,
                               progress_data_free, "[graft] scan progress");
  g_task_set_source_tag (task, graft_scan_folders_async);
  g_task_set_task_data (task, job, scan_job_free);
  g_task_run_in_thread (task, scan_thread);
}

GraftScan *
graft_scan_folders_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return graft_progress_relay_finish (G_TASK (result), error);
}
