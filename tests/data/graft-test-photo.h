/* graft-test-photo.h: large photo-like JPEGs made at test time, for the
 * reduced-scale decoding test and benchmark. */
#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>

G_BEGIN_DECLS

/* Phone photos: 12 megapixels, 4:3. */
#define GRAFT_TEST_PHOTO_WIDTH 4032
#define GRAFT_TEST_PHOTO_HEIGHT 3024
#define GRAFT_TEST_PHOTO_QUALITY "90"

/* Smooth gradients, a few discs, a striped band and mild noise, all
 * from @seed: something like a photo, not a flat colour, and lopsided
 * enough that a turned or mirrored copy differs. */
GdkPixbuf *graft_test_photo (int width, int height, guint32 seed);

/* Saves @pixbuf as a JPEG at GRAFT_TEST_PHOTO_QUALITY; with
 * @orientation 1 to 8, an EXIF APP1 segment saying it (GdkPixbuf cannot
 * write one) follows the start-of-image marker. */
void graft_test_save_photo (GdkPixbuf *pixbuf, const char *path,
                            int orientation);

G_END_DECLS
