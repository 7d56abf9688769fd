/*
 * Host unit tests of the pool checker (kernel/cluster/poolcheck.c): a pool
 * formatted here as a kernel formats one passes; each damaged pool of
 * poolcheck_cases.txt (every invariant broken at least once, the same
 * cases tests/tools/test_poolcheck.py feeds the inspector) is refused with
 * the invariant and the reason the case names; short devices and random
 * damage never make it read outside the pool (ASan watches).
 */
#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/bits.h"
#include "kernel/cluster/poolcheck.h"
#include "kernel/cluster/lease.h"
#include "kernel/cluster/pool.h"
#include "kernel/cluster/ring.h"
#include "mm/palloc.h"
#include "mm/xlate.h"
#include "fs/pcache.h"
#include "fs/locktab.h"
#include "net/porttab.h"

#define MiB (1UL << 20)
#define PAGE 4096UL

/* The sound pool of poolcheck_cases.txt. */
#define POOL_BYTES (17 * MiB)
#define NODES 3
#define REGION_PAGES 1024
#define VIP (10u << 24 | 2u << 8 | 100u)  /* 10.0.2.100 */

static const uint8_t vip_mac[6] = { 0x02, 0x44, 0x4d, 0x00, 0x02, 0x64 };

static uint8_t *sound;          /* formatted once; each case damages a copy */

/* What format() in kernel/cluster/pool.c writes, on pool_layout's layout. */
static uint8_t *format_pool(uint64_t size, uint32_t nodes, uint32_t gshift, uint32_t region_pages)
{
	uint8_t *p = aligned_alloc(PAGE, size);
	struct pool_super *sb = (struct pool_super *)p;
	struct palloc_geom pg;
	struct xlate_geom xg;

	assert_non_null(p);
	memset(p, 0, size);
	assert_int_equal(pool_layout(sb, size, nodes, gshift, region_pages * PAGE), 0);
	pg = (struct palloc_geom){ sb->npages, POOL_CHUNK_PAGES, MAX_NODES };
	xg = (struct xlate_geom){ sb->npages, gshift, sb->region_pages };
	assert_int_equal(ring_mesh_format(p + sb->ring_off, nodes, POOL_RING_SLOTS), 0);
	assert_int_equal(xlate_format(p + sb->xlate_off, &xg), 0);
	assert_int_equal(palloc_format(p + sb->palloc_off, &pg, false), 0);
	assert_int_equal(pcache_format(p + sb->pcache_off, sb->pcache_nsets), 0);
	assert_int_equal(porttab_format(p + sb->port_off, sb->nports, sb->nsvcs, POOL_NCLAIM_SETS, VIP,
					 vip_mac), 0);
	sb->version = POOL_VERSION;
	sb->format_claim = 1;
	sb->expected_nodes = nodes;
	sb->dead_after_ms = DEAD_AFTER_MS;
	strcpy(sb->cluster_id, "check");
	sb->magic = POOL_MAGIC;
	return p;
}

/* --- the cases file ------------------------------------------------------- */

struct pc_case {
	int line;
	char name[32];
	char changes[256];
	char reason[256];               /* an fnmatch pattern; empty: a sound pool */
};

static struct pc_case cases[128];
static int ncases;

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
		*--e = 0;
	return s;
}

static void read_cases(void)
{
	FILE *f = fopen(POOLCHECK_CASES, "r");
	char buf[600];
	int line = 0;

	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f)) {
		char *bar, *left;
		struct pc_case *c;

		line++;
		if (buf[0] == '#' || !*trim(buf))
			continue;
		bar = strstr(buf, " |");
		assert_non_null(bar);
		*bar = 0;
		assert_true(ncases < (int)(sizeof(cases) / sizeof(cases[0])));
		c = &cases[ncases++];
		c->line = line;
		left = trim(buf);
		assert_int_equal(sscanf(left, "%31s", c->name), 1);
		snprintf(c->changes, sizeof(c->changes), "%s", trim(left + strlen(c->name)));
		snprintf(c->reason, sizeof(c->reason), "%s", trim(bar + 2));
	}
	fclose(f);
}

#define FIELD(f) { #f, offsetof(struct pool_super, f), sizeof(((struct pool_super *)0)->f) }
static const struct { const char *name; size_t off, size; } fields[] = {
	FIELD(magic), FIELD(version), FIELD(format_claim), FIELD(pool_size),
	FIELD(region_size), FIELD(max_nodes), FIELD(expected_nodes), FIELD(node_table_off),
	FIELD(data_off), FIELD(lease_off), FIELD(nleases), FIELD(ring_slots), FIELD(ring_off),
	FIELD(ring_size), FIELD(xlate_off), FIELD(xlate_size), FIELD(palloc_off),
	FIELD(palloc_size), FIELD(npages), FIELD(gshift), FIELD(chunk_pages),
	FIELD(region_pages), FIELD(dead_after_ms), FIELD(seg_off), FIELD(nsegs), FIELD(nfutex),
	FIELD(futex_off), FIELD(proc_off), FIELD(procs_per_node), FIELD(pcache_off),
	FIELD(pcache_size), FIELD(pcache_nsets), FIELD(lock_off), FIELD(nlocks),
	FIELD(port_off), FIELD(nports), FIELD(nsvcs),
};

static uint64_t get(const uint8_t *p, uint64_t off, size_t n)
{
	uint64_t v = 0;

	memcpy(&v, p + off, n);
	return v;
}

static void put(uint8_t *p, uint64_t off, size_t n, uint64_t v)
{
	memcpy(p + off, &v, n);
}

/* Where AREA (a name of the cases file) starts in pool p. */
static uint64_t area(const uint8_t *p, const char *name)
{
	const struct pool_super *sb = (const void *)p;
	unsigned f, t;

	if (!strcmp(name, "node"))
		return sb->node_table_off;
	if (!strcmp(name, "lease"))
		return sb->lease_off;
	if (!strcmp(name, "mesh"))
		return sb->ring_off;
	if (sscanf(name, "ring%u.%u", &f, &t) == 2) {
		const struct ring_mesh *m = (const void *)(p + sb->ring_off);
		return sb->ring_off + sizeof(*m) + ((uint64_t)f * m->nodes + t) * m->ring_bytes;
	}
	if (!strcmp(name, "xlate"))
		return sb->xlate_off;
	if (!strcmp(name, "xent"))
		return sb->xlate_off + get(p, sb->xlate_off + offsetof(struct xlate_hdr, entries_off), 8);
	if (!strcmp(name, "xreg"))
		return sb->xlate_off + get(p, sb->xlate_off + offsetof(struct xlate_hdr, regions_off), 8);
	if (!strcmp(name, "palloc"))
		return sb->palloc_off;
	if (!strcmp(name, "owner"))
		return sb->palloc_off + get(p, sb->palloc_off + offsetof(struct palloc_hdr, owners_off), 8);
	if (!strcmp(name, "bmp"))
		return sb->palloc_off + get(p, sb->palloc_off + offsetof(struct palloc_hdr, bmp_off), 8);
	if (!strcmp(name, "rec"))
		return sb->palloc_off + get(p, sb->palloc_off + offsetof(struct palloc_hdr, rec_off), 8);
	if (!strcmp(name, "pcache"))
		return sb->pcache_off;
	if (!strcmp(name, "pslot"))
		return sb->pcache_off + get(p, sb->pcache_off + offsetof(struct pcache_hdr, slots_off), 8);
	if (!strcmp(name, "pframe"))
		return sb->pcache_off + get(p, sb->pcache_off + offsetof(struct pcache_hdr, frames_off), 8);
	if (!strcmp(name, "locks"))
		return sb->lock_off;
	if (!strcmp(name, "lent"))
		return sb->lock_off + LOCKTAB_HDR_BYTES;
	if (!strcmp(name, "ports"))
		return sb->port_off;
	if (!strcmp(name, "pent"))
		return sb->port_off + PORTTAB_HDR_BYTES;
	if (!strcmp(name, "psvc"))
		return sb->port_off + PORTTAB_HDR_BYTES + (uint64_t)sb->nports * PORTTAB_ENT_BYTES;
	if (!strcmp(name, "pclaim") || !strcmp(name, "pcset"))
		return sb->port_off + PORTTAB_HDR_BYTES + (uint64_t)sb->nports * PORTTAB_ENT_BYTES +
		       (uint64_t)sb->nsvcs * PORTTAB_SVC_BYTES +
		       (name[2] == 's' ? PORTTAB_CHDR_BYTES : 0);
	fail_msg("unknown area '%s'", name);
	return 0;
}

/* Apply one CHANGE of the cases file to pool p. */
static void change(uint8_t *p, const char *ch)
{
	char where[64], op[3] = "", *eq;
	uint64_t off = 0, v;
	size_t n = 0;

	snprintf(where, sizeof(where), "%s", ch);
	eq = strchr(where, '=');
	assert_non_null(eq);
	v = strtoull(eq + 1, NULL, 0);
	if (eq > where && (eq[-1] == '+' || eq[-1] == '-'))
		op[0] = *--eq;
	*eq = 0;
	if (!strncmp(where, "sb.", 3)) {
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (!strcmp(where + 3, fields[i].name)) {
				off = fields[i].off;
				n = fields[i].size;
			}
		if (!n)
			fail_msg("unknown superblock field in '%s'", ch);
	} else {
		char *plus = strchr(where, '+'), *colon = strchr(where, ':');

		assert_true(plus && colon && colon > plus);
		*colon = 0;
		*plus = 0;
		n = !strcmp(colon + 1, "u32") ? 4 : !strcmp(colon + 1, "u64") ? 8 : 0;
		assert_true(n);
		off = area(p, where) + strtoull(plus + 1, NULL, 0);
	}
	if (op[0] == '+')
		v = get(p, off, n) + v;
	else if (op[0] == '-')
		v = get(p, off, n) - v;
	put(p, off, n, v);
}

static uint8_t *damaged(const struct pc_case *c)
{
	uint8_t *p = aligned_alloc(PAGE, POOL_BYTES);
	char list[256], *save, *tok;

	assert_non_null(p);
	memcpy(p, sound, POOL_BYTES);
	snprintf(list, sizeof(list), "%s", c->changes);
	for (tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		change(p, tok);
	return p;
}

/* --- the tests ------------------------------------------------------------ */

static int setup(void **state)
{
	(void)state;
	sound = format_pool(POOL_BYTES, NODES, 0, REGION_PAGES);
	read_cases();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(sound);
	return 0;
}

static void test_a_sound_pool_passes(void **state)
{
	char why[256] = "x";

	(void)state;
	assert_int_equal(poolcheck(sound, POOL_BYTES, why, sizeof(why)), POOLCHECK_OK);
	assert_string_equal(why, "");
	assert_int_equal(poolcheck(sound, POOL_BYTES, NULL, 0), POOLCHECK_OK);
	/* and so does one at 2 MiB granularity, nodes, leases and pages in use */
	uint8_t *p = format_pool(64 * MiB, 2, 9, 8192);
	struct pool_super *sb = (void *)p;
	struct palloc pa;
	((struct pool_node *)(p + sb->node_table_off))[1].state = NODE_DEAD;
	put(p, sb->lease_off + 5 * 64, 8, (2ULL << 48) | 7);
	put(p, sb->lease_off + 6 * 64, 8, LEASE_BROKEN);
	assert_int_equal(palloc_attach(&pa, p + sb->palloc_off, 1, NULL, NULL), 0);
	for (int i = 0; i < 700; i++)
		assert_true(palloc_alloc(&pa, 9) >= 0);
	assert_int_equal(poolcheck(p, 64 * MiB, why, sizeof(why)), POOLCHECK_OK);
	free(p);
}

static void test_every_damaged_pool_is_refused_for_its_reason(void **state)
{
	int failed = 0;

	(void)state;
	assert_true(ncases > 0);
	for (int i = 0; i < ncases; i++) {
		const struct pc_case *c = &cases[i];
		uint8_t *p = damaged(c);
		char why[256];
		int id = poolcheck(p, POOL_BYTES, why, sizeof(why));
		const char *got = id ? poolcheck_invariants[id].name : "ok";

		if (strcmp(got, c->name) || fnmatch(c->reason, why, FNM_NOESCAPE)) {
			print_message("line %d (%s %s): refused as %s: '%s', want '%s'\n",
				      c->line, c->name, c->changes, got, why, c->reason);
			failed++;
		}
		free(p);
	}
	assert_int_equal(failed, 0);
}

static void test_every_invariant_has_a_case(void **state)
{
	(void)state;
	for (int id = 1; id < POOLCHECK_COUNT; id++) {
		const char *name = poolcheck_invariants[id].name;
		int found = 0;

		assert_non_null(name);
		assert_true(poolcheck_invariants[id].reason[0]);
		for (int j = 1; j < id; j++)
			assert_string_not_equal(name, poolcheck_invariants[j].name);
		for (int i = 0; i < ncases; i++)
			found |= !strcmp(cases[i].name, name);
		if (!found)
			fail_msg("invariant %s has no case in poolcheck_cases.txt", name);
	}
	for (int i = 0; i < ncases; i++) {
		int known = !strcmp(cases[i].name, "ok");

		for (int id = 1; id < POOLCHECK_COUNT; id++)
			known |= !strcmp(cases[i].name, poolcheck_invariants[id].name);
		if (!known)
			fail_msg("line %d names no invariant: %s", cases[i].line, cases[i].name);
	}
}

/* A device shorter than the superblock says: refused, nothing read past it. */
static void test_a_short_device_is_refused_inside_it(void **state)
{
	static const uint64_t sizes[] = { 100, PAGE, 16 * PAGE, 2 * MiB };
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *p = malloc(sizes[i]);

		memcpy(p, sound, sizes[i]);
		assert_int_equal(poolcheck(p, sizes[i], why, sizeof(why)), POOLCHECK_POOL_SIZE_ID);
		free(p);
	}
	/* 8 bytes: the magic, and a version of 0 after it */
	assert_int_equal(poolcheck(sound, 8, why, sizeof(why)), POOLCHECK_VERSION_ID);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random bytes over the control state: an answer, never a read outside. */
static void test_random_damage_never_reads_outside(void **state)
{
	uint8_t *p = aligned_alloc(PAGE, POOL_BYTES);
	uint64_t s = 88172645463325252ULL, ctl = ((struct pool_super *)sound)->data_off;
	int seen[POOLCHECK_COUNT] = { 0 }, kinds = 0;

	(void)state;
	memcpy(p, sound, POOL_BYTES);
	for (int i = 0; i < 400; i++) {
		char why[256];
		int id;

		memcpy(p, sound, ctl);
		for (uint64_t k = rnd(&s) % 4 + 1; k; k--) {
			uint64_t off = rnd(&s) % 3 ? rnd(&s) % ctl : rnd(&s) % 224;
			uint64_t n = 1 + rnd(&s) % 8;

			for (uint64_t b = 0; b < n && off + b < ctl; b++)
				p[off + b] = (uint8_t)rnd(&s);
		}
		id = poolcheck(p, POOL_BYTES, why, sizeof(why));
		assert_true(id >= 0 && id < POOLCHECK_COUNT);
		assert_true(!id == !why[0]);
		kinds += !seen[id]++;
	}
	assert_true(kinds > 5);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_sound_pool_passes),
		cmocka_unit_test(test_every_damaged_pool_is_refused_for_its_reason),
		cmocka_unit_test(test_every_invariant_has_a_case),
		cmocka_unit_test(test_a_short_device_is_refused_inside_it),
		cmocka_unit_test(test_random_damage_never_reads_outside),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
