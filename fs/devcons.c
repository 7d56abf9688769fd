/*
 * The console as a file: what descriptors 0, 1 and 2 of the programs the
 * monitor and init start are. A character device of its own tiny file
 * system ("cons"), not in any directory: reading takes what
 * kernel/console.c has of the current input line (sleeping until there is
 * some; -EINTR if the reader is killed; -EAGAIN at once with DM_O_NONBLOCK),
 * writing prints. poll() finds it readable when input waits, writable
 * always.
 */
#include "kernel/kernel.h"
#include "kernel/console.h"
#include "arch/arch.h"
#include "fs/fs.h"
#include "fs/vfs.h"
#include "fs/fstypes.h"

#define CHUNK 256

static int64_t c_read(struct vnode *vn, uint64_t off, const struct uio *u)
{
	char buf[CHUNK];
	int n, err;

	(void)vn;
	(void)off;
	if (!u->len)
		return 0;
	if ((u->flags & DM_O_NONBLOCK) && !console_ready())
		return -EAGAIN;
	if ((n = console_read(buf, MIN(u->len, sizeof(buf)))) > 0 && (err = uio_copyout(u, 0, buf, (size_t)n)))
		return err;
	return n;
}

static int64_t c_write(struct vnode *vn, uint64_t *off, const struct uio *u, bool append)
{
	char buf[CHUNK];
	uint64_t done = 0;

	(void)vn;
	(void)append;
	while (done < u->len) {
		size_t k = MIN(u->len - done, sizeof(buf));
		int err = uio_copyin(u, done, buf, k);
		if (err)
			return done ? (int64_t)done : err;
		arch_console_write(buf, k);
		done += k;
	}
	*off = 0;
	return (int64_t)done;
}

static int c_getattr(struct vnode *vn, struct dm_stat *st)
{
	*st = (struct dm_stat){ .ino = vn->ino, .mode = DM_S_IFCHR | 0620, .nlink = 1,
				.blksize = CHUNK };
	return 0;
}

static int c_poll(struct vnode *vn, int events)
{
	(void)vn;
	(void)events;
	return DM_POLLOUT | (console_ready() ? DM_POLLIN : 0);
}

static const struct vfs_ops cons_ops = { .read = c_read, .write = c_write, .getattr = c_getattr,
					 .poll = c_poll };
static struct vfs cons_vfs = { .name = "cons", .ops = &cons_ops };
static struct vnode cons = { &cons_vfs, NULL, 1, VN_CHR, 1 };  /* never freed */

struct vnode *devcons_vnode(void)
{
	return vref(&cons);
}
