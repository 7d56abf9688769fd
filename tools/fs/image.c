/*
 * The host's access to a dmosfs image (see image.h): block I/O and
 * journaled transactions, and over them the block ops fs/fsops.c's shared
 * inode, block map and directory operations use (img_fsx_ops).
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
	vsnprintf(m->x.why, sizeof(m->x.why), fmt, ap);
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
	m->x.s = &m->s;
	m->x.ops = &img_fsx_ops;
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
	if (fs_super_check(&m->s, m->disk_blocks, m->x.why, sizeof(m->x.why))) {
		char why[sizeof(m->x.why)];

		memcpy(why, m->x.why, sizeof(why));
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
	m->x.bhint = m->s.data_start;
	m->x.ihint = FS_ROOT_INO + 1;
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

/* ---- fs/fsops.c's view of the image ------------------------------------------------ */

static int x_get(struct fsx *x, uint32_t blk, const void **data, void **ref)
{
	struct img *m = IMG(x);
	uint32_t i = tx_find(m, blk);
	void *buf;
	int err;

	*ref = NULL;
	if (i) {
		*data = m->tx.buf[i - 1];
		return 0;
	}
	if (!(buf = malloc(FS_BLOCK)))
		return img_err(m, -ENOMEM, "no memory for a block");
	if ((err = img_read(m, blk, buf))) {
		free(buf);
		return err;
	}
	*data = *ref = buf;
	return 0;
}

static void x_put(struct fsx *x, void *ref)
{
	(void)x;
	free(ref);
}

static int x_change(struct fsx *x, uint32_t blk, bool fresh, void **data)
{
	*data = tx_block(IMG(x), blk, fresh);
	return *data ? 0 : -ENOSPC;
}

static uint32_t x_room(struct fsx *x)
{
	return tx_room(IMG(x));
}

static int x_commit(struct fsx *x)
{
	return tx_commit(IMG(x));
}

static uint64_t x_now(struct fsx *x)
{
	(void)x;
	return now_ns();
}

const struct fsx_ops img_fsx_ops = {
	.get = x_get, .put = x_put, .change = x_change, .room = x_room, .commit = x_commit,
	.now = x_now,
};

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
