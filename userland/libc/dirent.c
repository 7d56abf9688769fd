/*
 * Reading directories: opendir and friends over SYS_getdents, which fills
 * a DIR's buffer with struct dm_dirent records (dm_abi.h); readdir() hands
 * them out one at a time as newlib's struct dirent (userland/include/sys/
 * dirent.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dm_abi.h"
#include "sys.h"

DIR *fdopendir(int fd)
{
	struct stat st;
	DIR *d;

	if (fstat(fd, &st) < 0)
		return NULL;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return NULL;
	}
	if (!(d = calloc(1, sizeof(*d)))) {
		errno = ENOMEM;
		return NULL;
	}
	d->fd = fd;
	return d;
}

DIR *opendir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY), err;
	DIR *d;

	if (fd < 0)
		return NULL;
	if (!(d = fdopendir(fd))) {
		err = errno;
		close(fd);
		errno = err;
	}
	return d;
}

struct dirent *readdir(DIR *d)
{
	if (d->pos >= d->len) {
		long n = sys_ret(sys3(SYS_getdents, d->fd, d->buf, sizeof(d->buf)));
		if (n <= 0)
			return NULL;    /* the end (errno as it was), or an error */
		d->len = (int)n;
		d->pos = 0;
	}
	const struct dm_dirent *de = (const void *)(d->buf + d->pos);
	d->pos += de->reclen;
	d->ent.d_ino = de->ino;
	d->ent.d_type = de->type;
	memcpy(d->ent.d_name, de->name, de->namelen + 1u);
	return &d->ent;
}

int readdir_r(DIR *restrict d, struct dirent *restrict ent, struct dirent **restrict out)
{
	int err = errno;
	struct dirent *e;

	errno = 0;
	e = readdir(d);
	if (!e && errno)
		return errno;
	errno = err;
	if (e)
		*ent = *e;
	*out = e ? ent : NULL;
	return 0;
}

void rewinddir(DIR *d)
{
	lseek(d->fd, 0, SEEK_SET);
	d->pos = d->len = 0;
}

int dirfd(DIR *d)
{
	return d->fd;
}

int closedir(DIR *d)
{
	int r = close(d->fd);

	free(d);
	return r;
}
