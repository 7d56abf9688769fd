/*
 * The virtio-blk driver behind fs/blk.h: QEMU's transitional block device
 * (1af4:1001) through the legacy virtio-pci transport (fs/virtio_pci.c),
 * one request queue, completions by MSI-X interrupt.
 *
 * A request is a chain of descriptors: a 16-byte header the device reads
 * (type, sector), the data segments, and one status byte the device
 * writes. Header and status live in a per-head slot of driver memory, so
 * they are always DMA-able whatever the caller's stack is. The interrupt
 * handler only marks requests done and wakes their waiters; the waiter
 * gives the descriptors back (virtq_put), so a head is never reused before
 * whoever waits for it has looked.
 *
 * Features taken: SEG_MAX and SIZE_MAX (limits we split requests by), RO
 * (writes are refused) and FLUSH (blk_flush sends VIRTIO_BLK_T_FLUSH).
 * Without FLUSH the device has no write cache and a flush is a no-op.
 *
 * Everything that touches the queue runs with interrupts off: one CPU, and
 * the interrupt handler shares the queue.
 */
#include "kernel/kernel.h"
#include "kernel/pci.h"
#include "fs/blk.h"
#include "fs/virtio_pci.h"
#include "fs/virtq.h"
#include "sched/sched.h"
#include "arch/arch.h"

#define VIRTIO_BLK_DEVICE       0x1001  /* transitional virtio-blk */

#define VIRTIO_BLK_F_SIZE_MAX   1       /* config size_max: bytes per segment */
#define VIRTIO_BLK_F_SEG_MAX    2       /* config seg_max: segments per request */
#define VIRTIO_BLK_F_RO         5       /* read-only */
#define VIRTIO_BLK_F_FLUSH      9       /* a write cache, and VIRTIO_BLK_T_FLUSH */
#define FEATURES (1U << VIRTIO_BLK_F_SIZE_MAX | 1U << VIRTIO_BLK_F_SEG_MAX | \
		  1U << VIRTIO_BLK_F_RO | 1U << VIRTIO_BLK_F_FLUSH)

/* struct virtio_blk_config */
#define CFG_CAPACITY    0       /* 64: sectors */
#define CFG_SIZE_MAX    8       /* 32 */
#define CFG_SEG_MAX     12      /* 32 */

#define VIRTIO_BLK_T_IN         0
#define VIRTIO_BLK_T_OUT        1
#define VIRTIO_BLK_T_FLUSH      4
#define VIRTIO_BLK_S_OK         0       /* else IOERR (1) or UNSUPP (2): -EIO */

#define BLK_SEGS        64              /* data segments per request, at most */
#define BLK_REQ_BYTES   (256U << 10)    /* blk_read/blk_write split into requests this big */
#define BLK_BATCH       8               /* ... and keep this many of them in flight */

struct blk_hdr {                        /* struct virtio_blk_outhdr */
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};

/* What the device reads and writes besides the data, one per head. */
struct blk_dma {
	struct blk_hdr hdr;
	uint8_t status;
	uint8_t pad[15];
};

/* A request as its waiter sees it, one per head. */
struct blk_slot {
	volatile bool done;
	bool busy;                      /* submitted, not yet finished */
	int err;
};

struct blk_dev {
	struct virtio_pci vp;
	struct virtq q;
	struct blk_dma *dma;            /* q.size slots, local frames */
	uint64_t dma_pa;
	struct blk_slot slot[VIRTQ_MAX_SIZE];
	uint64_t sectors;
	unsigned max_segs;              /* data segments per request */
	uint32_t seg_bytes;             /* bytes per segment, at most */
	bool ro, flush;
	volatile bool offline;
	struct blk_stats st;
};

static struct blk_dev disk;
static bool have_disk;

struct blk_dev *blk_disk(void)
{
	return have_disk ? &disk : NULL;
}

uint64_t blk_sectors(const struct blk_dev *d) { return d->sectors; }
unsigned blk_max_segs(const struct blk_dev *d) { return d->max_segs; }
bool blk_read_only(const struct blk_dev *d) { return d->ro; }
bool blk_offline(const struct blk_dev *d) { return d->offline; }

void blk_get_stats(const struct blk_dev *d, struct blk_stats *st)
{
	*st = d->st;
}

/* Take what the device completed: mark it done, wake its waiter. Interrupts off. */
static void reap(struct blk_dev *d)
{
	uint32_t len;
	int head;

	while ((head = virtq_get(&d->q, &len)) != -EAGAIN) {
		if (head < 0) {
			printk("blk: the device completed a request it was not given; ignored\n");
			continue;
		}
		/* legacy devices need not set len right: the status byte says it all */
		d->slot[head].err = d->dma[head].status == VIRTIO_BLK_S_OK ? 0 : -EIO;
		d->slot[head].done = true;
		sched_wakeup(&d->slot[head]);
	}
}

static void blk_irq(void)
{
	reap(&disk);
}

/*
 * Request `late` took too long: stop the device for good, so that it writes
 * into nobody's buffer after we returned, and fail everything in flight,
 * late with -ETIMEDOUT, the rest with -EIO. Interrupts off.
 */
static void go_offline(struct blk_dev *d, struct blk_slot *late)
{
	if (d->offline)
		return;
	d->offline = true;
	int err = virtio_pci_reset(&d->vp);
	reap(d);                        /* what it finished before the reset counts */
	virtq_abandon(&d->q);
	for (unsigned i = 0; i < d->q.size; i++) {
		struct blk_slot *s = &d->slot[i];
		if (s->busy && !s->done) {
			s->err = s == late ? -ETIMEDOUT : -EIO;
			s->done = true;
			sched_wakeup(s);
		}
	}
	sched_wakeup(&d->q);
	printk("blk: a request took more than %d ms; the device is reset%s and the disk "
	       "offline until the next boot\n", BLK_TIMEOUT_MS,
	       err ? " (it did not come back)" : "");
}

/*
 * Wait for a wakeup on chan, until_ns at most; interrupts off before and
 * after. A process sleeps. The kernel thread never does (kernel/kthread.h):
 * it halts the CPU until the next interrupt, the completion's or the
 * tick's, and its caller looks again (only the monitor's commands do I/O
 * there, and they run to their end).
 */
static void block(const void *chan, uint64_t until_ns)
{
	if (current == proc_table()) {
		arch_idle();            /* sti; hlt */
		arch_irq_disable();
	} else {
		sched_sleep(chan, until_ns);
	}
}

static uint64_t deadline(void)
{
	return arch_time_ns() + BLK_TIMEOUT_MS * 1000000ULL;
}

/* Post one request, waiting for descriptors if need be. Return: its head, or -errno. */
static int submit(struct blk_dev *d, uint32_t type, uint64_t sector, const struct blk_seg *seg,
		  unsigned nseg)
{
	struct virtq_buf b[BLK_SEGS + 2];
	uint64_t until = deadline(), flags = arch_irq_save();

	while (!d->offline && virtq_free_count(&d->q) < nseg + 2) {
		if (arch_time_ns() >= until) {  /* others hold them; their waits end it */
			arch_irq_restore(flags);
			return -ETIMEDOUT;
		}
		block(&d->q, until);
	}
	if (d->offline) {
		arch_irq_restore(flags);
		return -EIO;
	}
	int head = virtq_next_head(&d->q);
	struct blk_dma *m = &d->dma[head];
	uint64_t pa = d->dma_pa + (uint64_t)head * sizeof(*m);

	m->hdr = (struct blk_hdr){ .type = type, .sector = sector };
	m->status = 0xFF;
	b[0] = (struct virtq_buf){ pa, sizeof(m->hdr), false };
	for (unsigned i = 0; i < nseg; i++)
		b[1 + i] = (struct virtq_buf){ seg[i].pa, seg[i].len, type == VIRTIO_BLK_T_IN };
	b[nseg + 1] = (struct virtq_buf){ pa + __builtin_offsetof(struct blk_dma, status), 1, true };
	d->slot[head] = (struct blk_slot){ .busy = true };
	if (virtq_add(&d->q, b, nseg + 2) != head)
		panic("blk: virtq_add did not use the head it named");
	if (virtq_notify_needed(&d->q))
		virtio_pci_notify(&d->vp, 0);
	arch_irq_restore(flags);
	return head;
}

/* Wait for the request at head and give its descriptors back. Return: its result. */
static int finish(struct blk_dev *d, int head)
{
	struct blk_slot *s = &d->slot[head];
	uint64_t until = deadline(), flags = arch_irq_save();
	int err;

	while (!s->done) {
		if (arch_time_ns() >= until) {
			go_offline(d, s);
			break;
		}
		block(s, until);
	}
	err = s->err;
	s->busy = false;
	virtq_put(&d->q, (uint16_t)head);
	sched_wakeup(&d->q);            /* someone may wait for descriptors */
	arch_irq_restore(flags);
	return err;
}

static void account(struct blk_dev *d, uint32_t type, uint64_t sectors, int err)
{
	if (err)
		d->st.errors++;
	else if (type == VIRTIO_BLK_T_IN)
		d->st.reads++, d->st.sectors_read += sectors;
	else if (type == VIRTIO_BLK_T_OUT)
		d->st.writes++, d->st.sectors_written += sectors;
	else
		d->st.flushes++;
}

static int check(const struct blk_dev *d, enum blk_op op, uint64_t sector, uint64_t bytes)
{
	if (!d || (op != BLK_READ && op != BLK_WRITE))
		return -EINVAL;
	if (d->offline)
		return -EIO;
	if (bytes % BLK_SECTOR || sector > d->sectors ||
	    bytes >> BLK_SECTOR_SHIFT > d->sectors - sector)
		return -EINVAL;
	if (op == BLK_WRITE && d->ro)
		return -EROFS;
	return 0;
}

int blk_io(struct blk_dev *d, enum blk_op op, uint64_t sector, const struct blk_seg *seg,
	   unsigned nseg)
{
	uint32_t type = op == BLK_WRITE ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	uint64_t bytes = 0;

	if (!d || !nseg || nseg > d->max_segs)
		return -EINVAL;
	for (unsigned i = 0; i < nseg; i++) {
		if (!seg[i].len || seg[i].len > d->seg_bytes)
			return -EINVAL;
		bytes += seg[i].len;
	}
	int err = check(d, op, sector, bytes);
	if (err)
		return err;
	int head = submit(d, type, sector, seg, nseg);
	err = head < 0 ? head : finish(d, head);
	account(d, type, bytes >> BLK_SECTOR_SHIFT, err);
	return err;
}

/*
 * The segments of the first request of [buf, buf + bytes): page by page
 * (local RAM is contiguous only within a frame), merged where the frames
 * are adjacent, within the device's limits and BLK_REQ_BYTES.
 * Return: the bytes they cover, whole sectors.
 */
static uint64_t map_buf(const struct blk_dev *d, const uint8_t *buf, uint64_t bytes,
			struct blk_seg *seg, unsigned *nseg)
{
	uint64_t done = 0, want = MIN(bytes, BLK_REQ_BYTES);
	unsigned n = 0;

	while (done < want) {
		uint64_t pa = virt_to_phys(buf + done);
		uint32_t len = (uint32_t)MIN(PAGE_SIZE - (pa & (PAGE_SIZE - 1)), want - done);
		if (n && seg[n - 1].pa + seg[n - 1].len == pa && seg[n - 1].len + len <= d->seg_bytes)
			seg[n - 1].len += len;
		else if (n < d->max_segs)
			seg[n++] = (struct blk_seg){ pa, len };
		else
			break;
		done += len;
	}
	for (uint32_t cut = done % BLK_SECTOR; cut;) {  /* end on a sector boundary */
		uint32_t take = MIN(cut, seg[n - 1].len);
		seg[n - 1].len -= take;
		cut -= take;
		done -= take;
		if (!seg[n - 1].len)
			n--;
	}
	*nseg = n;
	return done;
}

/* blk_read/blk_write: requests of BLK_REQ_BYTES, BLK_BATCH of them in flight. */
static int rw(struct blk_dev *d, enum blk_op op, uint64_t sector, uint64_t count, const uint8_t *buf)
{
	uint32_t type = op == BLK_WRITE ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	int heads[BLK_BATCH];
	uint64_t sent = 0, len[BLK_BATCH], bytes = count << BLK_SECTOR_SHIFT;
	unsigned first = 0, n = 0;
	int err = count >> (64 - BLK_SECTOR_SHIFT) ? -EINVAL : check(d, op, sector, bytes);

	for (;;) {
		/* post more while there is room; with too few descriptors left for
		 * a whole request, finish ours first rather than wait on ourselves */
		bool room = n < BLK_BATCH &&
			    (!n || virtq_free_count(&d->q) >= d->max_segs + 2);
		if (!err && sent < bytes && room) {
			struct blk_seg seg[BLK_SEGS];
			unsigned nseg;
			uint64_t got = map_buf(d, buf + sent, bytes - sent, seg, &nseg);
			int head = submit(d, type, sector + (sent >> BLK_SECTOR_SHIFT), seg, nseg);
			if (head < 0) {
				err = head;
				account(d, type, 0, err);
				continue;
			}
			heads[(first + n) % BLK_BATCH] = head;
			len[(first + n) % BLK_BATCH] = got;
			n++;
			sent += got;
		} else if (n) {
			int e = finish(d, heads[first]);
			account(d, type, len[first] >> BLK_SECTOR_SHIFT, e);
			if (e && !err)
				err = e;
			first = (first + 1) % BLK_BATCH;
			n--;
		} else {
			return err;
		}
	}
}

int blk_read(struct blk_dev *d, uint64_t sector, uint64_t count, void *buf)
{
	return rw(d, BLK_READ, sector, count, buf);
}

int blk_write(struct blk_dev *d, uint64_t sector, uint64_t count, const void *buf)
{
	return rw(d, BLK_WRITE, sector, count, buf);
}

int blk_flush(struct blk_dev *d)
{
	if (!d)
		return -EINVAL;
	if (d->offline)
		return -EIO;
	if (!d->flush)
		return 0;               /* no write cache: every write is durable already */
	int head = submit(d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	int err = head < 0 ? head : finish(d, head);
	account(d, VIRTIO_BLK_T_FLUSH, 0, err);
	return err;
}

/* Bring the device up. Return: 0, or -errno with the device stopped. */
static int probe(struct blk_dev *d, struct pci_dev *p)
{
	int err = virtio_pci_start(&d->vp, p, FEATURES);

	if (err)
		return err;
	if ((err = virtio_pci_queue(&d->vp, 0, &d->q, blk_irq)))
		goto fail;
	uint32_t f = d->vp.features;
	d->sectors = virtio_pci_config(&d->vp, CFG_CAPACITY, 8);
	d->seg_bytes = f & 1U << VIRTIO_BLK_F_SIZE_MAX ?
		       (uint32_t)virtio_pci_config(&d->vp, CFG_SIZE_MAX, 4) : UINT32_MAX;
	uint32_t segs = f & 1U << VIRTIO_BLK_F_SEG_MAX ?
			(uint32_t)virtio_pci_config(&d->vp, CFG_SEG_MAX, 4) : d->q.size;
	d->max_segs = MIN(MIN(segs, (uint32_t)BLK_SEGS), d->q.size - 2U);
	d->ro = f & 1U << VIRTIO_BLK_F_RO;
	d->flush = f & 1U << VIRTIO_BLK_F_FLUSH;
	/* a sector that straddles two frames takes two segments of up to a page */
	err = -EINVAL;
	if (d->max_segs < 2 || d->seg_bytes < PAGE_SIZE || !d->sectors)
		goto fail;
	err = -ENOMEM;
	if (!(d->dma = virtio_dma_alloc(d->q.size * sizeof(struct blk_dma), &d->dma_pa)))
		goto fail;
	virtio_pci_ready(&d->vp);
	return 0;
fail:
	virtio_pci_reset(&d->vp);
	return err;
}

void blk_init(void)
{
	struct pci_dev *p = pci_find(VIRTIO_VENDOR, VIRTIO_BLK_DEVICE);

	if (!p)
		return;                 /* no disk here: nothing to say */
	int err = probe(&disk, p);
	if (err) {
		printk("blk: virtio-blk at %02x:%02x.%u cannot be used (%d); no disk\n",
		       p->bus, p->dev, p->fn, err);
		return;
	}
	have_disk = true;
	uint64_t kib = disk.sectors >> (10 - BLK_SECTOR_SHIFT);
	printk("blk: virtio-blk %lu %s (%lu sectors), queue of %u, %u segments a request, %s\n",
	       kib % 1024 ? kib : kib >> 10, kib % 1024 ? "KiB" : "MiB", disk.sectors,
	       disk.q.size, disk.max_segs,
	       disk.ro ? "read-only" : disk.flush ? "write cache (flush)" : "write-through");
}
