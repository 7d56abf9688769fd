/*
 * Memory management: mm/'s public header, and the list of the others.
 *
 * Other folders may include only these mm/ headers, each named for what
 * it holds:
 *   mm.h       (this file) local frames and the kernel heap (kheap.h,
 *              pulled in here: kmalloc, kfree)
 *   vm.h       user address spaces: areas, page faults, checked copies
 *   seg.h      shared segments of pool memory
 *   pmem.h     pool memory inside the kernel: pool pages, drains, and the
 *              one way to the pool's translation table and device frames
 *   loss.h     region failure and optional memory
 *   palloc.h   the pool page allocator and xlate.h the translation table:
 *              pool-resident formats, for the code that formats and
 *              attaches the pool (kernel/cluster/pool.c) and reads their
 *              state (the monitor, meminfo); the kernel's table is
 *              pmem_xlate()
 * Private to mm/: buddy.h (the allocator behind frame_alloc) and slots.h
 * (the slot tables inside a struct vm_area; vm.h includes it only for the
 * struct); kheap.h is reached through this file. The arch code calls into
 * mm through the upcalls arch/arch.h declares (mm_pool_fault,
 * mm_user_fault).
 *
 * Local frames: physical pages of this node's own DRAM, handed out in
 * power-of-two blocks by a buddy allocator (frame_alloc/frame_free). The
 * kernel heap (kmalloc/kfree) sits on top of it. Both are local to the node;
 * nothing here is shared through the pool.
 */
#ifndef MM_MM_H
#define MM_MM_H

#include <stdint.h>
#include "arch/arch.h"
#include "mm/kheap.h"

#define FRAME_NONE UINT64_MAX

struct frame_stats {
	uint64_t total;         /* frames of usable RAM handed to the allocator */
	uint64_t free;          /* frames free now */
};

/**
 * frame_init - take over the RAM the boot loader reported
 * Context: boot, once, before any other mm call.
 */
void frame_init(const struct boot_info *bi);

/**
 * frame_alloc - a block of 2^order physically contiguous, aligned frames
 * Context: any, with interrupts off or from a single thread (one CPU per node).
 * Return: its physical address, or FRAME_NONE when no block is free.
 */
uint64_t frame_alloc(unsigned order);

/**
 * frame_free - give back a block from frame_alloc with the same order
 * Return: 0, or -EINVAL if pa/order do not name an allocated block.
 */
int frame_free(uint64_t pa, unsigned order);

void frame_stats(struct frame_stats *st);

/* Print the free blocks per order, e.g. at boot. */
void frame_report(void);

/* Heap over frames: call once after frame_init. */
void kheap_setup(void);

#endif
