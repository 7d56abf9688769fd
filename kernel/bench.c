/*
 * In-kernel benchmarks (see bench.h): tight loops over the frame allocator,
 * the pool allocator and the block mover, timed with the node's clock.
 * They run in the kernel thread and keep it for as long as they take.
 */
#include "kernel/kernel.h"
#include "kernel/bench.h"
#include "kernel/cluster/pool.h"
#include "sched/sched.h"
#include "mm/mm.h"
#include "mm/palloc.h"
#include "mm/pmem.h"
#include "arch/arch.h"

#define BENCH_PID ((uint32_t)proc_table()[0].pid)    /* owner recorded for the pages: the kernel thread */

void bench_frames(void)
{
	static const unsigned orders[] = { 0, 3, 9 };
	enum { ROUNDS = 20000 };

	for (unsigned i = 0; i < ARRAY_SIZE(orders); i++) {
		uint64_t t0 = arch_time_ns();
		for (int r = 0; r < ROUNDS; r++) {
			uint64_t pa = frame_alloc(orders[i]);
			if (pa == FRAME_NONE || frame_free(pa, orders[i]))
				panic("bench: frame allocator failed at order %u", orders[i]);
		}
		uint64_t ns = arch_time_ns() - t0;
		printk("node %d: bench frames order %u: %lu ns per alloc+free (%d rounds)\n",
		       self.id, orders[i], ns / ROUNDS, ROUNDS);
	}
}

void bench_palloc(long secs)
{
	uint64_t end = arch_time_ns() + (uint64_t)secs * 1000000000ULL, pairs = 0;
	uint64_t t0 = arch_time_ns();

	while (arch_time_ns() < end) {
		for (int i = 0; i < 64; i++) {
			int64_t ppn = palloc_alloc(pool.palloc, BENCH_PID);
			if (ppn < 0 || palloc_free(pool.palloc, ppn)) {
				printk("node %d: bench palloc: failed (%ld)\n", self.id, ppn);
				return;
			}
		}
		pairs += 64;
	}
	uint64_t ns = arch_time_ns() - t0;
	printk("node %d: bench palloc: %lu alloc+free per second (%lu in %lu ms)\n", self.id,
	       pairs * 1000000000UL / ns, pairs, ns / 1000000);
}

void bench_move(long count)
{
	int64_t ppn = count < 1 ? -EINVAL : pmem_alloc(BENCH_PID);
	uint64_t g = 1UL << pool.super->gshift, t0, worst = 0;
	uint64_t check = 0xbe4c000000000000ULL ^ (uint64_t)ppn; /* the moves must keep it */
	int err = 0;

	if (ppn < 0) {
		printk("node %d: bench move: usage: bench move COUNT (needs a free pool page)\n", self.id);
		return;
	}
	uint64_t *p = pmem_page(ppn);
	p[0] = check;
	t0 = arch_time_ns();
	for (long i = 0; i < count && !err; i++) {
		uint64_t t = arch_time_ns();
		err = pmem_move(ppn / g);
		worst = MAX(worst, arch_time_ns() - t);
	}
	uint64_t ns = arch_time_ns() - t0;
	if (p[0] != check)
		err = -EIO;
	pmem_free(ppn);
	printk("node %d: bench move: %ld moves of %lu KiB, %lu us each, worst %lu us (%d)\n",
	       self.id, count, g * 4, ns / count / 1000, worst / 1000, err);
}
