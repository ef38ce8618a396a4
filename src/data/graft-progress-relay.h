/* graft-progress-relay.h: a GTask worker's progress brought to the main
 * context of the thread that started the task, coalesced.
 *
 * A relay is made for a task on the caller's thread and takes the task's
 * main context (the caller's thread-default one) and priority.  The worker
 * posts reports (a small struct of the user's choosing, copied) as often
 * as it likes; the relay keeps the latest under its lock and at most one
 * idle attached, which hands whatever is latest by then to a deliver
 * function, so a fast worker cannot flood the main loop.  An idle is
 * attached when a report is posted, at the task's priority, so the last
 * report posted before the worker returns its result is delivered before
 * the task's callback (GLib dispatches ready sources of one priority in
 * the order they were attached).
 *
 * When the result is collected, graft_progress_relay_finish stops the
 * deliveries (the callback may have freed what the progress function
 * uses) and frees the progress data there, on the caller's thread, not
 * with the task's last reference, which the worker may drop. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _GraftProgressRelay GraftProgressRelay;

/* Calls @progress (the user's own function type, cast to GCallback) with
 * the fields of @report (the latest posted) and @progress_data.  On the
 * caller's main context. */
typedef void (*GraftProgressDeliverFunc) (gconstpointer report,
                                          GCallback progress,
                                          gpointer progress_data);

/* On the caller's thread, before the task runs: gives @task a relay, its
 * idles attached to the task's context (the caller's thread-default one)
 * at the task's priority.  Reports are @report_size bytes.  @progress may
 * be NULL (then posts do nothing; @progress_data is still freed by
 * finish).  @name must be a static string: the idles' source name. */
void graft_progress_relay_attach (GTask *task, gsize report_size,
                                  GraftProgressDeliverFunc deliver,
                                  GCallback progress, gpointer progress_data,
                                  GDestroyNotify progress_data_free,
                                  const char *name);

/* The relay @task was given, for the worker to post to. */
GraftProgressRelay *graft_progress_relay_get (GTask *task);

/* On the worker: copies @report (report_size bytes) as the latest and
 * attaches an idle unless one is already waiting. */
void graft_progress_relay_post (GraftProgressRelay *relay,
                                gconstpointer report);

/* On the caller's thread, to collect the result: nothing is delivered
 * after this, the progress data is freed now, and the task's pointer
 * result (g_task_propagate_pointer) is returned. */
gpointer graft_progress_relay_finish (GTask *task, GError **error);

G_END_DECLS
