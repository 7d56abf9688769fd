/*
 * QEMU's fw_cfg: how the launcher tells one ISO which node it is. The
 * launcher passes `-fw_cfg name=opt/dmos/cmdline,string=...`; we find that
 * file in the fw_cfg directory and read it through the I/O ports.
 */
#include "arch/x86_64/x86.h"
#include "kernel/kernel.h"

#define FWCFG_SEL  0x510
#define FWCFG_DATA 0x511
#define FWCFG_SIGNATURE 0x0000
#define FWCFG_FILE_DIR  0x0019

static void fwread(void *buf, uint32_t n)
{
	uint8_t *p = buf;

	while (n--)
		*p++ = inb(FWCFG_DATA);
}

static uint32_t be32(uint32_t v) { return __builtin_bswap32(v); }
static uint16_t be16(uint16_t v) { return __builtin_bswap16(v); }

/**
 * fwcfg_read_file - read a named fw_cfg file into buf, NUL-terminated
 * Return: its length, or -1 when there is no fw_cfg or no such file.
 */
int fwcfg_read_file(const char *name, char *buf, int max)
{
	char sig[4];
	uint32_t count;

	outw(FWCFG_SEL, FWCFG_SIGNATURE);
	fwread(sig, 4);
	if (memcmp(sig, "QEMU", 4))
		return -1;
	outw(FWCFG_SEL, FWCFG_FILE_DIR);
	fwread(&count, 4);
	count = be32(count);
	for (uint32_t i = 0; i < count; i++) {
		struct { uint32_t size; uint16_t select, rsv; char name[56]; } f;
		fwread(&f, sizeof(f));
		if (strncmp(f.name, name, sizeof(f.name)))
			continue;
		int n = (int)be32(f.size);
		if (n > max - 1)
			n = max - 1;
		outw(FWCFG_SEL, be16(f.select));
		fwread(buf, (uint32_t)n);
		buf[n] = 0;
		return n;
	}
	return -1;
}
