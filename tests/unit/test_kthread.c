/*
 * Host unit tests for the kernel thread's loop (kernel/kthread.c): works
 * run every pass in registration order, a periodic one once per period, a
 * kicked one on the next pass without the loop idling first, the loop
 * yields to runnable processes instead of idling, idles only with
 * interrupts off (so a kick cannot slip in between its look and the halt),
 * and a work registered twice panics. The scheduler, the clock and the
 * idle instruction are stubs: each idle is one timer tick of fake time, and
 * the loop is left with longjmp after a given number of passes. The
 * registered list outlives a test, so each test uses works of its own and
 * counts only those.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "arch/arch.h"
#include "kernel/kernel.h"
#include "kernel/kthread.h"
#include "sched/sched.h"

#define TICK_NS 10000000ULL             /* what one idle costs in fake time */

static uint64_t now;
static bool irq_off, others;
static int passes, limit, idles, yields, awake, runs_soon;
static jmp_buf out, panicked;
static char log_[64];

/* Stubs of what kthread.c uses. */
uint64_t arch_time_ns(void) { return now; }
bool sched_others_runnable(void) { return others; }
void sched_run_soon(struct proc *p) { (void)p; runs_soon++; }
void arch_irq_disable(void) { irq_off = true; }

struct proc *proc_table(void)
{
	static struct proc procs[1];

	return procs;
}

static void pass_end(void)
{
	if (++passes == limit)
		longjmp(out, 1);
}

void arch_idle(void)
{
	assert_true(irq_off);           /* the look for kicks and the halt are one step */
	irq_off = false;
	idles++;
	now += TICK_NS;
	pass_end();
}

void arch_irq_enable(void)
{
	irq_off = false;
	awake++;
	pass_end();
}

void sched_yield(void)
{
	yields++;
	pass_end();
}

void panic(const char *fmt, ...)
{
	(void)fmt;
	longjmp(panicked, 1);
}

static void run_passes(int n)
{
	passes = 0;
	limit = n;
	if (!setjmp(out))
		kthread_loop();
}

static int setup(void **state)
{
	(void)state;
	others = false;
	idles = yields = awake = runs_soon = 0;
	log_[0] = 0;
	return 0;
}

static void note(char c)
{
	size_t n = strlen(log_);

	if (n + 1 < sizeof(log_)) {
		log_[n] = c;
		log_[n + 1] = 0;
	}
}

static void work_a(void) { note('a'); }
static void work_b(void) { note('b'); }

static void test_every_pass_in_order(void **state)
{
	static struct kwork a = { .name = "a", .fn = work_a }, b = { .name = "b", .fn = work_b };

	(void)state;
	kthread_register(&a);
	kthread_register(&b);
	run_passes(3);
	assert_string_equal(log_, "ababab");
	assert_int_equal(idles, 3);     /* nothing kicked, nobody else runnable */
}

static int periodic_runs;
static void work_periodic(void) { periodic_runs++; }

static void test_periodic_once_per_period(void **state)
{
	static struct kwork p = { .name = "periodic", .fn = work_periodic, .period_ms = 50 };

	(void)state;
	now = 1000 * TICK_NS;
	kthread_register(&p);
	run_passes(20);                 /* 200 ms: runs at +0, +50, +100, +150 */
	assert_int_equal(periodic_runs, 4);
}

static int slow_runs;
static void work_slow(void) { slow_runs++; }

static void test_kick_runs_at_once_and_keeps_awake(void **state)
{
	static struct kwork s = { .name = "slow", .fn = work_slow, .period_ms = 1000 };

	(void)state;
	kthread_register(&s);
	run_passes(1);
	assert_int_equal(slow_runs, 1);
	assert_int_equal(idles, 1);
	kthread_kick(&s);               /* as an interrupt handler would */
	assert_int_equal(runs_soon, 1);
	run_passes(1);
	assert_int_equal(slow_runs, 2);         /* long before its period */
	assert_int_equal(awake, 0);             /* that pass took the kick: it idles after */
	assert_int_equal(idles, 2);
	run_passes(2);
	assert_int_equal(slow_runs, 2);
}

static struct kwork slicer;
static int slices;
static void work_slicer(void)
{
	if (++slices < 5)
		kthread_kick(&slicer);  /* more to do: the next slice at once */
}

static void test_self_kick_does_not_idle(void **state)
{
	(void)state;
	slicer = (struct kwork){ .name = "slicer", .fn = work_slicer, .period_ms = 1000 };
	kthread_register(&slicer);
	run_passes(4);
	assert_int_equal(slices, 4);
	assert_int_equal(awake, 4);
	assert_int_equal(idles, 0);
	run_passes(3);
	assert_int_equal(slices, 5);            /* done: back to its period */
	assert_int_equal(idles, 3);
}

static void test_yields_to_processes(void **state)
{
	(void)state;
	others = true;
	run_passes(3);
	assert_int_equal(yields, 3);
	assert_int_equal(idles, 0);
}

static void test_register_twice_panics(void **state)
{
	static struct kwork t = { .name = "twice", .fn = work_a };

	(void)state;
	kthread_register(&t);
	if (!setjmp(panicked)) {
		kthread_register(&t);
		fail_msg("registering a work twice did not panic");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_every_pass_in_order, setup),
		cmocka_unit_test_setup(test_periodic_once_per_period, setup),
		cmocka_unit_test_setup(test_kick_runs_at_once_and_keeps_awake, setup),
		cmocka_unit_test_setup(test_self_kick_does_not_idle, setup),
		cmocka_unit_test_setup(test_yields_to_processes, setup),
		cmocka_unit_test_setup(test_register_twice_panics, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
