/* The translation tests' pool, mover and event log (see xlate_env.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "xlate_env.h"

/* The shootdown this thread (one mover) did last: [ppn, ppn + pages), 0 pages
 * once a copy came from outside it. */
static __thread uint64_t shot_ppn, shot_pages;

static void *map_shared(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static void logev(struct env *e, int kind, uint64_t a, uint64_t b, uint64_t n)
{
	int i = __atomic_fetch_add(&e->nlog, 1, SC);

	assert_true(i < 4 * NPAGES);
	e->log[i] = (struct event){ kind, a, b, n };
}

static int shootdown(void *ctx, uint64_t ppn, uint64_t pages)
{
	struct env *e = ctx;
	int i, r;

	shot_ppn = ppn;
	shot_pages = pages;
	logev(e, EV_SHOOT, ppn, xlate_lookup(e->xmeta, ppn), pages);
	if (e->in_shootdown && (r = e->in_shootdown(e, ppn)))
		return r;
	if (e->fail_shootdown)
		return e->fail_shootdown;
	for (i = 0; i < WORKERS; i++)           /* wait for every ack */
		for (;;) {
			uint64_t h = __atomic_load_n(&e->hazard[i], SC);

			if (!h || h - 1 < ppn || h - 1 >= ppn + pages)
				break;
			sched_yield();
		}
	return 0;
}

/* A copy must come from the frames of a page the last shootdown covered
 * (during the move the table still names them), while nobody maps it. */
static void copy(void *ctx, uint64_t dst, uint64_t src, uint64_t pages)
{
	struct env *e = ctx;
	uint64_t ppn = shot_ppn, end = shot_ppn + shot_pages;
	int i;

	logev(e, EV_COPY, src, dst, pages);
	while (ppn < end && xlate_lookup(e->xmeta, ppn) != src)
		ppn += pages;
	if (ppn >= end) {
		e->out_of_order++;
		shot_pages = 0;
		return;
	}
	for (i = 0; i < WORKERS; i++) {
		uint64_t m = __atomic_load_n(&e->mapped[i], SC);

		if (m && m - 1 >= shot_ppn && m - 1 < end)
			e->copied_while_mapped++;
	}
	memcpy(e->dev + dst * FRAME, e->dev + src * FRAME, pages * FRAME);
}

struct env *env_new(uint32_t gshift)
{
	struct palloc_geom pg = { NPAGES, 512, 5 };
	struct env *e = calloc(1, sizeof(*e));
	uint64_t f;

	assert_non_null(e);
	e->xg = (struct xlate_geom){ NPAGES, gshift, REGION };
	e->xsize = xlate_meta_size(&e->xg);
	e->psize = palloc_meta_size(&pg);
	e->xmeta = map_shared(e->xsize);
	e->pmeta = map_shared(e->psize);
	e->dev = map_shared((size_t)NPAGES * FRAME);
	assert_int_equal(xlate_format(e->xmeta, &e->xg), 0);
	assert_int_equal(palloc_format(e->pmeta, &pg, false), 0);
	assert_int_equal(palloc_attach(&e->pa, e->pmeta, 3, xlate_usable,
				       e->xmeta), 0);
	for (f = 0; f < NPAGES; f++)            /* each frame names itself */
		memset(e->dev + f * FRAME, (int)(f * 7 + 1), FRAME);
	e->mv = (struct xlate_mover){ copy, shootdown, e };
	return e;
}

void env_free(struct env *e)
{
	munmap(e->xmeta, e->xsize);
	munmap(e->pmeta, e->psize);
	munmap(e->dev, (size_t)NPAGES * FRAME);
	free(e);
}

uint32_t region_of(struct env *e, uint64_t ppn)
{
	return (uint32_t)(xlate_lookup(e->xmeta, ppn) / REGION);
}

/*
 * Shootdown before copy: each shootdown covers whole blocks and is followed
 * by one copy per block it covered, the first from the frames of its first
 * page. @shots: how many shootdowns one mover did (0: do not count).
 */
void check_log(struct env *e, uint64_t moves, uint64_t G, bool one, int shots)
{
	int i, j, copies = 0, nshots = 0;

	for (i = 0; i < e->nlog; i++)
		copies += e->log[i].kind == EV_COPY;
	assert_int_equal(copies, moves);
	assert_int_equal(e->out_of_order, 0);
	assert_int_equal(e->copied_while_mapped, 0);
	if (!one)
		return;                 /* several movers: their events interleave */
	for (i = 0; i < e->nlog; i = j) {
		const struct event *s = &e->log[i];
		assert_int_equal(s->kind, EV_SHOOT);
		assert_int_equal(s->a % G, 0);
		assert_int_equal(s->n % G, 0);
		for (j = i + 1; j < e->nlog && e->log[j].kind == EV_COPY; j++)
			assert_int_equal(e->log[j].n, G);
		assert_int_equal((uint64_t)(j - i - 1), s->n / G);
		assert_int_equal(e->log[i + 1].a, s->b);
		nshots++;
	}
	if (shots)
		assert_int_equal(nshots, shots);
}

/* Fill pool page @p (through the table) with a pattern from @tag. */
void stamp(struct env *e, uint64_t p, uint64_t tag)
{
	uint64_t *f = (uint64_t *)(e->dev + xlate_lookup(e->xmeta, p) * FRAME);

	f[0] = f[FRAME / 16] = f[FRAME / 8 - 1] = tag;
}

bool stamped(struct env *e, uint64_t p, uint64_t tag)
{
	uint64_t *f = (uint64_t *)(e->dev + xlate_lookup(e->xmeta, p) * FRAME);

	return f[0] == tag && f[FRAME / 16] == tag && f[FRAME / 8 - 1] == tag;
}
