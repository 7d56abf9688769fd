/*
 * The kernel monitor: a line-based command interpreter on the node's
 * serial console, for people at `dmos console N` and for the cluster tests.
 * It runs on a node booted without init= (or whose init ended) and is how
 * one drives the pool from inside a node: allocate and free pool pages, drain regions, ping other nodes,
 * time things. Every command ends with one line `node N: <cmd>: ...`.
 *
 * The monitor is a work of the kernel thread's loop (kernel/kthread.h): on
 * every pass it takes the console input that has come, and runs a command
 * when a line is complete. The commands are the table at the end of this
 * file. A command that waits for something (run, runon, lock) or runs for
 * long (stress) is a job: its handler starts it, and the loop calls the
 * job's step on every pass until it is done; meanwhile the rest of the
 * loop goes on and the monitor reads no input.
 */
#include "kernel/kernel.h"
#include "kernel/bench.h"
#include "kernel/kthread.h"
#include "kernel/cluster/cluster.h"
#include "kernel/console.h"
#include "kernel/initrd.h"
#include "sched/sched.h"
#include "fs/blk.h"
#include "fs/dmosfs.h"
#include "net/net.h"
#include "sched/remote.h"
#include "mm/mm.h"
#include "mm/palloc.h"
#include "mm/pmem.h"
#include "mm/seg.h"
#include "mm/xlate.h"
#include "arch/arch.h"

#define MAX_HELD 65536
#define MONITOR_PID ((uint32_t)proc_table()[0].pid)  /* owner recorded for the monitor's pages: the kernel thread */
#define MAX_LINE 128
#define STRESS_SLICE 64                 /* allocs and frees per pass of the loop */
#define LOCK_MIN_WAIT_NS 100000000ULL   /* `lock L` (no SECONDS) still waits this long */

static int64_t *held;                   /* pool pages the monitor holds */
static uint64_t nheld;
static uint64_t rng;

/* A job's step. Return: done; wait (nothing to do before an interrupt);
 * again (more to do at once: the loop does not idle). */
enum step { JOB_DONE, JOB_WAIT, JOB_AGAIN };
static enum step (*job)(void);          /* the command that is still running */
static struct kwork monitor_work;

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

/* A number argument; Return: dflt if there is none, -1 if it is not a number. */
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

/* Run one step of j, and keep j as the monitor's job until it is done. */
static void step(enum step (*j)(void))
{
	enum step s = j();

	job = s == JOB_DONE ? NULL : j;
	if (s == JOB_AGAIN)
		kthread_kick(&monitor_work);
}

static void cmd_nodes(char **w, int n)
{
	(void)w, (void)n;
	for (int i = 0; i < self.nodes; i++) {
		volatile struct pool_node *e = &pool.nodes[i];
		printk("  node %d: %-7s epoch %lu heartbeat %lu local %lu MiB doorbell %d%s\n", i,
		       node_state_name(e->state), e->epoch, e->heartbeat, e->local_mem >> 20,
		       e->doorbell, i == self.id ? " (this node)" : "");
	}
	printk("node %d: nodes: %d\n", self.id, self.nodes);
}

static void cmd_pool(char **w, int n)
{
	static struct palloc_stats ps;
	struct xlate_stats xs;
	struct seg_stats ss;
	struct vm_seg_maps sm;

	(void)w, (void)n;
	palloc_stats(pool.palloc->meta, &ps);
	xlate_stats(pmem_xlate(), &xs);
	seg_stats(&ss);
	vm_seg_maps(&sm);
	for (int i = 0; i < self.nodes; i++)
		printk("  node %d uses %lu pool pages in %lu chunks\n", i, ps.used_by_node[i],
		       ps.chunks_owned_by_node[i]);
	printk("  segments: %lu live, %lu pages, %lu of them in 2 MiB runs; mapped here: "
	       "%lu x 2 MiB, %lu x 4 KiB\n", ss.live, ss.pages, ss.large_pages, sm.large, sm.small);
	printk("  translation: %lu entries of %lu pages, %lu bytes of table, %lu moves (%lu pages)\n",
	       xs.entries, xs.block_pages, xs.table_bytes, xs.moves, xs.pages_moved);
	printk("  zero: %lu free pages known to hold zeros; %lu zeroed in advance here\n",
	       ps.zeroed, pmem_zeroed());
	printk("node %d: pool: %lu pages, %lu free, %lu reserved, %lu held here, %lu inconsistent\n",
	       self.id, ps.npages, ps.free, ps.reserved, nheld, palloc_check(pool.palloc->meta));
}

static void cmd_regions(char **w, int n)
{
	uint64_t rp = pool.super->region_pages, count = (pool.super->npages + rp - 1) / rp;
	static const char *const names[] = { "online", "draining", "offline", "failed" };

	(void)w, (void)n;
	for (uint64_t r = 0; r < count; r++) {
		int st = xlate_region_state(pmem_xlate(), r);
		printk("  region %lu: %s\n", r, st >= 0 && st < 4 ? names[st] : "?");
	}
	printk("node %d: regions: %lu of %lu MiB\n", self.id, count, (rp << PAGE_SHIFT) >> 20);
}

/* ping NODE|all [COUNT]: message round trips, min/avg/max. */
static void cmd_ping(char **w, int n)
{
	const char *arg = n > 1 ? w[1] : "all";
	long count = num(w[2], 1);
	int from = 0, to = self.nodes - 1;

	if (strcmp(arg, "all")) {
		long v = 0;
		for (const char *p = arg; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (*p - '0');
		from = to = (int)v;
	}
	if (count < 1 || count > 100000 || from < 0 || to >= self.nodes) {
		printk("node %d: ping: usage: ping NODE|all [COUNT 1..100000]\n", self.id);
		return;
	}
	int ok = 0, failed = 0;
	for (int node = from; node <= to; node++) {
		uint64_t min = UINT64_MAX, max = 0, sum = 0;
		int err = 0;
		if (node == self.id)
			continue;
		for (long i = 0; i < count && !err; i++) {
			struct msg req = { .type = MSG_PING }, rep;
			uint64_t t = arch_time_ns();
			req.args[0] = t;
			err = msg_call(node, &req, &rep, MSG_TIMEOUT_MS);
			if (!err && (rep.type != MSG_PONG || rep.args[0] != t))
				err = -EIO;
			t = arch_time_ns() - t;
			min = MIN(min, t);
			max = MAX(max, t);
			sum += t;
		}
		if (err) {
			printk("  node %d -> %d: failed (%d)\n", self.id, node, err);
			failed++;
		} else {
			printk("  node %d -> %d: %ld round trips, min %lu us, avg %lu us, max %lu us\n",
			       self.id, node, count, min / 1000, sum / count / 1000, max / 1000);
			ok++;
		}
	}
	printk("node %d: ping: %d ok, %d failed (doorbell %s)\n", self.id, ok, failed,
	       pool.doorbell >= 0 ? "on" : "off");
}

static void cmd_hold(char **w, int n)
{
	long want = num(w[1], 1), got = 0;
	int err = 0;

	(void)n;
	while (got < want && nheld < MAX_HELD && !(err = hold_one()))
		got++;
	printk("node %d: hold: %ld pool pages taken, %lu held%s\n", self.id, got, nheld,
	       err == -ENOMEM ? " (pool full)" : "");
}

static void cmd_release(char **w, int n)
{
	uint64_t count = nheld;
	int bad = 0;

	(void)w, (void)n;
	while (nheld)
		bad += drop(nheld - 1) != 0;
	printk("node %d: release: %lu pool pages freed, %d bad\n", self.id, count, bad);
}

/* stress SECONDS [MAXPAGES]: random allocs and frees, every page's data checked. */
static struct stress {
	uint64_t end, allocs, frees;
	long max;
	int bad, full;
} st;

static enum step stress_step(void)
{
	for (int i = 0; i < STRESS_SLICE; i++) {
		if (arch_time_ns() >= st.end || !pool.joined) {
			while (nheld) {
				st.bad += drop(nheld - 1) != 0;
				st.frees++;
			}
			printk("node %d: stress: %lu allocs, %lu frees, %d bad, %d times full\n",
			       self.id, st.allocs, st.frees, st.bad, st.full);
			return JOB_DONE;
		}
		if (nheld < (uint64_t)st.max && (rnd() & 1 || !nheld)) {
			int err = hold_one();
			st.full += err == -ENOMEM;
			st.allocs += !err;
		} else if (nheld) {
			st.bad += drop(rnd() % nheld) != 0;
			st.frees++;
		}
	}
	return JOB_AGAIN;
}

static void cmd_stress(char **w, int n)
{
	long secs = num(w[1], 5), max = num(w[2], 256);

	(void)n;
	if (secs < 1 || secs > 3600 || max < 1 || max > MAX_HELD) {
		printk("node %d: stress: usage: stress SECONDS [MAXPAGES]\n", self.id);
		return;
	}
	st = (struct stress){ .end = arch_time_ns() + (uint64_t)secs * 1000000000ULL, .max = max };
	step(stress_step);
}

static void cmd_drain(char **w, int n)
{
	long region = num(w[1], -1);
	uint64_t t = arch_time_ns();
	int err = pmem_drain(region);

	(void)n;
	printk("node %d: drain: region %ld %s in %lu ms (%d)\n", self.id, region,
	       err ? "NOT drained" : "offline", (arch_time_ns() - t) / 1000000, err);
}

static void cmd_online(char **w, int n)
{
	long region = num(w[1], -1);

	(void)n;
	/* A failed region stays failed: processes that held memory there may
	 * not have dropped it yet, and would read its wiped frames as theirs. */
	if (region >= 0 && xlate_region_state(pmem_xlate(), (uint32_t)region) == XLATE_FAILED) {
		printk("node %d: online: region %ld has failed; it stays out of use\n", self.id, region);
		return;
	}
	int err = xlate_set_region_state(pmem_xlate(), region, XLATE_ONLINE);

	printk("node %d: online: region %ld %s\n", self.id, region, err ? "refused" : "online");
}

/* Wipe device frames [dfn, dfn + pages): what a failed DIMM leaves. */
static void wipe(void *ctx, uint64_t dfn, uint64_t pages)
{
	(void)ctx;
	pmem_fill_frames(dfn, pages, 0xDE);
}

/* fail REGION: play the pool controller losing a region (tools/dmos fail-region does it from the host). */
static void cmd_fail(char **w, int n)
{
	long region = num(w[1], -1);
	int err = region < 0 ? -EINVAL : xlate_fail_region(pmem_xlate(), (uint32_t)region, wipe, NULL);

	(void)n;
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
		if (!xlate_lost(pmem_xlate(), held[i], after, upto, &r)) {
			i++;
			continue;
		}
		xlate_count_loss(pmem_xlate(), r, 0, 1, 0);
		pmem_free(held[i]);
		held[i] = held[--nheld];
		lost++;
	}
	if (lost)
		printk("node %d: monitor: %lu held pool pages lost %s\n", self.id, lost,
		       after == VM_LOST_LINK ? "with the pool link" : "in failed regions");
}

/* bench palloc SECONDS | bench move COUNT (kernel/bench.c) */
static void cmd_bench(char **w, int n)
{
	if (n > 1 && !strcmp(w[1], "palloc"))
		bench_palloc(num(w[2], 3));
	else if (n > 1 && !strcmp(w[1], "move"))
		bench_move(num(w[2], 100));
	else
		printk("node %d: bench: usage: bench palloc SECONDS | bench move COUNT\n", self.id);
}

static bool alive(void *ctx, int node, uint64_t epoch)
{
	(void)ctx;
	return node_alive(node, epoch);
}

/* lock L [SECS]: take lease L, waiting up to SECS (at least LOCK_MIN_WAIT_NS). */
static struct lock {
	struct lease *lease;
	long l;
	uint64_t epoch, t0, deadline;
	bool ours;                      /* we held it already: no use waiting */
} lk;

static enum step lock_step(void)
{
	int err = lease_acquire(lk.lease, self.id, lk.epoch, alive, NULL, 0);

	if (err == -EBUSY && !lk.ours) {        /* a live holder has it */
		if (pool.joined && arch_time_ns() < lk.deadline)
			return JOB_WAIT;        /* try again next pass: its holder may die meanwhile */
		err = -ETIMEDOUT;
	}
	if (err == LEASE_TAKEN_OVER)
		printk("node %d: lock: lease %ld taken over from a dead holder after %lu ms\n",
		       self.id, lk.l, (arch_time_ns() - lk.t0) / 1000000);
	else if (err == 0)
		printk("node %d: lock: lease %ld taken\n", self.id, lk.l);
	else
		printk("node %d: lock: lease %ld busy (%d)\n", self.id, lk.l, err);
	return JOB_DONE;
}

/* lock L [SECS] (take) and unlock L. */
static void cmd_lock(char **w, int n)
{
	bool take = !strcmp(w[0], "lock");
	long l = num(w[1], -1), secs = take ? num(w[2], 0) : 0;
	uint64_t epoch = pool.nodes[self.id].epoch;
	struct lease *lease = pool_lease(l);
	int holder;
	uint64_t holder_epoch;

	(void)n;
	if (l < 0 || l >= (long)pool.super->nleases || secs < 0) {
		printk("node %d: lock: usage: lock LEASE [SECONDS] | unlock LEASE (LEASE < %u)\n",
		       self.id, pool.super->nleases);
		return;
	}
	if (!take) {
		int err = lease_release(lease, self.id, epoch);
		printk("node %d: unlock: lease %ld %s\n", self.id, l, err ? "was not ours" : "released");
		return;
	}
	uint64_t t0 = arch_time_ns(), wait = MAX((uint64_t)secs * 1000000000ULL, LOCK_MIN_WAIT_NS);
	lk = (struct lock){ .lease = lease, .l = l, .epoch = epoch, .t0 = t0, .deadline = t0 + wait };
	lk.ours = lease_holder(lease, &holder, &holder_epoch) && holder == self.id &&
		  holder_epoch == epoch;
	step(lock_step);
}

/* run PROG ARGS: start a program and wait for it; spawn: do not wait. */
static struct run {
	int pid;
	char name[MAX_LINE];
} rj;

static enum step run_step(void)
{
	int status = 0;

	if (!proc_try_wait(rj.pid, &status))
		return JOB_WAIT;        /* it runs; proc_exit() or its node's message wakes us */
	if (status & 0x7f)
		printk("node %d: run: %s (pid %d) killed by signal %d\n", self.id, rj.name, rj.pid,
		       status & 0x7f);
	else
		printk("node %d: run: %s (pid %d) exited with status %d\n", self.id, rj.name, rj.pid,
		       (status >> 8) & 0xff);
	return JOB_DONE;
}

static void start(char **w, int n, bool wait, int node)
{
	int pid = proc_spawn_on(node, w[0], w, n);

	if (pid < 0) {
		printk("node %d: %s: %s: cannot start (%d)\n", self.id, wait ? "run" : "spawn", w[0], pid);
		return;
	}
	if (!wait) {
		printk("node %d: spawn: %s is pid %d\n", self.id, w[0], pid);
		return;
	}
	rj.pid = pid;
	strlcpy(rj.name, w[0], sizeof(rj.name));
	step(run_step);
}

static void cmd_run(char **w, int n)
{
	start(w + 1, n - 1, w[0][0] == 'r', self.id);
}

static void cmd_runon(char **w, int n)
{
	start(w + 2, n - 2, true, strcmp(w[1], "any") ? (int)num(w[1], -2) : -1);
}

static void cmd_ps(char **w, int n)
{
	static const char *const states[] = { "free", "ready", "running", "sleeping", "zombie" };
	struct proc *t = proc_table();
	int count = 0;

	(void)w, (void)n;
	for (int i = 0; i < MAX_PROCS; i++) {
		if (t[i].state == P_FREE)
			continue;
		count++;
		printk("  %8d %8d %-8s %6lu local %6lu pool  %s\n", t[i].pid, t[i].ppid,
		       states[t[i].state], t[i].vm.local_pages, t[i].vm.pool_pages, t[i].name);
	}
	printk("node %d: ps: %d processes\n", self.id, count);
}

static void list_program(const char *name, uint64_t len)
{
	printk("  %-16s %lu bytes\n", name, len);
}

static void cmd_programs(char **w, int n)
{
	(void)w, (void)n;
	initrd_each(list_program);
	printk("node %d: programs\n", self.id);
}

static void cmd_net(char **w, int n)
{
	(void)w, (void)n;
	net_show();
	printk("node %d: net\n", self.id);
}

static void cmd_help(char **w, int n);

/* The commands. A handler gets the line's words, the command's name first. */
static const struct command {
	const char *name;
	const char *args;               /* what follows the name, for help and usage lines */
	const char *help;               /* one line */
	void (*run)(char **w, int n);
	int min_words;                  /* fewer words than this: the usage line */
	bool pool;                      /* needs the pool */
} commands[] = {
	{ "run", "PROGRAM [ARGS]", "run a program (from /bin, else the initrd) and wait", cmd_run, 2, false },
	{ "spawn", "PROGRAM [ARGS]", "run a program (from /bin, else the initrd), do not wait", cmd_run, 2, false },
	{ "runon", "NODE|any PROGRAM [ARGS]", "run it on another node (or the least loaded) and wait",
	  cmd_runon, 3, false },
	{ "ps", "", "this node's processes", cmd_ps, 1, false },
	{ "programs", "", "the programs in the initrd", cmd_programs, 1, false },
	{ "nodes", "", "the node table: state, epoch, heartbeat, doorbell", cmd_nodes, 1, true },
	{ "pool", "", "pool pages in use per node, free; translation table and moves", cmd_pool, 1, true },
	{ "regions", "", "every region's state", cmd_regions, 1, true },
	{ "ping", "NODE|all [COUNT]", "message round trips to other nodes, min/avg/max", cmd_ping, 1, true },
	{ "hold", "PAGES", "allocate pool pages, stamped", cmd_hold, 1, true },
	{ "release", "", "free the held pool pages, checking their stamps", cmd_release, 1, true },
	{ "stress", "SECONDS [MAXPAGES]", "random pool page allocs and frees, data checked", cmd_stress, 1, true },
	{ "drain", "REGION", "move every live page out of a region, take it offline", cmd_drain, 1, true },
	{ "online", "REGION", "put a drained region back in use", cmd_online, 1, true },
	{ "fail", "REGION", "fail a region from inside, as tools/dmos fail-region does", cmd_fail, 1, true },
	{ "lock", "LEASE [SECONDS]", "take a lease in the pool, waiting up to SECONDS", cmd_lock, 1, true },
	{ "unlock", "LEASE", "give a lease back", cmd_lock, 1, true },
	{ "bench", "palloc SECONDS | move COUNT", "pool allocator rate; cost of moving one block",
	  cmd_bench, 1, true },
	{ "blk", "[read|write|pool|flush|bench]", "the shared disk: read, write, flush, time it",
	  cmd_blk, 1, false },
	{ "fs", "", "the cluster file system: disk and page cache counters", cmd_fs, 1, false },
	{ "net", "", "the network card: MAC, address, link, frame counters", cmd_net, 1, false },
	{ "help", "", "this list", cmd_help, 1, false },
};

static void cmd_help(char **w, int n)
{
	(void)w, (void)n;
	for (unsigned i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];
		char use[48];
		snprintf(use, sizeof(use), "%s %s", c->name, c->args);
		printk("  %-36s %s%s\n", use, c->help, c->pool && !pool.joined ? " (needs the pool)" : "");
	}
	printk("node %d: help\n", self.id);
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

static void run(char *line)
{
	char *w[16] = { 0 };            /* one more than words(): w[n] and after are NULL */
	int n = words(line, w, 15);

	if (!n)
		return;
	for (unsigned i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];
		if (strcmp(w[0], c->name))
			continue;
		if (c->pool && !pool.joined)
			printk("node %d: %s: this node has no pool\n", self.id, w[0]);
		else if (n < c->min_words)
			printk("node %d: %s: usage: %s %s\n", self.id, w[0], w[0], c->args);
		else
			c->run(w, n);
		return;
	}
	printk("node %d: %s: unknown command (help lists them)\n", self.id, w[0]);
}

/* The loop's work: a step of the running command, or the console input that came. */
static void monitor_step(void)
{
	static char line[MAX_LINE];
	static int len;
	int c;

	if (job)
		step(job);
	while (!job && console_monitor_reads() && (c = console_getc()) >= 0) {
		if (c == '\r' || c == '\n') {
			arch_console_write("\n", 1);
			line[len] = 0;
			len = 0;
			run(line);
		} else if (len < (int)sizeof(line) - 1 && c >= ' ' && c < 127) {
			line[len++] = (char)c;
			arch_console_write(&line[len - 1], 1);
		}
	}
}

static struct kwork monitor_work = { .name = "monitor", .fn = monitor_step };

void monitor_init(void)
{
	held = kmalloc(MAX_HELD * sizeof(*held));
	rng = arch_time_ns() ^ ((uint64_t)self.id << 32) ^ 0x9E3779B97F4A7C15ULL;
	if (!held)
		panic("monitor: no memory for its page list");
	kthread_register(&monitor_work);
}
