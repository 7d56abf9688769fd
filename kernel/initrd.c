/*
 * The initrd, a cpio archive in the "newc" format: for each file a
 * 110-byte ASCII header ("070701", then 13 fields of 8 hex digits), the
 * name, padding to 4 bytes, the data, padding to 4 bytes; it ends with
 * the name "TRAILER!!!". We only read it.
 */
#include "kernel/kernel.h"
#include "kernel/initrd.h"

static const uint8_t *base;
static uint64_t size;

void initrd_init(const void *data, uint64_t len)
{
	base = data;
	size = len;
}

static uint64_t hex(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++) {
		uint8_t c = p[i];
		v = v * 16 + (c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
	}
	return v;
}

static const char *basename(const char *s)
{
	const char *b = s;

	for (; *s; s++)
		if (*s == '/')
			b = s + 1;
	return b;
}

int initrd_walk(initrd_fn fn, void *ctx)
{
	uint64_t off = 0;

	while (base && off + 110 <= size && !memcmp(base + off, "070701", 6)) {
		const uint8_t *h = base + off;
		uint64_t filesize = hex(h + 54), namesize = hex(h + 94);
		const char *name = (const char *)h + 110;
		uint64_t data = (off + 110 + namesize + 3) & ~3UL;
		if (data + filesize > size || namesize == 0 || name[namesize - 1])
			return 0;       /* damaged: stop here */
		if (!strcmp(name, "TRAILER!!!"))
			return 0;
		if (fn(name, base + data, filesize, (uint32_t)hex(h + 14), hex(h + 46), ctx))
			return 1;
		off = (data + filesize + 3) & ~3UL;
	}
	return 0;
}

static int each(const char *name, const uint8_t *data, uint64_t len, uint32_t mode,
		uint64_t mtime, void *ctx)
{
	(void)data;
	(void)mode;
	(void)mtime;
	if (len)
		((void (*)(const char *, uint64_t))ctx)(basename(name), len);
	return 0;
}

void initrd_each(void (*fn)(const char *name, uint64_t len))
{
	initrd_walk(each, (void *)fn);
}
