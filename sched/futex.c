/*
 * Cluster-wide futexes (see futex.h). A waiter's key names the word the
 * same way on every node: for a shared segment, (slot + 1) << 40 | offset;
 * for private memory, the node, pid and address, so it only ever matches
 * its own process. The waiter re-checks the word after it is listed, so a
 * wake between the caller's check and the wait is not lost.
 */
#include "kernel/kernel.h"
#include "kernel/cluster.h"
#include "kernel/pool.h"
#include "sched/futex.h"
#include "sched/sched.h"
#include "mm/seg.h"
#include "arch/arch.h"

enum { W_FREE, W_CLAIMED, W_WAITING, W_WOKEN };

struct waiter {                 /* in the pool, POOL_FUTEX_BYTES */
	uint32_t state;
	uint32_t node;
	int32_t pid;
	uint32_t pad;
	uint64_t key;
	uint64_t pad2;
};

_Static_assert(sizeof(struct waiter) == POOL_FUTEX_BYTES, "futex waiter size is pool format");

static struct waiter *w(uint32_t i)
{
	return (struct waiter *)pool.futex + i;
}

static int key_of(uint64_t uaddr, uint64_t *key)
{
	if ((uaddr & 3) || vm_check(&current->vm, uaddr, 4, false))
		return -EFAULT;
	int slot = seg_slot_of(uaddr);
	if (slot >= 0)
		*key = ((uint64_t)(slot + 1) << 40) | (uaddr - SEG_BASE - (uint64_t)slot * SEG_SPAN);
	else
		*key = (1ULL << 63) | ((uint64_t)self.id << 56) |
		       ((uint64_t)(current->pid % PID_NODE_STRIDE) << 40) | (uaddr & ((1ULL << 40) - 1));
	return 0;
}

int futex_wait(uint64_t uaddr, uint32_t expected, uint64_t timeout_ns)
{
	uint64_t key, until = timeout_ns ? arch_time_ns() + timeout_ns : 0;
	uint32_t val, i, n = pool.joined ? pool.super->nfutex : 0;
	int err = key_of(uaddr, &key);

	if (err)
		return err;
	for (i = 0; i < n; i++) {
		uint32_t st = W_FREE;
		if (__atomic_compare_exchange_n(&w(i)->state, &st, W_CLAIMED, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	if (i == n)
		return -EAGAIN;         /* no room to wait: the caller retries */
	w(i)->node = self.id;
	w(i)->pid = current->pid;
	w(i)->key = key;
	__atomic_store_n(&w(i)->state, W_WAITING, __ATOMIC_RELEASE);
	arch_pool_flush(w(i), sizeof(struct waiter));

	if (copy_from_user(&current->vm, &val, uaddr, 4))
		err = -EFAULT;
	else if (val != expected)
		err = -EAGAIN;
	while (!err && __atomic_load_n(&w(i)->state, __ATOMIC_ACQUIRE) != W_WOKEN) {
		uint64_t now = arch_time_ns();
		if (current->killed)
			err = -EINTR;
		else if (until && now >= until)
			err = -ETIMEDOUT;
		else            /* a lost message costs at most one slice of waiting */
			sched_sleep(w(i), until ? MIN(until, now + 10000000) : now + 10000000);
	}
	if (err && __atomic_load_n(&w(i)->state, __ATOMIC_ACQUIRE) == W_WOKEN)
		err = 0;        /* woken while timing out: it counts as woken */
	__atomic_store_n(&w(i)->state, W_FREE, __ATOMIC_RELEASE);
	arch_pool_flush(w(i), sizeof(struct waiter));
	return err;
}

int futex_wake(uint64_t uaddr, int count)
{
	uint64_t key;
	int woken = 0, err = key_of(uaddr, &key);

	if (err)
		return err;
	if (count < 0)
		return -EINVAL;
	for (uint32_t i = 0; pool.joined && i < pool.super->nfutex && woken < count; i++) {
		uint32_t st = W_WAITING;
		if (__atomic_load_n(&w(i)->key, __ATOMIC_ACQUIRE) != key ||
		    !__atomic_compare_exchange_n(&w(i)->state, &st, W_WOKEN, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;
		arch_pool_flush(w(i), sizeof(struct waiter));
		woken++;
		if ((int)w(i)->node == self.id) {
			sched_wakeup(w(i));
		} else {
			struct msg m = { .type = MSG_FUTEX_WAKE };
			m.args[0] = i;
			msg_send((int)w(i)->node, &m);  /* if it is lost, the waiter's slice ends it */
		}
	}
	return woken;
}

void futex_wake_local(uint32_t i)
{
	if (pool.joined && i < pool.super->nfutex)
		sched_wakeup(w(i));
}

void futex_node_dead(int n)
{
	for (uint32_t i = 0; pool.joined && i < pool.super->nfutex; i++) {
		uint32_t st = __atomic_load_n(&w(i)->state, __ATOMIC_ACQUIRE);
		if (st != W_FREE && (int)w(i)->node == n)
			__atomic_compare_exchange_n(&w(i)->state, &st, W_FREE, false,
						    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
}
