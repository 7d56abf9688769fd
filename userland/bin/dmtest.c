/*
 * dmtest: the in-guest test suite. Checks, from a real program on a real
 * node, what the kernel promises programs: system calls refuse bad
 * pointers and bad arguments with the right errno (as newlib's errno sees
 * it), processes start, end, fault and are killed with the right wait
 * status, clocks and sleeps, memory placement (dm_alloc, dm_where,
 * dm_free), shared segments, futexes, and, when the cluster has more than
 * one node, the same across nodes.
 *
 * Output is KTAP-like: a plan line `1..N`, one line per test (`ok N name`,
 * `not ok N name - reason`, `ok N name # SKIP reason`), `# ...` comments,
 * then exactly `dmtest: P passed, F failed`. Exit status 0 only if every
 * test passed (a skipped test counts as passed).
 *
 *   dmtest              every test
 *   dmtest NAME...      only these tests
 *   dmtest --list       the tests' names
 *
 * Each test runs in a process of its own (`dmtest --child run NAME CTL`)
 * and reports through a shared segment, the control segment. Tests that
 * must fault, sleep or run elsewhere start more `dmtest --child MODE ARGS`
 * with dm_spawn and check their wait status. Nothing may hang: every wait
 * has a timeout, and every test process and every child that waits for
 * anything gets a watchdog (`--child watchdog`, on its node) that kills it
 * if it runs too long; a test killed so fails, and the suite goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "dm.h"
#include "kernel/sysnum.h"

#define KADDR    ((void *)0xffffffff80100000UL)  /* kernel text */
#define UNMAPPED ((void *)0x0000500000000000UL)  /* user half, nothing mapped there */
#define NONCANON ((void *)0x0000900000000000UL)  /* not a canonical address */
#define LINUX_ENOSYS   38       /* what the kernel itself returns (kernel/kernel.h) */
#define LINUX_EFAULT   14
#define LINUX_EINVAL   22
#define PID_STRIDE     1000000  /* pid = node * this + n (sched/sched.h) */
#define MS             1000000ULL
#define CHILD_TIMEOUT_MS 20000  /* a child that runs longer is killed by its watchdog */
#define PAGE           4096

static int self, nodes;         /* this node, nodes in the cluster */
static int other;               /* another node (self when alone) */
static char prefix[16];         /* "dmtPID": names of our segments */
static const char *skipped;     /* set by a test that does not apply here */
static char why[320];           /* a failing test's reason */

/* ---- checking -------------------------------------------------------------------- */

static const char *ename(int e)
{
	static char buf[16];
	static const struct { int e; const char *name; } names[] = {
		{ 0, "0" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" },
		{ EINTR, "EINTR" }, { EIO, "EIO" }, { E2BIG, "E2BIG" }, { ENOEXEC, "ENOEXEC" },
		{ EBADF, "EBADF" }, { ECHILD, "ECHILD" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EEXIST, "EEXIST" }, { EINVAL, "EINVAL" },
		{ EMFILE, "EMFILE" }, { ENOTTY, "ENOTTY" }, { ENOSPC, "ENOSPC" }, { ESPIPE, "ESPIPE" },
		{ ERANGE, "ERANGE" }, { ENAMETOOLONG, "ENAMETOOLONG" }, { ENOSYS, "ENOSYS" },
		{ ETIMEDOUT, "ETIMEDOUT" }, { EHOSTDOWN, "EHOSTDOWN" },
	};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].name;
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

static const char *fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return why;
}

#define CHECK(cond, ...) do { if (!(cond)) return fail(__VA_ARGS__); } while (0)

/* expr must fail with -1 and errno want. */
#define ERR(expr, want) do {                                                            \
	errno = 0;                                                                      \
	long r_ = (long)(expr);                                                         \
	int e_ = errno;                                                                 \
	if (r_ != -1 || e_ != (want))                                                   \
		return fail("%s = %ld (%s), want -1 (%s)", #expr, r_, ename(e_), ename(want)); \
} while (0)

/* expr must fail with NULL and errno want. */
#define NULLERR(expr, want) do {                                                        \
	errno = 0;                                                                      \
	void *p_ = (void *)(expr);                                                      \
	int e_ = errno;                                                                 \
	if (p_ || e_ != (want))                                                         \
		return fail("%s = %p (%s), want NULL (%s)", #expr, p_, ename(e_), ename(want)); \
} while (0)

/* A raw system call must return exactly r (a negative Linux errno). */
#define RAW(want, n, a, b, c) do {                                                      \
	long r_ = raw(n, (long)(a), (long)(b), (long)(c));                              \
	if (r_ != (want))                                                               \
		return fail("syscall(%s, %s, %s, %s) = %ld, want %ld", #n, #a, #b, #c, r_, (long)(want)); \
} while (0)

static long raw(long n, long a, long b, long c)
{
	register long r10 __asm__("r10") = 0, r8 __asm__("r8") = 0, r9 __asm__("r9") = 0;
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			 "r"(r9) : "rcx", "r11", "memory");
	return r;
}

static uint64_t now(void)
{
	return dm_now_ns();
}

/* ---- children ---------------------------------------------------------------------- */
/*
 * One shared segment, the control segment, made by the first dmtest and
 * attached by every test process it starts. It holds the watchdogs' words
 * (slot 0 while the child runs, 1 once its parent has it back and the dog
 * may go, 2 if the dog fired and killed it) and the result of the test
 * being run.
 */
#define NSLOTS 1024
struct ctl {
	uint32_t next_slot;     /* the next watchdog word to use, for every process */
	uint32_t go;            /* 1: the test process may start (its watchdog is up) */
	uint32_t result;        /* what the test process says: R_PASS, R_FAIL, R_SKIP */
	uint32_t pad;
	char why[320];          /* its reason, for R_FAIL and R_SKIP */
	uint32_t dog[NSLOTS];
};
enum { R_NONE, R_PASS, R_FAIL, R_SKIP };
static struct ctl *ctl;         /* the control segment, or NULL (no watchdogs) */
static char ctl_name[DM_NAME_MAX];

struct child {
	int pid, dog, slot, node;
	unsigned timeout_ms;
};

/* Start `dmtest --child mode args...` on node, guarded for timeout_ms (0: unguarded). */
static int startv(struct child *c, int node, unsigned timeout_ms, const char *mode, va_list ap)
{
	char *argv[17] = { "dmtest", "--child", (char *)mode };       /* the kernel passes 16 */
	int n = 3;
	const char *a;

	while ((a = va_arg(ap, const char *)) && n < 16)
		argv[n++] = (char *)a;
	argv[n] = NULL;
	*c = (struct child){ -1, -1, -1, node, timeout_ms };
	if ((c->pid = dm_spawn("dmtest", argv, node)) < 0)
		return -1;
	if (ctl && timeout_ms) {
		char slot[16], pid[16], ms[16];
		c->slot = __atomic_fetch_add(&ctl->next_slot, 1, __ATOMIC_SEQ_CST) % NSLOTS;
		__atomic_store_n(&ctl->dog[c->slot], 0, __ATOMIC_SEQ_CST);
		snprintf(slot, sizeof(slot), "%d", c->slot);
		snprintf(pid, sizeof(pid), "%d", c->pid);
		snprintf(ms, sizeof(ms), "%u", timeout_ms);
		char *dog[] = { "dmtest", "--child", "watchdog", ctl_name, slot, pid, ms, NULL };
		c->dog = dm_spawn("dmtest", dog, c->pid / PID_STRIDE);  /* kill works on its node only */
	}
	return c->pid;
}

static int start(struct child *c, int node, unsigned timeout_ms, const char *mode, ...)
{
	va_list ap;
	int r;

	va_start(ap, mode);
	r = startv(c, node, timeout_ms, mode, ap);
	va_end(ap);
	return r;
}

/* Wait for a started child. Return: NULL with *status set, or why not. */
static const char *finish(struct child *c, int *status)
{
	int r = dm_wait(c->pid, status), err = errno;

	if (c->dog > 0) {
		uint32_t zero = 0;
		if (__atomic_compare_exchange_n(&ctl->dog[c->slot], &zero, 1, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			futex_wake(&ctl->dog[c->slot], 1);
		int ds;
		dm_wait(c->dog, &ds);
		if (__atomic_load_n(&ctl->dog[c->slot], __ATOMIC_SEQ_CST) == 2)
			return fail("child pid %d did not end within %u ms (its watchdog killed it)",
				    c->pid, c->timeout_ms);
	}
	if (r != c->pid)
		return fail("dm_wait(%d) = %d (%s)", c->pid, r, ename(err));
	return NULL;
}

static const char *status_str(int st)
{
	static char buf[48];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, sizeof(buf), "status 0x%x", st);
	return buf;
}

/* Run a child to its end; it must exit with `code`. */
static const char *run_exit(int node, int code, const char *mode, ...)
{
	struct child c;
	va_list ap;
	int st = 0;
	const char *err;

	va_start(ap, mode);
	int pid = startv(&c, node, CHILD_TIMEOUT_MS, mode, ap);
	va_end(ap);
	if (pid < 0)
		return fail("dm_spawn(dmtest --child %s) on node %d: %s", mode, node, ename(errno));
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == code, "child %s on node %d: %s, want exit %d",
	      mode, node, status_str(st), code);
	return NULL;
}

/* Run a child to its end; it must be killed by signal sig. */
static const char *run_killed(int node, int sig, const char *mode, ...)
{
	struct child c;
	va_list ap;
	int st = 0;
	const char *err;

	va_start(ap, mode);
	int pid = startv(&c, node, CHILD_TIMEOUT_MS, mode, ap);
	va_end(ap);
	if (pid < 0)
		return fail("dm_spawn(dmtest --child %s) on node %d: %s", mode, node, ename(errno));
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == sig, "child %s on node %d: %s, want killed by signal %d",
	      mode, node, status_str(st), sig);
	return NULL;
}

static void segname(char *buf, const char *tag)
{
	snprintf(buf, DM_NAME_MAX, "%s.%s", prefix, tag);
}

/* ---- a list in a shared segment, built by one process, walked by another ------------- */

struct item {
	struct item *next;
	uint64_t value;
};

struct list {
	uint32_t done;          /* the walker sets it to 1 (or 2: bad) and wakes us */
	uint32_t count;
	uint64_t result;        /* the walker's sum */
	struct item *first;
	struct item items[];
};

#define LIST_ITEMS 1000
#define LIST_BYTES (sizeof(struct list) + LIST_ITEMS * sizeof(struct item))

static uint64_t build_list(struct list *l)
{
	uint64_t sum = 0;

	l->count = LIST_ITEMS;
	l->first = NULL;
	for (int i = 0; i < LIST_ITEMS; i++) {  /* linked backwards: the walk jumps around */
		l->items[i].value = (uint64_t)i * i + 1;
		l->items[i].next = l->first;
		l->first = &l->items[i];
		sum += l->items[i].value;
	}
	return sum;
}

/* Wait (bounded) until *word is no longer `value`. Return: 0, or -1 on timeout. */
static int wait_change(uint32_t *word, uint32_t value, uint64_t timeout_ns)
{
	uint64_t until = now() + timeout_ns;

	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) {
		uint64_t t = now();
		if (t >= until)
			return -1;
		futex_wait(word, value, until - t);
	}
	return 0;
}

/* ---- system calls with bad pointers and bad arguments ---------------------------- */

static const char *t_write_bad_pointers(void)
{
	char *area = dm_alloc(2 * PAGE, DM_LOCAL, 0);

	ERR(write(1, NULL, 8), EFAULT);
	ERR(write(1, KADDR, 8), EFAULT);
	ERR(write(1, UNMAPPED, 8), EFAULT);
	ERR(write(1, NONCANON, 8), EFAULT);
	ERR(write(2, (void *)0xffff800000000000UL, 8), EFAULT);        /* the direct map */
	CHECK(area, "dm_alloc: %s", ename(errno));
	area[0] = 'x';
	ERR(write(1, area + PAGE, 2 * PAGE), EFAULT);   /* runs off the end of an area */
	dm_free(area, 2 * PAGE);
	return NULL;
}

static const char *t_read_bad_pointers(void)
{
	int fd = open("dmtest", O_RDONLY);

	ERR(read(0, NULL, 8), EFAULT);
	ERR(read(0, KADDR, 8), EFAULT);
	ERR(read(0, UNMAPPED, 8), EFAULT);
	ERR(read(0, (void *)t_read_bad_pointers, 8), EFAULT);    /* our own code: read-only */
	CHECK(fd >= 3, "open(dmtest) = %d (%s)", fd, ename(errno));
	ERR(read(fd, NULL, 8), EFAULT);
	ERR(read(fd, KADDR, 8), EFAULT);
	close(fd);
	return NULL;
}

static const char *t_bad_fds(void)
{
	char buf[8] = "x";
	struct stat st;

	ERR(write(-1, buf, 1), EBADF);
	ERR(write(3, buf, 1), EBADF);
	ERR(write(99, buf, 1), EBADF);
	ERR(read(-1, buf, 1), EBADF);
	ERR(read(5, buf, 1), EBADF);
	ERR(read(1000, buf, 1), EBADF);
	ERR(close(-1), EBADF);
	ERR(close(7), EBADF);
	ERR(close(99), EBADF);
	ERR(fstat(9, &st), EBADF);
	ERR(fstat(-3, &st), EBADF);
	ERR(lseek(11, 0, SEEK_SET), EBADF);
	return NULL;
}

static const char *t_bad_lengths(void)
{
	char buf[16] = "";

	ERR(write(1, buf, (size_t)-1), EFAULT);         /* wraps around */
	ERR(write(1, buf, 1UL << 40), EFAULT);          /* far past the stack */
	ERR(read(0, buf, (size_t)-1), EFAULT);
	ERR(read(0, buf, 1UL << 40), EFAULT);
	CHECK(write(1, buf, 0) == 0, "write(1, buf, 0) = %d (%s), want 0", (int)write(1, buf, 0),
	      ename(errno));
	return NULL;
}

static const char *t_open_errors(void)
{
	char path[200], elf[4];
	int fd;

	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = 0;
	ERR(open(NULL, O_RDONLY), EFAULT);
	ERR(open(KADDR, O_RDONLY), EFAULT);
	ERR(open(UNMAPPED, O_RDONLY), EFAULT);
	ERR(open("no-such-program", O_RDONLY), ENOENT);
	ERR(open(path, O_RDONLY), ENAMETOOLONG);
	ERR(open("hello", O_WRONLY), EACCES);           /* the initrd is read-only */
	ERR(open("hello", O_RDWR), EACCES);
	fd = open("hello", O_RDONLY);
	CHECK(fd >= 3, "open(hello) = %d (%s)", fd, ename(errno));
	CHECK(read(fd, elf, 4) == 4 && !memcmp(elf, "\177ELF", 4), "hello does not start with ELF magic");
	ERR(lseek(fd, 0, 7), EINVAL);
	ERR(lseek(fd, -10, SEEK_SET), EINVAL);
	ERR(lseek(1, 0, SEEK_SET), ESPIPE);
	CHECK(lseek(fd, 1, SEEK_SET) == 1, "lseek(fd, 1, SEEK_SET) != 1");
	CHECK(close(fd) == 0, "close(%d): %s", fd, ename(errno));
	ERR(close(fd), EBADF);
	return NULL;
}

static const char *t_open_too_many(void)
{
	int fds[32], n = 0, fd;

	while (n < 32 && (fd = open("hello", O_RDONLY)) >= 0)
		fds[n++] = fd;
	int err = errno;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	CHECK(n < 32, "32 files open at once and no EMFILE");
	CHECK(err == EMFILE, "open number %d failed with %s, want EMFILE", n + 1, ename(err));
	CHECK(n >= 8, "only %d files could be open at once", n);
	fd = open("hello", O_RDONLY);   /* and they all came back */
	CHECK(fd >= 3, "open after closing all: %s", ename(errno));
	close(fd);
	return NULL;
}

static const char *t_fstat(void)
{
	struct stat st;
	int fd = open("hello", O_RDONLY);

	CHECK(fstat(1, &st) == 0 && S_ISCHR(st.st_mode), "fstat(1): not a character device");
	CHECK(fd >= 3 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 1000,
	      "fstat(hello): not a regular file with a size");
	RAW(-LINUX_EFAULT, SYS_fstat, fd, 0, 0);
	RAW(-LINUX_EFAULT, SYS_fstat, 1, KADDR, 0);
	RAW(-LINUX_EFAULT, SYS_fstat, 1, UNMAPPED, 0);
	close(fd);
	return NULL;
}

static const char *t_unknown_syscall(void)
{
	RAW(-LINUX_ENOSYS, 0, 0, 0, 0);
	RAW(-LINUX_ENOSYS, SYS_MAX, 0, 0, 0);
	RAW(-LINUX_ENOSYS, SYS_MAX + 1, 1, 2, 3);
	RAW(-LINUX_ENOSYS, 1000, 0, 0, 0);
	RAW(-LINUX_ENOSYS, -1, 0, 0, 0);
	RAW(-LINUX_ENOSYS, 1L << 40, 0, 0, 0);
	ERR(fork(), ENOSYS);                    /* newlib's errno, newlib's number */
	ERR(execve("hello", NULL, NULL), ENOSYS);
	return NULL;
}

static const char *t_dm_alloc_bad_args(void)
{
	NULLERR(dm_alloc(0, DM_LOCAL, 0), EINVAL);
	NULLERR(dm_alloc(PAGE, 0, 0), EINVAL);
	NULLERR(dm_alloc(PAGE, 4, 0), EINVAL);
	NULLERR(dm_alloc(PAGE, -1, 0), EINVAL);
	NULLERR(dm_alloc(PAGE, DM_LOCAL, 2), EINVAL);
	NULLERR(dm_alloc(PAGE, DM_POOL, 0x100), EINVAL);
	NULLERR(dm_alloc(PAGE, DM_ANY, -1), EINVAL);
	NULLERR(dm_alloc((size_t)-1, DM_ANY, 0), EINVAL);
	NULLERR(dm_alloc((size_t)-4096, DM_LOCAL, 0), EINVAL);
	NULLERR(dm_alloc(1UL << 40, DM_ANY, 0), EINVAL);      /* 1 TiB */
	return NULL;
}

static const char *t_dm_free_bad_args(void)
{
	char *heap = malloc(64);
	char *p = dm_alloc(4 * PAGE, DM_LOCAL, 0);

	CHECK(p, "dm_alloc: %s", ename(errno));
	ERR(dm_free(NULL, PAGE), EINVAL);
	ERR(dm_free(heap, 64), EINVAL);
	ERR(dm_free(KADDR, PAGE), EINVAL);
	ERR(dm_free(p, PAGE), EINVAL);                  /* not the size it was given */
	ERR(dm_free(p + PAGE, 3 * PAGE), EINVAL);       /* not its start */
	CHECK(dm_free(p, 4 * PAGE) == 0, "dm_free: %s", ename(errno));
	ERR(dm_free(p, 4 * PAGE), EINVAL);              /* twice */
	free(heap);
	return NULL;
}

static const char *t_dm_where_bad(void)
{
	char *p = dm_alloc(PAGE, DM_LOCAL, 0);

	ERR(dm_where(NULL), EFAULT);
	ERR(dm_where(KADDR), EFAULT);
	ERR(dm_where(UNMAPPED), EFAULT);
	CHECK(p && dm_where(p) == DM_LOCAL, "dm_where(local page) = %d", p ? dm_where(p) : -2);
	dm_free(p, PAGE);
	ERR(dm_where(p), EFAULT);                       /* freed */
	return NULL;
}

static const char *t_seg_bad_args(void)
{
	char name[DM_NAME_MAX], longname[48];
	int x;

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	segname(name, "bad");
	NULLERR(seg_create(NULL, PAGE, 0), EFAULT);
	NULLERR(seg_create(KADDR, PAGE, 0), EFAULT);
	NULLERR(seg_create(UNMAPPED, PAGE, 0), EFAULT);
	NULLERR(seg_create("", PAGE, 0), EINVAL);
	NULLERR(seg_create(name, 0, 0), EINVAL);
	NULLERR(seg_create(name, (1UL << 30) + 1, 0), EINVAL);
	NULLERR(seg_create(name, (size_t)-1, 0), EINVAL);
	NULLERR(seg_create(longname, PAGE, 0), ENAMETOOLONG);
	NULLERR(seg_attach(NULL, 0), EFAULT);
	NULLERR(seg_attach(KADDR, 0), EFAULT);
	NULLERR(seg_attach(name, 0), ENOENT);
	NULLERR(seg_attach(longname, 0), ENAMETOOLONG);
	ERR(seg_detach(NULL), EINVAL);
	ERR(seg_detach(&x), EINVAL);
	ERR(seg_detach(KADDR), EINVAL);
	return NULL;
}

static const char *t_futex_bad_args(void)
{
	static uint32_t word;
	char *c = (char *)&word;

	ERR(futex_wait(NULL, 0, MS), EFAULT);
	ERR(futex_wait(KADDR, 0, MS), EFAULT);
	ERR(futex_wait(UNMAPPED, 0, MS), EFAULT);
	ERR(futex_wait((uint32_t *)(c + 1), 0, MS), EFAULT);      /* misaligned */
	ERR(futex_wake(NULL, 1), EFAULT);
	ERR(futex_wake(KADDR, 1), EFAULT);
	ERR(futex_wake((uint32_t *)(c + 2), 1), EFAULT);
	ERR(futex_wake(&word, -1), EINVAL);
	return NULL;
}

static const char *t_spawn_bad_args(void)
{
	char arg[100], *many[20], *badargv[] = { "dmtest", KADDR, NULL };
	char *longarg[] = { "dmtest", arg, NULL };

	memset(arg, 'a', sizeof(arg) - 1);
	arg[sizeof(arg) - 1] = 0;
	for (int i = 0; i < 19; i++)
		many[i] = "x";
	many[19] = NULL;
	ERR(dm_spawn(NULL, NULL, self), EFAULT);
	ERR(dm_spawn(KADDR, NULL, self), EFAULT);
	ERR(dm_spawn(UNMAPPED, NULL, self), EFAULT);
	ERR(dm_spawn(arg, NULL, self), ENAMETOOLONG);
	ERR(dm_spawn("no-such-program", NULL, self), ENOENT);
	ERR(dm_spawn("hello", NULL, nodes), EINVAL);
	ERR(dm_spawn("hello", NULL, 999), EINVAL);
	ERR(dm_spawn("hello", NULL, -5), EINVAL);
	ERR(dm_spawn("hello", (char **)KADDR, self), EFAULT);
	ERR(dm_spawn("hello", (char **)UNMAPPED, self), EFAULT);
	ERR(dm_spawn("hello", badargv, self), EFAULT);
	ERR(dm_spawn("hello", many, self), E2BIG);
	ERR(dm_spawn("hello", longarg, self), ENAMETOOLONG);
	ERR(dm_wait(-1, NULL), ECHILD);         /* and none of them started */
	return NULL;
}

static const char *t_wait_bad_args(void)
{
	int st;

	ERR(dm_wait(-1, NULL), ECHILD);
	ERR(dm_wait(-1, &st), ECHILD);
	ERR(dm_wait(12345, &st), ECHILD);
	ERR(dm_wait(-1, KADDR), EFAULT);
	ERR(dm_wait(-1, (int *)t_wait_bad_args), EFAULT);  /* read-only */
	ERR(waitpid(-1, &st, WNOHANG), EINVAL);
	ERR(wait(&st), ECHILD);
	return NULL;
}

static const char *t_info_bad_args(void)
{
	struct dm_proc ps[4], *page = dm_alloc(PAGE, DM_LOCAL, 0);
	struct timespec ts;

	CHECK(page, "dm_alloc: %s", ename(errno));
	errno = 0;
	long r = dm_ps(page, 100), e = errno;    /* more than the page holds: runs into the guard */
	dm_free(page, PAGE);
	CHECK(r == -1 && e == EFAULT, "dm_ps(one page, 100) = %ld (%s), want -1 (EFAULT)", r, ename(e));

	ERR(dm_ps(NULL, 4), EFAULT);
	ERR(dm_ps(KADDR, 4), EFAULT);
	ERR(dm_ps(ps, -1), EINVAL);
	ERR(dm_ps(ps, 1 << 20), EINVAL);
	ERR(dm_meminfo(NULL), EFAULT);
	ERR(dm_meminfo(KADDR), EFAULT);
	ERR(dm_nodeinfo(KADDR), EFAULT);
	ERR(dm_nodeinfo(UNMAPPED), EFAULT);
	RAW(-LINUX_EINVAL, SYS_clock_ns, 2, 0, 0);
	RAW(-LINUX_EINVAL, SYS_clock_ns, -1, 0, 0);
	ERR(clock_gettime(99, &ts), EINVAL);
	return NULL;
}

static const char *t_kill_bad(void)
{
	ERR(kill(999999, 9), ESRCH);
	ERR(kill(-5, 9), ESRCH);
	ERR(kill(self * PID_STRIDE, 9), ESRCH);         /* the kernel thread */
	return NULL;
}

static const char *t_sbrk_limits(void)
{
	void *before = sbrk(0);

	CHECK(sbrk(1L << 40) == (void *)-1 && errno == ENOMEM, "sbrk(1 TiB) did not fail with ENOMEM");
	CHECK(sbrk(-(1L << 40)) == (void *)-1 && errno == ENOMEM, "sbrk(-1 TiB) did not fail with ENOMEM");
	CHECK(sbrk(0) == before, "the break moved: %p -> %p", before, sbrk(0));
	return NULL;
}

/* ---- processes --------------------------------------------------------------------- */

static const char *t_spawn_exit_status(void)
{
	const char *err;

	if ((err = run_exit(self, 0, "exit", "0", NULL)) || (err = run_exit(self, 42, "exit", "42", NULL)) ||
	    (err = run_exit(self, 255, "exit", "255", NULL)) || (err = run_exit(self, 3, "return", "3", NULL)))
		return err;
	return NULL;
}

static const char *t_child_segfault(void)
{
	printf("# a child now faults on purpose: a 'killed: page fault' line is expected\n");
	return run_killed(self, 11, "segv", NULL);
}

static const char *t_child_bad_instruction(void)
{
	printf("# a child now runs ud2 on purpose: a 'killed' line is expected\n");
	return run_killed(self, 11, "ud2", NULL);
}

static const char *t_getpid_getppid(void)
{
	struct child c;
	char me[16];
	int st;
	const char *err;

	CHECK(getpid() / PID_STRIDE == self, "getpid() = %d is not a pid of node %d", getpid(), self);
	CHECK(getppid() >= 0, "getppid() = %d", getppid());
	snprintf(me, sizeof(me), "%d", getpid());
	if (start(&c, self, CHILD_TIMEOUT_MS, "ids", me, NULL) < 0)
		return fail("dm_spawn: %s", ename(errno));
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 255, "the child's getppid() is not our pid");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == c.pid % 200 + 1,
	      "the child's getpid() is not what dm_spawn returned (%d): %s", c.pid, status_str(st));
	return NULL;
}

static const char *t_wait_any(void)
{
	int pids[3], seen = 0;

	for (int i = 0; i < 3; i++) {
		char code[4] = { (char)('1' + i), 0 };
		char *argv[] = { "dmtest", "--child", "exit", code, NULL };
		if ((pids[i] = dm_spawn("dmtest", argv, self)) < 0)
			return fail("dm_spawn: %s", ename(errno));
	}
	for (int i = 0; i < 3; i++) {
		int st = 0, pid = dm_wait(-1, &st), k;
		for (k = 0; k < 3 && pids[k] != pid; k++)
			;
		CHECK(k < 3, "dm_wait(-1) = %d (%s), not one of our children", pid, ename(errno));
		CHECK(!(seen & (1 << k)), "dm_wait(-1) gave pid %d twice", pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == k + 1, "pid %d: %s, want exit %d", pid,
		      status_str(st), k + 1);
		seen |= 1 << k;
	}
	ERR(dm_wait(-1, NULL), ECHILD);
	return NULL;
}

/* Find pid in the cluster's process table. Return: its entry (static), or NULL. */
static struct dm_proc *ps_find(int pid)
{
	static struct dm_proc ps[512];
	int n = dm_ps(ps, 512);

	for (int i = 0; i < n; i++)
		if (ps[i].pid == pid)
			return &ps[i];
	return NULL;
}

static const char *t_ps_lists_self(void)
{
	struct dm_proc *p = ps_find(getpid());

	CHECK(p, "pid %d is not in dm_ps", getpid());
	CHECK(p->node == self, "dm_ps says pid %d runs on node %d, not %d", p->pid, p->node, self);
	CHECK(!strcmp(p->name, "dmtest"), "dm_ps names pid %d '%s'", p->pid, p->name);
	CHECK(p->state == DM_PROC_RUNNING, "dm_ps says we are '%s'", dm_state_name(p->state));
	CHECK(p->local_pages > 0, "dm_ps says we hold no local memory");
	return NULL;
}

static const char *t_kill_sleeping_child(void)
{
	struct child c;
	struct dm_proc *p = NULL;
	int st;
	const char *err;

	if (start(&c, self, CHILD_TIMEOUT_MS, "sleep", "15000", NULL) < 0)
		return fail("dm_spawn: %s", ename(errno));
	for (uint64_t until = now() + 3000 * MS; now() < until; dm_sleep_ns(10 * MS))
		if ((p = ps_find(c.pid)) && p->state == DM_PROC_SLEEPING)
			break;
	if (!p || p->state != DM_PROC_SLEEPING) {
		kill(c.pid, 9);
		finish(&c, &st);
		return fail("the child never showed as sleeping in dm_ps");
	}
	uint64_t t0 = now();
	if (kill(c.pid, 9) < 0) {
		int e = errno;
		finish(&c, &st);
		return fail("kill(%d, 9): %s", c.pid, ename(e));
	}
	if ((err = finish(&c, &st)))
		return err;
	uint64_t ms = (now() - t0) / MS;
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == 9, "killed child: %s, want killed by signal 9", status_str(st));
	CHECK(ms < 2000, "the killed child took %llu ms to end", (unsigned long long)ms);
	ERR(kill(c.pid, 9), ESRCH);             /* gone */
	return NULL;
}

static const char *t_kill_spinning_child(void)
{
	struct child c;
	int st;
	const char *err;

	if (start(&c, self, CHILD_TIMEOUT_MS, "spin", "15000", NULL) < 0)
		return fail("dm_spawn: %s", ename(errno));
	dm_sleep_ns(100 * MS);
	if (kill(c.pid, 9) < 0) {
		int e = errno;
		finish(&c, &st);
		return fail("kill(%d, 9): %s", c.pid, ename(e));
	}
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == 9, "killed child: %s, want killed by signal 9", status_str(st));
	return NULL;
}

/* ---- time ----------------------------------------------------------------------------- */

static const char *t_clock_monotonic(void)
{
	struct timespec a, b, r;
	int64_t prev = 0;

	CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0, "clock_gettime: %s", ename(errno));
	for (int i = 0; i < 10000; i++) {
		int64_t t = (int64_t)dm_now_ns();
		CHECK(t >= prev, "the monotonic clock went back: %lld -> %lld", (long long)prev, (long long)t);
		prev = t;
	}
	for (volatile int i = 0; i < 1000000; i++)
		;
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec > a.tv_nsec),
	      "CLOCK_MONOTONIC did not move over a busy loop");
	CHECK(clock_gettime(CLOCK_REALTIME, &r) == 0 && r.tv_sec > 1577836800,
	      "CLOCK_REALTIME says %lld s, before 2020", (long long)r.tv_sec);
	CHECK(time(NULL) >= r.tv_sec, "time() is behind CLOCK_REALTIME");
	return NULL;
}

static const char *t_nanosleep(void)
{
	struct timespec req = { 0, 100 * MS }, bad = { 0, 1000000000 };
	uint64_t t0 = now();

	CHECK(nanosleep(&req, NULL) == 0, "nanosleep: %s", ename(errno));
	uint64_t ms = (now() - t0) / MS;
	CHECK(ms >= 100 && ms < 600, "nanosleep(100 ms) slept %llu ms", (unsigned long long)ms);
	t0 = now();
	CHECK(usleep(20000) == 0, "usleep: %s", ename(errno));
	ms = (now() - t0) / MS;
	CHECK(ms >= 20 && ms < 500, "usleep(20 ms) slept %llu ms", (unsigned long long)ms);
	ERR(nanosleep(&bad, NULL), EINVAL);
	return NULL;
}

/* ---- memory -------------------------------------------------------------------------- */

/* Write and check a pattern over n bytes at p; every page must be `where`. */
static const char *check_area(char *p, size_t n, int where, const char *what)
{
	for (size_t i = 0; i < n; i += sizeof(uint64_t))
		*(uint64_t *)(p + i) = (uintptr_t)(p + i) * 0x9E3779B97F4A7C15ULL;
	for (size_t i = 0; i < n; i += sizeof(uint64_t))
		CHECK(*(uint64_t *)(p + i) == (uintptr_t)(p + i) * 0x9E3779B97F4A7C15ULL,
		      "%s: wrong data at offset %zu", what, i);
	for (size_t i = 0; i < n; i += PAGE) {
		int w = dm_where(p + i);
		CHECK(w == DM_LOCAL || w == DM_POOL, "%s: dm_where(page %zu) = %d (%s)", what, i / PAGE, w,
		      ename(errno));
		CHECK(where == DM_ANY || w == where, "%s: page %zu is %s, want %s", what, i / PAGE,
		      dm_place_name(w), dm_place_name(where));
	}
	return NULL;
}

static const char *alloc_check(int place, int flags, size_t n)
{
	char what[48];
	char *p = dm_alloc(n, place, flags);
	const char *err;

	snprintf(what, sizeof(what), "dm_alloc(%zu KiB, %s%s)", n >> 10, dm_place_name(place),
		 flags ? ", DM_OPTIONAL" : "");
	CHECK(p, "%s: %s", what, ename(errno));
	CHECK(((uintptr_t)p & (PAGE - 1)) == 0, "%s = %p: not page-aligned", what, p);
	for (size_t i = 0; i < n; i += 512)
		CHECK(p[i] == 0, "%s: not zeroed at offset %zu", what, i);
	if ((err = check_area(p, n, place, what)))
		return err;
	CHECK(dm_free(p, n) == 0, "dm_free after %s: %s", what, ename(errno));
	return NULL;
}

static const char *t_alloc_local(void)
{
	return alloc_check(DM_LOCAL, 0, 1 << 20);
}

static const char *t_alloc_pool(void)
{
	return alloc_check(DM_POOL, 0, 1 << 20);
}

static const char *t_alloc_any(void)
{
	return alloc_check(DM_ANY, 0, 1 << 20);
}

static const char *t_alloc_optional(void)
{
	const char *err;

	if ((err = alloc_check(DM_LOCAL, DM_OPTIONAL, 64 << 10)) ||
	    (err = alloc_check(DM_POOL, DM_OPTIONAL, 64 << 10)) ||
	    (err = alloc_check(DM_ANY, DM_OPTIONAL, 64 << 10)))
		return err;
	return NULL;
}

static const char *t_alloc_too_big(void)
{
	struct dm_meminfo m0, m1;
	char *p;

	/* (more pool than there is: left to bigalloc, it would take the whole pool for a moment) */
	CHECK(dm_meminfo(&m0) == 0, "dm_meminfo: %s", ename(errno));
	NULLERR(dm_alloc(32UL << 30, DM_LOCAL, 0), ENOMEM);     /* 32 GiB */
	NULLERR(dm_alloc(32UL << 30, DM_POOL, 0), ENOMEM);
	CHECK(dm_meminfo(&m1) == 0, "dm_meminfo: %s", ename(errno));
	CHECK(m1.pool_used_here <= m0.pool_used_here + (64 << 10),
	      "pool memory held here grew from %llu to %llu KiB after a refused allocation",
	      (unsigned long long)m0.pool_used_here >> 10, (unsigned long long)m1.pool_used_here >> 10);

	/*
	 * More local memory than the node has, in a child: its page tables
	 * stay until it exits, and would scatter over our node's memory.
	 */
	struct child c;
	int st;
	const char *err;
	if (start(&c, self, 0, "toobig", NULL) < 0)     /* no watchdog: see t_alloc_free_churn */
		return fail("dm_spawn: %s", ename(errno));
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st), "the child asking for too much local memory: %s", status_str(st));
	switch (WEXITSTATUS(st)) {
	case 0:
		break;
	case 2:
		return fail("dm_alloc(more than the node has, local) did not fail with ENOMEM");
	case 3:
		return fail("local memory did not come back after a refused dm_alloc (or a second one cost more)");
	case 4:
		return fail("dm_alloc(1 MiB, local) failed after a refused one");
	default:
		return fail("the child asking for too much local memory: %s", status_str(st));
	}
	p = dm_alloc(1 << 20, DM_LOCAL, 0);
	CHECK(p, "dm_alloc(1 MiB, local) after a refused one: %s", ename(errno));
	dm_free(p, 1 << 20);
	return NULL;
}

static const char *t_use_after_dm_free(void)
{
	printf("# a child now touches freed memory: a 'killed: page fault' line is expected\n");
	return run_killed(self, 11, "usefree", NULL);
}

static const char *t_malloc_8mib(void)
{
	size_t n = 8 << 20;
	uint64_t *p = malloc(n);

	CHECK(p, "malloc(8 MiB) failed");
	for (size_t i = 0; i < n / 8; i++)
		p[i] = i ^ 0xdeadbeefcafeULL;
	for (size_t i = 0; i < n / 8; i++)
		if (p[i] != (i ^ 0xdeadbeefcafeULL)) {
			free(p);
			return fail("malloc(8 MiB): wrong data at word %zu", i);
		}
	free(p);
	return NULL;
}

static const char *t_alloc_free_no_leak(void)
{
	struct dm_meminfo m0, m1;

	for (int round = 0; round < 2; round++) {
		CHECK(dm_meminfo(&m0) == 0, "dm_meminfo: %s", ename(errno));
		for (int i = 0; i < 16; i++) {
			int place = i % 3 == 0 ? DM_LOCAL : i % 3 == 1 ? DM_POOL : DM_ANY;
			char *p = dm_alloc(1 << 20, place, 0);
			CHECK(p, "dm_alloc(1 MiB, %s): %s", dm_place_name(place), ename(errno));
			for (int k = 0; k < (1 << 20); k += PAGE)
				p[k] = 1;
			CHECK(dm_free(p, 1 << 20) == 0, "dm_free: %s", ename(errno));
		}
		CHECK(dm_meminfo(&m1) == 0, "dm_meminfo: %s", ename(errno));
		/* page tables for the new addresses may stay: allow 64 pages */
		if (m1.local_free + (256 << 10) >= m0.local_free &&
		    m1.pool_used_here <= m0.pool_used_here + (256 << 10))
			return NULL;
	}
	return fail("16 MiB allocated and freed: local free %llu -> %llu KiB, pool used here %llu -> %llu KiB",
		    (unsigned long long)m0.local_free >> 10, (unsigned long long)m1.local_free >> 10,
		    (unsigned long long)m0.pool_used_here >> 10, (unsigned long long)m1.pool_used_here >> 10);
}

/*
 * A long-lived program that allocates and frees over and over must not
 * lose memory: a child does 2000 rounds of dm_alloc(1 MiB), touches one
 * page, dm_free, and exits with the local memory it lost, in 16 KiB units.
 */
static const char *t_alloc_free_churn(void)
{
	struct child c;
	int st;
	const char *err;

	/* no watchdog: starting one would change the node's free memory under the count */
	if (start(&c, self, 0, "churn", "2000", NULL) < 0)
		return fail("dm_spawn: %s", ename(errno));
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 255, "the churning child's dm_alloc or dm_free failed");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) * 16 <= 512, "2000 rounds of dm_alloc(1 MiB) + dm_free cost "
	      "%s%d KiB of local memory (kept until the process exits)", WEXITSTATUS(st) == 254 ? "over " : "",
	      WEXITSTATUS(st) * 16);
	return NULL;
}

static const char *t_meminfo(void)
{
	struct dm_meminfo m;
	struct dm_nodeinfo ni;

	CHECK(dm_meminfo(&m) == 0, "dm_meminfo: %s", ename(errno));
	CHECK(m.local_total >= (16 << 20) && m.local_free <= m.local_total,
	      "local: %llu bytes, %llu free", (unsigned long long)m.local_total,
	      (unsigned long long)m.local_free);
	CHECK(m.pool_total >= (16 << 20) && m.pool_free <= m.pool_total && m.pool_used_here <= m.pool_total,
	      "pool: %llu bytes, %llu free, %llu used here", (unsigned long long)m.pool_total,
	      (unsigned long long)m.pool_free, (unsigned long long)m.pool_used_here);
	CHECK(dm_nodeinfo(&ni) == self && ni.node == self && dm_node() == self,
	      "dm_nodeinfo disagrees with dm_node");
	CHECK(ni.nodes >= 1 && ni.nodes <= 64 && self < ni.nodes, "dm_nodeinfo: node %d of %d", ni.node, ni.nodes);
	CHECK(ni.cluster[0] && memchr(ni.cluster, 0, DM_NAME_MAX), "dm_nodeinfo: no cluster id");
	return NULL;
}

/* ---- shared segments ------------------------------------------------------------------ */

/* A list in a new segment; a child on node walks it at the same address. */
static const char *list_in_child(int node, const char *tag)
{
	char name[DM_NAME_MAX], addr[24];
	struct child c;
	int st;
	const char *err;
	struct list *l;

	segname(name, tag);
	CHECK((l = seg_create(name, LIST_BYTES, 0)), "seg_create(%s): %s", name, ename(errno));
	uint64_t sum = build_list(l);
	snprintf(addr, sizeof(addr), "%p", (void *)l);
	if (start(&c, node, CHILD_TIMEOUT_MS, "walk", name, addr, NULL) < 0) {
		int e = errno;
		seg_detach(l);
		return fail("dm_spawn on node %d: %s", node, ename(e));
	}
	int late = wait_change(&l->done, 0, 15000 * MS);
	err = finish(&c, &st);
	uint32_t done = l->done;
	uint64_t result = l->result;
	seg_detach(l);
	if (err)
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 2, "the segment is at %s here, elsewhere on node %d", addr, node);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "walker on node %d: %s", node, status_str(st));
	CHECK(!late, "the walker's futex_wake did not reach us");
	CHECK(done == 1 && result == sum, "walker saw sum %llu, we built %llu", (unsigned long long)result,
	      (unsigned long long)sum);
	return NULL;
}

static const char *t_seg_shared_with_child(void)
{
	return list_in_child(self, "list");
}

static const char *t_seg_key(void)
{
	char name[DM_NAME_MAX];
	uint32_t *p;

	segname(name, "key");
	CHECK((p = seg_create(name, PAGE, 0x5eed)), "seg_create: %s", ename(errno));
	p[0] = 0xfeedf00d;
	const char *err = run_exit(self, 0, "key", name, "24301", NULL);    /* 0x5eed */
	seg_detach(p);
	return err;
}

static const char *t_seg_eexist(void)
{
	char name[DM_NAME_MAX];
	void *p, *q;

	segname(name, "dup");
	CHECK((p = seg_create(name, PAGE, 0)), "seg_create: %s", ename(errno));
	errno = 0;
	q = seg_create(name, PAGE, 0);
	int e = errno;
	seg_detach(p);
	if (q)
		seg_detach(q);
	CHECK(!q && e == EEXIST, "second seg_create(%s) = %p (%s), want EEXIST", name, q, ename(e));
	CHECK((p = seg_create(name, PAGE, 0)), "seg_create after the last detach: %s", ename(errno));
	seg_detach(p);
	return NULL;
}

static const char *t_seg_detach(void)
{
	char name[DM_NAME_MAX];
	char *p;

	segname(name, "det");
	CHECK((p = seg_create(name, 3 * PAGE, 0)), "seg_create: %s", ename(errno));
	p[0] = 1;
	CHECK(dm_where(p) == DM_POOL, "a segment page is %s, not pool", dm_place_name(dm_where(p)));
	ERR(seg_detach(p + PAGE), EINVAL);
	CHECK(seg_detach(p) == 0, "seg_detach: %s", ename(errno));
	ERR(seg_detach(p), EINVAL);
	ERR(dm_where(p), EFAULT);
	NULLERR(seg_attach(name, 0), ENOENT);   /* the last detach removed it */
	printf("# a child now touches a detached segment: a 'killed: page fault' line is expected\n");
	return run_killed(self, 11, "segdetach", name, NULL);
}

static const char *t_seg_zero_on_reuse(void)
{
	char name[DM_NAME_MAX];
	size_t n = 256 << 10;
	uint64_t *p;

	segname(name, "zero");
	for (int round = 0; round < 3; round++) {
		CHECK((p = seg_create(name, n, 0)), "seg_create (round %d): %s", round, ename(errno));
		for (size_t i = 0; i < n / 8; i++) {
			if (p[i]) {
				seg_detach(p);
				return fail("round %d: word %zu of a new segment is 0x%llx, not 0", round, i,
					    (unsigned long long)p[i]);
			}
		}
		memset(p, 0xa5, n);
		CHECK(seg_detach(p) == 0, "seg_detach: %s", ename(errno));
	}
	return NULL;
}

static const char *t_seg_large(void)
{
	char name[DM_NAME_MAX];
	size_t n = 16 << 20;
	char *p;
	const char *err;

	segname(name, "large");
	CHECK((p = seg_create(name, n, 0)), "seg_create(16 MiB): %s", ename(errno));
	err = check_area(p, n, DM_POOL, "16 MiB segment");
	seg_detach(p);
	return err;
}

/* ---- futexes --------------------------------------------------------------------------- */

static const char *t_futex_eagain(void)
{
	uint32_t word = 5;
	uint64_t t0 = now();

	ERR(futex_wait(&word, 4, 1000 * MS), EAGAIN);
	ERR(futex_wait(&word, 0, 0), EAGAIN);
	CHECK(now() - t0 < 200 * MS, "futex_wait with a wrong value took %llu ms",
	      (unsigned long long)(now() - t0) / MS);
	return NULL;
}

static const char *t_futex_timeout(void)
{
	char name[DM_NAME_MAX];
	uint32_t word = 5, *shared;

	uint64_t t0 = now();
	ERR(futex_wait(&word, 5, 50 * MS), ETIMEDOUT);
	uint64_t ms = (now() - t0) / MS;
	CHECK(ms >= 50 && ms < 1000, "futex_wait(50 ms) timed out after %llu ms", (unsigned long long)ms);

	segname(name, "ftx");
	CHECK((shared = seg_create(name, PAGE, 0)), "seg_create: %s", ename(errno));
	t0 = now();
	errno = 0;
	int r = futex_wait(shared, 0, 50 * MS), e = errno;
	ms = (now() - t0) / MS;
	seg_detach(shared);
	CHECK(r == -1 && e == ETIMEDOUT, "futex_wait(segment word, 50 ms) = %d (%s), want ETIMEDOUT", r, ename(e));
	CHECK(ms >= 50 && ms < 1000, "futex_wait(segment word, 50 ms) timed out after %llu ms",
	      (unsigned long long)ms);
	return NULL;
}

static const char *t_futex_wake_nobody(void)
{
	uint32_t word = 0;

	CHECK(futex_wake(&word, 1) == 0, "futex_wake with no waiter = %d", futex_wake(&word, 1));
	CHECK(futex_wake(&word, 0) == 0, "futex_wake(count 0) = %d", futex_wake(&word, 0));
	return NULL;
}

/* A child on node sets a word in a segment and wakes us. */
static const char *child_wakes(int node)
{
	char name[DM_NAME_MAX];
	struct child c;
	uint32_t *w;
	int st;
	const char *err;

	segname(name, node == self ? "wake" : "rwake");
	CHECK((w = seg_create(name, PAGE, 0)), "seg_create: %s", ename(errno));
	if (start(&c, node, CHILD_TIMEOUT_MS, "wake", name, "200", NULL) < 0) {
		int e = errno;
		seg_detach(w);
		return fail("dm_spawn on node %d: %s", node, ename(e));
	}
	uint64_t t0 = now();
	errno = 0;
	int r = futex_wait(w, 0, 10000 * MS), e = errno;
	uint64_t ms = (now() - t0) / MS;
	uint32_t v = *w;
	err = finish(&c, &st);
	seg_detach(w);
	if (err)
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) < 10, "waker on node %d: %s", node, status_str(st));
	CHECK(r == 0 || (r == -1 && e == EAGAIN && v == 1),
	      "futex_wait = %d (%s) after %llu ms, word %u: not woken by the child", r, ename(e),
	      (unsigned long long)ms, v);
	CHECK(v == 1, "woken, but the word is %u", v);
	CHECK(r != 0 || WEXITSTATUS(st) == 1, "woken, but the child's futex_wake says it woke %d",
	      WEXITSTATUS(st));
	return NULL;
}

static const char *t_futex_child_wakes(void)
{
	return child_wakes(self);
}

/* ---- what a process leaves behind ----------------------------------------------------- */

/* The arguments a child gets: 15 of them, each 63 bytes, made from their index. */
static void make_args(char args[15][64], char **argv)
{
	argv[0] = "dmtest";
	argv[1] = "--child";
	argv[2] = "args";
	for (int i = 0; i < 13; i++) {
		memset(args[i], 'a' + i, 63);
		args[i][63] = 0;
		args[i][0] = (char)('0' + i % 10);
		argv[3 + i] = args[i];
	}
	argv[16] = NULL;
}

static const char *spawn_args_on(int node)
{
	char args[15][64], *argv[17];
	struct child c;
	int st;
	const char *err;

	make_args(args, argv);
	if (start(&c, node, CHILD_TIMEOUT_MS, "args", argv[3], argv[4], argv[5], argv[6], argv[7], argv[8],
		  argv[9], argv[10], argv[11], argv[12], argv[13], argv[14], argv[15], NULL) < 0)
		return fail("dm_spawn(16 arguments of 63 bytes) on node %d: %s", node, ename(errno));
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child on node %d saw other arguments: %s",
	      node, status_str(st));
	return NULL;
}

static const char *t_spawn_args(void)
{
	return spawn_args_on(self);
}

static const char *t_exit_frees_memory(void)
{
	struct dm_meminfo m0, m1;
	const char *err;

	for (int round = 0; round < 2; round++) {
		CHECK(dm_meminfo(&m0) == 0, "dm_meminfo: %s", ename(errno));
		if ((err = run_exit(self, 0, "hog", "4", NULL)))        /* 4 MiB local, 4 MiB pool, exits */
			return err;
		CHECK(dm_meminfo(&m1) == 0, "dm_meminfo: %s", ename(errno));
		if (m1.local_free + (64 << 10) >= m0.local_free && m1.pool_used_here <= m0.pool_used_here + (64 << 10))
			return NULL;
	}
	return fail("a child held 4 MiB local and 4 MiB pool and exited: "
		    "local free %llu -> %llu KiB, pool used here %llu -> %llu KiB",
		    (unsigned long long)m0.local_free >> 10, (unsigned long long)m1.local_free >> 10,
		    (unsigned long long)m0.pool_used_here >> 10, (unsigned long long)m1.pool_used_here >> 10);
}

static const char *t_seg_freed_on_exit(void)
{
	char name[DM_NAME_MAX];
	const char *err;

	segname(name, "left");
	if ((err = run_exit(self, 0, "segleave", name, NULL)))  /* creates it, exits attached */
		return err;
	errno = 0;
	void *p = seg_attach(name, 0);
	int e = errno;
	if (p)
		seg_detach(p);
	CHECK(!p && e == ENOENT, "a segment whose only user exited is still there: seg_attach = %p (%s)", p,
	      ename(e));
	return NULL;
}

static const char *t_kill_futex_waiter(void)
{
	char name[DM_NAME_MAX];
	struct child c;
	struct dm_proc *p = NULL;
	uint32_t *w;
	int st;
	const char *err;

	segname(name, "kfw");
	CHECK((w = seg_create(name, PAGE, 0)), "seg_create: %s", ename(errno));
	if (start(&c, self, CHILD_TIMEOUT_MS, "fwait", name, "15000", NULL) < 0) {
		int e = errno;
		seg_detach(w);
		return fail("dm_spawn: %s", ename(e));
	}
	for (uint64_t until = now() + 3000 * MS; now() < until; dm_sleep_ns(10 * MS))
		if ((p = ps_find(c.pid)) && p->state == DM_PROC_SLEEPING)
			break;
	uint64_t t0 = now();
	int k = kill(c.pid, 9), e = errno;
	err = finish(&c, &st);
	uint64_t ms = (now() - t0) / MS;
	seg_detach(w);
	if (err)
		return err;
	CHECK(k == 0, "kill(%d, 9): %s", c.pid, ename(e));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == 9, "killed futex waiter: %s, want killed by signal 9",
	      status_str(st));
	CHECK(ms < 2000, "the killed futex waiter took %llu ms to end", (unsigned long long)ms);
	return NULL;
}

static const char *t_kill_waiting_parent(void)
{
	struct child c;
	int st;
	const char *err;

	if (start(&c, self, CHILD_TIMEOUT_MS, "waitkid", "3000", NULL) < 0)
		return fail("dm_spawn: %s", ename(errno));
	dm_sleep_ns(300 * MS);          /* it has started its own child and waits for it */
	uint64_t t0 = now();
	int k = kill(c.pid, 9), e = errno;
	if ((err = finish(&c, &st)))
		return err;
	uint64_t ms = (now() - t0) / MS;
	CHECK(k == 0, "kill(%d, 9): %s", c.pid, ename(e));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == 9, "a child killed in dm_wait: %s, want killed by signal 9",
	      status_str(st));
	CHECK(ms < 2000, "a child killed in dm_wait took %llu ms to end", (unsigned long long)ms);
	return NULL;
}

static const char *t_spawn_until_full(void)
{
	static int pids[128];
	int n = 0, err = 0, bad = 0;

	while (n < 128) {
		char *argv[] = { "dmtest", "--child", "sleep", "20000", NULL };
		int pid = dm_spawn("dmtest", argv, self);
		if (pid < 0) {
			err = errno;
			break;
		}
		pids[n++] = pid;
	}
	char first[96] = "";
	for (int i = 0; i < n; i++) {
		if (kill(pids[i], 9) < 0 && !bad++)
			snprintf(first, sizeof(first), "kill(%d): %s", pids[i], ename(errno));
	}
	for (int i = 0; i < n; i++) {
		int st = 0, r = dm_wait(pids[i], &st);
		if ((r != pids[i] || !WIFSIGNALED(st) || WTERMSIG(st) != 9) && !bad++)
			snprintf(first, sizeof(first), "dm_wait(%d) = %d, %s", pids[i], r, status_str(st));
	}
	CHECK(n < 128, "128 processes started on one node and no refusal");
	CHECK(err == EAGAIN || err == ENOMEM, "process %d was refused with %s, want EAGAIN or ENOMEM", n + 1,
	      ename(err));
	CHECK(n >= 4, "only %d processes could start", n);
	CHECK(!bad, "%d of %d children were not killed and reaped as they should; first: %s", bad, n, first);
	const char *r = run_exit(self, 9, "exit", "9", NULL);      /* the table has room again */
	if (r)
		return r;
	struct dm_meminfo m;
	dm_meminfo(&m);
	printf("# %d processes ran at once here; the next was refused with %s (%llu KiB local free now)\n",
	       n + 1, ename(err), (unsigned long long)m.local_free >> 10);
	return NULL;
}

static const char *t_futex_wake_count(void)
{
	char name[DM_NAME_MAX];
	struct child c[3];
	uint32_t *w;
	int st, started = 0, woken = -1, rest = -1, asleep = 0;
	const char *err = NULL;

	segname(name, "fwc");
	CHECK((w = seg_create(name, PAGE, 0)), "seg_create: %s", ename(errno));
	for (; started < 3; started++)
		if (start(&c[started], self, CHILD_TIMEOUT_MS, "fwait", name, "8000", NULL) < 0)
			break;
	for (uint64_t until = now() + 3000 * MS; started == 3 && now() < until && asleep < 3; dm_sleep_ns(10 * MS)) {
		asleep = 0;
		for (int i = 0; i < 3; i++) {
			struct dm_proc *p = ps_find(c[i].pid);
			asleep += p && p->state == DM_PROC_SLEEPING;
		}
	}
	if (asleep == 3) {
		dm_sleep_ns(50 * MS);
		woken = futex_wake(w, 2);
		dm_sleep_ns(100 * MS);
		rest = futex_wake(w, 10);
	}
	int statuses[3] = { -1, -1, -1 };
	for (int i = 0; i < started; i++) {
		const char *e = finish(&c[i], &st);
		if (e && !err)
			err = e;
		statuses[i] = st;
	}
	seg_detach(w);
	CHECK(started == 3, "dm_spawn: %s", ename(errno));
	if (err)
		return err;
	CHECK(asleep == 3, "the three waiters never all slept");
	CHECK(woken == 2 && rest == 1, "futex_wake(2) woke %d, futex_wake(10) then woke %d; want 2 and 1",
	      woken, rest);
	for (int i = 0; i < 3; i++)
		CHECK(WIFEXITED(statuses[i]) && WEXITSTATUS(statuses[i]) == 0, "waiter %d: %s (1: timed out)", i,
		      status_str(statuses[i]));
	return NULL;
}

/* ---- other nodes ---------------------------------------------------------------------- */

static int alone(void)
{
	if (nodes > 1)
		return 0;
	skipped = "the cluster has one node";
	return 1;
}

static const char *t_remote_exit_status(void)
{
	const char *err;

	if (alone())
		return NULL;
	if ((err = run_exit(other, 7, "exit", "7", NULL)) || (err = run_exit(other, 0, "exit", "0", NULL)))
		return err;
	return NULL;
}

static const char *t_remote_segfault(void)
{
	if (alone())
		return NULL;
	printf("# a child on node %d faults on purpose: node %d says 'killed'\n", other, other);
	return run_killed(other, 11, "segv", NULL);
}

static const char *t_remote_ids(void)
{
	struct child c;
	char me[16];
	int st;
	const char *err;

	if (alone())
		return NULL;
	snprintf(me, sizeof(me), "%d", getpid());
	if (start(&c, other, CHILD_TIMEOUT_MS, "ids", me, NULL) < 0)
		return fail("dm_spawn on node %d: %s", other, ename(errno));
	CHECK(c.pid / PID_STRIDE == other, "dm_spawn on node %d gave pid %d", other, c.pid);
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 255, "the remote child's getppid() is not our pid");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == c.pid % 200 + 1, "remote child: %s", status_str(st));
	return NULL;
}

static const char *t_remote_segment(void)
{
	if (alone())
		return NULL;
	return list_in_child(other, "rlist");
}

static const char *t_remote_futex_wake(void)
{
	if (alone())
		return NULL;
	return child_wakes(other);
}

static const char *t_remote_ps(void)
{
	struct child c;
	struct dm_proc *p = NULL;
	int st;
	const char *err;

	if (alone())
		return NULL;
	if (start(&c, other, CHILD_TIMEOUT_MS, "sleep", "2500", NULL) < 0)
		return fail("dm_spawn on node %d: %s", other, ename(errno));
	for (uint64_t until = now() + 2000 * MS; now() < until && !p; dm_sleep_ns(20 * MS))
		p = ps_find(c.pid);
	int node = p ? p->node : -1, ppid = p ? p->ppid : -1;
	char name[DM_NAME_MAX] = "";
	if (p)
		memcpy(name, p->name, DM_NAME_MAX - 1);
	if ((err = finish(&c, &st)))
		return err;
	CHECK(node >= 0, "pid %d on node %d never showed in dm_ps", c.pid, other);
	CHECK(node == other && ppid == getpid() && !strcmp(name, "dmtest"),
	      "dm_ps: pid %d on node %d, parent %d, name '%s'; want node %d, parent %d, dmtest",
	      c.pid, node, ppid, name, other, getpid());
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "remote sleeper: %s", status_str(st));
	return NULL;
}

static const char *t_remote_spawn_args(void)
{
	if (alone())
		return NULL;
	return spawn_args_on(other);
}

static const char *t_remote_spawn_errors(void)
{
	if (alone())
		return NULL;
	ERR(dm_spawn("no-such-program", NULL, other), ENOENT);
	ERR(dm_wait(-1, NULL), ECHILD);
	return NULL;
}

/*
 * A process on another node starts a program here while this node is busy
 * (a child of ours spins): the request must still be served, whatever the
 * kernel's own thread is doing (under the monitor's `run` it is waiting
 * for us).
 */
static const char *t_remote_spawn_to_busy_node(void)
{
	struct child spin, back;
	char me[8];
	int st, sst;
	const char *err;

	if (alone())
		return NULL;
	snprintf(me, sizeof(me), "%d", self);
	if (start(&spin, self, CHILD_TIMEOUT_MS, "spin", "8000", NULL) < 0)
		return fail("dm_spawn(spinner): %s", ename(errno));
	if (start(&back, other, CHILD_TIMEOUT_MS, "spawnon", me, NULL) < 0) {
		int e = errno;
		kill(spin.pid, 9);
		finish(&spin, &sst);
		return fail("dm_spawn on node %d: %s", other, ename(e));
	}
	err = finish(&back, &st);
	kill(spin.pid, 9);
	finish(&spin, &sst);
	if (err)
		return err;
	CHECK(!WIFEXITED(st) || WEXITSTATUS(st) < 100, "a child on node %d could not start a program here "
	      "while this node was busy: dm_spawn failed with %s", other,
	      WIFEXITED(st) ? ename(WEXITSTATUS(st) - 100) : "?");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child on node %d: %s", other, status_str(st));
	return NULL;
}

/*
 * Parents that end without waiting for their children on other nodes must
 * not use up what the kernel keeps for them: 70 children of ours each start
 * a program on another node and exit at once; then ours must still work.
 */
static const char *t_remote_orphans(void)
{
	char node[8];
	const char *err;

	if (alone())
		return NULL;
	snprintf(node, sizeof(node), "%d", other);
	for (int i = 0; i < 70; i++) {
		char *argv[] = { "dmtest", "--child", "spawnleave", node, NULL };
		int st, pid = dm_spawn("dmtest", argv, self);
		if (pid < 0)
			return fail("round %d: dm_spawn: %s", i, ename(errno));
		if (dm_wait(pid, &st) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			return fail("round %d: the child could not start a program on node %d: %s", i, other,
				    status_str(st));
	}
	if ((err = run_exit(other, 7, "exit", "7", NULL))) {
		char was[sizeof(why)];
		strcpy(was, err);
		return fail("after 70 parents left children on node %d: %s", other, was);
	}
	return NULL;
}

static const char *t_spawn_any_node(void)
{
	struct child c;
	int st;
	const char *err;

	if (start(&c, DM_NODE_ANY, CHILD_TIMEOUT_MS, "exit", "5", NULL) < 0)
		return fail("dm_spawn(DM_NODE_ANY): %s", ename(errno));
	c.node = c.pid / PID_STRIDE;
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "child on node %d: %s", c.node, status_str(st));
	return NULL;
}

/* ---- the children ------------------------------------------------------------------- */

static volatile uintptr_t bad_address = 16;

static int child_watchdog(char **a)     /* SEG SLOT PID MS */
{
	struct ctl *c = seg_attach(a[0], 0);
	int slot = atoi(a[1]), pid = atoi(a[2]);
	uint64_t until = now() + strtoull(a[3], NULL, 10) * MS;

	if (!c)
		return 1;       /* the parent still waits for us; it finds no kill */
	uint32_t *w = c->dog;
	for (uint64_t t; __atomic_load_n(&w[slot], __ATOMIC_SEQ_CST) == 0 && (t = now()) < until;)
		futex_wait(&w[slot], 0, until - t);
	uint32_t zero = 0;
	if (__atomic_compare_exchange_n(&w[slot], &zero, 2, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		if (kill(pid, 9) == 0)
			printf("# dmtest: watchdog: pid %d still running after %s ms; killed it\n", pid, a[3]);
		else
			printf("# dmtest: watchdog: pid %d has ended, but after %s ms its parent still waits "
			       "for it (was its exit status lost?)\n", pid, a[3]);
	}
	return 0;
}

static int child_ids(char **a)          /* PARENT */
{
	if (getppid() != atoi(a[0]))
		return 255;
	if (getpid() / PID_STRIDE != dm_node())
		return 254;
	return getpid() % 200 + 1;
}

static int child_usefree(void)
{
	volatile char *p = dm_alloc(16 * PAGE, DM_LOCAL, 0);

	if (!p)
		return 2;
	p[0] = 1;
	p[5 * PAGE] = 1;
	if (dm_free((void *)p, 16 * PAGE))
		return 3;
	p[5 * PAGE] = 2;        /* must fault */
	return 4;
}

static int child_walk(char **a)         /* SEG ADDR */
{
	struct list *l = NULL;

	for (int i = 0; i < 100 && !l; i++)
		if (!(l = seg_attach(a[0], 0)))
			dm_sleep_ns(20 * MS);
	if (!l)
		return 3;
	if ((uintptr_t)l != strtoull(a[1], NULL, 16))
		return 2;
	uint64_t sum = 0, n = 0, bad = 0;
	char *lo = (char *)l, *hi = lo + LIST_BYTES;
	for (struct item *it = l->first; it && n <= LIST_ITEMS; it = it->next, n++) {
		if ((char *)it < lo || (char *)it >= hi) {
			bad++;
			break;
		}
		bad += it->value != (uint64_t)(it - l->items) * (it - l->items) + 1;
		sum += it->value;
	}
	l->result = sum;
	__atomic_store_n(&l->done, bad || n != l->count ? 2 : 1, __ATOMIC_RELEASE);
	futex_wake(&l->done, 1);
	seg_detach(l);
	return bad || n != LIST_ITEMS ? 4 : 0;
}

static int child_key(char **a)          /* SEG KEY */
{
	uint32_t key = (uint32_t)strtoul(a[1], NULL, 10), *p;

	errno = 0;
	if (seg_attach(a[0], 0) || errno != EACCES)
		return 10;
	if (seg_attach(a[0], key + 1) || errno != EACCES)
		return 11;
	if (!(p = seg_attach(a[0], key)))
		return 12;
	return p[0] == 0xfeedf00d ? 0 : 13;
}

static int child_segdetach(char **a)    /* SEG */
{
	char name[DM_NAME_MAX];
	volatile char *p;

	snprintf(name, sizeof(name), "%s.c", a[0]);
	if (!(p = seg_create(name, PAGE, 0)))
		return 2;
	p[0] = 1;
	if (seg_detach((void *)p))
		return 3;
	p[0] = 2;               /* must fault */
	return 4;
}

static int child_wake(char **a)         /* SEG DELAY_MS */
{
	uint32_t *w = seg_attach(a[0], 0);

	if (!w)
		return 20;
	dm_sleep_ns(strtoull(a[1], NULL, 10) * MS);
	__atomic_store_n(w, 1, __ATOMIC_RELEASE);
	int n = futex_wake(w, 1);
	return n < 0 ? 21 : n;
}

static int child_args(int n, char **a)
{
	char args[15][64], *argv[17];

	make_args(args, argv);
	if (n != 13)
		return 1;
	for (int i = 0; i < 13; i++)
		if (strcmp(a[i], argv[3 + i]))
			return 2 + i;
	return 0;
}

static int child_hog(char **a)          /* MIB: hold that much local and pool memory, then exit */
{
	size_t n = strtoull(a[0], NULL, 10) << 20;
	char *l = dm_alloc(n, DM_LOCAL, 0), *p = dm_alloc(n, DM_POOL, 0), *m = malloc(n);

	if (!l || !p || !m)
		return 2;
	for (size_t i = 0; i < n; i += PAGE)
		l[i] = p[i] = m[i] = 1;
	return 0;               /* exit with all of it held */
}

static int child_segleave(char **a)     /* SEG: create it and exit attached */
{
	char *p = seg_create(a[0], 8 * PAGE, 0);

	if (!p)
		return 2;
	p[0] = 1;
	return 0;
}

static int child_fwait(char **a)        /* SEG MS: wait on its first word; 0 when woken */
{
	uint32_t *w = seg_attach(a[0], 0);

	if (!w)
		return 20;
	int r = futex_wait(w, 0, strtoull(a[1], NULL, 10) * MS);
	return r == 0 ? 0 : errno == ETIMEDOUT ? 1 : 21;
}

static int child_waitkid(char **a)      /* MS: start a sleeping child and wait for it */
{
	char *argv[] = { "dmtest", "--child", "sleep", a[0], NULL };
	int st, pid = dm_spawn("dmtest", argv, dm_node());

	if (pid < 0)
		return 2;
	dm_wait(pid, &st);
	return 0;
}

static int child_spawnon(char **a)      /* NODE: start `exit 0` there, wait; 100 + errno if it fails */
{
	char *argv[] = { "dmtest", "--child", "exit", "0", NULL };
	int st, pid = dm_spawn("dmtest", argv, atoi(a[0]));

	if (pid < 0)
		return 100 + (errno < 150 ? errno : 0);
	if (dm_wait(pid, &st) != pid)
		return 2;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 3;
}

static int child_toobig(void)
{
	struct dm_meminfo m0, m1, m2;

	dm_meminfo(&m0);
	size_t big = m0.local_total + (16 << 20);
	errno = 0;
	if (dm_alloc(big, DM_LOCAL, 0) || errno != ENOMEM)
		return 2;
	dm_meminfo(&m1);
	if (dm_alloc(big, DM_LOCAL, 0) || errno != ENOMEM)
		return 2;
	dm_meminfo(&m2);
	/* the page tables built on the way may stay (one page per 2 MiB); nothing else */
	if (m1.local_free + big / 512 + (256 << 10) < m0.local_free || m2.local_free + (16 << 10) < m1.local_free) {
		printf("# local free: %llu KiB before, %llu after a refused dm_alloc, %llu after another\n",
		       (unsigned long long)m0.local_free >> 10, (unsigned long long)m1.local_free >> 10,
		       (unsigned long long)m2.local_free >> 10);
		return 3;
	}
	char *p = dm_alloc(1 << 20, DM_LOCAL, 0);
	return p ? 0 : 4;
}

static int child_churn(char **a)        /* ROUNDS: exit with the KiB lost / 16 */
{
	struct dm_meminfo m0, m1;
	int rounds = atoi(a[0]);

	dm_meminfo(&m0);
	for (int i = 0; i < rounds; i++) {
		char *p = dm_alloc(1 << 20, DM_ANY, 0);
		if (!p)
			return 255;
		p[PAGE] = 1;
		if (dm_free(p, 1 << 20))
			return 255;
	}
	dm_meminfo(&m1);
	int64_t lost = ((int64_t)m0.local_free - (int64_t)m1.local_free) / 1024 / 16;
	return lost < 0 ? 0 : lost > 254 ? 254 : (int)lost;
}

static int child_spawnleave(char **a)   /* NODE: start `exit 0` there and exit without waiting */
{
	char *argv[] = { "dmtest", "--child", "exit", "0", NULL };

	return dm_spawn("dmtest", argv, atoi(a[0])) < 0;
}

static int child(int argc, char **argv)
{
	const char *m = argv[0];
	char **a = argv + 1;
	int n = argc - 1;

	if (!strcmp(m, "exit") && n == 1)
		exit(atoi(a[0]));
	if (!strcmp(m, "return") && n == 1)
		return atoi(a[0]);
	if (!strcmp(m, "segv")) {
		*(volatile int *)bad_address = 1;
		return 100;
	}
	if (!strcmp(m, "ud2")) {
		__asm__ volatile("ud2");
		return 100;
	}
	if (!strcmp(m, "sleep") && n == 1) {
		dm_sleep_ns(strtoull(a[0], NULL, 10) * MS);
		return 0;
	}
	if (!strcmp(m, "spin") && n == 1) {
		for (uint64_t until = now() + strtoull(a[0], NULL, 10) * MS; now() < until;)
			;
		return 0;
	}
	if (!strcmp(m, "watchdog") && n == 4)
		return child_watchdog(a);
	if (!strcmp(m, "ids") && n == 1)
		return child_ids(a);
	if (!strcmp(m, "usefree"))
		return child_usefree();
	if (!strcmp(m, "walk") && n == 2)
		return child_walk(a);
	if (!strcmp(m, "key") && n == 2)
		return child_key(a);
	if (!strcmp(m, "segdetach") && n == 1)
		return child_segdetach(a);
	if (!strcmp(m, "wake") && n == 2)
		return child_wake(a);
	if (!strcmp(m, "args"))
		return child_args(n, a);
	if (!strcmp(m, "hog") && n == 1)
		return child_hog(a);
	if (!strcmp(m, "segleave") && n == 1)
		return child_segleave(a);
	if (!strcmp(m, "fwait") && n == 2)
		return child_fwait(a);
	if (!strcmp(m, "waitkid") && n == 1)
		return child_waitkid(a);
	if (!strcmp(m, "spawnon") && n == 1)
		return child_spawnon(a);
	if (!strcmp(m, "spawnleave") && n == 1)
		return child_spawnleave(a);
	if (!strcmp(m, "toobig"))
		return child_toobig();
	if (!strcmp(m, "churn") && n == 1)
		return child_churn(a);
	printf("dmtest: unknown child mode '%s' with %d arguments\n", m, n);
	return 99;
}

/* ---- the list and the runner ----------------------------------------------------------- */

static const struct test {
	const char *name;
	const char *(*fn)(void);
} tests[] = {
	{ "write_bad_pointers", t_write_bad_pointers },
	{ "read_bad_pointers", t_read_bad_pointers },
	{ "bad_fds", t_bad_fds },
	{ "bad_lengths", t_bad_lengths },
	{ "open_errors", t_open_errors },
	{ "open_too_many", t_open_too_many },
	{ "fstat", t_fstat },
	{ "unknown_syscall", t_unknown_syscall },
	{ "dm_alloc_bad_args", t_dm_alloc_bad_args },
	{ "dm_free_bad_args", t_dm_free_bad_args },
	{ "dm_where_bad", t_dm_where_bad },
	{ "seg_bad_args", t_seg_bad_args },
	{ "futex_bad_args", t_futex_bad_args },
	{ "spawn_bad_args", t_spawn_bad_args },
	{ "wait_bad_args", t_wait_bad_args },
	{ "info_bad_args", t_info_bad_args },
	{ "kill_bad", t_kill_bad },
	{ "sbrk_limits", t_sbrk_limits },
	{ "spawn_exit_status", t_spawn_exit_status },
	{ "child_segfault", t_child_segfault },
	{ "child_bad_instruction", t_child_bad_instruction },
	{ "getpid_getppid", t_getpid_getppid },
	{ "wait_any", t_wait_any },
	{ "ps_lists_self", t_ps_lists_self },
	{ "kill_sleeping_child", t_kill_sleeping_child },
	{ "kill_spinning_child", t_kill_spinning_child },
	{ "kill_futex_waiter", t_kill_futex_waiter },
	{ "kill_waiting_parent", t_kill_waiting_parent },
	{ "spawn_args", t_spawn_args },
	{ "spawn_until_full", t_spawn_until_full },
	{ "exit_frees_memory", t_exit_frees_memory },
	{ "clock_monotonic", t_clock_monotonic },
	{ "nanosleep", t_nanosleep },
	{ "meminfo", t_meminfo },
	{ "alloc_local", t_alloc_local },
	{ "alloc_pool", t_alloc_pool },
	{ "alloc_any", t_alloc_any },
	{ "alloc_optional", t_alloc_optional },
	{ "alloc_too_big", t_alloc_too_big },
	{ "use_after_dm_free", t_use_after_dm_free },
	{ "malloc_8mib", t_malloc_8mib },
	{ "alloc_free_no_leak", t_alloc_free_no_leak },
	{ "alloc_free_churn", t_alloc_free_churn },
	{ "seg_shared_with_child", t_seg_shared_with_child },
	{ "seg_key", t_seg_key },
	{ "seg_eexist", t_seg_eexist },
	{ "seg_detach", t_seg_detach },
	{ "seg_zero_on_reuse", t_seg_zero_on_reuse },
	{ "seg_large", t_seg_large },
	{ "seg_freed_on_exit", t_seg_freed_on_exit },
	{ "futex_eagain", t_futex_eagain },
	{ "futex_timeout", t_futex_timeout },
	{ "futex_wake_nobody", t_futex_wake_nobody },
	{ "futex_child_wakes", t_futex_child_wakes },
	{ "futex_wake_count", t_futex_wake_count },
	{ "remote_exit_status", t_remote_exit_status },
	{ "remote_segfault", t_remote_segfault },
	{ "remote_ids", t_remote_ids },
	{ "remote_segment", t_remote_segment },
	{ "remote_futex_wake", t_remote_futex_wake },
	{ "remote_ps", t_remote_ps },
	{ "remote_spawn_args", t_remote_spawn_args },
	{ "remote_spawn_errors", t_remote_spawn_errors },
	{ "spawn_any_node", t_spawn_any_node },
	{ "remote_spawn_to_busy_node", t_remote_spawn_to_busy_node },
	{ "remote_orphans", t_remote_orphans },         /* last: a leak it finds hurts what follows */
};

#define NTESTS ((int)(sizeof(tests) / sizeof(tests[0])))

static int selected(const struct test *t, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], t->name))
			return 1;
	return 0;
}

static void setup(void)
{
	struct dm_nodeinfo ni;

	self = dm_nodeinfo(&ni) >= 0 ? ni.node : 0;
	nodes = self >= 0 && ni.nodes > 0 ? ni.nodes : 1;
	other = (self + 1) % nodes;
	snprintf(prefix, sizeof(prefix), "dmt%d", getpid());
}

/* `dmtest --run NAME CTL`: run one test in this process, put its result in CTL. */
static int run_one(const char *name, const char *ctl_seg)
{
	const struct test *t = NULL;

	for (int i = 0; i < NTESTS; i++)
		if (!strcmp(tests[i].name, name))
			t = &tests[i];
	if (!t || !(ctl = seg_attach(ctl_seg, 0)))
		return 3;
	snprintf(ctl_name, sizeof(ctl_name), "%s", ctl_seg);
	setup();
	if (wait_change(&ctl->go, 0, 5000 * MS))
		return 3;
	skipped = NULL;
	errno = 0;
	const char *err = t->fn();
	snprintf(ctl->why, sizeof(ctl->why), "%s", err ? err : skipped ? skipped : "");
	__atomic_store_n(&ctl->result, err ? R_FAIL : skipped ? R_SKIP : R_PASS, __ATOMIC_RELEASE);
	return err ? 1 : 0;
}

#define TEST_TIMEOUT_MS 30000   /* a test that runs longer is killed and fails */

/*
 * Run test t in a process of its own, guarded by a watchdog, so that a
 * test that faults, hangs or leaves a mess behind cannot take the rest
 * with it. Without a control segment (no pool), run it here.
 * Return: its result; *reason says why it failed or was skipped.
 */
static int run_test(const struct test *t, const char **reason)
{
	struct child c;
	int st;
	const char *err;

	if (!ctl) {
		skipped = NULL;
		errno = 0;
		if ((*reason = t->fn()))
			return R_FAIL;
		*reason = skipped;
		return skipped ? R_SKIP : R_PASS;
	}
	__atomic_store_n(&ctl->go, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ctl->result, R_NONE, __ATOMIC_SEQ_CST);
	ctl->why[0] = 0;
	if (start(&c, self, TEST_TIMEOUT_MS, "run", t->name, ctl_name, NULL) < 0) {
		*reason = fail("cannot start the test's process: dm_spawn: %s", ename(errno));
		return R_FAIL;
	}
	__atomic_store_n(&ctl->go, 1, __ATOMIC_SEQ_CST);
	futex_wake(&ctl->go, 1);
	err = finish(&c, &st);
	uint32_t r = __atomic_load_n(&ctl->result, __ATOMIC_ACQUIRE);
	if (err) {
		*reason = fail("did not finish within %d s: its process (pid %d) was killed%s", TEST_TIMEOUT_MS / 1000,
			       c.pid, r == R_NONE ? "" : " after it had a result");
		return R_FAIL;
	}
	if (r == R_NONE) {
		*reason = fail("the test's process (pid %d) ended without a result: %s", c.pid, status_str(st));
		return R_FAIL;
	}
	*reason = fail("%s", ctl->why);
	return (int)r;
}

int main(int argc, char **argv)
{
	int plan = 0, passed = 0, failed = 0, n = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && !strcmp(argv[1], "--child")) {
		if (argc == 5 && !strcmp(argv[2], "run"))
			return run_one(argv[3], argv[4]);
		return child(argc - 2, argv + 2);
	}
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (int i = 0; i < NTESTS; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		int k;
		for (k = 0; k < NTESTS && strcmp(tests[k].name, argv[i]); k++)
			;
		if (k == NTESTS) {
			printf("dmtest: no test named '%s' (dmtest --list names them)\n", argv[i]);
			return 2;
		}
	}
	for (int i = 0; i < NTESTS; i++)
		plan += selected(&tests[i], argc, argv);

	struct dm_nodeinfo ni = { 0, 1, "?" };
	dm_nodeinfo(&ni);
	setup();
	snprintf(ctl_name, sizeof(ctl_name), "%s.ctl", prefix);
	ctl = seg_create(ctl_name, sizeof(struct ctl), 0);

	printf("1..%d\n", plan);
	printf("# dmtest: pid %d on node %d of %d in cluster %s%s\n", getpid(), self, nodes, ni.cluster,
	       ctl ? "" : " (no control segment: tests run in this process, without watchdogs)");
	uint64_t t0 = now();
	for (int i = 0; i < NTESTS; i++) {
		const char *reason = NULL;

		if (!selected(&tests[i], argc, argv))
			continue;
		uint64_t t1 = now();
		int r = run_test(&tests[i], &reason);
		uint64_t ms = (now() - t1) / MS;
		n++;
		if (ms >= 1000)
			printf("# %s took %llu ms\n", tests[i].name, (unsigned long long)ms);
		if (r == R_FAIL) {
			printf("not ok %d %s - %s\n", n, tests[i].name, reason);
			failed++;
		} else if (r == R_SKIP) {
			printf("ok %d %s # SKIP %s\n", n, tests[i].name, reason);
			passed++;
		} else {
			printf("ok %d %s\n", n, tests[i].name);
			passed++;
		}
	}
	if (ctl)
		seg_detach(ctl);
	printf("# %llu ms\n", (unsigned long long)(now() - t0) / MS);
	printf("dmtest: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
