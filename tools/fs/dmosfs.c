/*
 * dmosfs: the host's tool for dmosfs images, the cluster file system's disk
 * (fs/format.h), in the manner of mtools and debugfs: make one (mkfs),
 * check and repair one (fsck), and look at and change what is in it (ls,
 * stat, info, get, put, mkdir, rm) without booting the cluster.
 *
 * Writing commands change metadata only through a journal slot, as a node
 * does (the last slot unless --slot says otherwise), so a run cut short is
 * finished by replay or leaves an orphan for fsck to free. Run it on an
 * image no cluster has open.
 *
 * Exit status: 0 done; 1 the operation failed (fsck: problems found);
 * 2 bad command line, or not an image this tool can use (fsck: refused).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/fs/image.h"

static const char usage[] =
	"usage: dmosfs COMMAND IMAGE ...\n"
	"  mkfs IMAGE [--size SIZE] [--journals N] [--journal-blocks N] [--inodes N]\n"
	"       [--label L]                make a file system (SIZE like 64M, 1G)\n"
	"  fsck IMAGE [--repair]           check it; exit 0 clean, 1 problems, 2 refused\n"
	"  info IMAGE                      the superblock, space and journals\n"
	"  ls [-l] IMAGE [PATH]            list a directory\n"
	"  stat IMAGE PATH                 one inode\n"
	"  get IMAGE PATH HOSTFILE|-       copy a file out\n"
	"  put [--slot N] IMAGE HOSTFILE|- PATH\n"
	"                                  copy a file in (PATH may be a directory)\n"
	"  mkdir [--slot N] IMAGE PATH     make a directory\n"
	"  rm [--slot N] IMAGE PATH        remove a file or an empty directory\n";

__attribute__((noreturn, format(printf, 1, 2)))
static void bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("dmosfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (dmosfs --help)\n", stderr);
	exit(2);
}

/* The operation failed: say why, exit status 1. */
static int failed(struct img *m)
{
	fprintf(stderr, "dmosfs: %s: %s\n", m->path, m->why);
	img_close(m);
	return 1;
}

static int open_image(struct img *m, const char *path, int writable)
{
	if (img_open(m, path, writable, 0)) {
		fprintf(stderr, "dmosfs: %s: %s\n", path, m->why);
		img_close(m);
		exit(2);
	}
	return 0;
}

static unsigned long number(const char *s, const char *what, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v > max || *s == '-')
		bad_usage("%s: not a number 0..%lu: %s", what, max, s);
	return v;
}

/* 4096, 64K, 16M, 2G, 1T (powers of 1024; an optional "iB" or "B"). */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		bad_usage("--size: not a size: %s", s);
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || v > (UINT64_MAX >> shift))
		bad_usage("--size: not a size: %s", s);
	return (uint64_t)v << shift;
}

/* Options of the subcommands: their letters (for getopt_long) and names. */
static const struct option long_opts[] = {
	{ "size", required_argument, NULL, 's' },
	{ "journals", required_argument, NULL, 'j' },
	{ "journal-blocks", required_argument, NULL, 'b' },
	{ "inodes", required_argument, NULL, 'i' },
	{ "label", required_argument, NULL, 'L' },
	{ "repair", no_argument, NULL, 'r' },
	{ "slot", required_argument, NULL, 'S' },
	{ "long", no_argument, NULL, 'l' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *pos[4];
	int npos;
	const char *size, *journals, *jblocks, *inodes, *label, *slot;
	int repair, lng;
};

/* Parse argv[1..] of @cmd, which takes @allowed options and @min..@max
 * operands. */
static struct args parse(int argc, char **argv, const char *cmd, const char *allowed,
			 int min, int max)
{
	struct args a = { 0 };
	int c;

	optind = 1;
	opterr = 0;
	for (;;) {
		c = getopt_long(argc, argv, "+:l", long_opts, NULL);
		if (c == -1) {          /* an operand; options may follow it */
			if (optind >= argc)
				break;
			if (a.npos == max)
				bad_usage("%s: too many arguments", cmd);
			a.pos[a.npos++] = argv[optind++];
			continue;
		}
		if (c == '?')
			bad_usage("%s: unknown option %s", cmd, argv[optind - 1]);
		if (c == ':')
			bad_usage("%s: %s needs a value", cmd, argv[optind - 1]);
		if (!strchr(allowed, c))
			bad_usage("%s: no option %s here", cmd, argv[optind - 1]);
		switch (c) {
		case 's': a.size = optarg; break;
		case 'j': a.journals = optarg; break;
		case 'b': a.jblocks = optarg; break;
		case 'i': a.inodes = optarg; break;
		case 'L': a.label = optarg; break;
		case 'S': a.slot = optarg; break;
		case 'r': a.repair = 1; break;
		case 'l': a.lng = 1; break;
		}
	}
	if (a.npos < min)
		bad_usage("%s: missing arguments", cmd);
	return a;
}

static int cmd_mkfs(struct args *a)
{
	const char *path = a->pos[0];
	uint64_t size = a->size ? parse_size(a->size) : 0;
	uint32_t journals = a->journals ? (uint32_t)number(a->journals, "--journals", FS_MAX_JOURNALS) : 0;
	uint32_t jblocks = a->jblocks ?
		(uint32_t)number(a->jblocks, "--journal-blocks", FS_JOURNAL_MAX + 1) : 0;
	uint32_t inodes = a->inodes ? (uint32_t)number(a->inodes, "--inodes", UINT32_MAX) : 0;
	static uint8_t buf[FS_BLOCK];
	struct fs_super s;
	struct fs_inode *root;
	struct fs_dirent *d;
	struct img m;
	struct stat st;
	int fd, created = 0;

	if (a->label && strlen(a->label) >= sizeof(s.label))
		bad_usage("mkfs: --label: at most %zu bytes", sizeof(s.label) - 1);
	if (a->journals && !journals)
		bad_usage("mkfs: --journals: at least 1");
	if (a->jblocks && jblocks < FS_MIN_JOURNAL)
		bad_usage("mkfs: --journal-blocks: at least %u", FS_MIN_JOURNAL);
	if (a->size && size < FS_BLOCK)
		bad_usage("mkfs: --size: at least one block (%u bytes)", FS_BLOCK);
	if (stat(path, &st) < 0) {
		if (errno != ENOENT || !a->size) {
			fprintf(stderr, "dmosfs: %s: %s\n", path,
				errno == ENOENT ? "no such file: say --size to make it" : strerror(errno));
			return 2;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
			fprintf(stderr, "dmosfs: %s: %s\n", path, strerror(errno));
			return 2;
		}
		close(fd);
		created = 1;
	} else if (a->size && S_ISREG(st.st_mode)) {
		if (truncate(path, (off_t)size) < 0) {
			fprintf(stderr, "dmosfs: %s: %s\n", path, strerror(errno));
			return 2;
		}
	}
	if (img_open(&m, path, 1, 1)) {
		fprintf(stderr, "dmosfs: %s: %s\n", path, m.why);
		return 2;
	}
	if (a->size && size / FS_BLOCK < m.disk_blocks)
		m.disk_blocks = size / FS_BLOCK;        /* a device used only in part */
	if (a->size && size / FS_BLOCK > m.disk_blocks) {
		img_err(&m, -EINVAL, "--size %s is more than the device holds", a->size);
		return failed(&m);
	}
	if (m.disk_blocks > UINT32_MAX) {
		img_err(&m, -EFBIG, "%lu blocks: dmosfs addresses at most %u (16 TiB): say --size",
			(unsigned long)m.disk_blocks, UINT32_MAX);
		return failed(&m);
	}
	if (fs_geometry(&s, (uint32_t)m.disk_blocks, inodes, journals, jblocks, m.why, sizeof(m.why))) {
		if (created)
			unlink(path);   /* nothing made of it */
		return failed(&m);
	}
	if (getrandom(s.uuid, sizeof(s.uuid), 0) != sizeof(s.uuid)) {
		img_err(&m, -EIO, "no random bytes for a uuid: %s", strerror(errno));
		return failed(&m);
	}
	s.uuid[6] = (uint8_t)((s.uuid[6] & 0x0f) | 0x40);       /* version 4 */
	s.uuid[8] = (uint8_t)((s.uuid[8] & 0x3f) | 0x80);
	s.mkfs_time = (uint64_t)time(NULL);
	if (a->label)
		memcpy(s.label, a->label, strlen(a->label));
	s.csum = fs_super_csum(&s);

	/* An old superblock goes first, the new one last: a mkfs cut short
	 * leaves no file system rather than a mix of two. */
	memset(buf, 0, sizeof(buf));
	if (img_write(&m, 0, buf) || img_sync(&m))
		return failed(&m);
	for (uint32_t b = s.journal_start; b < s.data_start; b++)
		if (img_write(&m, b, buf))
			return failed(&m);
	for (uint32_t j = 0; j < s.njournals; j++) {
		fs_journal_empty(&s, j, 0, (struct fs_journal_head *)buf);
		if (img_write(&m, fs_journal_block(&s, j), buf))
			return failed(&m);
	}
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x3;                           /* no inode 0; the root */
	if (img_write(&m, s.ibitmap_start, buf))
		return failed(&m);
	/* Every block before data_start and the root's, data_start itself. */
	for (uint32_t i = 0; i < s.bbitmap_blocks; i++) {
		uint64_t first = (uint64_t)i * FS_BLOCK * 8;

		memset(buf, 0, sizeof(buf));
		for (uint64_t b = first; b <= s.data_start && b < first + FS_BLOCK * 8; b++)
			buf[(b - first) / 8] |= (uint8_t)(1u << (b % 8));
		if (img_write(&m, s.bbitmap_start + i, buf))
			return failed(&m);
	}
	memset(buf, 0, sizeof(buf));
	root = (struct fs_inode *)buf + FS_ROOT_INO;
	root->mode = FS_S_IFDIR | 0755;
	root->nlink = 2;
	root->size = FS_BLOCK;
	root->nblocks = 1;
	root->direct[0] = s.data_start;
	root->atime_ns = root->mtime_ns = root->ctime_ns = s.mkfs_time * 1000000000ull;
	if (img_write(&m, s.inode_start, buf))
		return failed(&m);
	memset(buf, 0, sizeof(buf));
	d = (struct fs_dirent *)buf;
	for (int i = 0; i < 2; i++) {
		d[i].ino = FS_ROOT_INO;
		d[i].type = FS_DT_DIR;
		d[i].namelen = (uint8_t)(i + 1);
		memcpy(d[i].name, "..", (size_t)i + 1);
	}
	if (img_write(&m, s.data_start, buf) || img_sync(&m))
		return failed(&m);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &s, sizeof(s));
	if (img_write(&m, 0, buf) || img_sync(&m))
		return failed(&m);
	printf("%s: dmosfs of %u blocks (%lu MiB), %u inodes, %u journals of %u blocks, "
	       "data from block %u\n", path, s.nblocks,
	       (unsigned long)((uint64_t)s.nblocks * FS_BLOCK >> 20), s.ninodes - 1,
	       s.njournals, s.journal_blocks, s.data_start);
	img_close(&m);
	return 0;
}

static int cmd_fsck(struct args *a)
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

static int cmd_info(struct args *a)
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
		if (inode_get(m, ino, &in))
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

static int cmd_ls(struct args *a)
{
	const char *path = a->npos > 1 ? a->pos[1] : "/";
	struct ls_arg l;
	struct fs_inode in;
	uint32_t ino;
	struct img m;

	open_image(&m, a->pos[0], 0);
	if (path_lookup(&m, path, &ino, NULL, NULL) || inode_get(&m, ino, &in))
		return failed(&m);
	if ((in.mode & FS_S_IFMT) != FS_S_IFDIR) {
		const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

		ls_line(&m, a->lng, ino, base, strlen(base));
	} else {
		l.m = &m;
		l.lng = a->lng;
		if (dir_each(&m, ino, &in, ls_one, &l) < 0)
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

static int cmd_stat(struct args *a)
{
	struct fs_inode in;
	uint32_t ino;
	struct img m;
	char mode[11];

	open_image(&m, a->pos[0], 0);
	if (path_lookup(&m, a->pos[1], &ino, NULL, NULL) || inode_get(&m, ino, &in))
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

static int cmd_get(struct args *a)
{
	static uint8_t buf[FS_BLOCK];
	const char *host = a->pos[2];
	struct fs_inode in;
	uint32_t ino, blk;
	struct img m;
	FILE *out;

	open_image(&m, a->pos[0], 0);
	if (path_lookup(&m, a->pos[1], &ino, NULL, NULL) || inode_get(&m, ino, &in))
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

		if (bmap(&m, ino, &in, idx, &blk))
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
		    ((err = inode_put(m, ino, ip)) || (err = tx_commit(m))))
			return err;
		memset(buf + n, 0, FS_BLOCK - n);
		if ((err = balloc(m, &blk)) || (err = img_write(m, blk, buf)) ||
		    (err = bmap_set(m, ino, ip, idx, blk)))
			return err;
	}
	if (ferror(in))
		return img_err(m, -EIO, "reading the host file: %s", strerror(errno));
	return 0;
}

static int cmd_put(struct args *a)
{
	const char *host = a->pos[1], *path = a->pos[2];
	struct fs_inode ip, dip, old;
	uint32_t ino, dino, oldino = 0, *recino;
	char leaf[FS_NAME_MAX + 1];
	size_t leaflen;
	struct dirloc at;
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
	if (!err && !(err = inode_get(&m, ino, &ip)) && (ip.mode & FS_S_IFMT) == FS_S_IFDIR) {
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
	if (!valid_name(leaf, leaflen))
		return img_err(&m, -EINVAL, "%.*s: not a name dmosfs allows", (int)leaflen, leaf),
			failed(&m);
	if (inode_get(&m, dino, &dip))
		return failed(&m);
	err = dir_lookup(&m, dino, &dip, leaf, leaflen, &oldino, &at);
	if (err && err != -ENOENT)
		return failed(&m);
	if (!err && (inode_get(&m, oldino, &old) || (old.mode & FS_S_IFMT) != FS_S_IFREG))
		return img_err(&m, -EISDIR, "%s: not a file to replace", path), failed(&m);
	if (err)
		oldino = 0;

	if ((err = ialloc(&m, &ino)) || (err = inode_get(&m, ino, &ip)))
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
	if (!err && tx_room(&m) < LINK_ROOM && !(err = inode_put(&m, ino, &ip)))
		err = tx_commit(&m);
	if (err) {
		/* Undo: drop what is not committed; free what is. */
		char why[sizeof(m.why)];

		memcpy(why, m.why, sizeof(why));
		tx_abort(&m);
		if (!inode_get(&m, ino, &ip) && ip.mode && inode_destroy(&m, ino, &ip))
			fprintf(stderr, "dmosfs: %s: could not free inode %u: %s: run dmosfs fsck "
				"--repair\n", m.path, ino, m.why);
		memcpy(m.why, why, sizeof(why));
		return failed(&m);
	}
	/* The commit that makes it a file with a name. */
	ip.nlink = 1;
	ip.flags = 0;
	if ((err = inode_get(&m, dino, &dip)))
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
		if ((err = inode_put(&m, oldino, &old)))
			return failed(&m);
	} else if ((err = dir_add(&m, dino, &dip, leaf, leaflen, ino, FS_DT_REG))) {
		return failed(&m);
	}
	if ((err = inode_put(&m, dino, &dip)) || (err = inode_put(&m, ino, &ip)) ||
	    (err = tx_commit(&m)))
		return failed(&m);
	if (oldino && !old.nlink && inode_destroy(&m, oldino, &old))
		return failed(&m);
	img_close(&m);
	return 0;
}

static int cmd_mkdir(struct args *a)
{
	struct fs_inode ip, dip;
	struct fs_dirent *d;
	char leaf[FS_NAME_MAX + 1];
	size_t leaflen;
	uint32_t dino, ino, blk;
	struct img m;
	int err;

	if (open_writing(&m, a) || path_lookup(&m, a->pos[1], &dino, leaf, &leaflen) ||
	    inode_get(&m, dino, &dip))
		return failed(&m);
	if (!valid_name(leaf, leaflen))
		return img_err(&m, -EINVAL, "%.*s: not a name dmosfs allows", (int)leaflen, leaf),
			failed(&m);
	err = dir_lookup(&m, dino, &dip, leaf, leaflen, &ino, NULL);
	if (!err)
		return img_err(&m, -EEXIST, "%s: exists", a->pos[1]), failed(&m);
	if (err != -ENOENT)
		return failed(&m);
	if (dip.nlink >= UINT16_MAX)
		return img_err(&m, -EMLINK, "%s: too many subdirectories there", a->pos[1]), failed(&m);
	if (ialloc(&m, &ino) || inode_get(&m, ino, &ip) || balloc(&m, &blk) ||
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
	if (dir_add(&m, dino, &dip, leaf, leaflen, ino, FS_DT_DIR) ||
	    inode_put(&m, dino, &dip) || inode_put(&m, ino, &ip) || tx_commit(&m))
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

static int cmd_rm(struct args *a)
{
	struct fs_inode ip, dip;
	char leaf[FS_NAME_MAX + 1];
	size_t leaflen;
	uint32_t dino, ino;
	struct dirloc at;
	struct img m;
	int entries = 0;

	if (open_writing(&m, a) || path_lookup(&m, a->pos[1], &dino, leaf, &leaflen) ||
	    inode_get(&m, dino, &dip))
		return failed(&m);
	if (dir_lookup(&m, dino, &dip, leaf, leaflen, &ino, &at))
		return img_err(&m, -ENOENT, "%s: no such file or directory", a->pos[1]), failed(&m);
	if (inode_get(&m, ino, &ip))
		return failed(&m);
	if ((ip.mode & FS_S_IFMT) == FS_S_IFDIR) {
		if (dir_each(&m, ino, &ip, count_entry, &entries) < 0)
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
	if (dir_remove(&m, &at) || inode_put(&m, dino, &dip) || inode_put(&m, ino, &ip))
		return failed(&m);
	/* The unlink commits with the first of the frees, or alone. */
	if (ip.nlink ? tx_commit(&m) : inode_destroy(&m, ino, &ip))
		return failed(&m);
	img_close(&m);
	return 0;
}

static const struct command {
	const char *name;
	int (*run)(struct args *a);
	const char *opts;
	int min, max;
} commands[] = {
	{ "mkfs", cmd_mkfs, "sjbiL", 1, 1 },
	{ "fsck", cmd_fsck, "r", 1, 1 },
	{ "info", cmd_info, "", 1, 1 },
	{ "ls", cmd_ls, "l", 1, 2 },
	{ "stat", cmd_stat, "", 2, 2 },
	{ "get", cmd_get, "", 3, 3 },
	{ "put", cmd_put, "S", 3, 3 },
	{ "mkdir", cmd_mkdir, "S", 2, 2 },
	{ "rm", cmd_rm, "S", 2, 2 },
};

int main(int argc, char **argv)
{
	if (argc < 2)
		bad_usage("no command");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];

		if (strcmp(argv[1], c->name))
			continue;
		struct args a = parse(argc - 1, argv + 1, c->name, c->opts, c->min, c->max);
		return c->run(&a);
	}
	bad_usage("no command %s", argv[1]);
}
