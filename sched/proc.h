/*
 * Processes of this node, the parts other sched/ files need beyond
 * sched.h: killing with a signal on behalf of a process anywhere in the
 * cluster (sched/remote.c delivers kills that come from other nodes).
 * Private to sched/: other folders kill through sched.h and remote.h.
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

#endif
