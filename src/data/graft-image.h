/* graft-image.h: one picture from disk to the tensor a backbone takes.
 *
 * Inspecting a file decides whether it can be used without decoding it:
 * it must be a readable, non-empty regular file whose header a GdkPixbuf
 * loader reads (PNG, JPEG, GIF, BMP, TIFF, WebP... whatever is installed),
 * within the pixel limit (checked from the header alone, so a
 * decompression bomb is refused before any pixel is decoded), and whose
 * bytes run to the end its format announces (graft-integrity.h).  The same
 * single read gives the SHA-256 of the content.
 *
 * Decoding applies EXIF orientation, composites alpha on white and always
 * gives 8-bit RGB (GdkPixbuf's loaders already widen gray and narrow
 * 16-bit samples; CMYK JPEGs are converted by the JPEG loader).
 *
 * Every function here is safe on any thread.
 */
#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gio.h>

#include "gf-preprocess.h"
#include "graft-augment.h"
#include "graft-integrity.h"

G_BEGIN_DECLS

#define GRAFT_DEFAULT_MAX_PIXELS ((gint64) 50 * 1000 * 1000)
#define GRAFT_SHA256_HEX_LENGTH 64

typedef struct
{
  int width, height;          /* from the header, before orientation */
  GraftFormat format;         /* from the first bytes */
  gint64 size;                /* bytes */
  char sha256[GRAFT_SHA256_HEX_LENGTH + 1];   /* of the content, hex */
} GraftImageInfo;

/* Whether @path can be decoded safely, short of decoding it; @info (may be
 * NULL, then no hash is computed) is filled on success.  Fails with a
 * GRAFT_DATA_ERROR whose message is the reason for the user ("truncated:
 * ..."), or G_IO_ERROR_CANCELLED. */
gboolean graft_image_inspect (const char *path, gint64 max_pixels,
                              GraftImageInfo *info,
                              GCancellable *cancellable, GError **error);

/* The SHA-256 of any file's content, hex (a backbone's, for cache keys);
 * NULL with GRAFT_DATA_ERROR_UNREADABLE or G_IO_ERROR_CANCELLED. */
char *graft_file_sha256 (const char *path, GCancellable *cancellable,
                         GError **error);

/* Decodes a file that passed graft_image_inspect: an upright 8-bit RGB
 * pixbuf without alpha, or NULL with GRAFT_DATA_ERROR_CORRUPT. */
GdkPixbuf *graft_image_decode (const char *path, GError **error);

/* graft_image_inspect, then graft_image_decode. */
GdkPixbuf *graft_image_load (const char *path, gint64 max_pixels,
                             GError **error);

/* Resizes as @pre says (no resampling when the size already matches) and
 * writes (channels, height, width) floats into @out, normalised. */
void graft_image_to_tensor (GdkPixbuf *pixbuf, const GfPreprocess *pre,
                            float *out);

/* The same for one view (graft-augment.h): a cropped view is resized to
 * the network's size as a whole, then mirrored if the view says so.  A
 * NULL or uncropped, unmirrored view is graft_image_to_tensor. */
void graft_image_view_to_tensor (GdkPixbuf *pixbuf, const GfPreprocess *pre,
                                 const GraftView *view, float *out);

G_END_DECLS
