/*
 * The harness of the page cache tests (test_pcache.c: one node at a time;
 * test_pcache_race.c: many nodes at once) of fs/pcache.c. The area is one
 * shared allocation; each pthread plays one node with its own struct
 * pcache, as the kernels of a cluster do. The disk is an array of blocks
 * that counts reads and writes per block; the pool page allocator is a
 * fixed array of pages that counts what is in use and poisons what is
 * freed, so a page used after its eviction shows a wrong stamp.
 */
#ifndef TESTS_UNIT_PCACHE_ENV_H
#define TESTS_UNIT_PCACHE_ENV_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/pcache.h"
#include "kernel/errno.h"

#define BLK     PCACHE_BLOCK
#define WORDS   (BLK / 8)
#define NBLK    2048                    /* disk blocks */
#define NPAGES  1100                    /* pool pages of the fake allocator */
#define POISON  0xddddddddddddddddULL

/* The disk and the pool, shared by every node. */
struct env {
	uint64_t (*disk)[WORDS];
	int reads[NBLK], writes[NBLK], inflight[NBLK];
	uint64_t last_word0[NBLK];      /* first word of the last write of a block */
	int bad_writes;                 /* overlapping or out-of-order writes of a block */
	uint64_t fail_tag;              /* read of this tag + 1 fails with -EIO (0: none) */
	int read_delay_us, write_delay_us;
	uint64_t (*pages)[WORDS];
	int used[NPAGES];
	int inuse, limit, hint, bad_frees;
	int alive[MAX_NODES];
};

/* One node's view: the ops' ctx. */
struct node {
	struct env *e;
	struct pcache pc;
	uint16_t *local_pins;
	void *bounce;
	uint64_t hang_read, hang_write; /* tag + 1 whose read / write never returns */
	int hung;                       /* 1: hangs there; 2: finished without */
	int die;                        /* the test says: stop dead */
	jmp_buf death;                  /* where a node that stops dead leaves to */
};

/* The ops every node attaches with; its ctx is the struct node. */
extern const struct pcache_ops ops;

/* The disk block of @tag, and the stamp every word of it starts with. */
uint32_t blk_of(uint64_t tag);
uint64_t disk_stamp(uint32_t b);

/* Fill the block at @p with @v; is every word of it @v? */
void stamp(void *p, uint64_t v);
bool stamped(const void *p, uint64_t v);

/* The allocator's free, called by hand (@ctx: a struct node). */
void f_free(void *ctx, uint64_t ppn);

/* A disk of stamped blocks and a pool that hands out at most @limit pages. */
struct env *env_new(int limit);
void env_free(struct env *e);

/* The end of a test: every page given back exactly once, then free it all. */
void env_done(struct env *e, void *area);

/* A formatted area of @nsets sets, on top of garbage. */
void *area_new(uint32_t nsets);

/* Node @id attached to @area, with its own pins and bounce buffer. */
void node_init(struct node *n, struct env *e, void *area, int id);
void node_fini(struct node *n);

/* The pool page whose bytes are at @data. */
uint64_t ppn_of(struct env *e, const void *data);

uint64_t now_ms(void);

#endif
