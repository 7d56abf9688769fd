/*
 * printk and panic. Output goes to the node's console (its serial log);
 * each line starts with the seconds since boot so experiment logs can be
 * put on one timeline.
 */
#include "kernel/kernel.h"
#include "arch/arch.h"

static bool at_line_start = true;

static void put(char **p, char *end, char c)
{
	if (*p < end)
		**p = c;
	(*p)++;
}

static void num(char **p, char *end, uint64_t v, int base, bool neg,
		int width, char pad, bool left, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	if (neg && pad == '0') {        /* sign goes before zero padding */
		put(p, end, '-');
		n--;
		width--;
	}
	for (int w = n; !left && w < width; w++)
		put(p, end, pad);
	while (n)
		put(p, end, tmp[--n]);
}

/* A small vsnprintf: %d %i %u %x %X %p %s %c %%, flags - and 0, width, l ll z. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	char *p = buf, *end = size ? buf + size - 1 : buf;

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&p, end, *fmt);
			continue;
		}
		bool left = false;
		char pad = ' ';
		int width = 0, lng = 0;
		char *start = p;
		for (fmt++; *fmt == '-' || *fmt == '0'; fmt++)
			*fmt == '-' ? (left = true) : (pad = '0');
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng++;
		switch (*fmt) {
		case 'd': case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			num(&p, end, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad, left, false);
			break;
		}
		case 'u': case 'x': case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			num(&p, end, v, *fmt == 'u' ? 10 : 16, false, width, pad, left, *fmt == 'X');
			break;
		}
		case 'p':
			put(&p, end, '0');
			put(&p, end, 'x');
			num(&p, end, (uint64_t)va_arg(ap, void *), 16, false, 16, '0', false, false);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			int n = 0;
			if (!s)
				s = "(null)";
			for (; s[n]; n++)
				;
			for (int w = n; !left && w < width; w++)
				put(&p, end, ' ');
			while (*s)
				put(&p, end, *s++);
			break;
		}
		case 'c':
			put(&p, end, (char)va_arg(ap, int));
			break;
		case '%':
			put(&p, end, '%');
			break;
		default:                /* unknown: print it as written */
			put(&p, end, '%');
			if (!*fmt)
				fmt--;
			else
				put(&p, end, *fmt);
			continue;
		}
		for (int w = (int)(p - start); left && w < width; w++)
			put(&p, end, ' ');
	}
	if (size)
		*(p < end ? p : end) = 0;
	return (int)(p - buf);
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void emit(const char *s, int n)
{
	char stamp[24];

	for (int i = 0; i < n; i++) {
		if (at_line_start) {
			uint64_t ns = arch_time_ns();
			int k = snprintf(stamp, sizeof(stamp), "[%5lu.%06lu] ",
					 ns / 1000000000, ns / 1000 % 1000000);
			arch_console_write(stamp, k);
			at_line_start = false;
		}
		int j = i;
		while (j < n && s[j] != '\n')
			j++;
		arch_console_write(s + i, j - i + (j < n));
		if (j < n)
			at_line_start = true;
		i = j;
	}
}

int printk(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	emit(buf, n);
	return n;
}

void panic(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	arch_irq_disable();
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printk("node %d: panic: %s\n", self.id, buf);
	kernel_on_fatal();
	arch_halt();
}
