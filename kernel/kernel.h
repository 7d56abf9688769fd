/*
 * The kernel's core services for every other folder: console output and
 * panic, string functions, the boot command line, and who this node is.
 */
#ifndef KERNEL_KERNEL_H
#define KERNEL_KERNEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "kernel/errno.h"
#include "kernel/param.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* printk.c: every line is stamped with the seconds since boot. */
int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* string.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
size_t strlcpy(char *d, const char *s, size_t n);

/* cmdline.c: `key=value` words from the boot loader and fw_cfg; the last wins. */
void cmdline_init(const char *line);
bool cmdline_get(const char *key, char *val, size_t n);
long cmdline_long(const char *key, long dflt);

/* Who this node is, from the command line (node=, nodes=, cluster=). */
struct self {
	int id;                         /* node id, 0 .. nodes-1 */
	int nodes;                      /* expected cluster size */
	char cluster[CLUSTER_ID_MAX];   /* cluster id */
	uint64_t local_mem;             /* bytes of local RAM */
};
extern struct self self;

/* syscall.c */
int64_t syscall(uint64_t nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f);
/* The wall clock: ns since 1970 (the RTC at the first call, then the node's clock). */
int64_t clock_realtime_ns(void);

/* monitor.c: the console command interpreter, a work of the kernel thread's
 * loop (kernel/kthread.h); monitor_init() registers it. Context: kmain(). */
void monitor_init(void);
/* The monitor drops its held pool pages lost in regions that failed as
 * failure after + 1 .. upto (after VM_LOST_LINK: all, the node lost the pool). */
void monitor_lost(uint64_t after, uint64_t upto);

/* main.c: jiffies since the timer started. */
extern volatile uint64_t ticks;
extern unsigned tick_hz;        /* HZ, or HZ_POLLED when messages are polled */

#endif
