/*
 * stat: what the file system says of files: size, blocks, type and mode,
 * inode, links, device, and the access, modification and change times
 * (UTC, to the nanosecond).
 *
 *   stat [-c FORMAT] FILE...    -c: FORMAT for each file, then a newline:
 *       %n name   %s size   %b blocks (of %B = 512 bytes)   %o I/O block
 *       %F type   %a mode in octal   %A mode as ls shows it   %f raw mode (hex)
 *       %i inode  %h links  %d device
 *       %X %Y %Z  access, modification, change time in seconds since 1970
 *       %x %y %z  the same as dates   %%  a %
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *type_of(mode_t m)
{
	return S_ISREG(m) ? "regular file" : S_ISDIR(m) ? "directory" :
	       S_ISCHR(m) ? "character special file" : "unknown";
}

static void mode_text(mode_t m, char out[11])
{
	strcpy(out, "----------");
	out[0] = S_ISDIR(m) ? 'd' : S_ISCHR(m) ? 'c' : '-';
	for (int i = 0; i < 9; i++)
		if (m & (0400 >> i))
			out[1 + i] = "rwx"[i % 3];
}

/* "2024-05-01 12:00:00.123456789 +0000" */
static void date(const struct timespec *ts, char *out, size_t n)
{
	struct tm tm;
	char day[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, n, "%s.%09ld +0000", day, (long)ts->tv_nsec);
}

/* One directive of -c's FORMAT (format_ok() checked it). */
static void directive(char c, const char *name, const struct stat *st)
{
	char text[64];

	switch (c) {
	case 'n': printf("%s", name); break;
	case 's': printf("%lld", (long long)st->st_size); break;
	case 'b': printf("%lld", (long long)st->st_blocks); break;
	case 'B': printf("512"); break;
	case 'o': printf("%ld", (long)st->st_blksize); break;
	case 'F': printf("%s", type_of(st->st_mode)); break;
	case 'a': printf("%o", (unsigned)(st->st_mode & 07777)); break;
	case 'A': mode_text(st->st_mode, text); printf("%s", text); break;
	case 'f': printf("%x", (unsigned)st->st_mode); break;
	case 'i': printf("%llu", (unsigned long long)st->st_ino); break;
	case 'h': printf("%lu", (unsigned long)st->st_nlink); break;
	case 'd': printf("%llu", (unsigned long long)st->st_dev); break;
	case 'X': printf("%lld", (long long)st->st_atim.tv_sec); break;
	case 'Y': printf("%lld", (long long)st->st_mtim.tv_sec); break;
	case 'Z': printf("%lld", (long long)st->st_ctim.tv_sec); break;
	case 'x': date(&st->st_atim, text, sizeof(text)); printf("%s", text); break;
	case 'y': date(&st->st_mtim, text, sizeof(text)); printf("%s", text); break;
	case 'z': date(&st->st_ctim, text, sizeof(text)); printf("%s", text); break;
	default: putchar('%'); break;
	}
}

#define DIRECTIVES "nsbBoFaAfihdXYZxyz%"

/* -c: FORMAT is checked before any file is looked at. */
static int format_ok(const char *f)
{
	for (; *f; f++) {
		if (*f != '%')
			continue;
		if (!*++f) {
			fprintf(stderr, "stat: -c: the format ends in a lone %%\n");
			return 0;
		}
		if (!strchr(DIRECTIVES, *f)) {
			fprintf(stderr, "stat: -c: unknown directive %%%c (stat.c lists them)\n", *f);
			return 0;
		}
	}
	return 1;
}

static void show(const char *name, const struct stat *st, const char *format)
{
	char mode[11], a[64], m[64], c[64];

	if (format) {
		for (const char *f = format; *f; f++)
			if (*f != '%')
				putchar(*f);
			else
				directive(*++f, name, st);
		putchar('\n');
		return;
	}
	mode_text(st->st_mode, mode);
	date(&st->st_atim, a, sizeof(a));
	date(&st->st_mtim, m, sizeof(m));
	date(&st->st_ctim, c, sizeof(c));
	printf("  File: %s\n", name);
	printf("  Size: %-15lld Blocks: %-10lld IO Block: %-6ld %s\n", (long long)st->st_size,
	       (long long)st->st_blocks, (long)st->st_blksize, type_of(st->st_mode));
	printf("Device: %-13llu Inode: %-11llu Links: %lu\n", (unsigned long long)st->st_dev,
	       (unsigned long long)st->st_ino, (unsigned long)st->st_nlink);
	printf("Access: (%04o/%s)\n", (unsigned)(st->st_mode & 07777), mode);
	printf("Access: %s\nModify: %s\nChange: %s\n", a, m, c);
}

int main(int argc, char **argv)
{
	const char *format = NULL;
	int i = 1, status = 0;

	if (i + 1 < argc && !strcmp(argv[i], "-c")) {
		format = argv[i + 1];
		i += 2;
		if (!format_ok(format))
			return 2;
	}
	if (i < argc && argv[i][0] == '-' && argv[i][1]) {
		fprintf(stderr, "stat: unknown option %s (stat [-c FORMAT] FILE...)\n", argv[i]);
		return 2;
	}
	if (i == argc) {
		fprintf(stderr, "stat: which files? (stat [-c FORMAT] FILE...)\n");
		return 2;
	}
	for (; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "stat: %s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		show(argv[i], &st, format);
	}
	return status;
}
