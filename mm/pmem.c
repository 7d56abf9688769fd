/*
 * Pool memory inside the kernel. A pool page is reached at
 * arch_poolmem() + ppn * 4096; nothing is mapped there until the kernel
 * touches it, and the page fault asks translation which device frame to
 * map. A move (drain, compaction) first shoots down every node's mapping
 * of the block (MSG_SHOOTDOWN, waiting for each live node's ack), then
 * copies, then publishes the new frame; the next touch faults it in.
 *
 * New pool pages must read as zeros. The allocator knows which free pages
 * do (their zero bits, mm/palloc.h); the zeroer below makes more of them
 * while the node has nothing else to run, so that an allocation, and a
 * new segment above all, zeroes nothing on its way.
 */
#include "kernel/kernel.h"
#include "kernel/kthread.h"
#include "kernel/cluster/cluster.h"
#include "mm/pmem.h"
#include "sched/sched.h"
#include "mm/palloc.h"
#include "mm/xlate.h"
#include "arch/arch.h"

static void *xlate;                     /* the pool's translation and region tables */
static uint8_t *frames;                 /* device frame 0, in the pool device window */
static uint64_t frames_pa;              /* ... and its bus address */

static void zero_slice(void);
static struct kwork zero_work = { .name = "pool zeroer", .fn = zero_slice };     /* see zero_slice */

void pmem_attach_pool(void *table, uint8_t *frame0, uint64_t frame0_pa)
{
	xlate = table;
	frames = frame0;
	frames_pa = frame0_pa;
	kthread_register(&zero_work);
}

void *pmem_xlate(void)
{
	return xlate;
}

uint64_t pmem_frame_pa(uint64_t dfn)
{
	return frames_pa + (dfn << PAGE_SHIFT);
}

void pmem_fill_frames(uint64_t dfn, uint64_t pages, uint8_t byte)
{
	memset(frames + (dfn << PAGE_SHIFT), byte, pages << PAGE_SHIFT);
	arch_pool_flush(frames + (dfn << PAGE_SHIFT), pages << PAGE_SHIFT);
}

void *pmem_page(uint64_t ppn)
{
	return arch_poolmem() + (ppn << PAGE_SHIFT);
}

bool mm_pool_fault(uint64_t addr)
{
	uint64_t base = (uint64_t)arch_poolmem(), dfn;

	if (!xlate || addr < base || addr >= base + (pool.super->npages << PAGE_SHIFT))
		return false;
	uint64_t ppn = (addr - base) >> PAGE_SHIFT;
	/* a mover that died mid-move (-ETIMEDOUT): the fault is reported */
	return !xlate_resolve_wait(xlate, ppn, &dfn, msg_poll) &&
	       arch_poolmem_map(ppn, pmem_frame_pa(dfn)) == 0;
}

/*
 * How many pages from @ppn on (at most @max) are backed by frames @dfn,
 * @dfn + 1, ... and not moving: each 2 MiB of pool pages takes one look
 * (xlate_resolve_run), page by page only where the frames stop following
 * one another.
 */
static uint64_t extent(uint64_t ppn, uint64_t max, uint64_t dfn)
{
	uint64_t n = 0, d, step;

	for (; n < max; n += step) {
		step = MIN(max - n, POOL_CHUNK_PAGES - (ppn + n) % POOL_CHUNK_PAGES);
		if (xlate_resolve_run(xlate, ppn + n, step, &d) || d != dfn + n)
			break;
	}
	while (n < max && !xlate_resolve(xlate, ppn + n, &d) && d == dfn + n)
		n++;
	return n;
}

/*
 * Zero fresh pool pages [ppn, ppn + pages) through the device window, where
 * the whole pool is mapped with large pages: going through the translated
 * window instead would build a page table for every 2 MiB of pool this
 * node ever touches, and fault once per page. Pages whose frames follow
 * one another are zeroed in one go. A move that lands while we write shows
 * afterwards as a page on another frame, or still moving: that page is
 * zeroed again once the move is over, on its new frame. Return: 0, or
 * -ETIMEDOUT if a block stayed moving (its mover died mid-move).
 */
static int zero(uint64_t ppn, uint64_t pages)
{
	uint64_t dfn, n;
	int err;

	while (pages) {
		if ((err = xlate_resolve_wait(xlate, ppn, &dfn, msg_poll)))
			return err;
		if (!(n = extent(ppn, pages, dfn)))
			continue;               /* it started moving: wait again */
		memset(frames + (dfn << PAGE_SHIFT), 0, n << PAGE_SHIFT);
		arch_pool_flush(frames + (dfn << PAGE_SHIFT), n << PAGE_SHIFT);
		n = extent(ppn, n, dfn);        /* the pages that did not move under it */
		ppn += n;
		pages -= n;
	}
	return 0;
}

/*
 * The zeroer: a kernel-thread work that, only when no process of the node
 * can run, zeroes free pool pages not known to hold zeros, ZERO_SLICE at a
 * time (a slice is a run it reserves, zeroes, marks and frees; it kicks
 * itself for the next, so the node does not halt in between, and a
 * process that wakes waits one slice at most). It sweeps the span of pool
 * pages this node freed since the last sweep (pmem_zero_soon), not the
 * whole pool: a pool not known zero from its format (a dax device, a kept
 * image) is not zeroed wholesale behind the user's back, its pages that
 * nobody freed are zeroed when they are handed out, as are a dead node's
 * that a survivor reclaimed. The reservation keeps two zeroers, or a
 * zeroer and an allocation, off the same page.
 */
#define ZERO_SLICE   512                /* pages: 2 MiB, about 0.7 ms under TCG */

static struct {
	uint64_t lo, hi;                /* pages freed since the sweep began: within [lo, hi) */
	uint64_t cursor, end;           /* the sweep: [cursor, end) still to look at */
	uint64_t zeroed;                /* pages this node zeroed in advance */
} zr;

static void zero_slice(void)
{
	uint64_t n;
	int64_t p;

	if (!pool.joined || sched_others_runnable())
		return;
	if (zr.cursor >= zr.end) {
		if (zr.lo >= zr.hi)
			return;
		zr.cursor = zr.lo, zr.end = zr.hi;
		zr.lo = zr.hi = 0;
	}
	p = palloc_find_unzeroed(pool.palloc, zr.cursor, ZERO_SLICE, &n);
	if (p < 0 || (uint64_t)p >= zr.end) {
		zr.cursor = zr.end;     /* done; pages freed meanwhile are the next sweep's */
		return;
	}
	n = MIN(n, zr.end - (uint64_t)p);
	zr.cursor = (uint64_t)p + n;
	/* pages in a region out of use are never handed out: no need */
	if (xlate_usable_run(xlate, (uint64_t)p, n) &&
	    !palloc_reserve(pool.palloc, proc_table()[0].pid, (uint64_t)p, n)) {
		if (!zero((uint64_t)p, n) && !palloc_mark_zero(pool.palloc, (uint64_t)p, n))
			zr.zeroed += n;
		for (uint64_t i = 0; i < n; i++)
			palloc_free(pool.palloc, (uint64_t)p + i);
	}
	kthread_kick(&zero_work);
}

void pmem_zero_soon(uint64_t ppn, uint64_t pages)
{
	if (!pages)
		return;
	if (zr.lo >= zr.hi)
		zr.lo = ppn, zr.hi = ppn + pages;
	zr.lo = MIN(zr.lo, ppn);
	zr.hi = MAX(zr.hi, ppn + pages);
}

uint64_t pmem_zeroed(void)
{
	return zr.zeroed;
}

int pmem_zero(uint64_t ppn, uint64_t pages)
{
	if (!pool.joined)
		return -ENOMEM;
	if (!pages || ppn >= pool.super->npages || pages > pool.super->npages - ppn)
		return -EINVAL;
	return zero(ppn, pages);
}

static uint32_t (*reclaimer)(uint32_t pages);

void pmem_set_reclaimer(uint32_t (*fn)(uint32_t pages))
{
	reclaimer = fn;
}

int64_t pmem_alloc(uint32_t pid)
{
	if (!pool.joined)
		return -ENOMEM;
	bool known;
	int64_t ppn = palloc_alloc_zero(pool.palloc, pid, &known);
	int err;

	if (ppn == -ENOMEM && reclaimer && reclaimer(PMEM_RECLAIM_BATCH))
		ppn = palloc_alloc_zero(pool.palloc, pid, &known);

	if (ppn >= 0 && !known && (err = zero(ppn, 1))) {
		pmem_free(ppn);         /* not zeroed: nobody may have it */
		return err;
	}
	return ppn;
}

int pmem_make_room(uint64_t pages)
{
	static struct palloc_stats ps;  /* big: not on the stack */
	uint64_t have;
	uint32_t got;

	if (!pool.joined)
		return -ENOMEM;
	palloc_stats(pool.palloc->meta, &ps);
	for (have = ps.free; have < pages && reclaimer; have += got)
		if (!(got = reclaimer(PMEM_RECLAIM_BATCH)))
			break;
	return have < pages ? -ENOMEM : 0;
}

uint64_t pmem_failures(void)
{
	return xlate ? xlate_failures(xlate) : 0;
}

bool pmem_page_lost(uint64_t ppn)
{
	return xlate && xlate_failures(xlate) && xlate_lost(xlate, ppn, 0, UINT64_MAX, NULL);
}

int pmem_free(uint64_t ppn)
{
	if (!pool.joined)
		return 0;               /* the pool is gone: the survivors took it back */
	arch_poolmem_unmap(ppn, 1);     /* a later move must not leave us a stale mapping */
	pmem_zero_soon(ppn, 1);
	return palloc_free(pool.palloc, ppn);
}

void pmem_shootdown_local(uint64_t ppn, uint64_t pages)
{
	struct proc *t = proc_table();

	arch_poolmem_unmap(ppn, pages);
	for (int i = 1; i < MAX_PROCS; i++)     /* and every process that maps them */
		if (t[i].state != P_FREE && t[i].vm.root)
			vm_shootdown(&t[i].vm, ppn, pages);
}

static void copy(void *ctx, uint64_t dst, uint64_t src, uint64_t pages)
{
	(void)ctx;
	memcpy(frames + (dst << PAGE_SHIFT), frames + (src << PAGE_SHIFT),
	       pages << PAGE_SHIFT);
	arch_pool_flush(frames + (dst << PAGE_SHIFT), pages << PAGE_SHIFT);
}

/* Every live node drops its mappings of the block and acks; dead ones map nothing. */
static int shootdown(void *ctx, uint64_t ppn, uint64_t pages)
{
	struct msg req = { .type = MSG_SHOOTDOWN };

	(void)ctx;
	pmem_shootdown_local(ppn, pages);
	req.args[0] = ppn << PAGE_SHIFT;
	req.args[1] = pages << PAGE_SHIFT;
	return msg_call_all(&req, MSG_TIMEOUT_MS);
}

static const struct xlate_mover mover = { copy, shootdown, NULL };

int pmem_drain(uint32_t region)
{
	return xlate_drain_region(xlate, pool.palloc, region, &mover);
}

/* A spare block for pmem_move: any free, online block (ctx = the block moved). */
static bool other_online(void *ctx, uint64_t first)
{
	return first != *(uint64_t *)ctx && xlate_usable(xlate, first);
}

int pmem_move(uint64_t block)
{
	uint64_t g = 1UL << pool.super->gshift, first = block * g;
	int64_t spare = palloc_reserve_where(pool.palloc, XLATE_PID, g, other_online, &first);

	if (spare < 0)
		return (int)spare;
	int err = xlate_move_block(xlate, block, spare / g, &mover);
	for (uint64_t i = 0; i < g; i++)
		palloc_free(pool.palloc, spare + i);
	return err;
}
