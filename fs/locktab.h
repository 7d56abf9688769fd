/*
 * The cluster's record locks: one table in the pool (its own area,
 * kernel/cluster/pool.h) of every byte range any process of any node holds
 * on a dmosfs file, and of every range a process waits for. Being in the
 * pool, it is the same table for every node, so a lock holds between
 * processes of different nodes, a survivor can drop what a dead node's
 * processes held, and a wait that would close a cycle of owners is seen
 * whichever nodes the owners are on.
 *
 * This file is only the table: what a lock does to the ranges there is
 * fs/lockf.h's rules, applied to slots of the table instead of lists. It
 * has no locking of its own (fs/clusterlk.c calls it under the table's
 * lease, POOL_LEASE_LOCKS) and no kernel dependency, so it runs unchanged
 * in the host unit tests (tests/unit/test_locktab.c).
 *
 * The area: one line of header (a counter of changes that may let a
 * waiter in), then nlocks entries of 32 bytes. An entry is free (kind 0),
 * a range held, or a range waited for, by one process (cluster-wide pid:
 * its node is pid / LOCKTAB_PID_STRIDE) on one file:
 *
 *   @0 u64 file   @8 u64 start   @16 u64 end (exclusive, or VFS_LOCK_EOF)
 *   @24 i32 pid   @28 u32 kind (LT_*; written last when an entry is taken,
 *                               first when it is freed)
 *
 * A writer that dies halfway through a change leaves only entries of its
 * own node's processes changed, each a sound range at every step (see
 * lockf_cut), and those the survivors drop (locktab_node_dead); a free
 * entry's other words mean nothing.
 */
#ifndef FS_LOCKTAB_H
#define FS_LOCKTAB_H

#include <stdbool.h>
#include <stdint.h>
#include "fs/vfs.h"

#define LOCKTAB_ENT_BYTES  32
#define LOCKTAB_HDR_BYTES  64
#define LOCKTAB_PID_STRIDE 1000000      /* sched/sched.h PID_NODE_STRIDE: pid = node * this + n */
#define LOCKTAB_WAITERS    256          /* ranges waited for at once, cluster-wide */
#define LOCKTAB_MAX        4096         /* entries of a table at most */

enum locktab_kind {
	LT_FREE = 0,
	LT_READ = 1, LT_WRITE = 2,              /* held: 1 + DM_F_RDLCK or DM_F_WRLCK */
	LT_WAIT_READ = 3, LT_WAIT_WRITE = 4,    /* waited for: 3 + the type */
};

struct locktab_ent {
	uint64_t file;
	uint64_t start, end;
	int32_t pid;
	uint32_t kind;
};

struct locktab_hdr {
	uint64_t changes;               /* +1 whenever ranges are let go of */
	uint64_t pad[7];
};

_Static_assert(sizeof(struct locktab_ent) == LOCKTAB_ENT_BYTES, "lock entry size is pool format");
_Static_assert(sizeof(struct locktab_hdr) == LOCKTAB_HDR_BYTES, "lock header is one line");

/* A node's handle on the table. */
struct locktab {
	struct locktab_hdr *hdr;
	struct locktab_ent *ent;
	uint32_t n;                     /* entries */
	int node;                       /* this node */
	uint32_t mine;                  /* entries of this node's processes */
};

/* Bytes of an area of n entries. */
static inline uint64_t locktab_area_size(uint32_t n)
{
	return LOCKTAB_HDR_BYTES + (uint64_t)n * LOCKTAB_ENT_BYTES;
}

/* The node a (non-negative) cluster-wide pid lives on. */
static inline int locktab_pid_node(int32_t pid)
{
	return pid / LOCKTAB_PID_STRIDE;
}

/*
 * Is an entry one the table's writers leave (for poolcheck)? A free one
 * always is; a used one has a known kind, a non-empty range and a pid of
 * one of max_nodes nodes.
 */
static inline bool locktab_ent_sound(uint32_t kind, uint64_t start, uint64_t end, int32_t pid,
				     uint32_t max_nodes)
{
	return kind == LT_FREE || (kind <= LT_WAIT_WRITE && start < end && pid >= 0 &&
				   (uint32_t)locktab_pid_node(pid) < max_nodes);
}

/**
 * locktab_attach - a handle on the area at @area, of @n entries, for @node
 * Entries of an earlier incarnation of @node (it rejoined before the
 * survivors dropped them) are not the new one's: the caller drops them
 * with locktab_node_dead(t, node) under the lease before its first use.
 * Context: any; touches nothing in the pool.
 */
void locktab_attach(struct locktab *t, void *area, uint32_t n, int node);

/**
 * locktab_get - the first range held by another owner that keeps lk from
 * being granted on file, into lk (its type, start, end and pid); or
 * lk->type = DM_F_UNLCK if there is none
 * Context: under the lease.
 */
void locktab_get(const struct locktab *t, uint64_t file, struct vfs_lock *lk);

/**
 * locktab_set - set, or clear (DM_F_UNLCK), lk->pid's lock on [start, end) of file
 * @wait: on a conflict, record that lk->pid waits for the range (or
 *     update its record), unless that would close a cycle of owners
 * @blocker: on -EAGAIN, the pid of an owner in the way
 *
 * The owner's own ranges there are replaced (split if the new one sits
 * inside one), ranges of one type that touch are merged, and its record
 * of waiting, if any, goes once the lock is granted.
 * Context: under the lease.
 * Return: 0; -EAGAIN (a conflict; with @wait, recorded as waiting);
 * -EDEADLK (@wait, and an owner in the way waits, directly or through
 * others, for lk->pid: nothing recorded, an earlier record dropped);
 * -ENOLCK (the table, or its room for waiters, is full; nothing changed).
 */
int locktab_set(struct locktab *t, uint64_t file, const struct vfs_lock *lk, bool wait,
		int *blocker);

/* pid waits no more (interrupted). Context: under the lease. */
void locktab_unwait(struct locktab *t, int pid);

/**
 * locktab_node_dead - drop every range held or waited for by @node's processes
 * Context: under the lease, on a survivor, once @node is declared dead.
 * Return: how many entries were dropped.
 */
uint32_t locktab_node_dead(struct locktab *t, int node);

/* The changes counter, read without the lease: waiters poll it. */
static inline uint64_t locktab_changes(const struct locktab *t)
{
	return __atomic_load_n(&t->hdr->changes, __ATOMIC_ACQUIRE);
}

#endif
