/*
 * The legacy virtio-pci transport (see virtio_pci.h): the status handshake,
 * feature negotiation, queue set-up with one MSI-X vector each, notify and
 * reset, all through the I/O BAR's registers.
 */
#include "kernel/kernel.h"
#include "kernel/pci.h"
#include "fs/virtio_pci.h"
#include "fs/virtq.h"
#include "mm/mm.h"
#include "arch/arch.h"

#define RESET_WAIT_MS 1000      /* a device that stays out of reset this long is dead */

static uint32_t rd(const struct virtio_pci *v, unsigned reg, unsigned size)
{
	return arch_pio_read((uint16_t)(v->io + reg), size);
}

static void wr(const struct virtio_pci *v, unsigned reg, unsigned size, uint32_t val)
{
	arch_pio_write((uint16_t)(v->io + reg), size, val);
}

static void add_status(const struct virtio_pci *v, uint8_t bits)
{
	wr(v, VIRTIO_PCI_STATUS, 1, rd(v, VIRTIO_PCI_STATUS, 1) | bits);
}

int virtio_pci_reset(const struct virtio_pci *v)
{
	uint64_t until = arch_time_ns() + RESET_WAIT_MS * 1000000ULL;
	int err = 0;

	wr(v, VIRTIO_PCI_STATUS, 1, 0);
	while (rd(v, VIRTIO_PCI_STATUS, 1)) {       /* legacy: reads 0 once reset */
		if (arch_time_ns() > until) {
			err = -ETIMEDOUT;
			break;
		}
		arch_cpu_relax();
	}
	add_status(v, VIRTIO_STATUS_FAILED);
	return err;
}

int virtio_pci_start(struct virtio_pci *v, struct pci_dev *d, uint32_t want)
{
	int err;

	v->pci = d;
	v->msix = pci_find_cap(d, PCI_CAP_MSIX);
	if ((err = pci_io_bar(d, 0, &v->io)))
		return err;
	wr(v, VIRTIO_PCI_STATUS, 1, 0);
	add_status(v, VIRTIO_STATUS_ACKNOWLEDGE);
	add_status(v, VIRTIO_STATUS_DRIVER);
	v->features = rd(v, VIRTIO_PCI_HOST_FEATURES, 4) & want;
	wr(v, VIRTIO_PCI_GUEST_FEATURES, 4, v->features);
	if (!v->msix) {
		add_status(v, VIRTIO_STATUS_FAILED);
		return -ENODEV;
	}
	return 0;
}

/* Where the device's configuration starts: it moves when MSI-X is on. */
static unsigned config_base(const struct virtio_pci *v)
{
	bool on = arch_pci_read(v->pci->bus, v->pci->dev, v->pci->fn, v->msix) & (1U << 31);

	return on ? VIRTIO_PCI_CONFIG_MSIX : VIRTIO_PCI_CONFIG;
}

uint64_t virtio_pci_config(const struct virtio_pci *v, unsigned off, unsigned size)
{
	unsigned reg = config_base(v) + off;

	if (size == 8)
		return rd(v, reg, 4) | (uint64_t)rd(v, reg + 4, 4) << 32;
	return rd(v, reg, size);
}

static unsigned order_of(uint64_t bytes)
{
	unsigned order = 0;

	while ((PAGE_SIZE << order) < bytes)
		order++;
	return order;
}

void *virtio_dma_alloc(uint64_t bytes, uint64_t *pa)
{
	*pa = frame_alloc(order_of(bytes));
	if (*pa == FRAME_NONE)
		return NULL;
	return memset(phys_to_virt(*pa), 0, bytes);
}

void virtio_dma_free(void *p, uint64_t bytes)
{
	frame_free(virt_to_phys(p), order_of(bytes));
}

int virtio_pci_queue(struct virtio_pci *v, uint16_t idx, struct virtq *q, void (*irq)(void))
{
	wr(v, VIRTIO_PCI_QUEUE_SEL, 2, idx);
	uint16_t size = (uint16_t)rd(v, VIRTIO_PCI_QUEUE_NUM, 2);
	if (!size || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -ENODEV;

	uint64_t bytes = virtq_bytes(size), pa;
	void *ring = virtio_dma_alloc(bytes, &pa);
	if (!ring)
		return -ENOMEM;
	int err = virtq_init(q, ring, size) ? -ENODEV : pci_msix_enable(v->pci, idx, irq);
	if (!err) {
		/* MSI-X is on now, so the vector registers exist; config changes get none */
		wr(v, VIRTIO_MSI_CONFIG_VECTOR, 2, VIRTIO_MSI_NO_VECTOR);
		wr(v, VIRTIO_MSI_QUEUE_VECTOR, 2, idx);
		if (rd(v, VIRTIO_MSI_QUEUE_VECTOR, 2) != idx)
			err = -EIO;             /* it could not use the vector */
	}
	if (err) {
		virtio_dma_free(ring, bytes);
		return err;
	}
	wr(v, VIRTIO_PCI_QUEUE_PFN, 4, (uint32_t)(pa >> VIRTIO_PCI_QUEUE_ADDR_SHIFT));
	return 0;
}

void virtio_pci_ready(struct virtio_pci *v)
{
	add_status(v, VIRTIO_STATUS_DRIVER_OK);
}

void virtio_pci_notify(const struct virtio_pci *v, uint16_t idx)
{
	wr(v, VIRTIO_PCI_QUEUE_NOTIFY, 2, idx);
}
