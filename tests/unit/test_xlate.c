/*
 * Host unit tests for pool address translation, moves and region drains
 * (mm/xlate.c, with mm/palloc.c), on the harness of xlate_env.h: the pool
 * device is an array of frames, worker threads play nodes. Region failure
 * is tested in test_xlate_fail.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <cmocka.h>

#include "xlate_env.h"

static void test_geometry_identity(void **state)
{
	struct xlate_geom bad[] = {
		{ 0, 0, REGION }, { NPAGES, XLATE_MAX_GSHIFT + 1, REGION },
		{ NPAGES + 1, 9, REGION }, { NPAGES, 9, 100 }, { NPAGES, 0, 0 },
	};
	uint32_t gs[] = { 0, 9 };
	struct xlate_stats st;
	uint64_t p, dfn;
	void *zero = calloc(1, 4096);
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(xlate_meta_size(&bad[i]), 0);
		assert_int_equal(xlate_format(zero, &bad[i]), -EINVAL);
	}
	assert_int_equal(xlate_lookup(zero, 0), XLATE_NONE);
	assert_false(xlate_usable(zero, 0));
	assert_int_equal(xlate_region_state(zero, 0), -EINVAL);
	assert_int_equal(xlate_set_region_state(zero, 0, XLATE_OFFLINE), -EINVAL);
	xlate_stats(zero, &st);
	assert_int_equal(st.entries, 0);
	for (i = 0; i < 2; i++) {
		struct env *e = env_new(gs[i]);

		for (p = 0; p < NPAGES; p++) {
			assert_int_equal(xlate_lookup(e->xmeta, p), p);
			assert_int_equal(xlate_resolve(e->xmeta, p, &dfn), 0);
			assert_int_equal(dfn, p);
			assert_true(xlate_usable(e->xmeta, p));
		}
		assert_int_equal(xlate_lookup(e->xmeta, NPAGES), XLATE_NONE);
		assert_int_equal(xlate_resolve(e->xmeta, NPAGES, &dfn), -EINVAL);
		assert_false(xlate_usable(e->xmeta, NPAGES));
		for (p = 0; p < 4; p++)
			assert_int_equal(xlate_region_state(e->xmeta, (uint32_t)p),
					 XLATE_ONLINE);
		assert_int_equal(xlate_region_state(e->xmeta, 4), -EINVAL);
		env_free(e);
	}
	free(zero);
}

static void test_table_sizes(void **state)
{
	struct env *fine = env_new(0), *coarse = env_new(9);
	struct xlate_stats a, b;

	(void)state;
	xlate_stats(fine->xmeta, &a);
	xlate_stats(coarse->xmeta, &b);
	assert_int_equal(a.entries, NPAGES);
	assert_int_equal(b.entries, NPAGES / 512);
	assert_int_equal(a.entry_bytes, 4);
	assert_int_equal(a.table_bytes, NPAGES * 4);
	assert_int_equal(b.table_bytes, NPAGES / 512 * 4);
	assert_int_equal(a.table_bytes, 512 * b.table_bytes);
	assert_int_equal(a.block_pages, 1);
	assert_int_equal(b.block_pages, 512);
	assert_int_equal(a.regions, 4);
	assert_int_equal(a.in_state[XLATE_ONLINE], 4);
	assert_true(fine->xsize > coarse->xsize + NPAGES * 3);
	assert_int_equal(a.moves + b.moves, 0);
	env_free(fine);
	env_free(coarse);
}

static void test_region_states(void **state)
{
	struct env *e = env_new(0);
	struct xlate_stats st;
	uint64_t n = 0;
	int64_t p;

	(void)state;
	assert_int_equal(xlate_set_region_state(e->xmeta, 4, XLATE_OFFLINE), -EINVAL);
	assert_int_equal(xlate_set_region_state(e->xmeta, 0, 4), -EINVAL);
	assert_int_equal(xlate_set_region_state(e->xmeta, 0, -1), -EINVAL);
	assert_int_equal(xlate_set_region_state(e->xmeta, 1, XLATE_OFFLINE), 0);
	assert_int_equal(xlate_set_region_state(e->xmeta, 2, XLATE_FAILED), 0);
	assert_int_equal(xlate_set_region_state(e->xmeta, 3, XLATE_DRAINING), 0);
	assert_int_equal(xlate_region_state(e->xmeta, 2), XLATE_FAILED);
	xlate_stats(e->xmeta, &st);
	assert_int_equal(st.in_state[XLATE_ONLINE], 1);
	assert_int_equal(st.in_state[XLATE_FAILED], 1);
	assert_false(xlate_usable(e->xmeta, REGION + 5));
	assert_true(xlate_usable(e->xmeta, 5));
	while ((p = palloc_alloc(&e->pa, 1)) >= 0) {    /* only region 0 */
		assert_int_equal(region_of(e, (uint64_t)p), 0);
		n++;
	}
	assert_int_equal(p, -ENOMEM);
	assert_int_equal(n, REGION);
	assert_int_equal(xlate_set_region_state(e->xmeta, 3, XLATE_ONLINE), 0);
	p = palloc_alloc(&e->pa, 1);
	assert_int_equal(region_of(e, (uint64_t)p), 3);
	env_free(e);
}

static void move_one(uint32_t gshift)
{
	struct env *e = env_new(gshift);
	uint64_t G = 1ull << gshift, b = 4, s, p, old, spare_old;
	uint8_t *want = malloc(G * FRAME);
	struct xlate_stats st;

	/* Block 4 (region 0 at 4 KiB, region 1 at 2 MiB) holds a live page;
	 * the spare is the first block of region 3, held reserved. */
	assert_int_equal(palloc_reserve(&e->pa, 9, b * G, 1), 0);
	stamp(e, b * G, 0xabcdef);
	old = xlate_lookup(e->xmeta, b * G);
	memcpy(want, e->dev + old * FRAME, G * FRAME);
	s = 3 * REGION / G;
	assert_int_equal(palloc_reserve(&e->pa, 0, s * G, G), 0);
	spare_old = xlate_lookup(e->xmeta, s * G);
	assert_int_equal(xlate_move_block(e->xmeta, b, s, &e->mv), 0);
	assert_int_equal(xlate_lookup(e->xmeta, b * G), spare_old);
	assert_int_equal(xlate_lookup(e->xmeta, s * G), old);
	assert_int_equal(memcmp(e->dev + spare_old * FRAME, want, G * FRAME), 0);
	assert_true(stamped(e, b * G, 0xabcdef));
	for (p = 0; p < G; p++)
		assert_int_equal(xlate_lookup(e->xmeta, b * G + p), spare_old + p);
	check_log(e, 1, G, true, 1);
	xlate_stats(e->xmeta, &st);
	assert_int_equal(st.moves, 1);
	assert_int_equal(st.pages_moved, G);
	/* Step 6: the spare's pages, now on the old frames, come back. */
	for (p = 0; p < G; p++)
		assert_int_equal(palloc_free(&e->pa, s * G + p), 0);
	assert_int_equal(palloc_reserve(&e->pa, 0, s * G, G), 0);
	assert_int_equal(e->nlog, 2);                   /* no move since */
	free(want);
	env_free(e);
}

static void test_move_block(void **state)
{
	(void)state;
	move_one(0);
	move_one(9);
}

static int nested_move(struct env *e, uint64_t ppn)
{
	uint64_t dfn;

	/* While block 1 moves onto block 2: both are taken, faults wait. */
	assert_int_equal(xlate_move_block(e->xmeta, 1, 3, &e->mv), -EBUSY);
	assert_int_equal(xlate_move_block(e->xmeta, 3, 2, &e->mv), -EBUSY);
	assert_int_equal(xlate_resolve(e->xmeta, ppn, &dfn), -EBUSY);
	assert_false(xlate_usable(e->xmeta, ppn));
	e->in_shootdown = NULL;
	return 0;
}

/* A drain elsewhere while blocks 1 and 2 sit MOVING: it waits, gives up. */
static int drain_meanwhile(struct env *e, uint64_t ppn)
{
	(void)ppn;
	e->in_shootdown = NULL;
	e->hook_ret = xlate_drain_region(e->xmeta, &e->pa, 3, &e->mv);
	return 0;
}

static int fail_region2(struct env *e, uint64_t ppn)
{
	(void)ppn;
	e->in_shootdown = NULL;
	return xlate_set_region_state(e->xmeta, 2, XLATE_FAILED);
}

static void test_move_errors(void **state)
{
	struct env *e = env_new(9);
	struct xlate_mover none = { NULL, e->mv.shootdown, e };
	uint64_t dfn;

	(void)state;
	assert_int_equal(xlate_move_block(e->xmeta, 1, 1, &e->mv), -EINVAL);
	assert_int_equal(xlate_move_block(e->xmeta, 16, 1, &e->mv), -EINVAL);
	assert_int_equal(xlate_move_block(e->xmeta, 1, 16, &e->mv), -EINVAL);
	assert_int_equal(xlate_move_block(e->xmeta, 1, 2, NULL), -EINVAL);
	assert_int_equal(xlate_move_block(e->xmeta, 1, 2, &none), -EINVAL);

	/* A shootdown that is not acked: nothing moves, nothing stays marked. */
	e->fail_shootdown = -ETIMEDOUT;
	assert_int_equal(xlate_move_block(e->xmeta, 1, 2, &e->mv), -ETIMEDOUT);
	e->fail_shootdown = 1;
	assert_int_equal(xlate_move_block(e->xmeta, 1, 2, &e->mv), -5);
	e->fail_shootdown = 0;
	assert_int_equal(e->nlog, 2);                   /* no copy */
	assert_int_equal(xlate_resolve(e->xmeta, 512, &dfn), 0);
	assert_int_equal(dfn, 512);
	assert_int_equal(xlate_resolve(e->xmeta, 1024, &dfn), 0);
	assert_int_equal(dfn, 1024);

	/* A spare whose region is no longer online is refused. */
	assert_int_equal(xlate_set_region_state(e->xmeta, 2, XLATE_DRAINING), 0);
	assert_int_equal(xlate_move_block(e->xmeta, 1, 8, &e->mv), -EBUSY);
	assert_int_equal(xlate_set_region_state(e->xmeta, 2, XLATE_ONLINE), 0);

	e->nlog = 0;
	e->in_shootdown = nested_move;
	assert_int_equal(xlate_move_block(e->xmeta, 1, 2, &e->mv), 0);
	assert_int_equal(xlate_lookup(e->xmeta, 512), 1024);
	assert_int_equal(xlate_lookup(e->xmeta, 1024), 512);
	check_log(e, 1, 512, true, 1);

	e->in_shootdown = drain_meanwhile;
	assert_int_equal(xlate_move_block(e->xmeta, 1, 2, &e->mv), 0);
	assert_int_equal(e->hook_ret, -EBUSY);
	assert_int_equal(xlate_region_state(e->xmeta, 3), XLATE_DRAINING);
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 3, &e->mv), 0);
	assert_int_equal(xlate_region_state(e->xmeta, 3), XLATE_OFFLINE);
	assert_int_equal(xlate_lookup(e->xmeta, 512), 512);  /* moved back */
	env_free(e);
}

/*
 * Waiting out a move (xlate_resolve_wait). The waiter's poll callback
 * stands for the kernel's msg_poll(), where a node acks the mover's
 * shootdown.
 */
static int polls, acked;

static void count_poll(void)
{
	polls++;
}

static void ack_poll(void)
{
	polls++;
	__atomic_store_n(&acked, 1, SC);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The mover waits in its shootdown for the waiter's ack. */
static int wait_for_ack(struct env *e, uint64_t ppn)
{
	(void)ppn;
	e->in_shootdown = NULL;
	while (!__atomic_load_n(&acked, SC))
		sched_yield();
	return 0;
}

/* The mover stops after marking the blocks, for longer than a fault
 * waits: to the fault it is dead. Block 5 and spare 2 * REGION. */
static int dead_mover(struct env *e, uint64_t ppn)
{
	uint64_t dfn = XLATE_NONE, t = now_ns();

	e->in_shootdown = NULL;
	polls = 0;
	assert_int_equal(xlate_resolve_wait(e->xmeta, ppn, &dfn, count_poll), -ETIMEDOUT);
	t = now_ns() - t;
	assert_true(t >= MOVE_WAIT_MS * 1000000ull);
	assert_true(t < 2 * MOVE_WAIT_MS * 1000000ull);
	assert_true(polls > 0);
	assert_true(dfn == XLATE_NONE);                 /* nothing to map */
	assert_int_equal(xlate_resolve(e->xmeta, 2 * REGION, &dfn), -EBUSY);
	return 0;
}

struct mover_arg {
	struct env *e;
	uint64_t block, spare;
	int ret;
};

static void *mover(void *arg)
{
	struct mover_arg *m = arg;

	m->ret = xlate_move_block(m->e->xmeta, m->block, m->spare, &m->e->mv);
	return NULL;
}

static void test_resolve_wait(void **state)
{
	struct env *e = env_new(0);
	struct mover_arg m = { e, 5, 3 * REGION, -1 };
	uint64_t dfn, t;
	pthread_t th;

	(void)state;
	assert_int_equal(xlate_resolve_wait(e->xmeta, NPAGES, &dfn, NULL), -EINVAL);
	assert_int_equal(xlate_resolve_wait(e->xmeta, 5, NULL, NULL), -EINVAL);
	assert_int_equal(xlate_resolve_wait(NULL, 5, &dfn, NULL), -EINVAL);
	assert_int_equal(xlate_resolve_wait(e->xmeta, 5, &dfn, NULL), 0);
	assert_int_equal(dfn, 5);

	/* A live mover, held up until the waiter acks: the wait ends with
	 * the move, at the new frame, long before MOVE_WAIT_MS. */
	stamp(e, 5, 0x55);
	polls = acked = 0;
	e->in_shootdown = wait_for_ack;
	assert_int_equal(pthread_create(&th, NULL, mover, &m), 0);
	while (xlate_resolve(e->xmeta, 5, &dfn) != -EBUSY)
		sched_yield();
	t = now_ns();
	assert_int_equal(xlate_resolve_wait(e->xmeta, 5, &dfn, ack_poll), 0);
	assert_true(now_ns() - t < MOVE_WAIT_MS * 1000000ull / 2);
	assert_int_equal(dfn, 3 * REGION);
	assert_true(polls > 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(m.ret, 0);
	assert_true(stamped(e, 5, 0x55));

	/* A dead mover: -ETIMEDOUT after MOVE_WAIT_MS, not a wedged node.
	 * Nothing was changed by the wait: once the mover goes on after
	 * all, the block resolves to where it went, data intact. */
	e->in_shootdown = dead_mover;
	assert_int_equal(xlate_move_block(e->xmeta, 5, 2 * REGION, &e->mv), 0);
	assert_null(e->in_shootdown);                   /* the waiter ran */
	assert_int_equal(xlate_resolve_wait(e->xmeta, 5, &dfn, NULL), 0);
	assert_int_equal(dfn, 2 * REGION);
	assert_true(stamped(e, 5, 0x55));
	env_free(e);
}

static bool in_region1(void *ctx, uint64_t ppn)
{
	struct env *e = ctx;

	return xlate_usable(e->xmeta, ppn) && region_of(e, ppn) == 1;
}

static void test_drain_args(void **state)
{
	struct env *e = env_new(9);
	int64_t p;
	int i;

	(void)state;
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 4, &e->mv), -EINVAL);
	assert_int_equal(xlate_drain_region(e->xmeta, NULL, 0, &e->mv), -EINVAL);
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 0, NULL), -EINVAL);
	assert_int_equal(xlate_set_region_state(e->xmeta, 2, XLATE_FAILED), 0);
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 2, &e->mv), -EINVAL);
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 3, &e->mv), 0);
	assert_int_equal(xlate_region_state(e->xmeta, 3), XLATE_OFFLINE);
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 3, &e->mv), 0);
	assert_int_equal(e->nlog, 0);                   /* nothing was there */

	/* Region 0 full and region 1 in use: no spare, the drain waits. */
	for (i = 0; i < REGION; i++)
		assert_true(palloc_alloc(&e->pa, 1) >= 0);
	assert_true((p = palloc_alloc_where(&e->pa, 1, in_region1, e)) >= 0);
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 0, &e->mv), -ENOMEM);
	assert_int_equal(xlate_region_state(e->xmeta, 0), XLATE_DRAINING);
	assert_int_equal(palloc_free(&e->pa, (uint64_t)p), 0);
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 0, &e->mv), 0);
	assert_int_equal(xlate_region_state(e->xmeta, 0), XLATE_OFFLINE);
	check_log(e, 4, 512, true, 4);      /* 2 MiB blocks: one per shootdown */
	assert_int_equal(region_of(e, 0), 1);

	/* The injector fails region 2 under its drain. */
	assert_int_equal(xlate_set_region_state(e->xmeta, 2, XLATE_ONLINE), 0);
	assert_int_equal(xlate_set_region_state(e->xmeta, 3, XLATE_ONLINE), 0);
	assert_int_equal(palloc_reserve(&e->pa, 1, 2 * REGION, 1), 0);
	e->in_shootdown = fail_region2;
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 2, &e->mv), -5);
	assert_int_equal(xlate_region_state(e->xmeta, 2), XLATE_FAILED);
	env_free(e);
}

/* A drain moves runs of consecutive blocks under one shootdown each. */
static void test_drain_batches(void **state)
{
	struct env *e = env_new(0);
	const uint64_t n = 300, first = REGION + 100;   /* in region 1 */
	uint64_t p;

	(void)state;
	assert_int_equal(palloc_reserve(&e->pa, 1, first, n), 0);
	for (p = first; p < first + n; p++)
		stamp(e, p, 0x5a00 + p);
	assert_int_equal(xlate_drain_region(e->xmeta, &e->pa, 1, &e->mv), 0);
	check_log(e, n, 1, true, (n + XLATE_BATCH - 1) / XLATE_BATCH);
	assert_int_equal(e->log[0].n, XLATE_BATCH);
	for (p = first; p < first + n; p++) {
		assert_true(stamped(e, p, 0x5a00 + p));
		assert_int_not_equal(region_of(e, p), 1);
	}
	env_free(e);
}

/*
 * Drain under load: WORKERS nodes allocate, write, verify and free pages
 * while one or two movers drain regions 1 (and 2) at the same time.
 */
#define PRE 300                         /* pages with data per drained region */

struct xworker {
	struct env *e;
	struct palloc pa;
	int id;
	uint64_t seed, held[256], tag[256];
	int nheld;
	long ops, bad, mismatches, bad_allocs;
};

struct drainer {
	struct env *e;
	struct palloc pa;
	uint32_t region;
	int ret;
};

static int stop, ndrain;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool drained(uint32_t r)
{
	return r >= 1 && r <= (uint32_t)ndrain;
}

/* Map @ppn as a node would: publish it, then resolve (waits out moves). */
static uint64_t *map_page(struct xworker *w, uint64_t ppn)
{
	struct env *e = w->e;
	uint64_t dfn;

	for (;;) {
		__atomic_store_n(&e->hazard[w->id], ppn + 1, SC);
		if (!xlate_resolve(e->xmeta, ppn, &dfn))
			break;
		__atomic_store_n(&e->hazard[w->id], 0, SC);
		sched_yield();
	}
	__atomic_store_n(&e->mapped[w->id], ppn + 1, SC);
	return (uint64_t *)(e->dev + dfn * FRAME);
}

static void unmap_page(struct xworker *w)
{
	__atomic_store_n(&w->e->mapped[w->id], 0, SC);
	__atomic_store_n(&w->e->hazard[w->id], 0, SC);
}

static void wstep(struct xworker *w)
{
	uint64_t r = rnd(&w->seed), *f, tag;
	int64_t q;
	int i, st[3];
	uint32_t reg;

	if (w->nheld < 200 && (r % 3 != 0 || !w->nheld)) {
		for (i = 1; i < 3; i++)
			st[i] = xlate_region_state(w->e->xmeta, (uint32_t)i);
		q = palloc_alloc(&w->pa, (uint32_t)w->id + 1);
		if (q < 0) {
			w->bad += q != -ENOMEM;
			return;
		}
		reg = region_of(w->e, (uint64_t)q);
		if (drained(reg) && st[reg] != XLATE_ONLINE)
			w->bad_allocs++;        /* handed out after the drain began */
		tag = (uint64_t)w->id << 56 | (uint64_t)q << 20 | (uint64_t)w->ops;
		f = map_page(w, (uint64_t)q);
		f[0] = f[FRAME / 16] = f[FRAME / 8 - 1] = tag;
		unmap_page(w);
		w->held[w->nheld] = (uint64_t)q;
		w->tag[w->nheld++] = tag;
		return;
	}
	i = (int)((r >> 8) % (uint64_t)w->nheld);
	f = map_page(w, w->held[i]);
	tag = w->tag[i];
	if (f[0] != tag || f[FRAME / 16] != tag || f[FRAME / 8 - 1] != tag)
		w->mismatches++;
	unmap_page(w);
	if ((r >> 4) & 1) {
		w->bad += palloc_free(&w->pa, w->held[i]) != 0;
		w->nheld--;
		w->held[i] = w->held[w->nheld];
		w->tag[i] = w->tag[w->nheld];
	}
}

static void *wrun(void *arg)
{
	struct xworker *w = arg;

	while (!__atomic_load_n(&stop, SC)) {
		wstep(w);
		__atomic_store_n(&w->ops, w->ops + 1, SC);
	}
	return NULL;
}

static void *drun(void *arg)
{
	struct drainer *d = arg;

	d->ret = xlate_drain_region(d->e->xmeta, &d->pa, d->region, &d->e->mv);
	return NULL;
}

/* Let every worker do @n more operations. */
static void let_run(struct xworker *w, long n)
{
	long base[WORKERS];
	int i;

	for (i = 0; i < WORKERS; i++)
		base[i] = __atomic_load_n(&w[i].ops, SC);
	for (i = 0; i < WORKERS; i++)
		while (__atomic_load_n(&w[i].ops, SC) < base[i] + n)
			sched_yield();
}

static bool in_region(void *ctx, uint64_t ppn)
{
	struct drainer *d = ctx;

	return xlate_usable(d->e->xmeta, ppn) && region_of(d->e, ppn) == d->region;
}

static void drain_under_load(uint32_t gshift, int regions)
{
	struct env *e = env_new(gshift);
	uint64_t G = 1ull << gshift, pre[2][PRE], p, n = 0;
	struct xworker w[WORKERS];
	struct drainer d[2];
	pthread_t t[WORKERS], dt[2];
	struct palloc_stats ps;
	struct xlate_stats st;
	struct palloc late;
	int64_t q;
	int i, j;

	ndrain = regions;
	for (j = 0; j < ndrain; j++) {          /* data in the regions first */
		d[j] = (struct drainer){ .e = e, .region = (uint32_t)j + 1 };
		assert_int_equal(palloc_attach(&d[j].pa, e->pmeta, 3 + (uint32_t)j,
					       xlate_usable, e->xmeta), 0);
		for (i = 0; i < PRE; i++) {
			q = palloc_alloc_where(&d[j].pa, 77, in_region, &d[j]);
			assert_true(q >= 0);
			pre[j][i] = (uint64_t)q;
			stamp(e, pre[j][i], 0x5a5a000000000000ull | pre[j][i]);
		}
	}
	stop = 0;
	for (i = 0; i < WORKERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].e = e;
		w[i].id = i;
		w[i].seed = 0x2545f4914f6cdd1dull * (i + 1);
		assert_int_equal(palloc_attach(&w[i].pa, e->pmeta, (uint32_t)i,
					       xlate_usable, e->xmeta), 0);
		assert_int_equal(pthread_create(&t[i], NULL, wrun, &w[i]), 0);
	}
	let_run(w, 500);
	for (j = 0; j < ndrain; j++)
		assert_int_equal(pthread_create(&dt[j], NULL, drun, &d[j]), 0);
	for (j = 0; j < ndrain; j++)
		pthread_join(dt[j], NULL);
	let_run(w, 2000);
	__atomic_store_n(&stop, 1, SC);
	for (i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);

	xlate_stats(e->xmeta, &st);
	assert_int_equal(st.in_state[XLATE_OFFLINE], ndrain);
	assert_true(st.moves >= (gshift ? 1u : PRE) * ndrain);
	assert_int_equal(st.pages_moved, st.moves * G);
	check_log(e, st.moves, G, ndrain == 1, 0);
	for (i = 0; i < WORKERS; i++) {
		assert_int_equal(w[i].bad, 0);
		assert_int_equal(w[i].mismatches, 0);
		assert_int_equal(w[i].bad_allocs, 0);
		for (j = 0; j < w[i].nheld; j++)
			assert_true(stamped(e, w[i].held[j], w[i].tag[j]));
	}
	for (j = 0; j < ndrain; j++) {
		assert_int_equal(d[j].ret, 0);
		assert_int_equal(xlate_region_state(e->xmeta, d[j].region),
				 XLATE_OFFLINE);
		for (i = 0; i < PRE; i++) {
			p = pre[j][i];
			assert_true(stamped(e, p, 0x5a5a000000000000ull | p));
			assert_false(drained(region_of(e, p)));
			assert_int_equal(palloc_free(&d[j].pa, p), 0);
		}
	}
	for (p = 0; p < NPAGES; p++)            /* nothing in use is left there */
		if (!palloc_owner(e->pmeta, p, NULL, NULL))
			assert_false(drained(region_of(e, p)));

	for (i = 0; i < WORKERS; i++)
		while (w[i].nheld)
			assert_int_equal(palloc_free(&w[i].pa, w[i].held[--w[i].nheld]), 0);
	palloc_stats(e->pmeta, &ps);
	assert_int_equal(ps.free, NPAGES);              /* spares given back too */
	assert_int_equal(palloc_check(e->pmeta), 0);
	assert_int_equal(palloc_attach(&late, e->pmeta, 2, xlate_usable, e->xmeta), 0);
	while ((q = palloc_alloc(&late, 5)) >= 0) {
		assert_false(drained(region_of(e, (uint64_t)q)));
		n++;
	}
	assert_int_equal(n, NPAGES - (uint64_t)ndrain * REGION);
	env_free(e);
}

static void test_drain_4k(void **state)
{
	(void)state;
	drain_under_load(0, 1);
}

static void test_drain_2m(void **state)
{
	(void)state;
	drain_under_load(9, 1);
}

static void test_drain_two_at_once(void **state)
{
	(void)state;
	drain_under_load(0, 2);
	drain_under_load(9, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry_identity),
		cmocka_unit_test(test_table_sizes),
		cmocka_unit_test(test_region_states),
		cmocka_unit_test(test_move_block),
		cmocka_unit_test(test_move_errors),
		cmocka_unit_test(test_resolve_wait),
		cmocka_unit_test(test_drain_args),
		cmocka_unit_test(test_drain_4k),
		cmocka_unit_test(test_drain_2m),
		cmocka_unit_test(test_drain_two_at_once),
		cmocka_unit_test(test_drain_batches),
	};

	return cmocka_run_group_tests_name("xlate", tests, NULL, NULL);
}
