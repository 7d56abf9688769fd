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
#include "fs/dmosfs_int.h"
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

#define WRITE_CHUNK     (256 * FS_BLOCK)        /* bytes one write transaction covers at most */
#define TRUNC_STEP      (32768ULL * FS_BLOCK)   /* bytes one truncate transaction frees at most */
#define STAGE_BLOCKS    16                      /* new data blocks written in one request */
#define WRITEBACK_MS    500                     /* background writeback looks this often */
						/* (fswriteback=MS; 0: never, only fsync), */
#define WRITEBACK_BATCH 32                      /* and writes this many pages a slice */

struct pcache dfs_pc;
struct pcache dfs_shared;
bool dfs_private;
bool dfs_cache_ok;
const struct fs_super *dfs_sb;
struct vfs dfs_vfs;
struct tx dfs_tx;
bool dfs_busy;
uint64_t dfs_dead_pending, dfs_dead_opens;
uint64_t dfs_crash_at, dfs_commits;
bool dfs_fenced;

static struct dnode *vnodes;
static struct fsx raw;                  /* unlocked reads, for the cache's fills and writebacks */
static void *wb_bounce;                 /* FS_BLOCK bytes for writeback */
static uint8_t *stage;                  /* STAGE_BLOCKS blocks for new data */
static bool reclaiming;                 /* dmosfs_reclaim is running: no recursion */

static struct dnode *D(struct vnode *vn)
{
	return vn->priv;
}

/* ---- the cache's ops: pool pages and the disk ------------------------------------ */

static int64_t c_alloc(void *ctx)
{
	int64_t ppn;
	uint64_t pa;

	(void)ctx;
	if (dfs_private) {            /* "ppn" is a local frame number */
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
	if (dfs_private)
		frame_free(ppn << PAGE_SHIFT, 0);
	else
		pmem_free(ppn);
}

static void *c_page(void *ctx, uint64_t ppn)
{
	(void)ctx;
	return dfs_private ? phys_to_virt(ppn << PAGE_SHIFT) : pmem_page(ppn);
}

int dfs_disk_read(uint32_t blk, void *buf)
{
	return blk_read(blk_disk(), (uint64_t)blk * FS_SECTORS_PER_BLOCK, FS_SECTORS_PER_BLOCK, buf);
}

int dfs_disk_write(uint32_t blk, uint32_t n, const void *buf)
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
		return *blk && *blk < dfs_sb->nblocks ? 0 : -EIO;
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
	err = dfs_disk_read(blk, buf);
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
	if (!PCACHE_TAG_INO(tag) || dfs_fenced)
		return -EIO;
	if ((err = tag_block(tag, &blk)))
		return err;
	return blk ? dfs_disk_write(blk, 1, buf) : 0;  /* no block: truncated away meanwhile */
}

bool dfs_alive(void *ctx, int node)
{
	(void)ctx;
	return node == self.id || (pool.nodes && node >= 0 && node < MAX_NODES &&
				   __atomic_load_n(&pool.nodes[node].state, __ATOMIC_ACQUIRE) == NODE_UP);
}

/* Is pool page ppn in a region that failed (its bytes may be wiped)? */
bool dfs_gone(void *ctx, uint64_t ppn)
{
	(void)ctx;
	return !dfs_private && pmem_page_lost(ppn);
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
	.alive = dfs_alive, .relax = c_relax, .gone = dfs_gone,
};

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
	if (pcache_attach(&dfs_pc, area, self.id, &cache_ops, NULL, *pins, bounce))
		return -EINVAL;
	dfs_pc.st = dfs_shared.st;              /* the counters stay where the host reads them */
	return 0;
}

void dmosfs_attach_pool(void *area)
{
	const struct pcache_hdr *h = area;
	uint16_t *pins = kzalloc((size_t)h->nsets * PCACHE_WAYS * sizeof(*pins));
	void *bounce = kmalloc(FS_BLOCK);
	char v[16];
	int err = pins && bounce ? pcache_attach(&dfs_shared, area, self.id, &cache_ops, NULL, pins,
						 bounce) : -ENOMEM;

	dfs_private = cmdline_get("fscache", v, sizeof(v)) && !strcmp(v, "private");
	if (!err && dfs_private)
		err = attach_private(&pins, bounce);
	else if (!err)
		dfs_pc = dfs_shared;
	if (err) {
		printk("node %d: fs: cannot use the page cache in the pool (%d); no dmosfs\n",
		       self.id, err);
		kfree(pins);
		kfree(bounce);
		return;
	}
	dfs_cache_ok = true;
	pmem_set_reclaimer(dmosfs_reclaim);
	kthread_register(&dfs_publish_work);
}

/* ---- blocks for fs/fsops.c: unlocked reads ---------------------------------------- */

int dfs_raw_get(struct fsx *x, uint32_t blk, const void **data, void **ref)
{
	struct pcache_ref *r;
	int err;

	(void)x;
	if (!blk || blk >= dfs_sb->nblocks)
		return -EIO;
	if (!(r = kmalloc(sizeof(*r))))
		return -ENOMEM;
	if ((err = pcache_get(&dfs_pc, PCACHE_TAG(0, blk), 0, r))) {
		kfree(r);
		return err;
	}
	*data = r->data;
	*ref = r;
	return 0;
}

void dfs_raw_put(struct fsx *x, void *ref)
{
	(void)x;
	if (ref) {
		pcache_put(&dfs_pc, ref);
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

uint64_t dfs_now(struct fsx *x)
{
	(void)x;
	return (uint64_t)clock_realtime_ns();
}

static const struct fsx_ops raw_ops = {
	.get = dfs_raw_get, .put = dfs_raw_put, .change = r_change, .room = r_room, .commit = r_commit,
	.now = dfs_now,
};

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
	d->vn = (struct vnode){ &dfs_vfs, d, ino, type == FS_S_IFDIR ? VN_DIR : VN_REG, 1 };
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
		uint64_t *e = &dfs_shared.opens[2 * ((h + k) % PCACHE_NOPENS)];
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
void dfs_drop_pages(uint32_t ino, uint32_t first)
{
	for (int tries = 0; pcache_drop(&dfs_pc, ino, first) == -EBUSY; tries++) {
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
	ip->ctime_ns = dfs_now(&t->x);
	if (open_mask(ino)) {
		ip->flags |= FS_INODE_ORPHAN;
		return fs_inode_put(&t->x, ino, ip);
	}
	dfs_drop_pages(ino, 0);
	ip->flags |= FS_INODE_ORPHAN;   /* a commit half-way leaves an orphan */
	return fs_inode_destroy(&t->x, ino, ip);
}

int64_t dfs_close_dead(struct tx *t, void *arg)
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
	dfs_drop_pages(ino, 0);
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
	return (int)tx_run(lookup_fn, &o);
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
	r = (int)tx_run(readdir_fn, &o);
	if (r > 0)
		*pos = p;
	return r;
}

/* A new inode: a file, or a directory with its first block (".", ".."). */
static int make_inode(struct tx *t, uint32_t parent, uint32_t mode, uint32_t *ino,
		      struct fs_inode *ip)
{
	uint64_t tm = dfs_now(&t->x);
	struct fs_dirent *d;
	uint32_t blk;
	int err;

	t->x.ihint = FS_ROOT_INO + 1 + (uint32_t)((uint64_t)(dfs_sb->ninodes - FS_ROOT_INO - 1) *
						   (uint32_t)self.id / MAX_NODES);
	if ((err = fs_ialloc(&t->x, ino)) || (err = fs_inode_get(&t->x, *ino, ip)))
		return err;
	*ip = (struct fs_inode){ .mode = (uint16_t)mode, .nlink = 1, .atime_ns = tm,
		.mtime_ns = tm, .ctime_ns = tm, .generation = ip->generation + 1 };
	if ((mode & FS_S_IFMT) == FS_S_IFDIR) {
		if ((err = fs_balloc(&t->x, &blk)) || (err = tx_change(&t->x, blk, true, (void **)&d)))
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
	dfs_drop_pages(ino, 0);             /* nothing of an earlier user of the number */
	return dir ? 0 : vget(ino, &ip, o->out);
}

static int d_create(struct vnode *dir, const char *name, uint32_t mode, bool excl,
		    struct vnode **out)
{
	struct dirop o = { .dir = dir, .name = name, .mode = mode, .excl = excl, .out = out };
	int r = (int)tx_run(create_fn, &o);

	return r > 0 ? 0 : r;
}

static int d_mkdir(struct vnode *dir, const char *name, uint32_t mode)
{
	struct dirop o = { .dir = dir, .name = name, .mode = mode };

	return (int)tx_run(create_fn, &o);
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
	dip.mtime_ns = dip.ctime_ns = dfs_now(&t->x);
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

	return (int)tx_run(remove_fn, &o);
}

static int d_rmdir(struct vnode *dir, const char *name)
{
	struct dirop o = { .dir = dir, .name = name, .mode = 1 };

	return (int)tx_run(remove_fn, &o);
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
	od.mtime_ns = od.ctime_ns = ndp->mtime_ns = ndp->ctime_ns = ip.ctime_ns = dfs_now(&t->x);
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

	return (int)tx_run(rename_fn, &o);
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

	if (!dfs_private || fs_inode_block(&t->x, (uint32_t)vn->ino, &blk))
		return;
	v = __atomic_load_n(tx_lock_version(tx_lock_of(blk)), __ATOMIC_ACQUIRE);
	if (D(vn)->seen != v) {
		dfs_drop_pages((uint32_t)vn->ino, 0);
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
	if ((err = (int)tx_run(size_fn, &o)))
		return err;
	if (off >= o.size)
		return 0;
	n = MIN(u->len, o.size - off);
	while (done < n) {
		uint64_t at = off + done, in = at % FS_BLOCK, k = MIN(FS_BLOCK - in, n - done);
		struct pcache_ref ref;

		err = pcache_get(&dfs_pc, PCACHE_TAG(vn->ino, at / FS_BLOCK), 0, &ref);
		if (!err) {
			err = uio_copyout(u, done, (const uint8_t *)ref.data + in, k);
			pcache_put(&dfs_pc, &ref);
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
	int err = g->n ? dfs_disk_write(g->first, g->n, stage) : 0;

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
	if (!tx_still_ours(t)) {           /* new blocks are written before the commit: look first */
		tx_fence("before writing new blocks");
		return -EIO;
	}
	err = 0;
	while (pos + done < end) {
		uint64_t at = pos + done, in = at % FS_BLOCK, k = MIN(FS_BLOCK - in, end - at);
		uint32_t fresh = newb[at / FS_BLOCK - p0];
		struct pcache_ref ref;

		err = pcache_get(&dfs_pc, PCACHE_TAG(ino, at / FS_BLOCK), fresh ? PCACHE_NOREAD : 0, &ref);
		if (err)
			break;
		err = uio_copyin(o->u, o->size + done, (uint8_t *)ref.data + in, k);
		arch_pool_flush((uint8_t *)ref.data + in, k);
		if (!err && fresh)
			err = stage_add(&g, fresh, ref.data);
		else if (!err)
			pcache_dirty(&dfs_pc, &ref);
		pcache_put(&dfs_pc, &ref);
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
		ip.mtime_ns = ip.ctime_ns = dfs_now(&t->x);
		if ((err = fs_inode_put(&t->x, ino, &ip)))
			return err;
	}
	if (dfs_private) {            /* through to the disk while the inode lock is held */
		if (pcache_writeback(&dfs_pc, ino, 0, wb_bounce) < 0)
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
	if (pmem_failures() && pcache_has_lost(&dfs_pc, (uint32_t)vn->ino))
		return -EIO;            /* a region failure took dirty pages of it */
	while (o.size < u->len) {
		if ((r = tx_run(write_fn, &o)) <= 0)
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

		dfs_drop_pages(ino, first);
		if (size % FS_BLOCK) {  /* the tail of the last page reads as zeros from now on */
			uint32_t blk;

			if ((err = fs_bmap(&t->x, ino, &ip, size / FS_BLOCK, &blk)))
				return err;
			if (blk && !(err = pcache_get(&dfs_pc, PCACHE_TAG(ino, size / FS_BLOCK), 0, &ref))) {
				memset((uint8_t *)ref.data + size % FS_BLOCK, 0, FS_BLOCK - size % FS_BLOCK);
				arch_pool_flush(ref.data, FS_BLOCK);
				pcache_dirty(&dfs_pc, &ref);
				pcache_put(&dfs_pc, &ref);
			}
			if (err)
				return err;
		}
		if ((err = fs_truncate_map(&t->x, ino, &ip, first)))
			return err;
	}
	if (size != ip.size) {
		ip.size = size;
		ip.mtime_ns = ip.ctime_ns = dfs_now(&t->x);
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
	while ((r = tx_run(truncate_fn, &o)) == 0)
		;
	return r < 0 ? (int)r : 0;
}

static int d_fsync(struct vnode *vn)
{
	int r;

	if (vn->type == VN_DIR)
		return 0;               /* directories change only by commits: on disk */
	r = pcache_writeback(&dfs_pc, (uint32_t)vn->ino, 0, wb_bounce);
	if (r >= 0 && pcache_has_lost(&dfs_pc, (uint32_t)vn->ino)) {
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

	return (int)tx_run(getattr_fn, &o);
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
	ip.ctime_ns = dfs_now(&t->x);
	return fs_inode_put(&t->x, (uint32_t)o->vn->ino, &ip);
}

static int d_setattr(struct vnode *vn, const struct vattr *va)
{
	struct fileop o = { .vn = vn, .va = va };

	return (int)tx_run(setattr_fn, &o);
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
	if ((err = (int)tx_run(open_fn, &o)))
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
		ip.mtime_ns = ip.ctime_ns = dfs_now(&t->x);
		return fs_inode_put(&t->x, ino, &ip);
	}
	dfs_drop_pages(ino, 0);
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
	if ((err = (int)tx_run(close_fn, &o)))
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
	if (!dfs_cache_ok)
		return;
	fixed = pcache_node_dead(&dfs_pc, n);
	if (fixed)
		printk("node %d: fs: repaired %u page cache slots node %d left filling or busy\n",
		       self.id, fixed, n);
	if (dfs_vfs.root && n >= 0 && n < MAX_NODES)
		dfs_dead_pending |= 1ULL << n;      /* its journal and opens: at the next operation */
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

	if (!dfs_vfs.root)
		return;
	r = pcache_writeback(&dfs_pc, 0, WRITEBACK_BATCH, wb_bounce);
	if (r == WRITEBACK_BATCH)
		kthread_kick(&writeback);
	else if (r < 0 && r != -ETIMEDOUT)
		printk("node %d: fs: background writeback failed (%d)\n", self.id, r);
}

static struct kwork writeback = { .name = "fs writeback", .fn = writeback_work,
				  .period_ms = WRITEBACK_MS };

uint32_t dmosfs_reclaim(uint32_t pages)
{
	if (!dfs_cache_ok || reclaiming || dfs_private)
		return 0;               /* a private cache's pages are local frames, not the pool's */
	return pcache_evict(&dfs_pc, pages);
}

/* ---- mounting ------------------------------------------------------------------------- */

/*
 * The root's vnode, its inode read from the disk itself rather than
 * through the cache: mounting holds no pool page, so a node that never
 * opens a file of the disk costs the pool nothing.
 */
static int get_root(struct vnode **out)
{
	uint32_t ino = dfs_sb->root_ino;
	uint8_t *buf;
	int err;

	if (!ino || ino >= dfs_sb->ninodes)
		return -EIO;
	if (!(buf = kmalloc(FS_BLOCK)))
		return -ENOMEM;
	err = dfs_disk_read(dfs_sb->inode_start + ino / FS_INODES_PER_BLOCK, buf);
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
	if (!(err = tx_replay_own()))
		err = dfs_disk_read(fs_journal_block(dfs_sb, (uint32_t)self.id), h);
	if (!err && (r = fs_journal_check(dfs_sb, h, (uint32_t)self.id, why, sizeof(why))) != 0) {
		/* damaged, or a transaction replay could not write home */
		if (r > 0)
			snprintf(why, sizeof(why), "a transaction replay could not write home");
		printk("node %d: fs: journal %u: %s; it is emptied\n", self.id, self.id, why);
		dfs_tx.seq = h->magic == FS_JOURNAL_MAGIC ? h->seq + 1 : 1;
		fs_journal_empty(dfs_sb, (uint32_t)self.id, dfs_tx.seq, h);
		err = dfs_disk_write(fs_journal_block(dfs_sb, (uint32_t)self.id), 1, h);
	} else if (!err) {
		dfs_tx.seq = h->seq;
	}
	kfree(h);
	return err;
}

static int mount_setup(void)
{
	long n = cmdline_long("fscrash", 0);

	dfs_crash_at = n > 0 ? (uint64_t)n : 0;
	dfs_tx.cap = MIN(dfs_sb->journal_blocks - 1, (uint32_t)FS_JOURNAL_MAX);
	if (!(dfs_tx.blk = kzalloc(dfs_tx.cap * sizeof(*dfs_tx.blk))) || !(wb_bounce = kmalloc(FS_BLOCK)) ||
	    !(stage = kmalloc(STAGE_BLOCKS * FS_BLOCK)))
		return -ENOMEM;
	return journal_open();
}

struct vfs *dmosfs_get(void)
{
	struct vnode *root;
	char label[sizeof(dfs_sb->label) + 1];
	bool rw;
	int err;

	if (dfs_vfs.root)
		return &dfs_vfs;
	if (!(dfs_sb = fs_disk_super()))
		return NULL;            /* fs_probe said why */
	if (!dfs_cache_ok) {
		printk("node %d: fs: dmosfs not mounted: its page cache lives in the pool, "
		       "and this node has none\n", self.id);
		return NULL;
	}
	if (dfs_sb->ninodes > 1u << PCACHE_INO_BITS) {
		printk("node %d: fs: dmosfs not mounted: %u inodes, the page cache's tags "
		       "name %u at most\n", self.id, dfs_sb->ninodes, 1u << PCACHE_INO_BITS);
		return NULL;
	}
	rw = fs_super_writable(dfs_sb) && !blk_read_only(blk_disk()) &&
	     (uint32_t)self.id < dfs_sb->njournals;
	if ((uint32_t)self.id >= dfs_sb->njournals)
		printk("node %d: fs: the disk has journals for nodes 0..%u only: mounted read only\n",
		       self.id, dfs_sb->njournals - 1);
	dfs_tx.x = (struct fsx){ .s = dfs_sb, .ops = &tx_ops };  /* read only: locked reads, cap 0 */
	raw = (struct fsx){ .s = dfs_sb, .ops = &raw_ops };
	if (rw && (err = mount_setup())) {
		printk("node %d: fs: cannot use journal %d (%d): mounted read only\n", self.id,
		       self.id, err);
		rw = false;
	}
	if (!rw) {
		dfs_tx.cap = 0;
		if (!wb_bounce)
			wb_bounce = kmalloc(FS_BLOCK);
	}
	dfs_vfs = (struct vfs){ .name = "dmosfs", .ops = &dmosfs_ops, .rdonly = !rw };
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
	dfs_vfs.root = root;
	if (rw && (writeback.period_ms = (uint32_t)cmdline_long("fswriteback", WRITEBACK_MS)))
		kthread_register(&writeback);   /* fswriteback=0: only fsync writes dirty pages */
	memcpy(label, dfs_sb->label, sizeof(dfs_sb->label));
	label[sizeof(dfs_sb->label)] = 0;
	printk("node %d: fs: dmosfs '%s' at %s (%s), its pages cached %s (%u sets of %u)\n",
	       self.id, label, dmosfs_is_root() ? "/" : DMOSFS_MOUNT, rw ? "read-write" : "read only",
	       dfs_private ? "privately in local memory" : "in the pool", dfs_pc.nsets, PCACHE_WAYS);
	return &dfs_vfs;
}

bool dmosfs_is_root(void)
{
	char v[16];

	return !cmdline_get("root", v, sizeof(v)) || strcmp(v, "initrd");
}

