/*
 * Pool memory inside the kernel: pool pages by pool address, allocated
 * cluster-wide (palloc), reached through translation (xlate), moved by
 * drains with a shootdown to every node.
 */
#ifndef MM_PMEM_H
#define MM_PMEM_H

#include <stdint.h>

/* Pool page ppn in this node's translated window. */
void *pmem_page(uint64_t ppn);

/**
 * pmem_alloc - one pool page, zeroed, owned by this node and process pid
 * Context: main loop.
 * Return: its ppn, or -ENOMEM (none left, or the node has no pool), or
 * -ETIMEDOUT (its block stayed moving: a mover died mid-move; the page is
 * given back).
 */
int64_t pmem_alloc(uint32_t pid);

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
