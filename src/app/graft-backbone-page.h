/* graft-backbone-page.h: the Backbone stage — the bundled backbones and
 * the ONNX files the user imported (copied into Graft's data folder, so
 * they are there after a restart), each with input size, parameters,
 * bottleneck and source; the chosen one's blocks as a strip, frozen or
 * trainable for the chosen mode; preprocessing editable for imports. */
#pragma once

#include <adwaita.h>

#include "graft-project.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_BACKBONE_PAGE (graft_backbone_page_get_type ())
G_DECLARE_FINAL_TYPE (GraftBackbonePage, graft_backbone_page, GRAFT,
                      BACKBONE_PAGE, AdwBin)

GtkWidget     *graft_backbone_page_new             (void);
void           graft_backbone_page_set_project     (GraftBackbonePage *self,
                                                    GraftProject *project);
/* Copies @file into the imported models' folder, loads it and selects
 * it; a broken model gives a toast with the importer's reason. */
void           graft_backbone_page_import          (GraftBackbonePage *self,
                                                    GFile *file);
/* The "Import…" chooser. */
void           graft_backbone_page_choose_import   (GraftBackbonePage *self);
/* Selects (and loads) the backbone of @spec: a bundled id or an
 * imported model's path. */
void           graft_backbone_page_select          (GraftBackbonePage *self,
                                                    const char *spec);
/* For tests: the drop target taking .onnx files. */
GtkDropTarget *graft_backbone_page_get_drop_target (GraftBackbonePage *self);
/* Opens the preprocessing dialog for the chosen imported model (as "Edit
 * Preprocessing…" does); NULL when the chosen one is bundled or busy. */
GtkWindow     *graft_backbone_page_edit_preprocessing
                                                   (GraftBackbonePage *self);

/* For tests: the rows (each names its spec), the block strip, and
 * whether anything is still being listed, loaded, imported or written. */
GtkListBox    *graft_backbone_page_get_list        (GraftBackbonePage *self);
const char    *graft_backbone_page_get_row_spec    (GtkListBoxRow *row);
GtkWidget     *graft_backbone_page_get_strip       (GraftBackbonePage *self);
gboolean       graft_backbone_page_is_busy         (GraftBackbonePage *self);

G_END_DECLS
