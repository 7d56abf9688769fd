/*
 * The cluster layer's public header: what other folders may use of
 * kernel/cluster/, the cluster as one node sees it. Other folders include
 * this file, not the ones it pulls in.
 *
 * Declared here: membership and liveness of the nodes, built on the pool's
 * node table. Pulled in, each public as a whole:
 *   msg.h      every message between kernels, and the msg_* calls that
 *              send them
 *   pool.h     the pool's format, this node's view of it (struct pool,
 *              pool_init, pool_lease) and which code owns which area
 *   lease.h    the locks that live in the pool
 * Public only to code that lives on pool memory: poolsys.h, what such code
 * needs from its surroundings (the kernel's pool.c or the host unit
 * tests' poolsys_host.c provide it). Private to kernel/cluster/: ring.h
 * (the rings behind msg.h) and doorbell.h (the interrupt behind
 * msg_send()).
 */
#ifndef KERNEL_CLUSTER_H
#define KERNEL_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include "kernel/cluster/msg.h"
#include "kernel/cluster/pool.h"
#include "kernel/cluster/lease.h"

/* Is node n the live incarnation it claims (state up, this epoch)? Context: any. */
bool node_alive(int n, uint64_t epoch);

/* Wait until every expected node has joined, then print the membership line. */
void cluster_wait(void);

/**
 * cluster_poll - look at the others' heartbeats; declare dead the ones that
 * stopped, take back what they held in the pool; handle region failures
 * the tick noticed (mm/loss.h)
 * Context: main loop (not an interrupt); cheap when nothing changed.
 */
void cluster_poll(void);

#endif
