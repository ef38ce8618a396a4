/* graft-head.h: the classifier Graft grafts onto a backbone's cut.
 *
 * GlobalAveragePool → Flatten → [Dense(hidden) → ReLU] → Dropout →
 * Dense(classes), or Dense(1) for a sigmoid two-class head (the seed's
 * Dense(32, relu) + Dense(1, sigmoid) layout).  Its weights are named
 * "head.*" so that they move between graphs by name.
 */
#pragma once

#include <glib.h>

#include "gf-graph.h"

G_BEGIN_DECLS

typedef struct
{
  guint n_classes;
  guint hidden;        /* 0: no hidden layer */
  double dropout;
  gboolean sigmoid;    /* one output and a sigmoid; two classes only */
} GraftHeadLayout;

/* Appends the head after @from, a (N, @channels, H, W) map of an
 * uncompiled graph (whose shapes are not known yet), initialising it the
 * way PyTorch initialises Linear layers (uniform in ±1/√fan_in) from
 * @rng; returns the logits tensor. */
int graft_head_append (GfGraph *graph, int from, size_t channels,
                       const GraftHeadLayout *layout, GfRng *rng,
                       GError **error);

/* Appends Softmax (or Sigmoid) after @logits; returns the probabilities. */
int graft_head_append_probabilities (GfGraph *graph, int logits,
                                     const GraftHeadLayout *layout,
                                     GError **error);

/* The head's trainable weights: every "head.*" PARAM of @graph. */
void graft_head_set_trainable (GfGraph *graph);

G_END_DECLS
