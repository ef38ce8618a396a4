/* gf-rng.h: a small seeded random generator (xoshiro128++ seeded by
 * splitmix64), so that dropout, initialisation and shuffling give the same
 * numbers on every machine for the same seed.  One GfRng per user: there is
 * no global state. */
#pragma once

#include <stdint.h>

typedef struct
{
  uint32_t s[4];
} GfRng;

void     gf_rng_seed    (GfRng *rng, uint64_t seed);
uint32_t gf_rng_u32     (GfRng *rng);
/* Uniform in [0, 1). */
double   gf_rng_uniform (GfRng *rng);
/* Uniform integer in [0, bound), bound > 0, without modulo bias. */
uint32_t gf_rng_below   (GfRng *rng, uint32_t bound);
/* Standard normal (Box–Muller). */
double   gf_rng_normal  (GfRng *rng);
