/*
 * The kernel monitor: a line-based command interpreter on the node's
 * serial console, for people at `dmos console N` and for the cluster tests.
 * Until there is a userland it is how one drives the pool from inside a
 * node: allocate and free pool pages, drain regions, ping other nodes,
 * time things. Every command ends with one line `node N: <cmd>: ...`.
 */
#include "kernel/kernel.h"
#include "kernel/bench.h"
#include "kernel/cluster/cluster.h"
#include "kernel/cluster/doorbell.h"
#include "kernel/cluster/pool.h"
#include "kernel/console.h"
#include "kernel/initrd.h"
#include "sched/sched.h"
#include "sched/remote.h"
#include "kernel/cluster/lease.h"
#include "mm/mm.h"
#include "mm/palloc.h"
#include "mm/pmem.h"
#include "mm/xlate.h"
#include "arch/arch.h"

#define MAX_HELD 65536
#define MONITOR_PID ((uint32_t)proc_table()[0].pid)  /* owner recorded for the monitor's pages: the kernel thread */

static int64_t *held;                   /* pool pages the monitor holds */
static uint64_t nheld;
static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t stamp(uint64_t ppn) { return ((uint64_t)self.id << 48) ^ ppn ^ 0x5a5a000000000000ULL; }

static int hold_one(void)
{
	int64_t ppn = pmem_alloc(MONITOR_PID);

	if (ppn < 0)
		return (int)ppn;
	uint64_t *p = pmem_page(ppn);
	p[0] = p[511] = stamp(ppn);
	held[nheld++] = ppn;
	return 0;
}

/* Free held[i] after checking its stamp. Return: 0, or -EIO when the data is wrong. */
static int drop(uint64_t i)
{
	int64_t ppn = held[i];
	uint64_t *p = pmem_page(ppn);
	int err = (p[0] != stamp(ppn) || p[511] != stamp(ppn)) ? -EIO : 0;

	if (err)
		printk("node %d: pool page %ld lost its data: %lx %lx\n", self.id, ppn, p[0], p[511]);
	if (pmem_free(ppn))
		err = -EINVAL;
	held[i] = held[--nheld];
	return err;
}

static void cmd_nodes(void)
{
	for (int n = 0; n < self.nodes; n++) {
		volatile struct pool_node *e = &pool.nodes[n];
		printk("  node %d: %-7s epoch %lu heartbeat %lu local %lu MiB doorbell %d%s\n", n,
		       node_state_name(e->state), e->epoch, e->heartbeat, e->local_mem >> 20,
		       e->doorbell, n == self.id ? " (this node)" : "");
	}
	printk("node %d: nodes: %d\n", self.id, self.nodes);
}

static void cmd_pool(void)
{
	static struct palloc_stats ps;
	struct xlate_stats xs;

	palloc_stats(pool.palloc->meta, &ps);
	xlate_stats(pool.xlate, &xs);
	for (int n = 0; n < self.nodes; n++)
		printk("  node %d uses %lu pool pages in %lu chunks\n", n, ps.used_by_node[n],
		       ps.chunks_owned_by_node[n]);
	printk("  translation: %lu entries of %lu pages, %lu bytes of table, %lu moves (%lu pages)\n",
	       xs.entries, xs.block_pages, xs.table_bytes, xs.moves, xs.pages_moved);
	printk("node %d: pool: %lu pages, %lu free, %lu reserved, %lu held here, %lu inconsistent\n",
	       self.id, ps.npages, ps.free, ps.reserved, nheld, palloc_check(pool.palloc->meta));
}

static void cmd_regions(void)
{
	uint64_t rp = pool.super->region_pages, n = (pool.super->npages + rp - 1) / rp;
	static const char *const names[] = { "online", "draining", "offline", "failed" };

	for (uint64_t r = 0; r < n; r++) {
		int st = xlate_region_state(pool.xlate, r);
		printk("  region %lu: %s\n", r, st >= 0 && st < 4 ? names[st] : "?");
	}
	printk("node %d: regions: %lu of %lu MiB\n", self.id, n, (rp << PAGE_SHIFT) >> 20);
}

static void cmd_ping(const char *arg, long count)
{
	int from = 0, to = self.nodes - 1;

	if (strcmp(arg, "all")) {
		long n = 0;
		for (const char *p = arg; *p >= '0' && *p <= '9'; p++)
			n = n * 10 + (*p - '0');
		from = to = (int)n;
	}
	if (count < 1 || count > 100000 || from < 0 || to >= self.nodes) {
		printk("node %d: ping: usage: ping NODE|all [COUNT 1..100000]\n", self.id);
		return;
	}
	int ok = 0, failed = 0;
	for (int n = from; n <= to; n++) {
		uint64_t min = UINT64_MAX, max = 0, sum = 0;
		int err = 0;
		if (n == self.id)
			continue;
		for (long i = 0; i < count && !err; i++) {
			struct msg req = { .type = MSG_PING }, rep;
			uint64_t t = arch_time_ns();
			req.args[0] = t;
			err = msg_call(n, &req, &rep, MSG_TIMEOUT_MS);
			if (!err && (rep.type != MSG_PONG || rep.args[0] != t))
				err = -EIO;
			t = arch_time_ns() - t;
			min = MIN(min, t);
			max = MAX(max, t);
			sum += t;
		}
		if (err) {
			printk("  node %d -> %d: failed (%d)\n", self.id, n, err);
			failed++;
		} else {
			printk("  node %d -> %d: %ld round trips, min %lu us, avg %lu us, max %lu us\n",
			       self.id, n, count, min / 1000, sum / count / 1000, max / 1000);
			ok++;
		}
	}
	printk("node %d: ping: %d ok, %d failed (doorbell %s)\n", self.id, ok, failed,
	       pool.doorbell >= 0 ? "on" : "off");
}

static void cmd_hold(long n)
{
	long got = 0;
	int err = 0;

	while (got < n && nheld < MAX_HELD && !(err = hold_one()))
		got++;
	printk("node %d: hold: %ld pool pages taken, %lu held%s\n", self.id, got, nheld,
	       err == -ENOMEM ? " (pool full)" : "");
}

static void cmd_release(void)
{
	uint64_t n = nheld;
	int bad = 0;

	while (nheld)
		bad += drop(nheld - 1) != 0;
	printk("node %d: release: %lu pool pages freed, %d bad\n", self.id, n, bad);
}

/* Random allocs and frees for secs seconds, every page's data checked. */
static void cmd_stress(long secs, long max)
{
	uint64_t end = arch_time_ns() + (uint64_t)secs * 1000000000ULL, allocs = 0, frees = 0;
	int bad = 0, full = 0;

	if (secs < 1 || secs > 3600 || max < 1 || max > MAX_HELD) {
		printk("node %d: stress: usage: stress SECONDS [MAXPAGES]\n", self.id);
		return;
	}
	while (arch_time_ns() < end && pool.joined) {
		if (nheld < (uint64_t)max && (rnd() & 1 || !nheld)) {
			int err = hold_one();
			full += err == -ENOMEM;
			allocs += !err;
		} else if (nheld) {
			bad += drop(rnd() % nheld) != 0;
			frees++;
		}
		if ((allocs + frees) % 64 == 0)
			cluster_poll();
	}
	while (nheld) {
		bad += drop(nheld - 1) != 0;
		frees++;
	}
	printk("node %d: stress: %lu allocs, %lu frees, %d bad, %d times full\n",
	       self.id, allocs, frees, bad, full);
}

static void cmd_drain(long region)
{
	uint64_t t = arch_time_ns();
	int err = pmem_drain(region);

	printk("node %d: drain: region %ld %s in %lu ms (%d)\n", self.id, region,
	       err ? "NOT drained" : "offline", (arch_time_ns() - t) / 1000000, err);
}

static void cmd_online(long region)
{
	/* A failed region stays failed: processes that held memory there may
	 * not have dropped it yet, and would read its wiped frames as theirs. */
	if (region >= 0 && xlate_region_state(pool.xlate, (uint32_t)region) == XLATE_FAILED) {
		printk("node %d: online: region %ld has failed; it stays out of use\n", self.id, region);
		return;
	}
	int err = xlate_set_region_state(pool.xlate, region, XLATE_ONLINE);

	printk("node %d: online: region %ld %s\n", self.id, region, err ? "refused" : "online");
}

/* Wipe device frames [dfn, dfn + pages): what a failed DIMM leaves. */
static void wipe(void *ctx, uint64_t dfn, uint64_t pages)
{
	(void)ctx;
	memset(pool.frames + (dfn << PAGE_SHIFT), 0xDE, pages << PAGE_SHIFT);
	arch_pool_flush(pool.frames + (dfn << PAGE_SHIFT), pages << PAGE_SHIFT);
}

/* fail REGION: play the pool controller losing a region (tools/dmos fail-region does it from the host). */
static void cmd_fail(long region)
{
	int err = region < 0 ? -EINVAL : xlate_fail_region(pool.xlate, (uint32_t)region, wipe, NULL);

	printk("node %d: fail: region %ld %s\n", self.id, region,
	       !err ? "failed" : err == -EALREADY ? "had failed already" : "refused");
}

void monitor_lost(uint64_t after, uint64_t upto)
{
	uint64_t lost = 0;

	if (after == VM_LOST_LINK) {    /* all of them; the survivors take them back */
		lost = nheld;
		nheld = 0;
	}
	for (uint64_t i = 0; i < nheld;) {
		uint32_t r;
		if (!xlate_lost(pool.xlate, held[i], after, upto, &r)) {
			i++;
			continue;
		}
		xlate_count_loss(pool.xlate, r, 0, 1, 0);
		pmem_free(held[i]);
		held[i] = held[--nheld];
		lost++;
	}
	if (lost)
		printk("node %d: monitor: %lu held pool pages lost %s\n", self.id, lost,
		       after == VM_LOST_LINK ? "with the pool link" : "in failed regions");
}

static bool alive(void *ctx, int node, uint64_t epoch)
{
	(void)ctx;
	return node_alive(node, epoch);
}

/* lock L [SECS]: take lease L (waiting up to SECS); unlock L: give it back. */
static void cmd_lock(long l, long secs, bool take)
{
	uint64_t epoch = pool.nodes[self.id].epoch;
	struct lease *lease = pool_lease(l);
	int err;

	if (l < 0 || l >= (long)pool.super->nleases || secs < 0) {
		printk("node %d: lock: usage: lock LEASE [SECONDS] | unlock LEASE (LEASE < %u)\n",
		       self.id, pool.super->nleases);
		return;
	}
	if (!take) {
		err = lease_release(lease, self.id, epoch);
		printk("node %d: unlock: lease %ld %s\n", self.id, l, err ? "was not ours" : "released");
		return;
	}
	uint64_t t0 = arch_time_ns();
	do {                            /* wait in slices so the cluster is watched meanwhile */
		cluster_poll();
		err = lease_acquire(lease, self.id, epoch, alive, NULL, 100000000ULL);
	} while (err == -ETIMEDOUT && pool.joined &&
		 arch_time_ns() - t0 < (uint64_t)secs * 1000000000ULL);
	if (err == LEASE_TAKEN_OVER)
		printk("node %d: lock: lease %ld taken over from a dead holder after %lu ms\n",
		       self.id, l, (arch_time_ns() - t0) / 1000000);
	else if (err == 0)
		printk("node %d: lock: lease %ld taken\n", self.id, l);
	else
		printk("node %d: lock: lease %ld busy (%d)\n", self.id, l, err);
}

/* run PROG ARGS: start a program and wait for it; spawn: do not wait. */
static void cmd_run(char **w, int n, bool wait, int node)
{
	int status = 0;
	int pid = proc_spawn_on(node, w[0], w, n);

	if (pid < 0) {
		printk("node %d: %s: %s: cannot start (%d)\n", self.id, wait ? "run" : "spawn", w[0], pid);
		return;
	}
	if (!wait) {
		printk("node %d: spawn: %s is pid %d\n", self.id, w[0], pid);
		return;
	}
	proc_wait(pid, &status);
	if (status & 0x7f)
		printk("node %d: run: %s (pid %d) killed by signal %d\n", self.id, w[0], pid, status & 0x7f);
	else
		printk("node %d: run: %s (pid %d) exited with status %d\n", self.id, w[0], pid,
		       (status >> 8) & 0xff);
}

static void cmd_ps(void)
{
	static const char *const states[] = { "free", "ready", "running", "sleeping", "zombie" };
	struct proc *t = proc_table();
	int n = 0;

	for (int i = 0; i < MAX_PROCS; i++) {
		if (t[i].state == P_FREE)
			continue;
		n++;
		printk("  %8d %8d %-8s %6lu local %6lu pool  %s\n", t[i].pid, t[i].ppid,
		       states[t[i].state], t[i].vm.local_pages, t[i].vm.pool_pages, t[i].name);
	}
	printk("node %d: ps: %d processes\n", self.id, n);
}

static void list_program(const char *name, uint64_t len)
{
	printk("  %-16s %lu bytes\n", name, len);
}

/* Split a line into words; Return: how many. */
static int words(char *s, char **w, int max)
{
	int n = 0;

	while (*s && n < max) {
		while (*s == ' ')
			*s++ = 0;
		if (*s)
			w[n++] = s;
		while (*s && *s != ' ')
			s++;
	}
	return n;
}

static long num(const char *s, long dflt)
{
	long v = 0;

	if (!s)
		return dflt;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static void run(char *line)
{
	char *w[16] = { 0 };
	int n = words(line, w, 15);

	if (!n)
		return;
	if (!strcmp(w[0], "run") || !strcmp(w[0], "spawn")) {
		if (n < 2)
			printk("node %d: %s: usage: %s PROGRAM [ARGS]\n", self.id, w[0], w[0]);
		else
			cmd_run(w + 1, n - 1, w[0][0] == 'r', self.id);
	} else if (!strcmp(w[0], "runon") && n >= 3) {
		cmd_run(w + 2, n - 2, true, strcmp(w[1], "any") ? (int)num(w[1], -2) : -1);
	} else if (!strcmp(w[0], "ps")) {
		cmd_ps();
	} else if (!strcmp(w[0], "programs")) {
		initrd_each(list_program);
		printk("node %d: programs\n", self.id);
	} else if (!pool.joined && strcmp(w[0], "help")) {
		printk("node %d: %s: this node has no pool\n", self.id, w[0]);
	} else if (!strcmp(w[0], "nodes")) {
		cmd_nodes();
	} else if (!strcmp(w[0], "pool")) {
		cmd_pool();
	} else if (!strcmp(w[0], "regions")) {
		cmd_regions();
	} else if (!strcmp(w[0], "ping")) {
		cmd_ping(n > 1 ? w[1] : "all", num(w[2], 1));
	} else if (!strcmp(w[0], "hold")) {
		cmd_hold(num(w[1], 1));
	} else if (!strcmp(w[0], "release")) {
		cmd_release();
	} else if (!strcmp(w[0], "stress")) {
		cmd_stress(num(w[1], 5), num(w[2], 256));
	} else if (!strcmp(w[0], "drain")) {
		cmd_drain(num(w[1], -1));
	} else if (!strcmp(w[0], "bench") && n > 1 && !strcmp(w[1], "palloc")) {
		bench_palloc(num(w[2], 3));
	} else if (!strcmp(w[0], "bench") && n > 1 && !strcmp(w[1], "move")) {
		bench_move(num(w[2], 100));
	} else if (!strcmp(w[0], "lock")) {
		cmd_lock(num(w[1], -1), num(w[2], 0), true);
	} else if (!strcmp(w[0], "unlock")) {
		cmd_lock(num(w[1], -1), 0, false);
	} else if (!strcmp(w[0], "online")) {
		cmd_online(num(w[1], -1));
	} else if (!strcmp(w[0], "fail")) {
		cmd_fail(num(w[1], -1));
	} else {
		printk("commands: run PROGRAM [ARGS], spawn PROGRAM [ARGS], runon NODE|any PROGRAM [ARGS],\n"
		       "          ps, programs,\n"
		       "          nodes, pool, regions, ping NODE|all [COUNT], hold PAGES, release,\n"
		       "          stress SECONDS [MAXPAGES], drain REGION, online REGION, fail REGION,\n"
		       "          lock LEASE [SECONDS], unlock LEASE, bench palloc SECONDS, bench move COUNT\n");
		printk("node %d: help\n", self.id);
	}
}

void monitor(void)
{
	char line[128];
	int len = 0;

	held = kmalloc(MAX_HELD * sizeof(*held));
	rng = arch_time_ns() ^ ((uint64_t)self.id << 32) ^ 0x9E3779B97F4A7C15ULL;
	if (!held)
		panic("monitor: no memory for its page list");
	for (;;) {
		int c = console_monitor_reads() ? console_getc() : -1;
		if (c < 0) {
			cluster_poll();
			remote_work();
			if (sched_others_runnable())
				sched_yield();
			else
				arch_idle();
			continue;
		}
		if (c == '\r' || c == '\n') {
			arch_console_write("\n", 1);
			line[len] = 0;
			len = 0;
			run(line);
		} else if (len < (int)sizeof(line) - 1 && c >= ' ' && c < 127) {
			line[len++] = (char)c;
			arch_console_write((char *)&line[len - 1], 1);
		}
	}
}
