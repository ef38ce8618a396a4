/* graft-data-page.h: the Data stage — drop or choose labelled picture
 * folders, watch the background scan, and see each class (an editable
 * name, its count, thumbnails), the files that cannot be used and why,
 * the health warnings, and the validation fraction. */
#pragma once

#include <adwaita.h>

#include "graft-project.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_DATA_PAGE (graft_data_page_get_type ())
G_DECLARE_FINAL_TYPE (GraftDataPage, graft_data_page, GRAFT, DATA_PAGE,
                      AdwBin)

GtkWidget     *graft_data_page_new             (void);
/* "project": the project shown (construct or set once). */
void           graft_data_page_set_project     (GraftDataPage *self,
                                                GraftProject *project);
/* The "Add Folders…" chooser. */
void           graft_data_page_choose_folders  (GraftDataPage *self);
/* For tests: the drop target taking folder lists. */
GtkDropTarget *graft_data_page_get_drop_target (GraftDataPage *self);

G_END_DECLS
