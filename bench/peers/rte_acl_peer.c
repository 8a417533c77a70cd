/*
 * Peer benchmark: DPDK rte_acl on the same ACL group and the same packets as SnicRuntime's
 * AclGroup (bench/SnicRuntime.Bench, "acl-peer").
 *
 * Group: R rules; rule i (priority i, lower wins) draws r = splitmix64(s): source prefix
 * 10.x/8..16 (length 8 + (r>>56)%9, address 0x0A000000 | next draw's low 24 bits), protocol
 * TCP if (r>>8)&1 else UDP, destination ports lo = (r>>16)&0x3FFF .. lo + ((r>>32)&0x3FF), any
 * source port, and P destination prefixes, each from one draw d: length 16 + (d>>56)%13,
 * address 0x0A000000 | (d & 0xFFFFFF). rte_acl holds one rule per destination prefix (P per
 * group rule, same priority and result). Keys: draws k from seed + 1: source 10/8 | k bits 0-23,
 * destination 10/8 | bits 24-47, TCP if bit 48 else UDP, destination port bits 49-62.
 * Result: rule index + 1, 0 for no match. Prints: ns_per_lookup=<x> found=<n> checksum=<sum>
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "peer_common.h"

#include <rte_acl.h>
#include <rte_eal.h>

#define BURST 32

struct ipv4_5tuple {
	uint8_t proto;
	uint32_t ip_src;
	uint32_t ip_dst;
	uint16_t port_src;
	uint16_t port_dst;
};

enum { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT, NUM_FIELDS };

static struct rte_acl_field_def defs[NUM_FIELDS] = {
	{ .type = RTE_ACL_FIELD_TYPE_BITMASK, .size = 1, .field_index = F_PROTO, .input_index = 0, .offset = offsetof(struct ipv4_5tuple, proto) },
	{ .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_SRC, .input_index = 1, .offset = offsetof(struct ipv4_5tuple, ip_src) },
	{ .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_DST, .input_index = 2, .offset = offsetof(struct ipv4_5tuple, ip_dst) },
	{ .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_SPORT, .input_index = 3, .offset = offsetof(struct ipv4_5tuple, port_src) },
	{ .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_DPORT, .input_index = 3, .offset = offsetof(struct ipv4_5tuple, port_dst) },
};

RTE_ACL_RULE_DEF(acl4_rule, NUM_FIELDS);

static uint32_t masked(uint32_t a, unsigned len) { return len == 0 ? 0 : a & (0xFFFFFFFFu << (32 - len)); }

int main(int argc, char **argv)
{
	uint64_t rules = 1000, prefixes = 100, lookups = 4 * 1000 * 1000, seed = 42;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rules") && i + 1 < argc) rules = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--prefixes") && i + 1 < argc) prefixes = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--lookups") && i + 1 < argc) lookups = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
		else { fprintf(stderr, "rte_acl_peer: unknown argument '%s'\n", argv[i]); return 2; }
	}
	char *eal_argv[] = { "rte_acl_peer", "--no-huge", "--no-pci", "-m", "8192", "-l", "0",
			     "--log-level", "lib.eal:error", "--no-telemetry" };
	if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) {
		fprintf(stderr, "rte_acl_peer: EAL init failed\n");
		return 1;
	}
	uint64_t total = rules * prefixes;
	struct rte_acl_param param = { .name = "peer", .socket_id = 0, .rule_size = RTE_ACL_RULE_SZ(NUM_FIELDS),
				       .max_rule_num = (uint32_t)total };
	struct rte_acl_ctx *ctx = rte_acl_create(&param);
	if (!ctx) { fprintf(stderr, "rte_acl_peer: create failed\n"); return 1; }
	struct acl4_rule *list = calloc(prefixes, sizeof(*list));
	uint64_t s = seed;
	for (uint64_t i = 0; i < rules; i++) {
		uint64_t r = splitmix64(&s);
		unsigned src_len = 8 + (unsigned)((r >> 56) % 9);
		uint32_t src = masked(0x0A000000u | ((uint32_t)splitmix64(&s) & 0xFFFFFF), src_len);
		uint8_t proto = ((r >> 8) & 1) ? 6 : 17;
		uint16_t lo = (uint16_t)((r >> 16) & 0x3FFF), hi = (uint16_t)(lo + ((r >> 32) & 0x3FF));
		for (uint64_t p = 0; p < prefixes; p++) {
			uint64_t d = splitmix64(&s);
			unsigned len = 16 + (unsigned)((d >> 56) % 13);
			struct acl4_rule *x = &list[p];
			memset(x, 0, sizeof(*x));
			x->data.userdata = (uint32_t)i + 1;
			x->data.category_mask = 1;
			x->data.priority = (int32_t)(rules - i); /* rte_acl: higher wins */
			x->field[F_PROTO].value.u8 = proto;
			x->field[F_PROTO].mask_range.u8 = 0xFF;
			x->field[F_SRC].value.u32 = src;
			x->field[F_SRC].mask_range.u32 = src_len;
			x->field[F_DST].value.u32 = masked(0x0A000000u | ((uint32_t)d & 0xFFFFFF), len);
			x->field[F_DST].mask_range.u32 = len;
			x->field[F_SPORT].value.u16 = 0;
			x->field[F_SPORT].mask_range.u16 = 0xFFFF;
			x->field[F_DPORT].value.u16 = lo;
			x->field[F_DPORT].mask_range.u16 = hi;
		}
		if (rte_acl_add_rules(ctx, (struct rte_acl_rule *)list, (uint32_t)prefixes) != 0) {
			fprintf(stderr, "rte_acl_peer: add rules failed at rule %" PRIu64 "\n", i);
			return 1;
		}
	}
	struct rte_acl_config cfg = { .num_categories = 1, .num_fields = NUM_FIELDS, .max_size = 0 };
	memcpy(cfg.defs, defs, sizeof(defs));
	double b0 = now_ns();
	if (rte_acl_build(ctx, &cfg) != 0) { fprintf(stderr, "rte_acl_peer: build failed\n"); return 1; }
	fprintf(stderr, "rte_acl_peer: built %" PRIu64 " rte_acl rules in %.1f s\n", total, (now_ns() - b0) / 1e9);

	struct ipv4_5tuple *keys = calloc(lookups, sizeof(*keys));
	const uint8_t **ptrs = malloc(lookups * sizeof(*ptrs));
	uint64_t k = seed + 1;
	for (uint64_t j = 0; j < lookups; j++) {
		uint64_t v = splitmix64(&k);
		keys[j].ip_src = htonl(0x0A000000u | (uint32_t)(v & 0xFFFFFF));
		keys[j].ip_dst = htonl(0x0A000000u | (uint32_t)((v >> 24) & 0xFFFFFF));
		keys[j].proto = ((v >> 48) & 1) ? 6 : 17;
		keys[j].port_src = 0;
		keys[j].port_dst = htons((uint16_t)((v >> 49) & 0x3FFF));
		ptrs[j] = (const uint8_t *)&keys[j];
	}
	uint32_t results[BURST];
	uint64_t found = 0, checksum = 0;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t n = pass == 0 ? lookups / 10 : lookups;
		found = checksum = 0;
		double t0 = now_ns();
		for (uint64_t j = 0; j + BURST <= n; j += BURST) {
			rte_acl_classify(ctx, ptrs + j, results, BURST, 1);
			for (int q = 0; q < BURST; q++) {
				found += results[q] != 0;
				checksum += results[q];
			}
		}
		double t1 = now_ns();
		if (pass == 1)
			printf("ns_per_lookup=%.2f found=%" PRIu64 " checksum=%" PRIu64 "\n", (t1 - t0) / (double)(n - n % BURST), found, checksum);
	}
	rte_acl_free(ctx);
	rte_eal_cleanup();
	return 0;
}
