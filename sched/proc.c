/*
 * Processes: start a program from the initrd (ELF64, static, non-PIE),
 * end one, wait for one, kill one. A process that faults is killed with a
 * reason its parent and the node's log both see; the node stays up.
 */
#include "kernel/kernel.h"
#include "kernel/initrd.h"
#include "sched/sched.h"
#include "sched/proc.h"
#include "sched/remote.h"
#include "mm/mm.h"
#include "arch/arch.h"
#include "fs/fs.h"
#include "userland/include/dm_abi.h"

#define USER_STACK_TOP  0x00007ffffff00000UL
#define USER_STACK_SIZE (1UL << 20)
#define HEAP_MAX        (512UL << 20)
#define MMAP_BASE       VM_MMAP_BASE
#define ARG_BYTES       2048

struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

#define PT_LOAD 1
#define PF_X 1
#define PF_W 2

static int next_pid = 1;
static uint8_t killsig[MAX_PROCS];      /* the signal a killed process ends with, per slot */

struct proc *proc_find(int pid)
{
	struct proc *procs = proc_table();

	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].state != P_FREE && procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

/* Load the ELF image into vm. Return: its entry point, or a negative errno. */
static int64_t load(struct vm *vm, const uint8_t *img, uint64_t len, uint64_t *top)
{
	const struct elf64_ehdr *eh = (const void *)img;

	if (len < sizeof(*eh) || memcmp(eh->ident, "\177ELF", 4) || eh->ident[4] != 2 ||
	    eh->machine != 0x3E || eh->type != 2 || eh->phentsize != sizeof(struct elf64_phdr) ||
	    eh->phoff > len || eh->phnum > (len - eh->phoff) / sizeof(struct elf64_phdr))
		return -ENOEXEC;
	*top = 0;
	for (int i = 0; i < eh->phnum; i++) {
		const struct elf64_phdr *ph = (const void *)(img + eh->phoff + i * sizeof(*ph));
		if (ph->type != PT_LOAD || !ph->memsz)
			continue;
		if (ph->filesz > ph->memsz || ph->offset > len || ph->filesz > len - ph->offset ||
		    ph->vaddr < 0x1000 || ph->vaddr + ph->memsz > MMAP_BASE)
			return -ENOEXEC;
		uint64_t start = ph->vaddr & ~(PAGE_SIZE - 1);
		int prot = (ph->flags & PF_W ? ARCH_PROT_WRITE : 0) | (ph->flags & PF_X ? ARCH_PROT_EXEC : 0);
		int err = vm_add(vm, start, ph->vaddr + ph->memsz - start, prot, VM_PLACE_LOCAL, false);
		if (!err)
			err = vm_copy_in(vm, ph->vaddr, img + ph->offset, ph->filesz);
		if (err)
			return err;
		*top = MAX(*top, ph->vaddr + ph->memsz);
	}
	return *top ? (int64_t)eh->entry : -ENOEXEC;
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

int proc_spawn(const char *path, char *const argv[], int argc)
{
	struct proc *procs = proc_table(), *p = NULL;
	const uint8_t *img;
	uint64_t len, top;
	size_t bytes = 0;
	int err = 0;

	if (argc < 1 || argc > DM_ARGS_MAX)
		return -E2BIG;
	for (int i = 0; i < argc; i++)
		bytes += strlen(argv[i]) + 1;
	if (bytes > ARG_BYTES)
		return -E2BIG;
	if (initrd_find(path, &img, &len))
		return -ENOENT;
	for (int i = 1; i < MAX_PROCS && !p; i++)
		if (procs[i].state == P_FREE)
			p = &procs[i];
	if (!p)
		return -EAGAIN;
	memset(p, 0, sizeof(*p));
	uint64_t kpa = frame_alloc(KSTACK_PAGES_ORDER);
	if (kpa == FRAME_NONE || (err = vm_init(&p->vm)))
		goto err_free;
	p->vm.pid = (uint32_t)(self.id * PID_NODE_STRIDE + next_pid);
	/* Write all of the stack once. Under TCG a frame that once held code
	 * (GRUB's, or an exited program's) keeps those translations until
	 * every byte they cover is written, and until then every store to it
	 * takes QEMU's self-modifying-code path: a stack on such a frame made
	 * each system call 30 times slower (11 us instead of 0.4 us). */
	memset(phys_to_virt(kpa), 0, PAGE_SIZE << KSTACK_PAGES_ORDER);
	int64_t entry = load(&p->vm, img, len, &top), sp = 0;
	if (entry < 0) {
		err = (int)entry;
		goto err_vm;
	}
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
	next_pid++;
	p->ppid = current->pid;
	strlcpy(p->name, argv[0], sizeof(p->name));
	files_spawn(p);
	p->state = P_RUNNABLE;
	return p->pid;

err_vm:
	vm_destroy(&p->vm);
err_free:
	if (kpa != FRAME_NONE)
		frame_free(kpa, KSTACK_PAGES_ORDER);
	p->state = P_FREE;
	return err ? err : -ENOMEM;
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
