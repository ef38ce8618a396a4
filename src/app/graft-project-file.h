/* graft-project-file.h: a project's choices on disk.
 *
 * A project is a folder: PROJECT/graft-project.json holds what the user
 * chose (the data folders, the classes renamed or left out, the
 * validation share, the backbone, the mode) and PROJECT/runs holds every
 * run.  The file is small and read and written whole, atomically, on a
 * worker; this module only turns it into a struct and back, so that it
 * can be tested without a window.
 *
 *   {
 *     "format": "graft-project", "version": 1,
 *     "folders": ["/home/ana/Pictures/shoes"],
 *     "classes": [{"path": "/home/ana/Pictures/shoes/boots",
 *                  "name": "Boots", "kept": true}, …],
 *     "val_fraction": 0.2,
 *     "backbone": "fashion-resnet",
 *     "mode": "extract", "unfreeze": 2
 *   }
 *
 * Only classes the user changed are listed.  A member that is missing or
 * of the wrong type takes its default: a hand-edited file loses a choice,
 * not the project.
 */
#pragma once

#include <gio/gio.h>

#include "graft-run-config.h"

G_BEGIN_DECLS

#define GRAFT_PROJECT_FILE "graft-project.json"

/* A class the user renamed (@name) or left out (!@kept). */
typedef struct
{
  char *path;
  char *name;          /* NULL: the folder's name */
  gboolean kept;
} GraftClassChoice;

typedef struct
{
  GStrv folders;       /* NULL-terminated, never NULL */
  GPtrArray *classes;  /* GraftClassChoice * */
  double val_fraction;
  char *backbone;      /* NULL: none chosen */
  GraftRunMode mode;
  int unfreeze;
} GraftProjectFile;

GraftProjectFile *graft_project_file_new   (void);
void              graft_project_file_free  (GraftProjectFile *file);

/* The choice for the class folder @path, added when @add and missing. */
GraftClassChoice *graft_project_file_class (GraftProjectFile *file,
                                            const char *path, gboolean add);

/* NULL with a sentence naming @path when it is not a project file. */
GraftProjectFile *graft_project_file_parse (const char *text, gsize length,
                                            const char *path,
                                            GError **error);
char             *graft_project_file_to_text (const GraftProjectFile *file);

/* Blocking: call them on a worker.  @dir is the project's folder; read
 * gives a fresh project's defaults when it has no file yet (the default
 * project, before its first choice). */
GraftProjectFile *graft_project_file_read  (const char *dir, GError **error);
gboolean          graft_project_file_write (const char *dir,
                                            const GraftProjectFile *file,
                                            GError **error);

/* Makes @dir a new project: it may be missing or empty; one that is a
 * project already is left as it is.  Blocking. */
gboolean          graft_project_file_create (const char *dir,
                                             GError **error);

/* TRUE when @dir holds a project file.  Blocking. */
gboolean          graft_project_file_exists (const char *dir);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftProjectFile, graft_project_file_free)

G_END_DECLS
