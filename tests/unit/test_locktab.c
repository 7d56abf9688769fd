/*
 * Host unit tests of the cluster's table of record locks (fs/locktab.c):
 * conflicts, splits, merges and replaced types as fs/lockf.c has them (and
 * a random run against lockf.c's lists as the oracle), a full table that
 * changes nothing, waits recorded in the table and cycles of owners on
 * several nodes refused, the entries of a dead node dropped, the change
 * counter that waiters poll, and each node's count of its own entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/kernel.h"
#include "mm/mm.h"
#include "fs/locktab.h"
#include "fs/lockf.h"

/* fs/lockf.c, the oracle, allocates its ranges */
void *kmalloc(size_t n) { return malloc(n); }
void *kzalloc(size_t n) { return calloc(1, n); }
void kfree(void *p) { free(p); }

#define N 64                    /* entries of the test's table */
#define A 1000001               /* pids on nodes 1, 2 and 3 */
#define B 2000001
#define C 3000001
#define A2 1000002

static uint8_t area[LOCKTAB_HDR_BYTES + N * LOCKTAB_ENT_BYTES] __attribute__((aligned(64)));
static struct locktab t;

static int setup(void **state)
{
	(void)state;
	memset(area, 0, sizeof(area));
	locktab_attach(&t, area, N, 1);
	return 0;
}

static struct vfs_lock lk(int type, int pid, uint64_t start, uint64_t end)
{
	return (struct vfs_lock){ type, pid, start, end };
}

static int set(int type, int pid, uint64_t start, uint64_t end)
{
	struct vfs_lock l = lk(type, pid, start, end);
	int blocker = 0;

	return locktab_set(&t, 7, &l, false, &blocker);
}

/* Can pid have [start, end) as type on file 7? Return: 0, or the pid in the way. */
static int who_blocks(int type, int pid, uint64_t start, uint64_t end)
{
	struct vfs_lock l = lk(type, pid, start, end);

	locktab_get(&t, 7, &l);
	return l.type == DM_F_UNLCK ? 0 : l.pid;
}

static uint32_t used(void)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < t.n; i++)
		n += t.ent[i].kind != LT_FREE;
	return n;
}

static void test_conflicts_and_sharing(void **state)
{
	struct vfs_lock q;
	int blocker = 0;

	(void)state;
	assert_int_equal(set(DM_F_WRLCK, A, 0, 100), 0);
	q = lk(DM_F_WRLCK, B, 10, 11);
	assert_int_equal(locktab_set(&t, 7, &q, false, &blocker), -EAGAIN);
	assert_int_equal(blocker, A);
	q = lk(DM_F_WRLCK, B, 10, 11);
	assert_int_equal(locktab_set(&t, 8, &q, false, &blocker), 0);     /* another file */
	q = lk(DM_F_RDLCK, B, 50, VFS_LOCK_EOF);
	locktab_get(&t, 7, &q);
	assert_int_equal(q.type, DM_F_WRLCK);
	assert_int_equal(q.pid, A);
	assert_true(q.start == 0 && q.end == 100);
	assert_int_equal(who_blocks(DM_F_WRLCK, A, 0, 100), 0);            /* our own */
	assert_int_equal(who_blocks(DM_F_WRLCK, B, 100, VFS_LOCK_EOF), 0); /* past it */
	/* read locks share with read locks only */
	assert_int_equal(set(DM_F_RDLCK, A, 0, 100), 0);                   /* replaces the write lock */
	assert_int_equal(used(), 2);
	assert_int_equal(set(DM_F_RDLCK, B, 0, VFS_LOCK_EOF), 0);
	assert_int_equal(who_blocks(DM_F_WRLCK, C, 99, 100), A);
	assert_int_equal(set(DM_F_UNLCK, A, 0, VFS_LOCK_EOF), 0);
	assert_int_equal(who_blocks(DM_F_WRLCK, C, 99, 100), B);
	assert_int_equal(who_blocks(DM_F_RDLCK, C, 99, 100), 0);
	assert_int_equal(set(DM_F_UNLCK, B, 0, VFS_LOCK_EOF), 0);
	assert_int_equal(used(), 1);                                       /* file 8's */
}

static void test_split_merge_and_changes(void **state)
{
	uint64_t c0;

	(void)state;
	assert_int_equal(set(DM_F_WRLCK, A, 0, 100), 0);
	c0 = locktab_changes(&t);
	assert_int_equal(set(DM_F_WRLCK, A, 100, 200), 0);                 /* grows: nobody gains */
	assert_int_equal(locktab_changes(&t), c0);
	assert_int_equal(used(), 1);                                       /* merged into [0, 200) */
	assert_int_equal(set(DM_F_UNLCK, A, 40, 60), 0);                   /* a hole: split */
	assert_true(locktab_changes(&t) > c0);
	assert_int_equal(used(), 2);
	assert_int_equal(who_blocks(DM_F_WRLCK, B, 40, 60), 0);
	assert_int_equal(who_blocks(DM_F_WRLCK, B, 39, 40), A);
	assert_int_equal(who_blocks(DM_F_WRLCK, B, 60, 61), A);
	assert_int_equal(set(DM_F_WRLCK, A, 40, 60), 0);                   /* filled: one again */
	assert_int_equal(used(), 1);
	assert_int_equal(set(DM_F_RDLCK, A, 50, 150), 0);                  /* a read lock inside */
	assert_int_equal(used(), 3);
	assert_int_equal(who_blocks(DM_F_RDLCK, B, 50, 150), 0);
	assert_int_equal(who_blocks(DM_F_RDLCK, B, 49, 50), A);
	assert_int_equal(set(DM_F_UNLCK, A, 0, 0), 0);                     /* empty: nothing */
	assert_int_equal(used(), 3);
	assert_int_equal(t.mine, 3);                                       /* all node 1's */
	assert_int_equal(set(DM_F_UNLCK, A, 0, VFS_LOCK_EOF), 0);
	assert_int_equal(used(), 0);
	assert_int_equal(t.mine, 0);
}

static void test_a_full_table_changes_nothing(void **state)
{
	uint8_t before[sizeof(area)];

	(void)state;
	for (int i = 0; i < N; i++)             /* every entry: 3-byte locks with gaps */
		assert_int_equal(set(DM_F_WRLCK, A, 4 * (uint64_t)i, 4 * (uint64_t)i + 3), 0);
	assert_int_equal(used(), N);
	memcpy(before, area, sizeof(area));
	assert_int_equal(set(DM_F_WRLCK, A2, 1000, 1001), -ENOLCK);
	assert_int_equal(set(DM_F_UNLCK, A, 1, 2), -ENOLCK);               /* a split needs room */
	assert_memory_equal(before, area, sizeof(area));
	assert_int_equal(set(DM_F_UNLCK, A, 0, 1), 0);                     /* shrinking does not */
	assert_int_equal(set(DM_F_UNLCK, A, 0, 3), 0);                     /* a whole one goes */
	assert_int_equal(set(DM_F_WRLCK, A, 7, 8), 0);                     /* merges two: frees one */
	assert_int_equal(used(), N - 2);
	assert_int_equal(set(DM_F_UNLCK, A, 0, VFS_LOCK_EOF), 0);
	assert_int_equal(used(), 0);
}

static int wait_set(int type, int pid, uint64_t start, uint64_t end, int *blocker)
{
	struct vfs_lock l = lk(type, pid, start, end);

	return locktab_set(&t, 7, &l, true, blocker);
}

static void test_waits_and_deadlocks_across_nodes(void **state)
{
	int blocker = 0;

	(void)state;
	assert_int_equal(set(DM_F_WRLCK, A, 0, 1), 0);
	assert_int_equal(set(DM_F_WRLCK, B, 1, 2), 0);
	assert_int_equal(set(DM_F_WRLCK, C, 2, 3), 0);
	/* A waits for B, B for C: recorded in the table */
	assert_int_equal(wait_set(DM_F_WRLCK, A, 1, 2, &blocker), -EAGAIN);
	assert_int_equal(blocker, B);
	assert_int_equal(wait_set(DM_F_WRLCK, A, 1, 2, &blocker), -EAGAIN);  /* again: one record */
	assert_int_equal(wait_set(DM_F_RDLCK, B, 2, 3, &blocker), -EAGAIN);
	assert_int_equal(used(), 5);
	/* C waiting for A closes the cycle A -> B -> C -> A */
	assert_int_equal(wait_set(DM_F_WRLCK, C, 0, 1, &blocker), -EDEADLK);
	assert_int_equal(used(), 5);                                       /* nothing recorded */
	/* a wider range, in the way of A and B both: still a cycle */
	assert_int_equal(wait_set(DM_F_WRLCK, C, 0, VFS_LOCK_EOF, &blocker), -EDEADLK);
	/* without a wait, just busy */
	assert_int_equal(set(DM_F_WRLCK, C, 0, 1), -EAGAIN);
	/* B gives up waiting: no cycle any more */
	locktab_unwait(&t, B);
	assert_int_equal(wait_set(DM_F_WRLCK, C, 0, 1, &blocker), -EAGAIN);
	assert_int_equal(blocker, A);
	/* B now waiting for C would close C -> A -> B -> C */
	assert_int_equal(wait_set(DM_F_RDLCK, B, 2, 3, &blocker), -EDEADLK);
	/* A lets go of byte 0 (a process that unlocks waits for nothing: its
	   record goes), C gets it, and its record goes too */
	assert_int_equal(set(DM_F_UNLCK, A, 0, 1), 0);
	assert_int_equal(used(), 3);            /* B's range, C's range and wait */
	assert_int_equal(wait_set(DM_F_WRLCK, C, 0, 1, &blocker), 0);
	assert_int_equal(used(), 3);            /* B's range, C's two */
	/* waiting for an owner that waits for nobody: no cycle */
	assert_int_equal(wait_set(DM_F_WRLCK, B, 0, 1, &blocker), -EAGAIN);
	assert_int_equal(blocker, C);
	for (int pid = A; pid <= C; pid += 1000000)
		assert_int_equal(set(DM_F_UNLCK, pid, 0, VFS_LOCK_EOF), 0);
	assert_int_equal(used(), 0);            /* the unlock of a close drops the waits too */
}

static void test_the_room_for_waiters_is_bounded(void **state)
{
	int blocker = 0;
	uint8_t big[LOCKTAB_HDR_BYTES + 400 * LOCKTAB_ENT_BYTES] __attribute__((aligned(64)));

	(void)state;
	memset(big, 0, sizeof(big));
	locktab_attach(&t, big, 400, 1);
	assert_int_equal(set(DM_F_WRLCK, A, 0, 1), 0);
	for (int i = 0; i < LOCKTAB_WAITERS; i++)
		assert_int_equal(wait_set(DM_F_WRLCK, 2000000 + i, 0, 1, &blocker), -EAGAIN);
	assert_int_equal(wait_set(DM_F_WRLCK, 3000000, 0, 1, &blocker), -ENOLCK);
	assert_int_equal(wait_set(DM_F_WRLCK, 3000000, 5, 6, &blocker), 0);   /* no wait needed */
	assert_int_equal(locktab_node_dead(&t, 2), LOCKTAB_WAITERS);
	assert_int_equal(wait_set(DM_F_WRLCK, 3000000, 0, 1, &blocker), -EAGAIN);
	locktab_attach(&t, area, N, 1);
}

static void test_a_dead_nodes_entries_go(void **state)
{
	int blocker = 0;
	uint64_t c0;

	(void)state;
	assert_int_equal(set(DM_F_WRLCK, A, 0, 10), 0);
	assert_int_equal(set(DM_F_RDLCK, B, 20, 30), 0);
	assert_int_equal(set(DM_F_RDLCK, B + 1, 20, 30), 0);
	assert_int_equal(wait_set(DM_F_WRLCK, B + 2, 0, 1, &blocker), -EAGAIN);
	assert_int_equal(wait_set(DM_F_WRLCK, C, 25, 26, &blocker), -EAGAIN);
	assert_int_equal(t.mine, 1);            /* node 1's: A's range */
	c0 = locktab_changes(&t);
	assert_int_equal(locktab_node_dead(&t, 2), 3);
	assert_true(locktab_changes(&t) > c0);  /* C's wait may go on */
	assert_int_equal(wait_set(DM_F_WRLCK, C, 25, 26, &blocker), 0);
	assert_int_equal(locktab_node_dead(&t, 2), 0);
	c0 = locktab_changes(&t);
	assert_int_equal(locktab_node_dead(&t, 4), 0);
	assert_int_equal(locktab_changes(&t), c0);
	/* an earlier life of this node: its entries go, and it owns none */
	assert_int_equal(locktab_node_dead(&t, 1), 1);
	assert_int_equal(t.mine, 0);
	assert_int_equal(who_blocks(DM_F_WRLCK, B, 0, 10), 0);
	assert_int_equal(used(), 1);
	assert_true(locktab_ent_sound(t.ent[0].kind, t.ent[0].start, t.ent[0].end, t.ent[0].pid, 4) &&
		    locktab_ent_sound(LT_FREE, 9, 1, -1, 4) &&
		    !locktab_ent_sound(LT_WRITE, 0, 1, 4000000, 4) &&
		    !locktab_ent_sound(LT_WRITE, 1, 1, 1, 4) && !locktab_ent_sound(5, 0, 1, 1, 4));
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random locks of four owners on one file: the table answers as lockf.c's lists do. */
static void test_the_table_agrees_with_lockf(void **state)
{
	static const int pids[] = { A, A2, B, C };
	struct lockf lf = { NULL };
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	(void)state;
	for (int i = 0; i < 4000; i++) {
		int pid = pids[rnd(&s) % 4], type = (int)(rnd(&s) % 3), b1 = 0, b2 = 0;
		uint64_t start = rnd(&s) % 40, end = rnd(&s) % 8 ? start + 1 + rnd(&s) % 12 : VFS_LOCK_EOF;
		struct vfs_lock l = lk(type, pid, start, end), q1, q2;
		int r1 = lockf_set(&lf, &l, &b1), r2 = locktab_set(&t, 7, &l, false, &b2);

		if (r2 == -ENOLCK) {            /* the table is smaller than memory: start afresh */
			for (int p = 0; p < 4; p++) {
				lockf_release(&lf, pids[p]);
				assert_int_equal(set(DM_F_UNLCK, pids[p], 0, VFS_LOCK_EOF), 0);
			}
			continue;
		}
		assert_int_equal(r1, r2);
		for (uint64_t at = 0; at < 56; at++) {
			int who = pids[rnd(&s) % 4], ty = (int)(rnd(&s) % 2);

			q1 = q2 = lk(ty, who, at, at + 1);
			lockf_get(&lf, &q1);
			locktab_get(&t, 7, &q2);
			assert_int_equal(q1.type == DM_F_UNLCK, q2.type == DM_F_UNLCK);
		}
	}
	lockf_free(&lf);
	for (int p = 0; p < 4; p++)
		assert_int_equal(set(DM_F_UNLCK, pids[p], 0, VFS_LOCK_EOF), 0);
	assert_int_equal(used(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_conflicts_and_sharing, setup),
		cmocka_unit_test_setup(test_split_merge_and_changes, setup),
		cmocka_unit_test_setup(test_a_full_table_changes_nothing, setup),
		cmocka_unit_test_setup(test_waits_and_deadlocks_across_nodes, setup),
		cmocka_unit_test_setup(test_the_room_for_waiters_is_bounded, setup),
		cmocka_unit_test_setup(test_a_dead_nodes_entries_go, setup),
		cmocka_unit_test_setup(test_the_table_agrees_with_lockf, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
