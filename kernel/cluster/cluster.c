/*
 * Membership and liveness. A node is a member once it has joined (epoch
 * > 0). Every node watches the others' heartbeats; one that has not moved
 * for dead_after_ms (from the superblock), or that marked itself halted, is
 * declared dead: its node-table state goes to dead with one CAS, and every
 * survivor that notices takes back pool pages and leases the dead node held
 * (palloc_reclaim frees each page exactly once, whoever runs it) and prints
 * one line saying so.
 */
#include "kernel/kernel.h"
#include "kernel/cluster/cluster.h"
#include "kernel/cluster/pool.h"
#include "kernel/cluster/lease.h"
#include "mm/palloc.h"
#include "mm/seg.h"
#include "fs/dmosfs.h"
#include "mm/loss.h"
#include "sched/futex.h"
#include "sched/remote.h"
#include "net/vip.h"
#include "arch/arch.h"

static struct watch {
	uint64_t beat;                  /* heartbeat last seen */
	uint64_t since_ns;              /* when it last moved, by our clock */
	uint64_t epoch;                 /* incarnation we watched */
	bool gone;                      /* we already dealt with its death */
} watch[MAX_NODES];

bool node_alive(int n, uint64_t epoch)
{
	if (n < 0 || n >= MAX_NODES || !pool.nodes)
		return false;
	return __atomic_load_n(&pool.nodes[n].state, __ATOMIC_ACQUIRE) == NODE_UP &&
	       __atomic_load_n(&pool.nodes[n].epoch, __ATOMIC_ACQUIRE) == epoch;
}

/*
 * Write "0,1,2" for the nodes that have joined (joined == true) or the
 * expected ones that have not (joined == false). A node that joined and
 * then halted still counts as joined: the membership line is about who
 * came up, and a node that halts right after its own line must not leave
 * the others waiting.
 */
static int list_nodes(char *buf, size_t n, bool joined)
{
	int len = 0, count = 0;

	buf[0] = 0;
	for (int i = 0; i < MAX_NODES; i++) {
		uint32_t st = __atomic_load_n(&pool.nodes[i].state, __ATOMIC_ACQUIRE);
		bool in = st >= NODE_UP && __atomic_load_n(&pool.nodes[i].epoch, __ATOMIC_ACQUIRE);
		if (in != joined || (!joined && i >= self.nodes))
			continue;
		if ((size_t)len < n)
			len += snprintf(buf + len, n - len, count ? ",%d" : "%d", i);
		count++;
	}
	return count;
}

void cluster_wait(void)
{
	char buf[256];
	uint64_t last = arch_time_ns();

	for (;;) {
		int missing = list_nodes(buf, sizeof(buf), false);
		if (!missing)
			break;
		if (arch_time_ns() - last >= JOIN_REPORT_MS * 1000000ULL) {
			printk("node %d: waiting for nodes %s (%d of %d up)\n",
			       self.id, buf, self.nodes - missing, self.nodes);
			last = arch_time_ns();
		}
		arch_idle();
	}
	list_nodes(buf, sizeof(buf), true);
	printk("node %d: cluster up: nodes %s\n", self.id, buf);
}

/* Take back what node n held; print what happened and why. */
static void bury(int n, const char *why)
{
	volatile struct pool_node *e = &pool.nodes[n];
	uint64_t pages = palloc_reclaim(pool.palloc, n);
	int leases = 0;

	for (uint32_t i = 0; i < pool.super->nleases; i++)
		leases += lease_break_all(pool_lease(i), 1, n) == 1;

	seg_node_dead(n);
	dmosfs_node_dead(n);
	futex_node_dead(n);
	vip_node_dead(n, watch[n].epoch);
	__atomic_add_fetch(&e->reclaimed, pages, __ATOMIC_ACQ_REL);
	arch_pool_flush(e, sizeof(*e));
	uint32_t by;
	uint64_t t = arch_time_ns();
	while (!(by = __atomic_load_n(&e->dead_by, __ATOMIC_ACQUIRE)) && arch_time_ns() - t < 100000000)
		arch_cpu_relax();       /* the declarer sets dead_by right after its CAS */
	if (by == (uint32_t)self.id + 1)
		printk("node %d: node %d declared dead (%s); took back %lu pool pages and %d leases\n",
		       self.id, n, why, pages, leases);
	else
		printk("node %d: node %d is dead (declared by node %u); took back %lu pool pages and %d leases\n",
		       self.id, n, by - 1, pages, leases);
	watch[n].gone = true;
}

void cluster_poll(void)
{
	static uint64_t last_ns;
	uint64_t now = arch_time_ns();

	loss_work();            /* a region failure the tick noticed */
	if (!pool.joined || now - last_ns < LIVENESS_MS * 1000000ULL)
		return;
	last_ns = now;
	proc_publish();
	uint64_t limit = (uint64_t)pool.super->dead_after_ms * 1000000ULL;
	for (int n = 0; n < self.nodes; n++) {
		volatile struct pool_node *e = &pool.nodes[n];
		uint32_t st = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
		uint64_t epoch = __atomic_load_n(&e->epoch, __ATOMIC_ACQUIRE);
		uint64_t beat = __atomic_load_n(&e->heartbeat, __ATOMIC_ACQUIRE);
		struct watch *w = &watch[n];

		if (n == self.id || st == NODE_ABSENT || st == NODE_JOINING)
			continue;
		if (epoch != w->epoch) {        /* a new incarnation: watch it afresh */
			*w = (struct watch){ beat, now, epoch, false };
			if (st == NODE_UP)
				continue;
		}
		if (st == NODE_DEAD) {
			if (!w->gone)
				bury(n, "");
			continue;
		}
		if (beat != w->beat) {
			w->beat = beat;
			w->since_ns = now;
			continue;
		}
		if (st == NODE_UP && now - w->since_ns < limit)
			continue;
		/* stopped beating, or halted: one of us wins the CAS and says so */
		uint32_t want = st;
		if (__atomic_compare_exchange_n(&e->state, &want, NODE_DEAD, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			char why[48];
			__atomic_store_n(&e->dead_by, (uint32_t)self.id + 1, __ATOMIC_RELEASE);
			arch_pool_flush(e, sizeof(*e));
			if (st == NODE_UP)
				snprintf(why, sizeof(why), "no heartbeat for %lu ms", (now - w->since_ns) / 1000000);
			else
				snprintf(why, sizeof(why), "it halted");
			bury(n, why);
		}
	}
}
