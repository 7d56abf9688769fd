/*
 * Slot tables (see slots.h): a radix tree of page-sized tables, 512
 * entries each, filled in on first touch. Level 1 tables are leaves and
 * hold the slots; a table at level l > 1 points to tables at level l-1.
 */
#include <stddef.h>
#include "mm/slots.h"

#define BITS 9                          /* index bits per level: 512 entries */
#define MASK ((uint64_t)SLOTS_PER_TABLE - 1)

_Static_assert(SLOTS_PER_TABLE == 1 << BITS, "table size");
_Static_assert(SLOTS_PER_TABLE * sizeof(uint64_t) == 4096, "a table is one page");

/* Slots that one entry of a table at level l covers (level 1: a leaf). */
static uint64_t span(uint32_t l)
{
	return 1ULL << (BITS * (l - 1));
}

/* Which entry of the level-l table holds slot i. */
static uint64_t entry(uint64_t i, uint32_t l)
{
	return (i >> (BITS * (l - 1))) & MASK;
}

int slots_init(struct slots *t, uint64_t n)
{
	uint32_t depth = 1;

	while (depth < SLOTS_MAX_DEPTH && n > span(depth + 1))
		depth++;
	if (n > span(depth + 1))
		return -1;
	*t = (struct slots){ NULL, n, depth, 0 };
	return 0;
}

uint64_t slots_get(const struct slots *t, uint64_t i)
{
	void *p = t->root;

	if (i >= t->n)
		return 0;
	for (uint32_t l = t->depth; p && l > 1; l--)
		p = ((void **)p)[entry(i, l)];
	return p ? ((uint64_t *)p)[i & MASK] : 0;
}

int slots_set(struct slots *t, uint64_t i, uint64_t v)
{
	void **link = &t->root;

	if (i >= t->n)
		return -1;
	for (uint32_t l = t->depth;; l--) {
		if (!*link) {
			if (!v)
				return 0;       /* clearing a slot that was never set */
			if (!(*link = slots_page_alloc()))
				return -1;
			t->pages++;
		}
		if (l == 1)
			break;
		link = &((void **)*link)[entry(i, l)];
	}
	((uint64_t *)*link)[i & MASK] = v;
	return 0;
}

/* The first set slot in [i, n) under table p at level l, which covers slots from base on. */
static uint64_t next_in(const void *p, uint32_t l, uint64_t base, uint64_t i, uint64_t n)
{
	for (uint64_t k = (i - base) >> (BITS * (l - 1)); k < SLOTS_PER_TABLE; k++) {
		uint64_t start = base + k * span(l);
		if (start >= n)
			break;
		if (l == 1) {
			if (((const uint64_t *)p)[k])
				return start;
			continue;
		}
		const void *c = ((void *const *)p)[k];
		uint64_t r = c ? next_in(c, l - 1, start, i > start ? i : start, n) : n;
		if (r < n)
			return r;
	}
	return n;
}

uint64_t slots_next(const struct slots *t, uint64_t i)
{
	if (!t->root || i >= t->n)
		return t->n;
	return next_in(t->root, t->depth, 0, i, t->n);
}

static void free_tree(struct slots *t, void *p, uint32_t l)
{
	for (uint64_t k = 0; l > 1 && k < SLOTS_PER_TABLE; k++)
		if (((void **)p)[k])
			free_tree(t, ((void **)p)[k], l - 1);
	slots_page_free(p);
	t->pages--;
}

/* Free the tables under p (level l > 1, covering slots from base on) that start at or after from. */
static void trim_in(struct slots *t, void *p, uint32_t l, uint64_t base, uint64_t from)
{
	for (uint64_t k = 0; k < SLOTS_PER_TABLE; k++) {
		void **e = &((void **)p)[k];
		uint64_t start = base + k * span(l);
		if (!*e)
			continue;
		if (start >= from) {
			free_tree(t, *e, l - 1);
			*e = NULL;
		} else if (start + span(l) > from && l > 2) {
			trim_in(t, *e, l - 1, start, from);
		}
	}
}

void slots_trim(struct slots *t, uint64_t from)
{
	if (!t->root)
		return;
	if (from == 0)
		slots_free(t);
	else if (t->depth > 1)
		trim_in(t, t->root, t->depth, 0, from);
}

void slots_free(struct slots *t)
{
	if (t->root)
		free_tree(t, t->root, t->depth);
	t->root = NULL;
}
