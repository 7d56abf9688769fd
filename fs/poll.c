/*
 * poll(): which of a process's descriptors are ready, waiting until one is
 * or the timeout passes. Each file answers through its vnode's poll op
 * (fs/vfs.h): sockets (net/socket.c) and the console (fs/devcons.c) have
 * one; regular files and directories have none and are always ready.
 *
 * One wait channel serves every poller: a file system calls poll_wake()
 * when a file's readiness may have changed, and each poller looks at all
 * its descriptors again. A generation count, bumped by every poll_wake(),
 * closes the gap between looking and sleeping: a poller sleeps only if no
 * wake came since it began to look (checked with interrupts off, since the
 * console's input arrives in the timer tick).
 */
#include "kernel/kernel.h"
#include "arch/arch.h"
#include "sched/sched.h"
#include "mm/mm.h"
#include "userland/include/dm_abi.h"
#include "fs/fs.h"
#include "fs/vfs.h"
#include "fs/file.h"

#define ASKABLE (DM_POLLIN | DM_POLLPRI | DM_POLLOUT | DM_POLLRDNORM | DM_POLLWRNORM)

static volatile uint64_t generation;   /* bumped by every poll_wake() */
static int pollers;                     /* processes sleeping in poll(): the channel */

void poll_wake(void)
{
	generation++;
	if (pollers)
		sched_wakeup(&pollers);
}

/* The events of one descriptor that are ready, as poll() reports them. */
static int16_t revents(struct fdtable *t, const struct dm_pollfd *p)
{
	struct file *f;
	int want, ready;

	if (p->fd < 0)
		return 0;
	if (!(f = fd_get(t, p->fd)))
		return DM_POLLNVAL;
	want = p->events & ASKABLE;
	if (want & DM_POLLRDNORM)
		want |= DM_POLLIN;
	if (want & DM_POLLWRNORM)
		want |= DM_POLLOUT;
	ready = f->vn->fs->ops->poll ? f->vn->fs->ops->poll(f->vn, want)
				     : DM_POLLIN | DM_POLLOUT;
	if (ready & DM_POLLIN)
		ready |= DM_POLLRDNORM;
	if (ready & DM_POLLOUT)
		ready |= DM_POLLWRNORM;
	return (int16_t)(ready & (want | DM_POLLERR | DM_POLLHUP));
}

/* poll(fds, n, timeout_ms): timeout_ms < 0 waits for ever, 0 not at all. */
int64_t sys_poll(SYSFILE_ARGS)
{
	struct dm_pollfd *fds = NULL;
	uint64_t n = (uint32_t)b, bytes = n * sizeof(*fds), deadline = 0;
	int timeout = (int)c, ready = 0;

	if (n > DM_POLL_MAX)
		return -EINVAL;
	if (n && !(fds = kmalloc(bytes)))
		return -ENOMEM;
	if (n && copy_from_user(&current->vm, fds, a, bytes)) {
		kfree(fds);
		return -EFAULT;
	}
	if (timeout > 0)
		deadline = arch_time_ns() + (uint64_t)timeout * 1000000;
	for (;;) {
		uint64_t gen = generation;

		ready = 0;
		for (uint64_t i = 0; i < n; i++)
			if ((fds[i].revents = revents(fd_table(), &fds[i])))
				ready++;
		if (ready || !timeout || (deadline && arch_time_ns() >= deadline))
			break;
		uint64_t flags = arch_irq_save();
		bool asleep = gen == generation && !proc_interrupted(current);
		if (asleep) {
			pollers++;
			sched_sleep(&pollers, deadline);
			pollers--;
		}
		arch_irq_restore(flags);
		if (proc_interrupted(current)) {
			kfree(fds);
			return -EINTR;
		}
	}
	int err = n ? copy_to_user(&current->vm, a, fds, bytes) : 0;
	kfree(fds);
	return err ? err : ready;
}
