/*
 * fsop: file system workloads for one node of a cluster, run by the
 * cluster tests and benchmarks on several nodes at once against the same
 * files of dmosfs. Each prints one summary line, "fsop: VERB ...", that a
 * test reads, and exits 0 only if everything it did succeeded.
 *
 *   fsop append FILE TAG N       N records "TAG <i>\n" (16 bytes each) with O_APPEND
 *   fsop storm A B ROUNDS        move every file of A to B and back, ROUNDS times;
 *                                a name another node moved first is skipped
 *   fsop make DIR N              files DIR/f<i>, each holding its own name
 *   fsop count A B               how many files each directory holds, and whether
 *                                every f<i> is in exactly one of them
 *   fsop lock FILE MS TAG        take a write lock on FILE (F_SETLKW), append
 *                                "TAG in", hold MS ms, append "TAG out", unlock
 *   fsop getlk FILE              who holds a lock on FILE that keeps a write
 *                                lock of all of it out (F_GETLK): pid, node
 *   fsop fill FILE               write until the disk is full (ENOSPC)
 *   fsop pattern FILE SIZE SEED  write SIZE bytes of a seeded pattern (no fsync);
 *                                with "hold" after SEED, then sleep for good
 *   fsop verify FILE SIZE SEED   read FILE back and compare with the pattern
 *   fsop orphan FILE SIZE SEED   open FILE, wait until its name is gone (another
 *                                node unlinked it), then read it through the
 *                                open descriptor and compare with the pattern
 *   fsop fsync FILE              fsync FILE (what is dirty of it reaches the disk)
 *   fsop meta DIR N [TAG]        create, stat, unlink N small files DIR/TAGm<i>: ops/s
 *   fsop seq FILE MB             write MB MiB, fsync, read it back: MB/s each way
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include "dm.h"
#include "userland/libc/sys.h"

#define REC 16
#define PID_NODE_STRIDE 1000000         /* pid = node * this + n (sched/sched.h) */

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "fsop: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

static double secs(uint64_t t0)
{
	return (double)(dm_now_ns() - t0) / 1e9;
}

static int append(const char *path, const char *tag, long n)
{
	char rec[48];
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	if (fd < 0)
		return fail("open", path);
	for (long i = 0; i < n; i++) {
		if (snprintf(rec, sizeof(rec), "%-6.6s %8ld\n", tag, i % 100000000) != REC ||
		    write(fd, rec, REC) != REC)
			return fail("write", path);
	}
	if (close(fd))
		return fail("close", path);
	printf("fsop: append %s: %ld records\n", tag, n);
	return 0;
}

/* Move every regular file of from into to; return how many moved. */
static long move_all(const char *from, const char *to, long *skipped)
{
	char a[256], b[256];
	struct dirent *de;
	long moved = 0;
	DIR *d = opendir(from);

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, de->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, de->d_name);
		if (!rename(a, b))
			moved++;
		else if (errno == ENOENT)
			(*skipped)++;   /* another node moved it first */
		else {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return moved;
}

static int storm(const char *a, const char *b, long rounds)
{
	long moved = 0, skipped = 0;

	for (long r = 0; r < rounds; r++) {
		long m1 = move_all(a, b, &skipped), m2 = m1 < 0 ? -1 : move_all(b, a, &skipped);

		if (m1 < 0 || m2 < 0)
			return fail("rename in", r % 2 ? b : a);
		moved += m1 + m2;
	}
	printf("fsop: storm: %ld rounds, %ld renames, %ld skipped\n", rounds, moved, skipped);
	return 0;
}

static int make(const char *dir, long n)
{
	char p[256];

	for (long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/f%ld", dir, i);
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || write(fd, p + strlen(dir) + 1, strlen(p + strlen(dir) + 1)) < 0 ||
		    close(fd))
			return fail("make", p);
	}
	printf("fsop: make: %ld files\n", n);
	return 0;
}

/* How many times f<i> is in dir, into seen[i]. */
static long tally(const char *dir, unsigned char *seen, long n, long *odd)
{
	struct dirent *de;
	long count = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char *end;
		long i;

		if (de->d_name[0] == '.')
			continue;
		count++;
		i = de->d_name[0] == 'f' ? strtol(de->d_name + 1, &end, 10) : -1;
		if (i >= 0 && i < n && !*end)
			seen[i]++;
		else
			(*odd)++;
	}
	closedir(d);
	return count;
}

static int count(const char *a, const char *b, long n)
{
	unsigned char *seen = calloc((size_t)n, 1);
	long odd = 0, once = 0, na, nb;

	if (!seen)
		return 1;
	na = tally(a, seen, n, &odd);
	nb = tally(b, seen, n, &odd);
	if (na < 0 || nb < 0)
		return fail("list", na < 0 ? a : b);
	for (long i = 0; i < n; i++)
		once += seen[i] == 1;
	printf("fsop: count: %ld in %s, %ld in %s, %ld of %ld exactly once, %ld others\n",
	       na, a, nb, b, once, n, odd);
	return once != n || odd;
}

static int lock(const char *path, long ms, const char *tag)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	char line[64];
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0644);

	if (fd < 0)
		return fail("open", path);
	if (fcntl(fd, F_SETLKW, &fl))
		return fail("lock", path);
	snprintf(line, sizeof(line), "%s in\n", tag);
	if (write(fd, line, strlen(line)) < 0)
		return fail("write", path);
	dm_sleep_ns((uint64_t)ms * 1000000);
	snprintf(line, sizeof(line), "%s out\n", tag);
	if (write(fd, line, strlen(line)) < 0)
		return fail("write", path);
	fl.l_type = F_UNLCK;
	if (fcntl(fd, F_SETLK, &fl) || close(fd))
		return fail("unlock", path);
	printf("fsop: lock %s: held %ld ms\n", tag, ms);
	return 0;
}

/*
 * F_GETLK through the system call itself, with the kernel's struct
 * dm_flock: newlib's l_pid is a short, and cluster-wide pids are larger.
 */
static int getlk(const char *path)
{
	struct dm_flock d = { DM_F_WRLCK, DM_SEEK_SET, 0, 0, 0, 0, 0 };
	char end[24] = "EOF";
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return fail("open", path);
	if (sys_ret(sys3(SYS_fcntl, fd, DM_F_GETLK, &d)) < 0)
		return fail("getlk", path);
	close(fd);
	if (d.type == DM_F_UNLCK) {
		printf("fsop: getlk %s: no lock\n", path);
		return 0;
	}
	if (d.len)
		snprintf(end, sizeof(end), "%lld", (long long)(d.start + d.len));
	printf("fsop: getlk %s: %s lock of %lld..%s held by pid %d on node %d\n", path,
	       d.type == DM_F_WRLCK ? "write" : "read", (long long)d.start, end, d.pid,
	       d.pid / PID_NODE_STRIDE);
	return 0;
}

static int fill(const char *path)
{
	static char buf[65536];
	long long total = 0;
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return fail("open", path);
	memset(buf, 'z', sizeof(buf));
	while ((n = write(fd, buf, sizeof(buf))) > 0)
		total += n;
	if (n < 0 && errno != ENOSPC)
		return fail("write", path);
	printf("fsop: fill: %lld bytes, then %s\n", total, n < 0 ? strerror(errno) : "0");
	if (close(fd))
		return fail("close", path);
	return n < 0 ? 0 : 1;
}

static unsigned char pat(uint64_t i, long seed)
{
	uint64_t x = (i / 8 + 1) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)seed * 0xBF58476D1CE4E5B9ULL;

	x ^= x >> 29;
	return (unsigned char)(x >> (8 * (i % 8)));
}

static int pattern(const char *path, long size, long seed, int hold)
{
	static unsigned char buf[65536];
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd < 0)
		return fail("open", path);
	for (long off = 0; off < size; off += (long)sizeof(buf)) {
		long n = size - off < (long)sizeof(buf) ? size - off : (long)sizeof(buf);

		for (long i = 0; i < n; i++)
			buf[i] = pat((uint64_t)(off + i), seed);
		if (write(fd, buf, (size_t)n) != n)
			return fail("write", path);
	}
	printf("fsop: pattern %s: %ld bytes, seed %ld\n", path, size, seed);
	fflush(stdout);
	if (hold)
		for (;;)
			dm_sleep_ns(1000000000ULL);     /* the dirty pages stay in the pool */
	return close(fd) ? fail("close", path) : 0;
}

static int verify(const char *path, long size, long seed)
{
	static unsigned char buf[65536];
	long off = 0, bad = -1;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return fail("open", path);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (long i = 0; i < n && bad < 0; i++)
			if (buf[i] != pat((uint64_t)(off + i), seed))
				bad = off + i;
		off += n;
	}
	close(fd);
	printf("fsop: verify %s: %ld bytes, %s\n", path, off,
	       off != size ? "wrong size" : bad >= 0 ? "differs" : "matches");
	if (bad >= 0)
		printf("fsop: first difference at byte %ld\n", bad);
	return off != size || bad >= 0;
}

static int sync_file(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return fail("open", path);
	if (fsync(fd)) {
		fail("fsync", path);
		close(fd);
		return 1;
	}
	printf("fsop: fsync %s: done\n", path);
	return close(fd) ? fail("close", path) : 0;
}

/* Compare what fd reads from its start with the pattern: the bytes read, or -1 if they differ. */
static long compare(int fd, long seed)
{
	static unsigned char buf[65536];
	long off = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (long i = 0; i < n; i++)
			if (buf[i] != pat((uint64_t)(off + i), seed))
				return -1;
		off += n;
	}
	return n < 0 ? -1 : off;
}

static int orphan(const char *path, long size, long seed)
{
	struct stat st;
	long got;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return fail("open", path);
	printf("fsop: orphan %s: open, waiting for its unlink\n", path);
	fflush(stdout);
	while (stat(path, &st) == 0)
		dm_sleep_ns(20000000);
	if (errno != ENOENT)
		return fail("stat", path);
	got = compare(fd, seed);
	printf("fsop: orphan %s: unlinked; %ld bytes read through the open descriptor, %s\n",
	       path, got < 0 ? 0 : got, got == size ? "matches" : "differs");
	return close(fd) || got != size;
}

static int meta(const char *dir, long n, const char *tag)
{
	char p[256];
	struct stat st;
	uint64_t t0 = dm_now_ns();
	double t;

	for (long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%sm%ld", dir, tag, i);
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || close(fd))
			return fail("create", p);
	}
	for (long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%sm%ld", dir, tag, i);
		if (stat(p, &st))
			return fail("stat", p);
	}
	for (long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%sm%ld", dir, tag, i);
		if (unlink(p))
			return fail("unlink", p);
	}
	t = secs(t0);
	printf("fsop: meta: %ld files, %ld ops in %.3f s, %.0f ops/s\n", n, 3 * n, t, 3 * n / t);
	return 0;
}

static int seq(const char *path, long mb)
{
	static char buf[1 << 20];
	uint64_t t0;
	double tw, tr;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return fail("open", path);
	memset(buf, 's', sizeof(buf));
	t0 = dm_now_ns();
	for (long i = 0; i < mb; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return fail("write", path);
	if (fsync(fd))
		return fail("fsync", path);
	tw = secs(t0);
	if (lseek(fd, 0, SEEK_SET))
		return fail("lseek", path);
	t0 = dm_now_ns();
	for (long i = 0; i < mb; i++)
		if (read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return fail("read", path);
	tr = secs(t0);
	close(fd);
	printf("fsop: seq: %ld MiB, write %.1f MB/s, read %.1f MB/s\n", mb,
	       mb * 1.048576 / tw, mb * 1.048576 / tr);
	return 0;
}

int main(int argc, char **argv)
{
	const char *v = argc > 1 ? argv[1] : "";

	if (!strcmp(v, "append") && argc == 5)
		return append(argv[2], argv[3], atol(argv[4]));
	if (!strcmp(v, "storm") && argc == 5)
		return storm(argv[2], argv[3], atol(argv[4]));
	if (!strcmp(v, "make") && argc == 4)
		return make(argv[2], atol(argv[3]));
	if (!strcmp(v, "count") && argc == 5)
		return count(argv[2], argv[3], atol(argv[4]));
	if (!strcmp(v, "lock") && argc == 5)
		return lock(argv[2], atol(argv[3]), argv[4]);
	if (!strcmp(v, "getlk") && argc == 3)
		return getlk(argv[2]);
	if (!strcmp(v, "fill") && argc == 3)
		return fill(argv[2]);
	if (!strcmp(v, "pattern") && (argc == 5 || (argc == 6 && !strcmp(argv[5], "hold"))))
		return pattern(argv[2], atol(argv[3]), atol(argv[4]), argc == 6);
	if (!strcmp(v, "verify") && argc == 5)
		return verify(argv[2], atol(argv[3]), atol(argv[4]));
	if (!strcmp(v, "fsync") && argc == 3)
		return sync_file(argv[2]);
	if (!strcmp(v, "orphan") && argc == 5)
		return orphan(argv[2], atol(argv[3]), atol(argv[4]));
	if (!strcmp(v, "meta") && (argc == 4 || argc == 5))
		return meta(argv[2], atol(argv[3]), argc == 5 ? argv[4] : "");
	if (!strcmp(v, "seq") && argc == 4)
		return seq(argv[2], atol(argv[3]));
	fprintf(stderr, "usage: fsop append FILE TAG N | storm A B ROUNDS | make DIR N | "
		"count A B N | lock FILE MS TAG | getlk FILE | fill FILE | pattern FILE SIZE SEED [hold] | "
		"verify FILE SIZE SEED | orphan FILE SIZE SEED | fsync FILE | meta DIR N [TAG] | "
		"seq FILE MB\n");
	return 2;
}
