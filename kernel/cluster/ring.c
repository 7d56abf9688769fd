/*
 * Single-producer single-consumer message rings in the pool, and the mesh
 * that holds one per direction per pair of nodes (layout in kernel/cluster/ring.h).
 *
 * Ordering, the whole protocol in four steps:
 *   producer: load received (acquire); if there is room, store the body
 *             of slot[sent % slots], then its seq (release), then sent.
 *   consumer: load slot[received % slots].seq (acquire); if it is the
 *             expected one, load the body, then store received (release).
 * Every field is read and written with __atomic builtins, so the compiler
 * neither tears nor caches them; pool_flush() follows each store another
 * node reads, as real non-coherent CXL would need.
 *
 * Pool-resident code: freestanding, nothing but the pool and poolsys.h.
 */
#include "kernel/cluster/ring.h"
#include "kernel/cluster/poolsys.h"
#include "kernel/errno.h"

#define LD(p)        __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v)     __atomic_store_n((p), (v), __ATOMIC_RELAXED)

uint64_t ring_mesh_size(uint32_t nodes, uint32_t slots)
{
	uint64_t rb = ring_bytes(slots);

	if (nodes == 0 || nodes > RING_MAX_NODES || rb == 0)
		return 0;
	return sizeof(struct ring_mesh) + (uint64_t)nodes * nodes * rb;
}

static struct ring *ring_at(void *base, uint32_t nodes, uint64_t rb,
			    uint32_t from, uint32_t to)
{
	uint64_t off = sizeof(struct ring_mesh) + ((uint64_t)from * nodes + to) * rb;

	return (struct ring *)((char *)base + off);
}

static void zero(void *p, uint64_t n)
{
	uint64_t *w = p;

	for (uint64_t i = 0; i < n / 8; i++)
		ST(&w[i], 0);
}

int ring_mesh_format(void *base, uint32_t nodes, uint32_t slots)
{
	struct ring_mesh *mh = base;
	uint64_t size = ring_mesh_size(nodes, slots);
	uint64_t rb = ring_bytes(slots);

	if (!base || ((uintptr_t)base & 63) || size == 0)
		return -EINVAL;
	ST(&mh->magic, 0);              /* unpublish first: readers see none */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	zero(base, size);
	for (uint32_t f = 0; f < nodes; f++) {
		for (uint32_t t = 0; t < nodes; t++) {
			struct ring *r = ring_at(base, nodes, rb, f, t);

			ST(&r->slots, slots);
			ST(&r->from, (uint16_t)f);
			ST(&r->to, (uint16_t)t);
			ST(&r->magic, RING_MAGIC);
		}
	}
	ST(&mh->version, RING_MESH_VERSION);
	ST(&mh->nodes, nodes);
	ST(&mh->slots, slots);
	ST(&mh->ring_bytes, (uint32_t)rb);
	pool_flush(base, size);
	__atomic_store_n(&mh->magic, RING_MESH_MAGIC, __ATOMIC_RELEASE);
	pool_flush(&mh->magic, sizeof(mh->magic));
	return 0;
}

struct ring *ring_get(void *base, uint32_t from, uint32_t to)
{
	struct ring_mesh *mh = base;
	uint32_t nodes, slots, rb;
	struct ring *r;

	if (!base || ((uintptr_t)base & 63))
		return NULL;
	if (__atomic_load_n(&mh->magic, __ATOMIC_ACQUIRE) != RING_MESH_MAGIC ||
	    LD(&mh->version) != RING_MESH_VERSION)
		return NULL;
	nodes = LD(&mh->nodes);
	slots = LD(&mh->slots);
	rb = LD(&mh->ring_bytes);
	if (ring_mesh_size(nodes, slots) == 0 || rb != ring_bytes(slots) ||
	    from >= nodes || to >= nodes)
		return NULL;
	r = ring_at(base, nodes, rb, from, to);
	if (LD(&r->magic) != RING_MAGIC || LD(&r->slots) != slots)
		return NULL;
	return r;
}

/* The ring's slot count if its geometry is sane, else 0. */
static uint32_t slots_of(const struct ring *r)
{
	uint32_t slots = LD(&r->slots);

	if (LD(&r->magic) != RING_MAGIC || ring_bytes(slots) == 0)
		return 0;
	return slots;
}

/* The checks ring_send and ring_recv share: 0 and the slot count, or an errno. */
static int usable(const struct ring *r, const struct msg *m, uint32_t *slots)
{
	if (!r || !m)
		return -EINVAL;
	*slots = slots_of(r);
	return *slots ? 0 : -EIO;
}

int ring_send(struct ring *r, const struct msg *m)
{
	uint32_t slots;
	uint64_t sent, received;
	struct msg *s;
	int err = usable(r, m, &slots);

	if (err)
		return err;
	sent = LD(&r->sent);
	received = __atomic_load_n(&r->received, __ATOMIC_ACQUIRE);
	if (sent - received > slots)
		return -EIO;    /* the consumer is ahead of us: not our ring's state */
	if (sent - received == slots) {
		__atomic_fetch_add(&r->full, 1, __ATOMIC_RELAXED);
		return -EAGAIN;
	}

	s = &r->slot[sent & (slots - 1)];
	ST(&s->type, m->type);
	ST(&s->from, m->from);
	ST(&s->req_id, m->req_id);
	ST(&s->flags, m->flags);
	for (int i = 0; i < 6; i++)
		ST(&s->args[i], m->args[i]);
	__atomic_store_n(&s->seq, (uint32_t)(sent + 1), __ATOMIC_RELEASE);
	pool_flush(s, sizeof(*s));
	__atomic_store_n(&r->sent, sent + 1, __ATOMIC_RELEASE);
	pool_flush(&r->sent, 2 * sizeof(uint64_t));
	return 0;
}

int ring_recv(struct ring *r, struct msg *m)
{
	uint32_t slots, seq;
	uint64_t received;
	struct msg *s;
	int err = usable(r, m, &slots);

	if (err)
		return err;
	received = LD(&r->received);
	s = &r->slot[received & (slots - 1)];
	seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
	if (seq != (uint32_t)(received + 1))
		return -EAGAIN;

	m->seq = seq;
	m->type = LD(&s->type);
	m->from = LD(&s->from);
	m->req_id = LD(&s->req_id);
	m->flags = LD(&s->flags);
	for (int i = 0; i < 6; i++)
		m->args[i] = LD(&s->args[i]);
	__atomic_store_n(&r->received, received + 1, __ATOMIC_RELEASE);
	pool_flush(&r->received, sizeof(r->received));
	return 0;
}

uint32_t ring_count(const struct ring *r)
{
	uint32_t slots;
	uint64_t n;

	if (!r || !(slots = slots_of(r)))
		return 0;
	n = __atomic_load_n(&r->received, __ATOMIC_ACQUIRE);
	n = __atomic_load_n(&r->sent, __ATOMIC_ACQUIRE) - n;
	return n > slots ? 0 : (uint32_t)n;
}
