/*
 * dmosfs's metadata operations, shared by the kernel and the host tool
 * (fs/fsops.h says how they reach blocks). Built twice, like fs/format.c:
 * freestanding into the kernel and hosted into tools/fs and tests/unit.
 */
#if __STDC_HOSTED__
#include <errno.h>
#include <stdio.h>
#include <string.h>
#else
#include "kernel/kernel.h"
#endif
#include <stdarg.h>

#include "fs/fsops.h"

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

int fsx_err(struct fsx *x, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->why, sizeof(x->why), fmt, ap);
	va_end(ap);
	return err;
}

/* ---- inodes ------------------------------------------------------------------------- */

int fs_inode_block(struct fsx *x, uint32_t ino, uint32_t *blk)
{
	*blk = 0;
	if (ino == 0 || ino >= x->s->ninodes)
		return fsx_err(x, -EIO, "inode %u is out of range (%u inodes): run dmosfs fsck",
			       ino, x->s->ninodes);
	*blk = x->s->inode_start + ino / FS_INODES_PER_BLOCK;
	return 0;
}

int fs_inode_get(struct fsx *x, uint32_t ino, struct fs_inode *ip)
{
	const uint8_t *p;
	void *ref;
	uint32_t blk;
	int err = fs_inode_block(x, ino, &blk);

	if (err || (err = x->ops->get(x, blk, (const void **)&p, &ref)))
		return err;
	memcpy(ip, p + (ino % FS_INODES_PER_BLOCK) * FS_INODE_SIZE, sizeof(*ip));
	x->ops->put(x, ref);
	return 0;
}

int fs_inode_put(struct fsx *x, uint32_t ino, const struct fs_inode *ip)
{
	uint8_t *p;
	uint32_t blk;
	int err = fs_inode_block(x, ino, &blk);

	if (err || (err = x->ops->change(x, blk, false, (void **)&p)))
		return err;
	memcpy(p + (ino % FS_INODES_PER_BLOCK) * FS_INODE_SIZE, ip, sizeof(*ip));
	return 0;
}

/* ---- block maps ------------------------------------------------------------------------ */

static int check_data(struct fsx *x, uint32_t ino, uint32_t blk)
{
	if (blk && (blk < x->s->data_start || blk >= x->s->nblocks))
		return fsx_err(x, -EIO, "inode %u: block %u is outside the data area: "
			       "run dmosfs fsck", ino, blk);
	return 0;
}

/* Entry i of indirect block blk of inode ino, checked. */
static int ind_get(struct fsx *x, uint32_t ino, uint32_t blk, uint32_t i, uint32_t *out)
{
	const uint32_t *p;
	void *ref;
	int err = check_data(x, ino, blk);

	*out = 0;
	if (err || (err = x->ops->get(x, blk, (const void **)&p, &ref)))
		return err;
	*out = p[i];
	x->ops->put(x, ref);
	return check_data(x, ino, *out);
}

int fs_bmap(struct fsx *x, uint32_t ino, const struct fs_inode *ip, uint64_t idx, uint32_t *blk)
{
	uint32_t ind;
	int err;

	*blk = 0;
	if (idx < FS_NDIRECT) {
		*blk = ip->direct[idx];
		return check_data(x, ino, *blk);
	}
	idx -= FS_NDIRECT;
	if (idx < FS_PER_BLOCK)
		return ip->indirect ? ind_get(x, ino, ip->indirect, (uint32_t)idx, blk) : 0;
	idx -= FS_PER_BLOCK;
	if (idx >= (uint64_t)FS_PER_BLOCK * FS_PER_BLOCK)
		return fsx_err(x, -EFBIG, "inode %u: block index past the largest file", ino);
	if (!ip->dindirect)
		return 0;
	err = ind_get(x, ino, ip->dindirect, (uint32_t)(idx / FS_PER_BLOCK), &ind);
	if (err || !ind)
		return err;
	return ind_get(x, ino, ind, idx % FS_PER_BLOCK, blk);
}

/* *ref, an indirect block number in ip or in an indirect block: allocate
 * a zeroed block there if it is 0. */
static int ind_need(struct fsx *x, uint32_t ino, struct fs_inode *ip, uint32_t *ref)
{
	void *p;
	int err;

	if (*ref)
		return check_data(x, ino, *ref);
	if ((err = fs_balloc(x, ref)) || (err = x->ops->change(x, *ref, true, &p)))
		return err;
	ip->nblocks++;
	return 0;
}

/* Set entry i of indirect block ind to blk; *old gets what was there. */
static int ind_set(struct fsx *x, uint32_t ind, uint32_t i, uint32_t blk, uint32_t *old)
{
	uint32_t *p;
	int err = x->ops->change(x, ind, false, (void **)&p);

	if (err)
		return err;
	*old = p[i];
	p[i] = blk;
	return 0;
}

int fs_bmap_set(struct fsx *x, uint32_t ino, struct fs_inode *ip, uint64_t idx, uint32_t blk)
{
	uint32_t old = 0, ind, *p;
	int err;

	if (idx < FS_NDIRECT) {
		old = ip->direct[idx];
		ip->direct[idx] = blk;
	} else if ((idx -= FS_NDIRECT) < FS_PER_BLOCK) {
		if ((err = ind_need(x, ino, ip, &ip->indirect)) ||
		    (err = ind_set(x, ip->indirect, (uint32_t)idx, blk, &old)))
			return err;
	} else if ((idx -= FS_PER_BLOCK) < (uint64_t)FS_PER_BLOCK * FS_PER_BLOCK) {
		if ((err = ind_need(x, ino, ip, &ip->dindirect)) ||
		    (err = x->ops->change(x, ip->dindirect, false, (void **)&p)))
			return err;
		ind = p[idx / FS_PER_BLOCK];
		if ((err = ind_need(x, ino, ip, &ind)))
			return err;
		p[idx / FS_PER_BLOCK] = ind;    /* the copy stays put until the commit */
		if ((err = ind_set(x, ind, idx % FS_PER_BLOCK, blk, &old)))
			return err;
	} else {
		return fsx_err(x, -EFBIG, "file too large (at most %lu bytes)",
			       (unsigned long)FS_MAX_FILE_SIZE);
	}
	if (!old && blk)
		ip->nblocks++;
	else if (old && !blk && ip->nblocks)
		ip->nblocks--;
	return 0;
}

/* Blocks a step of fs_truncate_map may change: an indirect block at each
 * level, a bitmap block, the inode's block. */
#define TRUNC_ROOM 4

static int trunc_room(struct fsx *x, uint32_t ino, struct fs_inode *ip)
{
	int err = 0;

	if (x->ops->room(x) < TRUNC_ROOM && !(err = fs_inode_put(x, ino, ip)))
		err = x->ops->commit(x);
	return err;
}

/* Free block blk, listed at *where (cleared here). */
static int trunc_one(struct fsx *x, uint32_t ino, struct fs_inode *ip, uint32_t *where)
{
	int err = trunc_room(x, ino, ip);

	if (err || (err = fs_bfree(x, *where)))
		return err;
	*where = 0;
	if (ip->nblocks)
		ip->nblocks--;
	return 0;
}

/*
 * Free the entries of indirect block tbl that map page first (counted from
 * the table's first page) and past it. level 1 lists data blocks, level 2
 * indirect blocks of FS_PER_BLOCK pages each. Return: 1 if the table lists
 * nothing any more, 0 if it still does, or a negative errno.
 */
static int trunc_table(struct fsx *x, uint32_t ino, struct fs_inode *ip, uint32_t tbl,
		       int level, uint64_t first)
{
	uint64_t span = level == 2 ? FS_PER_BLOCK : 1;
	uint32_t *p, e;
	bool left = false;
	int err;

	for (uint32_t i = 0; i < FS_PER_BLOCK; i++) {
		uint64_t lo = (uint64_t)i * span;

		if ((err = ind_get(x, ino, tbl, i, &e)))
			return err;
		if (!e)
			continue;
		if (lo + span <= first) {
			left = true;
			continue;
		}
		if (level == 2 && lo < first) {
			if ((err = trunc_table(x, ino, ip, e, 1, first - lo)) < 0)
				return err;
			left = true;    /* the table keeps its first pages */
			continue;
		}
		if (level == 2 && (err = trunc_table(x, ino, ip, e, 1, 0)) < 0)
			return err;
		if ((err = trunc_room(x, ino, ip)) || (err = fs_bfree(x, e)) ||
		    (err = x->ops->change(x, tbl, false, (void **)&p)))
			return err;
		p[i] = 0;
		if (ip->nblocks)
			ip->nblocks--;
	}
	return !left;
}

int fs_truncate_map(struct fsx *x, uint32_t ino, struct fs_inode *ip, uint64_t first)
{
	uint64_t base[2] = { FS_NDIRECT, FS_NDIRECT + FS_PER_BLOCK };
	uint32_t *top[2] = { &ip->indirect, &ip->dindirect };
	int err;

	for (uint64_t i = first; i < FS_NDIRECT; i++)
		if (ip->direct[i] && (err = trunc_one(x, ino, ip, &ip->direct[i])))
			return err;
	for (int level = 1; level <= 2; level++) {
		uint64_t lo = first > base[level - 1] ? first - base[level - 1] : 0;
		uint64_t pages = level == 2 ? (uint64_t)FS_PER_BLOCK * FS_PER_BLOCK : FS_PER_BLOCK;

		if (!*top[level - 1] || lo >= pages)
			continue;
		if ((err = check_data(x, ino, *top[level - 1])))
			return err;
		err = trunc_table(x, ino, ip, *top[level - 1], level, lo);
		if (err < 0)
			return err;
		if (err && (err = trunc_one(x, ino, ip, top[level - 1])))
			return err;
	}
	return 0;
}

int fs_inode_destroy(struct fsx *x, uint32_t ino, struct fs_inode *ip)
{
	int err = fs_truncate_map(x, ino, ip, 0);

	if (err || (err = trunc_room(x, ino, ip)) || (err = fs_ifree(x, ino, ip)))
		return err;
	return x->ops->commit(x);
}

/* ---- the bitmaps ------------------------------------------------------------------------ */

/* Find a clear bit in [lo, hi) of the bitmap at start, from hint on, and
 * set it in the transaction; none says why when there is none. */
static int bit_alloc(struct fsx *x, uint32_t start, uint64_t lo, uint64_t hi, uint64_t hint,
		     uint32_t *out, const char *none)
{
	const uint64_t bits = (uint64_t)FS_BLOCK * 8;
	uint64_t b = hint >= lo && hint < hi ? hint : lo, left = hi - lo;
	int err;

	while (left) {
		uint64_t bb = b / bits, end = MIN(hi, (bb + 1) * bits), n = MIN(end - b, left);
		const uint8_t *p;
		uint8_t *w;
		void *ref;

		if ((err = x->ops->get(x, start + (uint32_t)bb, (const void **)&p, &ref)))
			return err;
		for (uint64_t k = 0; k < n; k++, b++) {
			uint32_t off = (uint32_t)(b % bits);

			if (p[off / 8] == 0xff && off % 8 == 0 && k + 8 <= n) {
				k += 7;
				b += 7;
				continue;
			}
			if (p[off / 8] & (1u << (off % 8)))
				continue;
			x->ops->put(x, ref);
			if ((err = x->ops->change(x, start + (uint32_t)bb, false, (void **)&w)))
				return err;
			if (w[off / 8] & (1u << (off % 8)))
				return fsx_err(x, -EIO, "bitmap block %u changed under its lock",
					       start + (uint32_t)bb);
			w[off / 8] |= (uint8_t)(1u << (off % 8));
			*out = (uint32_t)b;
			return 0;
		}
		x->ops->put(x, ref);
		left -= n;
		if (b >= hi)
			b = lo;
	}
	return fsx_err(x, -ENOSPC, "%s", none);
}

static int bit_clear(struct fsx *x, uint32_t start, uint32_t bit, const char *what)
{
	const uint32_t bits = FS_BLOCK * 8;
	uint8_t *p;
	int err = x->ops->change(x, start + bit / bits, false, (void **)&p);

	if (err)
		return err;
	if (!(p[bit % bits / 8] & (1u << (bit % 8))))
		return fsx_err(x, -EIO, "%s %u is already free: run dmosfs fsck", what, bit);
	p[bit % bits / 8] &= (uint8_t)~(1u << (bit % 8));
	return 0;
}

int fs_balloc(struct fsx *x, uint32_t *blk)
{
	int err = bit_alloc(x, x->s->bbitmap_start, x->s->data_start, x->s->nblocks, x->bhint, blk,
			    "no space left: every block is in use");

	if (!err)
		x->bhint = *blk + 1;
	return err;
}

int fs_bfree(struct fsx *x, uint32_t blk)
{
	if (blk < x->s->data_start || blk >= x->s->nblocks)
		return fsx_err(x, -EIO, "block %u is outside the data area: run dmosfs fsck", blk);
	return bit_clear(x, x->s->bbitmap_start, blk, "block");
}

int fs_ialloc(struct fsx *x, uint32_t *ino)
{
	struct fs_inode in;
	int err = bit_alloc(x, x->s->ibitmap_start, FS_ROOT_INO + 1, x->s->ninodes, x->ihint, ino,
			    "no inode left: every one is in use");

	if (err || (err = fs_inode_get(x, *ino, &in)))
		return err;
	if (in.mode)
		return fsx_err(x, -EIO, "inode %u is marked free but in use: run dmosfs fsck", *ino);
	x->ihint = *ino + 1;
	return 0;
}

int fs_ifree(struct fsx *x, uint32_t ino, struct fs_inode *ip)
{
	uint32_t gen = ip->generation;
	int err;

	memset(ip, 0, sizeof(*ip));
	ip->generation = gen;           /* the next user adds one */
	if ((err = fs_inode_put(x, ino, ip)))
		return err;
	return bit_clear(x, x->s->ibitmap_start, ino, "inode");
}

/* ---- directories ------------------------------------------------------------------------ */

bool fs_valid_name(const char *name, size_t len)
{
	if (len < 1 || len > FS_NAME_MAX)
		return false;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || !name[i])
			return false;
	return true;
}

/* Blocks of directory dip, checking its size. */
static int dir_blocks(struct fsx *x, uint32_t dino, const struct fs_inode *dip, uint64_t *nb)
{
	if ((dip->mode & FS_S_IFMT) != FS_S_IFDIR)
		return fsx_err(x, -ENOTDIR, "inode %u is not a directory", dino);
	if (!dip->size || dip->size > FS_MAX_FILE_SIZE || dip->size % FS_BLOCK)
		return fsx_err(x, -EIO, "directory %u: size %lu is not whole blocks: "
			       "run dmosfs fsck", dino, (unsigned long)dip->size);
	*nb = dip->size / FS_BLOCK;
	return 0;
}

static bool rec_used(const struct fs_dirent *d)
{
	return d->ino && d->namelen >= 1 && d->namelen <= FS_NAME_MAX;
}

/*
 * Walk the records of dino from position *pos on: those in use (with
 * free, the free ones instead). fn returns non-zero to stop; that is the
 * return, and *pos is then the record's position (else the directory's
 * record count).
 */
static int dir_walk(struct fsx *x, uint32_t dino, const struct fs_inode *dip, bool free,
		    uint64_t *pos, int (*fn)(void *arg, const struct fs_dirent *d,
					     const struct fs_dirloc *at), void *arg)
{
	uint64_t nb;
	int err = dir_blocks(x, dino, dip, &nb), r = 0;

	for (uint64_t idx = *pos / FS_DIRENTS_PER_BLOCK; !err && !r && idx < nb; idx++) {
		const struct fs_dirent *recs;
		uint32_t blk, rec = (uint32_t)(*pos % FS_DIRENTS_PER_BLOCK);
		void *ref;

		if ((err = fs_bmap(x, dino, dip, idx, &blk)))
			break;
		if (!blk) {             /* a hole: free records, none to report in use */
			if (free) {
				struct fs_dirent none = { 0 };
				struct fs_dirloc at = { 0, rec };

				r = fn(arg, &none, &at);
				if (r)
					break;
			}
			*pos = (idx + 1) * FS_DIRENTS_PER_BLOCK;
			continue;
		}
		if ((err = x->ops->get(x, blk, (const void **)&recs, &ref)))
			break;
		for (; rec < FS_DIRENTS_PER_BLOCK; rec++, (*pos)++) {
			struct fs_dirloc at = { blk, rec };

			if (free ? !recs[rec].ino : rec_used(&recs[rec]))
				if ((r = fn(arg, &recs[rec], &at)))
					break;
		}
		x->ops->put(x, ref);
	}
	return err ? err : r;
}

struct lookup_arg {
	const char *name;
	size_t len;
	uint32_t ino;
	struct fs_dirloc at;
};

static int lookup_one(void *arg, const struct fs_dirent *d, const struct fs_dirloc *at)
{
	struct lookup_arg *l = arg;

	if (d->namelen != l->len || memcmp(d->name, l->name, l->len))
		return 0;
	l->ino = d->ino;
	l->at = *at;
	return 1;
}

int fs_dir_lookup(struct fsx *x, uint32_t dino, const struct fs_inode *dip,
		  const char *name, size_t len, uint32_t *ino, struct fs_dirloc *where)
{
	struct lookup_arg l = { name, len, 0, { 0, 0 } };
	uint64_t pos = 2;
	int r = dir_walk(x, dino, dip, false, &pos, lookup_one, &l);

	if (r < 0)
		return r;
	if (!r)
		return -ENOENT;
	*ino = l.ino;
	if (where)
		*where = l.at;
	return 0;
}

static int free_one(void *arg, const struct fs_dirent *d, const struct fs_dirloc *at)
{
	(void)d;
	*(struct fs_dirloc *)arg = *at;
	return 1;
}

int fs_dir_add(struct fsx *x, uint32_t dino, struct fs_inode *dip,
	       const char *name, size_t len, uint32_t ino, uint8_t type)
{
	struct fs_dirloc at = { 0, 0 };
	struct fs_dirent *d;
	uint64_t nb, pos = 2;
	int err = dir_walk(x, dino, dip, true, &pos, free_one, &at);

	if (err < 0)
		return err;
	if (err && !at.blk) {           /* a free record in a hole: fill the hole */
		if ((err = fs_balloc(x, &at.blk)) || (err = x->ops->change(x, at.blk, true, (void **)&d)) ||
		    (err = fs_bmap_set(x, dino, dip, pos / FS_DIRENTS_PER_BLOCK, at.blk)))
			return err;
	} else if (!err) {              /* full: one more block */
		if ((err = dir_blocks(x, dino, dip, &nb)))
			return err;
		if (nb >= FS_MAX_FILE_BLOCKS)
			return fsx_err(x, -EFBIG, "directory %u is full", dino);
		if ((err = fs_balloc(x, &at.blk)) || (err = x->ops->change(x, at.blk, true, (void **)&d)) ||
		    (err = fs_bmap_set(x, dino, dip, nb, at.blk)))
			return err;
		dip->size += FS_BLOCK;
		at.rec = 0;
	}
	if ((err = x->ops->change(x, at.blk, false, (void **)&d)))
		return err;
	d += at.rec;
	memset(d, 0, sizeof(*d));
	d->ino = ino;
	d->type = type;
	d->namelen = (uint8_t)len;
	memcpy(d->name, name, len);
	dip->mtime_ns = dip->ctime_ns = x->ops->now(x);
	return 0;
}

int fs_dir_remove(struct fsx *x, const struct fs_dirloc *where)
{
	struct fs_dirent *d;
	int err = x->ops->change(x, where->blk, false, (void **)&d);

	if (err)
		return err;
	memset(d + where->rec, 0, sizeof(*d));
	return 0;
}

int fs_dir_set(struct fsx *x, const struct fs_dirloc *where, uint32_t ino, uint8_t type)
{
	struct fs_dirent *d;
	int err = x->ops->change(x, where->blk, false, (void **)&d);

	if (err)
		return err;
	d[where->rec].ino = ino;
	d[where->rec].type = type;
	return 0;
}

struct each_arg {
	int (*fn)(void *arg, const struct fs_dirent *d);
	void *arg;
};

static int each_one(void *arg, const struct fs_dirent *d, const struct fs_dirloc *at)
{
	struct each_arg *e = arg;

	(void)at;
	return e->fn(e->arg, d);
}

int fs_dir_each(struct fsx *x, uint32_t dino, const struct fs_inode *dip,
		int (*fn)(void *arg, const struct fs_dirent *d), void *arg)
{
	struct each_arg e = { fn, arg };
	uint64_t pos = 2;

	return dir_walk(x, dino, dip, false, &pos, each_one, &e);
}

static int copy_one(void *arg, const struct fs_dirent *d, const struct fs_dirloc *at)
{
	(void)at;
	memcpy(arg, d, sizeof(*d));
	return 1;
}

int fs_dir_next(struct fsx *x, uint32_t dino, const struct fs_inode *dip, uint64_t *pos,
		struct fs_dirent *out)
{
	int r = dir_walk(x, dino, dip, false, pos, copy_one, out);

	if (r > 0)
		(*pos)++;
	return r;
}

static int any_one(void *arg, const struct fs_dirent *d)
{
	(void)arg;
	(void)d;
	return 1;
}

int fs_dir_empty(struct fsx *x, uint32_t dino, const struct fs_inode *dip)
{
	int r = fs_dir_each(x, dino, dip, any_one, NULL);

	return r < 0 ? r : !r;
}
