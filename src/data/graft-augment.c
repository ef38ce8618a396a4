/* graft-augment.c: the geometry of seeded training views. */
#define G_LOG_DOMAIN "graft-augment"

#include "graft-augment.h"

#include <math.h>

#include "gf-rng.h"

#define CROP_TRIES 10       /* as torchvision, before the fallback */
#define FLIP_PROBABILITY 0.5
#define VIEW_DOMAIN "graft-view-v1"

void
graft_augment_init (GraftAugment *augment, gboolean flip, gboolean crop)
{
  augment->flip = flip;
  augment->crop = crop;
  augment->scale_min = GRAFT_CROP_SCALE_MIN;
  augment->scale_max = GRAFT_CROP_SCALE_MAX;
  augment->ratio_min = GRAFT_CROP_RATIO_MIN;
  augment->ratio_max = GRAFT_CROP_RATIO_MAX;
}

/* A generator for one (seed, sample, view): SHA-256 of the three, so
 * nearby seeds or view ids give unrelated streams. */
static void
seed_view (GfRng *rng, guint64 seed, const char *sample_key, guint view)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint64 seed_le = GUINT64_TO_LE (seed);
  guint32 view_le = GUINT32_TO_LE (view);
  guint8 digest[32];
  gsize length = sizeof digest;
  guint64 state = 0;

  g_checksum_update (sum, (const guchar *) VIEW_DOMAIN, sizeof VIEW_DOMAIN);
  g_checksum_update (sum, (const guchar *) &seed_le, sizeof seed_le);
  g_checksum_update (sum, (const guchar *) &view_le, sizeof view_le);
  g_checksum_update (sum, (const guchar *) (sample_key ? sample_key : ""), -1);
  g_checksum_get_digest (sum, digest, &length);
  for (int i = 0; i < 8; i++)
    state = state << 8 | digest[i];
  gf_rng_seed (rng, state);
}

static double
uniform (GfRng *rng, double low, double high)
{
  return low + (high - low) * gf_rng_uniform (rng);
}

/* The largest centred crop whose aspect is within the ratio range. */
static void
centre_crop (const GraftAugment *a, int width, int height, GraftView *out)
{
  double aspect = (double) width / height;

  out->width = width;
  out->height = height;
  if (aspect < a->ratio_min)
    out->height = MAX (1, (int) lround (width / a->ratio_min));
  else if (aspect > a->ratio_max)
    out->width = MAX (1, (int) lround (height * a->ratio_max));
  out->x = (width - out->width) / 2;
  out->y = (height - out->height) / 2;
}

static void
random_crop (const GraftAugment *a, GfRng *rng, int width, int height,
             GraftView *out)
{
  double area = (double) width * height;
  double log_low = log (a->ratio_min), log_high = log (a->ratio_max);

  out->cropped = TRUE;
  for (int i = 0; i < CROP_TRIES; i++)
    {
      double target = area * uniform (rng, a->scale_min, a->scale_max);
      double aspect = exp (uniform (rng, log_low, log_high));
      int w = (int) lround (sqrt (target * aspect));
      int h = (int) lround (sqrt (target / aspect));
      if (w > 0 && w <= width && h > 0 && h <= height)
        {
          out->width = w;
          out->height = h;
          out->y = (int) gf_rng_below (rng, (uint32_t) (height - h + 1));
          out->x = (int) gf_rng_below (rng, (uint32_t) (width - w + 1));
          return;
        }
    }
  centre_crop (a, width, height, out);
}

void
graft_augment_plan (const GraftAugment *augment, guint64 seed,
                    const char *sample_key, guint view, int width,
                    int height, GraftView *out)
{
  GfRng rng;

  *out = (GraftView) { FALSE, 0, 0, width, height, FALSE };
  if (augment == NULL || view == GRAFT_VIEW_PLAIN
      || (!augment->crop && !augment->flip))
    return;
  seed_view (&rng, seed, sample_key, view);
  /* torchvision's order: crop, then flip. */
  if (augment->crop)
    random_crop (augment, &rng, width, height, out);
  if (augment->flip)
    out->flip = gf_rng_uniform (&rng) < FLIP_PROBABILITY;
}

char *
graft_augment_describe (const GraftAugment *augment, guint64 seed,
                        guint view)
{
  const double ranges[] = { augment ? augment->scale_min : 0,
    augment ? augment->scale_max : 0, augment ? augment->ratio_min : 0,
    augment ? augment->ratio_max : 0 };
  char text[G_N_ELEMENTS (ranges)][G_ASCII_DTOSTR_BUF_SIZE];

  if (augment == NULL || view == GRAFT_VIEW_PLAIN
      || (!augment->crop && !augment->flip))
    return g_strdup ("plain");
  /* g_ascii_dtostr: round-trip exact and the same in every locale. */
  for (gsize i = 0; i < G_N_ELEMENTS (ranges); i++)
    g_ascii_dtostr (text[i], sizeof text[i], ranges[i]);
  return g_strdup_printf ("flip=%d crop=%d scale=%s:%s ratio=%s:%s "
                          "seed=%" G_GUINT64_FORMAT " view=%u",
                          augment->flip != FALSE, augment->crop != FALSE,
                          text[0], text[1], text[2], text[3], seed, view);
}
