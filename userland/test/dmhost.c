/*
 * libdm's calls that httpd and kvd use, for building them against glibc
 * on a Linux host (make -C userland host-servers), where there is no dmos
 * kernel: only for the host tests of tests/tools/test_servers_host.py.
 *
 *   dm_node()         $DMOS_NODE (a number), else 0: the "node" a host
 *                     process plays, so two servers can tell themselves apart
 *   seg_create/attach a file dmos-seg-NAME in $DMOS_SEG_DIR (default
 *                     /dev/shm), mapped shared: every process that attaches
 *                     sees the same memory, like a segment in the pool. The
 *                     file starts with a page holding the size and key; the
 *                     segment is what follows. Unlike dmos's, it outlives
 *                     its last attachment until the file is removed, and it
 *                     is not mapped at the same address everywhere (kvd
 *                     keeps no pointers in its segment).
 *   seg_detach        unmaps
 *   dm_ps             the host's processes from /proc (pid, ppid, state,
 *                     name; node -1: a host process has none)
 *   dm_yield          sched_yield
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dm.h"

#define SEG_MAGIC 0x31676573736f6d64ULL /* "dmosseg1" */
#define SEG_HEAD  4096
#define SEG_LIMIT (1UL << 30)

struct seg_head {
	uint64_t magic;
	uint64_t bytes;
	uint32_t key;
};

static struct { void *base; size_t len; } maps[16];

int dm_node(void)
{
	const char *s = getenv("DMOS_NODE");

	return s && *s ? atoi(s) : 0;
}

void dm_yield(void)
{
	sched_yield();
}

/* The segment's file name into buf; -1 with EINVAL for a bad name. */
static int seg_path(const char *name, char *buf, size_t size)
{
	const char *dir = getenv("DMOS_SEG_DIR");
	size_t n = strlen(name);

	if (!n || n >= DM_NAME_MAX || strchr(name, '/')) {
		errno = n >= DM_NAME_MAX ? ENAMETOOLONG : EINVAL;
		return -1;
	}
	snprintf(buf, size, "%s/dmos-seg-%s", dir && *dir ? dir : "/dev/shm", name);
	return 0;
}

static void *seg_map(int fd, size_t len)
{
	void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	size_t i;

	if (base == MAP_FAILED)
		return NULL;
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]) && maps[i].base; i++)
		;
	if (i == sizeof(maps) / sizeof(maps[0])) {
		munmap(base, len);
		errno = EMFILE;
		return NULL;
	}
	maps[i].base = base;
	maps[i].len = len;
	return (char *)base + SEG_HEAD;
}

void *seg_create(const char *name, size_t bytes, uint32_t key)
{
	char path[4096], tmp[4200];
	struct seg_head h = { SEG_MAGIC, bytes, key };
	void *seg;
	int fd, err;

	if (seg_path(name, path, sizeof(path)) < 0)
		return NULL;
	if (!bytes || bytes > SEG_LIMIT) {
		errno = EINVAL;
		return NULL;
	}
	/* Made whole under a temporary name, then linked in: whoever attaches sees all of it. */
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL, 0600)) < 0)
		return NULL;
	if (ftruncate(fd, SEG_HEAD + (off_t)bytes) < 0 || pwrite(fd, &h, sizeof(h), 0) != sizeof(h) ||
	    link(tmp, path) < 0) {
		err = errno;
		unlink(tmp);
		close(fd);
		errno = err;
		return NULL;
	}
	unlink(tmp);
	seg = seg_map(fd, SEG_HEAD + bytes);
	err = errno;
	close(fd);
	errno = err;
	return seg;
}

void *seg_attach(const char *name, uint32_t key)
{
	char path[4096];
	struct seg_head h;
	struct stat st;
	void *seg;
	int fd, err;

	if (seg_path(name, path, sizeof(path)) < 0)
		return NULL;
	if ((fd = open(path, O_RDWR)) < 0)
		return NULL;
	if (pread(fd, &h, sizeof(h), 0) != sizeof(h) || h.magic != SEG_MAGIC || fstat(fd, &st) < 0 ||
	    (uint64_t)st.st_size != SEG_HEAD + h.bytes) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	if (h.key && h.key != key) {
		close(fd);
		errno = EACCES;
		return NULL;
	}
	seg = seg_map(fd, SEG_HEAD + h.bytes);
	err = errno;
	close(fd);
	errno = err;
	return seg;
}

int seg_detach(void *addr)
{
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (maps[i].base && (char *)maps[i].base + SEG_HEAD == addr) {
			munmap(maps[i].base, maps[i].len);
			maps[i].base = NULL;
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

int dm_ps(struct dm_proc *buf, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while (n < max && (e = readdir(d))) {
		char path[300], line[512], *open, *close;
		FILE *f;
		int ppid;
		char state;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;       /* gone meanwhile */
		if (!fgets(line, sizeof(line), f) || !(open = strchr(line, '(')) ||
		    !(close = strrchr(line, ')')) || sscanf(close + 1, " %c %d", &state, &ppid) != 2) {
			fclose(f);
			continue;
		}
		fclose(f);
		memset(&buf[n], 0, sizeof(buf[n]));
		buf[n].pid = atoi(e->d_name);
		buf[n].ppid = ppid;
		buf[n].node = -1;
		buf[n].state = state == 'R' ? DM_PROC_RUNNING : state == 'Z' ? DM_PROC_ZOMBIE : DM_PROC_SLEEPING;
		*close = 0;
		snprintf(buf[n].name, sizeof(buf[n].name), "%s", open + 1);
		n++;
	}
	closedir(d);
	return n;
}
