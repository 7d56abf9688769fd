/*
 * The cluster's table of record locks (see locktab.h): fs/lockf.h's rules
 * over the slots of a table in the pool. Files hold few locks, so every
 * operation scans the whole table; entries are written one word at a
 * time, each flushed, under the lease the caller holds.
 */
#if __STDC_HOSTED__
#include <errno.h>
#include <string.h>
#else
#include "kernel/kernel.h"
#endif
#include "kernel/cluster/poolsys.h"
#include "fs/locktab.h"
#include "fs/lockf.h"

static bool held(const struct locktab_ent *e)
{
	return e->kind == LT_READ || e->kind == LT_WRITE;
}

static bool waiting(const struct locktab_ent *e)
{
	return e->kind == LT_WAIT_READ || e->kind == LT_WAIT_WRITE;
}

/* The lock type (DM_F_RDLCK, DM_F_WRLCK) of a used entry. */
static int type_of(const struct locktab_ent *e)
{
	return (int)(e->kind - (held(e) ? LT_READ : LT_WAIT_READ));
}

static bool mine(const struct locktab *t, int32_t pid)
{
	return locktab_pid_node(pid) == t->node;
}

/* Is entry e, held, in the way of lk on file? */
static bool blocks(const struct locktab_ent *e, uint64_t file, const struct vfs_lock *lk)
{
	return held(e) && e->file == file &&
	       lockf_conflicts(e->pid, type_of(e), e->start, e->end, lk);
}

static int conflict(const struct locktab *t, uint64_t file, const struct vfs_lock *lk)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (blocks(&t->ent[i], file, lk))
			return (int)i;
	return -1;
}

/* Take a free slot for a range: its words first, the kind that publishes it last. */
static void put(struct locktab *t, uint32_t i, uint64_t file, uint64_t start, uint64_t end,
		int32_t pid, uint32_t kind)
{
	struct locktab_ent *e = &t->ent[i];

	e->file = file;
	e->start = start;
	e->end = end;
	e->pid = pid;
	__atomic_store_n(&e->kind, kind, __ATOMIC_RELEASE);
	pool_flush(e, sizeof(*e));
	t->mine += mine(t, pid);
}

static void drop(struct locktab *t, uint32_t i)
{
	struct locktab_ent *e = &t->ent[i];

	__atomic_store_n(&e->kind, LT_FREE, __ATOMIC_RELEASE);
	pool_flush(e, sizeof(*e));
	if (mine(t, e->pid) && t->mine)
		t->mine--;
}

static void changed(struct locktab *t)
{
	__atomic_add_fetch(&t->hdr->changes, 1, __ATOMIC_ACQ_REL);
	pool_flush(t->hdr, sizeof(*t->hdr));
}

/* A free slot from `from` on, or -1. */
static int free_slot(const struct locktab *t, uint32_t from)
{
	for (uint32_t i = from; i < t->n; i++)
		if (t->ent[i].kind == LT_FREE)
			return (int)i;
	return -1;
}

static int wait_entry(const struct locktab *t, int pid)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (waiting(&t->ent[i]) && t->ent[i].pid == pid)
			return (int)i;
	return -1;
}

void locktab_attach(struct locktab *t, void *area, uint32_t n, int node)
{
	t->hdr = area;
	t->ent = (struct locktab_ent *)((uint8_t *)area + LOCKTAB_HDR_BYTES);
	t->n = n < LOCKTAB_MAX ? n : LOCKTAB_MAX;     /* never more: poolcheck refuses it */
	t->node = node;
	t->mine = 0;
}

void locktab_get(const struct locktab *t, uint64_t file, struct vfs_lock *lk)
{
	int c = conflict(t, file, lk);

	if (c < 0) {
		lk->type = DM_F_UNLCK;
		return;
	}
	lk->type = type_of(&t->ent[c]);
	lk->pid = t->ent[c].pid;
	lk->start = t->ent[c].start;
	lk->end = t->ent[c].end;
}

/* The waits-for graph, walked breadth first: each waiting entry queued once. */
struct walk {
	uint8_t queued[LOCKTAB_MAX / 8];
	uint16_t queue[LOCKTAB_WAITERS];
	uint32_t head, tail;
};

/* Queue the wait of owner pid, if it waits (a process waits for one range at a time). */
static void follow(const struct locktab *t, struct walk *g, int32_t pid)
{
	for (uint32_t w = 0; w < t->n; w++) {
		if (!waiting(&t->ent[w]) || t->ent[w].pid != pid || (g->queued[w / 8] & (1u << (w % 8))))
			continue;
		if (g->tail < LOCKTAB_WAITERS) {
			g->queued[w / 8] |= (uint8_t)(1u << (w % 8));
			g->queue[g->tail++] = (uint16_t)w;
		}
		return;
	}
}

/*
 * Would lk->pid waiting for lk on file close a cycle? The graph's edges go
 * from a waiting entry to every owner holding a range in its way, found
 * afresh (never a stale record of who was in the way when it began to
 * wait), starting from the owners in lk's way.
 */
static bool deadlock(const struct locktab *t, uint64_t file, const struct vfs_lock *lk)
{
	struct walk g;

	memset(&g, 0, sizeof(g));
	for (uint32_t i = 0; i < t->n; i++)
		if (blocks(&t->ent[i], file, lk))
			follow(t, &g, t->ent[i].pid);
	while (g.head < g.tail) {
		const struct locktab_ent *w = &t->ent[g.queue[g.head++]];
		struct vfs_lock want = { type_of(w), w->pid, w->start, w->end };

		for (uint32_t i = 0; i < t->n; i++) {
			if (!blocks(&t->ent[i], w->file, &want))
				continue;
			if (t->ent[i].pid == lk->pid)
				return true;
			follow(t, &g, t->ent[i].pid);
		}
	}
	return false;
}

/* Record (or update) lk->pid as waiting for lk on file. Return: 0, -EDEADLK, -ENOLCK. */
static int wait_for(struct locktab *t, uint64_t file, const struct vfs_lock *lk)
{
	int w = wait_entry(t, lk->pid), waiters = 0;

	if (deadlock(t, file, lk)) {
		if (w >= 0)
			drop(t, (uint32_t)w);
		return -EDEADLK;
	}
	if (w >= 0) {
		struct locktab_ent *e = &t->ent[w];

		if (e->file == file && e->start == lk->start && e->end == lk->end &&
		    type_of(e) == lk->type)
			return 0;
		drop(t, (uint32_t)w);
	}
	for (uint32_t i = 0; i < t->n; i++)
		waiters += waiting(&t->ent[i]);
	if (waiters >= LOCKTAB_WAITERS || (w = free_slot(t, 0)) < 0)
		return -ENOLCK;
	put(t, (uint32_t)w, file, lk->start, lk->end, lk->pid, (uint32_t)(LT_WAIT_READ + lk->type));
	return 0;
}

int locktab_set(struct locktab *t, uint64_t file, const struct vfs_lock *lk, bool wait,
		int *blocker)
{
	uint64_t start = lk->start, end = lk->end;
	int c, w, room = 0, need = 0;
	bool cut = false;

	if (lk->start >= lk->end)
		return 0;
	if (lk->type != DM_F_UNLCK && (c = conflict(t, file, lk)) >= 0) {
		int err = wait ? wait_for(t, file, lk) : 0;

		*blocker = t->ent[c].pid;
		return err ? err : -EAGAIN;
	}
	/* room first, so that a full table changes nothing: a slot for the
	   new range, and one for the tail of a range it splits */
	w = wait_entry(t, lk->pid);
	for (uint32_t i = 0; i < t->n; i++) {
		const struct locktab_ent *e = &t->ent[i];

		room += e->kind == LT_FREE;
		need += held(e) && e->pid == lk->pid && e->file == file &&
			lockf_splits(e->start, e->end, start, end);
	}
	need += lk->type != DM_F_UNLCK;
	if (room + (w >= 0) < need)
		return -ENOLCK;
	if (w >= 0)
		drop(t, (uint32_t)w);           /* granted: it waits no more */
	for (uint32_t i = 0; i < t->n; i++) {
		struct locktab_ent *e = &t->ent[i];
		uint64_t tail_end;
		int s;

		if (!held(e) || e->pid != lk->pid || e->file != file)
			continue;
		switch (lockf_cut(&e->start, &e->end, start, end, &tail_end)) {
		case LOCKF_KEEP:
			continue;
		case LOCKF_GONE:
			drop(t, i);
			break;
		case LOCKF_SPLIT:
			s = free_slot(t, 0);    /* counted above */
			pool_flush(e, sizeof(*e));
			put(t, (uint32_t)s, file, end, tail_end, lk->pid, e->kind);
			break;
		case LOCKF_SHRUNK:
			pool_flush(e, sizeof(*e));
			break;
		}
		cut = true;
	}
	if (cut)
		changed(t);
	if (lk->type == DM_F_UNLCK)
		return 0;
	/* merge with the owner's ranges of the same type that touch it */
	for (uint32_t i = 0; i < t->n; i++) {
		struct locktab_ent *e = &t->ent[i];

		if (held(e) && e->pid == lk->pid && e->file == file && type_of(e) == lk->type &&
		    lockf_touches(e->start, e->end, start, end)) {
			start = e->start < start ? e->start : start;
			end = e->end > end ? e->end : end;
			drop(t, i);
		}
	}
	put(t, (uint32_t)free_slot(t, 0), file, start, end, lk->pid, (uint32_t)(LT_READ + lk->type));
	return 0;
}

void locktab_unwait(struct locktab *t, int pid)
{
	int w = wait_entry(t, pid);

	if (w >= 0)
		drop(t, (uint32_t)w);
}

uint32_t locktab_node_dead(struct locktab *t, int node)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->n; i++) {
		if (t->ent[i].kind != LT_FREE && locktab_pid_node(t->ent[i].pid) == node) {
			drop(t, i);
			n++;
		}
	}
	if (node == t->node)
		t->mine = 0;
	if (n)
		changed(t);
	return n;
}
