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

static volatile uint32_t *regs;
volatile uint64_t doorbell_count;

static void doorbell_irq(void)
{
	doorbell_count++;
	msg_interrupt();
}

int doorbell_init(struct pci_dev *d)
{
	uint64_t bar0, bar0_size;

	if (!pci_find_cap(d, PCI_CAP_MSIX))
		return -1;              /* ivshmem-plain: no interrupts, we poll */
	if (pci_bar(d, 0, &bar0, &bar0_size) || !(regs = arch_map_mmio(bar0, 256)) ||
	    pci_msix_enable(d, 0, doorbell_irq))
		return -1;
	return (int)regs[REG_IVPOSITION / 4];
}

void doorbell_ring(int32_t peer)
{
	if (regs && peer >= 0)
		regs[REG_DOORBELL / 4] = ((uint32_t)peer << 16) | 0;
}
