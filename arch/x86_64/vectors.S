/*
 * Interrupt entry stubs. Each stub makes the stack look the same (a dummy
 * error code where the CPU pushes none, then the vector number), saves the
 * general registers as a struct trapframe and calls trap().
 */
	.text

.macro stub n
	.balign 16
vec\n:
	.if (\n == 8 || (\n >= 10 && \n <= 14) || \n == 17 || \n == 21 || \n == 29 || \n == 30)
	.else
	pushq $0
	.endif
	pushq $\n
	jmp trap_common
.endm

.altmacro
.macro stubs from, to
	stub \from
	.if \to - \from
	stubs %(\from + 1), \to
	.endif
.endm

	stubs 0, 47
	stub 255

trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	movq %rsp, %rbx
	andq $-16, %rsp
	cld
	call trap
	movq %rbx, %rsp
	.globl trap_return
trap_return:                            /* rsp: a struct trapframe */
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq

/*
 * SYSCALL from user mode: interrupts are off (FMASK), rsp is the user's.
 * Build the same trap frame an interrupt from ring 3 would, vector 0x80,
 * on this thread's kernel stack, and go the common way (out by iretq).
 */
	.globl syscall_entry
syscall_entry:
	movq %rsp, syscall_user_rsp(%rip)
	movq syscall_kstack(%rip), %rsp
	pushq $0x1b                     /* ss: SEG_UDATA | 3 */
	pushq syscall_user_rsp(%rip)
	pushq %r11                      /* rflags */
	pushq $0x23                     /* cs: SEG_UCODE | 3 */
	pushq %rcx                      /* rip */
	pushq $0
	pushq $0x80
	jmp trap_common

/* arch_switch(void **save, void *next): save callee-saved state, run next. */
	.globl arch_switch
arch_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

	.data
	.globl syscall_kstack
syscall_kstack:		.quad 0
syscall_user_rsp:	.quad 0
	.text

.macro vecaddr n
	.quad vec\n
.endm
.macro vecaddrs from, to
	vecaddr \from
	.if \to - \from
	vecaddrs %(\from + 1), \to
	.endif
.endm

	.section .rodata
	.balign 8
	.globl trap_vectors, trap_vector_spurious
trap_vectors:
	vecaddrs 0, 47
trap_vector_spurious:
	.quad vec255

	.section .note.GNU-stack, "", @progbits
