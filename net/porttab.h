/*
 * The cluster IP's port table: one area of the pool (kernel/cluster/pool.h)
 * that says which nodes listen on which (protocol, port) of the VIP, and,
 * for each such service, which node takes the new connections of each of
 * PORTTAB_BUCKETS buckets of clients. Every node reads it for every frame
 * sent to the VIP (net/vip.c); the host reads it for `dmos net`
 * (tools/dmoslib/netview.py). docs/net.md has the design.
 *
 * This file is only the table. It has no locking of its own: every change
 * is made under the table's lease (POOL_LEASE_PORTS, taken by net/vip.c),
 * so changes never interleave; lookups (porttab_owner, porttab_leader) take
 * no lease and read single bytes and words, each either the old or the new
 * value. It has no kernel dependency, so it runs unchanged in the host unit
 * tests (tests/unit/test_porttab.c).
 *
 * The area, every part on a cache line:
 *
 *   header   @0 u64 magic "DMPORTTB"  @8 u32 version  @12 u32 vip (a.b.c.d as
 *            a<<24|b<<16|c<<8|d)  @16 u8 mac[6] (the cluster MAC)
 *            @22 u16 nbuckets  @24 u32 nents  @28 u32 nsvcs  @32 u64 changes
 *            @64 u64 member[MAX_NODES]: 0, or the epoch of the incarnation of
 *            node n that takes part (it joined, its link is up)
 *   entries  nents x 32 bytes, one per listener:
 *            @0 u64 epoch  @8 i32 pid  @12 u16 port  @14 u8 proto  @15 u8 node
 *            @16 u32 state (PT_FREE, PT_LISTEN: written last when an entry is
 *            taken, first when it is freed)
 *   services nsvcs x PORTTAB_SVC_BYTES, one per (protocol, port) listened on:
 *            @0 u32 key (proto << 16 | port, 0: free)  @4 u32 nodes (that
 *            own buckets)  @8 u64 builds  @64 u8 owner[nbuckets] (node id, or
 *            PORTTAB_NONE)
 *
 * Who counts: an entry counts for its service only while member[node] is
 * the entry's epoch. So a node that withdraws (member 0: its link went
 * down) keeps its entries but owns no bucket until it comes back, and a
 * restarted node's entries of an earlier life never count (its epoch moved
 * on); it drops them when it joins again, and survivors drop a dead
 * node's when it is declared dead.
 *
 * The owners of a service are a pure function of the set of nodes that
 * count, filled Maglev-style (Eisenbud et al., NSDI 2016): each node has
 * its own permutation of the buckets (an offset and a skip, from a hash of
 * the service and the node), and the nodes take turns claiming the next
 * free bucket of their permutation. Every node gets nbuckets/N buckets, give
 * or take one, and when a node leaves, the others' buckets mostly stay
 * where they were (tests/unit/test_porttab.c measures how mostly).
 */
#ifndef NET_PORTTAB_H
#define NET_PORTTAB_H

#include <stdbool.h>
#include <stdint.h>
#include "kernel/param.h"

#define PORTTAB_MAGIC   0x425454524f504d44ULL   /* "DMPORTTB" */
#define PORTTAB_VERSION 1
#define PORTTAB_BUCKETS 1021            /* prime: every skip walks all buckets */
#define PORTTAB_NONE    0xff            /* owner of a bucket nobody takes */
#define PORTTAB_HDR_BYTES (64 + MAX_NODES * 8)
#define PORTTAB_ENT_BYTES 32
#define PORTTAB_OWNER_BYTES 1024        /* PORTTAB_BUCKETS, to whole lines */
#define PORTTAB_SVC_BYTES (64 + PORTTAB_OWNER_BYTES)
#define PORTTAB_MAX_ENTS 4096           /* the most a table may have (poolcheck) */
#define PORTTAB_MAX_SVCS 1024

#define PORTTAB_TCP     6               /* protocols: IP's numbers */
#define PORTTAB_UDP     17

enum porttab_state {
	PT_FREE = 0,
	PT_LISTEN = 1,
};

struct porttab_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t vip;                   /* the cluster IP, a<<24|b<<16|c<<8|d */
	uint8_t mac[6];                 /* the cluster MAC ARP answers with */
	uint16_t nbuckets;
	uint32_t nents;
	uint32_t nsvcs;
	uint64_t changes;               /* +1 at every change, for views */
	uint64_t pad[3];
	uint64_t member[MAX_NODES];
};

struct porttab_ent {
	uint64_t epoch;                 /* the listening node's incarnation */
	int32_t pid;                    /* 0: the kernel's own service */
	uint16_t port;
	uint8_t proto;                  /* PORTTAB_TCP or PORTTAB_UDP */
	uint8_t node;
	uint32_t state;                 /* enum porttab_state */
	uint32_t pad[3];
};

struct porttab_svc {
	uint32_t key;                   /* PORTTAB_KEY(proto, port), 0: free */
	uint32_t nodes;                 /* nodes the owners were filled from */
	uint64_t builds;                /* +1 every fill */
	uint64_t pad[6];
	uint8_t owner[PORTTAB_OWNER_BYTES];
};

_Static_assert(sizeof(struct porttab_hdr) == PORTTAB_HDR_BYTES, "port table header is pool format");
_Static_assert(sizeof(struct porttab_ent) == PORTTAB_ENT_BYTES, "port table entry is pool format");
_Static_assert(sizeof(struct porttab_svc) == PORTTAB_SVC_BYTES, "service is pool format");
_Static_assert(MAX_NODES < PORTTAB_NONE, "a node id fits an owner byte");

#define PORTTAB_KEY(proto, port) ((uint32_t)(proto) << 16 | (uint16_t)(port))

/* A node's handle on the table. */
struct porttab {
	struct porttab_hdr *hdr;
	struct porttab_ent *ent;
	struct porttab_svc *svc;
	int node;                       /* this node */
};

/* Bytes of an area of nents entries and nsvcs services. */
static inline uint64_t porttab_area_size(uint32_t nents, uint32_t nsvcs)
{
	return PORTTAB_HDR_BYTES + (uint64_t)nents * PORTTAB_ENT_BYTES +
	       (uint64_t)nsvcs * PORTTAB_SVC_BYTES;
}

/*
 * The bucket of a client at addr (a<<24|...) and port. A fixed function
 * (a 64-bit finalizer), so that every node, and the host, agree on it.
 */
static inline uint32_t porttab_bucket(uint32_t addr, uint16_t port)
{
	uint64_t x = (uint64_t)addr << 16 | port;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (uint32_t)(x % PORTTAB_BUCKETS);
}

/*
 * Is an entry one the table's writers leave (for poolcheck)? A free one
 * always is; a listener has a known protocol, a port, a node of the pool
 * and an epoch (nodes join with epoch 1 and up).
 */
static inline bool porttab_ent_sound(uint32_t state, uint8_t proto, uint16_t port,
				     uint8_t node, uint64_t epoch, uint32_t max_nodes)
{
	return state == PT_FREE ||
	       (state == PT_LISTEN && (proto == PORTTAB_TCP || proto == PORTTAB_UDP) && port &&
		node < max_nodes && epoch);
}

/**
 * porttab_format - lay an empty table out at @area
 * @nents: listener entries, 1..PORTTAB_MAX_ENTS
 * @nsvcs: services, 1..PORTTAB_MAX_SVCS
 * @vip: the cluster IP (a<<24|...), not 0
 * @mac: the cluster MAC, a locally administered unicast address
 * Context: the pool's formatter, before the magic of the pool is written;
 * @area is porttab_area_size(nents, nsvcs) bytes of zeroes.
 * Return: 0, or -EINVAL for sizes out of range, a zero VIP or a MAC that is
 * not locally administered unicast (nothing written).
 */
int porttab_format(void *area, uint32_t nents, uint32_t nsvcs, uint32_t vip, const uint8_t mac[6]);

/**
 * porttab_attach - a handle on the formatted table at @area for @node
 * Context: any; touches nothing in the pool.
 * Return: 0, or -EINVAL if @area holds no table of this version or a
 * geometry this code cannot use (the handle is then unusable).
 */
int porttab_attach(struct porttab *t, void *area, int node);

/**
 * porttab_join - this node, in @epoch, takes part: its entries of earlier
 * lives are dropped, member[node] is set and the owners refilled
 * Context: under the lease; at boot, and when the node's link comes back.
 * Return: the entries of earlier lives dropped.
 */
uint32_t porttab_join(struct porttab *t, uint64_t epoch);

/**
 * porttab_leave - this node takes part no more (its link went down): it
 * keeps its entries but owns no bucket; owners refilled without it
 * Context: under the lease.
 */
void porttab_leave(struct porttab *t);

/**
 * porttab_listen - record that @pid of this node, in @epoch, listens on
 * (@proto, @port), and refill that service's owners
 * Context: under the lease.
 * Return: the entry's index (the handle porttab_unlisten takes), or
 * -EINVAL (proto neither PORTTAB_TCP nor PORTTAB_UDP, port 0, epoch 0),
 * -ENOSPC (no free entry, or a new service and no free service: nothing
 * changed).
 */
int porttab_listen(struct porttab *t, int proto, uint16_t port, int32_t pid, uint64_t epoch);

/**
 * porttab_unlisten - drop entry @idx of this node in @epoch; refill its
 * service (freed with its last entry)
 * Context: under the lease.
 * Return: 0, or -ENOENT if @idx is not a listener of this node's @epoch
 * (nothing changed).
 */
int porttab_unlisten(struct porttab *t, int idx, uint64_t epoch);

/**
 * porttab_node_dead - drop every entry of @node's incarnations up to
 * @epoch, take it out of the members if that is one of them, refill
 * Context: under the lease, on a survivor, once @node in @epoch is
 * declared dead; a later incarnation's entries and membership stay.
 * Return: the entries dropped (0: another survivor did it already).
 */
uint32_t porttab_node_dead(struct porttab *t, int node, uint64_t epoch);

/**
 * porttab_repair - refill every service from the entries, freeing the ones
 * without entries: what a half-done change leaves is made whole
 * Context: under the lease, when it was taken over from a dead holder.
 */
void porttab_repair(struct porttab *t);

/**
 * porttab_owner - the node that takes new flows of @bucket of (@proto, @port)
 * Context: any, without the lease: a change under way gives the old owner
 * or the new one.
 * Return: the node id, or -ENOENT when nobody takes them (no service for
 * the port, or none of its listeners counts).
 */
int porttab_owner(const struct porttab *t, int proto, uint16_t port, uint32_t bucket);

/*
 * The lowest member, which answers for the VIP what no service takes:
 * ARP, ping, ports nobody listens on. Context: any. Return: it, or -1.
 */
int porttab_leader(const struct porttab *t);

/**
 * porttab_fill - the owners of service @key when the nodes of @nodes (bit n:
 * node n) count, into @owner[PORTTAB_BUCKETS]
 * Context: any; pure. Return: the nodes counted.
 */
uint32_t porttab_fill(uint32_t key, uint64_t nodes, uint8_t *owner);

#endif
