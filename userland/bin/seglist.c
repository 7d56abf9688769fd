/*
 * seglist: hand a linked list from one process to another, on any node,
 * through a shared segment. The list is built with plain pointers: the
 * segment sits at the same address in every process, so they stay valid.
 *
 *   seglist produce NAME COUNT [SECONDS]
 *       make segment NAME holding COUNT items (item i: value i*i and a
 *       checksum), linked in a scrambled order, mark it ready, then wait
 *       (futex on a word in the segment) until a consumer says it is done
 *       (at most SECONDS, default 300). Exit 0 once a consumer is done.
 *   seglist consume NAME COUNT
 *       attach NAME (retrying for up to 20 s until it exists and is ready),
 *       walk the list checking every item, print
 *       `seglist: consumed COUNT items, sum S, B bad`, tell the producer.
 *       Exit 0 only if all COUNT items were there and good.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dm.h"

#define MAGIC    0x5e611574u
#define MS       1000000ULL
#define WAIT_S   20             /* how long a consumer looks for the producer */

struct item {
	struct item *next;
	uint64_t index;
	uint64_t value;         /* index * index */
	uint64_t check;         /* checksum of the three words above */
};

struct head {
	uint32_t ready;         /* 1 once the list is complete */
	uint32_t done;          /* 1 once a consumer walked it (2: and found it bad) */
	uint32_t magic;
	uint32_t pad;
	uint64_t count;
	struct item *first;
	struct item items[];
};

static uint64_t checksum(const struct item *it)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = (h ^ (uint64_t)(uintptr_t)it->next) * 0x100000001b3ULL;
	h = (h ^ it->index) * 0x100000001b3ULL;
	h = (h ^ it->value) * 0x100000001b3ULL;
	return h;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static int produce(const char *name, uint64_t count, uint64_t seconds)
{
	size_t bytes = sizeof(struct head) + count * sizeof(struct item);
	struct head *h = seg_create(name, bytes, 0);

	if (!h) {
		printf("seglist: seg_create(%s, %zu bytes): %s\n", name, bytes, strerror(errno));
		return 1;
	}
	/* Item i sits in slot i * stride mod count: consecutive items are far apart. */
	uint64_t stride = count / 3 + 1;
	while (gcd(stride, count) != 1)
		stride++;
	struct item *prev = NULL;
	for (uint64_t i = count; i-- > 0;) {        /* from the end, so each next is known */
		struct item *it = &h->items[i * stride % count];
		it->next = prev;
		it->index = i;
		it->value = i * i;
		it->check = checksum(it);
		prev = it;
	}
	h->first = prev;
	h->count = count;
	h->magic = MAGIC;
	__atomic_store_n(&h->ready, 1, __ATOMIC_RELEASE);
	futex_wake(&h->ready, 64);
	printf("seglist: produced %llu items in %s at %p (%zu KiB); waiting for a consumer\n",
	       (unsigned long long)count, name, (void *)h, bytes >> 10);
	fflush(stdout);

	uint64_t until = dm_now_ns() + seconds * 1000 * MS;
	uint32_t done;
	while (!(done = __atomic_load_n(&h->done, __ATOMIC_ACQUIRE))) {
		uint64_t t = dm_now_ns();
		if (t >= until)
			break;
		futex_wait(&h->done, 0, until - t < 1000 * MS ? until - t : 1000 * MS);
	}
	seg_detach(h);
	if (!done) {
		printf("seglist: no consumer within %llu s\n", (unsigned long long)seconds);
		return 2;
	}
	printf("seglist: a consumer is done%s\n", done == 1 ? "" : " (it found bad items)");
	return 0;
}

static int consume(const char *name, uint64_t count)
{
	uint64_t until = dm_now_ns() + WAIT_S * 1000 * MS;
	struct head *h = NULL;
	int err = 0;

	while (!h && dm_now_ns() < until) {
		if (!(h = seg_attach(name, 0))) {
			err = errno;
			dm_sleep_ns(100 * MS);
		}
	}
	if (!h) {
		printf("seglist: no segment %s after %d s: %s\n", name, WAIT_S, strerror(err));
		return 1;
	}
	for (uint64_t t; !__atomic_load_n(&h->ready, __ATOMIC_ACQUIRE) && (t = dm_now_ns()) < until;)
		futex_wait(&h->ready, 0, until - t < 100 * MS ? until - t : 100 * MS);
	if (!__atomic_load_n(&h->ready, __ATOMIC_ACQUIRE) || h->magic != MAGIC) {
		printf("seglist: %s was never made ready (magic 0x%x)\n", name, h->magic);
		seg_detach(h);
		return 1;
	}

	char *lo = (char *)h->items, *hi = lo + h->count * sizeof(struct item);
	uint64_t n = 0, bad = 0, sum = 0;
	for (struct item *it = h->first; it; it = it->next, n++) {
		if ((char *)it < lo || (char *)it >= hi || ((char *)it - lo) % sizeof(struct item)) {
			printf("seglist: item %llu points outside the list (%p)\n", (unsigned long long)n,
			       (void *)it);
			bad++;
			break;
		}
		if (n >= count) {
			printf("seglist: more than %llu items\n", (unsigned long long)count);
			bad++;
			break;
		}
		if (it->index != n || it->value != n * n || it->check != checksum(it)) {
			if (bad++ < 5)
				printf("seglist: item %llu is wrong: index %llu value %llu\n",
				       (unsigned long long)n, (unsigned long long)it->index,
				       (unsigned long long)it->value);
		}
		sum += it->value;
	}
	if (n != count && !bad) {
		printf("seglist: the list has %llu items, not %llu\n", (unsigned long long)n,
		       (unsigned long long)count);
		bad++;
	}
	printf("seglist: consumed %llu items, sum %llu, %llu bad\n", (unsigned long long)n,
	       (unsigned long long)sum, (unsigned long long)bad);
	__atomic_store_n(&h->done, bad ? 2 : 1, __ATOMIC_RELEASE);
	futex_wake(&h->done, 1);
	seg_detach(h);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	char *end;
	uint64_t count = argc > 3 ? strtoull(argv[3], &end, 10) : 0;
	uint64_t seconds = 300;
	int prod = argc > 1 && !strcmp(argv[1], "produce");

	if (argc == 5 && prod)
		seconds = strtoull(argv[4], NULL, 10);
	if ((argc != 4 && !(argc == 5 && prod)) || (!prod && strcmp(argv[1], "consume")) || *end ||
	    !count || !seconds) {
		printf("usage: seglist produce NAME COUNT [SECONDS]\n"
		       "       seglist consume NAME COUNT\n");
		return 2;
	}
	if (strlen(argv[2]) >= DM_NAME_MAX) {
		printf("seglist: %s: a segment name has at most %d bytes\n", argv[2], DM_NAME_MAX - 1);
		return 2;
	}
	if (count > ((1UL << 30) - sizeof(struct head)) / sizeof(struct item)) {
		printf("seglist: %llu items do not fit in a segment (1 GiB)\n", (unsigned long long)count);
		return 2;
	}
	return prod ? produce(argv[2], count, seconds) : consume(argv[2], count);
}
