/*
 * The dmosfs subcommands that work on an existing file system: fsck, info,
 * ls, stat and get read it; put, mkdir and rm change it through a journal
 * slot, one transaction at a time (see dmosfs.c).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tools/fs/cmds.h"

int cmd_fsck(struct args *a)
{
	struct img m;
	int status;

	open_image(&m, a->pos[0], a->repair);
	status = fsck(&m, a->repair);
	img_close(&m);
	return status;
}

/* Set bits of the bitmap at @start in [lo, hi). */
static int count_bits(struct img *m, uint32_t start, uint64_t lo, uint64_t hi, uint64_t *n)
{
	uint8_t buf[FS_BLOCK];
	uint64_t bits = (uint64_t)FS_BLOCK * 8, loaded = UINT64_MAX;

	*n = 0;
	for (uint64_t i = lo; i < hi; i++) {
		if (i / bits != loaded) {
			if (img_read(m, start + (uint32_t)(i / bits), buf))
				return -EIO;
			loaded = i / bits;
		}
		*n += buf[i % bits / 8] >> (i % 8) & 1;
	}
	return 0;
}

static void print_uuid(const uint8_t *u)
{
	for (int i = 0; i < 16; i++)
		printf("%s%02x", i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", u[i]);
}

int cmd_info(struct args *a)
{
	static struct fs_journal_head h;
	const struct fs_super *s;
	uint64_t bused, iused, dblocks;
	char why[256];
	struct img m;
	time_t t;
	char when[64];

	open_image(&m, a->pos[0], 0);
	s = &m.s;
	if (count_bits(&m, s->bbitmap_start, s->data_start, s->nblocks, &bused) ||
	    count_bits(&m, s->ibitmap_start, 1, s->ninodes, &iused))
		return failed(&m);
	dblocks = s->nblocks - s->data_start;
	t = (time_t)s->mkfs_time;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	printf("label       %.*s\n", (int)sizeof(s->label), s->label);
	printf("uuid        ");
	print_uuid(s->uuid);
	printf("\nmade        %s\n", when);
	printf("version     %u, features compat 0x%x ro_compat 0x%x incompat 0x%x\n",
	       s->version, s->feature_compat, s->feature_ro_compat, s->feature_incompat);
	printf("size        %u blocks of %u bytes (%lu MiB)\n", s->nblocks, s->block_size,
	       (unsigned long)((uint64_t)s->nblocks * FS_BLOCK >> 20));
	printf("journals    %u of %u blocks, from block %u\n", s->njournals, s->journal_blocks,
	       s->journal_start);
	printf("bitmaps     inodes at %u (%u block%s), blocks at %u (%u block%s)\n",
	       s->ibitmap_start, s->ibitmap_blocks, s->ibitmap_blocks == 1 ? "" : "s",
	       s->bbitmap_start, s->bbitmap_blocks, s->bbitmap_blocks == 1 ? "" : "s");
	printf("inode table %u blocks from %u\n", s->inode_blocks, s->inode_start);
	printf("data        %lu blocks from %u: %lu used, %lu free\n", (unsigned long)dblocks,
	       s->data_start, (unsigned long)bused, (unsigned long)(dblocks - bused));
	printf("inodes      %u: %lu used, %lu free\n", s->ninodes - 1, (unsigned long)iused,
	       (unsigned long)(s->ninodes - 1 - iused));
	uint32_t empty = 0;

	for (uint32_t j = 0; j < s->njournals; j++) {
		int r;

		if (img_read(&m, fs_journal_block(s, j), &h))
			return failed(&m);
		r = fs_journal_check(s, &h, j, why, sizeof(why));
		if (r > 0)
			printf("journal %-3u transaction %lu of %u blocks, not written home\n", j,
			       (unsigned long)h.seq, h.nblocks);
		else if (r < 0)
			printf("journal %-3u damaged: %s\n", j, why);
		empty += r == 0;
	}
	if (empty == s->njournals)
		printf("journals    all empty\n");
	img_close(&m);
	return 0;
}

static void mode_string(uint16_t mode, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";

	out[0] = (mode & FS_S_IFMT) == FS_S_IFDIR ? 'd' : (mode & FS_S_IFMT) == FS_S_IFREG ? '-' : '?';
	for (int i = 0; i < 9; i++)
		out[1 + i] = mode & (0400 >> i) ? rwx[i] : '-';
	out[10] = 0;
}

struct ls_arg {
	struct img *m;
	int lng;
};

static void ls_line(struct img *m, int lng, uint32_t ino, const char *name, size_t len)
{
	struct fs_inode in;
	char mode[11];

	if (lng) {
		if (fs_inode_get(&m->x, ino, &in))
			printf("?????????? %3s %10s ", "?", "?");
		else {
			mode_string(in.mode, mode);
			printf("%s %3u %10lu ", mode, in.nlink, (unsigned long)in.size);
		}
	}
	print_name(stdout, name, len);
	putchar('\n');
}

static int ls_one(void *arg, const struct fs_dirent *d)
{
	struct ls_arg *l = arg;

	ls_line(l->m, l->lng, d->ino, d->name, d->namelen);
	return 0;
}

int cmd_ls(struct args *a)
{
	const char *path = a->npos > 1 ? a->pos[1] : "/";
	struct ls_arg l;
	struct fs_inode in;
	uint32_t ino;
	struct img m;

	open_image(&m, a->pos[0], 0);
	if (path_lookup(&m, path, &ino, NULL, NULL) || fs_inode_get(&m.x, ino, &in))
		return failed(&m);
	if ((in.mode & FS_S_IFMT) != FS_S_IFDIR) {
		const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

		ls_line(&m, a->lng, ino, base, strlen(base));
	} else {
		l.m = &m;
		l.lng = a->lng;
		if (fs_dir_each(&m.x, ino, &in, ls_one, &l) < 0)
			return failed(&m);
	}
	img_close(&m);
	return 0;
}

static void print_time(const char *what, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000ull);
	char when[64];
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(when, sizeof(when), "?");
	printf("%-10s %s.%09lu UTC\n", what, when, (unsigned long)(ns % 1000000000ull));
}

int cmd_stat(struct args *a)
{
	struct fs_inode in;
	uint32_t ino;
	struct img m;
	char mode[11];

	open_image(&m, a->pos[0], 0);
	if (path_lookup(&m, a->pos[1], &ino, NULL, NULL) || fs_inode_get(&m.x, ino, &in))
		return failed(&m);
	mode_string(in.mode, mode);
	printf("inode      %u (generation %u)\n", ino, in.generation);
	printf("type       %s\n", (in.mode & FS_S_IFMT) == FS_S_IFDIR ? "directory" :
	       (in.mode & FS_S_IFMT) == FS_S_IFREG ? "file" : "unknown");
	printf("mode       0%o %s\n", in.mode & FS_S_IPERM, mode);
	printf("links      %u\n", in.nlink);
	printf("size       %lu\n", (unsigned long)in.size);
	printf("blocks     %u\n", in.nblocks);
	printf("flags      0x%x%s\n", in.flags, in.flags & FS_INODE_ORPHAN ? " (orphan)" : "");
	printf("map        direct");
	for (int i = 0; i < FS_NDIRECT; i++)
		printf(" %u", in.direct[i]);
	printf(", indirect %u, double indirect %u\n", in.indirect, in.dindirect);
	print_time("modified", in.mtime_ns);
	print_time("changed", in.ctime_ns);
	print_time("accessed", in.atime_ns);
	img_close(&m);
	return 0;
}

int cmd_get(struct args *a)
{
	static uint8_t buf[FS_BLOCK];
	const char *host = a->pos[2];
	struct fs_inode in;
	uint32_t ino, blk;
	struct img m;
	FILE *out;

	open_image(&m, a->pos[0], 0);
	if (path_lookup(&m, a->pos[1], &ino, NULL, NULL) || fs_inode_get(&m.x, ino, &in))
		return failed(&m);
	if ((in.mode & FS_S_IFMT) != FS_S_IFREG) {
		img_err(&m, -EISDIR, "%s: not a file", a->pos[1]);
		return failed(&m);
	}
	if (in.size > FS_MAX_FILE_SIZE) {
		img_err(&m, -EIO, "%s: size %lu is past the largest file: run dmosfs fsck",
			a->pos[1], (unsigned long)in.size);
		return failed(&m);
	}
	out = strcmp(host, "-") ? fopen(host, "wb") : stdout;
	if (!out) {
		img_err(&m, -errno, "%s: %s", host, strerror(errno));
		return failed(&m);
	}
	for (uint64_t off = 0, idx = 0; off < in.size; off += FS_BLOCK, idx++) {
		size_t n = in.size - off < FS_BLOCK ? (size_t)(in.size - off) : FS_BLOCK;

		if (fs_bmap(&m.x, ino, &in, idx, &blk))
			return failed(&m);
		if (!blk)
			memset(buf, 0, sizeof(buf));
		else if (blk_read(&m, blk, buf))
			return failed(&m);
		if (fwrite(buf, 1, n, out) != n) {
			img_err(&m, -EIO, "%s: %s", host, strerror(errno));
			return failed(&m);
		}
	}
	if (out != stdout ? fclose(out) : fflush(out)) {
		img_err(&m, -EIO, "%s: %s", host, strerror(errno));
		return failed(&m);
	}
	img_close(&m);
	return 0;
}

/* Open @path for writing through journal slot --slot (default: the last). */
static int open_writing(struct img *m, struct args *a)
{
	open_image(m, a->pos[0], 1);
	uint32_t slot = a->slot ? (uint32_t)number(a->slot, "--slot", UINT32_MAX) : m->s.njournals - 1;

	return img_begin(m, slot);
}

/* Read up to a block from @in; the bytes read. */
static size_t read_block(FILE *in, uint8_t *buf)
{
	size_t n = 0, r;

	while (n < FS_BLOCK && (r = fread(buf + n, 1, FS_BLOCK - n, in)) > 0)
		n += r;
	return n;
}

static int all_zero(const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* Room the last transaction of a put needs: the new inode and the old
 * one, the directory's inode, a record, a new directory block with its
 * bitmap block and indirect blocks, the inode bitmap. */
#define LINK_ROOM 10
/* Room for one more block of a file: a bitmap block, two indirect blocks, the inode. */
#define BLOCK_ROOM 4

/* Write @in's bytes into the new inode @ino; it is an orphan until the
 * caller links it, so a commit half-way leaves only an orphan. */
static int put_data(struct img *m, FILE *in, uint32_t ino, struct fs_inode *ip)
{
	static uint8_t buf[FS_BLOCK];
	uint32_t blk;
	size_t n;
	int err;

	for (uint64_t idx = 0; (n = read_block(in, buf)) > 0; idx++) {
		if (idx >= FS_MAX_FILE_BLOCKS)
			return img_err(m, -EFBIG, "the file is larger than dmosfs holds (%lu bytes)",
				       (unsigned long)FS_MAX_FILE_SIZE);
		ip->size += n;
		if (all_zero(buf, n))
			continue;       /* a hole */
		if (tx_room(m) < BLOCK_ROOM &&
		    ((err = fs_inode_put(&m->x, ino, ip)) || (err = tx_commit(m))))
			return err;
		memset(buf + n, 0, FS_BLOCK - n);
		if ((err = fs_balloc(&m->x, &blk)) || (err = img_write(m, blk, buf)) ||
		    (err = fs_bmap_set(&m->x, ino, ip, idx, blk)))
			return err;
	}
	if (ferror(in))
		return img_err(m, -EIO, "reading the host file: %s", strerror(errno));
	return 0;
}

int cmd_put(struct args *a)
{
	const char *host = a->pos[1], *path = a->pos[2];
	struct fs_inode ip, dip, old;
	uint32_t ino, dino, oldino = 0, *recino;
	char leaf[FS_NAME_MAX + 1];
	size_t leaflen;
	struct fs_dirloc at;
	struct stat st;
	struct img m;
	FILE *in;
	int err;

	in = strcmp(host, "-") ? fopen(host, "rb") : stdin;
	if (!in || fstat(fileno(in), &st) < 0) {
		fprintf(stderr, "dmosfs: %s: %s\n", host, strerror(errno));
		return 1;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "dmosfs: %s: a directory\n", host);
		return 1;
	}
	if (open_writing(&m, a))
		return failed(&m);
	/* PATH: a new name in a directory, an existing file, or a directory
	 * to put it in under the host file's name. */
	err = path_lookup(&m, path, &ino, NULL, NULL);
	if (!err && !(err = fs_inode_get(&m.x, ino, &ip)) && (ip.mode & FS_S_IFMT) == FS_S_IFDIR) {
		const char *base = strrchr(host, '/') ? strrchr(host, '/') + 1 : host;

		if (!strcmp(host, "-"))
			return img_err(&m, -EISDIR, "%s is a directory: name the file", path), failed(&m);
		dino = ino;
		leaflen = strlen(base);
		if (leaflen > FS_NAME_MAX)
			return img_err(&m, -ENAMETOOLONG, "%s: a name is at most %u bytes", base,
				       FS_NAME_MAX), failed(&m);
		memcpy(leaf, base, leaflen);
	} else if (!err || err == -ENOENT) {
		if (path_lookup(&m, path, &dino, leaf, &leaflen))
			return failed(&m);
	} else {
		return failed(&m);
	}
	if (!fs_valid_name(leaf, leaflen))
		return img_err(&m, -EINVAL, "%.*s: not a name dmosfs allows", (int)leaflen, leaf),
			failed(&m);
	if (fs_inode_get(&m.x, dino, &dip))
		return failed(&m);
	err = fs_dir_lookup(&m.x, dino, &dip, leaf, leaflen, &oldino, &at);
	if (err && err != -ENOENT)
		return failed(&m);
	if (!err && (fs_inode_get(&m.x, oldino, &old) || (old.mode & FS_S_IFMT) != FS_S_IFREG))
		return img_err(&m, -EISDIR, "%s: not a file to replace", path), failed(&m);
	if (err)
		oldino = 0;

	if ((err = fs_ialloc(&m.x, &ino)) || (err = fs_inode_get(&m.x, ino, &ip)))
		return failed(&m);
	uint32_t gen = ip.generation + 1;
	memset(&ip, 0, sizeof(ip));
	ip.mode = (uint16_t)(FS_S_IFREG | (S_ISREG(st.st_mode) ? st.st_mode & FS_S_IPERM : 0644));
	ip.flags = FS_INODE_ORPHAN;
	ip.generation = gen;
	ip.atime_ns = ip.mtime_ns = ip.ctime_ns = now_ns();
	err = put_data(&m, in, ino, &ip);
	if (in != stdin)
		fclose(in);
	if (!err && tx_room(&m) < LINK_ROOM && !(err = fs_inode_put(&m.x, ino, &ip)))
		err = tx_commit(&m);
	if (err) {
		/* Undo: drop what is not committed; free what is. */
		char why[sizeof(m.x.why)];

		memcpy(why, m.x.why, sizeof(why));
		tx_abort(&m);
		if (!fs_inode_get(&m.x, ino, &ip) && ip.mode && fs_inode_destroy(&m.x, ino, &ip))
			fprintf(stderr, "dmosfs: %s: could not free inode %u: %s: run dmosfs fsck "
				"--repair\n", m.path, ino, m.x.why);
		memcpy(m.x.why, why, sizeof(why));
		return failed(&m);
	}
	/* The commit that makes it a file with a name. */
	ip.nlink = 1;
	ip.flags = 0;
	if ((err = fs_inode_get(&m.x, dino, &dip)))
		return failed(&m);
	if (oldino) {
		if (!(recino = tx_block(&m, at.blk, 0)))
			return failed(&m);
		((struct fs_dirent *)recino)[at.rec].ino = ino;
		old.nlink = old.nlink ? old.nlink - 1 : 0;
		if (!old.nlink)
			old.flags |= FS_INODE_ORPHAN;
		old.ctime_ns = now_ns();
		dip.mtime_ns = dip.ctime_ns = old.ctime_ns;
		if ((err = fs_inode_put(&m.x, oldino, &old)))
			return failed(&m);
	} else if ((err = fs_dir_add(&m.x, dino, &dip, leaf, leaflen, ino, FS_DT_REG))) {
		return failed(&m);
	}
	if ((err = fs_inode_put(&m.x, dino, &dip)) || (err = fs_inode_put(&m.x, ino, &ip)) ||
	    (err = tx_commit(&m)))
		return failed(&m);
	if (oldino && !old.nlink && fs_inode_destroy(&m.x, oldino, &old))
		return failed(&m);
	img_close(&m);
	return 0;
}

int cmd_mkdir(struct args *a)
{
	struct fs_inode ip, dip;
	struct fs_dirent *d;
	char leaf[FS_NAME_MAX + 1];
	size_t leaflen;
	uint32_t dino, ino, blk;
	struct img m;
	int err;

	if (open_writing(&m, a) || path_lookup(&m, a->pos[1], &dino, leaf, &leaflen) ||
	    fs_inode_get(&m.x, dino, &dip))
		return failed(&m);
	if (!fs_valid_name(leaf, leaflen))
		return img_err(&m, -EINVAL, "%.*s: not a name dmosfs allows", (int)leaflen, leaf),
			failed(&m);
	err = fs_dir_lookup(&m.x, dino, &dip, leaf, leaflen, &ino, NULL);
	if (!err)
		return img_err(&m, -EEXIST, "%s: exists", a->pos[1]), failed(&m);
	if (err != -ENOENT)
		return failed(&m);
	if (dip.nlink >= UINT16_MAX)
		return img_err(&m, -EMLINK, "%s: too many subdirectories there", a->pos[1]), failed(&m);
	if (fs_ialloc(&m.x, &ino) || fs_inode_get(&m.x, ino, &ip) || fs_balloc(&m.x, &blk) ||
	    !(d = tx_block(&m, blk, 1)))
		return failed(&m);
	for (int i = 0; i < 2; i++) {
		d[i].ino = i ? dino : ino;
		d[i].type = FS_DT_DIR;
		d[i].namelen = (uint8_t)(i + 1);
		memcpy(d[i].name, "..", (size_t)i + 1);
	}
	uint32_t gen = ip.generation + 1;
	memset(&ip, 0, sizeof(ip));
	ip.mode = FS_S_IFDIR | 0755;
	ip.nlink = 2;
	ip.size = FS_BLOCK;
	ip.nblocks = 1;
	ip.direct[0] = blk;
	ip.generation = gen;
	ip.atime_ns = ip.mtime_ns = ip.ctime_ns = now_ns();
	dip.nlink++;
	if (fs_dir_add(&m.x, dino, &dip, leaf, leaflen, ino, FS_DT_DIR) ||
	    fs_inode_put(&m.x, dino, &dip) || fs_inode_put(&m.x, ino, &ip) || tx_commit(&m))
		return failed(&m);
	img_close(&m);
	return 0;
}

static int count_entry(void *arg, const struct fs_dirent *d)
{
	(void)d;
	++*(int *)arg;
	return 1;
}

int cmd_rm(struct args *a)
{
	struct fs_inode ip, dip;
	char leaf[FS_NAME_MAX + 1];
	size_t leaflen;
	uint32_t dino, ino;
	struct fs_dirloc at;
	struct img m;
	int entries = 0;

	if (open_writing(&m, a) || path_lookup(&m, a->pos[1], &dino, leaf, &leaflen) ||
	    fs_inode_get(&m.x, dino, &dip))
		return failed(&m);
	if (fs_dir_lookup(&m.x, dino, &dip, leaf, leaflen, &ino, &at))
		return img_err(&m, -ENOENT, "%s: no such file or directory", a->pos[1]), failed(&m);
	if (fs_inode_get(&m.x, ino, &ip))
		return failed(&m);
	if ((ip.mode & FS_S_IFMT) == FS_S_IFDIR) {
		if (fs_dir_each(&m.x, ino, &ip, count_entry, &entries) < 0)
			return failed(&m);
		if (entries)
			return img_err(&m, -ENOTEMPTY, "%s: directory not empty", a->pos[1]),
				failed(&m);
		if (dip.nlink > 2)
			dip.nlink--;
		ip.nlink = 0;
	} else if (ip.nlink) {
		ip.nlink--;
	}
	dip.mtime_ns = dip.ctime_ns = ip.ctime_ns = now_ns();
	if (!ip.nlink)
		ip.flags |= FS_INODE_ORPHAN;
	if (fs_dir_remove(&m.x, &at) || fs_inode_put(&m.x, dino, &dip) || fs_inode_put(&m.x, ino, &ip))
		return failed(&m);
	/* The unlink commits with the first of the frees, or alone. */
	if (ip.nlink ? tx_commit(&m) : fs_inode_destroy(&m.x, ino, &ip))
		return failed(&m);
	img_close(&m);
	return 0;
}
