/*
 * init: the first program of a node, started by the kernel when its
 * command line says init=init. Says which node of which cluster this is,
 * then keeps a shell (sh) on the console: whenever it exits, another one
 * starts. A shell that keeps ending at once (no console input, say) is
 * restarted at most once a second.
 *
 * When the cluster file system has a web root (/www, which `dmos up` puts
 * on the disks it makes), init first starts httpd on this node, so that
 * every node serves the cluster IP's port 80 (docs/net.md). init does not
 * watch it: `ps` shows it, `kill` ends it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "dm.h"

#define SHELL      "sh"
#define QUICK_NS   1000000000ULL        /* a shell that lived less than this ... */
#define BACKOFF_NS 1000000000ULL        /* ... is restarted after this pause */
#define WEB_ROOT   "/www"
#define WEB_SERVER "httpd"

/* httpd on this node, serving WEB_ROOT, if there is one. */
static void start_web(int node)
{
	char *argv[] = { WEB_SERVER, NULL };
	struct stat st;
	int pid;

	if (stat(WEB_ROOT, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if ((pid = dm_spawn(WEB_SERVER, argv, node)) < 0)
		printf("init: cannot start %s: %s\n", WEB_SERVER, strerror(errno));
	else
		printf("init: started %s (pid %d) for %s\n", WEB_SERVER, pid, WEB_ROOT);
}

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
	printf("\n");
	start_web(ni.node >= 0 ? ni.node : DM_NODE_ANY);
	printf("init: type help for the shell's commands\n");
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
