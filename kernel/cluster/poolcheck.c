/*
 * The invariants of a formatted pool, checked (the list and its reasons
 * are in kernel/cluster/poolcheck.h). Every area is checked in pool order
 * after the superblock has placed it inside the pool, so a damaged
 * superblock never makes the checker read outside the pool; what it reads
 * of areas other nodes write (records, counters, leases) it reads with
 * atomic loads, one word at a time, as the nodes write them.
 *
 * This is pure C: the kernel's vsnprintf (kernel/printk.c) or the host's,
 * and the pool format's headers. tools/dmoslib/pool.py INVARIANTS is the
 * same list for the inspector; keep the two in the same order.
 */
#if __STDC_HOSTED__
#include <errno.h>
#include <stdio.h>
#include <string.h>
#else
#include "kernel/kernel.h"
#endif
#include <stdarg.h>
#include <stdbool.h>
#include "kernel/bits.h"
#include "kernel/cluster/poolcheck.h"
#include "kernel/cluster/pool.h"
#include "kernel/cluster/lease.h"
#include "kernel/cluster/ring.h"
#include "mm/palloc.h"
#include "mm/xlate.h"
#include "fs/pcache.h"
#include "fs/locktab.h"
#include "net/porttab.h"

#define PC_PAGE 4096            /* the pool's page: ppn * 4096 is a pool address */
#define LINE 64                 /* every area starts on a cache line */
#define RING_READS 3            /* a live ring's counters are read this often */

#define POOLCHECK_ENTRY(id, name) [POOLCHECK_##id##_ID] = { #name, POOLCHECK_##id },
const struct poolcheck_invariant poolcheck_invariants[POOLCHECK_COUNT] = {
	POOLCHECK_INVARIANTS(POOLCHECK_ENTRY)
};
#undef POOLCHECK_ENTRY

struct pc {
	const uint8_t *base;
	uint64_t size;
	struct pool_super sb;           /* a copy: it does not change once formatted */
	char *why;
	size_t n;
};

/* One line of text built piece by piece: "a 1 (want 2), b 3 (want 4)". */
struct line {
	char buf[224];
	size_t len;
};

static void add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (l->len >= sizeof(l->buf) - 1)
		return;
	va_start(ap, fmt);
	k = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (k > 0)
		l->len += (size_t)k;
}

/* Field @name of a header is @have where the superblock wants @want. */
static void want(struct line *l, const char *name, uint64_t have, uint64_t want)
{
	if (have != want)
		add(l, "%s%s %lu (want %lu)", l->len ? ", " : "", name, have, want);
}

static int fail(struct pc *c, int id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct pc *c, int id, const char *fmt, ...)
{
	va_list ap;

	if (c->why && c->n) {
		va_start(ap, fmt);
		vsnprintf(c->why, c->n, fmt, ap);
		va_end(ap);
	}
	return id;
}

/* Break invariant ID (a POOLCHECK_INVARIANTS name) with its reason's arguments. */
#define FAIL(c, ID, ...) fail(c, POOLCHECK_##ID##_ID, POOLCHECK_##ID, ##__VA_ARGS__)

static uint32_t ld32(const struct pc *c, uint64_t off)
{
	return __atomic_load_n((const uint32_t *)(c->base + off), __ATOMIC_ACQUIRE);
}

static uint64_t ld64(const struct pc *c, uint64_t off)
{
	return __atomic_load_n((const uint64_t *)(c->base + off), __ATOMIC_ACQUIRE);
}

/* a + b and a * b, stuck at UINT64_MAX rather than wrapping (damaged sizes). */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static int check_super(struct pc *c)
{
	const struct pool_super *sb = &c->sb;
	uint64_t table_end;

	if (sb->magic != POOL_MAGIC)
		return FAIL(c, MAGIC, sb->magic, (uint64_t)POOL_MAGIC);
	if (sb->version != POOL_VERSION)
		return FAIL(c, VERSION, sb->version, POOL_VERSION);
	if (sb->pool_size != c->size)
		return FAIL(c, POOL_SIZE, c->size, sb->pool_size);
	if (sb->max_nodes < 1 || sb->max_nodes > MAX_NODES)
		return FAIL(c, MAX_NODES, sb->max_nodes, MAX_NODES);
	table_end = sat_add(sb->node_table_off, (uint64_t)sb->max_nodes * sizeof(struct pool_node));
	if (sb->node_table_off < PC_PAGE || sb->node_table_off % LINE || table_end > c->size)
		return FAIL(c, NODE_TABLE, sb->node_table_off, sb->max_nodes, (uint64_t)PC_PAGE,
			    c->size, LINE);
	return 0;
}

struct area {
	const char *name;
	uint64_t off, bytes;
};

/* The areas in pool order, as tools/dmoslib/pool.py Pool.areas() lists them. */
#define NAREAS 12

static void areas(const struct pool_super *sb, struct area a[NAREAS])
{
	a[0] = (struct area){ "node table", sb->node_table_off,
			      (uint64_t)sb->max_nodes * sizeof(struct pool_node) };
	a[1] = (struct area){ "leases", sb->lease_off, (uint64_t)sb->nleases * LINE };
	a[2] = (struct area){ "rings", sb->ring_off, sb->ring_size };
	a[3] = (struct area){ "segments", sb->seg_off, (uint64_t)sb->nsegs * POOL_SEG_BYTES };
	a[4] = (struct area){ "futexes", sb->futex_off, (uint64_t)sb->nfutex * POOL_FUTEX_BYTES };
	a[5] = (struct area){ "processes", sb->proc_off,
			      (uint64_t)sb->max_nodes * sb->procs_per_node * 64 };
	a[6] = (struct area){ "record locks", sb->lock_off, locktab_area_size(sb->nlocks) };
	a[7] = (struct area){ "port table", sb->port_off,
			      porttab_area_size(sb->nports, sb->nsvcs, POOL_NCLAIM_SETS) };
	a[8] = (struct area){ "translation", sb->xlate_off, sb->xlate_size };
	a[9] = (struct area){ "allocator", sb->palloc_off, sb->palloc_size };
	a[10] = (struct area){ "page cache", sb->pcache_off, sb->pcache_size };
	a[11] = (struct area){ "data", sb->data_off, sat_mul(sb->npages, PC_PAGE) };
}

static int check_geometry(struct pc *c)
{
	const struct pool_super *sb = &c->sb;
	struct area a[NAREAS];
	int i;

	if (!(sb->lease_off || sb->ring_off || sb->xlate_off || sb->palloc_off))
		return FAIL(c, NO_CONTROL);
	if (!(sb->seg_off || sb->futex_off || sb->proc_off))
		return FAIL(c, NO_TABLES);
	if (sb->nlocks > LOCKTAB_MAX)
		return FAIL(c, LOCK_COUNT, sb->nlocks, LOCKTAB_MAX);
	areas(sb, a);
	for (i = 0; i + 1 < NAREAS; i++)
		if (sat_add(a[i].off, a[i].bytes) > a[i + 1].off)
			return FAIL(c, OVERLAP, a[i].name, a[i].off, sat_add(a[i].off, a[i].bytes),
				    a[i + 1].name, a[i + 1].off);
	for (i = 1; i < NAREAS; i++) {
		if (a[i].off % LINE)
			return FAIL(c, ALIGN, a[i].name, a[i].off, LINE);
		if (sat_add(a[i].off, a[i].bytes) > c->size)
			return FAIL(c, PAST_END, a[i].name, a[i].off, sat_add(a[i].off, a[i].bytes),
				    c->size);
	}
	if (sb->gshift > XLATE_MAX_GSHIFT)
		return FAIL(c, GSHIFT, sb->gshift, XLATE_MAX_GSHIFT);
	if (!sb->region_pages || sb->region_pages > (sb->npages ? sb->npages : 1))
		return FAIL(c, REGION_PAGES, sb->region_pages, sb->npages);
	if (!sb->chunk_pages)
		return FAIL(c, CHUNK_PAGES);
	return 0;
}

static int check_nodes(struct pc *c)
{
	for (uint32_t i = 0; i < c->sb.max_nodes; i++) {
		uint32_t st = ld32(c, c->sb.node_table_off + i * sizeof(struct pool_node));

		if (st > NODE_DEAD)
			return FAIL(c, NODE_STATE, i, st);
	}
	return 0;
}

static int check_xlate(struct pc *c)
{
	const struct pool_super *sb = &c->sb;
	const struct xlate_hdr *h = (const void *)(c->base + sb->xlate_off);
	uint64_t nblocks = sb->npages >> sb->gshift, bad = 0, end;
	uint64_t nregions = (sb->npages + sb->region_pages - 1) / sb->region_pages;
	uint64_t regions_off = round_up(sizeof(*h) + nblocks * 4, LINE);
	struct line l = { .len = 0 };

	if (sb->xlate_size < sizeof(*h))
		return FAIL(c, XLATE_SMALL, sb->xlate_size);
	if (h->magic != XLATE_MAGIC)
		return FAIL(c, XLATE_MAGIC, h->magic, (uint64_t)XLATE_MAGIC);
	if (h->version != XLATE_VERSION)
		return FAIL(c, XLATE_VERSION, h->version, XLATE_VERSION);
	want(&l, "gshift", h->gshift, sb->gshift);
	want(&l, "npages", h->npages, sb->npages);
	want(&l, "region_pages", h->region_pages, sb->region_pages);
	want(&l, "nregions", h->nregions, nregions);
	want(&l, "nblocks", h->nblocks, nblocks);
	want(&l, "entries_off", h->entries_off, sizeof(*h));
	want(&l, "regions_off", h->regions_off, regions_off);
	end = regions_off + nregions * LINE;
	if (!l.len && end > sb->xlate_size)
		add(&l, "tables end at +0x%lx, past the area's %lu bytes", end, sb->xlate_size);
	if (l.len)
		return FAIL(c, XLATE_HEADER, l.buf);
	for (uint64_t b = 0; b < nblocks; b++)
		if ((ld32(c, sb->xlate_off + sizeof(*h) + b * 4) & ~XLATE_MOVING) >= nblocks)
			bad++;
	if (bad)
		return FAIL(c, XLATE_ENTRY, bad, nblocks - 1);
	for (uint32_t r = 0; r < nregions; r++) {
		uint32_t st = ld32(c, sb->xlate_off + regions_off + r * sizeof(struct xlate_region));

		if (st > XLATE_FAILED)
			return FAIL(c, REGION_STATE, r, st);
	}
	return 0;
}

/* Padding bits of chunk @ch (past its last page, up to whole words) not all set? */
static bool pad_cleared(const struct pc *c, uint64_t bmp, uint64_t ch, uint64_t pages,
			uint32_t words)
{
	uint64_t first = pages < c->sb.chunk_pages ? pages : c->sb.chunk_pages;

	for (uint64_t j = first / 64; j < words; j++) {
		uint64_t mask = j == first / 64 ? ~0ULL << (first % 64) : ~0ULL;

		if ((ld64(c, bmp + (ch * words + j) * 8) & mask) != mask)
			return true;
	}
	return false;
}

static int check_palloc(struct pc *c)
{
	const struct pool_super *sb = &c->sb;
	const struct palloc_hdr *h = (const void *)(c->base + sb->palloc_off);
	uint64_t cp = sb->chunk_pages, nchunks = (sb->npages + cp - 1) / cp;
	uint64_t words = round_up(cp, LINE * 8) / 64;
	uint64_t bmp_off = round_up(LINE + nchunks * 4, LINE);
	uint64_t rec_off = bmp_off + nchunks * words * 8, end;
	uint64_t records = 0, owners = 0, padding = 0, base = sb->palloc_off;
	struct line l = { .len = 0 };

	if (sb->palloc_size < sizeof(*h))
		return FAIL(c, PALLOC_SMALL, sb->palloc_size);
	if (h->magic != PALLOC_MAGIC)
		return FAIL(c, PALLOC_MAGIC, h->magic, (uint64_t)PALLOC_MAGIC);
	if (h->version != PALLOC_VERSION)
		return FAIL(c, PALLOC_VERSION, h->version, PALLOC_VERSION);
	want(&l, "chunk_pages", h->chunk_pages, cp);
	want(&l, "npages", h->npages, sb->npages);
	want(&l, "max_nodes", h->max_nodes, sb->max_nodes);
	want(&l, "nchunks", h->nchunks, nchunks);
	want(&l, "words", h->words, words);
	want(&l, "owners_off", h->owners_off, LINE);
	want(&l, "bmp_off", h->bmp_off, bmp_off);
	want(&l, "rec_off", h->rec_off, rec_off);
	if (!l.len && cp > PALLOC_MAX_CHUNK)
		add(&l, "chunk_pages %lu outside 1..%u", cp, PALLOC_MAX_CHUNK);
	end = rec_off + sb->npages * 8;
	if (!l.len && end > sb->palloc_size)
		add(&l, "records end at +0x%lx, past the area's %lu bytes", end, sb->palloc_size);
	if (l.len)
		return FAIL(c, PALLOC_HEADER, l.buf);
	for (uint64_t p = 0; p < sb->npages; p++) {
		uint64_t v = ld64(c, base + rec_off + p * 8);

		if (v && ((v & 0xffff) == 0 || (v & 0xffff) > sb->max_nodes))
			records++;
	}
	for (uint64_t ch = 0; ch < nchunks; ch++) {
		owners += ld32(c, base + LINE + ch * 4) > sb->max_nodes;
		padding += pad_cleared(c, base + bmp_off, ch, sb->npages - ch * cp, (uint32_t)words);
	}
	if (records)
		return FAIL(c, PALLOC_RECORD, records, sb->max_nodes);
	if (owners)
		return FAIL(c, PALLOC_OWNER, owners);
	if (padding)
		return FAIL(c, PALLOC_PADDING, padding);
	return 0;
}

/* Is @w a slot word pcache.c writes (fs/pcache.h: the states and their owners)? */
static bool slot_sound(uint64_t w, uint32_t max_nodes)
{
	uint64_t flags = w & (PCACHE_DIRTY | PCACHE_LOST);

	switch (PCACHE_STATE(w)) {
	case PCACHE_FREE:
		return w == 0;
	case PCACHE_FILLING:
		return !flags && PCACHE_OWNER(w) < max_nodes;
	case PCACHE_BUSY:
		return PCACHE_OWNER(w) < max_nodes;
	default:                        /* VALID: nobody owns it */
		return PCACHE_OWNER(w) == 0;
	}
}

static int check_pcache(struct pc *c)
{
	const struct pool_super *sb = &c->sb;
	const struct pcache_hdr *h = (const void *)(c->base + sb->pcache_off);
	uint64_t lines = sb->pcache_nsets, slots = lines * PCACHE_WAYS, bad = 0, first = 0;
	uint64_t first_word = 0, frames = 0;
	struct line l = { .len = 0 };

	if (sb->pcache_size < sizeof(*h))
		return FAIL(c, PCACHE_SMALL, sb->pcache_size);
	if (h->magic != PCACHE_MAGIC)
		return FAIL(c, PCACHE_MAGIC, h->magic, (uint64_t)PCACHE_MAGIC);
	if (h->version != PCACHE_VERSION)
		return FAIL(c, PCACHE_VERSION, h->version, PCACHE_VERSION);
	want(&l, "nsets", h->nsets, sb->pcache_nsets);
	want(&l, "slots_off", h->slots_off, LINE);
	want(&l, "frames_off", h->frames_off, LINE + lines * LINE);
	want(&l, "pins_off", h->pins_off, LINE + 2 * lines * LINE);
	want(&l, "locks_off", h->locks_off, LINE + 3 * lines * LINE);
	want(&l, "opens_off", h->opens_off, LINE + 3 * lines * LINE + PCACHE_NLOCKS * LINE);
	want(&l, "stats_off", h->stats_off,
	     LINE + 3 * lines * LINE + PCACHE_NLOCKS * LINE + PCACHE_NOPENS * 16);
	if (!l.len && !pcache_area_size(sb->pcache_nsets))
		add(&l, "nsets %u is not a power of two in 1..%u", sb->pcache_nsets, PCACHE_MAX_SETS);
	if (!l.len && pcache_area_size(sb->pcache_nsets) > sb->pcache_size)
		add(&l, "tables end at +0x%lx, past the area's %lu bytes",
		    pcache_area_size(sb->pcache_nsets), sb->pcache_size);
	if (l.len)
		return FAIL(c, PCACHE_HEADER, l.buf);
	for (uint64_t i = 0; i < slots; i++) {
		uint64_t w = ld64(c, sb->pcache_off + h->slots_off + i * 8);
		uint64_t f = ld64(c, sb->pcache_off + h->frames_off + i * 8);

		if (!slot_sound(w, sb->max_nodes) && !bad++) {
			first = i;
			first_word = w;
		}
		if (f && (!(f & PCACHE_FRAME_PAGE) ||
			  (f & ~(PCACHE_FRAME_PAGE | PCACHE_FRAME_PPN(~0ULL))) ||
			  PCACHE_FRAME_PPN(f) >= sb->npages))
			frames++;
	}
	if (bad)
		return FAIL(c, PCACHE_SLOT, bad, first, first_word);
	if (frames)
		return FAIL(c, PCACHE_FRAME, frames, sb->npages ? sb->npages - 1 : 0);
	return 0;
}

static int check_rings(struct pc *c)
{
	const struct pool_super *sb = &c->sb;
	const struct ring_mesh *m = (const void *)(c->base + sb->ring_off);
	uint32_t nodes, slots, rb;
	uint64_t need;

	if (sb->ring_size < sizeof(*m))
		return FAIL(c, RING_SMALL, sb->ring_size);
	if (m->magic != RING_MESH_MAGIC)
		return FAIL(c, RING_MAGIC, m->magic, (uint64_t)RING_MESH_MAGIC);
	if (m->version != RING_MESH_VERSION)
		return FAIL(c, RING_VERSION, m->version, RING_MESH_VERSION);
	nodes = m->nodes;
	slots = m->slots;
	rb = m->ring_bytes;
	need = ring_mesh_size(nodes, slots);
	if (!need || rb != ring_bytes(slots) || nodes > sb->max_nodes)
		return FAIL(c, RING_GEOMETRY, nodes, slots, rb);
	if (need > sb->ring_size)
		return FAIL(c, RING_SIZE, nodes, nodes, rb, need, sb->ring_size);
	if (slots != sb->ring_slots)
		return FAIL(c, RING_SLOTS, slots, sb->ring_slots);
	for (uint32_t f = 0; f < nodes; f++) {
		for (uint32_t t = 0; t < nodes; t++) {
			uint64_t off = sb->ring_off + sizeof(*m) + ((uint64_t)f * nodes + t) * rb;
			const struct ring *r = (const void *)(c->base + off);
			uint64_t sent = 0, received = 0;
			int64_t flight = 0;

			if (r->magic != RING_MAGIC || r->slots != slots || r->from != f || r->to != t)
				return FAIL(c, RING_HEADER, f, t, r->magic, r->slots, r->from, r->to);
			/* received first: a live ring then never looks negative, and
			 * one that looks too full may have moved between the loads */
			for (int i = 0; i < RING_READS; i++) {
				received = ld64(c, off + __builtin_offsetof(struct ring, received));
				sent = ld64(c, off + __builtin_offsetof(struct ring, sent));
				flight = (int64_t)(sent - received);
				if (flight >= 0 && flight <= slots)
					break;
			}
			if (flight < 0 || flight > slots)
				return FAIL(c, RING_COUNTERS, f, t, sent, received, flight, slots);
		}
	}
	return 0;
}

static int check_leases(struct pc *c)
{
	uint64_t off = c->sb.lease_off, stray = 0, first = 0;

	for (uint32_t i = 0; i < c->sb.nleases; i++) {
		uint64_t w = ld64(c, off + (uint64_t)i * LINE), holder = w >> 48;

		if (w != LEASE_FREE && w != LEASE_BROKEN && (holder == 0 || holder > LEASE_MAX_NODE + 1))
			return FAIL(c, LEASE_WORD, i, w);
	}
	for (uint64_t o = 0; o < (uint64_t)c->sb.nleases * LINE; o += 8) {
		if (o % LINE == 0 || !ld64(c, off + o))
			continue;
		if (!stray++)
			first = o;
	}
	if (stray)
		return FAIL(c, LEASE_STRAY, stray, first, LINE);
	return 0;
}

static int check_locks(struct pc *c)
{
	uint64_t off = c->sb.lock_off + LOCKTAB_HDR_BYTES, bad = 0, first = 0;
	struct locktab_ent e = { 0 };

	for (uint32_t i = 0; i < c->sb.nlocks; i++, off += LOCKTAB_ENT_BYTES) {
		uint32_t kind = ld32(c, off + __builtin_offsetof(struct locktab_ent, kind));
		uint64_t start = ld64(c, off + __builtin_offsetof(struct locktab_ent, start));
		uint64_t end = ld64(c, off + __builtin_offsetof(struct locktab_ent, end));
		int32_t pid = (int32_t)ld32(c, off + __builtin_offsetof(struct locktab_ent, pid));

		if (!locktab_ent_sound(kind, start, end, pid, c->sb.max_nodes) && !bad++) {
			first = i;
			e = (struct locktab_ent){ 0, start, end, pid, kind };
		}
	}
	if (bad)
		return FAIL(c, LOCK_ENTRY, bad, first, e.kind, e.pid, e.start, e.end);
	return 0;
}

/* The claim sets after the claims' header at off: sound claims, leases that name a node. */
static int check_claims(struct pc *c, uint64_t off)
{
	uint64_t set = off + PORTTAB_CHDR_BYTES, bad = 0, leases = 0, first = 0, fepoch = 0, fkey = 0;
	uint32_t fstate = 0, fowner = 0, max = c->sb.max_nodes;

	for (uint32_t i = 0; i < POOL_NCLAIM_SETS; i++, set += PORTTAB_CSET_BYTES) {
		uint64_t w = ld64(c, set);

		leases += w != LEASE_FREE && w != LEASE_BROKEN && ((w >> 48) == 0 || (w >> 48) > max);
		for (uint32_t k = 0; k < PORTTAB_WAYS; k++) {
			uint64_t cl = set + 64 + (uint64_t)k * PORTTAB_CLAIM_BYTES;
			uint64_t key = ld64(c, cl), epoch = ld64(c, cl + 8);
			uint32_t word = ld32(c, cl + __builtin_offsetof(struct porttab_claim, owner));
			uint8_t owner = (uint8_t)word, state = (uint8_t)(word >> 8);

			if (!porttab_claim_sound(state, owner, epoch, key, max) && !bad++) {
				first = (uint64_t)i * PORTTAB_WAYS + k;
				fstate = state, fowner = owner, fepoch = epoch, fkey = key;
			}
		}
	}
	if (bad || leases)
		return FAIL(c, PORT_CLAIM, bad, leases, first, fstate, fowner, fepoch, fkey);
	return 0;
}

static int check_ports(struct pc *c)
{
	const struct pool_super *sb = &c->sb;
	const struct porttab_hdr *h = (const void *)(c->base + sb->port_off);
	uint64_t ent = sb->port_off + PORTTAB_HDR_BYTES, bad = 0, owners = 0, first = 0;
	uint64_t svc = ent + (uint64_t)sb->nports * PORTTAB_ENT_BYTES, fepoch = 0;
	uint32_t fstate = 0, fproto = 0, fport = 0, fnode = 0;
	struct line l = { .len = 0 };

	if (h->magic != PORTTAB_MAGIC || h->version != PORTTAB_VERSION)
		return FAIL(c, PORT_MAGIC, h->magic, h->version, (uint64_t)PORTTAB_MAGIC,
			    PORTTAB_VERSION);
	want(&l, "nents", h->nents, sb->nports);
	want(&l, "nsvcs", h->nsvcs, sb->nsvcs);
	want(&l, "nbuckets", h->nbuckets, PORTTAB_BUCKETS);
	if (!l.len && (!h->nents || h->nents > PORTTAB_MAX_ENTS || !h->nsvcs ||
		       h->nsvcs > PORTTAB_MAX_SVCS))
		add(&l, "%u entries and %u services, outside 1..%u and 1..%u", h->nents, h->nsvcs,
		    PORTTAB_MAX_ENTS, PORTTAB_MAX_SVCS);
	uint64_t claims = svc + (uint64_t)sb->nsvcs * PORTTAB_SVC_BYTES;
	if (!l.len) {
		want(&l, "claim sets", ld32(c, claims), POOL_NCLAIM_SETS);
		if (!ld32(c, claims + 4))
			add(&l, "%sclaims live 0 ms", l.len ? ", " : "");
	}
	if (!l.len && (!h->vip || (h->mac[0] & 3) != 2))
		add(&l, "vip 0x%08x, mac %02x:%02x:%02x:%02x:%02x:%02x (want a non-zero address "
		    "and a locally administered unicast MAC)", h->vip, h->mac[0], h->mac[1],
		    h->mac[2], h->mac[3], h->mac[4], h->mac[5]);
	if (l.len)
		return FAIL(c, PORT_HEADER, l.buf);
	for (uint32_t i = 0; i < sb->nports; i++, ent += PORTTAB_ENT_BYTES) {
		uint32_t state = ld32(c, ent + __builtin_offsetof(struct porttab_ent, state));
		uint32_t word = ld32(c, ent + __builtin_offsetof(struct porttab_ent, port));
		uint64_t epoch = ld64(c, ent);
		uint16_t port = (uint16_t)word;
		uint8_t proto = (uint8_t)(word >> 16), node = (uint8_t)(word >> 24);

		if (!porttab_ent_sound(state, proto, port, node, epoch, sb->max_nodes) && !bad++) {
			first = i;
			fstate = state, fproto = proto, fport = port, fnode = node, fepoch = epoch;
		}
	}
	for (uint32_t i = 0; i < sb->nsvcs; i++, svc += PORTTAB_SVC_BYTES) {
		for (uint32_t b = 0; b < PORTTAB_BUCKETS; b += 4) {
			uint32_t w = ld32(c, svc + __builtin_offsetof(struct porttab_svc, owner) + b);

			for (uint32_t k = 0; k < 4 && b + k < PORTTAB_BUCKETS; k++, w >>= 8)
				owners += (w & 0xff) != PORTTAB_NONE && (w & 0xff) >= sb->max_nodes;
		}
	}
	if (bad || owners)
		return FAIL(c, PORT_ENTRY, bad, owners, first, fstate, fproto, fport, fnode, fepoch);
	return check_claims(c, claims);
}

int poolcheck(const void *base, uint64_t size, char *why, size_t n)
{
	struct pc c = { .base = base, .size = size, .sb = { 0 }, .why = why, .n = n };
	int err;

	if (why && n)
		why[0] = 0;
	/* a device shorter than a superblock: what there is of it, then zeroes */
	memcpy(&c.sb, base, size < sizeof(c.sb) ? size : sizeof(c.sb));
	if ((err = check_super(&c)) || (err = check_geometry(&c)) || (err = check_nodes(&c)) ||
	    (err = check_xlate(&c)) || (err = check_palloc(&c)) || (err = check_pcache(&c)) ||
	    (err = check_rings(&c)) || (err = check_leases(&c)) || (err = check_locks(&c)))
		return err;
	return check_ports(&c);
}

int pool_layout(volatile struct pool_super *sb, uint64_t size, uint32_t nodes,
		uint32_t gshift, uint64_t region)
{
	uint64_t pages = size / PC_PAGE;
	struct palloc_geom pg = { pages, POOL_CHUNK_PAGES, MAX_NODES };
	struct xlate_geom xg = { pages, gshift, (region < size ? region : size) / PC_PAGE };

	sb->node_table_off = PC_PAGE;
	sb->lease_off = sb->node_table_off + MAX_NODES * sizeof(struct pool_node);
	sb->nleases = POOL_NLEASES;
	sb->ring_off = sb->lease_off + POOL_NLEASES * 64;
	sb->ring_slots = POOL_RING_SLOTS;
	sb->ring_size = ring_mesh_size(nodes, POOL_RING_SLOTS);
	sb->seg_off = round_up(sb->ring_off + sb->ring_size, LINE);
	sb->nsegs = POOL_NSEGS;
	sb->futex_off = sb->seg_off + POOL_NSEGS * POOL_SEG_BYTES;
	sb->nfutex = POOL_NFUTEX;
	sb->proc_off = round_up(sb->futex_off + POOL_NFUTEX * POOL_FUTEX_BYTES, LINE);
	sb->procs_per_node = POOL_PROCS_PER_NODE;
	sb->lock_off = round_up(sb->proc_off + MAX_NODES * POOL_PROCS_PER_NODE * 64UL, LINE);
	sb->nlocks = POOL_NLOCKS;
	sb->port_off = round_up(sb->lock_off + locktab_area_size(POOL_NLOCKS), LINE);
	sb->nports = POOL_NPORTS;
	sb->nsvcs = POOL_NSVCS;
	sb->xlate_off = round_up(sb->port_off + porttab_area_size(POOL_NPORTS, POOL_NSVCS,
								   POOL_NCLAIM_SETS), LINE);
	sb->xlate_size = xlate_meta_size(&xg);
	sb->palloc_off = round_up(sb->xlate_off + sb->xlate_size, LINE);
	sb->palloc_size = palloc_meta_size(&pg);
	sb->pcache_off = round_up(sb->palloc_off + sb->palloc_size, LINE);
	sb->pcache_size = pcache_area_size(pool_pcache_sets(pages));
	sb->data_off = round_up(sb->pcache_off + sb->pcache_size, 2UL << 20);
	if (!sb->ring_size || !sb->xlate_size || !sb->palloc_size || sb->data_off + (4UL << 20) > size)
		return -ENOSPC;

	/* now the real page count: whole 2 MiB blocks after the control state */
	sb->npages = (size - sb->data_off) / PC_PAGE;
	sb->gshift = gshift;
	sb->chunk_pages = POOL_CHUNK_PAGES;
	sb->region_pages = region / PC_PAGE < sb->npages ? region / PC_PAGE : sb->npages;
	sb->region_size = (uint64_t)sb->region_pages * PC_PAGE;
	/* the index for the real page count: as big as the space kept, or smaller */
	sb->pcache_nsets = pool_pcache_sets(sb->npages);
	sb->pcache_size = pcache_area_size(sb->pcache_nsets);
	sb->pool_size = size;
	sb->max_nodes = MAX_NODES;
	return 0;
}
