/*
 * The passes of dmosfs fsck over the inodes and the tree (see fsck.c for
 * the whole): pass 1 walks every inode's block map, claiming each block
 * once; pass 2 walks the directory tree from the root breadth-first, each
 * directory entered at most once; pass 3 compares the link counts with the
 * names found and frees orphans and inodes the tree does not reach.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/fs/fsck.h"

/* Pass 1, one map entry: keep it (claiming @blk for @ino) or not. */
static int claim(struct fsck *f, uint32_t ino, uint32_t blk, uint64_t idx, const char *kind)
{
	uint64_t size = inode(f, ino)->size;

	if (!blk)
		return 1;
	f->held++;
	f->dropped++;                   /* until it is kept, below */
	if (blk < f->s->data_start || blk >= f->s->nblocks) {
		report(f, "taken out of its map", "inode %u: %s %u (index %lu) is outside the "
		       "data area", ino, kind, blk, (unsigned long)idx);
		return 0;
	}
	if (idx >= f->limit) {
		report(f, "taken out of its map", "inode %u: %s %u (index %lu) is past its "
		       "size %lu", ino, kind, blk, (unsigned long)idx, (unsigned long)size);
		return 0;
	}
	if (f->owner[blk]) {
		report(f, "taken out of its map", "inode %u: %s %u (index %lu) is also in "
		       "inode %u", ino, kind, blk, (unsigned long)idx, f->owner[blk]);
		return 0;
	}
	f->owner[blk] = ino;
	f->dropped--;
	return 1;
}

/* @arr with room for element @n (of @size bytes; *@cap of them now): it
 * or its new place; NULL (f->err set) if there is no memory. */
static void *grow(struct fsck *f, void *arr, uint32_t n, uint32_t *cap, size_t size)
{
	uint32_t more = *cap ? *cap * 2 : 8;

	if (n < *cap)
		return arr;
	arr = realloc(arr, (size_t)more * size);
	if (!arr)
		f->err = img_err(f->m, -ENOMEM, "out of memory");
	else
		*cap = more;
	return arr;
}

static void note_dirblock(struct fsck *f, uint32_t ino, uint64_t idx, uint32_t blk)
{
	struct dirinfo *d = &f->dirs[ino];
	struct dirblk *b;

	if (f->state[ino] != DIR_ || !(b = grow(f, d->b, d->n, &d->cap, sizeof(*b))))
		return;
	d->b = b;
	d->b[d->n++] = (struct dirblk){ idx, blk };
}

/* The entries of indirect block @blk (claimed) of @ino, the first of
 * which is map index @base; @level 2 lists indirect blocks. */
static void walk_indirect(struct fsck *f, uint32_t ino, uint32_t blk, uint64_t base, int level)
{
	uint32_t list[FS_PER_BLOCK];
	uint64_t span = level == 2 ? FS_PER_BLOCK : 1;
	int changed = 0;

	if (get_block(f, blk, list))
		return;
	for (uint32_t i = 0; i < FS_PER_BLOCK && !f->err; i++) {
		uint64_t idx = base + i * span;

		if (!list[i])
			continue;
		if (!claim(f, ino, list[i], idx, level == 2 ? "indirect block" : "block")) {
			list[i] = 0;
			changed = 1;
		} else if (level == 2) {
			walk_indirect(f, ino, list[i], idx, 1);
		} else {
			note_dirblock(f, ino, idx, list[i]);
		}
	}
	if (changed)
		put_block(f, blk, list);
}

/* Pass 1, one inode in use. */
static void check_map(struct fsck *f, uint32_t ino)
{
	struct fs_inode *ip = inode(f, ino);
	uint64_t size = ip->size;
	uint32_t *top[2] = { &ip->indirect, &ip->dindirect };
	const uint64_t base[2] = { FS_NDIRECT, FS_NDIRECT + FS_PER_BLOCK };
	int dir = f->state[ino] == DIR_;
	uint32_t kept = 0;

	if (size > FS_MAX_FILE_SIZE) {
		report(f, "cut to the largest", "inode %u: size %lu is past the largest file "
		       "(%lu)", ino, (unsigned long)size, (unsigned long)FS_MAX_FILE_SIZE);
		size = FS_MAX_FILE_SIZE;
	}
	if (dir && (size == 0 || size % FS_BLOCK)) {
		report(f, "rounded up", "inode %u: directory size %lu is not a non-zero "
		       "multiple of %u", ino, (unsigned long)size, FS_BLOCK);
		size = size ? (size + FS_BLOCK - 1) / FS_BLOCK * FS_BLOCK : FS_BLOCK;
	}
	if (f->repair && size != ip->size) {
		ip->size = size;
		inode_dirty(f, ino);
	}
	f->limit = (uint32_t)((size + FS_BLOCK - 1) / FS_BLOCK);
	f->held = f->dropped = 0;
	for (uint32_t i = 0; i < FS_NDIRECT; i++) {
		if (!claim(f, ino, ip->direct[i], i, "block")) {
			if (f->repair) {
				ip->direct[i] = 0;
				inode_dirty(f, ino);
			}
		} else if (ip->direct[i]) {
			note_dirblock(f, ino, i, ip->direct[i]);
		}
	}
	for (int l = 0; l < 2 && !f->err; l++) {
		if (!claim(f, ino, *top[l], base[l], l ? "double indirect block" : "indirect block")) {
			if (f->repair) {
				*top[l] = 0;
				inode_dirty(f, ino);
			}
		} else if (*top[l]) {
			walk_indirect(f, ino, *top[l], base[l], l + 1);
		}
	}
	/* The count is judged against the map as found; a repair then counts
	 * what it left in. */
	kept = f->held - f->dropped;
	if (ip->nblocks != f->held)
		report(f, "corrected", "inode %u: nblocks is %u, but its map holds %u",
		       ino, ip->nblocks, f->held);
	if (f->repair && ip->nblocks != kept) {
		ip->nblocks = kept;
		inode_dirty(f, ino);
	}
	if (dir && !(f->dirs[ino].n && f->dirs[ino].b[0].idx == 0)) {
		report(f, "inode freed", "inode %u: directory without its first block", ino);
		f->state[ino] = BAD;
		free_inode(f, ino);
	} else if (dir) {
		struct fs_dirent recs[FS_DIRENTS_PER_BLOCK];

		if (!get_block(f, f->dirs[ino].b[0].blk, recs) && recs[1].namelen == 2 &&
		    !memcmp(recs[1].name, "..", 2))
			f->dotdot[ino] = recs[1].ino;
	}
}

void pass1(struct fsck *f)
{
	for (uint32_t ino = 1; ino < f->s->ninodes && !f->err; ino++) {
		struct fs_inode *ip = inode(f, ino);
		unsigned type = ip->mode & FS_S_IFMT;

		if (!ip->mode)
			continue;
		if (type != FS_S_IFREG && type != FS_S_IFDIR) {
			report(f, "inode freed", "inode %u: mode 0%o is neither a file nor a "
			       "directory", ino, ip->mode);
			f->state[ino] = BAD;
			free_inode(f, ino);
			continue;
		}
		f->state[ino] = type == FS_S_IFDIR ? DIR_ : FILE_;
		check_map(f, ino);
	}
}

/* A fresh, empty root directory in a block no map holds. */
static int make_root(struct fsck *f)
{
	struct fs_inode *ip = inode(f, FS_ROOT_INO);
	struct fs_dirent recs[FS_DIRENTS_PER_BLOCK];
	uint32_t gen = ip->generation, blk = 0;

	for (uint32_t b = 0; b < f->s->nblocks; b++) {
		if (f->owner[b] == FS_ROOT_INO)
			f->owner[b] = 0;        /* whatever the old root held is free */
		if (!blk && b >= f->s->data_start && !f->owner[b])
			blk = b;
	}
	if (!blk)
		return -1;
	memset(recs, 0, sizeof(recs));
	for (int i = 0; i < 2; i++) {
		recs[i].ino = FS_ROOT_INO;
		recs[i].type = FS_DT_DIR;
		recs[i].namelen = (uint8_t)(i + 1);
		memcpy(recs[i].name, "..", (size_t)i + 1);
	}
	put_block(f, blk, recs);
	memset(ip, 0, sizeof(*ip));
	ip->mode = FS_S_IFDIR | 0755;
	ip->nlink = 2;
	ip->size = FS_BLOCK;
	ip->nblocks = 1;
	ip->direct[0] = blk;
	ip->generation = gen + 1;
	ip->mtime_ns = ip->ctime_ns = ip->atime_ns = now_ns();
	inode_dirty(f, FS_ROOT_INO);
	f->owner[blk] = FS_ROOT_INO;
	f->dirs[FS_ROOT_INO].n = 0;
	f->state[FS_ROOT_INO] = DIR_;
	note_dirblock(f, FS_ROOT_INO, 0, blk);
	return 0;
}

static uint32_t name_hash(const char *s, size_t len)
{
	return crc32c(0, s, len);
}

/* Add @name to the current directory's set; 0 if it was there already. */
static int name_add(struct fsck *f, const char *s, uint8_t len)
{
	uint32_t h = name_hash(s, len), mask;

	if (2 * (f->nnames + 1) > f->names_cap) {
		uint32_t cap = f->names_cap ? f->names_cap * 2 : 64;
		struct name *old = f->names, *n = calloc(cap, sizeof(*n));

		if (!n) {
			f->err = img_err(f->m, -ENOMEM, "out of memory");
			return 1;
		}
		for (uint32_t i = 0; i < f->names_cap; i++) {
			if (!old[i].len)
				continue;
			uint32_t j = old[i].hash & (cap - 1);
			while (n[j].len)
				j = (j + 1) & (cap - 1);
			n[j] = old[i];
		}
		free(old);
		f->names = n;
		f->names_cap = cap;
	}
	mask = f->names_cap - 1;
	for (uint32_t j = h & mask;; j = (j + 1) & mask) {
		struct name *n = &f->names[j];

		if (!n->len) {
			n->hash = h;
			n->len = len;
			memcpy(n->s, s, len);
			f->nnames++;
			return 1;
		}
		if (n->hash == h && n->len == len && !memcmp(n->s, s, len))
			return 0;
	}
}

static void names_reset(struct fsck *f)
{
	if (f->names)
		memset(f->names, 0, f->names_cap * sizeof(*f->names));
	f->nnames = 0;
}

static int is_dots(const struct fs_dirent *d, uint32_t ino, int dots)
{
	return d->ino == ino && d->type == FS_DT_DIR && d->namelen == dots &&
		!memcmp(d->name, "..", (size_t)dots);
}

/* Is @anc @d itself or one of its ancestors in the tree walked so far? */
static int ancestor(struct fsck *f, uint32_t anc, uint32_t d)
{
	for (uint32_t hops = 0; hops < f->s->ninodes; hops++) {
		if (d == anc)
			return 1;
		if (d == FS_ROOT_INO || !f->parent[d])
			return 0;
		d = f->parent[d];
	}
	return 0;
}

static void defer(struct fsck *f, uint32_t d, uint32_t x, uint32_t blk, uint32_t rec,
		  uint64_t k, const struct fs_dirent *e)
{
	struct deferred *p = grow(f, f->deferred, f->ndeferred, &f->deferred_cap, sizeof(*p));

	if (!p)
		return;
	f->deferred = p;
	p += f->ndeferred++;

	*p = (struct deferred){ d, x, blk, rec, k, e->namelen, { 0 } };
	memcpy(p->name, e->name, e->namelen);
}

/* The problem with an entry in @d naming directory @x, which has a parent. */
static void named_again(struct fsck *f, uint32_t d, uint32_t x, char *msg, size_t n)
{
	if (ancestor(f, x, d))
		snprintf(msg, n, "names directory %u, its own ancestor (a cycle)", x);
	else
		snprintf(msg, n, "names directory %u, already named in directory %u", x,
			 f->parent[x]);
}

/* Pass 2, one directory reached from the root: its records. */
static void check_dir(struct fsck *f, uint32_t d, uint32_t *tail)
{
	struct dirinfo *di = &f->dirs[d];
	struct fs_dirent recs[FS_DIRENTS_PER_BLOCK];

	names_reset(f);
	for (uint32_t b = 0; b < di->n && !f->err; b++) {
		int changed = 0;

		if (get_block(f, di->b[b].blk, recs))
			return;
		for (uint32_t r = 0; r < FS_DIRENTS_PER_BLOCK && !f->err; r++) {
			uint64_t k = di->b[b].idx * FS_DIRENTS_PER_BLOCK + r;
			struct fs_dirent *e = &recs[r];
			uint32_t ino = e->ino;

			if (k < 2) {
				uint32_t want = k ? f->parent[d] : d;

				if (is_dots(e, want, (int)k + 1))
					continue;
				if (e->namelen == k + 1 && !memcmp(e->name, "..", k + 1))
					report(f, "rewritten", "directory %u: \"%s\" names inode %u "
					       "(type %u), not %u", d, k ? ".." : ".", ino, e->type, want);
				else
					report(f, "rewritten", "directory %u: record %u is not \"%s\"",
					       d, (unsigned)k, k ? ".." : ".");
				memset(e, 0, sizeof(*e));
				e->ino = want;
				e->type = FS_DT_DIR;
				e->namelen = (uint8_t)(k + 1);
				memcpy(e->name, "..", k + 1);
				changed = 1;
				continue;
			}
			if (!ino)
				continue;
			const char *what = NULL;
			char msg[96];

			if (!fs_valid_name(e->name, e->namelen))
				what = e->namelen < 1 || e->namelen > FS_NAME_MAX ?
					"has a name of bad length" : "has a name that is not allowed";
			else if (ino >= f->s->ninodes)
				snprintf(msg, sizeof(msg), "names inode %u, past the last (%u)",
					 ino, f->s->ninodes - 1), what = msg;
			else if (f->state[ino] == FREE)
				snprintf(msg, sizeof(msg), "names inode %u, which is free", ino), what = msg;
			else if (f->state[ino] == BAD)
				continue;       /* the inode's problem is reported */
			else if (!name_add(f, e->name, e->namelen))
				what = "repeats a name of this directory";
			else if (f->state[ino] == DIR_ && f->parent[ino])
				named_again(f, d, ino, msg, sizeof(msg)), what = msg;
			if (what) {
				report(f, "entry cleared", "directory %u: entry %s (record %lu) %s",
				       d, qname(e->name, e->namelen), (unsigned long)k, what);
				memset(e, 0, sizeof(*e));
				changed = 1;
				continue;
			}
			uint8_t type = f->state[ino] == DIR_ ? FS_DT_DIR : FS_DT_REG;

			if (e->type != type) {
				report(f, "type corrected", "directory %u: entry %s has type %u, but "
				       "inode %u is a %s", d, qname(e->name, e->namelen), e->type,
				       ino, type == FS_DT_DIR ? "directory" : "file");
				e->type = type;
				changed = 1;
			}
			if (type == FS_DT_DIR && f->dotdot[ino] != d) {
				defer(f, d, ino, di->b[b].blk, r, k, e);
			} else if (type == FS_DT_DIR) {
				f->parent[ino] = d;
				f->subdirs[d]++;
				f->queue[(*tail)++] = ino;
			} else {
				f->links[ino]++;
			}
		}
		if (changed)
			put_block(f, di->b[b].blk, recs);
	}
}

/* Pass 2: the tree, breadth-first from the root; 0 if there is no root
 * to walk from (then nothing is known to be reachable). */
int pass2(struct fsck *f)
{
	const struct fs_inode *root = inode(f, FS_ROOT_INO);
	uint32_t head = 0, tail = 0;

	if (f->state[FS_ROOT_INO] != DIR_) {
		const char *fix = f->repair ? "a new empty root made" : NULL;

		if (!root->mode)
			report(f, fix, "inode %u: the root directory is free", FS_ROOT_INO);
		else if (f->state[FS_ROOT_INO] == FILE_)
			report(f, fix, "inode %u: the root is not a directory", FS_ROOT_INO);
		else
			report(f, fix, "inode %u: the root directory is damaged", FS_ROOT_INO);
		if (!f->repair)
			return 0;
		if (make_root(f)) {
			report(f, NULL, "no free block for a new root directory");
			return 0;
		}
	}
	f->parent[FS_ROOT_INO] = FS_ROOT_INO;
	f->queue[tail++] = FS_ROOT_INO;
	while (head < tail && !f->err)
		check_dir(f, f->queue[head++], &tail);
	/* The entries put off: the first for a directory not reached yet
	 * gives it its parent (and its subtree is walked); the others go. */
	for (uint32_t i = 0; i < f->ndeferred && !f->err; i++) {
		struct deferred e = f->deferred[i];
		struct fs_dirent recs[FS_DIRENTS_PER_BLOCK];
		char msg[96];

		if (!f->parent[e.x]) {
			f->parent[e.x] = e.d;
			f->subdirs[e.d]++;
			f->queue[tail++] = e.x;
			while (head < tail && !f->err)
				check_dir(f, f->queue[head++], &tail);
			continue;
		}
		named_again(f, e.d, e.x, msg, sizeof(msg));
		report(f, "entry cleared", "directory %u: entry %s (record %lu) %s", e.d,
		       qname(e.name, e.len), (unsigned long)e.k, msg);
		if (f->repair && !get_block(f, e.blk, recs)) {
			memset(&recs[e.rec], 0, sizeof(recs[e.rec]));
			put_block(f, e.blk, recs);
		}
	}
	return 1;
}

/* Pass 3: link counts, orphans, inodes the tree does not reach. */
void pass3(struct fsck *f)
{
	char fix[48];

	for (uint32_t ino = 1; ino < f->s->ninodes; ino++) {
		struct fs_inode *ip = inode(f, ino);
		uint32_t want;

		if (f->state[ino] == DIR_) {
			if (!f->parent[ino]) {
				report(f, "inode freed", "inode %u: directory not reachable from the root", ino);
				free_inode(f, ino);
				continue;
			}
			want = 2 + f->subdirs[ino];
			if (ip->nlink != want) {
				snprintf(fix, sizeof(fix), "set to %u", want);
				report(f, fix, "inode %u: nlink is %u, but a directory with %u "
				       "subdirector%s has %u", ino, ip->nlink, f->subdirs[ino],
				       f->subdirs[ino] == 1 ? "y" : "ies", want);
			}
		} else if (f->state[ino] == FILE_) {
			want = f->links[ino];
			if (!want) {
				if (ip->nlink == 0 || (ip->flags & FS_INODE_ORPHAN))
					report(f, "inode freed", "inode %u: an orphan (nlink %u): unlinked "
					       "while open, or a write that did not finish", ino, ip->nlink);
				else
					report(f, "inode freed", "inode %u: in use, but no directory "
					       "entry names it", ino);
				free_inode(f, ino);
				continue;
			}
			if (ip->nlink != want) {
				snprintf(fix, sizeof(fix), "set to %u", want);
				report(f, fix, "inode %u: nlink is %u, but %u %s it", ino,
				       ip->nlink, want, want == 1 ? "entry names" : "entries name");
			}
		} else {
			continue;
		}
		if (ip->flags & FS_INODE_ORPHAN)
			report(f, "flag cleared", "inode %u: flagged orphan, but the tree names it", ino);
		if (f->repair && (ip->nlink != want || (ip->flags & FS_INODE_ORPHAN))) {
			ip->nlink = (uint16_t)want;
			ip->flags &= ~FS_INODE_ORPHAN;
			inode_dirty(f, ino);
		}
	}
}
