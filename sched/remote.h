/*
 * Processes across the cluster: the cluster process table in the pool
 * (each node publishes its own processes; ps reads them all), running a
 * program on another node (named, or the least loaded one), and waiting
 * for it from the node that started it.
 */
#ifndef SCHED_REMOTE_H
#define SCHED_REMOTE_H

#include <stdint.h>
#include "userland/include/dm_abi.h"

struct msg;

/**
 * remote_attach_pool - take the pool's cluster process table, the only
 * pointer to it
 * @procs: MAX_NODES slices of pool.super->procs_per_node struct dm_proc
 * Context: boot, once, from pool_init() when the pool is attached.
 */
void remote_attach_pool(void *procs);

/* Write this node's processes into the pool table. Context: main loop. */
void proc_publish(void);

/* Every process of the cluster. Return: how many were written (at most max). */
int proc_list(struct dm_proc *out, int max);

/**
 * proc_spawn_on - run path on node (-1: the least loaded up node)
 * Context: a process (its pid becomes the parent) or the kernel thread.
 * Return: the child's pid, or -errno (-EHOSTDOWN, -ETIMEDOUT, -ENOENT, ...).
 */
int proc_spawn_on(int node, const char *path, char *const argv[], int argc);

/**
 * proc_signal - send sig to process pid, on whichever node of the cluster runs it
 * @sig: 0 only checks that pid exists; 1..63 kill it (its wait status names sig)
 * Context: a process or the kernel thread.
 * Return: 0, -EINVAL (bad signal), -ESRCH (no such process; pid <= 0 names a
 * process group and there are none), -EHOSTDOWN (its node is dead),
 * -ETIMEDOUT (its node did not answer).
 */
int proc_signal(int pid, int sig);

/* proc_wait's view of remote children: 1 and *status if pid (or any: -1)
 * ended; 0 if one is still running; -ECHILD if there is none. */
int remote_wait(int ppid, int pid, int *pid_out, int *status);

/* Process ppid ended: forget its remote children (nobody waits for them). */
void remote_forget(int ppid);

/* The child pid of a remote parent ended: tell the parent's node. */
void remote_child_exit(int pid, int ppid, int status);

/* Messages for this file, from the dispatch (interrupt context). */
void remote_msg(const struct msg *m);

/* Work the kernel thread does: spawn requests from other nodes, spawn
 * requests of ours that timed out, orphans. */
void remote_work(void);

#endif
