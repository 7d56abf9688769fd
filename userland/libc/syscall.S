/*
 * long __dm_syscall6(long n, long a, long b, long c, long d, long e, long f)
 *
 * The one way into the kernel (ABI in kernel/sysnum.h): the number goes in
 * rax, the arguments in rdi, rsi, rdx, r10, r8, r9; rcx and r11 are
 * clobbered, which the C calling convention allows anyway.
 */
	.text
	.globl __dm_syscall6
	.type __dm_syscall6, @function
__dm_syscall6:
	.cfi_startproc
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	mov %rcx, %rdx
	mov %r8, %r10
	mov %r9, %r8
	mov 8(%rsp), %r9
	syscall
	ret
	.cfi_endproc
	.size __dm_syscall6, . - __dm_syscall6

	.section .note.GNU-stack, "", @progbits
