/*
 * PCI enumeration: walk every bus/device/function and report what is there.
 * Then what drivers need of a device: its BARs, its capabilities, and
 * MSI-X entries routed to a handler on this CPU.
 */
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

/**
 * pci_io_bar - the first port of an I/O BAR, enabling I/O decoding
 * Context: boot, before any driver uses the device.
 * Return: 0, or -EINVAL when bar is not an I/O BAR.
 */
int pci_io_bar(struct pci_dev *d, int bar, uint16_t *port)
{
	uint32_t v = arch_pci_read(d->bus, d->dev, d->fn, 0x10 + 4 * bar);
	uint32_t cmd = arch_pci_read(d->bus, d->dev, d->fn, 4);

	if (!(v & 1) || !(v & ~3U))
		return -EINVAL;
	arch_pci_write(d->bus, d->dev, d->fn, 4, cmd | 0x1);    /* I/O space on */
	*port = (uint16_t)(v & ~3U);
	return 0;
}

/**
 * pci_find_cap - where capability id sits in the device's configuration space
 * Context: any.
 * Return: its offset, or 0 when the device does not have it.
 */
unsigned pci_find_cap(struct pci_dev *d, unsigned id)
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

/**
 * pci_msix_enable - route MSI-X table entry `entry` to handler on this CPU
 *
 * Gives handler a vector of its own, writes it into the entry, unmasks it,
 * and turns MSI-X (and bus mastering: the message is a DMA write) on.
 * Entries nobody routed stay masked.
 *
 * Context: boot.
 * Return: 0; -ENODEV when the device has no MSI-X or no such entry,
 * -ENOMEM when no vector or mapping is left.
 */
int pci_msix_enable(struct pci_dev *d, unsigned entry, void (*handler)(void))
{
	unsigned cap = pci_find_cap(d, PCI_CAP_MSIX);
	uint64_t tbar, tbar_size, addr;
	uint32_t data;

	if (!cap)
		return -ENODEV;
	uint32_t ctl = arch_pci_read(d->bus, d->dev, d->fn, cap);
	uint32_t table = arch_pci_read(d->bus, d->dev, d->fn, cap + 4);
	if (entry > ((ctl >> 16) & 0x7FF) || pci_bar(d, table & 7, &tbar, &tbar_size))
		return -ENODEV;
	if (arch_msi(handler, &addr, &data))
		return -ENOMEM;
	volatile uint32_t *e = arch_map_mmio(tbar + (table & ~7U) + 16 * entry, 16);
	if (!e)
		return -ENOMEM;
	e[0] = (uint32_t)addr;
	e[1] = (uint32_t)(addr >> 32);
	e[2] = data;
	e[3] = 0;                       /* unmasked */
	arch_pci_write(d->bus, d->dev, d->fn, cap, (ctl | (1U << 31)) & ~(1U << 30));
	uint32_t cmd = arch_pci_read(d->bus, d->dev, d->fn, 4);
	arch_pci_write(d->bus, d->dev, d->fn, 4, cmd | 0x4);    /* bus master */
	return 0;
}
