/*
 * wc: count lines, words and bytes of files (or standard input).
 *
 *   wc [-l] [-w] [-c] [FILE...]     no flag: all three; a total line for
 *                                   more than one file
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct counts { unsigned long lines, words, bytes; };

static int show_l, show_w, show_c;

static int count(int fd, struct counts *c)
{
	static char buf[8192];
	int inword = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)buf[i];
			c->lines += ch == '\n';
			if (isspace(ch)) {
				inword = 0;
			} else if (!inword) {
				inword = 1;
				c->words++;
			}
		}
		c->bytes += (unsigned long)n;
	}
	return n < 0 ? -1 : 0;
}

/* The counts asked for, then the name (none for standard input). */
static void print(const struct counts *c, const char *name)
{
	const char *sep = "";

	if (show_l)
		printf("%s%7lu", sep, c->lines), sep = " ";
	if (show_w)
		printf("%s%7lu", sep, c->words), sep = " ";
	if (show_c)
		printf("%s%7lu", sep, c->bytes);
	printf("%s%s\n", *name ? " " : "", name);
}

int main(int argc, char **argv)
{
	struct counts total = { 0, 0, 0 };
	int i = 1, status = 0, files = 0;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		for (const char *f = argv[i] + 1; *f; f++) {
			if (*f == 'l')
				show_l = 1;
			else if (*f == 'w')
				show_w = 1;
			else if (*f == 'c')
				show_c = 1;
			else {
				fprintf(stderr, "wc: unknown flag -%c (wc [-l] [-w] [-c] [FILE...])\n", *f);
				return 2;
			}
		}
	}
	if (!show_l && !show_w && !show_c)
		show_l = show_w = show_c = 1;
	if (i == argc) {
		struct counts c = { 0, 0, 0 };
		if (count(0, &c) < 0) {
			fprintf(stderr, "wc: standard input: %s\n", strerror(errno));
			return 1;
		}
		print(&c, "");
		return 0;
	}
	for (; i < argc; i++, files++) {
		struct counts c = { 0, 0, 0 };
		int fd = open(argv[i], O_RDONLY);
		if (fd < 0 || count(fd, &c) < 0) {
			fprintf(stderr, "wc: %s: %s\n", argv[i], strerror(errno));
			status = 1;
		} else {
			print(&c, argv[i]);
			total.lines += c.lines;
			total.words += c.words;
			total.bytes += c.bytes;
		}
		if (fd >= 0)
			close(fd);
	}
	if (files > 1)
		print(&total, "total");
	return status;
}
