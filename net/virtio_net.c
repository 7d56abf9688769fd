/*
 * The virtio-net driver (net/virtio_net.h): QEMU's transitional network card
 * (1af4:1000) through the legacy virtio-pci transport of fs/virtio_pci.c,
 * queue 0 receiving, queue 1 transmitting, one MSI-X vector each.
 *
 * Features taken: MAC (the launcher gives each node its address) and
 * STATUS (the link state, which QMP's set_link changes). Nothing else: no
 * checksum offload (the stack computes and checks every checksum), no
 * TSO/GSO/UFO, no mergeable receive buffers, so every frame the device
 * writes fits one receive buffer of VNET_RXBUF bytes and every frame we
 * send is one buffer of at most VNET_FRAME_MAX bytes.
 *
 * A legacy device (without ANY_LAYOUT) wants the virtio-net header in a
 * descriptor of its own, so each buffer is a chain of two: the 10-byte
 * header, then the frame. The buffers are slots of one contiguous DMA
 * block per queue, a slot per two descriptors. Received frames are copied
 * out (the stack keeps its own pbufs) and the slot is posted again at
 * once, so the ring stays full. The device's length is checked before
 * anything is read: too short, longer than a frame, or a buffer that is not
 * ours is dropped and counted, never handed up.
 *
 * The interrupt handlers only kick the stack's work; everything else runs
 * in the kernel thread or lwIP's output in a system call (see
 * virtio_net.h), never at once, so no lock is needed.
 */
#include "kernel/kernel.h"
#include "kernel/kthread.h"
#include "kernel/pci.h"
#include "net/virtio_net.h"
#include "fs/virtio_pci.h"
#include "fs/virtq.h"

#define VIRTIO_NET_DEVICE       0x1000  /* transitional virtio-net */

#define VIRTIO_NET_F_MAC        5       /* config mac: the device's address */
#define VIRTIO_NET_F_STATUS     16      /* config status: link up or down */
#define FEATURES (1U << VIRTIO_NET_F_MAC | 1U << VIRTIO_NET_F_STATUS)

/* struct virtio_net_config */
#define CFG_MAC                 0       /* 6 bytes */
#define CFG_STATUS              6       /* 16 */
#define VIRTIO_NET_S_LINK_UP    1

#define RXQ 0
#define TXQ 1

#define VNET_HDR        10              /* struct virtio_net_hdr, without MRG_RXBUF */
#define VNET_RXBUF      1536            /* a frame's buffer: more than VNET_FRAME_MAX, so
					 * a longer frame shows by its length */
#define SLOT            2048            /* header at 0, frame at SLOT_DATA */
#define SLOT_DATA       16

struct ring {
	struct virtq q;
	uint8_t *buf;                   /* nslots slots of SLOT bytes, local frames */
	uint64_t buf_pa;
	unsigned nslots;
	uint16_t slot_of[VIRTQ_MAX_SIZE];       /* a posted chain's head -> its slot */
};

struct vnet {
	struct virtio_pci vp;
	struct ring rx, tx;
	uint16_t tx_free[VIRTQ_MAX_SIZE / 2];   /* transmit slots not in flight */
	unsigned ntx_free;
	int tx_slot;                    /* vnet_tx_buf's slot, -1: none */
	uint8_t mac[6];
	struct kwork *work;
	struct vnet_stats st;
};

static struct vnet nic;
static bool have_nic;

static void vnet_irq(void)
{
	kthread_kick(nic.work);
}

bool vnet_present(void) { return have_nic; }
const uint8_t *vnet_mac(void) { return nic.mac; }
void vnet_get_stats(struct vnet_stats *st) { *st = nic.st; }

bool vnet_link_up(void)
{
	if (!(nic.vp.features & 1U << VIRTIO_NET_F_STATUS))
		return true;            /* no status: the link is always up */
	return virtio_pci_config(&nic.vp, CFG_STATUS, 2) & VIRTIO_NET_S_LINK_UP;
}

/* Post slot s of r: its header and frame buffers, written by the device or not. */
static int post(struct ring *r, unsigned s, uint32_t len, bool write)
{
	uint64_t pa = r->buf_pa + (uint64_t)s * SLOT;
	struct virtq_buf b[2] = {
		{ pa, VNET_HDR, write },
		{ pa + SLOT_DATA, len, write },
	};
	uint16_t head = virtq_next_head(&r->q);
	int err = virtq_add(&r->q, b, 2);

	if (err < 0)
		return err;
	if (err != head)
		panic("vnet: virtq_add did not use the head it named");
	r->slot_of[head] = (uint16_t)s;
	return 0;
}

unsigned vnet_rx(bool (*deliver)(const void *frame, unsigned len), unsigned budget)
{
	struct ring *r = &nic.rx;
	unsigned seen = 0, posted = 0;
	uint32_t len;
	int head;

	if (!have_nic)
		return 0;
	while (seen < budget && (head = virtq_get(&r->q, &len)) != -EAGAIN) {
		seen++;
		if (head < 0) {
			nic.st.rx_badid++;
			continue;
		}
		unsigned s = r->slot_of[head];
		virtq_put(&r->q, (uint16_t)head);
		/* len is the device's word: check it before reading a byte */
		if (len < VNET_HDR + VNET_FRAME_MIN) {
			nic.st.rx_runt++;
		} else if (len - VNET_HDR > VNET_FRAME_MAX) {
			nic.st.rx_oversize++;
		} else {
			unsigned flen = len - VNET_HDR;
			if (deliver(r->buf + (uint64_t)s * SLOT + SLOT_DATA, flen)) {
				nic.st.rx_frames++;
				nic.st.rx_bytes += flen;
			} else {
				nic.st.rx_refused++;
			}
		}
		if (post(r, s, VNET_RXBUF, true) == 0)
			posted++;
	}
	if (posted && virtq_notify_needed(&r->q))
		virtio_pci_notify(&nic.vp, RXQ);
	return seen;
}

void vnet_reclaim(void)
{
	struct ring *r = &nic.tx;
	uint32_t len;
	int head;

	if (!have_nic)
		return;
	while ((head = virtq_get(&r->q, &len)) != -EAGAIN) {
		if (head < 0)
			continue;       /* virtq skipped it; nothing of ours to free */
		nic.tx_free[nic.ntx_free++] = r->slot_of[head];
		virtq_put(&r->q, (uint16_t)head);
	}
}

void *vnet_tx_buf(void)
{
	if (!have_nic)
		return NULL;
	if (nic.tx_slot < 0) {
		if (!nic.ntx_free)
			vnet_reclaim();
		if (!nic.ntx_free) {
			nic.st.tx_full++;
			return NULL;
		}
		nic.tx_slot = nic.tx_free[--nic.ntx_free];
	}
	uint8_t *slot = nic.tx.buf + (uint64_t)nic.tx_slot * SLOT;
	memset(slot, 0, VNET_HDR);      /* no flags, no GSO */
	return slot + SLOT_DATA;
}

int vnet_tx_send(unsigned len)
{
	if (nic.tx_slot < 0)
		panic("vnet: vnet_tx_send without vnet_tx_buf");
	unsigned s = (unsigned)nic.tx_slot;
	if (len < VNET_FRAME_MIN || len > VNET_FRAME_MAX) {
		nic.st.tx_oversize++;
		return -EINVAL;       /* the slot stays ours for the next frame */
	}
	nic.tx_slot = -1;
	/* a slot per two descriptors: a free slot always has its descriptors */
	if (post(&nic.tx, s, len, false))
		panic("vnet: no descriptors for a free transmit slot");
	nic.st.tx_frames++;
	nic.st.tx_bytes += len;
	if (virtq_notify_needed(&nic.tx.q))
		virtio_pci_notify(&nic.vp, TXQ);
	return 0;
}

/* Set up queue idx and its slots. Return: 0 or -errno. */
static int ring_init(struct ring *r, uint16_t idx)
{
	int err = virtio_pci_queue(&nic.vp, idx, &r->q, vnet_irq);

	if (err)
		return err;
	if (r->q.size < 2)
		return -ENODEV;
	r->nslots = r->q.size / 2;
	r->buf = virtio_dma_alloc((uint64_t)r->nslots * SLOT, &r->buf_pa);
	return r->buf ? 0 : -ENOMEM;
}

static int probe(struct pci_dev *p)
{
	int err = virtio_pci_start(&nic.vp, p, FEATURES);

	if (err)
		return err;
	if ((err = ring_init(&nic.rx, RXQ)) || (err = ring_init(&nic.tx, TXQ)))
		goto fail;
	err = -ENODEV;
	if (!(nic.vp.features & 1U << VIRTIO_NET_F_MAC))
		goto fail;              /* the launcher always gives one */
	for (unsigned i = 0; i < 6; i++)
		nic.mac[i] = (uint8_t)virtio_pci_config(&nic.vp, CFG_MAC + i, 1);
	for (unsigned s = 0; s < nic.rx.nslots; s++)
		if ((err = post(&nic.rx, s, VNET_RXBUF, true)))
			goto fail;
	for (unsigned s = 0; s < nic.tx.nslots; s++)
		nic.tx_free[nic.ntx_free++] = (uint16_t)s;
	nic.tx_slot = -1;
	virtio_pci_ready(&nic.vp);
	virtio_pci_notify(&nic.vp, RXQ);
	return 0;
fail:
	virtio_pci_reset(&nic.vp);
	return err;
}

int vnet_init(struct kwork *work)
{
	struct pci_dev *p = pci_find(VIRTIO_VENDOR, VIRTIO_NET_DEVICE);

	if (!p)
		return -ENODEV;
	nic.work = work;
	int err = probe(p);
	if (err) {
		printk("net: virtio-net at %02x:%02x.%u cannot be used (%d); no network\n",
		       p->bus, p->dev, p->fn, err);
		return err;
	}
	have_nic = true;
	return 0;
}
