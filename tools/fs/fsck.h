/*
 * What the two halves of dmosfs fsck share: fsck.c (the driver, the journals,
 * the bitmaps, the report and the repair) and fsck_tree.c (pass 1, the block
 * maps; pass 2, the directory tree; pass 3, the link counts). Private to
 * them; see fsck.c for how a check goes.
 */
#ifndef TOOLS_FS_FSCK_H
#define TOOLS_FS_FSCK_H

#include "tools/fs/image.h"

enum { FREE, FILE_, DIR_, BAD };        /* BAD: in use, damaged, left alone */

struct dirblk {
	uint64_t idx;
	uint32_t blk;
};

struct dirinfo {
	uint32_t n, cap;
	struct dirblk *b;
};

struct name {
	uint32_t hash;
	uint8_t len;
	char s[FS_NAME_MAX];
};

/* An entry naming a directory whose ".." names another one: decided once
 * the tree is walked, so the name ".." agrees with wins. */
struct deferred {
	uint32_t d, x, blk, rec;
	uint64_t k;
	uint8_t len;
	char name[FS_NAME_MAX];
};

struct fsck {
	struct img *m;
	const struct fs_super *s;
	int repair, quiet;
	unsigned long problems, repaired, shown;
	uint8_t *ibm, *bbm, *itab, *idirty;
	uint32_t *owner;                /* block -> inode whose map holds it */
	uint8_t *state;
	uint32_t *links, *subdirs, *parent, *queue;
	uint32_t *dotdot;               /* what each directory's ".." names */
	struct deferred *deferred;
	uint32_t ndeferred, deferred_cap;
	struct dirinfo *dirs;
	struct name *names;             /* the current directory's, hashed */
	uint32_t nnames, names_cap;
	uint32_t limit;                 /* map walk: index slots the size allows */
	uint32_t held, dropped;         /* map walk: entries found, taken out */
	int err;                        /* first I/O error */
};

/* One problem: @fmt says what, @fix what --repair does about it. */
__attribute__((format(printf, 3, 4)))
void report(struct fsck *f, const char *fix, const char *fmt, ...);
/* A name from the disk, quoted and printable, for a report line. */
const char *qname(const char *name, size_t len);
void put_block(struct fsck *f, uint32_t blk, const void *buf);
int get_block(struct fsck *f, uint32_t blk, void *buf);
void free_inode(struct fsck *f, uint32_t ino);

static inline struct fs_inode *inode(struct fsck *f, uint32_t ino)
{
	return (struct fs_inode *)(f->itab + (size_t)ino * FS_INODE_SIZE);
}

static inline void inode_dirty(struct fsck *f, uint32_t ino)
{
	f->idirty[ino / FS_INODES_PER_BLOCK] = 1;
}

static inline int bit(const uint8_t *map, uint64_t i)
{
	return map[i / 8] >> (i % 8) & 1;
}

static inline void set_bit(uint8_t *map, uint64_t i, int v)
{
	if (v)
		map[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		map[i / 8] &= (uint8_t)~(1u << (i % 8));
}

/* fsck_tree.c: the passes over the inodes and the tree. */
void pass1(struct fsck *f);
int pass2(struct fsck *f);
void pass3(struct fsck *f);

#endif
