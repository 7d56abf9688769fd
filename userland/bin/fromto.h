/*
 * What cp and mv share: their arguments. `PROG FROM TO` or `PROG FROM...
 * DIR`; a TO that is a directory gets FROM's last component inside it.
 */
#ifndef FROMTO_H
#define FROMTO_H

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "dm.h"

/*
 * Call fn(from, to) for each FROM of argv. Return: the exit status: 0 if
 * every fn returned 0; 1 if one failed; 2 for a usage error (said so).
 */
static inline int each_from_to(const char *prog, int argc, char **argv,
			       int (*fn)(const char *from, const char *to))
{
	struct stat st;
	int status = 0, todir;

	if (argc < 3) {
		fprintf(stderr, "%s: %s FROM TO, or %s FROM... DIR\n", prog, prog, prog);
		return 2;
	}
	todir = stat(argv[argc - 1], &st) == 0 && S_ISDIR(st.st_mode);
	if (argc > 3 && !todir) {
		fprintf(stderr, "%s: %s: not a directory\n", prog, argv[argc - 1]);
		return 1;
	}
	for (int i = 1; i < argc - 1; i++) {
		char to[DM_PATH_MAX];
		const char *base = strrchr(argv[i], '/');
		if (todir)
			snprintf(to, sizeof(to), "%s/%s", argv[argc - 1], base ? base + 1 : argv[i]);
		else
			snprintf(to, sizeof(to), "%s", argv[argc - 1]);
		status |= fn(argv[i], to) < 0;
	}
	return status;
}

#endif
