/* gf-status.h: how the engine reports failure.
 *
 * Every fallible engine call returns a GfStatus and, when the caller passes
 * a GfError, a one-line message saying what went wrong.  The engine never
 * prints, exits or aborts: the layers above turn these into GError.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

typedef enum
{
  GF_OK = 0,
  GF_ERR_INVALID,     /* an argument or attribute is out of range */
  GF_ERR_SHAPE,       /* tensor shapes do not fit together */
  GF_ERR_NOMEM,       /* an allocation failed or its size overflowed */
  GF_ERR_UNSUPPORTED, /* a valid request the engine cannot do */
  GF_ERR_FORMAT,      /* a file is malformed */
  GF_ERR_IO,          /* reading or writing a file failed */
  GF_ERR_NUMERIC,     /* a NaN or infinity where a number was needed */
  GF_ERR_INTERRUPTED, /* the caller's interrupt hook asked to stop */
} GfStatus;

#define GF_ERROR_MESSAGE_MAX 512

typedef struct
{
  GfStatus status;
  char message[GF_ERROR_MESSAGE_MAX];
} GfError;

/* Fills @error (which may be NULL) and returns @status, so that a failing
 * path reads `return gf_error_set (error, GF_ERR_SHAPE, "...", ...);`. */
GfStatus gf_error_set (GfError *error, GfStatus status, const char *format, ...)
  __attribute__ ((format (printf, 3, 4)));

const char *gf_status_to_string (GfStatus status);

/* Overflow-checked size arithmetic: return 0 on success, -1 on overflow. */
int gf_size_mul (size_t a, size_t b, size_t *out);
int gf_size_add (size_t a, size_t b, size_t *out);

/* Allocates @count elements of @size bytes, zeroed, after checking that the
 * product neither overflows nor exceeds GF_ALLOC_LIMIT. */
#define GF_ALLOC_LIMIT ((size_t) 1 << 36)   /* 64 GiB: beyond any real model */
GfStatus gf_alloc_zeroed (size_t count, size_t size, void **out, GfError *error);
