/*
 * The cluster file system's first look at the shared disk at boot: read
 * its superblock and say, in one line, whether it is a dmosfs this kernel
 * can use (fs/format.h's fs_super_check, the same check fsck makes) or why
 * not. A refused disk is left alone: the node keeps running without it.
 * The file system that mounts the disk (docs/fs.md) starts from here.
 */
#include "kernel/kernel.h"
#include "fs/blk.h"
#include "fs/format.h"
#include "fs/probe.h"
#include "mm/mm.h"

static struct fs_super super;
static bool usable;

const struct fs_super *fs_disk_super(void)
{
	return usable ? &super : NULL;
}

void fs_probe(void)
{
	struct blk_dev *d = blk_disk();
	uint8_t *buf;
	char why[160], label[sizeof(super.label) + 1];
	int err;

	if (!d)
		return;
	buf = kmalloc(FS_BLOCK);
	if (!buf) {
		printk("node %d: fs: no memory to read the disk's superblock\n", self.id);
		return;
	}
	err = blk_read(d, 0, FS_SECTORS_PER_BLOCK, buf);
	if (err) {
		printk("node %d: fs: cannot read the disk's superblock (%d); running without "
		       "the disk\n", self.id, err);
		goto out;
	}
	memcpy(&super, buf, sizeof(super));
	if (fs_super_check(&super, blk_sectors(d) / FS_SECTORS_PER_BLOCK, why, sizeof(why))) {
		printk("node %d: fs: disk refused: %s; running without it\n", self.id, why);
		goto out;
	}
	usable = true;
	memcpy(label, super.label, sizeof(super.label));
	label[sizeof(super.label)] = 0;
	printk("node %d: fs: dmosfs '%s' on the disk: %u blocks (%u MiB), %u inodes, "
	       "%u journals%s\n", self.id, label, super.nblocks,
	       super.nblocks >> (20 - FS_BLOCK_SHIFT), super.ninodes, super.njournals,
	       (uint32_t)self.id < super.njournals ? "" : "; none for this node: read only");
out:
	kfree(buf);
}
