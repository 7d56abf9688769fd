/*
 * The per-node scheduler: round robin over the process table, thread 0
 * (the kernel monitor) included. A process is preempted when its slice
 * ends, or when it woke another one that should run now (a local futex
 * wake, sched_switch_soon), on its way back to user mode; kernel code is
 * never preempted.
 */
#include "kernel/kernel.h"
#include "sched/sched.h"
#include "arch/arch.h"
#include "userland/include/dm_abi.h"

static struct proc procs[MAX_PROCS];
struct proc *current = &procs[0];
static volatile bool need_resched;
static uint64_t slice_end_ns;
static struct proc *last_woken;         /* by sched_wakeup, for sched_switch_soon */
static struct proc *prefer;             /* run this one next if it is ready */

struct proc *proc_table(void)
{
	return procs;
}

void sched_init(void)
{
	struct proc *p = &procs[0];

	p->pid = self.id * PID_NODE_STRIDE;
	p->state = P_RUNNING;
	strlcpy(p->name, "kernel", sizeof(p->name));
	arch_user_init();
}

static bool ready(struct proc *p, uint64_t now)
{
	if (p->state == P_SLEEPING && p->wake_ns && now >= p->wake_ns) {
		p->state = P_RUNNABLE;
		p->wake_ns = 0;
	}
	return p->state == P_RUNNABLE;
}

/* Run the next ready process after the current one (maybe the current one). */
static void schedule(void)
{
	uint64_t flags = arch_irq_save(), now = arch_time_ns();
	int me = (int)(current - procs);
	struct proc *next = NULL;

	/* the one a wake handed the CPU to runs in what is left of the
	 * waker's slice: two processes that wake each other do not starve
	 * the rest of the round */
	bool handoff = prefer && prefer != current && now < slice_end_ns && ready(prefer, now);
	if (handoff)
		next = prefer;
	prefer = NULL;
	for (int i = 1; i <= MAX_PROCS && !next; i++) {
		struct proc *p = &procs[(me + i) % MAX_PROCS];
		if (ready(p, now))
			next = p;
	}
	if (!next && current->state == P_RUNNING)
		next = current;
	if (!next)
		next = &procs[0];       /* the monitor is always there to idle in */
	if (current->state == P_RUNNING)
		current->state = P_RUNNABLE;
	need_resched = false;
	if (!handoff)
		slice_end_ns = now + SLICE_MS * 1000000ULL;
	if (next != current) {
		struct proc *prev = current;
		current = next;
		next->state = P_RUNNING;
		arch_as_switch(next->vm.root);
		if (next->kstack)
			arch_set_kstack((uint8_t *)next->kstack + (PAGE_SIZE << KSTACK_PAGES_ORDER));
		if (prev->vm.root)
			arch_fpu_save(prev->fpu);
		if (next->vm.root)
			arch_fpu_restore(next->fpu);
		arch_switch(&prev->sp, next->sp);
	}
	current->state = P_RUNNING;
	arch_irq_restore(flags);
}

void sched_yield(void)
{
	schedule();
}

bool sched_others_runnable(void)
{
	uint64_t now = arch_time_ns();

	for (int i = 1; i < MAX_PROCS; i++)
		if (&procs[i] != current && ready(&procs[i], now))
			return true;
	return false;
}

void sched_sleep(const void *chan, uint64_t until_ns)
{
	uint64_t flags = arch_irq_save();

	current->wchan = chan;
	current->wake_ns = until_ns;
	current->state = P_SLEEPING;
	schedule();
	current->wchan = NULL;
	arch_irq_restore(flags);
}

void sched_wakeup(const void *chan)
{
	uint64_t flags = arch_irq_save();

	for (int i = 0; i < MAX_PROCS; i++) {
		if (procs[i].state == P_SLEEPING && procs[i].wchan == chan) {
			procs[i].state = P_RUNNABLE;
			procs[i].wake_ns = 0;
			last_woken = &procs[i];
		}
	}
	arch_irq_restore(flags);
}

void sched_switch_soon(void)
{
	uint64_t flags = arch_irq_save();

	if (last_woken && last_woken != current && last_woken->state == P_RUNNABLE) {
		prefer = last_woken;
		need_resched = true;
	}
	last_woken = NULL;
	arch_irq_restore(flags);
}

void sched_run_soon(struct proc *p)
{
	uint64_t flags = arch_irq_save();

	sched_wakeup(p);
	if (p != current && p->state == P_RUNNABLE) {
		prefer = p;
		need_resched = true;
	}
	arch_irq_restore(flags);
}

void sched_tick(void)
{
	if (current != &procs[0] && arch_time_ns() >= slice_end_ns)
		need_resched = true;
}

void sched_user_return(void)
{
	if (need_resched)
		schedule();
	loss_user_return();
	if (current->killed)
		proc_exit(DM_WAIT_KILLED(DM_SIGKILL));
}
