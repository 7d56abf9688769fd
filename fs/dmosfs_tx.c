/*
 * dmosfs's transactions (fs/dmosfs.c's top comment is the overview): the
 * cluster locks, leases of the page cache's area hashed by block number
 * and taken two-phase; the node-local copies of changed blocks; the
 * commit through this node's journal into the pool's cache and home;
 * starting again instead of waiting while holding locks; the recovery of
 * dead nodes' journals and opens by whoever takes a lock from a dead
 * holder; and fencing, when this node finds it was taken for dead.
 */
#include "kernel/kernel.h"
#include "kernel/cluster/cluster.h"
#include "kernel/cluster/lease.h"
#include "kernel/cluster/pool.h"
#include "fs/dmosfs_int.h"
#include "fs/format.h"
#include "mm/mm.h"
#include "sched/sched.h"
#include "arch/arch.h"

#define RECOVERY_LOCK   (PCACHE_NLOCKS - 1)     /* journal replay; the others guard blocks */
#define LOCK_SPIN_NS    2000000ULL              /* spin this long for a lock, then yield */
#define LOCK_WAIT_NS    10000000000ULL          /* one live holder keeping it this long: -EIO */

static uint64_t lockver[PCACHE_NLOCKS]; /* private cache: the versions its metadata is of */

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
	return (struct lease *)((uint8_t *)dfs_shared.locks + (uint64_t)i * 64);
}

uint64_t *tx_lock_version(uint32_t i)
{
	return (uint64_t *)lock_at(i) + 1;
}

uint32_t tx_lock_of(uint32_t blk)
{
	return (blk * 2654435761u >> 8) % RECOVERY_LOCK;
}

static bool holds(const struct tx *t, uint32_t l)
{
	return t->holds[l / 8] & (1u << (l % 8));
}

/*
 * Private cache: lock l was just taken; if another node committed under
 * it since this node last looked, its cached metadata may be stale: drop
 * all of it (coarser than one lock's blocks, but metadata is small) and
 * note every lock's version as of now.
 */
static void revalidate(uint32_t l)
{
	if (!dfs_private || __atomic_load_n(tx_lock_version(l), __ATOMIC_ACQUIRE) == lockver[l])
		return;
	dfs_drop_pages(0, 0);
	for (uint32_t i = 0; i < PCACHE_NLOCKS; i++)
		lockver[i] = __atomic_load_n(tx_lock_version(i), __ATOMIC_ACQUIRE);
}

/*
 * Take lock l for t, waiting (spinning, then yielding the CPU) until its
 * holder lets go. Return: 0; -EIO when a live holder keeps it past
 * LOCK_WAIT_NS (said on the console).
 */
static int lock_wait(struct tx *t, uint32_t l)
{
	uint64_t start = arch_time_ns(), epoch, seen[2] = {
		__atomic_load_n(&lock_at(l)->word, __ATOMIC_ACQUIRE),
		__atomic_load_n(tx_lock_version(l), __ATOMIC_ACQUIRE) };
	int r, holder = -1;

	while ((r = lease_acquire(lock_at(l), self.id, my_epoch(), lease_alive, NULL,
				  LOCK_SPIN_NS)) == -ETIMEDOUT) {
		uint64_t cur[2] = { __atomic_load_n(&lock_at(l)->word, __ATOMIC_ACQUIRE),
				    __atomic_load_n(tx_lock_version(l), __ATOMIC_ACQUIRE) };

		if (cur[0] != seen[0] || cur[1] != seen[1]) {   /* it changes hands: nobody is stuck */
			seen[0] = cur[0];
			seen[1] = cur[1];
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
	uint32_t l = tx_lock_of(blk);
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
void tx_fence(const char *how)
{
	if (!dfs_fenced)
		printk("node %d: fs: %s: this node was taken for dead; it no longer writes the "
		       "shared disk (every file system call fails with EIO until it reboots)\n",
		       self.id, how);
	dfs_fenced = true;
}

/* Are all of t's locks still this node's, and this node still a member? */
bool tx_still_ours(const struct tx *t)
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
			uint64_t v = __atomic_add_fetch(tx_lock_version(l), 1, __ATOMIC_ACQ_REL);

			arch_pool_flush(tx_lock_version(l), 8);
			if (dfs_private)
				lockver[l] = v; /* this node's own copies are current */
		}
		if (lease_release(lock_at(l), self.id, my_epoch()) == -EPERM)
			tx_fence("a lock it held was broken");
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

	if (!blk || blk >= dfs_sb->nblocks)
		return fsx_err(x, -EIO, "block %u is past the end: run dmosfs fsck", blk);
	if ((err = tx_lock(t, blk)))
		return err;
	if ((b = tx_find(t, blk))) {
		*data = b->buf;
		*ref = NULL;
		return 0;
	}
	return dfs_raw_get(x, blk, data, ref);
}

int tx_change(struct fsx *x, uint32_t blk, bool fresh, void **data)
{
	struct tx *t = (struct tx *)x;
	struct txblk *b;
	const void *src;
	void *ref;
	bool gone;
	int err;

	if (blk < dfs_sb->ibitmap_start || blk >= dfs_sb->nblocks)
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
			if ((err = dfs_raw_get(x, blk, &src, &ref)))
				return err;
			memcpy(b->buf, src, FS_BLOCK);
			gone = dfs_gone(NULL, PCACHE_FRAME_PPN(__atomic_load_n(
				&dfs_pc.frames[((struct pcache_ref *)ref)->slot], __ATOMIC_ACQUIRE)));
			dfs_raw_put(x, ref);
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
	int err = pcache_get(&dfs_pc, PCACHE_TAG(0, home), PCACHE_NOREAD, &ref);

	if (err)
		return err;
	memcpy(ref.data, buf, FS_BLOCK);
	arch_pool_flush(ref.data, FS_BLOCK);
	pcache_put(&dfs_pc, &ref);
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
	uint32_t at = fs_journal_block(dfs_sb, (uint32_t)self.id), crc = 0;
	struct fs_journal_head *h;
	int err = 0;

	if (!t->n)
		return 0;
	if (dfs_fenced || !tx_still_ours(t)) {
		tx_fence("at a commit");
		t->n = 0;
		return -EIO;
	}
	if (!(h = kmalloc(sizeof(*h))))
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n && !err; i++) {
		err = dfs_disk_write(at + 1 + i, 1, t->blk[i].buf);
		crc = crc32c(crc, t->blk[i].buf, FS_BLOCK);
	}
	if (!err && !tx_still_ours(t)) {   /* the journal's blocks took a while: look again */
		tx_fence("at a commit");
		err = -EIO;
	}
	if (!err) {
		fs_journal_empty(dfs_sb, (uint32_t)self.id, t->seq, h);
		h->nblocks = t->n;
		h->data_csum = crc;
		for (uint32_t i = 0; i < t->n; i++)
			h->home[i] = t->blk[i].home;
		h->csum = fs_journal_csum(h);
		err = dfs_disk_write(at, 1, h);
	}
	if (err) {
		kfree(h);
		t->n = 0;
		return fsx_err(x, -EIO, "journal write failed (%d): nothing changed", err);
	}
	if (dfs_crash_at && ++dfs_commits == dfs_crash_at) {
		printk("node %d: fs: fscrash=%lu: stopping dead after the commit point of "
		       "transaction %lu (%u blocks)\n", self.id, dfs_crash_at, t->seq, t->n);
		arch_halt();            /* a power cut: no heartbeat, nothing let go */
	}
	for (uint32_t i = 0; i < t->n && !err; i++)
		if (!(err = install(t->blk[i].home, t->blk[i].buf)))
			err = dfs_disk_write(t->blk[i].home, 1, t->blk[i].buf);
	if (!err) {
		fs_journal_empty(dfs_sb, (uint32_t)self.id, t->seq + 1, h);
		err = dfs_disk_write(at, 1, h);
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

const struct fsx_ops tx_ops = {
	.get = t_get, .put = dfs_raw_put, .change = tx_change, .room = t_room, .commit = t_commit,
	.now = dfs_now,
};

static void fs_enter(void)
{
	while (dfs_busy)
		sched_sleep(&dfs_busy, 0);
	dfs_busy = true;
}

static void fs_leave(void)
{
	dfs_busy = false;
	sched_wakeup(&dfs_busy);
}

static void replay_dead(struct tx *t);
static void close_dead_opens(void);

/*
 * Run fn(t, arg) as a transaction: started again from nothing whenever it
 * returns -EAGAIN for a lock (after waiting for it) or a recovery; on
 * success its changes commit, on an error they are dropped.
 * Return: fn's value, or the commit's error.
 */
int64_t tx_run(int64_t (*fn)(struct tx *t, void *arg), void *arg)
{
	struct tx *t = &dfs_tx;
	int64_t r;

	fs_enter();
	if (dfs_fenced) {
		fs_leave();
		return -EIO;
	}
	if (dfs_dead_pending) {
		replay_dead(t);
		close_dead_opens();
	}
	for (;;) {
		t->n = 0;
		t->want = -1;
		t->bump = false;
		t->x.why[0] = 0;
		t->x.bhint = dfs_sb->data_start + (uint32_t)((uint64_t)(dfs_sb->nblocks - dfs_sb->data_start) *
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
			if (dfs_dead_opens) {
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
	return dfs_disk_read(blk, buf);
}

/* Replay writes a block home and into the cache, so nobody reads it stale. */
static int wr_block(void *ctx, uint32_t blk, const void *buf)
{
	int err = dfs_disk_write(blk, 1, buf);

	if (!err && ctx && blk >= dfs_sb->ibitmap_start)
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
	n = fs_journal_replay(dfs_sb, slot, rd_block, wr_block, cached ? &dfs_pc : NULL, scratch, why,
			      sizeof(why));
	kfree(scratch);
	if (n < 0)
		printk("node %d: fs: journal %u not replayed (%d): %s\n", self.id, slot, n, why);
	else if (n)
		printk("node %d: fs: journal %u: %s\n", self.id, slot, why);
}


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
	for (uint32_t j = 0; j < dfs_sb->njournals && j < MAX_NODES; j++)
		if ((int)j != self.id && !dfs_alive(NULL, (int)j)) {
			replay_slot(j, true);
			dfs_dead_opens |= 1ULL << j;
		}
	lease_release(lock_at(RECOVERY_LOCK), self.id, my_epoch());
	t->holds[RECOVERY_LOCK / 8] &= (uint8_t)~(1u << (RECOVERY_LOCK % 8));
	for (uint32_t i = 0; i < t->nheld; i++)
		if (t->held[i] == RECOVERY_LOCK)
			t->held[i] = t->held[--t->nheld];
	dfs_dead_pending = 0;
}

/*
 * Take the dead nodes out of the open-file table, freeing the orphans
 * only they held open (a transaction each). Context: a process, in
 * fs_enter, holding no lock.
 */
static void close_dead_opens(void)
{
	uint64_t dead = dfs_dead_opens;

	dfs_dead_opens = 0;
	for (uint32_t i = 0; dead && i < PCACHE_NOPENS; i++) {
		uint64_t ino = __atomic_load_n(&dfs_shared.opens[2 * i], __ATOMIC_ACQUIRE);

		if (ino && ino != OPEN_TOMB && (__atomic_load_n(&dfs_shared.opens[2 * i + 1],
								__ATOMIC_ACQUIRE) & dead)) {
			uint64_t a[2] = { ino, dead };

			dfs_busy = false;        /* run() enters again */
			tx_run(dfs_close_dead, a);
			dfs_busy = true;
		}
	}
}


int tx_replay_own(void)
{
	int err = lock_wait(&dfs_tx, RECOVERY_LOCK);

	if (err)
		return err;
	replay_slot((uint32_t)self.id, true);
	dfs_tx.recover = false;
	unlock_all(&dfs_tx);
	return 0;
}
