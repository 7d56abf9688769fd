/*
 * dmtest: files (see main.c). Every file system call, on the initrd
 * (read-only: "/", or "/initrd" when the shared disk's dmosfs is "/"), on
 * whichever of the two is "/", on /tmp (this node's ramfs, writable) and,
 * when the node has the shared disk, on dmosfs ("/", or "/disk" with
 * root=initrd): the file_disk_ tests run there what the others run on
 * /tmp, and the errno of bad arguments to each call.
 * This file: reading, writing and seeking, descriptors, attributes, and
 * the errno of bad pointers, descriptors, flags and names; it also holds
 * the helpers the other file tests share. dirs.c: names and directories;
 * locks.c: record locks between processes; tools.c: descriptors given to
 * a spawned child, the small tools and the shell. Each test works in a
 * directory of its own, /tmp/dmtPID.TAG (or DMOSFS/dmtPID.TAG), and
 * removes it.
 */
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <utime.h>
#include "dmtest.h"

/* The test's directory /tmp/PREFIX.tag, made empty; path(name) names a file in it. */
char dir[64];

void rmtree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (stat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	if ((d = opendir(path))) {
		while ((de = readdir(d))) {
			char sub[DM_PATH_MAX];
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
				snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
				rmtree(sub);
			}
		}
		closedir(d);
	}
	rmdir(path);
}

const char *workdir(const char *tag)
{
	return workdir_in("/tmp", tag);
}

/* The test's directory TOP/PREFIX.tag instead, on another file system. */
const char *workdir_in(const char *top, const char *tag)
{
	snprintf(dir, sizeof(dir), "%s/%s.%s", strcmp(top, "/") ? top : "", prefix, tag);
	rmtree(dir);
	if (mkdir(dir, 0755) < 0)
		return fail("mkdir(%s): %s", dir, ename(errno));
	return NULL;
}

/* "/" when the initrd is below it, else "/disk" if that is a file system of its own. */
const char *dmosfs_top(void)
{
	struct stat root, disk;

	if (strcmp(initrd(), "/"))
		return "/";
	if (stat("/", &root) == 0 && stat("/disk", &disk) == 0 && S_ISDIR(disk.st_mode) &&
	    disk.st_dev != root.st_dev)
		return "/disk";
	return NULL;
}

const char *diskdir(const char *tag)
{
	const char *top = dmosfs_top(), *err;

	if (!top) {
		skipped = "no dmosfs here (no shared disk)";
		return NULL;
	}
	if ((err = workdir_in(top, tag)) && errno == EROFS) {
		skipped = "dmosfs is mounted read-only here";
		return NULL;
	}
	return err;
}

const char *in_workdir(const char *tag, const char *(*body)(void))
{
	const char *err = workdir(tag);

	return err ? err : body();
}

const char *in_diskdir(const char *tag, const char *(*body)(void))
{
	const char *err = diskdir(tag);

	return err || skipped ? err : body();
}

const char *path(const char *name)
{
	static char bufs[4][DM_PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, DM_PATH_MAX, "%s/%s", dir, name);
	return b;
}

/* A file holding s. Return: 0 or -1. */
int put(const char *p, const char *s)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ok = fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s);

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* What file p holds (at most n - 1 bytes), NUL-terminated; "" if it cannot be read. */
const char *get(const char *p)
{
	static char buf[1024];
	int fd = open(p, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* ---- the initrd: "/", or "/initrd" below dmosfs ------------------------------------ */

/*
 * Where the initrd is: "/initrd" if that is a directory (dmosfs is "/"),
 * else "/". Looked at once: a process's mounts stay as they were at boot.
 */
const char *initrd(void)
{
	static const char *top;
	struct stat st;
	int e = errno;

	if (!top)
		top = stat("/initrd", &st) == 0 && S_ISDIR(st.st_mode) ? "/initrd" : "/";
	errno = e;
	return top;
}

/* The initrd's file name: "/initrd/name" or "/name" (in one of 4 buffers, used in turn). */
const char *ird(const char *name)
{
	static char bufs[4][DM_PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];
	const char *top = initrd();

	snprintf(b, DM_PATH_MAX, "%s/%s", strcmp(top, "/") ? top : "", name);
	return b;
}

/* Is the cwd the initrd's top directory (where programs start)? */
bool cwd_is_initrd(void)
{
	struct stat here, top;

	return stat(".", &here) == 0 && stat(initrd(), &top) == 0 && here.st_ino == top.st_ino &&
	       here.st_dev == top.st_dev;
}

const char *t_file_initrd_read(void)
{
	/* the initrd's top ("" when it is "/") in each; the relative ones from its top */
	static const char *names[] = { "%s/dmtest", "/%s//dmtest", "/tmp/..%s/dmtest",
				       "/./tmp/../.%s/./dmtest", "dmtest", "./dmtest" };
	const char *me = ird("dmtest"), *top = strcmp(initrd(), "/") ? initrd() : "";
	bool here = cwd_is_initrd();
	struct stat st, st2;
	char buf[8], name[DM_PATH_MAX];
	int fd;

	CHECK(stat(me, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 4096,
	      "stat(%s): %s", me, ename(errno));
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strchr(names[i], '%') && !here)
			continue;       /* started elsewhere: the relative names name other files */
		snprintf(name, sizeof(name), names[i], top);
		CHECK(stat(name, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_dev == st.st_dev,
		      "stat(%s) is not %s's", name, me);
	}
	fd = open(me, O_RDONLY);
	CHECK(fd >= 3, "open(%s): %s", me, ename(errno));
	CHECK(read(fd, buf, 4) == 4 && !memcmp(buf, "\177ELF", 4), "no ELF magic");
	CHECK(pread(fd, buf, 3, 1) == 3 && !memcmp(buf, "ELF", 3), "pread at 1");
	CHECK(lseek(fd, 0, SEEK_CUR) == 4, "pread moved the offset");
	CHECK(lseek(fd, 0, SEEK_END) == st.st_size, "SEEK_END is not the size");
	CHECK(read(fd, buf, 8) == 0, "read at the end is not 0");
	CHECK(lseek(fd, st.st_size + 100, SEEK_SET) == st.st_size + 100, "seek past the end");
	CHECK(read(fd, buf, 8) == 0 && pread(fd, buf, 8, st.st_size + 5) == 0, "read past the end");
	CHECK(lseek(fd, -2, SEEK_END) == st.st_size - 2 && read(fd, buf, 8) == 2, "the last 2 bytes");
	CHECK(fstat(fd, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_size == st.st_size, "fstat");
	ERR(lseek(fd, -1, SEEK_SET), EINVAL);
	ERR(lseek(fd, -st.st_size - 1, SEEK_END), EINVAL);
	ERR(pread(fd, buf, 1, -1), EINVAL);
	ERR(pread(1, buf, 1, 0), ESPIPE);
	close(fd);
	return NULL;
}

const char *t_file_initrd_readonly(void)
{
	int fd = open(ird("hello"), O_RDONLY);
	char c;

	CHECK(fd >= 3, "open(%s): %s", ird("hello"), ename(errno));
	ERR(write(fd, "x", 1), EBADF);
	ERR(ftruncate(fd, 0), EINVAL);
	ERR(fchmod(fd, 0600), EROFS);
	ERR(read(1, &c, 1), EBADF);             /* the console's 1 is write-only */
	close(fd);
	ERR(open(ird("hello"), O_WRONLY), EROFS);
	ERR(open(ird("hello"), O_RDONLY | O_TRUNC), EROFS);
	ERR(open(ird("newfile"), O_WRONLY | O_CREAT, 0644), EROFS);
	ERR(open(ird("hello"), O_RDONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	fd = open(ird("hello"), O_RDONLY | O_CREAT, 0644);  /* there already: nothing to make */
	CHECK(fd >= 0, "open(%s, O_CREAT): %s", ird("hello"), ename(errno));
	close(fd);
	ERR(unlink(ird("hello")), EROFS);
	ERR(unlink(ird("nothing-here")), ENOENT);
	ERR(mkdir(ird("newdir"), 0755), EROFS);
	ERR(mkdir(ird("hello"), 0755), EEXIST);
	ERR(rmdir(ird("hello")), EROFS);
	ERR(rename(ird("hello"), ird("hello2")), EROFS);
	ERR(chmod(ird("hello"), 0700), EROFS);
	ERR(access(ird("hello"), W_OK), EROFS);
	CHECK(access(ird("hello"), R_OK | X_OK) == 0 && access("/", F_OK) == 0, "access: %s", ename(errno));
	ERR(rmdir("/tmp"), EBUSY);              /* a mount point */
	ERR(rename("/tmp", "/tmp2"), EBUSY);
	ERR(unlink("/tmp"), EISDIR);
	ERR(rmdir("/"), EBUSY);
	if (strcmp(initrd(), "/")) {            /* the initrd's own mount point */
		ERR(rmdir(initrd()), EBUSY);
		ERR(rename(initrd(), "/initrd2"), EBUSY);
	}
	return NULL;
}

const char *t_file_bad_args(void)
{
	struct stat st;
	char buf[16];
	int fd = open("/tmp", O_RDONLY);

	CHECK(fd >= 0, "open(/tmp): %s", ename(errno));
	ERR(stat(NULL, &st), EFAULT);
	ERR(stat(KADDR, &st), EFAULT);
	RAW(-LINUX_EFAULT, SYS_stat, ird("hello"), KADDR, 0);  /* libc's stat copies: raw calls */
	RAW(-LINUX_EFAULT, SYS_stat, ird("hello"), UNMAPPED, 0);
	RAW(-LINUX_EFAULT, SYS_stat, ird("hello"), t_file_bad_args, 0);
	ERR(mkdir(UNMAPPED, 0755), EFAULT);
	ERR(unlink(NONCANON), EFAULT);
	ERR(rmdir(KADDR), EFAULT);
	ERR(rename(KADDR, "/tmp/x"), EFAULT);
	ERR(rename("/tmp/x", NULL), EFAULT);
	ERR(chdir(NULL), EFAULT);
	ERR(access(KADDR, F_OK), EFAULT);
	ERR(chmod(KADDR, 0644), EFAULT);
	ERR(getcwd(KADDR, 64) ? 0 : -1, EFAULT);
	RAW(-LINUX_EFAULT, SYS_getdents, fd, KADDR, 4096);
	RAW(-LINUX_EFAULT, SYS_getdents, fd, UNMAPPED, 4096);
	RAW(-LINUX_EINVAL, SYS_getdents, fd, buf, 8);   /* not even one entry fits */
	RAW(-20 /* ENOTDIR */, SYS_getdents, 1, buf, sizeof(buf));
	RAW(-LINUX_EFAULT, SYS_utimens, "/tmp", KADDR, 0);
	RAW(-LINUX_EFAULT, SYS_fcntl, fd, DM_F_GETLK, KADDR);
	/* flags: unknown bits and access mode 3 */
	RAW(-LINUX_EINVAL, SYS_open, ird("hello"), 0x10000000, 0);
	RAW(-LINUX_EINVAL, SYS_open, ird("hello"), DM_O_ACCMODE, 0);
	RAW(-LINUX_EINVAL, SYS_access, ird("hello"), 8, 0);
	ERR(fcntl(fd, 999), EINVAL);
	ERR(fcntl(fd, F_DUPFD, -1), EINVAL);
	ERR(fcntl(fd, F_DUPFD, DM_OPEN_MAX), EINVAL);
	ERR(fcntl(77, F_GETFL), EBADF);
	ERR(lseek(fd, 1, SEEK_CUR), EINVAL);    /* a directory: offsets are not bytes */
	ERR(read(fd, buf, sizeof(buf)), EISDIR);
	ERR(dup2(fd, -1), EBADF);
	ERR(dup2(fd, DM_OPEN_MAX), EBADF);
	ERR(dup2(99, 5), EBADF);
	ERR(dup(-1), EBADF);
	ERR(fsync(99), EBADF);
	ERR(ftruncate(99, 0), EBADF);
	ERR(fchmod(99, 0), EBADF);
	ERR(pwrite(99, buf, 1, 0), EBADF);
	close(fd);
	return NULL;
}

/* ---- reading and writing /tmp ------------------------------------------------------ */

/* Creating, writing, holes and truncation in dir, whichever file system it is on. */
static const char *create_write(void)
{
	char buf[64];
	struct stat st;
	int fd;

	fd = open(path("f"), O_RDWR | O_CREAT | O_EXCL, 0640);
	CHECK(fd >= 0, "create: %s", ename(errno));
	ERR(open(path("f"), O_RDWR | O_CREAT | O_EXCL, 0640), EEXIST);
	CHECK(write(fd, "hello world", 11) == 11, "write: %s", ename(errno));
	CHECK(lseek(fd, 0, SEEK_CUR) == 11 && pread(fd, buf, 5, 6) == 5 && !memcmp(buf, "world", 5),
	      "pread after write");
	CHECK(pwrite(fd, "W", 1, 6) == 1 && lseek(fd, 0, SEEK_CUR) == 11, "pwrite moved the offset");
	CHECK(lseek(fd, 0, SEEK_SET) == 0 && read(fd, buf, sizeof(buf)) == 11 &&
	      !memcmp(buf, "hello World", 11), "read back");
	CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 11 &&
	      (st.st_mode & 0777) == (0640 & ~022) && st.st_nlink == 1, "fstat: size %lld mode %o",
	      (long long)st.st_size, st.st_mode);
	/* a hole past the end reads as zeros */
	CHECK(pwrite(fd, "end", 3, 10000) == 3 && fstat(fd, &st) == 0 && st.st_size == 10003, "a hole");
	CHECK(pread(fd, buf, 4, 5000) == 4 && !memcmp(buf, "\0\0\0\0", 4), "the hole is not zeros");
	CHECK(ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5, "truncate down");
	CHECK(ftruncate(fd, 8) == 0 && pread(fd, buf, 8, 0) == 8 && !memcmp(buf, "hello\0\0\0", 8),
	      "truncate up must read zeros past the old end");
	ERR(ftruncate(fd, -1), EINVAL);
	CHECK(fsync(fd) == 0, "fsync: %s", ename(errno));
	ERR(write(fd, (void *)KADDR, 4), EFAULT);
	ERR(read(fd, (void *)t_file_create_write, 4), EFAULT);  /* our code is read-only */
	CHECK(close(fd) == 0, "close");
	/* directories are not written */
	ERR(open(dir, O_WRONLY), EISDIR);
	ERR(open(dir, O_RDWR | O_CREAT, 0644), EISDIR);
	ERR(open(path("g/"), O_RDWR | O_CREAT, 0644), EISDIR);
	ERR(open(path("f"), O_RDONLY | O_DIRECTORY), ENOTDIR);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0, "open a directory: %s", ename(errno));
	ERR(write(fd, "x", 1), EBADF);
	close(fd);
	/* a big file, through the page boundaries */
	fd = open(path("big"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "create big: %s", ename(errno));
	char *data = malloc(100000), *back = malloc(100000);
	CHECK(data && back, "malloc");
	for (int i = 0; i < 100000; i++)
		data[i] = (char)(i * 7 + i / 4096);
	ssize_t w = write(fd, data, 100000), r = pread(fd, back, 100000, 0);
	int same = !memcmp(data, back, 100000);
	free(data);
	free(back);
	close(fd);
	CHECK(w == 100000 && r == 100000 && same, "100000 bytes: wrote %ld, read %ld, same %d",
	      (long)w, (long)r, same);
	rmtree(dir);
	return NULL;
}

const char *t_file_create_write(void)
{
	return in_workdir("write", create_write);
}

const char *t_file_disk_create_write(void)
{
	return in_diskdir("write", create_write);
}

const char *t_file_append_trunc(void)
{
	const char *err;
	int fd, fd2;

	if ((err = workdir("append")))
		return err;
	CHECK(put(path("f"), "12345") == 0, "put: %s", ename(errno));
	fd = open(path("f"), O_WRONLY | O_APPEND);
	fd2 = open(path("f"), O_WRONLY);
	CHECK(fd >= 0 && fd2 >= 0, "open: %s", ename(errno));
	CHECK(write(fd2, "ab", 2) == 2, "write");       /* overwrites 12 */
	CHECK(lseek(fd, 0, SEEK_SET) == 0 && write(fd, "X", 1) == 1, "append");
	CHECK(lseek(fd, 0, SEEK_CUR) == 6, "an append leaves the offset at the end");
	CHECK(pwrite(fd, "p", 1, 0) == 1, "pwrite on O_APPEND");        /* POSIX: at 0 */
	CHECK(!strcmp(get(path("f")), "pb345X"), "holds %s, want pb345X", get(path("f")));
	CHECK(fcntl(fd2, F_SETFL, O_APPEND) == 0 && (fcntl(fd2, F_GETFL) & O_APPEND), "F_SETFL");
	CHECK(write(fd2, "Y", 1) == 1 && !strcmp(get(path("f")), "pb345XY"), "F_SETFL O_APPEND");
	close(fd);
	close(fd2);
	fd = open(path("f"), O_RDWR | O_TRUNC);
	CHECK(fd >= 0 && lseek(fd, 0, SEEK_END) == 0, "O_TRUNC did not empty it");
	close(fd);
	CHECK(put(path("f"), "x") == 0, "put");
	fd = open(path("f"), O_RDONLY | O_TRUNC);       /* read-only: nothing to truncate */
	CHECK(fd >= 0 && lseek(fd, 0, SEEK_END) == 1, "O_RDONLY|O_TRUNC truncated");
	close(fd);
	rmtree(dir);
	return NULL;
}

const char *t_file_unlink_open(void)
{
	struct stat st;
	char buf[8];
	const char *err;
	int fd;

	if ((err = workdir("unlink")))
		return err;
	CHECK(put(path("f"), "still here") == 0, "put: %s", ename(errno));
	fd = open(path("f"), O_RDWR);
	CHECK(fd >= 0, "open: %s", ename(errno));
	CHECK(unlink(path("f")) == 0, "unlink: %s", ename(errno));
	ERR(stat(path("f"), &st), ENOENT);
	ERR(unlink(path("f")), ENOENT);
	CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0 && st.st_size == 10, "fstat of an unlinked file");
	CHECK(pread(fd, buf, 5, 0) == 5 && !memcmp(buf, "still", 5), "read an unlinked file");
	CHECK(pwrite(fd, "S", 1, 0) == 1 && pread(fd, buf, 1, 0) == 1 && buf[0] == 'S', "write it");
	CHECK(put(path("f"), "new") == 0 && !strcmp(get(path("f")), "new"), "a new file by the name");
	CHECK(pread(fd, buf, 5, 0) == 5 && !memcmp(buf, "Still", 5), "the old one is still the old");
	close(fd);
	rmtree(dir);
	return NULL;
}

const char *t_file_dup_fcntl(void)
{
	const char *err;
	char buf[4];
	int fd, d, fds[DM_OPEN_MAX], n = 0;

	if ((err = workdir("dup")))
		return err;
	CHECK(put(path("f"), "abcdef") == 0, "put: %s", ename(errno));
	fd = open(path("f"), O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open: %s", ename(errno));
	CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "O_CLOEXEC: F_GETFD = %d", fcntl(fd, F_GETFD));
	d = dup(fd);
	CHECK(d > fd && fcntl(d, F_GETFD) == 0, "dup: %d", d);
	CHECK(read(fd, buf, 2) == 2 && read(d, buf, 2) == 2 && !memcmp(buf, "cd", 2),
	      "dup does not share the offset");
	CHECK(dup2(fd, 10) == 10 && read(10, buf, 2) == 2 && !memcmp(buf, "ef", 2), "dup2");
	CHECK(dup2(10, 10) == 10, "dup2 onto itself");
	CHECK(dup2(d, 10) == 10 && lseek(10, 0, SEEK_CUR) == 6, "dup2 over an open fd");
	CHECK(fcntl(fd, F_DUPFD, 20) == 20 && fcntl(fd, F_DUPFD, 20) == 21, "F_DUPFD");
	CHECK(fcntl(fd, F_SETFD, 0) == 0 && fcntl(fd, F_GETFD) == 0, "F_SETFD");
	CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY, "F_GETFL");
	close(fd);
	CHECK(read(d, buf, 1) == 0 && close(d) == 0 && close(10) == 0 && close(20) == 0 && close(21) == 0,
	      "the dups outlive the first");
	/* dup until full */
	while (n < DM_OPEN_MAX && (fds[n] = dup(1)) >= 0)
		n++;
	int e = errno;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	CHECK(n == DM_OPEN_MAX - 3 && e == EMFILE, "%d dups, then %s", n, ename(e));
	/* 0..2 are real descriptors: they can be moved and closed */
	d = dup(1);
	CHECK(d >= 3 && close(1) == 0 && write(d, "", 0) == 0, "close(1): %s", ename(errno));
	ERR(write(1, "x", 1), EBADF);
	CHECK(dup2(d, 1) == 1 && close(d) == 0, "dup2 back to 1");
	rmtree(dir);
	return NULL;
}

const char *t_file_attrs(void)
{
	struct stat st;
	struct timeval tv[2] = { { 1000000, 0 }, { 2000000, 500000 } };
	struct utimbuf ub = { 3000000, 4000000 };
	const char *err;
	int fd;

	if ((err = workdir("attrs")))
		return err;
	CHECK(put(path("f"), "x") == 0, "put: %s", ename(errno));
	CHECK(chmod(path("f"), 0751) == 0 && stat(path("f"), &st) == 0 && (st.st_mode & 07777) == 0751 &&
	      S_ISREG(st.st_mode), "chmod: mode %o", st.st_mode);
	fd = open(path("f"), O_RDONLY);
	CHECK(fd >= 0 && fchmod(fd, 0600) == 0 && fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600,
	      "fchmod: mode %o", st.st_mode);
	close(fd);
	ERR(access(path("f"), X_OK), EACCES);
	CHECK(access(path("f"), R_OK | W_OK) == 0, "access: %s", ename(errno));
	CHECK(utimes(path("f"), tv) == 0 && stat(path("f"), &st) == 0 && st.st_mtime == 2000000 &&
	      st.st_mtim.tv_nsec == 500000000 && st.st_atime == 1000000, "utimes: mtime %lld",
	      (long long)st.st_mtime);
	CHECK(utime(path("f"), &ub) == 0 && stat(path("f"), &st) == 0 && st.st_mtime == 4000000, "utime");
	CHECK(utime(path("f"), NULL) == 0 && stat(path("f"), &st) == 0 && st.st_mtime > 1600000000,
	      "utime(NULL) is not now");
	mode_t old = umask(077);
	CHECK(old == 022, "umask was %o, want 022", old);
	CHECK(put(path("g"), "") == 0 && stat(path("g"), &st) == 0 && (st.st_mode & 0777) == 0600 &&
	      mkdir(path("h"), 0777) == 0 && stat(path("h"), &st) == 0 && (st.st_mode & 0777) == 0700,
	      "umask 077: mode %o", st.st_mode);
	umask(old);
	CHECK(fstat(1, &st) == 0 && S_ISCHR(st.st_mode) && isatty(1), "1 is the console");
	fd = open(path("f"), O_RDONLY);
	errno = 0;
	CHECK(!isatty(fd) && errno == ENOTTY, "isatty(a file)");
	ERR(ioctl(fd, TIOCGWINSZ, NULL), ENOTTY);
	ERR(ioctl(99, TIOCGWINSZ, NULL), EBADF);
	close(fd);
	rmtree(dir);
	return NULL;
}

/* What dmos does not do, answered as Linux does on a file system without it. */
static const char *unsupported(void)
{
	char buf[16];
	int fd;

	CHECK(put(path("f"), "x") == 0, "put: %s", ename(errno));
	ERR(link(path("f"), path("g")), EPERM);
	ERR(link(path("nothing"), path("g")), ENOENT);
	ERR(symlink(path("f"), path("s")), EPERM);
	ERR(readlink(path("f"), buf, sizeof(buf)), EINVAL);
	ERR(readlink(path("nothing"), buf, sizeof(buf)), ENOENT);
	CHECK(chown(path("f"), 0, 0) == 0 && chown(path("f"), -1, -1) == 0, "chown to 0");
	ERR(chown(path("f"), 1000, 0), EPERM);
	ERR(chown(path("nothing"), 0, 0), ENOENT);
	fd = open(path("f"), O_RDONLY);
	CHECK(fchown(fd, 0, -1) == 0, "fchown to 0");
	ERR(fchown(fd, 0, 5), EPERM);
	close(fd);
	CHECK(getuid() == 0 && geteuid() == 0 && getgid() == 0 && getegid() == 0, "not uid 0");
	rmtree(dir);
	return NULL;
}

const char *t_file_unsupported(void)
{
	return in_workdir("unsup", unsupported);
}

const char *t_file_disk_unsupported(void)
{
	return in_diskdir("unsup", unsupported);
}

/*
 * The errno of bad arguments on dmosfs: pointers (nothing is made or
 * changed by a refused call), flags and descriptors.
 */
static const char *disk_bad_args(void)
{
	struct stat st;
	char buf[16];
	int fd, rd, wr, d;

	CHECK(put(path("f"), "0123456789") == 0 && mkdir(path("d"), 0755) == 0, "setup: %s",
	      ename(errno));
	/* pointers: the path, the buffer, the stat and the listing */
	ERR(open(KADDR, O_RDONLY), EFAULT);
	ERR(open(UNMAPPED, O_WRONLY | O_CREAT, 0644), EFAULT);
	ERR(stat(NONCANON, &st), EFAULT);
	RAW(-LINUX_EFAULT, SYS_stat, path("f"), KADDR, 0);
	RAW(-LINUX_EFAULT, SYS_stat, path("f"), disk_bad_args, 0);      /* our code is read-only */
	ERR(mkdir(UNMAPPED, 0755), EFAULT);
	ERR(rename(path("f"), KADDR), EFAULT);
	ERR(rename(NONCANON, path("g")), EFAULT);
	ERR(unlink(KADDR), EFAULT);
	ERR(rmdir(UNMAPPED), EFAULT);
	fd = open(path("f"), O_RDWR);
	CHECK(fd >= 0, "open: %s", ename(errno));
	ERR(read(fd, KADDR, 4), EFAULT);
	ERR(read(fd, (void *)disk_bad_args, 4), EFAULT);
	ERR(pread(fd, UNMAPPED, 4, 2), EFAULT);
	ERR(write(fd, KADDR, 4), EFAULT);
	ERR(pwrite(fd, UNMAPPED, 4, 0), EFAULT);
	CHECK(lseek(fd, 0, SEEK_CUR) == 0, "a refused read or write moved the offset");
	CHECK(!strcmp(get(path("f")), "0123456789") && fstat(fd, &st) == 0 && st.st_size == 10,
	      "a refused write changed the file: %s", get(path("f")));
	d = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(d >= 0, "open(%s): %s", dir, ename(errno));
	RAW(-LINUX_EFAULT, SYS_getdents, d, KADDR, 4096);
	RAW(-LINUX_EFAULT, SYS_getdents, d, UNMAPPED, 4096);
	RAW(-LINUX_EINVAL, SYS_getdents, d, buf, 8);    /* not even one entry fits */
	RAW(-20 /* ENOTDIR */, SYS_getdents, fd, buf, sizeof(buf));
	ERR(stat(path("g"), &st), ENOENT);      /* nothing was made */
	CHECK(stat(path("f"), &st) == 0 && stat(path("d"), &st) == 0, "a refused call removed");
	/* flags: unknown bits, access mode 3; nothing is made */
	RAW(-LINUX_EINVAL, SYS_open, path("f"), 0x10000000, 0);
	RAW(-LINUX_EINVAL, SYS_open, path("f"), DM_O_ACCMODE, 0);
	RAW(-LINUX_EINVAL, SYS_open, path("new"), DM_O_ACCMODE | DM_O_CREAT, 0644);
	RAW(-LINUX_EINVAL, SYS_open, path("new"), DM_O_CREAT | 0x10000000, 0644);
	ERR(stat(path("new"), &st), ENOENT);
	ERR(fcntl(fd, 999), EINVAL);
	ERR(lseek(fd, 0, 99), EINVAL);
	ERR(lseek(fd, -1, SEEK_SET), EINVAL);
	ERR(ftruncate(fd, -1), EINVAL);
	ERR(lseek(d, 1, SEEK_CUR), EINVAL);     /* a directory's offsets are not bytes */
	/* descriptors: closed, or open the wrong way */
	rd = open(path("f"), O_RDONLY);
	wr = open(path("f"), O_WRONLY);
	CHECK(rd >= 0 && wr >= 0, "open: %s", ename(errno));
	ERR(write(rd, "x", 1), EBADF);
	ERR(pwrite(rd, "x", 1, 0), EBADF);
	ERR(ftruncate(rd, 0), EINVAL);          /* not open for writing */
	ERR(read(wr, buf, 1), EBADF);
	ERR(pread(wr, buf, 1, 0), EBADF);
	ERR(write(d, "x", 1), EBADF);
	ERR(read(d, buf, 1), EISDIR);
	ERR(ftruncate(d, 0), EINVAL);
	CHECK(close(wr) == 0 && close(rd) == 0, "close: %s", ename(errno));
	ERR(write(wr, "x", 1), EBADF);
	ERR(read(rd, buf, 1), EBADF);
	ERR(fsync(wr), EBADF);
	ERR(fstat(rd, &st), EBADF);
	ERR(ftruncate(wr, 0), EBADF);
	ERR(close(rd), EBADF);
	RAW(-9 /* EBADF */, SYS_getdents, rd, buf, sizeof(buf));
	CHECK(!strcmp(get(path("f")), "0123456789"), "the file changed: %s", get(path("f")));
	close(fd);
	close(d);
	rmtree(dir);
	return NULL;
}

const char *t_file_disk_bad_args(void)
{
	return in_diskdir("badargs", disk_bad_args);
}
