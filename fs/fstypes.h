/*
 * The file systems under the VFS that this kernel has, each in one file
 * (fs/initrdfs.c, fs/ramfs.c, fs/devcons.c): how the upper half makes
 * them. Private to fs/.
 */
#ifndef FS_FSTYPES_H
#define FS_FSTYPES_H

#include <stdint.h>
#include "fs/vfs.h"

/**
 * initrdfs_get - the initrd's read-only file system, built from the
 * archive the first time
 * Context: boot (after initrd_init), or a process.
 * Return: it, or NULL (no memory for its nodes).
 */
struct vfs *initrdfs_get(void);

/**
 * ramfs_new - an empty ramfs (a file system in this node's memory)
 * holding at most max_bytes of file data
 * Context: boot or a process.
 * Return: the file system to vfs_mount(), or NULL (no memory).
 */
struct vfs *ramfs_new(uint64_t max_bytes);

/**
 * devcons_vnode - the node's console as a character device: reads take a
 * line of input (sleeping until one comes), writes go to the console
 * Context: any. Return: its vnode, referenced.
 */
struct vnode *devcons_vnode(void);

#endif
