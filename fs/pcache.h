/*
 * The page cache in the pool: file pages and metadata blocks of the
 * cluster file system, cached once for every node (docs/fs.md says why it
 * is built this way). This header is the contract; fs/pcache.c is the
 * code, built unchanged into the kernel and into the host unit tests.
 *
 * The index lives in one pool area (or, for the private-cache baseline, in
 * a node's local memory: the same code, one node using it). It is a table
 * of sets; a set is one cache line of PCACHE_WAYS slot words, with a frame
 * word and a pin word per slot in parallel arrays:
 *
 *   slot word  63 62 | 61    | 60   | 59 .. 54 | 53 ................ 0
 *              state | dirty | lost | owner    | tag
 *   frame word bit 63: a page is there; bits 0..39: its pool page number
 *   pin word   bit n set: node n is copying from or into the page
 *
 *   tag        PCACHE_TAG(ino, index): file page `index` of inode `ino`;
 *              ino 0 names the disk itself, index its block number
 *   state      FREE (the whole word is 0), FILLING (one node is reading
 *              it from disk; the others wait for it), VALID (frame holds
 *              the data), BUSY (one node owns the slot exclusively:
 *              evicting, dropping or writing it back)
 *   owner      the node that holds a FILLING or BUSY slot (0 otherwise):
 *              it is in the word the claiming CAS writes, so a waiter
 *              never reads the owner of an earlier claim
 *   lost       in VALID: a region failure took this dirty page (it has no
 *              frame any more; pcache_get says -EIO until it is dropped).
 *              In BUSY: the owner is writing the page back, and the page
 *              stays readable meanwhile (pins of a BUSY slot with this bit
 *              hold); a writeback whose owner dies leaves the page dirty.
 *
 * The frame word changes only under FILLING or BUSY, by their owner, and
 * is 0 whenever the slot is FREE (set before the CAS that frees it), so a
 * survivor that takes over a dead owner's slot knows whether it holds a
 * page.
 *
 * Ordering. A slot word changes only by compare-and-swap; a filler writes
 * the frame word and pins the page, then CASes VALID in (release); a
 * reader loads the slot word with acquire before the frame word. A miss
 * claims a free way (FREE -> FILLING) and then reloads the set's other
 * ways: one that sees another claim of its tag gives its own back, so two
 * nodes that claimed two ways for one tag never both read it. Pins against eviction: the
 * pinner sets its bit (atomic OR, a full barrier) and then reloads the
 * slot word; the evictor CASes VALID -> BUSY (a full barrier) and then
 * loads the pin word, and puts VALID back if any bit is set. One of the
 * two always sees the other. A node's own CPUs count their pins of a slot
 * in node-local memory and share the one bit.
 *
 * Failure. Every state a dead node can leave names it: FILLING or BUSY
 * slots carry it as their owner, pins carry the node's bit.
 * pcache_node_dead() (run by any survivor) frees its FILLING slots, puts
 * its BUSY ones back to VALID (a writeback it did not finish stays dirty;
 * a page whose frame it had already let go is FREE if clean, LOST if
 * dirty), and clears its pins. Dirty pages stay in the pool, so any node
 * writes them back. A waiter (pcache_get, writeback, drop) that finds a
 * dead node's FILLING or BUSY slot repairs that slot the same way itself.
 *
 * Context (all calls): a process or the kernel thread of a node, not an
 * interrupt handler; the calls that read or write the disk sleep in the
 * ops. struct pcache is node-local; a node's CPUs serialise on it
 * themselves.
 */
#ifndef FS_PCACHE_H
#define FS_PCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include "kernel/param.h"

#define PCACHE_MAGIC    0x4548434143504D44ULL   /* "DMPCACHE" */
#define PCACHE_VERSION  2               /* 2: the file system's locks, open table, counters */
#define PCACHE_WAYS     8               /* slots per set: one cache line of slot words */
#define PCACHE_BLOCK    4096            /* bytes of a cached page: FS_BLOCK of fs/format.h */

#define PCACHE_INO_BITS   22
#define PCACHE_INDEX_BITS 32
#define PCACHE_TAG(ino, index) (((uint64_t)(ino) << PCACHE_INDEX_BITS) | (uint32_t)(index))
#define PCACHE_TAG_INO(tag)    ((uint32_t)((tag) >> PCACHE_INDEX_BITS))
#define PCACHE_TAG_INDEX(tag)  ((uint32_t)(tag))     /* of a tag: PCACHE_TAG_OF a slot word first */
#define PCACHE_TAG_BITS   (PCACHE_INO_BITS + PCACHE_INDEX_BITS)
#define PCACHE_MAX_SETS   (1u << 24)    /* nsets at most: slot numbers fit 32 bits */

/* The words of the index (part of the pool format: inspectors read them). */
#define PCACHE_FREE     0
#define PCACHE_FILLING  1
#define PCACHE_VALID    2
#define PCACHE_BUSY     3
#define PCACHE_STATE(w)  ((unsigned)((w) >> 62))
#define PCACHE_DIRTY     (1ULL << 61)
#define PCACHE_LOST      (1ULL << 60)   /* in BUSY: writing back */
#define PCACHE_OWNER(w)  ((unsigned)((w) >> PCACHE_TAG_BITS) & 63)
#define PCACHE_TAG_OF(w) ((w) & ((1ULL << PCACHE_TAG_BITS) - 1))
#define PCACHE_FRAME_PAGE (1ULL << 63)
#define PCACHE_FRAME_PPN(f) ((f) & ((1ULL << 40) - 1))

#define PCACHE_FILL_WAIT_MS 5000        /* wait this long for a live node's fill or
					   writeback of a page, then -ETIMEDOUT (a
					   dead one's slot is taken over at once) */
#define PCACHE_EVICT_BATCH  32          /* pages a failed allocation evicts */

/*
 * Two more tables follow the index, for the file system above it (fs/dmosfs.c
 * uses them; this file only lays them out): PCACHE_NLOCKS leases
 * (kernel/cluster/lease.h), one cache line each, the cluster locks its
 * transactions take; and PCACHE_NOPENS entries of the open-file table, two
 * words each (an inode number, 0 for a free entry; a mask of the nodes that
 * have that inode open).
 */
#define PCACHE_NLOCKS   256
#define PCACHE_NOPENS   1024

/*
 * Last comes the counters table: MAX_NODES entries of struct pcache_stats
 * (below), two lines each, entry n node n's. Only node n writes its entry
 * (plain stores, flushed by pcache_publish), so nodes never contend on it;
 * other nodes and the host (`dmos pool`) read it, and it outlives the node
 * for the post-mortem until the node attaches again, which starts it over.
 */

/*
 * The area starts with this header (one line); the slot, frame and pin
 * arrays are at the offsets it gives, from the area's start, each nsets *
 * PCACHE_WAYS words, set-major (set s, way w: word s * PCACHE_WAYS + w).
 */
struct pcache_hdr {
	uint64_t magic;                 /* written last by pcache_format */
	uint32_t version;
	uint32_t nsets;
	uint64_t slots_off, frames_off, pins_off;
	uint64_t locks_off, opens_off;  /* the file system's tables (above) */
	uint64_t stats_off;             /* the counters table (above) */
};
_Static_assert(sizeof(struct pcache_hdr) == 64, "pcache header is one line");
_Static_assert(MAX_NODES <= 64, "a pin word and a slot's owner field hold 64 nodes");

/* What the cache needs from its surroundings: pool pages and the disk. */
struct pcache_ops {
	/* A pool page for the cache (its ppn), or a negative errno (-ENOMEM). */
	int64_t (*alloc)(void *ctx);
	void (*free)(void *ctx, uint64_t ppn);
	/* Where page ppn is, in this node's view. */
	void *(*page)(void *ctx, uint64_t ppn);
	/* Read the block behind tag into page ppn / write page ppn's bytes
	 * (a node-local copy, len FS_BLOCK) back to it. Return: 0 or -errno. */
	int (*read)(void *ctx, uint64_t tag, uint64_t ppn);
	int (*write)(void *ctx, uint64_t tag, const void *buf);
	/* Is node n alive (the node table)? A node that died and joined again
	 * is a different incarnation: the cache must have been told it died
	 * (pcache_node_dead) before it rejoins. */
	bool (*alive)(void *ctx, int node);
	/* Optional: called between two looks at a slot someone else holds
	 * (filling, writing back, pinned). The holder may be another process
	 * of this very node, asleep on the disk: the kernel gives it the CPU
	 * here (NULL: spin politely, pool_relax). */
	void (*relax)(void *ctx);
	/* Optional: has page ppn's memory failed (its pool region)? Asked
	 * after a writeback copied the page and before it writes the copy,
	 * since a failure wipes a region before the nodes hear of it: a page
	 * that is gone is not written, it stays dirty for pcache_lost. */
	bool (*gone)(void *ctx, uint64_t ppn);
};

/* The shared disk's counters of one node (fs/blk.h's, in bytes). */
struct pcache_disk {
	uint64_t reads, read_bytes;     /* requests completed */
	uint64_t writes, write_bytes;
	uint64_t flushes, errors;       /* errors: requests that failed */
};

/* One node's entry of the counters table (part of the pool format). */
struct pcache_stats {
	uint64_t attaches;              /* times the node attached (0: never): entry in use */
	uint64_t hits, misses;          /* this node's lookups */
	uint64_t fills, fill_waits;     /* disk reads this node did; waits on another's */
	uint64_t evictions, writebacks; /* pages this node evicted, dirty pages it wrote back */
	uint64_t lost;                  /* dirty pages a region failure took (as it found them) */
	struct pcache_disk disk;        /* as of the node's last pcache_publish */
	uint64_t reserved[2];
};
_Static_assert(sizeof(struct pcache_stats) == 128, "a node's counters are two lines");

/* Node-local handle. */
struct pcache {
	void *area;                     /* the index in the pool (or local memory) */
	uint64_t *slots, *frames, *pins;
	void *locks;                    /* PCACHE_NLOCKS leases, LINE apart */
	uint64_t *opens;                /* PCACHE_NOPENS pairs of words */
	uint32_t nsets;
	uint32_t node;
	uint32_t hand;                  /* this node's clock hand (a set) */
	uint32_t wait_ms;               /* PCACHE_FILL_WAIT_MS (tests shorten it) */
	const struct pcache_ops *ops;
	void *ctx;
	struct pcache_stats *st;        /* this node's entry of the counters table */
	uint64_t valid, dirty;          /* the whole cache, at this node's last pcache_scan */
	uint16_t *local_pins;           /* this node's pins per slot (nsets * PCACHE_WAYS) */
	void *bounce;                   /* FS_BLOCK node-local bytes for a miss's writeback, or NULL */
};

/* A pinned page: what pcache_get hands out and pcache_put takes back. */
struct pcache_ref {
	uint32_t slot;                  /* set * PCACHE_WAYS + way */
	uint64_t tag;
	void *data;                     /* FS_BLOCK bytes, in this node's view */
};

/* Bytes of an index of nsets sets (a power of two), header included. */
uint64_t pcache_area_size(uint32_t nsets);

/* Write an empty index into area (once, by the pool's formatter). Return: 0, -EINVAL. */
int pcache_format(void *area, uint32_t nsets);

/**
 * pcache_attach - use the index at area as node
 * @local_pins: nsets * PCACHE_WAYS counters of node-local memory (zeroed here)
 * @bounce: FS_BLOCK bytes of node-local memory a miss in a set full of
 *          dirty pages writes one of them back through (NULL: such a miss
 *          fails with -ENOMEM)
 * The node's entry of the counters table starts over (its attaches + 1).
 * Context: boot, before the node uses the cache.
 * Return: 0; -EINVAL for a damaged header (bad magic, version, geometry),
 * a node id of MAX_NODES or more, or missing ops.
 */
int pcache_attach(struct pcache *pc, void *area, int node, const struct pcache_ops *ops,
		  void *ctx, uint16_t *local_pins, void *bounce);

#define PCACHE_NOREAD 1         /* a miss gets a zeroed page: the caller overwrites it all */

/**
 * pcache_get - find the page behind tag, filling it on a miss, and pin it
 * Exactly one node reads a missing page from the disk, however many miss
 * at once; the others wait until it is VALID (or take over the fill if
 * its filler died). A page being written back stays readable. A miss
 * with no free slot in the set evicts a clean, unpinned page of the set;
 * if every page there is dirty or pinned, it writes an unpinned dirty one
 * back through pc->bounce and evicts that. A miss that cannot get a pool
 * page evicts PCACHE_EVICT_BATCH pages across the table and tries once
 * more.
 * Return: 0 with *ref filled and the page pinned; -ENOMEM (no slot or
 * page could be freed: everything is pinned, or dirty with no bounce
 * buffer); -EIO (the page was lost in a region failure), or the read's
 * errno (the disk read failed; the slot is free again) or the write's (a
 * writeback to make room failed); -ETIMEDOUT (a live filler did not
 * finish in time); -EINVAL (a tag wider than PCACHE_TAG_BITS).
 */
int pcache_get(struct pcache *pc, uint64_t tag, int flags, struct pcache_ref *ref);

/* Unpin. Context: the node that pinned it. */
void pcache_put(struct pcache *pc, struct pcache_ref *ref);

/* The pinned page was written: mark it dirty (writeback will write it). */
void pcache_dirty(struct pcache *pc, const struct pcache_ref *ref);

/**
 * pcache_writeback - write back dirty pages: every one whose tag's inode is
 * ino (0: all), at most max of them (0: no limit)
 * Each page is taken BUSY with the lost bit (writing back: it stays
 * readable and writable), marked clean, copied to bounce (FS_BLOCK bytes,
 * node-local) and written; then it is put back VALID. A write meanwhile
 * marks it dirty again. Holding BUSY over the disk write keeps a page
 * from being evicted before its bytes are on the disk and two nodes'
 * writebacks of one page from reaching the disk out of order. A page
 * another node is writing back is waited for, so the bytes dirty when
 * this call began are on the disk when it returns. Lost pages are not
 * written (pcache_has_lost reports them).
 * Return: pages written, or the first negative errno (that page stays
 * dirty; -ETIMEDOUT if another node's writeback did not finish in time).
 */
int pcache_writeback(struct pcache *pc, uint32_t ino, uint32_t max, void *bounce);

/**
 * pcache_evict - free up to n clean, unpinned pages, by the clock
 * Return: pages freed.
 */
uint32_t pcache_evict(struct pcache *pc, uint32_t n);

/**
 * pcache_drop - forget every page of inode ino from index first_index on
 * (truncate, delete): dirty ones too, they are not written back
 * Lost pages are forgotten too.
 * Return: 0, or -EBUSY if a page is pinned by someone (try again; the
 * others are dropped), -ETIMEDOUT if a live node's fill or writeback of
 * one did not finish in time.
 */
int pcache_drop(struct pcache *pc, uint32_t ino, uint32_t first_index);

/* Node n died: take over what it left (see the top). Return: slots repaired. */
uint32_t pcache_node_dead(struct pcache *pc, int node);

/**
 * pcache_lost - a region failure took pool pages: every slot whose frame
 * lost() says is gone is freed if clean; of the dirty ones, one per inode
 * is kept marked LOST (its file reports EIO: pcache_has_lost(); reading
 * that page says EIO) and the others are freed too, so a big file's loss
 * cannot fill whole sets with pages nobody can evict: those pages read
 * again what the disk holds, as after a memory failure on Linux. The lost
 * frames are given back with
 * ops->free. A page pinned meanwhile is waited for (PCACHE_FILL_WAIT_MS)
 * before its frame is freed; a pinner that holds it longer copies the
 * bytes of a frame that is gone. A slot a live node keeps FILLING or BUSY
 * longer than that is left alone: call again.
 * Return: dirty pages lost.
 */
uint32_t pcache_lost(struct pcache *pc, bool (*lost)(void *ctx, uint64_t ppn), void *ctx);

/* Does inode ino have lost dirty pages? */
bool pcache_has_lost(struct pcache *pc, uint32_t ino);

/* Count valid and dirty pages of the whole table into pc->valid, pc->dirty. */
void pcache_scan(struct pcache *pc);

/**
 * pcache_publish - store the node's disk counters in its entry of the
 * counters table and flush the entry, so that other nodes and the host see
 * every counter of it as it is now
 * @disk: the shared disk's counters of this node since it booted
 * The cache's own counters are kept in the entry as they move (plain
 * stores); this flush is what makes them visible where the pool is not
 * coherent.
 * Context: the node that attached pc (a process or its kernel thread).
 */
void pcache_publish(struct pcache *pc, const struct pcache_disk *disk);

#endif
