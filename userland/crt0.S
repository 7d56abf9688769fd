/*
 * crt0: where every dmos program starts.
 *
 * The kernel enters _start in user mode with the stack laid out as in the
 * SysV x86_64 ABI (and Linux), rsp 16-byte aligned and pointing at argc:
 *
 *   rsp + 0                  argc
 *   rsp + 8                  argv[0] .. argv[argc-1], NULL
 *   rsp + 16 + 8*argc        envp[0] .. envp[n-1], NULL
 *   above                    the strings they point to
 *
 * Other registers hold nothing. _start sets environ, runs the
 * constructors (.init_array), calls main(argc, argv, envp) and hands its
 * result to exit(), which runs atexit handlers (and .fini_array), flushes
 * stdio and ends in _exit.
 */
	.text
	.globl _start
	.type _start, @function
_start:
	.cfi_startproc
	.cfi_undefined rip              /* the outermost frame, for debuggers */
	xor %ebp, %ebp
	mov (%rsp), %r12                /* argc: r12-r14 survive the calls */
	lea 8(%rsp), %r13               /* argv */
	lea 16(%rsp,%r12,8), %r14       /* envp = argv + argc + 1 */
	and $-16, %rsp                  /* the ABI's alignment at each call */
	mov %r14, environ(%rip)
	lea __libc_fini_array(%rip), %rdi
	call atexit
	call __libc_init_array
	mov %r12d, %edi
	mov %r13, %rsi
	mov %r14, %rdx
	call main
	mov %eax, %edi
	call exit
	ud2                             /* exit does not return */
	.cfi_endproc
	.size _start, . - _start

/*
 * newlib's __libc_init_array and __libc_fini_array also call _init and
 * _fini (the old .init/.fini sections); dmos programs have nothing there.
 */
	.globl _init, _fini
	.type _init, @function
	.type _fini, @function
_init:
_fini:
	ret
	.size _init, . - _init
	.size _fini, . - _fini

	.section .note.GNU-stack, "", @progbits
