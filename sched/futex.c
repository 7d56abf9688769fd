/*
 * Cluster-wide futexes (see futex.h). A waiter's key names the word the
 * same way on every node: for a shared segment, (slot + 1) << 40 | offset;
 * for private memory, the node, pid and address, so it only ever matches
 * its own process. The waiter re-checks the word after it is listed, so a
 * wake between the caller's check and the wait is not lost. The table of
 * waiters in the pool is sched/waitq.c. A wake of a waiter on this node
 * switches to it on the waker's way back to user mode; a waiter on another
 * node gets MSG_FUTEX_WAKE, and re-checks its slot every FUTEX_RECHECK_MS
 * in case the message is lost.
 */
#include "kernel/kernel.h"
#include "kernel/cluster/cluster.h"
#include "sched/futex.h"
#include "sched/waitq.h"
#include "sched/sched.h"
#include "mm/seg.h"
#include "arch/arch.h"

#define FUTEX_RECHECK_MS 10        /* a waiter looks at its slot this often */
#define LOCAL_WAITERS    64        /* waiters of a node without a pool (private words only) */

_Static_assert(sizeof(struct waiter) == POOL_FUTEX_BYTES, "futex waiter size is pool format");

/* The wait table: the pool's, for the whole cluster; a node that has no
 * pool, or lost it, keeps one of its own (only private words are left). */
static struct waiter local_waiters[LOCAL_WAITERS];
static struct waiter *pool_waiters;

void futex_attach_pool(void *table)
{
	pool_waiters = table;
}

static struct waiter *w(uint32_t i)
{
	return (pool.joined ? pool_waiters : local_waiters) + i;
}

static uint32_t nwaiters(void)
{
	return pool.joined ? pool.super->nfutex : LOCAL_WAITERS;
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
	uint32_t val;
	bool in_pool = pool.joined;     /* which table we are listed in */
	int i, err = key_of(uaddr, &key);

	if (err)
		return err;
	if ((i = waitq_add(w(0), nwaiters(), self.id, current->pid, key)) < 0)
		return -EAGAIN;         /* no room to wait: the caller retries */

	if (copy_from_user(&current->vm, &val, uaddr, 4))
		err = -EFAULT;
	else if (val != expected)
		err = -EAGAIN;
	while (!err) {
		uint64_t now = arch_time_ns(), recheck = now + FUTEX_RECHECK_MS * 1000000ULL;
		uint64_t flags = arch_irq_save();
		if (in_pool && !pool.joined) {  /* we lost the pool and our slot with it */
			arch_irq_restore(flags);
			return -EINTR;
		}
		/* checked with interrupts off: a MSG_FUTEX_WAKE that arrives
		 * after this finds us asleep, not about to sleep */
		if (waitq_woken(w(i))) {
			arch_irq_restore(flags);
			break;
		}
		if (proc_interrupted(current))
			err = -EINTR;
		else if (until && now >= until)
			err = -ETIMEDOUT;
		else            /* a lost message costs at most FUTEX_RECHECK_MS */
			sched_sleep(w(i), until && until < recheck ? until : recheck);
		arch_irq_restore(flags);
	}
	if (waitq_remove(w(i)))
		err = 0;        /* woken, maybe while timing out: it counts as woken */
	return err;
}

int futex_wake(uint64_t uaddr, int count)
{
	uint64_t key;
	uint32_t seen;
	int i, woken = 0, local = 0, err = key_of(uaddr, &key);

	if (err)
		return err;
	if (count < 0)
		return -EINVAL;
	for (i = 0; woken < count && (i = waitq_find(w(0), nwaiters(), (uint32_t)i, key, &seen)) >= 0; i++) {
		if (!waitq_wake(w(i), seen))
			continue;       /* it left, or somebody else woke it */
		woken++;
		if ((int)w(i)->node == self.id) {
			sched_wakeup(w(i));
			local++;
		} else {
			struct msg m = { .type = MSG_FUTEX_WAKE };
			m.args[0] = (uint64_t)i;
			msg_send((int)w(i)->node, &m);  /* if it is lost, the waiter's re-check finds it woken */
		}
	}
	if (local)
		sched_switch_soon();
	return woken;
}

void futex_wake_local(uint32_t i)
{
	if (i < nwaiters())
		sched_wakeup(w(i));
}

void futex_node_dead(int n)
{
	waitq_node_dead(w(0), nwaiters(), n);
}
