/*
 * newlib's OS layer for dmos: the functions newlib's libc.a calls and
 * leaves undefined (built with --disable-newlib-supplied-syscalls, so it
 * calls them by their POSIX names, plus _exit). `nm -u libc.a` lists them.
 *
 * Each is one system call (kernel/sysnum.h) with errno set on failure;
 * what dmos has no call for fails with ENOSYS. Programs run with fds 0, 1
 * and 2 on the node's console.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
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

_READ_WRITE_RETURN_TYPE read(int fd, void *buf, size_t n)
{
	return sys_ret(sys3(SYS_read, fd, buf, n));
}

_READ_WRITE_RETURN_TYPE write(int fd, const void *buf, size_t n)
{
	return sys_ret(sys3(SYS_write, fd, buf, n));
}

/* newlib's O_* bits are not Linux's; the kernel takes DM_O_* (Linux's). */
static int open_flags(int flags)
{
	int f = flags & O_ACCMODE;      /* 0, 1, 2 in both */

	if (flags & O_CREAT)
		f |= DM_O_CREAT;
	if (flags & O_EXCL)
		f |= DM_O_EXCL;
	if (flags & O_TRUNC)
		f |= DM_O_TRUNC;
	if (flags & O_APPEND)
		f |= DM_O_APPEND;
	return f;
}

int open(const char *path, int flags, ...)
{
	int mode = 0;

	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	return sys_ret(sys3(SYS_open, path, open_flags(flags), mode));
}

int close(int fd)
{
	return sys_ret(sys1(SYS_close, fd));
}

off_t lseek(int fd, off_t off, int whence)
{
	return sys_ret(sys3(SYS_lseek, fd, off, whence));
}

int fstat(int fd, struct stat *st)
{
	struct dm_stat ds;

	if (sys_ret(sys2(SYS_fstat, fd, &ds)) < 0)
		return -1;
	memset(st, 0, sizeof(*st));
	st->st_dev = ds.dev;
	st->st_ino = ds.ino;
	st->st_mode = ds.mode;
	st->st_nlink = ds.nlink;
	st->st_size = ds.size;
	st->st_blocks = ds.blocks;
	st->st_blksize = ds.blksize ? ds.blksize : 1024;
	st->st_atim.tv_sec = ds.atime_ns / 1000000000;
	st->st_atim.tv_nsec = ds.atime_ns % 1000000000;
	st->st_mtim.tv_sec = ds.mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = ds.mtime_ns % 1000000000;
	st->st_ctim.tv_sec = ds.ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = ds.ctime_ns % 1000000000;
	return 0;
}

/* No SYS_stat: open, fstat, close. */
int stat(const char *restrict path, struct stat *restrict st)
{
	int fd = open(path, O_RDONLY), r, err;

	if (fd < 0)
		return -1;
	r = fstat(fd, st);
	err = errno;
	close(fd);
	errno = err;
	return r;
}

int isatty(int fd)
{
	if (fd >= 0 && fd <= 2)         /* the console */
		return 1;
	errno = ENOTTY;
	return 0;
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

/* Not yet in dmos: the file system is the read-only initrd. */
int link(const char *old, const char *new) { (void)old; (void)new; return sys_enosys(); }
int unlink(const char *path) { (void)path; return sys_enosys(); }
int mkdir(const char *path, mode_t mode) { (void)path; (void)mode; return sys_enosys(); }
int fcntl(int fd, int cmd, ...) { (void)fd; (void)cmd; return sys_enosys(); }

/* No signals to mask, no entropy source. */
int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	(void)how; (void)set; (void)old;
	return sys_enosys();
}

int getentropy(void *buf, size_t n) { (void)buf; (void)n; return sys_enosys(); }
