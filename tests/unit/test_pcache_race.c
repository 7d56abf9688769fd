/*
 * Host unit tests for the page cache index in the pool (fs/pcache.c), many
 * nodes at once: concurrent misses of the same pages, churn in one set,
 * eviction against pins, a node that dies inside an op, writeback while a
 * page is written, and the hit path's speed. Harness: pcache_env.h; the
 * tests of one node at a time are in test_pcache.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <cmocka.h>

#include "pcache_env.h"

/* The point: N nodes miss the same pages at once; each is read once. */
#define SAME_NODES  4
#define SAME_TAGS   300
#define SAME_ROUNDS 3

struct same {
	struct node n;
	pthread_barrier_t *bar;
	int bad;
};

static uint64_t same_tag(int k)
{
	return PCACHE_TAG(1 + k % 3, k);
}

static void *same_run(void *arg)
{
	struct same *s = arg;
	struct pcache_ref r;
	int round, k, t;

	for (round = 0; round < SAME_ROUNDS; round++)
		for (k = 0; k < SAME_TAGS; k++) {
			if (round == 0)
				pthread_barrier_wait(s->bar);   /* all at once */
			t = round == 0 ? k : (k * 7 + (int)s->n.pc.node * 31) % SAME_TAGS;
			if (pcache_get(&s->n.pc, same_tag(t), 0, &r)) {
				s->bad++;
				continue;
			}
			s->bad += !stamped(r.data, disk_stamp(blk_of(same_tag(t))));
			pcache_put(&s->n.pc, &r);
		}
	return NULL;
}

static void test_same_pages(void **state)
{
	struct env *e = env_new(NPAGES);
	void *area = area_new(256);
	struct same s[SAME_NODES];
	pthread_barrier_t bar;
	pthread_t t[SAME_NODES];
	uint64_t fills = 0, waits = 0, lookups = 0, evictions = 0;
	int i, k;

	(void)state;
	e->read_delay_us = 50;          /* widen the window of a fill */
	pthread_barrier_init(&bar, NULL, SAME_NODES);
	for (i = 0; i < SAME_NODES; i++) {
		node_init(&s[i].n, e, area, 10 + i);
		s[i].bar = &bar;
		s[i].bad = 0;
	}
	for (i = 0; i < SAME_NODES; i++)
		assert_int_equal(pthread_create(&t[i], NULL, same_run, &s[i]), 0);
	for (i = 0; i < SAME_NODES; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < SAME_NODES; i++) {
		assert_int_equal(s[i].bad, 0);
		fills += s[i].n.pc.st->fills;
		waits += s[i].n.pc.st->fill_waits;
		evictions += s[i].n.pc.st->evictions;
		lookups += s[i].n.pc.st->hits + s[i].n.pc.st->misses;
	}
	assert_int_equal(evictions, 0);
	for (k = 0; k < SAME_TAGS; k++)
		assert_int_equal(e->reads[blk_of(same_tag(k))], 1);
	assert_int_equal(fills, SAME_TAGS);
	assert_int_equal(lookups, SAME_NODES * SAME_TAGS * SAME_ROUNDS);
	printf("same pages: %d nodes x %d pages: %llu disk reads, %llu waits on another's fill\n",
	       SAME_NODES, SAME_TAGS, (unsigned long long)fills, (unsigned long long)waits);
	for (i = 1; i < 4; i++)
		assert_int_equal(pcache_drop(&s[0].n.pc, (uint32_t)i, 0), 0);
	for (i = 0; i < SAME_NODES; i++)
		node_fini(&s[i].n);
	pthread_barrier_destroy(&bar);
	env_done(e, area);
}

/*
 * One set, more tags than ways, every node evicting: a tag is never VALID
 * in two ways at once (two nodes that claimed two free ways for it).
 */
#define CHURN_NODES 4
#define CHURN_TAGS  12
#define CHURN_ITERS 20000

struct churn {
	struct node n;
	uint64_t seed;
	long bad, dups, gets;
};

static uint64_t rnd(uint64_t *s);

static void *churn_run(void *arg)
{
	struct churn *c = arg;
	struct pcache *pc = &c->n.pc;
	struct pcache_ref r;
	uint64_t tag, v;
	int i, w;

	for (i = 0; i < CHURN_ITERS; i++) {
		tag = PCACHE_TAG(1, rnd(&c->seed) % CHURN_TAGS);
		if (rnd(&c->seed) % 4 == 0)
			pcache_evict(pc, 2);
		if (pcache_get(pc, tag, 0, &r) == -ENOMEM)
			continue;       /* all eight pinned or held at once */
		c->gets++;
		c->bad += !stamped(r.data, disk_stamp(blk_of(tag)));
		for (w = 0; w < PCACHE_WAYS; w++) {
			v = __atomic_load_n(&pc->slots[w], __ATOMIC_ACQUIRE);
			c->dups += (uint32_t)w != r.slot && PCACHE_TAG_OF(v) == tag &&
				   PCACHE_STATE(v) == PCACHE_VALID;
		}
		pcache_put(pc, &r);
	}
	return NULL;
}

static void test_churn_one_set(void **state)
{
	struct env *e = env_new(64);
	void *area = area_new(1);
	struct churn c[CHURN_NODES];
	pthread_t t[CHURN_NODES];
	long gets = 0;
	int i;

	(void)state;
	for (i = 0; i < CHURN_NODES; i++) {
		node_init(&c[i].n, e, area, i);
		c[i].seed = 0x2545f4914f6cdd1dULL * (uint64_t)(i + 1);
		c[i].bad = c[i].dups = c[i].gets = 0;
	}
	for (i = 0; i < CHURN_NODES; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churn_run, &c[i]), 0);
	for (i = 0; i < CHURN_NODES; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < CHURN_NODES; i++) {
		assert_int_equal(c[i].bad, 0);
		assert_int_equal(c[i].dups, 0);
		gets += c[i].gets;
	}
	assert_true(gets > CHURN_NODES * CHURN_ITERS / 2);
	assert_int_equal(pcache_drop(&c[0].n.pc, 1, 0), 0);
	for (i = 0; i < CHURN_NODES; i++)
		node_fini(&c[i].n);
	env_done(e, area);
}

/* Eviction never frees a pinned page. */
#define PIN_NODES 3
#define PIN_TAGS  64
#define PIN_ITERS 20000

struct pinner {
	struct node n;
	int *stop;
	uint64_t seed;
	long bad, gets, enomem;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *pin_run(void *arg)
{
	struct pinner *p = arg;
	struct pcache_ref held[2];
	int nheld = 0, i, j, r;
	uint64_t tag;

	for (i = 0; i < PIN_ITERS; i++) {
		tag = PCACHE_TAG(1, rnd(&p->seed) % PIN_TAGS);
		if (nheld == 2 || (nheld && rnd(&p->seed) % 2)) {
			nheld--;
			sched_yield();  /* give the evictor a chance at it */
			p->bad += !stamped(held[nheld].data, disk_stamp(blk_of(held[nheld].tag)));
			pcache_put(&p->n.pc, &held[nheld]);
			continue;
		}
		r = pcache_get(&p->n.pc, tag, 0, &held[nheld]);
		if (r == -ENOMEM) {
			p->enomem++;
			continue;
		}
		p->gets++;
		if (r) {
			p->bad++;
			continue;
		}
		p->bad += !stamped(held[nheld].data, disk_stamp(blk_of(tag)));
		nheld++;
	}
	for (j = 0; j < nheld; j++)
		pcache_put(&p->n.pc, &held[j]);
	return NULL;
}

static void *evict_run(void *arg)
{
	struct pinner *p = arg;

	while (!__atomic_load_n(p->stop, __ATOMIC_ACQUIRE))
		p->gets += pcache_evict(&p->n.pc, 64);
	return NULL;
}

static void test_evict_pinned(void **state)
{
	struct env *e = env_new(20);    /* 64 pages wanted, 20 there */
	void *area = area_new(8);
	struct pinner p[PIN_NODES + 1];
	pthread_t t[PIN_NODES + 1];
	long gets = 0, enomem = 0, evictions = 0;
	int stop = 0, i;

	(void)state;
	for (i = 0; i <= PIN_NODES; i++) {
		node_init(&p[i].n, e, area, i);
		p[i].stop = &stop;
		p[i].seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
		p[i].bad = p[i].gets = p[i].enomem = 0;
	}
	assert_int_equal(pthread_create(&t[PIN_NODES], NULL, evict_run, &p[PIN_NODES]), 0);
	for (i = 0; i < PIN_NODES; i++)
		assert_int_equal(pthread_create(&t[i], NULL, pin_run, &p[i]), 0);
	for (i = 0; i < PIN_NODES; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(t[PIN_NODES], NULL);
	for (i = 0; i <= PIN_NODES; i++) {
		assert_int_equal(p[i].bad, 0);
		gets += i < PIN_NODES ? p[i].gets : 0;
		enomem += p[i].enomem;
		evictions += (long)p[i].n.pc.st->evictions;
	}
	printf("evict vs pins: %ld gets, %ld evictions (%ld by the evictor), %ld -ENOMEM\n",
	       gets, evictions, (long)p[PIN_NODES].n.pc.st->evictions, enomem);
	assert_true(gets > PIN_NODES * PIN_ITERS / 3);
	assert_true(p[PIN_NODES].n.pc.st->evictions > 100);
	assert_true(e->inuse <= 20);
	assert_int_equal(pcache_drop(&p[0].n.pc, 1, 0), 0);
	assert_int_equal(e->inuse, 0);
	for (i = 0; i <= PIN_NODES; i++)
		node_fini(&p[i].n);
	env_done(e, area);
}

/* A node that stops (is cancelled) inside a read or a write, then dies. */
struct dying {
	struct node n;
	uint64_t pin_tag, dirty_tag;    /* + 1; 0: none */
	uint64_t get_tag;               /* + 1: a get that hangs in its read */
};

static void *dying_run(void *arg)
{
	struct dying *d = arg;
	struct pcache_ref r;

	if (setjmp(d->n.death))
		return NULL;
	if (d->pin_tag)
		pcache_get(&d->n.pc, d->pin_tag - 1, 0, &r);    /* never put */
	if (d->dirty_tag && pcache_get(&d->n.pc, d->dirty_tag - 1, 0, &r) == 0) {
		stamp(r.data, 0xd1e);
		pcache_dirty(&d->n.pc, &r);
		pcache_put(&d->n.pc, &r);
		d->n.hang_write = d->dirty_tag;
		pcache_writeback(&d->n.pc, 0, 0, d->n.bounce);
	}
	if (d->get_tag) {
		d->n.hang_read = d->get_tag;
		pcache_get(&d->n.pc, d->get_tag - 1, 0, &r);
	}
	__atomic_store_n(&d->n.hung, 2, __ATOMIC_RELEASE);      /* did not hang */
	return NULL;
}

static void start_dying(struct dying *d, pthread_t *t)
{
	assert_int_equal(pthread_create(t, NULL, dying_run, d), 0);
	while (!__atomic_load_n(&d->n.hung, __ATOMIC_ACQUIRE))
		usleep(100);
	assert_int_equal(d->n.hung, 1);
	__atomic_store_n(&d->n.die, 1, __ATOMIC_RELEASE);
	pthread_join(*t, NULL);
}

static void test_dead_node(void **state)
{
	struct env *e = env_new(64);
	void *area = area_new(16);
	uint64_t x = PCACHE_TAG(1, 1), u = PCACHE_TAG(1, 2), v = PCACHE_TAG(1, 3);
	uint64_t w = PCACHE_TAG(1, 4), t0;
	struct dying d5 = { 0 }, d6 = { 0 }, d7 = { 0 };
	struct pcache_ref r;
	struct pcache *pc;
	struct node n;
	pthread_t t;

	(void)state;
	node_init(&n, e, area, 0);
	pc = &n.pc;
	pc->wait_ms = 50;

	/* Node 5 hangs in the read of x: a live filler makes others time out ... */
	node_init(&d5.n, e, area, 5);
	d5.get_tag = x + 1;
	start_dying(&d5, &t);
	t0 = now_ms();
	assert_int_equal(pcache_get(pc, x, 0, &r), -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 50);
	/* ... a dead one's fill is taken over and its page given back. */
	e->alive[5] = 0;
	assert_int_equal(pcache_get(pc, x, 0, &r), 0);
	assert_true(stamped(r.data, disk_stamp(blk_of(x))));
	assert_int_equal(e->reads[blk_of(x)], 1);
	assert_int_equal(e->inuse, 1);
	pcache_put(pc, &r);
	assert_int_equal(pc->st->fill_waits, 0);
	assert_int_equal(pc->st->fills, 1);

	/* Node 6 pins u and dies writing back v. */
	node_init(&d6.n, e, area, 6);
	d6.pin_tag = u + 1;
	d6.dirty_tag = v + 1;
	start_dying(&d6, &t);
	e->alive[6] = 0;
	assert_int_equal(pcache_evict(pc, 100), 1);     /* x; not u (pinned), not v (busy) */
	assert_int_equal(e->inuse, 2);
	assert_int_equal(pcache_get(pc, v, 0, &r), 0);  /* a page written back stays readable */
	assert_true(stamped(r.data, 0xd1e));
	pcache_put(pc, &r);

	/* Node 7 dies in the read of w. */
	node_init(&d7.n, e, area, 7);
	d7.get_tag = w + 1;
	start_dying(&d7, &t);
	e->alive[7] = 0;

	assert_int_equal(e->inuse, 3);                  /* u, v, w's page */
	assert_int_equal(pcache_node_dead(pc, 6), 2);   /* u's pin, v's writeback */
	assert_int_equal(pcache_node_dead(pc, 6), 0);
	assert_int_equal(pcache_node_dead(pc, 7), 1);   /* w's fill */
	assert_int_equal(pcache_node_dead(pc, 0), 0);   /* not itself */
	assert_int_equal(e->inuse, 2);
	pcache_scan(pc);
	assert_int_equal(pc->valid, 2);                 /* u, v */
	assert_int_equal(pc->dirty, 1);                 /* v stayed dirty */
	assert_int_equal(pcache_evict(pc, 100), 1);     /* u: the pin is gone */
	assert_int_equal(pcache_writeback(pc, 0, 0, n.bounce), 1);
	assert_true(stamped(e->disk[blk_of(v)], 0xd1e));
	assert_int_equal(pcache_get(pc, w, 0, &r), 0);
	assert_true(stamped(r.data, disk_stamp(blk_of(w))));
	pcache_put(pc, &r);
	assert_int_equal(pcache_drop(pc, 1, 0), 0);
	node_fini(&n);
	node_fini(&d5.n);
	node_fini(&d6.n);
	node_fini(&d7.n);
	env_done(e, area);
}

/* A page written all the time while two other nodes write it back. */
#define WB_VERSIONS 20000
#define WB_MIN_WRITES 100        /* writebacks that raced the writer, at least */

struct wb {
	struct node n;
	int *done;
	uint64_t tag;
	long bad, passes;
	uint64_t last;                  /* the writer: the last version it wrote */
	const int *disk_writes;         /* the writer: how often the block went to disk */
};

static void *writer_run(void *arg)
{
	struct wb *w = arg;
	struct pcache_ref r;
	uint64_t k;

	/* At least WB_VERSIONS versions, and on until the flushers have raced
	 * it WB_MIN_WRITES times (however the host schedules the threads). */
	for (k = 1; k <= WB_VERSIONS * 50; k++) {
		if (k > WB_VERSIONS && __atomic_load_n(w->disk_writes, __ATOMIC_ACQUIRE) >= WB_MIN_WRITES)
			break;
		if (pcache_get(&w->n.pc, w->tag, 0, &r)) {
			w->bad++;
			continue;
		}
		stamp(r.data, k);
		pcache_dirty(&w->n.pc, &r);
		pcache_put(&w->n.pc, &r);
		w->last = k;
		if (k % 8 == 0)
			sched_yield();  /* let the flushers in, even on one core */
	}
	__atomic_store_n(w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *flusher_run(void *arg)
{
	struct wb *w = arg;

	while (!__atomic_load_n(w->done, __ATOMIC_ACQUIRE)) {
		if (pcache_writeback(&w->n.pc, 0, 0, w->n.bounce) < 0)
			w->bad++;
		w->passes++;
	}
	return NULL;
}

static void test_writeback_while_writing(void **state)
{
	struct env *e = env_new(64);
	void *area = area_new(4);
	uint64_t tag = PCACHE_TAG(1, 9);
	struct wb w[3];
	pthread_t t[3];
	int done = 0, i;

	(void)state;
	e->write_delay_us = 20;         /* two flushers' writes would overlap */
	for (i = 0; i < 3; i++) {
		node_init(&w[i].n, e, area, i);
		w[i].done = &done;
		w[i].tag = tag;
		w[i].bad = w[i].passes = 0;
		w[i].last = 0;
		w[i].disk_writes = &e->writes[blk_of(tag)];
	}
	assert_int_equal(pthread_create(&t[0], NULL, writer_run, &w[0]), 0);
	for (i = 1; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, flusher_run, &w[i]), 0);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 3; i++)
		assert_int_equal(w[i].bad, 0);
	assert_true(pcache_writeback(&w[1].n.pc, 0, 0, w[1].n.bounce) >= 0);
	assert_true(w[0].last >= WB_VERSIONS);
	assert_true(stamped(e->disk[blk_of(tag)], w[0].last));
	assert_int_equal(e->bad_writes, 0);     /* never two at once, never older */
	printf("writeback while writing: %lu versions, %d disk writes by %ld + %ld passes\n",
	       (unsigned long)w[0].last, e->writes[blk_of(tag)], w[1].passes, w[2].passes);
	assert_true(e->writes[blk_of(tag)] >= WB_MIN_WRITES);
	assert_int_equal(pcache_writeback(&w[2].n.pc, 0, 0, w[2].n.bounce), 0);
	assert_int_equal(pcache_drop(&w[0].n.pc, 1, 0), 0);
	for (i = 0; i < 3; i++)
		node_fini(&w[i].n);
	env_done(e, area);
}

/* Hit path speed, printed, not asserted (a sanitizer build: slow). */
#define BENCH_TAGS 256
#define BENCH_GETS 400000

struct bench {
	struct node n;
	long bad;
};

static void *bench_run(void *arg)
{
	struct bench *b = arg;
	struct pcache_ref r;
	int i;

	for (i = 0; i < BENCH_GETS; i++) {
		if (pcache_get(&b->n.pc, PCACHE_TAG(1, i % BENCH_TAGS), 0, &r)) {
			b->bad++;
			continue;
		}
		pcache_put(&b->n.pc, &r);
	}
	return NULL;
}

static void test_bench_hits(void **state)
{
	struct env *e = env_new(NPAGES);
	void *area = area_new(1024);
	struct bench b[2];
	pthread_t t[2];
	uint64_t t0, ms;
	int i, k;

	(void)state;
	for (i = 0; i < 2; i++) {
		node_init(&b[i].n, e, area, i);
		b[i].bad = 0;
	}
	bench_run(&b[0]);               /* fills, and warms up */
	for (k = 1; k <= 2; k++) {
		t0 = now_ms();
		for (i = 0; i < k; i++)
			assert_int_equal(pthread_create(&t[i], NULL, bench_run, &b[i]), 0);
		for (i = 0; i < k; i++)
			pthread_join(t[i], NULL);
		ms = now_ms() - t0 + 1;
		printf("hit path: %d node(s), %.2f M lookups/s\n", k,
		       (double)k * BENCH_GETS / (double)ms / 1000.0);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(b[i].bad, 0);
	assert_int_equal(e->reads[blk_of(PCACHE_TAG(1, 0))], 1);
	assert_int_equal(pcache_drop(&b[0].n.pc, 1, 0), 0);
	for (i = 0; i < 2; i++)
		node_fini(&b[i].n);
	env_done(e, area);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_pages),
		cmocka_unit_test(test_churn_one_set),
		cmocka_unit_test(test_evict_pinned),
		cmocka_unit_test(test_dead_node),
		cmocka_unit_test(test_writeback_while_writing),
		cmocka_unit_test(test_bench_hits),
	};

	return cmocka_run_group_tests_name("pcache_race", tests, NULL, NULL);
}
