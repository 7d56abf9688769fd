/*
 * dmtest: sockets (net/socket.c). The calls refuse bad arguments with
 * Linux's errnos; two processes of this node talk TCP and UDP over the
 * node's own address (no loopback interface: lwIP's netif loop); accept,
 * connect and recv without blocking, with poll and SO_ERROR; SO_RCVTIMEO;
 * shutdown; a closed listener's port is free again; a process killed
 * while it waits in accept or recv ends, and its port is free. Without a
 * network card (socket() fails with ENETDOWN) every test is skipped.
 */
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include "dmtest.h"

#define PATTERN_BYTES   (1 << 20)       /* a TCP exchange's size */
#define UDP_ROUNDS      20

static uint32_t fnv(const uint8_t *p, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint8_t pattern_byte(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 10));
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
	return (struct sockaddr_in){ AF_INET, htons(port), { addr }, { 0 } };
}

#define SA(p) ((struct sockaddr *)(p))

/* No card, no sockets: the test is skipped. Return: true if so. */
static bool no_network(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	skipped = errno == ENETDOWN ? "no network card on this node" : "socket() fails";
	return errno == ENETDOWN;
}

/* A TCP socket listening on addr and port (0: one the kernel picks). Return: fd, -1. */
static int listener(uint32_t addr, uint16_t *port, int backlog)
{
	struct sockaddr_in a = sin_of(addr, *port);
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, SA(&a), sizeof(a)) < 0 || listen(fd, backlog) < 0 ||
	    getsockname(fd, SA(&a), &len) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* The node's own address: the source the kernel gives a connection to INADDR_ANY. */
static uint32_t own_addr(void)
{
	uint16_t port = 0;
	int l = listener(INADDR_ANY, &port, 1), c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = sin_of(INADDR_ANY, port);
	socklen_t len = sizeof(a);
	uint32_t addr = INADDR_ANY;

	if (l >= 0 && c >= 0 && connect(c, SA(&a), sizeof(a)) == 0 && getsockname(c, SA(&a), &len) == 0)
		addr = a.sin_addr.s_addr;
	close(c);
	close(l);
	return addr;
}

static const char *addr_str(uint32_t addr)
{
	static char buf[INET_ADDRSTRLEN];

	return inet_ntop(AF_INET, &addr, buf, sizeof(buf));
}

/* A child on this node: `dmtest --child MODE ADDR PORT [more]`. */
static int start_sock_child(struct child *c, const char *mode, uint32_t addr, uint16_t port,
			    const char *more)
{
	char a[INET_ADDRSTRLEN], p[8];

	snprintf(a, sizeof(a), "%s", addr_str(addr));
	snprintf(p, sizeof(p), "%u", port);
	return start(c, self, CHILD_TIMEOUT_MS, mode, a, p, more, NULL);
}

/* Wait until process pid sleeps (in a blocking call, for the tests below). */
static bool sleeping(int pid)
{
	for (uint64_t until = now() + 5000 * MS; now() < until; dm_sleep_ns(10 * MS)) {
		struct dm_proc *p = ps_find(pid);
		if (p && p->state == DM_PROC_SLEEPING)
			return true;
	}
	return false;
}

/* ---- bad arguments ------------------------------------------------------------------- */

const char *t_sock_bad_args(void)
{
	struct sockaddr_in a = sin_of(INADDR_ANY, 0), b;
	struct sockaddr_in6 a6 = { AF_INET6, 0, 0, { { 0 } }, 0 };
	socklen_t len = sizeof(b);
	struct timeval tv = { 0, 2000000 };
	char buf[16];
	int one = 1, t, u, fd;
	uint16_t port = 0;

	if (no_network())
		return NULL;
	ERR(socket(AF_UNIX, SOCK_STREAM, 0), EAFNOSUPPORT);
	ERR(socket(AF_INET6, SOCK_STREAM, 0), EAFNOSUPPORT);
	ERR(socket(AF_INET, SOCK_RAW, 0), EPROTONOSUPPORT);
	ERR(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	ERR(socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
	ERR(socket(AF_INET, 99, 0), EINVAL);
	ERR(bind(99, SA(&a), sizeof(a)), EBADF);
	ERR(bind(1, SA(&a), sizeof(a)), ENOTSOCK);      /* the console */
	ERR(listen(1, 1), ENOTSOCK);
	ERR(accept(99, NULL, NULL), EBADF);
	ERR(shutdown(1, SHUT_RDWR), ENOTSOCK);
	ERR(poll((struct pollfd *)UNMAPPED, 1, 0), EFAULT);
	ERR(poll(NULL, DM_POLL_MAX + 1, 0), EINVAL);

	CHECK((t = socket(AF_INET, SOCK_STREAM, 0)) >= 0, "socket(TCP): %s", ename(errno));
	CHECK((u = socket(AF_INET, SOCK_DGRAM, 0)) >= 0, "socket(UDP): %s", ename(errno));
	ERR(bind(t, SA(&a), 4), EINVAL);
	ERR(bind(t, SA(&a), 129), EINVAL);
	ERR(bind(t, (struct sockaddr *)UNMAPPED, sizeof(a)), EFAULT);
	ERR(bind(t, SA(&a6), sizeof(a6)), EAFNOSUPPORT);
	b = sin_of(inet_addr("192.0.2.1"), 0);          /* TEST-NET-1: not ours */
	ERR(bind(t, SA(&b), sizeof(b)), EADDRNOTAVAIL);
	ERR(send(t, "x", 1, 0), ENOTCONN);
	ERR(recv(t, buf, 1, 0), ENOTCONN);
	ERR(getpeername(t, SA(&b), &len), ENOTCONN);
	ERR(shutdown(t, SHUT_WR), ENOTCONN);
	ERR(accept(t, NULL, NULL), EINVAL);             /* not listening */
	ERR(listen(u, 1), EOPNOTSUPP);
	ERR(accept(u, NULL, NULL), EOPNOTSUPP);
	ERR(sendto(u, "x", 1, 0, NULL, 0), EDESTADDRREQ);
	b = sin_of(own_addr(), 9);
	ERR(sendto(u, (void *)UNMAPPED, 1, 0, SA(&b), sizeof(b)), EFAULT);
	ERR(sendto(u, "x", 1, MSG_OOB, SA(&b), sizeof(b)), EOPNOTSUPP);
	ERR(sendto(u, "x", 1, 0x10000000, SA(&b), sizeof(b)), EINVAL);
	char *big = malloc(65508);
	CHECK(big, "malloc");
	ERR(sendto(u, big, 65508, 0, SA(&b), sizeof(b)), EMSGSIZE);
	free(big);
	ERR(recvfrom(u, (void *)UNMAPPED, 1, MSG_DONTWAIT, NULL, NULL), EFAULT);
	ERR(recvfrom(u, buf, 1, MSG_DONTWAIT, SA(&b), (socklen_t *)UNMAPPED), EFAULT);
	ERR(shutdown(t, 7), EINVAL);
	ERR(setsockopt(t, SOL_SOCKET, 12345, &one, sizeof(one)), ENOPROTOOPT);
	ERR(setsockopt(t, 12345, SO_REUSEADDR, &one, sizeof(one)), ENOPROTOOPT);
	ERR(setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), ENOPROTOOPT);
	ERR(setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, 2), EINVAL);
	ERR(setsockopt(t, SOL_SOCKET, SO_REUSEADDR, (void *)UNMAPPED, sizeof(one)), EFAULT);
	ERR(setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), EDOM);
	ERR(setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, 8), EINVAL);
	ERR(getsockopt(t, SOL_SOCKET, SO_TYPE, &one, (socklen_t *)UNMAPPED), EFAULT);
	len = 2;
	ERR(getsockopt(t, SOL_SOCKET, SO_TYPE, &one, &len), EINVAL);
	len = sizeof(one);
	CHECK(getsockopt(t, SOL_SOCKET, SO_TYPE, &one, &len) == 0 && one == SOCK_STREAM &&
	      len == sizeof(one), "SO_TYPE of a TCP socket: %d (%s)", one, ename(errno));
	CHECK(getsockopt(u, SOL_SOCKET, SO_RCVBUF, &one, &len) == 0 && one > 0, "SO_RCVBUF: %s",
	      ename(errno));
	ERR(lseek(t, 0, SEEK_SET), ESPIPE);
	struct stat st;
	CHECK(fstat(t, &st) == 0 && S_ISSOCK(st.st_mode), "fstat of a socket: mode 0%o", st.st_mode);

	/* the same port twice; a second bind; connect to a port nobody listens on */
	int l = listener(INADDR_ANY, &port, 4);
	CHECK(l >= 0, "listen: %s", ename(errno));
	b = sin_of(INADDR_ANY, port);
	ERR(bind(t, SA(&b), sizeof(b)), EADDRINUSE);
	ERR(bind(l, SA(&a), sizeof(a)), EINVAL);        /* bound already */
	close(l);
	b = sin_of(own_addr(), port);
	ERR(connect(t, SA(&b), sizeof(b)), ECONNREFUSED);
	close(t);
	close(u);

	/* descriptors run out: EMFILE, and they all come back (TCP: the node has
	 * more TCP pcbs than a process has descriptors, but only 64 UDP ones) */
	int fds[DM_OPEN_MAX], n = 0;
	while (n < DM_OPEN_MAX && (fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0)
		fds[n++] = fd;
	int e = errno;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	CHECK(n < DM_OPEN_MAX && e == EMFILE, "%d sockets, then %s; want EMFILE", n, ename(e));
	return NULL;
}

/* ---- two processes ---------------------------------------------------------------------- */

int child_sockconnect(char **a)         /* ADDR PORT BYTES: send them, check the answer */
{
	struct sockaddr_in s = sin_of(inet_addr(a[0]), (uint16_t)atoi(a[1]));
	size_t total = strtoul(a[2], NULL, 10), done = 0;
	static uint8_t buf[16 << 10];
	uint32_t h = 2166136261u, back;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, SA(&s), sizeof(s)) < 0)
		return 2;
	while (done < total) {
		size_t k = MIN(sizeof(buf), total - done);
		for (size_t i = 0; i < k; i++)
			buf[i] = pattern_byte(done + i);
		ssize_t n = write(fd, buf, k);  /* write(): a socket is a file */
		if (n <= 0)
			return 3;
		h = fnv(buf, (size_t)n, h);
		done += (size_t)n;
	}
	if (shutdown(fd, SHUT_WR) < 0)
		return 4;
	if (recv(fd, &back, sizeof(back), MSG_WAITALL) != sizeof(back))
		return 5;
	return back == h ? 0 : 6;
}

const char *t_sock_tcp_exchange(void)
{
	struct child c;
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	static uint8_t buf[32 << 10];
	uint32_t me, h = 2166136261u;
	uint16_t port = 0;
	uint64_t got = 0;
	const char *err;
	char bytes[16];
	int st, fd;
	ssize_t n;

	if (no_network())
		return NULL;
	me = own_addr();
	CHECK(me != INADDR_ANY, "no address for a connection to INADDR_ANY");
	int l = listener(me, &port, 1);
	CHECK(l >= 0, "listen on %s: %s", addr_str(me), ename(errno));
	snprintf(bytes, sizeof(bytes), "%d", PATTERN_BYTES);
	if (start_sock_child(&c, "sockconnect", me, port, bytes) < 0)
		return fail("dm_spawn: %s", ename(errno));
	fd = accept(l, SA(&peer), &len);
	int e = errno;
	close(l);
	if (fd < 0) {
		kill(c.pid, 9);
		finish(&c, &st);
		return fail("accept: %s", ename(e));
	}
	CHECK(len == sizeof(peer) && peer.sin_family == AF_INET && peer.sin_addr.s_addr == me,
	      "the peer is %s (len %u), want this node's %s", addr_str(peer.sin_addr.s_addr), len,
	      addr_str(me));
	while ((n = read(fd, buf, sizeof(buf))) > 0) {  /* read(): a socket is a file */
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern_byte(got + (size_t)i))
				return fail("byte %llu is %u, want %u", (unsigned long long)(got + i),
					    buf[i], pattern_byte(got + (size_t)i));
		h = fnv(buf, (size_t)n, h);
		got += (uint64_t)n;
	}
	CHECK(n == 0, "read: %s", ename(errno));
	CHECK(got == PATTERN_BYTES, "%llu bytes came, want %d", (unsigned long long)got, PATTERN_BYTES);
	CHECK(send(fd, &h, sizeof(h), 0) == sizeof(h), "send: %s", ename(errno));
	close(fd);
	if ((err = finish(&c, &st)))
		return err;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the connecting child: %s", status_str(st));
	return NULL;
}

int child_sockudp(char **a)             /* ADDR PORT: ping, wait for each pong */
{
	struct sockaddr_in s = sin_of(inet_addr(a[0]), (uint16_t)atoi(a[1])), from;
	struct timeval tv = { 2, 0 };
	char out[32], in[32];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || connect(fd, SA(&s), sizeof(s)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return 2;
	for (int i = 0; i < UDP_ROUNDS; i++) {
		int n = snprintf(out, sizeof(out), "ping %d", i);
		socklen_t len = sizeof(from);
		if (send(fd, out, (size_t)n, 0) != n)
			return 3;
		ssize_t k = recvfrom(fd, in, sizeof(in) - 1, 0, SA(&from), &len);
		if (k < 0)
			return 4;
		in[k] = 0;
		snprintf(out, sizeof(out), "pong %d", i);
		if (strcmp(in, out) || from.sin_port != s.sin_port || from.sin_addr.s_addr != s.sin_addr.s_addr)
			return 5;
	}
	return 0;
}

const char *t_sock_udp_exchange(void)
{
	struct sockaddr_in a, from;
	struct child c;
	char buf[64];
	const char *err;
	int st, fd, rounds = 0;

	if (no_network())
		return NULL;
	uint32_t me = own_addr();
	socklen_t len = sizeof(a);
	a = sin_of(me, 0);
	CHECK((fd = socket(AF_INET, SOCK_DGRAM, 0)) >= 0, "socket: %s", ename(errno));
	CHECK(bind(fd, SA(&a), sizeof(a)) == 0 && getsockname(fd, SA(&a), &len) == 0 && a.sin_port,
	      "bind to %s: %s", addr_str(me), ename(errno));
	if (start_sock_child(&c, "sockudp", me, ntohs(a.sin_port), NULL) < 0)
		return fail("dm_spawn: %s", ename(errno));
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (rounds < UDP_ROUNDS) {
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, SA(&from), &flen);
		if (n < 0)
			break;
		buf[n] = 0;
		int i;
		if (sscanf(buf, "ping %d", &i) != 1 || i != rounds || flen != sizeof(from) ||
		    from.sin_addr.s_addr != me)
			return fail("datagram %d: '%s' from %s", rounds, buf, addr_str(from.sin_addr.s_addr));
		n = snprintf(buf, sizeof(buf), "pong %d", i);
		CHECK(sendto(fd, buf, (size_t)n, 0, SA(&from), flen) == n, "sendto: %s", ename(errno));
		rounds++;
	}
	close(fd);
	if ((err = finish(&c, &st)))
		return err;
	CHECK(rounds == UDP_ROUNDS && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "%d rounds; the pinging child: %s", rounds, status_str(st));
	return NULL;
}

/* ---- without blocking ------------------------------------------------------------------- */

const char *t_sock_nonblocking(void)
{
	struct pollfd p[2];
	struct sockaddr_in a;
	uint16_t port = 0;
	char buf[8];
	int err, s, c, fd;
	socklen_t len = sizeof(err);

	if (no_network())
		return NULL;
	uint32_t me = own_addr();
	int l = listener(INADDR_ANY, &port, 4);
	CHECK(l >= 0, "listen: %s", ename(errno));
	CHECK(fcntl(l, F_SETFL, fcntl(l, F_GETFL) | O_NONBLOCK) == 0, "F_SETFL: %s", ename(errno));
	CHECK(fcntl(l, F_GETFL) & O_NONBLOCK, "F_GETFL lost O_NONBLOCK");
	ERR(accept(l, NULL, NULL), EAGAIN);
	p[0] = (struct pollfd){ l, POLLIN, 0 };
	CHECK(poll(p, 1, 0) == 0 && p[0].revents == 0, "a listener without connections polls %#x",
	      p[0].revents);

	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(c >= 0, "socket(SOCK_NONBLOCK): %s", ename(errno));
	a = sin_of(me, port);
	ERR(connect(c, SA(&a), sizeof(a)), EINPROGRESS);
	p[0] = (struct pollfd){ c, POLLOUT, 0 };
	CHECK(poll(p, 1, 5000) == 1 && (p[0].revents & POLLOUT) && !(p[0].revents & POLLERR),
	      "connecting socket polls %#x", p[0].revents);
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0, "SO_ERROR %s",
	      ename(err));
	ERR(connect(c, SA(&a), sizeof(a)), EISCONN);
	p[0] = (struct pollfd){ l, POLLIN, 0 };
	CHECK(poll(p, 1, 5000) == 1 && (p[0].revents & POLLIN), "listener polls %#x", p[0].revents);
	CHECK((s = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0, "accept4: %s", ename(errno));
	CHECK(fcntl(s, F_GETFD) == FD_CLOEXEC, "accept4's SOCK_CLOEXEC is not the fd's");
	ERR(recv(s, buf, sizeof(buf), 0), EAGAIN);
	ERR(read(s, buf, sizeof(buf)), EAGAIN);
	CHECK(send(c, "hello", 5, 0) == 5, "send: %s", ename(errno));
	p[0] = (struct pollfd){ s, POLLIN | POLLOUT, 0 };
	CHECK(poll(p, 1, 5000) == 1 && (p[0].revents & (POLLIN | POLLOUT)) == (POLLIN | POLLOUT),
	      "a connection with data polls %#x", p[0].revents);
	CHECK(recv(s, buf, sizeof(buf), 0) == 5 && !memcmp(buf, "hello", 5), "recv after poll");
	ERR(recv(s, buf, sizeof(buf), 0), EAGAIN);
	close(s);
	close(c);

	/* blocking socket, MSG_DONTWAIT */
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(c, SA(&a), sizeof(a)) == 0, "connect: %s", ename(errno));
	p[0] = (struct pollfd){ l, POLLIN, 0 };
	CHECK(poll(p, 1, 5000) == 1 && (s = accept(l, NULL, NULL)) >= 0, "accept: %s", ename(errno));
	ERR(recv(s, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	close(s);
	close(c);
	close(l);

	/* a refused connection: EINPROGRESS, then POLLERR and SO_ERROR */
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ERR(connect(c, SA(&a), sizeof(a)), EINPROGRESS);        /* nobody listens now */
	p[0] = (struct pollfd){ c, POLLOUT, 0 };
	CHECK(poll(p, 1, 5000) == 1 && (p[0].revents & POLLERR), "refused connect polls %#x",
	      p[0].revents);
	len = sizeof(err);
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == ECONNREFUSED,
	      "SO_ERROR %s, want ECONNREFUSED", ename(err));
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0, "SO_ERROR not cleared");
	close(c);

	/* poll: a file is always ready, a closed fd is POLLNVAL, fd -1 is skipped */
	CHECK((fd = open("/", O_RDONLY)) >= 0, "open /: %s", ename(errno));
	p[0] = (struct pollfd){ fd, POLLIN | POLLOUT, 0 };
	p[1] = (struct pollfd){ 30, POLLIN, 0 };
	CHECK(poll(p, 2, -1) == 2 && p[0].revents == (POLLIN | POLLOUT) && p[1].revents == POLLNVAL,
	      "a file polls %#x, a closed fd %#x", p[0].revents, p[1].revents);
	close(fd);
	p[0] = (struct pollfd){ -1, POLLIN, 0 };
	uint64_t t0 = now();
	CHECK(poll(p, 1, 100) == 0 && p[0].revents == 0, "fd -1 polls %#x", p[0].revents);
	CHECK(now() - t0 >= 90 * MS, "poll(100 ms) returned after %llu ms",
	      (unsigned long long)((now() - t0) / MS));
	return NULL;
}

const char *t_sock_rcvtimeo(void)
{
	struct timeval tv = { 0, 300000 }, back;
	socklen_t len = sizeof(back);
	struct sockaddr_in a;
	char buf[4];
	int fd;

	if (no_network())
		return NULL;
	CHECK((fd = socket(AF_INET, SOCK_DGRAM, 0)) >= 0, "socket: %s", ename(errno));
	a = sin_of(INADDR_ANY, 0);
	CHECK(bind(fd, SA(&a), sizeof(a)) == 0, "bind: %s", ename(errno));
	CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0, "SO_RCVTIMEO: %s", ename(errno));
	CHECK(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &back, &len) == 0 && len == sizeof(back) &&
	      back.tv_sec == 0 && back.tv_usec == 300000, "SO_RCVTIMEO reads back %lld.%06ld",
	      (long long)back.tv_sec, (long)back.tv_usec);
	uint64_t t0 = now();
	ERR(recv(fd, buf, sizeof(buf), 0), EAGAIN);
	uint64_t ms = (now() - t0) / MS;
	CHECK(ms >= 290 && ms < 3000, "recv with a 300 ms timeout took %llu ms", (unsigned long long)ms);
	close(fd);
	return NULL;
}

/* ---- shutdown, close, kill ---------------------------------------------------------------- */

const char *t_sock_shutdown(void)
{
	struct sockaddr_in a;
	uint16_t port = 0;
	char buf[16];
	int c, s, l;

	if (no_network())
		return NULL;
	uint32_t me = own_addr();
	CHECK((l = listener(me, &port, 1)) >= 0, "listen: %s", ename(errno));
	a = sin_of(me, port);
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(c, SA(&a), sizeof(a)) == 0, "connect: %s", ename(errno));
	CHECK((s = accept(l, NULL, NULL)) >= 0, "accept: %s", ename(errno));
	close(l);
	CHECK(send(c, "abc", 3, 0) == 3 && shutdown(c, SHUT_WR) == 0, "send, shutdown: %s", ename(errno));
	ERR(send(c, "d", 1, MSG_NOSIGNAL), EPIPE);
	CHECK(recv(s, buf, sizeof(buf), MSG_PEEK) == 3 && !memcmp(buf, "abc", 3), "MSG_PEEK");
	CHECK(recv(s, buf, sizeof(buf), MSG_WAITALL) == 3 && !memcmp(buf, "abc", 3),
	      "the data before the end");
	CHECK(recv(s, buf, sizeof(buf), 0) == 0, "no end (EOF) after the peer's SHUT_WR: %s", ename(errno));
	CHECK(recv(s, buf, sizeof(buf), 0) == 0, "the end comes again");
	/* the other way still works */
	CHECK(send(s, "back", 4, 0) == 4, "send after the peer's SHUT_WR: %s", ename(errno));
	CHECK(recv(c, buf, 4, MSG_WAITALL) == 4 && !memcmp(buf, "back", 4),
	      "what comes back after our SHUT_WR");
	CHECK(shutdown(s, SHUT_RDWR) == 0, "SHUT_RDWR: %s", ename(errno));
	CHECK(recv(c, buf, sizeof(buf), 0) == 0, "no end after the peer's SHUT_RDWR");
	CHECK(recv(s, buf, sizeof(buf), 0) == 0, "SHUT_RD: a read is the end");
	ERR(send(s, "x", 1, 0), EPIPE);
	struct pollfd p = { c, POLLIN | POLLOUT, 0 };
	CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP), "both sides shut: polls %#x", p.revents);
	close(s);
	close(c);
	return NULL;
}

const char *t_sock_listener_close_frees_port(void)
{
	struct sockaddr_in a;
	uint16_t port = 0, again;
	int l, c;

	if (no_network())
		return NULL;
	uint32_t me = own_addr();
	for (int i = 0; i < 3; i++) {           /* the same port, three times, no SO_REUSEADDR */
		again = port;
		CHECK((l = listener(INADDR_ANY, &again, 2)) >= 0, "listen %d on port %u: %s", i, port,
		      ename(errno));
		CHECK(!port || again == port, "port %u, want %u", again, port);
		port = again;
		a = sin_of(me, port);
		c = socket(AF_INET, SOCK_STREAM, 0);    /* one never accepted: reset by the close */
		CHECK(connect(c, SA(&a), sizeof(a)) == 0, "connect: %s", ename(errno));
		close(l);
		close(c);
	}
	c = socket(AF_INET, SOCK_STREAM, 0);
	ERR(connect(c, SA(&a), sizeof(a)), ECONNREFUSED);
	close(c);
	return NULL;
}

int child_sockaccept(char **a)          /* ADDR PORT: listen there, wait in accept */
{
	uint16_t port = (uint16_t)atoi(a[1]);
	int l = listener(inet_addr(a[0]), &port, 1);

	if (l < 0)
		return 2;
	accept(l, NULL, NULL);
	return 3;                               /* killed before */
}

int child_sockfault(char **a)           /* PORT: listen on any address, say so, fault */
{
	uint16_t port = (uint16_t)atoi(a[0]);
	int l = listener(htonl(INADDR_ANY), &port, 1);

	if (l < 0)
		return 2;
	printf("dmtest: listening on %u\n", port);
	fflush(stdout);
	dm_sleep_ns(3000 * MS);                 /* long enough to be seen in the port table */
	*(volatile int *)bad_address = 1;       /* killed here, its socket still open */
	return 3;
}

int child_sockrecv(char **a)            /* ADDR PORT: connect, wait in recv */
{
	struct sockaddr_in s = sin_of(inet_addr(a[0]), (uint16_t)atoi(a[1]));
	char buf[4];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, SA(&s), sizeof(s)) < 0)
		return 2;
	recv(fd, buf, sizeof(buf), 0);
	return 3;
}

/* Kill child c (waiting in a socket call) and check it died of it. */
static const char *kill_waiting(struct child *c, const char *what)
{
	int st;
	const char *err;

	if (!sleeping(c->pid)) {
		kill(c->pid, 9);
		finish(c, &st);
		return fail("the child never slept in %s", what);
	}
	uint64_t t0 = now();
	CHECK(kill(c->pid, 9) == 0, "kill: %s", ename(errno));
	if ((err = finish(c, &st)))
		return err;
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == 9, "child killed in %s: %s", what, status_str(st));
	CHECK(now() - t0 < 2000 * MS, "the child killed in %s took %llu ms to end", what,
	      (unsigned long long)((now() - t0) / MS));
	return NULL;
}

const char *t_sock_kill_blocked(void)
{
	struct child c;
	struct sockaddr_in a;
	uint16_t port = 0;
	const char *err;
	char buf[4];
	int l, s, probe;

	if (no_network())
		return NULL;
	uint32_t me = own_addr();
	/* a free port: ours for a moment */
	CHECK((l = listener(me, &port, 1)) >= 0, "listen: %s", ename(errno));
	close(l);
	if (start_sock_child(&c, "sockaccept", me, port, NULL) < 0)
		return fail("dm_spawn: %s", ename(errno));
	if ((err = kill_waiting(&c, "accept")))
		return err;
	a = sin_of(me, port);
	probe = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(probe, SA(&a), sizeof(a)) == 0, "the killed listener's port: %s", ename(errno));
	close(probe);

	/* killed in recv: its connection ends, and we see the end */
	port = 0;
	CHECK((l = listener(me, &port, 1)) >= 0, "listen: %s", ename(errno));
	if (start_sock_child(&c, "sockrecv", me, port, NULL) < 0)
		return fail("dm_spawn: %s", ename(errno));
	s = accept(l, NULL, NULL);
	close(l);
	CHECK(s >= 0, "accept: %s", ename(errno));
	if ((err = kill_waiting(&c, "recv")))
		return err;
	struct timeval tv = { 5, 0 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK(recv(s, buf, sizeof(buf), 0) == 0, "the killed peer's connection did not end: %s",
	      ename(errno));
	close(s);
	return NULL;
}
