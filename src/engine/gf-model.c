/* gf-model.c: a loaded network and what Graft knows about it. */
#include "gf-model.h"

#include <stdlib.h>

void
gf_model_free (GfModel *model)
{
  if (model == NULL)
    return;
  gf_graph_free (model->graph);
  gf_metadata_free (model->metadata, model->n_metadata);
  free (model->name);
  free (model->source);
  free (model->producer);
  free (model);
}
