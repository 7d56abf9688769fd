/*
 * <sys/socket.h>, which newlib lacks: BSD sockets as dmos has them (TCP
 * and UDP over IPv4, net/socket.c in the kernel), with Linux's constants
 * and layouts so that portable programs build unchanged. The calls are in
 * userland/libc/socket.c. What dmos does not have is declared only where
 * portable code names it without calling it (AF_INET6, SO_LINGER, ...):
 * using it fails with EAFNOSUPPORT or ENOPROTOOPT.
 */
#ifndef _DM_SYS_SOCKET_H
#define _DM_SYS_SOCKET_H

#include <sys/types.h>          /* size_t, ssize_t */

typedef unsigned int socklen_t;
typedef unsigned short sa_family_t;

struct sockaddr {
	sa_family_t sa_family;
	char sa_data[14];
};

struct sockaddr_storage {       /* room for any address, aligned for all */
	sa_family_t ss_family;
	char __ss_pad[118];
	unsigned long __ss_align;
};

struct linger {
	int l_onoff;
	int l_linger;
};

#define AF_UNSPEC       0
#define AF_UNIX         1
#define AF_LOCAL        AF_UNIX
#define AF_INET         2
#define AF_INET6        10
#define PF_UNSPEC       AF_UNSPEC
#define PF_UNIX         AF_UNIX
#define PF_LOCAL        AF_LOCAL
#define PF_INET         AF_INET
#define PF_INET6        AF_INET6

#define SOCK_STREAM     1
#define SOCK_DGRAM      2
#define SOCK_RAW        3
#define SOCK_SEQPACKET  5
#define SOCK_NONBLOCK   04000
#define SOCK_CLOEXEC    02000000

#define SOL_SOCKET      1
#define SO_DEBUG        1
#define SO_REUSEADDR    2
#define SO_TYPE         3
#define SO_ERROR        4
#define SO_DONTROUTE    5
#define SO_BROADCAST    6
#define SO_SNDBUF       7
#define SO_RCVBUF       8
#define SO_KEEPALIVE    9
#define SO_OOBINLINE    10
#define SO_LINGER       13
#define SO_REUSEPORT    15
#define SO_RCVLOWAT     18
#define SO_SNDLOWAT     19
#define SO_RCVTIMEO     20
#define SO_SNDTIMEO     21

#define SOMAXCONN       128     /* listen()'s backlog is capped at this */

#define MSG_OOB         0x1
#define MSG_PEEK        0x2
#define MSG_DONTROUTE   0x4
#define MSG_TRUNC       0x20
#define MSG_DONTWAIT    0x40
#define MSG_EOR         0x80
#define MSG_WAITALL     0x100
#define MSG_NOSIGNAL    0x4000
#define MSG_MORE        0x8000

#define SHUT_RD         0
#define SHUT_WR         1
#define SHUT_RDWR       2

int socket(int domain, int type, int protocol);
int bind(int fd, const struct sockaddr *addr, socklen_t len);
int listen(int fd, int backlog);
int accept(int fd, struct sockaddr *restrict addr, socklen_t *restrict len);
int accept4(int fd, struct sockaddr *restrict addr, socklen_t *restrict len, int flags);
int connect(int fd, const struct sockaddr *addr, socklen_t len);
ssize_t send(int fd, const void *buf, size_t n, int flags);
ssize_t recv(int fd, void *buf, size_t n, int flags);
ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
	       socklen_t len);
ssize_t recvfrom(int fd, void *restrict buf, size_t n, int flags, struct sockaddr *restrict from,
		 socklen_t *restrict len);
int shutdown(int fd, int how);
int setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int getsockopt(int fd, int level, int name, void *restrict val, socklen_t *restrict len);
int getsockname(int fd, struct sockaddr *restrict addr, socklen_t *restrict len);
int getpeername(int fd, struct sockaddr *restrict addr, socklen_t *restrict len);

#endif
