/*
 * Pool address translation: the emulated pool controller's table from pool
 * pages (ppn, what kernels map) to device frames (dfn, where the bytes sit
 * in the pool device), and the drain that empties a region of device
 * frames by moving what lives there, while every node keeps running.
 *
 * The table maps blocks of G = 2^gshift pages (gshift 0: 4 KiB, 9: 2 MiB)
 * and lives in the pool: one u32 entry per block, the device block number
 * in bits 0..30 and XLATE_MOVING in bit 31. At format it is the identity.
 * Table size = npages / G * 4 bytes: a 1 GiB pool needs 1 MiB of table at
 * 4 KiB and 2 KiB at 2 MiB. A finer G makes the table 512 times larger (and
 * 8-byte entries, needed past 2^31 blocks = 8 TiB at 4 KiB, would double
 * it again); a coarser G makes every move copy and shoot down 2 MiB, even
 * to rescue one live page. That trade-off is what the experiment measures.
 *
 * Device frames are grouped in regions of region_pages frames; the region
 * table (one line per region, in the pool) holds the state and counts.
 * Only pages whose frames sit in an online region are handed out:
 * xlate_usable() is the predicate palloc checks.
 *
 * Move protocol, block b (frames F, the region being drained) onto spare
 * block s (frames S, online region; all of s's pages held reserved through
 * palloc by the mover, so nobody allocates them meanwhile):
 *  1. CAS entry[b] F -> F|MOVING, then entry[s] S -> S|MOVING. A failed
 *     CAS means another mover has the block: undo, -EBUSY. From here no
 *     other mover touches b or s, nobody allocates a page of b, and a node
 *     faulting on b waits (xlate_resolve() says -EBUSY) instead of mapping.
 *  2. Check S's region is still online; this load comes after the marks,
 *     so a drain of S's region that starts now sees s MOVING and rescans.
 *  3. shootdown(b): every node drops its mappings of b's pages and acks;
 *     from now on nobody writes F. This comes before the copy: a write that
 *     landed in F after the copy would be lost. Failure: undo the marks.
 *  4. copy(S <- F).
 *  5. Publish with release stores: entry[s] = F, then entry[b] = S, both
 *     without MOVING; flush. Faults on b now map S, with the data.
 *  6. Only then the caller frees s's pages: F is reused as the backing of
 *     free pages of s, which its region's state keeps out of use.
 * A mover that dies between 1 and 5 leaves the two entries MOVING; taking
 * over such a move is not done here.
 *
 * Region failure (the fault injector, tools/dmos fail-region, plays the
 * pool controller reporting a dead DIMM):
 *  1. the region's state becomes XLATE_FAILED and its failed_seq the
 *     header's failures + 1; from now on no page backed there is handed
 *     out (xlate_usable) and no drain starts there;
 *  2. every device frame of the region is overwritten (contents lost);
 *  3. the header's failures count goes up by one, last.
 * Each node watches failures from its tick. When it moves, every process
 * checks its own pool pages on its way back to user mode (nothing it runs
 * can read the lost frames after that): pages backed by a failed region
 * are dropped; losing optional pages raises an exception in the process,
 * losing vital ones kills it. The node adds what it found to the region's
 * lost_optional, lost_vital and killed counts (xlate_count_loss).
 */
#ifndef MM_XLATE_H
#define MM_XLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mm/palloc.h"

#define XLATE_MOVING     0x80000000u    /* entry bit: a move is in progress */
#define XLATE_NONE       UINT64_MAX     /* "no frame" from xlate_lookup() */
#define XLATE_MAX_GSHIFT 20             /* largest block: 4 GiB */
#define XLATE_PID        0              /* pid recorded on a drain's spare pages */
#define XLATE_BATCH      64             /* blocks a drain moves under one shootdown */
#define XLATE_BATCH_PAGES 256           /* ... and pages: a node that touches one of
					   them waits until the whole run is copied */

enum xlate_region_state {
	XLATE_ONLINE = 0,               /* its frames back pages in use */
	XLATE_DRAINING = 1,             /* being emptied; no new pages */
	XLATE_OFFLINE = 2,              /* empty, out of use */
	XLATE_FAILED = 3,               /* contents lost */
};

struct xlate_geom {
	uint64_t npages;                /* pool pages = device frames */
	uint32_t gshift;                /* block = 2^gshift pages */
	uint32_t region_pages;          /* frames per region, a multiple of G */
};

/*
 * The metadata block in the pool, as laid out by xlate_format(): this
 * header, nblocks u32 entries at entries_off, one struct xlate_region per
 * region at regions_off (offsets from the block's start). Part of the pool
 * format: kernel/cluster/poolcheck.c and tools/dmoslib/poolmem.py read it.
 */
#define XLATE_MAGIC   0x4554414C534D4D44ULL     /* "DMMSLATE" */
#define XLATE_VERSION 2        /* 2: region failures (failures, lost and killed counts) */

struct xlate_hdr {
	uint64_t magic;                 /* written last by xlate_format */
	uint32_t version;
	uint32_t gshift;
	uint64_t npages;
	uint32_t region_pages;
	uint32_t nregions;
	uint64_t nblocks;
	uint64_t entries_off, regions_off;
	uint64_t moves, pages_moved;    /* atomic counters */
	uint64_t failures;              /* regions failed since format (see above) */
	uint64_t pad[6];
};
_Static_assert(sizeof(struct xlate_hdr) == 128, "xlate header is two lines");

struct xlate_region {
	uint32_t state;                 /* enum xlate_region_state */
	uint32_t pad;
	uint64_t moves_out;             /* blocks moved out of the region */
	uint64_t pages_out;
	uint64_t lost_optional;         /* optional pages in use found lost here */
	uint64_t lost_vital;            /* vital pages in use found lost here (a shared
					   segment's once per process that mapped it) */
	uint64_t killed;                /* processes killed for losing them */
	uint64_t failed_seq;            /* the failures count this failure made */
	uint64_t reserved[1];
};
_Static_assert(sizeof(struct xlate_region) == 64, "a region is one line");

struct xlate_mover {
	/* Copy @pages device frames from @src_dfn to @dst_dfn. */
	void (*copy)(void *ctx, uint64_t dst_dfn, uint64_t src_dfn,
		     uint64_t pages);
	/* Make every node drop its mappings of these pool pages; 0 once all
	 * acked, else a negative errno. */
	int (*shootdown)(void *ctx, uint64_t ppn, uint64_t pages);
	void *ctx;
};

struct xlate_stats {
	uint64_t entries;               /* blocks in the table */
	uint64_t entry_bytes;           /* 4 */
	uint64_t table_bytes;           /* entries * entry_bytes */
	uint64_t block_pages;           /* G */
	uint64_t regions;
	uint64_t in_state[4];           /* regions per enum xlate_region_state */
	uint64_t moves;                 /* blocks moved since format */
	uint64_t pages_moved;           /* moves * G */
};

/**
 * xlate_meta_size() - bytes of pool the table and region table need
 * @g: geometry
 *
 * Context: any; pure.
 * Return: the size (a multiple of 64), or 0 if @g is not supported.
 */
size_t xlate_meta_size(const struct xlate_geom *g);

/**
 * xlate_format() - write the identity table and every region online
 * @meta: xlate_meta_size(@g) bytes of pool, 8-byte (ideally 64) aligned
 * @g: geometry: npages and region_pages multiples of G, gshift at most
 *     XLATE_MAX_GSHIFT
 *
 * Context: once per pool, by the node that formats it; the magic goes last.
 * Return: 0, or -EINVAL for a bad geometry or a NULL @meta.
 */
int xlate_format(void *meta, const struct xlate_geom *g);

/**
 * xlate_lookup() - device frame backing a pool page
 * @meta: the table
 * @ppn: the page
 *
 * Context: any; a snapshot: during a move it names the old frame.
 * Return: the dfn, or XLATE_NONE for a bad table or ppn.
 */
uint64_t xlate_lookup(const void *meta, uint64_t ppn);

/**
 * xlate_resolve() - device frame to map for a pool page (the fault path)
 * @meta: the table
 * @ppn: the page
 * @dfn: set to the frame
 *
 * Context: any; a node must have published that it maps @ppn (so that a
 * shootdown finds it) before calling this.
 * Return: 0, -EBUSY while the page's block is moving (wait and retry),
 * -EINVAL for a bad table or ppn.
 */
int xlate_resolve(const void *meta, uint64_t ppn, uint64_t *dfn);

/**
 * xlate_resolve_wait() - xlate_resolve(), waiting out a move of the block
 * @meta: the table
 * @ppn: the page
 * @dfn: set to the frame
 * @poll: called between tries, or NULL: the kernel answers messages there,
 *        since the mover may be waiting for this node's shootdown ack
 *
 * A block is MOVING only while its mover shoots down, copies and
 * publishes. One still MOVING after MOVE_WAIT_MS (kernel/param.h) lost its
 * mover mid-move, and nothing clears the mark (see the move protocol), so
 * waiting longer would wedge the caller for good.
 * Context: as xlate_resolve(); spins, pool_relax() between tries, for up
 * to MOVE_WAIT_MS.
 * Return: 0; -ETIMEDOUT if the block stayed moving for MOVE_WAIT_MS;
 * -EINVAL for a bad table or ppn.
 */
int xlate_resolve_wait(const void *meta, uint64_t ppn, uint64_t *dfn,
		       void (*poll)(void));

/**
 * xlate_resolve_run() - the frames backing a run of pool pages, if they
 * are one run of device frames (what a 2 MiB mapping of the run needs)
 * @meta: the table
 * @ppn: first page
 * @pages: pages in the run
 * @dfn: set to the frame of @ppn
 *
 * Reads one entry per block the run touches (one for a 2 MiB run at 2 MiB
 * granularity, 512 at 4 KiB). At 4 KiB a move of any page of the run puts
 * it on another frame, so the run is mapped page by page from then on; at
 * 2 MiB a block moves as a whole and stays one run.
 * Context: as xlate_resolve(): the caller has published that it maps the
 * run before calling this.
 * Return: 0; -ENOENT if the frames are not consecutive; -EBUSY while a
 * block of the run is moving; -EINVAL for a bad table or run.
 */
int xlate_resolve_run(const void *meta, uint64_t ppn, uint64_t pages, uint64_t *dfn);

/**
 * xlate_usable() - may this pool page be handed out (palloc's predicate)
 * @meta: the table (void * to match palloc's usable())
 * @ppn: the page
 *
 * Context: any; sequentially consistent loads (see the drain).
 * Return: true if its block is not moving and its frames' region is online.
 */
bool xlate_usable(void *meta, uint64_t ppn);

/**
 * xlate_usable_run() - xlate_usable() of every page of a run
 * @meta: the table
 * @ppn: first page
 * @pages: pages in the run
 *
 * One look at each block's entry and its region, not one call per page.
 * Context: any; sequentially consistent loads.
 * Return: true if every page of [@ppn, @ppn + @pages) may be handed out;
 * false if one may not, or for a bad table or run.
 */
bool xlate_usable_run(const void *meta, uint64_t ppn, uint64_t pages);

/**
 * xlate_region_state() - state of a region
 * Context: any.
 * Return: an enum xlate_region_state, or -EINVAL for a bad table or region.
 */
int xlate_region_state(const void *meta, uint32_t region);

/**
 * xlate_set_region_state() - set a region's state (e.g. the fault injector
 * marking it failed)
 * Context: any; xlate_drain_region() does online -> draining -> offline.
 * Return: 0, or -EINVAL for a bad table, region or state.
 */
int xlate_set_region_state(void *meta, uint32_t region, int state);

/**
 * xlate_move_block() - move one block's data to a spare block's frames
 * @meta: the table
 * @block: the block to move
 * @spare_block: a block whose pages are all free and held reserved by the
 *     caller, backed by frames in an online region
 * @m: copy and shootdown callbacks
 *
 * Runs steps 1-5 of the move protocol above; the caller then frees the
 * spare's pages (step 6).
 * Context: any node; may wait in @m->shootdown.
 * Return: 0; -EBUSY if either block is moving or the spare's region is no
 * longer online (also when it failed during the copy: the block stays);
 * -EIO if the block's own region failed during the copy (it stays, lost);
 * shootdown's error; -EINVAL for bad arguments.
 */
int xlate_move_block(void *meta, uint64_t block, uint64_t spare_block,
		     const struct xlate_mover *m);

/**
 * xlate_drain_region() - empty a region while the cluster keeps running
 * @meta: the table
 * @pa: the calling node's allocator handle (reserves the spare blocks)
 * @region: the region
 * @m: copy and shootdown callbacks
 *
 * Sets the region draining, moves every block backed there that holds an
 * allocated page onto a free block outside it, and sets it offline. Runs
 * of consecutive blocks (up to XLATE_BATCH blocks, XLATE_BATCH_PAGES pages)
 * move under one shootdown: steps 1-2 for each, 3 once for the run's pool
 * pages, 4-5 for each. Other
 * nodes go on allocating meanwhile: a page they take after the state
 * changed is not usable, so they give it back (see palloc.h). Blocks held
 * MOVING by another mover are rescanned until they settle. A drain that
 * stops with an error leaves the region draining; calling it again resumes.
 * Context: one node per region; may wait in @m->shootdown.
 * Return: 0 (also for a region already offline); -ENOMEM if no spare block
 * is free; -EBUSY if blocks stayed MOVING for MOVE_WAIT_MS (kernel/param.h)
 * without any progress; shootdown's error; -EIO if the region's state was
 * changed (e.g. failed) under the drain; -EINVAL for bad arguments or a
 * failed region.
 */
int xlate_drain_region(void *meta, struct palloc *pa, uint32_t region,
		       const struct xlate_mover *m);

/**
 * xlate_fail_region() - fail a region: steps 1-3 of region failure above
 * @meta: the table
 * @region: the region
 * @destroy: called between the state change and the count with the
 *     region's device frames [dfn, dfn + pages), to wipe them; may be NULL
 * @ctx: for @destroy
 *
 * What the host injector does to the pool file, for unit tests and the
 * monitor's `fail` command.
 * Context: any.
 * Return: 0; -EALREADY if the region had failed already; -EINVAL for a bad
 * table or region.
 */
int xlate_fail_region(void *meta, uint32_t region,
		      void (*destroy)(void *ctx, uint64_t dfn, uint64_t pages), void *ctx);

/**
 * xlate_failures() - how many region failures the pool has seen
 * Context: any; an acquire load (what the injector wrote before is seen).
 * Return: the count, 0 for a bad table.
 */
uint64_t xlate_failures(const void *meta);

/**
 * xlate_lost() - is this pool page backed by a failed region
 * @meta: the table
 * @ppn: the page
 * @after, @upto: count only failures number @after + 1 .. @upto (the
 *     region's failed_seq); 0, UINT64_MAX for all of them
 * @region: set to the region of its frames (may be NULL)
 *
 * Context: any.
 * Return: true if the page's data is gone (its frames' region failed).
 */
bool xlate_lost(const void *meta, uint64_t ppn, uint64_t after, uint64_t upto, uint32_t *region);

/**
 * xlate_region_failed() - is this region failed, as failure @after + 1 .. @upto
 * Context: any.
 * Return: true if it is failed and @after < its failed_seq <= @upto.
 */
bool xlate_region_failed(const void *meta, uint32_t region, uint64_t after, uint64_t upto);

/* Regions in the pool (0 for a bad table). Context: any. */
uint32_t xlate_nregions(const void *meta);

/**
 * xlate_count_loss() - add what one node found lost to a region's counts
 * Context: any; atomic adds.
 */
void xlate_count_loss(void *meta, uint32_t region, uint64_t optional_pages,
		      uint64_t vital_pages, uint64_t killed);

/**
 * xlate_stats() - table size, region states and move counts
 * Context: any; a snapshot. All zero for a bad table.
 */
void xlate_stats(const void *meta, struct xlate_stats *st);

#endif
