/*
 * __dm_syscall6 for a Linux host: maps each dmos system call to Linux's,
 * so a dmos program (crt0, libc stubs, newlib, libdm) runs unchanged on
 * the build machine. Only for `make -C userland host-test`: it checks the
 * user side without a dmos kernel. Calls with no Linux twin (the pool
 * API, ps, nodeinfo, spawn) fail with ENOSYS, which also exercises the
 * errno mapping. The file calls take Linux's flags and structures as they
 * are (dm_abi.h uses Linux's values), except stat and getdents, which are
 * rewritten.
 */
#include <stdint.h>
#include "kernel/sysnum.h"
#include "dm_abi.h"

enum {  /* Linux x86_64 system call numbers */
	L_read = 0, L_write = 1, L_open = 2, L_close = 3, L_stat = 4, L_fstat = 5, L_lseek = 8,
	L_brk = 12, L_pread64 = 17, L_pwrite64 = 18, L_access = 21, L_sched_yield = 24,
	L_dup = 32, L_dup2 = 33, L_nanosleep = 35, L_getpid = 39, L_wait4 = 61, L_kill = 62,
	L_fcntl = 72, L_fsync = 74, L_ftruncate = 77, L_getcwd = 79, L_chdir = 80,
	L_rename = 82, L_mkdir = 83, L_rmdir = 84, L_unlink = 87, L_chmod = 90, L_fchmod = 91,
	L_umask = 95, L_getppid = 110, L_getdents64 = 217, L_clock_gettime = 228,
	L_exit_group = 231, L_utimensat = 280,
};
#define L_AT_FDCWD (-100)
#define L_ENOSYS 38
#define L_ENOMEM 12

static long linux_call(long n, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}

struct linux_stat {
	uint64_t dev, ino, nlink;
	uint32_t mode, uid, gid, pad0;
	uint64_t rdev;
	int64_t size, blksize, blocks;
	int64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
	int64_t unused[3];
};

struct linux_timespec { int64_t sec, nsec; };

/* fstat (n L_fstat) or stat (L_stat) of what. */
static long do_stat(long n, long what, struct dm_stat *st)
{
	struct linux_stat ls;
	long r = linux_call(n, what, (long)&ls, 0, 0);

	if (r < 0)
		return r;
	*st = (struct dm_stat){
		.dev = ls.dev, .ino = ls.ino, .mode = ls.mode, .nlink = (uint32_t)ls.nlink,
		.size = (uint64_t)ls.size, .blocks = (uint64_t)ls.blocks,
		.blksize = (uint32_t)ls.blksize,
		.atime_ns = ls.atime * 1000000000 + ls.atime_ns,
		.mtime_ns = ls.mtime * 1000000000 + ls.mtime_ns,
		.ctime_ns = ls.ctime * 1000000000 + ls.ctime_ns,
	};
	return 0;
}

/* Linux's struct linux_dirent64 records, rewritten as struct dm_dirent. */
static long do_getdents(long fd, char *buf, long n)
{
	static char lbuf[4096];
	long got = linux_call(L_getdents64, fd, (long)lbuf, n < (long)sizeof(lbuf) ? n : (long)sizeof(lbuf), 0);
	long in = 0, out = 0;

	while (got > 0 && in < got) {
		struct { uint64_t ino; int64_t off; uint16_t reclen; uint8_t type; char name[]; }
			*l = (void *)(lbuf + in);
		struct dm_dirent *d = (void *)(buf + out);
		long len = 0;
		while (l->name[len])
			len++;
		d->ino = l->ino;
		d->type = l->type;
		d->namelen = (uint8_t)len;
		d->reclen = (uint16_t)DM_DIRENT_SIZE(len);
		for (long i = 0; i <= len; i++)
			d->name[i] = l->name[i];
		out += d->reclen;
		in += l->reclen;
	}
	return got < 0 ? got : out;
}

/* dmos's times in ns (DM_UTIME_NOW, DM_UTIME_OMIT) as Linux's timespecs. */
static long do_utimens(long path, const int64_t *t)
{
	struct linux_timespec ts[2];

	if (!t)
		return linux_call(L_utimensat, L_AT_FDCWD, path, 0, 0);
	for (int i = 0; i < 2; i++) {
		ts[i].sec = t[i] < 0 ? 0 : t[i] / 1000000000;
		ts[i].nsec = t[i] == DM_UTIME_NOW ? (1L << 30) - 1 :      /* UTIME_NOW */
			     t[i] == DM_UTIME_OMIT ? (1L << 30) - 2 : t[i] % 1000000000;
	}
	return linux_call(L_utimensat, L_AT_FDCWD, path, (long)ts, 0);
}

/* dmos's sbrk over Linux's brk. */
static long do_sbrk(long incr)
{
	static long cur;
	long old;

	if (!cur)
		cur = linux_call(L_brk, 0, 0, 0, 0);
	old = cur;
	if (incr) {
		long got = linux_call(L_brk, cur + incr, 0, 0, 0);
		if (got != cur + incr)
			return -L_ENOMEM;
		cur = got;
	}
	return old;
}

static long do_clock(long clock)
{
	struct linux_timespec ts;
	long r = linux_call(L_clock_gettime, clock == DM_CLOCK_MONOTONIC ? 1 : 0, (long)&ts, 0, 0);

	return r < 0 ? r : ts.sec * 1000000000 + ts.nsec;
}

static long do_sleep(uint64_t ns)
{
	struct linux_timespec ts = { (int64_t)(ns / 1000000000), (int64_t)(ns % 1000000000) };

	return linux_call(L_nanosleep, (long)&ts, 0, 0, 0);
}

long __dm_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	(void)e; (void)f;
	switch (n) {
	case SYS_exit:          return linux_call(L_exit_group, a, 0, 0, 0);
	case SYS_write:         return linux_call(L_write, a, b, c, 0);
	case SYS_read:          return linux_call(L_read, a, b, c, 0);
	case SYS_open:          return linux_call(L_open, a, b, c, 0);  /* DM_O_* are Linux's */
	case SYS_close:         return linux_call(L_close, a, 0, 0, 0);
	case SYS_lseek:         return linux_call(L_lseek, a, b, c, 0);
	case SYS_fstat:         return do_stat(L_fstat, a, (struct dm_stat *)b);
	case SYS_stat:          return do_stat(L_stat, a, (struct dm_stat *)b);
	case SYS_pread:         return linux_call(L_pread64, a, b, c, d);
	case SYS_pwrite:        return linux_call(L_pwrite64, a, b, c, d);
	case SYS_ftruncate:     return linux_call(L_ftruncate, a, b, 0, 0);
	case SYS_fsync:         return linux_call(L_fsync, a, 0, 0, 0);
	case SYS_unlink:        return linux_call(L_unlink, a, 0, 0, 0);
	case SYS_mkdir:         return linux_call(L_mkdir, a, b, 0, 0);
	case SYS_rmdir:         return linux_call(L_rmdir, a, 0, 0, 0);
	case SYS_rename:        return linux_call(L_rename, a, b, 0, 0);
	case SYS_getdents:      return do_getdents(a, (char *)b, c);
	case SYS_chdir:         return linux_call(L_chdir, a, 0, 0, 0);
	case SYS_getcwd:        return linux_call(L_getcwd, a, b, 0, 0);
	case SYS_access:        return linux_call(L_access, a, b, 0, 0);
	case SYS_dup:           return linux_call(L_dup, a, 0, 0, 0);
	case SYS_dup2:          return linux_call(L_dup2, a, b, 0, 0);
	case SYS_fcntl:         return linux_call(L_fcntl, a, b, c, 0);  /* DM_F_*, dm_flock: Linux's */
	case SYS_chmod:         return linux_call(L_chmod, a, b, 0, 0);
	case SYS_fchmod:        return linux_call(L_fchmod, a, b, 0, 0);
	case SYS_utimens:       return do_utimens(a, (const int64_t *)b);
	case SYS_umask:         return linux_call(L_umask, a, 0, 0, 0);
	case SYS_sbrk:          return do_sbrk(a);
	case SYS_getpid:        return linux_call(L_getpid, 0, 0, 0, 0);
	case SYS_getppid:       return linux_call(L_getppid, 0, 0, 0, 0);
	case SYS_kill:          return linux_call(L_kill, a, b, 0, 0);
	case SYS_wait:          return linux_call(L_wait4, a, b, 0, 0);
	case SYS_sleep_ns:      return do_sleep((uint64_t)a);
	case SYS_clock_ns:      return do_clock(a);
	case SYS_yield:         return linux_call(L_sched_yield, 0, 0, 0, 0);
	default:                return -L_ENOSYS;
	}
}
