/* train-test-pictures.c: labelled picture folders made at test time. */
#define G_LOG_DOMAIN "train-test-pictures"

#include "train-test-pictures.h"

#include <gdk-pixbuf/gdk-pixbuf.h>

#include "graft-files.h"

#define MAX_CLASSES 3
#define NOISE 40

static void
save_picture (const char *path, guint klass, int side, GRand *rand)
{
  static const guint8 base[MAX_CLASSES][3] = {
    { 200, 60, 60 }, { 60, 200, 60 }, { 60, 60, 200 }
  };
  g_autoptr (GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8,
                                                 side, side);
  guchar *p = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);

  for (int y = 0; y < side; y++)
    for (int x = 0; x < side; x++)
      for (int c = 0; c < 3; c++)
        {
          /* Class 0 fades left to right, 1 top to bottom, 2 diagonally. */
          int ramp = klass == 0 ? x : klass == 1 ? y : (x + y) / 2;
          int v = base[klass][c] - ramp * 40 / side
            + g_rand_int_range (rand, -NOISE, NOISE + 1);
          p[y * stride + x * 3 + c] = (guchar) CLAMP (v, 0, 255);
        }
  g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", NULL, NULL));
}

char *
train_test_make_classes (const char *parent, const char *name,
                         guint n_classes, guint per_class, int side,
                         guint32 seed)
{
  char *root = g_build_filename (parent, name, NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);

  g_assert_cmpuint (n_classes, <=, MAX_CLASSES);
  for (guint k = 0; k < n_classes; k++)
    {
      g_autofree char *class_name = g_strdup_printf ("class-%c", 'a' + k);
      g_autofree char *dir = g_build_filename (root, class_name, NULL);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
      for (guint i = 0; i < per_class; i++)
        {
          g_autofree char *file = g_strdup_printf ("%04u.png", i);
          g_autofree char *path = g_build_filename (dir, file, NULL);
          save_picture (path, k, side, rand);
        }
    }
  return root;
}

void
train_test_rm_rf (const char *path)
{
  graft_remove_tree (path);
}
