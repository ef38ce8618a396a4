/* fuzz-safetensors.c: a safetensors file as a checkpoint, best.safetensors
 * or head.safetensors is read back.
 *
 * When the reader accepts the bytes, every tensor it hands out is looked
 * up by name and read to its last byte, so that a view reaching past the
 * data is an out-of-bounds read ASan reports, not a silent success.
 */
#include <string.h>

#include "fuzz-util.h"
#include "graft-safetensors.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_environment ();
  return 0;
}

/* Touches each byte of @view's data; the sum keeps the reads. */
static guint8
read_all (const GraftTensorView *view)
{
  gsize n_bytes = graft_tensor_view_n_elements (view)
                  * graft_dtype_size (view->dtype);
  const guint8 *bytes = view->data;
  guint8 sum = 0;

  for (gsize i = 0; i < n_bytes; i++)
    sum += bytes[i];
  return sum;
}

static void
check_tensors (GraftSafetensors *st)
{
  guint n = graft_safetensors_get_n_tensors (st);
  volatile guint8 sink = 0;

  for (guint i = 0; i < n; i++)
    {
      const GraftTensorView *view = graft_safetensors_get_tensor (st, i);
      g_autoptr (GError) error = NULL;

      if (graft_safetensors_lookup (st, view->name) == NULL)
        __builtin_trap ();
      if (view->dtype == GRAFT_DTYPE_F32
          && graft_tensor_view_n_elements (view) > 0)
        graft_safetensors_get_f32 (st, view->name,
                                   graft_tensor_view_n_elements (view),
                                   &error);
      sink += read_all (view);
    }
  (void) sink;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftSafetensors) st = graft_safetensors_new_from_bytes (bytes,
                                                                       &error);
  GHashTableIter iter;
  gpointer key, value;

  if (st == NULL)
    return 0;
  check_tensors (st);
  g_hash_table_iter_init (&iter, graft_safetensors_get_metadata (st));
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (strlen (key) + strlen (value) == (gsize) -1)
      __builtin_trap ();
  return 0;
}
