/*
 * The VFS: the contract between the upper half of the file system (open
 * files and descriptors, fs/file.c; path names and mounts, fs/path.c; the
 * system calls, fs/sysfile.c) and each file system below it (the initrd,
 * fs/initrdfs.c; the RAM file system of /tmp, fs/ramfs.c; the console,
 * fs/devcons.c; dmosfs, the cluster file system, when it comes). The
 * layering is xv6's: each layer one file, using only the one below.
 *
 * A file system is a struct vfs: its ops and its root vnode. A vnode is
 * the in-core handle of one file or directory on this node: reference
 * counted (node-local, no locks: a node has one CPU and its kernel is not
 * preempted), carrying the file system's private pointer, the inode
 * number and the type. The file system makes its vnodes and hands them out
 * referenced (lookup, create); vput() of the last reference calls its
 * inactive op, where it may free the vnode (a removed file that nobody
 * holds any more is gone). The upper half holds a reference for each open
 * file, each process's working directory, and each mount.
 *
 * Names given to the ops are one path component, NUL-terminated, 1 ..
 * DM_FILENAME_MAX bytes, without '/', never "." (the path layer handles
 * it); lookup may be given ".." (the directory's parent; the root's is
 * itself). Directories passed as dir are VN_DIR vnodes of the same file
 * system (the upper half checks, and never passes a mount point's name:
 * renaming or removing one fails with EBUSY above).
 *
 * Every op runs in a process's system call (Context: a process, not
 * interrupts); an op may sleep (disk I/O, a cluster lock, a byte-range
 * lock wait). Ops return 0 (or a count) or a negative errno. An op the file
 * system does not have is NULL; the upper half then fails the call with
 * the errno given for it below.
 *
 * Data moves through a struct uio, a buffer in a user address space (or
 * the kernel's): the file system copies between its pages (page-cache
 * pages, for dmosfs) and the buffer itself with uio_copyout/uio_copyin,
 * which check the user buffer page by page, so a bad pointer is -EFAULT
 * and never a kernel fault, and nothing is copied twice.
 *
 *   lookup(dir, name, &vn)        the vnode named name in dir, referenced.
 *                                 -ENOENT, -ENOTDIR (dir is no directory).
 *   create(dir, name, mode, excl, &vn)   a regular file: made if missing
 *                                 (permission bits of mode kept); an
 *                                 existing one is returned unless excl
 *                                 (then -EEXIST). Making and naming it is
 *                                 atomic: of two racing excl creates, on
 *                                 any nodes, exactly one wins. -EROFS,
 *                                 -ENOSPC, -EISDIR (name is a directory).
 *   mkdir(dir, name, mode)        -EEXIST, -EROFS, -ENOSPC, -EMLINK.
 *   unlink(dir, name)             remove the name of a file: -ENOENT,
 *                                 -EISDIR (a directory), -EROFS. The file
 *                                 lives on while anyone holds it open on
 *                                 any node (the open/close hooks count
 *                                 them), and is freed at the last close.
 *   rmdir(dir, name)              remove an empty directory: -ENOENT,
 *                                 -ENOTDIR, -ENOTEMPTY, -EROFS.
 *   rename(odir, oname, ndir, nname)  atomic, also across directories of
 *                                 the file system: nname names the file
 *                                 afterwards, oname does not, and at no
 *                                 point does nname name nothing if it
 *                                 named something before. An existing
 *                                 nname is replaced: a file by a file, an
 *                                 empty directory by a directory; else
 *                                 -EISDIR, -ENOTDIR, -ENOTEMPTY. -EINVAL:
 *                                 a directory into itself or below it.
 *                                 The same file under both names: 0,
 *                                 nothing done. -ENOENT, -EROFS, -ENOSPC.
 *   read(vn, off, uio)            up to uio->len bytes from off: bytes
 *                                 read, 0 at or past the end; -EISDIR,
 *                                 -EFAULT only if nothing was copied, -EIO.
 *   write(vn, &off, uio, append)  at *off, or (append) at the end of the
 *                                 file as it is when the write happens, so
 *                                 appenders on any nodes never overwrite
 *                                 each other; *off becomes the end of what
 *                                 was written. Return: bytes written (short
 *                                 only on -ENOSPC/-EFAULT midway), -ENOSPC,
 *                                 -EFBIG, -EROFS, -EFAULT, -EIO.
 *   truncate(vn, size)            grow (zeros) or shrink: -EISDIR, -EFBIG,
 *                                 -EROFS. NULL: -EROFS.
 *   fsync(vn)                     its data and metadata are on the disk:
 *                                 -EIO. NULL: nothing to do, 0.
 *   getattr(vn, st)               fill a struct dm_stat (dev is filled
 *                                 in above, from the mount).
 *   setattr(vn, va)               the fields va->mask names: mode's
 *                                 permission bits, atime, mtime. -EROFS.
 *                                 NULL: -EROFS.
 *   readdir(dir, &pos, de)        the entry at position *pos (0: the
 *                                 first; "." and ".." come first) and
 *                                 *pos moved past it: 1; 0 at the end.
 *                                 Positions are the file system's cookies,
 *                                 stable while entries come and go.
 *   open(vn, flags)               a descriptor is opened on vn (DM_O_*
 *                                 access mode and flags): -EROFS for
 *                                 write access on a read-only file
 *                                 system; cluster-wide open counts. NULL: 0.
 *   close(vn, flags)              that descriptor's last reference went
 *                                 (flags as given to open). NULL: nothing.
 *   getlk(vn, lk)                 the first lock of another owner that
 *                                 conflicts with lk (its range, type and
 *                                 pid written into lk), or lk->type =
 *                                 DM_F_UNLCK. NULL: -ENOLCK.
 *   setlk(vn, lk, wait)           set or clear (DM_F_UNLCK) lk->pid's lock
 *                                 on [start, end): its own locks in the
 *                                 range are replaced, split or merged.
 *                                 A conflict: -EAGAIN, or with wait sleep
 *                                 until granted (-EINTR if killed,
 *                                 -EDEADLK if waiting would close a cycle
 *                                 of owners). -ENOLCK (no memory). NULL:
 *                                 -ENOLCK.
 *   poll(vn, events)              which of DM_POLLIN/DM_POLLOUT (of
 *                                 events) the file is ready for now, plus
 *                                 DM_POLLERR/DM_POLLHUP whatever events
 *                                 says; never sleeps. A file system whose
 *                                 readiness changes calls poll_wake()
 *                                 (fs/fs.h) when it does. NULL: always
 *                                 ready for both (a regular file, a
 *                                 directory).
 *   inactive(vn)                  the last reference went. NULL: nothing.
 *
 * A read or write that would wait (the console without input, a socket
 * without data or room) waits, or with DM_O_NONBLOCK in uio->flags fails
 * with -EAGAIN; a wait ends with -EINTR when the process is killed.
 */
#ifndef FS_VFS_H
#define FS_VFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kernel/errno.h"
#include "mm/vm.h"
#include "userland/include/dm_abi.h"

enum vnode_type { VN_REG = 1, VN_DIR = 2, VN_CHR = 3, VN_SOCK = 4 };

/* Has it offsets (lseek, pread, pwrite)? Not the console, not a socket. */
static inline bool vn_seekable(enum vnode_type t)
{
	return t == VN_REG || t == VN_DIR;
}

struct vfs;

struct vnode {
	struct vfs *fs;                 /* the file system it belongs to */
	void *priv;                     /* the file system's */
	uint64_t ino;
	enum vnode_type type;
	int refs;                       /* references in this node's kernel */
};

struct vfs_ops;

/* A file system instance: what vfs_mount() mounts. */
struct vfs {
	const char *name;               /* "initrd", "ramfs", ...: for messages */
	const struct vfs_ops *ops;
	struct vnode *root;             /* referenced by the file system itself */
	void *priv;
	uint32_t dev;                   /* dm_stat.dev: set by vfs_mount */
	bool rdonly;                    /* nothing in it changes: the upper half says EROFS */
};

/* A buffer of len bytes at addr in vm's address space (vm NULL: the kernel's). */
struct uio {
	struct vm *vm;
	uint64_t addr;
	uint64_t len;
	int flags;                      /* the open file's DM_O_* flags: DM_O_NONBLOCK */
};

/* What setattr sets. */
#define VA_MODE  0x1
#define VA_ATIME 0x2
#define VA_MTIME 0x4

struct vattr {
	uint32_t mask;                  /* VA_* */
	uint32_t mode;                  /* permission bits (DM_S_PERM) */
	int64_t atime_ns, mtime_ns;     /* since 1970 */
};

struct vfs_dirent {
	uint64_t ino;
	uint8_t type;                   /* DM_DT_* */
	uint8_t namelen;
	char name[DM_FILENAME_MAX + 1]; /* NUL-terminated */
};

#define VFS_LOCK_EOF UINT64_MAX          /* vfs_lock.end: to the end of the file, however it grows */

/* A byte-range lock of [start, end) held or wanted by process pid. */
struct vfs_lock {
	int type;                       /* DM_F_RDLCK, DM_F_WRLCK, DM_F_UNLCK */
	int pid;                        /* the owner: a cluster-wide pid */
	uint64_t start, end;            /* end exclusive, or VFS_LOCK_EOF */
};

struct vfs_ops {
	int (*lookup)(struct vnode *dir, const char *name, struct vnode **out);
	int (*create)(struct vnode *dir, const char *name, uint32_t mode, bool excl,
		      struct vnode **out);
	int (*mkdir)(struct vnode *dir, const char *name, uint32_t mode);
	int (*unlink)(struct vnode *dir, const char *name);
	int (*rmdir)(struct vnode *dir, const char *name);
	int (*rename)(struct vnode *odir, const char *oname, struct vnode *ndir, const char *nname);
	int64_t (*read)(struct vnode *vn, uint64_t off, const struct uio *u);
	int64_t (*write)(struct vnode *vn, uint64_t *off, const struct uio *u, bool append);
	int (*truncate)(struct vnode *vn, uint64_t size);
	int (*fsync)(struct vnode *vn);
	int (*getattr)(struct vnode *vn, struct dm_stat *st);
	int (*setattr)(struct vnode *vn, const struct vattr *va);
	int (*readdir)(struct vnode *dir, uint64_t *pos, struct vfs_dirent *de);
	int (*open)(struct vnode *vn, int flags);
	void (*close)(struct vnode *vn, int flags);
	int (*getlk)(struct vnode *vn, struct vfs_lock *lk);
	int (*setlk)(struct vnode *vn, const struct vfs_lock *lk, bool wait);
	int (*poll)(struct vnode *vn, int events);
	void (*inactive)(struct vnode *vn);
};

static inline struct vnode *vref(struct vnode *vn)
{
	vn->refs++;
	return vn;
}

/* Drop a reference; the last one calls the file system's inactive op. */
static inline void vput(struct vnode *vn)
{
	if (--vn->refs == 0 && vn->fs->ops->inactive)
		vn->fs->ops->inactive(vn);
}

/*
 * uio_copyout - copy n bytes from src into the buffer, at byte at of it
 * uio_copyin  - copy n bytes of the buffer, from byte at, into dst
 * Context: the process whose address space u->vm is.
 * Return: 0, -EFAULT (not user memory, or past the buffer), -ENOMEM.
 */
static inline int uio_copyout(const struct uio *u, uint64_t at, const void *src, size_t n)
{
	if (at > u->len || n > u->len - at)
		return -EFAULT;
	if (!u->vm) {
		__builtin_memcpy((void *)(u->addr + at), src, n);
		return 0;
	}
	return copy_to_user(u->vm, u->addr + at, src, n);
}

static inline int uio_copyin(const struct uio *u, uint64_t at, void *dst, size_t n)
{
	if (at > u->len || n > u->len - at)
		return -EFAULT;
	if (!u->vm) {
		__builtin_memcpy(dst, (const void *)(u->addr + at), n);
		return 0;
	}
	return copy_from_user(u->vm, dst, u->addr + at, n);
}

/* ---- mounts and names (fs/path.c) ------------------------------------------------ */

#define VFS_MAX_MOUNTS 8

/**
 * vfs_mount - mount fs at path
 * @path: "/" (the first mount must be it), or an absolute path whose parent
 *        directory exists; its last component need not exist in the file
 *        system below (the mount point appears in its parent's listing)
 * Context: boot, or a process.
 * Return: 0; -EBUSY (something is mounted there), -ENOSPC (the table is
 * full), -ENOENT/-ENOTDIR (no such parent), -EINVAL (not absolute).
 */
int vfs_mount(const char *path, struct vfs *fs);

/* The root directory "/", referenced. Context: any; after the first mount. */
struct vnode *vfs_root(void);

/*
 * The last component of a path, as path_parent() hands it out: a name, or
 * "." / ".." (the callers decide what those mean for them), or "" for "/".
 * slash: the path ended in '/' (the name must be a directory).
 */
struct path_last {
	char name[DM_FILENAME_MAX + 1];
	bool slash;
};

/**
 * path_lookup - the vnode a path names
 * @cwd: where a relative path starts
 * Context: a process (the lookups may sleep).
 * Return: 0 with *out referenced; -ENOENT (a component is missing, or the
 * path is empty), -ENOTDIR (a component before the end, or the last one
 * with a trailing '/', is no directory), -ENAMETOOLONG (a component is
 * longer than DM_FILENAME_MAX), or an error of the file system.
 */
int path_lookup(struct vnode *cwd, const char *path, struct vnode **out);

/**
 * path_parent - the directory that holds a path's last component, and it
 * Return: 0 with *dir referenced (a directory) and *last filled; the
 * errors of path_lookup() for the components before the last.
 */
int path_parent(struct vnode *cwd, const char *path, struct vnode **dir, struct path_last *last);

/**
 * path_mounted - the root of what is mounted at name in dir, referenced,
 * or NULL (nothing is)
 */
struct vnode *path_mounted(struct vnode *dir, const char *name);

/**
 * path_is_mount_root - is vn the root of a mounted file system?
 * Return: true for every mount's root, "/" included.
 */
bool path_is_mount_root(const struct vnode *vn);

/* The i-th mount point in dir (i from 0): its name, or NULL after the last. */
const char *path_mount_in(const struct vnode *dir, int i);

/**
 * path_name - the absolute path of directory vn, found by walking ".." up
 * to "/" and looking each directory up in its parent (so a directory that
 * was renamed is named where it is now)
 * Return: the length without the NUL; -ENOENT (vn was removed), -ERANGE
 * (it does not fit in n bytes), an error of the file system.
 */
int path_name(struct vnode *vn, char *buf, size_t n);

#endif
