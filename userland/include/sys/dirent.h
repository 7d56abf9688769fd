/*
 * <sys/dirent.h> for dmos: newlib's <dirent.h> declares opendir() and the
 * rest and includes this file for struct dirent and DIR, which each system
 * defines (newlib's own stand-in is an #error). userland/libc/dirent.c
 * reads directories with SYS_getdents into the buffer of a DIR.
 */
#ifndef _SYS_DIRENT_H
#define _SYS_DIRENT_H

#include <sys/types.h>
#include "dm_abi.h"

#define DT_UNKNOWN 0
#define DT_CHR     DM_DT_CHR
#define DT_DIR     DM_DT_DIR
#define DT_REG     DM_DT_REG

#define _DIRENT_HAVE_D_TYPE 1

struct dirent {
	ino_t d_ino;
	unsigned char d_type;           /* DT_* */
	char d_name[DM_FILENAME_MAX + 1];
};

typedef struct {
	int fd;
	int pos, len;                   /* in buf: the next record, the bytes there */
	struct dirent ent;              /* what readdir() returns */
	char buf[2048];                 /* struct dm_dirent records */
} DIR;

#endif
