/* graft-run-list.h: every run folder under the runs folder, as a
 * GListModel of GraftRunRecord, newest first.
 *
 * All file work — reading the folders, moving a deleted run into the
 * trash folder and back, emptying the trash — happens on a worker, one
 * job after another in the order asked, so that an undo always follows
 * the delete it undoes.  The model changes on the main thread only.
 */
#pragma once

#include <gio/gio.h>

#include "graft-run-record.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_RUN_LIST (graft_run_list_get_type ())
G_DECLARE_FINAL_TYPE (GraftRunList, graft_run_list, GRAFT, RUN_LIST, GObject)

/* Empties @trash_dir (runs deleted and not undone before a restart are
 * gone for good), then reads @runs_dir. */
GraftRunList *graft_run_list_new      (const char *runs_dir,
                                       const char *trash_dir);
/* Reads every run again ("loading" is TRUE meanwhile). */
void          graft_run_list_reload   (GraftRunList *self);
/* Reads the run in @dir again, adding it when new. */
void          graft_run_list_refresh  (GraftRunList *self, const char *dir);
gboolean      graft_run_list_get_loading (GraftRunList *self);
/* The record of the run in @dir, or NULL. */
GraftRunRecord *graft_run_list_find   (GraftRunList *self, const char *dir);

/* Delete, with undo: trash takes @record out of the list at once and
 * moves its folder into the trash folder; untrash moves it back and puts
 * it in again; purge deletes the trashed folder for good.  A failure is
 * told by "failed" (one sentence) and, for trash, puts the run back. */
void          graft_run_list_trash    (GraftRunList *self,
                                       GraftRunRecord *record);
void          graft_run_list_untrash  (GraftRunList *self,
                                       GraftRunRecord *record);
void          graft_run_list_purge    (GraftRunList *self,
                                       GraftRunRecord *record);

G_END_DECLS
