/*
 * The cluster's futex waiters: a table in the pool (POOL_FUTEX_BYTES a
 * slot) where a process lists itself while it waits on a key, and where a
 * process on any node finds it and marks it woken. sched/futex.c keys the
 * words and sleeps; this is only the table, pool-resident code that runs
 * unchanged in host unit tests (tests/unit/test_waitq.c).
 *
 * A slot's state word carries a generation, bumped each time the slot is
 * claimed, so a wake that read a slot's key can only mark that same
 * listing woken, never one that took the slot over in between (ABA):
 *
 *   31                                2 1   0
 *   +-----------------------------------+-----+
 *   |            generation             |state|     state: WQ_FREE, WQ_CLAIMED,
 *   +-----------------------------------+-----+            WQ_WAITING, WQ_WOKEN
 *
 * A slot's life: FREE -claim-> CLAIMED (fields written) -publish-> WAITING
 * -wake-> WOKEN -remove-> FREE; remove from WAITING (timeout) also frees.
 */
#ifndef SCHED_WAITQ_H
#define SCHED_WAITQ_H

#include <stdbool.h>
#include <stdint.h>

enum { WQ_FREE, WQ_CLAIMED, WQ_WAITING, WQ_WOKEN };

#define WQ_STATE(word)  ((word) & 3u)

struct waiter {                 /* in the pool, POOL_FUTEX_BYTES */
	uint32_t word;          /* generation << 2 | state */
	uint32_t node;
	int32_t pid;
	uint32_t pad;
	uint64_t key;
	uint64_t pad2;
};

/**
 * waitq_add - list (node, pid) as waiting on key in one free slot of t[0..n)
 * Context: any; does not sleep. Return: the slot, or -1 if every slot is taken.
 */
int waitq_add(struct waiter *t, uint32_t n, int node, int pid, uint64_t key);

/**
 * waitq_find - the first slot from `from` on that waits on key
 * @seen: set to the slot's state word as read, for waitq_wake
 * Return: the slot, or -1 if there is none.
 */
int waitq_find(struct waiter *t, uint32_t n, uint32_t from, uint64_t key, uint32_t *seen);

/**
 * waitq_wake - mark the listing found by waitq_find woken
 * Return: true if it was still waiting and is now woken by us; false if it
 * was woken, removed or replaced since (nothing changed).
 */
bool waitq_wake(struct waiter *w, uint32_t seen);

bool waitq_woken(const struct waiter *w);

/* Free the slot of a listing. Return: true if it had been woken. */
bool waitq_remove(struct waiter *w);

/* Node `node` died: free its slots. Context: any node. */
void waitq_node_dead(struct waiter *t, uint32_t n, int node);

#endif
