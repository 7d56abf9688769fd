/*
 * Path names and mounts (see vfs.h): from a path to a vnode, one component
 * at a time, through each file system's lookup op, and the mount table
 * that joins file systems into one tree.
 *
 * A mount is a file system's root hung under a name in a directory of the
 * file system above it ("tmp" in the root directory), or "/" itself. The
 * name need not exist in the directory below: the walk looks at the mount
 * table before it asks the file system, and ".." at a mounted root goes to
 * the directory that holds the mount point. Paths have no symbolic links,
 * so "." and ".." are the only components that are not plain lookups, and
 * ".." is resolved by the file system (a directory knows its parent), not
 * by cutting the string: a process whose working directory was renamed
 * still finds its parent.
 */
#include "kernel/kernel.h"
#include "fs/vfs.h"

struct mount {
	struct vfs *fs;
	struct vnode *parent;           /* the directory holding the mount point; NULL for "/" */
	char name[DM_FILENAME_MAX + 1]; /* its name there */
};

static struct mount mounts[VFS_MAX_MOUNTS];
static int nmounts;

struct vnode *vfs_root(void)
{
	if (!nmounts)
		panic("vfs: a path was used before / was mounted");
	return vref(mounts[0].fs->root);
}

static struct mount *mount_of_root(const struct vnode *vn)
{
	for (int i = 0; i < nmounts; i++)
		if (mounts[i].fs->root == vn)
			return &mounts[i];
	return NULL;
}

bool path_is_mount_root(const struct vnode *vn)
{
	return mount_of_root(vn) != NULL;
}

struct vnode *path_mounted(struct vnode *dir, const char *name)
{
	for (int i = 1; i < nmounts; i++)
		if (mounts[i].parent == dir && !strcmp(mounts[i].name, name))
			return vref(mounts[i].fs->root);
	return NULL;
}

const char *path_mount_in(const struct vnode *dir, int i)
{
	for (int k = 1; k < nmounts; k++)
		if (mounts[k].parent == dir && i-- == 0)
			return mounts[k].name;
	return NULL;
}

/*
 * The next component of *p, slashes before it skipped, into name; *p moves
 * past it. Return: its length, 0 at the end of the path, -ENAMETOOLONG.
 */
static int next_name(const char **p, char *name)
{
	const char *s = *p;
	size_t n = 0;

	while (*s == '/')
		s++;
	while (s[n] && s[n] != '/')
		n++;
	if (n > DM_FILENAME_MAX)
		return -ENAMETOOLONG;
	memcpy(name, s, n);
	name[n] = 0;
	*p = s + n;
	return (int)n;
}

/*
 * Move *cur (referenced, given up on success) to its entry name.
 * Return: 0 with *cur the entry, referenced; -ENOTDIR, an error of lookup
 * (then *cur is unchanged and still referenced).
 */
static int step(struct vnode **cur, const char *name)
{
	struct vnode *dir = *cur, *next;
	int err = 0;

	if (dir->type != VN_DIR)
		return -ENOTDIR;
	if (!strcmp(name, "."))
		return 0;
	if (!strcmp(name, "..")) {
		struct mount *m = mount_of_root(dir);
		if (m && !m->parent)
			return 0;       /* "/" is its own parent */
		if (m)
			next = vref(m->parent);
		else
			err = dir->fs->ops->lookup(dir, "..", &next);
	} else if (!(next = path_mounted(dir, name))) {
		err = dir->fs->ops->lookup(dir, name, &next);
	}
	if (err)
		return err;
	vput(dir);
	*cur = next;
	return 0;
}

int path_parent(struct vnode *cwd, const char *path, struct vnode **dir, struct path_last *last)
{
	char name[DM_FILENAME_MAX + 1], after[DM_FILENAME_MAX + 1];
	const char *p = path;
	struct vnode *cur;
	int n, err;

	if (!*path)
		return -ENOENT;
	cur = path[0] == '/' ? vfs_root() : vref(cwd);
	if ((n = next_name(&p, name)) <= 0) {
		if (n < 0) {
			vput(cur);
			return n;
		}
		last->name[0] = 0;      /* "/", "//", ... */
		last->slash = true;
		*dir = cur;
		return 0;
	}
	for (;;) {
		const char *q = p;
		int m = next_name(&q, after);
		if (m < 0) {
			err = m;
			break;
		}
		if (m == 0) {           /* name is the last component */
			if (cur->type != VN_DIR) {
				err = -ENOTDIR;
				break;
			}
			memcpy(last->name, name, (size_t)n + 1);
			last->slash = *p == '/';
			*dir = cur;
			return 0;
		}
		if ((err = step(&cur, name)))
			break;
		memcpy(name, after, (size_t)m + 1);
		n = m;
		p = q;
	}
	vput(cur);
	return err;
}

int path_lookup(struct vnode *cwd, const char *path, struct vnode **out)
{
	struct path_last last;
	struct vnode *vn;
	int err = path_parent(cwd, path, &vn, &last);

	if (err)
		return err;
	if (last.name[0] && (err = step(&vn, last.name))) {
		vput(vn);
		return err;
	}
	if (last.slash && vn->type != VN_DIR) {
		vput(vn);
		return -ENOTDIR;
	}
	*out = vn;
	return 0;
}

int vfs_mount(const char *path, struct vfs *fs)
{
	struct mount *m = &mounts[nmounts];

	if (path[0] != '/')
		return -EINVAL;
	if (nmounts == VFS_MAX_MOUNTS)
		return -ENOSPC;
	if (!nmounts) {
		if (strcmp(path, "/"))
			return -EINVAL;         /* "/" comes first */
		m->parent = NULL;
		m->name[0] = 0;
	} else {
		struct path_last last;
		struct vnode *dir, *root = vfs_root(), *there = NULL;
		int err = path_parent(root, path, &dir, &last);
		vput(root);
		if (err)
			return err;
		bool dots = !last.name[0] || !strcmp(last.name, ".") || !strcmp(last.name, "..");
		if (dots || (there = path_mounted(dir, last.name))) {
			if (there)
				vput(there);
			vput(dir);
			return -EBUSY;
		}
		m->parent = dir;        /* the mount keeps the reference */
		strlcpy(m->name, last.name, sizeof(m->name));
	}
	m->fs = fs;
	fs->dev = (uint32_t)++nmounts;
	return 0;
}

int path_name(struct vnode *vn, char *buf, size_t n)
{
	char tmp[DM_PATH_MAX];
	size_t at = sizeof(tmp) - 1;
	struct vnode *cur = vref(vn), *root = vfs_root();
	struct vfs_dirent de;
	int err = 0;

	tmp[at] = 0;
	while (cur != root && !err) {
		struct mount *m = mount_of_root(cur);
		struct vnode *parent;
		const char *name;
		if (m) {
			parent = vref(m->parent);
			name = m->name;
		} else {
			uint64_t pos = 0;
			int r;
			if ((err = cur->fs->ops->lookup(cur, "..", &parent)))
				break;
			while ((r = parent->fs->ops->readdir(parent, &pos, &de)) > 0)
				if (de.ino == cur->ino && strcmp(de.name, ".") && strcmp(de.name, ".."))
					break;
			err = r < 0 ? r : r == 0 || parent == cur ? -ENOENT : 0;
			name = de.name;
		}
		size_t len = strlen(name);
		if (!err && len + 1 > at)
			err = -ERANGE;
		if (!err) {
			at -= len;
			memcpy(tmp + at, name, len);
			tmp[--at] = '/';
		}
		vput(cur);
		cur = parent;
	}
	vput(cur);
	vput(root);
	if (err)
		return err;
	if (at == sizeof(tmp) - 1)
		tmp[--at] = '/';        /* the root itself */
	size_t len = sizeof(tmp) - 1 - at;
	if (len + 1 > n)
		return -ERANGE;
	memcpy(buf, tmp + at, len + 1);
	return (int)len;
}
