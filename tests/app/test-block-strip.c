/* test-block-strip.c: GraftBlockStrip — blocks copied and counted, which
 * are trainable, a height that grows with the blocks, and screenshots of 2
 * and 40 blocks in the light and dark styles (written to
 * $GRAFT_TEST_SCREENSHOT_DIR if set).
 */
#include <glib/gi18n.h>

#include "graft-block-strip.h"

#define MANY_BLOCKS 40
#define WINDOW_WIDTH 320
#define WINDOW_HEIGHT 560

static const GraftBlockInfo resnet_tail[] = {
  { "stem", "conv-bn-relu-pool", 9536, 64, 56, 56 },
  { "layer1", "residual", 147968, 64, 56, 56 },
};

static void
assert_trainable_from (GraftBlockStrip *strip,
                       guint            first)
{
  for (guint i = 0; i < graft_block_strip_get_n_blocks (strip); i++)
    g_assert_cmpint (graft_block_strip_is_trainable (strip, i), ==, i >= first);
}

static GraftBlockInfo *
many_blocks (guint n)
{
  GraftBlockInfo *blocks = g_new0 (GraftBlockInfo, n);

  for (guint i = 0; i < n; i++)
    {
      blocks[i].name = g_strdup_printf ("features.%u", i);
      blocks[i].kind = i % 3 == 0 ? "inverted residual + squeeze-excitation"
                                  : "inverted residual";
      blocks[i].n_params = 1000u * (i + 1) * (i + 1);
      blocks[i].channels = 16 * (1 + i / 4);
      blocks[i].height = blocks[i].width = MAX (7, 112 >> (i / 8));
    }
  return blocks;
}

static void
free_blocks (GraftBlockInfo *blocks,
             guint           n)
{
  for (guint i = 0; i < n; i++)
    g_free ((char *) blocks[i].name);
  g_free (blocks);
}

static void
test_blocks (void)
{
  GtkWidget *widget = g_object_ref_sink (graft_block_strip_new ());
  GraftBlockStrip *strip = GRAFT_BLOCK_STRIP (widget);
  GraftBlockInfo *blocks = many_blocks (MANY_BLOCKS);
  int two_height, many_height;
  guint first;

  g_assert_cmpuint (graft_block_strip_get_n_blocks (strip), ==, 0);
  graft_block_strip_set_blocks (strip, resnet_tail, G_N_ELEMENTS (resnet_tail),
                                64, 56, 56);
  g_assert_cmpuint (graft_block_strip_get_n_blocks (strip), ==, 2);
  assert_trainable_from (strip, 2);
  gtk_widget_measure (widget, GTK_ORIENTATION_VERTICAL, -1, NULL, &two_height,
                      NULL, NULL);

  /* The strip keeps its own copy. */
  graft_block_strip_set_blocks (strip, blocks, MANY_BLOCKS, 1280, 7, 7);
  free_blocks (blocks, MANY_BLOCKS);
  g_assert_cmpuint (graft_block_strip_get_n_blocks (strip), ==, MANY_BLOCKS);
  gtk_widget_measure (widget, GTK_ORIENTATION_VERTICAL, -1, NULL, &many_height,
                      NULL, NULL);
  g_assert_cmpint (many_height, >, two_height * 10);

  graft_block_strip_set_trainable_from (strip, 38);
  assert_trainable_from (strip, 38);
  g_object_set (widget, "trainable-from", 0, NULL);
  assert_trainable_from (strip, 0);
  g_object_get (widget, "trainable-from", &first, NULL);
  g_assert_cmpuint (first, ==, 0);
  graft_block_strip_set_trainable_from (strip, MANY_BLOCKS);
  assert_trainable_from (strip, MANY_BLOCKS);
  g_object_unref (widget);
}

static void
save_screenshot (GtkWidget  *window,
                 const char *name)
{
  const char *dir = g_getenv ("GRAFT_TEST_SCREENSHOT_DIR");
  int width = gtk_widget_get_width (window);
  int height = gtk_widget_get_height (window);
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (window));
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *path = NULL;
  GtkSnapshot *snapshot;

  if (dir == NULL)
    return;
  gtk_widget_queue_draw (window);
  gtk_test_widget_wait_for_draw (window);
  snapshot = gtk_snapshot_new ();
  paintable = gtk_widget_paintable_new (window);
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  path = g_build_filename (dir, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

static void
screenshot_both_styles (GtkWidget  *window,
                        const char *name)
{
  g_autofree char *light = g_strdup_printf ("%s-light.png", name);
  g_autofree char *dark = g_strdup_printf ("%s-dark.png", name);

  save_screenshot (window, light);
  g_object_set (gtk_settings_get_default (),
                "gtk-application-prefer-dark-theme", TRUE, NULL);
  save_screenshot (window, dark);
  g_object_set (gtk_settings_get_default (),
                "gtk-application-prefer-dark-theme", FALSE, NULL);
}

static void
test_screenshots (void)
{
  GtkWidget *window = gtk_window_new ();
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *widget = graft_block_strip_new ();
  GraftBlockStrip *strip = GRAFT_BLOCK_STRIP (widget);
  GraftBlockInfo *blocks = many_blocks (MANY_BLOCKS);

  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled),
                                  GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), widget);
  gtk_window_set_child (GTK_WINDOW (window), scrolled);
  gtk_window_set_default_size (GTK_WINDOW (window), WINDOW_WIDTH, WINDOW_HEIGHT);
  gtk_window_present (GTK_WINDOW (window));
  gtk_test_widget_wait_for_draw (window);

  graft_block_strip_set_blocks (strip, resnet_tail, G_N_ELEMENTS (resnet_tail),
                                64, 56, 56);
  graft_block_strip_set_trainable_from (strip, 1);
  screenshot_both_styles (window, "block-strip-2");

  graft_block_strip_set_blocks (strip, blocks, MANY_BLOCKS, 1280, 7, 7);
  graft_block_strip_set_trainable_from (strip, MANY_BLOCKS - 3);
  screenshot_both_styles (window, "block-strip-40");
  /* The end of the strip, where the trainable blocks and the cut are. */
  gtk_adjustment_set_value (gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled)),
                            G_MAXINT);
  screenshot_both_styles (window, "block-strip-40-end");

  free_blocks (blocks, MANY_BLOCKS);
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/app/block-strip/blocks", test_blocks);
  g_test_add_func ("/app/block-strip/screenshots", test_screenshots);

  return g_test_run ();
}
