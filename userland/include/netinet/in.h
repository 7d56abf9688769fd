/*
 * <netinet/in.h>, which newlib lacks: IPv4 addresses and ports (Linux's
 * layouts), and the byte-order functions. IPv6's structures are here for
 * code that names them; dmos has no IPv6 (EAFNOSUPPORT).
 */
#ifndef _DM_NETINET_IN_H
#define _DM_NETINET_IN_H

#include <stdint.h>
#include <sys/types.h>          /* in_addr_t, in_port_t */
#include <sys/socket.h>

#ifndef _IN_ADDR_T_DECLARED
typedef uint32_t in_addr_t;
#define _IN_ADDR_T_DECLARED
#endif
#ifndef _IN_PORT_T_DECLARED
typedef uint16_t in_port_t;
#define _IN_PORT_T_DECLARED
#endif

struct in_addr {
	in_addr_t s_addr;       /* network byte order */
};

struct sockaddr_in {
	sa_family_t sin_family; /* AF_INET */
	in_port_t sin_port;     /* network byte order */
	struct in_addr sin_addr;
	unsigned char sin_zero[8];
};

struct in6_addr {
	uint8_t s6_addr[16];
};

struct sockaddr_in6 {
	sa_family_t sin6_family;
	in_port_t sin6_port;
	uint32_t sin6_flowinfo;
	struct in6_addr sin6_addr;
	uint32_t sin6_scope_id;
};

#define IPPROTO_IP      0
#define IPPROTO_ICMP    1
#define IPPROTO_TCP     6
#define IPPROTO_UDP     17
#define IPPROTO_IPV6    41

#define INADDR_ANY       ((in_addr_t)0x00000000)
#define INADDR_BROADCAST ((in_addr_t)0xffffffff)
#define INADDR_NONE      ((in_addr_t)0xffffffff)
#define INADDR_LOOPBACK  ((in_addr_t)0x7f000001)    /* dmos has no loopback: use the node's address */

#define INET_ADDRSTRLEN  16
#define INET6_ADDRSTRLEN 46

uint32_t htonl(uint32_t v);
uint16_t htons(uint16_t v);
uint32_t ntohl(uint32_t v);
uint16_t ntohs(uint16_t v);

#endif
