/*
 * Byte-range locks of node-local files (see lockf.h): a list of ranges
 * per file, unsorted (files hold few locks), and a table of who waits for
 * whom on this node.
 */
#include "kernel/kernel.h"
#include "mm/mm.h"
#include "fs/lockf.h"

static const struct lockf_range *conflict(const struct lockf *lf, const struct vfs_lock *lk)
{
	for (const struct lockf_range *r = lf->head; r; r = r->next)
		if (lockf_conflicts(r->pid, r->type, r->start, r->end, lk))
			return r;
	return NULL;
}

void lockf_get(const struct lockf *lf, struct vfs_lock *lk)
{
	const struct lockf_range *r = conflict(lf, lk);

	if (!r) {
		lk->type = DM_F_UNLCK;
		return;
	}
	lk->type = r->type;
	lk->pid = r->pid;
	lk->start = r->start;
	lk->end = r->end;
}

/* Take pid's ranges out of [start, end); spare is used (and set NULL) for a split. */
static void cut(struct lockf *lf, int pid, uint64_t start, uint64_t end, struct lockf_range **spare)
{
	for (struct lockf_range **pp = &lf->head, *r; (r = *pp);) {
		uint64_t tail_end;

		switch (r->pid == pid ? lockf_cut(&r->start, &r->end, start, end, &tail_end) : LOCKF_KEEP) {
		case LOCKF_SPLIT: {
			struct lockf_range *tail = *spare;
			*spare = NULL;
			*tail = (struct lockf_range){ r->next, end, tail_end, r->type, pid };
			r->next = tail;
			return;         /* nothing else of pid's can overlap: its ranges are disjoint */
		}
		case LOCKF_GONE:
			*pp = r->next;
			kfree(r);
			continue;
		default:
			pp = &r->next;
		}
	}
}

int lockf_set(struct lockf *lf, const struct vfs_lock *lk, int *blocker)
{
	struct lockf_range *add = NULL, *spare = NULL;
	const struct lockf_range *c;

	if (lk->start >= lk->end)
		return 0;
	if (lk->type != DM_F_UNLCK && (c = conflict(lf, lk))) {
		*blocker = c->pid;
		return -EAGAIN;
	}
	bool split = false;     /* one of the owner's ranges holds the new one inside it */
	for (const struct lockf_range *r = lf->head; r; r = r->next)
		split |= r->pid == lk->pid && lockf_splits(r->start, r->end, lk->start, lk->end);
	if ((lk->type != DM_F_UNLCK && !(add = kmalloc(sizeof(*add)))) ||
	    (split && !(spare = kmalloc(sizeof(*spare))))) {
		kfree(add);
		return -ENOLCK;
	}
	cut(lf, lk->pid, lk->start, lk->end, &spare);
	kfree(spare);
	if (!add)
		return 0;
	*add = (struct lockf_range){ NULL, lk->start, lk->end, lk->type, lk->pid };
	/* merge with the owner's ranges of the same type that touch it */
	for (struct lockf_range **pp = &lf->head, *r; (r = *pp);) {
		if (r->pid == lk->pid && r->type == add->type &&
		    lockf_touches(r->start, r->end, add->start, add->end)) {
			add->start = MIN(add->start, r->start);
			add->end = MAX(add->end, r->end);
			*pp = r->next;
			kfree(r);
			continue;
		}
		pp = &r->next;
	}
	add->next = lf->head;
	lf->head = add;
	return 0;
}

void lockf_release(struct lockf *lf, int pid)
{
	for (struct lockf_range **pp = &lf->head, *r; (r = *pp);) {
		if (r->pid == pid) {
			*pp = r->next;
			kfree(r);
		} else {
			pp = &r->next;
		}
	}
}

void lockf_free(struct lockf *lf)
{
	while (lf->head) {
		struct lockf_range *r = lf->head;
		lf->head = r->next;
		kfree(r);
	}
}

/* ---- who waits for whom ---------------------------------------------------------- */

static struct { int pid, blocker; } waits[LOCKF_WAITERS];

static int waits_for(int pid)
{
	for (int i = 0; i < LOCKF_WAITERS; i++)
		if (waits[i].pid == pid)
			return waits[i].blocker;
	return 0;
}

int lockf_wait_begin(int pid, int blocker)
{
	int free = -1;

	/* a chain of waits is at most as long as the table */
	for (int b = blocker, n = 0; b && n <= LOCKF_WAITERS; b = waits_for(b), n++)
		if (b == pid)
			return -EDEADLK;
	for (int i = 0; i < LOCKF_WAITERS; i++) {
		if (waits[i].pid == pid) {
			waits[i].blocker = blocker;
			return 0;
		}
		if (!waits[i].pid && free < 0)
			free = i;
	}
	if (free < 0)
		return -ENOLCK;
	waits[free].pid = pid;
	waits[free].blocker = blocker;
	return 0;
}

void lockf_wait_end(int pid)
{
	for (int i = 0; i < LOCKF_WAITERS; i++)
		if (waits[i].pid == pid)
			waits[i].pid = waits[i].blocker = 0;
}
