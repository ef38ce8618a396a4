/* graft-feature-cache.h: bottleneck vectors kept on disk between runs.
 *
 * Feature extraction computes each picture's vector once per view; this
 * cache keeps them in g_get_user_cache_dir()/graft/features (or
 * $GRAFT_FEATURE_CACHE_DIR, or a folder given), one file per vector,
 * named by the SHA-256 of its key: the picture's content hash, the
 * backbone's SHA-256, the cut tensor, the preprocessing and the view
 * (graft_augment_describe).  The caller computes vectors; the cache only
 * stores and finds them.
 *
 * Entries are checksummed over their key and values: a damaged or
 * mislabelled entry is deleted and reported as a miss, never returned.
 * Writers write a temporary file and rename it into place, so a reader —
 * in this process or another run — sees a whole entry or none.  The total
 * size is bounded: when a store takes it over the bound, the entries used
 * least recently (each hit renews the file's modification time) are
 * deleted until it is under 90 % of the bound.  Two processes keep their
 * own tallies, so together they may overshoot by what one stores before
 * it next trims.
 *
 * A cache may be used from several threads at once.
 */
#pragma once

#include <glib.h>

#include "gf-preprocess.h"

G_BEGIN_DECLS

#define GRAFT_FEATURE_CACHE_DIR_ENV "GRAFT_FEATURE_CACHE_DIR"
#define GRAFT_FEATURE_CACHE_DEFAULT_BYTES ((guint64) 1 << 30)

typedef struct _GraftFeatureCache GraftFeatureCache;

typedef struct
{
  const char *image_sha256;     /* the picture file's content */
  const char *backbone_sha256;  /* the ONNX file's content */
  const char *cut;              /* the tensor cut at */
  const GfPreprocess *pre;
  const char *view;             /* graft_augment_describe () */
} GraftFeatureKey;

typedef struct
{
  guint64 hits, misses;
  guint64 corrupt;              /* damaged entries found and deleted */
  guint64 evicted;
  guint64 bytes;                /* this process's tally of the total */
} GraftFeatureCacheStats;

/* @dir NULL: $GRAFT_FEATURE_CACHE_DIR, else the user's cache folder.
 * @max_bytes 0: GRAFT_FEATURE_CACHE_DEFAULT_BYTES.  The folder is created
 * if needed; the size of what it holds is tallied. */
GraftFeatureCache *graft_feature_cache_new  (const char *dir,
                                             guint64 max_bytes,
                                             GError **error);
void               graft_feature_cache_free (GraftFeatureCache *cache);

const char *graft_feature_cache_get_dir (GraftFeatureCache *cache);

/* The 64 hex digits naming @key's entry. */
char *graft_feature_key_digest (const GraftFeatureKey *key);

/* Fills @values (@n_values floats) from the entry for @digest and renews
 * it; FALSE on a miss, including a damaged entry (deleted) or one of
 * another length. */
gboolean graft_feature_cache_lookup (GraftFeatureCache *cache,
                                     const char *digest, float *values,
                                     gsize n_values);

/* Stores @values as the entry for @digest, replacing any, then trims the
 * cache if it went over its bound. */
gboolean graft_feature_cache_store (GraftFeatureCache *cache,
                                    const char *digest, const float *values,
                                    gsize n_values, GError **error);

/* Deletes least recently used entries (and stale temporary files) until
 * the total is under 90 % of @max_bytes (0: the cache's bound). */
void graft_feature_cache_trim (GraftFeatureCache *cache, guint64 max_bytes);

void graft_feature_cache_get_stats (GraftFeatureCache *cache,
                                    GraftFeatureCacheStats *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftFeatureCache, graft_feature_cache_free)

G_END_DECLS
