/*
 * Host unit tests for the page cache index in the pool (fs/pcache.c), one
 * node at a time: the header and attach checks, the basic paths, a full
 * set, the repair rules for what a dead node leaves, region loss, and the
 * counters each node keeps in its entry of the area.
 * Harness: pcache_env.h; the tests of many nodes at once are in
 * test_pcache_race.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pcache_env.h"

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
	assert_int_equal(pcache_area_size(8), 64 + 3 * 8 * 64 + PCACHE_NLOCKS * 64 +
			 PCACHE_NOPENS * 16 + MAX_NODES * 128);
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
	h->opens_off += 16;
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, pins, NULL), -EINVAL);
	h->opens_off -= 16;
	h->stats_off += 128;
	assert_int_equal(pcache_attach(&pc, a, 0, &ops, &n, pins, NULL), -EINVAL);
	h->stats_off -= 128;
	assert_int_equal(pcache_attach(&pc, a, 5, &ops, &n, pins, NULL), 0);
	assert_ptr_equal(pc.locks, (char *)a + 64 + 3 * 8 * 64);
	assert_ptr_equal(pc.opens, (uint64_t *)((char *)pc.locks + PCACHE_NLOCKS * 64));
	assert_int_equal(h->stats_off, 64 + 3 * 8 * 64 + PCACHE_NLOCKS * 64 + PCACHE_NOPENS * 16);
	assert_ptr_equal(pc.st, (char *)a + h->stats_off + 5 * 128);   /* node 5's entry */
	assert_ptr_equal(pc.st + MAX_NODES - 5, (char *)a + pcache_area_size(8));
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
	assert_int_equal(pc->st->misses, 1);
	assert_int_equal(pc->st->fills, 1);
	assert_int_equal(pc->st->hits, 1);

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
	assert_int_equal(pc->valid, 3);
	assert_int_equal(pc->dirty, 2);
	assert_int_equal(pcache_writeback(pc, 2, 0, n.bounce), 1);     /* only inode 2 */
	assert_true(stamped(e->disk[blk_of(c)], 0x5678));
	assert_int_equal(e->writes[blk_of(b)], 0);
	assert_int_equal(pcache_writeback(pc, 0, 0, n.bounce), 1);
	assert_true(stamped(e->disk[blk_of(b)], 0x1234));
	assert_int_equal(pcache_writeback(pc, 0, 0, n.bounce), 0);
	assert_int_equal(e->writes[blk_of(b)], 1);
	assert_int_equal(e->writes[blk_of(c)], 1);
	assert_int_equal(pc->st->writebacks, 2);
	pcache_scan(pc);
	assert_int_equal(pc->dirty, 0);

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
	assert_int_equal(pc->st->evictions, 1);
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
	assert_int_equal(pc->st->writebacks, 1);
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

/* Region loss: the frames of some pages are gone. */
struct lostset {
	uint64_t ppn[3];
};

static bool is_lost(void *ctx, uint64_t ppn)
{
	struct lostset *l = ctx;

	return ppn == l->ppn[0] || ppn == l->ppn[1] || ppn == l->ppn[2];
}

static void test_region_loss(void **state)
{
	struct env *e = env_new(64);
	void *area = area_new(16);
	uint64_t a = PCACHE_TAG(1, 1), b = PCACHE_TAG(1, 2), c = PCACHE_TAG(2, 1);
	uint64_t d = PCACHE_TAG(2, 2), b2 = PCACHE_TAG(1, 3);
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
	assert_int_equal(pcache_get(pc, b2, 0, &r), 0);         /* dirty, lost: inode 1's second */
	l.ppn[2] = ppn_of(e, r.data);
	stamp(r.data, 0xb2);
	pcache_dirty(pc, &r);
	pcache_put(pc, &r);
	assert_int_equal(e->inuse, 5);

	assert_int_equal(pcache_lost(pc, is_lost, &l), 2);
	assert_int_equal(pc->st->lost, 2);
	assert_int_equal(e->inuse, 2);                          /* the three lost frames freed */
	pcache_scan(pc);
	assert_int_equal(pc->valid, 2);                         /* c, d; inode 1 keeps one LOST mark */
	assert_true(pcache_has_lost(pc, 1));
	assert_false(pcache_has_lost(pc, 2));
	assert_int_equal(pcache_lost(pc, is_lost, &l), 0);      /* nothing more */
	{       /* one of inode 1's two lost pages keeps the mark, the other reads the disk */
		int gb = pcache_get(pc, b, 0, &r);
		uint64_t other = gb ? b2 : b;

		if (!gb)
			pcache_put(pc, &r);
		assert_int_equal(gb ? gb : pcache_get(pc, b2, 0, &r), -EIO);
		assert_int_equal(pcache_get(pc, other, 0, &r), 0);
		assert_true(stamped(r.data, disk_stamp(blk_of(other))));
		pcache_put(pc, &r);
	}
	assert_int_equal(pcache_get(pc, a, 0, &r), 0);          /* read again */
	assert_true(stamped(r.data, disk_stamp(blk_of(a))));
	assert_int_equal(e->reads[blk_of(a)], 2);
	pcache_put(pc, &r);
	pcache_scan(pc);
	assert_int_equal(pc->valid, 4);
	assert_int_equal(pcache_writeback(pc, 0, 0, n.bounce), 1);     /* c, not b */
	assert_int_equal(e->writes[blk_of(b)] + e->writes[blk_of(b2)], 0);
	assert_true(stamped(e->disk[blk_of(c)], 0xc));
	assert_int_equal(pcache_drop(pc, 1, 0), 0);
	assert_false(pcache_has_lost(pc, 1));
	assert_int_equal(pcache_get(pc, b, 0, &r), 0);          /* the disk's old bytes */
	assert_true(stamped(r.data, disk_stamp(blk_of(b))));
	pcache_put(pc, &r);
	assert_int_equal(pcache_get(pc, b2, 0, &r), 0);
	assert_true(stamped(r.data, disk_stamp(blk_of(b2))));
	pcache_put(pc, &r);
	assert_int_equal(pcache_drop(pc, 1, 0), 0);
	assert_int_equal(pcache_drop(pc, 2, 0), 0);
	node_fini(&n);
	env_done(e, area);
}

/* Node @id's entry of the counters table of @area, read as another node would. */
static const struct pcache_stats *entry(const void *area, int id)
{
	const struct pcache_hdr *h = area;

	return (const struct pcache_stats *)((const char *)area + h->stats_off) + id;
}

static void test_counters(void **state)
{
	struct env *e = env_new(64);
	void *area = area_new(16);
	uint64_t a = PCACHE_TAG(1, 0), b = PCACHE_TAG(3, 9);
	struct pcache_disk disk = { 7, 7 * BLK, 2, 2 * BLK, 1, 0 }, none = { 0 };
	const struct pcache_stats *s1 = entry(area, 1), *s3 = entry(area, 3);
	struct pcache_ref r;
	struct node n1, n3;

	(void)state;
	for (int i = 0; i < MAX_NODES; i++)     /* format wrote zeroes over the garbage */
		assert_int_equal(entry(area, i)->attaches, 0);
	node_init(&n1, e, area, 1);
	node_init(&n3, e, area, 3);
	assert_ptr_equal(n3.pc.st, s3);
	assert_int_equal(s3->attaches, 1);

	/* Node 3 misses (and fills), then hits; node 1 hits what node 3 read. */
	assert_int_equal(pcache_get(&n3.pc, a, 0, &r), 0);
	pcache_put(&n3.pc, &r);
	assert_int_equal(pcache_get(&n3.pc, a, 0, &r), 0);
	pcache_put(&n3.pc, &r);
	assert_int_equal(pcache_get(&n1.pc, a, 0, &r), 0);
	pcache_put(&n1.pc, &r);
	assert_int_equal(e->reads[blk_of(a)], 1);
	assert_int_equal(s3->misses, 1);
	assert_int_equal(s3->fills, 1);
	assert_int_equal(s3->hits, 1);
	assert_int_equal(s1->hits, 1);
	assert_int_equal(s1->misses + s1->fills + s1->fill_waits, 0);

	/* Node 1 dirties, writes back and evicts: its entry, not node 3's. */
	assert_int_equal(pcache_get(&n1.pc, b, 0, &r), 0);
	pcache_dirty(&n1.pc, &r);
	pcache_put(&n1.pc, &r);
	assert_int_equal(pcache_writeback(&n1.pc, 0, 0, n1.bounce), 1);
	assert_int_equal(pcache_evict(&n1.pc, 100), 2);
	assert_int_equal(s1->writebacks, 1);
	assert_int_equal(s1->evictions, 2);
	assert_int_equal(s1->fills, 1);
	assert_int_equal(s3->writebacks + s3->evictions, 0);

	/* The disk's counters are what the node last published. */
	pcache_publish(&n3.pc, &disk);
	assert_memory_equal(&s3->disk, &disk, sizeof(disk));
	assert_memory_equal(&s1->disk, &none, sizeof(none));

	/* Nobody else's entry moved; attaching again starts node 3's over. */
	for (int i = 0; i < MAX_NODES; i++)
		if (i != 1 && i != 3)
			assert_int_equal(entry(area, i)->attaches + entry(area, i)->hits, 0);
	node_fini(&n3);
	node_init(&n3, e, area, 3);
	assert_int_equal(s3->attaches, 2);
	assert_int_equal(s3->hits + s3->misses + s3->fills + s3->disk.reads, 0);
	assert_int_equal(s1->hits, 1);
	node_fini(&n1);
	node_fini(&n3);
	env_done(e, area);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_basics),
		cmocka_unit_test(test_full_set),
		cmocka_unit_test(test_repair_rules),
		cmocka_unit_test(test_region_loss),
		cmocka_unit_test(test_counters),
	};

	return cmocka_run_group_tests_name("pcache", tests, NULL, NULL);
}
