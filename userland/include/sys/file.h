/*
 * <sys/file.h>: newlib's (the fcntl.h definitions) and flock(), which it
 * lacks. dmos's flock() takes the process's fcntl byte-range lock of the
 * whole file (userland/libc/files.c), so flock and fcntl locks are the
 * same locks, owned by the process.
 */
#ifndef _DM_SYS_FILE_H
#define _DM_SYS_FILE_H

#include <sys/fcntl.h>         /* LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN */

int flock(int fd, int op);

#endif
