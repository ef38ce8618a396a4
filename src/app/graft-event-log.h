/* graft-event-log.h: a run's event log — one line per event (the run
 * started, a stage, a new best epoch, an early stop and why, the end),
 * newest at the bottom, kept in view as lines arrive unless the user has
 * scrolled up to read. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define GRAFT_TYPE_EVENT_LOG (graft_event_log_get_type ())
G_DECLARE_FINAL_TYPE (GraftEventLog, graft_event_log, GRAFT, EVENT_LOG,
                      GtkWidget)

GtkWidget *graft_event_log_new        (void);
void       graft_event_log_append     (GraftEventLog *self,
                                       const char *line);
void       graft_event_log_clear      (GraftEventLog *self);
guint      graft_event_log_get_n_lines (GraftEventLog *self);
/* The lines, oldest first (NULL-terminated, free it). */
char     **graft_event_log_get_lines  (GraftEventLog *self);

G_END_DECLS
