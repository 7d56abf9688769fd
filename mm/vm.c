/*
 * User address spaces (see vm.h): areas, page faults, placement of pages
 * in local frames or pool pages, and checked copies to and from user space.
 */
#include "kernel/kernel.h"
#include "kernel/pool.h"
#include "kernel/cluster.h"
#include "mm/mm.h"
#include "mm/vm.h"
#include "mm/palloc.h"
#include "mm/pmem.h"
#include "mm/seg.h"
#include "mm/xlate.h"
#include "arch/arch.h"

#define LOCAL_RESERVE_FRAMES 1024       /* transparent placement keeps 4 MiB local free */
#define VM_PID 2                        /* owner pid recorded on user pool pages (for now) */
#define SLOT_ADDR(s) ((s) & ~0xFFFUL)

int vm_init(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->root = arch_as_new();
	return vm->root ? 0 : -ENOMEM;
}

static void release_page(struct vm *vm, struct vm_area *a, uint64_t i)
{
	uint64_t s = a->slot[i];

	if (!s)
		return;
	arch_as_unmap(vm->root, a->start + i * PAGE_SIZE);
	if (s & VM_LOCAL) {
		frame_free(SLOT_ADDR(s), 0);
		vm->local_pages--;
	} else {
		pmem_free(s >> PAGE_SHIFT);
		vm->pool_pages--;
	}
	a->slot[i] = 0;
}

static void release_area(struct vm *vm, struct vm_area *a)
{
	for (uint64_t i = 0; a->seg < 0 && i < (a->end - a->start) / PAGE_SIZE; i++)
		release_page(vm, a, i);
	if (a->seg >= 0) {              /* the segment's pages are its own, not ours */
		for (uint64_t i = 0; i < a->nslots; i++)
			arch_as_unmap(vm->root, a->start + i * PAGE_SIZE);
		vm->pool_pages -= a->nslots;
		seg_put(a->seg);
	}
	kfree(a->slot);
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
	uint64_t n = (end - start) / PAGE_SIZE;
	uint64_t *slot = kzalloc(n * sizeof(uint64_t));
	if (!slot)
		return -ENOMEM;
	vm->area[vm->nareas++] = (struct vm_area){ start, end, prot, place, optional, slot, n, -1 };
	return 0;
}

int vm_add_shared(struct vm *vm, uint64_t start, uint64_t first_ppn, uint64_t npages, int seg)
{
	int err = vm_add(vm, start, npages * PAGE_SIZE, ARCH_PROT_WRITE, VM_PLACE_POOL, false);

	if (err)
		return err;
	struct vm_area *a = &vm->area[vm->nareas - 1];
	for (uint64_t i = 0; i < npages; i++)
		a->slot[i] = ((first_ppn + i) << PAGE_SHIFT) | VM_POOL;
	a->seg = seg;
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
		int err;
		while ((err = xlate_resolve(pool.xlate, s >> PAGE_SHIFT, &dfn)) == -EBUSY) {
			msg_poll();             /* being moved: the mover may wait for our ack */
			arch_cpu_relax();
		}
		if (err)
			return err;
		pa = pool.frames_pa + (dfn << PAGE_SHIFT);
	}
	return arch_as_map(vm->root, va, pa, a->prot);
}

int vm_fault(struct vm *vm, uint64_t addr, bool write)
{
	struct vm_area *a = vm_find(vm, addr);

	if (!a || (write && !(a->prot & ARCH_PROT_WRITE)))
		return -EFAULT;
	uint64_t va = addr & ~(PAGE_SIZE - 1), i = (va - a->start) / PAGE_SIZE;
	uint64_t s = a->slot[i];
	if (!s) {
		struct frame_stats fs;
		frame_stats(&fs);
		bool local = a->place == VM_PLACE_LOCAL ||
			     (a->place == VM_PLACE_ANY && (fs.free > LOCAL_RESERVE_FRAMES || !pool.joined));
		if (local) {
			uint64_t pa = frame_alloc(0);
			if (pa == FRAME_NONE)
				return -ENOMEM;
			memset(phys_to_virt(pa), 0, PAGE_SIZE);
			s = pa | VM_LOCAL;
			vm->local_pages++;
		} else {
			int64_t ppn = pool.joined ? pmem_alloc(VM_PID) : -ENOMEM;
			if (ppn < 0)
				return -ENOMEM;
			s = ((uint64_t)ppn << PAGE_SHIFT) | VM_POOL;
			vm->pool_pages++;
		}
		a->slot[i] = s;
	}
	return map_slot(vm, a, va, s);
}

int64_t vm_sbrk(struct vm *vm, int64_t incr)
{
	uint64_t old = vm->brk, new = old + incr;
	struct vm_area *a = vm_find(vm, vm->brk_start);

	if (!a || new < vm->brk_start || new > a->start + a->nslots * PAGE_SIZE)
		return -ENOMEM;
	uint64_t end = (new + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	for (uint64_t va = end; va < a->end; va += PAGE_SIZE)      /* shrinking */
		release_page(vm, a, (va - a->start) / PAGE_SIZE);
	a->end = MAX(end, a->start + PAGE_SIZE);
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

int copy_from_user(struct vm *vm, void *dst, uint64_t src, size_t n)
{
	if (vm_check(vm, src, n, false))
		return -EFAULT;
	memcpy(dst, (const void *)src, n);      /* faults fill pages in */
	return 0;
}

int copy_to_user(struct vm *vm, uint64_t dst, const void *src, size_t n)
{
	if (vm_check(vm, dst, n, true))
		return -EFAULT;
	memcpy((void *)dst, src, n);
	return 0;
}

int strncpy_from_user(struct vm *vm, char *dst, uint64_t src, size_t max)
{
	for (size_t i = 0; i < max; i++) {
		if (vm_check(vm, src + i, 1, false))
			return -EFAULT;
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
	if (!a->slot[i] && vm_fault(vm, addr, false))
		return -ENOMEM;
	return a->slot[i] & VM_LOCAL ? VM_LOCAL : VM_POOL;
}

void vm_shootdown(struct vm *vm, uint64_t ppn, uint64_t pages)
{
	for (int i = 0; i < vm->nareas; i++) {
		struct vm_area *a = &vm->area[i];
		if (a->place == VM_PLACE_LOCAL)
			continue;
		for (uint64_t j = 0; j < (a->end - a->start) / PAGE_SIZE; j++) {
			uint64_t s = a->slot[j];
			if ((s & VM_POOL) && (s >> PAGE_SHIFT) >= ppn && (s >> PAGE_SHIFT) < ppn + pages)
				arch_as_unmap(vm->root, a->start + j * PAGE_SIZE);
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
		if (!a->slot[i]) {
			int err = vm_fault(vm, va, false);
			if (err)
				return err;
		}
		uint64_t slot = a->slot[i], off = va & (PAGE_SIZE - 1);
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
