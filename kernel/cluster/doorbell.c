/*
 * ivshmem-doorbell: BAR0 holds four registers (IntrMask, IntrStatus,
 * IVPosition = our ivshmem peer id, Doorbell), BAR1 the MSI-X table.
 * Writing (peer << 16) | vector to our own Doorbell register makes QEMU
 * signal that peer's eventfd, and the peer's QEMU raises MSI-X vector
 * `vector` in its guest. QEMU 7.2 delivers nothing unless the guest
 * enabled MSI-X and unmasked the entry. Peer ids are ivshmem's, not node
 * ids: each node publishes its own in the node table.
 */
#include "kernel/cluster/doorbell.h"
#include "kernel/cluster/msg.h"
#include "kernel/pci.h"
#include "arch/arch.h"

#define REG_IVPOSITION 8
#define REG_DOORBELL   12
#define PCI_CAP_MSIX   0x11

static volatile uint32_t *regs;
volatile uint64_t doorbell_count;

static void doorbell_irq(void)
{
	doorbell_count++;
	msg_interrupt();
}

static unsigned find_cap(struct pci_dev *d, unsigned id)
{
	if (!(arch_pci_read(d->bus, d->dev, d->fn, 4) & (1 << 20)))
		return 0;               /* no capability list */
	unsigned off = arch_pci_read(d->bus, d->dev, d->fn, 0x34) & 0xFC;
	for (int guard = 0; off && guard < 48; guard++) {
		uint32_t v = arch_pci_read(d->bus, d->dev, d->fn, off);
		if ((v & 0xFF) == id)
			return off;
		off = (v >> 8) & 0xFC;
	}
	return 0;
}

int doorbell_init(struct pci_dev *d)
{
	uint64_t bar0, bar0_size, tbar, tbar_size, addr;
	uint32_t data;
	unsigned cap = find_cap(d, PCI_CAP_MSIX);

	if (!cap)
		return -1;              /* ivshmem-plain: no interrupts, we poll */
	uint32_t table = arch_pci_read(d->bus, d->dev, d->fn, cap + 4);
	if (pci_bar(d, 0, &bar0, &bar0_size) || pci_bar(d, table & 7, &tbar, &tbar_size) ||
	    arch_msi(doorbell_irq, &addr, &data))
		return -1;
	regs = arch_map_mmio(bar0, 256);
	volatile uint32_t *entry = arch_map_mmio(tbar + (table & ~7U), 16);
	if (!regs || !entry)
		return -1;
	entry[0] = (uint32_t)addr;
	entry[1] = (uint32_t)(addr >> 32);
	entry[2] = data;
	entry[3] = 0;                   /* unmasked */
	uint32_t ctl = arch_pci_read(d->bus, d->dev, d->fn, cap);
	arch_pci_write(d->bus, d->dev, d->fn, cap, (ctl | (1U << 31)) & ~(1U << 30));
	uint32_t cmd = arch_pci_read(d->bus, d->dev, d->fn, 4);
	arch_pci_write(d->bus, d->dev, d->fn, 4, cmd | 0x6);    /* memory, bus master */
	return (int)regs[REG_IVPOSITION / 4];
}

void doorbell_ring(int32_t peer)
{
	if (regs && peer >= 0)
		regs[REG_DOORBELL / 4] = ((uint32_t)peer << 16) | 0;
}
