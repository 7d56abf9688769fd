/*
 * Host unit tests for the pool page allocator (mm/palloc.c). The "pool" is
 * a MAP_SHARED anonymous mapping; each pthread plays one node with its own
 * struct palloc, as the kernels of a cluster do. A per-page atomic counter
 * in the test catches any page handed to two holders at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "mm/palloc.h"
#include "kernel/errno.h"

static void *pool_new(const struct palloc_geom *g, size_t *size)
{
	void *p;

	*size = palloc_meta_size(g);
	assert_true(*size > 0);
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 0xa5, *size);         /* format must not rely on zeroes */
	assert_int_equal(palloc_format(p, g), 0);
	return p;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t used_total(const struct palloc_stats *st)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < MAX_NODES; i++)
		n += st->used_by_node[i];
	return n;
}

/* Allocate everything one node can get; every page must come once. */
static uint64_t drain_all(struct palloc *pa, uint64_t npages, uint32_t pid)
{
	uint8_t *seen = calloc(npages, 1);
	uint64_t n = 0;
	int64_t p;

	assert_non_null(seen);
	while ((p = palloc_alloc(pa, pid)) >= 0) {
		assert_true((uint64_t)p < npages);
		assert_int_equal(seen[p], 0);
		seen[p] = 1;
		n++;
	}
	assert_int_equal(p, -ENOMEM);
	free(seen);
	return n;
}

static void free_all(struct palloc *pa, uint64_t npages)
{
	uint64_t p;

	for (p = 0; p < npages; p++)
		if (palloc_owner(pa->meta, p, NULL, NULL) == 0)
			assert_int_equal(palloc_free(pa, p), 0);
}

static void test_geometry(void **state)
{
	struct palloc_geom g = { 1000, 64, 4 }, bad;
	struct palloc_stats st;
	struct palloc pa;
	size_t size;
	void *meta, *zero = calloc(1, 4096);

	(void)state;
	bad = g, bad.npages = 0;
	assert_int_equal(palloc_meta_size(&bad), 0);
	bad = g, bad.chunk_pages = 0;
	assert_int_equal(palloc_meta_size(&bad), 0);
	bad = g, bad.chunk_pages = PALLOC_MAX_CHUNK + 1;
	assert_int_equal(palloc_meta_size(&bad), 0);
	bad = g, bad.max_nodes = MAX_NODES + 1;
	assert_int_equal(palloc_meta_size(&bad), 0);
	assert_int_equal(palloc_meta_size(NULL), 0);
	assert_int_equal(palloc_format(zero, &bad), -EINVAL);
	assert_int_equal(palloc_format(NULL, &g), -EINVAL);
	assert_true(palloc_meta_size(&g) >= 1000 * 8);
	assert_int_equal(palloc_meta_size(&g) % 64, 0);

	/* An unformatted block is refused everywhere, without a crash. */
	assert_int_equal(palloc_attach(&pa, zero, 0, NULL, NULL), -EINVAL);
	assert_int_equal(palloc_owner(zero, 0, NULL, NULL), -EINVAL);
	assert_int_equal(palloc_check(zero), UINT64_MAX);
	palloc_stats(zero, &st);
	assert_int_equal(st.npages, 0);
	assert_int_equal(palloc_alloc(NULL, 1), -EINVAL);
	assert_int_equal(palloc_free(NULL, 1), -EINVAL);

	meta = pool_new(&g, &size);
	assert_int_equal(palloc_attach(&pa, meta, 4, NULL, NULL), -EINVAL);
	assert_int_equal(palloc_attach(&pa, meta, 3, NULL, NULL), 0);
	palloc_stats(meta, &st);
	assert_int_equal(st.npages, 1000);
	assert_int_equal(st.free, 1000);
	assert_int_equal(st.chunks, 16);
	assert_int_equal(st.chunks_unowned, 16);
	assert_int_equal(palloc_check(meta), 0);
	munmap(meta, size);
	free(zero);
}

static void test_exhaust(void **state)
{
	struct palloc_geom g = { 1000, 64, 4 };  /* last chunk is short */
	struct palloc pa, other;
	struct palloc_stats st;
	uint32_t node, pid;
	uint64_t n = 0, p;
	int64_t q;
	size_t size;
	void *meta = pool_new(&g, &size);
	uint8_t *seen = calloc(g.npages, 1);

	(void)state;
	assert_int_equal(palloc_attach(&pa, meta, 2, NULL, NULL), 0);
	assert_int_equal(palloc_attach(&other, meta, 1, NULL, NULL), 0);
	while ((q = palloc_alloc(&pa, 1000 + (uint32_t)n)) >= 0) {
		assert_true((uint64_t)q < g.npages);
		assert_int_equal(seen[q], 0);
		seen[q] = 1;
		assert_int_equal(palloc_owner(meta, (uint64_t)q, &node, &pid), 0);
		assert_int_equal(node, 2);
		assert_int_equal(pid, 1000 + n);
		n++;
	}
	assert_int_equal(q, -ENOMEM);
	assert_int_equal(n, g.npages);
	assert_int_equal(palloc_alloc(&other, 7), -ENOMEM);
	palloc_stats(meta, &st);
	assert_int_equal(st.free, 0);
	assert_int_equal(st.used_by_node[2], g.npages);
	assert_int_equal(st.chunks_owned_by_node[2], 16);
	assert_int_equal(palloc_check(meta), 0);

	for (p = 0; p < g.npages; p++)
		assert_int_equal(palloc_free(&pa, p), 0);
	palloc_stats(meta, &st);
	assert_int_equal(st.free, g.npages);
	assert_int_equal(used_total(&st), 0);
	assert_int_equal(st.chunks_owned_by_node[2], PALLOC_KEEP_CHUNKS);
	assert_int_equal(palloc_check(meta), 0);
	assert_int_equal(drain_all(&other, g.npages, 9), g.npages);
	free(seen);
	munmap(meta, size);
}

static void test_bad_args(void **state)
{
	struct palloc_geom g = { 256, 64, 2 };
	struct palloc pa;
	size_t size;
	void *meta = pool_new(&g, &size);
	int64_t p;

	(void)state;
	assert_int_equal(palloc_attach(&pa, meta, 0, NULL, NULL), 0);
	assert_int_equal(palloc_free(&pa, 3), -EINVAL);        /* never allocated */
	assert_int_equal(palloc_free(&pa, 256), -EINVAL);
	assert_int_equal(palloc_free(&pa, UINT64_MAX), -EINVAL);
	assert_int_equal(palloc_owner(meta, 3, NULL, NULL), -ENOENT);
	assert_int_equal(palloc_owner(meta, 256, NULL, NULL), -EINVAL);
	p = palloc_alloc(&pa, 5);
	assert_true(p >= 0);
	assert_int_equal(palloc_free(&pa, (uint64_t)p), 0);
	assert_int_equal(palloc_free(&pa, (uint64_t)p), -EINVAL);  /* double */
	assert_int_equal(palloc_reserve(&pa, 1, 250, 7), -EINVAL);
	assert_int_equal(palloc_reserve(&pa, 1, 0, 0), -EINVAL);
	assert_int_equal(palloc_reserve(&pa, 1, UINT64_MAX, 2), -EINVAL);
	assert_int_equal(palloc_reserve_where(&pa, 1, 0, NULL, NULL), -EINVAL);
	assert_int_equal(palloc_reserve_where(&pa, 1, 257, NULL, NULL), -EINVAL);
	assert_int_equal(palloc_reclaim(&pa, 0), 0);           /* itself */
	assert_int_equal(palloc_reclaim(&pa, 2), 0);           /* no such node */
	assert_int_equal(palloc_reclaim(&pa, 1), 0);           /* holds nothing */
	assert_int_equal(palloc_check(meta), 0);
	munmap(meta, size);
}

static void test_chunk_claim_release(void **state)
{
	struct palloc_geom g = { 256, 64, 4 };
	struct palloc a, b;
	struct palloc_stats st;
	int64_t pb, p[65];
	size_t size;
	void *meta = pool_new(&g, &size);
	int i;

	(void)state;
	assert_int_equal(palloc_attach(&a, meta, 0, NULL, NULL), 0);
	assert_int_equal(palloc_attach(&b, meta, 1, NULL, NULL), 0);
	p[0] = palloc_alloc(&a, 1);
	pb = palloc_alloc(&b, 2);
	assert_true(p[0] >= 0 && p[0] < 64);            /* node 0 starts at chunk 0 */
	assert_true(pb >= 64 && pb < 128);              /* node 1 at chunk 1 */
	palloc_stats(meta, &st);
	assert_int_equal(st.chunks_owned_by_node[0], 1);
	assert_int_equal(st.chunks_owned_by_node[1], 1);
	assert_int_equal(st.chunks_unowned, 2);

	for (i = 1; i < 65; i++)                        /* overflow chunk 0 */
		assert_true((p[i] = palloc_alloc(&a, 1)) >= 0);
	assert_true(p[64] >= 128);                      /* claimed, not stolen */
	palloc_stats(meta, &st);
	assert_int_equal(st.chunks_owned_by_node[0], 2);
	for (i = 0; i < 65; i++)
		assert_int_equal(palloc_free(&a, (uint64_t)p[i]), 0);
	palloc_stats(meta, &st);
	assert_int_equal(st.chunks_owned_by_node[0], PALLOC_KEEP_CHUNKS);
	assert_int_equal(st.chunks_owned_by_node[1], 1);

	/* A page freed by another node: the owner's chunk stays its own. */
	assert_int_equal(palloc_free(&a, (uint64_t)pb), 0);
	palloc_stats(meta, &st);
	assert_int_equal(st.chunks_owned_by_node[1], 1);
	assert_int_equal(used_total(&st), 0);

	/* With every chunk claimed, node 0 takes stranded pages last. */
	assert_int_equal(drain_all(&a, g.npages, 3), g.npages);
	palloc_stats(meta, &st);
	assert_int_equal(st.chunks_owned_by_node[1], 1);
	assert_int_equal(st.used_by_node[0], g.npages);
	free_all(&a, g.npages);
	assert_int_equal(palloc_check(meta), 0);
	munmap(meta, size);
}

static bool odd_only(void *ctx, uint64_t ppn)
{
	(void)ctx;
	return ppn & 1;
}

static bool just(void *ctx, uint64_t ppn)
{
	return ppn == *(uint64_t *)ctx;
}

static void test_usable(void **state)
{
	struct palloc_geom g = { 300, 32, 2 };
	struct palloc pa;
	uint64_t want = 77, p;
	size_t size;
	void *meta = pool_new(&g, &size);

	(void)state;
	assert_int_equal(palloc_attach(&pa, meta, 1, odd_only, NULL), 0);
	assert_int_equal(palloc_alloc_where(&pa, 4, just, &want), 77);
	assert_int_equal(palloc_alloc_where(&pa, 4, just, &want), -ENOMEM);
	assert_int_equal(drain_all(&pa, g.npages, 4), 149);  /* odd, not 77 */
	for (p = 0; p < g.npages; p += 2)
		assert_int_equal(palloc_owner(meta, p, NULL, NULL), -ENOENT);
	free_all(&pa, g.npages);
	assert_int_equal(palloc_check(meta), 0);
	munmap(meta, size);
}

/* A region starts draining while a page is being taken (see palloc.h). */
struct flip {
	void *meta;
	uint64_t page;
	int calls;
	bool record_seen;
};

static bool flips(void *ctx, uint64_t ppn)
{
	struct flip *f = ctx;

	if (ppn != f->page)
		return true;
	if (f->calls++ == 0)
		return true;            /* usable when looked at first */
	/* The second look comes after the record: a drainer sees the page. */
	f->record_seen = palloc_owner(f->meta, ppn, NULL, NULL) == 0;
	return false;
}

static void test_usable_recheck(void **state)
{
	struct palloc_geom g = { 64, 64, 1 };
	struct palloc pa;
	size_t size;
	void *meta = pool_new(&g, &size);
	struct flip f = { meta, 0, 0, false };
	int64_t p;

	(void)state;
	assert_int_equal(palloc_attach(&pa, meta, 0, flips, &f), 0);
	p = palloc_alloc(&pa, 1);
	assert_int_equal(p, 1);                 /* page 0 was given back */
	assert_int_equal(f.calls, 2);
	assert_true(f.record_seen);
	assert_int_equal(palloc_owner(meta, 0, NULL, NULL), -ENOENT);
	assert_int_equal(palloc_check(meta), 0);
	f = (struct flip){ meta, 0, 0, false };
	assert_int_equal(palloc_alloc_where(&pa, 1, flips, &f), 2);
	assert_true(f.record_seen);
	munmap(meta, size);
}

static bool from_40(void *ctx, uint64_t first)
{
	(void)ctx;
	return first >= 40;
}

static void test_reserve(void **state)
{
	struct palloc_geom g = { 128, 64, 2 };
	struct palloc pa;
	struct palloc_stats st;
	uint32_t node, pid;
	uint64_t p;
	size_t size;
	void *meta = pool_new(&g, &size);
	int64_t r;

	(void)state;
	assert_int_equal(palloc_attach(&pa, meta, 1, NULL, NULL), 0);
	assert_int_equal(palloc_reserve(&pa, 42, 60, 10), 0);  /* spans 2 chunks */
	assert_int_equal(palloc_owner(meta, 69, &node, &pid), 0);
	assert_int_equal(node, 1);
	assert_int_equal(pid, 42);
	palloc_stats(meta, &st);
	assert_int_equal(st.reserved, 10);
	assert_int_equal(palloc_reserve(&pa, 42, 50, 12), -EBUSY);
	for (p = 50; p < 60; p++)                       /* rolled back */
		assert_int_equal(palloc_owner(meta, p, NULL, NULL), -ENOENT);
	r = palloc_reserve_where(&pa, 7, 16, from_40, NULL);
	assert_int_equal(r, 80);                /* 48.. and 64.. are partly taken */
	r = palloc_reserve_where(&pa, 7, 16, from_40, NULL);
	assert_int_equal(r, 96);
	assert_int_equal(palloc_reserve_where(&pa, 7, 128, NULL, NULL), -ENOMEM);
	/* from a start: on from there, then around from 0; a start inside a
	 * run counts from that run, one past the end from 0 */
	assert_int_equal(palloc_reserve_from(&pa, 7, 8, 100, NULL, NULL), 112);
	assert_int_equal(palloc_reserve_from(&pa, 7, 8, 121, NULL, NULL), 120);
	assert_int_equal(palloc_reserve_from(&pa, 7, 8, 120, NULL, NULL), 0);
	assert_int_equal(palloc_reserve_from(&pa, 7, 8, 1000, NULL, NULL), 8);
	assert_int_equal(palloc_reserve_from(&pa, 7, 8, 0, from_40, NULL), 40);
	assert_int_equal(palloc_reserve_from(&pa, 7, 8, 0, NULL, NULL), 16);
	assert_int_equal(palloc_reserve_from(&pa, 7, 0, 0, NULL, NULL), -EINVAL);
	assert_int_equal(palloc_reserve_from(&pa, 7, 96, 0, NULL, NULL), -ENOMEM);
	palloc_stats(meta, &st);
	assert_int_equal(st.reserved, 42 + 6 * 8);
	free_all(&pa, g.npages);
	palloc_stats(meta, &st);
	assert_int_equal(st.free, g.npages);
	assert_int_equal(palloc_check(meta), 0);
	munmap(meta, size);
}

/* Several nodes at once. */
#define MAILBOXES 16

struct shared {
	void *meta;
	uint64_t npages;
	int *holders;                   /* per page: how many think they own it */
	uint64_t mail[MAILBOXES];       /* ppn + 1 handed to another node */
	int go, stop;
};

struct worker {
	struct shared *sh;
	struct palloc pa;
	uint32_t node;
	int ops, maxheld, nheld, nmail;
	uint64_t seed, held[1536];
	long bad, allocs, enomem;
};

static void hold(struct worker *w, uint64_t p)
{
	if (__atomic_fetch_add(&w->sh->holders[p], 1, __ATOMIC_SEQ_CST) != 0)
		w->bad++;
	w->held[w->nheld++] = p;
}

static void drop(struct worker *w, uint64_t p)
{
	if (__atomic_fetch_sub(&w->sh->holders[p], 1, __ATOMIC_SEQ_CST) != 1)
		w->bad++;
	if (palloc_free(&w->pa, p))
		w->bad++;
}

static void step(struct worker *w)
{
	uint64_t r = rnd(&w->seed), p, old;
	int64_t q;
	int i;

	if (w->nheld < w->maxheld && (r % 3 != 0 || !w->nheld)) {
		q = palloc_alloc(&w->pa, w->node * 100 + 1);
		if (q == -ENOMEM) {
			w->enomem++;
			return;
		}
		if (q < 0 || palloc_owner(w->sh->meta, (uint64_t)q, NULL, NULL))
			w->bad++;
		else
			hold(w, (uint64_t)q);
		w->allocs++;
		return;
	}
	if (!w->nheld)
		return;
	i = (int)((r >> 8) % (uint64_t)w->nheld);
	p = w->held[i];
	w->held[i] = w->held[--w->nheld];
	if (r % 7 == 1) {               /* hand it to whoever comes next */
		old = __atomic_exchange_n(&w->sh->mail[(r >> 20) % MAILBOXES],
					  p + 1, __ATOMIC_SEQ_CST);
		if (old)
			drop(w, old - 1);
		return;
	}
	drop(w, p);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	int i;

	while (!__atomic_load_n(&w->sh->go, __ATOMIC_ACQUIRE))
		;                       /* start together */
	for (i = 0; i < w->ops || (w->ops < 0 && !__atomic_load_n(&w->sh->stop,
						__ATOMIC_ACQUIRE)); i++)
		step(w);
	return NULL;
}

static void worker_init(struct worker *w, struct shared *sh, uint32_t node,
			int ops, int maxheld)
{
	memset(w, 0, sizeof(*w));
	w->sh = sh;
	w->node = node;
	w->ops = ops;
	w->maxheld = maxheld;
	w->seed = 0x9e3779b97f4a7c15ull * (node + 1);
	assert_int_equal(palloc_attach(&w->pa, sh->meta, node, NULL, NULL), 0);
}

static void worker_release(struct worker *w)
{
	int i;

	for (i = 0; i < MAILBOXES; i++)
		if (w->sh->mail[i]) {
			drop(w, w->sh->mail[i] - 1);
			w->sh->mail[i] = 0;
		}
	while (w->nheld)
		drop(w, w->held[--w->nheld]);
}

static void test_concurrent(void **state)
{
	struct palloc_geom g = { 512, 64, 4 };  /* 4 x 160 held > 512 */
	struct shared sh = { 0 };
	struct worker w[4];
	struct palloc_stats st;
	pthread_t t[4];
	long allocs = 0, enomem = 0;
	size_t size;
	int i;

	(void)state;
	sh.meta = pool_new(&g, &size);
	sh.npages = g.npages;
	sh.holders = calloc(g.npages, sizeof(int));
	for (i = 0; i < 4; i++)
		worker_init(&w[i], &sh, (uint32_t)i, 50000, 160);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	__atomic_store_n(&sh.go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 4; i++) {
		assert_int_equal(w[i].bad, 0);
		allocs += w[i].allocs;
		enomem += w[i].enomem;
	}
	assert_true(allocs > 20000);
	assert_true(enomem > 0);                        /* the pool did run dry */
	worker_release(&w[0]);
	for (i = 1; i < 4; i++)
		worker_release(&w[i]);
	assert_int_equal(w[0].bad, 0);
	for (i = 0; i < (int)g.npages; i++)
		assert_int_equal(sh.holders[i], 0);
	palloc_stats(sh.meta, &st);
	assert_int_equal(used_total(&st), 0);
	assert_int_equal(st.free, g.npages);
	assert_int_equal(palloc_check(sh.meta), 0);
	assert_int_equal(drain_all(&w[2].pa, g.npages, 1), g.npages);
	free(sh.holders);
	munmap(sh.meta, size);
}

#define DEAD_PAGES 1400

struct reclaimer {
	struct shared *sh;
	struct palloc pa;
	uint32_t dead;
	uint64_t freed;
};

static void *reclaim_run(void *arg)
{
	struct reclaimer *r = arg;

	while (!__atomic_load_n(&r->sh->go, __ATOMIC_ACQUIRE))
		;                       /* start together */
	r->freed = palloc_reclaim(&r->pa, r->dead);
	return NULL;
}

static void test_reclaim(void **state)
{
	struct palloc_geom g = { 2048, 64, 4 };
	struct shared sh = { 0 };
	struct worker w[4];
	struct reclaimer rc[2];
	struct palloc_stats st;
	pthread_t t[4];
	uint32_t node;
	size_t size;
	int i, j;

	(void)state;
	sh.meta = pool_new(&g, &size);
	sh.npages = g.npages;
	sh.holders = calloc(g.npages, sizeof(int));
	sh.go = 1;
	worker_init(&w[3], &sh, 3, 0, 0);       /* the node that will die */
	for (i = 0; i < DEAD_PAGES; i++)
		hold(&w[3], (uint64_t)palloc_alloc(&w[3].pa, 33));
	assert_int_equal(palloc_reserve_where(&w[3].pa, 33, 16, NULL, NULL) >= 0, 1);
	for (i = 0; i < 3; i++) {
		worker_init(&w[i], &sh, (uint32_t)i, 200, 100);
		worker_run(&w[i]);              /* each survivor holds some */
	}
	palloc_stats(sh.meta, &st);
	assert_int_equal(st.used_by_node[3], DEAD_PAGES + 16);
	assert_true(st.chunks_owned_by_node[3] >= 5);

	/* Node 3 is dead. Nodes 0 and 1 reclaim while node 2 keeps going. */
	for (i = 0; i < w[3].nheld; i++)
		sh.holders[w[3].held[i]] = 0;
	w[2].ops = -1;
	__atomic_store_n(&sh.go, 0, __ATOMIC_RELEASE);
	assert_int_equal(pthread_create(&t[2], NULL, worker_run, &w[2]), 0);
	for (i = 0; i < 2; i++) {
		rc[i].sh = &sh;
		rc[i].dead = 3;
		assert_int_equal(palloc_attach(&rc[i].pa, sh.meta, (uint32_t)i,
					       NULL, NULL), 0);
		assert_int_equal(pthread_create(&t[i], NULL, reclaim_run, &rc[i]), 0);
	}
	__atomic_store_n(&sh.go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t[2], NULL);
	assert_int_equal(rc[0].freed + rc[1].freed, DEAD_PAGES + 16);
	palloc_stats(sh.meta, &st);
	assert_int_equal(st.used_by_node[3], 0);
	assert_int_equal(st.chunks_owned_by_node[3], 0);
	for (i = 0; i < MAILBOXES; i++)         /* handed over, not yet freed */
		if (sh.mail[i] && !palloc_owner(sh.meta, sh.mail[i] - 1, &node, NULL))
			w[node].nmail++;
	for (i = 0; i < 3; i++) {               /* the survivors lost nothing */
		assert_int_equal(w[i].bad, 0);
		assert_int_equal(st.used_by_node[i], w[i].nheld + w[i].nmail);
		for (j = 0; j < w[i].nheld; j++) {
			assert_int_equal(palloc_owner(sh.meta, w[i].held[j], &node,
						      NULL), 0);
			assert_int_equal(node, (uint32_t)i);
		}
	}
	assert_int_equal(palloc_reclaim(&rc[0].pa, 3), 0);    /* nothing left */
	for (i = 0; i < 3; i++)
		worker_release(&w[i]);
	/* A live node may have been caught mid-take by the repair; nothing
	 * is lost: every page can be allocated again. */
	assert_int_equal(drain_all(&w[0].pa, g.npages, 1), g.npages);
	free(sh.holders);
	munmap(sh.meta, size);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_exhaust),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_chunk_claim_release),
		cmocka_unit_test(test_usable),
		cmocka_unit_test(test_usable_recheck),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_reclaim),
	};

	return cmocka_run_group_tests_name("palloc", tests, NULL, NULL);
}
