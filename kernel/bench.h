/*
 * In-kernel benchmarks: what the allocators and a block move cost, timed on
 * the node itself. The monitor's `bench` command runs the pool ones;
 * bench=frames on the command line runs the frame allocator's at boot.
 * bench/run.py reads the lines they print.
 */
#ifndef KERNEL_BENCH_H
#define KERNEL_BENCH_H

/**
 * bench_frames - time one local frame alloc+free, per order; prints a line per order
 * Context: kmain(), before any process runs. Panics if the allocator fails.
 */
void bench_frames(void);

/**
 * bench_palloc - pool page alloc+free pairs per second on this node, over secs seconds
 * Context: the kernel thread (the monitor), pool joined. Prints its result line.
 */
void bench_palloc(long secs);

/**
 * bench_move - move the translation block of one live pool page count times
 * Context: the kernel thread (the monitor), pool joined. Prints its result
 * line, or a usage line when count < 1 or no pool page is free.
 */
void bench_move(long count);

#endif
