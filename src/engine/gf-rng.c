/* gf-rng.c: xoshiro128++ (Blackman and Vigna) with splitmix64 seeding. */
#include "gf-rng.h"

#include <math.h>

static uint64_t
splitmix64 (uint64_t *state)
{
  uint64_t z = (*state += UINT64_C (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void
gf_rng_seed (GfRng *rng, uint64_t seed)
{
  uint64_t state = seed;
  uint64_t a = splitmix64 (&state);
  uint64_t b = splitmix64 (&state);

  rng->s[0] = (uint32_t) a;
  rng->s[1] = (uint32_t) (a >> 32);
  rng->s[2] = (uint32_t) b;
  rng->s[3] = (uint32_t) (b >> 32);
}

static inline uint32_t
rotl (uint32_t x, int k)
{
  return (x << k) | (x >> (32 - k));
}

uint32_t
gf_rng_u32 (GfRng *rng)
{
  uint32_t *s = rng->s;
  uint32_t result = rotl (s[0] + s[3], 7) + s[0];
  uint32_t t = s[1] << 9;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 11);
  return result;
}

double
gf_rng_uniform (GfRng *rng)
{
  /* 53 random bits from two draws fill a double's mantissa exactly. */
  uint64_t hi = gf_rng_u32 (rng) >> 5;
  uint64_t lo = gf_rng_u32 (rng) >> 6;

  return (double) ((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

uint32_t
gf_rng_below (GfRng *rng, uint32_t bound)
{
  /* Reject the top sliver that would favour small values. */
  uint32_t threshold = (uint32_t) (-bound) % bound;

  for (;;)
    {
      uint32_t r = gf_rng_u32 (rng);
      if (r >= threshold)
        return r % bound;
    }
}

double
gf_rng_normal (GfRng *rng)
{
  double u1 = 1.0 - gf_rng_uniform (rng);   /* (0, 1]: log is finite */
  double u2 = gf_rng_uniform (rng);

  return sqrt (-2.0 * log (u1)) * cos (2.0 * M_PI * u2);
}
