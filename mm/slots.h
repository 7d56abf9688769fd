/*
 * Slot tables: one 64-bit word per page of a user area (mm/vm.h says what
 * a word holds; 0 means "nothing there yet"), kept in a radix tree of
 * page-sized tables that are allocated on first touch and given back when
 * the area shrinks or goes. An area reserves address space for all its
 * pages (the heap: 512 MiB), but holds table pages only for the parts
 * that were ever filled in: a small process costs a few table pages, not
 * a flat array sized for everything it might use.
 *
 *   index bits:  | level 3 (top) | level 2 | level 1 | slot in leaf |
 *                      9               9        9           9
 *
 * A table has 512 entries; leaves hold slots, the others pointers to the
 * level below. The depth is the least that covers the area's capacity (an
 * area of up to 2 MiB is a single leaf). Every table page is zeroed when
 * it is taken.
 *
 * The pages come from slots_page_alloc()/slots_page_free(): the kernel's
 * are local frames (mm/vm.c); host unit tests bring their own.
 *
 * Context (all functions): one CPU, the owner of the area; no locking.
 */
#ifndef MM_SLOTS_H
#define MM_SLOTS_H

#include <stdint.h>

#define SLOTS_PER_TABLE 512
#define SLOTS_MAX_DEPTH 4               /* 2^36 slots: every page below USER_TOP */

struct slots {
	void *root;                     /* the top table, or NULL: nothing yet */
	uint64_t n;                     /* capacity: slots 0 .. n-1 */
	uint32_t depth;                 /* levels from root to leaves, 1 .. SLOTS_MAX_DEPTH */
	uint32_t pages;                 /* table pages held now */
};

/* Provided by whoever links slots.c: one zeroed page, or NULL. */
void *slots_page_alloc(void);
void slots_page_free(void *page);

/* Make an empty table for n slots; takes no memory. Return: 0, or -1 if n is too large. */
int slots_init(struct slots *t, uint64_t n);

/* Slot i, or 0 if it was never set (or i >= n). */
uint64_t slots_get(const struct slots *t, uint64_t i);

/**
 * slots_set - set slot i to v, taking the table pages it needs
 * Return: 0, or -1 if a table page could not be had (nothing changed then)
 * or i >= n. Setting 0 never takes memory.
 */
int slots_set(struct slots *t, uint64_t i, uint64_t v);

/* The first slot at or after i that is not 0, or t->n if none: skips absent tables. */
uint64_t slots_next(const struct slots *t, uint64_t i);

/* Give back the table pages that only cover slots from `from` on; those must be 0. */
void slots_trim(struct slots *t, uint64_t from);

/* Give back every table page; the table is empty afterwards (same capacity). */
void slots_free(struct slots *t);

#endif
