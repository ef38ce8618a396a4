/* graft-event-log.c: a list of lines in a scrolled window that follows
 * its end.  The lines are also kept as strings, so that tests and the
 * page can read them back without walking the widgets. */
#define G_LOG_DOMAIN "graft-event-log"

#include "graft-event-log.h"

#include <glib/gi18n.h>

/* How close to the end, in pixels, still counts as reading the newest. */
#define FOLLOW_SLACK 4.0

struct _GraftEventLog
{
  GtkWidget parent_instance;

  GtkWidget *scroller;
  GtkListBox *list;
  GPtrArray *lines;       /* char * */
  gboolean follow;        /* the view was at the end: keep it there */
  guint scroll_tick;      /* a scroll to the end is due */
};

G_DEFINE_FINAL_TYPE (GraftEventLog, graft_event_log, GTK_TYPE_WIDGET)

GtkWidget *
graft_event_log_new (void)
{
  return g_object_new (GRAFT_TYPE_EVENT_LOG, NULL);
}

static GtkAdjustment *
get_vadjustment (GraftEventLog *self)
{
  return gtk_scrolled_window_get_vadjustment
    (GTK_SCROLLED_WINDOW (self->scroller));
}

static gboolean
at_end (GtkAdjustment *adjustment)
{
  return gtk_adjustment_get_value (adjustment)
    >= gtk_adjustment_get_upper (adjustment)
       - gtk_adjustment_get_page_size (adjustment) - FOLLOW_SLACK;
}

static gboolean
scroll_to_end (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  GraftEventLog *self = GRAFT_EVENT_LOG (widget);
  GtkAdjustment *adjustment = get_vadjustment (self);

  self->scroll_tick = 0;
  gtk_adjustment_set_value (adjustment,
                            gtk_adjustment_get_upper (adjustment)
                            - gtk_adjustment_get_page_size (adjustment));
  return G_SOURCE_REMOVE;
}

/* The list grew or the view was resized: back to the end if the reader
 * was there when the last line came.  In the next frame, not now: the
 * viewport that is laying out the list would set its own value back. */
static void
on_adjustment_changed (GtkAdjustment *adjustment, GraftEventLog *self)
{
  if (self->follow && self->scroll_tick == 0)
    self->scroll_tick = gtk_widget_add_tick_callback (GTK_WIDGET (self),
                                                      scroll_to_end, NULL,
                                                      NULL);
}

void
graft_event_log_append (GraftEventLog *self, const char *line)
{
  GtkWidget *label;

  g_return_if_fail (GRAFT_IS_EVENT_LOG (self));
  g_return_if_fail (line != NULL);
  /* Decided before the line changes the layout, and not on every value
   * change: a resize can move the view without the reader. */
  self->follow = self->lines->len == 0 || at_end (get_vadjustment (self));
  g_ptr_array_add (self->lines, g_strdup (line));
  label = gtk_label_new (line);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_widget_add_css_class (label, "train-page-log-line");
  gtk_list_box_append (self->list, label);
}

void
graft_event_log_clear (GraftEventLog *self)
{
  GtkListBoxRow *row;

  g_return_if_fail (GRAFT_IS_EVENT_LOG (self));
  while ((row = gtk_list_box_get_row_at_index (self->list, 0)) != NULL)
    gtk_list_box_remove (self->list, GTK_WIDGET (row));
  g_ptr_array_set_size (self->lines, 0);
  self->follow = TRUE;
}

guint
graft_event_log_get_n_lines (GraftEventLog *self)
{
  g_return_val_if_fail (GRAFT_IS_EVENT_LOG (self), 0);
  return self->lines->len;
}

char **
graft_event_log_get_lines (GraftEventLog *self)
{
  char **lines;

  g_return_val_if_fail (GRAFT_IS_EVENT_LOG (self), NULL);
  lines = g_new0 (char *, self->lines->len + 1);
  for (guint i = 0; i < self->lines->len; i++)
    lines[i] = g_strdup (self->lines->pdata[i]);
  return lines;
}

static void
graft_event_log_dispose (GObject *object)
{
  GraftEventLog *self = GRAFT_EVENT_LOG (object);

  if (self->scroll_tick != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->scroll_tick);
  self->scroll_tick = 0;
  g_clear_pointer (&self->scroller, gtk_widget_unparent);
  G_OBJECT_CLASS (graft_event_log_parent_class)->dispose (object);
}

static void
graft_event_log_finalize (GObject *object)
{
  GraftEventLog *self = GRAFT_EVENT_LOG (object);

  g_ptr_array_unref (self->lines);
  G_OBJECT_CLASS (graft_event_log_parent_class)->finalize (object);
}

static void
graft_event_log_class_init (GraftEventLogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_event_log_dispose;
  object_class->finalize = graft_event_log_finalize;
  gtk_widget_class_set_layout_manager_type (widget_class,
                                            GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "eventlog");
  gtk_widget_class_set_accessible_role (widget_class,
                                        GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
graft_event_log_init (GraftEventLog *self)
{
  GtkWidget *placeholder = gtk_label_new (_("What happens during a run "
                                            "is told here."));

  self->lines = g_ptr_array_new_with_free_func (g_free);
  self->follow = TRUE;
  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (self->list), "event-log");
  gtk_widget_add_css_class (placeholder, "dim-label");
  gtk_list_box_set_placeholder (self->list, placeholder);
  self->scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (self->scroller),
                                  GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (self->scroller),
                                 GTK_WIDGET (self->list));
  gtk_scrolled_window_set_has_frame (GTK_SCROLLED_WINDOW (self->scroller),
                                     TRUE);
  gtk_widget_set_parent (self->scroller, GTK_WIDGET (self));
  g_signal_connect_object (get_vadjustment (self), "changed",
                           G_CALLBACK (on_adjustment_changed), self, 0);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Event log"), -1);
}
