/*
 * head: the first lines (or bytes) of files.
 *
 *   head [-n N | -N] [-c N] [FILE...]   N lines (default 10), or with -c N
 *                           bytes; no FILE or "-": standard input. With
 *                           several files each comes after "==> FILE <==".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long long count = 10;
static int bytes;               /* count is in bytes, not lines */

/* "N": a count, or -1 if it is none. */
static long long number(const char *s)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno || *end ? -1 : v;
}

static int write_all(const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(1, buf, n);
		if (w < 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copy the head of fd to standard output. Return: 0, or 1 (said why). */
static int head(int fd, const char *name)
{
	char buf[4096];
	long long left = count;

	while (left > 0) {
		ssize_t n = read(fd, buf, sizeof(buf)), take = 0;
		if (n < 0) {
			fprintf(stderr, "head: %s: %s\n", name, strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		if (bytes) {
			take = n < left ? n : (ssize_t)left;
			left -= take;
		} else {
			while (take < n && left > 0)
				if (buf[take++] == '\n')
					left--;
		}
		if (write_all(buf, (size_t)take) < 0) {
			fprintf(stderr, "head: standard output: %s\n", strerror(errno));
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1, status = 0;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *opt = argv[i];
		if (!strcmp(opt, "--")) {
			i++;
			break;
		}
		if (!strcmp(opt, "-n") || !strcmp(opt, "-c")) {
			if (i + 1 == argc || (count = number(argv[i + 1])) < 0) {
				fprintf(stderr, "head: %s wants a count, not '%s' (head [-n N] [-c N] "
					"[FILE...])\n", opt, i + 1 < argc ? argv[i + 1] : "");
				return 2;
			}
			bytes = opt[1] == 'c';
			i++;
		} else if ((count = number(opt + 1)) >= 0) {
			bytes = 0;              /* head -5 */
		} else {
			fprintf(stderr, "head: unknown option %s (head [-n N] [-c N] [FILE...])\n", opt);
			return 2;
		}
	}
	if (i == argc)
		return head(0, "standard input");
	for (int first = i, headers = 0; i < argc; i++) {
		int stdin_ = !strcmp(argv[i], "-");
		int fd = stdin_ ? 0 : open(argv[i], O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "head: %s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		if (argc - first > 1) {         /* a blank line between files, as coreutils' */
			printf("%s==> %s <==\n", headers++ ? "\n" : "", stdin_ ? "standard input" : argv[i]);
			fflush(stdout);
		}
		status |= head(fd, argv[i]);
		if (!stdin_)
			close(fd);
	}
	return status;
}
