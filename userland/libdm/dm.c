/*
 * libdm: the pool API of dm.h over dmos's system calls (kernel/sysnum.h).
 */
#include <errno.h>
#include "dm.h"
#include "../libc/sys.h"

/* For calls that return an address. */
static void *sys_ptr(long r)
{
	return sys_ret(r) == -1 ? NULL : (void *)r;
}

void *dm_alloc(size_t bytes, int placement, int flags)
{
	return sys_ptr(sys3(SYS_dm_alloc, bytes, placement, flags));
}

int dm_free(void *addr, size_t bytes)
{
	return sys_ret(sys2(SYS_dm_free, addr, bytes));
}

int dm_where(const void *addr)
{
	return sys_ret(sys1(SYS_dm_where, addr));
}

void *seg_create(const char *name, size_t bytes, uint32_t key)
{
	return sys_ptr(sys3(SYS_seg_create, name, bytes, key));
}

void *seg_attach(const char *name, uint32_t key)
{
	return sys_ptr(sys2(SYS_seg_attach, name, key));
}

int seg_detach(void *addr)
{
	return sys_ret(sys1(SYS_seg_detach, addr));
}

int futex_wait(uint32_t *addr, uint32_t expected, uint64_t timeout_ns)
{
	return sys_ret(sys3(SYS_futex_wait, addr, expected, timeout_ns));
}

int futex_wake(uint32_t *addr, int count)
{
	return sys_ret(sys2(SYS_futex_wake, addr, count));
}

int dm_spawn(const char *path, char *const argv[], int node)
{
	return sys_ret(sys4(SYS_spawn, path, argv, node, NULL));
}

int dm_spawn_fds(const char *path, char *const argv[], int node, const int fds[3])
{
	return sys_ret(sys4(SYS_spawn, path, argv, node, fds));
}

int dm_wait(int pid, int *status)
{
	return sys_ret(sys2(SYS_wait, pid, status));
}

int dm_ps(struct dm_proc *buf, int max)
{
	return sys_ret(sys2(SYS_ps, buf, max));
}

const char *dm_state_name(int state)
{
	switch (state) {
	case DM_PROC_RUNNABLE:  return "ready";
	case DM_PROC_RUNNING:   return "run";
	case DM_PROC_SLEEPING:  return "sleep";
	case DM_PROC_ZOMBIE:    return "zombie";
	default:                return "?";
	}
}

int dm_meminfo(struct dm_meminfo *out)
{
	return sys_ret(sys1(SYS_meminfo, out));
}

int dm_nodeinfo(struct dm_nodeinfo *out)
{
	return sys_ret(sys1(SYS_nodeinfo, out));
}

int dm_node(void)
{
	return sys_ret(sys1(SYS_nodeinfo, 0));
}

const char *dm_place_name(int where)
{
	switch (where) {
	case DM_LOCAL:  return "local";
	case DM_POOL:   return "pool";
	case DM_ANY:    return "any";
	default:        return "?";
	}
}

uint64_t dm_now_ns(void)
{
	return sys1(SYS_clock_ns, DM_CLOCK_MONOTONIC);
}

uint64_t dm_time_ns(void)
{
	return sys1(SYS_clock_ns, DM_CLOCK_REALTIME);
}

int dm_sleep_ns(uint64_t ns)
{
	return sys_ret(sys1(SYS_sleep_ns, ns));
}

void dm_yield(void)
{
	sys0(SYS_yield);
}
