/*
 * dmosfs, the cluster file system on the shared disk (fs/dmosfs.c): what
 * the rest of the kernel calls. The pool hands it the page cache index
 * (kernel/cluster/pool.c), the VFS's init mounts it at "/" (fs/file.c),
 * the survivors of a dead node repair what it left in the cache
 * (kernel/cluster/cluster.c), and the system call and monitor command
 * below report its counters.
 */
#ifndef FS_DMOSFS_H
#define FS_DMOSFS_H

#include <stdbool.h>
#include <stdint.h>

struct vfs;

/**
 * dmosfs_attach_pool - take the pool's page cache index as this node
 * @area: the index (fs/pcache.h) in this node's pool window
 * Context: boot, once, from pool_init() when the pool is attached, before
 * the node joins.
 */
void dmosfs_attach_pool(void *area);

/**
 * dmosfs_get - the file system on the shared disk, ready to mount: the
 * disk fs_probe() accepted, this node's journal replayed if it holds a
 * committed transaction, the root directory read through the cache
 * Context: boot, after pool_init() and cluster_wait(); says in one line
 * what it mounted or why not.
 * Return: it (read-only), or NULL: no usable disk, no pool (the cache lives
 * there), or the disk could not be read.
 */
struct vfs *dmosfs_get(void);

/*
 * Where it is mounted. By default it is "/" and the initrd /initrd (the
 * kernel thread, and the programs it starts, work in /initrd, among the
 * programs' files). With root=initrd on the kernel command line the initrd
 * stays "/" and dmosfs is DMOSFS_MOUNT; with no usable disk the initrd is
 * "/" alone. Programs start from the initrd either way.
 */
#define DMOSFS_MOUNT "/disk"

/*
 * Is dmosfs to be "/" when it mounts (the default: yes, unless the command
 * line says root=initrd)? Context: boot.
 */
bool dmosfs_is_root(void);

/**
 * dmosfs_node_dead - node n died: repair the cache slots it was filling or
 * holding busy, and clear its pins (pcache_node_dead)
 * Context: a survivor's kernel thread, when the node is declared dead.
 */
void dmosfs_node_dead(int n);

/**
 * dmosfs_reclaim - give pool pages back: evict up to pages clean, unpinned
 * pages of the page cache (any node's: they are shared)
 * Context: a process or the kernel thread, when a pool allocation failed
 * (mm/pmem.c); not from the cache's own allocations.
 * Return: pages freed.
 */
uint32_t dmosfs_reclaim(uint32_t pages);

/**
 * dmosfs_region_lost - a region failure took pool pages: the page cache
 * forgets its clean pages there (the next read of one reads the disk
 * again) and marks its dirty ones lost (pcache_lost): reading such a page,
 * and the next write or fsync of its file, fail with EIO until a truncate
 * or unlink forgets them. The cache is the cluster's, so whichever node comes first lets a
 * frame go; each says what it did in one console line, once nothing is
 * left to do.
 * @lost: whether pool page ppn is lost (its frames' region failed)
 * @ctx: lost's
 * @last: print the line even if slots are left
 * One pass over the cache that waits for nobody: a slot another node (or
 * a process of this one) holds filling or writing back now is left for a
 * later call; pinned pages lose their frames all the same (their bytes
 * are gone already).
 * Context: the kernel thread (mm/loss.c), after each failure and then on
 * later passes while this returns more than 0.
 * Return: slots still holding a lost page: call again on a later pass.
 */
uint32_t dmosfs_region_lost(bool (*lost)(void *ctx, uint64_t ppn), void *ctx, bool last);

/* SYS_fsinfo (struct dm_fsinfo *out): this node's disk and cache counters.
 * Return: 0, -EFAULT. */
int64_t sys_fsinfo(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f);

/* The monitor's `fs` command. Context: the monitor (kernel/monitor.c). */
void cmd_fs(char **argv, int argc);

#endif
