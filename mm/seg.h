/*
 * Shared segments: named pool memory that processes on any node attach,
 * mapped at the same virtual address everywhere (slot i of the table lives
 * at SEG_BASE + i * SEG_SPAN), so plain pointers inside work on every node.
 * A segment made with a nonzero key may be attached only by giving that
 * key. Its pages are zeroed when it is made and go back to the pool when
 * the last attachment goes (detach, exit, or its node's death). One of
 * 2 MiB or more sits 2 MiB aligned in the pool, so that processes map each
 * whole 2 MiB of it with one large page (mm/vm.c).
 */
#ifndef MM_SEG_H
#define MM_SEG_H

#include <stdint.h>
#include "mm/vm.h"

#define SEG_BASE 0x0000200000000000UL
#define SEG_SPAN (1UL << 30)                    /* largest segment: 1 GiB */
#define SEG_NAME_MAX 32

/* In the pool: one entry per segment, POOL_SEG_BYTES long. */
struct pool_seg {
	uint32_t state;                         /* SEG_FREE, SEG_LIVE */
	uint32_t key;                           /* 0: anyone may attach */
	char name[SEG_NAME_MAX];
	uint64_t first_ppn, npages, bytes;
	uint32_t creator_node, creator_pid;
	uint16_t refs[64];                      /* attachments, per node */
	uint8_t pad[56];
};

enum { SEG_FREE = 0, SEG_LIVE = 1 };

/* A segment this large (pages) starts 2 MiB aligned in the pool, so that
 * processes map it with 2 MiB pages (mm/vm.c). */
#define SEG_LARGE_PAGES 512

struct seg_stats {
	uint64_t live;                          /* segments in the table */
	uint64_t pages;                         /* their pages */
	uint64_t large_pages;                   /* ... in whole 2 MiB aligned runs */
};

/**
 * seg_stats - what the segment table holds now
 * @st: filled in (zeros if the node has no pool)
 * Context: any; a snapshot, read without the table's lease.
 */
void seg_stats(struct seg_stats *st);

/**
 * seg_attach_pool - take the pool's segment table, the only pointer to it
 * @segs: pool.super->nsegs entries of POOL_SEG_BYTES, in the pool window
 * Context: boot, once, from pool_init() when the pool is attached.
 */
void seg_attach_pool(void *segs);

/* Create a segment and attach it to vm. Return: its address, or -errno. */
int64_t seg_create(struct vm *vm, const char *name, uint64_t bytes, uint32_t key, int pid);

/* Attach an existing segment. Return: its address; -ENOENT, -EACCES, -EIO
 * (a region failure took some of its pages), -errno. */
int64_t seg_attach(struct vm *vm, const char *name, uint32_t key);

/* Detach the segment mapped at addr. Return: 0 or -EINVAL. */
int seg_detach(struct vm *vm, uint64_t addr);

/* An attachment ends (called by vm when a segment area goes). */
void seg_put(int slot);

/* Node n died: drop its attachments, free what nobody holds any more. */
void seg_node_dead(int n);

/* Which segment slot holds addr, or -1. */
int seg_slot_of(uint64_t addr);

#endif
