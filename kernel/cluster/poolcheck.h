/*
 * What a sound pool is: the one list of invariants a formatted pool must
 * hold, each with a short name and the reason a node prints when the pool
 * breaks it. The kernel checks them (poolcheck(), kernel/cluster/poolcheck.c)
 * before it uses a pool it did not format itself; the host inspector checks
 * the same list with the same reasons (INVARIANTS in tools/dmoslib/pool.py,
 * `dmos pool`), so a pool the inspector calls damaged is one every node
 * refuses, for the same reason. tests/unit/test_poolcheck.c and
 * tests/tools/test_poolcheck.py break each invariant once
 * (tests/unit/poolcheck_cases.txt) and check both agree.
 *
 * The reasons are printf formats: %lu for u64, %u for u32, %ld signed, %lx
 * hex (Python's % reads them the same, ignoring the l). Invariants are
 * checked in the order listed: the reason given is that of the first one a
 * pool breaks. A pool that is sound but not for this node (another cluster,
 * another node count, another MAX_NODES) is not damaged: pool_attach checks
 * that.
 */
#ifndef KERNEL_CLUSTER_POOLCHECK_H
#define KERNEL_CLUSTER_POOLCHECK_H

#include <stddef.h>
#include <stdint.h>

/* the superblock, and where the node table is */
#define POOLCHECK_MAGIC "not a dmos pool (bad magic 0x%016lx, want 0x%016lx \"DMOSPOOL\")"
#define POOLCHECK_VERSION "dmos pool format version %u, want version %u"
#define POOLCHECK_POOL_SIZE "damaged pool: the pool is %lu bytes but its superblock says %lu"
#define POOLCHECK_MAX_NODES "damaged pool: max_nodes is %u, must be 1..%u"
#define POOLCHECK_NODE_TABLE "damaged pool: node table at 0x%lx (%u entries) is outside " \
	"0x%lx..0x%lx or not %u-byte aligned"
/* the areas after it (struct pool_super's offsets and sizes) */
#define POOLCHECK_NO_CONTROL "the superblock has no lease, ring, translation or allocator " \
	"area (formatted by an older kernel?)"
#define POOLCHECK_NO_TABLES "the superblock has no segment, futex or process area " \
	"(formatted by an older kernel of the same pool version?)"
#define POOLCHECK_LOCK_COUNT "the record lock table has %u entries, more than the kernel's " \
	"largest (LOCKTAB_MAX %u)"
#define POOLCHECK_OVERLAP "%s at 0x%lx..0x%lx runs into %s at 0x%lx"
#define POOLCHECK_ALIGN "%s at 0x%lx is not %u-byte aligned"
#define POOLCHECK_PAST_END "%s at 0x%lx..0x%lx is past the end of the pool (0x%lx)"
#define POOLCHECK_GSHIFT "translation granularity 2^%u pages is more than the kernel's " \
	"largest (XLATE_MAX_GSHIFT %u)"
#define POOLCHECK_REGION_PAGES "region_pages %u is not in 1..npages (%lu)"
#define POOLCHECK_CHUNK_PAGES "chunk_pages is 0"
/* the node table */
#define POOLCHECK_NODE_STATE "node %u: state %u is none of absent, joining, up, halted, dead"
/* the translation and region tables (mm/xlate.h) */
#define POOLCHECK_XLATE_SMALL "the translation area is %lu bytes, less than its header"
#define POOLCHECK_XLATE_MAGIC "translation: bad magic 0x%016lx, want 0x%016lx \"DMMSLATE\""
#define POOLCHECK_XLATE_VERSION "translation format version %u, want version %u"
#define POOLCHECK_XLATE_HEADER "translation header disagrees with the superblock: %s"
#define POOLCHECK_XLATE_ENTRY "translation: %lu entries name a device block past the last (%lu)"
#define POOLCHECK_REGION_STATE "region %u: state %u is none of online, draining, offline, failed"
/* the page allocator (mm/palloc.h) */
#define POOLCHECK_PALLOC_SMALL "the allocator area is %lu bytes, less than its header"
#define POOLCHECK_PALLOC_MAGIC "allocator: bad magic 0x%016lx, want 0x%016lx \"MDPALLOC\""
#define POOLCHECK_PALLOC_VERSION "allocator format version %u, want version %u"
#define POOLCHECK_PALLOC_HEADER "allocator header disagrees with the superblock: %s"
#define POOLCHECK_PALLOC_RECORD "allocator: %lu page records name no node (0 or past " \
	"max_nodes %u)"
#define POOLCHECK_PALLOC_OWNER "allocator: %lu chunk owners name no node"
#define POOLCHECK_PALLOC_PADDING "allocator: %lu chunks have padding bits cleared (the " \
	"kernel keeps them set)"
/* the page cache index (fs/pcache.h) */
#define POOLCHECK_PCACHE_SMALL "the page cache area is %lu bytes, less than its header"
#define POOLCHECK_PCACHE_MAGIC "page cache: bad magic 0x%016lx, want 0x%016lx \"DMPCACHE\""
#define POOLCHECK_PCACHE_VERSION "page cache format version %u, want version %u"
#define POOLCHECK_PCACHE_HEADER "page cache header disagrees with the superblock: %s"
#define POOLCHECK_PCACHE_SLOT "page cache: %lu slot words are none the cache writes " \
	"(first: slot %lu holds 0x%016lx)"
#define POOLCHECK_PCACHE_FRAME "page cache: %lu frame words name no pool page (past the " \
	"last, %lu, or bits outside the page number)"
/* the message rings (kernel/cluster/ring.h) */
#define POOLCHECK_RING_SMALL "the ring area is %lu bytes, less than its header"
#define POOLCHECK_RING_MAGIC "ring mesh: bad magic 0x%016lx, want 0x%016lx \"RINGMESH\""
#define POOLCHECK_RING_VERSION "ring mesh format version %u, want version %u"
#define POOLCHECK_RING_GEOMETRY "ring mesh: damaged geometry (%u nodes, %u slots, %u bytes " \
	"per ring)"
#define POOLCHECK_RING_SIZE "ring mesh: %u x %u rings of %u bytes need %lu bytes, the " \
	"superblock gives the area %lu"
#define POOLCHECK_RING_SLOTS "ring mesh has %u slots per ring, the superblock says %u"
#define POOLCHECK_RING_HEADER "ring %u->%u: header says magic 0x%08x, %u slots, %u->%u"
#define POOLCHECK_RING_COUNTERS "ring %u->%u: sent %lu and received %lu are %ld apart, " \
	"outside 0..%u"
/* the leases (kernel/cluster/lease.h) */
#define POOLCHECK_LEASE_WORD "lease %u holds 0x%016lx, which names no node"
#define POOLCHECK_LEASE_STRAY "%lu non-zero words in the lease area between lease lines " \
	"(first at lease_off+0x%lx): a writer that does not put lease i at lease_off + %u*i?"
/* the record locks (fs/locktab.h) */
#define POOLCHECK_LOCK_ENTRY "record locks: %lu entries are none the kernel writes (first: " \
	"entry %lu, kind %u, pid %d, range 0x%lx..0x%lx)"
/* the cluster IP's port table (net/porttab.h) */
#define POOLCHECK_PORT_MAGIC "port table: bad magic 0x%016lx or version %u, want 0x%016lx " \
	"\"DMPORTTB\" version %u"
#define POOLCHECK_PORT_HEADER "port table header disagrees with the superblock: %s"
#define POOLCHECK_PORT_ENTRY "port table: %lu entries and %lu bucket owners are none the " \
	"kernel writes (first entry %lu: state %u, proto %u, port %u, node %u, epoch %lu)"
#define POOLCHECK_PORT_CLAIM "port table: %lu claims and %lu claim set leases are none the " \
	"kernel writes (first claim %lu: state %u, owner %u, epoch %lu, key 0x%016lx)"

/* X(ID, name): every invariant, in the order poolcheck() checks them. */
#define POOLCHECK_INVARIANTS(X) \
	X(MAGIC, magic) X(VERSION, version) X(POOL_SIZE, pool_size) \
	X(MAX_NODES, max_nodes) X(NODE_TABLE, node_table) \
	X(NO_CONTROL, no_control) X(NO_TABLES, no_tables) X(LOCK_COUNT, lock_count) \
	X(OVERLAP, overlap) \
	X(ALIGN, align) X(PAST_END, past_end) X(GSHIFT, gshift) \
	X(REGION_PAGES, region_pages) X(CHUNK_PAGES, chunk_pages) \
	X(NODE_STATE, node_state) \
	X(XLATE_SMALL, xlate_small) X(XLATE_MAGIC, xlate_magic) \
	X(XLATE_VERSION, xlate_version) X(XLATE_HEADER, xlate_header) \
	X(XLATE_ENTRY, xlate_entry) X(REGION_STATE, region_state) \
	X(PALLOC_SMALL, palloc_small) X(PALLOC_MAGIC, palloc_magic) X(PALLOC_VERSION, palloc_version) \
	X(PALLOC_HEADER, palloc_header) X(PALLOC_RECORD, palloc_record) \
	X(PALLOC_OWNER, palloc_owner) X(PALLOC_PADDING, palloc_padding) \
	X(PCACHE_SMALL, pcache_small) X(PCACHE_MAGIC, pcache_magic) \
	X(PCACHE_VERSION, pcache_version) X(PCACHE_HEADER, pcache_header) \
	X(PCACHE_SLOT, pcache_slot) X(PCACHE_FRAME, pcache_frame) \
	X(RING_SMALL, ring_small) X(RING_MAGIC, ring_magic) \
	X(RING_VERSION, ring_version) X(RING_GEOMETRY, ring_geometry) \
	X(RING_SIZE, ring_size) X(RING_SLOTS, ring_slots) X(RING_HEADER, ring_header) \
	X(RING_COUNTERS, ring_counters) \
	X(LEASE_WORD, lease_word) X(LEASE_STRAY, lease_stray) X(LOCK_ENTRY, lock_entry) \
	X(PORT_MAGIC, port_magic) X(PORT_HEADER, port_header) X(PORT_ENTRY, port_entry) \
	X(PORT_CLAIM, port_claim)

#define POOLCHECK_ENUM(id, name) POOLCHECK_##id##_ID,
enum poolcheck_id {
	POOLCHECK_OK = 0,               /* no invariant broken; the invariants from 1 */
	POOLCHECK_INVARIANTS(POOLCHECK_ENUM)
	POOLCHECK_COUNT
};
#undef POOLCHECK_ENUM

struct poolcheck_invariant {
	const char *name;               /* short name: "gshift" */
	const char *reason;             /* its reason's printf format */
};

/* Every invariant, indexed by its enum poolcheck_id (entry 0 is empty). */
extern const struct poolcheck_invariant poolcheck_invariants[];

/**
 * poolcheck - check a formatted pool against every invariant
 * @base: the pool: its first byte is the superblock's
 * @size: bytes of the pool device (or file)
 * @why: where the reason of the first broken invariant goes, one line
 *     without a newline (may be NULL)
 * @n: bytes at @why
 *
 * Reads the pool only, and never outside [@base, @base + @size): each area
 * is read only once the superblock has placed it inside the pool. Other
 * nodes may run on the pool meanwhile; what they change keeps every
 * invariant (counters are read in an order that a live ring cannot break).
 * Context: any; pure C with no kernel dependency, so it builds for the host
 * too (the unit tests, the checker tests/tools/test_poolcheck.py runs).
 * Return: POOLCHECK_OK (0), or the enum poolcheck_id of the first
 * invariant the pool breaks, its reason in @why.
 */
int poolcheck(const void *base, uint64_t size, char *why, size_t n);

struct pool_super;

/**
 * pool_layout - lay the control state out for a pool
 * @sb: the superblock to fill in (only its geometry fields are written)
 * @size: bytes of the pool device
 * @nodes: nodes of the cluster, which the ring mesh is sized for
 * @gshift: translation granularity (0: 4 KiB, 9: 2 MiB)
 * @region: bytes of a region, a power of two of at least 2 MiB
 *
 * The areas one after the other from the second page, each on a cache
 * line, the tables sized for the whole device (which over-counts a little:
 * the data starts after them), the data on the next 2 MiB after them; then
 * the real page count and the page cache index for it. The one place the
 * layout is computed: pool.c's format() and the unit tests' sound pool.
 * Context: any; pure C, builds for the host too.
 * Return: 0, or -ENOSPC if the control state leaves less than 4 MiB of
 * data or an area cannot be sized.
 */
int pool_layout(volatile struct pool_super *sb, uint64_t size, uint32_t nodes,
		uint32_t gshift, uint64_t region);

#endif
