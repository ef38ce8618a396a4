/* test-safetensors.c: round trips, the bytes against a reference reader
 * and writer in Python (json + struct + numpy: python3-safetensors is not
 * in Debian 12), and broken files refused with a message. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/wait.h>

#include "graft-safetensors.h"

#define PYTHON "/usr/bin/python3"
#define EXIT_NO_NUMPY 77

/* Reads a file the way the safetensors library does and prints what it
 * holds as JSON: {"tensors": {name: {dtype, shape, values}}, "metadata"}. */
static const char reference_reader[] =
  "import json, struct, sys\n"
  "try:\n"
  "    import numpy as np\n"
  "except ImportError:\n"
  "    sys.exit(77)\n"
  "blob = open(sys.argv[1], 'rb').read()\n"
  "(n,) = struct.unpack('<Q', blob[:8])\n"
  "assert (8 + n) % 8 == 0, 'data does not start on a multiple of 8'\n"
  "text = blob[8:8 + n].decode('utf-8')\n"
  "assert text.startswith('{') and text.rstrip(' ').endswith('}')\n"
  "header = json.loads(text)\n"
  "data = blob[8 + n:]\n"
  "meta = header.pop('__metadata__', {})\n"
  "types = {'F32': np.dtype('<f4'), 'I64': np.dtype('<i8')}\n"
  "out, end = {}, 0\n"
  "for name, t in sorted(header.items(),\n"
  "                      key=lambda kv: kv[1]['data_offsets']):\n"
  "    begin, stop = t['data_offsets']\n"
  "    assert begin == end, 'gap or overlap before ' + name\n"
  "    dt = types[t['dtype']]\n"
  "    assert begin % dt.itemsize == 0, name + ' is not aligned'\n"
  "    a = np.frombuffer(data[begin:stop], dtype=dt).reshape(t['shape'])\n"
  "    out[name] = {'dtype': t['dtype'], 'shape': list(a.shape),\n"
  "                 'values': a.ravel().tolist()}\n"
  "    end = stop\n"
  "assert end == len(data), 'bytes after the last tensor'\n"
  "print(json.dumps({'tensors': out, 'metadata': meta}))\n";

/* Writes what older writers did: no padding, so the data is misaligned
 * in the file; I64 first, as the safetensors library orders by size. */
static const char reference_writer[] =
  "import json, struct, sys\n"
  "try:\n"
  "    import numpy as np\n"
  "except ImportError:\n"
  "    sys.exit(77)\n"
  "tensors = [('counts', np.array([[1, -2], [3, 1 << 40]], dtype='<i8')),\n"
  "           ('w', (np.arange(6, dtype='<f4') / 4).reshape(2, 3)),\n"
  "           ('b', np.array([0.5, -1.25], dtype='<f4'))]\n"
  "header, blobs, offset = {'__metadata__': {'source': 'python'}}, [], 0\n"
  "for name, a in tensors:\n"
  "    raw = a.tobytes()\n"
  "    header[name] = {'dtype': 'I64' if a.dtype == np.int64 else 'F32',\n"
  "                    'shape': list(a.shape),\n"
  "                    'data_offsets': [offset, offset + len(raw)]}\n"
  "    blobs.append(raw)\n"
  "    offset += len(raw)\n"
  "text = json.dumps(header).encode()\n"
  "if len(text) % 8 == 0:\n"
  "    text += b' '\n"
  "with open(sys.argv[1], 'wb') as f:\n"
  "    f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))\n";

typedef struct
{
  char *dir;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("graft-safetensors-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->path = g_build_filename (f->dir, "head.safetensors", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static guint
count_files (const char *folder)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  guint n = 0;

  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* The tensors every round trip writes: both dtypes, a scalar, an empty
 * tensor, a name beyond ASCII, F32 first so that the writer reorders. */
static const float weights[12] = {
  0.f, 1.f, -2.5f, 3.25f, 1e-7f, -1e7f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f,
};
static const float bias[3] = { -0.5f, 0.f, 0.75f };
static const float scale = 2.f;
static const gint64 steps[3] = { 0, -1, G_MAXINT64 };

static const GraftTensorView tensors[] = {
  { "head.weight", GRAFT_DTYPE_F32, 2, { 3, 4 }, weights },
  { "head.bias", GRAFT_DTYPE_F32, 1, { 3 }, bias },
  { "scale", GRAFT_DTYPE_F32, 0, { 0 }, &scale },
  { "empty", GRAFT_DTYPE_F32, 2, { 0, 5 }, NULL },
  { "steps \xc3\xa9", GRAFT_DTYPE_I64, 1, { 3 }, steps },
};

static GHashTable *
new_metadata (void)
{
  GHashTable *metadata = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                g_free, g_free);

  g_hash_table_insert (metadata, g_strdup ("format"), g_strdup ("graft"));
  g_hash_table_insert (metadata, g_strdup ("labels"),
                       g_strdup ("cat\ndog \"quoted\""));
  return metadata;
}

static void
write_reference_tensors (Fixture *f)
{
  g_autoptr (GHashTable) metadata = new_metadata ();
  g_autoptr (GError) error = NULL;

  g_assert_true (graft_safetensors_write (f->path, tensors,
                                          G_N_ELEMENTS (tensors), metadata,
                                          &error));
  g_assert_no_error (error);
}

static void
assert_same_tensor (const GraftTensorView *got, const GraftTensorView *want)
{
  gsize n_bytes = graft_tensor_view_n_elements (want)
    * graft_dtype_size (want->dtype);

  g_assert_nonnull (got);
  g_assert_cmpstr (got->name, ==, want->name);
  g_assert_cmpint (got->dtype, ==, want->dtype);
  g_assert_cmpuint (got->n_dims, ==, want->n_dims);
  for (guint d = 0; d < want->n_dims; d++)
    g_assert_cmpuint (got->shape[d], ==, want->shape[d]);
  if (n_bytes == 0)
    {
      g_assert_null (got->data);
      return;
    }
  g_assert_cmpuint ((guintptr) got->data % graft_dtype_size (want->dtype),
                    ==, 0);
  g_assert_cmpmem (got->data, n_bytes, want->data, n_bytes);
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr (GraftSafetensors) st = NULL;
  g_autoptr (GError) error = NULL;
  GHashTable *metadata;

  write_reference_tensors (f);
  g_assert_cmpuint (count_files (f->dir), ==, 1);
  st = graft_safetensors_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_safetensors_get_n_tensors (st), ==,
                    G_N_ELEMENTS (tensors));
  for (gsize i = 0; i < G_N_ELEMENTS (tensors); i++)
    assert_same_tensor (graft_safetensors_lookup (st, tensors[i].name),
                        &tensors[i]);
  /* 8-byte elements first: every tensor aligned within the file. */
  g_assert_cmpint (graft_safetensors_get_tensor (st, 0)->dtype, ==,
                   GRAFT_DTYPE_I64);
  g_assert_null (graft_safetensors_lookup (st, "missing"));
  metadata = graft_safetensors_get_metadata (st);
  g_assert_cmpuint (g_hash_table_size (metadata), ==, 2);
  g_assert_cmpstr (g_hash_table_lookup (metadata, "labels"), ==,
                   "cat\ndog \"quoted\"");
}

/* The header length, its padding and the data size, read by hand. */
static void
test_layout (Fixture *f, gconstpointer data)
{
  g_autofree char *contents = NULL;
  gsize length;
  guint64 header;

  write_reference_tensors (f);
  g_assert_true (g_file_get_contents (f->path, &contents, &length, NULL));
  memcpy (&header, contents, sizeof header);
  header = GUINT64_FROM_LE (header);
  g_assert_cmpuint ((8 + header) % 8, ==, 0);
  g_assert_cmpint (contents[8], ==, '{');
  g_assert_cmpuint (length - 8 - header, ==,
                    sizeof weights + sizeof bias + sizeof scale
                    + sizeof steps);
}

static void
test_overwrite (Fixture *f, gconstpointer data)
{
  g_autoptr (GraftSafetensors) st = NULL;
  g_autoptr (GError) error = NULL;
  GraftTensorView one = { "only", GRAFT_DTYPE_F32, 1, { 1 }, &scale };

  write_reference_tensors (f);
  g_assert_true (graft_safetensors_write (f->path, &one, 1, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_files (f->dir), ==, 1);
  st = graft_safetensors_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_safetensors_get_n_tensors (st), ==, 1);
  g_assert_cmpuint (g_hash_table_size (graft_safetensors_get_metadata (st)),
                    ==, 0);
}

static void
test_get_f32 (Fixture *f, gconstpointer data)
{
  g_autoptr (GraftSafetensors) st = NULL;
  g_autoptr (GError) error = NULL;
  const float *w;

  write_reference_tensors (f);
  st = graft_safetensors_load (f->path, &error);
  g_assert_no_error (error);
  w = graft_safetensors_get_f32 (st, "head.weight", 12, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (w[3], ==, 3.25f);

  g_assert_null (graft_safetensors_get_f32 (st, "head.weight", 11, &error));
  g_assert_error (error, GRAFT_SAFETENSORS_ERROR,
                  GRAFT_SAFETENSORS_ERROR_SHAPE);
  g_assert_cmpstr (error->message, ==,
                   "tensor 'head.weight' has 12 elements, not 11");
  g_clear_error (&error);
  g_assert_null (graft_safetensors_get_f32 (st, "steps \xc3\xa9", 3, &error));
  g_assert_error (error, GRAFT_SAFETENSORS_ERROR,
                  GRAFT_SAFETENSORS_ERROR_DTYPE);
  g_clear_error (&error);
  g_assert_null (graft_safetensors_get_f32 (st, "nope", 1, &error));
  g_assert_error (error, GRAFT_SAFETENSORS_ERROR,
                  GRAFT_SAFETENSORS_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "no tensor named 'nope'");
}

static void
assert_write_refused (Fixture *f, const GraftTensorView *views, gsize n,
                      const char *message)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (graft_safetensors_write (f->path, views, n, NULL, &error));
  g_assert_error (error, GRAFT_SAFETENSORS_ERROR,
                  GRAFT_SAFETENSORS_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==, message);
  g_assert_cmpuint (count_files (f->dir), ==, 0);
}

static void
test_write_refused (Fixture *f, gconstpointer data)
{
  GraftTensorView twice[] = {
    { "a", GRAFT_DTYPE_F32, 1, { 1 }, &scale },
    { "a", GRAFT_DTYPE_F32, 1, { 1 }, &scale },
  };
  GraftTensorView reserved = { "__metadata__", GRAFT_DTYPE_F32, 0, { 0 },
                               &scale };
  GraftTensorView no_data = { "a", GRAFT_DTYPE_F32, 1, { 2 }, NULL };
  GraftTensorView huge = { "a", GRAFT_DTYPE_F32, 2,
                           { G_MAXSIZE / 2, 4 }, &scale };
  GraftTensorView bad_dtype = { "a", (GraftDtype) 42, 0, { 0 }, &scale };

  assert_write_refused (f, twice, 2, "two tensors are named 'a'");
  assert_write_refused (f, &reserved, 1, "tensor 0 has no usable name");
  assert_write_refused (f, &no_data, 1, "tensor 'a' has no data");
  assert_write_refused (f, &huge, 1,
                        "tensor 'a' has an unknown dtype or an absurd shape");
  assert_write_refused (f, &bad_dtype, 1,
                        "tensor 'a' has an unknown dtype or an absurd shape");
}

static void
test_write_io_error (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "no", "such.st", NULL);
  g_autoptr (GError) error = NULL;

  g_assert_false (graft_safetensors_write (path, tensors, 1, NULL, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_true (g_str_has_prefix (error->message, "could not write "));
  g_assert_cmpuint (count_files (f->dir), ==, 0);
}

/* Runs a reference script on @path; FALSE (the test skipped, with the
 * reason) where this machine cannot run it. */
static gboolean
run_python (const char *script, const char *path, char **out)
{
  const char *argv[] = { PYTHON, "-c", script, path, NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  int status;

  if (!g_file_test (PYTHON, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip (PYTHON " is missing: no reference to check the format "
                   "against");
      return FALSE;
    }
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL,
                               G_SPAWN_DEFAULT, NULL, NULL, out, &err,
                               &status, &error));
  g_assert_no_error (error);
  if (WIFEXITED (status) && WEXITSTATUS (status) == EXIT_NO_NUMPY)
    {
      g_test_skip ("numpy is missing for " PYTHON " (python3-numpy): no "
                   "reference to check the format against");
      return FALSE;
    }
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("reference script failed: %s\n%s", error->message, err);
  return TRUE;
}

static void
assert_values (JsonArray *values, const GraftTensorView *want)
{
  gsize n = graft_tensor_view_n_elements (want);

  g_assert_cmpuint (json_array_get_length (values), ==, n);
  for (gsize i = 0; i < n; i++)
    if (want->dtype == GRAFT_DTYPE_F32)
      g_assert_cmpfloat ((float) json_array_get_double_element (values, i),
                         ==, ((const float *) want->data)[i]);
    else
      g_assert_cmpint (json_array_get_int_element (values, i), ==,
                       ((const gint64 *) want->data)[i]);
}

static void
assert_python_tensor (JsonObject *all, const GraftTensorView *want)
{
  JsonObject *t = json_object_get_object_member (all, want->name);
  JsonArray *shape;

  g_assert_nonnull (t);
  g_assert_cmpstr (json_object_get_string_member (t, "dtype"), ==,
                   want->dtype == GRAFT_DTYPE_F32 ? "F32" : "I64");
  shape = json_object_get_array_member (t, "shape");
  g_assert_cmpuint (json_array_get_length (shape), ==, want->n_dims);
  for (guint d = 0; d < want->n_dims; d++)
    g_assert_cmpint (json_array_get_int_element (shape, d), ==,
                     want->shape[d]);
  assert_values (json_object_get_array_member (t, "values"), want);
}

static void
test_python_reads (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  JsonObject *root, *all, *metadata;

  write_reference_tensors (f);
  if (!run_python (reference_reader, f->path, &out))
    return;
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  all = json_object_get_object_member (root, "tensors");
  g_assert_cmpuint (json_object_get_size (all), ==, G_N_ELEMENTS (tensors));
  for (gsize i = 0; i < G_N_ELEMENTS (tensors); i++)
    assert_python_tensor (all, &tensors[i]);
  metadata = json_object_get_object_member (root, "metadata");
  g_assert_cmpuint (json_object_get_size (metadata), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (metadata, "labels"), ==,
                   "cat\ndog \"quoted\"");
}

static void
test_python_writes (Fixture *f, gconstpointer data)
{
  static const gint64 counts[] = { 1, -2, 3, G_GINT64_CONSTANT (1) << 40 };
  static const float w[] = { 0.f, 0.25f, 0.5f, 0.75f, 1.f, 1.25f };
  static const float b[] = { 0.5f, -1.25f };
  const GraftTensorView want[] = {
    { "counts", GRAFT_DTYPE_I64, 2, { 2, 2 }, counts },
    { "w", GRAFT_DTYPE_F32, 2, { 2, 3 }, w },
    { "b", GRAFT_DTYPE_F32, 1, { 2 }, b },
  };
  g_autoptr (GraftSafetensors) st = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;

  if (!run_python (reference_writer, f->path, &out))
    return;
  st = graft_safetensors_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_safetensors_get_n_tensors (st), ==, 3);
  for (gsize i = 0; i < G_N_ELEMENTS (want); i++)
    assert_same_tensor (graft_safetensors_lookup (st, want[i].name),
                        &want[i]);
  g_assert_cmpstr (g_hash_table_lookup (graft_safetensors_get_metadata (st),
                                        "source"), ==, "python");
}

static void
test_missing_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (graft_safetensors_load (f->path, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

/* A broken file: its header text (padded here so that the data stays
 * aligned), the size of the zero bytes after it, and the message. */
typedef struct
{
  const char *name;
  const char *header;
  gsize data_size;
  GraftSafetensorsError code;
  const char *message;
} Broken;

#define T(dtype, shape, begin, end) \
  "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" \
  #begin "," #end "]}"

static const Broken broken[] = {
  { "bad-json", "{\"a\": ", 0, GRAFT_SAFETENSORS_ERROR_HEADER,
    "header is not valid JSON: " },
  { "not-object", "[1, 2]", 0, GRAFT_SAFETENSORS_ERROR_HEADER,
    "header is not a JSON object" },
  { "tensor-not-object", "{\"a\":3}", 0, GRAFT_SAFETENSORS_ERROR_HEADER,
    "tensor 'a' is not described by a JSON object" },
  { "unknown-dtype", "{\"a\":" T ("F16", "[2]", 0, 4) "}", 4,
    GRAFT_SAFETENSORS_ERROR_DTYPE,
    "tensor 'a' has dtype 'F16'; Graft reads F32 and I64" },
  { "no-dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
    GRAFT_SAFETENSORS_ERROR_HEADER, "tensor 'a' has no dtype string" },
  { "no-shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
    GRAFT_SAFETENSORS_ERROR_HEADER, "tensor 'a' has no shape array" },
  { "negative-dim", "{\"a\":" T ("F32", "[-1]", 0, 4) "}", 4,
    GRAFT_SAFETENSORS_ERROR_SHAPE,
    "tensor 'a' has a shape that is not a list of non-negative integers" },
  { "fractional-dim", "{\"a\":" T ("F32", "[1.5]", 0, 4) "}", 4,
    GRAFT_SAFETENSORS_ERROR_SHAPE,
    "tensor 'a' has a shape that is not a list of non-negative integers" },
  { "too-many-dims", "{\"a\":" T ("F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 4,
    GRAFT_SAFETENSORS_ERROR_SHAPE,
    "tensor 'a' has 9 dimensions, at most 8 are allowed" },
  { "absurd-dims",
    "{\"a\":" T ("F32", "[4294967296,4294967296,4]", 0, 4) "}", 4,
    GRAFT_SAFETENSORS_ERROR_SHAPE,
    "tensor 'a' has a shape too large to address" },
  { "no-offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
    GRAFT_SAFETENSORS_ERROR_HEADER,
    "tensor 'a' has no data_offsets [begin, end]" },
  { "one-offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
    "\"data_offsets\":[0]}}", 4, GRAFT_SAFETENSORS_ERROR_HEADER,
    "tensor 'a' has no data_offsets [begin, end]" },
  { "begin-after-end", "{\"a\":" T ("F32", "[1]", 8, 4) "}", 8,
    GRAFT_SAFETENSORS_ERROR_OFFSETS,
    "tensor 'a' ends (4) before it begins (8)" },
  { "past-the-data", "{\"a\":" T ("F32", "[4]", 0, 16) "}", 8,
    GRAFT_SAFETENSORS_ERROR_OFFSETS,
    "tensor 'a' ends at byte 16 of a data section of 8 bytes" },
  { "size-mismatch", "{\"a\":" T ("F32", "[3]", 0, 8) "}", 8,
    GRAFT_SAFETENSORS_ERROR_OFFSETS,
    "tensor 'a' has 8 bytes; its shape and dtype need 12" },
  { "overlap", "{\"a\":" T ("F32", "[2]", 0, 8) ",\"b\":"
    T ("F32", "[2]", 4, 12) "}", 12, GRAFT_SAFETENSORS_ERROR_OFFSETS,
    "tensor 'b' overlaps tensor 'a'" },
  { "gap", "{\"a\":" T ("F32", "[1]", 0, 4) ",\"b\":"
    T ("F32", "[1]", 8, 12) "}", 12, GRAFT_SAFETENSORS_ERROR_OFFSETS,
    "4 unused bytes before tensor 'b'" },
  { "trailing", "{\"a\":" T ("F32", "[1]", 0, 4) "}", 8,
    GRAFT_SAFETENSORS_ERROR_OFFSETS, "4 unused bytes after the last tensor" },
  { "misaligned", "{\"a\":" T ("F32", "[1]", 0, 4) ",\"b\":"
    T ("I64", "[1]", 4, 12) "}", 12, GRAFT_SAFETENSORS_ERROR_OFFSETS,
    "tensor 'b' is not aligned to its elements" },
  { "metadata-not-object", "{\"__metadata__\":[1]}", 0,
    GRAFT_SAFETENSORS_ERROR_HEADER, "__metadata__ is not a JSON object" },
  { "metadata-not-string", "{\"__metadata__\":{\"k\":1}}", 0,
    GRAFT_SAFETENSORS_ERROR_HEADER,
    "__metadata__ value of 'k' is not a string" },
};

static void
write_raw (const char *path, guint64 header_length, const char *header,
           gsize header_size, gsize data_size)
{
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  guint64 le = GUINT64_TO_LE (header_length);
  g_autofree guint8 *zeros = g_malloc0 (data_size + 1);

  g_byte_array_append (bytes, (const guint8 *) &le, sizeof le);
  g_byte_array_append (bytes, (const guint8 *) header, header_size);
  g_byte_array_append (bytes, zeros, data_size);
  g_assert_true (g_file_set_contents (path, (const char *) bytes->data,
                                      bytes->len, NULL));
}

static void
assert_refused (const char *path, GraftSafetensorsError code,
                const char *message)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = g_strdup_printf ("%s: %s", path, message);

  g_assert_null (graft_safetensors_load (path, &error));
  g_assert_error (error, GRAFT_SAFETENSORS_ERROR, code);
  g_assert_null (strchr (error->message, '\n'));
  if (!g_str_has_prefix (error->message, expected))
    g_error ("expected \"%s...\", got \"%s\"", expected, error->message);
}

static void
test_broken (gconstpointer data)
{
  const Broken *b = data;
  g_autoptr (GString) header = g_string_new (b->header);
  g_autofree char *dir = g_dir_make_tmp ("graft-broken-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, b->name, NULL);

  while ((8 + header->len) % 8 != 0)
    g_string_append_c (header, ' ');
  write_raw (path, header->len, header->str, header->len, b->data_size);
  assert_refused (path, b->code, b->message);
  g_unlink (path);
  g_rmdir (dir);
}

/* Files too short for what their first bytes promise. */
static void
test_truncated (Fixture *f, gconstpointer data)
{
  const char *header = "{}      ";

  g_assert_true (g_file_set_contents (f->path, "", 0, NULL));
  assert_refused (f->path, GRAFT_SAFETENSORS_ERROR_TRUNCATED,
                  "0 bytes are too few for a safetensors file");
  g_assert_true (g_file_set_contents (f->path, "\x08\0\0\0", 4, NULL));
  assert_refused (f->path, GRAFT_SAFETENSORS_ERROR_TRUNCATED,
                  "4 bytes are too few for a safetensors file");
  write_raw (f->path, 16, header, 8, 0);
  assert_refused (f->path, GRAFT_SAFETENSORS_ERROR_TRUNCATED,
                  "header length 16 runs past the end of the file "
                  "(16 bytes)");
  write_raw (f->path, G_MAXUINT64, header, 8, 0);
  assert_refused (f->path, GRAFT_SAFETENSORS_ERROR_TRUNCATED,
                  "header length 18446744073709551615 runs past the end");
}

/* A file cut short in its data: the tensors no longer fit. */
static void
test_truncated_data (Fixture *f, gconstpointer data)
{
  g_autofree char *contents = NULL;
  gsize length;

  write_reference_tensors (f);
  g_assert_true (g_file_get_contents (f->path, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (f->path, contents,
                                      (gssize) length - 4, NULL));
  assert_refused (f->path, GRAFT_SAFETENSORS_ERROR_OFFSETS, "tensor '");
  g_assert_true (g_file_set_contents (f->path, contents, 100, NULL));
  assert_refused (f->path, GRAFT_SAFETENSORS_ERROR_TRUNCATED,
                  "header length ");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add ("/train/safetensors/" path, Fixture, NULL, fixture_set_up, \
              fn, fixture_tear_down)
  ADD ("round-trip", test_round_trip);
  ADD ("layout", test_layout);
  ADD ("overwrite", test_overwrite);
  ADD ("get-f32", test_get_f32);
  ADD ("write/refused", test_write_refused);
  ADD ("write/io-error", test_write_io_error);
  ADD ("python/reads-ours", test_python_reads);
  ADD ("python/writes-theirs", test_python_writes);
  ADD ("load/missing", test_missing_file);
  ADD ("load/truncated", test_truncated);
  ADD ("load/truncated-data", test_truncated_data);
#undef ADD
  for (gsize i = 0; i < G_N_ELEMENTS (broken); i++)
    {
      g_autofree char *path = g_strdup_printf ("/train/safetensors/broken/%s",
                                               broken[i].name);
      g_test_add_data_func (path, &broken[i], test_broken);
    }
  return g_test_run ();
}
