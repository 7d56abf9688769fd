/*
 * dmtest: the in-guest test suite. Checks, from a real program on a real
 * node, what the kernel promises programs: system calls refuse bad
 * pointers and bad arguments with the right errno (as newlib's errno sees
 * it), processes start, end, fault and are killed with the right wait
 * status, clocks and sleeps, memory placement (dm_alloc, dm_where,
 * dm_free), shared segments, futexes, files (files.c, dirs.c, locks.c,
 * tools.c), sockets (sockets.c), and, when the cluster has more than one
 * node, the same across nodes.
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

#include "dmtest.h"

struct ctl *ctl;                /* the control segment, or NULL (no watchdogs) */
char ctl_name[DM_NAME_MAX];

int self, nodes;         /* this node, nodes in the cluster */
int other;               /* another node (self when alone) */
char prefix[16];         /* "dmtPID": names of our segments */
const char *skipped;     /* set by a test that does not apply here */
char why[320];           /* a failing test's reason */

/* ---- checking -------------------------------------------------------------------- */

const char *ename(int e)
{
	static char buf[16];
	static const struct { int e; const char *name; } names[] = {
		{ 0, "0" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" },
		{ EINTR, "EINTR" }, { EIO, "EIO" }, { E2BIG, "E2BIG" }, { ENOEXEC, "ENOEXEC" },
		{ EBADF, "EBADF" }, { ECHILD, "ECHILD" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EEXIST, "EEXIST" }, { EINVAL, "EINVAL" },
		{ EMFILE, "EMFILE" }, { ENOTTY, "ENOTTY" }, { ENOSPC, "ENOSPC" }, { ESPIPE, "ESPIPE" },
		{ ERANGE, "ERANGE" }, { ENAMETOOLONG, "ENAMETOOLONG" }, { ENOSYS, "ENOSYS" },
		{ ETIMEDOUT, "ETIMEDOUT" }, { EHOSTDOWN, "EHOSTDOWN" }, { EROFS, "EROFS" },
		{ ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" }, { EXDEV, "EXDEV" }, { EBUSY, "EBUSY" },
		{ ENOTEMPTY, "ENOTEMPTY" }, { EDEADLK, "EDEADLK" }, { ENOLCK, "ENOLCK" },
		{ EFBIG, "EFBIG" }, { EPIPE, "EPIPE" }, { EDOM, "EDOM" }, { ENOTSOCK, "ENOTSOCK" },
		{ EDESTADDRREQ, "EDESTADDRREQ" }, { EMSGSIZE, "EMSGSIZE" }, { ENOPROTOOPT, "ENOPROTOOPT" },
		{ EPROTONOSUPPORT, "EPROTONOSUPPORT" }, { EOPNOTSUPP, "EOPNOTSUPP" },
		{ EAFNOSUPPORT, "EAFNOSUPPORT" }, { EADDRINUSE, "EADDRINUSE" },
		{ EADDRNOTAVAIL, "EADDRNOTAVAIL" }, { ENETDOWN, "ENETDOWN" }, { ENETUNREACH, "ENETUNREACH" },
		{ ECONNRESET, "ECONNRESET" }, { ENOBUFS, "ENOBUFS" }, { EISCONN, "EISCONN" },
		{ ENOTCONN, "ENOTCONN" }, { ECONNREFUSED, "ECONNREFUSED" }, { EALREADY, "EALREADY" },
		{ EINPROGRESS, "EINPROGRESS" },
	};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].name;
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

const char *fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return why;
}


/* expr must fail with -1 and errno want. */

/* expr must fail with NULL and errno want. */

/* A raw system call must return exactly r (a negative Linux errno). */

long raw(long n, long a, long b, long c)
{
	register long r10 __asm__("r10") = 0, r8 __asm__("r8") = 0, r9 __asm__("r9") = 0;
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			 "r"(r9) : "rcx", "r11", "memory");
	return r;
}

uint64_t now(void)
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

/* Start `dmtest --child mode args...` on node, guarded for timeout_ms (0: unguarded). */
int startv(struct child *c, int node, unsigned timeout_ms, const char *mode, va_list ap)
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
		c->dog = dm_spawn("dmtest", dog, c->pid / PID_STRIDE);  /* beside the child it guards */
	}
	return c->pid;
}

int start(struct child *c, int node, unsigned timeout_ms, const char *mode, ...)
{
	va_list ap;
	int r;

	va_start(ap, mode);
	r = startv(c, node, timeout_ms, mode, ap);
	va_end(ap);
	return r;
}

/* Wait for a started child. Return: NULL with *status set, or why not. */
const char *finish(struct child *c, int *status)
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

const char *status_str(int st)
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
const char *run_exit(int node, int code, const char *mode, ...)
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
const char *run_killed(int node, int sig, const char *mode, ...)
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

void segname(char *buf, const char *tag)
{
	snprintf(buf, DM_NAME_MAX, "%s.%s", prefix, tag);
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
	{ "file_initrd_read", t_file_initrd_read },
	{ "file_initrd_readonly", t_file_initrd_readonly },
	{ "file_paths", t_file_paths },
	{ "file_bad_args", t_file_bad_args },
	{ "file_readdir", t_file_readdir },
	{ "file_cwd", t_file_cwd },
	{ "file_getwd", t_file_getwd },
	{ "file_mkdir_rmdir", t_file_mkdir_rmdir },
	{ "file_rename", t_file_rename },
	{ "file_create_write", t_file_create_write },
	{ "file_append_trunc", t_file_append_trunc },
	{ "file_unlink_open", t_file_unlink_open },
	{ "file_dup_fcntl", t_file_dup_fcntl },
	{ "file_attrs", t_file_attrs },
	{ "file_unsupported", t_file_unsupported },
	{ "file_disk_bad_args", t_file_disk_bad_args },
	{ "file_disk_names", t_file_disk_names },
	{ "file_disk_mkdir_rmdir", t_file_disk_mkdir_rmdir },
	{ "file_disk_rename", t_file_disk_rename },
	{ "file_disk_create_write", t_file_disk_create_write },
	{ "file_disk_unsupported", t_file_disk_unsupported },
	{ "file_locks", t_file_locks },
	{ "file_lock_wait", t_file_lock_wait },
	{ "file_lock_deadlock", t_file_lock_deadlock },
	{ "file_spawn_fds", t_file_spawn_fds },
	{ "file_tools", t_file_tools },
	{ "file_more_tools", t_file_more_tools },
	{ "spawn_paths", t_spawn_paths },
	{ "sock_bad_args", t_sock_bad_args },
	{ "sock_tcp_exchange", t_sock_tcp_exchange },
	{ "sock_udp_exchange", t_sock_udp_exchange },
	{ "sock_nonblocking", t_sock_nonblocking },
	{ "sock_rcvtimeo", t_sock_rcvtimeo },
	{ "sock_shutdown", t_sock_shutdown },
	{ "sock_listener_close_frees_port", t_sock_listener_close_frees_port },
	{ "sock_kill_blocked", t_sock_kill_blocked },
	{ "unknown_syscall", t_unknown_syscall },
	{ "dm_alloc_bad_args", t_dm_alloc_bad_args },
	{ "dm_free_bad_args", t_dm_free_bad_args },
	{ "dm_where_bad", t_dm_where_bad },
	{ "seg_bad_args", t_seg_bad_args },
	{ "loss_bad_args", t_loss_bad_args },
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
	{ "kill_signal_number", t_kill_signal_number },
	{ "kill_bad_args_cluster", t_kill_bad_args_cluster },
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
	{ "futex_timeout_shared", t_futex_timeout_shared },
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
	{ "kill_remote_child", t_kill_remote_child },
	{ "remote_orphans", t_remote_orphans },         /* last: a leak it finds hurts what follows */
};


int selected(const struct test *t, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], t->name))
			return 1;
	return 0;
}

void setup(void)
{
	struct dm_nodeinfo ni;

	self = dm_nodeinfo(&ni) >= 0 ? ni.node : 0;
	nodes = self >= 0 && ni.nodes > 0 ? ni.nodes : 1;
	other = (self + 1) % nodes;
	snprintf(prefix, sizeof(prefix), "dmt%d", getpid());
}

/* `dmtest --run NAME CTL`: run one test in this process, put its result in CTL. */
int run_one(const char *name, const char *ctl_seg)
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


/*
 * Run test t in a process of its own, guarded by a watchdog, so that a
 * test that faults, hangs or leaves a mess behind cannot take the rest
 * with it. Without a control segment (no pool), run it here.
 * Return: its result; *reason says why it failed or was skipped.
 */
int run_test(const struct test *t, const char **reason)
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
