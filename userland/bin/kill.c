/*
 * kill: end processes by pid, on any node of the cluster (the kernel
 * sends the kill to the node that runs the process). Every signal ends
 * the process (dmos has no signal handlers); its parent's wait() sees
 * that signal. Signal 0 only checks that the pid exists. Exit status 1 if
 * any pid could not be killed, 2 for bad usage.
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
	int sig = SIGKILL, i = 1, bad = 0;

	if (i < argc && argv[i][0] == '-' && argv[i][1]) {
		char *end;
		long s = strtol(argv[i] + 1, &end, 10);
		if (*end || s < 0 || s >= DM_NSIG) {
			printf("kill: %s: not a signal number (0 to %d)\n", argv[i], DM_NSIG - 1);
			return 2;
		}
		sig = (int)s;
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
			if (err == ESRCH)
				printf("kill: %ld: no such process\n", pid);
			else if (err == EHOSTDOWN)
				printf("kill: %ld: its node %ld is down\n", pid, pid / PID_NODE_STRIDE);
			else
				printf("kill: %ld: %s\n", pid, strerror(err));
			bad = 1;
		} else if (sig) {
			printf("kill: %ld: killed (signal %d)\n", pid, sig);
		}
	}
	return bad;
}
