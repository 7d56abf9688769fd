/*
 * BSD sockets for programs (net/socket.c): the system calls of
 * kernel/sysnum.h's socket block, for kernel/syscall.c's table, and what
 * the network work and the monitor need of them. See docs/net.md,
 * "Sockets".
 */
#ifndef NET_SOCKET_H
#define NET_SOCKET_H

#include "fs/fs.h"              /* SYSFILE_ARGS: the same handler signature */

int64_t sys_socket(SYSFILE_ARGS);
int64_t sys_bind(SYSFILE_ARGS);
int64_t sys_listen(SYSFILE_ARGS);
int64_t sys_accept(SYSFILE_ARGS);
int64_t sys_connect(SYSFILE_ARGS);
int64_t sys_sendto(SYSFILE_ARGS);
int64_t sys_recvfrom(SYSFILE_ARGS);
int64_t sys_shutdown(SYSFILE_ARGS);
int64_t sys_setsockopt(SYSFILE_ARGS);
int64_t sys_getsockopt(SYSFILE_ARGS);
int64_t sys_getsockname(SYSFILE_ARGS);
int64_t sys_getpeername(SYSFILE_ARGS);

/**
 * sock_show - print the node's sockets: how many are open, and each
 * listener (TCP listening, UDP bound) with its port and owner
 * Context: the kernel thread (the monitor's `net`).
 */
void sock_show(void);

#endif
