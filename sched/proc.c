/*
 * Processes: start a program (an ELF64 file, static, non-PIE, from /bin
 * of the cluster file system or the initrd: fs/exec.c finds it, sched/elf.c
 * loads it), end one, wait for one, kill one. A process that faults is
 * killed with a reason its parent and the node's log both see; the node
 * stays up.
 */
#include "kernel/kernel.h"
#include "sched/sched.h"
#include "sched/proc.h"
#include "sched/elf.h"
#include "sched/remote.h"
#include "mm/mm.h"
#include "arch/arch.h"
#include "fs/fs.h"
#include "userland/include/dm_abi.h"

#define USER_STACK_TOP  0x00007ffffff00000UL
#define USER_STACK_SIZE (1UL << 20)
#define HEAP_MAX        (512UL << 20)
#define ARG_BYTES       2048

static int next_pid = 1;
static uint8_t killsig[MAX_PROCS];      /* the signal a killed process ends with, per slot */
static bool loading[MAX_PROCS];         /* a free slot a spawn has taken: it may sleep reading */

struct proc *proc_find(int pid)
{
	struct proc *procs = proc_table();

	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].state != P_FREE && procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

/* Lay out argc, argv[] and the strings at the top of the stack; Return: the new sp. */
static int64_t push_args(struct vm *vm, char *const argv[], int argc)
{
	uint64_t ptrs[DM_ARGS_MAX + 3], sp = USER_STACK_TOP;
	int n = 0;

	ptrs[n++] = argc;
	for (int i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]) + 1;
		sp -= len;
		if (vm_copy_in(vm, sp, argv[i], len))
			return -EFAULT;
		ptrs[n++] = sp;
	}
	ptrs[n++] = 0;          /* end of argv */
	ptrs[n++] = 0;          /* empty environment */
	sp = (sp - n * sizeof(uint64_t)) & ~15UL;
	return vm_copy_in(vm, sp, ptrs, n * sizeof(uint64_t)) ? -EFAULT : (int64_t)sp;
}

/* A free process slot, marked taken until the spawn ends; NULL if none is left. */
static struct proc *take_slot(void)
{
	struct proc *procs = proc_table();

	for (int i = 1; i < MAX_PROCS; i++) {
		if (procs[i].state == P_FREE && !loading[i]) {
			loading[i] = true;
			memset(&procs[i], 0, sizeof(procs[i]));
			return &procs[i];
		}
	}
	return NULL;
}

int proc_spawn(const char *path, char *const argv[], int argc)
{
	struct proc *procs = proc_table(), *p;
	struct vnode *file;
	uint64_t size, top, kpa;
	size_t bytes = 0;
	int64_t entry, sp = 0;
	int err;

	if (argc < 1 || argc > DM_ARGS_MAX)
		return -E2BIG;
	for (int i = 0; i < argc; i++)
		bytes += strlen(argv[i]) + 1;
	if (bytes > ARG_BYTES)
		return -E2BIG;
	if ((err = fs_exec_open(path, &file, &size)))
		return err;
	if (!(p = take_slot())) {
		fs_exec_close(file);
		return -EAGAIN;
	}
	if ((kpa = frame_alloc(KSTACK_PAGES_ORDER)) == FRAME_NONE) {
		err = -ENOMEM;
		goto err_slot;
	}
	if ((err = vm_init(&p->vm)))
		goto err_stack;
	/* the pid now: another spawn may run while this one sleeps reading the file */
	p->vm.pid = (uint32_t)(self.id * PID_NODE_STRIDE + next_pid++);
	/* Write all of the stack once. Under TCG a frame that once held code
	 * (GRUB's, or an exited program's) keeps those translations until
	 * every byte they cover is written, and until then every store to it
	 * takes QEMU's self-modifying-code path: a stack on such a frame made
	 * each system call 30 times slower (11 us instead of 0.4 us). */
	memset(phys_to_virt(kpa), 0, PAGE_SIZE << KSTACK_PAGES_ORDER);
	if ((entry = elf_load(&p->vm, fs_exec_read, file, size, &top)) < 0) {
		err = (int)entry;
		goto err_vm;
	}
	fs_exec_close(file);
	file = NULL;
	p->vm.brk_start = p->vm.brk = (top + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if ((err = vm_add(&p->vm, p->vm.brk_start, HEAP_MAX, ARCH_PROT_WRITE, VM_PLACE_ANY, false)))
		goto err_vm;
	vm_find(&p->vm, p->vm.brk_start)->end = p->vm.brk_start + PAGE_SIZE;
	if ((err = vm_add(&p->vm, USER_STACK_TOP - USER_STACK_SIZE, USER_STACK_SIZE,
			  ARCH_PROT_WRITE, VM_PLACE_LOCAL, false)) ||
	    (sp = push_args(&p->vm, argv, argc)) < 0) {
		err = err ? err : (int)sp;
		goto err_vm;
	}
	p->kstack = phys_to_virt(kpa);
	arch_fpu_init(p->fpu);
	p->sp = arch_thread_user((uint8_t *)p->kstack + (PAGE_SIZE << KSTACK_PAGES_ORDER),
				 (uint64_t)entry, (uint64_t)sp);
	killsig[p - procs] = 0;
	p->pid = (int)p->vm.pid;
	p->ppid = current->pid;
	strlcpy(p->name, argv[0], sizeof(p->name));
	files_spawn(p);
	p->state = P_RUNNABLE;
	loading[p - procs] = false;
	return p->pid;

err_vm:
	vm_destroy(&p->vm);
err_stack:
	frame_free(kpa, KSTACK_PAGES_ORDER);
err_slot:
	if (file)
		fs_exec_close(file);
	loading[p - procs] = false;
	return err;
}

void proc_exit(int status)
{
	struct proc *p = current, *parent = proc_find(p->ppid);

	if (p->killed && status == DM_WAIT_KILLED(DM_SIGKILL) && killsig[p - proc_table()])
		status = DM_WAIT_KILLED(killsig[p - proc_table()]);     /* the signal it was sent */
	if (!parent && p->ppid / PID_NODE_STRIDE != self.id)  /* its parent is on another node */
		remote_child_exit(p->pid, p->ppid, status);
	if (!parent)
		p->ppid = proc_table()[0].pid;  /* the kernel thread reaps it */
	remote_forget(p->pid);
	files_exit();
	arch_irq_disable();
	vm_destroy(&p->vm);
	p->status = status;
	p->state = P_ZOMBIE;
	for (int i = 0; i < MAX_PROCS; i++)     /* orphans: the kernel thread reaps them */
		if (proc_table()[i].ppid == p->pid)
			proc_table()[i].ppid = proc_table()[0].pid;
	sched_wakeup(parent ? (void *)parent : (void *)&proc_table()[0]);
	sched_yield();
	panic("a zombie ran again");
}

void proc_fault(const char *what, int sig, uint64_t rip, uint64_t addr)
{
	snprintf(current->why, sizeof(current->why), "%s at 0x%lx (rip 0x%lx)", what, addr, rip);
	printk("node %d: pid %d (%s) killed: %s\n", self.id, current->pid, current->name, current->why);
	proc_exit(DM_WAIT_KILLED(sig));
}

/* Mark p killed by sig, saying why (unless it was killed already); wake it to die. */
static void mark_killed(struct proc *p, int sig, const char *why)
{
	uint64_t flags = arch_irq_save();

	if (!p->killed) {
		p->killed = true;
		killsig[p - proc_table()] = (uint8_t)sig;
		strlcpy(p->why, why, sizeof(p->why));
	}
	if (p->state == P_SLEEPING) {
		p->state = P_RUNNABLE;
		p->wake_ns = 0;
	}
	arch_irq_restore(flags);
}

int __proc_kill(int pid, int sig, int by, bool disown)
{
	struct proc *p = proc_find(pid);
	char why[48];

	if (sig < 0 || sig >= DM_NSIG)
		return -EINVAL;
	if (!p || p == &proc_table()[0] || p->state == P_ZOMBIE)
		return -ESRCH;
	if (!sig)
		return 0;
	if (disown)
		p->ppid = proc_table()[0].pid;  /* the kernel thread reaps it */
	if (by / PID_NODE_STRIDE == self.id)
		snprintf(why, sizeof(why), "killed by pid %d", by);
	else
		snprintf(why, sizeof(why), "killed by pid %d on node %d", by, by / PID_NODE_STRIDE);
	mark_killed(p, sig, why);
	return 0;
}

bool proc_kill_because(struct proc *p, int sig, const char *why)
{
	if (p->killed || p->state == P_ZOMBIE || p->state == P_FREE)
		return false;
	printk("node %d: pid %d (%s) killed: %s\n", self.id, p->pid, p->name, why);
	mark_killed(p, sig, why);
	return true;
}

int proc_kill(int pid)
{
	return __proc_kill(pid, DM_SIGKILL, current->pid, false);
}

/* Free what is left of a zombie. Return: its pid. */
static int reap(struct proc *p, int *status)
{
	int pid = p->pid;

	if (status)
		*status = p->status;
	frame_free(virt_to_phys(p->kstack), KSTACK_PAGES_ORDER);
	p->state = P_FREE;
	return pid;
}

int proc_try_wait(int pid, int *status)
{
	struct proc *procs = proc_table();
	int rpid, rstatus, r = remote_wait(current->pid, pid, &rpid, &rstatus);

	if (r == 1) {
		if (status)
			*status = rstatus;
		return rpid;
	}
	bool have = r == 0;
	for (int i = 1; i < MAX_PROCS; i++) {
		struct proc *p = &procs[i];
		if (p->state == P_FREE || p->ppid != current->pid || (pid != -1 && p->pid != pid))
			continue;
		have = true;
		if (p->state == P_ZOMBIE)
			return reap(p, status);
	}
	return have ? 0 : -ECHILD;
}

int proc_wait(int pid, int *status)
{
	for (;;) {
		int r = proc_try_wait(pid, status);
		if (r)
			return r;
		if (current->killed)
			return -EINTR;
		if (current == &proc_table()[0])        /* it runs the loop: it looks again next pass */
			panic("the kernel thread would sleep in proc_wait");
		sched_sleep(current, arch_time_ns() + 100000000ULL);
	}
}
