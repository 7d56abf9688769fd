/*
 * Host unit tests for slot tables (mm/slots.c), the per-page words of user
 * areas. The tables run on a test page allocator that counts the pages out
 * and can be told to run dry, so the tests check what a table costs (a
 * heap-sized area with one page touched holds two pages, not a flat array),
 * that a failed set leaves the slot as it was, and that trimming and
 * freeing give back every page. A random test checks get/set/next/trim
 * against a flat array.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mm/slots.h"

#define PAGE 4096u
#define HEAP_SLOTS (512u << 20 >> 12)   /* a process's heap: 512 MiB of pages */

static uint64_t pages_out, page_limit;

void *slots_page_alloc(void)
{
	void *p;

	if (pages_out >= page_limit)
		return NULL;
	p = aligned_alloc(PAGE, PAGE);
	assert_non_null(p);
	memset(p, 0, PAGE);
	pages_out++;
	return p;
}

void slots_page_free(void *p)
{
	assert_non_null(p);
	assert_true(pages_out > 0);
	memset(p, 0x5a, PAGE);                  /* a use after free shows */
	free(p);
	pages_out--;
}

static int setup(void **state)
{
	(void)state;
	pages_out = 0;
	page_limit = UINT64_MAX;
	return 0;
}

static void test_depth(void **state)
{
	struct slots t;

	(void)state;
	assert_int_equal(slots_init(&t, 1), 0);
	assert_int_equal(t.depth, 1);
	assert_int_equal(slots_init(&t, 512), 0);
	assert_int_equal(t.depth, 1);
	assert_int_equal(slots_init(&t, 513), 0);
	assert_int_equal(t.depth, 2);
	assert_int_equal(slots_init(&t, 1u << 18), 0);
	assert_int_equal(t.depth, 2);
	assert_int_equal(slots_init(&t, (1u << 18) + 1), 0);
	assert_int_equal(t.depth, 3);
	assert_int_equal(slots_init(&t, 1ULL << 36), 0);
	assert_int_equal(t.depth, 4);
	assert_int_equal(slots_init(&t, (1ULL << 36) + 1), -1);
	assert_int_equal(pages_out, 0);
}

static void test_empty_costs_nothing(void **state)
{
	struct slots t;

	(void)state;
	assert_int_equal(slots_init(&t, HEAP_SLOTS), 0);
	assert_int_equal(slots_get(&t, 0), 0);
	assert_int_equal(slots_get(&t, HEAP_SLOTS - 1), 0);
	assert_int_equal(slots_get(&t, HEAP_SLOTS), 0);
	assert_int_equal(slots_next(&t, 0), HEAP_SLOTS);
	assert_int_equal(slots_set(&t, 77, 0), 0);      /* clearing takes nothing */
	assert_int_equal(pages_out, 0);
	assert_int_equal(t.pages, 0);
	slots_free(&t);
	assert_int_equal(pages_out, 0);
}

static void test_heap_costs_what_it_touches(void **state)
{
	struct slots t;

	(void)state;
	assert_int_equal(slots_init(&t, HEAP_SLOTS), 0);
	assert_int_equal(slots_set(&t, 0, 0x1001), 0);
	assert_int_equal(pages_out, 2);                 /* the top table and one leaf */
	assert_int_equal(t.pages, 2);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(slots_set(&t, i, (i << 12) | 1), 0);
	assert_int_equal(pages_out, 3);                 /* 1000 slots: two leaves */
	assert_int_equal(slots_set(&t, HEAP_SLOTS - 1, 0x2002), 0);
	assert_int_equal(pages_out, 4);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(slots_get(&t, i), (i << 12) | 1);
	assert_int_equal(slots_get(&t, 1000), 0);
	assert_int_equal(slots_get(&t, HEAP_SLOTS - 1), 0x2002);
	assert_int_equal(slots_set(&t, HEAP_SLOTS, 1), -1);     /* past the capacity */
	assert_int_equal(slots_get(&t, HEAP_SLOTS), 0);
	slots_free(&t);
	assert_int_equal(pages_out, 0);
	assert_int_equal(t.pages, 0);
	assert_int_equal(slots_get(&t, 5), 0);
	assert_int_equal(slots_set(&t, 5, 7), 0);        /* usable again after a free */
	assert_int_equal(slots_get(&t, 5), 7);
	slots_free(&t);
	assert_int_equal(pages_out, 0);
}

static void test_sparse_64gib(void **state)
{
	uint64_t n = 64ULL << 30 >> 12;
	struct slots t;

	(void)state;
	assert_int_equal(slots_init(&t, n), 0);
	assert_int_equal(t.depth, 3);
	assert_int_equal(slots_set(&t, 0, 1), 0);
	assert_int_equal(slots_set(&t, n - 1, 2), 0);
	assert_int_equal(pages_out, 5);                 /* top, two middles, two leaves */
	assert_int_equal(slots_next(&t, 0), 0);
	assert_int_equal(slots_next(&t, 1), n - 1);
	assert_int_equal(slots_next(&t, n - 1), n - 1);
	assert_int_equal(slots_next(&t, n), n);
	assert_int_equal(slots_set(&t, n - 1, 0), 0);
	assert_int_equal(slots_next(&t, 1), n);
	slots_free(&t);
	assert_int_equal(pages_out, 0);
}

static void test_out_of_pages(void **state)
{
	struct slots t;

	(void)state;
	assert_int_equal(slots_init(&t, HEAP_SLOTS), 0);
	page_limit = 0;
	assert_int_equal(slots_set(&t, 3, 9), -1);
	assert_int_equal(slots_get(&t, 3), 0);
	page_limit = 1;                                 /* the top table, but no leaf */
	assert_int_equal(slots_set(&t, 3, 9), -1);
	assert_int_equal(slots_get(&t, 3), 0);
	assert_int_equal(slots_next(&t, 0), HEAP_SLOTS);
	page_limit = 2;
	assert_int_equal(slots_set(&t, 3, 9), 0);
	assert_int_equal(slots_get(&t, 3), 9);
	assert_int_equal(slots_set(&t, 4, 10), 0);      /* same leaf: no page needed */
	assert_int_equal(slots_set(&t, 600, 11), -1);   /* another leaf: none left */
	assert_int_equal(slots_get(&t, 600), 0);
	assert_int_equal(slots_get(&t, 4), 10);
	slots_free(&t);
	assert_int_equal(pages_out, 0);
}

static void test_trim(void **state)
{
	struct slots t;

	(void)state;
	assert_int_equal(slots_init(&t, HEAP_SLOTS), 0);
	for (uint64_t i = 0; i < 3000; i++)
		assert_int_equal(slots_set(&t, i, i + 1), 0);
	assert_int_equal(pages_out, 1 + 6);             /* 3000 slots: six leaves */
	for (uint64_t i = 1000; i < 3000; i++)
		assert_int_equal(slots_set(&t, i, 0), 0);
	slots_trim(&t, 1000);                           /* leaves from 1024 on go */
	assert_int_equal(pages_out, 1 + 2);
	assert_int_equal(t.pages, 3);
	for (uint64_t i = 0; i < 3000; i++)
		assert_int_equal(slots_get(&t, i), i < 1000 ? i + 1 : 0);
	assert_int_equal(slots_next(&t, 999), 999);
	assert_int_equal(slots_next(&t, 1000), HEAP_SLOTS);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(slots_set(&t, i, 0), 0);
	slots_trim(&t, 0);
	assert_int_equal(pages_out, 0);
	assert_null(t.root);
}

static void test_trim_deep(void **state)
{
	uint64_t n = 1ULL << 30;                        /* depth 4 */
	struct slots t;

	(void)state;
	assert_int_equal(slots_init(&t, n), 0);
	assert_int_equal(t.depth, 4);
	uint64_t at[] = { 5, 1ULL << 18, (1ULL << 27) + 3, n - 1 };
	for (int k = 0; k < 4; k++)
		assert_int_equal(slots_set(&t, at[k], k + 1), 0);
	uint64_t held = pages_out;
	/* the top; for slots 5 and 2^18 one level-3 table, two level-2, two leaves; 3 + 3 more */
	assert_int_equal(held, 1 + (1 + 2 + 2) + 3 + 3);
	assert_int_equal(slots_set(&t, at[2], 0), 0);
	assert_int_equal(slots_set(&t, at[3], 0), 0);
	slots_trim(&t, (1ULL << 27));
	assert_int_equal(pages_out, 1 + 5);             /* tables from slot 2^27 on are gone */
	assert_int_equal(slots_get(&t, at[0]), 1);
	assert_int_equal(slots_get(&t, at[1]), 2);
	assert_int_equal(slots_next(&t, 6), at[1]);
	assert_int_equal(slots_next(&t, at[1] + 1), n);
	slots_free(&t);
	assert_int_equal(pages_out, 0);
}

/* get/set/next/trim against a flat array, at random. */
static void test_random_against_flat(void **state)
{
	const uint64_t n = 5 * SLOTS_PER_TABLE * SLOTS_PER_TABLE / 3;   /* depth 3, a ragged end */
	uint64_t *flat = calloc(n, sizeof(uint64_t)), top = n;
	struct slots t;

	(void)state;
	assert_non_null(flat);
	assert_int_equal(slots_init(&t, n), 0);
	srand(12345);
	for (int round = 0; round < 200000; round++) {
		uint64_t i = ((uint64_t)rand() * RAND_MAX + rand()) % top;
		int op = rand() % 100;
		if (i % 7 == 0)
			i = i % 64 + (i & ~(uint64_t)511);      /* crowd some leaves */
		if (op < 60) {
			uint64_t v = op < 50 ? (i << 12) | 1 : 0;
			assert_int_equal(slots_set(&t, i, v), 0);
			flat[i] = v;
		} else if (op < 99) {
			uint64_t want = i;
			while (want < n && !flat[want])
				want++;
			assert_int_equal(slots_next(&t, i), want);
			assert_int_equal(slots_get(&t, i), flat[i]);
		} else {                                /* shrink to `i`, as sbrk does */
			for (uint64_t j = i; j < n; j++) {
				assert_int_equal(slots_set(&t, j, 0), 0);
				flat[j] = 0;
			}
			slots_trim(&t, i);
			top = i > 1000 ? i : n;         /* grow back at times */
		}
	}
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(slots_get(&t, i), flat[i]);
	assert_int_equal(t.pages, pages_out);
	slots_free(&t);
	assert_int_equal(pages_out, 0);
	free(flat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_depth, setup),
		cmocka_unit_test_setup(test_empty_costs_nothing, setup),
		cmocka_unit_test_setup(test_heap_costs_what_it_touches, setup),
		cmocka_unit_test_setup(test_sparse_64gib, setup),
		cmocka_unit_test_setup(test_out_of_pages, setup),
		cmocka_unit_test_setup(test_trim, setup),
		cmocka_unit_test_setup(test_trim_deep, setup),
		cmocka_unit_test_setup(test_random_against_flat, setup),
	};

	return cmocka_run_group_tests_name("slots", tests, NULL, NULL);
}
