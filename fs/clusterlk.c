/*
 * Record locks of dmosfs files for the whole cluster (see clusterlk.h):
 * the kernel's side of the pool's lock table (fs/locktab.c keeps the
 * table). Every operation takes the table's lease, changes or reads the
 * table and lets go; nothing sleeps under the lease.
 *
 * A waiter is recorded in the table (so that a cycle of waits across nodes
 * is seen) and sleeps until the table's changes counter moves: a release
 * on its own node wakes it at once, one on another node is seen at its
 * next look, CLUSTERLK_POLL_MS later (nodes have no message for it); then
 * it tries again. A node's locks go when their owner closes a descriptor
 * of the file or exits (fs/file.c unlocks the whole file), and when the
 * node dies: every survivor drops them (clusterlk_node_dead), the first
 * one to get the lease does it.
 */
#include "kernel/kernel.h"
#include "kernel/cluster/cluster.h"
#include "kernel/cluster/lease.h"
#include "kernel/cluster/pool.h"
#include "fs/clusterlk.h"
#include "fs/locktab.h"
#include "sched/sched.h"
#include "arch/arch.h"

#define LEASE_WAIT_NS 2000000000ULL     /* a process waits this long for the lease */
#define DEAD_WAIT_NS  100000000ULL      /* the kernel thread, this long */

_Static_assert(LOCKTAB_PID_STRIDE == PID_NODE_STRIDE, "the table names a pid's node as sched/ does");
_Static_assert(POOL_NLOCKS <= LOCKTAB_MAX, "the pool's table is one locktab can handle");

static struct locktab tab;
static bool fresh = true;               /* an earlier incarnation's entries not yet dropped */
static uint64_t dead_pending;           /* dead nodes whose entries are still to drop */

void clusterlk_attach_pool(void *area)
{
	locktab_attach(&tab, area, pool.super->nlocks, self.id);
}

static bool alive(void *ctx, int node, uint64_t epoch)
{
	(void)ctx;
	return node_alive(node, epoch);
}

static uint64_t my_epoch(void)
{
	return __atomic_load_n(&pool.nodes[self.id].epoch, __ATOMIC_ACQUIRE);
}

/* Drop the entries nobody owns any more: ours of an earlier life, dead nodes'. */
static void tidy(void)
{
	uint32_t n;

	if (fresh) {
		fresh = false;
		if ((n = locktab_node_dead(&tab, self.id)))
			printk("node %d: fs: dropped %u record locks of this node's earlier life\n",
			       self.id, n);
	}
	while (dead_pending) {
		int d = __builtin_ctzll(dead_pending);

		dead_pending &= dead_pending - 1;
		if ((n = locktab_node_dead(&tab, d)))
			printk("node %d: fs: dropped %u record locks and waits of dead node %d\n",
			       self.id, n, d);
	}
}

/* Take the table's lease. Return: 0, or -ENOLCK (no table, or no lease in time). */
static int lock(uint64_t timeout_ns)
{
	int err;

	if (!tab.hdr || !tab.n || !pool.joined)
		return -ENOLCK;
	err = lease_acquire(pool_lease(POOL_LEASE_LOCKS), self.id, my_epoch(), alive, NULL,
			    timeout_ns);
	if (err < 0)
		return -ENOLCK;
	tidy();
	return 0;
}

static void unlock(void)
{
	lease_release(pool_lease(POOL_LEASE_LOCKS), self.id, my_epoch());
}

int clusterlk_getlk(struct vnode *vn, struct vfs_lock *lk)
{
	int err = lock(LEASE_WAIT_NS);

	if (err)
		return err;
	locktab_get(&tab, vn->ino, lk);
	unlock();
	return 0;
}

/*
 * Sleep until the table has changed since `seen`, or the process is
 * killed, looking every CLUSTERLK_POLL_MS. Checked with interrupts off:
 * a kill from another node comes in an interrupt, and must find us
 * asleep, not about to be.
 */
static void await_change(uint64_t seen)
{
	while (locktab_changes(&tab) == seen && pool.joined) {
		uint64_t flags = arch_irq_save();
		bool stop = proc_interrupted(current);

		if (!stop)
			sched_sleep(&tab, arch_time_ns() + CLUSTERLK_POLL_MS * 1000000ULL);
		arch_irq_restore(flags);
		if (stop)
			return;
	}
}

int clusterlk_setlk(struct vnode *vn, const struct vfs_lock *lk, bool wait)
{
	int err, blocker;

	/* unlocking what this node's processes do not hold: the table is not ours to look at */
	if (lk->type == DM_F_UNLCK && !tab.mine && !fresh && !dead_pending)
		return 0;
	for (;;) {
		uint64_t before, after;

		if ((err = lock(LEASE_WAIT_NS))) {
			if (lk->type == DM_F_UNLCK)     /* a close: its locks stay behind */
				printk("node %d: fs: pid %d's record locks on inode %lu stay: "
				       "the lock table's lease is busy\n", self.id, lk->pid,
				       (unsigned long)vn->ino);
			return err;
		}
		before = locktab_changes(&tab);
		err = locktab_set(&tab, vn->ino, lk, wait, &blocker);
		after = locktab_changes(&tab);
		unlock();
		if (after != before)
			sched_wakeup(&tab);     /* this node's waiters look again */
		if (err != -EAGAIN || !wait)
			return err;
		await_change(after);
		if (proc_interrupted(current) || !pool.joined)
			break;
	}
	/* killed while waiting: it waits no more */
	if (!lock(LEASE_WAIT_NS)) {
		locktab_unwait(&tab, lk->pid);
		unlock();
	}
	return proc_interrupted(current) ? -EINTR : -ENOLCK;
}

void clusterlk_node_dead(int n)
{
	if (!tab.hdr || n < 0 || n >= MAX_NODES || n == self.id)
		return;
	dead_pending |= 1ULL << n;
	if (!lock(DEAD_WAIT_NS)) {
		unlock();
		sched_wakeup(&tab);             /* what it held may be ours to have now */
	}
}
