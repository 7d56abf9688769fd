/*
 * mkdir: make directories.
 *
 *   mkdir [-p] DIR...       -p: make missing parents too, and say nothing
 *                           about a directory that is there already
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* mkdir -p: each prefix of path that ends before a '/', then path. */
static int make_parents(char *path)
{
	struct stat st;

	for (char *p = path + 1; ; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = 0;
		int bad = mkdir(path, 0777) < 0 &&
			  (errno != EEXIST || stat(path, &st) < 0 || !S_ISDIR(st.st_mode));
		*p = c;
		if (bad) {
			if (errno == EEXIST)
				errno = ENOTDIR;
			return -1;
		}
		if (!c)
			return 0;
	}
}

int main(int argc, char **argv)
{
	int i = 1, parents = 0, status = 0;

	if (argc > 1 && !strcmp(argv[1], "-p")) {
		parents = 1;
		i++;
	}
	if (i == argc) {
		fprintf(stderr, "mkdir: which directory? (mkdir [-p] DIR...)\n");
		return 2;
	}
	for (; i < argc; i++) {
		if ((parents ? make_parents(argv[i]) : mkdir(argv[i], 0777)) < 0) {
			fprintf(stderr, "mkdir: %s: %s\n", argv[i], strerror(errno));
			status = 1;
		}
	}
	return status;
}
