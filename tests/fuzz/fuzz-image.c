/* fuzz-image.c: one picture file as a scan and a training batch take it.
 *
 * The bytes become a file (named .jpg when they start as a JPEG does,
 * else .png: GdkPixbuf's sniffing looks at both) that goes through
 * graft_image_inspect (integrity walk, header, pixel limit, hash), then
 * graft_image_decode, then into tensors as a backbone of 32 × 32 would
 * take them: plain, and cropped and mirrored as augmentation draws it.
 * The integrity walk is also fed the bytes in small uneven chunks and
 * must come to the same verdict as when fed them at once.
 */
#include <stdlib.h>

#include "fuzz-util.h"
#include "graft-image.h"

#define NET_SIZE 32
#define JPEG_FIRST_BYTE 0xFF
#define ODD_CHUNK_MAX 7

static char *png_path;
static char *jpg_path;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_environment ();
  png_path = g_build_filename (fuzz_scratch_dir (), "picture.png", NULL);
  jpg_path = g_build_filename (fuzz_scratch_dir (), "picture.jpg", NULL);
  return 0;
}

/* The verdict on @data fed in chunks of 1, 2, ... @max_chunk bytes, then
 * 1 again (@max_chunk 0: all at once). */
static GraftIntegrityResult
integrity_in_chunks (const uint8_t *data, size_t size, size_t max_chunk)
{
  g_autoptr (GraftIntegrity) integrity = graft_integrity_new ();
  const char *reason;
  size_t at = 0;

  for (size_t k = 0; at < size; k++)
    {
      size_t n = max_chunk == 0 ? size : MIN (size - at, 1 + k % max_chunk);
      graft_integrity_feed (integrity, data + at, n);
      at += n;
    }
  return graft_integrity_finish (integrity, &reason);
}

static void
to_tensors (GdkPixbuf *pixbuf, size_t seed)
{
  GfPreprocess pre;
  GraftAugment augment;
  GraftView view;
  float *out = g_new (float, 3 * NET_SIZE * NET_SIZE);

  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, NET_SIZE, NET_SIZE);
  graft_image_to_tensor (pixbuf, &pre, out);
  graft_augment_init (&augment, TRUE, TRUE);
  graft_augment_plan (&augment, seed, "fuzz", 1,
                      gdk_pixbuf_get_width (pixbuf),
                      gdk_pixbuf_get_height (pixbuf), &view);
  pre.resize = GF_RESIZE_SQUASH;
  pre.channels = 1;
  graft_image_view_to_tensor (pixbuf, &pre, &view, out);
  g_free (out);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *path = size > 0 && data[0] == JPEG_FIRST_BYTE ? jpg_path
                     : png_path;
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  GraftImageInfo info;

  if (integrity_in_chunks (data, size, 0)
      != integrity_in_chunks (data, size, ODD_CHUNK_MAX))
    __builtin_trap ();
  fuzz_write_path (path, data, size);
  /* GdkPixbuf's loaders complain through criticals about some broken
   * files (a GIF frame of width 0); Graft's own use of GdkPixbuf, in
   * to_tensors, must not. */
  fuzz_tolerate_criticals ("GdkPixbuf");
  if (graft_image_inspect (path, GRAFT_DEFAULT_MAX_PIXELS, &info, NULL,
                           &error))
    pixbuf = graft_image_decode (path, &error);
  fuzz_tolerate_criticals (NULL);
  if (pixbuf != NULL)
    to_tensors (pixbuf, size);
  return 0;
}
