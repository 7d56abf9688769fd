/*
 * cat: copy files (or standard input: no file, or "-") to standard output.
 *
 *   cat [FILE...]
 *
 * Exit status 1 if a file could not be read (the others are still copied).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Copy fd to standard output. Return: 0, or -1 with errno. */
static int copy(int fd)
{
	static char buf[8192];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t done = 0, k; done < n; done += k)
			if ((k = write(1, buf + done, n - done)) < 0)
				return -1;
	return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	int status = 0;

	if (argc < 2 && copy(0) < 0) {
		fprintf(stderr, "cat: standard input: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		int fd = strcmp(argv[i], "-") ? open(argv[i], O_RDONLY) : 0;
		if (fd < 0 || copy(fd) < 0) {
			fprintf(stderr, "cat: %s: %s\n", argv[i], strerror(errno));
			status = 1;
		}
		if (fd > 0)
			close(fd);
	}
	return status;
}
