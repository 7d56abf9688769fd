/*
 * User address spaces (see vm.h): areas, page faults, placement of pages
 * in local frames or pool pages, and checked copies to and from user space.
 */
#include "kernel/kernel.h"
#include "kernel/cluster/cluster.h"
#include "mm/mm.h"
#include "mm/vm.h"
#include "mm/pmem.h"
#include "mm/seg.h"
#include "mm/xlate.h"
#include "sched/sched.h"
#include "arch/arch.h"
#include "userland/include/dm_abi.h"

#define LOCAL_RESERVE_FRAMES 1024       /* transparent placement keeps 4 MiB local free */
#define SLOT_ADDR(s) ((s) & ~0xFFFUL)

/* Pages for slot tables (mm/slots.h): local frames, zeroed. */
void *slots_page_alloc(void)
{
	uint64_t pa = frame_alloc(0);

	if (pa == FRAME_NONE)
		return NULL;
	memset(phys_to_virt(pa), 0, PAGE_SIZE);
	return phys_to_virt(pa);
}

void slots_page_free(void *page)
{
	frame_free(virt_to_phys(page), 0);
}

/* The slot of page i of area a (0: not filled in yet). */
static uint64_t slot_of(const struct vm_area *a, uint64_t i)
{
	if (a->seg >= 0)
		return ((a->first_ppn + i) << PAGE_SHIFT) | VM_POOL;
	return slots_get(&a->slots, i);
}

int vm_init(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->root = arch_as_new();
	return vm->root ? 0 : -ENOMEM;
}

static void release_page(struct vm *vm, struct vm_area *a, uint64_t i)
{
	uint64_t s = slots_get(&a->slots, i);

	if (!s)
		return;
	arch_as_unmap(vm->root, a->start + i * PAGE_SIZE);
	if (s & VM_LOCAL) {
		frame_free(SLOT_ADDR(s), 0);
		vm->local_pages--;
	} else {
		pmem_free(s >> PAGE_SHIFT);     /* nothing, if the node lost the pool */
		vm->pool_pages--;
	}
	slots_set(&a->slots, i, 0);     /* clearing takes no memory */
}

static void release_area(struct vm *vm, struct vm_area *a)
{
	if (a->seg >= 0) {              /* the segment's pages are its own, not ours */
		uint64_t n = (a->end - a->start) / PAGE_SIZE;
		for (uint64_t i = 0; i < n; i++)
			arch_as_unmap(vm->root, a->start + i * PAGE_SIZE);
		vm->pool_pages -= n;
		seg_put(a->seg);
		return;
	}
	for (uint64_t i = slots_next(&a->slots, 0); i < a->slots.n; i = slots_next(&a->slots, i + 1))
		release_page(vm, a, i);
	slots_free(&a->slots);
}

void vm_destroy(struct vm *vm)
{
	for (int i = 0; i < vm->nareas; i++)
		release_area(vm, &vm->area[i]);
	vm->nareas = 0;
	if (vm->root) {
		arch_as_switch(NULL);
		arch_as_free(vm->root);
		vm->root = NULL;
	}
}

struct vm_area *vm_find(struct vm *vm, uint64_t addr)
{
	for (int i = 0; i < vm->nareas; i++)
		if (addr >= vm->area[i].start && addr < vm->area[i].end)
			return &vm->area[i];
	return NULL;
}

int vm_add(struct vm *vm, uint64_t start, uint64_t len, int prot, enum vm_place place,
	   bool optional)
{
	uint64_t end = (start + len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

	start &= ~(PAGE_SIZE - 1);
	if (!len || end <= start || end > USER_TOP || vm->nareas == VM_MAX_AREAS)
		return -EINVAL;
	for (int i = 0; i < vm->nareas; i++)
		if (start < vm->area[i].end && end > vm->area[i].start)
			return -EEXIST;
	struct vm_area a = { start, end, prot, place, optional, { 0 }, -1, 0 };
	if (slots_init(&a.slots, (end - start) / PAGE_SIZE))
		return -EINVAL;
	vm->area[vm->nareas++] = a;     /* no memory taken until pages are touched */
	return 0;
}

int vm_add_shared(struct vm *vm, uint64_t start, uint64_t first_ppn, uint64_t npages, int seg)
{
	int err = vm_add(vm, start, npages * PAGE_SIZE, ARCH_PROT_WRITE, VM_PLACE_POOL, false);

	if (err)
		return err;
	struct vm_area *a = &vm->area[vm->nareas - 1];
	a->seg = seg;
	a->first_ppn = first_ppn;
	vm->pool_pages += npages;
	return 0;
}

int vm_remove(struct vm *vm, uint64_t start, uint64_t len)
{
	for (int i = 0; i < vm->nareas; i++) {
		struct vm_area *a = &vm->area[i];
		if (a->start == start && (len == 0 || a->end - a->start == ((len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)))) {
			release_area(vm, a);
			vm->area[i] = vm->area[--vm->nareas];
			return 0;
		}
	}
	return -EINVAL;
}

/* Map slot s of area a at va. */
static int map_slot(struct vm *vm, struct vm_area *a, uint64_t va, uint64_t s)
{
	uint64_t pa;

	if (s & VM_LOCAL) {
		pa = SLOT_ADDR(s);
	} else {
		uint64_t dfn;
		int err = xlate_resolve_wait(pmem_xlate(), s >> PAGE_SHIFT, &dfn, msg_poll);
		if (err)
			return err;     /* -ETIMEDOUT: its mover died mid-move */
		pa = pmem_frame_pa(dfn);
	}
	return arch_as_map(vm->root, va, pa, a->prot);
}

static struct vm_seg_maps seg_maps;     /* this node's, since boot */

void vm_seg_maps(struct vm_seg_maps *m)
{
	*m = seg_maps;
}

/*
 * A fault in a shared segment maps the whole 2 MiB around va at once: with
 * one large page when that 2 MiB is all the segment's, its pool pages are
 * 2 MiB aligned and translation backs them with one aligned run of frames
 * (mm/seg.c places a large segment so; a move at 4 KiB granularity breaks
 * the run up, and then the pages are mapped one by one); else page by
 * page, each of its pages there that is not moving. Only va's own page
 * waits out a move: the others are left to fault when touched. A
 * shootdown of any of the pages drops the large page whole
 * (arch_as_unmap); the next touch maps it again, large if it still can be.
 */
static int fault_seg(struct vm *vm, struct vm_area *a, uint64_t va)
{
	uint64_t lo = va & ~(ARCH_LARGE_SIZE - 1), hi = lo + ARCH_LARGE_SIZE, first, dfn, mine;
	int err = xlate_resolve_wait(pmem_xlate(), a->first_ppn + (va - a->start) / PAGE_SIZE,
				     &mine, msg_poll);

	if (err)
		return err;     /* -ETIMEDOUT: its mover died mid-move */
	first = a->first_ppn + (lo - a->start) / PAGE_SIZE;
	if (lo >= a->start && hi <= a->end && !(first % SEG_LARGE_PAGES) &&
	    !xlate_resolve_run(pmem_xlate(), first, SEG_LARGE_PAGES, &dfn) &&
	    !(dfn % SEG_LARGE_PAGES) &&
	    !arch_as_map_large(vm->root, lo, pmem_frame_pa(dfn), a->prot)) {
		seg_maps.large++;
		return 0;
	}
	for (uint64_t p = MAX(lo, a->start); p < MIN(hi, a->end); p += PAGE_SIZE) {
		if (p == va)
			dfn = mine;
		else if (xlate_resolve(pmem_xlate(), a->first_ppn + (p - a->start) / PAGE_SIZE, &dfn))
			continue;       /* moving: it faults when touched */
		err = arch_as_map(vm->root, p, pmem_frame_pa(dfn), a->prot);
		if (err && p == va)
			return err;
		seg_maps.small += !err;
	}
	return 0;
}

int vm_fault(struct vm *vm, uint64_t addr, bool write)
{
	struct vm_area *a = vm_find(vm, addr);

	if (!a || (write && !(a->prot & ARCH_PROT_WRITE)))
		return -EFAULT;
	uint64_t va = addr & ~(PAGE_SIZE - 1), i = (va - a->start) / PAGE_SIZE;
	if (a->seg >= 0)
		return fault_seg(vm, a, va);
	uint64_t s = slot_of(a, i);
	if (!s) {
		struct frame_stats fs;
		frame_stats(&fs);
		bool local = a->place == VM_PLACE_LOCAL || pool.lost ||       /* no pool any more */
			     (a->place == VM_PLACE_ANY && (fs.free > LOCAL_RESERVE_FRAMES || !pool.joined));
		if (local) {
			uint64_t pa = frame_alloc(0);
			if (pa == FRAME_NONE)
				return -ENOMEM;
			memset(phys_to_virt(pa), 0, PAGE_SIZE);
			s = pa | VM_LOCAL;
		} else {
			int64_t ppn = pool.joined ? pmem_alloc(vm->pid) : -ENOMEM;
			if (ppn < 0)
				return -ENOMEM;
			s = ((uint64_t)ppn << PAGE_SHIFT) | VM_POOL;
		}
		if (slots_set(&a->slots, i, s)) {       /* no page for the slot table */
			if (s & VM_LOCAL)
				frame_free(SLOT_ADDR(s), 0);
			else
				pmem_free(s >> PAGE_SHIFT);
			return -ENOMEM;
		}
		if (s & VM_LOCAL)
			vm->local_pages++;
		else
			vm->pool_pages++;
	}
	return map_slot(vm, a, va, s);
}

/* arch/arch.h: the running process's page fault at addr. */
int mm_user_fault(uint64_t addr, bool write)
{
	return current->vm.root ? vm_fault(&current->vm, addr, write) : -EFAULT;
}

int64_t vm_sbrk(struct vm *vm, int64_t incr)
{
	uint64_t old = vm->brk, new = old + incr;
	struct vm_area *a = vm_find(vm, vm->brk_start);

	if (!a || new < vm->brk_start || new > a->start + a->slots.n * PAGE_SIZE)
		return -ENOMEM;
	uint64_t end = MAX((new + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1), a->start + PAGE_SIZE);
	if (end < a->end) {             /* shrinking: pages and slot tables go back */
		uint64_t from = (end - a->start) / PAGE_SIZE;
		for (uint64_t i = slots_next(&a->slots, from); i < a->slots.n; i = slots_next(&a->slots, i + 1))
			release_page(vm, a, i);
		slots_trim(&a->slots, from);
	}
	a->end = end;
	vm->brk = new;
	return (int64_t)old;
}

int vm_check(struct vm *vm, uint64_t addr, uint64_t len, bool write)
{
	uint64_t end = addr + len;

	if (end < addr || end > USER_TOP)
		return -EFAULT;
	while (addr < end) {
		struct vm_area *a = vm_find(vm, addr);
		if (!a || (write && !(a->prot & ARCH_PROT_WRITE)))
			return -EFAULT;
		addr = a->end;
	}
	return 0;
}

/*
 * Fill in the pages of [addr, addr+len) that were never touched, before a
 * copy touches them from the kernel: a page that cannot be had is then an
 * error of the call (-ENOMEM), not a fault in the kernel. (A page already
 * filled in may still fault, when a drain moved it; mapping it again takes
 * no memory.) The range must have passed vm_check.
 */
static int prefault(struct vm *vm, uint64_t addr, uint64_t len, bool write)
{
	for (uint64_t va = addr & ~(PAGE_SIZE - 1); va < addr + len; va += PAGE_SIZE) {
		struct vm_area *a = vm_find(vm, va);
		int err;
		if (!a)
			return -EFAULT;
		if (!slot_of(a, (va - a->start) / PAGE_SIZE) && (err = vm_fault(vm, va, write)))
			return err;
	}
	return 0;
}

int copy_from_user(struct vm *vm, void *dst, uint64_t src, size_t n)
{
	int err = vm_check(vm, src, n, false);

	if (err || (err = prefault(vm, src, n, false)))
		return err;
	memcpy(dst, (const void *)src, n);
	return 0;
}

int copy_to_user(struct vm *vm, uint64_t dst, const void *src, size_t n)
{
	int err = vm_check(vm, dst, n, true);

	if (err || (err = prefault(vm, dst, n, true)))
		return err;
	memcpy((void *)dst, src, n);
	return 0;
}

int strncpy_from_user(struct vm *vm, char *dst, uint64_t src, size_t max)
{
	for (size_t i = 0; i < max; i++) {
		int err;
		if (vm_check(vm, src + i, 1, false))
			return -EFAULT;
		if ((i == 0 || ((src + i) & (PAGE_SIZE - 1)) == 0) && (err = prefault(vm, src + i, 1, false)))
			return err;
		dst[i] = *(const char *)(src + i);
		if (!dst[i])
			return (int)i;
	}
	return -ENAMETOOLONG;
}

int vm_where(struct vm *vm, uint64_t addr)
{
	struct vm_area *a = vm_find(vm, addr);

	if (!a)
		return -EFAULT;
	uint64_t i = ((addr & ~(PAGE_SIZE - 1)) - a->start) / PAGE_SIZE;
	if (!slot_of(a, i) && vm_fault(vm, addr, false))
		return -ENOMEM;
	return slot_of(a, i) & VM_LOCAL ? VM_LOCAL : VM_POOL;
}

void vm_shootdown(struct vm *vm, uint64_t ppn, uint64_t pages)
{
	for (int i = 0; i < vm->nareas; i++) {
		struct vm_area *a = &vm->area[i];
		if (a->place == VM_PLACE_LOCAL)
			continue;
		if (a->seg >= 0) {      /* consecutive pages: map the overlap */
			uint64_t n = (a->end - a->start) / PAGE_SIZE;
			uint64_t lo = MAX(ppn, a->first_ppn), hi = MIN(ppn + pages, a->first_ppn + n);
			for (uint64_t p = lo; p < hi; p++)
				arch_as_unmap(vm->root, a->start + (p - a->first_ppn) * PAGE_SIZE);
			continue;
		}
		for (uint64_t j = slots_next(&a->slots, 0); j < a->slots.n; j = slots_next(&a->slots, j + 1)) {
			uint64_t s = slots_get(&a->slots, j);
			if ((s & VM_POOL) && (s >> PAGE_SHIFT) >= ppn && (s >> PAGE_SHIFT) < ppn + pages)
				arch_as_unmap(vm->root, a->start + j * PAGE_SIZE);
		}
	}
}

/* Is pool page ppn gone (see vm_lost)? */
static bool gone(uint64_t ppn, uint64_t after, uint64_t upto, uint32_t *region)
{
	if (after == VM_LOST_LINK) {
		*region = DM_LOSS_LINK;
		return true;
	}
	return xlate_lost(pmem_xlate(), ppn, after, upto, region);
}

void vm_lost(struct vm *vm, uint64_t after, uint64_t upto, bool drop, vm_lost_fn found,
	     void *ctx)
{
	uint32_t r;

	for (int i = 0; i < vm->nareas; i++) {
		struct vm_area *a = &vm->area[i];
		if (a->place == VM_PLACE_LOCAL)
			continue;
		if (a->seg >= 0) {
			uint64_t n = (a->end - a->start) / PAGE_SIZE;
			for (uint64_t j = 0; j < n; j++)
				if (gone(a->first_ppn + j, after, upto, &r))
					found(ctx, a->start + j * PAGE_SIZE, r, false);
			continue;
		}
		for (uint64_t j = slots_next(&a->slots, 0); j < a->slots.n; j = slots_next(&a->slots, j + 1)) {
			uint64_t s = slots_get(&a->slots, j);
			if (!(s & VM_POOL) || !gone(s >> PAGE_SHIFT, after, upto, &r))
				continue;
			found(ctx, a->start + j * PAGE_SIZE, r, a->optional);
			if (drop && a->optional)
				release_page(vm, a, j);
		}
	}
}

/* Copy into an address space that may not be the current one (loading). */
int vm_copy_in(struct vm *vm, uint64_t va, const void *src, size_t n)
{
	const uint8_t *s = src;

	while (n) {
		struct vm_area *a = vm_find(vm, va);
		if (!a)
			return -EFAULT;
		uint64_t i = ((va & ~(PAGE_SIZE - 1)) - a->start) / PAGE_SIZE;
		if (!slot_of(a, i)) {
			int err = vm_fault(vm, va, false);
			if (err)
				return err;
		}
		uint64_t slot = slot_of(a, i), off = va & (PAGE_SIZE - 1);
		uint8_t *page = slot & VM_LOCAL ? phys_to_virt(SLOT_ADDR(slot))
						: pmem_page(slot >> PAGE_SHIFT);
		size_t k = MIN(n, PAGE_SIZE - off);
		memcpy(page + off, s, k);
		s += k;
		va += k;
		n -= k;
	}
	return 0;
}
