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
 * A consumer that says what it needs of a picture (GraftImageNeed: the
 * network's input size, and the smallest random crop a view may take)
 * gets a JPEG decoded at the smallest of libjpeg's DCT scales (1/2, 1/4,
 * 1/8) that still gives every view at least the network's size in
 * pixels: a 12-megapixel photo for a 224-pixel network decodes at 1/8,
 * several times faster than whole.  Other formats decode whole.  Such a
 * pixbuf remembers the size of the picture it came from
 * (graft_image_get_source_size): views are planned in the picture's own
 * pixels, so a view shows the same part of a picture at any scale.
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

/* What a consumer does with a picture: resizes it, or a random crop of
 * it, to the network's input. */
typedef struct
{
  int width, height;            /* the network's input, in pixels */
  gboolean crop;                /* views are random crops */
  double scale_min;             /* the smallest crop's share of the area */
  double ratio_min, ratio_max;  /* crop width / crop height */
} GraftImageNeed;

/* The need of a backbone taking @pre, with views as @augment says (may be
 * NULL: the plain picture only). */
void graft_image_need_init (GraftImageNeed *need, const GfPreprocess *pre,
                            const GraftAugment *augment);

/* The scale denominator (1, 2, 4 or 8) a @width × @height JPEG is decoded
 * at for @need (NULL: 1): the largest that leaves the smallest view of the
 * picture at least the network's width and height, whichever way the
 * picture's EXIF orientation turns it. */
int graft_image_need_denominator (const GraftImageNeed *need, int width,
                                  int height);

/* graft_image_decode at the scale @need allows (NULL: whole). */
GdkPixbuf *graft_image_decode_for (const char *path,
                                   const GraftImageNeed *need,
                                   GError **error);

/* graft_image_inspect, then graft_image_decode_for. */
GdkPixbuf *graft_image_load_for (const char *path, gint64 max_pixels,
                                 const GraftImageNeed *need, GError **error);

/* The upright size of the picture @pixbuf was decoded from: its own size
 * unless it was decoded at a reduced scale. */
void graft_image_get_source_size (GdkPixbuf *pixbuf, int *width,
                                  int *height);

/* Decoded pictures kept in memory, for training that makes new views of
 * every picture each epoch.  Pictures are kept as they come until the
 * byte budget is spent ("cache until full": epochs read every picture in
 * turn, so evicting the oldest would evict each just before its next
 * use), each with its file's identity (device, inode, size, modification
 * and change times).  A kept picture is used only while a stat of its
 * path gives the same identity: a file deleted, replaced, rewritten or
 * made unreadable since is read again, and fails as it would have
 * without the cache.  Safe to share between threads. */
typedef struct _GraftImageCache GraftImageCache;

/* @budget 0: the default, the least of 512 MiB, a quarter of the
 * physical memory and a quarter of the room a limit on address space
 * leaves. */
GraftImageCache *graft_image_cache_new (const GraftImageNeed *need,
                                        gint64 max_pixels, gsize budget);
void             graft_image_cache_free (GraftImageCache *cache);
/* The bytes of pixels kept, and the budget. */
gsize            graft_image_cache_get_bytes (GraftImageCache *cache);
gsize            graft_image_cache_get_budget (GraftImageCache *cache);
/* graft_image_load_for with the cache's need and limit, or a kept
 * picture (a new reference to it: never modify it). */
GdkPixbuf       *graft_image_cache_load (GraftImageCache *cache,
                                         const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftImageCache, graft_image_cache_free)

/* Resizes as @pre says (no resampling when the size already matches) and
 * writes (channels, height, width) floats into @out, normalised. */
void graft_image_to_tensor (GdkPixbuf *pixbuf, const GfPreprocess *pre,
                            float *out);

/* The same for one view (graft-augment.h): a cropped view is resized to
 * the network's size as a whole, then mirrored if the view says so.  A
 * NULL or uncropped, unmirrored view is graft_image_to_tensor.  The view
 * is in the source picture's pixels (graft_image_get_source_size), which
 * are the pixbuf's own unless it was decoded at a reduced scale. */
void graft_image_view_to_tensor (GdkPixbuf *pixbuf, const GfPreprocess *pre,
                                 const GraftView *view, float *out);

G_END_DECLS
