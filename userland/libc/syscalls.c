/*
 * newlib's OS layer for dmos: the functions newlib's libc.a calls and
 * leaves undefined (built with --disable-newlib-supplied-syscalls, so it
 * calls them by their POSIX names, plus _exit). `nm -u libc.a` lists them.
 *
 * Each is one system call (kernel/sysnum.h) with errno set on failure;
 * what dmos has no call for fails with ENOSYS. The file calls are in
 * files.c, directories in dirent.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "dm_abi.h"
#include "sys.h"

void _exit(int status)
{
	for (;;)
		sys1(SYS_exit, status);
}

void *sbrk(ptrdiff_t incr)
{
	long r = sys1(SYS_sbrk, incr);

	if (sys_failed(r)) {
		errno = ENOMEM;
		return (void *)-1;
	}
	return (void *)r;
}

pid_t getpid(void)
{
	return sys0(SYS_getpid);
}

int kill(pid_t pid, int sig)
{
	return sys_ret(sys2(SYS_kill, pid, sig));
}

pid_t wait(int *status)
{
	return sys_ret(sys2(SYS_wait, -1, status));
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	long ns = sys1(SYS_clock_ns, DM_CLOCK_REALTIME);

	(void)tz;
	if (sys_ret(ns) < 0)
		return -1;
	tv->tv_sec = ns / 1000000000;
	tv->tv_usec = ns % 1000000000 / 1000;
	return 0;
}

/*
 * No per-process CPU time yet: times() (and so clock()) counts the time
 * since the program started, in CLOCKS_PER_SEC units.
 */
static long start_ns;

__attribute__((constructor)) static void note_start(void)
{
	start_ns = sys1(SYS_clock_ns, DM_CLOCK_MONOTONIC);
}

clock_t times(struct tms *t)
{
	long now = sys1(SYS_clock_ns, DM_CLOCK_MONOTONIC);

	if (sys_ret(now) < 0)
		return (clock_t)-1;
	t->tms_utime = (now - start_ns) / (1000000000 / CLOCKS_PER_SEC);
	t->tms_stime = t->tms_cutime = t->tms_cstime = 0;
	return now / (1000000000 / CLOCKS_PER_SEC);
}

/* Not in dmos: processes start with dm_spawn(), there is no fork/exec. */
int fork(void) { return sys_enosys(); }
int execve(const char *path, char *const argv[], char *const envp[])
{
	(void)path; (void)argv; (void)envp;
	return sys_enosys();
}

/* No signals to mask, no entropy source. */
int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	(void)how; (void)set; (void)old;
	return sys_enosys();
}

int getentropy(void *buf, size_t n) { (void)buf; (void)n; return sys_enosys(); }
