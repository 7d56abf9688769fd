/*
 * Split virtqueues: the rings a driver shares with a virtio device, in the
 * legacy layout (virtio 0.9.5; virtio 1.x section 2.7, "legacy interface"),
 * for any virtio device: the block device in fs/, the network card later.
 *
 * One physically contiguous, 4096-aligned, zeroed block the device finds
 * by its page number holds three parts, all little-endian:
 *
 *   desc[size]      16 bytes each: bus address, length, flags, next
 *   avail           flags, idx, ring[size], used_event     (driver writes)
 *   (pad to the next multiple of VIRTQ_ALIGN)
 *   used            flags, idx, ring[size] of {id, len}, avail_event
 *                                                          (device writes)
 *
 * A request is a chain of descriptors, the device-readable buffers first,
 * then the device-writable ones. The driver puts the chain's head into the
 * avail ring and notifies the device; the device puts the head and the
 * bytes it wrote into the used ring and interrupts. The driver keeps its
 * own bookkeeping (free list, chains) outside the shared block, so a
 * device that scribbles on the rings cannot corrupt it; every id the
 * device hands back is checked.
 *
 * Nothing here touches a device register or sleeps: the transport notifies
 * and waits, and this file builds for host unit tests too
 * (tests/unit/test_virtq.c). It has no lock: callers serialize (on one
 * CPU, with interrupts off around calls an interrupt handler also makes).
 */
#ifndef FS_VIRTQ_H
#define FS_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTQ_ALIGN     4096    /* legacy: the used ring starts on this boundary */
#define VIRTQ_MAX_SIZE  1024    /* largest ring this driver takes (QEMU's blk: 256) */

#define VIRTQ_DESC_F_NEXT       1       /* the chain goes on at `next` */
#define VIRTQ_DESC_F_WRITE      2       /* the device writes this buffer */
#define VIRTQ_USED_F_NO_NOTIFY  1       /* device: no need to notify me */

struct virtq_desc {
	uint64_t addr;          /* bus address */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;           /* where the driver puts the next head, mod 2^16 */
	uint16_t ring[];
};

struct virtq_used_elem {
	uint32_t id;            /* head of the chain */
	uint32_t len;           /* bytes the device wrote into it */
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;           /* where the device puts the next element */
	struct virtq_used_elem ring[];
};

/* One buffer of a request: bus address, length, written by the device or not. */
struct virtq_buf {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/* Descriptor states, private to the driver (struct virtq.state). */
enum { VIRTQ_FREE, VIRTQ_CHAINED, VIRTQ_POSTED, VIRTQ_USED };

struct virtq {
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	uint16_t size;                  /* entries, a power of two */
	uint16_t nfree;                 /* descriptors on the free list */
	uint16_t free_head;
	uint16_t avail_idx;             /* our copy of avail->idx */
	uint16_t last_used;             /* used elements consumed, mod 2^16 */
	uint16_t next[VIRTQ_MAX_SIZE];  /* free list and chain links */
	uint16_t chain[VIRTQ_MAX_SIZE]; /* a head's chain length */
	uint8_t state[VIRTQ_MAX_SIZE];  /* VIRTQ_POSTED/USED for heads, CHAINED for the rest */
};

/* Bytes of the shared block for a ring of size entries. */
uint64_t virtq_bytes(uint16_t size);

/**
 * virtq_init - lay a ring of size entries out over mem
 * @mem: virtq_bytes(size) zeroed bytes, VIRTQ_ALIGN-aligned, that the
 *       device reaches at the bus address the transport gives it
 * Context: any. Return: 0, or -EINVAL unless size is a power of two from 1
 * to VIRTQ_MAX_SIZE.
 */
int virtq_init(struct virtq *q, void *mem, uint16_t size);

/**
 * virtq_add - post one request of n buffers to the device
 *
 * The chain's head is the descriptor virtq_next_head() names just before,
 * so per-request data can be indexed by it before the request is posted.
 * The caller then notifies the device if virtq_notify_needed().
 *
 * Context: any, serialized with the other calls.
 * Return: the head, -EINVAL for n == 0 or a device-writable buffer before
 * a readable one, -ENOSPC when fewer than n descriptors are free.
 */
int virtq_add(struct virtq *q, const struct virtq_buf *b, unsigned n);

/* The head the next virtq_add() will use (when enough descriptors are free). */
static inline uint16_t virtq_next_head(const struct virtq *q)
{
	return q->free_head;
}

/* Descriptors free now: a request of n buffers fits if n <= this. */
static inline unsigned virtq_free_count(const struct virtq *q)
{
	return q->nfree;
}

/* After virtq_add(): does the device want to be notified? (a full barrier) */
bool virtq_notify_needed(const struct virtq *q);

/**
 * virtq_get - take the next request the device completed
 * @len: set to the bytes the device wrote into it
 *
 * The request's descriptors stay allocated until virtq_put(head): the
 * caller may still look at per-head data, and a completed head is never
 * reused underneath whoever waits for it.
 *
 * Context: any (an interrupt handler), serialized with the other calls.
 * Return: its head; -EAGAIN when nothing is waiting; -EIO when the device
 * returned an id that is not a posted request (the element is skipped).
 */
int virtq_get(struct virtq *q, uint32_t *len);

/**
 * virtq_put - give a completed request's descriptors back to the free list
 * Context: any, serialized with the other calls.
 * Return: 0, or -EINVAL when head is not a request virtq_get() returned.
 */
int virtq_put(struct virtq *q, uint16_t head);

/**
 * virtq_abandon - forget every request still posted, after a device reset
 *
 * A reset device no longer owns any ring: its posted requests count as
 * completed ones (by virtq_get() no more), still allocated until
 * virtq_put() as usual. The ring is not handed to a device again.
 *
 * Context: any, serialized with the other calls, the device reset.
 * Return: how many requests were posted.
 */
unsigned virtq_abandon(struct virtq *q);

#endif
