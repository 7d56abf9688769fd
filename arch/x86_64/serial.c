/* COM1 serial console: 115200 8N1, polled. Every node's console is its log. */
#include "arch/arch.h"
#include "arch/x86_64/x86.h"

#define COM1 0x3F8

void serial_init(void)
{
	outb(COM1 + 1, 0x00);   /* no interrupts */
	outb(COM1 + 3, 0x80);   /* DLAB on */
	outb(COM1 + 0, 0x01);   /* divisor 1: 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);   /* 8N1, DLAB off */
	outb(COM1 + 2, 0xC7);   /* FIFOs on and cleared */
	outb(COM1 + 4, 0x03);   /* DTR, RTS */
}

static void putb(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

void arch_console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			putb('\r');
		putb(s[i]);
	}
}

int arch_console_getc(void)
{
	if (!(inb(COM1 + 5) & 0x01))
		return -1;
	return inb(COM1);
}
