/*
 * The kernel thread's loop: thread 0 of every node, once kmain() is done,
 * runs the works registered here, one after the other, pass after pass.
 * Between passes it gives the CPU to the node's processes when one can
 * run, and otherwise waits for the next interrupt (at the latest the timer
 * tick). Nothing else in the kernel runs housekeeping: whatever the kernel
 * thread has to do, now or every so often, is a work registered here, and
 * whatever in it has to wait for something (the monitor's `run`, `lock`)
 * waits by being called again on the next pass, not by looping itself.
 *
 * The contract of a work's fn:
 *   - Context: the kernel thread, interrupts on; never an interrupt. It may
 *     do anything the kernel thread may (allocate, take pool locks briefly,
 *     send messages), but it must not block: not sleep, not wait for
 *     another node or a process. It looks, does what is ready and returns.
 *   - Time: it should return within a tick (1000 / HZ ms; works run one
 *     after the other, so a slow one delays every other, and with it the
 *     liveness checks of cluster_poll). Work that takes longer is done in
 *     slices: a slice per call, and kthread_kick() for the next one.
 *   - It is never re-entered, and it may register other works.
 * The monitor is the one exception to the time rule: a command typed at it
 * runs to its end in one call (a `bench palloc 3` keeps the node busy for
 * three seconds), as it did when the monitor owned the loop. Its commands
 * that wait are slices too.
 */
#ifndef KERNEL_KTHREAD_H
#define KERNEL_KTHREAD_H

#include <stdbool.h>
#include <stdint.h>

struct kwork {
	const char *name;               /* for messages about it */
	void (*fn)(void);               /* the work, under the contract above */
	uint32_t period_ms;             /* run every period_ms (at tick granularity); 0: every pass */
	/* the loop's own */
	bool kicked;                    /* run on the next pass, and do not idle before it */
	uint64_t due_ns;                /* a periodic work's next run */
	struct kwork *next;             /* the registered works, in registration order */
};

/**
 * kthread_register - add w to the works the kernel thread's loop runs
 * @w: static storage, name, fn and period_ms set; the rest zero. It stays
 *     registered for good; a periodic work first runs on the next pass.
 * Context: kmain() before kthread_loop(), or a work (the kernel thread);
 * not an interrupt. Registering a work twice is a bug and panics.
 */
void kthread_register(struct kwork *w);

/**
 * kthread_kick - have w run on the loop's next pass, whatever its period,
 * and keep the loop from idling before it: a work that did one slice of a
 * longer job kicks itself for the next; an interrupt handler kicks the
 * work that handles what it saw (and the kernel thread runs soon).
 * Context: any, interrupts included.
 */
void kthread_kick(struct kwork *w);

/**
 * kthread_loop - the kernel thread's loop; kmain() ends in it
 * Context: the kernel thread, interrupts on.
 * Return: never.
 */
void kthread_loop(void) __attribute__((noreturn));

#endif
