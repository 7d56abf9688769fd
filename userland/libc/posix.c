/*
 * POSIX calls that newlib declares but leaves to the system, and that
 * programs expect: clocks and sleeping, sched_yield, getppid, waitpid,
 * posix_memalign.
 */
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "dm_abi.h"
#include "sys.h"

_Static_assert(DM_SIGKILL == SIGKILL && DM_SIGBUS == SIGBUS && DM_SIGSEGV == SIGSEGV,
	       "the kernel's signal numbers are the C library's");

static int dm_clock(clockid_t id)
{
	switch (id) {
	case CLOCK_REALTIME:
		return DM_CLOCK_REALTIME;
	case CLOCK_MONOTONIC:
		return DM_CLOCK_MONOTONIC;
	default:
		return -1;
	}
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	int c = dm_clock(id);
	long ns;

	if (c < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((ns = sys_ret(sys1(SYS_clock_ns, c))) < 0)
		return -1;
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	return 0;
}

int clock_getres(clockid_t id, struct timespec *res)
{
	if (dm_clock(id) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (res) {
		res->tv_sec = 0;
		res->tv_nsec = 1;
	}
	return 0;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000) {
		errno = EINVAL;
		return -1;
	}
	if (rem)
		rem->tv_sec = rem->tv_nsec = 0;
	return sys_ret(sys1(SYS_sleep_ns, req->tv_sec * 1000000000 + req->tv_nsec));
}

unsigned sleep(unsigned s)
{
	return sys_failed(sys1(SYS_sleep_ns, s * 1000000000UL)) ? s : 0;
}

int usleep(useconds_t us)
{
	return sys_ret(sys1(SYS_sleep_ns, us * 1000UL));
}

int sched_yield(void)
{
	return sys_ret(sys0(SYS_yield));
}

pid_t getppid(void)
{
	return sys0(SYS_getppid);
}

/* Only blocking waits: WNOHANG and WUNTRACED are refused. */
pid_t waitpid(pid_t pid, int *status, int options)
{
	if (options) {
		errno = EINVAL;
		return -1;
	}
	return sys_ret(sys2(SYS_wait, pid, status));
}

int posix_memalign(void **p, size_t align, size_t size)
{
	void *m;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	if (!(m = memalign(align, size)))
		return ENOMEM;
	*p = m;
	return 0;
}
