/* gf-status.c: error messages and checked allocation for the engine. */
#include "gf-status.h"

#include "gf-engine.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __linux__
#include <sys/mman.h>
#endif

GfStatus
gf_error_set (GfError *error, GfStatus status, const char *format, ...)
{
  va_list args;

  if (error == NULL)
    return status;

  error->status = status;
  va_start (args, format);
  vsnprintf (error->message, sizeof error->message, format, args);
  va_end (args);
  return status;
}

const char *
gf_status_to_string (GfStatus status)
{
  switch (status)
    {
    case GF_OK: return "ok";
    case GF_ERR_INVALID: return "invalid argument";
    case GF_ERR_SHAPE: return "shape mismatch";
    case GF_ERR_NOMEM: return "out of memory";
    case GF_ERR_UNSUPPORTED: return "unsupported";
    case GF_ERR_FORMAT: return "malformed file";
    case GF_ERR_IO: return "input/output error";
    case GF_ERR_NUMERIC: return "not a finite number";
    case GF_ERR_INTERRUPTED: return "interrupted";
    default: return "unknown error";
    }
}

int
gf_size_mul (size_t a, size_t b, size_t *out)
{
  if (a != 0 && b > SIZE_MAX / a)
    return -1;
  *out = a * b;
  return 0;
}

int
gf_size_add (size_t a, size_t b, size_t *out)
{
  if (b > SIZE_MAX - a)
    return -1;
  *out = a + b;
  return 0;
}

/* Large buffers (activations, workspaces: megabytes each, walked with
 * strides of kilobytes) ask for transparent huge pages where the system
 * gives them on request; the 2 MiB pages inside the buffer only. */
#define HUGE_PAGE ((uintptr_t) 2 << 20)

static void
advise_huge_pages (void *p, size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  uintptr_t begin = ((uintptr_t) p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  uintptr_t end = ((uintptr_t) p + bytes) & ~(HUGE_PAGE - 1);

  if (end > begin)
    madvise ((void *) begin, end - begin, MADV_HUGEPAGE);
#else
  (void) p;
  (void) bytes;
#endif
}

GfStatus
gf_alloc_zeroed (size_t count, size_t size, void **out, GfError *error)
{
  size_t bytes;

  *out = NULL;
  if (gf_size_mul (count, size, &bytes) != 0 || bytes > GF_ALLOC_LIMIT)
    return gf_error_set (error, GF_ERR_NOMEM,
                         "refusing to allocate %zu × %zu bytes", count, size);
  if (!gf_engine_has_room_for (bytes))
    return gf_error_set (error, GF_ERR_NOMEM, "out of memory allocating "
                         "%zu bytes (the limit on address space leaves too "
                         "little room)", bytes);
  *out = calloc (bytes > 0 ? bytes : 1, 1);
  if (*out == NULL)
    return gf_error_set (error, GF_ERR_NOMEM,
                         "out of memory allocating %zu bytes", bytes);
  advise_huge_pages (*out, bytes);
  return GF_OK;
}
