/*
 * Open files and per-process descriptor tables (see file.h): the layer
 * between the system calls and the vnodes. Tables are kept here, one per
 * process slot of the node, so a process's files follow it from spawn
 * (files_spawn) to exit (files_exit) without sched/ knowing what they are.
 */
#include "kernel/kernel.h"
#include "mm/mm.h"
#include "sched/sched.h"
#include "userland/include/dm_abi.h"
#include "fs/fs.h"
#include "fs/file.h"
#include "fs/fstypes.h"
#include "fs/dmosfs.h"

static struct fdtable tables[MAX_PROCS];

static struct fdtable *table_of(const struct proc *p)
{
	return &tables[p - proc_table()];
}

struct fdtable *fd_table(void)
{
	return table_of(current);
}

struct file *fd_get(struct fdtable *t, int64_t fd)
{
	return fd >= 0 && fd < DM_OPEN_MAX ? t->fd[fd] : NULL;
}

int fd_free(struct fdtable *t, int min)
{
	for (int fd = MAX(min, 0); fd < DM_OPEN_MAX; fd++)
		if (!t->fd[fd])
			return fd;
	return -EMFILE;
}

void fd_install(struct fdtable *t, int fd, struct file *f, bool cloexec)
{
	if (t->fd[fd])
		panic("fd_install: descriptor %d is taken", fd);
	t->fd[fd] = f;
	t->cloexec[fd] = cloexec;
}

int file_open(struct vnode *vn, int flags, struct file **out)
{
	struct file *f;
	int err = vn->fs->ops->open ? vn->fs->ops->open(vn, flags) : 0;

	if (!err && !(f = kzalloc(sizeof(*f)))) {
		if (vn->fs->ops->close)
			vn->fs->ops->close(vn, flags);
		err = -ENOMEM;
	}
	if (err) {
		vput(vn);
		return err;
	}
	*f = (struct file){ .vn = vn, .flags = flags & FILE_FLAGS, .refs = 1, .open_flags = flags };
	*out = f;
	return 0;
}

void file_put(struct file *f)
{
	if (--f->refs)
		return;
	if (f->vn->fs->ops->close)
		f->vn->fs->ops->close(f->vn, f->open_flags);
	vput(f->vn);
	kfree(f);
}

int fd_close(struct fdtable *t, int64_t fd)
{
	struct file *f = fd_get(t, fd);
	struct vnode *vn;

	if (!f)
		return -EBADF;
	t->fd[fd] = NULL;
	vn = f->vn;
	if (vn->fs->ops->setlk) {       /* clearing a whole file's locks cannot fail */
		struct vfs_lock all = { DM_F_UNLCK, current->pid, 0, VFS_LOCK_EOF };
		vn->fs->ops->setlk(vn, &all, false);
	}
	file_put(f);
	return 0;
}

void files_spawn(struct proc *child)
{
	struct fdtable *from = fd_table(), *to = table_of(child);

	memset(to, 0, sizeof(*to));
	for (int fd = 0; fd < 3; fd++)
		if (from->fd[fd])
			to->fd[fd] = file_get(from->fd[fd]);
	to->cwd = from->cwd ? vref(from->cwd) : vfs_root();
	to->umask = from->umask;
}

int files_check_std(const int fds[3], int node)
{
	for (int i = 0; i < 3; i++) {
		struct file *f = fd_get(fd_table(), fds[i]);
		if (fds[i] == DM_FD_NONE)
			continue;
		if (!f)
			return -EBADF;
		if (node != self.id && f->vn->type != VN_CHR)
			return -EXDEV;
	}
	return 0;
}

void files_set_std(int pid, const int fds[3])
{
	struct proc *p = proc_find(pid);
	struct fdtable *from = fd_table(), *to;
	struct file *keep[3];

	if (!p)
		return;                 /* it is gone already */
	to = table_of(p);
	for (int i = 0; i < 3; i++)     /* all taken first: {1, 0, 2} swaps */
		keep[i] = fds[i] == DM_FD_NONE ? NULL : file_get(from->fd[fds[i]]);
	for (int i = 0; i < 3; i++) {
		if (to->fd[i])
			file_put(to->fd[i]);
		to->fd[i] = keep[i];
		to->cloexec[i] = false;
	}
}

void files_exit(void)
{
	struct fdtable *t = fd_table();

	for (int fd = 0; fd < DM_OPEN_MAX; fd++)
		if (t->fd[fd])
			fd_close(t, fd);
	if (t->cwd)
		vput(t->cwd);
	memset(t, 0, sizeof(*t));
}

void vfs_init(void)
{
	struct fdtable *t = &tables[0];
	struct frame_stats fs;
	struct vfs *disk = dmosfs_get(), *ird = initrdfs_get(), *tmp;
	bool disk_root = disk && dmosfs_is_root();
	struct vnode *cwd;
	int err;

	if (!(disk_root ? disk : ird) || (err = vfs_mount("/", disk_root ? disk : ird)))
		panic("vfs: cannot mount %s at /", disk_root ? "dmosfs" : "the initrd");
	if (disk && (err = vfs_mount(disk_root ? "/initrd" : DMOSFS_MOUNT, disk_root ? ird : disk)))
		printk("vfs: cannot mount %s (%d)\n", disk_root ? "/initrd" : DMOSFS_MOUNT, err);
	/* /tmp may hold a quarter of the node's memory */
	frame_stats(&fs);
	if (!(tmp = ramfs_new(fs.total * PAGE_SIZE / 4)) || (err = vfs_mount("/tmp", tmp)))
		printk("vfs: no /tmp: %s\n", tmp ? "cannot mount it" : "no memory");
	for (int fd = 0; fd < 3; fd++) {
		struct file *f;
		if ((err = file_open(devcons_vnode(), fd ? DM_O_WRONLY : DM_O_RDONLY, &f)))
			panic("vfs: no console file (%d)", err);
		fd_install(t, fd, f, false);
	}
	t->cwd = vfs_root();
	/* with dmosfs at /, programs still start among their own files */
	if (disk_root && !path_lookup(t->cwd, "/initrd", &cwd)) {
		vput(t->cwd);
		t->cwd = cwd;
	}
	t->umask = 022;
}
