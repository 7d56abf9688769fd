/*
 * selftest: checks the user side of dmos (crt0, the libc stubs, newlib,
 * libdm, the file calls' translations) where it can run without a dmos kernel: on the build host through
 * test/linux.c (`make -C userland host-test`). One line per test
 * (`ok N name` / `not ok N name`), then a summary; exit status 0 when all
 * passed. `selftest --exit N` just returns N from main.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "dm.h"

static int tests, failed;
static int constructed;

__attribute__((constructor)) static void construct(void)
{
	constructed = 1;
}

static void at_exit(void)
{
	printf("selftest: atexit ran\n");       /* flushed by exit(), after main */
}

static void check(int ok, const char *name)
{
	printf("%sok %d %s\n", ok ? "" : "not ", ++tests, name);
	failed += !ok;
}

static int64_t ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The libc file stubs, in a directory of its own under /tmp. */
static int files_ok(void)
{
	char dir[64], a[96], b[96], cwd[128];
	struct flock fl = { F_WRLCK, SEEK_SET, 0, 10, 0, 0 };
	struct dirent *de;
	int fd, found = 0, ok;
	DIR *d;

	snprintf(dir, sizeof(dir), "/tmp/dmos-selftest.%d", getpid());
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	if (mkdir(dir, 0700) < 0)
		return 0;
	fd = open(a, O_RDWR | O_CREAT | O_EXCL, 0600);
	ok = fd >= 0 && write(fd, "data", 4) == 4 && fcntl(fd, F_SETLK, &fl) == 0;
	fl.l_type = F_RDLCK;
	ok &= fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK;     /* our own lock */
	ok &= (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR && close(fd) == 0;
	ok &= open(a, O_RDWR | O_CREAT | O_EXCL, 0600) == -1 && errno == EEXIST;
	ok &= rename(a, b) == 0 && access(a, F_OK) == -1 && errno == ENOENT && access(b, R_OK) == 0;
	if ((d = opendir(dir))) {
		while ((de = readdir(d)))
			found += !strcmp(de->d_name, "b") || !strcmp(de->d_name, ".") ||
				 !strcmp(de->d_name, "..");
		closedir(d);
	}
	ok &= found == 3;
	ok &= chdir(dir) == 0 && getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, dir) && chdir("/") == 0;
	ok &= unlink(b) == 0 && rmdir(dir) == 0 && rmdir(dir) == -1 && errno == ENOENT;
	return ok;
}

int main(int argc, char **argv, char **envp)
{
	char buf[128];

	if (argc == 3 && !strcmp(argv[1], "--exit"))
		return atoi(argv[2]);
	atexit(at_exit);
	printf("1..18\n");

	check(((uintptr_t)__builtin_frame_address(0) & 15) == 0, "stack aligned in main");
	check(argc >= 1 && argv[0][0] && !argv[argc], "argc and argv");
	check(envp == environ && getenv("DMOS_SELFTEST") && !strcmp(getenv("DMOS_SELFTEST"), "yes"),
	      "envp, environ, getenv");
	check(constructed, "constructors ran");

	snprintf(buf, sizeof(buf), "%d %s %5.2f %lld %zu %x %e", -7, "pool", 3.14159,
		 123456789012LL, sizeof(int), 255, 1e10);
	check(!strcmp(buf, "-7 pool  3.14 123456789012 4 ff 1.000000e+10"), "printf formats");

	int ok = 1;
	char *big = malloc(8 << 20);            /* through sbrk */
	ok &= big != NULL;
	if (big) {
		memset(big, 0x5a, 8 << 20);
		big = realloc(big, 16 << 20);
		ok &= big && big[(8 << 20) - 1] == 0x5a;
		free(big);
	}
	void *al = NULL;
	ok &= !posix_memalign(&al, 4096, 100) && !((uintptr_t)al & 4095);
	free(al);
	check(ok, "malloc, realloc, posix_memalign");

	errno = 0;
	check(fork() == -1 && errno == ENOSYS, "fork fails with ENOSYS");
	errno = 0;
	check(dm_ps(NULL, 0) == -1 && errno == ENOSYS, "kernel errno 38 becomes newlib's ENOSYS");
	errno = 0;
	check(open("/nonexistent/dmos", O_RDONLY) == -1 && errno == ENOENT, "open: ENOENT");

	struct stat st;
	int fd = open(argv[0], O_RDONLY);
	ok = fd >= 3 && read(fd, buf, 4) == 4 && !memcmp(buf, "\177ELF", 4);
	ok &= lseek(fd, 1, SEEK_SET) == 1 && read(fd, buf, 3) == 3 && !memcmp(buf, "ELF", 3);
	ok &= fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 4096;
	ok &= close(fd) == 0;
	check(ok, "open, read, lseek, fstat, close");
	check(stat(argv[0], &st) == 0 && S_ISREG(st.st_mode), "stat");

	fd = open(argv[0], O_RDONLY);   /* a regular file is no terminal; 99 is not open */
	ok = fd >= 0 && !isatty(fd) && errno == ENOTTY;
	close(fd);
	check(ok && !isatty(99) && errno == EBADF, "isatty");
	check(getpid() > 0 && kill(getpid(), 0) == 0, "getpid, kill 0");

	int64_t t0 = ns(CLOCK_MONOTONIC);
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	ok = nanosleep(&nap, NULL) == 0;
	int64_t dt = ns(CLOCK_MONOTONIC) - t0;
	usleep(1000);
	check(ok && dt >= 20000000 && dt < 2000000000, "nanosleep 20 ms, monotonic clock");
	check(time(NULL) > 1600000000 && ns(CLOCK_REALTIME) / 1000000000 >= time(NULL) - 1 &&
	      clock() != (clock_t)-1, "time, realtime clock, clock");

	check(fabs(sqrt(2.0 + argc - argc) - M_SQRT2) < 1e-15 && fabs(sin(M_PI / 6) - 0.5) < 1e-15 &&
	      fabs(exp(log(10.0)) - 10.0) < 1e-12 && pow(2.0, 10.0) == 1024.0, "libm");

	int v[] = { 5, 3, 9, 1 }, n;
	qsort(v, 4, sizeof(v[0]), cmp);
	ok = v[0] == 1 && v[3] == 9 && strtod("2.5e3", NULL) == 2500.0;
	ok &= sscanf("node 3 of 8", "node %d of %*d", &n) == 1 && n == 3;
	check(ok, "qsort, strtod, sscanf");

	check(files_ok(), "files: mkdir, rename, opendir, getcwd, fcntl locks, unlink, rmdir");

	printf("# %d tests, %d failed\n", tests, failed);
	return failed != 0;
}
