/* PCI devices found at boot, and their memory BARs. */
#ifndef KERNEL_PCI_H
#define KERNEL_PCI_H

#include <stdint.h>

#define PCI_MAX_DEVS 64

struct pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device, class;
};

void pci_init(void);
struct pci_dev *pci_find(uint16_t vendor, uint16_t device);
int pci_bar(struct pci_dev *d, int bar, uint64_t *addr, uint64_t *size);

#endif
