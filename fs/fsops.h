/*
 * The metadata operations of dmosfs that the kernel and the host tool
 * share (fs/fsops.c): inodes, block maps, the bitmaps, directories. They
 * are written once, against a small interface to blocks and transactions,
 * struct fsx_ops, which each side provides: the host tool (tools/fs/image.c)
 * over an image file and one journal slot; the kernel (fs/dmosfs.c) over
 * the page cache in the pool, under cluster locks, through this node's
 * journal.
 *
 * Blocks are reached only through the ops:
 *   get(blk)      the block as the current transaction sees it, to read:
 *                 its copy in the transaction if it has one, else the
 *                 block itself. The kernel takes the block's cluster lock
 *                 here (held until the transaction ends), so a get may
 *                 fail with -EAGAIN: the whole operation is started again.
 *   put(ref)      done reading what get handed out.
 *   change(blk)   the transaction's own copy of the block, to change
 *                 (zeroed if fresh); it stays put until the commit. -ENOSPC
 *                 when the transaction would outgrow the journal.
 *   room()        blocks the transaction can still take.
 *   commit()      commit what the transaction holds and go on with an
 *                 empty one (only fs_truncate_map() calls it, when room
 *                 runs short while freeing an orphan's blocks).
 *   now()         the time, nanoseconds since 1970.
 *
 * Nothing read from a block is trusted: a block number outside the data
 * area, an inode number past the table, a directory whose size is not
 * whole blocks are -EIO with x->why saying what is wrong (fsck's business).
 * Every function returns 0 (or what it says) or a negative errno, with a
 * reason in x->why for the errors it makes itself.
 *
 * Context: whatever the ops allow; the kernel's sleep (disk reads, locks).
 * Stack: no block-sized buffer lives on the stack (kernel stacks are
 * 16 KiB).
 */
#ifndef FS_FSOPS_H
#define FS_FSOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"

struct fsx;

struct fsx_ops {
	int (*get)(struct fsx *x, uint32_t blk, const void **data, void **ref);
	void (*put)(struct fsx *x, void *ref);
	int (*change)(struct fsx *x, uint32_t blk, bool fresh, void **data);
	uint32_t (*room)(struct fsx *x);
	int (*commit)(struct fsx *x);
	uint64_t (*now)(struct fsx *x);
};

struct fsx {
	const struct fs_super *s;       /* checked by fs_super_check */
	const struct fsx_ops *ops;
	uint32_t bhint, ihint;          /* where to look for a free block, inode */
	char why[512];                  /* the last error's reason */
};

/* Fill x->why and return err (negative). */
int fsx_err(struct fsx *x, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Inodes. */
int fs_inode_get(struct fsx *x, uint32_t ino, struct fs_inode *ip);
int fs_inode_put(struct fsx *x, uint32_t ino, const struct fs_inode *ip);
/* The block of inode ino's table entry: 0 and -EIO if ino is out of range. */
int fs_inode_block(struct fsx *x, uint32_t ino, uint32_t *blk);

/* Block maps: the disk block of page idx of a file (0: a hole), and setting
 * it (allocating indirect blocks on the way; nblocks kept). */
int fs_bmap(struct fsx *x, uint32_t ino, const struct fs_inode *ip, uint64_t idx, uint32_t *blk);
int fs_bmap_set(struct fsx *x, uint32_t ino, struct fs_inode *ip, uint64_t idx, uint32_t blk);

/* The bitmaps. fs_balloc takes the first free block from x->bhint on,
 * fs_ialloc the first free inode from x->ihint on (-ENOSPC: none left). */
int fs_balloc(struct fsx *x, uint32_t *blk);
int fs_bfree(struct fsx *x, uint32_t blk);
int fs_ialloc(struct fsx *x, uint32_t *ino);
int fs_ifree(struct fsx *x, uint32_t ino, struct fs_inode *ip);

/**
 * fs_truncate_map - free every block of inode ino's map at page first and
 * past it (the indirect blocks left with nothing to list too)
 * When the transaction's room runs short, *ip is written and the
 * transaction committed before going on, which only an orphan may see
 * (a crash between two commits leaves it half freed; its recovery frees
 * the rest). The caller writes *ip at the end.
 */
int fs_truncate_map(struct fsx *x, uint32_t ino, struct fs_inode *ip, uint64_t first);

/* Free inode ino whole: its blocks (fs_truncate_map) and the inode, and
 * commit. The inode must be an orphan. */
int fs_inode_destroy(struct fsx *x, uint32_t ino, struct fs_inode *ip);

/* Directories. A record's position is its number in the directory (block
 * index * FS_DIRENTS_PER_BLOCK + record); 0 and 1 are "." and "..". */
struct fs_dirloc {
	uint32_t blk;                   /* the block holding the record */
	uint32_t rec;                   /* record in it */
};

bool fs_valid_name(const char *name, size_t len);
/* The inode named name (len bytes; not "." or "..") in directory dino:
 * -ENOENT, -ENOTDIR. where (may be NULL) gets the record's place. */
int fs_dir_lookup(struct fsx *x, uint32_t dino, const struct fs_inode *dip,
		  const char *name, size_t len, uint32_t *ino, struct fs_dirloc *where);
/* Add a record (growing the directory by a block if it is full). */
int fs_dir_add(struct fsx *x, uint32_t dino, struct fs_inode *dip,
	       const char *name, size_t len, uint32_t ino, uint8_t type);
int fs_dir_remove(struct fsx *x, const struct fs_dirloc *where);
/* Point the record at where to inode ino of type (a rename's target). */
int fs_dir_set(struct fsx *x, const struct fs_dirloc *where, uint32_t ino, uint8_t type);
/* Call fn for each record in use but "." and ".."; stops at the first
 * non-zero return, which is the return. */
int fs_dir_each(struct fsx *x, uint32_t dino, const struct fs_inode *dip,
		int (*fn)(void *arg, const struct fs_dirent *d), void *arg);
/* The first record in use at position *pos or after it ("." and ".."
 * included), copied to *out, and *pos moved past it: 1; 0 at the end. */
int fs_dir_next(struct fsx *x, uint32_t dino, const struct fs_inode *dip, uint64_t *pos,
		struct fs_dirent *out);
/* 1 if the directory holds nothing but "." and "..", 0 if it does. */
int fs_dir_empty(struct fsx *x, uint32_t dino, const struct fs_inode *dip);

#endif
