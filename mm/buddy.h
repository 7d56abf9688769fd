/*
 * Buddy allocator over page frame numbers (pfns): hands out blocks of
 * 2^order contiguous frames, each aligned to 2^order in absolute pfn terms.
 * A node uses one for its local DRAM. All bookkeeping lives in a metadata
 * array the caller provides (one small entry per frame), never in the
 * frames themselves, so the allocator runs unchanged in host unit tests.
 *
 * Every frame starts reserved; buddy_add_range() marks usable RAM free.
 * Free blocks sit on doubly linked lists, one per order, so alloc and free
 * cost O(BUDDY_MAX_ORDER) and bad frees are detected, not trusted.
 *
 * Context (all functions): one CPU, no locking inside; the caller
 * serialises access to a struct buddy.
 */
#ifndef MM_BUDDY_H
#define MM_BUDDY_H

#include <stddef.h>
#include <stdint.h>

#define BUDDY_MAX_ORDER 20          /* largest block: 2^20 frames = 4 GiB */
#define BUDDY_NONE UINT64_MAX       /* "no frame" from buddy_alloc() */
#define BUDDY_MAX_FRAMES 0xfffffffeu /* frames one allocator can manage */

struct buddy_frame;                 /* per-frame metadata, private */

struct buddy {
	uint64_t base_pfn;              /* first frame managed */
	uint64_t nframes;               /* frames managed */
	struct buddy_frame *meta;       /* nframes entries, indexed pfn - base */
	uint32_t head[BUDDY_MAX_ORDER + 1];  /* free list per order */
	uint64_t nfree[BUDDY_MAX_ORDER + 1]; /* free blocks per order */
	uint64_t free_frames;           /* free frames, all orders */
};

size_t buddy_meta_size(uint64_t nframes);
void buddy_init(struct buddy *b, uint64_t base_pfn, uint64_t nframes,
		void *meta);
void buddy_add_range(struct buddy *b, uint64_t pfn, uint64_t count);
uint64_t buddy_alloc(struct buddy *b, unsigned order);
int buddy_free(struct buddy *b, uint64_t pfn, unsigned order);
uint64_t buddy_free_frames(const struct buddy *b);
void buddy_free_counts(const struct buddy *b,
		       uint64_t counts[BUDDY_MAX_ORDER + 1]);

#endif
