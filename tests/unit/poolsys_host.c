/* Host side of kernel/cluster/poolsys.h for unit tests: real time, real fences. */
#include <sched.h>
#include <time.h>
#include "kernel/cluster/poolsys.h"

void pool_flush(const volatile void *p, size_t n)
{
	(void)p;
	(void)n;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint64_t pool_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pool_relax(void)
{
	sched_yield();
}
