/*
 * The page cache index in the pool (fs/pcache.h is the contract and says
 * how the words work; docs/fs.md says why). This file is built unchanged
 * into the kernel and into the host unit tests, so it uses only what
 * kernel/cluster/poolsys.h gives and stores no pointers in the area.
 *
 * The transitions of a slot word, each one CAS (me: this node):
 *
 *   FREE  -> FILLING|me      a miss claims a free way        (claim)
 *   FILLING|me -> VALID      the page is read and pinned     (fill)
 *   FILLING|me -> FREE       the read or the allocation failed (unclaim)
 *   VALID -> BUSY|me         evict, drop, lost: exclusive    (take)
 *   BUSY|me -> VALID         pinned after all                (give_back)
 *   BUSY|me -> FREE / LOST   its frame is let go             (let_go)
 *   VALID|dirty -> BUSY|me|lost -> VALID   writeback         (write_slot)
 *   FILLING|dead, BUSY|dead -> what the dead node left        (repair)
 *
 * A node's hand of the clock and its own pin counts are node-local; the
 * area holds only what every node needs.
 */
#include "fs/pcache.h"
#include "fs/format.h"
#include "kernel/cluster/poolsys.h"
#include "kernel/errno.h"

#define SC __ATOMIC_SEQ_CST
#define LINE 64
#define TAG_MASK ((1ULL << PCACHE_TAG_BITS) - 1)
#define WAIT_MORE 1                     /* try_pin: the slot is held, wait on it */

_Static_assert(PCACHE_WAYS * sizeof(uint64_t) == LINE, "a set is one cache line");
_Static_assert(PCACHE_BLOCK == FS_BLOCK, "a cached page is one block of the disk");

static uint64_t word(unsigned state, unsigned owner, uint64_t flags, uint64_t tag)
{
	return (uint64_t)state << 62 | (uint64_t)owner << PCACHE_TAG_BITS | flags | tag;
}

/* splitmix64's finaliser: every tag bit moves every set bit. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* One more of counter @c of this node's entry (only this node writes it). */
static void count(uint64_t *c)
{
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

static uint64_t load(const uint64_t *w)
{
	return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

/* CAS slot @i from *@old to @new; on failure *@old is what is there. */
static bool cas(struct pcache *pc, uint32_t i, uint64_t *old, uint64_t new)
{
	if (!__atomic_compare_exchange_n(&pc->slots[i], old, new, false, SC, SC))
		return false;
	pool_flush(&pc->slots[i], sizeof(uint64_t));
	return true;
}

static void set_frame(struct pcache *pc, uint32_t i, uint64_t f)
{
	__atomic_store_n(&pc->frames[i], f, __ATOMIC_RELEASE);
	pool_flush(&pc->frames[i], sizeof(uint64_t));
}

static void *page_of(struct pcache *pc, uint64_t frame)
{
	return pc->ops->page(pc->ctx, PCACHE_FRAME_PPN(frame));
}

static bool held(uint64_t v)
{
	return PCACHE_STATE(v) == PCACHE_FILLING || PCACHE_STATE(v) == PCACHE_BUSY;
}

/* May a pin of a slot holding @v stand: VALID, or BUSY writing back? */
static bool pinnable(uint64_t v)
{
	return (PCACHE_STATE(v) == PCACHE_VALID && !(v & PCACHE_LOST)) ||
	       (PCACHE_STATE(v) == PCACHE_BUSY && (v & PCACHE_LOST));
}

/* A VALID page eviction may take: clean, not lost. */
static bool clean(uint64_t v)
{
	return PCACHE_STATE(v) == PCACHE_VALID && !(v & (PCACHE_DIRTY | PCACHE_LOST));
}

static void pin(struct pcache *pc, uint32_t i)
{
	if (pc->local_pins[i]++ == 0) {
		__atomic_fetch_or(&pc->pins[i], 1ULL << pc->node, SC);
		pool_flush(&pc->pins[i], sizeof(uint64_t));
	}
}

static void unpin(struct pcache *pc, uint32_t i)
{
	if (--pc->local_pins[i] == 0) {
		__atomic_fetch_and(&pc->pins[i], ~(1ULL << pc->node), SC);
		pool_flush(&pc->pins[i], sizeof(uint64_t));
	}
}

/* Between two looks at a slot another holds: the holder may be one of this
 * node's own processes, which must get the CPU to finish (ops->relax). */
static void relax(struct pcache *pc)
{
	if (pc->ops->relax)
		pc->ops->relax(pc->ctx);
	else
		pool_relax();
}

static uint64_t deadline_of(const struct pcache *pc)
{
	return pool_now_ns() + (uint64_t)pc->wait_ms * 1000000u;
}

/* FILLING|me -> FREE, giving back the page taken for it. False if the
 * claim is no longer ours (a survivor took us for dead). */
static bool unclaim(struct pcache *pc, uint32_t i, uint64_t tag)
{
	uint64_t f = load(&pc->frames[i]), v = word(PCACHE_FILLING, pc->node, 0, tag);

	set_frame(pc, i, 0);
	if (!cas(pc, i, &v, 0))
		return false;
	if (f & PCACHE_FRAME_PAGE)
		pc->ops->free(pc->ctx, PCACHE_FRAME_PPN(f));
	return true;
}

/*
 * Slot @i holds @v, FILLING or BUSY by a node that is dead: undo what it
 * was doing. A fill is claimed from it and freed; a BUSY slot goes back
 * to VALID if it still has its page (dirty if it was dirty or being
 * written back), else FREE if clean, LOST if dirty.
 * Return: whether this call repaired it (false: someone else changed it).
 */
static bool repair(struct pcache *pc, uint32_t i, uint64_t v)
{
	uint64_t tag = PCACHE_TAG_OF(v), f, n;

	if (PCACHE_STATE(v) == PCACHE_FILLING) {
		if (!cas(pc, i, &v, word(PCACHE_FILLING, pc->node, 0, tag)))
			return false;
		return unclaim(pc, i, tag);
	}
	f = load(&pc->frames[i]);       /* its owner is gone: stable */
	if (f & PCACHE_FRAME_PAGE)
		n = word(PCACHE_VALID, 0, v & (PCACHE_DIRTY | PCACHE_LOST) ? PCACHE_DIRTY : 0, tag);
	else if (v & PCACHE_DIRTY)
		n = word(PCACHE_VALID, 0, PCACHE_DIRTY | PCACHE_LOST, tag);
	else
		n = 0;
	return cas(pc, i, &v, n);
}

/*
 * Wait while slot @i still holds @v (FILLING or BUSY), repairing it if
 * its owner is dead.
 * Return: 0 when it changed, -ETIMEDOUT past *@deadline (0: from now).
 */
static int wait_on(struct pcache *pc, uint32_t i, uint64_t v, uint64_t *deadline)
{
	unsigned owner = PCACHE_OWNER(v);

	if (!*deadline)
		*deadline = deadline_of(pc);
	while (load(&pc->slots[i]) == v) {
		if (owner != pc->node && !pc->ops->alive(pc->ctx, (int)owner)) {
			repair(pc, i, v);
			return 0;
		}
		if (pool_now_ns() > *deadline)
			return -ETIMEDOUT;
		relax(pc);
	}
	return 0;
}

/* Pin slot @i for @tag and fill in @ref. Return: 0, -EIO (lost), WAIT_MORE
 * (someone holds it exclusively) or -EAGAIN (it changed: look again). */
static int try_pin(struct pcache *pc, uint32_t i, uint64_t tag, struct pcache_ref *ref)
{
	uint64_t v;

	pin(pc, i);
	v = __atomic_load_n(&pc->slots[i], SC);
	if (PCACHE_TAG_OF(v) == tag && pinnable(v)) {
		ref->slot = i;
		ref->tag = tag;
		ref->data = page_of(pc, load(&pc->frames[i]));
		return 0;
	}
	unpin(pc, i);
	if (PCACHE_TAG_OF(v) != tag || PCACHE_STATE(v) == PCACHE_FREE)
		return -EAGAIN;
	return PCACHE_STATE(v) == PCACHE_VALID ? -EIO : WAIT_MORE;
}

/* BUSY|me -> VALID, keeping the dirty bit a write set meanwhile. */
static void give_back(struct pcache *pc, uint32_t i)
{
	uint64_t cur = load(&pc->slots[i]);

	while (!cas(pc, i, &cur, word(PCACHE_VALID, 0, cur & PCACHE_DIRTY, PCACHE_TAG_OF(cur))))
		;
}

/*
 * Take VALID slot @i (holding @v) exclusively: BUSY by this node, dirty
 * bit kept, then look at its pins.
 * Return: 0 (ours, unpinned), -EAGAIN (it changed), -EBUSY (pinned: put back).
 */
static int take(struct pcache *pc, uint32_t i, uint64_t v)
{
	if (!cas(pc, i, &v, word(PCACHE_BUSY, pc->node, v & PCACHE_DIRTY, PCACHE_TAG_OF(v))))
		return -EAGAIN;
	if (__atomic_load_n(&pc->pins[i], SC)) {
		give_back(pc, i);
		return -EBUSY;
	}
	return 0;
}

/*
 * Slot @i is BUSY by this node: let its frame go. It becomes FREE, or a
 * LOST page if it is dirty and @lost. The frame word is cleared first, so
 * a survivor of our death knows the page is gone.
 * Return: whether it is LOST now.
 */
static bool let_go(struct pcache *pc, uint32_t i, bool lost)
{
	uint64_t f = load(&pc->frames[i]), cur, n;

	set_frame(pc, i, 0);
	cur = load(&pc->slots[i]);
	do
		n = lost && (cur & PCACHE_DIRTY) ?
		    word(PCACHE_VALID, 0, PCACHE_DIRTY | PCACHE_LOST, PCACHE_TAG_OF(cur)) : 0;
	while (!cas(pc, i, &cur, n));
	pc->ops->free(pc->ctx, PCACHE_FRAME_PPN(f));
	return n != 0;
}

/* Evict slot @i if it holds a clean unpinned page. Return: whether it did. */
static bool evict_slot(struct pcache *pc, uint32_t i)
{
	uint64_t v = load(&pc->slots[i]);

	if (!clean(v) || load(&pc->pins[i]) || take(pc, i, v))
		return false;
	let_go(pc, i, false);
	count(&pc->st->evictions);
	return true;
}

/*
 * Write back dirty VALID slot @i (holding @v) through @bounce.
 * Return: 0, -EAGAIN (it changed), or the write's errno (it stays dirty).
 */
static int write_slot(struct pcache *pc, uint32_t i, uint64_t v, void *bounce)
{
	uint64_t tag = PCACHE_TAG_OF(v), cur, f;
	int r;

	if (!cas(pc, i, &v, word(PCACHE_BUSY, pc->node, PCACHE_LOST, tag)))
		return -EAGAIN;
	f = load(&pc->frames[i]);
	__builtin_memcpy(bounce, page_of(pc, f), PCACHE_BLOCK);
	if (pc->ops->gone && pc->ops->gone(pc->ctx, PCACHE_FRAME_PPN(f)))
		r = -EIO;               /* the copy may hold a failed region's wiped bytes */
	else
		r = pc->ops->write(pc->ctx, tag, bounce);
	cur = load(&pc->slots[i]);
	while (!cas(pc, i, &cur, word(PCACHE_VALID, 0, (cur & PCACHE_DIRTY) |
				       (r < 0 ? PCACHE_DIRTY : 0), tag)))
		;
	if (r < 0)
		return r;
	count(&pc->st->writebacks);
	return 0;
}

/*
 * Set @base has no free way and not @tag: free one. A clean unpinned page
 * goes first (from way @start on); failing that, an unpinned dirty one is
 * written back (it is evicted on the next try).
 * Return: 0 (look again), -ENOMEM, -ETIMEDOUT, or a write's errno.
 */
static int make_room(struct pcache *pc, uint32_t base, uint32_t start, uint64_t *deadline)
{
	bool transient = false;
	uint32_t w, i;
	uint64_t v;
	int r;

	if (!*deadline)
		*deadline = deadline_of(pc);
	else if (pool_now_ns() > *deadline)
		return -ENOMEM;
	for (w = 0; w < PCACHE_WAYS; w++) {
		i = base + (start + w) % PCACHE_WAYS;
		if (evict_slot(pc, i))
			return 0;
		transient |= held(load(&pc->slots[i]));
	}
	for (w = 0; pc->bounce && w < PCACHE_WAYS; w++) {
		i = base + (start + w) % PCACHE_WAYS;
		v = load(&pc->slots[i]);
		if (PCACHE_STATE(v) != PCACHE_VALID || (v & PCACHE_LOST) ||
		    !(v & PCACHE_DIRTY) || load(&pc->pins[i]))
			continue;
		r = write_slot(pc, i, v, pc->bounce);
		if (r != -EAGAIN)
			return r;
		transient = true;
	}
	if (!transient)
		return -ENOMEM;
	relax(pc);
	return 0;
}

/*
 * Way @i of set @base is free: claim it for @tag, read the page and pin it.
 * Return: 0, -EAGAIN (lost the race: look again), or an errno.
 */
static int fill(struct pcache *pc, uint32_t i, uint32_t base, uint64_t tag, int flags,
		struct pcache_ref *ref)
{
	uint64_t v = 0, claim = word(PCACHE_FILLING, pc->node, 0, tag);
	uint32_t w;
	int64_t p;
	void *data;
	int r;

	if (!cas(pc, i, &v, claim))
		return -EAGAIN;
	/*
	 * Two nodes may have claimed two free ways for one tag. Each looks at
	 * the others after its claim (both sequentially consistent), so at
	 * least the later one sees the earlier one, and one that sees another
	 * backs off: never two fills of one tag.
	 */
	for (w = 0; w < PCACHE_WAYS; w++) {
		v = __atomic_load_n(&pc->slots[base + w], SC);
		if (base + w != i && PCACHE_STATE(v) != PCACHE_FREE && PCACHE_TAG_OF(v) == tag) {
			unclaim(pc, i, tag);
			relax(pc);
			return -EAGAIN;
		}
	}
	p = pc->ops->alloc(pc->ctx);
	if (p == -ENOMEM) {
		pcache_evict(pc, PCACHE_EVICT_BATCH);
		p = pc->ops->alloc(pc->ctx);
	}
	if (p < 0) {
		unclaim(pc, i, tag);
		return (int)p;
	}
	set_frame(pc, i, PCACHE_FRAME_PAGE | (uint64_t)p);
	data = pc->ops->page(pc->ctx, (uint64_t)p);
	if (flags & PCACHE_NOREAD) {
		__builtin_memset(data, 0, PCACHE_BLOCK);
	} else if ((r = pc->ops->read(pc->ctx, tag, (uint64_t)p)) < 0) {
		unclaim(pc, i, tag);
		return r;
	} else {
		count(&pc->st->fills);
	}
	pool_flush(data, PCACHE_BLOCK);
	pin(pc, i);                     /* before VALID: nobody can evict it first */
	v = claim;
	if (!cas(pc, i, &v, word(PCACHE_VALID, 0, 0, tag))) {
		unpin(pc, i);           /* a survivor took us for dead: hands off */
		return -EIO;
	}
	ref->slot = i;
	ref->tag = tag;
	ref->data = data;
	return 0;
}

uint64_t pcache_area_size(uint32_t nsets)
{
	if (!nsets || nsets > PCACHE_MAX_SETS || (nsets & (nsets - 1)))
		return 0;
	return LINE + 3ULL * nsets * LINE + PCACHE_NLOCKS * LINE + PCACHE_NOPENS * 16 +
	       MAX_NODES * sizeof(struct pcache_stats);
}

int pcache_format(void *area, uint32_t nsets)
{
	struct pcache_hdr *h = area;
	uint64_t size = pcache_area_size(nsets), n, *w = area;

	if (!area || !size)
		return -EINVAL;
	for (n = 0; n < size / 8; n++)
		w[n] = 0;
	h->version = PCACHE_VERSION;
	h->nsets = nsets;
	h->slots_off = LINE;
	h->frames_off = h->slots_off + (uint64_t)nsets * LINE;
	h->pins_off = h->frames_off + (uint64_t)nsets * LINE;
	h->locks_off = h->pins_off + (uint64_t)nsets * LINE;
	h->opens_off = h->locks_off + PCACHE_NLOCKS * LINE;
	h->stats_off = h->opens_off + PCACHE_NOPENS * 16;
	pool_flush(area, size);
	__atomic_store_n(&h->magic, PCACHE_MAGIC, __ATOMIC_RELEASE);
	pool_flush(&h->magic, sizeof(h->magic));
	return 0;
}

int pcache_attach(struct pcache *pc, void *area, int node, const struct pcache_ops *ops,
		  void *ctx, uint16_t *local_pins, void *bounce)
{
	const struct pcache_hdr *h = area;
	char *base = area;
	uint64_t lines, i;

	if (!pc || !h || !local_pins || node < 0 || node >= MAX_NODES || !ops ||
	    !ops->alloc || !ops->free || !ops->page || !ops->read || !ops->write ||
	    !ops->alive || __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != PCACHE_MAGIC ||
	    h->version != PCACHE_VERSION || !pcache_area_size(h->nsets))
		return -EINVAL;
	lines = (uint64_t)h->nsets;
	if (h->slots_off != LINE || h->frames_off != LINE + lines * LINE ||
	    h->pins_off != LINE + 2 * lines * LINE || h->locks_off != LINE + 3 * lines * LINE ||
	    h->opens_off != h->locks_off + PCACHE_NLOCKS * LINE ||
	    h->stats_off != h->opens_off + PCACHE_NOPENS * 16)
		return -EINVAL;
	*pc = (struct pcache){ 0 };
	pc->area = area;
	pc->slots = (uint64_t *)(base + h->slots_off);
	pc->frames = (uint64_t *)(base + h->frames_off);
	pc->pins = (uint64_t *)(base + h->pins_off);
	pc->locks = base + h->locks_off;
	pc->opens = (uint64_t *)(base + h->opens_off);
	pc->st = (struct pcache_stats *)(base + h->stats_off) + node;
	*pc->st = (struct pcache_stats){ .attaches = pc->st->attaches + 1 };
	pool_flush(pc->st, sizeof(*pc->st));
	pc->nsets = h->nsets;
	pc->node = (uint32_t)node;
	/* Each node's clock starts in its own part of the table. */
	pc->hand = (uint32_t)((uint64_t)h->nsets * (uint32_t)node / MAX_NODES);
	pc->wait_ms = PCACHE_FILL_WAIT_MS;
	pc->ops = ops;
	pc->ctx = ctx;
	pc->local_pins = local_pins;
	pc->bounce = bounce;
	for (i = 0; i < lines * PCACHE_WAYS; i++)
		local_pins[i] = 0;
	return 0;
}

int pcache_get(struct pcache *pc, uint64_t tag, int flags, struct pcache_ref *ref)
{
	uint64_t h = mix(tag), v, deadline = 0, room_deadline = 0;
	uint32_t base = (uint32_t)(h & (pc->nsets - 1)) * PCACHE_WAYS, w, i, found, free_way;
	bool waited = false;
	int r;

	if (tag & ~TAG_MASK)
		return -EINVAL;
	for (;;) {
		found = free_way = PCACHE_WAYS;
		for (w = 0; w < PCACHE_WAYS; w++) {
			v = load(&pc->slots[base + w]);
			if (PCACHE_STATE(v) == PCACHE_FREE) {
				if (free_way == PCACHE_WAYS)
					free_way = w;
			} else if (PCACHE_TAG_OF(v) == tag) {
				found = w;
				break;
			}
		}
		if (found < PCACHE_WAYS) {
			i = base + found;
			r = held(v) && !pinnable(v) ? WAIT_MORE : try_pin(pc, i, tag, ref);
			if (r == 0) {
				if (waited) {
					count(&pc->st->misses);
					count(&pc->st->fill_waits);
				} else {
					count(&pc->st->hits);
				}
				return 0;
			}
			if (r == WAIT_MORE) {
				v = load(&pc->slots[i]);
				waited |= PCACHE_STATE(v) == PCACHE_FILLING;
				if (held(v) && !pinnable(v) &&
				    (r = wait_on(pc, i, v, &deadline)))
					return r;
			} else if (r != -EAGAIN) {
				return r;
			}
			continue;
		}
		if (free_way < PCACHE_WAYS) {
			r = fill(pc, base + free_way, base, tag, flags, ref);
			if (r == 0)
				count(&pc->st->misses);
			if (r != -EAGAIN)
				return r;
			continue;
		}
		r = make_room(pc, base, (uint32_t)(h >> 32) % PCACHE_WAYS, &room_deadline);
		if (r)
			return r;
	}
}

void pcache_put(struct pcache *pc, struct pcache_ref *ref)
{
	unpin(pc, ref->slot);
	ref->data = 0;
}

void pcache_dirty(struct pcache *pc, const struct pcache_ref *ref)
{
	uint64_t cur;

	pool_flush(ref->data, PCACHE_BLOCK);
	cur = load(&pc->slots[ref->slot]);
	while (PCACHE_TAG_OF(cur) == ref->tag && !(cur & PCACHE_DIRTY) &&
	       (PCACHE_STATE(cur) == PCACHE_VALID || PCACHE_STATE(cur) == PCACHE_BUSY) &&
	       !cas(pc, ref->slot, &cur, cur | PCACHE_DIRTY))
		;
}

int pcache_writeback(struct pcache *pc, uint32_t ino, uint32_t max, void *bounce)
{
	uint32_t i, n = 0, nslots = pc->nsets * PCACHE_WAYS;
	uint64_t v, deadline;
	int r;

	for (i = 0; i < nslots && (!max || n < max); i++) {
		deadline = 0;
again:
		v = load(&pc->slots[i]);
		if (PCACHE_STATE(v) == PCACHE_FREE || (ino && PCACHE_TAG_INO(PCACHE_TAG_OF(v)) != ino))
			continue;
		if (PCACHE_STATE(v) == PCACHE_BUSY && (v & (PCACHE_DIRTY | PCACHE_LOST))) {
			/* being written back or dropped by someone: see how it ends */
			if ((r = wait_on(pc, i, v, &deadline)))
				return r;
			goto again;
		}
		if (PCACHE_STATE(v) != PCACHE_VALID || (v & PCACHE_LOST) || !(v & PCACHE_DIRTY))
			continue;
		r = write_slot(pc, i, v, bounce);
		if (r == -EAGAIN)
			goto again;
		if (r < 0)
			return r;
		n++;
	}
	return (int)n;
}

uint32_t pcache_evict(struct pcache *pc, uint32_t n)
{
	uint32_t freed = 0, s, w, set;

	for (s = 0; s < pc->nsets && freed < n; s++) {
		set = pc->hand;
		pc->hand = (pc->hand + 1) & (pc->nsets - 1);
		for (w = 0; w < PCACHE_WAYS && freed < n; w++)
			freed += evict_slot(pc, set * PCACHE_WAYS + w);
	}
	return freed;
}

int pcache_drop(struct pcache *pc, uint32_t ino, uint32_t first_index)
{
	uint32_t i, nslots = pc->nsets * PCACHE_WAYS;
	uint64_t v, deadline;
	int r, ret = 0;

	for (i = 0; i < nslots; i++) {
		deadline = 0;
again:
		v = load(&pc->slots[i]);
		if (PCACHE_STATE(v) == PCACHE_FREE || PCACHE_TAG_INO(PCACHE_TAG_OF(v)) != ino ||
		    PCACHE_TAG_INDEX(PCACHE_TAG_OF(v)) < first_index)
			continue;
		if (held(v)) {
			if ((r = wait_on(pc, i, v, &deadline)))
				ret = r;
			else
				goto again;
		} else if (v & PCACHE_LOST) {
			if (!cas(pc, i, &v, 0))     /* a lost page has no frame */
				goto again;
		} else if ((r = take(pc, i, v)) == -EAGAIN) {
			goto again;
		} else if (r) {
			ret = ret ? ret : r;
		} else {
			let_go(pc, i, false);
		}
	}
	return ret;
}

uint32_t pcache_node_dead(struct pcache *pc, int node)
{
	uint32_t i, n = 0, nslots = pc->nsets * PCACHE_WAYS;
	uint64_t v, bit;
	bool fixed;

	if (node < 0 || node >= MAX_NODES || (uint32_t)node == pc->node)
		return 0;
	bit = 1ULL << node;
	for (i = 0; i < nslots; i++) {
		v = load(&pc->slots[i]);
		fixed = held(v) && PCACHE_OWNER(v) == (unsigned)node && repair(pc, i, v);
		if (load(&pc->pins[i]) & bit) {
			__atomic_fetch_and(&pc->pins[i], ~bit, SC);
			pool_flush(&pc->pins[i], sizeof(uint64_t));
			fixed = true;
		}
		n += fixed;
	}
	return n;
}

/* Inodes one pcache_lost call has marked: one LOST slot each is enough. */
#define LOST_MARKS 32

uint32_t pcache_lost(struct pcache *pc, bool (*lost)(void *ctx, uint64_t ppn), void *ctx)
{
	uint32_t i, n = 0, nslots = pc->nsets * PCACHE_WAYS, marked[LOST_MARKS], nmarked = 0, k;
	uint64_t v, f, deadline;

	for (i = 0; i < nslots; i++) {
		deadline = 0;
again:
		v = load(&pc->slots[i]);
		f = load(&pc->frames[i]);
		if (!(f & PCACHE_FRAME_PAGE) || !lost(ctx, PCACHE_FRAME_PPN(f)))
			continue;
		if (held(v)) {
			if (!wait_on(pc, i, v, &deadline))
				goto again;
			continue;       /* a live node holds it: the next call */
		}
		if (PCACHE_STATE(v) != PCACHE_VALID || (v & PCACHE_LOST))
			continue;
		if (!cas(pc, i, &v, word(PCACHE_BUSY, pc->node, v & PCACHE_DIRTY, PCACHE_TAG_OF(v))))
			goto again;
		f = load(&pc->frames[i]);       /* ours now: is it the lost frame still? */
		if (!(f & PCACHE_FRAME_PAGE) || !lost(ctx, PCACHE_FRAME_PPN(f))) {
			give_back(pc, i);
			continue;
		}
		if (!deadline)
			deadline = deadline_of(pc);
		while (__atomic_load_n(&pc->pins[i], SC) && pool_now_ns() <= deadline)
			relax(pc);
		k = PCACHE_TAG_INO(PCACHE_TAG_OF(v));
		if (v & PCACHE_DIRTY) {
			uint32_t j;

			for (j = 0; j < nmarked && marked[j] != k; j++)
				;
			if (j < nmarked) {      /* the inode is marked: free this one */
				let_go(pc, i, false);
				n++;
				count(&pc->st->lost);
				continue;
			}
			if (nmarked < LOST_MARKS)
				marked[nmarked++] = k;
		}
		if (let_go(pc, i, true)) {
			n++;
			count(&pc->st->lost);
		}
	}
	return n;
}

bool pcache_has_lost(struct pcache *pc, uint32_t ino)
{
	uint32_t i, nslots = pc->nsets * PCACHE_WAYS;
	uint64_t v;

	for (i = 0; i < nslots; i++) {
		v = load(&pc->slots[i]);
		if (PCACHE_STATE(v) == PCACHE_VALID && (v & PCACHE_LOST) &&
		    PCACHE_TAG_INO(PCACHE_TAG_OF(v)) == ino)
			return true;
	}
	return false;
}

void pcache_scan(struct pcache *pc)
{
	uint32_t i, nslots = pc->nsets * PCACHE_WAYS;
	uint64_t v;

	pc->valid = pc->dirty = 0;
	for (i = 0; i < nslots; i++) {
		v = load(&pc->slots[i]);
		if (!pinnable(v))
			continue;
		pc->valid++;
		if (v & (PCACHE_DIRTY | PCACHE_LOST))
			pc->dirty++;
	}
}

void pcache_publish(struct pcache *pc, const struct pcache_disk *disk)
{
	struct pcache_disk *d = &pc->st->disk;

	__atomic_store_n(&d->reads, disk->reads, __ATOMIC_RELAXED);
	__atomic_store_n(&d->read_bytes, disk->read_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&d->writes, disk->writes, __ATOMIC_RELAXED);
	__atomic_store_n(&d->write_bytes, disk->write_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&d->flushes, disk->flushes, __ATOMIC_RELAXED);
	__atomic_store_n(&d->errors, disk->errors, __ATOMIC_RELAXED);
	pool_flush(pc->st, sizeof(*pc->st));
}
