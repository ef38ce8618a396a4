/* graft-safetensors.c: writing and reading safetensors files. */
#define G_LOG_DOMAIN "graft-safetensors"

#include "graft-safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "graft-json.h"

/* Both directions copy tensor bytes as they lie in memory: the format is
 * little-endian, and so are the machines Graft builds for. */
G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);
G_STATIC_ASSERT (sizeof (float) == 4);

#define LENGTH_BYTES 8                    /* the header length's own size */
#define HEADER_ALIGN 8                    /* data starts on a multiple */
#define DATA_ALIGN 8                      /* the largest element size */
#define MAX_HEADER_BYTES ((guint64) 100 * 1000 * 1000)
#define METADATA_KEY "__metadata__"

G_DEFINE_QUARK (graft-safetensors-error-quark, graft_safetensors_error)

/* By element size, largest first: the writer lays tensors out in this
 * order so that every tensor starts aligned to its own element size. */
static const struct
{
  GraftDtype dtype;
  const char *name;
  gsize size;
} dtypes[] = {
  { GRAFT_DTYPE_I64, "I64", 8 },
  { GRAFT_DTYPE_F32, "F32", 4 },
};

typedef struct
{
  GraftTensorView view;
  char *name;
  guint64 begin, end;     /* data_offsets, relative to the data section */
  gsize n_bytes;          /* what the shape and dtype need */
} Entry;

struct _GraftSafetensors
{
  GBytes *data;           /* the data section, aligned to DATA_ALIGN */
  GPtrArray *entries;     /* Entry *, by begin offset */
  GHashTable *by_name;    /* name → Entry *, borrowed */
  GHashTable *metadata;   /* char * → char * */
};

static gboolean fail (GError **error, GraftSafetensorsError code,
                      const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, GraftSafetensorsError code, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (GRAFT_SAFETENSORS_ERROR,
                                                (int) code, format, args));
  va_end (args);
  return FALSE;
}

gsize
graft_dtype_size (GraftDtype dtype)
{
  for (gsize i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (dtypes[i].dtype == dtype)
      return dtypes[i].size;
  return 0;
}

static const char *
dtype_name (GraftDtype dtype)
{
  for (gsize i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (dtypes[i].dtype == dtype)
      return dtypes[i].name;
  return NULL;
}

gsize
graft_tensor_view_n_elements (const GraftTensorView *view)
{
  gsize n = 1;

  for (guint d = 0; d < view->n_dims; d++)
    n *= view->shape[d];
  return n;
}

/* FALSE when the byte count of @view overflows or its dtype is unknown. */
static gboolean
checked_n_bytes (const GraftTensorView *view, gsize *n_bytes)
{
  gsize n = graft_dtype_size (view->dtype);

  if (n == 0 || view->n_dims > GRAFT_TENSOR_MAX_DIMS)
    return FALSE;
  for (guint d = 0; d < view->n_dims; d++)
    if (!g_size_checked_mul (&n, n, view->shape[d]))
      return FALSE;
  *n_bytes = n;
  return TRUE;
}

/* ---- Writing ---- */

static gboolean
check_tensors (const GraftTensorView *tensors, gsize n_tensors,
               GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GraftSafetensorsError invalid = GRAFT_SAFETENSORS_ERROR_INVALID;

  for (gsize i = 0; i < n_tensors; i++)
    {
      const GraftTensorView *t = &tensors[i];
      gsize n_bytes;

      if (t->name == NULL || t->name[0] == '\0'
          || strcmp (t->name, METADATA_KEY) == 0
          || !g_utf8_validate (t->name, -1, NULL))
        return fail (error, invalid, "tensor %zu has no usable name", i);
      if (!g_hash_table_add (seen, (gpointer) t->name))
        return fail (error, invalid, "two tensors are named '%s'", t->name);
      if (!checked_n_bytes (t, &n_bytes))
        return fail (error, invalid, "tensor '%s' has an unknown dtype or an "
                     "absurd shape", t->name);
      if (n_bytes > 0 && t->data == NULL)
        return fail (error, invalid, "tensor '%s' has no data", t->name);
    }
  return TRUE;
}

static gboolean
check_metadata (GHashTable *metadata, GError **error)
{
  GHashTableIter iter;
  gpointer key, value;

  if (metadata == NULL)
    return TRUE;
  g_hash_table_iter_init (&iter, metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (key == NULL || value == NULL || !g_utf8_validate (key, -1, NULL)
        || !g_utf8_validate (value, -1, NULL))
      return fail (error, GRAFT_SAFETENSORS_ERROR_INVALID,
                   "metadata keys and values must be UTF-8 strings");
  return TRUE;
}

/* Indices of @tensors in the order their data is written. */
static gsize *
aligned_order (const GraftTensorView *tensors, gsize n_tensors)
{
  gsize *order = g_new (gsize, MAX (n_tensors, 1));
  gsize k = 0;

  for (gsize d = 0; d < G_N_ELEMENTS (dtypes); d++)
    for (gsize i = 0; i < n_tensors; i++)
      if (tensors[i].dtype == dtypes[d].dtype)
        order[k++] = i;
  g_assert (k == n_tensors);
  return order;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (a, b);
}

/* Keys sorted, so that the same metadata gives the same bytes. */
static void
add_metadata (JsonBuilder *b, GHashTable *metadata)
{
  GList *keys = g_list_sort (g_hash_table_get_keys (metadata),
                             compare_strings);

  json_builder_set_member_name (b, METADATA_KEY);
  json_builder_begin_object (b);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      json_builder_set_member_name (b, l->data);
      json_builder_add_string_value (b, g_hash_table_lookup (metadata,
                                                             l->data));
    }
  json_builder_end_object (b);
  g_list_free (keys);
}

static void
add_tensor (JsonBuilder *b, const GraftTensorView *t, guint64 *offset)
{
  gsize n_bytes = 0;

  checked_n_bytes (t, &n_bytes);
  json_builder_set_member_name (b, t->name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dtype");
  json_builder_add_string_value (b, dtype_name (t->dtype));
  json_builder_set_member_name (b, "shape");
  json_builder_begin_array (b);
  for (guint d = 0; d < t->n_dims; d++)
    json_builder_add_int_value (b, (gint64) t->shape[d]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "data_offsets");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, (gint64) *offset);
  json_builder_add_int_value (b, (gint64) (*offset + n_bytes));
  json_builder_end_array (b);
  json_builder_end_object (b);
  *offset += n_bytes;
}

/* The header text, padded with spaces so that the data after it starts
 * on a multiple of HEADER_ALIGN bytes. */
static GString *
build_header (const GraftTensorView *tensors, const gsize *order,
              gsize n_tensors, GHashTable *metadata)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;
  guint64 offset = 0;
  GString *header;

  json_builder_begin_object (b);
  if (metadata != NULL && g_hash_table_size (metadata) > 0)
    add_metadata (b, metadata);
  for (gsize k = 0; k < n_tensors; k++)
    add_tensor (b, &tensors[order[k]], &offset);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  header = g_string_new (NULL);
  text = graft_json_to_text (root, FALSE);
  g_string_append (header, text);
  while ((LENGTH_BYTES + header->len) % HEADER_ALIGN != 0)
    g_string_append_c (header, ' ');
  return header;
}

static gboolean
write_all (FILE *file, gconstpointer data, gsize size)
{
  return size == 0 || fwrite (data, 1, size, file) == size;
}

/* Streams the file: each tensor straight from the caller's buffer. */
static gboolean
write_stream (FILE *file, const GString *header,
              const GraftTensorView *tensors, const gsize *order,
              gsize n_tensors)
{
  guint64 length = GUINT64_TO_LE ((guint64) header->len);

  if (!write_all (file, &length, LENGTH_BYTES)
      || !write_all (file, header->str, header->len))
    return FALSE;
  for (gsize k = 0; k < n_tensors; k++)
    {
      const GraftTensorView *t = &tensors[order[k]];
      gsize n_bytes = 0;

      checked_n_bytes (t, &n_bytes);
      if (!write_all (file, t->data, n_bytes))
        return FALSE;
    }
  return fflush (file) == 0 && g_fsync (fileno (file)) == 0;
}

/* errno after a failed call, never 0. */
static int
last_errno (void)
{
  return errno != 0 ? errno : EIO;
}

/* Writes, closes and renames @file; 0 or the errno of what failed. */
static int
finish_file (FILE *file, const char *tmp, const char *path,
             const GString *header, const GraftTensorView *tensors,
             const gsize *order, gsize n_tensors)
{
  int saved;

  errno = 0;
  if (!write_stream (file, header, tensors, order, n_tensors))
    {
      saved = last_errno ();
      fclose (file);
      return saved;
    }
  if (fclose (file) != 0 || g_rename (tmp, path) != 0)
    return last_errno ();
  return 0;
}

/* Writes to a temporary file beside @path and renames it over @path: a
 * reader sees the old file or the new one, never half of one. */
static gboolean
write_atomically (const char *path, const GString *header,
                  const GraftTensorView *tensors, const gsize *order,
                  gsize n_tensors, GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".XXXXXX", NULL);
  int fd, saved;
  FILE *file;

  errno = 0;
  fd = g_mkstemp_full (tmp, O_WRONLY, 0666);
  if (fd < 0)
    saved = last_errno ();
  else if ((file = fdopen (fd, "wb")) == NULL)
    {
      saved = last_errno ();
      g_close (fd, NULL);
    }
  else
    saved = finish_file (file, tmp, path, header, tensors, order, n_tensors);
  if (saved == 0)
    return TRUE;
  if (fd >= 0)
    g_unlink (tmp);
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
               "could not write %s: %s", path, g_strerror (saved));
  return FALSE;
}

gboolean
graft_safetensors_write (const char *path, const GraftTensorView *tensors,
                         gsize n_tensors, GHashTable *metadata,
                         GError **error)
{
  g_autofree gsize *order = NULL;
  g_autoptr (GString) header = NULL;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (tensors != NULL || n_tensors == 0, FALSE);

  if (!check_tensors (tensors, n_tensors, error)
      || !check_metadata (metadata, error))
    return FALSE;
  order = aligned_order (tensors, n_tensors);
  header = build_header (tensors, order, n_tensors, metadata);
  return write_atomically (path, header, tensors, order, n_tensors, error);
}

/* ---- Reading ---- */

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  g_free (entry->name);
  g_free (entry);
}

void
graft_safetensors_free (GraftSafetensors *st)
{
  if (st == NULL)
    return;
  g_clear_pointer (&st->data, g_bytes_unref);
  g_hash_table_unref (st->by_name);
  g_ptr_array_unref (st->entries);
  g_hash_table_unref (st->metadata);
  g_free (st);
}

static GraftSafetensors *
safetensors_new (void)
{
  GraftSafetensors *st = g_new0 (GraftSafetensors, 1);

  st->entries = g_ptr_array_new_with_free_func (entry_free);
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal,
                                        g_free, g_free);
  return st;
}

static gboolean
get_count (JsonNode *node, guint64 *count)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) < 0)
    return FALSE;
  *count = (guint64) json_node_get_int (node);
  return TRUE;
}

/* Members of the right type, or NULL: json-glib's own getters warn
 * about a wrong type, and a file's header is not to be trusted. */
static const char *
get_string (JsonObject *object, const char *key)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonArray *
get_array (JsonObject *object, const char *key)
{
  JsonNode *node = json_object_get_member (object, key);

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node)
    ? json_node_get_array (node) : NULL;
}

static gboolean
read_dtype (Entry *entry, JsonObject *object, GError **error)
{
  const char *name = get_string (object, "dtype");

  if (name == NULL)
    return fail (error, GRAFT_SAFETENSORS_ERROR_HEADER,
                 "tensor '%s' has no dtype string", entry->name);
  for (gsize i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (strcmp (name, dtypes[i].name) == 0)
      {
        entry->view.dtype = dtypes[i].dtype;
        return TRUE;
      }
  return fail (error, GRAFT_SAFETENSORS_ERROR_DTYPE,
               "tensor '%s' has dtype '%s'; Graft reads F32 and I64",
               entry->name, name);
}

static gboolean
read_shape (Entry *entry, JsonObject *object, GError **error)
{
  JsonArray *shape = get_array (object, "shape");
  guint n_dims = shape != NULL ? json_array_get_length (shape) : 0;

  if (shape == NULL)
    return fail (error, GRAFT_SAFETENSORS_ERROR_HEADER,
                 "tensor '%s' has no shape array", entry->name);
  if (n_dims > GRAFT_TENSOR_MAX_DIMS)
    return fail (error, GRAFT_SAFETENSORS_ERROR_SHAPE,
                 "tensor '%s' has %u dimensions, at most %d are allowed",
                 entry->name, n_dims, GRAFT_TENSOR_MAX_DIMS);
  entry->view.n_dims = n_dims;
  for (guint d = 0; d < n_dims; d++)
    {
      guint64 dim;

      if (!get_count (json_array_get_element (shape, d), &dim)
          || dim > G_MAXSIZE)
        return fail (error, GRAFT_SAFETENSORS_ERROR_SHAPE,
                     "tensor '%s' has a shape that is not a list of "
                     "non-negative integers", entry->name);
      entry->view.shape[d] = (gsize) dim;
    }
  if (!checked_n_bytes (&entry->view, &entry->n_bytes))
    return fail (error, GRAFT_SAFETENSORS_ERROR_SHAPE,
                 "tensor '%s' has a shape too large to address",
                 entry->name);
  return TRUE;
}

static gboolean
read_offsets (Entry *entry, JsonObject *object, GError **error)
{
  JsonArray *offsets = get_array (object, "data_offsets");

  if (offsets == NULL || json_array_get_length (offsets) != 2
      || !get_count (json_array_get_element (offsets, 0), &entry->begin)
      || !get_count (json_array_get_element (offsets, 1), &entry->end))
    return fail (error, GRAFT_SAFETENSORS_ERROR_HEADER,
                 "tensor '%s' has no data_offsets [begin, end]", entry->name);
  if (entry->begin > entry->end)
    return fail (error, GRAFT_SAFETENSORS_ERROR_OFFSETS,
                 "tensor '%s' ends (%" G_GUINT64_FORMAT ") before it begins "
                 "(%" G_GUINT64_FORMAT ")", entry->name, entry->end,
                 entry->begin);
  return TRUE;
}

static gboolean
read_entry (GraftSafetensors *st, const char *name, JsonNode *node,
            GError **error)
{
  Entry *entry;
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, GRAFT_SAFETENSORS_ERROR_HEADER,
                 "tensor '%s' is not described by a JSON object", name);
  object = json_node_get_object (node);
  entry = g_new0 (Entry, 1);
  entry->name = g_strdup (name);
  entry->view.name = entry->name;
  g_ptr_array_add (st->entries, entry);
  return read_dtype (entry, object, error)
    && read_shape (entry, object, error)
    && read_offsets (entry, object, error);
}

/* "__metadata__": an object of strings; null counts as absent. */
static gboolean
read_metadata (GraftSafetensors *st, JsonNode *node, GError **error)
{
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;

  if (JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, GRAFT_SAFETENSORS_ERROR_HEADER,
                 METADATA_KEY " is not a JSON object");
  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &key, &value))
    {
      if (!JSON_NODE_HOLDS_VALUE (value)
          || json_node_get_value_type (value) != G_TYPE_STRING)
        return fail (error, GRAFT_SAFETENSORS_ERROR_HEADER,
                     METADATA_KEY " value of '%s' is not a string", key);
      g_hash_table_insert (st->metadata, g_strdup (key),
                           g_strdup (json_node_get_string (value)));
    }
  return TRUE;
}

static gboolean
read_entries (GraftSafetensors *st, JsonNode *root, GError **error)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  json_object_iter_init (&iter, json_node_get_object (root));
  while (json_object_iter_next (&iter, &name, &node))
    {
      gboolean ok = strcmp (name, METADATA_KEY) == 0
        ? read_metadata (st, node, error)
        : read_entry (st, name, node, error);

      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static int
compare_entries (gconstpointer a, gconstpointer b)
{
  const Entry *x = *(Entry *const *) a, *y = *(Entry *const *) b;

  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

/* Checks one tensor's place in the data, which starts at @expected. */
static gboolean
place_entry (Entry *entry, const Entry *previous, guint64 expected,
             gsize data_size, GError **error)
{
  GraftSafetensorsError code = GRAFT_SAFETENSORS_ERROR_OFFSETS;

  if (entry->end > data_size)
    return fail (error, code, "tensor '%s' ends at byte %" G_GUINT64_FORMAT
                 " of a data section of %zu bytes", entry->name, entry->end,
                 data_size);
  if (entry->begin < expected)
    return fail (error, code, "tensor '%s' overlaps tensor '%s'",
                 entry->name, previous->name);
  if (entry->begin > expected)
    return fail (error, code, "%" G_GUINT64_FORMAT " unused bytes before "
                 "tensor '%s'", entry->begin - expected, entry->name);
  if (entry->end - entry->begin != entry->n_bytes)
    return fail (error, code, "tensor '%s' has %" G_GUINT64_FORMAT " bytes; "
                 "its shape and dtype need %zu", entry->name,
                 entry->end - entry->begin, entry->n_bytes);
  if (entry->begin % graft_dtype_size (entry->view.dtype) != 0)
    return fail (error, code, "tensor '%s' is not aligned to its elements",
                 entry->name);
  return TRUE;
}

/* The tensors must tile the data section exactly, in offset order. */
static gboolean
place_entries (GraftSafetensors *st, GError **error)
{
  gsize data_size;
  const guint8 *data = g_bytes_get_data (st->data, &data_size);
  const Entry *previous = NULL;
  guint64 expected = 0;

  g_ptr_array_sort (st->entries, compare_entries);
  for (guint i = 0; i < st->entries->len; i++)
    {
      Entry *entry = st->entries->pdata[i];

      if (!place_entry (entry, previous, expected, data_size, error))
        return FALSE;
      entry->view.data = entry->n_bytes > 0 ? data + entry->begin : NULL;
      g_hash_table_insert (st->by_name, entry->name, entry);
      expected = entry->end;
      previous = entry;
    }
  if (expected != data_size)
    return fail (error, GRAFT_SAFETENSORS_ERROR_OFFSETS,
                 "%" G_GUINT64_FORMAT " unused bytes after the last tensor",
                 data_size - expected);
  return TRUE;
}

static JsonNode *
parse_header (const char *text, gsize length, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  JsonNode *root;

  /* Depth first: json-glib's parser recurses once per level. */
  if (!graft_json_check_text (text, length, &local)
      || !json_parser_load_from_data (parser, text, (gssize) length, &local))
    {
      fail (error, GRAFT_SAFETENSORS_ERROR_HEADER,
            "header is not valid JSON: %s", local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      fail (error, GRAFT_SAFETENSORS_ERROR_HEADER,
            "header is not a JSON object");
      return NULL;
    }
  return json_node_ref (root);
}

/* The data section, such that pointers into it are aligned for every
 * dtype.  A mapped file starts on a page, so only a header that is not
 * padded (some older writers) costs a copy. */
static GBytes *
data_section (GBytes *bytes, gsize start)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  if ((guintptr) (data + start) % DATA_ALIGN == 0)
    return g_bytes_new_from_bytes (bytes, start, size - start);
  return g_bytes_new (data + start, size - start);
}

/* The header's length, checked against the size of the file. */
static gboolean
read_length (GBytes *bytes, guint64 *length, GError **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  if (size < LENGTH_BYTES)
    return fail (error, GRAFT_SAFETENSORS_ERROR_TRUNCATED,
                 "%zu bytes are too few for a safetensors file", size);
  memcpy (length, data, LENGTH_BYTES);
  *length = GUINT64_FROM_LE (*length);
  if (*length > size - LENGTH_BYTES)
    return fail (error, GRAFT_SAFETENSORS_ERROR_TRUNCATED,
                 "header length %" G_GUINT64_FORMAT " runs past the end of "
                 "the file (%zu bytes)", *length, size);
  if (*length > MAX_HEADER_BYTES)
    return fail (error, GRAFT_SAFETENSORS_ERROR_HEADER,
                 "header length %" G_GUINT64_FORMAT " is over the limit of %"
                 G_GUINT64_FORMAT " bytes", *length, MAX_HEADER_BYTES);
  return TRUE;
}

GraftSafetensors *
graft_safetensors_new_from_bytes (GBytes *bytes, GError **error)
{
  g_autoptr (GraftSafetensors) st = safetensors_new ();
  g_autoptr (JsonNode) root = NULL;
  guint64 length = 0;

  g_return_val_if_fail (bytes != NULL, NULL);

  if (!read_length (bytes, &length, error))
    return NULL;
  root = parse_header ((const char *) g_bytes_get_data (bytes, NULL)
                       + LENGTH_BYTES, (gsize) length, error);
  if (root == NULL || !read_entries (st, root, error))
    return NULL;
  st->data = data_section (bytes, LENGTH_BYTES + (gsize) length);
  if (!place_entries (st, error))
    return NULL;
  return g_steal_pointer (&st);
}

GraftSafetensors *
graft_safetensors_load (const char *path, GError **error)
{
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GBytes) bytes = NULL;
  GraftSafetensors *st;

  g_return_val_if_fail (path != NULL, NULL);

  mapped = g_mapped_file_new (path, FALSE, error);
  if (mapped == NULL)
    return NULL;
  bytes = g_mapped_file_get_bytes (mapped);
  st = graft_safetensors_new_from_bytes (bytes, error);
  if (st == NULL)
    g_prefix_error (error, "%s: ", path);
  return st;
}

guint
graft_safetensors_get_n_tensors (GraftSafetensors *st)
{
  return st->entries->len;
}

const GraftTensorView *
graft_safetensors_get_tensor (GraftSafetensors *st, guint index)
{
  g_return_val_if_fail (index < st->entries->len, NULL);

  return &((Entry *) st->entries->pdata[index])->view;
}

const GraftTensorView *
graft_safetensors_lookup (GraftSafetensors *st, const char *name)
{
  Entry *entry = g_hash_table_lookup (st->by_name, name);

  return entry != NULL ? &entry->view : NULL;
}

const float *
graft_safetensors_get_f32 (GraftSafetensors *st, const char *name,
                           gsize n_elements, GError **error)
{
  const GraftTensorView *view = graft_safetensors_lookup (st, name);

  g_return_val_if_fail (n_elements > 0, NULL);

  if (view == NULL)
    fail (error, GRAFT_SAFETENSORS_ERROR_NOT_FOUND,
          "no tensor named '%s'", name);
  else if (view->dtype != GRAFT_DTYPE_F32)
    fail (error, GRAFT_SAFETENSORS_ERROR_DTYPE,
          "tensor '%s' is %s, not F32", name, dtype_name (view->dtype));
  else if (graft_tensor_view_n_elements (view) != n_elements)
    fail (error, GRAFT_SAFETENSORS_ERROR_SHAPE,
          "tensor '%s' has %zu elements, not %zu", name,
          graft_tensor_view_n_elements (view), n_elements);
  else
    return view->data;
  return NULL;
}

static char *
shape_text (guint n_dims, const gsize *shape)
{
  GString *text = g_string_new ("[");

  for (guint d = 0; d < n_dims; d++)
    g_string_append_printf (text, d > 0 ? ", %" G_GSIZE_FORMAT
                            : "%" G_GSIZE_FORMAT, shape[d]);
  g_string_append_c (text, ']');
  return g_string_free (text, FALSE);
}

const float *
graft_safetensors_get_f32_shaped (GraftSafetensors *st, const char *name,
                                  guint n_dims, const gsize *shape,
                                  GError **error)
{
  const GraftTensorView *view = graft_safetensors_lookup (st, name);
  g_autofree char *want = NULL, *have = NULL;

  g_return_val_if_fail (n_dims <= GRAFT_TENSOR_MAX_DIMS, NULL);

  if (view == NULL || view->dtype != GRAFT_DTYPE_F32)
    return graft_safetensors_get_f32 (st, name, 1, error);
  if (view->n_dims == n_dims
      && memcmp (view->shape, shape, n_dims * sizeof (gsize)) == 0)
    return view->data;
  want = shape_text (n_dims, shape);
  have = shape_text (view->n_dims, view->shape);
  fail (error, GRAFT_SAFETENSORS_ERROR_SHAPE,
        "tensor '%s' has shape %s, not %s", name, have, want);
  return NULL;
}

GHashTable *
graft_safetensors_get_metadata (GraftSafetensors *st)
{
  return st->metadata;
}
