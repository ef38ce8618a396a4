/* graft-backbone-private.h: what the training layer and graft-cli need
 * of a GraftBackbone beyond plain numbers: its engine model and where it
 * is cut.  The desktop app does not include this. */
#pragma once

#include "gf-blocks.h"
#include "gf-model.h"
#include "graft-backbone.h"

G_BEGIN_DECLS

/* The loaded network, owned by @self.  A caller that changes its weights
 * (the trainer's master copy) owns the backbone it changes. */
GfModel       *graft_backbone_get_model      (GraftBackbone *self);
/* The cut's tensor in the model's graph, and the bottleneck's (which
 * stays the same when the cut is moved). */
int            graft_backbone_get_cut_tensor (GraftBackbone *self);
int            graft_backbone_get_bottleneck (GraftBackbone *self);
/* The engine's blocks from the input up to the cut, in order. */
const GfBlock *graft_backbone_get_gf_blocks  (GraftBackbone *self,
                                              gsize *n_blocks);

/* The class names of the model's own output: graft.labels when the file
 * has it (checked against the output's size), else "class N".  Fails
 * with one line when graft.labels is malformed or does not fit; @sigmoid
 * is TRUE when one output is the probability of the second of two
 * labels.  NULL-terminated, owned by @self. */
const char *const *graft_backbone_get_labels (GraftBackbone *self,
                                              gboolean *sigmoid,
                                              GError **error);

/* graft.labels' text as class names (NULL-terminated, at least two), or
 * NULL with one line when it is not a JSON array of strings; the text is
 * refused by size and depth before it is parsed.  Exposed for the tests
 * and the fuzzer. */
char **graft_backbone_parse_labels (const char *text, GError **error);

void graft_preprocessing_from_gf (GraftPreprocessing *pre,
                                  const GfPreprocess *gf, gboolean from_file);
void graft_preprocessing_to_gf   (const GraftPreprocessing *pre,
                                  GfPreprocess *gf);

G_END_DECLS
