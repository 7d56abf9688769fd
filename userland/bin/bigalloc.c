/*
 * bigalloc: allocate a lot of memory with a placement, use all of it, and
 * say where it ended up. Shows transparent placement spilling into the
 * pool once the node runs short, and targeted placement being refused
 * cleanly when it cannot be met.
 *
 *   bigalloc MIB any|local|pool|malloc [--beside]
 *       any     dm_alloc(DM_ANY): the kernel decides, page by page
 *       local   dm_alloc(DM_LOCAL): this node's DRAM, all of it now or ENOMEM
 *       pool    dm_alloc(DM_POOL): the pool, all of it now or ENOMEM
 *       malloc  plain malloc (transparent, like any)
 *       --beside  while the allocation runs, a second process on this node
 *                 counts, and says how long it was kept waiting at most
 *                 (a targeted allocation fills every page before it returns:
 *                 the node's other processes must go on meanwhile)
 *
 * Touches every page, writes and checks a pattern over every byte, counts
 * the pages that are local and in the pool (dm_where), then prints
 * `bigalloc: ok` and exits 0. A placement that cannot be met prints
 * `bigalloc: ENOMEM` and exits 3; wrong data exits 1.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dm.h"

#define PAGE 4096UL

static uint64_t ms_since(uint64_t t0)
{
	return (dm_now_ns() - t0) / 1000000;
}

/* --beside: what the counting process and bigalloc share (a segment). */
struct beside {
	uint32_t started;               /* the counter runs */
	uint32_t watching;              /* bigalloc is allocating: count now */
	uint32_t stop;
	uint32_t pad;
	uint64_t loops;                 /* turns the counter had while watching */
	uint64_t longest_ns;            /* its longest wait between two turns */
};

static struct beside *beside;
static char beside_name[DM_NAME_MAX];
static int beside_pid = -1;

/* `bigalloc --count SEG`: the counting process. */
static int count(const char *seg)
{
	struct beside *b = seg_attach(seg, 0);
	uint64_t last = dm_now_ns();

	if (!b)
		return 1;
	__atomic_store_n(&b->started, 1, __ATOMIC_RELEASE);
	futex_wake(&b->started, 1);
	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
		uint64_t t = dm_now_ns();
		if (__atomic_load_n(&b->watching, __ATOMIC_ACQUIRE)) {
			b->loops++;
			if (t - last > b->longest_ns)
				b->longest_ns = t - last;
		}
		last = t;
	}
	seg_detach(b);
	return 0;
}

/* Start the counting process on this node. Return: 0, or -1 (said why). */
static int beside_start(void)
{
	snprintf(beside_name, sizeof(beside_name), "bigalloc.%d", getpid());
	if (!(beside = seg_create(beside_name, sizeof(*beside), 0))) {
		printf("bigalloc: --beside: seg_create: %s\n", strerror(errno));
		return -1;
	}
	char *argv[] = { "bigalloc", "--count", beside_name, NULL };
	if ((beside_pid = dm_spawn("bigalloc", argv, dm_node())) < 0) {
		printf("bigalloc: --beside: dm_spawn: %s\n", strerror(errno));
		return -1;
	}
	for (int i = 0; i < 100 && !__atomic_load_n(&beside->started, __ATOMIC_ACQUIRE); i++)
		futex_wait(&beside->started, 0, 50 * 1000000ULL);
	if (!beside->started) {
		printf("bigalloc: --beside: the counting process did not start\n");
		return -1;
	}
	return 0;
}

/* Stop the counting process; say what it saw during an allocation of alloc_ms. */
static void beside_end(uint64_t alloc_ms)
{
	int st;

	if (beside_pid > 0) {
		__atomic_store_n(&beside->stop, 1, __ATOMIC_RELEASE);
		dm_wait(beside_pid, &st);
		printf("bigalloc: beside the allocation (%llu ms), pid %d on this node had %llu turns; "
		       "its longest wait was %llu ms\n", (unsigned long long)alloc_ms, beside_pid,
		       (unsigned long long)beside->loops, (unsigned long long)beside->longest_ns / 1000000);
	}
	if (beside)
		seg_detach(beside);
}

int main(int argc, char **argv)
{
	static const char *names[] = { "any", "local", "pool", "malloc" };
	static const int places[] = { DM_ANY, DM_LOCAL, DM_POOL, DM_ANY };
	char *end = "";
	bool with_beside = argc == 4 && !strcmp(argv[3], "--beside");
	unsigned long mib = argc == 3 || with_beside ? strtoul(argv[1], &end, 10) : 0;
	int mode = -1;

	if (argc == 3 && !strcmp(argv[1], "--count"))
		return count(argv[2]);
	for (int i = 0; mib && i < 4; i++)
		if (!strcmp(argv[2], names[i]))
			mode = i;
	if (*end || !mib || mib > (64UL << 10) || mode < 0) {
		printf("usage: bigalloc MIB any|local|pool|malloc [--beside]    (1 .. 65536 MiB)\n");
		return 2;
	}
	if (with_beside && beside_start()) {
		beside_end(0);
		return 1;
	}

	struct dm_meminfo m0;
	dm_meminfo(&m0);
	size_t bytes = mib << 20;
	uint64_t t0 = dm_now_ns();
	if (beside)
		__atomic_store_n(&beside->watching, 1, __ATOMIC_RELEASE);
	char *p = mode == 3 ? malloc(bytes) : dm_alloc(bytes, places[mode], 0);
	int err = errno;
	uint64_t alloc_ms = ms_since(t0);
	if (beside) {
		__atomic_store_n(&beside->watching, 0, __ATOMIC_RELEASE);
		beside_end(alloc_ms);
	}
	if (!p) {
		printf("bigalloc: %lu MiB %s: %s after %llu ms (this node had %llu MiB local free, "
		       "the pool %llu MiB free)\n", mib, names[mode], strerror(err),
		       (unsigned long long)alloc_ms, (unsigned long long)(m0.local_free >> 20),
		       (unsigned long long)(m0.pool_free >> 20));
		if (err == ENOMEM || mode == 3) {
			printf("bigalloc: ENOMEM\n");
			return 3;
		}
		return 1;
	}
	printf("bigalloc: %lu MiB %s: allocated in %llu ms\n", mib, names[mode], (unsigned long long)alloc_ms);

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
