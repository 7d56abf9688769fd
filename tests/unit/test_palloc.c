/*
 * Host unit tests for the pool page allocator (mm/palloc.c). The "pool" is
 * a MAP_SHARED anonymous mapping; each pthread plays one node with its own
 * struct palloc, as the kernels of a cluster do. A per-page atomic counter
 * in the test catches any page handed to two holders at once; the zero bits
 * (pages known to hold zeros) are checked against a model and with a
 * simulated page content under a concurrent zeroer.
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

/* A formatted pool; @zeroed: as if its pages all read as zeros. */
static void *pool_new_zeroed(const struct palloc_geom *g, bool zeroed, size_t *size)
{
	void *p;

	*size = palloc_meta_size(g);
	assert_true(*size > 0);
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 0xa5, *size);         /* format must not rely on zeroes */
	assert_int_equal(palloc_format(p, g, zeroed), 0);
	return p;
}

static void *pool_new(const struct palloc_geom *g, size_t *size)
{
	return pool_new_zeroed(g, false, size);
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
	assert_int_equal(palloc_format(zero, &bad, false), -EINVAL);
	assert_int_equal(palloc_format(NULL, &g, false), -EINVAL);
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

/* ---- the zero bits ---------------------------------------------------------------------
 *
 * Which free pages are known to hold zeros, so that allocating them needs
 * no zeroing. A model of every page's state (free or held, known zero or
 * not) is checked against the allocator through random operations, on a
 * geometry whose chunks do not fill whole bitmap words; and threads playing
 * nodes, one of them a zeroer, check with a simulated page content that no
 * page is ever said to be zero when it is not.
 */
static uint64_t zeroed(const void *meta)
{
	struct palloc_stats st;

	palloc_stats(meta, &st);
	return st.zeroed;
}

static bool bit(const uint64_t *map, uint64_t i)
{
	return map[i / 64] >> (i % 64) & 1;
}

static void test_a_fresh_pool_is_known_zero(void **state)
{
	struct palloc_geom g = { 1000, 64, 4 };         /* the last chunk is short */
	struct palloc pa;
	size_t size;
	bool zero;
	void *meta = pool_new_zeroed(&g, true, &size);
	void *dirty = pool_new_zeroed(&g, false, &size);

	(void)state;
	assert_int_equal(zeroed(meta), 1000);
	assert_int_equal(zeroed(dirty), 0);
	assert_int_equal(palloc_attach(&pa, meta, 0, NULL, NULL), 0);
	int64_t p = palloc_alloc_zero(&pa, 7, &zero);
	assert_true(p >= 0 && zero);
	assert_int_equal(zeroed(meta), 999);            /* taken: the bit went with it */
	assert_int_equal(palloc_free(&pa, (uint64_t)p), 0);
	assert_int_equal(zeroed(meta), 999);            /* freed as its holder left it */
	assert_int_equal(palloc_alloc_zero(&pa, 7, &zero), p);  /* the same page again */
	assert_false(zero);
	assert_int_equal(palloc_alloc_zero(&pa, 7, NULL), -EINVAL);
	assert_int_equal(palloc_alloc_zero(NULL, 7, &zero), -EINVAL);

	assert_int_equal(palloc_attach(&pa, dirty, 0, NULL, NULL), 0);
	assert_true(palloc_alloc_zero(&pa, 7, &zero) >= 0);
	assert_false(zero);
	munmap(meta, size);
	munmap(dirty, size);
}

static void test_marked_pages_come_back_zero(void **state)
{
	struct palloc_geom g = { 256, 64, 2 };
	struct palloc pa;
	size_t size;
	void *meta = pool_new_zeroed(&g, false, &size);
	int64_t p;

	(void)state;
	assert_int_equal(palloc_attach(&pa, meta, 1, NULL, NULL), 0);
	assert_int_equal(palloc_mark_zero(&pa, 3, 1), -EINVAL);        /* free: not ours */
	assert_int_equal(palloc_reserve(&pa, 9, 60, 10), 0);            /* spans two chunks */
	assert_int_equal(palloc_mark_zero(&pa, 59, 11), -EINVAL);       /* 59 is free */
	assert_int_equal(palloc_mark_zero(&pa, 60, 0), -EINVAL);
	assert_int_equal(palloc_mark_zero(&pa, 250, 7), -EINVAL);       /* past the end */
	assert_int_equal(palloc_mark_zero(NULL, 60, 1), -EINVAL);
	assert_int_equal(zeroed(meta), 0);              /* a refusal marks nothing */
	assert_int_equal(palloc_mark_zero(&pa, 60, 10), 0);
	assert_int_equal(zeroed(meta), 0);              /* held pages are not counted */
	for (uint64_t i = 60; i < 70; i++)
		assert_int_equal(palloc_free(&pa, i), 0);
	assert_int_equal(zeroed(meta), 10);
	assert_int_equal(palloc_check(meta), 0);
	p = palloc_reserve_aligned(&pa, 9, 10, 1, 0, NULL, NULL);
	assert_int_equal(p, 0);                         /* any run: the first */
	uint64_t known[1];
	struct palloc_run r = { .n = 10, .align = 1, .zero_only = true, .known = known };
	assert_int_equal(palloc_reserve_run(&pa, 9, &r), 60);
	assert_int_equal(known[0], 0x3ff);
	assert_int_equal(zeroed(meta), 0);
	assert_int_equal(palloc_reserve_run(&pa, 9, &r), -ENOMEM);      /* no zero run left */
	assert_int_equal(palloc_free(&pa, 65), 0);     /* freed unmarked */
	r = (struct palloc_run){ .n = 1, .align = 1, .start = 65, .known = known };
	assert_int_equal(palloc_reserve_run(&pa, 9, &r), 65);
	assert_int_equal(known[0], 0);
	munmap(meta, size);
}

/* A run over a taken page, or over a page whose record was written without
 * its bit (a repair raced a take), is refused and leaves everything as it was. */
static void test_a_run_is_taken_all_or_none(void **state)
{
	struct palloc_geom g = { 1000, 100, 2 };        /* chunks of 100: words do not line up */
	struct palloc pa;
	size_t size;
	void *meta = pool_new_zeroed(&g, true, &size);
	uint64_t known[2];
	struct palloc_run r = { .n = 70, .align = 1, .known = known };

	(void)state;
	assert_int_equal(palloc_attach(&pa, meta, 0, NULL, NULL), 0);
	assert_int_equal(palloc_reserve(&pa, 5, 95, 1), 0);
	assert_int_equal(palloc_reserve(&pa, 5, 60, 70), -EBUSY);
	assert_int_equal(zeroed(meta), 999);
	assert_int_equal(palloc_check(meta), 0);
	for (uint64_t p = 60; p < 130; p++)
		assert_int_equal(palloc_owner(meta, p, NULL, NULL), p == 95 ? 0 : -ENOENT);
	pa.rec[120] = 1 | (uint64_t)77 << 32;           /* node 0, pid 77, no bit */
	assert_int_equal(palloc_check(meta), 1);
	assert_int_equal(palloc_reserve(&pa, 5, 110, 20), -EBUSY);
	assert_int_equal(palloc_check(meta), 0);        /* its bit now agrees */
	for (uint64_t p = 110; p < 130; p++)
		assert_int_equal(palloc_owner(meta, p, NULL, NULL), p == 120 ? 0 : -ENOENT);
	assert_int_equal(zeroed(meta), 998);
	r.start = 96;
	assert_int_equal(palloc_reserve_run(&pa, 5, &r), 121);  /* past both */
	assert_int_equal(known[0], ~0ULL);
	assert_int_equal(known[1], 0x3f);
	assert_int_equal(zeroed(meta), 998 - 70);
	munmap(meta, size);
}

/*
 * Random operations against a model of every page: held or free, known
 * zero or not. What the allocator says about zero pages must be exactly
 * what the model says; find_unzeroed must find exactly the model's run.
 */
#define MPAGES 1000
static struct {
	bool held, zero;
} model[MPAGES];

static void check_run_known(const uint64_t *known, uint64_t first, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		assert_int_equal(bit(known, i), model[first + i].zero);
		assert_false(model[first + i].held);
		model[first + i] = (typeof(model[0])){ .held = true };
	}
}

static void test_zero_bits_follow_a_model(void **state)
{
	struct palloc_geom g = { MPAGES, 100, 2 };
	struct palloc pa;
	size_t size;
	void *meta = pool_new_zeroed(&g, true, &size);
	uint64_t seed = 0x243f6a8885a308d3ull, known[MPAGES / 64 + 1], n, held = 0;
	int64_t p;
	bool zero;

	(void)state;
	for (int i = 0; i < MPAGES; i++)
		model[i] = (typeof(model[0])){ .zero = true };
	assert_int_equal(palloc_attach(&pa, meta, 1, NULL, NULL), 0);
	for (int op = 0; op < 20000; op++) {
		uint64_t r = rnd(&seed), q = r % MPAGES;

		switch (r >> 32 & 7) {
		case 0:
		case 1:                 /* one page */
			if ((p = palloc_alloc_zero(&pa, 1, &zero)) < 0)
				break;
			assert_false(model[p].held);
			assert_int_equal(zero, model[p].zero);
			model[p] = (typeof(model[0])){ .held = true };
			break;
		case 2: {               /* a run, maybe only a zero one */
			struct palloc_run run = { .n = 1 + (r >> 40) % 150, .align = 1 + (r >> 50) % 64,
						  .start = q, .zero_only = r >> 59 & 1, .known = known };
			if ((p = palloc_reserve_run(&pa, 2, &run)) < 0) {
				assert_int_equal(p, -ENOMEM);
				break;
			}
			assert_int_equal((uint64_t)p % run.align, 0);
			for (uint64_t i = 0; run.zero_only && i < run.n; i++)
				assert_true(model[p + i].zero);
			check_run_known(known, (uint64_t)p, run.n);
			break;
		}
		case 3:
		case 4:                 /* free what is held, zeroed or not */
			for (n = 0; n < 50 && q < MPAGES; q++) {
				if (!model[q].held)
					continue;
				if (r >> 63) {
					assert_int_equal(palloc_mark_zero(&pa, q, 1), 0);
					model[q].zero = true;
				}
				assert_int_equal(palloc_free(&pa, q), 0);
				model[q].held = false;
				n++;
			}
			break;
		default: {              /* what a zeroer looks for */
			uint64_t max = 1 + (r >> 40) % 80, want = q, end;
			while (want < MPAGES && (model[want].held || model[want].zero))
				want++;
			p = palloc_find_unzeroed(&pa, q, max, &n);
			if (want == MPAGES) {
				assert_int_equal(p, -ENOENT);
				break;
			}
			assert_int_equal(p, want);
			for (end = want + 1; end < MPAGES && end % 100 && end - want < max &&
			     !model[end].held && !model[end].zero; end++)
				;
			assert_int_equal(n, end - want);
			break;
		}
		}
	}
	for (int i = 0; i < MPAGES; i++)
		held += model[i].held;
	struct palloc_stats st;
	palloc_stats(meta, &st);
	assert_int_equal(st.free, MPAGES - held);
	n = 0;
	for (int i = 0; i < MPAGES; i++)
		n += !model[i].held && model[i].zero;
	assert_int_equal(st.zeroed, n);
	assert_int_equal(palloc_check(meta), 0);
	assert_int_equal(palloc_find_unzeroed(&pa, MPAGES, 1, &n), -ENOENT);
	assert_int_equal(palloc_find_unzeroed(&pa, 0, 0, &n), -EINVAL);
	munmap(meta, size);
}

/*
 * Nodes at once: three write their mark into every page they take (after
 * checking that a page said to be zero is), a fourth zeroes free pages as a
 * node's idle zeroer does. The page contents are the test's own array.
 */
#define CPAGES 2048
struct czero {
	void *meta;
	uint8_t content[CPAGES];
	int go, stop;
};

struct cnode {
	struct czero *z;
	struct palloc pa;
	uint32_t node;
	uint64_t seed, held[256];
	int nheld;
	long bad, zero_seen, zeroed;
};

static void take_page(struct cnode *c, uint64_t p, bool zero)
{
	uint8_t *b = &c->z->content[p];

	if (zero) {
		c->zero_seen++;
		if (__atomic_load_n(b, __ATOMIC_SEQ_CST))
			c->bad++;
	}
	__atomic_store_n(b, (uint8_t)(c->node + 1), __ATOMIC_SEQ_CST);
	c->held[c->nheld++] = p;
}

static void *allocator_run(void *arg)
{
	struct cnode *c = arg;
	uint64_t known[2];
	bool zero;
	int64_t p;

	while (!__atomic_load_n(&c->z->go, __ATOMIC_ACQUIRE))
		;
	for (int i = 0; i < 20000; i++) {
		uint64_t r = rnd(&c->seed);
		if (c->nheld > 200 || (c->nheld && r % 3 == 0)) {
			int k = (int)((r >> 8) % (uint64_t)c->nheld);
			if (palloc_free(&c->pa, c->held[k]))
				c->bad++;
			c->held[k] = c->held[--c->nheld];
		} else if (r % 5 == 1) {
			struct palloc_run run = { .n = 1 + (r >> 20) % 40, .align = 1,
						  .start = (r >> 32) % CPAGES, .known = known };
			if ((p = palloc_reserve_run(&c->pa, c->node, &run)) >= 0)
				for (uint64_t j = 0; j < run.n; j++)
					take_page(c, (uint64_t)p + j, bit(known, j));
		} else if ((p = palloc_alloc_zero(&c->pa, c->node, &zero)) >= 0) {
			take_page(c, (uint64_t)p, zero);
		}
	}
	while (c->nheld)
		if (palloc_free(&c->pa, c->held[--c->nheld]))
			c->bad++;
	return NULL;
}

static void *zeroer_run(void *arg)
{
	struct cnode *c = arg;
	uint64_t cursor = 0, n;
	int64_t p;

	while (!__atomic_load_n(&c->z->go, __ATOMIC_ACQUIRE))
		;
	while (!__atomic_load_n(&c->z->stop, __ATOMIC_ACQUIRE)) {
		if ((p = palloc_find_unzeroed(&c->pa, cursor, 64, &n)) < 0) {
			cursor = 0;
			continue;
		}
		cursor = (uint64_t)p + n;
		if (palloc_reserve(&c->pa, 0, (uint64_t)p, n))
			continue;               /* someone took part of it */
		for (uint64_t j = 0; j < n; j++)
			__atomic_store_n(&c->z->content[p + j], 0, __ATOMIC_SEQ_CST);
		if (palloc_mark_zero(&c->pa, (uint64_t)p, n))
			c->bad++;
		c->zeroed += (long)n;
		for (uint64_t j = 0; j < n; j++)
			if (palloc_free(&c->pa, (uint64_t)p + j))
				c->bad++;
	}
	return NULL;
}

static void test_nodes_and_a_zeroer_at_once(void **state)
{
	struct palloc_geom g = { CPAGES, 64, 4 };
	static struct czero z;
	static struct cnode c[4];
	pthread_t t[4];
	size_t size;
	long zero_seen = 0;

	(void)state;
	memset(&z, 0, sizeof(z));
	z.meta = pool_new_zeroed(&g, true, &size);
	for (int i = 0; i < 4; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].z = &z;
		c[i].node = (uint32_t)i;
		c[i].seed = 0x9e3779b97f4a7c15ull * (i + 1);
		assert_int_equal(palloc_attach(&c[i].pa, z.meta, (uint32_t)i, NULL, NULL), 0);
		assert_int_equal(pthread_create(&t[i], NULL, i < 3 ? allocator_run : zeroer_run,
						&c[i]), 0);
	}
	__atomic_store_n(&z.go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	__atomic_store_n(&z.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(t[3], NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(c[i].bad, 0);
		zero_seen += c[i].zero_seen;
	}
	/* the zeroer's work was used, not only the fresh pool's zeros */
	assert_true(c[3].zeroed > 0);
	assert_true(zero_seen > CPAGES);
	assert_int_equal(palloc_check(z.meta), 0);
	struct palloc_stats st;
	palloc_stats(z.meta, &st);
	assert_int_equal(st.free, CPAGES);
	/* every page still said to be zero is */
	for (uint64_t p = 0; p < CPAGES; p++) {
		uint64_t n;
		bool is_zero = palloc_find_unzeroed(&c[0].pa, p, 1, &n) != (int64_t)p;
		if (is_zero)
			assert_int_equal(z.content[p], 0);
	}
	munmap(z.meta, size);
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
		cmocka_unit_test(test_a_fresh_pool_is_known_zero),
		cmocka_unit_test(test_marked_pages_come_back_zero),
		cmocka_unit_test(test_a_run_is_taken_all_or_none),
		cmocka_unit_test(test_zero_bits_follow_a_model),
		cmocka_unit_test(test_nodes_and_a_zeroer_at_once),
	};

	return cmocka_run_group_tests_name("palloc", tests, NULL, NULL);
}
