/*
 * Host unit tests for region failure in pool address translation
 * (mm/xlate.c): the injector's protocol, which pages a failure takes (they
 * follow their frames through translation), the loss counts nodes add,
 * and a failure in the middle of a move. Harness: xlate_env.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "xlate_env.h"

struct wiped {
	struct env *e;
	uint64_t dfn, pages, failures_then;
	int calls, state_then;
};

/* The injector's wipe: runs after the state change, before the count. */
static void wipe(void *ctx, uint64_t dfn, uint64_t pages)
{
	struct wiped *w = ctx;

	w->calls++;
	w->dfn = dfn;
	w->pages = pages;
	w->state_then = xlate_region_state(w->e->xmeta, (uint32_t)(dfn / REGION));
	w->failures_then = xlate_failures(w->e->xmeta);
	memset(w->e->dev + dfn * FRAME, 0xDE, pages * FRAME);
}

static void test_region_failure(void **state)
{
	struct env *e = env_new(0);
	struct wiped w = { .e = e };
	uint32_t r = 99;
	uint64_t moved = 5, s = 2 * REGION;     /* page 5 (region 0) moves onto region 2 */

	(void)state;
	assert_int_equal(xlate_failures(e->xmeta), 0);
	assert_false(xlate_lost(e->xmeta, 5, 0, UINT64_MAX, &r));
	assert_int_equal(r, 0);
	assert_int_equal(xlate_fail_region(e->xmeta, 4, wipe, &w), -EINVAL);
	assert_int_equal(xlate_fail_region(NULL, 0, wipe, &w), -EINVAL);
	assert_int_equal(w.calls, 0);

	/* Region 1 fails: its frames are wiped between the state and the count. */
	assert_int_equal(xlate_fail_region(e->xmeta, 1, wipe, &w), 0);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.dfn, REGION);
	assert_int_equal(w.pages, REGION);
	assert_int_equal(w.state_then, XLATE_FAILED);
	assert_int_equal(w.failures_then, 0);
	assert_int_equal(xlate_failures(e->xmeta), 1);
	assert_true(xlate_region_failed(e->xmeta, 1, 0, UINT64_MAX));
	assert_false(xlate_region_failed(e->xmeta, 1, 1, UINT64_MAX));      /* not after the first */
	assert_false(xlate_region_failed(e->xmeta, 0, 0, UINT64_MAX));
	assert_false(xlate_region_failed(e->xmeta, 1, 0, 0));   /* failure 1 is past 0..0 */
	assert_false(xlate_usable(e->xmeta, REGION + 7));
	assert_true(xlate_lost(e->xmeta, REGION + 7, 0, UINT64_MAX, &r));
	assert_int_equal(r, 1);
	assert_false(xlate_lost(e->xmeta, REGION - 1, 0, UINT64_MAX, NULL));
	assert_int_equal(xlate_fail_region(e->xmeta, 1, wipe, &w), -EALREADY);
	assert_int_equal(w.calls, 1);
	assert_int_equal(xlate_failures(e->xmeta), 1);
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 1, &e->mv), -EINVAL);

	/* Loss follows the frames, not the pool address: a page moved onto
	 * region 2 is lost with region 2, the page now on its old frame is not. */
	assert_int_equal(palloc_reserve(&e->pa, 9, moved, 1), 0);
	assert_int_equal(palloc_reserve(&e->pa, 0, s, 1), 0);
	assert_int_equal(xlate_move_block(e->xmeta, moved, s, &e->mv), 0);
	assert_int_equal(xlate_fail_region(e->xmeta, 2, NULL, NULL), 0);
	assert_int_equal(xlate_failures(e->xmeta), 2);
	assert_true(xlate_lost(e->xmeta, moved, 1, UINT64_MAX, &r));
	assert_int_equal(r, 2);
	assert_false(xlate_lost(e->xmeta, s, 0, UINT64_MAX, &r));           /* on region 0's frame now */
	assert_int_equal(r, 0);
	assert_true(xlate_lost(e->xmeta, s + 1, 1, UINT64_MAX, NULL));
	assert_false(xlate_lost(e->xmeta, REGION + 7, 1, UINT64_MAX, NULL)); /* region 1: an older failure */
	assert_true(xlate_lost(e->xmeta, REGION + 7, 0, UINT64_MAX, NULL));

	/* A repaired region comes back: nothing there is lost any more. */
	assert_int_equal(xlate_set_region_state(e->xmeta, 1, XLATE_ONLINE), 0);
	assert_false(xlate_lost(e->xmeta, REGION + 7, 0, UINT64_MAX, NULL));
	assert_true(xlate_usable(e->xmeta, REGION + 7));
	assert_int_equal(xlate_nregions(e->xmeta), 4);
	assert_int_equal(xlate_nregions(NULL), 0);
	env_free(e);
}

/* Nodes count what they lost into the region table at once. */
static void *count_some(void *arg)
{
	struct env *e = arg;

	for (int i = 0; i < 1000; i++)
		xlate_count_loss(e->xmeta, 3, 1, 2, i % 10 == 0);
	return NULL;
}

static void test_loss_counts(void **state)
{
	struct env *e = env_new(0);
	pthread_t t[WORKERS];
	const uint64_t *line;
	uint64_t regions_off;

	(void)state;
	for (int i = 0; i < WORKERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, count_some, e), 0);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	xlate_count_loss(e->xmeta, 4, 1, 1, 1);                  /* no such region: ignored */
	memcpy(&regions_off, (uint8_t *)e->xmeta + 48, 8);      /* struct xlate_hdr */
	line = (const uint64_t *)((uint8_t *)e->xmeta + regions_off + 3 * 64);
	assert_int_equal(line[3], WORKERS * 1000);              /* lost_optional */
	assert_int_equal(line[4], WORKERS * 2000);              /* lost_vital */
	assert_int_equal(line[5], WORKERS * 100);               /* killed */
	env_free(e);
}

static int fail_region3(struct env *e, uint64_t ppn)
{
	(void)ppn;
	e->in_shootdown = NULL;
	return xlate_fail_region(e->xmeta, 3, NULL, NULL);
}

static int fail_region0(struct env *e, uint64_t ppn)
{
	(void)ppn;
	e->in_shootdown = NULL;
	return xlate_fail_region(e->xmeta, 0, NULL, NULL);
}

/* A region that fails during a move: the block stays on its old frame. */
static void test_failure_during_a_move(void **state)
{
	struct env *e = env_new(0);
	uint64_t b = 7, spare = 3 * REGION + 1;

	(void)state;
	stamp(e, b, 0x77);
	e->in_shootdown = fail_region3;         /* the spare's region */
	assert_int_equal(xlate_move_block(e->xmeta, b, spare, &e->mv), -EBUSY);
	assert_int_equal(xlate_lookup(e->xmeta, b), b);
	assert_int_equal(xlate_lookup(e->xmeta, spare), spare);
	assert_true(stamped(e, b, 0x77));
	assert_false(xlate_lost(e->xmeta, b, 0, UINT64_MAX, NULL));
	e->in_shootdown = fail_region0;         /* the block's own region */
	assert_int_equal(xlate_move_block(e->xmeta, b, 2 * REGION, &e->mv), -EIO);
	assert_int_equal(xlate_lookup(e->xmeta, b), b);
	assert_true(xlate_lost(e->xmeta, b, 0, UINT64_MAX, NULL));
	assert_false(xlate_lost(e->xmeta, 2 * REGION, 0, UINT64_MAX, NULL));
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_failure),
		cmocka_unit_test(test_loss_counts),
		cmocka_unit_test(test_failure_during_a_move),
	};

	return cmocka_run_group_tests_name("xlate_fail", tests, NULL, NULL);
}
