/*
 * Host unit tests for leases (kernel/cluster/lease.c). A small node table stands in
 * for the pool's: the alive callback answers "up, and in this epoch" from
 * it, and tests kill nodes or bump epochs by writing it. Leases sit in a
 * shared memfd mapping; contending threads each map it at their own address.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "kernel/cluster/lease.h"
#include "kernel/errno.h"

#define SEC 1000000000ull
#define MS  1000000ull
#define NODES 8

struct table {
	bool up[NODES];
	uint64_t epoch[NODES];
};

static bool alive(void *ctx, int node, uint64_t epoch)
{
	struct table *t = ctx;

	return node >= 0 && node < NODES && __atomic_load_n(&t->up[node], __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&t->epoch[node], __ATOMIC_ACQUIRE) == epoch;
}

static void set_node(struct table *t, int node, bool up, uint64_t epoch)
{
	__atomic_store_n(&t->epoch[node], epoch, __ATOMIC_RELEASE);
	__atomic_store_n(&t->up[node], up, __ATOMIC_RELEASE);
}

static struct table all_up(void)
{
	struct table t;

	for (int i = 0; i < NODES; i++)
		t.up[i] = true, t.epoch[i] = 1;
	return t;
}

static uint64_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* The "pool": one fresh page of shared memory per test, seen through several mappings. */
static int pool_fd = -1;

static void *pool_view(void)
{
	void *v = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, pool_fd, 0);

	assert_true(v != MAP_FAILED);
	return v;
}

static int setup(void **state)
{
	pool_fd = memfd_create("pool", 0);
	if (pool_fd < 0 || ftruncate(pool_fd, 4096))
		return -1;
	*state = pool_view();
	return 0;
}

static int teardown(void **state)
{
	munmap(*state, 4096);
	close(pool_fd);
	return 0;
}

static void test_bad_args(void **state)
{
	struct lease *l = *state;
	struct table t = all_up();

	assert_int_equal(lease_acquire(NULL, 0, 1, alive, &t, 0), -EINVAL);
	assert_int_equal(lease_acquire(l, -1, 1, alive, &t, 0), -EINVAL);
	assert_int_equal(lease_acquire(l, LEASE_MAX_NODE + 1, 1, alive, &t, 0), -EINVAL);
	assert_int_equal(lease_acquire(l, 0, 1ull << 48, alive, &t, 0), -EINVAL);
	assert_int_equal(lease_release(NULL, 0, 1), -EINVAL);
	assert_int_equal(lease_release(l, -3, 1), -EINVAL);
	assert_int_equal(lease_break_all(NULL, 4, 1), -EINVAL);
	assert_int_equal(lease_break_all(l, 1, -1), -EINVAL);
	assert_int_equal(lease_break_all(NULL, 0, 1), 0);
	assert_false(lease_holder(NULL, NULL, NULL));
	assert_int_equal(l->word, LEASE_FREE);
}

static void test_basic(void **state)
{
	struct lease *l = *state;
	struct table t = all_up();
	uint64_t epoch = 0;
	int node = -1;

	assert_false(lease_holder(l, &node, &epoch));
	assert_int_equal(lease_acquire(l, 3, 7, alive, &t, 0), 0);
	assert_true(lease_holder(l, &node, &epoch));
	assert_int_equal(node, 3);
	assert_int_equal(epoch, 7);
	assert_int_equal(l->word, (4ull << 48) | 7);
	t.epoch[3] = 7;
	assert_int_equal(lease_acquire(l, 3, 7, alive, &t, SEC), -EBUSY);  /* already ours */
	assert_int_equal(lease_acquire(l, 2, 1, alive, &t, 0), -EBUSY);
	assert_int_equal(lease_release(l, 2, 1), -EPERM);                  /* not ours */
	assert_int_equal(lease_release(l, 3, 6), -EPERM);                  /* our old self */
	assert_true(lease_holder(l, &node, NULL));
	assert_int_equal(node, 3);
	assert_int_equal(lease_release(l, 3, 7), 0);
	assert_int_equal(lease_release(l, 3, 7), -EPERM);                  /* twice */
	assert_int_equal(l->word, LEASE_FREE);
	/* node 0, epoch 0 is a real holder, not "free" */
	assert_int_equal(lease_acquire(l, 0, 0, NULL, NULL, 0), 0);
	assert_int_not_equal(l->word, LEASE_FREE);
	assert_int_equal(lease_acquire(l, 1, 1, NULL, NULL, 0), -EBUSY);
	assert_int_equal(lease_release(l, 0, 0), 0);
}

/* Four nodes increment a plain, non-atomic counter in the pool under the lease. */
#define MX_THREADS 4
#define MX_ROUNDS 20000

struct mx {
	struct table *t;
	int node;
	int errors;
};

struct guarded {
	struct lease lease;
	uint64_t counter;       /* protected by lease, deliberately not atomic */
	int inside;             /* holders inside the critical section */
};

static void *mx_thread(void *arg)
{
	struct mx *m = arg;
	struct guarded *g = pool_view();

	for (int i = 0; i < MX_ROUNDS; i++) {
		volatile uint64_t *c = &g->counter;
		uint64_t v;

		if (lease_acquire(&g->lease, m->node, 1, alive, m->t, 10 * SEC) != 0) {
			m->errors++;
			continue;
		}
		if (__atomic_add_fetch(&g->inside, 1, __ATOMIC_RELAXED) != 1)
			m->errors++;
		v = *c;
		if ((i & 63) == 0)
			sched_yield();          /* hold it a while now and then */
		*c = v + 1;
		__atomic_sub_fetch(&g->inside, 1, __ATOMIC_RELAXED);
		if (lease_release(&g->lease, m->node, 1) != 0)
			m->errors++;
	}
	munmap(g, 4096);
	return NULL;
}

static void test_mutual_exclusion(void **state)
{
	struct guarded *g = *state;
	struct table t = all_up();
	struct mx m[MX_THREADS];
	pthread_t th[MX_THREADS];

	memset(g, 0, sizeof(*g));
	for (int i = 0; i < MX_THREADS; i++) {
		m[i] = (struct mx){ &t, i + 1, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, mx_thread, &m[i]), 0);
	}
	for (int i = 0; i < MX_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(m[i].errors, 0);
	}
	assert_int_equal(g->counter, (uint64_t)MX_THREADS * MX_ROUNDS);
	assert_int_equal(g->lease.word, LEASE_FREE);
}

/* A waiter blocked on a live holder gets the lease once the holder is declared dead. */
struct waiter {
	struct table *t;
	int node;
	int rc;
	bool done;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct lease *l = pool_view();

	w->rc = lease_acquire(l, w->node, w->t->epoch[w->node], alive, w->t, 10 * SEC);
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	munmap(l, 4096);
	return NULL;
}

static void test_dead_holder(void **state)
{
	struct lease *l = *state;
	struct table t = all_up();
	struct waiter w = { &t, 2, -999, false };
	pthread_t th;
	int node;

	assert_int_equal(lease_acquire(l, 1, 1, alive, &t, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
	usleep(100 * 1000);
	assert_false(__atomic_load_n(&w.done, __ATOMIC_ACQUIRE));  /* holder alive: waits */
	set_node(&t, 1, false, 1);                                  /* node 1 dies */
	pthread_join(th, NULL);
	assert_int_equal(w.rc, LEASE_TAKEN_OVER);
	assert_true(lease_holder(l, &node, NULL));
	assert_int_equal(node, 2);
	assert_int_equal(lease_release(l, 1, 1), -EPERM);   /* the dead one comes back */
	assert_int_equal(lease_release(l, 2, 1), 0);
}

static void test_old_epoch(void **state)
{
	struct lease *l = *state;
	struct table t = all_up();
	uint64_t epoch;
	int node;

	assert_int_equal(lease_acquire(l, 1, 1, alive, &t, 0), 0);
	assert_int_equal(lease_acquire(l, 3, 1, alive, &t, 0), -EBUSY);
	set_node(&t, 1, true, 2);                   /* node 1 rebooted and rejoined */
	assert_int_equal(lease_acquire(l, 3, 1, alive, &t, 0), LEASE_TAKEN_OVER);
	assert_int_equal(lease_release(l, 1, 1), -EPERM);
	assert_int_equal(lease_release(l, 3, 1), 0);

	/* the new incarnation breaks its own old self's lease */
	assert_int_equal(lease_acquire(l, 1, 1, NULL, NULL, 0), 0);
	assert_int_equal(lease_acquire(l, 1, 2, alive, &t, 0), LEASE_TAKEN_OVER);
	assert_true(lease_holder(l, &node, &epoch));
	assert_int_equal(node, 1);
	assert_int_equal(epoch, 2);
	assert_int_equal(lease_release(l, 1, 2), 0);
}

static void test_timeout(void **state)
{
	struct lease *l = *state;
	struct table t = all_up();
	uint64_t t0, dt;

	assert_int_equal(lease_acquire(l, 1, 1, alive, &t, 0), 0);
	t0 = now();
	assert_int_equal(lease_acquire(l, 2, 1, alive, &t, 50 * MS), -ETIMEDOUT);
	dt = now() - t0;
	assert_true(dt >= 50 * MS);
	assert_true(dt < 2 * SEC);
	/* without a judge nobody is ever broken, dead or not */
	set_node(&t, 1, false, 1);
	assert_int_equal(lease_acquire(l, 2, 1, NULL, NULL, 20 * MS), -ETIMEDOUT);
	assert_int_equal(lease_acquire(l, 2, 1, NULL, NULL, 0), -EBUSY);
	/* a huge timeout does not overflow into "already expired" */
	assert_int_equal(lease_acquire(l, 2, 1, alive, &t, UINT64_MAX), LEASE_TAKEN_OVER);
	assert_int_equal(lease_release(l, 2, 1), 0);
}

static void test_break_all(void **state)
{
	struct lease *ls = *state;
	struct table t = all_up();
	int node;

	memset(ls, 0, 8 * sizeof(*ls));
	assert_int_equal(lease_acquire(&ls[0], 2, 1, NULL, NULL, 0), 0);
	assert_int_equal(lease_acquire(&ls[1], 3, 1, NULL, NULL, 0), 0);
	assert_int_equal(lease_acquire(&ls[3], 2, 5, NULL, NULL, 0), 0);   /* an older epoch */
	assert_int_equal(lease_acquire(&ls[7], 1, 1, NULL, NULL, 0), 0);
	set_node(&t, 2, false, 1);
	assert_int_equal(lease_break_all(ls, 8, 2), 2);
	assert_int_equal(ls[0].word, LEASE_BROKEN);
	assert_int_equal(ls[3].word, LEASE_BROKEN);
	assert_false(lease_holder(&ls[0], NULL, NULL));
	assert_int_equal(ls[2].word, LEASE_FREE);
	assert_true(lease_holder(&ls[1], &node, NULL));
	assert_int_equal(node, 3);
	assert_true(lease_holder(&ls[7], &node, NULL));
	assert_int_equal(node, 1);
	assert_int_equal(lease_break_all(ls, 8, 2), 0);    /* nothing left to break */
	assert_int_equal(lease_release(&ls[0], 2, 1), -EPERM);
	/* the next taker is told the state may be half-updated */
	assert_int_equal(lease_acquire(&ls[0], 4, 1, alive, &t, 0), LEASE_TAKEN_OVER);
	assert_int_equal(lease_acquire(&ls[3], 4, 1, NULL, NULL, 0), LEASE_TAKEN_OVER);
	assert_int_equal(lease_release(&ls[0], 4, 1), 0);
	assert_int_equal(lease_acquire(&ls[0], 4, 1, NULL, NULL, 0), 0);  /* clean again */
	memset(ls, 0, 8 * sizeof(*ls));
}

/* A trampled word (no holder in it) does not wedge anybody. */
static void test_garbage(void **state)
{
	struct lease *l = *state;

	l->word = 0x0000123456789abcull;
	assert_false(lease_holder(l, NULL, NULL));
	assert_int_equal(lease_acquire(l, 5, 1, NULL, NULL, 0), LEASE_TAKEN_OVER);
	assert_int_equal(lease_release(l, 5, 1), 0);
	l->word = 0xffff000000000001ull;        /* broken marker with junk in it */
	assert_false(lease_holder(l, NULL, NULL));
	assert_int_equal(lease_acquire(l, 5, 1, NULL, NULL, 0), LEASE_TAKEN_OVER);
	assert_int_equal(lease_release(l, 5, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutual_exclusion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_break_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	};

	return cmocka_run_group_tests_name("lease", tests, NULL, NULL);
}
