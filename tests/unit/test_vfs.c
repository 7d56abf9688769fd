/*
 * Host unit tests of the VFS's upper half and the ramfs under it: path
 * resolution (fs/path.c: ".", "..", slashes, the name limits, mounts and
 * ".." across them, a directory's name found again after a rename),
 * ramfs (fs/ramfs.c: data, holes, truncation, the space limit, rename's
 * rules, a removed file living until its last reference goes: ASan's
 * leak check sees one that never goes), byte-range locks (fs/lockf.c:
 * conflicts, splits, merges, the waits-for graph), and descriptor tables
 * (fs/file.c: dup, inheritance at spawn, locks dropped at close).
 *
 * The root is a ramfs here (the kernel's is the initrd). Buffers are
 * kernel uios (vm NULL), so no user copy runs; the scheduler, the clock
 * and the process table are stubs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/kernel.h"
#include "mm/mm.h"
#include "sched/sched.h"
#include "fs/vfs.h"
#include "fs/file.h"
#include "fs/fs.h"
#include "fs/fstypes.h"
#include "fs/lockf.h"
#include "fs/dmosfs.h"

/* ---- stubs --------------------------------------------------------------------- */

struct self self = { .id = 0, .nodes = 1 };
static struct proc procs[MAX_PROCS];
struct proc *current = &procs[1];
static int wakeups;

void *kmalloc(size_t n) { return malloc(n); }
void *kzalloc(size_t n) { return calloc(1, n); }
void kfree(void *p) { free(p); }
int64_t clock_realtime_ns(void) { return 1700000000LL * 1000000000; }
uint64_t arch_irq_save(void) { return 0; }
void arch_irq_restore(uint64_t flags) { (void)flags; }
void sched_wakeup(const void *chan) { (void)chan; wakeups++; }
struct proc *proc_table(void) { return procs; }
void frame_stats(struct frame_stats *st) { st->total = 1024; st->free = 1024; }

void sched_sleep(const void *chan, uint64_t until_ns)
{
	(void)chan;
	(void)until_ns;
	fail_msg("a lock wait slept; these tests never wait");
}

struct proc *proc_find(int pid)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

size_t strlcpy(char *d, const char *s, size_t n)      /* glibc 2.36 has none */
{
	return (size_t)snprintf(d, n, "%s", s);
}

int printk(const char *fmt, ...)
{
	fail_msg("printk: %s", fmt);
	return 0;
}

void panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fail_msg("panic");
	abort();
}

int copy_to_user(struct vm *vm, uint64_t dst, const void *src, size_t n)
{
	(void)vm; (void)dst; (void)src; (void)n;
	fail_msg("a user copy in a host test");
	return -EFAULT;
}

int copy_from_user(struct vm *vm, void *dst, uint64_t src, size_t n)
{
	(void)vm; (void)dst; (void)src; (void)n;
	fail_msg("a user copy in a host test");
	return -EFAULT;
}

/* What the kernel mounts at "/": here a ramfs, with "/tmp" left to vfs_init(). */
struct vfs *initrdfs_get(void)
{
	static struct vfs *root;

	return root ? root : (root = ramfs_new(1 << 20));
}

/* No shared disk here: the initrd stands in at "/". */
struct vfs *dmosfs_get(void)
{
	return NULL;
}

bool dmosfs_is_root(void)
{
	return false;
}

static struct vnode cons_vn;
static const struct vfs_ops cons_ops;
static struct vfs cons_fs = { .name = "cons", .ops = &cons_ops };

struct vnode *devcons_vnode(void)
{
	cons_vn = (struct vnode){ &cons_fs, NULL, 1, VN_CHR, cons_vn.refs };
	return vref(&cons_vn);
}

/* ---- helpers ----------------------------------------------------------------------- */

/* A ramfs has no unmount: the ones the tests make stay reachable from here,
 * so the leak check at exit reports only what the file system lost. */
struct vfs *kept[8];

static struct vfs *keep(struct vfs *fs)
{
	static int n;

	assert_non_null(fs);
	return kept[n++] = fs;
}

static struct vnode *root;

static struct vnode *lookup(const char *path)
{
	struct vnode *vn = NULL;
	int err = path_lookup(root, path, &vn);

	if (err)
		fail_msg("path_lookup(%s) = %d", path, err);
	return vn;
}

static int lookup_err(struct vnode *cwd, const char *path)
{
	struct vnode *vn;
	int err = path_lookup(cwd, path, &vn);

	if (!err)
		vput(vn);
	return err;
}

static void mkdir_p(const char *path)
{
	struct path_last last;
	struct vnode *dir;

	assert_int_equal(path_parent(root, path, &dir, &last), 0);
	assert_int_equal(dir->fs->ops->mkdir(dir, last.name, 0755), 0);
	vput(dir);
}

static struct vnode *create(const char *path)
{
	struct path_last last;
	struct vnode *dir, *vn;

	assert_int_equal(path_parent(root, path, &dir, &last), 0);
	assert_int_equal(dir->fs->ops->create(dir, last.name, 0644, true, &vn), 0);
	vput(dir);
	return vn;
}

static int64_t write_at(struct vnode *vn, uint64_t off, const void *buf, size_t n)
{
	struct uio u = { NULL, (uint64_t)buf, n, 0 };

	return vn->fs->ops->write(vn, &off, &u, false);
}

static int64_t read_at(struct vnode *vn, uint64_t off, void *buf, size_t n)
{
	struct uio u = { NULL, (uint64_t)buf, n, 0 };

	return vn->fs->ops->read(vn, off, &u);
}

static uint64_t ino(const char *path)
{
	struct vnode *vn = lookup(path);
	uint64_t i = vn->ino;

	vput(vn);
	return i;
}

/* Once for every test: / and /tmp as the kernel mounts them, and /a/b, /a/f. */
static int setup(void **state)
{
	(void)state;
	if (!root) {
		procs[0].pid = 0;
		procs[1].pid = 1;
		current = &procs[0];            /* the kernel thread */
		vfs_init();
		files_spawn(&procs[1]);         /* the process the tests run as */
		current = &procs[1];
		root = vfs_root();
		mkdir_p("/a");
		mkdir_p("/a/b");
		vput(create("/a/f"));
	}
	return 0;
}

/* ---- paths ---------------------------------------------------------------------------- */

static void test_path_forms(void **state)
{
	char longname[DM_FILENAME_MAX + 2];
	struct vnode *a = lookup("/a");

	(void)state;
	assert_int_equal(ino("/a/b"), ino("a/b"));
	assert_int_equal(ino("/a/b"), ino("//a///b//"));
	assert_int_equal(ino("/a/b"), ino("/a/./b/../b/."));
	assert_int_equal(ino("/"), ino("/.."));
	assert_int_equal(ino("/"), ino("/../../a/.."));
	assert_int_equal(lookup_err(root, ""), -ENOENT);
	assert_int_equal(lookup_err(root, "/nothing"), -ENOENT);
	assert_int_equal(lookup_err(root, "/nothing/.."), -ENOENT);
	assert_int_equal(lookup_err(root, "/a/f/x"), -ENOTDIR);
	assert_int_equal(lookup_err(root, "/a/f/"), -ENOTDIR);
	assert_int_equal(lookup_err(root, "/a/f/.."), -ENOTDIR);
	assert_int_equal(lookup_err(root, "/a/b/"), 0);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(lookup_err(root, longname), -ENAMETOOLONG);
	longname[DM_FILENAME_MAX] = 0;
	assert_int_equal(lookup_err(root, longname), -ENOENT);
	/* relative to a working directory */
	assert_int_equal(lookup_err(a, "b"), 0);
	assert_int_equal(lookup_err(a, "f"), 0);
	assert_int_equal(lookup_err(a, "../a/b"), 0);
	assert_int_equal(lookup_err(a, "b/../../a/f"), 0);
	vput(a);
}

static void test_path_parent(void **state)
{
	struct path_last last;
	struct vnode *dir;

	(void)state;
	assert_int_equal(path_parent(root, "/a/b/new", &dir, &last), 0);
	assert_string_equal(last.name, "new");
	assert_false(last.slash);
	assert_int_equal(dir->ino, ino("/a/b"));
	vput(dir);
	assert_int_equal(path_parent(root, "/a/b//", &dir, &last), 0);
	assert_string_equal(last.name, "b");
	assert_true(last.slash);
	vput(dir);
	assert_int_equal(path_parent(root, "//", &dir, &last), 0);
	assert_string_equal(last.name, "");
	assert_ptr_equal(dir, root);
	vput(dir);
	assert_int_equal(path_parent(root, "/a/..", &dir, &last), 0);
	assert_string_equal(last.name, "..");
	vput(dir);
	assert_int_equal(path_parent(root, "/a/f/x", &dir, &last), -ENOTDIR);
	assert_int_equal(path_parent(root, "/nothing/x", &dir, &last), -ENOENT);
}

static void test_mounts(void **state)
{
	struct vfs *m = ramfs_new(1 << 16);     /* the mount table keeps it */
	struct vnode *tmp = lookup("/tmp"), *mnt, *up;

	(void)state;
	assert_true(path_is_mount_root(tmp));
	assert_ptr_not_equal(tmp->fs, root->fs);
	assert_int_equal(ino("/tmp/.."), root->ino);
	assert_string_equal(path_mount_in(root, 0), "tmp");
	assert_null(path_mount_in(root, 1));
	/* a mount point that exists in the directory below, deeper in the tree */
	assert_int_equal(vfs_mount("/a/b", m), 0);
	mnt = lookup("/a/b");
	assert_ptr_equal(mnt, m->root);
	assert_int_equal(path_lookup(mnt, "..", &up), 0);
	assert_int_equal(up->ino, ino("/a"));
	assert_ptr_equal(up->fs, root->fs);
	vput(up);
	assert_int_equal(vfs_mount("/a/b", m), -EBUSY);
	assert_int_equal(vfs_mount("/nothing/x", m), -ENOENT);
	assert_int_equal(vfs_mount("relative", m), -EINVAL);
	assert_int_equal(vfs_mount("/", m), -EBUSY);
	vput(mnt);
	vput(tmp);
}

static void test_path_name(void **state)
{
	char buf[DM_PATH_MAX];
	struct vnode *d, *dir;

	(void)state;
	mkdir_p("/n");
	mkdir_p("/n/deep");
	d = lookup("/n/deep");
	assert_int_equal(path_name(d, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "/n/deep");
	assert_int_equal(path_name(root, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "/");
	assert_int_equal(path_name(d, buf, 7), -ERANGE);
	/* renamed: found where it is now */
	assert_int_equal(root->fs->ops->rename(root, "n", root, "m"), 0);
	assert_int_equal(path_name(d, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "/m/deep");
	/* across a mount */
	struct vnode *t = lookup("/tmp");
	assert_int_equal(t->fs->ops->mkdir(t, "x", 0755), 0);
	struct vnode *x = lookup("/tmp/x");
	assert_int_equal(path_name(x, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "/tmp/x");
	/* removed */
	assert_int_equal(t->fs->ops->rmdir(t, "x"), 0);
	assert_int_equal(path_name(x, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(lookup_err(x, ".."), -ENOENT);
	assert_int_equal(x->fs->ops->create(x, "y", 0644, false, &dir), -ENOENT);
	vput(x);
	vput(t);
	vput(d);
}

/* ---- ramfs -------------------------------------------------------------------------------- */

static void test_ramfs_data(void **state)
{
	struct vfs *fs = keep(ramfs_new(4 * 4096));
	struct vnode *r = fs->root, *f;
	struct dm_stat st;
	char buf[9000], big[5 * 4096];

	(void)state;
	assert_int_equal(r->fs->ops->create(r, "f", 0600, true, &f), 0);
	assert_int_equal(r->fs->ops->create(r, "f", 0600, true, &f), -EEXIST);
	assert_int_equal(write_at(f, 0, "hello", 5), 5);
	assert_int_equal(write_at(f, 8190, "xyz", 3), 3);       /* across a page boundary */
	assert_int_equal(f->fs->ops->getattr(f, &st), 0);
	assert_int_equal(st.size, 8193);
	assert_int_equal(st.blocks, 3 * 8);                     /* pages 0, 1 and 2 */
	assert_int_equal(read_at(f, 0, buf, sizeof(buf)), 8193);
	assert_memory_equal(buf, "hello\0\0", 7);
	assert_memory_equal(buf + 8190, "xyz", 3);
	assert_int_equal(read_at(f, 8193, buf, 10), 0);
	/* shrink into a page and grow again: zeros, not the old bytes */
	assert_int_equal(f->fs->ops->truncate(f, 2), 0);
	assert_int_equal(f->fs->ops->truncate(f, 6), 0);
	assert_int_equal(read_at(f, 0, buf, 10), 6);
	assert_memory_equal(buf, "he\0\0\0\0", 6);
	/* the space limit: 4 pages */
	memset(big, 'b', sizeof(big));
	assert_int_equal(write_at(f, 0, big, sizeof(big)), 4 * 4096);  /* what fits */
	assert_int_equal(write_at(f, 4 * 4096, big, 1), -EFBIG);
	assert_int_equal(f->fs->ops->truncate(f, 5 * 4096), -EFBIG);
	assert_int_equal(f->fs->ops->truncate(f, 0), 0);
	assert_int_equal(write_at(f, 0, big, 4 * 4096), 4 * 4096);      /* the space came back */
	vput(f);
	assert_int_equal(r->fs->ops->unlink(r, "f"), 0);
}

static void test_ramfs_unlink_open(void **state)
{
	struct vnode *t = lookup("/tmp"), *f, *g;
	struct dm_stat st;
	char buf[4];

	(void)state;
	assert_int_equal(t->fs->ops->create(t, "open", 0600, true, &f), 0);
	assert_int_equal(write_at(f, 0, "data", 4), 4);
	assert_int_equal(t->fs->ops->unlink(t, "open"), 0);
	assert_int_equal(t->fs->ops->lookup(t, "open", &g), -ENOENT);
	assert_int_equal(f->fs->ops->getattr(f, &st), 0);
	assert_int_equal(st.nlink, 0);
	assert_int_equal(read_at(f, 0, buf, 4), 4);
	assert_memory_equal(buf, "data", 4);
	vput(f);                                /* freed now: ASan would see a leak otherwise */
	vput(t);
}

static void test_ramfs_rename(void **state)
{
	struct vfs *fs = keep(ramfs_new(1 << 16));
	struct vnode *r = fs->root, *f, *d, *sub, *x;
	const struct vfs_ops *o = fs->ops;

	(void)state;
	assert_int_equal(o->create(r, "f", 0600, true, &f), 0);
	assert_int_equal(o->create(r, "g", 0600, true, &x), 0);
	vput(x);
	assert_int_equal(o->mkdir(r, "d", 0755), 0);
	assert_int_equal(o->mkdir(r, "e", 0755), 0);
	assert_int_equal(o->lookup(r, "d", &d), 0);
	assert_int_equal(o->mkdir(d, "sub", 0755), 0);
	assert_int_equal(o->lookup(d, "sub", &sub), 0);
	assert_int_equal(o->rename(r, "f", r, "g"), 0);         /* over a file: g is f now */
	assert_int_equal(o->lookup(r, "g", &x), 0);
	assert_ptr_equal(x, f);
	vput(x);
	assert_int_equal(o->lookup(r, "f", &x), -ENOENT);
	assert_int_equal(o->rename(r, "g", r, "g"), 0);
	assert_int_equal(o->rename(r, "d", sub, "x"), -EINVAL);
	assert_int_equal(o->rename(r, "d", d, "x"), -EINVAL);
	assert_int_equal(o->rename(r, "g", r, "e"), -EISDIR);
	assert_int_equal(o->rename(r, "e", r, "g"), -ENOTDIR);
	assert_int_equal(o->rename(r, "e", r, "d"), -ENOTEMPTY);
	assert_int_equal(o->rename(r, "nothing", r, "x"), -ENOENT);
	assert_int_equal(o->rename(r, "g", sub, "moved"), 0);   /* across directories */
	assert_int_equal(o->lookup(sub, "moved", &x), 0);
	assert_ptr_equal(x, f);
	vput(x);
	assert_int_equal(o->rename(r, "d", r, "e"), 0);         /* over an empty directory */
	assert_int_equal(o->lookup(sub, "..", &x), 0);
	assert_ptr_equal(x, d);
	vput(x);
	assert_int_equal(o->lookup(r, "e", &x), 0);
	assert_ptr_equal(x, d);
	vput(x);
	assert_int_equal(o->rmdir(r, "e"), -ENOTEMPTY);
	assert_int_equal(o->unlink(sub, "moved"), 0);
	assert_int_equal(o->rmdir(d, "sub"), 0);
	assert_int_equal(o->unlink(r, "e"), -EISDIR);
	assert_int_equal(o->rmdir(r, "e"), 0);
	vput(sub);
	vput(d);
	vput(f);
}

static void test_ramfs_readdir(void **state)
{
	struct vfs *fs = keep(ramfs_new(1 << 16));
	struct vnode *r = fs->root, *f;
	struct vfs_dirent de;
	uint64_t pos = 0, mid;
	char name[16];
	int n = 0;

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(fs->ops->create(r, name, 0600, true, &f), 0);
		vput(f);
	}
	assert_int_equal(fs->ops->readdir(r, &pos, &de), 1);
	assert_string_equal(de.name, ".");
	assert_int_equal(fs->ops->readdir(r, &pos, &de), 1);
	assert_string_equal(de.name, "..");
	assert_int_equal(fs->ops->readdir(r, &pos, &de), 1);
	assert_string_equal(de.name, "f0");
	mid = pos;
	assert_int_equal(fs->ops->unlink(r, "f0"), 0);  /* positions survive removals */
	assert_int_equal(fs->ops->unlink(r, "f1"), 0);
	pos = mid;
	while (fs->ops->readdir(r, &pos, &de) == 1)
		assert_int_equal(de.name[1] - '0', 2 + n++);
	assert_int_equal(n, 3);
	for (int i = 2; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(fs->ops->unlink(r, name), 0);
	}
}

/* ---- locks ---------------------------------------------------------------------------------- */

static struct vfs_lock L(int type, int pid, uint64_t start, uint64_t end)
{
	return (struct vfs_lock){ type, pid, start, end };
}

static void test_lockf(void **state)
{
	struct lockf lf = { NULL };
	struct vfs_lock q, l;
	int blocker = 0;

	(void)state;
	l = L(DM_F_WRLCK, 1, 0, 100);
	assert_int_equal(lockf_set(&lf, &l, &blocker), 0);
	l = L(DM_F_RDLCK, 2, 50, 51);
	assert_int_equal(lockf_set(&lf, &l, &blocker), -EAGAIN);
	assert_int_equal(blocker, 1);
	q = L(DM_F_RDLCK, 2, 99, VFS_LOCK_EOF);
	lockf_get(&lf, &q);
	assert_int_equal(q.type, DM_F_WRLCK);
	assert_int_equal(q.pid, 1);
	assert_int_equal(q.start, 0);
	assert_int_equal(q.end, 100);
	q = L(DM_F_WRLCK, 1, 0, 10);            /* its own locks never conflict */
	lockf_get(&lf, &q);
	assert_int_equal(q.type, DM_F_UNLCK);
	/* a hole splits the lock in two */
	l = L(DM_F_UNLCK, 1, 40, 60);
	assert_int_equal(lockf_set(&lf, &l, &blocker), 0);
	l = L(DM_F_WRLCK, 2, 40, 60);
	assert_int_equal(lockf_set(&lf, &l, &blocker), 0);
	l = L(DM_F_WRLCK, 3, 39, 40);
	assert_int_equal(lockf_set(&lf, &l, &blocker), -EAGAIN);
	assert_int_equal(blocker, 1);
	l = L(DM_F_WRLCK, 3, 60, 61);
	assert_int_equal(lockf_set(&lf, &l, &blocker), -EAGAIN);
	/* read locks share; ranges of one owner and type merge */
	lockf_release(&lf, 1);
	lockf_release(&lf, 2);
	assert_false(lockf_any(&lf));
	l = L(DM_F_RDLCK, 1, 0, 10);
	assert_int_equal(lockf_set(&lf, &l, &blocker), 0);
	l = L(DM_F_RDLCK, 1, 10, 20);
	assert_int_equal(lockf_set(&lf, &l, &blocker), 0);
	assert_non_null(lf.head);
	assert_null(lf.head->next);             /* one range [0, 20) */
	assert_int_equal(lf.head->start, 0);
	assert_int_equal(lf.head->end, 20);
	l = L(DM_F_RDLCK, 2, 5, 15);
	assert_int_equal(lockf_set(&lf, &l, &blocker), 0);
	l = L(DM_F_WRLCK, 3, 19, 30);
	assert_int_equal(lockf_set(&lf, &l, &blocker), -EAGAIN);
	/* an upgrade of the owner's own range in the middle */
	l = L(DM_F_WRLCK, 1, 16, 18);
	assert_int_equal(lockf_set(&lf, &l, &blocker), 0);
	q = L(DM_F_RDLCK, 3, 16, 17);
	lockf_get(&lf, &q);
	assert_int_equal(q.type, DM_F_WRLCK);
	assert_int_equal(q.pid, 1);
	lockf_free(&lf);
}

static void test_lockf_deadlock(void **state)
{
	(void)state;
	assert_int_equal(lockf_wait_begin(1, 2), 0);    /* 1 waits for 2 */
	assert_int_equal(lockf_wait_begin(2, 3), 0);    /* 2 waits for 3 */
	assert_int_equal(lockf_wait_begin(3, 1), -EDEADLK);
	assert_int_equal(lockf_wait_begin(3, 4), 0);
	lockf_wait_end(2);
	assert_int_equal(lockf_wait_begin(2, 1), -EDEADLK);     /* 1 still waits for 2 */
	lockf_wait_end(1);
	assert_int_equal(lockf_wait_begin(2, 1), 0);
	lockf_wait_end(2);
	lockf_wait_end(3);
}

/* ---- descriptor tables ------------------------------------------------------------------------ */

static void test_fd_table(void **state)
{
	struct fdtable *t = fd_table();
	struct vnode *vn = lookup("/a/f");
	struct file *f;
	int fd;

	(void)state;
	assert_non_null(fd_get(t, 0));
	assert_int_equal(fd_get(t, 0)->vn->type, VN_CHR);
	assert_null(fd_get(t, -1));
	assert_null(fd_get(t, DM_OPEN_MAX));
	assert_int_equal(file_open(vn, DM_O_RDWR, &f), 0);
	fd = fd_free(t, 0);
	assert_int_equal(fd, 3);
	fd_install(t, fd, f, false);
	assert_int_equal(fd_free(t, 0), 4);
	assert_int_equal(fd_free(t, 10), 10);
	fd_install(t, 4, file_get(f), false);       /* dup */
	assert_int_equal(f->refs, 2);
	/* a child gets 0..2 (the same files) and the working directory, not 3 */
	procs[2].pid = 2;
	files_spawn(&procs[2]);
	current = &procs[2];
	assert_ptr_equal(fd_get(fd_table(), 1), fd_get(t, 1));
	assert_null(fd_get(fd_table(), 3));
	assert_ptr_equal(fd_table()->cwd, t->cwd);
	files_exit();
	current = &procs[1];
	assert_int_equal(f->refs, 2);
	/* locks go with any close of the file */
	struct vfs_lock l = { DM_F_WRLCK, current->pid, 0, 10 }, q = { DM_F_WRLCK, 9, 0, 1 };
	assert_int_equal(vn->fs->ops->setlk(vn, &l, false), 0);
	assert_int_equal(fd_close(t, 4), 0);
	assert_int_equal(f->refs, 1);
	assert_int_equal(vn->fs->ops->getlk(vn, &q), 0);
	assert_int_equal(q.type, DM_F_UNLCK);
	assert_int_equal(fd_close(t, 4), -EBADF);
	assert_int_equal(fd_close(t, 3), 0);
	while ((fd = fd_free(t, 0)) >= 0)
		fd_install(t, fd, file_get(fd_get(t, 1)), false);
	assert_int_equal(fd, -EMFILE);
	for (fd = 3; fd < DM_OPEN_MAX; fd++)
		assert_int_equal(fd_close(t, fd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_path_forms, setup),
		cmocka_unit_test_setup(test_path_parent, setup),
		cmocka_unit_test_setup(test_mounts, setup),
		cmocka_unit_test_setup(test_path_name, setup),
		cmocka_unit_test_setup(test_ramfs_data, setup),
		cmocka_unit_test_setup(test_ramfs_unlink_open, setup),
		cmocka_unit_test_setup(test_ramfs_rename, setup),
		cmocka_unit_test_setup(test_ramfs_readdir, setup),
		cmocka_unit_test_setup(test_lockf, setup),
		cmocka_unit_test_setup(test_lockf_deadlock, setup),
		cmocka_unit_test_setup(test_fd_table, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
