/*
 * free: memory of this node (its local DRAM) and of the cluster's pool,
 * like Linux's free (dm_meminfo). The pool row's last column is what this
 * node's processes and kernel hold in the pool.
 *
 *   free [-k|-m|-g|-h]      KiB (default), MiB, GiB, or whatever reads best
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "dm.h"

static int unit = 'k';

static void show(uint64_t bytes)
{
	static const char suffix[] = "KMGT";

	if (unit != 'h') {
		int shift = unit == 'k' ? 10 : unit == 'm' ? 20 : 30;
		printf(" %12llu", (unsigned long long)(bytes >> shift));
		return;
	}
	double v = (double)bytes / 1024;
	int i = 0;
	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	printf(" %11.1f%c", v, suffix[i]);
}

int main(int argc, char **argv)
{
	struct dm_meminfo m;
	struct dm_nodeinfo ni;

	for (int i = 1; i < argc; i++) {
		if (strlen(argv[i]) == 2 && argv[i][0] == '-' && strchr("kmgh", argv[i][1])) {
			unit = argv[i][1];
		} else {
			printf("usage: free [-k|-m|-g|-h]\n");
			return 2;
		}
	}
	if (dm_meminfo(&m) < 0 || dm_nodeinfo(&ni) < 0) {
		printf("free: %s\n", strerror(errno));
		return 1;
	}
	const char *u = unit == 'k' ? " (KiB)" : unit == 'm' ? " (MiB)" : unit == 'g' ? " (GiB)" : "";
	printf("node %d of cluster %s%s\n", ni.node, ni.cluster, u);
	printf("%-7s %12s %12s %12s %12s\n", "", "total", "used", "free", "this node");
	printf("%-7s", "local:");
	show(m.local_total);
	show(m.local_total - m.local_free);
	show(m.local_free);
	show(m.local_total - m.local_free);
	printf("\n%-7s", "pool:");
	show(m.pool_total);
	show(m.pool_total - m.pool_free);
	show(m.pool_free);
	show(m.pool_used_here);
	printf("\n");
	if (!m.pool_link)
		printf("this node has no pool (none found, or its link went down)\n");
	else if (m.regions_failed)
		printf("pool: %u regions failed, %llu MiB of it lost\n", m.regions_failed,
		       (unsigned long long)(m.pool_failed >> 20));
	return 0;
}
