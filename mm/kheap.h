/*
 * Kernel heap: kmalloc/kfree for kernel objects of any size, built on a
 * page allocator the caller plugs in (normally the node's buddy allocator
 * of local frames). Small objects come from slab pages split into
 * power-of-two blocks; big ones get whole runs of pages. Every pointer
 * returned is 16-byte aligned, and kfree() needs no size.
 *
 * Context (all functions): one CPU, never from interrupt handlers; there
 * is no locking inside.
 */
#ifndef MM_KHEAP_H
#define MM_KHEAP_H

#include <stddef.h>
#include <stdint.h>

#define KHEAP_PAGE 4096u                 /* bytes in a page */
#define KHEAP_MAX (1ull << 30)           /* largest request: 1 GiB */

/* Where the heap gets its pages: 2^order pages, 4096-aligned. */
struct kheap_pages {
	void *(*alloc)(unsigned order);  /* NULL when out of memory */
	void (*free)(void *p, unsigned order);
};

struct kheap_stats {
	uint64_t bytes_in_use;   /* bytes asked for by live allocations */
	uint64_t pages_held;     /* pages taken from the page allocator */
	uint64_t allocs;         /* successful kmalloc/kzalloc calls */
	uint64_t frees;          /* successful kfree calls (not NULL, not bad) */
};

void kheap_init(const struct kheap_pages *pages);
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);
void kheap_stats(struct kheap_stats *s);
uint64_t kheap_bad_frees(void);

#endif
