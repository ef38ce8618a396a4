/* graft-health.h: what is wrong with a data set as a whole — empty or
 * lone classes, classes too small to learn or to validate, imbalance,
 * and exact duplicates (same content hash): within a class (wasted),
 * across classes (a labelling error) and across the split (validation
 * pictures the model trained on). */
#pragma once

#include "graft-scan.h"

G_BEGIN_DECLS

#define GRAFT_MIN_CLASS_PICTURES 5
#define GRAFT_IMBALANCE_RATIO 3.0   /* largest / smallest class, to warn */

/* The warnings for @scan after its split, GraftWarning *, in a fixed
 * order: classes first, then duplicates in the order of the samples. */
GPtrArray *graft_health_check (const GraftScan *scan);

G_END_DECLS
