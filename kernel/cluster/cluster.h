/*
 * The cluster as one node sees it: membership, liveness of the others,
 * and messages to them. Built on the pool's node table and ring mesh.
 */
#ifndef KERNEL_CLUSTER_H
#define KERNEL_CLUSTER_H

#include <stdint.h>
#include "kernel/cluster/msg.h"

/* Wait until every expected node has joined, then print the membership line. */
void cluster_wait(void);

/**
 * cluster_poll - look at the others' heartbeats; declare dead the ones that
 * stopped, take back what they held in the pool; handle region failures
 * the tick noticed (mm/loss.h)
 * Context: main loop (not an interrupt); cheap when nothing changed.
 */
void cluster_poll(void);

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

#endif
