/* PCI devices found at boot, their BARs, capabilities and MSI-X. */
#ifndef KERNEL_PCI_H
#define KERNEL_PCI_H

#include <stdint.h>

#define PCI_MAX_DEVS 64
#define PCI_CAP_MSIX 0x11

struct pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device, class;
};

void pci_init(void);
struct pci_dev *pci_find(uint16_t vendor, uint16_t device);
int pci_bar(struct pci_dev *d, int bar, uint64_t *addr, uint64_t *size);
int pci_io_bar(struct pci_dev *d, int bar, uint16_t *port);
unsigned pci_find_cap(struct pci_dev *d, unsigned id);
int pci_msix_enable(struct pci_dev *d, unsigned entry, void (*handler)(void));

#endif
