/*
 * Boot entry: GRUB hands us a multiboot2 machine in 32-bit protected mode
 * with paging off. We build just enough page tables to enter long mode with
 * the kernel at its higher-half address, then call arch_start() in C.
 *
 * Early page tables (replaced by paging_init() soon after):
 *   identity        0 .. 4 GiB  -> phys 0 .. 4 GiB  (only for the jump)
 *   direct map      PHYS_BASE + 0 .. 4 GiB
 *   kernel image    KERNEL_BASE + 0 .. 1 GiB
 * all with 2 MiB pages.
 */
#include "arch/x86_64/layout.h"

#define MB2_MAGIC       0xE85250D6
#define MB2_ARCH_I386   0
#define MB2_LOADER_EAX  0x36D76289

#define PTE_P   0x001
#define PTE_W   0x002
#define PTE_PS  0x080

#define LOW(sym) ((sym) - KERNEL_BASE)

	.section .multiboot2, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	/* entry address tag: our ELF entry is a higher-half address */
	.balign 8
	.short 3, 0
	.long 12
	.long _start
	/* end tag */
	.balign 8
	.short 0, 0
	.long 8
mb2_header_end:

	.section .boot.text, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	movl $boot_stack_top, %esp
	movl %eax, %esi                 /* loader magic */
	movl %ebx, %edi                 /* multiboot2 info, physical */
	cmpl $MB2_LOADER_EAX, %esi
	jne boot_fail

	/* four page directories of 2 MiB pages map 0 .. 4 GiB */
	movl $boot_pd, %ebx
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $(PTE_P | PTE_W | PTE_PS), %eax
	movl %eax, (%ebx, %ecx, 8)
	movl %ecx, %eax
	shrl $11, %eax                  /* bits 32+ of (ecx << 21) */
	movl %eax, 4(%ebx, %ecx, 8)
	incl %ecx
	cmpl $2048, %ecx
	jne 1b

	/* boot_pdpt[0..3] -> the four directories */
	movl $boot_pdpt, %ebx
	movl $boot_pd, %eax
	orl $(PTE_P | PTE_W), %eax
	movl $4, %ecx
2:	movl %eax, (%ebx)
	addl $4096, %eax
	addl $8, %ebx
	loop 2b

	/* kernel pdpt: entry 510 (-2 GiB) -> first directory */
	movl $boot_pd, %eax
	orl $(PTE_P | PTE_W), %eax
	movl %eax, boot_pdpt_k + 510 * 8

	movl $boot_pdpt, %eax
	orl $(PTE_P | PTE_W), %eax
	movl %eax, boot_pml4                    /* identity */
	movl %eax, boot_pml4 + 256 * 8          /* direct map */
	movl $boot_pdpt_k, %eax
	orl $(PTE_P | PTE_W), %eax
	movl %eax, boot_pml4 + 511 * 8          /* kernel image */

	movl %cr4, %eax
	orl $0x20, %eax                 /* PAE */
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $0xC0000080, %ecx          /* EFER */
	rdmsr
	orl $0x900, %eax                /* LME | NXE */
	wrmsr
	movl %cr0, %eax
	orl $0x80010001, %eax           /* PG | WP | PE */
	movl %eax, %cr0

	lgdt boot_gdt_ptr
	ljmp $0x08, $boot_long

boot_fail:
	/* not loaded by a multiboot2 loader: say so on COM1 and stop */
	movl $boot_fail_msg, %esi
	movw $0x3F8, %dx
3:	lodsb
	testb %al, %al
	jz 4f
	outb %al, %dx
	jmp 3b
4:	hlt
	jmp 4b

	.code64
boot_long:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movabsq $boot_high, %rax
	jmp *%rax

	.section .boot.data, "aw"
boot_fail_msg:
	.asciz "dmos: not started by a multiboot2 loader, stopping\r\n"
	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00AF9A000000FFFF        /* 64-bit code */
	.quad 0x00CF92000000FFFF        /* data */
boot_gdt_ptr:
	.short boot_gdt_ptr - boot_gdt - 1
	.long boot_gdt

	.section .boot.bss, "aw", @nobits
	.balign 4096
boot_pml4:	.skip 4096
boot_pdpt:	.skip 4096
boot_pdpt_k:	.skip 4096
boot_pd:	.skip 4 * 4096
	.skip 4096
boot_stack_top:

	.text
boot_high:
	movabsq $kstack_top, %rsp
	xorl %ebp, %ebp
	/* rdi still holds the multiboot2 info address */
	call arch_start
5:	cli
	hlt
	jmp 5b

	.bss
	.balign 16
	.globl kstack_bottom, kstack_top
kstack_bottom:
	.skip KSTACK_SIZE
kstack_top:

	.section .note.GNU-stack, "", @progbits
