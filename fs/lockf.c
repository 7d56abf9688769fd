/*
 * Byte-range locks of node-local files (see lockf.h): a list of ranges
 * per file, unsorted (files hold few locks), and a table of who waits for
 * whom on this node.
 */
#include "kernel/kernel.h"
#include "mm/mm.h"
#include "fs/lockf.h"

static bool overlap(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 < e2 && s2 < e1;
}

static const struct lockf_range *conflict(const struct lockf *lf, const struct vfs_lock *lk)
{
	for (const struct lockf_range *r = lf->head; r; r = r->next)
		if (r->pid != lk->pid && overlap(r->start, r->end, lk->start, lk->end) &&
		    (r->type == DM_F_WRLCK || lk->type == DM_F_WRLCK))
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
		if (r->pid != pid || !overlap(r->start, r->end, start, end)) {
			pp = &r->next;
			continue;
		}
		if (r->start < start && r->end > end) {         /* split around the hole */
			struct lockf_range *tail = *spare;
			*spare = NULL;
			*tail = (struct lockf_range){ r->next, end, r->end, r->type, pid };
			r->end = start;
			r->next = tail;
			return;         /* nothing else of pid's can overlap: its ranges are disjoint */
		}
		if (r->start < start) {
			r->end = start;
		} else if (r->end > end) {
			r->start = end;
		} else {
			*pp = r->next;
			kfree(r);
			continue;
		}
		pp = &r->next;
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
		split |= r->pid == lk->pid && r->start < lk->start && r->end > lk->end;
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
		    (r->end == add->start || r->start == add->end)) {
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
