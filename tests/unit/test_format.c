/*
 * Host unit tests for fs/format.c, the code the kernel and the host tools
 * share about dmosfs's disk format: the CRC against published vectors,
 * mkfs's geometry over a range of disk sizes, the superblock check refusing
 * each broken field, and journal checks and replay on a fake in-memory
 * disk, including a torn commit and a replay interrupted half-way.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fs/format.h"

static void test_crc32c_vectors(void **state)
{
	uint8_t buf[32];

	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283);
	assert_int_equal(crc32c(0, "", 0), 0);
	/* RFC 3720, B.4 */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x8A9136AA);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x62A8AB43);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x46DD794E);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x113FDB5C);
	/* chainable */
	assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283);
}

/* A superblock as mkfs writes it for @nblocks with the defaults. */
static struct fs_super good_super(uint32_t nblocks)
{
	struct fs_super s;
	char why[160];

	assert_int_equal(fs_geometry(&s, nblocks, 0, 0, 0, why, sizeof(why)), 0);
	for (int i = 0; i < 16; i++)
		s.uuid[i] = (uint8_t)(i * 17 + 3);
	s.csum = fs_super_csum(&s);
	return s;
}

static void assert_layout(const struct fs_super *s)
{
	char why[160] = "";

	assert_int_equal(s->journal_start, 1);
	assert_int_equal(s->ibitmap_start, 1 + s->njournals * s->journal_blocks);
	assert_int_equal(s->bbitmap_start, s->ibitmap_start + s->ibitmap_blocks);
	assert_int_equal(s->inode_start, s->bbitmap_start + s->bbitmap_blocks);
	assert_int_equal(s->data_start, s->inode_start + s->inode_blocks);
	assert_true(s->data_start < s->nblocks);
	assert_true((uint64_t)s->ibitmap_blocks * FS_BLOCK * 8 >= s->ninodes);
	assert_true((uint64_t)s->bbitmap_blocks * FS_BLOCK * 8 >= s->nblocks);
	assert_int_equal(s->inode_blocks * FS_INODES_PER_BLOCK, s->ninodes);
	if (fs_super_check(s, s->nblocks, why, sizeof(why)))
		fail_msg("geometry for %u blocks refused: %s", s->nblocks, why);
}

static void test_geometry_sizes(void **state)
{
	struct fs_super s;
	char why[160];

	(void)state;
	/* 1 MiB: 8 journals shrink to 8 blocks (a quarter of the disk); 64 inodes */
	s = good_super(256);
	assert_layout(&s);
	assert_int_equal(s.njournals, 8);
	assert_int_equal(s.journal_blocks, 8);
	assert_int_equal(s.ninodes, 64);
	assert_int_equal(s.data_start, 1 + 64 + 1 + 1 + 4);

	/* 16 MiB: journals of 128 blocks, still 1024 inodes (one per 16 KiB) */
	s = good_super(4096);
	assert_layout(&s);
	assert_int_equal(s.journal_blocks, 128);
	assert_int_equal(s.ninodes, 1024);

	/* 64 MiB: the full 512-block journals */
	s = good_super(16384);
	assert_layout(&s);
	assert_int_equal(s.journal_blocks, 512);
	assert_int_equal(s.ninodes, 4096);

	/* 1 GiB: several bitmap blocks */
	s = good_super(262144);
	assert_layout(&s);
	assert_int_equal(s.ninodes, 65536);
	assert_int_equal(s.ibitmap_blocks, 2);
	assert_int_equal(s.bbitmap_blocks, 8);

	/* the largest: 2^32 - 1 blocks (16 TiB) */
	s = good_super(UINT32_MAX);
	assert_layout(&s);
	assert_int_equal(s.ninodes, 1u << 30);
	assert_int_equal(s.bbitmap_blocks, 131072);

	/* explicit choices: inodes rounded up to whole inode-table blocks */
	assert_int_equal(fs_geometry(&s, 4096, 100, 2, 64, why, sizeof(why)), 0);
	assert_int_equal(s.ninodes, 112);
	assert_int_equal(s.njournals, 2);
	assert_int_equal(s.journal_blocks, 64);
	s.csum = fs_super_csum(&s);
	assert_layout(&s);

	/* the smallest that fits: one journal of 8 blocks, 64 inodes, a root block */
	assert_int_equal(fs_geometry(&s, 16, 0, 1, 0, why, sizeof(why)), 0);
	assert_int_equal(s.data_start, 15);
	s.csum = fs_super_csum(&s);
	assert_layout(&s);
	assert_int_equal(fs_geometry(&s, 15, 0, 1, 0, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "do not hold"));
}

static void test_geometry_refuses(void **state)
{
	struct fs_super s;
	char why[160];

	(void)state;
	assert_int_equal(fs_geometry(&s, 64, 0, 0, 0, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "do not hold"));
	assert_int_equal(fs_geometry(&s, 4096, 0, 65, 0, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "65 journals"));
	assert_int_equal(fs_geometry(&s, 4096, 0, 0, 7, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "journals of 7 blocks"));
	assert_int_equal(fs_geometry(&s, 65536, 0, 0, FS_JOURNAL_MAX + 2, why, sizeof(why)), -1);
	assert_int_equal(fs_geometry(&s, 65536, 0, 0, FS_JOURNAL_MAX + 1, why, sizeof(why)), 0);
	assert_int_equal(fs_geometry(&s, 4096, 1, 0, 0, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not even a root"));
	assert_int_equal(fs_geometry(&s, 4096, 4096 * 16, 0, 0, why, sizeof(why)), -1);
	assert_int_equal(fs_geometry(&s, 4096, UINT32_MAX, 0, 0, why, sizeof(why)), -1);
}

/* One broken superblock: @edit breaks a field; the checksum is recomputed
 * unless @keep_csum, so the check must find the field itself. */
struct broken {
	const char *what;       /* a piece of the reason fs_super_check gives */
	void (*edit)(struct fs_super *s);
	int keep_csum;
	uint64_t disk;          /* blocks of the disk; 0: 4096 */
};

static void b_magic(struct fs_super *s) { s->magic ^= 1; }
static void b_version(struct fs_super *s) { s->version = 2; }
static void b_bsize(struct fs_super *s) { s->block_size = 1024; }
static void b_incompat(struct fs_super *s) { s->feature_incompat = 4; }
static void b_csum(struct fs_super *s) { s->label[3] = 'x'; }
static void b_root(struct fs_super *s) { s->root_ino = 2; }
static void b_ninodes(struct fs_super *s) { s->ninodes = 1; }
static void b_njournals0(struct fs_super *s) { s->njournals = 0; }
static void b_njournals(struct fs_super *s) { s->njournals = FS_MAX_JOURNALS + 1; }
static void b_jsmall(struct fs_super *s) { s->journal_blocks = FS_MIN_JOURNAL - 1; }
static void b_jbig(struct fs_super *s) { s->journal_blocks = FS_JOURNAL_MAX + 2; }
static void b_jstart(struct fs_super *s) { s->journal_start = 0; }
static void b_jover(struct fs_super *s) { s->ibitmap_start--; }
static void b_ibover(struct fs_super *s) { s->ibitmap_blocks++; }
static void b_bbover(struct fs_super *s) { s->inode_start = s->bbitmap_start; }
static void b_itover(struct fs_super *s) { s->data_start--; }
static void b_ibsmall(struct fs_super *s) { s->ninodes = s->ibitmap_blocks * FS_BLOCK * 8 + 1; s->inode_blocks = s->ninodes; }
static void b_bbsmall(struct fs_super *s) { s->nblocks = s->bbitmap_blocks * FS_BLOCK * 8 + 1; }
static void b_itsmall(struct fs_super *s) { s->ninodes += FS_INODES_PER_BLOCK; }
static void b_past(struct fs_super *s) { s->data_start = s->nblocks; s->inode_start = s->nblocks - s->inode_blocks + 1; }
static void b_nodata(struct fs_super *s) { s->data_start = s->nblocks; }
static void b_disk(struct fs_super *s) { s->nblocks = 4097; }

static const struct broken broken[] = {
	{ "bad magic", b_magic, 0, 0 },
	{ "version 2", b_version, 0, 0 },
	{ "block size 1024", b_bsize, 0, 0 },
	{ "unknown incompatible features 0x4", b_incompat, 0, 0 },
	{ "bad checksum", b_csum, 1, 0 },
	{ "root inode 2", b_root, 0, 0 },
	{ "1 inodes", b_ninodes, 0, 0 },
	{ "0 journals", b_njournals0, 0, 0 },
	{ "65 journals", b_njournals, 0, 0 },
	{ "journals of 7 blocks", b_jsmall, 0, 0 },
	{ "journals of 1010 blocks", b_jbig, 0, 0 },
	{ "journals at block 0 overlaps the superblock", b_jstart, 0, 0 },
	{ "inode bitmap at block 128 overlaps the journals", b_jover, 0, 0 },
	{ "block bitmap at block 130 overlaps the inode bitmap", b_ibover, 0, 0 },
	{ "inode table at block 130 overlaps the block bitmap", b_bbover, 0, 0 },
	{ "data area at block 194 overlaps the inode table", b_itover, 0, 0 },
	{ "inode bitmap of 1 blocks is too small", b_ibsmall, 0, 0 },
	{ "block bitmap of 1 blocks is too small", b_bbsmall, 0, UINT32_MAX },
	{ "inode table of 64 blocks is too small", b_itsmall, 0, 0 },
	{ "inode table (blocks 4033..4096) is past the end", b_past, 0, 0 },
	{ "data area (blocks 4096..4096) is past the end", b_nodata, 0, 0 },
	{ "4097 blocks, but the disk holds 4096", b_disk, 0, 0 },
};

static void test_super_check_refuses(void **state)
{
	const struct fs_super good = good_super(4096);
	char why[160];

	(void)state;
	/* 8 journals of 4096 / 4 / 8 = 128 blocks, then one block per bitmap */
	assert_int_equal(good.ibitmap_start, 1 + 8 * 128);
	assert_int_equal(fs_super_check(&good, 4096, why, sizeof(why)), 0);
	assert_int_equal(fs_super_check(&good, 0, why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		struct fs_super s = good;

		/* rebase the layout onto smaller journals for readable numbers */
		s.njournals = 8;
		s.journal_blocks = 16;
		s.ibitmap_start = 129;
		s.bbitmap_start = 130;
		s.inode_start = 131;
		s.data_start = 131 + s.inode_blocks;
		s.csum = fs_super_csum(&s);
		assert_int_equal(fs_super_check(&s, 4096, why, sizeof(why)), 0);
		broken[i].edit(&s);
		if (!broken[i].keep_csum)
			s.csum = fs_super_csum(&s);
		why[0] = 0;
		if (fs_super_check(&s, broken[i].disk ? broken[i].disk : 4096, why, sizeof(why)) != -1)
			fail_msg("'%s' passed the check", broken[i].what);
		if (!strstr(why, broken[i].what))
			fail_msg("wanted '%s', got '%s'", broken[i].what, why);
		assert_null(strchr(why, '\n'));
	}
	/* an unknown ro_compat feature is readable, not writable */
	struct fs_super s = good;
	s.feature_ro_compat = 1;
	s.csum = fs_super_csum(&s);
	assert_int_equal(fs_super_check(&s, 4096, why, sizeof(why)), 0);
	assert_false(fs_super_writable(&s));
	assert_true(fs_super_writable(&good));
	/* a tiny buffer is truncated, never overrun; NULL is allowed */
	s.magic = 0;
	assert_int_equal(fs_super_check(&s, 0, why, 4), -1);
	assert_int_equal(strlen(why), 3);
	assert_int_equal(fs_super_check(&s, 0, NULL, 0), -1);
}

/* A fake disk of 4096 blocks, with a write that can be made to fail. */
#define DISK_BLOCKS 4096
struct disk {
	uint8_t (*b)[FS_BLOCK];
	int writes, fail_at;            /* fail the fail_at-th write (1-based; 0 never) */
	int reads;
};

static int disk_read(void *ctx, uint32_t blk, void *buf)
{
	struct disk *d = ctx;

	if (blk >= DISK_BLOCKS)
		return -EIO;
	d->reads++;
	memcpy(buf, d->b[blk], FS_BLOCK);
	return 0;
}

static int disk_write(void *ctx, uint32_t blk, const void *buf)
{
	struct disk *d = ctx;

	if (blk >= DISK_BLOCKS)
		return -EIO;
	if (++d->writes == d->fail_at)
		return -EIO;
	memcpy(d->b[blk], buf, FS_BLOCK);
	return 0;
}

static struct disk disk_new(void)
{
	struct disk d = { calloc(DISK_BLOCKS, FS_BLOCK), 0, 0, 0 };

	assert_non_null(d.b);
	return d;
}

/* Log @count blocks for @homes in journal @slot as a node commits them, up
 * to the header; block i's bytes are all (tag + i). Return the header. */
static struct fs_journal_head *log_tx(const struct fs_super *s, struct disk *d, uint32_t slot,
				      uint64_t seq, const uint32_t *homes, uint32_t count, int tag)
{
	uint32_t at = fs_journal_block(s, slot), crc = 0;
	struct fs_journal_head *h = (struct fs_journal_head *)d->b[at];

	for (uint32_t i = 0; i < count; i++) {
		memset(d->b[at + 1 + i], tag + (int)i, FS_BLOCK);
		crc = crc32c(crc, d->b[at + 1 + i], FS_BLOCK);
	}
	fs_journal_empty(s, slot, seq, h);
	h->nblocks = count;
	h->data_csum = crc;
	memcpy(h->home, homes, count * sizeof(*homes));
	h->csum = fs_journal_csum(h);
	return h;
}

static void assert_filled(const struct disk *d, uint32_t blk, int byte)
{
	for (int i = 0; i < FS_BLOCK; i++)
		if (d->b[blk][i] != (uint8_t)byte)
			fail_msg("block %u byte %d is %d, not %d", blk, i, d->b[blk][i], byte);
}

static void test_journal_check(void **state)
{
	const struct fs_super s = good_super(DISK_BLOCKS);
	struct disk d = disk_new();
	uint32_t homes[3] = { s.data_start, s.inode_start, s.bbitmap_start };
	struct fs_journal_head *h, saved;
	char why[160];

	(void)state;
	fs_journal_empty(&s, 2, 5, (struct fs_journal_head *)d.b[0]);
	h = (struct fs_journal_head *)d.b[0];
	assert_int_equal(fs_journal_check(&s, h, 2, why, sizeof(why)), 0);
	assert_int_equal(h->seq, 5);

	h = log_tx(&s, &d, 2, 9, homes, 3, 0x40);
	assert_int_equal(fs_journal_check(&s, h, 2, why, sizeof(why)), 1);
	saved = *h;

#define BROKEN(edit, recsum, want) do {                                         \
		*h = saved;                                                     \
		edit;                                                           \
		if (recsum)                                                     \
			h->csum = fs_journal_csum(h);                           \
		why[0] = 0;                                                     \
		assert_int_equal(fs_journal_check(&s, h, 2, why, sizeof(why)), -1); \
		if (!strstr(why, want))                                         \
			fail_msg("wanted '%s', got '%s'", want, why);           \
	} while (0)
	BROKEN(h->magic = 0, 1, "bad header magic");
	BROKEN(h->seq++, 0, "bad header checksum");
	BROKEN(h->uuid[7] ^= 1, 1, "another file system");
	BROKEN(h->node = 3, 1, "it is journal 3");
	BROKEN(h->nblocks = s.journal_blocks, 1, "journal holds");
	BROKEN(h->home[1] = 0, 1, "in the superblock or the journals");
	BROKEN(h->home[1] = s.ibitmap_start - 1, 1, "in the superblock or the journals");
	BROKEN(h->home[2] = s.nblocks, 1, "past the end");
#undef BROKEN
	*h = saved;
	h->home[2] = s.ibitmap_start;   /* the first block a journal may name */
	h->csum = fs_journal_csum(h);
	assert_int_equal(fs_journal_check(&s, h, 2, why, sizeof(why)), 1);
	assert_int_equal(fs_journal_check(&s, h, s.njournals, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "no journal 8"));
	free(d.b);
}

static void test_journal_replay(void **state)
{
	const struct fs_super s = good_super(DISK_BLOCKS);
	struct disk d = disk_new();
	uint32_t homes[3] = { s.data_start + 5, s.inode_start, s.data_start + 9 };
	uint32_t at = fs_journal_block(&s, 7);
	static uint8_t scratch[2 * FS_BLOCK];
	struct fs_journal_head *h;
	char why[160];

	(void)state;
	fs_journal_empty(&s, 7, 0, (struct fs_journal_head *)d.b[at]);
	assert_int_equal(fs_journal_replay(&s, 7, disk_read, disk_write, &d, scratch, why, sizeof(why)), 0);
	assert_int_equal(d.writes, 0);

	log_tx(&s, &d, 7, 41, homes, 3, 0x10);
	assert_int_equal(fs_journal_replay(&s, 7, disk_read, disk_write, &d, scratch, why, sizeof(why)), 3);
	assert_non_null(strstr(why, "replayed transaction 41: 3 blocks"));
	assert_filled(&d, homes[0], 0x10);
	assert_filled(&d, homes[1], 0x11);
	assert_filled(&d, homes[2], 0x12);
	h = (struct fs_journal_head *)d.b[at];
	assert_int_equal(fs_journal_check(&s, h, 7, why, sizeof(why)), 0);
	assert_int_equal(h->seq, 42);
	/* a replayed journal is not replayed again */
	d.writes = 0;
	assert_int_equal(fs_journal_replay(&s, 7, disk_read, disk_write, &d, scratch, why, sizeof(why)), 0);
	assert_int_equal(d.writes, 0);

	/* the same block twice in one transaction: the later one wins */
	uint32_t twice[2] = { s.data_start + 1, s.data_start + 1 };
	log_tx(&s, &d, 7, 42, twice, 2, 0x60);
	assert_int_equal(fs_journal_replay(&s, 7, disk_read, disk_write, &d, scratch, why, sizeof(why)), 2);
	assert_filled(&d, s.data_start + 1, 0x61);
	free(d.b);
}

static void test_journal_torn(void **state)
{
	const struct fs_super s = good_super(DISK_BLOCKS);
	struct disk d = disk_new();
	uint32_t homes[2] = { s.data_start + 3, s.data_start + 4 };
	uint32_t at = fs_journal_block(&s, 0);
	static uint8_t scratch[2 * FS_BLOCK];
	struct fs_journal_head before;
	char why[160];

	(void)state;
	memset(d.b[homes[0]], 0xAA, FS_BLOCK);
	memset(d.b[homes[1]], 0xBB, FS_BLOCK);
	log_tx(&s, &d, 0, 3, homes, 2, 0x20);
	/* the header landed, the second logged block did not */
	d.b[at + 2][100] ^= 0x01;
	memcpy(&before, d.b[at], FS_BLOCK);
	d.writes = 0;
	assert_int_equal(fs_journal_replay(&s, 0, disk_read, disk_write, &d, scratch, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "transaction 3 of 2 blocks is torn"));
	assert_int_equal(d.writes, 0);
	assert_filled(&d, homes[0], 0xAA);
	assert_filled(&d, homes[1], 0xBB);
	assert_memory_equal(d.b[at], &before, FS_BLOCK);

	/* a damaged header: nothing replayed either */
	((struct fs_journal_head *)d.b[at])->home[0] = 0;
	assert_int_equal(fs_journal_replay(&s, 0, disk_read, disk_write, &d, scratch, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "bad header checksum"));
	assert_int_equal(d.writes, 0);
	assert_int_equal(fs_journal_replay(&s, 8, disk_read, disk_write, &d, scratch, why, sizeof(why)), -EINVAL);
	free(d.b);
}

/* A replay that dies at any of its writes leaves a journal that a second
 * replay finishes with the same result. */
static void test_journal_replay_interrupted(void **state)
{
	const struct fs_super s = good_super(DISK_BLOCKS);
	uint32_t homes[4] = { s.ibitmap_start, s.bbitmap_start, s.inode_start + 2, s.data_start };
	uint32_t at = fs_journal_block(&s, 4);
	static uint8_t scratch[2 * FS_BLOCK];
	char why[160];

	(void)state;
	for (int fail = 1; fail <= 5; fail++) {
		struct disk d = disk_new();

		log_tx(&s, &d, 4, 100, homes, 4, 0x30);
		d.fail_at = fail;
		assert_int_equal(fs_journal_replay(&s, 4, disk_read, disk_write, &d, scratch, why, sizeof(why)), -EIO);
		assert_non_null(strstr(why, "error -5"));
		assert_int_equal(fs_journal_check(&s, (void *)d.b[at], 4, why, sizeof(why)), 1);
		d.fail_at = 0;
		assert_int_equal(fs_journal_replay(&s, 4, disk_read, disk_write, &d, scratch, why, sizeof(why)), 4);
		for (int i = 0; i < 4; i++)
			assert_filled(&d, homes[i], 0x30 + i);
		assert_int_equal(((struct fs_journal_head *)d.b[at])->seq, 101);
		free(d.b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_geometry_sizes),
		cmocka_unit_test(test_geometry_refuses),
		cmocka_unit_test(test_super_check_refuses),
		cmocka_unit_test(test_journal_check),
		cmocka_unit_test(test_journal_replay),
		cmocka_unit_test(test_journal_torn),
		cmocka_unit_test(test_journal_replay_interrupted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
