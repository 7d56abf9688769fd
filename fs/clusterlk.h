/*
 * Record locks (fcntl F_GETLK, F_SETLK, F_SETLKW) on dmosfs files that
 * hold between the processes of every node: the locks live in the pool's
 * table of record locks (fs/locktab.h), changed under one lease
 * (POOL_LEASE_LOCKS). fs/dmosfs.c puts the two ops below in its vfs_ops;
 * the pool hands the table over at boot; the survivors of a dead node
 * drop its processes' locks.
 */
#ifndef FS_CLUSTERLK_H
#define FS_CLUSTERLK_H

#include <stdbool.h>
#include "fs/vfs.h"

/**
 * clusterlk_attach_pool - take the pool's table of record locks, the only
 * pointer to it
 * @area: the area (locktab_area_size(pool.super->nlocks) bytes) in this
 *     node's pool window
 * Context: boot, once, from pool_init() when the pool is attached, before
 * the node joins.
 */
void clusterlk_attach_pool(void *area);

/**
 * clusterlk_getlk - the vfs getlk op (fs/vfs.h): the first lock of another
 * owner, on any node, that conflicts with lk, written into lk (its pid
 * names the holder's node), or lk->type = DM_F_UNLCK
 * @vn: a dmosfs file; its inode number names it in the table
 * Context: a process (a system call); spins briefly for the lease.
 * Return: 0; -ENOLCK if there is no table (no pool, or it was lost) or
 * its lease could not be had.
 */
int clusterlk_getlk(struct vnode *vn, struct vfs_lock *lk);

/**
 * clusterlk_setlk - the vfs setlk op (fs/vfs.h): set or clear lk->pid's
 * lock on [start, end) of vn
 * @wait: on a conflict, sleep until the lock can be had: woken at once by
 *     a release on this node, and looking again every CLUSTERLK_POLL_MS
 *     for releases elsewhere (and for deaths: a dead node's locks go)
 *
 * Context: a process (a system call); may sleep with @wait.
 * Return: 0; -EAGAIN (a conflict, !@wait); -EINTR (killed while waiting);
 * -EDEADLK (an owner in the way waits, on any node, directly or through
 * others, for lk->pid); -ENOLCK (the table, or its room for waiters, is
 * full; no table; its lease could not be had).
 */
int clusterlk_setlk(struct vnode *vn, const struct vfs_lock *lk, bool wait);

#define CLUSTERLK_POLL_MS 10    /* a waiter looks at the table this often */

/**
 * clusterlk_node_dead - node n died: drop its processes' locks and waits,
 * so that the survivors' waiters get them
 * Context: a survivor's kernel thread, once n is declared dead (called
 * from dmosfs_node_dead). Does not sleep; if the lease is busy for long,
 * the drop is left to this node's next lock operation.
 */
void clusterlk_node_dead(int n);

#endif
