/*
 * What dmosfs.c (the command line) and the subcommands (mkfs.c, cmds.c)
 * share: the parsed arguments, the command line's error exits, and the
 * subcommands themselves. Private to the dmosfs tool.
 */
#ifndef TOOLS_FS_CMDS_H
#define TOOLS_FS_CMDS_H

#include "tools/fs/image.h"


struct args {
	const char *pos[4];
	int npos;
	const char *size, *journals, *jblocks, *inodes, *label, *slot;
	int repair, lng;
};

/* A bad command line: say what, exit status 2. */
__attribute__((noreturn, format(printf, 1, 2)))
void bad_usage(const char *fmt, ...);
/* The operation failed: say why, exit status 1. */
int failed(struct img *m);
/* Open the image @path or exit with status 2. */
int open_image(struct img *m, const char *path, int writable);
/* @s as a number 0..@max, or a bad command line about @what. */
unsigned long number(const char *s, const char *what, unsigned long max);
/* 4096, 64K, 16M, 2G, 1T (powers of 1024; an optional "iB" or "B"). */
uint64_t parse_size(const char *s);

/* The subcommands: the exit status. */
int cmd_mkfs(struct args *a);
int cmd_fsck(struct args *a);
int cmd_info(struct args *a);
int cmd_ls(struct args *a);
int cmd_stat(struct args *a);
int cmd_get(struct args *a);
int cmd_put(struct args *a);
int cmd_mkdir(struct args *a);
int cmd_rm(struct args *a);

#endif
