/*
 * Region failure and optional memory on one node (see loss.h): notice a
 * failure, kill the processes that lost vital pages, raise an exception in
 * the ones that lost optional pages.
 */
#include "kernel/kernel.h"
#include "kernel/cluster/cluster.h"
#include "sched/sched.h"
#include "mm/loss.h"
#include "mm/vm.h"
#include "mm/pmem.h"
#include "mm/xlate.h"
#include "arch/arch.h"
#include "fs/dmosfs.h"
#include "userland/include/dm_abi.h"

#define RED_ZONE 128                    /* bytes below a user rsp the program may use */

static volatile uint64_t noticed;       /* the pool's failure count, as the tick saw it */
static uint64_t handled;                /* ... as loss_work() has dealt with */
static bool counting;                   /* noticed and handled start at the count we found */
static volatile bool nmi;               /* an NMI came: is it the fabric's? */
static volatile bool link_down;         /* our link to the pool is down */

#define CACHE_RETRY_MS  10              /* the page cache's slots left held: look again */
#define CACHE_GIVE_UP_MS 10000          /* ... for this long at most */

/* The page cache's part of the failures being handled (dmosfs_region_lost). */
static struct {
	bool pending;
	uint64_t after, upto;           /* failures after + 1 .. upto */
	uint64_t since_ns, due_ns;      /* first pass, next pass */
} cache;

void kernel_on_nmi(void)
{
	nmi = true;
}

void loss_tick(void)
{
	if (!pool.joined)
		return;
	if (nmi) {
		nmi = false;
		if (__atomic_load_n(&pool.nodes[self.id].link_down, __ATOMIC_ACQUIRE)) {
			link_down = true;
			sched_run_soon(&proc_table()[0]);
			return;
		}
	}
	uint64_t n = xlate_failures(pmem_xlate());
	if (!counting) {        /* failures before we joined took nothing of ours */
		noticed = handled = n;
		counting = true;
	}
	if (n != noticed) {
		noticed = n;
		sched_run_soon(&proc_table()[0]);       /* the kernel thread handles it, now */
	}
}

/* What one process lost in the failures being handled. */
struct found {
	uint64_t optional, vital;       /* pages */
	uint64_t vital_va;              /* the lowest vital address lost */
	uint32_t vital_region;
};

/* Where the loss happened, for the console: "in [failed ]region 3", "with the pool link". */
static const char *where(uint32_t region, const char *kind)
{
	static char buf[40];

	if (region == DM_LOSS_LINK)
		return "with the pool link";
	snprintf(buf, sizeof(buf), "in %sregion %u", kind, region);
	return buf;
}

static void count(void *ctx, uint64_t va, uint32_t region, bool optional)
{
	struct found *f = ctx;

	if (!pool.lost)
		xlate_count_loss(pmem_xlate(), region, optional, !optional, 0);
	if (optional) {
		f->optional++;
	} else if (!f->vital++ || va < f->vital_va) {
		f->vital_va = va;
		f->vital_region = region;
	}
}

/*
 * Find what every process lost in failures seen + 1 .. now (VM_LOST_LINK:
 * all its pool memory), kill those that lost vital pages, flag the others.
 * Return: the pages found, optional and vital, in *all.
 */
static void sweep(uint64_t seen, uint64_t now, struct found *all)
{
	struct proc *procs = proc_table();

	for (int i = 1; i < MAX_PROCS; i++) {
		struct proc *p = &procs[i];
		struct found f = { 0 };
		char why[96];

		if (p->state == P_FREE || p->state == P_ZOMBIE || !p->vm.root)
			continue;
		vm_lost(&p->vm, seen, now, false, count, &f);
		all->optional += f.optional;
		all->vital += f.vital;
		if (f.vital) {
			snprintf(why, sizeof(why), "vital memory lost %s at 0x%lx",
				 where(f.vital_region, "failed "), f.vital_va);
			if (proc_kill_because(p, DM_SIGBUS, why) && !pool.lost)
				xlate_count_loss(pmem_xlate(), f.vital_region, 0, 0, 1);
		} else if (f.optional) {
			uint64_t flags = arch_irq_save();
			p->loss.check = true;           /* it drops them itself, before user mode */
			if (p->state == P_SLEEPING) {   /* its sleep ends with EINTR */
				p->state = P_RUNNABLE;
				p->wake_ns = 0;
			}
			arch_irq_restore(flags);
		}
	}
	monitor_lost(seen, now);
}

/* Our link to the pool is down: from here on nothing of ours touches it. */
static void link_lost(void)
{
	struct found all = { 0 };

	pool.joined = false;    /* no heartbeat: the others declare us dead, take back our pages */
	pool.lost = true;
	sweep(VM_LOST_LINK, VM_LOST_LINK, &all);
	printk("node %d: lost the pool (link down): %lu pool pages of its processes lost "
	       "(%lu optional, %lu vital)\n", self.id, all.optional + all.vital, all.optional,
	       all.vital);
}

/* Is pool page ppn backed by a region that failed as one of cache's failures? */
static bool cache_lost(void *ctx, uint64_t ppn)
{
	(void)ctx;
	return xlate_lost(pmem_xlate(), ppn, cache.after, cache.upto, NULL);
}

/*
 * The page cache's pages in failed regions: a pass now, and more on later
 * passes of the kernel thread while the cache says it left slots held by
 * others (it waits for nobody), for CACHE_GIVE_UP_MS at most.
 */
static void cache_work(void)
{
	uint64_t t = arch_time_ns();
	bool last;

	if (!cache.pending || t < cache.due_ns)
		return;
	last = t - cache.since_ns > CACHE_GIVE_UP_MS * 1000000ULL;
	if (!dmosfs_region_lost(cache_lost, NULL, last) || last)
		cache.pending = false;
	cache.due_ns = t + CACHE_RETRY_MS * 1000000ULL;
}

void loss_work(void)
{
	uint64_t now = noticed, seen = handled;
	struct found all = { 0 };

	if (link_down && !pool.lost) {
		link_lost();
		return;
	}
	if (!pool.joined)
		return;
	if (now != seen) {
		handled = now;
		for (uint32_t r = 0; r < xlate_nregions(pmem_xlate()); r++)
			if (xlate_region_failed(pmem_xlate(), r, seen, now))
				printk("node %d: region %u failed\n", self.id, r);
		sweep(seen, now, &all);
		if (!cache.pending)
			cache.after = seen;
		cache.upto = now;
		cache.pending = true;
		cache.since_ns = cache.due_ns = arch_time_ns();
	}
	cache_work();
}

/* Lost optional pages of the current process: remember the lowest address. */
static void lost_here(void *ctx, uint64_t va, uint32_t region, bool optional)
{
	struct proc_loss *l = ctx;

	if (!optional)
		return;                 /* vital: the kernel thread kills it */
	if (!l->bytes || va < l->addr) {
		l->addr = va;
		l->region = region;
	}
	l->bytes += PAGE_SIZE;
	l->total += PAGE_SIZE;
}

/* p's user registers, saved at the top of its kernel stack. */
static void *uregs_of(struct proc *p)
{
	return arch_uregs((uint8_t *)p->kstack + (PAGE_SIZE << KSTACK_PAGES_ORDER));
}

/* Run the program's handler: its registers and the report go on its stack. */
static void enter_handler(struct proc *p)
{
	void *u = uregs_of(p);
	struct dm_loss info = { p->loss.addr, p->loss.bytes, p->loss.region, 0, p->loss.total };
	uint8_t saved[ARCH_UREGS_SIZE];
	uint64_t sp = (arch_uregs_sp(u) - RED_ZONE) & ~15UL;
	uint64_t at_regs = sp - ARCH_UREGS_SIZE, at_info = at_regs - sizeof(info);

	memcpy(saved, u, sizeof(saved));
	if (copy_to_user(&p->vm, at_regs, saved, sizeof(saved)) ||
	    copy_to_user(&p->vm, at_info, &info, sizeof(info))) {
		proc_kill_because(p, DM_SIGBUS, "optional memory lost and no stack for its exception");
		return;
	}
	p->loss.bytes = 0;
	p->loss.in_handler = true;
	arch_upcall(u, p->loss.entry, at_info, at_info, at_regs);
}

void loss_user_return(void)
{
	struct proc *p = current;

	if (p->loss.check) {
		uint64_t before = p->loss.bytes;
		p->loss.check = false;
		vm_lost(&p->vm, pool.lost ? VM_LOST_LINK : 0, UINT64_MAX, true, lost_here, &p->loss);
		if (p->loss.bytes > before)
			printk("node %d: pid %d (%s) lost %lu KiB of optional memory %s: %s\n",
			       self.id, p->pid, p->name, (p->loss.bytes - before) >> 10,
			       where(p->loss.region, ""),
			       p->loss.entry ? "exception raised" : "no handler, it goes on");
	}
	if (p->loss.bytes && !p->loss.in_handler) {
		if (p->loss.entry)
			enter_handler(p);
		else
			p->loss.bytes = 0;
	}
}

int64_t loss_set_entry(uint64_t entry)
{
	if (entry >= USER_TOP)
		return -EFAULT;
	current->loss.entry = entry;
	return 0;
}

int64_t loss_return(uint64_t saved)
{
	uint8_t regs[ARCH_UREGS_SIZE];
	struct proc *p = current;
	void *u = uregs_of(p);
	int err;

	if (!p->loss.in_handler)
		return -EINVAL;
	if ((err = copy_from_user(&p->vm, regs, saved, sizeof(regs))))
		return err;
	if (arch_uregs_load(u, regs))
		return -EINVAL;
	p->loss.in_handler = false;
	return (int64_t)arch_uregs_ret(u);      /* the syscall's result is what it had in rax */
}
