/*
 * Pool memory inside the kernel: pool pages by pool address, allocated
 * cluster-wide (palloc), reached through translation (xlate), moved by
 * drains with a shootdown to every node.
 *
 * pmem.c owns two areas of the pool (kernel/cluster/pool.h): the
 * translation table and the device frames. Nothing else holds a pointer
 * to either: the table is reached as pmem_xlate() with mm/xlate.h's
 * functions, the frames only through the pmem_* calls below.
 */
#ifndef MM_PMEM_H
#define MM_PMEM_H

#include <stdint.h>

/**
 * pmem_attach_pool - take the pool's translation table and device frames
 * @table: the translation and region tables (mm/xlate.h), in the pool window
 * @frame0: device frame 0, in the pool window
 * @frame0_pa: device frame 0's bus address
 *
 * Context: boot, once, from pool_init() when the pool is attached, before
 * the node joins.
 */
void pmem_attach_pool(void *table, uint8_t *frame0, uint64_t frame0_pa);

/**
 * pmem_xlate - the pool's translation table, for mm/xlate.h's calls
 * Context: any.
 * Return: the table, or NULL before the pool is attached (or without one).
 */
void *pmem_xlate(void);

/**
 * pmem_frame_pa - bus address of device frame dfn, for a page table
 * Context: any, once the pool is attached.
 * Return: the address.
 */
uint64_t pmem_frame_pa(uint64_t dfn);

/**
 * pmem_fill_frames - write byte over device frames [dfn, dfn + pages) and
 * flush them (what a failed DIMM leaves: the monitor's `fail`)
 * Context: any, once the pool is attached; bypasses translation.
 */
void pmem_fill_frames(uint64_t dfn, uint64_t pages, uint8_t byte);

/* Pool page ppn in this node's translated window. */
void *pmem_page(uint64_t ppn);

/**
 * pmem_alloc - one pool page, zeroed, owned by this node and process pid
 * (a page the allocator knows to hold zeros is not zeroed again)
 * When the pool has none left, the reclaimer (pmem_set_reclaimer: the
 * file system's page cache) is asked to give some back first, once.
 * Context: main loop.
 * Return: its ppn, or -ENOMEM (none left, or the node has no pool), or
 * -ETIMEDOUT (its block stayed moving: a mover died mid-move; the page is
 * given back).
 */
int64_t pmem_alloc(uint32_t pid);

/**
 * pmem_zero - zero pool pages [ppn, ppn + pages) that the caller holds
 * (a new shared segment), through the device window, and flush them
 * Context: main loop; a move of the pages meanwhile is waited out.
 * Return: 0; -ETIMEDOUT if a block stayed moving (a mover died mid-move);
 * -EINVAL for a range outside the pool; -ENOMEM if the node has no pool.
 */
int pmem_zero(uint64_t ppn, uint64_t pages);

/**
 * pmem_zero_soon - pool pages [ppn, ppn + pages) were freed holding what
 * their users wrote: have the zeroer (a kernel-thread work that runs while
 * no process can) zero them in advance, so that the next allocation of
 * them need not
 * Context: any but an interrupt.
 */
void pmem_zero_soon(uint64_t ppn, uint64_t pages);

/**
 * pmem_zeroed - pool pages this node's zeroer has zeroed in advance
 * Context: any.
 * Return: the count since boot.
 */
uint64_t pmem_zeroed(void);

/* PMEM_RECLAIM_BATCH pages are asked back at a time: fn frees up to that
 * many pool pages and returns how many it freed. Context: boot. */
#define PMEM_RECLAIM_BATCH 64
void pmem_set_reclaimer(uint32_t (*fn)(uint32_t pages));

/**
 * pmem_make_room - see that pages pool pages can be had: when fewer are
 * free, ask the reclaimer (the page cache) to give back what is missing,
 * PMEM_RECLAIM_BATCH pages at a time, until it has or gives nothing more
 * Context: a process (a targeted dm_alloc checks its request up front).
 * Return: 0; -ENOMEM if even then fewer are free (or the node has no pool).
 */
int pmem_make_room(uint64_t pages);

/* Region failures the pool has seen since it was formatted (0 without a
 * pool): a cheap test before looking for what they took. Context: any. */
uint64_t pmem_failures(void);

/* Is pool page ppn backed by a region that failed (its bytes may be wiped,
 * even before this node heard of the failure)? Context: any. */
bool pmem_page_lost(uint64_t ppn);

/* Give a pool page back (dropping this node's window mapping of it).
 * Return: 0 (also when the node lost the pool) or -EINVAL. */
int pmem_free(uint64_t ppn);

/* Drop this node's mappings of [ppn, ppn+pages). Context: any. */
void pmem_shootdown_local(uint64_t ppn, uint64_t pages);

/**
 * pmem_drain - move every live page out of a region and take it offline
 * Context: main loop; other nodes keep running and allocating.
 * Return: 0, or a negative errno (the region stays draining).
 */
int pmem_drain(uint32_t region);

/**
 * pmem_move - move one translation block to a free block elsewhere
 * Context: main loop. Return: 0 or a negative errno.
 */
int pmem_move(uint64_t block);

#endif
