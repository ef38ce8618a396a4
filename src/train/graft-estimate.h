/* graft-estimate.h: how long a run will take in each mode, before it
 * starts (SPEC §1 step 4).
 *
 * A probe measures, on this machine, what one picture costs: decoding it,
 * each block of the backbone in inference and in training (forward and
 * backward), the head, and an optimizer step per weight.  The estimate is
 * then arithmetic over the data set's size and the configuration: a
 * frozen prefix is computed once when nothing changes the pictures (no
 * augmentation) and again every epoch otherwise, exactly as the trainer
 * does.  The probe takes a few seconds on a full-size backbone; run it on
 * a worker thread.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "graft-run-config.h"

G_BEGIN_DECLS

typedef struct _GraftProbe GraftProbe;

/* Scans @config's data and splits it as a run would, decodes a few of
 * its pictures, loads the backbone and times it at @config's batch (up
 * to a small cap) with @config's head and optimizer.  The mode, epochs,
 * unfreezing and augmentation of @config play no part. */
GraftProbe *graft_probe_new     (const GraftRunConfig *config,
                                 GError **error);
void        graft_probe_free    (GraftProbe *probe);

guint       graft_probe_n_train (const GraftProbe *probe);
guint       graft_probe_n_val   (const GraftProbe *probe);
/* What was measured, per picture in seconds, for the curious. */
JsonNode   *graft_probe_to_json (const GraftProbe *probe);

typedef struct
{
  guint epochs;          /* planned; progressive: every stage in the cap */
  double first_epoch;    /* seconds */
  double later_epochs;   /* seconds per epoch after the first, on average */
  double seconds;        /* the whole run, with its data scan */
} GraftModeEstimate;

/* What a run of @config (its mode, epochs, unfreezing, stage length,
 * augmentation and batch) would take.  Progressive runs are estimated to
 * the last stage: a plateau may end them sooner. */
void graft_estimate_mode (const GraftProbe *probe,
                          const GraftRunConfig *config,
                          GraftModeEstimate *estimate);

/* The seed's rule: up to about a thousand pictures (and below a hundred
 * all the more) train the head alone; a large data set fine-tunes,
 * unless fine-tuning (@finetune_seconds) would not fit in
 * @budget_seconds (0: no budget).  @reason gets one sentence. */
GraftRunMode graft_estimate_recommend (guint n_pictures,
                                       double finetune_seconds,
                                       double budget_seconds,
                                       char **reason);

/* Pictures from which a data set counts as large. */
#define GRAFT_ESTIMATE_LARGE_DATA_SET 1000
/* Below this many, even feature extraction is short of examples. */
#define GRAFT_ESTIMATE_SMALL_DATA_SET 100

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftProbe, graft_probe_free)

G_END_DECLS
