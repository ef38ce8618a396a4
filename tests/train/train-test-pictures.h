/* train-test-pictures.h: labelled picture folders made at test time for
 * the training tests, so that they need no data from outside the tree. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writes @parent/@name/class-a … with @per_class PNGs of @side × @side
 * per class (at most three classes): each class its own colour and
 * gradient direction, with noise from @seed.  Returns the folder. */
char *train_test_make_classes (const char *parent, const char *name,
                               guint n_classes, guint per_class, int side,
                               guint32 seed);

/* rm -rf @path. */
void  train_test_rm_rf (const char *path);

G_END_DECLS
