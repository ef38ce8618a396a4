/* graft-test-app.h: what the desktop app's tests share — start-up with a
 * private data folder, waiting on the main loop for a condition, drops,
 * and screenshots of widgets.
 *
 * The tests run under Xvfb with GTK_A11Y=none, GSETTINGS_BACKEND=memory
 * and GSETTINGS_SCHEMA_DIR at the build's compiled schema (meson sets
 * them). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* gtk_test_init and adw_init, with no session bus; XDG_DATA_HOME and XDG_CACHE_HOME become a
 * fresh temporary folder (removed at exit), so runs and imported models
 * never touch the user's. */
void     graft_test_app_init (int *argc, char ***argv);
/* The temporary data folder graft_test_app_init made. */
const char *graft_test_app_data_home (void);

typedef gboolean (*GraftTestCondition) (gpointer data);

/* Iterates the main loop until @condition holds; fails the test with
 * @what after @timeout_ms. */
void     graft_test_wait_for (GraftTestCondition condition, gpointer data,
                              guint timeout_ms, const char *what);
/* Iterates the main loop for @ms. */
void     graft_test_spin (guint ms);

/* Emits "drop" on @target with a file list of @paths (NULL-terminated),
 * as a drag from a file manager would; returns what the handler said. */
gboolean graft_test_drop_paths (GtkDropTarget *target,
                                const char *const *paths);

/* Renders @widget (mapped) to $GRAFT_TEST_SCREENSHOT_DIR/NAME.png when
 * that variable is set; does nothing otherwise. */
void     graft_test_screenshot (GtkWidget *widget, const char *name);

/* Runs @argv (graft-cli, as a script would) to its end and returns its
 * standard output; fails the test when it cannot start or exits
 * non-zero. */
char    *graft_test_run_cli (const char *const *argv);

/* A short run made by graft-cli as a script would: fashion-cnn on the
 * sample data, feature extraction, 3 epochs, seed 1, into the runs
 * folder of the test's data home as @name.  Returns its folder. */
char    *graft_test_make_run (const char *name);

/* The app's style sheet, which AdwApplication loads and a test without
 * one must load itself. */
void     graft_test_load_style (void);

/* The toplevel window of @type, or NULL. */
GtkWindow *graft_test_find_toplevel (GType type);

/* A folder of the sample data in the source tree (e.g. "fashion"). */
char    *graft_test_samples_path (const char *name);

G_END_DECLS
