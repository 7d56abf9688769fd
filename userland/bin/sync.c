/*
 * sync: write what the files named hold in memory to the disk (fsync(),
 * or fdatasync() with -d), and say which could not be. dmos has no
 * sync(2) that flushes every file system at once, so the files are named.
 *
 *   sync [-d] FILE...       a directory's own entries are flushed too
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int i = 1, data_only = 0, status = 0;

	if (i < argc && !strcmp(argv[i], "-d")) {
		data_only = 1;
		i++;
	}
	if (i < argc && argv[i][0] == '-' && argv[i][1]) {
		fprintf(stderr, "sync: unknown option %s (sync [-d] FILE...)\n", argv[i]);
		return 2;
	}
	if (i == argc) {
		fprintf(stderr, "sync: which files? dmos flushes named files only "
			"(sync [-d] FILE...)\n");
		return 2;
	}
	for (; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "sync: %s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		if ((data_only ? fdatasync(fd) : fsync(fd)) < 0) {
			fprintf(stderr, "sync: %s: %s\n", argv[i], strerror(errno));
			status = 1;
		}
		close(fd);
	}
	return status;
}
