/*
 * ls: list directories (sorted by name) and files.
 *
 *   ls [-l] [-a] [PATH...]  no PATH: "."; -a: with the names starting with
 *                           '.'; -l: type and permissions, links, size, name
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "dm.h"

static int long_form, all;

static void show(const char *dir, const char *name)
{
	char path[DM_PATH_MAX], mode[11] = "----------";
	struct stat st;

	if (!long_form) {
		printf("%s\n", name);
		return;
	}
	snprintf(path, sizeof(path), "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
	if (stat(path, &st) < 0) {
		printf("?????????? %s (%s)\n", name, strerror(errno));
		return;
	}
	mode[0] = S_ISDIR(st.st_mode) ? 'd' : S_ISCHR(st.st_mode) ? 'c' : '-';
	for (int i = 0; i < 9; i++)
		if (st.st_mode & (0400 >> i))
			mode[1 + i] = "rwx"[i % 3];
	printf("%s %2lu %9lld %s\n", mode, (unsigned long)st.st_nlink, (long long)st.st_size, name);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list(const char *path, int header)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	DIR *d;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "ls: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		show(NULL, path);
		return 0;
	}
	if (!(d = opendir(path))) {
		fprintf(stderr, "ls: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && !all)
			continue;
		if (n == cap) {
			char **more = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*names));
			if (!more) {
				fprintf(stderr, "ls: %s: out of memory\n", path);
				break;
			}
			names = more;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	if (header)
		printf("%s:\n", path);
	for (size_t i = 0; i < n; i++) {
		show(path, names[i]);
		free(names[i]);
	}
	free(names);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1, status = 0;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		for (const char *f = argv[i] + 1; *f; f++) {
			if (*f == 'l')
				long_form = 1;
			else if (*f == 'a')
				all = 1;
			else {
				fprintf(stderr, "ls: unknown flag -%c (ls [-l] [-a] [PATH...])\n", *f);
				return 2;
			}
		}
	}
	if (i == argc)
		return list(".", 0);
	for (int first = i; i < argc; i++) {
		if (i > first && argc - first > 1)
			printf("\n");
		status |= list(argv[i], argc - first > 1);
	}
	return status;
}
