/* graft-project.h: what the user has chosen so far — the data folders and
 * their scan, the classes as the user edited them, the validation
 * fraction, the backbone, and the current run.  The pages are views of
 * one GraftProject; they hold no state of their own that another page
 * needs.
 *
 * Scanning and loading happen on worker threads; every property changes
 * and every signal is emitted on the main thread.  Nothing here ever
 * writes into the user's picture folders: removing a class or renaming
 * it changes only what the next run is given.
 */
#pragma once

#include <gio/gio.h>

#include "graft-backbone.h"
#include "graft-run.h"
#include "graft-scan.h"

G_BEGIN_DECLS

/* ---- One class as the Data page shows it --------------------------------- */

#define GRAFT_TYPE_CLASS_ITEM (graft_class_item_get_type ())
G_DECLARE_FINAL_TYPE (GraftClassItem, graft_class_item, GRAFT, CLASS_ITEM,
                      GObject)

/* "name": the label the run will use (editable; starts as the folder's
 * name).  "path": the class folder.  "count", "n-train", "n-val": usable
 * pictures.  The pictures' paths, in scan order, for thumbnails. */
const char        *graft_class_item_get_name     (GraftClassItem *self);
void               graft_class_item_set_name     (GraftClassItem *self,
                                                  const char *name);
const char        *graft_class_item_get_path     (GraftClassItem *self);
guint              graft_class_item_get_count    (GraftClassItem *self);
guint              graft_class_item_get_n_train  (GraftClassItem *self);
guint              graft_class_item_get_n_val    (GraftClassItem *self);
const char *const *graft_class_item_get_pictures (GraftClassItem *self);

/* ---- The project ----------------------------------------------------------- */

#define GRAFT_TYPE_PROJECT (graft_project_get_type ())
G_DECLARE_FINAL_TYPE (GraftProject, graft_project, GRAFT, PROJECT, GObject)

/* A project is a folder: its choices in graft-project.json, its runs in
 * runs/ (graft-project-file.h).  graft_project_new gives the default
 * project, $XDG_DATA_HOME/graft; "dir" is the folder.  Every choice the
 * user makes is written there shortly after (atomically, on a worker;
 * "save-failed" says why when it cannot be), and load_async reads it
 * back: the folders are scanned again, the classes renamed and left out
 * as before, the validation share, mode and backbone restored. */
GraftProject *graft_project_new         (void);
GraftProject *graft_project_new_for_dir (const char *dir);
const char   *graft_project_get_dir     (GraftProject *self);
gboolean      graft_project_is_default  (GraftProject *self);
/* The folder's name, or "Default Project". */
char         *graft_project_get_name    (GraftProject *self);
char         *graft_project_get_default_dir (void);
void          graft_project_load_async  (GraftProject *self,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
gboolean      graft_project_load_finish (GraftProject *self,
                                         GAsyncResult *result,
                                         GError **error);
/* Copies the project (its choices and every run) into @dir, new or
 * empty; the project itself stays where it is.  Refused while a run
 * trains. */
void          graft_project_save_as_async  (GraftProject *self,
                                            const char *dir,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
gboolean      graft_project_save_as_finish (GraftProject *self,
                                            GAsyncResult *result,
                                            GError **error);
/* The backbone chosen, or the one saved while it is not loaded yet;
 * NULL when none. */
const char   *graft_project_get_backbone_spec (GraftProject *self);

/* Data.  open_folders replaces the data with @folders (one parent folder
 * of class folders, or several class folders) and scans them in the
 * background: "scanning" turns TRUE, "scan-progress" (0..1, negative
 * while the number of files is unknown) and "scan-status" (one line)
 * follow it, and at the end "scan" changes (or "scan-failed" is emitted
 * with the reason, the previous data kept).  Cancelling keeps the
 * previous data too. */
void          graft_project_open_folders   (GraftProject *self,
                                            GFile **folders, guint n);
void          graft_project_rescan         (GraftProject *self);
void          graft_project_cancel_scan    (GraftProject *self);
gboolean      graft_project_get_scanning   (GraftProject *self);
double        graft_project_get_scan_progress (GraftProject *self);
const char   *graft_project_get_scan_status (GraftProject *self);
/* The folders opened last, NULL-terminated (empty before any). */
const char *const *graft_project_get_folders (GraftProject *self);
/* The last finished scan, or NULL. */
const GraftScan *graft_project_get_scan    (GraftProject *self);
/* GraftClassItem, the kept classes sorted as scanned. */
GListModel   *graft_project_get_classes    (GraftProject *self);
/* Drops a class from what runs are given (its files stay untouched). */
void          graft_project_remove_class   (GraftProject *self,
                                            guint position);
/* Pictures in the kept classes. */
guint         graft_project_get_n_pictures (GraftProject *self);
/* "val-fraction": the validation share, (0, 1), default 0.2; setting it
 * splits again and redoes the health warnings ("scan" notifies). */
double        graft_project_get_val_fraction (GraftProject *self);
void          graft_project_set_val_fraction (GraftProject *self,
                                              double fraction);

/* Backbone: "backbone", set by the Backbone page once loaded. */
GraftBackbone *graft_project_get_backbone  (GraftProject *self);
void           graft_project_set_backbone  (GraftProject *self,
                                            GraftBackbone *backbone);

/* The training mode and how many blocks fine-tuning unfreezes
 * (GRAFT_UNFREEZE_ALL for all), as the Train page sets them: "mode",
 * "unfreeze".  The Backbone page shows blocks frozen or trainable by
 * them.  graft_project_get_first_trainable gives the first block that
 * trains in that mode (the number of blocks when none does; progressive
 * runs start with all frozen). */
GraftRunMode  graft_project_get_mode       (GraftProject *self);
void          graft_project_set_mode       (GraftProject *self,
                                            GraftRunMode mode);
int           graft_project_get_unfreeze   (GraftProject *self);
void          graft_project_set_unfreeze   (GraftProject *self,
                                            int unfreeze);
guint         graft_project_get_first_trainable (GraftProject *self);

/* A run configuration of @mode with its defaults, the project's data
 * (the kept class folders, with the user's names as labels), split and
 * backbone; NULL with a sentence for the user when something is missing
 * (no data yet, fewer than two classes, no backbone). */
GraftRunConfig *graft_project_make_config  (GraftProject *self,
                                            GraftRunMode mode,
                                            GError **error);

/* Runs: "run" is the current (or last) run.  start_run makes a new run
 * folder under graft_project_get_runs_dir () and starts it; resume_run
 * continues the stopped or interrupted run in @dir from its last
 * checkpoint (refused while another run trains, or while another process
 * trains that one). */
GraftRun     *graft_project_get_run        (GraftProject *self);
GraftRun     *graft_project_start_run      (GraftProject *self,
                                            const GraftRunConfig *config,
                                            GError **error);
GraftRun     *graft_project_resume_run     (GraftProject *self,
                                            const char *dir,
                                            GError **error);

/* The project's runs (PROJECT/runs), and the ONNX models the user
 * imported, which every project shares ($XDG_DATA_HOME/graft/backbones). */
char         *graft_project_get_runs_dir     (GraftProject *self);
char         *graft_project_get_imported_dir (void);

/* Undoes graft_project_remove_class: puts the class @item showed back
 * at @position (or last), with @item's name and the current scan's
 * pictures and split.  Does nothing when the last scan has no such class
 * folder or the class is there already. */
void          graft_project_restore_class  (GraftProject *self,
                                            GraftClassItem *item,
                                            guint position);

/* ---- Every run kept --------------------------------------------------------- */

/* GraftRunRecord, every run folder under graft_project_get_runs_dir (),
 * newest first (a GraftRunList), read on a worker when first asked for.
 * A run of this project that finishes, stops or fails is read again and
 * added.  reload_runs reads every folder again. */
GListModel   *graft_project_get_runs       (GraftProject *self);
void          graft_project_reload_runs    (GraftProject *self);
/* Where deleted runs wait for their undo (PROJECT/trash). */
char         *graft_project_get_trash_dir  (GraftProject *self);

/* A run trained elsewhere — the folder the train.py of an exported
 * PyTorch project wrote — copied into a new folder of the project's
 * runs and imported there (graft-run-import.h), on a worker; @folder is
 * only read.  finish returns the new run's folder, already in
 * graft_project_get_runs (), or NULL with one line in @error (and no
 * folder left behind). */
void          graft_project_import_run_async  (GraftProject *self,
                                               const char *folder,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data);
char         *graft_project_import_run_finish (GraftProject *self,
                                               GAsyncResult *result,
                                               GError **error);

G_END_DECLS
