/*
 * Buddy allocator for local page frames. A block of order k is 2^k frames
 * starting at a pfn that is a multiple of 2^k; its buddy is the block at
 * pfn ^ 2^k. Freeing a block merges it with its buddy while the buddy is a
 * free block of the same order, so the free frames always form the fewest,
 * largest aligned blocks.
 *
 * Each frame has one metadata entry (struct buddy_frame). Only the first
 * frame of a block (its head) carries the block's order and state; the
 * other frames are tails. Free heads are linked into per-order lists by
 * 32-bit indices relative to base_pfn, NIL ending a list.
 */
#include "mm/buddy.h"
#include "kernel/errno.h"

#define NIL UINT32_MAX

enum {
	RESERVED = 0,   /* not usable RAM (or not yet added) */
	TAIL,           /* inside a free or allocated block, not its head */
	FREE,           /* head of a free block, on head[order] */
	USED,           /* head of an allocated block */
};

struct buddy_frame {
	uint32_t next, prev;    /* free list links, FREE heads only */
	uint8_t order;          /* block order, heads only */
	uint8_t state;
};

static struct buddy_frame *frame(struct buddy *b, uint64_t i)
{
	return &b->meta[i];
}

static void push(struct buddy *b, uint64_t i, unsigned order)
{
	struct buddy_frame *f = frame(b, i);

	f->state = FREE;
	f->order = (uint8_t)order;
	f->prev = NIL;
	f->next = b->head[order];
	if (f->next != NIL)
		frame(b, f->next)->prev = (uint32_t)i;
	b->head[order] = (uint32_t)i;
	b->nfree[order]++;
	b->free_frames += 1ull << order;
}

/* Take free head i off its list; the caller sets its new state. */
static void take(struct buddy *b, uint64_t i)
{
	struct buddy_frame *f = frame(b, i);
	unsigned order = f->order;

	if (f->prev != NIL)
		frame(b, f->prev)->next = f->next;
	else
		b->head[order] = f->next;
	if (f->next != NIL)
		frame(b, f->next)->prev = f->prev;
	b->nfree[order]--;
	b->free_frames -= 1ull << order;
}

/*
 * Put the block at index i of the given order on the free lists, merging
 * it with its buddy for as long as the buddy is a whole free block.
 */
static void release(struct buddy *b, uint64_t i, unsigned order)
{
	while (order < BUDDY_MAX_ORDER) {
		uint64_t pfn = b->base_pfn + i;
		uint64_t bpfn = pfn ^ (1ull << order);
		uint64_t bi = bpfn - b->base_pfn;
		struct buddy_frame *bf;

		if (bpfn < b->base_pfn || bi >= b->nframes)
			break;
		bf = frame(b, bi);
		if (bf->state != FREE || bf->order != order)
			break;
		take(b, bi);
		if (bi < i) {
			frame(b, i)->state = TAIL;
			i = bi;
		} else {
			bf->state = TAIL;
		}
		order++;
	}
	push(b, i, order);
}

/**
 * buddy_meta_size() - bytes of metadata needed for a range of frames
 * @nframes: frames the allocator will manage
 *
 * Context: any; pure.
 * Return: size in bytes of the array to pass to buddy_init(), which must
 * be 4-byte aligned. Ranges above BUDDY_MAX_FRAMES are clamped to it.
 */
size_t buddy_meta_size(uint64_t nframes)
{
	if (nframes > BUDDY_MAX_FRAMES)
		nframes = BUDDY_MAX_FRAMES;
	return (size_t)nframes * sizeof(struct buddy_frame);
}

/**
 * buddy_init() - set up an allocator with every frame reserved
 * @b: allocator to fill in
 * @base_pfn: first frame managed (any value)
 * @nframes: frames managed; clamped to BUDDY_MAX_FRAMES
 * @meta: buddy_meta_size(@nframes) bytes, 4-byte aligned, owned by @b
 *
 * Context: one CPU, before any other use of @b.
 * Return: nothing. No frame is free until buddy_add_range().
 */
void buddy_init(struct buddy *b, uint64_t base_pfn, uint64_t nframes,
		void *meta)
{
	uint64_t i;

	if (nframes > BUDDY_MAX_FRAMES)
		nframes = BUDDY_MAX_FRAMES;
	if (base_pfn + nframes < base_pfn)    /* range wraps: drop the top */
		nframes = UINT64_MAX - base_pfn;
	b->base_pfn = base_pfn;
	b->nframes = nframes;
	b->meta = meta;
	b->free_frames = 0;
	for (i = 0; i <= BUDDY_MAX_ORDER; i++) {
		b->head[i] = NIL;
		b->nfree[i] = 0;
	}
	for (i = 0; i < nframes; i++) {
		b->meta[i].next = NIL;
		b->meta[i].prev = NIL;
		b->meta[i].order = 0;
		b->meta[i].state = RESERVED;
	}
}

/**
 * buddy_add_range() - make frames free (declare them usable RAM)
 * @b: allocator
 * @pfn: first frame
 * @count: number of frames
 *
 * The part of the range outside @b is ignored, and so are frames already
 * free or allocated, so overlapping calls are harmless. The new frames are
 * merged into the largest aligned blocks possible.
 *
 * Context: one CPU, caller serialises access to @b.
 * Return: nothing.
 */
void buddy_add_range(struct buddy *b, uint64_t pfn, uint64_t count)
{
	uint64_t end = pfn + count, i;

	if (end < pfn)
		end = UINT64_MAX;
	if (pfn < b->base_pfn)
		pfn = b->base_pfn;
	if (end > b->base_pfn + b->nframes)
		end = b->base_pfn + b->nframes;
	for (i = pfn - b->base_pfn; pfn < end; pfn++, i++) {
		if (frame(b, i)->state == RESERVED)
			release(b, i, 0);
	}
}

/**
 * buddy_alloc() - allocate a block of 2^@order frames
 * @b: allocator
 * @order: 0..BUDDY_MAX_ORDER
 *
 * Takes the smallest free block that is big enough and splits it,
 * returning the unused halves to the free lists.
 *
 * Context: one CPU, caller serialises access to @b.
 * Return: first pfn of the block, a multiple of 2^@order, or BUDDY_NONE
 * if no block is free or @order is too large.
 */
uint64_t buddy_alloc(struct buddy *b, unsigned order)
{
	unsigned k = order;
	uint64_t i;

	if (order > BUDDY_MAX_ORDER)
		return BUDDY_NONE;
	while (k <= BUDDY_MAX_ORDER && b->head[k] == NIL)
		k++;
	if (k > BUDDY_MAX_ORDER)
		return BUDDY_NONE;
	i = b->head[k];
	take(b, i);
	while (k > order) {           /* give back the upper halves */
		k--;
		push(b, i + (1ull << k), k);
	}
	frame(b, i)->state = USED;
	frame(b, i)->order = (uint8_t)order;
	return b->base_pfn + i;
}

/**
 * buddy_free() - give back a block from buddy_alloc()
 * @b: allocator
 * @pfn: first pfn of the block
 * @order: order it was allocated with
 *
 * Context: one CPU, caller serialises access to @b.
 * Return: 0, or -EINVAL (-22) and no change if @pfn is outside @b, not
 * aligned to 2^@order, or not the head of an allocated block of exactly
 * that order (this catches double frees and wrong orders).
 */
int buddy_free(struct buddy *b, uint64_t pfn, unsigned order)
{
	uint64_t i = pfn - b->base_pfn;
	struct buddy_frame *f;

	if (order > BUDDY_MAX_ORDER || pfn < b->base_pfn || i >= b->nframes)
		return -EINVAL;
	if (pfn & ((1ull << order) - 1))
		return -EINVAL;
	f = frame(b, i);
	if (f->state != USED || f->order != order)
		return -EINVAL;
	release(b, i, order);
	return 0;
}

/**
 * buddy_free_frames() - number of free frames
 * @b: allocator
 *
 * Context: one CPU, caller serialises access to @b.
 * Return: free frames over all orders.
 */
uint64_t buddy_free_frames(const struct buddy *b)
{
	return b->free_frames;
}

/**
 * buddy_free_counts() - number of free blocks of each order
 * @b: allocator
 * @counts: filled with BUDDY_MAX_ORDER + 1 counts, index = order
 *
 * Context: one CPU, caller serialises access to @b.
 * Return: nothing.
 */
void buddy_free_counts(const struct buddy *b,
		       uint64_t counts[BUDDY_MAX_ORDER + 1])
{
	unsigned k;

	for (k = 0; k <= BUDDY_MAX_ORDER; k++)
		counts[k] = b->nfree[k];
}
