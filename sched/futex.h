/*
 * Futexes for the whole cluster: a process waits until a 32-bit word
 * changes, and a process on any node wakes it. Waiters are listed in the
 * pool; a wake marks the waiter woken there and, for a waiter on another
 * node, sends that node MSG_FUTEX_WAKE.
 */
#ifndef SCHED_FUTEX_H
#define SCHED_FUTEX_H

#include <stdint.h>

/**
 * futex_attach_pool - take the pool's table of waiters (sched/waitq.h),
 * the only pointer to it
 * @table: pool.super->nfutex waiters, in the pool window
 * Context: boot, once, from pool_init() when the pool is attached.
 */
void futex_attach_pool(void *table);

/* Return: 0 when woken, -EAGAIN if *uaddr != expected, -ETIMEDOUT, -EINTR, -EFAULT. */
int futex_wait(uint64_t uaddr, uint32_t expected, uint64_t timeout_ns);

/* Return: how many waiters were woken (at most count), or -EFAULT/-EINVAL. */
int futex_wake(uint64_t uaddr, int count);

/* MSG_FUTEX_WAKE arrived for waiter slot i. Context: any. */
void futex_wake_local(uint32_t i);

/* Node n died: its waiters are gone. */
void futex_node_dead(int n);

#endif
