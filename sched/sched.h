/*
 * Processes and the per-node scheduler: sched/'s public header.
 *
 * Other folders may include only these sched/ headers, each named for
 * what it holds:
 *   sched.h    (this file) this node's processes and its scheduler
 *   remote.h   processes across the cluster: the pool's process table
 *              (ps), spawning on another node, signals, remote children
 *   futex.h    futexes for the whole cluster
 * Private to sched/: proc.h (kills on behalf of a process on another
 * node) and waitq.h (the futex wait table in the pool, reached only
 * through futex.h).
 *
 * A process is one thread in its own address space. Each node runs its
 * own round-robin scheduler: a process runs until it blocks, yields or its
 * time slice ends (preemption happens on the way back to user mode). The
 * kernel thread (kernel/kthread.h: the loop of housekeeping works, the
 * monitor among them) is thread 0 of every node and takes its turn like
 * the rest. pids are unique in the cluster: node id * PID_NODE_STRIDE + n.
 */
#ifndef SCHED_SCHED_H
#define SCHED_SCHED_H

#include <stdint.h>
#include <stdbool.h>
#include "mm/vm.h"
#include "mm/loss.h"

#define MAX_PROCS       64              /* processes per node */
#define PID_NODE_STRIDE 1000000         /* pid = node * this + local number */
#define KSTACK_PAGES_ORDER 2            /* 16 KiB kernel stack per process */
#define SLICE_MS        10

enum proc_state { P_FREE, P_RUNNABLE, P_RUNNING, P_SLEEPING, P_ZOMBIE };

struct proc {
	_Alignas(16) uint8_t fpu[512];  /* its x87/SSE registers while it does not run */
	int pid, ppid;
	enum proc_state state;
	char name[32];
	struct vm vm;                   /* its address space */
	void *kstack;                   /* bottom of its kernel stack */
	void *sp;                       /* saved stack pointer while not running */
	const void *wchan;              /* what it sleeps on */
	uint64_t wake_ns;               /* sleeping until, 0: until woken */
	int status;                     /* exit status, for wait() */
	bool killed;
	char why[96];                   /* why it was killed, for its parent and the log */
	struct proc_loss loss;          /* optional memory it lost, its exception (mm/loss.h) */
};

extern struct proc *current;

/* Does something wait for p in user mode (a kill, an exception)? Then a
 * sleep it asked for ends early, with -EINTR. */
static inline bool proc_interrupted(const struct proc *p)
{
	return p->killed || p->loss.check;
}

void sched_init(void);

/**
 * proc_spawn - start program `path` with argv
 * @path: a name without '/' is found in /bin, else in the initrd; a path
 *        with '/' names the file (fs_exec_open() in fs/fs.h)
 * Context: main loop or a syscall; may sleep reading the file.
 * Return: its pid; -ENOENT, -EACCES, -ENOEXEC (not a dmos program), -E2BIG,
 * -EAGAIN (no process slot), -ENOMEM, or the file system's error.
 */
int proc_spawn(const char *path, char *const argv[], int argc);

/* End the current process with a wait status (DM_WAIT_*). Context: a process. */
void proc_exit(int status) __attribute__((noreturn));

/* Kill the current process after a fault it caused, saying why; its parent
 * sees it killed by signal sig (DM_SIGSEGV for a fault, DM_SIGKILL for no memory). */
void proc_fault(const char *what, int sig, uint64_t rip, uint64_t addr) __attribute__((noreturn));

/**
 * proc_wait - wait for child pid (or any child: -1) to exit
 * Context: a process; never the kernel thread, which must not sleep (it
 * uses proc_try_wait() from its loop).
 * Return: its pid with *status set, -ECHILD when there is none, -EINTR if killed.
 */
int proc_wait(int pid, int *status);

/**
 * proc_try_wait - proc_wait() that does not wait: reap child pid (or any
 * child: -1) if it has exited
 * Context: a process or the kernel thread.
 * Return: its pid with *status set; 0 while the children it names all
 * still run; -ECHILD when there is none.
 */
int proc_try_wait(int pid, int *status);

int proc_kill(int pid);

/**
 * proc_kill_because - kill process p of this node for a reason of the
 * kernel's (e.g. its vital memory was lost), printing the reason
 * @sig: the signal its parent sees
 * Context: the kernel thread or a system call, not interrupts.
 * Return: true; false (and nothing done) if p was killed already or is gone.
 */
bool proc_kill_because(struct proc *p, int sig, const char *why);
struct proc *proc_find(int pid);
struct proc *proc_table(void);          /* MAX_PROCS entries, for ps */

void sched_yield(void);
void sched_sleep(const void *chan, uint64_t until_ns);  /* until woken, or until_ns if set */
void sched_wakeup(const void *chan);

/**
 * sched_switch_soon - run the process sched_wakeup() just woke, now
 * Context: a system call; the switch happens on its way back to user mode,
 * the caller goes on later in its round-robin turn.
 */
void sched_switch_soon(void);
bool sched_others_runnable(void);

/**
 * sched_run_soon - wake p if it sleeps on itself, and run it next, before
 * the current process goes back to user mode
 * Context: any, interrupts too.
 */
void sched_run_soon(struct proc *p);

/* The timer tick (interrupt context) and the way back to user mode. */
void sched_tick(void);
void sched_user_return(void);

#endif
