/*
 * The initrd as a read-only file system: "/" until the cluster file system
 * mounts there (then /initrd). At mount time the cpio archive
 * (kernel/initrd.c) becomes a tree of nodes, one per regular file or
 * directory it holds (directories a path names but the archive does not
 * list are made up); a file's bytes stay where GRUB loaded them. Programs
 * not in /bin are started from here (fs/exec.c).
 *
 * Reading, looking up, listing and stat work; every change fails with
 * EROFS, after the checks that do not need a change (a missing name is
 * ENOENT, an existing one for mkdir EEXIST), as Linux orders them.
 * Nodes live as long as the kernel; nothing is freed.
 */
#include "kernel/kernel.h"
#include "kernel/initrd.h"
#include "mm/mm.h"
#include "fs/vfs.h"
#include "fs/fstypes.h"

struct inode {
	struct vnode vn;                /* vn.priv points here */
	char name[DM_FILENAME_MAX + 1];
	uint32_t mode;
	int64_t mtime_ns;
	const uint8_t *data;
	uint64_t len;
	uint32_t nchildren;
	struct inode *parent, *child, *sibling;         /* children in archive order */
};

static struct vfs initrd_vfs;
static uint64_t next_ino = 1;

static struct inode *I(struct vnode *vn)
{
	return vn->priv;
}

static struct inode *new_inode(struct inode *parent, const char *name, size_t len, uint32_t mode)
{
	struct inode *n = kzalloc(sizeof(*n));

	if (!n)
		return NULL;
	memcpy(n->name, name, len);
	n->mode = mode;
	n->parent = parent ? parent : n;
	n->vn = (struct vnode){ &initrd_vfs, n, next_ino++,
				(mode & DM_S_IFMT) == DM_S_IFDIR ? VN_DIR : VN_REG, 1 };
	if (parent) {                   /* at the end: ls lists the archive's order */
		struct inode **pp = &parent->child;
		while (*pp)
			pp = &(*pp)->sibling;
		*pp = n;
		parent->nchildren++;
	}
	return n;
}

static struct inode *child(struct inode *dir, const char *name, size_t len)
{
	for (struct inode *c = dir->child; c; c = c->sibling)
		if (strlen(c->name) == len && !memcmp(c->name, name, len))
			return c;
	return NULL;
}

/* One archive entry into the tree: its directories made up as needed. */
static int add(const char *name, const uint8_t *data, uint64_t len, uint32_t mode, uint64_t mtime,
	       void *ctx)
{
	struct inode *dir = ctx, *n = NULL;
	uint32_t type = mode & DM_S_IFMT;

	if (type != DM_S_IFREG && type != DM_S_IFDIR)
		return 0;               /* no devices or links in dmos */
	for (const char *p = name; *p;) {
		size_t k = 0;
		while (*p == '/')
			p++;
		while (p[k] && p[k] != '/')
			k++;
		if (!k)
			break;
		if (k > DM_FILENAME_MAX) {
			printk("initrd: %s: a name longer than %d bytes; left out\n", name, DM_FILENAME_MAX);
			return 0;
		}
		const char *rest = p + k;
		while (*rest == '/')
			rest++;
		bool last = !*rest;
		if (!(k == 1 && p[0] == '.')) {
			if (!(n = child(dir, p, k)) &&
			    !(n = new_inode(dir, p, k, last ? (type | (mode & DM_S_PERM)) : DM_S_IFDIR | 0755)))
				return 1;       /* no memory: stop */
			if ((n->mode & DM_S_IFMT) != DM_S_IFDIR && !last) {
				printk("initrd: %s: a file where a directory should be; left out\n", name);
				return 0;
			}
			dir = n;
		}
		p += k;
	}
	if (n && (n->mode & DM_S_IFMT) == type) {
		n->mode = type | (mode & DM_S_PERM);
		n->mtime_ns = (int64_t)mtime * 1000000000;
		if (type == DM_S_IFREG) {
			n->data = data;
			n->len = len;
		}
	}
	return 0;
}

static int i_lookup(struct vnode *vdir, const char *name, struct vnode **out)
{
	struct inode *dir = I(vdir), *c;

	if (vdir->type != VN_DIR)
		return -ENOTDIR;
	c = !strcmp(name, "..") ? dir->parent : child(dir, name, strlen(name));
	if (!c)
		return -ENOENT;
	*out = vref(&c->vn);
	return 0;
}

static int i_create(struct vnode *vdir, const char *name, uint32_t mode, bool excl,
		    struct vnode **out)
{
	struct inode *c = child(I(vdir), name, strlen(name));

	(void)mode;
	if (!c || excl)
		return c ? -EEXIST : -EROFS;
	if (c->vn.type == VN_DIR)
		return -EISDIR;
	*out = vref(&c->vn);
	return 0;
}

static int i_mkdir(struct vnode *vdir, const char *name, uint32_t mode)
{
	(void)mode;
	return child(I(vdir), name, strlen(name)) ? -EEXIST : -EROFS;
}

static int i_remove(struct vnode *vdir, const char *name)
{
	return child(I(vdir), name, strlen(name)) ? -EROFS : -ENOENT;
}

static int i_rename(struct vnode *odir, const char *oname, struct vnode *ndir, const char *nname)
{
	(void)ndir;
	(void)nname;
	return i_remove(odir, oname);
}

static int64_t i_read(struct vnode *vn, uint64_t off, const struct uio *u)
{
	struct inode *n = I(vn);
	uint64_t k;
	int err;

	if (vn->type == VN_DIR)
		return -EISDIR;
	if (off >= n->len)
		return 0;
	k = MIN(u->len, n->len - off);
	if ((err = uio_copyout(u, 0, n->data + off, k)))
		return err;
	return (int64_t)k;
}

static int64_t i_write(struct vnode *vn, uint64_t *off, const struct uio *u, bool append)
{
	(void)vn;
	(void)off;
	(void)u;
	(void)append;
	return -EROFS;
}

static int i_getattr(struct vnode *vn, struct dm_stat *st)
{
	struct inode *n = I(vn);

	*st = (struct dm_stat){
		.ino = vn->ino, .mode = n->mode,
		.nlink = vn->type == VN_DIR ? 2 : 1, .size = n->len,
		.blocks = (n->len + 511) / 512, .blksize = 4096,
		.atime_ns = n->mtime_ns, .mtime_ns = n->mtime_ns, .ctime_ns = n->mtime_ns,
	};
	return 0;
}

/* Positions: 0 ".", 1 "..", then 2 + the index of a child. */
static int i_readdir(struct vnode *vdir, uint64_t *pos, struct vfs_dirent *de)
{
	struct inode *dir = I(vdir), *c = NULL;

	if (vdir->type != VN_DIR)
		return -ENOTDIR;
	if (*pos < 2) {
		c = *pos == 0 ? dir : dir->parent;
		de->type = DM_DT_DIR;
		de->ino = c->vn.ino;
		de->namelen = (uint8_t)strlcpy(de->name, *pos == 0 ? "." : "..", sizeof(de->name));
		(*pos)++;
		return 1;
	}
	c = dir->child;
	for (uint64_t i = 2; c && i < *pos; i++)
		c = c->sibling;
	if (!c)
		return 0;
	de->ino = c->vn.ino;
	de->type = c->vn.type == VN_DIR ? DM_DT_DIR : DM_DT_REG;
	de->namelen = (uint8_t)strlcpy(de->name, c->name, sizeof(de->name));
	(*pos)++;
	return 1;
}

static int i_open(struct vnode *vn, int flags)
{
	(void)vn;
	return (flags & DM_O_ACCMODE) != DM_O_RDONLY || (flags & DM_O_TRUNC) ? -EROFS : 0;
}

static const struct vfs_ops initrd_ops = {
	.lookup = i_lookup, .create = i_create, .mkdir = i_mkdir, .unlink = i_remove,
	.rmdir = i_remove, .rename = i_rename, .read = i_read, .write = i_write,
	.getattr = i_getattr, .readdir = i_readdir, .open = i_open,
};

struct vfs *initrdfs_get(void)
{
	struct inode *root;

	if (initrd_vfs.root)
		return &initrd_vfs;
	initrd_vfs = (struct vfs){ .name = "initrd", .ops = &initrd_ops, .rdonly = true };
	if (!(root = new_inode(NULL, "", 0, DM_S_IFDIR | 0555)))
		return NULL;
	initrd_vfs.root = &root->vn;
	initrd_walk(add, root);
	return &initrd_vfs;
}
