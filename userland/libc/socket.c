/*
 * Sockets for programs: the BSD calls over the kernel's (net/socket.c,
 * kernel/sysnum.h), with poll() and a select() made of it, byte order,
 * IPv4 addresses as text, and getaddrinfo() without a resolver. The
 * headers are userland/include's (sys/socket.h, netinet/in.h, arpa/inet.h,
 * netdb.h, poll.h); their constants and layouts are Linux's, which the
 * kernel takes as they are (dm_abi.h): checked below.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include "dm_abi.h"
#include "sys.h"

_Static_assert(AF_INET == DM_AF_INET && AF_UNSPEC == DM_AF_UNSPEC && SOCK_STREAM == DM_SOCK_STREAM &&
	       SOCK_DGRAM == DM_SOCK_DGRAM && SOCK_NONBLOCK == DM_SOCK_NONBLOCK &&
	       SOCK_CLOEXEC == DM_SOCK_CLOEXEC && IPPROTO_TCP == DM_IPPROTO_TCP &&
	       IPPROTO_UDP == DM_IPPROTO_UDP, "socket()'s numbers are the kernel's");
_Static_assert(SOL_SOCKET == DM_SOL_SOCKET && SO_REUSEADDR == DM_SO_REUSEADDR &&
	       SO_TYPE == DM_SO_TYPE && SO_ERROR == DM_SO_ERROR && SO_SNDBUF == DM_SO_SNDBUF &&
	       SO_RCVBUF == DM_SO_RCVBUF && SO_KEEPALIVE == DM_SO_KEEPALIVE &&
	       SO_RCVTIMEO == DM_SO_RCVTIMEO && SO_SNDTIMEO == DM_SO_SNDTIMEO &&
	       TCP_NODELAY == DM_TCP_NODELAY, "the socket options are the kernel's");
_Static_assert(MSG_OOB == DM_MSG_OOB && MSG_PEEK == DM_MSG_PEEK && MSG_TRUNC == DM_MSG_TRUNC &&
	       MSG_DONTWAIT == DM_MSG_DONTWAIT && MSG_WAITALL == DM_MSG_WAITALL &&
	       MSG_NOSIGNAL == DM_MSG_NOSIGNAL && MSG_MORE == DM_MSG_MORE &&
	       SHUT_RD == DM_SHUT_RD && SHUT_WR == DM_SHUT_WR && SHUT_RDWR == DM_SHUT_RDWR &&
	       SOMAXCONN == DM_SOMAXCONN, "the flags are the kernel's");
_Static_assert(POLLIN == DM_POLLIN && POLLPRI == DM_POLLPRI && POLLOUT == DM_POLLOUT &&
	       POLLERR == DM_POLLERR && POLLHUP == DM_POLLHUP && POLLNVAL == DM_POLLNVAL &&
	       POLLRDNORM == DM_POLLRDNORM && POLLWRNORM == DM_POLLWRNORM &&
	       sizeof(struct pollfd) == sizeof(struct dm_pollfd), "poll's bits are the kernel's");
_Static_assert(sizeof(struct sockaddr_in) == sizeof(struct dm_sockaddr_in) &&
	       __builtin_offsetof(struct sockaddr_in, sin_port) == __builtin_offsetof(struct dm_sockaddr_in, port) &&
	       __builtin_offsetof(struct sockaddr_in, sin_addr) == __builtin_offsetof(struct dm_sockaddr_in, addr) &&
	       sizeof(struct timeval) == sizeof(struct dm_timeval) &&
	       sizeof(struct sockaddr_storage) == 128, "the layouts are Linux's");

#define sys5(n, a, b, c, d, e)  __dm_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define sys6(n, a, b, c, d, e, f) __dm_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

int socket(int domain, int type, int protocol)
{
	return sys_ret(sys3(SYS_socket, domain, type, protocol));
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	return sys_ret(sys3(SYS_bind, fd, addr, len));
}

int listen(int fd, int backlog)
{
	return sys_ret(sys2(SYS_listen, fd, backlog));
}

int accept4(int fd, struct sockaddr *restrict addr, socklen_t *restrict len, int flags)
{
	return sys_ret(sys4(SYS_accept, fd, addr, len, flags));
}

int accept(int fd, struct sockaddr *restrict addr, socklen_t *restrict len)
{
	return accept4(fd, addr, len, 0);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	return sys_ret(sys3(SYS_connect, fd, addr, len));
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t len)
{
	return sys_ret(sys6(SYS_sendto, fd, buf, n, flags, to, len));
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return sendto(fd, buf, n, flags, NULL, 0);
}

ssize_t recvfrom(int fd, void *restrict buf, size_t n, int flags, struct sockaddr *restrict from,
		 socklen_t *restrict len)
{
	return sys_ret(sys6(SYS_recvfrom, fd, buf, n, flags, from, len));
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return recvfrom(fd, buf, n, flags, NULL, NULL);
}

int shutdown(int fd, int how)
{
	return sys_ret(sys2(SYS_shutdown, fd, how));
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	return sys_ret(sys5(SYS_setsockopt, fd, level, name, val, len));
}

int getsockopt(int fd, int level, int name, void *restrict val, socklen_t *restrict len)
{
	return sys_ret(sys5(SYS_getsockopt, fd, level, name, val, len));
}

int getsockname(int fd, struct sockaddr *restrict addr, socklen_t *restrict len)
{
	return sys_ret(sys3(SYS_getsockname, fd, addr, len));
}

int getpeername(int fd, struct sockaddr *restrict addr, socklen_t *restrict len)
{
	return sys_ret(sys3(SYS_getpeername, fd, addr, len));
}

/* ---- poll and select ----------------------------------------------------------------- */

int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	return sys_ret(sys3(SYS_poll, fds, n, timeout_ms));
}

/*
 * select() as poll(): readable is POLLIN (or an error or hang-up, which a
 * read reports at once), writable POLLOUT (or an error), "exceptional"
 * never (no out-of-band data). A descriptor that is not open is EBADF.
 */
int select(int n, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
	struct pollfd p[FD_SETSIZE];
	int k = 0, ready = 0, timeout = -1;

	if (n < 0 || n > FD_SETSIZE || (tv && (tv->tv_sec < 0 || tv->tv_usec < 0))) {
		errno = EINVAL;
		return -1;
	}
	if (tv)
		timeout = tv->tv_sec > 2000000 ? 2000000000 : (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000);
	for (int fd = 0; fd < n; fd++) {
		short ev = (rd && FD_ISSET(fd, rd) ? POLLIN : 0) | (wr && FD_ISSET(fd, wr) ? POLLOUT : 0);
		if (ev || (ex && FD_ISSET(fd, ex)))
			p[k++] = (struct pollfd){ fd, ev, 0 };
	}
	if (poll(p, (nfds_t)k, timeout) < 0)
		return -1;
	for (int i = 0; i < k; i++)
		if (p[i].revents & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
	if (rd)
		FD_ZERO(rd);
	if (wr)
		FD_ZERO(wr);
	if (ex)
		FD_ZERO(ex);
	for (int i = 0; i < k; i++) {
		if (rd && (p[i].events & POLLIN) && (p[i].revents & (POLLIN | POLLERR | POLLHUP))) {
			FD_SET(p[i].fd, rd);
			ready++;
		}
		if (wr && (p[i].events & POLLOUT) && (p[i].revents & (POLLOUT | POLLERR))) {
			FD_SET(p[i].fd, wr);
			ready++;
		}
	}
	return ready;
}

/* ---- byte order and addresses as text ---------------------------------------------------- */

uint32_t htonl(uint32_t v) { return __builtin_bswap32(v); }
uint16_t htons(uint16_t v) { return __builtin_bswap16(v); }
uint32_t ntohl(uint32_t v) { return __builtin_bswap32(v); }
uint16_t ntohs(uint16_t v) { return __builtin_bswap16(v); }

/* Strict dotted quad, a.b.c.d with each 0..255 and no leading zeros (inet_pton's rule). */
static int parse_quad(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned part = 0, digits = 0;
		while (*s >= '0' && *s <= '9') {
			if (digits && part == 0)
				return 0;       /* a leading zero */
			part = part * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3 || part > 255)
				return 0;
		}
		if (!digits || *s != (i < 3 ? '.' : '\0'))
			return 0;
		s += i < 3;
		v = v << 8 | part;
	}
	*out = htonl(v);
	return 1;
}

/*
 * inet_aton's wider forms as BSD has them: a, a.b, a.b.c and a.b.c.d, each
 * part decimal, octal (0...) or hex (0x...), the last part filling what is
 * left. Return: 1, or 0 if s is none of these.
 */
int inet_aton(const char *s, struct in_addr *out)
{
	unsigned long part[4];
	int n = 0;

	for (;;) {
		char *end;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		errno = 0;
		part[n++] = strtoul(s, &end, 0);
		if (errno)
			return 0;
		s = end;
		if (*s == '\0')
			break;
		if (*s != '.' || n == 4)
			return 0;
		s++;
	}
	static const unsigned long last_max[] = { 0xffffffff, 0xffffff, 0xffff, 0xff };
	uint32_t v = 0;
	for (int i = 0; i < n - 1; i++) {
		if (part[i] > 0xff)
			return 0;
		v |= (uint32_t)part[i] << (24 - 8 * i);
	}
	if (part[n - 1] > last_max[n - 1])
		return 0;
	v |= (uint32_t)part[n - 1];
	if (out)
		out->s_addr = htonl(v);
	return 1;
}

in_addr_t inet_addr(const char *s)
{
	struct in_addr a;

	return inet_aton(s, &a) ? a.s_addr : INADDR_NONE;
}

char *inet_ntoa(struct in_addr a)
{
	static char buf[INET_ADDRSTRLEN];

	return (char *)inet_ntop(AF_INET, &a, buf, sizeof(buf));
}

int inet_pton(int af, const char *restrict src, void *restrict dst)
{
	uint32_t v;

	if (af != AF_INET) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (!parse_quad(src, &v))
		return 0;
	memcpy(dst, &v, sizeof(v));
	return 1;
}

const char *inet_ntop(int af, const void *restrict src, char *restrict dst, socklen_t size)
{
	const uint8_t *b = src;
	char buf[INET_ADDRSTRLEN];

	if (af != AF_INET) {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	int n = snprintf(buf, sizeof(buf), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	if ((socklen_t)n >= size) {
		errno = ENOSPC;
		return NULL;
	}
	memcpy(dst, buf, (size_t)n + 1);
	return dst;
}

/* ---- getaddrinfo ----------------------------------------------------------------------- */

/* A service: a port number 0..65535 (there is no services database). */
static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!s) {
		*port = 0;
		return 0;
	}
	if (!(*s >= '0' && *s <= '9'))
		return EAI_SERVICE;
	v = strtoul(s, &end, 10);
	if (*end || v > 65535)
		return EAI_SERVICE;
	*port = (uint16_t)v;
	return 0;
}

static const int any_flags = AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_V4MAPPED | AI_ALL |
			     AI_ADDRCONFIG | AI_NUMERICSERV;

/*
 * host: a dotted address; "localhost", the node's own address (dmos has no
 * 127.0.0.1: connecting to INADDR_ANY reaches this node, as on Linux); or
 * NULL: INADDR_ANY with AI_PASSIVE, the node itself without. One result
 * per socket type asked (both TCP and UDP when hints say none).
 */
int getaddrinfo(const char *restrict host, const char *restrict service,
		const struct addrinfo *restrict hints, struct addrinfo **restrict res)
{
	struct addrinfo h = hints ? *hints : (struct addrinfo){ 0 };
	static const int types[][2] = { { SOCK_STREAM, IPPROTO_TCP }, { SOCK_DGRAM, IPPROTO_UDP } };
	struct addrinfo *first = NULL, **tail = &first;
	struct in_addr ip = { INADDR_ANY };
	uint16_t port;
	int err;

	if (!host && !service)
		return EAI_NONAME;
	if (h.ai_flags & ~any_flags)
		return EAI_BADFLAGS;
	if (h.ai_family != AF_UNSPEC && h.ai_family != AF_INET)
		return EAI_FAMILY;
	if (h.ai_socktype && h.ai_socktype != SOCK_STREAM && h.ai_socktype != SOCK_DGRAM)
		return EAI_SOCKTYPE;
	if ((err = parse_port(service, &port)))
		return err;
	if (host && strcmp(host, "localhost") && !inet_aton(host, &ip))
		return EAI_NONAME;      /* a name: there is no resolver */
	if (host && !strcmp(host, "localhost") && (h.ai_flags & AI_NUMERICHOST))
		return EAI_NONAME;
	for (unsigned i = 0; i < 2; i++) {
		if (h.ai_socktype && h.ai_socktype != types[i][0])
			continue;
		if (h.ai_protocol && h.ai_protocol != types[i][1])
			continue;
		struct {
			struct addrinfo ai;
			struct sockaddr_in sin;
		} *r = calloc(1, sizeof(*r));
		if (!r) {
			freeaddrinfo(first);
			return EAI_MEMORY;
		}
		r->sin = (struct sockaddr_in){ AF_INET, htons(port), ip, { 0 } };
		r->ai = (struct addrinfo){ h.ai_flags & AI_PASSIVE, AF_INET, types[i][0], types[i][1],
					   sizeof(r->sin), (struct sockaddr *)&r->sin, NULL, NULL };
		if ((h.ai_flags & AI_CANONNAME) && host && !(r->ai.ai_canonname = strdup(host))) {
			free(r);
			freeaddrinfo(first);
			return EAI_MEMORY;
		}
		*tail = &r->ai;
		tail = &r->ai.ai_next;
	}
	if (!first)
		return EAI_SOCKTYPE;    /* a protocol that is not the socket type's */
	*res = first;
	return 0;
}

void freeaddrinfo(struct addrinfo *ai)
{
	while (ai) {
		struct addrinfo *next = ai->ai_next;
		free(ai->ai_canonname);
		free(ai);               /* the address is in the same block */
		ai = next;
	}
}

const char *gai_strerror(int err)
{
	switch (err) {
	case 0:                 return "Success";
	case EAI_BADFLAGS:      return "Bad value for ai_flags";
	case EAI_NONAME:        return "Name or service not known (dmos resolves no names)";
	case EAI_AGAIN:         return "Temporary failure in name resolution";
	case EAI_FAIL:          return "Non-recoverable failure in name resolution";
	case EAI_FAMILY:        return "ai_family not supported";
	case EAI_SOCKTYPE:      return "ai_socktype not supported";
	case EAI_SERVICE:       return "Servname not supported for ai_socktype";
	case EAI_MEMORY:        return "Memory allocation failure";
	case EAI_SYSTEM:        return "System error";
	case EAI_OVERFLOW:      return "Argument buffer overflow";
	default:                return "Unknown error";
	}
}

/* Numeric only: the address as a dotted quad, the port as a number. */
int getnameinfo(const struct sockaddr *restrict addr, socklen_t len, char *restrict host,
		socklen_t hostlen, char *restrict serv, socklen_t servlen, int flags)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;

	(void)flags;
	if (!addr || len < sizeof(*sin) || sin->sin_family != AF_INET)
		return EAI_FAMILY;
	if (host && hostlen && !inet_ntop(AF_INET, &sin->sin_addr, host, hostlen))
		return EAI_OVERFLOW;
	if (serv && servlen && (socklen_t)snprintf(serv, servlen, "%u", ntohs(sin->sin_port)) >= servlen)
		return EAI_OVERFLOW;
	return 0;
}
