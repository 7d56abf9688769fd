/*
 * dmtest: record locks between processes (see main.c; files.c holds the
 * helpers): fcntl locks that conflict, split and are dropped, waiters that
 * sleep and can be killed, deadlocks found, F_GETLK naming the holder,
 * bad arguments, flock; and the child (`dmtest --child lock`) that takes a
 * lock for them. Each test runs on /tmp (this node's ramfs, children on
 * this node) and, when the shared disk is mounted, on dmosfs, whose locks
 * hold across the cluster: there the children run on another node.
 */
#include <sys/file.h>
#include "dmtest.h"

/* ---- where: each file system that keeps locks ---------------------------------------- */

static const char *top;         /* the file system the test runs on now: "/tmp", "/", "/disk" */
static int kid;                 /* the node its children run on */

/* The test's directory (tag) on the file system of this run, made empty. */
static const char *lockdir(const char *tag)
{
	return workdir_in(top, tag);
}

/*
 * Run test body on /tmp, then on dmosfs if it is mounted ("/" or /disk);
 * a failure says where.
 */
static const char *on_each_fs(const char *(*body)(void))
{
	const char *dmosfs = dmosfs_top(), *err;
	char copy[sizeof(why)];

	for (int i = 0; i < (dmosfs ? 2 : 1); i++) {
		top = i ? dmosfs : "/tmp";
		kid = i ? other : self;
		if ((err = body())) {
			snprintf(copy, sizeof(copy), "%s", err);
			return fail("%s (%s, children on node %d): %s", i ? "dmosfs" : "ramfs", top,
				    kid, copy);
		}
	}
	return NULL;
}

/* F_GETLK through the system call itself: newlib's l_pid is a short, cluster pids are not. */
static long getlk_raw(int fd, int16_t type, int64_t start, int64_t len, struct dm_flock *d)
{
	*d = (struct dm_flock){ type, DM_SEEK_SET, 0, start, len, 0, 0 };
	return raw(SYS_fcntl, fd, DM_F_GETLK, (long)d);
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
	if (start_child_lock(&c, kid, p, type, s, l, "try") < 0 || finish(&c, &st))
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * The test's directory (tag) with a file f holding s, open read-write in
 * *fd, and our write lock on [start, start+len) of it.
 * Return: NULL, or what went wrong.
 */
static const char *locked_file(const char *tag, const char *s, off_t start, off_t len, int *fd)
{
	struct flock fl = lk(F_WRLCK, start, len);
	const char *err;

	if ((err = lockdir(tag)))
		return err;
	CHECK(put(path("f"), s) == 0, "put: %s", ename(errno));
	*fd = open(path("f"), O_RDWR);
	CHECK(*fd >= 0 && fcntl(*fd, F_SETLK, &fl) == 0, "F_SETLK [%lld, +%lld): %s", (long long)start,
	      (long long)len, ename(errno));
	return NULL;
}

static const char *file_locks(void)
{
	struct flock fl;
	const char *err;
	int fd, ro;

	if ((err = locked_file("locks", "0123456789", 0, 100, &fd)))
		return err;
	ro = open(path("f"), O_RDONLY);
	CHECK(ro >= 0, "open: %s", ename(errno));
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
	fl = lk(F_RDLCK, 0, 1);
	ERR(fcntl(99, F_SETLK, &fl), EBADF);
	ERR(fcntl(-1, F_GETLK, &fl), EBADF);
	RAW(-LINUX_EINVAL, SYS_fcntl, fd, 77, &fl);     /* no such command */
	RAW(-LINUX_EFAULT, SYS_fcntl, fd, DM_F_SETLK, KADDR);
	RAW(-LINUX_EFAULT, SYS_fcntl, fd, DM_F_SETLKW, UNMAPPED);
	RAW(-LINUX_EFAULT, SYS_fcntl, fd, DM_F_GETLK, NULL);
	struct dm_flock d;
	CHECK(getlk_raw(fd, 9, 0, 1, &d) == -LINUX_EINVAL, "F_GETLK of type 9 is not EINVAL");
	d = (struct dm_flock){ DM_F_RDLCK, 7, 0, 0, 1, 0, 0 };
	RAW(-LINUX_EINVAL, SYS_fcntl, fd, DM_F_SETLK, &d);      /* no such whence */
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

const char *t_file_locks(void)
{
	return on_each_fs(file_locks);
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

/*
 * Start a child that takes a write lock on [from, from+len) of f (how:
 * wait or cross, see child_lock) and wait until it sleeps, waiting for us.
 * Return: NULL, or what went wrong.
 */
static const char *start_waiter(struct child *c, const char *from, const char *len, const char *how)
{
	CHECK(start_child_lock(c, kid, path("f"), "w", from, len, how) > 0, "spawn: %s", ename(errno));
	CHECK(sleeping(c->pid), "the child (%s) did not sleep in F_SETLKW", how);
	return NULL;
}

static const char *file_lock_wait(void)
{
	struct flock fl;
	struct child c, k;
	const char *err;
	int fd, st;

	if ((err = locked_file("lockwait", "x", 0, 10, &fd)))
		return err;
	/* a waiter gets the lock when we let go */
	if ((err = start_waiter(&c, "5", "1", "wait")))
		return err;
	fl = lk(F_UNLCK, 0, 0);
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "unlock: %s", ename(errno));
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the waiter: %s", status_str(st));
	/* a waiter can be killed */
	fl = lk(F_WRLCK, 0, 10);
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "F_SETLK again: %s", ename(errno));
	if ((err = start_waiter(&k, "0", "0", "wait")))
		return err;
	CHECK(kill(k.pid, 9) == 0, "kill the waiter: %s", ename(errno));
	if ((err = finish(&k, &st)))
		return err;
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == 9, "the killed waiter: %s", status_str(st));
	/* the killed waiter waits no more: a new one gets the lock when we let go */
	if ((err = start_waiter(&c, "0", "1", "wait")))
		return err;
	close(fd);                              /* drops our locks */
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the waiter after a close: %s", status_str(st));
	rmtree(dir);
	return NULL;
}

const char *t_file_lock_wait(void)
{
	return on_each_fs(file_lock_wait);
}

static const char *file_lock_deadlock(void)
{
	struct flock fl;
	struct child c;
	const char *err;
	int fd, st;

	if ((err = locked_file("deadlock", "xy", 0, 1, &fd)))
		return err;
	/* the child locks byte 1, then waits for byte 0 */
	if ((err = start_waiter(&c, "1", "1", "cross")))
		return err;
	struct dm_flock d;
	CHECK(getlk_raw(fd, DM_F_RDLCK, 0, 0, &d) == 0 && d.type == DM_F_WRLCK && d.pid == c.pid &&
	      d.start == 1 && d.len == 1, "F_GETLK: type %d pid %d [%lld, +%lld), want the child's "
	      "(pid %d) write lock of byte 1", d.type, d.pid, (long long)d.start, (long long)d.len,
	      c.pid);
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

const char *t_file_lock_deadlock(void)
{
	return on_each_fs(file_lock_deadlock);
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

int start_child_lock(struct child *c, int node, const char *p, const char *type, const char *from,
		     const char *len, const char *how)
{
	return start(c, node, CHILD_TIMEOUT_MS, "lock", p, type, from, len, how, NULL);
}
