/*
 * dmosfs fsck: checks every invariant fs/format.h lists, one plain line per
 * problem, and with --repair makes the file system sound again where that is
 * safe: committed journals replayed (torn or damaged ones reset), link
 * counts, sizes and bitmaps recomputed, bad map entries and directory
 * records cleared, orphans and unreachable inodes freed, a new root made
 * when the old one is gone.
 *
 * It reads the bitmaps and the inode table into memory, then: pass 1 walks
 * every inode's block map (each block claimed once: a block already claimed
 * is not walked again, so the work is bounded by the disk); pass 2 walks the
 * tree from the root breadth-first, each directory entered at most once (a
 * second name for a directory, a cycle included, is an error, not a loop);
 * pass 3 compares link counts with the names found; pass 4 the bitmaps with
 * what is in use. Nothing read from the image is used as an index before it
 * is checked against the superblock, which fs_super_check vouched for.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tools/fs/fsck.h"

/* One problem: @fmt says what, @fix what --repair does about it. */
void report(struct fsck *f, const char *fix, const char *fmt, ...)
{
	va_list ap;

	f->problems++;
	if (f->repair && fix)
		f->repaired++;
	if (f->quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (f->repair)
		printf("; %s", fix ? fix : "not repaired");
	putchar('\n');
}

/* A name from the disk, quoted and printable, for a report line. */
const char *qname(const char *name, size_t len)
{
	static char out[4 * FS_NAME_MAX + 3];
	char *p = out;

	if (len > FS_NAME_MAX)
		len = FS_NAME_MAX;
	*p++ = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"')
			p += sprintf(p, "\\x%02x", c);
		else
			*p++ = (char)c;
	}
	*p++ = '"';
	*p = 0;
	return out;
}

void put_block(struct fsck *f, uint32_t blk, const void *buf)
{
	if (f->repair && !f->err)
		f->err = img_write(f->m, blk, buf);
}

int get_block(struct fsck *f, uint32_t blk, void *buf)
{
	if (!f->err)
		f->err = img_read(f->m, blk, buf);
	if (f->err)
		memset(buf, 0, FS_BLOCK);
	return f->err;
}

void free_inode(struct fsck *f, uint32_t ino)
{
	struct fs_inode *ip = inode(f, ino);
	uint32_t gen = ip->generation;

	if (!f->repair)
		return;
	memset(ip, 0, sizeof(*ip));
	ip->generation = gen;
	inode_dirty(f, ino);
	f->state[ino] = FREE;
}

static int load_area(struct fsck *f, uint8_t *to, uint32_t start, uint32_t blocks)
{
	for (uint32_t i = 0; i < blocks; i++)
		if (get_block(f, start + i, to + (size_t)i * FS_BLOCK))
			return f->err;
	return 0;
}

/* Pass 0: the journals. A committed one is replayed, a torn or damaged
 * one reset; without --repair both are only reported. */
static void check_journals(struct fsck *f)
{
	static uint8_t scratch[2 * FS_BLOCK];
	struct fs_journal_head *h = (struct fs_journal_head *)scratch;
	uint8_t *buf = scratch + FS_BLOCK;
	char why[256], fix[320];

	for (uint32_t j = 0; j < f->s->njournals && !f->err; j++) {
		uint32_t at = fs_journal_block(f->s, j), crc = 0;
		int r;

		if (get_block(f, at, h))
			return;
		r = fs_journal_check(f->s, h, j, why, sizeof(why));
		if (r == 0)
			continue;
		if (r > 0) {
			for (uint32_t i = 1; i <= h->nblocks && !get_block(f, at + i, buf); i++)
				crc = crc32c(crc, buf, FS_BLOCK);
			if (f->err)
				return;
			if (crc != h->data_csum) {
				snprintf(why, sizeof(why), "transaction %lu of %u blocks is torn "
					 "(data checksum 0x%08x, the header says 0x%08x)",
					 (unsigned long)h->seq, h->nblocks, crc, h->data_csum);
				r = -1;
			}
		}
		if (r > 0 && f->repair) {
			uint32_t n = h->nblocks;
			uint64_t seq = h->seq;

			r = fs_journal_replay(f->s, j, img_read_cb, img_write_cb, f->m,
					      scratch, why, sizeof(why));
			if (r < 0) {
				f->err = r;
				snprintf(f->m->x.why, sizeof(f->m->x.why), "journal %u: %s", j, why);
				return;
			}
			report(f, "written home", "journal %u: transaction %lu of %u blocks is "
			       "committed but not written home", j, (unsigned long)seq, n);
		} else if (r > 0) {
			report(f, NULL, "journal %u: transaction %lu of %u blocks is committed "
			       "but not written home", j, (unsigned long)h->seq, h->nblocks);
		} else {
			uint64_t seq = h->magic == FS_JOURNAL_MAGIC ? h->seq + 1 : 0;

			snprintf(fix, sizeof(fix), "reset to empty");
			report(f, fix, "journal %u: %s", j, why);
			fs_journal_empty(f->s, j, seq, h);
			put_block(f, at, h);
		}
	}
	if (f->repair && !f->err)
		f->err = img_sync(f->m);
}

#define BITMAP_LINES 10                 /* lines per bitmap; then a count */

/* Pass 4, one bitmap: compare with @want(i) for each of its bits (the
 * first @meta always set), and clear those past @count. */
static void check_bitmap(struct fsck *f, uint8_t *map, uint32_t blocks, uint64_t count,
			 uint64_t meta, const char *name, const char *unit,
			 int (*want)(struct fsck *, uint64_t))
{
	uint64_t bits = (uint64_t)blocks * FS_BLOCK * 8, wrong = 0, past = 0;

	for (uint64_t i = 0; i < bits; i++) {
		int w = i < count ? want(f, i) : 0;

		if (bit(map, i) == w)
			continue;
		if (i >= count) {
			past++;
		} else if (++wrong <= BITMAP_LINES) {
			if (w && i < meta)
				report(f, "bit set", "%s: %s %lu (metadata) is not marked", name,
				       unit, (unsigned long)i);
			else if (w)
				report(f, "bit set", "%s: %s %lu is in use, but its bit is clear",
				       name, unit, (unsigned long)i);
			else
				report(f, "bit cleared", "%s: %s %lu is free, but its bit is set",
				       name, unit, (unsigned long)i);
		} else {
			f->problems++;
			f->repaired += f->repair;
		}
		set_bit(map, i, w);
	}
	if (wrong > BITMAP_LINES && !f->quiet)
		printf("%s: %lu more %ss marked wrong%s\n", name,
		       (unsigned long)(wrong - BITMAP_LINES), unit, f->repair ? "; corrected" : "");
	if (past)
		report(f, "cleared", "%s: %lu bits past the last %s are set", name,
		       (unsigned long)past, unit);
}

static int want_inode(struct fsck *f, uint64_t i)
{
	return i == 0 || f->state[i] != FREE;
}

static int want_block(struct fsck *f, uint64_t b)
{
	return b < f->s->data_start || (f->owner[b] && f->state[f->owner[b]] != FREE);
}

static int store_area(struct fsck *f, const uint8_t *from, uint32_t start, uint32_t blocks,
		      const uint8_t *dirty)
{
	for (uint32_t i = 0; i < blocks; i++)
		if (!dirty || dirty[i])
			put_block(f, start + i, from + (size_t)i * FS_BLOCK);
	return f->err;
}

static void fsck_free(struct fsck *f)
{
	if (f->dirs)
		for (uint32_t i = 0; i < f->s->ninodes; i++)
			free(f->dirs[i].b);
	free(f->dirs);
	free(f->names);
	free(f->ibm);
	free(f->bbm);
	free(f->itab);
	free(f->idirty);
	free(f->owner);
	free(f->state);
	free(f->links);
	free(f->subdirs);
	free(f->parent);
	free(f->queue);
	free(f->dotdot);
	free(f->deferred);
}

/* One whole check (and repair); f->problems says what it found. */
static int fsck_run(struct fsck *f)
{
	const struct fs_super *s = f->s;
	uint32_t n = s->ninodes;

	f->ibm = malloc((size_t)s->ibitmap_blocks * FS_BLOCK);
	f->bbm = malloc((size_t)s->bbitmap_blocks * FS_BLOCK);
	f->itab = malloc((size_t)s->inode_blocks * FS_BLOCK);
	f->idirty = calloc(s->inode_blocks, 1);
	f->owner = calloc(s->nblocks, sizeof(uint32_t));
	f->state = calloc(n, 1);
	f->links = calloc(n, sizeof(uint32_t));
	f->subdirs = calloc(n, sizeof(uint32_t));
	f->parent = calloc(n, sizeof(uint32_t));
	f->queue = calloc(n, sizeof(uint32_t));
	f->dotdot = calloc(n, sizeof(uint32_t));
	f->dirs = calloc(n, sizeof(struct dirinfo));
	if (!f->ibm || !f->bbm || !f->itab || !f->idirty || !f->owner || !f->state ||
	    !f->links || !f->subdirs || !f->parent || !f->queue || !f->dirs || !f->dotdot)
		return img_err(f->m, -ENOMEM, "not enough memory to check %u inodes and %u blocks",
			       n, s->nblocks);

	check_journals(f);
	if (f->err || load_area(f, f->ibm, s->ibitmap_start, s->ibitmap_blocks) ||
	    load_area(f, f->bbm, s->bbitmap_start, s->bbitmap_blocks) ||
	    load_area(f, f->itab, s->inode_start, s->inode_blocks))
		return f->err;
	if (inode(f, 0)->mode) {
		report(f, "cleared", "inode 0: in use, but there is no inode 0");
		free_inode(f, 0);
	}
	pass1(f);
	if (!f->err && pass2(f) && !f->err)
		pass3(f);
	if (f->err)
		return f->err;
	check_bitmap(f, f->ibm, s->ibitmap_blocks, n, 1, "inode bitmap", "inode", want_inode);
	check_bitmap(f, f->bbm, s->bbitmap_blocks, s->nblocks, s->data_start, "block bitmap",
		     "block", want_block);
	if (f->repair && f->repaired) {
		store_area(f, f->itab, s->inode_start, s->inode_blocks, f->idirty);
		store_area(f, f->ibm, s->ibitmap_start, s->ibitmap_blocks, NULL);
		store_area(f, f->bbm, s->bbitmap_start, s->bbitmap_blocks, NULL);
		if (!f->err)
			f->err = img_sync(f->m);
	}
	return f->err;
}

/* The summary of a sound file system. */
static void print_usage(struct fsck *f, const char *what)
{
	unsigned long files = 0, dirs = 0, blocks = 0, inodes = 0;

	for (uint32_t i = 1; i < f->s->ninodes; i++) {
		files += f->state[i] == FILE_;
		dirs += f->state[i] == DIR_;
		inodes += f->state[i] != FREE;
	}
	for (uint32_t b = f->s->data_start; b < f->s->nblocks; b++)
		blocks += (unsigned long)want_block(f, b);
	printf("%s: %s: %lu file%s, %lu director%s; %lu of %u data blocks, %lu of %u inodes "
	       "in use\n", f->m->path, what, files, files == 1 ? "" : "s", dirs,
	       dirs == 1 ? "y" : "ies", blocks, f->s->nblocks - f->s->data_start, inodes,
	       f->s->ninodes - 1);
}

int fsck(struct img *m, int repair)
{
	struct fsck f = { .m = m, .s = &m->s, .repair = repair };
	struct fsck again = { .m = m, .s = &m->s, .quiet = 1 };
	int status = 1;

	if (fsck_run(&f)) {
		fprintf(stderr, "dmosfs: %s: %s\n", m->path, m->x.why);
		fsck_free(&f);
		return 2;
	}
	if (!f.problems) {
		print_usage(&f, "clean");
		status = 0;
	} else if (!repair) {
		printf("%s: %lu problem%s found (dmosfs fsck --repair repairs them)\n",
		       m->path, f.problems, f.problems == 1 ? "" : "s");
	} else {
		printf("%s: %lu problem%s found, %lu repaired\n", m->path, f.problems,
		       f.problems == 1 ? "" : "s", f.repaired);
		/* Was the repair enough? */
		if (fsck_run(&again)) {
			fprintf(stderr, "dmosfs: %s: %s\n", m->path, m->x.why);
			status = 2;
		} else if (again.problems) {
			printf("%s: %lu problem%s remain after the repair\n", m->path,
			       again.problems, again.problems == 1 ? "" : "s");
		} else {
			print_usage(&again, "now clean");
		}
		fsck_free(&again);
	}
	fsck_free(&f);
	return status;
}
