/* gf-preprocess.c: preprocessing presets and their graft.* metadata. */
#define _GNU_SOURCE   /* newlocale, uselocale */
#include "gf-preprocess.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_SIZE "graft.input_size"
#define KEY_RESIZE "graft.resize"
#define KEY_ORDER "graft.channel_order"
#define KEY_SCALE "graft.scale"
#define KEY_MEAN "graft.mean"
#define KEY_STD "graft.std"
#define MAX_INPUT_SIDE 8192
#define NUMBER_TEXT_MAX 96

static const double imagenet_mean[3] = { 0.485, 0.456, 0.406 };
static const double imagenet_std[3] = { 0.229, 0.224, 0.225 };
static const double caffe_mean_bgr[3] = { 103.939, 116.779, 123.68 };

void
gf_preprocess_preset (GfPreprocess *pre, GfPreprocessPreset preset,
                      size_t height, size_t width)
{
  memset (pre, 0, sizeof *pre);
  pre->height = height;
  pre->width = width;
  pre->channels = 3;
  pre->resize = GF_RESIZE_SHORTER_CROP;
  pre->order = GF_CHANNELS_RGB;
  for (int c = 0; c < 3; c++)
    {
      switch (preset)
        {
        case GF_PRESET_KERAS_TF:
          pre->scale = 1.0 / 127.5;
          pre->mean[c] = 1.0;
          pre->std[c] = 1.0;
          break;
        case GF_PRESET_KERAS_CAFFE:
          pre->order = GF_CHANNELS_BGR;
          pre->scale = 1.0;
          pre->mean[c] = caffe_mean_bgr[c];
          pre->std[c] = 1.0;
          break;
        case GF_PRESET_IMAGENET_TORCH:
        default:
          pre->scale = 1.0 / 255.0;
          pre->mean[c] = imagenet_mean[c];
          pre->std[c] = imagenet_std[c];
          break;
        }
    }
}

/* ---- Numbers in the C locale, whatever the application's locale ------- */

/* Parses up to @max comma-separated finite numbers; returns how many, or
 * −1 when the text is not such a list. */
static int
parse_numbers (const char *text, double *values, int max)
{
  locale_t c_locale = newlocale (LC_NUMERIC_MASK, "C", (locale_t) 0);
  locale_t previous;
  int n = 0;

  if (c_locale == (locale_t) 0)
    return -1;
  previous = uselocale (c_locale);
  while (n < max)
    {
      char *end;
      double v = strtod (text, &end);
      if (end == text || !isfinite (v))
        break;
      values[n++] = v;
      text = end;
      while (*text == ' ')
        text++;
      if (*text != ',')
        break;
      text++;
    }
  uselocale (previous);
  freelocale (c_locale);
  while (*text == ' ')
    text++;
  return *text == '\0' && n > 0 ? n : -1;
}

static void
format_numbers (char *out, size_t size, const double *values, int n)
{
  locale_t c_locale = newlocale (LC_NUMERIC_MASK, "C", (locale_t) 0);
  locale_t previous = c_locale ? uselocale (c_locale) : (locale_t) 0;
  size_t used = 0;

  out[0] = '\0';
  for (int i = 0; i < n && used < size; i++)
    used += (size_t) snprintf (out + used, size - used, "%s%.9g",
                               i ? "," : "", values[i]);
  if (c_locale)
    {
      uselocale (previous);
      freelocale (c_locale);
    }
}

/* ---- Metadata arrays ---------------------------------------------------- */

const char *
gf_metadata_lookup (const GfMetadataEntry *entries, size_t n_entries,
                    const char *key)
{
  for (size_t i = 0; i < n_entries; i++)
    if (strcmp (entries[i].key, key) == 0)
      return entries[i].value;
  return NULL;
}

GfStatus
gf_metadata_set (GfMetadataEntry **entries, size_t *n_entries,
                 const char *key, const char *value, GfError *error)
{
  char *v = strdup (value);
  GfMetadataEntry *grown;

  if (v == NULL)
    return gf_error_set (error, GF_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < *n_entries; i++)
    if (strcmp ((*entries)[i].key, key) == 0)
      {
        free ((*entries)[i].value);
        (*entries)[i].value = v;
        return GF_OK;
      }
  grown = realloc (*entries, (*n_entries + 1) * sizeof **entries);
  if (grown == NULL || (grown[*n_entries].key = strdup (key)) == NULL)
    {
      if (grown != NULL)
        *entries = grown;
      free (v);
      return gf_error_set (error, GF_ERR_NOMEM, "out of memory");
    }
  grown[*n_entries].value = v;
  *entries = grown;
  (*n_entries)++;
  return GF_OK;
}

void
gf_metadata_free (GfMetadataEntry *entries, size_t n_entries)
{
  for (size_t i = 0; i < n_entries; i++)
    {
      free (entries[i].key);
      free (entries[i].value);
    }
  free (entries);
}

/* ---- Reading and writing ------------------------------------------------ */

static GfStatus
read_size (GfPreprocess *pre, const char *text, GfError *error)
{
  double v[2];
  int n = parse_numbers (text, v, 2);

  for (int i = 0; i < n; i++)
    if (v[i] < 1 || v[i] > MAX_INPUT_SIDE || v[i] != floor (v[i]))
      n = -1;
  if (n < 1)
    return gf_error_set (error, GF_ERR_FORMAT, "metadata " KEY_SIZE " '%s' "
                         "is not a size such as 224 or 224,224", text);
  pre->height = (size_t) v[0];
  pre->width = (size_t) v[n - 1];
  return GF_OK;
}

static GfStatus
read_triple (double *out, const char *key, const char *text, bool positive,
             GfError *error)
{
  double v[3];
  int n = parse_numbers (text, v, 3);

  for (int i = 0; i < n; i++)
    if (positive && v[i] <= 0)
      n = -1;
  if (n != 1 && n != 3)
    return gf_error_set (error, GF_ERR_FORMAT, "metadata %s '%s' is not one "
                         "or three %snumbers", key, text,
                         positive ? "positive " : "");
  for (int c = 0; c < 3; c++)
    out[c] = v[n == 3 ? c : 0];
  return GF_OK;
}

static GfStatus
read_words (GfPreprocess *pre, const GfMetadataEntry *entries, size_t n,
            GfError *error)
{
  const char *resize = gf_metadata_lookup (entries, n, KEY_RESIZE);
  const char *order = gf_metadata_lookup (entries, n, KEY_ORDER);

  if (resize != NULL && strcmp (resize, "shorter-crop") == 0)
    pre->resize = GF_RESIZE_SHORTER_CROP;
  else if (resize != NULL && strcmp (resize, "squash") == 0)
    pre->resize = GF_RESIZE_SQUASH;
  else if (resize != NULL)
    return gf_error_set (error, GF_ERR_FORMAT, "metadata " KEY_RESIZE
                         " '%s' is neither shorter-crop nor squash", resize);
  if (order != NULL && strcmp (order, "RGB") == 0)
    pre->order = GF_CHANNELS_RGB;
  else if (order != NULL && strcmp (order, "BGR") == 0)
    pre->order = GF_CHANNELS_BGR;
  else if (order != NULL)
    return gf_error_set (error, GF_ERR_FORMAT, "metadata " KEY_ORDER
                         " '%s' is neither RGB nor BGR", order);
  return GF_OK;
}

GfStatus
gf_preprocess_from_metadata (GfPreprocess *pre,
                             const GfMetadataEntry *entries, size_t n,
                             GfError *error)
{
  GfPreprocess next = *pre;
  const char *size = gf_metadata_lookup (entries, n, KEY_SIZE);
  const char *scale = gf_metadata_lookup (entries, n, KEY_SCALE);
  const char *mean = gf_metadata_lookup (entries, n, KEY_MEAN);
  const char *std = gf_metadata_lookup (entries, n, KEY_STD);
  GfStatus status = read_words (&next, entries, n, error);

  if (status == GF_OK && size != NULL)
    status = read_size (&next, size, error);
  if (status == GF_OK && scale != NULL
      && (parse_numbers (scale, &next.scale, 1) != 1 || next.scale <= 0))
    status = gf_error_set (error, GF_ERR_FORMAT, "metadata " KEY_SCALE
                           " '%s' is not a positive number", scale);
  if (status == GF_OK && mean != NULL)
    status = read_triple (next.mean, KEY_MEAN, mean, false, error);
  if (status == GF_OK && std != NULL)
    status = read_triple (next.std, KEY_STD, std, true, error);
  if (status == GF_OK)
    *pre = next;
  return status;
}

GfStatus
gf_preprocess_to_metadata (const GfPreprocess *pre, GfMetadataEntry **entries,
                           size_t *n_entries, GfError *error)
{
  char size[NUMBER_TEXT_MAX], scale[NUMBER_TEXT_MAX];
  char mean[NUMBER_TEXT_MAX], std[NUMBER_TEXT_MAX];
  double hw[2] = { (double) pre->height, (double) pre->width };
  GfStatus status;

  *entries = NULL;
  *n_entries = 0;
  format_numbers (size, sizeof size, hw, 2);
  format_numbers (scale, sizeof scale, &pre->scale, 1);
  format_numbers (mean, sizeof mean, pre->mean, 3);
  format_numbers (std, sizeof std, pre->std, 3);
  if ((status = gf_metadata_set (entries, n_entries, KEY_SIZE, size,
                                 error)) != GF_OK
      || (status = gf_metadata_set (entries, n_entries, KEY_RESIZE,
                                    pre->resize == GF_RESIZE_SQUASH
                                    ? "squash" : "shorter-crop",
                                    error)) != GF_OK
      || (status = gf_metadata_set (entries, n_entries, KEY_ORDER,
                                    pre->order == GF_CHANNELS_BGR
                                    ? "BGR" : "RGB", error)) != GF_OK
      || (status = gf_metadata_set (entries, n_entries, KEY_SCALE, scale,
                                    error)) != GF_OK
      || (status = gf_metadata_set (entries, n_entries, KEY_MEAN, mean,
                                    error)) != GF_OK
      || (status = gf_metadata_set (entries, n_entries, KEY_STD, std,
                                    error)) != GF_OK)
    {
      gf_metadata_free (*entries, *n_entries);
      *entries = NULL;
      *n_entries = 0;
    }
  return status;
}
