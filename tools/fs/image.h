/*
 * A dmosfs image as the host tool sees it: a file or block device read and
 * written a block at a time, and the transactions through which every
 * metadata change goes, committed through one journal slot the way a node
 * commits through its own (fs/format.h). Also the file system operations
 * the subcommands share (tree.c): inodes, block maps, directories, path
 * lookup.
 *
 * Every function that can fail returns 0 or a negative errno and leaves a
 * one-line reason in img->why; nothing here trusts a byte of the image: an
 * index out of range is an error (-EIO, "run dmosfs fsck"), not a crash.
 */
#ifndef TOOLS_FS_IMAGE_H
#define TOOLS_FS_IMAGE_H

#include <stdint.h>
#include <stdio.h>

#include "fs/format.h"
#include "fs/fsops.h"

#define TX_HASH 2048                    /* > FS_JOURNAL_MAX, a power of 2 */

struct tx {
	uint32_t n, cap;                /* blocks logged; most it may hold */
	uint32_t home[FS_JOURNAL_MAX];
	uint8_t (*buf)[FS_BLOCK];       /* cap blocks: buf[i] belongs at home[i] */
	uint16_t hash[TX_HASH];         /* home -> i + 1; 0 empty */
};

struct img {
	struct fsx x;                   /* first: fs/fsops.c's handle on the image */
	const char *path;
	int fd;
	int writable;
	uint64_t disk_blocks;           /* whole blocks the file or device holds */
	struct fs_super s;
	uint32_t slot;                  /* journal that writes go through */
	uint64_t seq;                   /* the next transaction's sequence number */
	struct tx tx;
	long writes, crash_at;          /* test hook: die at write number crash_at */
};

/* Open @path; read and check its superblock (unless @raw, for mkfs). */
int img_open(struct img *m, const char *path, int writable, int raw);
void img_close(struct img *m);
int img_err(struct img *m, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define IMG(xp) ((struct img *)(xp))     /* the img whose x is xp */

/* Raw block I/O, bounded by the disk (and by the file system once open). */
int img_read(struct img *m, uint32_t blk, void *buf);
int img_write(struct img *m, uint32_t blk, const void *buf);
int img_sync(struct img *m);

/* fs_journal_replay's callbacks over an img. */
int img_read_cb(void *ctx, uint32_t blk, void *buf);
int img_write_cb(void *ctx, uint32_t blk, const void *buf);

/* Writing: take journal @slot (replaying it if it holds a committed
 * transaction; refusing if another journal does). */
int img_begin(struct img *m, uint32_t slot);

/* A block as the current transaction sees it. */
int blk_read(struct img *m, uint32_t blk, void *buf);
/* The current transaction's copy of @blk to change (zeroed if @fresh):
 * valid until the next commit. NULL with m->why filled if it is full. */
void *tx_block(struct img *m, uint32_t blk, int fresh);
uint32_t tx_room(const struct img *m);
int tx_commit(struct img *m);
void tx_abort(struct img *m);

/* fs/fsops.c's block ops over an img (img_open sets m->x to use them). */
extern const struct fsx_ops img_fsx_ops;

/* Resolve @path from the root. With @leaf, resolve all but the last
 * component into *ino (its directory) and copy the last into @leaf. */
int path_lookup(struct img *m, const char *path, uint32_t *ino, char *leaf, size_t *leaflen);

/* fsck.c: check the file system (and repair it); the exit status. */
int fsck(struct img *m, int repair);

uint64_t now_ns(void);
/* @len bytes of @name, printable: other bytes as \xNN. */
void print_name(FILE *f, const char *name, size_t len);

#endif
