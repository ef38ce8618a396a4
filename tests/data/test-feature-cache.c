/* test-feature-cache.c: the on-disk feature cache returns bit-identical
 * vectors, across cache objects; detects, deletes and misses a damaged
 * entry; evicts the least recently used entries past its bound; keys
 * differ in every component; and stays consistent when two caches on one
 * folder read and write the same entries from several threads. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "graft-feature-cache.h"
#include "graft-test-data.h"

#define DIM 257
#define ENTRY_BYTES (48 + DIM * sizeof (float))

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("graft-cache-XXXXXX", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  graft_test_rm_rf (f->dir);
  g_free (f->dir);
}

static char *
digest_for (guint i)
{
  GfPreprocess pre;
  g_autofree char *image = g_strdup_printf ("%064x", i);
  GraftFeatureKey key = { image, "backbone", "cut", &pre, "plain" };

  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, 224, 224);
  return graft_feature_key_digest (&key);
}

/* Values that exercise the float encoding: signs, zero, tiny, huge. */
static void
fill (float *values, guint seed)
{
  for (guint i = 0; i < DIM; i++)
    values[i] = (float) ((i % 7 == 0 ? -1 : 1) * (seed + 1)
                         * pow (10.0, (double) (i % 40) - 20.0));
  values[0] = -0.0f;
}

static void
test_roundtrip (Fixture *f, gconstpointer data)
{
  g_autoptr (GraftFeatureCache) cache = graft_feature_cache_new (f->dir, 0,
                                                                 NULL);
  g_autoptr (GraftFeatureCache) again = NULL;
  g_autofree char *key = digest_for (1);
  g_autofree char *other = digest_for (2);
  float in[DIM], out[DIM];
  GraftFeatureCacheStats stats;

  fill (in, 1);
  g_assert_false (graft_feature_cache_lookup (cache, key, out, DIM));
  g_assert_true (graft_feature_cache_store (cache, key, in, DIM, NULL));
  g_assert_true (graft_feature_cache_lookup (cache, key, out, DIM));
  g_assert_cmpmem (in, sizeof in, out, sizeof out);
  g_assert_false (graft_feature_cache_lookup (cache, other, out, DIM));
  /* Another run, later: the same bits. */
  again = graft_feature_cache_new (f->dir, 0, NULL);
  memset (out, 0, sizeof out);
  g_assert_true (graft_feature_cache_lookup (again, key, out, DIM));
  g_assert_cmpmem (in, sizeof in, out, sizeof out);
  graft_feature_cache_get_stats (again, &stats);
  g_assert_cmpuint (stats.bytes, ==, ENTRY_BYTES);
  graft_feature_cache_get_stats (cache, &stats);
  g_assert_cmpuint (stats.hits, ==, 1);
  g_assert_cmpuint (stats.misses, ==, 2);
}

/* Each part of the key changes the digest; the same key, the same one. */
static void
test_key (void)
{
  GfPreprocess pre, squash;
  GraftFeatureKey base = { "img", "bb", "cut", &pre, "plain" }, k;
  g_autofree char *d0 = NULL;
  g_autofree char *same = NULL;
  const char *fields[] = { "image", "backbone", "cut", "pre", "view" };

  gf_preprocess_preset (&pre, GF_PRESET_IMAGENET_TORCH, 224, 224);
  squash = pre;
  squash.resize = GF_RESIZE_SQUASH;
  d0 = graft_feature_key_digest (&base);
  same = graft_feature_key_digest (&base);
  g_assert_cmpstr (d0, ==, same);
  g_assert_cmpuint (strlen (d0), ==, 64);
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_autofree char *d = NULL;
      k = base;
      if (i == 0) k.image_sha256 = "img2";
      if (i == 1) k.backbone_sha256 = "bb2";
      if (i == 2) k.cut = "cut2";
      if (i == 3) k.pre = &squash;
      if (i == 4) k.view = "flip=1 crop=0 view=1";
      d = graft_feature_key_digest (&k);
      if (g_str_equal (d, d0))
        g_error ("changing the %s does not change the key", fields[i]);
    }
}

static char *
entry_file (Fixture *f, const char *digest)
{
  g_autofree char *fan = g_strndup (digest, 2);
  g_autofree char *name = g_strconcat (digest, ".feat", NULL);

  return g_build_filename (f->dir, fan, name, NULL);
}

/* A flipped bit, a cut file, and a read of another length are misses;
 * the damaged file is gone and the entry can be stored again. */
static void
test_corrupt (Fixture *f, gconstpointer data)
{
  g_autoptr (GraftFeatureCache) cache = graft_feature_cache_new (f->dir, 0,
                                                                 NULL);
  g_autofree char *key = digest_for (3);
  g_autofree char *path = entry_file (f, key);
  g_autofree char *bytes = NULL;
  float in[DIM], out[DIM];
  GraftFeatureCacheStats stats;
  gsize size;

  fill (in, 3);
  for (int damage = 0; damage < 3; damage++)
    {
      g_assert_true (graft_feature_cache_store (cache, key, in, DIM, NULL));
      g_assert_true (g_file_get_contents (path, &bytes, &size, NULL));
      if (damage == 0)
        bytes[size - 5] ^= 0x10;        /* one bit of one value */
      graft_test_write (path, bytes, damage == 1 ? size - 4 : size);
      g_clear_pointer (&bytes, g_free);
      g_assert_false (graft_feature_cache_lookup (cache, key, out,
                                                  damage == 2 ? DIM - 1
                                                  : DIM));
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }
  graft_feature_cache_get_stats (cache, &stats);
  g_assert_cmpuint (stats.corrupt, ==, 3);
  g_assert_true (graft_feature_cache_store (cache, key, in, DIM, NULL));
  g_assert_true (graft_feature_cache_lookup (cache, key, out, DIM));
  g_assert_cmpmem (in, sizeof in, out, sizeof out);
}

/* A bound of ten entries: after twenty stores the total is under the
 * bound, the entries looked up recently survived, the oldest are gone. */
static void
test_evict (Fixture *f, gconstpointer data)
{
  g_autoptr (GraftFeatureCache) cache
    = graft_feature_cache_new (f->dir, 10 * ENTRY_BYTES, NULL);
  float in[DIM], out[DIM];
  GraftFeatureCacheStats stats;

  fill (in, 0);
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *key = digest_for (i);
      g_assert_true (graft_feature_cache_store (cache, key, in, DIM, NULL));
      /* Entry 0 is used again and again: it must never be evicted. */
      if (i > 0)
        {
          g_autofree char *hot = digest_for (0);
          g_assert_true (graft_feature_cache_lookup (cache, hot, out, DIM));
        }
      g_usleep (2000);
    }
  graft_feature_cache_get_stats (cache, &stats);
  g_assert_cmpuint (stats.bytes, <=, 10 * ENTRY_BYTES);
  g_assert_cmpuint (stats.evicted, >=, 10);
  {
    g_autofree char *oldest = digest_for (1);
    g_autofree char *newest = digest_for (19);
    g_assert_false (graft_feature_cache_lookup (cache, oldest, out, DIM));
    g_assert_true (graft_feature_cache_lookup (cache, newest, out, DIM));
  }
}

/* ---- Two runs at once ---------------------------------------------------- */

#define WORKERS 4
#define KEYS 16
#define ROUNDS 300

typedef struct
{
  GraftFeatureCache *cache;
  guint seed;
  guint wrong;
} Worker;

static gpointer
hammer (gpointer data)
{
  Worker *w = data;
  g_autoptr (GRand) rand = g_rand_new_with_seed (w->seed);

  for (guint round = 0; round < ROUNDS; round++)
    {
      guint k = (guint) g_rand_int_range (rand, 0, KEYS);
      g_autofree char *key = digest_for (k);
      float expected[DIM], got[DIM];
      fill (expected, k);
      if (graft_feature_cache_lookup (w->cache, key, got, DIM))
        w->wrong += memcmp (expected, got, sizeof got) != 0;
      else
        graft_feature_cache_store (w->cache, key, expected, DIM, NULL);
    }
  return NULL;
}

static void
test_concurrent (Fixture *f, gconstpointer data)
{
  GraftFeatureCache *caches[2];
  Worker workers[WORKERS];
  GThread *threads[WORKERS];
  GraftFeatureCacheStats stats;

  /* A bound that forces eviction while others read. */
  for (int c = 0; c < 2; c++)
    caches[c] = graft_feature_cache_new (f->dir, 8 * ENTRY_BYTES, NULL);
  for (guint i = 0; i < WORKERS; i++)
    {
      workers[i] = (Worker) { caches[i % 2], i + 1, 0 };
      threads[i] = g_thread_new ("hammer", hammer, &workers[i]);
    }
  for (guint i = 0; i < WORKERS; i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpuint (workers[i].wrong, ==, 0);
    }
  for (int c = 0; c < 2; c++)
    {
      graft_feature_cache_get_stats (caches[c], &stats);
      g_assert_cmpuint (stats.corrupt, ==, 0);
      g_assert_cmpuint (stats.hits, >, 0);
      graft_feature_cache_free (caches[c]);
    }
}

/* With no folder given, $GRAFT_FEATURE_CACHE_DIR, else the user's cache
 * folder. */
static void
test_default_dir (Fixture *f, gconstpointer data)
{
  g_autofree char *sub = g_build_filename (f->dir, "from-env", NULL);
  g_autoptr (GraftFeatureCache) cache = NULL;
  g_autofree char *expected = g_build_filename (g_get_user_cache_dir (),
                                                "graft", "features", NULL);

  g_setenv (GRAFT_FEATURE_CACHE_DIR_ENV, sub, TRUE);
  cache = graft_feature_cache_new (NULL, 0, NULL);
  g_assert_cmpstr (graft_feature_cache_get_dir (cache), ==, sub);
  g_assert_true (g_file_test (sub, G_FILE_TEST_IS_DIR));
  g_unsetenv (GRAFT_FEATURE_CACHE_DIR_ENV);
  g_assert_cmpstr (expected, !=, sub);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, \
                                    func, fixture_tear_down)
  /* First: it sets the environment, which is safe only before threads. */
  ADD ("/data/feature-cache/default-dir", test_default_dir);
  ADD ("/data/feature-cache/roundtrip", test_roundtrip);
  ADD ("/data/feature-cache/corrupt", test_corrupt);
  ADD ("/data/feature-cache/evict", test_evict);
  ADD ("/data/feature-cache/concurrent", test_concurrent);
#undef ADD
  g_test_add_func ("/data/feature-cache/key", test_key);
  return g_test_run ();
}
