/* test-confusion-matrix.c: GraftConfusionMatrix — the cell under a point
 * and a cell's area agree, a click (the released gesture's handler, by
 * activate_cell) emits "cell-activated" with the cell, the keyboard moves
 * and activates, and the widget asks for room for every cell and name.
 *
 * Env: run under `xvfb-run -a` with GTK_A11Y=none (meson sets the rest).
 */
#include "graft-confusion-matrix.h"
#include "graft-test-app.h"

#define N 3

static const char *const names[] = { "ankle_boot", "bag", "sandal", NULL };
/* [truth][predicted] */
static const guint counts[N * N] = { 10, 1, 1, 0, 12, 0, 3, 0, 9 };

typedef struct
{
  guint calls, truth, predicted;
} Activation;

static void
on_cell (GraftConfusionMatrix *matrix, guint truth, guint predicted,
         Activation *a)
{
  a->calls++;
  a->truth = truth;
  a->predicted = predicted;
}

static GraftConfusionMatrix *
new_matrix (GtkWindow **window)
{
  GtkWidget *matrix = graft_confusion_matrix_new ();

  graft_confusion_matrix_set_data (GRAFT_CONFUSION_MATRIX (matrix), names,
                                   counts, N);
  *window = GTK_WINDOW (gtk_window_new ());
  gtk_window_set_child (*window, matrix);
  gtk_window_present (*window);
  gtk_test_widget_wait_for_draw (matrix);
  return GRAFT_CONFUSION_MATRIX (matrix);
}

static void
test_cells (void)
{
  GtkWindow *window;
  GraftConfusionMatrix *matrix = new_matrix (&window);
  graphene_rect_t area;
  guint t, p;

  g_assert_cmpuint (graft_confusion_matrix_get_n_classes (matrix), ==, N);
  g_assert_cmpuint (graft_confusion_matrix_get_count (matrix, 2, 0), ==, 3);
  for (guint truth = 0; truth < N; truth++)
    for (guint predicted = 0; predicted < N; predicted++)
      {
        g_assert_true (graft_confusion_matrix_get_cell_area
                       (matrix, truth, predicted, &area));
        g_assert_true (graft_confusion_matrix_cell_at
                       (matrix, area.origin.x + area.size.width / 2,
                        area.origin.y + area.size.height / 2, &t, &p));
        g_assert_cmpuint (t, ==, truth);
        g_assert_cmpuint (p, ==, predicted);
        /* Every cell lies inside the widget: nothing is clipped. */
        g_assert_cmpfloat (area.origin.x + area.size.width, <=,
                           gtk_widget_get_width (GTK_WIDGET (matrix)));
        g_assert_cmpfloat (area.origin.y + area.size.height, <=,
                           gtk_widget_get_height (GTK_WIDGET (matrix)));
      }
  /* The names' corner is no cell. */
  g_assert_false (graft_confusion_matrix_cell_at (matrix, 1, 1, &t, &p));
  graft_test_screenshot (GTK_WIDGET (window), "confusion-matrix");
  gtk_window_destroy (window);
}

static void
test_activate (void)
{
  GtkWindow *window;
  GraftConfusionMatrix *matrix = new_matrix (&window);
  Activation a = { 0 };
  GtkEventController *keys = NULL;
  gboolean handled = FALSE;

  g_signal_connect (matrix, "cell-activated", G_CALLBACK (on_cell), &a);
  graft_confusion_matrix_activate_cell (matrix, 2, 0);
  g_assert_cmpuint (a.calls, ==, 1);
  g_assert_cmpuint (a.truth, ==, 2);
  g_assert_cmpuint (a.predicted, ==, 0);
  /* From the activated cell, Up and Right, then Enter. */
  for (GListModel *list = gtk_widget_observe_controllers (GTK_WIDGET (matrix));
       list != NULL; list = NULL)
    {
      for (guint i = 0; i < g_list_model_get_n_items (list); i++)
        {
          g_autoptr (GtkEventController) c = g_list_model_get_item (list, i);
          if (GTK_IS_EVENT_CONTROLLER_KEY (c))
            keys = c;
        }
      g_object_unref (list);
    }
  g_assert_nonnull (keys);
  g_signal_emit_by_name (keys, "key-pressed", GDK_KEY_Up, 0, 0, &handled);
  g_signal_emit_by_name (keys, "key-pressed", GDK_KEY_Right, 0, 0, &handled);
  g_signal_emit_by_name (keys, "key-pressed", GDK_KEY_Return, 0, 0, &handled);
  g_assert_true (handled);
  g_assert_cmpuint (a.calls, ==, 2);
  g_assert_cmpuint (a.truth, ==, 1);
  g_assert_cmpuint (a.predicted, ==, 1);
  gtk_window_destroy (window);
}

int
main (int argc, char **argv)
{
  graft_test_app_init (&argc, &argv);
  g_test_add_func ("/app/confusion-matrix/cells", test_cells);
  g_test_add_func ("/app/confusion-matrix/activate", test_activate);
  return g_test_run ();
}
