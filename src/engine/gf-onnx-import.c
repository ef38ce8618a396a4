/* gf-onnx-import.c: an ONNX file → a GfModel around a compiled GfGraph.
 *
 * The file is unpacked by protobuf-c (after a walk that bounds how deep its
 * messages nest), and the nodes that lead to the first graph output are put
 * in an execution order.  Walking them in that order, every ONNX tensor
 * becomes a Value: either a constant known at load time (initializers,
 * Constant, and whatever shape arithmetic computes from them and from
 * static shapes) or data, a tensor of the graph with its static shape.
 * Ops over data become graph nodes; ops over constants are evaluated here.
 * The graph's compile then checks every shape once more.
 *
 * Every size read from the file is checked against the bytes that back it,
 * and against GF_ALLOC_LIMIT, before memory is allocated for it.
 */
#include "gf-onnx.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnx.pb-c.h"
#include "ops/gf-elementwise.h"

#define OPSET_MIN 7
#define OPSET_MAX 17

/* Real files nest Model → Graph → Node → Attribute → Tensor, a few levels
 * more with subgraphs; see check_nesting for why there is a limit. */
#define MAX_NESTING 64

/* The batch inside shape constants: Shape of an activation yields it for
 * axis 0 and Reshape recognises it.  INT64_MIN is no dimension; the rare
 * file that writes it (as a Slice bound) is read as INT64_MIN + 1, which
 * bounds a Slice just the same. */
#define BATCH INT64_MIN

/* Folding is for shape arithmetic and small weight tweaks.  An op that
 * can make its result larger than its inputs (ConstantOfShape, Gather,
 * broadcasting) may not exceed this many elements, so that a tiny file
 * cannot ask for gigabytes. */
#define FOLD_MAX_COUNT ((size_t) 1 << 24)
/* And every constant made while importing, together: FOLD_MAX_COUNT
 * plus a few times the weights the file holds (folding transposes,
 * reshapes and scales weights, and copies them once or twice).  Without
 * it a chain of folds, each within its bound, made a 25 KB file take
 * 667 MB and seconds to refuse. */
#define FOLD_WEIGHT_COPIES 3

/* No real network has a kernel, stride, dilation, padding or image side
 * beyond a few thousand; the bound keeps the kernels' size arithmetic far
 * from overflow. */
#define MAX_EXTENT ((int64_t) 1 << 16)

/* What an image input with free height and width is given (the size
 * torchvision and Keras models are trained at), unless graft.input_size
 * says otherwise. */
#define DEFAULT_IMAGE_SIDE 224

#define MESSAGE_PART 160

typedef struct
{
  size_t ndim;
  size_t dims[GF_MAX_DIMS];
} Shape;

/* A tensor known at load time: int64 values in @i (shapes, indices) or
 * float32 values in @f (weights). */
typedef struct
{
  Shape shape;
  size_t count;
  bool is_int;
  float *f;
  int64_t *i;
} Const;

typedef enum
{
  VALUE_NONE,      /* not computed (yet) */
  VALUE_CONST,
  VALUE_DATA,
} ValueKind;

/* One ONNX tensor name. */
typedef struct
{
  const char *name;                 /* borrowed from the unpacked file */
  int producer;                     /* node index, or −1 */
  const Onnx__TensorProto *initializer;
  bool is_input;                    /* a graph input, not an initializer */
  size_t consumers;                 /* reads by live nodes, +1 if output */
  int consumer;                     /* the last live node reading it */
  ValueKind kind;
  Const c;                          /* CONST; initializers decode lazily */
  bool decoded;
  int param;                        /* graph id of c as a weight, or −1 */
  int tensor;                       /* DATA: graph id */
  Shape shape;                      /* DATA: dims[0] stands for the batch */
} Value;

/* Open addressing from a name to its Value index. */
typedef struct
{
  int *slots;                       /* −1 when empty */
  size_t mask;
} NameMap;

typedef struct
{
  const Onnx__ModelProto *proto;
  const Onnx__GraphProto *g;
  const char *base_dir;             /* for external data; NULL refuses it */
  bool fold_batchnorm;
  int64_t opset;
  GfGraph *graph;
  Value *values;
  size_t n_values;
  NameMap map;
  size_t *order;                    /* live nodes in execution order */
  size_t n_order;
  bool *skip;                       /* per node: absorbed by another */
  int input;                        /* the image's Value, or −1 */
  int output;                       /* the first graph output's Value */
  bool input_nhwc;
  int64_t file_batch;               /* the input's fixed batch, else 1 */
  size_t folded;                    /* constant elements made so far */
  size_t fold_budget;               /* and at most (see FOLD_WEIGHT_COPIES) */
  GfError err;
} Import;

typedef GfStatus (*ImportFunc) (Import *im, const Onnx__NodeProto *node);

/* ---- Messages ------------------------------------------------------------ */

static GfStatus fail (Import *im, GfStatus status, const char *format, ...)
  __attribute__ ((format (printf, 3, 4)));
static GfStatus node_fail (Import *im, const Onnx__NodeProto *node,
                           GfStatus status, const char *format, ...)
  __attribute__ ((format (printf, 4, 5)));

static GfStatus
fail (Import *im, GfStatus status, const char *format, ...)
{
  va_list args;

  im->err.status = status;
  va_start (args, format);
  vsnprintf (im->err.message, sizeof im->err.message, format, args);
  va_end (args);
  return status;
}

static const char *
node_label (const Onnx__NodeProto *node)
{
  if (node->name != NULL && node->name[0] != '\0')
    return node->name;
  if (node->n_output > 0 && node->output[0][0] != '\0')
    return node->output[0];
  return "(unnamed)";
}

/* "OpType node 'name': what", as the graph words its own messages. */
static GfStatus
node_fail (Import *im, const Onnx__NodeProto *node, GfStatus status,
           const char *format, ...)
{
  char what[GF_ERROR_MESSAGE_MAX];
  va_list args;

  va_start (args, format);
  vsnprintf (what, sizeof what, format, args);
  va_end (args);
  return fail (im, status, "%.64s node '%.*s': %s", node->op_type,
               MESSAGE_PART, node_label (node), what);
}

/* Writes "[a, b, ...]" with the batch as N. */
static void
format_ints (char *out, size_t size, const int64_t *values, size_t n)
{
  size_t used = (size_t) snprintf (out, size, "[");

  for (size_t k = 0; k < n && used < size; k++)
    {
      if (values[k] == BATCH)
        used += (size_t) snprintf (out + used, size - used, "%sN",
                                   k ? ", " : "");
      else
        used += (size_t) snprintf (out + used, size - used, "%s%lld",
                                   k ? ", " : "", (long long) values[k]);
    }
  if (used < size)
    snprintf (out + used, size - used, "]");
}

/* Writes an activation's shape as "(N, 3, 224, 224)". */
static void
format_shape (char *out, size_t size, const Shape *shape)
{
  size_t used = (size_t) snprintf (out, size, "(N");

  for (size_t k = 1; k < shape->ndim && used < size; k++)
    used += (size_t) snprintf (out + used, size - used, ", %zu",
                               shape->dims[k]);
  if (used < size)
    snprintf (out + used, size - used, ")");
}

static char *
copy_string (const char *text)
{
  size_t length = strlen (text);
  char *copy = malloc (length + 1);

  if (copy != NULL)
    memcpy (copy, text, length + 1);
  return copy;
}

/* ---- Names --------------------------------------------------------------- */

static size_t
hash_name (const char *name)
{
  size_t h = 14695981039346656037u;   /* FNV-1a */

  for (; *name != '\0'; name++)
    h = (h ^ (unsigned char) *name) * 1099511628211u;
  return h;
}

static GfStatus
map_init (Import *im, size_t capacity_at_least)
{
  size_t capacity = 16;

  while (capacity < 2 * capacity_at_least)
    capacity *= 2;
  im->map.slots = malloc (capacity * sizeof *im->map.slots);
  if (im->map.slots == NULL)
    return fail (im, GF_ERR_NOMEM, "out of memory indexing tensor names");
  memset (im->map.slots, 0xff, capacity * sizeof *im->map.slots);
  im->map.mask = capacity - 1;
  return GF_OK;
}

/* The slot where @name is, or the empty slot where it would go. */
static size_t
map_slot (const Import *im, const char *name)
{
  size_t slot = hash_name (name) & im->map.mask;

  while (im->map.slots[slot] >= 0
         && strcmp (im->values[im->map.slots[slot]].name, name) != 0)
    slot = (slot + 1) & im->map.mask;
  return slot;
}

static Value *
find_value (const Import *im, const char *name)
{
  int index = im->map.slots[map_slot (im, name)];

  return index >= 0 ? &im->values[index] : NULL;
}

static int
value_index (const Import *im, const Value *value)
{
  return (int) (value - im->values);
}

/* A name for a tensor Graft adds itself: @base + @suffix, numbered until
 * it is unused in both the file and the graph. */
static GfStatus
make_name (Import *im, const char *base, const char *suffix, char *out,
           size_t size)
{
  for (int k = 0; k < 1000; k++)
    {
      if (k == 0)
        snprintf (out, size, "%.200s%s", base, suffix);
      else
        snprintf (out, size, "%.200s%s%d", base, suffix, k);
      if (find_value (im, out) == NULL
          && gf_graph_find_tensor (im->graph, out) < 0)
        return GF_OK;
    }
  return fail (im, GF_ERR_INVALID, "cannot find a free name for '%.*s%s'",
               MESSAGE_PART, base, suffix);
}

/* ---- The file ------------------------------------------------------------ */

static bool
read_varint (const uint8_t **p, const uint8_t *end, uint64_t *value)
{
  uint64_t v = 0;

  for (unsigned shift = 0; shift < 64 && *p < end; shift += 7)
    {
      uint8_t byte = *(*p)++;
      v |= (uint64_t) (byte & 0x7f) << shift;
      if (!(byte & 0x80))
        {
          *value = v;
          return true;
        }
    }
  return false;
}

typedef enum
{
  WIRE_OK,
  WIRE_CORRUPT,
  WIRE_TOO_DEEP,
} WireCheck;

/* protobuf-c unpacks nested messages by recursion with no depth limit, so
 * a file of a few kilobytes that nests subgraphs thousands deep overflows
 * the stack inside protobuf_c_message_unpack.  This walk reads nothing
 * but tags and lengths, guided by protobuf-c's own descriptors, and stops
 * at MAX_NESTING; protobuf-c then does the real unpacking. */
static WireCheck
check_nesting (const ProtobufCMessageDescriptor *descriptor,
               const uint8_t *p, const uint8_t *end, int depth)
{
  uint64_t key, length;
  WireCheck inner;

  if (depth > MAX_NESTING)
    return WIRE_TOO_DEEP;
  while (p < end)
    {
      const ProtobufCFieldDescriptor *field;
      if (!read_varint (&p, end, &key))
        return WIRE_CORRUPT;
      switch (key & 7)
        {
        case PROTOBUF_C_WIRE_TYPE_VARINT:
          if (!read_varint (&p, end, &length))
            return WIRE_CORRUPT;
          break;
        case PROTOBUF_C_WIRE_TYPE_64BIT:
        case PROTOBUF_C_WIRE_TYPE_32BIT:
          length = (key & 7) == PROTOBUF_C_WIRE_TYPE_64BIT ? 8 : 4;
          if (length > (uint64_t) (end - p))
            return WIRE_CORRUPT;
          p += length;
          break;
        case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
          if (!read_varint (&p, end, &length)
              || length > (uint64_t) (end - p))
            return WIRE_CORRUPT;
          field = key >> 3 > UINT_MAX ? NULL
            : protobuf_c_message_descriptor_get_field (descriptor,
                                                       (unsigned) (key >> 3));
          if (field != NULL && field->type == PROTOBUF_C_TYPE_MESSAGE
              && (inner = check_nesting (field->descriptor, p, p + length,
                                         depth + 1)) != WIRE_OK)
            return inner;
          p += length;
          break;
        default:
          return WIRE_CORRUPT;   /* groups: no ONNX file has them */
        }
    }
  return WIRE_OK;
}

/* protobuf-c's allocator, noting whether an allocation failed: then an
 * unpacking that fails ran out of memory, and the file is not to blame. */
static void *
unpack_alloc (void *failed, size_t size)
{
  void *p = malloc (size > 0 ? size : 1);

  if (p == NULL)
    *(bool *) failed = true;
  return p;
}

static void
unpack_free (void *failed, void *p)
{
  (void) failed;
  free (p);
}

static GfStatus
unpack_model (GfError *err, const void *data, size_t size,
              Onnx__ModelProto **proto)
{
  bool failed = false;
  ProtobufCAllocator allocator = { unpack_alloc, unpack_free, &failed };

  *proto = NULL;
  if (size == 0)
    return gf_error_set (err, GF_ERR_FORMAT, "the file is empty");
  if (size > GF_ONNX_MAX_FILE_SIZE)
    return gf_error_set (err, GF_ERR_FORMAT, "the file is larger than "
                         "2 GiB, protobuf's limit");
  switch (check_nesting (&onnx__model_proto__descriptor, data,
                         (const uint8_t *) data + size, 0))
    {
    case WIRE_TOO_DEEP:
      return gf_error_set (err, GF_ERR_FORMAT, "not an ONNX model: its "
                           "messages are nested more than %d levels deep",
                           MAX_NESTING);
    case WIRE_CORRUPT:
      return gf_error_set (err, GF_ERR_FORMAT, "not an ONNX model: the data "
                           "is truncated or corrupt");
    case WIRE_OK:
    default:
      break;
    }
  *proto = onnx__model_proto__unpack (&allocator, size, data);
  if (*proto == NULL && failed)
    return gf_error_set (err, GF_ERR_NOMEM, "out of memory unpacking the "
                         "model (%zu MiB)", size >> 20);
  if (*proto == NULL)
    return gf_error_set (err, GF_ERR_FORMAT, "not an ONNX model: protobuf-c "
                         "cannot unpack it (truncated or corrupt)");
  return GF_OK;
}

static void
describe_errno (char *out, size_t size, int number)
{
  /* The XSI strerror_r: the engine may run on any thread. */
  if (strerror_r (number, out, size) != 0)
    snprintf (out, size, "error %d", number);
}

/* Reads a whole regular file of at most @limit bytes. */
static GfStatus
read_file (GfError *err, const char *path, size_t limit, uint8_t **data,
           size_t *size)
{
  char reason[128];
  struct stat st;
  FILE *file = fopen (path, "rb");
  GfStatus status = GF_OK;

  *data = NULL;
  if (file == NULL || fstat (fileno (file), &st) != 0)
    {
      describe_errno (reason, sizeof reason, errno);
      if (file != NULL)
        fclose (file);
      return gf_error_set (err, GF_ERR_IO, "cannot open '%.*s': %s",
                           MESSAGE_PART, path, reason);
    }
  *size = (size_t) st.st_size;
  if (!S_ISREG (st.st_mode) || (uint64_t) st.st_size > limit)
    status = gf_error_set (err, GF_ERR_IO, "'%.*s' is %s", MESSAGE_PART,
                           path, S_ISREG (st.st_mode) ? "larger than 2 GiB"
                           : "not a regular file");
  else if ((*data = malloc (*size > 0 ? *size : 1)) == NULL)
    status = gf_error_set (err, GF_ERR_NOMEM, "out of memory reading '%.*s'",
                           MESSAGE_PART, path);
  else if (fread (*data, 1, *size, file) != *size)
    status = gf_error_set (err, GF_ERR_IO, "cannot read '%.*s'",
                           MESSAGE_PART, path);
  fclose (file);
  if (status != GF_OK)
    {
      free (*data);
      *data = NULL;
    }
  return status;
}

/* ---- External data ------------------------------------------------------- */

static bool
parse_size (const char *text, size_t *out)
{
  char *end;
  unsigned long long v;

  if (text == NULL || text[0] < '0' || text[0] > '9')
    return false;
  errno = 0;
  v = strtoull (text, &end, 10);
  if (errno != 0 || *end != '\0' || v > SIZE_MAX)
    return false;
  *out = (size_t) v;
  return true;
}

/* A location is relative, names no parent folder, and still lies inside
 * @base_dir once symbolic links are resolved.  Returns the resolved path
 * (to free) or NULL. */
static char *
resolve_location (const char *base_dir, const char *location)
{
  char *base = NULL, *joined = NULL, *resolved = NULL;
  size_t base_length, length;

  if (location[0] == '\0' || location[0] == '/'
      || strcmp (location, "..") == 0 || strncmp (location, "../", 3) == 0
      || strstr (location, "/../") != NULL
      || ((length = strlen (location)) >= 3
          && strcmp (location + length - 3, "/..") == 0))
    return NULL;
  base = realpath (base_dir, NULL);
  joined = base ? malloc (strlen (base) + strlen (location) + 2) : NULL;
  if (joined != NULL)
    {
      sprintf (joined, "%s/%s", base, location);
      resolved = realpath (joined, NULL);
    }
  base_length = base ? strlen (base) : 0;
  if (resolved != NULL
      && (strncmp (resolved, base, base_length) != 0
          || (resolved[base_length] != '/' && base_length > 1)))
    {
      free (resolved);
      resolved = NULL;
    }
  free (base);
  free (joined);
  return resolved;
}

typedef struct
{
  const char *location;
  size_t offset;
  size_t length;
  bool has_length;
} ExternalRef;

static GfStatus
read_external_keys (Import *im, const Onnx__TensorProto *t, ExternalRef *ref)
{
  memset (ref, 0, sizeof *ref);
  for (size_t k = 0; k < t->n_external_data; k++)
    {
      const char *key = t->external_data[k]->key;
      const char *value = t->external_data[k]->value;
      if (key == NULL)
        continue;
      if (strcmp (key, "location") == 0)
        ref->location = value;
      else if ((strcmp (key, "offset") == 0
                && !parse_size (value, &ref->offset))
               || (strcmp (key, "length") == 0
                   && !(ref->has_length = parse_size (value, &ref->length))))
        return fail (im, GF_ERR_FORMAT, "tensor '%.*s': external data %s "
                     "'%.40s' is not a size", MESSAGE_PART, t->name, key,
                     value ? value : "");
    }
  if (ref->location == NULL)
    return fail (im, GF_ERR_FORMAT, "tensor '%.*s' keeps its data outside "
                 "the file but names no location", MESSAGE_PART, t->name);
  return GF_OK;
}

/* Opens the file an external reference names, refusing any that is not
 * inside the model's own folder. */
static GfStatus
open_external (Import *im, const Onnx__TensorProto *t,
               const ExternalRef *ref, FILE **file, size_t *file_size)
{
  char *path;
  struct stat st;

  if (im->base_dir == NULL)
    return fail (im, GF_ERR_UNSUPPORTED, "tensor '%.*s' keeps its data in "
                 "an external file, which a model read from memory cannot "
                 "use", MESSAGE_PART, t->name);
  path = resolve_location (im->base_dir, ref->location);
  if (path == NULL)
    return fail (im, GF_ERR_FORMAT, "tensor '%.*s': external data location "
                 "'%.*s' is not a file inside the model's folder",
                 MESSAGE_PART, t->name, MESSAGE_PART, ref->location);
  *file = fopen (path, "rb");
  free (path);
  if (*file == NULL || fstat (fileno (*file), &st) != 0
      || !S_ISREG (st.st_mode))
    {
      if (*file != NULL)
        fclose (*file);
      return fail (im, GF_ERR_IO, "tensor '%.*s': cannot read external "
                   "data file '%.*s'", MESSAGE_PART, t->name, MESSAGE_PART,
                   ref->location);
    }
  *file_size = (size_t) st.st_size;
  return GF_OK;
}

/* The @expected bytes of an external tensor, newly allocated. */
static GfStatus
read_external (Import *im, const Onnx__TensorProto *t, size_t expected,
               uint8_t **bytes)
{
  ExternalRef ref;
  FILE *file = NULL;
  size_t file_size = 0;
  GfStatus status;

  *bytes = NULL;
  if ((status = read_external_keys (im, t, &ref)) != GF_OK
      || (status = open_external (im, t, &ref, &file, &file_size)) != GF_OK)
    return status;
  if (!ref.has_length && ref.offset <= file_size)
    ref.length = file_size - ref.offset;
  if (ref.offset > file_size || ref.length > file_size - ref.offset
      || ref.length != expected)
    status = fail (im, GF_ERR_FORMAT, "tensor '%.*s': external data at "
                   "offset %zu, length %zu does not fit its file of %zu "
                   "bytes or its shape's %zu bytes", MESSAGE_PART, t->name,
                   ref.offset, ref.length, file_size, expected);
  else if ((status = gf_alloc_zeroed (expected, 1, (void **) bytes,
                                      &im->err)) == GF_OK
           && (fseeko (file, (off_t) ref.offset, SEEK_SET) != 0
               || fread (*bytes, 1, expected, file) != expected))
    status = fail (im, GF_ERR_IO, "tensor '%.*s': cannot read its external "
                   "data", MESSAGE_PART, t->name);
  fclose (file);
  if (status != GF_OK)
    {
      free (*bytes);
      *bytes = NULL;
    }
  return status;
}

/* ---- Constants ----------------------------------------------------------- */

static void
const_clear (Const *c)
{
  free (c->f);
  free (c->i);
  memset (c, 0, sizeof *c);
}

/* Allocates a constant of @shape, refusing more than @limit elements, and
 * more than the model's budget for all its constants. */
static GfStatus
const_alloc (Import *im, Const *c, const Shape *shape, bool is_int,
             size_t limit)
{
  size_t count = 1;

  memset (c, 0, sizeof *c);
  for (size_t k = 0; k < shape->ndim; k++)
    if (gf_size_mul (count, shape->dims[k], &count) != 0)
      return fail (im, GF_ERR_NOMEM, "a constant's size overflows");
  if (count > limit)
    return fail (im, GF_ERR_NOMEM, "refusing to fold a constant of %zu "
                 "elements", count);
  if (im->folded > im->fold_budget || count > im->fold_budget - im->folded)
    return fail (im, GF_ERR_UNSUPPORTED, "refusing to fold more than %zu "
                 "constant elements in all: far more than its %zu weights "
                 "and any shape arithmetic need", im->fold_budget,
                 (im->fold_budget - FOLD_MAX_COUNT) / FOLD_WEIGHT_COPIES);
  im->folded += count;
  c->shape = *shape;
  c->count = count;
  c->is_int = is_int;
  if (is_int)
    return gf_alloc_zeroed (count, sizeof *c->i, (void **) &c->i, &im->err);
  return gf_alloc_zeroed (count, sizeof *c->f, (void **) &c->f, &im->err);
}

static GfStatus
const_copy (Import *im, const Const *src, const Shape *shape, Const *out)
{
  GfStatus status = const_alloc (im, out, shape, src->is_int, SIZE_MAX);

  if (status == GF_OK && out->count != src->count)
    {
      const_clear (out);
      return fail (im, GF_ERR_SHAPE, "a reshaped constant changes size");
    }
  if (status == GF_OK && src->is_int)
    memcpy (out->i, src->i, src->count * sizeof *src->i);
  else if (status == GF_OK)
    memcpy (out->f, src->f, src->count * sizeof *src->f);
  return status;
}

/* Element k as a float; false for the symbolic batch, which has no value
 * until run time. */
static bool
const_float_at (const Const *c, size_t k, float *out)
{
  if (!c->is_int)
    {
      *out = c->f[k];
      return true;
    }
  if (c->i[k] == BATCH)
    return false;
  *out = (float) c->i[k];
  return true;
}

/* ---- Initializers -------------------------------------------------------- */

typedef struct
{
  int32_t type;
  size_t size;      /* bytes per element in raw_data */
  bool is_int;
} ElementType;

static const ElementType element_types[] = {
  { ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, false },
  { ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE, 8, false },
  { ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, 2, false },
  { ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16, 2, false },
  { ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 8, true },
  { ONNX__TENSOR_PROTO__DATA_TYPE__INT32, 4, true },
  { ONNX__TENSOR_PROTO__DATA_TYPE__INT16, 2, true },
  { ONNX__TENSOR_PROTO__DATA_TYPE__UINT16, 2, true },
  { ONNX__TENSOR_PROTO__DATA_TYPE__INT8, 1, true },
  { ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 1, true },
  { ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 1, true },
};

static const ElementType *
find_element_type (int32_t type)
{
  for (size_t k = 0; k < sizeof element_types / sizeof *element_types; k++)
    if (element_types[k].type == type)
      return &element_types[k];
  return NULL;
}

static float
half_to_float (uint16_t h)
{
  uint32_t sign = (uint32_t) (h >> 15) << 31;
  uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff, bits;
  float f;

  if (exponent == 0)   /* zero or subnormal: mantissa · 2^−24 */
    {
      f = ldexpf ((float) mantissa, -24);
      return sign ? -f : f;
    }
  if (exponent == 0x1f)
    bits = sign | 0x7f800000u | (mantissa << 13);
  else
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  memcpy (&f, &bits, sizeof f);
  return f;
}

static float
bits_to_float (uint32_t bits)
{
  float f;

  memcpy (&f, &bits, sizeof f);
  return f;
}

/* Doubles beyond float's range become infinities rather than undefined
 * behaviour. */
static float
double_to_float (double d)
{
  if (isfinite (d) && fabs (d) > FLT_MAX)
    return d > 0 ? INFINITY : -INFINITY;
  return (float) d;
}

/* Reads @size bytes at @p as a little-endian unsigned integer. */
static uint64_t
read_le (const uint8_t *p, size_t size)
{
  uint64_t v = 0;

  for (size_t k = size; k-- > 0;)
    v = (v << 8) | p[k];
  return v;
}

static int64_t
int_from_bits (int32_t type, uint64_t bits)
{
  switch (type)
    {
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return (int32_t) bits;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return (int16_t) bits;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return (int8_t) bits;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return bits != 0;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
      {
        int64_t v;
        memcpy (&v, &bits, sizeof v);
        return v == BATCH ? BATCH + 1 : v;
      }
    default: return (int64_t) bits;   /* the unsigned types */
    }
}

static float
float_from_bits (int32_t type, uint64_t bits)
{
  double d;

  switch (type)
    {
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
      memcpy (&d, &bits, sizeof d);
      return double_to_float (d);
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
      return half_to_float ((uint16_t) bits);
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
      return bits_to_float ((uint32_t) bits << 16);
    default:
      return bits_to_float ((uint32_t) bits);
    }
}

/* Converts little-endian raw bytes, which hold exactly c->count elements. */
static void
convert_raw (const ElementType *type, const uint8_t *bytes, Const *c)
{
  if (type->type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
      && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
    {
      memcpy (c->f, bytes, c->count * sizeof *c->f);
      return;
    }
  for (size_t k = 0; k < c->count; k++)
    {
      uint64_t bits = read_le (bytes + k * type->size, type->size);
      if (c->is_int)
        c->i[k] = int_from_bits (type->type, bits);
      else
        c->f[k] = float_from_bits (type->type, bits);
    }
}

/* How many values the typed field for @type holds. */
static size_t
typed_count (const ElementType *type, const Onnx__TensorProto *t)
{
  switch (type->type)
    {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return t->n_float_data;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return t->n_double_data;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return t->n_int64_data;
    default: return t->n_int32_data;   /* float16 and the small ints */
    }
}

static void
convert_typed (const ElementType *type, const Onnx__TensorProto *t, Const *c)
{
  for (size_t k = 0; k < c->count; k++)
    switch (type->type)
      {
      case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        c->f[k] = t->float_data[k];
        break;
      case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        c->f[k] = double_to_float (t->double_data[k]);
        break;
      case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        c->i[k] = t->int64_data[k] == BATCH ? BATCH + 1 : t->int64_data[k];
        break;
      default:
        if (c->is_int)
          c->i[k] = int_from_bits (type->type, (uint32_t) t->int32_data[k]);
        else
          c->f[k] = float_from_bits (type->type, (uint16_t) t->int32_data[k]);
        break;
      }
}

/* Checks a TensorProto's dims and type; fills @shape. */
static GfStatus
tensor_header (Import *im, const Onnx__TensorProto *t, const char *name,
               const ElementType **type, Shape *shape)
{
  size_t count = 1;

  *type = find_element_type (t->data_type);
  if (*type == NULL)
    return fail (im, GF_ERR_UNSUPPORTED, "tensor '%.*s' has data type %d, "
                 "which Graft does not read", MESSAGE_PART, name,
                 (int) t->data_type);
  if (t->n_dims > GF_MAX_DIMS)
    return fail (im, GF_ERR_UNSUPPORTED, "tensor '%.*s' has %zu dimensions; "
                 "at most %d", MESSAGE_PART, name, t->n_dims, GF_MAX_DIMS);
  if (t->segment != NULL)
    return fail (im, GF_ERR_UNSUPPORTED, "tensor '%.*s' is segmented",
                 MESSAGE_PART, name);
  shape->ndim = t->n_dims;
  for (size_t k = 0; k < t->n_dims; k++)
    {
      if (t->dims[k] < 0)
        return fail (im, GF_ERR_FORMAT, "tensor '%.*s' has a negative "
                     "dimension (%lld)", MESSAGE_PART, name,
                     (long long) t->dims[k]);
      if ((uint64_t) t->dims[k] > SIZE_MAX
          || gf_size_mul (count, (size_t) t->dims[k], &count) != 0
          || count > GF_ALLOC_LIMIT)
        return fail (im, GF_ERR_FORMAT, "tensor '%.*s' has an absurd shape",
                     MESSAGE_PART, name);
      shape->dims[k] = (size_t) t->dims[k];
    }
  return GF_OK;
}

/* Decodes a TensorProto (an initializer or a Constant's value) into @c,
 * checking that its data holds exactly what its shape says before
 * allocating anything. */
static GfStatus
decode_tensor (Import *im, const Onnx__TensorProto *t, const char *name,
               Const *c)
{
  const ElementType *type;
  Shape shape;
  uint8_t *external = NULL;
  size_t count, bytes, have;
  bool raw = t->has_raw_data;
  GfStatus status = tensor_header (im, t, name, &type, &shape);

  if (status != GF_OK)
    return status;
  count = 1;
  for (size_t k = 0; k < shape.ndim; k++)
    count *= shape.dims[k];
  if (gf_size_mul (count, type->size, &bytes) != 0)
    return fail (im, GF_ERR_FORMAT, "tensor '%.*s' is too large",
                 MESSAGE_PART, name);
  if (t->has_data_location
      && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    {
      if ((status = read_external (im, t, bytes, &external)) != GF_OK)
        return status;
      raw = true;
    }
  have = external ? bytes : raw ? t->raw_data.len : typed_count (type, t);
  if (have != (raw ? bytes : count))
    return free (external), fail (im, GF_ERR_FORMAT, "tensor '%.*s' holds %zu %s of data; "
                 "its shape needs %zu", MESSAGE_PART, name, have,
                 raw ? "bytes" : "values", raw ? bytes : count);
  status = const_alloc (im, c, &shape, type->is_int, SIZE_MAX);
  if (status == GF_OK && raw)
    convert_raw (type, external ? external : t->raw_data.data, c);
  else if (status == GF_OK)
    convert_typed (type, t, c);
  free (external);
  return status;
}

/* ---- Attributes ---------------------------------------------------------- */

static const Onnx__AttributeProto *
find_attr (const Onnx__NodeProto *node, const char *name)
{
  for (size_t k = 0; k < node->n_attribute; k++)
    if (node->attribute[k]->name != NULL
        && strcmp (node->attribute[k]->name, name) == 0)
      return node->attribute[k];
  return NULL;
}

/* Files from before attributes had a type field are read by what is set. */
static bool
attr_is (const Onnx__AttributeProto *a, Onnx__AttributeProto__AttributeType
         type, bool set)
{
  return a->type == type
    || (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED && set);
}

static GfStatus
attr_int (Import *im, const Onnx__NodeProto *node, const char *name,
          int64_t fallback, int64_t *out)
{
  const Onnx__AttributeProto *a = find_attr (node, name);

  *out = fallback;
  if (a == NULL)
    return GF_OK;
  if (!attr_is (a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a->has_i))
    return node_fail (im, node, GF_ERR_FORMAT, "attribute '%s' is not an "
                      "integer", name);
  *out = a->i;
  return GF_OK;
}

static GfStatus
attr_float (Import *im, const Onnx__NodeProto *node, const char *name,
            double fallback, double *out)
{
  const Onnx__AttributeProto *a = find_attr (node, name);

  *out = fallback;
  if (a == NULL)
    return GF_OK;
  if (!attr_is (a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, a->has_f)
      || !isfinite (a->f))
    return node_fail (im, node, GF_ERR_FORMAT, "attribute '%s' is not a "
                      "finite number", name);
  *out = a->f;
  return GF_OK;
}

/* A list of integers; *n = 0 when absent.  @values stays owned by the
 * file. */
static GfStatus
attr_ints (Import *im, const Onnx__NodeProto *node, const char *name,
           const int64_t **values, size_t *n, bool *present)
{
  const Onnx__AttributeProto *a = find_attr (node, name);

  *values = NULL;
  *n = 0;
  if (present != NULL)
    *present = a != NULL;
  if (a == NULL)
    return GF_OK;
  if (!attr_is (a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS,
                a->n_ints > 0))
    return node_fail (im, node, GF_ERR_FORMAT, "attribute '%s' is not a "
                      "list of integers", name);
  *values = a->ints;
  *n = a->n_ints;
  return GF_OK;
}

/* A string attribute into @out (cut to its size, which no valid value
 * reaches). */
static GfStatus
attr_string (Import *im, const Onnx__NodeProto *node, const char *name,
             const char *fallback, char *out, size_t size)
{
  const Onnx__AttributeProto *a = find_attr (node, name);
  size_t length;

  snprintf (out, size, "%s", fallback);
  if (a == NULL)
    return GF_OK;
  if (!attr_is (a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, a->has_s))
    return node_fail (im, node, GF_ERR_FORMAT, "attribute '%s' is not a "
                      "string", name);
  length = a->s.len < size - 1 ? a->s.len : size - 1;
  if (length > 0)
    memcpy (out, a->s.data, length);
  out[length] = '\0';
  return GF_OK;
}

/* ---- Values -------------------------------------------------------------- */

static bool
has_input (const Onnx__NodeProto *node, size_t slot)
{
  return slot < node->n_input && node->input[slot][0] != '\0';
}

/* The Value a node reads at @slot; NULL for an absent optional input. */
static Value *
input_value (Import *im, const Onnx__NodeProto *node, size_t slot)
{
  return has_input (node, slot) ? find_value (im, node->input[slot]) : NULL;
}

static bool
is_const (const Value *v)
{
  return v != NULL && v->kind == VALUE_CONST;
}

static bool
is_data (const Value *v)
{
  return v != NULL && v->kind == VALUE_DATA;
}

/* Whether every input the node has is a constant (so it can be folded). */
static bool
all_inputs_const (Import *im, const Onnx__NodeProto *node)
{
  for (size_t k = 0; k < node->n_input; k++)
    if (has_input (node, k) && !is_const (input_value (im, node, k)))
      return false;
  return true;
}

/* The constant behind @v, decoding an initializer on first use. */
static GfStatus
value_const (Import *im, Value *v, Const **out)
{
  GfStatus status;

  if (v->kind == VALUE_CONST && !v->decoded && v->initializer != NULL)
    {
      if ((status = decode_tensor (im, v->initializer, v->name,
                                   &v->c)) != GF_OK)
        return status;
      v->decoded = true;
    }
  *out = &v->c;
  return GF_OK;
}

/* The constant a node reads at @slot; *out = NULL when an optional input
 * is absent. */
static GfStatus
const_input (Import *im, const Onnx__NodeProto *node, size_t slot,
             bool required, Const **out)
{
  Value *v = input_value (im, node, slot);

  *out = NULL;
  if (v == NULL && !required)
    return GF_OK;
  if (v == NULL)
    return node_fail (im, node, GF_ERR_FORMAT, "input %zu is missing",
                      slot);
  if (v->kind != VALUE_CONST)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "input %zu ('%.*s') "
                      "must be a constant, not an activation", slot,
                      MESSAGE_PART, v->name);
  return value_const (im, v, out);
}

static GfStatus
data_input (Import *im, const Onnx__NodeProto *node, size_t slot,
            Value **out)
{
  *out = input_value (im, node, slot);
  if (*out == NULL)
    return node_fail (im, node, GF_ERR_FORMAT, "input %zu is missing",
                      slot);
  if ((*out)->kind != VALUE_DATA)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "input %zu ('%.*s') "
                      "must be an activation; Graft folds this op only "
                      "when all its inputs are constants", slot,
                      MESSAGE_PART, (*out)->name);
  return GF_OK;
}

/* A scalar (or one-element) constant input as a float; @fallback when
 * the optional input is absent. */
static GfStatus
scalar_input (Import *im, const Onnx__NodeProto *node, size_t slot,
              double fallback, double *out)
{
  Const *c;
  float f;
  GfStatus status = const_input (im, node, slot, false, &c);

  *out = fallback;
  if (status != GF_OK || c == NULL)
    return status;
  if (c->count != 1 || !const_float_at (c, 0, &f) || !isfinite (f))
    return node_fail (im, node, GF_ERR_FORMAT, "input %zu must be one "
                      "finite number", slot);
  *out = f;
  return GF_OK;
}

/* Records the node's output @slot as a constant (taking @c). */
static GfStatus
set_const_output (Import *im, const Onnx__NodeProto *node, size_t slot,
                  Const *c)
{
  Value *v = slot < node->n_output ? find_value (im, node->output[slot])
    : NULL;

  if (v == NULL)
    {
      const_clear (c);
      return GF_OK;
    }
  const_clear (&v->c);
  v->c = *c;
  v->kind = VALUE_CONST;
  v->decoded = true;
  memset (c, 0, sizeof *c);
  return GF_OK;
}

static void
set_data (Value *v, int tensor, const Shape *shape)
{
  v->kind = VALUE_DATA;
  v->tensor = tensor;
  v->shape = *shape;
}

/* Refuses the node when one of its outputs after the first, which Graft
 * does not compute (Dropout's mask, MaxPool's indices, BatchNorm's
 * running statistics), is read. */
static GfStatus
check_extra_outputs (Import *im, const Onnx__NodeProto *node)
{
  for (size_t k = 1; k < node->n_output; k++)
    {
      Value *v = node->output[k][0] ? find_value (im, node->output[k]) : NULL;
      if (v != NULL && v->consumers > 0)
        return node_fail (im, node, GF_ERR_UNSUPPORTED, "its output %zu "
                          "('%.*s') is used, and Graft computes only the "
                          "first", k, MESSAGE_PART, v->name);
    }
  return GF_OK;
}

/* The graph weight for a constant Value (PARAM, or STATE for BatchNorm
 * statistics), added on first use.  An initializer's decoded copy is
 * dropped once the graph holds it: a later fold decodes it again. */
static GfStatus
value_param (Import *im, Value *v, GfTensorKind kind, int *id)
{
  Const *c;
  float *values;
  GfStatus status;

  if (v->param >= 0)
    {
      *id = v->param;
      return GF_OK;
    }
  if ((status = value_const (im, v, &c)) != GF_OK)
    return status;
  values = c->f;
  if (c->is_int && c->count > 0)
    {
      if ((status = gf_alloc_zeroed (c->count, sizeof *values,
                                     (void **) &values, &im->err)) != GF_OK)
        return status;
      for (size_t k = 0; k < c->count; k++)
        if (!const_float_at (c, k, &values[k]))
          {
            free (values);
            return fail (im, GF_ERR_UNSUPPORTED, "'%.*s' holds the batch "
                         "size and cannot be a weight", MESSAGE_PART,
                         v->name);
          }
    }
  *id = v->param = gf_graph_add_param (im->graph, v->name, kind,
                                       c->shape.ndim, c->shape.dims, values,
                                       &im->err);
  if (values != c->f)
    free (values);
  if (v->initializer != NULL)
    {
      const_clear (&v->c);
      v->decoded = false;
    }
  return *id >= 0 ? GF_OK : im->err.status;
}

/* A new weight Graft derives (a folded or negated constant), named after
 * @base. */
static GfStatus
add_derived_param (Import *im, const char *base, const char *suffix,
                   const Const *c, int *id)
{
  char name[256];
  GfStatus status = make_name (im, base, suffix, name, sizeof name);

  if (status != GF_OK)
    return status;
  *id = gf_graph_add_param (im->graph, name, GF_TENSOR_PARAM, c->shape.ndim,
                            c->shape.dims, c->f, &im->err);
  return *id >= 0 ? GF_OK : im->err.status;
}

/* Adds a graph node writing a tensor named @name of (my own inference of)
 * @shape; returns its id in *tensor. */
static GfStatus
add_node_named (Import *im, const Onnx__NodeProto *node,
                const GfNodeDesc *desc, const char *name, int *tensor)
{
  *tensor = gf_graph_add_node (im->graph, node_label (node), desc, name,
                               &im->err);
  return *tensor >= 0 ? GF_OK : im->err.status;
}

/* Adds the graph node for @node's first output. */
static GfStatus
emit (Import *im, const Onnx__NodeProto *node, const GfNodeDesc *desc,
      const Shape *shape)
{
  int tensor;
  GfStatus status = add_node_named (im, node, desc, node->output[0],
                                    &tensor);

  if (status == GF_OK)
    set_data (find_value (im, node->output[0]), tensor, shape);
  return status;
}

/* Per-example element count of an activation. */
static size_t
data_count (const Shape *shape)
{
  size_t count = 1;

  for (size_t k = 1; k < shape->ndim; k++)
    count *= shape->dims[k];
  return count;
}

/* Normalises a possibly negative axis of a rank-@rank tensor. */
static bool
normalize_axis (int64_t axis, size_t rank, size_t *out)
{
  if (axis < -(int64_t) rank || axis >= (int64_t) rank)
    return false;
  *out = (size_t) (axis < 0 ? axis + (int64_t) rank : axis);
  return true;
}

/* ---- Folding constants --------------------------------------------------- */

static void
row_major_strides (const Shape *shape, int64_t *strides)
{
  int64_t stride = 1;

  for (size_t a = shape->ndim; a-- > 0;)
    {
      strides[a] = stride;
      stride *= (int64_t) shape->dims[a];
    }
}

/* Fills @out (its shape gives the counts) from @in of the same element
 * type: out's element idx reads in at base + Σ idx[a]·steps[a].  Slices,
 * transposes and broadcasts are all this one walk. */
static void
gather_strided (const Const *in, int64_t base, const int64_t *steps,
                Const *out)
{
  size_t idx[GF_MAX_DIMS] = { 0 };
  int64_t offset = base;

  for (size_t k = 0; k < out->count; k++)
    {
      if (out->is_int)
        out->i[k] = in->i[offset];
      else
        out->f[k] = in->f[offset];
      for (size_t a = out->shape.ndim; a-- > 0;)
        {
          offset += steps[a];
          if (++idx[a] < out->shape.dims[a])
            break;
          offset -= steps[a] * (int64_t) idx[a];
          idx[a] = 0;
        }
    }
}

/* A float copy of @in; fails on the symbolic batch. */
static GfStatus
const_as_float (Import *im, const Const *in, Const *out)
{
  GfStatus status = const_alloc (im, out, &in->shape, false, SIZE_MAX);

  for (size_t k = 0; status == GF_OK && k < in->count; k++)
    if (!const_float_at (in, k, &out->f[k]))
      {
        const_clear (out);
        return fail (im, GF_ERR_UNSUPPORTED, "a computation needs the "
                     "batch size as a number, which is known only at run "
                     "time");
      }
  return status;
}

static bool
broadcast_shape (const Shape *a, const Shape *b, Shape *out)
{
  out->ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (size_t k = 0; k < out->ndim; k++)
    {
      size_t da = k < a->ndim ? a->dims[a->ndim - 1 - k] : 1;
      size_t db = k < b->ndim ? b->dims[b->ndim - 1 - k] : 1;
      if (da != db && da != 1 && db != 1)
        return false;
      out->dims[out->ndim - 1 - k] = da == 1 ? db : da;
    }
  return true;
}

/* @in broadcast to @shape, as a new constant. */
static GfStatus
expand_to (Import *im, const Const *in, const Shape *shape, Const *out)
{
  int64_t strides[GF_MAX_DIMS], steps[GF_MAX_DIMS];
  size_t lead = shape->ndim - in->shape.ndim;
  GfStatus status = const_alloc (im, out, shape, in->is_int,
                                 FOLD_MAX_COUNT > in->count
                                 ? FOLD_MAX_COUNT : in->count);

  if (status != GF_OK)
    return status;
  row_major_strides (&in->shape, strides);
  for (size_t a = 0; a < shape->ndim; a++)
    steps[a] = a < lead || in->shape.dims[a - lead] == 1 ? 0
      : strides[a - lead];
  if (out->count > 0)
    gather_strided (in, 0, steps, out);
  return GF_OK;
}

static bool
int_arith (char op, int64_t a, int64_t b, int64_t *out)
{
  bool overflow = false;

  if (a == BATCH || b == BATCH)
    return false;
  switch (op)
    {
    case '+': overflow = __builtin_add_overflow (a, b, out); break;
    case '-': overflow = __builtin_sub_overflow (a, b, out); break;
    case '*': overflow = __builtin_mul_overflow (a, b, out); break;
    default:
      if (b == 0)
        return false;
      *out = a / b;   /* a is never INT64_MIN, the batch */
      break;
    }
  return !overflow && *out != BATCH;
}

static float
float_arith (char op, float a, float b)
{
  switch (op)
    {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    default: return a / b;
    }
}

/* a op b over equal-shaped constants of one type, into @out. */
static GfStatus
arith_elements (Import *im, const Onnx__NodeProto *node, char op,
                const Const *a, const Const *b, Const *out)
{
  for (size_t k = 0; k < out->count; k++)
    {
      if (!out->is_int)
        out->f[k] = float_arith (op, a->f[k], b->f[k]);
      else if (!int_arith (op, a->i[k], b->i[k], &out->i[k]))
        return node_fail (im, node, GF_ERR_UNSUPPORTED, "cannot compute "
                          "%s %c %s at load time (the batch size, an "
                          "overflow or a division by zero)",
                          a->i[k] == BATCH ? "N" : "a", op,
                          b->i[k] == BATCH ? "N" : "b");
    }
  return GF_OK;
}

static char
arith_op (const Onnx__NodeProto *node)
{
  switch (node->op_type[0])
    {
    case 'A': return '+';
    case 'S': return '-';
    case 'M': return '*';
    default: return '/';
    }
}

/* Add, Sub, Mul or Div of two constants, with broadcasting. */
static GfStatus
fold_binary (Import *im, const Onnx__NodeProto *node, const Const *a,
             const Const *b, Const *out)
{
  Const fa = { 0 }, fb = { 0 }, ea = { 0 }, eb = { 0 };
  bool is_int = a->is_int && b->is_int;
  Shape shape;
  GfStatus status = GF_OK;

  if (!broadcast_shape (&a->shape, &b->shape, &shape))
    return node_fail (im, node, GF_ERR_SHAPE, "constant shapes do not "
                      "broadcast");
  /* Mixed operands compute in float. */
  if (!is_int && a->is_int)
    status = const_as_float (im, a, &fa);
  if (status == GF_OK && !is_int && b->is_int)
    status = const_as_float (im, b, &fb);
  if (status == GF_OK)
    status = expand_to (im, !is_int && a->is_int ? &fa : a, &shape, &ea);
  if (status == GF_OK)
    status = expand_to (im, !is_int && b->is_int ? &fb : b, &shape, &eb);
  if (status == GF_OK)
    status = const_alloc (im, out, &shape, is_int, SIZE_MAX);
  if (status == GF_OK)
    status = arith_elements (im, node, arith_op (node), &ea, &eb, out);
  if (status != GF_OK)
    const_clear (out);
  const_clear (&fa);
  const_clear (&fb);
  const_clear (&ea);
  const_clear (&eb);
  return status;
}

#define FOLD_MAX_INPUTS 64

/* The shape of @n constants joined along @axis. */
static GfStatus
concat_shape (Import *im, const Onnx__NodeProto *node, Const *const *in,
              size_t n, size_t axis, Shape *shape)
{
  *shape = in[0]->shape;
  if (axis >= shape->ndim)
    return node_fail (im, node, GF_ERR_INVALID, "axis out of range");
  shape->dims[axis] = 0;
  for (size_t k = 0; k < n; k++)
    {
      if (in[k]->shape.ndim != shape->ndim || in[k]->is_int != in[0]->is_int)
        return node_fail (im, node, GF_ERR_SHAPE, "inputs differ in rank "
                          "or type");
      for (size_t a = 0; a < shape->ndim; a++)
        if (a != axis && in[k]->shape.dims[a] != shape->dims[a])
          return node_fail (im, node, GF_ERR_SHAPE, "inputs differ off "
                            "the concatenation axis");
      shape->dims[axis] += in[k]->shape.dims[axis];
    }
  return GF_OK;
}

static GfStatus
fold_concat (Import *im, const Onnx__NodeProto *node, int64_t axis_attr,
             Const *out)
{
  Const *in[FOLD_MAX_INPUTS];
  Shape shape;
  size_t axis, outer = 1, inner = 1, n = node->n_input;
  GfStatus status;

  if (n == 0 || n > FOLD_MAX_INPUTS)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "folds 1 to %d inputs",
                      FOLD_MAX_INPUTS);
  for (size_t k = 0; k < n; k++)
    if ((status = const_input (im, node, k, true, &in[k])) != GF_OK)
      return status;
  if (!normalize_axis (axis_attr, in[0]->shape.ndim, &axis))
    return node_fail (im, node, GF_ERR_INVALID, "axis out of range");
  if ((status = concat_shape (im, node, in, n, axis, &shape)) != GF_OK
      || (status = const_alloc (im, out, &shape, in[0]->is_int,
                                SIZE_MAX)) != GF_OK)
    return status;
  for (size_t a = 0; a < shape.ndim; a++)
    {
      if (a < axis)
        outer *= shape.dims[a];
      if (a > axis)
        inner *= shape.dims[a];
    }
  for (size_t o = 0, at = 0; o < outer; o++)
    for (size_t k = 0; k < n; k++)
      {
        size_t run = in[k]->shape.dims[axis] * inner;
        if (out->is_int)
          memcpy (out->i + at, in[k]->i + o * run, run * sizeof *out->i);
        else
          memcpy (out->f + at, in[k]->f + o * run, run * sizeof *out->f);
        at += run;
      }
  return GF_OK;
}

/* ---- Shape arithmetic ---------------------------------------------------- */

/* A 1-D int64 constant holding @values. */
static GfStatus
int_vector (Import *im, const int64_t *values, size_t n, Const *out)
{
  Shape shape = { 1, { n } };
  GfStatus status = const_alloc (im, out, &shape, true, SIZE_MAX);

  if (status == GF_OK && n > 0)
    memcpy (out->i, values, n * sizeof *values);
  return status;
}

/* Shape, with opset 15's start and end; the batch is symbolic. */
static GfStatus
import_shape (Import *im, const Onnx__NodeProto *node)
{
  Value *x = input_value (im, node, 0);
  int64_t dims[GF_MAX_DIMS], start, end;
  size_t rank;
  Const *c = NULL, out;
  GfStatus status;

  if (x == NULL)
    return node_fail (im, node, GF_ERR_FORMAT, "input 0 is missing");
  if (is_const (x) && (status = value_const (im, x, &c)) != GF_OK)
    return status;
  rank = is_data (x) ? x->shape.ndim : c->shape.ndim;
  for (size_t k = 0; k < rank; k++)
    dims[k] = is_data (x) && k == 0 ? BATCH
      : (int64_t) (is_data (x) ? x->shape.dims[k] : c->shape.dims[k]);
  if ((status = attr_int (im, node, "start", 0, &start)) != GF_OK
      || (status = attr_int (im, node, "end", (int64_t) rank, &end)) != GF_OK)
    return status;
  /* Out-of-range bounds are clamped, as the operator says. */
  start = start < 0 ? start + (int64_t) rank : start;
  end = end < 0 ? end + (int64_t) rank : end;
  start = start < 0 ? 0 : start > (int64_t) rank ? (int64_t) rank : start;
  end = end < start ? start : end > (int64_t) rank ? (int64_t) rank : end;
  if ((status = int_vector (im, dims + start, (size_t) (end - start),
                            &out)) != GF_OK)
    return status;
  return set_const_output (im, node, 0, &out);
}

/* Gather's result: data's dims with the axis replaced by the indices'. */
static GfStatus
gather_shape (Import *im, const Onnx__NodeProto *node, const Const *data,
              const Const *indices, size_t axis, Shape *shape)
{
  if (!indices->is_int
      || data->shape.ndim - 1 + indices->shape.ndim > GF_MAX_DIMS)
    return node_fail (im, node, GF_ERR_INVALID, "bad indices or rank");
  shape->ndim = 0;
  for (size_t a = 0; a < data->shape.ndim; a++)
    if (a == axis)
      for (size_t k = 0; k < indices->shape.ndim; k++)
        shape->dims[shape->ndim++] = indices->shape.dims[k];
    else
      shape->dims[shape->ndim++] = data->shape.dims[a];
  return GF_OK;
}

/* Gather of constants: @out, seen as (outer, indices, inner), takes row
 * indices[j] of data seen as (outer, n, inner). */
static GfStatus
import_gather (Import *im, const Onnx__NodeProto *node)
{
  Const *data, *indices, out;
  int64_t axis_attr;
  size_t axis, outer = 1, inner = 1, n;
  Shape shape;
  GfStatus status;

  if ((status = const_input (im, node, 0, true, &data)) != GF_OK
      || (status = const_input (im, node, 1, true, &indices)) != GF_OK
      || (status = attr_int (im, node, "axis", 0, &axis_attr)) != GF_OK)
    return status;
  if (!normalize_axis (axis_attr, data->shape.ndim, &axis))
    return node_fail (im, node, GF_ERR_INVALID, "axis out of range");
  if ((status = gather_shape (im, node, data, indices, axis,
                              &shape)) != GF_OK
      || (status = const_alloc (im, &out, &shape, data->is_int,
                                FOLD_MAX_COUNT > data->count ? FOLD_MAX_COUNT
                                : data->count)) != GF_OK)
    return status;
  n = data->shape.dims[axis];
  for (size_t a = 0; a < axis; a++)
    outer *= data->shape.dims[a];
  for (size_t a = axis + 1; a < data->shape.ndim; a++)
    inner *= data->shape.dims[a];
  for (size_t o = 0; o < outer; o++)
    for (size_t j = 0; j < indices->count; j++)
      {
        int64_t at = indices->i[j];
        size_t to = (o * indices->count + j) * inner;
        at = at < 0 && at != BATCH ? at + (int64_t) n : at;
        if (at < 0 || at >= (int64_t) n)
          {
            const_clear (&out);
            return node_fail (im, node, GF_ERR_INVALID, "index out of "
                              "range");
          }
        for (size_t k = 0; k < inner; k++)
          if (out.is_int)
            out.i[to + k] = data->i[(o * n + (size_t) at) * inner + k];
          else
            out.f[to + k] = data->f[(o * n + (size_t) at) * inner + k];
      }
  return set_const_output (im, node, 0, &out);
}

static bool
is_float_type (int64_t type)
{
  const ElementType *t = find_element_type ((int32_t) type);

  return t != NULL && type == t->type && !t->is_int;
}

/* Cast of a constant between the integer and float families.  Narrower
 * integer types keep their values: shapes and indices fit any of them. */
static GfStatus
cast_const (Import *im, const Onnx__NodeProto *node, const Const *in,
            int64_t to, Const *out)
{
  bool to_float = is_float_type (to);
  GfStatus status;

  if (!to_float && in->is_int)
    return const_copy (im, in, &in->shape, out);
  if (to_float)
    return in->is_int ? const_as_float (im, in, out)
      : const_copy (im, in, &in->shape, out);
  if ((status = const_alloc (im, out, &in->shape, true, SIZE_MAX)) != GF_OK)
    return status;
  for (size_t k = 0; k < in->count; k++)
    {
      float f = in->f[k];
      if (!(f > -9.2e18f && f < 9.2e18f))
        {
          const_clear (out);
          return node_fail (im, node, GF_ERR_NUMERIC, "%g does not fit an "
                            "integer", (double) f);
        }
      out->i[k] = to == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL ? f != 0
        : (int64_t) f;
    }
  return GF_OK;
}

static GfStatus
import_cast (Import *im, const Onnx__NodeProto *node)
{
  int64_t to;
  Value *x;
  Const *in, out;
  GfStatus status = attr_int (im, node, "to", -1, &to);
  GfNodeDesc desc = { .kind = GF_OP_IDENTITY, .n_inputs = 1 };

  if (status != GF_OK)
    return status;
  if (find_element_type ((int32_t) to) == NULL
      || (int64_t) (int32_t) to != to)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "casts to data type "
                      "%lld, which Graft does not compute in",
                      (long long) to);
  if (all_inputs_const (im, node))
    {
      if ((status = const_input (im, node, 0, true, &in)) != GF_OK
          || (status = cast_const (im, node, in, to, &out)) != GF_OK)
        return status;
      return set_const_output (im, node, 0, &out);
    }
  if ((status = data_input (im, node, 0, &x)) != GF_OK)
    return status;
  if (!is_float_type (to))
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "casts activations to "
                      "integers");
  desc.inputs[0] = x->tensor;
  return emit (im, node, &desc, &x->shape);
}

/* One axis of a Slice, clamped as the operator says: *start and the
 * element count *length along @dim with @step. */
static void
slice_axis (int64_t start, int64_t end, int64_t step, size_t dim,
            int64_t *first, size_t *length)
{
  int64_t d = (int64_t) dim;

  start = start < 0 ? start + d : start;
  end = end < 0 ? end + d : end;
  if (step > 0)
    {
      start = start < 0 ? 0 : start > d ? d : start;
      end = end < 0 ? 0 : end > d ? d : end;
      *length = end > start ? (size_t) ((end - start - 1) / step + 1) : 0;
    }
  else
    {
      start = start < 0 ? 0 : start > d - 1 ? d - 1 : start;
      end = end < -1 ? -1 : end > d - 1 ? d - 1 : end;
      *length = start > end ? (size_t) ((start - end - 1) / -step + 1) : 0;
    }
  *first = start;
}

typedef struct
{
  const int64_t *starts, *ends, *axes, *steps;
  size_t n, n_axes, n_steps;
} SliceArgs;

/* Starts, ends, axes and steps: attributes before opset 10, inputs from
 * then on. */
static GfStatus
slice_args (Import *im, const Onnx__NodeProto *node, SliceArgs *args)
{
  Const *c[4] = { NULL };
  size_t n_ends;
  GfStatus status;

  memset (args, 0, sizeof *args);
  if (im->opset < 10)
    {
      if ((status = attr_ints (im, node, "starts", &args->starts, &args->n,
                               NULL)) != GF_OK
          || (status = attr_ints (im, node, "ends", &args->ends, &n_ends,
                                  NULL)) != GF_OK
          || (status = attr_ints (im, node, "axes", &args->axes,
                                  &args->n_axes, NULL)) != GF_OK)
        return status;
      return n_ends == args->n ? GF_OK
        : node_fail (im, node, GF_ERR_FORMAT, "starts and ends differ");
    }
  for (size_t k = 0; k < 4; k++)
    if ((status = const_input (im, node, k + 1, k < 2, &c[k])) != GF_OK)
      return status;
  for (size_t k = 0; k < 4; k++)
    if (c[k] != NULL && (!c[k]->is_int || c[k]->count != c[0]->count))
      return node_fail (im, node, GF_ERR_FORMAT, "starts, ends, axes and "
                        "steps must be integer lists of one length");
  args->starts = c[0]->i;
  args->ends = c[1]->i;
  args->n = c[0]->count;
  args->axes = c[2] ? c[2]->i : NULL;
  args->n_axes = c[2] ? c[2]->count : 0;
  args->steps = c[3] ? c[3]->i : NULL;
  args->n_steps = c[3] ? c[3]->count : 0;
  return GF_OK;
}

static GfStatus
import_slice (Import *im, const Onnx__NodeProto *node)
{
  Const *data, out;
  SliceArgs args;
  int64_t strides[GF_MAX_DIMS], steps[GF_MAX_DIMS], base = 0;
  int64_t first[GF_MAX_DIMS] = { 0 }, step[GF_MAX_DIMS];
  Shape shape;
  GfStatus status;

  if ((status = const_input (im, node, 0, true, &data)) != GF_OK
      || (status = slice_args (im, node, &args)) != GF_OK)
    return status;
  shape = data->shape;
  for (size_t a = 0; a < GF_MAX_DIMS; a++)
    step[a] = 1;
  for (size_t k = 0; k < args.n; k++)
    {
      size_t axis;
      int64_t s = args.steps ? args.steps[k] : 1;
      if (!normalize_axis (args.axes ? args.axes[k] : (int64_t) k,
                           shape.ndim, &axis) || s == 0 || s == BATCH)
        return node_fail (im, node, GF_ERR_INVALID, "bad axis or step");
      slice_axis (args.starts[k], args.ends[k], s, data->shape.dims[axis],
                  &first[axis], &shape.dims[axis]);
      /* A step beyond the axis takes one element either way; bounding it
       * keeps step × stride within the constant. */
      step[axis] = s > (int64_t) data->shape.dims[axis]
        ? (int64_t) data->shape.dims[axis]
        : s < -(int64_t) data->shape.dims[axis]
        ? -(int64_t) data->shape.dims[axis] : s;
    }
  row_major_strides (&data->shape, strides);
  for (size_t a = 0; a < shape.ndim; a++)
    {
      base += first[a] * strides[a];
      steps[a] = step[a] * strides[a];
    }
  if ((status = const_alloc (im, &out, &shape, data->is_int,
                             SIZE_MAX)) != GF_OK)
    return status;
  if (out.count > 0)
    gather_strided (data, base, steps, &out);
  return set_const_output (im, node, 0, &out);
}

/* Constant: a tensor, or (opset 12) one float, floats, int or ints. */
static GfStatus
import_constant (Import *im, const Onnx__NodeProto *node)
{
  const Onnx__AttributeProto *a = node->n_attribute == 1
    ? node->attribute[0] : NULL;
  const char *name = a && a->name ? a->name : "";
  Shape shape = { 1, { a ? a->n_floats : 0 } };
  Const out = { 0 };
  GfStatus status;

  if (a != NULL && strcmp (name, "value") == 0 && a->t != NULL)
    status = decode_tensor (im, a->t, node->output[0], &out);
  else if (strcmp (name, "value_float") == 0 || strcmp (name, "value_int") == 0)
    {
      bool is_int = strcmp (name, "value_int") == 0;
      status = const_alloc (im, &out, &(Shape) { 0 }, is_int, 1);
      if (status == GF_OK && is_int)
        out.i[0] = a->i == BATCH ? BATCH + 1 : a->i;
      else if (status == GF_OK)
        out.f[0] = a->f;
    }
  else if (strcmp (name, "value_floats") == 0)
    {
      if ((status = const_alloc (im, &out, &shape, false, SIZE_MAX)) == GF_OK)
        memcpy (out.f, a->floats, a->n_floats * sizeof *out.f);
    }
  else if (strcmp (name, "value_ints") == 0)
    status = int_vector (im, a->ints, a->n_ints, &out);
  else
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "holds '%.40s'; Graft "
                      "reads a tensor, floats or ints", name);
  return status == GF_OK ? set_const_output (im, node, 0, &out) : status;
}

static GfStatus
import_constant_of_shape (Import *im, const Onnx__NodeProto *node)
{
  const Onnx__AttributeProto *a = find_attr (node, "value");
  Const *dims, value = { 0 }, out;
  Shape shape = { 0 };
  GfStatus status = const_input (im, node, 0, true, &dims);

  if (status != GF_OK)
    return status;
  if (!dims->is_int || dims->shape.ndim != 1 || dims->count > GF_MAX_DIMS)
    return node_fail (im, node, GF_ERR_INVALID, "its input must be a short "
                      "list of integers");
  for (size_t k = 0; k < dims->count; k++)
    {
      if (dims->i[k] < 0)
        return node_fail (im, node, GF_ERR_UNSUPPORTED, "a dimension is "
                          "negative or the batch size");
      shape.dims[shape.ndim++] = (size_t) dims->i[k];
    }
  if (a != NULL && a->t != NULL
      && (status = decode_tensor (im, a->t, node->output[0], &value)) != GF_OK)
    return status;
  if (a != NULL && value.count != 1)
    status = node_fail (im, node, GF_ERR_FORMAT, "value must hold one "
                        "element");
  if (status == GF_OK)
    status = const_alloc (im, &out, &shape, value.is_int, FOLD_MAX_COUNT);
  for (size_t k = 0; status == GF_OK && k < out.count; k++)
    if (out.is_int)
      out.i[k] = value.i[0];
    else
      out.f[k] = value.f ? value.f[0] : 0.0f;
  const_clear (&value);
  return status == GF_OK ? set_const_output (im, node, 0, &out) : status;
}

/* ---- Reshaping ----------------------------------------------------------- */

static bool
same_shape (const Shape *a, const Shape *b)
{
  return a->ndim == b->ndim
    && memcmp (a->dims + 1, b->dims + 1,
               (a->ndim > 0 ? a->ndim - 1 : 0) * sizeof *a->dims) == 0;
}

/* A reshape of data that keeps the batch first: Flatten for (N, K),
 * Identity when nothing changes, else Reshape. */
static GfStatus
emit_reshape (Import *im, const Onnx__NodeProto *node, const Value *x,
              const Shape *shape)
{
  GfNodeDesc desc = { .kind = GF_OP_RESHAPE, .n_inputs = 1,
                      .inputs = { x->tensor } };

  if (shape->ndim == 2)
    desc.kind = GF_OP_FLATTEN;
  else if (same_shape (shape, &x->shape))
    desc.kind = GF_OP_IDENTITY;
  desc.attr.reshape.ndim = shape->ndim;
  memcpy (desc.attr.reshape.dims, shape->dims,
          shape->ndim * sizeof *shape->dims);
  return emit (im, node, &desc, shape);
}

/* The dims a Reshape gives data of @in, which must keep the batch as its
 * first axis: the target's first entry is the symbolic batch, 0 (copy),
 * the file's own batch size, or a −1 that the other entries leave to be
 * the batch.  The other entries may hold one −1 and zeros. */
static GfStatus
reshape_data_target (Import *im, const Onnx__NodeProto *node,
                     const Shape *in, const Const *target, Shape *out)
{
  size_t count = data_count (in), known = 1, unknown = 0, n = target->count;
  int64_t first = target->i[0];
  char from[MESSAGE_PART], to[MESSAGE_PART];

  out->ndim = n;
  out->dims[0] = 1;
  for (size_t k = 1; k < n; k++)
    {
      int64_t t = target->i[k] == 0 && k < in->ndim
        ? (int64_t) in->dims[k] : target->i[k];
      if (t == -1 && unknown == 0)
        unknown = k;
      else if (t <= 0 || (uint64_t) t > GF_ALLOC_LIMIT
               || gf_size_mul (known, (size_t) t, &known) != 0)
        {
          known = 0;   /* refused below */
          break;
        }
      else
        out->dims[k] = (size_t) t;
    }
  if (unknown > 0 && known > 0 && count % known == 0)
    {
      out->dims[unknown] = count / known;
      known = count;
    }
  if ((first == BATCH || first == 0 || first == im->file_batch
       || (first == -1 && unknown == 0)) && known == count)
    return GF_OK;
  format_shape (from, sizeof from, in);
  format_ints (to, sizeof to, target->i, n);
  return node_fail (im, node, GF_ERR_SHAPE, "cannot reshape %s to %s "
                    "keeping the batch as the first axis", from, to);
}

/* The dims a Reshape gives a constant: 0 copies, −1 takes the rest. */
static GfStatus
reshape_const_target (Import *im, const Onnx__NodeProto *node,
                      const Const *in, const Const *target, Shape *out)
{
  size_t known = 1, unknown = SIZE_MAX;

  out->ndim = target->count;
  for (size_t k = 0; k < target->count; k++)
    {
      int64_t t = target->i[k] == 0 && k < in->shape.ndim
        ? (int64_t) in->shape.dims[k] : target->i[k];
      if (t == -1 && unknown == SIZE_MAX)
        unknown = k;
      else if (t < 0 || gf_size_mul (known, (size_t) t, &known) != 0)
        return node_fail (im, node, GF_ERR_SHAPE, "bad target shape");
      else
        out->dims[k] = (size_t) t;
    }
  if (unknown != SIZE_MAX && known > 0 && in->count % known == 0)
    {
      out->dims[unknown] = in->count / known;
      known = in->count;
    }
  if (known != in->count)
    return node_fail (im, node, GF_ERR_SHAPE, "the target shape does not "
                      "hold the constant's %zu values", in->count);
  return GF_OK;
}

static GfStatus
import_reshape (Import *im, const Onnx__NodeProto *node)
{
  Value *x = input_value (im, node, 0);
  Const *target, *c, out;
  int64_t allowzero;
  Shape shape;
  GfStatus status;

  if ((status = const_input (im, node, 1, true, &target)) != GF_OK
      || (status = attr_int (im, node, "allowzero", 0, &allowzero)) != GF_OK)
    return status;
  if (!target->is_int || target->shape.ndim != 1 || target->count < 1
      || target->count > GF_MAX_DIMS)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "the target shape must "
                      "be 1 to %d integers", GF_MAX_DIMS);
  for (size_t k = 0; allowzero && k < target->count; k++)
    if (target->i[k] == 0)
      return node_fail (im, node, GF_ERR_UNSUPPORTED, "an empty tensor "
                        "(allowzero with a 0 in the shape)");
  if (is_const (x))
    {
      if ((status = value_const (im, x, &c)) != GF_OK
          || (status = reshape_const_target (im, node, c, target,
                                             &shape)) != GF_OK
          || (status = const_copy (im, c, &shape, &out)) != GF_OK)
        return status;
      return set_const_output (im, node, 0, &out);
    }
  if ((status = data_input (im, node, 0, &x)) != GF_OK
      || (status = reshape_data_target (im, node, &x->shape, target,
                                        &shape)) != GF_OK)
    return status;
  return emit_reshape (im, node, x, &shape);
}

static GfStatus
import_flatten (Import *im, const Onnx__NodeProto *node)
{
  Value *x = input_value (im, node, 0);
  Const *c, out;
  int64_t axis;
  Shape shape = { 2, { 1, 1 } };
  GfStatus status = attr_int (im, node, "axis", 1, &axis);

  if (status != GF_OK)
    return status;
  if (is_const (x))
    {
      if ((status = value_const (im, x, &c)) != GF_OK)
        return status;
      axis = axis < 0 ? axis + (int64_t) c->shape.ndim : axis;
      if (axis < 0 || axis > (int64_t) c->shape.ndim)
        return node_fail (im, node, GF_ERR_INVALID, "axis out of range");
      for (size_t a = 0; a < c->shape.ndim; a++)
        shape.dims[a < (size_t) axis ? 0 : 1] *= c->shape.dims[a];
      if ((status = const_copy (im, c, &shape, &out)) != GF_OK)
        return status;
      return set_const_output (im, node, 0, &out);
    }
  if ((status = data_input (im, node, 0, &x)) != GF_OK)
    return status;
  if (axis != 1 && axis != 1 - (int64_t) x->shape.ndim)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "axis %lld would not "
                      "keep the batch as the first axis", (long long) axis);
  shape.dims[1] = data_count (&x->shape);
  return emit_reshape (im, node, x, &shape);
}

/* The axes of Squeeze and Unsqueeze: an attribute before opset 13, an
 * input from then on. */
static GfStatus
node_axes (Import *im, const Onnx__NodeProto *node, int64_t *axes,
           size_t *n, bool *present)
{
  const int64_t *values;
  Const *c;
  GfStatus status;

  if (im->opset < 13)
    status = attr_ints (im, node, "axes", &values, n, present);
  else if ((status = const_input (im, node, 1, false, &c)) == GF_OK)
    {
      *present = c != NULL;
      if (c != NULL && !c->is_int)
        return node_fail (im, node, GF_ERR_FORMAT, "axes must be integers");
      *n = c ? c->count : 0;
      values = c ? c->i : NULL;
    }
  if (status == GF_OK && *n > GF_MAX_DIMS)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "too many axes");
  if (status == GF_OK && *n > 0)
    memcpy (axes, values, *n * sizeof *axes);
  return status;
}

/* Unsqueeze of @in; for data (@data), no axis may come before the batch. */
static GfStatus
unsqueeze_shape (Import *im, const Onnx__NodeProto *node, const Shape *in,
                 bool data, Shape *out)
{
  int64_t axes[GF_MAX_DIMS];
  bool inserted[GF_MAX_DIMS] = { false }, present;
  size_t n = 0, next = 0, axis;
  GfStatus status = node_axes (im, node, axes, &n, &present);

  if (status != GF_OK)
    return status;
  if (n == 0 || in->ndim + n > GF_MAX_DIMS)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "needs 1 to %d axes",
                      GF_MAX_DIMS - (int) in->ndim);
  out->ndim = in->ndim + n;
  for (size_t k = 0; k < n; k++)
    {
      if (!normalize_axis (axes[k], out->ndim, &axis) || inserted[axis]
          || (data && axis == 0))
        return node_fail (im, node, GF_ERR_INVALID, "axis %lld is out of "
                          "range, repeated or before the batch",
                          (long long) axes[k]);
      inserted[axis] = true;
    }
  for (size_t a = 0; a < out->ndim; a++)
    out->dims[a] = inserted[a] ? 1 : in->dims[next++];
  return GF_OK;
}

/* Squeeze of @in: the given axes, or every axis of size 1 (for data,
 * never the batch). */
static GfStatus
squeeze_shape (Import *im, const Onnx__NodeProto *node, const Shape *in,
               bool data, Shape *out)
{
  int64_t axes[GF_MAX_DIMS];
  bool removed[GF_MAX_DIMS] = { false }, present;
  size_t n = 0, axis;
  GfStatus status = node_axes (im, node, axes, &n, &present);

  if (status != GF_OK)
    return status;
  for (size_t a = data; n == 0 && a < in->ndim; a++)
    removed[a] = in->dims[a] == 1;
  for (size_t k = 0; k < n; k++)
    {
      if (!normalize_axis (axes[k], in->ndim, &axis) || (data && axis == 0)
          || in->dims[axis] != 1)
        return node_fail (im, node, GF_ERR_INVALID, "axis %lld is out of "
                          "range, the batch, or not of size 1",
                          (long long) axes[k]);
      removed[axis] = true;
    }
  out->ndim = 0;
  for (size_t a = 0; a < in->ndim; a++)
    if (!removed[a])
      out->dims[out->ndim++] = in->dims[a];
  return GF_OK;
}

static GfStatus
import_squeeze_like (Import *im, const Onnx__NodeProto *node, bool squeeze)
{
  Value *x = input_value (im, node, 0);
  Const *c, out;
  Shape shape;
  GfStatus status;

  if (is_const (x))
    {
      if ((status = value_const (im, x, &c)) != GF_OK
          || (status = (squeeze ? squeeze_shape : unsqueeze_shape)
              (im, node, &c->shape, false, &shape)) != GF_OK
          || (status = const_copy (im, c, &shape, &out)) != GF_OK)
        return status;
      return set_const_output (im, node, 0, &out);
    }
  if ((status = data_input (im, node, 0, &x)) != GF_OK
      || (status = (squeeze ? squeeze_shape : unsqueeze_shape)
          (im, node, &x->shape, true, &shape)) != GF_OK)
    return status;
  return emit_reshape (im, node, x, &shape);
}

static GfStatus
import_squeeze (Import *im, const Onnx__NodeProto *node)
{
  return import_squeeze_like (im, node, true);
}

static GfStatus
import_unsqueeze (Import *im, const Onnx__NodeProto *node)
{
  return import_squeeze_like (im, node, false);
}

/* Transpose's perm: a permutation of the rank, reversed by default. */
static GfStatus
read_perm (Import *im, const Onnx__NodeProto *node, size_t rank,
           size_t *perm)
{
  const int64_t *values;
  size_t n;
  bool seen[GF_MAX_DIMS] = { false };
  GfStatus status = attr_ints (im, node, "perm", &values, &n, NULL);

  if (status != GF_OK)
    return status;
  if (n != 0 && n != rank)
    return node_fail (im, node, GF_ERR_INVALID, "perm has %zu entries for "
                      "%zu axes", n, rank);
  for (size_t a = 0; a < rank; a++)
    {
      int64_t p = n ? values[a] : (int64_t) (rank - 1 - a);
      if (p < 0 || p >= (int64_t) rank || seen[p])
        return node_fail (im, node, GF_ERR_INVALID, "perm is not a "
                          "permutation");
      seen[p] = true;
      perm[a] = (size_t) p;
    }
  return GF_OK;
}

static GfStatus
transpose_const (Import *im, const Onnx__NodeProto *node, const Const *in,
                 Const *out)
{
  size_t perm[GF_MAX_DIMS];
  int64_t strides[GF_MAX_DIMS], steps[GF_MAX_DIMS];
  Shape shape = { in->shape.ndim };
  GfStatus status = read_perm (im, node, in->shape.ndim, perm);

  if (status != GF_OK)
    return status;
  row_major_strides (&in->shape, strides);
  for (size_t a = 0; a < shape.ndim; a++)
    {
      shape.dims[a] = in->shape.dims[perm[a]];
      steps[a] = strides[perm[a]];
    }
  if ((status = const_alloc (im, out, &shape, in->is_int, SIZE_MAX)) != GF_OK)
    return status;
  if (out->count > 0)
    gather_strided (in, 0, steps, out);
  return GF_OK;
}

static GfStatus
import_transpose (Import *im, const Onnx__NodeProto *node)
{
  Value *x = input_value (im, node, 0);
  GfNodeDesc desc = { .kind = GF_OP_TRANSPOSE, .n_inputs = 1 };
  Const *c, out;
  Shape shape;
  bool identity = true;
  GfStatus status;

  if (is_const (x))
    {
      if ((status = value_const (im, x, &c)) != GF_OK
          || (status = transpose_const (im, node, c, &out)) != GF_OK)
        return status;
      return set_const_output (im, node, 0, &out);
    }
  if ((status = data_input (im, node, 0, &x)) != GF_OK
      || (status = read_perm (im, node, x->shape.ndim,
                              desc.attr.transpose.perm)) != GF_OK)
    return status;
  if (desc.attr.transpose.perm[0] != 0)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "it moves the batch "
                      "axis");
  shape.ndim = x->shape.ndim;
  for (size_t a = 0; a < shape.ndim; a++)
    {
      shape.dims[a] = x->shape.dims[desc.attr.transpose.perm[a]];
      identity = identity && desc.attr.transpose.perm[a] == a;
    }
  desc.inputs[0] = x->tensor;
  if (identity)
    desc.kind = GF_OP_IDENTITY;
  return emit (im, node, &desc, &shape);
}

/* Identity, and Dropout of a constant. */
static GfStatus
import_identity (Import *im, const Onnx__NodeProto *node)
{
  Value *x = input_value (im, node, 0);
  GfNodeDesc desc = { .kind = GF_OP_IDENTITY, .n_inputs = 1 };
  Const *c, out;
  GfStatus status;

  if (is_const (x))
    {
      if ((status = value_const (im, x, &c)) != GF_OK
          || (status = const_copy (im, c, &c->shape, &out)) != GF_OK)
        return status;
      return set_const_output (im, node, 0, &out);
    }
  if ((status = data_input (im, node, 0, &x)) != GF_OK)
    return status;
  desc.inputs[0] = x->tensor;
  return emit (im, node, &desc, &x->shape);
}

/* ---- Windows: Conv and pooling ------------------------------------------- */

typedef struct
{
  size_t kernel[2], stride[2], dilation[2];
  size_t pads[4];          /* top, left, bottom, right, as ONNX orders them */
} Window;

/* @n integers of attribute @name, each in [@min, MAX_EXTENT]; @out keeps
 * its defaults when the attribute is absent. */
static GfStatus
attr_extents (Import *im, const Onnx__NodeProto *node, const char *name,
              size_t n, int64_t min, size_t *out, bool *present)
{
  const int64_t *values;
  size_t count;
  GfStatus status = attr_ints (im, node, name, &values, &count, present);

  if (status != GF_OK || !*present)
    return status;
  if (count != n)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "attribute '%s' has %zu "
                      "values; Graft runs 2-D windows (%zu values)", name,
                      count, n);
  for (size_t k = 0; k < n; k++)
    {
      if (values[k] < min || values[k] > MAX_EXTENT)
        return node_fail (im, node, GF_ERR_INVALID, "attribute '%s' holds "
                          "%lld, outside [%lld, %lld]", name,
                          (long long) values[k], (long long) min,
                          (long long) MAX_EXTENT);
      out[k] = (size_t) values[k];
    }
  return GF_OK;
}

/* auto_pad SAME_* puts the padding that keeps out = ceil(in / stride)
 * around each axis, the odd one after (UPPER) or before (LOWER). */
static GfStatus
apply_auto_pad (Import *im, const Onnx__NodeProto *node, const Shape *x,
                Window *w)
{
  char mode[16];
  bool upper;
  GfStatus status = attr_string (im, node, "auto_pad", "NOTSET", mode,
                                 sizeof mode);

  if (status != GF_OK || strcmp (mode, "NOTSET") == 0)
    return status;
  if (strcmp (mode, "VALID") == 0)
    {
      memset (w->pads, 0, sizeof w->pads);
      return GF_OK;
    }
  upper = strcmp (mode, "SAME_UPPER") == 0;
  if (!upper && strcmp (mode, "SAME_LOWER") != 0)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "auto_pad '%s' is not "
                      "NOTSET, VALID, SAME_UPPER or SAME_LOWER", mode);
  for (size_t a = 0; a < 2; a++)
    {
      size_t in = x->dims[2 + a], s = w->stride[a];
      size_t out = (in + s - 1) / s;
      size_t need = (out - 1) * s + (w->kernel[a] - 1) * w->dilation[a] + 1;
      size_t total = need > in ? need - in : 0;
      w->pads[a] = upper ? total / 2 : total - total / 2;
      w->pads[a + 2] = total - w->pads[a];
    }
  return GF_OK;
}

/* Reads kernel_shape (or takes @kernel from the weight), strides,
 * dilations, pads and auto_pad for an input @x of rank 4. */
static GfStatus
read_window (Import *im, const Onnx__NodeProto *node, const Shape *x,
             const size_t *kernel, bool dilations, Window *w)
{
  size_t attr_kernel[2] = { 0, 0 };
  bool present;
  GfStatus status;

  *w = (Window) { .stride = { 1, 1 }, .dilation = { 1, 1 } };
  if ((status = attr_extents (im, node, "kernel_shape", 2, 1, attr_kernel,
                              &present)) != GF_OK)
    return status;
  if (!present && kernel == NULL)
    return node_fail (im, node, GF_ERR_FORMAT, "the attribute kernel_shape "
                      "is missing");
  if (present && kernel != NULL && (attr_kernel[0] != kernel[0]
                                    || attr_kernel[1] != kernel[1]))
    return node_fail (im, node, GF_ERR_FORMAT, "kernel_shape differs from "
                      "the weight's");
  w->kernel[0] = kernel ? kernel[0] : attr_kernel[0];
  w->kernel[1] = kernel ? kernel[1] : attr_kernel[1];
  if ((status = attr_extents (im, node, "strides", 2, 1, w->stride,
                              &present)) != GF_OK
      || (dilations && (status = attr_extents (im, node, "dilations", 2, 1,
                                               w->dilation,
                                               &present)) != GF_OK)
      || (status = attr_extents (im, node, "pads", 4, 0, w->pads,
                                 &present)) != GF_OK)
    return status;
  return apply_auto_pad (im, node, x, w);
}

static GfStatus
require_rank (Import *im, const Onnx__NodeProto *node, const Value *x,
              size_t rank)
{
  char text[MESSAGE_PART];

  if (x->shape.ndim == rank)
    return GF_OK;
  format_shape (text, sizeof text, &x->shape);
  return node_fail (im, node, GF_ERR_UNSUPPORTED, "its input is %s; Graft "
                    "runs it on %zu-D tensors", text, rank);
}

/* Fills a Conv descriptor and computes the output's shape. */
static GfStatus
conv_desc (Import *im, const Onnx__NodeProto *node, const Value *x,
           const Const *w, GfNodeDesc *desc, Shape *shape)
{
  GfConv2d *conv = &desc->attr.conv, probe;
  GfError error = { 0 };
  int64_t group;
  Window win;
  GfStatus status;

  if ((status = require_rank (im, node, x, 4)) != GF_OK
      || (status = attr_int (im, node, "group", 1, &group)) != GF_OK)
    return status;
  if (w->shape.ndim != 4 || group < 1 || group > (int64_t) x->shape.dims[1])
    return node_fail (im, node, GF_ERR_SHAPE, "the weight must be 4-D and "
                      "group between 1 and the input channels");
  if ((status = read_window (im, node, &x->shape, w->shape.dims + 2, true,
                             &win)) != GF_OK)
    return status;
  *conv = (GfConv2d) {
    .batch = 1, .in_channels = x->shape.dims[1],
    .in_h = x->shape.dims[2], .in_w = x->shape.dims[3],
    .out_channels = w->shape.dims[0],
    .kernel_h = win.kernel[0], .kernel_w = win.kernel[1],
    .stride_h = win.stride[0], .stride_w = win.stride[1],
    .dilation_h = win.dilation[0], .dilation_w = win.dilation[1],
    .pad_top = win.pads[0], .pad_left = win.pads[1],
    .pad_bottom = win.pads[2], .pad_right = win.pads[3],
    .groups = (size_t) group };
  /* The kernel's own checks and output size, on a copy: the graph fills
   * the descriptor's shape fields itself. */
  probe = *conv;
  if (gf_conv2d_init (&probe, &error) != GF_OK)
    return node_fail (im, node, error.status, "%s", error.message);
  *shape = (Shape) { 4, { 1, probe.out_channels, probe.out_h, probe.out_w } };
  return GF_OK;
}

/* The BatchNormalization that alone reads @node's output, when the
 * options ask to fold it and its statistics are constants. */
static int
foldable_batchnorm (Import *im, const Onnx__NodeProto *node)
{
  const Value *y = find_value (im, node->output[0]);
  const Onnx__NodeProto *bn;

  if (!im->fold_batchnorm || y->consumers != 1 || y->consumer < 0)
    return -1;
  bn = im->g->node[y->consumer];
  if (strcmp (bn->op_type, "BatchNormalization") != 0 || bn->n_input != 5
      || strcmp (bn->input[0], node->output[0]) != 0)
    return -1;
  for (size_t k = 1; k < 5; k++)
    if (!is_const (input_value (im, bn, k)))
      return -1;
  return y->consumer;
}

/* w' = w · s and b' = (b − mean) · s + beta per output channel, with
 * s = gamma / sqrt(var + epsilon), computed in double. */
static GfStatus
fold_batchnorm (Import *im, const Onnx__NodeProto *bn, const Const *w,
                const Const *b, Const *w_out, Const *b_out)
{
  Const *p[4];
  size_t m = w->shape.dims[0], per = w->count / m;
  double epsilon;
  Shape shape = { 1, { m } };
  GfStatus status = attr_float (im, bn, "epsilon", 1e-5, &epsilon);

  for (size_t k = 0; status == GF_OK && k < 4; k++)
    if ((status = const_input (im, bn, k + 1, true, &p[k])) == GF_OK
        && (p[k]->is_int || p[k]->count != m))
      return node_fail (im, bn, GF_ERR_SHAPE, "its weights and statistics "
                        "need one float per output channel of the Conv");
  if (status != GF_OK || (b != NULL && (b->is_int || b->count != m))
      || (status = const_copy (im, w, &w->shape, w_out)) != GF_OK
      || (status = const_alloc (im, b_out, &shape, false, SIZE_MAX)) != GF_OK)
    return status != GF_OK ? status
      : node_fail (im, bn, GF_ERR_SHAPE, "the Conv bias does not fit");
  for (size_t c = 0; c < m; c++)
    {
      double var = (double) p[3]->f[c] + epsilon;
      double s = p[0]->f[c] / sqrt (var);
      if (!(var > 0.0))
        return node_fail (im, bn, GF_ERR_NUMERIC, "a variance plus epsilon "
                          "is not positive");
      for (size_t j = 0; j < per; j++)
        w_out->f[c * per + j] = (float) (w_out->f[c * per + j] * s);
      b_out->f[c] = (float) (((b ? b->f[c] : 0.0) - p[2]->f[c]) * s
                             + p[1]->f[c]);
    }
  return GF_OK;
}

/* A folded weight keeps the name of the constant it replaces when nothing
 * else reads that constant. */
static GfStatus
add_folded_param (Import *im, const Value *v, const Const *c, int *id)
{
  if (v->consumers == 1 && v->param < 0
      && gf_graph_find_tensor (im->graph, v->name) < 0)
    {
      *id = gf_graph_add_param (im->graph, v->name, GF_TENSOR_PARAM,
                                c->shape.ndim, c->shape.dims, c->f,
                                &im->err);
      return *id >= 0 ? GF_OK : im->err.status;
    }
  return add_derived_param (im, v->name, ":folded", c, id);
}

/* Emits @node, a Conv, with the BatchNormalization @bn folded into it:
 * the result carries the BatchNormalization's output name. */
static GfStatus
emit_conv_folded (Import *im, const Onnx__NodeProto *node, int bn,
                  GfNodeDesc *desc, const Shape *shape)
{
  const Onnx__NodeProto *bn_node = im->g->node[bn];
  Const *w, *b, w_out = { 0 }, b_out = { 0 };
  int tensor;
  GfStatus status;

  if ((status = check_extra_outputs (im, bn_node)) != GF_OK
      || (status = const_input (im, node, 1, true, &w)) != GF_OK
      || (status = const_input (im, node, 2, false, &b)) != GF_OK
      || (status = fold_batchnorm (im, bn_node, w, b, &w_out,
                                   &b_out)) != GF_OK
      || (status = add_folded_param (im, input_value (im, node, 1), &w_out,
                                     &desc->inputs[1])) != GF_OK
      || (status = add_folded_param (im, b ? input_value (im, node, 2)
                                     : input_value (im, bn_node, 2), &b_out,
                                     &desc->inputs[2])) != GF_OK
      || (status = add_node_named (im, node, desc, bn_node->output[0],
                                   &tensor)) != GF_OK)
    {
      const_clear (&w_out);
      const_clear (&b_out);
      return status;
    }
  const_clear (&w_out);
  const_clear (&b_out);
  desc->n_inputs = 3;
  set_data (find_value (im, bn_node->output[0]), tensor, shape);
  im->skip[bn] = true;
  return GF_OK;
}

static GfStatus
import_conv (Import *im, const Onnx__NodeProto *node)
{
  GfNodeDesc desc = { .kind = GF_OP_CONV, .n_inputs = 3 };
  Value *x;
  Const *w;
  Shape shape;
  int bn;
  GfStatus status;

  if ((status = data_input (im, node, 0, &x)) != GF_OK
      || (status = const_input (im, node, 1, true, &w)) != GF_OK
      || (status = conv_desc (im, node, x, w, &desc, &shape)) != GF_OK)
    return status;
  desc.inputs[0] = x->tensor;
  if ((bn = foldable_batchnorm (im, node)) >= 0)
    return emit_conv_folded (im, node, bn, &desc, &shape);
  if (has_input (node, 2) && !is_const (input_value (im, node, 2)))
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "its bias must be a "
                      "constant");
  desc.n_inputs = has_input (node, 2) ? 3 : 2;
  if ((status = value_param (im, input_value (im, node, 1), GF_TENSOR_PARAM,
                             &desc.inputs[1])) != GF_OK
      || (desc.n_inputs == 3
          && (status = value_param (im, input_value (im, node, 2),
                                    GF_TENSOR_PARAM,
                                    &desc.inputs[2])) != GF_OK))
    return status;
  return emit (im, node, &desc, &shape);
}

static GfStatus
import_pool (Import *im, const Onnx__NodeProto *node)
{
  bool max = strcmp (node->op_type, "MaxPool") == 0;
  GfNodeDesc desc = { .kind = max ? GF_OP_MAXPOOL : GF_OP_AVGPOOL,
                      .n_inputs = 1 };
  GfPool2d *pool = &desc.attr.pool, probe;
  GfError error = { 0 };
  int64_t ceil_mode, include_pad;
  Value *x;
  Window w;
  GfStatus status;

  if ((status = data_input (im, node, 0, &x)) != GF_OK
      || (status = require_rank (im, node, x, 4)) != GF_OK
      || (status = check_extra_outputs (im, node)) != GF_OK
      || (status = read_window (im, node, &x->shape, NULL, max,
                                &w)) != GF_OK
      || (status = attr_int (im, node, "ceil_mode", 0, &ceil_mode)) != GF_OK
      || (status = attr_int (im, node, "count_include_pad", 0,
                             &include_pad)) != GF_OK)
    return status;
  *pool = (GfPool2d) {
    .batch = 1, .channels = x->shape.dims[1],
    .in_h = x->shape.dims[2], .in_w = x->shape.dims[3],
    .kernel_h = w.kernel[0], .kernel_w = w.kernel[1],
    .stride_h = w.stride[0], .stride_w = w.stride[1],
    .dilation_h = w.dilation[0], .dilation_w = w.dilation[1],
    .pad_top = w.pads[0], .pad_left = w.pads[1],
    .pad_bottom = w.pads[2], .pad_right = w.pads[3],
    .ceil_mode = ceil_mode != 0, .count_include_pad = include_pad != 0 };
  desc.inputs[0] = x->tensor;
  probe = *pool;
  if (gf_pool2d_init (&probe, &error) != GF_OK)
    return node_fail (im, node, error.status, "%s", error.message);
  return emit (im, node, &desc, &(Shape) { 4, { 1, probe.channels,
                                                 probe.out_h, probe.out_w } });
}

/* ---- Other network ops --------------------------------------------------- */

/* The graph weight behind a node's constant input @slot. */
static GfStatus
param_input (Import *im, const Onnx__NodeProto *node, size_t slot,
             GfTensorKind kind, int *id)
{
  Value *v = input_value (im, node, slot);

  if (!is_const (v))
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "input %zu must be a "
                      "constant weight", slot);
  return value_param (im, v, kind, id);
}

static GfStatus
import_batchnorm (Import *im, const Onnx__NodeProto *node)
{
  GfNodeDesc desc = { .kind = GF_OP_BATCHNORM, .n_inputs = 5 };
  int64_t spatial;
  Value *x;
  GfStatus status;

  if ((status = data_input (im, node, 0, &x)) != GF_OK
      || (status = check_extra_outputs (im, node)) != GF_OK
      || (status = attr_int (im, node, "spatial", 1, &spatial)) != GF_OK
      || (status = attr_float (im, node, "epsilon", 1e-5,
                               &desc.attr.batchnorm.epsilon)) != GF_OK
      || (status = attr_float (im, node, "momentum", 0.9,
                               &desc.attr.batchnorm.momentum)) != GF_OK)
    return status;
  if (spatial != 1)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "spatial=0 (statistics "
                      "per position) is not supported");
  desc.inputs[0] = x->tensor;
  for (size_t k = 1; k < 5; k++)
    if ((status = param_input (im, node, k, k < 3 ? GF_TENSOR_PARAM
                               : GF_TENSOR_STATE, &desc.inputs[k])) != GF_OK)
      return status;
  return emit (im, node, &desc, &x->shape);
}

/* Clip's bounds: attributes before opset 11, optional inputs from then. */
static GfStatus
clip_bounds (Import *im, const Onnx__NodeProto *node, GfActivation *act)
{
  GfStatus status;

  if (im->opset < 11)
    {
      if ((status = attr_float (im, node, "min", -INFINITY,
                                &act->alpha)) != GF_OK)
        return status;
      return attr_float (im, node, "max", INFINITY, &act->beta);
    }
  if ((status = scalar_input (im, node, 1, -INFINITY, &act->alpha)) != GF_OK)
    return status;
  return scalar_input (im, node, 2, INFINITY, &act->beta);
}

static GfStatus
import_activation (Import *im, const Onnx__NodeProto *node)
{
  const char *op = node->op_type;
  GfNodeDesc desc = { .kind = GF_OP_ACTIVATION, .n_inputs = 1 };
  GfActivation *act = &desc.attr.activation;
  Value *x;
  GfStatus status = GF_OK;

  if (strcmp (op, "Relu") == 0)
    act->kind = GF_ACT_RELU;
  else if (strcmp (op, "Sigmoid") == 0)
    act->kind = GF_ACT_SIGMOID;
  else if (strcmp (op, "LeakyRelu") == 0)
    {
      act->kind = GF_ACT_LEAKY_RELU;
      status = attr_float (im, node, "alpha", 0.01, &act->alpha);
    }
  else if (strcmp (op, "HardSigmoid") == 0)
    {
      act->kind = GF_ACT_HARD_SIGMOID;
      if ((status = attr_float (im, node, "alpha", 0.2, &act->alpha)) == GF_OK)
        status = attr_float (im, node, "beta", 0.5, &act->beta);
    }
  else if (strcmp (op, "HardSwish") == 0)
    *act = (GfActivation) { GF_ACT_HARD_SWISH, 1.0 / 6.0, 0.5 };
  else
    {
      act->kind = GF_ACT_CLIP;
      status = clip_bounds (im, node, act);
    }
  if (status != GF_OK || (status = data_input (im, node, 0, &x)) != GF_OK)
    return status;
  desc.inputs[0] = x->tensor;
  return emit (im, node, &desc, &x->shape);
}

/* The shape of @v for broadcasting as the graph sees it: data has batch 2,
 * so that a constant spanning the batch axis shows. */
static GfStatus
broadcast_operand (Import *im, Value *v, Shape *shape)
{
  const ElementType *type;

  if (is_data (v))
    {
      *shape = v->shape;
      shape->dims[0] = 2;
      return GF_OK;
    }
  if (v->decoded || v->initializer == NULL)
    {
      *shape = v->c.shape;
      return GF_OK;
    }
  return tensor_header (im, v->initializer, v->name, &type, shape);
}

static GfStatus
binary_shape (Import *im, const Onnx__NodeProto *node, Value *a, Value *b,
              Shape *shape)
{
  Shape sa, sb;
  GfStatus status;

  if ((status = broadcast_operand (im, a, &sa)) != GF_OK
      || (status = broadcast_operand (im, b, &sb)) != GF_OK)
    return status;
  if (!broadcast_shape (&sa, &sb, shape) || shape->dims[0] != 2
      || shape->ndim != (is_data (a) ? sa.ndim : sb.ndim))
    return node_fail (im, node, GF_ERR_SHAPE, "its inputs do not broadcast "
                      "without spanning the batch axis");
  shape->dims[0] = 1;
  return GF_OK;
}

/* The weight for a constant operand of Add, Mul, Sub (negated) or Div
 * (inverted). */
static GfStatus
binary_weight (Import *im, const Onnx__NodeProto *node, Value *v, char op,
               int *id)
{
  Const *c, derived;
  GfStatus status;

  if (op == '+' || op == '*')
    return value_param (im, v, GF_TENSOR_PARAM, id);
  if ((status = value_const (im, v, &c)) != GF_OK
      || (status = const_as_float (im, c, &derived)) != GF_OK)
    return status;
  for (size_t k = 0; k < derived.count; k++)
    {
      if (op == '/' && derived.f[k] == 0.0f)
        {
          const_clear (&derived);
          return node_fail (im, node, GF_ERR_NUMERIC, "divides by zero");
        }
      derived.f[k] = op == '-' ? -derived.f[k] : 1.0f / derived.f[k];
    }
  status = add_derived_param (im, v->name, op == '-' ? ":negated"
                              : ":reciprocal", &derived, id);
  const_clear (&derived);
  return status;
}

/* Add and Mul of activations; Add, Sub, Mul and Div with a constant
 * operand (Sub and Div with it on the right); all four on constants. */
static GfStatus
import_binary (Import *im, const Onnx__NodeProto *node)
{
  Value *in[2] = { input_value (im, node, 0), input_value (im, node, 1) };
  char op = arith_op (node);
  GfNodeDesc desc = { .kind = op == '+' || op == '-' ? GF_OP_ADD : GF_OP_MUL,
                      .n_inputs = 2 };
  Const *a, *b, out;
  Shape shape;
  GfStatus status;

  if (in[0] == NULL || in[1] == NULL)
    return node_fail (im, node, GF_ERR_FORMAT, "needs two inputs");
  if (is_const (in[0]) && is_const (in[1]))
    {
      if ((status = value_const (im, in[0], &a)) != GF_OK
          || (status = value_const (im, in[1], &b)) != GF_OK
          || (status = fold_binary (im, node, a, b, &out)) != GF_OK)
        return status;
      return set_const_output (im, node, 0, &out);
    }
  if ((op == '-' || op == '/') && !is_const (in[1]))
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "Graft computes it only "
                      "with a constant second operand");
  if ((status = binary_shape (im, node, in[0], in[1], &shape)) != GF_OK)
    return status;
  for (size_t k = 0; k < 2; k++)
    {
      if (is_data (in[k]))
        desc.inputs[k] = in[k]->tensor;
      else if (!is_const (in[k]))
        return node_fail (im, node, GF_ERR_FORMAT, "an input is missing");
      else if ((status = binary_weight (im, node, in[k], op,
                                        &desc.inputs[k])) != GF_OK)
        return status;
    }
  return emit (im, node, &desc, &shape);
}

/* Emits Concat over all of @node's inputs, GF_NODE_MAX_INPUTS at a time;
 * each link of the chain reads the previous one's result first. */
static GfStatus
emit_concat_chain (Import *im, const Onnx__NodeProto *node, GfNodeDesc *desc,
                   const Shape *shape)
{
  size_t next = 0, n = node->n_input;
  int previous = -1;
  char name[256];
  GfStatus status;

  while (true)
    {
      desc->n_inputs = 0;
      if (previous >= 0)
        desc->inputs[desc->n_inputs++] = previous;
      while (next < n && desc->n_inputs < GF_NODE_MAX_INPUTS)
        desc->inputs[desc->n_inputs++] = input_value (im, node,
                                                      next++)->tensor;
      if (next == n)
        return emit (im, node, desc, shape);
      if ((status = make_name (im, node->output[0], ":part", name,
                               sizeof name)) != GF_OK
          || (status = add_node_named (im, node, desc, name,
                                       &previous)) != GF_OK)
        return status;
    }
}

/* Concat of activations along the channels; more inputs than a graph
 * node takes are joined in a chain. */
static GfStatus
import_concat (Import *im, const Onnx__NodeProto *node)
{
  GfNodeDesc desc = { .kind = GF_OP_CONCAT };
  Value *first = input_value (im, node, 0), *x;
  int64_t axis;
  size_t channels = 0, axis_index;
  Shape shape;
  GfStatus status = attr_int (im, node, "axis", INT64_MAX, &axis);

  if (status != GF_OK)
    return status;
  if (axis == INT64_MAX)
    return node_fail (im, node, GF_ERR_FORMAT, "the axis is missing");
  if (all_inputs_const (im, node))
    {
      Const out;
      if ((status = fold_concat (im, node, axis, &out)) != GF_OK)
        return status;
      return set_const_output (im, node, 0, &out);
    }
  if ((status = data_input (im, node, 0, &first)) != GF_OK)
    return status;
  if (!normalize_axis (axis, first->shape.ndim, &axis_index)
      || axis_index != 1)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "Graft concatenates "
                      "activations along the channels (axis 1) only");
  for (size_t k = 0; k < node->n_input; k++)
    {
      if ((status = data_input (im, node, k, &x)) != GF_OK)
        return status;
      channels += x->shape.dims[1];
    }
  shape = first->shape;
  shape.dims[1] = channels;
  return emit_concat_chain (im, node, &desc, &shape);
}

static GfStatus
import_global_pool (Import *im, const Onnx__NodeProto *node)
{
  GfNodeDesc desc = { .kind = GF_OP_GLOBAL_AVGPOOL, .n_inputs = 1 };
  Value *x;
  GfStatus status;

  if ((status = data_input (im, node, 0, &x)) != GF_OK
      || (status = require_rank (im, node, x, 4)) != GF_OK)
    return status;
  desc.inputs[0] = x->tensor;
  return emit (im, node, &desc,
               &(Shape) { 4, { 1, x->shape.dims[1], 1, 1 } });
}

/* ReduceMean over H and W is GlobalAveragePool, followed by a Flatten
 * when the reduced axes are dropped. */
static GfStatus
import_reduce_mean (Import *im, const Onnx__NodeProto *node)
{
  GfNodeDesc desc = { .kind = GF_OP_GLOBAL_AVGPOOL, .n_inputs = 1 };
  const int64_t *axes;
  size_t n, a0 = 0, a1 = 0;
  int64_t keepdims;
  char name[256];
  Value *x;
  GfStatus status;

  if ((status = data_input (im, node, 0, &x)) != GF_OK
      || (status = require_rank (im, node, x, 4)) != GF_OK
      || (status = attr_ints (im, node, "axes", &axes, &n, NULL)) != GF_OK
      || (status = attr_int (im, node, "keepdims", 1, &keepdims)) != GF_OK)
    return status;
  if (n != 2 || !normalize_axis (axes[0], 4, &a0)
      || !normalize_axis (axes[1], 4, &a1) || a0 + a1 != 5 || a0 * a1 != 6)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "Graft averages over "
                      "axes [2, 3] (height and width) only");
  desc.inputs[0] = x->tensor;
  if (keepdims)
    return emit (im, node, &desc,
                 &(Shape) { 4, { 1, x->shape.dims[1], 1, 1 } });
  if ((status = make_name (im, node->output[0], ":pooled", name,
                           sizeof name)) != GF_OK
      || (status = add_node_named (im, node, &desc, name,
                                   &desc.inputs[0])) != GF_OK)
    return status;
  desc.kind = GF_OP_FLATTEN;
  return emit (im, node, &desc, &(Shape) { 2, { 1, x->shape.dims[1] } });
}

/* The weight of Gemm or MatMul: a constant 2-D matrix; its output
 * features in *n. */
static GfStatus
matrix_input (Import *im, const Onnx__NodeProto *node, size_t slot,
              bool trans, int *id, size_t *n)
{
  Value *v = input_value (im, node, slot);
  Shape shape;
  GfStatus status;

  if (!is_const (v))
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "Graft multiplies "
                      "activations only by a constant matrix");
  if ((status = broadcast_operand (im, v, &shape)) != GF_OK)
    return status;
  if (shape.ndim != 2)
    return node_fail (im, node, GF_ERR_SHAPE, "the weight must be 2-D");
  *n = shape.dims[trans ? 0 : 1];
  return value_param (im, v, GF_TENSOR_PARAM, id);
}

static GfStatus
import_gemm (Import *im, const Onnx__NodeProto *node)
{
  GfNodeDesc desc = { .kind = GF_OP_GEMM, .n_inputs = 2 };
  bool matmul = strcmp (node->op_type, "MatMul") == 0;
  int64_t trans_a = 0, trans_b = 0;
  double alpha = 1.0, beta = 1.0;
  size_t n = 0;
  Value *a;
  GfStatus status;

  if ((status = data_input (im, node, 0, &a)) != GF_OK
      || (!matmul
          && ((status = attr_int (im, node, "transA", 0, &trans_a)) != GF_OK
              || (status = attr_int (im, node, "transB", 0,
                                     &trans_b)) != GF_OK
              || (status = attr_float (im, node, "alpha", 1.0,
                                       &alpha)) != GF_OK
              || (status = attr_float (im, node, "beta", 1.0,
                                       &beta)) != GF_OK)))
    return status;
  if (trans_a != 0)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "transA=1 is not "
                      "supported");
  if ((status = require_rank (im, node, a, 2)) != GF_OK
      || (status = matrix_input (im, node, 1, trans_b != 0, &desc.inputs[1],
                                 &n)) != GF_OK)
    return status;
  if (!matmul && has_input (node, 2)
      && (status = param_input (im, node, 2, GF_TENSOR_PARAM,
                                &desc.inputs[desc.n_inputs++])) != GF_OK)
    return status;
  desc.inputs[0] = a->tensor;
  desc.attr.gemm.trans_b = trans_b != 0;
  desc.attr.gemm.alpha = alpha;
  desc.attr.gemm.beta = beta;
  return emit (im, node, &desc, &(Shape) { 2, { 1, n } });
}

/* Dropout: the ratio is an attribute before opset 12, an input from then
 * on; its mask output must be unused. */
static GfStatus
import_dropout (Import *im, const Onnx__NodeProto *node)
{
  GfNodeDesc desc = { .kind = GF_OP_DROPOUT, .n_inputs = 1 };
  Value *x = input_value (im, node, 0);
  GfStatus status = check_extra_outputs (im, node);

  if (status != GF_OK)
    return status;
  if (is_const (x))
    return import_identity (im, node);
  if (im->opset < 12)
    status = attr_float (im, node, "ratio", 0.5, &desc.attr.dropout.ratio);
  else
    status = scalar_input (im, node, 1, 0.5, &desc.attr.dropout.ratio);
  if (status != GF_OK || (status = data_input (im, node, 0, &x)) != GF_OK)
    return status;
  desc.inputs[0] = x->tensor;
  return emit (im, node, &desc, &x->shape);
}

static GfStatus
import_softmax (Import *im, const Onnx__NodeProto *node)
{
  GfNodeDesc desc = { .kind = GF_OP_SOFTMAX, .n_inputs = 1 };
  int64_t axis;
  Value *x;
  GfStatus status;

  if ((status = data_input (im, node, 0, &x)) != GF_OK
      || (status = attr_int (im, node, "axis", im->opset < 13 ? 1 : -1,
                             &axis)) != GF_OK)
    return status;
  if (x->shape.ndim != 2 || (axis != 1 && axis != -1))
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "Graft computes "
                      "Softmax over the features of (N, K) only");
  desc.inputs[0] = x->tensor;
  return emit (im, node, &desc, &x->shape);
}

/* Pad's amounts (x1_begin, x2_begin, ..., x1_end, ...) and value:
 * attributes before opset 11, inputs from then on. */
static GfStatus
pad_amounts (Import *im, const Onnx__NodeProto *node, int64_t *pads,
             double *value)
{
  char mode[16];
  const int64_t *values;
  size_t n;
  Const *c;
  GfStatus status = attr_string (im, node, "mode", "constant", mode,
                                 sizeof mode);

  if (status == GF_OK && strcmp (mode, "constant") != 0)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "mode '%s' is not "
                      "supported; only constant", mode);
  if (status == GF_OK && im->opset < 11)
    {
      if ((status = attr_ints (im, node, "pads", &values, &n,
                               NULL)) == GF_OK)
        status = attr_float (im, node, "value", 0.0, value);
    }
  else if (status == GF_OK
           && (status = const_input (im, node, 1, true, &c)) == GF_OK)
    {
      values = c->i;
      n = c->is_int ? c->count : 0;
      status = scalar_input (im, node, 2, 0.0, value);
    }
  if (status == GF_OK && n != 8)
    return node_fail (im, node, GF_ERR_FORMAT, "pads must hold 8 integers "
                      "for a 4-D input");
  if (status == GF_OK)
    memcpy (pads, values, 8 * sizeof *pads);
  return status;
}

static GfStatus
import_pad (Import *im, const Onnx__NodeProto *node)
{
  GfNodeDesc desc = { .kind = GF_OP_PAD, .n_inputs = 1 };
  int64_t p[8];
  Shape shape;
  Value *x;
  GfStatus status;

  if ((status = data_input (im, node, 0, &x)) != GF_OK
      || (status = require_rank (im, node, x, 4)) != GF_OK
      || (status = pad_amounts (im, node, p, &desc.attr.pad.value)) != GF_OK)
    return status;
  if (p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "Graft pads height and "
                      "width only");
  for (size_t k = 2; k < 8; k++)
    if ((k % 4 == 2 || k % 4 == 3) && (p[k] < 0 || p[k] > MAX_EXTENT))
      return node_fail (im, node, GF_ERR_UNSUPPORTED, "pads of %lld: "
                        "negative (cropping) or absurd", (long long) p[k]);
  desc.attr.pad.top = (size_t) p[2];
  desc.attr.pad.left = (size_t) p[3];
  desc.attr.pad.bottom = (size_t) p[6];
  desc.attr.pad.right = (size_t) p[7];
  desc.inputs[0] = x->tensor;
  shape = x->shape;
  shape.dims[2] += desc.attr.pad.top + desc.attr.pad.bottom;
  shape.dims[3] += desc.attr.pad.left + desc.attr.pad.right;
  return emit (im, node, &desc, &shape);
}

/* ---- Dispatch ------------------------------------------------------------ */

typedef struct
{
  const char *op;
  ImportFunc func;
} Importer;

/* Sorted by name for bsearch. */
static const Importer importers[] = {
  { "Add", import_binary },
  { "AveragePool", import_pool },
  { "BatchNormalization", import_batchnorm },
  { "Cast", import_cast },
  { "Clip", import_activation },
  { "Concat", import_concat },
  { "Constant", import_constant },
  { "ConstantOfShape", import_constant_of_shape },
  { "Conv", import_conv },
  { "Div", import_binary },
  { "Dropout", import_dropout },
  { "Flatten", import_flatten },
  { "Gather", import_gather },
  { "Gemm", import_gemm },
  { "GlobalAveragePool", import_global_pool },
  { "HardSigmoid", import_activation },
  { "HardSwish", import_activation },
  { "Identity", import_identity },
  { "LeakyRelu", import_activation },
  { "MatMul", import_gemm },
  { "MaxPool", import_pool },
  { "Mul", import_binary },
  { "Pad", import_pad },
  { "ReduceMean", import_reduce_mean },
  { "Relu", import_activation },
  { "Reshape", import_reshape },
  { "Shape", import_shape },
  { "Sigmoid", import_activation },
  { "Slice", import_slice },
  { "Softmax", import_softmax },
  { "Squeeze", import_squeeze },
  { "Sub", import_binary },
  { "Transpose", import_transpose },
  { "Unsqueeze", import_unsqueeze },
};

static int
compare_op (const void *key, const void *entry)
{
  return strcmp (key, *(const char *const *) entry);
}

static GfStatus
import_node (Import *im, const Onnx__NodeProto *node)
{
  const char *domain = node->domain ? node->domain : "";
  const void *found;

  if (domain[0] != '\0' && strcmp (domain, "ai.onnx") != 0)
    return node_fail (im, node, GF_ERR_UNSUPPORTED, "it is from operator "
                      "domain '%.*s'; Graft reads only the default ONNX "
                      "domain", MESSAGE_PART, domain);
  found = bsearch (node->op_type, importers,
                   sizeof importers / sizeof *importers, sizeof *importers,
                   compare_op);
  if (found == NULL)
    return fail (im, GF_ERR_UNSUPPORTED, "unsupported operator '%.64s' at "
                 "node '%.*s'", node->op_type, MESSAGE_PART,
                 node_label (node));
  if (node->n_output == 0 || node->output[0][0] == '\0')
    return node_fail (im, node, GF_ERR_FORMAT, "its first output has no "
                      "name");
  return ((const Importer *) found)->func (im, node);
}

/* ---- The graph's tensors and nodes --------------------------------------- */

static GfStatus
read_opset (Import *im)
{
  const Onnx__ModelProto *proto = im->proto;

  im->opset = 1;   /* files without opset_import predate opset 2 */
  for (size_t k = 0; k < proto->n_opset_import; k++)
    {
      const char *domain = proto->opset_import[k]->domain;
      if (domain == NULL || domain[0] == '\0'
          || strcmp (domain, "ai.onnx") == 0)
        im->opset = proto->opset_import[k]->version;
    }
  if (im->opset < OPSET_MIN || im->opset > OPSET_MAX)
    return fail (im, GF_ERR_UNSUPPORTED, "the model uses opset %lld of the "
                 "default domain; Graft reads opsets %d to %d",
                 (long long) im->opset, OPSET_MIN, OPSET_MAX);
  return GF_OK;
}

/* Adds a Value for @name; *fresh tells whether it was new. */
static Value *
add_value (Import *im, const char *name, bool *fresh)
{
  size_t slot = map_slot (im, name);
  Value *v;

  *fresh = im->map.slots[slot] < 0;
  if (!*fresh)
    return &im->values[im->map.slots[slot]];
  v = &im->values[im->n_values];
  *v = (Value) { .name = name, .producer = -1, .consumer = -1, .param = -1,
                 .tensor = -1 };
  im->map.slots[slot] = (int) im->n_values++;
  return v;
}

static GfStatus
register_outputs (Import *im)
{
  const Onnx__GraphProto *g = im->g;
  bool fresh;

  for (size_t k = 0; k < g->n_node; k++)
    {
      if (g->node[k]->op_type == NULL)
        return fail (im, GF_ERR_FORMAT, "node %zu has no operator type", k);
      for (size_t j = 0; j < g->node[k]->n_output; j++)
        {
          const char *name = g->node[k]->output[j];
          Value *v;
          if (name[0] == '\0')
            continue;
          v = add_value (im, name, &fresh);
          if (!fresh)
            return node_fail (im, g->node[k], GF_ERR_FORMAT, "it writes "
                              "'%.*s', which is already defined",
                              MESSAGE_PART, name);
          v->producer = (int) k;
        }
    }
  return GF_OK;
}

/* One Value per initializer, graph input and node output. */
static GfStatus
register_values (Import *im)
{
  const Onnx__GraphProto *g = im->g;
  size_t total = g->n_initializer + g->n_input;
  GfStatus status;
  bool fresh;

  for (size_t k = 0; k < g->n_node; k++)
    total += g->node[k]->n_output;   /* bounded by the file's size */
  if ((status = gf_alloc_zeroed (total, sizeof *im->values,
                                 (void **) &im->values, &im->err)) != GF_OK
      || (status = map_init (im, total)) != GF_OK)
    return status;
  for (size_t k = 0; k < g->n_initializer; k++)
    {
      const char *name = g->initializer[k]->name;
      Value *v;
      if (name == NULL || name[0] == '\0')
        return fail (im, GF_ERR_FORMAT, "initializer %zu has no name", k);
      v = add_value (im, name, &fresh);
      if (!fresh)
        return fail (im, GF_ERR_FORMAT, "initializer '%.*s' is defined "
                     "twice", MESSAGE_PART, name);
      v->initializer = g->initializer[k];
      v->kind = VALUE_CONST;
    }
  /* Older files list every initializer among the inputs too. */
  for (size_t k = 0; k < g->n_input; k++)
    if (g->input[k]->name != NULL && g->input[k]->name[0] != '\0')
      {
        Value *v = add_value (im, g->input[k]->name, &fresh);
        v->is_input = v->is_input || fresh;
      }
  return register_outputs (im);
}

typedef struct
{
  size_t node, next;   /* a node on the walk and its next input to visit */
} Frame;

enum { NODE_UNSEEN, NODE_ON_PATH, NODE_DONE };

/* Steps the walk into the producer of @name, if it must be visited. */
static GfStatus
visit_input (Import *im, const Onnx__NodeProto *node, const char *name,
             uint8_t *state, Frame *stack, size_t *depth)
{
  Value *v = find_value (im, name);

  if (v == NULL)
    return node_fail (im, node, GF_ERR_FORMAT, "it reads '%.*s', which no "
                      "node, initializer or graph input provides",
                      MESSAGE_PART, name);
  if (v->producer < 0 || state[v->producer] == NODE_DONE)
    return GF_OK;
  if (state[v->producer] == NODE_ON_PATH)
    return node_fail (im, node, GF_ERR_FORMAT, "it is part of a cycle "
                      "through '%.*s'", MESSAGE_PART, name);
  state[v->producer] = NODE_ON_PATH;
  stack[(*depth)++] = (Frame) { (size_t) v->producer, 0 };
  return GF_OK;
}

/* A depth-first walk back from the output: the nodes it finishes, in the
 * order it finishes them, are the live nodes in an execution order.  A
 * node met again while still on the path closes a cycle. */
static GfStatus
sort_nodes (Import *im)
{
  size_t n = im->g->n_node, depth = 0;
  uint8_t *state = calloc (n + 1, 1);
  Frame *stack = malloc ((n + 1) * sizeof *stack);
  Value *out = &im->values[im->output];
  GfStatus status = GF_OK;

  im->order = malloc ((n + 1) * sizeof *im->order);
  im->skip = calloc (n + 1, sizeof *im->skip);
  if (state == NULL || stack == NULL || im->order == NULL || im->skip == NULL)
    status = fail (im, GF_ERR_NOMEM, "out of memory sorting nodes");
  else if (out->producer < 0)
    status = fail (im, GF_ERR_FORMAT, "the output '%.*s' is not computed by "
                   "any node", MESSAGE_PART, out->name);
  else
    {
      state[out->producer] = NODE_ON_PATH;
      stack[depth++] = (Frame) { (size_t) out->producer, 0 };
    }
  while (status == GF_OK && depth > 0)
    {
      Frame *top = &stack[depth - 1];
      const Onnx__NodeProto *node = im->g->node[top->node];
      if (top->next < node->n_input)
        {
          const char *name = node->input[top->next++];
          if (name[0] != '\0')
            status = visit_input (im, node, name, state, stack, &depth);
          continue;
        }
      state[top->node] = NODE_DONE;
      im->order[im->n_order++] = top->node;
      depth--;
    }
  free (state);
  free (stack);
  return status;
}

static void
count_consumers (Import *im)
{
  for (size_t k = 0; k < im->n_order; k++)
    {
      const Onnx__NodeProto *node = im->g->node[im->order[k]];
      for (size_t j = 0; j < node->n_input; j++)
        {
          Value *v = node->input[j][0] ? find_value (im, node->input[j])
            : NULL;
          if (v != NULL)
            {
              v->consumers++;
              v->consumer = (int) im->order[k];
            }
        }
    }
  im->values[im->output].consumers++;
}

static GfStatus
find_output (Import *im)
{
  const Onnx__GraphProto *g = im->g;
  Value *v;

  if (g->n_output == 0 || g->output[0]->name == NULL
      || (v = find_value (im, g->output[0]->name)) == NULL)
    return fail (im, GF_ERR_FORMAT, "the graph has no usable output");
  im->output = value_index (im, v);
  return GF_OK;
}

/* ---- The image input ----------------------------------------------------- */

/* The input's dims from its type: −1 where free (a dim_param or unset). */
static GfStatus
read_input_dims (Import *im, const Onnx__ValueInfoProto *info,
                 int64_t *dims, size_t *rank)
{
  const Onnx__TypeProto *type = info->type;
  const Onnx__TensorShapeProto *shape;

  if (type == NULL || type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
      || type->tensor_type == NULL
      || type->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
      || (shape = type->tensor_type->shape) == NULL)
    return fail (im, GF_ERR_UNSUPPORTED, "input '%.*s' is not a float32 "
                 "tensor of known rank", MESSAGE_PART, info->name);
  if (shape->n_dim < 2 || shape->n_dim > GF_MAX_DIMS)
    return fail (im, GF_ERR_UNSUPPORTED, "input '%.*s' has %zu dimensions; "
                 "Graft feeds (N, C, H, W) images", MESSAGE_PART, info->name,
                 shape->n_dim);
  *rank = shape->n_dim;
  for (size_t k = 0; k < *rank; k++)
    {
      const Onnx__TensorShapeProto__Dimension *d = shape->dim[k];
      bool fixed = d->value_case
        == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dims[k] = fixed ? d->dim_value : -1;
      if (fixed && d->dim_value < 1)
        return fail (im, GF_ERR_FORMAT, "input '%.*s' has dimension %zu of "
                     "size %lld", MESSAGE_PART, info->name, k,
                     (long long) d->dim_value);
    }
  im->file_batch = dims[0] > 0 ? dims[0] : 1;
  return GF_OK;
}

/* Whether every reader of the input is a Transpose NHWC → NCHW, which
 * the model then absorbs. */
static bool
input_is_nhwc (Import *im, size_t rank)
{
  static const int64_t to_nchw[4] = { 0, 3, 1, 2 };
  const Value *v = &im->values[im->input];
  size_t readers = 0;

  if (rank != 4)
    return false;
  for (size_t k = 0; k < im->n_order; k++)
    {
      const Onnx__NodeProto *node = im->g->node[im->order[k]];
      const Onnx__AttributeProto *perm = find_attr (node, "perm");
      for (size_t j = 0; j < node->n_input; j++)
        if (strcmp (node->input[j], v->name) == 0)
          {
            if (strcmp (node->op_type, "Transpose") != 0 || perm == NULL
                || perm->n_ints != 4
                || memcmp (perm->ints, to_nchw, sizeof to_nchw) != 0)
              return false;
            readers++;
          }
    }
  return readers == v->consumers;
}

/* The input's preprocessing: the torch preset at the input's size (or
 * DEFAULT_IMAGE_SIDE where free), then the file's graft.* keys over it. */
static GfStatus
read_preprocess (Import *im, GfModel *model, int64_t height, int64_t width,
                 size_t channels)
{
  GfMetadataEntry *keys = NULL;
  size_t n_keys = 0;
  GfStatus status;

  gf_preprocess_preset (&model->preprocess, GF_PRESET_IMAGENET_TORCH,
                        height > 0 ? (size_t) height : DEFAULT_IMAGE_SIDE,
                        width > 0 ? (size_t) width : DEFAULT_IMAGE_SIDE);
  model->preprocess.channels = channels;
  if ((status = gf_preprocess_from_metadata (&model->preprocess,
                                             model->metadata,
                                             model->n_metadata,
                                             &im->err)) != GF_OK)
    return status;
  /* The keys gf_preprocess_to_metadata writes are the preprocessing ones. */
  if ((status = gf_preprocess_to_metadata (&model->preprocess, &keys, &n_keys,
                                           &im->err)) != GF_OK)
    return status;
  for (size_t k = 0; k < n_keys; k++)
    if (gf_metadata_lookup (model->metadata, model->n_metadata,
                            keys[k].key) != NULL)
      model->preprocess_from_file = true;
  gf_metadata_free (keys, n_keys);
  if ((height > 0 && model->preprocess.height != (size_t) height)
      || (width > 0 && model->preprocess.width != (size_t) width))
    return fail (im, GF_ERR_FORMAT, "graft.input_size says %zu×%zu but the "
                 "input is %lld×%lld", model->preprocess.height,
                 model->preprocess.width, (long long) height,
                 (long long) width);
  return GF_OK;
}

/* Gives the Transposes that read an NHWC input the input itself, now
 * (N, C, H, W). */
static void
absorb_transposes (Import *im, const Shape *shape)
{
  const char *name = im->values[im->input].name;
  int tensor = im->values[im->input].tensor;

  for (size_t k = 0; k < im->n_order; k++)
    {
      const Onnx__NodeProto *node = im->g->node[im->order[k]];
      if (node->n_input > 0 && strcmp (node->input[0], name) == 0
          && node->n_output > 0 && node->output[0][0] != '\0')
        {
          set_data (find_value (im, node->output[0]), tensor, shape);
          im->skip[im->order[k]] = true;
        }
    }
}

static GfStatus
find_input (Import *im, const Onnx__ValueInfoProto **info)
{
  im->input = -1;
  for (size_t k = 0; k < im->g->n_input; k++)
    {
      const char *name = im->g->input[k]->name;
      Value *v = name && name[0] ? find_value (im, name) : NULL;
      if (v == NULL || !v->is_input)
        continue;
      if (im->input < 0)
        {
          im->input = value_index (im, v);
          *info = im->g->input[k];
        }
      else if (v->consumers > 0)
        return fail (im, GF_ERR_UNSUPPORTED, "the model reads a second "
                     "input, '%.*s'; Graft feeds one image", MESSAGE_PART,
                     name);
    }
  if (im->input < 0)
    return fail (im, GF_ERR_FORMAT, "the graph has no input");
  if (im->values[im->input].consumers == 0)
    return fail (im, GF_ERR_FORMAT, "the output does not depend on the "
                 "input '%.*s'", MESSAGE_PART, im->values[im->input].name);
  return GF_OK;
}

/* Checks the input's dims (NCHW order) and settles free height and width
 * from the preprocessing. */
static GfStatus
settle_input_dims (Import *im, GfModel *model, const char *name,
                   int64_t *d, size_t rank)
{
  bool image = rank == 4;
  size_t count = 1;
  GfStatus status;

  for (size_t k = 1; k < (image ? 2 : rank); k++)
    if (d[k] < 1)
      return fail (im, GF_ERR_UNSUPPORTED, "input '%.*s' has a free "
                   "dimension %zu", MESSAGE_PART, name, k);
  for (size_t k = 1; k < rank; k++)
    if ((image && k >= 2 && d[k] > MAX_EXTENT)
        || (d[k] > 0 && (gf_size_mul (count, (size_t) d[k], &count) != 0
                         || count > GF_ALLOC_LIMIT / sizeof (gf_real))))
      return fail (im, GF_ERR_FORMAT, "input '%.*s' has an absurd "
                   "dimension %zu of size %lld", MESSAGE_PART, name, k,
                   (long long) d[k]);
  if ((status = read_preprocess (im, model, image ? d[2] : 0,
                                 image ? d[3] : 0,
                                 image ? (size_t) d[1] : 3)) != GF_OK)
    return status;
  if (image)
    {
      d[2] = (int64_t) model->preprocess.height;
      d[3] = (int64_t) model->preprocess.width;
    }
  return GF_OK;
}

/* Adds the graph's input, (N, C, H, W) for an image, with free sizes
 * settled and an NHWC layout turned around. */
static GfStatus
setup_input (Import *im, GfModel *model)
{
  const Onnx__ValueInfoProto *info = NULL;
  int64_t d[GF_MAX_DIMS];
  size_t rank = 0;
  Shape shape;
  int tensor;
  GfStatus status;

  if ((status = find_input (im, &info)) != GF_OK
      || (status = read_input_dims (im, info, d, &rank)) != GF_OK)
    return status;
  model->input_was_nhwc = input_is_nhwc (im, rank);
  if (model->input_was_nhwc)
    {
      int64_t h = d[1], w = d[2];
      d[1] = d[3];
      d[2] = h;
      d[3] = w;
    }
  if ((status = settle_input_dims (im, model, info->name, d, rank)) != GF_OK)
    return status;
  shape.ndim = rank;
  shape.dims[0] = 1;
  for (size_t k = 1; k < rank; k++)
    shape.dims[k] = (size_t) d[k];
  tensor = gf_graph_add_input (im->graph, info->name, rank, shape.dims,
                               &im->err);
  if (tensor < 0)
    return im->err.status;
  set_data (&im->values[im->input], tensor, &shape);
  if (model->input_was_nhwc)
    absorb_transposes (im, &shape);
  return GF_OK;
}

/* ---- The model ----------------------------------------------------------- */

static GfStatus
copy_metadata (Import *im, GfModel *model)
{
  const Onnx__ModelProto *proto = im->proto;
  GfStatus status = gf_alloc_zeroed (proto->n_metadata_props,
                                     sizeof *model->metadata,
                                     (void **) &model->metadata, &im->err);

  for (size_t k = 0; status == GF_OK && k < proto->n_metadata_props; k++)
    {
      const Onnx__StringStringEntryProto *e = proto->metadata_props[k];
      GfMetadataEntry *m = &model->metadata[model->n_metadata++];
      m->key = copy_string (e->key ? e->key : "");
      m->value = copy_string (e->value ? e->value : "");
      if (m->key == NULL || m->value == NULL)
        status = fail (im, GF_ERR_NOMEM, "out of memory copying metadata");
    }
  return status;
}

/* Graph names exporters write whatever the model: no better than none. */
static bool
is_generic_graph_name (const char *name)
{
  static const char *const generic[] = {
    "", "torch-jit-export", "torch_jit", "main_graph", "tf2onnx",
  };

  for (size_t k = 0; k < sizeof generic / sizeof *generic; k++)
    if (strcmp (name, generic[k]) == 0)
      return true;
  return false;
}

/* name: graft.name, the graph's name, the file's name, "model";
 * producer: "name version"; source: graft.source, else the producer. */
static GfStatus
describe_model (Import *im, const char *file_name, GfModel *model)
{
  const Onnx__ModelProto *proto = im->proto;
  const char *name = gf_metadata_lookup (model->metadata, model->n_metadata,
                                         "graft.name");
  const char *source = gf_metadata_lookup (model->metadata,
                                           model->n_metadata, "graft.source");
  const char *producer = proto->producer_name ? proto->producer_name : "";
  const char *version = proto->producer_version ? proto->producer_version
    : "";
  char text[GF_ERROR_MESSAGE_MAX];

  if (name == NULL && im->g->name != NULL
      && !is_generic_graph_name (im->g->name))
    name = im->g->name;
  if (name == NULL)
    name = file_name ? file_name : "model";
  snprintf (text, sizeof text, "%s%s%s", producer,
            producer[0] && version[0] ? " " : "", version);
  model->name = copy_string (name);
  model->producer = copy_string (text);
  model->source = copy_string (source ? source : text);
  model->opset = im->opset;
  if (model->name == NULL || model->producer == NULL || model->source == NULL)
    return fail (im, GF_ERR_NOMEM, "out of memory");
  return GF_OK;
}

/* ---- Loading ------------------------------------------------------------- */

static GfStatus
finish_build (Import *im, GfModel *model)
{
  const Value *out = &im->values[im->output];

  if (out->kind != VALUE_DATA)
    return fail (im, GF_ERR_UNSUPPORTED, "the output '%.*s' is a constant: "
                 "there is nothing to run", MESSAGE_PART, out->name);
  model->input = im->values[im->input].tensor;
  model->output = out->tensor;
  return gf_graph_mark_output (im->graph, out->tensor, &im->err);
}

/* Everything that needs the unpacked file: the model's description and
 * the graph's tensors and nodes (not yet compiled). */
static GfStatus
build (Import *im, const char *file_name, GfModel *model)
{
  GfStatus status;

  if (im->g == NULL)
    return fail (im, GF_ERR_FORMAT, "the file holds no graph");
  if ((status = read_opset (im)) != GF_OK
      || (status = copy_metadata (im, model)) != GF_OK
      || (status = describe_model (im, file_name, model)) != GF_OK
      || (status = register_values (im)) != GF_OK
      || (status = find_output (im)) != GF_OK
      || (status = sort_nodes (im)) != GF_OK)
    return status;
  count_consumers (im);
  if ((status = setup_input (im, model)) != GF_OK)
    return status;
  for (size_t k = 0; k < im->n_order; k++)
    if (!im->skip[im->order[k]]
        && (status = import_node (im, im->g->node[im->order[k]])) != GF_OK)
      return status;
  return finish_build (im, model);
}

/* Compares every shape the import inferred with the graph's own, which
 * folded Reshapes and Shapes relied on. */
static GfStatus
check_shapes (Import *im)
{
  size_t dims[GF_MAX_DIMS];

  for (size_t k = 0; k < im->n_values; k++)
    {
      const Value *v = &im->values[k];
      size_t ndim;
      if (v->kind != VALUE_DATA)
        continue;
      ndim = gf_graph_tensor_shape (im->graph, v->tensor, dims);
      if (ndim != v->shape.ndim
          || (ndim > 1 && memcmp (dims + 1, v->shape.dims + 1,
                                  (ndim - 1) * sizeof *dims) != 0))
        return fail (im, GF_ERR_SHAPE, "internal error: the import and the "
                     "graph disagree on the shape of '%.*s'", MESSAGE_PART,
                     gf_graph_tensor_name (im->graph, v->tensor));
    }
  return GF_OK;
}

static void
release_constants (Import *im)
{
  for (size_t k = 0; k < im->n_values; k++)
    const_clear (&im->values[k].c);
}

static void
import_clear (Import *im)
{
  if (im->values != NULL)
    release_constants (im);
  free (im->values);
  free (im->map.slots);
  free (im->order);
  free (im->skip);
}

/* Takes @proto: builds the graph from it, frees it (the graph holds the
 * weights by then, so peak memory stays near twice the weights), then
 * compiles. */
/* The budget for every constant the import makes (FOLD_WEIGHT_COPIES):
 * from the initializers' declared sizes, saturating. */
static size_t
fold_budget (const Onnx__GraphProto *g)
{
  size_t weights = 0, budget;

  for (size_t k = 0; g != NULL && k < g->n_initializer; k++)
    {
      size_t count = 1;
      for (size_t d = 0; d < g->initializer[k]->n_dims; d++)
        {
          int64_t dim = g->initializer[k]->dims[d];
          if (dim < 0 || gf_size_mul (count, (size_t) dim, &count) != 0)
            count = SIZE_MAX;
          if (count == SIZE_MAX)
            break;
        }
      weights = count > SIZE_MAX - weights ? SIZE_MAX : weights + count;
    }
  if (gf_size_mul (weights, FOLD_WEIGHT_COPIES, &budget) != 0
      || budget > SIZE_MAX - FOLD_MAX_COUNT)
    return SIZE_MAX;
  return budget + FOLD_MAX_COUNT;
}

static GfStatus
load_proto (Onnx__ModelProto *proto, const char *base_dir,
            const char *file_name, const GfOnnxLoadOptions *options,
            GfModel **model, GfError *error)
{
  Import im = { .proto = proto, .g = proto->graph, .base_dir = base_dir,
                .fold_batchnorm = options && options->fold_batchnorm,
                .input = -1, .output = -1,
                .fold_budget = fold_budget (proto->graph) };
  GfModel *m = calloc (1, sizeof *m);
  GfStatus status;

  im.graph = gf_graph_new ();
  if (m != NULL)
    m->graph = im.graph;
  if (m == NULL || im.graph == NULL)
    status = fail (&im, GF_ERR_NOMEM, "out of memory");
  else
    status = build (&im, file_name, m);
  release_constants (&im);
  onnx__model_proto__free_unpacked (proto, NULL);
  if (status == GF_OK)
    status = gf_graph_compile (im.graph, &im.err);
  if (status == GF_OK)
    status = check_shapes (&im);
  import_clear (&im);
  if (status != GF_OK)
    {
      if (m == NULL)
        gf_graph_free (im.graph);
      gf_model_free (m);
      return gf_error_set (error, status, "%s", im.err.message);
    }
  *model = m;
  return GF_OK;
}

GfStatus
gf_onnx_load_from_memory (const void *data, size_t size,
                          const char *base_dir,
                          const GfOnnxLoadOptions *options,
                          GfModel **model, GfError *error)
{
  GfError err = { 0 };
  Onnx__ModelProto *proto;
  GfStatus status = unpack_model (&err, data, size, &proto);

  *model = NULL;
  if (status != GF_OK)
    return gf_error_set (error, status, "%s", err.message);
  return load_proto (proto, base_dir, NULL, options, model, error);
}

/* The folder of @path ("." for a bare name), newly allocated. */
static char *
path_dir (const char *path)
{
  const char *slash = strrchr (path, '/');
  size_t length = slash == NULL ? 1 : slash == path ? 1
    : (size_t) (slash - path);
  char *dir = malloc (length + 1);

  if (dir != NULL)
    {
      memcpy (dir, slash == NULL ? "." : path, length);
      dir[length] = '\0';
    }
  return dir;
}

/* The file name of @path without ".onnx", newly allocated. */
static char *
path_stem (const char *path)
{
  const char *slash = strrchr (path, '/'), *base = slash ? slash + 1 : path;
  size_t length = strlen (base);
  char *stem;

  if (length > 5 && strcmp (base + length - 5, ".onnx") == 0)
    length -= 5;
  stem = malloc (length + 1);
  if (stem != NULL)
    {
      memcpy (stem, base, length);
      stem[length] = '\0';
    }
  return stem;
}

GfStatus
gf_onnx_load (const char *path, const GfOnnxLoadOptions *options,
              GfModel **model, GfError *error)
{
  GfError err = { 0 };
  uint8_t *data = NULL;
  size_t size = 0;
  Onnx__ModelProto *proto = NULL;
  char *dir, *stem;
  GfStatus status = read_file (&err, path, GF_ONNX_MAX_FILE_SIZE, &data,
                               &size);

  *model = NULL;
  if (status == GF_OK)
    {
      /* protobuf-c copies what it keeps: the bytes can go at once. */
      status = unpack_model (&err, data, size, &proto);
      free (data);
    }
  if (status != GF_OK)
    return gf_error_set (error, status, "%s", err.message);
  dir = path_dir (path);
  stem = path_stem (path);
  if (dir == NULL || stem == NULL)
    {
      onnx__model_proto__free_unpacked (proto, NULL);
      status = gf_error_set (error, GF_ERR_NOMEM, "out of memory");
    }
  else
    status = load_proto (proto, dir, stem, options, model, error);
  free (dir);
  free (stem);
  return status;
}
