/* graft-window.h: the main window — a header bar with the stages Data ·
 * Backbone · Train · Compare, a toast overlay for errors and notices, and the
 * win.* actions.  It owns the GraftProject the pages show: one project a
 * window. */
#pragma once

#include <adwaita.h>

#include "graft-application.h"
#include "graft-project.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_WINDOW (graft_window_get_type ())
G_DECLARE_FINAL_TYPE (GraftWindow, graft_window, GRAFT, WINDOW,
                      AdwApplicationWindow)

/* A window on the project in @dir (NULL: the default project).  @app may
 * be NULL (tests): then nothing is remembered.  The project's saved
 * choices are read by graft_window_load_project (the application does
 * it); until then, and if that fails, nothing is saved over them. */
GraftWindow  *graft_window_new         (GraftApplication *app);
GraftWindow  *graft_window_new_for_project (GraftApplication *app,
                                            const char *dir);
void          graft_window_load_project (GraftWindow *self);
/* Shows the project in @dir: its window when one has it open, else a new
 * one. */
void          graft_window_open_project (GraftWindow *self, const char *dir);
GraftProject *graft_window_get_project (GraftWindow *self);
/* Folders become the data, ONNX files are imported as backbones. */
void          graft_window_open_files  (GraftWindow *self, GFile **files,
                                        int n_files);
/* "data", "backbone", "train" or "compare". */
void          graft_window_show_page   (GraftWindow *self, const char *name);
const char   *graft_window_get_page    (GraftWindow *self);
GtkWidget    *graft_window_get_page_widget (GraftWindow *self,
                                            const char *name);
void          graft_window_open_sample_data (GraftWindow *self);
/* Imports the run a PyTorch project's train.py wrote into @folder
 * (graft_project_import_run_async), then shows it in Compare, or says
 * why not in a toast (win.import-run asks for the folder). */
void          graft_window_import_run  (GraftWindow *self,
                                        const char *folder);

/* Shows a toast in the window @widget is in (a notice, or an error's one
 * line); does nothing for a widget outside a GraftWindow. */
void graft_toast (GtkWidget *widget, const char *format, ...)
  G_GNUC_PRINTF (2, 3);
/* The same for a toast of the caller's making (one with a button):
 * takes @toast, and names its close button for screen readers. */
void graft_toast_add (GtkWidget *widget, AdwToast *toast);

/* Gives every button under @widget that has no label the accessible name
 * @label — only those inside a widget of type @type_name (NULL: all):
 * for the icon-only buttons GTK 4.8 and libadwaita 1.2 build inside their
 * own widgets (a toast's close button, a drop-down's toggle). */
void graft_name_inner_buttons (GtkWidget *widget, const char *type_name,
                               const char *label, gboolean inside);

/* Where the sample data is: the installed copy, else the source tree's
 * (a build run from its tree), or $GRAFT_SAMPLES_DIR when set. */
char *graft_window_get_samples_dir (void);

G_END_DECLS
