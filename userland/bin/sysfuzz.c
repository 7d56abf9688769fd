/*
 * sysfuzz: call the kernel with random system call numbers, random
 * arguments and random pointers (NULL, kernel addresses, unmapped user
 * addresses, misaligned ones, pointers into our own memory) for a bounded
 * time. The kernel must answer every one with a result or an errno and
 * never fault; this program must survive (calls that would end or stop it,
 * like exit and kill of itself, are skipped).
 *
 *   sysfuzz [SECONDS] [SEED]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernel/sysnum.h"

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static long raw(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			 "r"(r9) : "rcx", "r11", "memory");
	return r;
}

static char scratch[8192];

/* An argument: a small number, a huge one, or a pointer of some kind. */
static long arg(void)
{
	switch (rnd() % 10) {
	case 0: return 0;
	case 1: return (long)(rnd() % 64);
	case 2: return -(long)(rnd() % 64);
	case 3: return (long)rnd();
	case 4: return (long)0xffffffff80100000UL + (long)(rnd() % 0x100000);  /* kernel text */
	case 5: return (long)0xffff800000000000UL + (long)(rnd() % (1UL << 30)); /* direct map */
	case 6: return (long)(rnd() % 0x400000);                                 /* below the program */
	case 7: return (long)(scratch + rnd() % sizeof(scratch));               /* ours */
	case 8: return (long)0x00007fffffffffffUL - (long)(rnd() % 4096);        /* top of user space */
	default: return (long)(scratch + sizeof(scratch) - rnd() % 16);         /* runs off our end */
	}
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 5;
	struct timespec t0, t;
	long calls = 0, errors = 0;

	rng = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x9E3779B97F4A7C15ULL;
	if (!rng)
		rng = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 256; i++) {
			long n = (long)(rnd() % (SYS_MAX + 8)) - 4;
			if (n == SYS_exit || n == SYS_kill || n == SYS_sleep_ns || n == SYS_read ||
			    n == SYS_wait || n == SYS_futex_wait || n == SYS_spawn)
				continue;       /* would end, stop or block the fuzzer itself */
			long a = arg(), b = arg(), c = arg();
			if (n == SYS_write && (a == 1 || a == 2))
				c &= 63;        /* keep the console readable */
			if (n == SYS_dm_alloc || n == SYS_sbrk)
				a &= 0xfffff;   /* memory it may get: keep it small */
			if (n == SYS_socket)
				b |= 04000;     /* SOCK_NONBLOCK: its accepts, connects, sends do not block */
			if (n == SYS_poll)
				c = 0;          /* a timeout of 0: poll does not block */
			if (n == SYS_fcntl && b == 4)
				c |= 04000;     /* F_SETFL keeps a socket's O_NONBLOCK */
			long r = raw(n, a, b, c, arg(), arg(), arg());
			calls++;
			errors += r < 0 && r > -4096;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < secs);
	printf("\nsysfuzz: %ld calls in %d s, %ld refused with an errno; kernel still here\n",
	       calls, secs, errors);
	return 0;
}
