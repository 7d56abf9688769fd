/*
 * Serial console, 115200 8N1, polled. COM1 is the interactive console
 * (`dmos console N`); everything written to it is also written to COM2
 * when there is one, which the launcher points at the node's log file, so
 * the log is a plain copy of the output whatever a console client does.
 */
#include <stdbool.h>
#include "arch/arch.h"
#include "arch/x86_64/x86.h"

#define COM1 0x3F8
#define COM2 0x2F8

static bool has_com2;

static void init(uint16_t port)
{
	outb(port + 1, 0x00);   /* no interrupts */
	outb(port + 3, 0x80);   /* DLAB on */
	outb(port + 0, 0x01);   /* divisor 1: 115200 baud */
	outb(port + 1, 0x00);
	outb(port + 3, 0x03);   /* 8N1, DLAB off */
	outb(port + 2, 0xC7);   /* FIFOs on and cleared */
	outb(port + 4, 0x03);   /* DTR, RTS */
}

void serial_init(void)
{
	init(COM1);
	outb(COM2 + 7, 0x5A);   /* scratch register: reads back only if the UART exists */
	has_com2 = inb(COM2 + 7) == 0x5A;
	if (has_com2)
		init(COM2);
}

static void putb(uint16_t port, char c)
{
	while (!(inb(port + 5) & 0x20))
		;
	outb(port, (uint8_t)c);
}

void arch_console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			putb(COM1, '\r');
			if (has_com2)
				putb(COM2, '\r');
		}
		putb(COM1, s[i]);
		if (has_com2)
			putb(COM2, s[i]);
	}
}

int arch_console_getc(void)
{
	if (!(inb(COM1 + 5) & 0x01))
		return -1;
	return inb(COM1);
}
