/* graft-integrity.c: walking JPEG segments and PNG chunks as the bytes go
 * by, to tell a complete file from one cut short. */
#define G_LOG_DOMAIN "graft-integrity"

#include "graft-integrity.h"

#include <glib/gi18n-lib.h>
#include <string.h>

/* Enough leading bytes to tell every format apart (WebP needs 12). */
#define SNIFF_BYTES 12

#define PNG_SIGNATURE_BYTES 8
#define PNG_CHUNK_HEADER_BYTES 8    /* length (big-endian), type */
#define PNG_CRC_BYTES 4
#define PNG_MAX_CHUNK_LENGTH 0x7fffffffu   /* the PNG specification's */

#define BMP_SIZE_OFFSET 2           /* bfSize, little-endian */
#define RIFF_SIZE_OFFSET 4          /* RIFF payload size, little-endian */
#define RIFF_HEADER_BYTES 8

/* JPEG marker codes, ITU T.81 table B.1. */
#define JPEG_MARKER_PREFIX 0xff
#define JPEG_STUFFED_ZERO 0x00
#define JPEG_TEM 0x01
#define JPEG_RST0 0xd0
#define JPEG_RST7 0xd7
#define JPEG_SOI 0xd8
#define JPEG_EOI 0xd9
#define JPEG_SOS 0xda
#define JPEG_LENGTH_BYTES 2         /* a segment's length counts itself */
/* Codes no JPEG marker has (reserved, or JPEG-2000's): libjpeg stops
 * on one with "Unsupported marker type". */
#define JPEG_UNKNOWN_FIRST 0x02
#define JPEG_UNKNOWN_LAST 0xbf

typedef enum
{
  JPEG_BETWEEN,       /* between segments, waiting for a marker's 0xFF */
  JPEG_CODE,          /* after 0xFF between segments */
  JPEG_LENGTH_HIGH,
  JPEG_LENGTH_LOW,
  JPEG_SKIP,          /* inside a segment's payload */
  JPEG_SCAN,          /* entropy-coded data after SOS */
  JPEG_SCAN_CODE,     /* after 0xFF inside entropy-coded data */
  JPEG_END,           /* EOI seen: anything after is a trailer */
  JPEG_BAD,           /* an unknown marker inside entropy-coded data */
} JpegState;

typedef enum
{
  PNG_SKIP,           /* the signature, or a chunk's data and CRC */
  PNG_HEADER,         /* gathering a chunk's length and type */
  PNG_END_CRC,        /* IEND's CRC */
  PNG_END,
  PNG_BAD,            /* a chunk length no PNG can have */
} PngState;

struct _GraftIntegrity
{
  GraftFormat format;
  guint8 head[SNIFF_BYTES];
  gsize head_length;
  gboolean sniffed;
  guint64 size;             /* bytes fed so far */
  guint64 declared;         /* BMP, WebP: the file size the header gives */
  guint64 skip;             /* bytes left in the current segment or chunk */

  JpegState jpeg;
  guint8 marker;            /* the segment being skipped */
  guint length;
  gboolean seen_scan;

  PngState png;
  guint8 chunk[PNG_CHUNK_HEADER_BYTES];
  gsize chunk_length;
};

GraftIntegrity *
graft_integrity_new (void)
{
  GraftIntegrity *integrity = g_new0 (GraftIntegrity, 1);

  integrity->jpeg = JPEG_BETWEEN;
  integrity->png = PNG_SKIP;
  integrity->skip = PNG_SIGNATURE_BYTES;
  return integrity;
}

void
graft_integrity_free (GraftIntegrity *integrity)
{
  g_free (integrity);
}

const char *
graft_format_name (GraftFormat format)
{
  switch (format)
    {
    case GRAFT_FORMAT_PNG: return "PNG";
    case GRAFT_FORMAT_JPEG: return "JPEG";
    case GRAFT_FORMAT_GIF: return "GIF";
    case GRAFT_FORMAT_BMP: return "BMP";
    case GRAFT_FORMAT_TIFF: return "TIFF";
    case GRAFT_FORMAT_WEBP: return "WebP";
    case GRAFT_FORMAT_UNKNOWN:
    default: return "unknown";
    }
}

static gboolean
has_prefix (const GraftIntegrity *it, const void *magic, gsize length,
            gsize offset)
{
  return it->head_length >= offset + length
    && memcmp (it->head + offset, magic, length) == 0;
}

static guint32
read_le32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16
    | (guint32) p[3] << 24;
}

static void
sniff (GraftIntegrity *it)
{
  it->sniffed = TRUE;
  if (has_prefix (it, "\x89PNG\r\n\x1a\n", PNG_SIGNATURE_BYTES, 0))
    it->format = GRAFT_FORMAT_PNG;
  else if (has_prefix (it, "\xff\xd8\xff", 3, 0))
    it->format = GRAFT_FORMAT_JPEG;
  else if (has_prefix (it, "GIF8", 4, 0))
    it->format = GRAFT_FORMAT_GIF;
  else if (has_prefix (it, "II*\0", 4, 0) || has_prefix (it, "MM\0*", 4, 0))
    it->format = GRAFT_FORMAT_TIFF;
  else if (has_prefix (it, "RIFF", 4, 0) && has_prefix (it, "WEBP", 4, 8))
    {
      it->format = GRAFT_FORMAT_WEBP;
      it->declared = (guint64) read_le32 (it->head + RIFF_SIZE_OFFSET)
        + RIFF_HEADER_BYTES;
    }
  else if (has_prefix (it, "BM", 2, 0) && it->head_length >= 6)
    {
      it->format = GRAFT_FORMAT_BMP;
      it->declared = read_le32 (it->head + BMP_SIZE_OFFSET);
    }
}

/* ---- JPEG ---------------------------------------------------------------- */

static void
jpeg_segment_done (GraftIntegrity *it)
{
  if (it->marker == JPEG_SOS)
    {
      it->seen_scan = TRUE;
      it->jpeg = JPEG_SCAN;
    }
  else
    it->jpeg = JPEG_BETWEEN;
}

/* The byte after an 0xFF.  Standalone markers (restart, stuffed zero,
 * SOI, TEM) and fill bytes carry no length, so the walk goes back to
 * where it was; any other marker opens a segment, even inside the
 * entropy-coded data (a progressive JPEG's next DHT or SOS). */
static void
jpeg_code (GraftIntegrity *it, guint8 code, JpegState resume)
{
  if (code == JPEG_MARKER_PREFIX)
    it->jpeg = resume == JPEG_SCAN ? JPEG_SCAN_CODE : JPEG_CODE;
  else if (code == JPEG_EOI)
    it->jpeg = JPEG_END;
  else if (code == JPEG_STUFFED_ZERO || code == JPEG_SOI || code == JPEG_TEM
           || (code >= JPEG_RST0 && code <= JPEG_RST7))
    it->jpeg = resume;
  /* Damaged image data: a whole decode fails when libjpeg reads this
   * marker after the scan, but a decode at a reduced scale stops once it
   * has its lines and would never see it. */
  else if (resume == JPEG_SCAN && code >= JPEG_UNKNOWN_FIRST
           && code <= JPEG_UNKNOWN_LAST)
    it->jpeg = JPEG_BAD;
  else
    {
      it->marker = code;
      it->jpeg = JPEG_LENGTH_HIGH;
    }
}

static void
jpeg_step (GraftIntegrity *it, guint8 byte)
{
  switch (it->jpeg)
    {
    case JPEG_BETWEEN:
      /* Stray bytes between segments are tolerated, as libjpeg does. */
      if (byte == JPEG_MARKER_PREFIX)
        it->jpeg = JPEG_CODE;
      break;
    case JPEG_CODE:
      jpeg_code (it, byte, JPEG_BETWEEN);
      break;
    case JPEG_SCAN_CODE:
      jpeg_code (it, byte, JPEG_SCAN);
      break;
    case JPEG_LENGTH_HIGH:
      it->length = (guint) byte << 8;
      it->jpeg = JPEG_LENGTH_LOW;
      break;
    case JPEG_LENGTH_LOW:
      it->length |= byte;
      it->skip = it->length > JPEG_LENGTH_BYTES
        ? it->length - JPEG_LENGTH_BYTES : 0;
      it->jpeg = JPEG_SKIP;
      if (it->skip == 0)
        jpeg_segment_done (it);
      break;
    case JPEG_SKIP:
    case JPEG_SCAN:
    case JPEG_END:
    case JPEG_BAD:
    default:
      break;
    }
}

static void
jpeg_feed (GraftIntegrity *it, const guint8 *p, gsize size)
{
  const guint8 *end = p + size;

  while (p < end && it->jpeg != JPEG_END && it->jpeg != JPEG_BAD)
    {
      if (it->jpeg == JPEG_SCAN)
        {
          /* Entropy-coded data is most of the file: jump to the next
           * 0xFF rather than stepping byte by byte. */
          const guint8 *prefix = memchr (p, JPEG_MARKER_PREFIX,
                                         (gsize) (end - p));
          if (prefix == NULL)
            return;
          it->jpeg = JPEG_SCAN_CODE;
          p = prefix + 1;
        }
      else if (it->jpeg == JPEG_SKIP)
        {
          gsize take = (gsize) MIN (it->skip, (guint64) (end - p));
          it->skip -= take;
          p += take;
          if (it->skip == 0)
            jpeg_segment_done (it);
        }
      else
        jpeg_step (it, *p++);
    }
}

/* ---- PNG ----------------------------------------------------------------- */

static void
png_chunk (GraftIntegrity *it)
{
  const guint8 *c = it->chunk;
  guint32 length = (guint32) c[0] << 24 | (guint32) c[1] << 16
    | (guint32) c[2] << 8 | (guint32) c[3];

  it->chunk_length = 0;
  if (length > PNG_MAX_CHUNK_LENGTH)
    {
      it->png = PNG_BAD;
      return;
    }
  it->skip = (guint64) length + PNG_CRC_BYTES;
  it->png = memcmp (it->chunk + 4, "IEND", 4) == 0 ? PNG_END_CRC : PNG_SKIP;
}

static void
png_feed (GraftIntegrity *it, const guint8 *p, gsize size)
{
  while (size > 0 && it->png != PNG_END && it->png != PNG_BAD)
    {
      gsize take;

      if (it->png == PNG_SKIP || it->png == PNG_END_CRC)
        {
          take = (gsize) MIN (it->skip, (guint64) size);
          it->skip -= take;
          if (it->skip == 0)
            it->png = it->png == PNG_END_CRC ? PNG_END : PNG_HEADER;
        }
      else
        {
          take = MIN (PNG_CHUNK_HEADER_BYTES - it->chunk_length, size);
          memcpy (it->chunk + it->chunk_length, p, take);
          it->chunk_length += take;
          if (it->chunk_length == PNG_CHUNK_HEADER_BYTES)
            png_chunk (it);
        }
      p += take;
      size -= take;
    }
}

/* ---- Both ---------------------------------------------------------------- */

static void
walk (GraftIntegrity *it, const guint8 *data, gsize size)
{
  if (it->format == GRAFT_FORMAT_JPEG)
    jpeg_feed (it, data, size);
  else if (it->format == GRAFT_FORMAT_PNG)
    png_feed (it, data, size);
}

void
graft_integrity_feed (GraftIntegrity *it, const guint8 *data, gsize size)
{
  it->size += size;
  if (!it->sniffed)
    {
      gsize take = MIN (SNIFF_BYTES - it->head_length, size);
      memcpy (it->head + it->head_length, data, take);
      it->head_length += take;
      data += take;
      size -= take;
      if (it->head_length < SNIFF_BYTES)
        return;
      sniff (it);
      walk (it, it->head, it->head_length);
    }
  walk (it, data, size);
}

GraftFormat
graft_integrity_get_format (GraftIntegrity *it)
{
  return it->format;
}

static GraftIntegrityResult
incomplete (const char **reason, const char *why)
{
  if (reason != NULL)
    *reason = why;
  return GRAFT_INTEGRITY_TRUNCATED;
}

static GraftIntegrityResult
jpeg_finish (GraftIntegrity *it, const char **reason)
{
  if (it->jpeg == JPEG_BAD)
    {
      if (reason != NULL)
        *reason = _("the JPEG image data holds an unknown marker");
      return GRAFT_INTEGRITY_MALFORMED;
    }
  if (!it->seen_scan)
    return incomplete (reason, _("the JPEG file ends before its image "
                                 "data"));
  if (it->jpeg != JPEG_END)
    return incomplete (reason, _("the JPEG data stops before its end "
                                 "marker"));
  return GRAFT_INTEGRITY_COMPLETE;
}

GraftIntegrityResult
graft_integrity_finish (GraftIntegrity *it, const char **reason)
{
  if (!it->sniffed)
    {
      sniff (it);
      walk (it, it->head, it->head_length);
    }
  if (reason != NULL)
    *reason = NULL;
  switch (it->format)
    {
    case GRAFT_FORMAT_JPEG:
      return jpeg_finish (it, reason);
    case GRAFT_FORMAT_PNG:
      if (it->png == PNG_BAD)
        {
          if (reason != NULL)
            *reason = _("a PNG chunk claims an impossible length");
          return GRAFT_INTEGRITY_MALFORMED;
        }
      if (it->png != PNG_END)
        return incomplete (reason, _("the PNG data stops before its end "
                                     "chunk (IEND)"));
      break;
    case GRAFT_FORMAT_BMP:
    case GRAFT_FORMAT_WEBP:
      if (it->size < it->declared)
        return incomplete (reason, _("the file is shorter than its header "
                                     "says"));
      break;
    case GRAFT_FORMAT_GIF:
    case GRAFT_FORMAT_TIFF:
    case GRAFT_FORMAT_UNKNOWN:
    default:
      break;
    }
  return GRAFT_INTEGRITY_COMPLETE;
}
