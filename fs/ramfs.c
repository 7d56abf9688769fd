/*
 * ramfs: a file system in this node's memory, mounted at /tmp: scratch
 * files that vanish with the node, and the writable file system the
 * in-guest tests run every file call against until dmosfs is "/". It has
 * every op of vfs.h, byte-range locks between the node's processes
 * included (fs/lockf.c keeps them; a waiter sleeps here).
 *
 * A node (struct rnode) is a file or a directory; its vnode is embedded,
 * so the vnode lives exactly as long as the node. A node is named by at
 * most one directory entry (there are no hard links): nlink is 1 while it
 * is named and 0 once it was removed, and a removed node is freed when its
 * last vnode reference goes (an open file outlives its name). A file's
 * bytes are in pages of the kernel heap, one pointer each in a table that
 * grows by doubling; a page never written is a hole and reads as zeros. A
 * directory is a list of entries in the order they were made, each with a
 * cookie, its position for readdir, that stays valid while others come
 * and go. The whole file system holds at most max_bytes of file data
 * (ENOSPC), so /tmp cannot take all of the node's memory.
 */
#include "kernel/kernel.h"
#include "mm/mm.h"
#include "sched/sched.h"
#include "arch/arch.h"
#include "fs/vfs.h"
#include "fs/lockf.h"
#include "fs/fstypes.h"

#define RPAGE 4096u

struct rent;

struct rnode {
	struct vnode vn;                /* vn.priv points here */
	struct ramfs *fs;
	uint32_t mode;                  /* DM_S_IF* | permission bits */
	uint32_t nlink;                 /* 1 while a directory names it, 0 after */
	uint64_t size;
	int64_t atime, mtime, ctime;
	/* a directory */
	struct rnode *parent;           /* NULL for the root and once removed */
	struct rent *ents;              /* in cookie order */
	uint64_t next_cookie;
	uint32_t nsubdirs;
	/* a file */
	uint8_t **pages;
	uint64_t cap;                   /* entries in pages */
	struct lockf locks;
};

struct rent {
	struct rent *next;
	struct rnode *node;
	uint64_t cookie;
	char name[DM_FILENAME_MAX + 1];
};

struct ramfs {
	struct vfs vfs;
	uint64_t max_pages, used_pages; /* file data */
	uint64_t next_ino;
};

static const uint8_t zeros[RPAGE];

static struct rnode *R(struct vnode *vn)
{
	return vn->priv;
}

static bool is_dir(const struct rnode *r)
{
	return (r->mode & DM_S_IFMT) == DM_S_IFDIR;
}

static struct rnode *new_node(struct ramfs *fs, uint32_t mode)
{
	struct rnode *r = kzalloc(sizeof(*r));

	if (!r)
		return NULL;
	r->fs = fs;
	r->mode = mode;
	r->nlink = 1;
	r->atime = r->mtime = r->ctime = clock_realtime_ns();
	r->vn = (struct vnode){ &fs->vfs, r, fs->next_ino++, is_dir(r) ? VN_DIR : VN_REG, 0 };
	return r;
}

/* Free the pages from index first on. */
static void free_pages_from(struct rnode *r, uint64_t first)
{
	for (uint64_t i = first; i < r->cap; i++) {
		if (r->pages[i]) {
			kfree(r->pages[i]);
			r->pages[i] = NULL;
			r->fs->used_pages--;
		}
	}
}

static void free_node(struct rnode *r)
{
	free_pages_from(r, 0);
	kfree(r->pages);
	lockf_free(&r->locks);
	sched_wakeup(&r->locks);
	kfree(r);
}

/* r lost its name: free it now if nobody holds it, else at its last vput. */
static void unnamed(struct rnode *r)
{
	r->nlink = 0;
	r->parent = NULL;
	r->ctime = clock_realtime_ns();
	if (!r->vn.refs)
		free_node(r);
}

static void r_inactive(struct vnode *vn)
{
	if (!R(vn)->nlink)
		free_node(R(vn));
}

static struct rent *find(struct rnode *dir, const char *name, struct rent ***link)
{
	struct rent **pp = &dir->ents;

	for (; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->name, name)) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

/* Put e at the end of dir, with the next cookie. */
static void append(struct rnode *dir, struct rent *e)
{
	struct rent **pp = &dir->ents;

	while (*pp)
		pp = &(*pp)->next;
	e->next = NULL;
	e->cookie = dir->next_cookie++;
	*pp = e;
	dir->mtime = dir->ctime = clock_realtime_ns();
}

static int r_lookup(struct vnode *vdir, const char *name, struct vnode **out)
{
	struct rnode *dir = R(vdir);
	struct rent *e;

	if (!is_dir(dir))
		return -ENOTDIR;
	if (!strcmp(name, "..")) {
		if (!dir->nlink)
			return -ENOENT;         /* removed: it has no parent any more */
		*out = vref(dir->parent ? &dir->parent->vn : vdir);
		return 0;
	}
	if (!(e = find(dir, name, NULL)))
		return -ENOENT;
	*out = vref(&e->node->vn);
	return 0;
}

/* Make a node of mode named name in dir. Return: it, or NULL (no memory). */
static struct rnode *make(struct rnode *dir, const char *name, uint32_t mode)
{
	struct rent *e = kzalloc(sizeof(*e));
	struct rnode *r = e ? new_node(dir->fs, mode) : NULL;

	if (!r) {
		kfree(e);
		return NULL;
	}
	e->node = r;
	strlcpy(e->name, name, sizeof(e->name));
	if (is_dir(r)) {
		r->parent = dir;
		dir->nsubdirs++;
	}
	append(dir, e);
	return r;
}

static int r_create(struct vnode *vdir, const char *name, uint32_t mode, bool excl,
		    struct vnode **out)
{
	struct rnode *dir = R(vdir), *r;
	struct rent *e;

	if (!is_dir(dir))
		return -ENOTDIR;
	if (!dir->nlink)
		return -ENOENT;                 /* a removed directory takes no new names */
	if ((e = find(dir, name, NULL))) {
		if (excl)
			return -EEXIST;
		if (is_dir(e->node))
			return -EISDIR;
		*out = vref(&e->node->vn);
		return 0;
	}
	if (!(r = make(dir, name, DM_S_IFREG | (mode & DM_S_PERM))))
		return -ENOSPC;
	*out = vref(&r->vn);
	return 0;
}

static int r_mkdir(struct vnode *vdir, const char *name, uint32_t mode)
{
	struct rnode *dir = R(vdir);

	if (!is_dir(dir))
		return -ENOTDIR;
	if (!dir->nlink)
		return -ENOENT;
	if (find(dir, name, NULL))
		return -EEXIST;
	return make(dir, name, DM_S_IFDIR | (mode & DM_S_PERM)) ? 0 : -ENOSPC;
}

/* unlink (dir false) or rmdir (dir true) name in vdir. */
static int r_remove(struct vnode *vdir, const char *name, bool dir_)
{
	struct rnode *dir = R(vdir);
	struct rent *e, **link;

	if (!is_dir(dir))
		return -ENOTDIR;
	if (!(e = find(dir, name, &link)))
		return -ENOENT;
	if (is_dir(e->node) != dir_)
		return dir_ ? -ENOTDIR : -EISDIR;
	if (e->node->ents)
		return -ENOTEMPTY;
	*link = e->next;
	if (dir_)
		dir->nsubdirs--;
	dir->mtime = dir->ctime = clock_realtime_ns();
	unnamed(e->node);
	kfree(e);
	return 0;
}

static int r_unlink(struct vnode *vdir, const char *name)
{
	return r_remove(vdir, name, false);
}

static int r_rmdir(struct vnode *vdir, const char *name)
{
	return r_remove(vdir, name, true);
}

static int r_rename(struct vnode *vodir, const char *oname, struct vnode *vndir, const char *nname)
{
	struct rnode *odir = R(vodir), *ndir = R(vndir), *src;
	struct rent *se, **slink, *de;

	if (!is_dir(odir) || !is_dir(ndir))
		return -ENOTDIR;
	if (!(se = find(odir, oname, &slink)))
		return -ENOENT;
	src = se->node;
	if (!ndir->nlink)
		return -ENOENT;
	if (is_dir(src))                /* not into itself or below it */
		for (struct rnode *d = ndir; d; d = d->parent)
			if (d == src)
				return -EINVAL;
	if ((de = find(ndir, nname, NULL))) {
		struct rnode *old = de->node;
		if (old == src)
			return 0;
		if (is_dir(src) && !is_dir(old))
			return -ENOTDIR;
		if (!is_dir(src) && is_dir(old))
			return -EISDIR;
		if (is_dir(old) && old->ents)
			return -ENOTEMPTY;
		/* the entry of nname now names src: it never names nothing */
		*slink = se->next;
		kfree(se);
		de->node = src;
		if (is_dir(old))
			ndir->nsubdirs--;
		unnamed(old);
	} else {
		*slink = se->next;
		strlcpy(se->name, nname, sizeof(se->name));
		append(ndir, se);
	}
	if (is_dir(src)) {
		odir->nsubdirs--;
		ndir->nsubdirs++;
		src->parent = ndir;
	}
	odir->mtime = odir->ctime = ndir->mtime = ndir->ctime = src->ctime = clock_realtime_ns();
	return 0;
}

static int64_t r_read(struct vnode *vn, uint64_t off, const struct uio *u)
{
	struct rnode *r = R(vn);
	uint64_t n, done = 0;

	if (is_dir(r))
		return -EISDIR;
	if (off >= r->size)
		return 0;
	n = MIN(u->len, r->size - off);
	while (done < n) {
		uint64_t pg = (off + done) / RPAGE, in = (off + done) % RPAGE, k = MIN(RPAGE - in, n - done);
		const uint8_t *src = pg < r->cap && r->pages[pg] ? r->pages[pg] + in : zeros;
		int err = uio_copyout(u, done, src, k);
		if (err)
			return done ? (int64_t)done : err;
		done += k;
	}
	r->atime = clock_realtime_ns();
	return (int64_t)done;
}

/* Room in the page table for page index last. Return: 0, -ENOSPC. */
static int grow_table(struct rnode *r, uint64_t last)
{
	uint64_t cap = r->cap ? r->cap : 16;
	uint8_t **t;

	if (last < r->cap)
		return 0;
	while (cap <= last)
		cap *= 2;
	if (!(t = kzalloc(cap * sizeof(*t))))
		return -ENOSPC;
	if (r->cap)
		memcpy(t, r->pages, r->cap * sizeof(*t));
	kfree(r->pages);
	r->pages = t;
	r->cap = cap;
	return 0;
}

static uint64_t max_size(const struct rnode *r)
{
	return r->fs->max_pages * RPAGE;       /* a file is no bigger than the file system */
}

static int64_t r_write(struct vnode *vn, uint64_t *off, const struct uio *u, bool append_)
{
	struct rnode *r = R(vn);
	uint64_t pos = append_ ? r->size : *off, n = u->len, done = 0;
	int err = 0;

	if (is_dir(r))
		return -EISDIR;
	if (!n) {
		*off = pos;
		return 0;
	}
	if (pos >= max_size(r))
		return -EFBIG;
	n = MIN(n, max_size(r) - pos);
	if ((err = grow_table(r, (pos + n - 1) / RPAGE)))
		return err;
	while (done < n) {
		uint64_t pg = (pos + done) / RPAGE, in = (pos + done) % RPAGE, k = MIN(RPAGE - in, n - done);
		if (!r->pages[pg]) {
			if (r->fs->used_pages == r->fs->max_pages || !(r->pages[pg] = kzalloc(RPAGE))) {
				err = -ENOSPC;
				break;
			}
			r->fs->used_pages++;
		}
		if ((err = uio_copyin(u, done, r->pages[pg] + in, k)))
			break;
		done += k;
	}
	if (!done)
		return err;
	r->size = MAX(r->size, pos + done);
	r->mtime = r->ctime = clock_realtime_ns();
	*off = pos + done;
	return (int64_t)done;
}

static int r_truncate(struct vnode *vn, uint64_t size)
{
	struct rnode *r = R(vn);

	if (is_dir(r))
		return -EISDIR;
	if (size > max_size(r))
		return -EFBIG;
	if (size < r->size) {
		uint64_t keep = (size + RPAGE - 1) / RPAGE;
		free_pages_from(r, keep);
		if (size % RPAGE && keep - 1 < r->cap && r->pages[keep - 1])
			memset(r->pages[keep - 1] + size % RPAGE, 0, RPAGE - size % RPAGE);
	}
	r->size = size;
	r->mtime = r->ctime = clock_realtime_ns();
	return 0;
}

static int r_getattr(struct vnode *vn, struct dm_stat *st)
{
	struct rnode *r = R(vn);
	uint64_t pages = 0;

	for (uint64_t i = 0; i < r->cap; i++)
		pages += r->pages[i] != NULL;
	*st = (struct dm_stat){
		.ino = vn->ino, .mode = r->mode,
		.nlink = is_dir(r) && r->nlink ? 2 + r->nsubdirs : r->nlink,
		.size = r->size, .blocks = pages * (RPAGE / 512), .blksize = RPAGE,
		.atime_ns = r->atime, .mtime_ns = r->mtime, .ctime_ns = r->ctime,
	};
	return 0;
}

static int r_setattr(struct vnode *vn, const struct vattr *va)
{
	struct rnode *r = R(vn);

	if (va->mask & VA_MODE)
		r->mode = (r->mode & DM_S_IFMT) | (va->mode & DM_S_PERM);
	if (va->mask & VA_ATIME)
		r->atime = va->atime_ns;
	if (va->mask & VA_MTIME)
		r->mtime = va->mtime_ns;
	r->ctime = clock_realtime_ns();
	return 0;
}

static void fill(struct vfs_dirent *de, uint64_t ino, uint8_t type, const char *name)
{
	de->ino = ino;
	de->type = type;
	de->namelen = (uint8_t)strlcpy(de->name, name, sizeof(de->name));
}

/* Positions: 0 ".", 1 "..", then 2 + the cookie of an entry. */
static int r_readdir(struct vnode *vdir, uint64_t *pos, struct vfs_dirent *de)
{
	struct rnode *dir = R(vdir);

	if (!is_dir(dir))
		return -ENOTDIR;
	if (!dir->nlink)
		return 0;                       /* removed: empty, not even . and .. */
	if (*pos < 2) {
		struct rnode *d = *pos == 0 || !dir->parent ? dir : dir->parent;
		fill(de, d->vn.ino, DM_DT_DIR, *pos == 0 ? "." : "..");
		(*pos)++;
		return 1;
	}
	for (struct rent *e = dir->ents; e; e = e->next) {
		if (e->cookie + 2 < *pos)
			continue;
		fill(de, e->node->vn.ino, is_dir(e->node) ? DM_DT_DIR : DM_DT_REG, e->name);
		*pos = e->cookie + 3;
		return 1;
	}
	return 0;
}

static int r_getlk(struct vnode *vn, struct vfs_lock *lk)
{
	lockf_get(&R(vn)->locks, lk);
	return 0;
}

static int r_setlk(struct vnode *vn, const struct vfs_lock *lk, bool wait)
{
	struct lockf *lf = &R(vn)->locks;
	int blocker, err;

	for (;;) {
		if ((err = lockf_set(lf, lk, &blocker)) != -EAGAIN || !wait)
			break;
		if ((err = lockf_wait_begin(lk->pid, blocker)))
			break;
		/* checked with interrupts off: a kill from another node comes
		   in an interrupt, and must find us asleep, not about to be */
		uint64_t flags = arch_irq_save();
		if (!proc_interrupted(current))
			sched_sleep(lf, 0);
		arch_irq_restore(flags);
		lockf_wait_end(lk->pid);
		if (proc_interrupted(current)) {
			err = -EINTR;
			break;
		}
	}
	if (!err)
		sched_wakeup(lf);       /* less locked than before, maybe: waiters look again */
	return err;
}

static const struct vfs_ops ramfs_ops = {
	.lookup = r_lookup, .create = r_create, .mkdir = r_mkdir, .unlink = r_unlink,
	.rmdir = r_rmdir, .rename = r_rename, .read = r_read, .write = r_write,
	.truncate = r_truncate, .getattr = r_getattr, .setattr = r_setattr,
	.readdir = r_readdir, .getlk = r_getlk, .setlk = r_setlk, .inactive = r_inactive,
};

struct vfs *ramfs_new(uint64_t max_bytes)
{
	struct ramfs *fs = kzalloc(sizeof(*fs));
	struct rnode *root;

	if (!fs)
		return NULL;
	fs->max_pages = max_bytes / RPAGE;
	fs->next_ino = 1;
	fs->vfs = (struct vfs){ .name = "ramfs", .ops = &ramfs_ops, .priv = fs };
	if (!(root = new_node(fs, DM_S_IFDIR | 01777))) {
		kfree(fs);
		return NULL;
	}
	fs->vfs.root = vref(&root->vn);
	return &fs->vfs;
}
