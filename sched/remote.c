/*
 * Processes across the cluster (see remote.h). A spawn request travels as
 * MSG_SPAWN naming a pool page that holds the path and arguments; the
 * target node's kernel thread starts the program and answers with its pid.
 * When that child ends, its node sends MSG_CHILD_EXIT to the parent's node,
 * where the parent's wait() finds it. A child whose node dies is reported
 * to its parent as killed (status of SIGKILL). A kill travels as MSG_KILL
 * to the node that runs the process.
 */
#include "kernel/kernel.h"
#include "kernel/cluster.h"
#include "kernel/pool.h"
#include "sched/sched.h"
#include "sched/proc.h"
#include "sched/remote.h"
#include "mm/pmem.h"
#include "arch/arch.h"

#define SPAWN_TIMEOUT_MS 5000
#define KILL_TIMEOUT_MS  2000
#define MAX_RKIDS        64
#define MAX_ARGS         16

struct spawn_req {                      /* in a pool page */
	int32_t argc;
	char path[64];
	char argv[MAX_ARGS][64];
};

_Static_assert(sizeof(struct spawn_req) <= 4096, "a spawn request fits one pool page");

static struct rkid { int pid, ppid, node, status; bool used, done; } rkids[MAX_RKIDS];

/*
 * A child can end before its parent's node has read the spawn reply (the
 * reply and MSG_CHILD_EXIT sit in the same ring): such exits wait here
 * until proc_spawn_on() records the child.
 */
static struct early { int pid, status; bool used; } early[MAX_RKIDS];
static struct pending_spawn { struct msg m; bool used; } incoming[8];

static struct dm_proc *slice(int node)
{
	return (struct dm_proc *)pool.procs + (uint64_t)node * pool.super->procs_per_node;
}

static int node_of(int pid)
{
	return pid / PID_NODE_STRIDE;
}

void proc_publish(void)
{
	struct proc *t = proc_table();

	if (!pool.joined)
		return;
	struct dm_proc *out = slice(self.id);
	for (int i = 0; i < MAX_PROCS && i < (int)pool.super->procs_per_node; i++) {
		struct dm_proc d = { 0 };
		if (i > 0 && t[i].state != P_FREE) {
			d = (struct dm_proc){ t[i].pid, t[i].ppid, self.id, t[i].state, { 0 },
					      t[i].vm.local_pages, t[i].vm.pool_pages };
			strlcpy(d.name, t[i].name, sizeof(d.name));
		}
		out[i] = d;
	}
	arch_pool_flush(out, pool.super->procs_per_node * sizeof(*out));
}

int proc_list(struct dm_proc *out, int max)
{
	int n = 0;

	if (!pool.joined) {
		return 0;
	}
	proc_publish();
	for (int node = 0; node < self.nodes; node++) {
		if (__atomic_load_n(&pool.nodes[node].state, __ATOMIC_ACQUIRE) != NODE_UP)
			continue;
		for (uint32_t i = 0; i < pool.super->procs_per_node && n < max; i++)
			if (slice(node)[i].pid)
				out[n++] = slice(node)[i];
	}
	return n;
}

static int least_loaded(void)
{
	int best = self.id, best_n = MAX_PROCS + 1;

	for (int node = 0; node < self.nodes; node++) {
		int n = 0;
		if (__atomic_load_n(&pool.nodes[node].state, __ATOMIC_ACQUIRE) != NODE_UP)
			continue;
		for (uint32_t i = 0; i < pool.super->procs_per_node; i++)
			n += slice(node)[i].pid != 0;
		if (n < best_n) {
			best = node;
			best_n = n;
		}
	}
	return best;
}

int proc_spawn_on(int node, const char *path, char *const argv[], int argc)
{
	if (node == -1 && pool.joined) {
		proc_publish();
		node = least_loaded();
	}
	if (node == -1 || node == self.id)
		return proc_spawn(path, argv, argc);
	if (node < 0 || node >= self.nodes || argc > MAX_ARGS)
		return node < 0 || node >= self.nodes ? -EINVAL : -E2BIG;
	if (!pool.joined || __atomic_load_n(&pool.nodes[node].state, __ATOMIC_ACQUIRE) != NODE_UP)
		return -EHOSTDOWN;
	int free_slots = 0;
	for (int i = 0; i < MAX_RKIDS; i++)
		free_slots += !rkids[i].used;
	if (!free_slots)
		return -EAGAIN;         /* too many remote children waited for at once */

	int64_t ppn = pmem_alloc(current->pid);
	if (ppn < 0)
		return -ENOMEM;
	struct spawn_req *r = pmem_page(ppn);
	r->argc = argc;
	strlcpy(r->path, path, sizeof(r->path));
	for (int i = 0; i < argc; i++)
		strlcpy(r->argv[i], argv[i], sizeof(r->argv[i]));
	arch_pool_flush(r, sizeof(*r));

	struct msg req = { .type = MSG_SPAWN }, rep;
	req.args[0] = (uint64_t)ppn;
	req.args[1] = (uint64_t)current->pid;
	int err = msg_call(node, &req, &rep, SPAWN_TIMEOUT_MS);
	pmem_free(ppn);
	if (err)
		return err;
	int pid = (int)(int64_t)rep.args[0];
	if (pid < 0)
		return pid;
	uint64_t flags = arch_irq_save();
	for (int i = 0; i < MAX_RKIDS; i++) {
		if (!rkids[i].used) {
			rkids[i] = (struct rkid){ pid, current->pid, node, 0, true, false };
			for (int j = 0; j < MAX_RKIDS; j++) {
				if (early[j].used && early[j].pid == pid) {
					rkids[i].status = early[j].status;
					rkids[i].done = true;
					early[j].used = false;
				}
			}
			break;
		}
	}
	arch_irq_restore(flags);
	return pid;
}

int proc_signal(int pid, int sig)
{
	int node = pid / PID_NODE_STRIDE;

	if (sig < 0 || sig >= NSIG_MAX)
		return -EINVAL;
	if (pid <= 0 || node >= self.nodes)
		return -ESRCH;          /* no process groups; no such node */
	if (node == self.id)
		return __proc_kill(pid, sig, current->pid, false);
	if (!pool.joined || __atomic_load_n(&pool.nodes[node].state, __ATOMIC_ACQUIRE) != NODE_UP)
		return -EHOSTDOWN;

	struct msg req = { .type = MSG_KILL }, rep;
	req.args[0] = (uint64_t)pid;
	req.args[1] = (uint64_t)sig;
	req.args[2] = (uint64_t)current->pid;
	int err = msg_call(node, &req, &rep, KILL_TIMEOUT_MS);
	return err ? err : (int)(int64_t)rep.args[0];
}

int remote_wait(int ppid, int pid, int *pid_out, int *status)
{
	int found = -ECHILD;
	uint64_t flags = arch_irq_save();

	for (int i = 0; i < MAX_RKIDS; i++) {
		struct rkid *k = &rkids[i];
		if (!k->used || k->ppid != ppid || (pid != -1 && k->pid != pid))
			continue;
		found = 0;
		if (!k->done && __atomic_load_n(&pool.nodes[k->node].state, __ATOMIC_ACQUIRE) != NODE_UP) {
			k->done = true;         /* its node died: it died with it */
			k->status = DM_WAIT_KILLED(9);
		}
		if (k->done) {
			*pid_out = k->pid;
			*status = k->status;
			k->used = false;
			found = 1;
			break;
		}
	}
	arch_irq_restore(flags);
	return found;
}

void remote_forget(int ppid)
{
	uint64_t flags = arch_irq_save();

	for (int i = 0; i < MAX_RKIDS; i++)
		if (rkids[i].used && rkids[i].ppid == ppid)
			rkids[i].used = false;  /* nobody will wait for them now */
	arch_irq_restore(flags);
}

void remote_child_exit(int pid, int ppid, int status)
{
	struct msg m = { .type = MSG_CHILD_EXIT };

	m.args[0] = (uint64_t)pid;
	m.args[1] = (uint64_t)status;
	m.args[2] = (uint64_t)ppid;
	if (msg_send(node_of(ppid), &m))
		printk("node %d: could not tell node %d that pid %d ended\n", self.id, node_of(ppid), pid);
}

void remote_msg(const struct msg *m)
{
	if (m->type == MSG_SPAWN) {
		for (int i = 0; i < (int)ARRAY_SIZE(incoming); i++) {
			if (!incoming[i].used) {
				incoming[i].m = *m;
				incoming[i].used = true;
				sched_wakeup(&proc_table()[0]);        /* the kernel thread serves it */
				return;
			}
		}
		struct msg r = { .type = MSG_SPAWN_ACK, .req_id = m->req_id, .flags = MSG_F_REPLY };
		r.args[0] = (uint64_t)-EAGAIN;
		msg_send(m->from, &r);
	} else if (m->type == MSG_KILL) {
		struct msg r = { .type = MSG_KILL_ACK, .req_id = m->req_id, .flags = MSG_F_REPLY };
		r.args[0] = (uint64_t)(int64_t)__proc_kill((int)m->args[0], (int)m->args[1],
							   (int)m->args[2], false);
		if (msg_send(m->from, &r))
			printk("node %d: cannot answer a kill from node %d (ring full)\n", self.id, m->from);
	} else if (m->type == MSG_CHILD_EXIT) {
		bool known = false;
		for (int i = 0; i < MAX_RKIDS; i++) {
			if (rkids[i].used && rkids[i].pid == (int)m->args[0]) {
				rkids[i].status = (int)m->args[1];
				rkids[i].done = true;
				known = true;
				struct proc *parent = proc_find(rkids[i].ppid);
				if (parent)
					sched_wakeup(parent);
			}
		}
		if (!known && proc_find((int)m->args[2])) {    /* its parent has not heard of it yet */
			int slot = (int)((uint64_t)m->args[0] % MAX_RKIDS);
			early[slot] = (struct early){ (int)m->args[0], (int)m->args[1], true };
		}
	}
}

void remote_work(void)
{
	struct proc *t = proc_table();

	for (int i = 0; i < (int)ARRAY_SIZE(incoming); i++) {
		if (!__atomic_load_n(&incoming[i].used, __ATOMIC_ACQUIRE))
			continue;
		const struct msg *m = &incoming[i].m;
		const struct spawn_req *r = pmem_page(m->args[0]);
		char *argv[MAX_ARGS];
		int argc = r->argc > 0 && r->argc <= MAX_ARGS ? r->argc : 0;
		static char path[64], args[MAX_ARGS][64];
		strlcpy(path, r->path, sizeof(path));
		for (int a = 0; a < argc; a++) {
			strlcpy(args[a], r->argv[a], sizeof(args[a]));
			argv[a] = args[a];
		}
		int pid = argc ? proc_spawn(path, argv, argc) : -EINVAL;
		struct proc *p = pid > 0 ? proc_find(pid) : NULL;
		if (p)
			p->ppid = (int)m->args[1];      /* its parent lives on another node */
		struct msg rep = { .type = MSG_SPAWN_ACK, .req_id = m->req_id, .flags = MSG_F_REPLY };
		rep.args[0] = (uint64_t)(int64_t)pid;
		msg_send(m->from, &rep);
		incoming[i].used = false;
		if (pid > 0)
			printk("node %d: started %s (pid %d) for pid %ld on node %d\n", self.id, path,
			       pid, (long)m->args[1], m->from);
	}
	for (int i = 1; i < MAX_PROCS; i++)     /* orphans and children of remote parents */
		if (t[i].state == P_ZOMBIE && t[i].ppid == t[0].pid)
			proc_wait(t[i].pid, NULL);
}
