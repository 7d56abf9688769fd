/*
 * Processes of this node, the parts other sched/ files need beyond
 * sched.h: killing with a signal on behalf of a process anywhere in the
 * cluster (sched/remote.c delivers kills that come from other nodes).
 */
#ifndef SCHED_PROC_H
#define SCHED_PROC_H

#include <stdbool.h>

/**
 * __proc_kill - kill process pid of this node
 * @sig: 0 only checks that pid exists; 1..DM_NSIG-1 ends it with that signal
 *       as its wait status (dmos has no signal handlers: every signal kills)
 * @by: the killer's pid, for the reason its parent and the log see
 * @disown: its parent gave up on it; it ends without telling the parent
 * Context: any (also the message dispatch, interrupts off).
 * Return: 0, -ESRCH (no such live process, or the kernel thread), -EINVAL.
 */
int __proc_kill(int pid, int sig, int by, bool disown);

/**
 * proc_kill_because - kill process p of this node for a reason of the
 * kernel's (e.g. its vital memory was lost), printing the reason
 * @sig: the signal its parent sees
 * Context: the kernel thread or a system call, not interrupts.
 * Return: true; false (and nothing done) if p was killed already or is gone.
 */
struct proc;
bool proc_kill_because(struct proc *p, int sig, const char *why);

#endif
