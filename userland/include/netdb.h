/*
 * <netdb.h>, which newlib lacks: getaddrinfo() for what dmos can name
 * without a resolver (there is no DNS): dotted IPv4 addresses, "localhost"
 * (the node's own address), and with AI_PASSIVE and no host INADDR_ANY;
 * services are port numbers. userland/libc/socket.c. Error codes are
 * glibc's.
 */
#ifndef _DM_NETDB_H
#define _DM_NETDB_H

#include <sys/socket.h>
#include <netinet/in.h>

struct addrinfo {
	int ai_flags;
	int ai_family;
	int ai_socktype;
	int ai_protocol;
	socklen_t ai_addrlen;
	struct sockaddr *ai_addr;
	char *ai_canonname;
	struct addrinfo *ai_next;
};

#define AI_PASSIVE      0x0001  /* no host: INADDR_ANY, to bind */
#define AI_CANONNAME    0x0002
#define AI_NUMERICHOST  0x0004  /* host must be a dotted address */
#define AI_V4MAPPED     0x0008
#define AI_ALL          0x0010
#define AI_ADDRCONFIG   0x0020
#define AI_NUMERICSERV  0x0400  /* service must be a number (it always is here) */

#define EAI_BADFLAGS    -1
#define EAI_NONAME      -2
#define EAI_AGAIN       -3
#define EAI_FAIL        -4
#define EAI_FAMILY      -6
#define EAI_SOCKTYPE    -7
#define EAI_SERVICE     -8
#define EAI_MEMORY      -10
#define EAI_SYSTEM      -11
#define EAI_OVERFLOW    -12

#define NI_MAXHOST      1025
#define NI_MAXSERV      32
#define NI_NUMERICHOST  1
#define NI_NUMERICSERV  2

int getaddrinfo(const char *restrict host, const char *restrict service,
		const struct addrinfo *restrict hints, struct addrinfo **restrict res);
void freeaddrinfo(struct addrinfo *ai);
const char *gai_strerror(int err);
int getnameinfo(const struct sockaddr *restrict addr, socklen_t len, char *restrict host,
		socklen_t hostlen, char *restrict serv, socklen_t servlen, int flags);

#endif
