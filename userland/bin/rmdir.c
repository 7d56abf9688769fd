/*
 * rmdir: remove empty directories.
 *
 *   rmdir [-p] DIR...       -p: then each parent DIR names, as far as they
 *                           empty out (rmdir -p a/b/c removes a/b/c, a/b, a)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "dm.h"

/* Remove path; with parents its parents too. Return: 0, or 1 (said why). */
static int remove_dir(const char *path, int parents)
{
	char buf[DM_PATH_MAX];
	size_t n;

	if (rmdir(path) < 0) {
		fprintf(stderr, "rmdir: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!parents)
		return 0;
	if ((n = strlen(path)) >= sizeof(buf)) {
		fprintf(stderr, "rmdir: %s: %s\n", path, strerror(ENAMETOOLONG));
		return 1;
	}
	memcpy(buf, path, n + 1);
	for (;;) {
		while (n > 0 && buf[n - 1] == '/')     /* "a/b/" is "a/b" */
			n--;
		while (n > 0 && buf[n - 1] != '/')     /* drop the last component */
			n--;
		while (n > 0 && buf[n - 1] == '/')
			n--;
		if (n == 0)
			return 0;
		buf[n] = 0;
		if (rmdir(buf) < 0) {
			fprintf(stderr, "rmdir: %s: %s\n", buf, strerror(errno));
			return 1;
		}
	}
}

int main(int argc, char **argv)
{
	int i = 1, parents = 0, status = 0;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-p")) {
			fprintf(stderr, "rmdir: unknown option %s (rmdir [-p] DIR...)\n", argv[i]);
			return 2;
		}
		parents = 1;
	}
	if (i == argc) {
		fprintf(stderr, "rmdir: which directory? (rmdir [-p] DIR...)\n");
		return 2;
	}
	for (; i < argc; i++)
		status |= remove_dir(argv[i], parents);
	return status;
}
