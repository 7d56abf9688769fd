/*
 * The file system's VFS as the rest of the kernel sees it.
 *
 * fs/ holds the VFS (vfs.h: the contract between the upper half and each
 * file system), the upper half (file.c: open files and descriptors;
 * path.c: names and mounts; sysfile.c: the file system calls), the file
 * systems below it (initrdfs.c, ramfs.c, devcons.c), and the cluster file
 * system's parts (format.h, pcache.h, the shared disk's driver). Other
 * folders include this header, blk.h (the shared disk) and probe.h (its
 * superblock as the boot found it), nothing else of fs/. What is here:
 * booting the VFS, a process's files following the process (spawn,
 * exit), the program files spawns run, and the system call handlers that
 * kernel/syscall.c's table names.
 *
 * The tree: "/" is the cluster file system (dmosfs, the shared disk;
 * programs in /bin) and the initrd is /initrd, or with no usable disk (or
 * root=initrd) the initrd is "/" (read-only: the programs); /tmp is a
 * ramfs (this node's memory).
 */
#ifndef FS_FS_H
#define FS_FS_H

#include <stdint.h>

struct proc;

/**
 * vfs_init - mount the file systems and give the kernel thread its
 * descriptors (0, 1, 2: the console) and working directory ("/"), which
 * the programs it starts inherit
 * Context: boot, once, after initrd_init, the heap and pool_init (dmosfs,
 * when the disk holds one, caches its pages in the pool: fs/dmosfs.h says
 * where it is mounted).
 */
void vfs_init(void);

/**
 * files_spawn - child (a new process of this node, not yet run) gets the
 * current process's descriptors 0, 1 and 2 (the same open files), its
 * working directory and umask
 * Context: proc_spawn, in the parent's system call or the kernel thread.
 */
void files_spawn(struct proc *child);

/**
 * files_check_std - may a spawn on node pass the current process's
 * descriptors fds[0..2] (DM_FD_NONE: none) as the child's 0, 1 and 2?
 * Files are node-local: a child on another node (or on whichever node the
 * cluster chooses) can only be given console descriptors, and gets its own
 * node's console.
 * Return: 0; -EBADF (not an open descriptor), -EXDEV (a file of this node
 * for a child elsewhere).
 */
int files_check_std(const int fds[3], int node);

/**
 * files_set_std - make the new local child pid's 0, 1 and 2 the current
 * process's fds[0..2] (checked by files_check_std), before it first runs
 * Context: the parent's spawn system call.
 */
void files_set_std(int pid, const int fds[3]);

/**
 * files_exit - close every descriptor of the current process (its
 * byte-range locks go with them) and drop its working directory
 * Context: proc_exit, interrupts on: a file system's close may sleep.
 */
void files_exit(void);

struct vnode;

/**
 * fs_exec_open - the program file a spawn names (fs/exec.c), checked and
 * held open for loading
 * @path: a name without '/' is looked for in /bin of the root file system,
 *        then in the initrd; a path with '/' is resolved from the current
 *        process's working directory ("/" for the kernel thread)
 * @size: set to the file's size
 * Context: proc_spawn, in a system call or the kernel thread; may sleep.
 * Return: 0 with *out (give it back with fs_exec_close); -ENOENT,
 * -ENOTDIR, -ENAMETOOLONG, -EACCES (a directory, the console, no x bit),
 * or an error of the file system (-EIO).
 */
int fs_exec_open(const char *path, struct vnode **out, uint64_t *size);

/**
 * fs_exec_read - read n bytes at off of a file fs_exec_open gave (passed as
 * file: this is the ELF loader's read callback, sched/elf.h) into buf,
 * kernel memory
 * Context: as fs_exec_open. Return: bytes read (fewer only at the end of
 * the file), or the file system's error.
 */
int64_t fs_exec_read(void *file, uint64_t off, void *buf, uint64_t n);

/* Close and drop a file fs_exec_open gave. */
void fs_exec_close(struct vnode *vn);

/**
 * poll_wake - something may have become ready: a process sleeping in poll()
 * looks at its descriptors again
 *
 * A file system whose poll op's answer changes (a socket got data or room,
 * the console got input) calls it, after the change. Cheap when nobody
 * polls.
 * Context: any, interrupts included.
 */
void poll_wake(void);

/* The system calls of fs/sysfile.c and fs/poll.c, for the table in kernel/syscall.c. */
#define SYSFILE_ARGS uint64_t a __attribute__((unused)), uint64_t b __attribute__((unused)), \
	uint64_t c __attribute__((unused)), uint64_t d __attribute__((unused)), \
	uint64_t e_ __attribute__((unused)), uint64_t f_ __attribute__((unused))

int64_t sys_open(SYSFILE_ARGS);
int64_t sys_close(SYSFILE_ARGS);
int64_t sys_read(SYSFILE_ARGS);
int64_t sys_write(SYSFILE_ARGS);
int64_t sys_pread(SYSFILE_ARGS);
int64_t sys_pwrite(SYSFILE_ARGS);
int64_t sys_lseek(SYSFILE_ARGS);
int64_t sys_fstat(SYSFILE_ARGS);
int64_t sys_stat(SYSFILE_ARGS);
int64_t sys_ftruncate(SYSFILE_ARGS);
int64_t sys_fsync(SYSFILE_ARGS);
int64_t sys_unlink(SYSFILE_ARGS);
int64_t sys_mkdir(SYSFILE_ARGS);
int64_t sys_rmdir(SYSFILE_ARGS);
int64_t sys_rename(SYSFILE_ARGS);
int64_t sys_getdents(SYSFILE_ARGS);
int64_t sys_chdir(SYSFILE_ARGS);
int64_t sys_getcwd(SYSFILE_ARGS);
int64_t sys_access(SYSFILE_ARGS);
int64_t sys_dup(SYSFILE_ARGS);
int64_t sys_dup2(SYSFILE_ARGS);
int64_t sys_fcntl(SYSFILE_ARGS);
int64_t sys_chmod(SYSFILE_ARGS);
int64_t sys_fchmod(SYSFILE_ARGS);
int64_t sys_utimens(SYSFILE_ARGS);
int64_t sys_umask(SYSFILE_ARGS);
int64_t sys_poll(SYSFILE_ARGS);

#endif
