/* graft-block-strip.h: a backbone's blocks as a vertical strip, input at
 * the top, each block shown frozen or trainable, and the cut (the
 * bottleneck a new head is trained on) marked under the last block.
 *
 * Its height grows with the number of blocks: put it in a
 * GtkScrolledWindow.
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef struct
{
  const char *name;          /* e.g. "layer3.1" */
  const char *kind;          /* e.g. "residual" */
  guint64 n_params;
  guint channels, height, width;   /* the block's output, C×H×W */
} GraftBlockInfo;

#define GRAFT_TYPE_BLOCK_STRIP (graft_block_strip_get_type ())
G_DECLARE_FINAL_TYPE (GraftBlockStrip, graft_block_strip, GRAFT, BLOCK_STRIP, GtkWidget)

GtkWidget *graft_block_strip_new              (void);

/* Copies blocks[0..n), input first; the cut's shape is C×H×W.  Every
 * block starts frozen. */
void       graft_block_strip_set_blocks       (GraftBlockStrip      *self,
                                               const GraftBlockInfo *blocks,
                                               guint                 n,
                                               guint                 cut_channels,
                                               guint                 cut_height,
                                               guint                 cut_width);
/* Blocks [first_trainable, n) are trainable, the rest frozen; n or more
 * freezes them all. */
void       graft_block_strip_set_trainable_from (GraftBlockStrip    *self,
                                                 guint               first_trainable);
guint      graft_block_strip_get_trainable_from (GraftBlockStrip    *self);
guint      graft_block_strip_get_n_blocks     (GraftBlockStrip      *self);
gboolean   graft_block_strip_is_trainable     (GraftBlockStrip      *self,
                                               guint                 index);

G_END_DECLS
