/*
 * The kernel thread's loop (see kthread.h): a list of registered works, run
 * in registration order, each on every pass or when its period is up or
 * when it was kicked; between passes the CPU goes to the processes, or the
 * node idles until an interrupt. The list is only ever touched by the
 * kernel thread; interrupts only set a work's kicked flag.
 */
#include "kernel/kernel.h"
#include "kernel/kthread.h"
#include "sched/sched.h"
#include "arch/arch.h"

static struct kwork *works, **tail = &works;

void kthread_register(struct kwork *w)
{
	for (struct kwork *r = works; r; r = r->next)
		if (r == w)
			panic("kthread: work '%s' registered twice", w->name);
	w->next = NULL;
	w->due_ns = 0;
	*tail = w;
	tail = &w->next;
}

void kthread_kick(struct kwork *w)
{
	__atomic_store_n(&w->kicked, true, __ATOMIC_RELEASE);
	sched_run_soon(&proc_table()[0]);
}

/* One pass: every work that is due, or kicked, once. */
static void run_works(void)
{
	for (struct kwork *w = works; w; w = w->next) {
		bool kicked = __atomic_exchange_n(&w->kicked, false, __ATOMIC_ACQ_REL);
		uint64_t now = arch_time_ns();

		if (w->period_ms) {
			if (!kicked && now < w->due_ns)
				continue;
			w->due_ns = now + w->period_ms * 1000000ULL;
		}
		w->fn();
	}
}

static bool any_kicked(void)
{
	for (struct kwork *w = works; w; w = w->next)
		if (__atomic_load_n(&w->kicked, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

void kthread_loop(void)
{
	for (;;) {
		run_works();
		if (sched_others_runnable()) {
			sched_yield();
			continue;
		}
		/* Look for kicks with interrupts off: arch_idle() enables them
		 * and halts in one step, so a kick that comes after the look
		 * still ends the halt. */
		arch_irq_disable();
		if (any_kicked())
			arch_irq_enable();
		else
			arch_idle();
	}
}
