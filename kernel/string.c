/* The string and memory functions the kernel (and the compiler) use. */
#include "kernel/kernel.h"

/*
 * memset and memcpy move 8 bytes at a time in a plain loop, not with
 * `rep stosb`/`rep movsb`: under TCG every iteration of a rep string
 * instruction is a trip through QEMU's main loop, about 50 ns a byte, so
 * zeroing or copying a 4 KiB page took some 200 us (copying a block was
 * nearly all of a drain). The loops are kept from being turned back into
 * calls of these very functions.
 */
#define NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))
typedef uint64_t __attribute__((may_alias)) word;

NO_LIBCALL void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	uint64_t w = 0x0101010101010101ULL * (unsigned char)c;

	for (; n && ((uintptr_t)p & 7); n--)
		*p++ = (unsigned char)c;
	for (; n >= 64; n -= 64, p += 64) {     /* unrolled: TCG runs it 1.5x as fast */
		word *q = (word *)p;
		q[0] = w, q[1] = w, q[2] = w, q[3] = w, q[4] = w, q[5] = w, q[6] = w, q[7] = w;
	}
	for (; n >= 8; n -= 8, p += 8)
		*(word *)p = w;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

NO_LIBCALL void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (!(((uintptr_t)dp ^ (uintptr_t)sp) & 7)) {   /* can both be 8-aligned */
		for (; n && ((uintptr_t)dp & 7); n--)
			*dp++ = *sp++;
		for (; n >= 8; n -= 8, dp += 8, sp += 8)
			*(word *)dp = *(const word *)sp;
	}
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	for (; *a && *a == *b; a++, b++)
		;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n && *a && *a == *b; n--, a++, b++)
		;
	return n ? (unsigned char)*a - (unsigned char)*b : 0;
}

size_t strlcpy(char *d, const char *s, size_t n)
{
	size_t len = strlen(s);

	if (n) {
		size_t k = len < n - 1 ? len : n - 1;
		memcpy(d, s, k);
		d[k] = 0;
	}
	return len;
}
