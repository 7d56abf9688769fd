/*
 * Host unit tests for what 2 MiB mappings of large shared segments rest on
 * in the pool: reserving a run of pages at an alignment (palloc), and
 * asking translation whether a run of pool pages is backed by one run of
 * device frames and may be handed out (xlate_resolve_run, xlate_usable_run),
 * also while and after blocks of it move. The pool is xlate_env.h's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xlate_env.h"

#define BIG 512                         /* pages in 2 MiB */

/* Is every page of [first, first + n) reserved by the handle's node? */
static void assert_reserved(struct env *e, uint64_t first, uint64_t n)
{
	uint32_t node, pid;

	for (uint64_t p = first; p < first + n; p++) {
		assert_int_equal(palloc_owner(e->pmeta, p, &node, &pid), 0);
		assert_int_equal(node, 3);
		assert_int_equal(pid, 42);
	}
}

static void free_run(struct env *e, uint64_t first, uint64_t n)
{
	for (uint64_t p = first; p < first + n; p++)
		assert_int_equal(palloc_free(&e->pa, p), 0);
}

static bool not_first_run(void *ctx, uint64_t first)
{
	(void)ctx;
	return first != 0;
}

static void test_reserve_aligned(void **state)
{
	struct env *e = env_new(0);
	struct palloc_stats st;
	int64_t a, b, c;

	(void)state;
	assert_int_equal(palloc_reserve_aligned(NULL, 42, 1, 1, 0, NULL, NULL), -EINVAL);
	assert_int_equal(palloc_reserve_aligned(&e->pa, 42, 0, 1, 0, NULL, NULL), -EINVAL);
	assert_int_equal(palloc_reserve_aligned(&e->pa, 42, 1, 0, 0, NULL, NULL), -EINVAL);
	assert_int_equal(palloc_reserve_aligned(&e->pa, 42, NPAGES + 1, 1, 0, NULL, NULL), -EINVAL);

	/* one page taken at 1000 rules out the aligned runs that would cover it */
	assert_int_equal(palloc_reserve(&e->pa, 7, 1000, 1), 0);
	a = palloc_reserve_aligned(&e->pa, 42, 3 * BIG + 1, BIG, 0, NULL, NULL);
	assert_int_equal(a, 2 * BIG);           /* [512, 2049) would hold page 1000 */
	assert_reserved(e, (uint64_t)a, 3 * BIG + 1);
	/* the next starts at the first multiple of 512 past that run's end */
	b = palloc_reserve_aligned(&e->pa, 42, BIG, BIG, 0, NULL, NULL);
	assert_int_equal(b, 0);
	c = palloc_reserve_aligned(&e->pa, 42, BIG, BIG, 0, NULL, NULL);
	assert_int_equal(c, 6 * BIG);
	free_run(e, (uint64_t)b, BIG);
	free_run(e, (uint64_t)c, BIG);

	/* the predicate has its say; start is where the search begins */
	assert_int_equal(palloc_reserve_aligned(&e->pa, 42, BIG, BIG, 0, not_first_run, NULL),
			 BIG * 6);
	free_run(e, 6 * BIG, BIG);
	assert_int_equal(palloc_reserve_aligned(&e->pa, 42, BIG, BIG, 9 * BIG + 3, NULL, NULL),
			 9 * BIG);
	free_run(e, 9 * BIG, BIG);
	/* start is rounded down to the alignment ... */
	assert_int_equal(palloc_reserve_aligned(&e->pa, 42, BIG, BIG, NPAGES - 1, NULL, NULL),
			 NPAGES - BIG);
	/* ... and the search wraps around to the runs before it */
	assert_int_equal(palloc_reserve_aligned(&e->pa, 42, BIG, BIG, NPAGES - 1, NULL, NULL), 0);
	free_run(e, 0, BIG);
	free_run(e, NPAGES - BIG, BIG);

	/* with a page taken in every 2 MiB, no aligned run is left: anywhere still is */
	for (uint64_t p = 5; p < NPAGES; p += BIG)
		if (p < (uint64_t)a || p >= (uint64_t)a + 3 * BIG + 1)
			assert_int_equal(palloc_reserve(&e->pa, 7, p, 1), 0);
	assert_int_equal(palloc_reserve_aligned(&e->pa, 42, BIG - 1, BIG, 0, NULL, NULL), -ENOMEM);
	b = palloc_reserve_aligned(&e->pa, 42, BIG - 1, 1, 0, NULL, NULL);
	assert_int_equal(b, 6);                 /* right after page 5 */
	assert_reserved(e, (uint64_t)b, BIG - 1);
	assert_int_equal(palloc_reserve_aligned(&e->pa, 42, BIG, 1, 0, NULL, NULL), -ENOMEM);
	palloc_stats(e->pmeta, &st);
	assert_int_equal(st.reserved, NPAGES - st.free);
	assert_int_equal(palloc_check(e->pmeta), 0);

	/* palloc_reserve_from is the case align = n */
	free_run(e, (uint64_t)b, BIG - 1);
	free_run(e, (uint64_t)a, 3 * BIG + 1);
	assert_int_equal(palloc_reserve_from(&e->pa, 42, 3, 0, NULL, NULL), 0);
	assert_int_equal(palloc_reserve_from(&e->pa, 42, 3, 0, NULL, NULL), 6);
	env_free(e);
}

/* The move of a block at 4 KiB: the run is no longer one run of frames. */
static void test_run_split_by_a_4k_move(void **state)
{
	struct env *e = env_new(0);
	uint64_t dfn;

	(void)state;
	assert_int_equal(xlate_resolve_run(e->xmeta, BIG, BIG, &dfn), 0);
	assert_int_equal(dfn, BIG);
	assert_int_equal(xlate_resolve_run(e->xmeta, 3, NPAGES - 3, &dfn), 0);
	assert_int_equal(dfn, 3);
	assert_int_equal(xlate_resolve_run(e->xmeta, 0, 0, &dfn), -EINVAL);
	assert_int_equal(xlate_resolve_run(e->xmeta, NPAGES - 1, 2, &dfn), -EINVAL);
	assert_int_equal(xlate_resolve_run(e->xmeta, 0, 1, NULL), -EINVAL);

	stamp(e, BIG + 7, 99);
	assert_int_equal(palloc_reserve(&e->pa, 0, 3 * BIG, 1), 0);
	assert_int_equal(xlate_move_block(e->xmeta, BIG + 7, 3 * BIG, &e->mv), 0);
	assert_int_equal(palloc_free(&e->pa, 3 * BIG), 0);
	assert_true(stamped(e, BIG + 7, 99));
	assert_int_equal(xlate_resolve_run(e->xmeta, BIG, BIG, &dfn), -ENOENT);
	/* the pages before the moved one still are one run */
	assert_int_equal(xlate_resolve_run(e->xmeta, BIG, 7, &dfn), 0);
	assert_int_equal(dfn, BIG);
	assert_int_equal(xlate_resolve_run(e->xmeta, BIG + 7, 1, &dfn), 0);
	assert_int_equal(dfn, 3 * BIG);
	env_free(e);
}

static uint64_t seen_dfn;
static int seen_run;

/* During a move (between its marks and its publish) the run is busy. */
static int look_during_move(struct env *e, uint64_t ppn)
{
	(void)ppn;
	seen_run = xlate_resolve_run(e->xmeta, BIG, BIG, &seen_dfn);
	return 0;
}

/* At 2 MiB a block moves as a unit: the run stays one run, on new frames. */
static void test_run_moves_as_a_unit_at_2m(void **state)
{
	struct env *e = env_new(9);
	uint64_t dfn;

	(void)state;
	assert_int_equal(xlate_resolve_run(e->xmeta, BIG, BIG, &dfn), 0);
	assert_int_equal(dfn, BIG);
	assert_int_equal(xlate_resolve_run(e->xmeta, BIG + 10, 20, &dfn), 0);
	assert_int_equal(dfn, BIG + 10);
	stamp(e, BIG, 5);
	stamp(e, 2 * BIG - 1, 6);
	assert_int_equal(palloc_reserve(&e->pa, 0, 12 * BIG, BIG), 0);
	e->in_shootdown = look_during_move;
	seen_run = 1;
	assert_int_equal(xlate_move_block(e->xmeta, 1, 12, &e->mv), 0);
	e->in_shootdown = NULL;
	assert_int_equal(seen_run, -EBUSY);
	free_run(e, 12 * BIG, BIG);
	assert_int_equal(xlate_resolve_run(e->xmeta, BIG, BIG, &dfn), 0);
	assert_int_equal(dfn, 12 * BIG);
	assert_int_equal(dfn % BIG, 0);
	assert_true(stamped(e, BIG, 5));
	assert_true(stamped(e, 2 * BIG - 1, 6));
	/* two blocks that are not neighbours in the device any more */
	assert_int_equal(xlate_resolve_run(e->xmeta, 0, 2 * BIG, &dfn), -ENOENT);
	env_free(e);
}

/* A drain at 4 KiB of the region under a 2 MiB run: its data moves intact,
 * page by page, and the run is mapped 4 KiB at a time from then on; at
 * 2 MiB the run comes out of the drain whole. */
static void drain_run(uint32_t gshift)
{
	struct env *e = env_new(gshift);
	uint64_t dfn, first = REGION + BIG;     /* in region 1 */
	int64_t got;

	got = palloc_reserve_aligned(&e->pa, 42, BIG, BIG, first, NULL, NULL);
	assert_int_equal(got, first);
	for (uint64_t p = first; p < first + BIG; p++)
		stamp(e, p, p);
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 1, &e->mv), 0);
	for (uint64_t p = first; p < first + BIG; p++) {
		assert_true(stamped(e, p, p));
		assert_int_not_equal(region_of(e, p), 1);
	}
	if (gshift) {
		assert_int_equal(xlate_resolve_run(e->xmeta, first, BIG, &dfn), 0);
		assert_int_equal(dfn % BIG, 0);
	} else {
		/* the spares are taken where they are free, one 4 KiB block each */
		int r = xlate_resolve_run(e->xmeta, first, BIG, &dfn);
		assert_true(r == 0 || r == -ENOENT);
	}
	assert_false(xlate_usable_run(e->xmeta, REGION, BIG));  /* backed offline */
	free_run(e, first, BIG);
	env_free(e);
}

static void test_drain_under_a_run(void **state)
{
	(void)state;
	drain_run(0);
	drain_run(9);
}

static void test_usable_run(void **state)
{
	struct env *e = env_new(0);

	(void)state;
	assert_true(xlate_usable_run(e->xmeta, 0, NPAGES));
	assert_false(xlate_usable_run(e->xmeta, 0, 0));
	assert_false(xlate_usable_run(e->xmeta, 1, NPAGES));
	assert_false(xlate_usable_run(NULL, 0, 1));
	assert_int_equal(xlate_set_region_state(e->xmeta, 2, XLATE_DRAINING), 0);
	assert_true(xlate_usable_run(e->xmeta, 0, 2 * REGION));
	assert_false(xlate_usable_run(e->xmeta, 2 * REGION - BIG, 2 * BIG));
	assert_false(xlate_usable_run(e->xmeta, 3 * REGION - 1, 2));
	assert_true(xlate_usable_run(e->xmeta, 3 * REGION, REGION));
	for (uint64_t p = 2 * REGION - 3; p < 2 * REGION + 3; p++)
		assert_int_equal(xlate_usable_run(e->xmeta, p, 1), xlate_usable(e->xmeta, p));
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserve_aligned),
		cmocka_unit_test(test_run_split_by_a_4k_move),
		cmocka_unit_test(test_run_moves_as_a_unit_at_2m),
		cmocka_unit_test(test_drain_under_a_run),
		cmocka_unit_test(test_usable_run),
	};

	return cmocka_run_group_tests_name("hugeseg", tests, NULL, NULL);
}
