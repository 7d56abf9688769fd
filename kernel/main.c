/*
 * Generic start-up of a dmos node: learn who we are from the command line,
 * take over local memory, start the clock, find the pool and join the
 * cluster. Then the kernel thread goes to its loop (kernel/kthread.h):
 * cluster liveness, requests from other nodes, the monitor.
 */
#include "kernel/kernel.h"
#include "kernel/bench.h"
#include "kernel/kthread.h"
#include "kernel/pci.h"
#include "kernel/cluster/cluster.h"
#include "kernel/console.h"
#include "kernel/initrd.h"
#include "fs/fs.h"
#include "sched/sched.h"
#include "fs/blk.h"
#include "fs/probe.h"
#include "net/net.h"
#include "sched/remote.h"
#include "mm/mm.h"
#include "mm/loss.h"
#include "arch/arch.h"

struct self self = { .id = 0, .nodes = 1, .cluster = "dmos" };
volatile uint64_t ticks;
unsigned tick_hz = HZ;

static void tick(void)
{
	ticks++;
	if (ticks % (tick_hz / HEARTBEAT_HZ) == 0)
		pool_heartbeat();
	msg_poll();             /* without a doorbell, this is when messages arrive */
	loss_tick();
	console_poll();
	sched_tick();
}

void kernel_on_fatal(void)
{
	pool_mark_halted();
	printk("node %d: halted\n", self.id);
}

static bool valid_cluster_id(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

/* Read node=, nodes=, cluster=. Return: NULL, or what is wrong with them. */
static const char *identify(void)
{
	long id = cmdline_long("node", 0), n = cmdline_long("nodes", 1);
	char cid[64];

	if (n < 1 || n > MAX_NODES)
		return "nodes= must be a number from 1 to 64";
	if (id < 0 || id >= n)
		return "node= must be a number from 0 to nodes-1";
	if (cmdline_get("cluster", cid, sizeof(cid))) {
		if (strlen(cid) >= CLUSTER_ID_MAX || !valid_cluster_id(cid))
			return "cluster= must be 1 to 31 characters of a-z, 0-9 and -";
		strlcpy(self.cluster, cid, sizeof(self.cluster));
	}
	self.id = (int)id;
	self.nodes = (int)n;
	return NULL;
}

/* What the kernel thread does besides the monitor (kernel/kthread.h). */
static struct kwork cluster_work = { .name = "cluster", .fn = cluster_poll };
static struct kwork remote_work_item = { .name = "remote", .fn = remote_work };

void kmain(struct boot_info *bi)
{
	char arg[16];

	cmdline_init(bi->cmdline);
	printk("dmos: booting, command line: %s\n", bi->cmdline);
	const char *bad = identify();
	if (bad) {
		printk("dmos: bad command line: %s; this node stops\n", bad);
		arch_halt();
	}
	frame_init(bi);
	frame_report();
	kheap_setup();
	arch_late_init();
	sched_init();
	if (bi->initrd)
		initrd_init(phys_to_virt(bi->initrd), bi->initrd_len);
	arch_timer_start(HZ, tick);
	arch_irq_enable();
	printk("node %d: cluster '%s' of %d nodes, %lu MiB local RAM\n",
	       self.id, self.cluster, self.nodes, self.local_mem >> 20);
	pci_init();
	blk_init();
	net_init();
	fs_probe();
	if (pool_init() == 0) {
		if (pool.doorbell < 0) {        /* no doorbell: poll the rings more often */
			tick_hz = HZ_POLLED;
			arch_timer_start(tick_hz, tick);
		}
		cluster_wait();
	}
	else
		printk("node %d: running without the pool\n", self.id);
	vfs_init();             /* after the pool: dmosfs caches its pages there */

	if (cmdline_get("bench", arg, sizeof(arg)) && !strcmp(arg, "frames"))
		bench_frames();         /* kernel/bench.c */
	if (cmdline_get("init", arg, sizeof(arg)) && strcmp(arg, "none")) {
		char *argv[] = { arg };
		int pid = proc_spawn(arg, argv, 1);
		if (pid < 0)
			printk("node %d: init: cannot start %s (%d); the monitor has the console\n",
			       self.id, arg, pid);
		else
			console_give(pid);      /* the console is init's from now on */
	}
	if (cmdline_get("fault", arg, sizeof(arg))) {
		printk("node %d: taking a deliberate '%s' fault (fault= on the command line)\n",
		       self.id, arg);
		if (!arch_fault(arg))
			printk("node %d: unknown fault '%s' (pf, ud, gp, de); ignored\n", self.id, arg);
	}
	/* The monitor before remote_work: when a child the monitor's `run`
	 * waits for has ended, the monitor must reap it (and print its status)
	 * before remote_work reaps the kernel thread's other children. */
	kthread_register(&cluster_work);
	monitor_init();
	kthread_register(&remote_work_item);
	kthread_loop();
}
