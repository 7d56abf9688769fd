/*
 * The pool: shared emulated CXL memory, seen by every node through the
 * ivshmem BAR and by host tools as a file. This header is the contract for
 * what lives in it; tools/dmoslib/pool.py reads the same layout.
 *
 * Layout (pool addresses, i.e. offsets into the pool window):
 *   0                 superblock (one page): magic, version, geometry, cluster id
 *   node_table_off    node table: MAX_NODES entries of one cache line each
 *   data_off          data frames
 *
 * Every structure stores pool addresses, never a node's pointers. Whoever
 * arrives first at an all-zero pool formats it, writing the magic last.
 */
#ifndef KERNEL_POOL_H
#define KERNEL_POOL_H

#include <stdint.h>
#include <stdbool.h>
#include "kernel/param.h"

#define POOL_MAGIC   0x4C4F4F50534F4D44ULL      /* "DMOSPOOL" */
#define POOL_VERSION 1

struct pool_super {
	uint64_t magic;                 /* written last by the formatter */
	uint32_t version;
	uint32_t format_claim;          /* 0, or formatter's node id + 1 */
	uint64_t pool_size;             /* bytes */
	uint64_t region_size;           /* bytes */
	uint32_t max_nodes;
	uint32_t expected_nodes;        /* cluster size given to the formatter */
	char cluster_id[CLUSTER_ID_MAX];
	uint64_t node_table_off;
	uint64_t data_off;
	uint64_t reserved;
};

enum node_state {
	NODE_ABSENT = 0,                /* never joined */
	NODE_JOINING = 1,               /* taking its slot */
	NODE_UP = 2,                    /* a member, heart beating */
	NODE_HALTED = 3,                /* stopped on a fatal kernel error */
	NODE_DEAD = 4,                  /* declared dead by the others */
};

/* One node-table entry: one cache line, written only by its node. */
struct pool_node {
	uint32_t state;                 /* enum node_state */
	uint32_t node_id;
	uint64_t epoch;                 /* +1 every time the node joins */
	uint64_t heartbeat;             /* advanced from the node's timer tick */
	uint64_t local_mem;             /* bytes of local RAM */
	uint64_t reserved[4];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct pool_super) == 96, "pool_super layout is part of the pool format");
_Static_assert(sizeof(struct pool_node) == 64, "a node-table entry is one cache line");

/* What a node knows about the pool it is attached to. */
struct pool {
	volatile struct pool_super *super;
	volatile struct pool_node *nodes;
	uint64_t size;
	bool joined;
};
extern struct pool pool;

/**
 * pool_attach - take the pool at [base, base+size): format it if it is
 * empty and nobody else is formatting it, or check it is ours
 * Context: boot, interrupts on (it may wait for another node's format).
 * Return: 0, or a negative errno with the reason already printed.
 */
int pool_attach(void *base, uint64_t size);

/* Take this node's slot in the node table and become NODE_UP. */
int pool_join(void);

/* Advance this node's heartbeat; called from the timer tick. */
void pool_heartbeat(void);

/* Mark this node halted (fatal error path: touches only its own slot). */
void pool_mark_halted(void);

/* Wait until every expected node is up, then print the membership line. */
void pool_wait_cluster(void);

/* Find the ivshmem device, map its BAR2 and attach and join. */
int pool_init(void);

const char *node_state_name(uint32_t state);

#endif
