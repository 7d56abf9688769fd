/*
 * The contract between generic dmos code and the architecture.
 *
 * arch/x86_64 brings the CPU up (long mode, GDT/IDT, paging with a direct
 * map of local RAM), fills a struct boot_info and calls kmain(). Generic
 * code then asks for everything machine-specific through the arch_*
 * functions below and never touches a port, MSR or page-table bit itself.
 */
#ifndef ARCH_ARCH_H
#define ARCH_ARCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "arch/x86_64/layout.h"  /* USER_TOP: where user space ends */

#define PAGE_SIZE   4096UL
#define PAGE_SHIFT  12

#define BOOT_MAX_RANGES 64
#define BOOT_CMDLINE_MAX 512

struct mem_range {
	uint64_t base, len;     /* physical bytes of usable RAM */
};

/* What the boot loader and firmware told us, in a machine-neutral form. */
struct boot_info {
	char cmdline[BOOT_CMDLINE_MAX];     /* boot loader's line, then fw_cfg's */
	struct mem_range ram[BOOT_MAX_RANGES];
	int nram;
	uint64_t reserved_end;  /* phys: kernel image and boot data end here */
	uint64_t initrd, initrd_len;    /* phys: the boot module with the programs */
};

/* Generic start-up, called once by the arch code with interrupts off. */
void kmain(struct boot_info *bi) __attribute__((noreturn));

/* Called by kmain once frames can be allocated: interrupt controller, timer. */
void arch_late_init(void);

/* Address translation for the direct map of local RAM. */
void *phys_to_virt(uint64_t pa);
uint64_t virt_to_phys(const void *va);

/* Console: raw bytes out, one byte in (-1 when none is waiting). */
void arch_console_write(const char *s, size_t n);
int arch_console_getc(void);

/* Time since boot in nanoseconds (TSC, calibrated against the PIT). */
uint64_t arch_time_ns(void);

/* Wall-clock seconds since 1970 from the real-time clock (slow: read it once). */
uint64_t arch_rtc_seconds(void);

/* Start the periodic local timer; tick() runs in interrupt context. */
void arch_timer_start(unsigned hz, void (*tick)(void));

void arch_irq_enable(void);
void arch_irq_disable(void);
uint64_t arch_irq_save(void);           /* disable; Return: the previous state */
void arch_irq_restore(uint64_t flags);

/*
 * An MSI for handler(): fills the address/data pair a device writes to
 * raise it on this CPU. Return: 0, or -1 when no vector is left.
 */
int arch_msi(void (*handler)(void), uint64_t *addr, uint32_t *data);
void arch_idle(void);                   /* enable interrupts, wait for one */
void arch_halt(void) __attribute__((noreturn));     /* stop this node for good */
void arch_cpu_relax(void);

/*
 * Write back (and invalidate) the cache lines of [p, p+n). The emulated pool
 * is coherent, but real CXL memory shared between hosts is not: every
 * store other nodes must see is followed by arch_pool_flush().
 */
void arch_pool_flush(const volatile void *p, size_t n);

/* Called by the trap code just before a node stops on an exception. */
void kernel_on_fatal(void);

/* Called by the trap code on an NMI, whatever was running: set a flag, no more. */
void kernel_on_nmi(void);

/* PCI configuration space, by bus/device/function. */
uint32_t arch_pci_read(unsigned bus, unsigned dev, unsigned fn, unsigned off);
void arch_pci_write(unsigned bus, unsigned dev, unsigned fn, unsigned off, uint32_t v);

/* I/O port space, for device registers behind an I/O BAR: size is 1, 2 or 4 bytes. */
uint32_t arch_pio_read(uint16_t port, unsigned size);
void arch_pio_write(uint16_t port, unsigned size, uint32_t v);

/*
 * Map [pa, pa+size) of device memory at the pool window, write-back cached
 * (the pool is memory, not registers). Return: the window's address.
 */
void *arch_map_pool(uint64_t pa, uint64_t size);

/*
 * Pool memory by pool address: the window where pool page ppn sits at
 * arch_poolmem() + ppn * PAGE_SIZE. Nothing is mapped there at first; a
 * kernel access faults and mm_pool_fault() maps the device frame that
 * translation names. Unmapping drops this node's TLB entries.
 */
uint8_t *arch_poolmem(void);
int arch_poolmem_map(uint64_t ppn, uint64_t device_pa);
void arch_poolmem_unmap(uint64_t ppn, uint64_t pages);

/* Called for a page fault at addr; Return: true if handled (retry the access). */
bool mm_pool_fault(uint64_t addr);

/*
 * Called for a page fault at a user address (below USER_TOP), from user
 * mode or from a checked copy in the kernel: fill in the page of the
 * running thread's address space. Return: 0 if it was filled in (retry the
 * access); -ENOMEM if the address is the thread's but no page was to be
 * had; another negative errno if it is not (no address space, no area
 * there, a write to a read-only one).
 */
int mm_user_fault(uint64_t addr, bool write);

/*
 * User address spaces: a root page table whose kernel half is shared by
 * all. Mappings are 4 KiB pages in the user half (below USER_TOP), or
 * ARCH_LARGE_SIZE ones (arch_as_map_large: va and pa aligned to it; -EEXIST
 * while 4 KiB pages are mapped in that range). arch_as_unmap() drops the
 * mapping of va: the whole large page, if one covers it.
 */
#define ARCH_PROT_WRITE 1
#define ARCH_PROT_EXEC  2
#define ARCH_LARGE_SIZE (2UL << 20)
uint64_t *arch_as_new(void);
void arch_as_free(uint64_t *root);
int arch_as_map(uint64_t *root, uint64_t va, uint64_t pa, int prot);
int arch_as_map_large(uint64_t *root, uint64_t va, uint64_t pa, int prot);
uint64_t arch_as_unmap(uint64_t *root, uint64_t va);
uint64_t *arch_as_current(void);
void arch_as_switch(uint64_t *root);    /* NULL: the kernel's own tables */

/*
 * Threads. arch_switch() saves the running thread's registers, storing its
 * stack pointer in *save, and continues the thread whose saved stack
 * pointer is next. A new thread's first stack pointer comes from
 * arch_thread_user() (it starts in user mode at entry with stack user_sp)
 * or arch_thread_kernel() (it calls fn).
 */
void arch_user_init(void);
void arch_switch(void **save, void *next);
void *arch_thread_user(void *kstack_top, uint64_t entry, uint64_t user_sp);
void *arch_thread_kernel(void *kstack_top, void (*fn)(void));
void arch_set_kstack(void *top);        /* where traps from user mode land */

/*
 * Upcalls: a thread that entered the kernel from user mode has its user
 * registers saved on its kernel stack, ARCH_UREGS_SIZE bytes that generic
 * code may copy out to user memory and load back later, so the thread can
 * run a handler in user mode and then go on where it was.
 *   arch_uregs()      the saved registers of the thread whose stack it is
 *   arch_uregs_sp()   its user stack pointer
 *   arch_uregs_load() take registers saved earlier (they came back from user
 *                     memory: -EINVAL unless they resume in user space)
 *   arch_upcall()     return to user mode at entry(arg0, arg1) with stack sp
 *                     (16-byte aligned, no return address pushed)
 */
#define ARCH_UREGS_SIZE 176
void *arch_uregs(void *kstack_top);
uint64_t arch_uregs_sp(const void *uregs);
uint64_t arch_uregs_ret(const void *uregs);     /* the register a syscall's result goes in */
int arch_uregs_load(void *uregs, const void *saved);
void arch_upcall(void *uregs, uint64_t entry, uint64_t sp, uint64_t arg0, uint64_t arg1);

/* x87/SSE state of user threads (the kernel uses none): 512 bytes, 16-aligned. */
void arch_fpu_init(void *area);         /* a clean state for a new thread */
void arch_fpu_save(void *area);
void arch_fpu_restore(const void *area);

/* Map device registers uncached. Return: their address, or NULL. */
void *arch_map_mmio(uint64_t pa, uint64_t size);

/* Deliberately take a CPU exception of the given kind ("pf", "ud", "gp", "de"). */
bool arch_fault(const char *kind);

#endif
