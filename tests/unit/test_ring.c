/*
 * Host unit tests for the message rings (kernel/cluster/ring.c). The "pool" is a
 * memfd; every thread or process that plays a node maps it at its own
 * address, as every VM maps the pool at its own, so the tests also check
 * that nothing in the rings is a pointer. Payloads are derived from the
 * sequence number, so a consumer can tell a torn or misordered message
 * from a good one.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "kernel/cluster/ring.h"
#include "kernel/errno.h"

struct pool { int fd; size_t size; void *base; };

static struct pool pool_new(size_t size)
{
	struct pool p = { memfd_create("pool", 0), size, NULL };

	assert_true(p.fd >= 0);
	assert_int_equal(ftruncate(p.fd, (off_t)size), 0);
	p.base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, p.fd, 0);
	assert_true(p.base != MAP_FAILED);
	return p;
}

/* Another mapping of the same pool, at another address. */
static void *pool_view(const struct pool *p)
{
	void *v = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);

	assert_true(v != MAP_FAILED);
	return v;
}

static void pool_free(struct pool *p)
{
	munmap(p->base, p->size);
	close(p->fd);
}

/* Message n from node `from` to node `to`: every field derived from n. */
static void make(struct msg *m, uint64_t n, unsigned from, unsigned to)
{
	memset(m, 0, sizeof(*m));
	m->type = (uint16_t)(MSG_PING + (n % 3));
	m->from = (uint16_t)from;
	m->req_id = (uint32_t)(n * 2654435761u);
	m->flags = (uint32_t)~n;
	for (int i = 0; i < 6; i++)
		m->args[i] = (n + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)to << 56) ^ (uint64_t)i;
}

/* Is m exactly message n from `from` to `to`? (seq not compared) */
static int same(const struct msg *m, uint64_t n, unsigned from, unsigned to)
{
	struct msg want;

	make(&want, n, from, to);
	want.seq = m->seq;
	return memcmp(&want, m, sizeof(want)) == 0;
}

static void test_geometry(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct msg), 64);
	assert_int_equal(ring_bytes(2), 192 + 2 * 64);
	assert_int_equal(ring_bytes(64), 192 + 64 * 64);
	assert_int_equal(ring_bytes(0), 0);
	assert_int_equal(ring_bytes(1), 0);
	assert_int_equal(ring_bytes(48), 0);
	assert_int_equal(ring_bytes(RING_MAX_SLOTS * 2), 0);
	assert_int_equal(ring_mesh_size(4, 16), 64 + 16 * ring_bytes(16));
	assert_int_equal(ring_mesh_size(0, 16), 0);
	assert_int_equal(ring_mesh_size(RING_MAX_NODES + 1, 16), 0);
	assert_int_equal(ring_mesh_size(4, 3), 0);
}

static void test_bad_input(void **state)
{
	struct pool p = pool_new(1 << 20);
	char *b = p.base;
	struct ring *r;
	struct msg m;

	(void)state;
	assert_null(ring_get(b, 0, 0));         /* all zero: no mesh */
	assert_int_equal(ring_mesh_format(NULL, 2, 4), -EINVAL);
	assert_int_equal(ring_mesh_format(b + 8, 2, 4), -EINVAL);
	assert_int_equal(ring_mesh_format(b, 0, 4), -EINVAL);
	assert_int_equal(ring_mesh_format(b, 2, 5), -EINVAL);
	assert_null(ring_get(b, 0, 0));
	assert_int_equal(ring_mesh_format(b, 2, 4), 0);
	assert_null(ring_get(b + 8, 0, 0));
	assert_null(ring_get(b, 2, 0));
	assert_null(ring_get(b, 0, 2));
	assert_null(ring_get(NULL, 0, 0));
	r = ring_get(b, 1, 0);
	assert_non_null(r);
	assert_int_equal(r->from, 1);
	assert_int_equal(r->to, 0);
	assert_int_equal(ring_send(NULL, &m), -EINVAL);
	assert_int_equal(ring_send(r, NULL), -EINVAL);
	assert_int_equal(ring_recv(r, NULL), -EINVAL);
	assert_int_equal(ring_recv(NULL, &m), -EINVAL);

	r->received = 7;                        /* consumer ahead of producer */
	make(&m, 0, 1, 0);
	assert_int_equal(ring_send(r, &m), -EIO);
	assert_int_equal(ring_count(r), 0);
	r->received = 0;
	r->slots = 6;                           /* geometry trampled */
	assert_int_equal(ring_send(r, &m), -EIO);
	assert_int_equal(ring_recv(r, &m), -EIO);
	r->slots = 4;
	r->magic = 0;
	assert_int_equal(ring_recv(r, &m), -EIO);
	assert_null(ring_get(b, 1, 0));
	r->magic = RING_MAGIC;
	((struct ring_mesh *)b)->version = 99;  /* a mesh from the future */
	assert_null(ring_get(b, 1, 0));
	pool_free(&p);
}

static void test_full_empty(void **state)
{
	struct pool p = pool_new(1 << 16);
	struct ring *r, *other;
	struct msg m;
	uint64_t n;

	(void)state;
	assert_int_equal(ring_mesh_format(p.base, 2, 8), 0);
	r = ring_get(p.base, 0, 1);
	other = ring_get(p.base, 1, 0);
	assert_non_null(r);
	assert_ptr_not_equal(r, other);
	assert_int_equal(ring_recv(r, &m), -EAGAIN);
	for (n = 0; n < 8; n++) {
		make(&m, n, 0, 1);
		assert_int_equal(ring_send(r, &m), 0);
		assert_int_equal(ring_count(r), n + 1);
	}
	make(&m, 8, 0, 1);
	assert_int_equal(ring_send(r, &m), -EAGAIN);
	assert_int_equal(ring_send(r, &m), -EAGAIN);
	assert_int_equal(r->full, 2);
	assert_int_equal(ring_recv(other, &m), -EAGAIN);   /* other direction is empty */

	/* Drain and refill across the wrap a few times: always in order. */
	for (n = 0; n < 100; n++) {
		assert_int_equal(ring_recv(r, &m), 0);
		assert_int_equal(m.seq, (uint32_t)(n + 1));
		assert_true(same(&m, n, 0, 1));
		make(&m, n + 8, 0, 1);
		assert_int_equal(ring_send(r, &m), 0);
		assert_int_equal(ring_count(r), 8);
	}
	for (n = 100; n < 108; n++) {
		assert_int_equal(ring_recv(r, &m), 0);
		assert_true(same(&m, n, 0, 1));
	}
	assert_int_equal(ring_recv(r, &m), -EAGAIN);
	assert_int_equal(r->sent, 108);
	assert_int_equal(r->received, 108);
	assert_int_equal(r->full, 2);
	pool_free(&p);
}

/* One producer and one consumer thread, each with its own view. */
struct stream {
	struct pool *pool;
	uint32_t slots;
	uint64_t count;
	uint64_t bad;           /* consumer: messages that were not as sent */
	uint64_t spins;         /* producer: sends refused, full */
};

static void *producer(void *arg)
{
	struct stream *s = arg;
	void *v = pool_view(s->pool);
	struct ring *r = ring_get(v, 0, 1);
	struct msg m;

	for (uint64_t n = 0; r && n < s->count; n++) {
		make(&m, n, 0, 1);
		while (ring_send(r, &m) == -EAGAIN) {
			s->spins++;
			sched_yield();
		}
	}
	munmap(v, s->pool->size);
	return NULL;
}

static void *consumer(void *arg)
{
	struct stream *s = arg;
	void *v = pool_view(s->pool);
	struct ring *r = ring_get(v, 0, 1);
	struct msg m;

	for (uint64_t n = 0; r && n < s->count; n++) {
		while (ring_recv(r, &m) == -EAGAIN)
			sched_yield();
		if (m.seq != (uint32_t)(n + 1) || !same(&m, n, 0, 1))
			s->bad++;
	}
	munmap(v, s->pool->size);
	return NULL;
}

static void stream(uint32_t slots, uint64_t count)
{
	struct pool p = pool_new(1 << 20);
	struct stream s = { &p, slots, count, 0, 0 };
	struct ring *r;
	pthread_t a, b;

	assert_int_equal(ring_mesh_format(p.base, 2, slots), 0);
	assert_int_equal(pthread_create(&b, NULL, consumer, &s), 0);
	assert_int_equal(pthread_create(&a, NULL, producer, &s), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	r = ring_get(p.base, 0, 1);
	assert_int_equal(s.bad, 0);
	assert_int_equal(r->sent, count);
	assert_int_equal(r->received, count);
	assert_int_equal(r->full, s.spins);
	assert_int_equal(ring_count(r), 0);
	pool_free(&p);
}

/* Two million messages through a 64-slot ring, every field checked. */
static void test_stream(void **state)
{
	(void)state;
	stream(64, 2000000);
}

/*
 * Torn messages: with two slots the producer rewrites each slot as soon as
 * it is freed, so a consumer that could see a header before its body would
 * see the previous lap's payload under the new seq.
 */
static void test_torn(void **state)
{
	(void)state;
	stream(2, 1000000);
}

/* The same through fork(): a producer in another process. */
static void test_other_process(void **state)
{
	struct pool p = pool_new(1 << 20);
	struct stream s = { &p, 16, 500000, 0, 0 };
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(ring_mesh_format(p.base, 2, 16), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		producer(&s);
		_exit(0);
	}
	consumer(&s);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(s.bad, 0);
	pool_free(&p);
}

/* A mesh of 4 nodes, every node sending to every node (itself included). */
#define MESH_NODES 4
#define MESH_EACH  100000

struct node {
	struct pool *pool;
	unsigned id;
	uint64_t bad;
};

static void *mesh_node(void *arg)
{
	struct node *nd = arg;
	void *v = pool_view(nd->pool);
	struct ring *out[MESH_NODES], *in[MESH_NODES];
	uint64_t sent[MESH_NODES] = { 0 }, got[MESH_NODES] = { 0 }, left;
	struct msg m;

	for (unsigned i = 0; i < MESH_NODES; i++) {
		out[i] = ring_get(v, nd->id, i);
		in[i] = ring_get(v, i, nd->id);
		if (!out[i] || !in[i]) {
			nd->bad++;
			munmap(v, nd->pool->size);
			return NULL;
		}
	}
	left = 2 * MESH_NODES * MESH_EACH;
	while (left) {
		unsigned progress = 0;

		for (unsigned i = 0; i < MESH_NODES; i++) {
			if (sent[i] < MESH_EACH) {
				make(&m, sent[i], nd->id, i);
				if (ring_send(out[i], &m) == 0)
					sent[i]++, left--, progress++;
			}
			while (ring_recv(in[i], &m) == 0) {
				if (m.from != i || m.seq != (uint32_t)(got[i] + 1) ||
				    !same(&m, got[i], i, nd->id))
					nd->bad++;
				got[i]++, left--, progress++;
			}
		}
		if (!progress)
			sched_yield();
	}
	munmap(v, nd->pool->size);
	return NULL;
}

static void test_mesh(void **state)
{
	uint64_t size = ring_mesh_size(MESH_NODES, 32);
	struct pool p = pool_new(size);
	struct node nd[MESH_NODES];
	pthread_t t[MESH_NODES];

	(void)state;
	assert_int_equal(ring_mesh_format(p.base, MESH_NODES, 32), 0);
	for (unsigned i = 0; i < MESH_NODES; i++) {
		nd[i] = (struct node){ &p, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, mesh_node, &nd[i]), 0);
	}
	for (unsigned i = 0; i < MESH_NODES; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(nd[i].bad, 0);
	}
	for (unsigned f = 0; f < MESH_NODES; f++) {
		for (unsigned to = 0; to < MESH_NODES; to++) {
			struct ring *r = ring_get(p.base, f, to);

			assert_int_equal(r->sent, MESH_EACH);
			assert_int_equal(r->received, MESH_EACH);
			assert_int_equal(r->from, f);
			assert_int_equal(r->to, to);
		}
	}
	pool_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_full_empty),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_torn),
		cmocka_unit_test(test_other_process),
		cmocka_unit_test(test_mesh),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
