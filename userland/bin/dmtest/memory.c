/* dmtest: memory, shared segments and futexes (see main.c). */
#include "dmtest.h"

/* ---- memory -------------------------------------------------------------------------- */

/* Write and check a pattern over n bytes at p; every page must be `where`. */
const char *check_area(char *p, size_t n, int where, const char *what)
{
	for (size_t i = 0; i < n; i += sizeof(uint64_t))
		*(uint64_t *)(p + i) = (uintptr_t)(p + i) * 0x9E3779B97F4A7C15ULL;
	for (size_t i = 0; i < n; i += sizeof(uint64_t))
		CHECK(*(uint64_t *)(p + i) == (uintptr_t)(p + i) * 0x9E3779B97F4A7C15ULL,
		      "%s: wrong data at offset %zu", what, i);
	for (size_t i = 0; i < n; i += PAGE) {
		int w = dm_where(p + i);
		CHECK(w == DM_LOCAL || w == DM_POOL, "%s: dm_where(page %zu) = %d (%s)", what, i / PAGE, w,
		      ename(errno));
		CHECK(where == DM_ANY || w == where, "%s: page %zu is %s, want %s", what, i / PAGE,
		      dm_place_name(w), dm_place_name(where));
	}
	return NULL;
}

const char *alloc_check(int place, int flags, size_t n)
{
	char what[48];
	char *p = dm_alloc(n, place, flags);
	const char *err;

	snprintf(what, sizeof(what), "dm_alloc(%zu KiB, %s%s)", n >> 10, dm_place_name(place),
		 flags ? ", DM_OPTIONAL" : "");
	CHECK(p, "%s: %s", what, ename(errno));
	CHECK(((uintptr_t)p & (PAGE - 1)) == 0, "%s = %p: not page-aligned", what, p);
	for (size_t i = 0; i < n; i += 512)
		CHECK(p[i] == 0, "%s: not zeroed at offset %zu", what, i);
	if ((err = check_area(p, n, place, what)))
		return err;
	CHECK(dm_free(p, n) == 0, "dm_free after %s: %s", what, ename(errno));
	return NULL;
}

const char *t_alloc_local(void)
{
	return alloc_check(DM_LOCAL, 0, 1 << 20);
}

const char *t_alloc_pool(void)
{
	return alloc_check(DM_POOL, 0, 1 << 20);
}

const char *t_alloc_any(void)
{
	return alloc_check(DM_ANY, 0, 1 << 20);
}

const char *t_alloc_optional(void)
{
	const char *err;

	if ((err = alloc_check(DM_LOCAL, DM_OPTIONAL, 64 << 10)) ||
	    (err = alloc_check(DM_POOL, DM_OPTIONAL, 64 << 10)) ||
	    (err = alloc_check(DM_ANY, DM_OPTIONAL, 64 << 10)))
		return err;
	return NULL;
}

const char *t_alloc_too_big(void)
{
	struct dm_meminfo m0, m1;
	char *p;

	/* (more pool than there is: left to bigalloc, it would take the whole pool for a moment) */
	CHECK(dm_meminfo(&m0) == 0, "dm_meminfo: %s", ename(errno));
	NULLERR(dm_alloc(32UL << 30, DM_LOCAL, 0), ENOMEM);     /* 32 GiB */
	NULLERR(dm_alloc(32UL << 30, DM_POOL, 0), ENOMEM);
	CHECK(dm_meminfo(&m1) == 0, "dm_meminfo: %s", ename(errno));
	CHECK(m1.pool_used_here <= m0.pool_used_here + (64 << 10),
	      "pool memory held here grew from %llu to %llu KiB after a refused allocation",
	      (unsigned long long)m0.pool_used_here >> 10, (unsigned long long)m1.pool_used_here >> 10);

	/*
	 * More local memory than the node has, in a child: its page tables
	 * stay until it exits, and would scatter over our node's memory.
	 */
	struct child c;
	int st;
	const char *err;
	if (start(&c, self, 0, "toobig", NULL) < 0)     /* no watchdog: see t_alloc_free_churn */
		return fail("dm_spawn: %s", ename(errno));
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st), "the child asking for too much local memory: %s", status_str(st));
	switch (WEXITSTATUS(st)) {
	case 0:
		break;
	case 2:
		return fail("dm_alloc(more than the node has, local) did not fail with ENOMEM");
	case 3:
		return fail("local memory did not come back after a refused dm_alloc (or a second one cost more)");
	case 4:
		return fail("dm_alloc(1 MiB, local) failed after a refused one");
	default:
		return fail("the child asking for too much local memory: %s", status_str(st));
	}
	p = dm_alloc(1 << 20, DM_LOCAL, 0);
	CHECK(p, "dm_alloc(1 MiB, local) after a refused one: %s", ename(errno));
	dm_free(p, 1 << 20);
	return NULL;
}

const char *t_use_after_dm_free(void)
{
	printf("# a child now touches freed memory: a 'killed: page fault' line is expected\n");
	return run_killed(self, 11, "usefree", NULL);
}

const char *t_malloc_8mib(void)
{
	size_t n = 8 << 20;
	uint64_t *p = malloc(n);

	CHECK(p, "malloc(8 MiB) failed");
	for (size_t i = 0; i < n / 8; i++)
		p[i] = i ^ 0xdeadbeefcafeULL;
	for (size_t i = 0; i < n / 8; i++)
		if (p[i] != (i ^ 0xdeadbeefcafeULL)) {
			free(p);
			return fail("malloc(8 MiB): wrong data at word %zu", i);
		}
	free(p);
	return NULL;
}

const char *t_alloc_free_no_leak(void)
{
	struct dm_meminfo m0, m1;

	for (int round = 0; round < 2; round++) {
		CHECK(dm_meminfo(&m0) == 0, "dm_meminfo: %s", ename(errno));
		for (int i = 0; i < 16; i++) {
			int place = i % 3 == 0 ? DM_LOCAL : i % 3 == 1 ? DM_POOL : DM_ANY;
			char *p = dm_alloc(1 << 20, place, 0);
			CHECK(p, "dm_alloc(1 MiB, %s): %s", dm_place_name(place), ename(errno));
			for (int k = 0; k < (1 << 20); k += PAGE)
				p[k] = 1;
			CHECK(dm_free(p, 1 << 20) == 0, "dm_free: %s", ename(errno));
		}
		CHECK(dm_meminfo(&m1) == 0, "dm_meminfo: %s", ename(errno));
		/* page tables for the new addresses may stay: allow 64 pages */
		if (m1.local_free + (256 << 10) >= m0.local_free &&
		    m1.pool_used_here <= m0.pool_used_here + (256 << 10))
			return NULL;
	}
	return fail("16 MiB allocated and freed: local free %llu -> %llu KiB, pool used here %llu -> %llu KiB",
		    (unsigned long long)m0.local_free >> 10, (unsigned long long)m1.local_free >> 10,
		    (unsigned long long)m0.pool_used_here >> 10, (unsigned long long)m1.pool_used_here >> 10);
}

/*
 * A long-lived program that allocates and frees over and over must not
 * lose memory: a child does 2000 rounds of dm_alloc(1 MiB), touches one
 * page, dm_free, and exits with the local memory it lost, in 16 KiB units.
 */
const char *t_alloc_free_churn(void)
{
	struct child c;
	int st;
	const char *err;

	/* no watchdog: starting one would change the node's free memory under the count */
	if (start(&c, self, 0, "churn", "2000", NULL) < 0)
		return fail("dm_spawn: %s", ename(errno));
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 255, "the churning child's dm_alloc or dm_free failed");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) * 16 <= 512, "2000 rounds of dm_alloc(1 MiB) + dm_free cost "
	      "%s%d KiB of local memory (kept until the process exits)", WEXITSTATUS(st) == 254 ? "over " : "",
	      WEXITSTATUS(st) * 16);
	return NULL;
}

const char *t_meminfo(void)
{
	struct dm_meminfo m;
	struct dm_nodeinfo ni;

	CHECK(dm_meminfo(&m) == 0, "dm_meminfo: %s", ename(errno));
	CHECK(m.local_total >= (16 << 20) && m.local_free <= m.local_total,
	      "local: %llu bytes, %llu free", (unsigned long long)m.local_total,
	      (unsigned long long)m.local_free);
	CHECK(m.pool_total >= (16 << 20) && m.pool_free <= m.pool_total && m.pool_used_here <= m.pool_total,
	      "pool: %llu bytes, %llu free, %llu used here", (unsigned long long)m.pool_total,
	      (unsigned long long)m.pool_free, (unsigned long long)m.pool_used_here);
	CHECK(m.pool_link == 1 && m.regions_failed == 0 && m.pool_failed == 0,
	      "pool: link %u, %u regions failed (%llu bytes)", m.pool_link, m.regions_failed,
	      (unsigned long long)m.pool_failed);
	CHECK(dm_nodeinfo(&ni) == self && ni.node == self && dm_node() == self,
	      "dm_nodeinfo disagrees with dm_node");
	CHECK(ni.nodes >= 1 && ni.nodes <= 64 && self < ni.nodes, "dm_nodeinfo: node %d of %d", ni.node, ni.nodes);
	CHECK(ni.cluster[0] && memchr(ni.cluster, 0, DM_NAME_MAX), "dm_nodeinfo: no cluster id");
	return NULL;
}

/* ---- a list in a shared segment, built by one process, walked by another ------------- */




uint64_t build_list(struct list *l)
{
	uint64_t sum = 0;

	l->count = LIST_ITEMS;
	l->first = NULL;
	for (int i = 0; i < LIST_ITEMS; i++) {  /* linked backwards: the walk jumps around */
		l->items[i].value = (uint64_t)i * i + 1;
		l->items[i].next = l->first;
		l->first = &l->items[i];
		sum += l->items[i].value;
	}
	return sum;
}

/* Wait (bounded) until *word is no longer `value`. Return: 0, or -1 on timeout. */
int wait_change(uint32_t *word, uint32_t value, uint64_t timeout_ns)
{
	uint64_t until = now() + timeout_ns;

	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) {
		uint64_t t = now();
		if (t >= until)
			return -1;
		futex_wait(word, value, until - t);
	}
	return 0;
}

/* ---- shared segments ------------------------------------------------------------------ */

/* A list in a new segment; a child on node walks it at the same address. */
const char *list_in_child(int node, const char *tag)
{
	char name[DM_NAME_MAX], addr[24];
	struct child c;
	int st;
	const char *err;
	struct list *l;

	segname(name, tag);
	CHECK((l = seg_create(name, LIST_BYTES, 0)), "seg_create(%s): %s", name, ename(errno));
	uint64_t sum = build_list(l);
	snprintf(addr, sizeof(addr), "%p", (void *)l);
	if (start(&c, node, CHILD_TIMEOUT_MS, "walk", name, addr, NULL) < 0) {
		int e = errno;
		seg_detach(l);
		return fail("dm_spawn on node %d: %s", node, ename(e));
	}
	int late = wait_change(&l->done, 0, 15000 * MS);
	err = finish(&c, &st);
	uint32_t done = l->done;
	uint64_t result = l->result;
	seg_detach(l);
	if (err)
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 2, "the segment is at %s here, elsewhere on node %d", addr, node);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "walker on node %d: %s", node, status_str(st));
	CHECK(!late, "the walker's futex_wake did not reach us");
	CHECK(done == 1 && result == sum, "walker saw sum %llu, we built %llu", (unsigned long long)result,
	      (unsigned long long)sum);
	return NULL;
}

const char *t_seg_shared_with_child(void)
{
	return list_in_child(self, "list");
}

const char *t_seg_key(void)
{
	char name[DM_NAME_MAX];
	uint32_t *p;

	segname(name, "key");
	CHECK((p = seg_create(name, PAGE, 0x5eed)), "seg_create: %s", ename(errno));
	p[0] = 0xfeedf00d;
	const char *err = run_exit(self, 0, "key", name, "24301", NULL);    /* 0x5eed */
	seg_detach(p);
	return err;
}

const char *t_seg_eexist(void)
{
	char name[DM_NAME_MAX];
	void *p, *q;

	segname(name, "dup");
	CHECK((p = seg_create(name, PAGE, 0)), "seg_create: %s", ename(errno));
	errno = 0;
	q = seg_create(name, PAGE, 0);
	int e = errno;
	seg_detach(p);
	if (q)
		seg_detach(q);
	CHECK(!q && e == EEXIST, "second seg_create(%s) = %p (%s), want EEXIST", name, q, ename(e));
	CHECK((p = seg_create(name, PAGE, 0)), "seg_create after the last detach: %s", ename(errno));
	seg_detach(p);
	return NULL;
}

const char *t_seg_detach(void)
{
	char name[DM_NAME_MAX];
	char *p;

	segname(name, "det");
	CHECK((p = seg_create(name, 3 * PAGE, 0)), "seg_create: %s", ename(errno));
	p[0] = 1;
	CHECK(dm_where(p) == DM_POOL, "a segment page is %s, not pool", dm_place_name(dm_where(p)));
	ERR(seg_detach(p + PAGE), EINVAL);
	CHECK(seg_detach(p) == 0, "seg_detach: %s", ename(errno));
	ERR(seg_detach(p), EINVAL);
	ERR(dm_where(p), EFAULT);
	NULLERR(seg_attach(name, 0), ENOENT);   /* the last detach removed it */
	printf("# a child now touches a detached segment: a 'killed: page fault' line is expected\n");
	return run_killed(self, 11, "segdetach", name, NULL);
}

const char *t_seg_zero_on_reuse(void)
{
	char name[DM_NAME_MAX];
	size_t n = 256 << 10;
	uint64_t *p;

	segname(name, "zero");
	for (int round = 0; round < 3; round++) {
		CHECK((p = seg_create(name, n, 0)), "seg_create (round %d): %s", round, ename(errno));
		for (size_t i = 0; i < n / 8; i++) {
			if (p[i]) {
				seg_detach(p);
				return fail("round %d: word %zu of a new segment is 0x%llx, not 0", round, i,
					    (unsigned long long)p[i]);
			}
		}
		memset(p, 0xa5, n);
		CHECK(seg_detach(p) == 0, "seg_detach: %s", ename(errno));
	}
	return NULL;
}

const char *t_seg_large(void)
{
	char name[DM_NAME_MAX];
	size_t n = 16 << 20;
	char *p;
	const char *err;

	segname(name, "large");
	CHECK((p = seg_create(name, n, 0)), "seg_create(16 MiB): %s", ename(errno));
	err = check_area(p, n, DM_POOL, "16 MiB segment");
	seg_detach(p);
	return err;
}

/* ---- futexes --------------------------------------------------------------------------- */

const char *t_futex_eagain(void)
{
	uint32_t word = 5;
	uint64_t t0 = now();

	ERR(futex_wait(&word, 4, 1000 * MS), EAGAIN);
	ERR(futex_wait(&word, 0, 0), EAGAIN);
	CHECK(now() - t0 < 200 * MS, "futex_wait with a wrong value took %llu ms",
	      (unsigned long long)(now() - t0) / MS);
	return NULL;
}

const char *t_futex_timeout(void)
{
	uint32_t word = 5;

	uint64_t t0 = now();
	ERR(futex_wait(&word, 5, 50 * MS), ETIMEDOUT);
	uint64_t ms = (now() - t0) / MS;
	CHECK(ms >= 50 && ms < 1000, "futex_wait(50 ms) timed out after %llu ms", (unsigned long long)ms);
	return NULL;
}

const char *t_futex_timeout_shared(void)
{
	char name[DM_NAME_MAX];
	uint32_t *shared;
	uint64_t t0, ms;

	segname(name, "ftx");
	CHECK((shared = seg_create(name, PAGE, 0)), "seg_create: %s", ename(errno));
	t0 = now();
	errno = 0;
	int r = futex_wait(shared, 0, 50 * MS), e = errno;
	ms = (now() - t0) / MS;
	seg_detach(shared);
	CHECK(r == -1 && e == ETIMEDOUT, "futex_wait(segment word, 50 ms) = %d (%s), want ETIMEDOUT", r, ename(e));
	CHECK(ms >= 50 && ms < 1000, "futex_wait(segment word, 50 ms) timed out after %llu ms",
	      (unsigned long long)ms);
	return NULL;
}

const char *t_futex_wake_nobody(void)
{
	uint32_t word = 0;

	CHECK(futex_wake(&word, 1) == 0, "futex_wake with no waiter = %d", futex_wake(&word, 1));
	CHECK(futex_wake(&word, 0) == 0, "futex_wake(count 0) = %d", futex_wake(&word, 0));
	return NULL;
}

/* A child on node sets a word in a segment and wakes us. */
const char *child_wakes(int node)
{
	char name[DM_NAME_MAX];
	struct child c;
	uint32_t *w;
	int st;
	const char *err;

	segname(name, node == self ? "wake" : "rwake");
	CHECK((w = seg_create(name, PAGE, 0)), "seg_create: %s", ename(errno));
	if (start(&c, node, CHILD_TIMEOUT_MS, "wake", name, "200", NULL) < 0) {
		int e = errno;
		seg_detach(w);
		return fail("dm_spawn on node %d: %s", node, ename(e));
	}
	uint64_t t0 = now();
	errno = 0;
	int r = futex_wait(w, 0, 10000 * MS), e = errno;
	uint64_t ms = (now() - t0) / MS;
	uint32_t v = *w;
	err = finish(&c, &st);
	seg_detach(w);
	if (err)
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) < 10, "waker on node %d: %s", node, status_str(st));
	CHECK(r == 0 || (r == -1 && e == EAGAIN && v == 1),
	      "futex_wait = %d (%s) after %llu ms, word %u: not woken by the child", r, ename(e),
	      (unsigned long long)ms, v);
	CHECK(v == 1, "woken, but the word is %u", v);
	CHECK(r != 0 || WEXITSTATUS(st) == 1, "woken, but the child's futex_wake says it woke %d",
	      WEXITSTATUS(st));
	return NULL;
}

const char *t_futex_child_wakes(void)
{
	return child_wakes(self);
}
