/*
 * Peer benchmark: DPDK rte_lpm6 on the same IPv6 routes and keys as SnicRuntime's Lpm6
 * (bench/SnicRuntime.Bench, "lpm6-peer").
 *
 * Address space: 1024 "allocations" (/32s), allocation a = 0x2000_0000 | (splitmix64 from seed + 2)
 * low 28 bits. Route i: draw r; top 32 bits = allocation[(r >> 40) % 1024], bits 32-95 = next
 * draw; length by c = r >> 56: < 128 -> /48, < 192 -> /32 + (r>>32)%16, < 240 -> /56 or /64
 * ((r>>33)&1), else /16 + (r>>32)%16 (value = 16 top bits of the allocation). Next hop i & 0xFFFFF.
 * Keys: draws from seed + 1: allocation[(k >> 40) % 1024] then the next draw for bits 32-95.
 * Prints: ns_per_lookup=<x> found=<n> checksum=<sum of next hops + 1>
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer_common.h"

#include <rte_eal.h>
#include <rte_lpm6.h>

#define BURST 32

static void put(uint8_t *ip, uint32_t top, uint64_t mid)
{
	memset(ip, 0, 16);
	for (int b = 0; b < 4; b++) ip[b] = (uint8_t)(top >> (24 - 8 * b));
	for (int b = 0; b < 8; b++) ip[4 + b] = (uint8_t)(mid >> (56 - 8 * b));
}

static void mask(uint8_t *ip, int depth)
{
	for (int b = 0; b < 16; b++) {
		int keep = depth - 8 * b;
		ip[b] &= keep >= 8 ? 0xFF : keep <= 0 ? 0 : (uint8_t)(0xFF << (8 - keep));
	}
}

int main(int argc, char **argv)
{
	uint64_t routes = 100000, lookups = 8 * 1000 * 1000, seed = 42;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--routes") && i + 1 < argc) routes = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--lookups") && i + 1 < argc) lookups = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
		else { fprintf(stderr, "rte_lpm6_peer: unknown argument '%s'\n", argv[i]); return 2; }
	}
	char *eal_argv[] = { "rte_lpm6_peer", "--no-huge", "--no-pci", "-m", "4096", "-l", "0",
			     "--log-level", "lib.eal:error", "--no-telemetry" };
	if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) {
		fprintf(stderr, "rte_lpm6_peer: EAL init failed\n");
		return 1;
	}
	uint32_t alloc[1024];
	uint64_t a = seed + 2;
	for (int i = 0; i < 1024; i++) alloc[i] = 0x20000000u | ((uint32_t)splitmix64(&a) & 0x0FFFFFFF);
	struct rte_lpm6_config cfg = { .max_rules = (uint32_t)routes + 1, .number_tbl8s = 1 << 20, .flags = 0 };
	struct rte_lpm6 *lpm = rte_lpm6_create("peer6", 0, &cfg);
	if (!lpm) { fprintf(stderr, "rte_lpm6_peer: create failed\n"); return 1; }
	uint64_t s = seed;
	uint8_t ip[16];
	for (uint64_t i = 0; i < routes; i++) {
		uint64_t r = splitmix64(&s);
		uint64_t mid = splitmix64(&s);
		unsigned c = (unsigned)(r >> 56);
		int depth = c < 128 ? 48 : c < 192 ? 32 + (int)((r >> 32) % 16) : c < 240 ? (((r >> 33) & 1) ? 64 : 56) : 16 + (int)((r >> 32) % 16);
		put(ip, alloc[(r >> 40) % 1024], mid);
		mask(ip, depth);
		if (rte_lpm6_add(lpm, ip, (uint8_t)depth, (uint32_t)(i & 0xFFFFF)) < 0) {
			fprintf(stderr, "rte_lpm6_peer: add %" PRIu64 " failed\n", i);
			return 1;
		}
	}
	uint8_t (*keys)[16] = malloc(lookups * 16);
	uint64_t k = seed + 1;
	for (uint64_t j = 0; j < lookups; j++) {
		uint64_t v = splitmix64(&k);
		put(keys[j], alloc[(v >> 40) % 1024], splitmix64(&k));
	}
	int32_t hops[BURST];
	uint64_t found = 0, checksum = 0;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t n = pass == 0 ? lookups / 10 : lookups;
		found = checksum = 0;
		double t0 = now_ns();
		for (uint64_t j = 0; j + BURST <= n; j += BURST) {
			rte_lpm6_lookup_bulk_func(lpm, keys + j, hops, BURST);
			for (int q = 0; q < BURST; q++) {
				found += hops[q] >= 0;
				checksum += (uint64_t)(hops[q] + 1);
			}
		}
		double t1 = now_ns();
		if (pass == 1)
			printf("ns_per_lookup=%.2f found=%" PRIu64 " checksum=%" PRIu64 "\n", (t1 - t0) / (double)(n - n % BURST), found, checksum);
	}
	free(keys);
	rte_lpm6_free(lpm);
	rte_eal_cleanup();
	return 0;
}
