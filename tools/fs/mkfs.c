/*
 * dmosfs mkfs: lay out a new, empty file system on an image file or block
 * device (fs/format.h): superblock, empty journals, bitmaps, inode table and
 * the root directory, written raw since there is no file system to journal
 * through yet.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/fs/cmds.h"

int cmd_mkfs(struct args *a)
{
	const char *path = a->pos[0];
	uint64_t size = a->size ? parse_size(a->size) : 0;
	uint32_t journals = a->journals ? (uint32_t)number(a->journals, "--journals", FS_MAX_JOURNALS) : 0;
	uint32_t jblocks = a->jblocks ?
		(uint32_t)number(a->jblocks, "--journal-blocks", FS_JOURNAL_MAX + 1) : 0;
	uint32_t inodes = a->inodes ? (uint32_t)number(a->inodes, "--inodes", UINT32_MAX) : 0;
	static uint8_t buf[FS_BLOCK];
	struct fs_super s;
	struct fs_inode *root;
	struct fs_dirent *d;
	struct img m;
	struct stat st;
	int fd, created = 0;

	if (a->label && strlen(a->label) >= sizeof(s.label))
		bad_usage("mkfs: --label: at most %zu bytes", sizeof(s.label) - 1);
	if (a->journals && !journals)
		bad_usage("mkfs: --journals: at least 1");
	if (a->jblocks && jblocks < FS_MIN_JOURNAL)
		bad_usage("mkfs: --journal-blocks: at least %u", FS_MIN_JOURNAL);
	if (a->size && size < FS_BLOCK)
		bad_usage("mkfs: --size: at least one block (%u bytes)", FS_BLOCK);
	if (stat(path, &st) < 0) {
		if (errno != ENOENT || !a->size) {
			fprintf(stderr, "dmosfs: %s: %s\n", path,
				errno == ENOENT ? "no such file: say --size to make it" : strerror(errno));
			return 2;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
			fprintf(stderr, "dmosfs: %s: %s\n", path, strerror(errno));
			return 2;
		}
		close(fd);
		created = 1;
	} else if (a->size && S_ISREG(st.st_mode)) {
		if (truncate(path, (off_t)size) < 0) {
			fprintf(stderr, "dmosfs: %s: %s\n", path, strerror(errno));
			return 2;
		}
	}
	if (img_open(&m, path, 1, 1)) {
		fprintf(stderr, "dmosfs: %s: %s\n", path, m.x.why);
		return 2;
	}
	if (a->size && size / FS_BLOCK < m.disk_blocks)
		m.disk_blocks = size / FS_BLOCK;        /* a device used only in part */
	if (a->size && size / FS_BLOCK > m.disk_blocks) {
		img_err(&m, -EINVAL, "--size %s is more than the device holds", a->size);
		return failed(&m);
	}
	if (m.disk_blocks > UINT32_MAX) {
		img_err(&m, -EFBIG, "%lu blocks: dmosfs addresses at most %u (16 TiB): say --size",
			(unsigned long)m.disk_blocks, UINT32_MAX);
		return failed(&m);
	}
	if (fs_geometry(&s, (uint32_t)m.disk_blocks, inodes, journals, jblocks, m.x.why, sizeof(m.x.why))) {
		if (created)
			unlink(path);   /* nothing made of it */
		return failed(&m);
	}
	if (getrandom(s.uuid, sizeof(s.uuid), 0) != sizeof(s.uuid)) {
		img_err(&m, -EIO, "no random bytes for a uuid: %s", strerror(errno));
		return failed(&m);
	}
	s.uuid[6] = (uint8_t)((s.uuid[6] & 0x0f) | 0x40);       /* version 4 */
	s.uuid[8] = (uint8_t)((s.uuid[8] & 0x3f) | 0x80);
	s.mkfs_time = (uint64_t)time(NULL);
	if (a->label)
		memcpy(s.label, a->label, strlen(a->label));
	s.csum = fs_super_csum(&s);

	/* An old superblock goes first, the new one last: a mkfs cut short
	 * leaves no file system rather than a mix of two. */
	memset(buf, 0, sizeof(buf));
	if (img_write(&m, 0, buf) || img_sync(&m))
		return failed(&m);
	for (uint32_t b = s.journal_start; b < s.data_start; b++)
		if (img_write(&m, b, buf))
			return failed(&m);
	for (uint32_t j = 0; j < s.njournals; j++) {
		fs_journal_empty(&s, j, 0, (struct fs_journal_head *)buf);
		if (img_write(&m, fs_journal_block(&s, j), buf))
			return failed(&m);
	}
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x3;                           /* no inode 0; the root */
	if (img_write(&m, s.ibitmap_start, buf))
		return failed(&m);
	/* Every block before data_start and the root's, data_start itself. */
	for (uint32_t i = 0; i < s.bbitmap_blocks; i++) {
		uint64_t first = (uint64_t)i * FS_BLOCK * 8;

		memset(buf, 0, sizeof(buf));
		for (uint64_t b = first; b <= s.data_start && b < first + FS_BLOCK * 8; b++)
			buf[(b - first) / 8] |= (uint8_t)(1u << (b % 8));
		if (img_write(&m, s.bbitmap_start + i, buf))
			return failed(&m);
	}
	memset(buf, 0, sizeof(buf));
	root = (struct fs_inode *)buf + FS_ROOT_INO;
	root->mode = FS_S_IFDIR | 0755;
	root->nlink = 2;
	root->size = FS_BLOCK;
	root->nblocks = 1;
	root->direct[0] = s.data_start;
	root->atime_ns = root->mtime_ns = root->ctime_ns = s.mkfs_time * 1000000000ull;
	if (img_write(&m, s.inode_start, buf))
		return failed(&m);
	memset(buf, 0, sizeof(buf));
	d = (struct fs_dirent *)buf;
	for (int i = 0; i < 2; i++) {
		d[i].ino = FS_ROOT_INO;
		d[i].type = FS_DT_DIR;
		d[i].namelen = (uint8_t)(i + 1);
		memcpy(d[i].name, "..", (size_t)i + 1);
	}
	if (img_write(&m, s.data_start, buf) || img_sync(&m))
		return failed(&m);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &s, sizeof(s));
	if (img_write(&m, 0, buf) || img_sync(&m))
		return failed(&m);
	printf("%s: dmosfs of %u blocks (%lu MiB), %u inodes, %u journals of %u blocks, "
	       "data from block %u\n", path, s.nblocks,
	       (unsigned long)((uint64_t)s.nblocks * FS_BLOCK >> 20), s.ninodes - 1,
	       s.njournals, s.journal_blocks, s.data_start);
	img_close(&m);
	return 0;
}
