/* dmtest: system calls with bad pointers and bad arguments (see main.c). */
#include "dmtest.h"

/* ---- system calls with bad pointers and bad arguments ---------------------------- */

const char *t_write_bad_pointers(void)
{
	char *area = dm_alloc(2 * PAGE, DM_LOCAL, 0);

	ERR(write(1, NULL, 8), EFAULT);
	ERR(write(1, KADDR, 8), EFAULT);
	ERR(write(1, UNMAPPED, 8), EFAULT);
	ERR(write(1, NONCANON, 8), EFAULT);
	ERR(write(2, (void *)0xffff800000000000UL, 8), EFAULT);        /* the direct map */
	CHECK(area, "dm_alloc: %s", ename(errno));
	area[0] = 'x';
	ERR(write(1, area + PAGE, 2 * PAGE), EFAULT);   /* runs off the end of an area */
	dm_free(area, 2 * PAGE);
	return NULL;
}

const char *t_read_bad_pointers(void)
{
	int fd = open("dmtest", O_RDONLY);

	ERR(read(0, NULL, 8), EFAULT);
	ERR(read(0, KADDR, 8), EFAULT);
	ERR(read(0, UNMAPPED, 8), EFAULT);
	ERR(read(0, (void *)t_read_bad_pointers, 8), EFAULT);    /* our own code: read-only */
	CHECK(fd >= 3, "open(dmtest) = %d (%s)", fd, ename(errno));
	ERR(read(fd, NULL, 8), EFAULT);
	ERR(read(fd, KADDR, 8), EFAULT);
	close(fd);
	return NULL;
}

const char *t_bad_fds(void)
{
	char buf[8] = "x";
	struct stat st;

	ERR(write(-1, buf, 1), EBADF);
	ERR(write(3, buf, 1), EBADF);
	ERR(write(99, buf, 1), EBADF);
	ERR(read(-1, buf, 1), EBADF);
	ERR(read(5, buf, 1), EBADF);
	ERR(read(1000, buf, 1), EBADF);
	ERR(close(-1), EBADF);
	ERR(close(7), EBADF);
	ERR(close(99), EBADF);
	ERR(fstat(9, &st), EBADF);
	ERR(fstat(-3, &st), EBADF);
	ERR(lseek(11, 0, SEEK_SET), EBADF);
	return NULL;
}

const char *t_bad_lengths(void)
{
	char buf[16] = "";

	ERR(write(1, buf, (size_t)-1), EFAULT);         /* wraps around */
	ERR(write(1, buf, 1UL << 40), EFAULT);          /* far past the stack */
	ERR(read(0, buf, (size_t)-1), EFAULT);
	ERR(read(0, buf, 1UL << 40), EFAULT);
	CHECK(write(1, buf, 0) == 0, "write(1, buf, 0) = %d (%s), want 0", (int)write(1, buf, 0),
	      ename(errno));
	return NULL;
}

const char *t_open_errors(void)
{
	char path[200], elf[4];
	int fd;

	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = 0;
	ERR(open(NULL, O_RDONLY), EFAULT);
	ERR(open(KADDR, O_RDONLY), EFAULT);
	ERR(open(UNMAPPED, O_RDONLY), EFAULT);
	ERR(open("no-such-program", O_RDONLY), ENOENT);
	ERR(open(path, O_RDONLY), ENAMETOOLONG);
	ERR(open("hello", O_WRONLY), EROFS);            /* the initrd is read-only */
	ERR(open("hello", O_RDWR), EROFS);
	fd = open("hello", O_RDONLY);
	CHECK(fd >= 3, "open(hello) = %d (%s)", fd, ename(errno));
	CHECK(read(fd, elf, 4) == 4 && !memcmp(elf, "\177ELF", 4), "hello does not start with ELF magic");
	ERR(lseek(fd, 0, 7), EINVAL);
	ERR(lseek(fd, -10, SEEK_SET), EINVAL);
	ERR(lseek(1, 0, SEEK_SET), ESPIPE);
	CHECK(lseek(fd, 1, SEEK_SET) == 1, "lseek(fd, 1, SEEK_SET) != 1");
	CHECK(close(fd) == 0, "close(%d): %s", fd, ename(errno));
	ERR(close(fd), EBADF);
	return NULL;
}

const char *t_open_too_many(void)
{
	int fds[DM_OPEN_MAX], n = 0, fd;

	while (n < DM_OPEN_MAX && (fd = open("hello", O_RDONLY)) >= 0)
		fds[n++] = fd;
	int err = errno;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	CHECK(n < DM_OPEN_MAX, "%d files open at once and no EMFILE", DM_OPEN_MAX);
	CHECK(n >= DM_OPEN_MAX - 8, "EMFILE after %d opens, with DM_OPEN_MAX %d", n, DM_OPEN_MAX);
	CHECK(err == EMFILE, "open number %d failed with %s, want EMFILE", n + 1, ename(err));
	fd = open("hello", O_RDONLY);   /* and they all came back */
	CHECK(fd >= 3, "open after closing all: %s", ename(errno));
	close(fd);
	return NULL;
}

const char *t_fstat(void)
{
	struct stat st;
	int fd = open("hello", O_RDONLY);

	CHECK(fstat(1, &st) == 0 && S_ISCHR(st.st_mode), "fstat(1): not a character device");
	CHECK(fd >= 3 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 1000,
	      "fstat(hello): not a regular file with a size");
	RAW(-LINUX_EFAULT, SYS_fstat, fd, 0, 0);
	RAW(-LINUX_EFAULT, SYS_fstat, 1, KADDR, 0);
	RAW(-LINUX_EFAULT, SYS_fstat, 1, UNMAPPED, 0);
	close(fd);
	return NULL;
}

const char *t_unknown_syscall(void)
{
	RAW(-LINUX_ENOSYS, 0, 0, 0, 0);
	RAW(-LINUX_ENOSYS, SYS_MAX, 0, 0, 0);
	RAW(-LINUX_ENOSYS, SYS_MAX + 1, 1, 2, 3);
	RAW(-LINUX_ENOSYS, 1000, 0, 0, 0);
	RAW(-LINUX_ENOSYS, -1, 0, 0, 0);
	RAW(-LINUX_ENOSYS, 1L << 40, 0, 0, 0);
	ERR(fork(), ENOSYS);                    /* newlib's errno, newlib's number */
	ERR(execve("hello", NULL, NULL), ENOSYS);
	return NULL;
}

const char *t_dm_alloc_bad_args(void)
{
	NULLERR(dm_alloc(0, DM_LOCAL, 0), EINVAL);
	NULLERR(dm_alloc(PAGE, 0, 0), EINVAL);
	NULLERR(dm_alloc(PAGE, 4, 0), EINVAL);
	NULLERR(dm_alloc(PAGE, -1, 0), EINVAL);
	NULLERR(dm_alloc(PAGE, DM_LOCAL, 2), EINVAL);
	NULLERR(dm_alloc(PAGE, DM_POOL, 0x100), EINVAL);
	NULLERR(dm_alloc(PAGE, DM_ANY, -1), EINVAL);
	NULLERR(dm_alloc((size_t)-1, DM_ANY, 0), EINVAL);
	NULLERR(dm_alloc((size_t)-4096, DM_LOCAL, 0), EINVAL);
	NULLERR(dm_alloc(1UL << 40, DM_ANY, 0), EINVAL);      /* 1 TiB */
	return NULL;
}

const char *t_dm_free_bad_args(void)
{
	char *heap = malloc(64);
	char *p = dm_alloc(4 * PAGE, DM_LOCAL, 0);

	CHECK(p, "dm_alloc: %s", ename(errno));
	ERR(dm_free(NULL, PAGE), EINVAL);
	ERR(dm_free(heap, 64), EINVAL);
	ERR(dm_free(KADDR, PAGE), EINVAL);
	ERR(dm_free(p, PAGE), EINVAL);                  /* not the size it was given */
	ERR(dm_free(p + PAGE, 3 * PAGE), EINVAL);       /* not its start */
	CHECK(dm_free(p, 4 * PAGE) == 0, "dm_free: %s", ename(errno));
	ERR(dm_free(p, 4 * PAGE), EINVAL);              /* twice */
	free(heap);
	return NULL;
}

const char *t_dm_where_bad(void)
{
	char *p = dm_alloc(PAGE, DM_LOCAL, 0);

	ERR(dm_where(NULL), EFAULT);
	ERR(dm_where(KADDR), EFAULT);
	ERR(dm_where(UNMAPPED), EFAULT);
	CHECK(p && dm_where(p) == DM_LOCAL, "dm_where(local page) = %d", p ? dm_where(p) : -2);
	dm_free(p, PAGE);
	ERR(dm_where(p), EFAULT);                       /* freed */
	return NULL;
}

const char *t_loss_bad_args(void)
{
	RAW(-LINUX_EFAULT, SYS_dm_on_loss, KADDR, 0, 0);        /* the entry must be user code */
	RAW(-LINUX_EFAULT, SYS_dm_on_loss, NONCANON, 0, 0);
	RAW(-LINUX_EINVAL, SYS_dm_loss_return, 0, 0, 0);        /* no exception is running */
	RAW(-LINUX_EINVAL, SYS_dm_loss_return, UNMAPPED, 0, 0);
	CHECK(dm_on_loss(NULL) == 0, "dm_on_loss(NULL): %s", ename(errno));
	return NULL;
}

const char *t_seg_bad_args(void)
{
	char name[DM_NAME_MAX], longname[48];
	int x;

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	segname(name, "bad");
	NULLERR(seg_create(NULL, PAGE, 0), EFAULT);
	NULLERR(seg_create(KADDR, PAGE, 0), EFAULT);
	NULLERR(seg_create(UNMAPPED, PAGE, 0), EFAULT);
	NULLERR(seg_create("", PAGE, 0), EINVAL);
	NULLERR(seg_create(name, 0, 0), EINVAL);
	NULLERR(seg_create(name, (1UL << 30) + 1, 0), EINVAL);
	NULLERR(seg_create(name, (size_t)-1, 0), EINVAL);
	NULLERR(seg_create(longname, PAGE, 0), ENAMETOOLONG);
	NULLERR(seg_attach(NULL, 0), EFAULT);
	NULLERR(seg_attach(KADDR, 0), EFAULT);
	NULLERR(seg_attach(name, 0), ENOENT);
	NULLERR(seg_attach(longname, 0), ENAMETOOLONG);
	ERR(seg_detach(NULL), EINVAL);
	ERR(seg_detach(&x), EINVAL);
	ERR(seg_detach(KADDR), EINVAL);
	return NULL;
}

const char *t_futex_bad_args(void)
{
	static uint32_t word;
	char *c = (char *)&word;

	ERR(futex_wait(NULL, 0, MS), EFAULT);
	ERR(futex_wait(KADDR, 0, MS), EFAULT);
	ERR(futex_wait(UNMAPPED, 0, MS), EFAULT);
	ERR(futex_wait((uint32_t *)(c + 1), 0, MS), EFAULT);      /* misaligned */
	ERR(futex_wake(NULL, 1), EFAULT);
	ERR(futex_wake(KADDR, 1), EFAULT);
	ERR(futex_wake((uint32_t *)(c + 2), 1), EFAULT);
	ERR(futex_wake(&word, -1), EINVAL);
	return NULL;
}

const char *t_spawn_bad_args(void)
{
	char arg[100], *many[20], *badargv[] = { "dmtest", KADDR, NULL };
	char *longarg[] = { "dmtest", arg, NULL };

	memset(arg, 'a', sizeof(arg) - 1);
	arg[sizeof(arg) - 1] = 0;
	for (int i = 0; i < 19; i++)
		many[i] = "x";
	many[19] = NULL;
	ERR(dm_spawn(NULL, NULL, self), EFAULT);
	ERR(dm_spawn(KADDR, NULL, self), EFAULT);
	ERR(dm_spawn(UNMAPPED, NULL, self), EFAULT);
	ERR(dm_spawn(arg, NULL, self), ENAMETOOLONG);
	ERR(dm_spawn("no-such-program", NULL, self), ENOENT);
	ERR(dm_spawn("hello", NULL, nodes), EINVAL);
	ERR(dm_spawn("hello", NULL, 999), EINVAL);
	ERR(dm_spawn("hello", NULL, -5), EINVAL);
	ERR(dm_spawn("hello", (char **)KADDR, self), EFAULT);
	ERR(dm_spawn("hello", (char **)UNMAPPED, self), EFAULT);
	ERR(dm_spawn("hello", badargv, self), EFAULT);
	ERR(dm_spawn("hello", many, self), E2BIG);
	ERR(dm_spawn("hello", longarg, self), ENAMETOOLONG);
	ERR(dm_wait(-1, NULL), ECHILD);         /* and none of them started */
	return NULL;
}

const char *t_wait_bad_args(void)
{
	int st;

	ERR(dm_wait(-1, NULL), ECHILD);
	ERR(dm_wait(-1, &st), ECHILD);
	ERR(dm_wait(12345, &st), ECHILD);
	ERR(dm_wait(-1, KADDR), EFAULT);
	ERR(dm_wait(-1, (int *)t_wait_bad_args), EFAULT);  /* read-only */
	ERR(waitpid(-1, &st, WNOHANG), EINVAL);
	ERR(wait(&st), ECHILD);
	return NULL;
}

const char *t_info_bad_args(void)
{
	struct dm_proc ps[4], *page = dm_alloc(PAGE, DM_LOCAL, 0);
	struct timespec ts;

	CHECK(page, "dm_alloc: %s", ename(errno));
	errno = 0;
	long r = dm_ps(page, 100), e = errno;    /* more than the page holds: runs into the guard */
	dm_free(page, PAGE);
	CHECK(r == -1 && e == EFAULT, "dm_ps(one page, 100) = %ld (%s), want -1 (EFAULT)", r, ename(e));

	ERR(dm_ps(NULL, 4), EFAULT);
	ERR(dm_ps(KADDR, 4), EFAULT);
	ERR(dm_ps(ps, -1), EINVAL);
	ERR(dm_ps(ps, 1 << 20), EINVAL);
	ERR(dm_meminfo(NULL), EFAULT);
	ERR(dm_meminfo(KADDR), EFAULT);
	ERR(dm_nodeinfo(KADDR), EFAULT);
	ERR(dm_nodeinfo(UNMAPPED), EFAULT);
	RAW(-LINUX_EINVAL, SYS_clock_ns, 2, 0, 0);
	RAW(-LINUX_EINVAL, SYS_clock_ns, -1, 0, 0);
	ERR(clock_gettime(99, &ts), EINVAL);
	return NULL;
}

const char *t_kill_bad(void)
{
	ERR(kill(999999, 9), ESRCH);
	ERR(kill(-5, 9), ESRCH);
	ERR(kill(self * PID_STRIDE, 9), ESRCH);         /* the kernel thread */
	return NULL;
}

const char *t_sbrk_limits(void)
{
	void *before = sbrk(0);

	CHECK(sbrk(1L << 40) == (void *)-1 && errno == ENOMEM, "sbrk(1 TiB) did not fail with ENOMEM");
	CHECK(sbrk(-(1L << 40)) == (void *)-1 && errno == ENOMEM, "sbrk(-1 TiB) did not fail with ENOMEM");
	CHECK(sbrk(0) == before, "the break moved: %p -> %p", before, sbrk(0));
	return NULL;
}
