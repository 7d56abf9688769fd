/*
 * Every message one dmos kernel sends another, in one place, and the calls
 * that send them (msg.c): msg_send() for a one-way message, msg_call() and
 * friends for a request and its reply, msg_poll() to handle what arrived.
 * Kernels talk through rings in the pool (kernel/cluster/ring.h, private to
 * kernel/cluster/): one ring per direction per pair of nodes, each slot one
 * cache line holding one struct msg. A receiver handles them with one
 * dispatch switch over enum msg_type (msg.c).
 *
 * The message (64 bytes, one cache line):
 *
 *   offset  size  field
 *        0     4  seq      header word: the ring writes it LAST, with release
 *        4     2  type     enum msg_type
 *        6     2  from     sender's node id
 *        8     4  req_id   chosen by a requester, echoed by the reply
 *       12     4  flags    MSG_F_*
 *       16    48  args[6]  type-specific, listed beside each type below
 *
 * Senders fill type, from, req_id, flags and args; ring_send() owns seq
 * (the ring position + 1, never 0 in a written slot's first lap), so a
 * consumer that sees the expected seq sees the whole body.
 *
 * Types are grouped by subsystem, 32 numbers per group, so each subsystem
 * can add types without renumbering anyone else's. A request that wants an
 * answer has a *_ACK (or reply) type right after it; the reply copies
 * req_id and carries its status (0 or a negative errno) in args[0].
 */
#ifndef KERNEL_CLUSTER_MSG_H
#define KERNEL_CLUSTER_MSG_H

#include <stdint.h>

enum msg_type {
	MSG_NONE = 0,                   /* never sent; an unused slot */

	/* kernel/: membership and liveness, 1..31 */
	MSG_PING = 1,                   /* args[0] = sender's pool_now_ns() */
	MSG_PONG = 2,                   /* args[0] = the ping's args[0], echoed */
	MSG_NODE_DEAD = 3,              /* args[0] = dead node, args[1] = its epoch */

	/* mm/: translation, regions, pool memory, 32..63 */
	MSG_SHOOTDOWN = 32,             /* drop TLB entries: args[0] = pool address,
					   args[1] = bytes, args[2] = address space
					   (0 = all) */
	MSG_SHOOTDOWN_ACK = 33,         /* args[0] = status */

	/* sched/: processes, wakeups, placement, 64..95 */
	MSG_FUTEX_WAKE = 64,            /* args[0] = waiter slot in the pool's futex table */
	MSG_SPAWN = 65,                 /* args[0] = ppn of a pool page holding the request
					   (struct spawn_req, sched/remote.c), args[1] =
					   parent pid, args[2] = the request's generation
					   (also in the page) */
	MSG_SPAWN_ACK = 66,             /* args[0] = the child's pid, or -errno (-ECANCELED:
					   the requester gave up before it was taken),
					   args[1] = generation, args[2] = ppn, echoed; may
					   come after the requester's timeout */
	MSG_CHILD_EXIT = 67,            /* args[0] = child pid, args[1] = wait status,
					   args[2] = parent pid */
	MSG_KILL = 68,                  /* args[0] = pid (of the receiver), args[1] = signal,
					   args[2] = killer's pid, args[3] = KILL_F_* */
	MSG_KILL_ACK = 69,              /* args[0] = 0 or -errno (-ESRCH) */
	/* fs/: shared page cache, cluster file system, 96..127 */
	/* net/: cluster IP, 128..159 */

	MSG_TYPE_MAX = 160,             /* every type is below this */
};

/* flags: none is defined for every type yet; types document their own. */
#define MSG_F_REPLY     (1u << 0)      /* this answers the request req_id */

/* MSG_KILL's args[3] */
#define KILL_F_DISOWN   (1u << 0)      /* its parent gave up on it (a spawn that timed
					   out): no MSG_CHILD_EXIT when it ends */

/* One message: exactly one cache line, see the table at the top. */
struct msg {
	uint32_t seq;                   /* header word, written last by the ring */
	uint16_t type;                  /* enum msg_type */
	uint16_t from;                  /* sender's node id */
	uint32_t req_id;                /* matches a reply to its request */
	uint32_t flags;                 /* MSG_F_* */
	uint64_t args[6];               /* type-specific */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct msg) == 64, "a message is one cache line");
_Static_assert(__builtin_offsetof(struct msg, args) == 16, "msg layout is part of the pool format");

/* The name of a message type, for logs and the inspector. */
static inline const char *msg_name(unsigned type)
{
	switch (type) {
	case MSG_NONE:          return "none";
	case MSG_PING:          return "ping";
	case MSG_PONG:          return "pong";
	case MSG_NODE_DEAD:     return "node_dead";
	case MSG_SHOOTDOWN:     return "shootdown";
	case MSG_SHOOTDOWN_ACK: return "shootdown_ack";
	case MSG_FUTEX_WAKE:    return "futex_wake";
	case MSG_SPAWN:         return "spawn";
	case MSG_SPAWN_ACK:     return "spawn_ack";
	case MSG_CHILD_EXIT:    return "child_exit";
	case MSG_KILL:          return "kill";
	case MSG_KILL_ACK:      return "kill_ack";
	default:                return "unknown";
	}
}

/**
 * msg_attach_pool - take the pool's ring mesh (kernel/cluster/ring.h), the
 * only pointer to it: messages go through the calls below
 * Context: boot, once, from pool_init() when the pool is attached.
 */
void msg_attach_pool(void *rings);

/**
 * msg_send - put a message on the ring to node `to` (and ring its doorbell)
 * Context: any; interrupts are masked around the ring.
 * Return: 0, -EAGAIN if the ring is full, -EINVAL for a bad node.
 */
int msg_send(int to, struct msg *m);

/**
 * msg_call - send a request and wait for its reply
 * Context: main loop only; polls the rings while it waits.
 * Return: 0 with *reply filled; -ETIMEDOUT after timeout_ms; -EHOSTDOWN if
 * the peer is not up (or stops being up while we wait).
 */
int msg_call(int to, struct msg *req, struct msg *reply, uint64_t timeout_ms);

/**
 * msg_call_all - send req to every other live node and wait for all replies
 * Context: main loop only.
 * Return: 0 when every node that stayed up answered 0; else the first error
 * (a reply's negative status, -ETIMEDOUT, -EBUSY).
 */
int msg_call_all(struct msg *req, uint64_t timeout_ms);

/* Handle every message waiting for this node. Context: any. */
void msg_poll(void);

/* The doorbell rang (or a timer tick): called from interrupt context. */
void msg_interrupt(void);

/* Round trips since boot, for the monitor. */
extern uint64_t msg_sent, msg_received;

/**
 * msg_call_yield - msg_call() that lets this node's other threads run
 * while it waits, so a node whose process waits for another node can still
 * serve that node's requests (two nodes spawning on each other at once
 * would otherwise each wait for the other until timeout)
 * Context: a process in a system call, or the kernel thread; not with
 * interrupts off or holding anything another thread of this node needs.
 * Return: as msg_call().
 */
int msg_call_yield(int to, struct msg *req, struct msg *reply, uint64_t timeout_ms);

#endif
