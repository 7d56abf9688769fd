/*
 * The harness of the translation unit tests (test_xlate.c: moves and
 * drains; test_xlate_fail.c: region failure). The pool device is a plain
 * array of 4 KiB device frames; the mover's copy callback memcpy's between
 * them. Worker threads play nodes: they map a page by publishing it (a
 * hazard word), resolving it, and only then touching its frame, and the
 * shootdown callback waits until no worker maps the block; that is what a
 * TLB shootdown with acks does between kernels. Every shootdown and copy is
 * logged, and check_log() checks their order.
 */
#ifndef TESTS_UNIT_XLATE_ENV_H
#define TESTS_UNIT_XLATE_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/palloc.h"
#include "mm/xlate.h"
#include "kernel/errno.h"

#define FRAME 4096
#define NPAGES 8192                     /* 32 MiB pool */
#define REGION 2048                     /* 8 MiB regions: 4 of them */
#define WORKERS 3
#define SC __ATOMIC_SEQ_CST

enum { EV_SHOOT = 1, EV_COPY };

struct event {
	int kind;
	uint64_t a, b, n;               /* SHOOT: ppn, its dfn, pages; COPY: src, dst, pages */
};

struct env {
	struct xlate_geom xg;
	void *xmeta, *pmeta;
	size_t xsize, psize;
	uint8_t *dev;                   /* the pool device: NPAGES frames */
	struct palloc pa;               /* node 3: the drainer */
	struct xlate_mover mv;
	struct event log[4 * NPAGES];
	int nlog;
	int fail_shootdown;             /* shootdown returns this */
	int (*in_shootdown)(struct env *e, uint64_t ppn);
	uint64_t hazard[WORKERS];       /* ppn + 1 a worker is about to map */
	uint64_t mapped[WORKERS];       /* ppn + 1 a worker has mapped */
	long copied_while_mapped;
	long out_of_order;              /* a copy not right after its shootdown */
	int hook_ret;                   /* what a drain inside a hook returned */
};

/* A pool of NPAGES frames in REGION-frame regions, translated at 2^gshift
 * pages a block; node 3's allocator handle; every frame filled with its own
 * byte pattern. */
struct env *env_new(uint32_t gshift);
void env_free(struct env *e);

/* Region of the frames that back pool page @ppn. */
uint32_t region_of(struct env *e, uint64_t ppn);

/* Shootdown before copy (see the definition); @shots: shootdowns of one
 * mover (0: do not count). */
void check_log(struct env *e, uint64_t moves, uint64_t G, bool one, int shots);

/* Fill pool page @p (through the table) with a pattern from @tag; is it there? */
void stamp(struct env *e, uint64_t p, uint64_t tag);
bool stamped(struct env *e, uint64_t p, uint64_t tag);

#endif
