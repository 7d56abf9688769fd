/*
 * The kernel's pool checker (kernel/cluster/poolcheck.c) as a host command,
 * for tests/tools/test_poolcheck.py, which compares what it says about a
 * pool image with what the inspector says:
 *
 *   poolcheck FILE     "ok", or the broken invariant's name, a tab, its reason
 *   poolcheck --list   every invariant: name, a tab, its reason's format
 *
 * Exit status 0 with an answer, 2 if FILE cannot be read.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/cluster/poolcheck.h"

int main(int argc, char **argv)
{
	struct stat st;
	char why[256];
	void *p;
	int fd, id;

	if (argc != 2) {
		fprintf(stderr, "usage: poolcheck FILE | poolcheck --list\n");
		return 2;
	}
	if (!strcmp(argv[1], "--list")) {
		for (id = 1; id < POOLCHECK_COUNT; id++)
			printf("%s\t%s\n", poolcheck_invariants[id].name, poolcheck_invariants[id].reason);
		return 0;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) || st.st_size <= 0) {
		perror(argv[1]);
		return 2;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		perror(argv[1]);
		return 2;
	}
	id = poolcheck(p, (uint64_t)st.st_size, why, sizeof(why));
	if (id)
		printf("%s\t%s\n", poolcheck_invariants[id].name, why);
	else
		printf("ok\n");
	munmap(p, (size_t)st.st_size);
	close(fd);
	return 0;
}
