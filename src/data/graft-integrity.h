/* graft-integrity.h: does a picture file end where its format says it
 * ends?
 *
 * GdkPixbuf decodes a JPEG cut short without an error (libjpeg warns,
 * fills the rest with gray, and the loader drops the warning), and its
 * incremental PNG and BMP loaders do the same.  A half-copied photo would
 * then train as a gray smear.  So the bytes are walked as they are read,
 * once, beside the content hash: JPEG segments up to the end-of-image
 * marker after the image data, PNG chunks up to IEND, and the sizes that
 * BMP and WebP headers declare.  Other formats are left to the decoder.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  GRAFT_FORMAT_UNKNOWN,
  GRAFT_FORMAT_PNG,
  GRAFT_FORMAT_JPEG,
  GRAFT_FORMAT_GIF,
  GRAFT_FORMAT_BMP,
  GRAFT_FORMAT_TIFF,
  GRAFT_FORMAT_WEBP,
} GraftFormat;

typedef enum
{
  GRAFT_INTEGRITY_COMPLETE,   /* or a format this cannot tell about */
  GRAFT_INTEGRITY_TRUNCATED,  /* the data stops before the format's end */
  GRAFT_INTEGRITY_MALFORMED,  /* a structure no valid file has */
} GraftIntegrityResult;

typedef struct _GraftIntegrity GraftIntegrity;

GraftIntegrity *graft_integrity_new  (void);
void            graft_integrity_free (GraftIntegrity *integrity);

/* Feeds the file's next @size bytes, in order, in chunks of any size. */
void graft_integrity_feed (GraftIntegrity *integrity, const guint8 *data,
                           gsize size);

/* After the last byte: whether the data is complete as far as its format
 * can tell; when not, @reason (a static string) says what is wrong. */
GraftIntegrityResult graft_integrity_finish (GraftIntegrity *integrity,
                                             const char **reason);

/* The format its first bytes announce (known once 12 bytes were fed, or
 * after finish). */
GraftFormat graft_integrity_get_format (GraftIntegrity *integrity);

const char *graft_format_name (GraftFormat format);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftIntegrity, graft_integrity_free)

G_END_DECLS
