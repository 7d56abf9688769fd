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
#define SYS_spawn       11      /* (const char *path, char *const argv[], int node, const int fds[3]) -> pid; see below */
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
#define SYS_pread       30      /* (int fd, void *buf, size_t n, off_t off) -> bytes; the fd's offset stays */
#define SYS_pwrite      31      /* (int fd, const void *buf, size_t n, off_t off) -> bytes; at off, O_APPEND or not */
#define SYS_stat        32      /* (const char *path, struct dm_stat *st) */
#define SYS_ftruncate   33      /* (int fd, off_t size) */
#define SYS_fsync       34      /* (int fd) */
#define SYS_unlink      35      /* (const char *path) */
#define SYS_mkdir       36      /* (const char *path, int mode) */
#define SYS_rmdir       37      /* (const char *path) */
#define SYS_rename      38      /* (const char *old, const char *new): atomic */
#define SYS_getdents    39      /* (int fd, struct dm_dirent *buf, size_t bytes) -> bytes stored, 0 at the end */
#define SYS_chdir       40      /* (const char *path) */
#define SYS_getcwd      41      /* (char *buf, size_t size) -> length with the NUL */
#define SYS_access      42      /* (const char *path, int DM_[RWX]_OK or DM_F_OK) */
#define SYS_dup         43      /* (int fd) -> the lowest free fd */
#define SYS_dup2        44      /* (int fd, int newfd) -> newfd */
#define SYS_fcntl       45      /* (int fd, int cmd, long arg) -> per DM_F_* (dm_abi.h) */
#define SYS_chmod       46      /* (const char *path, int mode) */
#define SYS_fchmod      47      /* (int fd, int mode) */
#define SYS_utimens     48      /* (const char *path, const int64_t times[2] or NULL) */
#define SYS_umask       49      /* (int mask) -> the old mask */
#define SYS_fsinfo      50      /* (struct dm_fsinfo *out): the cluster file system's counters */
#define SYS_socket      51      /* (int domain, int type, int protocol) -> fd; type may carry DM_SOCK_NONBLOCK, DM_SOCK_CLOEXEC */
#define SYS_bind        52      /* (int fd, const struct dm_sockaddr_in *a, socklen_t len) */
#define SYS_listen      53      /* (int fd, int backlog) */
#define SYS_accept      54      /* (int fd, struct dm_sockaddr_in *a, socklen_t *len, int flags) -> fd; accept4's flags */
#define SYS_connect     55      /* (int fd, const struct dm_sockaddr_in *a, socklen_t len) */
#define SYS_sendto      56      /* (int fd, const void *buf, size_t n, int flags, const struct dm_sockaddr_in *a, socklen_t len) -> bytes */
#define SYS_recvfrom    57      /* (int fd, void *buf, size_t n, int flags, struct dm_sockaddr_in *a, socklen_t *len) -> bytes, 0 at the end */
#define SYS_shutdown    58      /* (int fd, int how) */
#define SYS_setsockopt  59      /* (int fd, int level, int name, const void *val, socklen_t len) */
#define SYS_getsockopt  60      /* (int fd, int level, int name, void *val, socklen_t *len) */
#define SYS_getsockname 61      /* (int fd, struct dm_sockaddr_in *a, socklen_t *len) */
#define SYS_getpeername 62      /* (int fd, struct dm_sockaddr_in *a, socklen_t *len) */
#define SYS_poll        63      /* (struct dm_pollfd *fds, unsigned n, int timeout_ms) -> ready count */
#define SYS_MAX         64      /* every number is below this */

/*
 * SYS_spawn runs path on node (DM_NODE_ANY: the cluster chooses) with argv
 * (NULL: just the name). A path without '/' is a program of /bin, else of
 * the initrd; one with '/' is that file, from the parent's working
 * directory for a local child and from "/" for a remote one (ENOEXEC: not
 * a dmos program; EACCES: a directory, or no x bit). The child's
 * descriptors 0, 1 and 2: with fds NULL, the parent's 0, 1 and 2 (the same
 * open files, sharing their offsets); with fds, the parent's fds[0],
 * fds[1], fds[2] (DM_FD_NONE: that one closed). Nothing else is passed.
 * Files are node-local: a child on another node gets that node's console
 * as 0, 1 and 2, and fds naming anything but the console fail the spawn
 * with EXDEV unless node is this node. A local child also starts in the
 * parent's working directory with its umask; a remote one in "/".
 *
 * The socket calls (51..62) are BSD's with Linux's constants and layouts
 * (dm_abi.h, "Sockets"); net/socket.c and docs/net.md say what they do.
 * SYS_poll takes any descriptor: a socket, the console, a file.
 */

#endif
