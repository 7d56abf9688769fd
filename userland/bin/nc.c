/*
 * nc: a small netcat over dmos's sockets, with a generated mode for tests
 * and benchmarks.
 *
 *   nc [-u] -l PORT               take one TCP connection on PORT (-u: UDP
 *                                 datagrams from anyone) and copy what
 *                                 arrives to standard output, and standard
 *                                 input to the peer
 *   nc [-u] HOST PORT             connect to HOST:PORT and do the same
 *   nc [-u] -l PORT -n            generated mode: count what arrives and
 *                                 checksum it; at the end print
 *                                 `nc: received BYTES bytes sum HEX in MS ms`
 *   nc [-u] HOST PORT -n BYTES    generated mode: send BYTES of a fixed
 *                                 pattern, then print
 *                                 `nc: sent BYTES bytes sum HEX in MS ms`
 *   nc -l PORT -H SECONDS         listen (backlog SOMAXCONN) and never
 *                                 accept, for SECONDS: a target for floods
 *                                 (`nc: holding port PORT for SECONDS s`,
 *                                 then `nc: held port PORT`)
 *
 * HOST is a dotted address or "localhost" (this node). The end of a TCP
 * stream is the peer's close (or shutdown); an interactive nc shuts its
 * side for writing when its standard input ends.
 *
 * The sum of a byte stream x[0..n) is 64 bits: the low 32 of
 * a = x[0] + ... + x[n-1] below the low 32 of b = n*x[0] + (n-1)*x[1] + ...
 * + 1*x[n-1] (Fletcher's two sums: order matters), in hex, so the two
 * ends' lines can be compared. The pattern is 65521 bytes of a fixed
 * xorshift sequence, repeated.
 *
 * UDP in generated mode is stop-and-wait, so that a slow receiver loses
 * nothing: each datagram carries an 8-byte sequence number before its
 * payload (at most 1400 bytes), the receiver acknowledges every one with
 * its number (8 bytes) and keeps each once, and the sender sends again
 * after 200 ms without an answer (giving up after 50 tries). A datagram
 * with no payload ends the stream.
 *
 * Exit status: 0, 1 on an error (said on standard error), 2 for bad usage.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>

#define PERIOD          65521           /* the pattern's length, a prime */
#define BUF             (64 << 10)
#define UDP_PAYLOAD     1400
#define UDP_RETRY_MS    200
#define UDP_TRIES       50

static uint8_t pattern[PERIOD], buf[BUF + 8];

struct sum {
	uint64_t a, b;
};

static void sum_add(struct sum *s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		s->a += p[i];
		s->b += s->a;
	}
}

static uint64_t sum_value(const struct sum *s)
{
	return (s->b & 0xffffffff) << 32 | (s->a & 0xffffffff);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void make_pattern(void)
{
	uint32_t x = 2463534242u;

	for (int i = 0; i < PERIOD; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		pattern[i] = (uint8_t)x;
	}
}

static int fail(const char *what)
{
	fprintf(stderr, "nc: %s: %s\n", what, strerror(errno));
	return 1;
}

static void report(const char *verb, uint64_t bytes, const struct sum *s, uint64_t t0)
{
	printf("nc: %s %llu bytes sum %016llx in %llu ms\n", verb, (unsigned long long)bytes,
	       (unsigned long long)sum_value(s), (unsigned long long)(now_ms() - t0));
}

static int write_all(int fd, const void *p, size_t n)
{
	for (size_t done = 0; done < n;) {
		ssize_t k = write(fd, (const char *)p + done, n - done);
		if (k < 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

/* ---- TCP ----------------------------------------------------------------------------- */

static int tcp_count(int fd)
{
	struct sum s = { 0, 0 };
	uint64_t bytes = 0, t0 = 0;
	ssize_t n;

	while ((n = recv(fd, buf, BUF, 0)) > 0) {
		if (!bytes)
			t0 = now_ms();  /* from the first byte: not the wait for the sender */
		sum_add(&s, buf, (size_t)n);
		bytes += (uint64_t)n;
	}
	if (n < 0)
		return fail("recv");
	report("received", bytes, &s, bytes ? t0 : now_ms());
	return 0;
}

static int tcp_generate(int fd, uint64_t total)
{
	struct sum s = { 0, 0 };
	uint64_t done = 0, t0 = now_ms();

	while (done < total) {
		size_t off = (size_t)(done % PERIOD), k = PERIOD - off;
		if (k > total - done)
			k = (size_t)(total - done);
		ssize_t n = send(fd, pattern + off, k, 0);
		if (n < 0)
			return fail("send");
		sum_add(&s, pattern + off, (size_t)n);
		done += (uint64_t)n;
	}
	if (shutdown(fd, SHUT_WR) < 0)
		return fail("shutdown");
	while (recv(fd, buf, BUF, 0) > 0)
		;               /* until the receiver closes: it has it all */
	report("sent", done, &s, t0);
	return 0;
}

/* Standard input to fd and fd to standard output, until fd's end. */
static int tcp_copy(int fd)
{
	struct pollfd p[2] = { { 0, POLLIN, 0 }, { fd, POLLIN, 0 } };
	int nfds = 2;

	for (;;) {
		if (poll(p, (nfds_t)nfds, -1) < 0)
			return fail("poll");
		if (p[1].revents) {
			ssize_t n = recv(fd, buf, BUF, 0);
			if (n < 0)
				return fail("recv");
			if (!n)
				return 0;
			if (write_all(1, buf, (size_t)n))
				return fail("write");
		}
		if (nfds == 2 && p[0].revents) {
			ssize_t n = read(0, buf, BUF);
			if (n < 0)
				return fail("read");
			if (!n) {
				shutdown(fd, SHUT_WR);
				p[0].fd = -1;
			} else if (write_all(fd, buf, (size_t)n)) {
				return fail("send");
			}
		}
	}
}

/* ---- UDP ----------------------------------------------------------------------------- */

static int udp_count(int fd)
{
	struct sum s = { 0, 0 };
	uint64_t bytes = 0, next = 0, t0 = 0;
	struct sockaddr_in from;

	for (;;) {
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, UDP_PAYLOAD + 8, 0, (struct sockaddr *)&from, &len);
		uint64_t seq;
		if (n < 0)
			return fail("recvfrom");
		if (n < 8)
			continue;       /* not ours */
		memcpy(&seq, buf, 8);
		if (seq == next) {
			if (!next)
				t0 = now_ms();
			sum_add(&s, buf + 8, (size_t)n - 8);
			bytes += (uint64_t)n - 8;
			next++;
		}
		if (seq < next && sendto(fd, &seq, 8, 0, (struct sockaddr *)&from, len) < 0)
			return fail("sendto");
		if (seq == next - 1 && n == 8)
			break;          /* the end, acknowledged */
	}
	report("received", bytes, &s, t0);
	return 0;
}

/* Send one datagram and wait for its acknowledgement. */
static int udp_exchange(int fd, uint64_t seq, size_t n)
{
	memcpy(buf, &seq, 8);
	for (int tries = 0; tries < UDP_TRIES; tries++) {
		if (send(fd, buf, n + 8, 0) < 0)
			return fail("send");
		uint64_t until = now_ms() + UDP_RETRY_MS, ack;
		for (uint64_t t; (t = now_ms()) < until;) {
			struct pollfd p = { fd, POLLIN, 0 };
			if (poll(&p, 1, (int)(until - t)) < 0)
				return fail("poll");
			if (!p.revents)
				break;
			ssize_t k = recv(fd, &ack, sizeof(ack), 0);
			if (k < 0)
				return fail("recv");
			if (k == 8 && ack == seq)
				return 0;
		}
	}
	errno = ETIMEDOUT;
	return fail("no acknowledgement");
}

static int udp_generate(int fd, uint64_t total)
{
	struct sum s = { 0, 0 };
	uint64_t done = 0, seq = 0, t0 = now_ms();

	while (done < total) {
		size_t k = UDP_PAYLOAD;
		if (k > total - done)
			k = (size_t)(total - done);
		for (size_t i = 0; i < k; i++)
			buf[8 + i] = pattern[(done + i) % PERIOD];
		if (udp_exchange(fd, seq++, k))
			return 1;
		sum_add(&s, buf + 8, k);
		done += k;
	}
	if (udp_exchange(fd, seq, 0))
		return 1;
	report("sent", done, &s, t0);
	return 0;
}

/* Datagrams to standard output, standard input's reads as datagrams. */
static int udp_copy(int fd, bool listener)
{
	struct pollfd p[2] = { { 0, POLLIN, 0 }, { fd, POLLIN, 0 } };
	struct sockaddr_in peer;
	socklen_t plen = 0;

	for (;;) {
		if (poll(p, 2, -1) < 0)
			return fail("poll");
		if (p[1].revents) {
			socklen_t len = sizeof(peer);
			ssize_t n = recvfrom(fd, buf, BUF, 0, (struct sockaddr *)&peer, &len);
			if (n < 0)
				return fail("recvfrom");
			plen = len;
			if (write_all(1, buf, (size_t)n))
				return fail("write");
		}
		if (p[0].revents) {
			ssize_t n = read(0, buf, BUF);
			if (n <= 0)
				return n < 0 ? fail("read") : 0;
			if (listener && !plen)
				continue;       /* nobody to answer yet */
			if ((listener ? sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen)
				      : send(fd, buf, (size_t)n, 0)) < 0)
				return fail("send");
		}
	}
}

/* ---- setting up ------------------------------------------------------------------------ */

static int usage(void)
{
	fprintf(stderr, "usage: nc [-u] -l PORT [-n | -H SECONDS]\n"
			"       nc [-u] HOST PORT [-n BYTES]\n");
	return 2;
}

static int parse_num(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return !*s || *end || errno || *v > max ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *host = NULL, *pos[2];
	uint64_t port, bytes = 0, hold = 0;
	bool udp = false, listener = false, generate = false;
	int npos = 0, type, fd;

	for (int i = 1; i < argc; i++)
		listener |= !strcmp(argv[i], "-l");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-u") || !strcmp(argv[i], "-l")) {
			udp |= argv[i][1] == 'u';
		} else if (!strcmp(argv[i], "-n")) {
			generate = true;        /* a client's takes BYTES */
			if (!listener && (i + 1 == argc || parse_num(argv[++i], UINT64_MAX, &bytes)))
				return usage();
		} else if (!strcmp(argv[i], "-H")) {
			if (i + 1 == argc || parse_num(argv[++i], 86400, &hold) || !hold)
				return usage();
		} else if (argv[i][0] == '-' || npos == 2) {
			return usage();
		} else {
			pos[npos++] = argv[i];
		}
	}
	if (listener ? npos != 1 || (hold && (generate || udp)) : hold || npos != 2)
		return usage();
	host = listener ? NULL : pos[0];
	if (parse_num(pos[listener ? 0 : 1], 65535, &port) || (!listener && !port))
		return usage();
	make_pattern();
	type = udp ? SOCK_DGRAM : SOCK_STREAM;
	if ((fd = socket(AF_INET, type, 0)) < 0)
		return fail("socket");
	if (listener) {
		struct sockaddr_in a = { AF_INET, htons((uint16_t)port), { INADDR_ANY }, { 0 } };
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			return fail("bind");
		if (udp)
			return generate ? udp_count(fd) : udp_copy(fd, true);
		if (listen(fd, hold ? SOMAXCONN : 16) < 0)
			return fail("listen");
		if (hold) {
			printf("nc: holding port %llu for %llu s\n", (unsigned long long)port,
			       (unsigned long long)hold);
			fflush(stdout);
			sleep((unsigned)hold);
			printf("nc: held port %llu\n", (unsigned long long)port);
			return 0;
		}
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			return fail("accept");
		close(fd);
		return generate ? tcp_count(c) : tcp_copy(c);
	}
	struct addrinfo hints = { 0, AF_INET, type, 0, 0, NULL, NULL, NULL }, *ai;
	int err = getaddrinfo(host, pos[1], &hints, &ai);
	if (err) {
		fprintf(stderr, "nc: %s: %s\n", host, gai_strerror(err));
		return 1;
	}
	err = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (err < 0)
		return fail("connect");
	if (!generate)
		return udp ? udp_copy(fd, false) : tcp_copy(fd);
	return udp ? udp_generate(fd, bytes) : tcp_generate(fd, bytes);
}
