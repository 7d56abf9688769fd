/*
 * touch: make files that are missing, and set the access and modification
 * times of files to now (or to another file's, or to a given time).
 *
 *   touch [-c] [-r REF | -d @SECONDS[.FRACTION]] FILE...
 *                           -c: make nothing, only set the times of what is
 *                           there; -r: REF's times; -d: that many seconds
 *                           since 1970 (utimes(): to the microsecond)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define USAGE "(touch [-c] [-r REF | -d @SECONDS[.FRACTION]] FILE...)"

/* "@S" or "@S.F" into tv. Return: 0, or -1 (not such a time). */
static int parse_time(const char *s, struct timeval *tv)
{
	char *end;
	long long sec;
	long usec = 0;

	if (*s++ != '@' || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	sec = strtoll(s, &end, 10);
	if (errno)
		return -1;
	if (*end == '.') {
		long scale = 100000;
		for (end++; *end >= '0' && *end <= '9'; end++, scale /= 10)
			usec += scale * (*end - '0');
	}
	if (*end)
		return -1;
	tv->tv_sec = (time_t)sec;
	tv->tv_usec = usec;
	return 0;
}

int main(int argc, char **argv)
{
	struct timeval times[2], *tv = NULL;
	int i = 1, no_create = 0, status = 0;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "-c")) {
			no_create = 1;
		} else if ((!strcmp(argv[i], "-r") || !strcmp(argv[i], "-d")) && i + 1 < argc) {
			struct stat st;
			const char *arg = argv[++i];
			if (argv[i - 1][1] == 'd') {
				if (parse_time(arg, &times[0])) {
					fprintf(stderr, "touch: -d %s: not @SECONDS[.FRACTION] %s\n", arg,
						USAGE);
					return 2;
				}
				times[1] = times[0];
			} else if (stat(arg, &st) < 0) {
				fprintf(stderr, "touch: %s: %s\n", arg, strerror(errno));
				return 1;
			} else {
				times[0] = (struct timeval){ st.st_atim.tv_sec, st.st_atim.tv_nsec / 1000 };
				times[1] = (struct timeval){ st.st_mtim.tv_sec, st.st_mtim.tv_nsec / 1000 };
			}
			tv = times;
		} else {
			fprintf(stderr, "touch: unknown option %s %s\n", argv[i], USAGE);
			return 2;
		}
	}
	if (i == argc) {
		fprintf(stderr, "touch: which files? %s\n", USAGE);
		return 2;
	}
	for (; i < argc; i++) {
		if (!no_create) {
			int fd = open(argv[i], O_WRONLY | O_CREAT, 0666);
			if (fd >= 0)
				close(fd);
			else if (errno != EISDIR) {     /* a directory's times are set below */
				fprintf(stderr, "touch: %s: %s\n", argv[i], strerror(errno));
				status = 1;
				continue;
			}
		}
		if (utimes(argv[i], tv) < 0 && !(no_create && errno == ENOENT)) {
			fprintf(stderr, "touch: %s: %s\n", argv[i], strerror(errno));
			status = 1;
		}
	}
	return status;
}
