/*
 * fsstat: this node's counters of the cluster file system (dm_fsinfo): its
 * requests to the shared disk and its lookups in the page cache in the
 * pool, since the node booted, one "NAME VALUE" a line. The same numbers
 * are in this node's entry of the page cache's counters table in the pool,
 * which the host shows with `dmos pool`. Given a command, fsstat runs it on
 * this node and prints what the counters moved by meanwhile: the node's
 * whole activity over that time, the command's and anything else running.
 *
 *   fsstat                      the counters, then "fsstat: node N ..."
 *   fsstat PROGRAM [ARG...]     run it here; the moves, then its exit status
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "dm.h"

#define FIELD(name) { #name, offsetof(struct dm_fsinfo, name) }

static const struct {
	const char *name;
	size_t off;
} fields[] = {
	FIELD(disk_reads), FIELD(disk_read_bytes), FIELD(disk_writes), FIELD(disk_write_bytes),
	FIELD(disk_flushes), FIELD(disk_errors), FIELD(cache_hits), FIELD(cache_misses),
	FIELD(cache_fills), FIELD(cache_fill_waits), FIELD(cache_evictions),
	FIELD(cache_writebacks), FIELD(cache_lost),
};

static uint64_t get(const struct dm_fsinfo *fi, size_t i)
{
	uint64_t v;

	memcpy(&v, (const char *)fi + fields[i].off, sizeof(v));
	return v;
}

static int info(struct dm_fsinfo *fi)
{
	if (dm_fsinfo(fi) == 0)
		return 0;
	fprintf(stderr, "fsstat: fsinfo: %s\n", strerror(errno));
	return -1;
}

int main(int argc, char **argv)
{
	struct dm_fsinfo a, b;
	int pid, status;

	if (argc > 1 && argv[1][0] == '-') {
		fprintf(stderr, "usage: fsstat [PROGRAM [ARG...]]\n");
		return 2;
	}
	if (info(&a))
		return 1;
	if (argc == 1) {
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			printf("%s %llu\n", fields[i].name, (unsigned long long)get(&a, i));
		printf("fsstat: node %d, dmosfs %s, a page cache of %u sets\n", dm_node(),
		       a.mounted ? "mounted" : "not mounted", a.cache_sets);
		return 0;
	}
	if ((pid = dm_spawn(argv[1], argv + 1, dm_node())) < 0) {
		fprintf(stderr, "fsstat: %s: cannot start: %s\n", argv[1], strerror(errno));
		return 127;
	}
	if (dm_wait(pid, &status) < 0) {
		fprintf(stderr, "fsstat: %s: wait: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (info(&b))
		return 1;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		printf("%s +%llu\n", fields[i].name, (unsigned long long)(get(&b, i) - get(&a, i)));
	if (WIFSIGNALED(status)) {
		printf("fsstat: node %d: %s killed by signal %d\n", dm_node(), argv[1],
		       WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	printf("fsstat: node %d: %s exited with status %d\n", dm_node(), argv[1],
	       WEXITSTATUS(status));
	return WEXITSTATUS(status);
}
