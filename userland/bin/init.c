/*
 * init: the first program of a node, started by the kernel when its
 * command line says init=init. Says which node of which cluster this is,
 * then keeps a shell (sh) on the console: whenever it exits, another one
 * starts. A shell that keeps ending at once (no console input, say) is
 * restarted at most once a second.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "dm.h"

#define SHELL      "sh"
#define QUICK_NS   1000000000ULL        /* a shell that lived less than this ... */
#define BACKOFF_NS 1000000000ULL        /* ... is restarted after this pause */

int main(void)
{
	struct dm_nodeinfo ni;
	struct dm_meminfo mi;
	char *argv[] = { SHELL, NULL };

	if (dm_nodeinfo(&ni) < 0) {
		printf("init: dm_nodeinfo: %s\n", strerror(errno));
		ni = (struct dm_nodeinfo){ -1, 0, "?" };
	}
	printf("\ndmos: node %d of %d in cluster %s", ni.node, ni.nodes, ni.cluster);
	if (dm_meminfo(&mi) == 0)
		printf(", %llu MiB local, %llu MiB pool", (unsigned long long)(mi.local_total >> 20),
		       (unsigned long long)(mi.pool_total >> 20));
	printf("\ninit: type help for the shell's commands\n");
	fflush(stdout);

	for (;;) {
		uint64_t t0 = dm_now_ns();
		int status = 0, pid = dm_spawn(SHELL, argv, ni.node >= 0 ? ni.node : DM_NODE_ANY);

		if (pid < 0) {
			printf("init: cannot start %s: %s\n", SHELL, strerror(errno));
		} else if (dm_wait(pid, &status) < 0) {
			printf("init: wait for %s (pid %d): %s\n", SHELL, pid, strerror(errno));
		} else if (WIFSIGNALED(status)) {
			printf("init: %s (pid %d) killed by signal %d; starting another\n", SHELL, pid,
			       WTERMSIG(status));
		} else {
			printf("init: %s (pid %d) exited with status %d; starting another\n", SHELL, pid,
			       WEXITSTATUS(status));
		}
		fflush(stdout);
		if (pid < 0 || dm_now_ns() - t0 < QUICK_NS)
			dm_sleep_ns(BACKOFF_NS);
	}
}
