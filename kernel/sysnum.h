/*
 * System call numbers: the one list shared by the kernel's syscall table
 * (kernel/syscall.c) and the user-side stubs (userland/libc/syscalls.c).
 *
 * ABI (x86_64, like Linux's): `syscall` with the number in rax and the
 * arguments in rdi, rsi, rdx, r10, r8, r9; the result comes back in rax,
 * a negative errno on failure. rcx and r11 are clobbered.
 */
#ifndef KERNEL_SYSNUM_H
#define KERNEL_SYSNUM_H

#define SYS_exit         1      /* (int status) -> never returns */
#define SYS_write        2      /* (int fd, const void *buf, size_t n) -> bytes */
#define SYS_read         3      /* (int fd, void *buf, size_t n) -> bytes, 0 at end */
#define SYS_open         4      /* (const char *path, int flags, int mode) -> fd */
#define SYS_close        5      /* (int fd) */
#define SYS_lseek        6      /* (int fd, long off, int whence) -> new offset */
#define SYS_fstat        7      /* (int fd, struct dm_stat *st) */
#define SYS_sbrk         8      /* (long increment) -> old break, or -errno */
#define SYS_getpid       9      /* () -> cluster-wide pid */
#define SYS_kill        10      /* (int pid, int sig) */
#define SYS_spawn       11      /* (const char *path, char *const argv[], int node) -> pid; node -1: let the cluster choose */
#define SYS_wait        12      /* (int pid, int *status) -> pid */
#define SYS_sleep_ns    13      /* (uint64_t ns) */
#define SYS_clock_ns    14      /* (int clock) -> ns: 0 monotonic since boot, 1 realtime */
#define SYS_dm_alloc    15      /* (size_t bytes, int placement, int flags) -> address; placement DM_LOCAL/DM_POOL/DM_ANY, flags DM_OPTIONAL */
#define SYS_dm_free     16      /* (void *addr, size_t bytes) */
#define SYS_dm_where    17      /* (const void *addr) -> DM_LOCAL or DM_POOL, -EFAULT if unmapped */
#define SYS_seg_create  18      /* (const char *name, size_t bytes, uint32_t key) -> address; key 0: anyone may attach */
#define SYS_seg_attach  19      /* (const char *name, uint32_t key) -> address, -EACCES without the key */
#define SYS_seg_detach  20      /* (void *addr) */
#define SYS_futex_wait  21      /* (uint32_t *addr, uint32_t expected, uint64_t timeout_ns) */
#define SYS_futex_wake  22      /* (uint32_t *addr, int count) -> woken */
#define SYS_ps          23      /* (struct dm_proc *buf, int max) -> count, every process of the cluster */
#define SYS_meminfo     24      /* (struct dm_meminfo *out) */
#define SYS_nodeinfo    25      /* (struct dm_nodeinfo *out) -> this node id */
#define SYS_yield       26      /* () */
#define SYS_getppid     27      /* () */
#define SYS_dm_on_loss  28      /* (void (*entry)(struct dm_loss *, void *regs)) -> 0; entry 0: none (libdm's dm_on_loss) */
#define SYS_dm_loss_return 29   /* (void *regs) -> does not return: resumes where the exception came */
#define SYS_MAX         30      /* every number is below this */

#endif
