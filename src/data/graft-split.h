/* graft-split.h: which pictures validate, stratified, seeded and stable.
 *
 * A picture's side depends only on the seed and its path relative to its
 * class folder: HMAC-SHA-256 keyed by the seed over that path (in Unicode
 * NFC, so a folder copied between file systems that normalise names
 * differently keeps its split) gives a position in [0, 1), and the picture
 * validates when its position is below the validation fraction.  Adding
 * or removing pictures never moves the others; the same seed gives the
 * same split on every machine.  Being decided per picture within each
 * class, the split is stratified: each class validates about the fraction
 * of its pictures.
 *
 * One exception keeps every class with two or more pictures on both sides
 * (when the fraction is above 0): a class the positions left without a
 * validation picture gives its lowest-positioned one to validation, and one
 * left without a training picture keeps its highest-positioned one for
 * training.  Only such small or unlucky classes can see a picture change
 * side when pictures are added.
 */
#pragma once

#include "graft-scan.h"

G_BEGIN_DECLS

#define GRAFT_DEFAULT_VAL_FRACTION 0.2
#define GRAFT_DEFAULT_SEED 0

/* The position in [0, 1) of a picture at @relative below its class. */
double graft_split_position (guint64 seed, const char *relative);

/* Sets every sample's side and every class's n_train and n_val, and
 * records @seed and @val_fraction (clamped to [0, 1]) in @scan. */
void graft_split_apply (GraftScan *scan, guint64 seed, double val_fraction);

G_END_DECLS
