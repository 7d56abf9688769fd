/*
 * x86_64 start-up: the first C code. Brings the CPU to a known state,
 * turns the multiboot2 information and the fw_cfg command line into a
 * struct boot_info, installs the kernel page tables and calls kmain().
 */
#include "arch/arch.h"
#include "arch/x86_64/x86.h"
#include "kernel/kernel.h"

#define MB2_TAG_END     0
#define MB2_TAG_CMDLINE 1
#define MB2_TAG_MODULE  3
#define MB2_TAG_MMAP    6
#define MB2_MMAP_RAM    1

struct mb2_tag { uint32_t type, size; };
struct mb2_mmap { uint32_t type, size, entry_size, entry_version; };
struct mb2_mmap_entry { uint64_t base, len; uint32_t type, rsv; };

static struct boot_info bi;

static void parse_multiboot(uint64_t mbi_pa)
{
	const uint8_t *mbi = phys_to_virt(mbi_pa);
	uint32_t total = *(const uint32_t *)mbi;

	bi.reserved_end = (uint64_t)_kernel_end - KERNEL_BASE;
	if (mbi_pa + total > bi.reserved_end)
		bi.reserved_end = mbi_pa + total;
	for (const uint8_t *p = mbi + 8; p < mbi + total;) {
		const struct mb2_tag *t = (const void *)p;
		if (t->type == MB2_TAG_END)
			break;
		if (t->type == MB2_TAG_MODULE && !bi.initrd) {
			const uint32_t *m = (const uint32_t *)(t + 1);   /* mod_start, mod_end */
			bi.initrd = m[0];
			bi.initrd_len = m[1] - m[0];
			if (m[1] > bi.reserved_end)
				bi.reserved_end = m[1];
		} else if (t->type == MB2_TAG_CMDLINE) {
			strlcpy(bi.cmdline, (const char *)(t + 1), sizeof(bi.cmdline));
		} else if (t->type == MB2_TAG_MMAP) {
			const struct mb2_mmap *m = (const void *)t;
			for (const uint8_t *e = p + sizeof(*m); e < p + t->size; e += m->entry_size) {
				const struct mb2_mmap_entry *r = (const void *)e;
				if (r->type == MB2_MMAP_RAM && bi.nram < BOOT_MAX_RANGES)
					bi.ram[bi.nram++] = (struct mem_range){ r->base, r->len };
			}
		}
		p += (t->size + 7) & ~7U;
	}
}

static void enable_sse(void)
{
	uint64_t cr0, cr4;

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	cr0 = (cr0 & ~(1UL << 2)) | (1UL << 1);         /* EM off, MP on */
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 |= (1UL << 9) | (1UL << 10) | (1UL << 7);   /* OSFXSR, OSXMMEXCPT, PGE */
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
}

void arch_start(uint64_t mbi_pa)
{
	char fw[BOOT_CMDLINE_MAX];

	serial_init();
	gdt_init();
	idt_init();
	enable_sse();
	parse_multiboot(mbi_pa);

	uint64_t max_phys = 0;
	for (int i = 0; i < bi.nram; i++)
		if (bi.ram[i].base + bi.ram[i].len > max_phys)
			max_phys = bi.ram[i].base + bi.ram[i].len;
	paging_init(max_phys);

	if (fwcfg_read_file("opt/dmos/cmdline", fw, sizeof(fw)) > 0) {
		size_t n = strlen(bi.cmdline);
		if (n && n + 1 < sizeof(bi.cmdline))
			bi.cmdline[n++] = ' ';
		strlcpy(bi.cmdline + n, fw, sizeof(bi.cmdline) - n);
	}
	kmain(&bi);
}

void arch_late_init(void)
{
	paging_late_init();
	apic_init();
}
