/*
 * <stdlib.h> for lwIP (see string.h here): netif_find() calls atoi on an
 * interface name's number; mem.c includes it for malloc, which it does not
 * use with MEM_LIBC_MALLOC 0. net/netif.c defines atoi.
 */
#ifndef NET_STDLIB_H
#define NET_STDLIB_H
int atoi(const char *s);
#endif
