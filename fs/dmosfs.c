/*
 * dmosfs, the cluster file system: the dmosfs image on the shared disk
 * (fs/format.h), mounted on every node (at "/", or at DMOSFS_MOUNT with
 * root=initrd: fs/dmosfs.h), its pages cached once for the whole cluster
 * in the pool (fs/pcache.h; docs/fs.md says why). A page one node has read
 * costs every other node a lookup in the pool and a copy, not a disk read.
 *
 * What is cached, and under which tag: a file's page i as PCACHE_TAG(ino,
 * i); every metadata block (the bitmaps, the inode table, directory and
 * indirect blocks) as the disk block it is, PCACHE_TAG(0, block). The
 * cache's pages are pool pages marked shared (PALLOC_F_SHARED): they
 * outlive the node that read them, and whichever node evicts one frees it.
 *
 * Changes. Every operation runs as a transaction (struct tx): the metadata
 * operations of fs/fsops.c, shared with the host tool, reach blocks through
 * the ops below, which take the block's cluster lock (one of the leases of
 * the cache's area, by a hash of the block number) before they read it and
 * keep node-local copies of what they change. A lock another node holds
 * while this transaction already holds others is not waited for: the
 * transaction lets go of everything and starts again (waiting for that
 * lock first), so transactions never deadlock. The commit writes the
 * copies to this node's journal, then its header (the commit point), then
 * installs them in the pool's cache and writes them home, then empties
 * the journal, and only then lets the locks go: metadata in the pool is
 * never dirty, and whoever takes a lock from a dead holder (the lease says
 * so) first replays the dead node's journal (replay_dead()).
 *
 * File data is not journaled. A write into blocks the file already has
 * copies into the cached pages and marks them dirty: background writeback
 * (any node: the pages are in the pool) and fsync write them. A write that
 * needs new blocks allocates them in its transaction and writes their
 * pages to the disk before the commit that links them, so no crash shows a
 * file stale bytes. Writes that grow a file hold its inode's lock, so
 * appenders on any nodes never overwrite each other.
 *
 * A file unlinked while open anywhere lives on as an orphan: the open-file
 * table beside the locks says which nodes have it open; the last close in
 * the cluster (or the recovery of the last dead node that had it) frees it.
 *
 * The baseline (fscache=private on the kernel command line): the same code
 * with the index in each node's local memory, filled with local frames, so
 * every node caches for itself, as a shared-disk file system such as GFS2
 * or OCFS2 does. The locks and the open-file table stay in the pool. It is
 * kept coherent the way those systems do it, by invalidating on lock
 * hand-over: every commit bumps a version word beside each lock it held
 * (in both modes), and a node in private mode that takes a lock whose
 * version moved since it last looked drops its cached metadata; its
 * cached pages of a file go when the version of the file's inode lock
 * moved since it read them. Writes are written through to the disk before
 * the lock goes, since no other node can see this node's memory. A node
 * that dies loses nothing only because of that write-through: with the
 * shared cache its dirty pages would still be in the pool.
 *
 * This node's view of a file is its vnode (inode number, type, and the
 * generation it was made for): every operation reads the inode afresh
 * under its lock, so nothing a vnode holds goes stale when other nodes
 * change the file. Operations of this node's processes run one at a time
 * (fs_enter): a node's own processes never contend for the cluster locks.
 */
#include "kernel/kernel.h"
#include "kernel/kthread.h"
#include "kernel/cluster/cluster.h"
#include "kernel/cluster/lease.h"
#include "kernel/cluster/pool.h"
#include "fs/blk.h"
#include "fs/clusterlk.h"
#include "fs/dmosfs.h"
#include "fs/format.h"
#include "fs/fsops.h"
#include "fs/pcache.h"
#include "fs/probe.h"
#include "fs/vfs.h"
#include "mm/mm.h"
#include "mm/palloc.h"
#include "mm/pmem.h"
#include "sched/sched.h"
#include "arch/arch.h"

#define RECOVERY_LOCK   (PCACHE_NLOCKS - 1)     /* journal replay; the others guard blocks */
#define LOCK_SPIN_NS    2000000ULL              /* spin this long for a lock, then yield */
#define LOCK_WAIT_NS    10000000000ULL          /* one live holder keeping it this long: -EIO */
#define WRITE_CHUNK     (256 * FS_BLOCK)        /* bytes one write transaction covers at most */
#define TRUNC_STEP      (32768ULL * FS_BLOCK)   /* bytes one truncate transaction frees at most */
#define STAGE_BLOCKS    16                      /* new data blocks written in one request */
#define OPEN_TOMB       0xffffffffULL           /* an open-table entry that was freed */
#define WRITEBACK_MS    500                     /* background writeback looks this often */
						/* (fswriteback=MS; 0: never, only fsync), */
#define WRITEBACK_BATCH 32                      /* and writes this many pages a slice */

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

static struct pcache pc;                /* this node's handle on the index (the pool's, or local) */
static struct pcache shared;            /* the pool's area: locks, open table, counters */
static bool private_cache;              /* fscache=private: pc's index is in local memory */
static uint64_t lockver[PCACHE_NLOCKS]; /* private cache: the versions its metadata is of */
static bool cache_ok;                   /* pc is attached */
static const struct fs_super *sb;       /* the disk's, checked by fs_probe */
static struct vfs dfs;
static struct dnode *vnodes;
static struct tx T;
static struct fsx raw;                  /* unlocked reads, for the cache's fills and writebacks */
static bool fs_busy;                    /* a process is in an operation (fs_enter) */
static uint64_t dead_pending;           /* nodes that died since the last recovery */
static uint64_t dead_opens;             /* nodes whose open-table bits are to clear */
static void *wb_bounce;                 /* FS_BLOCK bytes for writeback */
static uint8_t *stage;                  /* STAGE_BLOCKS blocks for new data */
static bool reclaiming;                 /* dmosfs_reclaim is running: no recursion */
static uint64_t crash_at, commits;      /* fscrash=N: stop dead at the Nth commit point */
static bool fenced;                     /* declared dead while alive: hands off the disk */

static struct dnode *D(struct vnode *vn)
{
	return vn->priv;
}

static uint64_t my_epoch(void)
{
	return __atomic_load_n(&pool.nodes[self.id].epoch, __ATOMIC_ACQUIRE);
}

static bool lease_alive(void *ctx, int node, uint64_t epoch)
{
	(void)ctx;
	return node_alive(node, epoch);
}

/* Lock i: a lease, then the version its commits bump, on one line. */
static struct lease *lock_at(uint32_t i)
{
	return (struct lease *)((uint8_t *)shared.locks + (uint64_t)i * 64);
}

static uint64_t *lock_version(uint32_t i)
{
	return (uint64_t *)lock_at(i) + 1;
}

/* ---- the cache's ops: pool pages and the disk ------------------------------------ */

static int64_t c_alloc(void *ctx)
{
	int64_t ppn;
	uint64_t pa;

	(void)ctx;
	if (private_cache) {            /* "ppn" is a local frame number */
		pa = frame_alloc(0);
		return pa == FRAME_NONE ? -ENOMEM : (int64_t)(pa >> PAGE_SHIFT);
	}
	reclaiming = true;              /* the cache evicts for itself: see pcache_get */
	ppn = pmem_alloc((uint32_t)proc_table()[0].pid);
	reclaiming = false;
	if (ppn >= 0 && palloc_share(pool.palloc, (uint64_t)ppn)) {
		pmem_free((uint64_t)ppn);
		return -ENOMEM;
	}
	return ppn;
}

static void c_free(void *ctx, uint64_t ppn)
{
	(void)ctx;
	if (private_cache)
		frame_free(ppn << PAGE_SHIFT, 0);
	else
		pmem_free(ppn);
}

static void *c_page(void *ctx, uint64_t ppn)
{
	(void)ctx;
	return private_cache ? phys_to_virt(ppn << PAGE_SHIFT) : pmem_page(ppn);
}

static int disk_read(uint32_t blk, void *buf)
{
	return blk_read(blk_disk(), (uint64_t)blk * FS_SECTORS_PER_BLOCK, FS_SECTORS_PER_BLOCK, buf);
}

static int disk_write(uint32_t blk, uint32_t n, const void *buf)
{
	return blk_write(blk_disk(), (uint64_t)blk * FS_SECTORS_PER_BLOCK,
			 (uint64_t)n * FS_SECTORS_PER_BLOCK, buf);
}

/* The disk block behind a cache tag (0: a hole), found without locks. */
static int tag_block(uint64_t tag, uint32_t *blk)
{
	uint32_t ino = PCACHE_TAG_INO(tag);
	struct fs_inode di;
	int err;

	*blk = PCACHE_TAG_INDEX(tag);
	if (!ino)
		return *blk && *blk < sb->nblocks ? 0 : -EIO;
	if ((err = fs_inode_get(&raw, ino, &di)))
		return err;
	return fs_bmap(&raw, ino, &di, PCACHE_TAG_INDEX(tag), blk);
}

/*
 * Fill pool page ppn with the block behind tag. The disk reads into a
 * buffer of local RAM, copied into the page afterwards: the driver takes
 * only local memory by pointer, and a pool page may move to another
 * device frame (a drain) while the request is in flight, which a DMA
 * straight into its frame would miss.
 */
static int c_read(void *ctx, uint64_t tag, uint64_t ppn)
{
	uint32_t blk;
	uint8_t *buf;
	int err;

	(void)ctx;
	if ((err = tag_block(tag, &blk)) || !blk)
		return err;             /* a hole: the page is zeroed */
	if (!(buf = kmalloc(FS_BLOCK)))
		return -ENOMEM;
	err = disk_read(blk, buf);
	if (!err) {
		void *page = c_page(NULL, ppn);

		memcpy(page, buf, FS_BLOCK);
		arch_pool_flush(page, FS_BLOCK);
	}
	kfree(buf);
	return err;
}

/* Write back a dirty file page (metadata is never dirty: commits write it). */
static int c_write(void *ctx, uint64_t tag, const void *buf)
{
	uint32_t blk;
	int err;

	(void)ctx;
	if (!PCACHE_TAG_INO(tag) || fenced)
		return -EIO;
	if ((err = tag_block(tag, &blk)))
		return err;
	return blk ? disk_write(blk, 1, buf) : 0;  /* no block: truncated away meanwhile */
}

static bool c_alive(void *ctx, int node)
{
	(void)ctx;
	return node == self.id || (pool.nodes && node >= 0 && node < MAX_NODES &&
				   __atomic_load_n(&pool.nodes[node].state, __ATOMIC_ACQUIRE) == NODE_UP);
}

/* Is pool page ppn in a region that failed (its bytes may be wiped)? */
static bool c_gone(void *ctx, uint64_t ppn)
{
	(void)ctx;
	return !private_cache && pmem_page_lost(ppn);
}

/* A slot another holds: let this node's processes run (one may hold it). */
static void c_relax(void *ctx)
{
	(void)ctx;
	if (sched_others_runnable())
		sched_yield();
	else
		arch_cpu_relax();
}

static const struct pcache_ops cache_ops = {
	.alloc = c_alloc, .free = c_free, .page = c_page, .read = c_read, .write = c_write,
	.alive = c_alive, .relax = c_relax, .gone = c_gone,
};

static struct kwork publish_work;      /* the counters' (below) */

/*
 * The private cache's index: as many sets as one per 16 frames of local
 * RAM, rounded down to a power of two. Return: 0, -ENOMEM.
 */
static int attach_private(uint16_t **pins, void *bounce)
{
	struct frame_stats fst;
	uint32_t nsets = 1;
	void *area;

	frame_stats(&fst);
	while ((uint64_t)nsets * 2 * 16 <= fst.total && nsets * 2 <= PCACHE_MAX_SETS)
		nsets *= 2;
	kfree(*pins);
	*pins = kzalloc((size_t)nsets * PCACHE_WAYS * sizeof(**pins));
	if (!*pins || !(area = kmalloc(pcache_area_size(nsets))) || pcache_format(area, nsets))
		return -ENOMEM;
	if (pcache_attach(&pc, area, self.id, &cache_ops, NULL, *pins, bounce))
		return -EINVAL;
	pc.st = shared.st;              /* the counters stay where the host reads them */
	return 0;
}

void dmosfs_attach_pool(void *area)
{
	const struct pcache_hdr *h = area;
	uint16_t *pins = kzalloc((size_t)h->nsets * PCACHE_WAYS * sizeof(*pins));
	void *bounce = kmalloc(FS_BLOCK);
	char v[16];
	int err = pins && bounce ? pcache_attach(&shared, area, self.id, &cache_ops, NULL, pins,
						 bounce) : -ENOMEM;

	private_cache = cmdline_get("fscache", v, sizeof(v)) && !strcmp(v, "private");
	if (!err && private_cache)
		err = attach_private(&pins, bounce);
	else if (!err)
		pc = shared;
	if (err) {
		printk("node %d: fs: cannot use the page cache in the pool (%d); no dmosfs\n",
		       self.id, err);
		kfree(pins);
		kfree(bounce);
		return;
	}
	cache_ok = true;
	pmem_set_reclaimer(dmosfs_reclaim);
	kthread_register(&publish_work);
}

/* ---- blocks for fs/fsops.c: unlocked reads ---------------------------------------- */

static int r_get(struct fsx *x, uint32_t blk, const void **data, void **ref)
{
	struct pcache_ref *r;
	int err;

	(void)x;
	if (!blk || blk >= sb->nblocks)
		return -EIO;
	if (!(r = kmalloc(sizeof(*r))))
		return -ENOMEM;
	if ((err = pcache_get(&pc, PCACHE_TAG(0, blk), 0, r))) {
		kfree(r);
		return err;
	}
	*data = r->data;
	*ref = r;
	return 0;
}

static void r_put(struct fsx *x, void *ref)
{
	(void)x;
	if (ref) {
		pcache_put(&pc, ref);
		kfree(ref);
	}
}

static int r_change(struct fsx *x, uint32_t blk, bool fresh, void **data)
{
	(void)x, (void)blk, (void)fresh, (void)data;
	return -EROFS;
}

static uint32_t r_room(struct fsx *x)
{
	(void)x;
	return 0;
}

static int r_commit(struct fsx *x)
{
	(void)x;
	return -EROFS;
}

static uint64_t now(struct fsx *x)
{
	(void)x;
	return (uint64_t)clock_realtime_ns();
}

static const struct fsx_ops raw_ops = {
	.get = r_get, .put = r_put, .change = r_change, .room = r_room, .commit = r_commit,
	.now = now,
};

/* ---- transactions: cluster locks and the journal ---------------------------------- */

static uint32_t lock_of(uint32_t blk)
{
	return (blk * 2654435761u >> 8) % RECOVERY_LOCK;
}

static bool holds(const struct tx *t, uint32_t l)
{
	return t->holds[l / 8] & (1u << (l % 8));
}

/*
 * Take lock l for t, waiting (spinning, then yielding the CPU) until its
 * holder lets go. Return: 0; -EIO when a live holder keeps it past
 * LOCK_WAIT_NS (said on the console).
 */
static void drop_pages(uint32_t ino, uint32_t first);

/*
 * Private cache: lock l was just taken; if another node committed under
 * it since this node last looked, its cached metadata may be stale: drop
 * all of it (coarser than one lock's blocks, but metadata is small) and
 * note every lock's version as of now.
 */
static void revalidate(uint32_t l)
{
	if (!private_cache || __atomic_load_n(lock_version(l), __ATOMIC_ACQUIRE) == lockver[l])
		return;
	drop_pages(0, 0);
	for (uint32_t i = 0; i < PCACHE_NLOCKS; i++)
		lockver[i] = __atomic_load_n(lock_version(i), __ATOMIC_ACQUIRE);
}

static int lock_wait(struct tx *t, uint32_t l)
{
	uint64_t start = arch_time_ns(), epoch, seen[2] = {
		__atomic_load_n(&lock_at(l)->word, __ATOMIC_ACQUIRE),
		__atomic_load_n(lock_version(l), __ATOMIC_ACQUIRE) };
	int r, holder = -1;

	while ((r = lease_acquire(lock_at(l), self.id, my_epoch(), lease_alive, NULL,
				  LOCK_SPIN_NS)) == -ETIMEDOUT) {
		uint64_t now[2] = { __atomic_load_n(&lock_at(l)->word, __ATOMIC_ACQUIRE),
				    __atomic_load_n(lock_version(l), __ATOMIC_ACQUIRE) };

		if (now[0] != seen[0] || now[1] != seen[1]) {   /* it changes hands: nobody is stuck */
			seen[0] = now[0];
			seen[1] = now[1];
			start = arch_time_ns();
		} else if (arch_time_ns() - start > LOCK_WAIT_NS) {
			lease_holder(lock_at(l), &holder, &epoch);
			printk("node %d: fs: lock %u held by node %d for over %llu s\n", self.id, l,
			       holder, LOCK_WAIT_NS / 1000000000ULL);
			return -EIO;
		}
		sched_yield();
	}
	if (r < 0)
		return r;
	if (r == LEASE_TAKEN_OVER)
		t->recover = true;
	t->holds[l / 8] |= (uint8_t)(1u << (l % 8));
	t->held[t->nheld++] = (uint16_t)l;
	revalidate(l);
	return 0;
}

/* Take the lock of blk: -EAGAIN (start again) when that needs waiting
 * while other locks are held, or when it came from a dead holder. */
static int tx_lock(struct tx *t, uint32_t blk)
{
	uint32_t l = lock_of(blk);
	int r;

	if (holds(t, l))
		return 0;
	if (t->nheld) {
		r = lease_acquire(lock_at(l), self.id, my_epoch(), lease_alive, NULL, 0);
		if (r == -EBUSY) {
			t->want = (int)l;
			return -EAGAIN;
		}
		if (r < 0)
			return r;
		t->holds[l / 8] |= (uint8_t)(1u << (l % 8));
		t->held[t->nheld++] = (uint16_t)l;
		if (r == LEASE_TAKEN_OVER)
			t->recover = true;
		revalidate(l);
	} else if ((r = lock_wait(t, l))) {
		return r;
	}
	return t->recover ? -EAGAIN : 0;
}

/*
 * This node was declared dead by the others while it still ran (its
 * heartbeat stopped too long: a stall, a load spike): they broke its
 * locks and replayed its journal, so nothing it does to the shared disk
 * from now on can be trusted. It stops writing it for good; its file
 * system calls fail with EIO. Context: any.
 */
static void fence(const char *how)
{
	if (!fenced)
		printk("node %d: fs: %s: this node was taken for dead; it no longer writes the "
		       "shared disk (every file system call fails with EIO until it reboots)\n",
		       self.id, how);
	fenced = true;
}

/* Are all of t's locks still this node's, and this node still a member? */
static bool still_ours(const struct tx *t)
{
	int node;
	uint64_t epoch;

	if (__atomic_load_n(&pool.nodes[self.id].state, __ATOMIC_ACQUIRE) != NODE_UP)
		return false;
	for (uint32_t i = 0; i < t->nheld; i++)
		if (!lease_holder(lock_at(t->held[i]), &node, &epoch) || node != self.id ||
		    epoch != my_epoch())
			return false;
	return true;
}

static void unlock_all(struct tx *t)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	while (t->nheld) {
		uint32_t l = t->held[--t->nheld];

		if (t->bump) {          /* what it guards changed: other nodes' copies are stale */
			uint64_t v = __atomic_add_fetch(lock_version(l), 1, __ATOMIC_ACQ_REL);

			arch_pool_flush(lock_version(l), 8);
			if (private_cache)
				lockver[l] = v; /* this node's own copies are current */
		}
		if (lease_release(lock_at(l), self.id, my_epoch()) == -EPERM)
			fence("a lock it held was broken");
		t->holds[l / 8] &= (uint8_t)~(1u << (l % 8));
	}
}

static struct txblk *tx_find(struct tx *t, uint32_t blk)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (t->blk[i].home == blk)
			return &t->blk[i];
	return NULL;
}

static int t_get(struct fsx *x, uint32_t blk, const void **data, void **ref)
{
	struct tx *t = (struct tx *)x;
	struct txblk *b;
	int err;

	if (!blk || blk >= sb->nblocks)
		return fsx_err(x, -EIO, "block %u is past the end: run dmosfs fsck", blk);
	if ((err = tx_lock(t, blk)))
		return err;
	if ((b = tx_find(t, blk))) {
		*data = b->buf;
		*ref = NULL;
		return 0;
	}
	return r_get(x, blk, data, ref);
}

static int t_change(struct fsx *x, uint32_t blk, bool fresh, void **data)
{
	struct tx *t = (struct tx *)x;
	struct txblk *b;
	const void *src;
	void *ref;
	bool gone;
	int err;

	if (blk < sb->ibitmap_start || blk >= sb->nblocks)
		return fsx_err(x, -EIO, "block %u cannot be journaled", blk);
	if ((err = tx_lock(t, blk)))
		return err;
	if (!(b = tx_find(t, blk))) {
		if (!t->cap)
			return fsx_err(x, -EROFS, "this node has no journal: mounted read only");
		if (t->n == t->cap)
			return fsx_err(x, -ENOSPC, "the change does not fit in a journal (%u blocks)",
				       t->cap);
		b = &t->blk[t->n];
		if (!b->buf) {
			if (!(b->buf = kmalloc(FS_BLOCK)))
				return -ENOMEM;
			t->nbufs++;
		}
		if (!fresh) {
			if ((err = r_get(x, blk, &src, &ref)))
				return err;
			memcpy(b->buf, src, FS_BLOCK);
			gone = c_gone(NULL, PCACHE_FRAME_PPN(__atomic_load_n(
				&pc.frames[((struct pcache_ref *)ref)->slot], __ATOMIC_ACQUIRE)));
			r_put(x, ref);
			if (gone)       /* a failed region's wiped bytes: not into the journal */
				return fsx_err(x, -EIO, "block %u was in a failed pool region", blk);
		}
		b->home = blk;
		t->n++;
	}
	if (fresh)
		memset(b->buf, 0, FS_BLOCK);
	*data = b->buf;
	return 0;
}

static uint32_t t_room(struct fsx *x)
{
	struct tx *t = (struct tx *)x;

	return t->cap - t->n;
}

/* Put block b's new bytes in the pool's cache: the page is overwritten whole. */
static int install(uint32_t home, const void *buf)
{
	struct pcache_ref ref;
	int err = pcache_get(&pc, PCACHE_TAG(0, home), PCACHE_NOREAD, &ref);

	if (err)
		return err;
	memcpy(ref.data, buf, FS_BLOCK);
	arch_pool_flush(ref.data, FS_BLOCK);
	pcache_put(&pc, &ref);
	return 0;
}

/*
 * Commit: the blocks to the journal, the header naming them (the commit
 * point), the blocks into the cache and home, the empty header. The locks
 * stay held. A failure before the commit point leaves nothing changed
 * (-EIO to the caller); after it, the journal holds the transaction and
 * the node must not go on writing: the disk is failing (said on the console).
 */
static int t_commit(struct fsx *x)
{
	struct tx *t = (struct tx *)x;
	uint32_t at = fs_journal_block(sb, (uint32_t)self.id), crc = 0;
	struct fs_journal_head *h;
	int err = 0;

	if (!t->n)
		return 0;
	if (fenced || !still_ours(t)) {
		fence("at a commit");
		t->n = 0;
		return -EIO;
	}
	if (!(h = kmalloc(sizeof(*h))))
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n && !err; i++) {
		err = disk_write(at + 1 + i, 1, t->blk[i].buf);
		crc = crc32c(crc, t->blk[i].buf, FS_BLOCK);
	}
	if (!err && !still_ours(t)) {   /* the journal's blocks took a while: look again */
		fence("at a commit");
		err = -EIO;
	}
	if (!err) {
		fs_journal_empty(sb, (uint32_t)self.id, t->seq, h);
		h->nblocks = t->n;
		h->data_csum = crc;
		for (uint32_t i = 0; i < t->n; i++)
			h->home[i] = t->blk[i].home;
		h->csum = fs_journal_csum(h);
		err = disk_write(at, 1, h);
	}
	if (err) {
		kfree(h);
		t->n = 0;
		return fsx_err(x, -EIO, "journal write failed (%d): nothing changed", err);
	}
	if (crash_at && ++commits == crash_at) {
		printk("node %d: fs: fscrash=%lu: stopping dead after the commit point of "
		       "transaction %lu (%u blocks)\n", self.id, crash_at, t->seq, t->n);
		arch_halt();            /* a power cut: no heartbeat, nothing let go */
	}
	for (uint32_t i = 0; i < t->n && !err; i++)
		if (!(err = install(t->blk[i].home, t->blk[i].buf)))
			err = disk_write(t->blk[i].home, 1, t->blk[i].buf);
	if (!err) {
		fs_journal_empty(sb, (uint32_t)self.id, t->seq + 1, h);
		err = disk_write(at, 1, h);
	}
	kfree(h);
	t->n = 0;
	t->seq++;
	t->bump = true;
	if (err)
		printk("node %d: fs: a committed transaction could not be written home (%d); "
		       "its journal replays it\n", self.id, err);
	return err ? -EIO : 0;
}

static const struct fsx_ops tx_ops = {
	.get = t_get, .put = r_put, .change = t_change, .room = t_room, .commit = t_commit,
	.now = now,
};

static void fs_enter(void)
{
	while (fs_busy)
		sched_sleep(&fs_busy, 0);
	fs_busy = true;
}

static void fs_leave(void)
{
	fs_busy = false;
	sched_wakeup(&fs_busy);
}

static void replay_dead(struct tx *t);
static void close_dead_opens(void);

/*
 * Run fn(t, arg) as a transaction: started again from nothing whenever it
 * returns -EAGAIN for a lock (after waiting for it) or a recovery; on
 * success its changes commit, on an error they are dropped.
 * Return: fn's value, or the commit's error.
 */
static int64_t run(int64_t (*fn)(struct tx *t, void *arg), void *arg)
{
	struct tx *t = &T;
	int64_t r;

	fs_enter();
	if (fenced) {
		fs_leave();
		return -EIO;
	}
	if (dead_pending) {
		replay_dead(t);
		close_dead_opens();
	}
	for (;;) {
		t->n = 0;
		t->want = -1;
		t->bump = false;
		t->x.why[0] = 0;
		t->x.bhint = sb->data_start + (uint32_t)((uint64_t)(sb->nblocks - sb->data_start) *
							 (uint32_t)self.id / MAX_NODES);
		r = fn(t, arg);
		if (r == -EAGAIN && (t->want >= 0 || t->recover)) {
			int want = t->want;

			t->n = 0;
			t->bump = false;
			if (t->recover)         /* holding the lock a dead node held */
				replay_dead(t);
			unlock_all(t);
			if (want >= 0 && !lock_wait(t, (uint32_t)want) && t->recover)
				replay_dead(t); /* that one came from a dead holder: keep it */
			if (dead_opens) {
				unlock_all(t);
				close_dead_opens();
			}
			continue;
		}
		if (r >= 0) {
			int err = t_commit(&t->x);

			if (err)
				r = err;
		}
		if (r == -EIO && t->x.why[0])
			printk("node %d: fs: %s\n", self.id, t->x.why);
		t->n = 0;
		unlock_all(t);
		fs_leave();
		return r;
	}
}

/* ---- recovery: what dead nodes left ------------------------------------------------- */

static int rd_block(void *ctx, uint32_t blk, void *buf)
{
	(void)ctx;
	return disk_read(blk, buf);
}

/* Replay writes a block home and into the cache, so nobody reads it stale. */
static int wr_block(void *ctx, uint32_t blk, const void *buf)
{
	int err = disk_write(blk, 1, buf);

	if (!err && ctx && blk >= sb->ibitmap_start)
		err = install(blk, buf);
	return err;
}

/* Replay journal slot's committed transaction, if it has one. */
static void replay_slot(uint32_t slot, bool cached)
{
	char why[160];
	void *scratch = kmalloc(2 * FS_BLOCK);
	int n;

	if (!scratch) {
		printk("node %d: fs: no memory to look at journal %u\n", self.id, slot);
		return;
	}
	n = fs_journal_replay(sb, slot, rd_block, wr_block, cached ? &pc : NULL, scratch, why,
			      sizeof(why));
	kfree(scratch);
	if (n < 0)
		printk("node %d: fs: journal %u not replayed (%d): %s\n", self.id, slot, n, why);
	else if (n)
		printk("node %d: fs: journal %u: %s\n", self.id, slot, why);
}

static int64_t close_dead(struct tx *t, void *arg);


/*
 * Under the recovery lock: replay the journal of every node slot that is
 * not alive (what a dead node committed but had not written home). The
 * caller may hold locks (the one it took from a dead holder: nobody else
 * may use what it guards before the replay); the recovery lock's holder
 * never waits for another lock, so this cannot deadlock. The dead nodes'
 * opens are left for close_dead_opens(). Context: a process, in fs_enter.
 */
static void replay_dead(struct tx *t)
{
	t->recover = false;
	if (lock_wait(t, RECOVERY_LOCK))
		return;
	t->recover = false;             /* a dead recoverer: its replay is redone here */
	for (uint32_t j = 0; j < sb->njournals && j < MAX_NODES; j++)
		if ((int)j != self.id && !c_alive(NULL, (int)j)) {
			replay_slot(j, true);
			dead_opens |= 1ULL << j;
		}
	lease_release(lock_at(RECOVERY_LOCK), self.id, my_epoch());
	t->holds[RECOVERY_LOCK / 8] &= (uint8_t)~(1u << (RECOVERY_LOCK % 8));
	for (uint32_t i = 0; i < t->nheld; i++)
		if (t->held[i] == RECOVERY_LOCK)
			t->held[i] = t->held[--t->nheld];
	dead_pending = 0;
}

/*
 * Take the dead nodes out of the open-file table, freeing the orphans
 * only they held open (a transaction each). Context: a process, in
 * fs_enter, holding no lock.
 */
static void close_dead_opens(void)
{
	uint64_t dead = dead_opens;

	dead_opens = 0;
	for (uint32_t i = 0; dead && i < PCACHE_NOPENS; i++) {
		uint64_t ino = __atomic_load_n(&shared.opens[2 * i], __ATOMIC_ACQUIRE);

		if (ino && ino != OPEN_TOMB && (__atomic_load_n(&shared.opens[2 * i + 1],
								__ATOMIC_ACQUIRE) & dead)) {
			uint64_t a[2] = { ino, dead };

			fs_busy = false;        /* run() enters again */
			run(close_dead, a);
			fs_busy = true;
		}
	}
}

/* ---- vnodes ------------------------------------------------------------------------- */

static int vnew(uint32_t ino, const struct fs_inode *di, struct vnode **out)
{
	uint32_t type = di->mode & FS_S_IFMT;
	struct dnode *d;

	if (type != FS_S_IFREG && type != FS_S_IFDIR) {
		printk("node %d: fs: inode %u is named but not in use (mode 0%o); run fsck\n",
		       self.id, ino, di->mode);
		return -EIO;
	}
	if (!(d = kzalloc(sizeof(*d))))
		return -ENOMEM;
	d->gen = di->generation;
	d->vn = (struct vnode){ &dfs, d, ino, type == FS_S_IFDIR ? VN_DIR : VN_REG, 1 };
	d->next = vnodes;
	vnodes = d;
	*out = &d->vn;
	return 0;
}

/* The vnode of inode ino as *di says it is now. */
static int vget(uint32_t ino, const struct fs_inode *di, struct vnode **out)
{
	for (struct dnode *d = vnodes; d; d = d->next)
		if (d->vn.ino == ino && d->gen == di->generation) {
			*out = vref(&d->vn);
			return 0;
		}
	return vnew(ino, di, out);
}

static void d_inactive(struct vnode *vn)
{
	struct dnode **pp = &vnodes;

	while (*pp != D(vn))
		pp = &(*pp)->next;
	*pp = D(vn)->next;
	kfree(D(vn));
}

/* The inode behind vn, under its lock: -ENOENT if it was removed (and its
 * number perhaps reused) since the vnode was made. */
static int iget(struct tx *t, struct vnode *vn, struct fs_inode *ip)
{
	int err = fs_inode_get(&t->x, (uint32_t)vn->ino, ip);

	if (err)
		return err;
	if (!ip->mode || ip->generation != D(vn)->gen)
		return -ENOENT;
	return 0;
}

/* ---- the open-file table ------------------------------------------------------------ */

/* The entry of ino (insert: or a free one for it), under ino's inode lock. */
static uint64_t *open_entry(uint32_t ino, bool insert)
{
	uint32_t h = (ino * 2654435761u) % PCACHE_NOPENS;
	uint64_t *spare = NULL;

	for (uint32_t k = 0; k < PCACHE_NOPENS; k++) {
		uint64_t *e = &shared.opens[2 * ((h + k) % PCACHE_NOPENS)];
		uint64_t v = __atomic_load_n(e, __ATOMIC_ACQUIRE);

		if (v == ino)
			return e;
		if (v == OPEN_TOMB && !spare)
			spare = e;
		if (!v)
			return insert ? (spare ? spare : e) : NULL;
	}
	return insert ? spare : NULL;
}

/* The nodes that have ino open (0: none). */
static uint64_t open_mask(uint32_t ino)
{
	uint64_t *e = open_entry(ino, false);

	return e ? __atomic_load_n(&e[1], __ATOMIC_ACQUIRE) : 0;
}

/* Take bits out of ino's entry; the entry goes with its last bit. Return: the mask left. */
static uint64_t open_clear(uint32_t ino, uint64_t bits)
{
	uint64_t *e = open_entry(ino, false), left;

	if (!e)
		return 0;
	left = __atomic_and_fetch(&e[1], ~bits, __ATOMIC_ACQ_REL);
	if (!left)
		__atomic_store_n(&e[0], OPEN_TOMB, __ATOMIC_RELEASE);
	arch_pool_flush(e, 16);
	return left;
}

/* ---- freeing files ------------------------------------------------------------------- */

/* Forget every cached page of ino from page first on, waiting out pins. */
static void drop_pages(uint32_t ino, uint32_t first)
{
	for (int tries = 0; pcache_drop(&pc, ino, first) == -EBUSY; tries++) {
		if (tries == 1000) {
			printk("node %d: fs: pages of inode %u stay pinned; dropped what could be\n",
			       self.id, ino);
			return;
		}
		sched_yield();
	}
}

/* ino lost its last name: free it now, or leave an orphan for its last close. */
static int unlinked(struct tx *t, uint32_t ino, struct fs_inode *ip)
{
	ip->ctime_ns = now(&t->x);
	if (open_mask(ino)) {
		ip->flags |= FS_INODE_ORPHAN;
		return fs_inode_put(&t->x, ino, ip);
	}
	drop_pages(ino, 0);
	ip->flags |= FS_INODE_ORPHAN;   /* a commit half-way leaves an orphan */
	return fs_inode_destroy(&t->x, ino, ip);
}

static int64_t close_dead(struct tx *t, void *arg)
{
	uint64_t *a = arg;
	uint32_t ino = (uint32_t)a[0];
	struct fs_inode ip;
	int err = fs_inode_get(&t->x, ino, &ip);

	if (err)
		return err;
	if (open_clear(ino, a[1]) || ip.nlink || !ip.mode)
		return 0;
	printk("node %d: fs: inode %u, unlinked while dead nodes had it open, freed\n",
	       self.id, ino);
	drop_pages(ino, 0);
	return fs_inode_destroy(&t->x, ino, &ip);
}

/* ---- directories ----------------------------------------------------------------------- */

struct dirop {
	struct vnode *dir, *dir2;
	const char *name, *name2;
	uint32_t mode;
	bool excl;
	struct vnode **out;
	uint64_t *pos;
	struct vfs_dirent *de;
};

/* The inode that name names in dir (whose inode is *dip): fills *ip. */
static int dir_find(struct tx *t, struct vnode *dir, const struct fs_inode *dip, const char *name,
		    uint32_t *ino, struct fs_inode *ip, struct fs_dirloc *at)
{
	int err;

	if (!strcmp(name, "..")) {
		uint64_t pos = 1;
		struct fs_dirent de;

		if ((err = fs_dir_next(&t->x, (uint32_t)dir->ino, dip, &pos, &de)) < 0)
			return err;
		if (err == 0 || pos != 2)
			return fsx_err(&t->x, -EIO, "directory %lu has no '..': run dmosfs fsck",
				       (unsigned long)dir->ino);
		*ino = de.ino;
	} else if ((err = fs_dir_lookup(&t->x, (uint32_t)dir->ino, dip, name, strlen(name), ino,
					at))) {
		return err;
	}
	return fs_inode_get(&t->x, *ino, ip);
}

static int64_t lookup_fn(struct tx *t, void *arg)
{
	struct dirop *o = arg;
	struct fs_inode dip, ip;
	uint32_t ino;
	int err;

	if ((err = iget(t, o->dir, &dip)) || (err = dir_find(t, o->dir, &dip, o->name, &ino, &ip, NULL)))
		return err;
	return vget(ino, &ip, o->out);
}

static int d_lookup(struct vnode *dir, const char *name, struct vnode **out)
{
	struct dirop o = { .dir = dir, .name = name, .out = out };

	if (dir->type != VN_DIR)
		return -ENOTDIR;
	return (int)run(lookup_fn, &o);
}

static int64_t readdir_fn(struct tx *t, void *arg)
{
	struct dirop *o = arg;
	struct fs_inode dip;
	struct fs_dirent de;
	int r;

	if ((r = iget(t, o->dir, &dip)) ||
	    (r = fs_dir_next(&t->x, (uint32_t)o->dir->ino, &dip, o->pos, &de)) <= 0)
		return r;
	o->de->ino = de.ino;
	o->de->type = de.type == FS_DT_DIR ? DM_DT_DIR : DM_DT_REG;
	o->de->namelen = de.namelen;
	memcpy(o->de->name, de.name, de.namelen);
	o->de->name[de.namelen] = 0;
	return 1;
}

/* Positions are record numbers: stable while other records come and go. */
static int d_readdir(struct vnode *dir, uint64_t *pos, struct vfs_dirent *de)
{
	struct dirop o = { .dir = dir, .pos = pos, .de = de };
	uint64_t p = *pos;
	int r;

	if (dir->type != VN_DIR)
		return -ENOTDIR;
	o.pos = &p;
	r = (int)run(readdir_fn, &o);
	if (r > 0)
		*pos = p;
	return r;
}

/* A new inode: a file, or a directory with its first block (".", ".."). */
static int make_inode(struct tx *t, uint32_t parent, uint32_t mode, uint32_t *ino,
		      struct fs_inode *ip)
{
	uint64_t tm = now(&t->x);
	struct fs_dirent *d;
	uint32_t blk;
	int err;

	t->x.ihint = FS_ROOT_INO + 1 + (uint32_t)((uint64_t)(sb->ninodes - FS_ROOT_INO - 1) *
						   (uint32_t)self.id / MAX_NODES);
	if ((err = fs_ialloc(&t->x, ino)) || (err = fs_inode_get(&t->x, *ino, ip)))
		return err;
	*ip = (struct fs_inode){ .mode = (uint16_t)mode, .nlink = 1, .atime_ns = tm,
		.mtime_ns = tm, .ctime_ns = tm, .generation = ip->generation + 1 };
	if ((mode & FS_S_IFMT) == FS_S_IFDIR) {
		if ((err = fs_balloc(&t->x, &blk)) || (err = t_change(&t->x, blk, true, (void **)&d)))
			return err;
		d[0] = (struct fs_dirent){ .ino = *ino, .type = FS_DT_DIR, .namelen = 1, .name = "." };
		d[1] = (struct fs_dirent){ .ino = parent, .type = FS_DT_DIR, .namelen = 2,
			.name = ".." };
		ip->nlink = 2;
		ip->size = FS_BLOCK;
		ip->direct[0] = blk;
		ip->nblocks = 1;
	}
	return fs_inode_put(&t->x, *ino, ip);
}

static int64_t create_fn(struct tx *t, void *arg)
{
	struct dirop *o = arg;
	bool dir = o->out == NULL;
	struct fs_inode dip, ip;
	uint32_t ino;
	int err;

	if ((err = iget(t, o->dir, &dip)))
		return err;
	err = dir_find(t, o->dir, &dip, o->name, &ino, &ip, NULL);
	if (!err) {
		if (dir || o->excl)
			return -EEXIST;
		if ((ip.mode & FS_S_IFMT) == FS_S_IFDIR)
			return -EISDIR;
		return vget(ino, &ip, o->out);
	}
	if (err != -ENOENT)
		return err;
	if (!fs_valid_name(o->name, strlen(o->name)))
		return -EINVAL;
	if (dir && dip.nlink == 0xffff)
		return -EMLINK;
	if ((err = make_inode(t, (uint32_t)o->dir->ino, (dir ? FS_S_IFDIR : FS_S_IFREG) |
			      (o->mode & FS_S_IPERM), &ino, &ip)) ||
	    (err = fs_dir_add(&t->x, (uint32_t)o->dir->ino, &dip, o->name, strlen(o->name), ino,
			      dir ? FS_DT_DIR : FS_DT_REG)))
		return err;
	if (dir)
		dip.nlink++;
	if ((err = fs_inode_put(&t->x, (uint32_t)o->dir->ino, &dip)))
		return err;
	drop_pages(ino, 0);             /* nothing of an earlier user of the number */
	return dir ? 0 : vget(ino, &ip, o->out);
}

static int d_create(struct vnode *dir, const char *name, uint32_t mode, bool excl,
		    struct vnode **out)
{
	struct dirop o = { .dir = dir, .name = name, .mode = mode, .excl = excl, .out = out };
	int r = (int)run(create_fn, &o);

	return r > 0 ? 0 : r;
}

static int d_mkdir(struct vnode *dir, const char *name, uint32_t mode)
{
	struct dirop o = { .dir = dir, .name = name, .mode = mode };

	return (int)run(create_fn, &o);
}

/* Remove name from dir: a file (rmdir false) or an empty directory. */
static int64_t remove_fn(struct tx *t, void *arg)
{
	struct dirop *o = arg;
	bool rmdir = o->mode;
	struct fs_inode dip, ip;
	struct fs_dirloc at;
	uint32_t ino;
	int err;

	if ((err = iget(t, o->dir, &dip)) ||
	    (err = dir_find(t, o->dir, &dip, o->name, &ino, &ip, &at)))
		return err;
	if (!rmdir && (ip.mode & FS_S_IFMT) == FS_S_IFDIR)
		return -EISDIR;
	if (rmdir) {
		if ((ip.mode & FS_S_IFMT) != FS_S_IFDIR)
			return -ENOTDIR;
		if ((err = fs_dir_empty(&t->x, ino, &ip)) <= 0)
			return err ? err : -ENOTEMPTY;
	}
	if ((err = fs_dir_remove(&t->x, &at)))
		return err;
	dip.mtime_ns = dip.ctime_ns = now(&t->x);
	if (rmdir) {
		dip.nlink--;
		ip.nlink = 0;
	} else {
		ip.nlink--;
	}
	if ((err = fs_inode_put(&t->x, (uint32_t)o->dir->ino, &dip)))
		return err;
	if (ip.nlink)
		return fs_inode_put(&t->x, ino, &ip);
	return unlinked(t, ino, &ip);
}

static int d_unlink(struct vnode *dir, const char *name)
{
	struct dirop o = { .dir = dir, .name = name, .mode = 0 };

	return (int)run(remove_fn, &o);
}

static int d_rmdir(struct vnode *dir, const char *name)
{
	struct dirop o = { .dir = dir, .name = name, .mode = 1 };

	return (int)run(remove_fn, &o);
}

/* Is directory ino dir itself or below it? Walks ".." from dir up to the root. */
static int below(struct tx *t, uint32_t ino, uint32_t dir)
{
	for (int depth = 0; depth < 4096; depth++) {
		struct fs_inode dip;
		struct fs_dirent de;
		uint64_t pos = 1;
		int err;

		if (dir == ino)
			return 1;
		if (dir == FS_ROOT_INO)
			return 0;
		if ((err = fs_inode_get(&t->x, dir, &dip)) ||
		    (err = fs_dir_next(&t->x, dir, &dip, &pos, &de)) < 0)
			return err;
		if (!err)
			return -EIO;
		dir = de.ino;
	}
	return fsx_err(&t->x, -EIO, "directories nest deeper than 4096: a cycle? run dmosfs fsck");
}

static int64_t rename_fn(struct tx *t, void *arg)
{
	struct dirop *o = arg;
	uint32_t odino = (uint32_t)o->dir->ino, ndino = (uint32_t)o->dir2->ino, ino, nino;
	struct fs_inode od, nd, ip, nip, *ndp = odino == ndino ? &od : &nd;
	struct fs_dirloc oat, nat;
	bool isdir, replace;
	int err;

	if ((err = iget(t, o->dir, &od)) || (ndp == &nd && (err = iget(t, o->dir2, &nd))) ||
	    (err = dir_find(t, o->dir, &od, o->name, &ino, &ip, &oat)))
		return err;
	isdir = (ip.mode & FS_S_IFMT) == FS_S_IFDIR;
	err = dir_find(t, o->dir2, ndp, o->name2, &nino, &nip, &nat);
	if (err && err != -ENOENT)
		return err;
	if (!err && nino == ino)
		return 0;
	replace = !err;
	if (isdir && odino != ndino && (err = below(t, ino, ndino)))
		return err < 0 ? err : -EINVAL;
	if (!fs_valid_name(o->name2, strlen(o->name2)))
		return -EINVAL;
	if (replace) {                  /* nino goes */
		bool ndir = (nip.mode & FS_S_IFMT) == FS_S_IFDIR;

		if (isdir && !ndir)
			return -ENOTDIR;
		if (!isdir && ndir)
			return -EISDIR;
		if (ndir && (err = fs_dir_empty(&t->x, nino, &nip)) <= 0)
			return err ? err : -ENOTEMPTY;
		if ((err = fs_dir_set(&t->x, &nat, ino, isdir ? FS_DT_DIR : FS_DT_REG)))
			return err;
		if (ndir) {
			ndp->nlink--;
			nip.nlink = 0;
		} else {
			nip.nlink--;
		}
	} else if ((err = fs_dir_add(&t->x, ndino, ndp, o->name2, strlen(o->name2), ino,
				     isdir ? FS_DT_DIR : FS_DT_REG))) {
		return err;
	}
	if ((err = fs_dir_remove(&t->x, &oat)))
		return err;
	if (isdir && odino != ndino) {
		struct fs_dirloc dotdot = { ip.direct[0], 1 };

		if (!dotdot.blk)
			return fsx_err(&t->x, -EIO, "directory %u has no first block", ino);
		if ((err = fs_dir_set(&t->x, &dotdot, ndino, FS_DT_DIR)))
			return err;
		od.nlink--;
		nd.nlink++;
	}
	od.mtime_ns = od.ctime_ns = ndp->mtime_ns = ndp->ctime_ns = ip.ctime_ns = now(&t->x);
	if ((err = fs_inode_put(&t->x, odino, &od)) ||
	    (ndp == &nd && (err = fs_inode_put(&t->x, ndino, &nd))) ||
	    (err = fs_inode_put(&t->x, ino, &ip)))
		return err;
	if (!replace)
		return 0;
	if (nip.nlink)
		return fs_inode_put(&t->x, nino, &nip);
	return unlinked(t, nino, &nip);
}

static int d_rename(struct vnode *odir, const char *oname, struct vnode *ndir, const char *nname)
{
	struct dirop o = { .dir = odir, .name = oname, .dir2 = ndir, .name2 = nname };

	return (int)run(rename_fn, &o);
}

/* ---- files ---------------------------------------------------------------------------- */

struct fileop {
	struct vnode *vn;
	uint64_t off, size;
	const struct uio *u;
	bool append;
	int flags;
	struct dm_stat *st;
	const struct vattr *va;
};

/*
 * Private cache: the file's cached pages are of the version of its inode
 * lock this node last saw; if another node committed or wrote through
 * under that lock since, they may be stale: drop them. Context: the
 * inode's lock is held (iget), so the version cannot move meanwhile.
 */
static void fresh_pages(struct tx *t, struct vnode *vn)
{
	uint32_t blk;
	uint64_t v;

	if (!private_cache || fs_inode_block(&t->x, (uint32_t)vn->ino, &blk))
		return;
	v = __atomic_load_n(lock_version(lock_of(blk)), __ATOMIC_ACQUIRE);
	if (D(vn)->seen != v) {
		drop_pages((uint32_t)vn->ino, 0);
		D(vn)->seen = v;
	}
}

static int64_t size_fn(struct tx *t, void *arg)
{
	struct fileop *o = arg;
	struct fs_inode ip;
	int err = iget(t, o->vn, &ip);

	if (err)
		return err;
	o->size = ip.size;
	fresh_pages(t, o->vn);
	return 0;
}

/* Straight from the pinned pool page to the reader's buffer: one copy. */
static int64_t d_read(struct vnode *vn, uint64_t off, const struct uio *u)
{
	struct fileop o = { .vn = vn };
	uint64_t n, done = 0;
	int err;

	if (vn->type == VN_DIR)
		return -EISDIR;
	if ((err = (int)run(size_fn, &o)))
		return err;
	if (off >= o.size)
		return 0;
	n = MIN(u->len, o.size - off);
	while (done < n) {
		uint64_t at = off + done, in = at % FS_BLOCK, k = MIN(FS_BLOCK - in, n - done);
		struct pcache_ref ref;

		err = pcache_get(&pc, PCACHE_TAG(vn->ino, at / FS_BLOCK), 0, &ref);
		if (!err) {
			err = uio_copyout(u, done, (const uint8_t *)ref.data + in, k);
			pcache_put(&pc, &ref);
		}
		if (err)
			return done ? (int64_t)done : err;
		done += k;
	}
	return (int64_t)done;
}

/* New blocks of a write, staged to go to the disk in one request each run. */
struct staging {
	uint32_t first, n;              /* the run of blocks in stage[] */
};

static int stage_flush(struct staging *g)
{
	int err = g->n ? disk_write(g->first, g->n, stage) : 0;

	g->n = 0;
	return err;
}

static int stage_add(struct staging *g, uint32_t blk, const void *page)
{
	int err = 0;

	if (g->n && (g->first + g->n != blk || g->n == STAGE_BLOCKS))
		err = stage_flush(g);
	if (!g->n)
		g->first = blk;
	memcpy(stage + (uint64_t)g->n++ * FS_BLOCK, page, FS_BLOCK);
	return err;
}

#define WRITE_PAGES (WRITE_CHUNK / FS_BLOCK + 1)

/*
 * One write transaction: at most WRITE_CHUNK bytes at o->off (or at the
 * end), the blocks it needs allocated first (so a lock it must wait for
 * starts it again before any byte moved), then the bytes copied into the
 * cached pages: into pages that had a block, marked dirty (writeback
 * writes them); into new blocks, written to the disk before the commit
 * links them. A write that changes no block and not the size commits
 * nothing (the mtime follows at close). Return: bytes written.
 */
static int64_t write_fn(struct tx *t, void *arg)
{
	struct fileop *o = arg;
	uint32_t ino = (uint32_t)o->vn->ino, newb[WRITE_PAGES] = { 0 };
	uint64_t pos, end, p0, done = 0;
	struct staging g = { 0, 0 };
	struct fs_inode ip;
	bool grew = false;
	int err = 0;

	if ((err = iget(t, o->vn, &ip)))
		return err;
	fresh_pages(t, o->vn);
	pos = o->append ? ip.size : o->off;
	if (pos >= FS_MAX_FILE_SIZE)
		return -EFBIG;
	end = pos + MIN(MIN(o->u->len - o->size, WRITE_CHUNK - pos % FS_BLOCK),
			FS_MAX_FILE_SIZE - pos);
	p0 = pos / FS_BLOCK;
	for (uint64_t p = p0; p <= (end - 1) / FS_BLOCK; p++) {
		uint32_t blk, prev;

		if ((err = fs_bmap(&t->x, ino, &ip, p, &blk)))
			return err;
		if (blk)
			continue;
		if (p && !fs_bmap(&t->x, ino, &ip, p - 1, &prev) && prev)
			t->x.bhint = prev + 1;  /* next to the page before: one request */
		if ((err = fs_balloc(&t->x, &blk)) == -ENOSPC) {
			end = MAX(p * FS_BLOCK, pos);
			break;
		}
		if (err || (err = fs_bmap_set(&t->x, ino, &ip, p, blk)))
			return err;
		newb[p - p0] = blk;
		grew = true;
	}
	if (end == pos)
		return -ENOSPC;
	if (!still_ours(t)) {           /* new blocks are written before the commit: look first */
		fence("before writing new blocks");
		return -EIO;
	}
	err = 0;
	while (pos + done < end) {
		uint64_t at = pos + done, in = at % FS_BLOCK, k = MIN(FS_BLOCK - in, end - at);
		uint32_t fresh = newb[at / FS_BLOCK - p0];
		struct pcache_ref ref;

		err = pcache_get(&pc, PCACHE_TAG(ino, at / FS_BLOCK), fresh ? PCACHE_NOREAD : 0, &ref);
		if (err)
			break;
		err = uio_copyin(o->u, o->size + done, (uint8_t *)ref.data + in, k);
		arch_pool_flush((uint8_t *)ref.data + in, k);
		if (!err && fresh)
			err = stage_add(&g, fresh, ref.data);
		else if (!err)
			pcache_dirty(&pc, &ref);
		pcache_put(&pc, &ref);
		if (err)
			break;
		done += k;
	}
	if (stage_flush(&g))
		return -EIO;            /* nothing links the blocks it did not write */
	if (pos + done < end) {         /* new blocks no byte reached: not linked */
		for (uint64_t p = (pos + done) / FS_BLOCK; p <= (end - 1) / FS_BLOCK; p++)
			if (newb[p - p0] && (fs_bmap_set(&t->x, ino, &ip, p, 0) ||
					     fs_bfree(&t->x, newb[p - p0])))
				return -EIO;
		if (!done)
			return err ? err : -ENOSPC;
	}
	if (pos + done > ip.size) {
		ip.size = pos + done;
		grew = true;
	}
	if (grew) {
		ip.mtime_ns = ip.ctime_ns = now(&t->x);
		if ((err = fs_inode_put(&t->x, ino, &ip)))
			return err;
	}
	if (private_cache) {            /* through to the disk while the inode lock is held */
		if (pcache_writeback(&pc, ino, 0, wb_bounce) < 0)
			return -EIO;
		t->bump = true;
	}
	o->off = pos + done;
	return (int64_t)done;
}

static int64_t d_write(struct vnode *vn, uint64_t *off, const struct uio *u, bool append)
{
	struct fileop o = { .vn = vn, .off = *off, .u = u, .append = append };
	int64_t r = 0;

	if (vn->type == VN_DIR)
		return -EISDIR;
	if (pmem_failures() && pcache_has_lost(&pc, (uint32_t)vn->ino))
		return -EIO;            /* a region failure took dirty pages of it */
	while (o.size < u->len) {
		if ((r = run(write_fn, &o)) <= 0)
			break;
		o.size += (uint64_t)r;
	}
	if (o.size) {
		D(vn)->wrote = true;
		*off = o.off;
		return (int64_t)o.size;
	}
	return r;
}

/*
 * One step of a truncate to o->size: grow (the new bytes read as zeros: a
 * hole), or free at most TRUNC_STEP bytes' worth of blocks from the end,
 * so a step fits in one transaction; the size goes down step by step and
 * every step leaves a sound file. Return: 1 when the size is reached.
 */
static int64_t truncate_fn(struct tx *t, void *arg)
{
	struct fileop *o = arg;
	uint32_t ino = (uint32_t)o->vn->ino;
	uint64_t size;
	struct fs_inode ip;
	int err;

	if ((err = iget(t, o->vn, &ip)))
		return err;
	fresh_pages(t, o->vn);
	size = o->size;
	if (size < ip.size && ip.size - size > TRUNC_STEP)
		size = (ip.size - TRUNC_STEP) & ~(uint64_t)(FS_BLOCK - 1);
	if (size < ip.size) {
		uint32_t first = (uint32_t)((size + FS_BLOCK - 1) / FS_BLOCK);
		struct pcache_ref ref;

		drop_pages(ino, first);
		if (size % FS_BLOCK) {  /* the tail of the last page reads as zeros from now on */
			uint32_t blk;

			if ((err = fs_bmap(&t->x, ino, &ip, size / FS_BLOCK, &blk)))
				return err;
			if (blk && !(err = pcache_get(&pc, PCACHE_TAG(ino, size / FS_BLOCK), 0, &ref))) {
				memset((uint8_t *)ref.data + size % FS_BLOCK, 0, FS_BLOCK - size % FS_BLOCK);
				arch_pool_flush(ref.data, FS_BLOCK);
				pcache_dirty(&pc, &ref);
				pcache_put(&pc, &ref);
			}
			if (err)
				return err;
		}
		if ((err = fs_truncate_map(&t->x, ino, &ip, first)))
			return err;
	}
	if (size != ip.size) {
		ip.size = size;
		ip.mtime_ns = ip.ctime_ns = now(&t->x);
		if ((err = fs_inode_put(&t->x, ino, &ip)))
			return err;
	}
	return size == o->size;
}

static int d_truncate(struct vnode *vn, uint64_t size)
{
	struct fileop o = { .vn = vn, .size = size };
	int64_t r;

	if (vn->type == VN_DIR)
		return -EISDIR;
	if (size > FS_MAX_FILE_SIZE)
		return -EFBIG;
	while ((r = run(truncate_fn, &o)) == 0)
		;
	return r < 0 ? (int)r : 0;
}

static int d_fsync(struct vnode *vn)
{
	int r;

	if (vn->type == VN_DIR)
		return 0;               /* directories change only by commits: on disk */
	r = pcache_writeback(&pc, (uint32_t)vn->ino, 0, wb_bounce);
	if (r >= 0 && pcache_has_lost(&pc, (uint32_t)vn->ino)) {
		printk("node %d: fs: inode %lu lost dirty pages with a pool region: EIO\n",
		       self.id, (unsigned long)vn->ino);
		return -EIO;
	}
	return r < 0 ? -EIO : 0;
}

static int64_t getattr_fn(struct tx *t, void *arg)
{
	struct fileop *o = arg;
	struct fs_inode ip;
	int err = iget(t, o->vn, &ip);

	if (err)
		return err;
	*o->st = (struct dm_stat){
		.ino = o->vn->ino, .mode = ip.mode, .nlink = ip.nlink, .size = ip.size,
		.blocks = (uint64_t)ip.nblocks * FS_SECTORS_PER_BLOCK, .blksize = FS_BLOCK,
		.atime_ns = (int64_t)ip.atime_ns, .mtime_ns = (int64_t)ip.mtime_ns,
		.ctime_ns = (int64_t)ip.ctime_ns,
	};
	return 0;
}

static int d_getattr(struct vnode *vn, struct dm_stat *st)
{
	struct fileop o = { .vn = vn, .st = st };

	return (int)run(getattr_fn, &o);
}

static int64_t setattr_fn(struct tx *t, void *arg)
{
	struct fileop *o = arg;
	const struct vattr *va = o->va;
	struct fs_inode ip;
	int err = iget(t, o->vn, &ip);

	if (err)
		return err;
	if (va->mask & VA_MODE)
		ip.mode = (uint16_t)((ip.mode & FS_S_IFMT) | (va->mode & FS_S_IPERM));
	if (va->mask & VA_ATIME)
		ip.atime_ns = (uint64_t)va->atime_ns;
	if (va->mask & VA_MTIME)
		ip.mtime_ns = (uint64_t)va->mtime_ns;
	ip.ctime_ns = now(&t->x);
	return fs_inode_put(&t->x, (uint32_t)o->vn->ino, &ip);
}

static int d_setattr(struct vnode *vn, const struct vattr *va)
{
	struct fileop o = { .vn = vn, .va = va };

	return (int)run(setattr_fn, &o);
}

/* The first open on this node puts the node in the file's open-table entry. */
static int64_t open_fn(struct tx *t, void *arg)
{
	struct fileop *o = arg;
	struct fs_inode ip;
	uint64_t *e;
	int err = iget(t, o->vn, &ip);

	if (err)
		return err;
	if (!(e = open_entry((uint32_t)o->vn->ino, true)))
		return -ENFILE;
	__atomic_store_n(&e[0], o->vn->ino, __ATOMIC_RELEASE);
	__atomic_or_fetch(&e[1], 1ULL << self.id, __ATOMIC_ACQ_REL);
	arch_pool_flush(e, 16);
	return 0;
}

static int d_open(struct vnode *vn, int flags)
{
	struct fileop o = { .vn = vn, .flags = flags };
	int err;

	if (vn->type != VN_REG || D(vn)->opens++)
		return 0;
	if ((err = (int)run(open_fn, &o)))
		D(vn)->opens--;
	return err;
}

/* The last close on this node: the mtime of what it wrote, its bit in the
 * open table, and the file itself if it was unlinked and this was the
 * last node holding it. */
static int64_t close_fn(struct tx *t, void *arg)
{
	struct fileop *o = arg;
	uint32_t ino = (uint32_t)o->vn->ino;
	struct fs_inode ip;
	int err = iget(t, o->vn, &ip);

	if (err)
		return err == -ENOENT ? 0 : err;
	if (open_clear(ino, 1ULL << self.id) || ip.nlink) {
		if (!o->flags)
			return 0;
		ip.mtime_ns = ip.ctime_ns = now(&t->x);
		return fs_inode_put(&t->x, ino, &ip);
	}
	drop_pages(ino, 0);
	return fs_inode_destroy(&t->x, ino, &ip);
}

static void d_close(struct vnode *vn, int flags)
{
	struct fileop o = { .vn = vn };
	int err;

	(void)flags;
	if (vn->type != VN_REG || --D(vn)->opens)
		return;
	o.flags = D(vn)->wrote;
	D(vn)->wrote = false;
	if ((err = (int)run(close_fn, &o)))
		printk("node %d: fs: closing inode %lu: %d\n", self.id, (unsigned long)vn->ino, err);
}

static const struct vfs_ops dmosfs_ops = {
	.lookup = d_lookup, .create = d_create, .mkdir = d_mkdir, .unlink = d_unlink,
	.rmdir = d_rmdir, .rename = d_rename, .read = d_read, .write = d_write,
	.truncate = d_truncate, .fsync = d_fsync, .getattr = d_getattr, .setattr = d_setattr,
	.readdir = d_readdir, .open = d_open, .close = d_close, .inactive = d_inactive,
	.getlk = clusterlk_getlk, .setlk = clusterlk_setlk,
};

/* ---- the node's side: death of others, writeback, memory ------------------------------ */

void dmosfs_node_dead(int n)
{
	uint32_t fixed;

	clusterlk_node_dead(n);
	if (!cache_ok)
		return;
	fixed = pcache_node_dead(&pc, n);
	if (fixed)
		printk("node %d: fs: repaired %u page cache slots node %d left filling or busy\n",
		       self.id, fixed, n);
	if (dfs.root && n >= 0 && n < MAX_NODES)
		dead_pending |= 1ULL << n;      /* its journal and opens: at the next operation */
}

static struct kwork writeback;

/*
 * Background writeback, a kernel-thread work: the dirty pages of the
 * whole cache, whoever dirtied them (a dead node's too), a slice of
 * WRITEBACK_BATCH pages per pass and the next pass at once while there
 * are more, so dirty data drains at the disk's pace without keeping the
 * kernel thread from its other works.
 */
static void writeback_work(void)
{
	int r;

	if (!dfs.root)
		return;
	r = pcache_writeback(&pc, 0, WRITEBACK_BATCH, wb_bounce);
	if (r == WRITEBACK_BATCH)
		kthread_kick(&writeback);
	else if (r < 0 && r != -ETIMEDOUT)
		printk("node %d: fs: background writeback failed (%d)\n", self.id, r);
}

static struct kwork writeback = { .name = "fs writeback", .fn = writeback_work,
				  .period_ms = WRITEBACK_MS };

uint32_t dmosfs_reclaim(uint32_t pages)
{
	if (!cache_ok || reclaiming || private_cache)
		return 0;               /* a private cache's pages are local frames, not the pool's */
	return pcache_evict(&pc, pages);
}

/* ---- mounting ------------------------------------------------------------------------- */

/*
 * The root's vnode, its inode read from the disk itself rather than
 * through the cache: mounting holds no pool page, so a node that never
 * opens a file of the disk costs the pool nothing.
 */
static int get_root(struct vnode **out)
{
	uint32_t ino = sb->root_ino;
	uint8_t *buf;
	int err;

	if (!ino || ino >= sb->ninodes)
		return -EIO;
	if (!(buf = kmalloc(FS_BLOCK)))
		return -ENOMEM;
	err = disk_read(sb->inode_start + ino / FS_INODES_PER_BLOCK, buf);
	if (!err)
		err = vnew(ino, (const struct fs_inode *)(buf + (ino % FS_INODES_PER_BLOCK) *
							  FS_INODE_SIZE), out);
	kfree(buf);
	return err;
}

/* This node's journal: what it committed before it last went down is
 * written home, and its next sequence number is known. */
static int journal_open(void)
{
	struct fs_journal_head *h = kmalloc(sizeof(*h));
	char why[160];
	int err, r;

	if (!h)
		return -ENOMEM;
	if (!(err = lock_wait(&T, RECOVERY_LOCK))) {
		replay_slot((uint32_t)self.id, true);
		T.recover = false;
		unlock_all(&T);
		err = disk_read(fs_journal_block(sb, (uint32_t)self.id), h);
	}
	if (!err && (r = fs_journal_check(sb, h, (uint32_t)self.id, why, sizeof(why))) != 0) {
		/* damaged, or a transaction replay could not write home */
		if (r > 0)
			snprintf(why, sizeof(why), "a transaction replay could not write home");
		printk("node %d: fs: journal %u: %s; it is emptied\n", self.id, self.id, why);
		T.seq = h->magic == FS_JOURNAL_MAGIC ? h->seq + 1 : 1;
		fs_journal_empty(sb, (uint32_t)self.id, T.seq, h);
		err = disk_write(fs_journal_block(sb, (uint32_t)self.id), 1, h);
	} else if (!err) {
		T.seq = h->seq;
	}
	kfree(h);
	return err;
}

static int mount_setup(void)
{
	long n = cmdline_long("fscrash", 0);

	crash_at = n > 0 ? (uint64_t)n : 0;
	T.cap = MIN(sb->journal_blocks - 1, (uint32_t)FS_JOURNAL_MAX);
	if (!(T.blk = kzalloc(T.cap * sizeof(*T.blk))) || !(wb_bounce = kmalloc(FS_BLOCK)) ||
	    !(stage = kmalloc(STAGE_BLOCKS * FS_BLOCK)))
		return -ENOMEM;
	return journal_open();
}

struct vfs *dmosfs_get(void)
{
	struct vnode *root;
	char label[sizeof(sb->label) + 1];
	bool rw;
	int err;

	if (dfs.root)
		return &dfs;
	if (!(sb = fs_disk_super()))
		return NULL;            /* fs_probe said why */
	if (!cache_ok) {
		printk("node %d: fs: dmosfs not mounted: its page cache lives in the pool, "
		       "and this node has none\n", self.id);
		return NULL;
	}
	if (sb->ninodes > 1u << PCACHE_INO_BITS) {
		printk("node %d: fs: dmosfs not mounted: %u inodes, the page cache's tags "
		       "name %u at most\n", self.id, sb->ninodes, 1u << PCACHE_INO_BITS);
		return NULL;
	}
	rw = fs_super_writable(sb) && !blk_read_only(blk_disk()) &&
	     (uint32_t)self.id < sb->njournals;
	if ((uint32_t)self.id >= sb->njournals)
		printk("node %d: fs: the disk has journals for nodes 0..%u only: mounted read only\n",
		       self.id, sb->njournals - 1);
	T.x = (struct fsx){ .s = sb, .ops = &tx_ops };  /* read only: locked reads, cap 0 */
	raw = (struct fsx){ .s = sb, .ops = &raw_ops };
	if (rw && (err = mount_setup())) {
		printk("node %d: fs: cannot use journal %d (%d): mounted read only\n", self.id,
		       self.id, err);
		rw = false;
	}
	if (!rw) {
		T.cap = 0;
		if (!wb_bounce)
			wb_bounce = kmalloc(FS_BLOCK);
	}
	dfs = (struct vfs){ .name = "dmosfs", .ops = &dmosfs_ops, .rdonly = !rw };
	err = get_root(&root);
	if (!err && root->type != VN_DIR) {
		vput(root);
		err = -ENOTDIR;
	}
	if (err) {
		printk("node %d: fs: dmosfs not mounted: cannot read its root directory (%d)\n",
		       self.id, err);
		return NULL;
	}
	dfs.root = root;
	if (rw && (writeback.period_ms = (uint32_t)cmdline_long("fswriteback", WRITEBACK_MS)))
		kthread_register(&writeback);   /* fswriteback=0: only fsync writes dirty pages */
	memcpy(label, sb->label, sizeof(sb->label));
	label[sizeof(sb->label)] = 0;
	printk("node %d: fs: dmosfs '%s' at %s (%s), its pages cached %s (%u sets of %u)\n",
	       self.id, label, dmosfs_is_root() ? "/" : DMOSFS_MOUNT, rw ? "read-write" : "read only",
	       private_cache ? "privately in local memory" : "in the pool", pc.nsets, PCACHE_WAYS);
	return &dfs;
}

bool dmosfs_is_root(void)
{
	char v[16];

	return !cmdline_get("root", v, sizeof(v)) || strcmp(v, "initrd");
}

/* ---- counters ------------------------------------------------------------------------- */

/* This node's disk counters (zeros without a disk). */
static struct pcache_disk disk_counters(void)
{
	struct blk_stats bs;

	if (!blk_disk())
		return (struct pcache_disk){ 0 };
	blk_get_stats(blk_disk(), &bs);
	return (struct pcache_disk){ bs.reads, bs.sectors_read * BLK_SECTOR, bs.writes,
				     bs.sectors_written * BLK_SECTOR, bs.flushes, bs.errors };
}

/*
 * The disk's counters go into this node's entry of the page cache's
 * counters table (the cache keeps its own there as they move) every
 * second and at each fsinfo, so the host's `dmos pool` sees them at most
 * a second old, and a post-mortem what they were a second before the end.
 */
static void publish(void)
{
	struct pcache_disk d = disk_counters();

	pcache_publish(&pc, &d);
}

static struct kwork publish_work = { .name = "fs counters", .fn = publish, .period_ms = 1000 };

static void fsinfo(struct dm_fsinfo *fi)
{
	struct pcache_disk d = disk_counters();

	*fi = (struct dm_fsinfo){ .mounted = dfs.root != NULL, .disk_reads = d.reads,
				  .disk_read_bytes = d.read_bytes, .disk_writes = d.writes,
				  .disk_write_bytes = d.write_bytes, .disk_flushes = d.flushes,
				  .disk_errors = d.errors };
	if (cache_ok) {
		pcache_publish(&pc, &d);        /* the pool says what this call says */
		fi->cache_sets = pc.nsets;
		fi->cache_hits = pc.st->hits;
		fi->cache_misses = pc.st->misses;
		fi->cache_fills = pc.st->fills;
		fi->cache_fill_waits = pc.st->fill_waits;
		fi->cache_evictions = pc.st->evictions;
		fi->cache_writebacks = pc.st->writebacks;
		fi->cache_lost = pc.st->lost;
	}
}

int64_t sys_fsinfo(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	struct dm_fsinfo fi;

	(void)b, (void)c, (void)d, (void)e, (void)f;
	fsinfo(&fi);
	return copy_to_user(&current->vm, a, &fi, sizeof(fi));
}

void cmd_fs(char **argv, int argc)
{
	struct dm_fsinfo fi;

	(void)argv;
	(void)argc;
	fsinfo(&fi);
	if (cache_ok)
		pcache_scan(&pc);
	printk("  disk: %lu reads (%lu KiB), %lu writes (%lu KiB), %lu flushes, %lu errors\n",
	       fi.disk_reads, fi.disk_read_bytes >> 10, fi.disk_writes, fi.disk_write_bytes >> 10,
	       fi.disk_flushes, fi.disk_errors);
	printk("  cache: %lu hits, %lu misses, %lu fills, %lu fill waits, %lu evictions, "
	       "%lu writebacks, %lu lost\n", fi.cache_hits, fi.cache_misses, fi.cache_fills,
	       fi.cache_fill_waits, fi.cache_evictions, fi.cache_writebacks, fi.cache_lost);
	if (cache_ok)
		printk("  pool: %u sets of %u slots, %lu valid pages, %lu dirty\n", pc.nsets,
		       PCACHE_WAYS, pc.valid, pc.dirty);
	printk("node %d: fs: dmosfs %s\n", self.id, !fi.mounted ? "not mounted" :
	       dmosfs_is_root() ? "at /" : "at " DMOSFS_MOUNT);
}

/* ---- region failure ------------------------------------------------------------------ */

#define LOST_WAIT_MS    1               /* wait this long for a slot's holder or pinner */
#define LOST_INOS       8               /* inodes the console line names */

/* What the passes over the cache for the failures being handled did. */
static struct lost_scan {
	bool (*lost)(void *ctx, uint64_t ppn);
	void *ctx;
	uint32_t at;                    /* the slot the last lost frame was found in */
	uint32_t let_go;                /* frames this node let go of, clean and dirty */
	uint32_t dirty;                 /* of them, dirty pages now lost */
	uint32_t ino[LOST_INOS], nino;  /* the inodes of those */
	bool more_inos;                 /* and others */
} scan;

/*
 * pcache_lost's question, answered by mm's lost(); on the way, when the
 * slot holding a lost frame is BUSY by this node (without the writeback
 * bit: pcache_lost's own hold, right before it lets the frame go), what it
 * holds is counted, so the console line says what this node did.
 */
static bool lost_frame(void *arg, uint64_t ppn)
{
	struct lost_scan *s = arg;
	uint32_t nslots = pc.nsets * PCACHE_WAYS;

	if (!s->lost(s->ctx, ppn))
		return false;
	for (uint32_t k = 0; k < nslots; k++) {
		uint32_t i = (s->at + k) % nslots, ino, j;
		uint64_t v;

		if (__atomic_load_n(&pc.frames[i], __ATOMIC_ACQUIRE) != (PCACHE_FRAME_PAGE | ppn))
			continue;
		s->at = i;
		v = __atomic_load_n(&pc.slots[i], __ATOMIC_ACQUIRE);
		if (PCACHE_STATE(v) != PCACHE_BUSY || PCACHE_OWNER(v) != (unsigned)self.id ||
		    (v & PCACHE_LOST))
			break;
		s->let_go++;
		ino = PCACHE_TAG_INO(PCACHE_TAG_OF(v));
		if (!(v & PCACHE_DIRTY) || !ino)
			break;
		for (j = 0; j < s->nino && s->ino[j] != ino; j++)
			;
		if (j == s->nino && s->nino < LOST_INOS)
			s->ino[s->nino++] = ino;
		else if (j == s->nino)
			s->more_inos = true;
		break;
	}
	return true;
}

uint32_t dmosfs_region_lost(bool (*lost)(void *ctx, uint64_t ppn), void *ctx, bool last)
{
	uint32_t nslots, left = 0, wait = pc.wait_ms;
	char inos[LOST_INOS * 11 + 16];
	size_t len = 0;

	if (!cache_ok)
		return 0;
	nslots = pc.nsets * PCACHE_WAYS;
	scan.lost = lost;
	scan.ctx = ctx;
	/* the kernel thread waits for nobody: whoever holds a slot now is left for the next pass */
	pc.wait_ms = LOST_WAIT_MS;
	if (!private_cache)             /* a private cache's frames are local: nothing lost */
		scan.dirty += pcache_lost(&pc, lost_frame, &scan);
	pc.wait_ms = wait;
	for (uint32_t i = 0; i < nslots && !private_cache; i++) {
		uint64_t f = __atomic_load_n(&pc.frames[i], __ATOMIC_ACQUIRE);

		left += (f & PCACHE_FRAME_PAGE) && lost(ctx, PCACHE_FRAME_PPN(f));
	}
	if (left && !last)
		return left;
	for (uint32_t k = 0; k < scan.nino; k++)
		len += (size_t)snprintf(inos + len, sizeof(inos) - len, "%s%u", k ? ", " : "",
					scan.ino[k]);
	if (scan.more_inos)
		snprintf(inos + len, sizeof(inos) - len, " and more");
	if (!scan.nino)
		snprintf(inos, sizeof(inos), "not known");
	if (scan.dirty)
		printk("node %d: fs: region failure: %u clean page cache pages dropped (read again "
		       "from the disk), %u dirty pages lost (inode%s %s): their files say EIO\n",
		       self.id, scan.let_go > scan.dirty ? scan.let_go - scan.dirty : 0, scan.dirty,
		       scan.nino == 1 ? "" : "s", inos);
	else
		printk("node %d: fs: region failure: %u clean page cache pages dropped (read again "
		       "from the disk), no dirty page lost\n", self.id, scan.let_go);
	if (left)
		printk("node %d: fs: region failure: %u page cache slots with lost pages stayed "
		       "held by live nodes\n", self.id, left);
	scan = (struct lost_scan){ 0 };
	return left;
}
