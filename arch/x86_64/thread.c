/*
 * Threads and ring 3: SYSCALL set-up, the kernel stack the CPU switches to
 * on entry from user mode, and the first frames of a new thread, arranged
 * so that arch_switch() to it "returns" into trap_return and from there
 * into user mode with iretq.
 */
#include "arch/arch.h"
#include "arch/x86_64/x86.h"
#include "kernel/kernel.h"

#define MSR_EFER   0xC0000080
#define MSR_STAR   0xC0000081
#define MSR_LSTAR  0xC0000082
#define MSR_FMASK  0xC0000084

extern char syscall_entry[], trap_return[];
extern uint64_t syscall_kstack;

void arch_user_init(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);           /* SCE */
	wrmsr(MSR_STAR, ((uint64_t)(SEG_UDATA - 8) << 48) | ((uint64_t)SEG_KCODE << 32));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_FMASK, 0x200 | 0x400 | 0x100);        /* IF, DF, TF off on entry */
}

void arch_set_kstack(void *top)
{
	syscall_kstack = (uint64_t)top;
	tss_set_rsp0((uint64_t)top);
}

/* What arch_switch() pops: r15 r14 r13 r12 rbx rbp, then its return address. */
struct switch_frame {
	uint64_t r15, r14, r13, r12, rbx, rbp, ret;
};

void *arch_thread_user(void *top, uint64_t entry, uint64_t user_sp)
{
	struct trapframe *tf = (struct trapframe *)top - 1;
	struct switch_frame *sf = (struct switch_frame *)tf - 1;

	memset(tf, 0, sizeof(*tf));
	tf->rip = entry;
	tf->cs = SEG_UCODE | 3;
	tf->rflags = 0x202;                     /* IF */
	tf->rsp = user_sp;
	tf->ss = SEG_UDATA | 3;
	memset(sf, 0, sizeof(*sf));
	sf->ret = (uint64_t)trap_return;
	return sf;
}

/* A kernel thread: arch_switch() to it calls fn() on its own stack. */
void *arch_thread_kernel(void *top, void (*fn)(void))
{
	struct switch_frame *sf = (struct switch_frame *)((uint64_t *)top - 2) - 1;

	memset(sf, 0, sizeof(*sf));
	sf->ret = (uint64_t)fn;
	return sf;
}

void arch_fpu_init(void *area)
{
	static _Alignas(16) uint8_t clean[512];
	static bool have;

	if (!have) {                    /* the CPU's reset state, captured once */
		uint32_t mxcsr = 0x1F80;
		__asm__ volatile("fninit; ldmxcsr %1; fxsave %0" : "=m"(clean) : "m"(mxcsr));
		have = true;
	}
	memcpy(area, clean, sizeof(clean));
}

void arch_fpu_save(void *area)
{
	__asm__ volatile("fxsave (%0)" : : "r"(area) : "memory");
}

void arch_fpu_restore(const void *area)
{
	__asm__ volatile("fxrstor (%0)" : : "r"(area) : "memory");
}

/*
 * Upcalls. A thread that entered the kernel from user mode has its user
 * registers in a struct trapframe at the very top of its kernel stack
 * (syscall_entry and the CPU, through TSS.rsp0, both start there).
 */
_Static_assert(sizeof(struct trapframe) == ARCH_UREGS_SIZE, "ARCH_UREGS_SIZE is the trap frame");

void *arch_uregs(void *top)
{
	return (struct trapframe *)top - 1;
}

uint64_t arch_uregs_sp(const void *uregs)
{
	return ((const struct trapframe *)uregs)->rsp;
}

uint64_t arch_uregs_ret(const void *uregs)
{
	return ((const struct trapframe *)uregs)->rax;
}

int arch_uregs_load(void *uregs, const void *saved)
{
	const struct trapframe *s = saved;
	struct trapframe *tf = uregs;
	const uint64_t user_flags = 0xCD5;      /* CF PF AF ZF SF DF OF */

	if (s->rip >= USER_TOP || s->rsp >= USER_TOP)
		return -EINVAL;
	*tf = *s;
	tf->cs = SEG_UCODE | 3;
	tf->ss = SEG_UDATA | 3;
	tf->rflags = (s->rflags & user_flags) | 0x202;  /* IF on, IOPL 0, no TF */
	return 0;
}

void arch_upcall(void *uregs, uint64_t entry, uint64_t sp, uint64_t arg0, uint64_t arg1)
{
	struct trapframe *tf = uregs;

	tf->rip = entry;
	tf->rsp = sp;
	tf->rdi = arg0;
	tf->rsi = arg1;
	tf->rflags = 0x202;
}
