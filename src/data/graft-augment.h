/* graft-augment.h: seeded augmentation — which part of a picture a
 * training view shows, and whether it is mirrored.
 *
 * A view is named by an integer: view 0 is the plain picture (the
 * backbone's own resize, no randomness), views 1, 2, ... are augmented.
 * The geometry of a view depends only on (seed, sample key, view id) and
 * the picture's size, through a generator seeded from their SHA-256, so a
 * view is the same pixels on every run and every machine, and a feature
 * cache may key on it.  The sample key should be the picture's content
 * hash: the same picture then gets the same views wherever it lies.
 *
 * The random resized crop follows torchvision's RandomResizedCrop: up to
 * ten tries at an area fraction drawn uniformly from the scale range and an
 * aspect ratio drawn log-uniformly from the ratio range, falling back to
 * the largest centred crop within the ratio range; the crop is then
 * resized to the network's size without keeping its aspect.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* torchvision's defaults for RandomResizedCrop. */
#define GRAFT_CROP_SCALE_MIN 0.08
#define GRAFT_CROP_SCALE_MAX 1.0
#define GRAFT_CROP_RATIO_MIN (3.0 / 4.0)
#define GRAFT_CROP_RATIO_MAX (4.0 / 3.0)

#define GRAFT_VIEW_PLAIN 0u

typedef struct
{
  gboolean flip;                 /* mirror left-right with probability 1/2 */
  gboolean crop;                 /* random resized crop */
  double scale_min, scale_max;   /* crop area / picture area */
  double ratio_min, ratio_max;   /* crop width / crop height */
} GraftAugment;

/* What one view shows of an upright picture. */
typedef struct
{
  gboolean cropped;     /* FALSE: the backbone's own resize of the whole */
  int x, y;             /* the crop's top-left corner, in pixels */
  int width, height;    /* the crop's size, in pixels */
  gboolean flip;        /* mirrored left-right after resizing */
} GraftView;

/* @augment with torchvision's ranges and the two switches. */
void graft_augment_init (GraftAugment *augment, gboolean flip,
                         gboolean crop);

/* Draws view @view of a @width × @height picture.  @augment may be NULL
 * (no augmentation); view GRAFT_VIEW_PLAIN is never augmented. */
void graft_augment_plan (const GraftAugment *augment, guint64 seed,
                         const char *sample_key, guint view, int width,
                         int height, GraftView *out);

/* A string naming the view's recipe for cache keys: "plain", or the
 * switches, ranges, seed and view id. */
char *graft_augment_describe (const GraftAugment *augment, guint64 seed,
                              guint view);

G_END_DECLS
