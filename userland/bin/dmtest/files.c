/*
 * dmtest: files (see main.c). Every file system call, on the initrd
 * (read-only: "/", or "/initrd" when the shared disk's dmosfs is "/"), on
 * whichever of the two is "/", and on /tmp (this node's ramfs, writable):
 * reading, writing,
 * names and directories, descriptors, record locks between processes,
 * descriptors given to a spawned child, and the small tools and the
 * shell's redirections over them. Bad pointers, descriptors, flags and
 * names get their errno. Each test works in a directory of its own,
 * /tmp/dmtPID.TAG, and removes it.
 */
#include <dirent.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <utime.h>
#include "dmtest.h"

/* The test's directory /tmp/PREFIX.tag, made empty; path(name) names a file in it. */
static char dir[64];

static void rmtree(const char *path)
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

static const char *workdir(const char *tag)
{
	snprintf(dir, sizeof(dir), "/tmp/%s.%s", prefix, tag);
	rmtree(dir);
	if (mkdir(dir, 0755) < 0)
		return fail("mkdir(%s): %s", dir, ename(errno));
	return NULL;
}

static const char *path(const char *name)
{
	static char bufs[4][DM_PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, DM_PATH_MAX, "%s/%s", dir, name);
	return b;
}

/* A file holding s. Return: 0 or -1. */
static int put(const char *p, const char *s)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ok = fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s);

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* What file p holds (at most n - 1 bytes), NUL-terminated; "" if it cannot be read. */
static const char *get(const char *p)
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
static const char *initrd(void)
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
static const char *ird(const char *name)
{
	static char bufs[4][DM_PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];
	const char *top = initrd();

	snprintf(b, DM_PATH_MAX, "%s/%s", strcmp(top, "/") ? top : "", name);
	return b;
}

/* Is the cwd the initrd's top directory (where programs start)? */
static bool cwd_is_initrd(void)
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
	ERR(open("/newfile", O_WRONLY | O_CREAT, 0644), EROFS);      /* "/" is read-only too */
	ERR(open(ird("hello"), O_RDONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	fd = open(ird("hello"), O_RDONLY | O_CREAT, 0644);  /* there already: nothing to make */
	CHECK(fd >= 0, "open(%s, O_CREAT): %s", ird("hello"), ename(errno));
	close(fd);
	ERR(unlink(ird("hello")), EROFS);
	ERR(unlink(ird("nothing-here")), ENOENT);
	ERR(mkdir(ird("newdir"), 0755), EROFS);
	ERR(mkdir("/newdir", 0755), EROFS);
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

const char *t_file_paths(void)
{
	char name[DM_FILENAME_MAX + 2], longpath[DM_PATH_MAX + 8];
	struct stat st, tmp, root;
	const char *err;

	if ((err = workdir("paths")))
		return err;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;            /* one byte too long */
	ERR(stat(name, &st), ENAMETOOLONG);
	ERR(open(name, O_RDONLY), ENAMETOOLONG);
	name[DM_FILENAME_MAX] = 0;             /* as long as a name may be */
	ERR(stat(name, &st), ENOENT);
	CHECK(put(path(name), "x") == 0, "a %d-byte name: %s", DM_FILENAME_MAX, ename(errno));
	CHECK(stat(path(name), &st) == 0 && st.st_size == 1, "stat of the long name");
	memset(longpath, 0, sizeof(longpath));
	for (size_t i = 0; i + 2 < sizeof(longpath); i += 2)
		memcpy(longpath + i, "./", 2);
	ERR(stat(longpath, &st), ENAMETOOLONG);
	longpath[DM_PATH_MAX - 2] = 0;          /* just fits */
	CHECK(stat(longpath, &st) == 0 && S_ISDIR(st.st_mode), "stat(./././...): %s", ename(errno));
	ERR(stat("", &st), ENOENT);
	ERR(stat("/no/such/thing", &st), ENOENT);
	ERR(stat(ird("hello/x"), &st), ENOTDIR);
	ERR(stat(ird("hello/"), &st), ENOTDIR);
	ERR(open(ird("hello/."), O_RDONLY), ENOTDIR);
	ERR(stat(ird("hello/.."), &st), ENOTDIR);
	ERR(mkdir("/tmp/no/such/dir", 0755), ENOENT);
	CHECK(stat("/", &root) == 0 && S_ISDIR(root.st_mode), "stat(/)");
	CHECK(stat("/..", &st) == 0 && st.st_ino == root.st_ino && st.st_dev == root.st_dev, "/.. is /");
	CHECK(stat("/tmp", &tmp) == 0 && S_ISDIR(tmp.st_mode) && tmp.st_dev != root.st_dev,
	      "/tmp is not a file system of its own");
	CHECK(stat("/../../tmp/", &st) == 0 && st.st_ino == tmp.st_ino && st.st_dev == tmp.st_dev,
	      "/../../tmp/ is not /tmp");
	CHECK(stat("/tmp/..", &st) == 0 && st.st_ino == root.st_ino && st.st_dev == root.st_dev,
	      "/tmp/.. is not /");
	if (strcmp(initrd(), "/")) {            /* the initrd mounted below dmosfs */
		CHECK(stat(initrd(), &tmp) == 0 && S_ISDIR(tmp.st_mode) && tmp.st_dev != root.st_dev,
		      "%s is not a file system of its own", initrd());
		CHECK(stat(ird(".."), &st) == 0 && st.st_ino == root.st_ino && st.st_dev == root.st_dev,
		      "%s/.. is not /", initrd());
	}
	rmtree(dir);
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

/* ---- directories and names ------------------------------------------------------ */

/* Does directory p list name (with type)? Return: how many times. */
static int listed(const char *p, const char *name, int type)
{
	DIR *d = opendir(p);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += !strcmp(de->d_name, name) && de->d_type == type;
	closedir(d);
	return n;
}

/*
 * Does every entry directory p lists name a file of its type, listed once?
 * Return: NULL, or what is wrong.
 */
static const char *lists_what_is_there(const char *p)
{
	char sub[DM_PATH_MAX];
	DIR *d = opendir(p);
	struct dirent *de;
	struct stat st;
	const char *err = NULL;

	CHECK(d, "opendir(%s): %s", p, ename(errno));
	while (!err && (de = readdir(d))) {
		snprintf(sub, sizeof(sub), "%s/%s", p, de->d_name);
		if (stat(sub, &st) < 0)
			err = fail("%s lists %s, stat: %s", p, de->d_name, ename(errno));
		else if (de->d_type != (S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : -1))
			err = fail("%s lists %s as type %d, stat says mode %o", p, de->d_name,
				   de->d_type, st.st_mode);
		else if (listed(p, de->d_name, de->d_type) != 1)
			err = fail("%s does not list %s once", p, de->d_name);
	}
	closedir(d);
	return err;
}

const char *t_file_readdir(void)
{
	/* the initrd's top; the last one only when it is "/" */
	const char *want[] = { ".", "..", "dmtest", "hello", "sh", "tmp" };
	unsigned nwant = sizeof(want) / sizeof(want[0]) - !!strcmp(initrd(), "/");
	char big[64];
	DIR *d;
	struct dirent *de;
	int first = 0, n = 0, again = 0;
	const char *err;

	for (unsigned i = 0; i < nwant; i++)
		CHECK(listed(initrd(), want[i], i < 2 || i == 5 ? DT_DIR : DT_REG) == 1,
		      "%s does not list %s once", initrd(), want[i]);
	/* "/", whichever file system it is: its mount points, and what it holds */
	CHECK(listed("/", ".", DT_DIR) == 1 && listed("/", "..", DT_DIR) == 1 &&
	      listed("/", "tmp", DT_DIR) == 1, "/ does not list ., .. and tmp once");
	CHECK(!strcmp(initrd(), "/") || listed("/", "initrd", DT_DIR) == 1,
	      "/ does not list initrd once");
	if ((err = lists_what_is_there("/")) || (err = lists_what_is_there(initrd())))
		return err;
	CHECK((d = opendir(initrd())), "opendir(%s): %s", initrd(), ename(errno));
	while ((de = readdir(d)))
		n++;
	rewinddir(d);
	while ((de = readdir(d)))
		again++;
	closedir(d);
	CHECK(n == again && n > (int)nwant, "listing %s twice: %d, then %d entries", initrd(), n, again);
	NULLERR(opendir(ird("hello")), ENOTDIR);
	NULLERR(opendir("/nothing"), ENOENT);

	/* entries made and removed while a listing goes on */
	if ((err = workdir("readdir")))
		return err;
	for (int i = 0; i < 40; i++) {
		snprintf(big, sizeof(big), "f%02d", i);
		CHECK(put(path(big), "") == 0, "make %s: %s", big, ename(errno));
	}
	/* two records at a time (24 bytes each), so most come after the removal */
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	char recs[48];
	long got;
	CHECK(fd >= 0, "open(%s): %s", dir, ename(errno));
	n = 0;
	while ((got = raw(SYS_getdents, fd, (long)recs, sizeof(recs))) > 0) {
		for (long at = 0; at < got; at += ((struct dm_dirent *)(recs + at))->reclen) {
			const struct dm_dirent *r = (const void *)(recs + at);
			if (r->name[0] != 'f')
				continue;
			if (!n++)
				first = atoi(r->name + 1);
			if (n == 10)    /* remove one listed, one not yet listed */
				unlink(path("f00")), unlink(path("f39"));
		}
	}
	close(fd);
	CHECK(got == 0, "getdents: %ld", got);
	CHECK(first == 0 && n == 39, "%d entries listed (want 39), first f%02d", n, first);
	rmtree(dir);
	CHECK(listed("/tmp", strrchr(dir, '/') + 1, DT_DIR) == 0, "a removed directory is listed");
	return NULL;
}

const char *t_file_cwd(void)
{
	char buf[DM_PATH_MAX], want[DM_PATH_MAX], start[DM_PATH_MAX];
	struct stat here, named;
	const char *err;

	/* where the process started: the initrd's top when the kernel started it there */
	CHECK(getcwd(start, sizeof(start)), "getcwd: %s", ename(errno));
	CHECK(!cwd_is_initrd() || !strcmp(start, initrd()), "getcwd: %s, want %s", start, initrd());
	CHECK(stat(".", &here) == 0 && stat(start, &named) == 0 && here.st_ino == named.st_ino &&
	      here.st_dev == named.st_dev, "getcwd: %s is not the cwd", start);
	if ((err = workdir("cwd")))
		return err;
	CHECK(mkdir(path("a"), 0755) == 0 && mkdir(path("a/b"), 0755) == 0, "mkdir: %s", ename(errno));
	CHECK(chdir(path("a/b")) == 0, "chdir: %s", ename(errno));
	CHECK(getcwd(buf, sizeof(buf)) && !strcmp(buf, path("a/b")), "getcwd: %s", buf);
	CHECK(put("here", "rel") == 0 && !strcmp(get(path("a/b/here")), "rel"), "a relative create");
	CHECK(chdir("../..") == 0 && getcwd(buf, sizeof(buf)) && !strcmp(buf, dir), "cd ../..: %s", buf);
	CHECK(chdir("a/b") == 0 && rename(path("a"), path("moved")) == 0, "rename: %s", ename(errno));
	snprintf(want, sizeof(want), "%s/moved/b", dir);
	CHECK(getcwd(buf, sizeof(buf)) && !strcmp(buf, want), "after a rename: %s, want %s", buf, want);
	CHECK(!strcmp(get("here"), "rel"), "the cwd's file after a rename");
	ERR(getcwd(buf, 3) ? 0 : -1, ERANGE);
	ERR(getcwd(buf, 0) ? 0 : -1, EINVAL);
	ERR(chdir(ird("hello")), ENOTDIR);
	ERR(chdir("nothing"), ENOENT);
	CHECK(unlink("here") == 0 && rmdir(want) == 0, "rmdir(cwd): %s", ename(errno));
	ERR(getcwd(buf, sizeof(buf)) ? 0 : -1, ENOENT);         /* removed */
	ERR(open("x", O_WRONLY | O_CREAT, 0644), ENOENT);       /* nothing can be made in it */
	CHECK(chdir("/tmp") == 0 && getcwd(buf, sizeof(buf)) && !strcmp(buf, "/tmp"), "cd /tmp");
	CHECK(chdir("..") == 0 && getcwd(buf, sizeof(buf)) && !strcmp(buf, "/"), "/tmp/.. is /");
	CHECK(chdir(start) == 0 && getcwd(buf, sizeof(buf)) && !strcmp(buf, start), "cd %s: %s", start, buf);
	rmtree(dir);
	return NULL;
}

const char *t_file_mkdir_rmdir(void)
{
	struct stat st;
	const char *err;

	if ((err = workdir("mkdir")))
		return err;
	CHECK(mkdir(path("d"), 0750) == 0, "mkdir: %s", ename(errno));
	ERR(mkdir(path("d"), 0750), EEXIST);
	ERR(mkdir(path("d/."), 0750), EEXIST);
	CHECK(mkdir(path("d/e/"), 0755) == 0, "mkdir with a trailing /: %s", ename(errno));
	CHECK(stat(path("d"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0750 &&
	      st.st_nlink == 3, "d: mode %o, %d links", st.st_mode, (int)st.st_nlink);
	ERR(rmdir(path("d")), ENOTEMPTY);
	ERR(rmdir(path("d/e/.")), EINVAL);
	ERR(rmdir(path("d/e/..")), ENOTEMPTY);
	ERR(unlink(path("d/e")), EISDIR);
	ERR(unlink(path("d/e/")), EISDIR);
	CHECK(put(path("f"), "x") == 0, "put: %s", ename(errno));
	ERR(rmdir(path("f")), ENOTDIR);
	ERR(unlink(path("f/")), ENOTDIR);
	ERR(mkdir(path("f/g"), 0755), ENOTDIR);
	ERR(rmdir(path("nothing")), ENOENT);
	CHECK(rmdir(path("d/e")) == 0 && rmdir(path("d/")) == 0, "rmdir: %s", ename(errno));
	ERR(stat(path("d"), &st), ENOENT);
	rmtree(dir);
	return NULL;
}

const char *t_file_rename(void)
{
	struct stat a, b;
	const char *err;

	if ((err = workdir("rename")))
		return err;
	CHECK(put(path("a"), "A") == 0 && put(path("b"), "B") == 0 && mkdir(path("d"), 0755) == 0 &&
	      mkdir(path("e"), 0755) == 0 && mkdir(path("d/sub"), 0755) == 0, "setup: %s", ename(errno));
	CHECK(stat(path("a"), &a) == 0, "stat a");
	CHECK(rename(path("a"), path("a2")) == 0 && stat(path("a2"), &b) == 0 && a.st_ino == b.st_ino,
	      "rename in a directory: %s", ename(errno));
	ERR(stat(path("a"), &b), ENOENT);
	CHECK(rename(path("a2"), path("b")) == 0 && !strcmp(get(path("b")), "A"),
	      "rename over a file: %s", ename(errno));
	CHECK(rename(path("b"), path("d/sub/b")) == 0 && !strcmp(get(path("d/sub/b")), "A"),
	      "rename across directories: %s", ename(errno));
	CHECK(rename(path("d/sub/b"), path("d/sub/b")) == 0, "rename onto itself");
	ERR(rename(path("d"), path("d/sub/x")), EINVAL);        /* into itself */
	ERR(rename(path("d"), path("d/sub")), EINVAL);
	ERR(rename(path("d/sub/b"), path("e")), EISDIR);
	ERR(rename(path("e"), path("d/sub/b")), ENOTDIR);
	ERR(rename(path("e"), path("d")), ENOTEMPTY);
	ERR(rename(path("nothing"), path("x")), ENOENT);
	ERR(rename(path("d/sub/b/"), path("x")), ENOTDIR);
	ERR(rename(path("d/sub/b"), "/b"), EXDEV);              /* /tmp to / */
	ERR(rename(path("."), path("x")), EINVAL);
	CHECK(rename(path("d"), path("e")) == 0, "a directory over an empty one: %s", ename(errno));
	CHECK(!strcmp(get(path("e/sub/b")), "A"), "what the moved directory holds");
	ERR(stat(path("d"), &a), ENOENT);
	CHECK(stat(path("e/sub/.."), &a) == 0 && stat(path("e"), &b) == 0 && a.st_ino == b.st_ino,
	      "the moved directory's .. is not its new parent");
	rmtree(dir);
	return NULL;
}

/* ---- reading and writing /tmp ------------------------------------------------------ */

const char *t_file_create_write(void)
{
	char buf[64];
	struct stat st;
	const char *err;
	int fd;

	if ((err = workdir("write")))
		return err;
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
const char *t_file_unsupported(void)
{
	char buf[16];
	const char *err;
	int fd;

	if ((err = workdir("unsup")))
		return err;
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

/* ---- record locks between processes ------------------------------------------------- */

static struct flock lk(short type, off_t start, off_t len)
{
	return (struct flock){ type, SEEK_SET, start, len, 0, 0 };
}

/* Is [start, start+len) of p lockable (type) by a child? Return: its exit code. */
static int child_try(const char *p, const char *type, int start, int len)
{
	char s[16], l[16];
	struct child c;
	int st = -1;

	snprintf(s, sizeof(s), "%d", start);
	snprintf(l, sizeof(l), "%d", len);
	if (start_child_lock(&c, p, type, s, l, "try") < 0 || finish(&c, &st))
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *t_file_locks(void)
{
	struct flock fl;
	const char *err;
	int fd, ro;

	if ((err = workdir("locks")))
		return err;
	CHECK(put(path("f"), "0123456789") == 0, "put: %s", ename(errno));
	fd = open(path("f"), O_RDWR);
	ro = open(path("f"), O_RDONLY);
	CHECK(fd >= 0 && ro >= 0, "open: %s", ename(errno));
	fl = lk(F_WRLCK, 0, 100);
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "F_SETLK: %s", ename(errno));
	fl = lk(F_WRLCK, 50, 10);
	CHECK(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK, "our own lock conflicts with us");
	CHECK(child_try(path("f"), "w", 10, 5) == 1, "a child took a write lock inside ours");
	CHECK(child_try(path("f"), "r", 99, 1) == 1, "a child took a read lock inside ours");
	CHECK(child_try(path("f"), "w", 100, 0) == 0, "a child could not lock past ours");
	/* unlock a hole in the middle: the lock splits in two */
	fl = lk(F_UNLCK, 40, 20);
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "unlock the middle: %s", ename(errno));
	CHECK(child_try(path("f"), "w", 40, 20) == 0, "the hole is not free");
	CHECK(child_try(path("f"), "w", 39, 2) == 1 && child_try(path("f"), "w", 59, 2) == 1,
	      "the ends of the hole are free");
	/* a read lock shares with read locks only */
	fl = lk(F_RDLCK, 0, 0);                 /* the whole file: replaces the write locks */
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "F_RDLCK: %s", ename(errno));
	CHECK(child_try(path("f"), "r", 0, 0) == 0 && child_try(path("f"), "w", 5000, 1) == 1,
	      "a read lock to the end");
	/* closing any descriptor of the file drops our locks (POSIX) */
	close(ro);
	CHECK(child_try(path("f"), "w", 0, 0) == 0, "close of another fd kept the locks");
	/* the access mode must allow the lock's type; bad arguments */
	ro = open(path("f"), O_RDONLY);
	fl = lk(F_WRLCK, 0, 1);
	ERR(fcntl(ro, F_SETLK, &fl), EBADF);
	fl = lk(7, 0, 1);
	ERR(fcntl(fd, F_SETLK, &fl), EINVAL);
	fl = lk(F_UNLCK, 0, 1);
	ERR(fcntl(fd, F_GETLK, &fl), EINVAL);
	fl = lk(F_RDLCK, -5, 1);
	ERR(fcntl(fd, F_SETLK, &fl), EINVAL);
	fl = lk(F_RDLCK, 5, -6);                /* the 6 bytes before 5: from -1 */
	ERR(fcntl(fd, F_SETLK, &fl), EINVAL);
	fl = lk(F_WRLCK, 5, -5);                /* [0, 5) */
	CHECK(fcntl(fd, F_SETLK, &fl) == 0 && child_try(path("f"), "w", 4, 1) == 1 &&
	      child_try(path("f"), "w", 5, 1) == 0, "a negative length");
	int h = open(ird("hello"), O_RDONLY);
	fl = lk(F_RDLCK, 0, 1);
	ERR(fcntl(h, F_SETLK, &fl), ENOLCK);    /* the initrd keeps no locks */
	close(h);
	ERR(flock(fd, LOCK_SH | LOCK_EX), EINVAL);
	CHECK(flock(ro, LOCK_SH) == 0 && flock(ro, LOCK_UN) == 0, "flock: %s", ename(errno));
	close(fd);
	close(ro);
	rmtree(dir);
	return NULL;
}

/* Wait (at most 5 s) until process pid sleeps. */
static int sleeping(int pid)
{
	for (uint64_t until = now() + 5000 * MS; now() < until; dm_sleep_ns(5 * MS)) {
		struct dm_proc *p = ps_find(pid);
		if (p && p->state == DM_PROC_SLEEPING)
			return 1;
	}
	return 0;
}

const char *t_file_lock_wait(void)
{
	struct flock fl = lk(F_WRLCK, 0, 10);
	struct child c, k;
	const char *err;
	int fd, st;

	if ((err = workdir("lockwait")))
		return err;
	CHECK(put(path("f"), "x") == 0, "put: %s", ename(errno));
	fd = open(path("f"), O_RDWR);
	CHECK(fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0, "F_SETLK: %s", ename(errno));
	/* a waiter gets the lock when we let go */
	CHECK(start_child_lock(&c, path("f"), "w", "5", "1", "wait") > 0, "spawn: %s", ename(errno));
	CHECK(sleeping(c.pid), "the waiter did not sleep in F_SETLKW");
	fl = lk(F_UNLCK, 0, 0);
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "unlock: %s", ename(errno));
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the waiter: %s", status_str(st));
	/* a waiter can be killed */
	fl = lk(F_WRLCK, 0, 10);
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "F_SETLK again: %s", ename(errno));
	CHECK(start_child_lock(&k, path("f"), "w", "0", "0", "wait") > 0, "spawn: %s", ename(errno));
	CHECK(sleeping(k.pid) && kill(k.pid, 9) == 0, "kill the waiter");
	if ((err = finish(&k, &st)))
		return err;
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == 9, "the killed waiter: %s", status_str(st));
	close(fd);
	rmtree(dir);
	return NULL;
}

const char *t_file_lock_deadlock(void)
{
	struct flock fl = lk(F_WRLCK, 0, 1);
	struct child c;
	const char *err;
	int fd, st;

	if ((err = workdir("deadlock")))
		return err;
	CHECK(put(path("f"), "xy") == 0, "put: %s", ename(errno));
	fd = open(path("f"), O_RDWR);
	CHECK(fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0, "lock byte 0: %s", ename(errno));
	/* the child locks byte 1, then waits for byte 0 */
	CHECK(start_child_lock(&c, path("f"), "w", "1", "1", "cross") > 0, "spawn: %s", ename(errno));
	CHECK(sleeping(c.pid), "the child did not wait for byte 0");
	fl = lk(F_WRLCK, 1, 1);
	errno = 0;
	int r = fcntl(fd, F_SETLKW, &fl), e = errno;
	close(fd);                              /* the child gets byte 0 and ends */
	if ((err = finish(&c, &st)))
		return err;
	CHECK(r == -1 && e == EDEADLK, "waiting for each other: %d (%s), want EDEADLK", r, ename(e));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child: %s", status_str(st));
	rmtree(dir);
	return NULL;
}

/*
 * `dmtest --child lock PATH TYPE START LEN HOW`: take a lock (TYPE r or w)
 * on [START, START+LEN) of PATH. HOW try: F_SETLK, exit 0 if granted, 1 if
 * EAGAIN; wait: F_SETLKW, exit 0 once granted; cross: lock it, then wait
 * for byte 0 (held by the parent), exit 0 once granted. 2: other errors.
 */
int child_lock(char **a)
{
	struct flock fl = lk(a[1][0] == 'w' ? F_WRLCK : F_RDLCK, atoi(a[2]), atoi(a[3]));
	int fd = open(a[0], O_RDWR);

	if (fd < 0)
		return 2;
	if (!strcmp(a[4], "try"))
		return fcntl(fd, F_SETLK, &fl) == 0 ? 0 : errno == EAGAIN ? 1 : 2;
	if (!strcmp(a[4], "cross")) {
		if (fcntl(fd, F_SETLK, &fl) < 0)
			return 2;
		fl = lk(F_WRLCK, 0, 1);
	}
	return fcntl(fd, F_SETLKW, &fl) == 0 ? 0 : 2;
}

int start_child_lock(struct child *c, const char *p, const char *type, const char *from,
		     const char *len, const char *how)
{
	return start(c, self, CHILD_TIMEOUT_MS, "lock", p, type, from, len, how, NULL);
}

/* ---- descriptors given to a child, the tools, the shell ---------------------------- */

const char *t_file_spawn_fds(void)
{
	char *argv[] = { "hello", NULL };
	const char *err;
	int fd, pid, st, fds[3];

	if ((err = workdir("spawnfds")))
		return err;
	fd = open(path("out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "open: %s", ename(errno));
	fds[0] = DM_FD_NONE, fds[1] = fd, fds[2] = 2;
	pid = dm_spawn_fds("hello", argv, self, fds);
	CHECK(pid > 0, "dm_spawn_fds: %s", ename(errno));
	CHECK(dm_wait(pid, &st) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "hello: %s",
	      status_str(st));
	CHECK(lseek(fd, 0, SEEK_CUR) > 0, "the shared offset did not move");
	close(fd);
	CHECK(strstr(get(path("out")), "hello: ok"), "hello's output is not in the file: '%s'",
	      get(path("out")));
	fds[1] = 99;
	ERR(dm_spawn_fds("hello", argv, self, fds), EBADF);
	ERR(dm_spawn_fds("hello", argv, self, (int *)KADDR), EFAULT);
	fds[1] = open(path("out"), O_RDONLY);
	if (nodes > 1)
		ERR(dm_spawn_fds("hello", argv, other, fds), EXDEV);
	ERR(dm_spawn_fds("hello", argv, DM_NODE_ANY, fds), EXDEV);
	close(fds[1]);
	ERR(dm_wait(-1, NULL), ECHILD);         /* none of those started */
	rmtree(dir);
	return NULL;
}

/* Run `sh -c LINE` here; its output goes to the file out. Return: its exit status, or -1. */
static int sh(const char *line, const char *out)
{
	char *argv[] = { "sh", "-c", (char *)line, NULL };
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), fds[3] = { DM_FD_NONE, fd, fd }, st;
	int pid = fd >= 0 ? dm_spawn_fds("sh", argv, self, fds) : -1;

	if (fd >= 0)
		close(fd);
	if (pid < 0 || dm_wait(pid, &st) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* s with each D the test's directory, into out (n bytes). */
static void expand(const char *s, char *out, size_t n)
{
	char *o = out;

	for (; *s && o + sizeof(dir) + 1 < out + n; s++)
		o += *s == 'D' ? sprintf(o, "%s", dir) : (*o = *s, 1);
	*o = 0;
}

const char *t_file_tools(void)
{
	static const struct { const char *line, *want; int status; } steps[] = {
		{ "echo hello dmos > D/a", "", 0 },
		{ "cat D/a", "hello dmos\n", 0 },
		{ "echo -n more >> D/a", "", 0 },
		{ "cat D/a D/a", "hello dmos\nmorehello dmos\nmore", 0 },
		{ "wc D/a", "      1       3      15 D/a\n", 0 },
		{ "wc -l < D/a", "      1\n", 0 },
		{ "mkdir -p D/x/y/z", "", 0 },
		{ "cp D/a D/x/y", "", 0 },
		{ "mv D/x/y/a D/x/b", "", 0 },
		{ "ls D/x", "b\ny\n", 0 },
		{ "ls -l D/x/b", "-rw-r--r--  1        15 D/x/b\n", 0 },
		{ "cat D/x/b", "hello dmos\nmore", 0 },
		{ "cat D/nothing", "cat: D/nothing: No such file or directory\n", 1 },
		{ "cat D/nothing 2> D/err", "", 1 },
		{ "cat D/err", "cat: D/nothing: No such file or directory\n", 0 },
		{ "rm D/x", "rm: D/x: is a directory (rm -r removes it)\n", 1 },
		{ "rm -r D/x", "", 0 },
		{ "ls D", "a\nerr\n", 0 },
		{ "echo '>' \"a b\" > D/q", "", 0 },
		{ "cat < D/q", "> a b\n", 0 },
		{ "cd D", "", 0 },
		{ "cat > /x", "sh: /x: Read-only file system\n", 1 },
		{ "mv D/a /a", "mv: D/a -> /a: Cross-device link\n", 1 },
	};
	char line[256], want[256], got[1024], out[64];
	const char *err;

	if ((err = workdir("tools")))
		return err;
	snprintf(out, sizeof(out), "/tmp/%s.tools.out", prefix);
	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		expand(steps[i].line, line, sizeof(line));
		expand(steps[i].want, want, sizeof(want));
		int status = sh(line, out);
		snprintf(got, sizeof(got), "%s", get(out));
		char *report = strstr(got, "sh: ");     /* "sh: PROG (pid N) exited with status S" */
		if (report && (report == got || report[-1] == '\n') && strstr(report, " (pid "))
			*report = 0;
		CHECK(status == steps[i].status && !strcmp(got, want),
		      "sh -c '%s': status %d, output '%s'; want %d, '%s'", line, status, got,
		      steps[i].status, want);
	}
	unlink(out);
	rmtree(dir);
	return NULL;
}
