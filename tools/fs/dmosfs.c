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
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tools/fs/cmds.h"

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

void bad_usage(const char *fmt, ...)
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
int failed(struct img *m)
{
	fprintf(stderr, "dmosfs: %s: %s\n", m->path, m->x.why);
	img_close(m);
	return 1;
}

int open_image(struct img *m, const char *path, int writable)
{
	if (img_open(m, path, writable, 0)) {
		fprintf(stderr, "dmosfs: %s: %s\n", path, m->x.why);
		img_close(m);
		exit(2);
	}
	return 0;
}

unsigned long number(const char *s, const char *what, unsigned long max)
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
uint64_t parse_size(const char *s)
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
