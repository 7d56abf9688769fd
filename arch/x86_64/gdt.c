/*
 * Segments: flat kernel and user code/data, and one TSS whose IST1 stack
 * catches double faults (a kernel stack overflow still gets a register dump)
 * and whose IST2 stack takes NMIs (which may come between SYSCALL and the
 * switch to the kernel stack).
 * The user selectors are ordered for SYSRET: data at 0x18, code at 0x20.
 */
#include "arch/x86_64/x86.h"

struct tss {
	uint32_t rsv0;
	uint64_t rsp[3];
	uint64_t rsv1;
	uint64_t ist[7];
	uint64_t rsv2;
	uint16_t rsv3, iomap;
} __attribute__((packed));

static struct tss tss;
static uint64_t gdt[7];
static uint8_t df_stack[8192] __attribute__((aligned(16)));
static uint8_t nmi_stack[4096] __attribute__((aligned(16)));

void gdt_init(void)
{
	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;

	gdt[0] = 0;
	gdt[1] = 0x00AF9A000000FFFF;    /* kernel code, 64-bit */
	gdt[2] = 0x00CF92000000FFFF;    /* kernel data */
	gdt[3] = 0x00CFF2000000FFFF;    /* user data, DPL 3 */
	gdt[4] = 0x00AFFA000000FFFF;    /* user code, DPL 3, 64-bit */
	gdt[5] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89UL << 40) |
		 (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
	gdt[6] = base >> 32;
	tss.ist[0] = (uint64_t)(df_stack + sizeof(df_stack));
	tss.ist[1] = (uint64_t)(nmi_stack + sizeof(nmi_stack));
	tss.rsp[0] = (uint64_t)kstack_top;
	tss.iomap = sizeof(tss);

	struct { uint16_t len; uint64_t addr; } __attribute__((packed)) ptr = {
		sizeof(gdt) - 1, (uint64_t)gdt,
	};
	__asm__ volatile(
		"lgdt %0\n\t"
		"pushq %1\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"movw %w2, %%ax\n\t"
		"movw %%ax, %%ds\n\t"
		"movw %%ax, %%es\n\t"
		"movw %%ax, %%ss\n\t"
		"ltr %w3"
		: : "m"(ptr), "i"(SEG_KCODE), "r"(SEG_KDATA), "r"(SEG_TSS) : "rax", "memory");
}

void tss_set_rsp0(uint64_t rsp)
{
	tss.rsp[0] = rsp;
}
