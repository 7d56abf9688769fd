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
