/*
 * Messages between kernels: send on the ring to the peer, ring its
 * doorbell if it has one, and one dispatch switch for everything that
 * arrives. Requests carry a req_id; replies (MSG_F_REPLY) complete the
 * matching pending request of msg_call(), which gives up after a timeout
 * or when the peer stops being up: a dead peer is an error, never a hang.
 */
#include "kernel/kernel.h"
#include "kernel/cluster.h"
#include "kernel/pool.h"
#include "kernel/ring.h"
#include "kernel/doorbell.h"
#include "mm/pmem.h"
#include "arch/arch.h"

#define MAX_PENDING 8

static struct pending {
	uint32_t req_id;                /* 0: slot free */
	volatile bool done;
	struct msg reply;
} pending[MAX_PENDING];
static uint32_t next_req = 1;
uint64_t msg_sent, msg_received;

static struct ring *ring_to(int to)
{
	return ring_get(pool.rings, self.id, to);
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
			struct ring *r = ring_get(pool.rings, from, self.id);
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

int msg_call(int to, struct msg *req, struct msg *rep, uint64_t timeout_ms)
{
	struct pending *p = NULL;
	uint64_t deadline = arch_time_ns() + timeout_ms * 1000000;
	int err = 0;

	for (int i = 0; i < MAX_PENDING && !p; i++)
		if (!pending[i].req_id)
			p = &pending[i];
	if (!p)
		return -EBUSY;
	p->done = false;
	p->req_id = req->req_id = next_req++ ? next_req - 1 : next_req++;
	req->flags &= ~MSG_F_REPLY;
	while ((err = msg_send(to, req)) == -EAGAIN && arch_time_ns() < deadline)
		msg_poll();
	while (!err && !__atomic_load_n(&p->done, __ATOMIC_ACQUIRE)) {
		msg_poll();
		if (__atomic_load_n(&pool.nodes[to].state, __ATOMIC_ACQUIRE) != NODE_UP)
			err = -EHOSTDOWN;
		else if (arch_time_ns() > deadline)
			err = -ETIMEDOUT;
		else
			arch_cpu_relax();
	}
	if (!err)
		*rep = p->reply;
	p->req_id = 0;
	return err;
}
