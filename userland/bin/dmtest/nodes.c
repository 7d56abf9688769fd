/* dmtest: other nodes (see main.c). */
#include "dmtest.h"

/* ---- other nodes ---------------------------------------------------------------------- */

int alone(void)
{
	if (nodes > 1)
		return 0;
	skipped = "the cluster has one node";
	return 1;
}

const char *t_remote_exit_status(void)
{
	const char *err;

	if (alone())
		return NULL;
	if ((err = run_exit(other, 7, "exit", "7", NULL)) || (err = run_exit(other, 0, "exit", "0", NULL)))
		return err;
	return NULL;
}

const char *t_remote_segfault(void)
{
	if (alone())
		return NULL;
	printf("# a child on node %d faults on purpose: node %d says 'killed'\n", other, other);
	return run_killed(other, 11, "segv", NULL);
}

const char *t_remote_ids(void)
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

const char *t_remote_segment(void)
{
	if (alone())
		return NULL;
	return list_in_child(other, "rlist");
}

const char *t_remote_futex_wake(void)
{
	if (alone())
		return NULL;
	return child_wakes(other);
}

const char *t_remote_ps(void)
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

const char *t_remote_spawn_args(void)
{
	if (alone())
		return NULL;
	return spawn_args_on(other);
}

const char *t_remote_spawn_errors(void)
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
const char *t_remote_spawn_to_busy_node(void)
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
const char *t_remote_orphans(void)
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

const char *t_spawn_any_node(void)
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
