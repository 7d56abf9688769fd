/*
 * Console input: the timer tick moves bytes from the serial port into a
 * ring; the monitor takes them without waiting, a process's read() of fd 0
 * sleeps until some arrive.
 */
#ifndef KERNEL_CONSOLE_H
#define KERNEL_CONSOLE_H

#include <stddef.h>

void console_poll(void);                /* from the tick */
int console_getc(void);                 /* a byte, or -1 */
int console_read(char *buf, size_t n);  /* at least one byte (sleeps), or -EINTR */

#endif
