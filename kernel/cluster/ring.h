/*
 * Message rings between kernels, in the pool. A ring carries struct msg
 * (kernel/cluster/msg.h) one way, from one node to another: one producer, one
 * consumer, no lock. A mesh puts the N*N rings of an N-node cluster in one
 * pool area, so node `from` finds its ring to node `to` by arithmetic.
 *
 * Mesh layout (offsets from the area's base, which is 64-byte aligned):
 *
 *   0                                 struct ring_mesh (one line), magic last
 *   64 + (from*nodes + to) * rbytes   struct ring from -> to
 *                                     rbytes = ring_bytes(slots)
 * One ring:
 *   line 0   sent, full          written by the producer only
 *   line 1   received            written by the consumer only
 *   line 2   magic, slots, from, to   fixed at format time
 *   line 3.. slot[slots]         one struct msg each
 *
 * sent and received count messages since the format; they are also the
 * positions: the producer writes slot[sent % slots] and the consumer reads
 * slot[received % slots]. A slot is ready when its seq (the header word,
 * stored last with release) equals the low 32 bits of position + 1, so the
 * consumer never reads sent and never sees a half-written message. The
 * producer refuses to send while sent - received == slots. The same
 * counters are what the pool inspector shows.
 *
 * Nothing in the pool is a pointer; pointers in this API point into the
 * caller's mapping of the pool and are never stored.
 */
#ifndef KERNEL_CLUSTER_RING_H
#define KERNEL_CLUSTER_RING_H

#include <stddef.h>
#include <stdint.h>
#include "kernel/cluster/msg.h"

#define RING_MESH_MAGIC   0x4853454D474E4952ULL  /* "RINGMESH" */
#define RING_MESH_VERSION 1
#define RING_MAGIC        0x474E4952u             /* "RING" */
#define RING_MIN_SLOTS    2
#define RING_MAX_SLOTS    65536         /* slots: a power of two in between */
#define RING_MAX_NODES    1024          /* nodes a mesh can hold */

struct ring_mesh {
	uint64_t magic;                 /* RING_MESH_MAGIC, written last */
	uint32_t version;               /* RING_MESH_VERSION */
	uint32_t nodes;                 /* rings are nodes x nodes */
	uint32_t slots;                 /* messages per ring */
	uint32_t ring_bytes;            /* bytes per ring, slots included */
	uint64_t reserved[5];
} __attribute__((aligned(64)));

struct ring {
	uint64_t sent;                  /* producer: messages sent = next position */
	uint64_t full;                  /* producer: sends refused, ring full */
	_Alignas(64) uint64_t received; /* consumer: messages received */
	_Alignas(64) uint32_t magic;    /* RING_MAGIC */
	uint32_t slots;                 /* power of two */
	uint16_t from, to;              /* the producer's and consumer's node ids */
	_Alignas(64) struct msg slot[]; /* the messages */
};

_Static_assert(sizeof(struct ring_mesh) == 64, "mesh header is one line");
_Static_assert(__builtin_offsetof(struct ring, received) == 64, "indices on separate lines");
_Static_assert(__builtin_offsetof(struct ring, magic) == 128, "ring layout is part of the pool format");
_Static_assert(__builtin_offsetof(struct ring, slot) == 192, "ring layout is part of the pool format");

/* Bytes one ring of `slots` messages takes, or 0 if slots is not allowed. */
static inline uint64_t ring_bytes(uint32_t slots)
{
	if (slots < RING_MIN_SLOTS || slots > RING_MAX_SLOTS || (slots & (slots - 1)))
		return 0;
	return sizeof(struct ring) + (uint64_t)slots * sizeof(struct msg);
}

/**
 * ring_mesh_size - bytes a mesh of nodes x nodes rings of `slots` needs
 * Context: any.
 * Return: the size, or 0 if nodes or slots is out of range (slots must be
 * a power of two between RING_MIN_SLOTS and RING_MAX_SLOTS).
 */
uint64_t ring_mesh_size(uint32_t nodes, uint32_t slots);

/**
 * ring_mesh_format - lay out an empty mesh at base
 * @base: 64-byte aligned start of ring_mesh_size(nodes, slots) bytes of pool
 * Context: one node, while no other node uses the area (pool format time).
 * Writes every ring's geometry and zero counters, the mesh magic last.
 * Return: 0, or -EINVAL for a bad base, nodes or slots.
 */
int ring_mesh_format(void *base, uint32_t nodes, uint32_t slots);

/**
 * ring_get - the ring that carries messages from node `from` to node `to`
 * Context: any; reads only the mesh header.
 * Return: the ring, or NULL if base holds no formatted mesh of a known
 * version or a node id is out of range.
 */
struct ring *ring_get(void *base, uint32_t from, uint32_t to);

/**
 * ring_send - copy m into the ring (m->seq is ignored; the ring sets it)
 * Context: the ring's producer node only, one CPU at a time (callers on
 * several CPUs of that node serialise locally). Never blocks.
 * Return: 0; -EAGAIN if the ring is full (counted in ring->full); -EINVAL
 * for a NULL argument; -EIO if the ring's geometry or counters are corrupt.
 */
int ring_send(struct ring *r, const struct msg *m);

/**
 * ring_recv - take the oldest message off the ring into *m
 * Context: the ring's consumer node only, one CPU at a time. Never blocks.
 * Return: 0 with *m filled (m->seq = its position + 1); -EAGAIN if the ring
 * is empty; -EINVAL for a NULL argument; -EIO if the ring is corrupt.
 */
int ring_recv(struct ring *r, struct msg *m);

/**
 * ring_count - messages waiting in the ring (sent and not yet received)
 * Context: any node; a snapshot that may be stale at once.
 * Return: the count (0 for a NULL or corrupt ring).
 */
uint32_t ring_count(const struct ring *r);

#endif
