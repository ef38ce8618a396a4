/* graft-decode-pool.h: decoding pictures on worker threads, a few at a
 * time.
 *
 * A pool owns a fixed set of threads (one per core by default).  A run
 * hands out item indices one at a time to whichever thread is free, so at
 * most one picture per thread is decoded and held at once: memory is
 * bounded by the thread count, not by the data set.  The caller's thread
 * waits and reports progress; runs stop early when cancelled.
 */
#pragma once

#include <gio/gio.h>

#include "gf-preprocess.h"
#include "graft-augment.h"
#include "graft-image.h"

G_BEGIN_DECLS

typedef struct _GraftDecodePool GraftDecodePool;

/* Work on item @index; called on a worker thread. */
typedef void (*GraftPoolFunc) (guint index, gpointer user_data);

/* Called on the thread that started the run, as items complete. */
typedef void (*GraftPoolProgressFunc) (guint done, guint total,
                                       gpointer user_data);

/* @n_threads 0: one per processor.  Never fails: with fewer threads
 * than asked for (or none) when the system cannot start them. */
GraftDecodePool *graft_decode_pool_new         (guint n_threads);
void             graft_decode_pool_free        (GraftDecodePool *pool);
guint            graft_decode_pool_get_threads (GraftDecodePool *pool);

/* Calls @func for every index below @n_items on the pool's threads and
 * returns when all are done (TRUE) or, once cancelled, when the items
 * already started are done (FALSE, G_IO_ERROR_CANCELLED).  @progress may
 * be NULL. */
gboolean graft_decode_pool_run (GraftDecodePool *pool, guint n_items,
                                GraftPoolFunc func, gpointer func_data,
                                GraftPoolProgressFunc progress,
                                gpointer progress_data,
                                GCancellable *cancellable, GError **error);

/* One picture of a batch: the file, its key for augmentation (its
 * content hash), and the view (GRAFT_VIEW_PLAIN or an augmented one). */
typedef struct
{
  const char *path;
  const char *sample_key;
  guint view;
} GraftDecodeItem;

/* What every picture of a batch goes through.  JPEGs decode at the
 * scale the preprocessing and augmentation need (GraftImageNeed). */
typedef struct
{
  const GfPreprocess *pre;
  const GraftAugment *augment;   /* may be NULL: no augmentation */
  guint64 seed;
  gint64 max_pixels;
  GraftImageCache *cache;        /* may be NULL; else made for the same
                                  * preprocessing, augmentation and limit */
} GraftDecodeSpec;

/* Decodes @items into @out, (n_items, channels, height, width) floats as
 * @spec->pre says.  A picture that fails leaves zeros in its slot and its
 * error in @errors[i] (@errors: n_items slots set to NULL, or NULL to
 * ignore failures).  FALSE only when cancelled. */
gboolean graft_decode_pool_tensors (GraftDecodePool *pool,
                                    const GraftDecodeSpec *spec,
                                    const GraftDecodeItem *items,
                                    guint n_items, float *out,
                                    GError **errors,
                                    GCancellable *cancellable,
                                    GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftDecodePool, graft_decode_pool_free)

G_END_DECLS
