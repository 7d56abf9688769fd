/*
 * The legacy virtio-pci transport (virtio 1.x section 4.1.4.8, "Legacy
 * Interfaces"): a virtio device whose registers are an I/O BAR 0, as QEMU's
 * transitional devices offer with disable-modern=on. Device drivers (the
 * block device in fs/virtio_blk.c, later the network card) use it to bring
 * the device up, set up their virtqueues and notify them.
 *
 * Interrupts come through MSI-X, one vector per queue, none for
 * configuration changes. The node has only local APICs (no IOAPIC), so
 * INTx would need an interrupt controller we do not drive; MSI-X is what
 * the doorbell already uses (kernel/pci.c routes the entries). With MSI-X
 * enabled the legacy layout gains two vector registers and the device's
 * own configuration moves from offset 20 to 24.
 */
#ifndef FS_VIRTIO_PCI_H
#define FS_VIRTIO_PCI_H

#include <stdint.h>
#include <stdbool.h>

struct pci_dev;
struct virtq;

#define VIRTIO_VENDOR           0x1af4

/* BAR 0 registers, offsets in bytes (all little-endian) */
#define VIRTIO_PCI_HOST_FEATURES  0     /* 32: feature bits 0..31 the device offers */
#define VIRTIO_PCI_GUEST_FEATURES 4     /* 32: the ones the driver takes */
#define VIRTIO_PCI_QUEUE_PFN      8     /* 32: ring's bus address / 4096, 0: off */
#define VIRTIO_PCI_QUEUE_NUM      12    /* 16: size of the selected queue, 0: none */
#define VIRTIO_PCI_QUEUE_SEL      14    /* 16: which queue the queue registers mean */
#define VIRTIO_PCI_QUEUE_NOTIFY   16    /* 16: write a queue's index: it has work */
#define VIRTIO_PCI_STATUS         18    /* 8: VIRTIO_STATUS_*, 0 resets */
#define VIRTIO_PCI_ISR            19    /* 8: INTx cause, cleared on read (unused here) */
#define VIRTIO_MSI_CONFIG_VECTOR  20    /* 16, with MSI-X: vector of config changes */
#define VIRTIO_MSI_QUEUE_VECTOR   22    /* 16, with MSI-X: vector of the selected queue */
#define VIRTIO_PCI_CONFIG         20    /* the device's configuration, without MSI-X */
#define VIRTIO_PCI_CONFIG_MSIX    24    /* ... and with it */
#define VIRTIO_MSI_NO_VECTOR      0xFFFF

#define VIRTIO_STATUS_ACKNOWLEDGE 1     /* the guest saw the device */
#define VIRTIO_STATUS_DRIVER      2     /* ... and has a driver for it */
#define VIRTIO_STATUS_DRIVER_OK   4     /* the driver is ready: the device may run */
#define VIRTIO_STATUS_FAILED      128   /* the driver gave up on it */

#define VIRTIO_PCI_QUEUE_ADDR_SHIFT 12  /* the PFN register counts 4 KiB pages */

struct virtio_pci {
	struct pci_dev *pci;
	uint16_t io;                    /* first port of BAR 0 */
	unsigned msix;                  /* offset of its MSI-X capability */
	uint32_t features;              /* negotiated */
};

/**
 * virtio_pci_start - reset the device, say we drive it, negotiate features
 * @want: the feature bits the driver handles; it gets those the device has
 *
 * Context: boot. Return: 0; -EINVAL when BAR 0 is not I/O, -ENODEV without
 * MSI-X (the device is then marked failed).
 */
int virtio_pci_start(struct virtio_pci *v, struct pci_dev *d, uint32_t want);

/* Read size (1, 2, 4 or 8) bytes of the device's configuration at off.
 * Context: after virtio_pci_start. */
uint64_t virtio_pci_config(const struct virtio_pci *v, unsigned off, unsigned size);

/**
 * virtio_pci_queue - set up queue idx with a ring of the device's size
 * @irq: called, in interrupt context, when the device used buffers of it
 *
 * The ring is local frames (the device needs it contiguous); its MSI-X
 * entry is idx, its vector irq's own. The first queue turns MSI-X on.
 *
 * Context: boot, after virtio_pci_start.
 * Return: 0; -ENODEV when there is no such queue or its size is not one
 * virtq takes or no MSI-X entry for it, -ENOMEM when there is no memory or
 * vector, -EIO when the device refuses the vector.
 */
int virtio_pci_queue(struct virtio_pci *v, uint16_t idx, struct virtq *q, void (*irq)(void));

/**
 * virtio_dma_alloc - zeroed, physically contiguous local memory for a device
 * @pa: set to its bus address
 * Context: boot or a process (not interrupts). Return: its address, or NULL.
 */
void *virtio_dma_alloc(uint64_t bytes, uint64_t *pa);

/* Free what virtio_dma_alloc(bytes) gave. */
void virtio_dma_free(void *p, uint64_t bytes);

/* Everything is set up: let the device run. Context: boot. */
void virtio_pci_ready(struct virtio_pci *v);

/* Tell the device queue idx has new requests. Context: any. */
void virtio_pci_notify(const struct virtio_pci *v, uint16_t idx);

/**
 * virtio_pci_reset - stop the device: no more DMA, no more interrupts
 *
 * The device forgets its queues (the driver must not give them back), and
 * is marked failed, so it stays stopped until the next boot.
 *
 * Context: any (QEMU completes what is in flight before the reset returns).
 * Return: 0, or -ETIMEDOUT when the device did not come back from reset.
 */
int virtio_pci_reset(const struct virtio_pci *v);

#endif
