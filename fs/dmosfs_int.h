/*
 * What the three files of dmosfs share, and nothing else uses: this
 * node's mount (the cache handles, the disk's superblock, the one
 * transaction) and the calls between them. fs/dmosfs.c has the file
 * system's operations, its cache ops and mounting (its top comment is the
 * overview); fs/dmosfs_tx.c the transactions: cluster locks, the journal,
 * recovery and fencing; fs/dmosfs_info.c the counters and what a pool
 * region's failure does to the cache. Other folders use fs/dmosfs.h.
 *
 * Context (all of it): a process of this node in an operation (between
 * fs_enter and fs_leave, inside tx_run), or the kernel thread; one CPU, a
 * kernel that is not preempted: no locks against this node itself.
 */
#ifndef FS_DMOSFS_INT_H
#define FS_DMOSFS_INT_H

#include <stdbool.h>
#include <stdint.h>
#include "fs/fsops.h"
#include "fs/pcache.h"
#include "fs/vfs.h"
#include "kernel/kthread.h"

#define OPEN_TOMB       0xffffffffULL   /* an open-table entry that was freed */

struct dnode {
	struct vnode vn;                /* vn.priv points here */
	uint32_t gen;                   /* the inode's generation when the vnode was made */
	uint64_t seen;                  /* private cache: the inode lock's version its pages are of */
	int opens;                      /* descriptors open on it on this node */
	bool wrote;                     /* written through since the last close: mtime */
	struct dnode *next;             /* this node's vnodes of the file system */
};

struct txblk {
	uint32_t home;
	uint8_t *buf;                   /* FS_BLOCK bytes of kmalloc */
};

/* The one transaction of this node (fs_enter serialises them). */
struct tx {
	struct fsx x;                   /* first: the shared operations' handle */
	uint32_t n, cap;                /* blocks changed; most the journal holds */
	struct txblk *blk;              /* cap entries; buffers kept between transactions */
	uint32_t nbufs;                 /* buffers allocated in blk[] */
	uint16_t held[PCACHE_NLOCKS];   /* locks held, in the order taken */
	uint32_t nheld;
	uint8_t holds[PCACHE_NLOCKS / 8];
	int want;                       /* the lock to wait for before starting again, or -1 */
	bool recover;                   /* a lock was taken from a dead holder */
	bool bump;                      /* something changed: bump the held locks' versions */
	uint64_t seq;                   /* the journal's next sequence number */
};

/* ---- this node's mount (defined in fs/dmosfs.c) --------------------------------------- */

extern struct pcache dfs_pc;            /* this node's handle on the index (the pool's, or local) */
extern struct pcache dfs_shared;        /* the pool's area: locks, open table, counters */
extern bool dfs_private;                /* fscache=private: dfs_pc's index is in local memory */
extern bool dfs_cache_ok;               /* dfs_pc is attached */
extern const struct fs_super *dfs_sb;   /* the disk's, checked by fs_probe */
extern struct vfs dfs_vfs;
extern struct tx dfs_tx;                /* the one transaction of this node */
extern bool dfs_busy;                   /* a process is in an operation (fs_enter) */
extern uint64_t dfs_dead_pending;       /* nodes that died since the last recovery */
extern uint64_t dfs_dead_opens;         /* nodes whose open-table bits are to clear */
extern uint64_t dfs_crash_at, dfs_commits; /* fscrash=N: stop dead at the Nth commit point */
extern bool dfs_fenced;                 /* declared dead while alive: hands off the disk */

/* ---- fs/dmosfs.c, for the transactions ------------------------------------------------- */

int dfs_disk_read(uint32_t blk, void *buf);
int dfs_disk_write(uint32_t blk, uint32_t n, const void *buf);
bool dfs_alive(void *ctx, int node);            /* the cache's liveness op */
bool dfs_gone(void *ctx, uint64_t ppn);         /* the page's pool region failed */
int dfs_raw_get(struct fsx *x, uint32_t blk, const void **data, void **ref);
void dfs_raw_put(struct fsx *x, void *ref);
uint64_t dfs_now(struct fsx *x);                /* the realtime clock, for inode times */
/* Drop this node's cached pages of ino from page first on (ino 0: metadata). */
void dfs_drop_pages(uint32_t ino, uint32_t first);
/* A transaction: close the opens of the nodes in *(uint64_t *)arg. */
int64_t dfs_close_dead(struct tx *t, void *arg);

/* ---- fs/dmosfs_tx.c ---------------------------------------------------------------------- */

/*
 * tx_run - run fn(t, arg) as this node's transaction: started again from
 * nothing whenever it returns -EAGAIN for a lock (after waiting for it) or
 * a recovery; on success its changes commit, on an error they are dropped.
 * Context: a process, not in an operation. Return: fn's value, or the
 * commit's error.
 */
int64_t tx_run(int64_t (*fn)(struct tx *t, void *arg), void *arg);

/* A transaction's block ops: locked reads, node-local copies, the journal. */
extern const struct fsx_ops tx_ops;

/* The fsx change op of transactions: a node-local copy of blk to change. */
int tx_change(struct fsx *x, uint32_t blk, bool fresh, void **data);

/* The cluster lock that guards blk, and its version word (bumped by commits). */
uint32_t tx_lock_of(uint32_t blk);
uint64_t *tx_lock_version(uint32_t i);

/* Whether t still holds its locks and this node is still a member. */
bool tx_still_ours(const struct tx *t);

/* This node was taken for dead: stop touching the disk for good, say so (how). */
void tx_fence(const char *how);

/*
 * tx_replay_own - at mount, under the recovery lock: write home what this
 * node committed before it last went down. Return: 0, -EIO (lock wait).
 */
int tx_replay_own(void);

/* ---- fs/dmosfs_info.c -------------------------------------------------------------------- */

extern struct kwork dfs_publish_work;   /* the counters, published every second */

#endif
