/*
 * <netinet/tcp.h>, which newlib lacks: TCP's socket options (level
 * IPPROTO_TCP). dmos has TCP_NODELAY; the others fail with ENOPROTOOPT.
 */
#ifndef _DM_NETINET_TCP_H
#define _DM_NETINET_TCP_H

#define TCP_NODELAY     1
#define TCP_MAXSEG      2
#define TCP_CORK        3
#define TCP_KEEPIDLE    4
#define TCP_KEEPINTVL   5
#define TCP_KEEPCNT     6

#endif
