/*
 * <sys/ioctl.h>, which newlib for x86_64-elf lacks. dmos has no ioctl
 * requests yet: ioctl() fails with ENOTTY on any open descriptor (EBADF on
 * others), which is what programs that ask for a terminal's size expect
 * from a file that is not a terminal.
 */
#ifndef _SYS_IOCTL_H
#define _SYS_IOCTL_H

struct winsize {
	unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel;
};

#define TIOCGWINSZ 0x5413       /* Linux's numbers, should programs print them */
#define TIOCSWINSZ 0x5414
#define FIONREAD   0x541B
#define FIONBIO    0x5421

int ioctl(int fd, unsigned long request, ...);

#endif
