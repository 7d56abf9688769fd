/*
 * <string.h> for lwIP: the freestanding kernel has no libc, and
 * kernel/kernel.h declares the string functions lwIP calls (memcpy,
 * memset, memmove, memcmp, strlen, strncmp). Only lwIP and net/ see this
 * file (net/include is on their include path, not the kernel's).
 */
#ifndef NET_STRING_H
#define NET_STRING_H
#include "kernel/kernel.h"
#endif
