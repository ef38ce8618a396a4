/* gf-preprocess.h: how a backbone wants its pictures, and how that is
 * written in an ONNX file's metadata_props under keys prefixed "graft.".
 *
 * A pixel p in [0, 255] of channel c (in the model's channel order) enters
 * the network as (p · scale − mean[c]) / std[c].  The presets:
 *   ImageNet/torch  RGB, scale 1/255, mean 0.485 0.456 0.406,
 *                   std 0.229 0.224 0.225
 *   Keras "tf"      RGB, scale 1/127.5, mean 1 1 1, std 1 1 1  (→ [−1, 1])
 *   Keras "caffe"   BGR, scale 1, mean 103.939 116.779 123.68, std 1 1 1
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gf-status.h"

typedef enum
{
  GF_RESIZE_SHORTER_CROP,  /* shorter side to size, then centre crop */
  GF_RESIZE_SQUASH,        /* both sides to size, aspect not kept */
} GfResizeMode;

typedef enum
{
  GF_CHANNELS_RGB,
  GF_CHANNELS_BGR,
} GfChannelOrder;

typedef enum
{
  GF_PRESET_IMAGENET_TORCH,
  GF_PRESET_KERAS_TF,
  GF_PRESET_KERAS_CAFFE,
} GfPreprocessPreset;

typedef struct
{
  size_t height, width;    /* the network's input size */
  size_t channels;         /* 3, or 1 for a gray network */
  GfResizeMode resize;
  GfChannelOrder order;
  double scale;
  double mean[3], std[3];
} GfPreprocess;

/* One metadata_props entry. */
typedef struct
{
  char *key;
  char *value;
} GfMetadataEntry;

void gf_preprocess_preset (GfPreprocess *pre, GfPreprocessPreset preset,
                           size_t height, size_t width);

/* Reads the graft.* keys present in @entries over @pre (which holds the
 * defaults); a malformed value is an error naming the key. */
GfStatus gf_preprocess_from_metadata (GfPreprocess *pre,
                                      const GfMetadataEntry *entries,
                                      size_t n_entries, GfError *error);

/* The graft.* entries describing @pre, newly allocated (free each key and
 * value, then the array, with gf_metadata_free). */
GfStatus gf_preprocess_to_metadata (const GfPreprocess *pre,
                                    GfMetadataEntry **entries,
                                    size_t *n_entries, GfError *error);

void gf_metadata_free (GfMetadataEntry *entries, size_t n_entries);

/* Looks a key up; NULL when absent. */
const char *gf_metadata_lookup (const GfMetadataEntry *entries,
                                size_t n_entries, const char *key);

/* Sets (replaces or appends) a key in a growable array. */
GfStatus gf_metadata_set (GfMetadataEntry **entries, size_t *n_entries,
                          const char *key, const char *value,
                          GfError *error);
