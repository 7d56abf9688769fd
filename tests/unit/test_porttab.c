/*
 * Host unit tests of the cluster IP's port table (net/porttab.c): the
 * format and its refusals, listeners and their services, the Maglev fill
 * (every node within one bucket of its share; one of N nodes leaving moves
 * its own buckets and few others, measured), members that withdraw and
 * come back, a restarted node's stale entries, a dead node's cleanup, and
 * several nodes (host threads, one handle each on one shared mapping)
 * opening and closing listeners on the same ports under the table's lease
 * while one of them dies mid-change, a reader looks owners up all along,
 * and the table ends as the fill of what is left says it must.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "kernel/cluster/lease.h"
#include "net/porttab.h"

#define NENTS 64
#define NSVCS 8
#define NSETS 4
#define VIP   (10u << 24 | 0u << 16 | 2u << 8 | 100u)
#define TCP   PORTTAB_TCP
#define UDP   PORTTAB_UDP

static const uint8_t cmac[6] = { 0x02, 0xd0, 0x05, 0x00, 0x00, 0x01 };
static uint8_t *area;                   /* a shared anonymous mapping, as the pool is */
static uint64_t area_bytes;

static int setup(void **state)
{
	(void)state;
	area_bytes = porttab_area_size(NENTS, NSVCS, NSETS);
	area = mmap(NULL, area_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(area != MAP_FAILED);
	assert_int_equal(porttab_format(area, NENTS, NSVCS, NSETS, VIP, cmac), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	munmap(area, area_bytes);
	return 0;
}

static struct porttab node(int n)
{
	struct porttab t;

	assert_int_equal(porttab_attach(&t, area, n), 0);
	return t;
}

/* Buckets of (proto, port) each node owns, into c[MAX_NODES]; return: unowned ones. */
static uint32_t owned(const struct porttab *t, int proto, uint16_t port, uint32_t c[MAX_NODES])
{
	uint32_t none = 0;

	memset(c, 0, MAX_NODES * sizeof(c[0]));
	for (uint32_t b = 0; b < PORTTAB_BUCKETS; b++) {
		int o = porttab_owner(t, proto, port, b);
		if (o < 0)
			none++;
		else
			c[o]++;
	}
	return none;
}

static void test_format_refusals_and_attach(void **state)
{
	static uint8_t a[PORTTAB_HDR_BYTES + PORTTAB_ENT_BYTES + PORTTAB_SVC_BYTES +
			 PORTTAB_CHDR_BYTES + PORTTAB_CSET_BYTES] __attribute__((aligned(64)));
	const uint8_t global[6] = { 0x00, 0x16, 0x3e, 0, 0, 1 }, multi[6] = { 0x03, 0, 0, 0, 0, 1 };
	struct porttab t;

	(void)state;
	assert_int_equal(porttab_format(a, 0, 1, 1, VIP, cmac), -EINVAL);
	assert_int_equal(porttab_format(a, 1, 0, 1, VIP, cmac), -EINVAL);
	assert_int_equal(porttab_format(a, PORTTAB_MAX_ENTS + 1, 1, 1, VIP, cmac), -EINVAL);
	assert_int_equal(porttab_format(a, 1, 1, 1, 0, cmac), -EINVAL);
	assert_int_equal(porttab_format(a, 1, 1, 1, VIP, global), -EINVAL);   /* not local */
	assert_int_equal(porttab_format(a, 1, 1, 1, VIP, multi), -EINVAL);    /* multicast */
	assert_int_equal(porttab_attach(&t, a, 0), -EINVAL);               /* nothing written */
	assert_int_equal(porttab_format(a, 1, 1, 1, VIP, cmac), 0);
	assert_int_equal(porttab_attach(&t, a, MAX_NODES), -EINVAL);
	assert_int_equal(porttab_attach(&t, a, 3), 0);
	assert_int_equal(t.hdr->vip, VIP);
	assert_memory_equal(t.hdr->mac, cmac, 6);
	assert_int_equal(porttab_leader(&t), -1);
	assert_int_equal(porttab_owner(&t, TCP, 7, 0), -ENOENT);
	t.hdr->version = 1;                                                /* before the claims */
	assert_int_equal(porttab_attach(&t, a, 3), -EINVAL);
}

static void test_listen_errors_and_full_tables(void **state)
{
	struct porttab t = node(1);
	int h[NENTS];

	(void)state;
	porttab_join(&t, 5);
	assert_int_equal(porttab_listen(&t, 1, 7, 0, 5), -EINVAL);         /* ICMP */
	assert_int_equal(porttab_listen(&t, TCP, 0, 0, 5), -EINVAL);
	assert_int_equal(porttab_listen(&t, TCP, 7, 0, 0), -EINVAL);
	for (int i = 0; i < NSVCS; i++)
		assert_true(porttab_listen(&t, UDP, (uint16_t)(1000 + i), 42, 5) >= 0);
	uint64_t c0 = t.hdr->changes;
	assert_int_equal(porttab_listen(&t, UDP, 2000, 42, 5), -ENOSPC);   /* no service left */
	assert_int_equal(t.hdr->changes, c0);
	for (int i = NSVCS; i < NENTS; i++)                                /* existing services */
		assert_true((h[i] = porttab_listen(&t, UDP, (uint16_t)(1000 + i % NSVCS), 42, 5)) >= 0);
	assert_int_equal(porttab_listen(&t, UDP, 1000, 42, 5), -ENOSPC);   /* no entry left */
	/* only the owner's live incarnation closes an entry */
	struct porttab other = node(2);
	assert_int_equal(porttab_unlisten(&other, h[NSVCS], 5), -ENOENT);
	assert_int_equal(porttab_unlisten(&t, h[NSVCS], 4), -ENOENT);
	assert_int_equal(porttab_unlisten(&t, NENTS, 5), -ENOENT);
	assert_int_equal(porttab_unlisten(&t, -1, 5), -ENOENT);
	assert_int_equal(porttab_unlisten(&t, h[NSVCS], 5), 0);
	assert_int_equal(porttab_unlisten(&t, h[NSVCS], 5), -ENOENT);      /* twice */
}

static void test_services_come_and_go_with_their_listeners(void **state)
{
	struct porttab a = node(0), b = node(1);
	uint32_t c[MAX_NODES];

	(void)state;
	porttab_join(&a, 1);
	porttab_join(&b, 1);
	int ha = porttab_listen(&a, TCP, 80, 1000001, 1);
	assert_true(ha >= 0);
	assert_int_equal(owned(&a, TCP, 80, c), 0);
	assert_int_equal(c[0], PORTTAB_BUCKETS);
	assert_int_equal(owned(&a, UDP, 80, c), PORTTAB_BUCKETS);          /* another protocol */
	int hb = porttab_listen(&b, TCP, 80, 2000001, 1);
	int hb2 = porttab_listen(&b, TCP, 80, 2000002, 1);                 /* a second one: same weight */
	assert_true(hb >= 0 && hb2 >= 0);
	assert_int_equal(owned(&b, TCP, 80, c), 0);
	assert_int_equal(c[0], PORTTAB_BUCKETS / 2 + 1);
	assert_int_equal(c[1], PORTTAB_BUCKETS / 2);
	assert_int_equal(porttab_unlisten(&a, ha, 1), 0);
	assert_int_equal(owned(&b, TCP, 80, c), 0);
	assert_int_equal(c[1], PORTTAB_BUCKETS);
	assert_int_equal(porttab_unlisten(&b, hb, 1), 0);
	assert_int_equal(owned(&b, TCP, 80, c), 0);
	assert_int_equal(porttab_unlisten(&b, hb2, 1), 0);
	assert_int_equal(owned(&b, TCP, 80, c), PORTTAB_BUCKETS);          /* the service is gone */
	for (uint32_t i = 0; i < NSVCS; i++)
		assert_int_equal(a.svc[i].key, 0);
	assert_int_equal(porttab_leader(&b), 0);
}

/* The Maglev fill on its own: balance, and how many buckets move when one node leaves. */
static void test_maglev_balance_and_disruption(void **state)
{
	static uint8_t full[PORTTAB_BUCKETS], less[PORTTAB_BUCKETS], back[PORTTAB_BUCKETS];
	const uint32_t keys[] = { PORTTAB_KEY(TCP, 7), PORTTAB_KEY(TCP, 80), PORTTAB_KEY(UDP, 53) };
	uint32_t worst_extra = 0;

	(void)state;
	for (uint32_t k = 0; k < 3; k++) {
		for (int n = 2; n <= 16; n++) {
			uint64_t all = n == 64 ? ~0ULL : (1ULL << n) - 1;
			uint32_t c[MAX_NODES] = { 0 };

			assert_int_equal(porttab_fill(keys[k], all, full), (uint32_t)n);
			for (uint32_t b = 0; b < PORTTAB_BUCKETS; b++) {
				assert_true(full[b] < n);
				c[full[b]]++;
			}
			/* round robin over the nodes: each gets its share, give or take one */
			for (int i = 0; i < n; i++)
				assert_true(c[i] == PORTTAB_BUCKETS / (uint32_t)n || c[i] == PORTTAB_BUCKETS / (uint32_t)n + 1);
			for (int gone = 0; gone < n; gone++) {
				uint32_t moved_own = 0, moved_other = 0;

				porttab_fill(keys[k], all & ~(1ULL << gone), less);
				for (uint32_t b = 0; b < PORTTAB_BUCKETS; b++) {
					assert_true(less[b] != gone && less[b] < n);
					if (full[b] == gone)
						moved_own++;
					else if (less[b] != full[b])
						moved_other++;
				}
				assert_int_equal(moved_own, c[gone]);
				/* between survivors: a few percent of the table at most */
				assert_true(moved_other * 100 <= 6 * PORTTAB_BUCKETS);
				if (moved_other > worst_extra)
					worst_extra = moved_other;
				/* back again: the very same table (a function of the members) */
				porttab_fill(keys[k], all, back);
				assert_memory_equal(back, full, PORTTAB_BUCKETS);
			}
		}
	}
	print_message("maglev: worst case %u of %u buckets (%.1f%%) moved between survivors "
		      "when one of 2..16 nodes left\n", worst_extra, PORTTAB_BUCKETS,
		      100.0 * worst_extra / PORTTAB_BUCKETS);
	assert_int_equal(porttab_fill(keys[0], 0, full), 0);
	for (uint32_t b = 0; b < PORTTAB_BUCKETS; b++)
		assert_int_equal(full[b], PORTTAB_NONE);
}

/* The same through the table: a node's leaving moves its buckets and (mostly) no others. */
static void test_a_node_leaving_moves_its_own_buckets(void **state)
{
	struct porttab t[3] = { node(0), node(1), node(2) };
	uint8_t before[PORTTAB_BUCKETS];
	uint32_t c[MAX_NODES], moved_other = 0, own;

	(void)state;
	for (int n = 0; n < 3; n++) {
		porttab_join(&t[n], 1);
		assert_true(porttab_listen(&t[n], TCP, 7, 0, 1) >= 0);
	}
	assert_int_equal(owned(&t[0], TCP, 7, c), 0);
	assert_int_equal(c[0] + c[1] + c[2], PORTTAB_BUCKETS);
	for (int n = 0; n < 3; n++)
		assert_true(c[n] == 340 || c[n] == 341);
	own = c[1];
	for (uint32_t b = 0; b < PORTTAB_BUCKETS; b++)
		before[b] = (uint8_t)porttab_owner(&t[0], TCP, 7, b);
	porttab_leave(&t[1]);                           /* its link went down */
	assert_int_equal(owned(&t[0], TCP, 7, c), 0);
	assert_int_equal(c[1], 0);
	for (uint32_t b = 0; b < PORTTAB_BUCKETS; b++) {
		int o = porttab_owner(&t[0], TCP, 7, b);
		moved_other += before[b] != 1 && o != before[b];
	}
	assert_true(moved_other * 100 <= 6 * PORTTAB_BUCKETS);
	print_message("leave: node 1's %u buckets moved, and %u of the others' %u\n", own,
		      moved_other, PORTTAB_BUCKETS - own);
	assert_int_equal(porttab_join(&t[1], 1), 0);    /* back: its entry counts again */
	for (uint32_t b = 0; b < PORTTAB_BUCKETS; b++)
		assert_int_equal(porttab_owner(&t[0], TCP, 7, b), before[b]);
	assert_int_equal(porttab_leader(&t[2]), 0);
	porttab_leave(&t[0]);
	assert_int_equal(porttab_leader(&t[2]), 1);
}

static void test_stale_incarnations_and_dead_nodes(void **state)
{
	struct porttab a = node(0), b = node(1);
	uint32_t c[MAX_NODES];

	(void)state;
	porttab_join(&a, 1);
	porttab_join(&b, 3);
	assert_true(porttab_listen(&a, TCP, 7, 0, 1) >= 0);
	assert_true(porttab_listen(&b, TCP, 7, 0, 3) >= 0);
	assert_true(porttab_listen(&b, UDP, 53, 2000001, 3) >= 0);
	/* node 1 restarts (epoch 4) before anyone buried epoch 3: the old entries stop counting */
	b.hdr->member[1] = 0;                   /* what its new life finds: it had not joined yet */
	porttab_repair(&a);
	assert_int_equal(owned(&a, TCP, 7, c), 0);
	assert_int_equal(c[0], PORTTAB_BUCKETS);
	assert_int_equal(owned(&a, UDP, 53, c), PORTTAB_BUCKETS);
	assert_int_equal(porttab_join(&b, 4), 2);       /* drops its earlier life's two */
	assert_int_equal(owned(&a, UDP, 53, c), PORTTAB_BUCKETS);          /* service freed */
	assert_true(porttab_listen(&b, TCP, 7, 0, 4) >= 0);
	/* epoch 3's burial, late: epoch 4's entry and membership stay */
	assert_int_equal(porttab_node_dead(&a, 1, 3), 0);
	assert_int_equal(owned(&a, TCP, 7, c), 0);
	assert_true(c[1] > 500);
	/* epoch 4 dies: the first survivor drops it, a second finds nothing left */
	assert_int_equal(porttab_node_dead(&a, 1, 4), 1);
	assert_int_equal(b.hdr->member[1], 0);
	assert_int_equal(porttab_node_dead(&a, 1, 4), 0);
	assert_int_equal(owned(&a, TCP, 7, c), 0);
	assert_int_equal(c[0], PORTTAB_BUCKETS);
	assert_int_equal(porttab_node_dead(&a, MAX_NODES, 1), 0);
}

/* --- several nodes at once --------------------------------------------------- */

#define CHURN_NODES  4
#define CHURN_ROUNDS 3000
#define DOOMED       3                  /* this node dies halfway, sometimes holding the lease */

static struct lease lk __attribute__((aligned(64)));
static volatile int dead[MAX_NODES];
static volatile int churning;
static uint64_t reader_bad, reader_reads;

static bool judge(void *ctx, int n, uint64_t epoch)
{
	(void)ctx;
	(void)epoch;
	return !dead[n];
}

struct churn {
	int node;
	uint64_t seed;
	int held[8];
	int nheld;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The lease as vip.c takes it: a holder found dead means a half-done change to repair. */
static void take(struct porttab *t)
{
	int r = lease_acquire(&lk, t->node, 1, judge, NULL, 10ULL * 1000000000);

	assert_true(r == 0 || r == LEASE_TAKEN_OVER);
	if (r == LEASE_TAKEN_OVER)
		porttab_repair(t);
}

static void *churn_run(void *arg)
{
	struct churn *c = arg;
	struct porttab t = node(c->node);
	const uint16_t ports[] = { 7, 80, 8080 };

	take(&t);
	porttab_join(&t, 1);
	lease_release(&lk, c->node, 1);
	for (int i = 0; i < CHURN_ROUNDS; i++) {
		take(&t);
		if (c->node == DOOMED && i == CHURN_ROUNDS / 2) {
			/* dies inside a change: an entry taken, its service not refilled */
			for (uint32_t k = 0; k < t.hdr->nents; k++)
				if (t.ent[k].state == PT_FREE) {
					t.ent[k] = (struct porttab_ent){ 1, 99, 7, TCP, (uint8_t)c->node,
									 PT_LISTEN, { 0 } };
					break;
				}
			dead[c->node] = 1;
			return NULL;            /* the lease stays held */
		}
		if (c->nheld < 8 && (c->nheld == 0 || rnd(&c->seed) % 2)) {
			int h = porttab_listen(&t, rnd(&c->seed) % 4 ? TCP : UDP,
					       ports[rnd(&c->seed) % 3], 1000000 * c->node + i, 1);
			assert_true(h >= 0 || h == -ENOSPC);
			if (h >= 0)
				c->held[c->nheld++] = h;
		} else {
			int j = (int)(rnd(&c->seed) % (uint64_t)c->nheld);
			assert_int_equal(porttab_unlisten(&t, c->held[j], 1), 0);
			c->held[j] = c->held[--c->nheld];
		}
		lease_release(&lk, c->node, 1);
	}
	return NULL;
}

/* Looks owners up all along, without the lease: always a node, or nobody. */
static void *reader_run(void *arg)
{
	struct porttab t = node(5);

	(void)arg;
	while (__atomic_load_n(&churning, __ATOMIC_ACQUIRE)) {
		for (uint32_t b = 0; b < PORTTAB_BUCKETS; b += 7) {
			int o = porttab_owner(&t, TCP, 80, b);
			reader_bad += !(o == -ENOENT || (o >= 0 && o < CHURN_NODES));
			reader_reads++;
		}
	}
	return NULL;
}

static void test_nodes_churn_while_one_dies(void **state)
{
	pthread_t th[CHURN_NODES], rd;
	struct churn c[CHURN_NODES];
	struct porttab t;
	uint8_t want[PORTTAB_BUCKETS];

	(void)state;
	lk.word = LEASE_FREE;
	churning = 1;
	assert_int_equal(pthread_create(&rd, NULL, reader_run, NULL), 0);
	for (int n = 0; n < CHURN_NODES; n++) {
		c[n] = (struct churn){ .node = n, .seed = 0x9e3779b97f4a7c15ULL * (n + 1) };
		assert_int_equal(pthread_create(&th[n], NULL, churn_run, &c[n]), 0);
	}
	for (int n = 0; n < CHURN_NODES; n++)
		pthread_join(th[n], NULL);
	/* a survivor buries the dead node, as cluster.c's hook does */
	t = node(0);
	lease_break_all(&lk, 1, DOOMED);
	take(&t);
	assert_int_equal(porttab_node_dead(&t, DOOMED, 1), c[DOOMED].nheld + 1);
	lease_release(&lk, 0, 1);
	__atomic_store_n(&churning, 0, __ATOMIC_RELEASE);
	pthread_join(rd, NULL);
	assert_int_equal(reader_bad, 0);
	assert_true(reader_reads > 0);

	/* the entries are exactly what the survivors hold, and nothing of the dead */
	uint32_t listening = 0;
	for (uint32_t k = 0; k < t.hdr->nents; k++) {
		const struct porttab_ent *e = &t.ent[k];
		if (e->state != PT_LISTEN)
			continue;
		listening++;
		assert_true(e->node != DOOMED);
		bool found = false;
		for (int j = 0; j < c[e->node].nheld; j++)
			found |= c[e->node].held[j] == (int)k;
		assert_true(found);
	}
	uint32_t sum = 0;
	for (int n = 0; n < CHURN_NODES; n++)
		sum += n == DOOMED ? 0 : (uint32_t)c[n].nheld;
	assert_int_equal(listening, sum);
	/* every service is the fill of the nodes that hold an entry of it */
	for (uint32_t i = 0; i < t.hdr->nsvcs; i++) {
		const struct porttab_svc *s = &t.svc[i];
		uint64_t nodes = 0;
		if (!s->key)
			continue;
		for (uint32_t k = 0; k < t.hdr->nents; k++)
			if (t.ent[k].state == PT_LISTEN &&
			    PORTTAB_KEY(t.ent[k].proto, t.ent[k].port) == s->key)
				nodes |= 1ULL << t.ent[k].node;
		assert_true(nodes != 0);                /* no service without an entry */
		assert_int_equal(porttab_fill(s->key, nodes, want), (uint32_t)__builtin_popcountll(nodes));
		assert_memory_equal(s->owner, want, PORTTAB_BUCKETS);
		assert_int_equal(s->nodes, __builtin_popcountll(nodes));
	}
	assert_int_equal(t.hdr->member[DOOMED], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_format_refusals_and_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_errors_and_full_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_services_come_and_go_with_their_listeners, setup,
						teardown),
		cmocka_unit_test(test_maglev_balance_and_disruption),
		cmocka_unit_test_setup_teardown(test_a_node_leaving_moves_its_own_buckets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_incarnations_and_dead_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodes_churn_while_one_dies, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
