/* graft-progress-relay.c: a worker's latest progress, under a lock, and
 * at most one idle on the caller's context to deliver it.  The task holds
 * one reference to the relay and an attached idle another, so an idle
 * that runs after the task is gone still finds the relay.  The count is
 * atomic: the worker takes the idle's reference, the caller's thread
 * drops it. */
#define G_LOG_DOMAIN "graft-progress"

#include "graft-progress-relay.h"

#include <string.h>

#define RELAY_KEY "graft-progress-relay"

struct _GraftProgressRelay
{
  GMainContext *context;
  int priority;
  const char *name;          /* static: the idles' source name */
  gsize report_size;
  GraftProgressDeliverFunc deliver;
  GCallback progress;
  gpointer progress_data;
  GDestroyNotify progress_data_free;

  GMutex lock;               /* guards what follows */
  gpointer latest;           /* report_size bytes */
  gboolean pending;          /* an idle is attached */
  gboolean finished;         /* the result was collected */
};

static void
relay_clear (gpointer data)
{
  GraftProgressRelay *relay = data;

  g_main_context_unref (relay->context);
  if (relay->progress_data_free != NULL)
    relay->progress_data_free (relay->progress_data);
  g_free (relay->latest);
  g_mutex_clear (&relay->lock);
}

static GraftProgressRelay *
relay_ref (GraftProgressRelay *relay)
{
  return g_atomic_rc_box_acquire (relay);
}

static void
relay_unref (gpointer relay)
{
  g_atomic_rc_box_release_full (relay, relay_clear);
}

void
graft_progress_relay_attach (GTask *task, gsize report_size,
                             GraftProgressDeliverFunc deliver,
                             GCallback progress, gpointer progress_data,
                             GDestroyNotify progress_data_free,
                             const char *name)
{
  GraftProgressRelay *relay;

  g_return_if_fail (G_IS_TASK (task));
  g_return_if_fail (report_size > 0);
  g_return_if_fail (deliver != NULL);

  relay = g_atomic_rc_box_new0 (GraftProgressRelay);
  relay->context = g_main_context_ref (g_task_get_context (task));
  relay->priority = g_task_get_priority (task);
  relay->name = name;
  relay->report_size = report_size;
  relay->deliver = deliver;
  relay->progress = progress;
  relay->progress_data = progress_data;
  relay->progress_data_free = progress_data_free;
  g_mutex_init (&relay->lock);
  relay->latest = g_malloc0 (report_size);
  g_object_set_data_full (G_OBJECT (task), RELAY_KEY, relay, relay_unref);
}

GraftProgressRelay *
graft_progress_relay_get (GTask *task)
{
  return g_object_get_data (G_OBJECT (task), RELAY_KEY);
}

/* On the caller's context.  finished is only ever set on this thread, so
 * it cannot change between the check and the delivery. */
static gboolean
deliver_latest (gpointer data)
{
  GraftProgressRelay *relay = data;
  gpointer report = g_alloca (relay->report_size);
  gboolean finished;

  g_mutex_lock (&relay->lock);
  relay->pending = FALSE;
  memcpy (report, relay->latest, relay->report_size);
  finished = relay->finished;
  g_mutex_unlock (&relay->lock);
  if (!finished)
    relay->deliver (report, relay->progress, relay->progress_data);
  return G_SOURCE_REMOVE;
}

static void
attach_idle (GraftProgressRelay *relay)
{
  g_autoptr (GSource) idle = g_idle_source_new ();

  g_source_set_priority (idle, relay->priority);
  g_source_set_callback (idle, deliver_latest, relay_ref (relay), relay_unref);
  g_source_set_static_name (idle, relay->name);
  g_source_attach (idle, relay->context);
}

void
graft_progress_relay_post (GraftProgressRelay *relay, gconstpointer report)
{
  gboolean attach;

  if (relay->progress == NULL)
    return;
  g_mutex_lock (&relay->lock);
  memcpy (relay->latest, report, relay->report_size);
  attach = !relay->pending;
  relay->pending = TRUE;
  g_mutex_unlock (&relay->lock);
  if (attach)
    attach_idle (relay);
}

gpointer
graft_progress_relay_finish (GTask *task, GError **error)
{
  GraftProgressRelay *relay = graft_progress_relay_get (task);
  GDestroyNotify free_data;
  gpointer data;

  g_return_val_if_fail (relay != NULL, NULL);

  g_mutex_lock (&relay->lock);
  relay->finished = TRUE;
  free_data = g_steal_pointer (&relay->progress_data_free);
  data = g_steal_pointer (&relay->progress_data);
  g_mutex_unlock (&relay->lock);
  if (free_data != NULL)
    free_data (data);
  return g_task_propagate_pointer (task, error);
}
