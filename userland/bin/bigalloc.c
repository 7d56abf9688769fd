/*
 * bigalloc: allocate a lot of memory with a placement, use all of it, and
 * say where it ended up. Shows transparent placement spilling into the
 * pool once the node runs short, and targeted placement being refused
 * cleanly when it cannot be met.
 *
 *   bigalloc MIB any|local|pool|malloc
 *       any     dm_alloc(DM_ANY): the kernel decides, page by page
 *       local   dm_alloc(DM_LOCAL): this node's DRAM, all of it now or ENOMEM
 *       pool    dm_alloc(DM_POOL): the pool, all of it now or ENOMEM
 *       malloc  plain malloc (transparent, like any)
 *
 * Touches every page, writes and checks a pattern over every byte, counts
 * the pages that are local and in the pool (dm_where), then prints
 * `bigalloc: ok` and exits 0. A placement that cannot be met prints
 * `bigalloc: ENOMEM` and exits 3; wrong data exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dm.h"

#define PAGE 4096UL

static uint64_t ms_since(uint64_t t0)
{
	return (dm_now_ns() - t0) / 1000000;
}

int main(int argc, char **argv)
{
	static const char *names[] = { "any", "local", "pool", "malloc" };
	static const int places[] = { DM_ANY, DM_LOCAL, DM_POOL, DM_ANY };
	char *end;
	unsigned long mib = argc == 3 ? strtoul(argv[1], &end, 10) : 0;
	int mode = -1;

	for (int i = 0; argc == 3 && i < 4; i++)
		if (!strcmp(argv[2], names[i]))
			mode = i;
	if (argc != 3 || *end || !mib || mib > (64UL << 10) || mode < 0) {
		printf("usage: bigalloc MIB any|local|pool|malloc    (1 .. 65536 MiB)\n");
		return 2;
	}

	struct dm_meminfo m0;
	dm_meminfo(&m0);
	size_t bytes = mib << 20;
	uint64_t t0 = dm_now_ns();
	char *p = mode == 3 ? malloc(bytes) : dm_alloc(bytes, places[mode], 0);
	if (!p) {
		int err = errno;
		printf("bigalloc: %lu MiB %s: %s (this node has %llu MiB local free, the pool %llu MiB free)\n",
		       mib, names[mode], strerror(err), (unsigned long long)(m0.local_free >> 20),
		       (unsigned long long)(m0.pool_free >> 20));
		if (err == ENOMEM || mode == 3) {
			printf("bigalloc: ENOMEM\n");
			return 3;
		}
		return 1;
	}
	uint64_t alloc_ms = ms_since(t0);

	/* Fill: one 64-bit word per 8 bytes, a function of its address. */
	t0 = dm_now_ns();
	uint64_t *w = (uint64_t *)p, n = bytes / 8;
	for (uint64_t i = 0; i < n; i++)
		w[i] = ((uintptr_t)&w[i] >> 3) * 0x9E3779B97F4A7C15ULL;
	uint64_t fill_ms = ms_since(t0);

	t0 = dm_now_ns();
	uint64_t bad = 0;
	for (uint64_t i = 0; i < n; i++)
		if (w[i] != ((uintptr_t)&w[i] >> 3) * 0x9E3779B97F4A7C15ULL && bad++ < 5)
			printf("bigalloc: wrong data at offset %llu\n", (unsigned long long)i * 8);
	uint64_t check_ms = ms_since(t0);

	uint64_t local = 0, pool = 0, other = 0;
	for (size_t off = (PAGE - (uintptr_t)p % PAGE) % PAGE; off < bytes; off += PAGE) {
		int where = dm_where(p + off);
		local += where == DM_LOCAL;
		pool += where == DM_POOL;
		other += where != DM_LOCAL && where != DM_POOL;
	}

	struct dm_meminfo m1;
	dm_meminfo(&m1);
	printf("bigalloc: %lu MiB %s: %llu pages local, %llu pages pool", mib, names[mode],
	       (unsigned long long)local, (unsigned long long)pool);
	if (other)
		printf(", %llu pages nowhere (dm_where failed)", (unsigned long long)other);
	printf("\nbigalloc: alloc %llu ms, fill %llu ms (%llu MiB/s), check %llu ms; "
	       "node local free %llu -> %llu MiB\n",
	       (unsigned long long)alloc_ms, (unsigned long long)fill_ms,
	       fill_ms ? (unsigned long long)(mib * 1000 / fill_ms) : 0ULL, (unsigned long long)check_ms,
	       (unsigned long long)(m0.local_free >> 20), (unsigned long long)(m1.local_free >> 20));

	int ok = !bad && !other && (places[mode] != DM_LOCAL || !pool) && (places[mode] != DM_POOL || !local);
	if (!ok && !bad && !other)
		printf("bigalloc: pages are not where %s asked for them\n", names[mode]);
	if (bad)
		printf("bigalloc: %llu words wrong\n", (unsigned long long)bad);
	if (mode == 3)
		free(p);
	else if (dm_free(p, bytes))
		printf("bigalloc: dm_free: %s\n", strerror(errno));
	printf("bigalloc: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
