/*
 * Byte-range locks of one node's files (POSIX record locks), for the file
 * systems whose files only this node sees (fs/ramfs.c): per file a list
 * of the ranges each owner holds, and this node's waits-for graph, to
 * refuse a wait that would deadlock. Private to fs/. The file system
 * sleeps and wakes its waiters itself; this file only keeps the lists, so
 * it builds unchanged for the host unit tests.
 *
 * Context (all calls): a process, from a file system op; no locking
 * inside (one CPU per node, a kernel that is not preempted).
 */
#ifndef FS_LOCKF_H
#define FS_LOCKF_H

#include "fs/vfs.h"

struct lockf_range {
	struct lockf_range *next;
	uint64_t start, end;            /* end exclusive, or VFS_LOCK_EOF */
	int type;                       /* DM_F_RDLCK or DM_F_WRLCK */
	int pid;
};

struct lockf {
	struct lockf_range *head;
};

/* The first lock of another owner conflicting with lk, into lk; or lk->type = DM_F_UNLCK. */
void lockf_get(const struct lockf *lf, struct vfs_lock *lk);

/**
 * lockf_set - set, or clear (DM_F_UNLCK), lk->pid's lock on [start, end)
 * The owner's own ranges there are replaced (a range split in two if the
 * new one sits inside it), and ranges of one type that touch are merged.
 * Return: 0; -EAGAIN with *blocker the pid of a conflicting owner (nothing
 * changed); -ENOLCK (no memory; nothing changed).
 */
int lockf_set(struct lockf *lf, const struct vfs_lock *lk, int *blocker);

/* Clear every lock of pid. */
void lockf_release(struct lockf *lf, int pid);

/* Drop every lock (the file is gone). */
void lockf_free(struct lockf *lf);

/* Does any owner hold a lock here? */
static inline bool lockf_any(const struct lockf *lf)
{
	return lf->head != NULL;
}

#define LOCKF_WAITERS 64        /* processes of a node that can wait at once (MAX_PROCS) */

/**
 * lockf_wait_begin - pid is about to sleep until blocker lets go
 * Return: 0 (recorded); -EDEADLK if blocker waits, directly or through
 * others, for pid (nothing recorded); -ENOLCK if the table is full.
 */
int lockf_wait_begin(int pid, int blocker);

/* pid no longer waits. */
void lockf_wait_end(int pid);

#endif
