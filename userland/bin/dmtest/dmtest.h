/*
 * dmtest's parts share this header: see main.c for what dmtest is and how
 * to run it. Each file holds one area of tests; children.c holds the
 * programs tests start as children (`dmtest --child MODE ...`).
 */
#ifndef DMTEST_H
#define DMTEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "dm.h"
#include "kernel/sysnum.h"

#define KADDR    ((void *)0xffffffff80100000UL)  /* kernel text */
#define UNMAPPED ((void *)0x0000500000000000UL)  /* user half, nothing mapped there */
#define NONCANON ((void *)0x0000900000000000UL)  /* not a canonical address */
#define LINUX_ENOSYS   38       /* what the kernel itself returns (kernel/kernel.h) */
#define LINUX_EFAULT   14
#define LINUX_EINVAL   22
#define PID_STRIDE     1000000  /* pid = node * this + n (sched/sched.h) */
#define MS             1000000ULL
#define CHILD_TIMEOUT_MS 20000  /* a child that runs longer is killed by its watchdog */
#define PAGE           4096
#ifndef MIN
#define MIN(a, b)      ((a) < (b) ? (a) : (b))
#endif

#define CHECK(cond, ...) do { if (!(cond)) return fail(__VA_ARGS__); } while (0)
#define ERR(expr, want) do {                                                            \
	errno = 0;                                                                      \
	long r_ = (long)(expr);                                                         \
	int e_ = errno;                                                                 \
	if (r_ != -1 || e_ != (want))                                                   \
		return fail("%s = %ld (%s), want -1 (%s)", #expr, r_, ename(e_), ename(want)); \
} while (0)
#define NULLERR(expr, want) do {                                                        \
	errno = 0;                                                                      \
	void *p_ = (void *)(expr);                                                      \
	int e_ = errno;                                                                 \
	if (p_ || e_ != (want))                                                         \
		return fail("%s = %p (%s), want NULL (%s)", #expr, p_, ename(e_), ename(want)); \
} while (0)
#define RAW(want, n, a, b, c) do {                                                      \
	long r_ = raw(n, (long)(a), (long)(b), (long)(c));                              \
	if (r_ != (want))                                                               \
		return fail("syscall(%s, %s, %s, %s) = %ld, want %ld", #n, #a, #b, #c, r_, (long)(want)); \
} while (0)
#define NSLOTS 1024
#define NTESTS ((int)(sizeof(tests) / sizeof(tests[0])))
#define TEST_TIMEOUT_MS 30000   /* a test that runs longer is killed and fails */
#define LIST_ITEMS 1000
#define LIST_BYTES (sizeof(struct list) + LIST_ITEMS * sizeof(struct item))

struct ctl {
	uint32_t next_slot;     /* the next watchdog word to use, for every process */
	uint32_t go;            /* 1: the test process may start (its watchdog is up) */
	uint32_t result;        /* what the test process says: R_PASS, R_FAIL, R_SKIP */
	uint32_t pad;
	char why[320];          /* its reason, for R_FAIL and R_SKIP */
	uint32_t dog[NSLOTS];
};

enum { R_NONE, R_PASS, R_FAIL, R_SKIP };
extern struct ctl *ctl;         /* the control segment, or NULL (no watchdogs) */
extern char ctl_name[DM_NAME_MAX];

struct child {
	int pid, dog, slot, node;
	unsigned timeout_ms;
};

struct item {
	struct item *next;
	uint64_t value;
};

struct list {
	uint32_t done;          /* the walker sets it to 1 (or 2: bad) and wakes us */
	uint32_t count;
	uint64_t result;        /* the walker's sum */
	struct item *first;
	struct item items[];
};

extern char why[320];
extern const char *skipped;
extern char prefix[16];
extern int other;
extern int self, nodes;
extern volatile uintptr_t bad_address;

const char *ename(int e);
const char *fail(const char *fmt, ...);
long raw(long n, long a, long b, long c);
uint64_t now(void);
int startv(struct child *c, int node, unsigned timeout_ms, const char *mode, va_list ap);
int start(struct child *c, int node, unsigned timeout_ms, const char *mode, ...);
struct test;
const char *finish(struct child *c, int *status);
const char *status_str(int st);
const char *run_exit(int node, int code, const char *mode, ...);
const char *run_killed(int node, int sig, const char *mode, ...);
void segname(char *buf, const char *tag);
int selected(const struct test *t, int argc, char **argv);
void setup(void);
int run_one(const char *name, const char *ctl_seg);
int run_test(const struct test *t, const char **reason);
const char *t_write_bad_pointers(void);
const char *t_read_bad_pointers(void);
const char *t_bad_fds(void);
const char *t_bad_lengths(void);
const char *t_open_errors(void);
const char *t_open_too_many(void);
const char *t_fstat(void);
const char *t_unknown_syscall(void);
const char *t_dm_alloc_bad_args(void);
const char *t_dm_free_bad_args(void);
const char *t_dm_where_bad(void);
const char *t_seg_bad_args(void);
const char *t_futex_bad_args(void);
const char *t_spawn_bad_args(void);
const char *t_wait_bad_args(void);
const char *t_info_bad_args(void);
const char *t_kill_bad(void);
const char *t_sbrk_limits(void);
const char *t_spawn_exit_status(void);
const char *t_child_segfault(void);
const char *t_child_bad_instruction(void);
const char *t_getpid_getppid(void);
const char *t_wait_any(void);
struct dm_proc *ps_find(int pid);
const char *t_ps_lists_self(void);
const char *t_kill_sleeping_child(void);
const char *t_kill_remote_child(void);
const char *t_kill_signal_number(void);
const char *t_kill_bad_args_cluster(void);
const char *t_kill_spinning_child(void);
const char *t_clock_monotonic(void);
const char *t_nanosleep(void);
void make_args(char args[15][64], char **argv);
const char *spawn_args_on(int node);
const char *t_spawn_args(void);
const char *t_exit_frees_memory(void);
const char *t_seg_freed_on_exit(void);
const char *t_kill_futex_waiter(void);
const char *t_kill_waiting_parent(void);
const char *t_spawn_until_full(void);
const char *t_futex_wake_count(void);
const char *check_area(char *p, size_t n, int where, const char *what);
const char *alloc_check(int place, int flags, size_t n);
const char *t_alloc_local(void);
const char *t_alloc_pool(void);
const char *t_alloc_any(void);
const char *t_alloc_optional(void);
const char *t_loss_bad_args(void);
const char *t_alloc_too_big(void);
const char *t_use_after_dm_free(void);
const char *t_malloc_8mib(void);
const char *t_alloc_free_no_leak(void);
const char *t_alloc_free_churn(void);
const char *t_meminfo(void);
uint64_t build_list(struct list *l);
int wait_change(uint32_t *word, uint32_t value, uint64_t timeout_ns);
const char *list_in_child(int node, const char *tag);
const char *t_seg_shared_with_child(void);
const char *t_seg_key(void);
const char *t_seg_eexist(void);
const char *t_seg_detach(void);
const char *t_seg_zero_on_reuse(void);
const char *t_seg_large(void);
const char *t_futex_eagain(void);
const char *t_futex_timeout(void);
const char *t_futex_timeout_shared(void);
const char *t_futex_wake_nobody(void);
const char *child_wakes(int node);
const char *t_futex_child_wakes(void);
int alone(void);
const char *t_remote_exit_status(void);
const char *t_remote_segfault(void);
const char *t_remote_ids(void);
const char *t_remote_segment(void);
const char *t_remote_futex_wake(void);
const char *t_remote_ps(void);
const char *t_remote_spawn_args(void);
const char *t_remote_spawn_errors(void);
const char *t_remote_spawn_to_busy_node(void);
const char *t_remote_orphans(void);
const char *t_spawn_any_node(void);
int child_watchdog(char **a);
int child_ids(char **a);
int child_usefree(void);
int child_walk(char **a);
int child_key(char **a);
int child_segdetach(char **a);
int child_wake(char **a);
int child_args(int n, char **a);
int child_hog(char **a);
int child_segleave(char **a);
int child_fwait(char **a);
int child_waitkid(char **a);
int child_spawnon(char **a);
int child_toobig(void);
int child_churn(char **a);
int child_spawnleave(char **a);
int child(int argc, char **argv);
const char *t_file_initrd_read(void);
const char *t_file_initrd_readonly(void);
const char *t_file_paths(void);
const char *t_file_bad_args(void);
const char *t_file_readdir(void);
const char *t_file_cwd(void);
const char *t_file_getwd(void);
const char *t_file_mkdir_rmdir(void);
const char *t_file_rename(void);
const char *t_file_create_write(void);
const char *t_file_append_trunc(void);
const char *t_file_unlink_open(void);
const char *t_file_dup_fcntl(void);
const char *t_file_attrs(void);
const char *t_file_unsupported(void);
const char *t_file_disk_bad_args(void);
const char *t_file_disk_names(void);
const char *t_file_disk_mkdir_rmdir(void);
const char *t_file_disk_rename(void);
const char *t_file_disk_create_write(void);
const char *t_file_disk_unsupported(void);
const char *t_file_locks(void);
const char *t_file_lock_wait(void);
const char *t_file_lock_deadlock(void);
const char *t_file_spawn_fds(void);
const char *t_file_tools(void);
const char *t_file_more_tools(void);
const char *t_spawn_paths(void);
int child_lock(char **a);
int start_child_lock(struct child *c, int node, const char *p, const char *type, const char *from,
		     const char *len, const char *how);
/* sockets.c */
const char *t_sock_bad_args(void);
const char *t_sock_tcp_exchange(void);
const char *t_sock_udp_exchange(void);
const char *t_sock_nonblocking(void);
const char *t_sock_rcvtimeo(void);
const char *t_sock_shutdown(void);
const char *t_sock_listener_close_frees_port(void);
const char *t_sock_kill_blocked(void);
int child_sockconnect(char **a);
int child_sockudp(char **a);
int child_sockaccept(char **a);
int child_sockfault(char **a);
int child_sockrecv(char **a);
/* files.c: what the file tests (files.c, dirs.c, locks.c, tools.c) share */
extern char dir[64];    /* the test's directory, /tmp/PREFIX.TAG (or TOP/PREFIX.TAG) */
void rmtree(const char *path);
const char *workdir(const char *tag);
const char *workdir_in(const char *top, const char *tag);
/* Where dmosfs is mounted: "/", "/disk" (root=initrd), or NULL (no shared disk). */
const char *dmosfs_top(void);
/* The test's directory on dmosfs, DMOSFS/PREFIX.tag, made empty; skipped (and
 * NULL) without a dmosfs that can be written here. */
const char *diskdir(const char *tag);
/* body() in workdir(tag) / diskdir(tag). Return: the first error, or body's. */
const char *in_workdir(const char *tag, const char *(*body)(void));
const char *in_diskdir(const char *tag, const char *(*body)(void));
const char *path(const char *name);
int put(const char *p, const char *s);
const char *get(const char *p);
const char *initrd(void);
const char *ird(const char *name);
bool cwd_is_initrd(void);

#endif
