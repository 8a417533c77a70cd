/*
 * Peer benchmark: DPDK rte_hash bulk lookup on the same keys, in the same order, as
 * SnicRuntime's flow table benchmark (bench/SnicRuntime.Bench, "flowtable-peer").
 *
 * Keys: key i is successive splitmix64 outputs from state (seed + i * 0x10000); misses use
 * seed ^ 0x5EED. Lookup order: index j = splitmix64 stream from (seed + 1) modulo flows.
 * Both sides implement exactly this, so they look up identical bytes in identical order.
 *
 * Prints: ns_per_lookup=<x> hits=<n>
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer_common.h"

#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>

#define BURST 32

static void make_key(uint8_t *dst, unsigned key_len, uint64_t seed, uint64_t i)
{
	uint64_t state = seed + i * 0x10000ULL;
	for (unsigned w = 0; w < key_len / 8; w++) {
		uint64_t v = splitmix64(&state);
		memcpy(dst + w * 8, &v, 8);
	}
}

int main(int argc, char **argv)
{
	uint64_t flows = 1000000, lookups = 8 * 1000 * 1000, seed = 42;
	unsigned key_len = 16;
	int miss = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--flows") && i + 1 < argc) flows = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--key") && i + 1 < argc) key_len = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--lookups") && i + 1 < argc) lookups = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--miss")) miss = 1;
		else { fprintf(stderr, "rte_hash_peer: unknown argument '%s'\n", argv[i]); return 2; }
	}
	if (key_len != 16 && key_len != 40) { fprintf(stderr, "rte_hash_peer: --key must be 16 or 40\n"); return 2; }

	char *eal_argv[] = { "rte_hash_peer", "--no-huge", "--no-pci", "-m", "3072", "-l", "0",
			     "--log-level", "lib.eal:error", "--no-telemetry" };
	if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) {
		fprintf(stderr, "rte_hash_peer: EAL init failed\n");
		return 1;
	}

	struct rte_hash_parameters params = {
		.name = "peer",
		.entries = (uint32_t)flows,
		.key_len = key_len,
		.hash_func = rte_hash_crc,
		.hash_func_init_val = 0,
		.socket_id = 0,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct rte_hash *h = rte_hash_create(&params);
	if (!h) { fprintf(stderr, "rte_hash_peer: rte_hash_create failed\n"); return 1; }

	uint8_t key[40];
	for (uint64_t i = 0; i < flows; i++) {
		make_key(key, key_len, seed, i);
		if (rte_hash_add_key(h, key) < 0) { fprintf(stderr, "rte_hash_peer: add %" PRIu64 " failed\n", i); return 1; }
	}

	/* The lookup stream, materialised so the timed loop only reads keys. */
	uint8_t *stream = malloc(lookups * key_len);
	uint64_t order = seed + 1;
	for (uint64_t j = 0; j < lookups; j++)
		make_key(stream + j * key_len, key_len, miss ? seed ^ 0x5EED : seed, splitmix64(&order) % flows);

	const void *ptrs[BURST];
	int32_t positions[BURST];
	uint64_t hits = 0;
	/* One warm-up pass over a tenth of the stream, then the timed pass. */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t n = pass == 0 ? lookups / 10 : lookups;
		double t0 = now_ns();
		hits = 0;
		for (uint64_t j = 0; j + BURST <= n; j += BURST) {
			for (int k = 0; k < BURST; k++)
				ptrs[k] = stream + (j + k) * key_len;
			rte_hash_lookup_bulk(h, ptrs, BURST, positions);
			for (int k = 0; k < BURST; k++)
				hits += positions[k] >= 0;
		}
		double t1 = now_ns();
		if (pass == 1)
			printf("ns_per_lookup=%.2f hits=%" PRIu64 "\n", (t1 - t0) / (double)(n - n % BURST), hits);
	}
	free(stream);
	rte_hash_free(h);
	rte_eal_cleanup();
	return 0;
}
