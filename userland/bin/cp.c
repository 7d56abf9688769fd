/*
 * cp: copy files (their bytes and permission bits).
 *
 *   cp FROM TO              TO an existing directory: TO/(the last part of FROM)
 *   cp FROM... DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fromto.h"

/* Copy file from to file to. Return: 0, or -1 (said why). */
static int cp(const char *from, const char *to)
{
	static char buf[16384];
	struct stat st;
	int in = open(from, O_RDONLY), out = -1;
	ssize_t n = 0;

	if (in < 0 || fstat(in, &st) < 0) {
		fprintf(stderr, "cp: %s: %s\n", from, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "cp: %s: is a directory (not copied)\n", from);
		goto fail;
	}
	if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC, st.st_mode & 07777)) < 0) {
		fprintf(stderr, "cp: %s: %s\n", to, strerror(errno));
		goto fail;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t done = 0, k; done < n; done += k) {
			if ((k = write(out, buf + done, n - done)) < 0) {
				fprintf(stderr, "cp: %s: %s\n", to, strerror(errno));
				goto fail;
			}
		}
	}
	if (n < 0) {
		fprintf(stderr, "cp: %s: %s\n", from, strerror(errno));
		goto fail;
	}
	close(in);
	if (close(out) < 0) {
		fprintf(stderr, "cp: %s: %s\n", to, strerror(errno));
		return -1;
	}
	return 0;
fail:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return -1;
}

int main(int argc, char **argv)
{
	return each_from_to("cp", argc, argv, cp);
}
