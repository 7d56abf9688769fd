/* The page cache tests' disk, pool allocator and nodes (see pcache_env.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "pcache_env.h"

uint32_t blk_of(uint64_t tag)
{
	return (PCACHE_TAG_INO(tag) * 512 + PCACHE_TAG_INDEX(tag)) % NBLK;
}

uint64_t disk_stamp(uint32_t b)
{
	return 0x5a5a000000000000ULL | b;
}

void stamp(void *p, uint64_t v)
{
	uint64_t *w = p;
	int i;

	for (i = 0; i < WORDS; i++)
		w[i] = v;
}

bool stamped(const void *p, uint64_t v)
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

void f_free(void *ctx, uint64_t ppn)
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

const struct pcache_ops ops = {   /* no relax: the waits spin, as between VMs */
	.alloc = f_alloc, .free = f_free, .page = f_page, .read = f_read, .write = f_write,
	.alive = f_alive,
};

struct env *env_new(int limit)
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

void env_free(struct env *e)
{
	free(e->disk);
	free(e->pages);
	free(e);
}

/* The end of a test: every page given back exactly once, then free it all. */
void env_done(struct env *e, void *area)
{
	assert_int_equal(e->inuse, 0);
	assert_int_equal(e->bad_frees, 0);
	free(area);
	env_free(e);
}

void *area_new(uint32_t nsets)
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

void node_init(struct node *n, struct env *e, void *area, int id)
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

void node_fini(struct node *n)
{
	free(n->local_pins);
	free(n->bounce);
}

uint64_t ppn_of(struct env *e, const void *data)
{
	return (uint64_t)(((const uint64_t(*)[WORDS])data) - e->pages);
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
