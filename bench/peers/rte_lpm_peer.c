/*
 * Peer benchmark: DPDK rte_lpm (DIR-24-8) on the same routes and the same lookup keys as
 * SnicRuntime's Lpm4 (bench/SnicRuntime.Bench, "lpm-peer").
 *
 * Routes: N draws of splitmix64 from state `seed`; draw r gives prefix (uint32)r masked to a
 * length chosen by r >> 56: <200 -> /24, <230 -> /16../23, <250 -> /25../32, else /8../15;
 * next hop = i & 0xFFFFFF. Keys: splitmix64 from seed + 1, low 32 bits. Both sides do exactly
 * this. Prints: ns_per_lookup=<x> found=<n>
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer_common.h"

#include <rte_eal.h>
#include <rte_lpm.h>

#define BURST 32

static int depth_of(uint64_t r)
{
	unsigned c = (unsigned)(r >> 56), x = (unsigned)(r >> 40) & 7;
	if (c < 200) return 24;
	if (c < 230) return 16 + x;
	if (c < 250) return 25 + x;
	return 8 + x;
}

int main(int argc, char **argv)
{
	uint64_t routes = 1000000, lookups = 16 * 1000 * 1000, seed = 42;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--routes") && i + 1 < argc) routes = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--lookups") && i + 1 < argc) lookups = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
		else { fprintf(stderr, "rte_lpm_peer: unknown argument '%s'\n", argv[i]); return 2; }
	}
	char *eal_argv[] = { "rte_lpm_peer", "--no-huge", "--no-pci", "-m", "2048", "-l", "0",
			     "--log-level", "lib.eal:error", "--no-telemetry" };
	if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) {
		fprintf(stderr, "rte_lpm_peer: EAL init failed\n");
		return 1;
	}
	struct rte_lpm_config cfg = { .max_rules = (uint32_t)routes + 1, .number_tbl8s = 1 << 17, .flags = 0 };
	struct rte_lpm *lpm = rte_lpm_create("peer", 0, &cfg);
	if (!lpm) { fprintf(stderr, "rte_lpm_peer: create failed\n"); return 1; }
	uint64_t s = seed;
	for (uint64_t i = 0; i < routes; i++) {
		uint64_t r = splitmix64(&s);
		int d = depth_of(r);
		uint32_t prefix = (uint32_t)r & (d == 0 ? 0 : 0xFFFFFFFFu << (32 - d));
		if (rte_lpm_add(lpm, prefix, (uint8_t)d, (uint32_t)(i & 0xFFFFFF)) < 0) {
			fprintf(stderr, "rte_lpm_peer: add %" PRIu64 " failed\n", i);
			return 1;
		}
	}
	uint32_t *keys = malloc(lookups * sizeof(uint32_t));
	uint64_t k = seed + 1;
	for (uint64_t j = 0; j < lookups; j++)
		keys[j] = (uint32_t)splitmix64(&k);
	uint32_t hops[BURST];
	uint64_t found = 0;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t n = pass == 0 ? lookups / 10 : lookups;
		found = 0;
		double t0 = now_ns();
		for (uint64_t j = 0; j + BURST <= n; j += BURST) {
			rte_lpm_lookup_bulk(lpm, keys + j, hops, BURST);
			for (int q = 0; q < BURST; q++)
				found += (hops[q] & RTE_LPM_LOOKUP_SUCCESS) != 0;
		}
		double t1 = now_ns();
		if (pass == 1)
			printf("ns_per_lookup=%.2f found=%" PRIu64 "\n", (t1 - t0) / (double)(n - n % BURST), found);
	}
	free(keys);
	rte_lpm_free(lpm);
	rte_eal_cleanup();
	return 0;
}
