/*
 * Host unit tests for the split virtqueue (fs/virtq.c). A fake device
 * works on the shared block only, at offsets it computes itself from the
 * virtio spec's legacy layout, so the tests check the layout as well as
 * the driver's bookkeeping: chains as posted, the free list through full
 * rings and out-of-order completion, 16-bit index wrap-around, ids a
 * broken device hands back, notification suppression and abandoning
 * requests after a reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fs/virtq.h"
#include "kernel/errno.h"

struct vq_elem { uint64_t addr; uint32_t len; uint16_t flags; };

/* The device's side: only the shared block and its own indices. */
struct dev {
	uint8_t *mem;
	uint16_t size, last_avail, used_idx;
};

struct fix {
	struct virtq q;
	struct dev d;
	void *mem;
};

static uint64_t align4k(uint64_t v) { return (v + 4095) & ~4095ULL; }

static volatile struct virtq_desc *dev_desc(struct dev *d) { return (void *)d->mem; }
static volatile uint16_t *dev_avail(struct dev *d) { return (void *)(d->mem + 16 * d->size); }
static volatile uint16_t *dev_used(struct dev *d)
{
	return (void *)(d->mem + align4k(16 * d->size + 2 * (3 + d->size)));
}

static struct fix *fix_new(uint16_t size)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(posix_memalign(&f->mem, VIRTQ_ALIGN, virtq_bytes(size)), 0);
	memset(f->mem, 0, virtq_bytes(size));
	assert_int_equal(virtq_init(&f->q, f->mem, size), 0);
	f->d = (struct dev){ .mem = f->mem, .size = size };
	return f;
}

static void fix_free(struct fix *f)
{
	free(f->mem);
	free(f);
}

/* Take the next posted chain as a device does. Return: its head, or -1; *n elements into e. */
static int dev_pop(struct dev *d, struct vq_elem *e, unsigned *n)
{
	volatile uint16_t *avail = dev_avail(d);

	if (avail[1] == d->last_avail)
		return -1;
	uint16_t head = avail[2 + d->last_avail % d->size], i = head;
	d->last_avail++;
	*n = 0;
	for (;;) {
		assert_true(i < d->size);
		assert_true(*n < d->size);      /* a loop in the chain */
		volatile struct virtq_desc *x = &dev_desc(d)[i];
		e[(*n)++] = (struct vq_elem){ x->addr, x->len, x->flags };
		if (!(x->flags & VIRTQ_DESC_F_NEXT))
			break;
		i = x->next;
	}
	return head;
}

static void dev_push(struct dev *d, uint32_t id, uint32_t len)
{
	volatile uint16_t *used = dev_used(d);
	volatile struct virtq_used_elem *ring = (void *)(used + 2);

	ring[d->used_idx % d->size] = (struct virtq_used_elem){ id, len };
	used[1] = ++d->used_idx;
}

static void test_layout(void **state)
{
	struct virtq q;
	static uint8_t mem[3 * 4096] __attribute__((aligned(4096)));

	(void)state;
	assert_int_equal(virtq_bytes(256), 3 * 4096);   /* 4096 + 518 -> 8192, + 2054 */
	assert_int_equal(virtq_bytes(1), 2 * 4096);
	assert_int_equal(virtq_bytes(1024), 20480 + 12288);  /* 16384 + 2054, 8198 */
	assert_int_equal(virtq_init(&q, mem, 0), -EINVAL);
	assert_int_equal(virtq_init(&q, mem, 3), -EINVAL);
	assert_int_equal(virtq_init(&q, mem, 2048), -EINVAL);
	assert_int_equal(virtq_init(&q, mem, 256), 0);
	assert_ptr_equal((void *)q.avail, mem + 4096);
	assert_ptr_equal((void *)q.used, mem + 8192);
	assert_int_equal(virtq_free_count(&q), 256);
}

static void test_one_chain(void **state)
{
	struct fix *f = fix_new(8);
	struct vq_elem e[8];
	unsigned n;
	uint32_t len;
	struct virtq_buf b[3] = {
		{ 0x1000, 16, false }, { 0x20000, 4096, true }, { 0x1010, 1, true },
	};

	(void)state;
	assert_int_equal(virtq_get(&f->q, &len), -EAGAIN);
	uint16_t want = virtq_next_head(&f->q);
	int head = virtq_add(&f->q, b, 3);
	assert_int_equal(head, want);
	assert_int_equal(virtq_free_count(&f->q), 5);
	assert_int_equal(dev_pop(&f->d, e, &n), head);
	assert_int_equal(n, 3);
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(e[k].addr, b[k].addr);
		assert_int_equal(e[k].len, b[k].len);
		assert_int_equal(e[k].flags, (b[k].write ? VIRTQ_DESC_F_WRITE : 0) |
				 (k < 2 ? VIRTQ_DESC_F_NEXT : 0));
	}
	assert_int_equal(dev_pop(&f->d, e, &n), -1);
	assert_int_equal(virtq_get(&f->q, &len), -EAGAIN);
	dev_push(&f->d, (uint32_t)head, 4097);
	assert_int_equal(virtq_get(&f->q, &len), head);
	assert_int_equal(len, 4097);
	assert_int_equal(virtq_free_count(&f->q), 5);   /* still the waiter's */
	assert_int_equal(virtq_put(&f->q, (uint16_t)head), 0);
	assert_int_equal(virtq_free_count(&f->q), 8);
	assert_int_equal(virtq_put(&f->q, (uint16_t)head), -EINVAL);
	fix_free(f);
}

static void test_bad_requests(void **state)
{
	struct fix *f = fix_new(4);
	struct virtq_buf b[6] = {
		{ 1, 1, true }, { 2, 1, false }, { 3, 1, false }, { 4, 1, false }, { 5, 1, false },
		{ 6, 1, false },
	};

	(void)state;
	assert_int_equal(virtq_add(&f->q, b, 0), -EINVAL);
	assert_int_equal(virtq_add(&f->q, b, 2), -EINVAL);      /* writable, then readable */
	assert_int_equal(virtq_add(&f->q, b + 1, 5), -ENOSPC);  /* a ring of 4 */
	assert_true(virtq_add(&f->q, b + 2, 3) >= 0);
	assert_int_equal(virtq_free_count(&f->q), 1);
	assert_int_equal(virtq_add(&f->q, b + 1, 2), -ENOSPC);
	assert_int_equal(f->q.avail->idx, 1);                   /* nothing posted by the failures */
	fix_free(f);
}

/* Fill the ring, complete in reverse, refill: the free list survives. */
static void test_full_ring_out_of_order(void **state)
{
	enum { SIZE = 16 };
	struct fix *f = fix_new(SIZE);
	struct vq_elem e[SIZE];
	int heads[SIZE];
	unsigned n;
	uint32_t len;

	(void)state;
	for (int round = 0; round < 3; round++) {
		bool seen[SIZE] = { false };
		for (int i = 0; i < SIZE; i++) {
			struct virtq_buf b = { (uint64_t)i << 12, 512, true };
			heads[i] = virtq_add(&f->q, &b, 1);
			assert_true(heads[i] >= 0 && heads[i] < SIZE);
			assert_false(seen[heads[i]]);
			seen[heads[i]] = true;
		}
		struct virtq_buf b = { 0, 1, false };
		assert_int_equal(virtq_add(&f->q, &b, 1), -ENOSPC);
		for (int i = 0; i < SIZE; i++) {
			assert_int_equal(dev_pop(&f->d, e, &n), heads[i]);
			assert_int_equal(e[0].addr, (uint64_t)i << 12);
		}
		for (int i = SIZE - 1; i >= 0; i--)
			dev_push(&f->d, (uint32_t)heads[i], 512);
		for (int i = SIZE - 1; i >= 0; i--) {
			assert_int_equal(virtq_get(&f->q, &len), heads[i]);
			if (i % 2)      /* give back in yet another order */
				assert_int_equal(virtq_put(&f->q, (uint16_t)heads[i]), 0);
		}
		for (int i = 0; i < SIZE; i += 2)
			assert_int_equal(virtq_put(&f->q, (uint16_t)heads[i]), 0);
		assert_int_equal(virtq_free_count(&f->q), SIZE);
	}
	fix_free(f);
}

/* A device that returns ids it was not given: each is skipped with -EIO. */
static void test_bogus_ids(void **state)
{
	struct fix *f = fix_new(8);
	struct vq_elem e[8];
	unsigned n;
	uint32_t len;
	struct virtq_buf b[2] = { { 1, 16, false }, { 2, 1, true } };

	(void)state;
	int head = virtq_add(&f->q, b, 2);
	assert_int_equal(dev_pop(&f->d, e, &n), head);
	dev_push(&f->d, 8, 0);                          /* out of range */
	dev_push(&f->d, (uint32_t)(head + 1), 0);       /* inside the chain, not its head */
	dev_push(&f->d, 5, 0);                          /* a free descriptor */
	dev_push(&f->d, (uint32_t)head, 1);
	dev_push(&f->d, (uint32_t)head, 1);             /* twice */
	assert_int_equal(virtq_get(&f->q, &len), -EIO);
	assert_int_equal(virtq_get(&f->q, &len), -EIO);
	assert_int_equal(virtq_get(&f->q, &len), -EIO);
	assert_int_equal(virtq_get(&f->q, &len), head);
	assert_int_equal(virtq_get(&f->q, &len), -EIO);
	assert_int_equal(virtq_get(&f->q, &len), -EAGAIN);
	assert_int_equal(virtq_put(&f->q, (uint16_t)(head + 1)), -EINVAL);
	assert_int_equal(virtq_put(&f->q, 200), -EINVAL);
	assert_int_equal(virtq_put(&f->q, (uint16_t)head), 0);
	assert_int_equal(virtq_free_count(&f->q), 8);
	fix_free(f);
}

static void test_notify_suppression(void **state)
{
	struct fix *f = fix_new(4);
	struct virtq_buf b = { 1, 1, true };

	(void)state;
	virtq_add(&f->q, &b, 1);
	assert_true(virtq_notify_needed(&f->q));
	dev_used(&f->d)[0] = VIRTQ_USED_F_NO_NOTIFY;
	assert_false(virtq_notify_needed(&f->q));
	fix_free(f);
}

static void test_abandon(void **state)
{
	struct fix *f = fix_new(8);
	struct vq_elem e[8];
	int h[3];
	unsigned n;
	uint32_t len;

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct virtq_buf b[2] = { { 1, 16, false }, { 2, 1, true } };
		h[i] = virtq_add(&f->q, b, 2);
		assert_int_equal(dev_pop(&f->d, e, &n), h[i]);
	}
	dev_push(&f->d, (uint32_t)h[1], 1);
	assert_int_equal(virtq_get(&f->q, &len), h[1]);
	assert_int_equal(virtq_abandon(&f->q), 2);      /* h[0] and h[2] */
	dev_push(&f->d, (uint32_t)h[0], 1);             /* a late completion counts no more */
	assert_int_equal(virtq_get(&f->q, &len), -EIO);
	for (int i = 0; i < 3; i++)
		assert_int_equal(virtq_put(&f->q, (uint16_t)h[i]), 0);
	assert_int_equal(virtq_free_count(&f->q), 8);
	assert_int_equal(virtq_abandon(&f->q), 0);
	fix_free(f);
}

/*
 * Many requests of 1 to 5 buffers, the device completing them in a random
 * order, past 2^16 on both indices: every chain reaches the device as
 * posted, every completion comes back with its length.
 */
static void test_random_wraparound(void **state)
{
	enum { SIZE = 32, TOTAL = 200000 };
	struct fix *f = fix_new(SIZE);
	uint64_t serial_of[SIZE];               /* by head: which request it is */
	int pending[SIZE];                      /* heads the device holds */
	unsigned npending = 0, n;
	uint64_t posted = 0, completed = 0;
	struct vq_elem e[SIZE];
	uint32_t len;

	(void)state;
	srandom(1);                             /* the same run every time */
	while (completed < TOTAL) {
		unsigned nb = 1 + (unsigned)(random() % 5), nout = (unsigned)(random() % (nb + 1));
		if (posted < TOTAL && random() % 3 && nb <= virtq_free_count(&f->q)) {
			struct virtq_buf b[5];
			for (unsigned k = 0; k < nb; k++)
				b[k] = (struct virtq_buf){ posted << 8 | k, (uint32_t)(k + 1) * 512,
							   k >= nout };
			int head = virtq_add(&f->q, b, nb);
			assert_true(head >= 0);
			serial_of[head] = posted++;
			int got = dev_pop(&f->d, e, &n);
			assert_int_equal(got, head);
			assert_int_equal(n, nb);
			for (unsigned k = 0; k < nb; k++) {
				assert_int_equal(e[k].addr, serial_of[head] << 8 | k);
				assert_int_equal(e[k].len, (k + 1) * 512);
				assert_int_equal(!!(e[k].flags & VIRTQ_DESC_F_WRITE), k >= nout);
			}
			pending[npending++] = head;
		} else if (npending) {
			unsigned pick = (unsigned)(random() % npending);
			int head = pending[pick];
			pending[pick] = pending[--npending];
			dev_push(&f->d, (uint32_t)head, (uint32_t)(serial_of[head] & 0xFFFF));
			assert_int_equal(virtq_get(&f->q, &len), head);
			assert_int_equal(len, serial_of[head] & 0xFFFF);
			assert_int_equal(virtq_put(&f->q, (uint16_t)head), 0);
			completed++;
		}
	}
	assert_int_equal(virtq_free_count(&f->q), SIZE);
	assert_true(f->q.avail->idx == (uint16_t)TOTAL);
	fix_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_one_chain),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_full_ring_out_of_order),
		cmocka_unit_test(test_bogus_ids),
		cmocka_unit_test(test_notify_suppression),
		cmocka_unit_test(test_abandon),
		cmocka_unit_test(test_random_wraparound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
