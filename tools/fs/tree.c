/*
 * Path lookup in a dmosfs image for the subcommands (see image.h), on top
 * of fs/fsops.c's directory operations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "tools/fs/image.h"

int path_lookup(struct img *m, const char *path, uint32_t *ino, char *leaf, size_t *leaflen)
{
	uint32_t cur = FS_ROOT_INO, next;
	struct fs_inode in;
	const char *p = path;
	int err;

	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		const char *rest = end;

		while (*rest == '/')
			rest++;
		if (len > FS_NAME_MAX)
			return img_err(m, -ENAMETOOLONG, "%.*s...: a name is at most %u bytes",
				       40, p, FS_NAME_MAX);
		if (leaf && !*rest) {
			memcpy(leaf, p, len);
			*leaflen = len;
			*ino = cur;
			return 0;
		}
		if ((err = fs_inode_get(&m->x, cur, &in)))
			return err;
		if ((in.mode & FS_S_IFMT) != FS_S_IFDIR) {
			size_t upto = (size_t)(p - path);

			while (upto > 1 && path[upto - 1] == '/')
				upto--;
			return img_err(m, -ENOTDIR, "%.*s: not a directory", (int)upto, path);
		}
		err = fs_dir_lookup(&m->x, cur, &in, p, len, &next, NULL);
		if (err == -ENOENT)
			return img_err(m, err, "%.*s: no such file or directory", (int)(end - path), path);
		if (err)
			return err;
		cur = next;
		p = end;
	}
	if (leaf)
		return img_err(m, -EINVAL, "%s: the root has no name", path);
	*ino = cur;
	return 0;
}
