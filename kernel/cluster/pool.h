/*
 * The pool: shared emulated CXL memory, seen by every node through the
 * ivshmem BAR and by host tools as a file. This header is the contract for
 * what lives in it; tools/dmoslib/pool.py reads the same layout.
 *
 * Layout (offsets into the pool device, i.e. the BAR):
 *   0                 superblock (one page): magic, version, geometry, cluster id
 *   node_table_off    node table: MAX_NODES entries of one cache line each
 *   lease_off         leases (kernel/cluster/lease.h), one cache line each
 *   ring_off          message rings, one per direction per pair (kernel/cluster/ring.h)
 *   seg_off           shared segments: name, pages, attachments per node (mm/seg.h)
 *   futex_off         futex waiters of the whole cluster (sched/futex.c)
 *   proc_off          every node's processes, for ps (sched/remote.c)
 *   lock_off          record locks of dmosfs files, held and waited for (fs/locktab.h)
 *   port_off          the cluster IP's port table: listeners, members, bucket owners,
 *                     claims of new connections (net/porttab.h)
 *   xlate_off         translation table and region table (mm/xlate.h)
 *   palloc_off        pool page allocator: chunks, bitmaps, owners (mm/palloc.h)
 *   pcache_off        the page cache index of the cluster file system (fs/pcache.h)
 *   data_off          device frames, 2 MiB aligned, npages of them
 *
 * Kernels name pool memory by pool address (ppn * 4096); translation says
 * which device frame holds each pool page, so frames can move under them.
 *
 * Every structure stores pool addresses, never a node's pointers. Whoever
 * arrives first at an all-zero pool formats it, writing the magic last.
 *
 * Who owns which area. This file and pool.c know the layout; every area
 * past the node table has one owner, the only code that touches it. Once
 * the pool is attached, pool_init() hands each owner its area's address in
 * this node's window, with one call, before the node joins; the owner
 * keeps the pointer in a static of its own and the rest of the kernel
 * goes through the owner's functions:
 *   leases         pool.c itself: pool_lease(i), used with lease.h
 *   ring mesh      msg.c (msg_attach_pool), through ring.h; others send
 *                  with the msg_* calls of msg.h
 *   segments       mm/seg.c (seg_attach_pool); others use mm/seg.h
 *   futex waiters  sched/futex.c (futex_attach_pool); others use sched/futex.h
 *   processes      sched/remote.c (remote_attach_pool); others use sched/remote.h
 *   record locks   fs/clusterlk.c (clusterlk_attach_pool), through fs/locktab.h;
 *                  others lock files with fcntl, through the VFS
 *   port table     net/vip.c (vip_attach_pool; vip_format_pool formats it),
 *                  through net/porttab.h; others listen with vip_listen
 *   translation    mm/pmem.c (pmem_attach_pool); others hand pmem_xlate()
 *                  to mm/xlate.h's calls
 *   device frames  mm/pmem.c too; others use mm/pmem.h
 *   allocator      palloc_attach() here; pool.palloc is the node's handle
 *   page cache     fs/dmosfs.c (dmosfs_attach_pool), through fs/pcache.h;
 *                  others read its files through the VFS
 * struct pool below holds only what is the cluster layer's own: the
 * superblock, the node table and this node's membership.
 */
#ifndef KERNEL_CLUSTER_POOL_H
#define KERNEL_CLUSTER_POOL_H

#include <stdint.h>
#include <stdbool.h>
#include "kernel/param.h"
#include "fs/pcache.h"

#define POOL_MAGIC   0x4C4F4F50534F4D44ULL      /* "DMOSPOOL" */
#define POOL_VERSION 5        /* 2: control areas for leases, rings, segments, futexes,
				 processes; 3: the page cache index; 4: record locks;
				 5: the cluster IP's port table */

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
	/* the control state, each area 64-byte aligned */
	uint64_t lease_off;
	uint32_t nleases;
	uint32_t ring_slots;            /* messages per ring */
	uint64_t ring_off;
	uint64_t ring_size;             /* bytes of the whole mesh */
	uint64_t xlate_off;
	uint64_t xlate_size;
	uint64_t palloc_off;
	uint64_t palloc_size;
	uint64_t npages;                /* pool pages = device frames of data */
	uint32_t gshift;                /* translation granularity: 2^gshift pages */
	uint32_t chunk_pages;           /* pages per allocator chunk */
	uint32_t region_pages;          /* device frames per region */
	uint32_t dead_after_ms;         /* no heartbeat this long: declared dead */
	uint64_t seg_off;               /* shared segment table (mm/seg.h) */
	uint32_t nsegs;
	uint32_t nfutex;
	uint64_t futex_off;             /* cluster-wide futex wait table (sched/futex.c) */
	uint64_t proc_off;              /* cluster process table: MAX_NODES x procs_per_node */
	uint32_t procs_per_node;        /* entries of 64 bytes (struct dm_proc) per node */
	uint32_t pad;
	uint64_t pcache_off;            /* the page cache index (fs/pcache.h) */
	uint64_t pcache_size;           /* bytes of it: pcache_area_size(pcache_nsets) */
	uint32_t pcache_nsets;          /* sets of PCACHE_WAYS slots: pool_pcache_sets(npages) */
	uint32_t pad2;
	uint64_t lock_off;              /* the table of record locks (fs/locktab.h) */
	uint32_t nlocks;                /* its entries: locktab_area_size(nlocks) bytes */
	uint32_t pad3;
	uint64_t port_off;              /* the cluster IP's port table (net/porttab.h) */
	uint32_t nports;                /* its listener entries */
	uint32_t nsvcs;                 /* and services: porttab_area_size(nports, nsvcs,
					   POOL_NCLAIM_SETS) bytes with the claims */
};

enum node_state {
	NODE_ABSENT = 0,                /* never joined */
	NODE_JOINING = 1,               /* taking its slot */
	NODE_UP = 2,                    /* a member, heart beating */
	NODE_HALTED = 3,                /* stopped on a fatal kernel error */
	NODE_DEAD = 4,                  /* declared dead by the others */
};

/* One node-table entry: one cache line, written only by its node (and
 * link_down by the injector). */
struct pool_node {
	uint32_t state;                 /* enum node_state */
	uint32_t node_id;
	uint64_t epoch;                 /* +1 every time the node joins */
	uint64_t heartbeat;             /* advanced from the node's timer tick */
	uint64_t local_mem;             /* bytes of local RAM */
	int32_t doorbell;               /* ivshmem peer id to ring, -1: poll me */
	uint32_t dead_by;               /* 0, or node id + 1 of who declared it dead */
	uint64_t reclaimed;             /* pool pages taken back when it died */
	uint64_t link_down;             /* set by the fault injector (the fabric): this
					   node's link to the pool is down; read by the
					   node when the NMI that comes with it arrives */
	uint64_t reserved[1];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct pool_super) == 280, "pool_super layout is part of the pool format");
_Static_assert(sizeof(struct pool_node) == 64, "a node-table entry is one cache line");

struct palloc;
struct lease;

/*
 * What a node knows about the pool it is attached to: the superblock, the
 * node table and its own membership. The other areas are not here: each
 * belongs to one owner, which pool_init() hands it to once, when the pool
 * is attached (see the top of this file), and which alone reaches into it.
 */
struct pool {
	volatile struct pool_super *super;
	volatile struct pool_node *nodes;
	struct palloc *palloc;          /* this node's allocator handle */
	uint64_t size;
	int32_t doorbell;               /* our ivshmem peer id, -1: none */
	bool joined;
	bool lost;                      /* its link went down: the pool is gone for good */
};

#define POOL_NLEASES    64
#define POOL_RING_SLOTS 64
#define POOL_CHUNK_PAGES 512
#define POOL_NSEGS      64
#define POOL_SEG_BYTES  256     /* one segment-table entry */
#define POOL_NFUTEX     256
#define POOL_PROCS_PER_NODE 64
#define POOL_FUTEX_BYTES 32     /* one futex waiter */
#define POOL_NLOCKS     1024    /* record locks: ranges held or waited for, cluster-wide */
#define POOL_LEASE_SEGS 0       /* the lease that guards the segment table */
#define POOL_LEASE_LOCKS 1      /* the lease that guards the table of record locks */
#define POOL_LEASE_PORTS 2      /* the lease that guards the cluster IP's port table */
#define POOL_NPORTS     512     /* VIP listeners, cluster-wide: 8 per node of 64 */
#define POOL_NSVCS      64      /* (protocol, port)s listened on at the VIP at once */
#define POOL_NCLAIM_SETS 1024   /* claims of new VIP connections: 8192, 320 KiB; with
				   their 20 s life, 400 new connections a second */

/*
 * The page cache index has one set of PCACHE_WAYS (8) slots per
 * POOL_PAGES_PER_SET pool pages, rounded down to a power of two (the index
 * hashes into a power-of-two table). A slot holds at most one page, so the
 * cache can never hold more than half of the pool's pages, however busy
 * the file system is: programs always keep the other half, and the cache
 * needs no cluster-wide counter to stay under its limit (the rounding
 * makes the limit between a quarter and a half). The index costs 192
 * bytes (a slot, a frame and a pin word per slot) per set: 0.15 to 0.3%
 * of the pool. Eviction makes room when a set or the allocator is full.
 */
#define POOL_PAGES_PER_SET 16

/* Sets of the page cache index of a pool of npages pages (a power of two, >= 1). */
static inline uint32_t pool_pcache_sets(uint64_t npages)
{
	uint64_t want = npages / POOL_PAGES_PER_SET, n = 1;

	while (n * 2 <= want && n * 2 <= PCACHE_MAX_SETS)
		n *= 2;
	return (uint32_t)n;
}

/**
 * pool_lease - lease i of the pool's lease area (kernel/cluster/lease.h)
 * @i: 0 .. pool.super->nleases - 1; POOL_LEASE_SEGS names the segment table's,
 *     POOL_LEASE_LOCKS the record locks', POOL_LEASE_PORTS the port table's;
 *     the kernel uses no other (the
 *     monitor's `lock` takes any)
 *
 * Each lease sits alone on its cache line.
 * Context: any, once the pool is attached.
 * Return: the lease, or NULL for an i out of range or no pool.
 */
struct lease *pool_lease(uint32_t i);

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


/* Find the ivshmem device, map its BAR2 and attach and join. */
int pool_init(void);

const char *node_state_name(uint32_t state);

#endif
