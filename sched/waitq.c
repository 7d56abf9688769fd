/*
 * The futex waiter table in the pool (see waitq.h). Every change of a
 * slot's state is one CAS on its state word, generation included, so a
 * waker and a waiter that leaves (timeout, death of its node) cannot both
 * win: either the wake lands on the listing it read, or nothing changes.
 *
 * Pool-resident code: freestanding, nothing but the pool and poolsys.h.
 */
#include "sched/waitq.h"
#include "kernel/cluster/poolsys.h"

static uint32_t next_gen(uint32_t word, uint32_t state)
{
	return ((word & ~3u) + 4u) | state;
}

int waitq_add(struct waiter *t, uint32_t n, int node, int pid, uint64_t key)
{
	for (uint32_t i = 0; i < n; i++) {
		struct waiter *w = &t[i];
		uint32_t s = __atomic_load_n(&w->word, __ATOMIC_ACQUIRE);

		if (WQ_STATE(s) != WQ_FREE)
			continue;
		uint32_t claimed = next_gen(s, WQ_CLAIMED);
		if (!__atomic_compare_exchange_n(&w->word, &s, claimed, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;
		w->node = (uint32_t)node;
		w->pid = pid;
		__atomic_store_n(&w->key, key, __ATOMIC_RELAXED);
		/* a CAS, not a store: a node that took us for dead may have freed it */
		s = claimed;
		if (__atomic_compare_exchange_n(&w->word, &s, (claimed & ~3u) | WQ_WAITING, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			pool_flush(w, sizeof(*w));
			return (int)i;
		}
	}
	return -1;
}

int waitq_find(struct waiter *t, uint32_t n, uint32_t from, uint64_t key, uint32_t *seen)
{
	for (uint32_t i = from; i < n; i++) {
		uint32_t s = __atomic_load_n(&t[i].word, __ATOMIC_ACQUIRE);

		/* the key is read after the word: if the word still holds this
		 * generation at waitq_wake's CAS, the key was this listing's */
		if (WQ_STATE(s) == WQ_WAITING && __atomic_load_n(&t[i].key, __ATOMIC_ACQUIRE) == key) {
			*seen = s;
			return (int)i;
		}
	}
	return -1;
}

bool waitq_wake(struct waiter *w, uint32_t seen)
{
	if (WQ_STATE(seen) != WQ_WAITING)
		return false;
	if (!__atomic_compare_exchange_n(&w->word, &seen, (seen & ~3u) | WQ_WOKEN, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return false;
	pool_flush(w, sizeof(*w));
	return true;
}

bool waitq_woken(const struct waiter *w)
{
	return WQ_STATE(__atomic_load_n(&w->word, __ATOMIC_ACQUIRE)) == WQ_WOKEN;
}

bool waitq_remove(struct waiter *w)
{
	uint32_t s = __atomic_load_n(&w->word, __ATOMIC_ACQUIRE);

	/* one CAS: a wake either landed before it (we report it) or fails */
	while (WQ_STATE(s) != WQ_FREE &&
	       !__atomic_compare_exchange_n(&w->word, &s, (s & ~3u) | WQ_FREE, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	pool_flush(w, sizeof(*w));
	return WQ_STATE(s) == WQ_WOKEN;
}

void waitq_node_dead(struct waiter *t, uint32_t n, int node)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t s = __atomic_load_n(&t[i].word, __ATOMIC_ACQUIRE);

		if (WQ_STATE(s) != WQ_FREE && (int)__atomic_load_n(&t[i].node, __ATOMIC_RELAXED) == node)
			__atomic_compare_exchange_n(&t[i].word, &s, (s & ~3u) | WQ_FREE, false,
						    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
	pool_flush(t, (uint64_t)n * sizeof(*t));
}
