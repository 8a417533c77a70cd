/*
 * Shared by the C peer benchmarks: the key generator both sides implement (splitmix64, the same
 * as BenchKeys.Next in bench/SnicRuntime.Bench) and the clock.
 */
#ifndef SNIC_PEER_COMMON_H
#define SNIC_PEER_COMMON_H

#include <stdint.h>
#include <time.h>

static inline uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static inline double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#endif
