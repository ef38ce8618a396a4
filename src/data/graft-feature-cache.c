/* graft-feature-cache.c: one checksummed file per vector, renamed into
 * place, evicted by modification time.
 *
 * An entry, little-endian:
 *   0  "GRFTFEAT"                 magic
 *   8  u32 version, u32 count     count floats follow the header
 *  16  SHA-256 of (digest, count, values)
 *  48  count × f32                the vector
 * It lives at DIR/<first two hex digits>/<digest>.feat.
 */
#define G_LOG_DOMAIN "graft-feature-cache"

#include "graft-feature-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "graft-error.h"
#include "graft-image.h"

#define MAGIC "GRFTFEAT"
#define MAGIC_BYTES 8
#define FORMAT_VERSION 1
#define SUM_OFFSET 16
#define SUM_BYTES 32
#define HEADER_BYTES (SUM_OFFSET + SUM_BYTES)
#define SUFFIX ".feat"
#define FAN_OUT_DIGITS 2
#define TEMP_PREFIX "tmp-"
#define TRIM_TARGET 0.9             /* of the bound, so trims are rare */
#define STALE_TEMP_SECONDS 3600     /* a writer that died an hour ago */

struct _GraftFeatureCache
{
  char *dir;
  guint64 max_bytes;
  GMutex lock;                      /* guards stats */
  GMutex trimming;                  /* one trim at a time */
  GraftFeatureCacheStats stats;
};

typedef struct
{
  char *path;
  guint64 size;
  gint64 mtime_ns;
} Entry;

static char *
entry_path (GraftFeatureCache *cache, const char *digest)
{
  char fan[FAN_OUT_DIGITS + 1] = { 0 };
  g_autofree char *name = g_strconcat (digest, SUFFIX, NULL);

  memcpy (fan, digest, FAN_OUT_DIGITS);
  return g_build_filename (cache->dir, fan, name, NULL);
}

static gboolean
valid_digest (const char *digest)
{
  gsize i;

  for (i = 0; g_ascii_isxdigit (digest[i]); i++)
    ;
  return i == GRAFT_SHA256_HEX_LENGTH && digest[i] == '\0';
}

static void
append_double (GString *text, const char *label, double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (text, " %s %s", label,
                          g_ascii_dtostr (buffer, sizeof buffer, value));
}

char *
graft_feature_key_digest (const GraftFeatureKey *key)
{
  const GfPreprocess *pre = key->pre;
  /* v2: a large JPEG is decoded at a reduced DCT scale (graft-image.h),
   * which changes its features a little: never mix them with v1's. */
  g_autoptr (GString) text = g_string_new ("graft-features-v2\n");

  g_string_append_printf (text, "image %s\nbackbone %s\ncut %s\n",
                          key->image_sha256, key->backbone_sha256, key->cut);
  g_string_append_printf (text, "pre %zux%zux%zu resize %d order %d",
                          pre->channels, pre->height, pre->width,
                          (int) pre->resize, (int) pre->order);
  append_double (text, "scale", pre->scale);
  for (int c = 0; c < 3; c++)
    {
      append_double (text, "mean", pre->mean[c]);
      append_double (text, "std", pre->std[c]);
    }
  g_string_append_printf (text, "\nview %s\n", key->view);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, text->str,
                                        (gssize) text->len);
}

/* ---- Listing and trimming ------------------------------------------------ */

static void
entry_clear (gpointer data)
{
  g_free (((Entry *) data)->path);
}

static gint64
mtime_ns (const GStatBuf *st)
{
  return (gint64) st->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000)
    + st->st_mtim.tv_nsec;
}

/* Adds the entries of one fan-out folder; deletes temporary files that a
 * writer left behind long ago. */
static void
list_folder (const char *folder, gint64 stale_before_ns, GArray *entries)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (folder, name, NULL);
      GStatBuf st;
      Entry entry;
      if (g_lstat (path, &st) != 0 || !S_ISREG (st.st_mode))
        continue;
      if (g_str_has_prefix (name, TEMP_PREFIX))
        {
          if (mtime_ns (&st) < stale_before_ns)
            g_unlink (path);
          continue;
        }
      if (!g_str_has_suffix (name, SUFFIX))
        continue;
      entry.path = g_steal_pointer (&path);
      entry.size = (guint64) st.st_size;
      entry.mtime_ns = mtime_ns (&st);
      g_array_append_val (entries, entry);
    }
}

static GArray *
list_entries (GraftFeatureCache *cache, guint64 *total)
{
  GArray *entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_autoptr (GDir) dir = g_dir_open (cache->dir, 0, NULL);
  gint64 stale = (g_get_real_time ()
                  - (gint64) STALE_TEMP_SECONDS * G_USEC_PER_SEC) * 1000;
  const char *name;

  g_array_set_clear_func (entries, entry_clear);
  list_folder (cache->dir, stale, entries);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (strlen (name) == FAN_OUT_DIGITS)
      {
        g_autofree char *path = g_build_filename (cache->dir, name, NULL);
        list_folder (path, stale, entries);
      }
  *total = 0;
  for (guint i = 0; i < entries->len; i++)
    *total += g_array_index (entries, Entry, i).size;
  return entries;
}

static gint
compare_age (gconstpointer a, gconstpointer b)
{
  const Entry *x = a, *y = b;

  if (x->mtime_ns != y->mtime_ns)
    return x->mtime_ns < y->mtime_ns ? -1 : 1;
  return strcmp (x->path, y->path);
}

void
graft_feature_cache_trim (GraftFeatureCache *cache, guint64 max_bytes)
{
  g_autoptr (GArray) entries = NULL;
  guint64 total, target, evicted = 0;

  if (!g_mutex_trylock (&cache->trimming))
    return;   /* another thread is at it */
  entries = list_entries (cache, &total);
  target = (guint64) ((max_bytes ? max_bytes : cache->max_bytes)
                      * TRIM_TARGET);
  g_array_sort (entries, compare_age);
  for (guint i = 0; i < entries->len && total > target; i++)
    {
      Entry *entry = &g_array_index (entries, Entry, i);
      if (g_unlink (entry->path) == 0 || errno == ENOENT)
        {
          total -= entry->size;
          evicted++;
        }
    }
  g_mutex_lock (&cache->lock);
  cache->stats.bytes = total;
  cache->stats.evicted += evicted;
  g_mutex_unlock (&cache->lock);
  g_mutex_unlock (&cache->trimming);
}

/* ---- Life ---------------------------------------------------------------- */

GraftFeatureCache *
graft_feature_cache_new (const char *dir, guint64 max_bytes, GError **error)
{
  g_autoptr (GraftFeatureCache) cache = g_new0 (GraftFeatureCache, 1);
  g_autoptr (GArray) entries = NULL;

  if (dir == NULL)
    dir = g_getenv (GRAFT_FEATURE_CACHE_DIR_ENV);
  cache->dir = dir != NULL && dir[0] != '\0' ? g_strdup (dir)
    : g_build_filename (g_get_user_cache_dir (), "graft", "features", NULL);
  cache->max_bytes = max_bytes ? max_bytes
    : GRAFT_FEATURE_CACHE_DEFAULT_BYTES;
  g_mutex_init (&cache->lock);
  g_mutex_init (&cache->trimming);
  if (g_mkdir_with_parents (cache->dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CACHE,
                   _("cannot create the feature cache %s: %s"), cache->dir,
                   g_strerror (saved));
      return NULL;
    }
  entries = list_entries (cache, &cache->stats.bytes);
  return g_steal_pointer (&cache);
}

void
graft_feature_cache_free (GraftFeatureCache *cache)
{
  if (cache == NULL)
    return;
  g_mutex_clear (&cache->lock);
  g_mutex_clear (&cache->trimming);
  g_free (cache->dir);
  g_free (cache);
}

const char *
graft_feature_cache_get_dir (GraftFeatureCache *cache)
{
  return cache->dir;
}

void
graft_feature_cache_get_stats (GraftFeatureCache *cache,
                               GraftFeatureCacheStats *stats)
{
  g_mutex_lock (&cache->lock);
  *stats = cache->stats;
  g_mutex_unlock (&cache->lock);
}

/* ---- Entries ------------------------------------------------------------- */

static void
count (GraftFeatureCache *cache, guint64 *counter)
{
  g_mutex_lock (&cache->lock);
  (*counter)++;
  g_mutex_unlock (&cache->lock);
}

/* The checksum binds the values to their key: a file copied or renamed
 * under another digest does not verify. */
static void
entry_sum (const char *digest, const guint8 *count_le, const guint8 *values,
           gsize n_bytes, guint8 sum[SUM_BYTES])
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize length = SUM_BYTES;

  g_checksum_update (checksum, (const guchar *) digest, -1);
  g_checksum_update (checksum, count_le, 4);
  g_checksum_update (checksum, values, n_bytes);
  g_checksum_get_digest (checksum, sum, &length);
}

static guint32
read_le32 (const guint8 *p)
{
  guint32 v;

  memcpy (&v, p, sizeof v);
  return GUINT32_FROM_LE (v);
}

static gboolean
entry_valid (const char *digest, const guint8 *data, gsize size,
             gsize n_values)
{
  guint8 sum[SUM_BYTES];

  if (size != HEADER_BYTES + n_values * sizeof (float)
      || memcmp (data, MAGIC, MAGIC_BYTES) != 0
      || read_le32 (data + MAGIC_BYTES) != FORMAT_VERSION
      || read_le32 (data + MAGIC_BYTES + 4) != n_values)
    return FALSE;
  entry_sum (digest, data + MAGIC_BYTES + 4, data + HEADER_BYTES,
             size - HEADER_BYTES, sum);
  return memcmp (sum, data + SUM_OFFSET, SUM_BYTES) == 0;
}

/* Marks an entry as just used, to the nanosecond of the real-time clock
 * (file systems stamp new files with a coarser clock). */
static void
now (struct timespec times[2])
{
  clock_gettime (CLOCK_REALTIME, &times[1]);
  times[0] = times[1];
}

static void
renew (const char *path)
{
  struct timespec times[2];

  now (times);
  utimensat (AT_FDCWD, path, times, 0);
}

static void
renew_fd (int fd)
{
  struct timespec times[2];

  now (times);
  futimens (fd, times);
}

gboolean
graft_feature_cache_lookup (GraftFeatureCache *cache, const char *digest,
                            float *values, gsize n_values)
{
  g_autofree char *path = NULL;
  g_autofree guint8 *data = NULL;
  gsize size = 0;

  g_return_val_if_fail (valid_digest (digest), FALSE);
  path = entry_path (cache, digest);
  if (!g_file_get_contents (path, (char **) &data, &size, NULL))
    {
      count (cache, &cache->stats.misses);
      return FALSE;
    }
  if (!entry_valid (digest, data, size, n_values))
    {
      /* Another writer may have renamed a good entry over it since: at
       * worst that one is computed again. */
      g_unlink (path);
      count (cache, &cache->stats.corrupt);
      count (cache, &cache->stats.misses);
      return FALSE;
    }
  for (gsize i = 0; i < n_values; i++)
    {
      guint32 bits = read_le32 (data + HEADER_BYTES + i * sizeof (float));
      memcpy (&values[i], &bits, sizeof bits);
    }
  renew (path);
  count (cache, &cache->stats.hits);
  return TRUE;
}

static GBytes *
encode_entry (const char *digest, const float *values, gsize n_values)
{
  gsize size = HEADER_BYTES + n_values * sizeof (float);
  guint8 *data = g_malloc0 (size);
  guint32 version = GUINT32_TO_LE (FORMAT_VERSION);
  guint32 n = GUINT32_TO_LE ((guint32) n_values);

  memcpy (data, MAGIC, MAGIC_BYTES);
  memcpy (data + MAGIC_BYTES, &version, 4);
  memcpy (data + MAGIC_BYTES + 4, &n, 4);
  for (gsize i = 0; i < n_values; i++)
    {
      guint32 bits;
      memcpy (&bits, &values[i], sizeof bits);
      bits = GUINT32_TO_LE (bits);
      memcpy (data + HEADER_BYTES + i * sizeof (float), &bits, sizeof bits);
    }
  entry_sum (digest, data + MAGIC_BYTES + 4, data + HEADER_BYTES,
             n_values * sizeof (float), data + SUM_OFFSET);
  return g_bytes_new_take (data, size);
}

static gboolean
write_all (int fd, GBytes *bytes)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  while (size > 0)
    {
      gssize wrote = write (fd, data, size);
      if (wrote < 0 && errno == EINTR)
        continue;
      if (wrote <= 0)
        return FALSE;
      data += wrote;
      size -= (gsize) wrote;
    }
  return TRUE;
}

/* WHAT says what failed, whole, so that it translates as a sentence. */
static gboolean
fail_store (GError **error, const char *what, int saved)
{
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CACHE,
               "%s: %s", what, g_strerror (saved));
  return FALSE;
}

/* Writes @bytes to a new temporary file beside the entries and renames it
 * to @path: readers never see a partial entry. */
static gboolean
write_entry (GraftFeatureCache *cache, const char *path, GBytes *bytes,
             GError **error)
{
  g_autofree char *folder = g_path_get_dirname (path);
  g_autofree char *temp = g_build_filename (folder, TEMP_PREFIX "XXXXXX",
                                            NULL);
  int fd, saved = 0;

  if (g_mkdir_with_parents (folder, 0700) != 0)
    return fail_store (error, _("feature cache: cannot create a folder"),
                       errno);
  fd = g_mkstemp_full (temp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail_store (error, _("feature cache: cannot create a file"),
                       errno);
  if (!write_all (fd, bytes))
    saved = errno ? errno : EIO;
  renew_fd (fd);
  if (close (fd) != 0 && saved == 0)
    saved = errno;
  if (saved == 0 && g_rename (temp, path) != 0)
    saved = errno;
  if (saved != 0)
    {
      g_unlink (temp);
      return fail_store (error, _("feature cache: cannot write an entry"),
                         saved);
    }
  return TRUE;
}

gboolean
graft_feature_cache_store (GraftFeatureCache *cache, const char *digest,
                           const float *values, gsize n_values,
                           GError **error)
{
  g_autofree char *path = NULL;
  g_autoptr (GBytes) bytes = NULL;
  GStatBuf old;
  guint64 replaced, total;

  g_return_val_if_fail (valid_digest (digest), FALSE);
  g_return_val_if_fail (n_values <= G_MAXUINT32, FALSE);
  path = entry_path (cache, digest);
  bytes = encode_entry (digest, values, n_values);
  replaced = g_stat (path, &old) == 0 ? (guint64) old.st_size : 0;
  if (!write_entry (cache, path, bytes, error))
    return FALSE;
  g_mutex_lock (&cache->lock);
  cache->stats.bytes += g_bytes_get_size (bytes);
  cache->stats.bytes -= MIN (replaced, cache->stats.bytes);
  total = cache->stats.bytes;
  g_mutex_unlock (&cache->lock);
  if (total > cache->max_bytes)
    graft_feature_cache_trim (cache, 0);
  return TRUE;
}
