/* graft-split.c: the seeded, per-picture validation split. */
#define G_LOG_DOMAIN "graft-split"

#include "graft-split.h"

#define POSITION_BITS 53    /* a double's mantissa: exact in [0, 1) */

double
graft_split_position (guint64 seed, const char *relative)
{
  g_autoptr (GHmac) hmac = NULL;
  g_autofree char *normal = g_utf8_validate (relative, -1, NULL)
    ? g_utf8_normalize (relative, -1, G_NORMALIZE_NFC) : NULL;
  const char *text = normal != NULL ? normal : relative;
  guint64 key = GUINT64_TO_LE (seed), bits = 0;
  guint8 digest[32];
  gsize length = sizeof digest;

  hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) &key, sizeof key);
  g_hmac_update (hmac, (const guchar *) text, -1);
  g_hmac_get_digest (hmac, digest, &length);
  for (int i = 0; i < 8; i++)
    bits = bits << 8 | digest[i];
  return (double) (bits >> (64 - POSITION_BITS))
    / (double) ((guint64) 1 << POSITION_BITS);
}

/* Keeps a class of two or more pictures on both sides: see the header. */
static void
fix_class (GraftScan *scan, guint label, const double *positions)
{
  GraftClass *klass = scan->classes->pdata[label];
  gboolean to_val = klass->n_val == 0;
  int pick = -1;

  if (klass->count < 2 || (klass->n_val > 0 && klass->n_train > 0))
    return;
  for (guint i = 0; i < scan->samples->len; i++)
    {
      GraftSample *s = &g_array_index (scan->samples, GraftSample, i);
      if (s->label != label)
        continue;
      if (pick < 0 || (to_val ? positions[i] < positions[pick]
                       : positions[i] > positions[pick]))
        pick = (int) i;
    }
  g_array_index (scan->samples, GraftSample, pick).val = to_val;
  if (to_val)
    {
      klass->n_val++;
      klass->n_train--;
    }
  else
    {
      klass->n_train++;
      klass->n_val--;
    }
}

void
graft_split_apply (GraftScan *scan, guint64 seed, double val_fraction)
{
  g_autofree double *positions = g_new (double, scan->samples->len + 1);

  scan->seed = seed;
  scan->val_fraction = CLAMP (val_fraction, 0.0, 1.0);
  for (guint c = 0; c < scan->classes->len; c++)
    {
      GraftClass *klass = scan->classes->pdata[c];
      klass->n_train = klass->n_val = 0;
    }
  for (guint i = 0; i < scan->samples->len; i++)
    {
      GraftSample *s = &g_array_index (scan->samples, GraftSample, i);
      GraftClass *klass = scan->classes->pdata[s->label];
      positions[i] = graft_split_position (seed, s->relative);
      s->val = positions[i] < scan->val_fraction;
      if (s->val)
        klass->n_val++;
      else
        klass->n_train++;
    }
  if (scan->val_fraction > 0.0)
    for (guint c = 0; c < scan->classes->len; c++)
      fix_class (scan, c, positions);
}
