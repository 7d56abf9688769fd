/*
 * Host unit tests for the buddy allocator (mm/buddy.c). Every test checks
 * the allocator against a reference model: a bitmap of usable frames and
 * one of allocated frames. From the model it derives the shape the free
 * lists must have (the free frames cut into the largest aligned blocks)
 * and whether a block of some order can exist at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mm/buddy.h"
#include "kernel/errno.h"

struct ref {
	uint64_t base, n;
	uint8_t *usable;        /* added with buddy_add_range() */
	uint8_t *used;          /* allocated */
};

struct env {
	struct buddy b;
	void *meta;
	struct ref r;
};

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static struct env *env_new(uint64_t base, uint64_t n)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->meta = malloc(buddy_meta_size(n) ? buddy_meta_size(n) : 1);
	e->r.usable = calloc(n + 1, 1);
	e->r.used = calloc(n + 1, 1);
	assert_non_null(e->meta);
	e->r.base = base;
	e->r.n = n;
	buddy_init(&e->b, base, n, e->meta);
	return e;
}

static void env_free(struct env *e)
{
	free(e->meta);
	free(e->r.usable);
	free(e->r.used);
	free(e);
}

static void add(struct env *e, uint64_t pfn, uint64_t count)
{
	uint64_t p;

	buddy_add_range(&e->b, pfn, count);
	for (p = pfn; p < pfn + count; p++)
		if (p >= e->r.base && p - e->r.base < e->r.n)
			e->r.usable[p - e->r.base] = 1;
}

static int ref_free(const struct ref *r, uint64_t pfn)
{
	uint64_t i = pfn - r->base;

	return pfn >= r->base && i < r->n && r->usable[i] && !r->used[i];
}

static int ref_block_free(const struct ref *r, uint64_t pfn, unsigned k)
{
	uint64_t i;

	for (i = 0; i < (1ull << k); i++)
		if (!ref_free(r, pfn + i))
			return 0;
	return 1;
}

/* Expected free list shape: greedy largest aligned free blocks. */
static void ref_shape(const struct ref *r, uint64_t c[BUDDY_MAX_ORDER + 1])
{
	uint64_t p = r->base, end = r->base + r->n;
	int k;

	memset(c, 0, sizeof(uint64_t) * (BUDDY_MAX_ORDER + 1));
	while (p < end) {
		if (!ref_free(r, p)) {
			p++;
			continue;
		}
		for (k = BUDDY_MAX_ORDER; k > 0; k--)
			if ((p & ((1ull << k) - 1)) == 0 && p + (1ull << k) <= end &&
			    ref_block_free(r, p, k))
				break;
		c[k]++;
		p += 1ull << k;
	}
}

static void check_shape(struct env *e)
{
	uint64_t want[BUDDY_MAX_ORDER + 1], got[BUDDY_MAX_ORDER + 1];
	uint64_t frames = 0;
	int k;

	ref_shape(&e->r, want);
	buddy_free_counts(&e->b, got);
	for (k = 0; k <= BUDDY_MAX_ORDER; k++) {
		assert_int_equal(got[k], want[k]);
		frames += want[k] << k;
	}
	assert_int_equal(buddy_free_frames(&e->b), frames);
}

/* Allocate through the model: check the block, then mark it used. */
static uint64_t alloc(struct env *e, unsigned k)
{
	uint64_t pfn = buddy_alloc(&e->b, k), i;

	if (pfn == BUDDY_NONE)
		return pfn;
	assert_int_equal(pfn & ((1ull << k) - 1), 0);
	assert_true(ref_block_free(&e->r, pfn, k));
	for (i = 0; i < (1ull << k); i++)
		e->r.used[pfn - e->r.base + i] = 1;
	return pfn;
}

static void release(struct env *e, uint64_t pfn, unsigned k)
{
	uint64_t i;

	assert_int_equal(buddy_free(&e->b, pfn, k), 0);
	for (i = 0; i < (1ull << k); i++)
		e->r.used[pfn - e->r.base + i] = 0;
}

/* Can the model hold any free aligned block of order k? */
static int ref_can_alloc(const struct ref *r, unsigned k)
{
	uint64_t sz = 1ull << k, p = (r->base + sz - 1) & ~(sz - 1);

	for (; p + sz <= r->base + r->n; p += sz)
		if (ref_block_free(r, p, k))
			return 1;
	return 0;
}

static void test_init_reserved(void **state)
{
	struct env *e = env_new(0x123, 777);

	(void)state;
	check_shape(e);
	assert_int_equal(buddy_free_frames(&e->b), 0);
	assert_int_equal(buddy_alloc(&e->b, 0), BUDDY_NONE);
	assert_int_equal(buddy_free(&e->b, 0x123, 0), -EINVAL);
	env_free(e);
}

static void test_odd_base_shape(void **state)
{
	static const uint64_t bases[] = { 0, 1, 0x123, 0x7ff, 0x100001 };
	static const uint64_t sizes[] = { 1, 2, 3, 511, 1000, 4097 };
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			struct env *e = env_new(bases[i], sizes[j]);

			add(e, bases[i], sizes[j]);
			check_shape(e);
			assert_int_equal(buddy_free_frames(&e->b), sizes[j]);
			env_free(e);
		}
	}
}

static void test_exhaust_each_order(void **state)
{
	unsigned k;

	(void)state;
	for (k = 0; k <= 11; k++) {
		struct env *e = env_new(0x123, 5000);
		uint64_t *got = malloc(5000 * sizeof(*got)), n = 0, pfn, i;
		uint64_t before[BUDDY_MAX_ORDER + 1];

		add(e, 0x123, 5000);
		buddy_free_counts(&e->b, before);
		while ((pfn = alloc(e, k)) != BUDDY_NONE)
			got[n++] = pfn;
		assert_false(ref_can_alloc(&e->r, k));
		check_shape(e);
		for (i = 0; i < n; i++)     /* free in a scrambled order */
			release(e, got[(i * 7919) % n], k);
		check_shape(e);
		buddy_free_counts(&e->b, got);
		assert_memory_equal(got, before, sizeof(before));
		assert_int_equal(buddy_free_frames(&e->b), 5000);
		free(got);
		env_free(e);
	}
}

static void test_exhaust_mixed(void **state)
{
	struct env *e = env_new(0x3f1, 3001);
	uint64_t pfn[4000], n = 0, i;
	unsigned ord[4000];
	int k;

	(void)state;
	add(e, 0x3f1, 3001);
	for (k = 8; k >= 0; k--) {
		while (n < 4000 && (pfn[n] = alloc(e, (unsigned)k)) != BUDDY_NONE)
			ord[n++] = (unsigned)k;
	}
	assert_int_equal(buddy_free_frames(&e->b), 0);
	for (i = n; i-- > 0;)
		release(e, pfn[i], ord[i]);
	check_shape(e);
	assert_int_equal(buddy_free_frames(&e->b), 3001);
	env_free(e);
}

static void test_random_ops(void **state)
{
	enum { N = 4099, SLOTS = 300, OPS = 20000 };
	struct env *e = env_new(0x10003, N);
	uint64_t pfn[SLOTS];
	unsigned ord[SLOTS];
	int op, s;

	(void)state;
	rng = 0x12345678u;
	add(e, 0x10003, 1500);
	add(e, 0x10003 + 1600, N);     /* a hole of 100 frames */
	for (s = 0; s < SLOTS; s++)
		pfn[s] = BUDDY_NONE;
	for (op = 0; op < OPS; op++) {
		s = (int)(rnd() % SLOTS);
		if (pfn[s] == BUDDY_NONE) {
			ord[s] = (unsigned)(rnd() % 8);
			if (rnd() % 4 == 0)
				ord[s] = 0;
			pfn[s] = alloc(e, ord[s]);
			if (pfn[s] == BUDDY_NONE)
				assert_false(ref_can_alloc(&e->r, ord[s]));
		} else {
			release(e, pfn[s], ord[s]);
			pfn[s] = BUDDY_NONE;
		}
		if (op % 500 == 0)
			check_shape(e);
	}
	for (s = 0; s < SLOTS; s++)
		if (pfn[s] != BUDDY_NONE)
			release(e, pfn[s], ord[s]);
	check_shape(e);
	assert_int_equal(buddy_free_frames(&e->b), N - 100);
	env_free(e);
}

static void expect_bad(struct env *e, uint64_t pfn, unsigned k)
{
	uint64_t before[BUDDY_MAX_ORDER + 1], after[BUDDY_MAX_ORDER + 1];
	uint64_t frames = buddy_free_frames(&e->b);

	buddy_free_counts(&e->b, before);
	assert_int_equal(buddy_free(&e->b, pfn, k), -EINVAL);
	buddy_free_counts(&e->b, after);
	assert_memory_equal(before, after, sizeof(before));
	assert_int_equal(buddy_free_frames(&e->b), frames);
	check_shape(e);
}

static void test_bad_frees(void **state)
{
	struct env *e = env_new(0x123, 1000);
	uint64_t a, b, c;

	(void)state;
	add(e, 0x123, 900);              /* last 100 frames stay reserved */
	a = alloc(e, 3);
	b = alloc(e, 0);
	c = alloc(e, 5);
	assert_true(a != BUDDY_NONE && b != BUDDY_NONE && c != BUDDY_NONE);
	expect_bad(e, a, 2);             /* wrong order, smaller */
	expect_bad(e, a, 4);             /* wrong order, larger */
	expect_bad(e, a + 1, 0);         /* tail of a block */
	expect_bad(e, a + 4, 2);         /* aligned tail */
	expect_bad(e, c + 1, 5);         /* misaligned */
	expect_bad(e, 0x122, 0);         /* below base */
	expect_bad(e, 0x123 + 1000, 0);  /* past the end */
	expect_bad(e, BUDDY_NONE, 0);
	expect_bad(e, 0x123 + 950, 0);   /* reserved frame */
	expect_bad(e, a, BUDDY_MAX_ORDER + 1);
	expect_bad(e, a, 200);
	release(e, b, 0);
	expect_bad(e, b, 0);             /* double free */
	release(e, a, 3);
	expect_bad(e, a, 3);             /* double free after merging */
	release(e, c, 5);
	expect_bad(e, c, 5);
	check_shape(e);
	assert_int_equal(buddy_free_frames(&e->b), 900);
	env_free(e);
}

static void test_holes(void **state)
{
	struct env *e = env_new(0x100, 2048);
	uint64_t pfn;

	(void)state;
	add(e, 0x100, 64);
	add(e, 0x100 + 100, 3);
	add(e, 0x100 + 500, 700);
	add(e, 0x100 + 600, 100);         /* overlap: changes nothing */
	add(e, 0x100 + 2000, 1000);       /* runs past the end */
	add(e, 0, 0x101);                 /* starts before base */
	add(e, 0x100 + 700, 0);           /* empty */
	add(e, UINT64_MAX - 5, 10);       /* wraps around: ignored */
	check_shape(e);
	while ((pfn = alloc(e, 0)) != BUDDY_NONE)
		;                          /* alloc() checks each is usable */
	add(e, 0x100, 2048);              /* allocated frames stay allocated */
	assert_int_equal(buddy_free_frames(&e->b), 2048 - 64 - 3 - 700 - 48);
	check_shape(e);
	env_free(e);
}

static void test_max_order(void **state)
{
	uint64_t n = (2ull << BUDDY_MAX_ORDER) + 5, c[BUDDY_MAX_ORDER + 1];
	struct env *e = env_new(0, n);
	uint64_t a, b;

	(void)state;
	add(e, 0, n);
	buddy_free_counts(&e->b, c);
	assert_int_equal(c[BUDDY_MAX_ORDER], 2);
	assert_int_equal(c[2], 1);
	assert_int_equal(c[0], 1);
	assert_int_equal(buddy_alloc(&e->b, BUDDY_MAX_ORDER + 1), BUDDY_NONE);
	a = alloc(e, BUDDY_MAX_ORDER);
	b = alloc(e, BUDDY_MAX_ORDER);
	assert_int_equal(a | b, 1ull << BUDDY_MAX_ORDER);
	assert_int_equal(alloc(e, BUDDY_MAX_ORDER), BUDDY_NONE);
	assert_int_equal(alloc(e, 3), BUDDY_NONE);
	assert_int_equal(buddy_free_frames(&e->b), 5);
	release(e, a, BUDDY_MAX_ORDER);
	release(e, b, BUDDY_MAX_ORDER);
	check_shape(e);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_reserved),
		cmocka_unit_test(test_odd_base_shape),
		cmocka_unit_test(test_exhaust_each_order),
		cmocka_unit_test(test_exhaust_mixed),
		cmocka_unit_test(test_random_ops),
		cmocka_unit_test(test_bad_frees),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_max_order),
	};

	return cmocka_run_group_tests_name("buddy", tests, NULL, NULL);
}
