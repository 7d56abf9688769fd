/*
 * ubench: userland micro-benchmarks, one line each `ubench: NAME VALUE UNIT`.
 *
 *   ubench [BENCH...]      syscall, switch, fault, memcpy (the default: all four)
 *   ubench handoff [MIB] [NODE]
 *       hand MIB MiB (default 64) from this process to one on NODE (default:
 *       the next node) through a shared segment: fill it here, start the
 *       consumer there with dm_spawn, it attaches, copies all of it out,
 *       checksums it and wakes us. Reports the time end to end and its
 *       parts, of a first run and of the best of three more, beside what
 *       two memcpys of MIB MiB take (into pool memory and out of it), and
 *       the ratio of the two.
 *   ubench reuse MIB
 *       new segments on pool pages just written: fill MIB MiB of private
 *       pool memory, free it and at once, before the node's idle zeroer
 *       can run, seg_create MIB MiB (with MIB more than half of the free
 *       pool it must take pages just written: zeroed on the way); fill
 *       that, detach it (the last detach zeroes its pages) and create it
 *       again. Every byte of both segments is checked to be zero. Reports
 *       both creates' times (reuse_create: the first).
 *
 *   syscall  getpid round trip, ns
 *   switch   two processes of this node ping-ponging through a futex in a
 *            shared segment, ns per switch (half a round trip): the mean,
 *            and the median and worst of the round trips timed one by one
 *            (a switch that waits for a timer tick shows in the worst)
 *   fault    first touch of fresh dm_alloc(DM_ANY) pages, ns per page
 *   memcpy   16 MiB copies from local memory into local and into pool
 *            memory, MiB/s (best of several)
 *
 * The helpers it starts are itself: `ubench --pong SEG N` and
 * `ubench --consume SEG MIB`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dm.h"

#define MS      1000000ULL
#define PAGE    4096UL

static uint64_t now(void)
{
	return dm_now_ns();
}

static void result(const char *name, double value, const char *unit)
{
	printf("ubench: %s %.*f %s\n", name, value < 100 ? 1 : 0, value, unit);
	fflush(stdout);
}

/* ---- syscall ---------------------------------------------------------------------- */

static int bench_syscall(void)
{
	const int n = 100000;
	uint64_t best = ~0ULL;

	for (int round = 0; round < 3; round++) {
		uint64_t t0 = now();
		for (int i = 0; i < n; i++)
			(void)getpid();
		uint64_t t = now() - t0;
		best = t < best ? t : best;
	}
	result("syscall", (double)best / n, "ns");
	return 0;
}

/* ---- switch ----------------------------------------------------------------------- */

struct pingpong {
	uint32_t turn;          /* 0: the ping side's turn, 1: the pong side's */
	uint32_t ready;
	uint32_t rounds;
	uint32_t abort;
};

/* Wait until *word == want (it is someone else's move otherwise). Return: 0, -1 on timeout. */
static int await(uint32_t *word, uint32_t want, uint64_t until)
{
	uint32_t v;

	while ((v = __atomic_load_n(word, __ATOMIC_ACQUIRE)) != want) {
		uint64_t t = now();
		if (t >= until)
			return -1;
		futex_wait(word, v, until - t < 1000 * MS ? until - t : 1000 * MS);
	}
	return 0;
}

static void pass(uint32_t *word, uint32_t to)
{
	__atomic_store_n(word, to, __ATOMIC_RELEASE);
	futex_wake(word, 1);
}

static int pong(const char *name)
{
	struct pingpong *pp = seg_attach(name, 0);

	if (!pp)
		return 2;
	uint32_t rounds = pp->rounds;
	pass(&pp->ready, 1);
	for (uint32_t i = 0; i < rounds; i++) {
		if (await(&pp->turn, 1, now() + 10000 * MS) || pp->abort)
			return 3;
		pass(&pp->turn, 0);
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int bench_switch(void)
{
	char name[DM_NAME_MAX], rounds[16];
	enum { N = 2000 };
	static uint64_t rtt[N];         /* each round trip, ns */
	const uint32_t n = N;
	struct pingpong *pp;
	int st, pid, err = 0;

	snprintf(name, sizeof(name), "ub%d.pp", getpid());
	snprintf(rounds, sizeof(rounds), "%u", n);
	if (!(pp = seg_create(name, PAGE, 0))) {
		printf("ubench: switch: seg_create: %s\n", strerror(errno));
		return 1;
	}
	pp->rounds = n;
	char *argv[] = { "ubench", "--pong", name, NULL };
	if ((pid = dm_spawn("ubench", argv, dm_node())) < 0) {
		printf("ubench: switch: dm_spawn: %s\n", strerror(errno));
		seg_detach(pp);
		return 1;
	}
	if (await(&pp->ready, 1, now() + 10000 * MS)) {
		err = 1;
		goto out;
	}
	uint64_t t0 = now(), t1 = t0;
	for (uint32_t i = 0; i < n && !err; i++) {
		pass(&pp->turn, 1);
		err = await(&pp->turn, 0, t1 + 10000 * MS);
		uint64_t t2 = now();
		rtt[i] = t2 - t1;
		t1 = t2;
	}
	if (!err) {
		qsort(rtt, n, sizeof(rtt[0]), cmp_u64);
		result("switch", (double)(t1 - t0) / (2.0 * n), "ns");
		result("switch_median", (double)rtt[n / 2] / 2.0, "ns");
		result("switch_worst", (double)rtt[n - 1] / 2.0, "ns");
	}
out:
	if (err) {
		printf("ubench: switch: the other side stopped answering\n");
		pp->abort = 1;
		pass(&pp->turn, 1);
	}
	dm_wait(pid, &st);
	seg_detach(pp);
	return err || !WIFEXITED(st) || WEXITSTATUS(st);
}

/* ---- fault ------------------------------------------------------------------------ */

static int bench_fault(void)
{
	struct dm_meminfo m;
	size_t bytes = 16UL << 20;

	/* stay in local memory if the node has it: DM_ANY keeps 4 MiB local spare */
	if (dm_meminfo(&m) == 0 && m.local_free < bytes + (12UL << 20))
		bytes = m.local_free > (12UL << 20) ? (m.local_free - (8UL << 20)) & ~(PAGE - 1) : 4UL << 20;
	char *p = dm_alloc(bytes, DM_ANY, 0);
	if (!p) {
		printf("ubench: fault: dm_alloc(%zu KiB): %s\n", bytes >> 10, strerror(errno));
		return 1;
	}
	uint64_t t0 = now();
	for (size_t off = 0; off < bytes; off += PAGE)
		p[off] = 1;
	uint64_t t = now() - t0;
	size_t local = 0, pages = bytes / PAGE;
	for (size_t off = 0; off < bytes; off += PAGE)
		local += dm_where(p + off) == DM_LOCAL;
	dm_free(p, bytes);
	result("fault", (double)t / pages, "ns/page");
	printf("ubench: (fault: %zu pages, %zu local, %zu pool)\n", pages, local, pages - local);

	/* the same over the pool: dm_alloc(DM_POOL) fills every page at once */
	t0 = now();
	p = dm_alloc(bytes, DM_POOL, 0);
	t = now() - t0;
	if (p) {
		dm_free(p, bytes);
		result("alloc_pool", (double)t / pages, "ns/page");
	}
	return 0;
}

/* ---- memcpy ----------------------------------------------------------------------- */

static double copy_rate(char *dst, const char *src, size_t bytes)
{
	uint64_t best = ~0ULL;

	memcpy(dst, src, bytes);        /* every page is in place before timing */
	for (int round = 0; round < 4; round++) {
		uint64_t t0 = now();
		memcpy(dst, src, bytes);
		uint64_t t = now() - t0;
		best = t < best ? t : best;
	}
	return best ? (double)bytes / (1 << 20) * 1e9 / (double)best : 0;
}

static int bench_memcpy(void)
{
	size_t bytes = 16UL << 20;
	char *src = dm_alloc(bytes, DM_LOCAL, 0);
	char *local = dm_alloc(bytes, DM_LOCAL, 0);
	char *pool = dm_alloc(bytes, DM_POOL, 0);
	int err = 0;

	if (!src || !pool) {
		printf("ubench: memcpy: dm_alloc of 16 MiB: %s\n", strerror(errno));
		err = 1;
		goto out;
	}
	for (size_t i = 0; i < bytes; i++)
		src[i] = (char)(i * 131);
	if (local)
		result("memcpy_local", copy_rate(local, src, bytes), "MiB/s");
	else
		printf("ubench: memcpy_local: no 16 MiB of local memory to copy into (%s)\n", strerror(errno));
	result("memcpy_pool", copy_rate(pool, src, bytes), "MiB/s");
	result("memcpy_from_pool", copy_rate(src, pool, bytes), "MiB/s");
	err = memcmp(src, pool, bytes) != 0;
	if (err)
		printf("ubench: memcpy: the copy in the pool differs\n");
out:
	if (src)
		dm_free(src, bytes);
	if (local)
		dm_free(local, bytes);
	if (pool)
		dm_free(pool, bytes);
	return err;
}

/* ---- handoff ---------------------------------------------------------------------- */

/*
 * Both sides move the bytes with memcpy, CHUNK at a time through a small
 * local buffer, exactly as the reference (two_memcpys) does on pool memory
 * that is already in place: what the handoff costs beyond that is what
 * the segment adds (making and zeroing it, mapping it on two nodes) and
 * starting the consumer. The checksums that prove the bytes arrived are
 * timed apart and left out.
 */
#define CHUNK   (1UL << 20)
#define SHIFT   64              /* each chunk starts this many bytes further into the pattern */

struct handoff {
	uint32_t done;          /* the consumer sets 1 when it has read everything */
	uint32_t pad;
	uint64_t bytes;
	uint64_t sum;           /* the consumer's checksum */
	uint64_t prep_ns;       /* consumer: its local buffer, before it attaches */
	uint64_t attach_ns;     /* consumer: attaching */
	uint64_t read_ns;       /* consumer: copying everything out */
	uint64_t sum_ns;        /* consumer: checksumming it (left out of the handoff) */
	uint8_t pad2[PAGE - 64];
	uint64_t data[];        /* page-aligned */
};

static uint64_t sum_words(const uint64_t *w, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (s ^ w[i]) * 0x100000001b3ULL + i;
	return s;
}

static int consume(const char *name)
{
	uint64_t t0 = now();
	char *buf = dm_alloc(CHUNK, DM_LOCAL, 0);       /* every page in place */

	if (!buf)
		return 3;
	uint64_t t1 = now();
	struct handoff *h = seg_attach(name, 0);

	if (!h)
		return 2;
	uint64_t t2 = now();
	for (size_t off = 0; off < h->bytes; off += CHUNK)
		memcpy(buf, (char *)h->data + off, h->bytes - off < CHUNK ? h->bytes - off : CHUNK);
	uint64_t t3 = now();
	h->sum = sum_words(h->data, h->bytes / 8);
	h->sum_ns = now() - t3;
	h->prep_ns = t1 - t0;
	h->attach_ns = t2 - t1;
	h->read_ns = t3 - t2;
	__atomic_store_n(&h->done, 1, __ATOMIC_RELEASE);
	futex_wake(&h->done, 1);
	seg_detach(h);
	dm_free(buf, CHUNK);
	return 0;
}

/* The producer's source: CHUNK + enough bytes for every chunk's shift, a
 * pattern with no period, so that a page in the wrong place shows. */
static uint64_t *pattern(size_t bytes)
{
	size_t len = CHUNK + bytes / CHUNK * SHIFT;
	uint64_t *p = dm_alloc(len, DM_LOCAL, 0);

	for (size_t i = 0; p && i < len / 8; i++)
		p[i] = i * 0x9E3779B97F4A7C15ULL ^ (i >> 7);
	return p;
}

struct handoff_times {
	double create, fill, spawn, attach, read, total;        /* ms */
};

/* One handoff of @bytes from @src to a consumer on @node, timed into @ms.
 * Return: 0 if the consumer read back what was written. */
static int handoff_once(const char *name, const uint64_t *src, size_t bytes, int node,
			struct handoff_times *ms)
{
	int st, pid;
	uint64_t t0 = now();
	struct handoff *h = seg_create(name, sizeof(*h) + bytes, 0);

	if (!h) {
		printf("ubench: handoff: seg_create(%zu MiB): %s\n", bytes >> 20, strerror(errno));
		return 1;
	}
	uint64_t t_create = now();
	h->bytes = bytes;
	for (size_t off = 0, c = 0; off < bytes; off += CHUNK, c++)
		memcpy((char *)h->data + off, (const char *)src + c * SHIFT,
		       bytes - off < CHUNK ? bytes - off : CHUNK);
	uint64_t t_fill = now();
	uint64_t want = sum_words(h->data, bytes / 8);  /* not timed: the consumer does the same */
	uint64_t t_sum = now();

	char *cargv[] = { "ubench", "--consume", (char *)name, NULL };
	if ((pid = dm_spawn("ubench", cargv, node)) < 0) {
		printf("ubench: handoff: dm_spawn on node %d: %s\n", node, strerror(errno));
		seg_detach(h);
		return 1;
	}
	uint64_t t_spawned = now();
	int late = 0;
	for (uint64_t t; !__atomic_load_n(&h->done, __ATOMIC_ACQUIRE) && !late;) {
		t = now();
		if (t > t_spawned + 120000 * MS)
			late = 1;
		else
			futex_wait(&h->done, 0, 1000 * MS);
	}
	uint64_t t_done = now();
	dm_wait(pid, &st);
	int ok = !late && h->sum == want && WIFEXITED(st) && !WEXITSTATUS(st);
	if (late)
		printf("ubench: handoff: the consumer did not finish within 120 s\n");
	else if (!WIFEXITED(st) || WEXITSTATUS(st))
		printf("ubench: handoff: the consumer failed (status 0x%x)\n", st);
	else if (h->sum != want)
		printf("ubench: handoff: checksum mismatch: consumer %016llx, producer %016llx\n",
		       (unsigned long long)h->sum, (unsigned long long)want);
	/* spawn is until dm_spawn returned; the consumer's start, its buffer and
	 * its checksum are in total but for the buffer and the checksum */
	*ms = (struct handoff_times){
		(double)(t_create - t0) / MS, (double)(t_fill - t_create) / MS,
		(double)(t_spawned - t_sum) / MS, (double)h->attach_ns / MS, (double)h->read_ns / MS,
		(double)(t_done - t0 - (t_sum - t_fill) - h->prep_ns - h->sum_ns) / MS,
	};
	seg_detach(h);
	return !ok;
}

/*
 * The reference: one memcpy of the bytes into pool memory that is already
 * in place and one out of it, CHUNK at a time from and into local memory,
 * as the two sides of the handoff do; the best of three rounds after one
 * to warm up. Return: ms, or a negative value without the memory.
 */
static double two_memcpys(const uint64_t *src, size_t bytes)
{
	char *pool = dm_alloc(bytes, DM_POOL, 0);       /* every page in place */
	char *buf = dm_alloc(CHUNK, DM_LOCAL, 0);
	uint64_t best = ~0ULL;

	if (!pool || !buf) {
		printf("ubench: handoff: no %zu MiB of pool memory for the memcpys: %s\n",
		       bytes >> 20, strerror(errno));
		if (pool)
			dm_free(pool, bytes);
		if (buf)
			dm_free(buf, CHUNK);
		return -1;
	}
	for (int round = 0; round < 4; round++) {
		uint64_t t0 = now();
		for (size_t off = 0, c = 0; off < bytes; off += CHUNK, c++)
			memcpy(pool + off, (const char *)src + c * SHIFT,
			       bytes - off < CHUNK ? bytes - off : CHUNK);
		for (size_t off = 0; off < bytes; off += CHUNK)
			memcpy(buf, pool + off, bytes - off < CHUNK ? bytes - off : CHUNK);
		uint64_t t = now() - t0;
		if (round && t < best)          /* round 0 warms up */
			best = t;
	}
	dm_free(pool, bytes);
	dm_free(buf, CHUNK);
	return (double)best / MS;
}

static void handoff_line(const char *what, unsigned long mib, int from, int to,
			 const struct handoff_times *t)
{
	printf("ubench: handoff: %s: %lu MiB node %d -> node %d: create %.1f ms, fill %.1f ms, "
	       "spawn %.1f ms, consumer attach %.1f ms + read %.1f ms, checksum ok: %.1f ms\n",
	       what, mib, from, to, t->create, t->fill, t->spawn, t->attach, t->read, t->total);
}

/*
 * The first handoff touches pool pages for the first time since the
 * cluster started, which under emulation costs a page fault in the host
 * for each (the pool is a sparse file there), and real memory does not:
 * it is reported as handoff_cold. Three more follow, the same way; the
 * best of them is handoff, compared with two memcpys (handoff_ratio).
 */
static int bench_handoff(int argc, char **argv)
{
	unsigned long mib = argc > 0 ? strtoul(argv[0], NULL, 10) : 64;
	struct handoff_times cold, warm, t;
	struct dm_nodeinfo ni;
	char name[DM_NAME_MAX];
	uint64_t *src;
	int node;

	if (dm_nodeinfo(&ni) < 0)
		return 1;
	node = argc > 1 ? atoi(argv[1]) : (ni.node + 1) % ni.nodes;
	if (!mib || mib > 1000 || node < 0 || node >= ni.nodes) {
		printf("usage: ubench handoff [MIB] [NODE]    (MIB 1..1000, NODE 0..%d)\n",
		       ni.nodes - 1);
		return 2;
	}
	if (node == ni.node)
		printf("ubench: handoff: one node only: the consumer runs on this node\n");
	size_t bytes = mib << 20;
	if (!(src = pattern(bytes))) {
		printf("ubench: handoff: no local memory for the source: %s\n", strerror(errno));
		return 1;
	}
	snprintf(name, sizeof(name), "ub%d.ho", getpid());
	if (handoff_once(name, src, bytes, node, &cold))
		return 1;
	handoff_line("first", mib, ni.node, node, &cold);
	warm.total = 1e30;
	for (int i = 0; i < 3; i++) {
		if (handoff_once(name, src, bytes, node, &t))
			return 1;
		handoff_line("again", mib, ni.node, node, &t);
		if (t.total < warm.total)
			warm = t;
	}
	double ref = two_memcpys(src, bytes);
	result("handoff", warm.total, "ms");
	result("handoff_rate", (double)mib * 1e3 / warm.total, "MiB/s");
	result("handoff_cold", cold.total, "ms");
	if (ref <= 0)
		return 1;
	printf("ubench: handoff: two memcpys of %lu MiB (into pool memory, out of it): %.1f ms\n",
	       mib, ref);
	result("handoff_memcpys", ref, "ms");
	printf("ubench: handoff_ratio %.2f x\n", warm.total / ref);     /* two decimals */
	return 0;
}

/* ---- reuse ------------------------------------------------------------------------ */

/* Which words of @p's @bytes are not zero: the first such word's index
 * into *at and how many there are. */
static size_t nonzero(const uint64_t *p, size_t bytes, size_t *at)
{
	size_t n = 0;

	for (size_t i = bytes / 8; i--;)
		if (p[i]) {
			*at = i;
			n++;
		}
	return n;
}

static int bench_reuse(int argc, char **argv)
{
	unsigned long mib = argc > 0 ? strtoul(argv[0], NULL, 10) : 0;
	char name[DM_NAME_MAX];
	double ms[2];
	size_t bad, at = 0;

	if (argc != 1 || !mib || mib > 1000) {
		printf("usage: ubench reuse MIB    (MIB 1..1000)\n");
		return 2;
	}
	size_t bytes = mib << 20;
	char *priv = dm_alloc(bytes, DM_POOL, 0);

	if (!priv) {
		printf("ubench: reuse: dm_alloc(%lu MiB of pool): %s\n", mib, strerror(errno));
		return 1;
	}
	memset(priv, 0x5a, bytes);
	dm_free(priv, bytes);
	snprintf(name, sizeof(name), "ub%d.re", getpid());
	for (int round = 0; round < 2; round++) {
		uint64_t t0 = now();
		uint64_t *p = seg_create(name, bytes, 0);
		if (!p) {
			printf("ubench: reuse: seg_create(%lu MiB), round %d: %s\n", mib, round,
			       strerror(errno));
			return 1;
		}
		ms[round] = (double)(now() - t0) / MS;
		if ((bad = nonzero(p, bytes, &at))) {
			printf("ubench: reuse: round %d: %zu words of the new segment are not zero, "
			       "the first at byte %zu: 0x%llx\n", round, bad, at * 8,
			       (unsigned long long)p[at]);
			seg_detach(p);
			return 1;
		}
		memset(p, 0xa5, bytes);
		if (seg_detach(p)) {
			printf("ubench: reuse: seg_detach: %s\n", strerror(errno));
			return 1;
		}
	}
	printf("ubench: reuse: %lu MiB twice, every byte zero; create on pages just written "
	       "%.1f ms, on an ended segment's %.1f ms\n", mib, ms[0], ms[1]);
	result("reuse_create", ms[0], "ms");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} benches[] = {
		{ "syscall", bench_syscall }, { "switch", bench_switch },
		{ "fault", bench_fault }, { "memcpy", bench_memcpy },
	};
	int bad = 0;

	if (argc == 3 && !strcmp(argv[1], "--pong"))
		return pong(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--consume"))
		return consume(argv[2]);
	if (argc > 1 && !strcmp(argv[1], "handoff"))
		return bench_handoff(argc - 2, argv + 2);
	if (argc > 1 && !strcmp(argv[1], "reuse"))
		return bench_reuse(argc - 2, argv + 2);
	for (int i = 1; i < argc; i++) {
		int k;
		for (k = 0; k < 4 && strcmp(argv[i], benches[k].name); k++)
			;
		if (k == 4) {
			printf("usage: ubench [syscall|switch|fault|memcpy]...\n"
			       "       ubench handoff [MIB] [NODE]\n"
			       "       ubench reuse MIB\n");
			return 2;
		}
	}
	for (int k = 0; k < 4; k++) {
		int run = argc == 1;
		for (int i = 1; i < argc; i++)
			run |= !strcmp(argv[i], benches[k].name);
		if (run)
			bad |= benches[k].fn();
	}
	return bad;
}
