/*
 * Console input: the timer tick moves bytes from the serial port into a
 * ring; the monitor takes them without waiting, a process's read() of fd 0
 * sleeps until some arrive.
 */
#ifndef KERNEL_CONSOLE_H
#define KERNEL_CONSOLE_H

#include <stddef.h>
#include <stdbool.h>

void console_poll(void);                /* from the tick */
int console_getc(void);                 /* a byte, or -1 */
int console_read(char *buf, size_t n);  /* at least one byte (sleeps), or -EINTR */
bool console_ready(void);               /* is there input to read? (poll) */

/* Hand console input to process pid and its children (init); the monitor
 * reads it again once that process is gone. */
void console_give(int pid);
bool console_monitor_reads(void);       /* may the monitor take input now? */

#endif
