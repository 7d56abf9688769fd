/*
 * Shared segments (see seg.h). The table lives in the pool and changes
 * under one lease (POOL_LEASE_SEGS): a node that dies holding it cannot
 * wedge the others, whoever takes the lease next finds it broken and goes
 * on. A segment's pages are one run of pool pages reserved from the
 * allocator, so an entry needs no page list; a run of 2 MiB or more starts
 * on a 2 MiB boundary when the pool has such a run free (see reserve()).
 * A new segment reads as zeros: reserve() prefers a run whose pages the
 * allocator knows to hold zeros (the zeroer of mm/pmem.c makes them while
 * the node idles), and only the pages of the run not known zero are
 * zeroed on the way.
 */
#include "kernel/kernel.h"
#include "kernel/cluster/cluster.h"
#include "mm/seg.h"
#include "mm/palloc.h"
#include "mm/pmem.h"
#include "mm/xlate.h"
#include "arch/arch.h"

#define LEASE_WAIT_NS 2000000000ULL

_Static_assert(sizeof(struct pool_seg) == POOL_SEG_BYTES, "segment entry size is pool format");

static uint8_t *seg_table;              /* the pool's segment table */
static uint64_t known[SEG_SPAN / PAGE_SIZE / 64];      /* seg_create's: bit i = page i of the
							   new run is known zero */

void seg_attach_pool(void *segs)
{
	seg_table = segs;
}

static struct pool_seg *seg(int i)
{
	return (struct pool_seg *)(seg_table + i * POOL_SEG_BYTES);
}

static bool alive(void *ctx, int node, uint64_t epoch)
{
	(void)ctx;
	return node_alive(node, epoch);
}

static uint64_t my_epoch(void)
{
	return __atomic_load_n(&pool.nodes[self.id].epoch, __ATOMIC_ACQUIRE);
}

static int lock(void)
{
	int err = lease_acquire(pool_lease(POOL_LEASE_SEGS), self.id, my_epoch(), alive, NULL,
				LEASE_WAIT_NS);
	return err < 0 ? err : 0;
}

static void unlock(void)
{
	arch_pool_flush(seg_table, (uint64_t)pool.super->nsegs * POOL_SEG_BYTES);
	lease_release(pool_lease(POOL_LEASE_SEGS), self.id, my_epoch());
}

static int find(const char *name)
{
	for (uint32_t i = 0; i < pool.super->nsegs; i++)
		if (seg(i)->state == SEG_LIVE && !strncmp(seg(i)->name, name, SEG_NAME_MAX))
			return (int)i;
	return -1;
}

static uint32_t refs(struct pool_seg *s)
{
	uint32_t n = 0;

	for (int i = 0; i < MAX_NODES; i++)
		n += s->refs[i];
	return n;
}

/* Did a region failure take any of the segment's pages? */
static bool lost(struct pool_seg *s)
{
	for (uint64_t i = 0; i < s->npages; i++)
		if (xlate_lost(pmem_xlate(), s->first_ppn + i, 0, UINT64_MAX, NULL))
			return true;
	return false;
}

/*
 * Free a segment nobody holds. With @zero_now (the last detach, in its
 * process) its pages are zeroed and marked zero before they go, so the
 * next segment on them zeroes nothing: the detacher pays (and another
 * node's seg_create or seg_attach meanwhile waits on the lease). Else (a dead node's references, in the kernel thread,
 * which must not spend that long) the idle zeroer gets them.
 * Context: under the lease.
 */
static void destroy(struct pool_seg *s, bool zero_now)
{
	if (!zero_now || (pmem_failures() && lost(s)) ||        /* lost pages: never used again */
	    pmem_zero(s->first_ppn, s->npages) ||
	    palloc_mark_zero(pool.palloc, s->first_ppn, s->npages))
		pmem_zero_soon(s->first_ppn, s->npages);
	for (uint64_t i = 0; i < s->npages; i++)
		palloc_free(pool.palloc, s->first_ppn + i);
	memset(s, 0, sizeof(*s));
}

/* A run of free pages whose frames are all in online regions. */
static bool usable_run(void *ctx, uint64_t first)
{
	return xlate_usable_run(pmem_xlate(), first, *(uint64_t *)ctx);
}

/*
 * The segment's run of n pages: 2 MiB aligned if it is that large, so that
 * every whole 2 MiB of it can be mapped with one large page; anywhere when
 * no aligned run is free (a fragmented pool), then mapped 4 KiB at a time.
 * At either alignment a run the allocator knows to be zero comes first,
 * then any run; known[] says which of its pages are zero.
 */
static int64_t reserve(uint64_t n, int pid)
{
	struct palloc_run r = { .n = n, .ok = usable_run, .ctx = &n, .known = known };
	int64_t first = -ENOMEM;

	for (int i = n >= SEG_LARGE_PAGES ? 0 : 2; i < 4 && first == -ENOMEM; i++) {
		r.align = i < 2 ? SEG_LARGE_PAGES : 1;
		r.zero_only = !(i & 1);
		first = palloc_reserve_run(pool.palloc, pid, &r);
	}
	return first;
}

static bool is_known(uint64_t i)
{
	return known[i / 64] >> (i % 64) & 1;
}

/* Zero the pages of the new run [first, first + n) that known[] does not
 * say are zero, a stretch of them at a time. Return: 0 or pmem_zero's error. */
static int zero_unknown(uint64_t first, uint64_t n)
{
	uint64_t i = 0, j;
	int err;

	while (i < n) {
		if (known[i / 64] == ~0ULL && i % 64 == 0 && n - i >= 64) {
			i += 64;                /* a whole word of zero pages */
			continue;
		}
		if (is_known(i)) {
			i++;
			continue;
		}
		for (j = i + 1; j < n && !is_known(j); j++)
			;
		if ((err = pmem_zero(first + i, j - i)))
			return err;
		i = j;
	}
	return 0;
}

/* Pages of a segment that processes can map 2 MiB at a time: its whole
 * 2 MiB, if its run starts 2 MiB aligned (its address always does). */
static uint64_t large_pages(const struct pool_seg *s)
{
	return s->first_ppn % SEG_LARGE_PAGES ? 0 : s->npages / SEG_LARGE_PAGES * SEG_LARGE_PAGES;
}

void seg_stats(struct seg_stats *st)
{
	*st = (struct seg_stats){ 0 };
	if (!pool.joined)
		return;
	for (uint32_t i = 0; i < pool.super->nsegs; i++) {
		struct pool_seg *s = seg(i);
		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SEG_LIVE)
			continue;
		st->live++;
		st->pages += s->npages;
		st->large_pages += large_pages(s);
	}
}

int seg_slot_of(uint64_t addr)
{
	if (addr < SEG_BASE || !pool.joined || addr >= SEG_BASE + pool.super->nsegs * SEG_SPAN)
		return -1;
	return (int)((addr - SEG_BASE) / SEG_SPAN);
}

static int64_t map(struct vm *vm, int slot)
{
	struct pool_seg *s = seg(slot);
	uint64_t va = SEG_BASE + (uint64_t)slot * SEG_SPAN;
	int err = vm_add_shared(vm, va, s->first_ppn, s->npages, slot);

	if (err) {
		seg_put(slot);
		return err;
	}
	return (int64_t)va;
}

int64_t seg_create(struct vm *vm, const char *name, uint64_t bytes, uint32_t key, int pid)
{
	uint64_t n = (bytes + PAGE_SIZE - 1) >> PAGE_SHIFT;
	int err, slot = -1;

	if (!pool.joined)
		return -ENOMEM;
	if (!name[0] || !bytes || bytes > SEG_SPAN)
		return -EINVAL;
	if ((err = lock()))
		return err;
	if (find(name) >= 0) {
		unlock();
		return -EEXIST;
	}
	for (uint32_t i = 0; i < pool.super->nsegs && slot < 0; i++)
		if (seg(i)->state == SEG_FREE)
			slot = (int)i;
	int64_t first = slot < 0 ? -ENOSPC : reserve(n, pid);
	if (first < 0) {
		unlock();
		return first == -ENOSPC ? -ENOSPC : -ENOMEM;
	}
	if ((err = zero_unknown(first, n))) {   /* zeroed before anyone sees them */
		for (uint64_t i = 0; i < n; i++)
			palloc_free(pool.palloc, first + i);
		unlock();
		return err;
	}
	palloc_share_run(pool.palloc, first, n);
	struct pool_seg *s = seg(slot);
	memset(s, 0, sizeof(*s));
	strlcpy(s->name, name, SEG_NAME_MAX);
	s->key = key;
	s->first_ppn = first;
	s->npages = n;
	s->bytes = bytes;
	s->creator_node = self.id;
	s->creator_pid = pid;
	s->refs[self.id] = 1;
	__atomic_store_n(&s->state, SEG_LIVE, __ATOMIC_RELEASE);
	unlock();
	return map(vm, slot);
}

int64_t seg_attach(struct vm *vm, const char *name, uint32_t key)
{
	int err, slot;

	if (!pool.joined)
		return -ENOENT;
	if ((err = lock()))
		return err;
	slot = find(name);
	if (slot < 0)
		err = -ENOENT;
	else if (seg(slot)->key && seg(slot)->key != key)
		err = -EACCES;
	else if (lost(seg(slot)))
		err = -EIO;             /* its data is gone: attaching it would read garbage */
	if (err) {
		unlock();
		return err;
	}
	seg(slot)->refs[self.id]++;
	unlock();
	return map(vm, slot);
}

int seg_detach(struct vm *vm, uint64_t addr)
{
	int slot = seg_slot_of(addr);

	if (slot < 0 || addr != SEG_BASE + (uint64_t)slot * SEG_SPAN)
		return -EINVAL;
	return vm_remove(vm, addr, 0);          /* ends in seg_put() */
}

void seg_put(int slot)
{
	if (!pool.joined)
		return;                 /* lost the pool: the survivors drop our refs */
	if (lock()) {
		printk("node %d: segment table lease unavailable; slot %d keeps its attachment\n",
		       self.id, slot);
		return;
	}
	struct pool_seg *s = seg(slot);
	if (s->state == SEG_LIVE && s->refs[self.id]) {
		s->refs[self.id]--;
		if (!refs(s))
			destroy(s, true);
	}
	unlock();
}

void seg_node_dead(int n)
{
	if (!pool.joined || lock())
		return;
	for (uint32_t i = 0; i < pool.super->nsegs; i++) {
		struct pool_seg *s = seg(i);
		if (s->state != SEG_LIVE || !s->refs[n])
			continue;
		s->refs[n] = 0;
		if (!refs(s))
			destroy(s, false);
	}
	unlock();
}
