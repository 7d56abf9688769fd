/*
 * Leases: the locks that live in the pool. A lock shared by kernels must not
 * wedge the cluster when its holder dies, so it records who holds it, and a
 * waiter that finds the holder dead (or an older incarnation of a node that
 * has since rejoined) breaks it with one compare-and-swap. No log, no
 * coordinator: the node table (state, epoch) is the only judge, asked
 * through a callback.
 *
 * One lease is one 64-bit word in the pool:
 *
 *   63        48 47                                  0
 *   +-----------+-------------------------------------+
 *   | node + 1  |              epoch                  |
 *   +-----------+-------------------------------------+
 *
 *   0                       free
 *   LEASE_BROKEN (0xffff<<48) free, but its last holder died holding it:
 *                           whoever takes it next is told (return 1), since
 *                           what the lease guards may be half-updated
 *   anything else           held by node (top 16 bits - 1) in that epoch
 *
 * Put leases on their own cache line where they are contended.
 */
#ifndef KERNEL_CLUSTER_LEASE_H
#define KERNEL_CLUSTER_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#define LEASE_FREE      0ULL
#define LEASE_BROKEN    (0xffffULL << 48)
#define LEASE_MAX_NODE  0xfffd                  /* highest node id a lease holds */
#define LEASE_EPOCH_MASK ((1ULL << 48) - 1)     /* epochs are 48 bits */
#define LEASE_TAKEN_OVER 1      /* lease_acquire: got it from a dead holder */

struct lease {
	uint64_t word;                  /* see the diagram above */
};

/*
 * Is `node` in `epoch` the live incarnation of that node? The kernel answers
 * from the node table: state up and the same epoch.
 */
typedef bool (*lease_alive_fn)(void *ctx, int node, uint64_t epoch);

/**
 * lease_acquire - take the lease for node in epoch
 * @alive: judge of the current holder; NULL never breaks a lease
 * @timeout_ns: give up after this long; 0 tries exactly once
 * Context: any node, may spin (pool_relax() between tries) up to timeout_ns.
 * A node must not take a lease it already holds; CPUs of one node serialise
 * among themselves first.
 * Return: 0 when taken from a free lease; LEASE_TAKEN_OVER (1) when taken
 * from a dead or stale holder, or after lease_break_all(): what it guards
 * may be half-updated. -EBUSY if timeout_ns is 0 and a live holder has it
 * (or node already holds it); -ETIMEDOUT after timeout_ns; -EINVAL for a
 * NULL lease, node > LEASE_MAX_NODE or an epoch wider than 48 bits.
 */
int lease_acquire(struct lease *l, int node, uint64_t epoch,
		  lease_alive_fn alive, void *ctx, uint64_t timeout_ns);

/**
 * lease_release - give the lease back
 * Context: the holder.
 * Return: 0; -EPERM if node in epoch does not hold it (it was broken
 * meanwhile: whatever was done under it may have raced with the breaker);
 * -EINVAL for bad arguments.
 */
int lease_release(struct lease *l, int node, uint64_t epoch);

/**
 * lease_break_all - break every lease in base[0..n) held by dead_node
 * Context: a survivor, after dead_node was declared dead and before it can
 * rejoin (leases of every epoch of dead_node are broken).
 * Return: how many were broken (each now LEASE_BROKEN), or -EINVAL.
 */
int lease_break_all(struct lease *base, uint64_t n, int dead_node);

/**
 * lease_holder - who holds the lease, for the inspector and for tests
 * Return: true with *node and *epoch set if it is held, false if it is
 * free or broken (a NULL node or epoch is not written).
 */
bool lease_holder(const struct lease *l, int *node, uint64_t *epoch);

#endif
