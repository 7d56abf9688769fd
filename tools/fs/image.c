/*
 * The host's access to a dmosfs image (see image.h): block I/O, journaled
 * transactions, and the inode, block map and directory operations the
 * dmosfs subcommands are made of.
 *
 * A transaction collects whole metadata blocks in memory (tx_block); file
 * contents are written straight to their blocks before the commit that links
 * them. tx_commit logs the blocks in our journal slot, syncs, writes the
 * header (the commit point), syncs, writes the blocks home, syncs and writes
 * the empty header: each transaction is home before the next one begins, so
 * a block freed in one may be reused by the next.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/fs/image.h"

int img_err(struct img *m, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
	return err;
}

int img_open(struct img *m, const char *path, int writable, int raw)
{
	uint8_t blk0[FS_BLOCK];
	struct stat st;
	uint64_t bytes;
	const char *crash = getenv("DMOSFS_CRASH_AT");
	int err;

	memset(m, 0, sizeof(*m));
	m->path = path;
	m->writable = writable;
	/* Test hook: SIGKILL ourselves just before the n-th write, as a
	 * power cut would stop us (tests/tools/test_dmosfs.py). */
	m->crash_at = crash ? strtol(crash, NULL, 10) : 0;
	m->fd = open(path, writable ? O_RDWR : O_RDONLY);
	if (m->fd < 0)
		return img_err(m, -errno, "%s", strerror(errno));
	if (fstat(m->fd, &st) < 0)
		return img_err(m, -errno, "%s", strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(m->fd, BLKGETSIZE64, &bytes) < 0)
			return img_err(m, -errno, "size of the device: %s", strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		bytes = (uint64_t)st.st_size;
	} else {
		return img_err(m, -EINVAL, "neither a file nor a block device");
	}
	m->disk_blocks = bytes / FS_BLOCK;
	if (raw)
		return 0;
	if (!m->disk_blocks)
		return img_err(m, -EINVAL, "not a dmosfs: smaller than one block");
	err = img_read(m, 0, blk0);
	if (err)
		return err;
	memcpy(&m->s, blk0, sizeof(m->s));
	if (fs_super_check(&m->s, m->disk_blocks, m->why, sizeof(m->why))) {
		char why[sizeof(m->why)];

		memcpy(why, m->why, sizeof(why));
		return img_err(m, -EINVAL, "not a dmosfs: %s", why);
	}
	return 0;
}

void img_close(struct img *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	free(m->tx.buf);
	m->tx.buf = NULL;
}

/* The blocks one may address: the disk's, and only the file system's once
 * its superblock is known. */
static uint64_t limit(const struct img *m)
{
	return m->s.nblocks ? m->s.nblocks : m->disk_blocks;
}

int img_read(struct img *m, uint32_t blk, void *buf)
{
	ssize_t r;

	if (blk >= limit(m))
		return img_err(m, -EIO, "block %u is past the end (%lu blocks)", blk,
			       (unsigned long)limit(m));
	r = pread(m->fd, buf, FS_BLOCK, (off_t)blk * FS_BLOCK);
	if (r != FS_BLOCK)
		return img_err(m, -EIO, "reading block %u: %s", blk,
			       r < 0 ? strerror(errno) : "short read");
	return 0;
}

int img_write(struct img *m, uint32_t blk, const void *buf)
{
	ssize_t r;

	if (blk >= limit(m))
		return img_err(m, -EIO, "block %u is past the end (%lu blocks)", blk,
			       (unsigned long)limit(m));
	if (++m->writes == m->crash_at)
		raise(SIGKILL);
	r = pwrite(m->fd, buf, FS_BLOCK, (off_t)blk * FS_BLOCK);
	if (r != FS_BLOCK)
		return img_err(m, -EIO, "writing block %u: %s", blk,
			       r < 0 ? strerror(errno) : "short write");
	return 0;
}

int img_sync(struct img *m)
{
	if (fdatasync(m->fd) < 0)
		return img_err(m, -errno, "sync: %s", strerror(errno));
	return 0;
}

int img_read_cb(void *ctx, uint32_t blk, void *buf)
{
	return img_read(ctx, blk, buf);
}

int img_write_cb(void *ctx, uint32_t blk, const void *buf)
{
	return img_write(ctx, blk, buf);
}

int img_begin(struct img *m, uint32_t slot)
{
	static struct fs_journal_head h;
	static uint8_t scratch[2 * FS_BLOCK];
	char why[256];
	int r;

	if (!fs_super_writable(&m->s))
		return img_err(m, -EROFS, "read-only: unknown ro_compat features 0x%x",
			       m->s.feature_ro_compat & ~FS_FEATURE_RO_COMPAT_KNOWN);
	if (slot >= m->s.njournals)
		return img_err(m, -EINVAL, "no journal slot %u: the file system has %u",
			       slot, m->s.njournals);
	for (uint32_t j = 0; j < m->s.njournals; j++) {
		r = img_read(m, fs_journal_block(&m->s, j), &h);
		if (r)
			return r;
		r = fs_journal_check(&m->s, &h, j, why, sizeof(why));
		if (r && j != slot)
			return img_err(m, -EBUSY, "journal %u %s: run dmosfs fsck --repair first", j,
				       r > 0 ? "holds a transaction not written home" : why);
		if (r < 0)
			return img_err(m, -EIO, "journal %u: %s: run dmosfs fsck --repair", j, why);
		if (r > 0) {
			/* Ours: the last run died after a commit; finish it, as
			 * a node finishes its own at boot. */
			r = fs_journal_replay(&m->s, j, img_read_cb, img_write_cb, m,
					      scratch, why, sizeof(why));
			if (r < 0)
				return img_err(m, r, "journal %u: %s", j, why);
			fprintf(stderr, "dmosfs: %s: journal %u: %s\n", m->path, j, why);
			if ((r = img_sync(m)) || (r = img_read(m, fs_journal_block(&m->s, j), &h)))
				return r;
		}
		if (j == slot)
			m->seq = h.seq;
	}
	m->slot = slot;
	m->tx.cap = m->s.journal_blocks - 1;
	if (m->tx.cap > FS_JOURNAL_MAX)
		m->tx.cap = FS_JOURNAL_MAX;
	m->tx.buf = calloc(m->tx.cap, FS_BLOCK);
	if (!m->tx.buf)
		return img_err(m, -ENOMEM, "no memory for a transaction");
	m->tx.n = 0;
	memset(m->tx.hash, 0, sizeof(m->tx.hash));
	m->bhint = m->s.data_start;
	m->ihint = FS_ROOT_INO + 1;
	return 0;
}

static uint32_t tx_hash(uint32_t blk)
{
	return (blk * 2654435761u) >> (32 - 11);
}

/* Index + 1 of @blk in the transaction, or 0. */
static uint32_t tx_find(const struct img *m, uint32_t blk)
{
	if (!m->tx.buf)
		return 0;
	for (uint32_t h = tx_hash(blk);; h = (h + 1) & (TX_HASH - 1)) {
		uint32_t i = m->tx.hash[h];

		if (!i || m->tx.home[i - 1] == blk)
			return i;
	}
}

int blk_read(struct img *m, uint32_t blk, void *buf)
{
	uint32_t i = tx_find(m, blk);

	if (i) {
		memcpy(buf, m->tx.buf[i - 1], FS_BLOCK);
		return 0;
	}
	return img_read(m, blk, buf);
}

void *tx_block(struct img *m, uint32_t blk, int fresh)
{
	uint32_t i = tx_find(m, blk), h;

	m->ind[0].blk = m->ind[1].blk = 0;     /* the block may change */

	if (!i) {
		if (!m->tx.buf) {
			img_err(m, -EINVAL, "not writing");
			return NULL;
		}
		if (blk < m->s.ibitmap_start || blk >= m->s.nblocks) {
			img_err(m, -EIO, "block %u cannot be journaled", blk);
			return NULL;
		}
		if (m->tx.n == m->tx.cap) {
			img_err(m, -ENOSPC, "the change does not fit in a journal (%u blocks)",
				m->tx.cap);
			return NULL;
		}
		i = m->tx.n + 1;
		if (!fresh && img_read(m, blk, m->tx.buf[i - 1]))
			return NULL;
		m->tx.home[i - 1] = blk;
		m->tx.n++;
		for (h = tx_hash(blk); m->tx.hash[h]; h = (h + 1) & (TX_HASH - 1))
			;
		m->tx.hash[h] = (uint16_t)i;
	}
	if (fresh)
		memset(m->tx.buf[i - 1], 0, FS_BLOCK);
	return m->tx.buf[i - 1];
}

uint32_t tx_room(const struct img *m)
{
	return m->tx.cap - m->tx.n;
}

void tx_abort(struct img *m)
{
	m->tx.n = 0;
	memset(m->tx.hash, 0, sizeof(m->tx.hash));
}

int tx_commit(struct img *m)
{
	static struct fs_journal_head h;
	uint32_t at = fs_journal_block(&m->s, m->slot), crc = 0, n = m->tx.n;
	int err = 0;

	if (!n)
		return 0;
	for (uint32_t i = 0; i < n && !err; i++) {
		err = img_write(m, at + 1 + i, m->tx.buf[i]);
		crc = crc32c(crc, m->tx.buf[i], FS_BLOCK);
	}
	if (!err)
		err = img_sync(m);
	if (!err) {
		fs_journal_empty(&m->s, m->slot, m->seq, &h);
		h.nblocks = n;
		h.data_csum = crc;
		memcpy(h.home, m->tx.home, n * sizeof(h.home[0]));
		h.csum = fs_journal_csum(&h);
		err = img_write(m, at, &h);
	}
	if (!err)
		err = img_sync(m);
	for (uint32_t i = 0; i < n && !err; i++)
		err = img_write(m, m->tx.home[i], m->tx.buf[i]);
	if (!err)
		err = img_sync(m);
	if (!err) {
		fs_journal_empty(&m->s, m->slot, m->seq + 1, &h);
		err = img_write(m, at, &h);
	}
	if (!err)
		err = img_sync(m);
	tx_abort(m);
	if (err)
		return err;
	m->seq++;
	return 0;
}

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

/* Find a clear bit in [lo, hi) of the bitmap at @start, from @hint on, and
 * set it in the transaction; @none says why when there is none. */
static int bit_alloc(struct img *m, uint32_t start, uint64_t lo, uint64_t hi, uint64_t hint,
		     uint32_t *out, const char *none)
{
	uint8_t buf[FS_BLOCK];
	uint64_t bits = (uint64_t)FS_BLOCK * 8, loaded = UINT64_MAX;
	int err;

	if (hint < lo || hint >= hi)
		hint = lo;
	for (uint64_t k = 0; k < hi - lo; k++) {
		uint64_t b = hint + k < hi ? hint + k : hint + k - (hi - lo);
		uint64_t bb = b / bits;
		uint32_t off = (uint32_t)(b % bits);

		if (bb != loaded) {
			if ((err = blk_read(m, start + (uint32_t)bb, buf)))
				return err;
			loaded = bb;
		}
		if (buf[off / 8] == 0xff && off % 8 == 0 && b + 8 <= hi) {
			k += 7;
			continue;
		}
		if (!(buf[off / 8] & (1u << (off % 8)))) {
			uint8_t *p = tx_block(m, start + (uint32_t)bb, 0);

			if (!p)
				return -ENOSPC;
			p[off / 8] |= (uint8_t)(1u << (off % 8));
			*out = (uint32_t)b;
			return 0;
		}
	}
	return img_err(m, -ENOSPC, "%s", none);
}

static int bit_clear(struct img *m, uint32_t start, uint32_t bit, const char *what)
{
	uint32_t bits = FS_BLOCK * 8;
	uint8_t *p = tx_block(m, start + bit / bits, 0);

	if (!p)
		return -ENOSPC;
	if (!(p[bit % bits / 8] & (1u << (bit % 8))))
		return img_err(m, -EIO, "%s %u is already free: run dmosfs fsck", what, bit);
	p[bit % bits / 8] &= (uint8_t)~(1u << (bit % 8));
	return 0;
}

int balloc(struct img *m, uint32_t *blk)
{
	int err = bit_alloc(m, m->s.bbitmap_start, m->s.data_start, m->s.nblocks, m->bhint, blk,
			    "no space left: every block is in use");

	if (!err)
		m->bhint = *blk + 1;
	return err;
}

int bfree(struct img *m, uint32_t blk)
{
	if (blk < m->s.data_start || blk >= m->s.nblocks)
		return img_err(m, -EIO, "block %u is outside the data area: run dmosfs fsck", blk);
	return bit_clear(m, m->s.bbitmap_start, blk, "block");
}

int ialloc(struct img *m, uint32_t *ino)
{
	struct fs_inode in;
	int err = bit_alloc(m, m->s.ibitmap_start, FS_ROOT_INO + 1, m->s.ninodes, m->ihint, ino,
			    "no inode left: every one is in use");

	if (err || (err = inode_get(m, *ino, &in)))
		return err;
	if (in.mode)
		return img_err(m, -EIO, "inode %u is marked free but in use: run dmosfs fsck", *ino);
	m->ihint = *ino + 1;
	return 0;
}

int ifree(struct img *m, uint32_t ino, struct fs_inode *ip)
{
	uint32_t gen = ip->generation;

	memset(ip, 0, sizeof(*ip));
	ip->generation = gen;           /* the next user adds one */
	int err = inode_put(m, ino, ip);
	return err ? err : bit_clear(m, m->s.ibitmap_start, ino, "inode");
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

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void print_name(FILE *f, const char *name, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c >= 0x7f || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}
