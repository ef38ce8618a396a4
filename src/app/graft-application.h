/* graft-application.h: the desktop app — one window, the app-wide
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

G_END_DECLS
