/* Console input ring (see console.h). */
#include "kernel/kernel.h"
#include "kernel/console.h"
#include "sched/sched.h"
#include "arch/arch.h"
#include "fs/fs.h"

static char ring[1024];
static volatile unsigned head, tail;    /* head: next to read; tail: next to write */
static int owner;                       /* pid of init when it has the console */

void console_give(int pid)
{
	owner = pid;
}

bool console_monitor_reads(void)
{
	if (owner && !proc_find(owner))
		owner = 0;              /* init is gone: the monitor takes over */
	return !owner;
}

void console_poll(void)
{
	int c;
	bool got = false;

	while ((c = arch_console_getc()) >= 0) {
		if (tail - head < sizeof(ring))
			ring[tail++ % sizeof(ring)] = (char)c;
		got = true;
	}
	if (got) {
		sched_wakeup(ring);
		poll_wake();
	}
}

bool console_ready(void)
{
	return head != tail;
}

int console_getc(void)
{
	uint64_t flags = arch_irq_save();
	int c = head == tail ? -1 : (unsigned char)ring[head++ % sizeof(ring)];

	arch_irq_restore(flags);
	return c;
}

int console_read(char *buf, size_t n)
{
	size_t got = 0;

	for (;;) {              /* checked with interrupts off: a key the tick
				   brings in now finds us asleep, not about to be */
		uint64_t flags = arch_irq_save();
		bool empty = head == tail;
		if (empty && !proc_interrupted(current))
			sched_sleep(ring, 0);
		arch_irq_restore(flags);
		if (!empty)
			break;
		if (proc_interrupted(current))
			return -EINTR;
	}
	while (got < n) {
		int c = console_getc();
		if (c < 0)
			break;
		buf[got++] = (char)(c == '\r' ? '\n' : c);
		arch_console_write(&buf[got - 1], 1);   /* echo, as a terminal would */
		if (c == '\r' || c == '\n')
			break;
	}
	return (int)got;
}
