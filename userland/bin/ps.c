/*
 * ps: every process of the cluster, with the node it runs on (dm_ps).
 * LOCAL and POOL are the memory it holds in its node's DRAM and in the
 * pool, in KiB.
 *
 *   ps          every process
 *   ps NODE     only those on node NODE
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dm.h"

#define MAX 512                 /* what the kernel returns at most */

static int by_node_pid(const void *a, const void *b)
{
	const struct dm_proc *x = a, *y = b;

	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int main(int argc, char **argv)
{
	static struct dm_proc p[MAX];
	int only = -1, n;

	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		printf("usage: ps [NODE]\n");
		return 2;
	}
	if (argc == 2) {
		char *end;
		only = (int)strtol(argv[1], &end, 10);
		if (!*argv[1] || *end || only < 0) {
			printf("ps: %s: not a node number\n", argv[1]);
			return 2;
		}
	}
	if ((n = dm_ps(p, MAX)) < 0) {
		printf("ps: %s\n", strerror(errno));
		return 1;
	}
	qsort(p, n, sizeof(p[0]), by_node_pid);
	printf("%8s %8s %4s %-6s %9s %9s %s\n", "PID", "PPID", "NODE", "STATE", "LOCAL", "POOL", "NAME");
	for (int i = 0; i < n; i++) {
		if (only >= 0 && p[i].node != only)
			continue;
		printf("%8d %8d %4d %-6s %8lluK %8lluK %.*s\n", p[i].pid, p[i].ppid, p[i].node,
		       dm_state_name(p[i].state), (unsigned long long)p[i].local_pages * 4,
		       (unsigned long long)p[i].pool_pages * 4, DM_NAME_MAX, p[i].name);
	}
	return 0;
}
