/*
 * Memory management, the contract for the rest of the kernel.
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
