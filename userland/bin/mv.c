/*
 * mv: rename a file or directory (atomically: rename()), also into a
 * directory. Across file systems (/tmp and /) it fails: EXDEV.
 *
 *   mv FROM TO              TO an existing directory: TO/(the last part of FROM)
 *   mv FROM... DIR
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "fromto.h"

static int mv(const char *from, const char *to)
{
	if (rename(from, to) == 0)
		return 0;
	fprintf(stderr, "mv: %s -> %s: %s\n", from, to, strerror(errno));
	return -1;
}

int main(int argc, char **argv)
{
	return each_from_to("mv", argc, argv, mv);
}
