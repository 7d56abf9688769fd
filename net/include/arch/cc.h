/*
 * lwIP's compiler and platform port (lwip/arch.h includes it): the kernel is
 * freestanding, so this says which libc headers lwIP must not look for,
 * gives the printf formats of its types, and routes its diagnostics and
 * assertions to printk and panic. Only the compiler's own headers
 * (stddef.h, stdint.h, limits.h) are used; string.h and stdlib.h are the
 * shims beside this folder, over kernel/kernel.h.
 */
#ifndef NET_ARCH_CC_H
#define NET_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>
#include "kernel/kernel.h"

/* No libc: lwIP's own ctype, and our formats (kernel printk: %u, %d, %x, %lu) */
#define LWIP_NO_CTYPE_H         1
#define LWIP_NO_INTTYPES_H      1
#define LWIP_NO_UNISTD_H        1
#define X8_F    "02x"
#define U16_F   "u"
#define S16_F   "d"
#define X16_F   "x"
#define U32_F   "u"
#define S32_F   "d"
#define X32_F   "x"
#define SZT_F   "lu"

/* lwIP wants ssize_t (it looks for SSIZE_MAX, which limits.h lacks here) */
typedef long ssize_t;
#define SSIZE_MAX LONG_MAX

#define BYTE_ORDER LITTLE_ENDIAN        /* x86_64 */

#define LWIP_PLATFORM_DIAG(x)   do { printk x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) panic("lwip: assertion \"%s\" failed at %s:%d", \
				      x, __FILE__, __LINE__)

/* TCP initial sequence numbers, DHCP transaction ids, local ports: the
 * cycle counter's low bits, which differ from node to node and boot to boot
 * (not cryptographic; nothing here needs that yet) */
uint32_t net_rand(void);
#define LWIP_RAND() net_rand()

#endif
