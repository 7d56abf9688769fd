/*
 * dmtest: names and directories (see main.c; files.c holds the helpers):
 * path resolution and its limits, mount points, listing directories
 * (readdir, and getdents while entries come and go), the cwd, mkdir and
 * rmdir, rename.
 */
#include <dirent.h>
#include <limits.h>
#include "dmtest.h"

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

/* getwd, BSD's getcwd, which newlib declares and libc/files.c defines. */
const char *t_file_getwd(void)
{
	char buf[PATH_MAX], start[DM_PATH_MAX];
	const char *err;

	CHECK(getcwd(start, sizeof(start)), "getcwd: %s", ename(errno));
	CHECK(getwd(buf) == buf && !strcmp(buf, start), "getwd: %s, want %s", buf, start);
	if ((err = workdir("getwd")))
		return err;
	CHECK(chdir(dir) == 0 && getwd(buf) == buf && !strcmp(buf, dir), "getwd in %s: %s", dir, buf);
	CHECK(rmdir(dir) == 0, "rmdir(cwd): %s", ename(errno));
	/* a removed cwd: NULL, errno and the reason in buf, as BSD's */
	errno = 0;
	CHECK(!getwd(buf) && errno == ENOENT && !strcmp(buf, strerror(ENOENT)),
	      "getwd in a removed directory: %s (%s)", buf, ename(errno));
	/* the caller's buffer ends where its memory does, as postmark's on top of its stack */
	char *page = dm_alloc(PAGE, DM_LOCAL, 0), *end;
	CHECK(page, "dm_alloc: %s", ename(errno));
	end = page + PAGE - 8;
	errno = 0;
	if (getcwd(page + PAGE, 16) || errno != EFAULT) {
		skipped = "the page after the buffer is mapped";
	} else {
		CHECK(chdir("/tmp") == 0, "cd /tmp: %s", ename(errno));
		CHECK(getwd(end) == end && !strcmp(end, "/tmp"), "getwd into the last 8 bytes of memory: %s",
		      ename(errno));
	}
	dm_free(page, PAGE);
	CHECK(chdir(start) == 0, "cd %s: %s", start, ename(errno));
	return NULL;
}

/* mkdir and rmdir in dir, whichever file system it is on. */
static const char *mkdir_rmdir(void)
{
	struct stat st;

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

const char *t_file_mkdir_rmdir(void)
{
	return in_workdir("mkdir", mkdir_rmdir);
}

const char *t_file_disk_mkdir_rmdir(void)
{
	return in_diskdir("mkdir", mkdir_rmdir);
}

/* rename in dir, whichever file system it is on. */
static const char *renames(void)
{
	/* a name on another file system: / is the initrd or dmosfs, never /tmp */
	const char *elsewhere = strncmp(dir, "/tmp/", 5) ? "/tmp/b" : "/b";
	struct stat a, b;

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
	ERR(rename(path("d/sub/b"), elsewhere), EXDEV);
	ERR(rename(path("."), path("x")), EINVAL);
	CHECK(rename(path("d"), path("e")) == 0, "a directory over an empty one: %s", ename(errno));
	CHECK(!strcmp(get(path("e/sub/b")), "A"), "what the moved directory holds");
	ERR(stat(path("d"), &a), ENOENT);
	CHECK(stat(path("e/sub/.."), &a) == 0 && stat(path("e"), &b) == 0 && a.st_ino == b.st_ino,
	      "the moved directory's .. is not its new parent");
	rmtree(dir);
	return NULL;
}

const char *t_file_rename(void)
{
	return in_workdir("rename", renames);
}

const char *t_file_disk_rename(void)
{
	return in_diskdir("rename", renames);
}

/*
 * Names on dmosfs: too long, through a file, a directory where a file
 * must be, one that is there already; a refused call changes nothing.
 */
static const char *disk_names(void)
{
	char name[DM_FILENAME_MAX + 2];
	struct stat st;
	int fd;

	CHECK(put(path("f"), "file") == 0 && mkdir(path("d"), 0755) == 0 &&
	      put(path("d/in"), "in") == 0, "setup: %s", ename(errno));
	/* ENAMETOOLONG: one byte more than a name may have, in every call that takes one */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	ERR(open(path(name), O_WRONLY | O_CREAT, 0644), ENAMETOOLONG);
	ERR(mkdir(path(name), 0755), ENAMETOOLONG);
	ERR(stat(path(name), &st), ENAMETOOLONG);
	ERR(rename(path("f"), path(name)), ENAMETOOLONG);
	ERR(unlink(path(name)), ENAMETOOLONG);
	CHECK(!strcmp(get(path("f")), "file"), "a refused rename moved the file");
	name[DM_FILENAME_MAX] = 0;              /* as long as a name may be */
	CHECK(rename(path("f"), path(name)) == 0 && !strcmp(get(path(name)), "file") &&
	      rename(path(name), path("f")) == 0, "a %d-byte name: %s", DM_FILENAME_MAX,
	      ename(errno));
	CHECK(mkdir(path(name), 0755) == 0 && rmdir(path(name)) == 0, "mkdir of a %d-byte name: %s",
	      DM_FILENAME_MAX, ename(errno));
	/* ENOTDIR: a file where a directory must be */
	ERR(open(path("f/x"), O_WRONLY | O_CREAT, 0644), ENOTDIR);
	ERR(mkdir(path("f/x"), 0755), ENOTDIR);
	ERR(stat(path("f/"), &st), ENOTDIR);
	ERR(open(path("f"), O_RDONLY | O_DIRECTORY), ENOTDIR);
	ERR(rmdir(path("f")), ENOTDIR);
	ERR(chdir(path("f")), ENOTDIR);
	ERR(rename(path("d"), path("f")), ENOTDIR);
	ERR(rename(path("f/"), path("g")), ENOTDIR);
	NULLERR(opendir(path("f")), ENOTDIR);
	/* EISDIR: a directory where a file must be */
	ERR(open(path("d"), O_WRONLY), EISDIR);
	ERR(open(path("d"), O_RDWR | O_TRUNC), EISDIR);
	ERR(open(path("d"), O_WRONLY | O_CREAT, 0644), EISDIR);
	ERR(open(path("new/"), O_WRONLY | O_CREAT, 0644), EISDIR);
	ERR(unlink(path("d")), EISDIR);
	ERR(rename(path("f"), path("d")), EISDIR);
	/* EEXIST and ENOTEMPTY */
	ERR(open(path("f"), O_RDWR | O_CREAT | O_EXCL, 0644), EEXIST);
	ERR(open(path("d"), O_RDONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	ERR(mkdir(path("f"), 0755), EEXIST);
	ERR(mkdir(path("d"), 0755), EEXIST);
	ERR(rmdir(path("d")), ENOTEMPTY);
	CHECK(mkdir(path("e"), 0755) == 0, "mkdir e: %s", ename(errno));
	ERR(rename(path("e"), path("d")), ENOTEMPTY);
	/* a directory into itself, and names that are not names */
	ERR(rename(path("d"), path("d/sub")), EINVAL);
	ERR(rename(path("d"), path("d/in/x")), ENOTDIR);
	ERR(rename(path("."), path("x")), EINVAL);
	ERR(rmdir(path("d/.")), EINVAL);
	/* ENOENT */
	ERR(open(path("none/x"), O_WRONLY | O_CREAT, 0644), ENOENT);
	ERR(mkdir(path("none/x"), 0755), ENOENT);
	ERR(rename(path("none"), path("x")), ENOENT);
	ERR(rename(path("f"), path("none/x")), ENOENT);
	ERR(unlink(path("none")), ENOENT);
	ERR(rmdir(path("none")), ENOENT);
	/* nothing of it changed what is there */
	fd = open(path("f"), O_RDONLY);
	CHECK(fd >= 0 && !strcmp(get(path("f")), "file") && !strcmp(get(path("d/in")), "in") &&
	      stat(path("e"), &st) == 0 && S_ISDIR(st.st_mode) && stat(path("new"), &st) < 0 &&
	      stat(path("x"), &st) < 0 && stat(path("g"), &st) < 0, "a refused call changed %s",
	      dir);
	close(fd);
	rmtree(dir);
	return NULL;
}

const char *t_file_disk_names(void)
{
	return in_diskdir("names", disk_names);
}
