/* graft-safetensors.h: named tensors in the safetensors format.
 *
 * A file is an 8-byte little-endian header length, a JSON header mapping
 * each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets into the data that follows) with an optional "__metadata__"
 * object of strings, spaces up to a multiple of 8 bytes, then the tensors'
 * raw little-endian bytes, one after the other with no gap.
 *
 * Writing is atomic (a temporary file beside the target, renamed over it)
 * and streams each tensor from the caller's buffer.  Reading maps the file
 * and checks everything before handing out pointers into the mapping: a
 * tensor's data is aligned to its element size and exactly as long as its
 * shape says.  Float tensors are float32, the engine's gf_real.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GRAFT_SAFETENSORS_ERROR (graft_safetensors_error_quark ())

typedef enum
{
  GRAFT_SAFETENSORS_ERROR_TRUNCATED,  /* shorter than its header says */
  GRAFT_SAFETENSORS_ERROR_HEADER,     /* header not the JSON it must be */
  GRAFT_SAFETENSORS_ERROR_DTYPE,      /* an element type Graft does not read */
  GRAFT_SAFETENSORS_ERROR_SHAPE,      /* absurd shape, or not the expected */
  GRAFT_SAFETENSORS_ERROR_OFFSETS,    /* data offsets out of place */
  GRAFT_SAFETENSORS_ERROR_NOT_FOUND,  /* no tensor of that name */
  GRAFT_SAFETENSORS_ERROR_INVALID,    /* writer: bad name or shape given */
} GraftSafetensorsError;

GQuark graft_safetensors_error_quark (void);

typedef enum
{
  GRAFT_DTYPE_F32,   /* "F32", 4 bytes */
  GRAFT_DTYPE_I64,   /* "I64", 8 bytes */
} GraftDtype;

#define GRAFT_TENSOR_MAX_DIMS 8

/* One tensor, borrowed: the writer reads @name and @data from the caller;
 * the reader's point into the loaded file and live as long as it. */
typedef struct
{
  const char *name;
  GraftDtype dtype;
  guint n_dims;                         /* 0 for a scalar */
  gsize shape[GRAFT_TENSOR_MAX_DIMS];
  gconstpointer data;                   /* may be NULL when empty */
} GraftTensorView;

gsize graft_dtype_size (GraftDtype dtype);
/* Elements in @view's shape (1 for a scalar); the reader and writer have
 * checked that it, times the element size, does not overflow. */
gsize graft_tensor_view_n_elements (const GraftTensorView *view);

/* Writes @n_tensors tensors (names unique, not "__metadata__") and
 * @metadata (string → string, may be NULL) to @path, replacing it. */
gboolean graft_safetensors_write (const char *path,
                                  const GraftTensorView *tensors,
                                  gsize n_tensors,
                                  GHashTable *metadata,
                                  GError **error);

typedef struct _GraftSafetensors GraftSafetensors;

/* Loads and checks a whole file; errors other than I/O are
 * GRAFT_SAFETENSORS_ERROR with a one-line message that starts with @path. */
GraftSafetensors *graft_safetensors_load (const char *path, GError **error);
/* The same from bytes in memory (kept alive by the result). */
GraftSafetensors *graft_safetensors_new_from_bytes (GBytes *bytes,
                                                    GError **error);
void              graft_safetensors_free (GraftSafetensors *st);

/* Tensors in the order of their data in the file. */
guint                  graft_safetensors_get_n_tensors (GraftSafetensors *st);
const GraftTensorView *graft_safetensors_get_tensor (GraftSafetensors *st,
                                                     guint index);
/* NULL when there is no tensor named @name. */
const GraftTensorView *graft_safetensors_lookup (GraftSafetensors *st,
                                                 const char *name);
/* The float32 data of @name when it has exactly @n_elements elements;
 * otherwise NULL and a GError naming the tensor. */
const float *graft_safetensors_get_f32 (GraftSafetensors *st,
                                        const char *name, gsize n_elements,
                                        GError **error);
/* The float32 data of @name when its shape is exactly @shape (@n_dims
 * dimensions): a tensor with as many elements in another shape (a
 * transposed matrix) is refused too.  Otherwise NULL and a GError naming
 * the tensor. */
const float *graft_safetensors_get_f32_shaped (GraftSafetensors *st,
                                               const char *name,
                                               guint n_dims,
                                               const gsize *shape,
                                               GError **error);
/* "__metadata__": string → string, owned by @st, empty when absent. */
GHashTable *graft_safetensors_get_metadata (GraftSafetensors *st);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftSafetensors, graft_safetensors_free)

G_END_DECLS
