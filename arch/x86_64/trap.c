/*
 * The IDT and the one C entry for every trap. A CPU exception in the kernel
 * is fatal for this node only: we print the registers and the faulting
 * address, let the kernel mark the node halted in the pool, and stop the
 * CPU. The other nodes of the cluster keep running.
 */
#include "arch/arch.h"
#include "arch/x86_64/x86.h"
#include "kernel/kernel.h"
#include "sched/sched.h"
#include "userland/include/dm_abi.h"

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

static struct idt_entry idt[256];
extern const uint64_t trap_vectors[48], trap_vector_spurious[1];

static const char *const exc_names[32] = {
	"divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
	"invalid opcode", "device not available", "double fault", "coprocessor overrun",
	"invalid TSS", "segment not present", "stack fault", "general protection",
	"page fault", "reserved", "x87 floating point", "alignment check",
	"machine check", "SIMD floating point", "virtualization", "control protection",
};

static void (*timer_tick)(void);

static void (*irq_handlers[48 - VEC_FIRST_IRQ])(void);    /* MSI vectors */

static void set_gate(int vec, uint64_t handler, int ist)
{
	idt[vec] = (struct idt_entry){
		.off_lo = handler & 0xFFFF, .sel = SEG_KCODE, .ist = (uint8_t)ist,
		.type = 0x8E, .off_mid = (handler >> 16) & 0xFFFF, .off_hi = handler >> 32,
	};
}

void idt_init(void)
{
	for (int v = 0; v < 48; v++)
		set_gate(v, trap_vectors[v], v == 8 ? 1 : v == 2 ? 2 : 0);
	set_gate(VEC_SPURIOUS, trap_vector_spurious[0], 0);
	struct { uint16_t len; uint64_t addr; } __attribute__((packed)) ptr = {
		sizeof(idt) - 1, (uint64_t)idt,
	};
	__asm__ volatile("lidt %0" : : "m"(ptr));
}

void arch_timer_set_tick(void (*tick)(void))
{
	timer_tick = tick;
}

/* Give handler a vector of its own. Return: the vector, or -1. */
int arch_irq_handler(void (*handler)(void))
{
	for (int i = 0; i < (int)ARRAY_SIZE(irq_handlers); i++) {
		if (!irq_handlers[i]) {
			irq_handlers[i] = handler;
			return VEC_FIRST_IRQ + i;
		}
	}
	return -1;
}

static void dump(const struct trapframe *tf)
{
	const char *name = tf->vector < 32 && exc_names[tf->vector] ? exc_names[tf->vector] : "unknown";

	printk("*** CPU exception %lu (%s), error code 0x%lx\n", tf->vector, name, tf->error);
	if (tf->vector == 14)
		printk("faulting address 0x%016lx (%s, %s, %s)\n", read_cr2(),
		       tf->error & 1 ? "protection" : "not present",
		       tf->error & 2 ? "write" : "read",
		       tf->error & 16 ? "instruction fetch" : tf->error & 4 ? "user" : "kernel");
	printk("rip %04lx:%016lx  rflags %016lx  cr3 %016lx\n", tf->cs, tf->rip, tf->rflags, read_cr3());
	printk("rsp %04lx:%016lx  cr2 %016lx\n", tf->ss, tf->rsp, read_cr2());
	printk("rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
	printk("rsi %016lx rdi %016lx rbp %016lx r8  %016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->r8);
	printk("r9  %016lx r10 %016lx r11 %016lx r12 %016lx\n", tf->r9, tf->r10, tf->r11, tf->r12);
	printk("r13 %016lx r14 %016lx r15 %016lx\n", tf->r13, tf->r14, tf->r15);
	const uint64_t *sp = (const uint64_t *)tf->rsp;
	if (tf->rsp >= (uint64_t)kstack_bottom && tf->rsp + 32 <= (uint64_t)kstack_top)
		printk("stack %016lx %016lx %016lx %016lx\n", sp[0], sp[1], sp[2], sp[3]);
}

/* A trap from user mode: a system call, an interrupt, or a fault of the process. */
static void user_trap(struct trapframe *tf)
{
	if (tf->vector == VEC_SYSCALL) {
		arch_irq_enable();
		tf->rax = syscall(tf->rax, tf->rdi, tf->rsi, tf->rdx, tf->r10, tf->r8, tf->r9);
		arch_irq_disable();
	} else if (tf->vector == VEC_TIMER) {
		if (timer_tick)
			timer_tick();
		apic_eoi();
	} else if (tf->vector >= VEC_FIRST_IRQ && tf->vector < 48 &&
		   irq_handlers[tf->vector - VEC_FIRST_IRQ]) {
		irq_handlers[tf->vector - VEC_FIRST_IRQ]();
		apic_eoi();
	} else if (tf->vector == 14) {
		int err = mm_user_fault(read_cr2(), tf->error & 2);
		/* Memory it may use but no page to be had: it dies of that, as
		 * by SIGKILL like Linux's OOM killer, not of a bad address. */
		if (err == -ENOMEM)
			proc_fault("out of memory", DM_SIGKILL, tf->rip, read_cr2());
		else if (err)
			proc_fault("page fault", DM_SIGSEGV, tf->rip, read_cr2());
	} else if (tf->vector < 32) {
		proc_fault(exc_names[tf->vector] ? exc_names[tf->vector] : "CPU exception", DM_SIGSEGV,
			   tf->rip, 0);
	}
	sched_user_return();
}

void trap(struct trapframe *tf)
{
	static int fatal;

	/* An NMI (what the fabric raises when the pool link goes down) runs on
	 * its own stack (IST2), from user or kernel mode alike: it only sets a
	 * flag, and goes straight back, never through the scheduler. */
	if (tf->vector == 2) {
		kernel_on_nmi();
		return;
	}
	if (tf->cs & 3) {
		user_trap(tf);
		return;
	}
	if (tf->vector == VEC_TIMER) {
		if (timer_tick)
			timer_tick();
		apic_eoi();
		return;
	}
	if (tf->vector == VEC_SPURIOUS)
		return;
	if (tf->vector >= VEC_FIRST_IRQ && tf->vector < 48 && irq_handlers[tf->vector - VEC_FIRST_IRQ]) {
		irq_handlers[tf->vector - VEC_FIRST_IRQ]();
		apic_eoi();
		return;
	}
	if (tf->vector >= 32) {
		printk("unexpected interrupt %lu\n", tf->vector);
		apic_eoi();
		return;
	}
	if (tf->vector == 14 && !(tf->error & 1) && mm_pool_fault(read_cr2()))
		return;
	if (tf->vector == 14 && read_cr2() < USER_TOP && mm_user_fault(read_cr2(), tf->error & 2) == 0)
		return;                 /* a checked copy to or from user memory mapped a page again */
	if (fatal++)            /* faulted while reporting a fault */
		arch_halt();
	dump(tf);
	kernel_on_fatal();
	arch_halt();
}

bool arch_fault(const char *kind)
{
	if (!strcmp(kind, "pf")) {
		*(volatile uint64_t *)0xdead000 = 1;
	} else if (!strcmp(kind, "ud")) {
		__asm__ volatile("ud2");
	} else if (!strcmp(kind, "gp")) {
		*(volatile uint64_t *)0x8000000000000000 = 1;   /* non-canonical */
	} else if (!strcmp(kind, "de")) {
		__asm__ volatile("xor %%ecx, %%ecx; div %%rcx" : : : "rax", "rcx", "rdx");
	} else {
		return false;
	}
	return true;
}
