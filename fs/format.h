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
 * What a sound file system holds (fsck checks every one of these):
 *  - bits of the bitmaps past the last inode / block are clear;
 *  - an inode is in use iff its mode is not 0 and its type is FS_S_IFREG or
 *    FS_S_IFDIR (permission bits within 07777), iff its inode bitmap bit is set;
 *  - nlink is the number of directory entries naming the inode, "." and ".."
 *    not counted, plus 2 for a directory ("." and its name) plus one per
 *    subdirectory (its ".."); the root's ".." names the root;
 *  - an inode with nlink 0 is an orphan (FS_INODE_ORPHAN set): unlinked while
 *    a node had it open; whoever recovers that node frees it;
 *  - a map's block numbers are 0 or in data_start .. nblocks-1, no block is in
 *    two maps (or twice in one), the block bitmap is exactly the blocks before
 *    data_start plus the blocks of the maps of the inodes in use;
 *  - nblocks counts the blocks a map holds (data and indirect), no data block
 *    is mapped at or past the block holding byte size-1, size <= FS_MAX_FILE_SIZE;
 *  - a directory's size is a non-zero multiple of FS_BLOCK and its first
 *    block is mapped (a hole further on reads as free records); record 0 is
 *    "." (itself), record 1 ".." (its parent); every other name is 1 ..
 *    FS_NAME_MAX bytes, neither "." nor "..", without '/' or NUL, unique in
 *    the directory, and names an inode in use with the matching FS_DT_ type;
 *  - every directory but the root is named by exactly one entry, and every
 *    directory is reachable from the root (so there are no cycles).
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
 * writing the same blocks twice is harmless. A transaction too big for one
 * journal is split; the inode it builds or tears down is an orphan until
 * the last one, so a crash between two leaves only an orphan to free.
 * mkfs writes an empty header (seq 0) in every slot. File contents are not
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
 * refused (by fs_super_check); a ro_compat bit it does not know allows
 * reading only (fs_super_writable says whether writing is allowed); compat
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
	uint8_t reserved[116];
	uint32_t csum;                  /* crc32c of this struct with csum = 0 */
};

/* mode: the type in the top bits, as POSIX numbers them; the permission
 * bits are kept and reported but not enforced. */
#define FS_S_IFMT   0170000
#define FS_S_IFREG  0100000
#define FS_S_IFDIR  0040000
#define FS_S_IPERM  0007777

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
	uint8_t reserved[152];
};

#define FS_DT_REG 1
#define FS_DT_DIR 2

struct fs_dirent {
	uint32_t ino;                   /* 0: a free record */
	uint8_t type;                   /* FS_DT_* */
	uint8_t namelen;                /* 1 .. FS_NAME_MAX */
	uint16_t reserved;
	char name[FS_NAME_MAX];         /* not NUL-terminated when it is full */
};

/* Block 0 of a journal. nblocks 0: empty. */
struct fs_journal_head {
	uint32_t magic;                 /* FS_JOURNAL_MAGIC */
	uint32_t node;                  /* the slot it belongs to */
	uint64_t seq;                   /* +1 per commit; a replayed header is not replayed again */
	uint32_t nblocks;               /* logged blocks: journal blocks 1..nblocks */
	uint32_t data_csum;             /* crc32c(0, ...) over the logged blocks, in order */
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

/**
 * crc32c - the Castagnoli CRC (iSCSI, ext4), chainable like zlib's crc32
 * @crc: 0 to start, or the value returned for the bytes before @buf
 * Context: any; pure.
 * Return: the CRC of everything so far (crc32c(0, "123456789", 9) == 0xE3069283).
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t n);

/* The superblock's checksum as stored (csum field taken as 0). */
uint32_t fs_super_csum(const struct fs_super *s);

/**
 * fs_super_check - is this a superblock of a dmosfs this code can use?
 * @disk_blocks: blocks the device holds (0: unknown, not checked)
 * @why: buffer for one line saying what is wrong, without a newline
 * Context: any; pure.
 * Return: 0 if it is sound; -1 with @why filled otherwise (wrong magic,
 * unknown version or features, bad checksum, areas that overlap, do not
 * fit in the file system or in the disk).
 */
int fs_super_check(const struct fs_super *s, uint64_t disk_blocks, char *why, size_t n);

/* May this code write to a file system with this (checked) superblock?
 * Not when it has a ro_compat feature this code does not know. */
static inline int fs_super_writable(const struct fs_super *s)
{
	return !(s->feature_ro_compat & ~FS_FEATURE_RO_COMPAT_KNOWN);
}

/**
 * fs_geometry - the geometry mkfs would choose
 * @s: filled: every field but uuid, mkfs_time, label and csum (zeroed)
 * @nblocks: blocks of the file system
 * @ninodes: inodes, inode 0 included (0: one per 16 KiB, at least 64,
 *	rounded up to whole inode-table blocks)
 * @njournals: node slots (0: 8)
 * @journal_blocks: blocks of each journal (0: 512, less when the journals
 *	would take more than a quarter of the disk, never below FS_MIN_JOURNAL)
 * Context: any; pure.
 * Return: 0, or -1 with @why filled when it does not fit.
 */
int fs_geometry(struct fs_super *s, uint32_t nblocks, uint32_t ninodes,
		uint32_t njournals, uint32_t journal_blocks, char *why, size_t n);

/* The header's checksum as stored (csum field taken as 0). */
uint32_t fs_journal_csum(const struct fs_journal_head *h);

/* Fill @h as the empty header of journal @slot with sequence number @seq,
 * checksum included: what mkfs writes (seq 0) and what closes a transaction. */
void fs_journal_empty(const struct fs_super *s, uint32_t slot, uint64_t seq,
		      struct fs_journal_head *h);

/* Where journal @slot begins (its header); the caller checked @slot. */
static inline uint32_t fs_journal_block(const struct fs_super *s, uint32_t slot)
{
	return s->journal_start + slot * s->journal_blocks;
}

/**
 * fs_journal_check - is this journal header a committed transaction to replay?
 * @s: the (checked) superblock it belongs to
 * Context: any; pure.
 * Return: 1 committed (nblocks > 0 and sound; the data checksum is checked
 * by the caller once it has read the blocks), 0 empty, -1 damaged with @why
 * filled (bad magic, checksum, uuid, node, more blocks than the journal
 * holds, a home block in the superblock or the journals, or past the end).
 */
int fs_journal_check(const struct fs_super *s, const struct fs_journal_head *h,
		     uint32_t slot, char *why, size_t n);

/* Block I/O for fs_journal_replay: read or write one FS_BLOCK block.
 * Return: 0, or a negative errno. */
typedef int (*fs_read_block_fn)(void *ctx, uint32_t blk, void *buf);
typedef int (*fs_write_block_fn)(void *ctx, uint32_t blk, const void *buf);

/**
 * fs_journal_replay - write a journal's committed transaction home
 * @s: the (checked) superblock
 * @slot: the journal, < s->njournals
 * @rd, @wr, @ctx: how to read and write blocks of the disk
 * @scratch: 2 * FS_BLOCK bytes of the caller's (a kernel stack is too small)
 * @why: one line saying what was done, or what is wrong
 *
 * Reads the header and checks it; reads the logged blocks and checks their
 * data checksum; only then writes each home, and finally an empty header
 * with seq + 1, so a crash during replay leaves a journal to replay again.
 * A damaged header or a torn transaction (the header landed, the data did
 * not, so its checksum is wrong) is not replayed and nothing is written: the
 * transaction never happened; the caller reports it and may write an empty
 * header (fs_journal_empty) over it.
 *
 * Context: may sleep if @rd and @wr do; the caller excludes anyone else
 * writing this journal or the blocks it names.
 * Return: the number of blocks written home (> 0), 0 if the journal is
 * empty (nothing written), -EINVAL if the header is damaged or the data
 * torn, or the negative errno of a failed read or write; @why filled
 * whenever the return is not 0.
 */
int fs_journal_replay(const struct fs_super *s, uint32_t slot,
		      fs_read_block_fn rd, fs_write_block_fn wr, void *ctx,
		      void *scratch, char *why, size_t n);

#endif
