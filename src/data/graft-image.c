/* graft-image.c: inspecting and decoding pictures, and turning them into
 * input tensors. */
#define G_LOG_DOMAIN "graft-image"

#include "graft-image.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gf-engine.h"
#include "graft-error.h"

#define WHITE 255
#define READ_CHUNK_BYTES (256 * 1024)
#define SHA256_BYTES 32
#define PNG_MIME_TYPE "image/png"
#define JPEG_LOADER "jpeg"
#define JPEG_MAX_DENOMINATOR 8     /* libjpeg's DCT scales: 1/2, 1/4, 1/8 */
#define JPEG_SOI_LENGTH 3          /* FF D8 FF opens every JPEG */
/* lround may take half a pixel off a random crop's side. */
#define CROP_ROUNDING 0.5
#define CACHE_DEFAULT_BYTES ((gsize) 512 << 20)
#define CACHE_SHARE_OF_MEMORY 4    /* at most a quarter of it */

/* A 1×1 gray PNG, which any GdkPixbuf installation reads. */
static const guint8 tiny_png[] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
  0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
  0x08, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x7e, 0x9b, 0x55, 0x00, 0x00, 0x00,
  0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x60, 0x00, 0x00, 0x00,
  0x02, 0x00, 0x01, 0xe5, 0x27, 0xde, 0xfc, 0x00, 0x00, 0x00, 0x00, 0x49,
  0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

/* WHAT, when not NULL, names the step that failed ("read error"). */
static gboolean
fail_errno (GError **error, int saved, const char *what)
{
  if (what != NULL)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNREADABLE,
                 _("unreadable: %s: %s"), what, g_strerror (saved));
  else
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNREADABLE,
                 _("unreadable: %s"), g_strerror (saved));
  return FALSE;
}

static gboolean
fail_not_regular (GError **error)
{
  g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_REGULAR,
                       _("not a regular file"));
  return FALSE;
}

/* The file itself: there, readable, regular and not empty.  Checked
 * before any open for reading: opening a FIFO blocks until a writer
 * comes, and reading a device may never end. */
static gboolean
check_file (const char *path, gint64 *size, GError **error)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return fail_errno (error, errno, NULL);
  if (!S_ISREG (st.st_mode))
    return fail_not_regular (error);
  if (st.st_size == 0)
    {
      g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_EMPTY,
                           _("empty file (0 bytes)"));
      return FALSE;
    }
  *size = st.st_size;
  return TRUE;
}

/* Reads the whole file once, feeding the structure walk and the hash,
 * either of which may be NULL. */
static gboolean
read_through (const char *path, GraftIntegrity *integrity, GChecksum *sum,
              GCancellable *cancellable, GError **error)
{
  g_autofree guint8 *buffer = NULL;
  /* Non-blocking, so that a FIFO put in the file's place since it was
   * checked cannot block the open; the read below is of a regular file,
   * which O_NONBLOCK does not change. */
  int fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  GStatBuf st;
  gssize got;
  int saved = 0;

  if (fd < 0)
    return fail_errno (error, errno, NULL);
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      return fail_not_regular (error);
    }
  buffer = g_malloc (READ_CHUNK_BYTES);
  do
    {
      got = read (fd, buffer, READ_CHUNK_BYTES);
      if (got > 0)
        {
          if (integrity != NULL)
            graft_integrity_feed (integrity, buffer, (gsize) got);
          if (sum != NULL)
            g_checksum_update (sum, buffer, got);
        }
      else if (got < 0 && errno != EINTR)
        saved = errno;
    }
  while (got != 0 && saved == 0
         && !g_cancellable_is_cancelled (cancellable));
  close (fd);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  return saved == 0 || fail_errno (error, saved, _("read error"));
}

/* Why this system reads no picture at all, or NULL when it reads them.
 * GdkPixbuf picks its loader by content type: without the shared MIME
 * database (XDG_DATA_DIRS/mime) every picture would otherwise be reported
 * as damaged. */
static const char *
find_missing_loaders (void)
{
  g_autoptr (GdkPixbufLoader) loader = gdk_pixbuf_loader_new ();
  g_autofree char *type = NULL;
  gboolean reads = FALSE;

  /* A failed write closes the loader itself. */
  if (gdk_pixbuf_loader_write (loader, tiny_png, sizeof tiny_png, NULL))
    reads = gdk_pixbuf_loader_close (loader, NULL);
  if (reads)
    return NULL;
  type = g_content_type_guess (NULL, tiny_png, sizeof tiny_png, NULL);
  if (g_strcmp0 (type, PNG_MIME_TYPE) != 0)
    return _("cannot be read on this system: the shared MIME database is "
             "missing, so no picture format is recognised (install the "
             "shared-mime-info package)");
  return _("cannot be read on this system: GdkPixbuf has no working "
           "picture loaders, not even for PNG (check the gdk-pixbuf "
           "installation)");
}

static const char *
missing_loaders (void)
{
  static gsize checked;
  static const char *reason;

  if (g_once_init_enter (&checked))
    {
      reason = find_missing_loaders ();
      g_once_init_leave (&checked, 1);
    }
  return reason;
}

/* The reason for a file no loader recognised: not an image at all, an
 * image whose header is cut short or damaged, or a system that reads no
 * pictures. */
static gboolean
fail_unrecognised (GraftIntegrity *integrity, GError **error)
{
  GraftFormat format = graft_integrity_get_format (integrity);
  const char *why;

  if (format != GRAFT_FORMAT_UNKNOWN && missing_loaders () != NULL)
    g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NO_LOADER,
                         missing_loaders ());
  else if (format == GRAFT_FORMAT_UNKNOWN)
    g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_IMAGE,
                         _("not an image: the contents are in no picture "
                           "format this system reads"));
  else if (graft_integrity_finish (integrity, &why)
           == GRAFT_INTEGRITY_TRUNCATED)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TRUNCATED,
                 _("truncated: %s"), why);
  else
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                 /* Translators: %s is a format name: PNG, JPEG… */
                 _("corrupt: a %s file whose header cannot be read"),
                 graft_format_name (format));
  return FALSE;
}

static gboolean
check_complete (GraftIntegrity *integrity, GError **error)
{
  const char *why;

  switch (graft_integrity_finish (integrity, &why))
    {
    case GRAFT_INTEGRITY_TRUNCATED:
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TRUNCATED,
                   _("truncated: %s"), why);
      return FALSE;
    case GRAFT_INTEGRITY_MALFORMED:
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   _("corrupt: %s"), why);
      return FALSE;
    case GRAFT_INTEGRITY_COMPLETE:
    default:
      return TRUE;
    }
}

static gboolean
check_size (int width, int height, gint64 max_pixels, GError **error)
{
  if (width <= 0 || height <= 0)
    {
      g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                           _("corrupt: the header gives no size"));
      return FALSE;
    }
  if ((gint64) width * height > max_pixels)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                   _("too large: %d × %d pixels is over the limit of %g "
                     "megapixels"), width, height, max_pixels / 1e6);
      return FALSE;
    }
  return TRUE;
}

static void
fill_hash (GChecksum *sum, GraftImageInfo *info)
{
  g_strlcpy (info->sha256, g_checksum_get_string (sum), sizeof info->sha256);
}

gboolean
graft_image_inspect (const char *path, gint64 max_pixels,
                     GraftImageInfo *info, GCancellable *cancellable,
                     GError **error)
{
  g_autoptr (GraftIntegrity) integrity = graft_integrity_new ();
  g_autoptr (GChecksum) sum = NULL;
  GdkPixbufFormat *known;
  int width = 0, height = 0;
  gint64 size = 0;

  if (!check_file (path, &size, error))
    return FALSE;
  /* The header first: a bomb is refused before even being read whole. */
  known = gdk_pixbuf_get_file_info (path, &width, &height);
  if (known != NULL && width > 0 && height > 0
      && !check_size (width, height, max_pixels, error))
    return FALSE;
  sum = info != NULL ? g_checksum_new (G_CHECKSUM_SHA256) : NULL;
  if (!read_through (path, integrity, sum, cancellable, error))
    return FALSE;
  if (known == NULL)
    return fail_unrecognised (integrity, error);
  if (!check_size (width, height, max_pixels, error)
      || !check_complete (integrity, error))
    return FALSE;
  if (info != NULL)
    {
      info->width = width;
      info->height = height;
      info->format = graft_integrity_get_format (integrity);
      info->size = size;
      fill_hash (sum, info);
    }
  return TRUE;
}

char *
graft_file_sha256 (const char *path, GCancellable *cancellable,
                   GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  if (!read_through (path, NULL, sum, cancellable, error))
    return NULL;
  return g_strdup (g_checksum_get_string (sum));
}

/* RGB without alpha: transparent pixels become white, as on paper. */
static GdkPixbuf *
flatten_on_white (GdkPixbuf *src)
{
  int width = gdk_pixbuf_get_width (src);
  int height = gdk_pixbuf_get_height (src);
  int n = gdk_pixbuf_get_n_channels (src);
  int in_stride = gdk_pixbuf_get_rowstride (src);
  const guchar *in = gdk_pixbuf_read_pixels (src);
  GdkPixbuf *dst = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width,
                                   height);
  int out_stride = gdk_pixbuf_get_rowstride (dst);
  guchar *out = gdk_pixbuf_get_pixels (dst);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        const guchar *p = in + (gsize) y * in_stride + (gsize) x * n;
        guchar *q = out + (gsize) y * out_stride + (gsize) x * 3;
        unsigned alpha = n == 4 ? p[3] : WHITE;
        for (int c = 0; c < 3; c++)
          q[c] = (guchar) ((p[c] * alpha + WHITE * (WHITE - alpha)
                            + WHITE / 2) / WHITE);
      }
  return dst;
}

/* GdkPixbuf's message repeats the path ("Failed to load image “…”: why");
 * the report already has it, so keep the why. */
static const char *
loader_reason (const char *message)
{
  const char *tail = strstr (message, "”: ");

  return tail != NULL ? tail + strlen ("”: ") : message;
}

/* ---- Decoding at the scale a consumer needs ----------------------------- */

void
graft_image_need_init (GraftImageNeed *need, const GfPreprocess *pre,
                       const GraftAugment *augment)
{
  *need = (GraftImageNeed) { (int) pre->width, (int) pre->height, FALSE,
                             1.0, 1.0, 1.0 };
  if (augment != NULL && augment->crop)
    {
      need->crop = TRUE;
      need->scale_min = augment->scale_min;
      need->ratio_min = augment->ratio_min;
      need->ratio_max = augment->ratio_max;
    }
}

/* The narrowest and the lowest view of an upright @width × @height
 * picture, in its pixels: the whole picture, or with random crops the
 * smallest crop graft_augment_plan may draw (the least area at the
 * extreme aspect) or its centred fallback, whichever is smaller. */
static void
smallest_view (const GraftImageNeed *need, int width, int height,
               double *view_width, double *view_height)
{
  double area = (double) width * height, aspect = (double) width / height;
  double fallback_width = width, fallback_height = height;

  *view_width = width;
  *view_height = height;
  if (!need->crop)
    return;
  if (aspect < need->ratio_min)
    fallback_height = width / need->ratio_min;
  else if (aspect > need->ratio_max)
    fallback_width = height * need->ratio_max;
  *view_width = MIN (fallback_width,
                     sqrt (need->scale_min * area * need->ratio_min))
    - CROP_ROUNDING;
  *view_height = MIN (fallback_height,
                      sqrt (need->scale_min * area / need->ratio_max))
    - CROP_ROUNDING;
}

static gboolean
fits (const GraftImageNeed *need, int width, int height, int denominator)
{
  double view_width, view_height;

  smallest_view (need, width, height, &view_width, &view_height);
  return view_width / denominator >= need->width
    && view_height / denominator >= need->height;
}

int
graft_image_need_denominator (const GraftImageNeed *need, int width,
                              int height)
{
  if (need == NULL || width <= 0 || height <= 0)
    return 1;
  /* The EXIF orientation is not known before decoding: the picture may
   * turn out width × height or height × width upright. */
  for (int d = JPEG_MAX_DENOMINATOR; d > 1; d /= 2)
    if (fits (need, width, height, d) && fits (need, height, width, d))
      return d;
  return 1;
}

/* What a reduced pixbuf remembers of its source, as object data. */
typedef struct
{
  int width, height;     /* upright, in the file's pixels */
} SourceSize;

static GQuark
source_size_quark (void)
{
  return g_quark_from_static_string ("graft-image-source-size");
}

void
graft_image_get_source_size (GdkPixbuf *pixbuf, int *width, int *height)
{
  const SourceSize *source = g_object_get_qdata (G_OBJECT (pixbuf),
                                                 source_size_quark ());

  *width = source != NULL ? source->width : gdk_pixbuf_get_width (pixbuf);
  *height = source != NULL ? source->height
    : gdk_pixbuf_get_height (pixbuf);
}

/* Whether the file opens as a JPEG does; FALSE when it cannot be read
 * (then the plain decode reports why).  Three bytes, so that other
 * formats pay nothing for the question. */
static gboolean
looks_like_jpeg (const char *path)
{
  static const guint8 soi[JPEG_SOI_LENGTH] = { 0xff, 0xd8, 0xff };
  guint8 head[JPEG_SOI_LENGTH];
  int fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  gssize got;

  if (fd < 0)
    return FALSE;
  got = read (fd, head, sizeof head);
  close (fd);
  return got == sizeof head && memcmp (head, soi, sizeof soi) == 0;
}

typedef struct
{
  const GraftImageNeed *need;
  int width, height;     /* the file's, as stored */
  int denominator;
} Scaling;

/* Asks for exactly the size libjpeg gives at the chosen scale (each side
 * divided, rounded up), so that the loader never resamples it again. */
static void
on_size_prepared (GdkPixbufLoader *loader, int width, int height,
                  gpointer data)
{
  Scaling *scaling = data;
  int d = graft_image_need_denominator (scaling->need, width, height);

  scaling->width = width;
  scaling->height = height;
  scaling->denominator = d;
  if (d > 1)
    gdk_pixbuf_loader_set_size (loader, (width + d - 1) / d,
                                (height + d - 1) / d);
}

/* Feeds the file to @loader and closes it; on failure @error says why,
 * from the loader or, for a failed read, UNREADABLE. */
static gboolean
feed_loader (const char *path, GdkPixbufLoader *loader, GError **error)
{
  g_autofree guint8 *buffer = g_malloc (READ_CHUNK_BYTES);
  int fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  gssize got = 0;
  int saved = fd < 0 ? errno : 0;

  while (fd >= 0 && saved == 0
         && (got = read (fd, buffer, READ_CHUNK_BYTES)) != 0)
    if (got > 0)
      {
        /* A failed write closes the loader itself. */
        if (!gdk_pixbuf_loader_write (loader, buffer, (gsize) got, error))
          {
            close (fd);
            return FALSE;
          }
      }
    else if (errno != EINTR)
      saved = errno;
  if (fd >= 0)
    close (fd);
  if (saved != 0)
    {
      gdk_pixbuf_loader_close (loader, NULL);
      return fail_errno (error, saved, _("read error"));
    }
  return gdk_pixbuf_loader_close (loader, error);
}

/* A JPEG through GdkPixbuf's incremental loader, which lets libjpeg
 * decode at a reduced scale; @scaling says which, and the stored size. */
static GdkPixbuf *
decode_jpeg_scaled (const char *path, const GraftImageNeed *need,
                    Scaling *scaling, GError **error)
{
  g_autoptr (GdkPixbufLoader) loader = NULL;
  GdkPixbuf *pixbuf;

  loader = gdk_pixbuf_loader_new_with_type (JPEG_LOADER, error);
  if (loader == NULL)
    return NULL;
  *scaling = (Scaling) { need, 0, 0, 1 };
  g_signal_connect (loader, "size-prepared", G_CALLBACK (on_size_prepared),
                    scaling);
  if (!feed_loader (path, loader, error))
    return NULL;
  pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  return pixbuf != NULL ? g_object_ref (pixbuf) : NULL;
}

/* TRUE when the loader gave a picture; else FALSE with Graft's error. */
static gboolean
check_decoded (GdkPixbuf *decoded, GError *local, GError **error)
{
  if (g_error_matches (local, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNREADABLE))
    {
      g_propagate_error (error, g_error_copy (local));
      return FALSE;
    }
  if (g_error_matches (local, GDK_PIXBUF_ERROR,
                       GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NO_MEMORY,
                   _("out of memory decoding it: %s"), local->message);
      return FALSE;
    }
  /* Some loaders (GIF) return what they could decode of a damaged file
   * together with an error: that is not a picture to train on. */
  if (local != NULL || decoded == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   _("corrupt: %s"), local != NULL
                   ? loader_reason (local->message) : _("no picture decoded"));
      return FALSE;
    }
  return TRUE;
}

/* Upright 8-bit RGB; a reduced one remembers its source's upright size
 * (turned when the orientation turned the picture). */
static GdkPixbuf *
finish (GdkPixbuf *decoded, const Scaling *scaling)
{
  g_autoptr (GdkPixbuf) upright
    = gdk_pixbuf_apply_embedded_orientation (decoded);
  GdkPixbuf *out;
  SourceSize *source;
  gboolean turned;

  if (gdk_pixbuf_get_n_channels (upright) == 3
      && !gdk_pixbuf_get_has_alpha (upright)
      && gdk_pixbuf_get_bits_per_sample (upright) == 8)
    out = g_steal_pointer (&upright);
  else
    out = flatten_on_white (upright);
  if (scaling == NULL || scaling->denominator == 1)
    return out;
  turned = gdk_pixbuf_get_width (out) != gdk_pixbuf_get_width (decoded);
  source = g_new (SourceSize, 1);
  source->width = turned ? scaling->height : scaling->width;
  source->height = turned ? scaling->width : scaling->height;
  g_object_set_qdata_full (G_OBJECT (out), source_size_quark (), source,
                           g_free);
  return out;
}

/* Whether @path is a JPEG that @need lets decode at a reduced scale. */
static gboolean
jpeg_reduces (const char *path, const GraftImageNeed *need)
{
  GdkPixbufFormat *format;
  g_autofree char *name = NULL;     /* gdk_pixbuf_format_get_name: a copy */
  int width = 0, height = 0;

  if (need == NULL || !looks_like_jpeg (path))
    return FALSE;
  format = gdk_pixbuf_get_file_info (path, &width, &height);
  name = format != NULL ? gdk_pixbuf_format_get_name (format) : NULL;
  return g_strcmp0 (name, JPEG_LOADER) == 0
    && graft_image_need_denominator (need, width, height) > 1;
}

GdkPixbuf *
graft_image_decode_for (const char *path, const GraftImageNeed *need,
                        GError **error)
{
  g_autoptr (GdkPixbuf) decoded = NULL;
  g_autoptr (GError) local = NULL;
  Scaling scaling = { need, 0, 0, 1 };
  gint64 size;

  /* Gone, replaced or a FIFO since it was inspected: say so, rather than
   * "corrupt", and never block opening it. */
  if (!check_file (path, &size, error))
    return NULL;
  /* Only libjpeg scales while decoding; for any other format a smaller
   * picture would cost a resize on top of the whole decode.  A JPEG
   * needed whole decodes as it always did. */
  if (jpeg_reduces (path, need))
    decoded = decode_jpeg_scaled (path, need, &scaling, &local);
  else
    decoded = gdk_pixbuf_new_from_file (path, &local);
  if (!check_decoded (decoded, local, error))
    return NULL;
  return finish (decoded, &scaling);
}

GdkPixbuf *
graft_image_decode (const char *path, GError **error)
{
  return graft_image_decode_for (path, NULL, error);
}

GdkPixbuf *
graft_image_load_for (const char *path, gint64 max_pixels,
                      const GraftImageNeed *need, GError **error)
{
  if (!graft_image_inspect (path, max_pixels, NULL, NULL, error))
    return NULL;
  return graft_image_decode_for (path, need, error);
}

GdkPixbuf *
graft_image_load (const char *path, gint64 max_pixels, GError **error)
{
  return graft_image_load_for (path, max_pixels, NULL, error);
}

/* ---- Decoded pictures kept in memory -------------------------------------- */

/* A kept picture and the identity of the file it was read from. */
typedef struct
{
  GdkPixbuf *pixbuf;
  gsize bytes;
  GStatBuf st;
} CacheEntry;

struct _GraftImageCache
{
  GraftImageNeed need;
  gint64 max_pixels;
  gsize budget;
  GMutex lock;
  gsize bytes;               /* under lock */
  GHashTable *entries;       /* path → CacheEntry, under lock */
};

static void
cache_entry_free (gpointer data)
{
  CacheEntry *entry = data;

  g_object_unref (entry->pixbuf);
  g_free (entry);
}

/* The least of the default, a share of the physical memory and a share
 * of what a limit on address space leaves. */
static gsize
default_budget (void)
{
  long pages = sysconf (_SC_PHYS_PAGES), page = sysconf (_SC_PAGESIZE);
  gsize budget = CACHE_DEFAULT_BYTES;
  struct rlimit rl;
  size_t used;

  if (pages > 0 && page > 0)
    budget = MIN (budget, (gsize) pages * (gsize) page
                  / CACHE_SHARE_OF_MEMORY);
  if (getrlimit (RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
      && (used = gf_engine_address_space_used ()) != 0)
    budget = MIN (budget, used < rl.rlim_cur
                  ? (rl.rlim_cur - used) / CACHE_SHARE_OF_MEMORY : 0);
  return budget;
}

GraftImageCache *
graft_image_cache_new (const GraftImageNeed *need, gint64 max_pixels,
                       gsize budget)
{
  GraftImageCache *cache = g_new0 (GraftImageCache, 1);

  cache->need = *need;
  cache->max_pixels = max_pixels;
  cache->budget = budget > 0 ? budget : default_budget ();
  g_mutex_init (&cache->lock);
  cache->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          cache_entry_free);
  return cache;
}

void
graft_image_cache_free (GraftImageCache *cache)
{
  if (cache == NULL)
    return;
  g_hash_table_unref (cache->entries);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

gsize
graft_image_cache_get_bytes (GraftImageCache *cache)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&cache->lock);

  return cache->bytes;
}

gsize
graft_image_cache_get_budget (GraftImageCache *cache)
{
  return cache->budget;
}

static gboolean
same_file (const GStatBuf *a, const GStatBuf *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino
    && a->st_size == b->st_size && a->st_mode == b->st_mode
    && a->st_mtim.tv_sec == b->st_mtim.tv_sec
    && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
    && a->st_ctim.tv_sec == b->st_ctim.tv_sec
    && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The kept picture of @path when its file is still the one it was read
 * from; a stale one is dropped.  Under the lock. */
static GdkPixbuf *
cache_lookup (GraftImageCache *cache, const char *path, const GStatBuf *st)
{
  CacheEntry *entry = g_hash_table_lookup (cache->entries, path);

  if (entry == NULL)
    return NULL;
  if (same_file (&entry->st, st))
    return g_object_ref (entry->pixbuf);
  cache->bytes -= entry->bytes;
  g_hash_table_remove (cache->entries, path);
  return NULL;
}

/* Keeps @pixbuf, read from a file whose identity @st gave before the
 * read, while the budget (and a limit on address space) leaves room.
 * Under the lock. */
static void
cache_insert (GraftImageCache *cache, const char *path, const GStatBuf *st,
              GdkPixbuf *pixbuf)
{
  gsize bytes = gdk_pixbuf_get_byte_length (pixbuf);
  CacheEntry *entry;

  if (g_hash_table_contains (cache->entries, path)
      || bytes > cache->budget - cache->bytes
      || !gf_engine_has_room_for (bytes))
    return;
  entry = g_new (CacheEntry, 1);
  *entry = (CacheEntry) { g_object_ref (pixbuf), bytes, *st };
  g_hash_table_insert (cache->entries, g_strdup (path), entry);
  cache->bytes += bytes;
}

GdkPixbuf *
graft_image_cache_load (GraftImageCache *cache, const char *path,
                        GError **error)
{
  GStatBuf st;
  gboolean known = g_stat (path, &st) == 0 && S_ISREG (st.st_mode);
  GdkPixbuf *pixbuf = NULL;

  if (known)
    {
      g_mutex_lock (&cache->lock);
      pixbuf = cache_lookup (cache, path, &st);
      g_mutex_unlock (&cache->lock);
    }
  if (pixbuf != NULL)
    return pixbuf;
  /* Decoded outside the lock, so that the pool's threads decode side by
   * side; the identity was taken first, so a file changed during the
   * read is read again next time. */
  pixbuf = graft_image_load_for (path, cache->max_pixels, &cache->need,
                                 error);
  if (pixbuf != NULL && known)
    {
      g_mutex_lock (&cache->lock);
      cache_insert (cache, path, &st, pixbuf);
      g_mutex_unlock (&cache->lock);
    }
  return pixbuf;
}

/* The picture at the network's size: untouched when it already is,
 * squashed, or scaled to cover and centre-cropped in one pass. */
static GdkPixbuf *
resize (GdkPixbuf *src, const GfPreprocess *pre)
{
  int w = gdk_pixbuf_get_width (src), h = gdk_pixbuf_get_height (src);
  int out_w = (int) pre->width, out_h = (int) pre->height;
  double scale;
  GdkPixbuf *dst;

  if (w == out_w && h == out_h)
    return g_object_ref (src);
  if (pre->resize == GF_RESIZE_SQUASH)
    return gdk_pixbuf_scale_simple (src, out_w, out_h, GDK_INTERP_BILINEAR);
  scale = MAX ((double) out_w / w, (double) out_h / h);
  dst = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, out_w, out_h);
  gdk_pixbuf_scale (src, dst, 0, 0, out_w, out_h,
                    -(w * scale - out_w) / 2.0, -(h * scale - out_h) / 2.0,
                    scale, scale, GDK_INTERP_BILINEAR);
  return dst;
}

/* The crop of a view, stretched to the network's size in one pass.  The
 * view is in the source's pixels; a reduced pixbuf covers the whole
 * source, so its pixels are the source's times its share of each side. */
static GdkPixbuf *
resize_crop (GdkPixbuf *src, const GfPreprocess *pre, const GraftView *view)
{
  int out_w = (int) pre->width, out_h = (int) pre->height;
  int source_w, source_h;
  double shrink_x, shrink_y, scale_x, scale_y;
  GdkPixbuf *dst = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, out_w,
                                   out_h);

  graft_image_get_source_size (src, &source_w, &source_h);
  shrink_x = (double) gdk_pixbuf_get_width (src) / source_w;
  shrink_y = (double) gdk_pixbuf_get_height (src) / source_h;
  scale_x = out_w / (view->width * shrink_x);
  scale_y = out_h / (view->height * shrink_y);
  gdk_pixbuf_scale (src, dst, 0, 0, out_w, out_h,
                    -view->x * shrink_x * scale_x,
                    -view->y * shrink_y * scale_y, scale_x, scale_y,
                    GDK_INTERP_BILINEAR);
  return dst;
}

/* ITU-R BT.601 luma, for networks that take one gray channel. */
static float
luma (const guchar *rgb)
{
  return 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
}

/* @sized is (height, width, RGB) at the network's size; @out is
 * (channels, height, width).  Mirroring happens here, on the way out. */
static void
write_tensor (GdkPixbuf *sized, const GfPreprocess *pre, gboolean flip,
              float *out)
{
  const guchar *pixels = gdk_pixbuf_read_pixels (sized);
  int stride = gdk_pixbuf_get_rowstride (sized);
  gsize plane = pre->height * pre->width;

  for (gsize c = 0; c < pre->channels; c++)
    {
      gsize source = pre->order == GF_CHANNELS_BGR ? 2 - c : c;
      float scale = (float) (pre->scale / pre->std[c]);
      float shift = (float) (pre->mean[c] / pre->std[c]);
      float *dst = out + c * plane;
      for (gsize y = 0; y < pre->height; y++)
        {
          const guchar *row = pixels + y * stride;
          for (gsize x = 0; x < pre->width; x++)
            {
              gsize from = flip ? pre->width - 1 - x : x;
              float p = pre->channels == 1 ? luma (row + from * 3)
                : row[from * 3 + source];
              dst[y * pre->width + x] = p * scale - shift;
            }
        }
    }
}

void
graft_image_to_tensor (GdkPixbuf *pixbuf, const GfPreprocess *pre,
                       float *out)
{
  graft_image_view_to_tensor (pixbuf, pre, NULL, out);
}

void
graft_image_view_to_tensor (GdkPixbuf *pixbuf, const GfPreprocess *pre,
                            const GraftView *view, float *out)
{
  g_autoptr (GdkPixbuf) sized = NULL;

  if (view != NULL && view->cropped)
    sized = resize_crop (pixbuf, pre, view);
  else
    sized = resize (pixbuf, pre);
  write_tensor (sized, pre, view != NULL && view->flip, out);
}
