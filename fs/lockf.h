/*
 * Byte-range locks of one node's files (POSIX record locks), for the file
 * systems whose files only this node sees (fs/ramfs.c): per file a list
 * of the ranges each owner holds, and this node's waits-for graph, to
 * refuse a wait that would deadlock. Private to fs/. The file system
 * sleeps and wakes its waiters itself; this file only keeps the lists, so
 * it builds unchanged for the host unit tests.
 *
 * The rules that decide what a lock does to the ranges already held (the
 * inline helpers below: overlap, conflict, cut, merge) are shared with the
 * cluster-wide table of dmosfs (fs/locktab.c), which keeps its ranges in
 * the pool instead of in lists.
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

/* ---- the rules, for every keeper of ranges ---------------------------------------- */

/* Do [s1, e1) and [s2, e2) share a byte? */
static inline bool lockf_overlap(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 < e2 && s2 < e1;
}

/* Does a range [start, end) of type held by pid keep lk from being granted? */
static inline bool lockf_conflicts(int pid, int type, uint64_t start, uint64_t end,
				   const struct vfs_lock *lk)
{
	return pid != lk->pid && lockf_overlap(start, end, lk->start, lk->end) &&
	       (type == DM_F_WRLCK || lk->type == DM_F_WRLCK);
}

/* Do two ranges of one owner and type touch, so that they merge into one? */
static inline bool lockf_touches(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return e1 == s2 || s1 == e2;
}

/* Does [start, end) hold [s, e) strictly inside, so that cutting it out splits it in two? */
static inline bool lockf_splits(uint64_t start, uint64_t end, uint64_t s, uint64_t e)
{
	return start < s && end > e;
}

enum lockf_cut { LOCKF_KEEP, LOCKF_SHRUNK, LOCKF_GONE, LOCKF_SPLIT };

/*
 * lockf_cut - take [cs, ce) out of an owner's range [*start, *end)
 * Return: LOCKF_KEEP (no overlap: unchanged), LOCKF_GONE (all of it goes),
 * LOCKF_SHRUNK (*start or *end moved), LOCKF_SPLIT (the hole is inside:
 * *end is now cs, and the tail [ce, old end) is left for the caller to
 * add, its end in *tail_end). The range never passes through an empty or
 * reversed state, so a reader that sees it half-updated sees a range.
 */
static inline enum lockf_cut lockf_cut(uint64_t *start, uint64_t *end, uint64_t cs, uint64_t ce,
				       uint64_t *tail_end)
{
	if (!lockf_overlap(*start, *end, cs, ce))
		return LOCKF_KEEP;
	if (lockf_splits(*start, *end, cs, ce)) {
		*tail_end = *end;
		*end = cs;
		return LOCKF_SPLIT;
	}
	if (*start < cs)
		*end = cs;
	else if (*end > ce)
		*start = ce;
	else
		return LOCKF_GONE;
	return LOCKF_SHRUNK;
}

/* ---- one node's files: lists --------------------------------------------------------- */

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
