/* graft-test-limits.h: tests that run code under a limit on address space
 * (RLIMIT_AS), as `ulimit -v` sets it, to see memory run out where the
 * code must say so.  AddressSanitizer reserves terabytes of shadow memory
 * up front, so under it such tests skip. */
#pragma once

#include <glib.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define GRAFT_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GRAFT_TEST_UNDER_ASAN 1
#endif
#endif

/* Limits this process to the address space it uses now plus @room bytes
 * (for a g_test_trap_subprocess child: the limit stays). */
static inline void
graft_test_limit_address_space (gsize room)
{
  unsigned long pages = 0;
  FILE *statm = fopen ("/proc/self/statm", "r");
  struct rlimit limit;

  g_assert_nonnull (statm);
  g_assert_cmpint (fscanf (statm, "%lu", &pages), ==, 1);
  fclose (statm);
  limit.rlim_cur = limit.rlim_max = pages * (gsize) sysconf (_SC_PAGESIZE)
    + room;
  g_assert_cmpint (setrlimit (RLIMIT_AS, &limit), ==, 0);
}
