/* graft-application.h: the desktop app — a window a project, the app-wide
 * actions, and the command line: `graft DIR…` opens folders as data,
 * `graft MODEL.onnx` imports a backbone. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define GRAFT_TYPE_APPLICATION (graft_application_get_type ())
G_DECLARE_FINAL_TYPE (GraftApplication, graft_application, GRAFT,
                      APPLICATION, AdwApplication)

GraftApplication *graft_application_new (void);

/* The app's settings, or NULL when the schema is not installed (a build
 * run without GSETTINGS_SCHEMA_DIR): then nothing is remembered. */
GSettings *graft_application_get_settings (GraftApplication *self);

/* The window showing the project in @dir, made (and its project read)
 * when there is none; the caller presents it. */
struct _GraftWindow *graft_application_open_project (GraftApplication *self,
                                                     const char *dir);
/* The recent projects (settings "recent-projects", newest first) and the
 * one opened at the next start ("last-project"). */
void graft_application_remember_project (GraftApplication *self,
                                         const char *dir);
void graft_application_forget_project   (GraftApplication *self,
                                         const char *dir);

G_END_DECLS
