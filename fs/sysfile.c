/*
 * The file system calls (numbers and arguments in kernel/sysnum.h): each
 * takes its arguments from user space, checks every pointer (a bad one is
 * -EFAULT, never a kernel fault) and every number, and goes down through
 * the descriptor table (file.c), path names (path.c) and the vnode ops
 * (vfs.h). The errors are POSIX's, as Linux gives them.
 *
 * What dmos does not have: hard links, symbolic links, owners (one user,
 * uid 0), permission checks (the mode bits are kept and reported), exec
 * (FD_CLOEXEC is kept and reported only). libc answers link, symlink,
 * readlink and chown itself (userland/libc/files.c).
 */
#include "kernel/kernel.h"
#include "sched/sched.h"
#include "mm/vm.h"
#include "userland/include/dm_abi.h"
#include "fs/fs.h"
#include "fs/vfs.h"
#include "fs/file.h"

#define OPEN_FLAGS (DM_O_ACCMODE | DM_O_CREAT | DM_O_EXCL | DM_O_TRUNC | DM_O_APPEND | \
		    DM_O_NONBLOCK | DM_O_DIRECTORY | DM_O_NOFOLLOW | DM_O_CLOEXEC)

static struct vm *uvm(void)
{
	return &current->vm;
}

static struct vnode *cwd(void)
{
	return fd_table()->cwd;
}

static int get_path(uint64_t upath, char *buf)
{
	return strncpy_from_user(uvm(), buf, upath, DM_PATH_MAX);
}

static bool dots(const char *name)
{
	return !name[0] || !strcmp(name, ".") || !strcmp(name, "..");
}

static bool readable(const struct file *f)
{
	return (f->flags & DM_O_ACCMODE) != DM_O_WRONLY;
}

static bool writable(const struct file *f)
{
	return (f->flags & DM_O_ACCMODE) != DM_O_RDONLY;
}

/* The vnode's attributes, with the device number of its mount. */
static int getattr(struct vnode *vn, struct dm_stat *st)
{
	int err = vn->fs->ops->getattr(vn, st);

	st->dev = vn->fs->dev;
	return err;
}

/* ---- opening and closing --------------------------------------------------------- */

/* The vnode open(path, flags | DM_O_CREAT) names, made if it is missing. */
static int open_create(const char *path, int flags, uint32_t mode, struct vnode **vn)
{
	struct path_last last;
	struct vnode *dir;
	int err = path_parent(cwd(), path, &dir, &last);
	bool excl = flags & DM_O_EXCL;

	if (err)
		return err;
	if (dots(last.name) || (*vn = path_mounted(dir, last.name))) {
		vput(dir);
		if (!dots(last.name))
			vput(*vn);
		return excl ? -EEXIST : -EISDIR;        /* a directory */
	}
	if (last.slash)
		err = -EISDIR;
	else if (!dir->fs->ops->create)
		err = -EROFS;
	else
		err = dir->fs->ops->create(dir, last.name, mode & ~fd_table()->umask & DM_S_PERM,
					   excl, vn);
	vput(dir);
	return err;
}

int64_t sys_open(SYSFILE_ARGS)
{
	char path[DM_PATH_MAX];
	int flags = (int)b, acc = flags & DM_O_ACCMODE, fd, err;
	struct vnode *vn;
	struct file *file;

	if ((b & ~(uint64_t)OPEN_FLAGS) || acc == DM_O_ACCMODE)
		return -EINVAL;
	if ((err = get_path(a, path)) < 0)
		return err;
	if ((fd = fd_free(fd_table(), 0)) < 0)
		return fd;
	if (flags & DM_O_CREAT)
		err = open_create(path, flags, (uint32_t)c, &vn);
	else
		err = path_lookup(cwd(), path, &vn);
	if (err)
		return err;
	if (vn->type == VN_DIR && acc != DM_O_RDONLY)
		err = -EISDIR;
	else if ((flags & DM_O_DIRECTORY) && vn->type != VN_DIR)
		err = -ENOTDIR;
	else if (vn->fs->rdonly && (acc != DM_O_RDONLY || (flags & DM_O_TRUNC)))
		err = -EROFS;
	if (err) {
		vput(vn);
		return err;
	}
	if ((err = file_open(vn, flags, &file)))
		return err;
	if ((flags & DM_O_TRUNC) && acc != DM_O_RDONLY && vn->type == VN_REG) {
		err = vn->fs->ops->truncate ? vn->fs->ops->truncate(vn, 0) : -EROFS;
		if (err) {
			file_put(file);
			return err;
		}
	}
	fd_install(fd_table(), fd, file, flags & DM_O_CLOEXEC);
	return fd;
}

int64_t sys_close(SYSFILE_ARGS)
{
	return fd_close(fd_table(), (int64_t)a);
}

int64_t sys_dup(SYSFILE_ARGS)
{
	struct file *f = fd_get(fd_table(), (int64_t)a);
	int fd;

	if (!f)
		return -EBADF;
	if ((fd = fd_free(fd_table(), 0)) >= 0)
		fd_install(fd_table(), fd, file_get(f), false);
	return fd;
}

int64_t sys_dup2(SYSFILE_ARGS)
{
	struct fdtable *t = fd_table();
	struct file *f = fd_get(t, (int64_t)a);

	if (!f || (int64_t)b < 0 || (int64_t)b >= DM_OPEN_MAX)
		return -EBADF;
	if (a == b)
		return (int64_t)b;
	file_get(f);            /* before the close: it may be f's last descriptor but one */
	if (t->fd[b])
		fd_close(t, (int64_t)b);
	fd_install(t, (int)b, f, false);
	return (int64_t)b;
}

/* ---- reading and writing --------------------------------------------------------- */

/* Read n bytes into user buf from f at off. */
static int64_t do_read(struct file *f, uint64_t buf, uint64_t n, uint64_t off)
{
	struct uio u = { uvm(), buf, n, f->flags };

	if (!readable(f))
		return -EBADF;
	if (f->vn->type == VN_DIR)
		return -EISDIR;
	if (vm_check(uvm(), buf, n, true))
		return -EFAULT;
	if (!f->vn->fs->ops->read)
		return -EINVAL;
	return f->vn->fs->ops->read(f->vn, off, &u);
}

static int64_t do_write(struct file *f, uint64_t buf, uint64_t n, uint64_t *off, bool append)
{
	struct uio u = { uvm(), buf, n, f->flags };

	if (!writable(f))
		return -EBADF;
	if (vm_check(uvm(), buf, n, false))
		return -EFAULT;
	if (!f->vn->fs->ops->write)
		return -EINVAL;
	return f->vn->fs->ops->write(f->vn, off, &u, append);
}

int64_t sys_read(SYSFILE_ARGS)
{
	struct file *f = fd_get(fd_table(), (int64_t)a);
	int64_t r;

	if (!f)
		return -EBADF;
	if ((r = do_read(f, b, c, f->off)) > 0 && vn_seekable(f->vn->type))
		f->off += (uint64_t)r;
	return r;
}

int64_t sys_write(SYSFILE_ARGS)
{
	struct file *f = fd_get(fd_table(), (int64_t)a);
	uint64_t off;
	int64_t r;

	if (!f)
		return -EBADF;
	off = f->off;
	if ((r = do_write(f, b, c, &off, f->flags & DM_O_APPEND)) >= 0 && vn_seekable(f->vn->type))
		f->off = off;
	return r;
}

/* The file of fd for pread or pwrite at off. Return: 0 with *f, -EBADF, -ESPIPE, -EINVAL. */
static int positional(int64_t fd, int64_t off, struct file **f)
{
	if (!(*f = fd_get(fd_table(), fd)))
		return -EBADF;
	if (!vn_seekable((*f)->vn->type))
		return -ESPIPE;
	return off < 0 ? -EINVAL : 0;
}

/* pread, pwrite: at offset d, the file's own offset untouched (O_APPEND too: POSIX's pwrite). */
int64_t sys_pread(SYSFILE_ARGS)
{
	struct file *f;
	int err = positional((int64_t)a, (int64_t)d, &f);

	return err ? err : do_read(f, b, c, d);
}

int64_t sys_pwrite(SYSFILE_ARGS)
{
	struct file *f;
	uint64_t off = d;
	int err = positional((int64_t)a, (int64_t)d, &f);

	return err ? err : do_write(f, b, c, &off, false);
}

/* Where DM_SEEK_* whence counts from in f. Return: 0 with *base, -EINVAL, a getattr error. */
static int whence_base(struct file *f, int64_t whence, int64_t *base)
{
	struct dm_stat st;
	int err;

	switch (whence) {
	case DM_SEEK_SET:
		*base = 0;
		return 0;
	case DM_SEEK_CUR:
		*base = (int64_t)f->off;
		return 0;
	case DM_SEEK_END:
		if ((err = getattr(f->vn, &st)))
			return err;
		*base = (int64_t)st.size;
		return 0;
	default:
		return -EINVAL;
	}
}

int64_t sys_lseek(SYSFILE_ARGS)
{
	struct file *f = fd_get(fd_table(), (int64_t)a);
	int64_t base, off;
	int err;

	if (!f)
		return -EBADF;
	if (!vn_seekable(f->vn->type))
		return -ESPIPE;
	if ((err = whence_base(f, (int64_t)c, &base)))
		return err;
	if (f->vn->type == VN_DIR && c != DM_SEEK_SET)
		return -EINVAL;         /* a directory's offsets are cookies, not bytes */
	if (__builtin_add_overflow(base, (int64_t)b, &off) || off < 0)
		return -EINVAL;
	f->off = (uint64_t)off;
	f->dirmounts = 0;
	return off;
}

int64_t sys_ftruncate(SYSFILE_ARGS)
{
	struct file *f = fd_get(fd_table(), (int64_t)a);

	if (!f)
		return -EBADF;
	if ((int64_t)b < 0 || f->vn->type != VN_REG || !writable(f))
		return -EINVAL;
	if (f->vn->fs->rdonly || !f->vn->fs->ops->truncate)
		return -EROFS;
	return f->vn->fs->ops->truncate(f->vn, b);
}

int64_t sys_fsync(SYSFILE_ARGS)
{
	struct file *f = fd_get(fd_table(), (int64_t)a);

	if (!f)
		return -EBADF;
	if (!vn_seekable(f->vn->type))
		return -EINVAL;
	return f->vn->fs->ops->fsync ? f->vn->fs->ops->fsync(f->vn) : 0;
}

/* ---- attributes ------------------------------------------------------------------ */

static int64_t put_stat(struct vnode *vn, uint64_t ust)
{
	struct dm_stat st;
	int err = getattr(vn, &st);

	return err ? err : copy_to_user(uvm(), ust, &st, sizeof(st));
}

int64_t sys_fstat(SYSFILE_ARGS)
{
	struct file *f = fd_get(fd_table(), (int64_t)a);

	return f ? put_stat(f->vn, b) : -EBADF;
}

/* Run fn on the vnode of user path upath. */
static int64_t on_path(uint64_t upath, int64_t (*fn)(struct vnode *vn, uint64_t arg), uint64_t arg)
{
	char path[DM_PATH_MAX];
	struct vnode *vn;
	int64_t err;

	if ((err = get_path(upath, path)) < 0 || (err = path_lookup(cwd(), path, &vn)))
		return err;
	err = fn(vn, arg);
	vput(vn);
	return err;
}

int64_t sys_stat(SYSFILE_ARGS)
{
	return on_path(a, put_stat, b);
}

static int64_t access_fn(struct vnode *vn, uint64_t mode)
{
	struct dm_stat st;
	int err;

	if ((mode & DM_W_OK) && vn->fs->rdonly)
		return -EROFS;
	if ((mode & DM_X_OK) && vn->type != VN_DIR) {
		if ((err = getattr(vn, &st)))
			return err;
		if (!(st.mode & 0111))
			return -EACCES;         /* uid 0 may run what has any x bit */
	}
	return 0;
}

int64_t sys_access(SYSFILE_ARGS)
{
	if (b & ~(uint64_t)(DM_R_OK | DM_W_OK | DM_X_OK))
		return -EINVAL;
	return on_path(a, access_fn, b);
}

static int64_t setattr(struct vnode *vn, const struct vattr *va)
{
	if (!vn_seekable(vn->type))
		return 0;               /* the console and sockets keep nothing */
	if (vn->fs->rdonly || !vn->fs->ops->setattr)
		return -EROFS;
	return vn->fs->ops->setattr(vn, va);
}

static int64_t setattr_fn(struct vnode *vn, uint64_t va)
{
	return setattr(vn, (const struct vattr *)va);
}

int64_t sys_chmod(SYSFILE_ARGS)
{
	struct vattr va = { VA_MODE, (uint32_t)b & DM_S_PERM, 0, 0 };

	return on_path(a, setattr_fn, (uint64_t)&va);
}

int64_t sys_fchmod(SYSFILE_ARGS)
{
	struct file *f = fd_get(fd_table(), (int64_t)a);
	struct vattr va = { VA_MODE, (uint32_t)b & DM_S_PERM, 0, 0 };

	return f ? setattr(f->vn, &va) : -EBADF;
}

int64_t sys_utimens(SYSFILE_ARGS)
{
	int64_t t[2] = { DM_UTIME_NOW, DM_UTIME_NOW }, now = clock_realtime_ns();
	struct vattr va = { 0, 0, 0, 0 };

	if (b && copy_from_user(uvm(), t, b, sizeof(t)))
		return -EFAULT;
	for (int i = 0; i < 2; i++) {
		if (t[i] == DM_UTIME_OMIT)
			continue;
		if (t[i] < 0 && t[i] != DM_UTIME_NOW)
			return -EINVAL;
		va.mask |= i ? VA_MTIME : VA_ATIME;
		*(i ? &va.mtime_ns : &va.atime_ns) = t[i] == DM_UTIME_NOW ? now : t[i];
	}
	return on_path(a, setattr_fn, (uint64_t)&va);
}

int64_t sys_umask(SYSFILE_ARGS)
{
	uint32_t old = fd_table()->umask;

	fd_table()->umask = (uint32_t)a & 0777;
	return old;
}

/* ---- names ------------------------------------------------------------------------ */

/* The parent directory of user path upath and its last component. */
static int parent_of(uint64_t upath, struct vnode **dir, struct path_last *last)
{
	char path[DM_PATH_MAX];
	int err;

	if ((err = get_path(upath, path)) < 0)
		return err;
	return path_parent(cwd(), path, dir, last);
}

/* Is name in dir a mount point? Then it cannot be removed or renamed. */
static bool mounted(struct vnode *dir, const char *name)
{
	struct vnode *vn = path_mounted(dir, name);

	if (vn)
		vput(vn);
	return vn != NULL;
}

/* What a trailing '/' asks of name in dir: it is a directory. Return: 0 or -ENOTDIR/-ENOENT. */
static int must_be_dir(struct vnode *dir, const char *name)
{
	struct vnode *vn;
	int err = dir->fs->ops->lookup(dir, name, &vn);

	if (err)
		return err;
	err = vn->type == VN_DIR ? 0 : -ENOTDIR;
	vput(vn);
	return err;
}

/* Run fn on the parent directory of user path upath and its last component. */
static int64_t on_parent(uint64_t upath, int (*fn)(struct vnode *dir, const struct path_last *last,
						   uint64_t arg), uint64_t arg)
{
	struct path_last last;
	struct vnode *dir;
	int err = parent_of(upath, &dir, &last);

	if (err)
		return err;
	err = fn(dir, &last, arg);
	vput(dir);
	return err;
}

static int unlink_in(struct vnode *dir, const struct path_last *last, uint64_t unused)
{
	(void)unused;
	if (dots(last->name) || mounted(dir, last->name))
		return -EISDIR;
	if (last->slash)                /* "name/": a directory, or -ENOTDIR */
		return must_be_dir(dir, last->name) ?: -EISDIR;
	return dir->fs->ops->unlink ? dir->fs->ops->unlink(dir, last->name) : -EROFS;
}

static int mkdir_in(struct vnode *dir, const struct path_last *last, uint64_t mode)
{
	if (dots(last->name) || mounted(dir, last->name))
		return -EEXIST;
	if (!dir->fs->ops->mkdir)
		return -EROFS;
	return dir->fs->ops->mkdir(dir, last->name, (uint32_t)mode & ~fd_table()->umask & DM_S_PERM);
}

static int rmdir_in(struct vnode *dir, const struct path_last *last, uint64_t unused)
{
	(void)unused;
	if (!strcmp(last->name, "."))
		return -EINVAL;
	if (!strcmp(last->name, ".."))
		return -ENOTEMPTY;
	if (!last->name[0] || mounted(dir, last->name))
		return -EBUSY;
	return dir->fs->ops->rmdir ? dir->fs->ops->rmdir(dir, last->name) : -EROFS;
}

int64_t sys_unlink(SYSFILE_ARGS)
{
	return on_parent(a, unlink_in, 0);
}

int64_t sys_mkdir(SYSFILE_ARGS)
{
	return on_parent(a, mkdir_in, b);
}

int64_t sys_rmdir(SYSFILE_ARGS)
{
	return on_parent(a, rmdir_in, 0);
}

int64_t sys_rename(SYSFILE_ARGS)
{
	struct path_last ol, nl;
	struct vnode *odir, *ndir;
	int err = parent_of(a, &odir, &ol);

	if (err)
		return err;
	if ((err = parent_of(b, &ndir, &nl))) {
		vput(odir);
		return err;
	}
	if (dots(ol.name) || dots(nl.name))
		err = !ol.name[0] || !nl.name[0] ? -EBUSY : -EINVAL;
	else if (mounted(odir, ol.name) || mounted(ndir, nl.name))
		err = -EBUSY;
	else if (odir->fs != ndir->fs)
		err = -EXDEV;
	else if (!odir->fs->ops->rename)
		err = -EROFS;
	else if (!(ol.slash || nl.slash) || !(err = must_be_dir(odir, ol.name)))
		err = odir->fs->ops->rename(odir, ol.name, ndir, nl.name);
	vput(odir);
	vput(ndir);
	return err;
}

int64_t sys_chdir(SYSFILE_ARGS)
{
	char path[DM_PATH_MAX];
	struct vnode *vn;
	int err;

	if ((err = get_path(a, path)) < 0 || (err = path_lookup(cwd(), path, &vn)))
		return err;
	if (vn->type != VN_DIR) {
		vput(vn);
		return -ENOTDIR;
	}
	vput(fd_table()->cwd);
	fd_table()->cwd = vn;
	return 0;
}

/* getcwd(buf, size): Return: the length with the NUL (Linux's). */
int64_t sys_getcwd(SYSFILE_ARGS)
{
	char path[DM_PATH_MAX];
	int n;

	if (!b)
		return -EINVAL;
	if (vm_check(uvm(), a, b, true))
		return -EFAULT;
	if ((n = path_name(cwd(), path, MIN(b, sizeof(path)))) < 0)
		return n;
	if (copy_to_user(uvm(), a, path, (size_t)n + 1))
		return -EFAULT;
	return n + 1;
}

/* ---- directories ------------------------------------------------------------------ */

/* One entry at *pos of f's directory, the fs's own, then its mount points. Return: 1, 0 at the end. */
static int next_entry(struct file *f, uint64_t *pos, int *mnt, struct vfs_dirent *de)
{
	struct vnode *dir = f->vn;
	int r = *mnt ? 0 : dir->fs->ops->readdir(dir, pos, de);

	if (r)
		return r;
	for (const char *name; (name = path_mount_in(dir, *mnt)); ) {
		struct vnode *vn;
		(*mnt)++;
		if (!dir->fs->ops->lookup(dir, name, &vn)) {
			vput(vn);       /* the fs has it too: listed already */
			continue;
		}
		vn = path_mounted(dir, name);
		de->ino = vn->ino;
		vput(vn);
		de->type = DM_DT_DIR;
		de->namelen = (uint8_t)strlcpy(de->name, name, sizeof(de->name));
		return 1;
	}
	return 0;
}

/* getdents(fd, buf, bytes): Return: bytes of struct dm_dirent stored, 0 at the end. */
int64_t sys_getdents(SYSFILE_ARGS)
{
	struct file *f = fd_get(fd_table(), (int64_t)a);
	union { struct dm_dirent d; uint8_t bytes[DM_DIRENT_SIZE(DM_FILENAME_MAX)]; } rec;
	struct vfs_dirent de;
	uint64_t done = 0;

	if (!f)
		return -EBADF;
	if (f->vn->type != VN_DIR)
		return -ENOTDIR;
	if (vm_check(uvm(), b, c, true))
		return -EFAULT;
	for (;;) {
		uint64_t pos = f->off;
		int mnt = f->dirmounts, r = next_entry(f, &pos, &mnt, &de);
		if (r < 0)
			return done ? (int64_t)done : r;
		if (!r)
			break;
		uint16_t len = (uint16_t)DM_DIRENT_SIZE(de.namelen);
		if (len > c - done) {
			if (!done)
				return -EINVAL;         /* not even one entry fits */
			break;                          /* this one comes next time */
		}
		memset(&rec, 0, len);
		rec.d.ino = de.ino;
		rec.d.reclen = len;
		rec.d.type = de.type;
		rec.d.namelen = de.namelen;
		memcpy(rec.d.name, de.name, de.namelen);
		if (copy_to_user(uvm(), b + done, &rec, len))
			return done ? (int64_t)done : -EFAULT;
		done += len;
		f->off = pos;
		f->dirmounts = mnt;
	}
	return (int64_t)done;
}

/* ---- descriptors and locks -------------------------------------------------------- */

/* A user struct dm_flock at ufl as a vfs_lock of f. */
static int get_lock(struct file *f, uint64_t ufl, struct dm_flock *fl, struct vfs_lock *lk)
{
	int64_t base, start, end;
	int err;

	if (copy_from_user(uvm(), fl, ufl, sizeof(*fl)))
		return -EFAULT;
	if (fl->type != DM_F_RDLCK && fl->type != DM_F_WRLCK && fl->type != DM_F_UNLCK)
		return -EINVAL;
	if (f->vn->type != VN_REG)
		return -EINVAL;
	if ((err = whence_base(f, fl->whence, &base)))
		return err;
	if (__builtin_add_overflow(base, fl->start, &start))
		return -EINVAL;
	if (fl->len > 0 && __builtin_add_overflow(start, fl->len, &end))
		return -EINVAL;
	if (fl->len < 0) {
		end = start;
		start += fl->len;
	}
	if (start < 0)
		return -EINVAL;
	*lk = (struct vfs_lock){ fl->type, current->pid, (uint64_t)start,
				 fl->len ? (uint64_t)end : VFS_LOCK_EOF };
	return 0;
}

static int64_t fcntl_lock(struct file *f, uint64_t cmd, uint64_t ufl)
{
	const struct vfs_ops *ops = f->vn->fs->ops;
	struct dm_flock fl;
	struct vfs_lock lk;
	int err = get_lock(f, ufl, &fl, &lk);

	if (err)
		return err;
	if (cmd == DM_F_GETLK) {
		if (lk.type == DM_F_UNLCK)
			return -EINVAL;
		if (!ops->getlk)
			return -ENOLCK;
		if ((err = ops->getlk(f->vn, &lk)))
			return err;
		fl.type = (int16_t)lk.type;
		if (lk.type != DM_F_UNLCK) {
			fl.whence = DM_SEEK_SET;
			fl.start = (int64_t)lk.start;
			fl.len = lk.end == VFS_LOCK_EOF ? 0 : (int64_t)(lk.end - lk.start);
			fl.pid = lk.pid;
		}
		return copy_to_user(uvm(), ufl, &fl, sizeof(fl));
	}
	if ((lk.type == DM_F_RDLCK && !readable(f)) || (lk.type == DM_F_WRLCK && !writable(f)))
		return -EBADF;
	if (!ops->setlk)
		return -ENOLCK;
	return ops->setlk(f->vn, &lk, cmd == DM_F_SETLKW);
}

int64_t sys_fcntl(SYSFILE_ARGS)
{
	struct fdtable *t = fd_table();
	struct file *f = fd_get(t, (int64_t)a);
	int fd;

	if (!f)
		return -EBADF;
	switch (b) {
	case DM_F_DUPFD:
	case DM_F_DUPFD_CLOEXEC:
		if ((int64_t)c < 0 || (int64_t)c >= DM_OPEN_MAX)
			return -EINVAL;
		if ((fd = fd_free(t, (int)c)) >= 0)
			fd_install(t, fd, file_get(f), b == DM_F_DUPFD_CLOEXEC);
		return fd;
	case DM_F_GETFD:
		return t->cloexec[a] ? DM_FD_CLOEXEC : 0;
	case DM_F_SETFD:
		t->cloexec[a] = c & DM_FD_CLOEXEC;
		return 0;
	case DM_F_GETFL:
		return f->flags;
	case DM_F_SETFL:
		f->flags = (f->flags & ~(DM_O_APPEND | DM_O_NONBLOCK)) |
			   ((int)c & (DM_O_APPEND | DM_O_NONBLOCK));
		return 0;
	case DM_F_GETLK:
	case DM_F_SETLK:
	case DM_F_SETLKW:
		return fcntl_lock(f, b, c);
	default:
		return -EINVAL;
	}
}
