/*
 * The on-disk format of dmosfs, the cluster file system: one image on one
 * disk that every node of the cluster opens, as servers share a SAN LUN.
 * This header is the whole contract for the bytes on the disk; the kernel
 * (fs/) and the host tools (tools/fs: mkfs, fsck, copying files in and out)
 * include it, so the format is written down once.
 *
 * Blocks are FS_BLOCK (4096) bytes, numbered from 0 with 32-bit numbers
 * (16 TiB at most); every integer is little-endian (x86 and the host).
 *
 *   block 0                      superblock (struct fs_super)
 *   journal_start                the journals, one per node slot, journal_blocks
 *                                each: node n's starts at journal_start + n * journal_blocks
 *   ibitmap_start                inode bitmap: bit i set = inode i in use
 *   bbitmap_start                block bitmap: bit b set = block b in use; every
 *                                block before data_start is set
 *   inode_start                  inode table: ninodes inodes of FS_INODE_SIZE bytes
 *   data_start .. nblocks-1      data: file bytes, directory blocks, indirect blocks
 *
 * Inode 0 does not exist (bit 0 of the inode bitmap is set, its slot zero);
 * inode 1 is the root directory. A file's bytes are found through a block
 * map: FS_NDIRECT direct blocks, then one indirect block and one double
 * indirect block of FS_PER_BLOCK block numbers each; a block number 0 in a
 * map is a hole (reads as zeros). A directory is a file of struct fs_dirent
 * records, FS_DIRENTS_PER_BLOCK per block, the first two "." and "..";
 * a record with ino 0 is free.
 *
 * Journals. Metadata (the superblock never changes after mkfs; bitmaps,
 * inodes, directory and indirect blocks do) changes only through a node's
 * journal: a transaction is a set of whole blocks, written first to the
 * journal's blocks 1..n, then the header (block 0) naming their home blocks
 * and their checksum (the commit point), then to their homes; finally the
 * header is written again with nblocks 0. A node that dies anywhere in
 * between leaves either an empty journal, an uncommitted one (header still
 * empty: the transaction never happened), or a committed one that whoever
 * recovers the node (a survivor, the next boot, fsck) writes home again:
 * writing the same blocks twice is harmless. File contents are not
 * journaled; a file's new blocks are written before the transaction that
 * links them into the file commits, so a crash never exposes stale bytes.
 *
 * A reader must check a superblock before trusting any other field:
 * fs_super_check() in fs/format.c says what is wrong with one in one line.
 */
#ifndef FS_FORMAT_H
#define FS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define FS_MAGIC        0x3153464F534D4444ULL   /* "DDMOSFS1" */
#define FS_VERSION      1
#define FS_BLOCK        4096
#define FS_BLOCK_SHIFT  12
#define FS_SECTORS_PER_BLOCK (FS_BLOCK / 512)

#define FS_INODE_SIZE   256
#define FS_INODES_PER_BLOCK (FS_BLOCK / FS_INODE_SIZE)
#define FS_ROOT_INO     1
#define FS_NDIRECT      12
#define FS_PER_BLOCK    (FS_BLOCK / 4)          /* block numbers in an indirect block */
#define FS_MAX_FILE_BLOCKS ((uint64_t)FS_NDIRECT + FS_PER_BLOCK + \
			    (uint64_t)FS_PER_BLOCK * FS_PER_BLOCK)
#define FS_MAX_FILE_SIZE (FS_MAX_FILE_BLOCKS * FS_BLOCK)   /* about 4 GiB */

#define FS_NAME_MAX     120     /* bytes of a name, without a NUL */
#define FS_DIRENT_SIZE  128
#define FS_DIRENTS_PER_BLOCK (FS_BLOCK / FS_DIRENT_SIZE)

#define FS_MAX_JOURNALS 64      /* node slots: one journal each */
#define FS_JOURNAL_MAGIC 0x4C4E524A        /* "JRNL" */
#define FS_JOURNAL_MAX  ((FS_BLOCK - 64) / 4)   /* home blocks one header names */
#define FS_MIN_JOURNAL  8       /* blocks of the smallest journal mkfs makes */

/* Feature flags. An image with an incompat bit this code does not know is
 * refused; a ro_compat bit it does not know allows reading only; compat
 * bits may be ignored. Version 1 defines none. */
#define FS_FEATURE_INCOMPAT_KNOWN 0u
#define FS_FEATURE_RO_COMPAT_KNOWN 0u

struct fs_super {
	uint64_t magic;                 /* FS_MAGIC */
	uint32_t version;               /* FS_VERSION */
	uint32_t block_size;            /* FS_BLOCK */
	uint32_t feature_compat;
	uint32_t feature_ro_compat;
	uint32_t feature_incompat;
	uint32_t nblocks;               /* blocks in the file system */
	uint8_t uuid[16];               /* made by mkfs; names this file system */
	uint32_t ninodes;               /* inodes, including the unused inode 0 */
	uint32_t njournals;             /* node slots with a journal */
	uint32_t journal_blocks;        /* blocks of each journal, header included */
	uint32_t journal_start;
	uint32_t ibitmap_start;
	uint32_t ibitmap_blocks;
	uint32_t bbitmap_start;
	uint32_t bbitmap_blocks;
	uint32_t inode_start;
	uint32_t inode_blocks;
	uint32_t data_start;
	uint32_t root_ino;              /* FS_ROOT_INO */
	uint64_t mkfs_time;             /* seconds since 1970 */
	char label[32];                 /* NUL-padded */
	uint8_t reserved[148];
	uint32_t csum;                  /* crc32c of this struct with csum = 0 */
};

/* mode: the type in the top bits, as POSIX numbers them; the permission
 * bits are kept and reported but not enforced. */
#define FS_S_IFMT   0170000
#define FS_S_IFREG  0100000
#define FS_S_IFDIR  0040000

#define FS_INODE_ORPHAN 0x1     /* flags: unlinked while open; freed when the last
				   node closes it, or by recovery */

struct fs_inode {
	uint16_t mode;                  /* 0: the inode is free */
	uint16_t nlink;                 /* directory entries naming it */
	uint32_t flags;                 /* FS_INODE_* */
	uint64_t size;                  /* bytes */
	uint64_t atime_ns, mtime_ns, ctime_ns;   /* since 1970 */
	uint32_t generation;            /* +1 each time the inode number is reused */
	uint32_t nblocks;               /* blocks the map holds: data and indirect */
	uint32_t direct[FS_NDIRECT];
	uint32_t indirect;              /* block of FS_PER_BLOCK data block numbers */
	uint32_t dindirect;             /* block of FS_PER_BLOCK indirect block numbers */
	uint8_t reserved[128];
};

#define FS_DT_REG 1
#define FS_DT_DIR 2

struct fs_dirent {
	uint32_t ino;                   /* 0: a free record */
	uint8_t type;                   /* FS_DT_* */
	uint8_t namelen;                /* 1 .. FS_NAME_MAX */
	uint16_t reserved;
	char name[FS_NAME_MAX];         /* not NUL-terminated when it is full */
	uint8_t pad[FS_DIRENT_SIZE - 8 - FS_NAME_MAX];
};

/* Block 0 of a journal. nblocks 0: empty. */
struct fs_journal_head {
	uint32_t magic;                 /* FS_JOURNAL_MAGIC */
	uint32_t node;                  /* the slot it belongs to */
	uint64_t seq;                   /* +1 per commit; a replayed header is not replayed again */
	uint32_t nblocks;               /* logged blocks: journal blocks 1..nblocks */
	uint32_t data_csum;             /* crc32c over the logged blocks, in order */
	uint8_t uuid[16];               /* the file system's: a stale journal is not replayed */
	uint8_t reserved[20];
	uint32_t csum;                  /* crc32c of this block with csum = 0 */
	uint32_t home[FS_JOURNAL_MAX];  /* where logged block i + 1 belongs */
};

_Static_assert(sizeof(struct fs_super) == 256, "the superblock is part of the disk format");
_Static_assert(sizeof(struct fs_inode) == FS_INODE_SIZE, "an inode is part of the disk format");
_Static_assert(sizeof(struct fs_dirent) == FS_DIRENT_SIZE, "a dirent is part of the disk format");
_Static_assert(sizeof(struct fs_journal_head) == FS_BLOCK, "a journal header is one block");

/* fs/format.c: code the kernel and the host tools share. */

uint32_t crc32c(uint32_t crc, const void *buf, size_t n);

/* The superblock's checksum as stored (csum field taken as 0). */
uint32_t fs_super_csum(const struct fs_super *s);

/**
 * fs_super_check - is this a superblock of a dmosfs this code can use?
 * @disk_blocks: blocks the device holds (0: unknown, not checked)
 * @why: buffer for one line saying what is wrong, without a newline
 * Return: 0 if it is sound; -1 with @why filled otherwise (wrong magic,
 * unknown version or features, bad checksum, areas that overlap, do not
 * fit in the file system or in the disk).
 */
int fs_super_check(const struct fs_super *s, uint64_t disk_blocks, char *why, size_t n);

/* The geometry mkfs would choose for nblocks blocks and njournals node slots
 * of journal_blocks each (0: defaults). Return: 0, or -1 with @why filled
 * when it does not fit. Fills every field but uuid, mkfs_time, label, csum. */
int fs_geometry(struct fs_super *s, uint32_t nblocks, uint32_t ninodes,
		uint32_t njournals, uint32_t journal_blocks, char *why, size_t n);

/* The header's checksum as stored (csum field taken as 0). */
uint32_t fs_journal_csum(const struct fs_journal_head *h);

/**
 * fs_journal_check - is this journal header a committed transaction to replay?
 * @s: the (checked) superblock it belongs to
 * Return: 1 committed (nblocks > 0 and sound; the data checksum is checked
 * by the caller once it has read the blocks), 0 empty, -1 damaged with @why
 * filled (bad magic, checksum, uuid, node, more blocks than the journal
 * holds, a home block in the superblock or the journals, or past the end).
 */
int fs_journal_check(const struct fs_super *s, const struct fs_journal_head *h,
		     uint32_t slot, char *why, size_t n);

#endif
