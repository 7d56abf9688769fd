/*
 * The system call layer under libc and libdm (private to userland/).
 *
 * One raw entry into the kernel, __dm_syscall6 (libc/syscall.S; the host
 * smoke test links test/linux.c instead), wrapped by sysN() for N
 * arguments, and sys_ret(), which turns the kernel's negative errno into
 * -1 and errno the way every POSIX call reports failure.
 */
#ifndef USERLAND_SYS_H
#define USERLAND_SYS_H

#include <errno.h>
#include "kernel/sysnum.h"

long __dm_syscall6(long n, long a, long b, long c, long d, long e, long f);

#define sys0(n)                 __dm_syscall6(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a)              __dm_syscall6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b)           __dm_syscall6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c)        __dm_syscall6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d)     __dm_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/* The kernel's (Linux) errno number as newlib's; libc/errno.c. */
int __dm_errno(long kerr);

/* Results from -4095 to -1 are errors; anything else (addresses too) is a value. */
static inline int sys_failed(long r)
{
	return r < 0 && r > -4096;
}

static inline long sys_ret(long r)
{
	if (sys_failed(r)) {
		errno = __dm_errno(-r);
		return -1;
	}
	return r;
}

/* For the calls dmos does not have. */
static inline long sys_enosys(void)
{
	errno = ENOSYS;
	return -1;
}

#endif
