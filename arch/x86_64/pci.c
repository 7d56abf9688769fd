/* PCI configuration space through the legacy 0xCF8/0xCFC ports, and I/O BARs. */
#include "arch/arch.h"
#include "arch/x86_64/x86.h"

static uint32_t addr(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	return 0x80000000U | bus << 16 | dev << 11 | fn << 8 | (off & 0xFC);
}

uint32_t arch_pci_read(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	outl(0xCF8, addr(bus, dev, fn, off));
	return inl(0xCFC);
}

void arch_pci_write(unsigned bus, unsigned dev, unsigned fn, unsigned off, uint32_t v)
{
	outl(0xCF8, addr(bus, dev, fn, off));
	outl(0xCFC, v);
}

uint32_t arch_pio_read(uint16_t port, unsigned size)
{
	return size == 1 ? inb(port) : size == 2 ? inw(port) : inl(port);
}

void arch_pio_write(uint16_t port, unsigned size, uint32_t v)
{
	if (size == 1)
		outb(port, (uint8_t)v);
	else if (size == 2)
		outw(port, (uint16_t)v);
	else
		outl(port, v);
}
