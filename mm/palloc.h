/*
 * Pool page allocator: hands out 4 KiB pool pages to every node of the
 * cluster, records who owns each one, and takes back a dead node's pages.
 *
 * Why distributed. A central allocator (one free list, one lock in the
 * pool) is simple and never strands a page, but every alloc and free of
 * every node takes the same cluster-wide lock and writes the same pool
 * lines, so all nodes contend on them. Here the pool pages are cut into
 * chunks (e.g. 512 pages = 2 MiB). A node claims an unowned chunk with one
 * CAS on its owner word and then allocates from chunks it owns, touching
 * only that chunk's bitmap and page records. The price: free pages sit
 * stranded in other nodes' chunks (fragmentation; a node takes from them
 * only as a last resort, before -ENOMEM), and a dead node's chunks and
 * pages need an explicit reclaim.
 *
 * What lives in the pool (the metadata block, at any pool address):
 *   header      magic, version, geometry, offsets (magic written last)
 *   owners      one u32 per chunk: 0 unowned, else node + 1; read-mostly
 *   bitmaps     per chunk, cache-line aligned: bit set = page taken
 *   records     one u64 per page: u16 node + 1 (0 = free), u16 flags, u32 pid
 *   zero bits   one bit per page, by ppn, after the records (at
 *               round_up(rec_off + npages * 8, 64)): set = the page is free
 *               and known to hold zeros
 *
 * The page record is the truth: a page is allocated exactly when its
 * record is non-zero, and records change only by CAS, so two frees or two
 * reclaimers of one page cannot both succeed. The bitmap bit is taken
 * (atomic OR) before the record and dropped after it; it makes the search
 * fast. A node that dies between the two leaves a bit with no record;
 * palloc_reclaim() clears such bits. Any drift a reclaim causes by racing
 * with a live node is "taken, not marked" and heals at the next look.
 *
 * Known-zero pages. A new page must read as zeros, and zeroing it when it
 * is handed out puts a memset on every allocation's path (20 ms for a
 * 64 MiB segment under TCG). So a free page may carry a zero bit: its
 * bytes are zero. Only a holder sets it (palloc_mark_zero: a node that
 * zeroed pages it holds, just before it frees them), and every take
 * clears it, after the record is written and before the page is returned,
 * telling the taker whether the page still needs zeroing. No free page is
 * written by anyone (a move copies its bytes as they are; a drain's spare
 * pages, which end up backed by the drained frames, were taken and so lost
 * their bits; a failed region's wiped pages are never handed out again),
 * so the bit stays true while it is set. A pool formatted on a file the launcher
 * created sparse starts with every bit set (palloc_format's zeroed); any other
 * starts with none, and the zero bits only ever cost a zeroing that would
 * have happened anyway.
 *
 * Pages whose device frame is not in an online region are never handed
 * out: the usable() predicate given at attach (xlate_usable) is checked
 * before taking a page and again after its record is written, so a region
 * that starts draining meanwhile sees either the record or the allocator
 * sees the new state and gives the page back.
 *
 * Context (all functions): lock-free on the pool; a struct palloc is
 * node-local and used by one CPU of its node at a time.
 */
#ifndef MM_PALLOC_H
#define MM_PALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kernel/param.h"

#define PALLOC_MAX_CHUNK   65536        /* pages in one chunk, at most */
#define PALLOC_KEEP_CHUNKS 1            /* empty chunks a node keeps owning */
#define PALLOC_F_RESERVED  1            /* record flag: held by palloc_reserve */
#define PALLOC_F_SHARED    2            /* record flag: a shared segment's; outlives its node */

struct palloc_geom {
	uint64_t npages;                /* pool pages managed, ppn 0..npages-1 */
	uint32_t chunk_pages;           /* pages per chunk (512 = 2 MiB) */
	uint32_t max_nodes;             /* 1..MAX_NODES (node ids 0..MAX_NODES-1) */
};

/*
 * The metadata block in the pool starts with this header; the owners, the
 * bitmaps and the records are at the offsets it gives, from the block's
 * start. Part of the pool format: kernel/cluster/poolcheck.c and
 * tools/dmoslib/poolmem.py read it.
 */
#define PALLOC_MAGIC   0x434F4C4C4150444DULL    /* "MDPALLOC" */
#define PALLOC_VERSION 2        /* 2: the zero bits */

struct palloc_hdr {
	uint64_t magic;                 /* written last by palloc_format */
	uint32_t version;
	uint32_t chunk_pages;
	uint64_t npages;
	uint32_t max_nodes;
	uint32_t nchunks;
	uint32_t words;                 /* bitmap words per chunk (whole lines) */
	uint32_t pad;
	uint64_t owners_off, bmp_off, rec_off;
};
_Static_assert(sizeof(struct palloc_hdr) == 64, "palloc header is one line");

/* Node-local handle; the pointers are this node's view of the pool. */
struct palloc {
	void *meta;                     /* the metadata block in the pool */
	uint32_t *owners;
	uint64_t *bmp;
	uint64_t *rec;
	uint64_t *zero;                 /* the zero bits */
	uint64_t npages;
	uint32_t chunk_pages, nchunks, words, max_nodes;
	uint32_t node;                  /* this node's id */
	uint32_t hint;                  /* chunk of the last allocation */
	uint32_t nowned;                /* chunks this node owns */
	bool (*usable)(void *ctx, uint64_t ppn);
	void *ctx;
};

struct palloc_stats {
	uint64_t npages;
	uint64_t free;                  /* pages with no record */
	uint64_t reserved;              /* pages held by palloc_reserve */
	uint64_t zeroed;                /* free pages known to hold zeros */
	uint64_t chunks, chunks_unowned;
	uint64_t used_by_node[MAX_NODES];
	uint64_t chunks_owned_by_node[MAX_NODES];
};

/**
 * palloc_meta_size() - bytes of pool the allocator's metadata needs
 * @g: geometry
 *
 * Context: any; pure.
 * Return: the size (a multiple of 64), or 0 if @g is not supported.
 */
size_t palloc_meta_size(const struct palloc_geom *g);

/**
 * palloc_format() - write an empty allocator into the pool
 * @meta: palloc_meta_size(@g) bytes of pool, 8-byte (ideally 64) aligned
 * @g: geometry
 * @zeroed: every page reads as zeros (a pool file the launcher created
 *          sparse): each starts with its zero bit set; else none does
 *
 * Every page is free and every chunk unowned. The magic goes in last, so a
 * node that attaches early sees no allocator rather than half of one.
 * Context: once per pool, by the node that formats it, before any attach.
 * Return: 0, or -EINVAL for a bad geometry or a NULL @meta.
 */
int palloc_format(void *meta, const struct palloc_geom *g, bool zeroed);

/**
 * palloc_attach() - open the pool's allocator as one node
 * @pa: node-local handle to fill in
 * @meta: the formatted metadata block
 * @node: this node's id, below the geometry's max_nodes
 * @usable: predicate a page must satisfy to be handed out (NULL: all)
 * @ctx: first argument of @usable
 *
 * Chunks already owned by @node (a node re-attaching) stay its own.
 * Context: boot; before the node allocates.
 * Return: 0, or -EINVAL for an unformatted block or a bad node id.
 */
int palloc_attach(struct palloc *pa, void *meta, uint32_t node,
		  bool (*usable)(void *ctx, uint64_t ppn), void *ctx);

/**
 * palloc_alloc() - allocate one usable pool page for a process
 * @pa: this node's handle
 * @pid: owning process
 *
 * Context: as palloc_alloc_where().
 * Return: the ppn, or -ENOMEM / -EINVAL.
 */
int64_t palloc_alloc(struct palloc *pa, uint32_t pid);

/**
 * palloc_alloc_where() - allocate one pool page that satisfies @ok
 * @pa: this node's handle
 * @pid: owning process, recorded with the page
 * @ok: predicate on the ppn (NULL: any page)
 * @ctx: first argument of @ok
 *
 * Looks in the node's own chunks first, then claims an unowned chunk with
 * one CAS, and only then takes a page stranded in another node's chunk.
 * Context: the node's CPU; lock-free, never waits on another node.
 * Return: the ppn, -ENOMEM if no free page satisfies @ok, -EINVAL for a
 * bad handle.
 */
int64_t palloc_alloc_where(struct palloc *pa, uint32_t pid,
			   bool (*ok)(void *ctx, uint64_t ppn), void *ctx);

/**
 * palloc_alloc_zero() - palloc_alloc(), and whether the page holds zeros
 * @pa: this node's handle
 * @pid: owning process
 * @zero: set to true if the page is known to hold zeros (it need not be
 *        zeroed), false if its bytes are whatever its last holder left
 *
 * Context: as palloc_alloc_where().
 * Return: the ppn, or -ENOMEM / -EINVAL.
 */
int64_t palloc_alloc_zero(struct palloc *pa, uint32_t pid, bool *zero);

/**
 * palloc_free() - free an allocated (or reserved) pool page
 * @pa: the calling node's handle; any node may free any page
 * @ppn: the page
 *
 * A chunk of the caller's that becomes empty goes back to the cluster
 * when the node owns more than PALLOC_KEEP_CHUNKS chunks.
 * Context: any node; lock-free. Exactly one of several concurrent frees of
 * a page succeeds.
 * Return: 0, or -EINVAL if @ppn is out of range or not allocated.
 */
int palloc_free(struct palloc *pa, uint64_t ppn);

/**
 * palloc_reserve() - take the given free pages, all or none
 * @pa: this node's handle
 * @pid: owner recorded with the pages (flag PALLOC_F_RESERVED)
 * @first: first ppn
 * @n: number of pages
 *
 * The usable predicate is not applied: the caller chose the pages. Give
 * them back one by one with palloc_free().
 * Context: any node; lock-free.
 * Return: 0, -EBUSY if one of the pages is not free, -EINVAL for a range
 * outside the pool.
 */
int palloc_reserve(struct palloc *pa, uint32_t pid, uint64_t first,
		   uint64_t n);

/**
 * palloc_reserve_where() - reserve an aligned run of free pages
 * @pa: this node's handle
 * @pid: owner recorded with the pages
 * @n: pages in the run; the run starts at a multiple of @n
 * @ok: predicate on the run's first ppn (NULL: any run)
 * @ctx: first argument of @ok
 *
 * Used by the region drain to find a spare block.
 * Context: any node; lock-free; scans the whole pool (slow path).
 * Return: the first ppn of the run, -ENOMEM if none, -EINVAL for bad args.
 */
int64_t palloc_reserve_where(struct palloc *pa, uint32_t pid, uint64_t n,
			     bool (*ok)(void *ctx, uint64_t first), void *ctx);

/**
 * palloc_reserve_aligned() - reserve @n free pages starting at a multiple
 * of @align
 * @pa: this node's handle
 * @pid: owner recorded with the pages (flag PALLOC_F_RESERVED)
 * @n: pages in the run
 * @align: the run starts at a multiple of this (1: anywhere)
 * @start: look from here on, then from 0 up to it
 * @ok: predicate on the run's first ppn (NULL: any run)
 * @ctx: first argument of @ok
 *
 * A taken page rules out every candidate start whose run would cover it:
 * the scan goes on at the next multiple of @align after it, so a search
 * costs about one look at each page, not one per page and candidate.
 * Context: any node; lock-free; scans the pool (slow path).
 * Return: the first ppn of the run, -ENOMEM if no such run is free,
 * -EINVAL for bad args.
 */
int64_t palloc_reserve_aligned(struct palloc *pa, uint32_t pid, uint64_t n, uint64_t align,
			       uint64_t start, bool (*ok)(void *ctx, uint64_t first), void *ctx);

/* What palloc_reserve_run() looks for, and what it reports. */
struct palloc_run {
	uint64_t n;                     /* pages in the run */
	uint64_t align;                 /* it starts at a multiple of this (1: anywhere) */
	uint64_t start;                 /* look from here on, then from 0 up to it */
	bool zero_only;                 /* only a run whose every page is known zero */
	bool (*ok)(void *ctx, uint64_t first);  /* predicate on the first ppn (NULL: any) */
	void *ctx;                      /* first argument of ok */
	uint64_t *known;                /* NULL, or n bits to fill in: bit i set = page
					   first + i is known to hold zeros */
};

/**
 * palloc_reserve_run() - reserve a free run of pages as @r describes
 * @pa: this node's handle
 * @pid: owner recorded with the pages
 * @r: the run wanted (see struct palloc_run)
 *
 * palloc_reserve_aligned() with the zero bits: the pages are taken a
 * bitmap word at a time (flag PALLOC_F_RESERVED), and r->known says which
 * of them need no zeroing.
 * Context: any node; lock-free; scans the pool (slow path).
 * Return: the first ppn of the run, -ENOMEM if no such run is free,
 * -EINVAL for bad args.
 */
int64_t palloc_reserve_run(struct palloc *pa, uint32_t pid, const struct palloc_run *r);

/**
 * palloc_find_unzeroed() - a run of free pages not known to hold zeros
 * @pa: a node's handle
 * @start: look from this ppn on (to the end of the pool)
 * @max: pages in the run, at most (> 0)
 * @n: set to the pages in the run found
 *
 * For a node that zeroes free pages while it has nothing else to do: it
 * reserves the run (palloc_reserve), zeroes it, palloc_mark_zero()s it
 * and frees it. The run lies in one chunk.
 * Context: any; a snapshot (the run may be taken meanwhile).
 * Return: the run's first ppn, -ENOENT if there is none from @start on,
 * -EINVAL for bad args.
 */
int64_t palloc_find_unzeroed(const struct palloc *pa, uint64_t start, uint64_t max,
			     uint64_t *n);

/**
 * palloc_mark_zero() - record that held pages hold zeros
 * @pa: a node's handle
 * @first: first ppn
 * @n: pages
 *
 * The caller holds every page of [first, first + n) and has zeroed them
 * and flushed the zeros (pmem_zero); it frees them next, and the next
 * taker of each finds its zero bit and need not zero it.
 * Context: any node; lock-free.
 * Return: 0, or -EINVAL for a range outside the pool or a free page in it
 * (nothing is marked then).
 */
int palloc_mark_zero(struct palloc *pa, uint64_t first, uint64_t n);

/**
 * palloc_reserve_from() - palloc_reserve_where(), looking from @start on
 * (and then from 0 up to @start): a caller that takes many runs one after
 * the other passes where the last one ended, and does not scan the taken
 * ones again each time (a drain of a region full of live pages: one scan
 * of the pool, not one per block).
 */
int64_t palloc_reserve_from(struct palloc *pa, uint32_t pid, uint64_t n, uint64_t start,
			    bool (*ok)(void *ctx, uint64_t first), void *ctx);

/**
 * palloc_reclaim() - take back everything a dead node held
 * @pa: the calling (surviving) node's handle
 * @dead_node: the node declared dead
 *
 * Frees every page whose record names @dead_node, releases its chunks,
 * and clears bits left taken without a record (a node that died inside
 * take or give). Several survivors may run it at once: each page is freed
 * by exactly one of them (CAS on the record).
 * Context: any surviving node, after membership declared @dead_node dead
 * and before it may rejoin; scans the whole pool.
 * Return: pages this call freed.
 */
uint64_t palloc_reclaim(struct palloc *pa, uint32_t dead_node);

/**
 * palloc_share() - mark an allocated page as a shared segment's
 * @pa: a node's handle
 * @ppn: the page
 *
 * A shared page outlives the node that allocated it: palloc_reclaim()
 * leaves it alone; whoever ends the segment frees it.
 * Context: any node. Return: 0, or -EINVAL if the page is free.
 */
int palloc_share(struct palloc *pa, uint64_t ppn);

/**
 * palloc_share_run() - palloc_share() every page of [first, first + n)
 * @pa: a node's handle
 * @first: first ppn
 * @n: pages
 *
 * One flush of the records at the end, not one per page.
 * Context: any node. Return: 0, or -EINVAL for a range outside the pool
 * or a free page in it (the pages before it are shared then).
 */
int palloc_share_run(struct palloc *pa, uint64_t first, uint64_t n);

/**
 * palloc_owner() - who owns a pool page
 * @meta: the metadata block
 * @ppn: the page
 * @node: set to the owning node (may be NULL)
 * @pid: set to the owning process (may be NULL)
 *
 * Context: any; a snapshot.
 * Return: 0, -ENOENT if the page is free, -EINVAL for a bad block or ppn.
 */
int palloc_owner(const void *meta, uint64_t ppn, uint32_t *node,
		 uint32_t *pid);

/**
 * palloc_stats() - count pages per owner and chunks per node
 * @meta: the metadata block
 * @st: filled in (all zero for an unformatted block)
 *
 * Context: any; a snapshot taken page by page, not atomic as a whole.
 */
void palloc_stats(const void *meta, struct palloc_stats *st);

/**
 * palloc_check() - count pages whose bitmap bit disagrees with the record
 * @meta: the metadata block
 *
 * Zero when the pool is quiet and no node died inside take or give.
 * Context: any; for tests and the pool inspector.
 * Return: the number of disagreeing pages (UINT64_MAX for a bad block).
 */
uint64_t palloc_check(const void *meta);

#endif
