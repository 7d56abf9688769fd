/*
 * The cluster IP's port table: one area of the pool (kernel/cluster/pool.h)
 * that says which nodes listen on which (protocol, port) of the VIP; for
 * each such service, which node takes the new flows of each of
 * PORTTAB_BUCKETS buckets of clients; and, for new TCP connections, which
 * node each one was given to, in turn (the claims). Every node reads it for
 * every frame sent to the VIP (net/vip.c); the host reads it for `dmos net`
 * (tools/dmoslib/netview.py). docs/net.md has the design.
 *
 * This file is only the table. Listeners, members and bucket owners have no
 * locking of their own: every change is made under the table's lease
 * (POOL_LEASE_PORTS, taken by net/vip.c), so changes never interleave;
 * lookups (porttab_owner, porttab_leader) take no lease and read single
 * bytes and words, each either the old or the new value. The claims are
 * the exception: porttab_claim takes the lease of the claim's set itself,
 * since every node looks every SYN up. It has no kernel dependency, so it
 * runs unchanged in the host unit tests (tests/unit/test_porttab.c,
 * test_claims.c).
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
 *            own buckets)  @8 u64 builds  @16 u64 mask (those nodes, bit n:
 *            node n)  @24 u64 turns (claims handed out, round robin)
 *            @64 u8 owner[nbuckets] (node id, or PORTTAB_NONE)
 *   claims   a header line: @0 u32 nsets  @4 u32 ttl_ms  @8 u64 taken
 *            @16 u64 retaken  @24 u64 full  @32 u64 busy (counters, below);
 *            then nsets x PORTTAB_CSET_BYTES, a set of PORTTAB_WAYS claims:
 *            @0 its lease (kernel/cluster/lease.h) alone on a line, then
 *            each claim @0 u64 key (PORTTAB_TUPLE: client address, client
 *            port, VIP port)  @8 u64 epoch (the owner's)  @16 u64 time (ns
 *            of the cluster clock when claimed)  @24 u32 ticket (the turn it
 *            got, low bits)  @28 u8 owner  @29 u8 state (PC_FREE,
 *            PC_CLAIMED: written first as free when a claim is rewritten,
 *            last as claimed)
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
 * where they were (tests/unit/test_porttab.c measures how mostly). UDP
 * goes by the buckets.
 *
 * A claim gives one TCP connection (client address and port, VIP port) to
 * one node, exactly once: the first node to see its SYN takes the lease of
 * the tuple's set (a hash picks it), finds no live claim of the tuple, takes
 * the service's next turn (a fetch-and-add of turns) and gives the
 * connection to that listener of the nodes that count, in node order, and
 * writes the claim; every other node, under the same lease, finds it and
 * follows it. Because the lease serialises the lookups of a set, a tuple
 * has at most one claim, whatever the nodes' clocks say about expiry, and
 * a turn is taken once per connection, so N connections give each of k
 * listeners N/k, give or take one. A claim is void when its owner is not
 * the live incarnation (dead), is no member in its epoch (withdrawn, or
 * restarted) or no longer counts for the port; it expires ttl_ms after it
 * was made. A void or expired claim's way is taken again (the same tuple
 * first, then any); in a set full of live claims the oldest gives way,
 * counted in full.
 */
#ifndef NET_PORTTAB_H
#define NET_PORTTAB_H

#include <stdbool.h>
#include <stdint.h>
#include "kernel/param.h"
#include "kernel/cluster/lease.h"

#define PORTTAB_MAGIC   0x425454524f504d44ULL   /* "DMPORTTB" */
#define PORTTAB_VERSION 2               /* 2: the claims, and the services' mask and turns */
#define PORTTAB_BUCKETS 1021            /* prime: every skip walks all buckets */
#define PORTTAB_NONE    0xff            /* owner of a bucket nobody takes */
#define PORTTAB_HDR_BYTES (64 + MAX_NODES * 8)
#define PORTTAB_ENT_BYTES 32
#define PORTTAB_OWNER_BYTES 1024        /* PORTTAB_BUCKETS, to whole lines */
#define PORTTAB_SVC_BYTES (64 + PORTTAB_OWNER_BYTES)
#define PORTTAB_MAX_ENTS 4096           /* the most a table may have (poolcheck) */
#define PORTTAB_MAX_SVCS 1024
#define PORTTAB_WAYS    8               /* claims a set, under the set's lease */
#define PORTTAB_CLAIM_BYTES 32
#define PORTTAB_CSET_BYTES (64 + PORTTAB_WAYS * PORTTAB_CLAIM_BYTES)
#define PORTTAB_CHDR_BYTES 64           /* the claims' header line */
#define PORTTAB_MAX_CSETS 65536
/*
 * How long a claim lives: a client's SYN and its retransmissions (Linux
 * sends them 1, 3, 7 and 15 s after the first) and the handshake must all
 * find it, give or take the second by which the nodes' clocks disagree (the
 * RTC's, read at boot); any longer and the table must be bigger for the
 * same rate of new connections (rate x lifetime claims are live).
 */
#define PORTTAB_CLAIM_TTL_MS 20000

#define PORTTAB_TCP     6               /* protocols: IP's numbers */
#define PORTTAB_UDP     17

enum porttab_state {
	PT_FREE = 0,
	PT_LISTEN = 1,
};

enum porttab_claim_state {
	PC_FREE = 0,
	PC_CLAIMED = 1,
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
	uint64_t mask;                  /* those nodes, bit n: node n */
	uint64_t turns;                 /* claims handed out: the round robin's counter */
	uint64_t pad[4];
	uint8_t owner[PORTTAB_OWNER_BYTES];
};

struct porttab_claims {
	uint32_t nsets;                 /* sets of PORTTAB_WAYS claims */
	uint32_t ttl_ms;                /* a claim's life */
	uint64_t taken;                 /* claims made: new tuples, void or expired ones again */
	uint64_t retaken;               /* of them, a tuple's own void claim taken again */
	uint64_t full;                  /* claims that took the way of a set's oldest live one */
	uint64_t busy;                  /* lookups given up: the set's lease stayed taken */
	uint64_t pad[3];
};

struct porttab_claim {
	uint64_t key;                   /* PORTTAB_TUPLE(addr, cport, port) */
	uint64_t epoch;                 /* the owner's incarnation */
	uint64_t time;                  /* ns of the cluster clock when it was claimed */
	uint32_t ticket;                /* the service's turn it got, low 32 bits */
	uint8_t owner;                  /* the node that takes the connection */
	uint8_t state;                  /* enum porttab_claim_state */
	uint16_t pad;
};

struct porttab_cset {
	struct lease lease;             /* every lookup of the set holds it */
	uint64_t pad[7];
	struct porttab_claim claim[PORTTAB_WAYS];
};

_Static_assert(sizeof(struct porttab_hdr) == PORTTAB_HDR_BYTES, "port table header is pool format");
_Static_assert(sizeof(struct porttab_ent) == PORTTAB_ENT_BYTES, "port table entry is pool format");
_Static_assert(sizeof(struct porttab_svc) == PORTTAB_SVC_BYTES, "service is pool format");
_Static_assert(sizeof(struct porttab_claims) == PORTTAB_CHDR_BYTES, "claims header is pool format");
_Static_assert(sizeof(struct porttab_claim) == PORTTAB_CLAIM_BYTES, "a claim is pool format");
_Static_assert(sizeof(struct porttab_cset) == PORTTAB_CSET_BYTES, "a claim set is pool format");
_Static_assert(MAX_NODES < PORTTAB_NONE, "a node id fits an owner byte");
_Static_assert(MAX_NODES <= 64, "a service's nodes fit its mask");

#define PORTTAB_KEY(proto, port) ((uint32_t)(proto) << 16 | (uint16_t)(port))
/* A connection's claim key: never 0, since a VIP port is not */
#define PORTTAB_TUPLE(addr, cport, port) \
	((uint64_t)(uint32_t)(addr) << 32 | (uint64_t)(uint16_t)(cport) << 16 | (uint16_t)(port))

/* What porttab_claim did (how it found the owner it returns). */
enum porttab_how {
	PT_FOLLOWED,                    /* the tuple's live claim */
	PT_CLAIMED,                     /* a new claim: the service's next turn */
	PT_RETAKEN,                     /* the tuple's void or expired claim, taken again */
	PT_EVICTED,                     /* the set was full of live claims: the oldest gave way */
};

/* A node's handle on the table. */
struct porttab {
	struct porttab_hdr *hdr;
	struct porttab_ent *ent;
	struct porttab_svc *svc;
	struct porttab_claims *claims;
	struct porttab_cset *cset;
	int node;                       /* this node */
};

/* Bytes of an area of nents entries, nsvcs services and nsets claim sets. */
static inline uint64_t porttab_area_size(uint32_t nents, uint32_t nsvcs, uint32_t nsets)
{
	return PORTTAB_HDR_BYTES + (uint64_t)nents * PORTTAB_ENT_BYTES +
	       (uint64_t)nsvcs * PORTTAB_SVC_BYTES + PORTTAB_CHDR_BYTES +
	       (uint64_t)nsets * PORTTAB_CSET_BYTES;
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

/*
 * Is a claim one the table's writers leave (for poolcheck)? A free one
 * always is; a claimed one names a node of the pool in an epoch, for a VIP
 * port (the low 16 bits of its key).
 */
static inline bool porttab_claim_sound(uint8_t state, uint8_t owner, uint64_t epoch,
				       uint64_t key, uint32_t max_nodes)
{
	return state == PC_FREE || (state == PC_CLAIMED && owner < max_nodes && epoch &&
				    (uint16_t)key);
}

/*
 * The set of claim key @key in a table of @nsets: a fixed function (the
 * Maglev fill's mix), as porttab_bucket is. Context: any. Return: 0..nsets-1.
 */
uint32_t porttab_cset_of(uint64_t key, uint32_t nsets);

/**
 * porttab_format - lay an empty table out at @area
 * @nents: listener entries, 1..PORTTAB_MAX_ENTS
 * @nsvcs: services, 1..PORTTAB_MAX_SVCS
 * @nsets: claim sets of PORTTAB_WAYS claims, 1..PORTTAB_MAX_CSETS
 * @vip: the cluster IP (a<<24|...), not 0
 * @mac: the cluster MAC, a locally administered unicast address
 * Claims live PORTTAB_CLAIM_TTL_MS.
 * Context: the pool's formatter, before the magic of the pool is written;
 * @area is porttab_area_size(nents, nsvcs, nsets) bytes of zeroes.
 * Return: 0, or -EINVAL for sizes out of range, a zero VIP or a MAC that is
 * not locally administered unicast (nothing written).
 */
int porttab_format(void *area, uint32_t nents, uint32_t nsvcs, uint32_t nsets, uint32_t vip,
		   const uint8_t mac[6]);

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

/**
 * porttab_claim - the node that takes the new TCP connection from client
 * @addr:@cport to VIP port @port: its claim's owner, claimed now if it has
 * no live claim
 * @t: this node's handle
 * @epoch: this node's incarnation (it holds the set's lease in it)
 * @now: the cluster clock, ns since 1970 (every node's, within a second)
 * @alive: the judge of claim owners, of the nodes in turn and of the set
 *     lease's holder (the kernel's: node_alive)
 * @ctx: for @alive
 * @wait_ns: how long to wait for the set's lease (0: try once)
 * @how: where to say how the owner was found (enum porttab_how); may be NULL
 *
 * Takes the lease of the tuple's set, then: a live claim of the tuple gives
 * its owner; else the service's next turn over its listener nodes that
 * count and are alive, in node order, is written in the tuple's void or
 * expired claim, or a free, void or expired way (counted in taken, and a
 * tuple's own in retaken); in a set without one, the oldest claim gives
 * way (counted in full too): every node decides every SYN by a claim.
 * Context: any, for a SYN; not under the set's lease (it takes it).
 * Return: the owner's node id; -ENOENT if nobody takes the connection (no
 * service for the port, or none of its listeners counts and is alive; a
 * void claim then stays as it is); -ETIMEDOUT (@wait_ns passed, counted in
 * busy) or -EBUSY (@wait_ns 0) if a live node held the set's lease all
 * along: the caller drops the SYN, the client sends it again; -EINVAL for
 * an epoch a lease cannot hold.
 */
int porttab_claim(struct porttab *t, uint64_t epoch, uint16_t port, uint32_t addr,
		  uint16_t cport, uint64_t now, lease_alive_fn alive, void *ctx, uint64_t wait_ns,
		  enum porttab_how *how);

/**
 * porttab_claims_live - the claims that are live at @now (claimed, not
 * expired, not void by @alive, the members and the services' nodes)
 * Context: any, without the leases (a view: claims change meanwhile).
 * Return: how many; *per_node[n] (if not NULL, MAX_NODES of them) those of node n.
 */
uint32_t porttab_claims_live(const struct porttab *t, uint64_t now, lease_alive_fn alive,
			     void *ctx, uint32_t *per_node);

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
