/*
 * lossy [--vital | --local | --no-handler] MIB [SECONDS]: hold MIB MiB of
 * memory filled with a pattern and check it every second, for
 * region-failure experiments. By default the memory is optional pool
 * memory: when its region fails, lossy takes the exception, says what it
 * lost and rebuilds it. --no-handler: the same memory, but no handler for
 * the exception; lossy finds the lost pages (they read zero) at its next
 * check. --vital holds pool memory it cannot live without (it is killed
 * when that is lost); --local holds this node's DRAM (no region takes it).
 * Runs for SECONDS (0, the default: until killed). Exit status 1 if it
 * ever reads data that is neither its pattern nor lost and reported.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dm.h"

#define WORDS (4096 / sizeof(uint64_t))

static volatile uint64_t lost_bytes, lost_addr, exceptions;
static volatile uint32_t lost_region;

static void on_loss(const struct dm_loss *l)
{
	lost_addr = l->addr;
	lost_region = l->region;
	lost_bytes += l->bytes;
	exceptions++;
}

static uint64_t pattern(const uint64_t *w)
{
	return (uint64_t)w * 0x9E3779B97F4A7C15ULL + 0x6c6f737379;
}

static void fill(uint64_t *page)
{
	for (size_t i = 0; i < WORDS; i++)
		page[i] = pattern(&page[i]);
}

/* Pages that do not hold the pattern; *zero: how many of them read all zero. */
static size_t check(uint64_t *mem, size_t pages, size_t *zero, uint64_t **first_bad)
{
	size_t bad = 0;

	*zero = 0;
	*first_bad = NULL;
	for (size_t p = 0; p < pages; p++) {
		uint64_t *page = mem + p * WORDS, any = 0;
		bool ok = true;
		for (size_t i = 0; i < WORDS; i++) {
			ok &= page[i] == pattern(&page[i]);
			any |= page[i];
		}
		if (ok)
			continue;
		if (!bad++)
			*first_bad = page;
		*zero += !any;
	}
	return bad;
}

int main(int argc, char **argv)
{
	int place = DM_POOL, flags = DM_OPTIONAL, pid = getpid();
	const char *what = "optional pool";
	bool handler = true;
	int a = 1;

	if (a < argc && !strcmp(argv[a], "--vital")) {
		flags = 0, what = "vital pool", a++;
	} else if (a < argc && !strcmp(argv[a], "--local")) {
		place = DM_LOCAL, flags = 0, what = "local", a++;
	} else if (a < argc && !strcmp(argv[a], "--no-handler")) {
		handler = false, a++;
	}
	long mib = a < argc ? atol(argv[a]) : 0, secs = a + 1 < argc ? atol(argv[a + 1]) : 0;
	if (mib <= 0 || mib > 4096 || secs < 0) {
		fprintf(stderr, "usage: lossy [--vital | --local | --no-handler] MIB [SECONDS]\n");
		return 2;
	}
	size_t pages = (size_t)mib << 8;
	uint64_t *mem = dm_alloc(pages * 4096, place, flags);
	if (!mem) {
		perror("lossy: dm_alloc");
		return 1;
	}
	for (size_t p = 0; p < pages; p++)
		fill(mem + p * WORDS);
	if (handler)
		dm_on_loss(on_loss);
	printf("lossy: pid %d: %ld MiB of %s memory at %p, ready\n", pid, mib, what, (void *)mem);

	uint64_t seen = 0, checks = 0, end = dm_now_ns() + (uint64_t)secs * 1000000000ULL;
	while (!secs || dm_now_ns() < end) {
		dm_sleep_ns(1000000000ULL);
		uint64_t *first;
		size_t zero, bad = check(mem, pages, &zero, &first);
		if (bad && exceptions == seen) {        /* the exception may be on its way */
			dm_sleep_ns(200000000ULL);
			bad = check(mem, pages, &zero, &first);
			if (bad && !handler && bad == zero) {   /* lost, and nobody said so */
				for (size_t p = 0; p < pages; p++)
					if (mem[p * WORDS] != pattern(&mem[p * WORDS]))
						fill(mem + p * WORDS);
				printf("lossy: pid %d: found %zu lost pages (no handler), rebuilt, "
				       "running\n", pid, bad);
				continue;
			}
			if (bad && exceptions == seen) {
				printf("lossy: pid %d: DATA CORRUPT: %zu pages differ, the first at %p, "
				       "and no exception came\n", pid, bad, (void *)first);
				return 1;
			}
		}
		if (exceptions != seen) {
			seen = exceptions;
			if (lost_region == DM_LOSS_LINK)
				printf("lossy: pid %d: exception: lost %lu bytes at 0x%lx (pool link)\n",
				       pid, lost_bytes, lost_addr);
			else
				printf("lossy: pid %d: exception: lost %lu bytes at 0x%lx (region %u)\n",
				       pid, lost_bytes, lost_addr, lost_region);
			bad = check(mem, pages, &zero, &first);
			if (bad != zero) {
				printf("lossy: pid %d: DATA CORRUPT: %zu lost pages do not read zero\n",
				       pid, bad - zero);
				return 1;
			}
			for (size_t p = 0; p < pages; p++)
				if (mem[p * WORDS] != pattern(&mem[p * WORDS]))
					fill(mem + p * WORDS);
			printf("lossy: pid %d: rebuilt %zu pages, running\n", pid, bad);
			continue;
		}
		printf("lossy: pid %d: alive, %lu checks, data intact\n", pid, ++checks);
	}
	printf("lossy: pid %d: done, data intact\n", pid);
	return 0;
}
