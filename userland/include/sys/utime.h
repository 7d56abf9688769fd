/*
 * <sys/utime.h> for dmos: newlib's is a stand-in that has struct utimbuf
 * but not utime() (it leaves it to each system); dmos's is in
 * userland/libc/files.c.
 */
#ifndef _SYS_UTIME_H
#define _SYS_UTIME_H

#include <sys/types.h>

struct utimbuf {
	time_t actime;
	time_t modtime;
};

int utime(const char *path, const struct utimbuf *times);

#endif
