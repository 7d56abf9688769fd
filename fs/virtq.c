/*
 * Split virtqueues in the legacy layout (see virtq.h): building request
 * chains, posting them, taking completed ones back.
 */
#include "fs/virtq.h"
#include "kernel/errno.h"

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint64_t used_offset(uint16_t size)
{
	return align_up(16ULL * size + 2 * (3ULL + size), VIRTQ_ALIGN);
}

uint64_t virtq_bytes(uint16_t size)
{
	return used_offset(size) + align_up(2 * 3ULL + 8ULL * size, VIRTQ_ALIGN);
}

int virtq_init(struct virtq *q, void *mem, uint16_t size)
{
	if (!size || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	q->desc = mem;
	q->avail = (void *)((uint8_t *)mem + 16ULL * size);
	q->used = (void *)((uint8_t *)mem + used_offset(size));
	q->size = size;
	q->nfree = size;
	q->free_head = 0;
	q->avail_idx = q->last_used = 0;
	for (uint16_t i = 0; i < size; i++) {
		q->next[i] = (uint16_t)((i + 1) % size);
		q->chain[i] = 0;
		q->state[i] = VIRTQ_FREE;
	}
	return 0;
}

int virtq_add(struct virtq *q, const struct virtq_buf *b, unsigned n)
{
	if (!n)
		return -EINVAL;
	for (unsigned k = 1; k < n; k++)
		if (b[k - 1].write && !b[k].write)
			return -EINVAL;
	if (n > q->nfree)
		return -ENOSPC;

	uint16_t head = q->free_head, i = head;
	for (unsigned k = 0; k < n; k++) {
		bool more = k + 1 < n;
		q->desc[i].addr = b[k].addr;
		q->desc[i].len = b[k].len;
		q->desc[i].flags = (uint16_t)((b[k].write ? VIRTQ_DESC_F_WRITE : 0) |
					      (more ? VIRTQ_DESC_F_NEXT : 0));
		q->desc[i].next = more ? q->next[i] : 0;
		q->state[i] = VIRTQ_CHAINED;
		i = q->next[i];
	}
	q->free_head = i;
	q->nfree = (uint16_t)(q->nfree - n);
	q->chain[head] = (uint16_t)n;
	q->state[head] = VIRTQ_POSTED;

	q->avail->ring[q->avail_idx & (q->size - 1)] = head;
	/* the descriptors and the ring entry before the index that publishes them */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->avail->idx = ++q->avail_idx;
	return head;
}

bool virtq_notify_needed(const struct virtq *q)
{
	/* our avail->idx store before the device's flags load: a device that
	 * clears NO_NOTIFY and then looks at idx sees ours, or we see its flag */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(q->used->flags & VIRTQ_USED_F_NO_NOTIFY);
}

int virtq_get(struct virtq *q, uint32_t *len)
{
	if (q->last_used == q->used->idx)
		return -EAGAIN;
	/* the element is read after the index that published it */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	volatile struct virtq_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
	uint32_t id = e->id;
	uint32_t got = e->len;

	q->last_used++;
	if (id >= q->size || q->state[id] != VIRTQ_POSTED)
		return -EIO;
	q->state[id] = VIRTQ_USED;
	*len = got;
	return (int)id;
}

int virtq_put(struct virtq *q, uint16_t head)
{
	if (head >= q->size || q->state[head] != VIRTQ_USED)
		return -EINVAL;
	uint16_t n = q->chain[head], last = head;
	for (uint16_t k = 0; k < n; k++) {
		q->state[last] = VIRTQ_FREE;
		if (k + 1 < n)
			last = q->next[last];
	}
	q->next[last] = q->free_head;
	q->free_head = head;
	q->nfree = (uint16_t)(q->nfree + n);
	q->chain[head] = 0;
	return 0;
}

unsigned virtq_abandon(struct virtq *q)
{
	unsigned n = 0;

	for (uint16_t i = 0; i < q->size; i++) {
		if (q->state[i] == VIRTQ_POSTED) {
			q->state[i] = VIRTQ_USED;
			n++;
		}
	}
	return n;
}
