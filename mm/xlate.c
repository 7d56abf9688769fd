/*
 * Pool address translation and region drain (the protocol is in
 * mm/xlate.h). Layout of the metadata block:
 *
 *   header     magic, version, geometry, offsets, move counters
 *   entries    u32 per block: device block number | XLATE_MOVING
 *   regions    one line per region: state and counts
 *
 * The drain relies on sequential consistency against palloc: it stores the
 * new region state, then reads entries and page records; an allocator
 * writes a page record, then reads the entry and the region state (in
 * xlate_usable). One of the two sees the other, so no allocated page is
 * left behind in a region that goes offline.
 */
#include "mm/xlate.h"
#include "kernel/cluster/poolsys.h"
#include "kernel/bits.h"
#include "kernel/errno.h"
#include "kernel/param.h"

#define LINE 64
#define SC __ATOMIC_SEQ_CST

/* A node's view of the block: pointers into its mapping of the pool. */
struct xv {
	struct xlate_hdr *h;
	uint32_t *ent;
	struct xlate_region *reg;
	uint64_t nblocks, G;
};

static int layout(const struct xlate_geom *g, struct xlate_hdr *h)
{
	uint64_t G;

	if (!g || g->gshift > XLATE_MAX_GSHIFT)
		return -EINVAL;
	G = 1ull << g->gshift;
	if (!g->npages || g->npages % G || !g->region_pages ||
	    g->region_pages % G || g->npages / G > XLATE_MOVING - 1 ||
	    (g->npages + g->region_pages - 1) / g->region_pages > UINT32_MAX)
		return -EINVAL;
	*h = (struct xlate_hdr){ 0 };
	h->version = XLATE_VERSION;
	h->gshift = g->gshift;
	h->npages = g->npages;
	h->region_pages = g->region_pages;
	h->nregions = (uint32_t)((g->npages + g->region_pages - 1) /
				 g->region_pages);
	h->nblocks = g->npages / G;
	h->entries_off = sizeof(*h);
	h->regions_off = round_up(h->entries_off + h->nblocks * 4, LINE);
	return 0;
}

static int view(struct xv *v, const void *meta)
{
	char *base = (char *)(uintptr_t)meta;

	v->h = (struct xlate_hdr *)base;
	if (!meta || __atomic_load_n(&v->h->magic, __ATOMIC_ACQUIRE) != XLATE_MAGIC ||
	    v->h->version != XLATE_VERSION)
		return -EINVAL;
	v->ent = (uint32_t *)(base + v->h->entries_off);
	v->reg = (struct xlate_region *)(base + v->h->regions_off);
	v->nblocks = v->h->nblocks;
	v->G = 1ull << v->h->gshift;
	return 0;
}

/* Region holding device block @dblk. */
static uint32_t region_of(const struct xv *v, uint64_t dblk)
{
	return (uint32_t)((dblk << v->h->gshift) / v->h->region_pages);
}

static uint32_t state_of(const struct xv *v, uint32_t r)
{
	return __atomic_load_n(&v->reg[r].state, SC);
}

size_t xlate_meta_size(const struct xlate_geom *g)
{
	struct xlate_hdr h;

	if (layout(g, &h))
		return 0;
	return (size_t)(h.regions_off + (uint64_t)h.nregions * LINE);
}

int xlate_format(void *meta, const struct xlate_geom *g)
{
	struct xlate_hdr h;
	struct xv v;
	uint64_t i, size = xlate_meta_size(g);

	if (!meta || layout(g, &h))
		return -EINVAL;
	for (i = 0; i < size / 8; i++)
		((uint64_t *)meta)[i] = 0;      /* every region XLATE_ONLINE */
	*(struct xlate_hdr *)meta = h;
	v.ent = (uint32_t *)((char *)meta + h.entries_off);
	for (i = 0; i < h.nblocks; i++)
		v.ent[i] = (uint32_t)i;
	pool_flush(meta, size);
	__atomic_store_n(&((struct xlate_hdr *)meta)->magic, XLATE_MAGIC,
			 __ATOMIC_RELEASE);
	pool_flush(meta, sizeof(uint64_t));
	return 0;
}

uint64_t xlate_lookup(const void *meta, uint64_t ppn)
{
	struct xv v;
	uint32_t e;

	if (view(&v, meta) || ppn >= v.h->npages)
		return XLATE_NONE;
	e = __atomic_load_n(&v.ent[ppn >> v.h->gshift], __ATOMIC_ACQUIRE);
	return ((uint64_t)(e & ~XLATE_MOVING) << v.h->gshift) | (ppn & (v.G - 1));
}

int xlate_resolve(const void *meta, uint64_t ppn, uint64_t *dfn)
{
	struct xv v;
	uint32_t e;

	if (view(&v, meta) || ppn >= v.h->npages || !dfn)
		return -EINVAL;
	e = __atomic_load_n(&v.ent[ppn >> v.h->gshift], SC);
	if (e & XLATE_MOVING)
		return -EBUSY;
	*dfn = ((uint64_t)e << v.h->gshift) | (ppn & (v.G - 1));
	return 0;
}

int xlate_resolve_run(const void *meta, uint64_t ppn, uint64_t pages, uint64_t *dfn)
{
	uint64_t b, first, last;
	struct xv v;
	uint32_t e, e0 = 0;

	if (view(&v, meta) || !pages || ppn >= v.h->npages || pages > v.h->npages - ppn || !dfn)
		return -EINVAL;
	first = ppn >> v.h->gshift;
	last = (ppn + pages - 1) >> v.h->gshift;
	for (b = first; b <= last; b++) {
		e = __atomic_load_n(&v.ent[b], SC);
		if (e & XLATE_MOVING)
			return -EBUSY;
		if (b == first)
			e0 = e;
		else if (e != e0 + (b - first))
			return -ENOENT;
	}
	*dfn = ((uint64_t)e0 << v.h->gshift) | (ppn & (v.G - 1));
	return 0;
}

int xlate_resolve_wait(const void *meta, uint64_t ppn, uint64_t *dfn,
		       void (*poll)(void))
{
	uint64_t deadline = pool_now_ns() + MOVE_WAIT_MS * 1000000ull;
	int err;

	while ((err = xlate_resolve(meta, ppn, dfn)) == -EBUSY) {
		if (pool_now_ns() > deadline)
			return -ETIMEDOUT;      /* its mover died mid-move */
		if (poll)
			poll();
		pool_relax();
	}
	return err;
}

bool xlate_usable(void *meta, uint64_t ppn)
{
	struct xv v;
	uint32_t e;

	if (view(&v, meta) || ppn >= v.h->npages)
		return false;
	e = __atomic_load_n(&v.ent[ppn >> v.h->gshift], SC);
	return !(e & XLATE_MOVING) &&
	       state_of(&v, region_of(&v, e)) == XLATE_ONLINE;
}

bool xlate_usable_run(const void *meta, uint64_t ppn, uint64_t pages)
{
	struct xv v;
	uint64_t b;
	uint32_t e;

	if (view(&v, meta) || !pages || ppn >= v.h->npages || pages > v.h->npages - ppn)
		return false;
	for (b = ppn >> v.h->gshift; b <= (ppn + pages - 1) >> v.h->gshift; b++) {
		e = __atomic_load_n(&v.ent[b], SC);
		if ((e & XLATE_MOVING) || state_of(&v, region_of(&v, e)) != XLATE_ONLINE)
			return false;
	}
	return true;
}

int xlate_region_state(const void *meta, uint32_t region)
{
	struct xv v;

	if (view(&v, meta) || region >= v.h->nregions)
		return -EINVAL;
	return (int)state_of(&v, region);
}

int xlate_set_region_state(void *meta, uint32_t region, int state)
{
	struct xv v;

	if (view(&v, meta) || region >= v.h->nregions ||
	    state < XLATE_ONLINE || state > XLATE_FAILED)
		return -EINVAL;
	__atomic_store_n(&v.reg[region].state, (uint32_t)state, SC);
	pool_flush(&v.reg[region], sizeof(v.reg[region]));
	return 0;
}

int xlate_fail_region(void *meta, uint32_t region,
		      void (*destroy)(void *ctx, uint64_t dfn, uint64_t pages), void *ctx)
{
	struct xv v;
	uint32_t st;

	if (view(&v, meta) || region >= v.h->nregions)
		return -EINVAL;
	st = state_of(&v, region);
	do                      /* a drain may change the state under us: again */
		if (st == XLATE_FAILED)
			return -EALREADY;
	while (!__atomic_compare_exchange_n(&v.reg[region].state, &st, XLATE_FAILED,
					    false, SC, SC));
	__atomic_store_n(&v.reg[region].failed_seq,
			 __atomic_load_n(&v.h->failures, SC) + 1, SC);
	pool_flush(&v.reg[region], sizeof(v.reg[region]));
	if (destroy) {
		uint64_t first = (uint64_t)region * v.h->region_pages;
		uint64_t n = v.h->npages - first < v.h->region_pages ?
			     v.h->npages - first : v.h->region_pages;
		destroy(ctx, first, n);
	}
	__atomic_add_fetch(&v.h->failures, 1, SC);
	pool_flush(&v.h->failures, sizeof(v.h->failures));
	return 0;
}

uint64_t xlate_failures(const void *meta)
{
	struct xv v;

	if (view(&v, meta))
		return 0;
	return __atomic_load_n(&v.h->failures, __ATOMIC_ACQUIRE);
}

/* Did region r fail, as failure number after + 1 .. upto? */
static bool failed_between(const struct xv *v, uint32_t r, uint64_t after, uint64_t upto)
{
	uint64_t seq = __atomic_load_n(&v->reg[r].failed_seq, SC);

	return state_of(v, r) == XLATE_FAILED && seq > after && seq <= upto;
}

bool xlate_lost(const void *meta, uint64_t ppn, uint64_t after, uint64_t upto, uint32_t *region)
{
	struct xv v;
	uint32_t e, r;

	if (view(&v, meta) || ppn >= v.h->npages)
		return false;
	e = __atomic_load_n(&v.ent[ppn >> v.h->gshift], SC) & ~XLATE_MOVING;
	r = region_of(&v, e);
	if (region)
		*region = r;
	return failed_between(&v, r, after, upto);
}

bool xlate_region_failed(const void *meta, uint32_t region, uint64_t after, uint64_t upto)
{
	struct xv v;

	return !view(&v, meta) && region < v.h->nregions &&
	       failed_between(&v, region, after, upto);
}

uint32_t xlate_nregions(const void *meta)
{
	struct xv v;

	return view(&v, meta) ? 0 : v.h->nregions;
}

void xlate_count_loss(void *meta, uint32_t region, uint64_t optional_pages,
		      uint64_t vital_pages, uint64_t killed)
{
	struct xv v;

	if (view(&v, meta) || region >= v.h->nregions)
		return;
	__atomic_add_fetch(&v.reg[region].lost_optional, optional_pages, SC);
	__atomic_add_fetch(&v.reg[region].lost_vital, vital_pages, SC);
	__atomic_add_fetch(&v.reg[region].killed, killed, SC);
	pool_flush(&v.reg[region], sizeof(v.reg[region]));
}

/* Step 1 of the protocol: mark entry @b MOVING; its device block, or -EBUSY. */
static int64_t mark(struct xv *v, uint64_t b)
{
	uint32_t e = __atomic_load_n(&v->ent[b], SC);

	if ((e & XLATE_MOVING) ||
	    !__atomic_compare_exchange_n(&v->ent[b], &e, e | XLATE_MOVING,
					 false, SC, SC))
		return -EBUSY;
	pool_flush(&v->ent[b], sizeof(uint32_t));
	return e;
}

/* Step 5 (or an undo): publish entry @b = @dblk, not moving. */
static void publish(struct xv *v, uint64_t b, uint64_t dblk)
{
	__atomic_store_n(&v->ent[b], (uint32_t)dblk, __ATOMIC_RELEASE);
	pool_flush(&v->ent[b], sizeof(uint32_t));
}

/*
 * Steps 1-5 for blocks [b, b + n) onto spare blocks s[0..n), n at most
 * XLATE_BATCH, with one shootdown for the whole run: a drain pays one round
 * trip to every node for up to XLATE_BATCH_PAGES pages instead of one per
 * block. The run is cut short at the first block or spare another mover
 * has, or whose spare's region is no longer online.
 * Return: how many blocks moved (0: the first could not be marked; fewer
 * than n: a spare's region failed under the copy, the rest stay put), the
 * shootdown's error (then none moved), or -EIO if the region of the blocks
 * being moved failed under the copy (they stay, lost with it).
 */
static int64_t move_run(struct xv *v, uint64_t b, uint64_t n, const uint64_t *s,
			const struct xlate_mover *m)
{
	int64_t from[XLATE_BATCH], to[XLATE_BATCH];
	uint64_t k, i, moved = 0;
	uint32_t r = 0;
	bool lost = false;
	int err;

	for (k = 0; k < n; k++) {
		if ((from[k] = mark(v, b + k)) < 0)
			break;
		if ((to[k] = mark(v, s[k])) < 0) {
			publish(v, b + k, (uint64_t)from[k]);
			break;
		}
		/* step 2, after the marks: a drain of the spare's region that
		 * starts now sees the spare MOVING and rescans */
		if (state_of(v, region_of(v, (uint64_t)to[k])) != XLATE_ONLINE) {
			publish(v, s[k], (uint64_t)to[k]);
			publish(v, b + k, (uint64_t)from[k]);
			break;
		}
	}
	if (!k)
		return 0;
	err = m->shootdown(m->ctx, b << v->h->gshift, k * v->G);
	for (i = 0; i < k; i++) {
		if (!err) {
			m->copy(m->ctx, (uint64_t)to[i] << v->h->gshift,
				(uint64_t)from[i] << v->h->gshift, v->G);
			r = region_of(v, (uint64_t)from[i]);
		}
		/* The injector marks a region failed before it wipes it: a copy
		 * still followed by good states got the data. If the block's
		 * region failed, the block stays where it was, lost with it; if
		 * the spare's did, it stays where its data still is. */
		lost |= !err && state_of(v, r) == XLATE_FAILED;
		if (err || lost || state_of(v, region_of(v, (uint64_t)to[i])) == XLATE_FAILED) {
			publish(v, s[i], (uint64_t)to[i]);
			publish(v, b + i, (uint64_t)from[i]);
			continue;
		}
		publish(v, s[i], (uint64_t)from[i]);
		publish(v, b + i, (uint64_t)to[i]);
		__atomic_fetch_add(&v->reg[r].moves_out, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&v->reg[r].pages_out, v->G, __ATOMIC_RELAXED);
		moved++;
	}
	if (err)
		return err < 0 ? err : -EIO;
	__atomic_fetch_add(&v->h->moves, moved, __ATOMIC_RELAXED);
	__atomic_fetch_add(&v->h->pages_moved, moved * v->G, __ATOMIC_RELAXED);
	pool_flush(&v->h->moves, 2 * sizeof(uint64_t));
	return lost ? -EIO : (int64_t)moved;
}

int xlate_move_block(void *meta, uint64_t block, uint64_t spare_block,
		     const struct xlate_mover *m)
{
	struct xv v;
	int64_t moved;

	if (view(&v, meta) || !m || !m->copy || !m->shootdown ||
	    block >= v.nblocks || spare_block >= v.nblocks ||
	    block == spare_block)
		return -EINVAL;
	moved = move_run(&v, block, 1, &spare_block, m);
	return moved == 1 ? 0 : moved ? (int)moved : -EBUSY;
}

struct spare_ctx {
	struct xv *v;
	uint32_t region;
	uint64_t next;                  /* where to look for the next spare */
};

/* Is the block starting at @first a possible spare for the drain? */
static bool spare_ok(void *ctx, uint64_t first)
{
	struct spare_ctx *sc = ctx;
	uint32_t e = __atomic_load_n(&sc->v->ent[first >> sc->v->h->gshift], SC);
	uint32_t r = region_of(sc->v, e & ~XLATE_MOVING);

	return !(e & XLATE_MOVING) && r != sc->region &&
	       state_of(sc->v, r) == XLATE_ONLINE;
}

/* Does any page of block @b have an owner record? */
static bool block_used(struct xv *v, struct palloc *pa, uint64_t b)
{
	uint64_t p;

	for (p = b * v->G; p < (b + 1) * v->G; p++)
		if (!palloc_owner(pa->meta, p, NULL, NULL))
			return true;
	return false;
}

/* How many blocks from @b on (at most @max) are backed in @region, in use
 * and not moving: the next run the drain moves. */
static uint64_t run_at(struct xv *v, struct palloc *pa, uint32_t region, uint64_t b,
		       uint64_t max)
{
	uint64_t n;

	for (n = 0; n < max && b + n < v->nblocks; n++) {
		uint32_t e = __atomic_load_n(&v->ent[b + n], SC);
		if ((e & XLATE_MOVING) || region_of(v, e) != region || !block_used(v, pa, b + n))
			break;
	}
	return n;
}

/* Move the run of @n blocks at @b onto reserved spare blocks. Return: how
 * many moved, -ENOMEM (no spare at all), or the shootdown's error. */
static int64_t rescue(struct spare_ctx *sc, struct palloc *pa, uint64_t b, uint64_t n,
		      const struct xlate_mover *m)
{
	struct xv *v = sc->v;
	uint64_t s[XLATE_BATCH], k, i;
	int64_t moved;

	for (k = 0; k < n; k++) {
		int64_t p = palloc_reserve_from(pa, XLATE_PID, v->G, sc->next, spare_ok, sc);
		if (p < 0)
			break;
		sc->next = (uint64_t)p + v->G;
		s[k] = (uint64_t)p >> v->h->gshift;
	}
	if (!k)
		return -ENOMEM;
	moved = move_run(v, b, k, s, m);
	while (k--)                     /* step 6: the old frames are spare */
		for (i = 0; i < v->G; i++)
			palloc_free(pa, (s[k] << v->h->gshift) + i);
	return moved;
}

int xlate_drain_region(void *meta, struct palloc *pa, uint32_t region,
		       const struct xlate_mover *m)
{
	uint32_t st = XLATE_ONLINE;
	uint64_t b, n, batch, deadline = 0;
	bool again = true, moved;
	struct xv v;
	struct spare_ctx sc = { &v, region, 0 };
	int64_t r;

	if (view(&v, meta) || !pa || !pa->meta || !m ||
	    region >= v.h->nregions)
		return -EINVAL;
	if (!__atomic_compare_exchange_n(&v.reg[region].state, &st,
					 XLATE_DRAINING, false, SC, SC)) {
		if (st == XLATE_OFFLINE)
			return 0;
		if (st != XLATE_DRAINING)
			return -EINVAL;
	}
	pool_flush(&v.reg[region], sizeof(v.reg[region]));
	batch = XLATE_BATCH_PAGES >> v.h->gshift;
	batch = batch < 1 ? 1 : batch > XLATE_BATCH ? XLATE_BATCH : batch;
	while (again) {
		again = moved = false;
		for (b = 0; b < v.nblocks; b += n ? n : 1) {
			if (state_of(&v, region) != XLATE_DRAINING)
				return -EIO;    /* failed (or set) under the drain */
			if (__atomic_load_n(&v.ent[b], SC) & XLATE_MOVING) {
				again = true;   /* may end up backed here */
				n = 1;
				continue;
			}
			if (!(n = run_at(&v, pa, region, b, batch)))
				continue;
			if ((r = rescue(&sc, pa, b, n, m)) < 0)
				return (int)r;
			again |= !r;            /* another mover had it */
			moved |= r > 0;
			n = r ? (uint64_t)r : 1;
		}
		if (moved || !deadline)
			deadline = pool_now_ns() + MOVE_WAIT_MS * 1000000ull;
		else if (again && pool_now_ns() > deadline)
			return -EBUSY;  /* a mover died mid-move? */
		if (again)
			pool_relax();
	}
	st = XLATE_DRAINING;
	if (!__atomic_compare_exchange_n(&v.reg[region].state, &st,
					 XLATE_OFFLINE, false, SC, SC))
		return -EIO;            /* failed (or set) meanwhile */
	pool_flush(&v.reg[region], sizeof(v.reg[region]));
	return 0;
}

void xlate_stats(const void *meta, struct xlate_stats *st)
{
	struct xv v;
	uint32_t r, s;

	if (!st)
		return;
	*st = (struct xlate_stats){ 0 };
	if (view(&v, meta))
		return;
	st->entries = v.nblocks;
	st->entry_bytes = sizeof(uint32_t);
	st->table_bytes = v.nblocks * sizeof(uint32_t);
	st->block_pages = v.G;
	st->regions = v.h->nregions;
	for (r = 0; r < v.h->nregions; r++)
		if ((s = state_of(&v, r)) <= XLATE_FAILED)
			st->in_state[s]++;
	st->moves = __atomic_load_n(&v.h->moves, __ATOMIC_ACQUIRE);
	st->pages_moved = __atomic_load_n(&v.h->pages_moved, __ATOMIC_ACQUIRE);
}
