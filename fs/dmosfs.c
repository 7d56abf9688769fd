/*
 * dmosfs, the cluster file system: the dmosfs image on the shared disk
 * (fs/format.h), mounted on every node (at "/", or at DMOSFS_MOUNT with
 * root=initrd: fs/dmosfs.h), its pages cached once for
 * the whole cluster in the pool (fs/pcache.h; docs/fs.md says why). A page
 * one node has read costs every other node a lookup in the pool and a
 * copy, not a disk read.
 *
 * What is cached, and under which tag: a file's page i as PCACHE_TAG(ino,
 * i); every block the file system reads to find its way (the inode table,
 * directory blocks, indirect blocks) as the disk block it is,
 * PCACHE_TAG(0, block). A file page's fill finds its disk block from the
 * inode and the block map, itself through the cache, so a hit costs no
 * map lookup at all. The cache's pages are pool pages marked shared
 * (PALLOC_F_SHARED): they outlive the node that read them, and whichever
 * node evicts a page frees it.
 *
 * This node's view of a file is its vnode, holding a copy of the inode as
 * read when the vnode was made; vnodes are node-local and freed at the
 * last reference. Mounted read-only for now: the upper half fails every
 * change with EROFS (after the checks that need no change, as the initrd
 * does), and nothing here ever dirties a cached page.
 */
#include "kernel/kernel.h"
#include "kernel/cluster/pool.h"
#include "fs/blk.h"
#include "fs/dmosfs.h"
#include "fs/format.h"
#include "fs/pcache.h"
#include "fs/probe.h"
#include "fs/vfs.h"
#include "kernel/kthread.h"
#include "mm/mm.h"
#include "mm/palloc.h"
#include "mm/pmem.h"
#include "sched/sched.h"
#include "arch/arch.h"

struct dnode {
	struct vnode vn;                /* vn.priv points here */
	struct fs_inode di;             /* the inode, as read when the vnode was made */
	struct dnode *next;             /* this node's vnodes of the file system */
};

static struct pcache pc;                /* this node's handle on the index in the pool */
static bool cache_ok;                   /* pc is attached */
static const struct fs_super *sb;       /* the disk's, checked by fs_probe */
static struct vfs dfs;
static struct dnode *vnodes;

static struct dnode *D(struct vnode *vn)
{
	return vn->priv;
}

/* ---- the cache's ops: pool pages and the disk ------------------------------------ */

static int64_t c_alloc(void *ctx)
{
	int64_t ppn = pmem_alloc((uint32_t)proc_table()[0].pid);

	(void)ctx;
	if (ppn >= 0 && palloc_share(pool.palloc, (uint64_t)ppn)) {
		pmem_free((uint64_t)ppn);
		return -ENOMEM;
	}
	return ppn;
}

static void c_free(void *ctx, uint64_t ppn)
{
	(void)ctx;
	pmem_free(ppn);
}

static void *c_page(void *ctx, uint64_t ppn)
{
	(void)ctx;
	return pmem_page(ppn);
}

static int read_inode(uint32_t ino, struct fs_inode *di);
static int bmap(const struct fs_inode *di, uint32_t index, uint32_t *blk);

/*
 * Fill pool page ppn with the block behind tag. The disk reads into a
 * buffer of local RAM, copied into the page afterwards: the driver takes
 * only local memory by pointer, and a pool page may move to another
 * device frame (a drain) while the request is in flight, which a DMA
 * straight into its frame would miss.
 */
static int c_read(void *ctx, uint64_t tag, uint64_t ppn)
{
	uint32_t ino = PCACHE_TAG_INO(tag), blk = PCACHE_TAG_INDEX(tag);
	struct fs_inode di;
	uint8_t *buf;
	int err;

	(void)ctx;
	if (ino && ((err = read_inode(ino, &di)) || (err = bmap(&di, blk, &blk))))
		return err;
	if (!blk)
		return 0;               /* a hole: the page is zeroed */
	if (!(buf = kmalloc(FS_BLOCK)))
		return -ENOMEM;
	err = blk_read(blk_disk(), (uint64_t)blk * FS_SECTORS_PER_BLOCK, FS_SECTORS_PER_BLOCK, buf);
	if (!err) {
		void *page = pmem_page(ppn);

		memcpy(page, buf, FS_BLOCK);
		arch_pool_flush(page, FS_BLOCK);
	}
	kfree(buf);
	return err;
}

/* Read-only: no page is ever dirty, so writeback never comes here. */
static int c_write(void *ctx, uint64_t tag, const void *buf)
{
	(void)ctx;
	(void)tag;
	(void)buf;
	return -EROFS;
}

static bool c_alive(void *ctx, int node)
{
	(void)ctx;
	return node == self.id || (pool.nodes && node >= 0 && node < MAX_NODES &&
				   __atomic_load_n(&pool.nodes[node].state, __ATOMIC_ACQUIRE) == NODE_UP);
}

static const struct pcache_ops cache_ops = {
	.alloc = c_alloc, .free = c_free, .page = c_page, .read = c_read, .write = c_write,
	.alive = c_alive,
};

static struct kwork publish_work;      /* the counters' (below) */

void dmosfs_attach_pool(void *area)
{
	const struct pcache_hdr *h = area;
	uint16_t *pins = kzalloc((size_t)h->nsets * PCACHE_WAYS * sizeof(*pins));
	int err = pins ? pcache_attach(&pc, area, self.id, &cache_ops, NULL, pins, NULL) : -ENOMEM;

	if (err) {
		printk("node %d: fs: cannot use the page cache in the pool (%d); no dmosfs\n",
		       self.id, err);
		kfree(pins);
		return;
	}
	cache_ok = true;
	kthread_register(&publish_work);
}

void dmosfs_node_dead(int n)
{
	uint32_t fixed;

	if (!cache_ok)
		return;
	fixed = pcache_node_dead(&pc, n);
	if (fixed)
		printk("node %d: fs: repaired %u page cache slots node %d left filling or busy\n",
		       self.id, fixed, n);
}

/* ---- blocks, inodes, block maps ----------------------------------------------------- */

/* A metadata block (inode table, directory, indirect), pinned in the cache. */
static int get_block(uint32_t blk, struct pcache_ref *ref)
{
	if (!blk || blk >= sb->nblocks)
		return -EIO;
	return pcache_get(&pc, PCACHE_TAG(0, blk), 0, ref);
}

static int read_inode(uint32_t ino, struct fs_inode *di)
{
	struct pcache_ref ref;
	int err;

	if (!ino || ino >= sb->ninodes)
		return -EIO;            /* a directory names an inode that cannot exist */
	err = get_block(sb->inode_start + ino / FS_INODES_PER_BLOCK, &ref);
	if (err)
		return err;
	memcpy(di, (uint8_t *)ref.data + (ino % FS_INODES_PER_BLOCK) * FS_INODE_SIZE, sizeof(*di));
	pcache_put(&pc, &ref);
	return 0;
}

/* A block number a map holds: 0 (a hole) or a data block. */
static int map_entry(uint32_t b, uint32_t *out)
{
	if (b && (b < sb->data_start || b >= sb->nblocks))
		return -EIO;
	*out = b;
	return 0;
}

/* Entry i of indirect block table (0: the whole table is a hole). */
static int indirect(uint32_t table, uint32_t i, uint32_t *out)
{
	struct pcache_ref ref;
	uint32_t b;
	int err;

	if (!table)
		return map_entry(0, out);
	if ((err = get_block(table, &ref)))
		return err;
	b = ((const uint32_t *)ref.data)[i];
	pcache_put(&pc, &ref);
	return map_entry(b, out);
}

/* The disk block holding page index of a file (0: a hole). */
static int bmap(const struct fs_inode *di, uint32_t index, uint32_t *blk)
{
	uint32_t mid;
	int err;

	if (index < FS_NDIRECT)
		return map_entry(di->direct[index], blk);
	index -= FS_NDIRECT;
	if (index < FS_PER_BLOCK)
		return indirect(di->indirect, index, blk);
	index -= FS_PER_BLOCK;
	if (index / FS_PER_BLOCK >= FS_PER_BLOCK)
		return -EIO;            /* past FS_MAX_FILE_BLOCKS: a damaged size */
	if ((err = indirect(di->dindirect, index / FS_PER_BLOCK, &mid)))
		return err;
	return indirect(mid, index % FS_PER_BLOCK, blk);
}

/* ---- vnodes ------------------------------------------------------------------------- */

/* A new vnode for inode ino, holding a copy of *di. */
static int vnew(uint32_t ino, const struct fs_inode *di, struct vnode **out)
{
	struct dnode *d = kzalloc(sizeof(*d));
	uint32_t type;

	if (!d)
		return -ENOMEM;
	d->di = *di;
	type = d->di.mode & FS_S_IFMT;
	if (type != FS_S_IFREG && type != FS_S_IFDIR) {
		printk("node %d: fs: inode %u is named but not in use (mode 0%o); run fsck\n",
		       self.id, ino, di->mode);
		kfree(d);
		return -EIO;
	}
	d->vn = (struct vnode){ &dfs, d, ino, type == FS_S_IFDIR ? VN_DIR : VN_REG, 1 };
	d->next = vnodes;
	vnodes = d;
	*out = &d->vn;
	return 0;
}

static int vget(uint32_t ino, struct vnode **out)
{
	struct fs_inode di;
	int err;

	for (struct dnode *d = vnodes; d; d = d->next)
		if (d->vn.ino == ino) {
			*out = vref(&d->vn);
			return 0;
		}
	return (err = read_inode(ino, &di)) ? err : vnew(ino, &di, out);
}

static void d_inactive(struct vnode *vn)
{
	struct dnode **pp = &vnodes;

	while (*pp != D(vn))
		pp = &(*pp)->next;
	*pp = D(vn)->next;
	kfree(D(vn));
}

/* ---- directories ---------------------------------------------------------------------- */

/*
 * Call fn on each record of directory d from record *pos on, a block at a
 * time, until it returns non-zero (then *pos is that record's) or the
 * directory ends (*pos is its record count). Holes read as free records.
 * Return: fn's non-zero value, 0 at the end, or a negative errno.
 */
static int dir_walk(struct dnode *d, uint64_t *pos,
		    int (*fn)(const struct fs_dirent *de, void *arg), void *arg)
{
	uint64_t nrec = d->di.size / FS_DIRENT_SIZE;

	while (*pos < nrec) {
		uint32_t blk, first = (uint32_t)(*pos % FS_DIRENTS_PER_BLOCK);
		struct pcache_ref ref;
		int err, r = 0;

		if ((err = bmap(&d->di, (uint32_t)(*pos / FS_DIRENTS_PER_BLOCK), &blk)))
			return err;
		if (!blk) {
			*pos += FS_DIRENTS_PER_BLOCK - first;
			continue;
		}
		if ((err = get_block(blk, &ref)))
			return err;
		for (uint32_t i = first; i < FS_DIRENTS_PER_BLOCK && *pos < nrec && !r; i++) {
			const struct fs_dirent *de = (const struct fs_dirent *)ref.data + i;

			if (de->ino && (r = fn(de, arg)))
				break;
			(*pos)++;
		}
		pcache_put(&pc, &ref);
		if (r)
			return r;
	}
	return 0;
}

struct find {
	const char *name;
	size_t len;
	uint32_t ino;
};

static int match(const struct fs_dirent *de, void *arg)
{
	struct find *f = arg;

	if (de->namelen != f->len || memcmp(de->name, f->name, f->len))
		return 0;
	f->ino = de->ino;
	return 1;
}

/* The inode name names in dir: 0 with *ino set, -ENOENT, -ENOTDIR, -EIO. */
static int find(struct vnode *dir, const char *name, uint32_t *ino)
{
	struct find f = { name, strlen(name), 0 };
	uint64_t pos = 0;
	int r;

	if (dir->type != VN_DIR)
		return -ENOTDIR;
	r = dir_walk(D(dir), &pos, match, &f);
	if (r < 0)
		return r;
	if (!r)
		return -ENOENT;
	*ino = f.ino;
	return 0;
}

static int d_lookup(struct vnode *dir, const char *name, struct vnode **out)
{
	uint32_t ino;
	int err = find(dir, name, &ino);

	return err ? err : vget(ino, out);
}

struct fill_de {
	struct vfs_dirent *de;
};

static int copy_de(const struct fs_dirent *de, void *arg)
{
	struct vfs_dirent *out = ((struct fill_de *)arg)->de;
	size_t n = MIN(de->namelen, (uint8_t)DM_FILENAME_MAX);

	out->ino = de->ino;
	out->type = de->type == FS_DT_DIR ? DM_DT_DIR : DM_DT_REG;
	out->namelen = (uint8_t)n;
	memcpy(out->name, de->name, n);
	out->name[n] = 0;
	return 1;
}

/* Positions are record numbers: stable while other records come and go. */
static int d_readdir(struct vnode *dir, uint64_t *pos, struct vfs_dirent *de)
{
	struct fill_de f = { de };
	int r;

	if (dir->type != VN_DIR)
		return -ENOTDIR;
	r = dir_walk(D(dir), pos, copy_de, &f);
	if (r > 0)
		(*pos)++;
	return r;
}

/* ---- the changes a read-only mount refuses, in Linux's order of errors --------------- */

static int d_create(struct vnode *dir, const char *name, uint32_t mode, bool excl,
		    struct vnode **out)
{
	uint32_t ino;
	int err = find(dir, name, &ino);

	(void)mode;
	if (err)
		return err == -ENOENT ? -EROFS : err;
	if (excl)
		return -EEXIST;
	if ((err = vget(ino, out)))
		return err;
	if ((*out)->type == VN_DIR) {
		vput(*out);
		return -EISDIR;
	}
	return 0;
}

static int d_mkdir(struct vnode *dir, const char *name, uint32_t mode)
{
	uint32_t ino;
	int err = find(dir, name, &ino);

	(void)mode;
	return !err ? -EEXIST : err == -ENOENT ? -EROFS : err;
}

static int d_remove(struct vnode *dir, const char *name)
{
	uint32_t ino;
	int err = find(dir, name, &ino);

	return err ? err : -EROFS;
}

static int d_rename(struct vnode *odir, const char *oname, struct vnode *ndir, const char *nname)
{
	(void)ndir;
	(void)nname;
	return d_remove(odir, oname);
}

/* ---- files ---------------------------------------------------------------------------- */

/* Straight from the pinned pool page to the reader's buffer: one copy. */
static int64_t d_read(struct vnode *vn, uint64_t off, const struct uio *u)
{
	uint64_t size = D(vn)->di.size, n, done = 0;

	if (vn->type == VN_DIR)
		return -EISDIR;
	if (off >= size)
		return 0;
	n = MIN(u->len, size - off);
	while (done < n) {
		uint64_t at = off + done, in = at % FS_BLOCK, k = MIN(FS_BLOCK - in, n - done);
		struct pcache_ref ref;
		int err = pcache_get(&pc, PCACHE_TAG(vn->ino, at / FS_BLOCK), 0, &ref);

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

static int64_t d_write(struct vnode *vn, uint64_t *off, const struct uio *u, bool append)
{
	(void)off;
	(void)u;
	(void)append;
	return vn->type == VN_DIR ? -EISDIR : -EROFS;
}

static int d_getattr(struct vnode *vn, struct dm_stat *st)
{
	const struct fs_inode *di = &D(vn)->di;

	*st = (struct dm_stat){
		.ino = vn->ino, .mode = di->mode, .nlink = di->nlink, .size = di->size,
		.blocks = (uint64_t)di->nblocks * FS_SECTORS_PER_BLOCK, .blksize = FS_BLOCK,
		.atime_ns = (int64_t)di->atime_ns, .mtime_ns = (int64_t)di->mtime_ns,
		.ctime_ns = (int64_t)di->ctime_ns,
	};
	return 0;
}

static const struct vfs_ops dmosfs_ops = {
	.lookup = d_lookup, .create = d_create, .mkdir = d_mkdir, .unlink = d_remove,
	.rmdir = d_remove, .rename = d_rename, .read = d_read, .write = d_write,
	.getattr = d_getattr, .readdir = d_readdir, .inactive = d_inactive,
};

/* ---- mounting ------------------------------------------------------------------------- */

static int rd_block(void *ctx, uint32_t blk, void *buf)
{
	return blk_read(ctx, (uint64_t)blk * FS_SECTORS_PER_BLOCK, FS_SECTORS_PER_BLOCK, buf);
}

static int wr_block(void *ctx, uint32_t blk, const void *buf)
{
	return blk_write(ctx, (uint64_t)blk * FS_SECTORS_PER_BLOCK, FS_SECTORS_PER_BLOCK, buf);
}

/*
 * A transaction this node committed before it went down, and had not
 * written home yet: write it home before anything reads those blocks.
 * Other nodes may have cached them meanwhile, as they were before the
 * replay: the cached metadata is dropped (rare: only after a crash).
 */
static void replay(void)
{
	uint32_t slot = (uint32_t)self.id;
	char why[160];
	void *scratch;
	int n, err;

	if (slot >= sb->njournals)
		return;
	if (!(scratch = kmalloc(2 * FS_BLOCK))) {
		printk("node %d: fs: no memory to look at journal %u\n", self.id, slot);
		return;
	}
	n = fs_journal_replay(sb, slot, rd_block, wr_block, blk_disk(), scratch, why, sizeof(why));
	kfree(scratch);
	if (n < 0) {
		printk("node %d: fs: journal %u not replayed (%d): %s\n", self.id, slot, n, why);
		return;
	}
	if (!n)
		return;
	err = pcache_drop(&pc, 0, 0);
	printk("node %d: fs: journal %u: %s%s\n", self.id, slot, why,
	       err ? "; some cached metadata was pinned and may be stale" : "");
}

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
	err = rd_block(blk_disk(), sb->inode_start + ino / FS_INODES_PER_BLOCK, buf);
	if (!err)
		err = vnew(ino, (const struct fs_inode *)(buf + (ino % FS_INODES_PER_BLOCK) *
							  FS_INODE_SIZE), out);
	kfree(buf);
	return err;
}

struct vfs *dmosfs_get(void)
{
	struct vnode *root;
	char label[sizeof(sb->label) + 1];
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
	replay();
	dfs = (struct vfs){ .name = "dmosfs", .ops = &dmosfs_ops, .rdonly = true };
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
	memcpy(label, sb->label, sizeof(sb->label));
	label[sizeof(sb->label)] = 0;
	printk("node %d: fs: dmosfs '%s' at %s (read only), its pages cached in the pool "
	       "(%u sets of %u)\n", self.id, label, dmosfs_is_root() ? "/" : DMOSFS_MOUNT,
	       pc.nsets, PCACHE_WAYS);
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
