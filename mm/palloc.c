/*
 * Pool page allocator (see mm/palloc.h for the design and the pool layout).
 *
 * Taking page p for record value v, and giving it back:
 *
 *   take:  fetch_or(bit p)      lost the bit      -> someone else has p
 *          CAS rec[p] 0 -> v    failed            -> p is used; bit stays set
 *          usable(p) again      no                -> give p back
 *          fetch_and(~zero bit p)                  -> was it known zero?
 *   give:  CAS rec[p] v -> 0    failed            -> not ours to free
 *          fetch_and(~bit p)
 *
 * A run (palloc_reserve and the like) is taken a bitmap word at a time:
 * one fetch_or for up to 64 pages, then each record, then their zero bits,
 * and one flush of each of the three at the end.
 *
 * All of these are sequentially consistent, so a drainer that marks a
 * region draining and then reads the records cannot miss a page that an
 * allocator saw as usable (see xlate_drain_region).
 */
#include "mm/palloc.h"
#include "kernel/cluster/poolsys.h"
#include "kernel/bits.h"
#include "kernel/errno.h"

#define LINE 64
#define SC __ATOMIC_SEQ_CST

static uint64_t min3(uint64_t a, uint64_t b, uint64_t c)
{
	return a < b ? (a < c ? a : c) : (b < c ? b : c);
}

/* The low @k bits (1 <= k <= 64). */
static uint64_t low_bits(uint64_t k)
{
	return k >= 64 ? ~0ULL : (1ULL << k) - 1;
}

/* Where the zero bits start: after the records (not in the header, which
 * is full; every reader derives it the same way). */
static uint64_t zero_off(const struct palloc_hdr *h)
{
	return round_up(h->rec_off + h->npages * 8, LINE);
}

/* Fill in a header for @g; -EINVAL if the geometry is not supported. */
static int layout(const struct palloc_geom *g, struct palloc_hdr *h)
{
	uint64_t nchunks;

	if (!g || !g->npages || g->npages >= (1ull << 40) || !g->chunk_pages ||
	    g->chunk_pages > PALLOC_MAX_CHUNK || !g->max_nodes ||
	    g->max_nodes > MAX_NODES)
		return -EINVAL;
	nchunks = (g->npages + g->chunk_pages - 1) / g->chunk_pages;
	if (nchunks >= UINT32_MAX)
		return -EINVAL;
	*h = (struct palloc_hdr){ 0 };
	h->version = PALLOC_VERSION;
	h->chunk_pages = g->chunk_pages;
	h->npages = g->npages;
	h->max_nodes = g->max_nodes;
	h->nchunks = (uint32_t)nchunks;
	h->words = (uint32_t)(round_up(g->chunk_pages, LINE * 8) / 64);
	h->owners_off = LINE;
	h->bmp_off = round_up(h->owners_off + nchunks * 4, LINE);
	h->rec_off = h->bmp_off + nchunks * h->words * 8;
	return 0;
}

/* Point a handle's view at an existing metadata block. */
static int view(struct palloc *pa, const void *meta)
{
	const struct palloc_hdr *h = meta;
	char *base = (char *)(uintptr_t)meta;

	if (!meta || __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != PALLOC_MAGIC ||
	    h->version != PALLOC_VERSION)
		return -EINVAL;
	pa->meta = base;
	pa->owners = (uint32_t *)(base + h->owners_off);
	pa->bmp = (uint64_t *)(base + h->bmp_off);
	pa->rec = (uint64_t *)(base + h->rec_off);
	pa->zero = (uint64_t *)(base + zero_off(h));
	pa->npages = h->npages;
	pa->chunk_pages = h->chunk_pages;
	pa->nchunks = h->nchunks;
	pa->words = h->words;
	pa->max_nodes = h->max_nodes;
	return 0;
}

static uint64_t rec_val(uint32_t node, uint32_t flags, uint32_t pid)
{
	return (uint64_t)(node + 1) | (uint64_t)(flags & 0xffff) << 16 |
	       (uint64_t)pid << 32;
}

static uint64_t *word_of(const struct palloc *pa, uint64_t p, uint64_t *mask)
{
	uint64_t c = p / pa->chunk_pages, i = p % pa->chunk_pages;

	*mask = 1ull << (i % 64);
	return &pa->bmp[c * pa->words + i / 64];
}

/*
 * The bitmap word of pages [p, p + *k): as many of the @left pages from @p
 * on as share p's bitmap word and its zero word (*k >= 1); *mask = their
 * bits in the bitmap word.
 */
static uint64_t *word_span(const struct palloc *pa, uint64_t p, uint64_t left, uint64_t *mask,
			   uint64_t *k)
{
	uint64_t c = p / pa->chunk_pages, i = p % pa->chunk_pages;

	*k = min3(left, 64 - i % 64, min3(pa->chunk_pages - i, 64 - p % 64, 64));
	*mask = low_bits(*k) << (i % 64);
	return &pa->bmp[c * pa->words + i / 64];
}

static bool taken(const struct palloc *pa, uint64_t p)
{
	uint64_t m;

	return __atomic_load_n(word_of(pa, p, &m), __ATOMIC_ACQUIRE) & m;
}

static bool known_zero(const struct palloc *pa, uint64_t p)
{
	return __atomic_load_n(&pa->zero[p / 64], __ATOMIC_ACQUIRE) >> (p % 64) & 1;
}

/*
 * Clear the zero bits of [p, p + k), pages the caller has just taken (one
 * zero word: k <= 64 - p % 64). Return: which of them were set, as bits
 * 0..k-1. The look before the atomic is enough when none is: only a holder
 * sets a zero bit, and the last holder of these pages set it before it
 * gave them back, so before the take that made them ours.
 */
static uint64_t forget_zero(struct palloc *pa, uint64_t p, uint64_t k)
{
	uint64_t *z = &pa->zero[p / 64], m = low_bits(k) << (p % 64), old;

	if (!(__atomic_load_n(z, SC) & m))
		return 0;
	old = __atomic_fetch_and(z, ~m, SC);
	pool_flush(z, sizeof(*z));
	return (old & m) >> (p % 64);
}

/* Pages of chunk @c that exist (the last chunk may be short). */
static uint32_t chunk_size(const struct palloc *pa, uint32_t c)
{
	uint64_t left = pa->npages - (uint64_t)c * pa->chunk_pages;

	return left < pa->chunk_pages ? (uint32_t)left : pa->chunk_pages;
}

/* Pages of chunk @c whose bit is set (not counting the padding bits). */
static uint32_t taken_in(const struct palloc *pa, uint32_t c)
{
	const uint64_t *w = &pa->bmp[(uint64_t)c * pa->words];
	uint32_t n = 0, j;
	uint64_t x;

	for (j = 0; j < pa->words; j++)
		for (x = __atomic_load_n(&w[j], __ATOMIC_ACQUIRE); x; x &= x - 1)
			n++;
	return n - (pa->words * 64 - chunk_size(pa, c));
}

/* Other nodes must see page @p's record and bitmap word. */
static void flush_page(struct palloc *pa, uint64_t p, uint64_t *w)
{
	pool_flush(&pa->rec[p], sizeof(uint64_t));
	pool_flush(w, sizeof(*w));
}

/* Drop page @p if its record still holds @v. */
static int give(struct palloc *pa, uint64_t p, uint64_t v)
{
	uint64_t m, *w = word_of(pa, p, &m);

	if (!v || !__atomic_compare_exchange_n(&pa->rec[p], &v, 0, false, SC, SC))
		return -EINVAL;
	__atomic_fetch_and(w, ~m, SC);
	flush_page(pa, p, w);
	return 0;
}

/* Take page @p with record @v; @ok (if any) is checked once it is ours.
 * Return: 1 if it is known to hold zeros, 0 if not, -EBUSY if not taken. */
static int take(struct palloc *pa, uint64_t p, uint64_t v,
		bool (*ok)(void *, uint64_t), void *ctx)
{
	uint64_t m, *w = word_of(pa, p, &m), zero = 0, known;

	if (__atomic_fetch_or(w, m, SC) & m)
		return -EBUSY;
	if (!__atomic_compare_exchange_n(&pa->rec[p], &zero, v, false, SC, SC))
		return -EBUSY;          /* used but unmarked: the bit now agrees */
	if (ok && !ok(ctx, p)) {
		give(pa, p, v);
		return -EBUSY;
	}
	known = forget_zero(pa, p, 1);
	flush_page(pa, p, w);
	return (int)known;
}

/* Set @k bits of @value into bitmap @map at bit @at. */
static void put_bits(uint64_t *map, uint64_t at, uint64_t value, uint64_t k)
{
	map[at / 64] |= value << (at % 64);
	if (at % 64 + k > 64)
		map[at / 64 + 1] |= value >> (64 - at % 64);
}

/*
 * Take every page of [first, first + n) with record @v, all or none, a
 * bitmap word at a time; then their zero bits go, into @known (n bits; may
 * be NULL). A page whose bit was set, or whose record was not free (taken,
 * not marked: its bit now agrees), makes it give back what it took.
 * Return: 0 or -EBUSY.
 */
static int take_run(struct palloc *pa, uint64_t first, uint64_t n, uint64_t v, uint64_t *known)
{
	uint64_t end = first + n, p, q, k, m, old, *w, zero, dm;

	for (p = first; p < end; p += k) {
		w = word_span(pa, p, end - p, &m, &k);
		old = __atomic_fetch_or(w, m, SC);
		if (old & m) {
			__atomic_fetch_and(w, ~(m & ~old), SC);    /* only the bits we set */
			pool_flush(w, sizeof(*w));
			goto undo;
		}
		for (q = p; q < p + k; q++) {
			zero = 0;
			if (__atomic_compare_exchange_n(&pa->rec[q], &zero, v, false, SC, SC))
				continue;
			dm = m & ~(low_bits(q - p + 1) << (p % pa->chunk_pages % 64));
			if (dm)                 /* the pages after q of this word */
				__atomic_fetch_and(w, ~dm, SC);
			pool_flush(w, sizeof(*w));
			p = q;                  /* q stays taken: its record says so */
			goto undo;
		}
	}
	if (known)
		for (p = 0; p < (n + 63) / 64; p++)
			known[p] = 0;
	for (p = first; p < end; p += k) {
		k = min3(end - p, 64 - p % 64, 64);
		old = forget_zero(pa, p, k);
		if (known && old)
			put_bits(known, p - first, old, k);
	}
	pool_flush(&pa->rec[first], n * sizeof(uint64_t));
	w = word_of(pa, first, &m);
	pool_flush(w, (size_t)(word_of(pa, end - 1, &m) - w + 1) * sizeof(*w));
	return 0;
undo:
	while (p-- > first)
		give(pa, p, v);
	return -EBUSY;
}

/* Take a page of chunk @c that satisfies @ok; its ppn, or -ENOMEM. */
static int64_t take_in(struct palloc *pa, uint32_t c, uint64_t v,
		       bool (*ok)(void *, uint64_t), void *ctx, bool *zero)
{
	uint64_t *w = &pa->bmp[(uint64_t)c * pa->words];
	uint32_t j;

	for (j = 0; j < pa->words; j++) {
		uint64_t x = ~__atomic_load_n(&w[j], __ATOMIC_ACQUIRE);

		for (; x; x &= x - 1) {
			uint64_t p = (uint64_t)c * pa->chunk_pages + j * 64 +
				     (unsigned)__builtin_ctzll(x);

			if (ok && !ok(ctx, p))
				continue;
			int known = take(pa, p, v, ok, ctx);
			if (known >= 0) {
				*zero = known;
				return (int64_t)p;
			}
		}
	}
	return -ENOMEM;
}

/* Hand chunk @c, if it is ours, back to the cluster. */
static void put_chunk(struct palloc *pa, uint32_t c)
{
	uint32_t me = pa->node + 1;

	if (__atomic_compare_exchange_n(&pa->owners[c], &me, 0, false, SC, SC)) {
		pa->nowned--;
		pool_flush(&pa->owners[c], sizeof(uint32_t));
	}
}

/* Give chunk @c back if it is ours, empty, and we keep enough others. */
static void release_if_empty(struct palloc *pa, uint32_t c)
{
	if (pa->nowned > PALLOC_KEEP_CHUNKS && !taken_in(pa, c))
		put_chunk(pa, c);
}

size_t palloc_meta_size(const struct palloc_geom *g)
{
	struct palloc_hdr h;

	if (layout(g, &h))
		return 0;
	return (size_t)round_up(zero_off(&h) + (g->npages + 63) / 64 * 8, LINE);
}

int palloc_format(void *meta, const struct palloc_geom *g, bool zeroed)
{
	struct palloc_hdr h, *out = meta;
	uint64_t *w, i, c, size;
	struct palloc pa;

	if (!meta || layout(g, &h))
		return -EINVAL;
	size = palloc_meta_size(g);
	for (w = meta, i = 0; i < size / 8; i++)
		w[i] = 0;
	*out = h;                               /* magic still 0 */
	pa.bmp = (uint64_t *)((char *)meta + h.bmp_off);
	pa.npages = h.npages;
	pa.chunk_pages = h.chunk_pages;
	pa.words = h.words;
	for (c = 0; c < h.nchunks; c++)         /* padding bits stay taken */
		for (i = chunk_size(&pa, (uint32_t)c); i < h.words * 64ull; i++)
			pa.bmp[c * h.words + i / 64] |= 1ull << (i % 64);
	w = (uint64_t *)((char *)meta + zero_off(&h));
	for (i = 0; zeroed && i < h.npages; i += 64)
		w[i / 64] = low_bits(h.npages - i);
	pool_flush(meta, size);
	__atomic_store_n(&out->magic, PALLOC_MAGIC, __ATOMIC_RELEASE);
	pool_flush(&out->magic, sizeof(out->magic));
	return 0;
}

int palloc_attach(struct palloc *pa, void *meta, uint32_t node,
		  bool (*usable)(void *ctx, uint64_t ppn), void *ctx)
{
	uint32_t c;

	if (!pa || view(pa, meta) || node >= pa->max_nodes)
		return -EINVAL;
	pa->node = node;
	pa->usable = usable;
	pa->ctx = ctx;
	pa->nowned = 0;
	for (c = 0; c < pa->nchunks; c++)
		if (__atomic_load_n(&pa->owners[c], __ATOMIC_ACQUIRE) == node + 1)
			pa->nowned++;
	/* Start each node's search in its own part of the pool. */
	pa->hint = (uint32_t)((uint64_t)pa->nchunks * node / pa->max_nodes);
	return 0;
}

static int64_t alloc_where(struct palloc *pa, uint32_t pid, bool (*ok)(void *ctx, uint64_t ppn),
			   void *ctx, bool *known)
{
	uint32_t me, n, i, c = 0, zero;
	uint64_t v;
	int64_t p;

	if (!pa || !pa->meta)
		return -EINVAL;
	me = pa->node + 1;
	n = pa->nchunks;
	v = rec_val(pa->node, 0, pid);
	for (i = 0; i < n; i++) {               /* chunks this node owns */
		c = (pa->hint + i) % n;
		if (__atomic_load_n(&pa->owners[c], __ATOMIC_ACQUIRE) != me)
			continue;
		if ((p = take_in(pa, c, v, ok, ctx, known)) >= 0)
			goto found;
		release_if_empty(pa, c);
	}
	for (i = 0; i < n; i++) {               /* claim an unowned chunk */
		c = (pa->hint + i) % n;
		zero = 0;
		if (__atomic_load_n(&pa->owners[c], __ATOMIC_ACQUIRE) ||
		    taken_in(pa, c) == chunk_size(pa, c) ||
		    !__atomic_compare_exchange_n(&pa->owners[c], &zero, me,
						 false, SC, SC))
			continue;
		pool_flush(&pa->owners[c], sizeof(uint32_t));
		pa->nowned++;
		if ((p = take_in(pa, c, v, ok, ctx, known)) >= 0)
			goto found;
		put_chunk(pa, c);       /* nothing usable there */
	}
	for (i = 0; i < n; i++) {               /* last resort: others' chunks */
		c = (pa->hint + i) % n;
		if (__atomic_load_n(&pa->owners[c], __ATOMIC_ACQUIRE) == me)
			continue;
		if ((p = take_in(pa, c, v, ok, ctx, known)) >= 0)
			return p;
	}
	return -ENOMEM;
found:
	pa->hint = c;
	return p;
}

int64_t palloc_alloc_where(struct palloc *pa, uint32_t pid,
			   bool (*ok)(void *ctx, uint64_t ppn), void *ctx)
{
	bool known;

	return alloc_where(pa, pid, ok, ctx, &known);
}

int64_t palloc_alloc(struct palloc *pa, uint32_t pid)
{
	bool known;

	return palloc_alloc_zero(pa, pid, &known);
}

int64_t palloc_alloc_zero(struct palloc *pa, uint32_t pid, bool *zero)
{
	if (!pa || !zero)
		return -EINVAL;
	return alloc_where(pa, pid, pa->usable, pa->ctx, zero);
}

int palloc_free(struct palloc *pa, uint64_t ppn)
{
	uint64_t v;

	if (!pa || !pa->meta || ppn >= pa->npages)
		return -EINVAL;
	do {
		v = __atomic_load_n(&pa->rec[ppn], __ATOMIC_ACQUIRE);
		if (!v)
			return -EINVAL;
	} while (give(pa, ppn, v));
	release_if_empty(pa, (uint32_t)(ppn / pa->chunk_pages));
	return 0;
}

int palloc_reserve(struct palloc *pa, uint32_t pid, uint64_t first, uint64_t n)
{
	if (!pa || !pa->meta || !n || first >= pa->npages ||
	    n > pa->npages - first)
		return -EINVAL;
	return take_run(pa, first, n, rec_val(pa->node, PALLOC_F_RESERVED, pid), NULL);
}

/* Does a page of [b, b + n) rule the run out (taken, or not known zero
 * when @zero_only)? Set *at to the last such page. */
static bool blocked(const struct palloc *pa, uint64_t b, uint64_t n, bool zero_only, uint64_t *at)
{
	for (uint64_t i = n; i--;)      /* from the end: the skip goes further */
		if (taken(pa, b + i) || (zero_only && !known_zero(pa, b + i))) {
			*at = b + i;
			return true;
		}
	return false;
}

/* Reserve a run as @r wants, with record @v, starting in [lo, hi). */
static int64_t reserve_in(struct palloc *pa, uint64_t v, const struct palloc_run *r,
			  uint64_t lo, uint64_t hi)
{
	uint64_t b, at, n = r->n, align = r->align;

	for (b = round_up(lo, align); b < hi && b <= pa->npages - n;) {
		if (blocked(pa, b, n, r->zero_only, &at)) {
			b = round_up(at + 1, align);
			continue;
		}
		if ((!r->ok || r->ok(r->ctx, b)) && !take_run(pa, b, n, v, r->known))
			return (int64_t)b;
		b += align;
	}
	return -ENOMEM;
}

int64_t palloc_reserve_run(struct palloc *pa, uint32_t pid, const struct palloc_run *r)
{
	uint64_t start, v;
	int64_t b;

	if (!pa || !pa->meta || !r || !r->n || r->n > pa->npages || !r->align ||
	    r->align > pa->npages)
		return -EINVAL;
	v = rec_val(pa->node, PALLOC_F_RESERVED, pid);
	start = r->start < pa->npages ? r->start / r->align * r->align : 0;
	if ((b = reserve_in(pa, v, r, start, pa->npages)) >= 0)
		return b;
	return reserve_in(pa, v, r, 0, start);
}

int64_t palloc_reserve_aligned(struct palloc *pa, uint32_t pid, uint64_t n, uint64_t align,
			       uint64_t start, bool (*ok)(void *ctx, uint64_t first), void *ctx)
{
	struct palloc_run r = { .n = n, .align = align, .start = start, .ok = ok, .ctx = ctx };

	return palloc_reserve_run(pa, pid, &r);
}

int64_t palloc_reserve_from(struct palloc *pa, uint32_t pid, uint64_t n, uint64_t start,
			    bool (*ok)(void *ctx, uint64_t first), void *ctx)
{
	return palloc_reserve_aligned(pa, pid, n, n, start, ok, ctx);
}

int64_t palloc_reserve_where(struct palloc *pa, uint32_t pid, uint64_t n,
			     bool (*ok)(void *ctx, uint64_t first), void *ctx)
{
	return palloc_reserve_from(pa, pid, n, 0, ok, ctx);
}

uint64_t palloc_reclaim(struct palloc *pa, uint32_t dead_node)
{
	uint64_t p, v, m, *w, n = 0;
	uint32_t c, d = dead_node + 1, o;

	if (!pa || !pa->meta || dead_node >= pa->max_nodes ||
	    dead_node == pa->node)
		return 0;
	for (p = 0; p < pa->npages; p++) {
		v = __atomic_load_n(&pa->rec[p], __ATOMIC_ACQUIRE);
		if ((v & 0xffff) == d && !(v >> 16 & PALLOC_F_SHARED) && !give(pa, p, v))
			n++;
	}
	for (c = 0; c < pa->nchunks; c++) {
		o = d;
		if (__atomic_compare_exchange_n(&pa->owners[c], &o, 0, false,
						SC, SC))
			pool_flush(&pa->owners[c], sizeof(uint32_t));
	}
	for (p = 0; p < pa->npages; p++) {
		w = word_of(pa, p, &m);
		if ((__atomic_load_n(w, SC) & m) &&
		    !__atomic_load_n(&pa->rec[p], SC))
			__atomic_fetch_and(w, ~m, SC);
	}
	return n;
}

int64_t palloc_find_unzeroed(const struct palloc *pa, uint64_t start, uint64_t max,
			     uint64_t *n)
{
	uint64_t p, k, m, i, free, cand, end;

	if (!pa || !pa->meta || !max || !n)
		return -EINVAL;
	for (p = start; p < pa->npages; p += k) {
		i = p % pa->chunk_pages;
		free = ~(__atomic_load_n(word_span(pa, p, pa->npages - p, &m, &k), __ATOMIC_ACQUIRE) >>
			 (i % 64));
		cand = free & ~(__atomic_load_n(&pa->zero[p / 64], __ATOMIC_ACQUIRE) >> (p % 64)) &
		       low_bits(k);
		if (!cand)
			continue;
		p += (uint64_t)__builtin_ctzll(cand);
		end = (p / pa->chunk_pages + 1) * pa->chunk_pages;
		if (end > pa->npages)
			end = pa->npages;
		if (end - p > max)
			end = p + max;
		for (*n = 1; p + *n < end && !taken(pa, p + *n) && !known_zero(pa, p + *n); (*n)++)
			;
		return (int64_t)p;
	}
	return -ENOENT;
}

int palloc_mark_zero(struct palloc *pa, uint64_t first, uint64_t n)
{
	uint64_t p, k;

	if (!pa || !pa->meta || !n || first >= pa->npages || n > pa->npages - first)
		return -EINVAL;
	for (p = first; p < first + n; p++)
		if (!__atomic_load_n(&pa->rec[p], SC))
			return -EINVAL;
	for (p = first; p < first + n; p += k) {
		k = min3(first + n - p, 64 - p % 64, 64);
		__atomic_fetch_or(&pa->zero[p / 64], low_bits(k) << (p % 64), SC);
	}
	pool_flush(&pa->zero[first / 64], ((first + n - 1) / 64 - first / 64 + 1) * 8);
	return 0;
}

/* Set PALLOC_F_SHARED in page @p's record; -EINVAL if it is free. */
static int share(struct palloc *pa, uint64_t p)
{
	uint64_t v = __atomic_load_n(&pa->rec[p], SC);

	do {
		if (!v)
			return -EINVAL;
	} while (!__atomic_compare_exchange_n(&pa->rec[p], &v, v | (uint64_t)PALLOC_F_SHARED << 16,
					      false, SC, SC));
	return 0;
}

int palloc_share(struct palloc *pa, uint64_t ppn)
{
	return palloc_share_run(pa, ppn, 1);
}

int palloc_share_run(struct palloc *pa, uint64_t first, uint64_t n)
{
	uint64_t p;
	int err = 0;

	if (!pa || !pa->meta || !n || first >= pa->npages || n > pa->npages - first)
		return -EINVAL;
	for (p = first; p < first + n && !err; p++)
		err = share(pa, p);
	pool_flush(&pa->rec[first], (p - first) * sizeof(uint64_t));
	return err;
}

int palloc_owner(const void *meta, uint64_t ppn, uint32_t *node, uint32_t *pid)
{
	struct palloc pa;
	uint64_t v;

	if (view(&pa, meta) || ppn >= pa.npages)
		return -EINVAL;
	v = __atomic_load_n(&pa.rec[ppn], SC);     /* a drain reads after a store */
	if (!v)
		return -ENOENT;
	if (node)
		*node = (uint32_t)(v & 0xffff) - 1;
	if (pid)
		*pid = (uint32_t)(v >> 32);
	return 0;
}

void palloc_stats(const void *meta, struct palloc_stats *st)
{
	struct palloc pa;
	uint64_t p, v, o;
	uint32_t c;

	if (!st)
		return;
	*st = (struct palloc_stats){ 0 };
	if (view(&pa, meta))
		return;
	st->npages = pa.npages;
	st->chunks = pa.nchunks;
	for (p = 0; p < pa.npages; p++) {
		v = __atomic_load_n(&pa.rec[p], __ATOMIC_ACQUIRE);
		o = v & 0xffff;
		if (!v) {
			st->free++;
			st->zeroed += known_zero(&pa, p);
		} else if (o >= 1 && o <= MAX_NODES)
			st->used_by_node[o - 1]++;
		if (v >> 16 & PALLOC_F_RESERVED)
			st->reserved++;
	}
	for (c = 0; c < pa.nchunks; c++) {
		o = __atomic_load_n(&pa.owners[c], __ATOMIC_ACQUIRE);
		if (!o)
			st->chunks_unowned++;
		else if (o <= MAX_NODES)
			st->chunks_owned_by_node[o - 1]++;
	}
}

uint64_t palloc_check(const void *meta)
{
	struct palloc pa;
	uint64_t p, m, *w, n = 0;

	if (view(&pa, meta))
		return UINT64_MAX;
	for (p = 0; p < pa.npages; p++) {
		w = word_of(&pa, p, &m);
		if (!(__atomic_load_n(w, __ATOMIC_ACQUIRE) & m) !=
		    !__atomic_load_n(&pa.rec[p], __ATOMIC_ACQUIRE))
			n++;
	}
	return n;
}
