/*
 * The file system operations of a dmosfs image the subcommands share (see
 * image.h): inodes and their block maps (reading, setting and freeing a
 * whole one), directories and path lookup, all on top of the blocks and
 * transactions of image.c. Nothing read from the image is used as an index
 * before it is checked against the superblock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "tools/fs/image.h"

static int inode_where(struct img *m, uint32_t ino, uint32_t *blk)
{
	if (ino == 0 || ino >= m->s.ninodes)
		return img_err(m, -EIO, "inode %u is out of range (%u inodes): run dmosfs fsck",
			       ino, m->s.ninodes);
	*blk = m->s.inode_start + ino / FS_INODES_PER_BLOCK;
	return 0;
}

int inode_get(struct img *m, uint32_t ino, struct fs_inode *ip)
{
	uint8_t buf[FS_BLOCK];
	uint32_t blk = 0;
	int err = inode_where(m, ino, &blk);

	if (err || (err = blk_read(m, blk, buf)))
		return err;
	memcpy(ip, buf + (ino % FS_INODES_PER_BLOCK) * FS_INODE_SIZE, sizeof(*ip));
	return 0;
}

int inode_put(struct img *m, uint32_t ino, const struct fs_inode *ip)
{
	uint32_t blk = 0;
	uint8_t *p;
	int err = inode_where(m, ino, &blk);

	if (err)
		return err;
	if (!(p = tx_block(m, blk, 0)))
		return -ENOSPC;
	memcpy(p + (ino % FS_INODES_PER_BLOCK) * FS_INODE_SIZE, ip, sizeof(*ip));
	return 0;
}

static int check_data(struct img *m, uint32_t ino, uint32_t blk)
{
	if (blk && (blk < m->s.data_start || blk >= m->s.nblocks))
		return img_err(m, -EIO, "inode %u: block %u is outside the data area: "
			       "run dmosfs fsck", ino, blk);
	return 0;
}

/* Entry @i of indirect block @blk of @ino, at @level of its map (0: the
 * indirect or double indirect block, 1: below the double indirect one). */
static int ind_get(struct img *m, uint32_t ino, uint32_t blk, uint32_t i, int level,
		   uint32_t *out)
{
	int err = check_data(m, ino, blk);

	if (err)
		return err;
	if (m->ind[level].blk != blk) {
		m->ind[level].blk = 0;
		if ((err = blk_read(m, blk, m->ind[level].list)))
			return err;
		m->ind[level].blk = blk;
	}
	*out = m->ind[level].list[i];
	return check_data(m, ino, *out);
}

int bmap(struct img *m, uint32_t ino, const struct fs_inode *ip, uint64_t idx, uint32_t *blk)
{
	uint32_t ind;
	int err;

	*blk = 0;
	if (idx < FS_NDIRECT) {
		*blk = ip->direct[idx];
		return check_data(m, ino, *blk);
	}
	idx -= FS_NDIRECT;
	if (idx < FS_PER_BLOCK)
		return ip->indirect ? ind_get(m, ino, ip->indirect, (uint32_t)idx, 0, blk) : 0;
	idx -= FS_PER_BLOCK;
	if (idx >= (uint64_t)FS_PER_BLOCK * FS_PER_BLOCK)
		return img_err(m, -EFBIG, "inode %u: block index past the largest file", ino);
	if (!ip->dindirect)
		return 0;
	err = ind_get(m, ino, ip->dindirect, (uint32_t)(idx / FS_PER_BLOCK), 0, &ind);
	if (err || !ind)
		return err;
	return ind_get(m, ino, ind, idx % FS_PER_BLOCK, 1, blk);
}

/* *ref, an indirect block number in @ip or in an indirect block: allocate
 * a zeroed block there if it is 0. */
static int ind_need(struct img *m, uint32_t ino, struct fs_inode *ip, uint32_t *ref)
{
	int err;

	if (*ref)
		return check_data(m, ino, *ref);
	if ((err = balloc(m, ref)))
		return err;
	if (!tx_block(m, *ref, 1))
		return -ENOSPC;
	ip->nblocks++;
	return 0;
}

/* Set entry @i of indirect block @ind to @blk; *old gets what was there. */
static int ind_set(struct img *m, uint32_t ind, uint32_t i, uint32_t blk, uint32_t *old)
{
	uint32_t *p = tx_block(m, ind, 0);

	if (!p)
		return -ENOSPC;
	*old = p[i];
	p[i] = blk;
	return 0;
}

int bmap_set(struct img *m, uint32_t ino, struct fs_inode *ip, uint64_t idx, uint32_t blk)
{
	uint32_t old = 0, ind, dind, *p;
	int err;

	if (idx < FS_NDIRECT) {
		old = ip->direct[idx];
		ip->direct[idx] = blk;
	} else if ((idx -= FS_NDIRECT) < FS_PER_BLOCK) {
		if ((err = ind_need(m, ino, ip, &ip->indirect)) ||
		    (err = ind_set(m, ip->indirect, (uint32_t)idx, blk, &old)))
			return err;
	} else if ((idx -= FS_PER_BLOCK) < (uint64_t)FS_PER_BLOCK * FS_PER_BLOCK) {
		if ((err = ind_need(m, ino, ip, &ip->dindirect)))
			return err;
		dind = ip->dindirect;
		if (!(p = tx_block(m, dind, 0)))
			return -ENOSPC;
		ind = p[idx / FS_PER_BLOCK];
		if ((err = ind_need(m, ino, ip, &ind)))
			return err;
		p[idx / FS_PER_BLOCK] = ind;    /* tx buffers stay put until the commit */
		if ((err = ind_set(m, ind, idx % FS_PER_BLOCK, blk, &old)))
			return err;
	} else {
		return img_err(m, -EFBIG, "file too large (at most %lu bytes)",
			       (unsigned long)FS_MAX_FILE_SIZE);
	}
	if (!old && blk)
		ip->nblocks++;
	else if (old && !blk && ip->nblocks)
		ip->nblocks--;
	return 0;
}

/* Room a step of inode_destroy needs: an indirect block at each level, a
 * bitmap block, the inode's block. */
#define DESTROY_ROOM 4

static int destroy_room(struct img *m, uint32_t ino, struct fs_inode *ip)
{
	int err = 0;

	if (tx_room(m) < DESTROY_ROOM && !(err = inode_put(m, ino, ip)))
		err = tx_commit(m);
	return err;
}

/* Free @blk and, at @level > 0, the blocks it lists. *ref, where it is
 * listed, is cleared in the transaction by the caller's @clear. */
static int destroy_level(struct img *m, uint32_t ino, struct fs_inode *ip, uint32_t blk, int level)
{
	uint32_t list[FS_PER_BLOCK], *p;
	int err;

	if ((err = check_data(m, ino, blk)) || (err = blk_read(m, blk, list)))
		return err;
	for (uint32_t i = 0; i < FS_PER_BLOCK; i++) {
		if (!list[i])
			continue;
		if (level > 1 && (err = destroy_level(m, ino, ip, list[i], level - 1)))
			return err;
		if ((err = destroy_room(m, ino, ip)) || (err = bfree(m, list[i])))
			return err;
		if (!(p = tx_block(m, blk, 0)))
			return -ENOSPC;
		p[i] = 0;
		if (ip->nblocks)
			ip->nblocks--;
	}
	return 0;
}

int inode_destroy(struct img *m, uint32_t ino, struct fs_inode *ip)
{
	uint32_t *top[2] = { &ip->indirect, &ip->dindirect };
	int err;

	for (int i = 0; i < FS_NDIRECT; i++) {
		if (!ip->direct[i])
			continue;
		if ((err = destroy_room(m, ino, ip)) || (err = bfree(m, ip->direct[i])))
			return err;
		ip->direct[i] = 0;
		if (ip->nblocks)
			ip->nblocks--;
	}
	for (int level = 1; level <= 2; level++) {
		uint32_t blk = *top[level - 1];

		if (!blk)
			continue;
		if ((err = destroy_level(m, ino, ip, blk, level)) ||
		    (err = destroy_room(m, ino, ip)) || (err = bfree(m, blk)))
			return err;
		*top[level - 1] = 0;
		if (ip->nblocks)
			ip->nblocks--;
	}
	if ((err = destroy_room(m, ino, ip)) || (err = ifree(m, ino, ip)))
		return err;
	return tx_commit(m);
}

int valid_name(const char *name, size_t len)
{
	if (len < 1 || len > FS_NAME_MAX)
		return 0;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	return !memchr(name, '/', len) && !memchr(name, 0, len);
}

/* Blocks of directory @dip, checking its size. */
static int dir_blocks(struct img *m, uint32_t dino, const struct fs_inode *dip, uint64_t *nb)
{
	if ((dip->mode & FS_S_IFMT) != FS_S_IFDIR)
		return img_err(m, -ENOTDIR, "inode %u is not a directory", dino);
	if (dip->size > FS_MAX_FILE_SIZE || dip->size % FS_BLOCK)
		return img_err(m, -EIO, "directory %u: size %lu is not a multiple of a block: "
			       "run dmosfs fsck", dino, (unsigned long)dip->size);
	*nb = dip->size / FS_BLOCK;
	return 0;
}

/* Walk the records of @dino in use (with @free, the free ones instead);
 * @fn returns non-zero to stop, and that is the return. */
static int dir_walk(struct img *m, uint32_t dino, const struct fs_inode *dip, int free,
		    int (*fn)(void *arg, const struct fs_dirent *d, const struct dirloc *at),
		    void *arg)
{
	struct fs_dirent recs[FS_DIRENTS_PER_BLOCK];
	uint64_t nb;
	uint32_t blk;
	int err = dir_blocks(m, dino, dip, &nb);

	for (uint64_t idx = 0; !err && idx < nb; idx++) {
		if ((err = bmap(m, dino, dip, idx, &blk)) || !blk)
			continue;
		if ((err = blk_read(m, blk, recs)))
			break;
		for (uint32_t r = idx ? 0 : 2; r < FS_DIRENTS_PER_BLOCK && !err; r++) {
			struct dirloc at = { blk, r };

			int used = recs[r].ino && recs[r].namelen >= 1 &&
				recs[r].namelen <= FS_NAME_MAX;

			if (free ? !recs[r].ino : used)
				err = fn(arg, &recs[r], &at);
		}
	}
	return err;
}

struct each_arg {
	int (*fn)(void *arg, const struct fs_dirent *d);
	void *arg;
};

static int each_one(void *arg, const struct fs_dirent *d, const struct dirloc *at)
{
	struct each_arg *e = arg;

	(void)at;
	return e->fn(e->arg, d);
}

int dir_each(struct img *m, uint32_t dino, const struct fs_inode *dip,
	     int (*fn)(void *arg, const struct fs_dirent *d), void *arg)
{
	struct each_arg e = { fn, arg };

	return dir_walk(m, dino, dip, 0, each_one, &e);
}

struct lookup_arg {
	const char *name;
	size_t len;
	uint32_t ino;
	struct dirloc at;
};

static int lookup_one(void *arg, const struct fs_dirent *d, const struct dirloc *at)
{
	struct lookup_arg *l = arg;

	if (d->namelen != l->len || memcmp(d->name, l->name, l->len))
		return 0;
	l->ino = d->ino;
	l->at = *at;
	return 1;
}

int dir_lookup(struct img *m, uint32_t dino, const struct fs_inode *dip,
	       const char *name, size_t len, uint32_t *ino, struct dirloc *where)
{
	struct lookup_arg l = { name, len, 0, { 0, 0 } };
	int r = dir_walk(m, dino, dip, 0, lookup_one, &l);

	if (r < 0)
		return r;
	if (!r)
		return -ENOENT;
	*ino = l.ino;
	if (where)
		*where = l.at;
	return 0;
}

static int free_one(void *arg, const struct fs_dirent *d, const struct dirloc *at)
{
	(void)d;
	*(struct dirloc *)arg = *at;
	return 1;
}

int dir_add(struct img *m, uint32_t dino, struct fs_inode *dip,
	    const char *name, size_t len, uint32_t ino, uint8_t type)
{
	struct dirloc at;
	struct fs_dirent *d;
	uint64_t nb;
	int err = dir_walk(m, dino, dip, 1, free_one, &at);

	if (err < 0)
		return err;
	if (!err) {                     /* full: one more block */
		if ((err = dir_blocks(m, dino, dip, &nb)))
			return err;
		if (nb >= FS_MAX_FILE_BLOCKS)
			return img_err(m, -EFBIG, "directory %u is full", dino);
		if ((err = balloc(m, &at.blk)))
			return err;
		if (!tx_block(m, at.blk, 1))
			return -ENOSPC;
		if ((err = bmap_set(m, dino, dip, nb, at.blk)))
			return err;
		dip->size += FS_BLOCK;
		at.rec = 0;
	}
	if (!(d = tx_block(m, at.blk, 0)))
		return -ENOSPC;
	d += at.rec;
	memset(d, 0, sizeof(*d));
	d->ino = ino;
	d->type = type;
	d->namelen = (uint8_t)len;
	memcpy(d->name, name, len);
	dip->mtime_ns = dip->ctime_ns = now_ns();
	return 0;
}

int dir_remove(struct img *m, const struct dirloc *where)
{
	struct fs_dirent *d = tx_block(m, where->blk, 0);

	if (!d)
		return -ENOSPC;
	memset(d + where->rec, 0, sizeof(*d));
	return 0;
}

int path_lookup(struct img *m, const char *path, uint32_t *ino, char *leaf, size_t *leaflen)
{
	uint32_t cur = FS_ROOT_INO, next;
	struct fs_inode in;
	const char *p = path;
	int err;

	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		const char *rest = end;

		while (*rest == '/')
			rest++;
		if (len > FS_NAME_MAX)
			return img_err(m, -ENAMETOOLONG, "%.*s...: a name is at most %u bytes",
				       40, p, FS_NAME_MAX);
		if (leaf && !*rest) {
			memcpy(leaf, p, len);
			*leaflen = len;
			*ino = cur;
			return 0;
		}
		if ((err = inode_get(m, cur, &in)))
			return err;
		if ((in.mode & FS_S_IFMT) != FS_S_IFDIR) {
			size_t upto = (size_t)(p - path);

			while (upto > 1 && path[upto - 1] == '/')
				upto--;
			return img_err(m, -ENOTDIR, "%.*s: not a directory", (int)upto, path);
		}
		err = dir_lookup(m, cur, &in, p, len, &next, NULL);
		if (err == -ENOENT)
			return img_err(m, err, "%.*s: no such file or directory", (int)(end - path), path);
		if (err)
			return err;
		cur = next;
		p = end;
	}
	if (leaf)
		return img_err(m, -EINVAL, "%s: the root has no name", path);
	*ino = cur;
	return 0;
}
