/*
 * fsread: read a file to its end and say what that cost this node: its
 * size, a hash of its bytes (FNV-1a, 64 bits: the host computes the same in
 * a line of Python), how long it took (and how much of that in read(),
 * without the hash), and what this node's disk and page cache counters
 * (dm_fsinfo) moved by meanwhile. Three nodes reading one file of the
 * cluster file system show the shared cache at work: the first reads the
 * disk, the others read the pool. A directory is read as its listing: a
 * line per entry with what stat says of it.
 *
 *   fsread PATH [BUFSIZE]     "fsread: PATH: ..." last (BUFSIZE: 65536)
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

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

/* "  NAME dir|file SIZE ino INO nlink N" for each entry; the count last. */
static int list(const char *path)
{
	char full[512];
	struct dirent *de;
	struct stat st;
	int n = 0;
	DIR *d = opendir(path);

	if (!d) {
		fprintf(stderr, "fsread: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		if (stat(full, &st)) {
			fprintf(stderr, "fsread: %s: %s\n", full, strerror(errno));
			closedir(d);
			return 1;
		}
		printf("  %s %s %lld ino %llu nlink %u\n", de->d_name,
		       S_ISDIR(st.st_mode) ? "dir" : "file", (long long)st.st_size,
		       (unsigned long long)st.st_ino, (unsigned)st.st_nlink);
		n++;
	}
	closedir(d);
	printf("fsread: %s: directory of %d entries\n", path, n);
	return 0;
}

int main(int argc, char **argv)
{
	struct stat st;

	struct dm_fsinfo a, b;
	uint64_t hash = FNV_OFFSET, total = 0, t0, t1, r0, in_read = 0;
	size_t bufsize = argc > 2 ? strtoul(argv[2], NULL, 0) : 65536;
	unsigned char *buf;
	ssize_t n;
	int fd;

	if (argc < 2 || argc > 3 || !bufsize) {
		fprintf(stderr, "usage: fsread PATH [BUFSIZE]\n");
		return 2;
	}
	if (stat(argv[1], &st) == 0 && S_ISDIR(st.st_mode))
		return list(argv[1]);
	if (!(buf = malloc(bufsize))) {
		fprintf(stderr, "fsread: no memory for a %zu-byte buffer\n", bufsize);
		return 1;
	}
	if (dm_fsinfo(&a) < 0) {
		fprintf(stderr, "fsread: fsinfo: %s\n", strerror(errno));
		return 1;
	}
	t0 = dm_now_ns();
	if ((fd = open(argv[1], O_RDONLY)) < 0) {
		fprintf(stderr, "fsread: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while ((r0 = dm_now_ns(), n = read(fd, buf, bufsize)) > 0) {
		in_read += dm_now_ns() - r0;    /* the time without the hash's */
		for (ssize_t i = 0; i < n; i++)
			hash = (hash ^ buf[i]) * FNV_PRIME;
		total += (uint64_t)n;
	}
	if (n < 0) {
		fprintf(stderr, "fsread: %s: read at %llu: %s\n", argv[1],
			(unsigned long long)total, strerror(errno));
		return 1;
	}
	close(fd);
	t1 = dm_now_ns();
	dm_fsinfo(&b);
	printf("fsread: %s: %llu bytes, fnv1a64 %016llx, %llu us; disk reads %llu (%llu bytes), "
	       "cache hits %llu, misses %llu, fills %llu, fill waits %llu, evictions %llu; "
	       "%llu us in read\n",
	       argv[1], (unsigned long long)total, (unsigned long long)hash,
	       (unsigned long long)((t1 - t0) / 1000),
	       (unsigned long long)(b.disk_reads - a.disk_reads),
	       (unsigned long long)(b.disk_read_bytes - a.disk_read_bytes),
	       (unsigned long long)(b.cache_hits - a.cache_hits),
	       (unsigned long long)(b.cache_misses - a.cache_misses),
	       (unsigned long long)(b.cache_fills - a.cache_fills),
	       (unsigned long long)(b.cache_fill_waits - a.cache_fill_waits),
	       (unsigned long long)(b.cache_evictions - a.cache_evictions),
	       (unsigned long long)(in_read / 1000));
	return 0;
}
