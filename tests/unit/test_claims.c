/*
 * Host unit tests of the claims of new TCP connections to the cluster IP
 * (porttab_claim in net/porttab.c): several nodes (host threads, one handle
 * each on one shared mapping, as the pool is) claiming the same tuples at
 * once end with exactly one owner per tuple that they all agree on; the
 * round robin gives each of k listeners N/k claims, give or take one; a
 * claim whose owner died, withdrew, restarted or stopped listening is
 * taken again, a live one is followed; claims expire and their ways are
 * reused; in a full set the oldest claim gives way (counted); a set
 * lease held by a dead node is taken over and one held by a live node
 * makes the lookup give up.
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

#define NENTS   64
#define NSVCS   8
#define NSETS   1024
#define VIP     (10u << 24 | 0u << 16 | 2u << 8 | 100u)
#define CLIENT  (10u << 24 | 0u << 16 | 2u << 8 | 2u)
#define TCP     PORTTAB_TCP
#define SEC     1000000000ULL
#define T0      (1700000000ULL * SEC)   /* a cluster clock: ns since 1970 */
#define TTL     ((uint64_t)PORTTAB_CLAIM_TTL_MS * 1000000ULL)

static const uint8_t cmac[6] = { 0x02, 0x44, 0x4d, 0x00, 0x02, 0x64 };
static uint8_t *area;
static uint64_t area_bytes;
static volatile int dead[MAX_NODES];

static bool judge(void *ctx, int n, uint64_t epoch)
{
	(void)ctx;
	(void)epoch;
	return !dead[n];
}

static int setup(void **state)
{
	(void)state;
	memset((void *)dead, 0, sizeof(dead));
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

/* Nodes ns[0..k) join in epoch 1 and listen on TCP port; return their handles' first. */
static void listeners(struct porttab *t, const int *ns, int k, uint16_t port)
{
	for (int i = 0; i < k; i++) {
		t[i] = node(ns[i]);
		porttab_join(&t[i], 1);
		assert_true(porttab_listen(&t[i], TCP, port, 0, 1) >= 0);
	}
}

static int claim(struct porttab *t, uint16_t cport, uint64_t now, enum porttab_how *how)
{
	return porttab_claim(t, 1, 80, CLIENT, cport, now, judge, NULL, SEC, how);
}

/* A client port whose claim key for VIP:80 falls in set `set`, from `from` on. */
static uint16_t port_in_set(uint32_t set, uint32_t from)
{
	for (uint32_t p = from; p < 65536; p++)
		if (porttab_cset_of(PORTTAB_TUPLE(CLIENT, p, 80), NSETS) == set)
			return (uint16_t)p;
	fail_msg("no port of set %u from %u", set, from);
	return 0;
}

static void test_format_sizes_and_refusals(void **state)
{
	struct porttab t = node(0);

	(void)state;
	assert_int_equal(t.claims->nsets, NSETS);
	assert_int_equal(t.claims->ttl_ms, PORTTAB_CLAIM_TTL_MS);
	assert_ptr_equal((uint8_t *)t.cset + (uint64_t)NSETS * PORTTAB_CSET_BYTES, area + area_bytes);
	assert_int_equal(porttab_format(area, NENTS, NSVCS, 0, VIP, cmac), -EINVAL);
	assert_int_equal(porttab_format(area, NENTS, NSVCS, PORTTAB_MAX_CSETS + 1, VIP, cmac),
			 -EINVAL);
	t.claims->ttl_ms = 0;                           /* a table no kernel writes */
	assert_int_equal(porttab_attach(&t, area, 0), -EINVAL);
}

static void test_round_robin_in_node_order_and_exact(void **state)
{
	static const int ns[] = { 0, 2, 5 };
	struct porttab t[3];
	uint32_t got[MAX_NODES] = { 0 };
	enum porttab_how how;

	(void)state;
	listeners(t, ns, 3, 80);
	assert_true(porttab_listen(&t[1], TCP, 80, 77, 1) >= 0);  /* a second one: no more turns */
	/* the first three: the listeners in node order, whoever claims */
	assert_int_equal(claim(&t[2], 1001, T0, &how), 0);
	assert_int_equal(how, PT_CLAIMED);
	assert_int_equal(claim(&t[0], 1002, T0, &how), 2);
	assert_int_equal(claim(&t[1], 1003, T0, &how), 5);
	assert_int_equal(claim(&t[1], 1004, T0, &how), 0);
	/* N claims: N/3 each, give or take one */
	const uint32_t n = 1000;
	for (uint32_t i = 0; i < n; i++) {
		int o = claim(&t[i % 3], (uint16_t)(2000 + i), T0 + i, &how);
		assert_true(o == 0 || o == 2 || o == 5);
		assert_int_equal(how, PT_CLAIMED);
		got[o]++;
	}
	for (int i = 0; i < 3; i++)
		assert_true(got[ns[i]] >= n / 3 && got[ns[i]] <= n / 3 + 1);
	assert_int_equal(got[0] + got[2] + got[5], n);
	assert_int_equal(t[0].claims->taken, n + 4);
	assert_int_equal(t[0].claims->full, 0);
	uint32_t per[MAX_NODES];
	assert_int_equal(porttab_claims_live(&t[0], T0 + n, judge, NULL, per), n + 4);
	assert_int_equal(per[0] + per[2] + per[5], n + 4);
	assert_int_equal(porttab_claims_live(&t[0], T0 + 2 * TTL, judge, NULL, NULL), 0);
	/* a port nobody listens on: no claim, no turn */
	uint64_t turns = t[0].svc[0].turns;
	assert_int_equal(porttab_claim(&t[0], 1, 81, CLIENT, 1000, T0, judge, NULL, SEC, NULL),
			 -ENOENT);
	assert_int_equal(t[0].svc[0].turns, turns);
}

/* A claim is followed while it is live, and taken again once it is void. */
static void test_live_claims_are_followed_and_void_ones_taken_again(void **state)
{
	static const int ns[] = { 0, 1, 2 };
	struct porttab t[3];
	enum porttab_how how;
	uint16_t p[3] = { 0 };

	(void)state;
	listeners(t, ns, 3, 80);
	for (uint16_t cp = 100, found = 0; found < 3; cp++) {   /* one claim of each node */
		int o = claim(&t[0], cp, T0, NULL);
		if (!p[o])
			p[o] = cp, found++;
	}
	for (int n = 0; n < 3; n++) {                           /* every node follows, again */
		assert_int_equal(claim(&t[(n + 1) % 3], p[n], T0 + SEC, &how), n);
		assert_int_equal(how, PT_FOLLOWED);
	}
	uint64_t taken = t[0].claims->taken;

	/* node 1 dies (not buried yet): its claim goes to a live listener */
	dead[1] = 1;
	int o = claim(&t[0], p[1], T0 + 2 * SEC, &how);
	assert_true(o == 0 || o == 2);
	assert_int_equal(how, PT_RETAKEN);
	assert_int_equal(t[0].claims->retaken, 1);
	assert_int_equal(t[0].claims->taken, taken + 1);
	for (int i = 0; i < 20; i++)                            /* and no new one goes to it */
		assert_int_not_equal(claim(&t[2], (uint16_t)(5000 + i), T0 + 2 * SEC, NULL), 1);
	assert_int_equal(claim(&t[2], p[1], T0 + 2 * SEC, &how), o);
	assert_int_equal(how, PT_FOLLOWED);
	dead[1] = 0;
	porttab_node_dead(&t[0], 1, 1);

	/* node 2 withdraws (its link went down): its claim moves; back, it is in turn again */
	porttab_leave(&t[2]);
	assert_int_equal(claim(&t[0], p[2], T0 + 3 * SEC, &how), 0);   /* the only one left */
	assert_int_equal(how, PT_RETAKEN);
	porttab_join(&t[2], 1);
	bool two = false;
	for (int i = 0; i < 2; i++)
		two |= claim(&t[0], (uint16_t)(6000 + i), T0 + 3 * SEC, NULL) == 2;
	assert_true(two);

	/* node 0 stops listening: its claims are void, node 2 takes them */
	for (uint32_t k = 0; k < t[0].hdr->nents; k++)
		if (t[0].ent[k].state == PT_LISTEN && t[0].ent[k].node == 0)
			assert_int_equal(porttab_unlisten(&t[0], (int)k, 1), 0);
	assert_int_equal(claim(&t[1], p[0], T0 + 4 * SEC, &how), 2);
	assert_int_equal(how, PT_RETAKEN);

	/* node 2 restarts (epoch 2) and listens again: its epoch-1 claim is void */
	assert_int_equal(porttab_join(&t[2], 2), 1);
	assert_true(porttab_listen(&t[2], TCP, 80, 0, 2) >= 0);
	uint64_t again = t[0].claims->retaken;
	assert_int_equal(claim(&t[2], p[0], T0 + 5 * SEC, &how), 2);
	assert_int_equal(how, PT_RETAKEN);
	assert_int_equal(t[0].claims->retaken, again + 1);

	/* nobody left who counts: -ENOENT, and the void claim stays as it was */
	porttab_leave(&t[2]);
	again = t[0].claims->taken;
	assert_int_equal(claim(&t[0], p[0], T0 + 6 * SEC, &how), -ENOENT);
	assert_int_equal(t[0].claims->taken, again);
}

/* Claims expire; in a set full of live ones the oldest gives way. */
static void test_expiry_slot_reuse_and_a_full_set(void **state)
{
	static const int ns[] = { 0, 1 };
	struct porttab t[2];
	uint16_t p[PORTTAB_WAYS + 1];
	enum porttab_how how;

	(void)state;
	listeners(t, ns, 2, 80);
	p[0] = port_in_set(7, 1024);
	for (int i = 1; i <= PORTTAB_WAYS; i++)
		p[i] = port_in_set(7, p[i - 1] + 1u);
	int first = claim(&t[0], p[0], T0, &how);
	assert_int_equal(how, PT_CLAIMED);
	/* a clock a little behind the claimer's still sees its claim live */
	assert_int_equal(claim(&t[1], p[0], T0 - SEC, &how), first);
	assert_int_equal(how, PT_FOLLOWED);
	/* just before its life ends, the first claim is followed; just after, taken again */
	assert_int_equal(claim(&t[1], p[0], T0 + TTL - 1, &how), first);
	assert_int_equal(how, PT_FOLLOWED);
	claim(&t[1], p[0], T0 + TTL, &how);
	assert_int_equal(how, PT_RETAKEN);
	/* now the set fills: p[0] (made again at T0 + TTL) is its oldest claim */
	for (int i = 1; i < PORTTAB_WAYS; i++) {
		claim(&t[i % 2], p[i], T0 + TTL + (uint64_t)i * SEC, &how);
		assert_int_equal(how, PT_CLAIMED);
	}
	/* the ninth of set 7: the set is full of live claims, the oldest gives way, and
	 * every node finds the same claim (no node decides by its own view) */
	uint64_t turns = t[0].svc[0].turns;
	int ninth = claim(&t[1], p[PORTTAB_WAYS], T0 + TTL + 9 * SEC, &how);
	assert_int_equal(how, PT_EVICTED);
	assert_int_equal(t[0].claims->full, 1);
	assert_int_equal(t[0].svc[0].turns, turns + 1);          /* it took a turn */
	assert_int_equal(claim(&t[0], p[PORTTAB_WAYS], T0 + TTL + 9 * SEC, &how), ninth);
	assert_int_equal(how, PT_FOLLOWED);
	const struct porttab_cset *s = &t[0].cset[7];
	int ways_of_ninth = 0, ways_of_first = 0;
	for (int w = 0; w < PORTTAB_WAYS; w++) {
		ways_of_ninth += s->claim[w].key == PORTTAB_TUPLE(CLIENT, p[PORTTAB_WAYS], 80);
		ways_of_first += s->claim[w].key == PORTTAB_TUPLE(CLIENT, p[0], 80);
	}
	assert_int_equal(ways_of_ninth, 1);
	assert_int_equal(ways_of_first, 0);                     /* the oldest went */
	/* long after: nothing is live, every way of the set can be had */
	assert_int_equal(porttab_claims_live(&t[0], T0 + 4 * TTL, judge, NULL, NULL), 0);
	for (int i = 0; i < PORTTAB_WAYS; i++) {
		claim(&t[0], p[i], T0 + 4 * TTL, &how);
		assert_true(how == PT_RETAKEN || how == PT_CLAIMED);
	}
	assert_int_equal(porttab_claims_live(&t[0], T0 + 4 * TTL, judge, NULL, NULL), PORTTAB_WAYS);
}

/* A set's lease: a dead holder's is taken over, a live holder's is waited for, then not. */
static void test_set_lease_dead_and_live_holders(void **state)
{
	static const int ns[] = { 0, 1 };
	struct porttab t[2];
	enum porttab_how how;
	uint16_t p = port_in_set(3, 1024);

	(void)state;
	listeners(t, ns, 2, 80);
	struct lease *l = &t[0].cset[3].lease;
	/* node 5 dies holding the lease, halfway through a claim: the way is still free */
	assert_int_equal(lease_acquire(l, 5, 1, judge, NULL, 0), 0);
	t[0].cset[3].claim[0].key = PORTTAB_TUPLE(CLIENT, p, 80);
	dead[5] = 1;
	assert_true(claim(&t[0], p, T0, &how) >= 0);
	assert_int_equal(how, PT_CLAIMED);
	assert_int_equal(l->word, LEASE_FREE);
	/* node 1 holds it and lives: a try gives -EBUSY, a wait -ETIMEDOUT, counted */
	assert_int_equal(lease_acquire(l, 1, 1, judge, NULL, 0), 0);
	assert_int_equal(porttab_claim(&t[0], 1, 80, CLIENT, p, T0, judge, NULL, 0, NULL), -EBUSY);
	assert_int_equal(porttab_claim(&t[0], 1, 80, CLIENT, p, T0, judge, NULL, SEC / 100, NULL),
			 -ETIMEDOUT);
	assert_int_equal(t[0].claims->busy, 1);
	assert_int_equal(lease_release(l, 1, 1), 0);
	assert_int_equal(claim(&t[0], p, T0, &how) >= 0, 1);
	assert_int_equal(how, PT_FOLLOWED);
}

/* --- several nodes at once --------------------------------------------------- */

#define RACE_NODES  4
#define RACE_TUPLES 1000

static pthread_barrier_t start;

struct racer {
	int node;
	int owner[RACE_TUPLES];
	enum porttab_how how[RACE_TUPLES];
};

static void *race_run(void *arg)
{
	struct racer *r = arg;
	struct porttab t = node(r->node);

	pthread_barrier_wait(&start);
	for (int i = 0; i < RACE_TUPLES; i++) {
		/* every node sees every SYN, at about the same time: the frame's tuple */
		r->owner[i] = porttab_claim(&t, 1, 80, CLIENT, (uint16_t)(20000 + i), T0 + (uint64_t)i,
					    judge, NULL, 10 * SEC, &r->how[i]);
		pthread_barrier_wait(&start);   /* keep them in step, so they collide */
	}
	return NULL;
}

static void test_nodes_claiming_the_same_tuples_at_once_agree(void **state)
{
	static const int ns[] = { 0, 1, 2 };
	static struct racer r[RACE_NODES];
	struct porttab t[3];
	pthread_t th[RACE_NODES];
	uint32_t got[MAX_NODES] = { 0 };

	(void)state;
	listeners(t, ns, 3, 80);                /* node 3 claims too, but does not listen */
	pthread_barrier_init(&start, NULL, RACE_NODES);
	for (int n = 0; n < RACE_NODES; n++) {
		r[n].node = n;
		assert_int_equal(pthread_create(&th[n], NULL, race_run, &r[n]), 0);
	}
	for (int n = 0; n < RACE_NODES; n++)
		pthread_join(th[n], NULL);
	pthread_barrier_destroy(&start);
	uint32_t raced = 0;
	for (int i = 0; i < RACE_TUPLES; i++) {
		int made = 0, winner = -1;
		for (int n = 0; n < RACE_NODES; n++) {
			assert_int_equal(r[n].owner[i], r[0].owner[i]);         /* all agree */
			assert_true(r[n].how[i] == PT_CLAIMED || r[n].how[i] == PT_FOLLOWED);
			if (r[n].how[i] == PT_CLAIMED)
				made++, winner = n;
		}
		assert_int_equal(made, 1);                                      /* one claimed */
		raced += winner != 0;
		assert_true(r[0].owner[i] >= 0 && r[0].owner[i] < 3);
		got[r[0].owner[i]]++;
		/* and the table holds that one claim of the tuple */
		uint64_t key = PORTTAB_TUPLE(CLIENT, 20000 + i, 80);
		const struct porttab_cset *s = &t[0].cset[porttab_cset_of(key, NSETS)];
		int ways = 0;
		for (int w = 0; w < PORTTAB_WAYS; w++)
			if (s->claim[w].state == PC_CLAIMED && s->claim[w].key == key) {
				ways++;
				assert_int_equal(s->claim[w].owner, r[0].owner[i]);
			}
		assert_int_equal(ways, 1);
	}
	/* one turn per tuple, however many nodes raced for it: exact round robin */
	assert_int_equal(t[0].svc[0].turns, RACE_TUPLES);
	assert_int_equal(t[0].claims->taken, RACE_TUPLES);
	for (int n = 0; n < 3; n++)
		assert_true(got[n] >= RACE_TUPLES / 3 && got[n] <= RACE_TUPLES / 3 + 1);
	print_message("race: %d nodes, %d tuples: %u won by a node other than 0; owners %u/%u/%u\n",
		      RACE_NODES, RACE_TUPLES, raced, got[0], got[1], got[2]);
	assert_true(raced > 0);                 /* the race was a race */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_format_sizes_and_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_robin_in_node_order_and_exact, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_live_claims_are_followed_and_void_ones_taken_again,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_slot_reuse_and_a_full_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_lease_dead_and_live_holders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodes_claiming_the_same_tuples_at_once_agree, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
