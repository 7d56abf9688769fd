/*
 * libdm: what a dmos program uses beyond POSIX: memory with a placement
 * (this node's DRAM or the cluster's pool), named shared segments mapped at
 * the same address on every node, futexes that work across nodes, processes
 * on any node of the cluster, and how the cluster and its memory are doing.
 *
 * Every call that can fail returns -1 (or NULL) and sets errno, like the
 * rest of libc. Structures and constants are in dm_abi.h, shared with the
 * kernel.
 */
#ifndef DM_H
#define DM_H

#include <stddef.h>
#include <stdint.h>
#include "dm_abi.h"

/*
 * Memory with a placement. placement: DM_LOCAL (fast, private to this
 * node), DM_POOL (large, shareable) or DM_ANY (the kernel decides, and may
 * use the pool when the node runs short). flags: 0 or DM_OPTIONAL (the
 * program can live without it: losing it is reported, not fatal).
 * DM_LOCAL and DM_POOL are met at once or refused with ENOMEM.
 * Return: page-aligned, zeroed memory, or NULL.
 */
void *dm_alloc(size_t bytes, int placement, int flags);
int dm_free(void *addr, size_t bytes);          /* the address and size given to dm_alloc */

/*
 * Optional memory lives in the pool and may be lost when the region that
 * holds it fails, or when this node loses the pool altogether (then
 * dm_loss.region is DM_LOSS_LINK and the pages come back from local
 * memory). The process then takes an exception: handler runs on its
 * own stack, between two instructions of whatever it was doing (like a
 * signal handler: keep it short, set flags, don't call printf), with what
 * was lost; when it returns the program goes on where it was. The lost
 * pages read as zero from then on, ready to be rebuilt. Without a handler
 * (NULL, the default) the program just goes on. Losing vital memory (all
 * that is not DM_OPTIONAL, and shared segments) kills the process as by
 * SIGBUS (its parent sees DM_SIGBUS), with the reason on the console.
 */
int dm_on_loss(void (*handler)(const struct dm_loss *loss));

/* Where the page holding addr lives: DM_LOCAL or DM_POOL (-1, EFAULT: unmapped). */
int dm_where(const void *addr);

/*
 * Shared segments: pool memory with a name (up to DM_NAME_MAX - 1 bytes,
 * at most 1 GiB), zeroed when made, mapped at the same virtual address in
 * every process that attaches, on every node, so pointers inside it are
 * valid everywhere. key 0: anyone may attach; otherwise attaching takes
 * the same key (EACCES). seg_create fails with EEXIST if the name is
 * taken, seg_attach with ENOENT if there is none. The pages go back to
 * the pool when the last attachment goes (detach, exit, or node death).
 */
void *seg_create(const char *name, size_t bytes, uint32_t key);
void *seg_attach(const char *name, uint32_t key);
int seg_detach(void *addr);

/*
 * Futexes on a 32-bit word, also in a shared segment across nodes.
 * futex_wait sleeps while *addr == expected, until futex_wake or timeout_ns
 * (0: no timeout). Return: 0 when woken; -1 with EAGAIN (*addr != expected),
 * ETIMEDOUT or EINTR. futex_wake: how many it woke.
 */
int futex_wait(uint32_t *addr, uint32_t expected, uint64_t timeout_ns);
int futex_wake(uint32_t *addr, int count);

/*
 * Run program path (a name of /bin or the initrd, or a path) on node `node`
 * (DM_NODE_ANY: the cluster chooses) with argv (NULL-terminated; NULL:
 * just the name).
 * Return: its cluster-wide pid. dm_wait waits for pid (-1: any child) and
 * stores its status (WIFEXITED()/WEXITSTATUS() from <sys/wait.h>).
 */
int dm_spawn(const char *path, char *const argv[], int node);
int dm_wait(int pid, int *status);

/*
 * dm_spawn with the child's descriptors 0, 1 and 2 chosen: they are this
 * process's fds[0], fds[1], fds[2] (DM_FD_NONE: closed), where dm_spawn
 * passes this process's own 0, 1 and 2. Files belong to this node: a
 * child on another node always gets that node's console, and fds naming
 * anything else fail with EXDEV unless node is this node.
 */
int dm_spawn_fds(const char *path, char *const argv[], int node, const int fds[3]);

/* Every process of the cluster, up to max. Return: how many were stored. */
int dm_ps(struct dm_proc *buf, int max);
const char *dm_state_name(int state);           /* "run", "sleep", ... */

int dm_meminfo(struct dm_meminfo *out);
int dm_nodeinfo(struct dm_nodeinfo *out);       /* Return: this node's id */
int dm_fsinfo(struct dm_fsinfo *out);           /* the cluster file system's counters */
int dm_node(void);                              /* this node's id, or -1 */
const char *dm_place_name(int where);           /* "local", "pool", "any" */

/* Clocks, in nanoseconds. */
uint64_t dm_now_ns(void);                       /* monotonic, since this node booted */
uint64_t dm_time_ns(void);                      /* wall clock, since 1970 */
int dm_sleep_ns(uint64_t ns);
void dm_yield(void);

#endif
