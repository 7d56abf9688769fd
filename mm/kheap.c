/*
 * Kernel heap. Requests of up to 2032 bytes are served from slab pages:
 * single pages cut into blocks of one power-of-two size (32 .. 2048 bytes),
 * with one free list per size class. Larger requests take 2^order whole
 * pages from the page allocator. Every block starts with a 16-byte header
 * recording its class (or page order) so kfree() needs no size, and the
 * pointer handed out is the byte after the header, 16-byte aligned.
 *
 *   slab page:  | page hdr 16 | hdr 16 | data ... | hdr 16 | data ... | ...
 *   large run:  | hdr 16 | data ...................................... |
 *
 * A slab page's header counts its blocks in use; when the count drops to
 * zero its blocks leave the free list and the page goes back at once.
 * kfree() checks magics before touching anything, so a bad pointer or a
 * double free is counted in kheap_bad_frees() and otherwise ignored.
 */
#include "mm/kheap.h"

#include <stdbool.h>

#define HDR 16u                  /* block header, keeps 16-byte alignment */
#define MIN_SHIFT 5              /* smallest block: 32 bytes */
#define NCLASS 7                 /* classes: 32, 64, ..., 2048 bytes */
#define SLAB_MAX ((32u << (NCLASS - 1)) - HDR)  /* 2032: largest slab request */
#define MAX_ORDER 19             /* 2^19 pages hold KHEAP_MAX + HDR */

#define SLAB_MAGIC 0x534c4142u   /* "SLAB": page header of a slab page */
#define LIVE_MAGIC 0x4c495645u   /* "LIVE": allocated block */
#define FREE_MAGIC 0x46524545u   /* "FREE": block on a free list */

struct page_hdr {
	uint32_t magic;
	uint16_t cls;            /* size class of every block on the page */
	uint16_t used;           /* blocks handed out */
	uint64_t pad;
};

struct blk_hdr {
	uint32_t magic;
	uint8_t large;           /* 1: a run of pages, 0: a slab block */
	uint8_t n;               /* page order if large, else size class */
	uint16_t pad;
	uint64_t size;           /* bytes asked for */
};

/* A free block's data area holds its list links. */
struct link {
	struct link *next, *prev;
};

static struct {
	struct kheap_pages pages;
	struct link *free[NCLASS];
	struct kheap_stats st;
	uint64_t bad;
} heap;

_Static_assert(sizeof(struct page_hdr) == HDR, "page header size");
_Static_assert(sizeof(struct blk_hdr) == HDR, "block header size");

static size_t bsize(unsigned cls)
{
	return (size_t)1 << (cls + MIN_SHIFT);
}

static struct blk_hdr *hdr_of(void *p)
{
	return (struct blk_hdr *)p - 1;
}

static struct page_hdr *page_of(void *p)
{
	return (struct page_hdr *)((uintptr_t)p & ~(uintptr_t)(KHEAP_PAGE - 1));
}

static void push(unsigned cls, struct blk_hdr *h)
{
	struct link *l = (struct link *)(h + 1);

	h->magic = FREE_MAGIC;
	l->prev = NULL;
	l->next = heap.free[cls];
	if (l->next)
		l->next->prev = l;
	heap.free[cls] = l;
}

static void take(unsigned cls, struct link *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		heap.free[cls] = l->next;
	if (l->next)
		l->next->prev = l->prev;
}

/* Get a fresh page and put all its blocks on the free list of cls. */
static bool refill(unsigned cls)
{
	struct page_hdr *pg = heap.pages.alloc(0);
	size_t off;

	if (!pg)
		return false;
	pg->magic = SLAB_MAGIC;
	pg->cls = (uint16_t)cls;
	pg->used = 0;
	pg->pad = 0;
	heap.st.pages_held++;
	/* Push from the top so the list hands out low addresses first. */
	off = HDR + (KHEAP_PAGE - HDR) / bsize(cls) * bsize(cls);
	while (off > HDR) {
		struct blk_hdr *h;

		off -= bsize(cls);
		h = (struct blk_hdr *)((char *)pg + off);
		h->large = 0;
		h->n = (uint8_t)cls;
		h->pad = 0;
		h->size = 0;
		push(cls, h);
	}
	return true;
}

/* Every block of pg is free: unlist them and give the page back. */
static void drain(struct page_hdr *pg)
{
	unsigned cls = pg->cls;
	size_t off;

	for (off = HDR; off + bsize(cls) <= KHEAP_PAGE; off += bsize(cls))
		take(cls, (struct link *)((char *)pg + off + HDR));
	pg->magic = 0;
	heap.pages.free(pg, 0);
	heap.st.pages_held--;
}

static void *slab_alloc(size_t size)
{
	unsigned cls = 0;
	struct blk_hdr *h;
	struct link *l;

	while (bsize(cls) < size + HDR)
		cls++;
	if (!heap.free[cls] && !refill(cls))
		return NULL;
	l = heap.free[cls];
	take(cls, l);
	h = hdr_of(l);
	page_of(h)->used++;
	h->magic = LIVE_MAGIC;
	h->size = size;
	return l;
}

static void *large_alloc(size_t size)
{
	unsigned order = 0;
	struct blk_hdr *h;

	while (((uint64_t)KHEAP_PAGE << order) < size + HDR)
		order++;
	h = heap.pages.alloc(order);
	if (!h)
		return NULL;
	h->magic = LIVE_MAGIC;
	h->large = 1;
	h->n = (uint8_t)order;
	h->pad = 0;
	h->size = size;
	heap.st.pages_held += 1ull << order;
	return h + 1;
}

/**
 * kheap_init() - start (or restart) the heap on a page allocator
 * @pages: callbacks for 2^order pages; copied, so it may be temporary
 *
 * Forgets all earlier state: anything still allocated is leaked.
 *
 * Context: one CPU, no locking; call before any kmalloc().
 * Return: nothing.
 */
void kheap_init(const struct kheap_pages *pages)
{
	unsigned i;

	heap.pages = *pages;
	for (i = 0; i < NCLASS; i++)
		heap.free[i] = NULL;
	heap.st.bytes_in_use = 0;
	heap.st.pages_held = 0;
	heap.st.allocs = 0;
	heap.st.frees = 0;
	heap.bad = 0;
}

/**
 * kmalloc() - allocate kernel memory
 * @size: bytes, 1 .. KHEAP_MAX
 *
 * Context: one CPU, no locking, not from interrupt handlers.
 * Return: 16-byte aligned memory (not zeroed), or NULL if @size is 0 or
 * too large, the heap has no page allocator, or pages ran out.
 */
void *kmalloc(size_t size)
{
	void *p;

	if (size == 0 || size > KHEAP_MAX || !heap.pages.alloc)
		return NULL;
	p = size <= SLAB_MAX ? slab_alloc(size) : large_alloc(size);
	if (p) {
		heap.st.allocs++;
		heap.st.bytes_in_use += size;
	}
	return p;
}

/**
 * kzalloc() - allocate zeroed kernel memory
 * @size: bytes, 1 .. KHEAP_MAX
 *
 * Context: one CPU, no locking, not from interrupt handlers.
 * Return: as kmalloc(), with the @size bytes zeroed.
 */
void *kzalloc(size_t size)
{
	unsigned char *p = kmalloc(size);
	size_t i;

	if (p)
		for (i = 0; i < size; i++)
			p[i] = 0;
	return p;
}

/* Is p something kmalloc() handed out and nobody has freed yet? */
static bool valid(void *p)
{
	uintptr_t off = (uintptr_t)p & (KHEAP_PAGE - 1);
	struct blk_hdr *h = hdr_of(p);
	struct page_hdr *pg;

	/* Data sits at offset 16 (large run) or >= 32 (slab) in its page. */
	if ((uintptr_t)p & (HDR - 1))
		return false;
	if (off == HDR)
		return h->magic == LIVE_MAGIC && h->large == 1 &&
		       h->n <= MAX_ORDER;
	if (off < 2 * HDR)
		return false;
	if (h->magic != LIVE_MAGIC || h->large != 0 || h->n >= NCLASS)
		return false;
	pg = page_of(h);
	return pg->magic == SLAB_MAGIC && pg->cls == h->n && pg->used > 0 &&
	       (off - 2 * HDR) % bsize(h->n) == 0;
}

/**
 * kfree() - give back memory from kmalloc() or kzalloc()
 * @p: the pointer returned, or NULL (ignored)
 *
 * A pointer that kmalloc() did not return, or one already freed, is
 * counted in kheap_bad_frees() and otherwise ignored (as long as the
 * 16 bytes before it are readable).
 *
 * Context: one CPU, no locking, not from interrupt handlers.
 * Return: nothing.
 */
void kfree(void *p)
{
	struct blk_hdr *h;
	struct page_hdr *pg;

	if (!p)
		return;
	if (!valid(p)) {
		heap.bad++;
		return;
	}
	h = hdr_of(p);
	heap.st.frees++;
	heap.st.bytes_in_use -= h->size;
	if (h->large) {
		h->magic = 0;
		heap.st.pages_held -= 1ull << h->n;
		heap.pages.free(h, h->n);
		return;
	}
	pg = page_of(h);
	push(h->n, h);
	if (--pg->used == 0)
		drain(pg);
}

/**
 * kheap_stats() - read the heap's counters
 * @s: filled in
 *
 * Context: one CPU, no locking.
 * Return: nothing.
 */
void kheap_stats(struct kheap_stats *s)
{
	*s = heap.st;
}

/**
 * kheap_bad_frees() - how many kfree() calls were rejected
 *
 * Context: one CPU, no locking.
 * Return: count of bad pointers and double frees since kheap_init().
 */
uint64_t kheap_bad_frees(void)
{
	return heap.bad;
}
