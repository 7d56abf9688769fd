/*
 * What httpd and kvd share: a listening TCP socket, non-blocking
 * descriptors, the event loop (srv_loop), a monotonic clock in
 * milliseconds, argument parsing and a clean stop. Both are single-threaded event loops over poll(), written in
 * portable POSIX so that they build unchanged against dmos's newlib and
 * against glibc on the host (make -C userland host-servers).
 *
 * Stopping: on a host, SIGTERM and SIGINT set srv_stop and the loop ends
 * with its counts printed. dmos has no signal handlers (every signal ends
 * the process at once, dm_abi.h), so there a kill ends the server without
 * that last line; what the server says while running (its listening line)
 * is all a dmos test can read. SIGPIPE is ignored where it exists, and
 * sends carry MSG_NOSIGNAL, so a peer that went away is an EPIPE.
 */
#ifndef SRV_H
#define SRV_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static volatile sig_atomic_t srv_stop;

static void srv_on_signal(int sig)
{
	(void)sig;
	srv_stop = 1;
}

/* SIGTERM and SIGINT stop the loop; SIGPIPE is ignored. */
static inline void srv_signals(void)
{
	signal(SIGTERM, srv_on_signal);
	signal(SIGINT, srv_on_signal);
	signal(SIGPIPE, SIG_IGN);
}

static inline uint64_t srv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * A decimal argument in [min, max] for option opt of prog; anything else
 * (empty, trailing bytes, out of range) is said and exits with 2.
 */
static inline long srv_number(const char *prog, int opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max) {
		fprintf(stderr, "%s: -%c %s: want a number from %ld to %ld\n", prog, opt, s, min, max);
		exit(2);
	}
	return v;
}

static inline int srv_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * A non-blocking TCP socket listening on port of every local address
 * (INADDR_ANY: the node's own address and the cluster's).
 * Return: its descriptor, or -1 with errno set and the failing step said
 * on stderr.
 */
static inline int srv_listen(const char *prog, int port, int backlog)
{
	struct sockaddr_in a;
	int one = 1, fd, err;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, backlog) < 0 ||
	    srv_nonblock(fd) < 0) {
		err = errno;
		fprintf(stderr, "%s: port %d: %s\n", prog, port, strerror(err));
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * Accept one connection from listener lfd, non-blocking, Nagle off (the
 * servers write whole replies).
 * Return: its descriptor; -1 with errno EAGAIN when none is waiting, or
 * the error (EMFILE: out of descriptors, the caller stops accepting for
 * a while).
 */
static inline int srv_accept(int lfd)
{
	int one = 1;
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		return -1;
	if (srv_nonblock(fd) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * How many more descriptors this process can open, counted up to max by
 * duplicating fd (any open one) until that fails. Portable where
 * getrlimit is not (newlib has none): dmos gives a process 256
 * (DM_OPEN_MAX).
 */
static inline int srv_fd_room(int fd, int max)
{
	int got[max > 0 ? max : 1], n = 0;

	while (n < max && (got[n] = dup(fd)) >= 0)
		n++;
	for (int i = 0; i < n; i++)
		close(got[i]);
	return n;
}

/* Whether errno after a failed read or send means "try again later". */
static inline int srv_again(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/*
 * printf at buf + *len (cap bytes in all), *len moved past what was
 * written. What does not fit is cut; the servers size their replies so
 * that it never has to be.
 */
static inline void srv_append(char *buf, size_t *len, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline void srv_append(char *buf, size_t *len, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n < cap - *len ? (size_t)n : cap - 1 - *len;
}

/*
 * Send buf[*off..len) on non-blocking fd, as much as it takes; *off
 * moves, *last_ms is the time of the last progress.
 * Return: 0 (all sent, or the socket is full), -1 when it failed.
 */
static inline int srv_send(int fd, const char *buf, size_t *off, size_t len, uint64_t *last_ms)
{
	while (*off < len) {
		ssize_t n = send(fd, buf + *off, len - *off, MSG_NOSIGNAL);
		if (n < 0)
			return srv_again() ? 0 : -1;
		*off += (size_t)n;
		*last_ms = srv_now_ms();
	}
	return 0;
}

/*
 * What a server tells srv_loop() about its connections. state is what
 * open() made for one.
 *   open(fd)            a new connection: its state, or NULL (out of memory)
 *   events(state)       POLLIN and/or POLLOUT, what it waits for now
 *   deadline(state)     when (srv_now_ms()) it is to be dropped if nothing
 *                       happens: idle, or done lingering
 *   ready(state, rev)   poll() said rev: read, answer, send. Return: 0, or
 *                       -1 to close it
 *   close(state)        free it (and what it holds but its socket)
 */
struct srv_ops {
	void *(*open)(int fd);
	short (*events)(void *state);
	uint64_t (*deadline)(void *state);
	int (*ready)(void *state, short revents);
	void (*close)(void *state);
};

static int srv_open;                    /* connections open now */
static uint64_t srv_accepted;           /* ... and since the start */

#define SRV_ACCEPT_PAUSE_MS 100         /* after EMFILE and the like */

/* Take the waiting connections while there is room. */
static inline void srv_take(int lfd, int max, int *fds, void **states,
			    const struct srv_ops *ops, uint64_t *paused_until)
{
	while (srv_open < max) {
		int fd = srv_accept(lfd), i;
		void *st;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				*paused_until = srv_now_ms() + SRV_ACCEPT_PAUSE_MS;
			return;
		}
		if (!(st = ops->open(fd))) {
			close(fd);
			*paused_until = srv_now_ms() + SRV_ACCEPT_PAUSE_MS;
			return;
		}
		for (i = 0; states[i]; i++)
			;
		fds[i] = fd;
		states[i] = st;
		srv_open++;
		srv_accepted++;
	}
}

static inline void srv_drop(int i, int *fds, void **states, const struct srv_ops *ops)
{
	ops->close(states[i]);
	close(fds[i]);
	states[i] = NULL;
	srv_open--;
}

/*
 * The event loop: accept on listener lfd up to max connections at once
 * (past that the listener is not polled, and new ones wait in its
 * backlog), and drive each connection through ops, until srv_stop.
 * Return: 0 when stopped, 1 when poll() failed or memory ran out (said
 * on stderr).
 */
static inline int srv_loop(const char *prog, int lfd, int max, const struct srv_ops *ops)
{
	struct pollfd *pfd = calloc((size_t)max + 1, sizeof(*pfd));
	int *fds = calloc((size_t)max, sizeof(*fds)), *slot = calloc((size_t)max + 1, sizeof(*slot));
	void **states = calloc((size_t)max + 1, sizeof(*states));   /* NULL-terminated */
	uint64_t paused_until = 0;
	int status = 0;

	if (!pfd || !fds || !slot || !states) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	while (!srv_stop) {
		uint64_t now = srv_now_ms();
		int n = 0, timeout = -1, ready;

		if (srv_open < max && now >= paused_until) {
			pfd[n] = (struct pollfd){ .fd = lfd, .events = POLLIN };
			slot[n++] = -1;
		} else if (srv_open < max) {
			timeout = (int)(paused_until - now);
		}
		for (int i = 0; i < max; i++) {
			uint64_t deadline;
			if (!states[i])
				continue;
			if ((deadline = ops->deadline(states[i])) <= now) {
				srv_drop(i, fds, states, ops);
				continue;
			}
			if (timeout < 0 || deadline - now < (uint64_t)timeout)
				timeout = (int)(deadline - now);
			pfd[n] = (struct pollfd){ .fd = fds[i], .events = ops->events(states[i]) };
			slot[n++] = i;
		}
		ready = poll(pfd, (nfds_t)n, timeout);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
			status = 1;
			break;
		}
		for (int k = 0; k < n && ready > 0; k++) {
			if (!pfd[k].revents)
				continue;
			ready--;
			if (slot[k] < 0)
				srv_take(lfd, max, fds, states, ops, &paused_until);
			else if ((pfd[k].revents & POLLNVAL) || ops->ready(states[slot[k]], pfd[k].revents) < 0)
				srv_drop(slot[k], fds, states, ops);
		}
	}
	for (int i = 0; i < max; i++)
		if (states[i])
			srv_drop(i, fds, states, ops);
	free(pfd);
	free(fds);
	free(slot);
	free(states);
	return status;
}

#endif
