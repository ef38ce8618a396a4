/* graft-image.h: one picture from disk to the tensor a backbone takes.
 *
 * Decoding goes through GdkPixbuf (whatever loaders are installed: PNG,
 * JPEG, GIF, BMP, TIFF, WebP...).  The pixel count is read from the header
 * first and files over the limit are refused before any pixel is decoded;
 * EXIF orientation is applied, alpha composited on white, and the result
 * is always 8-bit RGB (GdkPixbuf already widens gray and narrows 16-bit).
 */
#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>

#include "gf-preprocess.h"

G_BEGIN_DECLS

#define GRAFT_DEFAULT_MAX_PIXELS ((gint64) 50 * 1000 * 1000)

/* Whether the file can be decoded safely, from its metadata and header
 * alone (missing, unreadable, empty, not an image, too many pixels). */
gboolean graft_image_check (const char *path, gint64 max_pixels,
                            GError **error);

/* An RGB pixbuf without alpha, upright; NULL with a GRAFT_DATA_ERROR. */
GdkPixbuf *graft_image_load (const char *path, gint64 max_pixels,
                             GError **error);

/* Resizes as @pre says (no resampling when the size already matches) and
 * writes (channels, height, width) floats into @out, normalised. */
void graft_image_to_tensor (GdkPixbuf *pixbuf, const GfPreprocess *pre,
                            float *out);

G_END_DECLS
