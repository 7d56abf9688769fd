/*
 * The code the kernel and the host tools share about dmosfs's bytes on the
 * disk (fs/format.h): the CRC, the superblock's checks and mkfs's geometry,
 * the journal header's checks and journal replay, so that fsck and a node
 * recovering another one judge and replay a journal the same way.
 *
 * It is built twice: freestanding into the kernel (kernel/kernel.h gives
 * memset, memcmp and snprintf) and hosted into tools/fs and tests/unit.
 */
#if __STDC_HOSTED__
#include <errno.h>
#include <stdio.h>
#include <string.h>
#else
#include "kernel/kernel.h"
#endif
#include <stdarg.h>

#include "fs/format.h"

/* crc32c, reflected polynomial 0x82F63B78, four bits at a time: a 64-byte
 * table, and fast enough for superblocks and journals. */
static const uint32_t crc32c_nibble[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1,
	0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
	0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
	0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

uint32_t crc32c(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
		crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
	}
	return ~crc;
}

/* crc32c of @len bytes at @p, the 4-byte field at @off taken as 0. */
static uint32_t csum_without(const void *p, size_t len, size_t off)
{
	static const uint8_t zero[4];
	uint32_t c;

	c = crc32c(0, p, off);
	c = crc32c(c, zero, sizeof(zero));
	return crc32c(c, (const uint8_t *)p + off + 4, len - off - 4);
}

uint32_t fs_super_csum(const struct fs_super *s)
{
	return csum_without(s, sizeof(*s), offsetof(struct fs_super, csum));
}

uint32_t fs_journal_csum(const struct fs_journal_head *h)
{
	return csum_without(h, sizeof(*h), offsetof(struct fs_journal_head, csum));
}

__attribute__((format(printf, 3, 4)))
static int say(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (why && n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

#define BITS_PER_BLOCK ((uint64_t)FS_BLOCK * 8)

int fs_super_check(const struct fs_super *s, uint64_t disk_blocks, char *why, size_t n)
{
	if (s->magic != FS_MAGIC)
		return say(why, n, "bad magic 0x%lx", (unsigned long)s->magic);
	if (s->version != FS_VERSION)
		return say(why, n, "version %u, this code knows %u", s->version, FS_VERSION);
	if (s->block_size != FS_BLOCK)
		return say(why, n, "block size %u, not %u", s->block_size, FS_BLOCK);
	if (s->feature_incompat & ~FS_FEATURE_INCOMPAT_KNOWN)
		return say(why, n, "unknown incompatible features 0x%x",
			   s->feature_incompat & ~FS_FEATURE_INCOMPAT_KNOWN);
	if (s->csum != fs_super_csum(s))
		return say(why, n, "bad checksum 0x%08x (computed 0x%08x)", s->csum, fs_super_csum(s));
	if (disk_blocks && s->nblocks > disk_blocks)
		return say(why, n, "%u blocks, but the disk holds %lu", s->nblocks,
			   (unsigned long)disk_blocks);
	if (s->root_ino != FS_ROOT_INO)
		return say(why, n, "root inode %u, not %u", s->root_ino, FS_ROOT_INO);
	if (s->ninodes <= FS_ROOT_INO)
		return say(why, n, "%u inodes: not even a root", s->ninodes);
	if (s->njournals < 1 || s->njournals > FS_MAX_JOURNALS)
		return say(why, n, "%u journals, not 1..%u", s->njournals, FS_MAX_JOURNALS);
	if (s->journal_blocks < FS_MIN_JOURNAL || s->journal_blocks > FS_JOURNAL_MAX + 1)
		return say(why, n, "journals of %u blocks, not %u..%u", s->journal_blocks,
			   FS_MIN_JOURNAL, FS_JOURNAL_MAX + 1);
	if (s->ibitmap_blocks < div_up(s->ninodes, BITS_PER_BLOCK))
		return say(why, n, "inode bitmap of %u blocks is too small for %u inodes",
			   s->ibitmap_blocks, s->ninodes);
	if (s->bbitmap_blocks < div_up(s->nblocks, BITS_PER_BLOCK))
		return say(why, n, "block bitmap of %u blocks is too small for %u blocks",
			   s->bbitmap_blocks, s->nblocks);
	if (s->inode_blocks < div_up(s->ninodes, FS_INODES_PER_BLOCK))
		return say(why, n, "inode table of %u blocks is too small for %u inodes",
			   s->inode_blocks, s->ninodes);

	/* The areas, in their order on the disk; each starts at or after
	 * the end of the one before and ends inside the file system. */
	const struct { const char *name; uint64_t start, len; } area[] = {
		{ "superblock", 0, 1 },
		{ "journals", s->journal_start, (uint64_t)s->njournals * s->journal_blocks },
		{ "inode bitmap", s->ibitmap_start, s->ibitmap_blocks },
		{ "block bitmap", s->bbitmap_start, s->bbitmap_blocks },
		{ "inode table", s->inode_start, s->inode_blocks },
		{ "data area", s->data_start, 1 },
	};
	for (size_t i = 1; i < sizeof(area) / sizeof(area[0]); i++) {
		uint64_t prev_end = area[i - 1].start + area[i - 1].len;

		if (area[i].start < prev_end)
			return say(why, n, "%s at block %lu overlaps the %s (blocks %lu..%lu)",
				   area[i].name, (unsigned long)area[i].start, area[i - 1].name,
				   (unsigned long)area[i - 1].start, (unsigned long)prev_end - 1);
		if (area[i].start + area[i].len > s->nblocks)
			return say(why, n, "%s (blocks %lu..%lu) is past the end (%u blocks)",
				   area[i].name, (unsigned long)area[i].start,
				   (unsigned long)(area[i].start + area[i].len - 1), s->nblocks);
	}
	return 0;
}

int fs_geometry(struct fs_super *s, uint32_t nblocks, uint32_t ninodes,
		uint32_t njournals, uint32_t journal_blocks, char *why, size_t n)
{
	uint64_t inodes = ninodes, end;

	memset(s, 0, sizeof(*s));
	if (!njournals)
		njournals = 8;
	if (njournals > FS_MAX_JOURNALS)
		return say(why, n, "%u journals: at most %u", njournals, FS_MAX_JOURNALS);
	if (!journal_blocks) {
		journal_blocks = 512;
		if ((uint64_t)njournals * journal_blocks > nblocks / 4)
			journal_blocks = nblocks / 4 / njournals;
		if (journal_blocks < FS_MIN_JOURNAL)
			journal_blocks = FS_MIN_JOURNAL;
	}
	if (journal_blocks < FS_MIN_JOURNAL || journal_blocks > FS_JOURNAL_MAX + 1)
		return say(why, n, "journals of %u blocks: not %u..%u", journal_blocks,
			   FS_MIN_JOURNAL, FS_JOURNAL_MAX + 1);
	if (!inodes) {
		inodes = (uint64_t)nblocks * FS_BLOCK / 16384;
		if (inodes < 64)
			inodes = 64;
	}
	if (inodes <= FS_ROOT_INO)
		return say(why, n, "%lu inodes: not even a root", (unsigned long)inodes);
	inodes = div_up(inodes, FS_INODES_PER_BLOCK) * FS_INODES_PER_BLOCK;
	if (inodes > UINT32_MAX - FS_INODES_PER_BLOCK + 1)
		return say(why, n, "%lu inodes: too many", (unsigned long)inodes);

	s->magic = FS_MAGIC;
	s->version = FS_VERSION;
	s->block_size = FS_BLOCK;
	s->nblocks = nblocks;
	s->ninodes = (uint32_t)inodes;
	s->njournals = njournals;
	s->journal_blocks = journal_blocks;
	s->root_ino = FS_ROOT_INO;
	end = 1;
	s->journal_start = (uint32_t)end;
	end += (uint64_t)njournals * journal_blocks;
	s->ibitmap_start = (uint32_t)end;
	s->ibitmap_blocks = (uint32_t)div_up(inodes, BITS_PER_BLOCK);
	end += s->ibitmap_blocks;
	s->bbitmap_start = (uint32_t)end;
	s->bbitmap_blocks = (uint32_t)div_up(nblocks, BITS_PER_BLOCK);
	end += s->bbitmap_blocks;
	s->inode_start = (uint32_t)end;
	s->inode_blocks = (uint32_t)(inodes / FS_INODES_PER_BLOCK);
	end += s->inode_blocks;
	if (end + 1 > nblocks)          /* the root directory's block, at least */
		return say(why, n, "%u blocks do not hold the %lu blocks of metadata of %lu inodes "
			   "and %u journals of %u blocks", nblocks, (unsigned long)end,
			   (unsigned long)inodes, njournals, journal_blocks);
	s->data_start = (uint32_t)end;
	return 0;
}

void fs_journal_empty(const struct fs_super *s, uint32_t slot, uint64_t seq,
		      struct fs_journal_head *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = FS_JOURNAL_MAGIC;
	h->node = slot;
	h->seq = seq;
	memcpy(h->uuid, s->uuid, sizeof(h->uuid));
	h->csum = fs_journal_csum(h);
}

int fs_journal_check(const struct fs_super *s, const struct fs_journal_head *h,
		     uint32_t slot, char *why, size_t n)
{
	if (slot >= s->njournals)
		return say(why, n, "no journal %u: the file system has %u", slot, s->njournals);
	if (h->magic != FS_JOURNAL_MAGIC)
		return say(why, n, "bad header magic 0x%08x", h->magic);
	if (h->csum != fs_journal_csum(h))
		return say(why, n, "bad header checksum 0x%08x (computed 0x%08x)",
			   h->csum, fs_journal_csum(h));
	if (memcmp(h->uuid, s->uuid, sizeof(h->uuid)))
		return say(why, n, "header of another file system (uuid differs)");
	if (h->node != slot)
		return say(why, n, "header says it is journal %u", h->node);
	if (!h->nblocks)
		return 0;
	if (h->nblocks > s->journal_blocks - 1 || h->nblocks > FS_JOURNAL_MAX)
		return say(why, n, "header logs %u blocks, the journal holds %u", h->nblocks,
			   s->journal_blocks - 1);
	for (uint32_t i = 0; i < h->nblocks; i++) {
		if (h->home[i] < s->ibitmap_start)
			return say(why, n, "logged block %u belongs at block %u, in the "
				   "superblock or the journals", i + 1, h->home[i]);
		if (h->home[i] >= s->nblocks)
			return say(why, n, "logged block %u belongs at block %u, past the end "
				   "(%u blocks)", i + 1, h->home[i], s->nblocks);
	}
	return 1;
}

int fs_journal_replay(const struct fs_super *s, uint32_t slot,
		      fs_read_block_fn rd, fs_write_block_fn wr, void *ctx,
		      void *scratch, char *why, size_t n)
{
	struct fs_journal_head *h = scratch;
	uint8_t *buf = (uint8_t *)scratch + FS_BLOCK;
	uint32_t at, count, crc = 0;
	uint64_t seq;
	int err;

	if (slot >= s->njournals) {
		say(why, n, "no journal %u: the file system has %u", slot, s->njournals);
		return -EINVAL;
	}
	at = fs_journal_block(s, slot);
	err = rd(ctx, at, h);
	if (err) {
		say(why, n, "cannot read the header (block %u): error %d", at, err);
		return err;
	}
	err = fs_journal_check(s, h, slot, why, n);
	if (err <= 0)
		return err < 0 ? -EINVAL : 0;
	count = h->nblocks;
	seq = h->seq;
	for (uint32_t i = 1; i <= count; i++) {
		err = rd(ctx, at + i, buf);
		if (err) {
			say(why, n, "cannot read logged block %u (block %u): error %d", i, at + i, err);
			return err;
		}
		crc = crc32c(crc, buf, FS_BLOCK);
	}
	if (crc != h->data_csum) {
		say(why, n, "transaction %lu of %u blocks is torn: data checksum 0x%08x, the "
		    "header says 0x%08x; not replayed", (unsigned long)seq, count, crc, h->data_csum);
		return -EINVAL;
	}
	for (uint32_t i = 1; i <= count; i++) {
		err = rd(ctx, at + i, buf);
		if (!err)
			err = wr(ctx, h->home[i - 1], buf);
		if (err) {
			say(why, n, "cannot copy logged block %u home to block %u: error %d",
			    i, h->home[i - 1], err);
			return err;
		}
	}
	fs_journal_empty(s, slot, seq + 1, h);
	err = wr(ctx, at, h);
	if (err) {
		say(why, n, "cannot write the empty header (block %u): error %d", at, err);
		return err;
	}
	say(why, n, "replayed transaction %lu: %u blocks", (unsigned long)seq, count);
	return (int)count;
}
