/*
 * <arpa/inet.h>, which newlib lacks: IPv4 addresses as text and back
 * (userland/libc/socket.c). AF_INET only: inet_pton and inet_ntop give
 * EAFNOSUPPORT for anything else.
 */
#ifndef _DM_ARPA_INET_H
#define _DM_ARPA_INET_H

#include <netinet/in.h>

in_addr_t inet_addr(const char *s);
int inet_aton(const char *s, struct in_addr *out);
char *inet_ntoa(struct in_addr a);
int inet_pton(int af, const char *restrict src, void *restrict dst);
const char *inet_ntop(int af, const void *restrict src, char *restrict dst, socklen_t size);

#endif
