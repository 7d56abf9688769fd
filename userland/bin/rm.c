/*
 * rm: remove files, and with -r directories with all they hold.
 *
 *   rm [-r] [-f] PATH...    -f: no complaint about what is not there
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dm.h"

static int recursive, force;

/* Remove path. Return: 0, or -1 (said why). */
static int rm(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (force && errno == ENOENT)
			return 0;
		fprintf(stderr, "rm: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) == 0)
			return 0;
		fprintf(stderr, "rm: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!recursive) {
		fprintf(stderr, "rm: %s: is a directory (rm -r removes it)\n", path);
		return -1;
	}
	DIR *d = opendir(path);
	struct dirent *de;
	int status = 0;
	if (!d) {
		fprintf(stderr, "rm: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		char sub[DM_PATH_MAX];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub)) {
			fprintf(stderr, "rm: %s/%s: the path is too long\n", path, de->d_name);
			status = -1;
			continue;
		}
		status |= rm(sub);      /* readdir's place survives removals */
	}
	closedir(d);
	if (status == 0 && rmdir(path) < 0) {
		fprintf(stderr, "rm: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return status;
}

int main(int argc, char **argv)
{
	int i = 1, status = 0;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		for (const char *f = argv[i] + 1; *f; f++) {
			if (*f == 'r' || *f == 'R')
				recursive = 1;
			else if (*f == 'f')
				force = 1;
			else {
				fprintf(stderr, "rm: unknown flag -%c (rm [-r] [-f] PATH...)\n", *f);
				return 2;
			}
		}
	}
	if (i == argc && !force) {
		fprintf(stderr, "rm: what? (rm [-r] [-f] PATH...)\n");
		return 2;
	}
	for (; i < argc; i++)
		status |= rm(argv[i]) < 0;
	return status;
}
