/* graft-lr-finder.h: the learning-rate range test.
 *
 * Trains the chosen mode's trainable part (same data, split, backbone,
 * cut, head, mode and frozen blocks as a run of the configuration starts
 * with — for progressive unfreezing, the head — and no augmentation) for
 * a few hundred steps while the learning rate grows
 * exponentially from GRAFT_LR_FINDER_MIN to GRAFT_LR_FINDER_MAX, cycling
 * through the training batches, and records the loss at each rate.  It
 * stops early once the smoothed loss passes GRAFT_LR_FINDER_DIVERGED
 * times its lowest, or the loss is NaN or infinite.
 *
 * The suggestion is the rate at the steepest fall of the smoothed loss
 * (per decade of rate), looked for before the loss's minimum: there the
 * model learns fastest while still well short of where the loss turns
 * up, which the minimum's rate already is.  When the curve is too short
 * before its minimum to have a slope, a tenth of the minimum's rate is
 * suggested instead (the usual safe step back from the turn).
 *
 * The test trains a private copy (the backbone loaded afresh from its
 * file, the head drawn from the seed, both dropped afterwards) and writes
 * no run folder, so a run started afterwards starts from exactly the
 * weights it would have had without it; pooled features go through the
 * feature cache as a run's do, so feature extraction takes seconds.
 */
#pragma once

#include <gio/gio.h>

#include "graft-run-config.h"

G_BEGIN_DECLS

#define GRAFT_LR_FINDER_MIN 1e-7        /* the first step's rate */
#define GRAFT_LR_FINDER_MAX 10.0        /* the last step's rate */
#define GRAFT_LR_FINDER_MIN_STEPS 100   /* small data: batches cycled */
#define GRAFT_LR_FINDER_MAX_STEPS 300   /* large data: part of an epoch */
#define GRAFT_LR_FINDER_DIVERGED 4.0    /* smoothed loss over its lowest */

/* One step of the test: its rate, the batch's loss and the loss
 * smoothed up to it (a debiased exponential moving average). */
typedef struct
{
  double lr;
  double loss;
  double smoothed;
} GraftLrPoint;

typedef enum
{
  GRAFT_LR_RULE_STEEPEST,   /* the steepest fall of the smoothed loss */
  GRAFT_LR_RULE_MINIMUM,    /* a tenth of the rate at its minimum */
} GraftLrRule;

typedef struct
{
  GArray *points;           /* GraftLrPoint, by rising rate; finite */
  double suggested_lr;      /* rounded to two significant digits */
  GraftLrRule rule;
  guint suggested_index;    /* the point the suggestion was read at */
  gboolean diverged;        /* stopped before the last rate */
} GraftLrResult;

#define GRAFT_TYPE_LR_RESULT (graft_lr_result_get_type ())
GType          graft_lr_result_get_type (void);
GraftLrResult *graft_lr_result_copy     (const GraftLrResult *result);
void           graft_lr_result_free     (GraftLrResult *result);

/* The rule's word in graft-cli's JSON: "steepest" or "minimum". */
const char    *graft_lr_rule_to_string  (GraftLrRule rule);

/* 0..1: the steps done of those planned. */
typedef void (*GraftLrProgressFunc) (double fraction, gpointer user_data);

/* Runs the test on the calling thread, calling @progress (may be NULL)
 * there.  Cancelling @cancellable from any thread stops it within a
 * pass (G_IO_ERROR_CANCELLED).  Fails with one line when @config is
 * invalid or the data or backbone cannot be read. */
GraftLrResult *graft_lr_find        (const GraftRunConfig *config,
                                     GraftLrProgressFunc progress,
                                     gpointer progress_data,
                                     GCancellable *cancellable,
                                     GError **error);
/* The same on a worker thread; @progress is called on the caller's
 * thread-default main context, coalesced (the latest report only), and
 * never after the callback has collected the result. */
void           graft_lr_find_async  (const GraftRunConfig *config,
                                     GraftLrProgressFunc progress,
                                     gpointer progress_data,
                                     GDestroyNotify progress_data_free,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
GraftLrResult *graft_lr_find_finish (GAsyncResult *result, GError **error);

/* The suggestion for a recorded curve, into @result's suggested_lr, rule
 * and suggested_index (@result->points must hold at least one point). */
void           graft_lr_suggest     (GraftLrResult *result);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftLrResult, graft_lr_result_free)

G_END_DECLS
