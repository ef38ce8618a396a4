/* graft-thumbnail-strip.h: a row of small square thumbnails of a class's
 * first pictures.  The pictures are decoded only once the strip is
 * mapped, on a worker thread, and kept in a cache shared by all strips
 * (by path and size), so a strip shown again costs nothing.  When the
 * strip is narrower than all its thumbnails, it shows as many as fit. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* How many pictures a strip shows at most. */
#define GRAFT_THUMBNAIL_STRIP_MAX 8

#define GRAFT_TYPE_THUMBNAIL_STRIP (graft_thumbnail_strip_get_type ())
G_DECLARE_FINAL_TYPE (GraftThumbnailStrip, graft_thumbnail_strip, GRAFT,
                      THUMBNAIL_STRIP, GtkWidget)

GtkWidget *graft_thumbnail_strip_new          (void);
/* The first GRAFT_THUMBNAIL_STRIP_MAX of @paths (NULL-terminated; NULL
 * for none). */
void       graft_thumbnail_strip_set_pictures (GraftThumbnailStrip *self,
                                               const char *const *paths);
/* For tests: how many thumbnails have their picture. */
guint      graft_thumbnail_strip_get_n_loaded (GraftThumbnailStrip *self);

G_END_DECLS
