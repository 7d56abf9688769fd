/*
 * Files for newlib programs: the POSIX file calls over dmos's (kernel/
 * sysnum.h, fs/sysfile.c), translating newlib's numbers (O_*, F_*, struct
 * stat, struct flock) to the kernel's (DM_* in dm_abi.h, Linux's values).
 *
 * What dmos does not have is answered here, the way Linux answers it on a
 * file system without the feature: link fails with EPERM (no hard links),
 * symlink with EPERM and readlink with EINVAL (no symbolic links: lstat is
 * stat), chown succeeds only for owner and group 0 or -1 (there is one
 * user, uid 0; getuid and friends say 0). Each first checks that the path
 * exists, so a missing one is still ENOENT.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>
#include "dm_abi.h"
#include "sys.h"

_READ_WRITE_RETURN_TYPE read(int fd, void *buf, size_t n)
{
	return sys_ret(sys3(SYS_read, fd, buf, n));
}

_READ_WRITE_RETURN_TYPE write(int fd, const void *buf, size_t n)
{
	return sys_ret(sys3(SYS_write, fd, buf, n));
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	return sys_ret(sys4(SYS_pread, fd, buf, n, off));
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return sys_ret(sys4(SYS_pwrite, fd, buf, n, off));
}

/* newlib's O_* bits are not Linux's; the kernel takes DM_O_* (Linux's). */
static const struct { int libc, dm; } oflags[] = {
	{ O_CREAT, DM_O_CREAT }, { O_EXCL, DM_O_EXCL }, { O_TRUNC, DM_O_TRUNC },
	{ O_APPEND, DM_O_APPEND }, { O_NONBLOCK, DM_O_NONBLOCK },
	{ O_DIRECTORY, DM_O_DIRECTORY }, { O_NOFOLLOW, DM_O_NOFOLLOW }, { O_CLOEXEC, DM_O_CLOEXEC },
};

static int to_dm_flags(int flags)
{
	int f = flags & O_ACCMODE;      /* 0, 1, 2 in both */

	for (unsigned i = 0; i < sizeof(oflags) / sizeof(oflags[0]); i++)
		if (flags & oflags[i].libc)
			f |= oflags[i].dm;
	return f;
}

static int from_dm_flags(int f)
{
	int flags = f & DM_O_ACCMODE;

	for (unsigned i = 0; i < sizeof(oflags) / sizeof(oflags[0]); i++)
		if (f & oflags[i].dm)
			flags |= oflags[i].libc;
	return flags;
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
	return sys_ret(sys3(SYS_open, path, to_dm_flags(flags), mode));
}

int creat(const char *path, mode_t mode)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int close(int fd)
{
	return sys_ret(sys1(SYS_close, fd));
}

off_t lseek(int fd, off_t off, int whence)
{
	return sys_ret(sys3(SYS_lseek, fd, off, whence));
}

static void to_stat(const struct dm_stat *ds, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = ds->dev;
	st->st_ino = ds->ino;
	st->st_mode = ds->mode;
	st->st_nlink = ds->nlink;
	st->st_size = ds->size;
	st->st_blocks = ds->blocks;
	st->st_blksize = ds->blksize ? ds->blksize : 1024;
	st->st_atim.tv_sec = ds->atime_ns / 1000000000;
	st->st_atim.tv_nsec = ds->atime_ns % 1000000000;
	st->st_mtim.tv_sec = ds->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = ds->mtime_ns % 1000000000;
	st->st_ctim.tv_sec = ds->ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = ds->ctime_ns % 1000000000;
}

/* SYS_fstat or SYS_stat (n) of what into *st. */
static int stat_call(long n, long what, struct stat *st)
{
	struct dm_stat ds;

	if (sys_ret(sys2(n, what, &ds)) < 0)
		return -1;
	to_stat(&ds, st);
	return 0;
}

int fstat(int fd, struct stat *st)
{
	return stat_call(SYS_fstat, fd, st);
}

int stat(const char *restrict path, struct stat *restrict st)
{
	return stat_call(SYS_stat, (long)path, st);
}

int lstat(const char *restrict path, struct stat *restrict st)
{
	return stat(path, st);          /* no symbolic links */
}

int isatty(int fd)
{
	struct dm_stat ds;

	if (sys_ret(sys2(SYS_fstat, fd, &ds)) < 0)
		return 0;
	if ((ds.mode & DM_S_IFMT) == DM_S_IFCHR)        /* the console */
		return 1;
	errno = ENOTTY;
	return 0;
}

int ioctl(int fd, unsigned long request, ...)
{
	struct dm_stat ds;

	(void)request;
	if (sys_ret(sys2(SYS_fstat, fd, &ds)) < 0)
		return -1;
	errno = ENOTTY;                 /* no requests for anything yet */
	return -1;
}

int ftruncate(int fd, off_t size)
{
	return sys_ret(sys2(SYS_ftruncate, fd, size));
}

int truncate(const char *path, off_t size)
{
	int fd = open(path, O_WRONLY), r, err;

	if (fd < 0)
		return -1;
	r = ftruncate(fd, size);
	err = errno;
	close(fd);
	errno = err;
	return r;
}

int fsync(int fd)
{
	return sys_ret(sys1(SYS_fsync, fd));
}

int fdatasync(int fd)
{
	return fsync(fd);
}

int unlink(const char *path)
{
	return sys_ret(sys1(SYS_unlink, path));
}

int mkdir(const char *path, mode_t mode)
{
	return sys_ret(sys2(SYS_mkdir, path, mode));
}

int rmdir(const char *path)
{
	return sys_ret(sys1(SYS_rmdir, path));
}

/* newlib's own rename is link + unlink: neither atomic nor possible here. */
int rename(const char *old, const char *new)
{
	return sys_ret(sys2(SYS_rename, old, new));
}

int remove(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	return S_ISDIR(st.st_mode) ? rmdir(path) : unlink(path);
}

int chdir(const char *path)
{
	return sys_ret(sys1(SYS_chdir, path));
}

/* getcwd(NULL, size) mallocs the buffer, as glibc does. */
char *getcwd(char *buf, size_t size)
{
	char *b = buf;

	if (!b) {
		size = size ? size : DM_PATH_MAX;
		if (!(b = malloc(size))) {
			errno = ENOMEM;
			return NULL;
		}
	} else if (!size) {
		errno = EINVAL;
		return NULL;
	}
	if (sys_ret(sys2(SYS_getcwd, b, size)) < 0) {
		if (!buf)
			free(b);
		return NULL;
	}
	return b;
}

/*
 * getwd, the BSD call newlib declares and does not define (postmark uses
 * it): buf has room for PATH_MAX bytes; on failure it holds the reason.
 * Through a buffer of our own, as glibc's: getcwd checks that all of the
 * size it is given is writable, and callers of getwd rarely have PATH_MAX
 * bytes (postmark passes 256, on top of the stack).
 */
char *getwd(char *buf)
{
	char path[PATH_MAX];

	if (getcwd(path, sizeof(path)))
		return strcpy(buf, path);
	strlcpy(buf, strerror(errno), PATH_MAX);
	return NULL;
}

int access(const char *path, int mode)
{
	return sys_ret(sys2(SYS_access, path, mode));  /* F_OK, R_OK, W_OK, X_OK: Linux's values */
}

int dup(int fd)
{
	return sys_ret(sys1(SYS_dup, fd));
}

int dup2(int fd, int newfd)
{
	return sys_ret(sys2(SYS_dup2, fd, newfd));
}

/* struct flock (newlib's) <-> struct dm_flock; types 1, 2, 3 <-> 0, 1, 2. */
static int lock_call(int fd, int cmd, struct flock *fl)
{
	struct dm_flock d = { (int16_t)(fl->l_type - 1), fl->l_whence, 0, fl->l_start, fl->l_len, 0, 0 };

	if (sys_ret(sys3(SYS_fcntl, fd, cmd, &d)) < 0)
		return -1;
	if (cmd == DM_F_GETLK) {
		fl->l_type = (short)(d.type + 1);
		if (d.type != DM_F_UNLCK) {
			fl->l_whence = d.whence;
			fl->l_start = d.start;
			fl->l_len = d.len;
			fl->l_pid = (short)d.pid;       /* newlib's l_pid is a short: pids above 32767 wrap */
		}
	}
	return 0;
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	switch (cmd) {
	case F_DUPFD:
		return sys_ret(sys3(SYS_fcntl, fd, DM_F_DUPFD, arg));
	case F_DUPFD_CLOEXEC:
		return sys_ret(sys3(SYS_fcntl, fd, DM_F_DUPFD_CLOEXEC, arg));
	case F_GETFD:
		return sys_ret(sys3(SYS_fcntl, fd, DM_F_GETFD, 0)) == DM_FD_CLOEXEC ? FD_CLOEXEC : 0;
	case F_SETFD:
		return sys_ret(sys3(SYS_fcntl, fd, DM_F_SETFD, arg & FD_CLOEXEC ? DM_FD_CLOEXEC : 0));
	case F_GETFL: {
		long f = sys_ret(sys3(SYS_fcntl, fd, DM_F_GETFL, 0));
		return f < 0 ? -1 : from_dm_flags((int)f);
	}
	case F_SETFL:
		return sys_ret(sys3(SYS_fcntl, fd, DM_F_SETFL, to_dm_flags((int)arg)));
	case F_GETLK:
		return lock_call(fd, DM_F_GETLK, (struct flock *)arg);
	case F_SETLK:
		return lock_call(fd, DM_F_SETLK, (struct flock *)arg);
	case F_SETLKW:
		return lock_call(fd, DM_F_SETLKW, (struct flock *)arg);
	default:
		errno = EINVAL;
		return -1;
	}
}

/*
 * flock() over the process's byte-range locks of the whole file: the
 * locks belong to the process, not to the open file, and closing any
 * descriptor of the file drops them (fcntl's rules, as with flock
 * emulated on fcntl elsewhere).
 */
int flock(int fd, int op)
{
	struct flock fl = { 0, SEEK_SET, 0, 0, 0, 0 };

	switch (op & ~LOCK_NB) {
	case LOCK_SH:
		fl.l_type = F_RDLCK;
		break;
	case LOCK_EX:
		fl.l_type = F_WRLCK;
		break;
	case LOCK_UN:
		fl.l_type = F_UNLCK;
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	if (fcntl(fd, op & LOCK_NB ? F_SETLK : F_SETLKW, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		errno = EWOULDBLOCK;
	return -1;
}

int chmod(const char *path, mode_t mode)
{
	return sys_ret(sys2(SYS_chmod, path, mode));
}

int fchmod(int fd, mode_t mode)
{
	return sys_ret(sys2(SYS_fchmod, fd, mode));
}

mode_t umask(mode_t mask)
{
	return (mode_t)sys1(SYS_umask, mask);
}

static int set_times(const char *path, int64_t atime, int64_t mtime)
{
	int64_t t[2] = { atime, mtime };

	return sys_ret(sys2(SYS_utimens, path, &t));
}

int utimes(const char *path, const struct timeval *tv)
{
	if (!tv)
		return sys_ret(sys2(SYS_utimens, path, NULL));
	return set_times(path, tv[0].tv_sec * 1000000000LL + tv[0].tv_usec * 1000LL,
			 tv[1].tv_sec * 1000000000LL + tv[1].tv_usec * 1000LL);
}

int utime(const char *path, const struct utimbuf *t)
{
	if (!t)
		return sys_ret(sys2(SYS_utimens, path, NULL));
	return set_times(path, t->actime * 1000000000LL, t->modtime * 1000000000LL);
}

/* ---- what dmos does not have --------------------------------------------------------- */

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int link(const char *old, const char *new)
{
	(void)new;
	if (!exists(old))
		return -1;
	errno = EPERM;                  /* no hard links */
	return -1;
}

int symlink(const char *target, const char *path)
{
	(void)target;
	(void)path;
	errno = EPERM;                  /* no symbolic links */
	return -1;
}

ssize_t readlink(const char *restrict path, char *restrict buf, size_t n)
{
	(void)buf;
	(void)n;
	if (!exists(path))
		return -1;
	errno = EINVAL;                 /* it is not a symbolic link: none is */
	return -1;
}

static int owner_ok(uid_t uid, gid_t gid)
{
	if ((uid == 0 || uid == (uid_t)-1) && (gid == 0 || gid == (gid_t)-1))
		return 0;
	errno = EPERM;                  /* there is one user, 0 */
	return -1;
}

int chown(const char *path, uid_t uid, gid_t gid)
{
	return exists(path) ? owner_ok(uid, gid) : -1;
}

int lchown(const char *path, uid_t uid, gid_t gid)
{
	return chown(path, uid, gid);
}

int fchown(int fd, uid_t uid, gid_t gid)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : owner_ok(uid, gid);
}

uid_t getuid(void) { return 0; }
uid_t geteuid(void) { return 0; }
gid_t getgid(void) { return 0; }
gid_t getegid(void) { return 0; }
