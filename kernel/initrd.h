/* The initrd: a cpio (newc) archive of programs, loaded by GRUB as a module;
 * fs/initrdfs.c makes it a file system, which spawns read programs from. */
#ifndef KERNEL_INITRD_H
#define KERNEL_INITRD_H

#include <stdint.h>

void initrd_init(const void *data, uint64_t len);

/*
 * Call fn for every entry of the archive in order (name as stored, its
 * bytes, the cpio mode and mtime fields) until fn returns nonzero; for the
 * initrd's file system (fs/initrdfs.c). Return: 1 if fn stopped it, else 0.
 */
typedef int (*initrd_fn)(const char *name, const uint8_t *data, uint64_t len, uint32_t mode,
			 uint64_t mtime, void *ctx);
int initrd_walk(initrd_fn fn, void *ctx);

/* Call fn for every file; for listing. */
void initrd_each(void (*fn)(const char *name, uint64_t len));

#endif
