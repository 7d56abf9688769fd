/* dmtest: processes, time, and what a process leaves behind (see main.c). */
#include "dmtest.h"

/* ---- processes --------------------------------------------------------------------- */

const char *t_spawn_exit_status(void)
{
	const char *err;

	if ((err = run_exit(self, 0, "exit", "0", NULL)) || (err = run_exit(self, 42, "exit", "42", NULL)) ||
	    (err = run_exit(self, 255, "exit", "255", NULL)) || (err = run_exit(self, 3, "return", "3", NULL)))
		return err;
	return NULL;
}

const char *t_child_segfault(void)
{
	printf("# a child now faults on purpose: a 'killed: page fault' line is expected\n");
	return run_killed(self, 11, "segv", NULL);
}

const char *t_child_bad_instruction(void)
{
	printf("# a child now runs ud2 on purpose: a 'killed' line is expected\n");
	return run_killed(self, 11, "ud2", NULL);
}

const char *t_getpid_getppid(void)
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

const char *t_wait_any(void)
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
struct dm_proc *ps_find(int pid)
{
	static struct dm_proc ps[512];
	int n = dm_ps(ps, 512);

	for (int i = 0; i < n; i++)
		if (ps[i].pid == pid)
			return &ps[i];
	return NULL;
}

const char *t_ps_lists_self(void)
{
	struct dm_proc *p = ps_find(getpid());

	CHECK(p, "pid %d is not in dm_ps", getpid());
	CHECK(p->node == self, "dm_ps says pid %d runs on node %d, not %d", p->pid, p->node, self);
	CHECK(!strcmp(p->name, "dmtest"), "dm_ps names pid %d '%s'", p->pid, p->name);
	CHECK(p->state == DM_PROC_RUNNING, "dm_ps says we are '%s'", dm_state_name(p->state));
	CHECK(p->local_pages > 0, "dm_ps says we hold no local memory");
	return NULL;
}

const char *t_kill_sleeping_child(void)
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

const char *t_kill_spinning_child(void)
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

const char *t_clock_monotonic(void)
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

const char *t_nanosleep(void)
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

/* ---- what a process leaves behind ----------------------------------------------------- */

/* The arguments a child gets: 15 of them, each 63 bytes, made from their index. */
void make_args(char args[15][64], char **argv)
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

const char *spawn_args_on(int node)
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

const char *t_spawn_args(void)
{
	return spawn_args_on(self);
}

const char *t_exit_frees_memory(void)
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

const char *t_seg_freed_on_exit(void)
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

const char *t_kill_futex_waiter(void)
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

const char *t_kill_waiting_parent(void)
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

const char *t_spawn_until_full(void)
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

const char *t_futex_wake_count(void)
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

/* ---- kill across the cluster ----------------------------------------------------------- */

/* Wait until dm_ps shows pid in state (or, with state -1, no longer shows it). */
static int ps_wait(int pid, int state, unsigned ms)
{
	for (uint64_t until = now() + ms * MS;; dm_sleep_ns(10 * MS)) {
		struct dm_proc *p = ps_find(pid);
		if (state < 0 ? !p : p && p->state == state)
			return 1;
		if (now() >= until)
			return 0;
	}
}

/* A child on another node, sleeping: killed from here, its wait status comes back. */
const char *t_kill_remote_child(void)
{
	struct child c;
	int st;
	const char *err;

	if (alone())
		return NULL;
	if (start(&c, other, CHILD_TIMEOUT_MS, "sleep", "15000", NULL) < 0)
		return fail("dm_spawn on node %d: %s", other, ename(errno));
	if (!ps_wait(c.pid, DM_PROC_SLEEPING, 3000)) {
		finish(&c, &st);        /* its watchdog ends it */
		return fail("the child on node %d never showed as sleeping in dm_ps", other);
	}
	CHECK(kill(c.pid, 0) == 0, "kill(%d, 0) of a live child on node %d: %s", c.pid, other, ename(errno));
	uint64_t t0 = now();
	if (kill(c.pid, 9) < 0) {
		int e = errno;
		finish(&c, &st);
		return fail("kill(%d, 9) of a child on node %d: %s", c.pid, other, ename(e));
	}
	if ((err = finish(&c, &st)))
		return err;
	uint64_t ms = (now() - t0) / MS;
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == 9, "killed child on node %d: %s, want killed by signal 9",
	      other, status_str(st));
	CHECK(ms < 3000, "the killed child on node %d took %llu ms to end", other, (unsigned long long)ms);
	CHECK(ps_wait(c.pid, -1, 3000), "dm_ps still shows the killed child %d", c.pid);
	ERR(kill(c.pid, 9), ESRCH);             /* gone */
	ERR(kill(c.pid, 0), ESRCH);
	return NULL;
}

/* The signal sent is the one the parent's wait sees, here and on another node. */
const char *t_kill_signal_number(void)
{
	int nodes_to_try[2] = { self, other };

	for (int i = 0; i < (other == self ? 1 : 2); i++) {
		struct child c;
		int st;
		const char *err;
		if (start(&c, nodes_to_try[i], CHILD_TIMEOUT_MS, "spin", "15000", NULL) < 0)
			return fail("dm_spawn on node %d: %s", nodes_to_try[i], ename(errno));
		dm_sleep_ns(50 * MS);
		if (kill(c.pid, 15) < 0) {
			int e = errno;
			finish(&c, &st);
			return fail("kill(%d, 15) on node %d: %s", c.pid, nodes_to_try[i], ename(e));
		}
		if ((err = finish(&c, &st)))
			return err;
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == 15, "child on node %d sent signal 15: %s",
		      nodes_to_try[i], status_str(st));
	}
	return NULL;
}

/* Bad signals are EINVAL; pids nobody has, on any node or none, are ESRCH. */
const char *t_kill_bad_args_cluster(void)
{
	ERR(kill(getpid(), 64), EINVAL);
	ERR(kill(getpid(), -1), EINVAL);
	ERR(kill(getpid(), 1000), EINVAL);
	ERR(kill(other * PID_STRIDE + 999999, 9), ESRCH);      /* no such process there */
	ERR(kill(other * PID_STRIDE, 9), ESRCH);                /* its kernel thread */
	ERR(kill(63 * PID_STRIDE + 1, 9), ESRCH);               /* no such node */
	ERR(kill(0, 9), ESRCH);                                 /* no process groups */
	RAW(-3, SYS_kill, 1L << 40, 9, 0);                      /* no such pid: ESRCH */
	RAW(-LINUX_EINVAL, SYS_kill, getpid(), 1L << 40, 0);
	CHECK(kill(getpid(), 0) == 0, "kill(self, 0): %s", ename(errno));
	return NULL;
}
