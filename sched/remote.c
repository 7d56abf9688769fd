/*
 * Processes across the cluster (see remote.h). A spawn request travels as
 * MSG_SPAWN naming a pool page that holds the path and arguments; the
 * target node's kernel thread takes it, starts the program and answers
 * with its pid. When that child ends, its node sends MSG_CHILD_EXIT to the
 * parent's node, where the parent's wait() finds it. A child whose node
 * dies is reported to its parent as killed (status of SIGKILL). A kill
 * travels as MSG_KILL to the node that runs the process.
 *
 * The request page belongs to the requester, and it frees the page only
 * once nobody can read it any more: after an answer (in time or late) or
 * once the target is dead. Requester and target race on the page's state
 * word, which decides for good whether the request runs:
 *
 *   SENT --target takes it--> TAKEN       it runs; the answer carries the pid
 *   SENT --requester times out--> CANCELLED   never runs; answered -ECANCELED
 *
 * A requester that times out cancels the request; if the target took it
 * first, the child is killed as soon as its late answer names it (the
 * caller was told -ETIMEDOUT, so no child of its may be left running).
 * Until then the page waits in `sent`, parked.
 *
 * For tests, kernel arguments make the target late on purpose:
 * spawn_delay=MS leaves each request untouched that long before taking it,
 * spawn_hold=MS holds a taken request that long before starting it;
 * spawn_timeout=MS sets how long a requester waits (default 5000).
 */
#include "kernel/kernel.h"
#include "kernel/cluster/cluster.h"
#include "sched/sched.h"
#include "sched/proc.h"
#include "sched/remote.h"
#include "mm/pmem.h"
#include "mm/xlate.h"
#include "arch/arch.h"

#define SPAWN_TIMEOUT_MS 5000
#define KILL_TIMEOUT_MS  2000
#define MAX_RKIDS        64
#define MAX_SENT         32             /* spawn requests this node has out at once */

enum spawn_state { SPAWN_SENT = 1, SPAWN_TAKEN, SPAWN_CANCELLED };

struct spawn_req {                      /* in a pool page */
	uint32_t state;                 /* enum spawn_state, changed only by CAS */
	uint32_t gen;                   /* the request's generation, also in MSG_SPAWN */
	int32_t argc;
	char path[64];
	char argv[DM_ARGS_MAX][64];
};

_Static_assert(sizeof(struct spawn_req) <= 4096, "a spawn request fits one pool page");

static struct rkid { int pid, ppid, node, status; bool used, done; } rkids[MAX_RKIDS];

/*
 * A child can end before its parent's node has read the spawn reply (the
 * reply and MSG_CHILD_EXIT sit in the same ring): such exits wait here
 * until proc_spawn_on() records the child.
 */
static struct early { int pid, status; bool used; } early[MAX_RKIDS];

/* Requests this node sent: the page stays here until it may be freed. */
static struct sent {
	int64_t ppn;
	uint32_t gen;
	int node;
	bool used;
	bool parked;                    /* the requester gave up; remote_work frees it */
	bool answered;                  /* a late answer came; pid is what it said */
	bool kill;                      /* the target took it: kill the child it names */
	int pid;
} sent[MAX_SENT];
static uint32_t next_gen = 1;

/* Requests other nodes sent here: taken (copied out of the pool) by remote_work. */
static struct incoming {
	struct msg m;
	uint64_t due_ns;                /* not looked at before (spawn_delay) */
	bool used, taken;
	int32_t argc;
	char path[64];
	char argv[DM_ARGS_MAX][64];
} incoming[8];

static struct dm_proc *cluster_procs;   /* the pool's: MAX_NODES slices of procs_per_node */

void remote_attach_pool(void *procs)
{
	cluster_procs = procs;
}

static struct dm_proc *slice(int node)
{
	return cluster_procs + (uint64_t)node * pool.super->procs_per_node;
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

static uint64_t ms_arg(const char *key, long dflt)
{
	long v = cmdline_long(key, dflt);

	return v < 0 ? (uint64_t)dflt : (uint64_t)v;
}

/* Record a remote child of the current process (and an exit that came first). */
static void remember(int pid, int node)
{
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
}

/* A slot of `sent`, or NULL when all are out. */
static struct sent *sent_new(int64_t ppn, int node)
{
	struct sent *s = NULL;
	uint64_t flags = arch_irq_save();

	for (int i = 0; i < MAX_SENT && !s; i++) {
		if (!sent[i].used) {
			s = &sent[i];
			*s = (struct sent){ ppn, next_gen++, node, true, false, false, false, 0 };
			if (!next_gen)
				next_gen++;
		}
	}
	arch_irq_restore(flags);
	return s;
}

/*
 * The call for s failed after the request may have reached the target:
 * cancel it, or if the target took it already, kill the child it starts.
 * The page stays with s until the answer comes or the target dies.
 */
static void give_up(struct sent *s, struct spawn_req *r, const char *path, int err)
{
	uint32_t want = SPAWN_SENT;
	bool cancelled = !pool.joined ||        /* the page went back with the pool */
			 __atomic_compare_exchange_n(&r->state, &want, SPAWN_CANCELLED, false,
						     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);

	if (pool.joined)
		arch_pool_flush(r, sizeof(r->state));
	uint64_t flags = arch_irq_save();
	s->kill = !cancelled;
	s->parked = true;
	arch_irq_restore(flags);
	printk("node %d: spawn of %s on node %d failed (%d); %s\n", self.id, path, s->node, err,
	       cancelled ? "request cancelled" : "node took it: its child will be killed");
}

int proc_spawn_on(int node, const char *path, char *const argv[], int argc)
{
	if (node == -1 && pool.joined) {
		proc_publish();
		node = least_loaded();
	}
	if (node == -1 || node == self.id)
		return proc_spawn(path, argv, argc);
	if (node < 0 || node >= self.nodes || argc > DM_ARGS_MAX)
		return node < 0 || node >= self.nodes ? -EINVAL : -E2BIG;
	if (!pool.joined || __atomic_load_n(&pool.nodes[node].state, __ATOMIC_ACQUIRE) != NODE_UP)
		return -EHOSTDOWN;
	int free_slots = 0;
	for (int i = 0; i < MAX_RKIDS; i++)
		free_slots += !rkids[i].used;
	if (!free_slots)
		return -EAGAIN;         /* too many remote children waited for at once */

	/* the kernel thread owns the page: it may outlive the process */
	int64_t ppn = pmem_alloc(proc_table()[0].pid);
	if (ppn < 0)
		return -ENOMEM;
	struct sent *s = sent_new(ppn, node);
	if (!s) {
		pmem_free(ppn);
		return -EAGAIN;
	}
	struct spawn_req *r = pmem_page(ppn);
	r->gen = s->gen;
	r->argc = argc;
	strlcpy(r->path, path, sizeof(r->path));
	for (int i = 0; i < argc; i++)
		strlcpy(r->argv[i], argv[i], sizeof(r->argv[i]));
	__atomic_store_n(&r->state, SPAWN_SENT, __ATOMIC_RELEASE);
	arch_pool_flush(r, sizeof(*r));

	struct msg req = { .type = MSG_SPAWN }, rep;
	req.args[0] = (uint64_t)ppn;
	req.args[1] = (uint64_t)current->pid;
	req.args[2] = s->gen;
	int err = msg_call_yield(node, &req, &rep, ms_arg("spawn_timeout", SPAWN_TIMEOUT_MS));
	if (err == -ETIMEDOUT || err == -EHOSTDOWN) {
		give_up(s, r, path, err);       /* it was sent: the target may still read it */
		return err;
	}
	pmem_free(ppn);                         /* never sent, or answered: nobody reads it */
	s->used = false;
	if (err)
		return err;
	int pid = (int)(int64_t)rep.args[0];
	if (pid < 0)
		return pid == -ECANCELED ? -ETIMEDOUT : pid;
	remember(pid, node);
	return pid;
}

int proc_signal(int pid, int sig)
{
	int node = pid / PID_NODE_STRIDE;

	if (sig < 0 || sig >= DM_NSIG)
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
	int err = msg_call_yield(node, &req, &rep, KILL_TIMEOUT_MS);
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
		if (!k->done && (!pool.joined ||        /* we lost the pool: no word will come */
				 __atomic_load_n(&pool.nodes[k->node].state, __ATOMIC_ACQUIRE) != NODE_UP)) {
			k->done = true;         /* its node died: it died with it */
			k->status = DM_WAIT_KILLED(DM_SIGKILL);
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

static void answer_spawn(const struct msg *m, int64_t pid)
{
	struct msg r = { .type = MSG_SPAWN_ACK, .req_id = m->req_id, .flags = MSG_F_REPLY };

	r.args[0] = (uint64_t)pid;
	r.args[1] = m->args[2];
	r.args[2] = m->args[0];
	if (msg_send(m->from, &r))
		printk("node %d: cannot answer a spawn request from node %d (ring full)\n",
		       self.id, m->from);
}

void remote_msg(const struct msg *m)
{
	if (m->type == MSG_SPAWN) {
		uint64_t delay = ms_arg("spawn_delay", 0) * 1000000;
		for (int i = 0; i < (int)ARRAY_SIZE(incoming); i++) {
			if (!incoming[i].used) {
				incoming[i].m = *m;
				incoming[i].due_ns = arch_time_ns() + delay;
				incoming[i].taken = false;
				__atomic_store_n(&incoming[i].used, true, __ATOMIC_RELEASE);
				sched_wakeup(&proc_table()[0]);        /* the kernel thread serves it */
				return;
			}
		}
		answer_spawn(m, -EAGAIN);       /* untouched: the requester frees its page */
	} else if (m->type == MSG_SPAWN_ACK) {  /* late: the requester gave up already */
		for (int i = 0; i < MAX_SENT; i++) {
			struct sent *s = &sent[i];
			if (s->used && !s->answered && s->node == m->from && s->gen == (uint32_t)m->args[1] &&
			    s->ppn == (int64_t)m->args[2]) {
				s->pid = (int)(int64_t)m->args[0];
				s->answered = true;
				sched_wakeup(&proc_table()[0]);
			}
		}
	} else if (m->type == MSG_KILL) {
		struct msg r = { .type = MSG_KILL_ACK, .req_id = m->req_id, .flags = MSG_F_REPLY };
		int by = (int)m->args[2];
		r.args[0] = (uint64_t)(int64_t)__proc_kill((int)m->args[0], (int)m->args[1], by,
							   m->args[3] & KILL_F_DISOWN);
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

/*
 * Take request in: claim it in its page (unless its requester cancelled
 * it) and copy it out of the pool. Return: 0, -ECANCELED, or -EIO (a
 * region failure took the page: what it says is gone).
 */
static int take(struct incoming *in)
{
	const struct msg *m = &in->m;
	struct spawn_req *r = pmem_page(m->args[0]);
	uint32_t want = SPAWN_SENT;

	if (xlate_lost(pmem_xlate(), m->args[0], 0, UINT64_MAX, NULL))
		return -EIO;
	if (__atomic_load_n(&r->gen, __ATOMIC_ACQUIRE) != (uint32_t)m->args[2] ||
	    !__atomic_compare_exchange_n(&r->state, &want, SPAWN_TAKEN, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	arch_pool_flush(r, sizeof(r->state));
	in->argc = r->argc > 0 && r->argc <= DM_ARGS_MAX ? r->argc : 0;
	strlcpy(in->path, r->path, sizeof(in->path));
	for (int a = 0; a < in->argc; a++)
		strlcpy(in->argv[a], r->argv[a], sizeof(in->argv[a]));
	arch_poolmem_unmap(m->args[0], 1);      /* not ours: a stale mapping could outlive it */
	in->taken = true;
	return 0;
}

/* Serve one request from another node, once its time has come. */
static void serve(struct incoming *in)
{
	const struct msg *m = &in->m;
	uint64_t now = arch_time_ns();

	if (now < in->due_ns)
		return;
	if (!in->taken) {
		int err = take(in);
		if (err) {
			printk("node %d: spawn request from node %d %s; not run\n", self.id, m->from,
			       err == -EIO ? "was lost in a failed region" : "came after it was cancelled");
			answer_spawn(m, err);
			__atomic_store_n(&in->used, false, __ATOMIC_RELEASE);
			return;
		}
		in->due_ns = now + ms_arg("spawn_hold", 0) * 1000000;
		if (now < in->due_ns)
			return;
	}
	char *argv[DM_ARGS_MAX];
	for (int a = 0; a < in->argc; a++)
		argv[a] = in->argv[a];
	int pid = in->argc ? proc_spawn(in->path, argv, in->argc) : -EINVAL;
	struct proc *p = pid > 0 ? proc_find(pid) : NULL;
	if (p)
		p->ppid = (int)m->args[1];      /* its parent lives on another node */
	answer_spawn(m, pid);
	if (pid > 0)
		printk("node %d: started %s (pid %d) for pid %ld on node %d\n", self.id, in->path,
		       pid, (long)m->args[1], m->from);
	__atomic_store_n(&in->used, false, __ATOMIC_RELEASE);
}

/* A request this node gave up on: free its page once nobody can read it. */
static void settle(struct sent *s)
{
	bool dead = __atomic_load_n(&pool.nodes[s->node].state, __ATOMIC_ACQUIRE) != NODE_UP;

	if (!s->answered && !dead)
		return;
	if (s->answered && s->pid > 0 && s->kill) {
		struct msg k = { .type = MSG_KILL };
		k.args[0] = (uint64_t)s->pid;
		k.args[1] = 9;
		k.args[2] = (uint64_t)proc_table()[0].pid;
		k.args[3] = KILL_F_DISOWN;
		if (msg_send(s->node, &k) == -EAGAIN)
			return;         /* ring full: again next time */
		uint64_t flags = arch_irq_save();
		for (int j = 0; j < MAX_RKIDS; j++)     /* an exit that came first waits for nobody */
			if (early[j].used && early[j].pid == s->pid)
				early[j].used = false;
		arch_irq_restore(flags);
		printk("node %d: pid %d on node %d started after its spawn timed out; killed it\n",
		       self.id, s->pid, s->node);
	} else if (s->answered) {
		printk("node %d: node %d answered a spawn request after it timed out (%d); "
		       "its page is freed\n", self.id, s->node, s->pid);
	}
	pmem_free(s->ppn);                      /* ours: a dead target's reclaim leaves it */
	__atomic_store_n(&s->used, false, __ATOMIC_RELEASE);
}

void remote_work(void)
{
	struct proc *t = proc_table();

	for (int i = 0; i < (int)ARRAY_SIZE(incoming) && pool.joined; i++)
		if (__atomic_load_n(&incoming[i].used, __ATOMIC_ACQUIRE))
			serve(&incoming[i]);
	for (int i = 0; i < MAX_SENT && pool.joined; i++)
		if (__atomic_load_n(&sent[i].used, __ATOMIC_ACQUIRE) && sent[i].parked)
			settle(&sent[i]);
	for (int i = 1; i < MAX_PROCS; i++)     /* orphans and children of remote parents */
		if (t[i].state == P_ZOMBIE && t[i].ppid == t[0].pid)
			proc_try_wait(t[i].pid, NULL);
}
