/*
 * Host unit tests for the kernel heap (mm/kheap.c). The heap runs on a
 * test page allocator that records every run of pages it hands out, so the
 * tests can check that kfree() gives back exactly what kmalloc() took and
 * that nothing is held once everything is freed. One test runs the heap
 * on the real buddy allocator over a host arena.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mm/buddy.h"
#include "mm/kheap.h"

#define PAGE 4096u
#define MAXRUNS 100000

/* The test page allocator. */
static struct run { void *p; unsigned order; } runs[MAXRUNS];
static size_t nruns;
static uint64_t pages_out, page_limit, alloc_calls;
static unsigned last_order;

static void *tp_alloc(unsigned order)
{
	void *p;

	alloc_calls++;
	last_order = order;
	if (pages_out + (1ull << order) > page_limit)
		return NULL;
	p = aligned_alloc(PAGE, (size_t)PAGE << order);
	assert_non_null(p);
	memset(p, 0xa5, (size_t)PAGE << order);  /* no free zeroes */
	assert_true(nruns < MAXRUNS);
	runs[nruns].p = p;
	runs[nruns++].order = order;
	pages_out += 1ull << order;
	return p;
}

static void tp_free(void *p, unsigned order)
{
	size_t i;

	for (i = 0; i < nruns && runs[i].p != p; i++)
		;
	assert_true(i < nruns);                 /* a run we handed out */
	assert_int_equal(runs[i].order, order);
	runs[i] = runs[--nruns];
	pages_out -= 1ull << order;
	free(p);
}

static const struct kheap_pages tp = { tp_alloc, tp_free };

static int setup(void **state)
{
	(void)state;
	nruns = 0;
	pages_out = 0;
	alloc_calls = 0;
	page_limit = UINT64_MAX;
	kheap_init(&tp);
	return 0;
}

/* Everything freed: the heap holds nothing and returned every page. */
static void check_empty(void)
{
	struct kheap_stats s;

	kheap_stats(&s);
	assert_int_equal(s.bytes_in_use, 0);
	assert_int_equal(s.pages_held, 0);
	assert_int_equal(s.allocs, s.frees);
	assert_int_equal(pages_out, 0);
	assert_int_equal(nruns, 0);
}

static uint8_t pat(uintptr_t seed, size_t i)
{
	return (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static void fill(void *p, size_t n, uintptr_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		((uint8_t *)p)[i] = pat(seed, i);
}

static void check(const void *p, size_t n, uintptr_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((const uint8_t *)p)[i] != pat(seed, i))
			fail_msg("block %p size %zu corrupt at %zu", p, n, i);
}

static void test_every_size(void **state)
{
	enum { MAX = 5000 };
	static void *p[MAX + 1];
	struct kheap_stats s;
	uint64_t bytes = 0;
	size_t n;

	(void)state;
	for (n = 1; n <= MAX; n++) {
		p[n] = kmalloc(n);
		assert_non_null(p[n]);
		assert_int_equal((uintptr_t)p[n] & 15, 0);
		fill(p[n], n, n);
		bytes += n;
	}
	kheap_stats(&s);
	assert_int_equal(s.bytes_in_use, bytes);
	assert_int_equal(s.allocs, MAX);
	assert_int_equal(s.pages_held, pages_out);
	for (n = 1; n <= MAX; n++)
		check(p[n], n, n);
	for (n = 2; n <= MAX; n += 2)          /* evens, then odds */
		kfree(p[n]);
	for (n = 1; n <= MAX; n += 2)
		check(p[n], n, n);
	for (n = 1; n <= MAX; n += 2)
		kfree(p[n]);
	check_empty();
	assert_int_equal(kheap_bad_frees(), 0);
}

static void test_kzalloc(void **state)
{
	static const size_t sizes[] = { 1, 15, 16, 17, 100, 2032, 2033, 9000 };
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *p = kmalloc(sizes[i]), *q;

		fill(p, sizes[i], i + 1);
		kfree(p);
		q = kzalloc(sizes[i]);
		assert_non_null(q);
		for (j = 0; j < sizes[i]; j++)
			assert_int_equal(q[j], 0);
		kfree(q);
	}
	assert_null(kzalloc(0));
	check_empty();
}

static void test_stress(void **state)
{
	enum { SLOTS = 1000, OPS = 60000 };
	static void *p[SLOTS];
	static size_t sz[SLOTS];
	uint64_t rng = 0x9e3779b97f4a7c15ull, live = 0;
	struct kheap_stats s;
	int op, i;

	(void)state;
	memset(p, 0, sizeof(p));
	for (op = 0; op < OPS; op++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		i = (int)(rng % SLOTS);
		if (p[i]) {
			check(p[i], sz[i], (uintptr_t)i ^ sz[i]);
			kfree(p[i]);
			live -= sz[i];
			p[i] = NULL;
			continue;
		}
		switch ((rng >> 20) % 16) {
		case 0:
			sz[i] = 1 + (rng >> 32) % 20000;     /* large */
			break;
		case 1: case 2: case 3:
			sz[i] = 1 + (rng >> 32) % 2100;      /* around the top class */
			break;
		default:
			sz[i] = 1 + (rng >> 32) % 200;
		}
		p[i] = kmalloc(sz[i]);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] & 15, 0);
		fill(p[i], sz[i], (uintptr_t)i ^ sz[i]);
		live += sz[i];
		if (op % 1000 == 0) {
			kheap_stats(&s);
			assert_int_equal(s.bytes_in_use, live);
			assert_int_equal(s.pages_held, pages_out);
		}
	}
	for (i = 0; i < SLOTS; i++) {
		if (p[i]) {
			check(p[i], sz[i], (uintptr_t)i ^ sz[i]);
			kfree(p[i]);
		}
	}
	check_empty();
	assert_int_equal(kheap_bad_frees(), 0);
}

static void test_large(void **state)
{
	/* size, page order it needs (16-byte header included) */
	static const struct { size_t size; unsigned order; } c[] = {
		{ 2033, 0 }, { 4080, 0 }, { 4081, 1 }, { 8176, 1 },
		{ 8177, 2 }, { 1 << 20, 9 }, { 8 << 20, 12 },
	};
	struct kheap_stats s;
	uint8_t *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		p = kmalloc(c[i].size);
		assert_non_null(p);
		assert_int_equal(last_order, c[i].order);
		assert_int_equal((uintptr_t)p & (PAGE - 1), 16);
		kheap_stats(&s);
		assert_int_equal(s.pages_held, 1ull << c[i].order);
		fill(p, c[i].size, i);
		check(p, c[i].size, i);
		kfree(p);
		check_empty();
	}
	p = kmalloc(2032);                     /* largest slab request */
	assert_int_equal(last_order, 0);
	assert_true(((uintptr_t)p & (PAGE - 1)) >= 32);
	kfree(p);
	alloc_calls = 0;
	assert_null(kmalloc(0));
	assert_null(kmalloc(KHEAP_MAX + 1));
	assert_null(kmalloc(SIZE_MAX));
	assert_int_equal(alloc_calls, 0);
	check_empty();
}

static void test_pages_returned(void **state)
{
	static void *p[1000];
	void *a, *b;
	int i;

	(void)state;
	a = kmalloc(40);
	b = kmalloc(40);                       /* same slab page as a */
	assert_true(((uintptr_t)a ^ (uintptr_t)b) < PAGE);
	assert_int_equal(pages_out, 1);
	kfree(a);
	assert_int_equal(pages_out, 1);
	kfree(b);
	assert_int_equal(pages_out, 0);
	for (i = 0; i < 1000; i++)
		p[i] = kmalloc(16);
	assert_int_equal(pages_out, (1000 + 126) / 127);  /* 127 per page */
	for (i = 0; i < 1000; i += 2)
		kfree(p[i]);
	for (i = 1; i < 1000; i += 2)
		kfree(p[i]);
	check_empty();
}

static void test_bad_frees(void **state)
{
	static _Alignas(16) uint8_t buf[64];
	struct kheap_stats before, after;
	uint8_t *a, *b, *big;

	(void)state;
	kfree(NULL);
	assert_int_equal(kheap_bad_frees(), 0);
	a = kmalloc(256);
	b = kmalloc(256);                      /* keeps a's page alive */
	big = kmalloc(10000);
	fill(a, 256, 1);
	fill(big, 10000, 2);
	kheap_stats(&before);
	kfree(a + 1);                          /* misaligned */
	kfree(a + 16);                         /* inside a block */
	kfree(a + 256 - 16);
	kfree(big + 4096);                     /* page-aligned, inside a run */
	kfree(big + 16);
	kfree(buf + 32);                       /* never from the heap */
	kfree(b);
	kfree(b);                              /* double free */
	assert_int_equal(kheap_bad_frees(), 7);
	kheap_stats(&after);
	assert_int_equal(after.frees, before.frees + 1);
	assert_int_equal(after.bytes_in_use, before.bytes_in_use - 256);
	check(a, 256, 1);
	check(big, 10000, 2);
	kfree(a);
	kfree(big);
	check_empty();
	assert_int_equal(kheap_bad_frees(), 7);
}

static void test_out_of_pages(void **state)
{
	static void *p[1000];
	int i, n = 0;

	(void)state;
	page_limit = 8;
	assert_null(kmalloc(9 * PAGE));        /* needs 16 pages */
	while ((p[n] = kmalloc(1000)) != NULL)
		n++;
	assert_int_equal(n, 8 * 3);            /* 3 blocks of 1024 per page */
	assert_null(kmalloc(1000));
	assert_null(kmalloc(PAGE));
	for (i = 0; i < n; i++)
		kfree(p[i]);
	check_empty();
	kheap_init(&(struct kheap_pages){ NULL, NULL });
	assert_null(kmalloc(8));               /* no page allocator yet */
}

/* The heap on the real buddy allocator, over a host arena. */
static struct buddy arena_b;
static uint8_t *arena;

static void *ba_alloc(unsigned order)
{
	uint64_t pfn = buddy_alloc(&arena_b, order);

	return pfn == BUDDY_NONE ? NULL : (void *)(uintptr_t)(pfn * PAGE);
}

static void ba_free(void *p, unsigned order)
{
	assert_int_equal(buddy_free(&arena_b, (uintptr_t)p / PAGE, order), 0);
}

static void test_on_buddy(void **state)
{
	enum { NPAGES = 1024 };
	static void *p[4000];
	void *meta = malloc(buddy_meta_size(NPAGES));
	uint64_t base;
	int i, n = 0;

	(void)state;
	arena = aligned_alloc(PAGE, (size_t)NPAGES * PAGE);
	assert_non_null(arena);
	base = (uintptr_t)arena / PAGE;
	buddy_init(&arena_b, base, NPAGES, meta);
	buddy_add_range(&arena_b, base, NPAGES);
	kheap_init(&(struct kheap_pages){ ba_alloc, ba_free });
	for (i = 0; i < 4000; i++) {
		p[i] = kmalloc(1 + (size_t)(i * 37) % 3000);
		if (!p[i])
			break;
		fill(p[i], 1 + (size_t)(i * 37) % 3000, i);
		n++;
	}
	assert_true(n > 1000);
	for (i = 0; i < n; i++)
		check(p[i], 1 + (size_t)(i * 37) % 3000, i);
	for (i = 0; i < n; i++)
		kfree(p[i]);
	assert_int_equal(buddy_free_frames(&arena_b), NPAGES);
	free(arena);
	free(meta);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_every_size, setup),
		cmocka_unit_test_setup(test_kzalloc, setup),
		cmocka_unit_test_setup(test_stress, setup),
		cmocka_unit_test_setup(test_large, setup),
		cmocka_unit_test_setup(test_pages_returned, setup),
		cmocka_unit_test_setup(test_bad_frees, setup),
		cmocka_unit_test_setup(test_out_of_pages, setup),
		cmocka_unit_test_setup(test_on_buddy, setup),
	};

	return cmocka_run_group_tests_name("kheap", tests, NULL, NULL);
}
