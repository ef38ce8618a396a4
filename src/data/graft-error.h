/* graft-error.h: the GError domains of the layers above the engine, and
 * the one place engine statuses become GErrors. */
#pragma once

#include <glib.h>

#include "gf-status.h"

G_BEGIN_DECLS

#define GRAFT_ENGINE_ERROR (graft_engine_error_quark ())
#define GRAFT_DATA_ERROR (graft_data_error_quark ())

/* Codes of GRAFT_ENGINE_ERROR are the engine's GfStatus values. */
GQuark graft_engine_error_quark (void);

typedef enum
{
  GRAFT_DATA_ERROR_NOT_IMAGE,     /* no loader recognises the file */
  GRAFT_DATA_ERROR_CORRUPT,       /* recognised, but decoding failed */
  GRAFT_DATA_ERROR_TRUNCATED,     /* the data stops before the format's end */
  GRAFT_DATA_ERROR_TOO_LARGE,     /* over the pixel limit */
  GRAFT_DATA_ERROR_UNREADABLE,    /* permissions, I/O */
  GRAFT_DATA_ERROR_EMPTY,         /* zero bytes */
  GRAFT_DATA_ERROR_NO_CLASSES,    /* nothing usable to train on */
  GRAFT_DATA_ERROR_NOT_REGULAR,   /* a device, socket, pipe or broken link */
  GRAFT_DATA_ERROR_CACHE,         /* the feature cache cannot be used */
  GRAFT_DATA_ERROR_NO_LOADER,     /* this system reads no pictures at all */
  GRAFT_DATA_ERROR_LOST,          /* pictures scanned fine became unreadable
                                   * mid-run (graft_run_data_fill_batch) */
  GRAFT_DATA_ERROR_NO_MEMORY,     /* too little memory to decode it */
} GraftDataError;

GQuark graft_data_error_quark (void);

/* Turns a failed engine call into a GError; returns FALSE so that callers
 * can `return graft_engine_error (error, status, &gf_error);`. */
gboolean graft_engine_error (GError **error, GfStatus status,
                             const GfError *gf_error);

G_END_DECLS
