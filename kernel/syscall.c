/*
 * System calls: one table, indexed by the numbers of kernel/sysnum.h.
 * Every pointer from user space is checked (vm_check and the copy
 * functions): a bad one gets -EFAULT, never a kernel fault. Results are
 * returned as they are; failures as a negative errno. The file system's
 * calls are in fs/sysfile.c (poll in fs/poll.c), the sockets' in
 * net/socket.c; the rest are here.
 */
#include "kernel/kernel.h"
#include "kernel/sysnum.h"
#include "kernel/cluster/cluster.h"
#include "sched/sched.h"
#include "mm/mm.h"
#include "mm/loss.h"
#include "mm/palloc.h"
#include "mm/pmem.h"
#include "mm/seg.h"
#include "mm/xlate.h"
#include "sched/futex.h"
#include "sched/remote.h"
#include "arch/arch.h"
#include "fs/fs.h"
#include "fs/dmosfs.h"
#include "net/socket.h"
#include "userland/include/dm_abi.h"

typedef int64_t (*sysfn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);

static struct vm *uvm(void) { return &current->vm; }

static int64_t sys_exit(uint64_t status, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	(void)b; (void)c; (void)d; (void)e; (void)f;
	proc_exit(DM_WAIT_EXITED(status));
}

#define ARGS1 uint64_t a, uint64_t b_, uint64_t c_, uint64_t d_, uint64_t e_, uint64_t f_
#define ARGS2 uint64_t a, uint64_t b, uint64_t c_, uint64_t d_, uint64_t e_, uint64_t f_
#define ARGS3 uint64_t a, uint64_t b, uint64_t c, uint64_t d_, uint64_t e_, uint64_t f_
#define ARGS4 uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e_, uint64_t f_
#define UNUSED1 (void)b_; (void)c_; (void)d_; (void)e_; (void)f_
#define UNUSED2 (void)c_; (void)d_; (void)e_; (void)f_
#define UNUSED3 (void)d_; (void)e_; (void)f_
#define UNUSED4 (void)e_; (void)f_

static int64_t sys_sbrk(ARGS1)
{
	UNUSED1;
	return vm_sbrk(uvm(), (int64_t)a);
}

static int64_t sys_getpid(ARGS1)
{
	(void)a;
	UNUSED1;
	return current->pid;
}

static int64_t sys_getppid(ARGS1)
{
	(void)a;
	UNUSED1;
	return current->ppid;
}

/* kill(pid, sig): pid may run on any node; sig 0 checks it, 1..63 kill it. */
static int64_t sys_kill(ARGS2)
{
	UNUSED2;
	if ((int64_t)b < 0 || (int64_t)b >= 64)
		return -EINVAL;
	if ((int64_t)a <= 0 || (int64_t)a > INT32_MAX)
		return -ESRCH;
	return proc_signal((int)a, (int)b);
}

static int64_t sys_spawn(ARGS4)
{
	char path[64], args[DM_ARGS_MAX][64], *argv[DM_ARGS_MAX];
	int argc = 0, n = strncpy_from_user(uvm(), path, a, sizeof(path)), fds[3], pid;

	UNUSED4;
	if (n < 0)
		return n;
	if ((int64_t)c < -1 || (int64_t)c >= self.nodes)
		return -EINVAL;
	if (d) {
		if (copy_from_user(uvm(), fds, d, sizeof(fds)))
			return -EFAULT;
		if ((n = files_check_std(fds, (int)(int64_t)c)))
			return n;
	}
	for (; b; argc++) {
		uint64_t p;
		if (copy_from_user(uvm(), &p, b + argc * sizeof(p), sizeof(p)))
			return -EFAULT;
		if (!p)
			break;
		if (argc == DM_ARGS_MAX)
			return -E2BIG;
		if ((n = strncpy_from_user(uvm(), args[argc], p, sizeof(args[0]))) < 0)
			return n;
		argv[argc] = args[argc];
	}
	if (!argc) {
		strlcpy(args[0], path, sizeof(args[0]));
		argv[argc++] = args[0];
	}
	pid = proc_spawn_on((int)(int64_t)c, path, argv, argc);
	if (pid > 0 && d && pid / PID_NODE_STRIDE == self.id)
		files_set_std(pid, fds);        /* it has not run yet */
	return pid;
}

static int64_t sys_wait(ARGS2)
{
	int status = 0;

	UNUSED2;
	if (b && vm_check(uvm(), b, sizeof(int), true))
		return -EFAULT;
	int pid = proc_wait((int)a, &status);
	if (pid > 0 && b && copy_to_user(uvm(), b, &status, sizeof(status)))
		return -EFAULT;
	return pid;
}

static int64_t sys_sleep_ns(ARGS1)
{
	uint64_t until = arch_time_ns() + a;

	UNUSED1;
	while (arch_time_ns() < until && !proc_interrupted(current))
		sched_sleep(NULL, until);
	return proc_interrupted(current) ? -EINTR : 0;
}

int64_t clock_realtime_ns(void)
{
	static uint64_t boot_wall_ns;

	if (!boot_wall_ns)
		boot_wall_ns = arch_rtc_seconds() * 1000000000ULL - arch_time_ns();
	return (int64_t)(arch_time_ns() + boot_wall_ns);
}

static int64_t sys_clock_ns(ARGS1)
{
	UNUSED1;
	if (a > DM_CLOCK_REALTIME)
		return -EINVAL;
	return a == DM_CLOCK_REALTIME ? clock_realtime_ns() : (int64_t)arch_time_ns();
}

static int64_t sys_yield(ARGS1)
{
	(void)a;
	UNUSED1;
	sched_yield();
	return 0;
}

/*
 * The lowest address from VM_MMAP_BASE where len bytes and a guard page fit
 * between the areas already there: freed address space is used again, so
 * its page tables are too.
 */
static uint64_t lowest_gap(struct vm *vm, uint64_t len)
{
	uint64_t start = VM_MMAP_BASE;

	for (bool moved = true; moved;) {
		moved = false;
		for (int i = 0; i < vm->nareas; i++) {
			struct vm_area *r = &vm->area[i];
			if (start < r->end + PAGE_SIZE && start + len + PAGE_SIZE > r->start &&
			    r->start >= VM_MMAP_BASE && r->start < SEG_BASE) {
				start = r->end + PAGE_SIZE;
				moved = true;
			}
		}
	}
	return start;
}

/*
 * Fill in every page of the targeted area [start, start+len) now. A big one
 * takes seconds (2 GiB of pool: about 12 s under TCG), so the caller gives
 * the CPU to the node's other processes every slice on the way, as if it
 * were preempted, and stops if it is killed meanwhile.
 * Return: 0, -ENOMEM or -EINTR; on failure the area is gone, and with it
 * every page it had taken.
 */
static int fill(struct vm *vm, uint64_t start, uint64_t len)
{
	uint64_t turn = arch_time_ns() + SLICE_MS * 1000000ULL;
	int err = 0;

	for (uint64_t va = start; va < start + len && !err; va += PAGE_SIZE) {
		if (vm_fault(vm, va, true))
			err = -ENOMEM;
		else if (arch_time_ns() >= turn) {
			sched_yield();
			turn = arch_time_ns() + SLICE_MS * 1000000ULL;
			if (current->killed)
				err = -EINTR;
		}
	}
	if (err)
		vm_remove(vm, start, len);
	return err;
}

static int64_t sys_dm_alloc(ARGS3)
{
	struct vm *vm = uvm();
	uint64_t len = (a + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1), start = lowest_gap(vm, len);

	UNUSED3;
	if (!a || a > (64UL << 30) || b < DM_LOCAL || b > DM_ANY || (c & ~(uint64_t)DM_OPTIONAL))
		return -EINVAL;
	if (b == DM_POOL && !pool.joined)
		return -ENOMEM;
	if (b != DM_ANY) {              /* refuse at once what cannot be met */
		struct frame_stats fs;
		uint64_t pages = len / PAGE_SIZE;
		if (b == DM_LOCAL) {
			frame_stats(&fs);
			if (pages > fs.free)
				return -ENOMEM;
		} else if (pmem_make_room(pages)) {     /* the page cache gives back */
			return -ENOMEM;
		}
	}
	int err = vm_add(vm, start, len, ARCH_PROT_WRITE, (enum vm_place)b, c & DM_OPTIONAL);
	if (err)
		return err;
	/* a targeted request is met now or refused now: fill every page in */
	if (b != DM_ANY && (err = fill(vm, start, len)))
		return err;
	return (int64_t)start;
}

static int64_t sys_dm_free(ARGS2)
{
	UNUSED2;
	if (a < VM_MMAP_BASE)
		return -EINVAL;         /* only what dm_alloc gave */
	return vm_remove(uvm(), a, b);
}

static int64_t sys_dm_where(ARGS1)
{
	UNUSED1;
	int w = vm_where(uvm(), a);
	return w < 0 ? w : w == VM_LOCAL ? DM_LOCAL : DM_POOL;
}

static int64_t sys_seg_create(ARGS3)
{
	char name[SEG_NAME_MAX];
	int n = strncpy_from_user(uvm(), name, a, sizeof(name));

	UNUSED3;
	return n < 0 ? n : seg_create(uvm(), name, b, (uint32_t)c, current->pid);
}

static int64_t sys_seg_attach(ARGS2)
{
	char name[SEG_NAME_MAX];
	int n = strncpy_from_user(uvm(), name, a, sizeof(name));

	UNUSED2;
	return n < 0 ? n : seg_attach(uvm(), name, (uint32_t)b);
}

static int64_t sys_seg_detach(ARGS1)
{
	UNUSED1;
	return seg_detach(uvm(), a);
}

static int64_t sys_futex_wait(ARGS3)
{
	UNUSED3;
	return futex_wait(a, (uint32_t)b, c);
}

static int64_t sys_futex_wake(ARGS2)
{
	UNUSED2;
	return futex_wake(a, (int)b);
}

static int64_t sys_ps(ARGS2)
{
	static struct dm_proc list[MAX_NODES * 8];
	int n;

	UNUSED2;
	if ((int64_t)b < 0 || b > ARRAY_SIZE(list))
		return -EINVAL;
	if (vm_check(uvm(), a, b * sizeof(struct dm_proc), true))
		return -EFAULT;
	if (pool.joined) {
		n = proc_list(list, (int)b);
	} else {                /* no pool: only this node's */
		struct proc *t = proc_table();
		n = 0;
		for (int i = 1; i < MAX_PROCS && n < (int)b; i++) {
			if (t[i].state == P_FREE)
				continue;
			list[n] = (struct dm_proc){ t[i].pid, t[i].ppid, self.id, t[i].state, { 0 },
						    t[i].vm.local_pages, t[i].vm.pool_pages };
			strlcpy(list[n++].name, t[i].name, sizeof(list[0].name));
		}
	}
	return copy_to_user(uvm(), a, list, n * sizeof(struct dm_proc)) ? -EFAULT : n;
}

static int64_t sys_meminfo(ARGS1)
{
	static struct palloc_stats ps;
	struct frame_stats fs;
	struct dm_meminfo mi = { 0 };

	UNUSED1;
	frame_stats(&fs);
	mi.local_total = fs.total * PAGE_SIZE;
	mi.local_free = fs.free * PAGE_SIZE;
	if (pool.joined) {
		uint64_t per = pool.super->region_pages, n = pool.super->npages;
		palloc_stats(pool.palloc->meta, &ps);
		mi.pool_total = ps.npages * PAGE_SIZE;
		mi.pool_free = ps.free * PAGE_SIZE;
		mi.pool_used_here = ps.used_by_node[self.id] * PAGE_SIZE;
		for (uint32_t r = 0; r < xlate_nregions(pmem_xlate()); r++) {
			if (xlate_region_state(pmem_xlate(), r) != XLATE_FAILED)
				continue;
			mi.regions_failed++;
			mi.pool_failed += MIN(per, n - r * per) * PAGE_SIZE;
		}
		mi.pool_link = 1;
	}
	return copy_to_user(uvm(), a, &mi, sizeof(mi));
}

static int64_t sys_dm_on_loss(ARGS1)
{
	UNUSED1;
	return loss_set_entry(a);
}

static int64_t sys_dm_loss_return(ARGS1)
{
	UNUSED1;
	return loss_return(a);
}

static int64_t sys_nodeinfo(ARGS1)
{
	struct dm_nodeinfo ni = { self.id, self.nodes, {0} };

	UNUSED1;
	strlcpy(ni.cluster, self.cluster, sizeof(ni.cluster));
	if (a && copy_to_user(uvm(), a, &ni, sizeof(ni)))
		return -EFAULT;
	return self.id;
}

static const sysfn table[SYS_MAX] = {
	[SYS_exit] = sys_exit,          [SYS_write] = sys_write,
	[SYS_read] = sys_read,          [SYS_open] = sys_open,
	[SYS_close] = sys_close,        [SYS_lseek] = sys_lseek,
	[SYS_fstat] = sys_fstat,        [SYS_sbrk] = sys_sbrk,
	[SYS_getpid] = sys_getpid,      [SYS_kill] = sys_kill,
	[SYS_spawn] = sys_spawn,        [SYS_wait] = sys_wait,
	[SYS_sleep_ns] = sys_sleep_ns,  [SYS_clock_ns] = sys_clock_ns,
	[SYS_dm_alloc] = sys_dm_alloc,  [SYS_dm_free] = sys_dm_free,
	[SYS_dm_where] = sys_dm_where,  [SYS_ps] = sys_ps,
	[SYS_meminfo] = sys_meminfo,    [SYS_nodeinfo] = sys_nodeinfo,
	[SYS_yield] = sys_yield,        [SYS_getppid] = sys_getppid,
	[SYS_seg_create] = sys_seg_create,      [SYS_seg_attach] = sys_seg_attach,
	[SYS_seg_detach] = sys_seg_detach,      [SYS_futex_wait] = sys_futex_wait,
	[SYS_futex_wake] = sys_futex_wake,
	[SYS_dm_on_loss] = sys_dm_on_loss,      [SYS_dm_loss_return] = sys_dm_loss_return,
	/* the file system: fs/sysfile.c */
	[SYS_pread] = sys_pread,        [SYS_pwrite] = sys_pwrite,
	[SYS_stat] = sys_stat,          [SYS_ftruncate] = sys_ftruncate,
	[SYS_fsync] = sys_fsync,        [SYS_unlink] = sys_unlink,
	[SYS_mkdir] = sys_mkdir,        [SYS_rmdir] = sys_rmdir,
	[SYS_rename] = sys_rename,      [SYS_getdents] = sys_getdents,
	[SYS_chdir] = sys_chdir,        [SYS_getcwd] = sys_getcwd,
	[SYS_access] = sys_access,      [SYS_dup] = sys_dup,
	[SYS_dup2] = sys_dup2,          [SYS_fcntl] = sys_fcntl,
	[SYS_chmod] = sys_chmod,        [SYS_fchmod] = sys_fchmod,
	[SYS_utimens] = sys_utimens,    [SYS_umask] = sys_umask,
	[SYS_fsinfo] = sys_fsinfo,      /* fs/dmosfs.c */
	[SYS_poll] = sys_poll,          /* fs/poll.c */
	/* sockets: net/socket.c */
	[SYS_socket] = sys_socket,      [SYS_bind] = sys_bind,
	[SYS_listen] = sys_listen,      [SYS_accept] = sys_accept,
	[SYS_connect] = sys_connect,    [SYS_sendto] = sys_sendto,
	[SYS_recvfrom] = sys_recvfrom,  [SYS_shutdown] = sys_shutdown,
	[SYS_setsockopt] = sys_setsockopt,      [SYS_getsockopt] = sys_getsockopt,
	[SYS_getsockname] = sys_getsockname,    [SYS_getpeername] = sys_getpeername,
};

int64_t syscall(uint64_t nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
		uint64_t f)
{
	if (nr >= SYS_MAX || !table[nr])
		return -ENOSYS;
	return table[nr](a, b, c, d, e, f);
}
