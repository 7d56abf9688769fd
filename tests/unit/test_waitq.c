/*
 * Host unit tests for the futex waiter table (sched/waitq.c): listing,
 * waking by key, leaving, a dead node's slots, the ABA case (a wake that
 * read a slot's key must not land on the listing that took the slot over),
 * and threads that list, wake and leave on a table small enough that slots
 * are reused all the time: every wake a waker counts must be seen by a
 * waiter of that key, and by no other.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sched/waitq.h"

#define N 8

static struct waiter table[N];

static int setup(void **state)
{
	(void)state;
	memset(table, 0, sizeof(table));
	return 0;
}

static void wake_one(uint64_t key, int *slot)
{
	uint32_t seen;

	*slot = waitq_find(table, N, 0, key, &seen);
	assert_true(*slot >= 0);
	assert_true(waitq_wake(&table[*slot], seen));
}

static void test_wake_by_key(void **state)
{
	(void)state;
	int a = waitq_add(table, N, 0, 1, 0x100), b = waitq_add(table, N, 1, 2, 0x200), s;
	uint32_t seen;

	assert_true(a >= 0 && b >= 0 && a != b);
	assert_int_equal(waitq_find(table, N, 0, 0x300, &seen), -1);
	wake_one(0x200, &s);
	assert_int_equal(s, b);
	assert_true(waitq_woken(&table[b]));
	assert_false(waitq_woken(&table[a]));
	assert_int_equal(waitq_find(table, N, 0, 0x200, &seen), -1);       /* woken: not waiting */
	assert_true(waitq_remove(&table[b]));
	assert_false(waitq_remove(&table[a]));                           /* timed out */
	for (int i = 0; i < N; i++)
		assert_int_equal(WQ_STATE(table[i].word), WQ_FREE);
}

static void test_full(void **state)
{
	(void)state;
	for (int i = 0; i < N; i++)
		assert_int_equal(waitq_add(table, N, 0, i, 7), i);
	assert_int_equal(waitq_add(table, N, 0, 99, 7), -1);
	assert_false(waitq_remove(&table[3]));
	assert_int_equal(waitq_add(table, N, 0, 99, 7), 3);
}

/* The waker reads the slot (key K1), the K1 waiter times out and leaves, a
 * K2 waiter takes the same slot; the waker's wake must change nothing. */
static void test_aba(void **state)
{
	(void)state;
	uint32_t seen;
	int s1 = waitq_add(table, N, 0, 1, 0x111);

	assert_int_equal(waitq_find(table, N, 0, 0x111, &seen), s1);
	assert_false(waitq_remove(&table[s1]));                  /* K1 times out */
	int s2 = waitq_add(table, N, 0, 2, 0x222);
	assert_int_equal(s2, s1);                                /* same slot, new listing */
	assert_false(waitq_wake(&table[s1], seen));               /* the late wake for K1 */
	assert_false(waitq_woken(&table[s2]));
	assert_int_equal(WQ_STATE(table[s2].word), WQ_WAITING);
	/* and a wake that read it after the reuse does land */
	assert_int_equal(waitq_find(table, N, 0, 0x222, &seen), s2);
	assert_true(waitq_wake(&table[s2], seen));
	assert_true(waitq_remove(&table[s2]));
}

static void test_node_dead(void **state)
{
	(void)state;
	int a = waitq_add(table, N, 2, 1, 5), b = waitq_add(table, N, 3, 1, 5);
	uint32_t seen;

	waitq_node_dead(table, N, 2);
	assert_int_equal(WQ_STATE(table[a].word), WQ_FREE);
	assert_int_equal(waitq_find(table, N, 0, 5, &seen), b);
}

/* ---- threads ------------------------------------------------------------------ */

#define KEYS     4
#define WAITERS  8              /* two per key */
#define WAKERS   3
#define ROUNDS   1000

static struct waiter small[3];  /* fewer slots than waiters: constant reuse */
static uint64_t wakes[KEYS], seen_woken[KEYS];
static volatile int stop;

static void *waiter_main(void *arg)
{
	int k = (int)(intptr_t)arg % KEYS;

	for (int r = 0; r < ROUNDS; r++) {
		int i = waitq_add(small, 3, 0, (int)(intptr_t)arg, (uint64_t)k + 1);
		if (i < 0) {            /* every slot taken: this round waits its turn */
			sched_yield();
			r--;
			continue;
		}
		for (int spin = 0; spin < r % 4 && !waitq_woken(&small[i]); spin++)
			sched_yield();          /* let the wakers run; often leave unwoken */
		if (waitq_remove(&small[i]))
			__atomic_fetch_add(&seen_woken[k], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *waker_main(void *arg)
{
	unsigned r = (unsigned)(intptr_t)arg;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		r ^= r << 13, r ^= r >> 17, r ^= r << 5;        /* xorshift */
		int k = (int)(r % KEYS);
		uint32_t seen;
		for (int i = 0; (i = waitq_find(small, 3, (uint32_t)i, (uint64_t)k + 1, &seen)) >= 0; i++) {
			if (waitq_wake(&small[i], seen)) {
				__atomic_fetch_add(&wakes[k], 1, __ATOMIC_RELAXED);
				break;
			}
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t w[WAITERS], k[WAKERS];
	uint64_t total = 0;

	memset(small, 0, sizeof(small));
	for (int i = 0; i < WAITERS; i++)
		assert_int_equal(pthread_create(&w[i], NULL, waiter_main, (void *)(intptr_t)i), 0);
	for (int i = 0; i < WAKERS; i++)
		assert_int_equal(pthread_create(&k[i], NULL, waker_main, (void *)(intptr_t)(i + 1)), 0);
	for (int i = 0; i < WAITERS; i++)
		pthread_join(w[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < WAKERS; i++)
		pthread_join(k[i], NULL);
	for (int i = 0; i < KEYS; i++) {
		print_message("key %d: %lu wakes, %lu seen\n", i + 1, (unsigned long)wakes[i],
			      (unsigned long)seen_woken[i]);
		assert_int_equal(wakes[i], seen_woken[i]);
		total += wakes[i];
	}
	assert_true(total > 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(WQ_STATE(small[i].word), WQ_FREE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_wake_by_key, setup),
		cmocka_unit_test_setup(test_full, setup),
		cmocka_unit_test_setup(test_aba, setup),
		cmocka_unit_test_setup(test_node_dead, setup),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
