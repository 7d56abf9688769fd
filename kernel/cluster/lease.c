/*
 * Leases: pool-resident locks that survive the death of their holder (the
 * word's format is in kernel/cluster/lease.h). Taking a lease is one CAS from free,
 * broken, or a holder the node table no longer vouches for, to ourselves;
 * giving it back is one CAS from ourselves to free, which fails, and tells
 * the caller, if somebody broke it in between.
 *
 * Pool-resident code: freestanding, nothing but the pool and poolsys.h.
 */
#include "kernel/cluster/lease.h"
#include "kernel/cluster/poolsys.h"
#include "kernel/errno.h"

static bool valid(const struct lease *l, int node, uint64_t epoch)
{
	return l && node >= 0 && node <= LEASE_MAX_NODE && epoch <= LEASE_EPOCH_MASK;
}

static uint64_t word_of(int node, uint64_t epoch)
{
	return ((uint64_t)(node + 1) << 48) | epoch;
}

/* The holder's node id in a lease word; -1 if it names none (free, broken, junk). */
static int node_of(uint64_t w)
{
	int node = (int)(w >> 48) - 1;

	return node <= LEASE_MAX_NODE ? node : -1;
}

static bool cas(struct lease *l, uint64_t *expect, uint64_t want)
{
	bool ok = __atomic_compare_exchange_n(&l->word, expect, want, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);

	if (ok)
		pool_flush(&l->word, sizeof(l->word));
	return ok;
}

/* May the lease, as read in cur, be taken now without waiting? */
static bool takeable(uint64_t cur, lease_alive_fn alive, void *ctx)
{
	int holder = node_of(cur);

	if (holder < 0)
		return true;    /* free, broken, or junk: nobody to wait for */
	return alive && !alive(ctx, holder, cur & LEASE_EPOCH_MASK);
}

int lease_acquire(struct lease *l, int node, uint64_t epoch,
		  lease_alive_fn alive, void *ctx, uint64_t timeout_ns)
{
	uint64_t me, cur, deadline = 0;

	if (!valid(l, node, epoch))
		return -EINVAL;
	me = word_of(node, epoch);
	if (timeout_ns) {
		deadline = pool_now_ns() + timeout_ns;
		if (deadline < timeout_ns)
			deadline = UINT64_MAX;
	}
	for (;;) {
		cur = __atomic_load_n(&l->word, __ATOMIC_ACQUIRE);
		if (cur == me)
			return -EBUSY;          /* we hold it already: a caller bug */
		if (takeable(cur, alive, ctx)) {
			uint64_t was = cur;

			if (cas(l, &cur, me))
				return was == LEASE_FREE ? 0 : LEASE_TAKEN_OVER;
		}
		if (!timeout_ns)
			return -EBUSY;
		if (pool_now_ns() >= deadline)
			return -ETIMEDOUT;
		pool_relax();
	}
}

int lease_release(struct lease *l, int node, uint64_t epoch)
{
	uint64_t cur;

	if (!valid(l, node, epoch))
		return -EINVAL;
	cur = word_of(node, epoch);
	if (!__atomic_compare_exchange_n(&l->word, &cur, LEASE_FREE, false,
					 __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		return -EPERM;
	pool_flush(&l->word, sizeof(l->word));
	return 0;
}

int lease_break_all(struct lease *base, uint64_t n, int dead_node)
{
	int broken = 0;

	if ((!base && n) || dead_node < 0 || dead_node > LEASE_MAX_NODE)
		return -EINVAL;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t cur = __atomic_load_n(&base[i].word, __ATOMIC_ACQUIRE);

		/* A failed CAS reloads cur: retry while dead_node still holds it. */
		while (node_of(cur) == dead_node) {
			if (cas(&base[i], &cur, LEASE_BROKEN)) {
				broken++;
				break;
			}
		}
	}
	return broken;
}

bool lease_holder(const struct lease *l, int *node, uint64_t *epoch)
{
	uint64_t cur;

	if (!l)
		return false;
	cur = __atomic_load_n(&l->word, __ATOMIC_ACQUIRE);
	if (node_of(cur) < 0)
		return false;
	if (node)
		*node = node_of(cur);
	if (epoch)
		*epoch = cur & LEASE_EPOCH_MASK;
	return true;
}
