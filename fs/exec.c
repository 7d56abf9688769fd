/*
 * Program files for proc_spawn (see fs.h): which file a spawn names, the
 * checks execve makes before it reads a byte (a regular file with an x
 * bit), and reading it into kernel buffers for the ELF loader
 * (sched/elf.c) through the file system's read op.
 *
 * A name without '/' is searched the way execvp searches PATH, here fixed
 * to two places: /bin of the root file system (dmosfs, where the launcher
 * installs the programs), then the initrd (so a node without a disk, or a
 * disk without /bin, still runs init and the shell). A name that is not
 * in a place (ENOENT, ENOTDIR), is there but may not be run (EACCES), or
 * could not be looked up in time (ETIMEDOUT, ENODEV) sends the search on,
 * as execvp's; any other error ends it, and so does a file that is found
 * but is no program (ENOEXEC, from the loader). A path with '/' names one file, resolved like
 * open()'s from the caller's working directory, or "/" for the kernel
 * thread (init=, the monitor, spawns that came from other nodes).
 */
#include "kernel/kernel.h"
#include "sched/sched.h"
#include "fs/fs.h"
#include "fs/file.h"
#include "fs/fstypes.h"
#include "fs/vfs.h"

#define EXEC_DIR "/bin"

static bool has_slash(const char *s)
{
	for (; *s; s++)
		if (*s == '/')
			return true;
	return false;
}

/* May vn be run (Linux's execve checks, for uid 0)? Then it is opened for reading. */
static int may_run(struct vnode *vn, uint64_t *size)
{
	struct dm_stat st;
	int err;

	if (vn->type != VN_REG)
		return -EACCES;         /* a directory or the console: execve says EACCES */
	if ((err = vn->fs->ops->getattr(vn, &st)))
		return err;
	if (!(st.mode & 0111))
		return -EACCES;         /* uid 0 runs what has any x bit */
	if (vn->fs->ops->open && (err = vn->fs->ops->open(vn, DM_O_RDONLY)))
		return err;             /* held open while it loads: not freed under it */
	*size = st.size;
	return 0;
}

/* Errors after which the search goes on to the next place (as glibc's execvp). */
static bool look_further(int err)
{
	return err == -ENOENT || err == -ENOTDIR || err == -EACCES || err == -ENODEV ||
	       err == -ETIMEDOUT;
}

/* Program name in /bin of the root, or else in the initrd's top directory. */
static int search(const char *name, struct vnode **out, uint64_t *size)
{
	char path[sizeof(EXEC_DIR) + DM_FILENAME_MAX + 1];
	struct vfs *ird = initrdfs_get();
	struct vnode *root, *vn;
	int err = -ENOENT;
	bool denied = false;

	if (strlen(name) > DM_FILENAME_MAX)
		return -ENAMETOOLONG;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -ENOENT;         /* no program is called that */
	snprintf(path, sizeof(path), "%s/%s", EXEC_DIR, name);
	root = vfs_root();
	for (int place = 0; place < 2; place++) {
		if (place == 0)
			err = path_lookup(root, path, &vn);
		else
			err = ird ? ird->ops->lookup(ird->root, name, &vn) : -ENOENT;
		if (!err && (err = may_run(vn, size)))
			vput(vn);
		if (!err) {
			*out = vn;
			break;
		}
		if (!look_further(err))
			break;
		denied |= err == -EACCES;
	}
	vput(root);
	if (err && look_further(err))
		err = denied ? -EACCES : -ENOENT;       /* nowhere to be run */
	return err;
}

int fs_exec_open(const char *path, struct vnode **out, uint64_t *size)
{
	struct vnode *cwd, *vn;
	int err;

	if (!*path)
		return -ENOENT;
	if (!has_slash(path))
		return search(path, out, size);
	cwd = current == proc_table() || !fd_table()->cwd ? vfs_root() : vref(fd_table()->cwd);
	err = path_lookup(cwd, path, &vn);
	vput(cwd);
	if (!err && (err = may_run(vn, size)))
		vput(vn);
	if (!err)
		*out = vn;
	return err;
}

int64_t fs_exec_read(void *file, uint64_t off, void *buf, uint64_t n)
{
	struct vnode *vn = file;
	struct uio u = { NULL, (uint64_t)buf, n, 0 };

	return vn->fs->ops->read(vn, off, &u);
}

void fs_exec_close(struct vnode *vn)
{
	if (vn->fs->ops->close)
		vn->fs->ops->close(vn, DM_O_RDONLY);
	vput(vn);
}
