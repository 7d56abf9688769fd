/*
 * Messages between kernels: send on the ring to the peer, ring its
 * doorbell if it has one, and one dispatch switch for everything that
 * arrives. Requests carry a req_id; replies (MSG_F_REPLY) complete the
 * matching pending request of msg_call(), which gives up after a timeout
 * or when the peer stops being up: a dead peer is an error, never a hang.
 */
#include "kernel/kernel.h"
#include "kernel/cluster/msg.h"
#include "kernel/cluster/pool.h"
#include "kernel/cluster/ring.h"
#include "kernel/cluster/doorbell.h"
#include "mm/pmem.h"
#include "sched/sched.h"
#include "sched/futex.h"
#include "sched/remote.h"
#include "arch/arch.h"

#define MAX_PENDING (MAX_NODES + 8)

static struct pending {
	uint32_t req_id;                /* 0: slot free */
	volatile bool done;
	struct msg reply;
} pending[MAX_PENDING];
static uint32_t next_req = 1;
static void *mesh;                      /* the pool's ring mesh (ring.h) */
uint64_t msg_sent, msg_received;

void msg_attach_pool(void *rings)
{
	mesh = rings;
}

static struct ring *ring_to(int to)
{
	return ring_get(mesh, self.id, to);
}

int msg_send(int to, struct msg *m)
{
	struct ring *r;
	uint64_t flags;

	if (!pool.joined || to < 0 || to >= self.nodes || !(r = ring_to(to)))
		return -EINVAL;
	m->from = self.id;
	flags = arch_irq_save();
	int err = ring_send(r, m);
	arch_irq_restore(flags);
	if (err)
		return err;
	msg_sent++;
	doorbell_ring(__atomic_load_n(&pool.nodes[to].doorbell, __ATOMIC_ACQUIRE));
	return 0;
}

static void reply(const struct msg *req, uint16_t type, uint64_t a0)
{
	struct msg m = { .type = type, .req_id = req->req_id, .flags = MSG_F_REPLY };

	m.args[0] = a0;
	if (msg_send(req->from, &m))
		printk("node %d: cannot answer %s from node %d (ring full)\n",
		       self.id, msg_name(req->type), req->from);
}

/* The one dispatch switch of this node. */
static void dispatch(const struct msg *m)
{
	msg_received++;
	if (m->flags & MSG_F_REPLY) {
		for (int i = 0; i < MAX_PENDING; i++) {
			if (pending[i].req_id == m->req_id && !pending[i].done) {
				pending[i].reply = *m;
				__atomic_store_n(&pending[i].done, true, __ATOMIC_RELEASE);
				return;
			}
		}
		if (m->type == MSG_SPAWN_ACK)
			remote_msg(m);  /* a late spawn answer frees what the request held */
		return;                 /* a late reply to a request that timed out */
	}
	switch (m->type) {
	case MSG_PING:
		reply(m, MSG_PONG, m->args[0]);
		break;
	case MSG_SHOOTDOWN:
		pmem_shootdown_local(m->args[0] >> PAGE_SHIFT, m->args[1] >> PAGE_SHIFT);
		reply(m, MSG_SHOOTDOWN_ACK, 0);
		break;
	case MSG_FUTEX_WAKE:
		futex_wake_local((uint32_t)m->args[0]);
		break;
	case MSG_SPAWN:
	case MSG_CHILD_EXIT:
	case MSG_KILL:
		remote_msg(m);
		break;
	default:
		printk("node %d: unknown message type %u from node %d, dropped\n",
		       self.id, m->type, m->from);
	}
}

void msg_poll(void)
{
	static bool busy;
	struct msg m;

	if (!pool.joined)
		return;
	uint64_t flags = arch_irq_save();
	if (!busy) {
		busy = true;
		for (int from = 0; from < self.nodes; from++) {
			struct ring *r = ring_get(mesh, from, self.id);
			while (from != self.id && r && ring_recv(r, &m) == 0)
				dispatch(&m);
		}
		busy = false;
	}
	arch_irq_restore(flags);
}

void msg_interrupt(void)
{
	msg_poll();
}

static struct pending *pending_new(struct msg *req)
{
	for (int i = 0; i < MAX_PENDING; i++) {
		if (!pending[i].req_id) {
			pending[i].done = false;
			if (!next_req)
				next_req++;
			pending[i].req_id = req->req_id = next_req++;
			req->flags &= ~MSG_F_REPLY;
			return &pending[i];
		}
	}
	return NULL;
}

/* Send req (retrying while the ring is full); Return: 0 or a negative errno. */
static int send_until(int to, struct msg *req, uint64_t deadline)
{
	int err;

	while ((err = msg_send(to, req)) == -EAGAIN && arch_time_ns() < deadline)
		msg_poll();
	return err;
}

/* Wait for p's reply from node `to`; yield: let this node's other threads run meanwhile. */
static int __wait_reply(struct pending *p, int to, uint64_t deadline, bool yield)
{
	while (!__atomic_load_n(&p->done, __ATOMIC_ACQUIRE)) {
		msg_poll();
		if (!pool.joined ||     /* we lost the pool: no answer can come */
		    __atomic_load_n(&pool.nodes[to].state, __ATOMIC_ACQUIRE) != NODE_UP)
			return -EHOSTDOWN;
		if (arch_time_ns() > deadline)
			return -ETIMEDOUT;
		if (yield)
			sched_yield();
		else
			arch_cpu_relax();
	}
	return 0;
}

static int wait_reply(struct pending *p, int to, uint64_t deadline)
{
	return __wait_reply(p, to, deadline, false);
}

static int __msg_call(int to, struct msg *req, struct msg *rep, uint64_t timeout_ms, bool yield)
{
	uint64_t deadline = arch_time_ns() + timeout_ms * 1000000;
	struct pending *p = pending_new(req);

	if (!p)
		return -EBUSY;
	int err = send_until(to, req, deadline);
	if (!err)
		err = __wait_reply(p, to, deadline, yield);
	if (!err)
		*rep = p->reply;
	p->req_id = 0;
	return err;
}

int msg_call(int to, struct msg *req, struct msg *rep, uint64_t timeout_ms)
{
	return __msg_call(to, req, rep, timeout_ms, false);
}

int msg_call_yield(int to, struct msg *req, struct msg *rep, uint64_t timeout_ms)
{
	return __msg_call(to, req, rep, timeout_ms, true);
}

int msg_call_all(struct msg *req, uint64_t timeout_ms)
{
	uint64_t deadline = arch_time_ns() + timeout_ms * 1000000;
	struct pending *p[MAX_NODES] = { 0 };
	int err = 0;

	/* ask every live node at once, then collect: one round trip, not N */
	for (int n = 0; n < self.nodes && !err; n++) {
		if (n == self.id || __atomic_load_n(&pool.nodes[n].state, __ATOMIC_ACQUIRE) != NODE_UP)
			continue;
		struct msg m = *req;
		if (!(p[n] = pending_new(&m)))
			err = -EBUSY;
		else if ((err = send_until(n, &m, deadline)) == -EINVAL)
			err = 0;
	}
	for (int n = 0; n < self.nodes; n++) {
		if (!p[n])
			continue;
		int e = err ? 0 : wait_reply(p[n], n, deadline);
		if (e && e != -EHOSTDOWN) {     /* a node that died maps nothing */
			printk("node %d: %s to node %d: no reply (%d)\n", self.id,
			       msg_name(req->type), n, e);
			err = e;
		}
		else if (!e && !err && (int64_t)p[n]->reply.args[0] < 0)
			err = (int)p[n]->reply.args[0];
		p[n]->req_id = 0;
	}
	return err;
}
