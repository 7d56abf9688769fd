/*
 * Host unit tests for the page cache index in the pool (fs/pcache.c). The
 * area is one shared allocation; each pthread plays one node with its own
 * struct pcache, as the kernels of a cluster do. The disk is an array of
 * blocks that counts reads and writes per block; the pool page allocator
 * is a fixed array of pages that counts what is in use and poisons what is
 * freed, so a page used after its eviction shows a wrong stamp.
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fs/pcache.h"
#include "kernel/errno.h"

#define BLK     PCACHE_BLOCK
#define WORDS   (BLK / 8)
#define NBLK    2048                    /* disk blocks */
#define NPAGES  1100                    /* pool pages of the fake allocator */
#define POISON  0xddddddddddddddddULL

/* The disk and the pool, shared by every node. */
struct env {
	uint64_t (*disk)[WORDS];
	int reads[NBLK], writes[NBLK], inflight[NBLK];
	uint64_t last_word0[NBLK];      /* first word of the last write of a block */
	int bad_writes;                 /* overlapping or out-of-order writes of a block */
	uint64_t fail_tag;              /* read of this tag + 1 fails with -EIO (0: none) */
	int read_delay_us, write_delay_us;
	uint64_t (*pages)[WORDS];
	int used[NPAGES];
	int inuse, limit, hint, bad_frees;
	int alive[MAX_NODES];
};

/* One node's view: the ops' ctx. */
struct node {
	struct env *e;
	struct pcache pc;
	uint16_t *local_pins;
	void *bounce;
	uint64_t hang_read, hang_write; /* tag + 1 whose read / write never returns */
	int hung;                       /* 1: hangs there; 2: finished without */
	int die;                        /* the test says: stop dead */
	jmp_buf death;                  /* where a node that stops dead leaves to */
};

static uint32_t blk_of(uint64_t tag)
{
	return (PCACHE_TAG_INO(tag) * 512 + PCACHE_TAG_INDEX(tag)) % NBLK;
}

static uint64_t disk_stamp(uint32_t b)
{
	return 0x5a5a000000000000ULL | b;
}

static void stamp(void *p, uint64_t v)
{
	uint64_t *w = p;
	int i;

	for (i = 0; i < WORDS; i++)
		w[i] = v;
}

static bool stamped(const void *p, uint64_t v)
{
	const uint64_t *w = p;
	int i;

	for (i = 0; i < WORDS; i++)
		if (__atomic_load_n(&w[i], __ATOMIC_RELAXED) != v)
			return false;
	return true;
}

/* The node stops here, inside an op, and never touches the area again. */
static void hang_here(struct node *n)
{
	__atomic_store_n(&n->hung, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&n->die, __ATOMIC_ACQUIRE))
		usleep(1000);
	longjmp(n->death, 1);
}

static int64_t f_alloc(void *ctx)
{
	struct env *e = ((struct node *)ctx)->e;
	int i, k, zero;

	if (__atomic_add_fetch(&e->inuse, 1, __ATOMIC_SEQ_CST) > e->limit) {
		__atomic_sub_fetch(&e->inuse, 1, __ATOMIC_SEQ_CST);
		return -ENOMEM;
	}
	for (k = 0; k < NPAGES; k++) {
		i = (__atomic_fetch_add(&e->hint, 1, __ATOMIC_RELAXED) + k) % NPAGES;
		zero = 0;
		if (__atomic_compare_exchange_n(&e->used[i], &zero, 1, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return i;
	}
	__atomic_sub_fetch(&e->inuse, 1, __ATOMIC_SEQ_CST);
	return -ENOMEM;
}

static void f_free(void *ctx, uint64_t ppn)
{
	struct env *e = ((struct node *)ctx)->e;
	int one = 1;

	if (ppn >= NPAGES || !__atomic_load_n(&e->used[ppn], __ATOMIC_SEQ_CST)) {
		__atomic_add_fetch(&e->bad_frees, 1, __ATOMIC_SEQ_CST);
		return;
	}
	stamp(e->pages[ppn], POISON);
	if (!__atomic_compare_exchange_n(&e->used[ppn], &one, 0, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		__atomic_add_fetch(&e->bad_frees, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&e->inuse, 1, __ATOMIC_SEQ_CST);
}

static void *f_page(void *ctx, uint64_t ppn)
{
	return ((struct node *)ctx)->e->pages[ppn];
}

static int f_read(void *ctx, uint64_t tag, uint64_t ppn)
{
	struct node *n = ctx;
	struct env *e = n->e;
	uint32_t b = blk_of(tag);

	if (n->hang_read == tag + 1)
		hang_here(n);
	if (e->read_delay_us)
		usleep((useconds_t)e->read_delay_us);
	if (e->fail_tag == tag + 1)
		return -EIO;
	memcpy(e->pages[ppn], e->disk[b], BLK);
	__atomic_add_fetch(&e->reads[b], 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int f_write(void *ctx, uint64_t tag, const void *buf)
{
	struct node *n = ctx;
	struct env *e = n->e;
	uint32_t b = blk_of(tag);
	uint64_t w0 = *(const uint64_t *)buf;

	if (n->hang_write == tag + 1)
		hang_here(n);
	if (__atomic_add_fetch(&e->inflight[b], 1, __ATOMIC_SEQ_CST) != 1 ||
	    w0 < e->last_word0[b])
		__atomic_add_fetch(&e->bad_writes, 1, __ATOMIC_SEQ_CST);
	e->last_word0[b] = w0;
	if (e->write_delay_us)
		usleep((useconds_t)e->write_delay_us);
	memcpy(e->disk[b], buf, BLK);
	__atomic_add_fetch(&e->writes[b], 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&e->inflight[b], 1, __ATOMIC_SEQ_CST);
	return 0;
}

static bool f_alive(void *ctx, int node)
{
	return __atomic_load_n(&((struct node *)ctx)->e->alive[node], __ATOMIC_ACQUIRE);
}

static const struct pcache_ops ops = {
	f_alloc, f_free, f_page, f_read, f_write, f_alive,
};

static struct env *env_new(int limit)
{
	struct env *e = calloc(1, sizeof(*e));
	uint32_t b;
	int i;

	assert_non_null(e);
	e->disk = aligned_alloc(64, (size_t)NBLK * BLK);
	e->pages = aligned_alloc(64, (size_t)NPAGES * BLK);
	assert_non_null(e->disk);
	assert_non_null(e->pages);
	for (b = 0; b < NBLK; b++)
		stamp(e->disk[b], disk_stamp(b));
	e->limit = limit;
	for (i = 0; i < MAX_NODES; i++)
		e->alive[i] = 1;
	return e;
}

static void env_free(struct env *e)
{
	free(e->disk);
	free(e->pages);
	free(e);
}

/* The end of a test: every page given back exactly once, then free it all. */
static void env_done(struct env *e, void *area)
{
	assert_int_equal(e->inuse, 0);
	assert_int_equal(e->bad_frees, 0);
	free(area);
	env_free(e);
}

static void *area_new(uint32_t nsets)
{
	uint64_t size = pcache_area_size(nsets);
	void *a;

	assert_true(size > 0);
	a = aligned_alloc(64, size);
	assert_non_null(a);
	memset(a, 0xa5, size);          /* format must not rely on zeroes */
	assert_int_equal(pcache_format(a, nsets), 0);
	return a;
}

static void node_init(struct node *n, struct env *e, void *area, int id)
{
	const struct pcache_hdr *h = area;

	memset(n, 0, sizeof(*n));
	n->e = e;
	n->local_pins = calloc((size_t)h->nsets * PCACHE_WAYS, sizeof(uint16_t));
	n->bounce = malloc(BLK);
	assert_non_null(n->local_pins);
	assert_non_null(n->bounce);
	assert_int_equal(pcache_attach(&n->pc, area, id, &ops, n, n->local_pins, n->bounce), 0);
}

static void node_fini(struct node *n)
{
	free(n->local_pins);
	free(n->bounce);
}

static uint64_t ppn_of(struct env *e, const void *data)
{
	return (uint64_t)(((const uint64_t(*)[WORDS])data) - e->pages);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_header(void **state)
{
	struct env *e = env_new(16);
	struct pcache_ops no_alive = ops;
	struct pcache_hdr *h;
	struct node n;
	uint16_t pins[8 * PCACHE_WAYS];
	struct pcache pc;
	void *a;

	(void)state;
	assert_int_equal(pcache_area_size(0), 0);
	assert_int_equal(pcache_area_size(3), 0);
	assert_int_equal(pcache_area_size(PCACHE_MAX_SETS * 2u), 0);
	assert_int_equal(pcache_area_size(8), 64 + 3 * 8 * 64);
	assert_int_equal(pcache_format(NULL, 8), -EINVAL);

	a = calloc(1, pcache_area_size(8));
	assert_int_equal(pcache_format(a, 6), -EINVAL);
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, pins, NULL), -EINVAL);
	assert_int_equal(pcache_format(a, 8), 0);
	h = a;
	assert_int_equal(h->magic, PCACHE_MAGIC);
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, pins, NULL), 0);
	assert_int_equal(pc.nsets, 8);
	assert_int_equal(pcache_attach(&pc, a, MAX_NODES, &ops, &n, pins, NULL), -EINVAL);
	assert_int_equal(pcache_attach(&pc, a, -1, &ops, &n, pins, NULL), -EINVAL);
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, NULL, NULL), -EINVAL);
	no_alive.alive = NULL;
	assert_int_equal(pcache_attach(&pc, a, 0, &no_alive, &n, pins, NULL), -EINVAL);

	/* Each damaged field is refused. */
	h->magic ^= 1;
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, pins, NULL), -EINVAL);
	h->magic ^= 1;
	h->version++;
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, pins, NULL), -EINVAL);
	h->version--;
	h->nsets = 6;
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, pins, NULL), -EINVAL);
	h->nsets = 16;                  /* a power of two, but not the layout's */
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, pins, NULL), -EINVAL);
	h->nsets = 8;
	h->frames_off += 64;
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, pins, NULL), -EINVAL);
	h->frames_off -= 64;
	h->pins_off = 0;
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, pins, NULL), -EINVAL);
	h->pins_off = 64 + 2 * 8 * 64;
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, pins, NULL), 0);
	free(a);
	env_free(e);
}

static void test_basics(void **state)
{
	struct env *e = env_new(64);
	void *area = area_new(16);
	uint64_t a = PCACHE_TAG(1, 7), b = PCACHE_TAG(1, 8), c = PCACHE_TAG(2, 3);
	struct pcache_ref r, r2;
	struct pcache *pc;
	struct node n;
	void *first;
	int i;

	(void)state;
	node_init(&n, e, area, 3);
	pc = &n.pc;

	/* A miss reads the disk once; a hit does not. */
	assert_int_equal(pcache_get(pc, a, 0, &r), 0);
	assert_true(stamped(r.data, disk_stamp(blk_of(a))));
	assert_int_equal(r.tag, a);
	first = r.data;
	pcache_put(pc, &r);
	assert_int_equal(pcache_get(pc, a, 0, &r), 0);
	assert_ptr_equal(r.data, first);
	pcache_put(pc, &r);
	assert_int_equal(e->reads[blk_of(a)], 1);
	assert_int_equal(pc->st.misses, 1);
	assert_int_equal(pc->st.fills, 1);
	assert_int_equal(pc->st.hits, 1);

	/* NOREAD: zeroes, no read. */
	assert_int_equal(pcache_get(pc, b, PCACHE_NOREAD, &r), 0);
	assert_true(stamped(r.data, 0));
	assert_int_equal(e->reads[blk_of(b)], 0);

	/* Dirty, then writeback writes it once; it is clean after. */
	stamp(r.data, 0x1234);
	pcache_dirty(pc, &r);
	pcache_put(pc, &r);
	assert_int_equal(pcache_get(pc, c, 0, &r), 0);
	stamp(r.data, 0x5678);
	pcache_dirty(pc, &r);
	pcache_put(pc, &r);
	pcache_scan(pc);
	assert_int_equal(pc->st.valid, 3);
	assert_int_equal(pc->st.dirty, 2);
	assert_int_equal(pcache_writeback(pc, 2, 0, n.bounce), 1);     /* only inode 2 */
	assert_true(stamped(e->disk[blk_of(c)], 0x5678));
	assert_int_equal(e->writes[blk_of(b)], 0);
	assert_int_equal(pcache_writeback(pc, 0, 0, n.bounce), 1);
	assert_true(stamped(e->disk[blk_of(b)], 0x1234));
	assert_int_equal(pcache_writeback(pc, 0, 0, n.bounce), 0);
	assert_int_equal(e->writes[blk_of(b)], 1);
	assert_int_equal(e->writes[blk_of(c)], 1);
	assert_int_equal(pc->st.writebacks, 2);
	pcache_scan(pc);
	assert_int_equal(pc->st.dirty, 0);

	/* At most max pages. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(pcache_get(pc, PCACHE_TAG(4, i), 0, &r), 0);
		pcache_dirty(pc, &r);
		pcache_put(pc, &r);
	}
	assert_int_equal(pcache_writeback(pc, 4, 2, n.bounce), 2);
	assert_int_equal(pcache_writeback(pc, 4, 2, n.bounce), 1);

	/* Drop: a pinned page makes it -EBUSY; dropped pages are read again;
	 * a dirty one is not written; pages before first_index stay. */
	for (i = 0; i < 5; i++) {
		assert_int_equal(pcache_get(pc, PCACHE_TAG(3, i), 0, &r), 0);
		pcache_put(pc, &r);
	}
	assert_int_equal(pcache_get(pc, PCACHE_TAG(3, 4), 0, &r2), 0);
	stamp(r2.data, 0x99);
	pcache_dirty(pc, &r2);
	assert_int_equal(pcache_drop(pc, 3, 3), -EBUSY);
	pcache_put(pc, &r2);
	assert_int_equal(pcache_drop(pc, 3, 3), 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(pcache_get(pc, PCACHE_TAG(3, i), 0, &r), 0);
		assert_true(stamped(r.data, disk_stamp(blk_of(PCACHE_TAG(3, i)))));
		pcache_put(pc, &r);
		assert_int_equal(e->reads[blk_of(PCACHE_TAG(3, i))], i < 3 ? 1 : 2);
	}
	assert_int_equal(e->writes[blk_of(PCACHE_TAG(3, 4))], 0);

	/* A failed read leaves the slot free and the page given back. */
	i = e->inuse;
	e->fail_tag = PCACHE_TAG(5, 1) + 1;
	assert_int_equal(pcache_get(pc, PCACHE_TAG(5, 1), 0, &r), -EIO);
	assert_int_equal(e->inuse, i);
	e->fail_tag = 0;
	assert_int_equal(pcache_get(pc, PCACHE_TAG(5, 1), 0, &r), 0);
	assert_true(stamped(r.data, disk_stamp(blk_of(PCACHE_TAG(5, 1)))));
	pcache_put(pc, &r);
	assert_int_equal(pcache_get(pc, 1ULL << PCACHE_TAG_BITS, 0, &r), -EINVAL);

	/* Evict frees only clean unpinned pages. */
	assert_int_equal(pcache_get(pc, a, 0, &r), 0);          /* pinned */
	assert_int_equal(pcache_get(pc, b, 0, &r2), 0);
	pcache_dirty(pc, &r2);
	pcache_put(pc, &r2);                                    /* dirty */
	i = e->inuse;
	assert_int_equal(pcache_evict(pc, 1000), (uint32_t)i - 2);
	assert_int_equal(e->inuse, 2);
	assert_int_equal(pcache_evict(pc, 1000), 0);
	assert_ptr_equal(pcache_get(pc, a, 0, &r2), 0);
	assert_ptr_equal(r2.data, r.data);
	pcache_put(pc, &r2);
	pcache_put(pc, &r);
	assert_int_equal(pcache_evict(pc, 1000), 1);
	assert_int_equal(pcache_drop(pc, 1, 0), 0);
	node_fini(&n);
	env_done(e, area);
}

/* One set: a miss must make room in it. */
static void test_full_set(void **state)
{
	struct env *e = env_new(64);
	void *area = area_new(1);
	struct pcache_ref r[PCACHE_WAYS + 1];
	struct pcache *pc;
	struct node n;
	int i, w = 0;

	(void)state;
	node_init(&n, e, area, 0);
	pc = &n.pc;
	for (i = 0; i < PCACHE_WAYS; i++)
		assert_int_equal(pcache_get(pc, PCACHE_TAG(1, i), 0, &r[i]), 0);
	assert_int_equal(pcache_get(pc, PCACHE_TAG(1, 100), 0, &r[8]), -ENOMEM);
	pcache_put(pc, &r[5]);
	assert_int_equal(pcache_get(pc, PCACHE_TAG(1, 100), 0, &r[8]), 0);
	assert_int_equal(pc->st.evictions, 1);
	pcache_put(pc, &r[8]);
	for (i = 0; i < PCACHE_WAYS; i++)
		if (i != 5)
			pcache_put(pc, &r[i]);
	assert_int_equal(pcache_drop(pc, 1, 0), 0);

	/* A set of dirty pages: without a bounce buffer the miss fails ... */
	for (i = 0; i < PCACHE_WAYS; i++) {
		assert_int_equal(pcache_get(pc, PCACHE_TAG(2, i), 0, &r[i]), 0);
		stamp(r[i].data, 0x700 + (uint64_t)i);
		pcache_dirty(pc, &r[i]);
		pcache_put(pc, &r[i]);
	}
	pc->bounce = NULL;
	assert_int_equal(pcache_get(pc, PCACHE_TAG(2, 100), 0, &r[8]), -ENOMEM);
	/* ... with one, it writes one back and takes its slot. */
	pc->bounce = n.bounce;
	assert_int_equal(pcache_get(pc, PCACHE_TAG(2, 100), 0, &r[8]), 0);
	pcache_put(pc, &r[8]);
	for (i = 0; i < PCACHE_WAYS; i++)
		if (e->writes[blk_of(PCACHE_TAG(2, i))]) {
			assert_true(stamped(e->disk[blk_of(PCACHE_TAG(2, i))], 0x700 + (uint64_t)i));
			w++;
		}
	assert_int_equal(w, 1);
	assert_int_equal(pc->st.writebacks, 1);
	assert_int_equal(pcache_drop(pc, 2, 0), 0);
	assert_int_equal(e->inuse, 0);

	/* Out of pool pages: a miss evicts across the table (here: the one
	 * set), and fails only when everything is pinned. */
	e->limit = 4;
	for (i = 0; i < 4; i++) {
		assert_int_equal(pcache_get(pc, PCACHE_TAG(3, i), 0, &r[i]), 0);
		pcache_put(pc, &r[i]);
	}
	assert_int_equal(pcache_get(pc, PCACHE_TAG(3, 10), 0, &r[0]), 0);
	assert_true(e->inuse <= 4);
	for (i = 1; i < 4; i++)
		assert_int_equal(pcache_get(pc, PCACHE_TAG(3, 10 + i), 0, &r[i]), 0);
	assert_int_equal(e->inuse, 4);
	assert_int_equal(pcache_get(pc, PCACHE_TAG(3, 20), 0, &r[4]), -ENOMEM);
	for (i = 0; i < 4; i++) {
		assert_true(stamped(r[i].data, disk_stamp(blk_of(PCACHE_TAG(3, 10 + i)))));
		pcache_put(pc, &r[i]);
	}
	assert_int_equal(pcache_drop(pc, 3, 0), 0);
	node_fini(&n);
	env_done(e, area);
}

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
		fills += s[i].n.pc.st.fills;
		waits += s[i].n.pc.st.fill_waits;
		evictions += s[i].n.pc.st.evictions;
		lookups += s[i].n.pc.st.hits + s[i].n.pc.st.misses;
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
		evictions += (long)p[i].n.pc.st.evictions;
	}
	printf("evict vs pins: %ld gets, %ld evictions (%ld by the evictor), %ld -ENOMEM\n",
	       gets, evictions, (long)p[PIN_NODES].n.pc.st.evictions, enomem);
	assert_true(gets > PIN_NODES * PIN_ITERS / 3);
	assert_true(p[PIN_NODES].n.pc.st.evictions > 100);
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
	assert_int_equal(pc->st.fill_waits, 0);
	assert_int_equal(pc->st.fills, 1);

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
	assert_int_equal(pc->st.valid, 2);              /* u, v */
	assert_int_equal(pc->st.dirty, 1);              /* v stayed dirty */
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

/* What a dead node leaves BUSY, by the frame word (written by hand). */
static void test_repair_rules(void **state)
{
	struct env *e = env_new(64);
	void *area = area_new(4);
	uint64_t y = PCACHE_TAG(2, 1), z = PCACHE_TAG(2, 2);
	struct pcache_ref r;
	struct pcache *pc;
	struct node n;
	uint32_t sy, sz;

	(void)state;
	node_init(&n, e, area, 0);
	pc = &n.pc;
	assert_int_equal(pcache_get(pc, y, 0, &r), 0);
	sy = r.slot;
	pcache_dirty(pc, &r);
	pcache_put(pc, &r);
	assert_int_equal(pcache_get(pc, z, 0, &r), 0);
	sz = r.slot;
	pcache_put(pc, &r);

	/* y: node 8 died dropping it, after it let the frame go: LOST. */
	f_free(&n, PCACHE_FRAME_PPN(pc->frames[sy]));
	pc->frames[sy] = 0;
	pc->slots[sy] = (uint64_t)PCACHE_BUSY << 62 | 8ULL << PCACHE_TAG_BITS | PCACHE_DIRTY | y;
	/* z: node 8 died evicting it, before it let the frame go: VALID. */
	pc->slots[sz] = (uint64_t)PCACHE_BUSY << 62 | 8ULL << PCACHE_TAG_BITS | z;
	e->alive[8] = 0;
	assert_false(pcache_has_lost(pc, 2));
	assert_int_equal(pcache_node_dead(pc, 8), 2);
	assert_true(pcache_has_lost(pc, 2));
	assert_int_equal(pcache_get(pc, y, 0, &r), -EIO);
	assert_int_equal(pcache_get(pc, z, 0, &r), 0);
	assert_int_equal(e->reads[blk_of(z)], 1);
	pcache_put(pc, &r);
	assert_int_equal(pcache_writeback(pc, 0, 0, n.bounce), 0);     /* not a lost page */

	/* A get that waits on a dead node's BUSY slot repairs it itself. */
	pc->slots[sz] = (uint64_t)PCACHE_BUSY << 62 | 8ULL << PCACHE_TAG_BITS | PCACHE_LOST | z;
	assert_int_equal(pcache_get(pc, z, 0, &r), 0);  /* writing back: readable at once */
	pcache_put(pc, &r);
	pc->slots[sz] = (uint64_t)PCACHE_BUSY << 62 | 8ULL << PCACHE_TAG_BITS | z;
	assert_int_equal(pcache_get(pc, z, 0, &r), 0);
	pcache_put(pc, &r);
	assert_int_equal(pc->slots[sz], (uint64_t)PCACHE_VALID << 62 | z);
	assert_int_equal(pcache_drop(pc, 2, 0), 0);
	assert_false(pcache_has_lost(pc, 2));
	node_fini(&n);
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

/* Region loss: the frames of some pages are gone. */
struct lostset {
	uint64_t ppn[2];
};

static bool is_lost(void *ctx, uint64_t ppn)
{
	struct lostset *l = ctx;

	return ppn == l->ppn[0] || ppn == l->ppn[1];
}

static void test_region_loss(void **state)
{
	struct env *e = env_new(64);
	void *area = area_new(16);
	uint64_t a = PCACHE_TAG(1, 1), b = PCACHE_TAG(1, 2), c = PCACHE_TAG(2, 1);
	uint64_t d = PCACHE_TAG(2, 2);
	struct lostset l;
	struct pcache_ref r;
	struct pcache *pc;
	struct node n;

	(void)state;
	node_init(&n, e, area, 1);
	pc = &n.pc;
	assert_int_equal(pcache_get(pc, a, 0, &r), 0);          /* clean, lost */
	l.ppn[0] = ppn_of(e, r.data);
	pcache_put(pc, &r);
	assert_int_equal(pcache_get(pc, b, 0, &r), 0);          /* dirty, lost */
	l.ppn[1] = ppn_of(e, r.data);
	stamp(r.data, 0xb);
	pcache_dirty(pc, &r);
	pcache_put(pc, &r);
	assert_int_equal(pcache_get(pc, c, 0, &r), 0);          /* dirty, kept */
	stamp(r.data, 0xc);
	pcache_dirty(pc, &r);
	pcache_put(pc, &r);
	assert_int_equal(pcache_get(pc, d, 0, &r), 0);          /* clean, kept */
	pcache_put(pc, &r);
	assert_int_equal(e->inuse, 4);

	assert_int_equal(pcache_lost(pc, is_lost, &l), 1);
	assert_int_equal(pc->st.lost, 1);
	assert_int_equal(e->inuse, 2);                          /* both lost frames freed */
	assert_true(pcache_has_lost(pc, 1));
	assert_false(pcache_has_lost(pc, 2));
	assert_int_equal(pcache_lost(pc, is_lost, &l), 0);      /* nothing more */
	assert_int_equal(pcache_get(pc, b, 0, &r), -EIO);
	assert_int_equal(pcache_get(pc, a, 0, &r), 0);          /* read again */
	assert_true(stamped(r.data, disk_stamp(blk_of(a))));
	assert_int_equal(e->reads[blk_of(a)], 2);
	pcache_put(pc, &r);
	pcache_scan(pc);
	assert_int_equal(pc->st.valid, 3);
	assert_int_equal(pcache_writeback(pc, 0, 0, n.bounce), 1);     /* c, not b */
	assert_int_equal(e->writes[blk_of(b)], 0);
	assert_true(stamped(e->disk[blk_of(c)], 0xc));
	assert_int_equal(pcache_drop(pc, 1, 0), 0);
	assert_false(pcache_has_lost(pc, 1));
	assert_int_equal(pcache_get(pc, b, 0, &r), 0);          /* the disk's old bytes */
	assert_true(stamped(r.data, disk_stamp(blk_of(b))));
	pcache_put(pc, &r);
	assert_int_equal(pcache_drop(pc, 1, 0), 0);
	assert_int_equal(pcache_drop(pc, 2, 0), 0);
	node_fini(&n);
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
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_basics),
		cmocka_unit_test(test_full_set),
		cmocka_unit_test(test_same_pages),
		cmocka_unit_test(test_churn_one_set),
		cmocka_unit_test(test_evict_pinned),
		cmocka_unit_test(test_dead_node),
		cmocka_unit_test(test_repair_rules),
		cmocka_unit_test(test_writeback_while_writing),
		cmocka_unit_test(test_region_loss),
		cmocka_unit_test(test_bench_hits),
	};

	return cmocka_run_group_tests_name("pcache", tests, NULL, NULL);
}
