/*
 * Kernel page tables. One set, built once at boot:
 *   - the direct map: all local RAM at PHYS_BASE, with 1 GiB pages;
 *   - the kernel image at KERNEL_BASE, one 1 GiB page over phys 0;
 *   - the pool window at POOL_BASE, 2 MiB pages over the ivshmem BAR;
 *   - device registers at MMIO_BASE, 4 KiB uncached pages.
 * The low half stays empty (it is for user space), so a NULL dereference in
 * the kernel faults.
 *
 * A virtual address splits into table indices like this:
 *   47      39 38      30 29      21 20      12 11         0
 *   | PML4    | PDPT     | PD       | PT       | offset     |
 */
#include "arch/arch.h"
#include "arch/x86_64/x86.h"
#include "kernel/kernel.h"
#include "mm/mm.h"

#define PTE_P   0x001UL
#define PTE_W   0x002UL
#define PTE_U   0x004UL
#define PTE_PWT 0x008UL
#define PTE_PCD 0x010UL
#define PTE_PS  0x080UL
#define PTE_G   0x100UL
#define PTE_NX  (1UL << 63)
#define PTE_ADDR 0x000FFFFFFFFFF000UL

#define IDX(va, level) (((va) >> (12 + 9 * (level))) & 511)

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt_direct[512] __attribute__((aligned(4096)));
static uint64_t pdpt_kernel[512] __attribute__((aligned(4096)));
static uint64_t mmio_next = MMIO_BASE;

void *phys_to_virt(uint64_t pa)
{
	return (void *)(pa + PHYS_BASE);
}

uint64_t virt_to_phys(const void *va)
{
	uint64_t a = (uint64_t)va;

	return a >= KERNEL_BASE ? a - KERNEL_BASE : a - PHYS_BASE;
}

void paging_init(uint64_t max_phys)
{
	uint32_t a, b, c, d;
	uint64_t gib = (max_phys + (1UL << 30) - 1) >> 30;

	cpuid(0x80000001, &a, &b, &c, &d);
	if (!(d & (1U << 26)))
		panic("paging: this CPU has no 1 GiB pages (pdpe1gb); start QEMU with -cpu max");
	if (gib > 512)
		panic("paging: %lu GiB of RAM is more than the direct map holds (512)", gib);
	for (uint64_t i = 0; i < gib; i++)
		pdpt_direct[i] = (i << 30) | PTE_P | PTE_W | PTE_PS | PTE_G | PTE_NX;
	pdpt_kernel[IDX(KERNEL_BASE, 2)] = 0 | PTE_P | PTE_W | PTE_PS | PTE_G;
	pml4[IDX(PHYS_BASE, 3)] = virt_to_phys(pdpt_direct) | PTE_P | PTE_W;
	pml4[IDX(KERNEL_BASE, 3)] = virt_to_phys(pdpt_kernel) | PTE_P | PTE_W;
	write_cr3(virt_to_phys(pml4));
}

/*
 * The entry for va at the given level (0 = PT) in the tables under root,
 * making tables on the way when create is set (user ones for user addresses).
 */
static uint64_t *walk_in(uint64_t *root, uint64_t va, int level, bool create)
{
	uint64_t *table = root;
	uint64_t user = va < USER_TOP ? PTE_U : 0;

	for (int l = 3; l > level; l--) {
		uint64_t *e = &table[IDX(va, l)];
		if (!(*e & PTE_P)) {
			if (!create)
				return NULL;
			uint64_t pa = frame_alloc(0);
			if (pa == FRAME_NONE)
				return NULL;
			memset(phys_to_virt(pa), 0, PAGE_SIZE);
			*e = pa | PTE_P | PTE_W | user;
		}
		if (*e & PTE_PS)
			return NULL;    /* already covered by a large page */
		table = phys_to_virt(*e & PTE_ADDR);
	}
	return &table[IDX(va, level)];
}

static uint64_t *walk(uint64_t va, int level)
{
	return walk_in(pml4, va, level, true);
}

/* Kernel-half tables every address space shares: made once, before any is copied. */
void paging_late_init(void)
{
	static const uint64_t shared[] = { POOL_BASE, POOLMEM_BASE, MMIO_BASE };

	for (unsigned i = 0; i < ARRAY_SIZE(shared); i++)
		if (!walk(shared[i], 2))
			panic("paging: out of memory for kernel page tables");
}

/* --- user address spaces ------------------------------------------------ */

uint64_t *arch_as_new(void)
{
	uint64_t pa = frame_alloc(0);

	if (pa == FRAME_NONE)
		return NULL;
	uint64_t *root = phys_to_virt(pa);
	memset(root, 0, PAGE_SIZE / 2);
	memcpy(root + 256, pml4 + 256, PAGE_SIZE / 2);  /* the kernel half, shared */
	return root;
}

static void free_level(uint64_t *table, int level)
{
	for (int i = 0; i < 512; i++) {
		uint64_t e = table[i];
		if (!(e & PTE_P) || level == 1 || (e & PTE_PS))
			continue;       /* a large page maps memory that is not ours to free */
		free_level(phys_to_virt(e & PTE_ADDR), level - 1);
		frame_free(e & PTE_ADDR, 0);
	}
}

/* Free the page-table pages of the user half (not the pages they map). */
void arch_as_free(uint64_t *root)
{
	for (int i = 0; i < 256; i++) {
		if (root[i] & PTE_P) {
			free_level(phys_to_virt(root[i] & PTE_ADDR), 3);
			frame_free(root[i] & PTE_ADDR, 0);
		}
	}
	frame_free(virt_to_phys(root), 0);
}

int arch_as_map(uint64_t *root, uint64_t va, uint64_t pa, int prot)
{
	uint64_t *e = walk_in(root, va, 0, true);

	if (!e)
		return -ENOMEM;
	*e = pa | PTE_P | PTE_U | (prot & ARCH_PROT_WRITE ? PTE_W : 0) |
	     (prot & ARCH_PROT_EXEC ? 0 : PTE_NX);
	return 0;
}

/* The present entry that maps va, 4 KiB (level 0) or 2 MiB (level 1), or NULL. */
static uint64_t *mapping_of(uint64_t *root, uint64_t va, int *level)
{
	uint64_t *table = root;

	for (int l = 3; l >= 0; l--) {
		uint64_t *e = &table[IDX(va, l)];
		if (!(*e & PTE_P))
			return NULL;
		if (l == 0 || (l == 1 && (*e & PTE_PS))) {
			*level = l;
			return e;
		}
		if (*e & PTE_PS)
			return NULL;    /* a 1 GiB page: never in a user half */
		table = phys_to_virt(*e & PTE_ADDR);
	}
	return NULL;
}

int arch_as_map_large(uint64_t *root, uint64_t va, uint64_t pa, int prot)
{
	uint64_t *e, *pt;

	if (((va | pa) & (ARCH_LARGE_SIZE - 1)) || va >= USER_TOP)
		return -EINVAL;
	if (!(e = walk_in(root, va, 1, true)))
		return -ENOMEM;
	if ((*e & PTE_P) && !(*e & PTE_PS)) {   /* a page table, left by 4 KiB mappings */
		pt = phys_to_virt(*e & PTE_ADDR);
		for (int i = 0; i < 512; i++)
			if (pt[i] & PTE_P)
				return -EEXIST;
		*e = 0;
		if (root == arch_as_current())  /* the walk may have cached the table */
			__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
		frame_free(virt_to_phys(pt), 0);
	}
	*e = pa | PTE_P | PTE_U | PTE_PS | (prot & ARCH_PROT_WRITE ? PTE_W : 0) |
	     (prot & ARCH_PROT_EXEC ? 0 : PTE_NX);
	return 0;
}

/* Drop va's mapping, all 2 MiB of it if large; Return: the physical address va had, or 0. */
uint64_t arch_as_unmap(uint64_t *root, uint64_t va)
{
	int level;
	uint64_t *e = mapping_of(root, va, &level), pa;

	if (!e)
		return 0;
	pa = level ? (*e & PTE_ADDR & ~(ARCH_LARGE_SIZE - 1)) + (va & (ARCH_LARGE_SIZE - 1) & ~(PAGE_SIZE - 1))
		   : *e & PTE_ADDR;
	*e = 0;
	if (root == arch_as_current())
		__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
	return pa;
}

uint64_t *arch_as_current(void)
{
	return phys_to_virt(read_cr3() & PTE_ADDR);
}

void arch_as_switch(uint64_t *root)
{
	uint64_t *r = root ? root : pml4;

	if (r != arch_as_current())
		write_cr3(virt_to_phys(r));
}

void *arch_map_pool(uint64_t pa, uint64_t size)
{
	const uint64_t big = 2UL << 20;

	if ((pa | size) & (big - 1))
		panic("paging: pool BAR 0x%lx+0x%lx is not 2 MiB aligned", pa, size);
	for (uint64_t off = 0; off < size; off += big) {
		uint64_t *e = walk(POOL_BASE + off, 1);
		if (!e)
			panic("paging: out of memory mapping the pool window");
		*e = (pa + off) | PTE_P | PTE_W | PTE_PS | PTE_G | PTE_NX;
	}
	return (void *)POOL_BASE;
}

void *arch_map_mmio(uint64_t pa, uint64_t size)
{
	uint64_t start = mmio_next, off0 = pa & (PAGE_SIZE - 1);

	pa -= off0;
	for (uint64_t off = 0; off < size + off0; off += PAGE_SIZE) {
		uint64_t *e = walk(mmio_next, 0);
		if (!e)
			return NULL;
		*e = (pa + off) | PTE_P | PTE_W | PTE_PCD | PTE_PWT | PTE_G | PTE_NX;
		mmio_next += PAGE_SIZE;
	}
	return (void *)(start + off0);
}

uint8_t *arch_poolmem(void)
{
	return (uint8_t *)POOLMEM_BASE;
}

int arch_poolmem_map(uint64_t ppn, uint64_t device_pa)
{
	uint64_t *e = walk(POOLMEM_BASE + (ppn << PAGE_SHIFT), 0);

	if (!e)
		return -ENOMEM;
	*e = device_pa | PTE_P | PTE_W | PTE_NX;
	return 0;
}

void arch_poolmem_unmap(uint64_t ppn, uint64_t pages)
{
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t va = POOLMEM_BASE + ((ppn + i) << PAGE_SHIFT);
		uint64_t *table = pml4;
		int l;
		for (l = 3; l > 0; l--) {
			uint64_t e = table[IDX(va, l)];
			if (!(e & PTE_P) || (e & PTE_PS))
				break;
			table = phys_to_virt(e & PTE_ADDR);
		}
		if (l == 0 && (table[IDX(va, 0)] & PTE_P)) {
			table[IDX(va, 0)] = 0;
			__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
		}
	}
}
