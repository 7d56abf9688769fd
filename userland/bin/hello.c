/*
 * hello: the first dmos program. Says where it runs and exercises what
 * every program leans on: stdio, malloc, strings, libm and the clocks.
 * Its last line is "hello: ok" when everything checked out.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dm.h"

int main(int argc, char **argv)
{
	struct dm_nodeinfo ni;
	struct timespec t0, t1;
	volatile double two = 2.0;      /* so libm computes, not the compiler */
	size_t n = 1 << 20;
	int bad = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (dm_nodeinfo(&ni) >= 0)
		printf("hello from node %d of %d in cluster %s\n", ni.node, ni.nodes, ni.cluster);
	else
		printf("hello from somewhere (dm_nodeinfo: %s)\n", strerror(errno));

	printf("argc %d:", argc);
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");

	char *buf = malloc(n);
	if (!buf) {
		printf("malloc(%zu) failed\n", n);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(i * 7);
	for (size_t i = 0; i < n; i++)
		bad += buf[i] != (char)(i * 7);
	printf("malloc: %zu bytes at %p, %d wrong\n", n, (void *)buf, bad);
	free(buf);

	const char *s = "disaggregated";
	printf("strlen(\"%s\") = %zu, strcmp with \"pool\" = %d\n", s, strlen(s),
	       strcmp(s, "pool") < 0 ? -1 : 1);
	bad += strlen(s) != 13 || strcmp(s, "pool") >= 0;

	double r = sqrt(two), x = sin(M_PI / (6 * two / 2));
	printf("sqrt(2) = %.6f, sin(pi/6) = %.6f, %s = %d\n", r, x, "answer", 42);
	bad += fabs(r - 1.414214) > 1e-6 || fabs(x - 0.5) > 1e-9;

	time_t now = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("time: %lld s since 1970, this took %ld us\n", (long long)now,
	       (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));

	printf("hello: %s\n", bad ? "FAILED" : "ok");
	return bad != 0;
}
