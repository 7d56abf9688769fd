/*
 * The cluster IP's port table in the pool (see porttab.h): listener
 * entries, members, and each service's bucket owners, filled Maglev-style
 * from the nodes that count. Changes run under the table's lease, which
 * the caller holds; every word other nodes read is written with an atomic
 * store and flushed, an entry's state last when it is taken and first when
 * it is freed, and only the owner bytes that change are stored, so a
 * lookup without the lease sees each bucket's old owner or its new one.
 *
 * The claims of new TCP connections are the one part a caller changes
 * without the table's lease: porttab_claim takes the lease of the claim's
 * set, and writes a claim's state free first and claimed last, so a holder
 * that dies mid-write leaves a free way, never a claim of mixed parts.
 */
#if __STDC_HOSTED__
#include <errno.h>
#include <string.h>
#else
#include "kernel/kernel.h"
#endif
#include "kernel/cluster/poolsys.h"
#include "net/porttab.h"

/* Where the claims' header is, in a table of nents entries and nsvcs services. */
static struct porttab_claims *claims_of(void *area, uint32_t nents, uint32_t nsvcs)
{
	return (void *)((uint8_t *)area + PORTTAB_HDR_BYTES + (uint64_t)nents * PORTTAB_ENT_BYTES +
			(uint64_t)nsvcs * PORTTAB_SVC_BYTES);
}

int porttab_format(void *area, uint32_t nents, uint32_t nsvcs, uint32_t nsets, uint32_t vip,
		   const uint8_t mac[6])
{
	struct porttab_hdr *h = area;

	if (!nents || nents > PORTTAB_MAX_ENTS || !nsvcs || nsvcs > PORTTAB_MAX_SVCS || !nsets ||
	    nsets > PORTTAB_MAX_CSETS || !vip || (mac[0] & 3) != 2)
		return -EINVAL;
	h->version = PORTTAB_VERSION;
	h->vip = vip;
	memcpy(h->mac, mac, 6);
	h->nbuckets = PORTTAB_BUCKETS;
	h->nents = nents;
	h->nsvcs = nsvcs;
	struct porttab_svc *s = (void *)((uint8_t *)area + PORTTAB_HDR_BYTES +
					 (uint64_t)nents * PORTTAB_ENT_BYTES);
	for (uint32_t i = 0; i < nsvcs; i++)
		memset(s[i].owner, PORTTAB_NONE, sizeof(s[i].owner));
	struct porttab_claims *c = claims_of(area, nents, nsvcs);
	c->nsets = nsets;               /* the sets: zeroes are free leases and free claims */
	c->ttl_ms = PORTTAB_CLAIM_TTL_MS;
	__atomic_store_n(&h->magic, PORTTAB_MAGIC, __ATOMIC_RELEASE);
	pool_flush(area, porttab_area_size(nents, nsvcs, nsets));
	return 0;
}

int porttab_attach(struct porttab *t, void *area, int node)
{
	struct porttab_hdr *h = area;

	*t = (struct porttab){ 0 };
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != PORTTAB_MAGIC ||
	    h->version != PORTTAB_VERSION || h->nbuckets != PORTTAB_BUCKETS ||
	    !h->nents || h->nents > PORTTAB_MAX_ENTS || !h->nsvcs || h->nsvcs > PORTTAB_MAX_SVCS ||
	    node < 0 || node >= MAX_NODES)
		return -EINVAL;
	struct porttab_claims *c = claims_of(area, h->nents, h->nsvcs);
	if (!c->nsets || c->nsets > PORTTAB_MAX_CSETS || !c->ttl_ms)
		return -EINVAL;
	t->hdr = h;
	t->ent = (void *)((uint8_t *)area + PORTTAB_HDR_BYTES);
	t->svc = (void *)((uint8_t *)t->ent + (uint64_t)h->nents * PORTTAB_ENT_BYTES);
	t->claims = c;
	t->cset = (void *)(c + 1);
	t->node = node;
	return 0;
}

/* --- Maglev ---------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ULL;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dULL;
	x ^= x >> 33;
	return x;
}

uint32_t porttab_fill(uint32_t key, uint64_t nodes, uint8_t *owner)
{
	uint32_t offset[MAX_NODES], skip[MAX_NODES], next[MAX_NODES];
	uint8_t id[MAX_NODES];
	uint32_t n = 0, filled = 0;

	memset(owner, PORTTAB_NONE, PORTTAB_BUCKETS);
	for (int i = 0; i < MAX_NODES; i++) {
		if (!(nodes >> i & 1))
			continue;
		uint64_t h = mix((uint64_t)key << 8 | (uint64_t)i);
		id[n] = (uint8_t)i;
		offset[n] = (uint32_t)(h % PORTTAB_BUCKETS);
		skip[n] = (uint32_t)(mix(h) % (PORTTAB_BUCKETS - 1)) + 1;
		next[n] = 0;
		n++;
	}
	if (!n)
		return 0;
	/* turns: each node claims the next bucket of its permutation still free */
	for (;;) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t c;

			do
				c = (uint32_t)((offset[i] + (uint64_t)next[i]++ * skip[i]) % PORTTAB_BUCKETS);
			while (owner[c] != PORTTAB_NONE);
			owner[c] = id[i];
			if (++filled == PORTTAB_BUCKETS)
				return n;
		}
	}
}

/* --- changes, under the lease ----------------------------------------------- */

static bool counts(const struct porttab *t, const struct porttab_ent *e)
{
	return e->state == PT_LISTEN && e->epoch &&
	       __atomic_load_n(&t->hdr->member[e->node], __ATOMIC_ACQUIRE) == e->epoch;
}

static int find_svc(const struct porttab *t, uint32_t key)
{
	for (uint32_t i = 0; i < t->hdr->nsvcs; i++)
		if (__atomic_load_n(&t->svc[i].key, __ATOMIC_ACQUIRE) == key)
			return (int)i;
	return -1;
}

static void changed(struct porttab *t)
{
	__atomic_add_fetch(&t->hdr->changes, 1, __ATOMIC_ACQ_REL);
	pool_flush(&t->hdr->changes, sizeof(t->hdr->changes));
}

/* Refill service i from the entries that count; free it if it has no entry at all. */
static void refill(struct porttab *t, uint32_t i)
{
	struct porttab_svc *s = &t->svc[i];
	uint8_t owner[PORTTAB_BUCKETS];
	uint64_t nodes = 0;
	bool any = false;

	if (!s->key)
		return;
	for (uint32_t k = 0; k < t->hdr->nents; k++) {
		const struct porttab_ent *e = &t->ent[k];

		if (e->state != PT_LISTEN || PORTTAB_KEY(e->proto, e->port) != s->key)
			continue;
		any = true;
		if (counts(t, e))
			nodes |= 1ULL << e->node;
	}
	uint32_t n = porttab_fill(s->key, nodes, owner);
	for (uint32_t b = 0; b < PORTTAB_BUCKETS; b++)
		if (s->owner[b] != owner[b])
			__atomic_store_n(&s->owner[b], owner[b], __ATOMIC_RELAXED);
	__atomic_store_n(&s->nodes, n, __ATOMIC_RELAXED);
	__atomic_store_n(&s->mask, nodes, __ATOMIC_RELEASE);
	__atomic_add_fetch(&s->builds, 1, __ATOMIC_RELEASE);
	if (!any)                       /* owners are all PORTTAB_NONE now */
		__atomic_store_n(&s->key, 0, __ATOMIC_RELEASE);
	pool_flush(s, sizeof(*s));
}

static void refill_all(struct porttab *t)
{
	for (uint32_t i = 0; i < t->hdr->nsvcs; i++)
		refill(t, i);
	changed(t);
}

static void drop(struct porttab *t, uint32_t k)
{
	__atomic_store_n(&t->ent[k].state, PT_FREE, __ATOMIC_RELEASE);
	pool_flush(&t->ent[k], sizeof(t->ent[k]));
}

static void set_member(struct porttab *t, int node, uint64_t epoch)
{
	__atomic_store_n(&t->hdr->member[node], epoch, __ATOMIC_RELEASE);
	pool_flush(&t->hdr->member[node], sizeof(uint64_t));
}

uint32_t porttab_join(struct porttab *t, uint64_t epoch)
{
	uint32_t dropped = 0;

	for (uint32_t k = 0; k < t->hdr->nents; k++) {
		struct porttab_ent *e = &t->ent[k];

		if (e->state == PT_LISTEN && e->node == t->node && e->epoch != epoch) {
			drop(t, k);
			dropped++;
		}
	}
	set_member(t, t->node, epoch);
	refill_all(t);
	return dropped;
}

void porttab_leave(struct porttab *t)
{
	set_member(t, t->node, 0);
	refill_all(t);
}

int porttab_listen(struct porttab *t, int proto, uint16_t port, int32_t pid, uint64_t epoch)
{
	uint32_t key = PORTTAB_KEY(proto, port);
	int free_ent = -1, s;

	if ((proto != PORTTAB_TCP && proto != PORTTAB_UDP) || !port || !epoch)
		return -EINVAL;
	for (uint32_t k = 0; k < t->hdr->nents && free_ent < 0; k++)
		if (t->ent[k].state == PT_FREE)
			free_ent = (int)k;
	if (free_ent < 0)
		return -ENOSPC;
	s = find_svc(t, key);
	if (s < 0) {
		s = find_svc(t, 0);
		if (s < 0)
			return -ENOSPC;
		/* a free service's owners are all PORTTAB_NONE (refill left them so) */
		__atomic_store_n(&t->svc[s].key, key, __ATOMIC_RELEASE);
	}
	struct porttab_ent *e = &t->ent[free_ent];
	e->epoch = epoch;
	e->pid = pid;
	e->port = port;
	e->proto = (uint8_t)proto;
	e->node = (uint8_t)t->node;
	__atomic_store_n(&e->state, PT_LISTEN, __ATOMIC_RELEASE);
	pool_flush(e, sizeof(*e));
	refill(t, (uint32_t)s);
	changed(t);
	return free_ent;
}

int porttab_unlisten(struct porttab *t, int idx, uint64_t epoch)
{
	if (idx < 0 || (uint32_t)idx >= t->hdr->nents)
		return -ENOENT;
	struct porttab_ent *e = &t->ent[idx];
	if (e->state != PT_LISTEN || e->node != t->node || e->epoch != epoch)
		return -ENOENT;
	int s = find_svc(t, PORTTAB_KEY(e->proto, e->port));
	drop(t, (uint32_t)idx);
	if (s >= 0)
		refill(t, (uint32_t)s);
	changed(t);
	return 0;
}

uint32_t porttab_node_dead(struct porttab *t, int node, uint64_t epoch)
{
	uint32_t dropped = 0;
	uint64_t m;

	if (node < 0 || node >= MAX_NODES)
		return 0;
	for (uint32_t k = 0; k < t->hdr->nents; k++) {
		struct porttab_ent *e = &t->ent[k];

		if (e->state == PT_LISTEN && e->node == node && e->epoch <= epoch) {
			drop(t, k);
			dropped++;
		}
	}
	m = __atomic_load_n(&t->hdr->member[node], __ATOMIC_ACQUIRE);
	if (!dropped && (!m || m > epoch))
		return 0;               /* nothing of it left: another survivor was first */
	if (m && m <= epoch)
		set_member(t, node, 0);
	refill_all(t);
	return dropped;
}

void porttab_repair(struct porttab *t)
{
	refill_all(t);
}

/* --- lookups, without the lease -------------------------------------------- */

int porttab_owner(const struct porttab *t, int proto, uint16_t port, uint32_t bucket)
{
	int s = find_svc(t, PORTTAB_KEY(proto, port));

	if (s < 0 || bucket >= PORTTAB_BUCKETS)
		return -ENOENT;
	uint8_t o = __atomic_load_n(&t->svc[s].owner[bucket], __ATOMIC_RELAXED);
	return o == PORTTAB_NONE ? -ENOENT : o;
}

int porttab_leader(const struct porttab *t)
{
	for (int n = 0; n < MAX_NODES; n++)
		if (__atomic_load_n(&t->hdr->member[n], __ATOMIC_ACQUIRE))
			return n;
	return -1;
}

/* --- claims of new TCP connections, under their set's lease ------------------ */

uint32_t porttab_cset_of(uint64_t key, uint32_t nsets)
{
	return (uint32_t)(mix(key) % nsets);
}

static uint64_t ttl_ns(const struct porttab *t)
{
	return (uint64_t)t->claims->ttl_ms * 1000000ULL;
}

/* Is claim c live at now: claimed, not expired (either way: a clock ahead
 * of ours counts the same), its owner the live member in its epoch and one
 * of the nodes of the claim's port? */
static bool claim_live(const struct porttab *t, const struct porttab_claim *c, uint64_t now,
		       lease_alive_fn alive, void *ctx)
{
	uint8_t owner = __atomic_load_n(&c->owner, __ATOMIC_RELAXED);
	uint64_t when = __atomic_load_n(&c->time, __ATOMIC_RELAXED), ttl = ttl_ns(t);
	uint64_t epoch = __atomic_load_n(&c->epoch, __ATOMIC_RELAXED);

	if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != PC_CLAIMED || owner >= MAX_NODES ||
	    (now >= when ? now - when : when - now) >= ttl)
		return false;
	if (!epoch || __atomic_load_n(&t->hdr->member[owner], __ATOMIC_ACQUIRE) != epoch ||
	    !alive(ctx, owner, epoch))
		return false;
	int s = find_svc(t, PORTTAB_KEY(PORTTAB_TCP, (uint16_t)__atomic_load_n(&c->key,
									     __ATOMIC_RELAXED)));
	return s >= 0 && (__atomic_load_n(&t->svc[s].mask, __ATOMIC_ACQUIRE) >> owner & 1);
}

/* The next turn of service s: its nodes that are live members, in node order. */
static int next_turn(const struct porttab *t, struct porttab_svc *s, lease_alive_fn alive,
		     void *ctx, uint64_t *epoch, uint64_t *ticket)
{
	uint64_t mask = __atomic_load_n(&s->mask, __ATOMIC_ACQUIRE), live = 0;
	uint64_t ep[MAX_NODES];

	for (int n = 0; n < MAX_NODES; n++) {
		if (!(mask >> n & 1))
			continue;
		ep[n] = __atomic_load_n(&t->hdr->member[n], __ATOMIC_ACQUIRE);
		if (ep[n] && alive(ctx, n, ep[n]))
			live |= 1ULL << n;
	}
	if (!live)
		return -ENOENT;
	*ticket = __atomic_fetch_add(&s->turns, 1, __ATOMIC_ACQ_REL);
	pool_flush(&s->turns, sizeof(s->turns));
	uint64_t pick = *ticket % (uint64_t)__builtin_popcountll(live);
	for (int n = 0;; n++)
		if ((live >> n & 1) && !pick--) {
			*epoch = ep[n];
			return n;
		}
}

static void count(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
	pool_flush(counter, sizeof(*counter));
}

/* Write claim c: free first, claimed last, so a dead writer leaves it free. */
static void write_claim(struct porttab_claim *c, uint64_t key, int owner, uint64_t epoch,
			uint64_t now, uint64_t ticket)
{
	__atomic_store_n(&c->state, PC_FREE, __ATOMIC_RELEASE);
	__atomic_store_n(&c->key, key, __ATOMIC_RELAXED);
	__atomic_store_n(&c->epoch, epoch, __ATOMIC_RELAXED);
	__atomic_store_n(&c->time, now, __ATOMIC_RELAXED);
	__atomic_store_n(&c->ticket, (uint32_t)ticket, __ATOMIC_RELAXED);
	__atomic_store_n(&c->owner, (uint8_t)owner, __ATOMIC_RELAXED);
	__atomic_store_n(&c->state, PC_CLAIMED, __ATOMIC_RELEASE);
	pool_flush(c, sizeof(*c));
}

int porttab_claim(struct porttab *t, uint64_t epoch, uint16_t port, uint32_t addr,
		  uint16_t cport, uint64_t now, lease_alive_fn alive, void *ctx, uint64_t wait_ns,
		  enum porttab_how *how)
{
	uint64_t key = PORTTAB_TUPLE(addr, cport, port), owner_epoch = 0, ticket = 0;
	int si = find_svc(t, PORTTAB_KEY(PORTTAB_TCP, port)), r;
	enum porttab_how done = PT_FOLLOWED;

	if (si < 0 || !port)
		return -ENOENT;         /* nobody listens: no lease, no claim */
	struct porttab_cset *set = &t->cset[porttab_cset_of(key, t->claims->nsets)];
	r = lease_acquire(&set->lease, t->node, epoch, alive, ctx, wait_ns);
	if (r < 0) {
		if (r == -ETIMEDOUT)
			count(&t->claims->busy);
		return r;
	}
	/* LEASE_TAKEN_OVER needs no repair: a dead holder's half-written claim is free */
	struct porttab_claim *mine = NULL, *spare = NULL, *oldest = &set->claim[0];
	for (int w = 0; w < PORTTAB_WAYS; w++) {
		struct porttab_claim *c = &set->claim[w];

		if (c->state == PC_CLAIMED && c->key == key) {
			mine = c;
			break;
		}
		if (!spare && !claim_live(t, c, now, alive, ctx))
			spare = c;
		if (c->time < oldest->time)
			oldest = c;
	}
	if (mine && claim_live(t, mine, now, alive, ctx)) {
		r = mine->owner;
	} else {
		/*
		 * A set full of live claims: its oldest gives way (its handshake is
		 * seconds over). Falling back to the bucket owner instead would be this
		 * node's decision only: another node, a moment later, can find a way
		 * freed by expiry and claim, and two nodes would answer the SYN.
		 */
		struct porttab_claim *c = mine ? mine : spare ? spare : oldest;

		r = next_turn(t, &t->svc[si], alive, ctx, &owner_epoch, &ticket);
		if (r >= 0) {
			write_claim(c, key, r, owner_epoch, now, ticket);
			count(&t->claims->taken);
			if (mine)
				count(&t->claims->retaken);
			else if (!spare)
				count(&t->claims->full);
			done = mine ? PT_RETAKEN : spare ? PT_CLAIMED : PT_EVICTED;
		}
	}
	lease_release(&set->lease, t->node, epoch);
	if (how)
		*how = done;
	return r;
}

uint32_t porttab_claims_live(const struct porttab *t, uint64_t now, lease_alive_fn alive,
			     void *ctx, uint32_t *per_node)
{
	uint32_t live = 0;

	if (per_node)
		memset(per_node, 0, MAX_NODES * sizeof(per_node[0]));
	for (uint32_t i = 0; i < t->claims->nsets; i++)
		for (int w = 0; w < PORTTAB_WAYS; w++) {
			const struct porttab_claim *c = &t->cset[i].claim[w];

			if (!claim_live(t, c, now, alive, ctx))
				continue;
			live++;
			if (per_node)
				per_node[c->owner]++;
		}
	return live;
}
