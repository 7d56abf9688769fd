/*
 * Open files and descriptor tables (fs/file.c), for the system calls of
 * fs/sysfile.c. Private to fs/; other folders use fs/fs.h.
 *
 * A struct file is one open of a vnode: the offset, the flags, and a count
 * of the descriptors that name it, in any process of this node (dup, dup2,
 * F_DUPFD, and a spawned child's 0..2 share it). Each process has a table
 * of DM_OPEN_MAX descriptors, its working directory and its umask.
 *
 * Context (all calls): a process (or, for files_init, boot); no locking
 * (one CPU per node, a kernel that is not preempted).
 */
#ifndef FS_FILE_H
#define FS_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include "fs/vfs.h"

/* struct file.flags: the access mode and what F_SETFL changes. */
#define FILE_FLAGS (DM_O_ACCMODE | DM_O_APPEND | DM_O_NONBLOCK)

struct file {
	struct vnode *vn;               /* referenced */
	uint64_t off;                   /* a directory's: the file system's readdir cookie */
	int flags;                      /* FILE_FLAGS bits */
	int refs;                       /* descriptors naming it */
	int dirmounts;                  /* getdents: mount points listed after the entries */
	int open_flags;                 /* as given to the vnode's open op, for its close op */
};

struct fdtable {
	struct file *fd[DM_OPEN_MAX];
	bool cloexec[DM_OPEN_MAX];
	struct vnode *cwd;              /* referenced */
	uint32_t umask;
};

/* The current process's table. */
struct fdtable *fd_table(void);

/* The file behind fd in t, or NULL (not open, out of range). */
struct file *fd_get(struct fdtable *t, int64_t fd);

/* The lowest free descriptor >= min. Return: it, or -EMFILE. */
int fd_free(struct fdtable *t, int min);

/* Put f (its reference passes to the table) at descriptor fd, which is free. */
void fd_install(struct fdtable *t, int fd, struct file *f, bool cloexec);

/*
 * fd_close - close descriptor fd: the process's byte-range locks on the
 * file go (POSIX: on any close of the file), and the file with its last
 * descriptor. Return: 0, -EBADF.
 */
int fd_close(struct fdtable *t, int64_t fd);

/**
 * file_open - open vn (referenced; the reference passes to the file)
 * @flags: DM_O_* as the caller gave them, for the vnode's open op
 * Return: 0 with *out (one reference); the open op's error, -ENOMEM (then
 * the reference to vn is dropped).
 */
int file_open(struct vnode *vn, int flags, struct file **out);

/* Drop a reference to f; the last one closes it (the vnode's close op). */
void file_put(struct file *f);

static inline struct file *file_get(struct file *f)
{
	f->refs++;
	return f;
}

#endif
