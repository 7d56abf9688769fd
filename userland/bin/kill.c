/*
 * kill: end processes by pid. The kernel kills only processes of this
 * node; a pid of another node (pid / 1000000 is its node) is refused with
 * a line saying so. Exit status 1 if any pid could not be killed.
 *
 *   kill [-SIGNAL] PID...
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dm.h"

#define PID_NODE_STRIDE 1000000         /* pid = node * this + n (sched/sched.h) */

int main(int argc, char **argv)
{
	int sig = SIGKILL, i = 1, bad = 0, self = dm_node();

	if (i < argc && argv[i][0] == '-' && argv[i][1]) {
		char *end;
		sig = (int)strtol(argv[i] + 1, &end, 10);
		if (*end || sig <= 0 || sig >= 64) {
			printf("kill: %s: not a signal number\n", argv[i]);
			return 2;
		}
		i++;
	}
	if (i == argc) {
		printf("usage: kill [-SIGNAL] PID...\n");
		return 2;
	}
	for (; i < argc; i++) {
		char *end;
		long pid = strtol(argv[i], &end, 10);

		if (!*argv[i] || *end || pid <= 0 || pid > 0x7fffffff) {
			printf("kill: %s: not a pid\n", argv[i]);
			bad = 1;
		} else if (kill((int)pid, sig) < 0) {
			int err = errno;
			if (err == ESRCH && self >= 0 && pid / PID_NODE_STRIDE != self)
				printf("kill: %ld: runs on node %ld; only this node's (%d) processes "
				       "can be killed\n", pid, pid / PID_NODE_STRIDE, self);
			else if (err == ESRCH)
				printf("kill: %ld: no such process\n", pid);
			else
				printf("kill: %ld: %s\n", pid, strerror(err));
			bad = 1;
		}
	}
	return bad;
}
