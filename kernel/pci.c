/* PCI enumeration: walk every bus/device/function and report what is there. */
#include "kernel/kernel.h"
#include "kernel/pci.h"
#include "arch/arch.h"

static struct pci_dev devs[PCI_MAX_DEVS];
static int ndevs;

void pci_init(void)
{
	for (unsigned bus = 0; bus < 256; bus++) {
		for (unsigned dev = 0; dev < 32; dev++) {
			unsigned nfn = 1;
			for (unsigned fn = 0; fn < nfn; fn++) {
				uint32_t id = arch_pci_read(bus, dev, fn, 0);
				if ((id & 0xFFFF) == 0xFFFF)
					continue;
				if (fn == 0 && (arch_pci_read(bus, dev, 0, 0x0C) & 0x800000))
					nfn = 8;
				if (ndevs == PCI_MAX_DEVS)
					continue;
				struct pci_dev *d = &devs[ndevs++];
				*d = (struct pci_dev){
					.bus = bus, .dev = dev, .fn = fn,
					.vendor = id & 0xFFFF, .device = id >> 16,
					.class = arch_pci_read(bus, dev, fn, 8) >> 16,
				};
				printk("pci: %02x:%02x.%u %04x:%04x class %04x\n", bus, dev, fn,
				       d->vendor, d->device, d->class);
			}
		}
	}
}

struct pci_dev *pci_find(uint16_t vendor, uint16_t device)
{
	for (int i = 0; i < ndevs; i++)
		if (devs[i].vendor == vendor && devs[i].device == device)
			return &devs[i];
	return NULL;
}

/**
 * pci_bar - address and size of a memory BAR, enabling memory decoding
 * Context: boot, before any driver uses the device.
 * Return: 0, or -EINVAL when bar is not a memory BAR.
 */
int pci_bar(struct pci_dev *d, int bar, uint64_t *addr, uint64_t *size)
{
	unsigned off = 0x10 + 4 * bar;
	uint32_t lo = arch_pci_read(d->bus, d->dev, d->fn, off), hi = 0;
	bool is64 = (lo & 0x6) == 0x4;
	uint32_t cmd = arch_pci_read(d->bus, d->dev, d->fn, 4);

	if (lo & 1)
		return -EINVAL;
	if (is64)
		hi = arch_pci_read(d->bus, d->dev, d->fn, off + 4);

	/* size it: write all ones with decoding off, read back the mask */
	arch_pci_write(d->bus, d->dev, d->fn, 4, cmd & ~0x3U);
	arch_pci_write(d->bus, d->dev, d->fn, off, 0xFFFFFFFF);
	uint64_t mask = arch_pci_read(d->bus, d->dev, d->fn, off) & ~0xFU;
	arch_pci_write(d->bus, d->dev, d->fn, off, lo);
	if (is64) {
		arch_pci_write(d->bus, d->dev, d->fn, off + 4, 0xFFFFFFFF);
		mask |= (uint64_t)arch_pci_read(d->bus, d->dev, d->fn, off + 4) << 32;
		arch_pci_write(d->bus, d->dev, d->fn, off + 4, hi);
	} else {
		mask |= 0xFFFFFFFF00000000UL;
	}
	arch_pci_write(d->bus, d->dev, d->fn, 4, cmd | 0x2);    /* memory space on */

	*addr = ((uint64_t)hi << 32) | (lo & ~0xFU);
	*size = ~mask + 1;
	return 0;
}
