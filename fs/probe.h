/*
 * The shared disk's file system as the boot found it (fs/probe.c).
 */
#ifndef FS_PROBE_H
#define FS_PROBE_H

#include "fs/format.h"

/* Read and check the disk's superblock; one line says what was found.
 * Context: boot, after blk_init, interrupts on. */
void fs_probe(void);

/* The disk's checked superblock, or NULL (no disk, or refused). Context: any. */
const struct fs_super *fs_disk_super(void);

#endif
